"""Running the app under uvicorn, with a shutdown that says goodbye (1001) to every client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from ..engine import resolve_docker_host
from ..errors import DockstateError
from ..protocol import CloseCode
from ..store import Retention, Store
from ._app import create_app
from ._config import ServerConfig
from ._context import ServerContext

__all__ = ["MAX_FRAME", "serve"]

MAX_FRAME = 64 * 1024  # protocol.md §2: larger client frames are closed with 1009


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


def serve(
    config: ServerConfig,
    *,
    verbose: bool = False,
    on_listening: Callable[[], None] | None = None,
    **uvicorn_options: Any,
) -> None:
    """Serve ``config`` until interrupted; call ``on_listening`` once the address is ours.

    Raises:
        DockstateError: the address cannot be listened on (in use, not ours...), or the
            history database cannot be used (``StoreError``).
    """
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as err:
        sock.close()
        raise DockstateError(
            f"could not listen on {config.host}:{config.port}: {err.strerror or err}"
        ) from None
    try:
        store = _open_store(config)
    except DockstateError:
        sock.close()
        raise
    if on_listening is not None:
        on_listening()
    app = create_app(config, store)
    server = _Server(
        app,
        uvicorn.Config(
            app,
            ws="websockets-sansio",
            ws_max_size=MAX_FRAME,
            ws_per_message_deflate=True,
            log_level="info" if verbose else "warning",
            timeout_graceful_shutdown=3,
            **uvicorn_options,
        ),
    )
    try:
        server.run(sockets=[sock])
    finally:
        if store is not None:
            store.close()


def _open_store(config: ServerConfig) -> Store | None:
    if config.db is None:
        return None
    retention = Retention(config.retain_changes, config.retain_events, config.retain_days)
    return Store.open(config.db, host=resolve_docker_host(config.docker_host), retention=retention)
