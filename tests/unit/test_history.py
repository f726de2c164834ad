"""changes_since and the bounded history: what a client resuming at a version gets."""

from __future__ import annotations

import pytest
from factories import container, image, new_state, volume

from dockstate.errors import DockstateError, VersionError, VersionExpired, VersionTooNew
from dockstate.state import Change, ChangeBatch, EngineState, History, Operation, Remove, Upsert

# Batches of 1 to 5 operations, each also committing a system_stats change.
SCRIPT: list[list[Operation]] = [
    [Upsert(container("c1"))],
    [Upsert(container("c2")), Upsert(container("c3")), Upsert(image("i1"))],
    [Upsert(container("c1", image="i1"))],
    [Upsert(volume("v1")), Upsert(volume("v2")), Remove("container", "c3")],
    [Upsert(container("c2", state="exited", volumes=["v1"]))],
    [Remove("container", "c1"), Remove("container", "c2"), Remove("image", "i1")],
    [Upsert(container(f"c{n}")) for n in range(4, 9)],
    [Remove("volume", "v2")],
]


def run(state: EngineState, script: list[list[Operation]] = SCRIPT) -> list[ChangeBatch]:
    batches = []
    for ops in script:
        batch = state.apply(ops)
        assert batch is not None
        batches.append(batch)
    return batches


def changes_after(batches: list[ChangeBatch], version: int) -> list[Change]:
    return [c for b in batches for c in b.changes if c.v > version]


def test_changes_since_every_version_returns_exactly_the_later_changes() -> None:
    state = new_state()
    batches = run(state)
    assert state.oldest == 0

    for v in range(state.oldest, state.version + 1):
        assert state.changes_since(v) == changes_after(batches, v), v
    assert state.changes_since(state.version) == []


def test_changes_since_in_a_bounded_window() -> None:
    state = new_state(history_limit=8)
    batches = run(state)
    assert state.oldest > 0

    for v in range(state.oldest, state.version + 1):
        assert state.changes_since(v) == changes_after(batches, v), v


def test_an_empty_state_replays_nothing() -> None:
    state = new_state()

    assert state.oldest == 0
    assert state.changes_since(0) == []
    with pytest.raises(VersionTooNew):
        state.changes_since(1)
    with pytest.raises(VersionExpired):
        state.changes_since(-1)


def test_a_version_older_than_the_window_is_expired() -> None:
    state = new_state(history_limit=8)
    run(state)
    oldest, current = state.oldest, state.version

    for requested in (oldest - 1, 0):
        with pytest.raises(VersionExpired) as raised:
            state.changes_since(requested)
        err = raised.value
        assert isinstance(err, VersionError)
        assert isinstance(err, DockstateError)
        assert (err.requested, err.oldest, err.current) == (requested, oldest, current)
        message = str(err)
        assert f"version {requested} is too old" in message
        assert str(oldest) in message
        assert str(current) in message
        assert "\n" not in message


def test_a_version_newer_than_the_current_one_is_too_new() -> None:
    state = new_state(history_limit=8)
    run(state)
    oldest, current = state.oldest, state.version

    for requested in (current + 1, current + 1000):
        with pytest.raises(VersionTooNew) as raised:
            state.changes_since(requested)
        err = raised.value
        assert isinstance(err, VersionError)
        assert (err.requested, err.oldest, err.current) == (requested, oldest, current)
        assert str(err) == f"version {requested} is newer than the current version {current}"


def test_the_state_history_starts_on_batch_boundaries_and_stays_bounded() -> None:
    limit = 6
    state = new_state(history_limit=limit)
    batches: list[ChangeBatch] = []

    for ops in SCRIPT:
        batch = state.apply(ops)
        assert batch is not None
        batches.append(batch)
        kept = [b for b in batches if b.from_version >= state.oldest]
        assert state.oldest in {b.from_version for b in batches}
        held = state.changes_since(state.oldest)
        assert held == [c for b in kept for c in b.changes]
        assert len(held) <= limit or len(kept) == 1
        # Nothing was dropped that fits: one more batch would break the limit.
        older = [b for b in batches if b.from_version < state.oldest]
        if older:
            assert len(held) + len(older[-1].changes) > limit


def synthetic(from_version: int, size: int) -> ChangeBatch:
    return ChangeBatch(
        from_version=from_version,
        to_version=from_version + size,
        timestamp="2026-01-01T00:00:00.000000Z",
        changes=tuple(
            Change(v, "container", "removed", f"c{v}")
            for v in range(from_version + 1, from_version + size + 1)
        ),
    )


def test_history_drops_whole_batches_from_the_old_end() -> None:
    history = History(limit=5)
    oldest: list[int] = []
    held: list[int] = []
    version = 0

    for size in (2, 2, 2, 3, 1, 4):
        history.append(synthetic(version, size))
        version += size
        oldest.append(history.oldest)
        held.append(len(history))
        assert [c.v for c in history.since(history.oldest, version)] == list(
            range(history.oldest + 1, version + 1)
        )

    assert oldest == [0, 0, 2, 4, 6, 9]
    assert held == [2, 4, 4, 5, 4, 5]


def test_history_keeps_a_single_oversize_batch_until_the_next_one() -> None:
    history = History(limit=3)
    history.append(synthetic(0, 2))

    history.append(synthetic(2, 5))
    assert (history.oldest, len(history)) == (2, 5)
    assert [c.v for c in history.since(2, 7)] == [3, 4, 5, 6, 7]
    with pytest.raises(VersionExpired):
        history.since(1, 7)

    history.append(synthetic(7, 1))
    assert (history.oldest, len(history)) == (7, 1)


def test_history_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        History(limit=0)
