"""Engines over ``tcp://`` with TLS (protocol.md §8): the shared engine behind a TLS proxy of
this test's own that asks for a client certificate (certificates made by trustme), reached as
the Docker CLI would (a directory of ca.pem, cert.pem, key.pem). One server, five engines:
the local socket, the engine over TLS (state, a subscription, an action), and three that
cannot be used, each with its one clear line: a CA that did not sign the engine's
certificate, no client certificate (under TLS 1.3 the engine's refusal comes after the
handshake, as a closed connection: the line says what to check), and a server that is not
Docker."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from server_harness import ServerProcess, adocker, peer, start_server

pytestmark = pytest.mark.integration

DOCKER_SOCKET = "/var/run/docker.sock"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(context: ssl.SSLContext) -> AsyncIterator[int]:
    """A TLS listener on a loopback port that forwards each connection to the shared engine's
    socket: a Docker engine with ``--tlsverify``, as far as a client can tell. Its port."""

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(DOCKER_SOCKET)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def not_docker() -> AsyncIterator[int]:
    """A plain HTTP server that answers everything 404, as a web server would."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            body = b"<html>no such page</html>"
            writer.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def cert_dir(root: Path, name: str, ca: trustme.CA, client: trustme.LeafCert | None) -> Path:
    """A DOCKER_CERT_PATH: ``ca.pem`` (whom to trust), and the client's own pair if any."""
    folder = root / name
    folder.mkdir()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    if client is not None:
        client.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
        client.private_key_pem.write_to_path(str(folder / "key.pem"))
    return folder


async def engine_error(api: httpx.AsyncClient, engine: str) -> str:
    """The engine's status once it is known to be down, and why."""
    for _ in range(150):
        state = (await api.get(f"/api/v1/engines/{engine}/state")).json()["state"]
        error = state["engine_info"]["last_error"]
        if error:
            return str(error)
        await asyncio.sleep(0.1)
    raise AssertionError(f"engine {engine} never failed")


async def test_engines_over_tls(tmp_path: Path) -> None:
    ca, other_ca = trustme.CA(), trustme.CA()
    engine_cert = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("dockstate-client")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    engine_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # as dockerd --tlsverify: a client certificate
    good = cert_dir(tmp_path, "good", ca, client)
    wrong_ca = cert_dir(tmp_path, "wrong-ca", other_ca, other_ca.issue_cert("x"))
    no_cert = cert_dir(tmp_path, "no-cert", ca, None)
    server: ServerProcess | None = None
    async with tls_proxy(context) as port, not_docker() as web:
        config = tmp_path / "engines.toml"
        config.write_text(
            f'[engines.local]\nurl = "unix://{DOCKER_SOCKET}"\n'
            f'[engines.tls]\nurl = "tcp://127.0.0.1:{port}"\ncert_path = "{good}"\n'
            f'[engines.wrongca]\nurl = "tcp://127.0.0.1:{port}"\ncert_path = "{wrong_ca}"\n'
            f'[engines.nocert]\nurl = "tcp://127.0.0.1:{port}"\ncert_path = "{no_cert}"\n'
            f'[engines.web]\nurl = "tcp://127.0.0.1:{web}"\n'
        )
        try:
            server = await asyncio.to_thread(start_server, "--config", str(config))
            async with httpx.AsyncClient(
                base_url=server.url, headers=server.headers, timeout=30
            ) as api:
                await over_tls(server, api)
                wrong = await engine_error(api, "wrongca")
                assert "its TLS certificate is not trusted" in wrong, wrong
                refused = await engine_error(api, "nocert")
                assert "check cert.pem and key.pem in DOCKER_CERT_PATH" in refused, refused
                web_error = await engine_error(api, "web")
                assert "is not a Docker engine: GET /_ping answered 404" in web_error
                for error in (wrong, refused, web_error):
                    assert "\n" not in error
                statuses = {
                    e["id"]: e["status"]
                    for e in (await api.get("/api/v1/engines")).json()["engines"]
                }
                assert statuses == {
                    "local": "connected", "tls": "connected", "wrongca": "down",
                    "nocert": "down", "web": "down",
                }  # fmt: skip
        finally:
            if server is not None:
                await asyncio.to_thread(server.stop)


async def over_tls(server: ServerProcess, api: httpx.AsyncClient) -> None:
    """The engine over TLS: its state, a subscription that sees an action's effect."""
    for _ in range(150):
        state: dict[str, Any] = (await api.get("/api/v1/engines/tls/state")).json()
        if state["state"]["engine_info"]["status"] == "connected":
            break
        await asyncio.sleep(0.1)
    assert state["state"]["engine_info"]["host"].startswith("tcp://127.0.0.1:")
    # The same engine: both views hold the same containers (read again while the shared
    # engine changes between the two reads: other users' containers come and go).
    for _ in range(50):
        local = (await api.get("/api/v1/engines/local/state")).json()["state"]
        state = (await api.get("/api/v1/engines/tls/state")).json()
        if set(state["state"]["containers"]) == set(local["containers"]):
            break
        await asyncio.sleep(0.1)
    assert set(state["state"]["containers"]) == set(local["containers"])
    name = f"dst-tls-{secrets.token_hex(4)}"
    async with peer(server) as p:
        await p.send(
            {"type": "subscribe", "id": "t", "engine": "tls", "filter": {"kinds": ["volume"]}}
        )
        assert (await p.recv_until("snapshot"))["engine"] == "tls"
        response = await api.post(
            "/api/v1/engines/tls/volumes", json={"name": name, "labels": {"dockstate.test": "1"}}
        )
        try:
            assert response.status_code == 202, response.text
            while True:
                message = await p.recv_until("changes", 10.0)
                if any(c["id"] == name for c in message["changes"]):
                    assert message["engine"] == "tls"
                    break
        finally:
            await adocker("volume", "rm", "-f", name)
