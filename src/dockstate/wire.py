"""The wire: one builder for every message the server sends (protocol.md §3-§5), as JSON text.

Messages are built on the hot path as text, not through the pydantic models of
:mod:`dockstate.protocol` (those exist for validation and the published JSON Schema); a unit
test checks every builder's output against that schema. A change is serialized once, however
many subscriptions are sent it: :class:`EncodedChange` renders each of its wire forms at most
once and :class:`ObjectCache` keeps each object's JSON while the object is unchanged, so a
message is spliced together from texts made earlier.

Strings that come from a client (subscription ids, echoed ids) are written with ASCII escapes:
JSON lets a client send a lone surrogate (``"\\ud800"``), valid as an escape but not encodable
as the UTF-8 of a text frame. State data is written as UTF-8.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from .state import Change, ChangeBatch, Entity

__all__ = [
    "EncodedChange",
    "ObjectCache",
    "batch_json",
    "bookmark",
    "change_json",
    "changes",
    "engine_state_update",
    "error",
    "logs",
    "logs_end",
    "logs_skipped",
    "member",
    "operation",
    "pong",
    "resync_required",
    "snapshot",
    "state_text",
    "stats",
    "welcome",
]


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _ascii(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- changes -------------------------------------------------------------------------------


def change_json(change: Change) -> dict[str, Any]:
    """One change as protocol.md §4 puts it on the wire (``updated`` carries its patch)."""
    out: dict[str, Any] = {"v": change.v, "kind": change.kind, "op": change.op, "id": change.id}
    if change.op == "created" and change.obj is not None:
        out["object"] = change.obj.model_dump(mode="json")
    elif change.op == "updated":
        out["patch"] = change.patch
    if change.cause is not None:
        out["cause"] = change.cause.to_json()
    return out


def batch_json(batch: ChangeBatch) -> dict[str, Any]:
    """A committed batch: ``from``, ``to``, ``timestamp`` and its changes."""
    return {
        "from": batch.from_version,
        "to": batch.to_version,
        "timestamp": batch.timestamp,
        "changes": [change_json(c) for c in batch.changes],
    }


class ObjectCache:
    """The JSON text of each object, kept while the object is the one the state holds."""

    def __init__(self) -> None:
        self._texts: dict[tuple[str, str], tuple[Entity, str]] = {}

    def text(self, kind: str, key: str, obj: Entity) -> str:
        hit = self._texts.get((kind, key))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = _text(obj.model_dump(mode="json"))
        self._texts[(kind, key)] = (obj, text)
        return text

    def forget(self, kind: str, key: str) -> None:
        self._texts.pop((kind, key), None)


class EncodedChange:
    """A committed change and its wire forms, each serialized at most once."""

    __slots__ = ("_as_created", "_text", "cache", "change")

    def __init__(self, change: Change, cache: ObjectCache) -> None:
        self.change = change
        self.cache = cache
        self._text: str | None = None
        self._as_created: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.change.kind, self.change.id)

    def text(self) -> str:
        """The change as committed (``updated`` carries its patch)."""
        if self._text is None:
            self._text = _text(change_json(self.change))
        return self._text

    def text_with_object(self, op: Literal["created", "updated"]) -> str:
        """The change as ``op`` carrying the whole object (after entering a filter, or
        coalesced with earlier changes)."""
        if op == "created" and self._as_created is not None:
            return self._as_created
        c = self.change
        assert c.obj is not None
        text = self._render(op, f',"object":{self.cache.text(c.kind, c.id, c.obj)}')
        if op == "created":
            self._as_created = text
        return text

    def removed_text(self) -> str:
        """The change as ``removed`` (after leaving a filter, or coalesced)."""
        return self._render("removed", "")

    def _render(self, op: str, body: str) -> str:
        c = self.change
        head = _text({"v": c.v, "kind": c.kind, "op": op, "id": c.id})[:-1]
        cause = f',"cause":{_text(c.cause.to_json())}' if c.cause else ""
        return f"{head}{body}{cause}}}"


# -- the state -----------------------------------------------------------------------------


def state_text(maps: dict[str, list[str]], engine: list[str], version: int, updated: str) -> str:
    """An EngineState (§1) from parts already serialized: ``maps`` by plural, each a list of
    ``"key":object`` members; ``engine`` the ``"engine_info":…`` members present."""
    parts = [f'"{plural}":{{{",".join(members)}}}' for plural, members in maps.items()]
    parts += engine
    parts.append(f'"version":{version},"last_updated":{_text(updated)}')
    return "{" + ",".join(parts) + "}"


def member(key: str, text: str) -> str:
    """One ``"key":value`` member of a JSON object whose value is already text."""
    return f"{_text(key)}:{text}"


# -- server messages -----------------------------------------------------------------------


def welcome(
    *,
    protocol: str,
    server: str,
    session: str,
    engine: str,
    engines: list[dict[str, str]],
    epoch: str,
    version: int,
    oldest: int,
    heartbeat_ms: int,
) -> str:
    """``engine`` is the default engine's id (``epoch``, ``version`` and ``oldest`` are
    its); ``engines`` lists every engine as ``{"id", "host", "status"}`` (protocol.md §8)."""
    return _ascii(
        {
            "type": "welcome",
            "protocol": protocol,
            "server": server,
            "session": session,
            "engine": engine,
            "engines": engines,
            "epoch": epoch,
            "version": version,
            "oldest": oldest,
            "heartbeat_ms": heartbeat_ms,
        }
    )


def _head(kind: str, sub: str, engine: str) -> str:
    """A subscription's message up to its ``engine`` member (every one carries it, §8)."""
    return f'{{"type":"{kind}","sub":{_ascii(sub)},"engine":{_ascii(engine)}'


def snapshot(sub: str, engine: str, epoch: str, version: int, state: str) -> str:
    """``state`` is an EngineState's text (:func:`state_text`)."""
    return (
        f'{_head("snapshot", sub, engine)},"epoch":{_ascii(epoch)},'
        f'"version":{version},"state":{state}}}'
    )


def changes(
    sub: str,
    engine: str,
    epoch: str,
    from_: int,
    to: int,
    timestamp: str,
    change_texts: list[str],
) -> str:
    """``change_texts`` are changes' texts (:class:`EncodedChange`), oldest first."""
    return (
        f'{_head("changes", sub, engine)},"epoch":{_ascii(epoch)},'
        f'"from":{from_},"to":{to},"timestamp":{_ascii(timestamp)},'
        f'"changes":[{",".join(change_texts)}]}}'
    )


def bookmark(sub: str, engine: str, epoch: str, version: int) -> str:
    return f'{_head("bookmark", sub, engine)},"epoch":{_ascii(epoch)},"version":{version}}}'


def resync_required(sub: str, engine: str, code: str, oldest: int, current: int) -> str:
    return _ascii(
        {
            "type": "resync_required",
            "sub": sub,
            "engine": engine,
            "code": code,
            "oldest": oldest,
            "current": current,
        }
    )


def engine_state_update(sub: str, engine: str, state: str, timestamp: str) -> str:
    """``state`` is an EngineState's text (:func:`state_text`)."""
    return (
        f'{_head("engine_state_update", sub, engine)},"data":{state},'
        f'"timestamp":{_ascii(timestamp)}}}'
    )


def stats(sub: str, engine: str, time: str, containers: dict[str, str]) -> str:
    """``containers`` maps a container id to its sample's JSON text (``ContainerStats``)."""
    members = ",".join(member(key, text) for key, text in containers.items())
    return f'{_head("stats", sub, engine)},"time":{_ascii(time)},"containers":{{{members}}}}}'


def operation(engine: str, view: dict[str, Any]) -> str:
    """``view`` is an operation as ``GET /api/v1/operations/{id}`` answers it."""
    return _ascii({"type": "operation", "engine": engine, **view})


def logs(sub: str, engine: str, lines: list[dict[str, Any]]) -> str:
    """``lines`` are :meth:`dockstate.logs.LogLine.as_json` dicts, in order."""
    return f'{_head("logs", sub, engine)},"lines":{_text(lines)}}}'


def logs_skipped(sub: str, engine: str, container: str, count: int) -> str:
    return _ascii(
        {
            "type": "logs_skipped",
            "sub": sub,
            "engine": engine,
            "container": container,
            "count": count,
        }
    )


def logs_end(sub: str, engine: str, container: str | None, *, final: bool = False) -> str:
    message: dict[str, Any] = {
        "type": "logs_end",
        "sub": sub,
        "engine": engine,
        "container": container,
    }
    if final:
        message["final"] = True
    return _ascii(message)


def error(ident: str | int | None, code: str, message: str) -> str:
    return _ascii({"type": "error", "id": ident, "code": code, "message": message})


def pong(ident: str | int | None) -> str:
    return _ascii({"type": "pong", "id": ident})
