"""The sampler: one demand-driven loop that reads every running container's counters at the
shortest interval any subscriber asked for, and hands each subscriber
``(time, {id: ContainerStats})`` at its own interval.

- It never reads the state: the caller passes ``targets``, a function returning the running
  containers (:func:`targets_of_state` makes one from an ``EngineState``, read-only). It is
  called at every tick, so a started container appears in the next sample and a stopped one
  leaves it (with its history).
- Demand-driven: while no one subscribes, the loop waits on an event and reads nothing.
  A tick after an idle time only primes the counters (CPU needs two readings); the first
  delivery follows one interval later, within one interval of the subscription.
- Keeps the last ``history_seconds`` (10 minutes) of each running container's samples, at
  most one per ``history_resolution`` (1 s), in a :class:`SampleRing` (43.2 kB per container
  for 600 slots; see ``tests/stats/test_ring.py`` for the tracemalloc measure).
- A subscriber slower than the loop gets its CPU percent over its own interval (the sampler
  keeps the counters of its last delivery); the other fields are the latest reading.
- Callbacks run in the loop, synchronously: they must be quick and must not raise (the server
  only replaces a per-client "latest sample" slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..state import EngineState
from ._ring import SampleRing
from ._sample import ContainerStats, Counters, sample_of
from ._sources import StatsSource, Target

__all__ = [
    "MIN_INTERVAL",
    "SampleCallback",
    "Sampler",
    "SamplerStats",
    "Subscription",
    "targets_of_state",
]

log = logging.getLogger("dockstate.stats")

#: The shortest interval a subscriber may ask for, seconds (protocol.md §9: 500 ms).
MIN_INTERVAL = 0.5

SampleCallback = Callable[[float, Mapping[str, ContainerStats]], None]
"""Called with the sample time (Unix seconds) and every sampled container's ContainerStats."""


def targets_of_state(state: EngineState) -> Callable[[], list[Target]]:
    """A ``targets`` function over an EngineState: its running and paused containers. It only
    reads ``state.containers``."""

    def targets() -> list[Target]:
        return [
            Target(c.id, paused=c.state == "paused", started_at=c.started_at)
            for c in state.containers.values()
            if c.state in ("running", "paused")
        ]

    return targets


@dataclass(eq=False)
class Subscription:
    """One subscriber: its interval (seconds), its callback, and which containers it wants
    (``wants(id)``; None: all). ``close()`` unsubscribes."""

    interval: float
    callback: SampleCallback | None
    wants: Callable[[str], bool] | None = None
    _sampler: Sampler | None = field(default=None, repr=False)
    _last: float | None = field(default=None, repr=False)
    # The counters at its last delivery, for a CPU percent over its own interval when that
    # is longer than the loop's.
    _counters: dict[str, Counters] | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.unsubscribe(self)


@dataclass
class SamplerStats:
    """The sampler's own cost, for ``/metrics``."""

    ticks: int = 0
    read_seconds: float = 0.0
    last_read_seconds: float = 0.0
    last_containers: int = 0
    errors: int = 0


class Sampler:
    """Samples running containers from ``source`` while anyone subscribes.

    Args:
        source: where counters come from (:func:`~dockstate.stats.make_source`).
        targets: returns the running containers, called at every tick.
        on_sample: called at every delivering tick with every container's sample (for a
            server that fans out itself); subscribers' own callbacks are called at their
            interval.
        history_seconds, history_resolution: what the rings keep.
    """

    def __init__(
        self,
        source: StatsSource,
        targets: Callable[[], Iterable[Target]],
        *,
        on_sample: SampleCallback | None = None,
        history_seconds: float = 600.0,
        history_resolution: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.targets = targets
        self.on_sample = on_sample
        self.history_resolution = history_resolution
        self.capacity = max(1, math.ceil(history_seconds / history_resolution))
        self.stats = SamplerStats()
        self._clock = clock
        self._subs: list[Subscription] = []
        self._prev: dict[str, Counters] = {}
        self._rings: dict[str, SampleRing] = {}
        self._latest: tuple[float, dict[str, ContainerStats]] | None = None
        self._demand = asyncio.Event()
        self._wake = asyncio.Event()

    # -- demand ----------------------------------------------------------------------------

    @property
    def demand(self) -> int:
        """How many subscriptions are open."""
        return len(self._subs)

    @property
    def interval(self) -> float | None:
        """The loop's interval: the shortest any subscriber asked for, None at rest."""
        return min((s.interval for s in self._subs), default=None)

    def subscribe(
        self,
        interval: float = 1.0,
        callback: SampleCallback | None = None,
        *,
        wants: Callable[[str], bool] | None = None,
    ) -> Subscription:
        """Ask for samples every ``interval`` seconds (at least :data:`MIN_INTERVAL`) of the
        containers that ``wants(id)`` accepts (None: all running). Only containers some
        subscriber wants are read (the API source's cost is per container)."""
        sub = Subscription(max(MIN_INTERVAL, interval), callback, wants, self)
        self._subs.append(sub)
        self._demand.set()
        self._wake.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """End a subscription (a no-op when it has ended already)."""
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)
        sub._sampler = None
        if not self._subs:
            self._demand.clear()
        self._wake.set()

    # -- reading ---------------------------------------------------------------------------

    @property
    def latest(self) -> tuple[float, dict[str, ContainerStats]] | None:
        """The last delivered (time, samples), if any."""
        return self._latest

    def history(
        self, container_id: str, since: float | None = None
    ) -> list[tuple[float, ContainerStats]]:
        """A running container's samples of the last ``history_seconds``, oldest first."""
        ring = self._rings.get(container_id)
        return ring.items(since) if ring is not None else []

    async def _read(self, targets: list[Target]) -> dict[str, Counters]:
        started = time.perf_counter()
        try:
            return await self.source.read(targets)
        finally:
            elapsed = time.perf_counter() - started
            self.stats.read_seconds += elapsed
            self.stats.last_read_seconds = elapsed

    async def tick(self, *, deliver: bool = True) -> tuple[float, dict[str, ContainerStats]]:
        """One reading of every target a subscriber wants (all, without subscribers);
        record, deliver (unless priming) and return it."""
        running = list(self.targets())
        targets = [t for t in running if self._wanted(t.id)]
        by_id = {t.id: t for t in targets}
        counters = await self._read(targets)
        now = self._clock()
        samples: dict[str, ContainerStats] = {}
        for cid, cur in counters.items():
            target = by_id.get(cid)
            if target is None:
                continue
            samples[cid] = sample_of(self._prev.get(cid), cur, paused=target.paused)
            self._prev[cid] = cur
        # Containers that stopped (or vanished mid-read) leave the sample and their history.
        for cid in [cid for cid in self._prev if cid not in counters]:
            del self._prev[cid]
        running_ids = {t.id for t in running}
        for cid in [cid for cid in self._rings if cid not in running_ids]:
            del self._rings[cid]
        self.stats.ticks += 1
        self.stats.last_containers = len(samples)
        if deliver:
            self._record(now, samples)
            self._deliver(now, samples, counters, by_id)
        return now, samples

    def _wanted(self, container_id: str) -> bool:
        if not self._subs:
            return True
        return any(sub.wants is None or sub.wants(container_id) for sub in self._subs)

    def _record(self, now: float, samples: dict[str, ContainerStats]) -> None:
        slack = self.history_resolution * 0.1
        for cid, sample in samples.items():
            ring = self._rings.get(cid)
            if ring is None:
                ring = self._rings[cid] = SampleRing(self.capacity)
            last = ring.last_time
            if last is None or now - last >= self.history_resolution - slack:
                ring.append(now, sample)

    def _deliver(
        self,
        now: float,
        samples: dict[str, ContainerStats],
        counters: Mapping[str, Counters],
        targets: Mapping[str, Target],
    ) -> None:
        self._latest = (now, samples)
        loop_interval = self.interval or MIN_INTERVAL
        if self.on_sample is not None:
            self._call(self.on_sample, now, samples)
        for sub in list(self._subs):
            due = sub._last is None or now - sub._last >= sub.interval - loop_interval / 2
            if not due:
                continue
            own = samples
            if sub.wants is not None:
                wants = sub.wants
                own = {cid: s for cid, s in samples.items() if wants(cid)}
            if sub.interval > loop_interval * 1.5 and sub._counters is not None:
                # A slower subscriber: CPU over its own interval, not the loop's last one.
                prev = sub._counters
                own = {
                    cid: replace(s, cpu_percent=sample_of(prev.get(cid), counters[cid]).cpu_percent)
                    if cid in prev and not targets[cid].paused
                    else s
                    for cid, s in own.items()
                }
            sub._last = now
            sub._counters = dict(counters) if sub.interval > loop_interval * 1.5 else None
            if sub.callback is not None:
                self._call(sub.callback, now, own)

    def _call(
        self, callback: SampleCallback, now: float, samples: dict[str, ContainerStats]
    ) -> None:
        try:
            callback(now, samples)
        except Exception:
            self.stats.errors += 1
            log.exception("a stats callback raised")

    async def sample_now(self) -> tuple[float, dict[str, ContainerStats]]:
        """A fresh sample of every running container (REST ``GET /api/v1/stats``): the
        loop's latest when it is running and fresh, else two readings ``MIN_INTERVAL / 2``
        apart (CPU needs two), without touching the loop's own counters."""
        interval, latest = self.interval, self._latest
        fresh = interval is not None and latest is not None
        if fresh and latest is not None and self._clock() - latest[0] <= (interval or 0) * 1.5:
            return latest
        targets = list(self.targets())
        by_id = {t.id: t for t in targets}
        first = await self._read(targets)
        await asyncio.sleep(MIN_INTERVAL / 2)
        second = await self._read(targets)
        now = self._clock()
        return now, {
            cid: sample_of(first.get(cid), cur, paused=by_id[cid].paused)
            for cid, cur in second.items()
            if cid in by_id
        }

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """The sampling loop; runs until cancelled. Reads nothing while no one subscribes."""
        loop = asyncio.get_running_loop()
        while True:
            await self._demand.wait()
            # After a rest, prime the counters; the first delivery is one interval later.
            last_start = loop.time()
            await self._safe_tick(deliver=False)
            while self._subs:
                # Ticks start every interval (a fixed rate), or at once when a reading took
                # longer (the stats API of a 20.10 engine takes ~1 s per call).
                while self._subs:
                    remaining = last_start + (self.interval or MIN_INTERVAL) - loop.time()
                    if remaining <= 0:
                        break
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await self._wake.wait()
                if not self._subs:
                    break
                last_start = loop.time()
                await self._safe_tick(deliver=True)

    async def _safe_tick(self, *, deliver: bool) -> None:
        try:
            await self.tick(deliver=deliver)
        except Exception as err:
            self.stats.errors += 1
            log.warning("a stats reading failed: %s", err)
