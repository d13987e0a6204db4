"""Rows a migration must leave out besides those holding a value that cannot be carried: rows whose foreign key
names no row (dangling), and rows whose parent row is itself left out (orphans), transitively."""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

from outgrow.migrate.introspect import ForeignKey, Table
from outgrow.migrate.plan_model import MigrationPlan, Reject, TablePlan
from outgrow.migrate.rows import carried_columns, dangling_rows, iter_rows, key_offset, row_identity, row_key
from outgrow.migrate.values import escape_value

__all__ = ["dangling_foreign_keys", "orphans"]


def dangling_foreign_keys(conn: sqlite3.Connection, planned: list[TablePlan], every: list[Table]) -> list[Reject]:
    by_name = {t.name.lower(): t for t in every}
    dangling = []
    for plan in planned:
        table = plan.source
        for fk, *_target in plan.foreign_keys:
            parent = by_name.get(fk.ref_table.lower())
            nocase = frozenset(c.source.name.lower() for c in plan.columns if c.choice.pg_type == "citext")
            for row, values in dangling_rows(conn, table, fk, parent, nocase):
                shown = values[0] if len(values) == 1 else values
                dangling.append(Reject(table.name, row_key(table, row), ",".join(fk.columns), escape_value(shown),
                                       f"dangling foreign key: no row in {fk.ref_table} has this key",
                                       row_identity(table, row)))
    return dangling


def orphans(conn: sqlite3.Connection, plan: MigrationPlan) -> list[Reject]:
    """Rows whose parent row is left out (it holds a value that cannot be carried, or is itself an orphan):
    loading them would break their foreign key, so they are left out and reported too. A worklist over
    indexes built once per foreign key: linear in the rows, however long the chain (self-references too)."""
    by_name = {t.source.name.lower(): t for t in plan.tables}
    edges: dict[str, list[tuple[TablePlan, ForeignKey, tuple[str, ...]]]] = {}
    for child in plan.tables:
        for fk, *_target in child.foreign_keys:
            parent = by_name.get(fk.ref_table.lower())
            ref_names = fk.ref_columns or (parent.source.primary_key if parent else ())
            if parent is not None and len(ref_names) == len(fk.columns):
                edges.setdefault(parent.source.name, []).append((child, fk, ref_names))
    left: dict[str, set[tuple[Any, ...]]] = {t.source.name: set() for t in plan.tables}
    queue: deque[tuple[str, tuple[Any, ...]]] = deque()
    for reject in plan.rejects + plan.dangling:
        if reject.row not in left[reject.table]:
            left[reject.table].add(reject.row)
            queue.append((reject.table, reject.row))
    parent_keys: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], tuple[Any, ...]]] = {}
    children: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], list[tuple[tuple[Any, ...], Any]]]] = {}
    orphans: list[Reject] = []
    while queue:
        table_name, identity = queue.popleft()
        for child, fk, ref_names in edges.get(table_name, []):
            if (table_name, ref_names) not in parent_keys:
                parent_keys[table_name, ref_names] = _values_by_identity(conn, by_name[table_name.lower()].source,
                                                                         ref_names)
            values = parent_keys[table_name, ref_names].get(identity)
            if values is None or None in values:
                continue
            if (child.source.name, fk.columns) not in children:
                children[child.source.name, fk.columns] = _rows_by_values(conn, child.source, fk.columns)
            for child_identity, key in children[child.source.name, fk.columns].get(values, []):
                if child_identity in left[child.source.name]:
                    continue
                left[child.source.name].add(child_identity)
                queue.append((child.source.name, child_identity))
                orphans.append(Reject(child.source.name, key, ",".join(fk.columns),
                                      escape_value(values[0] if len(values) == 1 else values),
                                      f"its parent row in {table_name} is not carried", child_identity))
    return orphans


def _positions(table: Table, names: tuple[str, ...]) -> list[int]:
    columns = [c.name.lower() for c in carried_columns(table)]
    return [columns.index(n.lower()) for n in names]


def _values_by_identity(conn: sqlite3.Connection, table: Table, names: tuple[str, ...]
                        ) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    positions, offset = _positions(table, names), key_offset(table)
    return {row_identity(table, row): tuple(row[offset + i] for i in positions) for row in iter_rows(conn, table)}


def _rows_by_values(conn: sqlite3.Connection, table: Table, names: tuple[str, ...]
                    ) -> dict[tuple[Any, ...], list[tuple[tuple[Any, ...], Any]]]:
    positions, offset = _positions(table, names), key_offset(table)
    index: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], Any]]] = {}
    for row in iter_rows(conn, table):
        values = tuple(row[offset + i] for i in positions)
        if None not in values:
            index.setdefault(values, []).append((row_identity(table, row), row_key(table, row)))
    return index
