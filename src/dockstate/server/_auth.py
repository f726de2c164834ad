"""Who may talk to the server: the token (header, cookie or hello) and the browser's Origin."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = [
    "SESSION_COOKIE",
    "bearer_token",
    "origin_allowed",
    "request_origin",
    "token_from_headers",
    "token_matches",
]

SESSION_COOKIE = "dockstate_session"


def token_matches(given: str | None, expected: str) -> bool:
    """Compare tokens in constant time (for tokens of the same length)."""
    if not given:
        return False
    # surrogatepass: a token from a JSON hello may hold a lone surrogate ("\ud800"), which
    # plain UTF-8 cannot encode; it must compare unequal, not raise.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if the request has one."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def token_from_headers(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: ``Authorization: Bearer …``, else the session cookie."""
    return bearer_token(headers) or cookies.get(SESSION_COOKIE) or None


def request_origin(headers: Mapping[str, str]) -> str | None:
    """Where a browser says a request comes from: its ``Origin``, else the origin
    (``scheme://host[:port]``) of its ``Referer``; None when it sends neither."""
    origin = headers.get("origin")
    if origin:
        return origin
    referer = urlsplit(headers.get("referer", ""))
    if referer.scheme and referer.netloc:
        return f"{referer.scheme}://{referer.netloc.rpartition('@')[2]}"
    return None


def origin_allowed(
    origin: str | None, host: str | None, scheme: str, allowed: tuple[str, ...]
) -> bool:
    """Whether a browser ``Origin`` may talk to us: none (not a browser), our own, or listed.

    ``host`` is the request's Host header; ``scheme`` is ``http`` or ``https``.
    """
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if host and origin in (
        f"{scheme}://{host}".lower(),
        f"{scheme.replace('ws', 'http')}://{host}".lower(),
    ):
        return True
    return origin in {o.rstrip("/").lower() for o in allowed}
