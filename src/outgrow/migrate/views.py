"""Views: the SELECT parsed with sqlglot and rewritten by outgrow's rules (:mod:`outgrow.migrate.expressions`
and :mod:`outgrow.migrate.queries`), created ``WITH (security_invoker = true)`` where the server has it (15+),
so row-level security on the tables binds whoever reads the view. A view that cannot be translated is listed
with the first construct that blocks it."""

from __future__ import annotations

from psycopg import sql
from sqlglot import exp

from outgrow.migrate.expressions import Untranslatable, parse_sqlite, translate
from outgrow.migrate.plan_model import ObjectPlan
from outgrow.migrate.queries import QueryScope, Relation

__all__ = ["plan_view"]

SECURITY_INVOKER_VERSION = 150000


def plan_view(name: str, create_sql: str, scope: QueryScope, target_name: str, server_version: int
              ) -> tuple[ObjectPlan | None, str | None, Relation | None]:
    """(the plan, None, the view as a relation later views can read) or (None, why it is not carried, None)."""
    try:
        tree = parse_sqlite(create_sql, "CREATE VIEW")
    except Untranslatable as exc:
        return None, str(exc), None
    query = tree.args.get("expression")
    if not isinstance(tree, exp.Create) or not isinstance(query, exp.Expression) or not isinstance(query, exp.Query):
        return None, "the CREATE VIEW could not be read", None
    try:
        scope.bind(query)
    except Untranslatable as exc:
        return None, str(exc), None
    translated = translate(query, scope)
    if translated.pg_sql is None:
        return None, translated.problem, None
    notes = list(translated.notes)
    if query.args.get("order") is not None and not scope.text_order_same:
        notes.append("ORDER BY: text orders by the database's collation, not by bytes (--collation C)")
    if any(isinstance(n, exp.Avg) for n in query.walk()):
        notes.append("avg() of integers is numeric on PostgreSQL, a double on SQLite: same value, more digits")
    columns = [c.name for c in tree.this.expressions] if isinstance(tree.this, exp.Schema) else []
    qualified = sql.Identifier(scope.schema, target_name).as_string(None)
    column_list = f" ({', '.join(sql.Identifier(c).as_string(None) for c in columns)})" if columns else ""
    security = " WITH (security_invoker = true)" if server_version >= SECURITY_INVOKER_VERSION else ""
    if not security:
        notes.append("the server is older than 15: the view runs with its owner's rights, not the reader's")
    statement = f"CREATE VIEW {qualified}{column_list}{security} AS {translated.pg_sql}"
    output: dict[str, tuple[str, str | None]] = {c.lower(): (c, None) for c in columns}
    for selected in ([] if columns else query.selects):
        if isinstance(selected, exp.Star) or (isinstance(selected, exp.Column) and isinstance(selected.this, exp.Star)):
            for used in sorted(scope.used):
                output.update(scope.relations[used].columns)
        elif selected.alias_or_name:
            found = scope.column(selected) if isinstance(selected, exp.Column) else None
            output[selected.alias_or_name.lower()] = (found.name if found else selected.alias_or_name.lower(),
                                                      found.pg_type if found else None)
    planned = ObjectPlan("view", name, target_name, create_sql, (statement,), tuple(notes),
                         f"DROP VIEW IF EXISTS {qualified}", f"VIEW {qualified}")
    return planned, None, Relation(target_name, output)
