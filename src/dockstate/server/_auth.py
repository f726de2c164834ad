"""Who may talk to the server: the token (header, cookie or hello) and the browser's Origin."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

__all__ = ["SESSION_COOKIE", "origin_allowed", "token_from_headers", "token_matches"]

SESSION_COOKIE = "dockstate_session"


def token_matches(given: str | None, expected: str) -> bool:
    """Compare tokens in constant time."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def token_from_headers(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: ``Authorization: Bearer …``, else the session cookie."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(SESSION_COOKIE) or None


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
