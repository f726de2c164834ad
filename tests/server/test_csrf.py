"""Cross-site request forgery: an action signed in by the session cookie (which a browser
attaches by itself) is carried out only when the browser says it comes from this server's own
pages (or an --allow-origin); a bearer token (which no browser attaches) needs no Origin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from harness import LABEL, docker, unique
from server_harness import ServerProcess, start_server

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
ALLOWED = "http://ui.example:8080"


@pytest.fixture(scope="module")
def allowing_server() -> Iterator[ServerProcess]:
    proc = start_server("--allow-origin", ALLOWED)
    yield proc
    proc.stop()


@pytest.fixture
async def browser(allowing_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in the way the web UI is: the session cookie, no Authorization."""
    async with httpx.AsyncClient(
        base_url=allowing_server.url,
        cookies={"dockstate_session": allowing_server.token},
        timeout=30,
    ) as client:
        yield client


def volume_body() -> dict[str, Any]:
    return {"name": unique("csrf-"), "labels": {LABEL: "1"}}


async def volume_exists(name: str) -> bool:
    return name in (await docker("volume", "ls", "-q")).split()


async def assert_refused(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    detail = response.json()["detail"]
    for word in words:
        assert word in detail


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, or a form under no-referrer
        {"Referer": "http://evil.example/attack.html"},
        # Our host under another scheme or port is another origin.
        {"Origin": "https://127.0.0.1"},
    ],
)
async def test_cross_site_action_with_the_cookie_is_refused(
    browser: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = volume_body()
    response = await browser.post("/api/v1/volumes", json=body, headers=headers)
    await assert_refused(response, "cross-site", "--allow-origin")
    assert not await volume_exists(body["name"])


async def test_cookie_action_without_origin_or_referer_is_refused(
    browser: httpx.AsyncClient,
) -> None:
    body = volume_body()
    response = await browser.post("/api/v1/volumes", json=body)
    await assert_refused(response, "Origin", "Bearer")
    assert not await volume_exists(body["name"])


async def test_cross_site_delete_is_refused_and_leaves_the_object(
    browser: httpx.AsyncClient,
) -> None:
    name = unique("csrf-")
    await docker("volume", "create", "--label", f"{LABEL}=1", name)
    response = await browser.delete(
        f"/api/v1/volumes/{name}", headers={"Origin": "http://evil.example"}
    )
    await assert_refused(response, "cross-site")
    assert await volume_exists(name)


async def test_cross_site_is_refused_before_the_body_is_judged(browser: httpx.AsyncClient) -> None:
    response = await browser.post(
        "/api/v1/networks",
        content=b"{not json",
        headers={"Content-Type": "application/json", "Origin": "http://evil.example"},
    )
    await assert_refused(response, "cross-site")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "{own}"},  # what a browser sends with the UI's fetch
        {"Referer": "{own}/containers"},  # an older browser that sends only a Referer
        {"Origin": ALLOWED},
    ],
)
async def test_same_origin_action_with_the_cookie_is_carried_out(
    allowing_server: ServerProcess, browser: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    headers = {k: v.format(own=allowing_server.url) for k, v in headers.items()}
    body = volume_body()
    response = await browser.post("/api/v1/volumes", json=body, headers=headers)
    assert response.status_code == 202, response.text
    assert await volume_exists(body["name"])


async def test_bearer_action_needs_no_origin(allowing_server: ServerProcess) -> None:
    body = volume_body()
    async with httpx.AsyncClient(base_url=allowing_server.url) as client:
        response = await client.post("/api/v1/volumes", json=body, headers=allowing_server.headers)
    assert response.status_code == 202, response.text
    assert await volume_exists(body["name"])


async def test_reads_with_the_cookie_need_no_origin(browser: httpx.AsyncClient) -> None:
    # Reading changes nothing, and SameSite=Strict keeps the cookie off cross-site requests.
    assert (await browser.get("/api/v1/state")).status_code == 200
