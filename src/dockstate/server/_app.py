"""The ASGI app: its lifespan owns the engine client, the watcher and the hub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from .. import __version__
from ..engine import DockerClient, Watcher, resolve_docker_host
from ..hub import Hub
from ..pipeline import CommitPipeline
from ..state import EngineState
from ..stats import Sampler, make_source, targets_of_state
from ..store import Store
from ._actions import install_actions
from ._config import ServerConfig
from ._context import ServerContext
from ._details import install_details
from ._history import install_history
from ._logs import install_logs
from ._metrics import Metrics, install_metrics
from ._operations import Operations
from ._rest import BodyLimit, install_rest
from ._schema import install_openapi, install_schema
from ._stats import install_stats
from ._tasks import Supervisor
from ._ui import install_ui
from ._ws import websocket_endpoint

__all__ = ["create_app"]

PRUNE_PERIOD = 300.0  # seconds between two prunings by age
RETENTION_CHECK = 5.0  # seconds between two looks at the logs' sizes
PRUNE_STEP = 2_000  # changes dropped at most per step of a pruning


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
            # The state's one listener: store first, then hub (see dockstate.pipeline).
            pipeline = CommitPipeline(
                hub,
                record=store.changes.record if store else None,
                on_record_failure=store.changes.fail if store else None,
            )
            unsubscribe = state.subscribe(pipeline)
            # Reads nothing until someone subscribes to stats (protocol.md §9).
            sampler = Sampler(make_source(config.stats_source, docker), targets_of_state(state))
            tasks = Supervisor()
            operations = Operations()
            ctx = ServerContext(
                config, state, docker, watcher, hub, store, pipeline, tasks, sampler, operations
            )
            metrics.attach(ctx)
            app.state.dockstate = ctx
            tasks.start("dockstate-watcher", watcher.run)
            tasks.start("dockstate-sampler", sampler.run)
            if store is not None:
                tasks.start("dockstate-retention", lambda: retain(store))
            try:
                yield
            finally:
                await operations.close()
                await tasks.close()
                unsubscribe()
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
    install_details(app)
    install_history(app)
    install_stats(app)
    install_logs(app)
    install_schema(app)
    install_openapi(app)
    install_metrics(app, metrics)
    app.add_api_websocket_route("/api/v1/ws", websocket_endpoint)
    install_ui(app)
    return app


async def retain(store: Store, check: float = RETENTION_CHECK) -> None:
    """Apply the history's retention, forever: by count whenever a log has grown past its
    limit (looked at every ``check`` seconds), by age every ``PRUNE_PERIOD``; in steps of
    ``PRUNE_STEP`` changes, so that no step holds the event loop for long."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(check)
        if store.over_limit or loop.time() - last >= PRUNE_PERIOD:
            last = loop.time()
            await _prune_in_steps(store)


async def _prune_in_steps(store: Store) -> None:
    dropped = store.prune(step=PRUNE_STEP)
    while dropped:
        await asyncio.sleep(0)  # let the event loop run between two steps
        dropped = store.prune(step=PRUNE_STEP)
