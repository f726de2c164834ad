"""The WebSocket endpoint: protocol.md §3-§5, one :class:`Connection` per client.

A connection runs two tasks: the receiver (client messages, rate limited) and the sender (the
only writer to the socket: control replies first, then each subscription's snapshot, changes,
full states and bookmarks). The hub wakes the sender; it never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .. import __version__
from ..errors import VersionError, VersionExpired
from ..hub import Subscription, compile_filter
from ..protocol import PROTOCOL, CloseCode, Hello, Subscribe, client_message_adapter
from ._auth import origin_allowed, token_from_headers, token_matches
from ._context import ServerContext, context_of

__all__ = ["websocket_endpoint"]

log = logging.getLogger("dockstate.server")

FULL_INTERVAL = 0.1  # mode `full`: at most one state per subscription per 100 ms
_MAX_STRIKES = 200  # rate-limited messages tolerated before closing 4429
#: How deep lists and objects may nest in a client message (the protocol's messages need 4).
MAX_DEPTH = 32


class _Close(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _dumps(value: Any) -> str:
    # ASCII escapes, because the strings here may be a client's own (subscription ids, echoed
    # ids and types), and JSON lets a client send a lone surrogate ("\ud800"): valid as an
    # escape, but not encodable as the UTF-8 of a text frame.
    return json.dumps(value, separators=(",", ":"))


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
        self._subs: list[Subscription] = []  # the hub reads this list
        self._control: deque[str] = deque()
        self._wake = asyncio.Event()
        self._last_sent: dict[str, float] = {}
        self._last_full: dict[str, float] = {}
        self._tokens = float(ctx.config.burst)
        self._refilled = time.monotonic()
        self._strikes = 0
        self._closing = False
        self._close_request: _Close | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def request_close(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` once what is being written has been written."""
        self._close_request = _Close(code, reason)
        self._wake.set()

    async def run(self) -> None:
        """Serve the client until it goes or is closed; never raises."""
        try:
            await self._handshake()
            self.ctx.hub.register(self, self._subs, self._wake.set)
            try:
                await self._serve()
            finally:
                self.ctx.hub.unregister(self)
        except _Close as close:
            await self._close(close.code, close.reason)
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("a WebSocket connection failed")
            await self._close(CloseCode.INTERNAL_ERROR, "internal error")

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code, reason[:120]), 5)

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
            text = await asyncio.wait_for(self._receive_text(), config.hello_timeout)
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
        state = self.ctx.state
        welcome = {
            "type": "welcome",
            "protocol": PROTOCOL,
            "server": f"dockstate/{__version__}",
            "session": self.session,
            "epoch": state.epoch,
            "version": state.version,
            "oldest": state.oldest,
            "heartbeat_ms": config.heartbeat_ms,
        }
        await self.ws.send_text(_dumps(welcome))

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
            self._handle(text)

    def _take_token(self) -> bool:
        config, now = self.ctx.config, time.monotonic()
        self._tokens = min(config.burst, self._tokens + (now - self._refilled) * config.rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _handle(self, text: str) -> None:
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
            self._reply({"type": "pong", "id": raw.get("id")})
        elif kind == "subscribe":
            assert isinstance(message, Subscribe)
            self._subscribe(message)
        elif kind in ("unsubscribe", "resync"):
            sub = self.subscriptions.get(raw["id"])
            if sub is None:
                self._error(
                    raw["id"], "UNKNOWN_SUBSCRIPTION", f"no subscription {_clip(raw['id'])}"
                )
            elif kind == "unsubscribe":
                del self.subscriptions[sub.id]
                self._subs.remove(sub)
            else:
                sub.needs_snapshot, sub.resync_code = True, None
                self._wake.set()
        # ack: nothing to do; delivery does not wait for acknowledgements.

    def _subscribe(self, message: Subscribe) -> None:
        if message.id in self.subscriptions:
            raise _Close(CloseCode.DUPLICATE_SUBSCRIPTION, f"subscription {message.id!r} exists")
        try:
            flt = compile_filter(message.filter)
        except ValueError as err:
            self._error(message.id, "INVALID_FILTER", str(err))
            return
        sub = Subscription(message.id, message.mode, flt)
        state = self.ctx.state
        since = message.since
        if since is not None and message.mode == "changes":
            code = None
            if since.epoch != state.epoch:
                code = "EPOCH_MISMATCH"
            else:
                try:
                    self.ctx.hub.resume(sub, since.version)
                except VersionExpired:
                    code = "VERSION_EXPIRED"
                except VersionError:
                    code = "VERSION_TOO_NEW"
            sub.resync_code = code
        self.subscriptions[sub.id] = sub
        self._subs.append(sub)
        self._wake.set()

    def _reply(self, message: dict[str, Any]) -> None:
        self._control.append(_dumps(message))
        self._wake.set()

    def _error(self, ident: str | int | None, code: str, text: str) -> None:
        self._reply({"type": "error", "id": ident, "code": code, "message": text})

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
            for sub in list(self._subs):
                due = await self._flush(sub, now)
                deadline = min(deadline, due)
            if self._control:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - time.monotonic()))
            self._wake.clear()

    async def _flush(self, sub: Subscription, now: float) -> float:
        """Send what ``sub`` is owed now; return when it will next need attention."""
        hub, state, epoch = self.ctx.hub, self.ctx.state, self.ctx.state.epoch
        heartbeat = self.ctx.config.heartbeat_ms / 1000
        if sub.mode == "full":
            last = self._last_full.get(sub.id, 0.0)
            if sub.full_dirty or sub.needs_snapshot:
                if now - last < FULL_INTERVAL:
                    return last + FULL_INTERVAL
                text, sub.visible = hub.state_json(sub.filter)
                sub.full_dirty = sub.needs_snapshot = False
                sub.sent_version = sub.offered_version = state.version
                self._last_full[sub.id] = now
                await self._send_to(
                    sub,
                    f'{{"type":"engine_state_update","sub":{_dumps(sub.id)},"data":{text},'
                    f'"timestamp":{_dumps(state.last_updated)}}}',
                )
        elif sub.needs_snapshot:
            code, sub.resync_code = sub.resync_code, None
            text, sub.visible = hub.state_json(sub.filter)
            sub.pending.clear()
            sub.needs_snapshot = False
            sub.sent_version = sub.offered_version = state.version
            if code is not None:
                await self._send(
                    _dumps(
                        {
                            "type": "resync_required",
                            "sub": sub.id,
                            "code": code,
                            "oldest": state.oldest,
                            "current": state.version,
                        }
                    )
                )
            await self._send_to(
                sub,
                f'{{"type":"snapshot","sub":{_dumps(sub.id)},"epoch":{_dumps(epoch)},'
                f'"version":{sub.sent_version},"state":{text}}}',
            )
        taken = sub.take_changes() if sub.mode == "changes" else None
        if taken is not None:
            start, end, texts = taken
            first_event_ns, sub.first_event_ns = sub.first_event_ns, None
            await self._send_to(
                sub,
                f'{{"type":"changes","sub":{_dumps(sub.id)},"epoch":{_dumps(epoch)},'
                f'"from":{start},"to":{end},"timestamp":{_dumps(state.last_updated)},'
                f'"changes":[{",".join(texts)}]}}',
            )
            if first_event_ns:
                self.ctx.observe_latency((time.time_ns() - first_event_ns) / 1e9)
        last = self._last_sent.get(sub.id, now)
        if now - last >= heartbeat and not sub.pending:
            sub.sent_version = sub.offered_version
            await self._send_to(
                sub,
                f'{{"type":"bookmark","sub":{_dumps(sub.id)},"epoch":{_dumps(epoch)},'
                f'"version":{sub.sent_version}}}',
            )
            last = now
        return last + heartbeat

    async def _send_to(self, sub: Subscription, text: str) -> None:
        self._last_sent[sub.id] = time.monotonic()
        await self._send(text)

    async def _send(self, text: str) -> None:
        try:
            await asyncio.wait_for(self.ws.send_text(text), self.ctx.config.send_timeout)
        except TimeoutError:
            raise _Close(CloseCode.SLOW_CONSUMER, "slow consumer") from None


def _describe(err: ValidationError, raw: dict[str, Any]) -> str:
    if raw.get("type") not in ("hello", "subscribe", "unsubscribe", "resync", "ack", "ping"):
        return f"unknown message type {_clip(raw.get('type'))}"
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"][1:]) or "message"
    return f"{where}: {first['msg']}"


def _clip(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error echoes what the client sent, not
    a copy of a 64 KiB message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
