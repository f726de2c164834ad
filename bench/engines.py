"""9. Several engines in one server (protocol.md §8): memory per engine, and freshness on one
engine while the others flap.

There is one Docker engine on this machine, so the N engines are N views of it: each is a
counting proxy of its own in front of the Docker socket (``--engine eI=unix://proxy``), and the
server keeps, for each, its own watcher, state, hub and history exactly as for N machines
(each holds the bench's whole population). What this cannot show is engines with different
contents; what it does show is the server's cost per engine, and that one engine's troubles
never delay another's changes: the same changes reach every engine, so the others' work is
real churn, not idleness.

- Memory: the RSS of one server of N engines, next to N servers of one engine each (summed),
  both once every engine is loaded and one client has a snapshot of engine 0 (no history
  database: ``--no-db``); an engine added to a server costs (RSS of N engines - RSS of one)
  / (N - 1), a server of its own costs its whole RSS.
- Freshness: volumes created one at a time, from the create's return until engine 0's
  subscriber has the change: on a server of that one engine (the baseline), with the N-1 other
  engines up, then with their proxies closed and reopened every ``FLAP`` seconds (down,
  reconnecting, relisting: the flapping engine of the issue), p50/p95/max.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from .harness import (
    Context,
    CountingProxy,
    Result,
    ServerProcess,
    fmt,
    log,
    percentiles,
    rss_bytes,
    start_server,
    table,
)

KEY = "engines"
TITLE = "9. Several engines in one server: memory per engine, freshness while others flap"

FLAP = 0.5  # seconds each other engine is down, then up, in turn


async def _serve(hosts: list[str]) -> ServerProcess:
    args = ["--no-db", "--heartbeat-ms", "15000", "--hello-timeout", "30"]
    for i, host in enumerate(hosts):
        args += ["--engine", f"e{i}={host}"]
    return await asyncio.to_thread(start_server, *args, token=secrets.token_hex(12))


async def _all_connected(server: ServerProcess, timeout: float = 300.0) -> None:  # noqa: ASYNC109
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as api:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            engines = (await api.get("/api/v1/engines")).json()["engines"]
            if all(e["status"] == "connected" for e in engines):
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("the engines did not all connect")


@contextlib.asynccontextmanager
async def _subscriber(
    server: ServerProcess, engine: str
) -> AsyncIterator[asyncio.Queue[tuple[str, int]]]:
    """Every volume a ``changes`` subscription of ``engine`` is told of, with when (ns)."""
    seen: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    async with connect(
        server.ws_url, subprotocols=[Subprotocol("dockstate.v1")], max_size=None
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "token": server.token}))
        json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "subscribe", "id": "v", "engine": engine,
                                  "filter": {"kinds": ["volume"]}}))  # fmt: skip

        async def read() -> None:
            async for text in ws:
                message = json.loads(text)
                if message.get("type") == "changes":
                    now = time.time_ns()
                    for change in message["changes"]:
                        seen.put_nowait((change["id"], now))

        reader = asyncio.create_task(read())
        try:
            yield seen
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader


async def _freshness(ctx: Context, seen: asyncio.Queue[tuple[str, int]], count: int) -> list[float]:
    """Milliseconds from each volume's create to engine 0's subscriber having it."""
    delays: list[float] = []
    for i in range(count):
        name = f"{ctx.engine.prefix}-ev{secrets.token_hex(3)}-{i}"
        response = await ctx.engine.http.post(
            "/volumes/create", json={"Name": name, "Labels": ctx.engine.labels}
        )
        response.raise_for_status()
        created = time.time_ns()
        async with asyncio.timeout(30):
            while True:
                volume, at = await seen.get()
                if volume == name:
                    delays.append(max(0, at - created) / 1e6)
                    break
        await ctx.engine.http.delete(f"/volumes/{name}")
        await asyncio.sleep(0.1)
    return delays


async def _flap(proxies: list[CountingProxy], stop: asyncio.Event) -> int:
    """Close and reopen each proxy in turn until ``stop``; how many times one went down."""
    downs = 0
    while not stop.is_set():
        for proxy in proxies:
            await proxy.__aexit__(None, None, None)
            downs += 1
            await asyncio.sleep(FLAP)
            await proxy.__aenter__()
            if stop.is_set():
                break
    return downs


async def run(ctx: Context) -> Result:
    n = ctx.options.engines
    ops = ctx.options.engines_ops
    containers = len(await ctx.engine.containers())
    async with contextlib.AsyncExitStack() as stack:
        proxies = [await stack.enter_async_context(CountingProxy()) for _ in range(n)]
        hosts = [p.docker_host for p in proxies]

        log(f"engines: one server of {n} engines ({containers} containers each)")
        server = await _serve(hosts)
        try:
            await _all_connected(server)
            async with _subscriber(server, "e0") as seen:
                await asyncio.sleep(1)
                together = rss_bytes(server.process.pid)
                log("engines: freshness on e0, the others up")
                steady = await _freshness(ctx, seen, ops)
                log(f"engines: freshness on e0, the {n - 1} others flapping every {FLAP} s")
                stop = asyncio.Event()
                flapper = asyncio.create_task(_flap(proxies[1:], stop))
                try:
                    flapping = await _freshness(ctx, seen, ops)
                finally:
                    stop.set()
                    downs = await flapper
        finally:
            await asyncio.to_thread(server.stop)

        log(f"engines: {n} servers of one engine each")
        alone: list[int] = []
        baseline: list[float] = []
        for i, host in enumerate(hosts):
            single = await _serve([host])
            try:
                await _all_connected(single)
                async with _subscriber(single, "e0") as seen:
                    await asyncio.sleep(1)
                    alone.append(rss_bytes(single.process.pid))
                    if i == 0:
                        log("engines: freshness on a server of one engine")
                        baseline = await _freshness(ctx, seen, ops)
            finally:
                await asyncio.to_thread(single.stop)

    mb = 2**20
    one = sum(alone) / n  # a server of one engine
    memory_rows = [
        [
            f"one server, {n} engines",
            fmt(together / mb),
            fmt((together - one) / max(1, n - 1) / mb),
        ],
        [f"{n} servers, one engine each (sum)", fmt(sum(alone) / mb), fmt(one / mb)],
    ]
    steady_p, flapping_p = percentiles(steady), percentiles(flapping)
    baseline_p = percentiles(baseline)
    rows = [
        *[[label, "", "", "", mem, per] for label, mem, per in memory_rows],
        *[
            [label, p["p50"], p["p95"], p["max"], "", ""]
            for label, p in (
                ("freshness, a server of one engine (ms)", baseline_p),
                ("freshness on e0, others up (ms)", steady_p),
                (f"freshness on e0, {n - 1} others flapping (ms)", flapping_p),
            )
        ],
    ]
    headers = ["", "p50", "p95", "max", "RSS, MB", "RSS per engine added, MB"]
    formatted = [[r[0], *(fmt(v) if isinstance(v, float) else v for v in r[1:])] for r in rows]
    return Result(
        KEY,
        TITLE,
        table(headers, formatted),
        notes=[
            f"{n} engines, each a proxy of its own to this machine's one engine "
            f"({containers} containers: every engine holds all of them); {ops} volumes created "
            f"per freshness row; the flapping engines went down {downs} times.",
            "Freshness: from the create call's return to engine 0's subscriber having the "
            "change (every engine receives the same events: the others' work is real).",
        ],
        data={
            "engines": n,
            "containers": containers,
            "rss_together": together,
            "rss_alone": alone,
            "baseline_ms": baseline,
            "steady_ms": steady,
            "flapping_ms": flapping,
            "downs": downs,
        },
    )
