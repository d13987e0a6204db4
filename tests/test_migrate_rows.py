"""Reading a source table: every row once, in order, when a value is invalid UTF-8 deep inside the table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from outgrow.migrate.introspect import open_source, read_schema
from outgrow.migrate.rows import iter_rows


def test_invalid_utf8_mid_table_is_read_escaped_without_losing_or_repeating_rows(tmp_path: Path) -> None:
    path = tmp_path / "bytes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"row {i}") for i in range(1, 12001)])
        conn.execute("UPDATE t SET s = CAST(x'61ff62' AS TEXT) WHERE id = 7001")  # bytes SQLite stores as text
    conn.close()
    source = open_source(path)
    table = read_schema(source, path).tables[0]
    rows = list(iter_rows(source, table, batch=1000))
    source.close()
    assert [r[0] for r in rows] == list(range(1, 12001))
    assert rows[7000][2] == "a\udcffb"  # escaped, so it can be reported, never silently replaced
    assert rows[6999][2] == "row 7000" and rows[7001][2] == "row 7002"
