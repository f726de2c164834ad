"""Logs through a real `dockstate serve` on the real engine (protocol.md §10): order and
streams, follow, TTY, a compose project merged with a joiner, a restart mid-follow, a 10 MB
line, invalid UTF-8, the download byte for byte, and --no-logs."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from harness import LABEL as SESSION_LABEL
from harness import unique
from server_harness import Peer, ServerProcess, adocker, peer, start_server

from dockstate.protocol import LogsEnd, LogsMessage

pytestmark = pytest.mark.integration

LABEL = f"{SESSION_LABEL}=1"
IMAGE = "dockstate-test/busybox"


async def run(*args: str, name: str | None = None, tty: bool = False) -> str:
    return await adocker(
        "run", "-d", "--label", LABEL, "--name", name or unique("logs-"),
        *(["-t"] if tty else []), *args,
    )  # fmt: skip


async def until_final(p: Peer, sub: str, timeout: float = 20.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
    """Every message of ``sub`` up to its final logs_end."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        message = await p.recv(max(0.01, deadline - time.monotonic()))
        if message.get("sub") != sub:
            continue
        out.append(message)
        if message["type"] == "logs":
            LogsMessage.model_validate(message)
        if message["type"] == "logs_end":
            LogsEnd.model_validate(message)
            if message.get("final"):
                return out


def lines_in(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for m in messages if m["type"] == "logs" for line in m["lines"]]


async def lines_until(
    p: Peer,
    sub: str,
    done: Any,
    timeout: float = 15.0,  # noqa: ASYNC109
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        message = await p.recv(max(0.01, deadline - time.monotonic()))
        if message.get("sub") == sub and message["type"] == "logs":
            got += message["lines"]
    return got


async def wait_for_log(cid: str, text: str) -> None:
    for _ in range(100):
        proc = await asyncio.create_subprocess_exec(
            "docker", "logs", cid, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        if text.encode() in out:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never in the log of {cid}")


@pytest.fixture
async def talker() -> AsyncIterator[str]:
    script = "for i in $(seq 1 50); do echo out$i; echo err$i >&2; done; sleep 1000"
    cid = await run(IMAGE, "sh", "-c", script)
    await wait_for_log(cid, "out50")
    yield cid
    await adocker("rm", "-f", cid)


async def test_lines_come_in_order_with_their_stream(server: ServerProcess, talker: str) -> None:
    name = (await adocker("inspect", "-f", "{{.Name}}", talker)).lstrip("/")
    async with peer(server) as p:
        await p.send({"type": "subscribe_logs", "id": "l1", "container": name, "tail": None})
        messages = await until_final(p, "l1")
    lines = lines_in(messages)
    # stdout and stderr are two pipes: each in its order, the two as the engine got them.
    for stream in ("stdout", "stderr"):
        mine = [x["text"] for x in lines if x["stream"] == stream]
        assert mine == [f"{stream[3:]}{i}" for i in range(1, 51)]
    assert len(lines) == 100
    assert all(x["container"] == talker for x in lines)
    for stream in ("stdout", "stderr"):  # each stream's times in order (not the two's)
        times = [x["time"] for x in lines if x["stream"] == stream]
        assert times == sorted(times)
    assert messages[-2] == {
        "type": "logs_end", "sub": "l1", "engine": "local", "container": talker,
    }  # fmt: skip
    async with peer(server) as p:  # tail, and one stream only
        await p.send(
            {"type": "subscribe_logs", "id": "l2", "container": talker, "tail": 5, "stdout": False}
        )
        lines = lines_in(await until_final(p, "l2"))
    # The engine counts the tail over both streams, then leaves stdout out.
    assert all(x["stream"] == "stderr" for x in lines)
    assert len(lines) <= 5


async def test_follow_gets_new_lines_within_a_second(server: ServerProcess) -> None:
    cid = await run(IMAGE, "sh", "-c", "while :; do echo tick $(date +%s); sleep 0.3; done")
    try:
        async with peer(server) as p:
            await p.send(
                {"type": "subscribe_logs", "id": "l1", "container": cid, "tail": 0, "follow": True}
            )
            lags: list[float] = []
            while len(lags) < 8:
                message = await p.recv_until("logs", 5)
                now = time.time()
                for line in message["lines"]:
                    sec, _, frac = line["time"].partition(".")
                    when = time.mktime(time.strptime(sec, "%Y-%m-%dT%H:%M:%S")) - time.timezone
                    lags.append(now - when - float("0." + frac.rstrip("Z")))
            assert max(lags) < 1.0, lags
            await p.send({"type": "unsubscribe", "id": "l1"})
    finally:
        await adocker("rm", "-f", cid)


async def test_a_tty_container_is_read_raw(server: ServerProcess) -> None:
    cid = await run(IMAGE, "sh", "-c", "echo one; echo two >&2; sleep 1000", tty=True)
    try:
        await wait_for_log(cid, "two")
        async with peer(server) as p:
            await p.send({"type": "subscribe_logs", "id": "l1", "container": cid})
            lines = lines_in(await until_final(p, "l1"))
        # A TTY has one stream: stderr comes as stdout, and lines end in \r\n (taken off).
        assert [(x["stream"], x["text"]) for x in lines] == [("stdout", "one"), ("stdout", "two")]
    finally:
        await adocker("rm", "-f", cid)


async def test_a_project_merged_in_time_order_and_a_fourth_joining(server: ServerProcess) -> None:
    project = unique("proj-")
    compose = ["--label", f"com.docker.compose.project={project}"]
    script = "for i in $(seq 1 20); do echo {n}-$i; sleep 0.05; done; sleep 1000"
    ids = [
        await run(*compose, IMAGE, "sh", "-c", script.format(n=n), name=f"{project}-{n}")
        for n in (1, 2, 3)
    ]
    try:
        for cid, n in zip(ids, (1, 2, 3), strict=True):
            await wait_for_log(cid, f"{n}-20")
        await asyncio.sleep(1)  # the state knows all three
        async with peer(server) as p:
            await p.send(
                {"type": "subscribe_logs", "id": "l1", "project": project, "tail": None,
                 "follow": True}
            )  # fmt: skip
            lines = await lines_until(p, "l1", lambda got: len(got) >= 60)
            assert len(lines) == 60
            assert [x["time"] for x in lines] == sorted(x["time"] for x in lines)
            for cid, n in zip(ids, (1, 2, 3), strict=True):
                mine = [x["text"] for x in lines if x["container"] == cid]
                assert mine == [f"{n}-{i}" for i in range(1, 21)]
            fourth = await run(
                *compose, IMAGE, "sh", "-c", "echo 4-first; sleep 1000", name=f"{project}-4"
            )
            ids.append(fourth)
            joined = await lines_until(
                p, "l1", lambda got: any(x["text"] == "4-first" for x in got)
            )
            assert joined[-1]["container"] == fourth
    finally:
        await adocker("rm", "-f", *ids)


async def test_a_container_that_restarts_mid_follow(server: ServerProcess) -> None:
    cid = await run(IMAGE, "sh", "-c", "echo started; sleep 1000")
    try:
        await wait_for_log(cid, "started")
        async with peer(server) as p:
            await p.send(
                {"type": "subscribe_logs", "id": "l1", "container": cid, "tail": None,
                 "follow": True}
            )  # fmt: skip
            first = await lines_until(p, "l1", lambda got: len(got) >= 1)
            assert [x["text"] for x in first] == ["started"]
            await adocker("restart", "-t", "0", cid)
            again = await lines_until(p, "l1", lambda got: len(got) >= 1)
            assert [x["text"] for x in again] == ["started"]  # the second start, only
            assert again[0]["time"] > first[0]["time"]
            await adocker("rm", "-f", cid)
            end = await p.recv_until("logs_end", 10)
            assert end["container"] == cid
    finally:
        await adocker("rm", "-f", cid)


async def test_a_10_mb_line_is_capped_and_marked(server: ServerProcess) -> None:
    script = "head -c 10000000 /dev/zero | tr '\\0' a; echo; echo after; sleep 1000"
    cid = await run(IMAGE, "sh", "-c", script)
    try:
        await wait_for_log(cid, "after")
        async with peer(server) as p:
            await p.send({"type": "subscribe_logs", "id": "l1", "container": cid, "tail": None})
            lines = lines_in(await until_final(p, "l1", 60))
        assert len(lines) == 2
        assert lines[0]["truncated"] is True
        assert lines[0]["text"] == "a" * 65_536
        assert lines[1] == {**lines[1], "text": "after"}
        assert "truncated" not in lines[1]
    finally:
        await adocker("rm", "-f", cid)


async def test_invalid_utf8_is_replaced(server: ServerProcess) -> None:
    cid = await run(IMAGE, "sh", "-c", "printf 'bad \\377\\376 end\\n'; echo fine; sleep 1000")
    try:
        await wait_for_log(cid, "fine")
        async with peer(server) as p:
            await p.send({"type": "subscribe_logs", "id": "l1", "container": cid})
            lines = lines_in(await until_final(p, "l1"))
        assert [x["text"] for x in lines] == ["bad \ufffd\ufffd end", "fine"]
    finally:
        await adocker("rm", "-f", cid)


@pytest.mark.parametrize("tty", [False, True])
async def test_the_download_equals_docker_logs_byte_for_byte(
    server: ServerProcess, tty: bool
) -> None:
    script = (
        "for i in $(seq 1 300); do echo out$i; echo err$i >&2; done; "
        "printf 'no newline \\377'; sleep 1000"
    )
    cid = await run(IMAGE, "sh", "-c", script, tty=tty)
    try:
        await wait_for_log(cid, "err300")
        await asyncio.sleep(0.3)
        for query, flags in [("", []), ("?timestamps=1", ["-t"]), ("?tail=7", ["--tail", "7"])]:
            expected = subprocess.run(  # noqa: ASYNC221
                ["docker", "logs", *flags, cid],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                check=True,
            ).stdout
            async with (
                httpx.AsyncClient(headers=server.headers) as http,
                http.stream("GET", f"{server.url}/api/v1/containers/{cid}/logs{query}") as r,
            ):
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/plain")
                body = b"".join([chunk async for chunk in r.aiter_raw()])
            assert body == expected, query
        missing = server.get("/api/v1/containers/dst-no-such-container/logs")
        assert missing.status_code == 404
    finally:
        await adocker("rm", "-f", cid)


async def test_unknown_container_and_project(server: ServerProcess) -> None:
    async with peer(server) as p:
        await p.send({"type": "subscribe_logs", "id": "l1", "container": "dst-nothing-here"})
        error = await p.recv_until("error")
        assert (error["id"], error["code"]) == ("l1", "UNKNOWN_CONTAINER")
        await p.send({"type": "subscribe_logs", "id": "l2", "project": "dst-nothing-here"})
        error = await p.recv_until("error")
        assert (error["id"], error["code"]) == ("l2", "UNKNOWN_PROJECT")


async def test_an_id_prefix_of_several_containers_is_404_on_every_container_route(
    server: ServerProcess,
) -> None:
    """A prefix that begins several ids is refused with a clear 404 by the logs download, the
    details and the stats routes alike (the engine answers it with a 500; schemathesis found
    the download passing that on as a 500)."""
    made: list[str] = []
    try:
        while True:  # 17 ids share a first hex digit at the latest
            ids = list(server.get("/api/v1/state").json()["state"]["containers"])
            firsts = [cid[0] for cid in ids]
            shared = next((f for f in firsts if firsts.count(f) > 1), None)
            if shared is not None:
                break
            made.append(await adocker("create", "--label", LABEL, IMAGE, "true"))
            await asyncio.sleep(0.2)  # for the server's state to show it
        for path in (f"/api/v1/containers/{shared}/logs", f"/api/v1/containers/{shared}",
                     f"/api/v1/containers/{shared}/stats"):  # fmt: skip
            answer = server.get(path)
            assert answer.status_code == 404, (path, answer.text)
            assert "containers' ids" in answer.json()["detail"], path
    finally:
        if made:
            await adocker("rm", "-f", *made)


async def test_no_logs_turns_both_routes_off(talker: str) -> None:
    server = start_server("--no-logs", "--no-db")
    try:
        async with peer(server) as p:
            await p.send({"type": "subscribe_logs", "id": "l1", "container": talker})
            error = await p.recv_until("error")
            assert error["code"] == "LOGS_DISABLED"
        response = server.get(f"/api/v1/containers/{talker}/logs")
        assert response.status_code == 403
        assert response.json()["code"] == "LOGS_DISABLED"
    finally:
        server.stop()
