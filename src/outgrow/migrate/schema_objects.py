"""Views and triggers for a plan: each translated (:mod:`outgrow.migrate.views`, :mod:`outgrow.migrate.triggers`)
into statements run after the tables are in the target schema, or listed with the reason it is not carried."""

from __future__ import annotations

from collections.abc import Callable

from psycopg import sql

from outgrow.migrate.expressions import Untranslatable, sqlite_affinity
from outgrow.migrate.fts import FullText, match_note, tsvector_sql
from outgrow.migrate.introspect import SourceSchema
from outgrow.migrate.plan_model import MAX_IDENTIFIER_BYTES, MigrationPlan, ObjectPlan, TablePlan
from outgrow.migrate.queries import QueryScope, Relation
from outgrow.migrate.table_objects import column_collations
from outgrow.migrate.triggers import plan_trigger
from outgrow.migrate.views import plan_view

__all__ = ["plan_schema_objects"]


def plan_schema_objects(plan: MigrationPlan, source: SourceSchema, name_of: Callable[[str], str],
                        server_version: int, text_order_same: bool) -> None:
    """Add the source's views, triggers and external-content FTS indexes to ``plan.objects``, or each to
    ``plan.skipped`` with its reason. ``name_of`` gives a SQLite name's PostgreSQL spelling."""
    views, triggers = source.views, source.triggers
    relations = {t.source.name.lower(): _relation(t) for t in plan.tables}
    relation_names = {t.name for t in plan.tables}  # tables and views share one namespace per schema
    function_names: set[str] = set()
    for name, create_sql in views:
        problem = _name_problem(name_of(name), relation_names)
        if problem:
            plan.skipped.append(("view", name, problem))
            continue
        scope = QueryScope(plan.schema, relations, text_order_same)
        planned, problem, relation = plan_view(name, create_sql, scope, name_of(name), server_version)
        if planned is None or relation is None:
            plan.skipped.append(("view", name, problem or "not translated"))
            continue
        plan.objects.append(planned)
        relations[name.lower()] = relation
        relation_names.add(planned.target)
    views_by_name = {o.name.lower() for o in plan.objects}
    for name, create_sql in triggers:
        problem = _name_problem(f"{name_of(name)}_fn", function_names)
        if problem:
            plan.skipped.append(("trigger", name, f"its function: {problem}"))
            continue
        function_names.add(f"{name_of(name)}_fn")
        scope = QueryScope(plan.schema, {k: v for k, v in relations.items() if k not in views_by_name},
                           text_order_same)
        planned_trigger, problem = plan_trigger(name, create_sql, scope, name_of(name))
        if planned_trigger is None:
            plan.skipped.append(("trigger", name, problem or "not translated"))
        else:
            plan.objects.append(planned_trigger)
    for name, full_text in source.external_full_text:
        _external_full_text(plan, name, full_text, name_of)


def _name_problem(target: str, taken: set[str]) -> str | None:
    if len(target.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        return f"the name {target!r} is over PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes"
    if target in taken:
        return f"the name {target!r} is already taken in the target schema"
    return None


def _relation(table: TablePlan) -> Relation:
    try:
        collations = column_collations(table.source.sql)
    except Untranslatable:
        collations = {}
    affinities = {c.name.lower(): sqlite_affinity(c.declared) for c in table.source.columns}
    alias = next((c.source.name.lower() for c in table.columns if c.identity), None)
    if alias is not None:
        affinities.update(dict.fromkeys(("rowid", "_rowid_", "oid"), "INTEGER"))
    return Relation(table.name, _columns(table), affinities,
                    frozenset(name for name, collation in collations.items() if collation == "NOCASE"))


def _columns(table: TablePlan) -> dict[str, tuple[str, str | None]]:
    """A table's columns for name resolution; ``rowid``, ``_rowid_`` and ``oid`` mean the INTEGER PRIMARY KEY
    column where the table has one (sqlite.org/lang_createtable.html#rowid)."""
    columns: dict[str, tuple[str, str | None]] = {c.source.name.lower(): (c.name, c.choice.pg_type)
                                                   for c in table.columns}
    columns.update({g.name.lower(): (g.name, g.pg_type) for g in table.generated})
    alias = next((c for c in table.columns if c.identity), None)
    if alias is not None:
        for name in ("rowid", "_rowid_", "oid"):
            columns.setdefault(name, (alias.name, alias.choice.pg_type))
    return columns


def _external_full_text(plan: MigrationPlan, name: str, full_text: FullText, name_of: Callable[[str], str]) -> None:
    """An FTS table over a content table: the content table's rows are copied once (as that table); the
    index is a GIN index on the same tsvector expression there."""
    content = next((t for t in plan.tables if t.source.name.lower() == (full_text.content or "").lower()), None)
    if full_text.problem is not None:
        plan.skipped.append(("virtual table", name, full_text.problem))
        return
    if content is None:
        plan.skipped.append(("virtual table", name, f"its content table {full_text.content!r} is not migrated"))
        return
    names = {c.source.name.lower(): c.name for c in content.columns}
    missing = [c for c in full_text.indexed if c.lower() not in names]
    if missing:
        plan.skipped.append(("virtual table", name, f"its columns {', '.join(missing)} are not in {content.name}"))
        return
    index = name_of(f"{name}_idx")
    statement = (f"CREATE INDEX {sql.Identifier(index).as_string(None)} ON "
                 f"{sql.Identifier(plan.schema, content.name).as_string(None)} USING gin "
                 f"(({tsvector_sql(full_text, names)}))")
    expression = tsvector_sql(full_text, names)
    plan.objects.append(ObjectPlan("full-text search", name, index, f"external content: {content.source.name}",
                                   (statement,), (match_note(content.name, expression, full_text),),
                                   f"DROP INDEX IF EXISTS {sql.Identifier(plan.schema, index).as_string(None)}"))
