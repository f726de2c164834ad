"""The durable change log: every committed batch, the objects at its two ends, and the epoch.

Tables (all in one SQLite file, see :mod:`._db`):

- ``changes``: one row per committed change: its version, the batch it belongs to, when it was
  committed, and the object after it (``NULL`` when removed) with its JSON Patch and cause.
- ``current``: every object as of the newest version, so that a restart restores the state.
- ``base``: every object as of :attr:`ChangeLog.oldest`, the version retention has pruned up
  to, so that the object *before* any retained change (``Change.prev``) is always known.

A batch is written inside :meth:`ChangeLog.record`, synchronously, before any client is sent
it (the commit pipeline records before it publishes, see :mod:`dockstate.pipeline`): once a
client has seen a version, that version is on disk and a restarted dockstate never numbers a
different change with it. Reading (:meth:`ChangeLog.since`, a resume from far back) goes
through a connection of its own and is safe from any thread, so that the server reads in a
worker thread while the event loop keeps committing; pruning (:meth:`ChangeLog.prune`) is the
retention task's, never a commit's.

An update that changes only *derived* fields (which containers use an image, a volume or a
network; the system stats) is stored as its patch alone: with 1000 containers on one image,
the image's object is 70 KB and every container created or removed would otherwise write it
again. Such objects are rebuilt by applying the patches to the last stored whole object (one
is stored every ``_WHOLE_EVERY`` patches), and ``current`` keeps them as of their last whole
write: the state recomputes derived fields when it is restored, and their ``rev`` comes from
their last change.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jsonpatch

from ..errors import VersionExpired
from ..state import (
    Cause,
    Change,
    ChangeBatch,
    Entity,
    Kind,
    model_of,
)

__all__ = ["ChangeLog", "Saved", "entity_from_json"]

_WHOLE_EVERY = 100  # a derived-only object is stored whole after this many patches
#: The most changes one resume reads back from disk. Beyond it a snapshot is cheaper for
#: everyone: the client is told VERSION_EXPIRED.
MAX_REPLAY = 20_000
#: Fields the state derives; an update of only these (and ``rev``) is stored as a patch.
_DERIVED_PATHS = ("/rev", "/containers", "/used_by", "/dangling")

log = logging.getLogger(__name__)


def entity_from_json(kind: str, key: str, text: str) -> Entity:
    """Rebuild a stored object (engine objects are told apart by their key)."""
    return model_of(kind, key).model_validate_json(text)


@dataclass(frozen=True)
class Saved:
    """What a previous run left: its epoch, version and engine, and the objects then."""

    epoch: str
    version: int
    last_updated: str
    host: str
    objects: list[Entity]


class ChangeLog:
    """The change history on disk; an :class:`~dockstate.state.Archive` for EngineState.

    Args:
        db: an open connection holding the schema of :mod:`._db` (owned by the caller), for
            writing, on the event loop's thread.
        reader: a second connection to the same file, for :meth:`since` from any thread
            (owned by the caller; ``check_same_thread=False``); ``db`` itself if not given.
        retain_changes: prune the oldest batches beyond this many changes.
        retain_seconds: prune batches committed longer ago than this.
        clock: the current time (seconds since the epoch); injectable for tests.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        reader: sqlite3.Connection | None = None,
        retain_changes: int,
        retain_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._reader = reader or db
        self._reading = threading.Lock()  # one reader thread at a time on its connection
        self.retain_changes = retain_changes
        self.retain_seconds = retain_seconds
        self._clock = clock
        self.failed: str | None = None
        self._count = db.execute("SELECT count(*) FROM changes").fetchone()[0]
        self._patches: dict[tuple[str, str], int] = {}  # patch-only rows since a whole one
        self._oldest = self._read_oldest()

    # -- the epoch and the saved state -----------------------------------------------------

    def saved(self) -> Saved | None:
        """The state the previous run left, or ``None`` (first run, or it was invalidated)."""
        meta = self._meta()
        if meta.get("valid") != "1" or "epoch" not in meta:
            return None
        revs = {
            (kind, key): v
            for kind, key, v in self._db.execute(
                "SELECT kind, id, max(v) FROM changes GROUP BY kind, id"
            )
        }
        objects = []
        for kind, key, text in self._db.execute("SELECT kind, id, obj FROM current"):
            obj = entity_from_json(kind, key, text)
            if revs.get((kind, key), 0) > obj.rev:  # its last changes were patches
                obj = obj.model_copy(update={"rev": revs[(kind, key)]})
            objects.append(obj)
        return Saved(
            meta["epoch"], int(meta["version"]), meta["last_updated"], meta["host"], objects
        )

    def start(
        self,
        epoch: str,
        version: int,
        last_updated: str,
        host: str,
        objects: Iterable[tuple[Kind, Entity]],
    ) -> None:
        """Begin a new history (a new epoch) at ``version``, holding ``objects`` then; forget
        every change and object of the previous one."""
        rows = [(kind, obj.key, obj.model_dump_json()) for kind, obj in objects]
        with self._db:
            for table in ("changes", "current", "base", "meta"):
                self._db.execute(f"DELETE FROM {table}")
            for table in ("current", "base"):
                self._db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows)
            self._set_meta(epoch=epoch, version=version, last_updated=last_updated)
            self._set_meta(oldest=version, host=host, valid=1)
        self._count = 0
        self._oldest = version

    @property
    def oldest(self) -> int:
        """The version after which every change is still on disk."""
        return self._oldest

    def _read_oldest(self, db: sqlite3.Connection | None = None) -> int:
        row = (db or self._db).execute("SELECT value FROM meta WHERE key = 'oldest'").fetchone()
        return int(row[0]) if row else 0

    @property
    def over_limit(self) -> bool:
        """Whether more changes are kept than the retention allows (with 10% slack, so that
        pruning runs in large steps)."""
        return bool(self._count > self.retain_changes * 1.1)

    # -- writing ---------------------------------------------------------------------------

    def record(self, batch: ChangeBatch) -> None:
        """Append a committed batch (the commit pipeline's first stage).

        A database error (disk full...) is not raised: it is logged, and the log stops
        recording and marks itself invalid (:meth:`fail`), so that the next run starts a new
        epoch instead of reusing versions that clients may have seen. Anything else it
        raises is a bug; the pipeline then calls :meth:`fail` itself.
        """
        if self.failed is not None:
            return
        try:
            with self._db:
                self._write(batch)
        except sqlite3.Error as err:
            self.fail(err)
            return
        self._count += len(batch.changes)

    def _write(self, batch: ChangeBatch) -> None:
        now = self._clock()
        rows = []
        whole: list[tuple[str, str, str]] = []
        gone: list[tuple[str, str]] = []
        for c in batch.changes:
            obj = None
            if c.obj is not None and not self._patch_only(c):
                obj = c.obj.model_dump_json()
                whole.append((c.kind, c.id, obj))
            elif c.obj is None:
                gone.append((c.kind, c.id))
            rows.append(
                (
                    c.v,
                    batch.from_version,
                    now,
                    c.kind,
                    c.id,
                    c.op,
                    obj,
                    json.dumps(c.patch) if c.patch is not None else None,
                    json.dumps(c.cause.to_json()) if c.cause is not None else None,
                )
            )
        db = self._db
        db.executemany("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT OR REPLACE INTO current VALUES (?, ?, ?)", whole)
        db.executemany("DELETE FROM current WHERE kind = ? AND id = ?", gone)
        self._set_meta(version=batch.to_version, last_updated=batch.timestamp)

    def _patch_only(self, c: Change) -> bool:
        """Whether ``c`` is stored as its patch alone (see the module's docstring)."""
        key = (c.kind, c.id)
        derived = c.op == "updated" and (
            c.id == "system_stats"  # every field of it is derived
            or (
                c.kind in ("image", "volume", "network")
                and c.patch is not None
                and all(str(op.get("path", "")).startswith(_DERIVED_PATHS) for op in c.patch)
            )
        )
        count = self._patches.get(key, 0)
        if not derived or count >= _WHOLE_EVERY:
            self._patches.pop(key, None)
            return False
        self._patches[key] = count + 1
        return True

    def fail(self, err: BaseException) -> None:
        """Stop recording for good and mark the file invalid (the next run starts a new
        epoch); logged once."""
        if self.failed is not None:
            return
        self.failed = str(err) or type(err).__name__
        log.error("the history database failed (%s); changes are no longer saved", err)
        try:
            with self._db:
                self._set_meta(valid=0)
        except sqlite3.Error:
            log.error("the history database could not be marked invalid either")

    def prune(self, *, step: int | None = None) -> int:
        """Drop the oldest whole batches beyond the retention limits, at most about ``step``
        changes of them if given (at least one batch); return how many changes.

        The objects as of the new oldest version move to ``base`` first.
        """
        db = self._db
        newest = db.execute("SELECT max(v) FROM changes").fetchone()[0]
        if newest is None:
            return 0
        cut = newest - self.retain_changes
        aged = db.execute(
            "SELECT max(v) FROM changes WHERE at < ?", (self._clock() - self.retain_seconds,)
        ).fetchone()[0]
        cut = max(cut, aged or 0)
        if step is not None:
            cut = min(cut, self.oldest + step)
        # Never inside a batch: stop at the start of the batch that holds the cut, or, when
        # that is where pruning starts (one batch larger than a step), at its end.
        straddling = db.execute("SELECT batch FROM changes WHERE v = ?", (cut + 1,)).fetchone()
        if straddling is not None and straddling[0] < cut:
            if straddling[0] > self.oldest or step is None:
                cut = straddling[0]
            else:
                (cut,) = db.execute(
                    "SELECT max(v) FROM changes WHERE batch = ?", (straddling[0],)
                ).fetchone()
        if cut <= self.oldest:
            return 0
        try:
            with db:
                dropped: int = self._prune_to(cut)
        except sqlite3.Error as err:
            self.fail(err)
            return 0
        self._count -= dropped
        self._oldest = cut
        return dropped

    def _prune_to(self, cut: int) -> int:
        db = self._db
        # Each object changed up to the cut goes into base as it was at the cut.
        keys = db.execute("SELECT DISTINCT kind, id FROM changes WHERE v <= ?", (cut,)).fetchall()
        for kind, key in keys:
            obj = self._object_at(kind, key, cut)
            if obj is None:
                db.execute("DELETE FROM base WHERE kind = ? AND id = ?", (kind, key))
                continue
            text = obj.model_dump_json()
            db.execute("INSERT OR REPLACE INTO base VALUES (?, ?, ?)", (kind, key, text))
            later = db.execute(
                "SELECT 1 FROM changes WHERE kind = ? AND id = ? AND v > ? LIMIT 1",
                (kind, key, cut),
            ).fetchone()
            if later is None:  # its patches are going: current takes it whole, rev and all
                db.execute("INSERT OR REPLACE INTO current VALUES (?, ?, ?)", (kind, key, text))
        dropped = db.execute("DELETE FROM changes WHERE v <= ?", (cut,)).rowcount
        self._set_meta(oldest=cut)
        return dropped

    # -- reading ---------------------------------------------------------------------------

    def since(self, version: int, until: int) -> list[Change]:
        """Every change in ``(version, until]``, oldest first, with ``obj`` and ``prev``.

        Raises:
            VersionExpired: ``version`` is older than :attr:`oldest`, more than
                ``MAX_REPLAY`` changes ago, or the log failed.
        """
        oldest = self.oldest
        if version < oldest or self.failed is not None or until - version > MAX_REPLAY:
            raise VersionExpired(version, oldest, until)
        with self._reading:
            db = self._reader
            # One read transaction: a consistent view of the file, whatever the writer does.
            db.execute("BEGIN")
            try:
                oldest = self._read_oldest(db)
                if version < oldest:  # pruned since the check above
                    raise VersionExpired(version, oldest, until)
                return self._since(db, version, until)
            finally:
                db.execute("COMMIT")

    def _since(self, db: sqlite3.Connection, version: int, until: int) -> list[Change]:
        rows = db.execute(
            "SELECT v, kind, id, op, obj, patch, cause FROM changes WHERE v > ? AND v <= ? "
            "ORDER BY v",
            (version, until),
        ).fetchall()
        latest: dict[tuple[str, str], Entity | None] = {}
        changes = []
        for v, kind, key, op, obj_text, patch, cause in rows:
            if (kind, key) in latest:
                prev = latest[(kind, key)]
            else:
                prev = None if op == "created" else self._object_at(kind, key, version, db)
            if obj_text is not None:
                obj: Entity | None = entity_from_json(kind, key, obj_text)
            elif op == "updated":
                obj = _patched(kind, key, prev, patch)
            else:
                obj = None
            latest[(kind, key)] = obj
            changes.append(
                Change(
                    v,
                    kind,
                    op,
                    key,
                    obj,
                    json.loads(patch) if patch is not None else None,
                    _cause(cause),
                    prev,
                )
            )
        return changes

    def _object_at(
        self, kind: Kind, key: str, version: int, db: sqlite3.Connection | None = None
    ) -> Entity | None:
        """The object as it was at ``version`` (at least :attr:`oldest`): its last whole
        write up to then (or ``base``), with the patches stored after it applied; read on
        ``db`` (default: the writing connection)."""
        db = db or self._db
        row = db.execute(
            "SELECT v, obj FROM changes WHERE kind = ? AND id = ? AND v <= ? "
            "AND (obj IS NOT NULL OR op = 'removed') ORDER BY v DESC LIMIT 1",
            (kind, key, version),
        ).fetchone()
        if row is not None:
            start, text = row
        else:
            start = self._read_oldest(db)
            found = db.execute(
                "SELECT obj FROM base WHERE kind = ? AND id = ?", (kind, key)
            ).fetchone()
            text = found[0] if found else None
        obj = entity_from_json(kind, key, text) if text is not None else None
        for (patch,) in db.execute(
            "SELECT patch FROM changes WHERE kind = ? AND id = ? AND v > ? AND v <= ? "
            "AND obj IS NULL AND op = 'updated' ORDER BY v",
            (kind, key, start, version),
        ):
            obj = _patched(kind, key, obj, patch)
        return obj

    def count(self) -> int:
        """How many changes are on disk."""
        return int(self._count)

    # -- meta ------------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta"))

    def _set_meta(self, **values: object) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )


def _patched(kind: str, key: str, obj: Entity | None, patch: str) -> Entity:
    """``obj`` with a stored JSON Patch applied."""
    if obj is None:
        raise sqlite3.DatabaseError(f"the history has a patch for {kind} {key} but no object")
    doc = jsonpatch.apply_patch(obj.model_dump(mode="json"), json.loads(patch), in_place=True)
    return entity_from_json(kind, key, json.dumps(doc))


def _cause(text: str | None) -> Cause | None:
    if text is None:
        return None
    raw = json.loads(text)
    return Cause(raw["type"], raw["action"], raw.get("time_nano"))
