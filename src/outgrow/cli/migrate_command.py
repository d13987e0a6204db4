"""``outgrow migrate`` and ``outgrow verify``: parse, call outgrow.migrate, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from outgrow.cli.migrate_progress import MigrationProgress
from outgrow.cli.options import JsonOption
from outgrow.cli.render import console, print_json
from outgrow.migrate import MigrationReport, migrate, verify
from outgrow.migrate.config import load_config

__all__ = ["migrate_cmd", "verify_cmd"]

SourceArgument = Annotated[Path, typer.Argument(help="The SQLite database file (opened read-only).",
                                                show_default=False)]
TargetArgument = Annotated[str | None, typer.Argument(help="postgresql://USER:PASSWORD@HOST:PORT/DB "
                                                           "(default: OUTGROW_TARGET_URL).", show_default=False)]
SchemaOption = Annotated[str | None, typer.Option("--schema", help="Target schema (default public).",
                                                   show_default=False)]
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="migrate.toml: tables, type overrides, SQL, owner, grants.", show_default=False)]
FkNotValidOption = Annotated[bool, typer.Option(
    "--fk-not-valid", help="Keep rows with dangling foreign keys; load the FK NOT VALID.")]
IdentifiersOption = Annotated[
    str, typer.Option("--identifiers", help="fold (lowercase), preserve or snake.")]
NocaseOption = Annotated[str, typer.Option(
    "--nocase", help="COLLATE NOCASE columns: citext, lower (unique on lower(col)), auto.")]
CollationOption = Annotated[str | None, typer.Option(
    "--collation", help="C: text columns compare bytes, as in SQLite (ORDER BY, <, >).", show_default=False)]


def migrate_cmd(
    source: SourceArgument,
    target: TargetArgument = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and stop.")] = False,
    config: ConfigOption = None,
    schema: SchemaOption = None,
    identifiers: IdentifiersOption = "fold",
    schema_only: Annotated[bool, typer.Option("--schema-only", help="Create the empty tables only.")] = False,
    data_only: Annotated[bool, typer.Option("--data-only", help="Load into existing empty tables.")] = False,
    owner: Annotated[str | None, typer.Option("--owner", help="Make this role own the migrated tables.",
                                              show_default=False)] = None,
    grant_to: Annotated[list[str] | None, typer.Option(
        "--grant-to", help="Give this application role SELECT, INSERT, UPDATE, DELETE (repeatable).",
        show_default=False)] = None,
    on_error: Annotated[str, typer.Option("--on-error", help="stop, or report: load the good rows.")] = "stop",
    rejects: Annotated[Path | None, typer.Option("--rejects", help="Write rejected values here (JSON Lines).",
                                                  show_default=False)] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace tables already in the target.")] = False,
    fk_not_valid: FkNotValidOption = False,
    collation: CollationOption = None,
    nocase: NocaseOption = "auto",
    jobs: Annotated[int | None, typer.Option(
        "--jobs", min=1, help="Copy worker processes (default: one per core for a source of 48 MiB or more).",
        show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Migrate SQLITE_FILE into PostgreSQL: exact types, every value carried or reported, verified, atomic."""
    style = _choice(identifiers, ("fold", "preserve", "snake"), "--identifiers")
    mode = _choice(on_error, ("stop", "report"), "--on-error")
    with MigrationProgress(quiet=json_output) as progress:
        report = migrate(source, target, dry_run=dry_run, schema=schema, identifiers=style,  # type: ignore[arg-type]
                         on_error=mode, rejects_path=rejects, replace=replace,  # type: ignore[arg-type]
                         schema_only=schema_only, data_only=data_only, fk_not_valid=fk_not_valid, owner=owner,
                         grant_to=grant_to, collation=_collation(collation),
                         nocase=_choice(nocase, ("auto", "citext", "lower"), "--nocase"),
                         config=load_config(config) if config is not None else None,
                         progress=progress, jobs=jobs)
    if json_output:
        print_json(report.to_dict())
    else:
        _render(report)
    if report.exit_code:  # a dry run too: 3 says "this would not carry everything", for scripts and CI
        raise typer.Exit(report.exit_code)


def verify_cmd(
    source: SourceArgument,
    target: TargetArgument = None,
    config: ConfigOption = None,
    schema: SchemaOption = None,
    identifiers: IdentifiersOption = "fold",
    fk_not_valid: FkNotValidOption = False,
    collation: CollationOption = None,
    nocase: NocaseOption = "auto",
    json_output: JsonOption = False,
) -> None:
    """Compare row counts and content checksums of SQLITE_FILE and its migrated copy (give the migration's
    --config, --schema, --identifiers and --fk-not-valid)."""
    style = _choice(identifiers, ("fold", "preserve", "snake"), "--identifiers")
    reports = verify(source, target, schema=schema, identifiers=style,  # type: ignore[arg-type]
                     fk_not_valid=fk_not_valid, collation=_collation(collation),
                     nocase=_choice(nocase, ("auto", "citext", "lower"), "--nocase"),
                     config=load_config(config) if config is not None else None)
    if json_output:
        print_json([{"table": r.target, "rows": r.rows, "verified": r.verified} for r in reports])
        return
    for r in reports:
        console.print(f"[green]verified[/] {escape(r.target)}: {r.rows:,} rows, same content")


def _collation(value: str | None) -> str | None:
    if value is not None and value != "C":
        raise typer.BadParameter(f"{value!r}: only C (SQLite's byte order) is offered", param_hint="--collation")
    return value


def _choice(value: str, allowed: tuple[str, ...], option: str) -> Literal["fold", "preserve", "snake", "stop",
                                                                        "report", "auto", "citext", "lower"]:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)
    return value  # type: ignore[return-value]


def _render(report: MigrationReport) -> None:
    plan = report.plan
    for check in report.preflight:
        mark = "[green]ok[/]" if check.ok else f"[red]FAILED[/] ({escape(check.hint)})"
        console.print(f"preflight: {check.name}: {escape(check.detail)} {mark}")
    for table in plan.tables:
        title = f"{table.source.name} -> {plan.schema}.{table.name}: {table.source.row_count:,} rows"
        grid = Table("column", "SQLite declares", "PostgreSQL type", "why", "rejected", title=escape(title),
                     title_justify="left")
        for c in table.columns:
            grid.add_row(escape(c.name), escape(c.source.declared or "(none)"),
                         escape(c.choice.pg_type + (" NOT NULL" if c.not_null else "")), escape(c.choice.reason),
                         str(c.rejected or ""))
        console.print(grid)
        extras = [f"primary key ({', '.join(table.primary_key)})"] if table.primary_key else []
        extras += [f"unique ({', '.join(u)})" for u in table.uniques]
        extras += [escape(i.describe()) for i in table.indexes]
        extras += [f"generated {escape(g.name)} AS ({escape(g.source)}) -> {escape(g.expression)} STORED"
                   for g in table.generated]
        extras += [f"foreign key ({', '.join(cols)}) -> {ref} on delete {fk.on_delete.lower()}"
                   for fk, ref, cols, _rc in table.foreign_keys]
        extras += [f"check {escape(c.source)} -> {escape(c.pg_sql or '')}" for c in table.checks]
        extras += [f"note: {escape(n)}" for n in table.notes]
        extras += [f"[yellow]not carried:[/] {escape(table.source.name)} {escape(what)}: {escape(why)}"
                   for what, why in table.skipped]
        for line in extras:
            console.print(f"  {line}")
    for planned in plan.objects:
        console.print(f"{planned.kind} {escape(planned.name)} -> {escape(plan.schema)}.{escape(planned.target)}")
        if report.dry_run:
            for statement in planned.statements:
                console.print(f"  {escape(statement)}", highlight=False, soft_wrap=True)  # SQL stays copyable
        for note in planned.notes:
            console.print(f"  note: {escape(note)}")
    for kind, name, reason in plan.skipped:
        console.print(f"[yellow]not carried:[/] {kind} {escape(name)}: {escape(reason)}")
    for line in plan.reviewed:
        console.print(f"reviewed, not carried (migrate.toml skip): {escape(line)}")
    for note in plan.notes:
        console.print(f"note: {escape(note)}")
    for reject in (plan.rejects + plan.dangling)[:20]:
        console.print(f"[red]rejected[/] {escape(reject.table)}.{escape(reject.column)} {reject.key}: "
                      f"{escape(reject.value)} ({escape(reject.reason)})")
    if report.rejected > 20:
        console.print(f"... {report.rejected - 20} more rejected values (--json or --rejects FILE lists them all)")
    if report.dry_run:
        console.print(f"source snapshot: {escape(plan.snapshot_cost)}")
        console.print(f"dry run: nothing written. {plan.rows:,} rows in {len(plan.tables)} tables, "
                      f"{report.rejected} values that cannot be carried.")
        return
    loaded = sum(t.rows for t in report.tables)
    console.print(f"[bold green]migrated[/] {loaded:,} rows in {len(report.tables)} tables to {escape(report.target)} "
                  f"in {report.seconds:.1f}s; every table verified (row count and content checksum)")
