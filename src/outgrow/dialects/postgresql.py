"""PostgreSQL through psycopg 3: a pre-pinged pool, per-connection options, errors in plain words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from outgrow.dialects.base import EngineDialect, register
from outgrow.errors import AuthenticationFailed, DatabaseNotFound, OutgrowError, ServerUnreachable

__all__ = ["PostgreSQLDialect"]

# SQLSTATEs of a refused login (28000 invalid_authorization, 28P01 invalid_password) and a missing database.
_AUTH_STATES = {"28000", "28P01"}
_AUTH_TEXTS = ("password authentication failed", "no password supplied", "role \"", "authentication failed")
# libpq nests its reasons: 'connection failed: connection to server at "h", port 1 failed: FATAL:  <reason>'.
_LIBPQ_PREFIX = re.compile(r"(?:FATAL|ERROR|failed):\s+")
_SHOWN_SETTINGS = ("application_name", "statement_timeout", "search_path", "server_encoding", "TimeZone")


@register
class PostgreSQLDialect(EngineDialect):
    name = "postgresql"
    has_server: ClassVar[bool] = True

    def check_reachable(self, url: URL, *, create: bool) -> None:
        return None

    def engine_kwargs(self) -> dict[str, Any]:
        return {**self.pool_kwargs(), **self.plugin_engine_kwargs()}

    def plugin_engine_kwargs(self) -> dict[str, Any]:
        return {"pool_pre_ping": True, "connect_args": self.connect_args()}

    def connect_args(self) -> dict[str, Any]:
        """libpq parameters from the settings; they override the same names given in the URL."""
        settings = self.settings
        args: dict[str, Any] = {
            "application_name": settings.pg_application_name,
            "connect_timeout": settings.pg_connect_timeout_s,
        }
        options = []
        if settings.pg_statement_timeout_ms is not None:
            options.append(f"-c statement_timeout={settings.pg_statement_timeout_ms}")
        if settings.db_search_path:
            # libpq splits "options" on spaces; a backslash keeps one inside a value.
            options.append("-c search_path=" + settings.db_search_path.replace(" ", "\\ "))
        if options:
            args["options"] = " ".join(options)
        if settings.db_sslmode:
            args["sslmode"] = settings.db_sslmode
        return args

    def install(self, engine: Engine) -> None:
        # Everything PostgreSQL needs per connection travels in the startup packet (connect_args).
        return None

    @contextmanager
    def read_snapshot(self, engine: Engine) -> Iterator[Connection]:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with connection.begin():
                yield connection

    def describe(self, connection: Connection) -> dict[str, Any]:
        shown = {name: connection.exec_driver_sql(f'SHOW "{name}"').scalar() for name in _SHOWN_SETTINGS}
        return {
            "server_version": connection.exec_driver_sql("SHOW server_version").scalar(),
            "server_settings": shown,
            "ssl": bool(
                connection.exec_driver_sql(
                    "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)"
                ).scalar()
            ),
        }

    def storage_figures(self, dbapi_connection: Any, url: URL) -> dict[str, int | None]:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database()), current_setting('block_size')::int")
            size, block = cursor.fetchone()
        dbapi_connection.rollback()
        return {"size_bytes": int(size), "wal_bytes": None, "free_pages": None, "page_size": int(block)}

    def server_figures(self, dbapi_connection: Any) -> dict[str, int] | None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'idle'), "
                "count(*) FILTER (WHERE state LIKE 'idle in transaction%'), "
                "(SELECT count(*) FROM pg_locks l WHERE NOT l.granted AND l.database = "
                " (SELECT oid FROM pg_database WHERE datname = current_database())), "
                "current_setting('max_connections')::int "
                "FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
            row = cursor.fetchone()
        dbapi_connection.rollback()
        names = ("connections", "active", "idle", "idle_in_transaction", "waiting_for_locks", "max_connections")
        return dict(zip(names, (int(v) for v in row), strict=True))

    def translate_error(self, exc: BaseException, url: URL) -> OutgrowError | None:
        original = exc.orig if isinstance(exc, DBAPIError) else exc
        if not isinstance(original, psycopg.OperationalError):
            return None
        text = str(original)
        first_line = text.strip().splitlines()[0] if text.strip() else type(original).__name__
        reason = _LIBPQ_PREFIX.split(first_line)[-1].strip()
        where = _address(url)
        if original.sqlstate in _AUTH_STATES or any(marker in text for marker in _AUTH_TEXTS):
            return AuthenticationFailed(
                f"PostgreSQL at {where} refused the login for role {url.username or '(default)'!r}: {reason}",
                hint="check the user name and password in DATABASE_URL or DB_USERNAME / DB_PASSWORD",
            )
        if original.sqlstate == "3D000" or ("database \"" in text and "does not exist" in text):
            return DatabaseNotFound(
                f"PostgreSQL at {where} has no database {url.database!r}",
                hint="create it (createdb) or fix the database name in the URL",
            )
        return ServerUnreachable(
            f"cannot reach PostgreSQL at {where}: {reason}",
            hint="is the server running and listening there? check the host and port in the URL or DB_HOST / DB_PORT",
        )


def _address(url: URL) -> str:
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port or 5432}"
