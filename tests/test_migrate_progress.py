"""Migration progress: batched per table and phase; plain lines when stderr is not a terminal."""

from __future__ import annotations

import pytest

from outgrow.cli import migrate_progress
from outgrow.cli.render import error_console
from outgrow.migrate.progress import EVERY, Step, Ticker


def test_ticker_reports_in_batches_and_at_the_end() -> None:
    steps: list[Step] = []
    ticker = Ticker(steps.append, "copy", "events", 2 * EVERY + 7)
    for _ in range(2 * EVERY + 7):
        ticker.tick()
    ticker.finish()
    assert [(s.done, s.delta) for s in steps] == [(EVERY, EVERY), (2 * EVERY, EVERY), (2 * EVERY + 7, 7)]
    assert sum(s.delta for s in steps) == 2 * EVERY + 7
    empty: list[Step] = []
    Ticker(empty.append, "check", "none", 0).finish()
    assert [(s.table, s.done, s.total) for s in empty] == [("none", 0, 0)]  # an empty table still shows up


def test_plain_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrate_progress, "PLAIN_EVERY_S", 0.0)
    with error_console.capture() as captured, migrate_progress.MigrationProgress(quiet=False) as progress:
        assert progress.bars is None  # the test's stderr is not a terminal
        progress(Step("copy", "events", 250, 1000, 250))
    assert captured.get().strip() == "copy events: 250/1,000 rows (25%)"
    with error_console.capture() as captured, migrate_progress.MigrationProgress(quiet=False) as progress:
        progress(Step("copy", "events", 500, 1000, 250, 2_500_000))
    assert captured.get().strip() == "copy events: 500/1,000 rows (50%), 2.5 MB sent"
    with error_console.capture() as silent, migrate_progress.MigrationProgress(quiet=True) as progress:
        progress(Step("copy", "events", 250, 1000, 250))
    assert silent.get() == ""
