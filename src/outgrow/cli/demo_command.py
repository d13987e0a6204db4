"""``outgrow demo``: build the reference multi-tenant database, seed it, send it traffic, show info."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from outgrow.cli.info_command import render_info
from outgrow.cli.options import JsonOption
from outgrow.cli.render import console, error_console, print_json
from outgrow.demo import DemoReport, SeedPlan, prepare_directory, run_demo

__all__ = ["demo"]


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the demo database.")] = Path("outgrow-demo"),
    organizations: Annotated[int, typer.Option(min=1, help="Organizations (tenants) to create.")] = 200,
    events: Annotated[int, typer.Option(min=0, help="Event rows to seed.")] = 100_000,
    traffic: Annotated[int, typer.Option(min=0, help="Operations of mixed traffic to run.")] = 2000,
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

        def on_traffic(n: int) -> None:
            progress.start_task(running)
            progress.advance(running, n)

        report = run_demo(
            directory, plan, traffic_operations=traffic,
            seed_progress=lambda n: progress.advance(seeding, n), traffic_progress=on_traffic,
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
    }


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
    console.print(f"done in {report.seconds:.1f}s. Next: `outgrow info --url sqlite:///{report.database}`")
