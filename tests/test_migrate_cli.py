"""``outgrow migrate`` and ``outgrow verify`` as a user runs them: exit codes, one-line errors, JSON."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from outgrow.testing import libpq_conninfo, schema_snapshot

pytestmark = pytest.mark.postgres


def run(cli: list[str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def make(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()
    return path


def test_migrate_then_verify_then_detect_a_change(outgrow_cli: list[str], tmp_path: Path, pg_url: str) -> None:
    source = make(tmp_path / "app.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                                       "INSERT INTO t VALUES (1, 'a'), (2, 'b');")
    result = run(outgrow_cli, "migrate", str(source), pg_url, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["exit_code"] == 0
    assert [(t["target"], t["loaded_rows"], t["verified"]) for t in data["tables"]] == [("t", 2, True)]
    assert run(outgrow_cli, "verify", str(source), pg_url).returncode == 0
    with psycopg.connect(libpq_conninfo(pg_url),
                         autocommit=True) as pg:
        pg.execute("UPDATE t SET name = 'z' WHERE id = 2")
    changed = run(outgrow_cli, "verify", str(source), pg_url)
    assert changed.returncode == 1
    assert changed.stderr.splitlines()[0] == "error: t: 2 rows in PostgreSQL, 2 in SQLite; first differing key: id=2"


def test_rejected_values_exit_3_in_report_mode_and_1_in_stop_mode(outgrow_cli: list[str], tmp_path: Path,
                                                                 pg_url: str) -> None:
    source = make(tmp_path / "bad.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, day DATE);"
                                       "INSERT INTO t VALUES (1, '2024-01-01'), (2, 'tomorrow');")
    stopped = run(outgrow_cli, "migrate", str(source), pg_url)
    assert stopped.returncode == 1
    assert stopped.stderr.splitlines() == [
        "error: 1 values cannot be carried exactly; first: t.day at {'rowid': 2}: tomorrow (not an ISO-8601 date "
        "(YYYY-MM-DD))",
        "hint: nothing was written; --dry-run lists them, --on-error report --rejects FILE loads the rest"]
    rejects = tmp_path / "rejects.jsonl"
    reported = run(outgrow_cli, "migrate", str(source), pg_url, "--on-error", "report", "--rejects", str(rejects))
    assert reported.returncode == 3, reported.stderr
    assert [json.loads(line)["value"] for line in rejects.read_text().splitlines()] == ["tomorrow"]


def test_dry_run_prints_the_plan_and_writes_nothing(outgrow_cli: list[str], tmp_path: Path, pg_url: str) -> None:
    source = make(tmp_path / "app.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, price NUMERIC(8,2));")
    result = run(outgrow_cli, "migrate", str(source), pg_url, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "numeric(8,2)" in result.stdout
    assert "dry run: nothing written. 0 rows in 1 tables, 0 values that cannot be carried." in result.stdout


def test_usage_errors_exit_2(outgrow_cli: list[str], tmp_path: Path) -> None:
    result = run(outgrow_cli, "migrate", str(tmp_path / "x.db"), "postgresql://u@127.0.0.1:1/d",
                 "--identifiers", "shout")
    assert result.returncode == 2
    assert "'shout' is not one of fold, preserve, snake" in result.stderr
    missing = run(outgrow_cli, "migrate", str(tmp_path / "x.db"))
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[0] == "error: no target PostgreSQL given"


def test_kill_9_during_copy_leaves_the_target_as_it_was(outgrow_cli: list[str], tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "big.db"
    conn = sqlite3.connect(source)
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000) "
                 "INSERT INTO events SELECT i, printf('event %d with some text to copy', i) FROM n")
    conn.commit()
    conn.close()
    with psycopg.connect(libpq_conninfo(pg_url),
                         autocommit=True) as pg:
        pg.execute("CREATE TABLE events (kept text)")
        pg.execute("INSERT INTO events VALUES ('original')")
        before = schema_snapshot(pg)
        child = subprocess.Popen([*outgrow_cli, "migrate", str(source), pg_url, "--replace"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not pg.execute("SELECT 1 FROM pg_stat_progress_copy WHERE tuples_processed > 0").fetchone():
                assert child.poll() is None, "the migration ended before it could be killed mid-COPY"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait()
        assert child.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 30
        while pg.execute("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                         "AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchone():
            assert time.monotonic() < deadline, "the killed client's transaction is still open"
            time.sleep(0.05)
        assert schema_snapshot(pg) == before
        assert pg.execute("SELECT kept FROM events").fetchall() == [("original",)]
        rerun = run(outgrow_cli, "migrate", str(source), pg_url, "--replace")
        assert rerun.returncode == 0, rerun.stderr
        assert pg.execute("SELECT count(*) FROM events").fetchone() == (150000,)
