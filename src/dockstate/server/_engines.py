"""The engines of one server (protocol.md §8): per engine, everything that watches it.

Each :class:`Engine` has its own client, watcher, ``EngineState`` (so its own epoch and
versions), hub, history database, sampler, operations and supervised tasks. Nothing is shared
between two engines but the event loop, and nothing of one engine awaits another's: an engine
that is down, slow or flapping only ever delays its own watcher. A server of one engine is the
case of one entry, id ``local``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

from ..engine import DockerClient, Watcher
from ..errors import DockstateError, UnknownEngine
from ..hub import Hub
from ..pipeline import CommitPipeline
from ..protocol import EngineLink
from ..state import EngineState
from ..stats import Sampler, make_source, targets_of_state
from ..store import Store
from ._config import EngineSpec, ServerConfig, TLSFiles
from ._operations import Operations
from ._tasks import Supervisor

__all__ = [
    "ENGINE_ID_PATTERN",
    "Engine",
    "Engines",
    "open_engine",
    "retain",
    "ssl_context",
]

PRUNE_PERIOD = 300.0  # seconds between two prunings by age
RETENTION_CHECK = 5.0  # seconds between two looks at the logs' sizes
PRUNE_STEP = 2_000  # changes dropped at most per step of a pruning

#: What an engine id may be: it is written in URLs, file names and metric labels.
ENGINE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass
class Engine:
    """One watched engine: what every request about it reaches."""

    id: str
    #: The server's settings (shared by every engine).
    config: ServerConfig
    state: EngineState
    docker: DockerClient
    watcher: Watcher
    hub: Hub
    #: Its durable history, unless the server keeps history in memory only.
    store: Store | None
    #: Where every committed batch goes: the store, then the hub.
    pipeline: CommitPipeline
    #: Its own background tasks (watcher, sampler, retention).
    tasks: Supervisor
    #: Container usage, sampled while anyone subscribes.
    sampler: Sampler
    #: The actions' operations (what became of each).
    operations: Operations

    @property
    def host(self) -> str:
        """Where the engine is (its ``DOCKER_HOST``)."""
        return self.docker.host

    @property
    def status(self) -> EngineLink:
        info = self.state.engine_info
        if info.status == "connected":
            return "connected"
        if info.status == "disconnected" and info.last_error:
            return "down"
        return "connecting"

    def summary(self) -> dict[str, str]:
        """``{"id", "host", "status"}``, as ``welcome`` and ``GET /api/v1/engines`` list it."""
        return {"id": self.id, "host": self.host, "status": self.status}


class Engines(Mapping[str, Engine]):
    """The server's engines by id, in the order given; the first is the default."""

    def __init__(self, engines: list[Engine]) -> None:
        if not engines:
            raise ValueError("a server watches at least one engine")
        self._engines = {e.id: e for e in engines}
        self.default = engines[0]

    def __getitem__(self, key: str) -> Engine:
        return self._engines[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._engines)

    def __len__(self) -> int:
        return len(self._engines)

    def find(self, engine: str | None) -> Engine:
        """The engine ``engine`` (``None``: the default one).

        Raises:
            UnknownEngine: no engine has that id.
        """
        if engine is None:
            return self.default
        found = self._engines.get(engine)
        if found is None:
            raise UnknownEngine(f"no engine {engine[:80]!r}")
        return found

    def summaries(self) -> list[dict[str, str]]:
        return [e.summary() for e in self._engines.values()]


def ssl_context(tls: TLSFiles) -> ssl.SSLContext:
    """The client TLS context of ``tls``.

    Raises:
        DockstateError: a file cannot be read or is not a certificate or key.
    """
    try:
        context = ssl.create_default_context(cafile=tls.ca)
        if tls.cert is not None:
            context.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as err:
        files = ", ".join(f for f in (tls.ca, tls.cert, tls.key) if f)
        raise DockstateError(f"cannot use the TLS files {files}: {err}") from None
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@contextlib.asynccontextmanager
async def open_engine(
    spec: EngineSpec, config: ServerConfig, store: Store | None
) -> AsyncIterator[Engine]:
    """Watch the engine of ``spec`` until the context exits: its client, state, watcher and
    hub built, its tasks started under a supervisor of its own, all torn down on exit.

    With a ``store`` (opened and closed by the caller) the engine's state continues the
    history saved there.
    """
    state = EngineState(host=spec.url, history_limit=config.history_limit)
    restored = store is not None and store.attach(state)
    tls = ssl_context(spec.tls) if spec.tls is not None else None
    async with DockerClient(spec.url, tls=tls) as docker:
        watcher = Watcher(
            state,
            docker,
            reconcile_interval=config.reconcile_interval,
            on_events=store.events.record if store else None,
            # Pick up the engine's events from where the last run stopped (it replays its
            # last 256), so that the timeline has no hole for a quick restart.
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
        # The cgroup files are this machine's: an engine elsewhere is read through its API.
        source = config.stats_source if spec.url.startswith("unix://") else "api"
        # Reads nothing until someone subscribes to stats (protocol.md §9).
        sampler = Sampler(make_source(source, docker), targets_of_state(state))
        tasks = Supervisor()
        operations = Operations()
        engine = Engine(
            spec.id, config, state, docker, watcher, hub, store, pipeline, tasks, sampler,
            operations,
        )  # fmt: skip
        tasks.start("dockstate-watcher", watcher.run)
        tasks.start("dockstate-sampler", sampler.run)
        if store is not None:
            tasks.start("dockstate-retention", lambda: retain(store))
        try:
            yield engine
        finally:
            await operations.close()
            await tasks.close()
            unsubscribe()


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
