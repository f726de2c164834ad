"""The Sampler on a fake source: demand-driven, one loop for every subscriber, started and
stopped containers, paused ones at 0% CPU, the 10-minute rings and what they cost."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tracemalloc
from collections.abc import AsyncIterator, Sequence

import pytest

from dockstate.state import Container, EngineState, Upsert
from dockstate.stats import (
    ContainerStats,
    Counters,
    Sampler,
    SampleRing,
    Target,
    cpu_percent,
    targets_of_state,
)

NS = 1_000_000_000


class FakeSource:
    """Containers burning ``load`` cores each, on a fake clock the test advances."""

    name = "fake"

    def __init__(self) -> None:
        self.load: dict[str, float] = {}
        self.cpu_ns: dict[str, float] = {}
        self.clock_ns = 0
        self.reads = 0

    def advance(self, seconds: float) -> None:
        for cid, load in self.load.items():
            self.cpu_ns[cid] = self.cpu_ns.get(cid, 0) + load * seconds * NS
        self.clock_ns += int(seconds * NS)

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        self.reads += 1
        return {
            t.id: Counters(int(self.cpu_ns.get(t.id, 0)), self.clock_ns, 1000, 2000, 1, 2, 3, 4, 5)
            for t in targets
            if t.id in self.load
        }


class Running:
    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}

    def __call__(self) -> list[Target]:
        return list(self.targets.values())


def test_cpu_percent_is_docker_formula() -> None:
    prev = Counters(1 * NS, 10 * NS, 0, 0, 0, 0, 0, 0, 0)
    cur = Counters(2 * NS, 12 * NS, 0, 0, 0, 0, 0, 0, 0)
    assert cpu_percent(prev, cur) == 50.0  # 1 s of CPU in 2 s of wall time
    # Docker: cpu_delta / system_delta * online_cpus * 100, system_delta = wall * ncpu
    cpu_delta, system_delta, ncpu = 1 * NS, 2 * NS * 4, 4
    assert cpu_percent(prev, cur) == cpu_delta / system_delta * ncpu * 100
    assert cpu_percent(None, cur) == 0.0
    assert cpu_percent(cur, prev) == 0.0  # counters went backwards: a restart


async def test_started_stopped_and_paused() -> None:
    source, running = FakeSource(), Running()
    sampler = Sampler(source, running, clock=lambda: source.clock_ns / NS)
    source.load = {"a": 1.0, "b": 0.5, "p": 1.0}
    running.targets = {"a": Target("a"), "b": Target("b")}
    await sampler.tick()
    source.advance(1)
    _, samples = await sampler.tick()
    assert {cid: s.cpu_percent for cid, s in samples.items()} == {"a": 100.0, "b": 50.0}
    assert samples["a"] == ContainerStats(100.0, 1000, 2000, 1, 2, 3, 4, 5)

    running.targets["p"] = Target("p", paused=True)  # appears in the next sample, 0% CPU
    del running.targets["b"]  # leaves it
    source.advance(1)
    _, samples = await sampler.tick()
    assert set(samples) == {"a", "p"}
    assert samples["p"].cpu_percent == 0.0
    assert sampler.history("b") == []
    assert len(sampler.history("a")) == 3

    del source.load["a"]  # vanished mid-read: no sample
    source.advance(1)
    _, samples = await sampler.tick()
    assert set(samples) == {"p"}


async def test_a_slower_subscriber_gets_cpu_over_its_own_interval() -> None:
    source, running = FakeSource(), Running()
    source.load = {"a": 1.0}
    running.targets = {"a": Target("a")}
    sampler = Sampler(source, running, clock=lambda: source.clock_ns / NS)
    fast: list[float] = []
    slow: list[float] = []
    sampler.subscribe(0.5, lambda t, s: fast.append(s["a"].cpu_percent))
    sampler.subscribe(1.0, lambda t, s: slow.append(s["a"].cpu_percent))
    await sampler.tick(deliver=False)  # priming
    source.advance(0.5)
    await sampler.tick()
    assert fast == [100.0]
    assert slow == [100.0]
    source.load["a"] = 0.0
    for _ in range(2):
        source.advance(0.5)
        await sampler.tick()
    assert fast == [100.0, 0.0, 0.0]
    assert slow == [100.0, 0.0]
    source.load["a"] = 1.0
    source.advance(0.5)
    await sampler.tick()
    source.load["a"] = 0.0
    source.advance(0.5)
    await sampler.tick()
    assert fast[-2:] == [100.0, 0.0]
    assert slow == [100.0, 0.0, 50.0]  # one busy half-second in its last second


@contextlib.asynccontextmanager
async def running_loop(sampler: Sampler) -> AsyncIterator[None]:
    task = asyncio.create_task(sampler.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_no_reads_without_demand_and_one_loop_for_every_subscriber() -> None:
    source, running = FakeSource(), Running()
    source.load = {"a": 1.0}
    running.targets = {"a": Target("a")}
    sampler = Sampler(source, running)
    async with running_loop(sampler):
        await asyncio.sleep(0.6)
        assert source.reads == 0  # zero cost at rest

        fast: list[float] = []
        slow: list[float] = []
        subs = [sampler.subscribe(0.5, lambda t, s: fast.append(t)) for _ in range(50)]
        subs.append(sampler.subscribe(1.0, lambda t, s: slow.append(t)))
        assert sampler.demand == 51
        assert sampler.interval == 0.5
        await asyncio.sleep(2.2)
        # one loop: one read per 0.5 s whatever the number of subscribers (+1 priming read)
        assert 4 <= source.reads <= 6
        assert len(fast) == 50 * (source.reads - 1)
        assert 2 <= len(slow) <= 3  # the 1 s subscriber gets every other tick
        for sub in subs:
            sub.close()
        assert sampler.demand == 0
        reads = source.reads
        await asyncio.sleep(1.2)
        assert source.reads == reads  # at rest again


async def test_first_message_within_one_interval() -> None:
    source, running = FakeSource(), Running()
    source.load = {"a": 0.25}
    running.targets = {"a": Target("a")}
    sampler = Sampler(source, running)
    got: list[dict[str, float]] = []
    async with running_loop(sampler):
        loop = asyncio.get_running_loop()
        start = loop.time()
        sampler.subscribe(1.0, lambda t, s: got.append({k: v.cpu_percent for k, v in s.items()}))
        while not got and loop.time() - start < 2:
            source.advance(0.01)
            await asyncio.sleep(0.01)
        assert loop.time() - start < 1.2
        assert got[0]["a"] == pytest.approx(25.0)  # primed: a real CPU figure at once


async def test_sample_now_without_subscribers() -> None:
    source, running = FakeSource(), Running()
    source.load = {"a": 1.0}
    running.targets = {"a": Target("a")}
    sampler = Sampler(source, running)
    _, samples = await sampler.sample_now()
    assert set(samples) == {"a"}
    assert source.reads == 2


def test_targets_of_state_reads_running_and_paused() -> None:
    state = EngineState()

    def container(cid: str, status: str) -> Container:
        return Container(
            id=cid,
            name=cid,
            image="busybox",
            image_id="sha256:0",
            command="sh",
            created="2026-12-02T00:00:00Z",
            state=status,  # type: ignore[arg-type]
            status=status,
            started_at="2026-12-02T00:00:01Z",
        )

    state.apply([Upsert(container(cid, st)) for cid, st in [("r", "running"), ("p", "paused")]])
    state.apply([Upsert(container("x", "exited"))])
    targets = {t.id: t for t in targets_of_state(state)()}
    assert set(targets) == {"r", "p"}
    assert targets["p"].paused
    assert not targets["r"].paused


def test_ring_keeps_the_last_samples_in_order() -> None:
    ring = SampleRing(3)
    for i in range(5):
        ring.append(float(i), ContainerStats(float(i), i, i, i, i, i, i, i))
    assert [t for t, _ in ring.items()] == [2.0, 3.0, 4.0]
    assert ring.items(since=3.0)[0][1] == ContainerStats(4.0, 4, 4, 4, 4, 4, 4, 4)
    assert len(ring) == 3


def test_ring_memory_per_container() -> None:
    """10 minutes at 1 s: 600 slots of 9 numbers, ~47 kB per container (printed with -s)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    rings = [SampleRing(600) for _ in range(100)]
    sample = ContainerStats(12.5, 10**9, 2 * 10**9, 10**6, 10**6, 10**6, 10**6, 3)
    for ring in rings:
        for t in range(700):
            ring.append(float(t), sample)
    per_container = (tracemalloc.get_traced_memory()[0] - before) / len(rings)
    tracemalloc.stop()
    print(f"ring memory per container (600 samples): {per_container:.0f} bytes")
    assert 43_200 <= per_container < 48_000


class CountingSource(FakeSource):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[set[str]] = []

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        self.asked.append({t.id for t in targets})
        return await super().read(targets)


async def test_only_wanted_containers_are_read_and_delivered() -> None:
    source, running = CountingSource(), Running()
    source.load = {"a": 1.0, "b": 1.0, "c": 1.0}
    running.targets = {cid: Target(cid) for cid in "abc"}
    sampler = Sampler(source, running, clock=lambda: source.clock_ns / NS)
    got_a: list[set[str]] = []
    got_b: list[set[str]] = []
    sub_a = sampler.subscribe(1.0, lambda t, s: got_a.append(set(s)), wants={"a"}.__contains__)
    sampler.subscribe(1.0, lambda t, s: got_b.append(set(s)), wants={"b"}.__contains__)
    await sampler.tick(deliver=False)
    source.advance(1)
    await sampler.tick()
    assert source.asked == [{"a", "b"}, {"a", "b"}]  # "c" is nobody's: never read
    assert (got_a, got_b) == ([{"a"}], [{"b"}])
    sub_a.close()
    source.advance(1)
    await sampler.tick()
    assert source.asked[-1] == {"b"}
    assert got_b[-1] == {"b"}
    sampler.subscribe(1.0, None)  # everything
    source.advance(1)
    await sampler.tick()
    assert source.asked[-1] == {"a", "b", "c"}
