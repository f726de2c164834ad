"""Running the app under uvicorn: TLS when configured, logs that never show a token, and a
shutdown that says goodbye (1001) to every client."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import socket
import ssl
from collections.abc import Callable
from typing import Any

import uvicorn
import uvicorn.config
from fastapi import FastAPI

from ..errors import DockstateError
from ..protocol import CloseCode
from ..stats import STATS_OPEN_FILES, allow_open_files
from ..store import Retention, Store
from ._app import create_app
from ._config import ServerConfig
from ._context import ServerContext
from ._ws import SOCKET_KEY

__all__ = ["MAX_FRAME", "NOTSENT_LOWAT", "listening_socket", "serve"]

MAX_FRAME = 64 * 1024  # protocol.md §2: larger client frames are closed with 1009
#: Bytes a connection's socket may hold unsent (TCP_NOTSENT_LOWAT): a few messages.
NOTSENT_LOWAT = 16 * 1024
_SPARE_FILES = 256  # file descriptors beyond the WebSocket connections: engine, HTTP, logs


class _RedactTokens(logging.Filter):
    """Hides the value of every ``token=`` query parameter in a log record.

    uvicorn logs each request's path with its query string, and the sign-in URL that
    ``dockstate serve`` prints carries the token there (``/?token=…``): logged as is, the
    access log would hand the token to whoever reads the logs.
    """

    _QUERY = re.compile(r"(?i)(token=)[^&\s\"']+")

    def redact(self, text: str) -> str:
        """``text`` with every ``token=`` value replaced by ``[redacted]``."""
        return self._QUERY.sub(r"\1[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class _QuietClientFaults(logging.Filter):
    """uvicorn logs a text frame that is not UTF-8 as an ERROR with a traceback, though the
    fault is the client's (closed with 1007): any client could fill the log with tracebacks.
    Such a record becomes one INFO line, shown only when verbose."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Invalid UTF-8 sequence received from client"):
            return True
        record.msg, record.args = "a client sent a text frame that is not UTF-8: closed 1007", ()
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with our filters on each of its handlers."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {
        "redact_tokens": {"()": _RedactTokens},
        "quiet_client_faults": {"()": _QuietClientFaults},
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens", "quiet_client_faults"]
    return config


def _check_tls(config: ServerConfig) -> None:
    """Load the certificate and key once, so that a bad file fails in one clear line."""
    if config.certfile is None:
        return
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(config.certfile, config.keyfile)
    except (OSError, ssl.SSLError) as err:
        files = " and ".join(f for f in (config.certfile, config.keyfile) if f)
        raise DockstateError(f"cannot serve TLS with {files}: {err}") from None


class _WithSocket:
    """ASGI middleware: a WebSocket connection's scope gets its socket at ``SOCKET_KEY``
    (uvicorn's ``send`` is a method of the connection's protocol, which holds the transport),
    so that a connection being closed can lift ``NOTSENT_LOWAT`` and its close frame gets
    out behind what the client has not read yet (server/_ws.py)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                scope = {**scope, SOCKET_KEY: sock}
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    """uvicorn closes WebSockets with 1012 on shutdown; the protocol says 1001."""

    def __init__(self, app: FastAPI, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        ctx: ServerContext | None = getattr(self.app.state, "dockstate", None)
        if ctx is not None and ctx.connections:
            for connection in list(ctx.connections):
                connection.request_close(CloseCode.GOING_AWAY, "server shutting down")
            for _ in range(20):  # up to 2 s for the goodbyes to go out
                if not ctx.connections:
                    break
                await asyncio.sleep(0.1)
        await super().shutdown(sockets)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port``, for uvicorn to listen on.

    Raises:
        DockstateError: the address cannot be bound (in use, not ours...).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Let the kernel hold at most NOTSENT_LOWAT bytes not yet sent to a client (the accepted
    # sockets inherit it): otherwise its send buffer, grown to megabytes, takes whatever a
    # slow client does not read, the sender never blocks, and a log subscription's bounded
    # buffer never fills. The client then reads lines ever older (minutes behind a flood,
    # with deflate) instead of getting `logs_skipped` now.
    with contextlib.suppress(AttributeError, OSError):  # not Linux (or macOS): as before
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, NOTSENT_LOWAT)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise DockstateError(f"could not listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def serve(
    config: ServerConfig,
    *,
    verbose: bool = False,
    on_listening: Callable[[], None] | None = None,
    **uvicorn_options: Any,
) -> None:
    """Serve ``config`` until interrupted; call ``on_listening`` once the address is ours.

    Raises:
        DockstateError: the address cannot be listened on (in use, not ours...), the TLS
            certificate or key cannot be used, or the history database cannot be used
            (``StoreError``).
    """
    _check_tls(config)
    # Past the limit, accepting connections fails with EMFILE for everyone, not only the
    # extra ones; and the stats sampler keeps the cgroup files it reads open.
    allow_open_files(config.max_connections + _SPARE_FILES + STATS_OPEN_FILES)
    sock = listening_socket(config.host, config.port)
    try:
        stores = _open_stores(config)
    except DockstateError:
        sock.close()
        raise
    if on_listening is not None:
        on_listening()
    app = create_app(config, stores)
    server = _Server(
        app,
        uvicorn.Config(
            _WithSocket(app),
            ws="websockets-sansio",
            ws_max_size=MAX_FRAME,
            ws_per_message_deflate=True,
            log_level="info" if verbose else "warning",
            log_config=_log_config(),
            timeout_graceful_shutdown=3,
            ssl_certfile=config.certfile,
            ssl_keyfile=config.keyfile,
            **uvicorn_options,
        ),
    )
    try:
        server.run(sockets=[sock])
    finally:
        for store in stores.values():
            store.close()


def _open_stores(config: ServerConfig) -> dict[str, Store]:
    """Each engine's history database (none when the server keeps history in memory);
    if one cannot be opened, those already open are closed."""
    retention = Retention(config.retain_changes, config.retain_events, config.retain_days)
    stores: dict[str, Store] = {}
    try:
        for spec in config.engine_specs():
            path = config.engine_db(spec)
            if path is not None:
                stores[spec.id] = Store.open(path, host=spec.url, retention=retention)
    except DockstateError:
        for store in stores.values():
            store.close()
        raise
    return stores
