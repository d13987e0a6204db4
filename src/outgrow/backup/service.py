"""The backup commands as functions: which database, which destination, and the engine's way of doing each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from outgrow.backup.catalog import VerifyResult, find_backup, verify_backup
from outgrow.backup.destination import Destination, LocalDirectory
from outgrow.backup.manifest import Manifest
from outgrow.backup.pg_backup import create_pg_backup, restore_pg, verify_pg_dump
from outgrow.backup.sqlite_backup import Method, Progress, create_sqlite_backup, expand
from outgrow.backup.sqlite_restore import RestoreResult, restore_sqlite
from outgrow.errors import BackupError, ConfigurationError
from outgrow.settings import Settings
from outgrow.urls import engine_name, mask_url, normalize_url

__all__ = ["Database", "create_backup", "default_directory", "resolve_database", "restore_backup", "source_of",
           "verify"]


@dataclass(frozen=True)
class Database:
    """What a backup command works on: a SQLite file or a PostgreSQL URL."""

    engine: str
    path: Path | None = None
    url: URL | None = None


def resolve_database(database: str | Path | None) -> Database:
    """A path, a URL, or (None) the configured database (DATABASE_URL / DB_*)."""
    if database is None:
        url = Settings().url()
    elif isinstance(database, Path) or "://" not in database:
        return Database("sqlite", path=Path(database))
    else:
        try:
            url = normalize_url(database)
        except ValueError as exc:
            raise ConfigurationError(f"invalid database URL: {exc}") from None
    if engine_name(url) == "sqlite":
        return Database("sqlite", path=Path(url.database or ""))
    return Database("postgresql", url=url)


def default_directory(database: Database) -> Path:
    """OUTGROW_BACKUP_DIR, else ``<name>-backups`` beside a SQLite file, else ./outgrow-backups."""
    configured = Settings().backup_dir
    if configured is not None:
        return configured
    if database.path is not None:
        return database.path.absolute().parent / f"{database.path.stem}-backups"
    return Path("outgrow-backups").absolute()


def _destination(database: Database, directory: Path | None) -> Destination:
    return LocalDirectory(directory or default_directory(database))


def create_backup(database: str | Path | None = None, to: Path | None = None, *, method: Method = "backup-api",
                  progress: Progress | None = None) -> Manifest:
    """Back up ``database`` (default: the configured one) into ``to`` (default: :func:`default_directory`)."""
    target = resolve_database(database)
    destination = _destination(target, to)
    if target.path is not None:
        return create_sqlite_backup(target.path, destination, method=method, progress=progress)
    assert target.url is not None
    return create_pg_backup(target.url, destination)


def source_of(database: Database) -> str:
    """How a manifest names ``database``: the resolved path, or the URL with its password masked."""
    if database.path is not None:
        return str(database.path.resolve())
    assert database.url is not None
    return mask_url(database.url.render_as_string(hide_password=False))


def verify(backup: str, directory: Path | None = None, database: str | Path | None = None) -> VerifyResult:
    """Re-check a stored backup: SQLite re-hashes and integrity-checks a decompressed copy; PostgreSQL lists
    the dump and restores it into a scratch database on ``database``'s server (default: the configured one)."""
    where = resolve_database(database)
    destination = LocalDirectory(directory or default_directory(where), create=False)
    manifest = find_backup(destination, backup, source=source_of(where))
    if manifest.engine == "sqlite":
        def check(archive: Path, found: Manifest) -> str:
            expand(archive, archive.with_name("image.sqlite"), found)
            return f"{found.size:,} bytes, SHA-256 and integrity_check ok"
        return verify_backup(destination, manifest, check)
    if where.url is None:
        raise BackupError("verifying a PostgreSQL backup needs a server to restore it into",
                          hint="give the database URL (DATABASE_URL or the DATABASE argument)")
    server = where.url
    return verify_backup(destination, manifest, lambda dump, found: verify_pg_dump(dump, found, server))


def restore_backup(backup: str, directory: Path | None = None, to: str | None = None, *,
                   database: str | Path | None = None, live: bool = False, force: bool = False,
                   keep_replaced: bool = True, progress: Progress | None = None) -> RestoreResult | str:
    """SQLite: restore over ``database`` (default: the configured one), or to ``to``, atomically, or into the
    open database with ``live``. PostgreSQL: restore into the new database ``to`` (a name or URL) on
    ``database``'s server."""
    where = resolve_database(database)
    destination = LocalDirectory(directory or default_directory(where), create=False)
    manifest = find_backup(destination, backup, source=source_of(where))
    if manifest.engine == "sqlite":
        if to is None:
            if where.path is None or manifest.source != source_of(where):
                raise ConfigurationError(f"backup {manifest.id} is of {manifest.source}, not of the database "
                                         f"given ({source_of(where)})", hint="pass --to PATH to restore it there")
            target = where.path
        else:
            target = Path(to)
        return restore_sqlite(destination, manifest, target, live=live, force=force, keep_replaced=keep_replaced,
                              progress=progress)
    if not to:
        raise ConfigurationError("a PostgreSQL backup is restored into a new database: pass --to NAME or URL")
    server = resolve_database(to).url if "://" in to else where.url
    if server is None:
        raise ConfigurationError("--to must name a PostgreSQL database for a PostgreSQL backup")
    name = server.database if "://" in to else to
    if not name:
        raise ConfigurationError("--to URL names no database")
    with destination.staging() as work:
        dump = work / manifest.file
        destination.fetch(manifest.file, dump)
        restore_pg(dump, manifest, server, name)
    return name
