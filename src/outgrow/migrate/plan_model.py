"""What a migration plan holds: tables, columns with their chosen types, keys, and the values not carried.
Plain data, built by :mod:`outgrow.migrate.plan` and read by the loader, the checks and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from outgrow.migrate.checks import CheckPlan
from outgrow.migrate.introspect import Column, ForeignKey, Table
from outgrow.migrate.table_objects import GeneratedColumn, IndexPlan
from outgrow.migrate.values import ColumnRule, TypeChoice

__all__ = ["MAX_IDENTIFIER_BYTES", "ColumnPlan", "IdentifierStyle", "MigrationPlan", "ObjectPlan", "Reject",
           "TablePlan", "TargetFacts"]

IdentifierStyle = Literal["fold", "preserve", "snake"]
MAX_IDENTIFIER_BYTES = 63


@dataclass(frozen=True)
class TargetFacts:
    """What the plan needs to know about the target server (read by :func:`outgrow.migrate.preflight.target_facts`)."""

    server_version: int = 180000
    citext: bool = False  # the citext extension is installed or can be
    collation: str = ""  # the database's LC_COLLATE

    @property
    def orders_like_sqlite(self) -> bool:
        return self.collation in {"C", "POSIX"}


@dataclass(frozen=True)
class ObjectPlan:
    """A view, trigger or full-text index: created in the target schema after the tables are there."""

    kind: str  # as reported: "view", "trigger", "full-text search"
    name: str
    target: str  # its PostgreSQL name
    source: str  # the SQLite SQL
    statements: tuple[str, ...]  # PostgreSQL DDL, every name quoted, run in order
    notes: tuple[str, ...] = ()
    drop: str | None = None  # what --replace drops first (a view of an earlier run blocks dropping its tables)
    owned: str | None = None  # the object an owner is given: "VIEW s.v", "FUNCTION s.f()" (names quoted)


@dataclass(frozen=True)
class Reject:
    """One value that cannot be carried exactly."""

    table: str
    key: dict[str, Any]
    column: str
    value: str  # escaped, printable
    reason: str
    row: tuple[Any, ...] = field(default=(), compare=False)  # row_identity(), to leave the row out

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
    default: str | None = None  # PostgreSQL DEFAULT expression
    collation: str | None = None  # COLLATE for a text column ("C": SQLite's byte order)

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
    indexes: list[IndexPlan]
    foreign_keys: list[tuple[ForeignKey, str, tuple[str, ...], tuple[str, ...]]]  # (fk, table, cols, ref cols)
    identity_next: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (object, why it is not carried)
    checks: list[CheckPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # translated, with a remark worth reading
    generated: list[GeneratedColumn] = field(default_factory=list)

    @property
    def not_carried(self) -> list[str]:
        return [f"{what}: {why}" for what, why in self.skipped]

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
    skipped: list[tuple[str, str, str]]  # (kind, name, why): views, triggers, virtual tables
    rejects: list[Reject] = field(default_factory=list)
    rejected: int = 0
    dangling: list[Reject] = field(default_factory=list)  # rows whose foreign key points at no row
    journal_mode: str = "wal"
    objects: list[ObjectPlan] = field(default_factory=list)  # views, triggers, full-text indexes, in order
    reviewed: list[str] = field(default_factory=list)  # not carried, and listed under `skip` in migrate.toml
    notes: list[str] = field(default_factory=list)  # about the whole database

    @property
    def snapshot_cost(self) -> str:
        """What reading one consistent snapshot costs the application while the copy runs."""
        if self.journal_mode == "wal":
            return ("the copy reads one snapshot while the application keeps writing; the WAL grows until the "
                    "copy ends (no checkpoint can pass an open reader)")
        return (f"the source is in {self.journal_mode} journal mode: application writers wait while the copy "
                "reads (switch it to WAL first to keep writing)")

    @property
    def rows(self) -> int:
        return sum(t.source.row_count for t in self.tables)
