"""Copying rows: one table, or one rowid range of a table, from a SQLite read transaction into a COPY.

Tables keyed by their rowid take the fast path of :mod:`outgrow.migrate.stream` (output forms, one hash per
stream); the others are copied value by value with a checksum per row (:mod:`outgrow.migrate.checksum`).
Both stop at the first value that cannot be carried (:class:`RejectFound`) unless it is in ``skip`` (report
mode leaves those rows out).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from outgrow.errors import MigrationError
from outgrow.migrate.checksum import python_text, row_hash, text_functions
from outgrow.migrate.plan_model import TablePlan
from outgrow.migrate.rows import iter_rows, key_offset, read_batches, row_identity
from outgrow.migrate.stream import HashingWriter, Inexact, StreamColumn, stream_columns, stream_query
from outgrow.migrate.values import Rejection, escape_value

__all__ = ["CopyResult", "RejectFound", "Tick", "copy_range", "copy_rows", "copy_statement", "copy_table",
           "loaded_texts", "source_checksum"]

Tick = Callable[[int], None]  # rows copied since the last call


class RejectFound(MigrationError):
    """A value that cannot be carried, met while copying (nothing is swapped in: the target stays as it was)."""


@dataclass
class CopyResult:
    table: str  # source name
    low: int | None = None  # the rowid range, or None for the whole table copied row by row
    high: int | None = None
    rows: int = 0
    rejected_rows: int = 0
    digest: str | None = None  # the stream's hash (fast path), or None
    checksum: int = 0  # the sum of row hashes (row-by-row path)
    inexact: bool = False  # the stream held a value whose printed form could not be foreseen
    seconds: float = 0.0


def _reject(table: TablePlan, column: str, value: Any, reason: str) -> RejectFound:
    return RejectFound(f"{table.source.name}.{column} = {escape_value(value)}: {reason}",
                       hint="the source changed after planning; run again")


def copy_statement(table: TablePlan, schema: str) -> sql.Composed:
    return sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(schema), sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns))


def copy_table(source: sqlite3.Connection, pg: psycopg.Connection[Any], table: TablePlan, schema: str,
               skip: set[Any], tick: Tick | None = None, on_bytes: Callable[[int], None] | None = None) -> CopyResult:
    """Copy a whole table in this process: the fast path when the table can take it, else row by row."""
    streams = stream_columns(table)
    with pg.cursor() as cursor:
        writer = HashingWriter(cursor, on_bytes)
        with cursor.copy(copy_statement(table, schema), writer=writer) as copy:
            if streams is None:
                return copy_rows(source, copy, table, skip, tick)
            result = copy_range(source, copy, table, streams, -(2 ** 63), 2 ** 63 - 1, skip, tick)
    result.digest = writer.digest.hexdigest()
    return result


def copy_range(source: sqlite3.Connection, copy: psycopg.Copy, table: TablePlan, streams: list[StreamColumn],
               low: int, high: int, skip: set[Any], tick: Tick | None = None) -> CopyResult:
    """Write the rows with a rowid from low to high, in rowid order, in their output forms, into ``copy``
    (whose writer hashes what it sends)."""
    started = time.perf_counter()
    result = CopyResult(table.source.name, low, high)
    # Columns that no SQL condition can pass untouched are converted even in a row whose others all pass.
    always = [(i, s.convert) for i, s in enumerate(streams) if s.fast is None]
    every = [s.convert for s in streams]
    width = len(streams) + 1
    for rows, escaped in read_batches(source, stream_query(table, streams), (low, high)):
        sent = 0
        for row in rows:
            if skip and row_identity(table.source, row) in skip:
                result.rejected_rows += 1
                continue
            if row[width] and not escaped:
                if always:
                    values = list(row[1:width])
                    for index, convert in always:
                        values[index] = _checked(table, streams[index], convert, values[index], result)
                    copy.write_row(values)
                else:
                    copy.write_row(row[1:width])
            else:
                copy.write_row([_checked(table, s, convert, v, result)
                                for s, convert, v in zip(streams, every, row[1:width], strict=True)])
            sent += 1
        result.rows += sent
        if tick is not None:
            tick(sent)
    result.seconds = time.perf_counter() - started
    return result


def _checked(table: TablePlan, stream: StreamColumn, convert: Callable[[Any], Any], value: Any,
             result: CopyResult) -> Any:
    try:
        converted = convert(value)
    except Inexact:
        result.inexact = True
        converted = stream.plan.rule.convert(value)
    if isinstance(converted, Rejection):  # stop mode, or the source changed after planning
        raise _reject(table, stream.plan.source.name, value, converted.reason)
    return converted


def copy_rows(source: sqlite3.Connection, copy: psycopg.Copy, table: TablePlan, skip: set[Any],
              tick: Tick | None = None) -> CopyResult:
    """Write the whole table into ``copy`` value by value, summing a hash of each row's canonical text."""
    started = time.perf_counter()
    result = CopyResult(table.source.name)
    columns = table.columns
    offset = key_offset(table.source)
    texts = text_functions(columns)
    sent = 0
    for row in iter_rows(source, table.source):
        if skip and row_identity(table.source, row) in skip:
            result.rejected_rows += 1
            continue
        values = []
        for column, value in zip(columns, row[offset:], strict=True):
            converted = column.rule.convert(value)
            if value is None and column.not_null:
                converted = Rejection("NULL in a NOT NULL or primary key column")
            if isinstance(converted, Rejection):
                raise _reject(table, column.source.name, value, converted.reason)
            values.append(converted)
        copy.write_row(values)
        result.checksum += row_hash([text(v) for text, v in zip(texts, values, strict=True)])
        sent += 1
        if tick is not None and sent % 5000 == 0:
            tick(5000)
    result.rows = sent
    if tick is not None:
        tick(sent % 5000)
    result.seconds = time.perf_counter() - started
    return result


def loaded_texts(conn: sqlite3.Connection, table: TablePlan, left_out: set[Any]) -> Iterator[list[str | None]]:
    """The canonical texts of each source row a migration loads (rows in ``left_out`` and rows holding a
    value that cannot be carried are not loaded)."""
    offset = key_offset(table.source)
    for row in iter_rows(conn, table.source):
        if left_out and row_identity(table.source, row) in left_out:
            continue
        texts = []
        for column, value in zip(table.columns, row[offset:], strict=True):
            converted = column.rule.convert(value)
            if isinstance(converted, Rejection):
                break
            texts.append(python_text(column, converted))
        else:
            yield texts


def source_checksum(conn: sqlite3.Connection, table: TablePlan, left_out: set[Any]) -> tuple[int, int]:
    """(rows, sum of row hashes) of what a migration loads from ``table``: the source side of
    :func:`outgrow.migrate.checksum.pg_checksum`."""
    rows = checksum = 0
    for texts in loaded_texts(conn, table, left_out):
        checksum += row_hash(texts)
        rows += 1
    return rows, checksum
