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
