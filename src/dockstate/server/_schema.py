"""``GET /api/v1/schema``: the JSON Schema of every wire message and entity, generated from the
pydantic models that are the one schema source (dockstate.protocol, dockstate.state); and the
OpenAPI description of the REST routes (``/openapi.json``, browsable at ``/docs`` and
``/redoc``). All of them need the token, like everything but ``/healthz``."""

from __future__ import annotations

import functools
from typing import Any, get_args

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from .. import protocol
from ..state import ENGINE_KEYS, KINDS
from ._actions import Accepted, CreateRequest, RenameRequest
from ._details import ContainerDetails
from ._forms import PullRequest, RunRequest
from ._history import Timeline
from ._operations import Operation
from ._rest import EngineList, Problem, authorized, problem_responses
from ._workflows import ProjectProgress, PullProgress

__all__ = ["install_openapi", "install_schema", "schemas"]

_CLIENT_MESSAGES: tuple[type[BaseModel], ...] = (
    protocol.Hello,
    protocol.Subscribe,
    protocol.SubscribeStats,
    protocol.SubscribeLogs,
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
    protocol.StatsMessage,
    protocol.OperationMessage,
    protocol.LogsMessage,
    protocol.LogsSkipped,
    protocol.LogsEnd,
    protocol.ErrorMessage,
    protocol.Pong,
)
_ENTITIES: tuple[type[BaseModel], ...] = (
    *(spec.model for spec in KINDS.values()),
    *ENGINE_KEYS.values(),
)
_TYPES: dict[str, type[BaseModel]] = {
    "EngineState": protocol.EngineStateModel,
    "Change": protocol.ChangeMessage,
    "Cause": protocol.Cause,
    "Filter": protocol.Filter,
    "Since": protocol.Since,
    "LogLine": protocol.LogLineModel,
}
_REST: tuple[type[BaseModel], ...] = (
    Accepted,
    RenameRequest,
    CreateRequest,
    PullRequest,
    RunRequest,
    PullProgress,
    ProjectProgress,
    Problem,
    Timeline,
    Operation,
    ContainerDetails,
    EngineList,
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
        dependencies=[Depends(authorized)],
        responses=problem_responses(401),
    )
    async def get_schema() -> dict[str, Any]:
        """The JSON Schema of every wire message (client and server, by ``type``), every
        entity, and the other types (EngineState, Change, Filter...), from the pydantic
        models."""
        return schemas()


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document and its two viewers, authenticated.

    ``app`` must be created with ``openapi_url``, ``docs_url`` and ``redoc_url`` set to None:
    FastAPI's own routes for them take no dependencies.
    """
    title = f"{app.title} {app.version}"
    authenticated_page: dict[str, Any] = {
        "include_in_schema": False,
        "dependencies": [Depends(authorized)],
    }

    @app.get("/openapi.json", **authenticated_page)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", **authenticated_page)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=title)

    @app.get("/redoc", **authenticated_page)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=title)
