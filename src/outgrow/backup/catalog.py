"""The backups in a destination: listing, finding one, verifying, pruning by a retention policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from outgrow.backup.destination import Destination
from outgrow.backup.manifest import MANIFEST_SUFFIX, Manifest
from outgrow.backup.pg_backup import DUMP_SUFFIX
from outgrow.backup.retention import RetentionPolicy, kept
from outgrow.backup.sqlite_backup import ARCHIVE_SUFFIX, REPLACED_MARK
from outgrow.errors import BackupDamaged, BackupError

__all__ = ["PruneResult", "VerifyResult", "find_backup", "list_backups", "prune_backups", "verify_backup"]


def list_backups(destination: Destination, *, source: str | None = None) -> list[Manifest]:
    """Every backup whose manifest is readable, oldest first (``source``: only those of that database)."""
    manifests = []
    for name in destination.names():
        if not name.endswith(MANIFEST_SUFFIX):
            continue
        try:
            manifest = Manifest.model_validate_json(destination.read_text(name))
        except (ValidationError, OSError, UnicodeDecodeError):
            continue  # not one of ours; `verify` names damaged ones when asked for them
        if name != f"{manifest.id}{MANIFEST_SUFFIX}" or manifest.file not in (
                f"{manifest.id}{ARCHIVE_SUFFIX}", f"{manifest.id}{DUMP_SUFFIX}"):
            continue  # a manifest must name its own archive, beside it: never another file
        if source is None or manifest.source == source:
            manifests.append(manifest)
    return sorted(manifests, key=lambda m: (m.created_at, m.id))


def find_backup(destination: Destination, wanted: str, *, source: str | None = None) -> Manifest:
    """A backup by its id (of any source), or by ``latest`` or a unique id prefix among ``source``'s backups
    (``latest``: the newest that is not one a restore took of what it replaced)."""
    exact = [m for m in list_backups(destination) if m.id == wanted or f"{m.id}{MANIFEST_SUFFIX}" == wanted]
    if exact:
        return exact[0]
    manifests = list_backups(destination, source=source)
    if not manifests:
        raise BackupError(f"no backups{f' of {source}' if source else ''} in {destination}",
                          hint="outgrow backup create makes one")
    if wanted == "latest":
        regular = [m for m in manifests if REPLACED_MARK not in m.id]
        return (regular or manifests)[-1]
    matches = [m for m in manifests if m.id.startswith(wanted)]
    if len(matches) != 1:
        raise BackupError(f"{'no' if not matches else len(matches)} backups match {wanted!r} in {destination}",
                          hint="outgrow backup list shows the ids")
    return matches[0]


@dataclass(frozen=True)
class VerifyResult:
    manifest: Manifest
    seconds: float
    detail: str


def verify_backup(destination: Destination, manifest: Manifest,
                  check: Callable[[Path, Manifest], str]) -> VerifyResult:
    """Fetch the archive and hand it to ``check`` (per engine: re-hash and integrity_check a decompressed copy,
    or restore a dump into a scratch database); BackupDamaged names what does not match."""
    started = time.perf_counter()
    if manifest.file not in destination.names():
        raise BackupDamaged(f"backup {manifest.id}: its archive {manifest.file} is missing")
    with destination.staging() as work:
        archive = work / manifest.file
        destination.fetch(manifest.file, archive)
        detail = check(archive, manifest)
    return VerifyResult(manifest, time.perf_counter() - started, detail)


@dataclass(frozen=True)
class PruneResult:
    kept: list[Manifest]
    deleted: list[Manifest]


def prune_backups(destination: Destination, policy: RetentionPolicy, *, source: str | None = None,
                  dry_run: bool = False) -> PruneResult:
    """Apply ``policy`` to ``source``'s backups (None: each source's separately). The manifest goes first, so a
    backup stops being listed before its archive disappears."""
    by_source: dict[str, list[Manifest]] = {}
    for manifest in list_backups(destination, source=source):
        by_source.setdefault(manifest.source, []).append(manifest)
    keep: list[Manifest] = []
    delete: list[Manifest] = []
    for manifests in by_source.values():
        chosen = kept([m.created_at for m in manifests], policy)
        for manifest in manifests:
            (keep if manifest.created_at in chosen else delete).append(manifest)
    if not dry_run:
        for manifest in delete:
            destination.delete(f"{manifest.id}{MANIFEST_SUFFIX}")
            destination.delete(manifest.file)
    return PruneResult(sorted(keep, key=lambda m: m.created_at), sorted(delete, key=lambda m: m.created_at))
