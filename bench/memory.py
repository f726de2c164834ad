"""4. Memory: the resident memory of ``dockstate serve`` with none and with all the containers.

A fresh server is started twice: before the bench creates its containers (the engine then holds
only what other users have on it) and after. Each time the scenario reads the server's RSS once
it has loaded the engine, and again after one WebSocket client has received its snapshot (the
serialized state and the socket buffers add to it). The difference, divided by the containers
added, is what one container costs in the state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .harness import Context, Result, WsClient, dockstate_server, fmt, log, rss_bytes, table

KEY = "memory"
TITLE = "4. Memory: `dockstate serve` resident set"


async def measure(ctx: Context) -> dict[str, Any]:
    """One fresh server's memory on the engine as it is now."""
    containers = len(await ctx.engine.containers())
    async with dockstate_server() as server:
        pid = server.process.pid
        await asyncio.sleep(1)
        loaded = rss_bytes(pid)
        client = await WsClient(server).start()
        await asyncio.sleep(0.5)
        served = rss_bytes(pid)
        snapshot = client.initial_text_bytes
        await client.close()
    return {
        "containers": containers,
        "rss_loaded": loaded,
        "rss_served": served,
        "snapshot_bytes": snapshot,
    }


async def before(ctx: Context) -> None:
    """Measure the empty engine; call before the engine is populated."""
    log("memory: dockstate serve on the engine without the bench's containers")
    ctx.extra["memory_empty"] = await measure(ctx)


async def run(ctx: Context) -> Result:
    empty = ctx.extra.get("memory_empty")
    if empty is None:
        raise RuntimeError("memory.before() did not run before the engine was populated")
    log("memory: dockstate serve on the populated engine")
    full = await measure(ctx)
    added = full["containers"] - empty["containers"]
    per_loaded = (full["rss_loaded"] - empty["rss_loaded"]) / max(1, added)
    per_served = (full["rss_served"] - empty["rss_served"]) / max(1, added)
    rows = [
        [
            f"without the bench's containers ({empty['containers']} of other users)",
            empty["containers"],
            fmt(empty["rss_loaded"] / 2**20),
            fmt(empty["rss_served"] / 2**20),
            fmt(empty["snapshot_bytes"] / 1024, 0),
        ],
        [
            f"with {ctx.options.containers:,} bench containers",
            full["containers"],
            fmt(full["rss_loaded"] / 2**20),
            fmt(full["rss_served"] / 2**20),
            fmt(full["snapshot_bytes"] / 1024, 0),
        ],
        [
            "per container added (KB)",
            added,
            fmt(per_loaded / 1024),
            fmt(per_served / 1024),
            fmt((full["snapshot_bytes"] - empty["snapshot_bytes"]) / max(1, added) / 1024, 2),
        ],
    ]
    headers = [
        "engine",
        "containers",
        "RSS loaded, MB",
        "RSS after 1 snapshot, MB",
        "snapshot JSON, KB",
    ]
    notes = [
        "A fresh `dockstate serve` each time; RSS from /proc (VmRSS) one second after it "
        "reported the engine connected, then after one client received its snapshot.",
    ]
    data = {
        "empty": empty,
        "full": full,
        "per_container_bytes": {"loaded": per_loaded, "served": per_served},
    }
    return Result(KEY, TITLE, table(headers, rows), notes, data)
