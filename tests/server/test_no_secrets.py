"""No secret leaves the server: a container's environment (where secrets live) and the server's
token appear in none of its output (with -v), /metrics, the REST state and changes, or the
WebSocket messages, after a session with every kind of traffic, wrong tokens and the browser
sign-in (whose ?token= uvicorn's access log printed) included."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import LABEL, docker, unique
from server_harness import ServerProcess, peer, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-secrets") / "server-output.txt"


@pytest.fixture(scope="module")
def verbose_server(output: Path) -> Iterator[ServerProcess]:
    with output.open("wb") as sink:
        proc = start_server("-v", output=sink)
        yield proc
        proc.stop()


async def test_no_secret_in_output_metrics_state_or_messages(
    verbose_server: ServerProcess, output: Path
) -> None:
    server = verbose_server
    secret = f"s3cr3t-{secrets.token_hex(16)}"
    seen: list[str] = []  # everything a client was sent

    async def follow() -> None:
        """A snapshot and a full state that hold the container."""
        async with peer(server, max_size=None) as p:
            await p.send({"type": "subscribe", "id": "all"})
            await p.send({"type": "subscribe", "id": "full", "mode": "full"})
            for kind in ("snapshot", "engine_state_update"):
                message = await p.recv_until(kind)
                assert cid in message.get("state", message.get("data", {}))["containers"]
                seen.append(json.dumps(message))

    name = unique("secret-")
    async with peer(server, max_size=None) as watcher:
        await watcher.send({"type": "subscribe", "id": "s", "filter": {"names": [name]}})
        seen.append(json.dumps(await watcher.recv()))  # the snapshot, before the container
        cid = await docker(
            "create", "--name", name, "--label", f"{LABEL}=1", "--network", "none",
            "-e", f"DST_SECRET={secret}", "-e", f"DST_OTHER=x{secret}x",
            "dockstate-test/busybox:latest", "sleep", "300",
        )  # fmt: skip
        change = await watcher.recv_until("changes")
        seen.append(json.dumps(change))
        assert change["changes"][0]["object"]["id"] == cid
    await follow()

    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as api:
        answers = [
            await api.get("/api/v1/state"),
            await api.get("/api/v1/changes", params={"since": 0}),
            await api.get("/metrics"),
            await api.get("/api/v1/schema"),
        ]
        assert all(r.status_code == 200 for r in answers)
        assert cid in answers[0].text
    async with httpx.AsyncClient(base_url=server.url) as browser:
        answers.append(await browser.get("/", params={"token": "not-the-token"}))
        answers.append(await browser.get("/", params={"token": server.token}))  # signs in
        answers.append(await browser.get("/api/v1/state", headers={"Authorization": "Bearer x"}))
        assert browser.cookies.get("dockstate_session") == server.token  # the sign-in worked
    async with peer(server, hello=False) as intruder:
        await intruder.send({"type": "hello", "protocol": "dockstate.v1", "token": "wrong"})
        assert await intruder.closed_with() == 4401

    server.stop()  # flushes what it had to say
    logged = await asyncio.to_thread(output.read_text)
    assert f"/?token={server.token}" not in logged
    assert "GET /?token=[redacted]" in logged  # the sign-in was logged, without its token
    for where, text in [
        ("the server's output", logged),
        *((f"{r.request.method} {r.request.url.path}", r.text) for r in answers),
        *(("a WebSocket message", m) for m in seen),
    ]:
        assert secret not in text, f"the environment's secret in {where}"
        assert "DST_SECRET" not in text, f"the environment's names in {where}"
        assert server.token not in text, f"the server's token in {where}"


@pytest.fixture
def run_output(tmp_path: Path) -> Path:
    return tmp_path / "server-output.txt"


async def test_no_env_value_of_a_container_run_through_the_api(
    run_output: Path, tmp_path: Path
) -> None:
    """POST /api/v1/containers takes the environment and tells it to no one: not in its 202,
    its operation (REST and WebSocket), a 422 about it, the state, the object's history, any
    log line at -v, nor the history database."""
    secret = f"s3cr3t-{secrets.token_hex(16)}"
    db = tmp_path / "history.db"
    with run_output.open("wb") as sink:
        server = start_server("-v", output=sink, db=str(db))
        try:
            seen: list[str] = []
            async with (
                peer(server, max_size=None) as watcher,
                httpx.AsyncClient(base_url=server.url, headers=server.headers) as api,
            ):
                await watcher.send({"type": "subscribe", "id": "all"})
                seen.append(json.dumps(await watcher.recv_until("snapshot")))
                answers = [
                    await api.post(
                        "/api/v1/containers",
                        json={
                            "image": "dockstate-test/busybox:latest",
                            "name": unique("secret-"),
                            "command": ["sleep", "300"],
                            "env": [f"DST_SECRET={secret}", f"DST_OTHER=x{secret}x"],
                            "labels": {LABEL: "1"},
                            "network": "none",
                        },
                    ),
                    await api.post(  # refused: its message names no value
                        "/api/v1/containers",
                        json={"image": "x", "env": ["DST_SECRET=1", f"BAD {secret}"]},
                    ),
                ]
                assert answers[0].status_code == 202, answers[0].text
                assert answers[1].status_code == 422
                cid = answers[0].json()["id"]
                truth = json.loads(await docker("inspect", cid))[0]["Config"]["Env"]
                assert f"DST_SECRET={secret}" in truth  # the engine did get it
                while True:
                    message = await watcher.recv_until("changes")
                    seen.append(json.dumps(message))
                    if cid in seen[-1]:
                        break
                answers += [
                    await api.get(f"/api/v1/operations/{answers[0].json()['operation']}"),
                    await api.get("/api/v1/state"),
                    await api.get("/api/v1/changes", params={"since": 0}),
                    await api.get(f"/api/v1/events/container/{cid}"),
                ]
                assert all(r.status_code == 200 for r in answers[2:]), [r.text for r in answers]
                assert cid in answers[3].text
                await api.delete(f"/api/v1/containers/{cid}", params={"force": "true"})
        finally:
            server.stop()

    def database() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("history.db*"))

    stored = await asyncio.to_thread(database)
    assert cid.encode() in stored, "the container is not in the history database"
    logged = await asyncio.to_thread(run_output.read_text)
    assert "POST /api/v1/containers" in logged
    for where, text in [
        ("the server's output", logged),
        ("the history database", stored.decode("latin-1")),
        *((f"{r.request.method} {r.request.url.path}", r.text) for r in answers),
        *(("a WebSocket message", m) for m in seen),
    ]:
        assert secret not in text, f"the environment's secret in {where}"


async def test_the_container_details_name_the_environment_never_its_values(
    run_output: Path,
) -> None:
    """GET /api/v1/containers/{id} (the container page) reads the engine's inspect, where the
    environment is in clear: it answers the variables' names only, by id and by name, and
    neither the answer nor any log line at -v holds a value. The other details come through:
    entrypoint and command apart, the restart policy, the health check and its last results."""
    secret = f"s3cr3t-{secrets.token_hex(16)}"
    name = unique("secret-")
    with run_output.open("wb") as sink:
        server = start_server("-v", "--no-db", output=sink)
        try:
            cid = await docker(
                "run", "-d", "--name", name, "--label", f"{LABEL}=1", "--network", "none",
                "-e", f"DST_SECRET={secret}", "-e", f"DST_OTHER=x{secret}x",
                "--restart", "on-failure:3", "--entrypoint", "sh",
                "--health-cmd", "echo checked", "--health-interval", "1s",
                "dockstate-test/busybox:latest", "-c", "sleep 300",
            )  # fmt: skip
            async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as api:
                for _ in range(150):  # the first health check runs a second after the start
                    by_id = await api.get(f"/api/v1/containers/{cid}")
                    assert by_id.status_code == 200, by_id.text
                    if by_id.json()["health"] and by_id.json()["health"]["log"]:
                        break
                    await asyncio.sleep(0.1)
                by_name = await api.get(f"/api/v1/containers/{name}")
                unknown = await api.get("/api/v1/containers/dst-no-such-container")
            await docker("rm", "-f", cid)
        finally:
            server.stop()
    details = by_id.json()
    assert by_name.json()["id"] == details["id"] == cid
    assert details["name"] == name
    assert {"DST_SECRET", "DST_OTHER"} <= set(details["env_names"])
    assert all("=" not in n for n in details["env_names"])
    assert (details["entrypoint"], details["cmd"]) == (["sh"], ["-c", "sleep 300"])
    assert details["restart_policy"] == {"name": "on-failure", "maximum_retry_count": 3}
    assert details["healthcheck"]["test"] == ["CMD-SHELL", "echo checked"]
    assert details["healthcheck"]["interval"] == 1.0
    assert details["health"]["log"][0]["output"] == "checked\n"
    assert details["health"]["log"][0]["exit_code"] == 0
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "No such container" in unknown.json()["detail"]
    logged = await asyncio.to_thread(run_output.read_text)
    assert f"GET /api/v1/containers/{cid}" in logged
    for where, text in [
        ("the server's output", logged),
        ("GET by id", by_id.text),
        ("GET by name", by_name.text),
    ]:
        assert secret not in text, f"the environment's secret in {where}"
