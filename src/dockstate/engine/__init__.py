"""The Docker adapter: the engine's client, its events, and the watcher that feeds the state."""

from ._client import (
    DEFAULT_DOCKER_HOST,
    MAX_API_VERSION,
    ContainerAction,
    DockerClient,
    resolve_docker_host,
)
from ._convert import (
    container_from_inspect,
    engine_info_from,
    image_from_list,
    network_from_api,
    volume_from_api,
)
from ._dialect import Dialect
from ._events import DockerEvent, EventDeduper, Read, Relist, Target, format_since, targets_of
from ._watcher import MAX_BACKLOG, EventBacklogFull, Watcher, WatcherStats

__all__ = [
    "DEFAULT_DOCKER_HOST",
    "MAX_API_VERSION",
    "MAX_BACKLOG",
    "ContainerAction",
    "Dialect",
    "DockerClient",
    "DockerEvent",
    "EventBacklogFull",
    "EventDeduper",
    "Read",
    "Relist",
    "Target",
    "Watcher",
    "WatcherStats",
    "container_from_inspect",
    "engine_info_from",
    "format_since",
    "image_from_list",
    "network_from_api",
    "resolve_docker_host",
    "targets_of",
    "volume_from_api",
]
