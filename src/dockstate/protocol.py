"""The wire protocol ``dockstate.v1`` as pydantic models: the one schema source.

Client messages are validated with these models; server messages are built on the hot path
as plain JSON (one serialization per change), and their models here exist for the published
JSON Schema, the generated TypeScript types, and the tests that check every message against
them. See docs/protocol.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter

from .state import (
    Container,
    EngineInfo,
    Image,
    Kind,
    Network,
    SystemStats,
    Volume,
)
from .stats._sample import ContainerStats

__all__ = [
    "CLIENT_MESSAGE_TYPES",
    "PROTOCOL",
    "RESYNC_INTERNAL_ERROR",
    "Ack",
    "Bookmark",
    "ChangeMessage",
    "ChangesMessage",
    "ClientMessage",
    "CloseCode",
    "ContainerStats",
    "EngineEntry",
    "EngineLink",
    "EngineStateModel",
    "EngineStateUpdate",
    "ErrorCode",
    "ErrorMessage",
    "Filter",
    "Hello",
    "LogLineModel",
    "LogsEnd",
    "LogsMessage",
    "LogsSkipped",
    "OperationMessage",
    "Ping",
    "Pong",
    "Resync",
    "ResyncRequired",
    "Since",
    "Snapshot",
    "StatsMessage",
    "Subscribe",
    "SubscribeLogs",
    "SubscribeStats",
    "Unsubscribe",
    "Welcome",
    "client_message_adapter",
]

PROTOCOL = "dockstate.v1"

ErrorCode = Literal[
    "INVALID_MESSAGE",
    "INVALID_FILTER",
    "UNKNOWN_SUBSCRIPTION",
    "RATE_LIMITED",
    "UNKNOWN_ENGINE",
    "UNKNOWN_CONTAINER",
    "UNKNOWN_PROJECT",
    "LOGS_DISABLED",
]
#: How an engine's server stands with it (protocol.md §8).
EngineLink = Literal["connected", "connecting", "down"]
ResyncCode = Literal[
    "EPOCH_MISMATCH", "VERSION_EXPIRED", "VERSION_TOO_NEW", "SLOW_CONSUMER", "INTERNAL_ERROR"
]
#: The resync code (an extension of §5) of a subscription the server could not keep up to
#: date because of a failure of its own: a snapshot follows, as for every other code.
RESYNC_INTERNAL_ERROR: Final = "INTERNAL_ERROR"


class CloseCode:
    """WebSocket close codes of protocol.md §5."""

    PROTOCOL_VIOLATION = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN_ORIGIN = 4403
    HELLO_TIMEOUT = 4408
    DUPLICATE_SUBSCRIPTION = 4409
    TOO_MANY_MESSAGES = 4429
    SLOW_CONSUMER = 4499
    GOING_AWAY = 1001
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # extension: --max-connections are open


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# -- client -> server ----------------------------------------------------------------------


class Hello(_Message):
    type: Literal["hello"]
    protocol: StrictStr = PROTOCOL
    token: StrictStr | None = None
    client: StrictStr | None = None


class Filter(BaseModel):
    """Which objects a subscription receives. Omitted fields match everything; values within
    a field are OR-ed, fields are AND-ed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kinds: list[Kind] | None = None
    ids: list[StrictStr] | None = None
    names: list[StrictStr] | None = None
    labels: dict[StrictStr, StrictStr] | None = None


class Since(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    epoch: StrictStr
    version: StrictInt = Field(ge=0)


class Subscribe(_Message):
    type: Literal["subscribe"]
    id: StrictStr = Field(min_length=1, max_length=200)
    mode: Literal["changes", "full"] = "changes"
    filter: dict[str, Any] | None = Field(
        default=None, description="A Filter; invalid ones get INVALID_FILTER."
    )
    since: Since | None = None
    engine: StrictStr | None = Field(
        default=None, description="The engine's id (protocol.md §8); the default one if absent."
    )


class Unsubscribe(_Message):
    type: Literal["unsubscribe"]
    id: StrictStr


class Resync(_Message):
    type: Literal["resync"]
    id: StrictStr


class Ack(_Message):
    type: Literal["ack"]
    version: StrictInt


class Ping(_Message):
    type: Literal["ping"]
    id: StrictStr | StrictInt | None = None


class SubscribeStats(_Message):
    """protocol.md §9: a sampled stream of the matching running containers' usage."""

    type: Literal["subscribe_stats"]
    id: StrictStr = Field(min_length=1, max_length=200)
    filter: dict[str, Any] | None = Field(
        default=None,
        description="A Filter (ids, names, labels; kinds other than container match nothing).",
    )
    interval_ms: StrictInt = Field(default=1000, ge=500, le=60_000)
    engine: StrictStr | None = None


class SubscribeLogs(_Message):
    """protocol.md §10: a container's log (or a compose project's, merged), its last ``tail``
    lines and then, with ``follow``, every new one."""

    type: Literal["subscribe_logs"]
    id: StrictStr = Field(min_length=1, max_length=200)
    container: StrictStr | None = Field(
        default=None, max_length=200, description="An id, a prefix of one, or a name."
    )
    project: StrictStr | None = Field(
        default=None, max_length=200, description="A compose project, instead of container."
    )
    tail: StrictInt | None = Field(
        default=200, ge=0, description="The last N lines of each container; null: all."
    )
    follow: bool = False
    since: StrictStr | None = Field(default=None, description="RFC 3339 (or Unix seconds).")
    until: StrictStr | None = Field(default=None, description="RFC 3339 (or Unix seconds).")
    stdout: bool = True
    stderr: bool = True
    engine: StrictStr | None = None


ClientMessage = Annotated[
    Hello | Subscribe | SubscribeStats | SubscribeLogs | Unsubscribe | Resync | Ack | Ping,
    Field(discriminator="type"),
]
#: Every client message type, for telling an unknown type from a malformed message.
CLIENT_MESSAGE_TYPES: Final = (
    "hello",
    "subscribe",
    "subscribe_stats",
    "subscribe_logs",
    "unsubscribe",
    "resync",
    "ack",
    "ping",
)
client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# -- server -> client ----------------------------------------------------------------------


class EngineStateModel(BaseModel):
    """The EngineState of protocol.md §1 (as in snapshots; filtered for a subscription)."""

    containers: dict[str, Container]
    images: dict[str, Image]
    volumes: dict[str, Volume]
    networks: dict[str, Network]
    engine_info: EngineInfo | None = Field(
        default=None, description="Left out when the filter excludes kind engine."
    )
    system_stats: SystemStats | None = None
    version: int
    last_updated: str


class EngineEntry(BaseModel):
    """One engine of the server, as ``welcome`` lists it (protocol.md §8)."""

    id: str = Field(description="Its short stable name (`local`, `prod-1`, a context's name).")
    host: str = Field(description="Where the server reaches it (its DOCKER_HOST).")
    status: EngineLink = Field(
        description="connected: watched; connecting: not yet (or again) in step with the "
        "engine; down: it cannot be reached (the server keeps trying)."
    )


class Welcome(BaseModel):
    type: Literal["welcome"] = "welcome"
    protocol: str = PROTOCOL
    server: str
    session: str
    engine: str = Field(description="The default engine: epoch, version and oldest are its.")
    engines: list[EngineEntry] = Field(description="Every engine, the default one first.")
    epoch: str
    version: int
    oldest: int
    heartbeat_ms: int


class Cause(BaseModel):
    type: str
    action: str
    time_nano: int | None = None


class ChangeMessage(BaseModel):
    """One change: ``object`` for created (and possibly updated), ``patch`` for updated."""

    v: int
    kind: Kind
    op: Literal["created", "updated", "removed"]
    id: str
    object: dict[str, Any] | None = None
    patch: list[dict[str, Any]] | None = None
    cause: Cause | None = None


class ChangesMessage(BaseModel):
    type: Literal["changes"] = "changes"
    sub: str
    engine: str
    epoch: str
    from_: int = Field(alias="from")
    to: int
    timestamp: str
    changes: list[ChangeMessage]


class Snapshot(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    sub: str
    engine: str
    epoch: str
    version: int
    state: EngineStateModel


class Bookmark(BaseModel):
    type: Literal["bookmark"] = "bookmark"
    sub: str
    engine: str
    epoch: str
    version: int


class ResyncRequired(BaseModel):
    type: Literal["resync_required"] = "resync_required"
    sub: str
    engine: str
    code: ResyncCode
    oldest: int
    current: int


class EngineStateUpdate(BaseModel):
    type: Literal["engine_state_update"] = "engine_state_update"
    sub: str
    engine: str
    data: EngineStateModel
    timestamp: str


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    id: str | int | None = None
    code: ErrorCode
    message: str


class StatsMessage(BaseModel):
    """One sample of every running container a ``subscribe_stats`` matches; the latest wins."""

    type: Literal["stats"] = "stats"
    sub: str
    engine: str
    time: str = Field(description="When the sample was taken (RFC 3339, UTC).")
    containers: dict[str, ContainerStats]


class OperationMessage(BaseModel):
    """protocol.md §11: an operation changed status (sent to every connection that has a
    subscription)."""

    type: Literal["operation"] = "operation"
    engine: str
    operation: str
    action: str
    target: str
    status: Literal["pending", "done", "failed"]
    error: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None


class Pong(BaseModel):
    type: Literal["pong"] = "pong"
    id: str | int | None = None


class LogLineModel(BaseModel):
    """One line of a container's log."""

    container: str = Field(description="The container's id.")
    stream: Literal["stdout", "stderr"]
    time: str = Field(description="When the engine received it: RFC 3339, nanoseconds.")
    text: str = Field(description="Without its newline; invalid UTF-8 replaced by U+FFFD.")
    truncated: bool | None = Field(
        default=None,
        description="Extension: present (true) when the line was longer than 64 KiB and cut.",
    )


class LogsMessage(BaseModel):
    """Lines of a ``subscribe_logs``, in the engine's order for each container (a project's
    merged in time order), at most 500 a message."""

    type: Literal["logs"] = "logs"
    sub: str
    engine: str
    lines: list[LogLineModel]


class LogsSkipped(BaseModel):
    """Lines of ``container`` dropped here because the client did not keep up."""

    type: Literal["logs_skipped"] = "logs_skipped"
    sub: str
    engine: str
    container: str
    count: int


class LogsEnd(BaseModel):
    """The end of ``container``'s log in this subscription (a read without follow is done,
    or the container was removed). Extension: ``final`` marks the subscription's last
    message; ``container`` is null on a final end that concerns no one container."""

    type: Literal["logs_end"] = "logs_end"
    sub: str
    engine: str
    container: str | None
    final: bool | None = None
