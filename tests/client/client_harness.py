"""Helpers of the client's tests against a real server: a `dockstate serve` process, a TCP
proxy that can cut connections, the docker CLI, and waiting on a watch.

The server, the docker CLI and the test objects' label and names come from the shared
harnesses (tests/server/server_harness.py, tests/integration/harness.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import LABEL, TEST_IMAGE, docker, run_container, unique
from server_harness import ServerProcess, free_port
from server_harness import start_server as start_test_server

from dockstate.client import Watch

__all__ = [
    "LABEL",
    "TEST_IMAGE",
    "Proxy",
    "Server",
    "docker",
    "free_port",
    "run_container",
    "start_server",
    "unique",
    "until",
]

Server = ServerProcess


def start_server(port: int | None = None, token: str | None = None) -> Server:
    """Start `dockstate serve` with a 1 s heartbeat; return once it has loaded the engine."""
    return start_test_server("--heartbeat-ms", "1000", port=port, token=token)


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
