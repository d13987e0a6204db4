"""Fingerprints, captured plans and index hints, on real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url, text

from outgrow import connect
from outgrow.monitor.fingerprint import fingerprint, mask_parameters
from outgrow.monitor.plans import explain_postgresql, explain_sqlite
from outgrow.monitor.slow import slow_queries
from outgrow.settings import Settings
from outgrow.urls import libpq_url

FINGERPRINTS = [
    ("SELECT v FROM t WHERE id = 5", "sqlite", "SELECT v FROM t WHERE id = ?"),
    ("select v from t where id = :id", "sqlite", "SELECT v FROM t WHERE id = ?"),
    ("SELECT v FROM t WHERE id = ?1 AND w = $2", "sqlite", "SELECT v FROM t WHERE id = ? AND w = ?"),
    ("SELECT v FROM t WHERE id = %(id)s AND w = %s", "postgresql", "SELECT v FROM t WHERE id = ? AND w = ?"),
    ("SELECT * FROM t WHERE a IN (1, 2, 3) AND b > -4.5e3", "sqlite", "SELECT * FROM t WHERE a IN (?) AND b > ?"),
    ("SELECT * FROM t WHERE a IN (7, 8)  -- a comment", "sqlite", "SELECT * FROM t WHERE a IN (?)"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y''z')", "sqlite", "INSERT INTO t (a, b) VALUES (?)"),
    ('SELECT "Odd Name", count(*) FROM "T" WHERE x - 1 > 0', "sqlite",
     'SELECT "Odd Name", count(*) FROM "T" WHERE x - ? > ?'),
    ("SELECT x::int FROM t WHERE y = E'a' AND z IS NULL", "postgresql",
     "SELECT x::INT FROM t WHERE y = ? AND z IS NULL"),
]


@pytest.mark.parametrize(("sql", "dialect", "expected"), FINGERPRINTS)
def test_fingerprints_strip_literals_and_parameters(sql: str, dialect: str, expected: str) -> None:
    assert fingerprint(sql, dialect).text == expected


def test_fingerprint_ids_and_operations() -> None:
    assert fingerprint("SELECT 1 WHERE a IN (1,2)").id == fingerprint("select 2 where a in (3, 4, 5)").id
    assert fingerprint("SELECT 1").id != fingerprint("SELECT 1 FROM t").id
    assert fingerprint("WITH c AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM c)").operation == "DELETE"
    assert fingerprint("WITH c AS (DELETE FROM t RETURNING id) SELECT * FROM c").operation == "SELECT"
    assert fingerprint("BEGIN IMMEDIATE").operation == "BEGIN"
    assert mask_parameters({"org": 3, "name": "Ada", "none": None}) == {"org": "<int>", "name": "<str>",
                                                                         "none": None}
    assert mask_parameters([(1, b"x")]) == [["<int>", "<bytes>"]]


def events_file(path: Path, rows: int = 20_000, index: str | None = None) -> Path:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, org INTEGER, kind TEXT, amount REAL, at TEXT)")
        conn.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
                     "INSERT INTO events SELECT i, i % 50, 'k' || (i % 7), i * 1.5, 'x' FROM n")
        if index:
            conn.execute(index)
    return path


def test_a_scan_of_a_large_table_gets_an_index_hint(tmp_path: Path) -> None:
    path = events_file(tmp_path / "scan.db")
    with closing(sqlite3.connect(path)) as conn:
        plan = explain_sqlite(conn, "SELECT count(*) FROM events e WHERE e.kind = ? AND e.amount > ? ORDER BY at",
                              ("k1", 10.0))
        joined = explain_sqlite(conn, "SELECT o.id FROM events o JOIN events p ON p.id = o.id WHERE o.org = :org",
                                {"org": 4})
        broken = explain_sqlite(conn, "SELECT * FROM missing WHERE a = ?", (1,))
    assert plan.text.splitlines()[0].startswith("SCAN e")
    assert [(h.table, h.rows, h.columns) for h in plan.hints] == [("events", 20_000, ("kind", "amount", "at"))]
    assert plan.hints[0].sql == 'CREATE INDEX "ix_events_kind_amount_at" ON "events" ("kind", "amount", "at")'
    assert plan.hints[0].text.startswith("events: full scan of 20,000 rows filtering on kind, amount, at")
    assert [h.columns for h in joined.hints] == [("org",)]  # p is read by its primary key
    assert broken.error is not None and "missing" in broken.error and broken.hints == ()


def test_no_hint_when_an_index_serves_or_the_table_is_small(tmp_path: Path) -> None:
    indexed = events_file(tmp_path / "indexed.db", index="CREATE INDEX events_kind ON events (kind)")
    small = events_file(tmp_path / "small.db", rows=500)
    for path in (indexed, small):
        with closing(sqlite3.connect(path)) as conn:
            plan = explain_sqlite(conn, "SELECT count(*) FROM events WHERE kind = ?", ("k1",))
        assert plan.text and plan.hints == ()


def test_slow_statements_get_their_plan_and_hint_in_the_log(tmp_path: Path) -> None:
    path = events_file(tmp_path / "app.db", rows=60_000)
    settings = Settings(database_url=f"sqlite:///{path}", slow_query_ms=0.5)
    with connect(settings) as db:
        with db.engine.connect() as conn:
            for kind in ("k1", "k2", "k3"):
                conn.execute(text("SELECT count(*), sum(amount) FROM events WHERE kind = :kind"), {"kind": kind}).all()
            conn.execute(text("SELECT id FROM events WHERE id = :id"), {"id": 3}).all()  # fast: no plan
        found = slow_queries(db)
    slow = [q for q in found if q.text == "SELECT count(*), sum(amount) FROM events WHERE kind = ?"]
    assert len(slow) == 1
    query = slow[0]
    assert query.count == 3 and query.operation == "SELECT"
    assert query.sample == '["<str>"]'  # pysqlite gets qmark parameters: values masked, types kept
    assert query.plan is not None and query.plan.startswith("SCAN events")
    assert [h["sql"] for h in query.hints] == ['CREATE INDEX "ix_events_kind" ON "events" ("kind")']
    assert all(q.max_s >= 0.0005 for q in found)


@pytest.mark.postgres
def test_postgresql_plans_use_the_sampled_values(pg_url: str) -> None:
    with psycopg.connect(libpq_url(make_url(pg_url))) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, org int, kind text)")
        conn.execute("INSERT INTO events SELECT i, i % 50, 'k' || (i % 7) FROM generate_series(1, 30000) i")
        conn.execute("CREATE INDEX events_org ON events (org)")
        conn.commit()
        conn.execute("ANALYZE events")
        conn.commit()
        parameters: dict[str, Any] = {"kind": "k1", "org": 3}
        scan = explain_postgresql(conn, "SELECT count(*) FROM events WHERE kind = %(kind)s", parameters)
        served = explain_postgresql(conn, "SELECT count(*) FROM events WHERE org = %(org)s", parameters)
        broken = explain_postgresql(conn, "SELECT * FROM missing WHERE a = %s", (1,))
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable
    assert "Seq Scan on events" in scan.text and "'k1'" in scan.text
    assert [(h.table, h.columns) for h in scan.hints] == [("events", ("kind",))]
    assert scan.hints[0].rows >= 30_000
    assert served.hints == () and "events_org" in served.text
    assert broken.error is not None and "missing" in broken.error
