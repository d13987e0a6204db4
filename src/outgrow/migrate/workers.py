"""Copy workers: processes that read the source and format COPY data, while one connection sends it.

The load stays one PostgreSQL transaction (a failure or ``kill -9`` leaves the target as it was), but the work
the client does per row — reading SQLite, checking and converting values, formatting COPY text, hashing —
is spread over ``jobs`` processes: a large table is split into rowid ranges, one per worker, and the parent
relays the formatted chunks (whole rows each) into the table's COPY.

All workers read one state of the source. Python's sqlite3 has no snapshot API, so the parent holds SQLite's
write lock (``BEGIN IMMEDIATE``) while every worker starts its read transaction, and lets go once all have:
no write can commit in between, so they all see the same database.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import psycopg
from psycopg.copy import Copy, Writer

from outgrow.errors import MigrationError
from outgrow.migrate.copying import CopyResult, RejectFound, Tick, copy_range, copy_rows
from outgrow.migrate.introspect import open_source
from outgrow.migrate.plan_model import TablePlan
from outgrow.migrate.stream import rowid_ranges, stream_columns
from outgrow.urls import sqlite_uri

__all__ = ["CopyWorkers", "Task"]

_DATA, _TICK, _DONE, _FAILED, _LOADED, _READY = b"D", b"T", b"R", b"E", b"L", b"S"
START_TIMEOUT = 60.0  # seconds for every worker to load its modules and connect
LOCK_TIMEOUT = 5.0  # seconds to wait for the source's write lock before copying with one reader instead


class NoSharedSnapshot(MigrationError):
    """The source's write lock could not be held while the workers open their reads (read-only file, or
    writers that never pause): the copy is then read by one connection instead."""


@dataclass(frozen=True)
class Task:
    table: int  # index into the plan's tables
    low: int | None  # inclusive rowid range (fast path), or None for the whole table row by row
    high: int | None
    skip: frozenset[Any] = frozenset()


class _PipeWriter(Writer):
    """Sends formatted COPY data to the parent instead of a server, hashing it on the way."""

    def __init__(self, pipe: Connection) -> None:
        import hashlib

        self.pipe = pipe
        self.digest = hashlib.blake2b(digest_size=16)

    def write(self, data: Any) -> None:
        self.digest.update(data)
        self.pipe.send_bytes(_DATA + bytes(data))


def _worker(pipe: Connection) -> None:
    """A worker's life: learn the job, open the read transaction when told, then run tasks until told to stop."""
    try:
        source, conninfo, tables = pipe.recv()
        try:
            # psycopg formats COPY data with a connection's adapters; this one never starts a COPY of its own.
            adapters = psycopg.connect(conninfo)
        except Exception as exc:  # reported to the parent, which raises it
            pipe.send_bytes(_FAILED + pickle.dumps(("error", f"cannot connect: {str(exc).splitlines()[0]}", None)))
            return
        pipe.send_bytes(_LOADED)
        if pipe.recv() != "snapshot":
            return
        reader = open_source(Path(source))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # the read transaction starts here
        pipe.send_bytes(_READY)
        while (task := pipe.recv()) is not None:
            try:
                result = _run(reader, adapters, tables[task.table], task, pipe)
                pipe.send_bytes(_DONE + pickle.dumps(result))
            except RejectFound as exc:
                pipe.send_bytes(_FAILED + pickle.dumps(("reject", str(exc), exc.hint)))
            except Exception as exc:  # reported to the parent, which raises it
                pipe.send_bytes(_FAILED + pickle.dumps(("error", f"{type(exc).__name__}: {exc}", None)))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the parent is gone or stopping: nothing to report to


def _run(reader: sqlite3.Connection, adapters: psycopg.Connection[Any], table: TablePlan, task: Task,
         pipe: Connection) -> CopyResult:
    def tick(rows: int) -> None:
        pipe.send_bytes(_TICK + rows.to_bytes(8, "little"))

    writer = _PipeWriter(pipe)
    streams = stream_columns(table)
    with adapters.cursor() as cursor, Copy(cursor, writer=writer) as copy:
        if streams is None or task.low is None or task.high is None:
            result = copy_rows(reader, copy, table, set(task.skip), tick)
        else:
            result = copy_range(reader, copy, table, streams, task.low, task.high, set(task.skip), tick)
    if streams is not None:
        result.digest = writer.digest.hexdigest()  # after the COPY's last chunk, written when it closes
    return result


def _send(pipe: Connection, message: object) -> None:
    try:
        pipe.send(message)
    except OSError:
        raise MigrationError("a copy worker died", hint="nothing was written; --jobs 1 copies in one process") from None


def _receive(pipe: Connection) -> bytes:
    try:
        return pipe.recv_bytes()
    except (EOFError, OSError):
        raise MigrationError("a copy worker died", hint="nothing was written; --jobs 1 copies in one process") from None


class CopyWorkers:
    """``jobs`` worker processes; use as a context manager. They start (and load their modules) as soon as
    the context is entered, so a caller enters it before planning, and :meth:`begin` hands them the plan."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pipes: list[Connection] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.tables: list[TablePlan] = []

    def __enter__(self) -> CopyWorkers:
        # A fresh interpreter per worker, not fork (the parent may run threads, such as the progress display,
        # whose locks a fork would copy held) nor multiprocessing's spawn (which re-runs the caller's script).
        try:
            for _ in range(self.jobs):
                parent_end, child_end = socket.socketpair()
                process = subprocess.Popen([sys.executable, "-m", "outgrow.migrate.workers", str(child_end.fileno())],
                                           pass_fds=[child_end.fileno()], stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                child_end.close()
                self.processes.append(process)
                self.pipes.append(Connection(parent_end.detach()))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def begin(self, source: Path, conninfo: str, tables: list[TablePlan], reader: sqlite3.Connection) -> None:
        """Give the workers the job, and open their read transactions, and ``reader``'s, on one state of
        ``source``. Raises :class:`NoSharedSnapshot` when the source cannot be held still."""
        self.tables, self.reader = tables, reader
        for pipe in self.pipes:
            _send(pipe, (str(source), conninfo, tables))
        self._await(_LOADED)  # modules loaded and connected: only the snapshot itself happens under the lock
        # mode=rw: never create a file that vanished since planning. A read-only file, or a lock that does not
        # come, leaves the copy to one reader (NoSharedSnapshot).
        try:
            lock = sqlite3.connect(sqlite_uri(source, mode="rw"), uri=True, isolation_level=None,
                                   timeout=LOCK_TIMEOUT)
        except sqlite3.OperationalError as exc:
            raise NoSharedSnapshot(f"cannot open the source to hold it still: {exc}") from None
        try:
            lock.execute("BEGIN IMMEDIATE")
            # BEGIN IMMEDIATE on a read-only file succeeds without taking the lock: a write proves it is held.
            version = lock.execute("PRAGMA user_version").fetchone()[0]
            lock.execute(f"PRAGMA user_version = {int(version)}")
        except sqlite3.OperationalError as exc:
            lock.close()
            raise NoSharedSnapshot(f"cannot hold the source still while the copy workers start: {exc}") from None
        try:
            for pipe in self.pipes:
                _send(pipe, "snapshot")
            self._await(_READY)
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        finally:
            lock.execute("ROLLBACK")
            lock.close()

    def _await(self, signal: bytes) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            while not pipe.poll(0.05):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise MigrationError("a copy worker did not start", hint="--jobs 1 copies in one process")
            message = _receive(pipe)
            if message[:1] == _FAILED:
                _, text, _ = pickle.loads(memoryview(message)[1:])  # noqa: S301 - our own worker, private pipe
                raise MigrationError(f"a copy worker failed: {text}", hint="--jobs 1 copies in one process")
            if message != signal:
                raise MigrationError("a copy worker did not start", hint="--jobs 1 copies in one process")

    def __exit__(self, failed: type[BaseException] | None, *_: object) -> None:
        self.stop(failed=failed is not None)

    def stop(self, *, failed: bool = False) -> None:
        """End the workers (and with them their read transactions on the source); idempotent."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):  # a worker that is gone already
                pipe.send(None)
        for process in self.processes:
            try:
                process.wait(timeout=0 if failed else 5)  # a failed run's workers may be mid-task: stop them now
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pipe in self.pipes:
            pipe.close()
        self.pipes, self.processes = [], []

    def plan_tasks(self, index: int, skip: set[Any]) -> list[Task]:
        """One table's tasks: rowid ranges of a large table on the fast path, or the whole table."""
        table = self.tables[index]
        frozen = frozenset(skip)
        if stream_columns(table) is None:
            return [Task(index, None, None, frozen)]
        pieces = self.jobs if table.source.row_count >= 20_000 * self.jobs else 1
        return [Task(index, low, high, frozen) for low, high in rowid_ranges(self.reader, table, pieces)]

    def run(self, tasks: list[Task], write: Callable[[memoryview], None] | None,
            tick: Tick | None) -> list[CopyResult]:
        """Run ``tasks`` on the workers, passing each chunk of COPY data to ``write`` as it comes."""
        pending = list(reversed(tasks))
        busy: dict[int, Task] = {}
        results: list[CopyResult] = []
        for slot in range(len(self.pipes)):
            if pending:
                busy[slot] = pending.pop()
                _send(self.pipes[slot], busy[slot])
        while busy:
            for ready in wait([self.pipes[s] for s in busy], timeout=1.0):
                assert isinstance(ready, Connection)
                slot = self.pipes.index(ready)
                message = _receive(ready)
                kind, body = message[:1], memoryview(message)[1:]
                if kind == _DATA and write is not None:
                    write(body)
                elif kind == _TICK and tick is not None:
                    tick(int.from_bytes(body, "little"))
                elif kind == _DONE:
                    results.append(pickle.loads(body))  # noqa: S301 - our own worker, over a private pipe
                    del busy[slot]
                    if pending:
                        busy[slot] = pending.pop()
                        _send(ready, busy[slot])
                elif kind == _FAILED:
                    what, message_text, hint = pickle.loads(body)  # noqa: S301 - as above
                    if what == "reject":
                        raise RejectFound(message_text, hint=hint)
                    raise MigrationError(f"a copy worker failed: {message_text}", hint="nothing was written")
            for slot in busy:
                if self.processes[slot].poll() is not None:
                    raise MigrationError("a copy worker died", hint="nothing was written; --jobs 1 copies in one "
                                                                    "process")
        return results


if __name__ == "__main__":
    _worker(Connection(int(sys.argv[1])))
    # Nothing is left to flush (each task's result went to the parent, the connections hold no transaction):
    # skip the interpreter's teardown, which costs a good part of a second per worker.
    os._exit(0)
