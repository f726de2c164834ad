"""A bounded, in-memory log of committed change batches."""

from __future__ import annotations

import bisect
from collections import deque
from typing import Protocol

from ..errors import VersionExpired, VersionTooNew
from ._changes import Change, ChangeBatch

__all__ = ["Archive", "History"]


class Archive(Protocol):
    """Changes older than the in-memory history still holds, kept elsewhere (e.g. on disk).

    The core never does I/O itself: whoever gives an :class:`EngineState` an archive owns it.
    """

    @property
    def oldest(self) -> int:
        """The oldest version after which :meth:`since` can replay."""
        ...

    def since(self, version: int, until: int) -> list[Change]:
        """Every change in ``(version, until]``, oldest first, each with its ``obj`` and ``prev``.

        Raises:
            VersionExpired: ``version`` is older than :attr:`oldest`.
        """
        ...


class History:
    """The most recent change batches, at most ``limit`` changes in all.

    Whole batches are dropped from the old end, so a replay never starts inside a batch.
    A batch larger than ``limit`` on its own is still kept (until the next one arrives).
    """

    def __init__(self, limit: int, start_version: int = 0) -> None:
        if limit < 1:
            raise ValueError("history limit must be at least 1")
        self.limit = limit
        self._batches: deque[ChangeBatch] = deque()
        self._count = 0
        self._start = start_version

    def __len__(self) -> int:
        """The number of changes held."""
        return self._count

    @property
    def oldest(self) -> int:
        """The oldest version after which every change is still held."""
        return self._batches[0].from_version if self._batches else self._start

    def append(self, batch: ChangeBatch) -> None:
        """Add the newest batch, then drop the oldest ones beyond the limit."""
        self._batches.append(batch)
        self._count += len(batch.changes)
        while self._count > self.limit and len(self._batches) > 1:
            dropped = self._batches.popleft()
            self._count -= len(dropped.changes)
            self._start = dropped.to_version

    def since(self, version: int, current: int) -> list[Change]:
        """Every change after ``version``, oldest first.

        Raises:
            VersionExpired: ``version`` is older than :attr:`oldest`.
            VersionTooNew: ``version`` is newer than ``current``.
        """
        if version > current:
            raise VersionTooNew(version, self.oldest, current)
        if version < self.oldest:
            raise VersionExpired(version, self.oldest, current)
        batches = list(self._batches)
        first = bisect.bisect_right([b.to_version for b in batches], version)
        return [c for b in batches[first:] for c in b.changes if c.v > version]
