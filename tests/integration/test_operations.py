"""One Docker operation each: the state shows its effect within a second (REFLECT_TIMEOUT).

Each test does the operation with the docker CLI and compares the state with what
``docker inspect`` reports afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from harness import (
    LABEL,
    TEST_IMAGE,
    Live,
    busybox_tar,
    docker,
    engine_under_test,
    import_image,
    inspect,
    run_container,
    unique,
    watching,
)

from dockstate.engine import DockerEvent
from dockstate.state import Container, EngineState

pytestmark = pytest.mark.integration


def _by_name(state: EngineState, name: str) -> Container | None:
    return next((c for c in state.containers.values() if c.name == name), None)


def _state_is(name: str, wanted: str) -> Callable[[EngineState], bool]:
    def check(state: EngineState) -> bool:
        c = _by_name(state, name)
        return c is not None and c.state == wanted

    return check


async def test_container_create_shows_created_container(live: Live) -> None:
    name = unique("create-")
    cid = await docker(
        "create",
        "--name",
        name,
        "--label",
        f"{LABEL}=1",
        "-l",
        "tier=web",
        TEST_IMAGE,
        "sleep",
        "60",
    )
    await live.wait_for(lambda s: cid in s.containers, what="the created container")
    c = live.state.containers[cid]  # as its create event tells it, at once
    assert (c.name, c.state, c.image, c.labels["tier"]) == (name, "created", TEST_IMAGE, "web")
    # Its inspect completes it (the command, the exact creation time).
    await live.wait_for(lambda s: s.containers[cid].command != "", what="its inspect")
    c = live.state.containers[cid]
    truth = (await inspect(cid))[0]
    assert (c.name, c.state, c.image, c.image_id) == (name, "created", TEST_IMAGE, truth["Image"])
    assert c.command == "sleep 60"
    assert c.labels["tier"] == "web"
    assert c.created == truth["Created"]
    # The derived view follows in the same batch: the image knows its new user.
    assert cid in live.state.images[truth["Image"]].containers


async def test_container_start_and_stop() -> None:
    events: list[DockerEvent] = []
    async with watching(on_events=events.extend) as live:
        name = unique("start-")
        cid = await docker(
            "create", "--name", name, "--label", f"{LABEL}=1", TEST_IMAGE, "sleep", "60"
        )
        await docker("start", name)
        await live.wait_for(_state_is(name, "running"), what="running")
        # Running at once, from the start event (its time as started_at, within ms of the
        # engine's); the inspect that follows gives the engine's own StartedAt.
        truth = (await inspect(cid))[0]
        await live.wait_for(
            lambda s: s.containers[cid].started_at == truth["State"]["StartedAt"],
            what="the engine's StartedAt",
        )
        await docker("stop", "-t", "0", name)
        await live.wait_for(_state_is(name, "exited"), what="exited")
        # Shown at once: by the die event (its fast path) at the latest, or by an event
        # before it whose read found the container stopped already (Docker 20.10 sends kill,
        # die, stop; Docker 26 kill, kill, disconnect, stop and only then die; Podman's stop
        # is followed by die and cleanup). Never by a later event. The fast path itself is
        # test_watcher_rounds'.
        [first, *_] = [
            c
            for b in live.batches
            for c in b.changes
            if c.id == cid and isinstance(c.obj, Container) and c.obj.state == "exited"
        ]
        await live.wait_for(
            lambda _: any(e.action == "die" and e.actor_id == cid for e in events), what="die"
        )
        die = next(e for e in events if e.action == "die" and e.actor_id == cid)
        assert first.cause is not None
        assert first.cause.time_nano is not None
        assert first.cause.time_nano <= die.time_nano, first.cause
        truth = (await inspect(cid))[0]
        await live.wait_for(
            lambda s: s.containers[cid].finished_at == truth["State"]["FinishedAt"],
            what="finished_at",
        )
        c = live.state.containers[cid]
        assert c.exit_code == truth["State"]["ExitCode"]
        assert c.status == f"Exited ({c.exit_code})"


async def test_container_kill_records_signal_exit_code(live: Live) -> None:
    name = unique("kill-")
    await run_container(name)
    await live.wait_for(_state_is(name, "running"))
    await docker("kill", name)
    await live.wait_for(_state_is(name, "exited"), what="the kill")
    assert live.container(name).exit_code == 137


async def test_container_exit_with_code(live: Live) -> None:
    name = unique("exit-")
    await run_container(name, command=("sh", "-c", "exit 3"))
    await docker("wait", name)
    await live.wait_for(
        lambda s: (c := _by_name(s, name)) is not None and c.exit_code == 3, what="exit code 3"
    )
    assert live.container(name).state == "exited"


async def test_container_pause_and_unpause(live: Live) -> None:
    name = unique("pause-")
    await run_container(name)
    await live.wait_for(_state_is(name, "running"))
    await docker("pause", name)
    await live.wait_for(_state_is(name, "paused"), what="paused")
    assert live.state.system_stats.containers_paused >= 1
    await docker("unpause", name)
    await live.wait_for(_state_is(name, "running"), what="unpaused")


async def test_container_restart_counts_start(live: Live) -> None:
    name = unique("restart-")
    cid = await run_container(name)
    await live.wait_for(_state_is(name, "running"))
    before = live.state.containers[cid].started_at
    await docker("restart", "-t", "0", name)
    await live.wait_for(
        lambda s: s.containers[cid].state == "running" and s.containers[cid].started_at != before,
        what="a new start time",
    )
    truth = (await inspect(cid))[0]
    assert live.state.containers[cid].started_at == truth["State"]["StartedAt"]


async def test_container_restart_policy_counts_restarts(live: Live) -> None:
    name = unique("policy-")
    cid = await run_container(name, "--restart", "on-failure:2", command=("sh", "-c", "exit 1"))
    truth_count = 0
    for _ in range(100):
        truth = (await inspect(cid))[0]
        truth_count = truth["RestartCount"]
        if truth_count == 2 and truth["State"]["Status"] == "exited":
            break
        await asyncio.sleep(0.1)
    await live.wait_for(
        lambda s: (
            s.containers[cid].restart_count == truth_count == 2
            and s.containers[cid].state == "exited"
        ),
        what="two restarts",
    )
    if engine_under_test().podman:
        return  # Podman has no `restarting`: it reports the container stopped until it restarts
    # A container that restarts by itself is never shown exited from its die event alone:
    # the engine had it restarting.
    exited = [
        c.obj
        for b in live.batches
        for c in b.changes
        if isinstance(c.obj, Container) and c.id == cid
    ]
    assert all(o.restart_count == 2 for o in exited if o.state == "exited")


async def test_container_rename(live: Live) -> None:
    name, new_name = unique("rename-"), unique("renamed-")
    cid = await run_container(name)
    await live.wait_for(lambda s: cid in s.containers)
    await docker("rename", name, new_name)
    await live.wait_for(lambda s: s.containers[cid].name == new_name, what="the new name")


@pytest.mark.not_on_podman(
    "Podman runs health checks from systemd timers, and there is no systemd here"
)
async def test_container_health_turns_healthy_then_unhealthy(live: Live) -> None:
    name = unique("health-")
    health = ("--health-cmd", "test -f /tmp/ok", "--health-interval", "1s", "--health-retries", "1")
    cid = await run_container(name, *health, command=("sh", "-c", "touch /tmp/ok; sleep 300"))
    await live.wait_for(lambda s: cid in s.containers)

    def health_is(wanted: str) -> Callable[[EngineState], bool]:
        return lambda s: s.containers[cid].health == wanted

    # Health checks run every second; the state follows within REFLECT_TIMEOUT of each.
    await live.wait_for(health_is("healthy"), timeout=10, what="healthy")
    assert live.container(name).status == "Up (healthy)"
    await docker("exec", name, "rm", "/tmp/ok")
    await live.wait_for(health_is("unhealthy"), timeout=10, what="unhealthy")
    assert live.state.system_stats.containers_unhealthy >= 1
    assert (await inspect(cid))[0]["State"]["Health"]["Status"] == "unhealthy"


async def test_container_remove(live: Live) -> None:
    name = unique("rm-")
    cid = await run_container(name)
    await live.wait_for(lambda s: cid in s.containers)
    await docker("rm", "-f", name)
    await live.wait_for(lambda s: cid not in s.containers, what="the removal")
    image_id = (await inspect(TEST_IMAGE))[0]["Id"]
    assert cid not in live.state.images[image_id].containers


async def test_network_connect_and_disconnect(live: Live) -> None:
    net, name = unique("net-"), unique("member-")
    net_id = await docker("network", "create", "--label", f"{LABEL}=1", net)
    cid = await run_container(name)
    await live.wait_for(lambda s: cid in s.containers)
    # A network no event told of (Podman's) shows when a container joins it.
    await docker("network", "connect", net, name)
    await live.wait_for(
        lambda s: (
            net in s.containers[cid].networks
            and net_id in s.networks
            and cid in s.networks[net_id].containers
        ),
        what="the connection",
    )
    truth = (await inspect(cid))[0]["NetworkSettings"]["Networks"][net]
    assert live.state.containers[cid].networks[net].ip_address == truth["IPAddress"]
    await docker("network", "disconnect", net, name)
    await live.wait_for(
        lambda s: (
            net not in s.containers[cid].networks and cid not in s.networks[net_id].containers
        ),
        what="the disconnection",
    )


async def test_connecting_a_created_container_is_repaired_by_reconciliation(live: Live) -> None:
    """Docker sends no event when a container that never ran is connected to a network (its
    endpoint is only made at start): only the periodic reconciliation can see it, and it
    counts the repair."""
    net, name = unique("net-"), unique("created-")
    await docker("network", "create", "--label", f"{LABEL}=1", net)
    cid = await docker("create", "--label", f"{LABEL}=1", "--name", name, TEST_IMAGE)
    await live.wait_for(lambda s: cid in s.containers)
    await docker("network", "connect", net, name)
    if engine_under_test().podman:
        # Podman does tell of this connect (and of no network's creation): the container's
        # read shows the connection, and the network it names, unknown until then, is listed.
        await live.wait_for(
            lambda s: (
                net in s.containers[cid].networks
                and any(cid in n.containers for n in s.networks.values() if n.name == net)
            ),
            what="the connection, by its event",
        )
        await docker("rm", name)
        return
    await asyncio.sleep(0.5)
    assert net not in live.state.containers[cid].networks  # no event came: still unknown
    # Two objects repaired: the container, and the network's list of members.
    assert await live.watcher.reconcile() == 2
    assert net in live.state.containers[cid].networks
    assert cid in next(n for n in live.state.networks.values() if n.name == net).containers
    assert live.watcher.stats.repairs == 2
    await docker("rm", name)
    await docker("network", "rm", net)


async def test_image_import_tag_untag_remove(live: Live) -> None:
    repo = unique("img-")
    tarball = busybox_tar()
    image_id = await import_image(tarball, "-c", f"LABEL {LABEL}=1", "-", f"{repo}:one")
    await live.wait_for(lambda s: image_id in s.images, what="the imported image")
    assert live.state.images[image_id].tags == [f"{repo}:one"]
    await docker("tag", f"{repo}:one", f"{repo}:two")
    await live.wait_for(
        lambda s: s.images[image_id].tags == [f"{repo}:one", f"{repo}:two"], what="the new tag"
    )
    await docker("rmi", f"{repo}:one")  # untag: the image keeps its other tag
    await live.wait_for(lambda s: s.images[image_id].tags == [f"{repo}:two"], what="the untag")
    await docker("rmi", f"{repo}:two")
    await live.wait_for(lambda s: image_id not in s.images, what="the image removal")


async def test_dangling_image_is_marked(live: Live) -> None:
    repo = unique("dangle-")
    tarball = busybox_tar(extra=b"x")
    image_id = await import_image(tarball, "-", f"{repo}:v1")
    await live.wait_for(lambda s: image_id in s.images)
    # Importing another image under the same tag leaves the first one dangling.
    await docker("import", "-", f"{repo}:v1", stdin=busybox_tar(extra=b"y"))
    await live.wait_for(lambda s: s.images[image_id].dangling, what="the dangling image")
    assert live.state.images[image_id].tags == []
    await docker("rmi", image_id)
    await docker("rmi", f"{repo}:v1")


async def test_volume_create_and_remove(live: Live) -> None:
    vol = unique("vol-")
    await docker("volume", "create", "--label", f"{LABEL}=1", "--label", "keep=no", vol)
    await live.wait_for(lambda s: vol in s.volumes, what="the volume")
    truth = (await inspect(vol))[0]
    assert live.state.volumes[vol].mountpoint == truth["Mountpoint"]
    assert live.state.volumes[vol].labels["keep"] == "no"
    await docker("volume", "rm", vol)
    await live.wait_for(lambda s: vol not in s.volumes, what="the volume removal")


async def test_volume_used_by_container(live: Live) -> None:
    vol, name = unique("used-"), unique("user-")
    await docker("volume", "create", "--label", f"{LABEL}=1", vol)
    cid = await run_container(name, "-v", f"{vol}:/data")
    await live.wait_for(
        lambda s: vol in s.volumes and cid in s.volumes[vol].used_by, what="used_by"
    )
    assert [m.name for m in live.state.containers[cid].mounts] == [vol]
    await docker("rm", "-f", name)
    await live.wait_for(lambda s: s.volumes[vol].used_by == [], what="no more users")


async def test_network_create_and_remove(live: Live) -> None:
    net = unique("netcr-")
    net_id = await docker(
        "network", "create", "--label", f"{LABEL}=1", "--subnet", "10.231.7.0/24", net
    )
    await _seen_without_event(live)
    await live.wait_for(lambda s: net_id in s.networks, what="the network")
    assert live.state.networks[net_id].name == net
    assert live.state.networks[net_id].subnets == ["10.231.7.0/24"]
    await docker("network", "rm", net)
    await _seen_without_event(live)
    await live.wait_for(lambda s: net_id not in s.networks, what="the network removal")


async def _seen_without_event(live: Live) -> None:
    """On an engine that tells of no network's creation or removal (Podman), the periodic
    reconciliation is what shows it: run one now, and it repairs what changed."""
    if not engine_under_test().tells_of_networks:
        assert await live.watcher.reconcile() >= 1


async def test_container_prune(live: Live) -> None:
    names = [unique("prune-") for _ in range(3)]
    ids = [await run_container(n, command=("true",)) for n in names]
    for n in names:
        await docker("wait", n)
    await live.wait_for(
        lambda s: all(s.containers.get(i) and s.containers[i].state == "exited" for i in ids)
    )
    await docker("container", "prune", "-f", "--filter", f"label={LABEL}")
    await live.wait_for(
        lambda s: not any(i in s.containers for i in ids), what="the pruned containers gone"
    )


async def test_image_prune(live: Live) -> None:
    repo = unique("iprune-")
    labelled = ("-c", f"LABEL {LABEL}=1")
    image_id = await import_image(busybox_tar(extra=b"p"), *labelled, "-", f"{repo}:v1")
    await docker("import", "-", f"{repo}:v1", stdin=busybox_tar(extra=b"q"))
    await live.wait_for(lambda s: image_id in s.images and s.images[image_id].dangling)
    await docker("image", "prune", "-f", "--filter", f"label={LABEL}")
    await live.wait_for(lambda s: image_id not in s.images, what="the pruned image gone")
    await docker("rmi", f"{repo}:v1")


async def test_volume_prune(live: Live) -> None:
    vols = [unique("vprune-") for _ in range(2)]
    for v in vols:
        await docker("volume", "create", "--label", f"{LABEL}=1", v)
    await live.wait_for(lambda s: all(v in s.volumes for v in vols))
    prune_all = engine_under_test().volume_prune_all()
    await docker("volume", "prune", "-f", *prune_all, "--filter", f"label={LABEL}")
    await live.wait_for(
        lambda s: not any(v in s.volumes for v in vols), what="the pruned volumes gone"
    )


async def test_network_prune(live: Live) -> None:
    nets = [unique("nprune-") for _ in range(2)]
    ids = [await docker("network", "create", "--label", f"{LABEL}=1", n) for n in nets]
    await _seen_without_event(live)
    await live.wait_for(lambda s: all(i in s.networks for i in ids))
    await docker("network", "prune", "-f", "--filter", f"label={LABEL}")
    await _seen_without_event(live)
    await live.wait_for(
        lambda s: not any(i in s.networks for i in ids), what="the pruned networks gone"
    )
