"""The slow-query log: statements grouped by fingerprint, with their figures, a masked sample and the plan.

Read from the history, so it covers every probed process. A fingerprint is slow when its slowest execution
in the window took ``slow_query_ms`` or more; its plan was captured once, off the hot path, with the
parameters of its slowest execution (see recorder.py), together with the index hints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from outgrow.errors import ConfigurationError
from outgrow.monitor.histogram import Histogram
from outgrow.monitor.metrics import MonitorTarget

__all__ = ["SlowQuery", "slow_queries"]


@dataclass(frozen=True)
class SlowQuery:
    fingerprint: str
    operation: str
    text: str
    count: int
    errors: int
    total_s: float
    mean_s: float
    p95_s: float
    max_s: float
    last_seen: float  # Unix time
    sample: str | None  # the slowest execution's parameters, values masked
    plan: str | None
    plan_error: str | None
    hints: list[dict[str, Any]] = field(default_factory=list)


def slow_queries(source: Any = None, *, window_s: float | None = None, threshold_ms: float | None = None,
                 limit: int = 20, everything: bool = False, now: float | None = None) -> list[SlowQuery]:
    """Fingerprints whose slowest execution reached ``threshold_ms`` (default: the slow_query_ms setting),
    slowest total time first. ``everything`` lists the fast ones too."""
    target = source if isinstance(source, MonitorTarget) else MonitorTarget.of(source)
    settings = getattr(source, "settings", None)
    threshold_s = (threshold_ms if threshold_ms is not None else
                   (settings.slow_query_ms if settings is not None else _default_threshold_ms())) / 1000
    recorder = getattr(source, "recorder", None)
    if recorder is not None:
        recorder.tick(sample=False)  # this process's latest counts, and their plans, into the history
    if target.store is None or not target.store.path.exists():
        raise ConfigurationError(
            f"no monitoring history for {target.database}",
            hint="the history is written by applications using outgrow.connect(); for PostgreSQL set "
                 "OUTGROW_HISTORY_PATH in the application and here")
    now = time.time() if now is None else now
    window = target.store.window(0.0 if window_s is None else now - window_s, now)
    rows = target.store.fingerprints()
    merged: dict[str, tuple[Histogram, int]] = {}
    for (fingerprint_id, error), histogram in window.statements.items():
        total, errors = merged.get(fingerprint_id, (Histogram(), 0))
        total.add(histogram)
        merged[fingerprint_id] = (total, errors + (histogram.count if error else 0))
    found = []
    for fingerprint_id, (histogram, errors) in merged.items():
        if not everything and histogram.max < threshold_s:
            continue
        row = rows.get(fingerprint_id)
        found.append(SlowQuery(
            fingerprint=fingerprint_id, operation=row.operation if row else "OTHER", text=row.text if row else "?",
            count=histogram.count, errors=errors, total_s=histogram.sum, mean_s=histogram.mean() or 0.0,
            p95_s=histogram.quantile(0.95) or 0.0, max_s=histogram.max, last_seen=row.last_seen if row else now,
            sample=row.sample if row else None, plan=row.plan if row else None,
            plan_error=row.plan_error if row else None, hints=row.hints if row else []))
    found.sort(key=lambda q: q.total_s, reverse=True)
    return found[:limit]


def _default_threshold_ms() -> float:
    from outgrow.settings import Settings

    return Settings().slow_query_ms
