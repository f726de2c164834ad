"""Docker events: parsing, deduplication, and what each one asks the watcher to re-read."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..state import Cause

__all__ = [
    "RELISTS",
    "DockerEvent",
    "EventDeduper",
    "Target",
    "TargetKind",
    "format_since",
    "targets_of",
]

TargetKind = Literal[
    "container", "volume", "network", "engine", "containers", "images", "volumes", "networks"
]
#: Something the watcher re-reads: one container, volume or network (by id), the engine's
#: info, or a whole kind (plural; the id is empty). Images are always relisted whole: one
#: call, and tag/untag events name the image in ways that a single inspect cannot settle.
#: Prunes are relisted whole too: some engines send no per-object event for what they prune.
Target = tuple[TargetKind, str]
RELISTS: tuple[TargetKind, ...] = ("containers", "images", "volumes", "networks")
_PLURAL: dict[str, TargetKind] = {
    "container": "containers",
    "image": "images",
    "volume": "volumes",
    "network": "networks",
}

# Container actions that change nothing dockstate shows. Health checks alone produce three
# exec_* events per probe, so dropping them matters.
_IGNORED_CONTAINER_ACTIONS = frozenset(
    {
        "exec_create",
        "exec_start",
        "exec_die",
        "exec_detach",
        "attach",
        "detach",
        "resize",
        "top",
        "export",
        "copy",
        "archive-path",
        "extract-to-dir",
    }
)


@dataclass(frozen=True, slots=True)
class DockerEvent:
    """One event of ``GET /events``, normalized.

    ``action`` is cut at its first colon (``health_status: healthy`` -> ``health_status``,
    with ``healthy`` in ``detail``).
    """

    type: str
    action: str
    detail: str
    actor_id: str
    attributes: Mapping[str, str]
    time_nano: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DockerEvent:
        actor = raw.get("Actor") or {}
        action, _, detail = str(raw.get("Action") or raw.get("status") or "").partition(":")
        time_nano = raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000
        return cls(
            type=str(raw.get("Type") or "container"),
            action=action.strip(),
            detail=detail.strip(),
            actor_id=str(actor.get("ID") or raw.get("id") or ""),
            attributes=dict(actor.get("Attributes") or {}),
            time_nano=int(time_nano),
        )

    @property
    def key(self) -> tuple[int, str, str, str]:
        """Identifies the event, to drop the copies a resume with ``since`` replays."""
        return (self.time_nano, self.type, self.action, self.actor_id)

    @property
    def cause(self) -> Cause:
        return Cause(self.type, self.action, self.time_nano)


def targets_of(event: DockerEvent) -> set[Target]:
    """What must be re-read after ``event``; empty for events that change nothing shown."""
    kind, action, attrs = event.type, event.action, event.attributes
    if action == "prune" and kind in _PLURAL:
        return {(_PLURAL[kind], "")}
    if kind == "container":
        if action in _IGNORED_CONTAINER_ACTIONS or not event.actor_id:
            return set()
        targets: set[Target] = {("container", event.actor_id)}
        if action == "commit":
            targets.add(("images", ""))
        return targets
    if kind == "image":
        return {("images", "")}
    if kind in ("volume", "network"):
        targets = {("volume" if kind == "volume" else "network", event.actor_id)}
        if attrs.get("container"):
            # Connecting, disconnecting, mounting and unmounting change the container too.
            targets.add(("container", attrs["container"]))
        return {t for t in targets if t[1]}
    if kind == "daemon":
        return {("engine", "")}
    return set()


class EventDeduper:
    """Remembers the last ``size`` event keys and recognizes repeats.

    Docker's ``since`` is inclusive, so a resumed stream replays the events of the last
    instant seen.
    """

    def __init__(self, size: int = 4096) -> None:
        self._order: deque[tuple[int, str, str, str]] = deque()
        self._seen: set[tuple[int, str, str, str]] = set()
        self._size = size

    def is_new(self, event: DockerEvent) -> bool:
        """True the first time an event is seen; False for a repeat."""
        key = event.key
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True


def format_since(time_nano: int) -> str:
    """A ``since`` parameter for ``GET /events`` at ``time_nano`` (inclusive)."""
    seconds, nanos = divmod(time_nano, 1_000_000_000)
    return f"{seconds}.{nanos:09d}"
