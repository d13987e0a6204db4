"""Generated columns proven by behaviour: PostgreSQL computes the same values SQLite computed, for the migrated
rows and for new ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    price INTEGER,
    qty INTEGER,
    first TEXT,
    last TEXT,
    doc JSON,
    total INTEGER GENERATED ALWAYS AS (price * qty + 1) STORED,
    full_name TEXT AS (first || ' ' || last) VIRTUAL,
    label TEXT AS (coalesce(upper(first), 'N/A') || '#' || id) STORED,
    color TEXT AS (json_extract(doc, '$.color')) VIRTUAL,
    size TEXT AS (json_extract(doc, '$.dims.size')) STORED,
    email_key TEXT AS (lower(last)) VIRTUAL
);
INSERT INTO items (id, price, qty, first, last, doc) VALUES
    (1, 3, 4, 'Ann', 'Lee', '{"color": "red", "dims": {"size": 5}}'),
    (2, NULL, 4, NULL, 'Kim', '{"dims": {}}'),
    (3, -2, 0, 'Bo', NULL, '{"color": null}');
"""
COLUMNS = "id, total, full_name, label, color, size, email_key"


def test_generated_columns_compute_the_same_values(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "generated.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    report = migrate(path, pg_url)
    assert report.exit_code == 0, report.plan.tables[0].not_carried
    generated = {g.name: g.expression for g in report.plan.tables[0].generated}
    assert generated["full_name"] == """"first" || ' ' || "last\""""
    assert generated["label"] == """COALESCE(UPPER("first"), 'N/A') || '#' || CAST("id" AS TEXT)"""
    assert generated["size"] == """("doc" #>> '{"dims","size"}')"""
    insert = "INSERT INTO items (id, price, qty, first, last, doc) VALUES (4, 10, 10, 'Cy', 'Do', '{\"color\": \"b\"}')"
    conn.execute(insert)
    sqlite_rows = conn.execute(f"SELECT {COLUMNS} FROM items ORDER BY id").fetchall()
    conn.close()
    with psycopg.connect(libpq_conninfo(pg_url)) as pg:
        pg.execute(insert)
        pg_rows = pg.execute(f"SELECT {COLUMNS} FROM items ORDER BY id").fetchall()
        assert pg.execute("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'items'::regclass "
                          "AND attname = 'total'").fetchone() == ("s",)
    assert [tuple(str(v) if isinstance(v, int) and i == 5 else v for i, v in enumerate(r)) for r in sqlite_rows] \
        == pg_rows
    assert sqlite_rows[0] == (1, 13, "Ann Lee", "ANN#1", "red", "5", "lee")
    assert sqlite_rows[1][2] is None  # NULL || text is NULL on both engines
