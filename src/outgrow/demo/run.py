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
from outgrow.demo.traffic import TrafficReport, run_slow_queries, run_traffic, run_write_contention
from outgrow.embedded import embedded_server_url
from outgrow.engine import Database, connect
from outgrow.errors import ConfigurationError
from outgrow.info import DatabaseInfo, describe_database
from outgrow.migrate import MigrationReport, migrate
from outgrow.monitor.alerts import AlertEvent
from outgrow.monitor.history import HISTORY_SUFFIX
from outgrow.monitor.metrics import collect_metrics
from outgrow.monitor.recorder import sample_history
from outgrow.monitor.slow import SlowQuery, slow_queries
from outgrow.monitor.snapshot import MetricsSnapshot
from outgrow.settings import Settings
from outgrow.urls import libpq_url, sqlite_uri

__all__ = ["DEMO_MONITORING", "DemoBackup", "DemoMonitoring", "DemoReport", "prepare_directory", "run_demo"]

DEMO_DATABASE = "app.db"
DEMO_PG_DATABASE = "outgrow_demo"
RESTORED_DATABASE = "restored.db"
#: Thresholds scaled to a database of a few MB, so that the demo shows a slow query and an alert firing
#: (production defaults: 150 ms, 800 MB, and 5 minutes before an alert fires).
DEMO_MONITORING = {"slow_query_ms": 5.0, "alert_db_size_bytes": 10_000_000, "alert_for_s": 0.0}


@dataclass(frozen=True)
class DemoMonitoring:
    metrics: MetricsSnapshot
    slow: list[SlowQuery]
    alerts: list[AlertEvent]
    refused_writes: int  # writes that met a locked database in the contention burst


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
    monitoring: DemoMonitoring | None = None


def prepare_directory(directory: Path) -> Path:
    """Make ``directory`` and remove a previous demo database in it; return the database path."""
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"{directory} exists and is not a folder", hint="pass --dir with another path")
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / DEMO_DATABASE
    history = DEMO_DATABASE.removesuffix(".db") + HISTORY_SUFFIX
    for name in (DEMO_DATABASE, RESTORED_DATABASE, history):
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
    settings = Settings(database_url=f"sqlite:///{database}", **DEMO_MONITORING)
    with connect(settings) as db:
        create_schema(db)
        seed = seed_database(db, plan, progress=seed_progress)
        assert db.recorder is not None  # a file database has a history
        db.recorder.tick(sample=False)  # the seeding's statements flushed: the monitoring window starts after them
        watched_from = time.time()
        traffic = run_traffic(db, operations=traffic_operations, threads=traffic_threads,
                              progress=traffic_progress)
        run_slow_queries(db)
        with connect(settings.model_copy(update={"sqlite_busy_timeout_ms": 1})) as impatient:
            refused = run_write_contention(db, impatient)
        monitoring = _monitoring(db, refused, watched_from)
        info = describe_database(db)
    drill = _backup_drill(database, directory) if backup else None
    migration, postgres_url = None, None
    if migrate_to_postgres:
        postgres_url = _fresh_demo_database(postgres_database)
        migration = migrate(database, postgres_url, replace=True,
                            progress=(lambda step: migrate_progress(step.delta)) if migrate_progress else None)
    return DemoReport(database=database, seed=seed, traffic=traffic, info=info,
                      seconds=time.perf_counter() - started, migration=migration, postgres_url=postgres_url,
                      backup=drill, monitoring=monitoring)


def _monitoring(db: Database, refused: int, since: float) -> DemoMonitoring:
    """What the monitor saw since ``since``: the metrics, the slow-query log (plans captured) and the alerts
    of one sample."""
    recorder = db.recorder
    assert recorder is not None
    recorder.tick(sample=False)  # flush, and capture the plans of the slow fingerprints
    window = time.time() - since
    metrics = collect_metrics(db, window_s=window)
    slow = slow_queries(db, window_s=window, limit=5)
    # Read before the sample: a sample stamps what it merges with its own time.
    events = sample_history(recorder.store, db.engine, db.dialect, db.settings, time.time()) or []
    return DemoMonitoring(metrics=metrics, slow=slow, alerts=events, refused_writes=refused)


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
