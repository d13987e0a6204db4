"""Captured plans and index hints, on real SQLite files and a real PostgreSQL; the column analysis behind them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url, text

from outgrow import connect
from outgrow.monitor.plan_columns import filtered_columns
from outgrow.monitor.plans import CapturedPlan, ScanHint, explain_postgresql, explain_sqlite, mask_literals
from outgrow.monitor.slow import slow_queries
from outgrow.settings import Settings
from outgrow.urls import libpq_url

NEW_EQP = pytest.mark.skipif(sqlite3.sqlite_version_info < (3, 36, 0), reason="SQLite < 3.36 writes SCAN TABLE x")


def events_file(path: Path, rows: int = 20_000, *statements: str) -> Path:
    """events (rows rows, no index but the rowid) and projects (100 rows), plus ``statements``."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, org INTEGER, kind TEXT, amount REAL, at TEXT)")
        conn.execute("CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
                     "INSERT INTO events SELECT i, i % 50, 'k' || (i % 7), i * 1.5, 'x' FROM n")
        conn.execute("INSERT INTO projects SELECT id, 'p' || id FROM events WHERE id <= 100")
        for statement in statements:
            conn.execute(statement)
    return path


@pytest.fixture
def events(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(events_file(tmp_path / "events.db"))) as conn:
        yield conn


def hints(plan: CapturedPlan) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(h.table, h.rows, h.columns) for h in plan.hints]


# -- SQLite ---------------------------------------------------------------------------------------------------
@NEW_EQP
def test_a_scan_of_a_large_table_gets_an_index_hint(events: sqlite3.Connection) -> None:
    plan = explain_sqlite(events, "SELECT * FROM events e WHERE e.amount > ? AND e.kind = ? ORDER BY at",
                          (10.0, "k1"))
    assert plan == CapturedPlan("|--SCAN e\n`--USE TEMP B-TREE FOR ORDER BY", (
        ScanHint("events", 20_000, ("kind", "amount", "at"),
                 'CREATE INDEX "ix_events_kind_amount_at" ON "events" ("kind", "amount", "at")'),))
    assert plan.hints[0].text == ("events: full scan of 20,000 rows filtering on kind, amount, at; an index could "
                                  'cover them: CREATE INDEX "ix_events_kind_amount_at" ON "events" '
                                  '("kind", "amount", "at")')


@NEW_EQP
def test_the_plan_is_drawn_as_the_sqlite3_shell_draws_it(events: sqlite3.Connection) -> None:
    plan = explain_sqlite(events, "SELECT * FROM events WHERE org = :org UNION ALL "
                                  "SELECT * FROM events WHERE id IN (SELECT id FROM projects WHERE name = :name)",
                          {"org": 3, "name": "p1"})
    assert plan.text == "\n".join([
        "`--COMPOUND QUERY",
        "   |--LEFT-MOST SUBQUERY",
        "   |  `--SCAN events",
        "   `--UNION ALL",
        "      |--SEARCH events USING INTEGER PRIMARY KEY (rowid=?)",
        "      `--LIST SUBQUERY 2",
        "         `--SCAN projects",
    ])
    assert hints(plan) == [("events", 20_000, ("org",))]  # projects: 100 rows, cheap to scan


@pytest.mark.parametrize(("sql", "parameters", "expected"), [
    ("SELECT p.name FROM projects p JOIN events e ON e.org = p.id WHERE p.name = ?", ("p1",), ("org",)),
    ("SELECT o.id FROM events o JOIN events p ON p.id = o.id WHERE o.org = :org", {"org": 4}, ("org",)),
    ("SELECT * FROM events WHERE kind LIKE 'k1%' AND org = ?1 ORDER BY at DESC", (4,), ("org", "kind", "at")),
    ("UPDATE events SET kind = ? WHERE at < ? AND amount BETWEEN ? AND ?", [("a", "b", 1, 2), ("c", "d", 3, 4)],
     ("at", "amount")),  # of executemany's rows, the first; ranges in the order written
    ("DELETE FROM events WHERE org IN (SELECT id FROM projects WHERE name = $name)", {"name": "p1"}, ("org",)),
    ("WITH c AS (SELECT org, count(*) AS n FROM events WHERE kind = ? GROUP BY org) SELECT * FROM c ORDER BY n",
     ("k1",), ("kind",)),
])
def test_hint_columns(events: sqlite3.Connection, sql: str, parameters: Any, expected: tuple[str, ...]) -> None:
    plan = explain_sqlite(events, sql, parameters)
    assert plan.error is None
    assert hints(plan) == [("events", 20_000, expected)]


@pytest.mark.parametrize(("sql", "parameters"), [
    ("SELECT * FROM events WHERE kind LIKE '%1'", ()),  # a leading wildcard: no index serves it
    ("SELECT * FROM events WHERE lower(kind) = ? OR amount <> ?", ("k1", 1)),  # a function, an inequality
    ("SELECT count(*) FROM events", None),  # no condition at all
    ("SELECT * FROM projects WHERE name = ?", ("p1",)),  # 100 rows: cheap
    ("SELECT * FROM events WHERE id > ? AND +id < ?", (5, 10)),  # the rowid is its own index
])
def test_no_hint_without_an_indexable_column_or_a_large_table(events: sqlite3.Connection, sql: str,
                                                               parameters: Any) -> None:
    plan = explain_sqlite(events, sql, parameters)
    assert plan.text and plan.error is None and plan.hints == ()


@NEW_EQP
def test_no_hint_when_an_index_serves_or_already_exists(tmp_path: Path) -> None:
    path = events_file(tmp_path / "indexed.db", 20_000, "CREATE INDEX events_kind ON events (kind, amount)")
    with closing(sqlite3.connect(path)) as conn:
        served = explain_sqlite(conn, "SELECT * FROM events WHERE kind = ?", ("k1",))
        unused = explain_sqlite(conn, "SELECT * FROM events NOT INDEXED WHERE kind = ?", ("k1",))
        longer = explain_sqlite(conn, "SELECT * FROM events NOT INDEXED WHERE kind = ? AND org = ?", ("k1", 2))
    assert (served.text, served.hints) == ("`--SEARCH events USING INDEX events_kind (kind=?)", ())
    assert (unused.text, unused.hints) == ("`--SCAN events", ())  # the planner chose the scan knowingly
    assert hints(longer) == [("events", 20_000, ("kind", "org"))]


def test_row_counts_are_read_cheaply(tmp_path: Path) -> None:
    stale = events_file(tmp_path / "stale.db", 20_000, "ANALYZE", "DELETE FROM events WHERE id > 15000")
    gappy = events_file(tmp_path / "gappy.db", 20_000, "DELETE FROM events WHERE id < 19000")
    clustered = tmp_path / "clustered.db"
    with closing(sqlite3.connect(clustered)) as conn, conn:
        conn.execute("CREATE TABLE pairs (a INTEGER, b TEXT, c INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID")
        conn.executemany("INSERT INTO pairs VALUES (?, 'x', ?)", [(i, i % 9) for i in range(12_345)])
    found = {}
    for path, sql in ((stale, "SELECT * FROM events WHERE org = ?"), (gappy, "SELECT * FROM events WHERE org = ?"),
                      (clustered, "SELECT * FROM pairs WHERE c = ?")):
        with closing(sqlite3.connect(path)) as conn:
            found[path.stem] = hints(explain_sqlite(conn, sql, (1,)))
    assert found == {
        "stale": [("events", 20_000, ("org",))],  # sqlite_stat1, as ANALYZE left it
        "gappy": [("events", 20_000, ("org",))],  # max(rowid): an upper bound, no count(*)
        "clustered": [("pairs", 12_345, ("c",))],  # WITHOUT ROWID: count(*)
    }


def test_errors_give_one_line_and_no_plan(events: sqlite3.Connection) -> None:
    cases = {
        "gone": ("SELECT * FROM temp_rows WHERE a = ?", (1,)),
        "unbound": ("SELECT * FROM events WHERE kind = ?", None),
        "named": ("SELECT * FROM events WHERE kind = :kind", {"other": 1}),
        "script": ("SELECT 1; DELETE FROM events", None),
        "pragma": ("PRAGMA query_only = ON", None),
        "bad type": ("SELECT * FROM events WHERE kind = ?", (object(),)),
    }
    errors = {name: explain_sqlite(events, sql, parameters) for name, (sql, parameters) in cases.items()}
    assert {name: (plan.text, plan.hints, plan.error) for name, plan in errors.items()} == {
        "gone": ("", (), "OperationalError: no such table: temp_rows"),
        "unbound": ("", (), "ProgrammingError: Incorrect number of bindings supplied. The current statement uses 1, "
                            "and there are 0 supplied."),
        "named": ("", (), "ProgrammingError: You did not supply a value for binding parameter :kind."),
        "script": ("", (), "not one statement: the plan of a script is not captured"),
        "pragma": ("", (), "no plan for PRAGMA: only queries and writes are explained"),
        "bad type": ("", (), "ProgrammingError: Error binding parameter 1: type 'object' is not supported"),
    }
    assert events.execute("SELECT count(*) FROM events").fetchone() == (20_000,)
    assert events.execute("PRAGMA query_only").fetchone() == (0,)


def test_slow_statements_get_their_plan_and_hint_in_the_log(tmp_path: Path) -> None:
    path = events_file(tmp_path / "app.db", 60_000)
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
    assert query.plan == "`--SCAN events"
    assert [h["sql"] for h in query.hints] == ['CREATE INDEX "ix_events_kind" ON "events" ("kind")']


# -- the column analysis ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sql", "dialect", "table", "alias", "expected"), [
    ("SELECT * FROM events WHERE at > ? AND org = ? AND kind IN (?, ?) ORDER BY id", "sqlite", "events", None,
     ("org", "kind", "at", "id")),
    ("SELECT * FROM events e JOIN projects p ON p.id = e.project_id WHERE p.org = ?", "sqlite", "events", "e",
     ("project_id",)),  # filtered on nothing else: the join key
    ("SELECT * FROM events e JOIN projects p ON p.id = e.project_id WHERE p.org = ?", "sqlite", "projects", "p",
     ("org",)),
    ("SELECT * FROM events, projects WHERE org = ?", "sqlite", "events", None, ()),  # whose org? not said
    ("SELECT * FROM events WHERE org = ? AND NOT kind = ? AND at IS NOT NULL AND abs(amount) > ?", "sqlite",
     "events", None, ("org",)),
    ("SELECT kind, count(*) AS n FROM events WHERE org = ? GROUP BY kind ORDER BY n, kind", "sqlite", "events", None,
     ("org", "kind")),  # n is the select list's alias, not a column
    ("SELECT * FROM Events WHERE Kind = ? AND KIND = ?", "sqlite", "events", None, ("Kind",)),
    ('SELECT * FROM "Events" WHERE "Kind" = %(kind)s AND Org = %s', "postgresql", "Events", None, ("Kind", "org")),
    ("SELECT * FROM events WHERE kind = $1 AND at >= $2::timestamptz ORDER BY at", "postgresql", "events", None,
     ("kind", "at")),
    ("SELECT * FROM events WHERE", "sqlite", "events", None, ()),  # does not parse
])
def test_filtered_columns(sql: str, dialect: str, table: str, alias: str | None, expected: tuple[str, ...]) -> None:
    assert filtered_columns(sql, dialect, table, alias) == expected


# -- PostgreSQL -------------------------------------------------------------------------------------------------
def test_mask_literals_hides_every_value_in_a_condition() -> None:
    assert mask_literals("((e.kind = 'it''s k1'::text) AND (e.n > 42) AND (e.x1 = ANY ('{1,2}'::integer[])))") \
        == "((e.kind = '?'::text) AND (e.n > ?) AND (e.x1 = ANY ('?'::integer[])))"
    assert mask_literals("(e.a = 'unterminated") == "?"


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(libpq_url(make_url(pg_url))) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, org int, kind text, at timestamptz)")
        conn.execute("CREATE TABLE projects (id bigint PRIMARY KEY, name text)")
        conn.execute("INSERT INTO events SELECT i, i % 50, 'k' || (i % 7), '2025-01-01'::timestamptz + i * "
                     "interval '1 minute' FROM generate_series(1, 30000) i")
        conn.execute("INSERT INTO projects SELECT i, 'p' || i FROM generate_series(1, 100) i")
        conn.execute("CREATE INDEX events_org ON events (org)")
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        yield conn


@pytest.mark.postgres
def test_postgresql_plans_use_the_sampled_values(pg: psycopg.Connection[Any]) -> None:
    scan = explain_postgresql(pg, "SELECT count(*) FROM events WHERE kind = %(kind)s AND at >= %(since)s",
                              {"kind": "k1", "since": "2025-01-02"})
    assert scan.text == "\n".join([
        "Aggregate  (rows=1)",
        "  ->  Seq Scan on events  (rows=4080)",  # planned with the sampled values, which the text masks
        "        Filter: ((events.at >= '?'::timestamp with time zone) AND (events.kind = '?'::text))",
    ])
    assert scan.hints == (ScanHint("events", 30_000, ("kind", "at"),
                                   'CREATE INDEX "ix_events_kind_at" ON "events" ("kind", "at")'),)
    assert pg.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


@pytest.mark.postgres
def test_postgresql_joins_and_served_scans(pg: psycopg.Connection[Any]) -> None:
    joined = explain_postgresql(pg, "SELECT p.name FROM events e JOIN projects p ON p.id = e.org "
                                    "WHERE e.kind = %s ORDER BY e.at", ("k2",))
    served = explain_postgresql(pg, "SELECT count(*) FROM events WHERE org = %s", (3,))
    unselective = explain_postgresql(pg, "SELECT count(*) FROM events WHERE org >= %s", (0,))
    assert hints(joined) == [("events", 30_000, ("kind", "at"))]
    assert "Hash Join" in joined.text and "Hash Cond: (e.org = p.id)" in joined.text
    assert (served.hints, served.text.splitlines()[1:3]) == ((), [
        "  ->  Bitmap Heap Scan on events  (rows=600)", "        Recheck Cond: (events.org = '?'::smallint)"])
    assert "Seq Scan on events" in unselective.text and unselective.hints == ()  # events_org exists


@pytest.mark.postgres
def test_postgresql_hints_name_a_schema_other_than_public(pg: psycopg.Connection[Any]) -> None:
    pg.execute("CREATE SCHEMA audit")
    pg.execute("CREATE TABLE audit.trail AS SELECT i AS id, 'u' || (i % 10) AS who FROM generate_series(1, 12000) i")
    pg.execute("ANALYZE audit.trail")
    pg.commit()
    plan = explain_postgresql(pg, "SELECT * FROM audit.trail t WHERE t.who = %s", ("u1",))
    assert plan.text.splitlines()[0] == "Seq Scan on trail t  (rows=1200)"
    assert plan.hints == (
        ScanHint("trail", 12_000, ("who",), 'CREATE INDEX "ix_trail_who" ON "audit"."trail" ("who")'),)


@pytest.mark.postgres
def test_postgresql_explain_executes_nothing_and_keeps_the_callers_transaction(pg: psycopg.Connection[Any]) -> None:
    pg.execute("INSERT INTO projects VALUES (101, 'mine')")  # the caller's open transaction
    update = explain_postgresql(pg, "UPDATE events SET kind = %s WHERE kind = %s", ("zz", "k1"))
    broken = explain_postgresql(pg, "SELECT * FROM missing WHERE a = %s", (1,))
    untyped = explain_postgresql(pg, "SELECT * FROM projects WHERE %s IS NULL", (None,))  # client-side retry
    script = explain_postgresql(pg, "SELECT 1; COMMIT", None)
    assert update.text.splitlines()[:2] == ["Update on events  (rows=0)", "  ->  Seq Scan on events  (rows=4286)"]
    assert hints(update) == [("events", 30_000, ("kind",))]
    assert (broken.text, broken.error) == ("", 'UndefinedTable: relation "missing" does not exist')
    assert (untyped.error, untyped.text.splitlines()[0]) == (None, "Seq Scan on projects  (rows=100)")
    assert script.error == "not one statement: the plan of a script is not captured"
    assert pg.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert pg.execute("SELECT count(*) FROM events WHERE kind = 'zz'").fetchone() == (0,)
    assert pg.execute("SELECT name FROM projects WHERE id = 101").fetchone() == ("mine",)
    pg.rollback()
    with pytest.raises(psycopg.errors.DivisionByZero):
        pg.execute("SELECT 1/0")
    failed = explain_postgresql(pg, "SELECT 1", None)
    assert failed.error == "the connection is in a failed transaction"
