"""4 writer processes and 4 reader threads on one file: no 'database is locked', no lost update."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from outgrow.testing.contention import (
    CounterClient,
    create_counter_schema,
    open_outgrow_client,
    open_plugin_client,
    run_contention,
)

TRANSACTIONS_PER_WRITER = 150


@pytest.mark.parametrize("open_client", [open_outgrow_client, open_plugin_client], ids=["connect", "plugin"])
def test_read_then_write_under_contention_loses_nothing(
    tmp_path: Path, open_client: Callable[[str], CounterClient]
) -> None:
    result = run_contention(tmp_path / "counter.db", open_client, writers=4, readers=4,
                            transactions_per_writer=TRANSACTIONS_PER_WRITER, reads_per_reader=150)
    assert result.errors == []
    assert result.read_errors == []
    assert result.busy_errors == 0
    assert result.committed == 4 * TRANSACTIONS_PER_WRITER
    assert result.final_balance == 4 * TRANSACTIONS_PER_WRITER  # every increment kept: no lost update
    assert result.lost_updates == 0
    assert result.ledger_rows == 4 * TRANSACTIONS_PER_WRITER
    assert result.missing_ledger_rows == 0


def _open_together(url: str, barrier: Any) -> str:
    engine = create_engine(f"{url}?plugin=outgrow")
    barrier.wait()
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())
    except Exception as exc:
        return f"error: {exc}"
    finally:
        engine.dispose()


def test_processes_opening_a_new_file_together_all_get_wal(tmp_path: Path) -> None:
    """Switching to WAL needs an exclusive lock that SQLite refuses at once to concurrent openers."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(8, mp_context=ctx) as pool:
        for round_ in range(3):
            path = tmp_path / f"new-{round_}.db"
            create_counter_schema(path)  # a rollback-journal file, as an application's first run leaves it
            barrier = manager.Barrier(8)
            modes = list(pool.map(_open_together, [f"sqlite:///{path}"] * 8, [barrier] * 8))
            assert modes == ["wal"] * 8
