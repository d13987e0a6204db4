"""``outgrow demo``: build the reference multi-tenant database, seed it, send it traffic, show info."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import make_url

from outgrow.cli.info_command import render_info
from outgrow.cli.monitor_command import render_slow, render_status, snapshot_json
from outgrow.cli.options import JsonOption
from outgrow.cli.render import console, error_console, print_json
from outgrow.demo import DemoReport, SeedPlan, prepare_directory, run_demo
from outgrow.urls import libpq_url, mask_url

__all__ = ["demo"]


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the demo database.")] = Path("outgrow-demo"),
    organizations: Annotated[int, typer.Option(min=1, help="Organizations (tenants) to create.")] = 200,
    events: Annotated[int, typer.Option(min=0, help="Event rows to seed.")] = 100_000,
    traffic: Annotated[int, typer.Option(min=0, help="Operations of mixed traffic to run.")] = 2000,
    migrate: Annotated[bool, typer.Option("--migrate/--no-migrate",
                                          help="Migrate the database into the embedded PostgreSQL.")] = True,
    json_output: JsonOption = False,
) -> None:
    """Create DIR/app.db with the reference multi-tenant schema, seed it fast, run mixed traffic, show info."""
    plan = SeedPlan(organizations=organizations, events=events)
    prepare_directory(directory)  # a bad --dir fails before any progress bar is drawn
    progress = Progress(
        TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=error_console, disable=json_output, transient=False,
    )
    with progress:
        seeding = progress.add_task("seeding", total=plan.total_rows)
        running = progress.add_task("traffic", total=traffic, start=False)
        migrating = progress.add_task("migrating", total=None, start=False, visible=migrate)

        def on_migrate(n: int) -> None:
            progress.start_task(migrating)
            progress.advance(migrating, n)


        def on_traffic(n: int) -> None:
            progress.start_task(running)
            progress.advance(running, n)

        report = run_demo(
            directory, plan, traffic_operations=traffic,
            seed_progress=lambda n: progress.advance(seeding, n), traffic_progress=on_traffic,
            migrate_to_postgres=migrate, migrate_progress=on_migrate,
        )
    if json_output:
        print_json(_as_dict(report))
        return
    _render(report)


def _as_dict(report: DemoReport) -> dict[str, Any]:
    return {
        "database": str(report.database),
        "seconds": round(report.seconds, 3),
        "seed": {"rows": report.seed.rows, "seconds": round(report.seed.seconds, 3),
                 "rows_per_s": round(report.seed.rows_per_s),
                 "checkpoint_seconds": round(report.seed.checkpoint_seconds, 3)},
        "traffic": {
            "operations": report.traffic.operations, "seconds": round(report.traffic.seconds, 3),
            "operations_per_s": round(report.traffic.operations_per_s), "errors": report.traffic.errors,
            "budget_increments": report.traffic.budget_increments, "lost_updates": report.traffic.lost_updates,
            "latency": report.traffic.summary(),
        },
        "info": report.info.to_dict(),
        "monitoring": None if report.monitoring is None else {
            "metrics": snapshot_json(report.monitoring.metrics),
            "slow": [asdict(q) for q in report.monitoring.slow],
            "alerts": [e.to_dict() for e in report.monitoring.alerts],
            "refused_writes": report.monitoring.refused_writes,
        },
        "backup": None if report.backup is None else {
            "id": report.backup.manifest.id, "size": report.backup.manifest.size,
            "stored_size": report.backup.manifest.stored_size,
            "backup_seconds": report.backup.manifest.duration_seconds,
            "verify_seconds": round(report.backup.verify_seconds, 3),
            "restore_seconds": round(report.backup.restore_seconds, 3), "restored": str(report.backup.restored),
            "same_rows": report.backup.same_rows,
        },
        "migration": None if report.migration is None else {
            "postgres_url": mask_url(report.postgres_url or ""),
            "seconds": round(report.migration.seconds, 3),
            "tables": [{"table": t.target, "rows": t.rows, "verified": t.verified,
                        "copy_seconds": round(t.seconds, 3)} for t in report.migration.tables],
            "exit_code": report.migration.exit_code,
        },
    }


def _libpq_url(url: str) -> str:
    """The URL as psql takes it: plain postgresql://, the socket folder readable, the password masked."""
    return mask_url(unquote(libpq_url(make_url(url))))


def _render(report: DemoReport) -> None:
    seed = report.seed
    console.print(f"[bold]{report.database}[/]: seeded {seed.total_rows:,} rows in {seed.seconds:.2f}s "
                  f"([bold]{seed.rows_per_s:,.0f} rows/s[/]); WAL checkpoint {seed.checkpoint_seconds:.2f}s")
    traffic = report.traffic
    table = Table("operation", "count", "p50 ms", "p95 ms",
                  title=f"Traffic: {traffic.operations:,} operations in {traffic.seconds:.2f}s "
                        f"({traffic.operations_per_s:,.0f}/s), {len(traffic.errors)} errors, "
                        f"{traffic.lost_updates} lost updates",
                  title_justify="left")
    for kind, row in traffic.summary().items():
        table.add_row(kind, f"{row['count']:.0f}", f"{row['p50_ms']:.2f}", f"{row['p95_ms']:.2f}")
    console.print(table)
    render_info(report.info)
    if report.monitoring is not None:
        monitoring = report.monitoring
        console.rule("monitoring (demo thresholds: slow from 5 ms, size alert over 10 MB)")
        render_status(monitoring.metrics)
        console.print(f"contention burst: {monitoring.refused_writes} writes met a locked database "
                      "(busy_timeout 1 ms) while another connection held the write lock")
        render_slow(monitoring.slow)
        for event in monitoring.alerts:
            console.print(f"[red]alert {event.state}[/]: {escape(event.message)}")
    if report.backup is not None:
        drill = report.backup
        console.print(f"[bold]backed up[/] {drill.manifest.size / 2**20:.1f} MiB -> "
                      f"{drill.manifest.stored_size / 2**20:.1f} MiB in {drill.manifest.duration_seconds:.2f}s "
                      f"(integrity {drill.manifest.integrity}); verified in {drill.verify_seconds:.2f}s; restored to "
                      f"{escape(str(drill.restored))} in {drill.restore_seconds:.2f}s, "
                      + ("[green]same rows in every table[/]" if drill.same_rows else "[red]row counts differ[/]"))
    if report.migration is not None:
        migration = report.migration
        rows = sum(t.rows for t in migration.tables)
        verified = all(t.verified for t in migration.tables)
        console.print(f"[bold]migrated[/] {rows:,} rows in {len(migration.tables)} tables into the embedded "
                      f"PostgreSQL in {migration.seconds:.1f}s; "
                      + ("[green]every table verified[/] (row count and content checksum)" if verified
                         else "[red]verification failed[/]"))
        console.print(f"  psql '{escape(_libpq_url(report.postgres_url or ''))}'")
    console.print(f"done in {report.seconds:.1f}s. Next: `outgrow info --url sqlite:///{report.database}`")
