"""Where backups live. A :class:`Destination` stores named files; :class:`LocalDirectory` is the one there is
today. An object store only has to implement the same five methods (the rest of outgrow never touches paths
inside the destination)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from outgrow.errors import BackupError, ConfigurationError

__all__ = ["Destination", "LocalDirectory", "fsync_directory"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


class Destination(Protocol):
    def staging(self) -> AbstractContextManager[Path]:
        """A temporary local directory to build files in before ``put`` (on the same filesystem when it can be,
        so ``put`` is a rename, not a copy)."""
        ...

    def put(self, name: str, source: Path) -> None:
        """Store ``source`` under ``name``, atomically: a reader sees the whole file or none."""
        ...

    def fetch(self, name: str, target: Path) -> None:
        """Copy ``name`` to the local file ``target``."""
        ...

    def names(self) -> list[str]:
        ...

    def read_text(self, name: str) -> str:
        ...

    def delete(self, name: str) -> None:
        ...


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (POSIX: the directory entry is data of the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalDirectory:
    """A directory on this machine (created when missing, 0700: backups hold the application's data)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_dir():
            raise BackupError(f"no backup directory at {path}", hint="check --dir, or outgrow backup create first")
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the backup directory {path}: {exc.strerror}") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigurationError(f"the backup directory {path} is not writable")

    def __repr__(self) -> str:
        return f"LocalDirectory({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def _entry(self, name: str) -> Path:
        """A file directly in the directory: names with separators, '..' or a leading dot are refused, so a
        manifest can never point outside (or at outgrow's own staging files)."""
        if not _NAME.fullmatch(name):
            raise BackupError(f"refusing the backup file name {name!r}", hint="a manifest names its own archive")
        return self.path / name

    @contextmanager
    def staging(self) -> Iterator[Path]:
        cutoff = time.time() - 3600
        for stale in self.path.glob(".outgrow-staging-*"):  # left by a run that was killed
            if stale.is_dir() and stale.stat().st_mtime < cutoff:
                shutil.rmtree(stale, ignore_errors=True)
        directory = Path(tempfile.mkdtemp(prefix=".outgrow-staging-", dir=self.path))
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def put(self, name: str, source: Path) -> None:
        target = self._entry(name)
        os.chmod(source, 0o600)  # a backup is the application's data: readable by its owner only
        with source.open("rb") as handle:
            os.fsync(handle.fileno())
        if source.stat().st_dev == self.path.stat().st_dev:
            os.replace(source, target)
        else:
            staged = self.path / f".{name}.partial"
            shutil.copyfile(source, staged)
            os.chmod(staged, 0o600)
            with staged.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(staged, target)
        fsync_directory(self.path)

    def fetch(self, name: str, target: Path) -> None:
        shutil.copyfile(self._entry(name), target)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.is_file() and not p.name.startswith("."))

    def read_text(self, name: str) -> str:
        return self._entry(name).read_text(encoding="utf-8")

    def delete(self, name: str) -> None:
        self._entry(name).unlink(missing_ok=True)
        fsync_directory(self.path)
