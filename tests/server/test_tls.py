"""`dockstate serve --certfile --keyfile`: HTTPS and WSS with the token, the browser's origin
and cookie under https, and the refusals of a bad certificate; which hosts count as loopback."""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme
from server_harness import free_port
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dockstate.cli import is_loopback

pytestmark = pytest.mark.integration

TOKEN = "tls-test-token-0123456789"


@dataclass
class TlsServer:
    url: str  # https://127.0.0.1:PORT
    announced: str  # the URL line `serve` printed
    client_context: ssl.SSLContext  # trusts the server's certificate

    @property
    def ws_url(self) -> str:
        return self.url.replace("https://", "wss://") + "/api/v1/ws"

    def client(self, **options: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, verify=self.client_context, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    port = free_port()
    args = ["--port", str(port), "--certfile", str(folder / "cert.pem")]
    args += ["--keyfile", str(folder / "key.pem")]
    process = subprocess.Popen(
        [sys.executable, "-m", "dockstate.cli", "serve", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DOCKSTATE_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        server = TlsServer(f"https://127.0.0.1:{port}", process.stdout.readline().strip(), context)
        _wait_until_connected(server)
        yield server
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_connected(server: TlsServer) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            health = httpx.get(server.url + "/healthz", verify=server.client_context, timeout=1)
            if health.json()["engine"] == "connected":
                return
        time.sleep(0.1)
    raise AssertionError("the TLS server did not get ready within 30 s")


def test_the_printed_url_is_https(tls_server: TlsServer) -> None:
    # The token came from DOCKSTATE_TOKEN: it is the user's to paste, not to print.
    assert tls_server.announced == f"open {tls_server.url}/?token=<your token>"


async def test_rest_over_https_with_the_token(tls_server: TlsServer) -> None:
    async with tls_server.client() as client:
        assert (await client.get("/api/v1/state")).status_code == 401
        response = await client.get("/api/v1/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.json()["state"]["engine_info"]["status"] == "connected"


def test_plain_http_is_not_served_on_the_tls_port(tls_server: TlsServer) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(tls_server.url.replace("https://", "http://") + "/healthz", timeout=5)


async def test_websocket_over_wss_with_the_token(tls_server: TlsServer) -> None:
    async with connect(
        tls_server.ws_url,
        ssl=tls_server.client_context,
        origin=tls_server.url,  # type: ignore[arg-type]  # a page of this server, over https
    ) as ws:
        await ws.send(f'{{"type":"hello","protocol":"dockstate.v1","token":"{TOKEN}"}}')
        assert '"type":"welcome"' in str(await ws.recv())
        await ws.send('{"type":"subscribe","id":"s","filter":{"kinds":["engine"]}}')
        assert '"type":"snapshot"' in str(await ws.recv())


async def test_the_http_origin_of_our_host_is_another_origin_under_tls(
    tls_server: TlsServer,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            tls_server.ws_url,
            ssl=tls_server.client_context,
            origin=tls_server.url.replace("https://", "http://"),  # type: ignore[arg-type]
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_sign_in_over_https_sets_a_secure_cookie_that_acts_from_our_origin(
    tls_server: TlsServer,
) -> None:
    async with tls_server.client() as client:
        signed_in = await client.get(f"/?token={TOKEN}")
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        # Past the origin check, the engine answers (no such container: 404, nothing done).
        action = "/api/v1/containers/dst-nothing-here/start"
        own = await client.post(action, headers={"Origin": tls_server.url})
        assert own.status_code == 404, own.text
        other = tls_server.url.replace("https://", "http://")
        assert (await client.post(action, headers={"Origin": other})).status_code == 403


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockstate.cli", "serve", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ["PATH"]},
    )


def test_an_unreadable_certificate_fails_in_one_line(tmp_path: Path) -> None:
    result = _serve("--certfile", str(tmp_path / "missing.pem"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"dockstate: cannot serve TLS with {tmp_path / 'missing.pem'}: "
        "[Errno 2] No such file or directory"
    ]


def test_a_file_that_is_no_certificate_fails_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    result = _serve("--certfile", str(tmp_path / "junk.pem"))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"dockstate: cannot serve TLS with {tmp_path / 'junk.pem'}: ")


def test_a_key_without_a_certificate_is_a_usage_error(tmp_path: Path) -> None:
    result = _serve("--keyfile", str(tmp_path / "key.pem"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["dockstate: --keyfile needs --certfile"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
        ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
        ("192.168.1.20", False), ("10.0.0.1", False), ("example.com", False), ("", False),
    ],
)  # fmt: skip
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
