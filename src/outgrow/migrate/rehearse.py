"""A rehearsal of the schema on the target before anything is written: every table, DEFAULT, generated column,
CHECK, index, view and trigger the plan carries is created in a throwaway schema, one at a time inside
savepoints, and the whole transaction is rolled back. Whatever PostgreSQL refuses (a type it will not compare,
a view it cannot resolve) moves from "carried" to "not carried" with PostgreSQL's own reason, so a plan that
says "carried" is one the load will accept, and a refusal is a line in the report rather than a failed run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from outgrow.migrate import ddl
from outgrow.migrate.plan import MigrationPlan

__all__ = ["REHEARSAL_PREFIX", "rehearse"]

REHEARSAL_PREFIX = "outgrow_rehearsal_"


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextmanager
def _savepoint(pg: psycopg.Connection[Any]) -> Iterator[None]:
    try:
        with pg.transaction():
            yield
    except psycopg.Error as exc:
        raise _Refused(f"PostgreSQL refused it: {str(exc).splitlines()[0]}") from None


def rehearse(plan: MigrationPlan, conninfo: str) -> None:
    """Try the plan's schema on the target (rolled back) and move what PostgreSQL refuses to not carried."""
    schema = REHEARSAL_PREFIX + uuid.uuid4().hex[:12]
    with psycopg.connect(conninfo) as pg:
        try:
            pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            if any(c.choice.pg_type == "citext" for t in plan.tables for c in t.columns):
                pg.execute("CREATE EXTENSION IF NOT EXISTS citext")
            for table in plan.tables:
                pg.execute(ddl.create_table(table, schema, bare=True))
            for table in plan.tables:
                for column in [c for c in table.columns if c.default]:
                    if not _tried(pg, ddl.set_default(table, schema, column), table.skipped,
                                  f"column {column.source.name}", f"DEFAULT {column.default}"):
                        column.default = None
                table.generated = [g for g in table.generated if _tried(
                    pg, ddl.add_generated(table, schema, g), table.skipped, f"column {g.name}",
                    f"generated AS ({g.source})")]
                table.checks = [c for c in table.checks if _tried(
                    pg, ddl.add_check(table, schema, c), table.skipped,
                    f"check {c.name}" if c.name else f"check ({c.source})", "")]
                table.indexes = [i for i in table.indexes if _tried(
                    pg, ddl.create_index(table, schema, i), table.skipped, f"index {i.name}", "")]
            kept = []
            for planned in plan.objects:
                try:
                    with _savepoint(pg):
                        for statement in planned.statements:
                            pg.execute(_in_schema(statement, plan.schema, schema).encode())
                    kept.append(planned)
                except _Refused as refused:
                    plan.skipped.append((planned.kind, planned.name, refused.reason))
            plan.objects = kept
        finally:
            pg.rollback()


def _tried(pg: psycopg.Connection[Any], statement: sql.Composed, skipped: list[tuple[str, str]], what: str,
           shown: str) -> bool:
    try:
        with _savepoint(pg):
            pg.execute(statement)
    except _Refused as refused:
        skipped.append((what, f"{shown + ': ' if shown else ''}{refused.reason}"))
        return False
    return True


def _in_schema(statement: str, target: str, rehearsal: str) -> str:
    """A view or trigger statement (built for ``target``, every name quoted) aimed at the rehearsal schema."""
    return statement.replace(sql.Identifier(target).as_string(None) + ".", sql.Identifier(rehearsal).as_string(None)
                             + ".")
