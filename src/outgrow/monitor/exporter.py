"""Prometheus exposition of the metrics, named after OpenTelemetry's database client conventions.

``db.client.operation.duration`` (seconds) becomes ``db_client_operation_duration_seconds`` with the labels
``db_system_name``, ``db_operation_name`` and ``error_type``; its buckets include 0.15 s, so the share of
statements slower than the seed's 150 ms is one PromQL expression::

    1 - sum(rate(db_client_operation_duration_seconds_bucket{le="0.15"}[5m]))
      / sum(rate(db_client_operation_duration_seconds_count[5m]))

Every figure is cumulative (what Prometheus' ``rate`` wants): read from the history when there is one, so a
multi-process application is exposed as one, else from this process's probe.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from outgrow.monitor.histogram import Histogram
from outgrow.monitor.metrics import MonitorTarget, collect_metrics
from outgrow.monitor.snapshot import MetricsSnapshot

__all__ = ["MetricsCollector", "metrics_asgi_app", "metrics_registry", "metrics_wsgi_app", "snapshot_metrics"]


class MetricsCollector(Collector):
    """A prometheus_client collector reading outgrow's metrics at each scrape."""

    def __init__(self, source: Any = None) -> None:
        self.target = source if isinstance(source, MonitorTarget) else MonitorTarget.of(source)
        self.source = source

    def collect(self) -> Iterator[Metric]:
        # A Database is passed as itself (its recorder flushes first); anything else as the target built
        # once, never a new engine per scrape.
        from outgrow.engine import Database

        source = self.source if isinstance(self.source, Database) else self.target
        yield from snapshot_metrics(collect_metrics(source, window_s=None))


def snapshot_metrics(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    """The metric families of one cumulative snapshot."""
    system = snapshot.engine
    durations = HistogramMetricFamily(
        "db_client_operation_duration_seconds", "Duration of database client operations, rows fetched included.",
        labels=["db_system_name", "db_operation_name", "error_type"], unit="seconds")
    for (operation, error), histogram in sorted(snapshot.durations.items()):
        durations.add_metric([system, operation, error], _buckets(histogram), histogram.sum)
    yield durations
    count = GaugeMetricFamily("db_client_connection_count", "Connections by state (used, idle), all processes.",
                              labels=["db_system_name", "db_client_connection_state"])
    count.add_metric([system, "used"], snapshot.connections.used)
    count.add_metric([system, "idle"], snapshot.connections.idle)
    yield count
    if snapshot.connections.pool_size is not None:
        yield GaugeMetricFamily("db_client_connection_max", "Connections the pools keep.",
                                value=snapshot.connections.pool_size)
    yield GaugeMetricFamily("db_client_connection_pending_requests", "Requests waiting for a pooled connection.",
                            value=snapshot.connections.waiting)
    wait = HistogramMetricFamily("db_client_connection_wait_time_seconds",
                                 "Time to obtain a connection from the pool.", unit="seconds")
    wait.add_metric([], _buckets(snapshot.connections.wait_histogram), snapshot.connections.wait_histogram.sum)
    yield wait
    yield _gauge("outgrow_db_size_bytes", "Database size (SQLite: page_count x page_size).", system,
                 snapshot.size_bytes)
    if snapshot.wal_bytes is not None:
        yield _gauge("outgrow_db_wal_size_bytes", "Size of SQLite's WAL file.", system, snapshot.wal_bytes)
    if snapshot.free_pages is not None:
        yield _gauge("outgrow_db_free_pages", "Pages on SQLite's freelist.", system, snapshot.free_pages)
    busy = CounterMetricFamily("outgrow_sqlite_busy_events", "Statements and BEGINs refused: database is locked.",
                               labels=["db_system_name"])
    busy.add_metric([system], snapshot.contention.busy_events)
    yield busy
    transactions = CounterMetricFamily("outgrow_db_write_transactions", "Write transactions ended.",
                                       labels=["db_system_name"])
    transactions.add_metric([system], snapshot.contention.write_transactions)
    yield transactions
    for name, doc, histogram in (
            ("outgrow_db_lock_wait_seconds", "Time BEGIN IMMEDIATE waited for the write lock.",
             snapshot.contention.lock_wait_histogram),
            ("outgrow_db_write_transaction_duration_seconds", "Write lock taken to COMMIT/ROLLBACK done.",
             snapshot.contention.write_transaction_histogram)):
        family = HistogramMetricFamily(name, doc, labels=["db_system_name"])
        family.add_metric([system], _buckets(histogram), histogram.sum)
        yield family


def _gauge(name: str, doc: str, system: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=["db_system_name"])
    gauge.add_metric([system], value)
    return gauge


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    return [(floatToGoString(bound), float(count))  # type: ignore[no-untyped-call]
            for bound, count in histogram.cumulative()]


def metrics_registry(source: Any = None) -> CollectorRegistry:
    """A registry holding only outgrow's collector for ``source`` (a Database, Engine, Settings or None)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(source))
    return registry


def metrics_asgi_app(source: Any = None) -> Any:
    """An ASGI app serving ``/metrics`` text: mount it in FastAPI/Starlette (``app.mount("/metrics", ...)``)."""
    return make_asgi_app(metrics_registry(source))


def metrics_wsgi_app(source: Any = None) -> Any:
    """The same as a WSGI app (Flask, Django, gunicorn)."""
    return make_wsgi_app(metrics_registry(source))
