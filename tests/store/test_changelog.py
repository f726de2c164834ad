"""The durable change log: the state, its epoch and its history survive a restart exactly."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from factories import container, new_state, volume
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import histories

from dockstate.errors import VersionExpired
from dockstate.hub import Hub
from dockstate.pipeline import CommitPipeline
from dockstate.state import Change, ChangeBatch, EngineState, Operation, Remove, Upsert
from dockstate.store import Retention, Store, StoreError

SETTINGS = settings(max_examples=60, deadline=None)


def attach(store: Store, state: EngineState) -> bool:
    """What a server does: the store restores the state, and the commit pipeline records
    every batch in it."""
    restored = store.attach(state)
    state.subscribe(
        CommitPipeline(
            Hub(state), record=store.changes.record, on_record_failure=store.changes.fail
        )
    )
    return restored


def apply(state: EngineState, store: Store, ops: list[Operation]) -> ChangeBatch | None:
    """Commit ``ops``, then prune as the server's retention task does when a log is over."""
    batch = state.apply(ops)
    if store.over_limit:
        store.prune()
    return batch


def test_a_restart_restores_the_epoch_the_version_and_every_object(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    state, store = new_state(), Store.open(path, host="unix:///a")
    assert attach(store, state) is False  # a first run starts a new history
    state.apply([Upsert(container("c1", name="web")), Upsert(volume("data"))])
    state.apply([Upsert(container("c1", name="web", state="exited"))])
    store.close()

    again, store = new_state(), Store.open(path, host="unix:///a")
    assert attach(store, again) is True
    assert (again.epoch, again.version) == (state.epoch, state.version)
    assert again.snapshot() == state.snapshot()
    # Derived fields and indexes work on the restored objects: removing the container frees
    # the volume it used.
    again.apply([Remove("container", "c1")])
    assert again.volumes["data"].used_by == []
    store.close()


def test_another_engine_starts_a_new_epoch(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    state, store = EngineState(), Store.open(path, host="unix:///a")
    attach(store, state)
    state.apply([Upsert(volume("data"))])
    store.close()

    other, store = EngineState(), Store.open(path, host="tcp://elsewhere:2375")
    assert attach(store, other) is False
    assert other.epoch != state.epoch
    assert other.version == 0
    assert not other.volumes
    store.close()


def test_the_file_is_ours_alone_while_open(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    store = Store.open(path, host="h")
    with pytest.raises(StoreError, match="in use by another dockstate"):
        Store.open(path, host="h")
    store.close()
    Store.open(path, host="h").close()  # released on close
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_failed_write_makes_the_next_run_start_a_new_epoch(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    state, store = EngineState(), Store.open(path, host="h")
    attach(store, state)
    state.apply([Upsert(volume("a"))])
    # Another process fills the disk, or corrupts the table: a write fails.
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE current")
    state.apply([Upsert(volume("b"))])  # committed in memory; the listener does not raise
    assert store.changes.failed is not None
    with pytest.raises(VersionExpired):
        store.changes.since(0, state.version)
    store.close()

    again, store = EngineState(), Store.open(path, host="h")
    assert attach(store, again) is False  # version 2 was never saved: never reuse it
    assert again.epoch != state.epoch
    store.close()


def _changes_after(batches: list[list[Change]], version: int) -> list[Change]:
    return [c for batch in batches for c in batch if c.v > version]


@SETTINGS
@given(
    before=histories,
    after=histories,
    in_memory=st.sampled_from([1, 5, 10_000]),
    retained=st.sampled_from([4, 25, 100_000]),
)
def test_resuming_across_a_restart_replays_exactly_what_was_committed(
    before: list[list[Operation]],
    after: list[list[Operation]],
    in_memory: int,
    retained: int,
) -> None:
    """Every version in the window replays the very changes committed after it, ``prev``
    included, whether they come from memory or from disk, before or after the restart."""
    retention = Retention(changes=retained)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        state = new_state(history_limit=in_memory)
        store = Store.open(path, host="h", retention=retention)
        attach(store, state)
        committed: list[list[Change]] = []
        versions = [0]
        for ops in before:
            if (batch := apply(state, store, ops)) is not None:
                committed.append(list(batch.changes))
                versions.append(batch.to_version)
        before_restart = state.snapshot()
        store.close()

        state = new_state(history_limit=in_memory)
        store = Store.open(path, host="h", retention=retention)
        assert attach(store, state)
        # Derived fields stored as patches, and pruned ones, come back exact (rev included).
        assert state.snapshot() == {**before_restart, "last_updated": state.last_updated}
        for ops in after:
            if (batch := apply(state, store, ops)) is not None:
                committed.append(list(batch.changes))
                versions.append(batch.to_version)

        assert state.oldest in versions  # whole batches only
        largest = max((len(batch) for batch in committed), default=0)
        assert store.changes.count() <= retained * 1.1 + largest
        for version in versions:
            if version < state.oldest:
                with pytest.raises(VersionExpired):
                    state.changes_since(version)
            else:
                assert state.changes_since(version) == _changes_after(committed, version)
        store.close()
