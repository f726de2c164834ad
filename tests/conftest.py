"""Fixtures shared by the test layers.

- Engine: the real Docker engine that scripts/engine.sh provides (scripts/test starts one when
  none answers); helpers in integration/harness.py. ``DOCKSTATE_TEST_ON=podman`` (or
  ``docker26``) runs the tests against an engine of scripts/engines.sh instead, started for
  the session and removed after it (``DOCKSTATE_TEST_KEEP_ENGINE=1`` leaves it running, for
  the next run to reuse); a test marked ``not_on_podman(reason)`` is skipped there
  with its reason.
- Server: a real `dockstate serve` process; helpers in server/server_harness.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from harness import LABEL, Live, engine_under_test, watching
from server_harness import ServerProcess, start_server

ENGINES = Path(__file__).resolve().parents[1] / "scripts" / "engines.sh"


def pytest_configure(config: pytest.Config) -> None:
    engine = os.environ.get("DOCKSTATE_TEST_ON")
    if not engine:
        return
    up = subprocess.run([str(ENGINES), engine, "up"], stdout=subprocess.PIPE, text=True)
    if up.returncode != 0:
        raise pytest.UsageError(f"scripts/engines.sh {engine} up failed")
    os.environ["DOCKER_HOST"] = up.stdout.strip()
    # Never the tests that restart the engine: they restart scripts/engine.sh's dockerd.
    os.environ["DOCKSTATE_TEST_ENGINE"] = "external"


def pytest_unconfigure(config: pytest.Config) -> None:
    engine = os.environ.get("DOCKSTATE_TEST_ON")
    if engine and os.environ.get("DOCKSTATE_TEST_KEEP_ENGINE") != "1":
        subprocess.run([str(ENGINES), engine, "down"], check=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("not_on_podman")
    if marker is not None and engine_under_test().podman:
        pytest.skip(f"on Podman: {marker.args[0]}")


def _docker_answers() -> bool:
    try:
        subprocess.run(["docker", "version"], capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@pytest.hookimpl(trylast=True)  # after `-m` has deselected what it deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(item.get_closest_marker("integration") for item in items) and not _docker_answers():
        raise pytest.UsageError(
            "no Docker engine answers: run the tests with scripts/test, which starts one, "
            "or deselect them with -m 'not integration'"
        )


@pytest.fixture(scope="session", autouse=True)
def _cleanup_test_objects() -> Iterator[None]:
    yield

    # Remove only what the tests created: labelled containers, volumes and networks, and the
    # images tagged under the test prefix.
    def run(*args: str) -> list[str]:
        res = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
        return res.stdout.split()

    containers = run("ps", "-aq", "--filter", f"label={LABEL}")
    if containers:
        run("rm", "-f", *containers)
    volumes = run("volume", "ls", "-q", "--filter", f"label={LABEL}")
    volumes += unclaimed("volume")
    if volumes:
        run("volume", "rm", "-f", *volumes)
    networks = run("network", "ls", "-q", "--filter", f"label={LABEL}")
    networks += unclaimed("network")
    if networks:
        run("network", "rm", *networks)
    tags = run("images", "--format", "{{.Repository}}:{{.Tag}}")
    images = [tag for tag in tags if tag.startswith("dst-")]
    if images:
        run("rmi", "-f", *images)


def unclaimed(kind: str) -> list[str]:
    """The ``dst-`` volumes or networks that no other test session labels as its own: this
    session's unlabelled ones (made through the REST API without labels) and its own. An
    engine may be shared by several sessions at once; another session's objects are its to
    remove, and removing them under it breaks its tests."""
    rows = subprocess.run(
        ["docker", kind, "ls", "--format", "{{.Name}}\t{{.Labels}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    names = []
    for row in rows:
        name, _, labels = row.partition("\t")
        sessions = {
            label.split("=", 1)[0]
            for label in labels.split(",")
            if label.startswith(f"{LABEL.rsplit('.', 1)[0]}.")
        }
        if name.startswith("dst-") and sessions <= {LABEL}:
            names.append(name)
    return names


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    """A watcher following the real engine, connected and loaded."""
    async with watching() as harness:
        yield harness


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    """One `dockstate serve` for the session, watching the real engine."""
    proc = start_server()
    yield proc
    proc.stop()
