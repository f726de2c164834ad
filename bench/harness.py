"""What every scenario shares: the engine it populates, the clocks and counters it reads.

- :class:`Engine`: creates labelled containers, networks and volumes on the real Docker engine
  (every object carries ``dockstate.bench=1``, this run's id and pid, and a ``bench-`` name) and
  removes exactly those again; :meth:`Engine.cleanup_stale` removes what a crashed earlier run
  left behind (objects whose pid label names no live process), never anything else.
- :class:`CountingProxy`: an asyncio unix-socket proxy in front of the Docker socket that
  counts the HTTP requests passing through it, by method and path, and the bytes each way.
  Contenders are pointed at it with ``--docker-host`` or ``DOCKER_HOST``.
- :func:`cpu_seconds`, :func:`rss_bytes`, :func:`dockerd_pids`: what ``/proc`` says of a process.
- :func:`start_dockstate`: a real ``dockstate serve`` with its production timings.
- :class:`WsClient`: a real WebSocket client of that server that stamps every message with its
  arrival time and counts the bytes it received on the wire.
- :class:`EventsTap`: the limit, a bare subscriber to Docker's ``/events`` in its own process.
- :func:`percentiles`, :func:`table`: the numbers and the markdown they end up in.

All times are wall-clock nanoseconds (``time.time_ns()``) of this host, the clock Docker stamps
its events' ``timeNano`` with, so "event to screen" is one subtraction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "server"))

from server_harness import ServerProcess, free_port, start_server  # noqa: E402

__all__ = [
    "DOCKER_SOCK",
    "IMAGE",
    "LABEL",
    "ROOT",
    "Context",
    "CountingProxy",
    "CpuMeter",
    "Engine",
    "EventsTap",
    "Options",
    "Population",
    "Result",
    "ServerProcess",
    "Subprocess",
    "Usage",
    "WsClient",
    "cpu_seconds",
    "docker_http",
    "dockerd_pids",
    "dockstate_server",
    "fmt",
    "free_port",
    "log",
    "ms",
    "percentiles",
    "rss_bytes",
    "start_clients",
    "start_dockstate",
    "stop_dockstate",
    "table",
]

LABEL = "dockstate.bench"
RUN_LABEL = "dockstate.bench.run"
PID_LABEL = "dockstate.bench.pid"
IMAGE = "dockstate-test/busybox:latest"
DOCKER_SOCK = "/var/run/docker.sock"
PROTOCOL = "dockstate.v1"


def log(message: str) -> None:
    """Progress, on stderr (stdout carries only the tables)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- numbers ----------------------------------------------------------------------------------


def percentiles(values: Iterable[float]) -> dict[str, float | int | None]:
    """``n``, ``p50``, ``p95``, ``p99`` and ``max`` of ``values`` (nearest rank: each is a value
    that was observed); ``None`` for each when there are no values."""
    ordered = sorted(values)
    n = len(ordered)

    def rank(q: float) -> float | None:
        return ordered[max(0, math.ceil(q * n) - 1)] if n else None

    return {
        "n": n,
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": ordered[-1] if n else None,
    }


def ms(ns: int | float) -> float:
    return ns / 1e6


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A table cell: ``-`` for nothing, thousands separated."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str = "l") -> str:
    """A markdown table; ``align`` has an ``l`` (left) or ``r`` (right) per column, the last
    one repeated: by default the first column is left-aligned and the numbers right."""
    align = align if len(align) >= len(headers) else align + "r" * (len(headers) - len(align))
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if a == "l" else "---:" for a in align[: len(headers)]) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -- processes --------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) that process ``pid`` has used; 0 when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (VmRSS); 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def dockerd_pids() -> list[int]:
    """The pids of the ``dockerd`` processes on this host (their CPU is the engine's)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "dockerd":
                    pids.append(int(entry.name))
    return pids


@dataclass
class CpuMeter:
    """CPU% (of one core) of some processes between :meth:`start` and :meth:`stop`."""

    pids: dict[str, list[int]]
    _cpu: dict[str, float] = field(default_factory=dict)
    _wall: float = 0.0

    def start(self) -> None:
        self._wall = time.monotonic()
        self._cpu = {name: sum(map(cpu_seconds, pids)) for name, pids in self.pids.items()}

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._wall
        return {
            name: 100 * (sum(map(cpu_seconds, pids)) - self._cpu[name]) / wall
            for name, pids in self.pids.items()
        }


# -- the engine -------------------------------------------------------------------------------


def docker_http(host: str = DOCKER_SOCK, timeout: float = 120) -> httpx.AsyncClient:
    """An HTTP client of the Docker socket at ``host`` (a path)."""
    transport = httpx.AsyncHTTPTransport(uds=host, limits=httpx.Limits(max_connections=32))
    return httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=timeout)


@dataclass
class Population:
    """What :meth:`Engine.populate` made."""

    containers: list[str]
    running: list[str]
    projects: list[str]
    networks: list[str]
    volumes: list[str]
    seconds: float


class Engine:
    """The Docker engine as this run uses it: everything it creates is labelled and named so
    that it can remove exactly that, even with other people's objects on the same engine."""

    def __init__(self) -> None:
        self.run_id = secrets.token_hex(2)
        self.prefix = f"bench-{self.run_id}"
        self.http = docker_http()
        self.population: Population | None = None
        # The state of each container of the population, as the bench's operations left it.
        self.states: dict[str, str] = {}

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: "1", RUN_LABEL: self.run_id, PID_LABEL: str(os.getpid())}

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- reading --

    async def containers(self) -> list[dict[str, Any]]:
        """Every container of the engine (``GET /containers/json?all=1``)."""
        response = await self.http.get("/containers/json", params={"all": "1"})
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def version(self) -> dict[str, Any]:
        result: dict[str, Any] = (await self.http.get("/version")).json()
        return result

    # -- writing --

    async def create_container(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        network: str | None = None,
        volume: str | None = None,
        start: bool = False,
    ) -> str:
        """Create (and start) a ``sleep`` container named ``name``; return its id."""
        host_config: dict[str, Any] = {}
        if network:
            host_config["NetworkMode"] = network
        if volume:
            host_config["Mounts"] = [{"Type": "volume", "Source": volume, "Target": "/data"}]
        body = {
            "Image": IMAGE,
            "Cmd": ["sleep", "3600"],
            "Labels": {**self.labels, **(labels or {})},
            "HostConfig": host_config,
        }
        response = await self.http.post("/containers/create", params={"name": name}, json=body)
        response.raise_for_status()
        cid: str = response.json()["Id"]
        if start:
            (await self.http.post(f"/containers/{cid}/start")).raise_for_status()
        return cid

    async def action(self, cid: str, action: str, **params: str) -> int:
        """``POST /containers/{cid}/{action}``; return the HTTP status (errors are data here)."""
        response = await self.http.post(f"/containers/{cid}/{action}", params=params or None)
        return response.status_code

    async def remove(self, cid: str) -> int:
        response = await self.http.delete(f"/containers/{cid}", params={"force": "1", "v": "0"})
        return response.status_code

    async def populate(self, count: int, running: float, projects: int) -> Population:
        """Create ``count`` containers in ``projects`` compose-labelled projects, each project
        with its own network and volume; start the first ``running`` share of them."""
        t0 = time.perf_counter()
        names = [f"{self.prefix}-p{j}" for j in range(projects)]
        networks, volumes = [], []
        for name in names:
            body = {"Name": f"{name}-net", "Labels": self.labels, "CheckDuplicate": True}
            response = await self.http.post("/networks/create", json=body)
            response.raise_for_status()
            networks.append(response.json()["Id"])
            body = {"Name": f"{name}-data", "Labels": self.labels}
            (await self.http.post("/volumes/create", json=body)).raise_for_status()
            volumes.append(f"{name}-data")
        starting = round(count * running)
        limit = asyncio.Semaphore(8)

        async def one(i: int) -> str:
            j = i % projects
            labels = {
                "com.docker.compose.project": names[j],
                "com.docker.compose.service": f"svc{(i // projects) % 5}",
                "com.docker.compose.container-number": str(i // projects // 5 + 1),
            }
            async with limit:
                return await self.create_container(
                    f"{names[j]}-{i}",
                    labels=labels,
                    network=f"{names[j]}-net",
                    volume=volumes[j],
                    start=i < starting,
                )

        ids = await asyncio.gather(*(one(i) for i in range(count)))
        self.states = {cid: "running" if i < starting else "exited" for i, cid in enumerate(ids)}
        self.population = Population(
            containers=list(ids),
            running=list(ids[:starting]),
            projects=names,
            networks=networks,
            volumes=volumes,
            seconds=time.perf_counter() - t0,
        )
        return self.population

    # -- cleaning up --

    async def _remove_where(self, label: str, keep: Callable[[dict[str, str]], bool]) -> int:
        """Remove every container, then network, then volume carrying ``label`` whose labels
        ``keep`` does not protect; return how many objects went."""
        filters = json.dumps({"label": [label]})
        removed = 0
        containers = (
            await self.http.get("/containers/json", params={"all": "1", "filters": filters})
        ).json()
        limit = asyncio.Semaphore(8)

        async def rm(cid: str) -> None:
            async with limit:
                await self.remove(cid)

        doomed = [c["Id"] for c in containers if not keep(c.get("Labels") or {})]
        await asyncio.gather(*(rm(cid) for cid in doomed))
        removed += len(doomed)
        for network in (await self.http.get("/networks", params={"filters": filters})).json():
            if not keep(network.get("Labels") or {}):
                await self.http.delete(f"/networks/{network['Id']}")
                removed += 1
        listing = (await self.http.get("/volumes", params={"filters": filters})).json()
        for volume in listing.get("Volumes") or []:
            if not keep(volume.get("Labels") or {}):
                await self.http.delete(f"/volumes/{volume['Name']}")
                removed += 1
        return removed

    async def cleanup(self) -> int:
        """Remove everything this run created."""
        return await self._remove_where(f"{RUN_LABEL}={self.run_id}", lambda _: False)

    async def cleanup_stale(self) -> int:
        """Remove what earlier runs left behind: objects labelled ``dockstate.bench`` whose pid
        label names no live process (another bench running right now keeps its objects)."""

        def alive(labels: dict[str, str]) -> bool:
            pid = labels.get(PID_LABEL, "")
            return pid.isdigit() and Path(f"/proc/{pid}").exists()

        return await self._remove_where(LABEL, alive)


# -- the counting proxy -----------------------------------------------------------------------

_API_VERSION = re.compile(r"^/v\d+\.\d+(?=/)")
_COLLECTION_VERBS = {"json", "create", "prune", "load", "search", "get"}


def endpoint_of(method: str, target: str) -> str:
    """``GET /v1.41/containers/abc/json?x=1`` -> ``GET /containers/{id}/json``."""
    path = _API_VERSION.sub("", target.split("?", 1)[0])
    parts = path.strip("/").split("/")
    objects = ("containers", "images", "volumes", "networks", "exec")
    if parts[0] in objects and len(parts) > 1 and parts[1] not in _COLLECTION_VERBS:
        # Image names hold slashes: the verb, if any, is the last segment.
        tail = parts[-1:] if parts[0] == "images" and len(parts) > 2 else parts[2:]
        parts = [parts[0], "{id}", *tail]
    return f"{method} /{'/'.join(parts)}"


class _RequestParser:
    """Finds the HTTP/1.1 requests in the bytes a client sends (headers, then a body of
    ``Content-Length`` bytes or chunks), and calls ``on_request(method, target)`` for each."""

    def __init__(self, on_request: Callable[[str, str], None]) -> None:
        self.on_request = on_request
        self.buffer = bytearray()
        self.body_left = 0
        self.chunked = False
        self.opaque = False  # after an upgrade (attach, exec): no more HTTP to read

    def feed(self, data: bytes) -> None:
        if self.opaque:
            return
        self.buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        buf = self.buffer
        if self.body_left:
            take = min(self.body_left, len(buf))
            del buf[:take]
            self.body_left -= take
            return bool(buf) and not self.body_left
        if self.chunked:
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(buf[:end]).split(b";")[0] or b"0", 16)
            if size == 0:
                # The last chunk, then (we assume) no trailers: "0\r\n\r\n".
                if len(buf) < end + 4:
                    return False
                del buf[: end + 4]
                self.chunked = False
                return True
            del buf[: end + 2]
            self.body_left = size + 2  # the chunk and its CRLF
            return True
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[: end + 4]
        method, target = [*head[0].split(" "), "", ""][:2]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.on_request(method, target)
        if "upgrade" in headers.get("connection", "").lower():
            self.opaque = True
            return False
        if headers.get("transfer-encoding", "").lower() == "chunked":
            self.chunked = True
        else:
            self.body_left = int(headers.get("content-length") or 0)
        return True


@dataclass(frozen=True)
class Usage:
    """What went through the proxy: requests by endpoint, and bytes each way."""

    requests: Counter[str]
    bytes_to_engine: int
    bytes_from_engine: int
    connections: int

    def __sub__(self, other: Usage) -> Usage:
        requests = Counter(self.requests)
        requests.subtract(other.requests)
        return Usage(
            +requests,
            self.bytes_to_engine - other.bytes_to_engine,
            self.bytes_from_engine - other.bytes_from_engine,
            self.connections - other.connections,
        )


class CountingProxy:
    """A unix-socket proxy to the Docker socket that counts what passes through it.

    ``async with CountingProxy() as proxy:`` listens on a fresh socket in /tmp; point a
    contender at ``proxy.docker_host``; :meth:`usage` is a snapshot to subtract.
    """

    def __init__(self, upstream: str = DOCKER_SOCK) -> None:
        self.path = f"/tmp/bench-{os.getpid()}-{secrets.token_hex(3)}.sock"
        self.upstream = upstream
        self.requests: Counter[str] = Counter()
        self.bytes_to_engine = 0
        self.bytes_from_engine = 0
        self.connections = 0
        self.open = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def usage(self) -> Usage:
        return Usage(
            Counter(self.requests), self.bytes_to_engine, self.bytes_from_engine, self.connections
        )

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_unix_server(self._accept, path=self.path)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.open += 1
        try:
            await self._forward(reader, writer)
        except (asyncio.CancelledError, ConnectionError, OSError):
            # Closing the proxy cancels this task: end it quietly (asyncio reports a handler
            # task that ends cancelled as an error).
            pass
        finally:
            writer.close()
            self.open -= 1
            self._tasks.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        parser = _RequestParser(lambda m, t: self.requests.update([endpoint_of(m, t)]))

        async def to_engine() -> None:
            while data := await reader.read(65536):
                self.bytes_to_engine += len(data)
                parser.feed(data)
                up_writer.write(data)
                await up_writer.drain()
            if up_writer.can_write_eof():
                up_writer.write_eof()

        async def from_engine() -> None:
            while data := await up_reader.read(65536):
                self.bytes_from_engine += len(data)
                writer.write(data)
                await writer.drain()

        pumps = [asyncio.ensure_future(to_engine()), asyncio.ensure_future(from_engine())]
        try:
            # The engine's side ending ends the exchange (a client may keep its side open).
            await pumps[1]
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            up_writer.close()


# -- dockstate --------------------------------------------------------------------------------


async def start_dockstate(docker_host: str | None = None, *extra: str) -> ServerProcess:
    """A real ``dockstate serve`` on a free port with its production timings (15 s heartbeat,
    60 s reconciliation), loaded and connected to the engine."""
    args = ["--heartbeat-ms", "15000", "--hello-timeout", "30", *extra]
    if docker_host:
        args += ["--docker-host", docker_host]
    # A hex token: a urlsafe one may start with "-", which `serve --token` takes for an option.
    return await asyncio.to_thread(start_server, *args, token=secrets.token_hex(12))


async def stop_dockstate(server: ServerProcess) -> None:
    await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def dockstate_server(
    docker_host: str | None = None, *extra: str
) -> AsyncIterator[ServerProcess]:
    server = await start_dockstate(docker_host, *extra)
    try:
        yield server
    finally:
        await stop_dockstate(server)


class _CountingConnection(ClientConnection):
    """A client connection that counts the bytes it reads off the socket (frames, compressed
    or not, with their headers)."""

    wire_bytes = 0

    def data_received(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        super().data_received(data)


class WsClient:
    """One real WebSocket client of a dockstate server with one subscription.

    :meth:`start` connects, says hello, subscribes, and waits for the first state (the
    ``snapshot`` in mode ``changes``, the first ``engine_state_update`` in mode ``full``).
    From then on a reader task stores every message with its arrival time, unparsed, so that
    parsing never delays the stamp of the next one; :meth:`parsed` decodes them afterwards.
    """

    def __init__(
        self,
        server: ServerProcess,
        *,
        mode: str = "changes",
        deflate: bool = True,
        filter: dict[str, Any] | None = None,
    ) -> None:
        self.server = server
        self.mode = mode
        self.deflate = deflate
        self.filter = filter
        self.initial: dict[str, Any] = {}
        self.initial_text_bytes = 0
        self.initial_wire_bytes = 0
        self.initial_seconds = 0.0
        self.negotiated_deflate = False
        self.messages: list[tuple[int, str | bytes]] = []
        self._parsed: list[tuple[int, dict[str, Any]]] = []
        self._ws: _CountingConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def wire_bytes(self) -> int:
        return self._ws.wire_bytes if self._ws else 0

    async def start(self) -> WsClient:
        t0 = time.perf_counter()
        ws = await connect(
            self.server.ws_url,
            subprotocols=[Subprotocol(PROTOCOL)],
            compression="deflate" if self.deflate else None,
            max_size=None,
            max_queue=None,
            ping_interval=None,
            proxy=None,
            open_timeout=60,
            create_connection=_CountingConnection,
        )
        assert isinstance(ws, _CountingConnection)
        self._ws = ws
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "") if ws.response else ""
        self.negotiated_deflate = "permessage-deflate" in extensions
        hello = {"type": "hello", "protocol": PROTOCOL, "token": self.server.token}
        await ws.send(json.dumps({**hello, "client": "dockstate-bench/1"}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"dockstate did not welcome the client: {welcome}")
        subscribe: dict[str, Any] = {"type": "subscribe", "id": "s1", "mode": self.mode}
        if self.filter:
            subscribe["filter"] = self.filter
        await ws.send(json.dumps(subscribe))
        first = "snapshot" if self.mode == "changes" else "engine_state_update"
        while True:
            text = await ws.recv()
            message = json.loads(text)
            if message.get("type") == first:
                break
        self.initial = message
        self.initial_seconds = time.perf_counter() - t0
        self.initial_text_bytes = len(text.encode() if isinstance(text, str) else text)
        self.initial_wire_bytes = ws.wire_bytes
        self._reader = asyncio.create_task(self._read(ws))
        return self

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for data in ws:
                self.messages.append((time.time_ns(), data))

    def mark(self) -> tuple[int, int]:
        """Where the stream is now: (messages so far, wire bytes so far)."""
        return len(self.messages), self.wire_bytes

    def parsed(self, since: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """The messages received after the first state (from index ``since``), decoded."""
        done = len(self._parsed)
        self._parsed += [(t, json.loads(data)) for t, data in self.messages[done:]]
        return self._parsed[since:]

    def text_bytes(self, since: int = 0) -> int:
        return sum(len(d.encode() if isinstance(d, str) else d) for _, d in self.messages[since:])

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def start_clients(server: ServerProcess, count: int, **options: Any) -> list[WsClient]:
    """``count`` clients, connected a few at a time (as a crowd of browsers would come)."""
    limit = asyncio.Semaphore(10)

    async def one() -> WsClient:
        async with limit:
            return await WsClient(server, **options).start()

    return await asyncio.gather(*(one() for _ in range(count)))


# -- the limit: Docker's own event stream -----------------------------------------------------


class Subprocess:
    """A contender in its own process that writes one JSON object per line on stdout; every
    line is kept (``lines``) with the ``ready`` line awaited by :meth:`start`."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.env = env
        self.lines: list[dict[str, Any]] = []
        self.process: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, timeout: float = 60) -> None:  # noqa: ASYNC109
        self.process = await asyncio.create_subprocess_exec(
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, **(self.env or {})},
            limit=2**24,
        )
        self._reader = asyncio.create_task(self._read())
        waiter = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self._reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            await self.stop()
            raise RuntimeError(f"{' '.join(self.args[1:4])} did not get ready")

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            message = json.loads(line)
            if message.get("ready"):
                self._ready.set()
            else:
                self.lines.append(message)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class EventsTap(Subprocess):
    """The limit: a bare subscriber to Docker's ``/events`` (bench/contenders.py ``events``).

    ``lines`` holds ``{"t": arrival_ns, "type", "action", "id", "time_nano"}`` per event.
    """

    def __init__(self, docker_host: str = f"unix://{DOCKER_SOCK}") -> None:
        super().__init__(
            sys.executable, "-m", "bench.contenders", "events", "--docker-host", docker_host
        )

    def find(self, cid: str, action: str, after_ns: int = 0) -> dict[str, Any] | None:
        """The first event of ``action`` on object ``cid`` stamped at or after ``after_ns``."""
        for event in self.lines:
            if event["id"] == cid and event["action"] == action and event["time_nano"] >= after_ns:
                return event
        return None


# -- the suite's shapes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How big and how long: the full run's defaults, or ``--quick``'s."""

    containers: int = 1000
    running: float = 0.2
    projects: int = 10
    quick: bool = False
    glances: bool = True
    runs: int = 5  # repeats of each timing in `scale`
    fresh_containers: int = 20  # `freshness`: each gets create, start, stop, rename, remove
    fresh_lanes: int = 5  # containers operated on in turn (a container's ops are lanes x apart)
    fresh_spacing: float = 0.3  # seconds between two operations
    quiet: float = 60.0  # `cost`: seconds of quiet measured per contender
    settle: float = 10.0  # `cost`: seconds a contender gets to load before the quiet starts
    fanout_clients: tuple[int, ...] = (1, 10, 100)
    fanout_ops: int = 200
    burst: int = 500
    burst_clients: int = 10
    wire_ops: int = 100
    stats_sizes: tuple[int, ...] = (100, 500, 1000)  # `stats`: running containers
    stats_window: float = 60.0  # `stats`: seconds measured per contender and size
    stats_settle: float = 5.0  # `stats`: seconds a contender gets to start first
    engines: int = 10  # `engines`: engines in one server
    engines_ops: int = 50  # `engines`: volumes created per freshness measurement
    logs_window: float = 30.0  # `logs`: seconds each reader reads the flood
    logs_ops: int = 10  # `logs`: starts and stops of the probe per latency measurement

    @classmethod
    def quick_mode(cls, **overrides: Any) -> Options:
        quick = {
            "containers": 100,
            "projects": 4,
            "quick": True,
            "runs": 3,
            "fresh_containers": 5,
            "quiet": 4.0,
            "settle": 1.5,
            "fanout_ops": 20,
            "burst": 50,
            "burst_clients": 3,
            "wire_ops": 20,
            "stats_sizes": (20,),
            "stats_window": 10.0,
            "stats_settle": 2.0,
            "engines": 3,
            "engines_ops": 10,
            "logs_window": 8.0,
            "logs_ops": 4,
        }
        return cls(**{**quick, **overrides})


@dataclass
class Context:
    """What a scenario gets: the options, the engine with its population, the proxy."""

    options: Options
    engine: Engine
    proxy: CountingProxy
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def population(self) -> Population:
        assert self.engine.population is not None, "the engine is not populated yet"
        return self.engine.population


@dataclass
class Result:
    """One scenario's outcome: a markdown table with its notes, and the data behind it."""

    key: str
    title: str
    table: str
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None

    def markdown(self) -> str:
        notes = "".join(f"- {note}\n" for note in self.notes)
        return f"### {self.title}\n\n{self.table}\n\n{notes}"

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "markdown": self.markdown(),
            "failed": self.failed,
            **self.data,
        }
