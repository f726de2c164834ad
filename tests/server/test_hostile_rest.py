"""Hostile REST requests: bodies too big to buffer, bodies that are not text, nesting deeper
than any parser's stack. Each gets its problem+json, in the documented order (the token
first, then read-only, then the body), and costs the server no memory to speak of."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hostile_harness import rss_mb
from server_harness import ServerProcess, start_server

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def read_only() -> Iterator[ServerProcess]:
    proc = start_server("--read-only")
    yield proc
    proc.stop()


@pytest.fixture
async def anonymous(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status


def test_a_huge_anonymous_body_is_refused_unread(server: ServerProcess) -> None:
    pid, peak, done = server.process.pid, [rss_mb(server.process.pid)], threading.Event()
    baseline = peak[0]

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.01)

    def body() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        chunk = b"x" * (1 << 20)
        for _ in range(200):
            yield chunk

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for headers in ({}, {"Content-Length": str(200 << 20)}):
            response = httpx.post(
                server.url + "/api/v1/volumes",
                content=body(),
                headers={"Content-Type": "application/json", **headers},
                timeout=60,
            )
            assert_problem(response, 413)
    finally:
        done.set()
        watcher.join()
    # Before the limit, the whole 200 MB was buffered before the 401 (600+ MB of RSS).
    assert peak[0] - baseline < 50, f"RSS {baseline:.0f} -> {peak[0]:.0f} MB"


async def test_a_body_of_64_kib_is_read(server: ServerProcess) -> None:
    # Just under the limit: judged as usual (here: an invalid name, 422).
    body = b'{"name": "' + b"x" * (64 * 1024 - 20) + b'"}'
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as api:
        response = await api.post(
            "/api/v1/volumes", content=body, headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not text", b'{"name": "\xc3\x28"}', b"[" * 10_000, b'{"name":' * 5000],
    ids=["not UTF-8", "invalid UTF-8 in a string", "10 000 levels", "5 000 objects deep"],
)
async def test_hostile_bodies_get_401_then_403_then_a_client_error(
    server: ServerProcess, read_only: ServerProcess, body: bytes
) -> None:
    json_headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert_problem(
            await anonymous.post("/api/v1/networks", content=body, headers=json_headers), 401
        )
    async with httpx.AsyncClient(base_url=read_only.url, headers=read_only.headers) as client:
        assert_problem(
            await client.post("/api/v1/networks", content=body, headers=json_headers), 403
        )
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as api:
        response = await api.post("/api/v1/networks", content=body, headers=json_headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == PROBLEM
