"""Backups: online, verified, restorable, on a schedule; SQLite files and PostgreSQL databases."""

from outgrow.backup.catalog import PruneResult, VerifyResult, find_backup, list_backups, prune_backups
from outgrow.backup.destination import Destination, LocalDirectory
from outgrow.backup.manifest import Manifest
from outgrow.backup.retention import RetentionPolicy, kept
from outgrow.backup.service import (
    Database,
    create_backup,
    default_directory,
    resolve_database,
    restore_backup,
    source_of,
    verify,
)
from outgrow.backup.sqlite_backup import litestream_managed
from outgrow.backup.sqlite_restore import RestoreResult, holders

__all__ = [
    "Database",
    "Destination",
    "LocalDirectory",
    "Manifest",
    "PruneResult",
    "RestoreResult",
    "RetentionPolicy",
    "VerifyResult",
    "create_backup",
    "default_directory",
    "find_backup",
    "holders",
    "kept",
    "list_backups",
    "litestream_managed",
    "prune_backups",
    "resolve_database",
    "restore_backup",
    "source_of",
    "verify",
]
