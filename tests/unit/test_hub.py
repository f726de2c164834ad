"""The hub, without a server: what a subscribed client receives is what it should hold.

A :class:`Client` here does what server/_ws.py does for one ``changes`` subscription (a
snapshot from :meth:`Hub.state_json`, then the messages :meth:`Subscription.take_changes`
yields), and what a real client does with them: parse the JSON text and apply each change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from factories import container, engine_info, image, network, new_state, volume, wired_hub
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import (
    CONTAINER_IDS,
    IMAGE_IDS,
    NETWORK_NAMES,
    VOLUME_NAMES,
    histories,
    labels,
)
from test_state import committed

from dockstate import wire as wire_module
from dockstate.errors import VersionExpired, VersionTooNew
from dockstate.hub import (
    CompiledFilter,
    Hub,
    Subscription,
    compile_filter,
)
from dockstate.pipeline import CommitPipeline
from dockstate.state import (
    MAP_OF_KIND,
    Kind,
    Operation,
    Remove,
    Upsert,
    apply_change,
)
from dockstate.wire import EncodedChange, ObjectCache, change_json

SETTINGS = settings(max_examples=100, deadline=None)
KINDS: list[Kind] = ["container", "image", "volume", "network", "engine"]

# -- helpers -------------------------------------------------------------------------------


def without_meta(state: dict[str, Any]) -> dict[str, Any]:
    """A protocol EngineState without ``version`` and ``last_updated``."""
    return {k: v for k, v in state.items() if k not in ("version", "last_updated")}


def filtered(hub: Hub, flt: CompiledFilter | None) -> dict[str, Any]:
    """The filtered state as the hub puts it in a snapshot, parsed."""
    out: dict[str, Any] = json.loads(hub.state_json(flt)[0])
    return out


def texts_of(sub: Subscription) -> list[str]:
    """The change texts of the message ``sub`` owes (there must be one)."""
    taken = sub.take_changes()
    assert taken is not None
    return taken[2]


def visible_keys(hub: Hub, raw: dict[str, Any] | None) -> set[tuple[str, str]]:
    return hub.state_json(compile_filter(raw))[1]


@dataclass
class Client:
    """One ``changes`` subscription and the state its client holds."""

    hub: Hub
    sub: Subscription
    state: dict[str, Any]
    version: int  # the snapshot's `version`, then the last message's `to`
    messages: int = 0
    resyncs: int = 0

    @classmethod
    def subscribe(
        cls, hub: Hub, flt: CompiledFilter | None, subs: list[Subscription], name: str = "s1"
    ) -> Client:
        """Subscribe without ``since``: a snapshot now, changes after it."""
        sub = Subscription(name, "changes", flt)
        client = cls(hub, sub, {}, 0)
        client.snapshot()
        subs.append(sub)
        return client

    def snapshot(self) -> None:
        """What server/_ws.py does for a subscription that needs a snapshot."""
        sub, state = self.sub, self.hub.state
        text, visible = self.hub.state_json(sub.filter)
        sub.snapshot_taken(state.version, visible)
        self.state = json.loads(text)
        assert self.state["version"] == state.version
        self.version = state.version

    def drain(self) -> list[dict[str, Any]]:
        """Take what the subscription owes, check the message's versions and apply it."""
        if self.sub.needs_snapshot:
            assert self.sub.resync_code == "SLOW_CONSUMER"
            self.resyncs += 1
            self.snapshot()
        taken = self.sub.take_changes()
        if taken is None:
            return []
        start, end, texts = taken
        assert texts, "a changes message carries at least one change"
        assert start == self.version, "messages chain: `from` is the previous `to`"
        assert end == self.hub.state.version, "a message covers every batch committed so far"
        assert start < end
        changes = [json.loads(text) for text in texts]
        for change in changes:
            assert start < change["v"] <= end
            apply_change(self.state, change)
        keys = [(c["kind"], c["id"]) for c in changes]
        assert len(keys) == len(set(keys)), "one change per object per message"
        self.version = end
        self.messages += 1
        return changes

    def assert_in_sync(self) -> None:
        assert without_meta(self.state) == without_meta(filtered(self.hub, self.sub.filter))


# -- strategies ----------------------------------------------------------------------------

NAMES = ["web", "db", "cache", "app:1", "app:2", "db:1", *VOLUME_NAMES, *NETWORK_NAMES.values()]
IDS = [*CONTAINER_IDS, *IMAGE_IDS, *VOLUME_NAMES, *NETWORK_NAMES, "engine_info", "system_stats"]

kinds_st = st.lists(st.sampled_from(KINDS), unique=True, min_size=1)
ids_st = st.lists(st.sampled_from(IDS), unique=True, min_size=1, max_size=8)
names_st = st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=4)
# Mostly one field, so that objects often enter and leave the filter; sometimes several.
raw_filters: st.SearchStrategy[dict[str, Any] | None] = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries({"kinds": kinds_st}),
    st.fixed_dictionaries({"ids": ids_st}),
    st.fixed_dictionaries({"names": names_st}),
    st.fixed_dictionaries({"labels": labels}),
    st.fixed_dictionaries(
        {}, optional={"kinds": kinds_st, "ids": ids_st, "names": names_st, "labels": labels}
    ),
)


def compiled(raw: dict[str, Any] | None) -> CompiledFilter | None:
    flt = compile_filter(raw)
    assert (flt is None) == (raw is None)
    return flt


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "container",
        42,
        {"kind": ["container"]},
        {"kinds": ["container"], "extra": 1},
        {"kinds": ["container", "pod"]},
        {"kinds": ["Container"]},
        {"kinds": "container"},
        {"ids": [1]},
        {"ids": "c1"},
        {"names": ["web", None]},
        {"names": {"web": True}},
        {"labels": ["a=x"]},
        {"labels": {"a": 1}},
        {"labels": {"a": ["x"]}},
        {"labels": {1: "x"}},
        {"labels": "a=x"},
    ],
)
def test_malformed_filters_are_rejected(raw: Any) -> None:
    with pytest.raises(ValueError, match="filter"):
        compile_filter(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ({}, CompiledFilter()),
        ({"kinds": KINDS}, CompiledFilter(kinds=frozenset(KINDS))),
        (
            {
                "kinds": ["container", "volume"],
                "ids": ["c1"],
                "names": ["web", "db"],
                "labels": {"b": "y", "a": "x"},
            },
            CompiledFilter(
                kinds=frozenset({"container", "volume"}),
                ids=frozenset({"c1"}),
                names=frozenset({"web", "db"}),
                labels=(("a", "x"), ("b", "y")),
            ),
        ),
    ],
)
def test_valid_filters_compile(raw: dict[str, Any] | None, expected: CompiledFilter | None) -> None:
    assert compile_filter(raw) == expected


@pytest.fixture
def populated() -> Hub:
    """A state with two of every kind, named and labelled to tell the filters apart."""
    state = new_state()
    state.apply(
        [
            Upsert(container("c1", name="web", labels={"a": "x"})),
            Upsert(container("c2", name="db", labels={"a": "y", "b": "y"})),
            Upsert(image("i1", tags=["app:1", "app:latest"], labels={"a": "x"})),
            Upsert(image("i2", tags=[])),
            Upsert(volume("v1", labels={"b": "y"})),
            Upsert(volume("web")),
            Upsert(network("n1", name="net1", labels={"a": "x"})),
            Upsert(network("n2", name="db")),
            Upsert(engine_info(name="web")),
        ]
    )
    return wired_hub(state)


ENGINE = {("engine", "engine_info"), ("engine", "system_stats")}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"kinds": ["container", "volume"]},
            {("container", "c1"), ("container", "c2"), ("volume", "v1"), ("volume", "web")},
        ),
        ({"kinds": ["engine"]}, ENGINE),
        (
            {"ids": ["c1", "v1", "n9", "system_stats"]},
            {("container", "c1"), ("volume", "v1"), ("engine", "system_stats")},
        ),
        # Names: container, volume and network names, image tags; never the engine (whose
        # engine_info.name is "web").
        (
            {"names": ["web", "app:1"]},
            {("container", "c1"), ("volume", "web"), ("image", "i1")},
        ),
        ({"names": ["db", "net1"]}, {("container", "c2"), ("network", "n2"), ("network", "n1")}),
        # Labels: any one given pair; the engine has none.
        (
            {"labels": {"a": "x"}},
            {("container", "c1"), ("image", "i1"), ("network", "n1")},
        ),
        (
            {"labels": {"a": "x", "b": "y"}},
            {
                ("container", "c1"),
                ("container", "c2"),
                ("image", "i1"),
                ("volume", "v1"),
                ("network", "n1"),
            },
        ),
        ({"labels": {"a": "z"}}, set()),
        # Fields AND-ed.
        ({"kinds": ["container"], "labels": {"a": "x"}}, {("container", "c1")}),
        ({"names": ["web"], "labels": {"b": "y"}}, set()),
        ({"names": ["web", "db"], "labels": {"b": "y"}}, {("container", "c2")}),
        ({"ids": ["c1", "c2"], "names": ["db"]}, {("container", "c2")}),
        ({"kinds": ["image"], "ids": ["c1"]}, set()),
        ({"kinds": ["engine"], "names": ["web"]}, set()),
        ({"kinds": ["engine"], "ids": ["engine_info"]}, {("engine", "engine_info")}),
    ],
)
def test_filter_semantics(
    populated: Hub, raw: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert visible_keys(populated, raw) == expected
    # The snapshot holds exactly those objects, as the state holds them.
    snap = filtered(populated, compile_filter(raw))
    full = populated.state.snapshot()
    assert snap["version"] == full["version"]
    for kind, field in MAP_OF_KIND.items():
        assert snap[field] == {
            key: obj for key, obj in full[field].items() if (kind, key) in expected
        }
    for key in ("engine_info", "system_stats"):
        assert snap.get(key) == (full[key] if ("engine", key) in expected else None)


def test_no_filter_and_the_empty_filter_see_everything(populated: Hub) -> None:
    everything = visible_keys(populated, None)
    assert len(everything) == 10
    assert visible_keys(populated, {}) == everything
    assert without_meta(filtered(populated, None)) == without_meta(populated.state.snapshot())


# -- the heart: a client that applies what it drains holds the filtered state ---------------


@SETTINGS
@given(
    history=histories,
    raw=raw_filters,
    data=st.data(),
    max_pending=st.sampled_from([3, 10_000]),
)
def test_a_draining_client_converges_to_the_filtered_state(
    history: list[list[Operation]],
    raw: dict[str, Any] | None,
    data: st.DataObject,
    max_pending: int,
) -> None:
    state = new_state()
    hub = wired_hub(state, max_pending=max_pending)
    flt = compiled(raw)
    start = data.draw(st.integers(0, len(history)), label="subscribe after batch")
    drains = data.draw(
        st.lists(st.booleans(), min_size=len(history), max_size=len(history)), label="drains"
    )
    for ops in history[:start]:
        state.apply(ops)
    subs: list[Subscription] = []
    hub.register("conn", subs, lambda: None)
    client = Client.subscribe(hub, flt, subs)
    client.assert_in_sync()

    for ops, drain in zip(history[start:], drains[start:], strict=True):
        state.apply(ops)
        if max_pending >= 10_000:
            assert not client.sub.needs_snapshot
        if drain:
            client.drain()
            client.assert_in_sync()
    client.drain()

    assert not client.sub.pending
    client.assert_in_sync()
    assert client.sub.take_changes() is None
    if max_pending >= 10_000:
        assert client.resyncs == 0


@SETTINGS
@given(
    history=histories,
    later=histories.map(lambda batches: batches[:5]),
    raw=raw_filters,
    limit=st.sampled_from([4, 12, 10_000]),
)
def test_resuming_from_any_version_in_the_window_converges(
    history: list[list[Operation]],
    later: list[list[Operation]],
    raw: dict[str, Any] | None,
    limit: int,
) -> None:
    state = new_state(history_limit=limit)
    hub = wired_hub(state)
    flt = compiled(raw)
    held = {0: hub.state_json(flt)[0]}  # the filtered state at each version
    for ops in history:
        state.apply(ops)
        held[state.version] = hub.state_json(flt)[0]

    subs: list[Subscription] = []
    hub.register("conn", subs, lambda: None)
    clients: list[Client] = []
    for version, text in held.items():
        sub = Subscription(f"s{version}", "changes", flt)
        if version < state.oldest:
            with pytest.raises(VersionExpired):
                hub.resume(sub, version, state.changes_since(version))
            continue
        hub.resume(sub, version, state.changes_since(version))
        assert not sub.needs_snapshot
        assert sub.resync_code is None
        client = Client(hub, sub, json.loads(text), version)
        assert client.state["version"] == version
        client.drain()
        client.assert_in_sync()
        if version == state.version:
            assert client.messages == 0
        subs.append(sub)
        clients.append(client)
    assert clients, "the current version is always resumable"

    # Resumed subscriptions then go live: what they believe visible must be right.
    for ops in later:
        state.apply(ops)
        for client in clients:
            client.drain()
            client.assert_in_sync()


def test_resuming_from_the_future_fails_and_leaves_the_subscription_alone() -> None:
    state = new_state()
    hub = wired_hub(state)
    state.apply([Upsert(volume("v1"))])
    sub = Subscription("s1", "changes", None)
    with pytest.raises(VersionTooNew):
        hub.resume(sub, state.version + 1, state.changes_since(state.version + 1))
    assert sub.needs_snapshot


def test_resume_sends_the_missed_changes_only() -> None:
    state = new_state()
    hub = wired_hub(state)
    state.apply([Upsert(volume("v1")), Upsert(volume("v2"))])
    since = state.version
    held = json.loads(hub.state_json(compile_filter({"kinds": ["volume"]}))[0])
    state.apply([Upsert(volume("v2", driver="nfs"))])
    state.apply([Remove("volume", "v1")])
    sub = Subscription("s1", "changes", compile_filter({"kinds": ["volume"]}))
    hub.resume(sub, since, state.changes_since(since))
    client = Client(hub, sub, held, since)

    changes = client.drain()

    assert [(c["op"], c["id"]) for c in changes] == [("updated", "v2"), ("removed", "v1")]
    client.assert_in_sync()


# -- coalescing ----------------------------------------------------------------------------


@pytest.fixture
def hub() -> Hub:
    return wired_hub(new_state())


def watch(hub: Hub, raw: dict[str, Any] | None) -> Client:
    subs: list[Subscription] = []
    hub.register(object(), subs, lambda: None)
    return Client.subscribe(hub, compile_filter(raw), subs)


def test_many_updates_between_drains_arrive_as_one_update_with_the_object(hub: Hub) -> None:
    state = hub.state
    state.apply([Upsert(container("c1"))])
    client = watch(hub, {"kinds": ["container"]})
    for n in range(1, 6):
        state.apply([Upsert(container("c1", restart_count=n))])

    [change] = client.drain()

    assert change["op"] == "updated"
    assert change["v"] == state.version
    assert "patch" not in change
    assert change["object"] == state.snapshot()["containers"]["c1"]
    client.assert_in_sync()


def test_one_update_between_drains_arrives_verbatim(hub: Hub) -> None:
    state = hub.state
    state.apply([Upsert(container("c1"))])
    client = watch(hub, {"kinds": ["container"]})
    batch = committed(state, [Upsert(container("c1", state="exited", exit_code=0))])

    [change] = client.drain()

    [committed_change] = [c for c in batch.changes if c.kind == "container"]
    assert change == change_json(committed_change)
    assert change["patch"]
    client.assert_in_sync()


def test_create_then_remove_between_drains_sends_nothing(hub: Hub) -> None:
    state = hub.state
    client = watch(hub, {"kinds": ["volume"]})
    state.apply([Upsert(volume("v1"))])
    state.apply([Upsert(volume("v1", driver="nfs"))])
    state.apply([Remove("volume", "v1")])

    assert client.sub.take_changes() is None
    assert not client.sub.pending

    # The skipped versions are covered by the next message's `from`.
    state.apply([Upsert(volume("v2"))])
    [change] = client.drain()
    assert change["op"] == "created"
    assert client.messages == 1
    client.assert_in_sync()


def test_remove_then_recreate_between_drains_sends_one_applicable_change(hub: Hub) -> None:
    state = hub.state
    state.apply([Upsert(volume("v1", labels={"a": "x"}))])
    client = watch(hub, {"kinds": ["volume"]})
    state.apply([Remove("volume", "v1")])
    state.apply([Upsert(volume("v1", driver="nfs"))])

    [change] = client.drain()

    assert change["id"] == "v1"
    assert change["op"] in ("created", "updated")
    assert change["object"] == state.snapshot()["volumes"]["v1"]
    client.assert_in_sync()


def test_objects_entering_and_leaving_a_filter(hub: Hub) -> None:
    state = hub.state
    state.apply([Upsert(container("c1", name="web")), Upsert(container("c2", name="db"))])
    client = watch(hub, {"names": ["web"]})
    assert set(client.state["containers"]) == {"c1"}

    # c2 enters: created with its object; c1 leaves: removed.
    state.apply([Upsert(container("c2", name="web")), Upsert(container("c1", name="old"))])
    changes = client.drain()
    assert {(c["op"], c["id"]) for c in changes} == {("created", "c2"), ("removed", "c1")}
    assert next(c for c in changes if c["id"] == "c2")["object"]["name"] == "web"
    client.assert_in_sync()

    # In and out again between drains: nothing; out and in again: one update with the object.
    state.apply([Upsert(container("c1", name="web"))])
    state.apply([Upsert(container("c1", name="gone"))])
    state.apply([Upsert(container("c2", name="db"))])
    state.apply([Upsert(container("c2", name="web", restart_count=3))])
    [change] = client.drain()
    assert (change["op"], change["id"]) == ("updated", "c2")
    assert change["object"]["restart_count"] == 3
    client.assert_in_sync()

    # Changes of objects that stay outside the filter send nothing at all.
    state.apply([Upsert(container("c1", name="gone", restart_count=1))])
    assert client.drain() == []
    client.assert_in_sync()


# -- slow consumers ------------------------------------------------------------------------


def test_a_slow_consumer_is_cut_off_and_resynced_without_slowing_others(hub: Hub) -> None:
    state, max_pending = hub.state, 5
    hub.max_pending = max_pending
    slow, fast = watch(hub, None), watch(hub, None)
    for n in range(max_pending + 5):
        batch = committed(state, [Upsert(volume(f"v{n}"))])
        fast.drain()
        fast.assert_in_sync()
        assert len(slow.sub.pending) <= max_pending + len(batch.changes)
        if n < max_pending - 1:  # volume n and system_stats: n + 2 pending objects
            assert not slow.sub.needs_snapshot
            assert len(slow.sub.pending) == n + 2

    assert slow.sub.needs_snapshot
    assert slow.sub.resync_code == "SLOW_CONSUMER"
    assert not slow.sub.pending
    assert not fast.sub.needs_snapshot
    assert fast.resyncs == 0

    # The slow client gets a fresh snapshot and carries on from there.
    slow.drain()
    assert slow.resyncs == 1
    slow.assert_in_sync()
    state.apply([Remove("volume", "v0")])
    [change, _stats] = slow.drain()
    assert (change["op"], change["id"]) == ("removed", "v0")
    slow.assert_in_sync()


def test_one_batch_larger_than_the_bound_does_not_make_a_prompt_client_slow(hub: Hub) -> None:
    hub.max_pending = 5
    client = watch(hub, None)
    committed(hub.state, [Upsert(volume(f"v{n}")) for n in range(20)])
    assert not client.sub.needs_snapshot
    assert len(client.drain()) == 21  # twenty volumes and the stats, as changes
    client.assert_in_sync()
    assert client.resyncs == 0
    # Behind on that batch, the next one trips the bound.
    committed(hub.state, [Upsert(volume(f"w{n}")) for n in range(20)])
    committed(hub.state, [Upsert(volume("x"))])
    assert client.sub.resync_code == "SLOW_CONSUMER"


def test_pending_is_bounded_by_the_objects_not_by_the_changes(hub: Hub) -> None:
    state = hub.state
    hub.max_pending = 3
    state.apply([Upsert(container("c1")), Upsert(volume("v1"))])
    client = watch(hub, None)
    for n in range(200):
        state.apply([Upsert(container("c1", restart_count=n + 1)), Upsert(volume("v1"))])
        assert len(client.sub.pending) == 1
    assert not client.sub.needs_snapshot
    [change] = client.drain()
    assert change["object"]["restart_count"] == 200
    client.assert_in_sync()


@pytest.mark.parametrize(
    "raw", [{"kinds": ["network"]}, {"names": ["web"]}, {"labels": {"a": "x"}}]
)
def test_changes_outside_the_filter_never_make_a_consumer_slow(
    hub: Hub, raw: dict[str, Any]
) -> None:
    state = hub.state
    hub.max_pending = 2
    client = watch(hub, raw)
    for n in range(20):
        state.apply([Upsert(container(f"c{n}", name="db")), Upsert(volume(f"v{n}"))])
        assert not client.sub.pending
    assert not client.sub.needs_snapshot
    assert client.drain() == []
    client.assert_in_sync()


# -- serialization, once -------------------------------------------------------------------


def test_a_change_is_serialized_once_for_every_subscription(hub: Hub) -> None:
    state = hub.state
    state.apply([Upsert(container("c1", name="db"))])
    a, b = watch(hub, {"kinds": ["container"]}), watch(hub, None)
    c, d = watch(hub, {"names": ["web"]}), watch(hub, {"labels": {"a": "x"}})
    state.apply([Upsert(container("c1", name="web", labels={"a": "x"}))])

    [text_a] = texts_of(a.sub)
    texts_b = texts_of(b.sub)
    assert any(text is text_a for text in texts_b)  # the committed `updated`, patch and all
    [text_c] = texts_of(c.sub)
    [text_d] = texts_of(d.sub)
    assert text_c is text_d  # entering a filter: `created` with the object
    assert json.loads(text_c)["op"] == "created"


def test_the_object_cache_reuses_the_text_of_an_unchanged_object() -> None:
    cache = ObjectCache()
    obj = volume("v1")
    text = cache.text("volume", "v1", obj)
    assert json.loads(text) == obj.model_dump(mode="json")
    assert cache.text("volume", "v1", obj) is text

    changed = volume("v1", driver="nfs")
    assert json.loads(cache.text("volume", "v1", changed))["driver"] == "nfs"
    cache.forget("volume", "v1")
    again = cache.text("volume", "v1", changed)
    assert again is not text
    assert json.loads(again)["driver"] == "nfs"


def test_snapshots_and_changes_reuse_cached_object_texts(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = hub.state
    state.apply([Upsert(volume("v1")), Upsert(volume("v2")), Upsert(container("c1"))])
    dumped: list[Any] = []
    real = wire_module._text

    def counting(value: Any) -> str:
        dumped.append(value)
        return real(value)

    monkeypatch.setattr(wire_module, "_text", counting)
    first = hub.state_json(None)[0]
    objects = [v for v in dumped if isinstance(v, dict) and "rev" in v]
    assert len(objects) == 5  # 2 volumes, 1 container, engine_info, system_stats

    dumped.clear()
    assert hub.state_json(None)[0] == first
    assert not [v for v in dumped if isinstance(v, dict) and "rev" in v]

    # Only the changed object is serialized again, once for any number of subscriptions.
    clients = [watch(hub, {"names": ["web"]}) for _ in range(3)]
    dumped.clear()
    state.apply([Upsert(container("c1", name="web"))])
    texts = {id(t) for client in clients for t in texts_of(client.sub)}
    assert len(texts) == 1
    assert len([v for v in dumped if isinstance(v, dict) and "rev" in v]) == 1


def test_encoded_change_forms() -> None:
    state = new_state()
    cache = ObjectCache()
    state.apply([Upsert(volume("v1"))])
    batch = committed(state, [Upsert(volume("v1", driver="nfs"))])
    [enc] = [EncodedChange(c, cache) for c in batch.changes if c.kind == "volume"]
    obj = state.snapshot()["volumes"]["v1"]

    assert json.loads(enc.text()) == change_json(batch.changes[0])
    assert enc.text() is enc.text()
    as_created = json.loads(enc.text_with_object("created"))
    assert as_created == {"v": enc.change.v, "kind": "volume", "op": "created", "id": "v1"} | {
        "object": obj
    }
    assert enc.text_with_object("created") is enc.text_with_object("created")
    assert json.loads(enc.text_with_object("updated"))["object"] == obj
    removed = json.loads(enc.removed_text())
    assert removed == {"v": enc.change.v, "kind": "volume", "op": "removed", "id": "v1"}


# -- the hub's connections -----------------------------------------------------------------


def test_registered_connections_are_woken_for_every_batch_until_unregistered() -> None:
    state = new_state()
    hub = Hub(state)
    unsubscribe = state.subscribe(CommitPipeline(hub))
    woken: list[str] = []
    hub.register("a", [], lambda: woken.append("a"))
    hub.register("b", [], lambda: woken.append("b"))
    assert hub.connections == 2
    state.apply([Upsert(volume("v1"))])
    assert sorted(woken) == ["a", "b"]

    hub.unregister("a")
    woken.clear()
    state.apply([Upsert(volume("v2"))])
    state.apply([Upsert(volume("v2"))])  # commits nothing: no wake-up
    assert woken == ["b"]

    unsubscribe()
    state.apply([Upsert(volume("v3"))])
    assert woken == ["b"]
