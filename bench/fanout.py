"""5. Fan-out: event-to-client latency with 1, 10 and 100 WebSocket clients.

One ``dockstate serve``; for each number of clients, that many real WebSocket clients (mode
``changes``, permessage-deflate) connect and receive their snapshot, then ``fanout_ops`` real
operations (stop, start, pause, unpause or rename of random bench containers, whichever each
one's state allows, one every 50 ms) run against the engine. As in scenario 1, a client shows
an operation when its copy of the state (snapshot + changes) first has the container in the
operation's outcome; latency = that arrival - the ``timeNano`` of the operation's Docker event
(start, die, pause, unpause, rename). The limit, a bare ``/events`` subscriber, receives the
same events. The clients share one process of the bench (2 cores): its CPU is reported too.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from .harness import (
    Context,
    CpuMeter,
    EventsTap,
    Result,
    dockstate_server,
    fmt,
    log,
    percentiles,
    start_clients,
    table,
)
from .ops import client_views, random_operations, timings, wait_shown

KEY = "fanout"
TITLE = "5. Fan-out: Docker event to every client, ms"
SPACING = 0.05


async def run(ctx: Context) -> Result:
    opts = ctx.options
    ids = ctx.population.containers
    rows: list[list[Any]] = []
    data: dict[str, Any] = {"ops": opts.fanout_ops, "runs": {}}
    limit: list[float] = []
    async with EventsTap() as tap, dockstate_server() as server:
        for n in opts.fanout_clients:
            log(f"fan-out: {n} client(s)")
            clients = await start_clients(server, n)
            try:
                meter = CpuMeter({"server": [server.process.pid], "bench": [os.getpid()]})
                meter.start()
                ops = await random_operations(ctx.engine, ids, opts.fanout_ops, SPACING, seed=n)
                await asyncio.sleep(0.5)
                cpu = meter.stop()
                views = await wait_shown(ops, client_views(clients), 5)
            finally:
                await asyncio.gather(*(c.close() for c in clients))
            result = timings(ops, tap, views)
            limit += result.all_limit()
            p = percentiles(result.all_lags())
            expected = (len(ops) - result.unmatched) * n
            by_step = {step: percentiles(lags)["p50"] for step, lags in result.lags.items()}
            rows.append(
                [
                    f"dockstate, {n} client(s)",
                    f"{p['n']}/{expected}",
                    fmt(p["p50"]),
                    fmt(p["p95"]),
                    fmt(p["p99"]),
                    fmt(p["max"]),
                    fmt(cpu["server"]),
                    fmt(cpu["bench"]),
                ]
            )
            data["runs"][str(n)] = {
                "ops": len(ops),
                "shown": p["n"],
                "expected": expected,
                "missed": len(result.missed),
                "ms": p,
                "p50_by_op": by_step,
                "server_cpu_percent": cpu["server"],
                "clients_cpu_percent": cpu["bench"],
            }
    p = percentiles(limit)
    rows.append(
        [
            "Docker `/events` (the limit), same events",
            p["n"],
            fmt(p["p50"]),
            fmt(p["p95"]),
            fmt(p["p99"]),
            fmt(p["max"]),
            "-",
            "-",
        ]
    )
    data["limit_ms"] = p
    headers = ["contender", "shown", "p50", "p95", "p99", "max", "server CPU %", "clients' CPU %"]
    notes = [
        f"{opts.fanout_ops} operations per run, one every {SPACING * 1000:.0f} ms, on "
        f"{opts.containers:,} containers; shown = operations x clients that showed them; "
        "latencies of all clients pooled.",
        "CPU: 100% = one core, during the operations. The clients run in the bench's own "
        "process: when its CPU nears 100%, part of the tail is the clients' own scheduling.",
    ]
    return Result(KEY, TITLE, table(headers, rows), notes, data)
