"""A stalled client next to a live one: the live one keeps receiving every change promptly,
the stalled one is told SLOW_CONSUMER (or closed 4499), and the server's memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from harness import LABEL as SESSION_LABEL
from server_harness import Peer, ServerProcess, peer, start_server
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from dockstate.engine import DockerClient

pytestmark = pytest.mark.integration

LABEL = f"{SESSION_LABEL}=1"
COUNT = 30
TEST_IMAGE = "dockstate-test/busybox"


@pytest.fixture(scope="module")
def strict_server() -> Iterator[ServerProcess]:
    proc = start_server("--max-pending", "100", "--send-timeout", "3", "--rate", "400")
    yield proc
    proc.stop()


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("VmRSS:"))
    return int(line.split()[1])


async def _create(engine: httpx.AsyncClient, name: str) -> None:
    # A heavy label makes each snapshot about 200 KB, so unread ones soon fill every buffer.
    body = {"Image": TEST_IMAGE, "Labels": {SESSION_LABEL: "1", "dst.ballast": "x" * 6000}}
    response = await engine.post("/containers/create", params={"name": name}, json=body)
    response.raise_for_status()


def _docker(*args: str) -> None:
    subprocess.run(["docker", *args], capture_output=True, check=True)


async def _stalled_connection(server: ServerProcess) -> Any:
    """A WebSocket whose socket buffers are tiny and whose reader stops at one message."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    return connect(
        server.ws_url,
        sock=sock,
        max_queue=1,
        subprotocols=[Subprotocol("dockstate.v1")],
        compression=None,
    )


async def test_stalled_client_does_not_slow_the_live_one(strict_server: ServerProcess) -> None:
    server = strict_server
    names = [f"dst-slow-{i}" for i in range(COUNT)]
    # A state big enough that unread snapshots fill every buffer.
    transport = httpx.AsyncHTTPTransport(uds="/var/run/docker.sock")
    async with httpx.AsyncClient(transport=transport, base_url="http://docker") as engine:
        await asyncio.gather(*(_create(engine, name) for name in names))
    rss_before = _rss_kib(server.process.pid)
    async with await _stalled_connection(server) as stalled_ws, peer(server) as live:
        stalled = Peer(stalled_ws)
        await stalled.hello(server.token)
        await stalled.send({"type": "subscribe", "id": "slow"})

        async def pester() -> None:
            """Ask for snapshots it will not read: megabytes the server cannot send."""
            with contextlib.suppress(Exception):
                while True:
                    await stalled.send({"type": "resync", "id": "slow"})
                    await asyncio.sleep(0.005)

        pestering = asyncio.create_task(pester())
        await live.send({"type": "subscribe", "id": "live"})
        await live.recv_until("snapshot")

        lags: dict[str, float] = {}

        async def watch_live() -> None:
            while len(lags) < COUNT:
                message = await live.recv_until("changes", timeout=30)
                now = time.time_ns()
                for change in message["changes"]:
                    cause = change.get("cause") or {}
                    if cause.get("action") == "rename":
                        lags[change["id"]] = (now - cause["time_nano"]) / 1e9

        watcher = asyncio.create_task(watch_live())
        async with DockerClient() as docker_api:
            for name in names:
                await docker_api.rename_container(name, name + "-r")
        await asyncio.wait_for(watcher, 60)
        # Every rename reached the live client, each well within a second of its event.
        assert len(lags) == COUNT
        assert max(lags.values()) < 1.0, lags
        await asyncio.sleep(4)  # past the server's send timeout (3 s)
        pestering.cancel()

        # The stalled client, reading again, learns it fell behind: SLOW_CONSUMER then a
        # snapshot, or a 4499 close when even that could not be delivered.
        verdict: str | int | None = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(30):
                async for text in stalled_ws:
                    message = json.loads(text)
                    if message["type"] == "resync_required":
                        verdict = message["code"]
                        break
        if verdict is None:
            verdict = stalled_ws.close_code
        assert verdict in ("SLOW_CONSUMER", 4499)
    rss_after = _rss_kib(server.process.pid)
    assert rss_after - rss_before < 50_000, (rss_before, rss_after)  # KiB
    await asyncio.to_thread(_docker, "rm", "-f", *(n + "-r" for n in names))
