"""What outgrow's rewrite rules stand on: parsing SQLite SQL with sqlglot (and saying when it cannot), how
names resolve (:class:`Scope`), SQLite's facts the rules need (column affinity, its clock, GLOB) and the
shape of a translation's result. The rules themselves are in :mod:`outgrow.migrate.expressions`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

import sqlglot
from sqlglot import exp

__all__ = ["ColumnRef", "Scope", "TableScope", "Translated", "Untranslatable", "clock_kind", "clock_sql",
           "construct", "glob_to_regex", "parse_sqlite", "positive_int", "sqlite_affinity"]

_TABLE_OPTIONS = re.compile(r"\)\s*(?:(?:WITHOUT\s+ROWID|STRICT)\s*,?\s*)+;?\s*$", re.IGNORECASE)


class _NoCommandFallbackNoise(logging.Filter):
    """sqlglot logs a warning when it reads a statement only as an opaque command; :func:`parse_sqlite` turns
    that case into a reported reason instead, so the warning would only be noise on the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_NoCommandFallbackNoise())


def parse_sqlite(text: str, what: str) -> exp.Expression:
    """One SQLite statement or expression, parsed; Untranslatable (naming ``what``) when sqlglot cannot read
    it, including when it would only keep it as an opaque command (its parts would then be invisible)."""
    if re.match(r"\s*CREATE\s+TABLE\b", text, re.IGNORECASE):
        text = _TABLE_OPTIONS.sub(")", text)  # sqlglot does not read WITHOUT ROWID / STRICT; neither matters here
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except sqlglot.errors.SqlglotError as exc:
        raise Untranslatable(f"the {what} could not be parsed ({str(exc).splitlines()[0]})") from None
    if isinstance(tree, exp.Command) or not isinstance(tree, exp.Expression):
        raise Untranslatable(f"the {what} could not be parsed (a syntax sqlglot does not read)")
    return tree

# SQLite reads its clock once per statement: statement_timestamp(), not now() (the transaction's start).
_UTC_NOW = "(statement_timestamp() AT TIME ZONE 'UTC')"
_CLOCK_TEXT = {"timestamp": "YYYY-MM-DD HH24:MI:SS", "date": "YYYY-MM-DD", "time": "HH24:MI:SS"}
_CLOCK_CALLS = {"datetime": "timestamp", "date": "date", "time": "time"}


def clock_sql(clock: str, pg_type: str | None) -> str | None:
    """SQLite's clock (UTC, whole seconds; ``clock`` is timestamp, date or time) as PostgreSQL computes it for a
    value of ``pg_type``: the same instant for timestamp/date columns, the same text for text ones (and when the
    type is not known). None when the column could not hold SQLite's text."""
    base = (pg_type or ("bigint" if clock == "epoch_int" else "text")).split("(")[0]
    if clock in {"epoch", "epoch_int"}:  # strftime('%s', 'now'): whole seconds since 1970, as text
        seconds = "floor(extract(epoch FROM statement_timestamp()))::bigint"
        numeric = {"bigint", "integer", "smallint", "double precision", "real", "numeric"}
        return seconds if base in numeric else f"{seconds}::text" if base in {"text", "varchar"} else None
    if base == "timestamp" and clock == "timestamp":
        return f"date_trunc('second', {_UTC_NOW})"
    if base == "timestamptz" and clock == "timestamp":
        return "date_trunc('second', statement_timestamp())"
    if base == "date" and clock == "date":
        return f"({_UTC_NOW})::date"
    if base in {"text", "varchar", "citext"}:
        return f"to_char({_UTC_NOW}, '{_CLOCK_TEXT[clock]}')"
    return None


class Untranslatable(Exception):
    """The first construct that blocks a translation, in words."""


@dataclass(frozen=True)
class ColumnRef:
    """What a SQLite column reference becomes: its PostgreSQL name (and qualifier) and type, when known."""

    name: str
    pg_type: str | None
    qualifier: str | None = None
    qualifier_quoted: bool = True  # False for an alias or NEW/OLD, which PostgreSQL folds like the query does
    known: bool = True  # False: the name matches no column or output alias
    affinity: str | None = None  # SQLite's column affinity (TEXT, INTEGER, REAL, NUMERIC, BLOB), when known
    nocase: bool = False  # declared COLLATE NOCASE in SQLite


class Scope(Protocol):
    """How the names in an expression resolve."""

    text_order_same: bool  # every text column compares in the C collation (SQLite's byte order)

    def column(self, node: exp.Column) -> ColumnRef:
        """The PostgreSQL reference for ``node``; raise Untranslatable for an unknown column."""
        ...

    def table(self, node: exp.Table) -> exp.Table:
        """The PostgreSQL table for a table reference (views and trigger bodies)."""
        ...


@dataclass
class TableScope:
    """Columns of one table: CHECKs, indexes, generated columns. ``columns`` maps each SQLite column name
    (lowercase) to (PostgreSQL name, PostgreSQL type)."""

    columns: dict[str, tuple[str, str]]
    text_order_same: bool = False
    affinities: dict[str, str] = field(default_factory=dict)  # lowercase name -> SQLite affinity
    nocase: frozenset[str] = frozenset()  # lowercase names declared COLLATE NOCASE

    def column(self, node: exp.Column) -> ColumnRef:
        found = self.columns.get(node.name.lower())
        if found is None or node.table:
            raise Untranslatable(f"names an unknown column {node.sql(dialect='sqlite')!r}")
        return ColumnRef(found[0], found[1], affinity=self.affinities.get(node.name.lower()),
                         nocase=node.name.lower() in self.nocase)

    def table(self, node: exp.Table) -> exp.Table:
        raise Untranslatable("a table reference where only this table's columns are allowed")


@dataclass(frozen=True)
class Translated:
    source: str
    pg_sql: str | None
    problem: str | None = None
    notes: tuple[str, ...] = ()
    result_type: str | None = None  # the PostgreSQL type of the result, when outgrow can tell



def sqlite_affinity(declared: str) -> str:
    """The affinity SQLite gives a column declared ``declared`` (sqlite.org/datatype3.html#affname)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper.strip():
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def clock_kind(node: exp.Expr) -> str | None:
    """timestamp/date/time/epoch/epoch_int for SQLite's spellings of "now", else None."""
    if isinstance(node, exp.CurrentTimestamp):
        return "timestamp"
    if isinstance(node, exp.CurrentDate):
        return "date"
    if isinstance(node, exp.CurrentTime):
        return "time"
    if (isinstance(node, exp.TimeToStr) and isinstance(node.this, exp.TsOrDsToTimestamp)
            and isinstance(node.this.this, exp.Literal) and node.this.this.this.lower() == "now"
            and isinstance(node.args.get("format"), exp.Literal) and node.args["format"].this == "%s"):
        return "epoch"
    if (isinstance(node, exp.Cast) and node.to.this in {exp.DataType.Type.INT, exp.DataType.Type.BIGINT}
            and clock_kind(node.this) == "epoch"):
        return "epoch_int"
    if isinstance(node, exp.Anonymous | exp.Date) and len(node.expressions or [node.this]) == 1:
        argument = (node.expressions or [node.this])[0]
        name = node.name.lower() if isinstance(node, exp.Anonymous) else "date"
        if name in _CLOCK_CALLS and isinstance(argument, exp.Literal) and argument.this.lower() == "now":
            return _CLOCK_CALLS[name]
    return None


def construct(node: exp.Expr) -> str:
    """How a user would name a construct: a function call by its SQLite name, anything else by its kind."""
    if isinstance(node, exp.Anonymous):
        return f"{node.name}()"
    if isinstance(node, exp.Func):
        return f"{node.sql(dialect='sqlite').split('(')[0].lower()}()"
    if isinstance(node, exp.Div):
        return "division (SQLite divides integers as integers)"
    if isinstance(node, exp.Mod):
        return "% (remainder)"
    return type(node).__name__.upper()


def positive_int(node: exp.Expression | None, *, zero: bool = False) -> bool:
    if not isinstance(node, exp.Literal) or node.is_string or not re.fullmatch(r"\d+", node.this):
        return False
    return int(node.this) > 0 or (zero and int(node.this) == 0)


def glob_to_regex(pattern: str) -> str:
    """GLOB is case-sensitive and matches the whole value: * any, ? one, [...] a class ([^...] negated)."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(pattern[i:end + 1])
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)

