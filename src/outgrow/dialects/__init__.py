"""One class per database engine, behind one interface (:class:`EngineDialect`)."""

from __future__ import annotations

from outgrow.dialects.base import EngineDialect, dialect_for, register
from outgrow.dialects.postgresql import PostgreSQLDialect
from outgrow.dialects.sqlite import SQLiteDialect, read_pragmas, requested_pragmas

__all__ = [
    "EngineDialect",
    "PostgreSQLDialect",
    "SQLiteDialect",
    "dialect_for",
    "read_pragmas",
    "register",
    "requested_pragmas",
]
