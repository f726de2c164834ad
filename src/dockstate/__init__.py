"""dockstate: the live state of a Docker engine, pushed to every screen the moment it changes.

Importing this package loads nothing heavy: ``dockstate.state`` is the I/O-free core,
``dockstate.engine`` the Docker adapter, ``dockstate.cli`` the command line, and
``dockstate.Client`` (from ``dockstate.client``, imported on first use) the Python client of
a dockstate server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from .client import Client


def __getattr__(name: str) -> Any:
    # Lazy, so that `import dockstate` (and the I/O-free `dockstate.state`) loads no asyncio,
    # httpx or websockets.
    if name == "Client":
        from .client import Client

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
