"""Who sends BEGIN on SQLite, and which one.

pysqlite's legacy transaction handling opens a transaction only at the first INSERT/UPDATE/DELETE, so a
read-then-write reads outside any transaction: two writers read the same balance and one update is lost
(measured in benchmarks/sqlite_tuning.py). A plain ``BEGIN`` (DEFERRED) fixes that but turns the race into
SQLITE_BUSY: the reader cannot upgrade to a writer once another writer committed, and busy_timeout does
not help (sqlite.org/rescode.html#busy_snapshot). So, as Rails 8 and Django 5.1 (``transaction_mode``) do:

* an explicit transaction (``Connection.begin()``, ``engine.begin()``, an ORM ``Session``) starts with
  ``BEGIN IMMEDIATE`` (or the configured mode): it takes the write lock up front, waiting up to
  busy_timeout, so nothing it read can be changed under it;
* statements a connection runs without an explicit ``begin()`` ("autobegin") stay in autocommit while they
  only read; the first statement that writes opens ``BEGIN IMMEDIATE`` so that the writes up to
  ``commit()`` stay atomic. Reads before it were not protected: a read-then-write belongs in an explicit
  transaction.
* ``execution_options(sqlite_begin="DEFERRED")`` on a connection chooses the mode for its next
  transaction (``Database.read()`` uses it for a snapshot that takes no lock).
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from time import perf_counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

__all__ = ["BEGIN_OPTION", "TransactionControl", "TunedConnection"]

BEGIN_OPTION = "sqlite_begin"
_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})

# Statements that must run outside a transaction, or that only read.
_NO_BEGIN = frozenset(
    {"SELECT", "VALUES", "EXPLAIN", "PRAGMA", "VACUUM", "ATTACH", "DETACH", "BEGIN", "COMMIT", "END",
     "ROLLBACK", "RELEASE"}
)
_FIRST_KEYWORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]+)", re.DOTALL)
_DML = re.compile(r"\b(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class TunedConnection(Connection):
    """A Connection that knows whether its current transaction was begun explicitly or by autobegin.

    SQLAlchemy's ``begin`` event fires the same way for both; this subclass marks the autobegin path so the
    event handler can tell a ``with engine.begin():`` from a bare ``conn.execute(select(...))``.
    """

    _outgrow_autobegin = False
    _outgrow_pending_begin: tuple[str, bool] | None = None

    def _autobegin(self) -> None:
        self._outgrow_autobegin = True
        try:
            super()._autobegin()
        finally:
            self._outgrow_autobegin = False


@lru_cache(maxsize=1024)
def statement_writes(statement: str) -> bool:
    """True when ``statement`` needs a transaction opened before it (DML, DDL, SAVEPOINT, ...)."""
    match = _FIRST_KEYWORD.match(statement)
    if match is None:
        return False
    keyword = match.group(1).upper()
    if keyword == "WITH":
        return _DML.search(statement) is not None
    return keyword not in _NO_BEGIN


class TransactionControl:
    """Event handlers that own BEGIN on one engine.

    ``begin`` only decides the mode; the BEGIN statement itself is sent just before the transaction's first
    statement (at once for an explicit transaction, at the first write for an autobegun one). Sent there, a
    failing BEGIN ("database is locked" after busy_timeout) goes through SQLAlchemy's error handling like
    any statement and leaves the connection usable; raised from the ``begin`` event it would not.
    """

    def __init__(self, mode: str) -> None:
        self.mode = _checked_mode(mode)

    def install(self, engine: Engine) -> None:
        _use_tuned_connections(engine)
        # engine.execution_options() derives a new Engine that does not copy _connection_cls.
        # ... and a probe (outgrow.monitor) may have subclassed it: derived engines take the parent's class.
        event.listen(engine, "set_engine_execution_options",
                     lambda derived, _opts: _use_tuned_connections(derived, engine))
        event.listen(engine, "begin", self.on_begin)
        event.listen(engine, "before_cursor_execute", self.on_before_cursor_execute)

    def on_begin(self, conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            conn._outgrow_pending_begin = None  # type: ignore[attr-defined]
            return
        requested = options.get(BEGIN_OPTION)
        mode = _checked_mode(requested) if requested else self.mode
        explicit = requested is not None or not getattr(conn, "_outgrow_autobegin", False)
        conn._outgrow_pending_begin = (mode, explicit)  # type: ignore[attr-defined]

    def on_before_cursor_execute(
        self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        pending = getattr(conn, "_outgrow_pending_begin", None)
        if pending is None:
            return
        mode, explicit = pending
        if explicit or statement_writes(statement):
            # Straight to the cursor: a full SQLAlchemy execution here cost ~40 us of the ~220 us a
            # read-then-write transaction took (profiled), time spent holding the write lock. Cleared only
            # once sent, so a BEGIN that failed is sent again before the next statement.
            probe = getattr(conn.dialect, "_outgrow_probe", None)  # outgrow.monitor's, when instrumented
            started = perf_counter()
            try:
                cursor.execute(f"BEGIN {mode}")
            except sqlite3.OperationalError as exc:
                if probe is not None:
                    probe.begin_failed(exc, perf_counter() - started)
                raise
            if probe is not None and mode != "DEFERRED":
                end = perf_counter()
                probe.lock_acquired(id(cursor.connection), end - started, end)  # the wait for the write lock
            conn._outgrow_pending_begin = None  # type: ignore[attr-defined]


def _use_tuned_connections(engine: Engine, parent: Engine | None = None) -> None:
    parent_class = parent._connection_cls if parent is not None else TunedConnection
    engine._connection_cls = parent_class if issubclass(parent_class, TunedConnection) else TunedConnection


def _checked_mode(mode: object) -> str:
    upper = str(mode).upper()
    if upper not in _MODES:
        raise ValueError(f"{BEGIN_OPTION} must be one of deferred, immediate, exclusive, not {mode!r}")
    return upper
