"""Published real-world SQLite schemas (tests/data/schemas, sources and licences in its README) migrate in one
run: what the plan says it carries, PostgreSQL accepts and holds; the rest is listed, and exits 3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMAS = sorted((Path(__file__).parent / "data" / "schemas").glob("*.sql"))


@pytest.mark.parametrize("schema", SCHEMAS, ids=[s.stem for s in SCHEMAS])
def test_a_real_schema_migrates_as_planned(tmp_path: Path, pg_url: str, schema: Path) -> None:
    path = tmp_path / f"{schema.stem}.db"
    conn = sqlite3.connect(path)
    conn.executescript(schema.read_text(encoding="utf-8"))
    conn.close()
    report = migrate(path, pg_url)
    plan = report.plan
    not_carried = [t.not_carried for t in plan.tables if t.skipped] + plan.skipped
    assert report.exit_code == (3 if not_carried else 0)
    assert all(t.verified for t in report.tables)
    conninfo = libpq_conninfo(pg_url)
    with psycopg.connect(conninfo) as pg:
        tables = {r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        views = {r[0] for r in pg.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
        triggers = {r[0] for r in pg.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        indexes = {r[0] for r in pg.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert tables == {t.name for t in plan.tables}
    assert views == {o.target for o in plan.objects if o.kind == "view"}
    assert triggers == {o.target for o in plan.objects if o.kind == "trigger"}
    assert {i.name for t in plan.tables for i in t.indexes} <= indexes
