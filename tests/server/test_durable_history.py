"""The durable history against a real engine: a client resumes exactly across a restart of
dockstate itself (even a SIGKILL), and every object's raw Docker events outlive the server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from harness import LABEL as SESSION_LABEL
from server_harness import Peer, adocker, docker, peer, start_server

from dockstate.state import apply_change

pytestmark = pytest.mark.integration

LABEL = f"{SESSION_LABEL}=1"


async def catch_up(p: Peer, state: dict[str, Any], version: int, target: int) -> int:
    """Apply ``changes`` messages until ``target``; each must start where the last ended."""
    while version < target:
        message = await p.recv_until("changes", timeout=10)
        assert message["from"] == version, "a gap the client was not told about"
        for change in message["changes"]:
            apply_change(state, change)
        version = message["to"]
    return version


async def test_a_client_resumes_exactly_across_a_sigkill_of_the_server() -> None:
    server = start_server("--history-limit", "3")  # older changes come from disk
    name = "dst-durable-resume"
    try:
        async with peer(server, max_size=None) as p:
            await p.send({"type": "subscribe", "id": "s"})
            snap = await p.recv_until("snapshot")
            epoch, version, state = snap["epoch"], snap["version"], snap["state"]
            await adocker("run", "-d", "--label", LABEL, "--name", name,
                          "dockstate-test/busybox", "sleep", "300")  # fmt: skip
            await adocker("volume", "create", "--label", LABEL, name)
            version = await catch_up(
                p, state, version, server.get("/api/v1/state").json()["version"]
            )
        server.process.kill()  # no goodbye, no flush
        server.process.wait()

        # While dockstate is down, the engine changes.
        await adocker("stop", "-t", "0", name)
        await adocker("volume", "rm", name)
        await adocker("network", "create", "--label", LABEL, name)

        server = start_server(port=server.port, token=server.token, db=server.db)
        truth = server.get("/api/v1/state").json()
        assert truth["epoch"] == epoch, "the epoch survives the restart"
        async with peer(server, max_size=None) as p:
            await p.send(
                {"type": "subscribe", "id": "s", "since": {"epoch": epoch, "version": version}}
            )
            first = await p.recv()
            assert first["type"] == "changes", first  # a resume, not a resync_required
            assert first["from"] == version
            for change in first["changes"]:
                apply_change(state, change)
            version = first["to"]
            while version != truth["version"]:  # the server moves on (details, other users)
                version = await catch_up(p, state, version, truth["version"])
                truth = server.get("/api/v1/state").json()
        for key in ("version", "last_updated"):
            state[key] = truth["state"][key]
        assert state == truth["state"]
        # ...and it holds what happened while dockstate was down.
        assert state["containers"][docker("inspect", "-f", "{{.Id}}", name)]["state"] == "exited"
        assert name not in state["volumes"]
        assert (
            state["networks"][docker("network", "inspect", "-f", "{{.Id}}", name)]["name"] == name
        )
    finally:
        server.stop()
        await adocker("rm", "-f", name)
        await adocker("network", "rm", name)


async def test_the_event_timeline_of_an_object_outlives_the_server_and_the_object() -> None:
    server = start_server()
    name = "dst-durable-timeline"
    try:
        cid = await adocker("run", "-d", "--label", LABEL, "--name", name,
                            "dockstate-test/busybox", "sleep", "300")  # fmt: skip
        await adocker("stop", "-t", "0", name)

        def events() -> list[dict[str, Any]]:
            response = server.get(f"/api/v1/events/container/{cid}")
            assert response.status_code == 200, response.text
            listed: list[dict[str, Any]] = response.json()["events"]
            return listed

        def actions() -> list[str]:
            return [e["action"] for e in events()]

        await _until(lambda: "stop" in actions())
        assert {"create", "start", "die", "stop"} <= set(actions())
        # Newest first; the network's connect and disconnect belong to the container's story.
        times = [e["time_nano"] for e in events()]
        assert times == sorted(times, reverse=True)
        assert actions()[-1] == "create"
        assert {"connect", "disconnect"} <= {
            e["action"] for e in events() if e["type"] == "network"
        }
        server.stop()

        await adocker("rm", name)  # gone while dockstate is down
        server = start_server(port=server.port, token=server.token, db=server.db)
        # The engine replays what dockstate missed; the old events are still on disk.
        await _until(lambda: "destroy" in actions())
        history = events()
        assert history[0]["action"] == "destroy"
        assert {"create", "start", "die", "stop"} <= {e["action"] for e in history}
        # The engine's replay after the restart stored nothing twice.
        keys = [(e["time_nano"], e["type"], e["action"]) for e in history]
        assert len(keys) == len(set(keys))
        page = server.get(f"/api/v1/events/container/{cid}", params={"limit": 2}).json()
        assert len(page["events"]) == 2
        assert page["more"]
        # A `before` past SQLite's integers is refused as such, not a 500.
        huge = server.get(f"/api/v1/events/container/{cid}", params={"before": 2**64})
        assert huge.status_code == 422
        # Without the token: nothing.
        anonymous = await asyncio.to_thread(
            httpx.get, f"{server.url}/api/v1/events/container/{cid}"
        )
        assert anonymous.status_code == 401
    finally:
        server.stop()
        await adocker("rm", "-f", name)


async def test_without_a_database_the_timeline_says_so() -> None:
    server = start_server("--no-db")
    try:
        response = server.get("/api/v1/events/volume/anything")
        assert response.status_code == 503
        assert "--no-db" in response.json()["detail"]
    finally:
        server.stop()


async def _until(check: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.1)
