"""4 writer processes and 4 reader threads on one file: no 'database is locked', no lost update."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from outgrow.testing.contention import CounterClient, open_outgrow_client, open_plugin_client, run_contention

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
