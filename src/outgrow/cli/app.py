"""The Typer application; each command lives in its own module and only parses, calls and renders."""

from __future__ import annotations

import os
import sys

import typer

from outgrow.cli import demo_command, info_command, migrate_command
from outgrow.cli.backup_command import backup_app
from outgrow.cli.monitor_command import monitor_app
from outgrow.cli.render import print_error
from outgrow.errors import OutgrowError

__all__ = ["app", "main"]

app = typer.Typer(
    name="outgrow",
    help="Start on SQLite, know when you outgrow it, move to PostgreSQL with nothing lost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("info")(info_command.info)
app.command("demo")(demo_command.demo)
app.command("migrate")(migrate_command.migrate_cmd)
app.command("verify")(migrate_command.verify_cmd)
app.add_typer(backup_app, name="backup")
app.add_typer(monitor_app, name="monitor")


def main() -> None:
    """Entry point of the ``outgrow`` script: OutgrowError becomes one line and its exit code."""
    try:
        app(prog_name="outgrow")
    except OutgrowError as exc:
        print_error(exc)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the machine said no (permissions, a full disk): not a bug, still one line
        print_error(OutgrowError(str(exc), hint="check the path, its permissions and free space"))
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("OUTGROW_DEBUG"):
            raise
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print_error(OutgrowError(
            f"unexpected {type(exc).__name__}: {first_line}",
            hint="this is a bug in outgrow; run again with OUTGROW_DEBUG=1 for the traceback"))
        sys.exit(1)
