"""``outgrow backup create|list|verify|restore|prune|schedule``: parse, call outgrow.backup, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from outgrow.backup import (
    LocalDirectory,
    Manifest,
    RetentionPolicy,
    create_backup,
    default_directory,
    list_backups,
    litestream_managed,
    prune_backups,
    resolve_database,
    restore_backup,
    source_of,
    verify,
)
from outgrow.backup.schedule import parse_interval, run_schedule
from outgrow.cli.options import JsonOption
from outgrow.cli.render import console, print_json
from outgrow.errors import ConfigurationError

__all__ = ["backup_app"]

backup_app = typer.Typer(help="Online, verified, restorable backups (SQLite and PostgreSQL).", no_args_is_help=True)

DatabaseArgument = Annotated[str | None, typer.Argument(
    help="A SQLite file or a database URL (default: the configured database).", show_default=False)]
DirOption = Annotated[Path | None, typer.Option(
    "--dir", help="The backup directory (default: OUTGROW_BACKUP_DIR, else NAME-backups beside a SQLite file).",
    show_default=False)]
BackupArgument = Annotated[str, typer.Argument(help="A backup id, a unique prefix of one, or 'latest'.")]
KeepLast = Annotated[int, typer.Option("--keep-last", help="Keep the newest N backups.")]
KeepDaily = Annotated[int, typer.Option("--keep-daily", help="Keep the newest backup of each of the last D days.")]
KeepWeekly = Annotated[int, typer.Option("--keep-weekly", help="Keep the newest of each of the last W weeks.")]
MethodOption = Annotated[str, typer.Option("--method", help="SQLite: backup-api (one step) or vacuum-into.")]


def _policy(last: int, daily: int, weekly: int) -> RetentionPolicy:
    try:
        return RetentionPolicy(last, daily, weekly)
    except ValueError as exc:
        raise ConfigurationError(f"retention: {exc}") from None


def _method(method: str) -> Any:
    if method not in ("backup-api", "vacuum-into"):
        raise typer.BadParameter(f"{method!r} is not one of backup-api, vacuum-into", param_hint="--method")
    return method


def _folder(database: str | None, directory: Path | None) -> Path:
    return directory or default_directory(resolve_database(database))


def _summary(manifest: Manifest) -> dict[str, Any]:
    return manifest.model_dump(mode="json")


@backup_app.command("create")
def create_cmd(database: DatabaseArgument = None,
               to: Annotated[Path | None, typer.Option("--to", "--dir", help="The backup directory.",
                                                       show_default=False)] = None,
               method: MethodOption = "backup-api", json_output: JsonOption = False) -> None:
    """Take a consistent snapshot of a live database, check it, compress it, write its manifest."""
    target = resolve_database(database)
    if target.path is not None and target.path.exists() and litestream_managed(target.path) and not json_output:
        console.print("note: this database is managed by Litestream; outgrow's snapshot does not disturb its "
                      "replication (restore it with `litestream restore`)")
    manifest = create_backup(database, to, method=_method(method))
    if json_output:
        print_json(_summary(manifest))
        return
    console.print(f"[green]backup[/] {escape(manifest.id)}: {manifest.size / 2**20:,.1f} MiB -> "
                  f"{manifest.stored_size / 2**20:,.1f} MiB stored, integrity {manifest.integrity}, "
                  f"{manifest.method}, {manifest.duration_seconds:.2f} s, in {escape(str(_folder(database, to)))}")


@backup_app.command("list")
def list_cmd(database: DatabaseArgument = None, directory: DirOption = None, json_output: JsonOption = False) -> None:
    """The backups in the directory, oldest first."""
    manifests = list_backups(LocalDirectory(_folder(database, directory), create=False))
    if json_output:
        print_json([_summary(m) for m in manifests])
        return
    grid = Table("id", "created (UTC)", "engine", "size", "stored", "method", "integrity")
    for m in manifests:
        grid.add_row(escape(m.id), m.created_at.strftime("%Y-%m-%d %H:%M:%S"), m.engine,
                     f"{m.size / 2**20:,.1f} MiB", f"{m.stored_size / 2**20:,.1f} MiB", m.method, m.integrity)
    console.print(grid)


@backup_app.command("verify")
def verify_cmd(backup: BackupArgument, database: DatabaseArgument = None, directory: DirOption = None,
               json_output: JsonOption = False) -> None:
    """Prove a stored backup restores: SQLite re-hash and integrity_check of a decompressed copy; PostgreSQL
    pg_restore --list and a restore into a scratch database with per-table rows and checksums."""
    result = verify(backup, _folder(database, directory), database)
    if json_output:
        print_json({"id": result.manifest.id, "ok": True, "seconds": round(result.seconds, 3),
                    "detail": result.detail})
        return
    console.print(f"[green]verified[/] {escape(result.manifest.id)}: {escape(result.detail)} "
                  f"({result.seconds:.2f} s)")


@backup_app.command("restore")
def restore_cmd(backup: BackupArgument,
                to: Annotated[str | None, typer.Option(
                    "--to", help="SQLite: the file to restore to (default: the original). PostgreSQL: a new "
                                 "database name or URL.", show_default=False)] = None,
                database: Annotated[str | None, typer.Option(
                    "--database", help="Which database's backups (default: the configured one).",
                    show_default=False)] = None,
                directory: DirOption = None,
                live: Annotated[bool, typer.Option(
                    "--live", help="SQLite: restore into the open database through the backup API.")] = False,
                force: Annotated[bool, typer.Option("--force", help="Replace a Litestream-managed file.")] = False,
                discard_current: Annotated[bool, typer.Option(
                    "--discard-current", help="Do not keep a backup of what is replaced.")] = False,
                json_output: JsonOption = False) -> None:
    """Restore a backup atomically; what it replaces is backed up first."""
    result = restore_backup(backup, _folder(database, directory), to, database=database, live=live, force=force,
                            keep_replaced=not discard_current)
    if isinstance(result, str):
        summary: dict[str, Any] = {"database": result}
        text = f"[green]restored[/] into the new database {escape(result)}"
    else:
        summary = {"target": str(result.target), "mode": result.mode, "seconds": round(result.seconds, 3),
                   "replaced_backup": result.replaced.id if result.replaced else None}
        kept = f"; what it replaced is backup {escape(result.replaced.id)}" if result.replaced else ""
        text = f"[green]restored[/] {escape(str(result.target))} ({result.mode}, {result.seconds:.2f} s){kept}"
    if json_output:
        print_json(summary)
    else:
        console.print(text)


@backup_app.command("prune")
def prune_cmd(database: DatabaseArgument = None, directory: DirOption = None, keep_last: KeepLast = 7,
              keep_daily: KeepDaily = 7, keep_weekly: KeepWeekly = 4,
              dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; delete nothing.")] = False,
              all_databases: Annotated[bool, typer.Option(
                  "--all-databases", help="Prune every database's backups in the directory, each separately.")] = False,
              json_output: JsonOption = False) -> None:
    """Delete the backups of the database the retention policy does not keep."""
    source = None if all_databases else source_of(resolve_database(database))
    result = prune_backups(LocalDirectory(_folder(database, directory), create=False),
                           _policy(keep_last, keep_daily, keep_weekly), source=source, dry_run=dry_run)
    if json_output:
        print_json({"kept": [m.id for m in result.kept], "deleted": [m.id for m in result.deleted],
                    "dry_run": dry_run})
        return
    verb = "would delete" if dry_run else "deleted"
    for m in result.deleted:
        console.print(f"{verb} {escape(m.id)}")
    console.print(f"kept {len(result.kept)}, {verb} {len(result.deleted)}")


@backup_app.command("schedule")
def schedule_cmd(database: DatabaseArgument = None, directory: DirOption = None,
                 every: Annotated[str, typer.Option("--every", help="Interval: 90s, 15m, 1h, 1d.")] = "1h",
                 keep_last: KeepLast = 7, keep_daily: KeepDaily = 7, keep_weekly: KeepWeekly = 4,
                 method: MethodOption = "backup-api",
                 count: Annotated[int | None, typer.Option(
                     "--count", help="Stop after N rounds (default: run until stopped).", show_default=False)] = None,
                 metrics_port: Annotated[int | None, typer.Option(
                     "--metrics-port", help="Serve Prometheus metrics on 127.0.0.1:PORT.", show_default=False)] = None,
                 json_output: JsonOption = False) -> None:
    """Create and prune on a schedule; gauges of the last good backup for Prometheus."""
    interval = parse_interval(every)
    policy = _policy(keep_last, keep_daily, keep_weekly)

    def report(manifest: Manifest | None, pruned: Any, failure: Exception | None) -> None:
        if json_output:
            print_json({"backup": manifest.id if manifest else None, "error": str(failure) if failure else None,
                        "deleted": [m.id for m in pruned.deleted] if pruned else []})
        elif failure is not None:
            console.print(f"[red]backup failed:[/] {escape(str(failure))}")
        elif manifest is not None:
            console.print(f"[green]backup[/] {escape(manifest.id)} ({manifest.duration_seconds:.2f} s); "
                          f"pruned {len(pruned.deleted) if pruned else 0}")

    run_schedule(database, directory, interval, policy, method=_method(method), count=count,
                 metrics_port=metrics_port, on_round=report)
