"""`dockstate serve` from the command line: its defaults, and refusals in one clear line."""

from __future__ import annotations

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


def test_public_bind_without_a_token_is_refused() -> None:
    result = _serve("--host", "0.0.0.0", "--port", str(free_port()), env={"PATH": "/usr/bin"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "dockstate: refusing to listen on 0.0.0.0 with a random token: set --token or "
        "DOCKSTATE_TOKEN (and put TLS in front of it)"
    ]


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
