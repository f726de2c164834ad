"""2. Scale: the initial load of the whole state, next to the Docker CLI listing the same objects.

Each timing is the median of ``runs`` repeats on the populated engine:

- ``docker ps -a`` (the baseline of the ratios) and the four CLI listings of everything;
- the polling baseline's one cycle (its four list calls over the API, in-process);
- ``dockstate snapshot`` as a whole process (what a user of the CLI waits for), and
  ``Watcher.load_once()`` in-process, with the Docker API calls it makes (every object listed
  and every container inspected);
- ``Watcher.run()`` in-process, from its start to connected: the event stream is open and the
  state holds every object as the listings show it (what ``dockstate serve`` clients get
  first; the inspects that add ``started_at`` and friends follow in the background);
- ``dockstate serve``: from the start of the process to loaded and connected (once), and a new
  WebSocket client's snapshot (connect, hello, subscribe, snapshot received and parsed);
- Glances: from the start of the process to its first answer listing the containers (once), and
  one refresh of ``/api/4/containers`` (asked after its one-second cache has expired).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dockstate.engine import DockerClient, Watcher
from dockstate.state import EngineState

from .contenders import poll_once
from .glances import Glances, GlancesUnavailable
from .harness import (
    ROOT,
    Context,
    Result,
    WsClient,
    docker_http,
    fmt,
    log,
    start_dockstate,
    stop_dockstate,
    table,
)

KEY = "scale"
TITLE = "2. Scale: initial load of the whole state, seconds"


def time_command(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def median_of(runs: int, job: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await job()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def time_load(runs: int) -> tuple[float, int]:
    """``Watcher.load_once()`` in-process: median seconds, and the API calls of one load."""
    times, calls = [], 0
    for _ in range(runs):
        async with DockerClient() as docker:
            watcher = Watcher(EngineState(), docker)
            t0 = time.perf_counter()
            await watcher.load_once()
            times.append(time.perf_counter() - t0)
            calls = docker.total_requests
    return statistics.median(times), calls


async def time_connected(runs: int) -> float:
    """``Watcher.run()`` in-process: median seconds from start to connected, when the state
    holds every object as listed (the inspects of the details follow in the background)."""
    times = []
    for _ in range(runs):
        async with DockerClient() as docker:
            watcher = Watcher(EngineState(), docker)
            t0 = time.perf_counter()
            task = asyncio.create_task(watcher.run())
            await watcher.connected.wait()
            times.append(time.perf_counter() - t0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return statistics.median(times)


async def run(ctx: Context) -> Result:
    runs = ctx.options.runs
    rows: list[tuple[str, float | None, str]] = []
    data: dict[str, Any] = {"containers": len(await ctx.engine.containers()), "runs": runs}

    log("scale: Docker CLI")
    ps = await asyncio.to_thread(time_command, ["docker", "ps", "-a"], runs)
    rows.append(("`docker ps -a` (the baseline)", ps, "1 API call"))
    everything = "docker ps -a; docker images; docker volume ls; docker network ls"
    cli = await asyncio.to_thread(time_command, ["sh", "-c", everything], runs)
    rows.append((f"`{everything}`", cli, "4 processes, 4 API calls"))

    async with docker_http() as http:
        poll = await median_of(runs, lambda: poll_once(http))
    rows.append(("polling baseline: one cycle (4 lists over the API)", poll, "4 API calls"))

    log("scale: dockstate")
    program = str(ROOT / ".venv" / "bin" / "dockstate")
    snap = await asyncio.to_thread(time_command, [program, "snapshot"], runs)
    rows.append(("`dockstate snapshot` (whole process)", snap, "CLI: start Python, load, print"))
    load, calls = await time_load(runs)
    rows.append(("`Watcher.load_once()` in-process", load, f"{calls} API calls"))
    connected = await time_connected(runs)
    rows.append(
        (
            "`Watcher.run()` in-process: start to connected",
            connected,
            "every object listed; the inspects follow",
        )
    )

    t0 = time.perf_counter()
    server = await start_dockstate()
    cold = time.perf_counter() - t0
    try:
        rows.append(("`dockstate serve`: process start to loaded", cold, "once"))
        sizes: list[int] = []

        async def snapshot() -> None:
            client = await WsClient(server).start()
            sizes.append(client.initial_wire_bytes)
            await client.close()

        first = await median_of(runs, snapshot)
        rows.append(
            (
                "dockstate: a new WebSocket client's snapshot",
                first,
                f"{sizes[-1] / 1024:,.0f} KB on the wire (deflate)",
            )
        )
        data["snapshot_wire_bytes"] = sizes[-1]
    finally:
        await stop_dockstate(server)

    if ctx.options.glances:
        log("scale: Glances")
        try:
            async with Glances() as glances:
                rows.append(
                    (
                        "Glances: process start to first container list",
                        glances.ready_seconds,
                        "once",
                    )
                )

                async def refresh() -> None:
                    await asyncio.sleep(1.1)  # past its cache: the next read refreshes
                    t0 = time.perf_counter()
                    await glances.containers()
                    refreshes.append(time.perf_counter() - t0)

                refreshes: list[float] = []
                await median_of(runs, refresh)
                rows.append(
                    (
                        "Glances: one refresh of `/api/4/containers`",
                        statistics.median(refreshes),
                        "1 list + 1 inspect per container",
                    )
                )
        except GlancesUnavailable as err:
            rows.append((f"Glances: not available: {err}", None, ""))
    else:
        rows.append(("Glances: skipped (--no-glances)", None, ""))

    data["seconds"] = {name: value for name, value, _ in rows}
    data["vs_docker_ps"] = {name: value / ps for name, value, _ in rows if value is not None}
    body = [
        [name, fmt(value, 3), f"{value / ps:.2f}x" if value is not None else "-", note]
        for name, value, note in rows
    ]
    notes = [
        f"{data['containers']:,} containers on the engine ({ctx.options.containers:,} of the "
        f"bench, {ctx.options.running:.0%} running, {ctx.options.projects} compose projects); "
        f"median of {runs} runs unless marked once.",
    ]
    return Result(
        KEY,
        TITLE,
        table(["what", "seconds", "vs `docker ps -a`", "notes"], body, align="lrrl"),
        notes,
        data,
    )
