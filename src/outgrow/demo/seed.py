"""Fast, deterministic seeding of the reference schema through ``outgrow.connect()``.

Rows are generated inside SQLite (``INSERT ... SELECT`` over a counting CTE) rather than in Python: binding
eight Python values per row cost more than SQLite's whole insert (profiled: 0.56 s of generation against
0.64 s of ``executemany`` for 105,200 rows). Values come from an integer hash of the row number and the
seed, so the same plan always gives the same database. Events are written tenant by tenant, as a busy
application's rows cluster in its indexes, which keeps index maintenance local. Everything is written in
one ``BEGIN IMMEDIATE`` transaction, in chunks so a progress bar can follow.

The WAL checkpoint that SQLite would otherwise run inside that COMMIT (copying ~20 MB back into the
database file and fsyncing it: 0.10-0.15 s of a 0.5 s seed, profiled) is run right after and reported on
its own: the rows are committed and durable in the WAL before it, as in any WAL application, where
checkpoints are housekeeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from outgrow.demo.schema import DEMO_SCHEMA
from outgrow.engine import Database

__all__ = ["SeedPlan", "SeedReport", "create_schema", "seed_database"]

CHUNK_ROWS = 10_000

# :lo and :hi bound the row numbers; h is a deterministic pseudo-random integer per row.
_ROWS = (
    "WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi), "
    "r(i, h) AS (SELECT i, ((i + :seed) * 2654435761) % 4294967291 FROM n) "
)
_INSERTS = {
    "organizations": _ROWS + """
        INSERT INTO organizations (id, slug, name, plan, created_at)
        SELECT i, 'org-' || i, 'Organization ' || i,
               CASE h % 4 WHEN 0 THEN 'free' WHEN 1 THEN 'pro' WHEN 2 THEN 'team' ELSE 'enterprise' END,
               datetime(1704067200 + i * 3600, 'unixepoch')
        FROM r""",
    "users": _ROWS + """
        INSERT INTO users (id, organization_id, email, name, is_admin, created_at)
        SELECT i, (i - 1) / :users_per_org + 1,
               'user' || i || '@org' || ((i - 1) / :users_per_org + 1) || '.example', 'User ' || i,
               h % 10 = 0, datetime(1704153600 + i * 60, 'unixepoch')
        FROM r""",
    "projects": _ROWS + """
        INSERT INTO projects (id, organization_id, owner_id, title, budget, archived, created_at)
        SELECT i, (i - 1) / :projects_per_org + 1,
               ((i - 1) / :projects_per_org) * :users_per_org + h % :users_per_org + 1,
               'Project ' || i, (h % 10000000) / 100.0, h % 5 = 0,
               datetime(1704240000 + i * 600, 'unixepoch')
        FROM r""",
    "events": _ROWS + """
        , e(i, h, org) AS (SELECT i, h, (i - 1) / :events_per_org FROM r)
        INSERT INTO events (id, organization_id, project_id, user_id, kind, payload, amount, created_at)
        SELECT i, org + 1, org * :projects_per_org + h % :projects_per_org + 1,
               org * :users_per_org + (h / 7) % :users_per_org + 1,
               CASE h % 6 WHEN 0 THEN 'login' WHEN 1 THEN 'view' WHEN 2 THEN 'edit' WHEN 3 THEN 'comment'
                          WHEN 4 THEN 'export' ELSE 'invite' END,
               '{"ip": "10.0.' || (i % 256) || '.' || (org % 256) || '", "n": ' || i || '}',
               (h % 100000) / 100.0,
               datetime(1735689600 + ((i - 1) % :events_per_org) * 300 + h % 300, 'unixepoch')
        FROM e""",
}


@dataclass(frozen=True)
class SeedPlan:
    """How many rows of each table to write."""

    organizations: int = 200
    users_per_organization: int = 20
    projects_per_organization: int = 5
    events: int = 100_000
    seed: int = 42

    @property
    def rows(self) -> dict[str, int]:
        return {
            "organizations": self.organizations,
            "users": self.organizations * self.users_per_organization,
            "projects": self.organizations * self.projects_per_organization,
            "events": self.events,
        }

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def events_per_organization(self) -> int:
        return max(1, -(-self.events // self.organizations))


@dataclass(frozen=True)
class SeedReport:
    rows: dict[str, int]
    seconds: float
    checkpoint_seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_s(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


def create_schema(db: Database) -> None:
    """Create the reference tables and indexes in one transaction."""
    with db.transaction() as conn:
        for statement in filter(str.strip, DEMO_SCHEMA.split(";")):
            conn.exec_driver_sql(statement)


def seed_database(db: Database, plan: SeedPlan, progress: Callable[[int], None] | None = None) -> SeedReport:
    """Write ``plan``'s rows in one transaction; ``progress(n)`` is called after each chunk of ``n`` rows."""
    started = time.perf_counter()
    params = {
        "seed": plan.seed,
        "users_per_org": plan.users_per_organization,
        "projects_per_org": plan.projects_per_organization,
        "events_per_org": plan.events_per_organization,
    }
    written: dict[str, int] = {}
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
        conn.commit()
        try:
            with conn.begin():
                for table, count in plan.rows.items():
                    written[table] = 0
                    for lo in range(1, count + 1, CHUNK_ROWS):
                        hi = min(count, lo + CHUNK_ROWS - 1)
                        conn.exec_driver_sql(_INSERTS[table], {**params, "lo": lo, "hi": hi})
                        written[table] += hi - lo + 1
                        if progress is not None:
                            progress(hi - lo + 1)
            committed = time.perf_counter()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
        finally:
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 1000")  # SQLite's default, for the pooled connection
            conn.commit()
    return SeedReport(rows=written, seconds=committed - started,
                      checkpoint_seconds=time.perf_counter() - committed)
