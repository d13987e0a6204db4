"""Views and triggers for a plan: each translated (:mod:`outgrow.migrate.views`, :mod:`outgrow.migrate.triggers`)
into statements run after the tables are in the target schema, or listed with the reason it is not carried."""

from __future__ import annotations

from collections.abc import Callable

from outgrow.migrate.plan_model import MigrationPlan
from outgrow.migrate.queries import QueryScope, Relation
from outgrow.migrate.triggers import plan_trigger
from outgrow.migrate.views import plan_view

__all__ = ["plan_schema_objects"]


def plan_schema_objects(plan: MigrationPlan, views: list[tuple[str, str]], triggers: list[tuple[str, str]],
                        name_of: Callable[[str], str], server_version: int, text_order_same: bool) -> None:
    """Add ``views`` then ``triggers`` (name, SQLite SQL) to ``plan.objects`` or ``plan.skipped``.
    ``name_of`` turns a SQLite name into its PostgreSQL one under the run's identifier style."""
    relations = {t.source.name.lower(): Relation(t.name, {
        **{c.source.name.lower(): (c.name, c.choice.pg_type) for c in t.columns},
        **{g.name.lower(): (g.name, g.pg_type) for g in t.generated},
    }) for t in plan.tables}
    for name, create_sql in views:
        scope = QueryScope(plan.schema, relations, text_order_same)
        planned, problem, relation = plan_view(name, create_sql, scope, name_of(name), server_version)
        if planned is None or relation is None:
            plan.skipped.append(("view", name, problem or "not translated"))
            continue
        plan.objects.append(planned)
        relations[name.lower()] = relation
    views_by_name = {o.name.lower() for o in plan.objects}
    for name, create_sql in triggers:
        scope = QueryScope(plan.schema, {k: v for k, v in relations.items() if k not in views_by_name},
                           text_order_same)
        planned_trigger, problem = plan_trigger(name, create_sql, scope, name_of(name))
        if planned_trigger is None:
            plan.skipped.append(("trigger", name, problem or "not translated"))
        else:
            plan.objects.append(planned_trigger)
