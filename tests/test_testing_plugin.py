"""The pytest plugin as a user's test suite sees it: fixtures, parametrization, skip versus fail."""

from __future__ import annotations

import pytest

USER_TESTS = """
from sqlalchemy import text
from outgrow import connect

def test_sqlite_file_is_fresh(sqlite_db):
    assert not sqlite_db.path.exists()

def test_runs_on_both(any_db):
    with connect(any_db.settings()) as db, db.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1

def test_needs_postgres(pg_url):
    assert pg_url.startswith("postgresql+psycopg://")
"""


def test_without_a_server_postgres_tests_skip_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGROW_TEST_PG_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("OUTGROW_REQUIRE_PG", raising=False)
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*no PostgreSQL server: PostgreSQL from OUTGROW_TEST_PG_URL does not answer*"])


def test_with_require_pg_a_missing_server_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGROW_TEST_PG_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("OUTGROW_REQUIRE_PG", "1")
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*OUTGROW_REQUIRE_PG is set but no PostgreSQL server is available*"])
    assert result.ret != 0


@pytest.mark.postgres
def test_with_a_server_every_fixture_runs(pytester: pytest.Pytester, pg_server: object) -> None:
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["*test_runs_on_both[[]sqlite[]] PASSED*", "*test_runs_on_both[[]postgresql[]] PASSED*"])
