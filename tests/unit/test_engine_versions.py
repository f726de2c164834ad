"""What the engine client sends depends on the API version the engine speaks. The engine here
is Docker 20.10 (API 1.41); newer behaviour is checked against a recording transport (the real
Docker 26 runs are issue 11's)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dockstate.engine import MAX_API_VERSION, DockerClient
from dockstate.errors import EngineAPIError, EngineUnavailable


def recording(api: str, seen: list[httpx.Request]) -> DockerClient:
    """A client of an engine speaking ``api`` that answers prunes, every request kept."""
    report = httpx.Response(200, json={"VolumesDeleted": [], "SpaceReclaimed": 0})
    routes = {"/volumes/prune": report, "/images/prune": report}
    return answering({"ApiVersion": api}, routes, seen)


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("1.41", None),  # before 1.42 a volume prune removes named volumes too
        ("1.45", {"all": {"true": True}}),  # since: only with all=true
        ("1.52", {"all": {"true": True}}),
    ],
)
async def test_a_volume_prune_removes_every_unused_volume_on_every_engine(
    api: str, expected: dict[str, object] | None
) -> None:
    seen: list[httpx.Request] = []
    async with recording(api, seen) as docker:
        await docker.negotiate()
        await docker.prune("volumes")
        await docker.prune("volumes", labels=["team=a"])
        await docker.prune("images")
    plain, labelled, images = seen[1:]
    sent = plain.url.params.get("filters")
    assert (json.loads(sent) if sent else None) == expected
    assert json.loads(labelled.url.params["filters"])["label"] == {"team=a": True}
    assert "filters" not in images.url.params  # other kinds are as before


def answering(
    version: dict[str, Any],
    routes: dict[str, httpx.Response],
    seen: list[httpx.Request] | None = None,
) -> DockerClient:
    """A client whose engine answers ``/version`` with ``version``, each path (without its
    version prefix) in ``routes`` as given, and any other with a 404; every request is kept
    in ``seen``, if given."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.url.path == "/version":
            return httpx.Response(200, json=version)
        path = "/" + request.url.path.split("/", 2)[2]
        return routes.get(path, httpx.Response(404, json={"message": "no such thing"}))

    client = DockerClient("unix:///nonexistent.sock")
    client._http = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://docker"
    )
    return client


@pytest.mark.parametrize(
    ("api", "spoken"),
    [("1.41", (1, 41)), ("1.45", (1, 45)), ("1.52", (1, 52)), ("1.53", MAX_API_VERSION)],
)
async def test_the_client_speaks_the_engines_version_up_to_the_newest_it_knows(
    api: str, spoken: tuple[int, int]
) -> None:
    """Docker 29 (API 1.52) refuses clients below 1.44: an engine is spoken to in its own
    version, and one newer than dockstate in the newest dockstate knows (1.52)."""
    async with answering({"ApiVersion": api}, {"/_ping": httpx.Response(200)}) as docker:
        await docker.negotiate()
        assert docker.api_version == spoken
        response = await docker._request("GET", "/_ping", "ping")
        assert response.request.url.path == "/v{}.{}/_ping".format(*spoken)
    assert MAX_API_VERSION == (1, 52)


async def test_podman_is_known_by_its_version_components() -> None:
    podman = {"ApiVersion": "1.41", "Components": [{"Name": "Podman Engine"}]}
    async with answering(podman, {}) as docker:
        assert not docker.dialect.podman
        await docker.negotiate()
        assert docker.dialect.podman
        assert docker.dialect.event_delay > 0


async def test_a_container_mid_removal_on_podman_is_gone() -> None:
    """Podman answers the inspect of a container it is removing with a 500 "does not exist
    in database", where Docker answers 404: both mean gone. Other 500s stay errors."""
    gone = httpx.Response(500, json={"message": "container c1 does not exist in database"})
    broken = httpx.Response(500, json={"message": "the engine is on fire"})
    routes = {"/containers/c1/json": gone, "/containers/c2/json": broken}
    async with answering({"ApiVersion": "1.41"}, routes) as docker:
        await docker.negotiate()
        assert await docker.inspect_container("c1") is None
        assert await docker.inspect_container("c3") is None  # the 404
        with pytest.raises(EngineAPIError, match="on fire"):
            await docker.inspect_container("c2")


async def test_events_framed_as_a_json_text_sequence_are_read() -> None:
    """From API 1.52 on an engine may send its events as RFC 7464 records (each after an
    ASCII record separator) instead of one per line."""
    body = b'\x1e{"Type": "container", "Action": "start"}\n\x1e{"Type": "volume"}\n'
    events = httpx.Response(200, content=body, headers={"content-type": "application/json-seq"})
    async with answering({"ApiVersion": "1.52"}, {"/events": events}) as docker:
        await docker.negotiate()
        async with docker.events() as stream:
            got = [event async for event in stream]
    assert got == [{"Type": "container", "Action": "start"}, {"Type": "volume"}]


async def test_a_server_that_is_not_docker_is_said_so_in_one_line() -> None:
    """A web server (or anything else) where an engine was expected: unavailable, with why."""
    async with answering({"hello": "world"}, {}) as web:
        with pytest.raises(EngineUnavailable) as refused:
            await web.negotiate()
    assert str(refused.value) == (
        "unix:///nonexistent.sock is not a Docker engine: its GET /version names no ApiVersion"
    )
    async with answering({"ApiVersion": "1.41"}, {}) as no_ping:
        await no_ping.negotiate()
        with pytest.raises(
            EngineUnavailable, match="is not a Docker engine: GET /_ping answered 404"
        ):
            await no_ping.ping()
