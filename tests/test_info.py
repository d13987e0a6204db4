"""``outgrow info``: configuration and the settings in force, as tables and as JSON."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from outgrow import Settings, connect
from outgrow.cli import app
from outgrow.testing import PgServer, TestDatabase

runner = CliRunner()


def info_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["info", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_info_json_on_sqlite_reads_pragmas_back(sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    connect(sqlite_db.settings()).close()  # create the file
    monkeypatch.setenv("OUTGROW_SQLITE_CACHE_SIZE_KIB", "1000")
    data = info_json("--url", sqlite_db.url)
    assert data["engine"] == "sqlite"
    assert data["url"] == sqlite_db.url
    assert data["driver"] == "pysqlite"
    assert data["pool"] == {"class": "QueuePool", "size": 5, "max_overflow": 10, "timeout_s": 30.0, "checked_out": 0}
    assert data["pragmas"] == {
        "busy_timeout": 5000, "journal_mode": "wal", "synchronous": "normal", "foreign_keys": True,
        "cache_size": -1000, "temp_store": "memory", "mmap_size": 268435456, "journal_size_limit": 67108864,
    }
    assert data["requested_pragmas"] == data["pragmas"]
    settings = data["settings"]
    assert isinstance(settings, dict)
    assert settings["OUTGROW_SQLITE_CACHE_SIZE_KIB"] == 1000
    assert set(settings) == {f.upper() if f.startswith(("db_", "database_")) else f"OUTGROW_{f.upper()}"
                             for f in Settings.model_fields}


def test_info_shows_pragmas_actually_in_force_not_requested(
    sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite caps mmap_size at its compile-time SQLITE_MAX_MMAP_SIZE (2147418112 in common builds): info must
    # show the capped value in force, not the 4 GiB asked for.
    monkeypatch.setenv("OUTGROW_SQLITE_MMAP_SIZE_BYTES", str(4 * 1024**3))
    with connect(sqlite_db.settings()) as db, db.engine.connect() as conn:
        in_force = conn.exec_driver_sql("PRAGMA mmap_size").scalar_one()
    assert in_force < 4 * 1024**3
    data = info_json("--url", sqlite_db.url)
    assert data["pragmas"]["mmap_size"] == in_force  # type: ignore[index]
    assert data["requested_pragmas"]["mmap_size"] == 4 * 1024**3  # type: ignore[index]
    result = runner.invoke(app, ["info", "--url", sqlite_db.url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in result.stdout.splitlines()
            if "mmap_size" in line and "OUTGROW" not in line]
    assert rows == [["mmap_size", f"{in_force} (differs)", str(4 * 1024**3)]]


@pytest.mark.postgres
def test_info_json_on_postgresql(pg_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_PG_STATEMENT_TIMEOUT_MS", "1500")
    monkeypatch.setenv("OUTGROW_PG_APPLICATION_NAME", "billing-api")
    monkeypatch.setenv("DB_SEARCH_PATH", "app, public")
    data = info_json("--url", pg_url)
    assert data["engine"] == "postgresql"
    assert data["driver"] == "psycopg"
    assert str(data["server_version"]).split(".")[0] == str(pg_server.major)
    assert data["server_settings"] == {
        "application_name": "billing-api", "statement_timeout": "1500ms", "search_path": "app, public",
        "server_encoding": "UTF8", "TimeZone": data["server_settings"]["TimeZone"],  # type: ignore[index]
    }
    assert data["pragmas"] == {}
    assert data["ssl"] is False


@pytest.mark.postgres
def test_info_never_prints_the_password(pg_server: PgServer, pg_url: str) -> None:
    with pg_server.password_role() as (role, password):
        url = pg_server.url_for(make_url(pg_url).database, username=role, password=password)
        result = runner.invoke(app, ["info", "--url", url.render_as_string(hide_password=False)],
                               env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert password not in result.stdout
        assert f"{role}:***@" in result.stdout
