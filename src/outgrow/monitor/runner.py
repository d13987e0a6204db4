"""``outgrow monitor run``: the sampler, the alert rules and a /metrics exporter, in one process.

Applications' probes flush into the history on their own; this process samples the database on schedule
(also when no application is running, so the size history has no holes), evaluates the alerts, serves
``/metrics`` on 127.0.0.1 by default, and optionally writes each sample as CloudWatch EMF lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import start_http_server

from outgrow.errors import ConfigurationError
from outgrow.monitor.exporter import metrics_registry
from outgrow.monitor.history import HistoryStore
from outgrow.monitor.metrics import MonitorTarget, collect_metrics, history_path_for
from outgrow.monitor.recorder import sample_history
from outgrow.settings import Settings

__all__ = ["run_monitor"]


def run_monitor(settings: Settings, *, host: str | None = None, port: int | None = None, emf: bool = False,
                emf_file: Path | None = None, samples: int | None = None, say: Callable[[str], None] = print,
                stop: threading.Event | None = None) -> int:
    """Sample every ``monitor_sample_s`` until ``samples`` were taken or ``stop`` is set; returns samples taken."""
    from outgrow.engine import connect
    from outgrow.monitor.emf import EmfWriter

    path = history_path_for(settings)
    if path is None:
        raise ConfigurationError("no history path for a PostgreSQL database",
                                 hint="set OUTGROW_HISTORY_PATH (the same file the application's probes write to)")
    db = connect(settings.model_copy(update={"monitor_enabled": False}), create=False)
    store = HistoryStore(path)
    target = MonitorTarget(db.engine, db.dialect, None, store, db.engine.url.database or settings.masked_url())
    host = host if host is not None else settings.metrics_host
    port = port if port is not None else settings.metrics_port
    server = None
    if port:
        try:
            server, _thread = start_http_server(port, addr=host, registry=metrics_registry(target))
        except OSError as exc:
            db.close()
            raise ConfigurationError(f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc}",
                                     hint="another process has the port: choose another with --port or "
                                          "OUTGROW_METRICS_PORT (0: no exporter)") from None
        say(f"serving /metrics on http://{host}:{server.server_port}/metrics")
    writer = EmfWriter(emf_file) if emf else None
    stop = stop or threading.Event()
    taken = 0
    try:
        while True:
            now = time.time()
            events = sample_history(store, db.engine, db.dialect, settings, now)
            if events is not None:
                taken += 1
                snapshot = collect_metrics(target, window_s=settings.monitor_sample_s, now=now)
                p95 = snapshot.statements.p95_s
                say(f"sample {taken}: {snapshot.size_bytes / 1e6:.1f} MB, {snapshot.statements.count} statements, "
                    f"p95 {'-' if p95 is None else f'{p95 * 1000:.1f} ms'}, "
                    f"{snapshot.contention.busy_events} busy events")
                for event in events:
                    say(f"alert {event.state}: {event.message}")
                if writer is not None:
                    writer.write(snapshot)
            if samples is not None and taken >= samples:
                return taken
            if stop.wait(settings.monitor_sample_s):
                return taken
    finally:
        if server is not None:
            server.shutdown()
        db.close()
