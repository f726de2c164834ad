"""1. Freshness: from a Docker event's ``timeNano`` to the moment each contender shows it.

For each contender in turn (dockstate, the polling baseline, Glances) the scenario creates a
few fresh containers and puts each through ``create``, ``start``, ``stop`` (``t=0``),
``rename`` and ``remove``, one operation every ``fresh_spacing`` seconds, the containers taken
in turn so that two operations on one container are ``fresh_lanes x fresh_spacing`` apart.
Every operation has a Docker event of reference (``create``, ``start``, ``die``, ``rename``,
``destroy``) read by the limit, a bare ``/events`` subscriber that runs all along. A contender
shows an operation when its view of that container first satisfies it (exists, running,
exited, has the new name, is gone); its freshness is that moment minus the event's
``timeNano``. An operation a contender never shows (a state it polled past) counts as missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from .glances import Glances, GlancesUnavailable, view_of
from .harness import (
    Context,
    EventsTap,
    Result,
    Subprocess,
    WsClient,
    dockstate_server,
    fmt,
    log,
    percentiles,
    table,
)
from .ops import REFERENCE, Op, Record, dockstate_histories, timings, wait_shown

KEY = "freshness"
TITLE = "1. Freshness: Docker event to contender, ms"

#: A fresh container's life, in order.
STEPS = ["create", "start", "stop", "rename", "remove"]
GLANCES_POLL = 0.2  # seconds between two reads of Glances' REST API


async def operate(ctx: Context, tag: str) -> list[Op]:
    """Create, start, stop, rename and remove fresh containers; return the operations."""
    engine, opts = ctx.engine, ctx.options
    ops: list[Op] = []
    lanes = opts.fresh_lanes
    for group in range(0, opts.fresh_containers, lanes):
        ids: dict[int, str] = {}
        for step in STEPS:
            for i in range(group, min(group + lanes, opts.fresh_containers)):
                name = f"{engine.prefix}-{tag}{i}"
                issued = time.time_ns()
                if step == "create":
                    ids[i] = await engine.create_container(name)
                elif step == "stop":
                    await engine.action(ids[i], "stop", t="0")
                elif step == "rename":
                    name += "-renamed"
                    await engine.action(ids[i], "rename", name=name)
                elif step == "remove":
                    await engine.remove(ids[i])
                else:
                    await engine.action(ids[i], step)
                ops.append(Op(ids[i], step, issued, name))
                await asyncio.sleep(opts.fresh_spacing)
    return ops


# -- each contender's view, as histories of containers -----------------------------------------


def poll_histories(poller: Subprocess, wanted: set[str]) -> dict[str, list[Record]]:
    histories: dict[str, list[Record]] = {}
    for line in poller.lines:
        if line["kind"] == "container" and line["id"] in wanted:
            record = (line["t"], line.get("name"), line.get("state"))
            histories.setdefault(line["id"], []).append(record)
    return histories


def view_histories(
    views: list[tuple[int, dict[str, tuple[str, str]]]], wanted: set[str]
) -> dict[str, list[Record]]:
    """Histories from successive complete views ``{id: (name, state)}`` (Glances)."""
    histories: dict[str, list[Record]] = {}
    before: dict[str, tuple[str, str]] = {}
    for t, view in views:
        for cid in wanted:
            now, then = view.get(cid), before.get(cid)
            if now != then:
                record = (t, now[0], now[1]) if now else (t, None, None)
                histories.setdefault(cid, []).append(record)
        before = view
    return histories


# -- the scenario -----------------------------------------------------------------------------


async def _measure(
    ctx: Context,
    tap: EventsTap,
    tag: str,
    histories: Callable[[set[str]], dict[str, list[Record]]],
    patience: float,
) -> dict[str, Any]:
    ops = await operate(ctx, tag)
    views = await wait_shown(ops, lambda wanted: [histories(wanted)], patience)
    result = timings(ops, tap, views)
    return {
        "ops": len(ops),
        "missed": result.missed,
        "unmatched": result.unmatched,
        "lags": result.lags,
        "limit": result.limit,
    }


async def run(ctx: Context) -> Result:
    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    async with EventsTap() as tap:
        log("freshness: dockstate")
        async with dockstate_server() as server:
            client = await WsClient(server).start()
            try:
                results["dockstate"] = await _measure(
                    ctx, tap, "fd", lambda w: dockstate_histories(client, w), 3
                )
            finally:
                await client.close()

        log("freshness: polling baseline")
        args = (sys.executable, "-m", "bench.contenders", "poll")
        async with Subprocess(*args) as poller:
            results["polling"] = await _measure(
                ctx, tap, "fp", lambda w: poll_histories(poller, w), 3
            )

        if ctx.options.glances:
            log("freshness: Glances")
            try:
                async with Glances() as glances:
                    views: list[tuple[int, dict[str, tuple[str, str]]]] = []

                    async def read() -> None:
                        while True:
                            listing = await glances.containers()
                            views.append((time.time_ns(), view_of(listing)))
                            await asyncio.sleep(GLANCES_POLL)

                    reader = asyncio.create_task(read())
                    try:
                        results["glances"] = await _measure(
                            ctx,
                            tap,
                            "fg",
                            lambda w: view_histories(views, w),
                            5 + ctx.options.containers / 50,
                        )
                    finally:
                        reader.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await reader
            except GlancesUnavailable as err:
                failures["glances"] = str(err)
        else:
            failures["glances"] = "skipped (--no-glances)"

    limit = {
        step: [lag for r in results.values() for lag in r["limit"].get(step, [])] for step in STEPS
    }
    rows: list[list[Any]] = []
    names = {
        "limit": "Docker `/events` (the limit)",
        "dockstate": "dockstate (WebSocket client, mode `changes`)",
        "polling": "polling baseline (4 lists/s + diff)",
        "glances": f"Glances (REST API read every {GLANCES_POLL} s)",
    }
    data: dict[str, Any] = {
        "ops_per_contender": ctx.options.fresh_containers * len(STEPS),
        "reference_events": REFERENCE,
    }
    for key in ("limit", "dockstate", "polling", "glances"):
        if key in failures:
            rows.append([names[key], "not available: " + failures[key], *[""] * 6])
            data[key] = {"available": False, "reason": failures[key]}
            continue
        if key == "limit":
            by_step = limit
            ops, missed = sum(map(len, limit.values())), 0
        else:
            r = results[key]
            by_step = r["lags"]
            ops, missed = r["ops"] - r["unmatched"], len(r["missed"])
        all_lags = [lag for lags in by_step.values() for lag in lags]
        p = percentiles(all_lags)
        step_p50 = " · ".join(fmt(percentiles(by_step.get(step, []))["p50"], 0) for step in STEPS)
        rows.append(
            [
                names[key],
                f"{p['n']}/{ops}",
                fmt(p["p50"]),
                fmt(p["p95"]),
                fmt(p["p99"]),
                fmt(p["max"]),
                missed,
                step_p50,
            ]
        )
        data[key] = {
            "available": True,
            "shown": p["n"],
            "ops": ops,
            "missed": missed,
            "missed_ops": results[key]["missed"] if key != "limit" else [],
            "ms": p,
            "p50_by_op": {step: percentiles(by_step.get(step, []))["p50"] for step in STEPS},
        }
    headers = [
        "contender",
        "shown",
        "p50",
        "p95",
        "p99",
        "max",
        "missed",
        "p50 by op: create · start · stop · rename · remove",
    ]
    notes = [
        f"{data['ops_per_contender']} operations per contender on fresh containers, one every "
        f"{ctx.options.fresh_spacing} s, with {ctx.options.containers} containers on the engine; "
        "each contender alone with the limit (2 cores shared with dockerd).",
        "Reference: the timeNano of the operation's Docker event (create, start, die, rename, "
        "destroy); the limit is when a bare `/events` subscriber received that event.",
        "dockstate: arrival of the change message at a real WebSocket client. Polling: the "
        "moment its diff after a complete listing shows the change. Glances: `glances -w` with "
        "its containers plugin (`all=True`, `--time 1`: it refreshes when asked, at most a second "
        "after its last refresh ended), its REST API `/api/4/containers` read every "
        f"{GLANCES_POLL} s: the arrival of the first answer that shows the change.",
        "missed: operations a contender never showed (e.g. a state a poll stepped over).",
    ]
    return Result(KEY, TITLE, table(headers, rows, align="lrrrrrrl"), notes, data)
