"""3. Cost at rest: what each contender costs the engine and the machine while nothing happens.

Each contender runs alone, pointed at the counting proxy (``--docker-host`` or
``DOCKER_HOST``), with the reader a user would have: dockstate with one WebSocket client,
Glances with a REST client asking ``/api/4/containers`` every second (as a UI would; the polling
baseline polls every second too). After ``settle`` seconds to load, the scenario measures
``quiet`` seconds: the Docker API requests the proxy saw (by endpoint) and the bytes it carried,
each contender's CPU% (user + system of its process, all threads; 100% = one core), dockerd's
CPU% in the same window, and the contender's resident memory at the end. The first row,
nothing running, is dockerd's own idle cost on this (shared) engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from .glances import Glances, GlancesUnavailable
from .harness import (
    Context,
    CpuMeter,
    EventsTap,
    Result,
    Subprocess,
    WsClient,
    dockerd_pids,
    dockstate_server,
    fmt,
    log,
    rss_bytes,
    table,
)

KEY = "cost"
TITLE = "3. Cost at rest: per quiet minute"

CONTENDERS = {
    "idle": "nothing (dockerd alone)",
    "limit": "Docker `/events` subscriber (the limit)",
    "dockstate": "dockstate serve + 1 WebSocket client",
    "polling": "polling baseline (every 1 s)",
    "glances": "Glances + REST read every 1 s",
}


@contextlib.asynccontextmanager
async def _running(key: str, ctx: Context) -> AsyncIterator[int | None]:
    """Start contender ``key`` against the proxy with its reader; yield its pid."""
    host = ctx.proxy.docker_host
    if key == "idle":
        yield None
    elif key == "limit":
        async with EventsTap(host) as tap:
            yield tap.pid
    elif key == "polling":
        args = (sys.executable, "-m", "bench.contenders", "poll", "--docker-host", host)
        async with Subprocess(*args) as poller:
            yield poller.pid
    elif key == "dockstate":
        async with dockstate_server(host) as server:
            client = await WsClient(server).start()
            try:
                yield server.process.pid
            finally:
                await client.close()
    else:
        async with Glances(host) as glances:

            async def read() -> None:
                while True:
                    with contextlib.suppress(Exception):
                        await glances.containers()
                    await asyncio.sleep(1.0)

            reader = asyncio.create_task(read())
            try:
                yield glances.pid
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader


async def _measure(key: str, ctx: Context) -> dict[str, Any]:
    opts = ctx.options
    async with _running(key, ctx) as pid:
        await asyncio.sleep(opts.settle)
        pids = {"dockerd": dockerd_pids()}
        if pid is not None:
            pids["contender"] = [pid]
        meter = CpuMeter(pids)
        before = ctx.proxy.usage()
        meter.start()
        await asyncio.sleep(opts.quiet)
        cpu = meter.stop()
        usage = ctx.proxy.usage() - before
        rss = rss_bytes(pid) if pid is not None else 0
    per_minute = 60 / opts.quiet
    return {
        "requests_per_min": sum(usage.requests.values()) * per_minute,
        "requests": dict(usage.requests),
        "kb_from_engine_per_min": usage.bytes_from_engine * per_minute / 1024,
        "cpu_percent": cpu.get("contender"),
        "dockerd_cpu_percent": cpu["dockerd"],
        "rss_mb": rss / 2**20 if pid is not None else None,
    }


async def run(ctx: Context) -> Result:
    data: dict[str, Any] = {"quiet_seconds": ctx.options.quiet, "contenders": {}}
    rows = []
    for key, name in CONTENDERS.items():
        if key == "glances" and not ctx.options.glances:
            rows.append([name, "skipped (--no-glances)", "", "", "", "", ""])
            continue
        log(f"cost at rest: {key} ({ctx.options.settle + ctx.options.quiet:.0f} s)")
        try:
            r = await _measure(key, ctx)
        except GlancesUnavailable as err:
            rows.append([name, f"not available: {err}", "", "", "", "", ""])
            data["contenders"][key] = {"available": False, "reason": str(err)}
            continue
        data["contenders"][key] = r
        top = sorted(r["requests"].items(), key=lambda kv: -kv[1])[:3]
        scale = 60 / ctx.options.quiet
        endpoints = ", ".join(f"{path} {n * scale:,.0f}" for path, n in top) or "none"
        rows.append(
            [
                name,
                fmt(r["requests_per_min"], 0),
                endpoints,
                fmt(r["kb_from_engine_per_min"], 0),
                fmt(r["cpu_percent"], 2),
                fmt(r["dockerd_cpu_percent"], 2),
                fmt(r["rss_mb"]),
            ]
        )
    headers = [
        "contender",
        "API requests/min",
        "top endpoints /min",
        "KB from Docker/min",
        "CPU %",
        "dockerd CPU %",
        "RSS MB",
    ]
    notes = [
        f"{ctx.options.quiet:.0f} quiet seconds per contender after {ctx.options.settle:g} s "
        "to load, scaled to a minute; requests counted by a proxy on the Docker socket "
        "(a long-lived stream, such as /events or a stats stream, counts once, when opened).",
        "dockstate reconciles every 60 s (4 lists): a window shorter than a minute may or may "
        "not contain one. The engine is shared: dockerd's CPU includes other users' work.",
    ]
    return Result(KEY, TITLE, table(headers, rows, align="lrl"), notes, data)
