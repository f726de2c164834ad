"""The SQLite file behind the store: opening it, its schema, and the lock that keeps it ours."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from typing import IO

from ..errors import StoreError

__all__ = ["SCHEMA_VERSION", "Checkpointer", "StoreError", "open_db", "open_reader"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    v INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL,      -- the from-version of the batch the change belongs to
    at REAL NOT NULL,            -- commit time, seconds since the Unix epoch (for retention)
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    op TEXT NOT NULL,
    obj TEXT,                    -- the object after the change, NULL when removed
    patch TEXT,
    cause TEXT
);
CREATE INDEX IF NOT EXISTS changes_by_object ON changes (kind, id, v);
CREATE TABLE IF NOT EXISTS current (
    kind TEXT NOT NULL, id TEXT NOT NULL, obj TEXT NOT NULL, PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS base (
    kind TEXT NOT NULL, id TEXT NOT NULL, obj TEXT NOT NULL, PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    time_nano INTEGER NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    actor TEXT NOT NULL,
    container TEXT,              -- the container a network or volume event concerns
    attributes TEXT NOT NULL,
    UNIQUE (time_nano, type, action, actor)
);
CREATE INDEX IF NOT EXISTS events_by_actor ON events (type, actor, time_nano);
CREATE INDEX IF NOT EXISTS events_by_container ON events (container, time_nano)
    WHERE container IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_by_time ON events (time_nano);
"""


def open_db(path: Path) -> tuple[sqlite3.Connection, IO[bytes]]:
    """Open (creating if needed) the database at ``path`` and lock it for this process.

    Returns the connection and the open lock file (closing it releases the lock).

    Raises:
        StoreError: another process holds the lock, or the file is not a usable database.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = open(path.with_name(path.name + ".lock"), "wb")  # noqa: SIM115 (held open)
    except OSError as err:
        raise StoreError(f"cannot open the history database {path}: {err}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise StoreError(
            f"the history database {path} is in use by another dockstate "
            "(give this one its own with --db, or --no-db)"
        ) from None
    try:
        db = sqlite3.connect(path, check_same_thread=False)
        os.chmod(path, 0o600)  # it holds the engine's state: no one else's business
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # a killed process loses nothing committed
        # Checkpoints (which fsync) run on a thread of their own, never in a commit of the
        # event loop's: see Checkpointer.
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.executescript(_SCHEMA)
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found not in (0, SCHEMA_VERSION):
            db.close()
            raise StoreError(
                f"the history database {path} has schema {found}, this dockstate knows "
                f"{SCHEMA_VERSION}: move it away to start a new history"
            )
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.Error as err:
        with contextlib.suppress(Exception):
            lock.close()
        raise StoreError(f"cannot use the history database {path}: {err}") from None
    except StoreError:
        lock.close()
        raise
    return db, lock


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to the database at ``path`` (opened by :func:`open_db`), usable
    from any thread (one at a time).

    Raises:
        StoreError: the file cannot be opened.
    """
    try:
        db = sqlite3.connect(path, check_same_thread=False)
        db.execute("PRAGMA query_only = ON")
    except sqlite3.Error as err:
        raise StoreError(f"cannot read the history database {path}: {err}") from None
    return db


class Checkpointer:
    """Copies the write-ahead log into the database every ``period`` seconds, on a thread of
    its own with a connection of its own, so that the fsync it takes never blocks a commit."""

    def __init__(self, path: Path, period: float = 2.0) -> None:
        self._path = path
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dockstate-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self._path)
        try:
            while not self._stop.wait(self._period):
                with contextlib.suppress(sqlite3.Error):  # busy now: the next turn will do
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def stop(self) -> None:
        """Stop the thread (the last checkpoint is the closing connection's)."""
        self._stop.set()
        self._thread.join()
