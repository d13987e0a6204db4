"""Monitoring: the probe (per-statement timing), metrics, slow queries, history, alerts and exporters."""

from __future__ import annotations

from outgrow.monitor.histogram import Histogram
from outgrow.monitor.probe import Probe, instrument, probe_of
from outgrow.monitor.snapshot import (
    ConnectionFigures,
    ContentionFigures,
    LatencySummary,
    MetricsSnapshot,
    ServerFigures,
)

__all__ = [
    "ConnectionFigures",
    "ContentionFigures",
    "Histogram",
    "LatencySummary",
    "MetricsSnapshot",
    "Probe",
    "ServerFigures",
    "instrument",
    "probe_of",
]
