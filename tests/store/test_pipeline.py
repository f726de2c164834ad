"""The commit pipeline (store, then hub): a failure of either stage ends in every client being
told, never in a change that a client misses while its version checks still pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import new_state, volume

from dockstate.hub import Hub, Subscription, compile_filter
from dockstate.pipeline import CommitPipeline
from dockstate.state import EngineState, Upsert
from dockstate.store import Store

Wired = tuple[EngineState, Store, Hub, CommitPipeline]


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[Wired]:
    """A state whose batches go through the pipeline to a real store, then a hub."""
    state, store = new_state(), Store.open(tmp_path / "h.db", host="h")
    store.attach(state)
    hub = Hub(state)
    pipeline = CommitPipeline(
        hub, record=store.changes.record, on_record_failure=store.changes.fail
    )
    state.subscribe(pipeline)
    yield state, store, hub, pipeline
    store.close()


def live(hub: Hub, name: str = "s1", raw: dict[str, Any] | None = None) -> Subscription:
    """A subscription that has had its snapshot, registered on a connection of its own."""
    sub = Subscription(name, "changes", compile_filter(raw))
    sub.snapshot_taken(hub.state.version, hub.state_json(sub.filter)[1])
    hub.register(name, [sub], lambda: None)
    return sub


def delivered(sub: Subscription) -> tuple[int, int, list[str]]:
    taken = sub.take_changes()
    assert taken is not None, "the client was sent nothing"
    return taken


def test_a_store_that_raises_anything_loses_no_change_for_clients(
    wired: Wired, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, store, hub, pipeline = wired
    sub = live(hub)
    state.apply([Upsert(volume("a"))])
    assert delivered(sub)[:2] == (0, state.version)

    def broken(*_: Any) -> None:
        raise ValueError("a bug while writing, not an sqlite3.Error")

    monkeypatch.setattr(store.changes, "_write", broken)
    before = state.version
    state.apply([Upsert(volume("b"))])
    start, end, texts = delivered(sub)
    assert (start, end) == (before, state.version)  # the batch reached the client
    assert any('"id":"b"' in t for t in texts)
    assert pipeline.record_failures == 1
    assert store.changes.failed is not None  # no longer saved...

    state.apply([Upsert(volume("c"))])  # ...and later batches still reach clients
    assert delivered(sub)[1] == state.version
    store.close()

    again, reopened = EngineState(), Store.open(tmp_path / "h.db", host="h")
    assert reopened.attach(again) is False  # versions clients saw are never numbered again
    assert again.epoch != state.epoch
    reopened.close()


def test_a_hub_that_fails_a_batch_makes_every_subscription_resync(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, store, hub, pipeline = wired
    subs = [live(hub, "s1"), live(hub, "s2", {"kinds": ["volume"]})]
    real = hub.publish

    def failing(batch: Any) -> None:
        real(batch)  # reaches the subscriptions...
        raise RuntimeError("...and fails after")  # so which ones got it is unknown

    monkeypatch.setattr(hub, "publish", failing)
    batch = state.apply([Upsert(volume("a"))])
    assert batch is not None
    assert pipeline.publish_failures == 1
    for sub in subs:
        assert sub.needs_snapshot
        assert sub.resync_code == "INTERNAL_ERROR"
        assert sub.take_changes() is None  # nothing goes out before the snapshot
    assert store.changes.count() == len(batch.changes)  # the store stage was not affected


def test_one_subscription_that_fails_a_batch_resyncs_alone(wired: Wired) -> None:
    state, _, hub, _ = wired
    good, bad = live(hub, "good"), live(hub, "bad", {"names": ["a"]})
    assert bad.filter is not None

    class Exploding:
        def admits_kind(self, kind: str) -> bool:
            raise RuntimeError("a bug in one filter")

    bad.filter = Exploding()  # type: ignore[assignment]
    state.apply([Upsert(volume("a"))])
    assert bad.needs_snapshot
    assert bad.resync_code == "INTERNAL_ERROR"
    assert delivered(good)[1] == state.version
