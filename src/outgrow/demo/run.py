"""``outgrow demo``: the newcomer's path, on embedded defaults only. It grows with the product."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from outgrow.demo.seed import SeedPlan, SeedReport, create_schema, seed_database
from outgrow.demo.traffic import TrafficReport, run_traffic
from outgrow.embedded import embedded_server_url
from outgrow.engine import connect
from outgrow.errors import ConfigurationError
from outgrow.info import DatabaseInfo, describe_database
from outgrow.migrate import MigrationReport, migrate
from outgrow.settings import Settings

__all__ = ["DemoReport", "prepare_directory", "run_demo"]

DEMO_DATABASE = "app.db"
DEMO_PG_DATABASE = "outgrow_demo"


@dataclass(frozen=True)
class DemoReport:
    database: Path
    seed: SeedReport
    traffic: TrafficReport
    info: DatabaseInfo
    seconds: float
    migration: MigrationReport | None = None
    postgres_url: str | None = None


def prepare_directory(directory: Path) -> Path:
    """Make ``directory`` and remove a previous demo database in it; return the database path."""
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"{directory} exists and is not a folder", hint="pass --dir with another path")
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / DEMO_DATABASE
    for stale in (database, database.with_name(DEMO_DATABASE + "-wal"), database.with_name(DEMO_DATABASE + "-shm")):
        stale.unlink(missing_ok=True)
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
    migration, postgres_url = None, None
    if migrate_to_postgres:
        postgres_url = _fresh_demo_database(postgres_database)
        migration = migrate(database, postgres_url, replace=True, progress=migrate_progress)
    return DemoReport(database=database, seed=seed, traffic=traffic, info=info,
                      seconds=time.perf_counter() - started, migration=migration, postgres_url=postgres_url)


def _fresh_demo_database(name: str) -> str:
    """An empty database ``name`` on the embedded PostgreSQL (dropped first if it exists); its URL."""
    admin = embedded_server_url()
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as pg:
        pg.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin.set(database=name).render_as_string(hide_password=False)
