"""SQLite -> PostgreSQL migration: exact types, every value carried or reported, verified, atomic."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from outgrow.migrate.load import STAGING_PREFIX, LoadOptions, TableReport
    from outgrow.migrate.plan import ColumnPlan, MigrationPlan, Reject, TablePlan, build_plan, target_identifier
    from outgrow.migrate.preflight import PreflightCheck, preflight
    from outgrow.migrate.run import MigrationReport, migrate, verify
    from outgrow.migrate.values import ColumnRule, Rejection, TypeChoice, escape_value, rule_for

# Imported on first use: a copy worker process loads only the modules it runs (outgrow.migrate.workers).
_LAZY = {
    "STAGING_PREFIX": "load", "LoadOptions": "load", "TableReport": "load",
    "ColumnPlan": "plan", "MigrationPlan": "plan", "Reject": "plan", "TablePlan": "plan", "build_plan": "plan",
    "target_identifier": "plan",
    "PreflightCheck": "preflight", "preflight": "preflight",
    "MigrationReport": "run", "migrate": "run", "verify": "run",
    "ColumnRule": "values", "Rejection": "values", "TypeChoice": "values", "escape_value": "values",
    "rule_for": "values",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"outgrow.migrate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'outgrow.migrate' has no attribute {name!r}")


__all__ = [
    "STAGING_PREFIX",
    "ColumnPlan",
    "ColumnRule",
    "LoadOptions",
    "MigrationPlan",
    "MigrationReport",
    "PreflightCheck",
    "Reject",
    "Rejection",
    "TablePlan",
    "TableReport",
    "TypeChoice",
    "build_plan",
    "escape_value",
    "migrate",
    "preflight",
    "rule_for",
    "target_identifier",
    "verify",
]
