"""CHECK constraints and partial-index predicates: parsed with sqlglot, rewritten by the rules of
:mod:`outgrow.migrate.expressions`, or reported with the first construct that blocks them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from outgrow.migrate.expressions import TableScope, Untranslatable, parse_sqlite, translate

__all__ = ["CheckPlan", "read_checks", "read_index_predicate"]


@dataclass(frozen=True)
class CheckPlan:
    """One CHECK constraint: its SQLite text, and its PostgreSQL text or why it is not carried."""

    source: str
    name: str | None
    pg_sql: str | None
    problem: str | None
    note: str | None = None


def read_checks(create_sql: str, scope: TableScope) -> list[CheckPlan]:
    """The CHECK constraints of a CREATE TABLE, translated."""
    try:
        tree = parse_sqlite(create_sql, "CREATE TABLE")
    except Untranslatable as exc:
        return [CheckPlan("CHECK", None, None, str(exc))]
    checks = []
    for constraint in tree.find_all(exp.CheckColumnConstraint):
        named = constraint.parent if isinstance(constraint.parent, exp.Constraint) else None
        name = named.this.name if named is not None and named.this is not None else None
        checks.append(_translate(constraint.this, name, scope))
    return checks


def read_index_predicate(create_index_sql: str, scope: TableScope) -> CheckPlan:
    """The WHERE of a partial CREATE INDEX, translated by the same rules as a CHECK (an expression means the
    same on both engines, so a row is in the index on one exactly when it is on the other)."""
    try:
        tree = parse_sqlite(create_index_sql, "CREATE INDEX")
    except Untranslatable as exc:
        return CheckPlan("WHERE", None, None, str(exc))
    where = tree.find(exp.Where)
    if where is None:
        return CheckPlan(create_index_sql[:80], None, None, "no WHERE found in a partial index")
    return _translate(where.this, None, scope)


def _translate(expression: exp.Expression, name: str | None, scope: TableScope) -> CheckPlan:
    translated = translate(expression, scope, condition=True)
    return CheckPlan(translated.source, name, translated.pg_sql, translated.problem,
                     "; ".join(translated.notes) or None)
