"""COLLATE NOCASE and text order proven by behaviour: the same uniqueness, equality and ORDER BY on both engines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import PgServer, accepted_on_both, libpq_conninfo

pytestmark = pytest.mark.postgres

NOCASE = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE UNIQUE, name TEXT, UNIQUE (name COLLATE NOCASE));
CREATE TABLE tags (code TEXT COLLATE NOCASE PRIMARY KEY);
"""
ROWS = [
    ("INSERT INTO users VALUES (1, 'Ann@X', 'Ann')", True),
    ("INSERT INTO users VALUES (2, 'ann@x', 'Bob')", False),  # the email differs only in case
    ("INSERT INTO users VALUES (3, 'bob@x', 'ANN')", False),  # so does the name (a NOCASE table constraint)
    ("INSERT INTO users VALUES (4, 'bob@x', 'Bob')", True),
    ("INSERT INTO tags VALUES ('Red')", True),
    ("INSERT INTO tags VALUES ('RED')", False),  # a NOCASE primary key
]



@pytest.mark.parametrize("mode", ["citext", "lower"])
def test_nocase_uniqueness_holds_on_both_engines(tmp_path: Path, pg_url: str, mode: str) -> None:
    path = tmp_path / "nocase.db"
    conn = sqlite3.connect(path)
    conn.executescript(NOCASE)
    report = migrate(path, pg_url, nocase=mode)
    assert report.exit_code == 0, [t.not_carried for t in report.plan.tables]
    users = next(t for t in report.plan.tables if t.name == "users")
    types = {c.name: c.choice.pg_type for c in users.columns}
    assert types["email"] == ("citext" if mode == "citext" else "text")
    if mode == "lower":
        assert [i.keys for i in users.indexes] == [('lower("email")',), ('lower("name")',)]
        assert any("compare lower() in queries" in n for n in users.notes)
    with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as pg:
        for statement, accepted in ROWS:
            assert accepted_on_both(conn, pg, statement) == (accepted, accepted), statement
        equal = "SELECT count(*) FROM users WHERE email = 'ANN@x'"
        sqlite_count = conn.execute(equal).fetchone()[0]
        pg_count = pg.execute(equal).fetchone()[0]  # type: ignore[index]
    assert sqlite_count == 1
    # citext keeps SQLite's equality; lower keeps uniqueness only, and the plan said so.
    assert pg_count == (1 if mode == "citext" else 0)
    conn.close()


WORDS = ["b", "B", "a", "_", "é", "Z", "ab", "a b", "10", "9"]


@pytest.mark.parametrize("collation", [None, "C"])
def test_collation_c_keeps_sqlites_text_order(tmp_path: Path, pg_url: str, collation: str | None) -> None:
    path = tmp_path / "order.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, word TEXT, CHECK (word >= '0'))")
    conn.executemany("INSERT INTO w (word) VALUES (?)", [(w,) for w in WORDS])
    conn.commit()
    report = migrate(path, pg_url, collation=collation)
    sqlite_order = [r[0] for r in conn.execute("SELECT word FROM w ORDER BY word")]
    conn.close()
    with psycopg.connect(libpq_conninfo(pg_url)) as pg:
        pg_order = [r[0] for r in pg.execute("SELECT word FROM w ORDER BY word")]
    assert sorted(pg_order) == sorted(sqlite_order)
    if collation == "C":
        assert pg_order == sqlite_order
        assert report.exit_code == 0  # the CHECK that orders text is carried: the order is the same
        assert report.plan.notes == []
    else:
        assert report.exit_code == 3
        assert "--collation C keeps SQLite's order" in report.plan.notes[0]


def test_a_database_created_with_collation_c_needs_no_option(tmp_path: Path, pg_server: PgServer) -> None:
    path = tmp_path / "order.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, word TEXT, CHECK (word >= '0'))")
    conn.executemany("INSERT INTO w (word) VALUES (?)", [(w,) for w in WORDS])
    conn.commit()
    sqlite_order = [r[0] for r in conn.execute("SELECT word FROM w ORDER BY word")]
    conn.close()
    with pg_server.fresh_database(collation="C") as name:
        url = pg_server.url_for(name).render_as_string(hide_password=False)
        report = migrate(path, url)
        assert (report.exit_code, report.plan.notes) == (0, [])  # the text CHECK is carried
        with psycopg.connect(libpq_conninfo(url)) as pg:
            assert [r[0] for r in pg.execute("SELECT word FROM w ORDER BY word")] == sqlite_order
