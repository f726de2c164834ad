"""REST (protocol.md §6): the state, the changes since a version, /healthz, and the problem
details (RFC 9457) that every REST error is answered with."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import wire
from ..errors import VersionError, VersionExpired
from ._auth import (
    bearer_token,
    origin_allowed,
    request_origin,
    token_from_headers,
    token_matches,
)
from ._context import ServerContext, context_of
from ._resume import changes_since

__all__ = [
    "ACTION_METHODS",
    "MAX_BODY",
    "PROBLEM_JSON",
    "BodyLimit",
    "Context",
    "Problem",
    "ProblemError",
    "authenticated",
    "install_rest",
    "problem",
    "problem_body",
    "problem_responses",
    "read_only_refusal",
]

PROBLEM_JSON = "application/problem+json"
#: The largest request body taken, in bytes (as for a WebSocket message); larger: 413.
MAX_BODY = 64 * 1024
#: The methods of the actions (every route that asks the engine to change something).
ACTION_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Problem(BaseModel):
    """An RFC 9457 problem details object; routes may add members (e.g. ``oldest``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="Always about:blank.")
    title: str = Field(description="The HTTP status phrase, e.g. 'Conflict'.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong; for engine refusals, Docker's message.")


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ProblemError(HTTPException):
    """Raise to answer with a problem details response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status, detail, headers)
        self.title = title or _phrase(status)
        self.extra = extra


def problem_body(err: ProblemError) -> dict[str, Any]:
    """The problem details object a ``ProblemError`` is answered with."""
    return {
        "type": "about:blank",
        "title": err.title,
        "status": err.status_code,
        "detail": err.detail,
        **err.extra,
    }


def _phrase(status: int) -> str:
    if status == 422:
        return "Unprocessable Content"  # RFC 9110's name; Python < 3.13 has the older one
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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
            "description": _DESCRIPTIONS.get(status, _phrase(status)),
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


def authenticated(request: Request) -> ServerContext:
    """The server context, once the request has shown the token (bearer header or cookie)
    and, for an action signed in by the cookie, come from an allowed origin."""
    ctx = context_of(request)
    refusal = _refusal(request, ctx)
    if refusal is not None:
        raise refusal
    return ctx


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


Context = Annotated[ServerContext, Depends(authenticated)]


def install_rest(app: FastAPI) -> None:
    """Add the read-only REST routes and the problem+json error handlers to ``app``."""

    @app.exception_handler(HTTPException)
    async def _on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # ProblemError, and Starlette's and FastAPI's own (unknown route 404, wrong method
        # 405, a body that is not even UTF-8 400).
        if exc.status_code == 400 and not isinstance(exc, ProblemError):
            # FastAPI parses the body before the dependencies run, as for 422 below.
            exc = _refusal_before_validation(request) or exc
        title = getattr(exc, "title", None) or _phrase(exc.status_code)
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
        return problem(422, _phrase(422), f"{where}: {first['msg']}", errors=errors)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness, without authentication: the server answers, and its link to Docker."""
        ctx = context_of(request)
        return {"status": "ok", "engine": ctx.state.engine_info.status}

    @app.get("/api/v1/state", tags=["state"], responses=problem_responses(401))
    async def get_state(ctx: Context) -> dict[str, Any]:
        """The whole EngineState with its epoch and version."""
        state = ctx.state
        return {"epoch": state.epoch, "version": state.version, "state": state.snapshot()}

    @app.get(
        "/api/v1/changes",
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
