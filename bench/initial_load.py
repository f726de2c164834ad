"""Initial load and cost at rest, measured against the Docker CLI on the same engine.

    .venv/bin/python bench/initial_load.py [--containers 1000] [--running 0.2] [--quiet 60]

Creates N labelled containers from the local test image (a share of them running), then:

1. times the initial load of the whole state three ways, each the median of several runs:
   ``docker ps -a`` (the baseline), ``dockstate snapshot`` (a whole process, like the CLI),
   and ``Watcher.load_once()`` in-process;
2. runs a watcher with the default reconciliation period for ``--quiet`` seconds on the idle
   engine and counts its Docker API calls.

Prints a markdown table. Removes every container it created.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dockstate.engine import DockerClient, Watcher
from dockstate.state import EngineState

ROOT = Path(__file__).resolve().parents[1]
LABEL = "dockstate.bench"
IMAGE = "dockstate-test/busybox:latest"


async def _create(count: int, running: float) -> list[str]:
    transport = httpx.AsyncHTTPTransport(uds="/var/run/docker.sock")
    async with httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=60) as http:
        limit = asyncio.Semaphore(8)

        async def one(i: int) -> str:
            body = {
                "Image": IMAGE,
                "Cmd": ["sleep", "3600"],
                "Labels": {LABEL: "1", "com.docker.compose.project": f"proj{i % 10}"},
            }
            async with limit:
                r = await http.post("/containers/create", params={"name": f"bench-{i}"}, json=body)
                r.raise_for_status()
                cid: str = r.json()["Id"]
                if i < count * running:
                    (await http.post(f"/containers/{cid}/start")).raise_for_status()
                return cid

        return await asyncio.gather(*(one(i) for i in range(count)))


def _cleanup() -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL}"], capture_output=True, text=True, check=False
    ).stdout.split()
    for start in range(0, len(ids), 200):
        subprocess.run(["docker", "rm", "-f", *ids[start : start + 200]], capture_output=True, check=False)


def _time_command(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def _time_load(runs: int) -> tuple[float, int]:
    times, calls = [], 0
    for _ in range(runs):
        state = EngineState()
        async with DockerClient() as docker:
            t0 = time.perf_counter()
            await Watcher(state, docker).load_once()
            times.append(time.perf_counter() - t0)
            calls = docker.total_requests
    return statistics.median(times), calls


async def _quiet_calls(seconds: float) -> dict[str, int]:
    state = EngineState()
    async with DockerClient() as docker:
        watcher = Watcher(state, docker)  # the default 60 s reconciliation
        task = asyncio.create_task(watcher.run())
        await watcher.connected.wait()
        before = dict(docker.requests)
        await asyncio.sleep(seconds)
        task.cancel()
        return {k: v - before.get(k, 0) for k, v in docker.requests.items() if v - before.get(k, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--running", type=float, default=0.2, help="share of containers running")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quiet", type=float, default=60.0, help="seconds of quiet to count calls")
    args = parser.parse_args()

    _cleanup()
    print(f"creating {args.containers} containers ({args.running:.0%} running)...", file=sys.stderr)
    t0 = time.perf_counter()
    asyncio.run(_create(args.containers, args.running))
    print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    try:
        ps = _time_command(["docker", "ps", "-a"], args.runs)
        ps_all = _time_command(
            ["sh", "-c", "docker ps -a; docker images; docker volume ls; docker network ls"], args.runs
        )
        snap = _time_command([str(ROOT / ".venv/bin/dockstate"), "snapshot"], args.runs)
        load, calls = asyncio.run(_time_load(args.runs))
        quiet = asyncio.run(_quiet_calls(args.quiet))
    finally:
        _cleanup()

    print(f"\n### Initial load, {args.containers} containers (median of {args.runs})\n")
    print("| what | seconds | vs `docker ps -a` |")
    print("|---|---:|---:|")
    for name, value in [
        ("`docker ps -a` (baseline)", ps),
        ("`docker ps -a; images; volume ls; network ls`", ps_all),
        ("`dockstate snapshot` (whole process)", snap),
        (f"`Watcher.load_once()` in-process ({calls} API calls)", load),
    ]:
        print(f"| {name} | {value:.3f} | {value / ps:.2f}x |")
    total = sum(quiet.values())
    print(f"\n### Docker API calls in {args.quiet:.0f} quiet seconds (reconciliation every 60 s)\n")
    print(f"{total} calls: " + (", ".join(f"{k} {v}" for k, v in sorted(quiet.items())) or "none"))


if __name__ == "__main__":
    main()
