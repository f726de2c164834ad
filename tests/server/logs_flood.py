"""The logs flood, shared by tests/server/test_logs_flood.py and bench/logs.py: a container
writing as fast as busybox can, log readers in a process of their own (slow or as fast as they
can), a client that measures state-change latency, and the engine's own count of a window.

    python tests/server/logs_flood.py read --url URL --token T --container ID --since S
        --seconds N [--pace SECONDS] [--clients N]

runs ``N`` clients of ``subscribe_logs`` (``since`` S, ``follow``) for N seconds, each reading
one message per ``pace`` seconds (0: as fast as it can; a paced client lets one message wait
in its library at most, so what it does not read stays in the kernel, as a slow browser's
does), and writes one JSON line per client on stdout (:class:`ReadResult`'s fields).

Whoever uses these removes what they create: :func:`flooding` and :func:`probe` remove their
container on the way out, failure or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

IMAGE = "dockstate-test/busybox:latest"
#: As fast as busybox can: a shell builtin in a loop, one line of 60 bytes each.
FLOOD_SCRIPT = "while :; do echo 'flood: the quick brown fox jumps over the lazy dog 0123'; done"
PROTOCOL = Subprotocol("dockstate.v1")


# -- containers --------------------------------------------------------------------------------


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def flooding(name: str, labels: list[str], cpus: float | None = None) -> AsyncIterator[str]:
    """A container named ``name`` (``labels``: ``k=v``) writing lines as fast as it can (with
    ``cpus``, as fast as it can in that share of the CPUs); yields its id and removes it on
    the way out."""
    label_args = [arg for label in labels for arg in ("--label", label)]
    limit = ["--cpus", str(cpus)] if cpus else []
    cid = await asyncio.to_thread(
        docker, "run", "-d", "--name", name, *label_args, *limit, IMAGE, "sh", "-c", FLOOD_SCRIPT
    )
    try:
        yield cid
    finally:
        await asyncio.to_thread(subprocess.run, ["docker", "rm", "-f", cid], capture_output=True)


@contextlib.asynccontextmanager
async def probe(name: str, labels: list[str]) -> AsyncIterator[str]:
    """A stopped container to start and stop (:func:`state_change_latencies`); removed on the
    way out."""
    label_args = [arg for label in labels for arg in ("--label", label)]
    cid = await asyncio.to_thread(
        docker, "create", "--name", name, *label_args, IMAGE, "sleep", "3600"
    )
    try:
        yield cid
    finally:
        await asyncio.to_thread(subprocess.run, ["docker", "rm", "-f", cid], capture_output=True)


@contextlib.asynccontextmanager
async def engine_reading(cid: str) -> AsyncIterator[None]:
    """``docker logs -f --tail 0`` reading ``cid``'s log into /dev/null meanwhile: what the
    engine spends serving a followed log to anyone (it decodes its log file for each
    follower), without dockstate."""
    proc = await asyncio.create_subprocess_exec(
        "docker", "logs", "-f", "--tail", "0", cid,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def unix_time(rfc3339: str) -> str:
    """An RFC 3339 time with nanoseconds as the ``seconds.nanoseconds`` Docker takes."""
    from dockstate.logs import docker_time

    return docker_time(rfc3339)


def now_rfc3339() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


async def logged_lines(cid: str, since: str, until: str) -> int:
    """How many lines ``docker logs --since --until`` prints for the window (both ends
    included, as the engine reads them)."""
    proc = await asyncio.create_subprocess_exec(
        "docker", "logs", "--since", unix_time(since), "--until", unix_time(until), cid,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    count = 0
    while chunk := await proc.stdout.read(1 << 20):
        count += chunk.count(b"\n")
    if await proc.wait() != 0:
        raise RuntimeError(f"docker logs {cid[:12]} failed")
    return count


# -- log readers (in a process of their own) ----------------------------------------------------


@dataclass
class ReadResult:
    """What one log client got. ``lines`` and ``skipped`` up to its last ``logs`` message
    (later ``logs_skipped`` stand for lines after it), per container; ``last_time`` is that
    message's last line's time: the window the engine's count must match is [since,
    last_time]."""

    lines: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_messages: int = 0
    messages: int = 0
    first_time: str = ""
    last_time: str = ""
    #: How far behind the last line read was when the client stopped, in seconds.
    lag: float = 0.0
    seconds: float = 0.0
    close_code: int | None = None
    #: CPU seconds its process had used when it was done (all of the process's clients).
    process_cpu: float = 0.0

    @property
    def total_lines(self) -> int:
        return sum(self.lines.values())

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())


async def read_logs(
    url: str, token: str, container: str, since: str, seconds: float, pace: float
) -> ReadResult:
    """One client of ``subscribe_logs`` for ``seconds``, one message per ``pace`` seconds."""
    result = ReadResult()
    skipped: dict[str, int] = {}
    async with connect(
        url,
        subprotocols=[PROTOCOL],
        max_size=None,
        # A paced client leaves what it has not read in the kernel: one message waits in the
        # library at most, then the library stops reading the socket.
        max_queue=1 if pace else 64,
        ping_interval=None,
        proxy=None,
        open_timeout=60,
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL, "token": token}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"not welcomed: {welcome}")
        subscribe = {"type": "subscribe_logs", "id": "flood", "container": container,
                     "since": since, "tail": None, "follow": True}  # fmt: skip
        await ws.send(json.dumps(subscribe))
        start = time.monotonic()
        deadline = start + seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + seconds):
                async for text in ws:
                    message = json.loads(text)
                    kind = message.get("type")
                    if kind == "logs":
                        lines = message["lines"]
                        result.messages += 1
                        for line in lines:
                            cid = line["container"]
                            result.lines[cid] = result.lines.get(cid, 0) + 1
                        result.first_time = result.first_time or lines[0]["time"]
                        result.last_time = lines[-1]["time"]
                        result.skipped = dict(skipped)
                    elif kind == "logs_skipped":
                        result.skipped_messages += 1
                        cid = message["container"]
                        skipped[cid] = skipped.get(cid, 0) + message["count"]
                    elif kind in ("error", "logs_end"):
                        raise RuntimeError(f"the log subscription ended: {message}")
                    if pace:
                        await asyncio.sleep(pace)
                    if time.monotonic() >= deadline:
                        break
        if result.last_time:
            from dockstate.logs import time_ns

            result.lag = max(0.0, time.time() - time_ns(result.last_time) / 1e9)
        result.seconds = time.monotonic() - start
        result.close_code = ws.close_code
    return result


@dataclass
class Readers:
    """Log clients in a process of their own (this file's ``read`` command)."""

    url: str
    token: str
    container: str
    since: str
    seconds: float
    pace: float = 0.0
    clients: int = 1
    process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "read", "--url", self.url, "--token", self.token,
            "--container", self.container, "--since", self.since,
            "--seconds", str(self.seconds), "--pace", str(self.pace),
            "--clients", str(self.clients),
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    async def results(self) -> list[ReadResult]:
        """Wait for the clients to finish; what each got.

        Raises:
            RuntimeError: the process failed.
        """
        assert self.process is not None
        try:
            async with asyncio.timeout(self.seconds + 120):
                out, _ = await self.process.communicate()
        finally:
            await self.stop()
        if self.process.returncode != 0:
            raise RuntimeError(f"the log readers failed ({self.process.returncode})")
        return [ReadResult(**json.loads(line)) for line in out.splitlines() if line.strip()]

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def _read_main(args: argparse.Namespace) -> None:
    results = await asyncio.gather(
        *(
            read_logs(args.url, args.token, args.container, args.since, args.seconds, args.pace)
            for _ in range(args.clients)
        )
    )
    for result in results:
        result.process_cpu = time.process_time()
        print(json.dumps(result.__dict__), flush=True)


# -- the state-change latency of another client -------------------------------------------------


def _state_in(change: dict[str, Any]) -> str | None:
    if "object" in change:
        state = change["object"].get("state")
        return state if isinstance(state, str) else None
    for op in change.get("patch") or []:
        if op.get("path") == "/state" and isinstance(op.get("value"), str):
            return str(op["value"])
    return None


async def state_change_latencies(
    ws_url: str,
    token: str,
    cid: str,
    ops: int,
    spacing: float = 0.5,
    timeout: float = 60,  # noqa: ASYNC109
) -> list[float]:
    """Start and stop the container ``cid`` ``ops`` times in turn; for each, the time from
    its Docker event (``start``, ``die``, as ``docker events`` reports them) to a client
    subscribed to it receiving the container in that state, in ms.

    The event is taken from the engine's stream, not from the change's ``cause``: under load
    the server may commit a start with the stop event just before it (read in one go), whose
    time is the previous operation's.

    Raises:
        AssertionError: an event or a change did not arrive within ``timeout`` seconds.
    """
    seen: list[tuple[int, str]] = []  # (arrival ns, state)
    events: list[tuple[str, int]] = []  # (action, time ns)
    news = asyncio.Event()
    tap = await asyncio.create_subprocess_exec(
        "docker", "events", "--filter", f"container={cid}", "--format",
        "{{.Action}} {{.TimeNano}}", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def read_events() -> None:
        assert tap.stdout is not None
        async for line in tap.stdout:
            action, _, when = line.decode().strip().partition(" ")
            events.append((action, int(when)))
            news.set()

    async with connect(
        ws_url, subprotocols=[PROTOCOL], max_size=None, ping_interval=None, proxy=None
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL, "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": "p", "filter": {"ids": [cid]}}))
        known = asyncio.Event()  # the client has the container

        async def read() -> None:
            async for text in ws:
                now = time.time_ns()
                message = json.loads(text)
                if message.get("type") == "snapshot" and cid in message["state"]["containers"]:
                    known.set()
                if message.get("type") != "changes":
                    continue
                for change in message["changes"]:
                    if change["id"] == cid:
                        known.set()
                        state = _state_in(change)
                        if state:
                            seen.append((now, state))
                            news.set()

        tasks = [asyncio.create_task(read()), asyncio.create_task(read_events())]
        try:
            async with asyncio.timeout(timeout):
                await known.wait()
            await asyncio.sleep(0.5)  # docker events is listening
            latencies = []
            for i in range(ops):
                verb, action, state = (
                    ("start", "start", "running") if i % 2 == 0 else ("stop", "die", "exited")
                )
                before = time.time_ns()
                args = ["stop", "-t", "0", cid] if verb == "stop" else ["start", cid]
                await asyncio.to_thread(docker, *args)
                try:
                    async with asyncio.timeout(timeout):
                        while True:
                            event = next((t for a, t in events if a == action and t >= before),
                                         None)  # fmt: skip
                            shown = next((t for t, s in seen if s == state and t >= before),
                                         None)  # fmt: skip
                            if event is not None and shown is not None:
                                break
                            news.clear()
                            await news.wait()
                except TimeoutError:
                    raise AssertionError(
                        f"no {action} event or change to {state} within {timeout} s of "
                        f"`docker {verb}` (op {i + 1}); events {events[-3:]}, changes {seen[-3:]}"
                    ) from None
                latencies.append((shown - event) / 1e6)
                await asyncio.sleep(spacing)
        finally:
            tap.kill()
            await tap.wait()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    if ops % 2:
        await asyncio.to_thread(subprocess.run, ["docker", "stop", "-t", "0", cid],
                                capture_output=True)  # fmt: skip
    return latencies


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


# -- the server's memory -----------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """The highest RSS of a process while in the ``async with``, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = rss_mb(pid)
        self.peak = self.start
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb(self.pid))
            await asyncio.sleep(0.2)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak = max(self.peak, rss_mb(self.pid))


def main() -> None:
    parser = argparse.ArgumentParser(prog="logs_flood.py")
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="log clients, one JSON line each when done")
    read.add_argument("--url", required=True, help="the server's ws:// URL")
    read.add_argument("--token", required=True)
    read.add_argument("--container", required=True)
    read.add_argument("--since", required=True, help="RFC 3339")
    read.add_argument("--seconds", type=float, required=True)
    read.add_argument("--pace", type=float, default=0.0)
    read.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(_read_main(args))


if __name__ == "__main__":
    main()
