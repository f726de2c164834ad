"""A fault-injecting proxy in front of a Docker engine's unix socket.

dockstate reaches the engine through it (``dockstate serve --docker-host unix://<path>``); the
tests reach the engine directly. Every request is forwarded to the engine on a connection of
its own: the proxy asks the engine for ``Connection: close``, so that each connection carries
one request and one answer and the proxy needs to understand no HTTP framing but that of the
event stream. The answer to ``GET /events`` (HTTP/1.1 chunked, one JSON event per line) is
parsed and sent on one event per chunk, so that the faults act on whole events:

- :attr:`Faults.drop` / :attr:`Faults.drop_next`: events that never reach dockstate;
- :attr:`Faults.copies`: exact copies of each event, sent right after it;
- :attr:`Faults.late_copy`: one more copy of each event, sent that many seconds later with a
  ``timeNano`` one nanosecond later (a copy that no deduplication by identity recognizes);
- :attr:`Faults.delay` (order kept) and :attr:`Faults.jitter` (a random extra delay per
  event, so events overtake one another);
- :meth:`DockerProxy.cut_streams`: end every open event stream, abruptly, in the middle of an
  event, or cleanly (the terminating chunk);
- :meth:`DockerProxy.refuse` / :meth:`DockerProxy.accept`: the engine is gone (the socket is
  removed, and every open connection cut) and comes back.

:class:`ProxyStats` counts everything the proxy did, and keeps every event it dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CutMode", "DockerProxy", "Faults", "ProxyStats"]

Event = dict[str, Any]
CutMode = Literal["abort", "mid_event", "clean"]

_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+")


@dataclass
class Faults:
    """What the proxy does to the events it forwards (change the fields at any time)."""

    drop: Callable[[Event], bool] | None = None
    """Drop every event for which this is true."""
    drop_next: int = 0
    """Drop this many of the next events (counts down)."""
    copies: int = 0
    """Send each event this many extra times, right after it."""
    late_copy: float | None = None
    """Also send each event again this many seconds later, with ``timeNano`` + 1."""
    delay: float = 0.0
    """Hold each event this long before sending it; the order is kept."""
    jitter: float = 0.0
    """Hold each event a further random time up to this long; events may overtake."""


@dataclass
class ProxyStats:
    """What the proxy did since it started."""

    connections: int = 0
    refused: int = 0
    """Connections the proxy accepted but could not forward (the engine did not answer)."""
    requests: Counter[str] = field(default_factory=Counter)
    """Requests by method and path (without the API version), e.g. ``GET /events``."""
    streams: int = 0
    """Event streams opened."""
    events: list[Event] = field(default_factory=list)
    """Every event the engine sent, before any fault."""
    events_out: int = 0
    """Events sent on to the client, copies included."""
    dropped: list[Event] = field(default_factory=list)
    copies: int = 0
    late_copies: int = 0
    delayed: int = 0
    overtaken: int = 0
    """Events sent after an event that the engine sent later (reordered by jitter)."""
    cuts: Counter[str] = field(default_factory=Counter)
    """Event streams cut, by mode."""
    engine_gone: int = 0
    """Times :meth:`DockerProxy.refuse` made the engine disappear."""


class DockerProxy:
    """A unix-socket proxy to the engine at ``upstream`` (a socket path), listening at ``path``.

    Use as ``async with DockerProxy(upstream, path) as proxy:``; it must run on the event loop
    of the test (it serves while the test awaits).
    """

    def __init__(self, upstream: str, path: str) -> None:
        self.upstream = upstream
        self.path = path
        self.faults = Faults()
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._streams: set[_EventStream] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def host(self) -> str:
        """The ``--docker-host`` that reaches the engine through the proxy."""
        return f"unix://{self.path}"

    async def __aenter__(self) -> DockerProxy:
        await self.accept()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._stop_listening()
        self.cut_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the engine comes and goes ---------------------------------------------------------

    async def accept(self) -> None:
        """Listen (again): new connections reach the engine."""
        if self._server is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self._server = await asyncio.start_unix_server(self._serve, self.path)

    async def refuse(self) -> None:
        """The engine is gone: remove the socket (connecting fails) and cut every connection."""
        self.stats.engine_gone += 1
        await self._stop_listening()
        self.cut_all()

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def cut_all(self) -> None:
        """Cut every open connection (event streams and requests alike), abruptly."""
        for stream in list(self._streams):
            stream.cut("abort")
        for link in list(self._links):
            link.abort()

    def cut_streams(self, mode: CutMode = "abort") -> int:
        """End every open event stream; return how many.

        ``abort``: close both connections now, in the middle of the chunked answer.
        ``mid_event``: send the first half of the next event, then abort (or abort after a
        second without events).
        ``clean``: send the terminating chunk, as an engine ending the stream would.
        """
        streams = list(self._streams)
        for stream in streams:
            stream.cut(mode)
        return len(streams)

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    # -- forwarding ------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        link: _Link | None = None
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, headers = _parse_request(head)
            path = _VERSION_PREFIX.sub("", target.split("?", 1)[0])
            self.stats.requests[f"{method} {path}"] += 1
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
            except OSError:
                self.stats.refused += 1
                writer.transport.abort()
                return
            link = _Link(writer, up_writer)
            self._links.add(link)
            up_writer.write(_request_head(method, target, headers))
            # The client sends nothing after its request but the request's body.
            self._spawn(_pipe(reader, up_writer))
            if method == "GET" and path == "/events":
                stream = _EventStream(self, up_reader, link)
                self._streams.add(stream)
                self.stats.streams += 1
                try:
                    await stream.run()
                finally:
                    self._streams.discard(stream)
            else:
                await _pipe(up_reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # The proxy is closing. This task is the top of a connection handler: ending it
            # quietly spares asyncio's streams logging the cancellation as an error.
            pass
        finally:
            self._tasks.discard(task)
            if link is not None:
                self._links.discard(link)
                link.close()
            else:
                writer.transport.abort()


@dataclass(eq=False)
class _Link:
    down: asyncio.StreamWriter
    up: asyncio.StreamWriter

    def abort(self) -> None:
        """Cut both connections now; what is still buffered is lost, as in a crash."""
        self.down.transport.abort()
        self.up.transport.abort()

    def close(self) -> None:
        """Close both connections once what is buffered has been sent."""
        self.down.close()
        self.up.close()


class _EventStream:
    """One ``GET /events`` answer: read the engine's chunks, send events one chunk each."""

    def __init__(self, proxy: DockerProxy, up: asyncio.StreamReader, link: _Link) -> None:
        self.proxy = proxy
        self.up = up
        self.link = link
        self.down = link.down
        self._fifo: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._pending = 0  # events queued or held, not yet sent
        self._idle = asyncio.Event()
        self._idle.set()
        self._cut: CutMode | None = None
        self._latest_sent = 0

    def cut(self, mode: CutMode) -> None:
        if self._cut is not None:
            return
        self._cut = mode
        self.proxy.stats.cuts[mode] += 1
        if mode == "clean":
            with contextlib.suppress(Exception):
                self.down.write(b"0\r\n\r\n")
        if mode != "mid_event":
            self.link.abort()
        else:  # the next event is cut in half, then the connection; or in a second anyway
            asyncio.get_running_loop().call_later(1.0, self.link.abort)

    async def run(self) -> None:
        head = await self.up.readuntil(b"\r\n\r\n")
        self.down.write(head)
        chunked = b"transfer-encoding: chunked" in head.lower()
        if not head.startswith(b"HTTP/1.1 200") or not chunked:
            await _pipe(self.up, self.down)
            return
        sender = self.proxy._spawn(self._send_in_order())
        try:
            buffer = b""
            while True:
                size_line = await self.up.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:  # the engine ended the stream: end it too, once all is sent
                    await self._idle.wait()
                    self.down.write(b"0\r\n\r\n")
                    return
                data = await self.up.readexactly(size + 2)
                buffer += data[:-2]
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._on_event(line)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    def _on_event(self, line: bytes) -> None:
        stats, faults = self.proxy.stats, self.proxy.faults
        try:
            event: Event = json.loads(line)
        except ValueError:
            self._schedule(0.0, line)
            return
        stats.events.append(event)
        if faults.drop_next > 0:
            faults.drop_next -= 1
            stats.dropped.append(event)
            return
        if faults.drop is not None and faults.drop(event):
            stats.dropped.append(event)
            return
        hold = faults.delay
        if faults.jitter:
            hold += random.uniform(0, faults.jitter)
        if hold > 0:
            stats.delayed += 1
        for _ in range(1 + faults.copies):
            self._schedule(hold, line, ordered=not faults.jitter)
        stats.copies += faults.copies
        if faults.late_copy is not None:
            late = dict(event)
            if isinstance(late.get("timeNano"), int):
                late["timeNano"] += 1
            self._schedule(hold + faults.late_copy, json.dumps(late).encode(), ordered=False)
            stats.late_copies += 1

    def _schedule(self, hold: float, line: bytes, *, ordered: bool = True) -> None:
        self._pending += 1
        self._idle.clear()
        if ordered:
            # Holds are equal or zero here, so FIFO order is due order: the order is kept.
            due = asyncio.get_running_loop().time() + hold
            self._fifo.put_nowait((due, line))
        else:
            self.proxy._spawn(self._send_later(hold, line))

    async def _send_in_order(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, line = await self._fifo.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            self._send(line)

    async def _send_later(self, hold: float, line: bytes) -> None:
        await asyncio.sleep(hold)
        self._send(line)

    def _send(self, line: bytes) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()
        if self._cut not in (None, "mid_event") or self.down.transport.is_closing():
            return
        data = line + b"\n"
        if self._cut == "mid_event":
            self.down.write(b"%x\r\n%s" % (len(data), data[: len(data) // 2]))
            self.link.abort()
            self._cut = "abort"
            return
        self.down.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.proxy.stats.events_out += 1
        with contextlib.suppress(ValueError, AttributeError):
            time_nano = int(json.loads(line).get("timeNano") or 0)
            if time_nano < self._latest_sent:
                self.proxy.stats.overtaken += 1
            self._latest_sent = max(self._latest_sent, time_nano)


def _parse_request(head: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return method, target, headers


def _request_head(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    kept = [(n, v) for n, v in headers if n.lower() not in ("connection", "keep-alive")]
    lines = [f"{method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in kept)]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(OSError):
        if sink.can_write_eof():
            sink.write_eof()
