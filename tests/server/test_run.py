"""POST /api/v1/containers (protocol.md §11) on a real server and engine: a container run
with every docker-run form (checked with `docker inspect`), created only, its operation's
target the new id; every malformed form a 422 before anything is made; Docker's refusals
(unknown image, a taken name, a port already bound) as problem+json with nothing left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from harness import LABEL, TEST_IMAGE, docker, inspect, unique
from server_harness import ServerProcess, free_port

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as client:
        yield client


def labelled(**extra: Any) -> dict[str, Any]:
    return {"image": TEST_IMAGE, "labels": {LABEL: "1"}, **extra}


async def settled(api: httpx.AsyncClient, accepted: dict[str, Any]) -> dict[str, Any]:
    """The operation once finished (a loaded engine may take over the answer's second)."""
    for _ in range(600):
        found: dict[str, Any] = (
            await api.get(f"/api/v1/operations/{accepted['operation']}")
        ).json()
        if found["status"] != "pending":
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not finish")


async def run(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Run; return the 202 once its operation is done, with ``id`` the container's."""
    response = await api.post("/api/v1/containers", json=body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    if accepted["status"] == "pending":
        found = await settled(api, accepted)
        assert found["status"] == "done", found
        accepted = {**accepted, "status": "done", "id": found["target"]}
    return accepted


async def problem_of(api: httpx.AsyncClient, status: int, body: Any) -> dict[str, Any]:
    """The problem of a refused run: the answer's, or its operation's when it took longer."""
    response = await api.post("/api/v1/containers", json=body)
    if response.status_code == 202:
        found = await settled(api, response.json())
        assert found["status"] == "failed", found
        assert found["error"]["status"] == status, found
        failed: dict[str, Any] = found["error"]
        return failed
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["detail"]
    return problem


async def named(name: str) -> list[str]:
    """The ids of containers called ``name`` (none, or one)."""
    out = await docker("ps", "-aq", "--no-trunc", "--filter", f"name=^/{name}$")
    return out.split()


async def test_run_with_every_form(api: httpx.AsyncClient) -> None:
    name, volume, port = unique("run-"), unique("runvol-"), free_port()
    network = unique("runnet-")
    await docker("network", "create", "--label", f"{LABEL}=1", network)
    accepted = await run(
        api,
        labelled(
            name=name,
            command=["sleep", "300"],
            env=["DST_A=1", "DST_B=two words=and more"],
            ports=[f"127.0.0.1:{port}:80", "8125/udp"],
            volumes=[f"{volume}:/data", "/etc/hostname:/host-name:ro"],
            network=network,
            restart="on-failure:3",
            labels={LABEL: "1", "team": "shop"},
        ),
    )
    assert accepted["status"] == "done"
    cid = accepted["id"]
    try:
        (truth,) = await inspect(cid)
        assert truth["Name"] == f"/{name}"
        assert truth["State"]["Running"] is True
        assert truth["Config"]["Cmd"] == ["sleep", "300"]
        assert {"DST_A=1", "DST_B=two words=and more"} <= set(truth["Config"]["Env"])
        assert truth["Config"]["Labels"]["team"] == "shop"
        host = truth["HostConfig"]
        assert host["PortBindings"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        assert host["PortBindings"]["8125/udp"] == [{"HostIp": "", "HostPort": ""}]
        assert host["Binds"] == [f"{volume}:/data", "/etc/hostname:/host-name:ro"]
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert host["NetworkMode"] == network
        operation = (await api.get(f"/api/v1/operations/{accepted['operation']}")).json()
        assert (operation["action"], operation["target"], operation["status"]) == (
            "run",
            cid,
            "done",
        )
    finally:
        await docker("rm", "-f", cid)
        await docker("volume", "rm", volume)
        await docker("network", "rm", network)


async def test_run_created_only(api: httpx.AsyncClient) -> None:
    accepted = await run(api, labelled(start=False))
    (truth,) = await inspect(accepted["id"])
    assert truth["State"]["Status"] == "created"
    assert truth["Config"]["Image"] == TEST_IMAGE
    await docker("rm", accepted["id"])


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "image: Field required"),
        (labelled(image=""), "image"),
        (labelled(image="-bad"), "image"),
        (labelled(ports=["80:"]), "the container port must be a number"),
        (labelled(ports=["99999:80"]), "the host port must be a number from 1 to 65535"),
        (labelled(ports=["1.2.3:80:80"]), "is not an IP address"),
        (labelled(ports=["80/icmp"]), "the protocol must be tcp, udp or sctp"),
        (labelled(ports=["1:2:3:4"]), "want [ip:]host:container[/proto]"),
        (labelled(ports=[":80"]), "the host port is empty"),
        (labelled(volumes=["/data"]), "want source:target"),
        (labelled(volumes=["./rel:/data"]), "absolute host path or a volume name"),
        (labelled(volumes=["vol:data"]), "the target must be an absolute path"),
        (labelled(volumes=["vol:/data:rx"]), "the mode must be ro or rw"),
        (labelled(restart="sometimes"), "want no, always, unless-stopped or on-failure[:N]"),
        (labelled(restart="on-failure:x"), "the retry count must be a whole number"),
        (labelled(restart="always:2"), "want no, always"),
        (labelled(env=["NOVALUE"]), "an environment item must be NAME=value"),
        (labelled(env=["=v"]), "name must be non-empty"),
        (labelled(name="bad name"), "name"),
        (labelled(network="bad net"), "network"),
        (labelled(command="sleep 1"), "command"),
        (labelled(unknown=1), "unknown"),
    ],
)
async def test_malformed_forms_are_422_and_nothing_is_made(
    api: httpx.AsyncClient, body: dict[str, Any], says: str
) -> None:
    marker = unique("bad-")
    body = {**body, "labels": {LABEL: "1", marker: "1"}} if body else body
    problem = await problem_of(api, 422, body)
    assert says in problem["detail"], problem
    assert await docker("ps", "-aq", "--filter", f"label={marker}") == ""


async def test_an_env_value_is_never_in_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/containers", json=labelled(env=["GOOD=s3cr3t-one", "BAD s3cr3t-two"])
    )
    assert response.status_code == 422
    assert "s3cr3t" not in response.text


async def test_unknown_image_is_404(api: httpx.AsyncClient) -> None:
    problem = await problem_of(api, 404, labelled(image="dst-no-such-image:1"))
    assert "No such image" in problem["detail"]


async def test_a_taken_name_is_409_with_dockers_message(api: httpx.AsyncClient) -> None:
    name = unique("run-")
    first = await run(api, labelled(name=name, start=False))
    try:
        problem = await problem_of(api, 409, labelled(name=name))
        assert "is already in use" in problem["detail"]
        assert await named(name) == [first["id"]]
    finally:
        await docker("rm", "-f", first["id"])


async def test_a_port_already_bound_fails_and_leaves_nothing(api: httpx.AsyncClient) -> None:
    port = free_port()
    holder = await run(api, labelled(ports=[f"127.0.0.1:{port}:80"], command=["sleep", "300"]))
    name = unique("run-")
    try:
        problem = await problem_of(
            api, 409, labelled(name=name, ports=[f"127.0.0.1:{port}:80"], command=["sleep", "9"])
        )
        assert "already allocated" in problem["detail"] or "in use" in problem["detail"]
        assert await named(name) == []  # the created container was removed
    finally:
        await docker("rm", "-f", holder["id"])


async def test_the_python_client_runs(server: ServerProcess) -> None:
    from dockstate.client import Client

    async with Client(server.url, server.token) as client:
        accepted = await client.run(
            TEST_IMAGE, command=["sleep", "300"], labels={LABEL: "1"}, start=False
        )
        for _ in range(600):
            found = await client.operation(accepted["operation"])
            if found["status"] != "pending":
                break
            await asyncio.sleep(0.05)
        assert found["status"] == "done"
        accepted["id"] = found["target"]
        (truth,) = await inspect(accepted["id"])
        assert truth["Config"]["Cmd"] == ["sleep", "300"]
    await docker("rm", "-f", accepted["id"])
