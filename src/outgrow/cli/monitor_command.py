"""``outgrow monitor status|slow|alerts|run``: parse, call outgrow.monitor, render."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from outgrow.cli.options import JsonOption, load_settings
from outgrow.cli.render import console, print_json
from outgrow.errors import ConfigurationError
from outgrow.monitor.metrics import collect_metrics, history_path_for
from outgrow.monitor.slow import SlowQuery, slow_queries
from outgrow.monitor.snapshot import LatencySummary, MetricsSnapshot
from outgrow.settings import Settings

__all__ = ["monitor_app", "snapshot_json"]

monitor_app = typer.Typer(help="Size, query latency, connections and write contention; slow queries; alerts.",
                          no_args_is_help=True)

DatabaseArgument = Annotated[str | None, typer.Argument(
    help="A SQLite file or a database URL (default: the configured database).", show_default=False)]
WindowOption = Annotated[float | None, typer.Option(
    "--window", help="Seconds of history to cover (default: status 300, slow everything kept).", show_default=False)]


def _settings(database: str | None) -> Settings:
    if database is None:
        return load_settings()
    if "://" not in database:
        path = Path(database)
        if not path.exists():
            raise ConfigurationError(f"no SQLite database at {path}", hint="check the path")
        return load_settings(f"sqlite:///{path}")
    return load_settings(database)


@monitor_app.command("status")
def status_cmd(database: DatabaseArgument = None, window: WindowOption = None, json_output: JsonOption = False
               ) -> None:
    """The seed's four metrics now: database size, query performance, connections, write contention."""
    snapshot = collect_metrics(_settings(database), window_s=window if window is not None else 300.0)
    if json_output:
        print_json(snapshot_json(snapshot))
        return
    render_status(snapshot)


def render_status(snapshot: MetricsSnapshot) -> None:
    span = f"last {snapshot.window_s:.0f} s" if snapshot.window_s else "since the probes started"
    console.print(f"[bold]{escape(snapshot.database)}[/bold] ({snapshot.engine}), statements over the {span}, "
                  f"{snapshot.processes} probed process(es)")
    wal = f", WAL {_mb(snapshot.wal_bytes)}" if snapshot.wal_bytes is not None else ""
    free = f", {snapshot.free_pages} free pages" if snapshot.free_pages is not None else ""
    console.print(f"size: {_mb(snapshot.size_bytes)}{wal}{free}")
    table = Table("operation", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", title="query performance")
    for name, summary in [("all", snapshot.statements), *snapshot.by_operation.items()]:
        table.add_row(name, str(summary.count), str(summary.errors), _ms(summary.p50_s), _ms(summary.p95_s),
                      _ms(summary.p99_s), _ms(summary.max_s))
    console.print(table)
    c = snapshot.connections
    size = c.pool_size if c.pool_size is not None else "-"
    console.print(f"connections: {c.used} in use, {c.idle} idle, pool size {size}, {c.waiting} waiting; "
                  f"{c.checkouts} checkouts, wait p95 {_ms(c.wait_p95_s)} ms")
    w = snapshot.contention
    rate = f"{w.busy_rate:.2%}" if w.busy_rate is not None else "-"
    console.print(f"write contention: {w.busy_events} busy/locked events in {w.write_transactions} write transactions "
                  f"({rate}), lock wait p95 {_ms(w.lock_wait_p95_s)} ms, write transaction p99 "
                  f"{_ms(w.write_transaction_p99_s)} ms")
    if snapshot.writes_per_s is not None:
        console.print(f"writes: {snapshot.writes_per_s:.1f}/s")
    if snapshot.server is not None:
        s = snapshot.server
        console.print(f"server: {s.connections} connections of {s.max_connections} ({s.active} active, {s.idle} idle, "
                      f"{s.idle_in_transaction} idle in transaction), {s.waiting_for_locks} waiting for locks")


@monitor_app.command("slow")
def slow_cmd(database: DatabaseArgument = None, window: WindowOption = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most N fingerprints.")] = 20,
             threshold_ms: Annotated[float | None, typer.Option(
                 "--threshold-ms", help="Slow from this many ms (default: OUTGROW_SLOW_QUERY_MS).",
                 show_default=False)] = None,
             everything: Annotated[bool, typer.Option("--all", help="List fast fingerprints too.")] = False,
             json_output: JsonOption = False) -> None:
    """Slow statements by fingerprint: count, total, mean, p95, max, last seen, masked sample, plan, index hint."""
    found = slow_queries(_settings(database), window_s=window, threshold_ms=threshold_ms, limit=limit,
                         everything=everything)
    if json_output:
        print_json([asdict(q) for q in found])
        return
    render_slow(found)


def render_slow(found: list[SlowQuery]) -> None:
    if not found:
        console.print("no slow statements recorded")
        return
    for query in found:
        seen = datetime.fromtimestamp(query.last_seen, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        console.print(f"[bold]{query.operation}[/bold] {escape(query.text)}")
        console.print(f"  {query.count} calls, total {query.total_s * 1000:.0f} ms, mean {query.mean_s * 1000:.1f} ms, "
                      f"p95 {query.p95_s * 1000:.1f} ms, max {query.max_s * 1000:.1f} ms, last seen {seen}"
                      + (f", {query.errors} errors" if query.errors else ""))
        if query.sample:
            console.print(f"  sample parameters: {escape(query.sample)}")
        if query.plan:
            for line in query.plan.splitlines():
                console.print(f"  plan: {escape(line)}")
        elif query.plan_error:
            console.print(f"  plan not captured: {escape(query.plan_error)}")
        for hint in query.hints:
            console.print(f"  [yellow]hint:[/yellow] {escape(str(hint.get('text', '')))}")


@monitor_app.command("alerts")
def alerts_cmd(database: DatabaseArgument = None, json_output: JsonOption = False) -> None:
    """Each alert rule's state (inactive, pending, firing) and the latest alert events."""
    from outgrow.monitor.history import HistoryStore
    from outgrow.monitor.watch import alert_states

    settings = _settings(database)
    path = history_path_for(settings)
    if path is None or not path.exists():
        raise ConfigurationError("no monitoring history for this database",
                                 hint="run the application with outgrow.connect(), or outgrow monitor run")
    store = HistoryStore(path)
    evaluator = alert_states(store, settings)
    events = store.alert_events(50)
    if json_output:
        print_json({"rules": [{"rule": r.name, "metric": r.metric, "threshold": r.threshold, "for_s": r.for_s,
                               **s.to_dict()} for r, s in zip(evaluator.rules, evaluator.states, strict=True)],
                    "events": [dict(zip(("at", "rule", "state", "value", "threshold", "message"), e, strict=True))
                               for e in events]})
        return
    table = Table("rule", "state", "since", "threshold", "for", title="alert rules")
    for rule, current in zip(evaluator.rules, evaluator.states, strict=True):
        since = datetime.fromtimestamp(current.since, UTC).strftime("%H:%M:%S") if current.since else "-"
        table.add_row(rule.name, current.state, since, f"{rule.threshold:g}", f"{rule.for_s:g} s")
    console.print(table)
    for at, _rule, state, _value, _threshold, message in events[:10]:
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        console.print(f"{stamp} {state}: {escape(message)}")


@monitor_app.command("run")
def run_cmd(database: DatabaseArgument = None,
            host: Annotated[str | None, typer.Option("--host", help="Address of /metrics (default "
                                                     "OUTGROW_METRICS_HOST, 127.0.0.1).", show_default=False)] = None,
            port: Annotated[int | None, typer.Option("--port", help="Port of /metrics (default OUTGROW_METRICS_PORT, "
                                                     "9464; 0: no exporter).", show_default=False)] = None,
            emit: Annotated[str | None, typer.Option("--emit", help="Also write each sample as emf (CloudWatch "
                                                     "Embedded Metric Format JSON lines).", show_default=False)] = None,
            emf_file: Annotated[Path | None, typer.Option("--emf-file", help="Append EMF lines to this file instead "
                                                          "of stdout.", show_default=False)] = None,
            samples: Annotated[int | None, typer.Option("--samples", min=1, help="Stop after N samples (default: "
                                                        "run until interrupted).", show_default=False)] = None) -> None:
    """Sample into the history every OUTGROW_MONITOR_SAMPLE_S, evaluate the alerts, serve /metrics."""
    from outgrow.monitor.runner import run_monitor

    if emit not in (None, "emf"):
        raise typer.BadParameter(f"{emit!r}: the only format is emf", param_hint="--emit")
    settings = _settings(database)
    run_monitor(settings, host=host, port=port, emf=emit == "emf", emf_file=emf_file, samples=samples,
                say=lambda line: console.print(escape(line)))


def snapshot_json(snapshot: MetricsSnapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data (histograms left out; percentiles in seconds)."""
    def summary(s: LatencySummary) -> dict[str, Any]:
        return {k: v for k, v in asdict(s).items() if k != "histogram"}

    data = {k: v for k, v in asdict(snapshot).items() if k not in ("statements", "by_operation", "connections",
                                                                   "contention", "durations")}
    data["statements"] = summary(snapshot.statements)
    data["by_operation"] = {name: summary(s) for name, s in snapshot.by_operation.items()}
    data["connections"] = {k: v for k, v in asdict(snapshot.connections).items() if k != "wait_histogram"}
    data["contention"] = {k: v for k, v in asdict(snapshot.contention).items() if not k.endswith("_histogram")}
    data["taken_at_iso"] = datetime.fromtimestamp(snapshot.taken_at, UTC).isoformat()
    return data


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}"

