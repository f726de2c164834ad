"""Builders of valid entities with readable defaults, and helpers shared by the unit tests.

Every builder goes through ``model_validate``, so an override with a wrong field name or type
fails loudly instead of building an object the core would never see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dockstate.hub import Hub
from dockstate.pipeline import CommitPipeline
from dockstate.state import (
    MAP_OF_KIND,
    Change,
    Container,
    ContainerState,
    EngineInfo,
    EngineState,
    Entity,
    HealthStatus,
    Image,
    Kind,
    Network,
    Volume,
)

__all__ = [
    "CREATED",
    "StepClock",
    "container",
    "engine_info",
    "entities",
    "image",
    "last_change_of",
    "network",
    "new_state",
    "object_json",
    "strip_revs",
    "volume",
    "wired_hub",
]

CREATED = "2026-01-01T00:00:00.000000Z"


class StepClock:
    """A deterministic clock: every call returns a time one millisecond after the last."""

    def __init__(self) -> None:
        self.calls = 0
        self._start = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> str:
        self.calls += 1
        return (self._start + timedelta(milliseconds=self.calls)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wired_hub(state: EngineState, *, max_pending: int = 10_000) -> Hub:
    """A hub that the state publishes every committed batch to, as in a server (through the
    commit pipeline, with no store)."""
    hub = Hub(state, max_pending=max_pending)
    state.subscribe(CommitPipeline(hub))
    return hub


def new_state(*, history_limit: int = 10_000, host: str = "") -> EngineState:
    """An empty state with a deterministic clock and a fixed epoch."""
    return EngineState(epoch="test", history_limit=history_limit, clock=StepClock(), host=host)


def container(
    key: str = "c1",
    *,
    image: str = "",
    state: ContainerState = "running",
    health: HealthStatus | None = None,
    volumes: Sequence[str] = (),
    networks: Sequence[str] | Mapping[str, Mapping[str, Any]] = (),
    **fields: Any,
) -> Container:
    """A container ``key``; ``image`` is its image id, ``volumes`` and ``networks`` names.

    ``networks`` may also map network names to attachments.
    """
    if not isinstance(networks, Mapping):
        networks = {n: {"network_id": f"id-{n}"} for n in networks}
    data: dict[str, Any] = {
        "id": key,
        "name": f"name-{key}",
        "image": "app:latest",
        "image_id": image,
        "command": "sleep 3600",
        "created": CREATED,
        "state": state,
        "status": "Up" if state == "running" else state.capitalize(),
        "health": health,
        "mounts": [
            {"type": "volume", "name": v, "source": f"/v/{v}", "destination": f"/mnt/{v}"}
            for v in volumes
        ],
        "networks": networks,
    }
    data.update(fields)
    return Container.model_validate(data)


def image(
    key: str = "i1", *, tags: Sequence[str] = ("app:latest",), size: int = 100, **fields: Any
) -> Image:
    data: dict[str, Any] = {"id": key, "tags": list(tags), "size": size, "created": CREATED}
    data.update(fields)
    return Image.model_validate(data)


def volume(name: str = "v1", **fields: Any) -> Volume:
    data: dict[str, Any] = {"name": name, "driver": "local", "mountpoint": f"/var/lib/{name}"}
    data.update(fields)
    return Volume.model_validate(data)


def network(key: str = "n1", *, name: str | None = None, **fields: Any) -> Network:
    """A network ``key``; containers reference it by ``name`` (``net-<key>`` unless given)."""
    data: dict[str, Any] = {"id": key, "name": name or f"net-{key}", "driver": "bridge"}
    data.update(fields)
    return Network.model_validate(data)


def engine_info(**fields: Any) -> EngineInfo:
    data: dict[str, Any] = {"status": "connected", "name": "docker-host", "ncpu": 4}
    data.update(fields)
    return EngineInfo.model_validate(data)


def object_json(snapshot: Mapping[str, Any], kind: Kind, key: str) -> Any:
    """The JSON of one object in a protocol snapshot (``None`` when absent)."""
    holder = snapshot if kind == "engine" else snapshot[MAP_OF_KIND[kind]]
    return holder.get(key)


def last_change_of(changes: Iterable[Change]) -> dict[tuple[Kind, str], int]:
    """The version of the last change of every (kind, id) among ``changes``."""
    return {(c.kind, c.id): c.v for c in changes}


def strip_revs(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot's objects without ``rev``, without ``version`` and ``last_updated``."""
    out: dict[str, Any] = {}
    for field in ("containers", "images", "volumes", "networks"):
        out[field] = {k: _no_rev(v) for k, v in snapshot[field].items()}
    out["engine_info"] = _no_rev(snapshot["engine_info"])
    out["system_stats"] = _no_rev(snapshot["system_stats"])
    return out


def _no_rev(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "rev"}


def entities(state: EngineState) -> list[Entity]:
    """Every object the state holds, engine_info and system_stats included."""
    return [
        *state.containers.values(),
        *state.images.values(),
        *state.volumes.values(),
        *state.networks.values(),
        state.engine_info,
        state.system_stats,
    ]
