"""REST (protocol.md §6): the state, the changes since a version, /healthz, and the problem
details (RFC 9457) that every REST error is answered with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import wire
from ..errors import UnknownEngine, VersionError, VersionExpired
from ..protocol import EngineEntry
from ._auth import (
    bearer_token,
    origin_allowed,
    request_origin,
    token_from_headers,
    token_matches,
)
from ._context import ServerContext, context_of
from ._engines import Engine
from ._problems import PROBLEM_JSON, Problem, ProblemError, phrase, problem, problem_body
from ._resume import changes_since

__all__ = [
    "ACTION_METHODS",
    "MAX_BODY",
    "PROBLEM_JSON",
    "UNKNOWN_ENGINE_RESPONSE",
    "BodyLimit",
    "Context",
    "EngineList",
    "Problem",
    "ProblemError",
    "authenticated",
    "authorized",
    "engine_path",
    "install_rest",
    "problem",
    "problem_body",
    "problem_responses",
    "read_only_refusal",
]

#: The largest request body taken, in bytes (as for a WebSocket message); larger: 413.
MAX_BODY = 64 * 1024
#: The methods of the actions (every route that asks the engine to change something).
ACTION_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_DESCRIPTIONS = {
    400: "The body is not JSON text, or the engine refused the parameters (Docker's message).",
    401: "No token, or a wrong one.",
    403: "The server is read-only, or the engine forbids it (Docker's message).",
    404: "No such object (Docker's message).",
    409: "The engine refused in the object's current state (Docker's message).",
    410: "The version is older than the oldest change still kept.",
    413: "The request's body is over 64 KiB.",
    422: "The request's parameters or body are invalid.",
    502: "The engine failed with an internal error (Docker's message).",
    503: "The Docker engine cannot be reached.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem details answers with these statuses."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, phrase(status)),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }


def _too_large() -> ProblemError:
    return ProblemError(413, f"the request's body is over {MAX_BODY // 1024} KiB")


class BodyLimit:
    """ASGI middleware: a request body over ``MAX_BODY`` bytes is answered 413 problem+json
    without being read (declared by Content-Length) or read further (chunked).

    FastAPI reads a request's whole body before the token is checked: without a bound, anyone
    could make the server buffer gigabytes. (FastAPI's own ``max_body_size`` answers a declared
    length in plain text, not problem+json.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            error = _too_large()
            await problem(error.status_code, error.title, str(error.detail))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:
                raise _too_large()  # FastAPI lets it through to the problem handler
            return message

        await self.app(scope, limited, send)


def _unauthorized() -> ProblemError:
    return ProblemError(
        401,
        "a valid token is required (Authorization: Bearer …)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def read_only_refusal() -> ProblemError:
    return ProblemError(403, "this server is read-only: actions are refused")


def _cross_site(request: Request, ctx: ServerContext) -> ProblemError | None:
    """403 for an action that the session cookie authenticates but that does not come from
    this server's own pages (or an ``--allow-origin``): cross-site request forgery.

    A browser attaches the cookie by itself, so the cookie alone does not show that the page
    asking is ours; its ``Origin`` (sent with every POST and DELETE ``fetch``) does. A bearer
    token is never attached by a browser, so requests carrying one are not checked.
    """
    if request.method not in ACTION_METHODS or bearer_token(request.headers) is not None:
        return None
    origin = request_origin(request.headers)
    if origin is None:
        return ProblemError(
            403,
            "an action signed in with the session cookie must carry an Origin or Referer "
            "header (browsers send one); scripts should send Authorization: Bearer <token>",
        )
    host, scheme = request.headers.get("host"), request.url.scheme
    if not origin_allowed(origin, host, scheme, ctx.config.allow_origins):
        return ProblemError(
            403,
            f"cross-site request refused: an action signed in with the session cookie came "
            f"from {origin[:100]!r}, which is not this server's origin (add it with "
            "--allow-origin if it should be allowed)",
        )
    return None


def _refusal(request: Request, ctx: ServerContext) -> ProblemError | None:
    """Why ``request`` may not reach its route: no valid token (401), or a cross-site action
    (403); None when it may."""
    if not token_matches(token_from_headers(request.headers, request.cookies), ctx.config.token):
        return _unauthorized()
    return _cross_site(request, ctx)


def authorized(request: Request) -> ServerContext:
    """The server context, once the request has shown the token (bearer header or cookie)
    and, for an action signed in by the cookie, come from an allowed origin."""
    ctx = context_of(request)
    refusal = _refusal(request, ctx)
    if refusal is not None:
        raise refusal
    return ctx


def authenticated(request: Request) -> Engine:
    """The engine the request is about (the path's ``{engine}``, else the default one),
    once the request is :func:`authorized` (and, on a read-only server, not an action: 403).
    An unknown engine is 404, told only to those who showed the token."""
    ctx = authorized(request)
    if ctx.config.read_only and request.method in ACTION_METHODS:
        raise read_only_refusal()  # before the engine: no action is answered but 403
    try:
        return ctx.engines.find(request.path_params.get("engine"))
    except UnknownEngine as err:
        raise ProblemError(404, str(err), code="UNKNOWN_ENGINE") from None


#: What every route under /api/v1/engines/{engine} may also answer.
UNKNOWN_ENGINE_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "No such engine (`code`: `UNKNOWN_ENGINE`), or no such object.",
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }
}


def engine_path(
    engine: Annotated[str, Path(description="An engine's id (GET /api/v1/engines).")],
) -> None:
    """Documents the ``{engine}`` of the prefixed routes; :func:`authenticated` resolves it
    (after the token, so that the unauthenticated learn nothing of which engines exist)."""


def _refusal_before_validation(request: Request) -> ProblemError | None:
    """What to answer instead of 422: FastAPI parses a JSON body before it runs the
    dependencies, so a malformed body must not tell an unauthenticated caller more than 401
    (or a cross-site one, or an action on a read-only server, more than 403)."""
    ctx = getattr(request.app.state, "dockstate", None)
    if ctx is None:
        return None
    refusal = _refusal(request, ctx)
    if refusal is not None:
        return refusal
    if ctx.config.read_only and request.method in ACTION_METHODS:
        return read_only_refusal()
    return None


Context = Annotated[Engine, Depends(authenticated)]


class EngineList(BaseModel):
    """``GET /api/v1/engines``."""

    default: str = Field(description="The engine of the unprefixed routes.")
    engines: list[EngineEntry]


def install_rest(app: FastAPI, api: APIRouter) -> None:
    """Add the problem+json error handlers, /healthz and ``GET /api/v1/engines`` to ``app``
    and the read-only state routes to ``api`` (mounted under ``/api/v1``)."""

    @app.exception_handler(HTTPException)
    async def _on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # ProblemError, and Starlette's and FastAPI's own (unknown route 404, wrong method
        # 405, a body that is not even UTF-8 400).
        if exc.status_code == 400 and not isinstance(exc, ProblemError):
            # FastAPI parses the body before the dependencies run, as for 422 below.
            exc = _refusal_before_validation(request) or exc
        title = getattr(exc, "title", None) or phrase(exc.status_code)
        extra: dict[str, Any] = getattr(exc, "extra", None) or {}
        return problem(exc.status_code, title, str(exc.detail), exc.headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        refusal = _refusal_before_validation(request)
        if refusal is not None:
            return await _on_http_error(request, refusal)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"]) or "request"
        return problem(422, phrase(422), f"{where}: {first['msg']}", errors=errors)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness, without authentication: the server answers, and its link to Docker."""
        ctx = context_of(request)
        return {"status": "ok", "engine": ctx.engines.default.state.engine_info.status}

    @app.get(
        "/api/v1/engines",
        tags=["engines"],
        response_model=EngineList,
        responses=problem_responses(401),
    )
    async def get_engines(ctx: Annotated[ServerContext, Depends(authorized)]) -> EngineList:
        """Every engine the server watches, with its status; the first is the default."""
        engines = ctx.engines
        return EngineList.model_validate(
            {"default": engines.default.id, "engines": engines.summaries()}
        )

    @api.get("/state", tags=["state"], responses=problem_responses(401))
    async def get_state(ctx: Context) -> dict[str, Any]:
        """The whole EngineState with its epoch and version."""
        state = ctx.state
        return {"epoch": state.epoch, "version": state.version, "state": state.snapshot()}

    @api.get(
        "/changes",
        tags=["state"],
        response_model=None,
        responses=problem_responses(401, 409, 410, 422),
    )
    async def get_changes(ctx: Context, since: Annotated[int, Query(ge=0)]) -> Any:
        """Every change after version ``since``; 410 when it is older than the history,
        409 when it is newer than the current version."""
        state = ctx.state
        try:
            changes = await changes_since(state, since)
        except VersionExpired as err:
            return problem(410, "Gone", str(err), oldest=err.oldest, current=err.current)
        except VersionError as err:
            return problem(409, "Conflict", str(err), oldest=err.oldest, current=err.current)
        return {
            "epoch": state.epoch,
            "from": since,
            "to": state.version,
            "changes": [wire.change_json(c) for c in changes],
        }
