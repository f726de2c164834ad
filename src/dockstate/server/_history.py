"""REST for the durable history: the raw Docker event timeline of any object."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ..state import ObjectKind
from ._rest import Context, ProblemError, problem_responses

__all__ = ["DockerEventRecord", "Timeline", "install_history"]


class DockerEventRecord(BaseModel):
    """One event as the Docker engine sent it (without the command line of ``exec_*``)."""

    time_nano: int = Field(description="When it happened, in nanoseconds since the Unix epoch.")
    type: str = Field(description="Docker's event type: container, image, network, volume...")
    action: str = Field(description="e.g. create, start, die, health_status, connect.")
    detail: str = Field(description="What follows the action, e.g. 'healthy'; often empty.")
    actor_id: str = Field(description="The id (or name) of the object the engine named.")
    attributes: dict[str, str] = Field(description="The event's attributes (name, exitCode...).")


class Timeline(BaseModel):
    """The events of one object, newest first, a page at a time."""

    kind: ObjectKind
    id: str
    events: list[DockerEventRecord]
    more: bool = Field(description="Older events exist: ask again with before = the last time.")


def install_history(router: APIRouter) -> None:
    """Add ``GET /api/v1/events/{kind}/{id}`` to ``router`` (mounted under ``/api/v1``)."""

    @router.get(
        "/events/{kind}/{id}",
        tags=["history"],
        responses=problem_responses(401, 422, 503),
    )
    async def get_timeline(
        ctx: Context,
        kind: ObjectKind,
        id: Annotated[str, Path(min_length=1, max_length=256)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before: Annotated[
            int | None,
            # At most SQLite's largest integer: a larger one cannot even be compared (422).
            Query(ge=0, le=2**63 - 1, description="only events before this time_nano"),
        ] = None,
    ) -> Timeline:
        """Every Docker event of one object, kept across restarts (the engine itself keeps
        only its last 256): for a container also the network and volume events that concern
        it, for an image also the events that name it by one of its tags. The object need not
        exist any more."""
        if ctx.store is None:
            raise ProblemError(503, "this server keeps no history (it was started with --no-db)")
        actors = [id]
        image = ctx.state.images.get(id) if kind == "image" else None
        if image is not None:
            actors += image.tags
        page = ctx.store.events.timeline(kind, actors, limit=limit, before=before)
        return Timeline(
            kind=kind,
            id=id,
            events=[
                DockerEventRecord(
                    time_nano=e.time_nano,
                    type=e.type,
                    action=e.action,
                    detail=e.detail,
                    actor_id=e.actor_id,
                    attributes=dict(e.attributes),
                )
                for e in page.events
            ],
            more=page.more,
        )
