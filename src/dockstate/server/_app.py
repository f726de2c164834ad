"""The ASGI app: its lifespan owns the engine client, the watcher and the hub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from .. import __version__
from ..engine import DockerClient, Watcher, resolve_docker_host
from ..hub import Hub
from ..state import EngineState
from ..store import Store
from ._actions import install_actions
from ._config import ServerConfig
from ._context import ServerContext
from ._history import install_history
from ._metrics import Metrics, install_metrics
from ._rest import BodyLimit, install_rest
from ._schema import install_openapi, install_schema
from ._ui import install_ui
from ._ws import websocket_endpoint

__all__ = ["create_app"]

PRUNE_PERIOD = 300.0  # seconds


def create_app(config: ServerConfig, store: Store | None = None) -> FastAPI:
    """Build the dockstate server for ``config``; nothing starts until its lifespan does.

    With a ``store`` (opened by the caller, who also closes it), the state continues the
    history saved there and every change and raw event is saved.
    """
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = EngineState(
            host=resolve_docker_host(config.docker_host), history_limit=config.history_limit
        )
        restored = store is not None and store.attach(state)
        async with DockerClient(config.docker_host) as docker:
            watcher = Watcher(
                state,
                docker,
                reconcile_interval=config.reconcile_interval,
                on_events=store.events.record if store else None,
                # Pick up the engine's events from where the last run stopped (it replays
                # its last 256), so that the timeline has no hole for a quick restart.
                events_since=store.events.last_time_nano() if store and restored else None,
            )
            hub = Hub(state, max_pending=config.max_pending)
            ctx = ServerContext(config, state, docker, watcher, hub, store)
            metrics.attach(ctx)
            app.state.dockstate = ctx
            tasks = [asyncio.create_task(watcher.run(), name="dockstate-watcher")]
            if store is not None:
                tasks.append(asyncio.create_task(_prune(store), name="dockstate-retention"))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                hub.close()
                metrics.detach()

    app = FastAPI(
        title="dockstate",
        version=__version__,
        summary="The live state of a Docker engine.",
        lifespan=lifespan,
        # Served by install_openapi instead, behind the token.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimit)
    install_rest(app)
    install_actions(app)
    install_history(app)
    install_schema(app)
    install_openapi(app)
    install_metrics(app, metrics)
    app.add_api_websocket_route("/api/v1/ws", websocket_endpoint)
    install_ui(app)
    return app


async def _prune(store: Store) -> None:
    """Apply the retention by age every few minutes (by count is applied as the logs grow)."""
    while True:
        await asyncio.sleep(PRUNE_PERIOD)
        store.prune()
