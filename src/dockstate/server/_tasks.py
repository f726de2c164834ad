"""The server's background tasks: started by the lifespan, supervised, cancelled on exit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..backoff import Backoff

__all__ = ["Supervisor"]

log = logging.getLogger("dockstate.server")


class Supervisor:
    """Runs the lifespan's background tasks, each meant to run until cancelled.

    A task that raises, or returns, is logged in one line with its error and restarted after
    a backoff (0.5 s, doubling to 30 s, reset once it has run a minute). :meth:`close`
    cancels and awaits them all, whatever they did, so that the rest of the shutdown always
    runs.
    """

    #: A task that ran this long before failing starts again from the first delay.
    HEALTHY_AFTER = 60.0

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: How many times each task was restarted (for the metrics and the tests).
        self.restarts: dict[str, int] = {}

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run()`` under supervision as task ``name``."""
        self.restarts[name] = 0
        self._tasks[name] = asyncio.create_task(self._supervise(name, run), name=name)

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff(0.5, 30.0)
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        while True:
            started = loop.time()
            try:
                await run()
                problem = "ended"
            except Exception as err:
                if me is not None and me.cancelling():
                    # It failed while being cancelled: the cancellation still wins.
                    raise asyncio.CancelledError from err
                problem = f"failed: {err!r}"
            if loop.time() - started >= self.HEALTHY_AFTER:
                backoff.reset()
            delay = backoff.delay()
            log.error("background task %s %s; restarting it in %.1f s", name, problem, delay)
            self.restarts[name] += 1
            await asyncio.sleep(delay)

    async def close(self) -> None:
        """Cancel every task and wait for them (their errors are not raised)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
