"""Every test starts from a clean configuration: no outgrow settings from the caller's environment or .env."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from outgrow.settings import Settings, env_name

SETTING_VARIABLES = {env_name(field) for field in Settings.model_fields}
# Runs the whole suite with every migration spread over this many copy workers (.ci/run does, with 4).
MIGRATE_JOBS = os.environ.get("OUTGROW_TEST_MIGRATE_JOBS")


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper() in SETTING_VARIABLES:
            monkeypatch.delenv(name)
    if MIGRATE_JOBS:
        monkeypatch.setenv(env_name("migrate_jobs"), MIGRATE_JOBS)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def outgrow_cli() -> list[str]:
    """The command that runs the CLI in a real subprocess (as a user would)."""
    return [sys.executable, "-m", "outgrow"]


pytest_plugins = ["pytester"]
