"""Where the probe hooks into SQLAlchemy: the dialect's execute/commit/rollback, the Connection's cursor
close, and the pool's connect. Chosen by measurement (benchmarks/probe_overhead.py): an engine-level event
listener of any kind switches SQLAlchemy to its slower event-dispatching path (+6 to +10 µs a statement),
so nothing here is an event.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left
from time import perf_counter
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect

from outgrow.monitor.histogram import BOUNDS
from outgrow.monitor.probe import _LOCKING_BEGIN, Probe, _Stats, is_busy

__all__ = ["fetch_timed_connections", "wrap_execution", "wrap_pool", "wrap_transactions"]


def wrap_execution(probe: Probe, dialect: Any) -> None:
    execute = dialect.do_execute
    execute_no_params = dialect.do_execute_no_params
    executemany = dialect.do_executemany
    record, failed = probe._record, probe.failed
    defer = probe.system == "sqlite"
    clock = perf_counter
    reference = weakref.ref
    # The default do_execute is cursor.execute(statement, parameters): calling that directly saves a frame.
    direct = getattr(execute, "__func__", None) is DefaultDialect.do_execute

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        started = clock()
        try:
            if direct:
                cursor.execute(statement, parameters)
            else:
                execute(cursor, statement, parameters, context)
        except BaseException as exc:
            end = clock()
            failed(statement, end - started, exc, end)
            raise
        if defer and context is not None and cursor.description is not None:
            root = context.root_connection
            fetching = getattr(root, "_outgrow_fetching", None)
            if fetching is not None:  # timed until SQLAlchemy closes the cursor: the rows are fetched
                fetching[id(cursor)] = (statement, parameters, started, reference(cursor, root._outgrow_dropped))
                return
        if record(statement, started, parameters).writes:
            _write_done(probe, cursor)

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        started = clock()
        try:
            execute_no_params(cursor, statement, context)
        except BaseException as exc:
            end = clock()
            failed(statement, end - started, exc, end)
            raise
        if _LOCKING_BEGIN.match(statement):  # an application's own BEGIN IMMEDIATE: its wait is the lock wait
            end = clock()
            probe.lock_acquired(_connection_id(cursor), end - started, end)
        if defer and context is not None and cursor.description is not None:
            root = context.root_connection
            fetching = getattr(root, "_outgrow_fetching", None)
            if fetching is not None:
                fetching[id(cursor)] = (statement, None, started, reference(cursor, root._outgrow_dropped))
                return
        if record(statement, started, None).writes:
            _write_done(probe, cursor)

    def do_executemany(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        started = clock()
        try:
            executemany(cursor, statement, parameters, context)
        except BaseException as exc:
            end = clock()
            failed(statement, end - started, exc, end)
            raise
        if record(statement, started, parameters).writes:
            _write_done(probe, cursor)

    dialect.do_execute = do_execute
    dialect.do_execute_no_params = do_execute_no_params
    dialect.do_executemany = do_executemany


def _write_done(probe: Probe, cursor: Any) -> None:
    """After a write: start the write transaction's clock, or count an autocommitted write as one."""
    connection = cursor.connection
    key = id(connection)
    if key in probe._write_started:
        return
    in_transaction = getattr(connection, "in_transaction", None)  # sqlite3; psycopg answers through info
    if in_transaction is None:
        info = getattr(connection, "info", None)
        in_transaction = info is not None and int(getattr(info, "transaction_status", 0)) != 0
    if in_transaction:
        probe._write_started[key] = perf_counter()
    else:
        probe._current().write_transactions.observe(0.0)


def wrap_transactions(probe: Probe, dialect: Any) -> None:
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        except BaseException as exc:
            if is_busy(exc):
                probe.busy()
            raise
        finally:
            probe.transaction_ended(_connection_id_of(dbapi_connection))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            probe.transaction_ended(_connection_id_of(dbapi_connection))

    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback


def _connection_id(cursor: Any) -> int:
    return id(cursor.connection)


def _connection_id_of(dbapi_connection: Any) -> int:
    # The pool hands the dialect its proxy; cursors know the driver's connection.
    return id(getattr(dbapi_connection, "driver_connection", None) or dbapi_connection)


def fetch_timed_connections(probe: Probe, engine: Engine) -> None:
    """Make ``engine``'s Connections finish a statement's timing when SQLAlchemy closes its cursor.

    SQLAlchemy closes a result's cursor through ``Connection._safe_close_cursor`` once the rows are fetched
    (or the result is closed). A result dropped unfinished is never closed: a weak reference to its cursor
    records the statement when the cursor is collected (at once in CPython, before its id can be reused).
    An error while fetching reaches ``_handle_dbapi_exception`` and is recorded as the statement's error.
    (A cursor subclass with ``close``/``__del__`` did the same at about 2 µs more a statement:
    Python-level cursor creation, close and finalizer.)
    """
    base = engine._connection_cls

    record = probe._record
    close_cursor = base._safe_close_cursor
    close = base.close
    local, new_table, new_stats = probe._local, probe._table, probe._new_stats
    bounds, slow_s = BOUNDS, probe.slow_query_s

    handle_error = base._handle_dbapi_exception

    class FetchTimedConnection(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            fetching: dict[int, tuple[str, Any, float, Any]] = {}
            self._outgrow_fetching = fetching

            def dropped(reference: Any) -> None:  # a result dropped unfinished: its cursor was collected
                end = perf_counter()
                for key, entry in list(fetching.items()):
                    if entry[3] is reference:
                        del fetching[key]
                        record(entry[0], entry[2], entry[1], end)

            self._outgrow_dropped = dropped
            super().__init__(*args, **kwargs)

        def _handle_dbapi_exception(self, e: BaseException, statement: Any, parameters: Any, cursor: Any,
                                    context: Any, is_sub_exec: bool = False) -> Any:
            if cursor is not None and self._outgrow_fetching:
                pending = self._outgrow_fetching.pop(id(cursor), None)
                if pending is not None:  # failed while its rows were fetched
                    end = perf_counter()
                    probe.failed(pending[0], end - pending[2], e, end)
            return handle_error(self, e, statement, parameters, cursor, context, is_sub_exec)

        def _safe_close_cursor(self, cursor: Any) -> None:
            fetching = self._outgrow_fetching
            if fetching:
                pending = fetching.pop(id(cursor), None)
                if pending is not None:
                    # record() inlined: a function call here measured +0.6 µs a statement (probe_overhead).
                    end = perf_counter()
                    statement, parameters, started, _reference = pending
                    seconds = end - started
                    try:
                        statements = local.statements
                    except AttributeError:
                        statements = new_table().statements
                    stats: _Stats | None = statements.get(statement)
                    if stats is None:
                        stats = new_stats(local.table, statement)
                    stats.counts[bisect_left(bounds, seconds)] += 1
                    stats.sum += seconds
                    stats.last = end
                    if seconds > stats.max:
                        stats.max = seconds
                        if seconds >= slow_s:
                            stats.sample = parameters
            close_cursor(self, cursor)

        def close(self) -> None:
            end = perf_counter()
            for statement, parameters, started, _reference in self._outgrow_fetching.values():
                record(statement, started, parameters, end)
            self._outgrow_fetching.clear()
            close(self)

    FetchTimedConnection.__name__ = f"FetchTimed{base.__name__}"
    engine._connection_cls = FetchTimedConnection


def wrap_pool(probe: Probe, pool: Any) -> Any:
    # Not the engine_disposed event: any engine-level listener switches SQLAlchemy to its slower
    # event-dispatching path for every statement (measured: +10 µs). dispose() recreates the pool.
    if getattr(pool, "_outgrow_wrapped", False):
        return pool
    connect, recreate = pool.connect, pool.recreate
    lock = threading.Lock()

    def timed_connect() -> Any:
        with lock:
            probe.waiting += 1
        started = perf_counter()
        try:
            return connect()
        finally:
            waited = perf_counter() - started
            with lock:
                probe.waiting -= 1
                probe.checkouts += 1
            probe._current().pool_wait.observe(waited)

    pool.connect = timed_connect
    pool.recreate = lambda: wrap_pool(probe, recreate())
    pool._outgrow_wrapped = True
    return pool
