"""Real PostgreSQL servers for tests: the one named by ``OUTGROW_TEST_PG_URL``, or the embedded 18
(:mod:`outgrow.embedded`), which pytest-xdist workers share.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from outgrow.embedded import embedded_server_url
from outgrow.errors import OutgrowError
from outgrow.urls import libpq_url, normalize_url

__all__ = ["PgServer", "schema_snapshot", "start_server"]

TEST_URL_VARIABLE = "OUTGROW_TEST_PG_URL"
REQUIRE_VARIABLE = "OUTGROW_REQUIRE_PG"


@dataclass(frozen=True)
class PgServer:
    """A PostgreSQL server the tests may create and drop databases and roles on."""

    admin_url: URL
    version_num: int
    origin: str

    @property
    def major(self) -> int:
        return self.version_num // 10000

    def admin_conninfo(self, database: str | None = None) -> str:
        return _conninfo(self.admin_url if database is None else self.admin_url.set(database=database))

    def url_for(self, database: str, *, username: str | None = None, password: str | None = None) -> URL:
        """The URL of ``database`` on this server, as the admin or as another role."""
        url = self.admin_url.set(database=database)
        if username is not None:
            url = url.set(username=username, password=password)
        return url

    @contextlib.contextmanager
    def fresh_database(self, *, collation: str | None = None) -> Iterator[str]:
        """Create a uniquely named database (with ``collation`` as its LC_COLLATE when given), yield its name,
        drop it (with any open connections) after."""
        name = f"outgrow_test_{uuid.uuid4().hex[:12]}"
        options = sql.SQL(" TEMPLATE template0 LC_COLLATE {} LC_CTYPE {}").format(
            sql.Literal(collation), sql.Literal(collation)) if collation else sql.SQL("")
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), options))
        try:
            yield name
        finally:
            with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def password_role(self) -> Iterator[tuple[str, str]]:
        """A login role that must authenticate with scram-sha-256; yields (role, password), drops it after.

        Adds ``local`` and ``host`` lines for the role at the top of the server's pg_hba.conf, reloads, and
        waits until the server really asks for the password; removes them after. Needs the hba file on this
        machine (embedded servers and local clusters).
        """
        role = f"outgrow_pw_{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        lines = [f"local all {role} scram-sha-256\n", f"host all {role} 127.0.0.1/32 scram-sha-256\n",
                 f"host all {role} ::1/128 scram-sha-256\n"]
        hba: Path | None = None
        try:
            with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
                conn.execute("SET password_encryption = 'scram-sha-256'")
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), password))
                hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
            _edit_hba(hba, add=lines)
            self._reload()
            self._wait_for_password_check(role)
            yield role, password
        finally:
            if hba is not None:
                _edit_hba(hba, remove=lines)
                self._reload()
            with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    def _reload(self) -> None:
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")

    def _wait_for_password_check(self, role: str, timeout_s: float = 10.0) -> None:
        # pg_reload_conf() only signals the postmaster: poll until a wrong password is refused.
        probe = _conninfo(self.url_for("postgres", username=role, password="not-the-password"))  # noqa: S106 - a deliberately wrong one
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(probe, connect_timeout=5).close()
            except psycopg.OperationalError as exc:
                if "password authentication failed" in str(exc):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"pg_hba.conf change for {role} not in force after {timeout_s:.0f}s")
            time.sleep(0.05)


def schema_snapshot(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """What a schema dump would show of a database's own objects: schemas, relations, their columns and types,
    constraints and indexes. Two equal snapshots mean nothing was created, dropped or altered."""
    relations = conn.execute(
        "SELECT n.nspname, c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
        "ORDER BY 1, 2, 4").fetchall()
    schemas = conn.execute("SELECT nspname, NULL, 'schema', NULL, NULL, NULL FROM pg_namespace "
                           "WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1").fetchall()
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid), NULL, NULL "
        "FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace, "
        "'information_schema'::regnamespace) ORDER BY 1, 2").fetchall()
    return schemas + relations + constraints


def _edit_hba(hba: Path, *, add: list[str] | None = None, remove: list[str] | None = None) -> None:
    """Rewrite pg_hba.conf atomically (temp file, same owner and mode, rename): a reload triggered by another
    xdist worker must never read half a file."""
    if not hba.exists():
        raise FileNotFoundError(f"pg_hba.conf {hba} is not on this machine; password tests need a local server")
    lock_path = hba.with_name(hba.name + ".outgrow-lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers edit the same file
        lines = hba.read_text(encoding="utf-8").splitlines(keepends=True)
        if add:
            lines = add + lines
        if remove:
            lines = [line for line in lines if line not in remove]
        status = hba.stat()
        temporary = hba.with_name(hba.name + f".{os.getpid()}.tmp")
        temporary.write_text("".join(lines), encoding="utf-8")
        os.chown(temporary, status.st_uid, status.st_gid)
        os.chmod(temporary, status.st_mode)
        os.replace(temporary, hba)


def _conninfo(url: URL) -> str:
    return libpq_url(url)


def libpq_conninfo(url: str) -> str:
    """A database URL (as the ``pg_url`` fixture gives it) in the form psycopg.connect() takes."""
    return _conninfo(make_url(url))


def start_server() -> PgServer:
    """The configured server, or the embedded one (started once per machine, shared by xdist workers).

    Raises ``RuntimeError`` with the reason when neither can be had.
    """
    configured = os.environ.get(TEST_URL_VARIABLE)
    if configured:
        url, origin = normalize_url(configured), TEST_URL_VARIABLE
    else:
        url, origin = _embedded_url(), "embedded"
    try:
        with psycopg.connect(_conninfo(url), autocommit=True, connect_timeout=10) as conn:
            version_num = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    except psycopg.Error as exc:
        raise RuntimeError(f"PostgreSQL from {origin} does not answer: {str(exc).splitlines()[0]}") from None
    return PgServer(admin_url=url, version_num=version_num, origin=origin)


def _embedded_url() -> URL:
    try:
        return embedded_server_url()
    except OutgrowError as exc:
        raise RuntimeError(exc.message) from None
