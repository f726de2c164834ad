"""The watcher's round scheduler on its own, with fake rounds (no Docker): numbering,
commit-if-newest, the slot limit, settle, cancel, and a failed round ending the session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from dockstate.engine._rounds import Rounds
from dockstate.state import Cause, ChangeBatch, EngineState, Operation, Upsert, Volume

CAUSE = Cause("volume", "test")


def volume(name: str, driver: str) -> Volume:
    return Volume(name=name, driver=driver, mountpoint=f"/v/{name}")


class Harness:
    """A state to commit into, the errors handed to the session, and fake rounds that end
    when the test says so."""

    def __init__(self, max_event_rounds: int = 2) -> None:
        self.state = EngineState()
        self.errors: list[BaseException] = []
        self.committed: list[list[Operation]] = []
        self.rounds = Rounds(self.commit, self.errors.append, max_event_rounds=max_event_rounds)

    def commit(self, ops: list[Operation]) -> ChangeBatch | None:
        self.committed.append(ops)
        return self.state.apply(ops)


async def test_rounds_are_numbered_as_they_start() -> None:
    h = Harness()
    seen: list[int] = []

    async def work(number: int) -> None:
        seen.append(number)

    assert h.rounds.begin() == 1
    assert h.rounds.start(work) == 2
    assert h.rounds.start(work, event=False) == 3
    assert h.rounds.begin() == 4
    await h.rounds.settle()
    assert sorted(seen) == [2, 3]
    assert h.rounds.in_flight == 0


async def test_first_operations_commit_before_the_round_runs() -> None:
    h = Harness()
    order: list[str] = []

    async def work(number: int) -> None:
        order.append(f"work {number}, state has {sorted(h.state.volumes)}")

    h.rounds.start(work, first=[Upsert(volume("v", "local"), CAUSE)])
    assert "v" in h.state.volumes  # at once, before the task ran
    await h.rounds.settle()
    assert order == ["work 1, state has ['v']"]


async def test_an_older_round_never_overwrites_what_a_newer_one_committed() -> None:
    h = Harness()
    old_gate, new_gate = asyncio.Event(), asyncio.Event()

    async def old(number: int) -> None:
        await old_gate.wait()
        h.rounds.commit(
            [Upsert(volume("v", "old"), CAUSE), Upsert(volume("w", "old"), CAUSE)], number
        )

    async def new(number: int) -> None:
        await new_gate.wait()
        h.rounds.commit([Upsert(volume("v", "new"), CAUSE)], number)

    h.rounds.start(old)
    h.rounds.start(new)
    new_gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert h.state.volumes["v"].driver == "new"
    old_gate.set()
    await h.rounds.settle()
    assert h.state.volumes["v"].driver == "new"  # the older read of v was dropped
    assert h.state.volumes["w"].driver == "old"  # w: no newer round committed it


async def test_a_newer_round_overwrites_an_older_one() -> None:
    h = Harness()
    gate = asyncio.Event()

    async def old(number: int) -> None:
        h.rounds.commit([Upsert(volume("v", "old"), CAUSE)], number)
        await gate.wait()

    async def new(number: int) -> None:
        h.rounds.commit([Upsert(volume("v", "new"), CAUSE)], number)

    h.rounds.start(old)
    await asyncio.sleep(0)
    h.rounds.start(new)
    gate.set()
    await h.rounds.settle()
    assert h.state.volumes["v"].driver == "new"


async def test_once_no_round_is_in_flight_any_later_round_commits() -> None:
    h = Harness()

    async def work(number: int) -> None:
        h.rounds.commit([Upsert(volume("v", f"round {number}"), CAUSE)], number)

    h.rounds.start(work)
    await h.rounds.settle()
    later = h.rounds.begin()
    h.rounds.commit([Upsert(volume("v", "inline"), CAUSE)], later)
    assert h.state.volumes["v"].driver == "inline"


async def test_at_most_max_event_rounds_in_flight() -> None:
    h = Harness(max_event_rounds=2)
    gates = [asyncio.Event() for _ in range(3)]

    def waiting(gate: asyncio.Event) -> Callable[[int], Awaitable[None]]:
        async def work(number: int) -> None:
            await gate.wait()

        return work

    h.rounds.start(waiting(gates[0]))
    h.rounds.start(waiting(gates[1]))
    h.rounds.start(waiting(gates[2]), event=False)  # a load's details
    assert (h.rounds.event_rounds, h.rounds.in_flight) == (2, 3)
    slot = asyncio.create_task(h.rounds.wait_for_slot())
    await asyncio.sleep(0.01)
    assert not slot.done()  # two event rounds in flight: no slot
    gates[2].set()  # a detail round ending frees no event slot
    await asyncio.sleep(0.01)
    assert not slot.done()
    gates[1].set()
    async with asyncio.timeout(1):
        await slot
    assert h.rounds.event_rounds == 1
    gates[0].set()
    await h.rounds.settle()


async def test_a_free_slot_does_not_wait() -> None:
    h = Harness(max_event_rounds=1)
    async with asyncio.timeout(1):
        await h.rounds.wait_for_slot()


async def test_settle_waits_for_every_round() -> None:
    h = Harness()
    done: list[int] = []

    async def work(number: int) -> None:
        await asyncio.sleep(0.01 * number)
        done.append(number)

    for _ in range(3):
        h.rounds.start(work, event=False)
    await h.rounds.settle()
    assert sorted(done) == [1, 2, 3]
    assert h.rounds.in_flight == 0


async def test_cancel_ends_every_round_and_reports_no_error() -> None:
    h = Harness()
    cancelled: list[int] = []

    async def work(number: int) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(number)
            raise

    h.rounds.start(work)
    h.rounds.start(work, event=False)
    await asyncio.sleep(0)
    await h.rounds.cancel()
    assert sorted(cancelled) == [1, 2]
    assert (h.rounds.in_flight, h.rounds.event_rounds) == (0, 0)
    assert h.errors == []
    async with asyncio.timeout(1):
        await h.rounds.wait_for_slot()  # the slots are free again


async def test_a_failed_round_is_handed_to_the_session() -> None:
    h = Harness()

    async def fails(number: int) -> None:
        raise RuntimeError(f"round {number} broke")

    async def fine(number: int) -> None:
        h.rounds.commit([Upsert(volume("v", "local"), CAUSE)], number)

    h.rounds.start(fine)
    h.rounds.start(fails)
    await h.rounds.settle()  # settle itself does not raise
    await asyncio.sleep(0)  # done callbacks run
    assert [str(e) for e in h.errors] == ["round 2 broke"]
    assert "v" in h.state.volumes  # the other round was not disturbed


@pytest.mark.parametrize("event", [True, False])
async def test_a_round_is_counted_until_it_ends(event: bool) -> None:
    h = Harness()
    gate = asyncio.Event()

    async def work(number: int) -> None:
        await gate.wait()

    h.rounds.start(work, event=event)
    assert h.rounds.event_rounds == (1 if event else 0)
    gate.set()
    await h.rounds.settle()
    await asyncio.sleep(0)
    assert (h.rounds.in_flight, h.rounds.event_rounds) == (0, 0)
