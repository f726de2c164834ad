"""Faults between dockstate and the Docker engine: events dropped, duplicated, delayed and
reordered, the event stream cut again and again, the engine gone for seconds. In every case a
real `dockstate serve` watches the shared engine through a fault-injecting proxy
(docker_proxy.py), real clients (dockstate.Client watches) follow it, and the test checks that
every client converges to the engine's truth with no gap it was not told about.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from docker_proxy import DockerProxy, Event
from fault_harness import (
    LABEL_FILTER,
    Follow,
    assert_converged,
    churn,
    docker_at,
    engine_link,
    metrics,
    outages,
    report,
    run_at,
    status_history,
    wait_until,
    whole_engine,
)
from harness import LABEL, engine_truth
from private_engine import PrivateEngine, unavailable
from server_harness import ServerProcess, start_server

from dockstate.client import Client
from dockstate.errors import ServerError

pytestmark = pytest.mark.integration


# -- helpers ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(*args: str) -> AsyncIterator[tuple[ServerProcess, Client]]:
    """`dockstate serve` with ``args``, and a client of it. Started in a thread: the proxy
    must keep serving on this loop while the server loads the engine through it."""
    server = await asyncio.to_thread(start_server, *args)
    try:
        async with Client(server.url, server.token) as client:
            yield server, client
    finally:
        await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def following(client: Client) -> AsyncIterator[list[Follow]]:
    """Two clients following the server: one sees everything, one only this session's
    objects (a filter objects enter and leave). Both have their first snapshot."""
    follows = [Follow(client, name="unfiltered"), Follow(client, LABEL_FILTER, name="labelled")]
    try:
        for follow in follows:
            await follow.wait_for(lambda s: True, "a snapshot")
        yield follows
    finally:
        for follow in follows:
            await follow.close()


def naming(prefix: str) -> Callable[[Event], bool]:
    """A predicate true for every event about an object named ``prefix``…, including the
    events that other objects emit about such a container (network connect, volume mount)."""
    ids: set[str] = set()

    def matches(event: Event) -> bool:
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        ident = str(actor.get("ID") or "")
        if (
            ident.startswith(prefix)
            or str(attributes.get("name", "")).startswith(prefix)
            or attributes.get("container") in ids
        ):
            if event.get("Type") == "container":
                ids.add(ident)
            return True
        return False

    return matches


# -- dropped events ---------------------------------------------------------------------------


async def test_dropped_events_are_repaired_by_reconciliation(
    proxy: DockerProxy, prefix: str
) -> None:
    # Every event about this test's objects is lost: only reconciliation can tell dockstate.
    proxy.faults.drop = naming(prefix)
    async with (
        served("--docker-host", proxy.host, "--reconcile-interval", "1") as (server, client),
        following(client) as follows,
    ):
        before = await metrics(server.url, server.token)
        cids = [await run_at(None, f"{prefix}c{i}") for i in range(3)]
        await docker_at(None, "volume", "create", "--label", f"{LABEL}=1", f"{prefix}v")
        await docker_at(None, "network", "create", "--label", f"{LABEL}=1", f"{prefix}n")
        state = await assert_converged(client, follows)
        assert set(cids) <= set(state["containers"])
        created = await metrics(server.url, server.token)
        repairs = created['dockstate_reconcile_repairs_total{engine="local"}']
        assert (
            repairs - before['dockstate_reconcile_repairs_total{engine="local"}'] >= 5
        )  # 3 + volume + network
        dropped_on_create = len(proxy.stats.dropped)
        assert dropped_on_create >= 3 * 3 + 2  # create, connect, start per container; +2

        await docker_at(None, "stop", "-t", "0", cids[0])
        await docker_at(None, "rename", cids[1], f"{prefix}c1r")
        await docker_at(None, "network", "connect", f"{prefix}n", cids[1])
        await docker_at(None, "rm", "-f", cids[2])
        await docker_at(None, "volume", "rm", f"{prefix}v")
        state = await assert_converged(client, follows)
        assert state["containers"][cids[0]]["state"] == "exited"
        assert state["containers"][cids[1]]["name"] == f"{prefix}c1r"
        assert f"{prefix}n" in state["containers"][cids[1]]["networks"]
        assert cids[2] not in state["containers"]
        after = await metrics(server.url, server.token)
        assert after['dockstate_reconcile_repairs_total{engine="local"}'] - repairs >= 4
        # The repairs reached the clients as changes that the reconciliation caused, and
        # none of the dropped events got through.
        causes = [
            c.get("cause") or {} for c in follows[0].follower.applied_changes if c["id"] in cids
        ]
        assert {"type": "reconcile", "action": "periodic"} in causes
        dropped_at = {event.get("timeNano") for event in proxy.stats.dropped}
        assert not [cause for cause in causes if cause.get("time_nano") in dropped_at]
    report(
        "dropped",
        events_dropped=len(proxy.stats.dropped),
        repairs=after['dockstate_reconcile_repairs_total{engine="local"}'],
        reconciliations=after['dockstate_reconciliations_total{engine="local"}'],
        lost=0,
    )


# -- duplicated events ------------------------------------------------------------------------


async def test_duplicated_events_change_nothing_twice(proxy: DockerProxy, prefix: str) -> None:
    # Each event three times at once, and a fourth time 0.3 s later with a new timeNano (a
    # copy that deduplication by identity cannot recognize).
    proxy.faults.copies = 2
    proxy.faults.late_copy = 0.3
    async with (
        served("--docker-host", proxy.host) as (server, client),
        following(client) as follows,
    ):
        await churn(prefix, rounds=2)
        await docker_at(None, "network", "create", "--label", f"{LABEL}=1", f"{prefix}n")
        keep = await docker_at(None, "ps", "-aq", "--no-trunc", "-f", f"name={prefix}c0r")
        await docker_at(None, "start", keep)
        await docker_at(None, "network", "connect", f"{prefix}n", keep)
        await docker_at(None, "network", "disconnect", f"{prefix}n", keep)
        await docker_at(None, "network", "rm", f"{prefix}n")
        await assert_converged(client, follows)

        # Every event went out three times at once and once more later (these are counted
        # as they are made), and dockstate got all that was sent.
        assert proxy.stats.copies == 2 * len(proxy.stats.events)
        assert proxy.stats.late_copies == len(proxy.stats.events)
        sent = proxy.stats.events_out

        async def all_received() -> bool:
            found = await metrics(server.url, server.token)
            return found['dockstate_docker_events_total{engine="local"}'] >= sent

        await wait_until(all_received, "every copy reached dockstate")

        for follow in follows:
            assert not follow.follower.noops, follow.follower.noops
        # No container changed more often than the engine's events about it explain.
        ours = {
            e["Actor"]["ID"]
            for e in proxy.stats.events
            if e.get("Type") == "container" and naming(prefix)(e)
        }
        for cid in ours:
            told = {
                (e["timeNano"], e["Action"])
                for e in proxy.stats.events
                if (
                    e["Actor"]["ID"] == cid
                    or e["Actor"].get("Attributes", {}).get("container") == cid
                )
                and not str(e["Action"]).startswith("exec_")
            }
            changed = [
                c
                for c in follows[0].follower.applied_changes
                if c["kind"] == "container" and c["id"] == cid
            ]
            # At most two changes per event told: what the event says at once (the fast
            # path) and what its inspect completes later (docs/architecture.md, Atomic);
            # the three copies and the late one add none.
            assert 0 < len(changed) <= 2 * len(told), (cid, changed, told)
        await assert_converged(client, follows)
    report(
        "duplicated",
        engine_events=len(proxy.stats.events),
        copies=proxy.stats.copies,
        late_copies=proxy.stats.late_copies,
        spurious_changes=0,
        lost=0,
    )


# -- delayed and reordered events -------------------------------------------------------------


async def test_delayed_and_reordered_events_converge(proxy: DockerProxy, prefix: str) -> None:
    async with (
        served("--docker-host", proxy.host) as (server, client),
        following(client) as follows,
    ):
        proxy.faults.delay = 0.4  # every event late, in order
        await churn(prefix + "d", rounds=2)
        await assert_converged(client, follows)
        proxy.faults.delay, proxy.faults.jitter = 0.0, 0.5  # late by 0-0.5 s, out of order
        await churn(prefix + "j", rounds=2)
        await assert_converged(client, follows)
        final = await metrics(server.url, server.token)
    assert proxy.stats.delayed >= 20
    assert proxy.stats.overtaken > 0
    # The events alone did it: nothing needed a reconciliation or a reconnection.
    assert final['dockstate_reconcile_repairs_total{engine="local"}'] == 0
    assert final['dockstate_engine_disconnects_total{engine="local"}'] == 0
    report(
        "delayed",
        events_delayed=proxy.stats.delayed,
        overtaken=proxy.stats.overtaken,
        lost=0,
    )


# -- the event stream cut ---------------------------------------------------------------------


async def test_event_stream_cut_five_times_under_churn(proxy: DockerProxy, prefix: str) -> None:
    cuts = ["abort", "mid_event", "clean", "abort", "mid_event"]
    async with (
        served("--docker-host", proxy.host) as (server, client),
        following(client) as follows,
    ):
        start = (await client.state())["version"]
        stop = asyncio.Event()
        churning = asyncio.create_task(churn(prefix, stop=stop))
        try:
            for done, mode in enumerate(cuts):

                async def streaming() -> bool:
                    connected = await engine_link(server.url) == "connected"
                    return connected and proxy.open_streams == 1

                await wait_until(streaming, "the server streams events again")
                await asyncio.sleep(0.4)  # in the middle of the churn's events
                assert proxy.cut_streams(mode) == 1  # type: ignore[arg-type]

                async def counted(n: int = done + 1) -> bool:
                    found = await metrics(server.url, server.token)
                    return found['dockstate_engine_disconnects_total{engine="local"}'] == n

                await wait_until(counted, f"disconnect {done + 1} counted")
        finally:
            stop.set()
            operations = await churning
        await assert_converged(client, follows)
        history = await status_history(client, start)
        final = await metrics(server.url, server.token)
    assert outages(history) == len(cuts), history
    assert history[-1] == ("connected", None)  # connected again, and no stale error shown
    assert final['dockstate_engine_disconnects_total{engine="local"}'] == len(cuts)
    assert "disconnected" in follows[0].follower.statuses
    assert follows[0].follower.statuses[-1] == "connected"
    assert sum(proxy.stats.cuts.values()) == len(cuts)
    report(
        "stream cut",
        cuts=dict(proxy.stats.cuts),
        operations=operations,
        outages_reported=outages(history),
        client_saw="→".join(follows[0].follower.statuses),
        lost=0,
    )


# -- the engine gone --------------------------------------------------------------------------


async def test_engine_gone_for_seconds_then_back(proxy: DockerProxy, prefix: str) -> None:
    async with (
        served("--docker-host", proxy.host) as (server, client),
        following(client) as follows,
    ):
        start = (await client.state())["version"]
        kept = await run_at(None, f"{prefix}kept")
        gone = await run_at(None, f"{prefix}gone")
        unfiltered = follows[0]
        await unfiltered.wait_for(lambda s: gone in s["containers"], "the containers")

        await proxy.refuse()
        info = await unfiltered.wait_for(
            lambda s: s["engine_info"]["status"] == "disconnected", "the engine disconnected"
        )
        assert info["engine_info"]["last_error"]
        # While the engine is away: the engine changes, dockstate says it cannot act.
        await docker_at(None, "rm", "-f", gone)
        await docker_at(None, "stop", "-t", "0", kept)
        await run_at(None, f"{prefix}new")
        await docker_at(None, "volume", "create", "--label", f"{LABEL}=1", f"{prefix}v")
        with pytest.raises(ServerError) as refused:
            await client.start(kept)
        assert refused.value.status == 503
        assert await engine_link(server.url) == "disconnected"
        await unfiltered.wait_for(
            lambda s: "cannot reach the Docker engine" in (s["engine_info"]["last_error"] or ""),
            "why the engine is unreachable",
        )
        await asyncio.sleep(2)

        await proxy.accept()
        await unfiltered.wait_for(
            lambda s: s["engine_info"]["status"] == "connected", "the engine back", timeout=30
        )
        state = await assert_converged(client, follows)
        assert gone not in state["containers"]
        assert state["containers"][kept]["state"] == "exited"
        history = await status_history(client, start)
    assert outages(history) == 1, history
    assert history[-1] == ("connected", None)
    errors = [error for status, error in history if status == "disconnected"]
    assert all(errors)
    assert any(proxy.path in (e or "") for e in errors), errors
    assert unfiltered.follower.statuses[-1] == "connected"
    assert "disconnected" in unfiltered.follower.statuses
    report(
        "engine gone",
        outages=proxy.stats.engine_gone,
        seconds=2,
        statuses="→".join(status for status, _ in history),
        client_saw="→".join(unfiltered.follower.statuses),
        lost=0,
    )


# -- dockerd killed ---------------------------------------------------------------------------


@pytest.mark.skipif(unavailable() is not None, reason=f"no private dockerd: {unavailable()}")
async def test_private_dockerd_killed_and_restarted(prefix: str) -> None:
    # Never the shared engine: a dockerd of this test's own, killed with SIGKILL.
    engine = PrivateEngine()
    try:
        await engine.start()
        await engine.load_test_image()
        host = engine.host

        async def truth() -> dict[str, Any]:
            return await engine_truth(host)

        async with (
            served("--docker-host", host) as (_, client),
            following(client) as follows,
        ):
            start = (await client.state())["version"]
            ids = [await run_at(host, f"{prefix}c{i}", "--network", "none") for i in range(3)]
            await docker_at(host, "volume", "create", "--label", f"{LABEL}=1", f"{prefix}v")
            await assert_converged(client, follows, scope=whole_engine, truth=truth)

            await engine.kill()
            unfiltered = follows[0]
            state = await unfiltered.wait_for(
                lambda s: s["engine_info"]["status"] == "disconnected", "the engine gone"
            )
            assert state["engine_info"]["last_error"]
            await engine.start()  # the containers it ran are stopped by its restart
            await unfiltered.wait_for(
                lambda s: s["engine_info"]["status"] == "connected", "the engine back"
            )
            await docker_at(host, "rm", "-f", ids[0])
            await docker_at(host, "start", ids[1])
            await run_at(host, f"{prefix}after", "--network", "none")
            await docker_at(host, "volume", "rm", f"{prefix}v")
            state = await assert_converged(client, follows, scope=whole_engine, truth=truth)
            history = await status_history(client, start)
        containers = state["containers"]
        assert ids[0] not in containers
        assert containers[ids[1]]["state"] == "running"
        assert containers[ids[2]]["state"] == "exited"  # killed with its dockerd
        assert f"{prefix}v" not in state["volumes"]
        assert outages(history) == 1, history
        assert history[-1] == ("connected", None)
        assert "disconnected" in unfiltered.follower.statuses
        assert unfiltered.follower.statuses[-1] == "connected"
    finally:
        await engine.destroy()
    report(
        "dockerd killed",
        kills=engine.kills,
        starts=engine.starts,
        statuses="→".join(status for status, _ in history),
        lost=0,
    )
