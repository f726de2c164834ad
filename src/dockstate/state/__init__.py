"""The I/O-free core: entities, EngineState, changes and their history.

Nothing here imports asyncio, an HTTP client or the server; it is tested on its own.
"""

from ._changes import Cause, Change, ChangeBatch, ChangeOp, Operation, Remove, Upsert
from ._entities import (
    COMPOSE_PROJECT_LABEL,
    COMPOSE_SERVICE_LABEL,
    Container,
    ContainerNetwork,
    ContainerState,
    EngineInfo,
    EngineStatus,
    Entity,
    HealthStatus,
    Image,
    Mount,
    Network,
    Port,
    SystemStats,
    Volume,
)
from ._history import Archive, History
from ._kinds import (
    ENGINE_KEYS,
    KINDS,
    MAP_OF_KIND,
    OBJECT_KINDS,
    Kind,
    KindSpec,
    ObjectKind,
    Plural,
    kind_of,
    kind_of_plural,
    model_of,
)
from ._replay import apply_change, replay
from ._state import DEFAULT_HISTORY_LIMIT, EngineState, Listener, utc_now

__all__ = [
    "COMPOSE_PROJECT_LABEL",
    "COMPOSE_SERVICE_LABEL",
    "DEFAULT_HISTORY_LIMIT",
    "ENGINE_KEYS",
    "KINDS",
    "MAP_OF_KIND",
    "OBJECT_KINDS",
    "Archive",
    "Cause",
    "Change",
    "ChangeBatch",
    "ChangeOp",
    "Container",
    "ContainerNetwork",
    "ContainerState",
    "EngineInfo",
    "EngineState",
    "EngineStatus",
    "Entity",
    "HealthStatus",
    "History",
    "Image",
    "Kind",
    "KindSpec",
    "Listener",
    "Mount",
    "Network",
    "ObjectKind",
    "Operation",
    "Plural",
    "Port",
    "Remove",
    "SystemStats",
    "Upsert",
    "Volume",
    "apply_change",
    "kind_of",
    "kind_of_plural",
    "model_of",
    "replay",
    "utc_now",
]
