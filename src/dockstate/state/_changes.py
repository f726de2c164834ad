"""What goes into the state (operations) and what comes out of it (committed changes).

A writer hands :meth:`EngineState.apply` a batch of operations, each :class:`Upsert` ("this
object now looks like this") or :class:`Remove` ("this object is gone"). The state compares
them with what it holds and commits only real differences, as :class:`Change` objects with
consecutive versions, grouped in one :class:`ChangeBatch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ._entities import Entity
from ._kinds import Kind

__all__ = [
    "Cause",
    "Change",
    "ChangeBatch",
    "ChangeOp",
    "Operation",
    "Remove",
    "Upsert",
]

ChangeOp = Literal["created", "updated", "removed"]


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


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """The changes committed together by one ``apply``: versions ``(from_version, to_version]``."""

    from_version: int
    to_version: int
    timestamp: str
    changes: tuple[Change, ...] = field(default_factory=tuple)
