"""Backup throughput on a database of at least 500 MB, idle and with a concurrent writer, in one run:

  outgrow             outgrow.backup.create_backup: one-step backup API + integrity_check + zstd + manifest
  outgrow-vacuum      the same with --method vacuum-into
  backup-api          Python's Connection.backup(pages=-1) alone (the snapshot outgrow takes, nothing else)
  vacuum-into         VACUUM INTO alone
  sqlite3-shell       the sqlite3 shell's .backup (idle only: it restarts whenever the source changes)

then the restore drill (outgrow backup verify + restore to a scratch path). Prints seconds, MB/s of the
database size, and ratios against VACUUM INTO and the shell.

    ./run bench backup [--events 2300000] [--json]

The database is built once by ../shared/bench/make_sqlite.py and cached under $TMPDIR/outgrow-bench.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from outgrow.backup import create_backup, restore_backup, verify

MAKE_SQLITE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "make_sqlite.py"
WRITER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL"); conn.execute("PRAGMA synchronous=NORMAL")
    print("ready", flush=True)
    n = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events (organization_id, kind, payload, amount, created_at) "
                     "VALUES ('bench', 'write', 'x', 1.5, '2025-01-01 00:00:00')")
        conn.execute("COMMIT")
        n += 1
        if n % 100 == 0:
            print(n, flush=True)
        time.sleep(0.002)
""")


def database(events: int, make: Path) -> Path:
    cache = Path(tempfile.gettempdir()) / "outgrow-bench"
    cache.mkdir(exist_ok=True)
    path = cache / f"backup-{events}.sqlite"
    if not path.exists():
        print(f"building {path} with {make} ({events:,} events)...", file=sys.stderr)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        subprocess.run([sys.executable, str(make), str(partial), str(events)], check=True)
        partial.rename(path)
    return path


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def methods(source: Path, work: Path) -> dict[str, Callable[[], object]]:
    def backup_api() -> None:
        target = work / "api.sqlite"
        target.unlink(missing_ok=True)
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst, pages=-1)

    def vacuum_into() -> None:
        target = work / "vacuum.sqlite"
        target.unlink(missing_ok=True)
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
            src.execute("VACUUM INTO ?", (str(target),))

    def outgrow(method: str) -> Callable[[], object]:
        return lambda: create_backup(source, work / "outgrow", method=method)  # type: ignore[arg-type]

    return {"outgrow": outgrow("backup-api"), "outgrow-vacuum": outgrow("vacuum-into"), "backup-api": backup_api,
            "vacuum-into": vacuum_into}


def shell_backup(source: Path, work: Path, timeout: float) -> float | None:
    if shutil.which("sqlite3") is None:
        return None
    target = work / "shell.sqlite"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        subprocess.run(["sqlite3", str(source), f".backup '{target}'"], check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_300_000)
    parser.add_argument("--make", type=Path, default=MAKE_SQLITE, help="path to make_sqlite.py")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cached = database(args.events, args.make)
    with tempfile.TemporaryDirectory(prefix="outgrow-bench-backup-") as scratch:
        work = Path(scratch)
        source = work / "source.sqlite"
        shutil.copyfile(cached, source)  # the writer grows it; the cached copy stays the same size run to run
        with closing(sqlite3.connect(source)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        size_mb = source.stat().st_size / 1e6
        results: dict[str, dict[str, float | None]] = {}
        for name, run in methods(source, work).items():
            results[name] = {"idle": timed(run)}
        results["sqlite3-shell"] = {"idle": shell_backup(source, work, 600)}
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(source)], stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
            commits_before = _commits(source)
            busy_started = time.perf_counter()
            for name, run in methods(source, work).items():
                results[name]["busy"] = timed(run)
            busy_seconds = time.perf_counter() - busy_started
            commits = _commits(source) - commits_before
        finally:
            writer.kill()
            writer.wait()
        manifest = create_backup(source, work / "drill")
        verify_seconds = verify(manifest.id, work / "drill").seconds
        restore_seconds = timed(lambda: restore_backup(manifest.id, work / "drill", str(work / "restored.sqlite")))
    report = {
        "database_mb": round(size_mb, 1), "events": args.events,
        "writer_commits_per_s": round(commits / busy_seconds), "results": results,
        "outgrow_stored_mb": round(manifest.stored_size / 1e6, 1),
        "restore_drill": {"verify_seconds": round(verify_seconds, 2), "restore_seconds": round(restore_seconds, 2)},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"database {size_mb:,.0f} MB ({args.events:,} events); writer during 'busy': "
          f"{report['writer_commits_per_s']} commits/s")
    print(f"{'method':<16}{'idle s':>9}{'MB/s':>9}{'busy s':>9}{'MB/s':>9}")
    for name, row in results.items():
        cells = []
        for phase in ("idle", "busy"):
            seconds = row.get(phase)
            cells += [f"{seconds:9.2f}", f"{size_mb / seconds:9.0f}"] if seconds else ["      n/a", "      n/a"]
        print(f"{name:<16}{''.join(cells)}")
    print(f"outgrow stores {manifest.stored_size / 1e6:,.0f} MB (zstd level 3) of {manifest.size / 1e6:,.0f} MB")
    print(f"restore drill: verify {verify_seconds:.2f} s, restore {restore_seconds:.2f} s")
    ours = results["outgrow"]
    for reference in ("vacuum-into", "sqlite3-shell", "backup-api"):
        for phase in ("idle", "busy"):
            theirs = results[reference].get(phase)
            if theirs and ours.get(phase):
                print(f"ratio outgrow/{reference} ({phase}): {theirs / ours[phase]:.2f}x the speed "  # type: ignore[operator]
                      f"({ours[phase]:.2f} s vs {theirs:.2f} s)")


def _commits(path: Path) -> int:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM events WHERE organization_id = 'bench'").fetchone()[0])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
