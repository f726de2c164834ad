"""What one sample of N running containers costs: the cgroup files vs Docker's stats API.

Starts N idle containers (``sleep``, labelled as the bench's), then takes ``rounds`` samples
of all of them each way, as the sampler does: the cgroup source (a warm one: the pid lookups,
one inspect per container start, are timed apart; its files kept open, and, for comparison,
opened for each read) and the API source (``stream=false``,
``one-shot=true``, ``concurrency`` calls at a time). For each: the wall time of one sample,
dockstate's own CPU time per sample, and the engine's (dockerd + containerd + shims) CPU time
per sample. The engine is shared with other users, so its figures are an upper bound.

    .venv/bin/python -m bench.stats_cost --containers 20 --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from dockstate.engine import DockerClient
from dockstate.stats import ApiSource, CgroupReader, CgroupSource, StatsSource, Target
from dockstate.stats._procfs import read_text

from .harness import LABEL, PID_LABEL, cpu_seconds, table

IMAGE = "dockstate-test/busybox:latest"
ENGINE_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2")


def engine_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ENGINE_COMMS:
                    pids.append(int(entry.name))
    return pids


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def start_containers(n: int) -> list[str]:
    labels = ["--label", f"{LABEL}=1", "--label", f"{PID_LABEL}={os.getpid()}"]
    names = [f"dst-statscost-{os.getpid()}-{i}" for i in range(n)]
    return [docker("run", "-d", *labels, "--name", name, IMAGE, "sleep", "3600") for name in names]


def remove_containers(ids: list[str]) -> None:
    subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


async def measure(read: Callable[[], Awaitable[object]], rounds: int) -> tuple[float, float, float]:
    """(median wall ms, dockstate CPU ms, engine CPU ms) per sample."""
    pids = engine_pids()
    walls = []
    engine0 = sum(map(cpu_seconds, pids))
    own0 = time.process_time()
    for _ in range(rounds):
        started = time.perf_counter()
        await read()
        walls.append(time.perf_counter() - started)
    own = (time.process_time() - own0) / rounds
    engine = (sum(map(cpu_seconds, pids)) - engine0) / rounds
    return statistics.median(walls) * 1000, own * 1000, engine * 1000


async def run(args: argparse.Namespace, ids: list[str]) -> None:
    targets = [Target(cid) for cid in ids]
    async with DockerClient() as client:
        await client.negotiate()
        cgroup = CgroupSource(client, concurrency=args.concurrency)
        started = time.perf_counter()
        await cgroup.read(targets)  # the pid lookups, once per container start
        lookup_ms = (time.perf_counter() - started) * 1000
        # The same files opened for each read, as before they were kept open (KeptFiles).
        reopened = CgroupSource(client, CgroupReader(read=read_text), concurrency=args.concurrency)
        await reopened.read(targets)
        api = ApiSource(client, concurrency=args.concurrency)
        sources: list[tuple[str, StatsSource]] = [
            ("cgroup files (kept open)", cgroup),
            ("cgroup files (opened for each read)", reopened),
            ("stats API", api),
        ]
        rows = []
        for name, source in sources:
            assert len(await source.read(targets)) == len(ids), name

            async def read(source: StatsSource = source) -> object:
                return await source.read(targets)

            wall, own, engine = await measure(read, args.rounds)
            rows.append([name, f"{wall:.2f}", f"{own:.2f}", f"{engine:.2f}"])
        print(
            f"{args.containers} running containers, {args.rounds} samples each way, "
            f"API concurrency {args.concurrency}, API version {client.api_version}"
        )
        print(
            table(
                [
                    "source",
                    "wall ms / sample",
                    "dockstate CPU ms / sample",
                    "engine CPU ms / sample",
                ],
                rows,
            )
        )
        print(f"cgroup pid lookups (one inspect per container start, once): {lookup_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    ids = start_containers(args.containers)
    try:
        asyncio.run(run(args, ids))
    finally:
        remove_containers(ids)


if __name__ == "__main__":
    main()
