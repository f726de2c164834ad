"""``GET /api/v1/containers/{id}``: what the container page shows beyond the state's
``Container`` (entrypoint and command apart, the restart policy, the health check and its last
results, the environment's names), read from the engine's inspect when asked.

Sanitized by construction: :func:`details_from_inspect` copies the fields named here and
nothing else, so what the engine adds never passes through unseen; the environment is reduced
to its names (``NAME`` of each ``NAME=value``), never a value.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from ..errors import AmbiguousReference, EngineAPIError, EngineUnavailable
from ._operations import problem_of
from ._rest import Context, ProblemError, problem_responses

__all__ = [
    "ContainerDetails",
    "HealthCheck",
    "HealthDetails",
    "HealthResult",
    "RestartPolicy",
    "details_from_inspect",
    "install_details",
]

_NANOS = 1_000_000_000


class RestartPolicy(BaseModel):
    name: str = Field(description="`no`, `always`, `unless-stopped` or `on-failure` (or empty).")
    maximum_retry_count: int = Field(description="For `on-failure`: restarts at most (0: no cap).")


class HealthCheck(BaseModel):
    """The container's health check, as configured (times in seconds; null: Docker's default)."""

    test: list[str] = Field(description='e.g. `["CMD-SHELL", "curl -f localhost"]`.')
    interval: float | None
    timeout: float | None
    start_period: float | None
    retries: int | None


class HealthResult(BaseModel):
    """One run of the health check (the engine keeps the last five)."""

    start: str | None
    end: str | None
    exit_code: int
    output: str = Field(description="What the check printed (the engine keeps 4 KiB of it).")


class HealthDetails(BaseModel):
    status: str = Field(description="`starting`, `healthy` or `unhealthy`.")
    failing_streak: int
    log: list[HealthResult] = Field(description="The last results, oldest first.")


class ContainerDetails(BaseModel):
    """A container as its page shows it, beyond the state's ``Container``. Its environment
    appears as variable names only (``env_names``), never a value."""

    id: str
    name: str
    entrypoint: list[str] | None = Field(description="The entrypoint (null: the image has none).")
    cmd: list[str] | None = Field(description="The command, the entrypoint's arguments.")
    working_dir: str
    user: str
    hostname: str
    tty: bool
    env_names: list[str] = Field(
        description="The names of the environment's variables, in their order; never a value."
    )
    restart_policy: RestartPolicy
    restart_count: int
    network_mode: str
    healthcheck: HealthCheck | None = Field(description="Null when it has none (or `NONE`).")
    health: HealthDetails | None = Field(description="Null without a health check.")
    rev: int | None = Field(
        description="The state's `rev` of the container when read (null: not in the state yet)."
    )


def _strings(value: Any) -> list[str] | None:
    return [str(v) for v in value] if isinstance(value, list) else None


def _seconds(nanos: Any) -> float | None:
    return nanos / _NANOS if isinstance(nanos, int) and nanos > 0 else None


def _time(value: Any) -> str | None:
    return value if isinstance(value, str) and not value.startswith("0001-01-01") else None


def _healthcheck(config: dict[str, Any]) -> HealthCheck | None:
    check = config.get("Healthcheck") or {}
    test = _strings(check.get("Test"))
    if not test or test == ["NONE"]:
        return None
    retries = check.get("Retries")
    return HealthCheck(
        test=test,
        interval=_seconds(check.get("Interval")),
        timeout=_seconds(check.get("Timeout")),
        start_period=_seconds(check.get("StartPeriod")),
        retries=retries if isinstance(retries, int) and retries > 0 else None,
    )


def _health(state: dict[str, Any]) -> HealthDetails | None:
    health = state.get("Health")
    if not isinstance(health, dict) or not health.get("Status"):
        return None
    return HealthDetails(
        status=str(health["Status"]),
        failing_streak=int(health.get("FailingStreak") or 0),
        log=[
            HealthResult(
                start=_time(run.get("Start")),
                end=_time(run.get("End")),
                exit_code=int(run.get("ExitCode", -1)),
                output=str(run.get("Output") or ""),
            )
            for run in health.get("Log") or []
        ],
    )


def details_from_inspect(data: dict[str, Any], rev: int | None) -> ContainerDetails:
    """The details of ``GET /containers/{id}/json``: the fields named here only, the
    environment reduced to its names."""
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    policy = host.get("RestartPolicy") or {}
    return ContainerDetails(
        id=str(data["Id"]),
        name=str(data.get("Name", "")).lstrip("/"),
        entrypoint=_strings(config.get("Entrypoint")),
        cmd=_strings(config.get("Cmd")),
        working_dir=str(config.get("WorkingDir") or ""),
        user=str(config.get("User") or ""),
        hostname=str(config.get("Hostname") or ""),
        tty=bool(config.get("Tty")),
        env_names=[str(item).partition("=")[0] for item in config.get("Env") or []],
        restart_policy=RestartPolicy(
            name=str(policy.get("Name") or ""),
            maximum_retry_count=int(policy.get("MaximumRetryCount") or 0),
        ),
        restart_count=int(data.get("RestartCount") or 0),
        network_mode=str(host.get("NetworkMode") or ""),
        healthcheck=_healthcheck(config),
        health=_health(data.get("State") or {}),
        rev=rev,
    )


def install_details(router: APIRouter) -> None:
    """Add ``GET /api/v1/containers/{id}`` to ``router`` (mounted under ``/api/v1``)."""

    @router.get(
        "/containers/{id}",
        tags=["state"],
        response_model=ContainerDetails,
        responses=problem_responses(401, 404, 422, 502, 503),
    )
    async def get_container(
        ctx: Context,
        id: Annotated[
            str, Path(min_length=1, max_length=256, description="an id, a prefix of one, or a name")
        ],
    ) -> ContainerDetails:
        """A container's details beyond the state's entity, read from the engine now:
        entrypoint and command, the restart policy, the health check and its last results,
        the environment's variable **names** (never a value). Ask again when the container's
        `rev` changes; nothing here changes without a change of the container, except the
        health check's results between two changes of its status."""
        try:
            data = await ctx.docker.inspect_container(ctx.state.container_id(id))
        except AmbiguousReference as err:
            raise ProblemError(404, str(err)) from None
        except (EngineAPIError, EngineUnavailable) as err:
            raise problem_of(err) from None
        if data is None:
            raise ProblemError(404, f"No such container: {id}")
        found = ctx.state.containers.get(str(data.get("Id", "")))
        return details_from_inspect(data, found.rev if found is not None else None)
