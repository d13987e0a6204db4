"""``connect()``: a tuned SQLAlchemy engine for whichever database the settings name.

Moving from SQLite to PostgreSQL is a settings change: the same ``Database`` methods work on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from outgrow.dialects import EngineDialect, dialect_for
from outgrow.errors import DatabaseUnavailable, OutgrowError
from outgrow.settings import Settings

if TYPE_CHECKING:
    from outgrow.monitor.recorder import Recorder
    from outgrow.monitor.service import Monitor

__all__ = ["Database", "connect"]


@dataclass(eq=False)
class Database:
    """A tuned engine plus the settings it came from.

    ``engine`` is a plain SQLAlchemy 2 ``Engine``: hand it to an ORM, Alembic or a web framework as usual.
    """

    settings: Settings
    engine: Engine
    dialect: EngineDialect
    monitor: Monitor | None = None  # the probe and its recorder (OUTGROW_MONITOR_ENABLED)

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine)

    @property
    def name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.dialect.name

    def transaction(self) -> AbstractContextManager[Connection]:
        """A connection in a write transaction, committed on success (``BEGIN IMMEDIATE`` on SQLite)."""
        return self.engine.begin()

    def read(self) -> AbstractContextManager[Connection]:
        """A connection in a read-only transaction over one consistent snapshot; takes no write lock."""
        return self.dialect.read_snapshot(self.engine)

    @contextmanager
    def session(self, **kwargs: Any) -> Iterator[Session]:
        """An ORM session whose transaction is committed on success and rolled back on error."""
        with self._sessions(**kwargs) as session, session.begin():
            yield session

    def describe(self) -> dict[str, Any]:
        """Server version and settings in force, read from a live pooled connection."""
        with self.engine.connect() as connection:
            return self.dialect.describe(connection)

    @property
    def recorder(self) -> Recorder | None:
        return self.monitor.recorder if self.monitor is not None else None

    def close(self) -> None:
        """Flush the monitor's last counts and close every pooled connection."""
        if self.monitor is not None:
            self.monitor.stop()
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(settings: Settings | None = None, *, create: bool = True, **engine_kwargs: Any) -> Database:
    """Open the configured database with outgrow's tuning and check that it answers.

    ``create=False`` refuses to create a missing SQLite file. Extra keyword arguments go to
    ``sqlalchemy.create_engine`` and win over outgrow's (``echo=True``, ``poolclass=...``).
    Raises an :class:`~outgrow.errors.OutgrowError` subclass naming what is wrong.
    """
    settings = settings if settings is not None else Settings()
    url = settings.url()
    dialect = dialect_for(url, settings)
    dialect.check_reachable(url, create=create)
    engine = create_engine(url, **{**dialect.engine_kwargs(), **engine_kwargs})
    dialect.install(engine)
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        raise _unavailable(dialect, exc, settings) from None
    monitor = None
    if settings.monitor_enabled:
        from outgrow.monitor.service import attach_monitor  # the monitor builds on engines: imported when used

        monitor = attach_monitor(engine, settings, dialect)
    return Database(settings=settings, engine=engine, dialect=dialect, monitor=monitor)


def _unavailable(dialect: EngineDialect, exc: DBAPIError, settings: Settings) -> OutgrowError:
    translated = dialect.translate_error(exc, settings.url())
    if translated is not None:
        return translated
    first_line = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
    return DatabaseUnavailable(f"cannot open {settings.masked_url()}: {first_line}")
