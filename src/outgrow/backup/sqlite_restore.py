"""Restoring a SQLite backup so that no failure, at any moment, leaves a damaged or mixed database.

The image is decompressed beside the target, proven (size, SHA-256, integrity), then renamed over it. Before
the rename the old database is checkpointed (its WAL emptied into the file, a hot journal rolled back) and its
``-wal``/``-shm`` files removed: SQLite would otherwise replay the old WAL onto the restored file. A ``kill -9``
before the rename leaves the old database whole; after it, the restored one.

A rename under processes that hold the database open would leave them reading and writing the unlinked old
file, so by default that is refused. ``live=True`` instead copies the image into the open database through
the backup API, inside SQLite's locking: the other connections see the restored content.
"""

from __future__ import annotations

import glob
import os
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from outgrow.backup.destination import Destination, fsync_directory
from outgrow.backup.manifest import Manifest
from outgrow.backup.sqlite_backup import REPLACED_MARK, Progress, create_sqlite_backup, expand, litestream_managed
from outgrow.errors import BackupError, OutgrowError
from outgrow.urls import sqlite_uri

__all__ = ["RestoreResult", "holders", "restore_sqlite"]


@dataclass(frozen=True)
class RestoreResult:
    target: Path
    mode: Literal["created", "replaced", "live"]
    seconds: float
    replaced: Manifest | None = None  # the backup of what was there before


def holders(path: Path) -> list[int]:
    """Process ids holding ``path`` open (Linux /proc; empty where that cannot be read)."""
    try:
        wanted = path.stat()
    except FileNotFoundError:
        return []
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                info = fd.stat()
                if (info.st_dev, info.st_ino) == (wanted.st_dev, wanted.st_ino):
                    found.append(int(entry.name))
                    break
        except OSError:
            continue  # the process ended, or its descriptors are not ours to read
    return found


def restore_sqlite(destination: Destination, manifest: Manifest, target: Path, *, live: bool = False,
                   keep_replaced: bool = True, force: bool = False, progress: Progress | None = None) -> RestoreResult:
    """Restore ``manifest`` to ``target``. What ``target`` held is backed up first (``keep_replaced``)."""
    started = time.perf_counter()
    target = Path(os.path.realpath(target))  # through a symlink, to the file the application opens
    if target.exists() and not target.is_file():
        raise BackupError(f"{target} is not a file")
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise BackupError(f"cannot write in {target.parent}", hint="choose another --to path")
    if target.exists() and litestream_managed(target) and not force:
        raise BackupError(f"{target} is managed by Litestream", hint="restore it with `litestream restore`, or "
                                                                    "pass --force to replace it anyway")
    if not live:
        _refuse_if_open(target)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.outgrow-restore-*"):
        stale.unlink(missing_ok=True)  # left by a restore that was killed
    replaced = None
    if target.exists() and keep_replaced:
        try:
            replaced = create_sqlite_backup(target, destination, stem=f"{target.stem}{REPLACED_MARK}")
        except OutgrowError as exc:
            raise BackupError(f"could not keep a backup of the current {target.name} before replacing it: {exc}",
                              hint="pass --discard-current to replace it without keeping it") from None
    staged = target.parent / f".{target.name}.outgrow-restore-{uuid.uuid4().hex[:8]}"
    try:
        staged.touch(mode=0o600)
        with destination.staging() as work:
            archive = work / manifest.file
            destination.fetch(manifest.file, archive)
            # the SHA-256 proves these are the bytes that passed integrity_check when the backup was made
            # (verify re-runs the check; a restore need not spend the 8 s a 500 MB database takes)
            expand(archive, staged, manifest, progress, check_integrity=False)
        with staged.open("rb") as handle:
            os.fsync(handle.fileno())
        if live and target.exists():
            _restore_into_open(staged, target)
            mode: Literal["created", "replaced", "live"] = "live"
        else:
            mode = "replaced" if target.exists() else "created"
            _swap_in(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return RestoreResult(target, mode, time.perf_counter() - started, replaced)


def _refuse_if_open(target: Path, *, ignore: int | None = None) -> None:
    open_by = [pid for pid in holders(target) if pid != ignore]
    if open_by:
        raise BackupError(f"{target} is open in process{'es' if len(open_by) > 1 else ''} "
                          f"{', '.join(map(str, open_by))}; replacing the file would leave them on the old one",
                          hint="stop them first, or pass --live to restore into the open database")


def _swap_in(staged: Path, target: Path) -> None:
    """Rename ``staged`` over ``target`` with the old database locked: hot journal rolled back, WAL emptied into
    the file and left (journal_mode=DELETE, which SQLite refuses while another connection has it open), an
    EXCLUSIVE lock held so nothing reads or writes it meanwhile, the holders checked again under that lock,
    and its -wal/-shm removed so nothing of it is replayed onto the restored file."""
    if not target.exists():
        _remove_sidecars(target)
        os.replace(staged, target)
        fsync_directory(target.parent)
        return
    info = target.stat()
    os.chmod(staged, info.st_mode & 0o7777)  # the application keeps its file's permissions and owner
    if os.geteuid() == 0:
        os.chown(staged, info.st_uid, info.st_gid)
    guard = sqlite3.connect(target, timeout=30, isolation_level=None)
    was_wal = False
    try:
        try:
            was_wal = guard.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            if was_wal and guard.execute("PRAGMA journal_mode=DELETE").fetchone()[0].lower() == "wal":
                raise BackupError(f"{target} is in use: SQLite would not take it out of WAL mode",
                                  hint="stop the application, or pass --live")
            guard.execute("PRAGMA locking_mode=EXCLUSIVE")
            guard.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:  # busy or locked: someone is using it
            raise BackupError(f"{target} is in use ({exc})", hint="stop the application, or pass --live") from None
        except sqlite3.DatabaseError:
            pass  # not a readable database: it is being replaced, and was backed up as far as it could be
        try:
            _refuse_if_open(target, ignore=os.getpid())
        except BackupError:
            if guard.in_transaction:
                guard.execute("ROLLBACK")
            if was_wal:
                guard.execute("PRAGMA locking_mode=NORMAL")
                guard.execute("PRAGMA journal_mode=WAL")
            raise
        _remove_sidecars(target)
        os.replace(staged, target)
        fsync_directory(target.parent)
    finally:
        guard.close()  # the old, now unlinked, file's lock goes with it


def _remove_sidecars(target: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)


def _restore_into_open(image: Path, target: Path) -> None:
    try:
        with closing(sqlite3.connect(sqlite_uri(image, mode="ro", immutable="1"), uri=True)) as restored, \
                closing(sqlite3.connect(target, timeout=30)) as live:
            restored.backup(live, pages=-1)
    except sqlite3.Error as exc:
        raise BackupError(f"could not restore into the open database {target}: {exc}",
                          hint="stop the application and restore without --live") from None
