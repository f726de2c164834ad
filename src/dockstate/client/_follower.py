"""The I/O-free bookkeeping of a watch: :class:`Follower` turns server messages into a state
and tells the connection what to answer (:class:`Step`), counting in :class:`WatchStats`."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonpatch

from ..errors import ProtocolError, UnknownEngine
from ..state import MAP_OF_KIND, apply_change

__all__ = ["Follower", "Step", "WatchStats"]

logger = logging.getLogger("dockstate.client")


class Step(enum.Enum):
    """What the connection must do after :meth:`Follower.handle`."""

    NOTHING = "nothing"
    """Nothing: the message changed no state (bookmark, dropped, unknown)."""
    STATE = "state"
    """Hand out :attr:`Follower.state`: a snapshot or a batch of changes was applied."""
    RESYNC = "resync"
    """Send ``{"type":"resync","id":sub}``: a gap was found; the state waits for a snapshot."""


@dataclass
class WatchStats:
    """Counters of one watch, for tests, logs and the curious."""

    connections: int = 0
    """Connections that reached ``welcome``."""
    resumes: int = 0
    """Subscriptions sent with ``since`` (attempts to resume without a snapshot)."""
    snapshots: int = 0
    batches: int = 0
    """``changes`` messages applied."""
    bookmarks: int = 0
    gaps: int = 0
    """Times a ``changes`` message did not chain (or did not apply) and a resync was sent."""
    resyncs_required: int = 0
    """``resync_required`` messages received."""


class Follower:
    """The state of one ``changes`` subscription, kept up to date from server messages.

    No I/O: the connection feeds every server message to :meth:`handle` and does what it
    returns. Contracts:

    - :attr:`state` is the protocol EngineState (§1) at version :attr:`applied`, or ``None``
      before the first snapshot. A dict once handed out is never mutated by the follower: each
      snapshot or batch makes a new top-level dict (and new maps for the kinds it touches),
      while unchanged entity objects are shared between successive states. Callers must not
      mutate what they get.
    - :attr:`version` is how far the subscription has been delivered: :attr:`applied` raised
      by bookmarks. A resume asks for the changes after it (:meth:`since`).
    - A ``changes`` message is applied only when it chains: same epoch, and
      ``applied <= from <= version <= to`` (``from == applied`` without bookmarks). Otherwise,
      or when a change does not apply to the state held, it is a gap: :meth:`handle` returns
      :attr:`Step.RESYNC` and every ``changes`` and ``bookmark`` is dropped until the next
      snapshot.
    - After ``resync_required`` everything is dropped until the snapshot that follows it.
    """

    def __init__(self, sub: str = "s1") -> None:
        self.sub = sub
        self.state: dict[str, Any] | None = None
        self.epoch: str | None = None
        self.applied: int | None = None
        self.version: int | None = None
        self.awaiting_snapshot = True
        #: The snapshot or changes message behind the current :attr:`state`.
        self.last_message: dict[str, Any] | None = None
        self.stats = WatchStats()
        # False once a change failed to apply: the state held may not be the server's at any
        # version, so a resume must not start from it.
        self._trusted = False

    def since(self) -> dict[str, Any] | None:
        """Where to resume (``{"epoch","version"}``), or ``None`` to ask for a snapshot."""
        if self.state is None or not self._trusted or self.epoch is None or self.version is None:
            return None
        return {"epoch": self.epoch, "version": self.version}

    def subscribe_message(self, filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``subscribe`` to send on a new connection: with ``since`` when resuming."""
        message: dict[str, Any] = {"type": "subscribe", "id": self.sub, "mode": "changes"}
        if filter is not None:
            message["filter"] = dict(filter)
        since = self.since()
        if since is not None:
            message["since"] = since
            self.stats.resumes += 1
        self.awaiting_snapshot = since is None
        return message

    def resync_message(self) -> dict[str, Any]:
        """The ``resync`` to send when :meth:`handle` returns :attr:`Step.RESYNC`."""
        return {"type": "resync", "id": self.sub}

    def handle(self, message: Mapping[str, Any]) -> Step:
        """Take one server message (after ``welcome``); return what the connection must do.

        Messages of other subscriptions, ``pong``, and unknown types are ignored.

        Raises:
            ProtocolError: a malformed snapshot, or an ``error`` saying that this client sent
                something wrong (any code but ``RATE_LIMITED``).
        """
        kind = message.get("type")
        if kind == "error":
            return self._on_error(message)
        if message.get("sub") != self.sub:
            return Step.NOTHING
        if kind == "snapshot":
            return self._on_snapshot(message)
        if kind == "changes":
            return self._on_changes(message)
        if kind == "bookmark":
            return self._on_bookmark(message)
        if kind == "resync_required":
            self.stats.resyncs_required += 1
            self.awaiting_snapshot = True
            logger.info(
                "resync required (%s, oldest %s, current %s)",
                message.get("code"),
                message.get("oldest"),
                message.get("current"),
            )
        return Step.NOTHING

    def _on_snapshot(self, message: Mapping[str, Any]) -> Step:
        state, epoch, version = message.get("state"), message.get("epoch"), message.get("version")
        if (
            not isinstance(state, dict)
            or not isinstance(epoch, str)
            or not isinstance(version, int)
            or not all(isinstance(state.get(name), dict) for name in MAP_OF_KIND.values())
        ):
            raise ProtocolError("the server sent a malformed snapshot")
        self.state, self.epoch = state, epoch
        self.applied = self.version = version
        self.awaiting_snapshot, self._trusted = False, True
        self.last_message = dict(message)
        self.stats.snapshots += 1
        return Step.STATE

    def _on_changes(self, message: Mapping[str, Any]) -> Step:
        if self.awaiting_snapshot:
            return Step.NOTHING
        if not self._chains(message):
            return self._gap("changes from %s to %s do not follow version %s", message)
        try:
            self.state = self._applied_to_copy(message)
        except (KeyError, IndexError, TypeError, ValueError, jsonpatch.JsonPatchException) as exc:
            self._trusted = False
            return self._gap(f"changes from %s to %s do not apply at version %s ({exc!r})", message)
        self.applied = self.version = message["to"]
        self.last_message = dict(message)
        self.stats.batches += 1
        return Step.STATE

    def _chains(self, message: Mapping[str, Any]) -> bool:
        start, end = message.get("from"), message.get("to")
        return (
            self.state is not None
            and self.applied is not None
            and self.version is not None
            and message.get("epoch") == self.epoch
            and isinstance(start, int)
            and isinstance(end, int)
            and self.applied <= start <= self.version <= end
        )

    def _applied_to_copy(self, message: Mapping[str, Any]) -> dict[str, Any]:
        # Copy-on-write: a new top level and new maps for the touched kinds; apply_change
        # replaces entity objects instead of mutating them, so earlier states stay intact.
        assert self.state is not None
        changes = message["changes"]
        state = dict(self.state)
        for name in {MAP_OF_KIND[c["kind"]] for c in changes if c["kind"] in MAP_OF_KIND}:
            state[name] = dict(state[name])
        for change in changes:
            apply_change(state, change)
        state["version"] = message["to"]
        state["last_updated"] = message.get("timestamp", state.get("last_updated"))
        return state

    def _on_bookmark(self, message: Mapping[str, Any]) -> Step:
        if self.awaiting_snapshot:
            return Step.NOTHING
        version = message.get("version")
        if message.get("epoch") != self.epoch or not isinstance(version, int):
            return self._gap("bookmark at %s%s after version %s", message)
        self.stats.bookmarks += 1
        if self.version is not None and version > self.version:
            self.version = version
        return Step.NOTHING

    def _gap(self, why: str, message: Mapping[str, Any]) -> Step:
        first = message.get("from", message.get("version"))
        second = message.get("to", "")
        logger.info("gap: " + why + "; resyncing", first, second, self.applied)
        self.stats.gaps += 1
        self.awaiting_snapshot = True
        return Step.RESYNC

    def _on_error(self, message: Mapping[str, Any]) -> Step:
        code, text = message.get("code"), message.get("message", "")
        if code == "RATE_LIMITED":
            logger.warning("the server rate-limits this client: %s", text)
            return Step.NOTHING
        if code == "UNKNOWN_ENGINE":
            raise UnknownEngine(f"the server has {text}")
        raise ProtocolError(f"the server refused a message ({code}): {text}")
