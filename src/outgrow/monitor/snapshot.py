"""What ``collect_metrics()`` returns: one typed snapshot, the same fields on SQLite and PostgreSQL.

Durations are in seconds and sizes in bytes, as OpenTelemetry's conventions have them; a figure the engine
or the window cannot give is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from outgrow.monitor.histogram import Histogram

__all__ = ["ConnectionFigures", "ContentionFigures", "LatencySummary", "MetricsSnapshot", "ServerFigures"]


@dataclass(frozen=True)
class LatencySummary:
    """Statement durations (execution and fetching the rows) over the snapshot's window."""

    count: int
    errors: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None
    mean_s: float | None
    histogram: Histogram = field(repr=False, compare=False)

    @classmethod
    def of(cls, histogram: Histogram, errors: int = 0) -> LatencySummary:
        count = histogram.count
        return cls(count=count, errors=errors, p50_s=histogram.quantile(0.5), p95_s=histogram.quantile(0.95),
                   p99_s=histogram.quantile(0.99), max_s=histogram.max if count else None,
                   mean_s=histogram.mean(), histogram=histogram)


@dataclass(frozen=True)
class ConnectionFigures:
    """Client connections of every probed process (OpenTelemetry ``db.client.connection.*``)."""

    used: int
    idle: int
    pool_size: int | None  # connections a pool keeps (None: no pool, or unknown)
    waiting: int  # requests waiting for a pooled connection right now
    checkouts: int  # in the window
    wait_p95_s: float | None  # time to get a connection from the pool
    wait_histogram: Histogram = field(repr=False, compare=False, default_factory=Histogram)


@dataclass(frozen=True)
class ContentionFigures:
    """Write contention: time spent acquiring the write lock, and statements refused because it was held."""

    busy_events: int  # SQLITE_BUSY / "database is locked" errors, and lock waits on PostgreSQL
    write_transactions: int
    busy_rate: float | None  # busy_events / write_transactions
    lock_wait_p95_s: float | None  # BEGIN IMMEDIATE: waiting for the write lock
    write_transaction_p99_s: float | None  # from the write lock taken to COMMIT/ROLLBACK done
    lock_wait_histogram: Histogram = field(repr=False, compare=False, default_factory=Histogram)
    write_transaction_histogram: Histogram = field(repr=False, compare=False, default_factory=Histogram)


@dataclass(frozen=True)
class ServerFigures:
    """What a PostgreSQL server says of itself (pg_stat_activity, pg_locks); None on SQLite."""

    connections: int
    active: int
    idle: int
    idle_in_transaction: int
    waiting_for_locks: int
    max_connections: int


@dataclass(frozen=True)
class MetricsSnapshot:
    """The database's size, query performance, connections and write contention at ``taken_at``.

    Statement, connection and contention figures cover ``window_s`` seconds up to ``taken_at`` (None: since
    the probes started), merged over every process whose probe writes to the same history.
    """

    engine: str  # "sqlite" or "postgresql"
    database: str  # a path, or a URL with its password masked
    taken_at: float  # Unix time
    window_s: float | None
    size_bytes: int
    wal_bytes: int | None
    free_pages: int | None
    page_size: int | None
    statements: LatencySummary
    by_operation: dict[str, LatencySummary]
    connections: ConnectionFigures
    contention: ContentionFigures
    writes_per_s: float | None  # INSERT/UPDATE/DELETE statements per second over the window
    processes: int  # probed processes that contributed
    server: ServerFigures | None = None
    #: Statement durations by (operation, error type; '' for success): what Prometheus and EMF export.
    durations: dict[tuple[str, str], Histogram] = field(default_factory=dict, repr=False, compare=False)
