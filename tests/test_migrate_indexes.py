"""Partial indexes proven by behaviour: a partial UNIQUE index refuses the same rows on both engines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from outgrow.migrate import migrate
from outgrow.testing import accepted_on_both

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
    assert [(n, w) for n, _c, _u, w in report.plan.tables[0].partial_indexes] == [
        ("users_live_email", '"deleted_at" IS NULL'), ("users_open", """"status" <> 'void'""")]
    assert report.plan.tables[0].skipped == [
        "index users_lower: expression indexes are translated by a later step of Migration II"]
    rows = [
        ("(1, 'a@x', NULL, 'open')", True),
        ("(2, 'a@x', '2024-01-01 00:00:00', 'void')", True),  # deleted rows may repeat an address
        ("(3, 'a@x', '2024-02-01 00:00:00', 'open')", True),
        ("(4, 'a@x', NULL, 'open')", False),  # a second live row may not
    ]
    with psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as pg:
        for values, accepted in rows:
            outcomes = accepted_on_both(conn, pg, f"INSERT INTO users VALUES {values}")
            assert outcomes == (accepted, accepted), (values, outcomes)
        assert pg.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'users_open'").fetchone() == (
            "CREATE INDEX users_open ON public.users USING btree (status) WHERE (status <> 'void'::text)",)
    conn.close()
