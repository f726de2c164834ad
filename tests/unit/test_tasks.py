"""The server's background tasks: supervised (a failure is logged and the task restarted),
and always cancelled on shutdown; the retention task prunes in steps when a log is over."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dockstate.server._app import retain
from dockstate.server._tasks import Supervisor


async def test_a_task_that_fails_is_logged_in_one_line_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    again = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise OSError("disk went away")
        again.set()
        await asyncio.Event().wait()  # runs on, as a healthy task does

    tasks = Supervisor()
    with caplog.at_level(logging.ERROR, "dockstate.server"):
        tasks.start("dockstate-retention", flaky)
        await asyncio.wait_for(again.wait(), 5)
    assert runs == [0, 1]
    assert tasks.restarts == {"dockstate-retention": 1}
    [record] = [r for r in caplog.records if "dockstate-retention" in r.getMessage()]
    assert "disk went away" in record.getMessage()
    assert "\n" not in record.getMessage()
    await tasks.close()


async def test_close_cancels_every_task_whatever_they_did() -> None:
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.append(name)

    async def failing_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.append("rude")
            raise RuntimeError("a task that raises as it is cancelled")

    tasks = Supervisor()
    tasks.start("a", lambda: forever("a"))
    tasks.start("rude", failing_on_cancel)
    await asyncio.sleep(0)
    await tasks.close()  # does not raise: the rest of the shutdown runs
    assert sorted(cancelled) == ["a", "rude"]


class FakeStore:
    """What retain() uses of a Store: over_limit and prune(step)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.pruned: list[int | None] = []

    @property
    def over_limit(self) -> bool:
        return self.steps > 0

    def prune(self, *, step: int | None = None) -> int:
        self.pruned.append(step)
        if self.steps == 0:
            return 0
        self.steps -= 1
        return step or 1


async def test_retention_prunes_in_steps_once_a_log_is_over_its_limit() -> None:
    store = FakeStore(steps=3)
    task = asyncio.create_task(retain(store, check=0.01))  # type: ignore[arg-type]
    for _ in range(200):
        if store.steps == 0 and len(store.pruned) >= 4:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert store.steps == 0
    # Three steps that dropped something, then one that found nothing left to do.
    assert store.pruned[:4] == [2_000, 2_000, 2_000, 2_000]
