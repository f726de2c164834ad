"""The client's bookkeeping without a server: applying snapshots and changes, gap detection,
bookmarks, resume positions, backoff delays, REST error mapping and the CLI's rendering."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dockstate.cli import describe_message, main
from dockstate.client import Backoff, Client, Follower, Step
from dockstate.errors import (
    AuthError,
    Conflict,
    DockstateError,
    EngineAPIError,
    NotFound,
    ProtocolError,
    ServerError,
    VersionExpired,
    VersionTooNew,
)
from dockstate.state import ChangeBatch, Container, EngineState, Remove, Upsert, Volume
from dockstate.wire import batch_json

EPOCH = "e1"


# -- builders -------------------------------------------------------------------------------


def container(key: str, state: str = "running", name: str | None = None) -> Container:
    return Container.model_validate(
        {
            "id": key,
            "name": name or f"name-{key}",
            "image": "app:latest",
            "image_id": "",
            "command": "sleep 60",
            "created": "2026-01-01T00:00:00.000000Z",
            "state": state,
            "status": state,
        }
    )


class Server:
    """A real EngineState standing in for a server: its snapshot and batches on the wire."""

    def __init__(self) -> None:
        self.state = EngineState(epoch=EPOCH)
        self.batches: list[ChangeBatch] = []
        self.state.subscribe(self.batches.append)

    def apply(self, *ops: Upsert | Remove) -> dict[str, Any]:
        batch = self.state.apply(ops)
        assert batch is not None
        return changes(batch)

    def snapshot(self, sub: str = "s1") -> dict[str, Any]:
        return {
            "type": "snapshot",
            "sub": sub,
            "epoch": EPOCH,
            "version": self.state.version,
            "state": self.state.snapshot(),
        }

    def bookmark(self, version: int | None = None) -> dict[str, Any]:
        v = self.state.version if version is None else version
        return {"type": "bookmark", "sub": "s1", "epoch": EPOCH, "version": v}


def changes(batch: ChangeBatch, sub: str = "s1", epoch: str = EPOCH) -> dict[str, Any]:
    return {"type": "changes", "sub": sub, "epoch": epoch, **batch_json(batch)}


def started() -> tuple[Server, Follower]:
    server = Server()
    server.apply(
        Upsert(container("c1")),
        Upsert(Volume.model_validate({"name": "v1", "driver": "local", "mountpoint": "/v1"})),
    )
    follower = Follower()
    follower.subscribe_message()
    assert follower.handle(server.snapshot()) is Step.STATE
    return server, follower


# -- Follower: applying -----------------------------------------------------------------------


def test_snapshot_then_changes_hold_exactly_the_servers_state() -> None:
    server, follower = started()
    steps = [
        follower.handle(server.apply(Upsert(container("c2", "created")))),
        follower.handle(server.apply(Upsert(container("c2", "running")))),
        follower.handle(server.apply(Remove("container", "c1"))),
        follower.handle(server.apply(Remove("volume", "v1"))),
    ]
    assert steps == [Step.STATE] * 4
    assert follower.state == server.state.snapshot()
    assert follower.applied == follower.version == server.state.version
    assert follower.stats.batches == 4


def test_a_state_once_handed_out_is_never_mutated() -> None:
    server, follower = started()
    first = follower.state
    assert first is not None
    frozen = copy.deepcopy(first)
    follower.handle(server.apply(Upsert(container("c1", "exited"))))
    follower.handle(server.apply(Remove("volume", "v1")))
    assert first == frozen
    assert follower.state is not first
    assert follower.state is not None
    assert follower.state["containers"]["c1"]["state"] == "exited"


def test_last_message_is_the_one_behind_the_state() -> None:
    server, follower = started()
    assert follower.last_message is not None
    assert follower.last_message["type"] == "snapshot"
    message = server.apply(Upsert(container("c9")))
    follower.handle(message)
    assert follower.last_message == message


# -- Follower: gaps and resync ------------------------------------------------------------------


def test_a_changes_that_does_not_chain_asks_for_resync_and_drops_until_snapshot() -> None:
    server, follower = started()
    held = follower.state
    server.apply(Upsert(container("lost")))  # never delivered
    after_gap = server.apply(Upsert(container("c3")))

    assert follower.handle(after_gap) is Step.RESYNC
    assert follower.resync_message() == {"type": "resync", "id": "s1"}
    assert follower.state is held
    assert follower.stats.gaps == 1
    # What the server had in flight before it saw the resync is dropped, bookmarks too.
    assert follower.handle(server.apply(Upsert(container("c4")))) is Step.NOTHING
    assert follower.handle(server.bookmark()) is Step.NOTHING
    assert follower.stats.gaps == 1

    assert follower.handle(server.snapshot()) is Step.STATE
    assert follower.state == server.state.snapshot()
    assert follower.handle(server.apply(Upsert(container("c5")))) is Step.STATE
    assert follower.state == server.state.snapshot()


def test_an_overlapping_changes_is_a_gap_too() -> None:
    server, follower = started()
    replayed = server.apply(Upsert(container("c2")))
    assert follower.handle(replayed) is Step.STATE
    assert follower.handle(replayed) is Step.RESYNC


def test_changes_of_another_epoch_ask_for_resync() -> None:
    server, follower = started()
    batch = server.apply(Upsert(container("c2")))
    assert follower.handle({**batch, "epoch": "other"}) is Step.RESYNC


def test_a_change_that_does_not_apply_asks_for_resync_and_forbids_resume() -> None:
    server, follower = started()
    version = server.state.version
    bad = {
        "type": "changes",
        "sub": "s1",
        "epoch": EPOCH,
        "from": version,
        "to": version + 1,
        "timestamp": "2026-01-01T00:00:01.000000Z",
        "changes": [
            {
                "v": version + 1,
                "kind": "container",
                "op": "updated",
                "id": "nowhere",
                "patch": [{"op": "replace", "path": "/state", "value": "exited"}],
            }
        ],
    }
    held = follower.state
    assert follower.handle(bad) is Step.RESYNC
    assert follower.state is held
    assert follower.since() is None  # a resume could not repair it: ask for a snapshot
    assert "since" not in follower.subscribe_message()


def test_resync_required_drops_everything_until_the_snapshot_that_follows() -> None:
    server, follower = started()
    required = {
        "type": "resync_required",
        "sub": "s1",
        "code": "SLOW_CONSUMER",
        "oldest": 0,
        "current": 9,
    }
    assert follower.handle(required) is Step.NOTHING
    assert follower.handle(server.apply(Upsert(container("c7")))) is Step.NOTHING
    assert follower.handle(server.snapshot()) is Step.STATE
    assert follower.stats.resyncs_required == 1
    assert follower.stats.snapshots == 2
    assert follower.state == server.state.snapshot()


# -- Follower: bookmarks and resume -------------------------------------------------------------


def test_bookmarks_yield_nothing_but_move_the_resume_position() -> None:
    server, follower = started()
    applied = follower.applied
    assert applied is not None
    # The server committed changes the filter excluded; its bookmark says so.
    assert follower.handle(server.bookmark(applied + 3)) is Step.NOTHING
    assert follower.applied == applied
    assert follower.version == applied + 3
    assert follower.since() == {"epoch": EPOCH, "version": applied + 3}
    assert follower.stats.bookmarks == 1
    # An older bookmark never moves it back.
    follower.handle(server.bookmark(applied + 1))
    assert follower.version == applied + 3


@pytest.mark.parametrize("start", [0, 2, 3])
def test_after_a_bookmark_changes_may_chain_from_any_delivered_version(start: int) -> None:
    _, follower = started()
    base = follower.applied
    assert base is not None
    follower.handle({"type": "bookmark", "sub": "s1", "epoch": EPOCH, "version": base + 3})
    message = {
        "type": "changes",
        "sub": "s1",
        "epoch": EPOCH,
        "from": base + start,
        "to": base + 4,
        "timestamp": "2026-01-01T00:00:01.000000Z",
        "changes": [{"v": base + 4, "kind": "volume", "op": "removed", "id": "v1"}],
    }
    assert follower.handle(message) is Step.STATE
    assert follower.applied == follower.version == base + 4
    assert follower.state is not None
    assert "v1" not in follower.state["volumes"]


def test_changes_ending_before_a_bookmark_are_a_gap() -> None:
    _, follower = started()
    base = follower.applied
    assert base is not None
    follower.handle({"type": "bookmark", "sub": "s1", "epoch": EPOCH, "version": base + 5})
    message = {
        "type": "changes",
        "sub": "s1",
        "epoch": EPOCH,
        "from": base,
        "to": base + 2,
        "timestamp": "t",
        "changes": [],
    }
    assert follower.handle(message) is Step.RESYNC


def test_subscribe_resumes_from_the_version_held() -> None:
    server, follower = started()
    follower.handle(server.apply(Upsert(container("c2"))))
    message = follower.subscribe_message({"kinds": ["container"]})
    assert message == {
        "type": "subscribe",
        "id": "s1",
        "mode": "changes",
        "filter": {"kinds": ["container"]},
        "since": {"epoch": EPOCH, "version": server.state.version},
    }
    assert follower.stats.resumes == 1
    # Resumed: the missed changes arrive with no snapshot, and apply.
    assert follower.handle(server.apply(Upsert(container("c3")))) is Step.STATE
    assert follower.state == server.state.snapshot()


def test_a_fresh_follower_subscribes_without_since_and_waits_for_the_snapshot() -> None:
    server = Server()
    server.apply(Upsert(container("c1")))
    follower = Follower()
    assert follower.since() is None
    assert "since" not in follower.subscribe_message()
    assert follower.handle(server.apply(Upsert(container("c2")))) is Step.NOTHING
    assert follower.handle(server.snapshot()) is Step.STATE


def test_after_an_unanswered_resync_a_reconnect_still_resumes_from_the_version_held() -> None:
    # A gap leaves the held state consistent at `applied`: resuming from there is exact.
    server, follower = started()
    server.apply(Upsert(container("lost")))
    assert follower.handle(server.apply(Upsert(container("c3")))) is Step.RESYNC
    assert follower.subscribe_message()["since"] == {"epoch": EPOCH, "version": follower.version}


# -- Follower: other messages -------------------------------------------------------------------


def test_messages_of_other_subscriptions_and_unknown_types_are_ignored() -> None:
    server, follower = started()
    held = follower.state
    assert follower.handle(server.apply(Upsert(container("c2"))) | {"sub": "s2"}) is Step.NOTHING
    assert follower.handle({"type": "pong", "id": "p"}) is Step.NOTHING
    assert follower.handle({"type": "some_future_message", "sub": "s1"}) is Step.NOTHING
    assert follower.state is held


def test_rate_limited_is_tolerated_other_errors_raise() -> None:
    follower = Follower()
    rate = {"type": "error", "id": None, "code": "RATE_LIMITED", "message": "slow down"}
    assert follower.handle(rate) is Step.NOTHING
    bad = {"type": "error", "id": "s1", "code": "INVALID_FILTER", "message": "kinds: bad"}
    with pytest.raises(ProtocolError, match=r"INVALID_FILTER.*kinds: bad"):
        follower.handle(bad)


def test_a_malformed_snapshot_is_a_protocol_error() -> None:
    follower = Follower()
    with pytest.raises(ProtocolError):
        follower.handle({"type": "snapshot", "sub": "s1", "epoch": EPOCH, "version": 1})


# -- Backoff --------------------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    low = Backoff(0.5, 8.0, rng=lambda: 0.0)
    assert [low.delay() for _ in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    high = Backoff(0.5, 8.0, rng=lambda: 1.0)
    assert [high.delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_is_jittered_within_half_to_full_ceiling() -> None:
    rng = random.Random(7)
    delays = [Backoff(1.0, 30.0, rng=rng.random).delay() for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in delays)
    assert len(set(delays)) == len(delays)  # clients dropped together come back apart


def test_backoff_reset_starts_over_and_survives_many_attempts() -> None:
    backoff = Backoff(0.5, 30.0, rng=lambda: 1.0)
    for _ in range(10_000):
        backoff.delay()
    assert backoff.delay() == 30.0
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.delay() == 0.5


def test_backoff_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(0.0)


# -- Client: URLs, arguments, REST errors --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "http", "ws"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765", "ws://127.0.0.1:8765/api/v1/ws"),
        ("http://h:1/", "http://h:1", "ws://h:1/api/v1/ws"),
        ("https://h/dock/", "https://h/dock", "wss://h/dock/api/v1/ws"),
        ("ws://h:2", "http://h:2", "ws://h:2/api/v1/ws"),
    ],
)
async def test_client_urls(url: str, http: str, ws: str) -> None:
    async with Client(url, "t") as client:
        assert (client.url, client.ws_url) == (http, ws)


@pytest.mark.parametrize("url", ["127.0.0.1:8765", "ftp://h", "http://"])
def test_client_refuses_urls_it_cannot_use(url: str) -> None:
    with pytest.raises(ValueError, match="not a dockstate server URL"):
        Client(url, "t")


async def test_watch_refuses_an_invalid_filter() -> None:
    async with Client("http://h:1", "t") as client:
        with pytest.raises(ValueError, match="invalid filter"):
            client.watch({"kinds": ["spaceship"]})
        with pytest.raises(ValueError, match="invalid filter"):
            client.watch({"colour": "blue"})


Handler = Callable[[httpx.Request], httpx.Response]


def mocked(handler: Handler) -> Client:
    return Client("http://server:1", "secret", transport=httpx.MockTransport(handler))


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "x", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


async def test_actions_send_the_documented_requests() -> None:
    seen: list[tuple[str, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer secret"
        seen.append((request.method, str(request.url), request.content.decode()))
        return httpx.Response(202, json={"operation": "op", "accepted_at_version": 7})

    async with mocked(handler) as client:
        assert await client.start("c1") == {"operation": "op", "accepted_at_version": 7}
        for action in (client.stop, client.restart, client.pause, client.unpause, client.kill):
            await action("c1")
        await client.rename("c1", "new")
        await client.remove_container("c1")
        await client.remove_container("c1", force=True)
        await client.remove_image("dockstate-test/busybox:latest", force=True)
        await client.create_volume("v")
        await client.remove_volume("v")
        await client.create_network("n")
        await client.remove_network("n1")
        await client.prune("images")
        await client.prune("volume")
        # dockstate's extensions
        await client.stop("c1", grace=0)
        await client.create_volume("v", labels={"a": "b"})
        await client.prune("containers", labels={"a": "b", "c": None})
        with pytest.raises(ValueError, match="cannot prune"):
            await client.prune("everything")

    base = "http://server:1/api/v1"
    assert seen == [
        ("POST", f"{base}/containers/c1/start", ""),
        ("POST", f"{base}/containers/c1/stop", ""),
        ("POST", f"{base}/containers/c1/restart", ""),
        ("POST", f"{base}/containers/c1/pause", ""),
        ("POST", f"{base}/containers/c1/unpause", ""),
        ("POST", f"{base}/containers/c1/kill", ""),
        ("POST", f"{base}/containers/c1/rename", '{"name":"new"}'),
        ("DELETE", f"{base}/containers/c1", ""),
        ("DELETE", f"{base}/containers/c1?force=true", ""),
        ("DELETE", f"{base}/images/dockstate-test%2Fbusybox%3Alatest?force=true", ""),
        ("POST", f"{base}/volumes", '{"name":"v"}'),
        ("DELETE", f"{base}/volumes/v", ""),
        ("POST", f"{base}/networks", '{"name":"n"}'),
        ("DELETE", f"{base}/networks/n1", ""),
        ("POST", f"{base}/images/prune", ""),
        ("POST", f"{base}/volumes/prune", ""),
        ("POST", f"{base}/containers/c1/stop?t=0", ""),
        ("POST", f"{base}/volumes", '{"name":"v","labels":{"a":"b"}}'),
        ("POST", f"{base}/containers/prune?label=a%3Db&label=c", ""),
    ]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, Conflict),
        (400, EngineAPIError),
        (500, ServerError),
        (502, EngineAPIError),
        (503, ServerError),
    ],
)
async def test_error_statuses_map_to_the_exception_tree(
    status: int, error: type[DockstateError]
) -> None:
    async with mocked(lambda _: problem(status, f"docker says {status}")) as client:
        with pytest.raises(error) as raised:
            await client.kill("c1")
    assert str(raised.value) == f"docker says {status}"
    assert getattr(raised.value, "status", None) == status


async def test_an_expired_since_is_version_expired() -> None:
    answer = problem(410, "too old", oldest=40, current=90)
    async with mocked(lambda _: answer) as client:
        with pytest.raises(VersionExpired) as raised:
            await client.changes_since(3)
    assert (raised.value.requested, raised.value.oldest, raised.value.current) == (3, 40, 90)


async def test_a_since_newer_than_the_server_is_version_too_new() -> None:
    answer = problem(409, "too new", oldest=0, current=5)
    async with mocked(lambda _: answer) as client:
        with pytest.raises(VersionTooNew) as raised:
            await client.changes_since(9)
    assert (raised.value.requested, raised.value.oldest, raised.value.current) == (9, 0, 5)


async def test_an_error_without_problem_body_still_reads_well() -> None:
    async with mocked(lambda _: httpx.Response(503)) as client:
        with pytest.raises(ServerError, match="HTTP 503 Service Unavailable"):
            await client.state()


async def test_an_unreachable_server_is_one_readable_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    async with mocked(refuse) as client:
        with pytest.raises(DockstateError, match="cannot reach the dockstate server at "):
            await client.state()


async def test_a_success_without_json_is_a_protocol_error() -> None:
    async with mocked(lambda _: httpx.Response(200, text="<html>")) as client:
        with pytest.raises(ProtocolError):
            await client.state()


# -- the lazy export -------------------------------------------------------------------------


def test_importing_dockstate_loads_no_client() -> None:
    code = "import sys, dockstate; print(sorted(m for m in sys.modules if m.split('.')[0] in "
    code += "{'asyncio', 'httpx', 'websockets', 'dockstate'}))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['dockstate']"


def test_the_public_surface_is_what_it_says() -> None:
    import dockstate.client

    assert sorted(dockstate.client.__all__) == [
        "Backoff",
        "Client",
        "Follower",
        "LogsStream",
        "StatsStream",
        "Step",
        "Watch",
        "WatchStats",
    ]
    assert all(hasattr(dockstate.client, name) for name in dockstate.client.__all__)


def test_client_is_exported_lazily() -> None:
    import dockstate

    assert dockstate.Client is Client
    assert "Client" in dockstate.__all__
    with pytest.raises(AttributeError):
        _ = dockstate.Nothing


# -- the CLI's rendering ---------------------------------------------------------------------


def test_describe_message_reads_like_the_engine_mode() -> None:
    server = Server()
    server.apply(Upsert(container("c" * 64, "running", name="web")))
    follower = Follower()
    follower.subscribe_message()
    snapshot = server.snapshot()
    follower.handle(snapshot)
    assert follower.state is not None
    first = follower.state
    line = describe_message(snapshot, first)
    assert " snapshot 1 containers (1 running), 0 images, 0 volumes, 0 networks; engine " in line

    update = server.apply(Upsert(container("c" * 64, "exited", name="web")))
    follower.handle(update)
    assert follower.state is not None
    second = follower.state
    text = describe_message(update, second, first)
    assert text.endswith("\n")
    assert f"v{update['changes'][0]['v']} container updated web: " in text
    assert 'state="exited"' in text
    assert "rev=" not in text

    removal = server.apply(Remove("container", "c" * 64))
    follower.handle(removal)
    assert follower.state is not None
    assert "container removed web" in describe_message(removal, follower.state, second)


def test_cli_watch_url_without_token_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKSTATE_TOKEN", raising=False)
    assert main(["watch", "--url", "http://127.0.0.1:9"]) == 2  # a usage error
    err = capsys.readouterr().err
    assert err == "dockstate: --url needs the server's token: --token or $DOCKSTATE_TOKEN\n"


def test_cli_watch_url_unreachable_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "--url", "http://127.0.0.1:9", "--token", "t"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dockstate: cannot reach the dockstate server at http://127.0.0.1:9")
    assert err.count("\n") == 1


def test_cli_watch_bad_url_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "--url", "localhost:8765", "--token", "t"]) == 2  # a usage error
    assert capsys.readouterr().err.startswith("dockstate: not a dockstate server URL")
