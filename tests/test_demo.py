"""``outgrow demo``: the reference schema, seeded exactly, traffic with no error and no lost update."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from outgrow import Settings, connect
from outgrow.demo import SeedPlan, create_schema, run_demo, seed_database


def test_demo_builds_seeds_and_exercises_the_reference_database(tmp_path: Path) -> None:
    plan = SeedPlan(organizations=12, events=3000)
    report = run_demo(tmp_path / "demo", plan, traffic_operations=300, traffic_threads=3)
    assert report.seed.rows == {"organizations": 12, "users": 240, "projects": 60, "events": 3000}
    assert report.traffic.errors == []
    assert report.traffic.lost_updates == 0
    assert sum(row["count"] for row in report.traffic.summary().values()) == 300
    assert report.info.pragmas["journal_mode"] == "wal"
    with sqlite3.connect(report.database) as conn:
        inserted = report.traffic.summary().get("insert_event", {"count": 0})["count"]
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("organizations", "users", "projects", "events")}
        assert counts == {"organizations": 12, "users": 240, "projects": 60, "events": 3000 + inserted}
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every tenant table carries organization_id and every foreign key between them includes it.
        for table in ("users", "projects", "events"):
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            assert "organization_id" in columns
        for table in ("projects", "events"):
            fks: dict[int, list[str]] = {}
            for row in conn.execute(f"PRAGMA foreign_key_list({table})"):
                fks.setdefault(row[0], []).append(row[3])
            assert all("organization_id" in cols for cols in fks.values()), (table, fks)
        # Events belong to projects and users of their own organization.
        assert conn.execute(
            "SELECT count(*) FROM events e JOIN projects p ON p.id = e.project_id "
            "WHERE p.organization_id <> e.organization_id").fetchone()[0] == 0
    conn.close()


def test_seeding_is_deterministic(tmp_path: Path) -> None:
    plan = SeedPlan(organizations=5, events=500, seed=3)
    first = run_demo(tmp_path / "a", plan, traffic_operations=0)
    second = run_demo(tmp_path / "b", plan, traffic_operations=0)
    dumps = []
    for report in (first, second):
        with sqlite3.connect(report.database) as conn:
            dumps.append(conn.execute("SELECT * FROM events ORDER BY id").fetchall())
        conn.close()
    assert dumps[0] == dumps[1]
    assert len(dumps[0]) == 500


def test_demo_command_json(outgrow_cli: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [*outgrow_cli, "demo", "--dir", str(tmp_path / "d"), "--organizations", "4", "--events", "400",
         "--traffic", "40", "--no-migrate", "--json"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["database"] == str(tmp_path / "d" / "app.db")
    assert data["seed"]["rows"] == {"organizations": 4, "users": 80, "projects": 20, "events": 400}
    assert data["traffic"]["operations"] == 40
    assert data["traffic"]["errors"] == []
    assert data["traffic"]["lost_updates"] == 0
    assert data["info"]["engine"] == "sqlite"
    assert data["info"]["pragmas"]["journal_mode"] == "wal"
    assert data["migration"] is None
    backup = data["backup"]  # backed up, verified and restored to a scratch path with the same rows
    assert backup["same_rows"] is True and backup["restored"] == str(tmp_path / "d" / "restored.db")
    assert (tmp_path / "d" / "backups" / f"{backup['id']}.json").is_file()


@pytest.mark.postgres
def test_demo_migrates_into_the_embedded_postgresql(tmp_path: Path) -> None:
    name = f"outgrow_demo_test_{uuid.uuid4().hex[:8]}"  # never the user's own outgrow_demo
    report = run_demo(tmp_path / "m", SeedPlan(organizations=3, events=300), traffic_operations=30,
                      migrate_to_postgres=True, postgres_database=name)
    assert report.migration is not None and report.postgres_url is not None
    assert report.migration.exit_code == 0
    assert {t.target: (t.rows, t.verified) for t in report.migration.tables} == {
        "organizations": (3, True), "users": (60, True), "projects": (15, True),
        "events": (300 + report.traffic.summary().get("insert_event", {"count": 0})["count"], True)}
    with psycopg.connect(make_url(report.postgres_url).set(drivername="postgresql")
                         .render_as_string(hide_password=False)) as pg:
        assert pg.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'events' "
                          "AND column_name = 'payload'").fetchone() == ("jsonb",)
    admin = make_url(report.postgres_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as pg:
        pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_demo_refuses_a_file_as_its_folder(outgrow_cli: list[str], tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    result = subprocess.run([*outgrow_cli, "demo", "--dir", str(tmp_path / "taken")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"error: {tmp_path / 'taken'} exists and is not a folder"


def test_seeding_leaves_pooled_connections_with_sqlite_default_checkpointing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGROW_POOL_SIZE", "1")
    monkeypatch.setenv("OUTGROW_POOL_MAX_OVERFLOW", "0")
    with connect(Settings(database_url=f"sqlite:///{tmp_path / 'seed.db'}")) as db:
        create_schema(db)
        report = seed_database(db, SeedPlan(organizations=3, events=300))
        assert report.total_rows == 3 + 60 + 15 + 300
        with db.engine.connect() as conn:  # the one pooled connection the seed used
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1000
            # The seed checkpointed its own WAL: the database file already holds every page (without the
            # checkpoint it would still be the schema-only file, the rows living in app.db-wal).
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        assert (tmp_path / "seed.db").stat().st_size == pages * page_size
