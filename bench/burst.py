"""6. Burst: containers created and removed as fast as the engine allows.

With ``burst_clients`` WebSocket clients (mode ``changes``) following one ``dockstate serve``,
the bench creates ``burst`` containers (8 requests in flight) and then removes them all. Then,
once the stream is quiet, every client's stream is replayed from its snapshot and checked:

- in order and complete: every ``changes`` message chains on the one before (``from`` equals
  the previous ``to``), no ``resync_required``, every change applies;
- the same for everyone: all clients received the same versions and hold the same state;
- convergent: the state each client holds equals what the engine lists (every container's
  name and state; image, volume and network ids) and the server's own version;
- seen: each burst container was shown created and then removed to every client (dockstate
  may coalesce a container created and removed in a blink: then it shows neither).

Reported: the largest lag (arrival - the event's ``timeNano``) of any container change at any
client, its percentiles beside the limit's for the same events (a bare ``/events`` subscriber's
arrival - ``timeNano``), and the drain time from the burst's last Docker event to the last
client having it.

Fairness: a *probe* container, apart from the burst, is stopped and started every
``PROBE_SPACING`` seconds while the burst runs; its changes' lag at the clients is reported
beside the limit's for its events (the user who clicks Stop on one container in the middle
of someone else's ``docker compose down``).

Honesty: the server reconciles every ``RECONCILE`` seconds during the burst, which loses no
event: every repair it counts (``dockstate_reconcile_repairs_total``) is a false alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from typing import Any

import httpx

from dockstate.state import apply_change

from .harness import (
    Context,
    Engine,
    EventsTap,
    Result,
    WsClient,
    dockstate_server,
    fmt,
    log,
    ms,
    percentiles,
    start_clients,
    table,
)
from .ops import Op, client_views, timings

KEY = "burst"
TITLE = "6. Burst: create and remove as fast as the engine allows"
#: Seconds between two operations (stop, start) on the probe container during the burst.
PROBE_SPACING = 0.5
#: The server's reconciliation period during the burst (seconds).
RECONCILE = 2.0


async def _probe(engine: Engine, cid: str, stop: asyncio.Event) -> list[Op]:
    """Stop and start ``cid`` in turn, one every ``PROBE_SPACING`` s, until ``stop`` is set."""
    ops: list[Op] = []
    step = "stop"
    while not stop.is_set():
        issued = time.time_ns()
        status = await engine.action(cid, step, **({"t": "0"} if step == "stop" else {}))
        if status < 300:
            ops.append(Op(cid, step, issued))
            step = "start" if step == "stop" else "stop"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PROBE_SPACING):
                await stop.wait()
    return ops


def _metrics(text: str) -> dict[str, float]:
    """The samples of a Prometheus text exposition, by name."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def replay(client: WsClient, burst: set[str]) -> dict[str, Any]:
    """Replay ``client``'s stream with the checks above; return what it found."""
    state = copy.deepcopy(client.initial["state"])
    version = client.initial["version"]
    errors: list[str] = []
    chain: list[tuple[int, int]] = []
    lags: list[float] = []
    first: dict[tuple[str, int], int] = {}  # (container, event) -> the first change it caused
    seen: dict[str, list[str]] = {}
    last_burst_arrival = 0
    for t, message in client.parsed():
        kind = message.get("type")
        if kind == "resync_required" or kind == "snapshot":
            errors.append(f"{kind} {message.get('code', '')}".strip())
        if kind != "changes":
            continue
        if message["from"] != version:
            errors.append(f"gap: from {message['from']} after {version}")
        version = message["to"]
        chain.append((message["from"], message["to"]))
        for change in message["changes"]:
            try:
                apply_change(state, change)
            except Exception as err:
                errors.append(f"change v{change.get('v')} does not apply: {err!r}")
            if change["kind"] != "container":
                continue
            if change["id"] in burst:
                cause = change.get("cause") or {}
                if cause.get("time_nano"):
                    lags.append(ms(t - cause["time_nano"]))
                    first.setdefault((change["id"], cause["time_nano"]), t)
                seen.setdefault(change["id"], []).append(change["op"])
                last_burst_arrival = t
        state["version"] = version
    shown = sum(1 for ops in seen.values() if ops[0] == "created" and ops[-1] == "removed")
    disorder = sum(1 for ops in seen.values() if "removed" in ops[:-1])
    return {
        "state": state,
        "version": version,
        "chain": chain,
        "errors": errors,
        "lags": lags,
        "event_lags": [ms(t - nano) for (_, nano), t in first.items()],
        "shown": shown,
        "disorder": disorder,
        "last_arrival": last_burst_arrival,
    }


def engine_view(containers: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {c["Id"]: (c["Names"][0].lstrip("/"), c["State"]) for c in containers}


def state_view(state: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {cid: (c["name"], c["state"]) for cid, c in state["containers"].items()}


async def _engine_ids(http: httpx.AsyncClient) -> dict[str, set[str]]:
    images = {i["Id"] for i in (await http.get("/images/json")).json()}
    volumes = {v["Name"] for v in (await http.get("/volumes")).json().get("Volumes") or []}
    networks = {n["Id"] for n in (await http.get("/networks")).json()}
    return {"images": images, "volumes": volumes, "networks": networks}


async def _quiet(clients: list[WsClient], seconds: float, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until no client has received anything for ``seconds`` (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    counts = [len(c.messages) for c in clients]
    still = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = [len(c.messages) for c in clients]
        if now != counts:
            counts, still = now, time.monotonic()
        elif time.monotonic() - still >= seconds:
            return


async def run(ctx: Context) -> Result:
    opts, engine = ctx.options, ctx.engine
    count = opts.burst
    reconcile = ("--reconcile-interval", str(RECONCILE))
    probe = await engine.create_container(f"{engine.prefix}-probe", start=True)
    async with EventsTap() as tap, dockstate_server(None, *reconcile) as server:
        clients = await start_clients(server, opts.burst_clients)
        before = _metrics(server.get("/metrics").text)
        probing = asyncio.Event()
        prober = asyncio.create_task(_probe(engine, probe, probing))
        try:
            log(f"burst: creating {count} containers")
            limit = asyncio.Semaphore(8)

            async def create(i: int) -> str:
                async with limit:
                    return await engine.create_container(f"{engine.prefix}-b{i}")

            async def remove(cid: str) -> None:
                async with limit:
                    await engine.remove(cid)

            t0 = time.perf_counter()
            ids = await asyncio.gather(*(create(i) for i in range(count)))
            created = time.perf_counter() - t0
            log(f"burst: removing {count} containers")
            t0 = time.perf_counter()
            await asyncio.gather(*(remove(cid) for cid in ids))
            removed = time.perf_counter() - t0
            burst = set(ids)
            probing.set()
            probe_ops = await prober

            # Converged: the clients agree with the engine once it and they are quiet. The
            # engine is shared, so others' changes may race the comparison: retry a few times.
            converged, agree, replays = False, False, []
            for _ in range(10):
                await _quiet(clients, 1.0, 30)
                replays = [replay(c, burst) for c in clients]
                engine_now = engine_view(await engine.containers())
                ids_now = await _engine_ids(engine.http)
                server_version = server.get("/api/v1/state").json()["version"]
                states = [r["state"] for r in replays]
                agree = all(s == states[0] for s in states) and all(
                    r["chain"] == replays[0]["chain"] for r in replays
                )
                converged = all(
                    state_view(r["state"]) == engine_now
                    and all(set(r["state"][k]) == v for k, v in ids_now.items())
                    and r["version"] == server_version
                    for r in replays
                )
                if converged and agree:
                    break
            after = _metrics(server.get("/metrics").text)
            probe_times = timings(probe_ops, tap, client_views(clients)({probe}))
        finally:
            probing.set()
            await asyncio.gather(*(c.close() for c in clients))
            await engine.remove(probe)

    events = [e for e in tap.lines if e["id"] in burst]
    last_event = max((e["time_nano"] for e in events), default=0)
    errors = [e for r in replays for e in r["errors"]]
    lags = [lag for r in replays for lag in r["lags"]]
    p = percentiles(lags)
    shown_p = percentiles(lag for r in replays for lag in r["event_lags"])
    limit = percentiles(ms(e["t"] - e["time_nano"]) for e in events)
    probe_p, probe_limit = percentiles(probe_times.all_lags()), percentiles(probe_times.all_limit())
    counted = {
        key: after.get(f"dockstate_{key}_total", 0) - before.get(f"dockstate_{key}_total", 0)
        for key in ("reconciliations", "reconcile_repairs", "reconcile_skipped")
    }
    drain = ms(max(r["last_arrival"] for r in replays) - last_event) if events else None
    in_order = not errors and all(r["disorder"] == 0 for r in replays)
    shown = [r["shown"] for r in replays]
    yes = {True: "yes", False: "**no**"}
    rows: list[list[Any]] = [
        [
            "containers created, then removed (8 requests in flight)",
            f"{count} in {created:.2f} s + {removed:.2f} s "
            f"({2 * count / (created + removed):.0f} operations/s)",
        ],
        ["Docker events for them (create, destroy)", len(events)],
        ["clients following", opts.burst_clients],
        [
            "every client got every change in order (no gap, no resync, all apply)",
            yes[in_order] + (f": {errors[:3]}" if errors else ""),
        ],
        ["all clients received the same versions and hold the same state", yes[agree]],
        ["final state equals the engine's listing and the server's version", yes[converged]],
        [
            "burst containers each client saw created then removed",
            " · ".join(f"{s}/{count}" for s in shown),
        ],
        [
            "a burst event shown (its first change) at a client, lag p50 · p95 · p99 · max (ms)",
            " · ".join(fmt(shown_p[k]) for k in ("p50", "p95", "p99", "max")),
        ],
        [
            "the limit's lag for the same events p50 · p95 · p99 · max (ms)",
            " · ".join(fmt(limit[k]) for k in ("p50", "p95", "p99", "max")),
        ],
        [
            "every change of a burst container (with the inspects' details) p50 · p95 · p99 · "
            "max (ms)",
            " · ".join(fmt(p[k]) for k in ("p50", "p95", "p99", "max")),
        ],
        [
            f"probe container stopped/started every {PROBE_SPACING} s during the burst: "
            "lag p50 · p99 · max (ms), shown",
            " · ".join(fmt(probe_p[k]) for k in ("p50", "p99", "max"))
            + f", {probe_p['n']}/{len(probe_ops) * opts.burst_clients}",
        ],
        [
            "the limit for the probe's events p50 · p99 · max (ms)",
            " · ".join(fmt(probe_limit[k]) for k in ("p50", "p99", "max")),
        ],
        [
            f"reconciliations during it (every {RECONCILE:g} s) · repairs counted · "
            "left to events in flight",
            f"{counted['reconciliations']:.0f} · {counted['reconcile_repairs']:.0f} · "
            f"{counted['reconcile_skipped']:.0f}",
        ],
        ["drain: last burst event to the last client having it (ms)", fmt(drain)],
    ]
    data = {
        "containers": count,
        "clients": opts.burst_clients,
        "create_seconds": created,
        "remove_seconds": removed,
        "events": len(events),
        "in_order": in_order,
        "errors": errors[:20],
        "clients_agree": agree,
        "converged": converged,
        "shown_created_and_removed": shown,
        "lag_ms": p,
        "shown_ms": shown_p,
        "limit_ms": limit,
        "probe_ops": len(probe_ops),
        "probe_ms": probe_p,
        "probe_limit_ms": probe_limit,
        "reconcile": counted,
        "drain_ms": drain,
    }
    notes = [
        "Checked by replaying each client's stream from its snapshot after the burst; "
        "compared with `GET /containers/json?all=1` and the image, volume and network lists.",
    ]
    return Result(KEY, TITLE, table(["check / measure", "value"], rows, align="ll"), notes, data)
