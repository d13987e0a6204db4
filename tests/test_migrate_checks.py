"""CHECK constraints proven by behaviour: the same INSERTs are accepted or rejected on both engines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import accepted_on_both, libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE t (
    id INTEGER PRIMARY KEY,
    age INTEGER CHECK (age >= 0 AND age < 150),
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    price REAL CHECK (price BETWEEN 0 AND 100),
    name TEXT CHECK (length(name) <= 5),
    code TEXT CHECK (code GLOB '[A-Z][0-9]*'),
    k INTEGER CHECK (typeof(k) = 'integer'),
    CONSTRAINT closed_has_age CHECK (age IS NOT NULL OR status = 'open'),
    CHECK (name >= '')
);
"""

INSERTS = [
    # (values, accepted on both engines?)
    ("(1, 30, 'open', 5.5, 'ann', 'A1', 1)", True),
    ("(2, -1, 'open', NULL, NULL, NULL, 1)", False),  # age >= 0
    ("(3, 10, 'other', NULL, NULL, NULL, 1)", False),  # status IN
    ("(4, 10, 'open', 100.5, NULL, NULL, 1)", False),  # BETWEEN
    ("(5, 10, 'open', NULL, 'toolong', NULL, 1)", False),  # length
    ("(6, 10, 'open', NULL, NULL, 'a1', 1)", False),  # GLOB is case-sensitive
    ("(7, 10, 'open', NULL, NULL, 'B', 1)", False),  # GLOB's * is "anything", after a required digit
    ("(8, NULL, 'closed', NULL, NULL, NULL, 1)", False),  # table CHECK over two columns
    ("(9, NULL, 'open', NULL, 'ünï', 'Z99', 1)", True),  # length counts characters on both
    ("(10, NULL, 'open', NULL, NULL, NULL, NULL)", False),  # typeof(NULL) is 'null', not 'integer'
]


def test_checks_accept_and_reject_the_same_rows(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "checks.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    report = migrate(path, pg_url)
    table = report.plan.tables[0]
    assert table.not_carried == ["check (name >= ''): orders text: SQLite compares bytes, PostgreSQL the locale "
                                 "(--collation C keeps SQLite's order)"]
    assert table.notes == ["CHECK (TYPEOF(k) = 'integer'): typeof(k) is guaranteed by the PostgreSQL column "
                           "type; kept as k IS NOT NULL, since typeof(NULL) is 'null'"]
    with psycopg.connect(libpq_conninfo(pg_url),
                         autocommit=True) as pg:
        for values, accepted in INSERTS:
            statement = f"INSERT INTO t (id, age, status, price, name, code, k) VALUES {values}"
            outcomes = accepted_on_both(conn, pg, statement)
            assert outcomes == (accepted, accepted), (values, outcomes)
    conn.close()
