"""A dockstate client in a process of its own, so that a test can freeze it (SIGSTOP).

Usage: ``python frozen_client.py URL TOKEN``. It follows the server with
:meth:`dockstate.Client.watch` (reconnecting and resuming, as any user of the client would)
and a :class:`RecordingFollower`, and answers each line ``report`` on its stdin with one JSON
line: its version, its state, what its chain checker recorded, and the close code of each of
its connections (4499: the server dropped it as a slow consumer). It prints ``ready`` once it
holds its first snapshot, and exits when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from fault_harness import RecordingFollower
from websockets.asyncio.client import ClientConnection, connect

from dockstate.client import Backoff, Client, Watch

RECEIVE_BUFFER = 8192


class TrackedWatch(Watch):
    """A watch that keeps each of its connections, to read their close codes, and opens them
    with a small receive buffer: the kernel would otherwise hold megabytes of unread
    messages for a frozen process (the test engine would have to change for a long while
    before the server noticed anything)."""

    connections: list[ClientConnection]

    def _connect(self) -> connect:
        opening = super()._connect()
        where = urlsplit(self.client.ws_url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        try:
            sock.connect((where.hostname, where.port))
        except OSError:
            sock.close()
            raise
        opening.create_connection_kwargs["sock"] = sock
        return opening

    async def _handshake(self, ws: ClientConnection) -> None:
        self.connections.append(ws)
        await super()._handshake(ws)


async def main(url: str, token: str) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with Client(url, token) as client:
        # No idle timeout of its own: when it wakes up it must read what the server sent,
        # not give up on the connection first.
        watch = TrackedWatch(client, None, backoff=Backoff(0.05, 1.0), idle_timeout=3600)
        watch.connections = []
        follower = watch.follower = RecordingFollower()
        ready = asyncio.Event()

        async def follow() -> None:
            async for _ in watch:
                ready.set()

        following = asyncio.create_task(follow())
        await ready.wait()
        print("ready", flush=True)
        while await stdin.readline():
            report: dict[str, Any] = {
                "version": follower.version,
                "state": follower.state,
                "counts": dict(follower.chain.counts),
                "violations": follower.chain.violations,
                "gaps": follower.stats.gaps,
                "connections": follower.stats.connections,
                "closes": [ws.close_code for ws in watch.connections],
                "failed": repr(following.exception()) if following.done() else None,
            }
            print(json.dumps(report), flush=True)
        await watch.aclose()
        following.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
