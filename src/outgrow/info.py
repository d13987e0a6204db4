"""What ``outgrow info`` reports: the effective configuration and what a live connection says is in force."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.pool import QueuePool

from outgrow.engine import Database

__all__ = ["DatabaseInfo", "describe_database"]


@dataclass(frozen=True)
class DatabaseInfo:
    """One database's identity, pool and settings in force. ``pragmas`` is read back, not requested."""

    engine: str
    url: str
    driver: str
    server_version: str
    pool: dict[str, Any]
    settings: dict[str, Any]
    pragmas: dict[str, Any] = field(default_factory=dict)
    requested_pragmas: dict[str, Any] = field(default_factory=dict)
    server_settings: dict[str, Any] = field(default_factory=dict)
    ssl: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_database(db: Database) -> DatabaseInfo:
    """Describe ``db`` from a live pooled connection."""
    described = db.describe()
    pool = db.engine.pool
    pool_info: dict[str, Any] = {"class": type(pool).__name__}
    if isinstance(pool, QueuePool):
        pool_info |= {
            "size": pool.size(),
            "max_overflow": pool._max_overflow,
            "timeout_s": pool.timeout(),
            "checked_out": pool.checkedout(),
        }
    return DatabaseInfo(
        engine=db.name,
        url=db.settings.masked_url(),
        driver=db.engine.dialect.driver,
        server_version=str(described["server_version"]),
        pool=pool_info,
        settings=db.settings.effective(),
        pragmas=described.get("pragmas", {}),
        requested_pragmas=described.get("requested_pragmas", {}),
        server_settings=described.get("server_settings", {}),
        ssl=described.get("ssl"),
    )
