"""What ``/proc`` tells: where the cgroup hierarchies are mounted (``/proc/self/mountinfo``),
which cgroups a process is in (``/proc/<pid>/cgroup``), its network counters
(``/proc/<pid>/net/dev``) and the host's memory (``/proc/meminfo``).

Pure parsers over text, plus small readers that take a ``root`` (``/`` on a real host, a
fixture tree in the tests). Every reader raises ``OSError`` when the file is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CgroupMount",
    "ProcessCgroups",
    "host_memory",
    "parse_meminfo",
    "parse_mountinfo",
    "parse_net_dev",
    "parse_proc_cgroup",
    "read_text",
]


def read_text(path: Path) -> str:
    """A small pseudo-file's whole text (one read; ``OSError`` when it is gone)."""
    with open(path, "rb", buffering=0) as f:
        return f.read(65536).decode("ascii", "replace")


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
