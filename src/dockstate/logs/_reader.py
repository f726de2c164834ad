"""Reading logs: one container's (across its restarts when following), or a compose
project's, every container merged in time order, joiners included.

A reader hands what it reads to a :class:`Sink`, synchronously: lines, the end of one
container's log, the end of the whole read. It never waits for the sink: what to do when the
sink's consumer is slow (drop and count, in the server) is the sink's business, so that the
engine's stream is always read as fast as it comes and the event loop's other work runs
between two chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from ..engine import DockerClient
from ..errors import DockstateError, EngineUnavailable, NotFound
from ..state import ChangeBatch, EngineState
from ._frames import Demuxer, RawReader
from ._lines import LineSplitter, LogLine, docker_time

__all__ = [
    "MERGE_WINDOW",
    "ContainerReader",
    "LogOptions",
    "ProjectReader",
    "Sink",
    "container_lines",
    "read_container",
    "resolve_container",
]

log = logging.getLogger("dockstate.logs")

#: How long a project's line waits for older lines of the other containers before it is
#: handed on (the merge's reorder window), in seconds.
MERGE_WINDOW = 0.2
#: Lines a project's merge holds at most; past it the oldest go on at once.
MERGE_MAX = 20_000


@dataclass(frozen=True)
class LogOptions:
    """What to read, as protocol.md §10's ``subscribe_logs`` says it."""

    follow: bool = False
    tail: int | None = 200  # None: the whole log
    since: str | None = None  # RFC 3339 or Unix seconds
    until: str | None = None
    stdout: bool = True
    stderr: bool = True
    timestamps: bool = True


class Sink(Protocol):
    """Where a reader's lines go. ``full()`` says whether lines would be dropped now; the
    reader then only counts the lines of whole messages and reports them with ``skip``."""

    def lines(self, lines: list[LogLine]) -> None: ...
    def ended(self, container: str) -> None: ...
    def finished(self) -> None: ...
    def full(self) -> bool: ...
    def skip(self, container: str, count: int) -> None: ...


async def container_lines(
    docker: DockerClient,
    container: str,
    options: LogOptions,
    *,
    tty: bool,
    sink: Sink | None = None,
) -> AsyncIterator[list[LogLine]]:
    """The lines of one read of ``container``'s log, a list per chunk the engine sends.

    With a ``sink`` that is :meth:`~Sink.full`, whole lines are only counted (no line is
    made of them: a flood costs a count per message) and reported with :meth:`~Sink.skip`.
    """
    demux: Demuxer | RawReader = RawReader() if tty else Demuxer()
    splitters = {
        name: LineSplitter(container, name, timestamps=options.timestamps)
        for name in ("stdout", "stderr")
    }
    async with docker.container_logs(
        container,
        follow=options.follow,
        tail=options.tail,
        since=docker_time(options.since) if options.since else None,
        until=docker_time(options.until) if options.until else None,
        timestamps=options.timestamps,
        stdout=options.stdout,
        stderr=options.stderr,
    ) as chunks:
        async for chunk in chunks:
            out: list[LogLine] = []
            skipped = 0
            for piece in demux.feed(chunk):
                splitter = splitters[piece.stream]
                data = piece.data
                if sink is not None and not splitter.open and data[-1:] == b"\n" and sink.full():
                    skipped += data.count(b"\n")
                    continue
                out += splitter.feed(data, piece.start)
            if skipped:
                assert sink is not None
                sink.skip(container, skipped)
            if out:
                yield out
            await asyncio.sleep(0)  # the engine may send faster than anything else runs
    rest = splitters["stdout"].flush() + splitters["stderr"].flush()
    if rest:
        yield rest


async def resolve_container(
    docker: DockerClient, state: EngineState | None, ref: str
) -> dict[str, Any] | None:
    """The inspect of the container ``ref`` names (an id, a prefix of one, a name), or
    None.

    Raises:
        AmbiguousReference: ``ref`` begins several ids in ``state``.
    """
    return await docker.inspect_container(state.container_id(ref) if state is not None else ref)


class _Changes:
    """Wakes whoever waits whenever the state commits a batch (a read-only listener)."""

    def __init__(self, state: EngineState | None) -> None:
        self.state = state
        self._event = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        if state is not None:
            self._unsubscribe = state.subscribe(self._on_batch)

    def _on_batch(self, batch: ChangeBatch) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class ContainerReader:
    """One container's log into ``emit``. Following, it goes on across the container's
    restarts (reopening after the last line it saw) while a ``state`` is there to tell them,
    and ends when the container is removed; without a state it ends with the engine's
    stream, as ``docker logs -f`` does."""

    def __init__(
        self,
        docker: DockerClient,
        container_id: str,
        options: LogOptions,
        emit: Callable[[list[LogLine]], None],
        changes: _Changes | None = None,
        sink: Sink | None = None,
    ) -> None:
        self.docker = docker
        self.id = container_id
        self.options = options
        self.emit = emit
        self.changes = changes
        self.sink = sink

    async def run(self) -> None:
        options, last = self.options, ""
        while True:
            info = await self.docker.inspect_container(self.id)
            if info is None:
                return
            state = info.get("State") or {}
            started = state.get("StartedAt")
            tty = bool((info.get("Config") or {}).get("Tty"))
            try:
                async for lines in container_lines(
                    self.docker, self.id, options, tty=tty, sink=self.sink
                ):
                    if last:
                        lines = [line for line in lines if line.time > last]
                        if not lines:
                            continue
                    last = lines[-1].time or last
                    self.emit(lines)
            except NotFound:
                return
            if not self.options.follow or self.changes is None or self.changes.state is None:
                return
            # Read again from after the last line (or, none read, from now).
            last = last or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            # The engine ended the stream: the container stopped (or the stream was cut).
            # Wait until it runs again (a start after the one read), or is gone.
            while True:
                info = await self.docker.inspect_container(self.id)
                if info is None:
                    return
                state = info.get("State") or {}
                if state.get("Running") and state.get("StartedAt") != started:
                    break
                if state.get("Running") and not state.get("Restarting"):
                    await asyncio.sleep(0.5)  # running as before: the stream was cut
                    break
                await self.changes.wait(2.0)
            options = replace(self.options, tail=None, since=_after(last) or self.options.since)


def _after(time_text: str) -> str | None:
    return time_text or None


class ProjectReader:
    """Every container of a compose project (``com.docker.compose.project``, as the state
    has it), merged in time order: each line waits up to :data:`MERGE_WINDOW` for older
    lines of the others. Following, containers that join the project (``docker compose up
    --scale``) are read from their first line, as the state shows them."""

    def __init__(
        self,
        docker: DockerClient,
        state: EngineState,
        project: str,
        options: LogOptions,
        sink: Sink,
    ) -> None:
        self.docker = docker
        self.state = state
        self.project = project
        self.options = options
        self.sink = sink
        self._heap: list[tuple[str, int, LogLine]] = []
        self._seq = 0
        self._arrived: dict[int, float] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changes = _Changes(state)
        self._seen: set[str] = set()

    def members(self) -> list[str]:
        return [c.id for c in self.state.containers.values() if c.compose_project == self.project]

    async def run(self) -> None:
        try:
            for cid in self.members():
                self._start(cid, self.options)
            joined = replace(self.options, tail=None, since=None)
            while True:
                self._release(time.monotonic() - MERGE_WINDOW)
                for cid, task in list(self._tasks.items()):
                    if task.done():
                        del self._tasks[cid]
                        self._release(float("inf"))
                        self.sink.ended(cid)
                if self.options.follow:
                    for cid in self.members():
                        if cid not in self._tasks and cid not in self._seen:
                            self._start(cid, joined)
                elif not self._tasks:
                    break
                await self._changes.wait(0.05)
            self._release(float("inf"))
            self.sink.finished()
        finally:
            self._changes.close()
            for task in self._tasks.values():
                task.cancel()
            for task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _start(self, cid: str, options: LogOptions) -> None:
        self._seen.add(cid)

        def emit(lines: list[LogLine]) -> None:
            now = time.monotonic()
            for line in lines:
                self._seq += 1
                heapq.heappush(self._heap, (line.time, self._seq, line))
                self._arrived[self._seq] = now
            if len(self._heap) > MERGE_MAX:
                self._release(now, keep=MERGE_MAX // 2)

        reader = ContainerReader(self.docker, cid, options, emit, self._changes, self.sink)
        self._tasks[cid] = asyncio.create_task(_guarded(reader.run(), cid))

    def _release(self, before: float, keep: int | None = None) -> None:
        """Hand on the lines that arrived before ``before`` (or all but ``keep``), oldest
        first."""
        heap, out = self._heap, []
        while heap and (
            self._arrived[heap[0][1]] <= before or (keep is not None and len(heap) > keep)
        ):
            _, seq, line = heapq.heappop(heap)
            del self._arrived[seq]
            out.append(line)
        if out:
            self.sink.lines(out)


async def _guarded(run: Any, container: str) -> None:
    try:
        await run
    except (EngineUnavailable, DockstateError) as err:
        log.info("reading the log of %s failed: %s", container[:12], err)


async def read_container(
    docker: DockerClient,
    state: EngineState | None,
    container_id: str,
    options: LogOptions,
    sink: Sink,
) -> None:
    """One container's log into ``sink``, then its end."""
    changes = _Changes(state)
    try:
        await _guarded(
            ContainerReader(docker, container_id, options, sink.lines, changes, sink).run(),
            container_id,
        )
    finally:
        changes.close()
    sink.ended(container_id)
    sink.finished()
