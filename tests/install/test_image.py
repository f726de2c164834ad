"""The container image: ``scripts/image`` builds ``dockstate:latest`` from Debian bases it makes
itself (mmdebstrap, cached: built only when missing), then the image runs against the test
engine as a user would run it (the socket mounted, a volume at /data), reports healthy,
prints its URL with a token in ``docker logs``, and finds its own container in the state.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.install]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "dockstate:latest"


def docker(*args: str, timeout: float = 60) -> str:
    res = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert res.returncode == 0, f"docker {' '.join(args)}: {res.stderr}"
    return res.stdout.strip()


def step(name: str, start: float) -> None:
    print(f"  {name}: {time.monotonic() - start:.1f} s", file=sys.stderr)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("mmdebstrap") is None and not _has("dockstate-base/python:bookworm"):
        pytest.skip(
            "mmdebstrap is not installed (scripts/test installs it: apt-get install mmdebstrap)"
        )
    start = time.monotonic()
    res = subprocess.run(
        [str(ROOT / "scripts/image")], capture_output=True, text=True, timeout=1500, check=False
    )
    assert res.returncode == 0, res.stderr[-4000:]
    step("scripts/image (cached bases and layers when present)", start)
    return IMAGE


def _has(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = f"dst-image-{secrets.token_hex(4)}"
    volume = f"{name}-data"
    start = time.monotonic()
    cid = docker(
        "run",
        "-d",
        "--name",
        name,
        "-p",
        "127.0.0.1::8765",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        f"{volume}:/data",
        "--health-interval",
        "1s",  # the image's 15 s, shortened for the test
        image,
    )
    step("docker run", start)
    try:
        yield cid
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, check=False)


def test_the_image_runs_and_sees_itself(container: str) -> None:
    start = time.monotonic()
    deadline = start + 90
    while True:
        health = json.loads(docker("inspect", "--format", "{{json .State}}", container))
        assert health["Running"], docker("logs", container)
        if health.get("Health", {}).get("Status") == "healthy":
            break
        assert time.monotonic() < deadline, f"not healthy: {health}\n{docker('logs', container)}"
        time.sleep(0.5)
    step("healthy (HEALTHCHECK on /healthz)", start)

    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)
    out = logs.stdout + logs.stderr
    found = re.search(r"open http://127\.0\.0\.1:8765/\?token=([A-Za-z0-9_\-]+)", out)
    assert found, out
    token = found.group(1)
    assert out.count(f"token={token}") == 1, out  # printed once
    assert "running as dockstate" in out, out  # not root

    user = docker("exec", container, "id", "-u")
    assert user == "0"  # docker exec is root; the server's process is not:
    pid1_user = docker("exec", container, "stat", "-c", "%u", "/proc/1")
    assert pid1_user == "10001"
    assert docker("exec", container, "ls", "/data").split().count("dockstate.db") == 1

    port = docker("port", container, "8765/tcp").splitlines()[0].rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{url}/api/v1/state", timeout=10).status_code == 401
    deadline = time.monotonic() + 30
    while True:
        state = httpx.get(f"{url}/api/v1/state", headers=auth, timeout=10).json()["state"]
        if container in state["containers"]:
            break
        assert time.monotonic() < deadline, sorted(state["containers"])
        time.sleep(0.5)
    step("its own container in /api/v1/state", start)
    assert state["containers"][container]["state"] == "running"
    page = httpx.get(f"{url}/", headers=auth, timeout=10)
    assert page.status_code == 200
    assert '<div id="root">' in page.text  # the UI, from inside the wheel
