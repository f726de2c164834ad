"""The objects an EngineState holds, as immutable pydantic models.

These models are the one schema source: the wire protocol, the JSON Schema that the server
publishes and the TypeScript types of the UI all come from them.

Conventions:

- Every entity carries ``rev``, the state version of its last change; the core sets it.
- Times are ISO 8601 strings in UTC (``...Z``), or ``None`` where Docker has none.
- Fields marked *derived* are computed by the core from other objects (e.g. which containers
  use an image); whatever a caller puts there is overwritten.
- A container's environment is never part of the state: it holds secrets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COMPOSE_PROJECT_LABEL",
    "COMPOSE_SERVICE_LABEL",
    "Container",
    "ContainerNetwork",
    "ContainerState",
    "EngineInfo",
    "EngineStatus",
    "Entity",
    "HealthStatus",
    "Image",
    "Mount",
    "Network",
    "Port",
    "SystemStats",
    "Volume",
]

ContainerState = Literal["created", "running", "paused", "restarting", "removing", "exited", "dead"]
HealthStatus = Literal["starting", "healthy", "unhealthy"]
EngineStatus = Literal["connected", "disconnected", "resyncing"]

COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Entity(_Model):
    """Base of every object in the state."""

    rev: int = Field(default=0, ge=0, description="State version of this object's last change.")

    @property
    def key(self) -> str:
        """The object's id within its kind (the key of its map in the state)."""
        raise NotImplementedError


class Port(_Model):
    """One exposed port of a container, published on the host or not."""

    private_port: int
    protocol: str = Field(description="tcp, udp or sctp")
    host_ip: str | None = None
    host_port: int | None = None


class ContainerNetwork(_Model):
    """A container's attachment to one network (keyed by network name in the container)."""

    network_id: str = Field(description="Empty for a container that never ran.")
    ip_address: str = ""
    mac_address: str = ""
    aliases: list[str] = Field(default_factory=list)


class Mount(_Model):
    """A filesystem mounted into a container."""

    type: str = Field(description="volume, bind, tmpfs, npipe or cluster")
    name: str | None = Field(default=None, description="The volume's name, for type volume.")
    source: str = ""
    destination: str
    rw: bool = True


class Container(Entity):
    """A container, as ``docker inspect`` knows it, minus its environment."""

    id: str
    name: str
    image: str = Field(description="The image as the user named it, e.g. nginx:1.27.")
    image_id: str
    command: str
    created: str
    state: ContainerState
    status: str = Field(
        description=(
            "A stable human summary such as 'Up (healthy)' or 'Exited (137)'. Unlike "
            "`docker ps`, it holds no relative time: clients render started_at/finished_at."
        )
    )
    health: HealthStatus | None = None
    exit_code: int | None = Field(default=None, description="Set while exited or restarting.")
    started_at: str | None = None
    finished_at: str | None = None
    ports: list[Port] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    compose_project: str | None = None
    compose_service: str | None = None
    networks: dict[str, ContainerNetwork] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    restart_count: int = 0

    @property
    def key(self) -> str:
        return self.id


class Image(Entity):
    """A local image."""

    id: str
    tags: list[str] = Field(default_factory=list)
    digests: list[str] = Field(default_factory=list)
    size: int
    created: str
    labels: dict[str, str] = Field(default_factory=dict)
    containers: list[str] = Field(
        default_factory=list, description="Derived: ids of the containers created from it."
    )
    dangling: bool = Field(default=False, description="Derived: it has no tag.")

    @property
    def key(self) -> str:
        return self.id


class Volume(Entity):
    """A named volume."""

    name: str
    driver: str
    mountpoint: str
    created: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    scope: str = "local"
    used_by: list[str] = Field(
        default_factory=list, description="Derived: ids of the containers that mount it."
    )

    @property
    def key(self) -> str:
        return self.name


class Network(Entity):
    """A network."""

    id: str
    name: str
    driver: str
    scope: str = "local"
    internal: bool = False
    subnets: list[str] = Field(default_factory=list)
    created: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    containers: list[str] = Field(
        default_factory=list,
        description="Derived: ids of the containers attached to it, running or not.",
    )

    @property
    def key(self) -> str:
        return self.id


class EngineInfo(Entity):
    """The Docker engine itself, and dockstate's link to it."""

    status: EngineStatus = "disconnected"
    host: str = Field(default="", description="Where dockstate reaches the engine.")
    last_error: str | None = None
    id: str = ""
    name: str = ""
    server_version: str = ""
    api_version: str = ""
    os: str = ""
    os_type: str = ""
    kernel_version: str = ""
    architecture: str = ""
    ncpu: int = 0
    mem_total: int = 0
    storage_driver: str = ""
    docker_root_dir: str = ""

    @property
    def key(self) -> str:
        return "engine_info"


class SystemStats(Entity):
    """Totals derived from the state itself; computing them costs no Docker API call."""

    containers: int = 0
    containers_running: int = 0
    containers_paused: int = 0
    containers_stopped: int = Field(
        default=0, description="Neither running nor paused: created, exited, dead, removing."
    )
    containers_unhealthy: int = 0
    images: int = 0
    images_size: int = 0
    images_dangling: int = 0
    volumes: int = 0
    networks: int = 0

    @property
    def key(self) -> str:
        return "system_stats"
