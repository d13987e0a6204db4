"""outgrow: start on SQLite, know from measurements when you outgrow it, move to PostgreSQL with nothing lost.

The public API is listed in ``__all__``; everything else is internal and may change.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from outgrow.engine import Database, connect
from outgrow.errors import (
    AuthenticationFailed,
    BackupDamaged,
    BackupError,
    ConfigurationError,
    DatabaseNotFound,
    DatabaseUnavailable,
    MigrationError,
    NotASQLiteDatabase,
    OutgrowError,
    ServerUnreachable,
    VerificationFailed,
)
from outgrow.info import DatabaseInfo, describe_database
from outgrow.settings import Settings

try:
    __version__ = version("outgrow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "AuthenticationFailed",
    "BackupDamaged",
    "BackupError",
    "ConfigurationError",
    "Database",
    "DatabaseInfo",
    "DatabaseNotFound",
    "DatabaseUnavailable",
    "MigrationError",
    "NotASQLiteDatabase",
    "OutgrowError",
    "ServerUnreachable",
    "Settings",
    "VerificationFailed",
    "__version__",
    "connect",
    "describe_database",
]
