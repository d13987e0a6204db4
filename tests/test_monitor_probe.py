"""The probe on real engines: counts, durations with the fetch, errors, lock waits, busy events, pools."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from outgrow import connect
from outgrow.monitor import Histogram, instrument, probe_of
from outgrow.monitor.histogram import BOUNDS
from outgrow.settings import Settings


def sleeping_engine(path: Path) -> Engine:
    """A plain SQLAlchemy engine whose connections have sleep_ms(ms): statements of known duration."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def add_sleep(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.create_function("sleep_ms", 1, lambda ms: time.sleep(ms / 1000) or ms)

    return engine


def by_operation(engine: Engine) -> dict[str, Histogram]:
    probe = probe_of(engine)
    assert probe is not None
    merged: dict[str, Histogram] = {}
    for (_statement, _error), stats in probe.totals().statements.items():
        merged.setdefault(stats.operation, Histogram()).add(stats.histogram)
    return merged


def test_n_statements_give_n_observations(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    probe = instrument(engine)
    assert instrument(engine) is probe
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        for i in range(20):
            conn.execute(text("INSERT INTO t VALUES (:i, 'x')"), {"i": i})
        conn.execute(text("INSERT INTO t VALUES (:i, 'y')"), [{"i": 100 + i} for i in range(50)])  # executemany: one
    with engine.connect() as conn:
        for i in range(137):
            conn.execute(text("SELECT v FROM t WHERE id = :i"), {"i": i % 20}).fetchall()
        for _ in range(3):
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT nope FROM t"))
        first = conn.execute(text("SELECT id FROM t ORDER BY id"))
        assert first.fetchone() == (0,)
        del first  # dropped unfinished: counted when the connection closes
    counts = {op: h.count for op, h in by_operation(engine).items()}
    assert counts == {"CREATE": 1, "INSERT": 21, "SELECT": 137 + 3 + 1}
    errors = {key: s.histogram.count for key, s in probe.totals().statements.items() if key[1]}
    assert errors == {("SELECT nope FROM t", "OperationalError"): 3}
    engine.dispose()


def test_percentiles_follow_a_known_distribution(tmp_path: Path) -> None:
    engine = sleeping_engine(tmp_path / "p.db")
    instrument(engine)
    with engine.connect() as conn:
        for ms in [2] * 90 + [40] * 10:
            conn.execute(text("SELECT sleep_ms(:ms)"), {"ms": ms}).fetchall()
    histogram = by_operation(engine)["SELECT"]
    assert histogram.count == 100
    slow = sum(histogram.counts[BOUNDS.index(0.04) + 1:])  # above 40 ms: the ten 40 ms sleeps, nothing else
    assert slow == 10
    p50, p95, p99 = histogram.quantile(0.5), histogram.quantile(0.95), histogram.quantile(0.99)
    assert p50 is not None and 0.002 <= p50 <= 0.0025  # the 2 ms sleeps' bucket
    assert p95 is not None and 0.04 <= p95 <= 0.05
    assert p99 is not None and 0.04 <= p99 <= histogram.max
    assert 0.04 <= histogram.max < 0.2
    engine.dispose()


def test_a_statement_is_timed_until_its_rows_are_fetched(tmp_path: Path) -> None:
    engine = sleeping_engine(tmp_path / "f.db")
    instrument(engine)
    with engine.connect() as conn:
        result = conn.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sleep_ms(20) FROM n"))
        started = time.perf_counter()
        rows = result.fetchall()
        fetch = time.perf_counter() - started
    assert len(rows) == 10
    assert fetch >= 0.15  # pysqlite's execute ran one step: the other nine sleeps happen while fetching
    histogram = by_operation(engine)["SELECT"]
    assert histogram.count == 1
    assert histogram.max >= 0.2
    engine.dispose()


def test_lock_wait_and_busy_events_under_another_process(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    with connect(Settings(database_url=f"sqlite:///{path}")) as db, db.transaction() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(0.8); c.execute('COMMIT')\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        impatient = connect(Settings(database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=0))
        with pytest.raises(OperationalError, match="locked"), impatient.transaction() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        patient = connect(Settings(database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=5000))
        with patient.transaction() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        holder.wait(timeout=10)
    busy = probe_of(impatient.engine).totals()  # type: ignore[union-attr]
    assert busy.busy == 1
    assert busy.lock_wait.count == 1 and busy.lock_wait.max < 0.3  # its short wait, refused, counts too
    waited = probe_of(patient.engine).totals()  # type: ignore[union-attr]
    assert waited.busy == 0
    assert waited.lock_wait.count == 1
    assert 0.3 <= waited.lock_wait.max <= 5.0  # it waited for the other process's COMMIT
    assert waited.write_transactions.count == 1
    impatient.close()
    patient.close()


def test_pool_checkouts_and_connections_in_use(tmp_path: Path) -> None:
    with connect(Settings(database_url=f"sqlite:///{tmp_path / 'pool.db'}", pool_size=3)) as db:
        probe = probe_of(db.engine)
        assert probe is not None
        before = probe.checkouts
        with db.engine.connect() as first, db.engine.connect() as second:
            first.execute(text("SELECT 1")).fetchall()
            second.execute(text("SELECT 1")).fetchall()
            used, _idle, size, waiting = probe.pool_figures()
            assert (used, size, waiting) == (2, 3, 0)
        assert probe.checkouts - before == 2
        assert probe.pool_figures()[:2] == (0, 2)
        assert probe.totals().pool_wait.count >= 2
