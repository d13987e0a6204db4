"""``outgrow demo``: the newcomer's path, on embedded defaults only. It grows with the product."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from outgrow.backup import LocalDirectory, Manifest, RetentionPolicy, create_backup, prune_backups, restore_backup
from outgrow.backup import verify as verify_backup
from outgrow.demo.seed import SeedPlan, SeedReport, create_schema, seed_database
from outgrow.demo.traffic import TrafficReport, run_traffic
from outgrow.embedded import embedded_server_url
from outgrow.engine import connect
from outgrow.errors import ConfigurationError
from outgrow.info import DatabaseInfo, describe_database
from outgrow.migrate import MigrationReport, migrate
from outgrow.settings import Settings
from outgrow.urls import libpq_url, sqlite_uri

__all__ = ["DemoBackup", "DemoReport", "prepare_directory", "run_demo"]

DEMO_DATABASE = "app.db"
DEMO_PG_DATABASE = "outgrow_demo"
RESTORED_DATABASE = "restored.db"


@dataclass(frozen=True)
class DemoBackup:
    manifest: Manifest
    verify_seconds: float
    restore_seconds: float
    restored: Path
    same_rows: bool  # every table of the restored copy has the original's row count


@dataclass(frozen=True)
class DemoReport:
    database: Path
    seed: SeedReport
    traffic: TrafficReport
    info: DatabaseInfo
    seconds: float
    migration: MigrationReport | None = None
    postgres_url: str | None = None
    backup: DemoBackup | None = None


def prepare_directory(directory: Path) -> Path:
    """Make ``directory`` and remove a previous demo database in it; return the database path."""
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"{directory} exists and is not a folder", hint="pass --dir with another path")
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / DEMO_DATABASE
    for name in (DEMO_DATABASE, RESTORED_DATABASE):
        for suffix in ("", "-wal", "-shm"):
            (directory / f"{name}{suffix}").unlink(missing_ok=True)
    return database


def run_demo(
    directory: Path,
    plan: SeedPlan | None = None,
    *,
    traffic_operations: int = 2000,
    traffic_threads: int = 4,
    seed_progress: Callable[[int], None] | None = None,
    traffic_progress: Callable[[int], None] | None = None,
    migrate_to_postgres: bool = False,
    migrate_progress: Callable[[int], None] | None = None,
    postgres_database: str = DEMO_PG_DATABASE,
    backup: bool = True,
) -> DemoReport:
    """Create ``directory/app.db`` afresh, seed it, send it traffic, and describe it."""
    plan = plan or SeedPlan()
    started = time.perf_counter()
    database = prepare_directory(directory)
    with connect(Settings(database_url=f"sqlite:///{database}")) as db:
        create_schema(db)
        seed = seed_database(db, plan, progress=seed_progress)
        traffic = run_traffic(db, operations=traffic_operations, threads=traffic_threads,
                              progress=traffic_progress)
        info = describe_database(db)
    drill = _backup_drill(database, directory) if backup else None
    migration, postgres_url = None, None
    if migrate_to_postgres:
        postgres_url = _fresh_demo_database(postgres_database)
        migration = migrate(database, postgres_url, replace=True,
                            progress=(lambda step: migrate_progress(step.delta)) if migrate_progress else None)
    return DemoReport(database=database, seed=seed, traffic=traffic, info=info,
                      seconds=time.perf_counter() - started, migration=migration, postgres_url=postgres_url,
                      backup=drill)


def _backup_drill(database: Path, directory: Path) -> DemoBackup:
    """Back the demo database up, verify the backup, restore it to a scratch path and compare row counts."""
    folder = directory / "backups"
    manifest = create_backup(database, folder)
    prune_backups(LocalDirectory(folder), RetentionPolicy(last=3, daily=0, weekly=0),  # reruns do not pile up
                  source=manifest.source)
    checked = verify_backup(manifest.id, folder, database)
    restored_path = directory / RESTORED_DATABASE
    started = time.perf_counter()
    restore_backup(manifest.id, folder, str(restored_path), database=database)
    restore_seconds = time.perf_counter() - started
    return DemoBackup(manifest, checked.seconds, restore_seconds, restored_path,
                      _row_counts(database) == _row_counts(restored_path))


def _row_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' "
                                              "AND name NOT LIKE 'sqlite_%'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _fresh_demo_database(name: str) -> str:
    """An empty database ``name`` on the embedded PostgreSQL (dropped first if it exists); its URL."""
    admin = embedded_server_url()
    with psycopg.connect(libpq_url(admin),
                         autocommit=True) as pg:
        pg.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin.set(database=name).render_as_string(hide_password=False)
