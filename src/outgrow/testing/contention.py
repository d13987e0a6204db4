"""A write-contention workload on one SQLite file: N writer processes, M readers, a fixed count.

Each writer runs read-then-write transactions: read the balance, write it back plus one, and record the
step in a ledger. The final balance tells lost updates (it must equal the number of committed steps) and
the ledger tells missing rows. Clients are opened by a top-level function (picklable for ``spawn``), so
the benchmark can run the same workload on baselines: plain SQLAlchemy, stdlib sqlite3, hand-tuned sqlite3.
"""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, text

__all__ = [
    "INSERT_LEDGER",
    "READ_BALANCE",
    "READ_TOTALS",
    "WRITE_BALANCE",
    "ContentionResult",
    "CounterClient",
    "EngineCounterClient",
    "create_counter_schema",
    "open_outgrow_client",
    "open_plugin_client",
    "run_contention",
]

READ_BALANCE = "SELECT balance FROM accounts WHERE id = 1"
WRITE_BALANCE = "UPDATE accounts SET balance = ? WHERE id = 1"
INSERT_LEDGER = "INSERT INTO ledger (writer, seq) VALUES (?, ?)"
READ_TOTALS = "SELECT sum(balance), (SELECT count(*) FROM ledger) FROM accounts"


class CounterClient(Protocol):
    def increment(self, writer: int, seq: int) -> None: ...
    def read(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class ContentionResult:
    writers: int
    readers: int
    transactions: int
    seconds: float
    committed: int
    errors: list[str] = field(default_factory=list)
    read_errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    final_balance: int = 0
    ledger_rows: int = 0
    missing_ledger_rows: int = 0

    @property
    def lost_updates(self) -> int:
        return self.committed - self.final_balance

    @property
    def busy_errors(self) -> int:
        return sum(1 for e in self.errors + self.read_errors if "locked" in e or "busy" in e.lower())

    @property
    def transactions_per_s(self) -> float:
        return self.committed / self.seconds if self.seconds > 0 else 0.0

    @property
    def p95_ms(self) -> float:
        if not self.latencies_ms:
            return 0.0
        return statistics.quantiles(self.latencies_ms, n=20)[-1] if len(self.latencies_ms) > 1 else self.latencies_ms[0]


def create_counter_schema(path: Path) -> None:
    """One account at balance 0 and an empty ledger, in a new file (journal mode left at SQLite's default)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        conn.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, seq INTEGER NOT NULL, "
                     "UNIQUE (writer, seq))")
        conn.execute("INSERT INTO accounts (id, balance) VALUES (1, 0)")
    conn.close()


class EngineCounterClient:
    """A counter client over a SQLAlchemy engine, with explicit transactions (``engine.begin()``)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def increment(self, writer: int, seq: int) -> None:
        with self.engine.begin() as conn:
            balance = conn.exec_driver_sql(READ_BALANCE).scalar_one()
            conn.exec_driver_sql(WRITE_BALANCE, (balance + 1,))
            conn.exec_driver_sql(INSERT_LEDGER, (writer, seq))

    def read(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(READ_TOTALS)).one()

    def close(self) -> None:
        self.engine.dispose()


def open_outgrow_client(path: str) -> CounterClient:
    """``outgrow.connect()`` with default settings."""
    from outgrow.engine import connect
    from outgrow.settings import Settings

    return EngineCounterClient(connect(Settings(database_url=f"sqlite:///{path}")).engine)


def open_plugin_client(path: str) -> CounterClient:
    """A plain ``create_engine`` with ``?plugin=outgrow``, as an existing application would write it."""
    return EngineCounterClient(create_engine(f"sqlite:///{path}?plugin=outgrow"))


def _open(open_client: Callable[[str], CounterClient], path: str, role: str, ready: Any,
          results: Any) -> CounterClient | None:
    try:
        client = open_client(path)
    except Exception as exc:
        ready.put(role)
        results.put((role, [f"cannot open a client: {_first_line(exc)}"], [], time.perf_counter()))
        return None
    ready.put(role)
    return client


def _writer(open_client: Callable[[str], CounterClient], path: str, writer: int, count: int,
            ready: Any, go: Any, results: Any) -> None:
    client = _open(open_client, path, "writer", ready, results)
    go.wait()
    if client is None:
        return
    errors: list[str] = []
    latencies: list[float] = []
    for seq in range(count):
        started = time.perf_counter()
        try:
            client.increment(writer, seq)
        except Exception as exc:
            errors.append(_first_line(exc))
        else:
            latencies.append((time.perf_counter() - started) * 1000)
    client.close()
    results.put(("writer", errors, latencies, time.perf_counter()))


def _reader(open_client: Callable[[str], CounterClient], path: str, count: int, ready: Any, go: Any,
            results: Any) -> None:
    client = _open(open_client, path, "reader", ready, results)
    go.wait()
    if client is None:
        return
    errors: list[str] = []
    for _ in range(count):
        try:
            client.read()
        except Exception as exc:
            errors.append(_first_line(exc))
    client.close()
    results.put(("reader", errors, [], time.perf_counter()))


def run_contention(
    path: Path,
    open_client: Callable[[str], CounterClient],
    *,
    writers: int = 4,
    readers: int = 4,
    transactions_per_writer: int = 200,
    reads_per_reader: int = 200,
    reader_processes: bool = False,
    timeout_s: float = 300.0,
) -> ContentionResult:
    """Run the workload on a fresh counter database at ``path`` and check the result."""
    create_counter_schema(path)
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers: list[Any] = [
        ctx.Process(target=_writer, args=(open_client, str(path), w, transactions_per_writer, ready, go, results))
        for w in range(writers)
    ]
    reader_args = (open_client, str(path), reads_per_reader, ready, go, results)
    if reader_processes:
        workers += [ctx.Process(target=_reader, args=reader_args) for _ in range(readers)]
    else:
        workers += [threading.Thread(target=_reader, args=reader_args, daemon=True) for _ in range(readers)]
    result = ContentionResult(writers=writers, readers=readers, transactions=writers * transactions_per_writer,
                              seconds=0.0, committed=0)
    deadline = time.monotonic() + timeout_s
    started = writers_done = time.perf_counter()
    try:
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.get(timeout=max(1.0, deadline - time.monotonic()))
        started = writers_done = time.perf_counter()
        go.set()
        for _ in workers:
            role, errors, latencies, finished = results.get(timeout=max(1.0, deadline - time.monotonic()))
            if role == "writer":
                result.errors += errors
                result.latencies_ms += latencies
                result.committed += len(latencies)
                writers_done = max(writers_done, finished)
            else:
                result.read_errors += errors
    except queue.Empty:
        raise TimeoutError(f"contention workload did not finish within {timeout_s:.0f}s") from None
    finally:
        go.set()  # never leave a worker waiting for a start that will not come
        for worker in workers:
            worker.join(timeout=max(1.0, deadline - time.monotonic()))
            if isinstance(worker, multiprocessing.process.BaseProcess) and worker.is_alive():
                worker.terminate()
                worker.join()
    result.seconds = writers_done - started
    with sqlite3.connect(path) as conn:
        result.final_balance, result.ledger_rows = conn.execute(READ_TOTALS).fetchone()
        present = set(conn.execute("SELECT writer, seq FROM ledger").fetchall())
    conn.close()
    result.missing_ledger_rows = result.committed - len(present)
    return result


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text_ = str(original).strip()
    return f"{type(original).__name__}: {text_.splitlines()[0] if text_ else ''}"
