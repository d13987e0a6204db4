"""Docs that cannot drift: every command, option and setting is in the README."""

from __future__ import annotations

from pathlib import Path

import typer
import typer.core

from outgrow.cli import app
from outgrow.settings import Settings, env_name

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _missing(group: typer.core.TyperGroup, prefix: str) -> list[str]:
    missing = []
    for name, command in group.commands.items():
        if f"{prefix} {name}" not in README:
            missing.append(f"{prefix} {name}")
        if isinstance(command, typer.core.TyperGroup):  # outgrow backup create, ...
            missing += _missing(command, f"{prefix} {name}")
        for param in command.params:
            missing += [f"{prefix} {name} {opt}" for opt in param.opts
                        if opt.startswith("--") and opt != "--help" and opt not in README]
    return missing


def test_every_command_and_option_is_in_the_readme() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    assert _missing(group, "outgrow") == []


def test_every_setting_is_in_the_readme() -> None:
    missing = [env_name(field) for field in Settings.model_fields if f"`{env_name(field)}`" not in README]
    assert missing == []


def test_readme_starts_with_the_two_commands() -> None:
    head = README[: README.index("## Configuration")]
    assert "./run demo" in head
    assert "./run test" in head
