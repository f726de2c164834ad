"""What goes into the state (operations) and what comes out of it (committed changes).

A writer hands :meth:`EngineState.apply` a batch of operations, each :class:`Upsert` ("this
object now looks like this") or :class:`Remove` ("this object is gone"). The state compares
them with what it holds and commits only real differences, as :class:`Change` objects with
consecutive versions, grouped in one :class:`ChangeBatch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ._entities import Container, EngineInfo, Entity, Image, Kind, Network, Volume

__all__ = [
    "Cause",
    "Change",
    "ChangeBatch",
    "ChangeOp",
    "Operation",
    "Remove",
    "Upsert",
    "kind_of",
]

ChangeOp = Literal["created", "updated", "removed"]

_KIND_BY_TYPE: dict[type[Entity], Kind] = {
    Container: "container",
    Image: "image",
    Volume: "volume",
    Network: "network",
    EngineInfo: "engine",
}


def kind_of(obj: Entity) -> Kind:
    """Return the kind of an entity that a writer may upsert.

    Raises:
        KeyError: for SystemStats (derived by the core, never written) or a foreign type.
    """
    return _KIND_BY_TYPE[type(obj)]


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a change happened: the Docker event, or the reconciliation, behind it."""

    type: str
    action: str
    time_nano: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "action": self.action}
        if self.time_nano is not None:
            out["time_nano"] = self.time_nano
        return out


@dataclass(frozen=True, slots=True)
class Upsert:
    """The object now looks like ``obj`` (created if absent)."""

    obj: Entity
    cause: Cause | None = None


@dataclass(frozen=True, slots=True)
class Remove:
    """The object ``id`` of ``kind`` is gone (a no-op if absent)."""

    kind: Kind
    id: str
    cause: Cause | None = None


Operation: TypeAlias = Upsert | Remove


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change of one object, at state version ``v``.

    ``obj`` is the object after the change (``None`` when removed) and ``prev`` the one
    before it (``None`` when created); ``patch`` is the RFC 6902 JSON Patch from ``prev`` to
    ``obj`` (only for ``updated``). ``prev`` lets a reader tell what a client that stopped at
    an older version could see (e.g. whether the object matched its filter then).
    """

    v: int
    kind: Kind
    op: ChangeOp
    id: str
    obj: Entity | None = None
    patch: list[dict[str, Any]] | None = None
    cause: Cause | None = None
    prev: Entity | None = None

    def to_json(self) -> dict[str, Any]:
        """The change as protocol.md §4 puts it on the wire."""
        out: dict[str, Any] = {"v": self.v, "kind": self.kind, "op": self.op, "id": self.id}
        if self.op == "created" and self.obj is not None:
            out["object"] = self.obj.model_dump(mode="json")
        elif self.op == "updated":
            out["patch"] = self.patch
        if self.cause is not None:
            out["cause"] = self.cause.to_json()
        return out


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """The changes committed together by one ``apply``: versions ``(from_version, to_version]``."""

    from_version: int
    to_version: int
    timestamp: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.from_version,
            "to": self.to_version,
            "timestamp": self.timestamp,
            "changes": [c.to_json() for c in self.changes],
        }
