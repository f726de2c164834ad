"""The soak test: many clients follow one server for a long while under a steady stream of
real operations. The server's memory stays flat and every client ends with the engine's state.

The default run (in the test command) is short: 20 s, 10 clients. ``scripts/soak`` runs the
long one (10 minutes, 100 clients) and prints its figures:

    DOCKSTATE_SOAK_SECONDS=600 DOCKSTATE_SOAK_CLIENTS=100 pytest tests/soak -s
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from typing import Any

import pytest
from harness import LABEL as SESSION_LABEL
from harness import comparable, differences, docker, engine_truth
from server_harness import Peer, ServerProcess, peer, start_server

from dockstate.state import apply_change

pytestmark = pytest.mark.integration

SECONDS = float(os.environ.get("DOCKSTATE_SOAK_SECONDS", "20"))
CLIENTS = int(os.environ.get("DOCKSTATE_SOAK_CLIENTS", "10"))
OPS_PER_SECOND = 4
IMAGE = "dockstate-test/busybox"


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


class Follower:
    """One client: a subscription in mode ``changes`` applied to its own copy of the state,
    with every message checked to start where the previous one ended."""

    def __init__(self, p: Peer) -> None:
        self.peer = p
        self.state: dict[str, Any] = {}
        self.version = 0
        self.messages = 0
        self.resyncs = 0

    async def follow(self) -> None:
        await self.peer.send({"type": "subscribe", "id": "soak"})
        while True:
            message = json.loads(await self.peer.ws.recv())
            self.messages += 1
            if message["type"] == "snapshot":
                self.state, self.version = message["state"], message["version"]
            elif message["type"] == "changes":
                assert message["from"] == self.version, "a gap nobody reported"
                for change in message["changes"]:
                    apply_change(self.state, change)
                self.version = message["to"]
            elif message["type"] == "resync_required":
                self.resyncs += 1  # reported: a snapshot follows


async def _operate(prefix: str, until: float) -> int:
    """A steady stream of operations on a few containers and volumes; returns how many."""
    label = f"{SESSION_LABEL}=1"
    steps = itertools.cycle(
        [
            ("run", "-d", "--label", label, "--name", f"{prefix}{{n}}", IMAGE, "sleep", "600"),
            ("volume", "create", "--label", label, f"{prefix}v{{n}}"),
            ("stop", "-t", "0", f"{prefix}{{n}}"),
            ("rename", f"{prefix}{{n}}", f"{prefix}{{n}}-r"),
            ("start", f"{prefix}{{n}}-r"),
            ("rm", "-f", f"{prefix}{{n}}-r"),
            ("volume", "rm", f"{prefix}v{{n}}"),
        ]
    )
    done, n = 0, 0
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        step = next(steps)
        if step[0] == "run":
            n += 1
        await docker(*(arg.format(n=n) for arg in step), check=False)
        done += 1
        await asyncio.sleep(1 / OPS_PER_SECOND)
    return done


async def test_soak_many_clients_stay_exact_and_memory_stays_flat() -> None:
    server: ServerProcess = start_server()
    prefix = f"dst-soak-{os.getpid()}-"
    rss: list[tuple[float, float]] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            followers = [
                Follower(await stack.enter_async_context(peer(server, max_size=None)))
                for _ in range(CLIENTS)
            ]
            tasks = [asyncio.create_task(f.follow()) for f in followers]
            loop = asyncio.get_running_loop()
            start = loop.time()
            until = start + SECONDS

            async def sample() -> None:
                while True:
                    rss.append((loop.time() - start, _rss_mib(server.process.pid)))
                    await asyncio.sleep(max(1.0, SECONDS / 30))

            sampler = asyncio.create_task(sample())
            operations = await _operate(prefix, until)
            sampler.cancel()
            await asyncio.sleep(1)  # the engine's last events come in
            truth = server.get("/api/v1/state").json()
            async with asyncio.timeout(30):
                while any(f.version < truth["version"] for f in followers):
                    for task in tasks:
                        if task.done():
                            task.result()  # a follower that failed says why
                    await asyncio.sleep(0.1)
            for task in tasks:
                task.cancel()
            for f in followers:
                assert f.version == truth["version"]
                mine = dict(f.state, version=truth["state"]["version"])
                mine["last_updated"] = truth["state"]["last_updated"]
                assert mine == truth["state"]
            # ...which is the engine's (asked again while other users of the engine settle).
            diff = differences(comparable(truth["state"]), await engine_truth())
            async with asyncio.timeout(15):
                while diff:
                    await asyncio.sleep(0.5)
                    now = server.get("/api/v1/state").json()["state"]
                    diff = differences(comparable(now), await engine_truth())
        resyncs = sum(f.resyncs for f in followers)
        messages = sum(f.messages for f in followers)
    finally:
        server.stop()
        names = (await docker("ps", "-aq", "--filter", f"name={prefix}", check=False)).split()
        if names:
            await docker("rm", "-f", *names, check=False)
        volumes = await docker("volume", "ls", "-q", "--filter", f"name={prefix}", check=False)
        if volumes.split():
            await docker("volume", "rm", *volumes.split(), check=False)

    half = len(rss) // 2
    early = max(m for _, m in rss[: max(1, half)])
    late = max(m for _, m in rss[half:])
    print(
        f"\nsoak: {SECONDS:.0f} s, {CLIENTS} clients, {operations} operations, "
        f"{messages} messages received, {resyncs} resyncs, state version {truth['version']}\n"
        "server RSS (MiB) over time: "
        + ", ".join(f"{t:.0f}s {m:.1f}" for t, m in rss)
        + f"\nfirst half max {early:.1f} MiB, second half max {late:.1f} MiB"
    )
    assert resyncs == 0, "no client should have fallen behind"
    # Flat: the second half grows by less than a few MiB over the first (allocator noise).
    assert late - early < 8, (early, late)
