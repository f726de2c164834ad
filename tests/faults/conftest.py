"""Fixtures shared by the fault tests (their helpers are in fault_harness.py, docker_proxy.py
and the other modules beside them)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator

import pytest
from docker_proxy import DockerProxy
from fault_harness import remove_prefixed
from harness import unique

ENGINE_SOCKET = "/var/run/docker.sock"


@pytest.fixture
async def proxy() -> AsyncIterator[DockerProxy]:
    """A fault-injecting proxy in front of the shared engine (no fault until a test sets one)."""
    where = tempfile.mkdtemp(prefix="dst-faults-")
    async with DockerProxy(ENGINE_SOCKET, f"{where}/docker.sock") as running:
        yield running
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def prefix() -> str:
    """The name prefix of this test's objects (removed at its end)."""
    return unique("f") + "-"


@pytest.fixture(autouse=True)
async def _remove_objects(prefix: str) -> AsyncIterator[None]:
    yield
    await remove_prefixed(prefix)
