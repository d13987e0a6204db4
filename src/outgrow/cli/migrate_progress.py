"""Migration progress for people: a Rich bar per table and phase on a terminal (rows, rate, MB, ETA), periodic
plain lines on stderr otherwise (logs, CI), nothing with --json."""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from outgrow.cli.render import error_console
from outgrow.migrate.progress import Step

__all__ = ["MigrationProgress"]

PLAIN_EVERY_S = 5.0


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "")


class _Volume(ProgressColumn):
    """COPY data sent: MB and MB/s (the copy phase)."""

    def render(self, task: Task) -> Text:
        sent = task.fields.get("sent_bytes", 0)
        if not sent:
            return Text("")
        elapsed = task.elapsed or 0
        rate = f", {sent / elapsed / 1e6:,.1f} MB/s" if elapsed > 0 else ""
        return Text(f"{sent / 1e6:,.1f} MB{rate}")


class MigrationProgress:
    """The ``progress`` callback of :func:`outgrow.migrate.migrate`, as a context manager."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.bars = None if quiet or not error_console.is_terminal else Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(), _Volume(),
            TimeRemainingColumn(),
            TimeElapsedColumn(), console=error_console, transient=True)
        self.tasks: dict[tuple[str, str], Any] = {}
        self.last_line = time.monotonic()  # a run shorter than PLAIN_EVERY_S prints no progress line at all

    def __enter__(self) -> MigrationProgress:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.bars is not None:
            self.bars.stop()

    def __call__(self, step: Step) -> None:
        if self.quiet:
            return
        if self.bars is not None:
            key = (step.phase, step.table)
            if key not in self.tasks:
                self.tasks[key] = self.bars.add_task(f"{step.phase} {escape(step.table)}", total=step.total)
            self.bars.update(self.tasks[key], completed=step.done, sent_bytes=step.sent_bytes)
            return
        now = time.monotonic()
        if now - self.last_line >= PLAIN_EVERY_S:
            self.last_line = now
            share = f" ({100 * step.done / step.total:.0f}%)" if step.total else ""
            volume = f", {step.sent_bytes / 1e6:,.1f} MB sent" if step.sent_bytes else ""
            error_console.print(f"{step.phase} {escape(step.table)}: {step.done:,}/{step.total:,} rows{share}{volume}",
                                highlight=False)
