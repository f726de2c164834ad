"""What every request handler reaches: the server's engines, its settings, its connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import HTTPConnection

from ._config import ServerConfig

if TYPE_CHECKING:  # an engine's operations answer with problems, and _rest reads this module
    from ._engines import Engines

__all__ = ["ServerContext", "context_of"]


@dataclass
class ServerContext:
    """The live parts of one server, created and torn down by the app's lifespan."""

    config: ServerConfig
    #: Every watched engine, each with its own state, hub, history and tasks.
    engines: Engines
    #: Called with (engine id, seconds from a Docker event's timeNano to the send of the
    #: first message carrying it); the metrics module observes these.
    observers: list[Any] = field(default_factory=list)
    #: The open WebSocket connections (server._ws.Connection), to close them on shutdown.
    connections: set[Any] = field(default_factory=set)
    #: WebSocket upgrades refused because ``config.max_connections`` were open.
    refused_connections: int = 0

    def observe_latency(self, engine: str, seconds: float) -> None:
        for observe in self.observers:
            observe(engine, seconds)


def context_of(conn: HTTPConnection) -> ServerContext:
    """The server context of a request or WebSocket."""
    return cast(ServerContext, conn.app.state.dockstate)
