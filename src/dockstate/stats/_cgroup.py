"""Finding and reading a container's cgroup, from its init process.

The container's cgroup is never guessed from its id and the driver: it is read from
``/proc/<pid>/cgroup`` of the container's init process (``State.Pid`` of its inspect), and
mapped to a directory through the cgroup mounts of ``/proc/self/mountinfo``. So the
``cgroupfs`` driver (``/docker/<id>``), the ``systemd`` driver
(``/system.slice/docker-<id>.scope``), a ``--cgroup-parent`` and a v1 hierarchy mounted
anywhere all work the same way. A process whose cgroup path does not name the container's id
is not the container's (another pid namespace: a remote or virtualized engine): the
container is then *unreadable* here, and the auto source asks the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._cgroup_v1 import read_v1
from ._cgroup_v2 import read_v2
from ._procfs import (
    CgroupMount,
    KeptFiles,
    host_memory,
    parse_mountinfo,
    parse_net_dev,
    parse_proc_cgroup,
    read_text,
)
from ._sample import Counters

__all__ = ["V1_CONTROLLERS", "CgroupLocation", "CgroupReader"]

#: The v1 controllers read; ``cpuacct`` and ``memory`` are required, the others optional.
V1_CONTROLLERS = ("cpuacct", "memory", "blkio", "pids")


@dataclass(frozen=True, slots=True)
class CgroupLocation:
    """Where one running container's counters are: its cgroup directories (v1: by
    controller; v2: one), and its init process's ``net/dev``."""

    container_id: str
    pid: int
    version: int
    dirs: dict[str, Path]
    net_dev: Path


class CgroupReader:
    """Reads containers' counters from the cgroup files under ``root`` (``/`` on a host;
    a fixture tree in tests). Blocking file I/O, a few small reads per container: call it
    from a thread."""

    def __init__(self, root: str | Path = "/", *, read: Callable[[str], str] | None = None) -> None:
        self.root = Path(root)
        #: The files of the containers being read, kept open (None: ``read`` is given).
        self.kept = KeptFiles() if read is None else None
        self._read_text = read or read_text
        try:
            self.mounts = parse_mountinfo(read_text(self.root / "proc/self/mountinfo"))
        except OSError:
            self.mounts = []
        self.host_memory = host_memory(self.root)

    def _host(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def _v1_mount(self, controller: str) -> CgroupMount | None:
        mounts = (m for m in self.mounts if m.version == 1 and controller in m.controllers)
        return next(mounts, None)

    def _v2_mount(self) -> CgroupMount | None:
        return next((m for m in self.mounts if m.version == 2), None)

    @property
    def version(self) -> int | None:
        """1 when ``cpuacct`` and ``memory`` are on v1 hierarchies (v1 or hybrid hosts), 2 on
        a unified host, None when no usable cgroup hierarchy is mounted here."""
        if self._v1_mount("cpuacct") and self._v1_mount("memory"):
            return 1
        if self._v2_mount():
            return 2
        return None

    @property
    def readable(self) -> bool:
        """Whether a cgroup hierarchy with the controllers we read is mounted and readable."""
        version = self.version
        if version == 1:
            mount = self._v1_mount("memory")
        elif version == 2:
            mount = self._v2_mount()
        else:
            return False
        assert mount is not None
        return self._host(mount.mountpoint).is_dir()

    def locate(self, container_id: str, pid: int) -> CgroupLocation | None:
        """The cgroup of container ``container_id`` whose init process is ``pid``.

        Returns None when it is not readable from here (the process is not the container's:
        its cgroup path does not name the id, or the path is outside the mounts). Raises
        ``OSError`` when the process is gone (the container stopped).
        """
        cgroups = parse_proc_cgroup(self._read_text(str(self._host(f"/proc/{pid}/cgroup"))))
        net_dev = self._host(f"/proc/{pid}/net/dev")
        if self.version == 1:
            dirs: dict[str, Path] = {}
            for controller in V1_CONTROLLERS:
                mount, path = self._v1_mount(controller), cgroups.v1.get(controller)
                if mount is None or path is None or container_id not in path:
                    continue
                where = mount.path_of(path)
                if where is not None:
                    dirs[controller] = self._host(where)
            if "cpuacct" not in dirs or "memory" not in dirs:
                return None
            return CgroupLocation(container_id, pid, 1, dirs, net_dev)
        mount = self._v2_mount()
        path = cgroups.unified
        if mount is None or path is None or container_id not in path:
            return None
        where = mount.path_of(path)
        if where is None:
            return None
        return CgroupLocation(container_id, pid, 2, {"unified": self._host(where)}, net_dev)

    def read(self, loc: CgroupLocation) -> Counters:
        """One reading of a located container. Raises ``OSError`` / ``ValueError`` when it
        vanished (cgroup removed, process gone) during the read."""
        clock = time.monotonic_ns()
        read = self._read_text if self.kept is None else self.kept.reader(_owner(loc))
        if loc.version == 1:
            values = read_v1(loc.dirs, self.host_memory, read)
        else:
            values = read_v2(loc.dirs["unified"], self.host_memory, read)
        # After the cgroup's files: a dead process's net/dev may still read (its last
        # counters), a removed cgroup's files never do.
        rx, tx = parse_net_dev(read(str(loc.net_dev)))
        cpu_ns, memory, limit, block_read, block_write, pids = values
        return Counters(cpu_ns, clock, memory, limit, rx, tx, block_read, block_write, pids)

    def read_many(self, locations: list[CgroupLocation]) -> dict[str, Counters]:
        """Readings of many containers; one that vanishes mid-read is left out. The files of
        containers not in ``locations`` are closed (see :class:`KeptFiles`)."""
        if self.kept is not None:
            self.kept.keep_only(map(_owner, locations))
        out: dict[str, Counters] = {}
        for loc in locations:
            try:
                out[loc.container_id] = self.read(loc)
            except (OSError, ValueError, KeyError):
                continue
        return out


def _owner(loc: CgroupLocation) -> str:
    """Whose files these are: a container's start (its init pid), so a restart opens anew."""
    return f"{loc.container_id}:{loc.pid}"
