"""dockstate: the live state of a Docker engine, pushed to every screen the moment it changes.

Importing this package loads nothing heavy: ``dockstate.state`` is the I/O-free core,
``dockstate.engine`` the Docker adapter, ``dockstate.cli`` the command line.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
