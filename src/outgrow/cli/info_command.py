"""``outgrow info``: the effective configuration and the settings in force on a live connection."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from outgrow.cli.options import EnvFileOption, JsonOption, UrlOption, load_settings
from outgrow.cli.render import console, print_json
from outgrow.engine import connect
from outgrow.info import DatabaseInfo, describe_database

__all__ = ["info", "render_info"]


def info(json_output: JsonOption = False, url: UrlOption = None, env_file: EnvFileOption = None) -> None:
    """Show the effective configuration, the server version and, for SQLite, the pragmas in force."""
    settings = load_settings(url, env_file)
    with connect(settings, create=False) as db:
        report = describe_database(db)
    if json_output:
        print_json(report.to_dict())
    else:
        render_info(report)


def render_info(report: DatabaseInfo) -> None:
    """Print ``report`` as tables."""
    overview = Table(title="Database", show_header=False, title_justify="left")
    overview.add_row("engine", report.engine)
    overview.add_row("url", escape(report.url))
    overview.add_row("driver", report.driver)
    overview.add_row("server version", report.server_version)
    overview.add_row("pool", ", ".join(f"{k}={v}" for k, v in report.pool.items()))
    if report.ssl is not None:
        overview.add_row("ssl", "on" if report.ssl else "off")
    console.print(overview)
    if report.pragmas:
        console.print(_pragma_table(report.pragmas, report.requested_pragmas))
    if report.server_settings:
        server = Table("setting", "in force", title="Server settings (read back)", title_justify="left")
        for name, value in report.server_settings.items():
            server.add_row(name, escape(str(value)))
        console.print(server)
    settings = Table("setting", "value", title="Effective configuration", title_justify="left")
    for name, value in report.settings.items():
        settings.add_row(name, "" if value is None else escape(str(value)))
    console.print(settings)


def _pragma_table(pragmas: dict[str, Any], requested: dict[str, Any]) -> Table:
    table = Table("pragma", "in force", "requested", title="SQLite pragmas (read back from a pooled connection)",
                  title_justify="left")
    for name, value in pragmas.items():
        wanted = requested.get(name)
        mark = "" if wanted is None or wanted == value else " [red](differs)[/]"
        table.add_row(name, f"{value}{mark}", "" if wanted is None else str(wanted))
    return table
