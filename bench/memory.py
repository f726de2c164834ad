"""4. Memory: the resident memory of ``dockstate serve`` with none and with all the containers.

A fresh server is started twice: before the bench creates its containers (the engine then holds
only what other users have on it) and after. Each time the scenario reads the server's RSS once
it has loaded the engine, and again after one WebSocket client has received its snapshot (the
serialized state and the socket buffers add to it). The difference, divided by the containers
added, is what one container costs in the state.

RSS also counts what loading left behind (the allocator keeps freed arenas, the parsed inspect
answers...). The state's own memory is measured apart, in the bench's process, with
tracemalloc: the bytes still allocated once a fresh EngineState (with the history limit of
``dockstate serve``) has loaded the engine, then once a hub has serialized every object.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

from dockstate.engine import DockerClient, Watcher
from dockstate.hub import Hub
from dockstate.state import EngineState

from .harness import Context, Result, WsClient, dockstate_server, fmt, log, rss_bytes, table

KEY = "memory"
TITLE = "4. Memory: `dockstate serve` resident set"


SERVE_HISTORY_LIMIT = 500  # dockstate serve's default --history-limit


async def traced_state() -> dict[str, int]:
    """Bytes the state itself holds once loaded, and with the hub's JSON cache filled."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        state = EngineState(history_limit=SERVE_HISTORY_LIMIT)
        async with DockerClient() as docker:
            await Watcher(state, docker).load_once()
        gc.collect()
        loaded = tracemalloc.get_traced_memory()[0] - base
        hub = Hub(state)
        hub.state_json(None)
        gc.collect()
        cached = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return {"state": loaded, "state_and_cache": cached}


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
        **await traced_state(),
    }


async def before(ctx: Context) -> None:
    """Measure the empty engine; call before the engine is populated."""
    log("memory: dockstate serve on the engine without the bench's containers")
    ctx.extra["memory_empty"] = await measure(ctx)


def _row(label: str, m: dict[str, Any]) -> list[Any]:
    """One engine's line of the table, in MB (the snapshot in KB)."""
    return [
        label,
        m["containers"],
        fmt(m["rss_loaded"] / 2**20),
        fmt(m["rss_served"] / 2**20),
        fmt(m["snapshot_bytes"] / 1024, 0),
        fmt(m["state"] / 2**20, 2),
        fmt(m["state_and_cache"] / 2**20, 2),
    ]


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
        _row(f"without the bench's containers ({empty['containers']} of other users)", empty),
        _row(f"with {ctx.options.containers:,} bench containers", full),
        [
            "per container added (KB)",
            added,
            fmt(per_loaded / 1024),
            fmt(per_served / 1024),
            fmt((full["snapshot_bytes"] - empty["snapshot_bytes"]) / max(1, added) / 1024, 2),
            fmt((full["state"] - empty["state"]) / max(1, added) / 1024, 2),
            fmt((full["state_and_cache"] - empty["state_and_cache"]) / max(1, added) / 1024, 2),
        ],
    ]
    headers = [
        "engine",
        "containers",
        "RSS loaded, MB",
        "RSS after 1 snapshot, MB",
        "snapshot JSON, KB",
        "state alone, MB",
        "state + JSON cache, MB",
    ]
    notes = [
        "A fresh `dockstate serve` each time; RSS from /proc (VmRSS) one second after it "
        "reported the engine connected, then after one client received its snapshot.",
        "State alone: tracemalloc in the bench's process, the bytes a loaded EngineState holds "
        f"(objects, indexes, a history of up to {SERVE_HISTORY_LIMIT:,} changes); + JSON "
        "cache: with the hub's serialized copy of every object too. The last row is in KB.",
    ]
    data = {
        "empty": empty,
        "full": full,
        "per_container_bytes": {"loaded": per_loaded, "served": per_served},
    }
    return Result(KEY, TITLE, table(headers, rows), notes, data)
