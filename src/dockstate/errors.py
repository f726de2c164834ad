"""The one exception tree of dockstate.

Every error that dockstate raises on purpose is a :class:`DockstateError`, so that a caller
(the CLI, the server) can turn any of them into a clear one-line message::

    DockstateError
    ├── StateError                 the core refused something
    │   ├── InvalidBatch           a batch failed validation; the state is untouched
    │   └── VersionError           a version outside the replayable window
    │       ├── VersionExpired     older than the oldest change still kept
    │       └── VersionTooNew      newer than the current version
    └── EngineError                talking to the Docker engine failed
        ├── EngineUnavailable      no answer, or the connection was lost
        └── EngineAPIError         the engine answered with an error status
            ├── NotFound           404: no such object
            └── Conflict           409: the engine refused (e.g. removing a running container)

This module imports nothing, so that the I/O-free core can use it.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DockstateError",
    "EngineAPIError",
    "EngineError",
    "EngineUnavailable",
    "InvalidBatch",
    "NotFound",
    "StateError",
    "VersionError",
    "VersionExpired",
    "VersionTooNew",
]


class DockstateError(Exception):
    """Base of every error dockstate raises on purpose; ``str(err)`` is user-readable."""


class StateError(DockstateError):
    """The state core refused an operation."""


class InvalidBatch(StateError):
    """A batch of operations failed validation; nothing of it was applied."""


class VersionError(StateError):
    """A version lies outside the window of changes that can be replayed.

    Attributes:
        requested: the version the caller asked for.
        oldest: the oldest version after which changes can still be replayed.
        current: the state's current version.
    """

    def __init__(self, requested: int, oldest: int, current: int) -> None:
        self.requested = requested
        self.oldest = oldest
        self.current = current
        super().__init__(self._describe())

    def _describe(self) -> str:
        return f"version {self.requested} is outside the window [{self.oldest}, {self.current}]"


class VersionExpired(VersionError):
    """The requested version is older than the oldest replayable one."""

    def _describe(self) -> str:
        return (
            f"version {self.requested} is too old: changes are kept after version "
            f"{self.oldest} only (current {self.current})"
        )


class VersionTooNew(VersionError):
    """The requested version is newer than the current one."""

    def _describe(self) -> str:
        return f"version {self.requested} is newer than the current version {self.current}"


class EngineError(DockstateError):
    """Talking to the Docker engine failed."""


class EngineUnavailable(EngineError):
    """The Docker engine did not answer, or the connection to it was lost."""


class EngineAPIError(EngineError):
    """The Docker engine answered with an error status.

    Attributes:
        status: the HTTP status the engine answered with.
        message: the engine's own message.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class NotFound(EngineAPIError):
    """The engine has no such object (HTTP 404)."""


class Conflict(EngineAPIError):
    """The engine refused because of the object's current state (HTTP 409)."""
