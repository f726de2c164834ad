"""Every endpoint but /healthz needs the token: a walk over every route the app has (REST,
/metrics, the schemas, the OpenAPI pages, the UI and its assets, the WebSocket), so that a
route added later without authentication fails here. The one page served without the token,
the sign-in page at /, says only how to sign in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from server_harness import ServerProcess, peer
from starlette.routing import BaseRoute

from dockstate.server import ServerConfig, create_app

pytestmark = pytest.mark.integration

PUBLIC = {("GET", "/healthz")}
SIGN_IN = ("GET", "/")


def flatten(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route; method ``WS`` for WebSockets."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI >= 0.165 keeps an included router whole
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            yield from flatten(included.routes, inner)
        elif isinstance(route, APIWebSocketRoute):
            yield "WS", prefix + route.path
        else:
            assert isinstance(route, APIRoute), f"a route of an unexpected kind: {route!r}"
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path


ROUTES = sorted(set(flatten(create_app(ServerConfig(token="unused")).routes)))
HTTP_ROUTES = [r for r in ROUTES if r[0] != "WS" and r not in PUBLIC and r != SIGN_IN]


def concrete(template: str) -> str:
    """A path of ``template`` naming nothing that exists (``{id}`` and ``{path:path}`` alike)."""
    return re.sub(r"\{[^}]+\}", "dst-nothing", template)


def test_the_walk_covers_every_kind_of_route() -> None:
    # A guard on the walk itself: a rename must not quietly shrink it.
    paths = {path for _, path in ROUTES}
    expected = {
        "/metrics", "/api/v1/schema", "/openapi.json", "/docs", "/redoc", "/api/v1/ws",
        "/assets/{path:path}", "/api/v1/state", "/api/v1/containers/{id}/stop",
    }  # fmt: skip
    assert expected <= paths
    assert any(method == "DELETE" for method, _ in ROUTES)


@pytest.mark.parametrize(("method", "template"), HTTP_ROUTES)
@pytest.mark.parametrize(
    "credentials",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Cookie": "dockstate_session=wrong-token"}],
    ids=["none", "wrong-bearer", "wrong-cookie"],
)
async def test_every_route_refuses_without_the_token(
    server: ServerProcess, method: str, template: str, credentials: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.request(
            method,
            concrete(template),
            headers={**credentials, "Origin": server.url},
            json={"name": "dst-never-made"} if method in ("POST", "PUT", "PATCH") else None,
        )
    assert response.status_code == 401, f"{method} {template}: {response.status_code}"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert server.token not in response.text


def test_the_openapi_document_lists_only_walked_routes(server: ServerProcess) -> None:
    paths = server.get("/openapi.json").json()["paths"]
    documented = {(m.upper(), path) for path, item in paths.items() for m in item}
    assert documented
    walked = {(method, re.sub(r"\{(\w+):\w+\}", r"{\1}", path)) for method, path in ROUTES}
    assert documented <= walked


def test_the_sign_in_page_reveals_nothing(server: ServerProcess) -> None:
    state = server.get("/api/v1/state").json()
    secrets = [
        server.token,
        state["epoch"],
        *state["state"]["volumes"],
        *state["state"]["networks"],
    ]
    secrets += [c["name"] for c in state["state"]["containers"].values()]
    secrets += [server_version := state["state"]["engine_info"]["server_version"]]
    assert server_version
    for headers in ({}, {"Cookie": "dockstate_session=wrong-token"}):
        page = httpx.get(server.url + "/", headers=headers)
        assert page.status_code == 401
        assert "Sign in" in page.text
        assert "<script" not in page.text
        leaked = [s for s in secrets if s and s in page.text]
        assert leaked == []


@pytest.mark.parametrize(
    "upgrade_headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Cookie": "dockstate_session=wrong-token"}],
    ids=["none", "wrong-bearer", "wrong-cookie"],
)
async def test_the_websocket_refuses_without_the_token(
    server: ServerProcess, upgrade_headers: dict[str, str]
) -> None:
    async with peer(server, hello=False, additional_headers=upgrade_headers) as p:
        await p.send({"type": "hello", "protocol": "dockstate.v1", "client": "walk/1"})
        assert await p.closed_with() == 4401


def test_healthz_answers_without_the_token_and_says_nothing_more(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert set(response.json()) == {"status", "engine"}
