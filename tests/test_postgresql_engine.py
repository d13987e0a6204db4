"""PostgreSQL through psycopg 3 on a real server: pool, per-connection options, read-only snapshots."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import InternalError, OperationalError
from sqlalchemy.pool import QueuePool

from outgrow import DatabaseNotFound, Settings, connect
from outgrow.testing import PgServer

pytestmark = pytest.mark.postgres


def test_engine_uses_psycopg3_with_a_pre_pinged_pool(pg_url: str) -> None:
    with connect(Settings(database_url=pg_url)) as db:
        assert db.engine.dialect.driver == "psycopg"
        assert isinstance(db.engine.pool, QueuePool)
        assert db.engine.pool._pre_ping is True
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (5, 10)


def test_application_name_is_seen_by_the_server(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_PG_APPLICATION_NAME", "orders-worker")
    with connect(Settings(database_url=pg_url)) as db, db.engine.connect() as conn:
        assert conn.execute(text(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")).scalar_one() == (
            "orders-worker")


def test_statement_timeout_cancels_long_statements(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_PG_STATEMENT_TIMEOUT_MS", "100")
    with connect(Settings(database_url=pg_url)) as db, db.engine.connect() as conn, pytest.raises(
        OperationalError, match="canceling statement due to statement timeout"
    ):
        conn.execute(text("SELECT pg_sleep(2)"))


def test_search_path_is_set_on_every_connection(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect(Settings(database_url=pg_url)) as db, db.transaction() as conn:
        conn.execute(text("CREATE SCHEMA app"))
        conn.execute(text("CREATE TABLE app.orders (id bigint)"))
    monkeypatch.setenv("DB_SEARCH_PATH", "app,public")
    with connect(Settings(database_url=pg_url)) as db:
        held = [db.engine.connect() for _ in range(3)]
        for conn in held:
            assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0
            conn.close()


def test_seed_style_settings_reach_the_same_server(pg_server: PgServer, pg_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_server.admin_url
    monkeypatch.setenv("DB_CONNECTION", "pgsql")
    monkeypatch.setenv("DB_HOST", str(url.host or url.query["host"]))
    monkeypatch.setenv("DB_PORT", str(url.port or 5432))
    monkeypatch.setenv("DB_USERNAME", str(url.username))
    if url.password:
        monkeypatch.setenv("DB_PASSWORD", str(url.password))
    monkeypatch.setenv("DB_DATABASE", make_url(pg_url).database)
    monkeypatch.setenv("DB_SSLMODE", "disable")
    with connect() as db, db.engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == make_url(pg_url).database
        assert db.describe()["ssl"] is False


def test_read_is_a_read_only_repeatable_snapshot(pg_url: str) -> None:
    with connect(Settings(database_url=pg_url)) as db:
        with db.transaction() as conn:
            conn.execute(text("CREATE TABLE counter (id bigint PRIMARY KEY, n bigint NOT NULL)"))
            conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
        with db.read() as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0
            with db.transaction() as writer:
                writer.execute(text("UPDATE counter SET n = 10"))
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0
            with pytest.raises(InternalError, match="read-only transaction"):
                conn.execute(text("UPDATE counter SET n = 1"))


def test_missing_database_is_named(pg_server: PgServer) -> None:
    url = pg_server.url_for("outgrow_no_such_database")
    with pytest.raises(DatabaseNotFound) as caught:
        connect(Settings(database_url=url.render_as_string(hide_password=False)))
    assert caught.value.message.endswith("has no database 'outgrow_no_such_database'")
