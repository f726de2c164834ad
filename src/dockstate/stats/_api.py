"""Counters from Docker's stats API (``GET /containers/{id}/stats?stream=false``), for remote
engines and whatever the cgroup files do not show.

The same fields as the cgroup readers, computed from the JSON as the Docker CLI does
(``cli/command/container/stats_helpers.go``):

- CPU: ``cpu_stats.cpu_usage.total_usage`` (ns); the clock is
  ``cpu_stats.system_cpu_usage / online_cpus`` (``online_cpus``, else the length of
  ``percpu_usage``), so that ``cpu_delta / clock_delta * 100`` is exactly
  ``calculateCPUPercentUnix``'s ``cpu_delta / system_delta * online_cpus * 100``. With
  ``one-shot`` the engine leaves ``precpu_stats`` empty; the previous reading is ours.
- Memory: ``calculateMemUsageUnixNoCache``: ``usage - stats.total_inactive_file`` (v1), else
  ``usage - stats.inactive_file`` (v2), when smaller than usage. Limit: ``memory_stats.limit``
  (the daemon has capped it to the host's memory).
- Network: ``rx_bytes``/``tx_bytes`` summed over ``networks``.
- Block I/O: ``Read``/``Write`` entries of ``blkio_stats.io_service_bytes_recursive``.
- ``pids_stats.current``.
"""

from __future__ import annotations

import time
from typing import Any

from ._sample import Counters

__all__ = ["counters_from_api"]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def counters_from_api(stats: dict[str, Any]) -> Counters | None:
    """The counters in one stats JSON; None for a container that is not running (the
    engine answers a stopped container with empty ``memory_stats`` and zero pids)."""
    memory_stats = stats.get("memory_stats") or {}
    if not memory_stats:
        return None
    cpu_stats = stats.get("cpu_stats") or {}
    cpu_usage = cpu_stats.get("cpu_usage") or {}
    online = _int(cpu_stats.get("online_cpus")) or len(cpu_usage.get("percpu_usage") or [])
    system = _int(cpu_stats.get("system_cpu_usage"))
    clock = system // online if system and online else time.monotonic_ns()

    usage = _int(memory_stats.get("usage"))
    raw = memory_stats.get("stats") or {}
    inactive = raw.get("total_inactive_file", raw.get("inactive_file"))
    memory = usage - inactive if isinstance(inactive, int) and inactive < usage else usage

    rx = tx = 0
    for net in (stats.get("networks") or {}).values():
        rx += _int(net.get("rx_bytes"))
        tx += _int(net.get("tx_bytes"))

    read = write = 0
    for entry in (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += _int(entry.get("value"))
        elif op == "write":
            write += _int(entry.get("value"))

    return Counters(
        cpu_ns=_int(cpu_usage.get("total_usage")),
        clock_ns=clock,
        memory_bytes=memory,
        memory_limit_bytes=_int(memory_stats.get("limit")),
        net_rx_bytes=rx,
        net_tx_bytes=tx,
        block_read_bytes=read,
        block_write_bytes=write,
        pids=_int((stats.get("pids_stats") or {}).get("current")),
    )
