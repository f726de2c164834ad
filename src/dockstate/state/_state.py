"""EngineState: the one authoritative, versioned state of a Docker engine. No I/O."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast

from ..errors import AmbiguousReference, InvalidBatch, StateError, VersionExpired
from ._changes import Cause, Change, ChangeBatch, Operation, Remove, Upsert
from ._entities import (
    Container,
    EngineInfo,
    Entity,
    Image,
    Network,
    SystemStats,
    Volume,
)
from ._history import Archive, History
from ._kinds import KINDS, OBJECT_KINDS, Kind, ObjectKind, kind_of
from ._patch import make_patch

__all__ = ["DEFAULT_HISTORY_LIMIT", "EngineState", "Listener", "utc_now"]

DEFAULT_HISTORY_LIMIT = 10_000

Listener = Callable[[ChangeBatch], None]
_Staged = tuple[Kind, str, Entity | None, Cause | None]


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with microseconds (``...Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EngineState:
    """Containers, images, volumes, networks, engine info and system stats at one version.

    The state has one writer, which calls :meth:`apply`, and any number of readers. Every
    committed change advances :attr:`version` by one, with no gaps; the changes of one
    :meth:`apply` call form one :class:`ChangeBatch`, kept in a bounded history and handed to
    every listener.

    Derived fields (which containers use an image, a volume or a network; whether an image is
    dangling; the system stats) are maintained by the state itself, inside the batch whose
    change caused them.

    Args:
        epoch: names the history that versions count in; random unless given.
        history_limit: how many changes :meth:`changes_since` can replay at most.
        clock: returns the commit timestamp (``last_updated``); injectable for tests.
        host: where the engine is reached, shown in ``engine_info.host``.
        archive: where :meth:`changes_since` finds changes older than the in-memory
            history (optional; may also be set later through :attr:`archive`).
    """

    def __init__(
        self,
        *,
        epoch: str | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        clock: Callable[[], str] = utc_now,
        host: str = "",
        archive: Archive | None = None,
    ) -> None:
        self.epoch = epoch or secrets.token_hex(8)
        self.archive = archive
        self._clock = clock
        self._version = 0
        self._last_updated = clock()
        self._history = History(history_limit)
        self._listeners: list[Listener] = []
        self._maps: dict[Kind, dict[str, Entity]] = {kind: {} for kind in OBJECT_KINDS}
        self._engine_info = EngineInfo(host=host)
        self._stats = SystemStats()
        # Reverse indexes for the derived fields: image id / volume name / network name ->
        # ids of the containers that reference it.
        self._users: dict[Kind, dict[str, set[str]]] = {"image": {}, "volume": {}, "network": {}}

    # -- reading ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The version of the last committed change (0 before any)."""
        return self._version

    @property
    def last_updated(self) -> str:
        """When the last batch was committed."""
        return self._last_updated

    @property
    def oldest(self) -> int:
        """The oldest version after which :meth:`changes_since` can still replay."""
        if self.archive is not None:
            return min(self.archive.oldest, self._history.oldest)
        return self._history.oldest

    @property
    def containers(self) -> Mapping[str, Container]:
        return cast(Mapping[str, Container], MappingProxyType(self._maps["container"]))

    @property
    def images(self) -> Mapping[str, Image]:
        return cast(Mapping[str, Image], MappingProxyType(self._maps["image"]))

    @property
    def volumes(self) -> Mapping[str, Volume]:
        return cast(Mapping[str, Volume], MappingProxyType(self._maps["volume"]))

    @property
    def networks(self) -> Mapping[str, Network]:
        return cast(Mapping[str, Network], MappingProxyType(self._maps["network"]))

    @property
    def engine_info(self) -> EngineInfo:
        return self._engine_info

    @property
    def system_stats(self) -> SystemStats:
        return self._stats

    def map_of(self, kind: ObjectKind) -> Mapping[str, Entity]:
        """The objects of ``kind``, by key (read-only)."""
        return MappingProxyType(self._maps[kind])

    def get(self, kind: Kind, key: str) -> Entity | None:
        """The object ``key`` of ``kind`` (for ``engine``: ``engine_info``/``system_stats``)."""
        if kind == "engine":
            return {"engine_info": self._engine_info, "system_stats": self._stats}.get(key)
        return self._maps[kind].get(key)

    def container_id(self, ref: str) -> str:
        """The id of the container ``ref`` names, as ``docker`` reads a reference: its id, its
        name, or a prefix of exactly one id; ``ref`` itself when it names none here (one the
        engine has made since, for the engine to settle).

        Raises:
            AmbiguousReference: ``ref`` begins several ids (the engine would answer 500).
        """
        containers = cast(dict[str, Container], self._maps["container"])
        if ref in containers:
            return ref
        named = next((c.id for c in containers.values() if c.name == ref), None)
        if named is not None:
            return named
        prefixed = [cid for cid in containers if cid.startswith(ref)]
        if len(prefixed) > 1:
            raise AmbiguousReference(ref, len(prefixed))
        return prefixed[0] if prefixed else ref

    def objects(self) -> Iterator[tuple[Kind, Entity]]:
        """Every object held, with its kind; engine_info and system_stats last."""
        for kind, objects in self._maps.items():
            for obj in objects.values():
                yield kind, obj
        yield "engine", self._engine_info
        yield "engine", self._stats

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready data, in the shape of protocol.md §1."""
        return {
            **{spec.plural: _dump_map(self._maps[kind]) for kind, spec in KINDS.items()},
            "engine_info": self._engine_info.model_dump(mode="json"),
            "system_stats": self._stats.model_dump(mode="json"),
            "version": self._version,
            "last_updated": self._last_updated,
        }

    @property
    def recent_oldest(self) -> int:
        """The oldest version after which the in-memory history alone can replay."""
        return self._history.oldest

    def recent_since(self, version: int) -> list[Change]:
        """Every change after ``version`` from the in-memory history alone (no archive).

        Raises:
            VersionExpired: ``version`` is older than :attr:`recent_oldest`.
            VersionTooNew: ``version`` is newer than :attr:`version`.
        """
        return self._history.since(version, self._version)

    def changes_since(self, version: int) -> list[Change]:
        """Every change after ``version``, oldest first; empty when ``version`` is current.
        Reads the archive synchronously where the in-memory history does not reach (a
        server reads it in a thread instead: ``dockstate.server.changes_since``).

        Raises:
            VersionExpired: ``version`` is older than :attr:`oldest`.
            VersionTooNew: ``version`` is newer than :attr:`version`.
        """
        history = self._history
        if self.archive is None or version >= history.oldest:
            return history.since(version, self._version)
        try:
            older = self.archive.since(version, history.oldest)
        except VersionExpired:
            raise VersionExpired(version, self.oldest, self._version) from None
        return older + history.since(history.oldest, self._version)

    def restore(self, objects: Iterable[Entity], *, version: int, last_updated: str) -> None:
        """Start from a state saved earlier at ``version`` (e.g. before a restart), with no
        change committed: the objects are held as given (``rev`` included), their derived
        fields and the system stats computed afresh.

        Raises:
            StateError: the state has already committed changes.
        """
        if self._version:
            raise StateError("only a fresh state can be restored")
        for obj in objects:
            if isinstance(obj, SystemStats):
                self._stats = obj
            elif isinstance(obj, EngineInfo):
                self._engine_info = obj
            else:
                self._maps[kind_of(obj)][obj.key] = obj
                if isinstance(obj, Container):
                    for kind, refs in _references(obj).items():
                        for ref in refs:
                            self._users[kind].setdefault(ref, set()).add(obj.id)
        # Derived fields are the state's own: recomputed, whatever the saved objects said.
        for kind in ("image", "volume", "network"):
            held = self._maps[kind]
            for key, obj in held.items():
                held[key] = self._derive(obj)
        self._stats = self._compute_stats()
        self._version, self._last_updated = version, last_updated
        self._history = History(self._history.limit, start_version=version)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every batch committed from now on; returns an unsubscriber.

        Listeners run synchronously inside :meth:`apply`, after the commit, in subscription
        order. They must be quick and must not raise.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def plan_sync(
        self, kind: Kind, objects: Iterable[Entity], cause: Cause | None = None
    ) -> list[Operation]:
        """Operations that make ``kind`` hold exactly ``objects`` (a full listing).

        Every listed object is upserted (unchanged ones commit nothing) and every held object
        missing from the listing is removed; each operation carries ``cause``.
        """
        ops: list[Operation] = []
        seen: set[str] = set()
        for obj in objects:
            seen.add(obj.key)
            ops.append(Upsert(obj, cause))
        ops.extend(Remove(kind, key, cause) for key in self._maps[kind] if key not in seen)
        return ops

    # -- writing ---------------------------------------------------------------------------

    def apply(self, ops: Iterable[Operation]) -> ChangeBatch | None:
        """Commit the differences that ``ops`` make, atomically, as one batch.

        Upserting an object equal to the one held (ignoring ``rev`` and derived fields) and
        removing an absent one change nothing. Derived fields and system stats that the
        operations affect are updated in the same batch.

        Returns:
            The committed batch, or ``None`` when nothing changed (the version stays).

        Raises:
            InvalidBatch: an operation is malformed; nothing was applied.
        """
        staged = _validate(list(ops))
        builder = _BatchBuilder(self._version)
        touched: dict[Kind, set[str]] = {"image": set(), "volume": set(), "network": set()}
        # Containers first, so the derived fields of the others see the batch's containers.
        for kind, key, new, cause in sorted(staged, key=lambda s: s[0] != "container"):
            if kind == "container":
                self._apply_container(builder, key, cast(Container | None, new), cause, touched)
            elif kind == "engine":
                self._engine_info = cast(
                    EngineInfo, builder.put(kind, self._engine_info, cast(Entity, new), cause)
                )
            else:
                self._apply_plain(builder, kind, key, new, cause)
        # Objects whose users changed: refresh their derived fields (a no-op for those the
        # batch upserted itself, which were derived from the final indexes already).
        # Containers name networks, and two networks may share a name: refresh all of them.
        network_ids: dict[str, list[str]] = {}
        if touched["network"]:
            for net in self.networks.values():
                network_ids.setdefault(net.name, []).append(net.key)
        for kind, refs in touched.items():
            for ref in sorted(refs):
                for key in network_ids.get(ref, []) if kind == "network" else [ref]:
                    old = self._maps[kind].get(key)
                    if old is not None:
                        self._maps[kind][key] = builder.put(kind, old, self._derive(old))
        self._stats = cast(SystemStats, builder.put("engine", self._stats, self._compute_stats()))
        if not builder.changes:
            return None
        return self._commit(builder)

    def _apply_container(
        self,
        builder: _BatchBuilder,
        key: str,
        new: Container | None,
        cause: Cause | None,
        touched: dict[Kind, set[str]],
    ) -> None:
        containers = cast(dict[str, Container], self._maps["container"])
        old = containers.get(key)
        if new is None:
            if old is not None:
                builder.remove("container", key, old, cause)
                del containers[key]
        else:
            containers[key] = cast(Container, builder.put("container", old, new, cause))
        old_refs, new_refs = _references(old), _references(new)
        for kind in touched:
            users = self._users[kind]
            for ref in old_refs[kind] - new_refs[kind]:
                users[ref].discard(key)
                if not users[ref]:
                    del users[ref]
            for ref in new_refs[kind] - old_refs[kind]:
                users.setdefault(ref, set()).add(key)
            touched[kind] |= old_refs[kind] ^ new_refs[kind]

    def _apply_plain(
        self,
        builder: _BatchBuilder,
        kind: Kind,
        key: str,
        new: Entity | None,
        cause: Cause | None,
    ) -> None:
        objects = self._maps[kind]
        old = objects.get(key)
        if new is None:
            if old is not None:
                builder.remove(kind, key, old, cause)
                del objects[key]
            return
        objects[key] = builder.put(kind, old, self._derive(new), cause)

    def _derive(self, obj: Entity) -> Entity:
        if isinstance(obj, Image):
            users = sorted(self._users["image"].get(obj.id, ()))
            return obj.model_copy(update={"containers": users, "dangling": not obj.tags})
        if isinstance(obj, Volume):
            users = sorted(self._users["volume"].get(obj.name, ()))
            return obj.model_copy(update={"used_by": users})
        if isinstance(obj, Network):
            users = sorted(self._users["network"].get(obj.name, ()))
            return obj.model_copy(update={"containers": users})
        return obj

    def _compute_stats(self) -> SystemStats:
        containers = cast(Iterable[Container], self._maps["container"].values())
        images = cast(Iterable[Image], self._maps["image"].values())
        states: Counter[str] = Counter()
        unhealthy = 0
        for c in containers:
            states[c.state] += 1
            unhealthy += c.health == "unhealthy"
        sizes = [(i.size, i.dangling) for i in images]
        total, running = len(self._maps["container"]), states["running"] + states["restarting"]
        return SystemStats(
            rev=self._stats.rev,
            containers=total,
            containers_running=running,
            containers_paused=states["paused"],
            containers_stopped=total - running - states["paused"],
            containers_unhealthy=unhealthy,
            images=len(sizes),
            images_size=sum(size for size, _ in sizes),
            images_dangling=sum(dangling for _, dangling in sizes),
            volumes=len(self._maps["volume"]),
            networks=len(self._maps["network"]),
        )

    def _commit(self, builder: _BatchBuilder) -> ChangeBatch:
        batch = ChangeBatch(
            from_version=self._version,
            to_version=builder.version,
            timestamp=self._clock(),
            changes=tuple(builder.changes),
        )
        self._version = batch.to_version
        self._last_updated = batch.timestamp
        self._history.append(batch)
        for listener in list(self._listeners):
            listener(batch)
        return batch


class _BatchBuilder:
    """Numbers the changes of one batch and computes their patches."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.changes: list[Change] = []

    def put(
        self, kind: Kind, old: Entity | None, new: Entity, cause: Cause | None = None
    ) -> Entity:
        """Record ``old`` -> ``new`` (if they differ); return the object to hold."""
        if old is not None and new.model_copy(update={"rev": old.rev}) == old:
            return old
        self.version += 1
        new = new.model_copy(update={"rev": self.version})
        if old is None:
            self.changes.append(Change(self.version, kind, "created", new.key, new, None, cause))
        else:
            patch = make_patch(old.model_dump(mode="json"), new.model_dump(mode="json"))
            self.changes.append(
                Change(self.version, kind, "updated", new.key, new, patch, cause, old)
            )
        return new

    def remove(self, kind: Kind, key: str, old: Entity, cause: Cause | None) -> None:
        self.version += 1
        self.changes.append(Change(self.version, kind, "removed", key, None, None, cause, old))


def _validate(ops: list[Operation]) -> list[_Staged]:
    """Check a whole batch before anything is applied; return it as (kind, key, obj, cause)."""
    staged: list[_Staged] = []
    seen: set[tuple[Kind, str]] = set()
    for op in ops:
        if isinstance(op, Upsert):
            try:
                kind = kind_of(op.obj)
            except KeyError:
                raise InvalidBatch(
                    f"cannot upsert a {type(op.obj).__name__}: it is derived or unknown"
                ) from None
            key, obj = op.obj.key, op.obj
        elif isinstance(op, Remove):
            if op.kind not in OBJECT_KINDS:
                raise InvalidBatch(f"cannot remove an object of kind {op.kind!r}")
            kind, key, obj = op.kind, op.id, None
        else:
            raise InvalidBatch(f"not an operation: {op!r}")
        if not key:
            raise InvalidBatch(f"a {kind} operation has an empty id")
        if (kind, key) in seen:
            raise InvalidBatch(f"{kind} {key} appears twice in one batch")
        seen.add((kind, key))
        staged.append((kind, key, obj, op.cause))
    return staged


def _references(container: Container | None) -> dict[Kind, set[str]]:
    """What a container references: its image id, volume names and network names."""
    if container is None:
        return {"image": set(), "volume": set(), "network": set()}
    return {
        "image": {container.image_id} if container.image_id else set(),
        "volume": {m.name for m in container.mounts if m.type == "volume" and m.name},
        "network": set(container.networks),
    }


def _dump_map(objects: Mapping[str, Entity]) -> dict[str, Any]:
    return {key: obj.model_dump(mode="json") for key, obj in objects.items()}
