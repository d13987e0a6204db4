"""``migrate()`` and ``verify()``: plan, preflight, load, report — the functions the CLI calls."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from outgrow.dialects.postgresql import PostgreSQLDialect
from outgrow.errors import ConfigurationError, MigrationError, OutgrowError, VerificationFailed
from outgrow.migrate.checksum import pg_checksum, pg_expression, row_hash
from outgrow.migrate.config import MigrationConfig
from outgrow.migrate.copying import loaded_texts
from outgrow.migrate.introspect import open_source
from outgrow.migrate.load import LoadOptions, OnError, RejectFound, TableReport, load_plan
from outgrow.migrate.plan import IdentifierStyle, MigrationPlan, TablePlan, TargetFacts, build_plan
from outgrow.migrate.preflight import PreflightCheck, preflight, target_facts
from outgrow.migrate.progress import Progress
from outgrow.migrate.rehearse import rehearse
from outgrow.migrate.workers import CopyWorkers
from outgrow.settings import Settings
from outgrow.urls import libpq_url, mask_url, normalize_url

__all__ = ["PARALLEL_FROM_BYTES", "MigrationReport", "PreflightCheck", "migrate", "preflight", "verify"]


# Below this size a worker process's start (about half a second of imports) costs more than it saves.
PARALLEL_FROM_BYTES = 48 * 2**20


@dataclass
class MigrationReport:
    plan: MigrationPlan
    target: str  # masked
    preflight: list[PreflightCheck] = field(default_factory=list)
    tables: list[TableReport] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    rejects_written: int = 0
    fk_not_valid: bool = False

    @property
    def rejected(self) -> int:
        return self.plan.rejected + (0 if self.fk_not_valid else len(self.plan.dangling))

    def to_dict(self) -> dict[str, Any]:
        """The plan and the outcome, for ``--json``."""
        results = {r.source: r for r in self.tables}
        return {
            "source": str(self.plan.source),
            "target": self.target,
            "schema": self.plan.schema,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "preflight": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.preflight],
            "snapshot": self.plan.snapshot_cost,
            "tables": [
                {
                    "source": t.source.name, "target": t.name, "rows": t.source.row_count,
                    "columns": [{"source": c.source.name, "target": c.name, "declared": c.source.declared,
                                 "pg_type": c.choice.pg_type, "why": c.choice.reason, "not_null": c.not_null,
                                 "rejected": c.rejected} for c in t.columns],
                    "primary_key": list(t.primary_key),
                    "unique": [list(u) for u in t.uniques],
                    "indexes": [{"name": i.name, "keys": list(i.keys), "unique": i.unique, "where": i.where,
                                 "method": i.method} for i in t.indexes],
                    "generated": [{"name": g.name, "pg_type": g.pg_type, "sqlite": g.source,
                                   "postgresql": g.expression} for g in t.generated],
                    "foreign_keys": [{"columns": list(cols), "references": ref, "ref_columns": list(rc),
                                      "on_update": fk.on_update, "on_delete": fk.on_delete}
                                     for fk, ref, cols, rc in t.foreign_keys],
                    "identity_next": t.identity_next,
                    "checks": [{"sqlite": c.source, "postgresql": c.pg_sql, "name": c.name} for c in t.checks],
                    "notes": t.notes,
                    "not_carried": t.not_carried,
                    "loaded_rows": results[t.source.name].rows if t.source.name in results else None,
                    "rejected_rows": results[t.source.name].rejected_rows if t.source.name in results else None,
                    "verified": results[t.source.name].verified if t.source.name in results else None,
                    "copy_seconds": round(results[t.source.name].seconds, 3) if t.source.name in results else None,
                }
                for t in self.plan.tables
            ],
            "not_carried": [{"kind": k, "name": n, "reason": r} for k, n, r in self.plan.skipped],
            "objects": [{"kind": o.kind, "name": o.name, "target": o.target, "sqlite": o.source,
                         "postgresql": list(o.statements), "notes": list(o.notes)} for o in self.plan.objects],
            "reviewed": self.plan.reviewed,
            "notes": self.plan.notes,
            "rejected_values": self.rejected,
            "rejects": [r.to_dict() for r in (self.plan.rejects + self.plan.dangling)[:1000]],
        }

    @property
    def exit_code(self) -> int:
        """0: everything carried exactly and verified; 3: completed, with values or objects not carried."""
        return 3 if self.rejected or self.plan.skipped or any(t.skipped for t in self.plan.tables) else 0


def _conninfo(url: str | None) -> tuple[str, str]:
    if not url:
        url = Settings().target_url
    if not url:
        raise ConfigurationError("no target PostgreSQL given",
                                 hint="pass POSTGRES_URL or set OUTGROW_TARGET_URL")
    try:
        parsed = normalize_url(url)
    except ValueError as exc:
        raise ConfigurationError(f"invalid target URL {mask_url(url)!r}: {exc}") from None
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"the target must be PostgreSQL, not {parsed.get_backend_name()}",
                                 hint="postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    conninfo = libpq_url(parsed)
    return conninfo, mask_url(conninfo)


def _connect_error(exc: psycopg.Error, conninfo: str) -> OutgrowError:
    url = normalize_url(conninfo)
    translated = PostgreSQLDialect(Settings(database_url=None, target_url=None)).translate_error(exc, url)
    return translated or MigrationError(f"PostgreSQL refused: {str(exc).splitlines()[0]}")


def migrate(
    source: Path,
    target_url: str | None = None,
    *,
    dry_run: bool = False,
    schema: str | None = None,
    identifiers: IdentifierStyle = "fold",
    on_error: OnError = "stop",
    rejects_path: Path | None = None,
    replace: bool = False,
    schema_only: bool = False,
    data_only: bool = False,
    fk_not_valid: bool = False,
    owner: str | None = None,
    grant_to: list[str] | None = None,
    collation: str | None = None,
    nocase: str = "auto",
    config: MigrationConfig | None = None,
    progress: Progress | None = None,
    fault: Callable[[str], None] | None = None,
    jobs: int | None = None,
) -> MigrationReport:
    """Migrate ``source`` into the target; exact, verified and atomic, or a MigrationError and no change.

    Options given here win over the same ones in ``config`` (a parsed migrate.toml). ``jobs``: copy worker
    processes (default: ``OUTGROW_MIGRATE_JOBS``, else one per core for a source of :data:`PARALLEL_FROM_BYTES`
    or more; starting a worker costs more than copying a smaller database in-process).
    """
    started = time.perf_counter()
    if schema_only and data_only:
        raise ConfigurationError("--schema-only and --data-only exclude each other")
    config = config or MigrationConfig()
    conninfo, masked = _conninfo(target_url)
    try:
        checks = preflight(conninfo, source)
        facts = target_facts(conninfo)
    except psycopg.Error as exc:
        raise _connect_error(exc, conninfo) from None
    # Copy workers start now, loading their modules while this process plans.
    wanted = 1 if dry_run or schema_only else _jobs(jobs, source)
    with CopyWorkers(wanted) if wanted > 1 else nullcontext() as workers:
        # Stop mode converts every value once, while copying, and stops at the first that cannot be carried; the
        # full list is only worked out (a second plan) when there is one to report.
        check_values = dry_run or on_error == "report" or schema_only
        # Dangling foreign keys likewise: PostgreSQL validates every key after the copy, and a failure (rare, and
        # nothing is written) plans again with the search for the rows to report.
        plan = _plan(source, config, schema, identifiers, facts, collation, nocase, progress, check_values,
                     check_keys=check_values or fk_not_valid)
        if not data_only:
            checks.append(_existing_tables(conninfo, plan, replace))
        failed = [c for c in checks if not c.ok]
        if not data_only and not failed:
            try:
                rehearse(plan, conninfo)  # what PostgreSQL refuses becomes "not carried", before anything is written
            except psycopg.Error as exc:
                raise MigrationError(f"the schema rehearsal on the target failed: {str(exc).splitlines()[0]}",
                                     hint="nothing was written") from None
        report = MigrationReport(plan=plan, target=masked, preflight=checks, dry_run=dry_run, fk_not_valid=fk_not_valid)
        if dry_run:
            report.seconds = time.perf_counter() - started
            return report
        if failed:
            raise MigrationError(f"preflight: {failed[0].name}: {failed[0].detail}", hint=failed[0].hint)
        if on_error == "stop" and not schema_only:
            _stop_on_problems(plan, fk_not_valid)
        options = LoadOptions(on_error=on_error, replace=replace, schema_only=schema_only, data_only=data_only,
                              fk_not_valid=fk_not_valid, owner=owner or config.owner, grants=dict(config.grants),
                              grant_to=list(grant_to or []),
                              before=list(config.before), after=list(config.after), fault=fault)
        try:
            result = load_plan(plan, conninfo, options, rejects_path=rejects_path, progress=progress,
                               workers=workers)
        except RejectFound as found:
            _release(workers)  # their read transactions would block the source's writers while we plan again
            checked = _plan(source, config, schema, identifiers, facts, collation, nocase, None, True)
            if not checked.rejects:
                raise found from None  # the source changed after planning
            _stop_on_problems(checked, fk_not_valid)
            raise
        except psycopg.errors.ForeignKeyViolation as exc:
            _release(workers)
            _stop_on_problems(_plan(source, config, schema, identifiers, facts, collation, nocase, None, True),
                              fk_not_valid)
            raise MigrationError(f"PostgreSQL stopped the migration: {str(exc).splitlines()[0]}",
                                 hint="nothing was changed in the target") from None
        except psycopg.Error as exc:
            raise MigrationError(f"PostgreSQL stopped the migration: {str(exc).splitlines()[0]}",
                                 hint="nothing was changed in the target") from None
        report.tables = result.tables
        report.rejects_written = result.rejects_written
        report.seconds = time.perf_counter() - started
        return report


def _release(workers: CopyWorkers | None) -> None:
    if workers is not None:
        workers.stop(failed=True)


def _jobs(jobs: int | None, source: Path) -> int:
    if jobs is None:
        jobs = Settings().migrate_jobs
    if jobs is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        size = sum(p.stat().st_size for p in (source, source.with_name(source.name + "-wal")) if p.is_file())
        # At most 8: each worker holds a PostgreSQL connection, and the one COPY they feed is the limit.
        jobs = min(cores, 8) if size >= PARALLEL_FROM_BYTES else 1
    return jobs


def _plan(source: Path, config: MigrationConfig, schema: str | None, identifiers: IdentifierStyle,
          facts: TargetFacts, collation: str | None, nocase: str,
          progress: Progress | None, check_values: bool = True, *, check_keys: bool = True) -> MigrationPlan:
    return build_plan(source, schema=schema or config.schema_ or "public", identifiers=identifiers,
                      include=set(config.include) if config.include is not None else None,
                      exclude=set(config.exclude), type_overrides=config.types, target=facts,
                      collation=collation or config.collation, nocase=nocase, skip=config.skip,
                      check_values=check_values, progress=progress, check_keys=check_keys)


def _stop_on_problems(plan: MigrationPlan, fk_not_valid: bool) -> None:
    """Stop mode: any value that cannot be carried (or dangling key) stops the run, every one counted."""
    problems = plan.rejects + ([] if fk_not_valid else plan.dangling)
    if problems:
        first, count = problems[0], plan.rejected + (0 if fk_not_valid else len(plan.dangling))
        raise MigrationError(
            f"{count} values cannot be carried exactly; first: {first.table}.{first.column} at {first.key}: "
            f"{first.value} ({first.reason})",
            hint="nothing was written; --dry-run lists them, --on-error report --rejects FILE loads the rest")


def _existing_tables(conninfo: str, plan: MigrationPlan, replace: bool) -> PreflightCheck:
    with psycopg.connect(conninfo) as pg:
        existing = {row[0] for row in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                                 (plan.schema,))}
    clashes = sorted(t.name for t in plan.tables if t.name in existing)
    detail = (f"{', '.join(clashes)} already in schema {plan.schema!r}" + (" (replaced)" if replace else "")
              if clashes else "none")
    return PreflightCheck("target tables", replace or not clashes, detail,
                          "pass --replace to replace them in the same transaction, or choose another schema")


def verify(source: Path, target_url: str | None = None, *, schema: str | None = None,
           identifiers: IdentifierStyle = "fold", fk_not_valid: bool = False, collation: str | None = None,
           nocase: str = "auto", config: MigrationConfig | None = None) -> list[TableReport]:
    """Compare row counts and content checksums of every table; raise VerificationFailed naming the first
    differing key when they differ. Rows a migration leaves out (a value that cannot be carried, or a
    dangling foreign key unless ``fk_not_valid``) are left out here too."""
    conninfo, _ = _conninfo(target_url)
    config = config or MigrationConfig()
    schema = schema or config.schema_ or "public"
    try:
        facts = target_facts(conninfo)
    except psycopg.Error as exc:
        raise _connect_error(exc, conninfo) from None
    plan = _plan(source, config, schema, identifiers, facts, collation, nocase, None)
    left_out = {r.row for r in plan.rejects + ([] if fk_not_valid else plan.dangling)}
    reports = []
    conn = open_source(source)
    try:
        with psycopg.connect(conninfo) as pg:
            conn.execute("BEGIN")
            for table in plan.tables:
                report = TableReport(table.source.name, table.name)
                for texts in loaded_texts(conn, table, left_out):
                    report.checksum += row_hash(texts)
                    report.rows += 1
                try:
                    count, checksum = pg_checksum(pg, table.columns, schema, table.name)
                except psycopg.errors.UndefinedTable:
                    raise VerificationFailed(f"{table.name} is missing from schema {schema!r}") from None
                except psycopg.errors.Error as exc:
                    raise VerificationFailed(f"{table.name} in schema {schema!r} cannot be read as migrated: "
                                             f"{str(exc).splitlines()[0]}") from None
                if count != report.rows or checksum != report.checksum:
                    raise VerificationFailed(
                        f"{table.source.name}: {count} rows in PostgreSQL, {report.rows} in SQLite; "
                        f"first differing key: {_first_difference(conn, pg, table, schema, left_out)}",
                        hint="the target was changed after the migration, or the source was written to")
                report.verified = True
                reports.append(report)
    except psycopg.OperationalError as exc:
        raise _connect_error(exc, conninfo) from None
    finally:
        conn.close()
    return reports


def _first_difference(conn: Any, pg: psycopg.Connection[Any], table: TablePlan, schema: str,
                      left_out: set[tuple[Any, ...]]) -> str:
    key = [c for c in table.columns if c.source.name in (table.source.primary_key or ())]
    if not key:
        return "(the table has no key: rows differ in content or number)"
    # A multiset of row hashes per key: a duplicated row (a key dropped in the target) shows as a difference.
    source_rows: dict[tuple[Any, ...], Counter[int]] = {}
    for texts in loaded_texts(conn, table, left_out):
        source_rows.setdefault(tuple(texts[table.columns.index(k)] for k in key), Counter())[row_hash(texts)] += 1
    columns = sql.SQL(", ").join(pg_expression(c) for c in table.columns)
    query = sql.SQL("SELECT {} FROM {}.{}").format(columns, sql.Identifier(schema), sql.Identifier(table.name))
    target_rows: dict[tuple[Any, ...], Counter[int]] = {}
    for texts in pg.execute(query):
        target_rows.setdefault(tuple(texts[table.columns.index(k)] for k in key), Counter())[row_hash(list(texts))] += 1
    for row_key in sorted(set(source_rows) | set(target_rows), key=str):
        if source_rows.get(row_key) != target_rows.get(row_key):
            return ", ".join(f"{k.name}={v}" for k, v in zip(key, row_key, strict=True))
    return "(none found row by row)"
