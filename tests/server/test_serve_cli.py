"""`dockstate serve` from the command line: its defaults, and refusals in one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from server_harness import free_port, start_server

pytestmark = pytest.mark.integration


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockstate.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "example.invalid"])
def test_public_bind_without_a_token_is_refused(host: str) -> None:
    result = _serve("--host", host, "--port", str(free_port()), env={"PATH": "/usr/bin"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"dockstate: refusing to listen on {host} with a random token: set --token or "
        "DOCKSTATE_TOKEN (and serve TLS with --certfile and --keyfile)"
    ]


def _announcement(args: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """Start `dockstate serve`, read the two lines it prints once listening, stop it; return
    what it wrote on stderr by then, and the URL line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockstate.cli", "serve", "--port", str(free_port()), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    url = proc.stdout.readline().strip()
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return err.splitlines(), url


def test_public_bind_without_tls_warns() -> None:
    errors, _ = _announcement(["--host", "0.0.0.0"], env={"DOCKSTATE_TOKEN": "t0ken-for-0000"})
    assert errors[0] == (
        "dockstate: warning: serving plain HTTP on 0.0.0.0: the token and the state cross the "
        "network unencrypted; serve TLS with --certfile and --keyfile"
    )


def test_a_token_of_ones_own_is_not_printed() -> None:
    token = "my-own-token-1234567890"
    errors, url = _announcement(["--token", token])
    assert url.endswith("/?token=<your token>")
    assert token not in url
    assert not any(token in line for line in errors)


def test_busy_port_fails_in_one_line() -> None:
    server = start_server()
    try:
        port = server.url.rsplit(":", 1)[1]
        result = _serve("--port", port)
        assert result.returncode == 1
        assert result.stderr.startswith(f"dockstate: could not listen on 127.0.0.1:{port}")
        assert "Traceback" not in result.stderr
    finally:
        server.stop()


def test_prints_a_ready_to_open_url_with_a_random_token() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockstate.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        url = proc.stdout.readline().strip()
        assert url.startswith(f"open http://127.0.0.1:{port}/?token=")
        assert len(url.rsplit("=", 1)[1]) >= 24
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
