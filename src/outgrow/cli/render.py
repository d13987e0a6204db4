"""Output for people (Rich) and for scripts (JSON), and the one way errors are shown."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from outgrow.errors import OutgrowError

__all__ = ["console", "error_console", "print_error", "print_json"]

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout, without Rich markup or wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_error(exc: OutgrowError) -> None:
    """One line for the error, one for the hint; never a traceback."""
    error_console.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
    if exc.hint:
        error_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", soft_wrap=True)
