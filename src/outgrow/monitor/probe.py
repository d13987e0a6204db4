"""The probe: every statement of an SQLAlchemy engine timed, counted and aggregated in process.

Hook, chosen by measurement (benchmarks/probe_overhead.py): the dialect's ``do_execute`` family is
replaced on the engine's own dialect instance. SQLAlchemy's ``before/after_cursor_execute`` events cost
about 6 µs a statement even when empty; a function in ``do_execute`` costs about 2.

A duration includes fetching the rows: pysqlite's ``execute`` runs only the first step of a query, so on
SQLite a statement that returns rows is timed until its cursor is closed (SQLAlchemy closes it when the
result is exhausted, or when the result is dropped unfinished). psycopg's default cursor has fetched every
row when ``execute`` returns.

Each thread aggregates into its own tables (bucket counts per statement text), so the hot path takes no
lock and loses no count; readers merge the threads. Nothing on the hot path does I/O or parses SQL: a
statement text is classified once (its first keyword) and fingerprinted later, off the hot path.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import weakref
from bisect import bisect_left
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from sqlalchemy.engine import Engine

from outgrow.monitor.histogram import BOUNDS, Histogram

__all__ = ["Probe", "ProbeTotals", "StatementTotals", "instrument", "probe_of"]

_BUCKETS = len(BOUNDS) + 1
#: Distinct statement texts a thread keeps apart. An application that writes literals into its SQL makes a
#: new text per call; past this many, new texts share one entry per operation until the next fingerprinting.
MAX_TEXTS = 5000
WRITE_OPERATIONS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "MERGE"})
_FIRST_WORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*\(?\s*([A-Za-z]+)", re.DOTALL)
_MAIN_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE|SELECT)\b", re.IGNORECASE)
_LOCKING_BEGIN = re.compile(r"\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE)\b", re.IGNORECASE)


def operation_of(statement: str) -> str:
    """SELECT, INSERT, UPDATE, DELETE, ... from the first keyword; for WITH, the statement after the CTEs."""
    match = _FIRST_WORD.match(statement)
    if match is None:
        return "OTHER"
    word = match.group(1).upper()
    if word == "WITH":
        # The last DML keyword is the main statement's: CTE bodies come first (a heuristic, off the hot path
        # once per text; the fingerprint's tokenizer gives the exact answer later).
        words = [w.upper() for w in _MAIN_WORD.findall(statement)]
        for kind in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            if kind in words:
                return kind
        return "SELECT"
    return word


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED ("database is locked"), or PostgreSQL's lock_not_available."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, sqlite3.OperationalError):
        name = getattr(original, "sqlite_errorname", "") or ""
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(original)
    return getattr(original, "sqlstate", None) in {"55P03", "40P01"}


class _Stats:
    """One statement text's figures in one thread."""

    __slots__ = ("counts", "last", "max", "operation", "sample", "sum", "writes")

    def __init__(self, operation: str) -> None:
        self.counts = [0] * _BUCKETS
        self.sum = 0.0
        self.max = 0.0
        self.last = 0.0  # perf_counter() of the last observation
        self.operation = operation
        self.writes = operation in WRITE_OPERATIONS
        self.sample: Any = None  # parameters of the slowest execution (kept in memory only, for EXPLAIN)


class _ThreadTable:
    """Everything one thread observed, written by that thread only."""

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = weakref.ref(thread)
        self.statements: dict[str, _Stats] = {}
        self.errors: dict[tuple[str, str], _Stats] = {}
        self.lock_wait = Histogram()
        self.write_transactions = Histogram()
        self.pool_wait = Histogram()
        self.busy = 0


@dataclass
class StatementTotals:
    """One statement text's figures merged over threads; ``error`` is the error type ('' for success)."""

    statement: str
    operation: str
    error: str
    histogram: Histogram
    last: float  # Unix time of the last execution
    slowest_parameters: Any = None
    slowest: float = 0.0


@dataclass
class ProbeTotals:
    """Everything the probe counted since it started (cumulative), merged over threads."""

    statements: dict[tuple[str, str], StatementTotals] = field(default_factory=dict)
    lock_wait: Histogram = field(default_factory=Histogram)
    write_transactions: Histogram = field(default_factory=Histogram)
    pool_wait: Histogram = field(default_factory=Histogram)
    busy: int = 0
    checkouts: int = 0


_PROBES: weakref.WeakKeyDictionary[Any, Probe] = weakref.WeakKeyDictionary()


def probe_of(engine: Engine) -> Probe | None:
    """The probe instrumenting ``engine``, if any."""
    return _PROBES.get(engine.dialect)


def instrument(engine: Engine, *, slow_query_s: float = 0.150) -> Probe:
    """Time every statement ``engine`` runs from now on; return its :class:`Probe` (the same one when called
    again). Works on any SQLAlchemy engine; SQLite and psycopg durations include fetching the rows."""
    existing = _PROBES.get(engine.dialect)
    if existing is not None:
        return existing
    probe = Probe(engine, slow_query_s=slow_query_s)
    _PROBES[engine.dialect] = probe
    probe._install()
    return probe


class Probe:
    """Per-statement timing for one engine, aggregated in process. Read it with :meth:`totals`."""

    def __init__(self, engine: Engine, *, slow_query_s: float) -> None:
        self.engine = engine
        self.system = "postgresql" if engine.dialect.name.startswith("postgres") else engine.dialect.name
        self.slow_query_s = slow_query_s
        self._local = threading.local()
        self._tables: list[_ThreadTable] = []
        self._retired = _ThreadTable(threading.current_thread())
        self._registry_lock = threading.Lock()
        self._kinds: dict[str, str] = {}
        self._write_started: dict[int, float] = {}
        self.waiting = 0
        self.checkouts = 0
        self._pid = os.getpid()
        self.started = perf_counter()
        self._record = self._recorder()

    # -- hot path ------------------------------------------------------------------------------------
    def _table(self) -> _ThreadTable:
        table = _ThreadTable(threading.current_thread())
        with self._registry_lock:
            self._tables.append(table)
        self._local.table = table
        self._local.statements = table.statements
        return table

    def _current(self) -> _ThreadTable:
        """This thread's table (off the statement hot path, which binds its lookups in ``_recorder``)."""
        try:
            table: _ThreadTable = self._local.table
        except AttributeError:
            table = self._table()
        return table

    def _new_stats(self, table: _ThreadTable, statement: str) -> _Stats:
        operation = self._kinds.get(statement)
        if operation is None:
            operation = operation_of(statement)
            if len(self._kinds) < MAX_TEXTS * 4:
                self._kinds[statement] = operation
        stats = _Stats(operation)
        if len(table.statements) >= MAX_TEXTS:
            # Too many texts: fold this one into a shared per-operation entry (still counted and timed).
            return table.statements.setdefault(f"/* outgrow: other {operation} statements */", stats)
        table.statements[statement] = stats
        return stats

    def observe(self, statement: str, seconds: float, parameters: Any = None, end: float = 0.0) -> None:
        """Record one successful statement of ``seconds`` that ended at ``end`` (perf_counter)."""
        self._record(statement, end - seconds, parameters, end)

    def _recorder(self) -> Any:
        """The hot path's function: every lookup bound once (each attribute lookup here costs per statement)."""
        local, new_table, new_stats = self._local, self._table, self._new_stats
        bounds, slow_s, clock = BOUNDS, self.slow_query_s, perf_counter

        def record(statement: str, started: float, parameters: Any, end: float | None = None) -> _Stats:
            if end is None:
                end = clock()
            seconds = end - started
            try:
                statements = local.statements
            except AttributeError:
                statements = new_table().statements
            stats: _Stats | None = statements.get(statement)
            if stats is None:
                stats = new_stats(local.table, statement)
            stats.counts[bisect_left(bounds, seconds)] += 1
            stats.sum += seconds
            stats.last = end
            if seconds > stats.max:
                stats.max = seconds
                if seconds >= slow_s:
                    stats.sample = parameters
            return stats

        return record

    def failed(self, statement: str, seconds: float, exc: BaseException, end: float) -> None:
        """Record one statement that raised ``exc``."""
        table = self._current()
        original = getattr(exc, "orig", None) or exc
        key = (statement, type(original).__name__)
        stats = table.errors.get(key)
        if stats is None:
            stats = table.errors[key] = _Stats(operation_of(statement))
        stats.counts[bisect_left(BOUNDS, seconds)] += 1
        stats.sum += seconds
        stats.last = end
        stats.max = max(stats.max, seconds)
        if is_busy(original):
            table.busy += 1

    def lock_acquired(self, connection_id: int, waited: float, end: float) -> None:
        """A BEGIN IMMEDIATE/EXCLUSIVE took the write lock after ``waited`` seconds."""
        table = self._current()
        table.lock_wait.observe(waited)
        self._write_started[connection_id] = end

    def begin_failed(self, exc: BaseException, waited: float = 0.0) -> None:
        """A BEGIN sent outside ``do_execute`` (by outgrow's TransactionControl) raised ``exc`` after ``waited``
        seconds: a busy one waited for the write lock the whole time, and that wait counts too."""
        if is_busy(exc):
            self.busy()
            table = self._current()
            table.lock_wait.observe(waited)

    def busy(self) -> None:
        """A statement or BEGIN was refused because another connection held the lock."""
        table = self._current()
        table.busy += 1

    def transaction_ended(self, connection_id: int) -> None:
        started = self._write_started.pop(connection_id, None)
        if started is not None:
            table = self._current()
            table.write_transactions.observe(perf_counter() - started)

    # -- reading ---------------------------------------------------------------------------------------
    def totals(self) -> ProbeTotals:
        """Cumulative figures since the probe started, merged over threads (a consistent-enough copy: a
        count being written while this reads lands in the next read)."""
        self._retire_dead_threads()
        offset = _unix_offset()
        totals = ProbeTotals(busy=0, checkouts=self.checkouts)
        with self._registry_lock:
            tables = [self._retired, *self._tables]
        for table in tables:
            for key, stats in [*((((s, ""), v) for s, v in list(table.statements.items()))),
                               *(((s, e), v) for (s, e), v in list(table.errors.items()))]:
                merged = totals.statements.get(key)
                histogram = Histogram(list(stats.counts), stats.sum, stats.max)
                if merged is None:
                    totals.statements[key] = StatementTotals(key[0], stats.operation, key[1], histogram,
                                                             stats.last + offset, stats.sample, stats.max)
                else:
                    merged.histogram.add(histogram)
                    merged.last = max(merged.last, stats.last + offset)
                    if stats.max > merged.slowest:
                        merged.slowest, merged.slowest_parameters = stats.max, stats.sample
            totals.lock_wait.add(table.lock_wait)
            totals.write_transactions.add(table.write_transactions)
            totals.pool_wait.add(table.pool_wait)
            totals.busy += table.busy
        return totals

    def pool_figures(self) -> tuple[int, int, int | None, int]:
        """(used, idle, pool size, waiting) of this process's pool, read now."""
        pool = self.engine.pool
        used = _call(pool, "checkedout")
        idle = _call(pool, "checkedin")
        size = _call(pool, "size")
        return used or 0, idle or 0, size, self.waiting

    def _retire_dead_threads(self) -> None:
        with self._registry_lock:
            dead = [t for t in self._tables if (thread := t.thread()) is None or not thread.is_alive()]
            for table in dead:
                self._tables.remove(table)
                _fold(self._retired, table)

    # -- installation ------------------------------------------------------------------------------------
    def _install(self) -> None:
        from outgrow.monitor import hooks

        dialect = self.engine.dialect
        dialect._outgrow_probe = self  # type: ignore[attr-defined]  # read by outgrow's TransactionControl
        hooks.wrap_execution(self, dialect)
        if self.system == "sqlite":
            hooks.fetch_timed_connections(self, self.engine)
        hooks.wrap_transactions(self, dialect)
        hooks.wrap_pool(self, self.engine.pool)


def _fold(into: _ThreadTable, table: _ThreadTable) -> None:
    for statement, stats in list(table.statements.items()):
        _fold_stats(into.statements, statement, stats)
    for key, stats in list(table.errors.items()):
        _fold_stats(into.errors, key, stats)
    into.lock_wait.add(table.lock_wait)
    into.write_transactions.add(table.write_transactions)
    into.pool_wait.add(table.pool_wait)
    into.busy += table.busy


def _fold_stats(into: dict[Any, _Stats], key: Any, stats: _Stats) -> None:
    target = into.get(key)
    if target is None:
        into[key] = stats
        return
    target.counts = [a + b for a, b in zip(target.counts, stats.counts, strict=True)]
    target.sum += stats.sum
    target.last = max(target.last, stats.last)
    if stats.max > target.max:
        target.max, target.sample = stats.max, stats.sample


def _unix_offset() -> float:
    import time
    return time.time() - perf_counter()


def _call(pool: Any, name: str) -> int | None:
    method = getattr(pool, name, None)
    if method is None:
        return None
    try:
        return int(method())
    except (TypeError, NotImplementedError):
        return None
