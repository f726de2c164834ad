"""The client's errors: which answer of a dockstate server becomes which exception.

The server relays the engine's refusals with Docker's message (404, 409, other 4xx, 502 for
the engine's own failures); what it says on its own account (503: no engine, no history; 500;
413; 422; a WebSocket upgrade refused) is a ServerError, never an EngineError, so that nobody
takes the server's word for the engine's. Responses are built with the server's own
``problem()``, so the client reads exactly what the server sends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

import dockstate.errors
import dockstate.store
from dockstate.client import Backoff, Client
from dockstate.errors import (
    AuthError,
    Conflict,
    DockstateError,
    EngineAPIError,
    EngineError,
    NotFound,
    ServerError,
    StoreError,
    VersionTooNew,
)
from dockstate.server._rest import problem

Handler = Callable[[httpx.Request], httpx.Response]


def server_problem(status: int, detail: str, **extra: int) -> httpx.Response:
    """What dockstate's REST layer answers: its own problem+json response, as sent."""
    sent = problem(status, "Title", detail, None, **extra)
    return httpx.Response(status, content=bytes(sent.body), headers=dict(sent.headers))


def mocked(handler: Handler) -> Client:
    return Client("http://server:1", "secret", transport=httpx.MockTransport(handler))


async def refusal_of(response: httpx.Response) -> DockstateError:
    async with mocked(lambda _: response) as client:
        with pytest.raises(DockstateError) as raised:
            await client.start("c1")
    return raised.value


# -- REST -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail", "error"),
    [
        # the engine's refusals, relayed with Docker's message
        (404, "No such container: c1", NotFound),
        (409, "container c1 is already running", Conflict),
        (400, "invalid reference format", EngineAPIError),
        (502, "the engine failed: driver failed programming", EngineAPIError),
        # refusals of the server itself
        (401, "a valid token is required", AuthError),
        (403, "this server is read-only: actions are refused", AuthError),
        (503, "cannot reach the Docker engine at unix:///x.sock: refused", ServerError),
        (503, "this server keeps no history (it was started with --no-db)", ServerError),
        (500, "boom", ServerError),
        (413, "the request's body is over 64 KiB", ServerError),
        (422, "body.name: Field required", ServerError),
    ],
)
async def test_each_server_answer_maps_to_its_error(
    status: int, detail: str, error: type[DockstateError]
) -> None:
    raised = await refusal_of(server_problem(status, detail))
    assert type(raised) is error
    assert str(raised) == detail
    assert getattr(raised, "status", None) == status


async def test_an_unreachable_engine_is_the_servers_word_not_the_engines() -> None:
    raised = await refusal_of(server_problem(503, "cannot reach the Docker engine"))
    assert isinstance(raised, ServerError)
    assert not isinstance(raised, EngineError)
    assert raised.message == "cannot reach the Docker engine"


@pytest.mark.parametrize("status", [400, 404, 409, 502])
async def test_the_engines_refusals_are_engine_api_errors_with_dockers_message(
    status: int,
) -> None:
    raised = await refusal_of(server_problem(status, "Docker says no"))
    assert isinstance(raised, EngineAPIError)
    assert (raised.status, raised.message) == (status, "Docker says no")


@pytest.mark.parametrize("status", [400, 502, 504])
async def test_an_error_that_is_not_problem_json_is_not_dockstates_word(status: int) -> None:
    # e.g. a reverse proxy in front of the server answering for it
    raised = await refusal_of(httpx.Response(status, text="<html>Bad Gateway</html>"))
    assert type(raised) is ServerError
    assert isinstance(raised, ServerError)
    assert raised.status == status


async def test_a_plain_text_500_reads_as_its_text() -> None:
    raised = await refusal_of(httpx.Response(500, text="Internal Server Error"))
    assert type(raised) is ServerError
    assert str(raised) == "Internal Server Error"


async def test_a_since_newer_than_the_server_is_still_version_too_new() -> None:
    answer = server_problem(409, "too new", oldest=0, current=5)
    async with mocked(lambda _: answer) as client:
        with pytest.raises(VersionTooNew):
            await client.changes_since(9)


# -- the WebSocket upgrade ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def refusing(status: int) -> AsyncIterator[str]:
    """A WebSocket server that answers every upgrade with ``status``."""

    def process_request(_: ServerConnection, __: Request) -> Response:
        return Response(status, "refused", Headers(), b"refused\n")

    async def never(_: ServerConnection) -> None:  # pragma: no cover
        raise AssertionError("no upgrade expected")

    async with serve(never, "127.0.0.1", 0, process_request=process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("status", "error"), [(503, ServerError), (404, ServerError)])
async def test_a_refused_upgrade_is_a_server_error(
    status: int, error: type[DockstateError]
) -> None:
    async with refusing(status) as url, Client(url, "t") as client:
        with pytest.raises(error, match=f"no dockstate WebSocket at .* \\(HTTP {status}\\)"):
            async for _ in client.watch(backoff=Backoff(0.01, 0.05)):
                pass


@pytest.mark.parametrize("status", [401, 403])
async def test_an_upgrade_refused_for_the_token_is_an_auth_error(status: int) -> None:
    async with refusing(status) as url, Client(url, "t") as client:
        with pytest.raises(AuthError) as raised:
            async for _ in client.watch(backoff=Backoff(0.01, 0.05)):
                pass
    assert raised.value.status == status


# -- the tree -----------------------------------------------------------------------------------


def test_server_and_store_errors_hang_in_the_one_tree() -> None:
    assert ServerError.__mro__[1] is DockstateError
    assert StoreError.__mro__[1] is DockstateError
    assert dockstate.store.StoreError is StoreError
    drawn = {
        line.replace("─", " ").replace("├", " ").replace("└", " ").replace("│", " ").split()[0]
        for line in (dockstate.errors.__doc__ or "").splitlines()
        if line.startswith("    ")
    }
    assert drawn == set(dockstate.errors.__all__)
