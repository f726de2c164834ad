"""The hub: fans committed change batches out to every subscription, never waiting on one.

What happens to a slow client
-----------------------------
:meth:`Hub.publish` runs inside ``EngineState.apply`` (the second stage of the commit
pipeline, :mod:`dockstate.pipeline`) and never awaits: for each subscription it only records
the batch's matching changes in the subscription's *pending* map, keyed by object, where
later changes of the same object coalesce with earlier ones (two updates become one update
carrying the whole object; create then remove becomes nothing). Each connection has its own
sender task that drains its subscriptions' pending maps into WebSocket messages,
whole batches at a time, so a batch is never split.

A client that reads slowly therefore receives fewer, larger messages, and costs memory bounded
by the number of objects it can see. A subscription whose pending map still grows past
``max_pending`` while it holds changes its client has not yet taken is cleared and marked for
``resync_required`` (code ``SLOW_CONSUMER``) followed by a fresh snapshot. One large batch
offered to a client that is keeping up is not a sign of slowness and never trips it. A send
that blocks longer than the connection's send timeout closes the connection with 4499. Nothing
a client does delays the publishing, or any other client.

Each change is serialized to JSON once (lazily, on first need, by :mod:`dockstate.wire`) and
the same text is spliced into every subscription's message; each object's JSON is cached
while it does not change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from . import wire
from .protocol import RESYNC_INTERNAL_ERROR
from .state import (
    ENGINE_KEYS,
    KINDS,
    OBJECT_KINDS,
    Change,
    ChangeBatch,
    Container,
    EngineState,
    Entity,
    Image,
    Kind,
    Network,
    Volume,
)
from .wire import EncodedChange, ObjectCache

__all__ = [
    "CompiledFilter",
    "Hub",
    "Subscription",
    "compile_filter",
]

log = logging.getLogger("dockstate.hub")

Mode = Literal["changes", "full"]
_KINDS: tuple[Kind, ...] = (*OBJECT_KINDS, "engine")


# -- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledFilter:
    """A subscription filter (protocol.md §4): fields AND-ed, values within a field OR-ed."""

    kinds: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    names: frozenset[str] | None = None
    labels: tuple[tuple[str, str], ...] | None = None

    @property
    def by_content(self) -> bool:
        """Whether matching depends on an object's content (so objects enter and leave)."""
        return self.ids is not None or self.names is not None or self.labels is not None

    def admits_kind(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def matches(self, kind: Kind, key: str, obj: Entity | None) -> bool:
        """Whether object ``key`` of ``kind`` (currently ``obj``) is visible."""
        if not self.admits_kind(kind):
            return False
        if self.ids is not None and key not in self.ids:
            return False
        if self.names is not None and not (self.names & set(_names_of(obj))):
            return False
        if self.labels is not None:
            labels: dict[str, str] = getattr(obj, "labels", None) or {}
            if not any(labels.get(k) == v for k, v in self.labels):
                return False
        return True


def _names_of(obj: Entity | None) -> Iterator[str]:
    if isinstance(obj, Container | Volume | Network):
        yield obj.name
    elif isinstance(obj, Image):
        yield from obj.tags


def compile_filter(raw: dict[str, Any] | None) -> CompiledFilter | None:
    """Validate a filter of protocol.md §4; ``None`` matches everything.

    Raises:
        ValueError: the filter is malformed (the message says how).
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("filter must be an object")
    unknown = set(raw) - {"kinds", "ids", "names", "labels"}
    if unknown:
        raise ValueError(f"unknown filter field(s): {', '.join(sorted(unknown))}")

    def strings(name: str) -> frozenset[str] | None:
        value = raw.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"filter.{name} must be a list of strings")
        return frozenset(value)

    kinds = strings("kinds")
    if kinds is not None and not kinds <= set(_KINDS):
        raise ValueError(f"filter.kinds may hold only {', '.join(_KINDS)}")
    labels = raw.get("labels")
    if labels is not None and (
        not isinstance(labels, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
    ):
        raise ValueError("filter.labels must map strings to strings")
    return CompiledFilter(
        kinds=kinds,
        ids=strings("ids"),
        names=strings("names"),
        labels=tuple(sorted(labels.items())) if labels is not None else None,
    )


# -- subscriptions -------------------------------------------------------------------------


@dataclass
class _Pending:
    """What a subscription still owes its client about one object."""

    had: bool  # the client held the object before the first pending change
    first: EncodedChange
    last: EncodedChange
    present: bool  # the object exists for the client after the last change
    count: int = 1

    def text(self) -> str | None:
        """The one change that brings the client from ``had`` to the final object."""
        if not self.present:
            return self.last.removed_text() if self.had else None
        op = self.first.change.op
        if self.count == 1 and (op == "updated") == self.had:
            return self.last.text()  # as committed: a created, or an updated with its patch
        return self.last.text_with_object("updated" if self.had else "created")


class Subscription:
    """One subscription of one connection: where it stands, and what it still has to send.

    It is in one of two phases. *Awaiting a snapshot* (the start, a ``resync``, a resume that
    failed, a slow consumer): committed batches are ignored, since the coming snapshot covers
    them; :attr:`resync_code` says whether a ``resync_required`` must precede it. *Live*: every
    committed batch is recorded in :attr:`pending` until the sender takes it. Only the
    methods below move it between the two; the hub calls :meth:`offer`, the connection's
    sender the ``*_taken`` methods, and nobody else writes its fields.

    In mode ``full`` "a snapshot" is the next whole state, and being live means that a batch
    matching the filter makes the next one due (:attr:`full_due`).
    """

    def __init__(self, id: str, mode: Mode, filter: CompiledFilter | None) -> None:
        self.id = id
        self.mode: Mode = mode
        self.filter = filter
        #: The version the client has been sent up to (a snapshot, changes or a bookmark).
        self.sent_version = 0
        #: The newest version offered to the subscription.
        self.offered_version = 0
        #: What the client is still owed, by object (mode ``changes``, live).
        self.pending: dict[tuple[str, str], _Pending] = {}
        #: The objects the client holds, for a filter by content (objects enter and leave).
        self.visible: set[tuple[str, str]] = set()
        #: When the subscription last sent anything, and a whole state (monotonic seconds).
        self.last_sent: float | None = None
        self.last_full = 0.0
        #: The Docker event time of the oldest change pending (for the latency metric).
        self.first_event_ns: int | None = None
        self._awaiting_snapshot = True
        self._resync_code: str | None = None
        self._full_dirty = True

    def __repr__(self) -> str:
        phase = "awaiting snapshot" if self._awaiting_snapshot else "live"
        return f"<Subscription {self.id!r} {self.mode} {phase} at {self.sent_version}>"

    # -- where it stands -------------------------------------------------------------------

    @property
    def needs_snapshot(self) -> bool:
        """Whether the next message must be a snapshot (or, in mode full, a whole state)."""
        return self._awaiting_snapshot

    @property
    def resync_code(self) -> str | None:
        """The ``resync_required`` code to send before that snapshot, if any."""
        return self._resync_code

    @property
    def full_due(self) -> bool:
        """Mode full: whether a whole state is owed."""
        return self._awaiting_snapshot or self._full_dirty

    # -- transitions -----------------------------------------------------------------------

    def request_resync(self, code: str | None = None) -> None:
        """Drop what is pending; the next message is a snapshot, preceded by a
        ``resync_required`` with ``code`` if given (a client's own ``resync`` gives none)."""
        self.pending.clear()
        self.first_event_ns = None
        self._awaiting_snapshot = True
        self._resync_code = code

    def snapshot_taken(self, version: int, visible: set[tuple[str, str]]) -> str | None:
        """A snapshot at ``version`` holding ``visible`` is being sent: go live after it.

        Returns:
            The ``resync_required`` code to send before the snapshot, or ``None``.
        """
        code = self._resync_code
        self._go_live(version, version, visible)
        return code

    def full_taken(self, version: int, visible: set[tuple[str, str]], now: float) -> None:
        """Mode full: a whole state at ``version`` is being sent."""
        self._go_live(version, version, visible)
        self._full_dirty = False
        self.last_full = now

    def resumed(self, version: int, current: int, visible: set[tuple[str, str]]) -> None:
        """The client holds the state at ``version`` (it resumes), seeing ``visible``: go
        live, owing it everything after ``version`` up to ``current``."""
        self._go_live(version, current, visible)

    def _go_live(self, sent: int, offered: int, visible: set[tuple[str, str]]) -> None:
        self.pending.clear()
        self.first_event_ns = None
        self._awaiting_snapshot, self._resync_code = False, None
        self.sent_version, self.offered_version = sent, offered
        self.visible = visible

    def offer(self, batch: ChangeBatch, encoded: list[EncodedChange], max_pending: int) -> None:
        """Record a committed batch. Never blocks; may request a resync (SLOW_CONSUMER)."""
        self.offered_version = batch.to_version
        if self._awaiting_snapshot:
            return  # the coming snapshot covers this batch
        if self.mode == "full":
            self._full_dirty = self._full_dirty or any(self._admits(e) for e in encoded)
            return
        behind = bool(self.pending)  # the client has not taken the previous batches yet
        for enc in encoded:
            self.add_change(enc)
        if behind and len(self.pending) > max_pending:
            self.request_resync("SLOW_CONSUMER")

    def _admits(self, enc: EncodedChange) -> bool:
        c = enc.change
        return (
            self.filter is None
            or self.filter.matches(c.kind, c.id, c.obj)
            or enc.key in self.visible
        )

    def add_change(self, enc: EncodedChange) -> None:
        """Record one change the client is owed (live, mode changes)."""
        c, key = enc.change, enc.key
        if self.filter is not None:
            if not self.filter.admits_kind(c.kind):
                return
            if self.filter.by_content:
                was = key in self.visible
                now = c.op != "removed" and self.filter.matches(c.kind, c.id, c.obj)
                if not was and not now:
                    return
                if now:
                    self.visible.add(key)
                else:
                    self.visible.discard(key)
                self._note(key, enc, had_default=was, present=now)
                return
        self._note(key, enc, had_default=c.op != "created", present=c.op != "removed")

    def _note(
        self, key: tuple[str, str], enc: EncodedChange, *, had_default: bool, present: bool
    ) -> None:
        entry = self.pending.get(key)
        if entry is None:
            self.pending[key] = _Pending(had=had_default, first=enc, last=enc, present=present)
        else:
            entry.last, entry.present, entry.count = enc, present, entry.count + 1
        if self.first_event_ns is None and enc.change.cause and enc.change.cause.time_nano:
            self.first_event_ns = enc.change.cause.time_nano

    def take_changes(self) -> tuple[int, int, list[str]] | None:
        """The pending changes as ``(from, to, change texts)``, and forget them; ``None`` when
        the client is already up to date."""
        if not self.pending:
            return None
        entries = sorted(self.pending.values(), key=lambda p: p.last.change.v)
        self.pending.clear()
        texts = [t for t in (p.text() for p in entries) if t is not None]
        if not texts:
            return None  # all coalesced away: the next message's `from` covers the gap
        start, self.sent_version = self.sent_version, self.offered_version
        return start, self.sent_version, texts

    def take_bookmark(self, now: float, heartbeat: float) -> int | None:
        """The version to send a bookmark for, when the subscription has been quiet for
        ``heartbeat`` seconds and owes nothing (else ``None``)."""
        if self.last_sent is None:
            self.last_sent = now
        if self.pending or self._awaiting_snapshot or now - self.last_sent < heartbeat:
            return None
        self.sent_version = self.offered_version
        return self.sent_version

    def next_due(self, heartbeat: float) -> float:
        """When the subscription will next need attention (its heartbeat)."""
        return (self.last_sent or 0.0) + heartbeat


class Hub:
    """Keeps every subscription of every connection fed from the state.

    The hub is the second stage of the commit pipeline (:class:`~dockstate.pipeline.
    CommitPipeline` hands it every committed batch through :meth:`publish`). Connections
    register a wake-up callback; the hub calls it (synchronously, never awaiting) whenever
    one of their subscriptions has something new.
    """

    def __init__(self, state: EngineState, *, max_pending: int = 10_000) -> None:
        self.state = state
        self.max_pending = max_pending
        self.cache = ObjectCache()
        self._connections: dict[object, tuple[list[Subscription], Callable[[], None]]] = {}

    @property
    def connections(self) -> int:
        return len(self._connections)

    def register(
        self, owner: object, subscriptions: list[Subscription], wake: Callable[[], None]
    ) -> None:
        """Start feeding ``subscriptions`` (a list the owner keeps and may change)."""
        self._connections[owner] = (subscriptions, wake)

    def unregister(self, owner: object) -> None:
        self._connections.pop(owner, None)

    def resume(self, sub: Subscription, version: int, changes: list[Change]) -> None:
        """Make ``sub`` send exactly the matching ``changes`` (every change after
        ``version``, up to the state's current version: see
        :func:`dockstate.server.changes_since`), with no snapshot."""
        flt = sub.filter
        visible: set[tuple[str, str]] = set()
        if flt is not None and flt.by_content:
            # What the client could see at `version`: objects unchanged since then as they are
            # now; the others as they were before their first change after it.
            first: dict[tuple[str, str], Change] = {}
            for c in changes:
                first.setdefault((c.kind, c.id), c)
            visible = {
                (kind, obj.key)
                for kind, obj in self.state.objects()
                if (kind, obj.key) not in first and flt.matches(kind, obj.key, obj)
            }
            visible |= {
                key
                for key, c in first.items()
                if c.prev is not None and flt.matches(c.kind, c.id, c.prev)
            }
        sub.resumed(version, self.state.version, visible)
        for change in changes:
            sub.add_change(EncodedChange(change, self.cache))

    def publish(self, batch: ChangeBatch) -> None:
        """Offer a committed batch to every subscription and wake their connections.

        A subscription whose offer fails (a bug) is told to resync (``INTERNAL_ERROR``) and
        the others are unaffected; the error is logged.
        """
        encoded = [EncodedChange(c, self.cache) for c in batch.changes]
        for change in batch.changes:
            if change.op == "removed":
                self.cache.forget(change.kind, change.id)
        for subscriptions, wake in list(self._connections.values()):
            for sub in subscriptions:
                try:
                    sub.offer(batch, encoded, self.max_pending)
                except Exception:
                    log.exception("subscription %r failed a batch; it resyncs", sub.id)
                    sub.request_resync(RESYNC_INTERNAL_ERROR)
            wake()

    def resync_all(self, code: str) -> None:
        """Make every subscription start over with ``resync_required`` (``code``) and a
        snapshot: what a batch that could not be published ends in, never silence."""
        for subscriptions, wake in list(self._connections.values()):
            for sub in subscriptions:
                sub.request_resync(code)
            wake()

    # -- whole-state messages --------------------------------------------------------------

    def state_json(self, flt: CompiledFilter | None) -> tuple[str, set[tuple[str, str]]]:
        """The (filtered) EngineState as JSON text, and the keys of the objects in it."""
        state, cache = self.state, self.cache
        keys: set[tuple[str, str]] = set()
        maps: dict[str, list[str]] = {}
        for kind, spec in KINDS.items():
            members = maps[spec.plural] = []
            if flt is None or flt.admits_kind(kind):
                for key, obj in state.map_of(kind).items():
                    if flt is None or flt.matches(kind, key, obj):
                        keys.add((kind, key))
                        members.append(wire.member(key, cache.text(kind, key, obj)))
        engine = []
        for key in ENGINE_KEYS:
            item = state.get("engine", key)
            if item is not None and (flt is None or flt.matches("engine", key, item)):
                keys.add(("engine", key))
                engine.append(wire.member(key, cache.text("engine", key, item)))
        return wire.state_text(maps, engine, state.version, state.last_updated), keys
