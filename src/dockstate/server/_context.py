"""What every request handler reaches: the state, the engine, the hub, the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import HTTPConnection

from ..engine import DockerClient, Watcher
from ..hub import Hub
from ..pipeline import CommitPipeline
from ..state import EngineState
from ..stats import Sampler
from ..store import Store
from ._config import ServerConfig

if TYPE_CHECKING:  # _operations answers with _rest's problems, and _rest reads this module
    from ._operations import Operations
from ._tasks import Supervisor

__all__ = ["ServerContext", "context_of"]


@dataclass
class ServerContext:
    """The live parts of one server, created and torn down by the app's lifespan."""

    config: ServerConfig
    state: EngineState
    docker: DockerClient
    watcher: Watcher
    hub: Hub
    #: The durable history, unless the server keeps history in memory only.
    store: Store | None
    #: Where every committed batch goes: the store, then the hub.
    pipeline: CommitPipeline
    #: The lifespan's background tasks.
    tasks: Supervisor
    #: Container usage, sampled while anyone subscribes.
    sampler: Sampler
    #: The actions' operations (what became of each).
    operations: Operations
    #: Seconds from a Docker event's timeNano to the send of the first message carrying it;
    #: the metrics module observes these.
    observers: list[Any] = field(default_factory=list)
    #: The open WebSocket connections (server._ws.Connection), to close them on shutdown.
    connections: set[Any] = field(default_factory=set)
    #: WebSocket upgrades refused because ``config.max_connections`` were open.
    refused_connections: int = 0

    def observe_latency(self, seconds: float) -> None:
        for observe in self.observers:
            observe(seconds)


def context_of(conn: HTTPConnection) -> ServerContext:
    """The server context of a request or WebSocket."""
    return cast(ServerContext, conn.app.state.dockstate)
