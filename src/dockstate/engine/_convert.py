"""Docker Engine API JSON -> dockstate entities. Pure functions, one per object kind.

The engine's answers are trusted for data; these functions only reshape them. A container's
environment (``Config.Env``) is never read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, get_args

from ..state import (
    COMPOSE_PROJECT_LABEL,
    COMPOSE_SERVICE_LABEL,
    Container,
    ContainerNetwork,
    ContainerState,
    EngineInfo,
    EngineStatus,
    HealthStatus,
    Image,
    Mount,
    Network,
    Port,
    Volume,
)

__all__ = [
    "STATE_WORDS",
    "container_after_event",
    "container_from_create",
    "container_from_inspect",
    "container_from_list",
    "container_summary",
    "engine_info_from",
    "image_from_list",
    "list_item_summary",
    "nanos",
    "network_from_api",
    "restarts_by_itself",
    "volume_from_api",
    "with_exit",
]

_ZERO_TIME = "0001-01-01T00:00:00Z"
_NONE_TAGS = {"<none>:<none>", "<none>@<none>"}
# States in which Docker's exit code means something to a user.
_EXIT_CODE_STATES = {"exited", "restarting"}

ContainerSummary = tuple[str, str, str, str | None, int | None, tuple[str, ...]]

#: Container states in other words than Docker's, as Docker would say them: Podman's
#: (``stopped`` between ``die`` and ``cleanup``, ``configured`` and ``initialized`` before
#: the first start, ``stopping``). A state no engine is known to report reads as ``dead``:
#: shown, never a reason to stop watching.
STATE_WORDS = {
    "stopped": "exited",
    "configured": "created",
    "initialized": "created",
    "stopping": "running",
    "unknown": "dead",
}
_DOCKER_STATES = frozenset(get_args(ContainerState))
_HEALTH_WORDS = frozenset(get_args(HealthStatus))


def _state(word: object) -> str:
    """A container's state in Docker's words (:data:`STATE_WORDS`)."""
    text = str(word or "created")
    return text if text in _DOCKER_STATES else STATE_WORDS.get(text, "dead")


def _time(value: str | None) -> str | None:
    return None if not value or value.startswith("0001-01-01") else value


def _epoch_to_iso(seconds: int | float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nanos(value: str | None) -> int:
    """An RFC 3339 time of the engine's (``StartedAt``...) in Unix nanoseconds (to the
    microsecond); 0 for none."""
    value = _time(value)
    if value is None:
        return 0
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return 0
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _nano_to_iso(time_nano: int) -> str:
    seconds, fraction = divmod(time_nano, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def _status(state: str, health: str | None, exit_code: int | None) -> str:
    """A stable summary in the words of ``docker ps``, without the relative time."""
    if state == "running":
        return f"Up ({health})" if health else "Up"
    text = {
        "paused": "Up (Paused)",
        "created": "Created",
        "removing": "Removal In Progress",
        "dead": "Dead",
        "exited": f"Exited ({exit_code})",
        "restarting": f"Restarting ({exit_code})",
    }
    return text.get(state, state.capitalize())


def _mounts(data: dict[str, Any]) -> list[Mount]:
    """The ``Mounts`` of an inspect or a listing item (both name them alike), sorted."""
    mounts = [
        Mount(
            type=m.get("Type", ""),
            name=m.get("Name") or None,
            source=m.get("Source") or "",
            destination=m.get("Destination", ""),
            rw=bool(m.get("RW", True)),
        )
        for m in data.get("Mounts") or []
    ]
    return sorted(mounts, key=lambda m: m.destination)


def container_from_inspect(data: dict[str, Any]) -> Container:
    """A Container from ``GET /containers/{id}/json``."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    settings = data.get("NetworkSettings") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    status = _state(state.get("Status"))
    health = (state.get("Health") or {}).get("Status")
    health = health if health in _HEALTH_WORDS else None
    exit_code = int(state.get("ExitCode", 0)) if status in _EXIT_CODE_STATES else None
    args = data.get("Args") or []
    command = " ".join([str(data.get("Path", "")), *map(str, args)]).strip()
    ports = []
    for spec, bindings in (settings.get("Ports") or {}).items():
        number, _, protocol = spec.partition("/")
        for binding in bindings or [None]:
            ports.append(
                Port(
                    private_port=int(number),
                    protocol=protocol or "tcp",
                    host_ip=(binding or {}).get("HostIp") or None,
                    host_port=int(binding["HostPort"])
                    if binding and binding.get("HostPort")
                    else None,
                )
            )
    ports.sort(key=lambda p: (p.private_port, p.protocol, p.host_ip or "", p.host_port or 0))
    networks = {
        name: ContainerNetwork(
            network_id=net.get("NetworkID") or "",
            ip_address=net.get("IPAddress") or "",
            mac_address=net.get("MacAddress") or "",
            aliases=sorted(net.get("Aliases") or []),
        )
        for name, net in (settings.get("Networks") or {}).items()
    }
    return Container(
        id=data["Id"],
        name=str(data.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        image_id=str(data.get("Image", "")),
        command=command,
        created=_time(data.get("Created")) or "",
        state=status,  # type: ignore[arg-type]  # validated by pydantic
        status=_status(status, health, exit_code),
        health=health,
        exit_code=exit_code,
        started_at=_time(state.get("StartedAt")),
        finished_at=_time(state.get("FinishedAt")),
        ports=ports,
        labels=labels,
        compose_project=labels.get(COMPOSE_PROJECT_LABEL),
        compose_service=labels.get(COMPOSE_SERVICE_LABEL),
        networks=networks,
        mounts=_mounts(data),
        restart_count=int(data.get("RestartCount", 0)),
    )


_LIST_EXIT = re.compile(r"^(?:Exited|Restarting) \((-?\d+)\)")
_LIST_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def list_item_summary(item: dict[str, Any]) -> ContainerSummary:
    """What ``GET /containers/json`` says of a container, comparable to :func:`container_summary`.

    Reconciliation compares the two to find the containers worth inspecting again. The health
    is the item's ``Health.Status`` where the engine sends it (API 1.52+), else read from its
    ``Status`` text.
    """
    status = str(item.get("Status", ""))
    state = _state(item.get("State"))
    listed_health = item.get("Health")
    if isinstance(listed_health, dict):
        word = listed_health.get("Status")
        health = word if word in _HEALTH_WORDS else None
    else:
        health_match = _LIST_HEALTH.search(status)
        health = health_match.group(1).removeprefix("health: ") if health_match else None
    exit_match = _LIST_EXIT.match(status)
    exit_code = int(exit_match.group(1)) if exit_match and state in _EXIT_CODE_STATES else None
    names = item.get("Names") or ["/"]
    networks = tuple(sorted((item.get("NetworkSettings") or {}).get("Networks") or {}))
    return (names[0].lstrip("/"), str(item.get("ImageID", "")), state, health, exit_code, networks)


def container_from_list(item: dict[str, Any], held: Container | None = None) -> Container:
    """A Container from one item of ``GET /containers/json``: all but what only an inspect
    tells (``started_at``, ``finished_at``, ``restart_count``, network aliases), which are
    taken from ``held`` (the container as known before), if any, until an inspect brings them.
    """
    name, image_id, state, health, exit_code, _ = list_item_summary(item)
    labels: dict[str, str] = item.get("Labels") or {}
    settings = (item.get("NetworkSettings") or {}).get("Networks") or {}
    known = held.networks if held is not None else {}
    ports = sorted(
        (
            Port(
                private_port=int(p.get("PrivatePort", 0)),
                protocol=p.get("Type") or "tcp",
                host_ip=p.get("IP") or None,
                host_port=int(p["PublicPort"]) if p.get("PublicPort") else None,
            )
            for p in item.get("Ports") or []
        ),
        key=lambda p: (p.private_port, p.protocol, p.host_ip or "", p.host_port or 0),
    )
    return Container(
        id=item["Id"],
        name=name,
        image=str(item.get("Image", "")),
        image_id=image_id,
        command=str(item.get("Command", "")),
        created=held.created if held is not None else _epoch_to_iso(int(item.get("Created", 0))),
        state=state,  # type: ignore[arg-type]  # validated by pydantic
        status=_status(state, health, exit_code),
        health=health,  # type: ignore[arg-type]
        exit_code=exit_code,
        started_at=held.started_at if held is not None else None,
        finished_at=held.finished_at if held is not None else None,
        ports=ports,
        labels=labels,
        compose_project=labels.get(COMPOSE_PROJECT_LABEL),
        compose_service=labels.get(COMPOSE_SERVICE_LABEL),
        networks={
            net: ContainerNetwork(
                network_id=data.get("NetworkID") or "",
                ip_address=data.get("IPAddress") or "",
                mac_address=data.get("MacAddress") or "",
                aliases=known[net].aliases if net in known else [],
            )
            for net, data in settings.items()
        },
        mounts=_mounts(item),
        restart_count=held.restart_count if held is not None else 0,
    )


def restarts_by_itself(data: dict[str, Any]) -> bool:
    """Whether a container's inspect data has a restart policy (the engine may restart it
    after it dies, so that it is ``restarting`` rather than ``exited``)."""
    policy = ((data.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name")
    return policy not in (None, "", "no")


def with_exit(held: Container, exit_code: int, time_nano: int | None = None) -> Container:
    """``held`` as the ``die`` event (at ``time_nano``, if given: its ``finished_at`` then) of
    a container without a restart policy leaves it.

    The event carries the exit code at once, while an inspect waits for the engine to finish
    with the container (a stop holds it for tens of milliseconds after ``die``); the inspect
    that follows brings the rest (the exact ``finished_at``...).
    """
    update: dict[str, Any] = {
        "state": "exited",
        "exit_code": exit_code,
        "status": _status("exited", held.health, exit_code),
    }
    if time_nano is not None:
        update["finished_at"] = _nano_to_iso(time_nano)
    return held.model_copy(update=update)


def container_from_create(
    cid: str, attributes: Mapping[str, str], time_nano: int, image_id: str
) -> Container:
    """A container as its ``create`` event tells it: its name, image and labels (Docker sends
    the labels as the event's attributes, beside ``name`` and ``image``), created now. The
    rest (command, ports, networks, mounts) waits for its inspect."""
    labels = {k: v for k, v in attributes.items() if k not in ("name", "image")}
    return Container(
        id=cid,
        name=attributes["name"],
        image=attributes["image"],
        image_id=image_id,
        command="",
        created=_nano_to_iso(time_nano),
        state="created",
        status=_status("created", None, None),
        labels=labels,
        compose_project=labels.get(COMPOSE_PROJECT_LABEL),
        compose_service=labels.get(COMPOSE_SERVICE_LABEL),
    )


def container_after_event(
    held: Container, action: str, attributes: Mapping[str, str], time_nano: int
) -> Container | None:
    """``held`` as a ``start``, ``pause``, ``unpause`` or ``rename`` event (at ``time_nano``)
    leaves it, or ``None`` when the event says nothing new of it: a ``pause`` of a container
    not running, an ``unpause`` of one not paused, a ``rename`` from another name than its
    own (each a sign that ``held`` is newer than the event). The inspect that follows the
    event confirms it and brings the rest (the exact ``started_at``...)."""
    update: dict[str, Any]
    if action == "start":
        health = "starting" if held.health is not None else None
        update = {
            "state": "running",
            "health": health,
            "exit_code": None,
            "started_at": _nano_to_iso(time_nano),
        }
    elif action == "pause" and held.state == "running":
        update = {"state": "paused"}
    elif action == "unpause" and held.state == "paused":
        update = {"state": "running"}
    elif action == "rename" and attributes.get("oldName", "").lstrip("/") == held.name:
        update = {"name": attributes.get("name", "").lstrip("/") or held.name}
    else:
        return None
    state = update.get("state", held.state)
    health = update.get("health", held.health)
    update["status"] = _status(state, health, update.get("exit_code", held.exit_code))
    return held.model_copy(update=update)


def container_summary(container: Container) -> ContainerSummary:
    """The fields of a container that :func:`list_item_summary` can see."""
    return (
        container.name,
        container.image_id,
        container.state,
        container.health,
        container.exit_code,
        tuple(sorted(container.networks)),
    )


def image_from_list(item: dict[str, Any]) -> Image:
    """An Image from one item of ``GET /images/json``."""
    return Image(
        id=item["Id"],
        tags=sorted(t for t in item.get("RepoTags") or [] if t not in _NONE_TAGS),
        digests=sorted(d for d in item.get("RepoDigests") or [] if d not in _NONE_TAGS),
        size=int(item.get("Size", 0)),
        created=_epoch_to_iso(int(item.get("Created", 0))),
        labels=item.get("Labels") or {},
    )


def volume_from_api(data: dict[str, Any]) -> Volume:
    """A Volume from ``GET /volumes/{name}`` or one item of ``GET /volumes``."""
    return Volume(
        name=data["Name"],
        driver=data.get("Driver", ""),
        mountpoint=data.get("Mountpoint", ""),
        created=_time(data.get("CreatedAt")),
        labels=data.get("Labels") or {},
        scope=data.get("Scope") or "local",
    )


def network_from_api(data: dict[str, Any]) -> Network:
    """A Network from ``GET /networks/{id}`` or one item of ``GET /networks``."""
    ipam = (data.get("IPAM") or {}).get("Config") or []
    return Network(
        id=data["Id"],
        name=data.get("Name", ""),
        driver=data.get("Driver", ""),
        scope=data.get("Scope") or "local",
        internal=bool(data.get("Internal", False)),
        subnets=sorted(c["Subnet"] for c in ipam if c.get("Subnet")),
        created=_time(data.get("Created")),
        labels=data.get("Labels") or {},
    )


def engine_info_from(
    info: dict[str, Any], version: dict[str, Any], *, host: str, status: EngineStatus
) -> EngineInfo:
    """EngineInfo from ``GET /info`` and ``GET /version``."""
    return EngineInfo(
        status=status,
        host=host,
        id=info.get("ID", ""),
        name=info.get("Name", ""),
        server_version=version.get("Version") or info.get("ServerVersion", ""),
        api_version=version.get("ApiVersion", ""),
        os=info.get("OperatingSystem", ""),
        os_type=info.get("OSType", ""),
        kernel_version=info.get("KernelVersion", ""),
        architecture=info.get("Architecture", ""),
        ncpu=int(info.get("NCPU", 0)),
        mem_total=int(info.get("MemTotal", 0)),
        storage_driver=info.get("Driver", ""),
        docker_root_dir=info.get("DockerRootDir", ""),
    )
