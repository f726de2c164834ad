"""The ``dockstate`` command line.

``dockstate snapshot`` prints the engine's state as JSON; ``dockstate watch`` prints every
change batch as it is committed (``dockstate watch --url URL`` follows a running dockstate
server instead of the engine). Every failure ends in one clear line on stderr, never a
traceback: ``dockstate: ...``, with exit status 2 for a usage error (options refused or in
conflict, an address of no known kind) and 1 for any other failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO

from . import __version__, wire
from .engine import DockerClient, Watcher, resolve_docker_host
from .errors import DockstateError
from .state import MAP_OF_KIND, ChangeBatch, EngineState, Plural

if TYPE_CHECKING:
    from .client import Client
    from .server import EngineSpec, ServerConfig

__all__ = ["describe_batch", "describe_message", "is_loopback", "main", "server_config"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its refusals in dockstate's one line (``dockstate: ...``, status 2)
    instead of a usage block and ``dockstate serve: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"dockstate: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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

    def through_server(sub: argparse.ArgumentParser, url_help: str) -> None:
        """--url, --token and --engine: the command through a dockstate server."""
        sub.add_argument("--url", metavar="URL", help=url_help)
        sub.add_argument(
            "--token", help="the server's token, with --url (default: $DOCKSTATE_TOKEN)"
        )
        sub.add_argument(
            "--engine",
            metavar="ID",
            help="with --url: which of the server's engines (default: the server's default one)",
        )

    snapshot = engine_command("snapshot", "Print the engine's whole state as JSON.")
    snapshot.add_argument(
        "--detail",
        action="store_true",
        help="inspect every container too, for started_at, finished_at, restart_count and "
        "network aliases (one call per container; without it: what the listings show)",
    )
    through_server(snapshot, "the state of the dockstate server at URL instead")
    serve = engine_command("serve", "Serve the live state over WebSocket and REST.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8765, help="port to bind (default: 8765)")
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
        dest="allow_origins",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed besides the server's own (repeatable)",
    )
    serve.add_argument(
        "--reconcile-interval", type=_positive_float, default=60.0, metavar="SECONDS"
    )
    serve.add_argument(
        "--stats-source",
        choices=("auto", "cgroup", "api"),
        default="auto",
        help="where container usage is read: the cgroup files, Docker's stats API, or auto "
        "(the files where readable, else the API; default)",
    )
    serve.add_argument(
        "--metrics-per-container",
        action="store_true",
        help="per-container usage gauges in /metrics (one series per container and metric)",
    )
    serve.add_argument(
        "--no-logs",
        action="store_true",
        help="turn container logs off (they can hold secrets): subscribe_logs and the download",
    )
    engines = serve.add_argument_group(
        "several engines (protocol.md §8; the first is the default, without any: "
        "--docker-host as 'local')"
    )
    engines.add_argument(
        "--engine",
        dest="engine_args",
        action="append",
        default=[],
        metavar="ID=URL",
        help="an engine to watch, e.g. prod=tcp://prod:2376 (repeatable; tcp:// takes TLS "
        "from $DOCKER_TLS_VERIFY and $DOCKER_CERT_PATH)",
    )
    engines.add_argument(
        "--context",
        dest="contexts",
        action="append",
        default=[],
        metavar="NAME",
        help="the engine of a Docker CLI context, with its TLS files (repeatable)",
    )
    engines.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML file of engines: [engines.ID] tables of url (or context), cert_path, "
        "tls_verify, db",
    )
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
    tuning.add_argument("--heartbeat-ms", type=_positive_int, default=15_000)
    tuning.add_argument("--hello-timeout", type=_positive_float, default=10.0, metavar="SECONDS")
    tuning.add_argument("--max-pending", type=_positive_int, default=10_000)
    tuning.add_argument("--send-timeout", type=_positive_float, default=30.0, metavar="SECONDS")
    tuning.add_argument(
        "--rate", type=_positive_float, default=50.0, help="client messages per second"
    )
    tuning.add_argument(
        "--history-limit",
        type=_positive_int,
        default=500,
        help="changes kept in memory for resuming clients (older ones come from --db)",
    )
    tuning.add_argument(
        "--max-connections",
        type=_positive_int,
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
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="how often to relist everything and repair what events missed (default: 60)",
    )
    through_server(
        watch, "follow the dockstate server at URL (http://HOST:PORT) instead of the engine"
    )
    top = engine_command(
        "top",
        "Show what each running container uses, live, as docker stats does "
        "(from the engine, or from a dockstate server with --url).",
    )
    top.add_argument(
        "--interval",
        type=_interval,
        default=1.0,
        metavar="SECONDS",
        help="how often to sample (at least 0.5; default: 1)",
    )
    top.add_argument(
        "--sort",
        choices=("cpu", "mem", "name"),
        default="cpu",
        help="order of the lines: CPU or memory, highest first, or name (default: cpu)",
    )
    top.add_argument(
        "--no-stream", action="store_true", help="print one table and exit (as docker stats)"
    )
    top.add_argument(
        "--stats-source",
        choices=("auto", "cgroup", "api"),
        default="auto",
        help="without --url: read the cgroup files, Docker's stats API, or auto (default)",
    )
    through_server(top, "show the samples of the dockstate server at URL (http://HOST:PORT)")
    logs = engine_command(
        "logs",
        "Print a container's log (or a compose project's, merged in time order), from the "
        "engine or, with --url, through a dockstate server; stderr lines go to stderr.",
    )
    logs.add_argument("name", nargs="?", metavar="NAME", help="the container (id or name)")
    logs.add_argument("--project", metavar="P", help="every container of compose project P")
    logs.add_argument("-f", "--follow", action="store_true", help="go on with new lines")
    logs.add_argument("--tail", metavar="N", help="the last N lines of each container, or all")
    logs.add_argument("-t", "--timestamps", action="store_true", help="show each line's time")
    through_server(logs, "through the dockstate server at URL")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0: {text}")
    return value


def _interval(text: str) -> float:
    value = _positive_float(text)
    if value < 0.5:
        raise argparse.ArgumentTypeError(f"must be at least 0.5 seconds: {text}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1 to 65535): {text}")
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
        if getattr(args, "engine", None) is not None and args.url is None:
            raise _UsageError("--engine ID needs --url (the engine of a dockstate server)")
        if args.command not in ("watch", "top", "logs", "snapshot") or args.url is None:
            _check_docker_host(args.docker_host)
        if args.command == "logs":
            asyncio.run(_logs(args))
        elif args.command == "snapshot" and args.url is not None:
            asyncio.run(_server_snapshot(args, sys.stdout))
        elif args.command == "snapshot":
            asyncio.run(_snapshot(args.docker_host, sys.stdout, detail=args.detail))
        elif args.command == "serve":
            _serve(args)
        elif args.command == "top":
            asyncio.run(_top(args))
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


#: The engine addresses DockerClient speaks to.
_DOCKER_SCHEMES: Final = ("unix://", "tcp://", "http://", "https://", "ssh://")


def _check_docker_host(docker_host: str | None) -> None:
    """Refuse an engine address of no kind DockerClient knows (given, or $DOCKER_HOST) before
    anything starts: ``serve`` would only find out in its lifespan."""
    host = resolve_docker_host(docker_host)
    if not host.startswith(_DOCKER_SCHEMES):
        where = "--docker-host" if docker_host else "$DOCKER_HOST"
        raise _UsageError(
            f"unsupported Docker host {host!r} ({where}): use unix://PATH, tcp://HOST:PORT or "
            "ssh://USER@HOST"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only: ``localhost``, 127.0.0.0/8, ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The server's settings from ``dockstate serve``'s parsed arguments.

    Every option whose ``dest`` names a field of :class:`ServerConfig` is taken as it is;
    :data:`_DERIVED` says how the other fields are made from the options, and
    :data:`_CLI_ONLY` names the options that are no setting of the server.
    """
    from .server import ServerConfig

    given = vars(args)
    settings = {f.name: given[f.name] for f in dataclasses.fields(ServerConfig) if f.name in given}
    settings.update({name: derive(args) for name, derive in _DERIVED.items()})
    if settings["token"] is None:
        del settings["token"]  # a random one
    return ServerConfig(**settings)


def _token(args: argparse.Namespace) -> str | None:
    token: str | None = args.token or os.environ.get("DOCKSTATE_TOKEN")
    return token


#: The server's settings that are not one option each, from the parsed arguments.
_DERIVED: Final[Mapping[str, Callable[[argparse.Namespace], Any]]] = {
    "token": _token,
    "allow_origins": lambda args: tuple(args.allow_origins),
    "burst": lambda args: max(1, int(args.rate * 2)),
    "engines": lambda args: _engines(args),
    "db": lambda args: None if args.no_db else _db_path(args.db, _first_engine(args)),
}
#: The options of ``serve`` that are no setting of the server (``no_db`` makes ``db``,
#: ``engine_args``, ``contexts`` and ``config`` make ``engines``).
_CLI_ONLY: Final = frozenset({"command", "verbose", "no_db", "engine_args", "contexts", "config"})


def _engines(args: argparse.Namespace) -> tuple[EngineSpec, ...]:
    from .server import DEFAULT_ENGINE, EngineSpec, engine_specs, tls_from_env

    if args.docker_host is not None and (args.engine_args or args.contexts or args.config):
        raise _UsageError("--docker-host and --engine, --context, --config exclude each other")
    specs = engine_specs(args.engine_args, args.contexts, args.config)
    host = resolve_docker_host(args.docker_host)
    tls = tls_from_env(host, os.environ)
    if not specs and tls is not None:  # one engine, over TLS as the Docker CLI would
        specs = (EngineSpec(DEFAULT_ENGINE, host, tls=tls),)
    return specs


def _first_engine(args: argparse.Namespace) -> str | None:
    """The default engine's address (what the default history database is named after)."""
    specs = _engines(args)
    return specs[0].url if specs else args.docker_host


def _serve(args: argparse.Namespace) -> None:
    from .server import serve

    token = _token(args)
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
    config = server_config(args)
    for spec in config.engine_specs():
        if spec.url.startswith(("tcp://", "http://")) and spec.tls is None:
            print(
                f"dockstate: warning: the engine {spec.id} at {spec.url} is reached over plain "
                "TCP: whoever is on the network can read and drive it (root on its host); "
                "serve it with TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)",
                file=sys.stderr,
                flush=True,
            )
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    scheme = "https" if args.certfile else "http"
    # A token of the user's own is theirs to paste: printed, it would land in every log that
    # keeps this output. A random one is printed, since nobody could know it otherwise.
    shown_token = "<your token>" if token else config.token
    specs = config.engine_specs()
    engines = (
        f"the engine at {specs[0].url}"
        if not config.engines
        else "the engines " + ", ".join(f"{s.id} ({s.url})" for s in specs)
    )

    def announce() -> None:
        print(
            f"dockstate {__version__} serving {engines}\n"
            f"  open {scheme}://{shown_host}:{args.port}/?token={shown_token}"
            + ("\n  read-only: actions are refused" if args.read_only else ""),
            flush=True,
        )

    serve(config, verbose=args.verbose, on_listening=announce)


def _server_client(args: argparse.Namespace) -> Client:
    """The Python client of the dockstate server at ``--url`` (``watch``, ``snapshot``,
    ``top`` and ``logs`` through a server), on ``--engine``; a usage error (exit status 2) for
    what the command line gets wrong."""
    from .client import Client

    if args.docker_host is not None:
        raise _UsageError("--docker-host and --url exclude each other")
    token = _token(args)
    if not token:
        raise _UsageError("--url needs the server's token: --token or $DOCKSTATE_TOKEN")
    try:
        return Client(args.url, token, engine=args.engine)
    except ValueError as err:
        raise _UsageError(str(err)) from None


async def _server_snapshot(args: argparse.Namespace, out: TextIO) -> None:
    """``dockstate snapshot --url``: a dockstate server's state of one of its engines."""
    client = _server_client(args)
    async with client:
        state = await client.state()
    json.dump(state["state"], out, indent=2, sort_keys=True)


async def _snapshot(docker_host: str | None, out: TextIO, *, detail: bool = False) -> None:
    state = EngineState(host=resolve_docker_host(docker_host))
    async with DockerClient(docker_host) as docker:
        await Watcher(state, docker).load_once(detail=detail)
    json.dump(state.snapshot(), out, indent=2, sort_keys=True)
    out.write("\n")


async def _watch(docker_host: str | None, as_json: bool, interval: float, out: TextIO) -> None:
    state = EngineState(host=resolve_docker_host(docker_host))

    def show(batch: ChangeBatch) -> None:
        if as_json:
            out.write(json.dumps(wire.batch_json(batch), separators=(",", ":")) + "\n")
        else:
            out.write(describe_batch(batch, state))
        out.flush()

    state.subscribe(show)
    async with DockerClient(docker_host) as docker:
        await Watcher(state, docker, reconcile_interval=interval).run(fail_fast=True)


async def _follow(args: argparse.Namespace, out: TextIO) -> None:
    """``dockstate watch --url``: print what a dockstate server's change stream says."""
    client = _server_client(args)
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


async def _top(args: argparse.Namespace) -> None:
    """``dockstate top``: a live table of what the running containers use."""
    from ._top import SamplesView

    view = SamplesView(sort=args.sort, stream=not args.no_stream)
    if args.url is not None:
        await _top_remote(args, view)
    else:
        await _top_local(args, view)


async def _top_local(args: argparse.Namespace, view: Any) -> None:
    """From the engine: the state (loaded, then followed by the watcher) names the containers
    and says which run; one :class:`~dockstate.stats.Sampler` subscription samples them."""
    from .stats import STATS_OPEN_FILES, Sampler, allow_open_files, make_source, targets_of_state

    allow_open_files(STATS_OPEN_FILES)  # the sampler keeps the files it reads open

    state = EngineState(host=resolve_docker_host(args.docker_host))
    async with DockerClient(args.docker_host) as docker:
        watcher = Watcher(state, docker)
        # The listing names the containers and says which run: no inspect of each needed.
        await watcher.load_once(detail=False)
        sampler = Sampler(make_source(args.stats_source, docker), targets_of_state(state))
        samples: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue(maxsize=1)

        def deliver(now: float, sample: Mapping[str, Any]) -> None:
            if samples.full():  # latest wins
                samples.get_nowait()
            samples.put_nowait((now, {cid: s.as_dict() for cid, s in sample.items()}))

        sampler.subscribe(args.interval, deliver)
        tasks = [asyncio.create_task(sampler.run())]
        if view.stream:
            tasks.append(asyncio.create_task(watcher.run(fail_fast=True)))
        try:
            with view:
                while True:
                    getter = asyncio.ensure_future(samples.get())
                    done, _ = await asyncio.wait(
                        {getter, *tasks}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter not in done:
                        getter.cancel()
                        for task in done:
                            task.result()  # the watcher's failure, as one line
                        raise DockstateError("the sampler stopped")  # pragma: no cover
                    now, sample = getter.result()
                    names = {c.id: c.name for c in state.containers.values()}
                    if view.show(now, sample, names):
                        return
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _top_remote(args: argparse.Namespace, view: Any) -> None:
    """Through a server: its ``stats`` stream, named from its state (read again when a
    container it does not know appears, at most every 5 s)."""
    client = _server_client(args)
    loop = asyncio.get_running_loop()
    async with client:
        names: dict[str, str] = {}
        named_at = -1e9

        async def rename() -> None:
            nonlocal names, named_at
            state = (await client.state()).get("state") or {}
            names = {cid: c.get("name", "") for cid, c in state.get("containers", {}).items()}
            named_at = loop.time()

        await rename()
        async with client.stats(interval_ms=round(args.interval * 1000)) as stream:
            with view:
                async for message in stream:
                    sample = message.get("containers") or {}
                    if any(cid not in names for cid in sample) and loop.time() - named_at > 5:
                        await rename()
                    if view.show(_unix_time(message.get("time")), sample, names):
                        return


def _unix_time(timestamp: str | None) -> float:
    if not timestamp:
        return 0.0
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


async def _logs(args: argparse.Namespace) -> None:
    """``dockstate logs``: a log through a server (``--url``) or straight from the engine."""
    from .logs import LogOptions

    if (args.name is None) == (args.project is None):
        raise _UsageError("give a container NAME or --project P (one of them)")
    tail: int | None = 200 if args.project else None  # docker logs prints it all
    if args.tail is not None:
        if args.tail == "all":
            tail = None
        elif args.tail.isdigit():
            tail = int(args.tail)
        else:
            raise _UsageError(f"--tail takes a number or 'all', not {args.tail!r}")
    if args.url is not None:
        await _logs_through_server(args, tail)
        return
    options = LogOptions(follow=args.follow, tail=tail, timestamps=True)
    async with DockerClient(args.docker_host) as docker:
        await docker.negotiate()
        if args.project is None:
            await _logs_of_container(docker, args.name, options, args.timestamps)
        else:
            await _logs_of_project(docker, args, options)


def _print_line(line: Mapping[str, Any], timestamps: bool, names: Mapping[str, str]) -> None:
    out = sys.stderr if line["stream"] == "stderr" else sys.stdout
    prefix = f"{line['time']} " if timestamps and line.get("time") else ""
    if names:
        prefix = f"{names.get(line['container'], line['container'][:12])} | {prefix}"
    out.write(f"{prefix}{line['text']}\n")
    out.flush()


async def _logs_of_container(
    docker: DockerClient, name: str, options: Any, timestamps: bool
) -> None:
    """One container's log, its bytes as the engine sends them, as ``docker logs`` does."""
    from .logs import Demuxer, RawReader

    info = await docker.inspect_container(name)
    if info is None:
        raise DockstateError(f"no such container: {name}")
    tty = bool((info.get("Config") or {}).get("Tty"))
    demux: Demuxer | RawReader = RawReader() if tty else Demuxer()
    async with docker.container_logs(
        str(info["Id"]), follow=options.follow, tail=options.tail, timestamps=timestamps
    ) as chunks:
        async for chunk in chunks:
            for piece in demux.feed(chunk):
                out = sys.stderr if piece.stream == "stderr" else sys.stdout
                out.buffer.write(piece.data)
                out.flush()


async def _logs_of_project(docker: DockerClient, args: argparse.Namespace, options: Any) -> None:
    from .logs import LogLine, ProjectReader

    state = EngineState(host=docker.host)
    watcher = Watcher(state, docker)
    await watcher.load_once()
    names = {c.id: c.name for c in state.containers.values()}

    class Printer:
        def lines(self, lines: list[LogLine]) -> None:
            for line in lines:
                _print_line(line.as_json(), args.timestamps, names)

        def ended(self, container: str) -> None:
            pass

        def finished(self) -> None:
            pass

        def full(self) -> bool:
            return False

        def skip(self, container: str, count: int) -> None:
            pass

    reader = ProjectReader(docker, state, args.project, options, Printer())
    if not reader.members():
        raise DockstateError(f"no container of compose project {args.project!r}")
    watching = asyncio.create_task(watcher.run()) if options.follow else None
    try:
        await reader.run()
    finally:
        if watching is not None:
            watching.cancel()
            with contextlib.suppress(BaseException):
                await watching


async def _logs_through_server(args: argparse.Namespace, tail: int | None) -> None:
    client = _server_client(args)
    names: dict[str, str] = {}
    async with client:
        if args.project is not None:
            state = (await client.state())["state"]
            names = {cid: c["name"] for cid, c in state.get("containers", {}).items()}
        stream = client.logs(
            container=args.name, project=args.project, tail=tail, follow=args.follow
        )
        async with stream:
            async for message in stream:
                if message["type"] == "logs":
                    for line in message["lines"]:
                        _print_line(line, args.timestamps, names)
                elif message["type"] == "logs_skipped":
                    print(
                        f"dockstate: {message['count']} lines skipped (not read in time)",
                        file=sys.stderr,
                        flush=True,
                    )


def describe_message(
    message: dict[str, Any], state: dict[str, Any], previous: dict[str, Any] | None = None
) -> str:
    """A server's ``snapshot`` or ``changes`` message as readable lines, as
    :func:`describe_batch` puts the engine's: one summary line for a snapshot, one line per
    change.

    ``state`` is the protocol EngineState after the message, ``previous`` the one before it
    (where removed objects, and objects updated by a patch, find their names).
    """
    if message["type"] == "snapshot":
        maps = {plural: state.get(plural, {}) for plural in MAP_OF_KIND.values()}
        running = sum(1 for c in maps["containers"].values() if c.get("state") == "running")
        engine = (state.get("engine_info") or {}).get("status", "unknown")
        counts = {plural: len(objects) for plural, objects in maps.items()}
        clock = _clock(state.get("last_updated"))
        return _summary(clock, message["version"], "snapshot", counts, running, engine)
    clock = _clock(message.get("timestamp"))
    return "".join(
        _describe_change(clock, change, _object_of(change, state, previous))
        for change in message["changes"]
    )


def describe_batch(batch: ChangeBatch, state: EngineState) -> str:
    """A batch as readable lines: one per change, or one summary line for a full load."""
    clock = _clock(batch.timestamp)
    cause = batch.changes[0].cause
    if cause is not None and cause.action == "load":
        stats = state.system_stats
        counts = {plural: getattr(stats, plural) for plural in MAP_OF_KIND.values()}
        return _summary(
            clock,
            batch.to_version,
            "loaded",
            counts,
            stats.containers_running,
            state.engine_info.status,
        )
    # A removed object is named as it was, any other as it is now.
    return "".join(
        _describe_change(clock, wire.change_json(change), change.obj or change.prev)
        for change in batch.changes
    )


def _summary(
    clock: str, version: int, what: str, counts: Mapping[Plural, int], running: int, engine: str
) -> str:
    """The one line of a whole state: a snapshot, or the engine's load."""
    containers, *others = (f"{counts[plural]} {plural}" for plural in MAP_OF_KIND.values())
    return (
        f"{clock} v{version} {what} {containers} ({running} running), "
        f"{', '.join(others)}; engine {engine}\n"
    )


def _describe_change(clock: str, change: Mapping[str, Any], obj: Any) -> str:
    """The one line of one change, as the wire (protocol.md §4) puts it; ``obj`` (an entity
    or its JSON, or None) is where its name comes from."""
    kind, op, key = change["kind"], change["op"], change["id"]
    text = f"{clock} v{change['v']} {kind} {op} {_name_of(kind, key, obj)}"
    if op == "updated" and change.get("patch"):
        fields = []
        for patch_op in change["patch"]:
            path = patch_op["path"].lstrip("/")
            if path == "rev":
                continue
            if "value" in patch_op:
                fields.append(f"{path}={json.dumps(patch_op['value'])}")
            else:
                fields.append(f"-{path}")
        text += ": " + ", ".join(fields)
    cause = change.get("cause")
    if cause:
        text += f"  ({cause.get('type')} {cause.get('action')})"
    return text + "\n"


def _object_of(
    change: Mapping[str, Any], state: dict[str, Any], previous: dict[str, Any] | None
) -> Any:
    """The object a wire change is about: its own, else as it was (removed) or is now."""
    if change.get("object") is not None:
        return change["object"]
    source = (previous if change["op"] == "removed" else state) or {}
    kind = change["kind"]
    holder = source if kind == "engine" else source.get(MAP_OF_KIND.get(kind, ""), {})
    return holder.get(change["id"])


#: Kinds whose ids are 64 hex digits, shown by their first 12 as Docker does.
_HEX_ID_KINDS = frozenset({"container", "network"})


def _name_of(kind: str, key: str, obj: Any) -> str:
    """What a user calls an object: its name, or an image's first tag, else its id."""
    name = key[:12] if kind in _HEX_ID_KINDS else key
    if obj is None:
        return name
    if isinstance(obj, Mapping):
        found = obj.get("name") or (obj.get("tags") or [None])[0]
    else:
        found = getattr(obj, "name", None) or (getattr(obj, "tags", None) or [None])[0]
    return str(found) if found else name


def _clock(timestamp: str | None) -> str:
    if not timestamp:
        return "--:--:--.---"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.strftime("%H:%M:%S.%f")[:-3]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
