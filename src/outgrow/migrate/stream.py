"""The exact fast path of the copy: every value sent in the text PostgreSQL itself prints for it, so the COPY
stream is checked by one hash on each side instead of a checksum per row.

For a table keyed by its rowid (an INTEGER PRIMARY KEY), rows go out in key order and the client hashes the
bytes it sends; PostgreSQL is then asked for ``COPY (SELECT ... ORDER BY key) TO STDOUT`` and that stream is
hashed too. The two agree only if every stored value prints exactly as it was sent: a lost, added, reordered
or changed value shows. For that, each value is sent in PostgreSQL's output form:

- a value SQLite already holds in that form goes through untouched; SQLite itself decides which ones, with
  one SQL condition per column (``typeof(x) = 'integer'``, ``datetime(x) = x``, ...) evaluated in C, so a
  typical row costs no Python per value at all;
- any other value is converted by its column's rule (which rejects what cannot be carried) and then put in
  the output form (``2025-01-01T10:00:00.500`` -> ``2025-01-01 10:00:00.5``; JSON in jsonb's normal form;
  numeric(p,s) with s decimals).

A double whose output PostgreSQL prints differently from Python at and beyond 1e15 marks the stream inexact;
the table is then checked row by row instead (:func:`outgrow.migrate.checksum.pg_checksum`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.copy import LibpqWriter

from outgrow.migrate.checksum import jsonb_text
from outgrow.migrate.introspect import quote
from outgrow.migrate.plan_model import ColumnPlan, TablePlan
from outgrow.migrate.rows import carried_columns, rowid_name
from outgrow.migrate.values_core import Rejection

__all__ = [
    "COPY_SESSION",
    "SESSION",
    "HashingWriter",
    "Inexact",
    "StreamColumn",
    "key_column",
    "output_forms",
    "rowid_ranges",
    "server_digest",
    "session_settings",
    "stream_columns",
    "stream_query",
]

#: Session settings under which PostgreSQL prints values in the forms this module sends.
SESSION = {"DateStyle": "ISO, YMD", "TimeZone": "UTC", "extra_float_digits": "1", "bytea_output": "hex",
           "client_encoding": "UTF8"}
#: ... and under which it reads COPY data as psycopg formats it (a migrate.toml ``before`` may change them).
COPY_SESSION = {"client_encoding": "UTF8", "standard_conforming_strings": "on"}

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?$", re.ASCII)


def output_forms(pg: psycopg.Connection[Any]) -> AbstractContextManager[None]:
    """Print values in the forms this module sends."""
    return session_settings(pg, SESSION)


@contextmanager
def session_settings(pg: psycopg.Connection[Any], settings: dict[str, str]) -> Iterator[None]:
    """Apply ``settings`` for a while (transaction-local), then put the session's own back: the user's SQL
    that follows must see their time zone."""
    saved = {name: pg.execute("SELECT current_setting(%s)", (name,)).fetchone() for name in settings}
    for name, value in settings.items():
        pg.execute("SELECT set_config(%s, %s, true)", (name, value))
    try:
        yield
    finally:
        if pg.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            for name, row in saved.items():
                assert row is not None
                pg.execute("SELECT set_config(%s, %s, true)", (name, row[0]))


class Inexact(Exception):
    """A value PostgreSQL prints in a form this module cannot foresee (the table is then checked row by row)."""


def _same(converted: str | bytes | None) -> str | bytes | None:
    return converted


def _double(converted: str | bytes | None) -> str | bytes | None:
    # Python's repr and PostgreSQL's float8out agree below 1e15 (integral values get ".0" from server_sql);
    # beyond, PostgreSQL prints integers with more digits than the shortest round trip.
    if isinstance(converted, str) and converted[-1:].isdigit() and abs(float(converted)) >= 1e15:
        raise Inexact(converted)
    return converted


def _boolean(converted: str | bytes | None) -> str | bytes | None:
    return None if converted is None else ("t" if converted == "true" else "f")


def _plain_numeric(converted: str | bytes | None) -> str | bytes | None:
    if isinstance(converted, str) and converted.startswith("-") and Decimal(converted) == 0:
        return converted[1:]  # numeric has no negative zero
    return converted


def _scaled_numeric(scale: int) -> Callable[[str | bytes | None], str | bytes | None]:
    step = Decimal(1).scaleb(-scale)

    def form(converted: str | bytes | None) -> str | bytes | None:
        if not isinstance(converted, str):
            return converted
        # The rule rejected every value with more decimals than the scale: this only pads with zeros, in a
        # context wide enough for every digit (the default 28 would raise on numeric(38,18)).
        number = Decimal(converted)
        context = Context(prec=len(number.as_tuple().digits) + scale + 2)
        return _plain_numeric(format(number.quantize(step, context=context), "f"))
    return form


def _timestamp(converted: str | bytes | None) -> str | bytes | None:
    if not isinstance(converted, str):
        return converted
    match = _TIMESTAMP.match(converted)
    if match is None:  # the rule only passes ISO forms; a date alone came back as "<date> 00:00:00"
        raise Inexact(converted)
    day, minutes, seconds, fraction = match.groups()
    return f"{day} {minutes}:{seconds or '00'}" + _fraction(fraction)


def _timestamptz(converted: str | bytes | None) -> str | bytes | None:
    if not isinstance(converted, str):
        return converted
    moment = datetime.fromisoformat(converted.replace(" ", "T", 1)).astimezone(UTC)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}" + _fraction(f"{moment.microsecond:06d}") + "+00")


def _fraction(digits: str | None) -> str:
    trimmed = (digits or "").rstrip("0")
    return f".{trimmed}" if trimmed else ""


def _jsonb(converted: str | bytes | None) -> str | bytes | None:
    if not isinstance(converted, str):
        return converted
    return jsonb_text(json.loads(converted, parse_float=Decimal, parse_int=Decimal))


def _text_fast(column: str, length: int | None) -> str:
    # instr() on the BLOB form sees a NUL anywhere; length() would stop counting at it.
    fits = f" AND length({column}) <= {length}" if length is not None else ""
    return f"typeof({column}) = 'text' AND instr(CAST({column} AS BLOB), x'00') = 0{fits}"


@dataclass(frozen=True)
class StreamColumn:
    """How one column travels: which stored values pass untouched (``fast``, SQL over the SQLite column), the
    output form of the others, and the SQL printing the loaded column (``server``) as it was sent."""

    plan: ColumnPlan
    fast: str | None  # None: every value goes through the rule
    form: Callable[[str | bytes | None], str | bytes | None]
    server: sql.Composable

    def convert(self, value: Any) -> Any:
        """The value to send, in PostgreSQL's output form; a Rejection passes through for the caller."""
        converted = self.plan.rule.convert(value)
        if value is None and self.plan.not_null:
            return Rejection("NULL in a NOT NULL or primary key column")
        if converted is None or not isinstance(converted, str | bytes):
            return converted
        return self.form(converted)


def _stream_column(column: ColumnPlan) -> StreamColumn | None:
    name = quote(column.source.name)
    ident = sql.Identifier(column.name)
    pg_type = column.choice.pg_type
    base, _, modifier = pg_type.partition("(")
    base = base.split(" GENERATED")[0].strip()
    null_ok = "" if column.not_null else f"typeof({name}) = 'null' OR "
    length = int(modifier.split(",")[0].rstrip(")")) if modifier and base == "varchar" else None
    fast: str | None
    form: Callable[[str | bytes | None], str | bytes | None]
    server: sql.Composable = ident
    if base == "bigint":
        fast, form = f"typeof({name}) = 'integer'", _same
    elif base in {"text", "citext", "varchar"}:
        fast, form = _text_fast(name, length), _same
    elif base == "double precision":
        fast, form = f"typeof({name}) = 'real' AND abs({name}) < 1e15", _double
        server = sql.SQL(
            "CASE WHEN {c} = trunc({c}) AND abs({c}) < 1e15 THEN CASE WHEN float8send({c}) = "
            "'\\x8000000000000000'::bytea THEN '-0.0' ELSE trunc({c})::bigint::text || '.0' END "
            "ELSE {c}::text END").format(c=ident)
    elif base == "bytea":
        fast, form = f"typeof({name}) = 'blob'", _same
    elif base == "date":
        # substr(), not >= '0001': a DATE column's NUMERIC affinity would turn the literal into the number 1.
        fast = f"typeof({name}) = 'text' AND date({name}) = {name} AND substr({name}, 1, 4) <> '0000'"
        form = _same
    elif base == "timestamp":
        fast = f"typeof({name}) = 'text' AND datetime({name}) = {name} AND substr({name}, 1, 4) <> '0000'"
        form = _timestamp
    elif base == "timestamptz":
        fast, form = None, _timestamptz
    elif base == "boolean":
        fast, form = None, _boolean
    elif base == "numeric":
        scale = int(modifier.rstrip(")").split(",")[1]) if "," in modifier else (0 if modifier else None)
        fast, form = None, (_plain_numeric if scale is None else _scaled_numeric(scale))
    elif base == "jsonb":
        fast, form = None, _jsonb
    elif base == "json":
        fast, form = None, _same
    else:
        return None
    if fast is not None:
        fast = f"({null_ok}{fast})"
    return StreamColumn(column, fast, form, server)


def stream_columns(table: TablePlan) -> list[StreamColumn] | None:
    """The table's columns for the fast path, or None when the table cannot take it (no rowid key carried,
    or a column type this module has no output form for)."""
    if rowid_name(table.source) is None or not any(c.identity for c in table.columns):
        return None
    streams = [_stream_column(c) for c in table.columns]
    if any(s is None for s in streams):
        return None
    return [s for s in streams if s is not None]


def stream_query(table: TablePlan, streams: list[StreamColumn]) -> str:
    """SELECT rowid, the carried columns and whether all the fast columns' values pass untouched, for an
    inclusive rowid range (two parameters), in rowid order."""
    rowid = rowid_name(table.source)
    assert rowid is not None
    fast = " AND ".join(s.fast for s in streams if s.fast) or "0"
    columns = ", ".join(quote(c.name) for c in carried_columns(table.source))
    return (f"SELECT {rowid}, {columns}, {fast} FROM {quote(table.source.name)} "
            f"WHERE {rowid} BETWEEN ? AND ? ORDER BY {rowid}")


class HashingWriter(LibpqWriter):
    """Sends COPY data to the server and hashes exactly the bytes sent."""

    def __init__(self, cursor: psycopg.Cursor[Any], on_bytes: Callable[[int], None] | None = None) -> None:
        super().__init__(cursor)
        self.digest = hashlib.blake2b(digest_size=16)
        self.on_bytes = on_bytes

    def write(self, data: Any) -> None:
        self.digest.update(data)
        if self.on_bytes is not None:
            self.on_bytes(len(data))
        super().write(data)


def key_column(table: TablePlan) -> ColumnPlan:
    return next(c for c in table.columns if c.identity)


def server_digest(pg: psycopg.Connection[Any], table: TablePlan, streams: list[StreamColumn], schema: str,
                  low: int, high: int) -> tuple[int, str]:
    """(rows, hash) of the loaded rows with a key from low to high, printed by PostgreSQL in the sent forms."""
    key = sql.Identifier(key_column(table).name)
    query = sql.SQL("COPY (SELECT {} FROM {}.{} WHERE {} BETWEEN {} AND {} ORDER BY {}) TO STDOUT").format(
        sql.SQL(", ").join(s.server for s in streams), sql.Identifier(schema), sql.Identifier(table.name),
        key, sql.Literal(low), sql.Literal(high), key)
    digest = hashlib.blake2b(digest_size=16)
    rows = 0
    with pg.cursor() as cursor, cursor.copy(query) as copy:
        for data in copy:  # one row per message
            digest.update(data)
            rows += 1
    return rows, digest.hexdigest()


def rowid_ranges(conn: Any, table: TablePlan, pieces: int) -> list[tuple[int, int]]:
    """The table's rowids split into ``pieces`` inclusive ranges of about as many rows, together covering every
    possible rowid."""
    rowid = rowid_name(table.source)
    assert rowid is not None
    count = table.source.row_count
    cuts: list[int] = []
    for piece in range(1, pieces if count >= pieces else 1):
        # OFFSET walks the rowid b-tree: milliseconds per million rows, and exact where rowids have gaps.
        row = conn.execute(f"SELECT {rowid} FROM {quote(table.source.name)} ORDER BY {rowid} LIMIT 1 OFFSET ?",
                           (count * piece // pieces,)).fetchone()
        if row is not None and (not cuts or row[0] > cuts[-1]):
            cuts.append(row[0])
    starts = [-(2 ** 63), *cuts]
    return [(start, end - 1) for start, end in zip(starts, [*cuts, 2 ** 63], strict=True)]
