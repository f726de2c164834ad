"""Several engines in one server (protocol.md §8), against a real server: the shared engine as
``local`` beside ``ghost``, an engine whose socket does not exist (down for the whole test).
The prefixed REST routes, ``GET /api/v1/engines``, ``welcome``'s engines, ``engine`` on every
message of a subscription, and ``UNKNOWN_ENGINE``. (Two live engines: tests/integration/
test_two_engines.py.)"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_harness import ServerProcess, adocker, peer, start_server

from dockstate.client import Client
from dockstate.errors import UnknownEngine

pytestmark = pytest.mark.integration

LABEL = "dockstate.test.engines"


@pytest.fixture(scope="module")
def two() -> Iterator[ServerProcess]:
    ghost = Path(tempfile.mkdtemp(prefix="dockstate-ghost-")) / "no-docker.sock"
    proc = start_server(
        "--engine", "local=unix:///var/run/docker.sock", "--engine", f"ghost=unix://{ghost}",
        "--reconcile-interval", "5",
    )  # fmt: skip
    yield proc
    proc.stop()


@pytest.fixture
async def api(two: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=two.url, headers=two.headers, timeout=30) as client:
        yield client


async def eventually_down(api: httpx.AsyncClient) -> dict[str, Any]:
    for _ in range(100):
        listing: dict[str, Any] = (await api.get("/api/v1/engines")).json()
        if listing["engines"][1]["status"] == "down":
            return listing
        await asyncio.sleep(0.1)
    raise AssertionError(f"ghost never went down: {listing}")


async def test_the_engines_are_listed_with_their_status(api: httpx.AsyncClient) -> None:
    listing = await eventually_down(api)
    assert listing["default"] == "local"
    assert [(e["id"], e["status"]) for e in listing["engines"]] == [
        ("local", "connected"),
        ("ghost", "down"),
    ]
    assert listing["engines"][0]["host"] == "unix:///var/run/docker.sock"


async def test_every_route_is_also_under_its_engine(api: httpx.AsyncClient) -> None:
    plain = (await api.get("/api/v1/state")).json()
    local = (await api.get("/api/v1/engines/local/state")).json()
    assert local["epoch"] == plain["epoch"]  # the unprefixed routes are the default engine's
    ghost = (await api.get("/api/v1/engines/ghost/state")).json()
    assert ghost["epoch"] != plain["epoch"]
    assert ghost["state"]["containers"] == {}
    assert ghost["state"]["engine_info"]["status"] == "disconnected"
    changes = await api.get("/api/v1/engines/ghost/changes", params={"since": 0})
    assert changes.status_code == 200
    assert changes.json()["epoch"] == ghost["epoch"]
    # An action on the engine that is down: 503, and the other engine is untouched.
    refused = await api.post("/api/v1/engines/ghost/volumes", json={"name": "dst-never"})
    assert refused.status_code == 503
    assert "cannot reach the Docker engine" in refused.json()["detail"]
    assert (await api.get("/api/v1/engines/local/stats")).status_code == 200


async def test_an_unknown_engine_is_404_for_those_with_the_token(two: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=two.url, timeout=30) as anonymous:
        response = await anonymous.get("/api/v1/engines/nope/state")
        assert response.status_code == 401  # who has no token learns nothing of the engines
        assert (await anonymous.get("/api/v1/engines")).status_code == 401
    response = two.get("/api/v1/engines/nope/state")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "UNKNOWN_ENGINE"
    assert two.post("/api/v1/engines/nope/volumes", json={"name": "x"}).status_code == 404


async def test_welcome_names_the_engines(two: ServerProcess) -> None:
    async with peer(two, hello=False) as p:
        welcome = await p.hello(two.token)
    assert welcome["engine"] == "local"
    assert [e["id"] for e in welcome["engines"]] == ["local", "ghost"]
    state = two.get("/api/v1/state").json()
    assert welcome["epoch"] == state["epoch"]


@pytest.mark.parametrize("kind", ["subscribe", "subscribe_stats", "subscribe_logs"])
async def test_an_unknown_engine_is_an_error(two: ServerProcess, kind: str) -> None:
    async with peer(two) as p:
        message: dict[str, Any] = {"type": kind, "id": "u1", "engine": "nope"}
        if kind == "subscribe_logs":
            message["container"] = "anything"
        await p.send(message)
        error = await p.recv_until("error")
        assert (error["id"], error["code"]) == ("u1", "UNKNOWN_ENGINE")
        # The connection goes on: the same id may then be used for a known engine.
        await p.send({"type": "subscribe", "id": "u1", "engine": "local"})
        assert (await p.recv_until("snapshot"))["engine"] == "local"


async def test_each_subscription_gets_its_own_engine_only(two: ServerProcess) -> None:
    name = f"dst-engines-{secrets.token_hex(4)}"
    async with peer(two) as p:
        only_volumes = {"kinds": ["volume"]}
        await p.send({"type": "subscribe", "id": "L", "filter": only_volumes})
        await p.send({"type": "subscribe", "id": "G", "engine": "ghost", "filter": only_volumes})
        snapshots: dict[str, dict[str, Any]] = {}
        while len(snapshots) < 2:
            message = await p.recv_until("snapshot")
            snapshots[message["sub"]] = message
        assert snapshots["L"]["engine"] == "local"
        assert snapshots["G"]["engine"] == "ghost"
        assert snapshots["G"]["state"]["volumes"] == {}
        await adocker("volume", "create", "--label", f"{LABEL}=1", name)
        try:
            seen: list[dict[str, Any]] = []
            while not any(c["id"] == name for m in seen for c in m["changes"]):
                message = await p.recv_until("changes")
                seen.append(message)
            assert {m["sub"] for m in seen} == {"L"}
            assert {m["engine"] for m in seen} == {"local"}
            # Bookmarks carry the engine too (heartbeat 500 ms).
            bookmark = await p.recv_until("bookmark", 3.0)
            assert bookmark["engine"] == {"L": "local", "G": "ghost"}[bookmark["sub"]]
        finally:
            await adocker("volume", "rm", name)


async def test_the_python_client_follows_one_engine(two: ServerProcess) -> None:
    async with Client(two.url, two.token, engine="ghost") as ghost:
        assert [e["id"] for e in (await ghost.engines())["engines"]] == ["local", "ghost"]
        state = await ghost.state()
        assert state["state"]["engine_info"]["status"] == "disconnected"
        async with ghost.watch() as watch:
            first = await anext(watch)
            assert first["containers"] == {}
            assert watch.last_message is not None
            assert watch.last_message["engine"] == "ghost"
    async with Client(two.url, two.token, engine="nope") as nope:
        with pytest.raises(UnknownEngine, match="no engine 'nope'"):
            await nope.state()
        with pytest.raises(UnknownEngine, match="no engine 'nope'"):
            async with nope.watch() as watch:
                await anext(watch)


def test_watch_follows_a_server_engine(two: ServerProcess) -> None:
    """`dockstate watch --url … --engine ID` prints that engine's changes; an unknown one is
    one line and status 1."""
    env = {"DOCKSTATE_TOKEN": two.token, "PATH": "/usr/bin:/bin"}
    refused = subprocess.run(
        [sys.executable, "-m", "dockstate.cli", "watch", "--url", two.url, "--engine", "nope"],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert "no engine 'nope'" in refused.stderr


def test_snapshot_of_a_server_engine(two: ServerProcess) -> None:
    """`dockstate snapshot --url … --engine ID` prints that engine's state."""
    env = {"DOCKSTATE_TOKEN": two.token, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "dockstate.cli", "snapshot", "--url", two.url, "--engine"]
    ghost = subprocess.run([*command, "ghost"], capture_output=True, text=True, timeout=30, env=env)
    assert ghost.returncode == 0, ghost.stderr
    state = json.loads(ghost.stdout)
    assert state["containers"] == {}
    assert state["engine_info"]["status"] == "disconnected"
    local = subprocess.run([*command, "local"], capture_output=True, text=True, timeout=30, env=env)
    assert json.loads(local.stdout)["engine_info"]["status"] == "connected"
