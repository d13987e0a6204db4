"""Query plans of slow statements, captured off the hot path, with a hint when a plan scans a large table.

The plan is taken with the parameter values of the statement's slowest execution: a plan depends on them
(PostgreSQL's ``EXPLAIN (GENERIC_PLAN)`` exists only from 16, and a generic plan is not the one that ran).
Nothing is executed: ``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (FORMAT JSON)`` without ANALYZE on
PostgreSQL, inside a transaction that is rolled back.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

__all__ = ["CapturedPlan", "ScanHint", "explain_postgresql", "explain_sqlite", "filtered_columns"]

#: A table with fewer rows than this is cheap to scan: no hint.
LARGE_ROWS = 10_000
_SCAN = re.compile(r"^SCAN (?:TABLE )?(\S+)(?: AS (\S+))?(.*)$")
_EQUALITY = (exp.EQ, exp.In, exp.Is, exp.NullSafeEQ)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)


@dataclass(frozen=True)
class ScanHint:
    """A whole large table read, and the index that could serve the statement instead."""

    table: str
    rows: int
    columns: tuple[str, ...]
    sql: str

    @property
    def text(self) -> str:
        return (f"{self.table}: full scan of {self.rows:,} rows filtering on {', '.join(self.columns)}; "
                f"an index could cover them: {self.sql}")


@dataclass(frozen=True)
class CapturedPlan:
    text: str
    hints: tuple[ScanHint, ...] = ()
    error: str | None = None


def explain_sqlite(connection: sqlite3.Connection, sql: str, parameters: Any, *,
                   large_rows: int = LARGE_ROWS) -> CapturedPlan:
    """``EXPLAIN QUERY PLAN`` of ``sql`` on a plain sqlite3 connection, drawn as the sqlite3 shell does."""
    try:
        rows = connection.execute("EXPLAIN QUERY PLAN " + sql, _sqlite_parameters(parameters)).fetchall()
    except (sqlite3.Error, ValueError, TypeError) as exc:
        return CapturedPlan("", (), f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    depth: dict[int, int] = {0: -1}
    lines: list[str] = []
    hints: list[ScanHint] = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
        match = _SCAN.match(str(detail))
        if match is None or "INDEX" in match.group(3) or "PRIMARY KEY" in match.group(3):
            continue
        table, alias = match.group(1), match.group(2)
        if alias is None and (real := _aliases(sql).get(table.lower())) is not None:
            table, alias = real, table  # SQLite names an aliased table by its alias alone ("SCAN e")
        size = _sqlite_rows(connection, table)
        if size is None or size < large_rows:
            continue
        columns = filtered_columns(sql, "sqlite", table, alias)
        if columns:
            hints.append(_hint(table, size, columns))
    return CapturedPlan("\n".join(lines), tuple(hints))


def explain_postgresql(connection: Any, sql: str, parameters: Any, *, large_rows: int = LARGE_ROWS
                       ) -> CapturedPlan:
    """``EXPLAIN (FORMAT JSON)`` of ``sql`` (psycopg placeholders) with the sampled parameter values."""
    import psycopg

    try:
        # ClientCursor puts the values into the text: EXPLAIN takes no server-side parameters.
        with psycopg.ClientCursor(connection) as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, parameters or None)
            row = cursor.fetchone()
            if row is None:
                raise ValueError("EXPLAIN returned no plan")
            document = row[0]
            plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
            lines: list[str] = []
            scans: list[tuple[str, str | None, int]] = []
            _walk(plan, 0, lines, scans)
            hints = []
            for table, alias, planned in scans:
                cursor.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                               (table,))
                found = cursor.fetchone()
                size = max(int(found[0]) if found else 0, planned)
                if size >= large_rows and (columns := filtered_columns(sql, "postgresql", table, alias)):
                    hints.append(_hint(table, size, columns))
    except (psycopg.Error, ValueError, TypeError, KeyError, IndexError) as exc:
        return CapturedPlan("", (), f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        connection.rollback()
    return CapturedPlan("\n".join(lines), tuple(hints))


def _walk(node: dict[str, Any], depth: int, lines: list[str], scans: list[tuple[str, str | None, int]]) -> None:
    relation = node.get("Relation Name")
    alias = node.get("Alias")
    where = f" on {relation}" + (f" {alias}" if alias and alias != relation else "") if relation else ""
    extra = f"  Filter: {node['Filter']}" if "Filter" in node else ""
    index = f" using {node['Index Name']}" if "Index Name" in node else ""
    lines.append(f"{'  ' * depth}{node.get('Node Type', '?')}{index}{where} (rows={node.get('Plan Rows', '?')})"
                 f"{extra}")
    if node.get("Node Type") == "Seq Scan" and relation:
        scans.append((str(relation), str(alias) if alias else None, int(node.get("Plan Rows", 0))))
    for child in node.get("Plans", []):
        _walk(child, depth + 1, lines, scans)


def filtered_columns(sql: str, dialect: str, table: str, alias: str | None = None) -> tuple[str, ...]:
    """Columns of ``table`` the statement compares for equality, then by range, then orders by (or, when it
    filters the table on nothing, the join keys that reach it)."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres" if dialect == "postgresql" else "sqlite")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return ()
    names = {table.lower(), (alias or table).lower()}
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    alone = len(tables) == 1
    equal: list[str] = []
    ranged: list[str] = []
    joins: list[str] = []
    conditions = [w.this for w in tree.find_all(exp.Where)] + [j.args["on"] for j in tree.find_all(exp.Join)
                                                                if j.args.get("on") is not None]
    for condition in conditions:
        for column in condition.find_all(exp.Column):
            qualifier = column.table.lower()
            if not ((qualifier and qualifier in names) or (not qualifier and alone)):
                continue
            parent = column.parent
            while isinstance(parent, exp.Paren | exp.Cast):
                parent = parent.parent
            if isinstance(parent, exp.EQ) and all(isinstance(side, exp.Column) for side in (parent.left,
                                                                                          parent.right)):
                joins.append(column.name)  # a join key: it filters this table only when nothing else does
            elif isinstance(parent, _EQUALITY):
                equal.append(column.name)
            elif isinstance(parent, _RANGE):
                ranged.append(column.name)
    ordered = [c.name for o in tree.find_all(exp.Order) for c in o.find_all(exp.Column)
               if (c.table.lower() in names) or (not c.table and alone)]
    return tuple(dict.fromkeys([*equal, *ranged, *ordered] if equal or ranged else [*joins, *ordered]))


def _aliases(sql: str) -> dict[str, str]:
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return {}
    return {t.alias.lower(): t.name for t in tree.find_all(exp.Table) if t.alias}


def _hint(table: str, rows: int, columns: tuple[str, ...]) -> ScanHint:
    name = "ix_" + "_".join([table, *columns])
    quoted = ", ".join(_quote(c) for c in columns)
    return ScanHint(table, rows, columns, f"CREATE INDEX {_quote(name)} ON {_quote(table)} ({quoted})")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_rows(connection: sqlite3.Connection, table: str) -> int | None:
    """The table's row count, cheaply: sqlite_stat1 when ANALYZE ran, else the largest rowid, else count."""
    quoted = _quote(table)
    for query, arguments in (("SELECT stat FROM sqlite_stat1 WHERE tbl = ? AND idx IS NULL", (table,)),
                             (f"SELECT max(rowid) FROM {quoted}", ()),
                             (f"SELECT count(*) FROM {quoted}", ())):
        try:
            row = connection.execute(query, arguments).fetchone()
        except sqlite3.Error:
            continue
        if row is not None and row[0] is not None:
            return int(str(row[0]).split()[0])
    return None


def _sqlite_parameters(parameters: Any) -> Any:
    if parameters is None:
        return ()
    if isinstance(parameters, list) and parameters and isinstance(parameters[0], dict | tuple | list):
        return parameters[0]  # executemany: the first row's values
    return parameters
