"""Operations (protocol.md §11): an action answers within a second, its outcome is kept and
announced, and the registry stays bounded."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

import pytest

from dockstate.engine._client import split_reference
from dockstate.errors import Conflict, EngineUnavailable
from dockstate.server._engines import Engine
from dockstate.server._forms import RunRequest, parse_port, parse_restart, parse_volume
from dockstate.server._operations import Operation, Operations, Reporter
from dockstate.server._rest import ProblemError
from dockstate.server._workflows import PROJECT_CONCURRENCY, _project_action


async def slow(seconds: float, error: Exception | None = None) -> str:
    await asyncio.sleep(seconds)
    if error is not None:
        raise error
    return "ok"


async def test_a_quick_call_is_done_at_once_with_its_result() -> None:
    ops = Operations(quick=0.5)
    heard: list[Operation] = []
    ops.listeners.append(heard.append)
    view, result = await ops.run("start", "web", slow(0))
    assert (view.status, result) == ("done", "ok")
    assert ops.get(view.operation) == view
    assert heard == []  # nothing changed after the answer


async def test_a_quick_refusal_is_the_engine_s_problem() -> None:
    ops = Operations(quick=0.5)
    with pytest.raises(ProblemError) as refused:
        await ops.run("remove", "web", slow(0, Conflict(409, "container is running")))
    assert refused.value.status_code == 409
    assert "running" in str(refused.value.detail)
    assert len(ops) == 0  # a refusal is an answer, not an operation


async def test_a_slow_call_answers_pending_then_announces_its_outcome() -> None:
    ops = Operations(quick=0.05)
    heard: list[Operation] = []
    ops.listeners.append(heard.append)
    view, result = await ops.run("stop", "web", slow(0.2))
    assert (view.status, result) == ("pending", None)
    await asyncio.sleep(0.3)
    assert [h.status for h in heard] == ["pending", "done"]
    assert ops.get(view.operation) == heard[-1]

    failing, _ = await ops.run("stop", "db", slow(0.2, EngineUnavailable("engine gone")))
    await asyncio.sleep(0.3)
    done = ops.get(failing.operation)
    assert done is not None
    assert done.status == "failed"
    assert done.error is not None
    assert done.error["status"] == 503
    assert done.error["detail"] == "engine gone"


async def test_finished_operations_are_forgotten_and_bounded() -> None:
    now = [0.0]
    ops = Operations(quick=0.5, keep=3, forget_after=60, clock=lambda: now[0])
    ids = [(await ops.run("start", f"c{n}", slow(0)))[0].operation for n in range(5)]
    assert len(ops) == 3  # the oldest finished ones went first
    assert ops.get(ids[0]) is None
    assert ops.get(ids[4]) is not None
    now[0] = 61
    assert ops.get(ids[4]) is None


async def test_close_cancels_what_still_runs() -> None:
    ops = Operations(quick=0.01)
    heard: list[Operation] = []
    ops.listeners.append(heard.append)
    view, _ = await ops.run("stop", "web", slow(30))
    await ops.close()
    await asyncio.sleep(0)
    final = ops.get(view.operation)
    assert final is not None
    assert final.status == "failed"


async def test_progress_is_announced_at_most_once_per_interval_the_latest_last() -> None:
    ops = Operations(quick=0.05)
    ops.progress_interval = 0.1
    heard: list[Operation] = []
    ops.listeners.append(heard.append)

    async def reporting(reporter: Reporter) -> str:
        reporter.progress({"n": 0})  # before the answer: kept, not announced
        reporter.target("made-id")
        await asyncio.sleep(0.1)
        began = loop.time()
        for n in range(1, 31):  # 30 reports in 0.3 s
            reporter.progress({"n": n})
            await asyncio.sleep(0.01)
        reporting_took.append(loop.time() - began)
        await asyncio.sleep(0.15)
        return "ok"

    loop = asyncio.get_running_loop()
    reporting_took: list[float] = []
    view, _ = await ops.run_with("pull", "busybox", reporting)
    assert view.status == "pending"
    assert view.progress == {"n": 0}
    assert view.target == "made-id"
    for _ in range(500):
        if heard[-1].status != "pending":
            break
        await asyncio.sleep(0.01)
    statuses = [h.status for h in heard]
    assert statuses[0] == "pending"
    assert statuses[-1] == "done"
    progress = [h.progress["n"] for h in heard[1:-1] if h.progress]
    # About one per 0.1 s (however slow the machine made the reports), not 30.
    assert 1 <= len(progress) <= reporting_took[0] / 0.1 + 2, (progress, reporting_took)
    assert progress[-1] == 30  # the latest arrives (trailing)
    assert heard[-1].progress == {"n": 30}
    assert heard[-1].target == "made-id"
    ops.set_progress(view.operation, {"n": 99})  # finished: ignored
    ops.set_progress("unknown", {"n": 1})
    assert ops.get(view.operation) == heard[-1]


def test_image_references_split_as_the_pull_api_takes_them() -> None:
    assert split_reference("busybox") == ("busybox", "latest")
    assert split_reference("busybox:1.36") == ("busybox", "1.36")
    assert split_reference("127.0.0.1:5000/team/app") == ("127.0.0.1:5000/team/app", "latest")
    assert split_reference("127.0.0.1:5000/app:2") == ("127.0.0.1:5000/app", "2")
    assert split_reference("app@sha256:abc") == ("app", "sha256:abc")


def test_docker_run_forms() -> None:
    assert parse_port("8080:80").model_dump() == {
        "host_ip": "", "host_port": "8080", "container_port": 80, "protocol": "tcp",
    }  # fmt: skip
    assert parse_port("[::1]:53:53/udp").host_ip == "::1"
    assert parse_port("127.0.0.1::80").host_port == ""
    assert parse_port("80").key == "80/tcp"
    assert parse_restart("no") == {"Name": "", "MaximumRetryCount": 0}
    assert parse_restart("on-failure:5") == {"Name": "on-failure", "MaximumRetryCount": 5}
    assert parse_volume("data:/data:ro") == "data:/data:ro"
    for bad in ("[::1]:80", "[::1]53:53", "a:80", "80:0"):
        with pytest.raises(ValueError, match="port spec"):
            parse_port(bad)
    body = RunRequest.model_validate(
        {"image": "busybox", "env": ["A=secret"], "ports": ["80"]}
    ).engine_body()
    assert body["Env"] == ["A=secret"]
    assert "Cmd" not in body
    assert "secret" not in repr(RunRequest.model_validate({"image": "b", "env": ["A=secret"]}))


async def test_a_project_s_containers_are_acted_on_concurrently_with_a_bound() -> None:
    running, most = 0, 0

    class FakeDocker:
        async def container_action(self, cid: str, action: str, grace: int | None = None) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.05)
            running -= 1
            if cid == "c3":
                raise Conflict(409, "no")

    ctx = cast(Engine, SimpleNamespace(docker=FakeDocker()))
    ops = Operations(quick=5)
    containers = {f"c{i}": f"name-{i}" for i in range(10)}
    with pytest.raises(ProblemError) as failed:
        await ops.run_with(
            "stop", "projects/p", lambda r: _project_action(ctx, "p", "stop", containers, 1, r)
        )
    assert most == PROJECT_CONCURRENCY
    assert failed.value.status_code == 409
    assert "1 of 10 containers of project p failed to stop: name-3: no" in str(failed.value.detail)
    outcomes = failed.value.extra["containers"]
    assert [o["status"] for o in outcomes.values()].count("done") == 9
    assert outcomes["c3"]["error"]["detail"] == "no"
