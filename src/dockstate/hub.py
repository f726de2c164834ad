"""The hub: fans committed change batches out to every subscription, never waiting on one.

What happens to a slow client
-----------------------------
The hub's listener runs inside ``EngineState.apply`` and never awaits: for each subscription it
only records the batch's matching changes in the subscription's *pending* map, keyed by
object, where later changes of the same object coalesce with earlier ones (two updates become
one update carrying the whole object; create then remove becomes nothing). Each connection has
its own sender task that drains its subscriptions' pending maps into WebSocket messages,
whole batches at a time, so a batch is never split.

A client that reads slowly therefore receives fewer, larger messages, and costs memory bounded
by the number of objects it can see. A subscription whose pending map still grows past
``max_pending`` while it holds changes its client has not yet taken is cleared and marked for
``resync_required`` (code ``SLOW_CONSUMER``) followed by a fresh snapshot. One large batch
offered to a client that is keeping up is not a sign of slowness and never trips it. A send
that blocks longer than the connection's send timeout closes the connection with 4499. Nothing
a client does delays the listener, or any other client.

Each change is serialized to JSON once (lazily, on first need) and the same text is spliced
into every subscription's message; each object's JSON is cached while it does not change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .state import (
    MAP_OF_KIND,
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

__all__ = [
    "CompiledFilter",
    "EncodedChange",
    "Hub",
    "ObjectCache",
    "Subscription",
    "compile_filter",
]

Mode = Literal["changes", "full"]
_KINDS: tuple[Kind, ...] = ("container", "image", "volume", "network", "engine")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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


# -- serialization, once -------------------------------------------------------------------


class ObjectCache:
    """The JSON text of each object, kept while the object is the one the state holds."""

    def __init__(self) -> None:
        self._texts: dict[tuple[str, str], tuple[Entity, str]] = {}

    def text(self, kind: str, key: str, obj: Entity) -> str:
        hit = self._texts.get((kind, key))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = _dumps(obj.model_dump(mode="json"))
        self._texts[(kind, key)] = (obj, text)
        return text

    def forget(self, kind: str, key: str) -> None:
        self._texts.pop((kind, key), None)


class EncodedChange:
    """A committed change and its wire forms, each serialized at most once."""

    __slots__ = ("_as_created", "_text", "cache", "change")

    def __init__(self, change: Change, cache: ObjectCache) -> None:
        self.change = change
        self.cache = cache
        self._text: str | None = None
        self._as_created: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.change.kind, self.change.id)

    def text(self) -> str:
        """The change as committed (``updated`` carries its patch)."""
        if self._text is None:
            self._text = _dumps(self.change.to_json())
        return self._text

    def text_with_object(self, op: Literal["created", "updated"]) -> str:
        """The change as ``op`` carrying the whole object (after entering a filter, or
        coalesced with earlier changes)."""
        if op == "created" and self._as_created is not None:
            return self._as_created
        c = self.change
        assert c.obj is not None
        text = self._render(op, f',"object":{self.cache.text(c.kind, c.id, c.obj)}')
        if op == "created":
            self._as_created = text
        return text

    def removed_text(self) -> str:
        """The change as ``removed`` (after leaving a filter, or coalesced)."""
        return self._render("removed", "")

    def _render(self, op: str, body: str) -> str:
        c = self.change
        head = _dumps({"v": c.v, "kind": c.kind, "op": op, "id": c.id})[:-1]
        cause = f',"cause":{_dumps(c.cause.to_json())}' if c.cause else ""
        return f"{head}{body}{cause}}}"


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


@dataclass
class Subscription:
    """One subscription of one connection, and what it still has to send."""

    id: str
    mode: Mode
    filter: CompiledFilter | None
    sent_version: int = 0
    offered_version: int = 0
    pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)
    visible: set[tuple[str, str]] = field(default_factory=set)
    needs_snapshot: bool = True
    resync_code: str | None = None
    full_dirty: bool = True
    first_event_ns: int | None = None

    def offer(self, batch: ChangeBatch, encoded: list[EncodedChange], max_pending: int) -> None:
        """Record a committed batch. Never blocks; may mark the subscription SLOW_CONSUMER."""
        self.offered_version = batch.to_version
        if self.needs_snapshot:
            return  # the coming snapshot covers this batch
        if self.mode == "full":
            self.full_dirty = self.full_dirty or any(self._admits(e) for e in encoded)
            return
        behind = bool(self.pending)  # the client has not taken the previous batches yet
        for enc in encoded:
            self.add_change(enc)
        if behind and len(self.pending) > max_pending:
            self.pending.clear()
            self.needs_snapshot = True
            self.resync_code = "SLOW_CONSUMER"

    def _admits(self, enc: EncodedChange) -> bool:
        c = enc.change
        return (
            self.filter is None
            or self.filter.matches(c.kind, c.id, c.obj)
            or enc.key in self.visible
        )

    def add_change(self, enc: EncodedChange) -> None:
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


class Hub:
    """Keeps every subscription of every connection fed from the state.

    Connections register a wake-up callback; the hub calls it (synchronously, never awaiting)
    whenever one of their subscriptions has something new.
    """

    def __init__(self, state: EngineState, *, max_pending: int = 10_000) -> None:
        self.state = state
        self.max_pending = max_pending
        self.cache = ObjectCache()
        self._connections: dict[object, tuple[list[Subscription], Callable[[], None]]] = {}
        self._unsubscribe = state.subscribe(self._on_batch)

    def close(self) -> None:
        self._unsubscribe()

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

    def resume(self, sub: Subscription, version: int) -> None:
        """Make ``sub`` send exactly the matching changes after ``version``, no snapshot.

        Raises:
            VersionError: ``version`` is outside the replayable window.
        """
        changes = self.state.changes_since(version)
        sub.needs_snapshot, sub.resync_code = False, None
        sub.sent_version, sub.offered_version = version, self.state.version
        sub.pending.clear()
        flt = sub.filter
        if flt is not None and flt.by_content:
            # What the client could see at `version`: objects unchanged since then as they are
            # now; the others as they were before their first change after it.
            first: dict[tuple[str, str], Change] = {}
            for c in changes:
                first.setdefault((c.kind, c.id), c)
            sub.visible = {
                (kind, key)
                for kind, key, obj in self._objects()
                if (kind, key) not in first and flt.matches(kind, key, obj)
            }
            sub.visible |= {
                key
                for key, c in first.items()
                if c.prev is not None and flt.matches(c.kind, c.id, c.prev)
            }
        for change in changes:
            sub.add_change(EncodedChange(change, self.cache))

    def _objects(self) -> Iterator[tuple[Kind, str, Entity]]:
        for kind, obj in self.state.objects():
            yield kind, obj.key, obj

    def _on_batch(self, batch: ChangeBatch) -> None:
        encoded = [EncodedChange(c, self.cache) for c in batch.changes]
        for change in batch.changes:
            if change.op == "removed":
                self.cache.forget(change.kind, change.id)
        for subscriptions, wake in list(self._connections.values()):
            for sub in subscriptions:
                sub.offer(batch, encoded, self.max_pending)
            wake()

    # -- whole-state messages --------------------------------------------------------------

    def state_json(self, flt: CompiledFilter | None) -> tuple[str, set[tuple[str, str]]]:
        """The (filtered) EngineState as JSON text, and the keys of the objects in it."""
        state = self.state
        parts: list[str] = []
        keys: set[tuple[str, str]] = set()
        for kind, objects in _maps(state):
            inner = []
            if flt is None or flt.admits_kind(kind):
                for key, obj in objects.items():
                    if flt is None or flt.matches(kind, key, obj):
                        keys.add((kind, key))
                        inner.append(f"{_dumps(key)}:{self.cache.text(kind, key, obj)}")
            parts.append(f'"{MAP_OF_KIND[kind]}":{{{",".join(inner)}}}')
        for key in ("engine_info", "system_stats"):
            obj = state.get("engine", key)
            if obj is not None and (flt is None or flt.matches("engine", key, obj)):
                keys.add(("engine", key))
                parts.append(f'"{key}":{self.cache.text("engine", key, obj)}')
        parts.append(f'"version":{state.version},"last_updated":{_dumps(state.last_updated)}')
        return "{" + ",".join(parts) + "}", keys


def _maps(state: EngineState) -> Iterable[tuple[Kind, Any]]:
    yield "container", state.containers
    yield "image", state.images
    yield "volume", state.volumes
    yield "network", state.networks
