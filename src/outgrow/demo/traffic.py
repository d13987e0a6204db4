"""A short burst of mixed application traffic through ``outgrow.connect()``.

Threads share one ``Database`` as a web application's workers would: reads run in autocommit on pooled
connections, inserts and read-then-write budget updates run in explicit transactions. The budget updates
are counted, so a lost update shows up as a difference between the expected and the stored total.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from outgrow.engine import Database

__all__ = ["TrafficReport", "run_slow_queries", "run_traffic", "run_write_contention"]

_RECENT_EVENTS = text(
    "SELECT id, kind, created_at FROM events WHERE organization_id = :org ORDER BY created_at DESC LIMIT 20"
)
_PROJECT_SUMMARY = text(
    "SELECT kind, count(*), sum(amount) FROM events WHERE organization_id = :org AND project_id = :project "
    "GROUP BY kind"
)
_INSERT_EVENT = text(
    "INSERT INTO events (organization_id, project_id, user_id, kind, payload, amount, created_at) "
    "VALUES (:org, :project, :user, 'view', '{\"source\": \"demo\"}', :amount, :created_at)"
)
_READ_BUDGET = text("SELECT budget FROM projects WHERE organization_id = :org AND id = :project")
_WRITE_BUDGET = text("UPDATE projects SET budget = :budget WHERE organization_id = :org AND id = :project")
_TOTAL_BUDGET = text("SELECT sum(budget) FROM projects")


@dataclass
class TrafficReport:
    operations: int
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    budget_increments: int = 0
    lost_updates: int = 0

    @property
    def operations_per_s(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        """Count, p50 and p95 in milliseconds per kind of operation."""
        out = {}
        for kind, samples in sorted(self.latencies_ms.items()):
            ordered = sorted(samples)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            out[kind] = {"count": len(ordered), "p50_ms": statistics.median(ordered), "p95_ms": p95}
        return out


def run_traffic(db: Database, *, operations: int = 2000, threads: int = 4, seed: int = 7,
                progress: Callable[[int], None] | None = None) -> TrafficReport:
    """Run ``operations`` mixed operations from ``threads`` threads; count errors and lost updates."""
    with db.engine.connect() as conn:
        orgs = int(conn.execute(text("SELECT count(*) FROM organizations")).scalar_one())
        per_org = int(conn.execute(text("SELECT count(*) FROM projects WHERE organization_id = 1")).scalar_one())
        users = int(conn.execute(text("SELECT count(*) FROM users WHERE organization_id = 1")).scalar_one())
        budget_before = float(conn.execute(_TOTAL_BUDGET).scalar_one())
    report = TrafficReport(operations=operations, seconds=0.0)
    lock = threading.Lock()

    def worker(index: int, count: int) -> None:
        rng = random.Random(seed * 1000 + index)
        local: dict[str, list[float]] = {}
        increments = 0
        for _ in range(count):
            org = rng.randint(1, orgs)
            project = (org - 1) * per_org + rng.randint(1, per_org)
            roll = rng.random()
            started = time.perf_counter()
            try:
                if roll < 0.45:
                    kind = "read_recent"
                    with db.engine.connect() as conn:
                        conn.execute(_RECENT_EVENTS, {"org": org}).all()
                elif roll < 0.6:
                    kind = "read_summary"
                    with db.engine.connect() as conn:
                        conn.execute(_PROJECT_SUMMARY, {"org": org, "project": project}).all()
                elif roll < 0.9:
                    kind = "insert_event"
                    with db.transaction() as conn:
                        conn.execute(_INSERT_EVENT, {
                            "org": org, "project": project, "user": (org - 1) * users + rng.randint(1, users),
                            "amount": rng.randrange(10_000) / 100,
                            "created_at": datetime.now().strftime("%Y-%m-%d %H:%M:%S")})
                else:
                    kind = "read_then_write"
                    with db.transaction() as conn:
                        budget = conn.execute(_READ_BUDGET, {"org": org, "project": project}).scalar_one()
                        conn.execute(_WRITE_BUDGET, {"org": org, "project": project, "budget": budget + 1})
                    increments += 1
            except OperationalError as exc:
                with lock:
                    report.errors.append(str(exc.orig))
                continue
            local.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            if progress is not None:
                progress(1)
        with lock:
            for kind, samples in local.items():
                report.latencies_ms.setdefault(kind, []).extend(samples)
            report.budget_increments += increments

    shares = [operations // threads + (1 if i < operations % threads else 0) for i in range(threads)]
    pool = [threading.Thread(target=worker, args=(i, n), name=f"traffic-{i}") for i, n in enumerate(shares)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    report.seconds = time.perf_counter() - started
    with db.engine.connect() as conn:
        budget_after = float(conn.execute(_TOTAL_BUDGET).scalar_one())
    report.lost_updates = report.budget_increments - round(budget_after - budget_before)
    return report


_UNINDEXED = (
    # events has no index on kind or amount: each of these reads the whole table.
    text("SELECT count(*), sum(amount) FROM events WHERE kind = :kind AND amount > :minimum"),
    text("SELECT organization_id, count(*) FROM events WHERE payload LIKE :pattern GROUP BY organization_id"),
)


def run_slow_queries(db: Database, *, repeats: int = 3) -> int:
    """A few queries no index serves, as a reporting page would send: the slow-query log's material."""
    with db.engine.connect() as conn:
        for i in range(repeats):
            conn.execute(_UNINDEXED[0], {"kind": "purchase", "minimum": 50 + i}).all()
            conn.execute(_UNINDEXED[1], {"pattern": f"%demo{i}%"}).all()
    return repeats * len(_UNINDEXED)


def run_write_contention(db: Database, impatient: Database, *, holds: int = 8, hold_s: float = 0.04) -> int:
    """Real write contention: one thread keeps taking the write lock for ``hold_s`` while another, whose
    busy_timeout is shorter, tries to write; returns how many of its writes met a locked database."""
    refused = 0
    stop = threading.Event()

    def holder() -> None:
        for _ in range(holds):
            with db.transaction() as conn:
                conn.execute(_WRITE_BUDGET, {"org": 1, "project": 1, "budget": 0})
                time.sleep(hold_s)
            time.sleep(hold_s / 4)
        stop.set()

    thread = threading.Thread(target=holder, name="lock-holder")
    thread.start()
    while not stop.is_set():
        try:
            with impatient.transaction() as conn:
                conn.execute(_WRITE_BUDGET, {"org": 1, "project": 2, "budget": 0})
        except OperationalError:
            refused += 1
        time.sleep(hold_s / 8)
    thread.join()
    return refused
