"""Two engines in one server (protocol.md §8): the shared engine as ``local`` and a private
dockerd of this test's own as ``second`` (its own socket, data root, exec root, pid file and
bridge: private_engine.py). A container on each shows only on its own engine's subscription;
the second engine killed (SIGKILL, by its pid), the first engine's changes still arrive as
promptly; the second comes back and its subscription converges on it."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from fault_harness import LABEL_FILTER, docker_at, remove_prefixed, report, run_at
from harness import LABEL, comparable, differences, engine_truth
from private_engine import PrivateEngine, unavailable
from server_harness import start_server

from dockstate.client import Client, Watch

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(unavailable() is not None, reason=f"no private dockerd: {unavailable()}"),
]

#: How soon a change on the engine that stayed up must reach its subscription, whatever the
#: other engine does (the same bound as the single-engine tests').
SHOWN_WITHIN = 3.0
State = dict[str, Any]


async def until(
    watch: Watch,
    check: Callable[[State], bool],
    what: str,
    timeout: float = 30.0,  # noqa: ASYNC109 (a deadline for a condition, not a cancel scope)
) -> State:
    """The first state of ``watch`` (its current one included) for which ``check`` holds."""
    if watch.state is not None and check(watch.state):
        return watch.state
    try:
        async with asyncio.timeout(timeout):
            async for state in watch:
                if check(state):
                    return state
    except TimeoutError:
        raise AssertionError(f"{what}: not within {timeout} s") from None
    raise AssertionError(f"{what}: the watch ended")


async def shown_after(watch: Watch, host: str | None, name: str) -> float:
    """Seconds from asking ``host`` for volume ``name`` to ``watch`` holding it."""
    started = time.monotonic()
    await docker_at(host, "volume", "create", "--label", f"{LABEL}=1", name)
    await until(watch, lambda s: name in s["volumes"], f"volume {name} shown", SHOWN_WITHIN)
    return time.monotonic() - started


async def converged(watch: Watch, host: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait until ``watch``'s state equals a fresh listing of the engine at ``host``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        truth = await engine_truth(host)
        if watch.state is not None and not differences(comparable(watch.state), truth):
            return
        if loop.time() > deadline:
            diff = differences(comparable(watch.state or {}), truth)
            raise AssertionError("not converged:\n  " + "\n  ".join(diff))
        # Let the watch take what the server sent meanwhile.
        try:
            async with asyncio.timeout(0.5):
                await anext(watch)
        except TimeoutError:
            pass


async def test_two_engines_one_killed(prefix: str) -> None:
    engine = PrivateEngine()
    server = None
    try:
        await engine.start()
        await engine.load_test_image()
        second = engine.host
        server = await asyncio.to_thread(
            start_server,
            "--engine", "local=unix:///var/run/docker.sock", "--engine", f"second={second}",
            "--reconcile-interval", "5",
        )  # fmt: skip
        async with (
            Client(server.url, server.token) as local_client,
            Client(server.url, server.token, engine="second") as second_client,
            local_client.watch(LABEL_FILTER) as local,
            second_client.watch() as remote,
        ):
            # A container on each engine shows on its own engine's subscription only.
            on_local = await run_at(None, f"{prefix}local", "--network", "none")
            on_second = await run_at(second, f"{prefix}second", "--network", "none")
            await until(local, lambda s: on_local in s["containers"], "local's container")
            await until(remote, lambda s: on_second in s["containers"], "second's container")
            assert on_second not in local.state["containers"]  # type: ignore[index]
            assert on_local not in remote.state["containers"]  # type: ignore[index]
            assert local.last_message["engine"] == "local"  # type: ignore[index]
            assert remote.last_message["engine"] == "second"  # type: ignore[index]
            assert local.welcome is not None
            assert [e["id"] for e in local.welcome["engines"]] == ["local", "second"]

            before = [await shown_after(local, None, f"{prefix}before{i}") for i in range(3)]

            await engine.kill()
            await until(
                remote,
                lambda s: s["engine_info"]["status"] == "disconnected",
                "the second engine seen gone",
            )
            listing = await local_client.engines()
            assert listing["engines"][0]["status"] == "connected"
            assert listing["engines"][1]["status"] in ("down", "connecting")
            # The engine that stayed up is as prompt as before, while the other is down.
            during = [await shown_after(local, None, f"{prefix}during{i}") for i in range(3)]

            await engine.start()  # its containers were stopped with it
            await until(
                remote,
                lambda s: s["engine_info"]["status"] == "connected",
                "the second engine back",
            )
            after = await run_at(second, f"{prefix}after", "--network", "none")
            await until(remote, lambda s: after in s["containers"], "second's new container")
            await converged(remote, second)
            assert remote.state is not None
            assert remote.state["containers"][on_second]["state"] == "exited"
            assert on_local not in remote.state["containers"]
        report(
            "two engines, one killed",
            kills=engine.kills,
            shown_before_ms=round(statistics.median(before) * 1000),
            shown_during_ms=round(statistics.median(during) * 1000),
            worst_during_ms=round(max(during) * 1000),
        )
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await remove_prefixed(prefix)
        await engine.destroy()
