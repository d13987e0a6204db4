"""The recorder: a background thread that moves one probe's counts into the history.

Every ``monitor_flush_s`` it flushes what the probe counted since the last flush (fingerprinting new
statement texts, off the hot path), captures the plan of each fingerprint newly over the slow threshold
with the slowest execution's parameters, and, when the history is due a sample, takes it: the database's
size, compaction, and the alert rules. It never raises into the application: a failure is logged.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from typing import Any

from sqlalchemy.engine import Engine

from outgrow.dialects import EngineDialect
from outgrow.monitor.fingerprint import Fingerprint, fingerprint, mask_parameters
from outgrow.monitor.histogram import BOUNDS, Histogram
from outgrow.monitor.history import Delta, HistoryStore
from outgrow.monitor.probe import Probe, ProbeTotals
from outgrow.settings import Settings

__all__ = ["Recorder", "capture_plan", "sample_history", "storage_figures"]

log = logging.getLogger("outgrow.monitor")
_EXPLAINED = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE"})


class Recorder:
    """Flushes ``probe`` into ``store`` on a schedule, and takes samples when they are due."""

    def __init__(self, probe: Probe, store: HistoryStore, settings: Settings, dialect: EngineDialect) -> None:
        self.probe = probe
        self.store = store
        self.settings = settings
        self.dialect = dialect
        self.host = socket.gethostname()
        self._new_process()
        self._last = ProbeTotals()
        self._fingerprints: dict[str, Fingerprint] = {}
        self._planned: set[str] = set()
        self._lock = threading.Lock()  # one flush at a time (the thread, collect_metrics, exit)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _new_process(self) -> None:
        self.pid = os.getpid()
        self.process = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.started = time.time()

    # -- schedule ---------------------------------------------------------------------------------------
    def start(self) -> Recorder:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="outgrow-monitor", daemon=True)
            self._thread.start()
            atexit.register(self.stop)
            _RUNNING.add(self)
        return self

    def stop(self) -> None:
        """Stop the thread after one last flush."""
        atexit.unregister(self.stop)
        _RUNNING.discard(self)
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.tick(sample=False)

    def _after_fork(self) -> None:
        # A forked worker (gunicorn --preload, multiprocessing) leaves what its parent counted to the parent:
        # it starts from the parent's totals as if flushed, under its own identity; the parent's thread did
        # not survive the fork.
        self._new_process()
        self._lock = threading.Lock()
        self._thread = None
        self._last = self.probe.totals()
        if not self._stop.is_set():
            self.start()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.monitor_flush_s):
            self.tick()

    def tick(self, *, sample: bool = True, now: float | None = None) -> None:
        """Flush, capture new plans and, when due, sample. Logs instead of raising."""
        try:
            with self._lock:
                self.flush(now)
                self.capture_plans()
                if sample:
                    self.sample_if_due(now)
        except Exception as exc:  # monitoring must never break the application: one line in its log
            log.warning("outgrow monitor: flushing to %s failed: %s: %s", self.store.path, type(exc).__name__, exc)

    # -- work -------------------------------------------------------------------------------------------
    def flush(self, now: float | None = None) -> Delta:
        """Append what the probe counted since the last flush to the history's inbox."""
        now = time.time() if now is None else now
        totals = self.probe.totals()
        delta = Delta(self.process, now, pool=self.probe.pool_figures())
        seen: list[tuple[str, str, str, str | None, float]] = []
        for key, current in totals.statements.items():
            previous = self._last.statements.get(key)
            change = _since(current.histogram, previous.histogram if previous else None)
            if change.count == 0:
                continue
            print_ = self._fingerprint(current.statement)
            slot = (print_.id, current.error)
            if slot in delta.statements:
                delta.statements[slot].add(change)
            else:
                delta.statements[slot] = change
            sample = json.dumps(mask_parameters(current.slowest_parameters), default=str) \
                if current.slowest_parameters is not None else None
            seen.append((print_.id, print_.operation, print_.text, sample, current.last))
        for kind, current_h, previous_h in (("lock_wait", totals.lock_wait, self._last.lock_wait),
                                            ("write_transaction", totals.write_transactions,
                                             self._last.write_transactions),
                                            ("pool_wait", totals.pool_wait, self._last.pool_wait)):
            change = _since(current_h, previous_h)
            if change.count:
                delta.histograms[kind] = change
        delta.counters = {"busy": totals.busy - self._last.busy, "checkouts": totals.checkouts - self._last.checkouts}
        self.store.flush(delta, seen, self.host, self.pid, self.started)
        self._last = totals
        return delta

    def capture_plans(self) -> int:
        """EXPLAIN each fingerprint whose slowest execution reached the slow threshold and has no plan yet."""
        slow = self.probe.slow_query_s
        candidates: dict[str, tuple[str, Any]] = {}
        for (statement, error), stats in self._last.statements.items():
            if error or stats.slowest < slow:
                continue
            print_ = self._fingerprint(statement)
            # EXPLAIN only what has a plan: SQLite applies some pragmas even under EXPLAIN (query_only ...).
            if print_.operation in _EXPLAINED and print_.id not in self._planned:
                candidates.setdefault(print_.id, (statement, stats.slowest_parameters))
        if not candidates:
            return 0
        missing = self.store.needs_plan(list(candidates))
        self._planned.update(set(candidates) - missing)
        for fingerprint_id in missing:
            statement, parameters = candidates[fingerprint_id]
            plan = capture_plan(self.probe.engine, self.dialect, statement, parameters)
            self.store.save_plan(fingerprint_id, plan.text, plan.error,
                                 [{"table": h.table, "rows": h.rows, "columns": list(h.columns), "sql": h.sql,
                                   "text": h.text} for h in plan.hints], time.time())
            self._planned.add(fingerprint_id)
        return len(missing)

    def sample_if_due(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        last = self.store.last_sample_at()
        if last is not None and now - last < self.settings.monitor_sample_s * 0.98:
            return False
        return self.sample(now)

    def sample(self, now: float) -> bool:
        """Take one sample now (and compact, and evaluate the alert rules)."""
        return sample_history(self.store, self.probe.engine, self.dialect, self.settings, now) is not None

    def _fingerprint(self, statement: str) -> Fingerprint:
        found = self._fingerprints.get(statement)
        if found is None:
            found = self._fingerprints[statement] = fingerprint(statement, self.probe.system)
        return found


_RUNNING: weakref.WeakSet[Recorder] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for recorder in list(_RUNNING):
        recorder._after_fork()


if hasattr(os, "register_at_fork"):  # once per process, not once per recorder: handlers cannot be removed
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _since(current: Histogram, previous: Histogram | None) -> Histogram:
    """What ``current`` (cumulative) gained since ``previous``. The maximum is exact when it is new in this
    stretch; otherwise it is the upper bound of the highest bucket that gained, at most the old maximum."""
    if previous is None:
        return current.copy()
    change = current.minus(previous)
    if current.max <= previous.max:
        top = max((i for i, c in enumerate(change.counts) if c), default=None)
        change.max = 0.0 if top is None else min(previous.max, BOUNDS[top] if top < len(BOUNDS) else previous.max)
    return change


def sample_history(store: HistoryStore, engine: Engine, dialect: EngineDialect, settings: Settings, now: float
                   ) -> list[Any] | None:
    """Take one sample of ``engine``'s database into ``store`` at ``now``, compact the history and evaluate the
    alert rules; the alert events, or None when another process took this sample."""
    from outgrow.monitor.metrics import database_label
    from outgrow.monitor.watch import after_sample  # alerts read metrics, which read the history

    figures = storage_figures(engine, dialect)
    if not store.take_sample(now, figures, live_after=now - 3 * settings.monitor_flush_s,
                             min_interval_s=0.98 * settings.monitor_sample_s):
        return None
    store.compact(now, raw_s=settings.history_raw_hours * 3600, five_minute_s=settings.history_5min_days * 86400,
                  hourly_s=settings.history_hourly_days * 86400)
    return after_sample(store, settings, dialect.name, now, figures, database=database_label(engine))


def storage_figures(engine: Engine, dialect: EngineDialect) -> dict[str, int | None]:
    """The database's size figures, read on a raw pooled connection (not counted by the probe)."""
    raw = engine.raw_connection()
    try:
        return dialect.storage_figures(raw.driver_connection, engine.url)
    finally:
        raw.close()


def capture_plan(engine: Engine, dialect: EngineDialect, statement: str, parameters: Any) -> Any:
    """The plan of ``statement`` with ``parameters`` and its index hints (a ``CapturedPlan``)."""
    from outgrow.monitor.plans import explain_postgresql, explain_sqlite

    raw = engine.raw_connection()
    try:
        connection: Any = raw.driver_connection
        if dialect.has_pragmas:
            return explain_sqlite(connection, statement, parameters)
        return explain_postgresql(connection, statement, parameters)
    finally:
        raw.close()
