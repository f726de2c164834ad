"""8. Stats: what it costs to watch every running container's usage, every second.

For each size (100, 500, 1000 running containers in the full run; 20 in the quick one), the
scenario tops the engine up to that many *running* containers (its own: ``sleep`` on the test
image, ``NetworkMode: none`` since one Linux bridge holds at most 1024 ports, started 8 at a
time, labelled as the bench's; the containers other users run count towards the size), then
measures, one after the other, for ``stats_window`` seconds each after ``stats_settle``
seconds to start:

- **nothing watching** (the baseline: the engine's own idle cost with that many containers);
- **dockstate**: a real ``dockstate serve --no-db`` (default ``--stats-source auto``: the
  cgroup files) with one WebSocket client subscribed to ``subscribe_stats`` at 1000 ms, the
  bytes it receives counted off the socket;
- **docker stats**: ``docker stats --format '{{json .}}'`` over every running container,
  streaming (what Portainer, lazydocker, ctop and Docker Desktop do: one stats stream per
  container), its output read and dropped;
- **Glances**: ``glances -w`` (bench/glances.py) with its REST API read every second.

For each: the contender's CPU (its process, all threads), the engine's (dockerd + containerd +
every containerd-shim, enumerated when the window starts) and the engine's extra over the
baseline; 100% = one core. Everything the scenario started is removed at its end (and by the
suite's cleanup when interrupted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from .glances import Glances, GlancesUnavailable
from .harness import (
    IMAGE,
    PROTOCOL,
    Context,
    CpuMeter,
    Result,
    ServerProcess,
    _CountingConnection,
    fmt,
    log,
    start_dockstate,
    stop_dockstate,
    table,
)

KEY = "stats"
TITLE = "8. Stats: every running container's usage, every second"

ENGINE_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2")

CONTENDERS = {
    "idle": "nothing watching (baseline)",
    "dockstate": "dockstate serve + 1 stats client",
    "docker_stats": "`docker stats` (all running, streaming)",
    "glances": "Glances + REST read every 1 s",
}


def engine_pids() -> list[int]:
    """dockerd, containerd and every containerd-shim on this host."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ENGINE_COMMS:
                    pids.append(int(entry.name))
    return pids


class StatsClient:
    """One WebSocket client of a dockstate server subscribed to ``stats``: counts the messages
    and the bytes it reads off the socket."""

    def __init__(self, server: ServerProcess, interval_ms: int = 1000) -> None:
        self.server = server
        self.interval_ms = interval_ms
        self.messages = 0
        self.containers_last = 0
        self._ws: _CountingConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._first = asyncio.Event()

    @property
    def wire_bytes(self) -> int:
        return self._ws.wire_bytes if self._ws else 0

    async def start(self) -> StatsClient:
        ws = await connect(
            self.server.ws_url,
            subprotocols=[Subprotocol(PROTOCOL)],
            compression="deflate",
            max_size=None,
            ping_interval=None,
            proxy=None,
            open_timeout=60,
            create_connection=_CountingConnection,
        )
        assert isinstance(ws, _CountingConnection)
        self._ws = ws
        hello = {"type": "hello", "protocol": PROTOCOL, "token": self.server.token}
        await ws.send(json.dumps({**hello, "client": "dockstate-bench/1"}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"dockstate did not welcome the client: {welcome}")
        subscribe = {"type": "subscribe_stats", "id": "t1", "interval_ms": self.interval_ms}
        await ws.send(json.dumps(subscribe))
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._first.wait(), 60)
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        with contextlib.suppress(Exception):
            async for data in self._ws:
                message = json.loads(data)
                if message.get("type") == "stats":
                    self.messages += 1
                    self.containers_last = len(message.get("containers") or {})
                    self._first.set()
                elif message.get("type") == "error":
                    raise RuntimeError(f"stats refused: {message}")

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


@contextlib.asynccontextmanager
async def _docker_stats() -> AsyncIterator[int]:
    process = await asyncio.create_subprocess_exec(
        "docker",
        "stats",
        "--format",
        "{{json .}}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )

    async def drain() -> None:
        assert process.stdout is not None
        while await process.stdout.read(65536):
            pass

    reader = asyncio.create_task(drain())
    try:
        yield process.pid
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


@contextlib.asynccontextmanager
async def _running(key: str, extra: dict[str, Any]) -> AsyncIterator[int | None]:
    """Start contender ``key`` with its reader; yield its pid (None: nothing runs)."""
    if key == "idle":
        yield None
    elif key == "dockstate":
        server = await start_dockstate(None, "--no-db")
        try:
            client = await StatsClient(server).start()
            extra["client"] = client
            try:
                yield server.process.pid
            finally:
                await client.close()
        finally:
            await stop_dockstate(server)
    elif key == "docker_stats":
        async with _docker_stats() as pid:
            yield pid
    else:
        async with Glances() as glances:

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
    extra: dict[str, Any] = {}
    async with _running(key, extra) as pid:
        await asyncio.sleep(opts.stats_settle)
        pids = {"engine": engine_pids()}
        if pid is not None:
            pids["contender"] = [pid]
        meter = CpuMeter(pids)
        client: StatsClient | None = extra.get("client")
        wire0, messages0 = (client.wire_bytes, client.messages) if client else (0, 0)
        meter.start()
        t0 = time.monotonic()
        await asyncio.sleep(opts.stats_window)
        cpu = meter.stop()
        seconds = time.monotonic() - t0
        result: dict[str, Any] = {
            "cpu_percent": cpu.get("contender"),
            "engine_cpu_percent": cpu["engine"],
            "engine_pids": len(pids["engine"]),
        }
        if client is not None:
            result["wire_bytes_per_second"] = (client.wire_bytes - wire0) / seconds
            result["messages_per_second"] = (client.messages - messages0) / seconds
            result["containers_per_message"] = client.containers_last
    return result


async def _running_count(ctx: Context) -> int:
    response = await ctx.engine.http.get("/containers/json")
    response.raise_for_status()
    return len(response.json())


async def _top_up(ctx: Context, target: int, mine: list[str]) -> float:
    """Start containers of the bench's own until ``target`` run on the engine; seconds taken."""
    t0 = time.perf_counter()
    missing = target - await _running_count(ctx)
    limit = asyncio.Semaphore(8)
    base = len(mine)

    async def one(i: int) -> None:
        body = {
            "Image": IMAGE,
            "Cmd": ["sleep", "3600"],
            "Labels": ctx.engine.labels,
            "HostConfig": {"NetworkMode": "none"},
        }
        async with limit:
            response = await ctx.engine.http.post(
                "/containers/create", params={"name": f"{ctx.engine.prefix}-s{i}"}, json=body
            )
            response.raise_for_status()
            cid = response.json()["Id"]
            mine.append(cid)
            (await ctx.engine.http.post(f"/containers/{cid}/start")).raise_for_status()

    await asyncio.gather(*(one(base + i) for i in range(max(0, missing))))
    return time.perf_counter() - t0


async def _remove(ctx: Context, mine: list[str]) -> None:
    """Remove the scenario's containers; one the engine is too slow to remove (a timeout, once
    at 500) is left to the run's cleanup, never losing the measured table."""
    limit = asyncio.Semaphore(8)
    failed = 0

    async def rm(cid: str) -> None:
        nonlocal failed
        async with limit:
            try:
                await ctx.engine.remove(cid)
            except httpx.HTTPError:
                failed += 1

    await asyncio.gather(*(rm(cid) for cid in mine))
    if failed:
        log(f"stats: {failed} removals failed (the engine was slow): left to the cleanup")


async def run(ctx: Context) -> Result:
    opts = ctx.options
    sizes = opts.stats_sizes
    data: dict[str, Any] = {
        "window_seconds": opts.stats_window,
        "settle_seconds": opts.stats_settle,
        "sizes": {},
    }
    rows: list[list[str]] = []
    mine: list[str] = []
    try:
        for size in sizes:
            log(f"stats: starting containers until {size} run")
            seconds = await _top_up(ctx, size, mine)
            running = await _running_count(ctx)
            log(f"  {running} running ({len(mine)} of the scenario's, {seconds:.0f} s)")
            per: dict[str, Any] = {"running": running, "start_seconds": seconds}
            data["sizes"][str(size)] = per
            for key in CONTENDERS:
                if key == "glances" and not opts.glances:
                    per[key] = {"available": False, "reason": "--no-glances"}
                    continue
                log(f"stats {size}: {key} ({opts.stats_settle + opts.stats_window:.0f} s)")
                try:
                    per[key] = await _measure(key, ctx)
                except GlancesUnavailable as err:
                    per[key] = {"available": False, "reason": str(err)}
            idle_engine = per["idle"]["engine_cpu_percent"]
            for key, name in CONTENDERS.items():
                r = per[key]
                if r.get("available") is False:
                    rows.append([str(running), name, f"not available: {r['reason']}"] + [""] * 4)
                    continue
                extra = r["engine_cpu_percent"] - idle_engine
                total = (r["cpu_percent"] or 0.0) + extra
                r["engine_extra_percent"] = extra
                r["total_percent"] = total
                wire = r.get("wire_bytes_per_second")
                rows.append(
                    [
                        str(running),
                        name,
                        fmt(r["cpu_percent"], 2),
                        fmt(r["engine_cpu_percent"], 2),
                        fmt(extra, 2) if key != "idle" else "-",
                        fmt(total, 2) if key != "idle" else "-",
                        fmt(wire / 1024, 1) if wire is not None else "-",
                    ]
                )
            ours, theirs = per["dockstate"], per.get("docker_stats", {})
            if "total_percent" in theirs and ours["total_percent"] > 0:
                per["docker_stats_vs_dockstate"] = theirs["total_percent"] / ours["total_percent"]
    finally:
        log(f"stats: removing the scenario's {len(mine)} containers")
        await _remove(ctx, mine)
    headers = [
        "running",
        "contender",
        "its CPU %",
        "engine CPU %",
        "engine extra %",
        "whole cost %",
        "KB/s to the client",
    ]
    ratios = [
        f"{size}: {per['docker_stats_vs_dockstate']:.0f}x"
        for size, per in data["sizes"].items()
        if "docker_stats_vs_dockstate" in per
    ]
    notes = [
        f"Each contender alone, {opts.stats_window:g} s measured after {opts.stats_settle:g} s "
        "to start; 100% = one core. engine = dockerd + containerd + every containerd-shim; "
        "extra = engine minus the baseline's engine; whole cost = the contender's own CPU "
        "plus the engine's extra.",
        "running = every running container on the engine (other users' included); the "
        "scenario's own run `sleep` with no network. dockstate samples every 1 s "
        "(`--stats-source auto`: the cgroup files), one WebSocket client with permessage-deflate.",
        "docker stats' whole cost over dockstate's: " + (", ".join(ratios) or "-") + ".",
        "The machine is shared: other sessions' load shows in every row, the baseline's too.",
    ]
    return Result(KEY, TITLE, table(headers, rows, align="rl"), notes, data)
