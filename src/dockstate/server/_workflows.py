"""The actions of protocol.md §11 that take a while: pull an image (with its progress per
layer), run a container (create and start, as one operation, nothing left half-made), and
act on every container of a compose project (with the outcome of each).

Each runs as an operation (``_operations.py``) whose ``progress`` tells how far it got.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from ._actions import Accepted, Grace, Writer, perform_with
from ._engines import Engine
from ._forms import PullRequest, RunRequest
from ._operations import Reporter, problem_of
from ._rest import ProblemError, problem_body

__all__ = [
    "COMPOSE_PROJECT",
    "PROJECT_CONCURRENCY",
    "LayerProgress",
    "ProjectProgress",
    "PullProgress",
    "install_workflows",
]

log = logging.getLogger("dockstate.server")

#: The label compose puts on every container of a project.
COMPOSE_PROJECT = "com.docker.compose.project"
#: Containers of one project acted on at once, at most.
PROJECT_CONCURRENCY = 4

ProjectAction = Literal["start", "stop", "restart"]
_DONE_LAYER = ("Pull complete", "Already exists")
_DOWNLOADED = ("Verifying Checksum", "Download complete")


class LayerProgress(BaseModel):
    """One layer of a pull, as the engine's stream last told of it."""

    status: str = Field(description="Docker's words: `Waiting`, `Downloading`, `Extracting`…")
    current: int | None = Field(default=None, description="Bytes done in this phase.")
    total: int | None = Field(default=None, description="Bytes of this phase.")
    fraction: float = Field(
        description="0 to 1: downloading is the first half, extracting the second."
    )


class PullProgress(BaseModel):
    """The ``progress`` of a pull's operation."""

    image: str
    status: str | None = Field(
        default=None, description="The stream's latest line about the whole image."
    )
    layers: dict[str, LayerProgress] = Field(default_factory=dict, description="By layer id.")
    fraction: float = Field(default=0.0, description="0 to 1: the layers' mean fraction.")


class ContainerOutcome(BaseModel):
    name: str
    status: Literal["pending", "done", "failed"]
    error: dict[str, Any] | None = Field(default=None, description="When failed: the problem.")


class ProjectProgress(BaseModel):
    """The ``progress`` of a project action's operation."""

    project: str
    containers: dict[str, ContainerOutcome] = Field(description="By container id.")
    done: int = 0
    failed: int = 0
    total: int = 0


def _layer_fraction(status: str, current: int | None, total: int | None) -> float:
    part = current / total if current is not None and total else 0.0
    part = min(max(part, 0.0), 1.0)
    if status in _DONE_LAYER:
        return 1.0
    if status in _DOWNLOADED:
        return 0.5
    if status == "Downloading":
        return 0.5 * part
    if status == "Extracting":
        return 0.5 + 0.5 * part
    return 0.0


class _PullTracker:
    """Folds the engine's pull stream into a :class:`PullProgress` and reports it."""

    def __init__(self, image: str, reporter: Reporter) -> None:
        self.progress = PullProgress(image=image)
        self.reporter = reporter

    def on_line(self, line: dict[str, Any]) -> None:
        status = str(line.get("status") or "")
        layer = line.get("id")
        if layer and not status.startswith("Pulling from"):
            detail = line.get("progressDetail") or {}
            current, total = detail.get("current"), detail.get("total")
            current = current if isinstance(current, int) else None
            total = total if isinstance(total, int) and total > 0 else None
            self.progress.layers[str(layer)] = LayerProgress(
                status=status,
                current=current,
                total=total,
                fraction=_layer_fraction(status, current, total),
            )
            layers = self.progress.layers.values()
            self.progress.fraction = round(sum(x.fraction for x in layers) / len(layers), 4)
        elif status:
            self.progress.status = status
        self.reporter.progress(self.progress.model_dump(mode="json"))

    def finish(self) -> None:
        self.progress.fraction = 1.0
        self.reporter.progress(self.progress.model_dump(mode="json"))


async def _run_container(ctx: Engine, body: RunRequest, reporter: Reporter) -> str:
    """Create (and start) the container; on a failed start remove it, so nothing is left."""
    docker = ctx.docker
    cid = await docker.create_container(body.engine_body(), name=body.name)
    reporter.target(cid)
    if not body.start:
        return cid
    try:
        await docker.container_action(cid, "start")
    except BaseException:
        try:
            await asyncio.shield(docker.remove_container(cid, force=True))
        except Exception as cleanup:
            log.warning("could not remove the container %s its start left: %s", cid, cleanup)
        raise
    return cid


def _project_containers(ctx: Engine, project: str) -> dict[str, str]:
    """The project's containers (from the state), id to name; 404 when it has none."""
    found = {
        c.id: c.name
        for c in ctx.state.containers.values()
        if c.labels.get(COMPOSE_PROJECT) == project
    }
    if not found:
        raise ProblemError(404, f"no containers of compose project {project}")
    return found


async def _project_action(
    ctx: Engine,
    project: str,
    action: str,
    containers: dict[str, str],
    grace: int | None,
    reporter: Reporter,
) -> ProjectProgress:
    progress = ProjectProgress(
        project=project,
        containers={
            cid: ContainerOutcome(name=name, status="pending") for cid, name in containers.items()
        },
        total=len(containers),
    )
    reporter.progress(progress.model_dump(mode="json"))
    bound = asyncio.Semaphore(PROJECT_CONCURRENCY)
    docker = ctx.docker

    async def one(cid: str) -> None:
        async with bound:
            try:
                if action == "remove":
                    await docker.container_action(cid, "stop", grace=grace)
                    await docker.remove_container(cid, force=True)
                elif action in ("stop", "restart"):
                    await docker.container_action(cid, action, grace=grace)  # type: ignore[arg-type]
                else:
                    await docker.container_action(cid, "start")
            except Exception as err:
                outcome = progress.containers[cid]
                outcome.status, outcome.error = "failed", problem_body(problem_of(err))
                progress.failed += 1
            else:
                progress.containers[cid].status = "done"
                progress.done += 1
            reporter.progress(progress.model_dump(mode="json"))

    await asyncio.gather(*(one(cid) for cid in containers))
    if progress.failed:
        failures = [
            f"{o.name}: {o.error['detail'] if o.error else 'failed'}"
            for o in progress.containers.values()
            if o.status == "failed"
        ]
        statuses = {o.error["status"] for o in progress.containers.values() if o.error}
        raise ProblemError(
            statuses.pop() if len(statuses) == 1 else 409,
            f"{progress.failed} of {progress.total} containers of project {project} failed to "
            f"{action}: " + "; ".join(failures),
            containers={cid: o.model_dump(mode="json") for cid, o in progress.containers.items()},
        )
    return progress


ProjectName = Annotated[
    str, Path(min_length=1, max_length=255, description="The compose project's name.")
]


def install_workflows(router: APIRouter, route: dict[str, Any]) -> None:
    """Add the pull, run and project routes to ``router``."""

    @router.post("/images/pull", **route)
    async def pull_image(ctx: Writer, body: PullRequest) -> Accepted:
        """Pull an image; the operation's ``progress`` follows it layer by layer."""

        async def call(reporter: Reporter) -> None:
            tracker = _PullTracker(body.image, reporter)
            await ctx.docker.pull(body.image, tracker.on_line)
            tracker.finish()

        accepted, _, _ = await perform_with(ctx, "pull", body.image, call)
        return accepted

    @router.post("/containers", **route)
    async def run_container(ctx: Writer, body: RunRequest) -> Accepted:
        """Create a container, and start it unless ``start`` is false, as one operation
        (its ``target`` becomes the new container's id). A failed start removes it."""
        named = body.name or body.image
        accepted, cid, operation = await perform_with(
            ctx, "run", named, lambda r: _run_container(ctx, body, r)
        )
        # Done: the new id; pending: the id once created (the operation's target), if yet.
        accepted.id = cid or (operation.target if operation.target != named else None)
        return accepted

    def project_route(action: str) -> Any:
        async def act(ctx: Writer, project: ProjectName, t: Grace = None) -> Accepted:
            containers = _project_containers(ctx, project)
            accepted, _, _ = await perform_with(
                ctx,
                action,
                f"projects/{project}",
                lambda r: _project_action(ctx, project, action, containers, t, r),
            )
            return accepted

        return act

    for action in ("start", "stop", "restart"):
        router.add_api_route(
            f"/projects/{{project}}/{action}",
            project_route(action),
            methods=["POST"],
            name=f"{action}_project",
            summary=f"{action.capitalize()} a compose project",
            description=(
                f"`{action}` every container labelled `{COMPOSE_PROJECT}=<project>` "
                f"(at most {PROJECT_CONCURRENCY} at once), as one operation with each "
                "container's outcome in its `progress`; `failed` if any failed."
            ),
            **route,
        )
    router.add_api_route(
        "/projects/{project}",
        project_route("remove"),
        methods=["DELETE"],
        name="remove_project",
        summary="Remove a compose project's containers",
        description=(
            f"Stop and remove every container labelled `{COMPOSE_PROJECT}=<project>`, as "
            "`docker compose down` does (its networks and volumes stay)."
        ),
        **route,
    )
