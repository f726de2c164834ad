"""Operations through a real server (protocol.md §11): a stop that waits out its grace period
answers at once, and its outcome arrives over REST and the WebSocket."""

from __future__ import annotations

import asyncio
import time

import pytest
from harness import LABEL as SESSION_LABEL
from server_harness import ServerProcess, adocker, peer

from dockstate.protocol import OperationMessage

pytestmark = pytest.mark.integration

LABEL = f"{SESSION_LABEL}=1"


async def test_a_stop_that_waits_its_grace_period_answers_at_once(server: ServerProcess) -> None:
    # `sleep` as the container's first process ignores SIGTERM: the stop waits out t=3.
    cid = await adocker(
        "run", "-d", "--label", LABEL, "--name", "dst-op-stubborn",
        "dockstate-test/busybox", "sleep", "300",
    )  # fmt: skip
    try:
        async with peer(server) as p:
            await p.send({"type": "subscribe", "id": "s1", "filter": {"ids": [cid]}})
            await p.recv_until("snapshot")
            start = time.monotonic()
            answer = await asyncio.to_thread(
                server.post, f"/api/v1/containers/{cid}/stop", params={"t": "3"}
            )
            took = time.monotonic() - start
            assert answer.status_code == 202, answer.text
            assert took < 2.0, f"the stop held the request {took:.1f} s"
            body = answer.json()
            assert body["status"] == "pending"
            operation = body["operation"]
            assert server.get(f"/api/v1/operations/{operation}").json()["status"] == "pending"

            statuses = []
            while "done" not in statuses:
                message = await p.recv_until("operation", 10)
                OperationMessage.model_validate(message)
                assert message["operation"] == operation
                assert message["action"] == "stop"
                statuses.append(message["status"])
            assert statuses == ["pending", "done"]
            final = server.get(f"/api/v1/operations/{operation}").json()
            assert (final["status"], final["error"]) == ("done", None)
    finally:
        await adocker("rm", "-f", cid)


async def test_a_quick_refusal_is_still_answered_as_such(server: ServerProcess) -> None:
    cid = await adocker("run", "-d", "--label", LABEL, "dockstate-test/busybox", "sleep", "300")
    try:
        refused = server.delete(f"/api/v1/containers/{cid}")
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        missing = server.get("/api/v1/operations/0000000000000000")
        assert missing.status_code == 404
    finally:
        await adocker("rm", "-f", cid)


async def test_the_python_client_reads_an_operation(server: ServerProcess) -> None:
    from dockstate.client import Client
    from dockstate.errors import NotFound

    cid = await adocker("create", "--label", LABEL, "dockstate-test/busybox", "true")
    try:
        async with Client(server.url, server.token) as client:
            accepted = await client.start(cid)
            for _ in range(600):  # a loaded engine may take over the answer's second
                found = await client.operation(accepted["operation"])
                if found["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
            assert (found["action"], found["target"], found["status"]) == ("start", cid, "done")
            with pytest.raises(NotFound):
                await client.operation("0000000000000000")
    finally:
        await adocker("rm", "-f", cid)
