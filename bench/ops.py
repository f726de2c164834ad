"""Operations on containers, the Docker event that marks each one done, and when a contender
shows it done.

An operation is *shown* by a contender when its view of the container first satisfies it
(exists, running, exited, paused, has the new name, is gone) at or after the moment the
operation was issued. Its latency is that moment minus the ``timeNano`` of the operation's
reference event (:data:`REFERENCE`), as read by the limit (:class:`~bench.harness.EventsTap`).
A contender's view is a *history* per container: ``(when, name, state)`` records, ``name``
``None`` once the container is gone.
"""

from __future__ import annotations

import asyncio
import copy
import random
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockstate.state import apply_change

from .harness import Engine, EventsTap, WsClient, ms

__all__ = [
    "REFERENCE",
    "Op",
    "Record",
    "client_views",
    "dockstate_histories",
    "first_shown",
    "random_operations",
    "timings",
    "wait_shown",
]

#: The Docker event that marks each operation done.
REFERENCE = {
    "create": "create",
    "start": "start",
    "stop": "die",
    "pause": "pause",
    "unpause": "unpause",
    "rename": "rename",
    "remove": "destroy",
}

Record = tuple[int, str | None, str | None]


@dataclass
class Op:
    """One operation, issued at ``issued_ns`` (wall clock); ``name``: the name after it."""

    cid: str
    step: str
    issued_ns: int
    name: str = ""

    @property
    def event(self) -> str:
        return REFERENCE[self.step]

    def shown_by(self, record: Record) -> bool:
        _, name, state = record
        return {
            "create": name is not None,
            "start": state == "running",
            "unpause": state == "running",
            "stop": state == "exited",
            "pause": state == "paused",
            "rename": name == self.name,
            "remove": name is None,
        }[self.step]


def first_shown(op: Op, history: Iterable[Record]) -> int | None:
    """When a contender first showed ``op`` done (not before it was issued), or None."""
    for record in history:
        if record[0] >= op.issued_ns and op.shown_by(record):
            return record[0]
    return None


def dockstate_histories(client: WsClient, wanted: set[str]) -> dict[str, list[Record]]:
    """The histories of the containers ``wanted`` as ``client`` received them (its snapshot
    replayed with every change after it)."""
    state: dict[str, Any] = copy.copy(client.initial["state"])
    state["containers"] = dict(state["containers"])
    histories: dict[str, list[Record]] = {}
    for t, message in client.parsed():
        if message.get("type") != "changes":
            continue
        for change in message["changes"]:
            if change["kind"] != "container":
                continue
            apply_change(state, change)
            if change["id"] in wanted:
                obj = state["containers"].get(change["id"])
                record = (t, obj["name"], obj["state"]) if obj else (t, None, None)
                histories.setdefault(change["id"], []).append(record)
    return histories


def client_views(
    clients: Sequence[WsClient],
) -> Callable[[set[str]], list[dict[str, list[Record]]]]:
    """The histories of each client, for :func:`wait_shown`."""
    return lambda wanted: [dockstate_histories(client, wanted) for client in clients]


@dataclass
class Timings:
    """Per operation step: contender latencies (ms), the limit's, and what was missed."""

    lags: dict[str, list[float]] = field(default_factory=dict)
    limit: dict[str, list[float]] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    unmatched: int = 0

    def all_lags(self) -> list[float]:
        return [lag for lags in self.lags.values() for lag in lags]

    def all_limit(self) -> list[float]:
        return [lag for lags in self.limit.values() for lag in lags]


def timings(ops: Sequence[Op], tap: EventsTap, views: Iterable[dict[str, list[Record]]]) -> Timings:
    """Latencies of ``ops`` as shown in each of ``views`` (one history dict per client)."""
    result = Timings()
    views = list(views)
    for op in ops:
        event = tap.find(op.cid, op.event, op.issued_ns)
        if event is None:
            result.unmatched += 1
            continue
        result.limit.setdefault(op.step, []).append(ms(event["t"] - event["time_nano"]))
        for histories in views:
            when = first_shown(op, histories.get(op.cid, ()))
            if when is None:
                result.missed.append(op.step)
            else:
                result.lags.setdefault(op.step, []).append(ms(when - event["time_nano"]))
    return result


def shown_everywhere(ops: Sequence[Op], views: Iterable[dict[str, list[Record]]]) -> bool:
    return all(first_shown(op, h.get(op.cid, ())) is not None for h in views for op in ops)


async def wait_shown(
    ops: Sequence[Op],
    views: Callable[[set[str]], Iterable[dict[str, list[Record]]]],
    patience: float,
) -> list[dict[str, list[Record]]]:
    """Wait until every view shows every operation, or ``patience`` seconds; return the
    views then."""
    wanted = {op.cid for op in ops}
    deadline = time.monotonic() + patience
    while True:
        current = list(views(wanted))
        if shown_everywhere(ops, current) or time.monotonic() >= deadline:
            return current
        await asyncio.sleep(0.25)


#: What each state of a container allows, for :func:`random_operations`.
_ALLOWED = {
    "running": ["stop", "pause", "rename"],
    "exited": ["start", "rename"],
    "paused": ["unpause"],
}
_AFTER = {"stop": "exited", "start": "running", "pause": "paused", "unpause": "running"}


async def random_operations(
    engine: Engine, ids: Sequence[str], count: int, spacing: float, seed: int = 5
) -> list[Op]:
    """``count`` operations, one every ``spacing`` seconds, on random containers of ``ids``:
    stop, start, pause, unpause or rename, whichever the container's state allows (so that
    every one makes a change). Return those the engine accepted."""
    rng = random.Random(seed)
    ops = []
    for i in range(count):
        cid = rng.choice(ids)
        state = engine.states.get(cid, "exited")
        step = rng.choice(_ALLOWED[state])
        params = {"t": "0"} if step == "stop" else {}
        name = ""
        if step == "rename":
            name = f"{engine.prefix}-r{i}-{secrets.token_hex(2)}"
            params = {"name": name}
        issued = time.time_ns()
        if await engine.action(cid, step, **params) < 300:
            ops.append(Op(cid, step, issued, name))
            engine.states[cid] = _AFTER.get(step, state)
        await asyncio.sleep(spacing)
    return ops
