"""Properties over random histories: what a client replays equals what the server holds.

Operations draw from small pools of ids, so that the same objects are created, updated,
removed and created again, and containers reference images, volumes and networks that exist,
do not exist yet, or no longer exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, get_args

import pytest
from factories import (
    container,
    engine_info,
    image,
    last_change_of,
    network,
    new_state,
    strip_revs,
    volume,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dockstate.errors import VersionExpired
from dockstate.state import (
    ChangeBatch,
    Container,
    ContainerState,
    EngineInfo,
    EngineState,
    EngineStatus,
    Entity,
    HealthStatus,
    Image,
    Kind,
    Network,
    Operation,
    Remove,
    Upsert,
    Volume,
    kind_of,
    replay,
)
from dockstate.wire import batch_json

CONTAINER_IDS = ["c0", "c1", "c2", "c3"]
IMAGE_IDS = ["i0", "i1", "i2"]
VOLUME_NAMES = ["v0", "v1", "v2"]
NETWORK_NAMES = {"n0": "net0", "n1": "net1", "n2": "net2"}
POOL: dict[Kind, list[str]] = {
    "container": CONTAINER_IDS,
    "image": IMAGE_IDS,
    "volume": VOLUME_NAMES,
    "network": list(NETWORK_NAMES),
}
SETTINGS = settings(max_examples=60, deadline=None)

labels = st.dictionaries(
    st.sampled_from(["a", "b", "com.docker.compose.project"]),
    st.sampled_from(["x", "y"]),
    max_size=2,
)


@st.composite
def containers(draw: st.DrawFn) -> Container:
    mounts: list[dict[str, Any]] = [
        {"type": "volume", "name": name, "source": f"/v/{name}", "destination": f"/mnt/{n}"}
        # "v9" is never created: a reference to a volume that does not exist.
        for n, name in enumerate(
            draw(st.lists(st.sampled_from([*VOLUME_NAMES, "v9"]), unique=True, max_size=3))
        )
    ]
    if draw(st.booleans()):
        mounts.insert(draw(st.integers(0, len(mounts))), {"type": "bind", "destination": "/b"})
    networks = {
        name: {"network_id": f"id-{name}", "aliases": draw(st.lists(st.sampled_from("xyz")))}
        for name in draw(
            st.lists(st.sampled_from([*NETWORK_NAMES.values(), "host"]), unique=True, max_size=3)
        )
    }
    ports = draw(
        st.lists(
            st.fixed_dictionaries(
                {"private_port": st.sampled_from([80, 443]), "protocol": st.just("tcp")},
                optional={"host_port": st.sampled_from([8080, 8443])},
            ),
            max_size=3,
        )
    )
    return container(
        draw(st.sampled_from(CONTAINER_IDS)),
        image=draw(st.sampled_from([*IMAGE_IDS, "", "i9"])),
        state=draw(st.sampled_from(get_args(ContainerState))),
        health=draw(st.none() | st.sampled_from(get_args(HealthStatus))),
        name=draw(st.sampled_from(["web", "db", "cache"])),
        exit_code=draw(st.none() | st.integers(0, 2)),
        restart_count=draw(st.integers(0, 2)),
        labels=draw(labels),
        mounts=mounts,
        networks=networks,
        ports=ports,
    )


@st.composite
def images(draw: st.DrawFn) -> Image:
    return image(
        draw(st.sampled_from(IMAGE_IDS)),
        tags=draw(st.lists(st.sampled_from(["app:1", "app:2", "db:1"]), unique=True, max_size=3)),
        size=draw(st.integers(0, 1000)),
        digests=draw(st.lists(st.sampled_from(["app@sha256:1", "app@sha256:2"]), max_size=2)),
        labels=draw(labels),
    )


@st.composite
def volumes(draw: st.DrawFn) -> Volume:
    return volume(
        draw(st.sampled_from(VOLUME_NAMES)),
        driver=draw(st.sampled_from(["local", "nfs"])),
        labels=draw(labels),
    )


@st.composite
def networks(draw: st.DrawFn) -> Network:
    key = draw(st.sampled_from(list(NETWORK_NAMES)))
    return network(
        key,
        # Mostly its own name; sometimes another network's: a rename, or two of one name.
        name=draw(st.sampled_from([NETWORK_NAMES[key]] * 3 + list(NETWORK_NAMES.values()))),
        driver=draw(st.sampled_from(["bridge", "overlay"])),
        internal=draw(st.booleans()),
        subnets=draw(st.lists(st.sampled_from(["10.0.0.0/24", "fd00::/64"]), max_size=2)),
        labels=draw(labels),
    )


@st.composite
def engine_infos(draw: st.DrawFn) -> EngineInfo:
    return engine_info(
        status=draw(st.sampled_from(get_args(EngineStatus))),
        last_error=draw(st.none() | st.just("connection refused")),
        ncpu=draw(st.integers(1, 4)),
    )


def removes() -> st.SearchStrategy[Remove]:
    return st.sampled_from(list(POOL)).flatmap(
        lambda kind: st.builds(Remove, st.just(kind), st.sampled_from(POOL[kind]))
    )


entities_st: st.SearchStrategy[Entity] = st.one_of(
    containers(), containers(), images(), volumes(), networks(), engine_infos()
)
operations: st.SearchStrategy[Operation] = st.one_of(entities_st.map(Upsert), removes())


def op_key(op: Operation) -> tuple[Kind, str]:
    return (kind_of(op.obj), op.obj.key) if isinstance(op, Upsert) else (op.kind, op.id)


histories = st.lists(st.lists(operations, max_size=6, unique_by=op_key), min_size=1, max_size=15)


def objects_of(state: EngineState, kind: Kind) -> Iterable[Entity]:
    maps: dict[Kind, Iterable[Entity]] = {
        "container": state.containers.values(),
        "image": state.images.values(),
        "volume": state.volumes.values(),
        "network": state.networks.values(),
    }
    return maps[kind]


def wire(batches: Iterable[ChangeBatch]) -> list[dict[str, Any]]:
    """The batches as a client receives them: through JSON text."""
    out: list[dict[str, Any]] = json.loads(json.dumps([batch_json(b) for b in batches]))
    return out


@SETTINGS
@given(history=histories, limit=st.sampled_from([4, 12, 10_000]))
def test_replaying_from_any_version_in_the_window_gives_the_current_state(
    history: list[list[Operation]], limit: int
) -> None:
    state = new_state(history_limit=limit)
    snapshots = {0: state.snapshot()}
    batches: list[ChangeBatch] = []
    for ops in history:
        batch = state.apply(ops)
        if batch is not None:
            batches.append(batch)
            snapshots[batch.to_version] = state.snapshot()
    final = state.snapshot()

    assert state.version in snapshots
    for version, snapshot in snapshots.items():
        after = [b for b in batches if b.from_version >= version]
        if version < state.oldest:
            with pytest.raises(VersionExpired):
                state.changes_since(version)
            continue
        assert state.changes_since(version) == [c for b in after for c in b.changes]
        assert replay(snapshot, wire(after)) == final


@SETTINGS
@given(history=histories)
def test_versions_are_contiguous_and_revs_name_the_last_change(
    history: list[list[Operation]],
) -> None:
    state = new_state()
    heard: list[ChangeBatch] = []
    state.subscribe(heard.append)
    batches: list[ChangeBatch] = []
    previous = 0
    for ops in history:
        batch = state.apply(ops)
        if batch is None:
            assert state.version == previous
            continue
        assert batch.from_version == previous
        assert [c.v for c in batch.changes] == list(
            range(batch.from_version + 1, batch.to_version + 1)
        )
        assert batch.to_version > batch.from_version
        assert state.version == batch.to_version
        previous = batch.to_version
        batches.append(batch)

    assert heard == batches
    last = last_change_of(c for b in batches for c in b.changes)
    for obj in (o for kind in POOL for o in objects_of(state, kind)):
        assert obj.rev == last[kind_of(obj), obj.key]
    assert state.engine_info.rev == last.get(("engine", "engine_info"), 0)
    assert state.system_stats.rev == last.get(("engine", "system_stats"), 0)


@SETTINGS
@given(history=histories, order=st.permutations(list(POOL)))
def test_derived_fields_do_not_depend_on_history(
    history: list[list[Operation]], order: list[Kind]
) -> None:
    state = new_state()
    for ops in history:
        state.apply(ops)

    rebuilt = new_state()
    for kind in order:
        rebuilt.apply(rebuilt.plan_sync(kind, list(objects_of(state, kind))))
    rebuilt.apply([Upsert(state.engine_info)])

    assert strip_revs(rebuilt.snapshot()) == strip_revs(state.snapshot())
    # A full listing of an unchanged engine commits nothing.
    for kind in POOL:
        assert state.apply(state.plan_sync(kind, list(objects_of(state, kind)))) is None
