"""``collect_metrics()``: the database's size, query performance, connections and write contention, now.

Statement figures come from the history when there is one (every probed process, merged by adding bucket
counts over the window), else from this process's probe since it started. Size figures are read from the
database itself at the time of the call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from outgrow.dialects import EngineDialect, dialect_for
from outgrow.monitor.histogram import Histogram
from outgrow.monitor.history import HistoryStore, Window, default_history_path
from outgrow.monitor.probe import WRITE_OPERATIONS, Probe, ProbeTotals, probe_of
from outgrow.monitor.snapshot import (
    ConnectionFigures,
    ContentionFigures,
    LatencySummary,
    MetricsSnapshot,
    ServerFigures,
)
from outgrow.settings import Settings
from outgrow.urls import mask_url

__all__ = ["MonitorTarget", "collect_metrics", "database_label", "history_path_for", "snapshot_from_probe",
           "snapshot_from_window"]


def history_path_for(settings: Settings) -> Path | None:
    """Where the history of the configured database lives (None: no history for it)."""
    if settings.history_path is not None:
        return settings.history_path
    url = settings.url()
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        return default_history_path(Path(url.database))
    return None


@dataclass
class MonitorTarget:
    """What metrics are read from: an engine, its outgrow dialect, and its probe and history if any."""

    engine: Engine
    dialect: EngineDialect
    probe: Probe | None
    store: HistoryStore | None
    database: str

    @classmethod
    def of(cls, source: Any = None) -> MonitorTarget:
        from outgrow.engine import Database, connect

        if isinstance(source, Database):
            recorder = getattr(source, "recorder", None)
            return cls(source.engine, source.dialect, probe_of(source.engine),
                       recorder.store if recorder is not None else _store(source.settings),
                       database_label(source.engine))
        if isinstance(source, Engine):
            settings = Settings(database_url=source.url.render_as_string(hide_password=False))
            return cls(source, dialect_for(source.url, settings), probe_of(source), _store(settings),
                       database_label(source))
        settings = source if isinstance(source, Settings) else Settings()
        # The reader's own statements are not the application's: no probe on this engine.
        db = connect(settings.model_copy(update={"monitor_enabled": False}), create=False)
        return cls(db.engine, db.dialect, None, _store(settings), database_label(db.engine))


def collect_metrics(source: Any = None, *, window_s: float | None = 300.0, now: float | None = None
                    ) -> MetricsSnapshot:
    """The metrics of ``source`` (a ``Database``, an ``Engine``, ``Settings`` or None for the configured
    database) over the last ``window_s`` seconds (None: everything the history or probe holds)."""
    target = source if isinstance(source, MonitorTarget) else MonitorTarget.of(source)
    recorder = getattr(source, "recorder", None)
    if recorder is not None:
        recorder.tick(sample=False)  # this process's latest counts into the history first
    now = time.time() if now is None else now
    figures = _storage(target)
    server = _server(target)
    if target.store is not None and target.store.path.exists():
        start = 0.0 if window_s is None else now - window_s
        window = target.store.window(start, now)
        operations = {fid: row.operation for fid, row in target.store.fingerprints().items()}
        live = target.store.live_processes(now - 3 * _flush_s(source))
        return snapshot_from_window(window, operations, figures, live, engine=target.dialect.name,
                                    database=target.database, now=now, window_s=window_s, server=server)
    if target.probe is not None:
        return snapshot_from_probe(target.probe, figures, database=target.database, now=now, server=server)
    return snapshot_from_probe(None, figures, database=target.database, now=now, server=server,
                               engine=target.dialect.name)


def snapshot_from_window(window: Window, operations: dict[str, str], figures: dict[str, int | None],
                         live: Iterable[tuple[str, int, int, int | None, int]], *, engine: str, database: str,
                         now: float, window_s: float | None, server: ServerFigures | None = None) -> MetricsSnapshot:
    """A snapshot from history: ``operations`` maps fingerprint ids to SELECT/INSERT/..."""
    durations: dict[tuple[str, str], Histogram] = {}
    for (fingerprint_id, error), histogram in window.statements.items():
        durations.setdefault((operations.get(fingerprint_id, "OTHER"), error), Histogram()).add(histogram)
    processes = list(live)
    pool_sizes = [p[3] for p in processes if p[3] is not None]
    connections = ConnectionFigures(
        used=sum(p[1] for p in processes), idle=sum(p[2] for p in processes),
        pool_size=sum(pool_sizes) if pool_sizes else None, waiting=sum(p[4] for p in processes),
        checkouts=window.counters.get("checkouts", 0), wait_p95_s=window.histogram("pool_wait").quantile(0.95),
        wait_histogram=window.histogram("pool_wait"))
    span = window_s if window_s is not None else (now - window.start if window.start else None)
    return _snapshot(durations, connections, window.histogram("lock_wait"), window.histogram("write_transaction"),
                     window.counters.get("busy", 0), figures, engine=engine, database=database, now=now,
                     window_s=window_s, span=span, processes=len(processes), server=server)


def snapshot_from_probe(probe: Probe | None, figures: dict[str, int | None], *, database: str, now: float,
                        server: ServerFigures | None = None, engine: str | None = None) -> MetricsSnapshot:
    """A snapshot of one process's probe since it started (no history)."""
    totals = probe.totals() if probe is not None else ProbeTotals()
    durations: dict[tuple[str, str], Histogram] = {}
    for (_statement, error), stats in totals.statements.items():
        durations.setdefault((stats.operation, error), Histogram()).add(stats.histogram)
    used, idle, size, waiting = probe.pool_figures() if probe is not None else (0, 0, None, 0)
    connections = ConnectionFigures(used=used, idle=idle, pool_size=size, waiting=waiting,
                                    checkouts=totals.checkouts, wait_p95_s=totals.pool_wait.quantile(0.95),
                                    wait_histogram=totals.pool_wait)
    span = time.perf_counter() - probe.started if probe is not None else None
    return _snapshot(durations, connections, totals.lock_wait, totals.write_transactions, totals.busy, figures,
                     engine=probe.system if probe is not None else (engine or "sqlite"), database=database, now=now,
                     window_s=None, span=span, processes=1 if probe is not None else 0, server=server)


def _snapshot(durations: dict[tuple[str, str], Histogram], connections: ConnectionFigures, lock_wait: Histogram,
              write_transactions: Histogram, busy: int, figures: dict[str, int | None], *, engine: str, database: str,
              now: float, window_s: float | None, span: float | None, processes: int,
              server: ServerFigures | None) -> MetricsSnapshot:
    by_operation: dict[str, tuple[Histogram, int]] = {}
    for (operation, error), histogram in durations.items():
        merged, errors = by_operation.get(operation, (Histogram(), 0))
        merged.add(histogram)
        by_operation[operation] = (merged, errors + (histogram.count if error else 0))
    overall = Histogram.merged(h for h, _ in by_operation.values())
    writes = sum(h.count for op, (h, _) in by_operation.items() if op in WRITE_OPERATIONS)
    transactions = write_transactions.count
    contention = ContentionFigures(
        busy_events=busy, write_transactions=transactions,
        busy_rate=busy / transactions if transactions else None,
        lock_wait_p95_s=lock_wait.quantile(0.95), write_transaction_p99_s=write_transactions.quantile(0.99),
        lock_wait_histogram=lock_wait, write_transaction_histogram=write_transactions)
    return MetricsSnapshot(
        engine=engine, database=database, taken_at=now, window_s=window_s,
        size_bytes=figures.get("size_bytes") or 0, wal_bytes=figures.get("wal_bytes"),
        free_pages=figures.get("free_pages"), page_size=figures.get("page_size"),
        statements=LatencySummary.of(overall, sum(e for _, e in by_operation.values())),
        by_operation={op: LatencySummary.of(h, e) for op, (h, e) in sorted(by_operation.items())},
        connections=connections, contention=contention,
        writes_per_s=writes / span if span else None, processes=processes, server=server, durations=durations)


def _store(settings: Settings) -> HistoryStore | None:
    path = history_path_for(settings)
    return HistoryStore(path) if path is not None else None


def _flush_s(source: Any) -> float:
    settings = getattr(source, "settings", None)
    return settings.monitor_flush_s if isinstance(settings, Settings) else Settings().monitor_flush_s


def database_label(engine: Engine) -> str:
    """A SQLite path, or the URL with its password masked: how output names the database."""
    if engine.url.get_backend_name() == "sqlite":
        return str(engine.url.database or ":memory:")
    return mask_url(engine.url.render_as_string(hide_password=False))


def _storage(target: MonitorTarget) -> dict[str, int | None]:
    from outgrow.monitor.recorder import storage_figures

    return storage_figures(target.engine, target.dialect)


def _server(target: MonitorTarget) -> ServerFigures | None:
    raw = target.engine.raw_connection()
    try:
        figures = target.dialect.server_figures(raw.driver_connection)
    finally:
        raw.close()
    return ServerFigures(**figures) if figures is not None else None

