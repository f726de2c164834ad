"""The watcher's rounds: concurrent re-reads, committed so that an old read never wins.

A *round* re-reads what one coalesced burst of events named (or, for a load, every
container) and commits what it read as one batch. Rounds run concurrently, since an inspect
can wait on the engine (during a stop, dockerd holds the container until its cleanup is done)
and later events must not queue behind it. :class:`Rounds` is their scheduler:

- **numbered as they start**: :meth:`start` (a round running as a task) and :meth:`begin`
  (a round the caller runs inline) hand out increasing numbers;
- **commit if newest**: :meth:`commit` commits a round's operation on an object only if no
  later round has committed that object already;
- **bounded**: at most ``max_event_rounds`` event rounds in flight; :attr:`has_slot` tells
  whether another may start, ``on_free`` is called whenever one ends, and
  :meth:`wait_for_slot` waits for one to end (a load's detail round does not count: it must
  not hold events back);
- :meth:`settle` waits for every round in flight, :meth:`cancel` cancels them and waits;
- **failures end the session**: a round's exception is handed to ``on_error`` (the watcher
  puts it on the session's queue, which ends the session like a broken event stream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from ..state import ChangeBatch, Operation, Remove, kind_of

__all__ = ["MAX_ROUNDS", "Rounds", "key_of"]

#: Rounds of events in flight at once. One may wait on a slow inspect while the next goes on;
#: more would only split a burst into more, smaller batches, each costing a commit.
MAX_ROUNDS = 2


def key_of(op: Operation) -> tuple[str, str]:
    """The object an operation is about: ``(kind, id)``."""
    return (op.kind, op.id) if isinstance(op, Remove) else (kind_of(op.obj), op.obj.key)


class Rounds:
    """Schedules the watcher's rounds (see the module's docstring for the contract).

    Args:
        commit: commits operations (the watcher's own commit, into the state).
        on_error: called with the exception of a round that failed (not when cancelled).
        max_event_rounds: event rounds in flight at once, at most.
        on_free: called (synchronously) whenever an event round ends, so a slot is free.
    """

    def __init__(
        self,
        commit: Callable[[list[Operation]], ChangeBatch | None],
        on_error: Callable[[BaseException], None],
        *,
        max_event_rounds: int = MAX_ROUNDS,
        on_free: Callable[[], None] | None = None,
    ) -> None:
        self._commit = commit
        self._on_free = on_free
        self._on_error = on_error
        self._max_event_rounds = max_event_rounds
        self._tasks: dict[asyncio.Task[None], bool] = {}  # round -> counts as an event round
        self._event_rounds = 0
        self._ended = asyncio.Event()
        self._number = 0
        # The newest round that committed each object, while rounds are in flight (once none
        # is, every later round is newer than all those entries: they are dropped).
        self._committed_by: dict[tuple[str, str], int] = {}

    @property
    def in_flight(self) -> int:
        """Rounds running as tasks now (event rounds and detail rounds)."""
        return len(self._tasks)

    @property
    def has_slot(self) -> bool:
        """Whether another event round may start now."""
        return self._event_rounds < self._max_event_rounds

    @property
    def event_rounds(self) -> int:
        """Event rounds running now."""
        return self._event_rounds

    def begin(self) -> int:
        """Number a round that the caller runs itself (e.g. a load's listing); returns it."""
        self._number += 1
        return self._number

    def start(
        self,
        work: Callable[[int], Awaitable[None]],
        *,
        first: Iterable[Operation] = (),
        event: bool = True,
    ) -> int:
        """Start a round: number it, commit ``first`` at once (what the events say before any
        read, e.g. a ``die``'s exit code), then run ``work(number)`` as a task.

        Args:
            work: the round's reads; it commits them with :meth:`commit` and its number.
            first: operations committed as this round before ``work`` starts.
            event: an event round (counts against the limit), or not (a load's details).

        Returns:
            The round's number.
        """
        number = self.begin()
        task = asyncio.create_task(self._run(work, number))
        self._tasks[task] = event
        if event:
            self._event_rounds += 1
        task.add_done_callback(self._done)
        self.commit(first, number)
        return number

    async def _run(self, work: Callable[[int], Awaitable[None]], number: int) -> None:
        await work(number)

    def _done(self, task: asyncio.Task[None]) -> None:
        freed = self._tasks.pop(task)
        if freed:
            self._event_rounds -= 1
        self._ended.set()
        if not self._tasks:
            self._committed_by.clear()
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            self._on_error(error)
        elif freed and self._on_free is not None:
            self._on_free()

    def commit(self, ops: Iterable[Operation], number: int) -> ChangeBatch | None:
        """Commit round ``number``'s operations on the objects no later round has committed.

        Returns:
            The committed batch, or ``None`` when nothing changed.
        """
        newer = self._committed_by
        fresh = [op for op in ops if newer.get(key_of(op), 0) <= number]
        if self._tasks:  # with no round in flight, every later round is newer anyway
            for op in fresh:
                newer[key_of(op)] = number
        return self._commit(fresh)

    async def wait_for_slot(self) -> None:
        """Return once fewer than ``max_event_rounds`` event rounds are in flight."""
        while self._event_rounds >= self._max_event_rounds:
            self._ended.clear()
            await self._ended.wait()

    async def settle(self) -> None:
        """Wait for every round in flight to end (their errors go to ``on_error``)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel every round in flight and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
