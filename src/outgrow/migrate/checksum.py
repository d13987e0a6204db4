"""Content checksums computed independently on each side: in Python from the SQLite rows, in PostgreSQL by
a streaming SQL aggregate over the loaded rows.

A row's canonical text joins, per column, ``<length>:<text>`` (``N`` for NULL), where <text> is a form both
sides can produce exactly: integers and strings as text, doubles as their 8 IEEE bytes in hex, numerics
without trailing zeros, bytea in hex, timestamps as ``YYYY-MM-DD HH24:MI:SS.US`` (UTC for timestamptz), jsonb
in PostgreSQL's own normal form. Its md5's first 64 bits, as a signed integer, are summed exactly: a sum,
unlike XOR, does not cancel duplicate rows, and unlike string_agg it never nears the 1 GB value limit.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

import psycopg
from psycopg import sql

from outgrow.migrate.plan import ColumnPlan

__all__ = ["jsonb_text", "pg_checksum", "pg_checksum_query", "pg_expression", "python_text", "row_hash",
           "text_functions"]

_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?", re.ASCII)


def _family(column: ColumnPlan) -> str:
    return _family_of(column.choice.pg_type)


@lru_cache(maxsize=64)
def _family_of(pg_type: str) -> str:
    for prefix, family in (("bigint", "int"), ("double", "double"), ("numeric", "numeric"), ("varchar", "text"),
                           ("text", "text"), ("citext", "text"), ("bytea", "bytea"), ("boolean", "text"),
                           ("date", "date"),
                           ("timestamptz", "timestamptz"), ("timestamp", "timestamp"), ("jsonb", "jsonb"),
                           ("json", "text")):
        if pg_type.startswith(prefix):
            return family
    raise ValueError(f"no checksum form for {pg_type}")


def pg_expression(column: ColumnPlan) -> sql.Composable:
    """The canonical text of one column, computed by PostgreSQL."""
    c = sql.Identifier(column.name)
    forms = {
        "int": "{}::text",
        "double": "encode(float8send({}), 'hex')",
        "numeric": "trim_scale({})::text",
        "text": "{}::text",
        "bytea": "encode({}, 'hex')",
        "date": "to_char({}, 'YYYY-MM-DD')",
        "timestamp": "to_char({}, 'YYYY-MM-DD HH24:MI:SS.US')",
        "timestamptz": "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "jsonb": "{}::text",
    }
    return sql.SQL(forms[_family(column)]).format(c)


def pg_checksum_query(columns: list[ColumnPlan], schema: str, table: str) -> sql.Composed:
    """``SELECT count(*), sum(hash)`` over a loaded table."""
    pieces = [sql.SQL("coalesce(length({e}) || ':' || {e}, 'N')").format(e=pg_expression(c)) for c in columns]
    row = sql.SQL(" || ',' || ").join(pieces) if pieces else sql.SQL("''")
    return sql.SQL("SELECT count(*), coalesce(sum(('x' || left(md5({row}), 16))::bit(64)::bigint::numeric), 0) "
                   "FROM {schema}.{table}").format(row=row, schema=sql.Identifier(schema), table=sql.Identifier(table))


def pg_checksum(pg: psycopg.Connection[Any], columns: list[ColumnPlan], schema: str, table: str) -> tuple[int, int]:
    """(row count, content checksum) of a loaded table, computed by PostgreSQL."""
    count, checksum = pg.execute(pg_checksum_query(columns, schema, table)).fetchone()  # type: ignore[misc]
    return int(count), int(checksum)


def python_text(column: ColumnPlan, converted: str | bytes | None) -> str | None:
    """The canonical text of one converted source value (the text sent to COPY)."""
    return _text_of(_family(column), converted)


def text_functions(columns: list[ColumnPlan]) -> list[Callable[[str | bytes | None], str | None]]:
    """:func:`python_text` for each column, with the column's form chosen once (the copy's hot loop calls it
    for every value)."""
    functions: list[Callable[[str | bytes | None], str | None]] = []
    for column in columns:
        family = _family(column)
        functions.append(_same_text if family in {"int", "text", "date"} else partial(_text_of, family))
    return functions


def _same_text(converted: str | bytes | None) -> str | None:
    assert converted is None or isinstance(converted, str)
    return converted


def _text_of(family: str, converted: str | bytes | None) -> str | None:
    if converted is None:
        return None
    if family == "bytea":
        assert isinstance(converted, bytes)
        return converted.hex()
    assert isinstance(converted, str)
    if family == "double":
        return struct.pack(">d", float(converted)).hex()
    if family == "numeric":
        return _plain_number(Decimal(converted))
    if family in {"timestamp", "timestamptz"}:
        return _timestamp(converted, utc=family == "timestamptz")
    if family == "jsonb":
        return jsonb_text(json.loads(converted, parse_float=Decimal, parse_int=Decimal))
    return converted


def row_hash(texts: list[str | None]) -> int:
    row = ",".join("N" if t is None else f"{len(t)}:{t}" for t in texts)
    value = int(hashlib.md5(row.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _timestamp(text: str, *, utc: bool) -> str:
    if utc:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        # Not strftime: glibc writes year 999 as "999", PostgreSQL's to_char as "0999".
        return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
                f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}")
    match = _TS.match(text)
    assert match is not None
    year, month, day, hour, minute, second, fraction = match.groups()
    return (f"{year}-{month}-{day} {hour or '00'}:{minute or '00'}:{second or '00'}."
            f"{(fraction or '').ljust(6, '0')}")


def jsonb_text(value: Any) -> str:
    """jsonb's output form: keys by (byte length, bytes), last duplicate wins, ", " and ": " separators."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
        return "{" + ", ".join(f"{_json_string(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    if isinstance(value, str):
        return _json_string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return format(abs(value) if value == 0 else value, "f")  # numeric has no negative zero


def _plain_number(number: Decimal) -> str:
    """trim_scale(numeric)::text: no trailing fractional zeros, no exponent, no negative zero; exact at any
    length (Decimal.normalize() would round to the context's 28 digits)."""
    text = format(abs(number) if number == 0 else number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
