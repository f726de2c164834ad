"""Reading the changes a client missed without stalling everyone else."""

from __future__ import annotations

import asyncio

from ..errors import VersionExpired, VersionTooNew
from ..state import Change, EngineState

__all__ = ["changes_since"]


async def changes_since(state: EngineState, version: int) -> list[Change]:
    """Every change after ``version`` up to the state's version when this returns.

    What the in-memory history holds is taken on the event loop; what only the archive (the
    history database) holds is read in a worker thread, on the archive's own connection, so
    that a resume from far back never stalls the other clients or the watcher. Batches
    committed while the thread reads are taken afterwards, with no await in between: the
    caller registers the result before any later batch is published.

    Raises:
        VersionExpired: ``version`` is older than anything kept.
        VersionTooNew: ``version`` is newer than the state's.
    """
    if version > state.version:
        raise VersionTooNew(version, state.oldest, state.version)
    older: list[Change] = []
    start = version
    while start < state.recent_oldest:
        archive = state.archive
        if archive is None:
            raise VersionExpired(version, state.oldest, state.version)
        until = state.version
        try:
            older += await asyncio.to_thread(archive.since, start, until)
        except VersionExpired:
            raise VersionExpired(version, state.oldest, state.version) from None
        start = until
    return older + state.recent_since(start)
