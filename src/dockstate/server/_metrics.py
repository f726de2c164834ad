"""``GET /metrics``: Prometheus text format, from a registry of the app's own.

Most values are read live from the counters the server keeps anyway (the hub, the watcher's
stats, the state's version, the engine client's request counts) by a custom collector, so
nothing is counted twice. Only the event-to-send latency is a histogram of ours, fed through
``ServerContext.observers``. Every value about an engine carries its ``engine`` label
(protocol.md §8), also when there is only one. Nothing here exposes tokens, environment
variables or labels that a client chose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from fastapi import Depends, FastAPI, Response
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..stats import ContainerStats
from ..store import Store
from ._context import ServerContext
from ._engines import Engine
from ._rest import authorized, problem_responses

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
            labelnames=["engine"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._ctx: ServerContext | None = None
        self.registry.register(self)

    def attach(self, ctx: ServerContext) -> None:
        """Read from ``ctx`` from now on, and observe its latencies."""
        self._ctx = ctx
        ctx.observers.append(self._observe)
        for engine in ctx.engines:
            self.latency.labels(engine)  # every engine's histogram shown from the start

    def _observe(self, engine: str, seconds: float) -> None:
        self.latency.labels(engine).observe(seconds)

    def detach(self) -> None:
        self._ctx = None

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterable[Metric]:
        """The live values (nothing until the lifespan has started)."""
        ctx = self._ctx
        if ctx is None:
            return
        yield GaugeMetricFamily(
            "dockstate_clients_connected",
            "WebSocket clients past their hello.",
            value=sum(1 for c in ctx.connections if c.welcomed),
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
        engines = list(ctx.engines.values())
        families = [_engine_metrics(e) for e in engines]
        families += [_stats_metrics(e) for e in engines]
        families += [_history_metrics(e.id, e.store) for e in engines if e.store is not None]
        yield from _merged(families)


def _merged(families: list[Iterable[Metric]]) -> Iterable[Metric]:
    """One family per name, holding the samples of every engine's family of that name."""
    merged: dict[str, Metric] = {}
    for family in (f for group in families for f in group):
        if family.name in merged:
            merged[family.name].samples.extend(family.samples)
        else:
            merged[family.name] = family
    return merged.values()


def _gauge(name: str, text: str, engine: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=["engine"])
    family.add_metric([engine], value)
    return family


def _counter(name: str, text: str, engine: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=["engine"])
    family.add_metric([engine], value)
    return family


def _engine_metrics(engine: Engine) -> Iterable[Metric]:
    stats, eid = engine.watcher.stats, engine.id
    yield _gauge(
        "dockstate_engine_connected",
        "1 while the server's link to the Docker engine is up, else 0.",
        eid,
        1 if engine.state.engine_info.status == "connected" else 0,
    )
    yield _counter(
        "dockstate_docker_events",
        "Docker events received (including duplicates and ignored ones).",
        eid,
        stats.events_received,
    )
    yield _counter(
        "dockstate_changes_committed",
        "Changes committed to the state (the state version).",
        eid,
        engine.state.version,
    )
    yield _counter(
        "dockstate_reconcile_repairs",
        "Objects a reconciliation repaired because the event stream lost their change (no "
        "event about them was in flight).",
        eid,
        stats.repairs,
    )
    yield _counter(
        "dockstate_reconcile_skipped",
        "Objects a reconciliation found different but left to an event about them still "
        "in flight (not repairs: the stream had not lost them).",
        eid,
        stats.reconcile_skipped,
    )
    yield _counter(
        "dockstate_reconciliations", "Periodic reconciliations run.", eid, stats.reconciliations
    )
    yield _counter(
        "dockstate_engine_disconnects",
        "Times the link to the Docker engine was lost.",
        eid,
        stats.disconnects,
    )
    failures = CounterMetricFamily(
        "dockstate_pipeline_failures",
        "Committed batches a stage of the commit pipeline failed (record: the history "
        "stopped saving; publish: every subscription was made to resync).",
        labels=["engine", "stage"],
    )
    failures.add_metric([eid, "record"], engine.pipeline.record_failures)
    failures.add_metric([eid, "publish"], engine.pipeline.publish_failures)
    yield failures
    restarts = CounterMetricFamily(
        "dockstate_task_restarts",
        "Times a background task failed (or ended) and was restarted.",
        labels=["engine", "task"],
    )
    for task, count in sorted(engine.tasks.restarts.items()):
        restarts.add_metric([eid, task], count)
    yield restarts
    requests = CounterMetricFamily(
        "dockstate_docker_api_requests",
        "Docker Engine API calls made, by endpoint.",
        labels=["engine", "endpoint"],
    )
    for endpoint, count in sorted(engine.docker.requests.items()):
        requests.add_metric([eid, endpoint], count)
    yield requests


def _stats_metrics(engine: Engine) -> Iterable[Metric]:
    sampler, eid = engine.sampler, engine.id
    yield _gauge(
        "dockstate_stats_subscriptions",
        "Open stats subscriptions (the sampler reads nothing while there are none).",
        eid,
        sampler.demand,
    )
    yield _counter(
        "dockstate_stats_reads",
        "Readings of every sampled container taken by the sampler.",
        eid,
        sampler.stats.ticks,
    )
    yield _counter(
        "dockstate_stats_read_seconds",
        "Seconds the sampler spent reading (its own cost).",
        eid,
        sampler.stats.read_seconds,
    )
    yield _gauge(
        "dockstate_stats_containers",
        "Containers read by the last sampling.",
        eid,
        sampler.stats.last_containers,
    )
    latest = sampler.latest
    if not engine.config.metrics_per_container or latest is None:
        return
    names = {cid: c.name for cid, c in engine.state.containers.items()}
    gauges = {
        field: GaugeMetricFamily(
            f"dockstate_container_{field}",
            f"The container's {field.replace('_', ' ')} in the latest sample (§9).",
            labels=["engine", "id", "name"],
        )
        for field in (f.name for f in dataclasses.fields(ContainerStats))
    }
    for cid, sample in sorted(latest[1].items()):
        values = sample.as_dict()
        for field, gauge in gauges.items():
            gauge.add_metric([eid, cid[:12], names.get(cid, "")], values[field])
    yield from gauges.values()


def _history_metrics(eid: str, store: Store) -> Iterable[Metric]:
    yield _gauge(
        "dockstate_history_changes",
        "Changes kept in the history database (clients can resume across them).",
        eid,
        store.changes.count(),
    )
    yield _gauge(
        "dockstate_history_events",
        "Raw Docker events kept in the history database.",
        eid,
        store.events.count(),
    )
    yield _gauge(
        "dockstate_history_ok",
        "1 while the history database is being written, 0 after a write failed.",
        eid,
        0 if store.changes.failed or store.events.failed else 1,
    )


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """Add ``GET /metrics`` (authenticated) to ``app``."""

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        dependencies=[Depends(authorized)],
        responses={
            200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "The metrics."},
            **problem_responses(401),
        },
    )
    async def get_metrics() -> Response:
        """The server's metrics in Prometheus text format."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
