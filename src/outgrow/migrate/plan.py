"""The migration plan: every table, column type (and why), key, index and foreign key, and every value that
will not be carried, decided from the schema *and* the stored values before anything is written."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from outgrow.errors import ConfigurationError, MigrationError
from outgrow.migrate.checks import read_checks
from outgrow.migrate.defaults import translate_default
from outgrow.migrate.expressions import TableScope, Untranslatable, sqlite_affinity
from outgrow.migrate.introspect import ForeignKey, Table, open_source, quote, read_schema
from outgrow.migrate.observe import observe_values
from outgrow.migrate.orphans import dangling_foreign_keys, orphans
from outgrow.migrate.plan_model import (
    MAX_IDENTIFIER_BYTES,
    ColumnPlan,
    IdentifierStyle,
    MigrationPlan,
    Reject,
    TablePlan,
    TargetFacts,
)
from outgrow.migrate.progress import Progress, Ticker
from outgrow.migrate.rows import carried_columns, iter_rows, key_offset, row_identity, row_key
from outgrow.migrate.schema_objects import plan_schema_objects
from outgrow.migrate.table_objects import column_collations, plan_table_objects
from outgrow.migrate.values import INT64_MAX, Rejection, TypeChoice, UntypedRule, escape_value, rule_for

__all__ = [
    "ColumnPlan",
    "IdentifierStyle",
    "MigrationPlan",
    "Reject",
    "TablePlan",
    "TargetFacts",
    "build_plan",
    "target_identifier",
]

@dataclass(frozen=True)
class _Facts:
    citext: bool
    collation: str | None
    text_order_same: bool


def target_identifier(name: str, style: IdentifierStyle) -> str:
    """The PostgreSQL name for a SQLite identifier."""
    if style == "preserve":
        return name
    if style == "snake":
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
        name = re.sub(r"[^0-9A-Za-z_]+", "_", name)
    return name.lower()


def build_plan(
    path: Path,
    *,
    schema: str = "public",
    identifiers: IdentifierStyle = "fold",
    include: set[str] | None = None,
    exclude: set[str] | None = None,
    type_overrides: dict[str, dict[str, str]] | None = None,
    target: TargetFacts | None = None,
    collation: str | None = None,
    nocase: str = "auto",
    skip: list[str] | None = None,
    check_values: bool = True,
    progress: Progress | None = None,
    check_keys: bool = True,
) -> MigrationPlan:
    """Read ``path`` (read-only, one snapshot) and decide everything a migration will do.

    ``target`` describes the server (citext, its collation); ``collation="C"`` gives every text column SQLite's
    byte order; ``nocase`` is citext, lower or auto (citext when the target has it); ``skip`` lists not-carried
    objects the user has reviewed (they no longer fail the run). ``check_values=False`` skips the pass that
    converts every value to find the ones that cannot be carried: a load in stop mode converts each value
    anyway and stops at the first (nothing is written), so it need not be done twice. ``check_keys=False``
    skips the search for rows whose foreign key dangles, for a load that lets PostgreSQL validate the keys
    and plans again, with the search, only when one fails."""
    if collation not in (None, "C"):
        raise ConfigurationError(f"--collation {collation!r}: only C (SQLite's byte order) is offered")
    if nocase not in ("auto", "citext", "lower"):
        raise ConfigurationError(f"--nocase {nocase!r}: one of citext, lower, auto")
    target = target or TargetFacts()
    if nocase == "citext" and not target.citext:
        raise ConfigurationError("--nocase citext: the target server has no citext extension",
                                 hint="install PostgreSQL's contrib package, or use --nocase lower")
    facts = _Facts(citext=target.citext and nocase != "lower", collation=collation,
                   text_order_same=collation == "C" or target.orders_like_sqlite)
    if not path.is_file():
        raise MigrationError(f"no SQLite database at {path}", hint="check the SQLITE_FILE argument")
    conn = open_source(path)
    try:
        conn.execute("BEGIN")  # one read snapshot for the schema and both passes over the values
        source = read_schema(conn, path)
        journal_mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        _check_config_names(source.tables, include, exclude, type_overrides)
        include_lower = {n.lower() for n in include} if include is not None else None
        exclude_lower = {n.lower() for n in exclude or set()}
        tables = [t for t in source.tables
                  if (include_lower is None or t.name.lower() in include_lower) and t.name.lower() not in exclude_lower]
        plan = MigrationPlan(source=path, schema=schema, tables=[], skipped=list(source.skipped),
                             journal_mode=journal_mode)
        names = {t.name: target_identifier(t.name, identifiers) for t in tables}
        _check_identifiers("table", names)
        overrides = {name.lower(): columns for name, columns in (type_overrides or {}).items()}
        for table in tables:
            plan.tables.append(_plan_table(conn, table, names, identifiers, overrides.get(table.name.lower(), {}),
                                           plan, source.tables, facts, progress if check_values else None,
                                           check_values))
        if not facts.text_order_same:
            plan.notes.append(f"text columns order by the database's collation ({target.collation or 'unknown'}), "
                              "not by bytes as in SQLite: ORDER BY and < > on text can differ; --collation C keeps "
                              "SQLite's order")
        _type_empty_foreign_key_columns(plan)
        _follow_citext_parents(plan)
        plan_schema_objects(plan, source, lambda n: target_identifier(n, identifiers), target.server_version,
                            facts.text_order_same)
        _drop_mismatched_foreign_keys(plan)
        # Only the foreign keys that will exist in PostgreSQL decide which rows dangle.
        plan.dangling = dangling_foreign_keys(conn, plan.tables, source.tables) if check_keys else []
        if plan.rejects or plan.dangling:
            plan.dangling += orphans(conn, plan)
        _check_identifiers("index", {f"{t.source.name}.{i.name}": i.name for t in plan.tables for i in t.indexes})
        _apply_reviewed(plan, skip or [])
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise MigrationError(f"cannot read {path}: {exc}", hint="is it a SQLite database?") from None
    finally:
        conn.close()
    return plan


def _plan_table(conn: sqlite3.Connection, table: Table, names: dict[str, str], style: IdentifierStyle,
                overrides: dict[str, str], plan: MigrationPlan, every: list[Table], facts: _Facts,
                progress: Progress | None, check_values: bool = True) -> TablePlan:
    columns = carried_columns(table)
    column_names = {c.name: target_identifier(c.name, style) for c in columns}
    _check_identifiers(f"column of {table.name}", column_names)
    lowered = {name.lower(): declared for name, declared in overrides.items()}
    rules = {c.name: rule_for(lowered.get(c.name.lower(), c.declared)) for c in columns}
    offset = key_offset(table)
    observe_values(conn, table, columns, rules)
    column_plans = [ColumnPlan(source=c, name=column_names[c.name], rule=rules[c.name],
                               choice=rules[c.name].choose()) for c in columns]
    skipped: list[tuple[str, str]] = []
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
        if identity_next > INT64_MAX:
            identity_next = None
            skipped.append((f"identity {alias}", "the counter is at the 64-bit maximum, so it has no next value"))
    remarks: list[str] = []
    citext_columns, nocase = _collations(table, column_plans, facts, skipped, remarks)
    for column_plan in column_plans:
        if not column_plan.identity:
            column_plan.default, problem = translate_default(column_plan.source.default_sql, column_plan.rule,
                                                             column_plan.choice.pg_type)
            if problem:
                skipped.append((f"column {column_plan.source.name}", problem))
    ticker = Ticker(progress, "check", table.name, table.row_count)
    for row in iter_rows(conn, table) if check_values else ():
        for column_plan, value in zip(column_plans, row[offset:], strict=True):
            converted = column_plan.rule.convert(value)
            if value is None and column_plan.not_null:
                converted = Rejection("NULL in a NOT NULL or primary key column")
            if isinstance(converted, Rejection):
                column_plan.rejected += 1
                plan.rejected += 1
                plan.rejects.append(Reject(table.name, row_key(table, row), column_plan.source.name,
                                           escape_value(value), converted.reason, row_identity(table, row)))
        ticker.tick()
    ticker.finish()
    scope = TableScope({p.source.name.lower(): (p.name, p.choice.pg_type) for p in column_plans},
                       text_order_same=facts.text_order_same,
                       affinities={c.name.lower(): sqlite_affinity(c.declared) for c in table.columns},
                       nocase=frozenset(nocase))
    checks = read_checks(table.sql, scope) if "CHECK" in table.sql.upper() else []
    generated_types = {c.name: (target_identifier(c.name, style), rule_for(c.declared).choose().pg_type)
                       for c in table.columns if c.hidden in (2, 3)}
    objects = plan_table_objects(table, names[table.name], scope,
                                 {i.name: target_identifier(i.name, style) for i in table.indexes},
                                 citext_columns, generated_types)
    skipped += [(f"check {c.name}" if c.name else f"check ({c.source})", c.problem) for c in checks if c.problem]
    return TablePlan(
        source=table,
        name=names[table.name],
        columns=column_plans,
        checks=[c for c in checks if c.pg_sql],
        notes=list(dict.fromkeys(remarks + [f"CHECK ({c.source}): {c.note}" for c in checks if c.note]
                                 + objects.notes)),
        primary_key=tuple(column_names[c] for c in table.primary_key),
        uniques=objects.uniques,
        indexes=objects.indexes,
        generated=objects.generated,
        foreign_keys=[_foreign_key(fk, names, style, every) for fk in table.foreign_keys],
        identity_next=identity_next,
        skipped=skipped + objects.problems,
    )


def _collations(table: Table, column_plans: list[ColumnPlan], facts: _Facts, skipped: list[tuple[str, str]],
                notes: list[str]) -> tuple[set[str], set[str]]:
    """NOCASE text columns become citext when the target has it; with --collation C every other text column
    compares bytes like SQLite. Returns the (lowercase) names of the citext columns and of every NOCASE one;
    what changes meaning goes to ``notes`` (NOCASE kept as text) or ``skipped`` (RTRIM)."""
    try:
        declared = column_collations(table.sql)
    except Untranslatable:
        declared = {}  # reported with the table's indexes (outgrow.migrate.table_objects)
    nocase = {name for name, collation in declared.items() if collation == "NOCASE"}
    citext = set()
    for column in column_plans:
        base = column.choice.pg_type.split("(")[0]
        if column.source.name.lower() in nocase and base == "text" and facts.citext:
            column.choice = TypeChoice("citext", column.choice.reason + "; COLLATE NOCASE: citext compares ignoring "
                                                 "case (every letter; SQLite folds ASCII only)")
            citext.add(column.source.name.lower())
        elif base in {"text", "varchar"} and facts.collation == "C":
            column.collation = "C"
        collation = declared.get(column.source.name.lower())
        if collation == "NOCASE" and column.source.name.lower() not in citext:
            notes.append(f"column {column.source.name} is COLLATE NOCASE and stays {column.choice.pg_type}: its "
                         "unique rules hold on lower(); an application's = on it becomes case-sensitive")
        elif collation == "RTRIM":
            skipped.append((f"collation of {column.source.name}", "COLLATE RTRIM (trailing spaces ignored when "
                                                                  "comparing) has no PostgreSQL equivalent"))
    return citext, nocase


def _foreign_key_columns(plan: MigrationPlan) -> Iterator[tuple[ForeignKey, ColumnPlan, ColumnPlan, str]]:
    """Each (foreign key, child column, parent column, parent column's SQLite name) of the planned tables."""
    by_source = {t.source.name.lower(): t for t in plan.tables}
    for table in plan.tables:
        for fk, _ref, _cols, _ref_cols in table.foreign_keys:
            parent = by_source.get(fk.ref_table.lower())
            ref_names = fk.ref_columns or (parent.source.primary_key if parent else ())
            if parent is None or len(ref_names) != len(fk.columns):
                continue
            for column_name, ref_name in zip(fk.columns, ref_names, strict=True):
                column = next((c for c in table.columns if c.source.name.lower() == column_name.lower()), None)
                ref = next((c for c in parent.columns if c.source.name.lower() == ref_name.lower()), None)
                if column is not None and ref is not None:
                    yield fk, column, ref, ref_name


def _type_empty_foreign_key_columns(plan: MigrationPlan) -> None:
    """An untyped column with no values would become text; as a foreign key it must match its parent."""
    for fk, column, ref, ref_name in _foreign_key_columns(plan):
        if isinstance(column.rule, UntypedRule) and all(k == "null" for k in column.rule.classes):
            pg_type = ref.choice.pg_type.removesuffix(" GENERATED BY DEFAULT AS IDENTITY")
            column.choice = TypeChoice(pg_type, f"no declared type and no values; the type of {fk.ref_table}."
                                                f"{ref_name}, which it references")


def _follow_citext_parents(plan: MigrationPlan) -> None:
    """SQLite matches a foreign key with the parent column's collation: a text column referencing a NOCASE
    column that became citext becomes citext too, so the key can exist and matches as before."""
    for fk, column, ref, ref_name in _foreign_key_columns(plan):
        if ref.choice.pg_type == "citext" and column.choice.pg_type == "text":
            column.choice = TypeChoice("citext", column.choice.reason + f"; it references {fk.ref_table}."
                                       f"{ref_name} (COLLATE NOCASE, citext), matched ignoring case")


def _base_type(pg_type: str) -> str:
    """The type family a foreign key compares in: varchar(n) compares as text."""
    base = re.sub(r"\(.*\)", "", pg_type.removesuffix(" GENERATED BY DEFAULT AS IDENTITY")).strip()
    return "text" if base == "varchar" else base


def _drop_mismatched_foreign_keys(plan: MigrationPlan) -> None:
    """A foreign key between columns of different PostgreSQL types cannot be created: list it as not carried."""
    by_target = {t.name: t for t in plan.tables}
    for table in plan.tables:
        kept = []
        for entry in table.foreign_keys:
            _fk, ref_table, columns, ref_columns = entry
            parent = by_target.get(ref_table)
            ref_names = ref_columns or (parent.primary_key if parent else ())
            pairs = []
            if parent is not None and len(ref_names) == len(columns):
                child_types = {c.name: _base_type(c.choice.pg_type) for c in table.columns}
                parent_types = {c.name: _base_type(c.choice.pg_type) for c in parent.columns}
                pairs = [(child_types.get(c), parent_types.get(r)) for c, r in zip(columns, ref_names, strict=True)]
            if any(a != b for a, b in pairs):
                shown = ", ".join(f"{a} vs {b}" for a, b in pairs if a != b)
                table.skipped.append((f"foreign key ({', '.join(columns)})", f"-> {ref_table}: the column types "
                                      f"differ ({shown}), so PostgreSQL cannot enforce it"))
            else:
                kept.append(entry)
        table.foreign_keys = kept


def _foreign_key(fk: ForeignKey, names: dict[str, str], style: IdentifierStyle, every: list[Table]
                 ) -> tuple[ForeignKey, str, tuple[str, ...], tuple[str, ...]]:
    # SQLite matches the referenced table and columns case-insensitively; PostgreSQL needs their real names.
    parent = next((t for t in every if t.name.lower() == fk.ref_table.lower()), None)
    parent_name = parent.name if parent else fk.ref_table
    parent_columns = {c.name.lower(): c.name for c in parent.columns} if parent else {}
    ref_columns = tuple(parent_columns.get(c.lower(), c) for c in fk.ref_columns)
    return (fk, names.get(parent_name, target_identifier(parent_name, style)),
            tuple(target_identifier(c, style) for c in fk.columns),
            tuple(target_identifier(c, style) for c in ref_columns))


def _check_config_names(tables: list[Table], include: set[str] | None, exclude: set[str] | None,
                        type_overrides: dict[str, dict[str, str]] | None) -> None:
    """A migrate.toml name that matches nothing is a mistake, never silently ignored."""
    known = {t.name.lower(): t for t in tables}
    for key, names in (("include", include or set()), ("exclude", exclude or set()),
                       ("types", set(type_overrides or {}))):
        for name in sorted(names):
            if name.lower() not in known:
                raise ConfigurationError(f"migrate.toml {key}: no table {name!r} in the SQLite database",
                                         hint=f"tables: {', '.join(sorted(t.name for t in tables))}")
    for table_name, columns in (type_overrides or {}).items():
        present = {c.name.lower() for c in known[table_name.lower()].columns}
        for column in sorted(columns):
            if column.lower() not in present:
                raise ConfigurationError(f"migrate.toml types.{table_name}: no column {column!r}")


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


def _apply_reviewed(plan: MigrationPlan, skip: list[str]) -> None:
    """Move what migrate.toml's ``skip`` names out of the not-carried lists (they set exit code 3) into
    ``plan.reviewed``. An entry naming nothing is a mistake, never ignored."""
    wanted = {entry.strip() for entry in skip}
    found = set()
    for table in plan.tables:
        kept = []
        for what, why in table.skipped:
            ident = f"{table.source.name} {what}"
            if ident in wanted:
                found.add(ident)
                plan.reviewed.append(f"{ident}: {why}")
            else:
                kept.append((what, why))
        table.skipped = kept
    remaining = []
    for kind, name, why in plan.skipped:
        ident = f"{kind} {name}"
        if ident in wanted:
            found.add(ident)
            plan.reviewed.append(f"{ident}: {why}")
        else:
            remaining.append((kind, name, why))
    plan.skipped = remaining
    unknown = sorted(wanted - found)
    if unknown:
        raise ConfigurationError(f"migrate.toml skip: {unknown[0]!r} names nothing that is not carried",
                                 hint="use the names --dry-run prints after 'not carried:'")
