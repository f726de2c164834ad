"""The REST surface of a real `dockstate serve` (protocol.md §6): every action against the real
engine (its effect checked with `docker inspect` and in GET /api/v1/state), Docker's refusals as
problem+json, authentication, --read-only, /metrics, /api/v1/schema and /openapi.json."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from harness import LABEL, TEST_IMAGE, busybox_tar, docker, inspect, run_container, unique
from prometheus_client.parser import text_string_to_metric_families
from server_harness import ServerProcess, peer, start_server

from dockstate.protocol import EngineStateModel
from dockstate.server import ServerConfig, create_app

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
#: How soon the server's state must show what the engine did (the server runs in its own
#: process; the watcher's own bound is a second).
SHOWN_WITHIN = 3.0

State = dict[str, Any]


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def read_only_server() -> Iterator[ServerProcess]:
    proc = start_server("--read-only")
    yield proc
    proc.stop()


# -- helpers ---------------------------------------------------------------------------------


async def state_of(api: httpx.AsyncClient) -> State:
    response = await api.get("/api/v1/state")
    assert response.status_code == 200, response.text
    state: State = response.json()["state"]
    return state


async def act(
    api: httpx.AsyncClient, method: str, path: str, body: Any = None, **params: Any
) -> dict[str, Any]:
    """Call an action that must be accepted; check the 202 and the version it names."""
    before = (await state_of(api))["version"]
    response = await api.request(method, path, json=body, params=params or None)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    assert isinstance(accepted["operation"], str)
    assert len(accepted["operation"]) >= 8
    assert before <= accepted["accepted_at_version"] <= (await state_of(api))["version"]
    return accepted


async def refused(
    api: httpx.AsyncClient, status: int, method: str, path: str, body: Any = None, **params: Any
) -> dict[str, Any]:
    """Call something that must be refused with ``status``, as problem+json."""
    response = await api.request(method, path, json=body, params=params or None)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"] == "about:blank"
    assert problem["title"]
    assert problem["detail"]
    return problem


async def shows(api: httpx.AsyncClient, predicate: Callable[[State], bool], what: str) -> State:
    """Poll GET /api/v1/state until ``predicate`` holds; return that state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHOWN_WITHIN
    while True:
        state = await state_of(api)
        if predicate(state):
            return state
        if loop.time() > deadline:
            raise AssertionError(f"GET /api/v1/state did not show {what} within {SHOWN_WITHIN} s")
        await asyncio.sleep(0.05)


async def docker_error(*args: str) -> str:
    """Run a docker command that must fail; return its stderr (Docker's message)."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode != 0, f"docker {' '.join(args)} succeeded"
    return err.decode()


async def exists(*args: str) -> bool:
    """Whether ``docker <args>`` (an inspect) finds the object."""
    proc = await asyncio.create_subprocess_exec(
        "docker", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await proc.wait() == 0


def container_state(cid: str, wanted: str) -> Callable[[State], bool]:
    def check(state: State) -> bool:
        c = state["containers"].get(cid)
        return c is not None and c["state"] == wanted

    return check


async def created_container(*args: str) -> str:
    return await docker(
        "create", "--name", unique("rest-"), "--label", f"{LABEL}=1", *args, TEST_IMAGE,
        "sleep", "300",
    )  # fmt: skip


async def new_image(tag: str, *labels: str) -> str:
    """Import a unique tiny image as ``tag``; return its id."""
    changes = [arg for label in labels for arg in ("-c", f"LABEL {label}")]
    await docker("import", *changes, "-", tag, stdin=busybox_tar(secrets.token_bytes(8)))
    return str((await inspect(tag))[0]["Id"])


# -- container actions -----------------------------------------------------------------------


async def test_start_and_stop(api: httpx.AsyncClient) -> None:
    cid = await created_container()
    await act(api, "POST", f"/api/v1/containers/{cid}/start")
    assert (await inspect(cid))[0]["State"]["Running"] is True
    await shows(api, container_state(cid, "running"), "the started container")

    await act(api, "POST", f"/api/v1/containers/{cid}/stop", t=0)
    truth = (await inspect(cid))[0]["State"]
    assert (truth["Running"], truth["Status"]) == (False, "exited")
    state = await shows(api, container_state(cid, "exited"), "the stopped container")
    assert state["containers"][cid]["exit_code"] == truth["ExitCode"]


async def test_pause_and_unpause(api: httpx.AsyncClient) -> None:
    name = unique("rest-")
    cid = await run_container(name)
    await act(api, "POST", f"/api/v1/containers/{name}/pause")
    assert (await inspect(cid))[0]["State"]["Paused"] is True
    await shows(api, container_state(cid, "paused"), "the paused container")

    await act(api, "POST", f"/api/v1/containers/{cid}/unpause")
    assert (await inspect(cid))[0]["State"]["Paused"] is False
    await shows(api, container_state(cid, "running"), "the unpaused container")


async def test_restart(api: httpx.AsyncClient) -> None:
    cid = await run_container(unique("rest-"))
    started = (await inspect(cid))[0]["State"]["StartedAt"]
    await act(api, "POST", f"/api/v1/containers/{cid}/restart", t=0)
    truth = (await inspect(cid))[0]["State"]
    assert truth["Running"] is True
    assert truth["StartedAt"] != started
    await shows(
        api,
        lambda s: s["containers"][cid]["started_at"] == truth["StartedAt"],
        "the restarted container's new start time",
    )


async def test_kill(api: httpx.AsyncClient) -> None:
    cid = await run_container(unique("rest-"))
    await act(api, "POST", f"/api/v1/containers/{cid}/kill")
    truth = (await inspect(cid))[0]["State"]
    assert (truth["Running"], truth["ExitCode"]) == (False, 137)
    state = await shows(api, container_state(cid, "exited"), "the killed container")
    assert state["containers"][cid]["exit_code"] == 137


async def test_action_on_wrong_state_is_409_with_dockers_message(api: httpx.AsyncClient) -> None:
    cid = await created_container()
    problem = await refused(api, 409, "POST", f"/api/v1/containers/{cid}/pause")
    assert problem["title"] == "Conflict"
    assert problem["detail"] in await docker_error("pause", cid)


async def test_rename(api: httpx.AsyncClient) -> None:
    cid = await created_container()
    new_name = unique("renamed-")
    await act(api, "POST", f"/api/v1/containers/{cid}/rename", {"name": new_name})
    assert (await inspect(cid))[0]["Name"] == f"/{new_name}"
    await shows(api, lambda s: s["containers"][cid]["name"] == new_name, "the new name")


async def test_rename_validates_the_body(api: httpx.AsyncClient) -> None:
    cid = await created_container()
    for body in ({}, {"name": ""}, {"name": "no spaces"}, {"name": 5}, {"name": "a", "x": 1}):
        problem = await refused(api, 422, "POST", f"/api/v1/containers/{cid}/rename", body)
        assert problem["title"] == "Unprocessable Content"
        assert problem["errors"], problem
    assert (await inspect(cid))[0]["Name"] != "/a"


async def test_unknown_container_is_404_with_dockers_message(api: httpx.AsyncClient) -> None:
    name = unique("missing-")
    problem = await refused(api, 404, "POST", f"/api/v1/containers/{name}/start")
    assert problem["title"] == "Not Found"
    assert f"No such container: {name}" in problem["detail"]
    assert problem["detail"] in await docker_error("start", name)
    await refused(api, 404, "DELETE", f"/api/v1/containers/{name}")


async def test_remove_running_container_needs_force(api: httpx.AsyncClient) -> None:
    cid = await run_container(unique("rest-"))
    problem = await refused(api, 409, "DELETE", f"/api/v1/containers/{cid}")
    assert problem["detail"] in await docker_error("rm", cid)
    assert (await inspect(cid))[0]["State"]["Running"] is True

    await act(api, "DELETE", f"/api/v1/containers/{cid}", force="true")
    assert not await exists("container", "inspect", cid)
    await shows(api, lambda s: cid not in s["containers"], "the removed container gone")


async def test_remove_stopped_container(api: httpx.AsyncClient) -> None:
    cid = await created_container()
    await shows(api, lambda s: cid in s["containers"], "the created container")
    await act(api, "DELETE", f"/api/v1/containers/{cid}")
    assert not await exists("container", "inspect", cid)
    await shows(api, lambda s: cid not in s["containers"], "the removed container gone")


# -- images ------------------------------------------------------------------------------------


async def test_remove_image_by_id(api: httpx.AsyncClient) -> None:
    image_id = await new_image(f"{unique('img-')}:v1")
    await shows(api, lambda s: image_id in s["images"], "the imported image")
    await act(api, "DELETE", f"/api/v1/images/{image_id}")
    assert not await exists("image", "inspect", image_id)
    await shows(api, lambda s: image_id not in s["images"], "the removed image gone")


@pytest.mark.parametrize("encode", [False, True])
async def test_remove_image_by_reference_with_a_slash(api: httpx.AsyncClient, encode: bool) -> None:
    ref = f"{unique('repo-')}/img:v1"
    image_id = await new_image(ref)
    await act(api, "DELETE", f"/api/v1/images/{quote(ref, safe='') if encode else ref}")
    assert not await exists("image", "inspect", image_id)
    await shows(api, lambda s: image_id not in s["images"], "the removed image gone")


async def test_remove_image_in_use_is_409_unless_forced(api: httpx.AsyncClient) -> None:
    tag = f"{unique('used-')}:v1"
    image_id = await new_image(tag)
    cid = await docker("create", "--label", f"{LABEL}=1", tag, "sleep", "1")
    problem = await refused(api, 409, "DELETE", f"/api/v1/images/{image_id}")
    assert problem["detail"] in await docker_error("rmi", image_id)

    await act(api, "DELETE", f"/api/v1/images/{image_id}", force="true")
    assert not await exists("image", "inspect", image_id)
    await shows(api, lambda s: image_id not in s["images"], "the removed image gone")
    await docker("rm", cid)


# -- volumes -------------------------------------------------------------------------------------


async def test_create_and_remove_volume(api: httpx.AsyncClient) -> None:
    name = unique("vol-")
    accepted = await act(
        api, "POST", "/api/v1/volumes", {"name": name, "labels": {LABEL: "1", "tier": "db"}}
    )
    assert accepted["id"] == name
    truth = (await docker("volume", "inspect", "-f", "{{json .Labels}}", name)).strip()
    assert '"tier":"db"' in truth
    state = await shows(api, lambda s: name in s["volumes"], "the created volume")
    assert state["volumes"][name]["labels"] == {LABEL: "1", "tier": "db"}

    await act(api, "DELETE", f"/api/v1/volumes/{name}")
    assert not await exists("volume", "inspect", name)
    await shows(api, lambda s: name not in s["volumes"], "the removed volume gone")


async def test_volume_refusals(api: httpx.AsyncClient) -> None:
    missing = unique("novol-")
    problem = await refused(api, 404, "DELETE", f"/api/v1/volumes/{missing}")
    assert problem["detail"] in await docker_error("volume", "rm", missing)

    name = unique("usedvol-")
    await docker("volume", "create", "--label", f"{LABEL}=1", name)
    await created_container("-v", f"{name}:/data")
    problem = await refused(api, 409, "DELETE", f"/api/v1/volumes/{name}")
    assert "in use" in problem["detail"]
    assert await exists("volume", "inspect", name)

    await refused(api, 422, "POST", "/api/v1/volumes", {"labels": {}})
    await refused(api, 422, "POST", "/api/v1/volumes", {"name": "../etc"})


# -- networks ------------------------------------------------------------------------------------


async def test_create_and_remove_network(api: httpx.AsyncClient) -> None:
    name = unique("net-")
    accepted = await act(api, "POST", "/api/v1/networks", {"name": name, "labels": {LABEL: "1"}})
    net_id = accepted["id"]
    truth = (await inspect(net_id))[0]
    assert (truth["Id"], truth["Name"], truth["Labels"]) == (net_id, name, {LABEL: "1"})
    state = await shows(api, lambda s: net_id in s["networks"], "the created network")
    assert state["networks"][net_id]["name"] == name

    await act(api, "DELETE", f"/api/v1/networks/{net_id}")
    assert not await exists("network", "inspect", net_id)
    await shows(api, lambda s: net_id not in s["networks"], "the removed network gone")


async def test_network_refusals(api: httpx.AsyncClient) -> None:
    missing = unique("nonet-")
    problem = await refused(api, 404, "DELETE", f"/api/v1/networks/{missing}")
    assert missing in problem["detail"]

    name = unique("dupnet-")
    await docker("network", "create", "--label", f"{LABEL}=1", name)
    problem = await refused(api, 409, "POST", "/api/v1/networks", {"name": name})
    assert name in problem["detail"]


# -- prune ---------------------------------------------------------------------------------------
# Every prune is limited (extension: ?label=) to a label unique to the test, so that it removes
# nothing but what the test made, whatever else the engine holds.


async def test_prune_containers(api: httpx.AsyncClient) -> None:
    mark = f"dst.prune={secrets.token_hex(4)}"
    ids = [await created_container("--label", mark) for _ in range(2)]
    keep = await created_container()
    accepted = await act(api, "POST", "/api/v1/containers/prune", label=[LABEL, mark])
    assert sorted(accepted["report"]["ContainersDeleted"]) == sorted(ids)
    assert not any([await exists("container", "inspect", cid) for cid in ids])
    assert await exists("container", "inspect", keep)
    await shows(api, lambda s: not set(ids) & set(s["containers"]), "the pruned containers gone")


async def test_prune_images(api: httpx.AsyncClient) -> None:
    mark = f"dst.prune={secrets.token_hex(4)}"
    tag = f"{unique('iprune-')}:v1"
    dangling = await new_image(tag, mark)
    await new_image(tag)  # takes the tag: the first one dangles
    await shows(api, lambda s: s["images"].get(dangling, {}).get("dangling"), "the dangling image")
    accepted = await act(api, "POST", "/api/v1/images/prune", label=mark)
    assert accepted["report"]["ImagesDeleted"]
    assert not await exists("image", "inspect", dangling)
    await shows(api, lambda s: dangling not in s["images"], "the pruned image gone")


async def test_prune_volumes(api: httpx.AsyncClient) -> None:
    mark = f"dst.prune={secrets.token_hex(4)}"
    names = [unique("vprune-") for _ in range(2)]
    for name in names:
        await docker("volume", "create", "--label", f"{LABEL}=1", "--label", mark, name)
    accepted = await act(api, "POST", "/api/v1/volumes/prune", label=mark)
    assert sorted(accepted["report"]["VolumesDeleted"]) == sorted(names)
    await shows(api, lambda s: not set(names) & set(s["volumes"]), "the pruned volumes gone")


async def test_prune_networks(api: httpx.AsyncClient) -> None:
    mark = f"dst.prune={secrets.token_hex(4)}"
    names = [unique("nprune-") for _ in range(2)]
    ids = [
        await docker("network", "create", "--label", f"{LABEL}=1", "--label", mark, name)
        for name in names
    ]
    accepted = await act(api, "POST", "/api/v1/networks/prune", label=mark)
    assert sorted(accepted["report"]["NetworksDeleted"]) == sorted(names)
    await shows(api, lambda s: not set(ids) & set(s["networks"]), "the pruned networks gone")


# -- authentication and read-only ----------------------------------------------------------------

ROUTES = [
    ("GET", "/api/v1/state"),
    ("GET", "/api/v1/changes?since=0"),
    ("GET", "/api/v1/schema"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/containers/dst-nothing/start"),
    ("POST", "/api/v1/containers/dst-nothing/stop"),
    ("POST", "/api/v1/containers/dst-nothing/restart"),
    ("POST", "/api/v1/containers/dst-nothing/pause"),
    ("POST", "/api/v1/containers/dst-nothing/unpause"),
    ("POST", "/api/v1/containers/dst-nothing/kill"),
    ("POST", "/api/v1/containers/dst-nothing/rename"),
    ("DELETE", "/api/v1/containers/dst-nothing?force=true"),
    ("DELETE", "/api/v1/images/dst-nothing?force=true"),
    ("POST", "/api/v1/volumes"),
    ("DELETE", "/api/v1/volumes/dst-nothing"),
    ("POST", "/api/v1/networks"),
    ("DELETE", "/api/v1/networks/dst-nothing"),
    ("POST", "/api/v1/containers/prune"),
    ("POST", "/api/v1/images/prune"),
    ("POST", "/api/v1/volumes/prune"),
    ("POST", "/api/v1/networks/prune"),
    ("POST", "/api/v1/images/pull"),
    ("POST", "/api/v1/containers"),
    ("POST", "/api/v1/projects/dst-nothing/start"),
    ("POST", "/api/v1/projects/dst-nothing/stop"),
    ("POST", "/api/v1/projects/dst-nothing/restart"),
    ("DELETE", "/api/v1/projects/dst-nothing"),
]
ACTIONS = [(method, path) for method, path in ROUTES if method != "GET"]
BODY = {"name": "dst-never-made"}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_every_route_needs_the_token(
    server: ServerProcess, method: str, path: str, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        problem = await refused(client, 401, method, path, BODY if method == "POST" else None)
    assert problem["title"] == "Unauthorized"


async def test_malformed_body_without_token_is_401(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/api/v1/volumes", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


async def test_session_cookie_authenticates(server: ServerProcess) -> None:
    async with httpx.AsyncClient(
        base_url=server.url, cookies={"dockstate_session": server.token}
    ) as client:
        assert (await client.get("/api/v1/state")).status_code == 200


@pytest.mark.parametrize(("method", "path"), ACTIONS)
async def test_read_only_refuses_every_action(
    read_only_server: ServerProcess, method: str, path: str
) -> None:
    async with httpx.AsyncClient(
        base_url=read_only_server.url, headers=read_only_server.headers
    ) as client:
        problem = await refused(client, 403, method, path, BODY if method == "POST" else None)
        assert "read-only" in problem["detail"]
    async with httpx.AsyncClient(base_url=read_only_server.url) as anonymous:
        await refused(anonymous, 401, method, path, BODY if method == "POST" else None)


async def test_read_only_refuses_before_validating(read_only_server: ServerProcess) -> None:
    async with httpx.AsyncClient(
        base_url=read_only_server.url, headers=read_only_server.headers
    ) as client:
        await refused(client, 403, "POST", "/api/v1/volumes", {"name": ""})
        response = await client.post(
            "/api/v1/networks", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 403
        # Reading is still validated as usual.
        await refused(client, 422, "GET", "/api/v1/changes", since="-1")


async def test_read_only_leaves_the_engine_alone(read_only_server: ServerProcess) -> None:
    cid = await run_container(unique("ro-"))
    volume = unique("rovol-")
    await docker("volume", "create", "--label", f"{LABEL}=1", volume)
    async with httpx.AsyncClient(
        base_url=read_only_server.url, headers=read_only_server.headers
    ) as client:
        await refused(client, 403, "POST", f"/api/v1/containers/{cid}/kill")
        await refused(client, 403, "DELETE", f"/api/v1/volumes/{volume}")
        await refused(client, 403, "POST", "/api/v1/volumes", {"name": unique("rovol-")})
        assert (await client.get("/api/v1/state")).status_code == 200
    assert (await inspect(cid))[0]["State"]["Running"] is True
    assert await exists("volume", "inspect", volume)


def test_healthz_needs_no_token(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "engine": "connected"}


async def test_unreachable_engine_is_503() -> None:
    app = create_app(ServerConfig(token="t", docker_host="unix:///nonexistent/docker.sock"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://dockstate",
            headers={"Authorization": "Bearer t"},
        ) as client,
    ):
        problem = await refused(client, 503, "POST", "/api/v1/containers/dst-x/start")
        assert "cannot reach the Docker engine" in problem["detail"]
        assert (await client.get("/healthz")).json()["engine"] == "disconnected"
        text = (await client.get("/metrics")).text
        metrics = {m.name: m for m in text_string_to_metric_families(text)}
        assert metrics["dockstate_engine_connected"].samples[0].value == 0


# -- metrics, schema, OpenAPI --------------------------------------------------------------------


LOCAL = (("engine", "local"),)


async def metric_values(api: httpx.AsyncClient) -> dict[tuple[str, tuple[Any, ...]], float]:
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_count_what_happens(server: ServerProcess, api: httpx.AsyncClient) -> None:
    before = await metric_values(api)
    assert ("dockstate_clients_connected", ()) in before  # the server's, not an engine's
    for name in (
        "dockstate_docker_events_total",
        "dockstate_changes_committed_total",
        "dockstate_event_to_send_seconds_count",
        "dockstate_reconcile_repairs_total",
        "dockstate_engine_connected",
    ):
        assert (name, LOCAL) in before, name  # each engine's value carries its id
    assert before[("dockstate_engine_connected", LOCAL)] == 1
    assert (
        before[
            ("dockstate_docker_api_requests_total", (("endpoint", "events"), ("engine", "local")))
        ]
        >= 1
    )

    async with peer(server) as p:
        await p.send({"type": "subscribe", "id": "m", "filter": {"kinds": ["volume"]}})
        assert (await p.recv_until("snapshot"))["sub"] == "m"
        name = unique("metvol-")
        await act(api, "POST", "/api/v1/volumes", {"name": name, "labels": {LABEL: "1"}})
        change = await p.recv_until("changes")
        assert any(c["id"] == name for c in change["changes"])
        during = await metric_values(api)

    state = await state_of(api)
    assert during[("dockstate_clients_connected", ())] >= 1
    assert (
        during[("dockstate_docker_events_total", LOCAL)]
        > before[("dockstate_docker_events_total", LOCAL)]
    )
    assert (
        before[("dockstate_changes_committed_total", LOCAL)]
        < during[("dockstate_changes_committed_total", LOCAL)]
        <= state["version"]
    )
    create = (
        "dockstate_docker_api_requests_total",
        (("endpoint", "volumes.create"), ("engine", "local")),
    )
    assert during[create] >= before.get(create, 0) + 1
    latency = "dockstate_event_to_send_seconds_count"
    assert during[(latency, LOCAL)] > before[(latency, LOCAL)]


async def test_metrics_hold_no_secret(server: ServerProcess, api: httpx.AsyncClient) -> None:
    text = (await api.get("/metrics")).text
    assert server.token not in text
    assert "Bearer" not in text


async def test_schema_has_every_message_and_entity(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["protocol"] == "dockstate.v1"
    assert set(schema["client_messages"]) == {
        "hello", "subscribe", "subscribe_stats", "subscribe_logs", "unsubscribe", "resync",
        "ack", "ping",
    }  # fmt: skip
    assert set(schema["server_messages"]) == {
        "welcome", "snapshot", "changes", "bookmark", "resync_required", "engine_state_update",
        "stats", "logs", "logs_skipped", "logs_end", "operation", "error", "pong",
    }  # fmt: skip
    for name in ("Container", "Image", "Volume", "Network", "EngineInfo", "SystemStats"):
        entity = schema["entities"][name]
        assert entity["type"] == "object"
        assert "rev" in entity["properties"]
    container = schema["entities"]["Container"]["properties"]
    assert "relative time" in container["status"]["description"]
    assert "env" not in container
    assert "from" in schema["server_messages"]["changes"]["properties"]
    assert {"EngineState", "Change", "Filter"} <= set(schema["types"])
    assert {"Accepted", "Problem"} <= set(schema["rest"])
    # What the server sends validates against the models the schema comes from.
    EngineStateModel.model_validate(await state_of(api))


async def test_openapi_lists_the_rest_routes(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for method, path in ROUTES:
        template = path.split("?")[0].replace("dst-nothing", "{id}")
        if template == "/api/v1/volumes/{id}":
            template = "/api/v1/volumes/{name}"
        template = template.replace("/projects/{id}", "/projects/{project}")
        assert method.lower() in paths.get(template, {}), f"{method} {template}"
    start = paths["/api/v1/containers/{id}/start"]["post"]
    assert "202" in start["responses"]
    assert "application/problem+json" in start["responses"]["404"]["content"]


async def test_unknown_route_is_problem_json(api: httpx.AsyncClient) -> None:
    await refused(api, 404, "GET", "/api/v1/nothing-here")
    await refused(api, 405, "PUT", "/api/v1/volumes")
