"""The kinds table: every kind of object the state holds, defined once.

Each *object kind* (``container``, ``image``, ``volume``, ``network``) has a model, and a
plural that names its map in the protocol's EngineState, its REST collection
(``/api/v1/containers``), what ``prune`` and a relist take, and its Docker API path. The
kind ``engine`` holds two singletons, ``engine_info`` and ``system_stats``, keyed by name.

Everything else (the wire's ``kind`` enum, the filter's ``kinds``, the store's models, the
engine adapter's relist targets, the client's prune kinds, the generated TypeScript types)
reads this table; a new kind is added here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from ._entities import Container, EngineInfo, Entity, Image, Network, SystemStats, Volume

__all__ = [
    "ENGINE_KEYS",
    "KINDS",
    "MAP_OF_KIND",
    "OBJECT_KINDS",
    "Kind",
    "KindSpec",
    "ObjectKind",
    "Plural",
    "kind_of",
    "kind_of_plural",
    "model_of",
]

ObjectKind = Literal["container", "image", "volume", "network"]
Kind = Literal[ObjectKind, "engine"]
Plural = Literal["containers", "images", "volumes", "networks"]
EngineKey = Literal["engine_info", "system_stats"]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One object kind: its name, its plural (map, REST collection, prune, relist), its model."""

    kind: ObjectKind
    plural: Plural
    model: type[Entity]


#: The object kinds, in the order the state lists them.
KINDS: MappingProxyType[ObjectKind, KindSpec] = MappingProxyType(
    {
        "container": KindSpec("container", "containers", Container),
        "image": KindSpec("image", "images", Image),
        "volume": KindSpec("volume", "volumes", Volume),
        "network": KindSpec("network", "networks", Network),
    }
)
OBJECT_KINDS: tuple[ObjectKind, ...] = tuple(KINDS)
#: The singletons of kind ``engine``, by key.
ENGINE_KEYS: MappingProxyType[EngineKey, type[Entity]] = MappingProxyType(
    {"engine_info": EngineInfo, "system_stats": SystemStats}
)

#: Where each object kind's objects live in the protocol's EngineState JSON (kind -> plural).
MAP_OF_KIND: MappingProxyType[str, Plural] = MappingProxyType(
    {spec.kind: spec.plural for spec in KINDS.values()}
)

_BY_TYPE: dict[type[Entity], ObjectKind] = {spec.model: spec.kind for spec in KINDS.values()}
_BY_PLURAL: dict[str, ObjectKind] = {spec.plural: spec.kind for spec in KINDS.values()}

# The Literals and the table must agree; checked once, at import.
assert get_args(ObjectKind) == OBJECT_KINDS
assert get_args(Plural) == tuple(_BY_PLURAL)


def kind_of(obj: Entity) -> Kind:
    """The kind of an entity that a writer may upsert (an object kind, or ``engine`` for
    EngineInfo).

    Raises:
        KeyError: for SystemStats (derived by the core, never written) or a foreign type.
    """
    if type(obj) is EngineInfo:
        return "engine"
    return _BY_TYPE[type(obj)]


def kind_of_plural(plural: str) -> ObjectKind:
    """The kind whose plural is ``plural`` (``"containers"`` -> ``"container"``).

    Raises:
        KeyError: ``plural`` names no kind.
    """
    return _BY_PLURAL[plural]


def model_of(kind: str, key: str) -> type[Entity]:
    """The model of object ``key`` of ``kind`` (engine objects are told apart by their key).

    Raises:
        KeyError: no such kind or engine key.
    """
    if kind == "engine":
        return ENGINE_KEYS[key]  # type: ignore[index]
    return KINDS[kind].model  # type: ignore[index]
