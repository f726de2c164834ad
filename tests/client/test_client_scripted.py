"""Client.watch against a scripted protocol peer on loopback (no Docker, no dockstate server):
the handshake it sends, resync on a gap, reconnect and resume, close codes, idle timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from dockstate.client import Backoff, Client, Watch
from dockstate.errors import AuthError, DockstateError, ProtocolError

EPOCH = "ep"
TOKEN = "tok"


def state_at(version: int, **containers: str) -> dict[str, Any]:
    """A small EngineState whose containers are ``{id: {"id", "state", "rev"}}``."""
    return {
        "containers": {k: {"id": k, "state": v, "rev": version} for k, v in containers.items()},
        "images": {},
        "volumes": {},
        "networks": {},
        "engine_info": {"status": "connected", "rev": 1},
        "system_stats": {"containers": len(containers), "rev": 1},
        "version": version,
        "last_updated": "2026-01-01T00:00:00.000000Z",
    }


def changes(start: int, end: int, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "changes",
        "sub": "s1",
        "epoch": EPOCH,
        "from": start,
        "to": end,
        "timestamp": "2026-01-01T00:00:01.000000Z",
        "changes": list(items),
    }


def created(v: int, key: str, state: str = "running") -> dict[str, Any]:
    obj = {"id": key, "state": state, "rev": v}
    return {"v": v, "kind": "container", "op": "created", "id": key, "object": obj}


def snapshot(version: int, **containers: str) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "sub": "s1",
        "epoch": EPOCH,
        "version": version,
        "state": state_at(version, **containers),
    }


class Peer:
    """One accepted connection, as the script sees it."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        self.received.append(message)
        return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def welcome(self, version: int = 10, heartbeat_ms: int = 15_000) -> dict[str, Any]:
        """Take the hello, answer welcome, and return the subscribe that follows."""
        hello = await self.recv()
        assert hello["type"] == "hello"
        await self.send(
            {
                "type": "welcome",
                "protocol": "dockstate.v1",
                "server": "fake/1",
                "session": "x",
                "epoch": EPOCH,
                "version": version,
                "oldest": 0,
                "heartbeat_ms": heartbeat_ms,
            }
        )
        return await self.recv()

    async def idle(self) -> None:
        """Read until the client goes away."""
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                self.received.append(json.loads(raw))


Script = Callable[[Peer], Awaitable[None]]


class Scripted:
    """A WebSocket server that runs the n-th script on the n-th connection."""

    def __init__(self, *scripts: Script) -> None:
        self.scripts = list(scripts)
        self.peers: list[Peer] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        peer = Peer(ws)
        index = len(self.peers)
        self.peers.append(peer)
        if index >= len(self.scripts):
            await ws.close(1013, "no script left")
            return
        await self.scripts[index](peer)


@contextlib.asynccontextmanager
async def scripted(*scripts: Script) -> AsyncIterator[Scripted]:
    server = Scripted(*scripts)
    async with serve(
        server.handler,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol("dockstate.v1")],
        compression="deflate",
    ) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        server.url = f"http://127.0.0.1:{port}"
        yield server


def fast() -> Backoff:
    return Backoff(0.01, 0.05)


async def take(watch: Watch, n: int) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(10):
        async for state in watch:
            out.append(state)
            if len(out) == n:
                break
    return out


async def test_handshake_offers_the_subprotocol_deflate_and_the_token() -> None:
    async def script(peer: Peer) -> None:
        subscribe = await peer.welcome()
        assert subscribe == {"type": "subscribe", "id": "s1", "mode": "changes"}
        await peer.send(snapshot(10, c1="running"))
        await peer.idle()

    async with scripted(script) as server, Client(server.url, TOKEN) as client:
        watch = client.watch()
        [state] = await take(watch, 1)
        peer = server.peers[0]
        assert peer.ws.subprotocol == "dockstate.v1"
        assert peer.ws.request is not None
        assert "permessage-deflate" in peer.ws.request.headers["Sec-WebSocket-Extensions"]
        hello = peer.received[0]
        assert hello["token"] == TOKEN
        assert hello["protocol"] == "dockstate.v1"
        assert hello["client"].startswith("dockstate-python/")
        assert state == state_at(10, c1="running")
        assert watch.welcome is not None
        assert watch.welcome["epoch"] == EPOCH
        await watch.aclose()


async def test_a_gap_sends_resync_and_takes_the_snapshot_that_answers_it() -> None:
    resynced = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(snapshot(10, c1="running"))
        await peer.send(changes(12, 13, created(13, "c3")))  # 11..12 never came
        assert await peer.recv() == {"type": "resync", "id": "s1"}
        resynced.set()
        await peer.send(snapshot(13, c1="running", c2="running", c3="running"))
        await peer.idle()

    async with scripted(script) as server, Client(server.url, TOKEN) as client:
        watch = client.watch()
        first, second = await take(watch, 2)
        assert resynced.is_set()
        assert set(first["containers"]) == {"c1"}
        assert set(second["containers"]) == {"c1", "c2", "c3"}
        assert (watch.stats.gaps, watch.stats.snapshots) == (1, 2)
        await watch.aclose()


async def test_a_dropped_connection_reconnects_and_resumes_after_the_last_bookmark() -> None:
    async def first(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(snapshot(10, c1="running"))
        await peer.send(changes(10, 11, created(11, "c2")))
        await peer.send({"type": "bookmark", "sub": "s1", "epoch": EPOCH, "version": 14})
        await asyncio.sleep(0.05)
        peer.ws.transport.abort()  # no close frame: like a network failure

    async def second(peer: Peer) -> None:
        subscribe = await peer.welcome(version=15)
        assert subscribe["since"] == {"epoch": EPOCH, "version": 14}
        await peer.send(changes(14, 15, created(15, "c5")))
        await peer.idle()

    async with scripted(first, second) as server, Client(server.url, TOKEN) as client:
        watch = client.watch(backoff=fast())
        states = await take(watch, 3)
        assert [s["version"] for s in states] == [10, 11, 15]
        assert set(states[-1]["containers"]) == {"c1", "c2", "c5"}
        assert watch.stats.connections == 2
        assert watch.stats.resumes == 1
        assert watch.stats.snapshots == 1  # resumed: no second snapshot
        await watch.aclose()


async def test_a_resume_outside_the_window_takes_the_snapshot_that_follows() -> None:
    async def first(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(snapshot(10, c1="running"))
        await peer.ws.close(1001, "going away")

    async def second(peer: Peer) -> None:
        subscribe = await peer.welcome(version=99)
        assert subscribe["since"] == {"epoch": EPOCH, "version": 10}
        required = {"type": "resync_required", "sub": "s1", "code": "VERSION_EXPIRED"}
        await peer.send({**required, "oldest": 50, "current": 99})
        await peer.send(snapshot(99, c9="exited"))
        await peer.idle()

    async with scripted(first, second) as server, Client(server.url, TOKEN) as client:
        watch = client.watch(backoff=fast())
        states = await take(watch, 2)
        assert states[1] == state_at(99, c9="exited")
        assert watch.stats.resyncs_required == 1


async def test_a_silent_connection_is_replaced() -> None:
    async def silent(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(snapshot(10, c1="running"))
        await peer.idle()  # never a bookmark

    async def second(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(changes(10, 11, created(11, "c2")))
        await peer.idle()

    async with scripted(silent, second) as server, Client(server.url, TOKEN) as client:
        watch = client.watch(backoff=fast(), idle_timeout=0.3)
        states = await take(watch, 2)
        assert states[1]["version"] == 11
        assert watch.stats.connections == 2


@pytest.mark.parametrize(
    ("code", "error"),
    [(4401, AuthError), (4403, AuthError), (4400, ProtocolError), (4409, ProtocolError)],
)
async def test_fatal_close_codes_raise_instead_of_reconnecting(
    code: int, error: type[DockstateError]
) -> None:
    async def script(peer: Peer) -> None:
        await peer.recv()
        await peer.ws.close(code, "nope")

    async with scripted(script) as server, Client(server.url, TOKEN) as client:
        with pytest.raises(error, match="nope"):
            await take(client.watch(backoff=fast()), 1)
        assert len(server.peers) == 1


async def test_a_refused_token_after_a_reconnect_still_raises() -> None:
    async def first(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(snapshot(10))
        await peer.ws.close(1011, "internal error")

    async def second(peer: Peer) -> None:
        await peer.recv()
        await peer.ws.close(4401, "wrong or missing token")

    async with scripted(first, second) as server, Client(server.url, TOKEN) as client:
        watch = client.watch(backoff=fast())
        with pytest.raises(AuthError, match="refused the token"):
            await take(watch, 2)


async def test_the_first_connection_failing_is_an_error_not_a_retry() -> None:
    async with scripted() as server:
        url = server.url
    async with Client(url, TOKEN) as client:
        with pytest.raises(DockstateError, match="cannot reach the dockstate server at"):
            await take(client.watch(backoff=fast()), 1)


async def test_an_answer_other_than_welcome_is_a_protocol_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.recv()
        await peer.send({"type": "snapshot"})
        await peer.idle()

    async with scripted(script) as server, Client(server.url, TOKEN) as client:
        with pytest.raises(ProtocolError, match="answered hello with 'snapshot'"):
            await take(client.watch(), 1)


async def test_closing_the_client_ends_a_watch_waiting_in_another_task() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(snapshot(10))
        await peer.idle()

    async with scripted(script) as server:
        client = Client(server.url, TOKEN)
        watch = client.watch()
        got: list[dict[str, Any]] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for state in watch:
                got.append(state)
                first.set()

        task = asyncio.create_task(consume())
        async with asyncio.timeout(5):
            await first.wait()
        await client.aclose()
        async with asyncio.timeout(5):
            await task  # ended, without an error
        assert len(got) == 1
