"""Write the follower test vectors (tests/vectors/*.json); see README.md.

    .venv/bin/python tests/vectors/make_vectors.py

The server's side of every vector is the real thing: an ``EngineState`` commits the batches,
and the hub's ``Subscription`` (filters, coalescing) turns them into the messages a
``dockstate serve`` would send, as ``server/_ws.py`` frames them. What each step expects of a
follower is written here by hand; the expected state after a snapshot or applied changes is
the server's own (filtered) state at that moment. Nothing here runs a follower: the Python
test (tests/client/test_vectors.py) and the UI's (web/src/store/vectors.test.ts) do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dockstate.hub import Hub, Subscription, compile_filter
from dockstate.state import (
    Container,
    EngineInfo,
    EngineState,
    Image,
    Network,
    Remove,
    Upsert,
    Volume,
)

HERE = Path(__file__).parent
EPOCH = "e1"
SUB = "s1"
CREATED = "2026-01-01T00:00:00.000000Z"
RESYNC = {"type": "resync", "id": SUB}


# -- builders ---------------------------------------------------------------------------------


def container(key: str, state: str = "running", **fields: Any) -> Container:
    data: dict[str, Any] = {
        "id": key,
        "name": f"name-{key}",
        "image": "app:latest",
        "image_id": "sha256:i1",
        "command": "sleep 60",
        "created": CREATED,
        "state": state,
        "status": "Up" if state == "running" else state.capitalize(),
        **fields,
    }
    return Container.model_validate(data)


def volume(name: str, **fields: Any) -> Volume:
    return Volume.model_validate(
        {"name": name, "driver": "local", "mountpoint": f"/v/{name}", **fields}
    )


def image(key: str, tags: list[str]) -> Image:
    return Image.model_validate({"id": key, "tags": tags, "size": 100, "created": CREATED})


def network(key: str, name: str) -> Network:
    return Network.model_validate({"id": key, "name": name, "driver": "bridge"})


def engine_info(status: str = "connected") -> EngineInfo:
    return EngineInfo.model_validate({"status": status, "name": "docker-host", "ncpu": 4})


# -- the server -------------------------------------------------------------------------------


class Server:
    """One EngineState, one hub, one subscription ``s1`` in mode ``changes``."""

    def __init__(self, filter: dict[str, Any] | None = None) -> None:
        self.ticks = 0
        self.state = EngineState(epoch=EPOCH, clock=self._clock)
        self.hub = Hub(self.state)
        self.sub = Subscription(id=SUB, mode="changes", filter=compile_filter(filter))
        self.hub.register(self, [self.sub], lambda: None)

    def _clock(self) -> str:
        self.ticks += 1
        return f"2026-01-01T00:00:{self.ticks:02d}.000000Z"

    def apply(self, *ops: Upsert | Remove) -> None:
        batch = self.state.apply(ops)
        assert batch is not None, "the batch changed nothing"
        if hasattr(self.hub, "publish"):  # the hub as the commit pipeline's second stage
            self.hub.publish(batch)

    def view(self) -> dict[str, Any]:
        """What the subscription can see now: the state a follower must hold."""
        text, _ = self.hub.state_json(self.sub.filter)
        view: dict[str, Any] = json.loads(text)
        return view

    def snapshot(self) -> dict[str, Any]:
        text = self._go_live(self.sub)
        version = self.sub.sent_version
        return {"type": "snapshot", "sub": SUB, "epoch": EPOCH, "version": version, "state": text}

    def _go_live(self, sub: Subscription) -> dict[str, Any]:
        """What the server's sender does when it sends ``sub`` a snapshot (returned)."""
        text, visible = self.hub.state_json(sub.filter)
        if hasattr(sub, "snapshot_taken"):  # Subscription's transitions as methods
            sub.snapshot_taken(self.state.version, visible)
        else:  # the hub's older Subscription: set what the server's sender sets
            sub.pending.clear()
            went_live = {"visible": visible, "needs_snapshot": False, "resync_code": None}
            went_live["sent_version"] = went_live["offered_version"] = self.state.version
            for name, value in went_live.items():
                setattr(sub, name, value)
        state: dict[str, Any] = json.loads(text)
        return state

    def changes(self) -> dict[str, Any]:
        """The one ``changes`` message of everything committed since the last one."""
        return self._changes_of(self.sub)

    def _changes_of(self, sub: Subscription) -> dict[str, Any]:
        taken = sub.take_changes()
        assert taken is not None, "nothing to send"
        start, end, texts = taken
        return {
            "type": "changes",
            "sub": SUB,
            "epoch": EPOCH,
            "from": start,
            "to": end,
            "timestamp": self.state.last_updated,
            "changes": [json.loads(t) for t in texts],
        }

    def commit(self, *ops: Upsert | Remove) -> dict[str, Any]:
        self.apply(*ops)
        return self.changes()

    def raw(self, *ops: Upsert | Remove) -> dict[str, Any]:
        """A batch as a ``changes`` message, whatever ``s1`` is owed (as another, live,
        subscription without a filter is sent it)."""
        owner, spy = object(), Subscription(id=SUB, mode="changes", filter=None)
        self.hub.register(owner, [spy], lambda: None)
        self._go_live(spy)
        self.apply(*ops)
        self.hub.unregister(owner)
        return self._changes_of(spy)

    def lose(self, *ops: Upsert | Remove) -> None:
        """Commit a batch whose message never reaches the client."""
        self.commit(*ops)

    def bookmark(self, version: int | None = None) -> dict[str, Any]:
        if version is None:
            assert not self.sub.pending
            self.sub.sent_version = self.sub.offered_version
            version = self.sub.sent_version
        return {"type": "bookmark", "sub": SUB, "epoch": EPOCH, "version": version}

    @staticmethod
    def resync_required(code: str, oldest: int, current: int) -> dict[str, Any]:
        return {
            "type": "resync_required",
            "sub": SUB,
            "code": code,
            "oldest": oldest,
            "current": current,
        }


# -- vectors ----------------------------------------------------------------------------------


class Vector:
    def __init__(self, name: str, description: str, server: Server) -> None:
        self.name, self.description, self.server = name, description, server
        self.steps: list[dict[str, Any]] = []
        self.applied: int | None = None
        self.version: int | None = None

    def subscribe(self, since: dict[str, Any] | None, note: str = "") -> None:
        step: dict[str, Any] = {
            "subscribe": {},
            "expect": {"since": since, "awaiting_snapshot": since is None},
        }
        self._add(step, note)

    def receive(self, message: dict[str, Any], step: str, note: str = "", **expect: Any) -> None:
        """``step``: "state" (expects the server's view), "nothing" or "resync"."""
        out: dict[str, Any] = {"step": step, "answer": RESYNC if step == "resync" else None}
        if step == "state":
            out["state"] = self.server.view()
            self.applied = self.version = out["state"]["version"]
        if step == "resync":
            out["awaiting_snapshot"] = True
        out.update(expect)
        if "version" in out:
            self.version = out["version"]
        out.setdefault("applied", self.applied)
        out.setdefault("version", self.version)
        self._add({"receive": message, "expect": out}, note)

    def _add(self, step: dict[str, Any], note: str) -> None:
        if note:
            step = {"note": note, **step}
        self.steps.append(step)

    def write(self) -> None:
        doc = {"name": self.name, "description": self.description, "sub": SUB, "steps": self.steps}
        (HERE / f"{self.name}.json").write_text(
            json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
        )


def started(name: str, description: str, filter: dict[str, Any] | None = None) -> Vector:
    server = Server(filter)
    server.apply(Upsert(engine_info()), Upsert(container("c1")), Upsert(volume("v1")))
    vec = Vector(name, description, server)
    vec.subscribe(None)
    vec.receive(server.snapshot(), "state")
    return vec


def snapshot_then_changes() -> Vector:
    vec = started(
        "snapshot_then_changes",
        "A snapshot, then changes of every kind (created, updated by patch, removed) chaining "
        "on it; each batch also updates system_stats (kind engine) by patch.",
    )
    s = vec.server
    vec.receive(s.commit(Upsert(container("c2", "created"))), "state", "created")
    vec.receive(s.commit(Upsert(container("c2", "running"))), "state", "updated with a patch")
    vec.receive(s.commit(Upsert(image("sha256:i1", ["app:latest"]))), "state")
    vec.receive(s.commit(Upsert(network("n1", "front"))), "state")
    vec.receive(
        s.commit(Remove("container", "c1"), Remove("volume", "v1")),
        "state",
        "two removals in one batch",
    )
    vec.receive(s.commit(Remove("network", "n1")), "state")
    return vec


def engine_objects() -> Vector:
    vec = started(
        "engine_objects",
        "Changes of kind engine: engine_info patched (the engine goes away and comes back), "
        "system_stats patched as containers change state.",
    )
    s = vec.server
    vec.receive(s.commit(Upsert(engine_info("disconnected"))), "state", "engine_info by patch")
    vec.receive(s.commit(Upsert(engine_info("connected"))), "state")
    vec.receive(
        s.commit(Upsert(container("c1", "paused"))), "state", "system_stats follows the container"
    )
    vec.receive(s.commit(Upsert(container("c1", "exited", exit_code=137))), "state")
    return vec


def gap_then_resync() -> Vector:
    vec = started(
        "gap_then_resync",
        "A changes message that does not chain (one was lost) asks for resync; what the server "
        "had in flight (changes, bookmarks) is dropped until the snapshot, after which changes "
        "chain again.",
    )
    s = vec.server
    vec.receive(s.commit(Upsert(container("c2"))), "state")
    s.lose(Upsert(container("lost")))
    vec.receive(s.commit(Upsert(container("c3"))), "resync", "from is past the version held")
    vec.receive(s.commit(Upsert(container("c4"))), "nothing", "dropped: a snapshot is coming")
    vec.receive(s.bookmark(), "nothing", "dropped too")
    vec.receive(s.snapshot(), "state")
    vec.receive(s.commit(Upsert(container("c5"))), "state")
    return vec


def overlap_and_epoch() -> Vector:
    vec = started(
        "overlap_and_epoch",
        "A changes message replayed (it overlaps what was applied) is a gap; so is a changes "
        "message of another epoch.",
    )
    s = vec.server
    replayed = s.commit(Upsert(container("c2")))
    vec.receive(replayed, "state")
    vec.receive(replayed, "resync", "the same message again")
    vec.receive(s.snapshot(), "state")
    other = s.commit(Upsert(container("c3")))
    vec.receive({**other, "epoch": "other"}, "resync", "another epoch")
    return vec


def change_does_not_apply() -> Vector:
    vec = started(
        "change_does_not_apply",
        "A change that does not apply to the state held (an update of an object it does not hold, "
        "a patch whose test fails) asks for resync, leaves the state as it was, and forbids a "
        "resume from it: the next subscription asks for a snapshot.",
    )
    v = vec.server.state.version
    bad = {
        "type": "changes",
        "sub": SUB,
        "epoch": EPOCH,
        "from": v,
        "to": v + 1,
        "timestamp": "2026-01-01T00:01:00.000000Z",
        "changes": [
            {
                "v": v + 1,
                "kind": "container",
                "op": "updated",
                "id": "nowhere",
                "patch": [{"op": "replace", "path": "/state", "value": "exited"}],
            },
        ],
    }
    vec.receive(bad, "resync", "an update of an unknown object", since=None)
    vec.subscribe(None, "a new connection: no since")
    vec.receive(vec.server.snapshot(), "state")
    failing = {
        **bad,
        "changes": [
            {
                "v": v + 1,
                "kind": "container",
                "op": "updated",
                "id": "c1",
                "patch": [{"op": "test", "path": "/state", "value": "paused"}],
            },
        ],
    }
    vec.receive(failing, "resync", "a patch whose test fails", since=None)
    return vec


def resync_required() -> Vector:
    vec = started(
        "resync_required",
        "After resync_required (a slow consumer) everything is dropped until the snapshot that "
        "follows; no resync is sent (the server sends the snapshot by itself).",
    )
    s = vec.server
    vec.receive(s.commit(Upsert(container("c2"))), "state")
    v = s.state.version
    vec.receive(Server.resync_required("SLOW_CONSUMER", 0, v), "nothing", awaiting_snapshot=True)
    vec.receive(s.commit(Upsert(container("c7"))), "nothing", "dropped")
    vec.receive(s.snapshot(), "state", awaiting_snapshot=False)
    vec.receive(s.commit(Remove("container", "c7")), "state")
    return vec


def bookmarks() -> Vector:
    vec = started(
        "bookmarks",
        "Bookmarks apply no state but move the subscription's version (where changes chain and "
        "resume from); an older one never moves it back; one of another epoch is a gap.",
        filter={"kinds": ["container"]},
    )
    s = vec.server
    base = s.state.version
    s.apply(Upsert(volume("v2")))  # not for this subscription
    s.apply(Upsert(volume("v3")))
    bm = s.bookmark()
    vec.receive(
        bm,
        "nothing",
        "the filter excluded two batches",
        version=bm["version"],
        since={"epoch": EPOCH, "version": bm["version"]},
    )
    vec.receive(s.bookmark(base + 1), "nothing", "an older bookmark", version=bm["version"])
    vec.receive(s.commit(Upsert(container("c2"))), "state", "from is the bookmark's version")
    vec.receive({**s.bookmark(), "epoch": "other"}, "resync", "a bookmark of another epoch")
    vec.receive(s.snapshot(), "state")
    return vec


def bookmark_chaining() -> Vector:
    vec = started(
        "bookmark_chaining",
        "After a bookmark, changes chain from any version between the last applied one and the "
        "bookmark's (applied <= from <= version <= to); changes ending before the bookmark "
        "are a gap.",
        filter={"kinds": ["container"]},
    )
    s = vec.server
    applied = s.state.version
    s.apply(Upsert(volume("v2")))
    s.apply(Upsert(volume("v3")))
    bm = s.bookmark()
    vec.receive(bm, "nothing", version=bm["version"])
    msg = s.commit(Upsert(container("c2")))
    vec.receive({**msg, "from": applied}, "state", "from the version applied, not the bookmark's")
    s.apply(Upsert(volume("v4")))
    s.apply(Upsert(volume("v5")))
    bm = s.bookmark()
    vec.receive(bm, "nothing", version=bm["version"])
    short = {**s.commit(Upsert(container("c3"))), "to": bm["version"] - 1}
    short["from"] = vec.applied
    vec.receive(short, "resync", "to is before the bookmark's version")
    return vec


def resume() -> Vector:
    vec = started(
        "resume",
        "A new connection resumes from the version held (since), and the changes missed arrive "
        "with no snapshot and apply; a follower that never had a snapshot subscribes without since "
        "and drops changes until one comes.",
    )
    s = vec.server
    vec.receive(s.commit(Upsert(container("c2"))), "state")
    vec.subscribe({"epoch": EPOCH, "version": s.state.version}, "the connection dropped; a new one")
    vec.receive(
        s.commit(Upsert(container("c3")), Upsert(container("c2", "exited"))),
        "state",
        "the missed batch",
    )
    return vec


def fresh() -> Vector:
    server = Server()
    server.apply(Upsert(container("c1")))
    vec = Vector(
        "fresh",
        "A fresh follower subscribes without since and drops changes until the snapshot; messages "
        "of other subscriptions and of other types are ignored.",
        server,
    )
    vec.subscribe(None)
    vec.receive(server.raw(Upsert(container("c2"))), "nothing", "before any snapshot")
    vec.receive(server.snapshot(), "state")
    other = server.commit(Remove("container", "c1"))
    vec.receive({**other, "sub": "other"}, "nothing", "another subscription's")
    vec.receive({"type": "pong", "id": "p1"}, "nothing")
    return vec


def filters() -> Vector:
    vec = started(
        "filters",
        "A subscription with a label filter: an object that enters the filter arrives as created "
        "with its object, one that leaves it as removed; objects outside it never show.",
        filter={"labels": {"tier": "web"}},
    )
    s = vec.server
    vec.receive(
        s.commit(Upsert(container("w1", labels={"tier": "web"}))),
        "state",
        "a new object in the filter",
    )
    vec.receive(
        s.commit(Upsert(container("c1", labels={"tier": "web"}))), "state", "c1 enters: created"
    )
    vec.receive(
        s.commit(Upsert(container("c1", "exited", labels={"tier": "web"}))),
        "state",
        "updated by patch",
    )
    vec.receive(
        s.commit(Upsert(container("w1", labels={"tier": "db"}))), "state", "w1 leaves: removed"
    )
    vec.receive(
        s.commit(Upsert(volume("v9", labels={"tier": "web"})), Remove("volume", "v1")),
        "state",
        "a volume enters",
    )
    return vec


def coalesced() -> Vector:
    vec = started(
        "coalesced",
        "A slow client: several batches coalesced into one message. An object changed several "
        "times comes as updated with its whole object (no patch); one created and removed in "
        "between does not come at all; one removed and created again comes as updated.",
    )
    s = vec.server
    s.apply(Upsert(container("c1", "paused")))
    s.apply(Upsert(container("c1", "running", status="Up (healthy)")))
    s.apply(Upsert(container("tmp")))
    s.apply(Remove("container", "tmp"))
    s.apply(Remove("volume", "v1"))
    s.apply(Upsert(volume("v1", driver="other")))
    vec.receive(s.changes(), "state", "one message, from the last version held to the newest")
    s.apply(Upsert(container("c1", "exited")))
    vec.receive(s.changes(), "state", "a single change: its patch again")
    return vec


def main() -> None:
    for path in HERE.glob("*.json"):
        path.unlink()
    makers = [
        snapshot_then_changes,
        engine_objects,
        gap_then_resync,
        overlap_and_epoch,
        change_does_not_apply,
        resync_required,
        bookmarks,
        bookmark_chaining,
        resume,
        fresh,
        filters,
        coalesced,
    ]
    for make in makers:
        make().write()
    print(f"wrote {len(makers)} vectors to {HERE}")


if __name__ == "__main__":
    main()
