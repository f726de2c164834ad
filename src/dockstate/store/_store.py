"""The Store: one engine's durable history (its change log and its raw events) in one file."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import IO

from ..state import EngineState
from ._changelog import ChangeLog
from ._db import Checkpointer, open_db, open_reader
from ._timeline import EventLog

__all__ = ["Retention", "Store"]

log = logging.getLogger(__name__)

DAY = 86_400.0


class Retention:
    """How much history to keep: at most ``changes`` changes and ``events`` events, none older
    than ``days``."""

    def __init__(self, changes: int = 100_000, events: int = 100_000, days: float = 7.0):
        if changes < 1 or events < 1 or days <= 0:
            raise ValueError("retention limits must be positive")
        self.changes, self.events, self.days = changes, events, days


class Store:
    """The durable history of the engine at ``host``, in the SQLite file at ``path``.

    Opening it locks the file for this process. :meth:`attach` restores the state the last
    run left (same epoch, same version, so clients resume exactly across a restart) and
    becomes its archive; the commit pipeline then hands every batch the state commits to
    ``changes.record`` (:mod:`dockstate.pipeline`); :attr:`events` keeps every raw Docker
    event. Retention (:meth:`prune`) is applied by whoever owns the store (the server's
    retention task), never inside a commit.

    Raises:
        StoreError: (from :meth:`open`) the file is locked by another dockstate or unusable.
    """

    def __init__(
        self,
        path: Path,
        db: sqlite3.Connection,
        reader: sqlite3.Connection,
        lock: IO[bytes],
        *,
        host: str,
        retention: Retention,
    ) -> None:
        seconds = retention.days * DAY
        self.path = path
        self.host = host
        self.changes = ChangeLog(
            db, reader=reader, retain_changes=retention.changes, retain_seconds=seconds
        )
        self.events = EventLog(
            db, retain_events=retention.events, retain_seconds=seconds, clock_ns=time.time_ns
        )
        self._db = db
        self._reader = reader
        self._lock = lock
        self._checkpointer = Checkpointer(path)

    @classmethod
    def open(cls, path: str | Path, *, host: str, retention: Retention | None = None) -> Store:
        """Open (or create) the history at ``path`` for the engine at ``host``."""
        db_path = Path(path).expanduser()
        db, lock = open_db(db_path)
        reader = open_reader(db_path)
        return cls(db_path, db, reader, lock, host=host, retention=retention or Retention())

    def attach(self, state: EngineState) -> bool:
        """Continue the saved history in the fresh ``state``, or start a new one with it.

        From then on ``state.changes_since`` reaches back into the file; the caller hands
        every committed batch to ``changes.record`` (the commit pipeline does).

        Returns:
            Whether a saved state was restored (``False``: a new epoch began).
        """
        saved = self.changes.saved()
        if saved is not None and saved.host != self.host:
            log.warning(
                "the history at %s belongs to the engine at %s, not %s: starting a new one",
                self.path,
                saved.host,
                self.host,
            )
            saved = None
        if saved is None:
            self.changes.start(
                state.epoch, state.version, state.last_updated, self.host, state.objects()
            )
        else:
            state.epoch = saved.epoch
            state.restore(saved.objects, version=saved.version, last_updated=saved.last_updated)
            log.info(
                "restored version %d of epoch %s from %s", saved.version, saved.epoch, self.path
            )
        state.archive = self.changes
        return saved is not None

    def prune(self, *, step: int | None = None) -> int:
        """Apply the retention limits now, dropping at most about ``step`` changes (whole
        batches) if given; return how many rows were dropped."""
        return self.changes.prune(step=step) + self.events.prune()

    @property
    def over_limit(self) -> bool:
        """Whether a log holds more than the retention allows (time for :meth:`prune`)."""
        return self.changes.over_limit or self.events.over_limit

    def close(self) -> None:
        """Close the file (folding the write-ahead log into it) and release its lock."""
        self._checkpointer.stop()
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._reader.close()
        self._db.close()
        self._lock.close()
