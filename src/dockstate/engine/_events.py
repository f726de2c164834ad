"""Docker events: parsing, deduplication, and what each one asks the watcher to re-read."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..state import KINDS, Cause, ObjectKind

__all__ = [
    "DockerEvent",
    "EventDeduper",
    "Read",
    "Relist",
    "Target",
    "format_since",
    "targets_of",
]


@dataclass(frozen=True, slots=True)
class Read:
    """Re-read one object: a container, volume or network by id (an inspect; a 404 means
    it was removed), or the engine's info (kind ``engine``, id ``engine_info``)."""

    kind: ObjectKind | Literal["engine"]
    id: str


@dataclass(frozen=True, slots=True)
class Relist:
    """Re-list a whole kind (``Relist("image")``). Images are always relisted whole: one
    call, and tag/untag events name the image in ways that a single inspect cannot settle.
    Prunes are relisted whole too: some engines send no per-object event for what they prune.
    """

    kind: ObjectKind


#: Something the watcher re-reads after an event.
Target = Read | Relist

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


# Network actions that (dis)connect a container: Docker names the network as the actor and the
# container in the attributes; Podman names the container as the actor.
_MEMBERSHIP_ACTIONS = frozenset({"connect", "disconnect"})


@dataclass(frozen=True, slots=True)
class DockerEvent:
    """One event of ``GET /events``, normalized.

    Read from ``Type``, ``Action`` and ``Actor`` (API 1.22+), falling back on the old
    ``status`` and ``id`` fields, which API 1.52 (Docker 29) no longer sends. ``action`` is cut
    at its first colon (``health_status: healthy`` -> ``health_status``,
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
    if action == "prune" and kind in KINDS:
        return {Relist(KINDS[kind].kind)}  # type: ignore[index]  # checked: a kind
    if kind == "container":
        if action in _IGNORED_CONTAINER_ACTIONS or not event.actor_id:
            return set()
        targets: set[Target] = {Read("container", event.actor_id)}
        if action == "commit":
            targets.add(Relist("image"))
        return targets
    if kind == "image":
        return {Relist("image")}
    if kind == "network" and action in _MEMBERSHIP_ACTIONS and not attrs.get("container"):
        # Podman: the actor is the container, and the network is not named at all. The
        # container's inspect names its networks (and one the state lacks is relisted).
        return {Read("container", event.actor_id)} if event.actor_id else set()
    if kind in ("volume", "network"):
        # Podman's volume events name the volume only in their attributes.
        key = event.actor_id or (attrs.get("name", "") if kind == "volume" else "")
        reads = {Read("volume" if kind == "volume" else "network", key)}
        if attrs.get("container"):
            # Connecting, disconnecting, mounting and unmounting change the container too.
            reads.add(Read("container", attrs["container"]))
        return {r for r in reads if r.id}
    if kind == "daemon":
        return {Read("engine", "engine_info")}
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
