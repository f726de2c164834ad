"""The one exception tree of dockstate.

Every error that dockstate raises on purpose is a :class:`DockstateError`, so that a caller
(the CLI, the server) can turn any of them into a clear one-line message::

    DockstateError
    ├── AuthError                  a dockstate server refused our token (401, 4401) or us (403)
    ├── ProtocolError              a dockstate server and client broke the wire protocol
    ├── ServerError                a dockstate server failed, or refused, on its own account
    ├── StoreError                 the history database cannot be used
    ├── UnknownEngine              no engine of the server has that id
    ├── StateError                 the core refused something
    │   ├── InvalidBatch           a batch failed validation; the state is untouched
    │   ├── AmbiguousReference     an id prefix that names several containers
    │   └── VersionError           a version outside the replayable window
    │       ├── VersionExpired     older than the oldest change still kept
    │       └── VersionTooNew      newer than the current version
    └── EngineError                talking to the Docker engine failed
        ├── EngineUnavailable      no answer, or the connection was lost
        └── EngineAPIError         the engine answered with an error status
            ├── NotFound           404: no such object
            └── Conflict           409: the engine refused (e.g. removing a running container)

A dockstate server relays the engine's refusals with Docker's own message, so its client
raises the same :class:`NotFound`, :class:`Conflict` and :class:`EngineAPIError` as the
engine adapter does; what the server says of itself (it cannot reach the engine, it keeps no
history, it failed) is a :class:`ServerError`.

This module imports nothing, so that the I/O-free core can use it.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousReference",
    "AuthError",
    "Conflict",
    "DockstateError",
    "EngineAPIError",
    "EngineError",
    "EngineUnavailable",
    "InvalidBatch",
    "NotFound",
    "ProtocolError",
    "ServerError",
    "StateError",
    "StoreError",
    "UnknownEngine",
    "VersionError",
    "VersionExpired",
    "VersionTooNew",
]


class DockstateError(Exception):
    """Base of every error dockstate raises on purpose; ``str(err)`` is user-readable."""


class AuthError(DockstateError):
    """A dockstate server refused us: wrong or missing token (HTTP 401, close 4401), or a
    forbidden origin or action (HTTP 403, close 4403; e.g. a read-only server).

    Attributes:
        status: the HTTP status or WebSocket close code the server answered with.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ProtocolError(DockstateError):
    """A dockstate server and its client do not speak the same protocol: an unexpected or
    malformed message, or a close for a protocol violation (4400, 4409, 4429, 1009)."""


class ServerError(DockstateError):
    """A dockstate server answered with an error of its own, not the engine's: it cannot
    reach the engine (HTTP 503), keeps no history (503), failed (500), refused the request
    itself (413, 422), or the WebSocket upgrade failed; also any error status that is not the
    server's problem+json (a proxy in front of it, a wrong URL).

    Attributes:
        status: the HTTP status the server answered with.
        message: the server's own message (the problem's ``detail``).
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class StoreError(DockstateError):
    """The history database cannot be used (locked by another dockstate, unreadable...)."""


class UnknownEngine(DockstateError):
    """No engine of the server has this id (``UNKNOWN_ENGINE`` on the wire, 404 over REST,
    protocol.md §8)."""


class StateError(DockstateError):
    """The state core refused an operation."""


class InvalidBatch(StateError):
    """A batch of operations failed validation; nothing of it was applied."""


class AmbiguousReference(StateError):
    """A reference to a container is the prefix of several containers' ids.

    Attributes:
        ref: the reference as given.
        count: how many ids it begins.
    """

    def __init__(self, ref: str, count: int) -> None:
        super().__init__(f"no such container: {ref} begins {count} containers' ids")
        self.ref = ref
        self.count = count


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
