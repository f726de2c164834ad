"""10. Logs: a container writing as fast as busybox can, read by dockstate's clients and by
``docker logs -f``.

One ``dockstate serve``, and for each row a fresh flooding container (tests/server/logs_flood.py:
``while :; do echo …; done``, 60-byte lines; fresh because the engine reads a json-file log
from its start to find a ``since``); one after the other, each for ``logs_window`` seconds
from a ``since`` of its own:

- ``docker logs -f -t --since`` (the limit: the engine's own reader), its output counted and
  dropped;
- 1, then 10 WebSocket clients of ``subscribe_logs`` (``since``, ``follow``, permessage-deflate)
  reading as fast as they can, in one process of their own;
- one client reading one message every 0.1 s (the flood test's slow client), while another
  client starts and stops a probe container and measures how soon it sees each change
  (median ms from the Docker event), beside the same without the flood and with the flood
  read by ``docker logs -f`` instead (the engine's own cost of a follower).

For each: lines delivered per second per client, lines skipped (``logs_skipped``) per second,
how far behind the last line read was at the end (lag), whether the first client's lines +
skipped add up to what ``docker logs --since --until`` holds for its window, the CPU of the
server (or of the ``docker`` CLI) and of the clients' process (all of its CPU time, start
included, over the window), and the server's RSS before and at its peak. What the engine wrote
in the window is counted with ``docker logs --since --until``. Everything it creates carries
the bench's labels and is removed at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

from dockstate.logs import time_ns

from .harness import Context, CpuMeter, Result, dockstate_server, fmt, log, table

# The flood harness lives with the flood test (tests/server, on the path harness.py sets).
from logs_flood import (  # isort: skip
    PeakRss,
    Readers,
    engine_reading,
    flooding,
    logged_lines,
    median,
    now_rfc3339,
    probe,
    state_change_latencies,
    unix_time,
)

KEY = "logs"
TITLE = "10. Logs: a container writing as fast as busybox can"
SLOW_PACE = 0.1  # the slow client: one message every 0.1 s


def _until(since: str, seconds: float) -> str:
    ns = time_ns(since) + int(seconds * 1e9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


async def _docker_logs_follow(cid: str, since: str, seconds: float) -> dict[str, Any]:
    """``docker logs -f -t --since`` for ``seconds``: lines read, the lag of the last."""
    proc = await asyncio.create_subprocess_exec(
        "docker", "logs", "-f", "-t", "--since", unix_time(since), cid,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    meter = CpuMeter({"cli": [proc.pid]})
    meter.start()
    lines, tail = 0, b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while chunk := await proc.stdout.read(1 << 20):
                lines += chunk.count(b"\n")
                tail = (tail + chunk)[-4096:]
    cpu = meter.stop()["cli"]
    stopped = time.time()
    proc.kill()
    await proc.wait()
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1].split(b" ", 1)[0].decode(errors="replace")
    lag = stopped - time_ns(last) / 1e9 if last else None
    return {"lines": lines, "lag": lag, "cpu": cpu}


async def run(ctx: Context) -> Result:
    opts = ctx.options
    window = opts.logs_window
    labels = [f"{k}={v}" for k, v in ctx.engine.labels.items()]
    prefix = ctx.engine.prefix
    rows: list[list[Any]] = []
    data: dict[str, Any] = {"window_seconds": window, "runs": {}}

    def flood(n: int) -> contextlib.AbstractAsyncContextManager[str]:
        # A fresh flood for each row: the engine reads a json-file log from its start to find
        # a `since`, so a log grown for minutes would make each row wait for that first.
        return flooding(f"{prefix}-logs-flood{n}", labels)

    async with (
        dockstate_server() as server,
        probe(f"{prefix}-logs-probe", labels) as probe_id,
    ):
        pid = server.process.pid
        log("logs: state-change latency without the flood, with it read by docker logs -f")
        lat = {"none": await state_change_latencies(server.ws_url, server.token, probe_id,
                                                    opts.logs_ops)}  # fmt: skip
        async with flood(0) as cid, engine_reading(cid):
            await asyncio.sleep(1)
            lat["engine"] = await state_change_latencies(
                server.ws_url, server.token, probe_id, opts.logs_ops
            )

        log("logs: docker logs -f")
        async with flood(1) as cid:
            await asyncio.sleep(1)
            since = now_rfc3339()
            limit = await _docker_logs_follow(cid, since, window)
            written = await logged_lines(cid, since, _until(since, window))
        data["runs"]["docker_logs"] = {**limit, "written": written}
        rows.append(["`docker logs -f -t` (the limit)", 1, fmt(written / window, 0),
                     fmt(limit["lines"] / window, 0), "-", fmt(limit["lag"]), "-",
                     fmt(limit["cpu"]), "-", "-"])  # fmt: skip

        for n, (clients, pace) in enumerate(((1, 0.0), (10, 0.0), (1, SLOW_PACE)), 2):
            slow = pace > 0
            what = f"dockstate, {clients} client(s)" + (", 10 messages/s" if slow else "")
            log(f"logs: {what}")
            async with flood(n) as cid:
                await asyncio.sleep(1)
                since = now_rfc3339()
                readers = Readers(server.ws_url, server.token, cid, since, window, pace, clients)
                meter = CpuMeter({"server": [pid]})
                async with PeakRss(pid) as rss:
                    meter.start()
                    await readers.start()
                    if slow:
                        await asyncio.sleep(min(5.0, window / 4))
                        lat["slow"] = await state_change_latencies(
                            server.ws_url, server.token, probe_id, opts.logs_ops
                        )
                    results = await readers.results()
                    cpu = meter.stop()
                written = await logged_lines(cid, since, _until(since, window))
                # Checked for the first client only: each check reads the window's log again.
                first = results[0]
                engine = await logged_lines(cid, since, first.last_time) if first.last_time else 0
                adds_up = first.total_lines + first.total_skipped == engine
            per_client = sum(r.total_lines for r in results) / len(results) / window
            skipped = sum(r.total_skipped for r in results) / len(results) / window
            lag = median([r.lag for r in results])
            clients_cpu = 100 * results[0].process_cpu / window
            rows.append([what, clients, fmt(written / window, 0), fmt(per_client, 0),
                         fmt(skipped, 0), fmt(lag), "yes" if adds_up else "**no**",
                         fmt(cpu["server"]), fmt(clients_cpu),
                         f"{rss.start:.0f} -> {rss.peak:.0f}"])  # fmt: skip
            data["runs"][f"{clients}{'_slow' if slow else ''}"] = {
                "written": written,
                "lines_per_second_per_client": per_client,
                "skipped_per_second_per_client": skipped,
                "lag_seconds": lag,
                "adds_up": adds_up,
                "server_cpu_percent": cpu["server"],
                "clients_cpu_percent": clients_cpu,
                "rss_mb": [rss.start, rss.peak],
            }
    medians = {
        phase: {"start": median(values[0::2]), "stop": median(values[1::2])}
        for phase, values in lat.items()
    }
    data["latency_ms"] = {"values": lat, "medians": medians}
    headers = ["reader", "clients", "written, lines/s", "delivered, lines/s per client",
               "skipped, lines/s", "lag at end, s", "adds up", "server (or CLI) CPU %",
               "clients' CPU %", "server RSS, MB"]  # fmt: skip
    m = medians
    notes = [
        f"{window:.0f} s per row, each from a `since` of its own; written = what "
        "`docker logs --since --until` holds for the window; delivered = lines received; "
        "adds up = the (first) client's lines + `logs_skipped` counts equal what `docker logs` "
        "holds from `since` to its last line. CPU: 100% = one core; the clients run in one "
        "process of their own.",
        "A state change seen by another client while the slow client reads, median ms from "
        f"the Docker event (start / stop): without the flood {m['none']['start']:.0f} / "
        f"{m['none']['stop']:.0f}, the flood read by `docker logs -f` "
        f"{m['engine']['start']:.0f} / {m['engine']['stop']:.0f}, read by the slow client "
        f"{m['slow']['start']:.0f} / {m['slow']['stop']:.0f}"
        f" ({opts.logs_ops} operations each).",
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
    ]
    return Result(KEY, TITLE, table(headers, rows), notes, data)
