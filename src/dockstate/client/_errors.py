"""What a dockstate server's refusals mean in the exception tree of :mod:`dockstate.errors`:
REST error responses (:func:`http_error`) and WebSocket close codes (:func:`close_error`).

A server answers every REST error with problem+json (RFC 9457). It relays the engine's
refusals with Docker's own message: 404 and 409 (:class:`NotFound`, :class:`Conflict`), the
other 4xx as they came, and the engine's internal errors as 502 (:class:`EngineAPIError`).
What the server says on its own account is a :class:`ServerError`: 503 (it cannot reach the
engine, or keeps no history), 500 (it failed), 413 and 422 (it refused the request itself),
and any error answer that is not problem+json (not dockstate's: a proxy, a wrong URL).
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import httpx

from ..errors import (
    AuthError,
    Conflict,
    DockstateError,
    EngineAPIError,
    NotFound,
    ProtocolError,
    ServerError,
    UnknownEngine,
    VersionExpired,
    VersionTooNew,
)
from ..protocol import CloseCode

__all__ = ["PROBLEM_JSON", "close_error", "http_error", "reason"]

PROBLEM_JSON: Final = "application/problem+json"

#: Statuses that a server answers of its own accord, never relaying the engine.
_SERVER_STATUSES: Final = frozenset({413, 422, 500, 503})

#: Close codes after which reconnecting cannot help: a bug on one side, or a refusal.
_FATAL_CLOSES: Final = {
    CloseCode.PROTOCOL_VIOLATION: "the server closed the connection: protocol violation",
    CloseCode.DUPLICATE_SUBSCRIPTION: "the server closed the connection: duplicate subscription",
    CloseCode.TOO_MANY_MESSAGES: "the server closed the connection: too many messages",
    CloseCode.TOO_BIG: "the server closed the connection: message too big",
    1002: "the server closed the connection: WebSocket protocol error",
    1003: "the server closed the connection: unsupported data",
    1007: "the server closed the connection: invalid frame payload",
}
_AUTH_CLOSES: Final = {
    CloseCode.UNAUTHORIZED: "the server refused the token",
    CloseCode.FORBIDDEN_ORIGIN: "the server refused this client's origin",
}


def reason(exc: BaseException) -> str:
    """An exception as a readable phrase, even when it has no message."""
    return str(exc) or type(exc).__name__


def close_error(code: int, why: str) -> DockstateError | None:
    """The error a close code stands for when reconnecting cannot help; ``None`` when a
    reconnect may."""
    suffix = f": {why}" if why else ""
    if code in _AUTH_CLOSES:
        return AuthError(f"{_AUTH_CLOSES[code]} (close {code}{suffix})", code)
    if code in _FATAL_CLOSES:
        return ProtocolError(f"{_FATAL_CLOSES[code]} (close {code}{suffix})")
    return None


def http_error(response: httpx.Response, since: int | None = None) -> DockstateError:
    """The error a REST error response stands for; its message is the problem's detail.

    ``since`` is the version a ``GET /api/v1/changes`` asked for (its 409 and 410 carry the
    server's window: :class:`VersionTooNew`, :class:`VersionExpired`).
    """
    status = response.status_code
    problem: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            problem = body
    detail = problem.get("detail") or problem.get("title") or response.text.strip()
    if not isinstance(detail, str) or not detail:
        detail = f"HTTP {status} {response.reason_phrase}".strip()
    if status in (409, 410) and since is not None:
        # GET /changes: 410 is protocol.md's "too old"; dockstate also answers a version newer
        # than the current one with 409; both carry the window (an extension).
        oldest, current = problem.get("oldest"), problem.get("current")
        if isinstance(oldest, int) and isinstance(current, int):
            if status == 410:
                return VersionExpired(since, oldest, current)
            return VersionTooNew(since, oldest, current)
    if status in (401, 403):
        return AuthError(detail, status)
    if status == 404 and problem.get("code") == "UNKNOWN_ENGINE":
        return UnknownEngine(detail)
    if status == 404:
        return NotFound(status, detail)
    if status == 409:
        return Conflict(status, detail)
    if status in _SERVER_STATUSES or not _is_problem(response):
        return ServerError(status, detail)
    return EngineAPIError(status, detail)


def _is_problem(response: httpx.Response) -> bool:
    media_type: str = response.headers.get("content-type", "")
    return media_type.partition(";")[0].strip().lower() == PROBLEM_JSON
