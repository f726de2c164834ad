"""The ASGI app: its lifespan owns the engines (each its client, watcher, hub, tasks)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from fastapi import APIRouter, Depends, FastAPI

from .. import __version__
from ..store import Store
from ._actions import install_actions
from ._config import ServerConfig
from ._context import ServerContext
from ._details import install_details
from ._engines import Engines, open_engine, retain
from ._history import install_history
from ._logs import install_logs
from ._metrics import Metrics, install_metrics
from ._rest import UNKNOWN_ENGINE_RESPONSE, BodyLimit, engine_path, install_rest
from ._schema import install_openapi, install_schema
from ._stats import install_stats
from ._ui import install_ui
from ._ws import websocket_endpoint

__all__ = ["create_app", "retain"]


def create_app(config: ServerConfig, stores: Mapping[str, Store] | None = None) -> FastAPI:
    """Build the dockstate server for ``config``; nothing starts until its lifespan does.

    ``stores`` maps an engine's id to its history database (opened by the caller, who also
    closes it): that engine's state continues the history saved there and every change and
    raw event is saved. An engine without one keeps its history in memory only.
    """
    metrics = Metrics()
    stores = stores or {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            engines = [
                await stack.enter_async_context(open_engine(spec, config, stores.get(spec.id)))
                for spec in config.engine_specs()
            ]
            ctx = ServerContext(config, Engines(engines))
            metrics.attach(ctx)
            stack.callback(metrics.detach)
            app.state.dockstate = ctx
            yield

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
    # Every route about an engine, written once: mounted unprefixed (the default engine) and
    # under /api/v1/engines/{engine} (protocol.md §8), where `authenticated` finds the engine.
    api = APIRouter()
    install_rest(app, api)
    install_actions(api)
    install_details(api)
    install_history(api)
    install_stats(api)
    install_logs(api)
    app.include_router(api, prefix="/api/v1")
    app.include_router(
        api,
        prefix="/api/v1/engines/{engine}",
        dependencies=[Depends(engine_path)],
        responses=UNKNOWN_ENGINE_RESPONSE,
    )
    install_schema(app)
    install_openapi(app)
    install_metrics(app, metrics)
    app.add_api_websocket_route("/api/v1/ws", websocket_endpoint)
    install_ui(app)
    return app
