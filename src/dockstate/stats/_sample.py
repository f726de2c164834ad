"""One container's resource usage: the raw cumulative ``Counters`` a reader takes, and the
``ContainerStats`` of protocol.md §9 that two readings make.

The formulas follow the Docker CLI (``cli/command/container/stats_helpers.go``) so that the
numbers match ``docker stats``:

- CPU: Docker's ``calculateCPUPercentUnix`` is
  ``(cpu_delta / system_delta) * online_cpus * 100`` where ``system_delta`` is the growth of
  the host's total CPU time (all CPUs, from ``/proc/stat``). ``system_delta / online_cpus`` is
  the wall time that passed, so this is ``cpu_delta_ns / wall_delta_ns * 100``, which is what
  :func:`cpu_percent` computes: 100 = one core busy for the whole interval.
- Memory: Docker's ``calculateMemUsageUnixNoCache`` is ``usage - total_inactive_file`` on
  cgroup v1 and ``usage - inactive_file`` on v2 (when smaller than usage; else ``usage``).
  The readers compute ``memory_bytes`` that way.
- Memory limit: the cgroup's limit, capped to the host's memory, as the daemon does
  (moby ``daemon/daemon_unix.go`` ``statsV1``: "if the container does not set memory limit,
  use the machineMemory").
- Network: the CLI sums ``rx_bytes``/``tx_bytes`` over every interface the API reports (the
  container's own, never ``lo``).
- Block I/O: the CLI's ``calculateBlockIO`` sums the ``Read`` and ``Write`` entries of
  ``blkio_stats.io_service_bytes_recursive`` over every device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["ContainerStats", "Counters", "cpu_percent", "sample_of"]


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """A container's resource usage, exactly the fields of protocol.md §9.

    ``cpu_percent`` is over the last interval (100 = one core); ``memory_bytes`` excludes the
    inactive page cache (as ``docker stats``); byte counters are totals since the container
    started.
    """

    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContainerStats:
        """A sample from the wire's JSON object (:meth:`as_dict`'s inverse); a field that is
        missing or not a number reads 0."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0
            values[f.name] = float(number) if f.name == "cpu_percent" else int(number)
        return cls(**values)

    def as_dict(self) -> dict[str, float | int]:
        """The sample as the wire's JSON object."""
        return {
            "cpu_percent": self.cpu_percent,
            "memory_bytes": self.memory_bytes,
            "memory_limit_bytes": self.memory_limit_bytes,
            "net_rx_bytes": self.net_rx_bytes,
            "net_tx_bytes": self.net_tx_bytes,
            "block_read_bytes": self.block_read_bytes,
            "block_write_bytes": self.block_write_bytes,
            "pids": self.pids,
        }


@dataclass(frozen=True, slots=True)
class Counters:
    """One reading of a container: cumulative CPU time and the instantaneous figures.

    ``clock_ns`` is the time of the CPU reading on a clock that advances with wall time
    (``time.monotonic_ns()`` for the cgroup reader; for the API, Docker's
    ``system_cpu_usage / online_cpus``, so that the CPU percent is Docker's own formula).
    """

    cpu_ns: int
    clock_ns: int
    memory_bytes: int
    memory_limit_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int


def cpu_percent(prev: Counters | None, cur: Counters) -> float:
    """CPU use between two readings, 100 = one core: ``cpu_delta_ns / wall_delta_ns * 100``.

    Docker (``calculateCPUPercentUnix``): ``cpu_delta / system_delta * online_cpus * 100``,
    the same number since ``system_delta / online_cpus`` is the wall time elapsed. Like
    Docker, 0.0 without a previous reading or when a counter went backwards (a restart).
    """
    if prev is None:
        return 0.0
    wall = cur.clock_ns - prev.clock_ns
    used = cur.cpu_ns - prev.cpu_ns
    if wall <= 0 or used <= 0:
        return 0.0
    return used / wall * 100.0


def sample_of(prev: Counters | None, cur: Counters, *, paused: bool = False) -> ContainerStats:
    """The sample of reading ``cur`` after ``prev``; a paused container reads 0% CPU."""
    return ContainerStats(
        cpu_percent=0.0 if paused else round(cpu_percent(prev, cur), 3),
        memory_bytes=cur.memory_bytes,
        memory_limit_bytes=cur.memory_limit_bytes,
        net_rx_bytes=cur.net_rx_bytes,
        net_tx_bytes=cur.net_tx_bytes,
        block_read_bytes=cur.block_read_bytes,
        block_write_bytes=cur.block_write_bytes,
        pids=cur.pids,
    )
