"""POST /api/v1/images/pull (protocol.md §11) from a real registry on this machine
(registry_harness: Debian's docker-registry on a loopback port of the test's own, which Docker
takes as insecure by default, so the engine needs no flag), the test images pushed to it once
and removed locally. Between the engine and the registry a throttling proxy of the test's own
makes a pull last a few seconds, so its progress can be watched: per layer, at most a few
times a second, then `done` and the image in the state. An unknown image, an unreachable
registry and a stream that ends in an error fail with Docker's message."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from harness import LABEL
from registry_harness import Proxy, Registry, running_registry
from server_harness import ServerProcess, docker, free_port, peer

from dockstate.protocol import OperationMessage

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with running_registry(("main", "broken"), f"{LABEL}=1") as running:
        yield running


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as client:
        yield client


async def image_tags(api: httpx.AsyncClient) -> set[str]:
    state = (await api.get("/api/v1/state")).json()["state"]
    return {tag for image in state["images"].values() for tag in image["tags"]}


async def shown(api: httpx.AsyncClient, tag: str) -> bool:
    """Whether the state shows an image tagged ``tag`` within 3 s."""
    for _ in range(60):
        if tag in await image_tags(api):
            return True
        await asyncio.sleep(0.05)
    return False


async def remove_local(tag: str) -> None:
    await asyncio.to_thread(
        subprocess.run, ["docker", "rmi", "-f", tag], capture_output=True, check=False
    )


async def test_a_pull_reports_its_progress_per_layer(
    server: ServerProcess, api: httpx.AsyncClient, registry: Registry
) -> None:
    async with Proxy(registry.port, rate=400_000) as proxy:  # about 4 s a layer
        image = f"127.0.0.1:{proxy.port}/{registry.repos['main']}"
        try:
            async with peer(server) as p:
                await p.send({"type": "subscribe", "id": "s", "filter": {"kinds": ["image"]}})
                await p.recv_until("snapshot")
                response = await api.post("/api/v1/images/pull", json={"image": image})
                assert response.status_code == 202, response.text
                accepted = response.json()
                assert accepted["status"] == "pending"
                messages: list[tuple[float, dict[str, Any]]] = []
                while not messages or messages[-1][1]["status"] == "pending":
                    message = await p.recv_until("operation", 60)
                    OperationMessage.model_validate(message)
                    assert message["operation"] == accepted["operation"]
                    assert (message["action"], message["target"]) == ("pull", image)
                    messages.append((time.monotonic(), message))
            final = messages[-1][1]
            assert final["status"] == "done", final
            assert final["progress"]["fraction"] == 1.0
            assert final["progress"]["image"] == image
            assert "Downloaded newer image" in final["progress"]["status"]
            layers = final["progress"]["layers"]
            assert len(layers) == 3  # busybox's, which the engine has, and the two new ones
            assert sorted(x["status"] for x in layers.values()) == [
                "Already exists",
                "Pull complete",
                "Pull complete",
            ]

            # It moved: layers downloading with their bytes, and fractions in between.
            pending = [m for _, m in messages if m["status"] == "pending"]
            downloading = [
                layer
                for m in pending
                if m["progress"]
                for layer in m["progress"]["layers"].values()
                if layer["status"] == "Downloading"
            ]
            assert downloading, "no progress while the layers downloaded"
            assert all(0 < x["current"] <= x["total"] for x in downloading)
            fractions = [m["progress"]["fraction"] for m in pending if m["progress"]]
            assert any(0 < f < 1 for f in fractions), fractions
            # At most a few times a second (4, and the status changes).
            took = messages[-1][0] - messages[0][0]
            assert len(messages) <= took * 4 + 3, (len(messages), took)
            assert took > 1.5

            assert await shown(api, image)  # the image reached the state
            found = (await api.get(f"/api/v1/operations/{accepted['operation']}")).json()
            assert found["status"] == "done"
            assert found["progress"] == final["progress"]
        finally:
            await remove_local(image)


async def test_the_python_client_pulls(server: ServerProcess, registry: Registry) -> None:
    from dockstate.client import Client

    image = f"{registry.host}/{registry.repos['main']}"
    try:
        async with Client(server.url, server.token) as client:
            accepted = await client.pull(image)
            for _ in range(600):
                found = await client.operation(accepted["operation"])
                if found["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
            assert found["status"] == "done", found
            for _ in range(100):
                state = await client.state()
                tags = {t for i in state["state"]["images"].values() for t in i["tags"]}
                if image in tags:
                    break
                await asyncio.sleep(0.05)
            assert image in tags
    finally:
        await remove_local(image)


async def test_an_unknown_image_is_404_with_dockers_message(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    image = f"{registry.host}/dst-no-such-image:1"
    response = await api.post("/api/v1/images/pull", json={"image": image})
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "manifest unknown" in response.json()["detail"] or "not found" in response.text


async def test_an_unreachable_registry_fails_with_dockers_message(
    api: httpx.AsyncClient,
) -> None:
    image = f"127.0.0.1:{free_port()}/dst-nowhere:1"
    response = await api.post("/api/v1/images/pull", json={"image": image})
    if response.status_code == 202:  # the engine took over a second to give up
        operation = response.json()["operation"]
        for _ in range(600):
            found = (await api.get(f"/api/v1/operations/{operation}")).json()
            if found["status"] != "pending":
                break
            await asyncio.sleep(0.05)
        assert found["status"] == "failed"
        problem = found["error"]
    else:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
    assert problem["status"] in (404, 500, 502), problem
    assert "connection refused" in problem["detail"], problem


async def test_a_stream_ending_in_an_error_fails_the_operation(
    server: ServerProcess, api: httpx.AsyncClient, registry: Registry
) -> None:
    repo = registry.repos["broken"]
    layers = registry.manifest(repo)["layers"]
    registry.delete_blob(layers[-1]["digest"])  # one of its own two
    # A delay on each connection to the registry: past the answer's second before the
    # engine has the manifest, so the failure comes as the stream's last line.
    async with Proxy(registry.port, rate=1_000_000, delay=1.2) as proxy:
        image = f"127.0.0.1:{proxy.port}/{repo}"
        try:
            response = await api.post("/api/v1/images/pull", json={"image": image})
            if response.status_code == 202:
                accepted = response.json()
                assert accepted["status"] == "pending"
                for _ in range(1200):
                    found = (await api.get(f"/api/v1/operations/{accepted['operation']}")).json()
                    if found["status"] != "pending":
                        break
                    await asyncio.sleep(0.05)
                assert found["status"] == "failed", found
                problem = found["error"]
            else:  # refused before the stream began
                problem = response.json()
            assert problem["detail"], problem
            assert "unknown blob" in problem["detail"] or "blob" in problem["detail"], problem
            assert image not in await image_tags(api)
        finally:
            await remove_local(image)


@pytest.mark.parametrize(
    "body",
    [{}, {"image": ""}, {"image": "has space:1"}, {"image": "-x"}, {"image": "a", "tag": "b"}],
)
async def test_a_malformed_pull_is_422(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await api.post("/api/v1/images/pull", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_docker_takes_loopback_registries_as_insecure() -> None:
    # Why the engine needs no --insecure-registry for the tests' registry.
    info = json.loads(await asyncio.to_thread(docker, "info", "--format", "{{json .}}"))
    assert "127.0.0.0/8" in info["RegistryConfig"]["InsecureRegistryCIDRs"]
