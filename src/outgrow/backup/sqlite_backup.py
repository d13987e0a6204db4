"""Online backups of a SQLite database: a consistent snapshot while writers keep writing, checked, compressed.

The snapshot is taken by a method that cannot be starved: the backup API in one step (``pages=-1``), which
copies every page inside one read transaction, or ``VACUUM INTO``. The sqlite3 shell's ``.backup`` copies in
small steps and restarts whenever the source changes, so under steady writes it may never finish. Copying
the file with cp or rsync during a transaction can produce a corrupt copy (sqlite.org/howtocorrupt.html).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import zstandard

from outgrow.backup.destination import Destination
from outgrow.backup.manifest import MANIFEST_SUFFIX, Manifest, backup_id
from outgrow.errors import BackupDamaged, BackupError, DatabaseNotFound, NotASQLiteDatabase
from outgrow.urls import sqlite_uri

__all__ = ["ARCHIVE_SUFFIX", "REPLACED_MARK", "Method", "create_sqlite_backup", "expand", "integrity",
           "litestream_managed", "open_checked"]

ARCHIVE_SUFFIX = ".sqlite.zst"
REPLACED_MARK = "-before-restore"  # in the id of the backup a restore takes of what it replaces
Method = Literal["backup-api", "vacuum-into"]
_METHODS = {"backup-api": "sqlite backup API, one step (pages=-1)", "vacuum-into": "VACUUM INTO"}
_CHUNK = 1 << 20
Progress = Callable[[int], None]


def open_checked(path: Path) -> sqlite3.Connection:
    """``path`` opened read-only, after checking it is a SQLite database (one-line errors otherwise)."""
    if not path.exists():
        raise DatabaseNotFound(f"no SQLite database at {path}", hint="check the path")
    if not path.is_file():
        raise NotASQLiteDatabase(f"{path} is not a file")
    for mode in ("ro", "rw"):
        # A hot journal (a writer killed mid-transaction in rollback mode) can only be rolled back by a
        # connection that may write: read-only first, read-write (still only read from) when SQLite asks.
        conn = sqlite3.connect(sqlite_uri(path, mode=mode), uri=True, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if mode == "ro" and "readonly" in str(exc):
                continue
            raise BackupError(f"cannot read {path}: {exc}", hint="is another process holding it locked?") from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise NotASQLiteDatabase(f"{path} is not a SQLite database ({exc})") from None
    raise AssertionError("unreachable")


def litestream_managed(path: Path) -> bool:
    """Litestream keeps its state in ``.<name>-litestream`` beside the database and a ``_litestream_seq``
    table inside it; such a database is restored with ``litestream restore``, not by replacing the file."""
    if (path.parent / f".{path.name}-litestream").is_dir():
        return True
    try:
        with closing(sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)) as conn:
            return conn.execute("SELECT 1 FROM sqlite_schema WHERE name = '_litestream_seq'").fetchone() is not None
    except sqlite3.Error:
        return False


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a file nothing else uses ("ok", or SQLite's first complaints).
    Opened immutable, so checking leaves no -wal or -shm file behind."""
    try:
        with closing(sqlite3.connect(sqlite_uri(path, mode="ro", immutable="1"), uri=True)) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.DatabaseError as exc:
        return f"not a readable SQLite database ({exc})"
    return "ok" if rows == ["ok"] else "; ".join(rows)


def create_sqlite_backup(source: Path, destination: Destination, *, method: Method = "backup-api",
                         stem: str | None = None, level: int = 3, progress: Progress | None = None) -> Manifest:
    """Snapshot ``source`` (live: writers may keep writing), check the copy, compress it into ``destination``
    and write its manifest last. Raises BackupError and stores nothing when the copy is not sound."""
    if method not in _METHODS:
        raise BackupError(f"unknown backup method {method!r}", hint="backup-api or vacuum-into")
    started = time.perf_counter()
    source_conn = open_checked(source)
    with destination.staging() as work:
        image = work / "image.sqlite"
        when = datetime.now(UTC)
        try:
            if method == "backup-api":
                with closing(sqlite3.connect(image)) as copy:
                    source_conn.backup(copy, pages=-1)  # one step: one read transaction, never restarted
            else:
                source_conn.execute("VACUUM INTO ?", (str(image),))
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite could not copy {source}: {exc}") from None
        finally:
            source_conn.close()
        with closing(sqlite3.connect(sqlite_uri(image, mode="ro", immutable="1"), uri=True)) as check:
            page_size = check.execute("PRAGMA page_size").fetchone()[0]
            page_count = check.execute("PRAGMA page_count").fetchone()[0]
        ident = backup_id(stem or source.stem, when)
        archive = work / f"{ident}{ARCHIVE_SUFFIX}"
        # integrity_check dominates (8 s of 11 on a 519 MB database): it runs while the image is hashed and
        # compressed (SQLite and zstd both release the GIL), and the archive counts only if it says ok.
        with ThreadPoolExecutor(max_workers=1) as pool:
            checking = pool.submit(integrity, image)
            digest, size = _compress(image, archive, level, progress)
            verdict = checking.result()
        if verdict != "ok":
            raise BackupError(f"the copy of {source} failed its integrity check: {verdict}",
                              hint="the source itself may be damaged: run PRAGMA integrity_check on it")
        manifest = Manifest(
            id=ident, engine="sqlite", source=str(source.resolve()), created_at=when, method=_METHODS[method],
            file=archive.name, size=size, stored_size=archive.stat().st_size, sha256=digest,
            duration_seconds=round(time.perf_counter() - started, 3), tool_version=sqlite3.sqlite_version,
            page_size=page_size, page_count=page_count, integrity=verdict)
        destination.put(archive.name, archive)
        manifest_file = work / f"{ident}{MANIFEST_SUFFIX}"
        manifest_file.write_text(manifest.to_json(), encoding="utf-8")
        destination.put(manifest_file.name, manifest_file)
    return manifest


def _compress(image: Path, archive: Path, level: int, progress: Progress | None) -> tuple[str, int]:
    """Compress with a frame checksum (zstd detects flipped bytes itself); the SHA-256 of the image."""
    digest, size = hashlib.sha256(), 0
    compressor = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=-1)
    with image.open("rb") as reader, archive.open("wb") as raw, compressor.stream_writer(raw) as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest(), size


def expand(archive: Path, image: Path, manifest: Manifest, progress: Progress | None = None, *,
           check_integrity: bool = True) -> None:
    """Decompress ``archive`` into ``image`` and prove it is the manifest's image (size, SHA-256, and unless
    ``check_integrity`` is off, integrity_check again); BackupDamaged otherwise."""
    digest, size = hashlib.sha256(), 0
    try:
        with archive.open("rb") as raw, image.open("wb") as writer, \
                zstandard.ZstdDecompressor().stream_reader(raw) as reader:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(len(chunk))
    except zstandard.ZstdError as exc:
        raise BackupDamaged(f"backup {manifest.id}: the archive is damaged ({exc})",
                            hint="restore an older backup (outgrow backup list)") from None
    if size != manifest.size or digest.hexdigest() != manifest.sha256:
        raise BackupDamaged(f"backup {manifest.id}: the image does not match its manifest "
                            f"({size} bytes, sha256 {digest.hexdigest()[:16]}...; the manifest says {manifest.size}, "
                            f"{manifest.sha256[:16]}...)", hint="restore an older backup (outgrow backup list)")
    if not check_integrity:
        return
    verdict = integrity(image)
    if verdict != "ok":
        raise BackupDamaged(f"backup {manifest.id}: integrity check failed: {verdict}")
