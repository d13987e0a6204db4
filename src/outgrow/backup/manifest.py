"""The JSON manifest written beside every backup, last: a backup exists only once its manifest does."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["MANIFEST_SUFFIX", "Manifest", "backup_id"]

MANIFEST_SUFFIX = ".json"


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    engine: Literal["sqlite", "postgresql"]
    source: str  # a path, or a URL with the password masked
    created_at: datetime  # UTC, when the snapshot was taken
    method: str  # "sqlite backup API, one step", "VACUUM INTO", "pg_dump -Fc"
    file: str  # the archive's name in the destination
    size: int  # bytes of the uncompressed image (SQLite) or of the dump
    stored_size: int  # bytes as stored (compressed)
    sha256: str  # of the uncompressed image / the dump file
    duration_seconds: float
    tool_version: str  # SQLite library version, or pg_dump's
    page_size: int | None = None
    page_count: int | None = None
    integrity: str = "ok"  # PRAGMA integrity_check on the copy, before it counted
    tables: dict[str, int] = {}  # rows per table (PostgreSQL: checked again by verify)
    checksums: dict[str, int] = {}  # content checksum per table (PostgreSQL)
    server_version: str | None = None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def backup_id(stem: str, when: datetime) -> str:
    """``<stem>-<UTC time to the microsecond>``: ids sort in time order and never collide within a process."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip(".") or "backup"  # a plain file name, whatever the stem
    return f"{safe}-{when.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
