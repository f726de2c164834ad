"""The wire protocol ``dockstate.v1`` as pydantic models: the one schema source.

Client messages are validated with these models; server messages are built on the hot path
as plain JSON (one serialization per change), and their models here exist for the published
JSON Schema, the generated TypeScript types, and the tests that check every message against
them. See docs/protocol.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter

from .state import (
    Container,
    EngineInfo,
    Image,
    Network,
    SystemStats,
    Volume,
)

__all__ = [
    "PROTOCOL",
    "Ack",
    "Bookmark",
    "ChangeMessage",
    "ChangesMessage",
    "ClientMessage",
    "CloseCode",
    "EngineStateModel",
    "EngineStateUpdate",
    "ErrorCode",
    "ErrorMessage",
    "Filter",
    "Hello",
    "Ping",
    "Pong",
    "Resync",
    "ResyncRequired",
    "Since",
    "Snapshot",
    "Subscribe",
    "Unsubscribe",
    "Welcome",
    "client_message_adapter",
]

PROTOCOL = "dockstate.v1"

ErrorCode = Literal["INVALID_MESSAGE", "INVALID_FILTER", "UNKNOWN_SUBSCRIPTION", "RATE_LIMITED"]
ResyncCode = Literal["EPOCH_MISMATCH", "VERSION_EXPIRED", "VERSION_TOO_NEW", "SLOW_CONSUMER"]
WireKind = Literal["container", "image", "volume", "network", "engine"]


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

    kinds: list[WireKind] | None = None
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


ClientMessage = Annotated[
    Hello | Subscribe | Unsubscribe | Resync | Ack | Ping, Field(discriminator="type")
]
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


class Welcome(BaseModel):
    type: Literal["welcome"] = "welcome"
    protocol: str = PROTOCOL
    server: str
    session: str
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
    kind: WireKind
    op: Literal["created", "updated", "removed"]
    id: str
    object: dict[str, Any] | None = None
    patch: list[dict[str, Any]] | None = None
    cause: Cause | None = None


class ChangesMessage(BaseModel):
    type: Literal["changes"] = "changes"
    sub: str
    epoch: str
    from_: int = Field(alias="from")
    to: int
    timestamp: str
    changes: list[ChangeMessage]


class Snapshot(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    sub: str
    epoch: str
    version: int
    state: EngineStateModel


class Bookmark(BaseModel):
    type: Literal["bookmark"] = "bookmark"
    sub: str
    epoch: str
    version: int


class ResyncRequired(BaseModel):
    type: Literal["resync_required"] = "resync_required"
    sub: str
    code: ResyncCode
    oldest: int
    current: int


class EngineStateUpdate(BaseModel):
    type: Literal["engine_state_update"] = "engine_state_update"
    sub: str
    data: EngineStateModel
    timestamp: str


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    id: str | int | None = None
    code: ErrorCode
    message: str


class Pong(BaseModel):
    type: Literal["pong"] = "pong"
    id: str | int | None = None
