"""Progress of a migration, per table and phase, reported in batches (a callback per row would cost more than
some of the work it reports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["EVERY", "Progress", "Step", "Ticker"]

EVERY = 5000  # rows between reports


@dataclass(frozen=True)
class Step:
    phase: Literal["check", "copy"]  # check: every value read and checked (the plan); copy: sent to PostgreSQL
    table: str
    done: int  # rows of this table so far
    total: int  # rows in the table
    delta: int  # rows since the previous report
    sent_bytes: int = 0  # COPY data sent for this table so far (copy phase)


Progress = Callable[[Step], None]


class Ticker:
    """Counts rows of one table and phase, and reports every :data:`EVERY` rows and at the end."""

    def __init__(self, progress: Progress | None, phase: Literal["check", "copy"], table: str, total: int) -> None:
        self.progress, self.phase, self.table, self.total = progress, phase, table, total
        self.done = self.reported = 0
        self.sent_bytes = 0

    def add_bytes(self, count: int) -> None:
        """Count COPY data sent (reported with the next rows)."""
        self.sent_bytes += count

    def tick(self) -> None:
        self.done += 1
        if self.done - self.reported >= EVERY:
            self._report()

    def advance(self, rows: int) -> None:
        """Count ``rows`` more at once (a batch)."""
        self.done += rows
        if self.done - self.reported >= EVERY:
            self._report()

    def finish(self) -> None:
        if self.done != self.reported or self.done == 0:
            self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(Step(self.phase, self.table, self.done, self.total, self.done - self.reported,
                               self.sent_bytes))
        self.reported = self.done
