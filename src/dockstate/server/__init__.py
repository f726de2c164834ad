"""The dockstate server: REST, the WebSocket protocol, and the lifespan that runs the watcher."""

from ._app import create_app
from ._config import ServerConfig
from ._resume import changes_since
from ._run import serve

__all__ = ["ServerConfig", "changes_since", "create_app", "serve"]
