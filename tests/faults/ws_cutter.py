"""A TCP proxy between WebSocket clients and a server that cuts a connection in the middle of a
large server message.

It reads the server's side of each connection as the WebSocket wire format (RFC 6455): the
HTTP answer to the upgrade, then frames, each a header (2 to 14 bytes) and a payload. Once
armed (:meth:`MidMessageCutter.arm`), it forwards the next frame whose payload is at least
``min_size`` bytes only up to half its payload, then resets both sides of the connection, as a
network failure in the middle of a large snapshot or change batch would. While
:attr:`MidMessageCutter.holding`, it resets new connections at once (the server is
unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["Cut", "MidMessageCutter"]


@dataclass(frozen=True)
class Cut:
    """One connection cut: which connection (from 1), and where in which frame."""

    connection: int
    frame_size: int
    forwarded: int


@dataclass
class MidMessageCutter:
    """A TCP proxy to the server at 127.0.0.1:``port``."""

    port: int
    connections: int = 0
    cuts: list[Cut] = field(default_factory=list)
    holding: bool = False
    """While true, new connections are reset at once (clients cannot reconnect)."""
    refused: int = 0
    _hold_after_cut: bool = False
    _armed: int = 0
    _min_size: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def arm(self, count: int = 1, min_size: int = 16_384, *, hold: bool = False) -> None:
        """Cut the next ``count`` server frames of at least ``min_size`` payload bytes; with
        ``hold``, start :attr:`holding` at the first of those cuts."""
        self._armed, self._min_size, self._hold_after_cut = count, min_size, hold

    @property
    def armed(self) -> int:
        return self._armed

    async def __aenter__(self) -> MidMessageCutter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.holding:
            self.refused += 1
            writer.transport.abort()
            return
        self.connections += 1
        number = self.connections
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            writer.transport.abort()
            return
        upward = asyncio.create_task(_pipe(reader, up_writer))
        downward = asyncio.create_task(self._server_side(number, up_reader, writer, up_writer))
        for task in (upward, downward):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _server_side(
        self,
        number: int,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        upstream: asyncio.StreamWriter,
    ) -> None:
        """Forward the server's bytes frame by frame; cut where armed."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            sink.write(await source.readuntil(b"\r\n\r\n"))  # the upgrade's answer
            while True:
                head = await source.readexactly(2)
                length = head[1] & 0x7F
                extended = b""
                if length == 126:
                    extended = await source.readexactly(2)
                elif length == 127:
                    extended = await source.readexactly(8)
                if extended:
                    length = int.from_bytes(extended, "big")
                masked = bool(head[1] & 0x80)
                mask = await source.readexactly(4) if masked else b""
                sink.write(head + extended + mask)
                if self._armed and length >= self._min_size:
                    self._armed -= 1
                    self.holding = self.holding or self._hold_after_cut
                    half = length // 2
                    sink.write(await source.readexactly(half))
                    await _flushed(sink)  # the first half reaches the client, then the cut
                    self.cuts.append(Cut(number, length, half))
                    break
                remaining = length
                while remaining:
                    data = await source.readexactly(min(remaining, 65536))
                    sink.write(data)
                    remaining -= len(data)
                await sink.drain()
        sink.transport.abort()
        upstream.transport.abort()


async def _flushed(writer: asyncio.StreamWriter) -> None:
    """Wait until everything written has been handed to the kernel."""
    writer.transport.set_write_buffer_limits(high=0)
    await writer.drain()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()
