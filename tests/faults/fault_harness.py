"""What the fault-injection tests share: clients that record everything they were sent and
check it for unreported gaps, the convergence check, the server's metrics and status history,
and the docker CLI pointed at any engine.

"Converged" means, at once: every following client's state, built only from its snapshot and
the changes after it, equals ``GET /api/v1/state`` (exactly, at the same version, for an
unfiltered subscription); and that state equals a fresh listing of the engine (harness
``engine_truth``), over the objects of this test session (the shared engine also holds other
people's objects) or over the whole engine when it is a private one.

"No unreported gap" means: on every subscription, each ``changes`` message's ``from`` equals
the version the client last held (the previous ``changes``' ``to``, a bookmark's ``version``,
the snapshot's ``version``, or the ``since`` it resumed from), unless a ``resync_required`` and
a snapshot came in between. :class:`ChainChecker` records every exception to that rule.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from harness import LABEL, TEST_IMAGE, comparable, differences, engine_truth

from dockstate.client import Backoff, Client, Follower, Step, Watch
from dockstate.state import MAP_OF_KIND

__all__ = [
    "LABEL_FILTER",
    "ChainChecker",
    "Follow",
    "RecordingFollower",
    "assert_converged",
    "churn",
    "docker_at",
    "engine_link",
    "metrics",
    "outages",
    "remove_prefixed",
    "report",
    "run_at",
    "session_scope",
    "state_differences",
    "status_history",
    "wait_until",
    "whole_engine",
]

#: The subscription filter that selects exactly this session's objects.
LABEL_FILTER: dict[str, Any] = {"labels": {LABEL: "1"}}
_OBJECT_MAPS = ("containers", "volumes", "networks")


# -- recording and checking what a client is sent ---------------------------------------------


@dataclass
class ChainChecker:
    """Checks one subscription's messages, across reconnections, for unreported gaps.

    Feed it every ``subscribe`` the client sends (:meth:`on_subscribe`) and every message it
    receives (:meth:`on_message`); :attr:`violations` lists each breach, in words.
    """

    sub: str
    violations: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """Messages by type, ``resume`` (subscribes with ``since``), ``resync_required:<code>``."""
    position: int | None = None
    """The version the next ``changes`` must start from; ``None`` while a snapshot is due."""
    epoch: str | None = None

    def on_subscribe(self, since: Mapping[str, Any] | None) -> None:
        if since is None:
            self.position = None
        else:
            self.counts["resume"] += 1
            self.position, self.epoch = since["version"], since["epoch"]

    def on_message(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if message.get("sub") != self.sub or not isinstance(kind, str):
            return
        self.counts[kind] += 1
        if kind == "snapshot":
            self.position, self.epoch = message["version"], message["epoch"]
        elif kind == "resync_required":
            self.counts[f"resync_required:{message.get('code')}"] += 1
            self.position = None
        elif kind == "bookmark":
            self._check_epoch(message)
            if self.position is not None and message["version"] < self.position:
                self._breach(f"bookmark at {message['version']} behind {self.position}")
            if self.position is not None:
                self.position = message["version"]
        elif kind == "changes":
            self._check_changes(message)

    def _check_changes(self, message: Mapping[str, Any]) -> None:
        start, end = message["from"], message["to"]
        self._check_epoch(message)
        if self.position is None:
            self._breach(f"changes ({start}, {end}] before any snapshot")
        elif start != self.position:
            self._breach(f"changes ({start}, {end}] after version {self.position}")
        versions = [c["v"] for c in message["changes"]]
        if not versions or versions != sorted(set(versions)):
            self._breach(f"changes ({start}, {end}] hold versions {versions}")
        elif not start < versions[0] <= versions[-1] <= end:
            self._breach(f"changes ({start}, {end}] hold versions {versions[0]}..{versions[-1]}")
        self.position = end

    def _check_epoch(self, message: Mapping[str, Any]) -> None:
        if self.epoch is not None and message.get("epoch") != self.epoch:
            self._breach(f"{message['type']} of epoch {message.get('epoch')} in {self.epoch}")

    def _breach(self, what: str) -> None:
        self.violations.append(f"{self.sub}: {what}")


class RecordingFollower(Follower):
    """A :class:`~dockstate.client.Follower` that also checks and records what it is sent.

    Besides the chain (:attr:`chain`), it records every change that changed nothing for the
    client (:attr:`noops`: a ``created`` of an object it already held, a ``removed`` of one it
    did not, an ``updated`` that left the object as it was), the engine statuses it has shown
    (:attr:`statuses`, each change of ``engine_info.status``), and every change applied
    (:attr:`applied_changes`).
    """

    def __init__(self, sub: str = "s1") -> None:
        super().__init__(sub)
        self.chain = ChainChecker(sub)
        self.noops: list[str] = []
        self.statuses: list[str] = []
        self.last_errors: list[str] = []
        self.applied_changes: list[dict[str, Any]] = []

    def subscribe_message(self, filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
        message = super().subscribe_message(filter)
        self.chain.on_subscribe(message.get("since"))
        return message

    def handle(self, message: Mapping[str, Any]) -> Step:
        before = self.state
        self.chain.on_message(message)
        step = super().handle(message)
        if step is Step.STATE and self.state is not None:
            if message.get("type") == "changes" and before is not None:
                self._check_noops(before, self.state, message["changes"])
                self.applied_changes.extend(message["changes"])
            info = self.state.get("engine_info")
            if info is not None:
                if not self.statuses or self.statuses[-1] != info["status"]:
                    self.statuses.append(info["status"])
                if info.get("last_error") and info["last_error"] not in self.last_errors:
                    self.last_errors.append(info["last_error"])
        return step

    def _check_noops(
        self, before: dict[str, Any], after: dict[str, Any], changes: list[dict[str, Any]]
    ) -> None:
        for change in changes:
            kind, key, op = change["kind"], change["id"], change["op"]
            old, new = _held(before, kind, key), _held(after, kind, key)
            where = f"v{change['v']} {kind} {key[:12]} {op}"
            if op == "created" and old is not None:
                self.noops.append(f"{where}: the client already held it")
            elif op == "removed" and old is None:
                self.noops.append(f"{where}: the client did not hold it")
            elif (
                op == "updated"
                and old is not None
                and new is not None
                and _without_rev(old) == _without_rev(new)
            ):
                self.noops.append(f"{where}: nothing but rev changed")


def _held(state: Mapping[str, Any], kind: str, key: str) -> Any:
    if kind == "engine":
        return state.get(key)
    return state[MAP_OF_KIND[kind]].get(key)


def _without_rev(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "rev"}


class Follow:
    """A :meth:`Client.watch` followed in the background by a :class:`RecordingFollower`.

    Args:
        client: the client to watch with.
        filter: the subscription's filter (``None``: everything).
        name: how failures name this client.
    """

    def __init__(
        self,
        client: Client,
        filter: Mapping[str, Any] | None = None,
        *,
        name: str = "client",
        scope: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.name = name
        self.filter = filter
        #: What of the server's state this client must hold: ``None``, all of it; else the
        #: part of the server's state that ``filter`` selects (default: this session's
        #: objects, as ``LABEL_FILTER`` selects them).
        self.scope = scope if scope is not None or filter is None else session_scope
        self.watch: Watch = client.watch(filter, backoff=Backoff(0.05, 1.0))
        self.follower = RecordingFollower()
        self.watch.follower = self.follower
        self._changed = asyncio.Event()
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        try:
            async for _ in self.watch:
                self._changed.set()
        except Exception as exc:
            self.error = exc
            self._changed.set()

    @property
    def state(self) -> dict[str, Any] | None:
        return self.follower.state

    async def wait_for(
        self,
        check: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float = 30.0,  # noqa: ASYNC109 (a deadline for a condition, not a cancel scope)
    ) -> dict[str, Any]:
        """Wait until the client's state passes ``check``; fail after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.error is not None:
                raise AssertionError(f"{self.name}'s watch failed: {self.error!r}")
            if self.state is not None and check(self.state):
                return self.state
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.name} did not show {what} within {timeout} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def problems(self) -> list[str]:
        """Everything this client was sent that breaks the protocol's promises."""
        found = [f"{self.name}: {v}" for v in self.follower.chain.violations]
        if self.follower.stats.gaps:
            found.append(f"{self.name}: the client found {self.follower.stats.gaps} gap(s)")
        if self.error is not None:
            found.append(f"{self.name}: the watch failed: {self.error!r}")
        return found

    async def close(self) -> None:
        await self.watch.aclose()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


# -- convergence ------------------------------------------------------------------------------


def session_scope(state: Mapping[str, Any]) -> dict[str, Any]:
    """This session's containers, volumes and networks of a (comparable) state."""
    return {
        name: {k: v for k, v in state[name].items() if v.get("labels", {}).get(LABEL) == "1"}
        for name in _OBJECT_MAPS
    }


def whole_engine(state: Mapping[str, Any]) -> dict[str, Any]:
    """All of a (comparable) state: for an engine the test owns alone."""
    return dict(state)


async def assert_converged(
    client: Client,
    follows: list[Follow],
    *,
    scope: Callable[[Mapping[str, Any]], dict[str, Any]] = session_scope,
    truth: Callable[[], Awaitable[dict[str, Any]]] = engine_truth,
    timeout: float = 30.0,  # noqa: ASYNC109 (a deadline for a condition, not a cancel scope)
) -> dict[str, Any]:
    """Wait until every client, the server and the engine agree (see the module's docstring);
    return the server's state. Fails with the differences after ``timeout`` seconds, or at
    once when a client was sent an unreported gap.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        problems = [p for f in follows for p in f.problems()]
        assert not problems, "\n".join(problems)
        answer = await client.state()
        server: dict[str, Any] = answer["state"]
        diffs = [f"server vs engine: {d}" for d in _diff(scope, server, await truth())]
        for follow in follows:
            diffs += _follow_diffs(follow, answer["version"], server)
        if not diffs:
            return server
        if loop.time() > deadline:
            raise AssertionError("no convergence:\n  " + "\n  ".join(diffs[:12]))
        await asyncio.sleep(0.3)


def _diff(
    scope: Callable[[Mapping[str, Any]], dict[str, Any]],
    mine: Mapping[str, Any],
    truth: Mapping[str, Any],
) -> list[str]:
    return differences(scope(comparable(dict(mine))), scope(truth))


def _follow_diffs(follow: Follow, version: int, server: dict[str, Any]) -> list[str]:
    held, at = follow.state, follow.follower.version
    if held is None:
        return [f"{follow.name}: no state yet"]
    if follow.scope is None:
        # The whole state, exactly (revs included), at the server's version.
        if at != version:
            return [f"{follow.name}: at version {at}, the server at {version}"]
        mine, theirs = held, server
    else:
        theirs = follow.scope(server)
        mine = {name: held.get(name, {}) for name in theirs}
    return [f"{follow.name} vs server: {d}" for d in state_differences(mine, theirs)]


def state_differences(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """Readable differences between two protocol EngineStates (or parts of them), field by
    field; ``version`` and ``last_updated`` aside."""
    singles = ("engine_info", "system_stats")
    wrapped = [
        {k: ({"": v} if k in singles else v) for k, v in state.items()} for state in (mine, theirs)
    ]
    for state in wrapped:
        state.pop("version", None)
        state.pop("last_updated", None)
    return differences(wrapped[0], wrapped[1])


# -- the server's own account -----------------------------------------------------------------


async def metrics(url: str, token: str) -> dict[str, float]:
    """``GET /metrics``, as ``{"name{labels}": value}``."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def status_history(client: Client, since: int) -> list[tuple[str, str | None]]:
    """Every ``engine_info`` status the server committed after version ``since``, with its
    ``last_error``, in order (from ``GET /api/v1/changes``)."""
    answer = await client.changes_since(since)
    history: list[tuple[str, str | None]] = []
    info: dict[str, Any] | None = None
    for change in answer["changes"]:
        if change["kind"] != "engine" or change["id"] != "engine_info":
            continue
        if "object" in change:
            info = dict(change["object"])
        else:
            info = dict(info or {})
            for op in change["patch"]:
                if op["op"] in ("add", "replace") and op["path"] in ("/status", "/last_error"):
                    info[op["path"][1:]] = op["value"]
        if "status" in info and (
            not history or history[-1] != (info["status"], info.get("last_error"))
        ):
            history.append((info["status"], info.get("last_error")))
    return history


# -- operations on the engine -----------------------------------------------------------------


async def docker_at(host: str | None, *args: str, check: bool = True) -> str:
    """Run the docker CLI against ``host`` (``None``: the default engine); return stdout."""
    prefix = ("-H", host) if host else ()
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *prefix,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {err.decode().strip()}")
    return out.decode().strip()


async def run_at(host: str | None, name: str, *args: str) -> str:
    """``docker run -d`` a labelled test container (``sleep 300``) at ``host``; its id."""
    return await docker_at(
        host, "run", "-d", "--name", name, "--label", f"{LABEL}=1", *args, TEST_IMAGE,
        "sleep", "300",
    )  # fmt: skip


async def churn(
    prefix: str,
    *,
    rounds: int | None = None,
    stop: asyncio.Event | None = None,
    host: str | None = None,
) -> int:
    """Operations of every kind on labelled objects named ``prefix``…, for ``rounds`` rounds
    or until ``stop`` is set; return how many operations were done. Round ``i`` leaves
    container ``{prefix}c{i}r`` exited and volume ``{prefix}v{i}`` for even ``i``, nothing for
    odd ``i``."""
    done, i = 0, 0
    while (rounds is None or i < rounds) and not (stop is not None and stop.is_set()):
        name = f"{prefix}c{i}"
        cid = await run_at(host, name)
        await docker_at(host, "volume", "create", "--label", f"{LABEL}=1", f"{prefix}v{i}")
        await docker_at(host, "rename", cid, f"{name}r")
        await docker_at(host, "pause", cid)
        await docker_at(host, "unpause", cid)
        await docker_at(host, "stop", "-t", "0", cid)
        done += 6
        if i % 2:
            await docker_at(host, "rm", cid)
            await docker_at(host, "volume", "rm", f"{prefix}v{i}")
            done += 2
        i += 1
    return done


async def remove_prefixed(prefix: str, host: str | None = None) -> None:
    """Remove the labelled containers, volumes and networks named ``prefix``…"""
    flt = ("--filter", f"label={LABEL}", "--filter", f"name={prefix}")
    containers = (await docker_at(host, "ps", "-aq", *flt)).split()
    if containers:
        await docker_at(host, "rm", "-f", *containers, check=False)
    volumes = (await docker_at(host, "volume", "ls", "-q", *flt)).split()
    if volumes:
        await docker_at(host, "volume", "rm", "-f", *volumes, check=False)
    for network in (await docker_at(host, "network", "ls", "-q", *flt)).split():
        await docker_at(host, "network", "rm", network, check=False)


# -- waiting and reporting --------------------------------------------------------------------


async def wait_until(
    check: Callable[[], Awaitable[object]],
    what: str,
    timeout: float = 30.0,  # noqa: ASYNC109 (a deadline for a condition, not a cancel scope)
) -> None:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)


async def engine_link(url: str) -> str:
    """The engine's status as the server's ``GET /healthz`` reports it."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url + "/healthz")
    return str(answer.json()["engine"])


def outages(history: list[tuple[str, str | None]]) -> int:
    """How many times a :func:`status_history` goes disconnected, resyncing, connected."""
    count, phase = 0, "connected"
    for status, _ in history:
        if status == "disconnected":
            phase = "disconnected"
        elif status == "resyncing" and phase == "disconnected":
            phase = "resyncing"
        elif status == "connected" and phase == "resyncing":
            count, phase = count + 1, "connected"
    return count


def report(what: str, **counts: object) -> None:
    """One line for the log of a run (``pytest -s`` shows it): the faults injected, and
    what was lost."""
    print(f"FAULTS {what}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
