"""Database URLs: one normal form per engine, and masking for anything shown to a person.

SQLAlchemy 2 reads ``postgresql://`` as psycopg2 and does not know ``postgres://`` at all; outgrow drives
PostgreSQL with psycopg 3 only, so every PostgreSQL spelling becomes ``postgresql+psycopg://``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["EXAMPLE_URLS", "engine_name", "libpq_url", "mask_url", "normalize_url", "sqlite_uri"]

EXAMPLE_URLS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"

_POSTGRES_SPELLINGS = {"postgres", "postgresql", "postgresql+psycopg", "postgres+psycopg"}
_SQLITE_SPELLINGS = {"sqlite", "sqlite+pysqlite"}

# Greedy up to the last "@": a password holding a raw "@" is masked whole rather than half shown.
_USERINFO_PASSWORD = re.compile(r"(://[^:/@?#]*:).*@")
_QUERY_PASSWORD = re.compile(r"(?i)(password=)[^&]*")


def mask_url(raw: str) -> str:
    """Return ``raw`` with any password replaced by ``***``; works on malformed URLs too."""
    masked = _USERINFO_PASSWORD.sub(r"\1***@", raw)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def normalize_url(raw: str) -> URL:
    """Parse ``raw`` into a SQLAlchemy URL in outgrow's normal form, or raise ``ValueError``.

    The ``ValueError`` text is written for a person and never contains the password.
    """
    text = raw.strip()
    if not text:
        raise ValueError(f"empty; expected {EXAMPLE_URLS}")
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(f"not a database URL; expected {EXAMPLE_URLS}") from None
    except ValueError:
        raise ValueError("the port is not a number") from None
    driver = url.drivername.lower()
    if driver in _POSTGRES_SPELLINGS:
        return url.set(drivername="postgresql+psycopg")
    if driver in _SQLITE_SPELLINGS:
        return url.set(drivername="sqlite")
    backend, _, dbapi = driver.partition("+")
    if backend in {"postgres", "postgresql"}:
        raise ValueError(f"driver {dbapi!r} is not supported; outgrow uses psycopg 3: write postgresql://")
    raise ValueError(f"database {backend!r} is not supported; expected {EXAMPLE_URLS}")


def engine_name(url: URL) -> str:
    """``"sqlite"`` or ``"postgresql"`` for a normalised URL."""
    return url.get_backend_name()


def sqlite_uri(path: Path, **params: str) -> str:
    """A ``file:`` URI for sqlite3.connect(uri=True): the path percent-encoded, so a ``#``, ``?`` or ``%`` in a
    file name is part of the name and not a fragment, a query or an escape (opening a different file)."""
    return f"file:{quote(str(path.absolute()))}" + (f"?{urlencode(params)}" if params else "")


def libpq_url(url: URL) -> str:
    """``url`` as libpq and psycopg.connect() take it: plain postgresql://, the password kept."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
