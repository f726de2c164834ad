"""Event-to-client latency of dockstate, next to a bare subscriber of Docker's /events (the limit).

    .venv/bin/python bench/latency.py [--containers 1000] [--ops 200] [--clients 1 10]

Creates N labelled containers (a share running), starts `dockstate serve`, connects the given
numbers of WebSocket clients (mode ``changes``), then performs ``--ops`` real operations
(stop, start, rename, pause, unpause of random containers, one at a time through the API).
For every change a client receives, latency = receipt time - the Docker event's timeNano (same
host clock). The limit is a client reading Docker's own /events stream in the same run.

Prints a markdown table (p50, p95, p99, max, in ms). Removes what it created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "server"))
sys.path.insert(0, str(ROOT / "bench"))

from initial_load import _cleanup, _create  # noqa: E402
from server_harness import start_server  # noqa: E402


def _percentiles(values: list[float]) -> tuple[float, float, float, float]:
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return statistics.median(ordered), pick(0.95), pick(0.99), ordered[-1]


async def _ws_client(url: str, token: str, lags: list[float], ready: asyncio.Event) -> None:
    async with connect(url, subprotocols=["dockstate.v1"], max_size=None) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "hello", "protocol": "dockstate.v1", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": "s"}))
        while True:
            message = json.loads(await ws.recv())
            now = time.time_ns()
            if message["type"] == "snapshot":
                ready.set()
            elif message["type"] == "changes":
                for change in message["changes"]:
                    cause = change.get("cause") or {}
                    if cause.get("type") == "container" and cause.get("time_nano"):
                        lags.append((now - cause["time_nano"]) / 1e6)


async def _events_client(lags: list[float], ready: asyncio.Event) -> None:
    transport = httpx.AsyncHTTPTransport(uds="/var/run/docker.sock")
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=None) as http,
        http.stream("GET", "/events", params={"filters": json.dumps({"type": ["container"]})}) as r,
    ):
        ready.set()
        async for line in r.aiter_lines():
            if line:
                event = json.loads(line)
                lags.append((time.time_ns() - event["timeNano"]) / 1e6)


async def _operate(ids: list[str], ops: int) -> None:
    transport = httpx.AsyncHTTPTransport(uds="/var/run/docker.sock")
    async with httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=60) as http:
        for i in range(ops):
            cid = random.choice(ids)
            action = random.choice(["stop", "start", "rename", "pause", "unpause"])
            params = {"name": f"bench-r{i}"} if action == "rename" else {"t": "0"} if action == "stop" else None
            await http.post(f"/containers/{cid}/{action}", params=params)
            await asyncio.sleep(0.05)


async def _run(clients: int, ids: list[str], ops: int) -> tuple[list[float], list[float]]:
    server = start_server("--heartbeat-ms", "15000")
    try:
        lags: list[float] = []
        limit: list[float] = []
        ready = [asyncio.Event() for _ in range(clients + 1)]
        ws_url = server.ws_url
        tasks = [asyncio.create_task(_ws_client(ws_url, server.token, lags, e)) for e in ready[:-1]]
        tasks.append(asyncio.create_task(_events_client(limit, ready[-1])))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 120)
        await _operate(ids, ops)
        await asyncio.sleep(1)
        for task in tasks:
            task.cancel()
        return lags, limit
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--running", type=float, default=0.2)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    _cleanup()
    ids = asyncio.run(_create(args.containers, args.running))
    rows = []
    try:
        for n in args.clients:
            lags, limit = asyncio.run(_run(n, ids, args.ops))
            rows.append((f"dockstate, {n} client(s)", lags))
            rows.append((f"Docker /events (the limit), run with {n}", limit))
    finally:
        _cleanup()
    print(f"\n### Event-to-client latency, {args.containers} containers, {args.ops} operations (ms)\n")
    print("| contender | changes | p50 | p95 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in rows:
        if values:
            p50, p95, p99, top = _percentiles(values)
            print(f"| {name} | {len(values)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {top:.1f} |")


if __name__ == "__main__":
    main()
