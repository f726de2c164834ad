"""A stats subscription holds one slot: a client that does not keep up gets the latest
sample when it is ready, never a backlog (protocol.md §9)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from factories import container, new_state

from dockstate.hub import compile_filter
from dockstate.server._stats import StatsSubscription
from dockstate.state import Upsert
from dockstate.stats import ContainerStats, Sampler, Target


class NoSource:
    async def read(self, targets: Iterable[Target]) -> dict[str, object]:
        raise AssertionError("nothing is read in these tests")


def usage(cpu: float) -> ContainerStats:
    return ContainerStats(cpu, 1 << 20, 1 << 30, 0, 0, 0, 0, 1)


def test_the_latest_sample_wins_and_a_slow_client_costs_one_message() -> None:
    state = new_state()
    state.apply([Upsert(container("c1", name="web", state="running"))])
    sampler = Sampler(NoSource(), lambda: [])  # type: ignore[arg-type]
    woken: list[int] = []
    sub = StatsSubscription(
        "t1", None, 1.0, engine="local", state=state, sampler=sampler, wake=lambda: woken.append(1)
    )
    assert sampler.demand == 1
    for n, cpu in enumerate([10.0, 20.0, 30.0]):
        sub._on_sample(1_800_000_000.0 + n, {"c1": usage(cpu)})
    assert len(woken) == 3
    assert sub.replaced == 2  # the client was not ready for the first two
    message = json.loads(sub.take() or "")
    assert message["containers"]["c1"]["cpu_percent"] == 30.0
    assert message["time"] == "2027-01-15T08:00:02.000000Z"
    assert sub.take() is None  # nothing queued behind it
    sub.close()
    assert sampler.demand == 0


def test_the_filter_picks_containers_by_what_the_state_says() -> None:
    state = new_state()
    state.apply(
        [
            Upsert(container("c1", name="web", state="running", labels={"app": "shop"})),
            Upsert(container("c2", name="db", state="running")),
        ]
    )
    sampler = Sampler(NoSource(), lambda: [])  # type: ignore[arg-type]
    sub = StatsSubscription(
        "t1",
        compile_filter({"labels": {"app": "shop"}}),
        1.0,
        engine="local",
        state=state,
        sampler=sampler,
        wake=lambda: None,
    )
    sub._on_sample(1_800_000_000.0, {"c1": usage(1.0), "c2": usage(2.0)})
    assert list(json.loads(sub.take() or "")["containers"]) == ["c1"]
