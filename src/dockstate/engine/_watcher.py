"""The watcher: the state's one writer, fed by Docker's event stream and nothing else.

A session of the watcher, from connect to disconnect::

    ping, negotiate -> open /events (since: just before now, or the last event seen)
                    -> full load (list + inspect, diffed into the state), status connected
                    -> loop: events -> coalesce -> re-read what they name -> apply
                             every reconcile_interval: relist, inspect what differs, apply

An event is only a hint that an object changed: the watcher re-reads the object (404 means
removed) and lets the state diff it, so duplicated, reordered or partly lost events cannot
corrupt the state. Events are read before the first listing, so nothing falls between the two.

Rounds (the re-reads of one coalesced burst of events) run concurrently: an inspect can wait
on the engine for a while (during a stop, dockerd holds the container until it is cleaned
up), and the next events must not queue behind it. Each round is numbered when it starts, and
an object's read is committed only if no later round has committed that object already, so
an old read never overwrites a newer one. The ``die`` of a container without a restart
policy is shown at once from the event's exit code; the inspect of the same round confirms
it and brings the details.
When the stream ends or the engine stops answering, the status turns ``disconnected`` and the
watcher reconnects with backoff, resumes the stream and relists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import EngineAPIError, EngineError, EngineUnavailable
from ..state import (
    Cause,
    ChangeBatch,
    Container,
    EngineState,
    EngineStatus,
    Entity,
    Operation,
    Remove,
    Upsert,
    kind_of,
)
from ._client import DockerClient
from ._convert import (
    container_from_inspect,
    container_from_list,
    container_summary,
    engine_info_from,
    image_from_list,
    list_item_summary,
    network_from_api,
    restarts_by_itself,
    volume_from_api,
    with_exit,
)
from ._events import (
    RELISTS,
    DockerEvent,
    EventDeduper,
    Target,
    TargetKind,
    format_since,
    targets_of,
)

__all__ = ["Watcher", "WatcherStats"]

log = logging.getLogger("dockstate.engine")

_T = TypeVar("_T")
_A = TypeVar("_A")
_END = object()  # the event stream ended
#: Rounds of events in flight at once. One may wait on a slow inspect while the next goes on;
#: more would only split a burst into more, smaller batches, each costing a commit.
MAX_ROUNDS = 2
#: Inspects at once for the details a load fills in, apart from those of the events (which
#: must never queue behind a thousand of them).
DETAIL_CONCURRENCY = 2


@dataclass
class WatcherStats:
    """Counters of what the watcher has done since it started."""

    events_received: int = 0
    events_ignored: int = 0
    events_duplicate: int = 0
    batches: int = 0
    loads: int = 0
    reconciliations: int = 0
    repairs: int = 0
    disconnects: int = 0
    fetch_errors: int = 0


class Watcher:
    """Keeps ``state`` equal to the engine behind ``docker``.

    Args:
        state: the state to write; the watcher must be its only writer.
        docker: the engine's client.
        reconcile_interval: seconds between two reconciliations (full relist and diff).
        coalesce_window: after a first event, wait this long (seconds) for more before
            re-reading, so that a burst of events on one object costs one inspect.
        concurrency: how many inspect calls may run at once (4 measured fastest on a
            2-core machine: more only queue up inside dockerd).
        backoff_initial, backoff_max: reconnection delays (seconds, doubled per failed try,
            with jitter).
        on_events: called with the new events of each round (repeats dropped), before the
            objects they name are re-read; e.g. to keep a timeline. Must not raise.
        events_since: the ``timeNano`` to resume the engine's event stream from on the first
            connection (e.g. the last event a previous run saw), instead of one second back.
    """

    def __init__(
        self,
        state: EngineState,
        docker: DockerClient,
        *,
        reconcile_interval: float = 60.0,
        coalesce_window: float = 0.005,
        concurrency: int = 4,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        on_events: Callable[[Sequence[DockerEvent]], None] | None = None,
        events_since: int | None = None,
    ) -> None:
        self.state = state
        self.docker = docker
        self.reconcile_interval = reconcile_interval
        self.coalesce_window = coalesce_window
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stats = WatcherStats()
        self.connected = asyncio.Event()
        self._limit = asyncio.Semaphore(concurrency)
        self._detail_limit = asyncio.Semaphore(DETAIL_CONCURRENCY)
        self._dedupe = EventDeduper()
        self._on_events = on_events
        self._rounds: set[asyncio.Task[None]] = set()
        self._event_rounds = 0  # of the rounds, those for events (not a load's details)
        self._round_ended = asyncio.Event()
        self._round = 0
        # The newest round that committed each object, while rounds are in flight.
        self._committed_by: dict[tuple[str, str], int] = {}
        self._restarting_kind: set[str] = set()  # containers with a restart policy
        self._last_event_nano: int | None = events_since
        self._version_info: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, *, fail_fast: bool = False) -> None:
        """Watch until cancelled, reconnecting whenever the engine goes away.

        Args:
            fail_fast: raise the ``EngineError`` (usually ``EngineUnavailable``) if the very
                first connection fails, instead of retrying.
        """
        failures = 0
        while True:
            try:
                await self._session()
                error = "the engine closed its event stream"
            except EngineError as err:
                if fail_fast and self.stats.loads == 0:
                    raise
                error = str(err)
            except Exception as err:
                # A bug of ours must not stop the watching: start over with a full relist.
                if fail_fast and self.stats.loads == 0:
                    raise
                log.exception("the watcher failed; reconnecting and relisting")
                error = f"internal error: {err!r}"
            if self.connected.is_set():
                failures = 0
                self.stats.disconnects += 1
                log.warning("disconnected from the Docker engine: %s", error)
            self.connected.clear()
            self._set_status("disconnected", error)
            delay = min(self.backoff_max, self.backoff_initial * 2**failures)
            failures += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _session(self) -> None:
        engine_clock = await self.docker.ping()
        self._version_info = await self.docker.negotiate()
        since: str | None = None
        if self._last_event_nano is not None:
            since = format_since(self._last_event_nano)
        else:
            # A second back: the engine replays what happened while the stream was being
            # opened, so nothing falls between the stream and the listing below.
            if engine_clock:
                since = str(int(engine_clock) - 1)
        async with self.docker.events(since) as events:
            if self.stats.loads or self.state.version:  # not a first load, or a restored state
                self._set_status("resyncing", None)
            queue: asyncio.Queue[object] = asyncio.Queue()
            await self.load(queue)
            self.connected.set()
            log.info("connected to the Docker engine at %s", self.docker.host)
            reader = asyncio.create_task(_pump(events, queue))
            try:
                await self._process(queue)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                await self._cancel_rounds()

    def _set_status(self, status: EngineStatus, error: str | None) -> None:
        info = self.state.engine_info
        self._commit([Upsert(info.model_copy(update={"status": status, "last_error": error}))])

    def _commit(self, ops: Iterable[Operation]) -> ChangeBatch | None:
        batch = self.state.apply(ops)
        if batch is not None:
            self.stats.batches += 1
            for change in batch.changes:
                if change.op == "removed" and change.kind == "container":
                    self._restarting_kind.discard(change.id)
        return batch

    # -- full load and reconciliation ------------------------------------------------------

    async def load_once(self) -> ChangeBatch | None:
        """Read the whole engine once, without following its events (a one-shot snapshot)."""
        await self.docker.ping()
        self._version_info = await self.docker.negotiate()
        return await self.load()

    async def load(self, queue: asyncio.Queue[object] | None = None) -> ChangeBatch | None:
        """Relist everything and commit it at once, containers as their listing shows them;
        then inspect every container for what only an inspect tells (``started_at``...).

        Within a session (``queue`` given) the inspects are a round of their own, running
        while events are processed, so the state is whole after one listing of each kind
        (about what ``docker ps -a`` costs); otherwise they are done before returning.

        Returns:
            The batch of the listing.
        """
        cause = Cause("reconcile", "load")
        info, listed, *relists = await asyncio.gather(
            self.docker.info(),
            self.docker.list_containers(),
            *(self._relist(kind, cause) for kind in ("images", "volumes", "networks")),
        )
        held = self.state.containers
        ops: list[Operation] = [
            Upsert(container_from_list(item, held.get(item["Id"])), cause)
            for item in listed
            # A container known before (a reconnection, a restored state) whose listing says
            # nothing new keeps what its last inspect told until the next one.
            if item["Id"] not in held
            or list_item_summary(item) != container_summary(held[item["Id"]])
        ]
        ids = [item["Id"] for item in listed]
        present = set(ids)
        ops += [Remove("container", cid, cause) for cid in held if cid not in present]
        engine_info = engine_info_from(
            info, self._version_info, host=self.docker.host, status="connected"
        )
        self.stats.loads += 1
        self._round += 1
        batch = self._commit_round(
            [*ops, *(op for ops in relists for op in ops), Upsert(engine_info, cause)], self._round
        )
        details: dict[Target, Cause] = {("container", cid): cause for cid in ids}
        if queue is not None:
            self._start_round(details, {}, queue, details=True)
        else:
            await self._refresh(details, self._round, self._limit)
        return batch

    async def reconcile(self) -> int:
        """Relist, inspect only the containers whose listing differs, commit the repairs.

        Returns:
            How many objects were repaired (changes the event stream had not delivered).
        """
        cause = Cause("reconcile", "periodic")
        relists = await asyncio.gather(*(self._relist(kind, cause) for kind in RELISTS))
        batch = self._commit(op for ops in relists for op in ops)
        repairs = sum(1 for c in batch.changes if c.cause == cause) if batch else 0
        self.stats.reconciliations += 1
        self.stats.repairs += repairs
        if repairs:
            log.warning("reconciliation repaired %d object(s) the event stream missed", repairs)
        return repairs

    async def _relist(self, kind: TargetKind, cause: Cause) -> list[Operation]:
        """Operations that bring a whole kind in line with a fresh listing of it.

        Containers are listed, then those the state lacks or whose listing differs are
        inspected (the listing lacks some fields).
        """
        docker, state = self.docker, self.state
        if kind == "images":
            return state.plan_sync("image", map(image_from_list, await docker.list_images()), cause)
        if kind == "volumes":
            volumes = await docker.list_volumes()
            return state.plan_sync("volume", map(volume_from_api, volumes), cause)
        if kind == "networks":
            networks = await docker.list_networks()
            return state.plan_sync("network", map(network_from_api, networks), cause)
        listed = await docker.list_containers()
        held = state.containers
        stale = [
            c["Id"]
            for c in listed
            if c["Id"] not in held or list_item_summary(c) != container_summary(held[c["Id"]])
        ]
        inspected = await self._gather(docker.inspect_container, stale)
        ops: list[Operation] = [
            Upsert(self._container(d), cause) if d else Remove("container", cid, cause)
            for cid, d in zip(stale, inspected, strict=True)
        ]
        listed_ids = {c["Id"] for c in listed}
        ops += [Remove("container", cid, cause) for cid in held if cid not in listed_ids]
        return ops

    # -- the event loop --------------------------------------------------------------------

    async def _process(self, queue: asyncio.Queue[object]) -> None:
        loop = asyncio.get_running_loop()
        next_reconcile = loop.time() + self.reconcile_interval
        while True:
            try:
                first = await asyncio.wait_for(queue.get(), max(0.0, next_reconcile - loop.time()))
            except TimeoutError:
                await self._settle()  # a relist must not race the rounds still reading
                await self.reconcile()
                next_reconcile = loop.time() + self.reconcile_interval
                continue
            if self.coalesce_window > 0:
                await asyncio.sleep(self.coalesce_window)
            while self._event_rounds >= MAX_ROUNDS:  # events queue meanwhile and join this one
                self._round_ended.clear()
                await self._round_ended.wait()
            items = [first]
            while not queue.empty():
                items.append(queue.get_nowait())
            dirty: dict[Target, Cause] = {}
            died: dict[str, DockerEvent] = {}
            fresh: list[DockerEvent] = []
            end: object = None
            for item in items:
                if item is _END or isinstance(item, BaseException):
                    end = item
                    break
                assert isinstance(item, dict)
                event = DockerEvent.from_json(item)
                if self._note(event, dirty):
                    fresh.append(event)
                    if event.type == "container" and event.action == "die":
                        died[event.actor_id] = event
            if fresh and self._on_events is not None:
                self._on_events(fresh)
            if dirty:
                self._start_round(dirty, died, queue)
            if isinstance(end, BaseException):
                raise end
            if end is _END:
                await self._settle()
                return

    def _note(self, event: DockerEvent, dirty: dict[Target, Cause]) -> bool:
        """Mark what ``event`` asks to re-read; ``False`` when it is a repeat."""
        self.stats.events_received += 1
        if self._last_event_nano is None or event.time_nano > self._last_event_nano:
            self._last_event_nano = event.time_nano
        if not self._dedupe.is_new(event):
            self.stats.events_duplicate += 1
            return False
        targets = targets_of(event)
        if not targets:
            self.stats.events_ignored += 1
        for target in targets:
            dirty[target] = event.cause
        return True

    def _start_round(
        self,
        dirty: dict[Target, Cause],
        died: dict[str, DockerEvent],
        queue: asyncio.Queue[object],
        *,
        details: bool = False,
    ) -> None:
        self._round += 1
        self._commit_round(self._exits(died), self._round)
        limit = self._detail_limit if details else self._limit
        task = asyncio.create_task(self._refresh(dirty, self._round, limit))
        self._rounds.add(task)
        if not details:
            self._event_rounds += 1

        def done(task: asyncio.Task[None]) -> None:
            self._rounds.discard(task)
            if not details:
                self._event_rounds -= 1
            self._round_ended.set()
            if not self._rounds:
                self._committed_by.clear()  # every later round is newer than all of these
            if not task.cancelled() and task.exception() is not None:
                queue.put_nowait(task.exception())  # ends the session, like a stream error

        task.add_done_callback(done)

    async def _settle(self) -> None:
        """Wait for the rounds in flight."""
        if self._rounds:
            await asyncio.gather(*self._rounds, return_exceptions=True)

    async def _cancel_rounds(self) -> None:
        rounds = list(self._rounds)
        for task in rounds:
            task.cancel()
        await asyncio.gather(*rounds, return_exceptions=True)

    def _commit_round(self, ops: Iterable[Operation], round_: int) -> ChangeBatch | None:
        """Commit the operations of round ``round_`` on objects no later round has committed."""
        newer = self._committed_by
        fresh = [op for op in ops if newer.get(_key(op), 0) <= round_]
        for op in fresh:
            newer[_key(op)] = round_
        return self._commit(fresh)

    def _exits(self, died: dict[str, DockerEvent]) -> list[Operation]:
        """What the ``die`` events say at once of containers that will not restart."""
        held = self.state.containers
        return [
            Upsert(with_exit(held[cid], int(event.attributes.get("exitCode") or 0)), event.cause)
            for cid, event in died.items()
            if cid in held and cid not in self._restarting_kind
        ]

    async def _refresh(
        self, dirty: dict[Target, Cause], round_: int, limit: asyncio.Semaphore
    ) -> None:
        """Re-read every dirty target at once (``limit`` at a time) and commit what changed
        as one batch."""
        reads = await asyncio.gather(
            *(self._read(target, cause, limit) for target, cause in dirty.items())
        )
        # A relist and a single read may name the same object (a prune and the destroy events
        # of what it pruned): the single read, an inspect, wins.
        ops: dict[tuple[str, str], Operation] = {}
        for (kind, _), read in sorted(
            zip(dirty, reads, strict=True), key=lambda r: r[0][0] in RELISTS
        ):
            for op in read:
                key = _key(op)
                if kind not in RELISTS or key not in ops:
                    ops[key] = op
        self._commit_round(ops.values(), round_)

    def _container(self, data: dict[str, Any]) -> Container:
        """A container from its inspect data, noting whether it may restart by itself."""
        if restarts_by_itself(data):
            self._restarting_kind.add(data["Id"])
        else:
            self._restarting_kind.discard(data["Id"])
        return container_from_inspect(data)

    async def _read(
        self, target: Target, cause: Cause, limit: asyncio.Semaphore
    ) -> list[Operation]:
        """Operations for one target after re-reading it (404: removed)."""
        kind, key = target
        docker = self.docker
        obj: Entity | None
        try:
            if kind in RELISTS:
                return await self._relist(kind, cause)
            async with limit:
                if kind == "container":
                    data = await docker.inspect_container(key)
                    obj = self._container(data) if data else None
                elif kind == "volume":
                    data = await docker.inspect_volume(key)
                    obj = volume_from_api(data) if data else None
                elif kind == "network":
                    data = await docker.inspect_network(key)
                    obj = network_from_api(data) if data else None
                else:
                    info, status = await docker.info(), self.state.engine_info.status
                    obj = engine_info_from(
                        info, self._version_info, host=docker.host, status=status
                    )
        except EngineAPIError as err:
            # One object the engine fails to describe must not stop the others; the next
            # event or reconciliation reads it again.
            self.stats.fetch_errors += 1
            log.warning("could not read %s %s: %s", kind, key, err)
            return []
        if obj is not None:
            return [Upsert(obj, cause)]
        return [Remove(kind, key, cause)]  # type: ignore[arg-type]  # a singular kind here

    async def _gather(self, read: Callable[[_A], Awaitable[_T]], args: list[_A]) -> list[_T]:
        """``read`` each of ``args``, at most ``concurrency`` at a time; results in order."""

        async def limited(arg: _A) -> _T:
            async with self._limit:
                return await read(arg)

        return await asyncio.gather(*(limited(a) for a in args))


def _key(op: Operation) -> tuple[str, str]:
    return (op.kind, op.id) if isinstance(op, Remove) else (kind_of(op.obj), op.obj.key)


async def _pump(events: Any, queue: asyncio.Queue[object]) -> None:
    """Move raw events into ``queue``; then ``_END``, or the error that broke the stream."""
    try:
        async for event in events:
            queue.put_nowait(event)
        queue.put_nowait(_END)
    except Exception as err:
        # Whatever broke the stream ends the session; the watcher reconnects and relists.
        queue.put_nowait(
            err
            if isinstance(err, EngineUnavailable)
            else EngineUnavailable(f"event stream failed: {err!r}")
        )
