"""Resource usage through a real `dockstate serve` (protocol.md §9): subscribe_stats streams
samples of the running containers, nothing is read while nobody subscribes, the REST routes,
and the subscription's errors."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness import LABEL as SESSION_LABEL
from harness import cpu_seconds
from server_harness import Peer, ServerProcess, adocker, peer

from dockstate.protocol import StatsMessage

pytestmark = pytest.mark.integration

LABEL = f"{SESSION_LABEL}=1"
IMAGE = "dockstate-test/busybox"


@pytest.fixture
async def burner() -> AsyncIterator[str]:
    """A running container that keeps one core busy."""
    cid = await adocker(
        "run", "-d", "--label", LABEL, "--name", "dst-stats-burner", IMAGE,
        "sh", "-c", "while :; do :; done",
    )  # fmt: skip
    yield cid
    await adocker("rm", "-f", cid)


def metric(server: ServerProcess, name: str) -> float:
    """The value of an engine's metric ``name``: the default engine's (``local``)."""
    text = server.get("/metrics").text
    found = re.search(rf'^{name}{{engine="local"}} (\S+)$', text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


async def next_stats(p: Peer) -> dict[str, Any]:
    message = await p.recv_until("stats", 10.0)
    StatsMessage.model_validate(message)  # the published schema
    return message


async def test_a_subscriber_gets_every_running_container_s_usage(
    server: ServerProcess, burner: str
) -> None:
    async with peer(server) as p:
        await p.send({"type": "subscribe_stats", "id": "t1", "interval_ms": 500})
        start = time.monotonic()
        first = await next_stats(p)
        assert time.monotonic() - start < 3  # within an interval or so of subscribing
        assert first["sub"] == "t1"
        assert first["engine"] == "local"
        # It appears once the state has it running; CPU needs two readings of it.
        pid = int(await adocker("inspect", "--format", "{{.State.Pid}}", burner))
        seen, used = 0, [(time.monotonic(), cpu_seconds(pid))]
        for _ in range(20):
            message = await next_stats(p)
            used.append((time.monotonic(), cpu_seconds(pid)))
            containers = message["containers"]
            assert isinstance(containers, dict)
            seen += burner in containers
            if seen == 3:
                break
        assert seen == 3, "the running container was not in the samples"
        usage = containers[burner]
        # What the loop really got between the last two samples: a whole core on a quiet
        # machine, less on a loaded one.
        (t0, u0), (t1, u1) = used[-2:]
        real = (u1 - u0) / (t1 - t0) * 100
        assert real > 10, f"the busy loop got {real:.0f}% of a core"
        assert usage["cpu_percent"] == pytest.approx(real, abs=20), usage
        assert usage["memory_bytes"] > 0
        assert usage["memory_limit_bytes"] >= usage["memory_bytes"]
        assert usage["pids"] >= 1


async def test_a_filter_narrows_the_containers(server: ServerProcess, burner: str) -> None:
    async with peer(server) as p:
        await p.send(
            {
                "type": "subscribe_stats",
                "id": "t1",
                "interval_ms": 500,
                "filter": {"names": ["dst-stats-nobody"]},
            }
        )
        message = await next_stats(p)
        assert message["containers"] == {}
        await p.send(
            {
                "type": "subscribe_stats",
                "id": "t2",
                "interval_ms": 500,
                "filter": {"names": ["dst-stats-burner"]},
            }
        )
        while (message := await next_stats(p))["sub"] != "t2":
            pass
        assert list(message["containers"]) == [burner]


async def test_nothing_is_read_while_nobody_subscribes(server: ServerProcess, burner: str) -> None:
    async with peer(server) as p:
        await p.send({"type": "subscribe_stats", "id": "t1", "interval_ms": 500})
        await next_stats(p)
        assert metric(server, "dockstate_stats_subscriptions") == 1
        await p.send({"type": "unsubscribe", "id": "t1"})
        await asyncio.sleep(0.3)
        assert metric(server, "dockstate_stats_subscriptions") == 0
        reads = metric(server, "dockstate_stats_reads_total")
        await asyncio.sleep(2)
        assert metric(server, "dockstate_stats_reads_total") == reads
    # A client that goes away without unsubscribing ends its subscription too.
    async with peer(server) as p:
        await p.send({"type": "subscribe_stats", "id": "t1", "interval_ms": 500})
        await next_stats(p)
    await asyncio.sleep(0.3)
    assert metric(server, "dockstate_stats_subscriptions") == 0


async def test_rest_gives_a_fresh_sample_and_a_container_s_history(
    server: ServerProcess, burner: str
) -> None:
    now = server.get("/api/v1/stats").json()
    assert burner in now["containers"]
    assert now["time"].endswith("Z")
    async with peer(server) as p:
        await p.send({"type": "subscribe_stats", "id": "t1", "interval_ms": 500})
        for _ in range(4):
            await next_stats(p)
    history = server.get(f"/api/v1/containers/{burner}/stats").json()["samples"]
    assert len(history) >= 2
    assert set(history[-1]) >= {"time", "cpu_percent", "memory_bytes", "pids"}
    by_name = server.get("/api/v1/containers/dst-stats-burner/stats").json()["samples"]
    assert len(by_name) >= len(history)
    missing = server.get("/api/v1/containers/dst-no-such/stats")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_subscription_errors(server: ServerProcess) -> None:
    async with peer(server) as p:
        await p.send({"type": "subscribe_stats", "id": "t1", "interval_ms": 100})
        error = await p.recv_until("error")
        assert error["code"] == "INVALID_MESSAGE"
        assert "interval_ms" in error["message"]
        await p.send({"type": "subscribe_stats", "id": "t1", "filter": {"bogus": 1}})
        assert (await p.recv_until("error"))["code"] == "INVALID_FILTER"
        await p.send({"type": "subscribe_stats", "id": "t1", "engine": "prod-9"})
        assert (await p.recv_until("error"))["code"] == "UNKNOWN_ENGINE"
        await p.send({"type": "subscribe", "id": "same"})
        await p.recv_until("snapshot")
        await p.send({"type": "subscribe_stats", "id": "same"})
        assert await p.closed_with() == 4409
