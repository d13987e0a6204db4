"""What a SQLite file holds: tables, columns, keys, unique constraints, indexes, foreign keys, counters.

Read through SQLite's own PRAGMAs (table_list, table_xinfo, index_list, index_xinfo, foreign_key_list), not
by parsing CREATE statements, except for the two facts no PRAGMA gives: AUTOINCREMENT and DEFERRABLE.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

from outgrow.migrate.fts import FullText, read_full_text
from outgrow.urls import sqlite_uri

__all__ = ["Column", "ForeignKey", "Index", "SourceSchema", "Table", "open_source", "read_schema"]

_AUTOINCREMENT = re.compile(r"\bAUTOINCREMENT\b", re.IGNORECASE)
_DEFERRABLE = re.compile(r"\bDEFERRABLE\s+INITIALLY\s+DEFERRED\b", re.IGNORECASE)
_NOT_DEFERRABLE = re.compile(r"\bNOT\s+DEFERRABLE\b", re.IGNORECASE)
_REFERENCES = re.compile(r"\bREFERENCES\b", re.IGNORECASE)
_STRINGS = re.compile(r"'(?:[^']|'')*'")  # a default such as 'see REFERENCES' must not count


@dataclass(frozen=True)
class Column:
    name: str
    declared: str
    not_null: bool
    default_sql: str | None
    primary_key_position: int  # 0: not in the primary key
    hidden: int  # 0 ordinary; 2/3 generated (carried by Migration II)


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]  # "" for an expression part
    unique: bool
    origin: str  # "c" CREATE INDEX, "u" UNIQUE constraint, "pk" primary key
    partial: bool
    sql: str = ""  # the CREATE INDEX statement, for partial and expression indexes
    collations: tuple[str, ...] = ()  # each key part's collation (NOCASE, BINARY...), as SQLite compares it


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]  # empty: the referenced table's primary key
    on_update: str
    on_delete: str
    deferrable: bool


@dataclass
class Table:
    name: str
    sql: str
    columns: list[Column]
    without_rowid: bool
    strict: bool
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    autoincrement: bool = False
    sequence: int | None = None  # sqlite_sequence value for AUTOINCREMENT tables
    row_count: int = 0
    full_text: FullText | None = None  # an FTS table, carried as an ordinary one with a tsvector column

    @property
    def primary_key(self) -> tuple[str, ...]:
        keyed = sorted((c.primary_key_position, c.name) for c in self.columns if c.primary_key_position)
        return tuple(name for _, name in keyed)

    @property
    def rowid_alias(self) -> str | None:
        """The INTEGER PRIMARY KEY column that is the rowid, if any (sqlite.org/lang_createtable.html#rowid)."""
        if self.without_rowid or len(self.primary_key) != 1:
            return None
        column = next(c for c in self.columns if c.name == self.primary_key[0])
        if column.declared.strip().upper() != "INTEGER":
            return None
        # "PRIMARY KEY DESC" on the column makes it an ordinary key, not the rowid; a table-level key does not.
        # SQLite then builds an index for the key (origin "pk"), which an alias of the rowid never has: asking
        # SQLite beats reading the SQL (a comment before DESC fools a pattern).
        return None if any(i.origin == "pk" for i in self.indexes) else column.name


@dataclass
class SourceSchema:
    path: Path
    tables: list[Table]
    skipped: list[tuple[str, str, str]]  # (kind, name, reason): virtual tables...
    views: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE VIEW), in creation order
    triggers: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE TRIGGER), in creation order
    external_full_text: list[tuple[str, FullText]] = field(default_factory=list)  # FTS over a content table


READ_TIMEOUT = 60.0  # seconds a read waits for a lock: a rollback-journal writer holds its lock through each fsync


def open_source(path: Path) -> sqlite3.Connection:
    """The source, read-only: invalid UTF-8 in text becomes lone surrogates so it can be reported, not lost."""
    conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True, isolation_level=None, timeout=READ_TIMEOUT)
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    return conn


def read_schema(conn: sqlite3.Connection, path: Path) -> SourceSchema:
    """Describe every ordinary table of the database open on ``conn`` (counts included)."""
    tables: list[Table] = []
    skipped: list[tuple[str, str, str]] = []
    external: list[tuple[str, FullText]] = []
    sequences = _sequences(conn)
    listing = conn.execute("SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'").fetchall()
    sql_of = dict(conn.execute("SELECT name, coalesce(sql, '') FROM sqlite_schema").fetchall())
    for name, kind, without_rowid, strict in sorted(listing):
        if name.startswith("sqlite_"):
            continue
        sql = sql_of.get(name, "")
        if kind in {"view", "shadow"}:
            continue  # views are listed with triggers below; shadow tables belong to their virtual table
        if kind == "virtual" or sql.upper().lstrip().startswith("CREATE VIRTUAL"):
            full_text = read_full_text(sql)
            if full_text is None:
                module = re.search(r"\bUSING\s+(\w+)", sql, re.IGNORECASE)
                skipped.append(("virtual table", name, f"the {module.group(1) if module else 'unknown'} module has "
                                                       "no PostgreSQL equivalent here (R*Tree: PostGIS)"))
            elif full_text.content == "":
                skipped.append(("virtual table", name, "a contentless FTS table stores no text, only its index: "
                                                       "rebuild it in PostgreSQL from where the text lives"))
            elif full_text.content is not None:
                external.append((name, full_text))
            else:
                tables.append(_full_text_table(conn, name, sql, full_text))
            continue
        table = Table(
            name=name,
            sql=sql,
            columns=[
                Column(cname, ctype or "", bool(notnull), default, pk, hidden)
                for _cid, cname, ctype, notnull, default, pk, hidden in conn.execute(
                    "SELECT * FROM pragma_table_xinfo(?)", (name,))
            ],
            without_rowid=bool(without_rowid),
            strict=bool(strict),
            indexes=_indexes(conn, name),
            foreign_keys=_foreign_keys(conn, name, sql),
            autoincrement=bool(_AUTOINCREMENT.search(sql)),
            sequence=sequences.get(name),
        )
        table.row_count = conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
        tables.append(table)
    # rowid order is creation order: a view comes after the views it reads.
    objects = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_schema "
                           "WHERE type IN ('view', 'trigger') ORDER BY rowid").fetchall()
    return SourceSchema(path=path, tables=tables, skipped=skipped, external_full_text=external,
                        views=[(n, q) for kind, n, q in objects if kind == "view"],
                        triggers=[(n, q) for kind, n, q in objects if kind == "trigger"])


def _full_text_table(conn: sqlite3.Connection, name: str, sql: str, full_text: FullText) -> Table:
    """An FTS table as the rows it shows: its rowid (the key applications join on) and its text columns.
    Declared WITHOUT ROWID here so rows are read and named by that explicit ``rowid`` key column."""
    visible = [cname for _cid, cname, *_rest, hidden in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (name,))
               if hidden == 0]
    # SQLite's own column names win over the parsed declaration (FTS3 reads `content="x"` as a column `content`);
    # the declaration, in the same order, says which are indexed.
    parsed = full_text.columns if len(full_text.columns) == len(visible) else tuple(visible)
    full_text = replace(full_text, columns=tuple(visible), indexed=tuple(
        real for real, declared in zip(visible, parsed, strict=True) if declared in full_text.indexed
        or parsed is not full_text.columns))
    table = Table(name=name, sql=sql, without_rowid=True, strict=False, full_text=full_text,
                  columns=[Column("rowid", "INTEGER", True, None, 1, 0)]
                  + [Column(c, "", False, None, 0, 0) for c in visible])
    table.row_count = conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
    return table


def quote(identifier: str) -> str:
    """A SQLite (and PostgreSQL) quoted identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def _sequences(conn: sqlite3.Connection) -> dict[str, int]:
    exists = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").fetchone()
    return dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()) if exists else {}


def _indexes(conn: sqlite3.Connection, table: str) -> list[Index]:
    indexes = []
    for _seq, name, unique, origin, partial in conn.execute("SELECT * FROM pragma_index_list(?)", (table,)):
        parts = [(column or "", collation or "BINARY") for _seqno, _cid, column, _desc, collation, key
                 in conn.execute("SELECT * FROM pragma_index_xinfo(?)", (name,)) if key]
        columns = tuple(column for column, _ in parts)
        row = conn.execute("SELECT coalesce(sql, '') FROM sqlite_schema WHERE type = 'index' AND name = ?",
                           (name,)).fetchone()
        indexes.append(Index(name, columns, bool(unique), origin, bool(partial), row[0] if row else "",
                             tuple(collation.upper() for _, collation in parts)))
    return sorted(indexes, key=lambda i: i.name)


def _foreign_keys(conn: sqlite3.Connection, table: str, sql: str) -> list[ForeignKey]:
    grouped: dict[int, list[tuple[str, str, str | None, str, str]]] = {}
    for fk_id, _seq, ref, src, dst, on_update, on_delete, _match in conn.execute(
        "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (table,)
    ):
        grouped.setdefault(fk_id, []).append((ref, src, dst, on_update, on_delete))
    deferrable = _deferrable_clauses(sql)
    keys = []
    for fk_id, parts in grouped.items():
        ref, _, _, on_update, on_delete = parts[0]
        keys.append(ForeignKey(
            columns=tuple(p[1] for p in parts),
            ref_table=ref,
            ref_columns=tuple(p[2] for p in parts if p[2] is not None),
            on_update=on_update,
            on_delete=on_delete,
            # SQLite numbers foreign keys from the last declared (id 0) to the first.
            deferrable=deferrable[len(deferrable) - 1 - fk_id] if len(deferrable) == len(grouped) else False,
        ))
    return keys


def _deferrable_clauses(sql: str) -> list[bool]:
    """For each REFERENCES clause of a CREATE TABLE, in declaration order: is it DEFERRABLE INITIALLY DEFERRED?"""
    pieces = _REFERENCES.split(_STRINGS.sub("''", sql))[1:]
    return [bool(_DEFERRABLE.search(piece)) and not _NOT_DEFERRABLE.search(piece) for piece in pieces]
