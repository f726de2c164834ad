"""Fixtures shared by the test layers.

- Engine: the real Docker engine that scripts/engine.sh provides (scripts/test starts one when
  none answers); helpers in integration/harness.py.
- Server: a real `dockstate serve` process; helpers in server/server_harness.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from harness import LABEL, Live, watching
from server_harness import ServerProcess, start_server


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
