"""``GET /api/v1/schema``: the JSON Schema of every wire message and entity, generated from the
pydantic models that are the one schema source (dockstate.protocol, dockstate.state)."""

from __future__ import annotations

import functools
from typing import Any, get_args

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from .. import protocol
from ..state import Container, EngineInfo, Image, Network, SystemStats, Volume
from ._actions import Accepted, CreateRequest, RenameRequest
from ._history import Timeline
from ._rest import Problem, authenticated, problem_responses

__all__ = ["install_schema", "schemas"]

_CLIENT_MESSAGES: tuple[type[BaseModel], ...] = (
    protocol.Hello,
    protocol.Subscribe,
    protocol.Unsubscribe,
    protocol.Resync,
    protocol.Ack,
    protocol.Ping,
)
_SERVER_MESSAGES: tuple[type[BaseModel], ...] = (
    protocol.Welcome,
    protocol.Snapshot,
    protocol.ChangesMessage,
    protocol.Bookmark,
    protocol.ResyncRequired,
    protocol.EngineStateUpdate,
    protocol.ErrorMessage,
    protocol.Pong,
)
_ENTITIES: tuple[type[BaseModel], ...] = (
    Container,
    Image,
    Volume,
    Network,
    EngineInfo,
    SystemStats,
)
_TYPES: dict[str, type[BaseModel]] = {
    "EngineState": protocol.EngineStateModel,
    "Change": protocol.ChangeMessage,
    "Cause": protocol.Cause,
    "Filter": protocol.Filter,
    "Since": protocol.Since,
}
_REST: tuple[type[BaseModel], ...] = (
    Accepted,
    RenameRequest,
    CreateRequest,
    Problem,
    Timeline,
)


def _message_type(model: type[BaseModel]) -> str:
    (value,) = get_args(model.model_fields["type"].annotation)
    return str(value)


@functools.cache
def schemas() -> dict[str, Any]:
    """Every schema, by group and name (computed once)."""
    return {
        "protocol": protocol.PROTOCOL,
        "client_messages": {_message_type(m): m.model_json_schema() for m in _CLIENT_MESSAGES},
        "server_messages": {_message_type(m): m.model_json_schema() for m in _SERVER_MESSAGES},
        "entities": {m.__name__: m.model_json_schema() for m in _ENTITIES},
        "types": {name: m.model_json_schema() for name, m in _TYPES.items()},
        "rest": {m.__name__: m.model_json_schema() for m in _REST},
    }


def install_schema(app: FastAPI) -> None:
    """Add ``GET /api/v1/schema`` (authenticated) to ``app``."""

    @app.get(
        "/api/v1/schema",
        tags=["state"],
        dependencies=[Depends(authenticated)],
        responses=problem_responses(401),
    )
    async def get_schema() -> dict[str, Any]:
        """The JSON Schema of every wire message (client and server, by ``type``), every
        entity, and the other types (EngineState, Change, Filter...), from the pydantic
        models."""
        return schemas()
