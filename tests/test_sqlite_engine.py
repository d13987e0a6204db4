"""SQLite tuning proven on real files: pragmas on every pooled connection, who sends BEGIN, and when."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from outgrow import Database, connect
from outgrow.dialects import read_pragmas, requested_pragmas
from outgrow.dialects.sqlite_transactions import statement_writes
from outgrow.testing import TestDatabase


def _counter(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (1, 0)"))


def _begins(db: Database) -> list[str]:
    """Record every BEGIN that reaches SQLite (sqlite3's trace callback sees what the driver really runs)."""
    seen: list[str] = []

    def record(statement: str) -> None:
        if statement.startswith("BEGIN"):
            seen.append(statement)

    def trace(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(record)

    db.engine.dispose()  # every connection from now on is new, and traced
    event.listen(db.engine, "connect", trace)
    return seen


def test_every_pragma_is_in_force_on_every_pooled_connection(sqlite_db: TestDatabase) -> None:
    settings = sqlite_db.settings()
    with connect(settings) as db:
        # Hold the whole pool (5) and its overflow (10) at once, so every connection is a distinct one.
        held = [db.engine.connect() for _ in range(settings.pool_size + settings.pool_max_overflow)]
        try:
            raw = {id(c.connection.driver_connection) for c in held}
            assert len(raw) == 15
            for conn in held:
                assert read_pragmas(conn.connection.driver_connection) == {
                    "busy_timeout": 5000, "journal_mode": "wal", "synchronous": "normal", "foreign_keys": True,
                    "cache_size": -64000, "temp_store": "memory", "mmap_size": 268435456,
                    "journal_size_limit": 67108864,
                }
        finally:
            for conn in held:
                conn.close()


def test_overridden_pragmas_are_the_ones_in_force(sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = {
        "OUTGROW_SQLITE_JOURNAL_MODE": "truncate", "OUTGROW_SQLITE_SYNCHRONOUS": "full",
        "OUTGROW_SQLITE_FOREIGN_KEYS": "false", "OUTGROW_SQLITE_BUSY_TIMEOUT_MS": "1234",
        "OUTGROW_SQLITE_CACHE_SIZE_KIB": "2000", "OUTGROW_SQLITE_TEMP_STORE": "file",
        "OUTGROW_SQLITE_MMAP_SIZE_BYTES": "0", "OUTGROW_SQLITE_JOURNAL_SIZE_LIMIT_BYTES": "-1",
        "OUTGROW_POOL_SIZE": "2", "OUTGROW_POOL_MAX_OVERFLOW": "1",
    }
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = sqlite_db.settings()
    with connect(settings) as db:
        held = [db.engine.connect() for _ in range(3)]
        try:
            for conn in held:
                assert read_pragmas(conn.connection.driver_connection) == {
                    "busy_timeout": 1234, "journal_mode": "truncate", "synchronous": "full", "foreign_keys": False,
                    "cache_size": -2000, "temp_store": "file", "mmap_size": 0, "journal_size_limit": -1,
                }
                assert read_pragmas(conn.connection.driver_connection) == requested_pragmas(settings)
        finally:
            for conn in held:
                conn.close()


def test_foreign_keys_are_enforced(sqlite_db: TestDatabase) -> None:
    with connect(sqlite_db.settings()) as db:
        with db.transaction() as conn:
            conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            conn.execute(text("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))"))
        with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"), db.transaction() as conn:
            conn.execute(text("INSERT INTO child VALUES (1, 99)"))


@pytest.mark.parametrize("mode", ["immediate", "deferred", "exclusive"])
def test_explicit_transactions_begin_in_the_configured_mode(
    sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("OUTGROW_SQLITE_TRANSACTION_MODE", mode)
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        begins = _begins(db)
        with db.transaction() as conn:
            conn.execute(text("SELECT n FROM counter")).scalar_one()
        with db.session() as session:
            session.execute(text("SELECT n FROM counter")).scalar_one()
        with db.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT 1"))
        assert begins == [f"BEGIN {mode.upper()}"] * 3


def test_plain_reads_run_in_autocommit_and_a_first_write_begins_immediate(sqlite_db: TestDatabase) -> None:
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        begins = _begins(db)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0
            raw = conn.connection.driver_connection
            assert raw.in_transaction is False  # the read took no transaction, and so no lock
            assert begins == []
            conn.execute(text("UPDATE counter SET n = 5"))
            assert raw.in_transaction is True
            assert begins == ["BEGIN IMMEDIATE"]
            conn.execute(text("UPDATE counter SET n = 6"))
            conn.rollback()  # commit-as-you-go stays atomic: both updates are undone
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0


def test_a_second_writer_waits_at_begin(sqlite_db: TestDatabase) -> None:
    """BEGIN IMMEDIATE takes the write lock up front: a second transaction cannot even start its reads."""
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        begins = _begins(db)
        holding, order = threading.Event(), []

        def first() -> None:
            with db.transaction() as conn:
                conn.execute(text("UPDATE counter SET n = n + 1"))
                holding.set()
                time.sleep(0.4)
                order.append("first commits")

        thread = threading.Thread(target=first)
        thread.start()
        assert holding.wait(5)
        with db.transaction() as conn:
            # BEGIN IMMEDIATE goes out before this read and waits for the first to commit: the read sees 1.
            # A DEFERRED transaction would read the old snapshot (0) at once.
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 1
            order.append("second read")
        thread.join()
        assert order == ["first commits", "second read"]
        assert begins == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]


def _read_then_write_race(db: Database, *, first_waits_s: float) -> list[str]:
    """Two read-then-write transactions interleaved so that the second writer tries to commit between the
    first's read and its write. Returns the errors; the counter says whether an update was lost.

    Under IMMEDIATE the second is blocked at BEGIN, so the first waits ``first_waits_s`` in vain and goes on;
    under DEFERRED the second finishes while the first waits."""
    first_read, second_done, errors = threading.Event(), threading.Event(), []

    def first() -> None:
        try:
            with db.transaction() as conn:
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                first_read.set()
                second_done.wait(first_waits_s)
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except OperationalError as exc:
            errors.append(str(exc.orig))

    def second() -> None:
        first_read.wait(5)
        try:
            with db.transaction() as conn:
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except OperationalError as exc:
            errors.append(str(exc.orig))
        finally:
            second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_read_then_write_under_contention_succeeds_with_immediate(sqlite_db: TestDatabase) -> None:
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        assert _read_then_write_race(db, first_waits_s=0.3) == []
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 2


def test_read_then_write_under_contention_gets_busy_with_deferred(
    sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGROW_SQLITE_TRANSACTION_MODE", "deferred")
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        # SQLITE_BUSY_SNAPSHOT: the first cannot upgrade its stale snapshot; busy_timeout does not help.
        assert _read_then_write_race(db, first_waits_s=30) == ["database is locked"]
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 1


def test_orm_session_holds_the_write_lock_from_its_first_statement(sqlite_db: TestDatabase) -> None:
    assert sqlite_db.path is not None
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        with db.session() as session:
            session.execute(text("SELECT n FROM counter")).scalar_one()
            other = sqlite3.connect(sqlite_db.path, timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()


def test_read_gives_a_read_only_snapshot(sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_POOL_SIZE", "1")
    monkeypatch.setenv("OUTGROW_POOL_MAX_OVERFLOW", "1")
    assert sqlite_db.path is not None
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        with db.read() as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0
            writer = sqlite3.connect(sqlite_db.path, isolation_level=None)
            writer.execute("UPDATE counter SET n = 10")  # a deferred snapshot blocks no writer
            writer.close()
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0  # still the snapshot
            with pytest.raises(OperationalError, match="readonly database"):
                conn.execute(text("UPDATE counter SET n = 1"))
        with db.transaction() as conn:  # the same pooled connection is writable again
            conn.execute(text("UPDATE counter SET n = n + 1"))
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 11


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT 1", False),
        ("  select * from t", False),
        ("-- comment\n/* block */ SELECT 1", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),
        ("INSERT INTO t VALUES (1)", True),
        ("replace into t values (1)", True),
        ("UPDATE t SET a = 1", True),
        ("DELETE FROM t", True),
        ("CREATE TABLE t (a)", True),
        ("SAVEPOINT sa_savepoint_1", True),
        ("PRAGMA user_version", False),
        ("VACUUM", False),
        ("", False),
    ],
)
def test_which_statements_open_a_transaction(statement: str, writes: bool) -> None:
    assert statement_writes(statement) is writes


def test_a_begin_that_timed_out_leaves_the_connection_usable(
    sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGROW_SQLITE_BUSY_TIMEOUT_MS", "50")
    monkeypatch.setenv("OUTGROW_POOL_SIZE", "1")
    monkeypatch.setenv("OUTGROW_POOL_MAX_OVERFLOW", "0")
    assert sqlite_db.path is not None
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        blocker = sqlite3.connect(sqlite_db.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with db.engine.connect() as conn:
            with pytest.raises(OperationalError, match="database is locked"), conn.begin():
                conn.execute(text("UPDATE counter SET n = 1"))
            blocker.execute("ROLLBACK")
            with conn.begin():  # the same connection: transactions still begin and roll back whole
                conn.execute(text("UPDATE counter SET n = 2"))
                conn.execute(text("UPDATE counter SET n = 3"))
                conn.connection.driver_connection.rollback()
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0
        blocker.close()


def test_engines_derived_with_execution_options_keep_reads_in_autocommit(sqlite_db: TestDatabase) -> None:
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        begins = _begins(db)
        derived = db.engine.execution_options(logging_token="derived")
        with derived.connect() as conn:
            conn.execute(text("SELECT n FROM counter")).scalar_one()
            assert conn.connection.driver_connection.in_transaction is False
        with derived.begin() as conn:
            conn.execute(text("UPDATE counter SET n = 1"))
        assert begins == ["BEGIN IMMEDIATE"]


def test_autocommit_isolation_writes_stay_written(sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_POOL_SIZE", "1")
    monkeypatch.setenv("OUTGROW_POOL_MAX_OVERFLOW", "0")
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        with db.engine.connect() as conn:
            conn.execute(text("SELECT n FROM counter")).scalar_one()  # autobegun, nothing pending sent
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("UPDATE counter SET n = 7"))
        with db.engine.connect() as conn:  # the same pooled connection, back under outgrow's BEGIN control
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 7
            assert conn.connection.driver_connection.isolation_level is None
            conn.execute(text("UPDATE counter SET n = 8"))
            conn.rollback()
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 7


def test_a_savepoint_without_an_outer_transaction_still_rolls_back_whole(sqlite_db: TestDatabase) -> None:
    with connect(sqlite_db.settings()) as db:
        _counter(db)
        with db.engine.connect() as conn:
            with conn.begin_nested():
                conn.execute(text("UPDATE counter SET n = 3"))
            conn.rollback()
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 0
