"""The ``dockstate`` command line.

``dockstate snapshot`` prints the engine's state as JSON; ``dockstate watch`` prints every
change batch as it is committed (``dockstate watch --url URL`` follows a running dockstate
server instead of the engine). Every failure ends in one clear line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from . import __version__
from .engine import DockerClient, Watcher, resolve_docker_host
from .errors import DockstateError
from .state import MAP_OF_KIND, Change, ChangeBatch, EngineState

__all__ = ["describe_batch", "describe_message", "is_loopback", "main"]


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
    serve = engine_command("serve", "Serve the live state over WebSocket and REST.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port to bind (default: 8765)")
    serve.add_argument(
        "--token", help="the clients' secret (default: $DOCKSTATE_TOKEN, else a random one)"
    )
    serve.add_argument("--read-only", action="store_true", help="refuse every action")
    serve.add_argument(
        "--certfile",
        metavar="FILE",
        help="serve HTTPS and WSS with this PEM certificate (chain); advised off loopback",
    )
    serve.add_argument(
        "--keyfile", metavar="FILE", help="the certificate's PEM private key (if not in --certfile)"
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed besides the server's own (repeatable)",
    )
    serve.add_argument("--reconcile-interval", type=float, default=60.0, metavar="SECONDS")
    history = serve.add_argument_group("durable history (changes and raw Docker events)")
    history.add_argument(
        "--db",
        metavar="PATH",
        help="the SQLite file that keeps the history across restarts "
        "(default: $DOCKSTATE_DB, else ~/.local/state/dockstate/<engine>.db)",
    )
    history.add_argument(
        "--no-db", action="store_true", help="keep history in memory only (lost on restart)"
    )
    history.add_argument("--retain-changes", type=_positive_int, default=100_000, metavar="N")
    history.add_argument("--retain-events", type=_positive_int, default=100_000, metavar="N")
    history.add_argument("--retain-days", type=_positive_float, default=7.0, metavar="DAYS")
    tuning = serve.add_argument_group("tuning (defaults suit most uses)")
    tuning.add_argument("--heartbeat-ms", type=int, default=15_000)
    tuning.add_argument("--hello-timeout", type=float, default=10.0, metavar="SECONDS")
    tuning.add_argument("--max-pending", type=int, default=10_000)
    tuning.add_argument("--send-timeout", type=float, default=30.0, metavar="SECONDS")
    tuning.add_argument("--rate", type=float, default=50.0, help="client messages per second")
    tuning.add_argument(
        "--history-limit",
        type=_positive_int,
        default=500,
        help="changes kept in memory for resuming clients (older ones come from --db)",
    )
    tuning.add_argument(
        "--max-connections",
        type=int,
        default=1000,
        help="WebSocket connections at once; one more is closed 1013 (default: 1000)",
    )
    watch = engine_command(
        "watch",
        "Print each change to the engine's state as it happens "
        "(or to a dockstate server's, with --url).",
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per change batch")
    watch.add_argument(
        "--reconcile-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often to relist everything and repair what events missed (default: 60)",
    )
    watch.add_argument(
        "--url",
        metavar="URL",
        help="follow the dockstate server at URL (http://HOST:PORT) instead of the engine",
    )
    watch.add_argument("--token", help="the server's token, with --url (default: $DOCKSTATE_TOKEN)")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text}")
    return value


def _db_path(given: str | None, docker_host: str | None) -> str:
    """The history database: as given, else $DOCKSTATE_DB, else one file per engine under
    $XDG_STATE_HOME (~/.local/state)."""
    if given or os.environ.get("DOCKSTATE_DB"):
        return str(given or os.environ["DOCKSTATE_DB"])
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    engine = re.sub(r"[^A-Za-z0-9.]+", "-", resolve_docker_host(docker_host)).strip("-")
    return os.path.join(state_home, "dockstate", f"{engine}.db")


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
        elif args.command == "serve":
            _serve(args)
        elif args.url is not None:
            asyncio.run(_follow(args, sys.stdout))
        else:
            asyncio.run(_watch(args.docker_host, args.json, args.reconcile_interval, sys.stdout))
    except _UsageError as err:
        print(f"dockstate: {err}", file=sys.stderr)
        return 2
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


class _UsageError(DockstateError):
    """The command line asks for something dockstate refuses to do (exit status 2)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only: ``localhost``, 127.0.0.0/8, ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def _serve(args: argparse.Namespace) -> None:
    from .server import ServerConfig, serve

    token = args.token or os.environ.get("DOCKSTATE_TOKEN")
    if args.keyfile and not args.certfile:
        raise _UsageError("--keyfile needs --certfile")
    if not is_loopback(args.host):
        if not token:
            raise _UsageError(
                f"refusing to listen on {args.host} with a random token: set --token or "
                "DOCKSTATE_TOKEN (and serve TLS with --certfile and --keyfile)"
            )
        if not args.certfile:
            print(
                f"dockstate: warning: serving plain HTTP on {args.host}: the token and the "
                "state cross the network unencrypted; serve TLS with --certfile and --keyfile",
                file=sys.stderr,
                flush=True,
            )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        docker_host=args.docker_host,
        read_only=args.read_only,
        allow_origins=tuple(args.allow_origin),
        reconcile_interval=args.reconcile_interval,
        heartbeat_ms=args.heartbeat_ms,
        hello_timeout=args.hello_timeout,
        max_pending=args.max_pending,
        send_timeout=args.send_timeout,
        rate=args.rate,
        burst=max(1, int(args.rate * 2)),
        history_limit=args.history_limit,
        db=None if args.no_db else _db_path(args.db, args.docker_host),
        retain_changes=args.retain_changes,
        retain_events=args.retain_events,
        retain_days=args.retain_days,
        max_connections=args.max_connections,
        certfile=args.certfile,
        keyfile=args.keyfile,
    )
    if token:
        config = dataclasses.replace(config, token=token)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    scheme = "https" if args.certfile else "http"
    # A token of the user's own is theirs to paste: printed, it would land in every log that
    # keeps this output. A random one is printed, since nobody could know it otherwise.
    shown_token = "<your token>" if token else config.token

    def announce() -> None:
        print(
            f"dockstate {__version__} serving the engine at "
            f"{resolve_docker_host(args.docker_host)}\n"
            f"  open {scheme}://{shown_host}:{args.port}/?token={shown_token}"
            + ("\n  read-only: actions are refused" if args.read_only else ""),
            flush=True,
        )

    serve(config, verbose=args.verbose, on_listening=announce)


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


async def _follow(args: argparse.Namespace, out: TextIO) -> None:
    """``dockstate watch --url``: print what a dockstate server's change stream says."""
    from .client import Client

    if args.docker_host is not None:
        raise DockstateError("--docker-host and --url exclude each other")
    token = args.token or os.environ.get("DOCKSTATE_TOKEN")
    if not token:
        raise DockstateError("--url needs the server's token: --token or $DOCKSTATE_TOKEN")
    try:
        client = Client(args.url, token)
    except ValueError as err:
        raise DockstateError(str(err)) from None
    async with client, client.watch() as watch:
        previous: dict[str, Any] | None = None
        async for state in watch:
            message = watch.last_message
            assert message is not None
            if args.json:
                out.write(json.dumps(message, separators=(",", ":")) + "\n")
            else:
                out.write(describe_message(message, state, previous))
            out.flush()
            previous = state


def describe_message(
    message: dict[str, Any], state: dict[str, Any], previous: dict[str, Any] | None = None
) -> str:
    """A server's ``snapshot`` or ``changes`` message as readable lines, like
    :func:`describe_batch`: one summary line for a snapshot, one line per change.

    ``state`` is the protocol EngineState after the message, ``previous`` the one before it
    (where removed objects, and objects updated by a patch, find their names).
    """
    if message["type"] == "snapshot":
        containers = state.get("containers", {})
        running = sum(1 for c in containers.values() if c.get("state") == "running")
        engine = (state.get("engine_info") or {}).get("status", "unknown")
        return (
            f"{_clock(state.get('last_updated'))} v{message['version']} snapshot "
            f"{len(containers)} containers ({running} running), "
            f"{len(state.get('images', {}))} images, {len(state.get('volumes', {}))} volumes, "
            f"{len(state.get('networks', {}))} networks; engine {engine}\n"
        )
    clock = _clock(message.get("timestamp"))
    return "".join(
        f"{clock} v{c['v']} {_describe_wire_change(c, state, previous)}\n"
        for c in message["changes"]
    )


def _clock(timestamp: str | None) -> str:
    if not timestamp:
        return "--:--:--.---"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.strftime("%H:%M:%S.%f")[:-3]


def _describe_wire_change(
    change: dict[str, Any], state: dict[str, Any], previous: dict[str, Any] | None
) -> str:
    kind, key = change["kind"], change["id"]
    name = key[:12] if kind in ("container", "network") else key
    obj = change.get("object")
    if obj is None:
        # A removed object is named as it was, an updated one as it is now.
        source = previous if change["op"] == "removed" else state
        holder = (source or {}) if kind == "engine" else (source or {}).get(MAP_OF_KIND[kind], {})
        obj = holder.get(key)
    if isinstance(obj, dict):
        name = obj.get("name") or (obj.get("tags") or [name])[0]
    text = f"{kind} {change['op']} {name}"
    if change["op"] == "updated" and change.get("patch"):
        fields = []
        for op in change["patch"]:
            path = op["path"].lstrip("/")
            if path == "rev":
                continue
            fields.append(f"{path}={json.dumps(op['value'])}" if "value" in op else f"-{path}")
        text += ": " + ", ".join(fields)
    cause = change.get("cause")
    if cause:
        text += f"  ({cause.get('type')} {cause.get('action')})"
    return text


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
