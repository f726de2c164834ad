"""Floods: thousands of connections that never say hello, and clients that send far faster
than --rate. The server holds at most --max-connections (one more is closed 1013), closes the
silent ones 4408 after the hello timeout, rate-limits and then closes (4429) the loud ones,
keeps its memory bounded, and goes on serving a well-behaved client, REST and /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hostile_harness import (
    Bystander,
    eventually,
    metric,
    problems_in,
    rss_mb,
    server_is_healthy,
    server_with_output,
)
from server_harness import ServerProcess, peer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.integration

MAX_CONNECTIONS = 1000  # the default, given explicitly
FLOOD = 2000  # connections per round, opened in batches
BATCH = 200
#: What a flood may cost: MAX_CONNECTIONS open connections (about 115 KB each) and the
#: handshakes of the refused ones in flight (more of those on a slower machine). The memory is
#: not given back to the system (the allocator keeps it for the next connections), so a second
#: flood must fit in about the same: a leak would add a flood's cost again.
CAP_BUDGET_MB = 400
LEAK_MARGIN_MB = 48


@pytest.fixture(scope="module", autouse=True)
def _enough_file_descriptors() -> None:
    """This process holds up to FLOOD client sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 512
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"this test needs {wanted} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    args = ["--hello-timeout", "1", "--max-connections", str(MAX_CONNECTIONS)]
    with server_with_output(tmp_path_factory.mktemp("floods"), *args) as pair:
        yield pair


@pytest.fixture(scope="module")
def bystander(flooded: tuple[ServerProcess, Path]) -> Iterator[Bystander]:
    with Bystander(flooded[0]) as watcher:
        yield watcher


async def silent_client(server: ServerProcess) -> str:
    """Connect, never say hello; how the server ended it."""
    try:
        async with connect(server.ws_url, subprotocols=["dockstate.v1"], open_timeout=60) as ws:  # type: ignore[list-item]
            await ws.recv()
    except ConnectionClosed as closed:
        return f"closed {closed.rcvd.code if closed.rcvd else None}"
    except Exception as err:  # counted, and then the test fails on it
        return f"{type(err).__name__}: {err}"
    return "a message before hello"


async def flood(server: ServerProcess, bystander: Bystander) -> tuple[Counter[str], float]:
    """One round: FLOOD silent connections, in batches, while the bystander, REST and /healthz
    must be served. Returns how the connections ended, and the peak RSS (MB) seen."""
    pid, peak = server.process.pid, 0.0
    tasks = []
    for _ in range(FLOOD // BATCH):
        tasks += [asyncio.ensure_future(silent_client(server)) for _ in range(BATCH)]
        await asyncio.sleep(0.05)
        peak = max(peak, rss_mb(pid))
    # In the thick of it: a change reaches the bystander, reading and health are answered.
    assert await asyncio.to_thread(bystander.sees_a_change)
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as api:
        assert (await api.get("/api/v1/state")).status_code == 200
        assert (await api.get("/healthz")).status_code == 200
    peak = max(peak, rss_mb(pid))
    outcomes = Counter(await asyncio.gather(*tasks))
    return outcomes, peak


async def test_a_connection_flood_is_capped_timed_out_and_forgotten(
    flooded: tuple[ServerProcess, Path], bystander: Bystander
) -> None:
    server, output = flooded
    start = output.stat().st_size
    pid = server.process.pid
    refused_before = await asyncio.to_thread(metric, server, "dockstate_websockets_refused_total")
    baseline = rss_mb(pid)
    figures = []
    for _ in range(2):
        outcomes, peak = await flood(server, bystander)
        drained = await asyncio.to_thread(
            eventually, lambda: metric(server, "dockstate_websockets_open") == 1, 30
        )
        assert drained, "the flood's connections are still open"  # 1: the bystander's
        after = rss_mb(pid)
        figures.append((outcomes, peak, after))
        # Each silent connection was either held until the hello timeout (4408), or turned
        # away at once because MAX_CONNECTIONS were open (1013); nothing else.
        assert set(outcomes) <= {"closed 4408", "closed 1013"}, outcomes
        assert sum(outcomes.values()) == FLOOD
        assert outcomes["closed 4408"] >= MAX_CONNECTIONS - 1  # the bystander holds one
    refused = await asyncio.to_thread(metric, server, "dockstate_websockets_refused_total")
    assert refused - refused_before == sum(o["closed 1013"] for o, _, _ in figures)

    print(f"\nconnection floods of {FLOOD}: RSS baseline {baseline:.0f} MB")
    for outcomes, peak, after in figures:
        print(f"  {dict(outcomes)}: peak {peak:.0f} MB, after {after:.0f} MB")
    (_, _, first), (_, _, second) = figures
    assert first - baseline < CAP_BUDGET_MB
    assert second - first < LEAK_MARGIN_MB
    assert bystander.sees_a_change()
    assert server_is_healthy(server)
    assert problems_in(output, start) == []


async def test_a_message_flood_is_rate_limited_then_closed_while_others_are_served(
    flooded: tuple[ServerProcess, Path], bystander: Bystander
) -> None:
    server, output = flooded
    start = output.stat().st_size
    before = rss_mb(server.process.pid)

    async def loud() -> Counter[str]:
        """Say hello, then 2000 pings as fast as the socket takes them; what came back."""
        got: Counter[str] = Counter()
        async with peer(server) as p:
            for i in range(2000):
                try:
                    await p.send({"type": "ping", "id": i})
                except ConnectionClosed:
                    break
            with contextlib.suppress(ConnectionClosed):
                async with asyncio.timeout(30):
                    async for text in p.ws:
                        message = json.loads(text)
                        got[message.get("code", message["type"])] += 1
            got[f"closed {p.ws.close_code}"] += 1
        return got

    async def polite() -> Counter[str]:
        """Ten pings a second (a fifth of --rate) meanwhile; what came back."""
        got: Counter[str] = Counter()
        async with peer(server) as p:
            for i in range(20):
                await p.send({"type": "ping", "id": f"polite-{i}"})
                message = await p.recv()
                got[message.get("code", message["type"])] += 1
                await asyncio.sleep(0.1)
        return got

    *floods, calm = await asyncio.gather(*(loud() for _ in range(10)), polite())
    assert calm == Counter({"pong": 20})  # never RATE_LIMITED, never closed
    for got in floods:
        # The burst (2 x --rate) is answered; then every message is RATE_LIMITED, and the
        # 201st of those closes the connection.
        assert got["pong"] >= 100
        assert got["RATE_LIMITED"] == 200
        assert got["closed 4429"] == 1
    assert await asyncio.to_thread(bystander.sees_a_change)
    after = rss_mb(server.process.pid)
    print(f"\nmessage floods: {floods[0]} (x10), polite client {dict(calm)}")
    print(f"  RSS before {before:.0f} MB, after {after:.0f} MB")
    assert after - before < LEAK_MARGIN_MB
    assert server_is_healthy(server)
    assert problems_in(output, start) == []
