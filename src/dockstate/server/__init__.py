"""The dockstate server: REST, the WebSocket protocol, and the lifespan that runs the engines'
watchers."""

from ._app import create_app
from ._config import DEFAULT_ENGINE, EngineSpec, ServerConfig, TLSFiles
from ._resume import changes_since
from ._run import serve
from ._specs import engine_specs, from_context, parse_engine, read_config, tls_from_env

__all__ = [
    "DEFAULT_ENGINE",
    "EngineSpec",
    "ServerConfig",
    "TLSFiles",
    "changes_since",
    "create_app",
    "engine_specs",
    "from_context",
    "parse_engine",
    "read_config",
    "serve",
    "tls_from_env",
]
