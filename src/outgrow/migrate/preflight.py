"""What must hold on the target before anything is written, each failure one line with a hint."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from outgrow.migrate.plan_model import TargetFacts

__all__ = ["MIN_SERVER_VERSION", "PreflightCheck", "preflight", "target_facts"]

MIN_SERVER_VERSION = 140000
# PostgreSQL's heap, TOAST and index pages take more room than SQLite's for the same rows: the demo database
# (17.9 MB in SQLite) took 25.5 MB, 1.42x. Twice the SQLite file is asked for, to leave a margin.
SPACE_FACTOR = 2.0


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def preflight(conninfo: str, source: Path | None = None) -> list[PreflightCheck]:
    """Server version, encoding, privilege to create schemas, and free disk when it can be known."""
    with psycopg.connect(conninfo, connect_timeout=10) as pg:
        version = int(pg.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
        encoding = pg.execute("SHOW server_encoding").fetchone()[0]  # type: ignore[index]
        can_create = pg.execute(
            "SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()[0]  # type: ignore[index]
        readable = pg.execute("SELECT pg_has_role('pg_read_all_settings', 'MEMBER') OR "
                              "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)").fetchone()[0]  # type: ignore[index]
        data_directory = pg.execute("SHOW data_directory").fetchone()[0] if readable else None  # type: ignore[index]
    checks = [
        PreflightCheck("server version", version >= MIN_SERVER_VERSION, f"{version // 10000}.{version % 10000}",
                       "outgrow migrates to PostgreSQL 14 or newer"),
        PreflightCheck("database encoding", encoding == "UTF8", str(encoding),
                       "create the target database WITH ENCODING 'UTF8'"),
        PreflightCheck("privilege to create schemas", bool(can_create), "yes" if can_create else "no",
                       "GRANT CREATE ON DATABASE ... TO the migrating role"),
    ]
    if source is not None and source.is_file():
        checks.append(_free_disk(data_directory, source))
    return checks


def _free_disk(data_directory: str | None, source: Path) -> PreflightCheck:
    needed = int(source.stat().st_size * SPACE_FACTOR)
    if data_directory is None or not Path(data_directory).exists():
        return PreflightCheck("free disk", True, "unknown (the server's data directory is not on this machine)")
    free = shutil.disk_usage(data_directory).free
    return PreflightCheck("free disk", free >= needed, f"{free / 2**30:.1f} GiB free, about {needed / 2**30:.2f} GiB "
                          "needed", "free space on the server's disk, or migrate fewer tables (--config exclude)")


def target_facts(conninfo: str) -> TargetFacts:
    """What the plan adapts to: the server version, whether citext can be used, the database's collation."""
    with psycopg.connect(conninfo, connect_timeout=10) as pg:
        row = pg.execute(
            "SELECT current_setting('server_version_num')::int, "
            "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citext'), "
            "(SELECT datcollate FROM pg_database WHERE datname = current_database())").fetchone()
    assert row is not None
    return TargetFacts(server_version=int(row[0]), citext=bool(row[1]), collation=str(row[2]))
