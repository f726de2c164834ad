"""The web UI: the built React app at ``/`` and ``/assets/…``, and the browser's sign-in.

Signing in: ``dockstate serve`` prints ``http://HOST:PORT/?token=T``. Opening it sets the
session cookie (HttpOnly, SameSite=Strict, value: the token) and redirects to ``/``, so the
token leaves the address bar (and the history, and any Referer). From then on the cookie
authenticates the page's REST calls and its WebSocket. ``/`` without a valid cookie answers a
small page that says to open the URL that ``serve`` printed; it is the one page served without
the token, and it holds nothing but that advice.

The app is built by ``npm run build`` in ``web/`` into ``dockstate/web_dist``; when it is
missing, ``/`` says how to build it. Every page is served with a Content-Security-Policy that
allows only this server's own scripts, styles and WebSocket.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ._auth import SESSION_COOKIE, token_from_headers, token_matches
from ._context import context_of
from ._rest import authorized, problem

__all__ = ["DIST_ENV", "default_dist", "install_ui"]

#: Set to serve the UI from another directory (a build of web/ elsewhere).
DIST_ENV = "DOCKSTATE_WEB_DIST"

BUILD_HINT = "cd web && npm ci && npm run build"

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;"
    "color:#1f2328}code{background:#f0f2f4;padding:.1em .3em;border-radius:3px}"
    "h1{font-size:1.4rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$")
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def default_dist() -> Path:
    """Where the built UI is: ``$DOCKSTATE_WEB_DIST``, else ``dockstate/web_dist``."""
    configured = os.environ.get(DIST_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "web_dist"


def _app_policy(request: Request) -> str:
    host = request.headers.get("host", "")
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self'{sockets}; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _message_page(status: int, title: str, body: str) -> HTMLResponse:
    """A small page of its own (no script; its one inline style allowed by hash)."""
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>dockstate: {html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    headers = {
        **_COMMON_HEADERS,
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        ),
    }
    return HTMLResponse(text, status_code=status, headers=headers)


def _sign_in_page(wrong_token: bool) -> HTMLResponse:
    if wrong_token:
        title = "That link's token is not this server's"
        lead = (
            "<p>The token in the address is wrong, or the server was restarted with a new one "
            "(a random token changes on every start unless <code>--token</code> or "
            "<code>$DOCKSTATE_TOKEN</code> sets it).</p>"
        )
    else:
        title = "Sign in to dockstate"
        lead = "<p>This browser has no session with this server yet.</p>"
    return _message_page(
        401,
        title,
        lead + "<p>Open the URL that <code>dockstate serve</code> printed when it started, "
        "of the form <code>http://HOST:PORT/?token=…</code>. The token then becomes a session "
        "cookie and leaves the address bar.</p>",
    )


def _not_built_page(dist: Path) -> HTMLResponse:
    return _message_page(
        503,
        "The web UI has not been built",
        f"<p>dockstate found no built UI in <code>{html.escape(str(dist))}</code>.</p>"
        f"<p>Build it with <code>{BUILD_HINT}</code> (Node.js 20.19 or newer), or point "
        f"<code>${DIST_ENV}</code> at a build. The API and the WebSocket work without it.</p>",
    )


def install_ui(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the UI (built into ``dist``, default :func:`default_dist`) and its sign-in."""
    root = dist if dist is not None else default_dist()

    @app.get("/", include_in_schema=False, response_model=None)
    async def index(request: Request) -> Response:
        expected = context_of(request).config.token
        given = request.query_params.get("token")
        if given is not None:
            if not token_matches(given, expected):
                return _sign_in_page(wrong_token=True)
            redirect = RedirectResponse("/", status_code=303, headers=_COMMON_HEADERS)
            redirect.set_cookie(
                SESSION_COOKIE,
                expected,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
            return redirect
        if not token_matches(token_from_headers(request.headers, request.cookies), expected):
            return _sign_in_page(wrong_token=False)
        page = root / "index.html"
        try:
            text = page.read_text(encoding="utf-8")
        except OSError:
            return _not_built_page(root)
        headers = {**_COMMON_HEADERS, "Content-Security-Policy": _app_policy(request)}
        return HTMLResponse(text, headers=headers)

    @app.get(
        "/assets/{path:path}",
        include_in_schema=False,
        response_model=None,
        dependencies=[Depends(authorized)],
    )
    async def asset(path: str) -> Response:
        # Signed in only, like everything but /healthz: only the sign-in page is public, and
        # it is self-contained.
        assets = (root / "assets").resolve()
        target = (assets / path).resolve()
        if not target.is_relative_to(assets) or not target.is_file():
            return problem(404, "Not Found", f"no asset {path!r}")
        return FileResponse(
            target,
            headers={
                # Vite puts a content hash in every name: a file never changes under its name.
                # private: a shared cache must not keep what only a signed-in browser may see.
                "Cache-Control": "private, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
            },
        )
