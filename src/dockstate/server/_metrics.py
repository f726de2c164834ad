"""``GET /metrics``: Prometheus text format, from a registry of the app's own.

Most values are read live from the counters the server keeps anyway (the hub, the watcher's
stats, the state's version, the engine client's request counts) by a custom collector, so
nothing is counted twice. Only the event-to-send latency is a histogram of ours, fed through
``ServerContext.observers``. Nothing here exposes tokens, environment variables or labels that
a client chose.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Depends, FastAPI, Response
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..store import Store
from ._context import ServerContext
from ._rest import authenticated, problem_responses

__all__ = ["Metrics", "install_metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The metrics of one app: its registry, the latency histogram, and the live collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "dockstate_event_to_send_seconds",
            "Seconds from a Docker event (its timeNano) to the send of the first WebSocket "
            "message carrying a change it caused.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._ctx: ServerContext | None = None
        self.registry.register(self)

    def attach(self, ctx: ServerContext) -> None:
        """Read from ``ctx`` from now on, and observe its latencies."""
        self._ctx = ctx
        ctx.observers.append(self.latency.observe)

    def detach(self) -> None:
        self._ctx = None

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterable[Metric]:
        """The live values (nothing until the lifespan has started)."""
        ctx = self._ctx
        if ctx is None:
            return
        stats = ctx.watcher.stats
        yield GaugeMetricFamily(
            "dockstate_clients_connected",
            "WebSocket clients past their hello.",
            value=ctx.hub.connections,
        )
        yield GaugeMetricFamily(
            "dockstate_websockets_open",
            "WebSocket connections open, past their hello or not (at most --max-connections).",
            value=len(ctx.connections),
        )
        yield CounterMetricFamily(
            "dockstate_websockets_refused",
            "WebSocket upgrades refused because --max-connections were open.",
            value=ctx.refused_connections,
        )
        yield GaugeMetricFamily(
            "dockstate_engine_connected",
            "1 while the server's link to the Docker engine is up, else 0.",
            value=1 if ctx.state.engine_info.status == "connected" else 0,
        )
        yield CounterMetricFamily(
            "dockstate_docker_events",
            "Docker events received (including duplicates and ignored ones).",
            value=stats.events_received,
        )
        yield CounterMetricFamily(
            "dockstate_changes_committed",
            "Changes committed to the state (the state version).",
            value=ctx.state.version,
        )
        yield CounterMetricFamily(
            "dockstate_reconcile_repairs",
            "Objects a reconciliation repaired because the event stream missed their change.",
            value=stats.repairs,
        )
        yield CounterMetricFamily(
            "dockstate_reconciliations",
            "Periodic reconciliations run.",
            value=stats.reconciliations,
        )
        yield CounterMetricFamily(
            "dockstate_engine_disconnects",
            "Times the link to the Docker engine was lost.",
            value=stats.disconnects,
        )
        requests = CounterMetricFamily(
            "dockstate_docker_api_requests",
            "Docker Engine API calls made, by endpoint.",
            labels=["endpoint"],
        )
        for endpoint, count in sorted(ctx.docker.requests.items()):
            requests.add_metric([endpoint], count)
        yield requests
        if ctx.store is not None:
            yield from _history_metrics(ctx.store)


def _history_metrics(store: Store) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "dockstate_history_changes",
        "Changes kept in the history database (clients can resume across them).",
        value=store.changes.count(),
    )
    yield GaugeMetricFamily(
        "dockstate_history_events",
        "Raw Docker events kept in the history database.",
        value=store.events.count(),
    )
    yield GaugeMetricFamily(
        "dockstate_history_ok",
        "1 while the history database is being written, 0 after a write failed.",
        value=0 if store.changes.failed or store.events.failed else 1,
    )


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """Add ``GET /metrics`` (authenticated) to ``app``."""

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        dependencies=[Depends(authenticated)],
        responses={
            200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "The metrics."},
            **problem_responses(401),
        },
    )
    async def get_metrics() -> Response:
        """The server's metrics in Prometheus text format."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
