"""dockstate.Client against a real `dockstate serve` following the real Docker engine: the
state, a watch that sees what the docker CLI does, resume after a cut connection, the
snapshot fallback after a server restart, the actions and their refusals, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from client_harness import (
    LABEL,
    TEST_IMAGE,
    Proxy,
    Server,
    docker,
    run_container,
    start_server,
    unique,
    until,
)

from dockstate.client import Backoff, Client, Watch
from dockstate.errors import (
    AuthError,
    Conflict,
    EngineError,
    NotFound,
    ServerError,
    VersionTooNew,
)

pytestmark = pytest.mark.integration


class Created:
    """What a test created, removed at its end."""

    def __init__(self) -> None:
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.networks: list[str] = []

    async def remove(self) -> None:
        if self.containers:
            await docker("rm", "-f", *self.containers, check=False)
        if self.volumes:
            await docker("volume", "rm", "-f", *self.volumes, check=False)
        for network in self.networks:
            await docker("network", "rm", network, check=False)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server()
    yield running
    running.stop()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[Client]:
    async with Client(server.url, server.token) as c:
        yield c


@pytest.fixture
async def created() -> AsyncIterator[Created]:
    objects = Created()
    yield objects
    await objects.remove()


def running(cid: str) -> Callable[[dict[str, Any]], bool]:
    def check(state: dict[str, Any]) -> bool:
        c = state["containers"].get(cid)
        return c is not None and c["state"] == "running"

    return check


def reached(version: int) -> Callable[[dict[str, Any]], bool]:
    return lambda state: bool(state["version"] >= version)


async def assert_same_as_server(client: Client, watch: Watch) -> None:
    """The watch's state equals the server's REST state at the same version."""
    for _ in range(20):
        body = await client.state()
        held = await until(watch, reached(body["version"]), "the server's version")
        if held["version"] == body["version"]:
            assert watch.follower.epoch == body["epoch"]
            assert held == body["state"]
            return
    raise AssertionError("the state kept moving: no version to compare at")


# -- reading ---------------------------------------------------------------------------------


async def test_state_shows_a_container_run_with_docker(client: Client, created: Created) -> None:
    name = unique("state-")
    cid = await run_container(name)
    created.containers.append(cid)
    for _ in range(50):
        body = await client.state()
        if cid in body["state"]["containers"]:
            break
        await asyncio.sleep(0.1)
    assert set(body) == {"epoch", "version", "state"}
    assert body["version"] == body["state"]["version"]
    c = body["state"]["containers"][cid]
    assert (c["name"], c["state"], c["image"]) == (name, "running", TEST_IMAGE)
    assert c["labels"][LABEL] == "1"
    # Docker's own view agrees (other tests change the engine meanwhile: compare ours only),
    # once the inspect has completed what the create event told (its time stands for the
    # container's creation until then, a few ms after the engine's own `Created`).
    truth = json.loads(await docker("inspect", cid))[0]
    for _ in range(50):
        c = (await client.state())["state"]["containers"][cid]
        if c["created"] == truth["Created"]:
            break
        await asyncio.sleep(0.1)
    assert (c["created"], c["image_id"]) == (truth["Created"], truth["Image"])


async def test_changes_since_replays_what_happened(client: Client, created: Created) -> None:
    before = await client.state()
    name = unique("since-")
    cid = await run_container(name)
    created.containers.append(cid)
    for _ in range(50):
        body = await client.changes_since(before["version"])
        if any(ch["id"] == cid for ch in body["changes"]):
            break
        await asyncio.sleep(0.1)
    assert body["epoch"] == before["epoch"]
    assert body["from"] == before["version"]
    created_change = next(ch for ch in body["changes"] if ch["id"] == cid)
    assert created_change["op"] == "created"
    assert created_change["object"]["name"] == name


async def test_changes_since_outside_the_window_says_so(client: Client) -> None:
    current = (await client.state())["version"]
    with pytest.raises(VersionTooNew) as refused:
        await client.changes_since(current + 1000)
    assert refused.value.current >= current


async def test_a_wrong_token_is_an_auth_error(server: Server) -> None:
    async with Client(server.url, "not-the-token") as client:
        with pytest.raises(AuthError):
            await client.state()
        with pytest.raises(AuthError, match="refused the token"):
            await until(client.watch(), lambda s: True, "anything")


# -- watching --------------------------------------------------------------------------------


async def test_watch_shows_a_container_run_with_docker(client: Client, created: Created) -> None:
    async with client.watch() as watch:
        await until(watch, lambda s: True, "a snapshot")
        assert watch.stats.snapshots == 1
        name = unique("watch-")
        cid = await run_container(name)
        created.containers.append(cid)
        state = await until(watch, running(cid), "the container running")
        assert state["containers"][cid]["name"] == name
        assert watch.last_message is not None
        assert watch.last_message["type"] == "changes"
        await docker("rm", "-f", cid)
        await until(watch, lambda s: cid not in s["containers"], "the container removed")
        await assert_same_as_server(client, watch)
        assert watch.stats.gaps == 0


async def test_a_filtered_watch_sees_only_its_objects(client: Client, created: Created) -> None:
    mine, other = unique("mine-"), unique("other-")
    async with client.watch({"kinds": ["container"], "names": [mine]}) as watch:
        state = await until(watch, lambda s: True, "a snapshot")
        assert state["containers"] == {}
        other_id = await run_container(other)
        created.containers.append(other_id)
        mine_id = await run_container(mine)
        created.containers.append(mine_id)
        state = await until(watch, running(mine_id), "the named container")
        assert set(state["containers"]) == {mine_id}
        assert state["images"] == {}


async def test_watch_resumes_after_the_connection_is_cut(
    server: Server, client: Client, created: Created
) -> None:
    proxy = Proxy(server.port)
    await proxy.start()
    try:
        async with (
            Client(proxy.url, server.token) as proxied,
            proxied.watch(backoff=Backoff(0.05, 0.2)) as watch,
        ):
            await until(watch, lambda s: True, "a snapshot")
            # Cut both sides (the server's WebSocket is closed under it), and keep the client
            # out while the engine changes.
            proxy.holding = True
            proxy.cut()
            name = unique("resume-")
            cid = await run_container(name)
            created.containers.append(cid)
            for _ in range(50):
                if cid in (await client.state())["state"]["containers"]:
                    break
                await asyncio.sleep(0.1)
            proxy.holding = False

            await until(watch, running(cid), "the container run while disconnected")
            assert watch.stats.connections == 2
            assert watch.stats.resumes == 1
            assert watch.stats.snapshots == 1  # resumed with the missed changes, no snapshot
            assert watch.stats.resyncs_required == 0
            await assert_same_as_server(client, watch)
    finally:
        await proxy.close()


async def test_watch_takes_a_snapshot_after_the_server_restarts(created: Created) -> None:
    first = await asyncio.to_thread(start_server)
    second: Server | None = None
    try:
        async with (
            Client(first.url, first.token) as client,
            client.watch(backoff=Backoff(0.1, 0.5)) as watch,
        ):
            await until(watch, lambda s: True, "a snapshot")
            old_epoch = watch.follower.epoch
            await asyncio.to_thread(first.stop)
            name = unique("restart-")
            cid = await run_container(name)
            created.containers.append(cid)
            second = await asyncio.to_thread(start_server, first.port, first.token)

            await until(watch, running(cid), "the container, after the restart", timeout=30)
            assert watch.follower.epoch != old_epoch
            assert watch.stats.resumes == 1
            assert watch.stats.resyncs_required == 1  # EPOCH_MISMATCH, then the snapshot
            assert watch.stats.snapshots == 2
            await assert_same_as_server(client, watch)
    finally:
        first.stop()
        if second is not None:
            second.stop()


# -- actions ---------------------------------------------------------------------------------


async def test_container_actions_come_back_through_the_stream(
    client: Client, created: Created
) -> None:
    name = unique("act-")
    cid = await docker(
        "create", "--label", f"{LABEL}=1", "--name", name, TEST_IMAGE, "sleep", "300"
    )
    created.containers.append(cid)

    def is_(wanted: str) -> Callable[[dict[str, Any]], bool]:
        return lambda s: cid in s["containers"] and s["containers"][cid]["state"] == wanted

    async with client.watch({"kinds": ["container"], "ids": [cid]}) as watch:
        await until(watch, is_("created"), "the created container")
        accepted = await client.start(cid)
        assert isinstance(accepted["operation"], str)
        assert isinstance(accepted["accepted_at_version"], int)
        await until(watch, is_("running"), "started")
        await client.pause(cid)
        await until(watch, is_("paused"), "paused")
        await client.unpause(cid)
        await until(watch, is_("running"), "unpaused")
        renamed = unique("renamed-")
        await client.rename(cid, renamed)
        await until(watch, lambda s: s["containers"][cid]["name"] == renamed, "renamed")

        with pytest.raises(Conflict) as refused:
            await client.remove_container(cid)
        assert refused.value.status == 409
        assert "running" in str(refused.value)  # Docker's own message

        await client.kill(cid)
        await until(watch, is_("exited"), "killed")
        await client.restart(cid, grace=0)
        await until(watch, is_("running"), "restarted")
        await client.stop(cid, grace=0)
        await until(watch, is_("exited"), "stopped")
        await client.start(cid)
        await until(watch, is_("running"), "started again")
        await client.remove_container(cid, force=True)
        await until(watch, lambda s: cid not in s["containers"], "removed")


async def test_unknown_objects_are_not_found(client: Client) -> None:
    missing = unique("missing-")
    for call in (client.start, client.kill, client.pause, client.remove_container):
        with pytest.raises(NotFound) as refused:
            await call(missing)
        assert refused.value.status == 404
        assert missing in str(refused.value)
    with pytest.raises(NotFound):
        await client.remove_image(f"{missing}:latest")
    with pytest.raises(NotFound):
        await client.remove_volume(missing)
    with pytest.raises(NotFound):
        await client.remove_network(missing)


async def test_a_refusal_of_the_server_itself_is_a_server_error(client: Client) -> None:
    # A negative grace never reaches the engine: the server's own validation refuses it.
    with pytest.raises(ServerError) as refused:
        await client.stop(unique("missing-"), grace=-1)
    assert refused.value.status == 422
    assert not isinstance(refused.value, EngineError)
    assert str(refused.value).startswith("query.t: ")


async def test_volume_and_network_actions(client: Client, created: Created) -> None:
    volume, network = unique("vol-"), unique("net-")
    created.volumes.append(volume)
    created.networks.append(network)
    async with client.watch({"kinds": ["volume", "network"]}) as watch:
        await until(watch, lambda s: True, "a snapshot")
        await client.create_volume(volume, labels={LABEL: "1"})
        state = await until(watch, lambda s: volume in s["volumes"], "the volume")
        assert state["volumes"][volume]["labels"] == {LABEL: "1"}
        accepted = await client.create_network(network, labels={LABEL: "1"})
        network_id = accepted["id"]
        state = await until(watch, lambda s: network_id in s["networks"], "the network")
        assert state["networks"][network_id]["name"] == network

        await client.remove_volume(volume)
        await until(watch, lambda s: volume not in s["volumes"], "the volume removed")
        await client.remove_network(network_id)
        await until(watch, lambda s: network_id not in s["networks"], "the network removed")


async def test_prune_by_label_removes_only_the_labelled(client: Client, created: Created) -> None:
    tag = unique()
    keep = await docker(
        "create", "--label", f"{LABEL}=1", "--name", unique("keep-"), TEST_IMAGE, "true"
    )
    gone = await docker(
        "create",
        *("--label", f"{LABEL}=1", "--label", f"{LABEL}.prune={tag}"),
        *("--name", unique("prune-"), TEST_IMAGE, "true"),
    )
    created.containers += [keep, gone]
    async with client.watch({"kinds": ["container"], "labels": {LABEL: "1"}}) as watch:
        await until(watch, lambda s: {keep, gone} <= set(s["containers"]), "both containers")
        await client.prune("containers", labels={f"{LABEL}.prune": tag})
        state = await until(watch, lambda s: gone not in s["containers"], "the pruned one gone")
        assert keep in state["containers"]


# -- the CLI ---------------------------------------------------------------------------------


async def read_line_with(stream: asyncio.StreamReader, text: str, timeout: float = 15) -> str:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while line := (await stream.readline()).decode():
            if text in line:
                return line
    raise AssertionError(f"no line with {text!r}")


@pytest.mark.parametrize("as_json", [False, True])
async def test_cli_watch_url_prints_the_changes(
    server: Server, created: Created, as_json: bool
) -> None:
    args = [sys.executable, "-m", "dockstate.cli", "watch", "--url", server.url]
    proc = await asyncio.create_subprocess_exec(
        *args,
        *(["--json"] if as_json else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DOCKSTATE_TOKEN": server.token},
        limit=2**26,  # a --json snapshot is one long line
    )
    assert proc.stdout is not None
    try:
        first = await read_line_with(proc.stdout, "snapshot")
        name = unique("cli-")
        cid = await run_container(name)
        created.containers.append(cid)
        if as_json:
            assert json.loads(first)["type"] == "snapshot"
            line = await read_line_with(proc.stdout, cid)
            message = json.loads(line)
            assert message["type"] == "changes"
            assert any(c["id"] == cid and c["op"] == "created" for c in message["changes"])
        else:
            assert " containers (" in first
            # The server may coalesce the create and the start into one created change.
            line = await read_line_with(proc.stdout, f" {name}")
            assert f"container created {name}  (container " in line
    finally:
        proc.terminate()
        await proc.wait()


async def test_cli_watch_url_with_a_wrong_token_is_one_line(server: Server) -> None:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "dockstate.cli", "watch", "--url", server.url, "--token", "x"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(15):
        out, err = await proc.communicate()
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().startswith("dockstate: the server refused the token")
    assert err.count(b"\n") == 1
