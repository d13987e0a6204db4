"""Options shared by several commands, and turning them into Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from outgrow.errors import ConfigurationError
from outgrow.settings import Settings

__all__ = ["EnvFileOption", "JsonOption", "UrlOption", "load_settings"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Database URL; overrides DATABASE_URL and DB_*.", show_default=False)
]
EnvFileOption = Annotated[
    Path | None,
    typer.Option("--env-file", help="Read settings from this file instead of ./.env.", show_default=False),
]


def load_settings(url: str | None = None, env_file: Path | None = None) -> Settings:
    """Settings from the environment and ``.env`` (or ``env_file``), with ``url`` on top."""
    overrides: dict[str, Any] = {}
    if env_file is not None:
        if not env_file.is_file():
            raise ConfigurationError(f"no settings file at {env_file}", hint="check the --env-file path")
        overrides["_env_file"] = env_file
    if url is not None:
        overrides["database_url"] = url
    return Settings(**overrides)
