"""Each bad input gives one line (plus a hint), a non-zero exit code and no traceback, in a real process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import make_url

from outgrow.testing import PgServer


def run(cli: list[str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, check=False)


def assert_one_error(result: subprocess.CompletedProcess[str], code: int, message: str, hint: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {message}", f"hint: {hint}"]
    assert "Traceback" not in result.stderr


def test_missing_file(outgrow_cli: list[str], tmp_path: Path) -> None:
    result = run(outgrow_cli, "info", "--url", "sqlite:///missing.db")
    assert_one_error(result, 1, "no SQLite database at missing.db",
                     "check DATABASE_URL / DB_DATABASE, or run `outgrow demo` to make one")
    assert not (tmp_path / "missing.db").exists()  # info never creates a database


def test_file_that_is_not_sqlite(outgrow_cli: list[str], tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("just some text, not a database\n")
    result = run(outgrow_cli, "info", env={"DATABASE_URL": "sqlite:///notes.db"})
    assert_one_error(result, 1, "notes.db is not a SQLite database (its header is not 'SQLite format 3')",
                     "check DATABASE_URL / DB_DATABASE: it should name the application's .db file")


def test_unreachable_server(outgrow_cli: list[str]) -> None:
    result = run(outgrow_cli, "info", "--url", "postgresql://app:hunter2@127.0.0.1:1/prod")
    assert_one_error(result, 1, "cannot reach PostgreSQL at 127.0.0.1:1: Connection refused",
                     "is the server running and listening there? check the host and port in the URL or "
                     "DB_HOST / DB_PORT")
    assert "hunter2" not in result.stderr


def test_malformed_url(outgrow_cli: list[str]) -> None:
    result = run(outgrow_cli, "info", env={"DATABASE_URL": "postgresql://app:hunter2@db:notaport/prod"})
    assert_one_error(result, 2, "invalid setting DATABASE_URL='postgresql://app:***@db:notaport/prod': "
                                "the port is not a number",
                     "fix DATABASE_URL in the environment or .env; the README's configuration reference lists "
                     "each setting")
    assert "hunter2" not in result.stderr


def test_unknown_setting_value(outgrow_cli: list[str]) -> None:
    result = run(outgrow_cli, "info", env={"OUTGROW_SQLITE_TRANSACTION_MODE": "sometimes"})
    assert_one_error(result, 2, "invalid setting OUTGROW_SQLITE_TRANSACTION_MODE='sometimes': input should be "
                                "'immediate', 'deferred' or 'exclusive'",
                     "fix OUTGROW_SQLITE_TRANSACTION_MODE in the environment or .env; the README's configuration "
                     "reference lists each setting")


def test_missing_env_file(outgrow_cli: list[str]) -> None:
    result = run(outgrow_cli, "info", "--env-file", "nowhere.env")
    assert_one_error(result, 2, "no settings file at nowhere.env", "check the --env-file path")


def test_unknown_option_is_a_usage_error(outgrow_cli: list[str]) -> None:
    result = run(outgrow_cli, "info", "--no-such-option")
    assert result.returncode == 2
    assert "No such option: --no-such-option" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_wrong_password_is_refused_and_never_echoed(outgrow_cli: list[str], pg_server: PgServer, pg_url: str) -> None:
    database = make_url(pg_url).database
    with pg_server.password_role() as (role, password):
        wrong = pg_server.url_for(database, username=role, password="wrong-" + password)
        result = run(outgrow_cli, "info", "--url", wrong.render_as_string(hide_password=False))
        host = wrong.host or wrong.query["host"]
        assert_one_error(
            result, 1,
            f"PostgreSQL at {host}:{wrong.port or 5432} refused the login for role '{role}': "
            f'password authentication failed for user "{role}"',
            "check the user name and password in DATABASE_URL or DB_USERNAME / DB_PASSWORD")
        assert password not in result.stderr
        right = pg_server.url_for(database, username=role, password=password)
        ok = run(outgrow_cli, "info", "--json", "--url", right.render_as_string(hide_password=False))
        assert ok.returncode == 0, ok.stderr
        assert password not in ok.stdout
