"""The ``dockstate`` command line.

``dockstate snapshot`` prints the engine's state as JSON; ``dockstate watch`` prints every
change batch as it is committed. Every failure ends in one clear line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from . import __version__
from .engine import DockerClient, Watcher, resolve_docker_host
from .errors import DockstateError
from .state import Change, ChangeBatch, EngineState

__all__ = ["describe_batch", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockstate",
        description="The live state of a Docker engine, pushed the moment it changes.",
    )
    parser.add_argument("--version", action="version", version=f"dockstate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def engine_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--docker-host",
            metavar="URL",
            help="the engine to watch: unix:///PATH or tcp://HOST:PORT "
            "(default: $DOCKER_HOST, else unix:///var/run/docker.sock)",
        )
        sub.add_argument("-v", "--verbose", action="store_true", help="log what happens")
        return sub

    engine_command("snapshot", "Print the engine's whole state as JSON.")
    watch = engine_command("watch", "Print each change to the engine's state as it happens.")
    watch.add_argument("--json", action="store_true", help="one JSON object per change batch")
    watch.add_argument(
        "--reconcile-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often to relist everything and repair what events missed (default: 60)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process's exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="dockstate: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "snapshot":
            asyncio.run(_snapshot(args.docker_host, sys.stdout))
        else:
            asyncio.run(_watch(args.docker_host, args.json, args.reconcile_interval, sys.stdout))
    except DockstateError as err:
        print(f"dockstate: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `dockstate snapshot | head`): not an error of ours.
        sys.stderr.close()
        return 0
    return 0


async def _snapshot(docker_host: str | None, out: TextIO) -> None:
    state = EngineState(host=resolve_docker_host(docker_host))
    async with DockerClient(docker_host) as docker:
        await Watcher(state, docker).load_once()
    json.dump(state.snapshot(), out, indent=2, sort_keys=True)
    out.write("\n")


async def _watch(docker_host: str | None, as_json: bool, interval: float, out: TextIO) -> None:
    state = EngineState(host=resolve_docker_host(docker_host))

    def show(batch: ChangeBatch) -> None:
        if as_json:
            out.write(json.dumps(batch.to_json(), separators=(",", ":")) + "\n")
        else:
            out.write(describe_batch(batch, state))
        out.flush()

    state.subscribe(show)
    async with DockerClient(docker_host) as docker:
        await Watcher(state, docker, reconcile_interval=interval).run(fail_fast=True)


def describe_batch(batch: ChangeBatch, state: EngineState) -> str:
    """A batch as readable lines: one per change, or one summary line for a full load."""
    clock = datetime.fromisoformat(batch.timestamp.replace("Z", "+00:00")).strftime("%H:%M:%S.%f")
    cause = batch.changes[0].cause
    if cause is not None and cause.action == "load":
        stats = state.system_stats
        return (
            f"{clock[:-3]} v{batch.to_version} loaded {stats.containers} containers "
            f"({stats.containers_running} running), {stats.images} images, "
            f"{stats.volumes} volumes, {stats.networks} networks; "
            f"engine {state.engine_info.status}\n"
        )
    return "".join(f"{clock[:-3]} v{c.v} {_describe_change(c)}\n" for c in batch.changes)


def _describe_change(change: Change) -> str:
    obj: Any = change.obj
    name = change.id[:12] if change.kind in ("container", "network") else change.id
    if obj is not None:
        name = getattr(obj, "name", None) or (getattr(obj, "tags", None) or [name])[0]
    text = f"{change.kind} {change.op} {name}"
    if change.op == "updated" and change.patch:
        fields = []
        for op in change.patch:
            path = op["path"].lstrip("/")
            if path == "rev":
                continue
            fields.append(f"{path}={json.dumps(op['value'])}" if "value" in op else f"-{path}")
        text += ": " + ", ".join(fields)
    if change.cause is not None:
        text += f"  ({change.cause.type} {change.cause.action})"
    return text


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
