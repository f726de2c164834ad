"""Where readings come from: the cgroup files, Docker's stats API, or both (``auto``).

A source turns the running containers (:class:`Target`) into :class:`Counters`, one per
container it could read; a container that vanished is simply absent.

The cgroup source needs each container's init pid, which the state's ``Container`` does not
carry: it asks the engine (``GET /containers/{id}/json``, ``State.Pid``) once per container
start (keyed by ``started_at``) and keeps the cgroup location it found. A location that stops
answering (the process is gone) is forgotten and looked up again at the next tick, if the
container is still running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..engine import DockerClient
from ..errors import EngineError
from ._api import counters_from_api
from ._cgroup import CgroupLocation, CgroupReader
from ._sample import Counters

__all__ = [
    "ApiSource",
    "AutoSource",
    "CgroupSource",
    "Inspector",
    "SourceMode",
    "StatsSource",
    "Target",
    "make_source",
]

log = logging.getLogger("dockstate.stats")

SourceMode = Literal["auto", "cgroup", "api"]


@dataclass(frozen=True, slots=True)
class Target:
    """A running (or paused) container to sample: its id, whether it is paused (it then reads
    0% CPU), and its ``started_at`` (a new start invalidates what was cached about it)."""

    id: str
    paused: bool = False
    started_at: str | None = None


class StatsSource(Protocol):
    """Reads the counters of running containers."""

    name: str

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        """Counters of every target that could be read (the vanished ones are absent)."""
        ...


class ApiSource:
    """Docker's stats API, non-streaming (``one-shot`` on 1.41+), ``concurrency`` calls at a
    time. The client must have negotiated its API version (the watcher does)."""

    name = "api"

    def __init__(self, docker: DockerClient, *, concurrency: int = 8) -> None:
        self.docker = docker
        self._semaphore = asyncio.Semaphore(concurrency)

    async def _one(self, target: Target) -> Counters | None:
        async with self._semaphore:
            try:
                stats = await self.docker.container_stats(target.id)
            except EngineError as err:
                log.debug("stats of %s failed: %s", target.id[:12], err)
                return None
        return counters_from_api(stats) if stats is not None else None

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        results = await asyncio.gather(*(self._one(t) for t in targets))
        return {t.id: c for t, c in zip(targets, results, strict=True) if c is not None}


class Inspector(Protocol):
    """What the cgroup source needs of the engine: a container's inspect (DockerClient)."""

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None: ...


class CgroupSource:
    """The cgroup files of the containers' init processes (see the module docstring).

    ``unreadable`` holds the containers (of their current start) whose cgroup cannot be read
    from here; :class:`AutoSource` asks the API for those.
    """

    name = "cgroup"

    def __init__(
        self, docker: Inspector, reader: CgroupReader | None = None, *, concurrency: int = 8
    ) -> None:
        self.docker = docker
        self.reader = reader or CgroupReader()
        self._semaphore = asyncio.Semaphore(concurrency)
        # id -> (started_at, location or None when unreadable from here)
        self._where: dict[str, tuple[str | None, CgroupLocation | None]] = {}
        self._asked: dict[str, float] = {}
        #: Seconds after which a container no one asks about is forgotten.
        self.forget_after = 60.0
        #: How many pid lookups (inspects) it has made.
        self.lookups = 0

    @property
    def unreadable(self) -> set[str]:
        return {cid for cid, (_, loc) in self._where.items() if loc is None}

    async def _pid_of(self, container_id: str) -> int:
        async with self._semaphore:
            self.lookups += 1
            try:
                inspect = await self.docker.inspect_container(container_id)
            except EngineError as err:
                log.debug("inspect of %s failed: %s", container_id[:12], err)
                return 0
        if inspect is None:
            return 0
        pid = (inspect.get("State") or {}).get("Pid")
        return pid if isinstance(pid, int) else 0

    def _locate(self, container_id: str, pid: int) -> tuple[bool, CgroupLocation | None]:
        """(whether the process is there, its location: None when unreadable here)."""
        try:
            return True, self.reader.locate(container_id, pid)
        except (OSError, ValueError):
            return False, None

    async def _refresh(self, targets: Sequence[Target]) -> None:
        now = time.monotonic()
        for t in targets:
            self._asked[t.id] = now
        # Forget what no one has asked about for a while (stopped or removed containers; a
        # container that is running but unwatched is merely looked up again when wanted).
        for cid in [cid for cid, at in self._asked.items() if now - at > self.forget_after]:
            del self._asked[cid]
            self._where.pop(cid, None)
        stale = [
            t for t in targets if t.id not in self._where or self._where[t.id][0] != t.started_at
        ]
        if not stale:
            return
        pids = await asyncio.gather(*(self._pid_of(t.id) for t in stale))
        for target, pid in zip(stale, pids, strict=True):
            if pid <= 0:
                continue  # not running after all: no sample, look again next tick
            alive, found = self._locate(target.id, pid)
            if alive:
                self._where[target.id] = (target.started_at, found)

    def _read(self, locations: list[CgroupLocation]) -> tuple[dict[str, Counters], list[str]]:
        out = self.reader.read_many(locations)
        return out, [loc.container_id for loc in locations if loc.container_id not in out]

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        await self._refresh(targets)
        locations = [
            loc for t in targets if (loc := self._where.get(t.id, (None, None))[1]) is not None
        ]
        out, lost = await asyncio.to_thread(self._read, locations)
        for cid in lost:
            self._where.pop(cid, None)  # vanished (or restarted): look it up again next tick
        return out


class AutoSource:
    """The cgroup files for every container readable from here, the API for the others."""

    name = "auto"

    def __init__(self, cgroup: CgroupSource, api: ApiSource) -> None:
        self.cgroup = cgroup
        self.api = api

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        out = await self.cgroup.read(targets)
        unreadable = self.cgroup.unreadable
        rest = [t for t in targets if t.id in unreadable]
        if rest:
            out.update(await self.api.read(rest))
        return out


def _is_local(docker: DockerClient) -> bool:
    return docker.host.startswith("unix://")


def make_source(
    mode: SourceMode,
    docker: DockerClient,
    *,
    reader: CgroupReader | None = None,
    concurrency: int = 8,
) -> StatsSource:
    """The source for ``--stats-source``: ``cgroup`` (the files only; containers unreadable
    here get no sample), ``api`` (Docker's stats API only), or ``auto``: the cgroup files when
    the engine is local (a unix socket) and a cgroup hierarchy is readable here, each
    container falling back to the API when its cgroup cannot be read (another pid
    namespace); else the API."""
    api = ApiSource(docker, concurrency=concurrency)
    if mode == "api":
        return api
    cgroup = CgroupSource(docker, reader, concurrency=concurrency)
    if mode == "cgroup":
        return cgroup
    if _is_local(docker) and cgroup.reader.readable:
        return AutoSource(cgroup, api)
    return api
