"""Operations (protocol.md §11): every action answers within a second and runs on.

An action's engine call runs as a task of its own. :meth:`Operations.run` waits for it at
most :data:`QUICK` seconds: an engine that refuses in that time gets its refusal answered as
before (404, 409, ...); otherwise the client gets ``202`` with the operation id while the
engine works on (a ``stop`` waits out the container's grace period), and the operation's
outcome is kept for ``GET /api/v1/operations/{id}`` and sent to every connection that has a
subscription, as an ``operation`` message, whenever its status changes.

A long call (a pull, a project's containers) reports how far it got through the
:class:`Reporter` that :meth:`Operations.run_with` hands it: :meth:`Operations.set_progress`
keeps the operation's ``progress`` and announces it, at most once per
:data:`PROGRESS_INTERVAL` (the latest always reaches the listeners, trailing if need be);
:meth:`Operations.set_target` names what it turned out to act on (a created container's id).

Bounds: the newest :data:`KEEP` operations are kept; a finished one is forgotten
:data:`FORGET_AFTER` seconds after it finished (a pending one never, while it runs).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from ..errors import EngineAPIError, EngineUnavailable
from ._problems import ProblemError, problem_body

__all__ = [
    "FORGET_AFTER",
    "KEEP",
    "PROGRESS_INTERVAL",
    "QUICK",
    "Operation",
    "OperationStatus",
    "Operations",
    "Reporter",
]

log = logging.getLogger("dockstate.server")

_T = TypeVar("_T")

#: Seconds an action's answer waits for the engine before it is 202 with a pending operation.
QUICK = 1.0
#: Operations kept at most (the oldest finished ones go first).
KEEP = 1000
#: Seconds a finished operation is kept.
FORGET_AFTER = 600.0
#: Seconds between two announcements of an operation's progress, at least.
PROGRESS_INTERVAL = 0.25

OperationStatus = Literal["pending", "done", "failed"]


class Operation(BaseModel):
    """What became of an action (``GET /api/v1/operations/{id}``)."""

    operation: str = Field(description="The id the action was answered with.")
    action: str = Field(description="e.g. `stop`, `remove`, `prune`, `create`.")
    target: str = Field(description="What it acts on: a container id or name, a kind...")
    status: OperationStatus
    error: dict[str, Any] | None = Field(
        default=None, description="When failed: the problem (RFC 9457) the engine's refusal made."
    )
    progress: dict[str, Any] | None = None


class _Entry:
    __slots__ = ("announced", "finished", "listed", "task", "timer", "view")

    def __init__(self, view: Operation) -> None:
        self.view = view
        self.finished: float | None = None
        self.task: asyncio.Task[Any] | None = None
        #: Whether the operation is known outside (answered ``pending``): only then are its
        #: progress reports announced.
        self.listed = False
        #: When it was last announced (the clock's time), and the trailing announcement due.
        self.announced = float("-inf")
        self.timer: asyncio.TimerHandle | None = None


class Reporter:
    """What a running operation's call may tell of itself (see :meth:`Operations.run_with`)."""

    __slots__ = ("_operations", "operation")

    def __init__(self, operations: Operations, operation: str) -> None:
        self._operations = operations
        #: The operation's id.
        self.operation = operation

    def progress(self, progress: dict[str, Any]) -> None:
        """The operation's progress so far (replaces the previous)."""
        self._operations.set_progress(self.operation, progress)

    def target(self, target: str) -> None:
        """What the operation turned out to act on (e.g. the id of the container it made)."""
        self._operations.set_target(self.operation, target)


def problem_of(err: BaseException) -> ProblemError:
    """The problem an engine call's failure is answered with."""
    if isinstance(err, ProblemError):
        return err
    if isinstance(err, EngineUnavailable):
        return ProblemError(503, str(err))
    if isinstance(err, EngineAPIError):
        if err.status >= 500 and _port_taken(err.message):
            return ProblemError(409, err.message)  # Docker answers a bound port with 500
        return ProblemError(err.status if 400 <= err.status < 500 else 502, err.message)
    return ProblemError(500, "the action failed inside dockstate (see its log)")


def _port_taken(message: str) -> bool:
    return "port is already allocated" in message or "address already in use" in message


class Operations:
    """The operations of one server, and who hears of their changes.

    ``listeners`` are called with each :class:`Operation` whose status changed (quick, never
    raising: connections only enqueue a message).
    """

    def __init__(
        self,
        *,
        keep: int = KEEP,
        forget_after: float = FORGET_AFTER,
        quick: float = QUICK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep, self.forget_after, self.quick = keep, forget_after, quick
        self._clock = clock
        self.progress_interval = PROGRESS_INTERVAL
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        #: Operations within their first (quick) second: not listed yet.
        self._starting: dict[str, _Entry] = {}
        self.listeners: list[Callable[[Operation], None]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, operation: str) -> Operation | None:
        """The operation, unless unknown or forgotten."""
        self._forget()
        entry = self._entries.get(operation)
        return entry.view if entry is not None else None

    async def run(
        self, action: str, target: str, call: Awaitable[_T]
    ) -> tuple[Operation, _T | None]:
        """:meth:`run_with` for a call that reports nothing."""
        return await self.run_with(action, target, lambda _: call)

    async def run_with(
        self, action: str, target: str, make: Callable[[Reporter], Awaitable[_T]]
    ) -> tuple[Operation, _T | None]:
        """Start the call ``make(reporter)`` as operation ``action`` on ``target``; wait for
        it at most :attr:`quick` seconds. The call may report its progress and its target
        through ``reporter``.

        Returns:
            The operation (``done``, or ``pending`` while the call runs on) and the call's
            result when it finished in time.

        Raises:
            ProblemError: the call failed within :attr:`quick` seconds (the engine's refusal).
        """
        view = Operation(
            operation=secrets.token_hex(8), action=action, target=target, status="pending"
        )
        entry = _Entry(view)
        self._starting[view.operation] = entry
        try:
            task: asyncio.Task[_T] = asyncio.ensure_future(make(Reporter(self, view.operation)))
            entry.task = task
            done, _ = await asyncio.wait({task}, timeout=self.quick)
        finally:
            del self._starting[view.operation]
        if done:
            err = task.exception()
            if err is not None:
                raise problem_of(err) from None
            self._add(entry)
            self._finish(entry, None, announce=False)
            return entry.view, task.result()
        self._add(entry)
        entry.listed = True
        self._announce_entry(entry)
        task.add_done_callback(lambda t: self._settle(entry, t))
        return entry.view, None

    def _find(self, operation: str) -> _Entry | None:
        return self._starting.get(operation) or self._entries.get(operation)

    def set_progress(self, operation: str, progress: dict[str, Any]) -> None:
        """Keep ``progress`` as the running operation's progress and announce it, at most once
        per :attr:`progress_interval` seconds (a report within that time is announced when it
        ends, the latest one only). Ignored for an unknown or finished operation."""
        entry = self._find(operation)
        if entry is None or entry.finished is not None:
            return
        entry.view = entry.view.model_copy(update={"progress": progress})
        if not entry.listed or entry.timer is not None:
            return  # announced when listed, or by the trailing announcement due
        wait = entry.announced + self.progress_interval - self._clock()
        if wait <= 0:
            self._announce_entry(entry)
        else:
            loop = asyncio.get_running_loop()
            entry.timer = loop.call_later(wait, self._trailing, entry)

    def set_target(self, operation: str, target: str) -> None:
        """Name what the running operation acts on (announced with its next change)."""
        entry = self._find(operation)
        if entry is not None and entry.finished is None:
            entry.view = entry.view.model_copy(update={"target": target})

    def _trailing(self, entry: _Entry) -> None:
        entry.timer = None
        if entry.finished is None:
            self._announce_entry(entry)

    def _announce_entry(self, entry: _Entry) -> None:
        entry.announced = self._clock()
        self._announce(entry.view)

    def _settle(self, entry: _Entry, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self._finish(entry, ProblemError(503, "the server stopped before the engine answered"))
            return
        err = task.exception()
        self._finish(entry, problem_of(err) if err is not None else None)
        if err is not None and not isinstance(
            err, EngineAPIError | EngineUnavailable | ProblemError
        ):
            log.error("operation %s failed: %r", entry.view.operation, err)

    def _finish(
        self, entry: _Entry, problem: ProblemError | None, *, announce: bool = True
    ) -> None:
        view = entry.view
        if problem is None:
            entry.view = view.model_copy(update={"status": "done"})
        else:
            entry.view = view.model_copy(
                update={"status": "failed", "error": problem_body(problem)}
            )
        entry.finished = self._clock()
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        log.info(
            "operation %s: %s %s %s", view.operation, view.action, view.target, entry.view.status
        )
        if announce:
            self._announce(entry.view)

    def _add(self, entry: _Entry) -> None:
        self._forget()
        self._entries[entry.view.operation] = entry
        while len(self._entries) > self.keep:
            oldest = next((k for k, e in self._entries.items() if e.finished is not None), None)
            if oldest is None:
                break  # all pending: they finish on their own
            del self._entries[oldest]

    def _forget(self) -> None:
        now = self._clock()
        for key in [
            k
            for k, e in self._entries.items()
            if e.finished is not None and now - e.finished > self.forget_after
        ]:
            del self._entries[key]

    def _announce(self, view: Operation) -> None:
        for listener in list(self.listeners):
            listener(view)

    async def close(self) -> None:
        """Cancel what still runs (at shutdown)."""
        tasks = [e.task for e in self._entries.values() if e.task and not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
