"""The history: a sidecar SQLite file that probes flush into and readers merge from.

Beside a monitored SQLite file (``app.db`` → ``app-outgrow-history.db``), never inside it: the
application's file stays the application's, and the history's writes never take its write lock.

Probes append what they observed since their last flush (bucket counts, never percentiles) to ``inbox``.
A sampler (any probed process whose turn it is, or ``outgrow monitor run``) moves the inbox into one row of
``samples`` plus its histograms, with the database's size and the processes' connection figures. Windows
of any length are read by adding bucket counts, so figures from several processes and several samples
merge exactly; compaction into 5-minute and hourly rows adds counts the same way.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outgrow.errors import ConfigurationError
from outgrow.monitor.histogram import Histogram

__all__ = ["HISTORY_SUFFIX", "Delta", "FingerprintRow", "HistoryStore", "SampleRow", "Window", "default_history_path"]

HISTORY_SUFFIX = "-outgrow-history.db"
#: Histogram kinds kept besides per-fingerprint statement durations.
KINDS = ("statement", "lock_wait", "write_transaction", "pool_wait")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, process TEXT NOT NULL, kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
    count INTEGER NOT NULL, sum REAL NOT NULL, max REAL NOT NULL, buckets TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters_inbox (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, process TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS processes (
    process TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL, last_flush REAL,
    used INTEGER, idle INTEGER, pool_size INTEGER, waiting INTEGER);
CREATE TABLE IF NOT EXISTS fingerprints (
    id TEXT PRIMARY KEY, operation TEXT NOT NULL, text TEXT NOT NULL, sample TEXT,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    plan TEXT, plan_error TEXT, hints TEXT, plan_at REAL);
CREATE TABLE IF NOT EXISTS samples (
    resolution INTEGER NOT NULL, at REAL NOT NULL, window_s REAL NOT NULL,
    size_bytes INTEGER, wal_bytes INTEGER, free_pages INTEGER, page_size INTEGER,
    used INTEGER, idle INTEGER, pool_size INTEGER, waiting INTEGER, processes INTEGER,
    busy INTEGER NOT NULL DEFAULT 0, checkouts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (resolution, at));
CREATE TABLE IF NOT EXISTS sample_histograms (
    resolution INTEGER NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, error TEXT NOT NULL,
    count INTEGER NOT NULL, sum REAL NOT NULL, max REAL NOT NULL, buckets TEXT NOT NULL,
    PRIMARY KEY (resolution, at, kind, key, error));
CREATE TABLE IF NOT EXISTS alert_states (rule TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, rule TEXT NOT NULL, state TEXT NOT NULL,
    value REAL, threshold REAL, message TEXT NOT NULL);
"""


def default_history_path(database: Path) -> Path:
    """``app.db`` → ``app-outgrow-history.db`` in the same folder."""
    return database.with_name(database.stem + HISTORY_SUFFIX)


@dataclass
class Delta:
    """What one process observed since its previous flush."""

    process: str
    at: float
    statements: dict[tuple[str, str], Histogram] = field(default_factory=dict)  # (fingerprint id, error type)
    histograms: dict[str, Histogram] = field(default_factory=dict)  # lock_wait, write_transaction, pool_wait
    counters: dict[str, int] = field(default_factory=dict)  # busy, checkouts
    pool: tuple[int, int, int | None, int] = (0, 0, None, 0)  # used, idle, pool size, waiting (now)

    def empty(self) -> bool:
        return not any(h.count for h in self.statements.values()) and not any(
            h.count for h in self.histograms.values()) and not any(self.counters.values())


@dataclass(frozen=True)
class FingerprintRow:
    id: str
    operation: str
    text: str
    sample: str | None
    first_seen: float
    last_seen: float
    plan: str | None
    plan_error: str | None
    hints: list[dict[str, Any]]


@dataclass(frozen=True)
class SampleRow:
    resolution: int
    at: float
    window_s: float
    size_bytes: int | None
    wal_bytes: int | None
    free_pages: int | None
    page_size: int | None
    used: int | None
    idle: int | None
    pool_size: int | None
    waiting: int | None
    processes: int | None
    busy: int
    checkouts: int


@dataclass
class Window:
    """Histograms and counters merged over a stretch of time (samples, plus the inbox not yet sampled)."""

    start: float
    end: float
    statements: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    last_sample: SampleRow | None = None

    def histogram(self, kind: str) -> Histogram:
        return self.histograms.get(kind) or Histogram()


class HistoryStore:
    """One history file. Every method opens its own short connection: any thread or process may call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            with self._open(write=write) as conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(f"cannot use the monitoring history {self.path}: {exc}",
                                     hint="check OUTGROW_HISTORY_PATH (a SQLite file outgrow may create and "
                                          "write), or remove a damaged history file") from None

    @contextmanager
    def _open(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        fresh = not self.path.exists()  # also after someone deleted it: the schema is made again
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            if fresh or not self._ready:
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
                conn.executescript(_SCHEMA)
                self._ready = True
            conn.execute("PRAGMA synchronous = NORMAL")
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn
        finally:
            conn.close()

    # -- probes ---------------------------------------------------------------------------------------
    def flush(self, delta: Delta, fingerprints: list[tuple[str, str, str, str | None, float]],
              host: str, pid: int, started: float) -> None:
        """Append ``delta`` to the inbox; ``fingerprints`` are (id, operation, text, masked sample, last seen)."""
        with self.connect(write=True) as conn:
            conn.executemany(
                "INSERT INTO inbox (at, process, kind, key, error, count, sum, max, buckets) "
                "VALUES (?, ?, 'statement', ?, ?, ?, ?, ?, ?)",
                [(delta.at, delta.process, key, error, h.count, h.sum, h.max, json.dumps(h.to_sparse()))
                 for (key, error), h in delta.statements.items() if h.count])
            conn.executemany(
                "INSERT INTO inbox (at, process, kind, count, sum, max, buckets) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(delta.at, delta.process, kind, h.count, h.sum, h.max, json.dumps(h.to_sparse()))
                 for kind, h in delta.histograms.items() if h.count])
            conn.executemany("INSERT INTO counters_inbox (at, process, name, value) VALUES (?, ?, ?, ?)",
                             [(delta.at, delta.process, name, value)
                              for name, value in delta.counters.items() if value])
            conn.executemany(
                "INSERT INTO fingerprints (id, operation, text, sample, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), "
                "sample = coalesce(excluded.sample, sample)",
                [(fid, operation, text, sample, seen, seen) for fid, operation, text, sample, seen in fingerprints])
            used, idle, pool_size, waiting = delta.pool
            conn.execute(
                "INSERT INTO processes (process, pid, host, started, last_flush, used, idle, pool_size, waiting) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (process) DO UPDATE SET "
                "last_flush = excluded.last_flush, used = excluded.used, idle = excluded.idle, "
                "pool_size = excluded.pool_size, waiting = excluded.waiting",
                (delta.process, pid, host, started, delta.at, used, idle, pool_size, waiting))

    def needs_plan(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` have no plan captured yet."""
        if not ids:
            return set()
        with self.connect() as conn:
            marks = ",".join("?" * len(ids))
            have = {r[0] for r in conn.execute(
                f"SELECT id FROM fingerprints WHERE id IN ({marks}) AND plan_at IS NOT NULL", ids)}
        return set(ids) - have

    def save_plan(self, fingerprint_id: str, plan: str, error: str | None, hints: list[dict[str, Any]],
                  at: float) -> None:
        with self.connect(write=True) as conn:
            conn.execute("UPDATE fingerprints SET plan = ?, plan_error = ?, hints = ?, plan_at = ? WHERE id = ?",
                         (plan, error, json.dumps(hints), at, fingerprint_id))

    # -- the sampler ----------------------------------------------------------------------------------
    def last_sample_at(self) -> float | None:
        with self.connect() as conn:
            row = conn.execute("SELECT max(at) FROM samples WHERE resolution = 0").fetchone()
        return float(row[0]) if row[0] is not None else None

    def take_sample(self, at: float, figures: dict[str, int | None], live_after: float,
                    min_interval_s: float = 0.0) -> bool:
        """Move the inbox into one raw sample at ``at`` with the database ``figures`` (size_bytes, wal_bytes,
        free_pages, page_size). Processes that flushed after ``live_after`` count for the connection figures.
        Returns False when another sampler took this one: a sample exists less than ``min_interval_s`` before
        ``at`` (checked under the write lock, so processes due at the same moment take one sample)."""
        with self.connect(write=True) as conn:
            previous = conn.execute("SELECT max(at) FROM samples WHERE resolution = 0").fetchone()[0]
            if previous is not None and previous > at - min_interval_s:
                return False
            first = conn.execute("SELECT min(at) FROM inbox").fetchone()[0]
            start = previous if previous is not None else (first if first is not None else at)
            histograms = _merge_rows(conn.execute(
                "SELECT kind, key, error, count, sum, max, buckets FROM inbox WHERE at <= ?", (at,)))
            counters = dict(conn.execute(
                "SELECT name, sum(value) FROM counters_inbox WHERE at <= ? GROUP BY name", (at,)).fetchall())
            live = conn.execute(
                "SELECT count(*), sum(used), sum(idle), sum(pool_size), sum(waiting) FROM processes "
                "WHERE last_flush > ?", (live_after,)).fetchone()
            conn.execute(
                "INSERT INTO samples (resolution, at, window_s, size_bytes, wal_bytes, free_pages, page_size, used, "
                "idle, pool_size, waiting, processes, busy, checkouts) "
                "VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, max(0.0, at - start), figures.get("size_bytes"), figures.get("wal_bytes"),
                 figures.get("free_pages"), figures.get("page_size"), live[1] or 0, live[2] or 0, live[3],
                 live[4] or 0, live[0], counters.get("busy", 0), counters.get("checkouts", 0)))
            _insert_histograms(conn, 0, at, histograms)
            conn.execute("DELETE FROM inbox WHERE at <= ?", (at,))
            conn.execute("DELETE FROM counters_inbox WHERE at <= ?", (at,))
        return True

    def compact(self, now: float, *, raw_s: float, five_minute_s: float, hourly_s: float) -> dict[str, int]:
        """Merge raw samples older than ``raw_s`` into 5-minute ones, those older than ``five_minute_s`` into
        hourly ones, and drop hourly ones older than ``hourly_s``. Returns rows merged or dropped per step."""
        done: dict[str, int] = {}
        with self.connect(write=True) as conn:
            done["raw_merged"] = _downsample(conn, 0, 300, now - raw_s)
            done["five_minute_merged"] = _downsample(conn, 300, 3600, now - five_minute_s)
            dropped = conn.execute("DELETE FROM samples WHERE resolution = 3600 AND at < ?", (now - hourly_s,)).rowcount
            conn.execute("DELETE FROM sample_histograms WHERE resolution = 3600 AND at < ?", (now - hourly_s,))
            done["hourly_dropped"] = dropped
            conn.execute("DELETE FROM processes WHERE last_flush < ?", (now - raw_s,))
        return done

    # -- readers ---------------------------------------------------------------------------------------
    def window(self, start: float, end: float, *, include_inbox: bool = True) -> Window:
        """Everything observed between ``start`` and ``end``, at any resolution, merged."""
        window = Window(start, end)
        with self.connect() as conn:
            conn.execute("BEGIN")  # one snapshot: a sample moving the inbox meanwhile must not hide rows
            rows = list(conn.execute(
                "SELECT kind, key, error, count, sum, max, buckets FROM sample_histograms WHERE at > ? AND at <= ?",
                (start, end)))
            if include_inbox:
                rows += conn.execute("SELECT kind, key, error, count, sum, max, buckets FROM inbox "
                                     "WHERE at > ? AND at <= ?", (start, end)).fetchall()
            merged = _merge_rows(rows)
            counters = dict(conn.execute(
                "SELECT 'busy', coalesce(sum(busy), 0) FROM samples WHERE at > ? AND at <= ? UNION ALL "
                "SELECT 'checkouts', coalesce(sum(checkouts), 0) FROM samples WHERE at > ? AND at <= ?",
                (start, end, start, end)).fetchall())
            if include_inbox:
                for name, value in conn.execute("SELECT name, sum(value) FROM counters_inbox WHERE at > ? AND at <= ? "
                                                "GROUP BY name", (start, end)):
                    counters[name] = counters.get(name, 0) + value
            last = conn.execute("SELECT * FROM samples WHERE at <= ? ORDER BY at DESC LIMIT 1", (end,)).fetchone()
            conn.execute("COMMIT")
        for (kind, key, error), histogram in merged.items():
            if kind == "statement":
                window.statements[(key, error)] = histogram
            else:
                window.histograms[kind] = histogram
        window.counters = counters
        window.last_sample = SampleRow(*last) if last else None
        return window

    def samples(self, start: float = 0.0, end: float | None = None) -> list[SampleRow]:
        with self.connect() as conn:
            rows = conn.execute("SELECT * FROM samples WHERE at >= ? AND at <= ? ORDER BY at",
                                (start, end if end is not None else time.time() + 1e9)).fetchall()
        return [SampleRow(*row) for row in rows]

    def sample_histograms(self, resolution: int) -> dict[tuple[float, str, str, str], Histogram]:
        with self.connect() as conn:
            rows = conn.execute("SELECT at, kind, key, error, count, sum, max, buckets FROM sample_histograms "
                                "WHERE resolution = ?", (resolution,)).fetchall()
        return {(at, kind, key, error): Histogram.from_sparse(json.loads(b), s, m)
                for at, kind, key, error, _count, s, m, b in rows}

    def fingerprints(self) -> dict[str, FingerprintRow]:
        with self.connect() as conn:
            rows = conn.execute("SELECT id, operation, text, sample, first_seen, last_seen, plan, plan_error, hints "
                                "FROM fingerprints").fetchall()
        return {r[0]: FingerprintRow(id=r[0], operation=r[1], text=r[2], sample=r[3], first_seen=r[4], last_seen=r[5],
                                     plan=r[6], plan_error=r[7], hints=json.loads(r[8]) if r[8] else [])
                for r in rows}

    def live_processes(self, after: float) -> list[tuple[str, int, int, int | None, int]]:
        """(process, used, idle, pool size, waiting) of processes that flushed after ``after``."""
        with self.connect() as conn:
            return conn.execute("SELECT process, used, idle, pool_size, waiting FROM processes WHERE last_flush > ?",
                                (after,)).fetchall()

    def alert_states(self) -> dict[str, str]:
        with self.connect() as conn:
            return dict(conn.execute("SELECT rule, state FROM alert_states").fetchall())

    def save_alerts(self, states: dict[str, str], events: list[tuple[float, str, str, float | None, float, str]]
                    ) -> None:
        with self.connect(write=True) as conn:
            conn.executemany("INSERT INTO alert_states (rule, state) VALUES (?, ?) "
                             "ON CONFLICT (rule) DO UPDATE SET state = excluded.state", list(states.items()))
            conn.executemany("INSERT INTO alert_events (at, rule, state, value, threshold, message) "
                             "VALUES (?, ?, ?, ?, ?, ?)", events)

    def alert_events(self, limit: int = 100) -> list[tuple[float, str, str, float | None, float, str]]:
        with self.connect() as conn:
            return conn.execute("SELECT at, rule, state, value, threshold, message FROM alert_events "
                                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def _merge_rows(rows: Any) -> dict[tuple[str, str, str], Histogram]:
    merged: dict[tuple[str, str, str], Histogram] = {}
    for kind, key, error, _count, total, maximum, buckets in rows:
        histogram = Histogram.from_sparse(json.loads(buckets), total, maximum)
        existing = merged.get((kind, key, error))
        if existing is None:
            merged[(kind, key, error)] = histogram
        else:
            existing.add(histogram)
    return merged


def _insert_histograms(conn: sqlite3.Connection, resolution: int, at: float,
                       histograms: dict[tuple[str, str, str], Histogram]) -> None:
    conn.executemany(
        "INSERT INTO sample_histograms (resolution, at, kind, key, error, count, sum, max, buckets) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(resolution, at, kind, key, error, h.count, h.sum, h.max, json.dumps(h.to_sparse()))
         for (kind, key, error), h in histograms.items() if h.count])


def _downsample(conn: sqlite3.Connection, source: int, target: int, before: float) -> int:
    """Merge ``source``-resolution samples older than ``before`` into ``target``-second windows (ending at
    the window's end): counters and histograms add up, gauges keep the window's last value."""
    rows = conn.execute("SELECT * FROM samples WHERE resolution = ? AND at < ? ORDER BY at",
                        (source, before)).fetchall()
    if not rows:
        return 0
    windows: dict[float, list[SampleRow]] = {}
    for row in rows:
        sample = SampleRow(*row)
        # Windows are (end - target, end], as readers' (start, end] are: a sample on a boundary ends a window.
        windows.setdefault(float(math.ceil(sample.at / target) * target), []).append(sample)
    for end, members in windows.items():
        last = members[-1]
        existing = conn.execute("SELECT * FROM samples WHERE resolution = ? AND at = ?", (target, end)).fetchone()
        busy = sum(m.busy for m in members) + (existing[12] if existing else 0)
        checkouts = sum(m.checkouts for m in members) + (existing[13] if existing else 0)
        window_s = sum(m.window_s for m in members) + (existing[2] if existing else 0)
        conn.execute(
            "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (target, end, window_s, last.size_bytes, last.wal_bytes, last.free_pages, last.page_size, last.used,
             last.idle, last.pool_size, last.waiting, last.processes, busy, checkouts))
        ats = [m.at for m in members]
        marks = ",".join("?" * len(ats))
        merged = _merge_rows(conn.execute(
            "SELECT kind, key, error, count, sum, max, buckets FROM sample_histograms WHERE (resolution = ? AND "
            f"at IN ({marks})) OR (resolution = ? AND at = ?)", (source, *ats, target, end)))
        conn.execute("DELETE FROM sample_histograms WHERE resolution = ? AND at = ?", (target, end))
        _insert_histograms(conn, target, end, merged)
        conn.execute(f"DELETE FROM sample_histograms WHERE resolution = ? AND at IN ({marks})",
                     (source, *ats))
        conn.execute(f"DELETE FROM samples WHERE resolution = ? AND at IN ({marks})", (source, *ats))
    return len(rows)

