"""The interface each engine implements, and the registry that picks one by URL.

Capabilities ask the dialect; they never branch on the engine name (see STYLE.md, "one class per engine").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from sqlalchemy.engine import URL, Connection, Engine

from outgrow.errors import ConfigurationError, OutgrowError
from outgrow.settings import Settings
from outgrow.urls import EXAMPLE_URLS

__all__ = ["EngineDialect", "dialect_for", "register"]

_REGISTRY: dict[str, type[EngineDialect]] = {}


class EngineDialect(ABC):
    """What outgrow needs to know about one database engine."""

    name: ClassVar[str]
    #: Capability flags, read by capabilities instead of comparing engine names.
    has_pragmas: ClassVar[bool] = False
    has_server: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def check_reachable(self, url: URL, *, create: bool) -> None:
        """Raise an :class:`OutgrowError` before connecting when the target obviously cannot be opened."""

    @abstractmethod
    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``sqlalchemy.create_engine``: pool sizing, driver options."""

    def pool_kwargs(self) -> dict[str, Any]:
        """Pool sizing from the settings (the README's "Pool sizing" rule explains the defaults)."""
        return {
            "pool_size": self.settings.pool_size,
            "max_overflow": self.settings.pool_max_overflow,
            "pool_timeout": self.settings.pool_timeout_s,
        }

    def plugin_engine_kwargs(self) -> dict[str, Any]:
        """The ``engine_kwargs`` an application's own engine gets through ``?plugin=outgrow``.

        Pool sizing stays the application's choice; driver options and pre-ping are outgrow's tuning.
        """
        return {}

    @abstractmethod
    def install(self, engine: Engine) -> None:
        """Attach the per-connection tuning (events) to an engine, ours or an application's."""

    @abstractmethod
    def read_snapshot(self, engine: Engine) -> AbstractContextManager[Connection]:
        """A connection inside a read-only transaction that sees one consistent snapshot."""

    @abstractmethod
    def describe(self, connection: Connection) -> dict[str, Any]:
        """Server version and the settings actually in force on this live connection."""

    def storage_figures(self, dbapi_connection: Any, url: URL) -> dict[str, int | None]:
        """size_bytes, wal_bytes, free_pages and page_size of the database, read on a raw DB-API connection
        (so that a probe does not count the reading as the application's statements)."""
        return {"size_bytes": None, "wal_bytes": None, "free_pages": None, "page_size": None}

    def server_figures(self, dbapi_connection: Any) -> dict[str, int] | None:
        """What a database server says of its connections and lock waits; None for an embedded engine."""
        return None

    @abstractmethod
    def translate_error(self, exc: BaseException, url: URL) -> OutgrowError | None:
        """The :class:`OutgrowError` a failed first connection means, or None when unknown."""


def register(cls: type[EngineDialect]) -> type[EngineDialect]:
    """Class decorator: make ``cls`` the dialect for URLs whose backend is ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def dialect_for(url: URL, settings: Settings) -> EngineDialect:
    """The dialect for a normalised URL."""
    try:
        cls = _REGISTRY[url.get_backend_name()]
    except KeyError:
        raise ConfigurationError(
            f"database {url.get_backend_name()!r} is not supported", hint=f"use {EXAMPLE_URLS}"
        ) from None
    return cls(settings)
