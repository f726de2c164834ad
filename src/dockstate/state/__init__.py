"""The I/O-free core: entities, EngineState, changes and their history.

Nothing here imports asyncio, an HTTP client or the server; it is tested on its own.
"""

from ._changes import Cause, Change, ChangeBatch, ChangeOp, Operation, Remove, Upsert, kind_of
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
    Kind,
    Mount,
    Network,
    Port,
    SystemStats,
    Volume,
)
from ._history import Archive, History
from ._replay import MAP_OF_KIND, apply_change, replay
from ._state import DEFAULT_HISTORY_LIMIT, EngineState, Listener, utc_now

__all__ = [
    "COMPOSE_PROJECT_LABEL",
    "COMPOSE_SERVICE_LABEL",
    "DEFAULT_HISTORY_LIMIT",
    "MAP_OF_KIND",
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
    "Listener",
    "Mount",
    "Network",
    "Operation",
    "Port",
    "Remove",
    "SystemStats",
    "Upsert",
    "Volume",
    "apply_change",
    "kind_of",
    "replay",
    "utc_now",
]
