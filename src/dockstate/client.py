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

Errors are :class:`~dockstate.errors.DockstateError`: :class:`~dockstate.errors.AuthError`
for a refused token or action (HTTP 401/403, close 4401/4403),
:class:`~dockstate.errors.NotFound` (404) and :class:`~dockstate.errors.Conflict` (409) for
the engine's refusals, :class:`~dockstate.errors.EngineAPIError` for any other error status,
:class:`~dockstate.errors.VersionExpired` and :class:`~dockstate.errors.VersionTooNew` for a
``since`` outside the server's window,
:class:`~dockstate.errors.ProtocolError` when the server breaks the protocol, and a plain
:class:`~dockstate.errors.DockstateError` when the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import jsonpatch
import pydantic
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from . import __version__
from .errors import (
    AuthError,
    Conflict,
    DockstateError,
    EngineAPIError,
    NotFound,
    ProtocolError,
    VersionExpired,
    VersionTooNew,
)
from .protocol import PROTOCOL, CloseCode, Filter
from .state import MAP_OF_KIND, apply_change

__all__ = ["Backoff", "Client", "Follower", "Step", "Watch", "WatchStats"]

logger = logging.getLogger(__name__)

#: The ``client`` a hello names.
CLIENT_NAME: Final = f"dockstate-python/{__version__}"

_PRUNE_KINDS: Final = ("containers", "images", "volumes", "networks")

#: Close codes after which reconnecting cannot help: a bug on one side, or a refusal.
_FATAL_CLOSES: Final = {
    CloseCode.PROTOCOL_VIOLATION: "the server closed the connection: protocol violation",
    CloseCode.DUPLICATE_SUBSCRIPTION: "the server closed the connection: duplicate subscription",
    CloseCode.TOO_MANY_MESSAGES: "the server closed the connection: too many messages",
    CloseCode.TOO_BIG: "the server closed the connection: message too big",
    1002: "the server closed the connection: WebSocket protocol error",
    1003: "the server closed the connection: unsupported data",
    1007: "the server closed the connection: invalid frame payload",
}
_AUTH_CLOSES: Final = {
    CloseCode.UNAUTHORIZED: "the server refused the token",
    CloseCode.FORBIDDEN_ORIGIN: "the server refused this client's origin",
}


# -- pure bookkeeping -----------------------------------------------------------------------


class Backoff:
    """Reconnection delays: exponential, capped, with jitter ("equal jitter").

    The n-th delay since the last :meth:`reset` (n from 0) lies in ``[c/2, c]`` with
    ``c = min(maximum, initial * factor**n)``, so that many clients dropped together do not
    come back together, and none waits longer than ``maximum``.

    Args:
        initial: the ceiling of the first delay, in seconds.
        maximum: the largest delay, in seconds.
        factor: how much the ceiling grows per attempt.
        rng: returns a float in ``[0, 1)``; injectable for tests.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.attempts = 0
        self._rng = rng

    def delay(self) -> float:
        """The next delay, in seconds; counts one more attempt."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        return ceiling * (0.5 + 0.5 * self._rng())

    def reset(self) -> None:
        """Start again from the first delay (after a connection that worked)."""
        self.attempts = 0


class Step(enum.Enum):
    """What the connection must do after :meth:`Follower.handle`."""

    NOTHING = "nothing"
    """Nothing: the message changed no state (bookmark, dropped, unknown)."""
    STATE = "state"
    """Hand out :attr:`Follower.state`: a snapshot or a batch of changes was applied."""
    RESYNC = "resync"
    """Send ``{"type":"resync","id":sub}``: a gap was found; the state waits for a snapshot."""


@dataclass
class WatchStats:
    """Counters of one watch, for tests, logs and the curious."""

    connections: int = 0
    """Connections that reached ``welcome``."""
    resumes: int = 0
    """Subscriptions sent with ``since`` (attempts to resume without a snapshot)."""
    snapshots: int = 0
    batches: int = 0
    """``changes`` messages applied."""
    bookmarks: int = 0
    gaps: int = 0
    """Times a ``changes`` message did not chain (or did not apply) and a resync was sent."""
    resyncs_required: int = 0
    """``resync_required`` messages received."""


class Follower:
    """The state of one ``changes`` subscription, kept up to date from server messages.

    No I/O: the connection feeds every server message to :meth:`handle` and does what it
    returns. Contracts:

    - :attr:`state` is the protocol EngineState (§1) at version :attr:`applied`, or ``None``
      before the first snapshot. A dict once handed out is never mutated by the follower: each
      snapshot or batch makes a new top-level dict (and new maps for the kinds it touches),
      while unchanged entity objects are shared between successive states. Callers must not
      mutate what they get.
    - :attr:`version` is how far the subscription has been delivered: :attr:`applied` raised
      by bookmarks. A resume asks for the changes after it (:meth:`since`).
    - A ``changes`` message is applied only when it chains: same epoch, and
      ``applied <= from <= version <= to`` (``from == applied`` without bookmarks). Otherwise,
      or when a change does not apply to the state held, it is a gap: :meth:`handle` returns
      :attr:`Step.RESYNC` and every ``changes`` and ``bookmark`` is dropped until the next
      snapshot.
    - After ``resync_required`` everything is dropped until the snapshot that follows it.
    """

    def __init__(self, sub: str = "s1") -> None:
        self.sub = sub
        self.state: dict[str, Any] | None = None
        self.epoch: str | None = None
        self.applied: int | None = None
        self.version: int | None = None
        self.awaiting_snapshot = True
        #: The snapshot or changes message behind the current :attr:`state`.
        self.last_message: dict[str, Any] | None = None
        self.stats = WatchStats()
        # False once a change failed to apply: the state held may not be the server's at any
        # version, so a resume must not start from it.
        self._trusted = False

    def since(self) -> dict[str, Any] | None:
        """Where to resume (``{"epoch","version"}``), or ``None`` to ask for a snapshot."""
        if self.state is None or not self._trusted or self.epoch is None or self.version is None:
            return None
        return {"epoch": self.epoch, "version": self.version}

    def subscribe_message(self, filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``subscribe`` to send on a new connection: with ``since`` when resuming."""
        message: dict[str, Any] = {"type": "subscribe", "id": self.sub, "mode": "changes"}
        if filter is not None:
            message["filter"] = dict(filter)
        since = self.since()
        if since is not None:
            message["since"] = since
            self.stats.resumes += 1
        self.awaiting_snapshot = since is None
        return message

    def resync_message(self) -> dict[str, Any]:
        """The ``resync`` to send when :meth:`handle` returns :attr:`Step.RESYNC`."""
        return {"type": "resync", "id": self.sub}

    def handle(self, message: Mapping[str, Any]) -> Step:
        """Take one server message (after ``welcome``); return what the connection must do.

        Messages of other subscriptions, ``pong``, and unknown types are ignored.

        Raises:
            ProtocolError: a malformed snapshot, or an ``error`` saying that this client sent
                something wrong (any code but ``RATE_LIMITED``).
        """
        kind = message.get("type")
        if kind == "error":
            return self._on_error(message)
        if message.get("sub") != self.sub:
            return Step.NOTHING
        if kind == "snapshot":
            return self._on_snapshot(message)
        if kind == "changes":
            return self._on_changes(message)
        if kind == "bookmark":
            return self._on_bookmark(message)
        if kind == "resync_required":
            self.stats.resyncs_required += 1
            self.awaiting_snapshot = True
            logger.info(
                "resync required (%s, oldest %s, current %s)",
                message.get("code"),
                message.get("oldest"),
                message.get("current"),
            )
        return Step.NOTHING

    def _on_snapshot(self, message: Mapping[str, Any]) -> Step:
        state, epoch, version = message.get("state"), message.get("epoch"), message.get("version")
        if (
            not isinstance(state, dict)
            or not isinstance(epoch, str)
            or not isinstance(version, int)
            or not all(isinstance(state.get(name), dict) for name in MAP_OF_KIND.values())
        ):
            raise ProtocolError("the server sent a malformed snapshot")
        self.state, self.epoch = state, epoch
        self.applied = self.version = version
        self.awaiting_snapshot, self._trusted = False, True
        self.last_message = dict(message)
        self.stats.snapshots += 1
        return Step.STATE

    def _on_changes(self, message: Mapping[str, Any]) -> Step:
        if self.awaiting_snapshot:
            return Step.NOTHING
        if not self._chains(message):
            return self._gap("changes from %s to %s do not follow version %s", message)
        try:
            self.state = self._applied_to_copy(message)
        except (KeyError, IndexError, TypeError, ValueError, jsonpatch.JsonPatchException) as exc:
            self._trusted = False
            return self._gap(f"changes from %s to %s do not apply at version %s ({exc!r})", message)
        self.applied = self.version = message["to"]
        self.last_message = dict(message)
        self.stats.batches += 1
        return Step.STATE

    def _chains(self, message: Mapping[str, Any]) -> bool:
        start, end = message.get("from"), message.get("to")
        return (
            self.state is not None
            and self.applied is not None
            and self.version is not None
            and message.get("epoch") == self.epoch
            and isinstance(start, int)
            and isinstance(end, int)
            and self.applied <= start <= self.version <= end
        )

    def _applied_to_copy(self, message: Mapping[str, Any]) -> dict[str, Any]:
        # Copy-on-write: a new top level and new maps for the touched kinds; apply_change
        # replaces entity objects instead of mutating them, so earlier states stay intact.
        assert self.state is not None
        changes = message["changes"]
        state = dict(self.state)
        for name in {MAP_OF_KIND[c["kind"]] for c in changes if c["kind"] in MAP_OF_KIND}:
            state[name] = dict(state[name])
        for change in changes:
            apply_change(state, change)
        state["version"] = message["to"]
        state["last_updated"] = message.get("timestamp", state.get("last_updated"))
        return state

    def _on_bookmark(self, message: Mapping[str, Any]) -> Step:
        if self.awaiting_snapshot:
            return Step.NOTHING
        version = message.get("version")
        if message.get("epoch") != self.epoch or not isinstance(version, int):
            return self._gap("bookmark at %s%s after version %s", message)
        self.stats.bookmarks += 1
        if self.version is not None and version > self.version:
            self.version = version
        return Step.NOTHING

    def _gap(self, why: str, message: Mapping[str, Any]) -> Step:
        first = message.get("from", message.get("version"))
        second = message.get("to", "")
        logger.info("gap: " + why + "; resyncing", first, second, self.applied)
        self.stats.gaps += 1
        self.awaiting_snapshot = True
        return Step.RESYNC

    def _on_error(self, message: Mapping[str, Any]) -> Step:
        code, text = message.get("code"), message.get("message", "")
        if code == "RATE_LIMITED":
            logger.warning("the server rate-limits this client: %s", text)
            return Step.NOTHING
        raise ProtocolError(f"the server refused a message ({code}): {text}")


# -- the client -----------------------------------------------------------------------------


class Client:
    """An async client of one dockstate server.

    Use it as ``async with Client(url, token) as client:``, or call :meth:`aclose` when done.

    Args:
        url: the server's base URL, ``http://host:port`` (``https``, and a path prefix, work
            too).
        token: the server's access token.
        timeout: seconds any REST call may take; actions answer once the engine accepted
            them, and stopping a container can take the engine's whole stop timeout.
        client_name: the ``client`` the WebSocket hello names.
        max_message_size: the largest WebSocket message accepted, in bytes (a snapshot of a
            large engine can be many megabytes); ``None`` for no limit.
        transport: the httpx transport of the REST calls (for tests; default: the network).

    Raises:
        ValueError: ``url`` is not an http(s) or ws(s) URL.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 60.0,
        client_name: str = CLIENT_NAME,
        max_message_size: int | None = 256 * 2**20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError(f"not a dockstate server URL: {url!r} (want http://HOST:PORT)")
        http_scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        ws_scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        prefix = parts.path.rstrip("/")
        self.url = urlunsplit((http_scheme, parts.netloc, prefix, "", ""))
        self.ws_url = urlunsplit((ws_scheme, parts.netloc, prefix + "/api/v1/ws", "", ""))
        self.token = token
        self.timeout = timeout
        self.client_name = client_name
        self.max_message_size = max_message_size
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._watches: set[Watch] = set()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every open watch and the HTTP connections."""
        for watch in list(self._watches):
            await watch.aclose()
        await self._http.aclose()

    # -- reading -----------------------------------------------------------------------------

    async def state(self) -> dict[str, Any]:
        """The server's whole state: ``{"epoch", "version", "state"}`` (protocol.md §6)."""
        return await self._request("GET", "/api/v1/state")

    async def changes_since(self, version: int) -> dict[str, Any]:
        """The changes after ``version``: ``{"epoch", "from", "to", "changes"}``.

        Raises:
            VersionExpired: ``version`` is older than the oldest change the server keeps
                (HTTP 410); start again from :meth:`state`.
            VersionTooNew: ``version`` is newer than the server's (a server that lost its
                history: compare epochs).
        """
        return await self._request(
            "GET", "/api/v1/changes", params={"since": str(version)}, since=version
        )

    def watch(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        backoff: Backoff | None = None,
        idle_timeout: float | None = None,
    ) -> Watch:
        """Follow the server's state: an async iterator of states (see :class:`Watch`).

        Args:
            filter: the subscription's filter (protocol.md §4): ``kinds``, ``ids``, ``names``,
                ``labels``; ``None`` for everything.
            backoff: the reconnection delays (default: :class:`Backoff` ``()``).
            idle_timeout: seconds without any message after which the connection is taken
                for dead and replaced (default: twice the server's heartbeat, plus 5 s).

        Raises:
            ValueError: ``filter`` is not a valid filter.
        """
        if filter is not None:
            try:
                Filter.model_validate(dict(filter))
            except pydantic.ValidationError as exc:
                raise ValueError(f"invalid filter: {exc}") from None
        watch = Watch(self, filter, backoff=backoff or Backoff(), idle_timeout=idle_timeout)
        self._watches.add(watch)
        return watch

    # -- actions -----------------------------------------------------------------------------
    # Each returns the 202 body {"operation", "accepted_at_version"}: the engine accepted the
    # action, and its effect arrives through the change stream.

    async def start(self, container_id: str) -> dict[str, Any]:
        """Start a container."""
        return await self._container_action(container_id, "start")

    async def stop(self, container_id: str, grace: int | None = None) -> dict[str, Any]:
        """Stop a container: the engine waits ``grace`` seconds (default: the container's stop
        timeout) before it kills it. ``grace`` is a dockstate extension (Docker's ``t``)."""
        return await self._container_action(container_id, "stop", params=_grace(grace))

    async def restart(self, container_id: str, grace: int | None = None) -> dict[str, Any]:
        """Restart a container (``grace`` as for :meth:`stop`)."""
        return await self._container_action(container_id, "restart", params=_grace(grace))

    async def pause(self, container_id: str) -> dict[str, Any]:
        """Pause a running container."""
        return await self._container_action(container_id, "pause")

    async def unpause(self, container_id: str) -> dict[str, Any]:
        """Unpause a paused container."""
        return await self._container_action(container_id, "unpause")

    async def kill(self, container_id: str) -> dict[str, Any]:
        """Kill a running container."""
        return await self._container_action(container_id, "kill")

    async def rename(self, container_id: str, name: str) -> dict[str, Any]:
        """Rename a container."""
        return await self._container_action(container_id, "rename", json={"name": name})

    async def remove_container(self, container_id: str, force: bool = False) -> dict[str, Any]:
        """Remove a container; a running one only with ``force`` (else :class:`Conflict`)."""
        return await self._action("DELETE", f"/api/v1/containers/{_segment(container_id)}", force)

    async def remove_image(self, image_id: str, force: bool = False) -> dict[str, Any]:
        """Remove an image (by id or reference)."""
        return await self._action("DELETE", f"/api/v1/images/{_segment(image_id)}", force)

    async def create_volume(
        self, name: str, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a volume (``labels``: a dockstate extension)."""
        return await self._request("POST", "/api/v1/volumes", json=_named(name, labels))

    async def remove_volume(self, name: str) -> dict[str, Any]:
        """Remove a volume."""
        return await self._request("DELETE", f"/api/v1/volumes/{_segment(name)}")

    async def create_network(
        self, name: str, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a network (``labels``: a dockstate extension). The answer's ``id`` (an
        extension) is the new network's id."""
        return await self._request("POST", "/api/v1/networks", json=_named(name, labels))

    async def remove_network(self, network_id: str) -> dict[str, Any]:
        """Remove a network (by id or name)."""
        return await self._request("DELETE", f"/api/v1/networks/{_segment(network_id)}")

    async def prune(
        self, kind: str, labels: Mapping[str, str | None] | None = None
    ) -> dict[str, Any]:
        """Prune unused ``containers``, ``images``, ``volumes`` or ``networks`` of the whole
        engine, or only those carrying every one of ``labels`` (``{key: value}``, or
        ``{key: None}`` for the key with any value; a dockstate extension).

        Raises:
            ValueError: an unknown kind (the singular forms are accepted too).
        """
        plural = kind if kind.endswith("s") else kind + "s"
        if plural not in _PRUNE_KINDS:
            raise ValueError(f"cannot prune {kind!r}: want one of {', '.join(_PRUNE_KINDS)}")
        selectors = [k if v is None else f"{k}={v}" for k, v in (labels or {}).items()]
        params = tuple(("label", selector) for selector in selectors)
        return await self._request("POST", f"/api/v1/{plural}/prune", params=params or None)

    async def _container_action(
        self,
        container_id: str,
        action: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        path = f"/api/v1/containers/{_segment(container_id)}/{action}"
        return await self._request("POST", path, json=json, params=params)

    async def _action(self, method: str, path: str, force: bool) -> dict[str, Any]:
        return await self._request(method, path, params={"force": "true"} if force else None)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | tuple[tuple[str, str], ...] | None = None,
        since: int | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise DockstateError(
                f"the dockstate server at {self.url} did not answer {method} {path} "
                f"within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise DockstateError(
                f"cannot reach the dockstate server at {self.url}: {_reason(exc)}"
            ) from None
        if response.status_code >= 400:
            raise _http_error(response, since)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProtocolError(
                f"the server answered {method} {path} with {response.status_code} "
                "but no JSON object"
            )
        return body


# -- the watch ------------------------------------------------------------------------------


class Watch:
    """A live copy of a server's state: ``async for state in client.watch(): ...``.

    Yields the protocol EngineState (§1) dict of the subscription: once after every snapshot
    (the first, and each after a resync) and once after every ``changes`` message; nothing for
    bookmarks. :attr:`last_message` is the snapshot or changes message behind the latest
    state. See :class:`Follower` for what the states guarantee (never mutated once yielded;
    do not mutate them either).

    Reconnection: when the connection drops (or is silent for ``idle_timeout``, or the server
    closes it with 1001, 1011, 4408 or 4499) the watch reconnects after a :class:`Backoff`
    delay and subscribes with ``since`` = the version it holds; the server then sends exactly
    the missed changes, or ``resync_required`` and a snapshot, which the watch takes.

    Raises (from iteration):
        DockstateError: the first connection failed (the server cannot be reached, or
            answered the upgrade with an error status). Later failures are retried forever.
        AuthError: the server refused the token or the origin, at any time.
        ProtocolError: the server broke the protocol or closed for a protocol violation.

    Close a watch that is not iterated to its end: ``await watch.aclose()``, ``async with
    client.watch() as states:``, or by closing its client. Cancelling a pending iteration
    (a task cancelled, a timeout around one ``anext``) also ends the watch: bound the whole
    loop instead. While nobody iterates, messages wait in the socket's buffers; a consumer
    that stays away long enough is dropped by the server and resumes when it comes back.
    """

    def __init__(
        self,
        client: Client,
        filter: Mapping[str, Any] | None,
        *,
        backoff: Backoff,
        idle_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.filter = dict(filter) if filter is not None else None
        self.backoff = backoff
        self.idle_timeout = idle_timeout
        self.follower = Follower()
        #: The ``welcome`` of the current (or last) connection.
        self.welcome: dict[str, Any] | None = None
        self._closed = False
        self._stop = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._iterating = False
        self._gen = self._run()

    @property
    def state(self) -> dict[str, Any] | None:
        """The latest state (``None`` before the first snapshot)."""
        return self.follower.state

    @property
    def last_message(self) -> dict[str, Any] | None:
        """The snapshot or changes message behind :attr:`state`."""
        return self.follower.last_message

    @property
    def stats(self) -> WatchStats:
        return self.follower.stats

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        self._iterating = True
        try:
            return await self._gen.__anext__()
        finally:
            self._iterating = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop: close the connection; a pending or later iteration ends."""
        self._closed = True
        self._stop.set()
        self.client._watches.discard(self)
        if self._ws is not None:
            await self._ws.close()
        if not self._iterating:  # else that iteration sees the closed connection and ends
            await self._gen.aclose()

    async def _run(self) -> AsyncGenerator[dict[str, Any], None]:
        connected_once = False
        while not self._closed:
            try:
                async with self._connect() as ws:
                    self._ws = ws
                    await self._handshake(ws)
                    connected_once = True
                    self.backoff.reset()
                    self.follower.stats.connections += 1
                    await _send(ws, self.follower.subscribe_message(self.filter))
                    idle = self._idle_timeout()
                    while True:
                        try:
                            async with asyncio.timeout(idle):
                                raw = await ws.recv()
                        except TimeoutError:
                            ws.transport.abort()  # a dead link would not answer a close either
                            raise
                        message = _decode(raw)
                        step = self.follower.handle(message)
                        if step is Step.RESYNC:
                            await _send(ws, self.follower.resync_message())
                        elif step is Step.STATE:
                            assert self.follower.state is not None
                            yield self.follower.state
            except ConnectionClosed as exc:
                if self._closed:
                    return
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                _raise_for_close(code, reason)
                if not connected_once:
                    raise DockstateError(
                        f"the dockstate server at {self.client.url} closed the connection "
                        f"({code}{': ' + reason if reason else ''})"
                    ) from None
                logger.info("connection lost (%s %s); reconnecting", code, reason)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    raise AuthError(
                        f"the dockstate server refused the connection (HTTP {status})", status
                    ) from None
                if not connected_once:
                    raise DockstateError(
                        f"no dockstate WebSocket at {self.client.ws_url} (HTTP {status})"
                    ) from None
                logger.info("reconnect refused (HTTP %s); retrying", status)
            except (OSError, TimeoutError, WebSocketException) as exc:
                if self._closed:
                    return
                if not connected_once:
                    raise DockstateError(
                        f"cannot reach the dockstate server at {self.client.url}: {_reason(exc)}"
                    ) from None
                logger.info("connection lost (%s); reconnecting", _reason(exc))
            finally:
                self._ws = None
            if self._closed:
                return
            delay = self.backoff.delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    def _connect(self) -> connect:
        return connect(
            self.client.ws_url,
            subprotocols=[Subprotocol(PROTOCOL)],
            compression="deflate",
            open_timeout=self.client.timeout,
            max_size=self.client.max_message_size,
            user_agent_header=self.client.client_name,
        )

    async def _handshake(self, ws: ClientConnection) -> None:
        hello = {
            "type": "hello",
            "protocol": PROTOCOL,
            "token": self.client.token,
            "client": self.client.client_name,
        }
        await _send(ws, hello)
        async with asyncio.timeout(self.client.timeout):
            welcome = _decode(await ws.recv())
        if welcome.get("type") != "welcome":
            raise ProtocolError(f"the server answered hello with {welcome.get('type')!r}")
        if welcome.get("protocol", PROTOCOL) != PROTOCOL:
            raise ProtocolError(f"the server speaks {welcome.get('protocol')!r}, not {PROTOCOL}")
        self.welcome = welcome

    def _idle_timeout(self) -> float:
        if self.idle_timeout is not None:
            return self.idle_timeout
        heartbeat_ms = (self.welcome or {}).get("heartbeat_ms")
        if not isinstance(heartbeat_ms, int | float) or heartbeat_ms <= 0:
            heartbeat_ms = 15_000
        return 2 * heartbeat_ms / 1000 + 5


# -- helpers --------------------------------------------------------------------------------


def _segment(value: str) -> str:
    """``value`` as one URL path segment (image references hold ``/`` and ``:``)."""
    return quote(value, safe="")


def _grace(grace: int | None) -> dict[str, str] | None:
    return None if grace is None else {"t": str(grace)}


def _named(name: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    return {"name": name} if not labels else {"name": name, "labels": dict(labels)}


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _send(ws: ClientConnection, message: Mapping[str, Any]) -> None:
    await ws.send(json.dumps(message, separators=(",", ":")))


def _decode(data: str | bytes) -> dict[str, Any]:
    if not isinstance(data, str):
        raise ProtocolError("the server sent a binary frame; dockstate.v1 frames are JSON text")
    try:
        message = json.loads(data)
    except ValueError:
        raise ProtocolError("the server sent a frame that is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("the server sent a frame that is not a JSON object with a type")
    return message


def _raise_for_close(code: int, reason: str) -> None:
    """Raise for the close codes after which reconnecting cannot help."""
    suffix = f": {reason}" if reason else ""
    if code in _AUTH_CLOSES:
        raise AuthError(f"{_AUTH_CLOSES[code]} (close {code}{suffix})", code)
    if code in _FATAL_CLOSES:
        raise ProtocolError(f"{_FATAL_CLOSES[code]} (close {code}{suffix})")


def _http_error(response: httpx.Response, since: int | None) -> DockstateError:
    """The error a REST error response stands for; its message is the problem's detail."""
    status = response.status_code
    problem: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            problem = body
    detail = problem.get("detail") or problem.get("title") or response.text.strip()
    if not isinstance(detail, str) or not detail:
        detail = f"HTTP {status} {response.reason_phrase}".strip()
    if status in (409, 410) and since is not None:
        # GET /changes: 410 is protocol.md's "too old"; dockstate also answers a version newer
        # than the current one with 409; both carry the window (an extension).
        oldest, current = problem.get("oldest"), problem.get("current")
        if isinstance(oldest, int) and isinstance(current, int):
            if status == 410:
                return VersionExpired(since, oldest, current)
            return VersionTooNew(since, oldest, current)
    if status in (401, 403):
        return AuthError(detail, status)
    if status == 404:
        return NotFound(status, detail)
    if status == 409:
        return Conflict(status, detail)
    return EngineAPIError(status, detail)
