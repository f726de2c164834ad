"""Faults between dockstate and its clients: the server killed and restarted, a client frozen
while the engine changes a lot, a connection cut in the middle of a large message. Real
`dockstate serve` processes follow the shared engine; the clients are dockstate.Client
watches (one in a process of its own, to be frozen) that must converge to the engine's truth
with no gap they were not told about.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_harness import (
    LABEL_FILTER,
    Follow,
    assert_converged,
    churn,
    docker_at,
    metrics,
    report,
    run_at,
    state_differences,
    wait_until,
)
from harness import LABEL, TEST_IMAGE
from server_harness import ROOT, ServerProcess, start_server
from ws_cutter import MidMessageCutter

from dockstate.client import Client

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


def ballast(size: int) -> str:
    """Text that deflate cannot shrink much (the clients negotiate compression)."""
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


async def create_containers(names: list[str], label_size: int) -> list[str]:
    """Create (not start) labelled containers carrying a large label; return their ids."""
    transport = httpx.AsyncHTTPTransport(uds="/var/run/docker.sock")
    async with httpx.AsyncClient(transport=transport, base_url="http://docker") as engine:

        async def create(name: str) -> str:
            labels = {LABEL: "1", "dst.ballast": ballast(label_size)}
            body = {"Image": TEST_IMAGE, "Cmd": ["sleep", "300"], "Labels": labels}
            answer = await engine.post("/containers/create", params={"name": name}, json=body)
            answer.raise_for_status()
            return str(answer.json()["Id"])

        return list(await asyncio.gather(*(create(name) for name in names)))


BALLAST = 256_000  # bytes of label per container


def send_buffer_max() -> int:
    """The most a TCP socket's send buffer grows to (the kernel's autotuning limit)."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        return int(f.read().split()[2])


def unversioned(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("version", "last_updated")}


# -- the server killed ------------------------------------------------------------------------


async def test_server_killed_mid_stream_and_restarted(
    prefix: str, record_property: Callable[[str, object], None]
) -> None:
    """The server restarts on its history database: the same epoch, so every client resumes
    exactly from the version it held (a SIGKILL loses nothing committed: every version a
    client saw was on disk first), and gets what the engine did while the server was down."""
    first = await asyncio.to_thread(start_server)
    second: ServerProcess | None = None
    try:
        async with Client(first.url, first.token) as client:
            follows = [
                Follow(client, name="unfiltered"),
                Follow(client, LABEL_FILTER, name="labelled"),
            ]
            for follow in follows:
                await follow.wait_for(lambda s: True, "a snapshot")
            old_epoch = follows[0].follower.epoch
            doomed = await run_at(None, f"{prefix}doomed")
            await follows[0].wait_for(lambda s: doomed in s["containers"], "the container")
            stop = asyncio.Event()
            churning = asyncio.create_task(churn(prefix, stop=stop))
            await asyncio.sleep(1.0)
            first.process.send_signal(signal.SIGKILL)  # mid-stream: no goodbye, no flush
            await asyncio.to_thread(first.process.wait)
            # The engine changes while dockstate is down.
            await docker_at(None, "rm", "-f", doomed)
            born = await run_at(None, f"{prefix}born")
            await asyncio.sleep(0.5)
            second = await asyncio.to_thread(
                start_server, port=first.port, token=first.token, db=first.db
            )
            await asyncio.sleep(0.5)
            stop.set()
            operations = await churning
            state = await assert_converged(client, follows)
            assert doomed not in state["containers"]
            assert state["containers"][born]["state"] == "running"
            outcomes = [restart_outcome(follow, old_epoch) for follow in follows]
            assert outcomes == ["same epoch: resumed exactly"] * len(follows), outcomes
            for follow in follows:
                await follow.close()
    finally:
        first.stop()
        if second is not None:
            await asyncio.to_thread(second.stop)
    record_property("restart_outcome", outcomes)
    report("server killed", kills=1, operations=operations, outcome=outcomes, lost=0)


def restart_outcome(follow: Follow, old_epoch: str | None) -> str:
    """How ``follow`` got back in step after the server's restart (asserting it was told)."""
    counts, stats = follow.follower.chain.counts, follow.follower.stats
    assert stats.connections >= 2
    assert counts["resume"] >= 1  # it tried to resume from the version it held
    codes = {key.split(":", 1)[1] for key in counts if key.startswith("resync_required:")}
    if follow.follower.epoch != old_epoch:
        # A new history: told so, then a fresh snapshot.
        assert codes == {"EPOCH_MISMATCH"}, counts
        assert counts["snapshot"] == 2
        return "new epoch: resync_required EPOCH_MISMATCH + snapshot"
    if not codes:
        # The history survived the restart: the resume was exact.
        assert counts["snapshot"] == 1
        return "same epoch: resumed exactly"
    # The history survived, but not all of what this client holds: told so, then a snapshot.
    assert codes <= {"VERSION_TOO_NEW", "VERSION_EXPIRED"}, counts
    assert counts["snapshot"] == 2
    return f"same epoch: resync_required {' '.join(sorted(codes))} + snapshot"


# -- a frozen client --------------------------------------------------------------------------


class FrozenClient:
    """frozen_client.py in a process of its own: freeze it, thaw it, ask what it holds."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, server: ServerProcess) -> FrozenClient:
        path = os.pathsep.join(str(ROOT / "tests" / d) for d in ("faults", "integration", "server"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "frozen_client.py"),
            server.url,
            server.token,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            limit=2**26,
        )
        client = cls(process)
        assert await client._line(30) == "ready"
        return client

    async def _line(self, timeout: float) -> str:  # noqa: ASYNC109
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        return line.decode().strip()

    async def report(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"report\n")
        await self.process.stdin.drain()
        found: dict[str, Any] = json.loads(await self._line(60))
        return found

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    async def close(self) -> None:
        self.thaw()
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@pytest.mark.parametrize(
    ("options", "verdict"),
    [
        # The server never gives up on a send: the pending changes overflow max-pending, and
        # once the client reads again it is told SLOW_CONSUMER, then sent a snapshot.
        (("--send-timeout", "60"), "SLOW_CONSUMER"),
        # A send blocked for 2 s: the server closes the connection with 4499; the client
        # reconnects and resumes after the version it held, and gets exactly what it missed.
        (("--send-timeout", "2"), "4499"),
        # The same, but the server keeps too few changes to replay what the client missed (in
        # memory only, with no history database): it says VERSION_EXPIRED, then a snapshot.
        (("--send-timeout", "2", "--history-limit", "20", "--no-db"), "4499+VERSION_EXPIRED"),
    ],
    ids=["slow-consumer", "closed-4499", "closed-4499-version-expired"],
)
async def test_frozen_client_learns_it_fell_behind_and_converges(
    prefix: str, options: tuple[str, ...], verdict: str
) -> None:
    # More bytes than the server's socket can buffer (deflate shrinks the ballast to about
    # 3/4): its sends to the frozen client block.
    count = max(32, round(1.5 * send_buffer_max() / (BALLAST * 3 / 4)))
    # A bound above what the live client can have pending (those containers, plus the image,
    # network and stats they change), below what the frozen one will (the volumes too).
    bound = count + 20
    server = await asyncio.to_thread(start_server, "--max-pending", str(bound), *options)
    frozen: FrozenClient | None = None
    try:
        async with Client(server.url, server.token) as client:
            live = Follow(client, name="live")
            await live.wait_for(lambda s: True, "a snapshot")
            frozen = await FrozenClient.start(server)
            loop = asyncio.get_running_loop()
            frozen.freeze()
            frozen_at = loop.time()
            ids = await create_containers([f"{prefix}c{i}" for i in range(count)], BALLAST)
            volumes = [f"{prefix}v{i}" for i in range(bound + 10)]
            await committed(client, containers=ids)
            if verdict == "SLOW_CONSUMER":
                # Then changes to more objects than max-pending while the sends block. The
                # hub checks its bound when a batch comes while earlier ones wait untaken (one
                # large batch alone is no sign of slowness), and the blocked sender has taken
                # the first batch after the block: so three batches, one at a time.
                for some in (volumes[:1], volumes[1:-1], volumes[-1:]):
                    await create_volumes(some)
                    await committed(client, some)
            else:
                # The send timed out: the server dropped the client. Its close frame waits
                # (5 s at most) behind what the client has not read.
                await wait_until(lambda: clients(server, 1), "the frozen client dropped")
                if verdict == "4499+VERSION_EXPIRED":
                    # More changes than the server keeps, after the client's last version.
                    await create_volumes(volumes)
                    await committed(client, volumes)
            frozen_for = loop.time() - frozen_at
            # Well under uvicorn's keepalive (a ping after 20 s, unanswered for 20 s more), which
            # would close the connection (1011) before any of the above.
            frozen.thaw()
            held = await frozen_converged(frozen, client)
            assert not held["violations"], held["violations"]
            assert held["gaps"] == 0
            counts = held["counts"]
            await committed(client, containers=ids)
            if verdict == "SLOW_CONSUMER":
                assert counts["resync_required:SLOW_CONSUMER"] == 1
                assert counts["snapshot"] == 2
                assert held["connections"] == 1
            elif verdict == "4499":  # resumed: exactly the missed changes, no snapshot
                assert held["closes"][0] == 4499
                assert held["connections"] == 2
                assert counts["resume"] == 1
                assert counts["snapshot"] == 1
                assert counts.get("resync_required", 0) == 0
            else:
                # 4499 when the client read again within the 5 s the close frame may wait;
                # else the connection just ends (1006). Either way: resume, told, snapshot.
                assert held["closes"][0] in (4499, 1006)
                assert held["connections"] == 2
                assert counts["resume"] == 1
                assert counts["resync_required:VERSION_EXPIRED"] == 1
                assert counts["snapshot"] == 2
            if verdict == "4499":
                volumes = []  # none made
            await live.wait_for(
                lambda s: (
                    all(i in s["containers"] for i in ids)
                    and all(v in s["volumes"] for v in volumes)
                ),
                "every change made while the other client was frozen",
            )
            await assert_converged(client, [live])
            # The live client was never dropped, never told to start over.
            assert live.follower.stats.connections == 1
            assert live.follower.chain.counts["resync_required"] == 0
            assert live.follower.chain.counts["snapshot"] == 1
            await live.close()
    finally:
        if frozen is not None:
            await frozen.close()
        await asyncio.to_thread(server.stop)
    report(
        f"frozen client ({verdict})",
        freezes=1,
        ballast_mb=round(count * BALLAST / 2**20, 1),
        frozen_seconds=round(frozen_for, 1),
        closes=held["closes"],
        counts=held["counts"],
        lost=0,
    )


async def create_volumes(names: list[str]) -> None:
    """Create labelled volumes, all at once (the engine's API, not one CLI call each)."""
    transport = httpx.AsyncHTTPTransport(uds="/var/run/docker.sock")
    async with httpx.AsyncClient(transport=transport, base_url="http://docker") as engine:

        async def create(name: str) -> None:
            body = {"Name": name, "Labels": {LABEL: "1"}}
            (await engine.post("/volumes/create", json=body)).raise_for_status()

        await asyncio.gather(*(create(name) for name in names))


async def committed(
    client: Client, volumes: Sequence[str] = (), containers: Sequence[str] = ()
) -> None:
    """Wait until the server's state holds ``volumes`` and ``containers``."""

    async def holds() -> bool:
        state = (await client.state())["state"]
        return all(v in state["volumes"] for v in volumes) and all(
            c in state["containers"] for c in containers
        )

    await wait_until(holds, "the objects committed")


async def clients(server: ServerProcess, count: int) -> bool:
    """Whether the server counts ``count`` WebSocket clients."""
    found = await metrics(server.url, server.token)
    return found["dockstate_clients_connected"] == count


async def frozen_converged(frozen: FrozenClient, client: Client) -> dict[str, Any]:
    """Wait until the frozen client holds the server's state, exactly; return its report."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        held = await frozen.report()
        answer = await client.state()
        mine, theirs = unversioned(held["state"] or {}), unversioned(answer["state"])
        if held["version"] == answer["version"] and mine == theirs:
            return held
        if loop.time() > deadline:
            raise AssertionError(
                f"the frozen client did not converge: {held['counts']}, "
                f"closes {held['closes']}, {state_differences(mine, theirs)}"
            )
        await asyncio.sleep(0.3)


# -- a connection cut in the middle of a message ----------------------------------------------


async def test_connection_cut_in_the_middle_of_large_messages(prefix: str) -> None:
    # A snapshot of tens of kilobytes, even compressed.
    ballasted = await create_containers([f"{prefix}b{i}" for i in range(8)], 16_000)
    names = [f"{prefix}big", f"{prefix}in"]
    server = await asyncio.to_thread(start_server)
    try:
        async with (
            MidMessageCutter(server.port) as cutter,
            Client(server.url, server.token) as client,
            Client(cutter.url, server.token) as through_cutter,
        ):
            # The first two snapshots are cut in half: the client starts over each time.
            cutter.arm(count=2, min_size=32_768)
            unfiltered = Follow(through_cutter, name="unfiltered")
            await unfiltered.wait_for(lambda s: True, "a snapshot, at the third try")
            assert [cut.connection for cut in cutter.cuts] == [1, 2]
            assert unfiltered.follower.stats.connections == 3
            assert unfiltered.follower.chain.counts["snapshot"] == 1
            labelled = Follow(through_cutter, LABEL_FILTER, name="labelled")
            named = Follow(through_cutter, {"names": names}, name="named", scope=named_as(names))
            follows = [unfiltered, labelled, named]
            for follow in follows[1:]:
                await follow.wait_for(lambda s: True, "a snapshot")

            # A change batch of tens of kilobytes that all three clients are sent, cut in half
            # on each connection; while they cannot reconnect, objects enter and leave their
            # filters. Each resumes after the last version it held and gets the batch again,
            # whole, and what it missed.
            cutter.arm(count=3, min_size=32_768, hold=True)
            [big] = await create_containers([f"{prefix}big"], 64_000)
            await wait_until(lambda: cut_times(cutter, 5), "three more cuts")
            await docker_at(None, "rename", ballasted[0], f"{prefix}in")  # enters `named`
            await docker_at(None, "rm", ballasted[1])  # leaves `labelled`
            await docker_at(None, "volume", "create", "--label", f"{LABEL}=1", f"{prefix}v")
            await asyncio.sleep(0.5)
            cutter.holding = False
            for follow in follows:
                await follow.wait_for(lambda s: big in s["containers"], "the large container")
                counts = follow.follower.chain.counts
                assert counts["resume"] == 1, follow.name
                assert counts["resync_required"] == 0, follow.name
                assert counts["snapshot"] == 1, follow.name
            state = await assert_converged(client, follows)
            assert named.state is not None
            assert set(named.state["containers"]) == {big, ballasted[0]}
            assert ballasted[1] not in state["containers"]
            for follow in follows:
                await follow.close()
    finally:
        await asyncio.to_thread(server.stop)
    report(
        "cut mid-message",
        cuts=[f"{cut.forwarded}/{cut.frame_size} bytes" for cut in cutter.cuts],
        reconnections_refused=cutter.refused,
        lost=0,
    )


async def cut_times(cutter: MidMessageCutter, count: int) -> bool:
    return len(cutter.cuts) >= count


def named_as(names: list[str]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The part of a state that the filter ``{"names": names}`` selects."""

    def scope(state: Mapping[str, Any]) -> dict[str, Any]:
        def named(obj: Mapping[str, Any]) -> bool:
            return obj.get("name") in names or bool(set(obj.get("tags") or ()) & set(names))

        maps = ("containers", "images", "volumes", "networks")
        return {m: {k: v for k, v in state[m].items() if named(v)} for m in maps}

    return scope
