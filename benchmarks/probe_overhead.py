"""What timing every statement costs: a point SELECT by primary key through SQLAlchemy on SQLite, in one run.

Engines, each on its own connection to the same file, measured in interleaved rounds so that a slow moment
of the machine hits every engine alike:

  none          create_engine("sqlite:///...") with nothing attached
  outgrow       the same, plus outgrow.monitor.instrument(engine)
  prometheus    a prometheus_client Histogram observed from before/after_cursor_execute events
  opentelemetry the OpenTelemetry SQLAlchemy instrumentor (only when the package is installed)
  connect       outgrow.connect() with OUTGROW_MONITOR_ENABLED=false (its tuning, no probe)
  connect+probe outgrow.connect() as shipped (probe on)

Many short rounds, each engine once per round in a shuffled order. Prints µs per statement (median over
rounds), the µs each adds to its baseline (difference of the medians) and the ratio. The probe's goal: at
most 3 µs added.

    ./run bench probe_overhead [--rounds 200] [--statements 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy import Connection, Engine, create_engine, event, text

from outgrow.engine import connect
from outgrow.monitor import instrument
from outgrow.settings import Settings

POINT_SELECT = text("SELECT v FROM t WHERE id = :id")


def prepare(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                             "INSERT INTO t SELECT i, 'value ' || i FROM n")
    engine.dispose()


def plain(path: Path) -> Engine:
    return create_engine(f"sqlite:///{path}")


def with_probe(path: Path) -> Engine:
    engine = plain(path)
    instrument(engine)
    return engine


def with_prometheus(path: Path) -> Engine:
    engine = plain(path)
    histogram = Histogram("db_client_operation_duration_seconds", "statement time", ["db_operation_name"],
                          registry=CollectorRegistry())

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        context._bench_started = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        histogram.labels(statement.split(None, 1)[0].upper()).observe(time.perf_counter() - context._bench_started)

    return engine


def with_opentelemetry(path: Path) -> Engine | None:
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor  # type: ignore[import-not-found]
    except ImportError:
        return None
    engine = plain(path)
    SQLAlchemyInstrumentor().instrument(engine=engine)
    return engine


_DATABASES: list[Any] = []


def outgrow_engine(path: Path, monitor: bool) -> Engine:
    db = connect(Settings(database_url=f"sqlite:///{path}", monitor_enabled=monitor))
    _DATABASES.append(db)
    return db.engine


def run_round(conn: Connection, statements: int, offset: int) -> float:
    started = time.perf_counter()
    for i in range(statements):
        conn.execute(POINT_SELECT, {"id": (i + offset) % 1000 + 1}).fetchall()
    return (time.perf_counter() - started) / statements * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--statements", type=int, default=1000, help="statements per engine per round")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outgrow-probe-bench-") as folder:
        path = Path(folder) / "bench.db"
        prepare(path)
        makers: dict[str, Callable[[], Engine | None]] = {
            "none": lambda: plain(path), "outgrow": lambda: with_probe(path),
            "prometheus": lambda: with_prometheus(path), "opentelemetry": lambda: with_opentelemetry(path),
            "connect": lambda: outgrow_engine(path, False), "connect+probe": lambda: outgrow_engine(path, True)}
        engines = {name: engine for name, make in makers.items() if (engine := make()) is not None}
        connections = {name: engine.connect() for name, engine in engines.items()}
        for conn in connections.values():
            run_round(conn, 2000, 0)  # warm caches and SQLAlchemy's compiled-statement cache
        samples: dict[str, list[float]] = {name: [] for name in engines}
        shuffler = random.Random(5)
        for round_number in range(args.rounds):
            order = list(connections.items())
            shuffler.shuffle(order)  # no engine always runs first (or right after the same one)
            for name, conn in order:
                samples[name].append(run_round(conn, args.statements, round_number))
        for conn in connections.values():
            conn.close()
        for db in _DATABASES:
            db.close()
        for engine in engines.values():
            engine.dispose()
    baselines = {"connect+probe": "connect"}
    rows = []
    for name, values in samples.items():
        base = baselines.get(name, "none")
        added = statistics.median(values) - statistics.median(samples[base])
        rows.append({"engine": name, "us_per_statement": round(statistics.median(values), 2), "baseline": base,
                     "added_us": round(added, 2), "ratio": round(statistics.median(values) /
                                                                 statistics.median(samples[base]), 3)})
    if "opentelemetry" not in samples:
        rows.append({"engine": "opentelemetry", "skipped": "opentelemetry-instrumentation-sqlalchemy not installed"})
    if args.json:
        print(json.dumps({"rounds": args.rounds, "statements": args.statements, "results": rows}, indent=2))
        return
    print(f"point SELECT by primary key, {args.rounds} rounds x {args.statements} statements per engine")
    print(f"{'engine':15s} {'µs/stmt':>8s} {'added µs':>9s} {'ratio':>6s}  baseline")
    for row in rows:
        if "skipped" in row:
            print(f"{row['engine']:15s} skipped: {row['skipped']}")
            continue
        print(f"{row['engine']:15s} {row['us_per_statement']:8.2f} {row['added_us']:9.2f} {row['ratio']:6.3f}  "
              f"{row['baseline']}")


if __name__ == "__main__":
    main()
