"""Reconnection delays, one implementation for every side that reconnects.

The watcher (to the Docker engine) and the Python client (to a dockstate server) both use
:class:`Backoff`; the web UI's own (``web/src/store/backoff.ts``, the browser cannot import
this one) follows the same rule and is tested with the same cases.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Reconnection delays: exponential, capped, with jitter ("equal jitter").

    The n-th delay since the last :meth:`reset` (n from 0) lies in ``[c/2, c]`` with
    ``c = min(maximum, initial * factor**n)``, so that many clients dropped together do not
    come back together, and none waits longer than ``maximum``.

    Args:
        initial: the ceiling of the first delay, in seconds.
        maximum: the largest delay, in seconds.
        factor: how much the ceiling grows per attempt.
        rng: returns a float in ``[0, 1)``; injectable for tests.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.attempts = 0
        self._rng = rng

    def delay(self) -> float:
        """The next delay, in seconds; counts one more attempt."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        return ceiling * (0.5 + 0.5 * self._rng())

    def reset(self) -> None:
        """Start again from the first delay (after a connection that worked)."""
        self.attempts = 0
