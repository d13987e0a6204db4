"""``outgrow backup schedule``: create and prune on a fixed interval, with Prometheus gauges of the last good
backup (the alert rule in ``deploy/prometheus/outgrow-backup-rules.yml`` fires when it is older than twice the
interval)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from outgrow.backup.catalog import PruneResult, prune_backups
from outgrow.backup.destination import LocalDirectory
from outgrow.backup.manifest import Manifest
from outgrow.backup.retention import RetentionPolicy
from outgrow.backup.service import create_backup, default_directory, resolve_database
from outgrow.backup.sqlite_backup import Method
from outgrow.errors import ConfigurationError, OutgrowError

__all__ = ["BackupMetrics", "parse_interval", "run_schedule"]

log = logging.getLogger("outgrow.backup")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``1d`` (or a bare number of seconds) in seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise ConfigurationError(f"--every {text!r}: expected a positive duration such as 90s, 15m, 1h or 1d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


@dataclass
class BackupMetrics:
    registry: CollectorRegistry
    last_success: Gauge
    last_duration: Gauge
    last_size: Gauge
    interval: Gauge
    failures: Counter

    @classmethod
    def create(cls) -> BackupMetrics:
        registry = CollectorRegistry()
        return cls(
            registry,
            Gauge("outgrow_backup_last_success_timestamp_seconds", "Unix time of the last backup that was created "
                  "and checked", ["database"], registry=registry),
            Gauge("outgrow_backup_last_duration_seconds", "How long the last good backup took", ["database"],
                  registry=registry),
            Gauge("outgrow_backup_last_size_bytes", "Stored size of the last good backup", ["database"],
                  registry=registry),
            Gauge("outgrow_backup_interval_seconds", "The schedule's interval", ["database"], registry=registry),
            Counter("outgrow_backup_failures", "Scheduled backups that failed", ["database"], registry=registry),
        )

    def record(self, database: str, manifest: Manifest) -> None:
        self.last_success.labels(database).set(manifest.created_at.timestamp())
        self.last_duration.labels(database).set(manifest.duration_seconds)
        self.last_size.labels(database).set(manifest.stored_size)


def run_schedule(database: str | Path | None, directory: Path | None, every: float, policy: RetentionPolicy, *,
                 method: Method = "backup-api", count: int | None = None, metrics_port: int | None = None,
                 metrics: BackupMetrics | None = None,
                 on_round: Callable[[Manifest | None, PruneResult | None, OutgrowError | None], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> BackupMetrics:
    """Back up and prune every ``every`` seconds (``count`` rounds, or until interrupted). A failed round is
    counted and logged; the next round still runs."""
    target = resolve_database(database)
    folder = directory or default_directory(target)
    metrics = metrics or BackupMetrics.create()
    label = str(target.path.absolute()) if target.path is not None else str(target.url.database if target.url else "")
    metrics.interval.labels(label).set(every)
    metrics.failures.labels(label)  # exported as 0 from the start, so a rate() over it is defined
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    done = 0
    next_start = time.monotonic()
    while count is None or done < count:
        manifest, pruned, failure = None, None, None
        try:
            manifest = create_backup(database, folder, method=method)
            metrics.record(label, manifest)
            pruned = prune_backups(LocalDirectory(folder), policy, source=manifest.source)
        except OutgrowError as exc:
            failure = exc
            metrics.failures.labels(label).inc()
            log.error("scheduled backup failed: %s", exc)
        if on_round is not None:
            on_round(manifest, pruned, failure)
        done += 1
        next_start += every
        if count is None or done < count:
            sleep(max(0.0, next_start - time.monotonic()))
    return metrics
