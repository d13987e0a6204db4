"""Query plans of slow statements, captured off the hot path, with a hint when a plan scans a large table.

A plan is taken with the parameter values of the statement's slowest execution, since the plan depends on
them (PostgreSQL's ``EXPLAIN (GENERIC_PLAN)`` exists only from 16, and a generic plan is not the one that
ran). Nothing is executed: ``EXPLAIN QUERY PLAN`` on SQLite; ``EXPLAIN`` without ANALYZE on PostgreSQL, in a
transaction (or savepoint) that is always rolled back. A whole-table scan of at least ``large_rows`` rows
gets a :class:`ScanHint`: the columns the statement filters and orders that table on
(:func:`~outgrow.monitor.plan_columns.filtered_columns`) and the ``CREATE INDEX`` that would serve them,
unless an index with those leading columns already exists (then the planner chose the scan knowingly).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlglot
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus
from sqlglot.tokenizer_core import TokenType

from outgrow.monitor.fingerprint import fingerprint
from outgrow.monitor.plan_columns import filtered_columns, table_aliases

__all__ = ["LARGE_ROWS", "CapturedPlan", "ScanHint", "explain_postgresql", "explain_sqlite", "mask_literals"]

#: A table with fewer rows than this is cheap to scan: no hint.
LARGE_ROWS = 10_000
# Regular expressions read the engine's plan text here, never the statement. "SCAN t", "SCAN t AS a"
# (SQLite < 3.36 wrote "SCAN TABLE t AS a"), "SCAN t USING COVERING INDEX ix" (not a table scan).
_SQLITE_SCAN = re.compile(r"^SCAN (?:TABLE )?(\S+)(?: AS (\S+))?(.*)$")
_ROWID_NAMES = frozenset({"rowid", "_rowid_", "oid"})
# SQLite applies some pragmas while preparing them, EXPLAIN or not ("EXPLAIN QUERY PLAN PRAGMA query_only = ON"
# leaves the connection read-only): only statements that have a plan are explained.
_SQLITE_EXPLAINED = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE"})
# Statement limits for EXPLAIN on PostgreSQL: planning needs only an ACCESS SHARE lock, but waits behind a
# pending ACCESS EXCLUSIVE one (a migration) for as long as that takes; the recorder must not.
_PG_LIMITS = "SELECT set_config('lock_timeout', '1000', true), set_config('statement_timeout', '5000', true)"
_PG_DETAILS = ("Hash Cond", "Merge Cond", "Index Cond", "Recheck Cond", "Join Filter", "Filter", "Sort Key",
               "Group Key")
_STRINGS = frozenset({TokenType.STRING, TokenType.BYTE_STRING, TokenType.NATIONAL_STRING, TokenType.BIT_STRING,
                      TokenType.HEX_STRING, TokenType.RAW_STRING, TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING})
_PG_AGGREGATES = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"}
_PG_INDEXES = """
SELECT array_agg(a.attname::text ORDER BY k.n)
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) AND i.indpred IS NULL
  AND k.n <= i.indnkeyatts
GROUP BY i.indexrelid"""


@dataclass(frozen=True)
class ScanHint:
    """A large table read whole, and the index that could serve the statement instead."""

    table: str
    rows: int
    columns: tuple[str, ...]
    sql: str  # CREATE INDEX "ix_<table>_<columns>" ON "<table>" ("<column>", ...)

    @property
    def text(self) -> str:
        return (f"{self.table}: full scan of {self.rows:,} rows filtering on {', '.join(self.columns)}; "
                f"an index could cover them: {self.sql}")


@dataclass(frozen=True)
class CapturedPlan:
    """A plan as the engine prints it (lines joined by newlines), its hints, or why there is no plan."""

    text: str
    hints: tuple[ScanHint, ...] = ()
    error: str | None = None


def explain_sqlite(connection: sqlite3.Connection, sql: str, parameters: object, *,
                   large_rows: int = LARGE_ROWS) -> CapturedPlan:
    """``EXPLAIN QUERY PLAN`` of ``sql`` with ``parameters`` (a sequence or a mapping, as sqlite3 takes them; of
    executemany's rows, the first), drawn as the sqlite3 shell draws it. Never raises."""
    if not _single_statement(sql, "sqlite"):
        return CapturedPlan("", (), "not one statement: the plan of a script is not captured")
    operation = fingerprint(sql, "sqlite").operation
    if operation not in _SQLITE_EXPLAINED:
        return CapturedPlan("", (), f"no plan for {operation}: only queries and writes are explained")
    try:
        with closing(connection.cursor()) as cursor:
            cursor.row_factory = None  # the application's row factory may not return tuples
            rows = [(int(r[0]), int(r[1]), _text(r[3]))
                    for r in cursor.execute("EXPLAIN QUERY PLAN " + sql, _first_row(parameters) or ())]
    except (sqlite3.Error, sqlite3.Warning, ValueError, TypeError, OverflowError) as exc:
        return CapturedPlan("", (), _one_line(exc))
    hints: dict[str, ScanHint] = {}
    aliases: dict[str, str] | None = None
    for _node, _parent, detail in rows:
        match = _SQLITE_SCAN.match(detail)
        if match is None or "INDEX" in match.group(3) or "VIRTUAL TABLE" in match.group(3):
            continue
        table, alias = match.group(1), match.group(2)
        if aliases is None:
            aliases = table_aliases(sql, "sqlite")
        if alias is None and table.lower() in aliases:
            table, alias = aliases[table.lower()], table  # SQLite names an aliased table by its alias alone
        hint = _sqlite_hint(connection, sql, table, alias, large_rows)
        if hint is not None:
            hints.setdefault(hint.sql, hint)
    return CapturedPlan(_sqlite_tree(rows), tuple(hints.values()))


def explain_postgresql(connection: psycopg.Connection[Any], sql: str, parameters: object, *,
                       large_rows: int = LARGE_ROWS) -> CapturedPlan:
    """``EXPLAIN (FORMAT JSON, VERBOSE)`` of ``sql`` (psycopg placeholders) with ``parameters``, drawn like
    PostgreSQL's text format with row estimates. Bound as the application's cursor binds (server-side, unless
    its cursor factory says otherwise): EXPLAIN takes server-side parameters and plans with their values.
    Retried once with client-side binding (``psycopg.ClientCursor``) when that fails, for a parameter whose
    type the server cannot infer (``WHERE %s IS NULL``). Rolled back whatever happens; never raises."""
    if connection.info.transaction_status == TransactionStatus.INERROR:
        return CapturedPlan("", (), "the connection is in a failed transaction")
    if not _single_statement(sql, "postgresql"):
        return CapturedPlan("", (), "not one statement: the plan of a script is not captured")
    values = _first_row(parameters)
    factories: list[Callable[[psycopg.Connection[Any]], psycopg.Cursor[Any]]] = [lambda c: c.cursor()]
    if not issubclass(connection.cursor_factory, psycopg.ClientCursor):
        factories.append(psycopg.ClientCursor)
    first: Exception | None = None
    for factory in factories:
        try:
            with connection.transaction(force_rollback=True), factory(connection) as cursor:
                return _pg_plan(cursor, sql, values, large_rows)
        except (psycopg.Error, ValueError, TypeError, KeyError, IndexError) as exc:
            first = first or exc
    return CapturedPlan("", (), _one_line(first) if first else "no plan")


# -- SQLite ---------------------------------------------------------------------------------------------------
def _sqlite_tree(rows: list[tuple[int, int, str]]) -> str:
    """The plan rows (id, parent id, detail) as the sqlite3 shell's ``.eqp`` tree: ``|--`` and ```--``."""
    ids = {node for node, _parent, _detail in rows}
    children: dict[int, list[tuple[int, str]]] = {}
    for node, parent, detail in rows:
        children.setdefault(parent if parent in ids else 0, []).append((node, detail))
    lines: list[str] = []

    def level(parent: int, prefix: str) -> None:
        kids = children.get(parent, [])
        for n, (node, detail) in enumerate(kids):
            last = n == len(kids) - 1
            lines.append(f"{prefix}{'`--' if last else '|--'}{detail}")
            if node != parent:
                level(node, prefix + ("   " if last else "|  "))

    level(0, "")
    return "\n".join(lines)


def _sqlite_hint(connection: sqlite3.Connection, sql: str, table: str, alias: str | None,
                 large_rows: int) -> ScanHint | None:
    found = _sqlite_rows(connection, table)
    if found is None or found[1] < large_rows:
        return None
    name, rows = found
    pk, indexes = _sqlite_keys(connection, name)
    columns = tuple(c for c in filtered_columns(sql, "sqlite", table, alias)
                    if c.lower() not in _ROWID_NAMES and c.lower() != pk)  # the rowid is its own index
    if not columns or any(index[:len(columns)] == [c.lower() for c in columns] for index in indexes):
        return None
    return _hint(name, rows, columns)


def _sqlite_rows(connection: sqlite3.Connection, table: str) -> tuple[str, int] | None:
    """The table's name as created and its row count, cheaply: sqlite_stat1 when ANALYZE ran (the first number
    of a row is the table's row count; a partial index's is smaller, hence max), else the largest rowid (an
    upper bound), else count(*) for a WITHOUT ROWID table. None when it is not a table (a CTE, a subquery)."""
    try:
        row = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE "
                                 "UNION ALL SELECT name FROM sqlite_temp_master "
                                 "WHERE type = 'table' AND name = ? COLLATE NOCASE", (table, table)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    name = str(row[0])
    quoted = _quote(name)
    for query, arguments in (("SELECT stat FROM sqlite_stat1 WHERE tbl = ? COLLATE NOCASE", (name,)),
                             (f"SELECT max(rowid) FROM {quoted}", ()),
                             (f"SELECT count(*) FROM {quoted}", ())):
        try:
            counts = [int(str(r[0]).split()[0]) for r in connection.execute(query, arguments) if r[0] is not None]
        except (sqlite3.Error, ValueError, IndexError):
            continue
        if counts:
            return name, max(counts)
    return None


def _sqlite_keys(connection: sqlite3.Connection, table: str) -> tuple[str | None, list[list[str]]]:
    """The table's INTEGER PRIMARY KEY column (lower case; the rowid) and its full indexes' key columns."""
    try:
        keys = [(str(r[0]).lower(), str(r[1]).upper()) for r in connection.execute(
            "SELECT name, type FROM pragma_table_info(?) WHERE pk > 0", (table,))]
        indexes: dict[str, list[str]] = {}
        for index, column in connection.execute(
                "SELECT il.name, ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii "
                "WHERE il.partial = 0 ORDER BY il.seq, ii.seqno", (table,)):
            indexes.setdefault(str(index), []).append(str(column).lower() if column is not None else "")
    except sqlite3.Error:
        return None, []
    pk = keys[0][0] if len(keys) == 1 and keys[0][1] == "INTEGER" else None
    return pk, list(indexes.values())


# -- PostgreSQL -------------------------------------------------------------------------------------------------
def _pg_plan(cursor: psycopg.Cursor[Any], sql: str, values: Any, large_rows: int) -> CapturedPlan:
    cursor.execute(_PG_LIMITS)
    cursor.execute("EXPLAIN (FORMAT JSON, VERBOSE) " + sql, values)
    row = cursor.fetchone()
    if row is None:
        raise ValueError("EXPLAIN returned no plan")
    document = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    lines: list[str] = []
    scans: list[tuple[str, str, str, int]] = []
    _pg_walk(document[0]["Plan"], 0, lines, scans)
    hints: dict[str, ScanHint] = {}
    for schema, table, alias, planned in scans:
        rows = max(planned, _pg_table_rows(cursor, schema, table))
        if rows < large_rows:
            continue
        columns = filtered_columns(sql, "postgresql", table, alias if alias != table else None)
        cursor.execute(_PG_INDEXES, (schema, table))
        if columns and not any(list(index[:len(columns)]) == list(columns) for (index,) in cursor.fetchall()):
            hint = _hint(table, rows, columns, schema if schema != "public" else None)
            hints.setdefault(hint.sql, hint)
    return CapturedPlan("\n".join(lines), tuple(hints.values()))


def _pg_walk(node: dict[str, Any], depth: int, lines: list[str], scans: list[tuple[str, str, str, int]],
             shift: int = 0) -> None:
    """Append ``node`` and its children in PostgreSQL's text layout (``->`` arrows, InitPlan/SubPlan labels),
    and each Seq Scan to ``scans``."""
    kind = str(node.get("Node Type", "?"))
    relation, alias = node.get("Relation Name"), node.get("Alias")
    if kind == "Aggregate":
        kind = _PG_AGGREGATES.get(node.get("Strategy", ""), kind)
    elif kind == "ModifyTable":
        kind = str(node.get("Operation", kind))
    join = node.get("Join Type", "Inner")
    if join != "Inner":
        kind = f"{kind.removesuffix(' Join')} {join} Join"
    if node.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    if node.get("Scan Direction") == "Backward":
        kind += " Backward"
    if "Index Name" in node:
        kind += f" using {node['Index Name']}" if relation else f" on {node['Index Name']}"
    if relation:
        kind += f" on {relation}" + (f" {alias}" if alias and alias != relation else "")
    if depth and "Subplan Name" in node:
        lines.append(" " * (shift + 6 * depth - 4) + str(node["Subplan Name"]))
        shift += 2
    arrow = " " * (shift + 6 * depth - 4) + "->  " if depth else ""
    lines.append(f"{arrow}{kind}  (rows={node.get('Plan Rows', '?')})")
    for key in _PG_DETAILS:
        if key in node:
            value = node[key]
            lines.append(" " * (shift + 6 * depth + 2) + f"{key}: "
                         + mask_literals(", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    if node.get("Node Type") == "Seq Scan" and relation:
        scans.append((str(node.get("Schema", "public")), str(relation), str(alias or relation),
                      int(node.get("Plan Rows", 0))))
    for child in node.get("Plans", []):
        _pg_walk(child, depth + 1, lines, scans, shift)


def _pg_table_rows(cursor: psycopg.Cursor[Any], schema: str, table: str) -> int:
    """The planner's estimate of the table's rows: reltuples scaled to the table's current size, so right
    also before the first ANALYZE (when reltuples is -1)."""
    cursor.execute(pgsql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM ONLY {}").format(pgsql.Identifier(schema, table)))
    row = cursor.fetchone()
    document = (json.loads(row[0]) if isinstance(row[0], str) else row[0]) if row else None
    return int(document[0]["Plan"].get("Plan Rows", 0)) if document else 0


def mask_literals(text: str) -> str:
    """A plan's condition with its values masked (``'?'`` for a string, ``?`` for a number): PostgreSQL prints
    the sampled parameter values in it, and the plan is stored and shown like the masked sample. Read by
    sqlglot's tokenizer, so ``events.k1`` or a quote inside a string stays what it is."""
    try:
        tokens = sqlglot.tokenize(text, read="postgres")
    except sqlglot.errors.SqlglotError:
        return "?"  # a value may hide in what cannot be read: show none of it
    pieces: list[str] = []
    done = 0
    for token in tokens:
        if token.token_type in _STRINGS or token.token_type == TokenType.NUMBER:
            pieces += [text[done:token.start], "'?'" if token.token_type in _STRINGS else "?"]
            done = token.end + 1
    return "".join([*pieces, text[done:]])


# -- both ---------------------------------------------------------------------------------------------------------
def _hint(table: str, rows: int, columns: tuple[str, ...], schema: str | None = None) -> ScanHint:
    name = "_".join(["ix", table, *columns])
    target = f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)
    return ScanHint(table, rows, columns,
                    f"CREATE INDEX {_quote(name)} ON {target} ({', '.join(_quote(c) for c in columns)})")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_row(parameters: object) -> Any:
    """The parameters of one execution: of executemany's list of rows, the first."""
    if isinstance(parameters, list) and parameters and isinstance(parameters[0], dict | tuple | list):
        return parameters[0]
    return parameters


def _single_statement(sql: str, dialect: str) -> bool:
    """Whether ``sql`` holds one statement: psycopg sends a statement without parameters by the simple query
    protocol, which runs every statement in the text, so EXPLAIN of "SELECT 1; COMMIT; DELETE ..." would run
    the rest. (sqlite3 refuses a second statement itself; the check gives it the same message.)"""
    try:
        tokens = sqlglot.tokenize(sql, read="postgres" if dialect == "postgresql" else "sqlite")
    except sqlglot.errors.SqlglotError:
        return dialect != "postgresql"  # SQLite reports what is wrong; on PostgreSQL, unsure is no
    kinds = [t.token_type for t in tokens]
    end = kinds.index(TokenType.SEMICOLON) if TokenType.SEMICOLON in kinds else len(kinds)
    return all(kind == TokenType.SEMICOLON for kind in kinds[end:])


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
