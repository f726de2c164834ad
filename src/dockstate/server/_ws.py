"""The WebSocket endpoint: protocol.md §3-§5, one :class:`Connection` per client.

A connection runs two tasks: the receiver (client messages, rate limited) and the sender (the
only writer to the socket: control replies first, then each subscription's snapshot, changes,
full states and bookmarks). The hub wakes the sender; it never waits for it. Where each
subscription stands is the :class:`~dockstate.hub.Subscription`'s own business (its
transitions); this module only decides when to send, builds nothing itself (every message
comes from :mod:`dockstate.wire`) and sends.

Bounds: control replies (errors, pongs) waiting to be written are at most
``MAX_CONTROL``; a client that makes more pile up without reading them is closed 4499, like
any client whose send blocks past ``--send-timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .. import __version__, wire
from ..errors import DockstateError, UnknownEngine, VersionError, VersionExpired
from ..hub import CompiledFilter, Subscription, compile_filter
from ..logs import LogOptions, docker_time
from ..protocol import (
    CLIENT_MESSAGE_TYPES,
    PROTOCOL,
    CloseCode,
    Hello,
    Subscribe,
    SubscribeLogs,
    SubscribeStats,
    client_message_adapter,
)
from ._auth import origin_allowed, token_from_headers, token_matches
from ._context import ServerContext, context_of
from ._engines import Engine
from ._logs import LogsSubscription, start_reading
from ._operations import Operation
from ._resume import changes_since
from ._stats import StatsSubscription

__all__ = ["SOCKET_KEY", "websocket_endpoint"]

log = logging.getLogger("dockstate.server")
#: Where a WebSocket connection's scope holds its socket (server/_run.py's ``_WithSocket``).
SOCKET_KEY = "dockstate.socket"

FULL_INTERVAL = 0.1  # mode `full`: at most one state per subscription per 100 ms
_MAX_STRIKES = 200  # rate-limited messages tolerated before closing 4429
#: How deep lists and objects may nest in a client message (the protocol's messages need 4).
MAX_DEPTH = 32
#: Control replies (errors, pongs) at most waiting to be written to one client.
MAX_CONTROL = 1_000


class _Close(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _parse(text: str) -> Any:
    """The JSON value of a client message.

    Raises:
        ValueError: not JSON, or nested deeper than ``MAX_DEPTH`` levels.
    """
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than the interpreter's stack, long before MAX_DEPTH
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    # A fixed limit, so that whether a message is refused never depends on how deep the
    # stack was when it was parsed, and no deep value reaches validation or an error's repr.
    if _deeper_than(value, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects in ``value`` nest deeper than ``limit`` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


async def websocket_endpoint(websocket: WebSocket) -> None:
    """``/api/v1/ws``."""
    ctx = context_of(websocket)
    headers = websocket.headers
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    if not origin_allowed(
        headers.get("origin"), headers.get("host"), scheme, ctx.config.allow_origins
    ):
        await websocket.close(CloseCode.FORBIDDEN_ORIGIN)  # before accept: HTTP 403
        return
    if len(ctx.connections) >= ctx.config.max_connections:
        ctx.refused_connections += 1
        # Closed with 1013 "try again later" (which a browser's page can read) rather than
        # an HTTP 503 before the upgrade (which it sees only as 1006); uvicorn also logs an
        # error for every upgrade refused with a response of the app's own.
        await websocket.accept()
        await websocket.close(CloseCode.TRY_AGAIN_LATER, "too many connections")
        return
    connection = Connection(websocket, ctx)
    # Counted from here, not from the accept: upgrades in flight count against the cap too.
    ctx.connections.add(connection)
    try:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
        await connection.run()
    finally:
        ctx.connections.discard(connection)


class Connection:
    """One client: handshake, subscriptions, and the messages it is owed."""

    def __init__(self, websocket: WebSocket, ctx: ServerContext) -> None:
        self.ws = websocket
        self.ctx = ctx
        self.session = secrets.token_urlsafe(9)
        self.subscriptions: dict[str, Subscription] = {}
        #: Each engine's subscriptions of this connection, by engine id: that engine's hub
        #: reads the list (registered on the first subscription to the engine).
        self._subs: dict[str, list[Subscription]] = {}
        #: The engine of each subscription (``subscribe``, stats and logs alike), by id.
        self._engine_of: dict[str, Engine] = {}
        #: ``subscribe_stats`` subscriptions (their ids share one space with the others).
        self.stats: dict[str, StatsSubscription] = {}
        #: ``subscribe_logs`` subscriptions (the same id space).
        self.logs: dict[str, LogsSubscription] = {}
        self._control: deque[str] = deque()
        self._wake = asyncio.Event()
        self._tokens = float(ctx.config.burst)
        self._refilled = time.monotonic()
        self._strikes = 0
        self._closing = False
        self._close_request: _Close | None = None
        #: Past its hello (the metrics count these clients).
        self.welcomed = False

    # -- lifecycle -------------------------------------------------------------------------

    def request_close(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` once what is being written has been written."""
        self._close_request = _Close(code, reason)
        self._wake.set()

    async def run(self) -> None:
        """Serve the client until it goes or is closed; never raises."""
        try:
            await self._handshake()
            listeners = {e.id: self._operation_listener(e.id) for e in self.ctx.engines.values()}
            for engine in self.ctx.engines.values():
                engine.operations.listeners.append(listeners[engine.id])
            try:
                await self._serve()
            finally:
                for engine in self.ctx.engines.values():
                    engine.operations.listeners.remove(listeners[engine.id])
                    engine.hub.unregister(self)
                for stats in self.stats.values():
                    stats.close()  # the sampler stops reading for this client
                for logs in self.logs.values():
                    logs.close()  # the engine's log streams are closed
        except _Close as close:
            await self._close(close.code, close.reason)
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("a WebSocket connection failed")
            await self._close(CloseCode.INTERNAL_ERROR, "internal error")

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.client_state == WebSocketState.CONNECTED:
            # The kernel may hold at most NOTSENT_LOWAT unsent bytes (server/_run.py), so the
            # close frame of a client that reads slowly (4499) would wait behind what it has
            # not read, and be dropped: let the kernel's whole send buffer take them.
            sock = self.ws.scope.get(SOCKET_KEY)
            if sock is not None:
                with contextlib.suppress(AttributeError, OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, 1 << 30)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.ws.close(code, reason[:120])

    async def _serve(self) -> None:
        receiver = asyncio.create_task(self._receive_loop())
        sender = asyncio.create_task(self._send_loop())
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if receiver.done() and isinstance(receiver.exception(), _Close):
            # Closing: let the sender finish what it is writing (and the errors before the
            # close), rather than cut a frame in half.
            self._closing = True
            self._wake.set()
            await asyncio.wait({sender}, timeout=2)
        for task in (receiver, sender):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # Retrieve both outcomes before raising one: a task whose exception is never retrieved
        # (the sender's disconnect, when the receiver closes 4409 as it sends) is logged with
        # a traceback by asyncio.
        errors = [task.exception() for task in (receiver, sender) if not task.cancelled()]
        for error in errors:
            if error is not None:
                raise error  # _Close or a disconnect

    async def _handshake(self) -> None:
        config = self.ctx.config
        upgrade_token = token_from_headers(self.ws.headers, self.ws.cookies)
        try:
            async with asyncio.timeout(config.hello_timeout):
                text = await self._receive_text()
        except TimeoutError:
            raise _Close(CloseCode.HELLO_TIMEOUT, "no hello in time") from None
        try:
            hello = Hello.model_validate(_parse(text))
        except (ValueError, ValidationError):
            raise _Close(CloseCode.UNAUTHORIZED, "the first message must be hello") from None
        if not (
            token_matches(hello.token, config.token) or token_matches(upgrade_token, config.token)
        ):
            raise _Close(CloseCode.UNAUTHORIZED, "wrong or missing token")
        engines = self.ctx.engines
        state = engines.default.state
        welcome = wire.welcome(
            protocol=PROTOCOL,
            server=f"dockstate/{__version__}",
            session=self.session,
            engine=engines.default.id,
            engines=engines.summaries(),
            epoch=state.epoch,
            version=state.version,
            oldest=state.oldest,
            heartbeat_ms=config.heartbeat_ms,
        )
        await self.ws.send_text(welcome)
        self.welcomed = True

    async def _receive_text(self) -> str:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("text") is not None:
            return str(message["text"])
        data = message.get("bytes") or b""
        try:
            return data.decode()
        except UnicodeDecodeError:
            return ""

    # -- receiving -------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            text = await self._receive_text()
            if not self._take_token():
                self._strikes += 1
                if self._strikes > _MAX_STRIKES:
                    raise _Close(CloseCode.TOO_MANY_MESSAGES, "too many messages")
                self._error(None, "RATE_LIMITED", "too many messages: slow down")
                continue
            await self._handle(text)

    def _take_token(self) -> bool:
        config, now = self.ctx.config, time.monotonic()
        self._tokens = min(config.burst, self._tokens + (now - self._refilled) * config.rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _handle(self, text: str) -> None:
        try:
            raw = _parse(text)
        except ValueError as err:
            self._error(None, "INVALID_MESSAGE", f"not JSON ({err})")
            return
        if not isinstance(raw, dict):
            self._error(None, "INVALID_MESSAGE", "a message must be a JSON object")
            return
        ident = raw.get("id") if isinstance(raw.get("id"), str | int) else None
        if raw.get("type") == "hello":
            raise _Close(CloseCode.TOO_MANY_MESSAGES, "hello was already said")
        try:
            message = client_message_adapter.validate_python(raw)
        except ValidationError as err:
            self._error(ident, "INVALID_MESSAGE", _describe(err, raw))
            return
        kind = raw["type"]
        if kind == "ping":
            self._reply(wire.pong(raw.get("id")))
        elif kind == "subscribe":
            assert isinstance(message, Subscribe)
            await self._subscribe(message)
        elif kind == "subscribe_stats":
            assert isinstance(message, SubscribeStats)
            self._subscribe_stats(message)
        elif kind == "subscribe_logs":
            assert isinstance(message, SubscribeLogs)
            await self._subscribe_logs(message)
        elif kind == "unsubscribe" and raw["id"] in self.stats:
            self._engine_of.pop(raw["id"], None)
            self.stats.pop(raw["id"]).close()
        elif kind == "unsubscribe" and raw["id"] in self.logs:
            self._engine_of.pop(raw["id"], None)
            self.logs.pop(raw["id"]).close()
        elif kind == "resync" and raw["id"] in self.logs:
            pass  # logs are not versioned: nothing to resync
        elif kind == "resync" and raw["id"] in self.stats:
            pass  # samples are not versioned: the next one is all there is to resync to
        elif kind in ("unsubscribe", "resync"):
            sub = self.subscriptions.get(raw["id"])
            if sub is None:
                self._error(
                    raw["id"], "UNKNOWN_SUBSCRIPTION", f"no subscription {_clip(raw['id'])}"
                )
            elif kind == "unsubscribe":
                del self.subscriptions[sub.id]
                self._subs[self._engine_of.pop(sub.id).id].remove(sub)
            else:
                sub.request_resync()
                self._wake.set()
        # ack: nothing to do; delivery does not wait for acknowledgements.

    def _check_new_id(self, ident: str) -> None:
        if ident in self.subscriptions or ident in self.stats or ident in self.logs:
            raise _Close(CloseCode.DUPLICATE_SUBSCRIPTION, f"subscription {ident!r} exists")

    def _new_filter(
        self, ident: str, raw: dict[str, Any] | None
    ) -> tuple[bool, CompiledFilter | None]:
        """A new subscription's id checked (a duplicate closes 4409) and its filter compiled:
        ``(False, None)`` after answering ``INVALID_FILTER``."""
        self._check_new_id(ident)
        try:
            return True, compile_filter(raw)
        except ValueError as err:
            self._error(ident, "INVALID_FILTER", str(err))
            return False, None

    def _engine(self, ident: str, engine: str | None) -> Engine | None:
        """The engine a new subscription names (``None``: the default one); ``None`` after
        answering ``UNKNOWN_ENGINE``."""
        try:
            return self.ctx.engines.find(engine)
        except UnknownEngine:
            self._error(ident, "UNKNOWN_ENGINE", f"no engine {_clip(engine)}")
            return None

    def _subscribe_stats(self, message: SubscribeStats) -> None:
        valid, flt = self._new_filter(message.id, message.filter)
        if not valid:
            return
        engine = self._engine(message.id, message.engine)
        if engine is None:
            return
        self._engine_of[message.id] = engine
        self.stats[message.id] = StatsSubscription(
            message.id,
            flt,
            message.interval_ms / 1000,
            engine=engine.id,
            state=engine.state,
            sampler=engine.sampler,
            wake=self._wake.set,
        )

    async def _subscribe_logs(self, message: SubscribeLogs) -> None:
        self._check_new_id(message.id)
        if self.ctx.config.no_logs:
            self._error(message.id, "LOGS_DISABLED", "logs are turned off on this server")
            return
        engine = self._engine(message.id, message.engine)
        if engine is None:
            return
        if (message.container is None) == (message.project is None):
            self._error(message.id, "INVALID_MESSAGE", "give one of container and project")
            return
        options = LogOptions(
            follow=message.follow,
            tail=message.tail,
            since=message.since,
            until=message.until,
            stdout=message.stdout,
            stderr=message.stderr,
        )
        for when in (message.since, message.until):
            try:
                if when is not None:
                    docker_time(when)
            except ValueError:
                self._error(message.id, "INVALID_MESSAGE", f"not a time: {_clip(when)}")
                return
        sub = LogsSubscription(message.id, engine.id, self._wake.set)
        self.logs[message.id] = sub  # taken before the await: the id is in use
        self._engine_of[message.id] = engine
        try:
            code = await start_reading(
                sub,
                engine.docker,
                engine.state,
                container=message.container,
                project=message.project,
                options=options,
            )
        except DockstateError as err:
            code, detail = "UNKNOWN_CONTAINER", str(err)
        else:
            detail = ""
        if code is not None:
            self.logs.pop(message.id, None)
            self._engine_of.pop(message.id, None)
            sub.close()
            what = message.container if message.project is None else message.project
            self._error(message.id, code, detail or f"no such {code.split('_')[1].lower()}: "
                        f"{_clip(what)}")  # fmt: skip
            return
        if message.id not in self.logs:  # unsubscribed while it started
            sub.close()

    async def _subscribe(self, message: Subscribe) -> None:
        valid, flt = self._new_filter(message.id, message.filter)
        if not valid:
            return
        engine = self._engine(message.id, message.engine)
        if engine is None:
            return
        sub = Subscription(message.id, message.mode, flt)
        state = engine.state
        since = message.since
        if since is not None and message.mode == "changes":
            if since.epoch != state.epoch:
                sub.request_resync("EPOCH_MISMATCH")
            else:
                try:
                    # Read in a thread where it reaches the disk; no await after it until the
                    # subscription is registered, so no batch falls in between.
                    changes = await changes_since(state, since.version)
                except VersionExpired:
                    sub.request_resync("VERSION_EXPIRED")
                except VersionError:
                    sub.request_resync("VERSION_TOO_NEW")
                else:
                    engine.hub.resume(sub, since.version, changes)
            self._check_new_id(message.id)  # subscribed again while this one read
        self.subscriptions[sub.id] = sub
        self._engine_of[sub.id] = engine
        if engine.id not in self._subs:
            self._subs[engine.id] = []
            engine.hub.register(self, self._subs[engine.id], self._wake.set)
        self._subs[engine.id].append(sub)
        self._wake.set()

    def _operation_listener(self, engine: str) -> Callable[[Operation], None]:
        def on_operation(view: Operation) -> None:
            # protocol.md §11: to every connection that has a subscription on the engine.
            if any(e.id == engine for i, e in self._engine_of.items() if i not in self.logs):
                self._reply(wire.operation(engine, view.model_dump(mode="json")))

        return on_operation

    def _reply(self, text: str) -> None:
        if len(self._control) >= MAX_CONTROL:
            self.request_close(CloseCode.SLOW_CONSUMER, "slow consumer")
            return
        self._control.append(text)
        self._wake.set()

    def _error(self, ident: str | int | None, code: str, text: str) -> None:
        self._reply(wire.error(ident, code, text))

    # -- sending ---------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        heartbeat = self.ctx.config.heartbeat_ms / 1000
        while True:
            while self._control:
                await self._send(self._control.popleft())
            if self._close_request is not None:
                raise self._close_request
            if self._closing:
                return
            now = time.monotonic()
            deadline = now + heartbeat
            for engine_id, subs in list(self._subs.items()):
                engine = self.ctx.engines[engine_id]
                for sub in list(subs):
                    due = await self._flush(engine, sub, now)
                    deadline = min(deadline, due)
            for stats in list(self.stats.values()):
                text = stats.take()  # the latest sample only: never a backlog
                if text is not None:
                    await self._send(text)
            more = False
            for ident, logs in list(self.logs.items()):
                text = logs.take()  # one message per turn: the others' messages go between
                if text is not None:
                    await self._send(text)
                    more = more or logs.ready()
                if logs.done:
                    self.logs.pop(ident, None)
                    self._engine_of.pop(ident, None)
                    logs.close()
            if self._control or more:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self._wake.wait()
            self._wake.clear()

    async def _flush(self, engine: Engine, sub: Subscription, now: float) -> float:
        """Send what ``sub`` (of ``engine``) is owed now; return when it will next need
        attention."""
        hub, state, epoch, eid = engine.hub, engine.state, engine.state.epoch, engine.id
        heartbeat = self.ctx.config.heartbeat_ms / 1000
        if sub.mode == "full":
            if sub.full_due:
                if now - sub.last_full < FULL_INTERVAL:
                    return sub.last_full + FULL_INTERVAL
                text, visible = hub.state_json(sub.filter)
                sub.full_taken(state.version, visible, now)
                update = wire.engine_state_update(sub.id, eid, text, state.last_updated)
                await self._send_to(sub, update)
        elif sub.needs_snapshot:
            text, visible = hub.state_json(sub.filter)
            code = sub.snapshot_taken(state.version, visible)
            if code is not None:
                resync = wire.resync_required(sub.id, eid, code, state.oldest, state.version)
                await self._send(resync)
            await self._send_to(sub, wire.snapshot(sub.id, eid, epoch, sub.sent_version, text))
        taken = sub.take_changes() if sub.mode == "changes" else None
        if taken is not None:
            start, end, texts = taken
            first_event_ns, sub.first_event_ns = sub.first_event_ns, None
            await self._send_to(
                sub, wire.changes(sub.id, eid, epoch, start, end, state.last_updated, texts)
            )
            if first_event_ns:
                self.ctx.observe_latency(eid, (time.time_ns() - first_event_ns) / 1e9)
        version = sub.take_bookmark(now, heartbeat)
        if version is not None:
            await self._send_to(sub, wire.bookmark(sub.id, eid, epoch, version))
        return sub.next_due(heartbeat)

    async def _send_to(self, sub: Subscription, text: str) -> None:
        sub.last_sent = time.monotonic()
        await self._send(text)

    async def _send(self, text: str) -> None:
        try:
            async with asyncio.timeout(self.ctx.config.send_timeout):
                await self.ws.send_text(text)
        except TimeoutError:
            raise _Close(CloseCode.SLOW_CONSUMER, "slow consumer") from None
        except RuntimeError as err:
            # A client that closes as we write: uvicorn answers its close frame at once and
            # then refuses any send ("... after sending 'websocket.close'"). It is gone, as
            # with a disconnect; not a failure of ours (seen in CI as a logged traceback).
            if "close" not in str(err):
                raise
            raise WebSocketDisconnect(CloseCode.GOING_AWAY) from err


def _describe(err: ValidationError, raw: dict[str, Any]) -> str:
    if raw.get("type") not in CLIENT_MESSAGE_TYPES:
        return f"unknown message type {_clip(raw.get('type'))}"
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"][1:]) or "message"
    return f"{where}: {first['msg']}"


def _clip(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error echoes what the client sent, not
    a copy of a 64 KiB message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
