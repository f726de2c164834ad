"""Compose project actions (protocol.md §11) on a real server and engine: start, stop,
restart and remove every container labelled com.docker.compose.project=<project>, as one
operation with each container's outcome in its progress; one container failing fails the
operation and says which; an unknown project is 404."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from harness import LABEL, TEST_IMAGE, docker, inspect, unique
from server_harness import ServerProcess, free_port, peer

from dockstate.protocol import OperationMessage

pytestmark = pytest.mark.integration

PROJECT_LABEL = "com.docker.compose.project"


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as client:
        yield client


async def member(project: str, *args: str, command: tuple[str, ...] = ("sleep", "300")) -> str:
    return await docker(
        "create", "--name", unique("proj-"), "--label", f"{LABEL}=1",
        "--label", f"{PROJECT_LABEL}={project}", *args, TEST_IMAGE, *command,
    )  # fmt: skip


async def until(api: httpx.AsyncClient, check: Callable[[dict[str, Any]], bool]) -> None:
    for _ in range(100):
        state = (await api.get("/api/v1/state")).json()["state"]
        if check(state):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the state did not show the project's containers as expected")


def all_in(ids: list[str], wanted: str) -> Callable[[dict[str, Any]], bool]:
    return lambda s: all(s["containers"].get(c, {}).get("state") == wanted for c in ids)


async def operation(api: httpx.AsyncClient, accepted: dict[str, Any]) -> dict[str, Any]:
    for _ in range(200):
        found: dict[str, Any] = (
            await api.get(f"/api/v1/operations/{accepted['operation']}")
        ).json()
        if found["status"] != "pending":
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the project's operation did not finish")


async def states(ids: list[str]) -> list[str]:
    return [c["State"]["Status"] for c in await inspect(*ids)]


async def test_start_stop_restart_remove_a_project(api: httpx.AsyncClient) -> None:
    project = unique("proj-")
    ids = [await member(project) for _ in range(5)]
    other = await member(unique("proj-"))  # another project's: untouched
    try:
        await until(api, all_in(ids, "created"))
        response = await api.post(f"/api/v1/projects/{project}/start")
        assert response.status_code == 202, response.text
        found = await operation(api, response.json())
        assert (found["action"], found["target"], found["status"]) == (
            "start",
            f"projects/{project}",
            "done",
        )
        progress = found["progress"]
        assert set(progress["containers"]) == set(ids)
        assert all(o["status"] == "done" for o in progress["containers"].values())
        assert (progress["done"], progress["failed"], progress["total"]) == (5, 0, 5)
        assert await states(ids) == ["running"] * 5
        assert await states([other]) == ["created"]
        await until(api, all_in(ids, "running"))

        response = await api.post(f"/api/v1/projects/{project}/restart", params={"t": 0})
        assert response.status_code == 202
        assert (await operation(api, response.json()))["status"] == "done"
        assert await states(ids) == ["running"] * 5

        response = await api.post(f"/api/v1/projects/{project}/stop", params={"t": 0})
        assert (await operation(api, response.json()))["status"] == "done"
        assert await states(ids) == ["exited"] * 5
        await until(api, all_in(ids, "exited"))

        await docker("start", ids[0])
        await until(api, all_in(ids[:1], "running"))
        response = await api.delete(f"/api/v1/projects/{project}", params={"t": 0})
        assert (await operation(api, response.json()))["status"] == "done"
        assert await docker("ps", "-aq", "--filter", f"label={PROJECT_LABEL}={project}") == ""
        await until(api, lambda s: not set(ids) & set(s["containers"]))
        gone = await api.post(f"/api/v1/projects/{project}/start")
        assert gone.status_code == 404
    finally:
        await docker("rm", "-f", *ids, other, check=False)


async def test_one_failure_fails_the_operation_with_each_outcome(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    project, port = unique("proj-"), free_port()
    holder = await docker(
        "run", "-d", "--label", f"{LABEL}=1", "-p", f"127.0.0.1:{port}:80",
        TEST_IMAGE, "sleep", "300",
    )  # fmt: skip
    good = await member(project)
    bad = await member(project, "-p", f"127.0.0.1:{port}:80")
    slow = await member(project, command=("sleep", "300"))  # sleep ignores SIGTERM: waits t
    try:
        await until(api, all_in([good, bad, slow], "created"))
        response = await api.post(f"/api/v1/projects/{project}/start")
        if response.status_code == 202:  # the engine took over a second: the operation says
            found = await operation(api, response.json())
            assert found["status"] == "failed"
            problem = found["error"]
            assert found["progress"]["failed"] == 1
            assert found["progress"]["containers"][bad]["status"] == "failed"
        else:
            assert response.status_code == 409, response.text
            problem = response.json()
        assert problem["status"] == 409
        assert "1 of 3 containers" in problem["detail"]
        assert "already allocated" in problem["detail"]
        assert problem["containers"][bad]["status"] == "failed"
        assert problem["containers"][good]["status"] == "done"

        # A slow one (stops waiting out their grace period): pending, then its outcome over
        # the WebSocket, with each container's in the progress.
        async with peer(server) as p:
            await p.send({"type": "subscribe", "id": "s", "filter": {"ids": [good]}})
            await p.recv_until("snapshot")
            response = await api.post(f"/api/v1/projects/{project}/stop", params={"t": 2})
            assert response.status_code == 202, response.text
            accepted = response.json()
            assert accepted["status"] == "pending"
            seen: list[dict[str, Any]] = []
            while not seen or seen[-1]["status"] == "pending":
                message = await p.recv_until("operation", 10)
                OperationMessage.model_validate(message)
                seen.append(message)
            final = seen[-1]
            assert final["operation"] == accepted["operation"]
            assert final["status"] == "done"  # stopping a stopped container is no failure
            assert set(final["progress"]["containers"]) == {good, bad, slow}
    finally:
        await docker("rm", "-f", holder, good, bad, slow, check=False)


async def test_unknown_project_is_404(api: httpx.AsyncClient) -> None:
    for method, path in [
        ("POST", "/api/v1/projects/dst-no-such-project/start"),
        ("POST", "/api/v1/projects/dst-no-such-project/stop"),
        ("POST", "/api/v1/projects/dst-no-such-project/restart"),
        ("DELETE", "/api/v1/projects/dst-no-such-project"),
    ]:
        response = await api.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "dst-no-such-project" in response.json()["detail"]
    bad = await api.post("/api/v1/projects/x/start", params={"t": -1})
    assert bad.status_code == 422


async def test_the_python_client_acts_on_a_project(server: ServerProcess) -> None:
    from dockstate.client import Client
    from dockstate.errors import NotFound

    project = unique("proj-")
    ids = [await member(project) for _ in range(2)]
    try:
        async with Client(server.url, server.token) as client:
            for _ in range(100):
                state = await client.state()
                if all(c in state["state"]["containers"] for c in ids):
                    break
                await asyncio.sleep(0.05)
            accepted = await client.project_action(project, "start")
            for _ in range(600):  # a loaded engine may take over the answer's second
                found = await client.operation(accepted["operation"])
                if found["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
            assert found["status"] == "done"
            assert await states(ids) == ["running"] * 2
            accepted = await client.remove_project(project, grace=0)
            assert accepted["status"] in ("done", "pending")
            with pytest.raises(ValueError, match="unknown project action"):
                await client.project_action(project, "explode")
            with pytest.raises(NotFound):
                await client.project_action("dst-no-such-project", "stop")
    finally:
        await docker("rm", "-f", *ids, check=False)
