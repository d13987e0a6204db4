"""DEFAULTs proven by behaviour: the same INSERT, omitting the columns, stores the same values on both engines."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE t (
    id INTEGER PRIMARY KEY,
    plan TEXT NOT NULL DEFAULT 'free',
    quote TEXT DEFAULT 'it''s',
    admin BOOLEAN NOT NULL DEFAULT 0,
    active BOOLEAN DEFAULT TRUE,
    n INTEGER DEFAULT -5,
    r REAL DEFAULT 1.5,
    price NUMERIC(8,2) DEFAULT 9.99,
    blob BLOB DEFAULT x'00ff',
    empty TEXT DEFAULT NULL,
    created DATETIME DEFAULT CURRENT_TIMESTAMP,
    created_text TEXT DEFAULT (datetime('now')),
    day DATE DEFAULT (date('now')),
    odd TEXT DEFAULT (lower('X')),
    seconds INTEGER DEFAULT (60 * 60 * 24),
    label TEXT DEFAULT ('v' || 1),
    dice INTEGER DEFAULT (random())
);
"""


def test_defaults_give_the_same_values_on_both_engines(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "defaults.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    report = migrate(path, pg_url)
    assert report.plan.tables[0].not_carried == [
        "column dice: DEFAULT random(): random() has no translation with the same meaning"]
    assert report.exit_code == 3  # one default not carried, and said so
    conn.execute("INSERT INTO t (id) VALUES (1)")
    sqlite_row = conn.execute("SELECT * FROM t").fetchone()
    conn.close()
    with psycopg.connect(libpq_conninfo(pg_url)) as pg:
        pg.execute("INSERT INTO t (id) VALUES (1)")
        pg_row = pg.execute("SELECT * FROM t").fetchone()
    assert pg_row is not None
    assert sqlite_row[:10] == (1, "free", "it's", 0, 1, -5, 1.5, 9.99, b"\x00\xff", None)
    assert pg_row[:10] == (1, "free", "it's", False, True, -5, 1.5, Decimal("9.99"), b"\x00\xff", None)
    # The clock: SQLite writes UTC text with whole seconds; PostgreSQL stores the same instant and text.
    sqlite_created = datetime.fromisoformat(sqlite_row[10])
    assert pg_row[10].microsecond == 0
    assert abs(pg_row[10] - sqlite_created) < timedelta(seconds=30)
    assert abs(datetime.fromisoformat(pg_row[11]) - datetime.fromisoformat(sqlite_row[11])) < timedelta(seconds=30)
    assert len(pg_row[11]) == len(sqlite_row[11]) == 19
    assert pg_row[12] in {date.fromisoformat(sqlite_row[12]), datetime.now(UTC).date()}
    # Expressions over constants are computed once by SQLite and carried as values; random() is not constant.
    assert sqlite_row[13:16] == pg_row[13:16] == ("x", 86400, "v1")
    assert pg_row[16] is None and isinstance(sqlite_row[16], int)


def test_a_default_the_column_cannot_hold_is_reported(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "bad_default.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE t (flag BOOLEAN DEFAULT 'maybe', code VARCHAR(2) DEFAULT 'toolong');")
    conn.close()
    report = migrate(path, pg_url)
    assert report.plan.tables[0].not_carried == [
        "column flag: DEFAULT 'maybe': maybe is not a boolean (0/1, t/f, true/false)",
        "column code: DEFAULT 'toolong': 7 characters, over the declared 2",
    ]


def test_iso_text_clock_and_random_id_defaults_keep_their_shape(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "ids.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE t (n INTEGER PRIMARY KEY, "
                       "stamp TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
                       "token TEXT DEFAULT (lower(hex(randomblob(16)))));")
    assert migrate(path, pg_url).exit_code == 0
    conn.execute("INSERT INTO t (n) VALUES (1)")
    conn.execute("INSERT INTO t (n) VALUES (2)")
    sqlite_rows = conn.execute("SELECT stamp, token FROM t ORDER BY n").fetchall()
    conn.close()
    with psycopg.connect(libpq_conninfo(pg_url)) as pg:
        pg.execute("INSERT INTO t (n) VALUES (1), (2)")
        pg_rows = pg.execute("SELECT stamp, token FROM t ORDER BY n").fetchall()
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
    token = re.compile(r"^[0-9a-f]{32}$")
    for rows in (sqlite_rows, pg_rows):
        assert all(stamp.match(s) and token.match(t) for s, t in rows), rows
        assert rows[0][1] != rows[1][1]
    when = [datetime.fromisoformat(rows[0][0]) for rows in (sqlite_rows, pg_rows)]
    assert abs(when[0] - when[1]) < timedelta(seconds=30)
