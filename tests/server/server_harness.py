"""A real `dockstate serve` process on a free port, and a raw protocol client for tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]


def docker(*args: str) -> str:
    """Run the docker CLI; return its stdout (raises CalledProcessError when it fails)."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


async def adocker(*args: str) -> str:
    """:func:`docker` without blocking the event loop."""
    return await asyncio.to_thread(docker, *args)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A running server: its address, token and process."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    #: The server's history database (pass it as ``db`` to start the same server again).
    db: str | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=self.headers, timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.delete(self.url + path, headers=self.headers, timeout=30, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)  # reaped: no zombie, and no "still running" at collection


def start_server(
    *extra: str,
    port: int | None = None,
    token: str | None = None,
    db: str | None = None,
    output: IO[bytes] | None = None,
) -> ServerProcess:
    """Start `dockstate serve` (test-friendly timings unless overridden); wait until it has
    loaded the engine. Each server has its own history database in a fresh temporary
    directory, unless ``db`` names one (e.g. the previous server's) or ``extra`` has --no-db.
    ``output``: where its stdout and stderr go (default: stdout nowhere, stderr to the test's).
    """
    port = port or free_port()
    token = token or secrets.token_hex(12)  # never starts with "-" (argparse)
    if db is None and "--no-db" not in extra and "--db" not in extra:
        db = str(Path(tempfile.mkdtemp(prefix="dockstate-test-")) / "history.db")
    args = [
        sys.executable, "-m", "dockstate.cli", "serve", "--port", str(port), "--token", token,
        "--heartbeat-ms", "500", "--hello-timeout", "1", *(["--db", db] if db else []), *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        args,
        stdout=output or subprocess.DEVNULL,
        stderr=output,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", token, process, db)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockstate serve exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=1).json()["engine"] == "connected":
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("dockstate serve did not get ready within 30 s")


class Peer:
    """A raw protocol client: sends JSON, receives JSON, sees close codes."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        message: dict[str, Any] = json.loads(text)
        return message

    async def recv_until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Skip messages until one of type ``kind``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message["type"] == kind:
                return message

    async def closed_with(self, timeout: float = 5.0) -> int | None:  # noqa: ASYNC109
        """Read until the server closes; return its close code."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                async for _ in self.ws:
                    pass
        return self.ws.close_code

    async def hello(self, token: str) -> dict[str, Any]:
        await self.send(
            {"type": "hello", "protocol": "dockstate.v1", "token": token, "client": "tests/1"}
        )
        return await self.recv()


@contextlib.asynccontextmanager
async def peer(server: ServerProcess, *, hello: bool = True, **options: Any) -> AsyncIterator[Peer]:
    """A connection to ``server`` (said hello unless ``hello=False``)."""
    options.setdefault("subprotocols", ["dockstate.v1"])
    async with connect(server.ws_url, **options) as ws:
        p = Peer(ws)
        if hello:
            welcome = await p.hello(server.token)
            assert welcome["type"] == "welcome", welcome
        yield p
