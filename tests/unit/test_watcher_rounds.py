"""The watcher's concurrent rounds, against a scripted engine whose inspects answer when told
to: something a real engine does only by accident (a slow inspect during a stop)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from dockstate.engine import Dialect, DockerClient, Watcher, format_since
from dockstate.state import ChangeBatch, Container, EngineInfo, EngineState

CID = "c" * 64
#: Events' times: after the inspects' FinishedAt (00:01:00), before the newer ones' (00:02:00).
T = 1_767_225_690 * 10**9  # 2026-01-01T00:01:30Z


def inspect_data(
    state: str, *, exit_code: int = 0, policy: str = "no", finished: str = "2026-01-01T00:01:00Z"
) -> dict[str, Any]:
    return {
        "Id": CID,
        "Name": "/web",
        "Image": "sha256:img",
        "Created": "2026-01-01T00:00:00Z",
        "Config": {"Image": "app", "Labels": {}},
        "State": {"Status": state, "ExitCode": exit_code, "FinishedAt": finished},
        "HostConfig": {"RestartPolicy": {"Name": policy}},
    }


class ScriptedEngine:
    """Just enough of DockerClient: one container, events pushed by the test, and inspects
    that wait for :meth:`answer`."""

    host = "unix:///scripted"
    dialect = Dialect()  # Docker's

    def __init__(self, first: dict[str, Any], *, hold_load: bool = False) -> None:
        self.events_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pending: asyncio.Queue[asyncio.Future[dict[str, Any] | None]] = asyncio.Queue()
        self.first = first
        self.loaded = hold_load  # held: the load's own inspect waits for an answer too
        self.since: list[str | None] = []  # of each events() call
        self.listings = 0
        self.auto: dict[str, Any] | None = None  # when set, every inspect answers it at once

    async def ping(self) -> float:
        return 0.0

    async def negotiate(self) -> dict[str, Any]:
        return {"ApiVersion": "1.41"}

    async def info(self) -> dict[str, Any]:
        return {}

    async def list_containers(self) -> list[dict[str, Any]]:
        self.listings += 1
        state = self.first["State"]["Status"]
        return [{"Id": CID, "Names": ["/web"], "Image": "app", "ImageID": "sha256:img",
                 "State": state, "Status": state.capitalize(), "Created": 1767225600}]  # fmt: skip

    async def list_images(self) -> list[dict[str, Any]]:
        return []

    async def list_volumes(self) -> list[dict[str, Any]]:
        return []

    async def list_networks(self) -> list[dict[str, Any]]:
        return []

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        if not self.loaded:
            self.loaded = True
            return self.first
        if self.auto is not None:
            return self.auto
        answer: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        await self.pending.put(answer)
        return await answer

    @contextlib.asynccontextmanager
    async def events(
        self, since: str | None = None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        self.since.append(since)

        async def stream() -> AsyncIterator[dict[str, Any]]:
            while True:
                yield await self.events_queue.get()
                await asyncio.sleep(0)  # as a socket would, now and then

        yield stream()

    def push(self, action: str, nano: int, actor: str = CID, **attributes: str) -> None:
        self.events_queue.put_nowait(
            {"Type": "container", "Action": action, "timeNano": T + nano,
             "Actor": {"ID": actor, "Attributes": attributes}}
        )  # fmt: skip


async def _until(check: Any) -> None:
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110 (an in-memory predicate, checked until true)
            await asyncio.sleep(0.001)


async def _next(pending: asyncio.Queue[asyncio.Future[Any]]) -> asyncio.Future[Any]:
    """The next inspect the watcher started; fails when it starts none."""
    async with asyncio.timeout(5):
        return await pending.get()


async def _running(engine: ScriptedEngine, state: EngineState) -> asyncio.Task[None]:
    watcher = Watcher(state, cast(DockerClient, engine), coalesce_window=0)
    task = asyncio.create_task(watcher.run())
    # Listed, then inspected (the inspect alone knows finished_at).
    await _until(lambda: CID in state.containers and state.containers[CID].finished_at is not None)
    return task


async def test_an_older_read_never_overwrites_a_newer_one() -> None:
    engine, state = ScriptedEngine(inspect_data("created")), EngineState()
    task = await _running(engine, state)
    engine.push("start", 1)
    slow = await _next(engine.pending)  # round 1's inspect: the engine is busy with it
    engine.push("die", 2, exitCode="0")
    fast = await _next(engine.pending)  # round 2's inspect did not wait for round 1
    fast.set_result(inspect_data("exited", finished="2026-01-01T00:02:00Z"))
    await _until(lambda: state.containers[CID].finished_at == "2026-01-01T00:02:00Z")
    slow.set_result(inspect_data("running"))  # an older view of the engine, answered late
    await asyncio.sleep(0.05)
    assert state.containers[CID].state == "exited"
    task.cancel()


async def test_a_die_shows_exited_before_its_inspect_answers() -> None:
    engine, state = ScriptedEngine(inspect_data("running")), EngineState()
    task = await _running(engine, state)
    engine.push("die", 1, exitCode="137")
    inspect = await _next(engine.pending)
    shown = state.containers[CID]  # the inspect has not answered yet
    assert (shown.state, shown.exit_code, shown.status) == ("exited", 137, "Exited (137)")
    inspect.set_result(inspect_data("exited", exit_code=137, finished="2026-01-01T00:02:00Z"))
    await _until(lambda: state.containers[CID].finished_at == "2026-01-01T00:02:00Z")
    task.cancel()


async def test_what_events_tell_shows_before_their_inspects_answer() -> None:
    """A create, pause, unpause, rename and destroy each show at once; each inspect, when it
    answers, confirms and completes (here: a create the engine no longer knows is removed)."""
    engine, state = ScriptedEngine(inspect_data("running")), EngineState()
    task = await _running(engine, state)
    new = "d" * 64
    engine.push("create", 1, new, name="api", image="app:1", **{"com.docker.compose.project": "p"})
    created = await _next(engine.pending)
    shown = state.containers[new]
    assert (shown.name, shown.image, shown.state, shown.status) == ("api", "app:1", "created",
                                                                     "Created")  # fmt: skip
    assert (shown.labels, shown.compose_project) == ({"com.docker.compose.project": "p"}, "p")
    created.set_result(None)  # the engine says it is gone: the inspect wins
    await _until(lambda: new not in state.containers)

    for action, attributes, expected in [
        ("pause", {}, ("paused", "web")),
        ("unpause", {}, ("running", "web")),
        ("rename", {"name": "db", "oldName": "/web"}, ("running", "db")),
    ]:
        engine.push(action, 2, **attributes)
        inspect = await _next(engine.pending)
        shown = state.containers[CID]  # before the inspect answers
        assert (shown.state, shown.name) == expected
        data = inspect_data(expected[0])
        data["Name"] = "/" + expected[1]
        inspect.set_result(data)
        await asyncio.sleep(0.01)
    engine.push("destroy", 3)
    await _until(lambda: CID not in state.containers)
    await asyncio.sleep(0.05)
    assert engine.pending.empty()  # a destroy is final: nothing is inspected for it
    task.cancel()


async def test_an_event_older_than_what_an_inspect_showed_changes_nothing() -> None:
    """The inspect showed the container exited at 00:02:00; a start event of 00:01:30 that
    arrives after it (its round's inspect answered late) must not show it running."""
    engine = ScriptedEngine(inspect_data("exited", finished="2026-01-01T00:02:00Z"))
    state = EngineState()
    task = await _running(engine, state)
    engine.push("start", 1)
    inspect = await _next(engine.pending)
    assert state.containers[CID].state == "exited"
    engine.push("rename", 2, name="db", oldName="/other")  # from a name it no longer has
    engine.push("pause", 3)  # of a container that is not running
    await asyncio.sleep(0.05)
    assert (state.containers[CID].state, state.containers[CID].name) == ("exited", "web")
    inspect.set_result(inspect_data("exited", finished="2026-01-01T00:02:00Z"))
    task.cancel()


async def test_a_container_that_restarts_by_itself_waits_for_its_inspect() -> None:
    engine, state = ScriptedEngine(inspect_data("running", policy="always")), EngineState()
    task = await _running(engine, state)
    engine.push("die", 1, exitCode="1")
    inspect = await _next(engine.pending)
    assert state.containers[CID].state == "running"  # not "exited": the engine restarts it
    inspect.set_result(inspect_data("restarting", exit_code=1, policy="always"))
    await _until(lambda: state.containers[CID].state == "restarting")
    task.cancel()


async def test_a_die_before_the_loads_inspect_waits_for_its_own_inspect() -> None:
    """The listing does not tell a restart policy: until an inspect has, a ``die`` is not
    shown as ``exited`` (the engine may have the container ``restarting``)."""
    engine = ScriptedEngine(inspect_data("running", policy="always"), hold_load=True)
    state = EngineState()
    shown: list[str] = []

    def record(batch: ChangeBatch) -> None:
        shown.extend(c.obj.state for c in batch.changes if isinstance(c.obj, Container))

    state.subscribe(record)
    watcher = Watcher(state, cast(DockerClient, engine), coalesce_window=0)
    task = asyncio.create_task(watcher.run())
    detail = await _next(engine.pending)  # the load's inspect of the container, held back
    assert state.containers[CID].state == "running"  # listed
    engine.push("die", 1, exitCode="1")
    inspect = await _next(engine.pending)  # the die's own inspect
    assert "exited" not in shown
    inspect.set_result(inspect_data("restarting", exit_code=1, policy="always"))
    await _until(lambda: state.containers[CID].state == "restarting")
    detail.set_result(inspect_data("running", policy="always"))  # older than the die's read
    await asyncio.sleep(0.05)
    assert state.containers[CID].state == "restarting"
    assert "exited" not in shown
    task.cancel()


async def test_a_full_backlog_is_dropped_and_the_watcher_resumes_and_relists() -> None:
    """Past ``max_backlog`` waiting events, the backlog is dropped and the session ends with
    a clear error; the next session resumes the stream after the last event handled and
    relists. Nothing is lost silently."""
    engine, state = ScriptedEngine(inspect_data("running")), EngineState()
    statuses: list[tuple[str, str | None]] = []

    def record(batch: ChangeBatch) -> None:
        statuses.extend(
            (c.obj.status, c.obj.last_error) for c in batch.changes if isinstance(c.obj, EngineInfo)
        )

    state.subscribe(record)
    watcher = Watcher(
        state, cast(DockerClient, engine), coalesce_window=0, max_backlog=5, backoff_initial=0.01
    )
    task = asyncio.create_task(watcher.run())
    try:
        await _until(lambda: CID in state.containers and state.containers[CID].finished_at)
        listings = engine.listings
        engine.push("start", 1)
        held = [await _next(engine.pending)]
        engine.push("start", 2)
        held.append(await _next(engine.pending))  # two rounds in flight
        # Events no longer wait for a round; a watcher that cannot keep up (here: it waits a
        # second to coalesce) falls behind the stream.
        watcher.coalesce_window = 1.0
        for nano in range(3, 21):
            engine.push("start", nano)
        await _until(lambda: watcher.stats.backlog_overflows == 1)
        assert watcher._queue.qsize() <= 1  # the backlog dropped: at most the error waits
        engine.auto = inspect_data("running")  # from now on the engine answers at once
        for answer in held:
            answer.set_result(inspect_data("running"))
        await _until(lambda: len(engine.since) == 2 and statuses[-1][0] == "connected")
        # Events 1 to 3 were handled (3 waited to coalesce); 4 to 8 waited when the 9th
        # came: all six dropped, and read again from the engine (a real one replays 3 on).
        assert engine.since[-1] == format_since(T + 3)
        assert engine.listings == listings + 1  # relisted
        disconnected = [error for status, error in statuses if status == "disconnected"]
        assert len(disconnected) == 1
        assert "fell 6 events behind the engine" in (disconnected[0] or "")  # 4 to 9
    finally:
        task.cancel()


async def test_a_reconciliation_leaves_an_object_with_an_event_in_flight_to_it() -> None:
    """The listing says exited, but an event about the container arrived after the listing
    was requested: the state keeps the newer truth and no repair is counted."""
    engine = ScriptedEngine(inspect_data("running"))
    state = EngineState()
    watcher = Watcher(state, cast(DockerClient, engine), coalesce_window=0)
    await watcher.load_once()
    assert state.containers[CID].state == "running"
    engine.first = inspect_data("exited")  # what the (older) listing now says
    engine.auto = inspect_data("exited")

    since = watcher._handled
    watcher._arrived({"Type": "container", "Action": "start", "Actor": {"ID": CID}})
    assert await watcher.reconcile(since) == 0
    assert state.containers[CID].state == "running"  # not moved backwards
    assert watcher.stats.repairs == 0
    assert watcher.stats.reconcile_skipped == 1

    # Once that event is handled (its own re-read committed), the same disagreement with no
    # event in flight is a repair, counted and committed.
    watcher._handled = watcher._arrivals
    assert await watcher.reconcile() == 1
    assert state.containers[CID].state == "exited"
    assert watcher.stats.repairs == 1


async def test_a_reconciliation_leaves_an_object_whose_read_is_pending_to_it() -> None:
    """Both rounds wait on slow inspects, so the third event's read has not even started: the
    (newer) listing that disagrees with the state is no loss of the stream, and no repair."""
    engine, state = ScriptedEngine(inspect_data("running", policy="always")), EngineState()
    watcher = Watcher(state, cast(DockerClient, engine), coalesce_window=0)
    task = asyncio.create_task(watcher.run())
    await _until(lambda: CID in state.containers and state.containers[CID].finished_at)
    held = []
    for nano in (1, 2):  # a die of a container that restarts by itself waits for its inspect
        engine.push("die", nano, exitCode="1")
        held.append(await _next(engine.pending))
    engine.push("die", 3, exitCode="1")
    await _until(lambda: watcher.stats.events_received == 3)
    engine.first = inspect_data("exited", policy="always")  # what the listing says now
    assert await watcher.reconcile() == 0
    assert watcher.stats.reconcile_skipped == 1
    assert state.containers[CID].state == "running"  # left to the pending read
    engine.auto = inspect_data("exited", policy="always")
    for answer in held:
        answer.set_result(engine.auto)
    await _until(lambda: state.containers[CID].state == "exited")
    assert watcher.stats.repairs == 0
    task.cancel()


async def test_a_cancel_as_an_event_arrives_stops_the_watcher() -> None:
    """Cancelling the watcher in the very step an event reaches its queue ends it. Python
    3.11's ``asyncio.wait_for`` returned the event and swallowed such a cancel, and the watcher
    went on forever: a test run hung on it (and a server's shutdown would have)."""
    engine, state = ScriptedEngine(inspect_data("running")), EngineState()
    engine.auto = inspect_data("running")
    watcher = Watcher(state, cast(DockerClient, engine), coalesce_window=0)
    task = asyncio.create_task(watcher.run())
    await _until(lambda: watcher.connected.is_set())
    await asyncio.sleep(0.01)  # the watcher waits for its next event
    # What the pump does with an event from the stream, then the cancel, in one step.
    watcher._queue.put_nowait(
        {"Type": "container", "Action": "start", "timeNano": 1, "Actor": {"ID": CID}}
    )
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done, "the cancelled watcher is still running"
    assert task.cancelled()
