"""What ``/proc`` tells: where the cgroup hierarchies are mounted (``/proc/self/mountinfo``),
which cgroups a process is in (``/proc/<pid>/cgroup``), its network counters
(``/proc/<pid>/net/dev``) and the host's memory (``/proc/meminfo``).

Pure parsers over text, plus small readers that take a ``root`` (``/`` on a real host, a
fixture tree in the tests). Every reader raises ``OSError`` when the file is gone.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "STATS_OPEN_FILES",
    "CgroupMount",
    "KeptFiles",
    "ProcessCgroups",
    "allow_open_files",
    "host_memory",
    "parse_meminfo",
    "parse_mountinfo",
    "parse_net_dev",
    "parse_proc_cgroup",
    "read_text",
]


def read_text(path: str | Path) -> str:
    """A small pseudo-file's whole text (one read; ``OSError`` when it is gone)."""
    with open(path, "rb", buffering=0) as f:
        return f.read(65536).decode("ascii", "replace")


#: Open files the sampler asks for beyond the rest of the process's: it keeps 7 files open
#: per container read (KeptFiles), so 1000 containers want 7000 (4 times that, for room).
STATS_OPEN_FILES = 32768
#: Open files a :class:`KeptFiles` leaves to the rest of the process (at most): a server's
#: 1000 WebSocket connections, its engines' and logs' (server/_run.py asks for them).
RESERVED_FILES = 4096


def allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit of open files to ``wanted`` (at most the hard limit),
    as Go programs such as dockerd do at start; where it cannot, nothing changes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class KeptFiles:
    """Small pseudo-files kept open and read again from offset 0 (``pread``), by owner.

    Why: a sample of 1000 containers reads 7000 files a second, and opening a file (the path
    walk through sysfs and procfs) cost more than reading it: kept open, a container's reading
    costs about a third (bench/stats_cost.py). Each read of a seq_file at offset 0 renders it
    afresh. A cgroup that is removed answers ``ENODEV`` on its open files (an ``OSError``, as a
    vanished file does), and the file is closed then.

    An owner is one located container (its id and init pid); :meth:`keep_only` closes the
    files of every other owner, so that files stay open only for the containers being read
    (an open ``net/dev`` would keep a stopped container's network namespace alive). At most
    ``budget`` files are kept open (default: the soft open-files limit but a reserve of half
    of it, at most :data:`RESERVED_FILES`, for the server's connections); past it, a file is
    opened for each read, as :func:`read_text` does.

    Thread-safe: the sampler reads from a worker thread.
    """

    def __init__(self, budget: int | None = None) -> None:
        if budget is None:
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            # A quarter of the limit was too little: 4936 of 20000 where 1000 containers read
            # 7000 files, and the rest were opened for every read (31% of the sampler's time,
            # py-spy at 1000 containers).
            if soft == resource.RLIM_INFINITY:
                budget = STATS_OPEN_FILES
            else:
                budget = soft - min(soft // 2, RESERVED_FILES)
        self.budget = budget
        self._owners: dict[str, dict[str, int]] = {}
        self._count = 0
        self._lock = threading.Lock()

    @property
    def open_files(self) -> int:
        """How many files are kept open now."""
        return self._count

    def reader(self, owner: str) -> Callable[[str], str]:
        """A ``read(path) -> text`` for ``owner``'s files."""
        with self._lock:
            fds = self._owners.setdefault(owner, {})

        def read(path: str) -> str:
            with self._lock:
                fd = fds.get(path)
                if fd is None:
                    if self._count >= self.budget:
                        return read_text(path)
                    fd = fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    self._count += 1
                try:
                    return os.pread(fd, 65536, 0).decode("ascii", "replace")
                except OSError:
                    del fds[path]
                    self._count -= 1
                    os.close(fd)
                    raise

        return read

    def keep_only(self, owners: Iterable[str]) -> None:
        """Close the files of every owner but ``owners``."""
        keep = set(owners)
        with self._lock:
            for owner in [o for o in self._owners if o not in keep]:
                for fd in self._owners.pop(owner).values():
                    os.close(fd)
                    self._count -= 1

    def close(self) -> None:
        """Close every kept file."""
        self.keep_only(())


@dataclass(frozen=True, slots=True)
class CgroupMount:
    """One mounted cgroup hierarchy: v1 (with its controllers) or v2 (``controllers`` empty).

    ``root`` is the cgroup path that the mount point shows (``/`` unless the mount is of a
    sub-tree, as inside a container); ``mountpoint`` is where it is mounted.
    """

    version: int
    controllers: frozenset[str]
    root: str
    mountpoint: str

    def path_of(self, cgroup: str) -> str | None:
        """The directory of cgroup ``cgroup`` (a path as /proc/<pid>/cgroup names it) under
        this mount, or None when the cgroup is outside the mounted sub-tree."""
        root = self.root.rstrip("/")
        if root and cgroup != root and not cgroup.startswith(root + "/"):
            return None
        rel = cgroup[len(root) :].lstrip("/")
        return f"{self.mountpoint.rstrip('/')}/{rel}" if rel else self.mountpoint


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup mounts of a ``/proc/<pid>/mountinfo`` (proc(5)):
    ``id parent major:minor root mountpoint options [optional...] - fstype source superopts``.
    v1 mounts name their controllers in the super options (``rw,cpu,cpuacct``); named
    hierarchies (``name=systemd``) are kept with that name."""
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, superopts = tail[0], tail[2]
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            mounts.append(CgroupMount(2, frozenset(), root, mountpoint))
        elif fstype == "cgroup":
            opts = frozenset(superopts.split(",")) - {"rw", "ro"}
            mounts.append(CgroupMount(1, opts, root, mountpoint))
    return mounts


@dataclass(frozen=True, slots=True)
class ProcessCgroups:
    """The cgroups of one process: v1 paths by controller, and the v2 (unified) path."""

    v1: dict[str, str]
    unified: str | None


def parse_proc_cgroup(text: str) -> ProcessCgroups:
    """A ``/proc/<pid>/cgroup`` (cgroups(7)): ``hierarchy-ID:controller-list:cgroup-path``;
    the v2 line is ``0::<path>``. Works for both drivers: cgroupfs names the container's cgroup
    ``/docker/<id>``, systemd ``/system.slice/docker-<id>.scope``."""
    v1: dict[str, str] = {}
    unified = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            unified = path
            continue
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return ProcessCgroups(v1, unified)


def parse_net_dev(text: str) -> tuple[int, int]:
    """(rx_bytes, tx_bytes) summed over every interface of a ``/proc/<pid>/net/dev`` except
    ``lo``: after ``iface:``, field 0 is received bytes and field 8 transmitted bytes.
    Docker's API reports the container's own interfaces (``eth0``...), never ``lo``, and the
    CLI sums them; so does this."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep or name.strip() == "lo":
            continue
        fields = rest.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


def parse_meminfo(text: str) -> int:
    """``MemTotal`` of a ``/proc/meminfo``, in bytes (the file says kB, meaning KiB)."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def host_memory(root: Path = Path("/")) -> int:
    """The host's memory in bytes (what the daemon's ``machineMemory`` is), or 0."""
    try:
        return parse_meminfo(read_text(root / "proc/meminfo"))
    except (OSError, ValueError):
        return 0
