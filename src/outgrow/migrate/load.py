"""Load a plan into PostgreSQL atomically: staging schema, streaming COPY, keys, checksums, swap, one COMMIT.

Everything runs in one PostgreSQL transaction on one connection. A failure, Ctrl-C or ``kill -9`` at any
moment (the server rolls back a transaction whose client vanished) leaves the target exactly as it was;
the checksums are compared *before* the swap, so a mismatch never reaches the target either.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

from outgrow.errors import MigrationError, VerificationFailed
from outgrow.migrate import ddl
from outgrow.migrate.checksum import pg_checksum
from outgrow.migrate.copying import CopyResult, RejectFound, copy_statement, copy_table, source_checksum
from outgrow.migrate.introspect import open_source
from outgrow.migrate.plan import MigrationPlan, Reject, TablePlan
from outgrow.migrate.progress import Progress, Ticker
from outgrow.migrate.stream import COPY_SESSION, output_forms, server_digest, session_settings, stream_columns
from outgrow.migrate.workers import CopyWorkers, NoSharedSnapshot

__all__ = ["STAGING_PREFIX", "LoadOptions", "RejectFound", "TableReport", "load_plan"]

# One fresh staging schema per run, never an existing one: it lives only inside the run's transaction.
STAGING_PREFIX = "outgrow_staging_"
# What an application role needs on its tables, and no more: not ownership, so row-level security binds it.
APP_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
OnError = Literal["stop", "report"]
MAINTENANCE_WORK_MEM = "512MB"


@dataclass(frozen=True)
class LoadOptions:
    on_error: OnError = "stop"
    replace: bool = False
    schema_only: bool = False
    data_only: bool = False
    fk_not_valid: bool = False
    owner: str | None = None
    grants: dict[str, str] = field(default_factory=dict)
    grant_to: list[str] = field(default_factory=list)  # application roles: read and write, never own
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    #: Test hook: called with the name of each phase as it starts ("copy", "indexes", "swap", ...).
    fault: Callable[[str], None] | None = None


@dataclass
class TableReport:
    source: str
    target: str
    rows: int = 0
    rejected_rows: int = 0
    seconds: float = 0.0
    checksum: int = 0
    verified: bool = False


@dataclass
class LoadResult:
    tables: list[TableReport] = field(default_factory=list)
    rejects_written: int = 0


def load_plan(plan: MigrationPlan, conninfo: str, options: LoadOptions, *, rejects_path: Path | None = None,
              progress: Progress | None = None, workers: CopyWorkers | None = None) -> LoadResult:
    """Create, fill, verify and swap in every table of ``plan``; raise MigrationError and change nothing on failure."""
    result = LoadResult()
    skip_rows = _rows_to_skip(plan, options)
    # --data-only loads straight into the existing (empty) target tables; otherwise into a staging schema.
    staging = STAGING_PREFIX + uuid.uuid4().hex[:12]
    loading = plan.schema if options.data_only else staging
    with psycopg.connect(conninfo) as pg:
        for user_sql in options.before:
            _user_sql(pg, user_sql)
        _phase(options, "staging")
        # Index builds sort every key: a larger sort memory for this transaction only (default 64 MB).
        pg.execute("SELECT set_config('maintenance_work_mem', %s, true) "
                   "WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(%s)",
                   (MAINTENANCE_WORK_MEM, MAINTENANCE_WORK_MEM))
        if any(c.choice.pg_type == "citext" for t in plan.tables for c in t.columns):
            pg.execute("CREATE EXTENSION IF NOT EXISTS citext")  # trusted: the database's CREATE privilege suffices
        held_back: list[tuple[str, str, str]] = []
        if options.data_only:
            _check_empty_targets(pg, plan)
            held_back = _hold_back_foreign_keys(pg, plan)
        else:
            pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
            for table in plan.tables:
                pg.execute(ddl.create_table(table, staging))
        source = open_source(plan.source)
        try:
            with session_settings(pg, COPY_SESSION):
                copied = _copy(plan, conninfo, pg, source, options, loading, skip_rows, progress, workers)
            parts: dict[str, list[CopyResult]] = {}
            for part in copied:
                parts.setdefault(part.table, []).append(part)
            for table in plan.tables:
                report = TableReport(table.source.name, table.name)
                for part in parts.get(table.source.name, []):
                    report.rows += part.rows
                    report.rejected_rows += part.rejected_rows
                    report.seconds = max(report.seconds, part.seconds)
                result.tables.append(report)
            _phase(options, "indexes")
            for table in plan.tables:
                if not options.data_only:
                    for statement in ddl.keys_and_indexes(table, loading):
                        pg.execute(statement)
                restart = ddl.restart_identity(table, loading, _largest_id(pg, table, loading))
                if restart is not None:
                    pg.execute(restart)
            _phase(options, "foreign keys")
            for table_name, constraint, definition in held_back:
                pg.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.SQL(table_name), sql.Identifier(constraint), sql.SQL(definition)))
            if not options.data_only:
                for table in plan.tables:
                    for statement in ddl.foreign_keys(table, loading, not_valid=options.fk_not_valid):
                        pg.execute(statement)
            _phase(options, "verify")
            with output_forms(pg):
                for table, report in zip(plan.tables, result.tables, strict=True):
                    _verify(pg, source, table, report, parts.get(table.source.name, []), loading,
                            skip_rows.get(table.source.name, set()))
            for table in plan.tables:
                pg.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(loading), sql.Identifier(table.name)))
            source.execute("COMMIT")
        finally:
            source.close()
        _phase(options, "swap")
        if not options.data_only:
            _swap(pg, plan, options, staging)
            _phase(options, "views and triggers")
            for planned in plan.objects:
                for created in planned.statements:
                    # built from parsed, whitelisted trees with every name quoted (outgrow.migrate.views/triggers)
                    pg.execute(created.encode())
        _grant(pg, plan, options)
        for user_sql in options.after:
            _user_sql(pg, user_sql)
        # The rejects file is complete on disk before the COMMIT, and appears under its name right after:
        # a run never commits rows whose rejected neighbours have no record.
        pending = _write_rejects(plan, options, rejects_path, result)
        pg.commit()
    if pending is not None and rejects_path is not None:
        os.replace(pending, rejects_path)
    return result


def _largest_id(pg: psycopg.Connection[Any], table: TablePlan, schema: str) -> int | None:
    identity = next((c for c in table.columns if c.identity), None)
    if identity is None:
        return None
    row = pg.execute(sql.SQL("SELECT max({}) FROM {}.{}").format(
        sql.Identifier(identity.name), sql.Identifier(schema), sql.Identifier(table.name))).fetchone()
    return None if row is None else row[0]


def _copy(plan: MigrationPlan, conninfo: str, pg: psycopg.Connection[Any], source: sqlite3.Connection,
          options: LoadOptions, schema: str, skip_rows: dict[str, set[Any]], progress: Progress | None,
          workers: CopyWorkers | None) -> list[CopyResult]:
    """Copy every table, in this process or spread over the ``workers``; ``source`` is left in a read
    transaction on the same state of the source the copy read (for any check row by row)."""
    if options.schema_only:
        source.execute("BEGIN")
        return []
    copied: list[CopyResult] = []
    if workers is None:
        source.execute("BEGIN")  # one snapshot for the whole copy
        for table in plan.tables:
            _phase(options, "copy")
            ticker = Ticker(progress, "copy", table.name, table.source.row_count)
            copied.append(copy_table(source, pg, table, schema, skip_rows.get(table.source.name, set()),
                                     ticker.advance, ticker.add_bytes))
            ticker.finish()
        return copied
    try:
        workers.begin(plan.source, conninfo, plan.tables, source)
    except NoSharedSnapshot:
        workers.stop()
        return _copy(plan, conninfo, pg, source, options, schema, skip_rows, progress, None)
    for index, table in enumerate(plan.tables):
        _phase(options, "copy")
        ticker = Ticker(progress, "copy", table.name, table.source.row_count)
        tasks = workers.plan_tasks(index, skip_rows.get(table.source.name, set()))
        with pg.cursor() as cursor, cursor.copy(copy_statement(table, schema)) as copy:
            def write(chunk: memoryview, copy: psycopg.Copy = copy, ticker: Ticker = ticker) -> None:
                copy.write(chunk)
                ticker.add_bytes(len(chunk))

            copied += workers.run(tasks, write, ticker.advance)
        ticker.finish()
    return copied


def _user_sql(pg: psycopg.Connection[Any], statement: str) -> None:
    """Run the user's own SQL from migrate.toml inside the migration's transaction, and make sure it stayed
    inside: a COMMIT there would break the promise that a failure changes nothing."""
    pg.execute(statement.encode())
    if pg.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise MigrationError(f"migrate.toml SQL ended the migration's transaction: {statement[:80]!r}",
                             hint="remove COMMIT/ROLLBACK/BEGIN from before/after; what it committed stays")


def _write_rejects(plan: MigrationPlan, options: LoadOptions, path: Path | None, result: LoadResult) -> Path | None:
    if path is None:
        return None
    pending = path.with_name(path.name + ".partial")
    with pending.open("w", encoding="utf-8") as handle:
        for reject in _all_rejects(plan, options):
            handle.write(json.dumps(reject.to_dict(), ensure_ascii=False, default=str) + "\n")
            result.rejects_written += 1
        handle.flush()
        os.fsync(handle.fileno())
    return pending


def _phase(options: LoadOptions, name: str) -> None:
    if options.fault is not None:
        options.fault(name)


def _rows_to_skip(plan: MigrationPlan, options: LoadOptions) -> dict[str, set[Any]]:
    """Rows left out in report mode: those with a value that cannot be carried, and dangling children."""
    if options.on_error == "stop":
        return {}
    skip: dict[str, set[Any]] = {}
    for reject in _all_rejects(plan, options):
        skip.setdefault(reject.table, set()).add(reject.row)
    return skip


def _all_rejects(plan: MigrationPlan, options: LoadOptions) -> list[Reject]:
    return plan.rejects + ([] if options.fk_not_valid else plan.dangling)


def _verify(pg: psycopg.Connection[Any], source: sqlite3.Connection, table: TablePlan, report: TableReport,
            copied: list[CopyResult], schema: str, skip: set[Any]) -> None:
    """Compare what PostgreSQL holds with what was sent: per rowid range, the stream PostgreSQL prints against
    the stream sent; otherwise (no rowid key, or a value whose printed form was not foreseen) a sum of row
    hashes computed on each side."""
    streams = stream_columns(table)
    if not copied:  # --schema-only: the table must be empty
        count, _ = pg_checksum(pg, table.columns, schema, table.name)
        if count:
            raise VerificationFailed(f"{table.source.name}: {count} rows appeared in a table created empty")
    elif streams is not None and not any(c.inexact for c in copied):
        for part in copied:
            assert part.low is not None and part.high is not None and part.digest is not None
            rows, digest = server_digest(pg, table, streams, schema, part.low, part.high)
            if rows != part.rows or digest != part.digest:
                raise VerificationFailed(
                    f"{table.source.name}: PostgreSQL holds {rows} rows with keys {part.low} to {part.high}, the "
                    f"source sent {part.rows}" + ("" if rows != part.rows else "; their content differs"),
                    hint="nothing was swapped in; please report this with the table's schema")
    else:
        count, checksum = pg_checksum(pg, table.columns, schema, table.name)
        if streams is None:
            sent, expected = sum(c.rows for c in copied), sum(c.checksum for c in copied)
        else:  # the stream could not be compared byte for byte: read the source again, in the same snapshot
            sent, expected = source_checksum(source, table, skip)
        if count != sent or checksum != expected:
            raise VerificationFailed(
                f"{table.source.name}: PostgreSQL holds {count} rows (checksum {checksum}), the source sent "
                f"{sent} (checksum {expected})",
                hint="nothing was swapped in; please report this with the table's schema")
    report.verified = True


def _check_empty_targets(pg: psycopg.Connection[Any], plan: MigrationPlan) -> None:
    for table in plan.tables:
        try:
            with pg.transaction():  # a savepoint: a missing table must not poison the migration's transaction
                row = pg.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                    sql.Identifier(plan.schema), sql.Identifier(table.name))).fetchone()
        except psycopg.errors.UndefinedTable:
            raise MigrationError(f"--data-only: {plan.schema}.{table.name} does not exist",
                                 hint="create the tables first (--schema-only), or drop --data-only") from None
        if row is not None and row[0]:
            raise MigrationError(f"--data-only: {plan.schema}.{table.name} is not empty",
                                 hint="--data-only loads into empty tables only; use --replace for a full migration")
        _check_column_types(pg, plan.schema, table)


# How format_type() spells the types a plan chooses.
_FORMAT_TYPE = {"varchar": "character varying", "timestamp": "timestamp without time zone",
                "timestamptz": "timestamp with time zone"}


def _check_column_types(pg: psycopg.Connection[Any], schema: str, table: TablePlan) -> None:
    """--data-only: the existing columns must be the planned ones, or values would be read differently (a
    naive timestamp into timestamptz takes the session's time zone) or the load would fail half-way."""
    found = {name: (spelled, identity) for name, spelled, identity in pg.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attidentity FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (sql.Identifier(schema, table.name).as_string(pg),))}
    for column in table.columns:
        base = column.choice.pg_type.removesuffix(" GENERATED BY DEFAULT AS IDENTITY")
        name, _, modifier = base.partition("(")
        wanted = _FORMAT_TYPE.get(name, name) + (f"({modifier}" if modifier else "")
        spelled, identity = found.get(column.name, (None, ""))
        problem = None
        if spelled is None:
            problem = "is missing"
        elif spelled != wanted:
            problem = f"is {spelled}; the plan says {wanted}"
        elif column.identity and identity not in ("a", "d"):
            problem = "is not an identity column; the plan continues the rowid as one"
        if problem:
            raise MigrationError(f"--data-only: {schema}.{table.name}.{column.name} {problem}",
                                 hint="create the tables with --schema-only, or drop --data-only")


def _hold_back_foreign_keys(pg: psycopg.Connection[Any], plan: MigrationPlan) -> list[tuple[str, str, str]]:
    """--data-only fills tables one by one, so a child may come before its parent: the existing foreign keys
    touching the tables are dropped for the load and re-created (same names, same definitions, checked) before
    the COMMIT."""
    names = [f"{plan.schema}.{t.name}" for t in plan.tables]
    rows = pg.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND (conrelid = ANY(%(t)s::regclass[]) OR confrelid = ANY(%(t)s::regclass[])) "
        "ORDER BY 1, 2", {"t": [sql.Identifier(plan.schema, t.name).as_string(pg) for t in plan.tables]}
    ).fetchall() if names else []
    for table_name, constraint, _definition in rows:
        pg.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table_name),
                                                                       sql.Identifier(constraint)))
    return [(str(t), str(c), str(d)) for t, c, d in rows]


def _grant(pg: psycopg.Connection[Any], plan: MigrationPlan, options: LoadOptions) -> None:
    target = sql.Identifier(plan.schema)
    for role in options.grant_to:
        pg.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(target, sql.Identifier(role)))
    for table in plan.tables:
        name = sql.SQL("{}.{}").format(target, sql.Identifier(table.name))
        if options.owner:
            pg.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(name, sql.Identifier(options.owner)))
        for role, privileges in {**dict.fromkeys(options.grant_to, APP_PRIVILEGES), **options.grants}.items():
            # privileges were checked against the table-privilege keywords when the config was read
            pg.execute(sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(privileges.upper()), name, sql.Identifier(role)))
    if options.data_only:
        return
    for planned in plan.objects:
        if options.owner and planned.owned:
            # `owned` is built by outgrow.migrate.views/triggers with every name quoted
            pg.execute(sql.SQL("ALTER {} OWNER TO {}").format(sql.SQL(planned.owned), sql.Identifier(options.owner)))
    views = [sql.Identifier(plan.schema, o.target) for o in plan.objects if o.kind == "view"]
    for view in views:
        for role in [*options.grant_to, *options.grants]:
            pg.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(view, sql.Identifier(role)))


def _swap(pg: psycopg.Connection[Any], plan: MigrationPlan, options: LoadOptions, staging: str) -> None:
    target = sql.Identifier(plan.schema)
    pg.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(target))
    existing = {row[0] for row in pg.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s", (plan.schema,))}
    clashes = sorted(t.name for t in plan.tables if t.name in existing)
    if clashes and not options.replace:
        raise MigrationError(f"the target schema {plan.schema!r} already has {', '.join(clashes)}",
                             hint="pass --replace to replace them (in the same transaction), or choose another schema")
    if clashes:
        # The views and trigger functions this run creates, left by an earlier run, would block the drop.
        for planned in reversed(plan.objects):
            if planned.drop:
                pg.execute(planned.drop.encode())
        # No CASCADE: a view or foreign key of the user's that depends on a replaced table stops the run,
        # rather than disappearing with it.
        pg.execute(sql.SQL("DROP TABLE {}").format(
            sql.SQL(", ").join(sql.SQL("{}.{}").format(target, sql.Identifier(n)) for n in clashes)))
    for table in plan.tables:
        pg.execute(sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
            sql.Identifier(staging), sql.Identifier(table.name), target))
    pg.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(staging)))
