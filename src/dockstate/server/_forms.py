"""The bodies of the actions that make things (protocol.md §11): pull an image, run a
container, in the forms ``docker pull`` and ``docker run`` users know, validated strictly
before anything is made (a malformed form is 422 with a clear message).

Environment values are write-only: ``RunRequest.env`` holds them as secrets (``repr``,
``str`` and a dump show ``**********``), no validation message quotes them, and only
:meth:`RunRequest.engine_body` (sent to the engine, never logged) has them in clear.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

__all__ = [
    "IMAGE_PATTERN",
    "PortSpec",
    "PullRequest",
    "RunRequest",
    "parse_port",
    "parse_restart",
    "parse_volume",
]

#: An image reference as ``docker pull`` takes it: ``[registry[:port]/]name[:tag][@digest]``
#: (Docker checks the finer rules and answers 400 with its own message).
IMAGE_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[^=\s\x00]+$")
_PROTOCOLS = ("tcp", "udp", "sctp")

Image = Annotated[str, Field(min_length=1, max_length=512, pattern=IMAGE_PATTERN)]


class PortSpec(BaseModel):
    """One published port, as parsed from ``[ip:][host:]container[/proto]``."""

    host_ip: str = ""
    host_port: str = ""  # empty: the engine picks one
    container_port: int
    protocol: str = "tcp"

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.protocol}"


def _port_number(text: str, what: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port spec {spec!r}: the {what} port must be a number from 1 to 65535")
    return int(text)


def parse_port(spec: str) -> PortSpec:
    """``[ip:][host:]container[/proto]`` (IPv6 addresses in brackets), as ``docker run -p``.

    Raises:
        ValueError: with a message naming what is wrong.
    """
    rest, slash, protocol = spec.partition("/")
    if slash and protocol not in _PROTOCOLS:
        raise ValueError(f"port spec {spec!r}: the protocol must be tcp, udp or sctp")
    host_ip = ""
    if rest.startswith("["):
        address, bracket, rest = rest[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"port spec {spec!r}: want [ipv6]:host:container")
        host_ip, rest = address, rest[1:]
        parts = rest.split(":")
        if len(parts) != 2:
            raise ValueError(f"port spec {spec!r}: want [ipv6]:host:container")
        host, container = parts
    else:
        parts = rest.split(":")
        if len(parts) == 1:
            host, container = "", parts[0]
        elif len(parts) == 2:
            host, container = parts
        elif len(parts) == 3:
            host_ip, host, container = parts
        else:
            raise ValueError(f"port spec {spec!r}: want [ip:]host:container[/proto]")
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ValueError(f"port spec {spec!r}: {host_ip!r} is not an IP address") from None
    container_port = _port_number(container, "container", spec)
    if host:
        _port_number(host, "host", spec)
    elif len(parts) == 2 and not host_ip:
        raise ValueError(f"port spec {spec!r}: the host port is empty (want host:container)")
    return PortSpec(
        host_ip=host_ip,
        host_port=host,
        container_port=container_port,
        protocol=protocol or "tcp",
    )


def parse_volume(spec: str) -> str:
    """``source:target[:ro|rw]``, as ``docker run -v``: ``source`` an absolute host path (a
    bind mount) or a volume's name; ``target`` an absolute path in the container. Returns the
    bind as the engine takes it.

    Raises:
        ValueError: with a message naming what is wrong.
    """
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"volume {spec!r}: want source:target or source:target:ro")
    source, target = parts[0], parts[1]
    if len(parts) == 3 and parts[2] not in ("ro", "rw"):
        raise ValueError(f"volume {spec!r}: the mode must be ro or rw")
    if not source:
        raise ValueError(f"volume {spec!r}: the source is empty")
    if not source.startswith("/") and not _NAME.match(source):
        raise ValueError(
            f"volume {spec!r}: the source must be an absolute host path or a volume name "
            "([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
        )
    if not target.startswith("/"):
        raise ValueError(f"volume {spec!r}: the target must be an absolute path")
    return spec


def parse_restart(spec: str) -> dict[str, Any]:
    """``no``, ``always``, ``unless-stopped`` or ``on-failure[:N]``, as ``docker run
    --restart``; returns the engine's ``RestartPolicy``.

    Raises:
        ValueError: with a message naming what is wrong.
    """
    name, colon, count = spec.partition(":")
    if name in ("no", "always", "unless-stopped") and not colon:
        return {"Name": name if name != "no" else "", "MaximumRetryCount": 0}
    if name == "on-failure":
        if not colon:
            return {"Name": name, "MaximumRetryCount": 0}
        if count.isdigit():
            return {"Name": name, "MaximumRetryCount": int(count)}
        raise ValueError(f"restart {spec!r}: the retry count must be a whole number")
    raise ValueError(f"restart {spec!r}: want no, always, unless-stopped or on-failure[:N]")


def _env_item(value: SecretStr) -> SecretStr:
    # Never quote the value (nor the item, which holds it) in the message.
    name, equals, _ = value.get_secret_value().partition("=")
    if not equals:
        raise ValueError("an environment item must be NAME=value")
    if not _ENV_NAME.match(name):
        raise ValueError("an environment variable's name must be non-empty, without = or spaces")
    return value


EnvItem = Annotated[SecretStr, AfterValidator(_env_item)]


class PullRequest(BaseModel):
    """The body of ``POST /api/v1/images/pull``."""

    model_config = ConfigDict(extra="forbid")

    image: Image = Field(
        description="What to pull: `name[:tag]` (no tag: `latest`) or `name@digest`."
    )


class RunRequest(BaseModel):
    """The body of ``POST /api/v1/containers``: what ``docker run`` takes, in its own forms.
    Only ``image`` is required."""

    model_config = ConfigDict(extra="forbid")

    image: Image = Field(description="The image to run (the engine must have it: pull first).")
    name: str | None = Field(
        default=None, min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
    )
    command: list[str] | None = Field(
        default=None, max_length=1000, description="The command, replacing the image's CMD."
    )
    env: list[EnvItem] = Field(
        default_factory=list,
        max_length=1000,
        description="`NAME=value` items. Write-only: never echoed back, logged or stored.",
    )
    ports: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Published ports: `[ip:]host:container[/proto]` (also `container` and "
        "`ip::container`: the engine picks the host port).",
    )
    volumes: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="`source:target[:ro|rw]`: `source` an absolute host path or a volume name.",
    )
    network: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
        description="The network to attach to (a name or id; also `host`, `none`).",
    )
    restart: str = Field(
        default="no", description="`no`, `always`, `unless-stopped` or `on-failure[:N]`."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    start: bool = Field(default=True, description="Start it once created (else: created only).")

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[str]) -> list[str]:
        for spec in value:
            parse_port(spec)
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: list[str]) -> list[str]:
        for spec in value:
            parse_volume(spec)
        return value

    @field_validator("restart")
    @classmethod
    def _restart(cls, value: str) -> str:
        parse_restart(value)
        return value

    def engine_body(self) -> dict[str, Any]:
        """The Engine API's create body (``Env`` in clear: never log it)."""
        ports = [parse_port(spec) for spec in self.ports]
        bindings: dict[str, list[dict[str, str]]] = {}
        for port in ports:
            bindings.setdefault(port.key, []).append(
                {"HostIp": port.host_ip, "HostPort": port.host_port}
            )
        host: dict[str, Any] = {
            "PortBindings": bindings,
            "Binds": list(self.volumes),
            "RestartPolicy": parse_restart(self.restart),
        }
        if self.network:
            host["NetworkMode"] = self.network
        body: dict[str, Any] = {
            "Image": self.image,
            "Env": [item.get_secret_value() for item in self.env],
            "Labels": dict(self.labels),
            "ExposedPorts": {port.key: {} for port in ports},
            "HostConfig": host,
        }
        if self.command is not None:
            body["Cmd"] = list(self.command)
        return body
