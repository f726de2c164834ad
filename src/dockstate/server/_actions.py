"""The actions of protocol.md §6: REST calls that ask the Docker engine to change something.

Every action answers within a second (protocol.md §11, see ``_operations.py``): an engine
refusal in that time keeps Docker's own message, 404 no such object, 409 conflict (other 4xx
pass through, 5xx become 502; an unreachable engine is 503); otherwise ``202 {"operation",
"accepted_at_version", "status"}`` while the engine works on, its outcome at
``GET /api/v1/operations/{id}`` and in ``operation`` messages. Its effect reaches the state
(and every client) through the event stream, like any other change. A read-only server
refuses every action with 403.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, get_args

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ..engine import ContainerAction
from ..state import Plural
from ._engines import Engine
from ._operations import Operation, OperationStatus, Reporter
from ._rest import Context, ProblemError, problem_responses

__all__ = ["Accepted", "CreateRequest", "RenameRequest", "install_actions"]

log = logging.getLogger("dockstate.server")

_T = TypeVar("_T")

#: Docker's rule for container and volume names (we apply it to networks too).
NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"


class Accepted(BaseModel):
    """The engine has accepted an action, or is still working on it; its effect arrives
    through the change stream."""

    operation: str = Field(
        description="The id of this action's operation (GET /api/v1/operations/{id})."
    )
    accepted_at_version: int = Field(
        description=(
            "The state version when the engine answered. Changes the action caused may be "
            "committed before or after it: follow the change stream, not this number, to see "
            "the effect."
        )
    )
    id: str | None = Field(
        default=None,
        description="Extension: the key of the object created (network id, volume name, "
        "container id).",
    )
    report: dict[str, Any] | None = Field(
        default=None, description="Extension: the engine's prune report (what went, bytes freed)."
    )
    status: OperationStatus = Field(
        default="done",
        description="Extension: `done` when the engine finished within the second, else "
        "`pending` (the outcome follows in `operation` messages).",
    )


class RenameRequest(BaseModel):
    """The body of ``POST /api/v1/containers/{id}/rename``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=NAME_PATTERN)


class CreateRequest(BaseModel):
    """The body of ``POST /api/v1/volumes`` and ``POST /api/v1/networks``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=NAME_PATTERN)
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extension: labels of the new object."
    )


#: The engine of an action: ``authenticated`` refuses every action of a read-only server
#: (403) before it looks for the engine.
Writer = Context


async def perform(
    ctx: Engine, action: str, target: str, call: Awaitable[_T]
) -> tuple[Accepted, _T | None]:
    """Run an engine call as an operation; return its acceptance, and its result when it
    finished within the second, or raise the problem of a refusal in that time."""
    accepted, result, _ = await perform_with(ctx, action, target, lambda _: call)
    return accepted, result


async def perform_with(
    ctx: Engine, action: str, target: str, make: Callable[[Reporter], Awaitable[_T]]
) -> tuple[Accepted, _T | None, Operation]:
    """:func:`perform` for a call that reports its progress or its target (a
    :class:`Reporter`); also return the operation as it was answered."""
    operation, result = await ctx.operations.run_with(action, target, make)
    accepted = Accepted(
        operation=operation.operation,
        accepted_at_version=ctx.state.version,
        status=operation.status,
    )
    log.info(
        "operation %s: %s %s (%s at version %d)",
        accepted.operation,
        action,
        operation.target,
        accepted.status,
        accepted.accepted_at_version,
    )
    return accepted, result, operation


async def _accept(ctx: Engine, action: str, target: str, call: Awaitable[Any]) -> Accepted:
    accepted, _ = await perform(ctx, action, target, call)
    return accepted


Grace = Annotated[
    int | None,
    Query(ge=0, description="Extension: seconds to wait before killing (Docker's `t`)."),
]
Force = Annotated[bool, Query(description="Remove even if in use (Docker's `force`).")]
Labels = Annotated[
    list[str] | None,
    Query(
        description=(
            "Extension: prune only objects with this label (`key` or `key=value`; "
            "repeatable, all must match)."
        )
    ),
]


def _container_action(action: ContainerAction) -> Callable[..., Awaitable[Accepted]]:
    if action in ("stop", "restart"):

        async def with_grace(ctx: Writer, id: str, t: Grace = None) -> Accepted:
            call = ctx.docker.container_action(id, action, grace=t)
            return await _accept(ctx, action, id, call)

        return with_grace

    async def plain(ctx: Writer, id: str) -> Accepted:
        return await _accept(ctx, action, id, ctx.docker.container_action(id, action))

    return plain


def _prune(kind: Plural) -> Callable[..., Awaitable[Accepted]]:
    async def prune(ctx: Writer, label: Labels = None) -> Accepted:
        accepted, report = await perform(
            ctx, "prune", kind, ctx.docker.prune(kind, labels=label or ())
        )
        accepted.report = report
        return accepted

    return prune


def install_actions(api: APIRouter) -> None:
    """Add the action routes to ``api`` (mounted under ``/api/v1``)."""
    router = APIRouter(
        tags=["actions"],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
    )
    route: dict[str, Any] = {
        "status_code": 202,
        "response_model": Accepted,
        "response_model_exclude_none": True,
    }

    for action in get_args(ContainerAction):
        router.add_api_route(
            f"/containers/{{id}}/{action}",
            _container_action(action),
            methods=["POST"],
            name=f"{action}_container",
            summary=f"{action.capitalize()} a container",
            description=f"`{action}` the container `id` (an id, a unique id prefix or a name).",
            **route,
        )

    @router.post("/containers/{id}/rename", **route)
    async def rename_container(ctx: Writer, id: str, body: RenameRequest) -> Accepted:
        """Rename the container ``id``."""
        call = ctx.docker.rename_container(id, body.name)
        return await _accept(ctx, "rename", id, call)

    @router.delete("/containers/{id}", **route)
    async def remove_container(ctx: Writer, id: str, force: Force = False) -> Accepted:
        """Remove the container ``id``; a running one only with ``force=true`` (else 409)."""
        call = ctx.docker.remove_container(id, force=force)
        return await _accept(ctx, "remove", id, call)

    @router.delete("/images/{id:path}", **route)
    async def remove_image(ctx: Writer, id: str, force: Force = False) -> Accepted:
        """Remove the image ``id`` (an id, or a reference such as ``repo/name:tag``, which
        only untags while other tags remain)."""
        return await _accept(ctx, "remove", id, ctx.docker.remove_image(id, force=force))

    @router.post("/volumes", **route)
    async def create_volume(ctx: Writer, body: CreateRequest) -> Accepted:
        """Create a local volume."""
        accepted = await _accept(
            ctx, "create", body.name, ctx.docker.create_volume(body.name, body.labels)
        )
        accepted.id = body.name
        return accepted

    @router.delete("/volumes/{name}", **route)
    async def remove_volume(ctx: Writer, name: str) -> Accepted:
        """Remove the volume ``name``; one in use is refused with 409."""
        return await _accept(ctx, "remove", name, ctx.docker.remove_volume(name))

    @router.post("/networks", **route)
    async def create_network(ctx: Writer, body: CreateRequest) -> Accepted:
        """Create a bridge network."""
        accepted, network_id = await perform(
            ctx, "create", body.name, ctx.docker.create_network(body.name, body.labels)
        )
        accepted.id = network_id
        return accepted

    @router.delete("/networks/{id}", **route)
    async def remove_network(ctx: Writer, id: str) -> Accepted:
        """Remove the network ``id`` (an id or a name)."""
        return await _accept(ctx, "remove", id, ctx.docker.remove_network(id))

    for kind in get_args(Plural):
        router.add_api_route(
            f"/{kind}/prune",
            _prune(kind),
            methods=["POST"],
            name=f"prune_{kind}",
            summary=f"Prune unused {kind}",
            description=(
                f"Remove every unused object of kind {kind} (for images: dangling ones), "
                f"as `docker {kind[:-1]} prune` does."
            ),
            **route,
        )

    from ._workflows import install_workflows  # it builds on this module

    install_workflows(router, route)

    @api.get(
        "/operations/{operation}",
        tags=["actions"],
        response_model=Operation,
        responses=problem_responses(401, 404),
    )
    async def get_operation(ctx: Context, operation: str) -> Operation:
        """What became of an action: ``pending``, ``done`` or ``failed`` (with the problem).
        Finished operations are forgotten after 10 minutes (then 404)."""
        found = ctx.operations.get(operation)
        if found is None:
            raise ProblemError(404, f"no operation {operation} (unknown, or forgotten)")
        return found

    api.include_router(router)
