"""The public surface is listed by hand; this pins it so a change to it is a deliberate one."""

from __future__ import annotations

import importlib

import pytest

import outgrow


def test_top_level_api() -> None:
    assert sorted(outgrow.__all__) == sorted([
        "AuthenticationFailed", "BackupDamaged", "BackupError", "ConfigurationError", "Database", "DatabaseInfo",
        "DatabaseNotFound",
        "DatabaseUnavailable", "MigrationError", "NotASQLiteDatabase", "OutgrowError", "ServerUnreachable",
        "Settings", "VerificationFailed", "__version__", "collect_metrics", "connect", "describe_database",
    ])


@pytest.mark.parametrize("module", ["outgrow", "outgrow.errors", "outgrow.dialects", "outgrow.demo",
                                    "outgrow.testing", "outgrow.cli", "outgrow.migrate",
                                    "outgrow.backup", "outgrow.monitor"])
def test_every_exported_name_exists(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.{name}"


def test_every_error_descends_from_the_one_root() -> None:
    from outgrow import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.OutgrowError)
    assert errors.ConfigurationError.exit_code == 2
    assert errors.DatabaseNotFound("x").exit_code == 1
