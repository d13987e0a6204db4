"""The one error tree of outgrow.

Every error outgrow raises on purpose is an :class:`OutgrowError`. The CLI catches the root, prints
``error: <message>`` and ``hint: <hint>`` on two lines at most, and exits with ``exit_code``; a traceback
reaching a user is a bug.

::

    OutgrowError                      exit 1
     ├── ConfigurationError           exit 2  a setting or URL that cannot be used as given
     ├── MigrationError               exit 1  a migration stopped; the target is as it was
     │    └── VerificationFailed              source and target differ after a copy
     └── DatabaseUnavailable          exit 1  the configured database cannot be opened
          ├── DatabaseNotFound                no SQLite file at the configured path
          ├── NotASQLiteDatabase              the file exists but is not a SQLite database
          ├── ServerUnreachable               no PostgreSQL answers at the configured address
          └── AuthenticationFailed            the server refused the role or password

Messages never carry a password: URLs in them are masked with :func:`outgrow.settings.mask_url`.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BackupDamaged",
    "BackupError",
    "ConfigurationError",
    "DatabaseNotFound",
    "DatabaseUnavailable",
    "MigrationError",
    "NotASQLiteDatabase",
    "OutgrowError",
    "ServerUnreachable",
    "VerificationFailed",
]


class OutgrowError(Exception):
    """Root of every error outgrow raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigurationError(OutgrowError):
    """A setting, URL or option that cannot be used as given (a usage error)."""

    exit_code = 2


class MigrationError(OutgrowError):
    """A migration stopped before its swap: the target is exactly as it was."""


class VerificationFailed(MigrationError):
    """Row counts or content checksums differ between the source and the target."""


class BackupError(OutgrowError):
    """A backup, verification, restore or prune could not be done; nothing was replaced."""


class BackupDamaged(BackupError):
    """A stored backup does not match its manifest (hash, size, integrity or an unreadable archive)."""


class DatabaseUnavailable(OutgrowError):
    """The configured database cannot be opened."""


class DatabaseNotFound(DatabaseUnavailable):
    """No SQLite database file at the configured path."""


class NotASQLiteDatabase(DatabaseUnavailable):
    """The file exists but SQLite does not recognise it as a database."""


class ServerUnreachable(DatabaseUnavailable):
    """No PostgreSQL server answers at the configured address."""


class AuthenticationFailed(DatabaseUnavailable):
    """The server refused the role or the password (the password is never echoed)."""
