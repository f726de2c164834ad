"""The watcher's concurrent rounds, against a scripted engine whose inspects answer when told
to: something a real engine does only by accident (a slow inspect during a stop)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from dockstate.engine import DockerClient, Watcher
from dockstate.state import EngineState

CID = "c" * 64


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

    def __init__(self, first: dict[str, Any]) -> None:
        self.events_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pending: asyncio.Queue[asyncio.Future[dict[str, Any] | None]] = asyncio.Queue()
        self.first = first
        self.loaded = False

    async def ping(self) -> float:
        return 0.0

    async def negotiate(self) -> dict[str, Any]:
        return {"ApiVersion": "1.41"}

    async def info(self) -> dict[str, Any]:
        return {}

    async def list_containers(self) -> list[dict[str, Any]]:
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
        answer: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        await self.pending.put(answer)
        return await answer

    @contextlib.asynccontextmanager
    async def events(
        self, since: str | None = None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async def stream() -> AsyncIterator[dict[str, Any]]:
            while True:
                yield await self.events_queue.get()

        yield stream()

    def push(self, action: str, nano: int, **attributes: str) -> None:
        self.events_queue.put_nowait(
            {"Type": "container", "Action": action, "timeNano": nano,
             "Actor": {"ID": CID, "Attributes": attributes}}
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


async def test_a_container_that_restarts_by_itself_waits_for_its_inspect() -> None:
    engine, state = ScriptedEngine(inspect_data("running", policy="always")), EngineState()
    task = await _running(engine, state)
    engine.push("die", 1, exitCode="1")
    inspect = await _next(engine.pending)
    assert state.containers[CID].state == "running"  # not "exited": the engine restarts it
    inspect.set_result(inspect_data("restarting", exit_code=1, policy="always"))
    await _until(lambda: state.containers[CID].state == "restarting")
    task.cancel()
