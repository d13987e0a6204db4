"""SQLite: pragmas on every pooled connection, BEGIN IMMEDIATE transactions, errors in plain words."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from outgrow.dialects.base import EngineDialect, register
from outgrow.dialects.sqlite_transactions import BEGIN_OPTION, TransactionControl
from outgrow.errors import DatabaseNotFound, NotASQLiteDatabase, OutgrowError
from outgrow.settings import Settings

__all__ = ["SQLiteDialect", "read_pragmas", "requested_pragmas"]

SQLITE_MAGIC = b"SQLite format 3\x00"

# PRAGMA names in the order they are sent: busy_timeout first, so switching to WAL waits for the lock.
PRAGMA_ORDER = (
    "busy_timeout", "journal_mode", "synchronous", "foreign_keys", "cache_size", "temp_store", "mmap_size",
    "journal_size_limit",
)
# What SQLite answers with a number, read back as the name a person would write.
_SYNCHRONOUS_NAMES = {0: "off", 1: "normal", 2: "full", 3: "extra"}
_TEMP_STORE_NAMES = {0: "default", 1: "file", 2: "memory"}


def requested_pragmas(settings: Settings) -> dict[str, Any]:
    """The pragma values outgrow asks for, in the form :func:`read_pragmas` reads them back."""
    return {
        "busy_timeout": settings.sqlite_busy_timeout_ms,
        "journal_mode": settings.sqlite_journal_mode,
        "synchronous": settings.sqlite_synchronous,
        "foreign_keys": settings.sqlite_foreign_keys,
        # Negative means KiB (sqlite.org/pragma.html#pragma_cache_size); the seed's 64000 meant pages.
        "cache_size": -settings.sqlite_cache_size_kib,
        "temp_store": settings.sqlite_temp_store,
        "mmap_size": settings.sqlite_mmap_size_bytes,
        "journal_size_limit": settings.sqlite_journal_size_limit_bytes,
    }


def apply_pragmas(dbapi_connection: sqlite3.Connection, pragmas: dict[str, Any]) -> None:
    for name in PRAGMA_ORDER:
        value = pragmas[name]
        if name == "journal_mode":
            _set_journal_mode(dbapi_connection, str(value), pragmas["busy_timeout"] / 1000)
            continue
        if isinstance(value, bool):
            value = "ON" if value else "OFF"
        dbapi_connection.execute(f"PRAGMA {name} = {value}").fetchall()


def _set_journal_mode(dbapi_connection: sqlite3.Connection, mode: str, timeout_s: float) -> None:
    """Switch the file's journal mode, which is stored in the file: usually it already is ``mode``.

    Switching needs an exclusive lock and SQLite answers "database is locked" at once, without its busy
    handler, when several processes open a new file together (seen: 4 of 160 openers failed in 20 races
    of 8 processes). So: read first, and retry the switch within busy_timeout.
    """
    def attempt() -> None:
        if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != mode:
            dbapi_connection.execute(f"PRAGMA journal_mode = {mode}").fetchall()

    for retry in Retrying(retry=retry_if_exception(_is_busy), stop=stop_after_delay(timeout_s),
                          wait=wait_random(0.002, 0.02), reraise=True):
        with retry:
            attempt()


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def read_pragmas(dbapi_connection: sqlite3.Connection) -> dict[str, Any]:
    """The pragma values in force on a live connection, as SQLite reports them."""
    raw = {name: dbapi_connection.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMA_ORDER}
    raw["journal_mode"] = str(raw["journal_mode"]).lower()
    raw["synchronous"] = _SYNCHRONOUS_NAMES.get(raw["synchronous"], raw["synchronous"])
    raw["temp_store"] = _TEMP_STORE_NAMES.get(raw["temp_store"], raw["temp_store"])
    raw["foreign_keys"] = bool(raw["foreign_keys"])
    return raw


@register
class SQLiteDialect(EngineDialect):
    name = "sqlite"
    has_pragmas: ClassVar[bool] = True

    def check_reachable(self, url: URL, *, create: bool) -> None:
        path = _file_path(url)
        if path is None:
            return
        if not path.exists():
            if not create:
                raise DatabaseNotFound(
                    f"no SQLite database at {path}",
                    hint="check DATABASE_URL / DB_DATABASE, or run `outgrow demo` to make one",
                )
            if not path.parent.is_dir():
                raise DatabaseNotFound(
                    f"cannot create a SQLite database at {path}: folder {path.parent} does not exist",
                    hint="create the folder first, or point DATABASE_URL / DB_DATABASE elsewhere",
                )
            return
        if path.is_dir():
            raise NotASQLiteDatabase(f"{path} is a folder, not a SQLite database", hint="name the database file")
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
        # An empty file is a valid, empty database: sqlite3 writes the header on the first write.
        if header and header != SQLITE_MAGIC:
            raise NotASQLiteDatabase(
                f"{path} is not a SQLite database (its header is not 'SQLite format 3')",
                hint="check DATABASE_URL / DB_DATABASE: it should name the application's .db file",
            )

    def engine_kwargs(self) -> dict[str, Any]:
        if _file_path(self.settings.url()) is None:
            return {}  # :memory: is one database per connection: SQLAlchemy's SingletonThreadPool keeps one
        # QueuePool for files: connections (and their page caches and mmap) are kept, pragmas run once
        # per connection. SQLAlchemy sets check_same_thread=False with it.
        return {"poolclass": QueuePool, **self.pool_kwargs()}

    def install(self, engine: Engine) -> None:
        pragmas = requested_pragmas(self.settings)

        def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
            # isolation_level=None: pysqlite stops sending its own BEGINs; TransactionControl sends them.
            dbapi_connection.isolation_level = None
            apply_pragmas(dbapi_connection, pragmas)

        def on_checkout(dbapi_connection: sqlite3.Connection, _record: object, _proxy: object) -> None:
            # SQLAlchemy resets a connection used with isolation_level="AUTOCOMMIT" to pysqlite's legacy
            # mode ("") when it is returned; take BEGIN back before the next use.
            if dbapi_connection.isolation_level is not None:
                dbapi_connection.isolation_level = None

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "checkout", on_checkout)
        TransactionControl(self.settings.sqlite_transaction_mode).install(engine)

    @contextmanager
    def read_snapshot(self, engine: Engine) -> Iterator[Connection]:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.commit()
            try:
                with connection.execution_options(**{BEGIN_OPTION: "DEFERRED"}).begin():
                    yield connection
            finally:
                connection.exec_driver_sql("PRAGMA query_only = OFF")

    def describe(self, connection: Connection) -> dict[str, Any]:
        dbapi_connection = connection.connection.driver_connection
        assert isinstance(dbapi_connection, sqlite3.Connection)
        return {
            "server_version": sqlite3.sqlite_version,
            "pragmas": read_pragmas(dbapi_connection),
            "requested_pragmas": requested_pragmas(self.settings),
        }

    def storage_figures(self, dbapi_connection: Any, url: URL) -> dict[str, int | None]:
        page_count, page_size, free_pages = (
            dbapi_connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size",
                                                                               "freelist_count"))
        path = _file_path(url)
        wal = path.with_name(path.name + "-wal") if path is not None else None
        return {"size_bytes": page_count * page_size, "free_pages": free_pages, "page_size": page_size,
                "wal_bytes": wal.stat().st_size if wal is not None and wal.exists() else 0}

    def translate_error(self, exc: BaseException, url: URL) -> OutgrowError | None:
        original = exc.orig if isinstance(exc, DBAPIError) else exc
        if not isinstance(original, sqlite3.DatabaseError):
            return None
        where = _file_path(url) or url.database or ":memory:"
        text = str(original)
        if "file is not a database" in text or "file is encrypted" in text:
            return NotASQLiteDatabase(
                f"{where} is not a SQLite database ({text})",
                hint="check DATABASE_URL / DB_DATABASE: it should name the application's .db file",
            )
        if "unable to open database file" in text:
            return DatabaseNotFound(f"cannot open SQLite database at {where} ({text})",
                                    hint="check the path and its permissions")
        return None


def _file_path(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)
