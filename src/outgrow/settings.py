"""Settings: one declarative table, read from keyword arguments, the environment and a ``.env`` file.

Precedence, highest first: keyword arguments to ``Settings(...)``, environment variables, the ``.env``
file, the defaults below. ``DATABASE_URL``, when set, wins over the ``DB_*`` form. Keys outgrow does not
know are ignored and never echoed: an application's ``.env`` holds secrets that are none of our business.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from outgrow.errors import ConfigurationError
from outgrow.urls import engine_name, mask_url, normalize_url

__all__ = ["Settings", "env_name"]

SECRET_FIELDS = frozenset({"db_password", "alert_webhook_secret"})
URL_FIELDS = frozenset({"database_url", "target_url"})
# The seed's (Laravel's) names, read without the OUTGROW_ prefix.
UNPREFIXED_FIELDS = frozenset(
    {"database_url", "db_connection", "db_database", "db_host", "db_port", "db_username", "db_password",
     "db_sslmode", "db_search_path"}
)
_LOWERCASED_FIELDS = (
    "db_connection", "db_sslmode", "sqlite_journal_mode", "sqlite_synchronous", "sqlite_temp_store",
    "sqlite_transaction_mode",
)


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return field.upper() if field in UNPREFIXED_FIELDS else f"OUTGROW_{field.upper()}"


def _seed_field(name: str, default: Any, description: str, **extra: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(name, name.upper()), description=description, **extra)


class Settings(BaseSettings):
    """outgrow's configuration. Each field is documented in the README's configuration reference."""

    model_config = SettingsConfigDict(
        env_prefix="OUTGROW_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # -- which database: DATABASE_URL, or the seed's DB_* form ---------------------------------------
    database_url: str | None = _seed_field(
        "database_url", None, "The application's database, e.g. sqlite:///app.db or postgresql://u:p@host/db. "
        "Wins over DB_*.", repr=False)
    db_connection: Literal["sqlite", "pgsql"] = _seed_field(
        "db_connection", "sqlite", "Engine when DATABASE_URL is unset: sqlite or pgsql.")
    db_database: str | None = _seed_field(
        "db_database", None, "SQLite file path (default app.db) or PostgreSQL database name.")
    db_host: str = _seed_field("db_host", "127.0.0.1", "PostgreSQL host or Unix socket directory.")
    db_port: int = _seed_field("db_port", 5432, "PostgreSQL port.")
    db_username: str | None = _seed_field("db_username", None, "PostgreSQL role.")
    db_password: SecretStr | None = _seed_field("db_password", None, "PostgreSQL password (always masked).")
    db_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = (
        _seed_field("db_sslmode", None, "libpq sslmode for PostgreSQL; overrides one given in the URL."))
    db_search_path: str | None = _seed_field(
        "db_search_path", None, "PostgreSQL search_path set on every connection, e.g. app,public.")

    # -- outgrow's own options -------------------------------------------------------------------------
    target_url: str | None = Field(None, description="The PostgreSQL a migration writes to.", repr=False)
    sqlite_journal_mode: Literal["wal", "delete", "truncate", "persist", "memory", "off"] = Field(
        "wal", description="PRAGMA journal_mode. WAL lets readers run while one writer writes.")
    sqlite_synchronous: Literal["off", "normal", "full", "extra"] = Field(
        "normal", description="PRAGMA synchronous. NORMAL is durable against crashes of the app under WAL.")
    sqlite_foreign_keys: bool = Field(True, description="PRAGMA foreign_keys: enforce declared foreign keys.")
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="PRAGMA busy_timeout: how long a writer waits for the lock before SQLITE_BUSY.")
    sqlite_cache_size_kib: int = Field(
        64000, ge=0, description="Page cache per connection in KiB (sent as PRAGMA cache_size=-N).")
    sqlite_temp_store: Literal["default", "file", "memory"] = Field(
        "memory", description="PRAGMA temp_store: where temporary tables and indexes live.")
    sqlite_mmap_size_bytes: int = Field(268435456, ge=0, description="PRAGMA mmap_size in bytes.")
    sqlite_journal_size_limit_bytes: int = Field(
        67108864, ge=-1, description="PRAGMA journal_size_limit: WAL size kept after a checkpoint (-1: no limit).")
    sqlite_transaction_mode: Literal["immediate", "deferred", "exclusive"] = Field(
        "immediate", description="How explicit transactions begin on SQLite: BEGIN IMMEDIATE, DEFERRED or EXCLUSIVE.")
    backup_dir: Path | None = Field(None, description="Where backups are written and read (default: NAME-backups "
                                    "beside a SQLite file, ./outgrow-backups for PostgreSQL).")
    migrate_jobs: int | None = Field(None, ge=1, description="Copy worker processes for outgrow migrate (default: one "
                                     "per core for a source of 48 MiB or more; 1: copy in one process).")
    monitor_enabled: bool = Field(True, description="Time every statement of connect()'s engines (the probe); "
                                  "off: no probe, no history.")
    slow_query_ms: float = Field(150.0, gt=0, description="A statement taking this long or longer is slow: its "
                                 "fingerprint is logged with a masked sample and its query plan.")
    history_path: Path | None = Field(None, description="The monitoring history file (default: NAME-outgrow-history.db "
                                      "beside a SQLite database; for PostgreSQL no history unless set).")
    monitor_flush_s: float = Field(5.0, gt=0, description="Seconds between a probe's flushes of its counts into "
                                   "the history.")
    monitor_sample_s: float = Field(60.0, gt=0, description="Seconds between history samples (any probed process "
                                    "or outgrow monitor run takes them).")
    history_raw_hours: float = Field(24.0, gt=0, description="Hours raw samples are kept before 5-minute merging.")
    history_5min_days: float = Field(30.0, gt=0, description="Days 5-minute samples are kept before hourly merging.")
    history_hourly_days: float = Field(365.0, gt=0, description="Days hourly samples are kept.")
    alert_db_size_bytes: int = Field(800_000_000, gt=0, description="Alert when the database is larger (the seed's "
                                     "800 MB).")
    alert_p95_ms: float = Field(150.0, gt=0, description="Alert when the statements' p95 is slower (the seed's "
                                "150 ms).")
    alert_busy_rate: float = Field(0.01, gt=0, description="Alert when more than this share of write transactions "
                                   "met a busy/locked database.")
    alert_wal_bytes: int = Field(268_435_456, gt=0, description="Alert when SQLite's WAL file is larger.")
    alert_for_s: float = Field(300.0, ge=0, description="Seconds a rule's condition must hold before it fires.")
    alert_webhook_url: str | None = Field(None, description="POST alert changes here as JSON (signed when "
                                          "OUTGROW_ALERT_WEBHOOK_SECRET is set).")
    alert_webhook_secret: SecretStr | None = Field(None, description="Key of the webhook's HMAC-SHA256 signature "
                                                   "header X-Outgrow-Signature (always masked).")
    metrics_host: str = Field("127.0.0.1", description="Address outgrow monitor run serves /metrics on.")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Port of /metrics (9464: OpenTelemetry's "
                              "Prometheus exporter default).")
    pool_size: int = Field(5, ge=1, description="Connections kept open per process.")
    pool_max_overflow: int = Field(10, ge=0, description="Extra connections opened under load, closed when idle.")
    pool_timeout_s: float = Field(30.0, gt=0, description="Seconds to wait for a free pooled connection.")
    pg_application_name: str = Field("outgrow", description="application_name shown in pg_stat_activity.")
    pg_statement_timeout_ms: int | None = Field(
        None, ge=0, description="PostgreSQL statement_timeout per connection (unset: the server's).")
    pg_connect_timeout_s: int = Field(10, ge=1, description="Seconds to wait for a PostgreSQL connection.")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _configuration_error(exc) from None

    @field_validator(*_LOWERCASED_FIELDS, mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url", "target_url", mode="before")
    @classmethod
    def _normalize_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        return normalize_url(value).render_as_string(hide_password=False)

    def __repr_args__(self) -> Any:
        # URLs carry passwords: show them masked rather than not at all.
        yield from super().__repr_args__()
        for name in sorted(URL_FIELDS):
            value = getattr(self, name)
            yield name, None if value is None else mask_url(value)

    # -- derived values -------------------------------------------------------------------------------
    def url(self) -> URL:
        """The application's database URL in outgrow's normal form."""
        if self.database_url:
            return normalize_url(self.database_url)
        if self.db_connection == "sqlite":
            return URL.create("sqlite", database=self.db_database or "app.db")
        return URL.create(
            "postgresql+psycopg",
            username=self.db_username,
            password=self.db_password.get_secret_value() if self.db_password else None,
            host=self.db_host,
            port=self.db_port,
            database=self.db_database,
        )

    @property
    def engine(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return engine_name(self.url())

    def masked_url(self) -> str:
        """The database URL with its password masked, for output and logs."""
        return mask_url(self.url().render_as_string(hide_password=False))

    def effective(self) -> dict[str, Any]:
        """Every setting by its environment name, secrets masked: what ``outgrow info`` shows."""
        shown: dict[str, Any] = {}
        for field in type(self).model_fields:
            value = getattr(self, field)
            if field in SECRET_FIELDS and value is not None:
                value = "***"
            elif field in URL_FIELDS and value is not None:
                value = mask_url(value)
            shown[env_name(field)] = value
        return shown


def _configuration_error(exc: ValidationError) -> ConfigurationError:
    first = exc.errors()[0]
    field = _field_for(first["loc"])
    value = first.get("input")
    if field in SECRET_FIELDS:
        shown = "***"
    elif isinstance(value, str):
        shown = repr(mask_url(value) if field in URL_FIELDS else value)
    else:
        shown = repr(value)
    reason = first["msg"].removeprefix("Value error, ")
    reason = reason[:1].lower() + reason[1:]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    name = env_name(field) if field else "settings"
    return ConfigurationError(
        f"invalid setting {name}={shown}: {reason}{more}",
        hint=f"fix {name} in the environment or .env; the README's configuration reference lists each setting",
    )


def _field_for(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return ""
    key = str(loc[0]).lower()
    return key.removeprefix("outgrow_") if key.removeprefix("outgrow_") in Settings.model_fields else key
