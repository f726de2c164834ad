"""cgroup v2 (unified) counters of one container, from its one directory.

The files (kernel Documentation/admin-guide/cgroup-v2.rst, and what containerd's cgroups v2
package reads for Docker's stats API):

- ``cpu.stat``: flat-keyed, ``usage_usec`` is the total CPU time in microseconds (Docker's
  ``total_usage`` is it times 1000).
- ``memory.current`` and ``memory.stat``'s ``inactive_file``: Docker's
  ``calculateMemUsageUnixNoCache`` reports ``usage - inactive_file`` on v2.
- ``memory.max``: the limit, or ``max`` when unlimited (then the host's memory, as the
  daemon shows).
- ``io.stat``: nested-keyed, ``<major>:<minor> rbytes=N wbytes=N rios=N wios=N dbytes=N
  dios=N`` per device; the daemon maps ``rbytes``/``wbytes`` to the ``read``/``write``
  entries of ``io_service_bytes_recursive``, which the CLI sums.
- ``pids.current``: the number of tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._cgroup_v1 import V1Reading, flat_keyed_value, parse_flat_keyed
from ._procfs import read_text

__all__ = ["parse_io_stat", "read_v2"]


def parse_io_stat(text: str) -> tuple[int, int]:
    """(read, write) bytes of an ``io.stat``, summed over devices."""
    read = write = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def read_v2(directory: Path, host_memory: int, read: Callable[[str], str] = read_text) -> V1Reading:
    """Read one container's v2 counters; the same tuple as :func:`read_v1`. Raises
    ``OSError`` / ``ValueError`` when the cgroup is gone or half-removed."""
    cpu_ns = parse_flat_keyed(read(f"{directory}/cpu.stat"))["usage_usec"] * 1000
    usage = int(read(f"{directory}/memory.current"))
    inactive = flat_keyed_value(read(f"{directory}/memory.stat"), "inactive_file")
    memory = usage - inactive if inactive is not None and inactive < usage else usage
    raw_limit = read(f"{directory}/memory.max").strip()
    limit = host_memory if raw_limit == "max" else int(raw_limit)
    if host_memory and limit > host_memory:
        limit = host_memory
    try:
        block_read, block_write = parse_io_stat(read(f"{directory}/io.stat"))
    except FileNotFoundError:
        # io.stat exists only where the io controller is enabled for the cgroup.
        if not Path(directory).is_dir():
            raise
        block_read = block_write = 0
    pids = int(read(f"{directory}/pids.current"))
    return cpu_ns, memory, limit, block_read, block_write, pids
