"""Translations that look right and would mean something else: each case is either carried with the same
behaviour on both engines or listed as not carried, never changed silently (found by review)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import accepted_on_both, libpq_conninfo

pytestmark = pytest.mark.postgres



def test_checks_keep_their_meaning(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "checks.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE t (
            id INTEGER PRIMARY KEY,
            email TEXT CHECK (email NOT LIKE '% %'),
            active BOOLEAN NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            n INTEGER CHECK (n),
            code TEXT COLLATE NOCASE CHECK (code GLOB '[A-Z]*'),
            k INTEGER CHECK (typeof(k) = 'INTEGER' OR k IS NULL)
        );
    """)
    report = migrate(path, pg_url)
    assert report.plan.tables[0].not_carried == [
        "check (TYPEOF(k) = 'INTEGER' OR k IS NULL): typeof() that the PostgreSQL column type does not guarantee"]
    rows = [
        ("(1, 'a@x', TRUE, 5, 'Abc', NULL)", True),
        ("(2, 'a b', TRUE, 5, 'Abc', NULL)", False),  # NOT LIKE '% %' refuses a space (not the reverse)
        ("(3, 'c@x', FALSE, 5, 'Abc', NULL)", True),  # CHECK (active IN (0, 1)) on a boolean
        ("(4, 'd@x', TRUE, 0, 'Abc', NULL)", False),  # CHECK (n): 0 is false
        ("(5, 'e@x', TRUE, NULL, 'Abc', NULL)", True),  # NULL passes a CHECK
        ("(6, 'f@x', TRUE, 7, 'abc', NULL)", False),  # GLOB is case-sensitive even on a NOCASE (citext) column
    ]
    with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as pg:
        for values, accepted in rows:
            assert accepted_on_both(conn, pg, f"INSERT INTO t VALUES {values}") == (accepted, accepted), values
    conn.close()


def test_a_unique_constraint_collation_does_not_change_the_column(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "unique.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, UNIQUE (name COLLATE NOCASE));"
                       "INSERT INTO t VALUES (1, 'bob');")
    report = migrate(path, pg_url)
    assert [c.choice.pg_type for c in report.plan.tables[0].columns][1] == "text"
    query = "SELECT count(*) FROM t WHERE name = 'BOB'"
    with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as pg:
        assert pg.execute(query).fetchone() == conn.execute(query).fetchone() == (0,)
        assert accepted_on_both(conn, pg, "INSERT INTO t VALUES (2, 'BOB')") == (False, False)
    conn.close()


def test_hostile_names_and_literals_stay_data(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "hostile.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE victim (id INTEGER PRIMARY KEY);
        CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);
        CREATE TABLE log (id INTEGER PRIMARY KEY, msg TEXT);
        CREATE VIEW v AS SELECT "now() AS z; DROP TABLE victim; --".a FROM t AS "now() AS z; DROP TABLE victim; --";
        CREATE VIEW w AS SELECT X.a FROM t AS x;
        CREATE TRIGGER t_log AFTER INSERT ON t BEGIN
            INSERT INTO log (msg) VALUES ('costs $outgrow$ and
        spans lines');
        END;
        INSERT INTO victim VALUES (1);
    """)
    report = migrate(path, pg_url)
    assert report.exit_code == 0, report.plan.skipped
    with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as pg:
        assert pg.execute("SELECT count(*) FROM victim").fetchone() == (1,)
        for statement in ("INSERT INTO t (id, a) VALUES (1, 'x')",):
            assert accepted_on_both(conn, pg, statement) == (True, True)
        for query in ("SELECT a FROM v", "SELECT a FROM w", "SELECT msg FROM log ORDER BY id"):
            assert pg.execute(query).fetchall() == conn.execute(query).fetchall(), query
    conn.close()


def test_what_postgresql_refuses_is_listed_before_anything_is_written(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "refused.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT, city TEXT, amount INTEGER, price REAL, qty INTEGER,
                            total INTEGER AS (price * qty));
        CREATE VIEW by_region AS SELECT region, city, sum(amount) AS total FROM sales GROUP BY region;
        CREATE VIEW fine AS SELECT region, sum(amount) AS total FROM sales GROUP BY region;
        CREATE TRIGGER sales_count AFTER INSERT ON sales BEGIN
            UPDATE sales SET amount = (SELECT count(*) FROM sales) WHERE id = NEW.id;
        END;
        INSERT INTO sales (id, region, city, amount, price, qty) VALUES (1, 'n', 'a', 5, 2.5, 1);
    """)
    conn.close()
    report = migrate(path, pg_url)
    assert report.exit_code == 3
    skipped = {name: reason for _kind, name, reason in report.plan.skipped}
    assert skipped["by_region"].startswith("PostgreSQL refused it: column \"sales.city\" must appear in the GROUP BY")
    assert report.plan.tables[0].not_carried == [
        "column total: an INTEGER generated column computed as double precision: SQLite keeps a fraction, PostgreSQL "
        "would round it"]
    assert [o.name for o in report.plan.objects] == ["fine", "sales_count"]
    trigger = report.plan.objects[1]
    assert any("runs when the statement ends in PostgreSQL" in note for note in trigger.notes)
    assert report.tables[0].rows == 1 and report.tables[0].verified
