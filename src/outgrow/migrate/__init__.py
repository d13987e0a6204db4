"""SQLite -> PostgreSQL migration: exact types, every value carried or reported, verified, atomic."""

from __future__ import annotations

from outgrow.migrate.load import STAGING_PREFIX, LoadOptions, TableReport
from outgrow.migrate.plan import ColumnPlan, MigrationPlan, Reject, TablePlan, build_plan, target_identifier
from outgrow.migrate.preflight import PreflightCheck, preflight
from outgrow.migrate.run import MigrationReport, migrate, verify
from outgrow.migrate.values import ColumnRule, Rejection, TypeChoice, escape_value, rule_for

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
