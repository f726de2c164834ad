"""The raw event timeline: every Docker event kept on disk, read back per object."""

from __future__ import annotations

import time
from pathlib import Path

from dockstate.engine import DockerEvent
from dockstate.store import Retention, Store


def event(
    type_: str, action: str, actor: str, ns: int, detail: str = "", **attributes: str
) -> DockerEvent:
    return DockerEvent(type_, action, detail, actor, attributes, ns)


def test_an_objects_timeline_is_newest_first_and_pages(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db", host="h")
    store.events.record(
        [
            event("container", "create", "c1", 1, name="web"),
            event("container", "start", "c1", 2),
            event("network", "connect", "n1", 3, container="c1"),
            event("container", "create", "c2", 4),
            event("volume", "mount", "data", 5, container="c1"),
            event("container", "die", "c1", 6, exitCode="137"),
        ]
    )
    page = store.events.timeline("container", ["c1"], limit=3)
    assert [(e.type, e.action) for e in page.events] == [
        ("container", "die"),
        ("volume", "mount"),
        ("network", "connect"),
    ]
    assert page.more
    assert page.events[0].attributes == {"exitCode": "137"}
    older = store.events.timeline("container", ["c1"], limit=3, before=page.events[-1].time_nano)
    assert [e.action for e in older.events] == ["start", "create"]
    assert not older.more
    # A network's own timeline holds its connect event; another container's, only its own.
    assert [e.action for e in store.events.timeline("network", ["n1"]).events] == ["connect"]
    assert [e.action for e in store.events.timeline("container", ["c2"]).events] == ["create"]
    store.close()


def test_events_survive_a_restart_and_repeats_are_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = Store.open(path, host="h")
    store.events.record([event("image", "tag", "sha256:abc", 10, name="app:1")])
    store.close()
    store = Store.open(path, host="h")
    # The engine replays the last instant on a resume with `since`: the copy is ignored.
    store.events.record([event("image", "tag", "sha256:abc", 10, name="app:1")])
    store.events.record([event("image", "pull", "app:1", 11)])
    assert store.events.count() == 2
    assert store.events.last_time_nano() == 11
    # An image is known by its id and by its names.
    page = store.events.timeline("image", ["sha256:abc", "app:1"])
    assert [e.action for e in page.events] == ["pull", "tag"]
    store.close()


def test_exec_command_lines_are_not_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db", host="h")
    store.events.record(
        [event("container", "exec_create", "c1", 1, detail="sh -c 'PASSWORD=hunter2 ./go'")]
    )
    [kept] = store.events.timeline("container", ["c1"]).events
    assert kept.action == "exec_create"
    assert kept.detail == ""
    assert b"hunter2" not in (tmp_path / "h.db").read_bytes()
    store.close()


def test_retention_keeps_the_newest_events(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db", host="h", retention=Retention(events=10, days=1))
    now = time.time_ns()
    # An event from two days ago goes at the next pruning, whatever the count.
    store.events.record([event("volume", "create", "old", now - 2 * 86_400 * 10**9)])
    for n in range(1, 40):
        store.events.record([event("volume", "create", f"v{n}", now + n)])
        if store.over_limit:  # as the server's retention task does
            store.prune()
    assert store.events.count() <= 11
    newest = store.events.timeline("volume", [f"v{n}" for n in range(1, 40)], limit=100)
    assert newest.events[0].actor_id == "v39"
    assert {e.actor_id for e in newest.events} >= {f"v{n}" for n in range(30, 40)}
    store.events.record([event("volume", "create", "old", now - 2 * 86_400 * 10**9)])
    store.prune()
    assert store.events.count() == 10
    assert not store.events.timeline("volume", ["old"]).events
    store.close()
