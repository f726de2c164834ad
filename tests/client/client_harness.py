"""Helpers of the client's tests against a real server: a `dockstate serve` process, a TCP
proxy that can cut connections, the docker CLI, and waiting on a watch.

Every object a test creates carries the label ``dockstate.test`` and a name starting with
``dst-``, so that the session cleanup of tests/integration (and a manual one) finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from dockstate.client import Watch

TEST_IMAGE = "dockstate-test/busybox:latest"
LABEL = "dockstate.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A running `dockstate serve`."""

    url: str
    token: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_server(port: int | None = None, token: str | None = None) -> Server:
    """Start `dockstate serve` with a short heartbeat; return once it has loaded the engine."""
    port = port or free_port()
    token = token or secrets.token_urlsafe(12)
    args = [
        sys.executable, "-m", "dockstate.cli", "serve", "--port", str(port), "--token", token,
        "--heartbeat-ms", "1000",
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, env=os.environ.copy())
    server = Server(f"http://127.0.0.1:{port}", token, port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockstate serve exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            if httpx.get(server.url + "/healthz", timeout=1).json()["engine"] == "connected":
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("dockstate serve did not get ready within 30 s")


@dataclass
class Proxy:
    """A TCP proxy to ``port`` that can cut every connection, and refuse new ones."""

    port: int
    holding: bool = False
    accepted: int = 0
    _server: asyncio.Server | None = None
    _links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut(self) -> None:
        """Reset every open connection, on both sides, as a network failure would."""
        for down, up in self._links:
            down.transport.abort()
            up.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.holding:
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._links.append((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()


async def docker(*args: str, check: bool = True) -> str:
    """Run the docker CLI; return its stdout."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {err.decode().strip()}")
    return out.decode().strip()


def unique(prefix: str = "") -> str:
    return f"dst-{prefix}{secrets.token_hex(4)}"


async def run_container(name: str, *extra: str) -> str:
    """``docker run -d`` a labelled test container sleeping 300 s; return its id."""
    return await docker(
        "run", "-d", "--label", f"{LABEL}=1", "--name", name, *extra, TEST_IMAGE, "sleep", "300"
    )


async def until(
    watch: Watch,
    check: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """Iterate ``watch`` until its state passes ``check``; fail after ``timeout`` seconds.

    (A timeout cancels the pending iteration, which ends the watch: it is a failure anyway.)
    """
    if watch.state is not None and check(watch.state):
        return watch.state
    try:
        async with asyncio.timeout(timeout):
            async for state in watch:
                if check(state):
                    return state
    except TimeoutError:
        pass
    held = watch.state["version"] if watch.state is not None else None
    raise AssertionError(
        f"the watch did not show {what} within {timeout} s (at version {held}, {watch.stats})"
    )
