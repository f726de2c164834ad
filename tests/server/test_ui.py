"""The web UI's server side (dockstate.server._ui): the sign-in that turns the printed URL's
token into an HttpOnly session cookie, the built app with its Content-Security-Policy, the
assets, and the pages a browser sees without a session or without a build."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from dockstate.server import ServerConfig
from dockstate.server._ui import BUILD_HINT, install_ui

TOKEN = "s3cret-token"
SESSION = {"cookie": f"dockstate_session={TOKEN}"}
INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/app.js"></script></head></html>'
)


def make_client(dist: Path) -> httpx.AsyncClient:
    app = FastAPI()
    # The routes read only the token from the server's context.
    app.state.dockstate = SimpleNamespace(config=ServerConfig(token=TOKEN))
    install_ui(app, dist)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    )


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app.js").write_text("console.log('dockstate')")
    (tmp_path / "secret.txt").write_text("not an asset")
    return tmp_path


async def test_the_printed_url_signs_in_and_the_token_leaves_the_address_bar(dist: Path) -> None:
    client = make_client(dist)
    response = await client.get(f"/?token={TOKEN}")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"dockstate_session={TOKEN};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert response.headers["referrer-policy"] == "no-referrer"
    page = await client.get("/")  # the client keeps the cookie, as a browser does
    assert page.status_code == 200
    assert page.text == INDEX


async def test_the_app_is_served_with_a_content_security_policy(dist: Path) -> None:
    client = make_client(dist)
    page = await client.get("/", headers=SESSION)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "connect-src 'self' ws://127.0.0.1:8765 wss://127.0.0.1:8765;" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store"


async def test_a_bearer_token_also_opens_the_app(dist: Path) -> None:
    page = await make_client(dist).get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200


@pytest.mark.parametrize("cookie", [None, "wrong"])
async def test_without_a_session_the_page_says_to_open_the_printed_url(
    dist: Path, cookie: str | None
) -> None:
    client = make_client(dist)
    cookies = {"cookie": f"dockstate_session={cookie}"} if cookie else None
    client.cookies.clear()
    page = await client.get("/", headers=cookies)
    assert page.status_code == 401
    assert "dockstate serve" in page.text
    assert "?token=" in page.text
    assert INDEX not in page.text


async def test_a_wrong_token_in_the_link_does_not_sign_in(dist: Path) -> None:
    response = await make_client(dist).get("/?token=nope")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "not this server" in response.text


async def test_the_message_pages_inline_style_is_allowed_by_its_hash(dist: Path) -> None:
    page = await make_client(dist).get("/")
    match = re.search(r"<style>(.*?)</style>", page.text)
    assert match is not None
    digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in page.headers["content-security-policy"]


async def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    page = await make_client(tmp_path / "nothing").get("/", headers=SESSION)
    assert page.status_code == 503
    assert BUILD_HINT in page.text


async def test_assets_are_served_immutable(dist: Path) -> None:
    client = make_client(dist)
    response = await client.get("/assets/app.js", headers=SESSION)
    assert response.status_code == 200
    assert response.text == "console.log('dockstate')"
    assert "immutable" in response.headers["cache-control"]
    assert "private" in response.headers["cache-control"]  # not for shared caches
    assert "javascript" in response.headers["content-type"]


@pytest.mark.parametrize("cookie", [None, "wrong"])
async def test_assets_need_a_session(dist: Path, cookie: str | None) -> None:
    headers = {"cookie": f"dockstate_session={cookie}"} if cookie else None
    response = await make_client(dist).get("/assets/app.js", headers=headers)
    assert response.status_code == 401
    assert "dockstate" not in response.text


@pytest.mark.parametrize(
    "path",
    ["/assets/missing.js", "/assets/%2e%2e/secret.txt", "/assets/..%2fsecret.txt", "/assets/"],
)
async def test_nothing_outside_the_assets_is_served(dist: Path, path: str) -> None:
    response = await make_client(dist).get(path, headers=SESSION)
    assert response.status_code == 404
    assert "not an asset" not in response.text
