"""Edges found in review: dropped results, errors while fetching, forks, racing samplers, damaged history."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from outgrow import connect
from outgrow.monitor import probe_of
from outgrow.monitor.history import HistoryStore, default_history_path
from outgrow.monitor.metrics import collect_metrics
from outgrow.monitor.recorder import sample_history
from outgrow.settings import Settings


def filled(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, '{"a": 1}') for i in range(50)])
        conn.execute("INSERT INTO t VALUES (50, '{broken')")
    conn.close()
    return path


def selects(db_or_probe: object) -> tuple[int, float, int]:
    probe = probe_of(db_or_probe.engine)  # type: ignore[attr-defined]
    assert probe is not None
    found = [s for (statement, _e), s in probe.totals().statements.items() if statement.startswith("SELECT")]
    return (sum(s.histogram.count for s in found), max((s.histogram.max for s in found), default=0.0),
            sum(s.histogram.count for s in found if s.error))


def test_results_dropped_unfinished_are_each_counted_with_their_own_time(tmp_path: Path) -> None:
    with connect(Settings(database_url=f"sqlite:///{filled(tmp_path / 'd.db')}")) as db, db.engine.connect() as conn:
        for _ in range(100):
            result = conn.exec_driver_sql("SELECT v FROM t")
            assert result.fetchone() is not None
            del result  # dropped with 50 rows unread
        time.sleep(0.5)  # the connection stays open: none of this is the dropped statements' time
        count, slowest, _errors = selects(db)
    assert count == 100
    assert slowest < 0.25


def test_an_error_while_fetching_is_the_statements_error(tmp_path: Path) -> None:
    with connect(Settings(database_url=f"sqlite:///{filled(tmp_path / 'e.db')}")) as db, db.engine.connect() as conn:
        try:
            conn.exec_driver_sql("SELECT json_extract(v, '$.a') FROM t ORDER BY id").fetchall()
        except OperationalError as exc:
            assert "malformed JSON" in str(exc)
        else:
            raise AssertionError("the broken row should fail the fetch")
        assert selects(db) == (1, selects(db)[1], 1)


def test_a_forked_worker_does_not_count_its_parents_statements_again(tmp_path: Path) -> None:
    path = filled(tmp_path / "f.db")
    settings = Settings(database_url=f"sqlite:///{path}", monitor_flush_s=3600)
    db = connect(settings)
    with db.engine.connect() as conn:
        for _ in range(50):
            conn.exec_driver_sql("SELECT 42").fetchall()
    child = os.fork()
    if child == 0:  # the worker runs 7 statements of its own
        try:
            with db.engine.connect() as conn:
                for _ in range(7):
                    conn.exec_driver_sql("SELECT 42").fetchall()
            db.close()
        finally:
            os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    db.close()
    snapshot = collect_metrics(settings, window_s=None)
    assert snapshot.by_operation["SELECT"].count == 57


def test_samplers_due_together_take_one_sample(tmp_path: Path) -> None:
    path = filled(tmp_path / "s.db")
    settings = Settings(database_url=f"sqlite:///{path}", alert_db_size_bytes=1000, alert_for_s=0)
    databases = [connect(settings) for _ in range(4)]
    now = time.time()
    results: list[object] = []
    threads = [threading.Thread(target=lambda d=d, i=i: results.append(
        sample_history(d.recorder.store, d.engine, d.dialect, settings, now + 0.001 * i)))  # type: ignore[union-attr]
        for i, d in enumerate(databases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in databases:
        db.close()
    store = HistoryStore(default_history_path(path))
    assert len(store.samples()) == 1
    assert [row[2] for row in store.alert_events()] == ["firing"]  # one webhook call, not four
    assert sum(r is not None for r in results) == 1


def test_pragmas_are_never_explained(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{filled(tmp_path / 'p.db')}", slow_query_ms=0.001)
    with connect(settings) as db:
        with db.read() as conn:  # PRAGMA query_only = ON ... OFF, slow by this threshold
            conn.execute(text("SELECT count(*) FROM t")).all()
        db.recorder.tick()  # type: ignore[union-attr]
        with db.transaction() as conn:  # EXPLAIN of the pragma would have left a pooled connection read-only
            conn.execute(text("INSERT INTO t VALUES (100, 'x')"))
        plans = {row.text: row.plan for row in db.recorder.store.fingerprints().values()}  # type: ignore[union-attr]
    assert plans["SELECT count(*) FROM t"] is not None
    assert all(plan is None for sql, plan in plans.items() if sql.startswith("PRAGMA"))


def test_a_deleted_history_is_made_again_and_a_damaged_one_is_one_line(tmp_path: Path, outgrow_cli: list[str]) -> None:
    path = filled(tmp_path / "h.db")
    history = default_history_path(path)
    with connect(Settings(database_url=f"sqlite:///{path}")) as db:
        db.recorder.tick()  # type: ignore[union-attr]
        history.unlink()
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").fetchall()
        db.recorder.tick()  # type: ignore[union-attr]
    assert collect_metrics(Settings(database_url=f"sqlite:///{path}"), window_s=None).statements.count >= 1
    for suffix in ("", "-wal", "-shm"):
        Path(f"{history}{suffix}").unlink(missing_ok=True)
    history.write_bytes(b"not a database at all" * 100)
    run = subprocess.run([*outgrow_cli, "monitor", "status", str(path)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"cannot use the monitoring history {history}" in run.stderr
