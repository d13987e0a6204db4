"""The fast path and the copy workers: values sent in PostgreSQL's output forms, streams hashed on each side,
rowid ranges spread over worker processes that all read one state of the source."""

from __future__ import annotations

import itertools
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outgrow import MigrationError
from outgrow.migrate import build_plan, ddl, migrate
from outgrow.migrate.config import MigrationConfig
from outgrow.migrate.copying import copy_table
from outgrow.migrate.introspect import open_source
from outgrow.migrate.progress import Step
from outgrow.migrate.stream import output_forms, rowid_ranges, server_digest, stream_columns
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres

AWKWARD = """
CREATE TABLE awkward (
    id INTEGER PRIMARY KEY, r REAL, t TEXT, v VARCHAR(6), b BLOB, n NUMERIC(12, 2), nn NUMERIC, flag BOOLEAN,
    day DATE, at DATETIME, doc JSONB
);
"""
DOUBLES = [5.0, -0.0, 0.0, 0.1, 1e-300, 123456789012345.6, 1e15 - 1, -2.5, 5e-324, float("inf"), float("-inf")]
TEXTS = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rhere", "\b\f\v", "héllo ✓", "", "\\N", "a\tb\\c"]
TIMES = ["2025-01-01 10:00:00", "2025-01-01T10:00:00.500", "2025-01-01", "0999-12-31 23:59:59", "2024-02-29 00:00",
         "2025-06-01 12:00:00.000001", "2025-06-01 12:00:00.100000"]


def awkward_source(path: Path, rows: int) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(AWKWARD)
    conn.executemany(
        "INSERT INTO awkward VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(i * 3, DOUBLES[i % len(DOUBLES)] if i % 13 else i, TEXTS[i % len(TEXTS)], TEXTS[i % 7][:6],
          bytes([i % 256, 0, 92]) if i % 5 else None, [1.5, "-0", 12, "99.99"][i % 4], ["0.10", "-0.0", 7, 2.5][i % 4],
          [1, 0, "true", "f"][i % 4], "2024-02-29" if i % 3 else "0044-03-15", TIMES[i % len(TIMES)],
          '{"b": 1, "a": [1, 2.50], "s": "x\\ty"}' if i % 2 else "[]")
         for i in range(1, rows + 1)])
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("jobs", [1, 3])
def test_awkward_values_arrive_exactly_on_the_fast_path(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any],
                                                        jobs: int) -> None:
    rows = 3000 if jobs == 1 else 61000  # enough for three rowid ranges
    source = awkward_source(tmp_path / "awkward.db", rows)
    report = migrate(source, pg_url, jobs=jobs)
    assert report.exit_code == 0
    assert stream_columns(report.plan.tables[0]) is not None  # the table took the fast path
    assert [(t.rows, t.verified) for t in report.tables] == [(rows, True)]
    got = {row[0]: row[1:] for row in pg.execute(
        "SELECT id, r, t, v, b, n, nn, flag, day::text, at::text, doc::text FROM awkward")}
    assert len(got) == rows
    with sqlite3.connect(source) as conn:
        doubles = dict(conn.execute("SELECT id, r FROM awkward").fetchall())
    for i in range(1, rows + 1):
        r, t, v, b, n, nn, flag, day, at, doc = got[i * 3]
        assert (r, struct.pack(">d", r)) == (doubles[i * 3], struct.pack(">d", doubles[i * 3]))  # every bit
        assert r == float(DOUBLES[i % len(DOUBLES)] if i % 13 else i)
        assert (t, v) == (TEXTS[i % len(TEXTS)], TEXTS[i % 7][:6])
        assert b == (bytes([i % 256, 0, 92]) if i % 5 else None)
        assert str(n) == ["1.50", "0.00", "12.00", "99.99"][i % 4]
        assert nn == Decimal(["0.10", "0", "7", "2.5"][i % 4])
        assert flag is [True, False, True, False][i % 4]
        assert day == ("2024-02-29" if i % 3 else "0044-03-15")
        assert datetime.fromisoformat(at) == datetime.fromisoformat(TIMES[i % len(TIMES)])
        assert doc == ('{"a": [1, 2.50], "b": 1, "s": "x\\ty"}' if i % 2 else "[]")


def test_a_double_beyond_1e15_is_checked_row_by_row(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = tmp_path / "big.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, x REAL)")
        conn.executemany("INSERT INTO m VALUES (?, ?)", [(1, 1e16), (2, 2.0 ** 60), (3, 1.2345678901234567e300),
                                                         (4, 0.5)])
    report = migrate(source, pg_url, jobs=1)
    assert [t.verified for t in report.tables] == [True]
    assert pg.execute("SELECT x FROM m ORDER BY id").fetchall() == [(1e16,), (2.0 ** 60,), (1.2345678901234567e300,),
                                                                    (0.5,)]


def test_the_stream_hash_sees_one_changed_value(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = awkward_source(tmp_path / "awkward.db", 200)
    plan = build_plan(source)
    table = plan.tables[0]
    streams = stream_columns(table)
    assert streams is not None
    conn = open_source(source)
    with psycopg.connect(libpq_conninfo(pg_url)) as loader:
        loader.execute("CREATE SCHEMA hashed")
        loader.execute(ddl.create_table(table, "hashed"))
        sent = copy_table(conn, loader, table, "hashed", set())
        with output_forms(loader):
            assert server_digest(loader, table, streams, "hashed", -(2 ** 63), 2 ** 63 - 1) == (200, sent.digest)
            for change in ("UPDATE hashed.awkward SET r = r + 1e-9 WHERE id = 33",  # 5.0 -> 5.000000001
                           "UPDATE hashed.awkward SET at = at + interval '1 microsecond' WHERE id = 60",
                           "UPDATE hashed.awkward SET t = t || ' ' WHERE id = 90",
                           "DELETE FROM hashed.awkward WHERE id = 120"):
                loader.execute("SAVEPOINT s")
                loader.execute(change)
                assert server_digest(loader, table, streams, "hashed", -(2 ** 63), 2 ** 63 - 1)[1] != sent.digest
                loader.execute("ROLLBACK TO SAVEPOINT s")
        loader.rollback()
    conn.close()


def test_rowid_ranges_cover_every_row_once(tmp_path: Path) -> None:
    source = tmp_path / "gaps.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE g (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO g VALUES (?)", [(i * abs(i),) for i in range(-50, 1000)])
    plan = build_plan(source)
    reader = open_source(source)
    ranges = rowid_ranges(reader, plan.tables[0], 4)
    ids = sorted(row[0] for row in reader.execute("SELECT id FROM g"))
    counts = [sum(low <= i <= high for i in ids) for low, high in ranges]
    assert len(ranges) == 4 and sum(counts) == len(ids) and min(counts) > len(ids) // 8
    assert ranges[0][0] == -(2 ** 63) and ranges[-1][1] == 2 ** 63 - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))


WRITE_PAIRS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
n = 1_000_000
while True:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO a VALUES (?, 'x')", (n,))
    conn.execute("INSERT INTO b VALUES (?, 'y')", (n,))
    conn.execute("UPDATE a SET body = ? WHERE id IN (1, 30000, 59999)", (str(n),))  # rows in different ranges
    conn.execute("COMMIT")
    n += 1
"""


def pair_tables(path: Path, journal_mode: str) -> Path:
    """Tables a and b of 60,000 rows each, for WRITE_PAIRS to write to."""
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        for name in ("a", "b"):
            conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, body TEXT)")
            conn.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) "
                         f"INSERT INTO {name} SELECT i, 'row' FROM n")
    conn.close()
    return path


def test_workers_read_one_state_of_the_source_while_it_is_written(tmp_path: Path, pg_url: str,
                                                                  pg: psycopg.Connection[Any]) -> None:
    source = pair_tables(tmp_path / "busy.db", "WAL")
    writer = subprocess.Popen([sys.executable, "-c", WRITE_PAIRS, str(source)])
    try:
        with sqlite3.connect(source) as conn:
            while conn.execute("SELECT count(*) FROM a").fetchone()[0] < 60100:  # the writer is committing pairs
                assert writer.poll() is None
                time.sleep(0.05)
        report = migrate(source, pg_url, jobs=3)
    finally:
        writer.kill()
        writer.wait()
    assert [t.verified for t in report.tables] == [True, True]
    a = pg.execute("SELECT array_agg(id ORDER BY id) FROM a").fetchone()
    b = pg.execute("SELECT array_agg(id ORDER BY id) FROM b").fetchone()
    assert a == b  # a pair committed together arrived together
    # Each of these rows was read by a different worker, each from its own read transaction: the same state.
    assert len(set(pg.execute("SELECT body FROM a WHERE id IN (1, 30000, 59999)").fetchall())) == 1
    with sqlite3.connect(source) as conn:
        assert conn.execute("SELECT count(*) FROM a").fetchone()[0] > len(a[0]) > 60000  # written during the run


def test_a_value_a_worker_cannot_carry_stops_the_run_as_in_one_process(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "bad.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, i) for i in range(1, 50001)])
        conn.execute("UPDATE t SET n = 'forty' WHERE id = 40000")
    messages = []
    for jobs in (1, 3):
        with pytest.raises(MigrationError) as caught:
            migrate(source, pg_url, jobs=jobs)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "t.n at {'rowid': 40000}" in messages[0]


def _small(path: Path, script: str) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(script)
    conn.close()
    return path


@pytest.mark.parametrize("jobs", [1, 3])
def test_values_written_after_planning_are_checked_never_changed(tmp_path: Path, pg_url: str,
                                                                pg: psycopg.Connection[Any], jobs: int) -> None:
    source = _small(tmp_path / "late.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, doc JSON, at DATETIME);
        INSERT INTO t VALUES (1, '{"a": 1}', '2025-01-01 10:00:00');
    """)

    def write_late(phase: str) -> None:  # after the plan chose jsonb and timestamp, before the copy
        if phase == "staging":
            with sqlite3.connect(source) as conn:
                conn.execute("""INSERT INTO t VALUES (2, '{"a": 1, "a": 2}', '2025-01-01 10:00:00+05:00')""")
            conn.close()

    with pytest.raises(MigrationError):
        migrate(source, pg_url, jobs=jobs, fault=write_late)
    assert pg.execute("SELECT to_regclass('public.t')").fetchone() == (None,)


def test_the_identity_continues_after_rows_written_after_planning(tmp_path: Path, pg_url: str,
                                                                   pg: psycopg.Connection[Any]) -> None:
    source = _small(tmp_path / "ids.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT); "
                                         "INSERT INTO t VALUES (1, 'a'), (2, 'b');")

    def write_late(phase: str) -> None:
        if phase == "staging":
            with sqlite3.connect(source) as conn:
                conn.execute("INSERT INTO t VALUES (3, 'c')")
            conn.close()

    migrate(source, pg_url, fault=write_late)
    assert pg.execute("INSERT INTO t (x) VALUES ('new') RETURNING id").fetchone() == (4,)


def test_wide_numerics_dates_of_year_zero_and_a_desc_key(tmp_path: Path, pg_url: str,
                                                          pg: psycopg.Connection[Any]) -> None:
    source = _small(tmp_path / "edges.db", """
        CREATE TABLE wide (id INTEGER PRIMARY KEY, n DECIMAL(38, 18));
        INSERT INTO wide VALUES (1, 12345678901), (2, -0.5);  -- 29 and 19 digits once padded to 18 decimals
        CREATE TABLE backwards (id INTEGER PRIMARY KEY /* not the rowid */ DESC, x TEXT);
        INSERT INTO backwards VALUES (3, 'a'), (1, 'b'), (2, 'c');
    """)
    report = migrate(source, pg_url, jobs=1)
    assert [t.verified for t in report.tables] == [True, True]
    assert pg.execute("SELECT n::text FROM wide ORDER BY id").fetchall() == [
        ("12345678901.000000000000000000",), ("-0.500000000000000000",)]
    assert pg.execute("SELECT id, x FROM backwards ORDER BY id").fetchall() == [(1, "b"), (2, "c"), (3, "a")]
    year_zero = _small(tmp_path / "zero.db", "CREATE TABLE d (id INTEGER PRIMARY KEY, day DATE); "
                                             "INSERT INTO d VALUES (1, '2024-01-01'), (2, '0000-01-01');")
    with pytest.raises(MigrationError, match=r"d.day at \{'rowid': 2\}.*year 0"):
        migrate(year_zero, pg_url, jobs=1)


def test_a_before_statement_cannot_change_how_copy_data_is_read(tmp_path: Path, pg_url: str,
                                                                 pg: psycopg.Connection[Any]) -> None:
    source = _small(tmp_path / "enc.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT, b BLOB); "
                                         "INSERT INTO t VALUES (1, 'café', x'00ff5c');")
    config = MigrationConfig(before=["SET client_encoding TO 'LATIN1'", "SET standard_conforming_strings TO off"])
    for jobs, schema in ((1, "one"), (3, "three")):
        report = migrate(source, pg_url, jobs=jobs, schema=schema, config=config)
        assert [t.verified for t in report.tables] == [True]
        assert pg.execute(f"SELECT x, b FROM {schema}.t").fetchone() == ("café", b"\x00\xff\\")


def test_a_rollback_journal_source_under_a_busy_writer_is_read_by_one_connection(
        tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = pair_tables(tmp_path / "journal.db", "DELETE")
    writer = subprocess.Popen([sys.executable, "-c", WRITE_PAIRS, str(source)])
    try:
        time.sleep(0.3)
        report = migrate(source, pg_url, jobs=3)
    finally:
        writer.kill()
        writer.wait()
    assert [t.verified for t in report.tables] == [True, True]
    assert pg.execute("SELECT array_agg(id ORDER BY id) FROM a").fetchone() == \
        pg.execute("SELECT array_agg(id ORDER BY id) FROM b").fetchone()
    assert len(set(pg.execute("SELECT body FROM a WHERE id IN (1, 30000, 59999)").fetchall())) == 1


def test_progress_counts_the_copy_data_sent(tmp_path: Path, pg_url: str) -> None:
    source = awkward_source(tmp_path / "awkward.db", 61000)
    sent = {}
    for jobs, schema in ((1, "one"), (3, "three")):
        steps: list[Step] = []
        migrate(source, pg_url, jobs=jobs, schema=schema, progress=steps.append)
        copies = [s for s in steps if s.phase == "copy"]
        assert copies[-1].done == 61000
        assert all(a.sent_bytes <= b.sent_bytes for a, b in itertools.pairwise(copies))
        sent[jobs] = copies[-1].sent_bytes
    assert sent[1] == sent[3] > 61000 * 40  # the same COPY text, however many workers formatted it
