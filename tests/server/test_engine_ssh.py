"""Engines over ``ssh://`` (protocol.md §8), as the Docker CLI reaches them: ``ssh … docker
system dial-stdio`` per connection. Against this machine's own sshd, started by the test on a
loopback port with keys the test makes (its config, keys and known hosts in a directory of its
own, given to dockstate through ``$DOCKSTATE_SSH``). One server: the engine over ssh (state, a
subscription, an action), and the two usual refusals, each in one clear line: a key the host
does not accept, and a host key we do not know."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_harness import ServerProcess, adocker, free_port, peer, start_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("sshd", path="/usr/sbin:/usr/bin") is None or shutil.which("ssh") is None,
        reason="no sshd (Debian's openssh-server) or ssh here",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd and docker need root"),
]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return (path.with_suffix(".pub")).read_text().strip()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Path]:
    """An sshd on a loopback port that lets our key log in as root; an ssh config with three
    host aliases: ``dst-good``, ``dst-badkey`` (a key it refuses), ``dst-unknown`` (no known
    host key). Its directory."""
    port = free_port()
    host_key = keygen(tmp_path / "host_key")
    authorized = keygen(tmp_path / "user_key")
    keygen(tmp_path / "other_key")
    (tmp_path / "authorized_keys").write_text(authorized + "\n")
    (tmp_path / "known_hosts").write_text(f"dst-host {host_key}\n")
    (tmp_path / "no_known_hosts").write_text("")
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path}/host_key\n"
        f"PidFile {tmp_path}/sshd.pid\nAuthorizedKeysFile {tmp_path}/authorized_keys\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
    )
    common = (
        f"  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentitiesOnly yes\n"
        "  HostKeyAlias dst-host\n  StrictHostKeyChecking yes\n"
    )
    (tmp_path / "ssh_config").write_text(
        f"Host dst-good\n{common}  IdentityFile {tmp_path}/user_key\n"
        f"  UserKnownHostsFile {tmp_path}/known_hosts\n"
        f"Host dst-badkey\n{common}  IdentityFile {tmp_path}/other_key\n"
        f"  UserKnownHostsFile {tmp_path}/known_hosts\n"
        f"Host dst-unknown\n{common}  IdentityFile {tmp_path}/user_key\n"
        f"  UserKnownHostsFile {tmp_path}/no_known_hosts\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    with (tmp_path / "sshd.log").open("wb") as log:
        process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(tmp_path / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                [
                    "ssh",
                    "-F",
                    str(tmp_path / "ssh_config"),
                    "-o",
                    "BatchMode=yes",
                    "dst-good",
                    "true",
                ],
                capture_output=True,
            ).returncode
            != 0
        ):
            assert process.poll() is None, (tmp_path / "sshd.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "sshd.log").read_text()
            time.sleep(0.1)
        yield tmp_path
    finally:
        process.terminate()  # ours, by its pid
        process.wait(10)


async def engine_error(api: httpx.AsyncClient, engine: str) -> str:
    for _ in range(150):
        state = (await api.get(f"/api/v1/engines/{engine}/state")).json()["state"]
        if state["engine_info"]["last_error"]:
            return str(state["engine_info"]["last_error"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"engine {engine} never failed")


async def test_engines_over_ssh(sshd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKSTATE_SSH", f"ssh -F {sshd / 'ssh_config'}")
    server: ServerProcess | None = None
    try:
        server = await asyncio.to_thread(
            start_server,
            "--engine", "local=unix:///var/run/docker.sock",
            "--engine", "ssh=ssh://dst-good",
            "--engine", "badkey=ssh://dst-badkey",
            "--engine", "unknown=ssh://dst-unknown",
        )  # fmt: skip
        async with httpx.AsyncClient(
            base_url=server.url, headers=server.headers, timeout=30
        ) as api:
            await over_ssh(server, api)
            refused = await engine_error(api, "badkey")
            assert refused.startswith("cannot reach the Docker engine at ssh://dst-badkey: ")
            assert "ssh refused our key for dst-badkey (" in refused
            assert "Permission denied" in refused
            unknown = await engine_error(api, "unknown")
            assert "the ssh host key of dst-unknown is unknown or has changed" in unknown
            for error in (refused, unknown):
                assert "\n" not in error
            listing = (await api.get("/api/v1/engines")).json()["engines"]
            assert {e["id"]: e["status"] for e in listing} == {
                "local": "connected", "ssh": "connected", "badkey": "down", "unknown": "down",
            }  # fmt: skip
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)


async def over_ssh(server: ServerProcess, api: httpx.AsyncClient) -> None:
    """The engine over ssh: its state (this machine's engine), a subscription that sees an
    action's effect."""
    for _ in range(150):
        state: dict[str, Any] = (await api.get("/api/v1/engines/ssh/state")).json()
        if state["state"]["engine_info"]["status"] == "connected":
            break
        await asyncio.sleep(0.1)
    assert state["state"]["engine_info"]["status"] == "connected", state["state"]["engine_info"]
    local = (await api.get("/api/v1/engines/local/state")).json()["state"]
    assert state["state"]["engine_info"]["id"] == local["engine_info"]["id"]  # the same engine
    name = f"dst-ssh-{secrets.token_hex(4)}"
    async with peer(server) as p:
        await p.send(
            {"type": "subscribe", "id": "s", "engine": "ssh", "filter": {"kinds": ["volume"]}}
        )
        assert (await p.recv_until("snapshot", 10.0))["engine"] == "ssh"
        response = await api.post(
            "/api/v1/engines/ssh/volumes", json={"name": name, "labels": {"dockstate.test": "1"}}
        )
        try:
            assert response.status_code == 202, response.text
            while True:
                message = await p.recv_until("changes", 10.0)
                if any(c["id"] == name for c in message["changes"]):
                    assert message["engine"] == "ssh"
                    break
        finally:
            await adocker("volume", "rm", "-f", name)
