"""Logs on the wire (protocol.md §10): ``subscribe_logs`` subscriptions with a bounded buffer
each, and the download ``GET /api/v1/containers/{id}/logs``.

A :class:`LogsSubscription` is the reader's :class:`~dockstate.logs.Sink`: the reader (a task
of its own) hands it lines as the engine sends them, never waiting; the connection's sender
takes them out, at most :data:`BATCH_LINES` a message, at most :data:`BATCH_DELAY` after the
first is waiting. The buffer holds at most :data:`MAX_LINES` lines or :data:`MAX_BYTES`;
past that a line is dropped and counted, and the count goes to the client as
``logs_skipped`` at the place of the lines it stands for. The server's memory per
subscription is bounded whatever the container writes, and the engine's stream is read at
its pace, never the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import StreamingResponse

from .. import wire
from ..engine import DockerClient
from ..errors import AmbiguousReference, NotFound
from ..logs import (
    Demuxer,
    LogLine,
    LogOptions,
    ProjectReader,
    RawReader,
    docker_time,
    read_container,
    resolve_container,
)
from ..state import EngineState
from ._rest import Context, ProblemError, problem_responses

__all__ = [
    "BATCH_DELAY",
    "BATCH_LINES",
    "MAX_BYTES",
    "MAX_LINES",
    "LogsSubscription",
    "install_logs",
]

log = logging.getLogger("dockstate.server")

#: A subscription's buffer: at most this many lines...
MAX_LINES = 5_000
#: ...or this many bytes (about: each line's text plus its fields).
MAX_BYTES = 4 * 2**20
#: Lines in one ``logs`` message at most.
BATCH_LINES = 500
#: How long the first line waiting may wait for others to share its message, in seconds.
BATCH_DELAY = 0.05

_Item = LogLine | tuple[str, str | None, int]  # a line, or ("skipped"|"end"|"final", cid, n)


class LogsSubscription:
    """One ``subscribe_logs`` of one connection: the reader's task and its bounded buffer.

    ``wake`` is called (synchronously) when a message is ready for the sender; :meth:`take`
    gives it. :meth:`close` cancels the reader, which closes the engine's stream.
    """

    def __init__(
        self,
        id: str,
        engine: str,
        wake: Callable[[], None],
        *,
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.id = id
        self.engine = engine
        self._wake = wake
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._items: deque[_Item] = deque()
        self._lines = 0
        self._bytes = 0
        self._skipped: dict[str, int] = {}
        #: Lines dropped in all, and lines handed to the sender in all.
        self.dropped = 0
        self.sent = 0
        self._first_waiting: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.done = False  # the final logs_end was taken

    # -- the reader's side (a Sink) --------------------------------------------------------

    def start(self, run: Callable[[LogsSubscription], object]) -> None:
        coro = run(self)
        assert asyncio.iscoroutine(coro)
        self._task = asyncio.create_task(self._guard(coro))

    async def _guard(self, coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a log reader failed")
            self.finished()

    def lines(self, lines: list[LogLine]) -> None:
        items, skipped = self._items, self._skipped
        accepted = 0
        for line in lines:
            if self._lines >= self.max_lines or self._bytes >= self.max_bytes:
                skipped[line.container] = skipped.get(line.container, 0) + 1
                self.dropped += 1
                continue
            if skipped:
                self._flush_skipped()
            items.append(line)
            self._lines += 1
            self._bytes += line.size
            accepted += 1
        if accepted:
            self._pending()

    def full(self) -> bool:
        return self._lines >= self.max_lines or self._bytes >= self.max_bytes

    def skip(self, container: str, count: int) -> None:
        self._skipped[container] = self._skipped.get(container, 0) + count
        self.dropped += count
        self._pending()

    def ended(self, container: str) -> None:
        self._flush_skipped()
        self._items.append(("end", container, 0))
        self._wake()

    def finished(self) -> None:
        self._flush_skipped()
        self._items.append(("final", None, 0))
        self._wake()

    def _flush_skipped(self) -> None:
        for container, count in self._skipped.items():
            self._items.append(("skipped", container, count))
        self._skipped.clear()

    def _pending(self) -> None:
        loop = asyncio.get_running_loop()
        if self._first_waiting is None:
            self._first_waiting = loop.time()
        if self._lines >= BATCH_LINES:
            self._wake()
        elif self._timer is None:
            self._timer = loop.call_later(BATCH_DELAY, self._timed)

    def _timed(self) -> None:
        self._timer = None
        self._wake()

    # -- the sender's side -----------------------------------------------------------------

    def ready(self) -> bool:
        """Whether a message is due now."""
        if not self._items:
            return bool(self._skipped) and self._lines < self.max_lines
        if not isinstance(self._items[0], LogLine) or self._lines >= BATCH_LINES:
            return True
        first = self._first_waiting
        return first is None or asyncio.get_running_loop().time() - first >= BATCH_DELAY

    def take(self) -> str | None:
        """The next message to send, if one is due (and forget it)."""
        if not self.ready():
            return None
        if not self._items:
            self._flush_skipped()
        head = self._items[0]
        if not isinstance(head, LogLine):
            self._items.popleft()
            kind, container, count = head
            if kind == "skipped":
                assert container is not None
                return wire.logs_skipped(self.id, self.engine, container, count)
            if kind == "end":
                return wire.logs_end(self.id, self.engine, container)
            self.done = True
            return wire.logs_end(self.id, self.engine, None, final=True)
        batch: list[dict[str, object]] = []
        items = self._items
        while items and len(batch) < BATCH_LINES and isinstance(items[0], LogLine):
            line = items.popleft()
            assert isinstance(line, LogLine)
            self._lines -= 1
            self._bytes -= line.size
            batch.append(line.as_json())
        self.sent += len(batch)
        self._first_waiting = asyncio.get_running_loop().time() if self._lines else None
        return wire.logs(self.id, self.engine, batch)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
        self._items.clear()


async def start_reading(
    sub: LogsSubscription,
    docker: DockerClient,
    state: EngineState,
    *,
    container: str | None,
    project: str | None,
    options: LogOptions,
) -> str | None:
    """Begin ``sub``'s read; return an error code (``UNKNOWN_CONTAINER``, ``UNKNOWN_PROJECT``)
    when there is nothing to read."""
    if project is not None:
        reader = ProjectReader(docker, state, project, options, sub)
        if not reader.members():
            return "UNKNOWN_PROJECT"
        sub.start(lambda _: reader.run())
        return None
    assert container is not None
    info = await resolve_container(docker, state, container)
    if info is None:
        return "UNKNOWN_CONTAINER"
    cid = str(info["Id"])
    sub.start(lambda s: read_container(docker, state, cid, options, s))
    return None


def install_logs(router: APIRouter) -> None:
    """Add ``GET /api/v1/containers/{id}/logs`` to ``router`` (mounted under ``/api/v1``)."""

    @router.get(
        "/containers/{container}/logs",
        tags=["logs"],
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/plain": {}}, "description": "The log, as `docker logs`."},
            **problem_responses(401, 403, 404, 422),
        },
    )
    async def get_container_logs(
        ctx: Context,
        container: Annotated[str, Path(description="an id, a prefix of one, or a name")],
        tail: Annotated[
            int | None, Query(ge=0, description="the last N lines; all if absent")
        ] = None,
        since: Annotated[str | None, Query(description="RFC 3339 or Unix seconds")] = None,
        until: Annotated[str | None, Query(description="RFC 3339 or Unix seconds")] = None,
        timestamps: bool = False,
    ) -> StreamingResponse:
        """A container's log as ``docker logs`` prints it (stdout and stderr interleaved as
        the engine sends them), streamed: a download. Off with ``serve --no-logs``."""
        if ctx.config.no_logs:
            raise ProblemError(403, "logs are turned off on this server (--no-logs)",
                               code="LOGS_DISABLED")  # fmt: skip
        try:
            info = await resolve_container(ctx.docker, ctx.state, container)
        except AmbiguousReference as err:
            raise ProblemError(404, str(err)) from None
        if info is None:
            raise ProblemError(404, f"no such container: {container}")
        try:
            since_t = docker_time(since) if since else None
            until_t = docker_time(until) if until else None
        except ValueError:
            raise ProblemError(422, "since and until are RFC 3339 times or Unix seconds") from None
        cid, tty = str(info["Id"]), bool((info.get("Config") or {}).get("Tty"))
        name = str(info.get("Name") or cid[:12]).lstrip("/")
        opened = ctx.docker.container_logs(
            cid, tail=tail, since=since_t, until=until_t, timestamps=timestamps
        )
        try:
            chunks = await opened.__aenter__()
        except NotFound:
            raise ProblemError(404, f"no such container: {container}") from None

        async def body() -> AsyncIterator[bytes]:
            demux: Demuxer | RawReader = RawReader() if tty else Demuxer()
            try:
                async for chunk in chunks:
                    for piece in demux.feed(chunk):
                        yield piece.data
            finally:
                with contextlib.suppress(Exception):
                    await opened.__aexit__(None, None, None)

        return StreamingResponse(
            body(),
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.log"'},
        )
