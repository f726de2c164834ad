"""EngineState.apply and what a reader of the state sees: changes, versions, derived fields."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, cast

import jsonpatch
import pytest
from factories import (
    container,
    engine_info,
    entities,
    image,
    last_change_of,
    network,
    new_state,
    object_json,
    volume,
)
from pydantic import ValidationError

from dockstate.errors import AmbiguousReference, InvalidBatch, StateError
from dockstate.state import (
    Cause,
    Change,
    ChangeBatch,
    Container,
    EngineInfo,
    EngineState,
    Entity,
    Kind,
    Operation,
    Remove,
    SystemStats,
    Upsert,
    apply_change,
    kind_of,
)
from dockstate.wire import change_json

# -- helpers -------------------------------------------------------------------------------


def committed(state: EngineState, ops: list[Operation]) -> ChangeBatch:
    """Apply ``ops`` and return the batch, failing the test when nothing was committed."""
    batch = state.apply(ops)
    assert batch is not None, "the operations should have committed a batch"
    return batch


def change_of(batch: ChangeBatch, kind: Kind, key: str) -> Change:
    """The one change of (kind, key) in ``batch``."""
    found = [c for c in batch.changes if c.kind == kind and c.id == key]
    assert len(found) == 1, f"expected one change of {kind} {key}, got {found}"
    return found[0]


def changed_keys(batch: ChangeBatch) -> set[tuple[Kind, str]]:
    return {(c.kind, c.id) for c in batch.changes}


def kind_key(obj: Entity) -> tuple[Kind, str]:
    if isinstance(obj, EngineInfo | SystemStats):
        return "engine", obj.key
    return kind_of(obj), obj.key


def assert_batch_replays(before: dict[str, Any], batch: ChangeBatch, after: dict[str, Any]) -> None:
    """Every ``updated`` patch, applied to the object as it was, gives the new object, and the
    batch's wire changes take ``before`` to ``after``."""
    working = copy.deepcopy(before)
    for change in batch.changes:
        wire = change_json(change)
        if change.op == "updated":
            assert change.obj is not None
            previous = object_json(working, change.kind, change.id)
            patched = jsonpatch.apply_patch(previous, wire["patch"])
            assert patched == change.obj.model_dump(mode="json")
        apply_change(working, wire)
    working["last_updated"] = batch.timestamp
    assert working == after


def ops_json(batch: ChangeBatch) -> list[tuple[str, str, str]]:
    return [(c.kind, c.op, c.id) for c in batch.changes]


# -- created / updated / removed, per kind ---------------------------------------------------

Maker = Callable[[], Entity]

KINDS: list[tuple[Kind, Maker, Maker]] = [
    ("container", lambda: container("c1"), lambda: container("c1", state="exited", exit_code=3)),
    ("image", lambda: image("i1"), lambda: image("i1", tags=["app:latest", "app:2"])),
    ("volume", lambda: volume("v1"), lambda: volume("v1", labels={"backup": "daily"})),
    ("network", lambda: network("n1"), lambda: network("n1", internal=True)),
]
KIND_IDS = [k for k, _, _ in KINDS]


@pytest.mark.parametrize(("kind", "make", "make_updated"), KINDS, ids=KIND_IDS)
def test_upserting_a_new_object_commits_created_with_the_full_object(
    kind: Kind, make: Maker, make_updated: Maker
) -> None:
    state = new_state()
    obj = make()

    batch = committed(state, [Upsert(obj)])

    change = change_of(batch, kind, obj.key)
    assert change.op == "created"
    wire = change_json(change)
    assert wire["object"] == object_json(state.snapshot(), kind, obj.key)
    assert "patch" not in wire
    held = state.get(kind, obj.key)
    assert held == obj.model_copy(update={"rev": change.v})


@pytest.mark.parametrize(("kind", "make", "make_updated"), KINDS, ids=KIND_IDS)
def test_upserting_a_changed_object_commits_updated_with_a_patch(
    kind: Kind, make: Maker, make_updated: Maker
) -> None:
    state = new_state()
    committed(state, [Upsert(make())])
    before = state.snapshot()
    new = make_updated()

    batch = committed(state, [Upsert(new)])

    change = change_of(batch, kind, new.key)
    assert change.op == "updated"
    wire = change_json(change)
    assert "object" not in wire
    patched = jsonpatch.apply_patch(object_json(before, kind, new.key), wire["patch"])
    assert patched == object_json(state.snapshot(), kind, new.key)
    assert state.get(kind, new.key) == new.model_copy(update={"rev": change.v})
    assert_batch_replays(before, batch, state.snapshot())


@pytest.mark.parametrize(("kind", "make", "make_updated"), KINDS, ids=KIND_IDS)
def test_removing_a_held_object_commits_removed(
    kind: Kind, make: Maker, make_updated: Maker
) -> None:
    state = new_state()
    obj = make()
    committed(state, [Upsert(obj)])
    before = state.snapshot()
    cause = Cause("test", "destroy", 1_763_800_000_123_456_789)

    batch = committed(state, [Remove(kind, obj.key, cause)])

    change = change_of(batch, kind, obj.key)
    assert change.op == "removed"
    assert change_json(change) == {
        "v": change.v,
        "kind": kind,
        "op": "removed",
        "id": obj.key,
        "cause": {"type": "test", "action": "destroy", "time_nano": 1_763_800_000_123_456_789},
    }
    assert state.get(kind, obj.key) is None
    assert object_json(state.snapshot(), kind, obj.key) is None
    assert_batch_replays(before, batch, state.snapshot())


def test_engine_info_is_updated_as_kind_engine() -> None:
    state = new_state(host="unix:///var/run/docker.sock")
    assert state.engine_info.status == "disconnected"
    assert state.engine_info.host == "unix:///var/run/docker.sock"
    before = state.snapshot()

    new = engine_info(status="connected", host="unix:///var/run/docker.sock", server_version="27.3")
    batch = committed(state, [Upsert(new, Cause("reconcile", "connect"))])

    assert ops_json(batch) == [("engine", "updated", "engine_info")]
    change = batch.changes[0]
    assert change.cause == Cause("reconcile", "connect")
    assert state.engine_info == new.model_copy(update={"rev": change.v})
    assert state.get("engine", "engine_info") is state.engine_info
    assert_batch_replays(before, batch, state.snapshot())
    assert state.apply([Upsert(new)]) is None


def test_causes_travel_with_their_changes() -> None:
    state = new_state()
    cause = Cause("container", "create", 1_763_800_000_123_456_789)

    batch = committed(state, [Upsert(container("c1"), cause)])

    assert change_json(change_of(batch, "container", "c1"))["cause"] == {
        "type": "container",
        "action": "create",
        "time_nano": 1_763_800_000_123_456_789,
    }
    # Derived changes have no cause of their own.
    assert "cause" not in change_json(change_of(batch, "engine", "system_stats"))


# -- versions and revs --------------------------------------------------------------------


def test_every_change_advances_the_version_by_one_without_gaps() -> None:
    state = new_state()
    assert state.version == 0

    first = committed(state, [Upsert(container(f"c{n}")) for n in range(3)])
    second = committed(state, [Upsert(image("i1")), Remove("container", "c1")])

    assert first.from_version == 0
    assert second.from_version == first.to_version
    for batch in (first, second):
        assert [c.v for c in batch.changes] == list(
            range(batch.from_version + 1, batch.to_version + 1)
        )
    assert state.version == second.to_version
    # 3 containers + system_stats, then image + removal + system_stats.
    assert (first.to_version, second.to_version) == (4, 7)


def test_each_object_rev_is_the_version_of_its_last_change() -> None:
    state = new_state()
    batches = [
        committed(state, [Upsert(image("i1")), Upsert(volume("v1")), Upsert(network("n1"))]),
        committed(state, [Upsert(container("c1", image="i1", volumes=["v1"]))]),
        committed(state, [Upsert(container("c2", image="i1", networks=["net-n1"]))]),
        committed(state, [Upsert(engine_info())]),
        committed(state, [Upsert(container("c1", image="i1", state="exited"))]),
        committed(state, [Remove("container", "c2")]),
    ]
    last = last_change_of(c for b in batches for c in b.changes)

    for obj in entities(state):
        assert obj.rev == last[kind_key(obj)], kind_key(obj)
    snapshot = state.snapshot()
    assert snapshot["images"]["i1"]["rev"] == last["image", "i1"]
    assert snapshot["system_stats"]["rev"] == state.version


def test_last_updated_is_the_commit_time_of_the_last_batch() -> None:
    state = new_state()
    initial = state.last_updated

    batch = committed(state, [Upsert(container("c1"))])

    assert state.last_updated == batch.timestamp != initial
    assert state.snapshot()["last_updated"] == batch.timestamp
    assert state.apply([Upsert(container("c1"))]) is None
    assert state.last_updated == batch.timestamp


# -- no-ops -------------------------------------------------------------------------------


def test_upserting_an_identical_object_commits_nothing() -> None:
    state = new_state()
    committed(
        state,
        [
            Upsert(image("i1")),
            Upsert(container("c1", image="i1", volumes=["v1"], networks=["net-n1"])),
            Upsert(volume("v1")),
            Upsert(network("n1")),
        ],
    )
    calls: list[ChangeBatch] = []
    state.subscribe(calls.append)
    version, snapshot = state.version, state.snapshot()

    # Freshly built equal objects (rev 0, no derived fields) ...
    assert (
        state.apply([Upsert(container("c1", image="i1", volumes=["v1"], networks=["net-n1"]))])
        is None
    )
    assert state.apply([Upsert(image("i1")), Upsert(volume("v1")), Upsert(network("n1"))]) is None
    # ... the held objects themselves ...
    assert state.apply([Upsert(obj) for obj in state.images.values()]) is None
    # ... and objects whose rev and derived fields a caller got wrong.
    wrong = image("i1", rev=999, containers=["ghost"], dangling=True)
    assert state.apply([Upsert(wrong)]) is None

    assert state.version == version
    assert state.snapshot() == snapshot
    assert calls == []


@pytest.mark.parametrize("kind", ["container", "image", "volume", "network"])
def test_removing_an_absent_object_commits_nothing(kind: Kind) -> None:
    state = new_state()
    committed(state, [Upsert(container("c1"))])
    version, snapshot = state.version, state.snapshot()

    assert state.apply([Remove(kind, "absent")]) is None
    assert state.apply([]) is None

    assert state.version == version
    assert state.snapshot() == snapshot


# -- atomicity ----------------------------------------------------------------------------

INVALID: dict[str, list[Any]] = {
    "duplicate upsert": [Upsert(container("c9")), Upsert(container("c9", state="exited"))],
    "upsert and remove of one object": [Upsert(volume("v9")), Remove("volume", "v9")],
    "upsert of system_stats": [Upsert(SystemStats(containers=5))],
    "remove of engine_info": [Remove("engine", "engine_info")],
    "remove of system_stats": [Remove("engine", "system_stats")],
    "remove of an unknown kind": [Remove(cast(Kind, "service"), "x")],
    "empty container id": [Upsert(container(""))],
    "empty volume name in a remove": [Remove("volume", "")],
    "a string": ["container c1"],
    "a dict": [{"op": "remove", "kind": "container", "id": "c1"}],
    "a committed change": [Change(1, "container", "removed", "c1")],
    "upsert of a non-entity": [Upsert(cast(Entity, {"id": "c1"}))],
}


def populated() -> EngineState:
    state = new_state()
    committed(
        state,
        [
            Upsert(image("i1")),
            Upsert(volume("v1")),
            Upsert(container("c1", image="i1", volumes=["v1"])),
        ],
    )
    return state


@pytest.mark.parametrize("invalid", INVALID.values(), ids=INVALID.keys())
def test_a_batch_with_one_invalid_operation_changes_nothing(invalid: list[Any]) -> None:
    state = populated()
    calls: list[ChangeBatch] = []
    state.subscribe(calls.append)
    version, oldest, snapshot = state.version, state.oldest, state.snapshot()
    history = state.changes_since(0)
    # Valid operations that would all commit something, before and after the invalid one.
    valid_before: list[Any] = [
        Upsert(container("c1", image="i1", state="exited")),
        Remove("image", "i1"),
        Upsert(volume("v2")),
        Upsert(engine_info()),
    ]
    valid_after: list[Any] = [Upsert(network("n2")), Remove("container", "c1")]

    with pytest.raises(InvalidBatch) as raised:
        state.apply(valid_before + invalid + valid_after)

    assert isinstance(raised.value, StateError)
    assert str(raised.value)
    assert state.version == version
    assert state.oldest == oldest
    assert state.snapshot() == snapshot
    assert state.changes_since(0) == history
    assert calls == []
    # The state still works, and its versions go on from where they were.
    batch = committed(state, valid_before)
    assert batch.from_version == version


def test_invalid_batch_messages_say_what_is_wrong() -> None:
    state = new_state()
    with pytest.raises(InvalidBatch, match="c9 appears twice"):
        state.apply([Upsert(container("c9")), Remove("container", "c9")])
    with pytest.raises(InvalidBatch, match="SystemStats"):
        state.apply([Upsert(SystemStats())])
    with pytest.raises(InvalidBatch, match="'engine'"):
        state.apply([Remove("engine", "engine_info")])
    with pytest.raises(InvalidBatch, match="empty id"):
        state.apply([Remove("container", "")])


# -- derived fields -----------------------------------------------------------------------


def test_image_containers_follow_its_containers_in_the_same_batch() -> None:
    state = new_state()
    committed(state, [Upsert(image("i1")), Upsert(image("i2", tags=["db:1"]))])
    assert state.images["i1"].containers == []

    before = state.snapshot()
    batch = committed(state, [Upsert(container("c1", image="i1"))])
    assert state.images["i1"].containers == ["c1"]
    assert change_of(batch, "image", "i1").op == "updated"
    assert_batch_replays(before, batch, state.snapshot())

    committed(state, [Upsert(container("c2", image="i1"))])
    assert state.images["i1"].containers == ["c1", "c2"]

    # c1 moves to another image: both images change in the container's batch.
    before = state.snapshot()
    batch = committed(state, [Upsert(container("c1", image="i2"))])
    assert state.images["i1"].containers == ["c2"]
    assert state.images["i2"].containers == ["c1"]
    assert {("image", "i1"), ("image", "i2")} <= changed_keys(batch)
    assert_batch_replays(before, batch, state.snapshot())

    before = state.snapshot()
    batch = committed(state, [Remove("container", "c2")])
    assert state.images["i1"].containers == []
    assert change_of(batch, "image", "i1").op == "updated"
    assert_batch_replays(before, batch, state.snapshot())


def test_an_image_created_after_its_containers_lists_them() -> None:
    state = new_state()
    committed(state, [Upsert(container("c1", image="i1")), Upsert(container("c2", image="i1"))])

    batch = committed(state, [Upsert(image("i1"))])

    created = change_json(change_of(batch, "image", "i1"))["object"]
    assert created["containers"] == ["c1", "c2"]
    assert state.images["i1"].containers == ["c1", "c2"]


def test_an_image_upserted_with_its_container_is_created_complete() -> None:
    state = new_state()

    # The image comes first in the batch; its created object already lists the container.
    batch = committed(state, [Upsert(image("i1")), Upsert(container("c1", image="i1"))])

    assert change_json(change_of(batch, "image", "i1"))["object"]["containers"] == ["c1"]


def test_an_image_removed_and_recreated_still_knows_its_containers() -> None:
    state = new_state()
    committed(state, [Upsert(image("i1")), Upsert(container("c1", image="i1"))])

    committed(state, [Remove("image", "i1")])
    batch = committed(state, [Upsert(image("i1"))])

    assert change_json(change_of(batch, "image", "i1"))["object"]["containers"] == ["c1"]


def test_an_image_without_tags_is_dangling() -> None:
    state = new_state()

    committed(state, [Upsert(image("i1", tags=[], dangling=False))])
    assert state.images["i1"].dangling is True
    assert state.system_stats.images_dangling == 1

    before = state.snapshot()
    batch = committed(state, [Upsert(image("i1", tags=["app:1"]))])
    assert state.images["i1"].dangling is False
    assert state.system_stats.images_dangling == 0
    assert {("image", "i1"), ("engine", "system_stats")} == changed_keys(batch)
    assert_batch_replays(before, batch, state.snapshot())


def test_derived_fields_a_caller_supplies_are_overwritten() -> None:
    state = new_state()

    committed(
        state,
        [
            Upsert(image("i1", containers=["ghost"], dangling=True)),
            Upsert(volume("v1", used_by=["ghost"])),
            Upsert(network("n1", containers=["ghost"])),
        ],
    )

    assert state.images["i1"].containers == []
    assert state.images["i1"].dangling is False
    assert state.volumes["v1"].used_by == []
    assert state.networks["n1"].containers == []


def test_volume_used_by_lists_containers_that_mount_it_as_a_volume() -> None:
    state = new_state()
    committed(state, [Upsert(volume("v1")), Upsert(volume("v2"))])
    mounts = [
        {"type": "volume", "name": "v1", "destination": "/data"},
        # A bind mount is not a use of a volume, whatever its name says.
        {"type": "bind", "name": "v2", "source": "/srv", "destination": "/srv"},
    ]

    before = state.snapshot()
    batch = committed(
        state,
        [
            Upsert(container("c1", volumes=["v1"])),
            Upsert(container("c2", mounts=mounts)),
        ],
    )
    assert state.volumes["v1"].used_by == ["c1", "c2"]
    assert state.volumes["v2"].used_by == []
    assert_batch_replays(before, batch, state.snapshot())

    # A container that drops the mount stops using it, in its own batch.
    batch = committed(state, [Upsert(container("c1"))])
    assert state.volumes["v1"].used_by == ["c2"]
    assert change_of(batch, "volume", "v1").op == "updated"

    batch = committed(state, [Remove("container", "c2")])
    assert state.volumes["v1"].used_by == []
    assert change_of(batch, "volume", "v1").op == "updated"


def test_a_volume_created_after_its_containers_lists_them() -> None:
    state = new_state()
    committed(state, [Upsert(container("c1", volumes=["data"]))])

    batch = committed(state, [Upsert(volume("data"))])

    assert change_json(change_of(batch, "volume", "data"))["object"]["used_by"] == ["c1"]


def test_network_containers_follow_containers_that_name_it() -> None:
    state = new_state()
    # Containers reference networks by name; "frontend" is n1's name, and the id of another.
    committed(
        state,
        [Upsert(network("n1", name="frontend")), Upsert(network("frontend", name="other"))],
    )

    before = state.snapshot()
    batch = committed(state, [Upsert(container("c1", networks=["frontend"]))])
    assert state.networks["n1"].containers == ["c1"]
    assert state.networks["frontend"].containers == []
    assert change_of(batch, "network", "n1").op == "updated"
    assert_batch_replays(before, batch, state.snapshot())

    # Leaving the network (still existing) and being removed both update it at once.
    committed(state, [Upsert(container("c2", networks=["frontend"]))])
    batch = committed(state, [Upsert(container("c1"))])
    assert state.networks["n1"].containers == ["c2"]
    assert change_of(batch, "network", "n1").op == "updated"
    batch = committed(state, [Remove("container", "c2")])
    assert state.networks["n1"].containers == []
    assert change_of(batch, "network", "n1").op == "updated"


def test_networks_sharing_a_name_both_list_the_containers_that_name_it() -> None:
    # Docker allows two networks of one name (e.g. created without CheckDuplicate, or of
    # different scopes); a container naming it is attached to both as far as the state knows,
    # whichever order they and the container arrived in.
    state = new_state()
    committed(state, [Upsert(network("n1", name="shared")), Upsert(network("n2", name="shared"))])

    batch = committed(state, [Upsert(container("c1", networks=["shared"]))])

    assert state.networks["n1"].containers == ["c1"]
    assert state.networks["n2"].containers == ["c1"]
    assert {("network", "n1"), ("network", "n2")} <= changed_keys(batch)

    committed(state, [Remove("container", "c1")])
    assert state.networks["n1"].containers == state.networks["n2"].containers == []


def test_a_network_created_after_its_containers_lists_them() -> None:
    state = new_state()
    committed(state, [Upsert(container("c1", networks=["backend"]))])

    batch = committed(state, [Upsert(network("n7", name="backend"))])

    assert change_json(change_of(batch, "network", "n7"))["object"]["containers"] == ["c1"]
    assert state.networks["n7"].containers == ["c1"]


def test_system_stats_are_recomputed_in_the_same_batch() -> None:
    state = new_state()
    before = state.snapshot()

    batch = committed(
        state,
        [
            Upsert(container("run", state="running", health="healthy")),
            Upsert(container("sick", state="running", health="unhealthy")),
            Upsert(container("restarting", state="restarting")),
            Upsert(container("paused", state="paused")),
            Upsert(container("exited", state="exited", exit_code=1)),
            Upsert(container("created", state="created")),
            Upsert(container("dead", state="dead")),
            Upsert(image("i1", size=100)),
            Upsert(image("i2", tags=[], size=50)),
            Upsert(volume("v1")),
            Upsert(volume("v2")),
            Upsert(network("n1")),
        ],
    )

    stats = change_of(batch, "engine", "system_stats")
    assert stats.op == "updated"
    assert stats.v == batch.to_version
    assert state.system_stats == SystemStats(
        rev=batch.to_version,
        containers=7,
        containers_running=3,
        containers_paused=1,
        containers_stopped=3,
        containers_unhealthy=1,
        images=2,
        images_size=150,
        images_dangling=1,
        volumes=2,
        networks=1,
    )
    assert_batch_replays(before, batch, state.snapshot())

    batch = committed(state, [Remove("container", "exited"), Remove("image", "i2")])
    assert change_of(batch, "engine", "system_stats").v == batch.to_version
    after = state.system_stats
    assert (after.containers, after.containers_stopped) == (6, 2)
    assert (after.images, after.images_size, after.images_dangling) == (1, 100, 0)

    committed(state, [Upsert(container("sick", state="running", health="healthy"))])
    assert state.system_stats.containers_unhealthy == 0


# -- listeners ----------------------------------------------------------------------------


def test_listeners_get_every_batch_in_order_until_they_unsubscribe() -> None:
    state = new_state()
    heard: list[tuple[str, ChangeBatch]] = []
    seen_versions: list[int] = []

    def first(batch: ChangeBatch) -> None:
        heard.append(("first", batch))
        seen_versions.append(state.version)

    unsubscribe_first = state.subscribe(first)
    state.subscribe(lambda batch: heard.append(("second", batch)))

    b1 = committed(state, [Upsert(container("c1"))])
    assert state.apply([Upsert(container("c1"))]) is None
    b2 = committed(state, [Upsert(image("i1")), Remove("container", "c1")])
    unsubscribe_first()
    b3 = committed(state, [Upsert(volume("v1"))])

    assert heard == [
        ("first", b1),
        ("second", b1),
        ("first", b2),
        ("second", b2),
        ("second", b3),
    ]
    # A listener runs after the commit: it reads the state at the batch's version.
    assert seen_versions == [b1.to_version, b2.to_version]


# -- snapshot -----------------------------------------------------------------------------

PROTOCOL_FIELDS: dict[str, set[str]] = {
    "containers": {
        *("id", "name", "image", "image_id", "command", "created", "state", "status"),
        *("health", "exit_code", "started_at", "finished_at", "ports", "labels"),
        *("compose_project", "compose_service", "networks", "mounts", "restart_count", "rev"),
    },
    "images": {"id", "tags", "digests", "size", "created", "containers", "dangling", "rev"},
    "volumes": {"name", "driver", "mountpoint", "created", "labels", "scope", "used_by", "rev"},
    "networks": {"id", "name", "driver", "scope", "internal", "subnets", "containers", "labels"},
}


def test_snapshot_has_the_protocol_shape_and_is_json() -> None:
    state = new_state(host="unix:///var/run/docker.sock")
    batch = committed(
        state,
        [
            Upsert(image("sha256:" + "a" * 64)),
            Upsert(container("f" * 64, image="sha256:" + "a" * 64, volumes=["data"])),
            Upsert(volume("data")),
            Upsert(network("e" * 64, name="frontend")),
            Upsert(engine_info(host="unix:///var/run/docker.sock")),
        ],
    )

    snapshot = state.snapshot()

    assert set(snapshot) == {
        "containers",
        "images",
        "volumes",
        "networks",
        "engine_info",
        "system_stats",
        "version",
        "last_updated",
    }
    assert list(snapshot["containers"]) == ["f" * 64]
    assert list(snapshot["images"]) == ["sha256:" + "a" * 64]
    assert list(snapshot["volumes"]) == ["data"]
    assert list(snapshot["networks"]) == ["e" * 64]
    for field, required in PROTOCOL_FIELDS.items():
        for obj in snapshot[field].values():
            assert required <= set(obj), field
    assert snapshot["engine_info"]["status"] == "connected"
    assert snapshot["engine_info"]["host"] == "unix:///var/run/docker.sock"
    assert snapshot["system_stats"]["containers"] == 1
    assert snapshot["version"] == state.version == batch.to_version
    assert snapshot["last_updated"] == batch.timestamp
    assert json.loads(json.dumps(snapshot)) == snapshot


def test_snapshot_is_a_copy() -> None:
    state = new_state()
    committed(state, [Upsert(container("c1", labels={"a": "b"}))])
    snapshot = state.snapshot()

    snapshot["containers"]["c1"]["labels"]["a"] = "changed"
    snapshot["containers"].clear()

    assert state.containers["c1"].labels == {"a": "b"}
    assert "c1" in state.snapshot()["containers"]


def test_an_empty_state_snapshot() -> None:
    state = new_state(host="tcp://docker:2375")

    snapshot = state.snapshot()

    assert snapshot["version"] == 0
    assert all(snapshot[f] == {} for f in ("containers", "images", "volumes", "networks"))
    assert snapshot["engine_info"]["status"] == "disconnected"
    assert snapshot["engine_info"]["host"] == "tcp://docker:2375"
    assert snapshot["system_stats"] == SystemStats().model_dump(mode="json")


# -- plan_sync ----------------------------------------------------------------------------


def test_plan_sync_removes_what_the_listing_lacks_and_updates_what_changed() -> None:
    state = new_state()
    committed(state, [Upsert(container(n, image="i1")) for n in ("c1", "c2", "c3")])
    committed(state, [Upsert(image("i1")), Upsert(volume("v1"))])

    ops = state.plan_sync(
        "container", [container("c1", image="i1"), container("c3", image="i1", state="exited")]
    )
    batch = committed(state, ops)

    assert Remove("container", "c2") in ops
    assert [(c.op, c.id) for c in batch.changes if c.kind == "container"] == [
        ("updated", "c3"),
        ("removed", "c2"),
    ]
    assert set(state.containers) == {"c1", "c3"}
    assert state.images["i1"].containers == ["c1", "c3"]
    assert set(state.volumes) == {"v1"}


def test_plan_sync_of_an_empty_listing_empties_only_that_kind() -> None:
    state = new_state()
    committed(state, [Upsert(volume("v1")), Upsert(volume("v2")), Upsert(image("i1"))])

    committed(state, state.plan_sync("volume", []))

    assert dict(state.volumes) == {}
    assert set(state.images) == {"i1"}


def test_plan_sync_of_the_state_itself_commits_nothing() -> None:
    state = new_state()
    committed(
        state,
        [
            Upsert(container("c1", image="i1", volumes=["v1"], networks=["net-n1"])),
            Upsert(image("i1")),
            Upsert(volume("v1")),
            Upsert(network("n1")),
        ],
    )
    listing: dict[Kind, list[Entity]] = {
        "container": [container("c1", image="i1", volumes=["v1"], networks=["net-n1"])],
        "image": [image("i1")],
        "volume": [volume("v1")],
        "network": [network("n1")],
    }
    version = state.version

    for kind, objects in listing.items():
        assert state.apply(state.plan_sync(kind, objects)) is None
    assert state.apply(state.plan_sync("image", state.images.values())) is None
    assert state.version == version


# -- secrets ------------------------------------------------------------------------------


def test_a_container_has_no_env_field() -> None:
    data = container("c1").model_dump()

    with pytest.raises(ValidationError, match="env"):
        Container.model_validate({**data, "env": ["DB_PASSWORD=hunter2"]})
    assert "env" not in Container.model_fields
    schema = Container.model_json_schema()
    assert "env" not in schema["properties"]
    assert schema.get("additionalProperties") is False


def test_a_container_reference_reads_as_docker_reads_it() -> None:
    """An id, a name or a prefix of one id names a container; a prefix of several is refused
    (the engine answers such a reference with a 500); an unknown one is left to the engine."""
    state = new_state()
    state.apply([Upsert(container(k)) for k in ("abc111", "abc222", "def333")])
    assert state.container_id("abc111") == "abc111"
    assert state.container_id("name-def333") == "def333"
    assert state.container_id("abc2") == "abc222"
    assert state.container_id("ffff") == "ffff"
    with pytest.raises(AmbiguousReference, match="begins 2 containers' ids"):
        state.container_id("abc")
