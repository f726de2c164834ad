"""Resource usage on the wire (protocol.md §9): ``subscribe_stats`` subscriptions, latest-wins,
and the REST routes ``GET /api/v1/stats`` and ``GET /api/v1/containers/{id}/stats``.

The sampler (:mod:`dockstate.stats`) runs one loop for every subscriber and reads nothing
while nobody subscribes. Each :class:`StatsSubscription` holds one slot: the newest ``stats``
message, replaced by every sample, so that a client that does not keep up gets the latest
sample when it is ready and the server's memory per client is one message, never a queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from .. import wire
from ..errors import AmbiguousReference
from ..hub import CompiledFilter
from ..state import EngineState
from ..stats import ContainerStats, Sampler
from ..stats import Subscription as SamplerSubscription
from ._rest import Context, ProblemError, problem_responses

__all__ = ["StatsSubscription", "install_stats", "rfc3339"]


def rfc3339(seconds: float) -> str:
    """A Unix time as RFC 3339 UTC with microseconds (``...Z``)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sample_json(sample: ContainerStats) -> str:
    return json.dumps(sample.as_dict(), separators=(",", ":"))


class StatsSubscription:
    """One ``subscribe_stats`` of one connection: a slot for its latest message.

    ``wake`` is called (synchronously, from the sampler's loop) whenever the slot is filled.
    :meth:`close` ends the sampler's subscription; the connection calls it on ``unsubscribe``
    and when it ends.
    """

    def __init__(
        self,
        id: str,
        flt: CompiledFilter | None,
        interval: float,
        *,
        engine: str,
        state: EngineState,
        sampler: Sampler,
        wake: Callable[[], None],
    ) -> None:
        self.id = id
        self.filter = flt
        self.engine = engine
        self._state = state
        self._wake = wake
        #: The newest ``stats`` message not yet sent (latest wins).
        self.latest: str | None = None
        #: Messages replaced before they could be sent (the client was not keeping up).
        self.replaced = 0
        self._sub: SamplerSubscription = sampler.subscribe(
            interval, self._on_sample, wants=self._wants
        )

    def _wants(self, container_id: str) -> bool:
        flt = self.filter
        if flt is None:
            return True
        return flt.matches("container", container_id, self._state.containers.get(container_id))

    def _on_sample(self, time: float, samples: Mapping[str, ContainerStats]) -> None:
        texts = {cid: sample_json(s) for cid, s in samples.items() if self._wants(cid)}
        if self.latest is not None:
            self.replaced += 1
        self.latest = wire.stats(self.id, self.engine, rfc3339(time), texts)
        self._wake()

    def take(self) -> str | None:
        """The message to send now, if any (and forget it)."""
        text, self.latest = self.latest, None
        return text

    def close(self) -> None:
        self._sub.close()


class StatsNow(BaseModel):
    """``GET /api/v1/stats``: a fresh sample of every running container."""

    time: str = Field(description="When it was taken (RFC 3339, UTC).")
    containers: dict[str, ContainerStats]


class StatsHistory(BaseModel):
    """``GET /api/v1/containers/{id}/stats``: a container's samples, oldest first."""

    samples: list[dict[str, Any]] = Field(
        description="Each a ContainerStats with its `time` (RFC 3339): the last 10 minutes "
        "sampled while someone watched (nothing is read while no one does)."
    )


def install_stats(router: APIRouter) -> None:
    """Add the stats routes to ``router`` (mounted under ``/api/v1``)."""

    @router.get(
        "/stats",
        tags=["stats"],
        response_model=StatsNow,
        responses=problem_responses(401),
    )
    async def get_stats(ctx: Context) -> StatsNow:
        """A fresh sample of every running container (the streaming loop's latest when it
        runs, else two readings a quarter of a second apart)."""
        time, samples = await ctx.sampler.sample_now()
        return StatsNow(time=rfc3339(time), containers=dict(samples))

    @router.get(
        "/containers/{container}/stats",
        tags=["stats"],
        response_model=StatsHistory,
        responses=problem_responses(401, 404),
    )
    async def get_container_stats(
        ctx: Context, container: Annotated[str, Path(description="an id or a name")]
    ) -> StatsHistory:
        """A container's samples of the last 10 minutes, oldest first."""
        try:
            found = ctx.state.containers.get(ctx.state.container_id(container))
        except AmbiguousReference as err:
            raise ProblemError(404, str(err)) from None
        if found is None:
            raise ProblemError(404, f"no such container: {container}")
        samples = [
            {"time": rfc3339(time), **sample.as_dict()}
            for time, sample in ctx.sampler.history(found.id)
        ]
        return StatsHistory(samples=samples)
