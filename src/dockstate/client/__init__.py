"""The Python client of a dockstate server: its REST actions and a live copy of its state.

::

    async with Client("http://127.0.0.1:8765", token) as client:
        print((await client.state())["version"])
        async for state in client.watch({"kinds": ["container"]}):
            print(len(state["containers"]), "containers at version", state["version"])

:class:`Client` speaks protocol ``dockstate.v1`` (protocol.md): REST for reads and actions,
and one WebSocket per :meth:`Client.watch`. A watch keeps a copy of the server's state by
applying the snapshot and every change after it; it detects gaps and resyncs, and when the
connection drops it reconnects with jittered exponential backoff and resumes where it
stopped, falling back to the fresh snapshot the server sends when it cannot resume.

The bookkeeping is I/O-free and tested on its own: :class:`Follower` turns server messages
into a state and tells the connection what to answer, :class:`Backoff` computes reconnection
delays.

The package, a module per thing it holds (this door re-exports the public names)::

    _rest.py       Client: the REST calls, and the door to watch()
    _watch.py      Stream (one WebSocket, its reconnects), Watch (the state follower and its
                   resumes), StatsStream (usage samples), LogsStream (logs)
    _follower.py   Follower, Step, WatchStats: the I/O-free bookkeeping of a watch
    _errors.py     the server's HTTP answers and close codes, as dockstate.errors
    (Backoff lives in dockstate.backoff, shared with the engine watcher)

Errors are :class:`~dockstate.errors.DockstateError`: :class:`~dockstate.errors.AuthError`
for a refused token or action (HTTP 401/403, close 4401/4403);
:class:`~dockstate.errors.NotFound` (404), :class:`~dockstate.errors.Conflict` (409) and
:class:`~dockstate.errors.EngineAPIError` (other 4xx, 502) for the engine's refusals that the
server relays with Docker's message; :class:`~dockstate.errors.ServerError` for what the
server says on its own account (503: it cannot reach the engine; 500, 413, 422; an error
that is not its problem+json; a refused WebSocket upgrade);
:class:`~dockstate.errors.VersionExpired` and :class:`~dockstate.errors.VersionTooNew` for a
``since`` outside the server's window; :class:`~dockstate.errors.ProtocolError` when the
server breaks the protocol; and a plain :class:`~dockstate.errors.DockstateError` when the
server cannot be reached.
"""

from ..backoff import Backoff
from ._follower import Follower, Step, WatchStats
from ._rest import Client
from ._watch import LogsStream, StatsStream, Watch

__all__ = [
    "Backoff",
    "Client",
    "Follower",
    "LogsStream",
    "StatsStream",
    "Step",
    "Watch",
    "WatchStats",
]
