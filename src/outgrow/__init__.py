"""outgrow: start on SQLite, know from measurements when you outgrow it, move to PostgreSQL with nothing lost.

The public API is listed in ``__all__``; everything else is internal and may change.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from outgrow.engine import Database, connect
    from outgrow.info import DatabaseInfo, describe_database
    from outgrow.monitor import collect_metrics
    from outgrow.settings import Settings

# Imported on first use: a process that needs only part of outgrow (a copy worker) need not load SQLAlchemy's
# engine and pydantic (half a second).
_LAZY = {"Database": "outgrow.engine", "connect": "outgrow.engine", "DatabaseInfo": "outgrow.info",
         "describe_database": "outgrow.info", "Settings": "outgrow.settings", "collect_metrics": "outgrow.monitor"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'outgrow' has no attribute {name!r}")

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
    "collect_metrics",
    "connect",
    "describe_database",
]
