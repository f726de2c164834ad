"""Hostile WebSocket frames: the 64 KiB limit to the byte (also for fragmented and compressed
messages), frames that break RFC 6455, and frames cut in the middle by a connection that
goes away. Each gets the close code the protocol (or RFC 6455) names, the server forgets the
connection, logs no failure of its own, and a bystander keeps receiving its changes."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_harness import (
    BINARY,
    CONTINUATION,
    PING,
    TEXT,
    Bystander,
    RawSocket,
    eventually,
    frame,
    metric,
    problems_in,
    server_is_healthy,
    server_with_output,
)
from server_harness import ServerProcess, peer

pytestmark = pytest.mark.integration

MAX_FRAME = 64 * 1024


@pytest.fixture(scope="module")
def framed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    with server_with_output(tmp_path_factory.mktemp("frames")) as pair:
        yield pair


@pytest.fixture(scope="module")
def bystander(framed: tuple[ServerProcess, Path]) -> Iterator[Bystander]:
    with Bystander(framed[0]) as watcher:
        yield watcher


@pytest.fixture
def server(framed: tuple[ServerProcess, Path], bystander: Bystander) -> Iterator[ServerProcess]:
    """The server; after the test, it must be well, and the bystander still served."""
    start = framed[1].stat().st_size
    yield framed[0]
    assert server_is_healthy(framed[0])
    assert bystander.sees_a_change()
    assert problems_in(framed[1], start) == []


def ping_of_size(size: int, ident: str = "") -> str:
    """A ping whose JSON text is exactly ``size`` bytes long."""
    bare = json.dumps({"type": "ping", "id": ident})
    return json.dumps({"type": "ping", "id": ident + "x" * (size - len(bare))})


async def test_a_message_of_exactly_64_kib_is_served(server: ServerProcess) -> None:
    text = ping_of_size(MAX_FRAME)
    assert len(text.encode()) == MAX_FRAME
    async with peer(server, max_size=None, compression=None) as p:
        await p.send(text)
        assert (await p.recv())["type"] == "pong"


async def test_one_byte_more_closes_1009(server: ServerProcess) -> None:
    async with peer(server, compression=None) as p:
        await p.send(ping_of_size(MAX_FRAME + 1))
        assert await p.closed_with() == 1009


async def test_a_compressed_message_that_inflates_past_64_kib_closes_1009(
    server: ServerProcess,
) -> None:
    async with peer(server) as p:  # permessage-deflate: a megabyte of zeros is a kilobyte
        assert p.ws.protocol.extensions, "permessage-deflate was not negotiated"
        await p.send(json.dumps({"type": "ping", "id": "0" * 1_000_000}))
        assert await p.closed_with() == 1009


async def test_a_fragmented_message_is_one_message(server: ServerProcess) -> None:
    async with peer(server) as p:
        await p.ws.send(iter(['{"type":"ping",', '"id":', '"in-three"}']))
        assert await p.recv() == {"type": "pong", "id": "in-three"}


async def test_fragments_that_add_up_past_64_kib_close_1009(server: ServerProcess) -> None:
    text = ping_of_size(5 * 16 * 1024)
    async with peer(server, compression=None) as p:
        await p.ws.send(iter(text[i : i + 16 * 1024] for i in range(0, len(text), 16 * 1024)))
        assert await p.closed_with() == 1009


async def test_a_ping_between_fragments_is_answered_and_the_message_served(
    server: ServerProcess,
) -> None:
    async with RawSocket.connect(server) as raw:
        await raw.hello(server.token)
        await raw.send(frame(TEXT, b'{"type":"ping",', fin=False))
        await raw.send(frame(PING, b"are you there"))
        await raw.send(frame(CONTINUATION, b'"id":"around a ping"}'))
        got = [await raw.read(), await raw.read()]
    assert (0xA, b"are you there") in got  # the pong of RFC 6455
    assert (TEXT, b'{"type":"pong","id":"around a ping"}') in got


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(frame(TEXT, b'{"type":"ping","id":"\xff"}'), 1007, id="text not UTF-8"),
        pytest.param(frame(TEXT, b'{"type":"ping"}', masked=False), 1002, id="unmasked"),
        pytest.param(frame(0x3, b"?"), 1002, id="reserved opcode"),
        pytest.param(frame(CONTINUATION, b"{}"), 1002, id="continuation of nothing"),
        pytest.param(frame(PING, b"x", fin=False), 1002, id="fragmented ping"),
        pytest.param(frame(PING, b"x" * 126), 1002, id="ping over 125 bytes"),
        pytest.param(frame(BINARY, b"", length=2**63 - 1), 1009, id="claims 2**63-1 bytes"),
        pytest.param(b"\x13\x37" * 64, 1002, id="garbage"),
    ],
)
@pytest.mark.parametrize("said_hello", [True, False], ids=["after hello", "before hello"])
async def test_frames_that_break_rfc_6455_close_with_its_code(
    server: ServerProcess, data: bytes, code: int, said_hello: bool
) -> None:
    async with RawSocket.connect(server) as raw:
        if said_hello:
            await raw.hello(server.token)
        await raw.send(data)
        assert await raw.close_code() == code


@pytest.mark.parametrize("said_hello", [True, False], ids=["after hello", "before hello"])
@pytest.mark.parametrize(
    "cut",
    [
        frame(TEXT, b'{"type":"ping","id":"cut"}')[:9],  # in the payload
        frame(TEXT, b"x" * 300)[:3],  # in the extended length
        frame(TEXT, b"x" * 300, length=60_000),  # 300 of the 60 000 bytes it claims
    ],
    ids=["in the payload", "in the header", "short of its length"],
)
async def test_a_frame_cut_by_a_closed_connection_is_forgotten(
    server: ServerProcess, cut: bytes, said_hello: bool
) -> None:
    def open_sockets() -> float:
        return metric(server, "dockstate_websockets_open")

    before = await asyncio.to_thread(open_sockets)
    async with RawSocket.connect(server) as raw:
        if said_hello:
            await raw.hello(server.token)
        assert await asyncio.to_thread(open_sockets) == before + 1
        await raw.send(cut)
    # The TCP connection is closed (not the WebSocket): the server must let go of it.
    let_go = await asyncio.to_thread(eventually, lambda: open_sockets() == before, timeout=10)
    assert let_go


async def test_a_frame_cut_on_an_open_connection_before_hello_closes_4408(
    server: ServerProcess,
) -> None:
    async with RawSocket.connect(server) as raw:
        await raw.send(frame(TEXT, b'{"type":"hello"}', length=100)[:10])
        # Never finished: the hello timeout (1 s in these tests) still applies.
        assert await raw.close_code() == 4408


async def test_a_binary_frame_of_json_is_read_like_text(server: ServerProcess) -> None:
    async with RawSocket.connect(server) as raw:
        await raw.hello(server.token)
        await raw.send(frame(BINARY, b'{"type":"ping","id":"bin"}'))
        assert await raw.read() == (TEXT, b'{"type":"pong","id":"bin"}')
        await raw.send(frame(BINARY, b"\xc3\x28"))  # not UTF-8
        _, payload = await raw.read()
        assert json.loads(payload)["code"] == "INVALID_MESSAGE"
        await raw.send(frame(0x8, struct.pack("!H", 1000)))
        assert await raw.close_code() == 1000


async def test_clients_that_leave_while_being_sent_to_leave_no_traceback(
    server: ServerProcess,
) -> None:
    # Each asks for five full states, and closes while the server is still sending them: the
    # sender fails on the closed connection as the receiver sees the close. (The server logged
    # "Task exception was never retrieved" with a traceback for about one in ten.)
    for _ in range(150):
        async with peer(server, max_size=None) as p:
            for i in range(5):
                await p.send({"type": "subscribe", "id": f"s{i}", "mode": "full"})
