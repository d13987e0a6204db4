"""Monitoring: the probe (per-statement timing), metrics, slow queries, history, alerts and exporters.

``instrument(engine)`` times any SQLAlchemy engine (``outgrow.connect()`` does it by default);
``collect_metrics(db)`` reads size, latency, connections and contention; ``slow_queries(db)`` the slow-query
log with plans and index hints; ``metrics_asgi_app(db)`` / ``metrics_wsgi_app(db)`` serve ``/metrics``.
"""

from __future__ import annotations

from outgrow.monitor.alerts import AlertEvaluator, AlertEvent, AlertRule, AlertState, default_rules
from outgrow.monitor.emf import EmfWriter, emf_lines
from outgrow.monitor.exporter import MetricsCollector, metrics_asgi_app, metrics_registry, metrics_wsgi_app
from outgrow.monitor.fingerprint import Fingerprint, fingerprint
from outgrow.monitor.histogram import Histogram
from outgrow.monitor.history import HistoryStore, default_history_path
from outgrow.monitor.metrics import collect_metrics
from outgrow.monitor.probe import Probe, instrument, probe_of
from outgrow.monitor.slow import SlowQuery, slow_queries
from outgrow.monitor.snapshot import (
    ConnectionFigures,
    ContentionFigures,
    LatencySummary,
    MetricsSnapshot,
    ServerFigures,
)
from outgrow.monitor.webhook import Webhook, sign, verify_signature

__all__ = [
    "AlertEvaluator",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "ConnectionFigures",
    "ContentionFigures",
    "EmfWriter",
    "Fingerprint",
    "Histogram",
    "HistoryStore",
    "LatencySummary",
    "MetricsCollector",
    "MetricsSnapshot",
    "Probe",
    "ServerFigures",
    "SlowQuery",
    "Webhook",
    "collect_metrics",
    "default_history_path",
    "default_rules",
    "emf_lines",
    "fingerprint",
    "instrument",
    "metrics_asgi_app",
    "metrics_registry",
    "metrics_wsgi_app",
    "probe_of",
    "sign",
    "slow_queries",
    "verify_signature",
]
