"""cgroup v1 counters of one container: ``cpuacct``, ``memory``, ``blkio``, ``pids``.

The files (kernel Documentation/admin-guide/cgroup-v1/, and what containerd's cgroups v1
package reads for Docker's stats API):

- ``cpuacct.usage``: total CPU time of the cgroup's tasks, nanoseconds (Docker's
  ``cpu_stats.cpu_usage.total_usage``).
- ``memory.usage_in_bytes`` and ``memory.stat``'s ``total_inactive_file``: Docker's
  ``calculateMemUsageUnixNoCache`` reports ``usage - total_inactive_file``.
- ``memory.limit_in_bytes``: the limit; ``9223372036854771712`` (PAGE_COUNTER_MAX pages)
  when unlimited, which the daemon caps to the host's memory.
- ``blkio.throttle.io_service_bytes``: lines ``<major>:<minor> <Op> <bytes>`` and a last
  ``Total <bytes>``; Docker's CLI sums the ``Read`` and ``Write`` ops over devices.
- ``pids.current``: the number of tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ._procfs import read_text

__all__ = [
    "V1Reading",
    "flat_keyed_value",
    "parse_blkio_service_bytes",
    "parse_flat_keyed",
    "read_v1",
]

V1Reading = tuple[int, int, int, int, int, int]
"""(cpu_ns, memory_bytes, memory_limit_bytes, block_read, block_write, pids)."""


def parse_flat_keyed(text: str) -> dict[str, int]:
    """A flat-keyed file (``memory.stat``, ``cpu.stat``): ``key value`` per line."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            out[key] = int(value)
    return out


def flat_keyed_value(text: str, key: str) -> int | None:
    """The value of ``key`` in a flat-keyed file, or None: ``parse_flat_keyed(text).get(key)``
    without parsing the other lines (``memory.stat`` has 35 of them)."""
    prefix = f"{key} "
    if text.startswith(prefix):
        start = 0
    else:
        start = text.find(f"\n{prefix}")
        if start < 0:
            return None
        start += 1
    end = text.find("\n", start)
    return int(text[start + len(prefix) : end if end >= 0 else None])


def parse_blkio_service_bytes(text: str) -> tuple[int, int]:
    """(read, write) bytes of a ``blkio.throttle.io_service_bytes``, summed over devices."""
    read = write = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        op = fields[1].lower()
        if op == "read":
            read += int(fields[2])
        elif op == "write":
            write += int(fields[2])
    return read, write


def read_v1(
    dirs: Mapping[str, Path], host_memory: int, read: Callable[[str], str] = read_text
) -> V1Reading:
    """Read one container's v1 counters from its controller directories (``cpuacct``,
    ``memory``, ``blkio``, ``pids``). Raises ``OSError`` / ``ValueError`` when the cgroup is
    gone or half-removed (the caller drops the container from the sample)."""
    cpu_ns = int(read(f"{dirs['cpuacct']}/cpuacct.usage"))
    mem = dirs["memory"]
    usage = int(read(f"{mem}/memory.usage_in_bytes"))
    stat = read(f"{mem}/memory.stat")
    inactive = flat_keyed_value(stat, "total_inactive_file")
    if inactive is None:
        inactive = flat_keyed_value(stat, "inactive_file")
    memory = usage - inactive if inactive is not None and inactive < usage else usage
    limit = int(read(f"{mem}/memory.limit_in_bytes"))
    if host_memory and limit > host_memory:
        limit = host_memory
    block_read = block_write = 0
    if "blkio" in dirs:
        block_read, block_write = parse_blkio_service_bytes(
            read(f"{dirs['blkio']}/blkio.throttle.io_service_bytes")
        )
    pids = int(read(f"{dirs['pids']}/pids.current")) if "pids" in dirs else 0
    return cpu_ns, memory, limit, block_read, block_write, pids
