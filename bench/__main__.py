"""Run the benchmark suite: ``bench/run [--quick] [--containers N] [--running SHARE] [--out F]``.

Sets up the engine (N labelled containers, a share running, across compose projects, each with
its network and volume), runs every scenario against the same engine, prints one markdown table
per scenario on stdout (progress goes to stderr) and writes them, with the data behind them, to
a JSON file. Everything it started is stopped and everything it created is removed, also when
interrupted. Exits 1 when a scenario failed (its table then says why), 2 when the engine or the
test image is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from . import burst, cost, engines, fanout, freshness, logs, memory, scale, stats, wire
from .glances import glances_version
from .harness import IMAGE, ROOT, Context, CountingProxy, Engine, Options, Result, log

#: In the order of the issue (and of the printed tables); they run in RUN_ORDER.
SCENARIOS: dict[str, ModuleType] = {
    "freshness": freshness,
    "scale": scale,
    "cost": cost,
    "memory": memory,
    "fanout": fanout,
    "burst": burst,
    "wire": wire,
    "stats": stats,
    "engines": engines,
    "logs": logs,
}
RUN_ORDER = [
    "scale", "memory", "cost", "freshness", "fanout", "wire", "burst", "engines", "stats", "logs",
]  # fmt: skip
#: Scenarios that bring their own containers: run alone, they skip the population.
OWN_POPULATION = {"stats", "logs"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="dockstate's benchmark suite against a real Docker engine."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about two minutes with 100 containers: checks that everything runs "
        "and prints its table (timings mean little)",
    )
    parser.add_argument(
        "--containers", type=int, help="containers to create (default 1000, 100 with --quick)"
    )
    parser.add_argument("--running", type=float, help="share of them running (default 0.2)")
    parser.add_argument(
        "--projects",
        type=int,
        help="compose projects, each with a network and a volume (default 10, 4 with --quick)",
    )
    parser.add_argument("--only", help="comma-separated scenarios to run: " + ",".join(SCENARIOS))
    parser.add_argument("--no-glances", action="store_true", help="leave Glances out")
    parser.add_argument(
        "--stats-sizes",
        metavar="N,N",
        help="`stats`: running containers to measure at (default 100,500,1000; 20 with --quick)",
    )
    parser.add_argument(
        "--stats-window",
        type=float,
        metavar="SECONDS",
        help="`stats`: seconds measured per contender and size (default 60; 10 with --quick)",
    )
    parser.add_argument(
        "--stats-settle",
        type=float,
        metavar="SECONDS",
        help="`stats`: seconds each contender runs before its window (default 5; 2 with "
        "--quick); 30 leaves dockstate's start (an inspect per container) out: its steady cost",
    )
    parser.add_argument(
        "--logs-window",
        type=float,
        metavar="SECONDS",
        help="`logs`: seconds each reader reads the flood (default 30; 8 with --quick)",
    )
    parser.add_argument(
        "--out", type=Path, help="the JSON file (default bench/results/<date>.json)"
    )
    return parser


def _options(args: argparse.Namespace) -> Options:
    overrides: dict[str, Any] = {"glances": not args.no_glances}
    for name in ("containers", "running", "projects"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.stats_sizes:
        overrides["stats_sizes"] = tuple(int(n) for n in args.stats_sizes.split(","))
    if args.stats_window is not None:
        overrides["stats_window"] = args.stats_window
    if args.stats_settle is not None:
        overrides["stats_settle"] = args.stats_settle
    if args.logs_window is not None:
        overrides["logs_window"] = args.logs_window
    return Options.quick_mode(**overrides) if args.quick else Options(**overrides)


def _check_engine() -> str | None:
    """Why the suite cannot run here, or None."""
    try:
        subprocess.run(["docker", "version"], capture_output=True, check=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return "no Docker engine answers (start one with scripts/engine.sh up)"
    found = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, check=False)
    if found.returncode != 0:
        return f"the test image {IMAGE} is missing: build it with scripts/engine.sh image"
    return None


async def _run(opts: Options, selected: list[str]) -> tuple[dict[str, Result], dict[str, Any]]:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM cleans up like Ctrl-C does: the run is cancelled, its `finally` blocks run.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    engine = Engine()
    results: dict[str, Result] = {}
    meta: dict[str, Any] = {}
    try:
        stale = await engine.cleanup_stale()
        if stale:
            log(f"removed {stale} objects left by an earlier run")
        version = await engine.version()
        meta["docker"] = version.get("Version")
        meta["docker_api"] = version.get("ApiVersion")
        meta["foreign_containers"] = len(await engine.containers())
        async with CountingProxy() as proxy:
            ctx = Context(opts, engine, proxy)
            if "memory" in selected:
                await memory.before(ctx)
            alone = set(selected) <= OWN_POPULATION
            count = 0 if alone else opts.containers
            log(
                f"creating {count} containers ({opts.running:.0%} running, "
                f"{opts.projects} projects)"
            )
            population = await engine.populate(count, opts.running, 0 if alone else opts.projects)
            log(f"  done in {population.seconds:.1f} s")
            meta["populate_seconds"] = population.seconds
            for key in RUN_ORDER:
                if key not in selected:
                    continue
                t0 = time.perf_counter()
                try:
                    results[key] = await SCENARIOS[key].run(ctx)
                except Exception as err:
                    traceback.print_exc()
                    module = SCENARIOS[key]
                    reason = f"{type(err).__name__}: {err}"
                    results[key] = Result(key, module.TITLE, f"**failed**: {reason}", failed=reason)
                results[key].data["seconds"] = time.perf_counter() - t0
                log(f"{key}: {results[key].data['seconds']:.1f} s")
    finally:
        log("cleaning up")
        try:
            removed = await engine.cleanup()
            log(f"  removed {removed} objects")
        finally:
            await engine.aclose()
    return results, meta


def main() -> int:
    args = _parser().parse_args()
    opts = _options(args)
    selected = list(SCENARIOS) if not args.only else args.only.split(",")
    unknown = [key for key in selected if key not in SCENARIOS]
    if unknown:
        _parser().error(f"unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
    why = _check_engine()
    if why:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    os.chdir(ROOT)  # the contenders' processes run `python -m bench.contenders` from here
    # Glances keeps a stats stream per container open, and the proxy two sockets per stream.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.perf_counter()
    try:
        results, meta = asyncio.run(_run(opts, selected))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted (what it created is removed)", file=sys.stderr)
        return 130
    meta.update(
        {
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "seconds": time.perf_counter() - started,
            "options": dict(vars(opts)),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "glances": glances_version() if opts.glances else None,
        }
    )
    header = (
        f"## dockstate benchmarks{' (quick mode: timings mean little)' if opts.quick else ''}\n\n"
        f"{datetime.now():%Y-%m-%d %H:%M}, Docker {meta.get('docker')}, {meta['cpus']} cores, "
        f"{opts.containers:,} containers ({opts.running:.0%} running), "
        f"{meta['foreign_containers']} of other users on the engine.\n"
    )
    print(header)
    for key in SCENARIOS:
        if key in results:
            print(results[key].markdown())
    out = args.out or ROOT / "bench" / "results" / f"{datetime.now():%Y-%m-%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "scenarios": {k: r.to_json() for k, r in results.items()}}
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    log(f"results written to {out} ({meta['seconds']:.0f} s in all)")
    return 1 if any(r.failed for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
