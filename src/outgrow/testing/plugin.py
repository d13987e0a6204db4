"""pytest fixtures for real databases, registered as the ``outgrow`` pytest11 plugin.

* ``sqlite_db``: a fresh SQLite file per test (a :class:`TestDatabase`).
* ``pg_url``: a fresh database per test on a real PostgreSQL server, dropped after (a URL string).
* ``any_db``: parametrized over both engines, so one test body runs on each.
* ``pg_server``: the session's server (:class:`~outgrow.testing.servers.PgServer`).

The server is ``OUTGROW_TEST_PG_URL`` when set, otherwise an embedded PostgreSQL 18. When no server can be
had, tests that need one are skipped with the reason, unless ``OUTGROW_REQUIRE_PG=1``: then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from outgrow.settings import Settings
from outgrow.testing.servers import REQUIRE_VARIABLE, PgServer, start_server
from outgrow.urls import mask_url

__all__ = ["TestDatabase"]


@dataclass(frozen=True)
class TestDatabase:
    """One database handed to a test."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    engine: str
    url: str
    path: Path | None = None

    def __repr__(self) -> str:
        return f"TestDatabase(engine={self.engine!r}, url={mask_url(self.url)!r}, path={self.path!r})"

    def settings(self, **overrides: Any) -> Settings:
        """Settings pointing at this database (environment and ``.env`` still apply to the rest)."""
        return Settings(database_url=self.url, **overrides)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (embedded 18, or OUTGROW_TEST_PG_URL)")


def _required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE, "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The session's PostgreSQL server; skips (or fails under OUTGROW_REQUIRE_PG=1) when there is none."""
    try:
        return start_server()
    except Exception as exc:  # a malformed OUTGROW_TEST_PG_URL or a server that will not start: same verdict
        if _required():
            pytest.fail(f"{REQUIRE_VARIABLE} is set but no PostgreSQL server is available: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> TestDatabase:
    """A fresh, not yet created SQLite file in the test's own directory."""
    path = tmp_path / "test.db"
    return TestDatabase(engine="sqlite", url=f"sqlite:///{path}", path=path)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database on the session's server, dropped (with its connections) after the test."""
    with pg_server.fresh_database() as name:
        yield pg_server.url_for(name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> TestDatabase:
    """The same test body on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db: TestDatabase = request.getfixturevalue("sqlite_db")
        return db
    return TestDatabase(engine="postgresql", url=request.getfixturevalue("pg_url"))
