"""SQLite -> PostgreSQL: outgrow migrate against pgloader and a `sqlite3 -csv | psql \\copy` pipe, in one run.

    ./run bench migrate_vs_pgloader [EVENTS] [--json]     (default 2,000,000 events)

Builds the database once with ../shared/bench/make_sqlite.py (cached in $TMPDIR/outgrow-bench), starts a
throwaway PostgreSQL 15 cluster on 127.0.0.1 (Debian's binaries; pgloader cannot reach the embedded server's
Unix socket without a unix: URL), and loads the database into a fresh database per tool:

  pgloader   pgloader 3.6.9 with its defaults (installed from Debian when absent)
  pipe       per table `sqlite3 -csv ... | psql \\copy`, then the same primary keys and indexes (checks nothing;
             REALs printed with 15 significant digits)
  outgrow    outgrow migrate (plan, checks, copy, keys, checksums, swap)

Prints wall seconds, rows/s, MB/s and the peak RSS summed over each tool's process tree, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg

from outgrow.migrate import ddl
from outgrow.migrate.plan import build_plan

MAKE_SQLITE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "make_sqlite.py"
PG15 = Path("/usr/lib/postgresql/15/bin")
PAGE = os.sysconf("SC_PAGE_SIZE")


def database(events: int) -> Path:
    cache = Path(tempfile.gettempdir()) / "outgrow-bench"
    cache.mkdir(exist_ok=True)
    path = cache / f"migrate-{events}.sqlite"
    if not path.exists():
        print(f"building {path} ({events:,} events)...", file=sys.stderr)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        subprocess.run([sys.executable, str(MAKE_SQLITE), str(partial), str(events)], check=True)
        partial.rename(path)
    return path


@contextmanager
def cluster() -> Iterator[str]:
    """A PostgreSQL 15 cluster on 127.0.0.1 (trust auth: a benchmark's throwaway), its admin URL."""
    if not (PG15 / "initdb").exists():
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql-15"], check=True)
    subprocess.run(["id", "postgres"], check=True, capture_output=True)
    root = Path(tempfile.mkdtemp(prefix="outgrow-bench-pg15-"))
    shutil.chown(root, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(PG15 / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                    "--encoding=UTF8", "--locale=C.UTF-8", "--auth=trust"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(PG15 / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w",
                    "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c shared_buffers=1GB "
                          "-c max_wal_size=4GB -c checkpoint_timeout=30min", "start"], check=True,
                   capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_postgres, str(PG15 / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh(server: str, name: str) -> str:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}"')
        pg.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, ValueError):
            pass
        stack += children.get(pid, [])
    return total


def measured(command: list[str] | str, *, shell: bool = False) -> tuple[float, int]:
    """(wall seconds, peak RSS of the process tree) of one command."""
    started = time.perf_counter()
    # the pipe benchmark is a shell pipeline by definition; its text is built from our own table names
    child = subprocess.Popen(command, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(child.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = child.communicate()
    done.set()
    sampler.join()
    if child.returncode not in (0, 3):
        raise SystemExit(f"{command if isinstance(command, str) else command[0]} failed: {err[-2000:]}")
    return time.perf_counter() - started, peak


def pipe_commands(source: Path, url: str) -> tuple[list[str], str, list[str]]:
    """The pipe's schema (outgrow's DDL without keys), one shell pipeline per table, then keys and indexes."""
    plan = build_plan(source)
    creates = [ddl.create_table(t, "public", bare=True).as_string(None) for t in plan.tables]
    pipeline = " & ".join(
        f"sqlite3 -csv {source} 'SELECT {', '.join(chr(34) + c.source.name + chr(34) for c in t.columns)} "
        f"FROM \"{t.source.name}\"' | psql -q {url} -c '\\copy \"{t.name}\" FROM STDIN CSV'"
        for t in plan.tables) + " & wait"
    keys = [s.as_string(None) for t in plan.tables for s in ddl.keys_and_indexes(t, "public")]
    return creates, pipeline, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", type=int, nargs="?", default=2_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    source = database(args.events)
    with closing(sqlite3.connect(source)) as conn:
        rows = sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for (t,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall())
    size_mb = source.stat().st_size / 1e6
    if shutil.which("pgloader") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "pgloader"], check=True)
    results: dict[str, dict[str, float]] = {}
    with cluster() as server:
        url = fresh(server, "bench_pgloader")
        seconds, peak = measured(["pgloader", f"sqlite://{source}", url])
        results["pgloader"] = {"seconds": seconds, "peak_rss": peak}
        url = fresh(server, "bench_pipe")
        creates, pipeline, keys = pipe_commands(source, url)
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in creates:
                pg.execute(statement)
        seconds, peak = measured(pipeline, shell=True)  # noqa: S604 (a shell pipeline by definition)
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in keys:
                pg.execute(statement)
        results["pipe"] = {"seconds": time.perf_counter() - started, "peak_rss": peak}
        url = fresh(server, "bench_outgrow")
        outgrow = str(Path(sys.executable).with_name("outgrow"))
        seconds, peak = measured([outgrow, "migrate", str(source), url, "--json"])
        results["outgrow"] = {"seconds": seconds, "peak_rss": peak}
    report = {"events": args.events, "rows": rows, "database_mb": round(size_mb, 1), "results": results,
              "ratios": {"outgrow_vs_pgloader_speed": results["pgloader"]["seconds"] / results["outgrow"]["seconds"],
                         "outgrow_vs_pipe_time": results["outgrow"]["seconds"] / results["pipe"]["seconds"]}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{rows:,} rows, {size_mb:,.0f} MB ({args.events:,} events); PostgreSQL 15 on 127.0.0.1")
    print(f"{'tool':<10}{'wall s':>9}{'rows/s':>12}{'MB/s':>8}{'peak RSS MiB':>14}")
    for name, row in results.items():
        print(f"{name:<10}{row['seconds']:9.1f}{rows / row['seconds']:12,.0f}{size_mb / row['seconds']:8.1f}"
              f"{row['peak_rss'] / 2**20:14,.0f}")
    print(f"outgrow/pgloader: {report['ratios']['outgrow_vs_pgloader_speed']:.2f}x pgloader's rows/s (goal 3x); "
          f"outgrow/pipe: {report['ratios']['outgrow_vs_pipe_time']:.2f}x the pipe's time (goal 1.1x)")


if __name__ == "__main__":
    main()
