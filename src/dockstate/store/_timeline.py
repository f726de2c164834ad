"""Every raw Docker event, kept on disk: the engine itself keeps only its last 256, in memory.

Events are stored as the engine sent them (normalized by :class:`DockerEvent`), except the
command line of ``exec_*`` events, which can carry secrets and is dropped. Each object's
timeline is read back newest first, a page at a time.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..engine import DockerEvent

__all__ = ["EventLog", "TimelinePage"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """Events of one object, newest first; ``more`` when older ones exist."""

    events: list[DockerEvent]
    more: bool


class EventLog:
    """The raw event timeline on disk.

    Args:
        db: an open connection holding the schema of :mod:`._db` (owned by the caller).
        retain_events: keep at most this many events.
        retain_seconds: drop events older than this.
        clock_ns: the current time in nanoseconds; injectable for tests.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        retain_events: int,
        retain_seconds: float,
        clock_ns: Callable[[], int],
    ) -> None:
        self._db = db
        self.retain_events = retain_events
        self.retain_seconds = retain_seconds
        self._clock_ns = clock_ns
        self._count = db.execute("SELECT count(*) FROM events").fetchone()[0]
        self.failed: str | None = None

    def record(self, events: Sequence[DockerEvent]) -> None:
        """Store events (repeats of stored ones are ignored). Never raises: a failure is
        logged and recording stops."""
        if self.failed is not None or not events:
            return
        rows = [
            (
                e.time_nano,
                e.type,
                e.action,
                "" if e.action.startswith("exec_") else e.detail,
                e.actor_id,
                e.attributes.get("container") if e.type in ("network", "volume") else None,
                json.dumps(dict(e.attributes), sort_keys=True),
            )
            for e in events
        ]
        try:
            with self._db:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO events "
                    "(time_nano, type, action, detail, actor, container, attributes) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._count += self._db.total_changes - before
        except sqlite3.Error as err:
            self.failed = str(err)
            log.error("the event timeline failed (%s); events are no longer saved", err)

    @property
    def over_limit(self) -> bool:
        """Whether more events are kept than the retention allows (10% slack)."""
        return bool(self._count > self.retain_events * 1.1)

    def prune(self) -> int:
        """Drop events beyond the retention limits; return how many."""
        cutoff = self._clock_ns() - int(self.retain_seconds * 1e9)
        try:
            with self._db:
                dropped = self._db.execute(
                    "DELETE FROM events WHERE time_nano < ? OR seq <= "
                    "(SELECT max(seq) FROM events) - ?",
                    (cutoff, self.retain_events),
                ).rowcount
        except sqlite3.Error as err:
            log.error("pruning the event timeline failed: %s", err)
            return 0
        self._count -= dropped
        return dropped

    def last_time_nano(self) -> int | None:
        """When the newest stored event happened (to resume the engine's stream from)."""
        row = self._db.execute("SELECT max(time_nano) FROM events").fetchone()
        return int(row[0]) if row[0] is not None else None

    def timeline(
        self,
        type_: str,
        actors: Sequence[str],
        *,
        limit: int = 100,
        before: int | None = None,
    ) -> TimelinePage:
        """The events of one object, newest first: those whose actor is one of ``actors``
        (an id, or the names an image is known by), and for a container also the network and
        volume events that concern it."""
        marks = ",".join("?" * len(actors))
        where = f"(type = ? AND actor IN ({marks}))"
        params: list[object] = [type_, *actors]
        if type_ == "container":
            where += f" OR container IN ({marks})"
            params += actors
        if before is not None:
            where = f"({where}) AND time_nano < ?"
            params.append(before)
        rows = self._db.execute(
            "SELECT time_nano, type, action, detail, actor, attributes FROM events "
            f"WHERE {where} ORDER BY time_nano DESC, seq DESC LIMIT ?",
            [*params, limit + 1],
        ).fetchall()
        events = [
            DockerEvent(
                type=t,
                action=a,
                detail=d,
                actor_id=actor,
                attributes=json.loads(attrs),
                time_nano=ns,
            )
            for ns, t, a, d, actor, attrs in rows[:limit]
        ]
        return TimelinePage(events, more=len(rows) > limit)

    def count(self) -> int:
        """How many events are on disk."""
        return int(self._count)
