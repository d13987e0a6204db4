"""The migration plan: every table, column type (and why), key, index and foreign key, and every value that
will not be carried, decided from the schema *and* the stored values before anything is written."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from outgrow.errors import MigrationError
from outgrow.migrate.introspect import Column, ForeignKey, Table, open_source, quote, read_schema
from outgrow.migrate.values import ColumnRule, Rejection, TypeChoice, escape_value, rule_for

__all__ = [
    "ColumnPlan",
    "IdentifierStyle",
    "MigrationPlan",
    "Reject",
    "TablePlan",
    "build_plan",
    "iter_rows",
    "target_identifier",
]

IdentifierStyle = Literal["fold", "preserve", "snake"]
MAX_IDENTIFIER_BYTES = 63
MAX_REJECTS_KEPT = 10_000  # all are counted; a run writes every one to the rejects file as it streams


@dataclass(frozen=True)
class Reject:
    """One value that cannot be carried exactly."""

    table: str
    key: dict[str, Any]
    column: str
    value: str  # escaped, printable
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "column": self.column, "value": self.value,
                "reason": self.reason}


@dataclass
class ColumnPlan:
    source: Column
    name: str
    rule: ColumnRule
    choice: TypeChoice
    identity: bool = False
    rejected: int = 0

    @property
    def not_null(self) -> bool:
        return self.source.not_null or self.source.primary_key_position > 0


@dataclass
class TablePlan:
    source: Table
    name: str
    columns: list[ColumnPlan]
    primary_key: tuple[str, ...]
    uniques: list[tuple[str, ...]]
    indexes: list[tuple[str, tuple[str, ...], bool]]  # (name, columns, unique)
    foreign_keys: list[tuple[ForeignKey, str, tuple[str, ...], tuple[str, ...]]]  # (fk, table, cols, ref cols)
    identity_next: int | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.columns)

    def column(self, source_name: str) -> ColumnPlan:
        return next(c for c in self.columns if c.source.name == source_name)


@dataclass
class MigrationPlan:
    source: Path
    schema: str
    tables: list[TablePlan]
    skipped: list[tuple[str, str, str]]
    rejects: list[Reject] = field(default_factory=list)
    rejected: int = 0
    dangling: list[Reject] = field(default_factory=list)  # rows whose foreign key points at no row

    @property
    def rows(self) -> int:
        return sum(t.source.row_count for t in self.tables)


def target_identifier(name: str, style: IdentifierStyle) -> str:
    """The PostgreSQL name for a SQLite identifier."""
    if style == "preserve":
        return name
    if style == "snake":
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
        name = re.sub(r"[^0-9A-Za-z_]+", "_", name)
    return name.lower()


def iter_rows(conn: sqlite3.Connection, table: Table, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Stream a table's rows (rowid first for rowid tables, as the key of reports), in bounded batches."""
    columns = ", ".join(quote(c.name) for c in table.columns if c.hidden == 0)
    key = "" if table.without_rowid else "rowid, "
    cursor = conn.execute(f"SELECT {key}{columns} FROM {quote(table.name)}")
    while rows := cursor.fetchmany(batch):
        yield from rows


def build_plan(
    path: Path,
    *,
    schema: str = "public",
    identifiers: IdentifierStyle = "fold",
    include: set[str] | None = None,
    exclude: set[str] | None = None,
    type_overrides: dict[str, dict[str, str]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> MigrationPlan:
    """Read ``path`` (read-only, one snapshot) and decide everything a migration will do."""
    if not path.is_file():
        raise MigrationError(f"no SQLite database at {path}", hint="check the SQLITE_FILE argument")
    conn = open_source(path)
    try:
        conn.execute("BEGIN")  # one read snapshot for the schema and both passes over the values
        source = read_schema(conn, path)
        tables = [t for t in source.tables
                  if (include is None or t.name in include) and t.name not in (exclude or set())]
        plan = MigrationPlan(source=path, schema=schema, tables=[], skipped=list(source.skipped))
        names = {t.name: target_identifier(t.name, identifiers) for t in tables}
        _check_identifiers("table", names)
        for table in tables:
            plan.tables.append(_plan_table(conn, table, names, identifiers, (type_overrides or {}).get(table.name, {}),
                                           plan, progress))
        plan.dangling = _dangling_foreign_keys(conn, [t.source for t in plan.tables])
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise MigrationError(f"cannot read {path}: {exc}", hint="is it a SQLite database?") from None
    finally:
        conn.close()
    return plan


def _plan_table(conn: sqlite3.Connection, table: Table, names: dict[str, str], style: IdentifierStyle,
                overrides: dict[str, str], plan: MigrationPlan,
                progress: Callable[[int], None] | None) -> TablePlan:
    columns = [c for c in table.columns if c.hidden == 0]
    column_names = {c.name: target_identifier(c.name, style) for c in columns}
    _check_identifiers(f"column of {table.name}", column_names)
    rules = {c.name: rule_for(overrides.get(c.name, c.declared)) for c in columns}
    offset = 0 if table.without_rowid else 1
    for row in iter_rows(conn, table):
        for column, value in zip(columns, row[offset:], strict=True):
            rules[column.name].observe(value)
    column_plans = [ColumnPlan(source=c, name=column_names[c.name], rule=rules[c.name],
                               choice=rules[c.name].choose()) for c in columns]
    alias = table.rowid_alias
    identity_next = None
    if alias is not None:
        identity = next(p for p in column_plans if p.source.name == alias)
        identity.identity = True
        identity.choice = TypeChoice("bigint GENERATED BY DEFAULT AS IDENTITY",
                                     "INTEGER PRIMARY KEY is the rowid: an identity continuing from "
                                     + ("sqlite_sequence" if table.autoincrement else "max(id)"))
        top = conn.execute(f"SELECT max({quote(alias)}) FROM {quote(table.name)}").fetchone()[0] or 0
        identity_next = max(top, table.sequence or 0) + 1
    for row in iter_rows(conn, table):
        key = _row_key(table, columns, row)
        for column_plan, value in zip(column_plans, row[offset:], strict=True):
            converted = column_plan.rule.convert(value)
            if isinstance(converted, Rejection):
                column_plan.rejected += 1
                plan.rejected += 1
                if len(plan.rejects) < MAX_REJECTS_KEPT:
                    plan.rejects.append(Reject(table.name, key, column_plan.source.name, escape_value(value),
                                               converted.reason))
        if progress is not None:
            progress(1)
    return TablePlan(
        source=table,
        name=names[table.name],
        columns=column_plans,
        primary_key=tuple(column_names[c] for c in table.primary_key),
        uniques=[tuple(column_names[c] for c in i.columns) for i in table.indexes if i.origin == "u"],
        indexes=[(target_identifier(i.name, style), tuple(column_names.get(c, c) for c in i.columns), i.unique)
                 for i in table.indexes if i.origin == "c" and not i.partial and all(i.columns)],
        foreign_keys=[_foreign_key(fk, names, style) for fk in table.foreign_keys],
        identity_next=identity_next,
        skipped=[f"index {i.name}: partial and expression indexes are translated by Migration II"
                 for i in table.indexes if i.origin == "c" and (i.partial or not all(i.columns))],
    )


def _dangling_foreign_keys(conn: sqlite3.Connection, tables: list[Table]) -> list[Reject]:
    dangling = []
    for table in tables:
        for _table, rowid, parent, fk_id in conn.execute("SELECT * FROM pragma_foreign_key_check(?)", (table.name,)):
            fk = _fk_by_id(conn, table, fk_id)
            values = conn.execute(
                f"SELECT {', '.join(quote(c) for c in fk.columns)} FROM {quote(table.name)} WHERE rowid = ?", (rowid,)
            ).fetchone() if rowid is not None else ()
            dangling.append(Reject(table.name, {"rowid": rowid}, ",".join(fk.columns),
                                   escape_value(tuple(values) if len(fk.columns) > 1 else (values or (None,))[0]),
                                   f"dangling foreign key: no row in {parent} has this key"))
    return dangling


def _fk_by_id(conn: sqlite3.Connection, table: Table, fk_id: int) -> ForeignKey:
    columns = tuple(row[3] for row in conn.execute(
        "SELECT * FROM pragma_foreign_key_list(?) WHERE id = ? ORDER BY seq", (table.name, fk_id)))
    return next(fk for fk in table.foreign_keys if fk.columns == columns)


def _row_key(table: Table, columns: list[Column], row: tuple[Any, ...]) -> dict[str, Any]:
    if not table.without_rowid:
        return {"rowid": row[0]}
    values = dict(zip((c.name for c in columns), row, strict=True))
    return {name: escape_value(values[name]) if isinstance(values[name], bytes) else values[name]
            for name in table.primary_key}


def _foreign_key(fk: ForeignKey, names: dict[str, str], style: IdentifierStyle
                 ) -> tuple[ForeignKey, str, tuple[str, ...], tuple[str, ...]]:
    return (fk, names.get(fk.ref_table, target_identifier(fk.ref_table, style)),
            tuple(target_identifier(c, style) for c in fk.columns),
            tuple(target_identifier(c, style) for c in fk.ref_columns))


def _check_identifiers(what: str, names: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for source, target in names.items():
        if len(target.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            raise MigrationError(f"{what} name {source!r} is {len(target.encode())} bytes; PostgreSQL keeps 63",
                                 hint="rename it in SQLite first, or exclude the table in --config")
        if target in seen:
            raise MigrationError(f"{what} names {seen[target]!r} and {source!r} both become {target!r}",
                                 hint="use --identifiers preserve, or rename one of them")
        seen[target] = source
