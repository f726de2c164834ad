"""Conformance of a real `dockstate serve` to protocol.md: handshake, close codes, errors,
subscriptions, filters, resume, mode full and bookmarks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from harness import LABEL as SESSION_LABEL
from harness import comparable, differences, engine_truth
from server_harness import Peer, ServerProcess, adocker, peer, start_server
from websockets.exceptions import InvalidStatus

from dockstate.protocol import Bookmark, ChangesMessage, EngineStateUpdate, Snapshot, Welcome
from dockstate.state import apply_change

pytestmark = pytest.mark.integration

LABEL = f"{SESSION_LABEL}=1"


async def subscribe(p: Peer, sub: str = "s1", **fields: Any) -> dict[str, Any]:
    await p.send({"type": "subscribe", "id": sub, **fields})
    return await p.recv()


# -- handshake and close codes ---------------------------------------------------------------


async def test_welcome_names_protocol_epoch_and_window(server: ServerProcess) -> None:
    async with peer(server, hello=False) as p:
        assert p.ws.subprotocol == "dockstate.v1"
        welcome = Welcome.model_validate(await p.hello(server.token))
        assert welcome.server.startswith("dockstate/")
        assert 0 <= welcome.oldest <= welcome.version
        assert welcome.heartbeat_ms == 500


async def test_wrong_token_closes_4401(server: ServerProcess) -> None:
    async with peer(server, hello=False) as p:
        await p.send({"type": "hello", "protocol": "dockstate.v1", "token": "not-the-token"})
        assert await p.closed_with() == 4401


async def test_message_before_hello_closes_4401(server: ServerProcess) -> None:
    async with peer(server, hello=False) as p:
        await p.send({"type": "subscribe", "id": "s1"})
        assert await p.closed_with() == 4401


async def test_bearer_header_replaces_the_token_in_hello(server: ServerProcess) -> None:
    async with peer(server, hello=False, additional_headers=server.headers) as p:
        await p.send({"type": "hello", "protocol": "dockstate.v1"})
        assert (await p.recv())["type"] == "welcome"


async def test_no_hello_in_time_closes_4408(server: ServerProcess) -> None:
    async with peer(server, hello=False) as p:
        assert await p.closed_with(timeout=5) == 4408  # the test server waits 1 s


async def test_foreign_origin_is_refused(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with peer(server, hello=False, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_own_origin_is_accepted(server: ServerProcess) -> None:
    origin = server.url
    async with peer(server, origin=origin) as p:
        await p.send({"type": "ping", "id": "x"})
        assert await p.recv() == {"type": "pong", "id": "x"}


async def test_duplicate_subscription_id_closes_4409(server: ServerProcess) -> None:
    async with peer(server) as p:
        await subscribe(p, "dup")
        await p.send({"type": "subscribe", "id": "dup"})
        assert await p.closed_with() == 4409


async def test_second_hello_closes_4429(server: ServerProcess) -> None:
    async with peer(server) as p:
        await p.send({"type": "hello", "protocol": "dockstate.v1", "token": server.token})
        assert await p.closed_with() == 4429


async def test_oversized_frame_closes_1009(server: ServerProcess) -> None:
    async with peer(server) as p:
        await p.send({"type": "ping", "id": "x" * 70_000})
        assert await p.closed_with() == 1009


async def test_invalid_messages_get_errors_and_keep_the_connection(server: ServerProcess) -> None:
    async with peer(server) as p:
        await p.send("this is not json")
        assert (await p.recv())["code"] == "INVALID_MESSAGE"
        await p.send({"type": "teleport"})
        error = await p.recv()
        assert error["code"] == "INVALID_MESSAGE"
        assert "teleport" in error["message"]
        await p.send({"type": "subscribe", "id": 42})
        assert (await p.recv())["code"] == "INVALID_MESSAGE"
        await p.send({"type": "subscribe", "id": "f", "filter": {"kinds": ["spaceship"]}})
        assert (await p.recv())["code"] == "INVALID_FILTER"
        await p.send({"type": "unsubscribe", "id": "nope"})
        assert (await p.recv())["code"] == "UNKNOWN_SUBSCRIPTION"
        await p.send({"type": "ping", "id": "still-there"})
        assert await p.recv() == {"type": "pong", "id": "still-there"}


async def test_flood_gets_rate_limited(server: ServerProcess) -> None:
    async with peer(server) as p:
        for i in range(300):
            await p.send({"type": "ping", "id": i})
        codes = []
        for _ in range(300):
            message = await p.recv()
            codes.append(message.get("code", message["type"]))
        assert "RATE_LIMITED" in codes
        assert "pong" in codes


# -- subscriptions -----------------------------------------------------------------------------


async def test_snapshot_then_changes_from_a_real_docker_run(server: ServerProcess) -> None:
    async with peer(server) as p:
        snap = Snapshot.model_validate(await subscribe(p))
        state: dict[str, Any] = json.loads(snap.state.model_dump_json())
        version = snap.version
        name = "dst-ws-run"
        cid = await adocker(
            "run", "-d", "--label", LABEL, "--name", name, "dockstate-test/busybox", "sleep", "300"
        )
        seen_created = False
        while not (cid in state["containers"] and state["containers"][cid]["state"] == "running"):
            message = await p.recv_until("changes")
            batch = ChangesMessage.model_validate(message)
            assert batch.from_ == version  # chained, no gap
            for change in message["changes"]:
                seen_created |= change["id"] == cid and change["op"] == "created"
                apply_change(state, change)
            version = batch.to
        assert seen_created
        await adocker("rm", "-f", name)


async def test_client_state_equals_the_server_state_after_a_burst(server: ServerProcess) -> None:
    async with peer(server) as p:
        snap = await subscribe(p)
        state, version = snap["state"], snap["version"]
        names = [f"dst-burst-{i}" for i in range(6)]
        for n in names:
            await adocker(
                "run", "-d", "--label", LABEL, "--name", n, "dockstate-test/busybox", "sleep", "300"
            )
        await adocker("stop", "-t", "0", names[0])
        await adocker("pause", names[1])
        await adocker("rm", "-f", names[2])
        await adocker("volume", "create", "--label", LABEL, "dst-burst-vol")
        # Until the inspects complete what the events told (a die's event time stands for
        # finished_at a few ms), the server differs from the engine's listing: wait until it
        # agrees (at most 10 s), then replay the client's changes up to it.
        engine = await engine_truth()
        for _ in range(100):
            truth = server.get("/api/v1/state").json()
            if differences(comparable(truth["state"]), engine) == []:
                break
            await asyncio.sleep(0.1)
            engine = await engine_truth()
        while version < truth["version"]:
            message = await p.recv_until("changes")
            assert message["from"] == version
            for change in message["changes"]:
                apply_change(state, change)
            version = message["to"]
        state["version"], state["last_updated"] = (
            truth["state"]["version"],
            truth["state"]["last_updated"],
        )
        assert state == truth["state"]
        # ...and both equal a fresh listing of the engine itself, field by field.
        assert differences(comparable(state), await engine_truth()) == []
        await adocker("rm", "-f", *names)
        await adocker("volume", "rm", "dst-burst-vol")


async def test_filter_objects_enter_and_leave(server: ServerProcess) -> None:
    watched = "dst-filter-in"
    cid = await adocker(
        "create", "--label", LABEL, "--name", "dst-filter-out", "dockstate-test/busybox"
    )
    async with peer(server) as p:
        snap = await subscribe(p, filter={"kinds": ["container"], "names": [watched]})
        assert snap["state"]["containers"] == {}
        assert "engine_info" not in snap["state"]
        await adocker("rename", "dst-filter-out", watched)
        entered = await p.recv_until("changes")
        assert [(c["op"], c["id"]) for c in entered["changes"]] == [("created", cid)]
        assert entered["changes"][0]["object"]["name"] == watched
        await adocker("rename", watched, "dst-filter-gone")
        left = await p.recv_until("changes")
        assert [(c["op"], c["id"]) for c in left["changes"]] == [("removed", cid)]
        assert left["from"] == entered["to"]
    await adocker("rm", "-f", cid)


async def test_mode_full_sends_whole_states(server: ServerProcess) -> None:
    async with peer(server) as p:
        first = EngineStateUpdate.model_validate(await subscribe(p, mode="full"))
        await adocker("volume", "create", "--label", LABEL, "dst-full-vol")
        while True:
            update = await p.recv_until("engine_state_update")
            if "dst-full-vol" in update["data"]["volumes"]:
                break
        assert update["data"]["version"] > first.data.version
        await adocker("volume", "rm", "dst-full-vol")


async def test_idle_subscription_gets_bookmarks(server: ServerProcess) -> None:
    async with peer(server) as p:
        snap = await subscribe(p, filter={"kinds": ["network"], "names": ["dst-never"]})
        bookmark = Bookmark.model_validate(await p.recv_until("bookmark", timeout=3))
        assert bookmark.version >= snap["version"]
        await p.send({"type": "unsubscribe", "id": "s1"})
        await p.send({"type": "ping", "id": "after"})
        assert (await p.recv_until("pong"))["id"] == "after"


async def test_resync_sends_a_fresh_snapshot(server: ServerProcess) -> None:
    async with peer(server) as p:
        await subscribe(p)
        await p.send({"type": "resync", "id": "s1"})
        assert (await p.recv_until("snapshot"))["sub"] == "s1"


# -- resume --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_history() -> Any:
    """A server that keeps only 5 changes (in memory only), so that its oldest version moves."""
    proc = start_server("--history-limit", "5", "--no-db")
    yield proc
    proc.stop()


async def _window(server: ServerProcess) -> tuple[str, int, int]:
    async with peer(server, hello=False) as p:
        welcome = await p.hello(server.token)
    return welcome["epoch"], welcome["oldest"], welcome["version"]


async def test_resume_table(short_history: ServerProcess) -> None:
    server = short_history
    for i in range(4):  # push the oldest version up
        await adocker("volume", "create", "--label", LABEL, f"dst-resume-{i}")
    # The four creations reach the server at the engine's pace (slow under load), and what
    # comes after them (an object's details, a container of an earlier test going) too: wait
    # for all four in its state, then until the window stands still for a second.
    names = {f"dst-resume-{i}" for i in range(4)}
    for _ in range(100):
        volumes = server.get("/api/v1/state").json()["state"]["volumes"]
        if names <= set(volumes):
            break
        await asyncio.sleep(0.1)
    window = await _window(server)
    for _ in range(20):
        await asyncio.sleep(1.0)
        window, before = await _window(server), window
        if window == before:
            break
    epoch, oldest, current = window
    assert oldest > 0, "after four creations, the oldest version of a history of five is still 0"

    async def resume(version: int, at_epoch: str = epoch) -> dict[str, Any]:
        async with peer(server) as p:
            return await subscribe(p, since={"epoch": at_epoch, "version": version})

    expired = await resume(oldest - 1)
    assert (expired["type"], expired["code"]) == ("resync_required", "VERSION_EXPIRED")
    assert (expired["oldest"], expired["current"]) == (oldest, current)
    too_new = await resume(current + 1)
    assert too_new["code"] == "VERSION_TOO_NEW"
    other = await resume(oldest, "another-epoch")
    assert other["code"] == "EPOCH_MISMATCH"

    async with peer(server) as p:  # inside the window: exactly the changes after, no snapshot
        replay = await subscribe(p, since={"epoch": epoch, "version": oldest})
        assert replay["type"] == "changes"
        assert (replay["from"], replay["to"]) == (oldest, current)
        assert [c["v"] for c in replay["changes"]] == sorted(c["v"] for c in replay["changes"])
        assert all(oldest < c["v"] <= current for c in replay["changes"])

    async with peer(server) as p:  # at the current version: nothing, then live
        await p.send(
            {"type": "subscribe", "id": "s1", "since": {"epoch": epoch, "version": current}}
        )
        await adocker("volume", "rm", "dst-resume-0")
        live = await p.recv_until("changes")
        assert live["from"] == current
        assert any(c["op"] == "removed" and c["id"] == "dst-resume-0" for c in live["changes"])
    for i in range(1, 4):
        await adocker("volume", "rm", f"dst-resume-{i}")


async def test_permessage_deflate_is_negotiated_when_offered(server: ServerProcess) -> None:
    async with peer(server) as p:  # the websockets client offers permessage-deflate
        extensions = (
            p.ws.response.headers.get("Sec-WebSocket-Extensions", "") if p.ws.response else ""
        )
        assert "permessage-deflate" in extensions
        assert (await subscribe(p))["type"] == "snapshot"  # and compressed frames decode
    async with peer(server, compression=None) as p:  # and it is never required
        assert (await subscribe(p))["type"] == "snapshot"


async def test_server_shutdown_closes_1001() -> None:
    proc = start_server()
    try:
        async with peer(proc) as p:
            await subscribe(p)
            proc.process.terminate()
            assert await p.closed_with(timeout=10) == 1001
    finally:
        proc.stop()


async def test_idle_full_mode_subscription_gets_bookmarks(server: ServerProcess) -> None:
    async with peer(server) as p:
        await subscribe(p, mode="full", filter={"kinds": ["network"], "names": ["dst-never"]})
        assert (await p.recv_until("bookmark", timeout=3))["sub"] == "s1"
