"""A fixed-size ring of one container's samples, stored by column in typed arrays.

A ``ContainerStats`` object costs ~300 bytes with its int objects; a ring of them for 10 minutes at
one second would cost ~180 kB per container. Columns of machine numbers cost 8 bytes per
field: 9 fields x 600 slots = 43.2 kB per container, allocated once.
"""

from __future__ import annotations

from array import array

from ._sample import ContainerStats

__all__ = ["SampleRing"]

_INT_FIELDS = (
    "memory_bytes",
    "memory_limit_bytes",
    "net_rx_bytes",
    "net_tx_bytes",
    "block_read_bytes",
    "block_write_bytes",
    "pids",
)


class SampleRing:
    """The last ``capacity`` samples of a container with their times (Unix seconds)."""

    __slots__ = ("_cpu", "_ints", "_next", "_size", "_time", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._time = array("d", bytes(8 * capacity))
        self._cpu = array("d", bytes(8 * capacity))
        self._ints = [array("q", bytes(8 * capacity)) for _ in _INT_FIELDS]
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, time: float, sample: ContainerStats) -> None:
        i = self._next
        self._time[i] = time
        self._cpu[i] = sample.cpu_percent
        for column, name in zip(self._ints, _INT_FIELDS, strict=True):
            column[i] = min(getattr(sample, name), 2**63 - 1)
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    @property
    def last_time(self) -> float | None:
        return self._time[(self._next - 1) % self.capacity] if self._size else None

    def _at(self, i: int) -> tuple[float, ContainerStats]:
        ints = [column[i] for column in self._ints]
        return self._time[i], ContainerStats(self._cpu[i], *ints)

    def items(self, since: float | None = None) -> list[tuple[float, ContainerStats]]:
        """The samples, oldest first, (only those after ``since``, when given)."""
        start = (self._next - self._size) % self.capacity
        out = []
        for k in range(self._size):
            i = (start + k) % self.capacity
            if since is None or self._time[i] > since:
                out.append(self._at(i))
        return out
