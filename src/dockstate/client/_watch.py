"""Streams over one WebSocket each, reconnecting with backoff: :class:`Watch` follows a
server's state and resumes where it stopped; :class:`StatsStream` yields its usage samples.

Both share one connection loop (:class:`Stream`): connect, hello, subscribe, read, and on a
drop reconnect after a :class:`~dockstate.backoff.Backoff` delay. What each subscribes to and
makes of a message is its own (:meth:`Stream._opening`, :meth:`Stream._receive`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from ..backoff import Backoff
from ..errors import AuthError, DockstateError, ProtocolError, ServerError
from ..protocol import PROTOCOL
from ._errors import close_error, reason
from ._follower import Follower, Step, WatchStats

if TYPE_CHECKING:
    from ._rest import Client

__all__ = ["LogsStream", "StatsStream", "Stream", "Watch"]

logger = logging.getLogger("dockstate.client")


class Stream:
    """One subscription on one WebSocket, reconnecting with backoff; an async iterator of what
    :meth:`_receive` makes of the server's messages.

    Raises (from iteration):
        DockstateError: the first connection failed: the server cannot be reached, or
            closed it (a :class:`ServerError` when it answered the upgrade with an error
            status). Later failures are retried forever.
        AuthError: the server refused the token or the origin, at any time.
        ProtocolError: the server broke the protocol or closed for a protocol violation.
    """

    def __init__(
        self,
        client: Client,
        *,
        backoff: Backoff,
        idle_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.backoff = backoff
        self.idle_timeout = idle_timeout
        #: The ``welcome`` of the current (or last) connection.
        self.welcome: dict[str, Any] | None = None
        self._closed = False
        self._stop = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._iterating = False
        #: Set by :meth:`_receive` when the stream has yielded all it will (it then ends).
        self._finished = False
        self._gen = self._run()

    # -- what a stream does with its connection (overridden) ------------------------------

    def _opening(self) -> list[dict[str, Any]]:
        """The messages to send once the server has said welcome."""
        raise NotImplementedError

    def _receive(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        """What to answer ``message`` with, and what to yield (``None``: nothing)."""
        raise NotImplementedError

    # -- iteration -------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
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
        self.client._streams.discard(self)
        if self._ws is not None:
            await self._ws.close()
        if not self._iterating:  # else that iteration sees the closed connection and ends
            await self._gen.aclose()

    async def _run(self) -> AsyncGenerator[Any, None]:
        connected_once = False
        while not self._closed:
            try:
                async with self._connect() as ws:
                    self._ws = ws
                    await self._handshake(ws)
                    connected_once = True
                    self.backoff.reset()
                    for message in self._opening():
                        if self.client.engine is not None:  # protocol.md §8
                            message = {**message, "engine": self.client.engine}
                        await _send(ws, message)
                    idle = self._idle_timeout()
                    while True:
                        try:
                            async with asyncio.timeout(idle):
                                raw = await ws.recv()
                        except TimeoutError:
                            ws.transport.abort()  # a dead link would not answer a close either
                            raise
                        answers, item = self._receive(_decode(raw))
                        for answer in answers:
                            await _send(ws, answer)
                        if item is not None:
                            yield item
                        if self._finished:
                            self._closed = True
                            return
            except ConnectionClosed as exc:
                if self._closed:
                    return
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                why = exc.rcvd.reason if exc.rcvd is not None else ""
                fatal = close_error(code, why)
                if fatal is not None:
                    raise fatal from None
                if not connected_once:
                    raise DockstateError(
                        f"the dockstate server at {self.client.url} closed the connection "
                        f"({code}{': ' + why if why else ''})"
                    ) from None
                logger.info("connection lost (%s %s); reconnecting", code, why)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    raise AuthError(
                        f"the dockstate server refused the connection (HTTP {status})", status
                    ) from None
                if not connected_once:
                    raise ServerError(
                        status, f"no dockstate WebSocket at {self.client.ws_url} (HTTP {status})"
                    ) from None
                logger.info("reconnect refused (HTTP %s); retrying", status)
            except (OSError, TimeoutError, WebSocketException) as exc:
                if self._closed:
                    return
                if not connected_once:
                    raise DockstateError(
                        f"cannot reach the dockstate server at {self.client.url}: {reason(exc)}"
                    ) from None
                logger.info("connection lost (%s); reconnecting", reason(exc))
            finally:
                self._ws = None
            if self._closed:
                return
            delay = self.backoff.delay()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

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


class Watch(Stream):
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
        DockstateError: the first connection failed: the server cannot be reached, or
            closed it (a :class:`ServerError` when it answered the upgrade with an error
            status). Later failures are retried forever.
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
        self.filter = dict(filter) if filter is not None else None
        self.follower = Follower()
        super().__init__(client, backoff=backoff, idle_timeout=idle_timeout)

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

    async def __anext__(self) -> dict[str, Any]:
        state: dict[str, Any] = await super().__anext__()
        return state

    def _opening(self) -> list[dict[str, Any]]:
        self.follower.stats.connections += 1
        return [self.follower.subscribe_message(self.filter)]

    def _receive(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        step = self.follower.handle(message)
        if step is Step.RESYNC:
            return [self.follower.resync_message()], None
        if step is Step.STATE:
            return [], self.follower.state
        return [], None


class StatsStream(Stream):
    """The usage of a server's running containers: ``async for sample in client.stats()``.

    Yields every ``stats`` message of protocol.md §9 as it comes (``{"time", "engine",
    "containers": {id: {"cpu_percent", "memory_bytes", ...}}}``), about one per
    ``interval_ms``; after a reconnect it subscribes again (samples are not resumed: the
    latest one is all there is). See :class:`Stream` for what iteration raises.
    """

    def __init__(
        self,
        client: Client,
        filter: Mapping[str, Any] | None,
        *,
        interval_ms: int,
        backoff: Backoff,
        idle_timeout: float | None = None,
    ) -> None:
        self.filter = dict(filter) if filter is not None else None
        self.interval_ms = interval_ms
        super().__init__(client, backoff=backoff, idle_timeout=idle_timeout)

    async def __anext__(self) -> dict[str, Any]:
        sample: dict[str, Any] = await super().__anext__()
        return sample

    def _opening(self) -> list[dict[str, Any]]:
        message: dict[str, Any] = {
            "type": "subscribe_stats",
            "id": "t1",
            "interval_ms": self.interval_ms,
        }
        if self.filter is not None:
            message["filter"] = self.filter
        return [message]

    def _receive(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        kind = message.get("type")
        if kind == "stats" and message.get("sub") == "t1":
            return [], message
        if kind == "error":
            raise ProtocolError(
                f"the server refused the stats subscription: {message.get('message')}"
            )
        return [], None

    def _idle_timeout(self) -> float:
        if self.idle_timeout is not None:
            return self.idle_timeout
        return 3 * self.interval_ms / 1000 + 10


class LogsStream(Stream):
    """A container's log, or a compose project's merged: ``async for message in
    client.logs(container="web")``.

    Yields the ``logs``, ``logs_skipped`` and ``logs_end`` messages of protocol.md §10 as
    they come (:meth:`lines` yields the lines alone). It ends after the server's final
    ``logs_end`` (a read without follow is done, or the container was removed). After a
    reconnect it subscribes again from just after the last line it received (``since``),
    so lines are neither repeated nor, unless the server dropped them, lost.
    """

    def __init__(
        self,
        client: Client,
        *,
        container: str | None,
        project: str | None,
        tail: int | None,
        follow: bool,
        since: str | None = None,
        until: str | None = None,
        stdout: bool = True,
        stderr: bool = True,
        backoff: Backoff,
        idle_timeout: float | None = None,
    ) -> None:
        self.request: dict[str, Any] = {"type": "subscribe_logs", "id": "g1", "tail": tail}
        if container is not None:
            self.request["container"] = container
        if project is not None:
            self.request["project"] = project
        self.request.update(follow=follow, stdout=stdout, stderr=stderr)
        if since is not None:
            self.request["since"] = since
        if until is not None:
            self.request["until"] = until
        #: The time of the last line received (a reconnect resumes after it).
        self.last_time: str | None = None
        #: Lines the server dropped because this client did not keep up, by container.
        self.skipped: dict[str, int] = {}
        super().__init__(client, backoff=backoff, idle_timeout=idle_timeout)

    async def __anext__(self) -> dict[str, Any]:
        message: dict[str, Any] = await super().__anext__()
        return message

    async def lines(self) -> AsyncGenerator[dict[str, Any], None]:
        """Every line (``{"container", "stream", "time", "text"}``), until the stream ends."""
        async for message in self:
            if message["type"] == "logs":
                for line in message["lines"]:
                    yield line

    def _opening(self) -> list[dict[str, Any]]:
        request = dict(self.request)
        if self.last_time:
            request["since"], request["tail"] = self.last_time, None
        return [request]

    def _receive(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        kind = message.get("type")
        if message.get("sub") != "g1" and kind != "error":
            return [], None
        if kind == "logs":
            lines = message.get("lines") or []
            if self.last_time:
                lines = [x for x in lines if x.get("time", "") > self.last_time]
                message = {**message, "lines": lines}
            if lines:
                self.last_time = max(self.last_time or "", lines[-1].get("time") or "")
            return [], message
        if kind == "logs_skipped":
            container = str(message.get("container"))
            self.skipped[container] = self.skipped.get(container, 0) + int(message["count"])
            return [], message
        if kind == "logs_end":
            if message.get("final"):
                self._finished = True
            return [], message
        if kind == "error":
            raise ProtocolError(
                f"the server refused the logs subscription: {message.get('message')} "
                f"({message.get('code')})"
            )
        return [], None

    def _idle_timeout(self) -> float:
        # A quiet log sends nothing, and the server sends no heartbeat for logs alone.
        return self.idle_timeout if self.idle_timeout is not None else 86_400.0


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
