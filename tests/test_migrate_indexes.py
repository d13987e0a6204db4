"""Partial indexes proven by behaviour: a partial UNIQUE index refuses the same rows on both engines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import accepted_on_both, libpq_conninfo

pytestmark = pytest.mark.postgres


def test_partial_unique_indexes_refuse_the_same_rows(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "partial.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, deleted_at DATETIME, status TEXT);
        CREATE UNIQUE INDEX users_live_email ON users (email) WHERE deleted_at IS NULL;
        CREATE INDEX users_open ON users (status) WHERE status <> 'void';
        CREATE INDEX users_lower ON users (lower(email));
    """)
    report = migrate(path, pg_url)
    assert [(i.name, i.where) for i in report.plan.tables[0].indexes] == [
        ("users_live_email", '"deleted_at" IS NULL'), ("users_lower", None), ("users_open", """"status" <> 'void'""")]
    assert report.exit_code == 0
    rows = [
        ("(1, 'a@x', NULL, 'open')", True),
        ("(2, 'a@x', '2024-01-01 00:00:00', 'void')", True),  # deleted rows may repeat an address
        ("(3, 'a@x', '2024-02-01 00:00:00', 'open')", True),
        ("(4, 'a@x', NULL, 'open')", False),  # a second live row may not
    ]
    with psycopg.connect(libpq_conninfo(pg_url),
                         autocommit=True) as pg:
        for values, accepted in rows:
            outcomes = accepted_on_both(conn, pg, f"INSERT INTO users VALUES {values}")
            assert outcomes == (accepted, accepted), (values, outcomes)
        assert pg.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'users_open'").fetchone() == (
            "CREATE INDEX users_open ON public.users USING btree (status) WHERE (status <> 'void'::text)",)
    conn.close()


EXPRESSION_SCHEMA = """
CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, doc JSON, code TEXT, nick TEXT, score INTEGER);
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));
CREATE UNIQUE INDEX accounts_doc_key ON accounts (json_extract(doc, '$.key'));
CREATE UNIQUE INDEX accounts_prefix ON accounts (substr(code, 1, 3)) WHERE code IS NOT NULL;
CREATE UNIQUE INDEX accounts_nick ON accounts (coalesce(nick, 'anon'), score DESC);
CREATE INDEX accounts_board ON accounts (score DESC, id ASC);
"""


def test_expression_indexes_refuse_the_same_rows(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "expressions.db"
    conn = sqlite3.connect(path)
    conn.executescript(EXPRESSION_SCHEMA)
    report = migrate(path, pg_url)
    assert report.exit_code == 0, report.plan.tables[0].not_carried
    keys = {i.name: i.keys for i in report.plan.tables[0].indexes}
    assert keys == {
        "accounts_board": ('"score" DESC', '"id"'),
        "accounts_doc_key": ("""(("doc" ->> 'key'))""",),
        "accounts_email": ('(LOWER("email"))',),
        "accounts_nick": ("""(COALESCE("nick", 'anon'))""", '"score" DESC'),
        "accounts_prefix": ('(SUBSTRING("code" FROM 1 FOR 3))',),
    }
    rows = [
        ("(1, 'Ann@x', '{\"key\": \"k1\"}', 'abc1', NULL, 1)", True),
        ("(2, 'ann@X', '{\"key\": \"k2\"}', 'xyz1', 'n', 1)", False),  # lower(email) repeats
        ("(3, 'bob@x', '{\"key\": \"k1\"}', 'xyz2', 'n', 2)", False),  # doc.key repeats
        ("(4, 'bob@x', '{\"key\": \"k4\"}', 'abc2', 'n', 2)", False),  # the code's first three letters repeat
        ("(5, 'bob@x', '{\"key\": \"k5\"}', NULL, 'anon', 1)", False),  # coalesce(nick) and score repeat row 1
        ("(6, 'bob@x', '{\"key\": \"k6\"}', NULL, 'anon', 2)", True),
        ("(7, 'cid@x', '{}', NULL, 'c', 3)", True),  # no key: NULL, and NULLs never collide
        ("(8, 'dan@x', '{}', NULL, 'd', 3)", True),
    ]
    with psycopg.connect(libpq_conninfo(pg_url),
                         autocommit=True) as pg:
        for values, accepted in rows:
            outcomes = accepted_on_both(conn, pg, f"INSERT INTO accounts VALUES {values}")
            assert outcomes == (accepted, accepted), (values, outcomes)
    conn.close()


def test_an_expression_without_a_same_meaning_translation_is_listed(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "soundex.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);"
                       "CREATE INDEX t_tail ON t (substr(name, -2));"
                       "CREATE INDEX t_half ON t (n / 2);"
                       "CREATE INDEX t_name ON t (name);"
                       "INSERT INTO t VALUES (1, 'x', 2);")
    conn.close()
    report = migrate(path, pg_url)
    assert report.exit_code == 3
    assert report.plan.tables[0].not_carried == [
        "index t_half: n / 2: division (SQLite divides integers as integers) has no translation with the same "
        "meaning",
        "index t_tail: SUBSTRING(name, -2): substr() with a start that is not a positive constant (SQLite counts "
        "a negative start from the end)",
    ]
    assert [i.name for i in report.plan.tables[0].indexes] == ["t_name"]
