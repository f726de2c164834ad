"""Resource usage of running containers (protocol.md §9): readers of the cgroup files (v1
and v2, both drivers) and of Docker's stats API, and the demand-driven :class:`Sampler`.

The door: the public names, nothing else. The code lives in private modules::

    _sample.py    ContainerStats (the wire's fields), Counters (one raw reading), the CPU formula
    _procfs.py    /proc parsers: mountinfo, <pid>/cgroup, <pid>/net/dev, meminfo
    _cgroup_v1.py cgroup v1 files (cpuacct, memory, blkio, pids)
    _cgroup_v2.py cgroup v2 files (cpu.stat, memory.current/stat/max, io.stat, pids.current)
    _cgroup.py    CgroupReader: a container's cgroup from its init pid, and its reading
    _api.py       counters from Docker's stats API JSON
    _sources.py   Target; CgroupSource, ApiSource, AutoSource; make_source(--stats-source)
    _ring.py      SampleRing: the last 10 minutes of one container, by column
    _sampler.py   Sampler, Subscription: the one loop serving every subscriber
"""

from ._api import counters_from_api
from ._cgroup import CgroupLocation, CgroupReader
from ._procfs import STATS_OPEN_FILES, allow_open_files
from ._ring import SampleRing
from ._sample import ContainerStats, Counters, cpu_percent, sample_of
from ._sampler import (
    MIN_INTERVAL,
    SampleCallback,
    Sampler,
    SamplerStats,
    Subscription,
    targets_of_state,
)
from ._sources import (
    ApiSource,
    AutoSource,
    CgroupSource,
    SourceMode,
    StatsSource,
    Target,
    make_source,
)

__all__ = [
    "MIN_INTERVAL",
    "STATS_OPEN_FILES",
    "ApiSource",
    "AutoSource",
    "CgroupLocation",
    "CgroupReader",
    "CgroupSource",
    "ContainerStats",
    "Counters",
    "SampleCallback",
    "SampleRing",
    "Sampler",
    "SamplerStats",
    "SourceMode",
    "StatsSource",
    "Subscription",
    "Target",
    "allow_open_files",
    "counters_from_api",
    "cpu_percent",
    "make_source",
    "sample_of",
    "targets_of_state",
]
