"""The ``outgrow`` command: a thin Typer shell over the library (parse, call, render)."""

from __future__ import annotations

from outgrow.cli.app import app, main

__all__ = ["app", "main"]
