"""SQLite backups against real files and real concurrent processes: consistency under writes, damage caught,
atomic restore (kill -9 included), restore under an open connection, retention."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from outgrow.backup import (
    LocalDirectory,
    RetentionPolicy,
    create_backup,
    find_backup,
    holders,
    kept,
    list_backups,
    prune_backups,
    restore_backup,
    verify,
)
from outgrow.backup.schedule import run_schedule
from outgrow.backup.sqlite_restore import restore_sqlite
from outgrow.errors import BackupDamaged, BackupError

WRITER = textwrap.dedent("""
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO orders (seq, note) VALUES (?, randomblob(200))", (n,))
        conn.execute("INSERT INTO lines (seq, qty) VALUES (?, ?)", (n, n % 7))
        conn.execute("UPDATE totals SET orders = orders + 1, qty = qty + ? WHERE id = 1", (n % 7,))
        conn.execute("COMMIT")
""")


def make_database(path: Path, rows: int = 2000) -> Path:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript("""
            CREATE TABLE orders (seq INTEGER PRIMARY KEY, note BLOB);
            CREATE TABLE lines (seq INTEGER PRIMARY KEY, qty INTEGER);
            CREATE TABLE totals (id INTEGER PRIMARY KEY, orders INTEGER, qty INTEGER);
            INSERT INTO totals VALUES (1, 0, 0);
        """)
        conn.execute("BEGIN")
        for n in range(1, rows + 1):
            conn.execute("INSERT INTO orders VALUES (?, randomblob(200))", (-n,))
            conn.execute("INSERT INTO lines VALUES (?, 0)", (-n,))
            conn.execute("UPDATE totals SET orders = orders + 1 WHERE id = 1")
        conn.execute("COMMIT")
    return path


@contextmanager
def process(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield child
    finally:
        child.kill()
        child.wait()


def consistent(path: Path) -> tuple[int, int]:
    """(orders, qty): each table agrees with the others, as at one committed point."""
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orders, lines, total_orders, total_qty, qty = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM lines), orders, qty, "
            "(SELECT sum(qty) FROM lines) FROM totals").fetchone()
    assert orders == lines == total_orders and qty == total_qty
    return orders, qty


@pytest.mark.parametrize("method", ["backup-api", "vacuum-into"])
def test_a_backup_taken_while_another_process_writes_is_one_committed_point(tmp_path: Path, method: str) -> None:
    database = make_database(tmp_path / "app.db")
    folder = tmp_path / "backups"
    with process(WRITER, str(database)):
        time.sleep(0.2)
        manifests = [create_backup(database, folder, method=method) for _ in range(3)]  # type: ignore[arg-type]
    counts = []
    for manifest in manifests:
        assert manifest.integrity == "ok"
        restored = tmp_path / f"{manifest.id}.db"
        restore_backup(manifest.id, folder, str(restored))
        counts.append(consistent(restored)[0])
    assert counts == sorted(counts) and counts[-1] > 2000  # taken while the writer kept committing


def test_verify_catches_flipped_bytes_and_a_wrong_manifest(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db")
    folder = tmp_path / "backups"
    manifest = create_backup(database, folder)
    assert verify(manifest.id, folder).detail.endswith("SHA-256 and integrity_check ok")
    archive = folder / manifest.file
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(BackupDamaged, match=r"the archive is damaged"):
        verify(manifest.id, folder)
    second = create_backup(database, folder)
    manifest_file = folder / f"{second.id}.json"
    manifest_file.write_text(manifest_file.read_text().replace(second.sha256, "0" * 64))
    with pytest.raises(BackupDamaged, match="does not match its manifest"):
        verify(second.id, folder)


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from outgrow.backup import LocalDirectory, find_backup
    from outgrow.backup.sqlite_restore import restore_sqlite
    folder = LocalDirectory(Path(sys.argv[1]))
    chunks = 0
    def progress(n):
        global chunks
        chunks += 1
        if chunks == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)
    restore_sqlite(folder, find_backup(folder, "latest"), Path(sys.argv[2]), progress=progress)
""")


@pytest.mark.parametrize("chunk", [1, 3])
def test_a_restore_killed_midway_leaves_the_original_intact(tmp_path: Path, chunk: int) -> None:
    database = make_database(tmp_path / "app.db", rows=20000)  # several MB: the restore takes many chunks
    folder = tmp_path / "backups"
    create_backup(database, folder)
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("DELETE FROM lines WHERE seq < -100")  # the original now differs from the backup
        conn.commit()
    before = database.read_bytes(), consistent_rows(database)
    killed = subprocess.run([sys.executable, "-c", KILLER, str(folder), str(database), str(chunk)], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert consistent_rows(database) == before[1]
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def consistent_rows(path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM lines)").fetchone()


HOLDER = textwrap.dedent("""
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("SELECT count(*) FROM lines").fetchone()
    print("ready", flush=True)
    for line in sys.stdin:
        print(conn.execute("SELECT count(*) FROM lines").fetchone()[0], flush=True)
""")


def test_restore_under_an_open_connection_refuses_or_goes_live(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=50)
    folder = tmp_path / "backups"
    manifest = create_backup(database, folder)
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("INSERT INTO lines VALUES (1, 1)")
        conn.commit()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        assert holders(database) == [child.pid]
        with pytest.raises(BackupError, match=f"open in process {child.pid}"):
            restore_backup(manifest.id, folder, database=database)
        result = restore_backup(manifest.id, folder, database=database, live=True)
        assert result.mode == "live" and result.replaced is not None  # type: ignore[union-attr]
        child.stdin.write("count\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "50"  # the open connection sees the restored content
    finally:
        child.kill()
        child.wait()
    replaced = find_backup(LocalDirectory(folder), result.replaced.id)  # type: ignore[union-attr]
    assert replaced.source == str(database.resolve())
    restore_backup(replaced.id, folder, str(tmp_path / "before.db"))
    assert consistent_rows(tmp_path / "before.db") == (50, 51)  # what the restore replaced was kept


def test_restore_replaces_stale_wal_files_instead_of_replaying_them(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=10)
    folder = tmp_path / "backups"
    manifest = create_backup(database, folder)
    target = tmp_path / "new.db"
    Path(f"{target}-wal").write_bytes(Path(f"{database}-wal").read_bytes() if Path(f"{database}-wal").exists()
                                      else b"\0" * 4096)
    restore_backup(manifest.id, folder, str(target))
    assert not Path(f"{target}-wal").exists() or Path(f"{target}-wal").stat().st_size == 0
    assert consistent_rows(target) == (10, 10)


def test_litestream_managed_database_is_not_replaced_without_force(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=5)
    folder = tmp_path / "backups"
    manifest = create_backup(database, folder)
    (tmp_path / ".app.db-litestream").mkdir()
    with pytest.raises(BackupError, match="managed by Litestream"):
        restore_backup(manifest.id, folder, database=database)
    result = restore_backup(manifest.id, folder, database=database, force=True)
    assert result.mode == "replaced"  # type: ignore[union-attr]


def test_retention_keeps_exactly_the_expected_set() -> None:
    start = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)  # a Thursday
    # two backups a day for 30 days, plus a gap: days 10-12 have none
    times = [start + timedelta(days=d, hours=h) for d in range(30) if d not in (10, 11, 12) for h in (0, 12)]
    policy = RetentionPolicy(last=3, daily=5, weekly=3)
    chosen = kept(times, policy)
    newest = sorted(times, reverse=True)
    expected = set(newest[:3])
    expected |= {max(t for t in times if t.date() == day) for day in sorted({t.date() for t in times})[-5:]}
    weeks = sorted({t.isocalendar()[:2] for t in times})[-3:]
    expected |= {max(t for t in times if t.isocalendar()[:2] == week) for week in weeks}
    assert chosen == expected
    # last 3: Jan 30 12:30, Jan 30 00:30, Jan 29 12:30; daily adds Jan 28, 27, 26 (12:30); weekly (Thursday
    # Jan 1 starts ISO week 1) adds the newest of weeks 4 and 3: Jan 25 and Jan 18 (12:30); week 5's is Jan 30.
    assert sorted(t.strftime("%d %H") for t in chosen) == [
        "18 12", "25 12", "26 12", "27 12", "28 12", "29 12", "30 00", "30 12"]
    assert kept(times, RetentionPolicy(last=0, daily=0, weekly=1)) == {newest[0]}


def test_prune_deletes_what_the_policy_does_not_keep(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=5)
    folder = tmp_path / "backups"
    made = [create_backup(database, folder) for _ in range(4)]
    preview = prune_backups(LocalDirectory(folder), RetentionPolicy(last=2, daily=0, weekly=0), dry_run=True)
    assert [m.id for m in preview.deleted] == [m.id for m in made[:2]]
    assert len(list_backups(LocalDirectory(folder))) == 4
    prune_backups(LocalDirectory(folder), RetentionPolicy(last=2, daily=0, weekly=0))
    assert [m.id for m in list_backups(LocalDirectory(folder))] == [m.id for m in made[2:]]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{m.id}.json" for m in made[2:]] + [m.file for m in made[2:]])


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path, outgrow_cli: list[str]) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not a database" * 100)
    database = make_database(tmp_path / "app.db", rows=5)
    create_backup(database)  # into the default directory, app-backups beside it
    cases = [
        (["backup", "create", str(tmp_path / "missing.db")], f"error: no SQLite database at {tmp_path / 'missing.db'}"),
        (["backup", "create", str(not_db)], f"error: {not_db} is not a SQLite database (file is not a database)"),
        (["backup", "restore", "latest", "--database", str(database), "--to", str(not_db / "x.db")],
         f"error: cannot write in {not_db}"),  # a directory that is a file: unwritable even for root
        (["backup", "verify", "nope", str(database)], f"error: no backups match 'nope' in {tmp_path / 'app-backups'}"),
        (["backup", "schedule", str(database), "--every", "soon"],
         "error: --every 'soon': expected a positive duration such as 90s, 15m, 1h or 1d"),
    ]
    for args, first_line in cases:
        result = subprocess.run([*outgrow_cli, *args], capture_output=True, text=True, check=False,
                                env={**os.environ, "COLUMNS": "200"})
        assert result.returncode != 0, args
        assert result.stderr.splitlines()[0].startswith(first_line), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_schedule_backs_up_prunes_and_exports_gauges(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=5)
    folder = tmp_path / "backups"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rounds: list[str | None] = []
    run_schedule(str(database), folder, 0.05, RetentionPolicy(last=2, daily=0, weekly=0), count=3, metrics_port=port,
                 on_round=lambda manifest, _pruned, _failure: rounds.append(manifest.id if manifest else None))
    stored = list_backups(LocalDirectory(folder))
    assert [m.id for m in stored] == rounds[1:] and len(rounds) == 3  # three made, the oldest pruned
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples["outgrow_backup_last_success_timestamp_seconds"] == stored[-1].created_at.timestamp()
    assert samples["outgrow_backup_last_size_bytes"] == stored[-1].stored_size
    assert samples["outgrow_backup_interval_seconds"] == 0.05
    assert samples["outgrow_backup_failures_total"] == 0
    database.unlink()
    metrics = run_schedule(str(database), folder, 0.05, RetentionPolicy(), count=1)
    failures = metrics.registry.get_sample_value("outgrow_backup_failures_total",
                                                 {"database": str(database.absolute())})
    assert failures == 1  # counted, and the loop went on


@pytest.mark.parametrize("name", ["a#1.db", "b?x.db", "c%41.db", "with space.db"])
def test_file_names_with_uri_characters_are_backed_up_and_restored(tmp_path: Path, name: str) -> None:
    database = make_database(tmp_path / name, rows=30)
    folder = tmp_path / "backups"
    manifest = create_backup(database, folder)
    assert manifest.page_count and manifest.page_count > 2  # the database itself, not an empty namesake
    # no namesake created by reading the name as a URI (a#1.db opened as "a")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(name)] == ["backups"]
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("DELETE FROM lines")
        conn.commit()
    restore_backup(manifest.id, folder, database=str(database))
    assert consistent_rows(database) == (30, 30)


def test_a_manifest_cannot_point_outside_its_directory(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=5)
    folder = tmp_path / "backups"
    good = create_backup(database, folder)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    evil = good.model_copy(update={"id": "evil-20200101T000000000000Z", "file": "../victim.txt"})
    (folder / f"{evil.id}.json").write_text(evil.to_json())
    assert [m.id for m in list_backups(LocalDirectory(folder))] == [good.id]  # not listed, so never pruned
    prune_backups(LocalDirectory(folder), RetentionPolicy(last=1, daily=0, weekly=0))
    assert victim.read_text() == "keep me"
    with pytest.raises(BackupError, match="refusing the backup file name"):
        LocalDirectory(folder).delete("../victim.txt")


def test_restore_keeps_permissions_goes_through_symlinks_and_picks_the_right_database(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    database = make_database(real / "app.db", rows=8)
    other = make_database(tmp_path / "other.db", rows=3)
    database.chmod(0o600)
    link = tmp_path / "app.db"
    link.symlink_to(database)
    folder = tmp_path / "backups"
    mine = create_backup(database, folder)
    create_backup(other, folder)  # newer, of another database, in the same directory
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("DELETE FROM lines")
        conn.commit()
    result = restore_backup("latest", folder, database=str(link))
    assert result.target == database.resolve() and link.is_symlink()  # type: ignore[union-attr]
    assert consistent_rows(database) == (8, 8)
    assert oct(database.stat().st_mode & 0o777) == "0o600"
    assert find_backup(LocalDirectory(folder), "latest", source=str(database.resolve())).id == mine.id  # not the
    # before-restore backup the restore just took, and not other.db's
    prune_backups(LocalDirectory(folder), RetentionPolicy(last=1, daily=0, weekly=0), source=str(database.resolve()))
    assert {m.source for m in list_backups(LocalDirectory(folder))} == {str(database.resolve()), str(other.resolve())}


OPENER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("SELECT count(*) FROM lines").fetchone()
    print("ready", flush=True)
    time.sleep(60)
""")


def test_a_connection_opened_during_the_restore_stops_the_swap(tmp_path: Path) -> None:
    database = make_database(tmp_path / "app.db", rows=20000)
    folder = tmp_path / "backups"
    manifest = create_backup(database, folder)
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("DELETE FROM lines WHERE seq < -10")
        conn.commit()
    before = consistent_rows(database)
    opened: list[subprocess.Popen[str]] = []

    def open_it(_n: int) -> None:
        if not opened:  # an application connects while the image is being decompressed
            child = subprocess.Popen([sys.executable, "-c", OPENER, str(database)], stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            opened.append(child)

    try:
        with pytest.raises(BackupError, match=r"in use|open in process"):
            restore_sqlite(LocalDirectory(folder), manifest, database, progress=open_it)
    finally:
        for child in opened:
            child.kill()
            child.wait()
    assert consistent_rows(database) == before
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # put back as it was
