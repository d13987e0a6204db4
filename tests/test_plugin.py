"""Applications that build their own engine get the same tuning with ``?plugin=outgrow``."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from outgrow.dialects import read_pragmas, requested_pragmas
from outgrow.settings import Settings
from outgrow.testing import TestDatabase


@pytest.mark.parametrize("style", ["query", "keyword"])
def test_plugin_tunes_every_pooled_connection(sqlite_db: TestDatabase, style: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_SQLITE_BUSY_TIMEOUT_MS", "2500")
    if style == "query":
        engine = create_engine(f"{sqlite_db.url}?plugin=outgrow")
    else:
        engine = create_engine(sqlite_db.url, plugins=["outgrow"])
    begins: list[str] = []

    def trace(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(lambda sql: begins.append(sql) if sql.startswith("BEGIN") else None)

    event.listen(engine, "connect", trace)
    held = [engine.connect() for _ in range(4)]
    for conn in held:
        pragmas = read_pragmas(conn.connection.driver_connection)
        assert pragmas == requested_pragmas(Settings())
        assert pragmas["busy_timeout"] == 2500
        conn.close()
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
    assert begins == ["BEGIN IMMEDIATE"]  # the explicit transaction only; the read ran in autocommit
    assert engine.url.query == {}
    engine.dispose()


@pytest.mark.postgres
def test_plugin_on_postgresql_sets_startup_options_the_app_left_unset(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGROW_PG_STATEMENT_TIMEOUT_MS", "2500")
    engine = create_engine(pg_url, plugins=["outgrow"], connect_args={"application_name": "app-own-name"})
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "2500ms"
        assert conn.execute(text("SHOW application_name")).scalar_one() == "app-own-name"  # the app's wins
    assert engine.pool._pre_ping is True
    engine.dispose()


def test_plugin_ignores_the_environments_database_url(sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://someone@elsewhere/db")  # another engine's business
    engine = create_engine(f"{sqlite_db.url}?plugin=outgrow")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    engine.dispose()
