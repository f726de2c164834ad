"""Helpers for the hostile-input tests: a well-behaved client that watches from a thread of its
own while others misbehave, raw WebSocket frames, and the server's memory and logs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from harness import LABEL, unique
from server_harness import ServerProcess, peer

#: The label value of the volumes the bystander watches.
BYSTANDER = "bystander"


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid``, in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def server_is_healthy(server: ServerProcess, timeout: float = 30.0) -> bool:
    """The process runs and /healthz answers, with the engine connected (within ``timeout``:
    the engine is shared, and may be restarting under someone else's test)."""

    def healthy() -> bool:
        try:
            health = httpx.get(server.url + "/healthz", timeout=10).json()
        except httpx.HTTPError:
            return False
        return bool(health == {"status": "ok", "engine": "connected"})

    return server.process.poll() is None and eventually(healthy, timeout)


def problems_in(output: Path, start: int = 0) -> list[str]:
    """Lines of the server's output (from byte ``start`` on) that tell of a failure of its
    own, not of a client."""
    markers = ("Traceback", "a WebSocket connection failed", "Exception in ASGI", "ERROR",
               "exception was never retrieved")  # fmt: skip
    with output.open("rb") as log:
        log.seek(start)
        text = log.read().decode(errors="replace")
    return [line for line in text.splitlines() if any(m in line for m in markers)]


class Bystander:
    """A well-behaved client, in a thread of its own, subscribed to the volumes labelled
    ``LABEL=bystander``: :meth:`sees_a_change` proves that it is still served."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Bystander:
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("the bystander could not subscribe")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        # No keepalive pings: websockets draws each ping's payload from the global `random`,
        # and a draw from this thread in the middle of hypothesis drawing an example fails
        # the test ("Do not use the random module inside strategies", seen in CI).
        async with peer(self.server, max_size=None, ping_interval=None) as p:
            await p.send({"type": "subscribe", "id": "b", "filter": {"labels": {LABEL: BYSTANDER}}})
            self.messages.append(await p.recv_until("snapshot"))
            self._ready.set()
            reader = asyncio.ensure_future(self._read(p.ws))
            await self._stop.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, ws: Any) -> None:
        try:
            async for text in ws:
                self.messages.append(json.loads(text))
        finally:
            self.close_code = ws.close_code

    def _saw(self, name: str, op: str) -> bool:
        return any(
            change["id"] == name and change["op"] == op
            for message in list(self.messages)
            if message["type"] == "changes"
            for change in message["changes"]
        )

    def sees_a_change(self, timeout: float = 15.0) -> bool:
        """Create and remove a volume it watches; whether it saw both, still connected."""
        name = unique("bystander-")
        if not eventually(lambda: _docker("volume", "create", "--label", f"{LABEL}={BYSTANDER}",
                                           name), timeout):  # fmt: skip
            raise AssertionError("the Docker engine could not create a volume")
        try:
            if not eventually(lambda: self._saw(name, "created"), timeout):
                return False
        finally:
            eventually(lambda: _docker("volume", "rm", name), timeout)
        return eventually(lambda: self._saw(name, "removed"), timeout) and self.close_code is None


def _docker(*args: str) -> bool:
    """Run a docker command; whether it succeeded."""
    return subprocess.run(["docker", *args], capture_output=True, check=False).returncode == 0


def eventually(condition: Any, timeout: float) -> bool:
    """Whether ``condition()`` holds within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- raw frames (RFC 6455 §5.2) ----------------------------------------------------------------

TEXT, BINARY, CLOSE, PING, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0x0


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, length: int | None = None
) -> bytes:
    """A client frame; ``length`` claims another payload length than the real one."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawSocket:
    """A WebSocket connection driven frame by frame, for frames no library would send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, server: ServerProcess) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: dockstate.v1\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        raw = cls(reader, writer)
        try:
            yield raw
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def hello(self, token: str) -> dict[str, Any]:
        hello = {"type": "hello", "protocol": "dockstate.v1", "token": token}
        await self.send(frame(TEXT, json.dumps(hello).encode()))
        opcode, payload = await self.read()
        assert opcode == TEXT
        welcome: dict[str, Any] = json.loads(payload)
        return welcome

    async def read(self) -> tuple[int, bytes]:
        """The next frame from the server (unmasked, unfragmented)."""
        first, second = await self.reader.readexactly(2)
        n = second & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(n)

    async def close_code(self, timeout: float = 10.0) -> int | None:  # noqa: ASYNC109
        """Read until the server's close frame; its code (None: the TCP connection ended)."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    opcode, payload = await self.read()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return None
                if opcode == CLOSE:
                    return int(struct.unpack("!H", payload[:2])[0]) if payload else 1005


def metric(server: ServerProcess, name: str) -> float:
    """The value of the metric ``name`` (without labels), e.g. ``dockstate_websockets_open``."""
    for line in server.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


@contextlib.contextmanager
def server_with_output(tmp: Path, *args: str) -> Iterator[tuple[ServerProcess, Path]]:
    """A server whose stdout and stderr go to a file (read it with :func:`problems_in`)."""
    from server_harness import start_server

    output = tmp / "server-output.txt"
    with output.open("wb") as sink:
        server = start_server(*args, output=sink)
        try:
            yield server, output
        finally:
            server.stop()
