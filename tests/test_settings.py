from __future__ import annotations

from pathlib import Path

import pytest

from outgrow import ConfigurationError, Settings
from outgrow.urls import mask_url


def test_defaults_are_a_sqlite_file_named_app_db() -> None:
    settings = Settings()
    assert settings.url().render_as_string() == "sqlite:///app.db"
    assert settings.engine == "sqlite"
    assert (settings.sqlite_journal_mode, settings.sqlite_synchronous, settings.sqlite_busy_timeout_ms) == (
        "wal", "normal", 5000)
    assert (settings.pool_size, settings.pool_max_overflow) == (5, 10)
    assert settings.sqlite_transaction_mode == "immediate"


@pytest.mark.parametrize(
    "raw",
    ["postgres://app:pw@db.example:5433/prod", "postgresql://app:pw@db.example:5433/prod",
     "postgresql+psycopg://app:pw@db.example:5433/prod", "POSTGRESQL://app:pw@db.example:5433/prod"],
)
def test_every_postgres_spelling_means_psycopg3(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DATABASE_URL", raw)
    url = Settings().url()
    assert url.render_as_string(hide_password=False) == "postgresql+psycopg://app:pw@db.example:5433/prod"
    assert Settings().engine == "postgresql"


def test_seed_style_pgsql_settings_build_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"DB_CONNECTION": "pgsql", "DB_HOST": "db.internal", "DB_PORT": "6432",
                        "DB_USERNAME": "app", "DB_PASSWORD": "p@ss/word", "DB_DATABASE": "prod"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.url().render_as_string(hide_password=False) == (
        "postgresql+psycopg://app:p%40ss%2Fword@db.internal:6432/prod")
    assert settings.masked_url() == "postgresql+psycopg://app:***@db.internal:6432/prod"
    assert settings.effective()["DB_PASSWORD"] == "***"


def test_seed_style_sqlite_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_CONNECTION", "sqlite")
    monkeypatch.setenv("DB_DATABASE", "data/app.sqlite")
    assert Settings().url().render_as_string() == "sqlite:///data/app.sqlite"


def test_database_url_wins_over_db_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_CONNECTION", "pgsql")
    monkeypatch.setenv("DB_HOST", "ignored")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///chosen.db")
    assert Settings().url().render_as_string() == "sqlite:///chosen.db"


def test_precedence_keyword_then_environment_then_dotenv_then_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "OUTGROW_POOL_SIZE=7\nOUTGROW_POOL_MAX_OVERFLOW=3\nOUTGROW_SQLITE_BUSY_TIMEOUT_MS=900\n")
    monkeypatch.setenv("OUTGROW_POOL_MAX_OVERFLOW", "4")
    monkeypatch.setenv("OUTGROW_SQLITE_BUSY_TIMEOUT_MS", "800")
    settings = Settings(sqlite_busy_timeout_ms=700)
    assert settings.pool_size == 7  # .env over the default 5
    assert settings.pool_max_overflow == 4  # environment over .env
    assert settings.sqlite_busy_timeout_ms == 700  # keyword over environment
    assert settings.sqlite_cache_size_kib == 64000  # default


def test_unknown_keys_in_environment_and_dotenv_are_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STRIPE_SECRET_KEY=sk_live_do_not_echo\nOUTGROW_NOT_A_SETTING=1\nDB_PORT=6000\n")
    monkeypatch.setenv("OUTGROW_ALSO_UNKNOWN", "x")
    settings = Settings()
    assert settings.db_port == 6000
    assert "sk_live_do_not_echo" not in repr(settings.effective())


def test_values_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_SQLITE_JOURNAL_MODE", "WAL")
    monkeypatch.setenv("OUTGROW_SQLITE_TRANSACTION_MODE", "Deferred")
    settings = Settings()
    assert (settings.sqlite_journal_mode, settings.sqlite_transaction_mode) == ("wal", "deferred")


def test_invalid_value_names_the_setting_and_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_SQLITE_TRANSACTION_MODE", "sometimes")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.message == (
        "invalid setting OUTGROW_SQLITE_TRANSACTION_MODE='sometimes': "
        "input should be 'immediate', 'deferred' or 'exclusive'")
    assert caught.value.exit_code == 2


def test_invalid_url_is_reported_with_its_password_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db:notaport/prod")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.message == (
        "invalid setting DATABASE_URL='postgresql://app:***@db:notaport/prod': the port is not a number")
    assert "hunter2" not in str(caught.value) + (caught.value.hint or "")


def test_invalid_number_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PORT", "five")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.message == (
        "invalid setting DB_PORT='five': input should be a valid integer, unable to parse string as an integer")


def test_invalid_password_value_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(db_password=["not", "a", "string"])
    assert caught.value.message.startswith("invalid setting DB_PASSWORD=***: ")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("mysql://u@h/db", "database 'mysql' is not supported; expected sqlite:///PATH or "
                           "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2' is not supported; outgrow uses psycopg 3: write postgresql://"),
        ("not a url", "not a database URL; expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
    ],
)
def test_unusable_urls(raw: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(database_url=raw)
    assert caught.value.message == f"invalid setting DATABASE_URL={raw!r}: {reason}"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:se@cret@h:notaport/db", "postgresql://u:***@h:notaport/db"),
        ("postgresql://u@h/db?password=secret&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("sqlite:///app.db", "sqlite:///app.db"),
    ],
)
def test_mask_url(raw: str, masked: str) -> None:
    assert mask_url(raw) == masked


def test_target_url_is_normalised_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGROW_TARGET_URL", "postgres://mig:pw@target/app")
    settings = Settings()
    assert settings.target_url == "postgresql+psycopg://mig:pw@target/app"
    assert settings.effective()["OUTGROW_TARGET_URL"] == "postgresql+psycopg://mig:***@target/app"


def test_repr_masks_passwords_in_urls() -> None:
    settings = Settings(database_url="postgresql://app:hunter2@db/prod", target_url="postgres://m:s3cret@t/app",
                        db_password="pw-in-field")
    shown = repr(settings)
    assert "hunter2" not in shown and "s3cret" not in shown and "pw-in-field" not in shown
    assert "database_url='postgresql+psycopg://app:***@db/prod'" in shown
