"""The watcher: the state's one writer, fed by Docker's event stream and nothing else.

A session of the watcher, from connect to disconnect::

    ping, negotiate -> open /events (since: just before now, or the last event seen)
                    -> load: every listing committed at once, status connected, and a
                       detail round inspecting every container in the background
                    -> loop: events -> coalesce -> a round re-reads what they name -> apply
                             every reconcile_interval: relist, inspect what differs, apply

An event is only a hint that an object changed: the watcher re-reads the object (404 means
removed) and lets the state diff it, so duplicated, reordered or partly lost events cannot
corrupt the state. Events are read before the first listing, so nothing falls between the two.

Rounds (the re-reads of one coalesced burst of events) run concurrently, scheduled by
:class:`~dockstate.engine._rounds.Rounds`: numbered as they start, and an object's read is
committed only if no later round has committed that object already, so an old read never
overwrites a newer one. The ``die`` of a container that an inspect has shown to have no
restart policy is shown at once from the event's exit code; the inspect of the same round
confirms it and brings the details. Any other ``die`` (a restart policy, or a container no
inspect has reached yet, e.g. right after a load's listing) waits for its inspect: the engine
may have it ``restarting``.

Events wait in a queue of at most ``max_backlog`` (10 000); when the watcher falls that far
behind, the backlog is dropped and the session ends with :class:`EventBacklogFull`, so that
the watcher reconnects, resumes the stream after the last event it handled and relists:
nothing is lost silently. When the stream ends or the engine stops answering, the status
turns ``disconnected`` and the watcher reconnects with backoff, resumes the stream and
relists.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..backoff import Backoff
from ..errors import EngineAPIError, EngineError, EngineUnavailable
from ..state import (
    OBJECT_KINDS,
    Cause,
    ChangeBatch,
    Container,
    EngineState,
    EngineStatus,
    Entity,
    Network,
    ObjectKind,
    Operation,
    Remove,
    Upsert,
)
from ._client import DockerClient
from ._convert import (
    container_after_event,
    container_from_create,
    container_from_inspect,
    container_from_list,
    container_summary,
    engine_info_from,
    image_from_list,
    list_item_summary,
    nanos,
    network_from_api,
    restarts_by_itself,
    volume_from_api,
    with_exit,
)
from ._events import (
    DockerEvent,
    EventDeduper,
    Read,
    Relist,
    Target,
    format_since,
    targets_of,
)
from ._rounds import Rounds, key_of

__all__ = ["MAX_BACKLOG", "EventBacklogFull", "Watcher", "WatcherStats"]

log = logging.getLogger("dockstate.engine")

#: Seconds a reconciliation gives the event stream after its listing, to read the events of
#: what changed meanwhile (the engine sends them as it acts, so they are already on their way).
EVENT_GRACE = 0.1
#: Fields the state derives (which containers use an object; whether an image dangles).
_DERIVED = ("containers", "dangling", "used_by")

_T = TypeVar("_T")
_A = TypeVar("_A")
_END = object()  # the event stream ended
#: Events waiting to be handled, at most (see :class:`EventBacklogFull`).
MAX_BACKLOG = 10_000
#: Removed containers remembered (to know a replayed ``create`` of one of them).
_REMOVED_KEPT = 4096
#: Inspects at once for the details a load fills in, apart from those of the events (which
#: must never queue behind a thousand of them).
DETAIL_CONCURRENCY = 2


class EventBacklogFull(EngineUnavailable):
    """The watcher fell ``max_backlog`` events behind the engine's stream.

    The pump drops the backlog and stops reading; the session ends with this error, and the
    watcher reconnects, resumes the stream after the last event it handled (the engine
    replays what it still holds) and relists everything, so the state converges again.
    """


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
    #: Objects a reconciliation found different but left to an event in flight about them.
    reconcile_skipped: int = 0
    disconnects: int = 0
    fetch_errors: int = 0
    backlog_overflows: int = 0


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
            with jitter: :class:`~dockstate.backoff.Backoff`).
        on_events: called with the new events of each round (repeats dropped), before the
            objects they name are re-read; e.g. to keep a timeline. Must not raise.
        events_since: the ``timeNano`` to resume the engine's event stream from on the first
            connection (e.g. the last event a previous run saw), instead of one second back.
        max_backlog: events waiting to be handled, at most; one more drops them all and
            ends the session with :class:`EventBacklogFull` (reconnect, resume, relist).
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
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self.state = state
        self.docker = docker
        self.reconcile_interval = reconcile_interval
        self.coalesce_window = coalesce_window
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_backlog = max_backlog
        self.stats = WatcherStats()
        self.connected = asyncio.Event()
        self._limit = asyncio.Semaphore(concurrency)
        self._detail_limit = asyncio.Semaphore(DETAIL_CONCURRENCY)
        self._dedupe = EventDeduper()
        self._on_events = on_events
        # The session's queue of raw events, and of what ends the session (set per session).
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._rounds = Rounds(self._commit, self._end_session, on_free=self._dispatch)
        # What the events handled ask to re-read, waiting for a round (see _dispatch), and
        # the arrival numbers of the last event noted in it and of the last one dispatched.
        self._dirty: dict[Target, Cause] = {}
        self._noted_through = 0
        self._dispatched = 0
        # Containers removed lately: a replayed ``create`` of one of these tells nothing.
        self._removed: dict[str, None] = {}
        # Containers whose last inspect showed no restart policy: a ``die`` of one of these
        # alone is shown at once. The listing does not tell the policy, so a container only
        # listed so far is not in here (its ``die`` waits for its inspect).
        self._wont_restart: set[str] = set()
        # Raw events arrived (counted as they arrive, before they are handled), and the
        # arrival number of the last one naming each id, name or kind (``kind:<type>``).
        self._arrivals = 0
        self._arrived_at: dict[str, int] = {}
        self._handled = 0  # of the arrived events, how many were taken from the queue
        self._reconciling: asyncio.Task[None] | None = None
        self._last_event_nano: int | None = events_since
        self._version_info: dict[str, Any] = {}
        # Network names containers gave that the last relist of networks did not find.
        self._unlisted_networks: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, *, fail_fast: bool = False) -> None:
        """Watch until cancelled, reconnecting whenever the engine goes away.

        Args:
            fail_fast: raise the ``EngineError`` (usually ``EngineUnavailable``) if the very
                first connection fails, instead of retrying.
        """
        backoff = Backoff(self.backoff_initial, self.backoff_max)
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
                backoff.reset()
                self.stats.disconnects += 1
                log.warning("disconnected from the Docker engine: %s", error)
            self.connected.clear()
            self._set_status("disconnected", error)
            await asyncio.sleep(backoff.delay())

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
            self._queue = queue
            await self._load_listed()
            self.connected.set()
            log.info("connected to the Docker engine at %s", self.docker.host)
            self._handled = self._arrivals  # a new queue: what older ones held is gone
            self._dirty.clear()  # the load's listing is newer than what older events named
            self._noted_through = self._dispatched = self._handled
            reader = asyncio.create_task(self._pump(events, queue))
            try:
                await self._process(queue)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                if self._reconciling is not None:
                    self._reconciling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._reconciling
                    self._reconciling = None
                await self._rounds.cancel()

    def _end_session(self, error: BaseException) -> None:
        """End the session with ``error`` (a round failed), as a broken stream would."""
        self._queue.put_nowait(error)

    def _set_status(self, status: EngineStatus, error: str | None) -> None:
        info = self.state.engine_info
        self._commit([Upsert(info.model_copy(update={"status": status, "last_error": error}))])

    def _commit(self, ops: Iterable[Operation]) -> ChangeBatch | None:
        batch = self.state.apply(ops)
        if batch is not None:
            self.stats.batches += 1
            for change in batch.changes:
                if change.op == "removed" and change.kind == "container":
                    self._wont_restart.discard(change.id)
        return batch

    # -- full load and reconciliation ------------------------------------------------------

    async def load_once(self, *, detail: bool = True) -> ChangeBatch | None:
        """Read the whole engine once, without following its events (a one-shot snapshot).

        Args:
            detail: also inspect every container for what only an inspect tells
                (``started_at``, ``finished_at``, ``restart_count``, network aliases): one
                call per container. Without it the state is as the listings show it (about
                what ``docker ps -a`` costs).

        Returns:
            The batch of the listing.
        """
        await self.docker.ping()
        self._version_info = await self.docker.negotiate()
        if not detail:
            batch, _, _ = await self._commit_listings()
            return batch
        return await self._load_inspected()

    async def _load_inspected(self) -> ChangeBatch | None:
        """The one-shot load: commit every listing, then inspect every container (for what
        only an inspect tells: ``started_at``...) and commit that too, before returning.

        Returns:
            The batch of the listing.
        """
        batch, details, number = await self._commit_listings()
        await self._refresh(details, number, self._limit)
        return batch

    async def _load_listed(self) -> ChangeBatch | None:
        """The session's load: commit every listing at once, so the state is whole after one
        listing of each kind (about what ``docker ps -a`` costs), and start a detail round
        that inspects every container in the background while events are processed.

        Returns:
            The batch of the listing.
        """
        batch, details, _ = await self._commit_listings()
        self._rounds.start(
            functools.partial(self._refresh, details, limit=self._detail_limit), event=False
        )
        return batch

    async def _commit_listings(self) -> tuple[ChangeBatch | None, dict[Target, Cause], int]:
        """List every kind and commit it as one round, containers as their listing shows them.

        Returns:
            The batch, the inspects that would complete it (every container listed), and the
            round's number.
        """
        cause = Cause("reconcile", "load")
        info, listed, *relists = await asyncio.gather(
            self.docker.info(),
            self.docker.list_containers(),
            *(self._relist(kind, cause) for kind in OBJECT_KINDS if kind != "container"),
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
        number = self._rounds.begin()
        batch = self._rounds.commit(
            [*ops, *(op for ops in relists for op in ops), Upsert(engine_info, cause)], number
        )
        details: dict[Target, Cause] = {Read("container", cid): cause for cid in ids}
        return batch, details, number

    async def reconcile(self, since: int | None = None) -> int:
        """Relist, inspect only the containers whose listing differs, commit the repairs.

        Honest: an object that an event named after arrival number ``since`` (default: now,
        before the listing is requested) is left to that event, whose own re-read is newer
        than this listing: it is neither committed (an older listing must never undo a newer
        event) nor counted as a repair, but counted in ``stats.reconcile_skipped``. So a
        repair is counted, and logged, only when the engine's listing disagrees with the
        state and no event about that object is in flight: a change the stream really lost.

        Returns:
            How many objects were repaired.
        """
        if since is None:
            since = self._read_through
        cause = Cause("reconcile", "periodic")
        relists = await asyncio.gather(
            *(self._relist(kind, cause, in_flight_since=since) for kind in OBJECT_KINDS)
        )
        # The events of what changed while the engine listed may still be in the socket's
        # buffer, unread (or, on an engine whose stream runs late, not even sent: Podman's):
        # let the event stream catch up before telling them from losses.
        await asyncio.sleep(EVENT_GRACE + self.docker.dialect.event_delay)
        ops: list[Operation] = []
        for op in (op for found in relists for op in found):
            if self._in_flight(op, since):
                if self._differs(op):
                    self.stats.reconcile_skipped += 1
            else:
                ops.append(op)
        batch = self._commit(ops)
        repairs = sum(1 for c in batch.changes if c.cause == cause) if batch else 0
        self.stats.reconciliations += 1
        self.stats.repairs += repairs
        # What the events since then named is theirs now: forget it.
        self._arrived_at = {k: v for k, v in self._arrived_at.items() if v > since}
        if repairs:
            log.warning(
                "reconciliation repaired %d object(s) the event stream missed: %s",
                repairs,
                ", ".join(
                    f"{c.kind} {c.id[:12]} {c.op}"
                    for c in (batch.changes if batch else ())
                    if c.cause == cause
                )[:500],
            )
        return repairs

    async def _reconcile_after(self, since: int) -> None:
        """A periodic reconciliation, run beside the event rounds: once the rounds of the
        events handled so far have committed, relist; a failure ends the session as a round's
        does."""
        try:
            await self._rounds.settle()  # the rounds started before: the listing is newer
            await self.reconcile(since)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._end_session(err)

    def _differs(self, op: Operation) -> bool:
        """Whether ``op`` would change the state (ignoring revs and derived fields)."""
        kind, key = key_of(op)
        held = self.state.get(kind, key)  # type: ignore[arg-type]
        if isinstance(op, Remove):
            return held is not None
        if held is None:
            return True
        # The state derives these itself: what a listing says of them is no difference.
        same = {f: getattr(held, f) for f in ("rev", *_DERIVED) if hasattr(held, f)}
        return op.obj.model_copy(update=same) != held

    async def _relist(
        self, kind: ObjectKind, cause: Cause, *, in_flight_since: int | None = None
    ) -> list[Operation]:
        """Operations that bring a whole kind in line with a fresh listing of it.

        Containers are listed, then those the state lacks or whose listing differs are
        inspected (the listing lacks some fields), but for those an event named after
        arrival number ``in_flight_since`` (a reconciliation leaves them to their events and
        spends no inspect on them: counted in ``stats.reconcile_skipped``).
        """
        docker, state = self.docker, self.state
        if kind == "image":
            return state.plan_sync("image", map(image_from_list, await docker.list_images()), cause)
        if kind == "volume":
            volumes = await docker.list_volumes()
            return state.plan_sync("volume", map(volume_from_api, volumes), cause)
        if kind == "network":
            networks = [network_from_api(n) for n in await docker.list_networks()]
            self._unlisted_networks -= {n.name for n in networks}
            return state.plan_sync("network", networks, cause)
        listed = await docker.list_containers()
        held = state.containers
        stale = [
            c["Id"]
            for c in listed
            if c["Id"] not in held or list_item_summary(c) != container_summary(held[c["Id"]])
        ]
        if in_flight_since is not None:
            named = self._arrived_at
            flying = {
                c["Id"]
                for c in listed
                if c["Id"] in stale
                and any(
                    named.get(n.lstrip("/"), 0) > in_flight_since
                    for n in [c["Id"], *c.get("Names", [])]
                )
            }
            self.stats.reconcile_skipped += len(flying)
            stale = [cid for cid in stale if cid not in flying]
        # A reconciliation's inspects take the load's detail slots, never the events' own.
        limit = self._detail_limit if in_flight_since is not None else self._limit
        inspected = await self._gather(docker.inspect_container, stale, limit)
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
                async with asyncio.timeout(max(0.0, next_reconcile - loop.time())):
                    first = await queue.get()
            except TimeoutError:
                # Every event after the last one handled is in flight: those that arrive from
                # now on, and any that arrived as the wait timed out, still in the queue.
                since = self._read_through
                if self._reconciling is None or self._reconciling.done():
                    # Beside the events, never in their way: what it finds of an object an
                    # event named since is left to that event (see reconcile).
                    self._reconciling = asyncio.create_task(self._reconcile_after(since))
                next_reconcile = loop.time() + self.reconcile_interval
                continue
            if self.coalesce_window > 0:
                await asyncio.sleep(self.coalesce_window)
            items = [first]
            while not queue.empty():
                items.append(queue.get_nowait())
            fresh: list[DockerEvent] = []
            end: object = None
            for item in items:
                if item is _END or isinstance(item, BaseException):
                    end = item
                    break
                assert isinstance(item, dict)
                self._handled += 1
                event = DockerEvent.from_json(item)
                if self._note(event, self._dirty):
                    fresh.append(event)
            self._noted_through = self._handled
            if fresh and self._on_events is not None:
                self._on_events(fresh)
            # What the events themselves say is committed now, never behind a read; their
            # reads start as soon as a round is free (the events that come meanwhile join
            # them).
            self._commit_told(fresh)
            self._dispatch()
            if isinstance(end, BaseException):
                raise end
            if end is _END:
                while self._dirty:
                    await self._rounds.wait_for_slot()
                    self._dispatch()
                await self._rounds.settle()
                return

    def _dispatch(self) -> None:
        """Start a round re-reading every dirty target, if a round is free (else the end of
        one calls this again)."""
        if not self._dirty or not self._rounds.has_slot:
            return
        dirty, self._dirty = self._dirty, {}
        self._rounds.start(functools.partial(self._refresh, dirty, limit=self._limit))
        self._dispatched = self._noted_through

    @property
    def _read_through(self) -> int:
        """The arrival number up to which every event's read has started (the events after it
        have a read pending, or are still in the queue)."""
        return self._dispatched if self._dirty else self._handled

    def _commit_told(self, events: list[DockerEvent]) -> None:
        """Commit at once what ``events`` (in order) tell of containers by themselves: a
        ``create`` (name, image, labels), a ``start``, ``die``, ``pause``, ``unpause`` or
        ``rename``, a ``destroy``; as a round of its own, newer than every round in flight.
        An event older than what the state already shows of a container (an inspect that
        ran after it) changes nothing. The reads the events asked for confirm and complete
        it; a destroyed container is not read again (a destroy is final)."""
        told: dict[str, Container | None] = {}
        causes: dict[str, Cause] = {}
        for event in events:
            if event.type != "container" or not event.actor_id:
                continue
            cid = event.actor_id
            held = told[cid] if cid in told else self.state.containers.get(cid)
            new = self._told(event, held)
            if new is not held:
                told[cid], causes[cid] = new, event.cause
        if not told:
            return
        ops: list[Operation] = []
        for cid, obj in told.items():
            if obj is None:
                ops.append(Remove("container", cid, causes[cid]))
                self._dirty.pop(Read("container", cid), None)
                self._removed[cid] = None
                if len(self._removed) > _REMOVED_KEPT:
                    del self._removed[next(iter(self._removed))]
            else:
                ops.append(Upsert(obj, causes[cid]))
        self._rounds.commit(ops, self._rounds.begin())

    def _told(self, event: DockerEvent, held: Container | None) -> Container | None:
        """``held`` as ``event`` alone leaves it (``None``: removed); ``held`` itself when the
        event tells nothing for sure (see :meth:`_commit_told`)."""
        action, attrs, cid = event.action, event.attributes, event.actor_id
        if action == "destroy":
            return None
        if held is None:
            if action == "create" and "name" in attrs and "image" in attrs:
                if cid in self._removed or self.docker.dialect.podman:
                    return held  # a replayed create of a container gone since; Podman's words
                image_id = self._image_id(attrs["image"])
                return container_from_create(cid, attrs, event.time_nano, image_id)
            return held
        # An inspect that ran after the event shows a start or an exit after it: it is newer.
        if max(nanos(held.started_at), nanos(held.finished_at)) > event.time_nano:
            return held
        if action == "die":
            if cid not in self._wont_restart:
                return held  # the engine may have it restarting: its inspect tells
            return with_exit(held, int(attrs.get("exitCode") or 0), event.time_nano)
        if self.docker.dialect.podman:
            return held
        return container_after_event(held, action, attrs, event.time_nano) or held

    def _image_id(self, reference: str) -> str:
        """The id of the image ``reference`` (as a ``create`` event names it) names, or ""."""
        images = self.state.images
        if reference in images:
            return reference
        last = reference.rsplit("/", 1)[-1]
        tag = reference if ":" in last or "@" in last else f"{reference}:latest"
        for image in images.values():
            if tag in image.tags or reference in image.digests:
                return image.id
        return ""

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
        for target, read in sorted(
            zip(dirty, reads, strict=True), key=lambda r: isinstance(r[0], Relist)
        ):
            for op in read:
                key = key_of(op)
                if isinstance(target, Read) or key not in ops:
                    ops[key] = op
        cause = self._names_unlisted_network(ops.values())
        if cause is not None:
            for op in await self._relist("network", cause):
                ops.setdefault(key_of(op), op)
        self._rounds.commit(ops.values(), round_)

    def _names_unlisted_network(self, ops: Iterable[Operation]) -> Cause | None:
        """The cause of a container read that names a network the state does not have (nor
        ``ops``), or None. Podman tells of no network's creation or removal: a container
        that joins a new network is how its creation shows before a reconciliation; the
        networks are relisted then. Names a relist did not find (Podman lists no ``host``
        nor ``none``) are not relisted for again until the next relist."""
        upserts = [op for op in ops if isinstance(op, Upsert)]
        known = {n.name for n in self.state.networks.values()} | self._unlisted_networks
        known |= {op.obj.name for op in upserts if isinstance(op.obj, Network)}
        for op in upserts:
            if isinstance(op.obj, Container) and not known.issuperset(op.obj.networks):
                self._unlisted_networks = set(op.obj.networks) - known
                return op.cause
        return None

    def _container(self, data: dict[str, Any]) -> Container:
        """A container from its inspect data, noting whether it may restart by itself."""
        if restarts_by_itself(data):
            self._wont_restart.discard(data["Id"])
        else:
            self._wont_restart.add(data["Id"])
        return container_from_inspect(data)

    async def _read(
        self, target: Target, cause: Cause, limit: asyncio.Semaphore
    ) -> list[Operation]:
        """Operations for one target after re-reading it (404: removed)."""
        docker, kind = self.docker, target.kind
        key = target.id if isinstance(target, Read) else ""
        obj: Entity | None
        try:
            if isinstance(target, Relist):
                return await self._relist(target.kind, cause)
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
        return [Remove(kind, key, cause)]

    async def _pump(self, events: Any, queue: asyncio.Queue[object]) -> None:
        """Move raw events into ``queue``; then ``_END``, or the error that broke the stream.

        Overflow: with ``max_backlog`` events waiting (still, after one yield to the loop),
        one more drops them all and puts :class:`EventBacklogFull` instead, and the pump stops
        reading. The session ends; the
        next one resumes the stream after the last event handled (``_last_event_nano``) and
        relists, so what was dropped is read again, not lost.
        """
        try:
            async for event in events:
                if queue.qsize() >= self.max_backlog:
                    # The stream may hand over buffered events without ever suspending: give
                    # the loop one chance to drain before this counts as falling behind.
                    await asyncio.sleep(0)
                    if queue.qsize() >= self.max_backlog:
                        self._overflow(queue)
                        return
                self._arrived(event)
                queue.put_nowait(event)
            queue.put_nowait(_END)
        except Exception as err:
            # Whatever broke the stream ends the session; the watcher reconnects and relists.
            queue.put_nowait(
                err
                if isinstance(err, EngineUnavailable)
                else EngineUnavailable(f"event stream failed: {err!r}")
            )

    def _arrived(self, event: Any) -> None:
        """Note what a raw event names, as it arrives (before it is handled): a
        reconciliation leaves these objects to their events (:meth:`reconcile`)."""
        self._arrivals += 1
        if not isinstance(event, dict):
            return
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        seq = self._arrivals
        for name in (actor.get("ID"), attributes.get("container"), attributes.get("name")):
            if isinstance(name, str) and name:
                self._arrived_at[name] = seq
        kind = event.get("Type")
        if isinstance(kind, str):
            self._arrived_at[f"kind:{kind}"] = seq

    def _in_flight(self, op: Operation, since: int) -> bool:
        """Whether an event about ``op``'s object arrived after arrival number ``since``."""
        kind, key = key_of(op)
        seen = self._arrived_at
        if seen.get(key, 0) > since:
            return True
        if kind == "container":
            obj = op.obj if isinstance(op, Upsert) else self.state.containers.get(key)
            name = getattr(obj, "name", None)
            return bool(name) and seen.get(str(name), 0) > since
        if kind == "image":  # image events name images in many ways: the kind is in flight
            return seen.get("kind:image", 0) > since
        if kind == "network":
            obj = op.obj if isinstance(op, Upsert) else self.state.networks.get(key)
            return seen.get(str(getattr(obj, "name", "")), 0) > since
        return False

    def _overflow(self, queue: asyncio.Queue[object]) -> None:
        """Drop the backlog of ``queue`` and the event that found it full, and end the
        session with :class:`EventBacklogFull`."""
        dropped = 1  # the event that found the queue full
        while not queue.empty():
            dropped += isinstance(queue.get_nowait(), dict)
        self.stats.backlog_overflows += 1
        log.warning("dropped %d events the watcher was behind on; resuming and relisting", dropped)
        queue.put_nowait(
            EventBacklogFull(
                f"fell {dropped} events behind the engine's stream; resuming and relisting"
            )
        )

    async def _gather(
        self, read: Callable[[_A], Awaitable[_T]], args: list[_A], limit: asyncio.Semaphore
    ) -> list[_T]:
        """``read`` each of ``args``, as many at a time as ``limit`` lets; results in order."""

        async def limited(arg: _A) -> _T:
            async with limit:
                return await read(arg)

        return await asyncio.gather(*(limited(a) for a in args))
