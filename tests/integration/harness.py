"""Helpers for tests against a real Docker engine: the docker CLI as ground truth, unique
names, and :class:`Live`, a watcher running against the engine.

Every object a test creates carries the session's label ``LABEL`` and a name starting with
``dst-``; the session fixture in conftest.py removes them all at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import io
import json
import os
import secrets
import subprocess
import tarfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from dockstate.engine import DockerClient, Watcher
from dockstate.state import ChangeBatch, Container, EngineState

TEST_IMAGE = "dockstate-test/busybox:latest"
#: The label every test object carries. Its key names this test session, so that the session's
#: cleanup (and its prunes) touch only what this session created, even when two sessions share
#: an engine.
LABEL = f"dockstate.test.{os.environ.get('DOCKSTATE_TEST_RUN') or secrets.token_hex(4)}"
#: How soon after the docker command returns the state must show its effect.
REFLECT_TIMEOUT = float(os.environ.get("DOCKSTATE_TEST_REFLECT_TIMEOUT", "1.0"))


def engine_is_ours() -> bool:
    """Whether scripts/test started this dockerd, so that tests may restart it."""
    return os.environ.get("DOCKSTATE_TEST_ENGINE") in ("started", "managed")


@dataclass(frozen=True)
class EngineUnderTest:
    """What the tests need to know of the engine they run against (DOCKER_HOST)."""

    podman: bool
    api: tuple[int, int]

    @property
    def tells_of_networks(self) -> bool:
        """Whether it sends network create/destroy events (Podman sends none: its networks
        are seen by reconciliation, or when a container joins one)."""
        return not self.podman

    def volume_prune_all(self) -> list[str]:
        """The ``docker volume prune`` flag that prunes named volumes too: needed from API
        1.42 on (before it, refused by the CLI)."""
        return ["--all"] if self.api >= (1, 42) else []


@functools.cache
def engine_under_test() -> EngineUnderTest:
    """The engine the tests run against, asked once (``docker version``)."""
    out = subprocess.run(
        ["docker", "version", "--format",
         "{{.Server.APIVersion}} {{range .Server.Components}}{{.Name}},{{end}}"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    major, minor = out[0].split(".")
    return EngineUnderTest(podman="Podman" in " ".join(out[1:]), api=(int(major), int(minor)))


async def docker(*args: str, check: bool = True, stdin: bytes | None = None) -> str:
    """Run the docker CLI; return its stdout. Raises AssertionError when it fails."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {err.decode().strip()}")
    return out.decode().strip()


async def import_image(tarball: bytes, *args: str) -> str:
    """``docker import [args] - REF`` of ``tarball``; return the new image's id. (Against
    Podman the CLI prints the id twice, as "ID: ID".)"""
    return (await docker("import", *args, stdin=tarball)).split()[-1]


async def inspect(*names: str) -> list[dict[str, Any]]:
    """``docker inspect`` of objects, as the CLI reports them."""
    result: list[dict[str, Any]] = json.loads(await docker("inspect", *names))
    return result


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) that host process ``pid`` has used so far, from ``/proc``: what
    a container's process really got, to compare a reading with on a machine whose load
    decides how much of a core a busy loop gets."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def unique(prefix: str = "") -> str:
    """A fresh name for a test object."""
    return f"dst-{prefix}{secrets.token_hex(4)}"


@dataclass
class Live:
    """A watcher running against the real engine, and ways to wait for what it commits."""

    state: EngineState
    watcher: Watcher
    client: DockerClient
    batches: list[ChangeBatch] = field(default_factory=list)
    #: For every committed change caused by a Docker event since the harness was created
    #: (older ones are replays, old by design): seconds from the event's timeNano to commit.
    lags: list[float] = field(default_factory=list)
    started_ns: int = field(default_factory=time.time_ns)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_batch(self, batch: ChangeBatch) -> None:
        now = time.time_ns()
        self.batches.append(batch)
        for change in batch.changes:
            cause = change.cause
            if cause is not None and (cause.time_nano or 0) > self.started_ns:
                self.lags.append((now - (cause.time_nano or 0)) / 1e9)
        self._changed.set()

    async def wait_for(
        self,
        predicate: Callable[[EngineState], bool],
        timeout: float = REFLECT_TIMEOUT,  # noqa: ASYNC109 (a deadline, not a cancel scope)
        what: str = "",
    ) -> None:
        """Wait until ``predicate(state)`` holds; fail after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self.state):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"the state did not show {what or 'the change'} within {timeout} s"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    def container(self, name: str) -> Container:
        """The container called ``name`` in the state; fails the test when there is none."""
        found = next((c for c in self.state.containers.values() if c.name == name), None)
        assert found is not None, f"no container {name} in the state"
        return found


async def run_container(name: str, *args: str, command: tuple[str, ...] = ("sleep", "300")) -> str:
    """``docker run -d`` a labelled test container; return its id."""
    return await docker(
        "run", "-d", "--name", name, "--label", LABEL + "=1", *args, TEST_IMAGE, *command
    )


@contextlib.asynccontextmanager
async def watching(max_lag: float | None = None, **options: Any) -> AsyncIterator[Live]:
    """A watcher following the real engine (connected and loaded) for the ``with`` body.

    ``options`` go to :class:`Watcher`. On exit, every change that a Docker event caused must
    have reached the state within ``max_lag`` (default REFLECT_TIMEOUT, a second) of the
    event; a test about something else under a heavy burst may allow more (the burst lag is
    measured by bench/, not here).
    """
    state = EngineState()
    async with DockerClient() as client:
        watcher = Watcher(state, client, **{"reconcile_interval": 3600.0, **options})
        live = Live(state, watcher, client)
        state.subscribe(live.on_batch)
        task = asyncio.create_task(watcher.run(fail_fast=True))
        try:
            await asyncio.wait_for(watcher.connected.wait(), 30)
            yield live
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    limit = REFLECT_TIMEOUT if max_lag is None else max_lag
    slow = [lag for lag in live.lags if lag >= limit]
    assert not slow, f"event-to-state lags over {limit} s: {slow}"


def busybox_tar(extra: bytes = b"") -> bytes:
    """A tarball of a tiny root filesystem: busybox, plus a file that makes the image unique."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        with open("/bin/busybox", "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        marker = tarfile.TarInfo("marker")
        marker.size = len(extra)
        tar.addfile(marker, io.BytesIO(extra))
    return buf.getvalue()


def comparable(state: EngineState | dict[str, Any]) -> dict[str, Any]:
    """A state (or a protocol EngineState JSON) without what legitimately differs between two
    states that agree: ``rev`` (their histories differ), engine_info (the link), version and
    timestamps."""
    snap = copy.deepcopy(state) if isinstance(state, dict) else state.snapshot()
    for key in ("engine_info", "version", "last_updated"):
        del snap[key]
    snap["system_stats"].pop("rev")
    for kind in ("containers", "images", "volumes", "networks"):
        for obj in snap[kind].values():
            obj.pop("rev")
    return snap


def differences(mine: dict[str, Any], truth: dict[str, Any], limit: int = 8) -> list[str]:
    """Readable differences between two :func:`comparable` views, field by field."""
    out: list[str] = []
    for kind in sorted(set(mine) | set(truth)):
        a, b = mine.get(kind, {}), truth.get(kind, {})
        if kind == "system_stats":
            a, b = {"stats": a}, {"stats": b}
        for key in sorted(set(a) | set(b)):
            if key not in b:
                out.append(f"{kind} {key}: stale (the engine has no such object)")
            elif key not in a:
                out.append(f"{kind} {key}: missing")
            elif a[key] != b[key]:
                fields = [f for f in set(a[key]) | set(b[key]) if a[key].get(f) != b[key].get(f)]
                out.extend(
                    f"{kind} {key} .{f}: {a[key].get(f)!r} != engine {b[key].get(f)!r}"
                    for f in sorted(fields)
                )
    return out[:limit]


async def engine_truth(host: str | None = None) -> dict[str, Any]:
    """A fresh, full listing of the engine (at ``host``, else the default), through a client
    of its own."""
    fresh = EngineState()
    async with DockerClient(host) as client:
        await Watcher(fresh, client).load_once()
    return comparable(fresh)


async def wait_converged(state: EngineState, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until ``state`` equals a fresh listing of the engine; fail with the differences."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        diff = differences(comparable(state), await engine_truth())
        if not diff:
            return
        if loop.time() > deadline:
            raise AssertionError("the state did not converge:\n  " + "\n  ".join(diff))
        await asyncio.sleep(0.2)
