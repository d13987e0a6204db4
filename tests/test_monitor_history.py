"""The history: probes of several processes merged, samples, downsampling, retention, alerts, /metrics."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from outgrow import connect
from outgrow.monitor.exporter import metrics_registry
from outgrow.monitor.histogram import Histogram
from outgrow.monitor.history import Delta, HistoryStore, default_history_path
from outgrow.monitor.metrics import collect_metrics
from outgrow.monitor.recorder import sample_history
from outgrow.settings import Settings

APPLICATION = """
import sys
from sqlalchemy import text
from outgrow import connect
from outgrow.settings import Settings
db = connect(Settings(database_url="sqlite:///" + sys.argv[1]))
with db.engine.connect() as conn:
    for i in range(int(sys.argv[2])):
        conn.execute(text("SELECT id FROM t WHERE id = :i"), {"i": i}).fetchall()
with db.transaction() as conn:
    conn.execute(text("INSERT INTO t (id) VALUES (:i)"), {"i": 1000 + int(sys.argv[2])})
"""  # no close(): the probe's last flush happens at exit


def make_database(path: Path) -> None:
    with connect(Settings(database_url=f"sqlite:///{path}", monitor_enabled=False)) as db, db.transaction() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))


def test_two_application_processes_are_merged_by_a_third(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    make_database(path)
    apps = [subprocess.Popen([sys.executable, "-c", APPLICATION, str(path), str(n)]) for n in (30, 45)]
    assert [app.wait(timeout=60) for app in apps] == [0, 0]
    assert default_history_path(path).exists()
    snapshot = collect_metrics(Settings(database_url=f"sqlite:///{path}"), window_s=None)
    assert snapshot.by_operation["SELECT"].count == 75
    assert snapshot.by_operation["INSERT"].count == 2
    assert snapshot.contention.write_transactions == 2
    assert snapshot.size_bytes == path.stat().st_size


def _flush(store: HistoryStore, at: float, histogram: Histogram, busy: int) -> None:
    store.flush(Delta("proc", at, statements={("fp1", ""): histogram}, histograms={"lock_wait": histogram.copy()},
                      counters={"busy": busy}), [("fp1", "SELECT", "SELECT ?", None, at)], "host", 1, 0.0)


def test_downsampling_merges_buckets_and_keeps_percentiles(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    rng = random.Random(8)
    start = 3600.0 * 1000
    raw: dict[float, Histogram] = {}
    for k in range(1, 25):  # 24 samples, 30 s apart: 12 minutes, three 5-minute windows
        histogram = Histogram()
        for _ in range(rng.randrange(5, 60)):
            histogram.observe(rng.lognormvariate(-6, 1.5))
        at = start + 30 * k
        _flush(store, at - 1, histogram, busy=k)
        assert store.take_sample(at, {"size_bytes": 1000 + k, "wal_bytes": 0}, live_after=0)
        raw[at] = histogram
    store.compact(start + 2 * 86400, raw_s=86400, five_minute_s=30 * 86400, hourly_s=365 * 86400)
    assert not store.sample_histograms(0)
    five = store.sample_histograms(300)
    ends = sorted({at for at, *_ in five})
    assert ends == [start + 300, start + 600, start + 900]
    for end in ends:
        members = [h for at, h in raw.items() if end - 300 < at <= end]
        merged = Histogram.merged(members)
        stored = five[(end, "statement", "fp1", "")]
        assert stored.counts == merged.counts
        assert stored.quantile(0.95) == merged.quantile(0.95)
        assert stored.max == max(h.max for h in members)
    rows = {s.at: s for s in store.samples()}
    assert rows[start + 300].size_bytes == 1010  # the window's last sample (at start + 300)
    assert rows[start + 300].busy == sum(range(1, 11))
    store.compact(start + 40 * 86400, raw_s=86400, five_minute_s=30 * 86400, hourly_s=365 * 86400)
    hourly = store.sample_histograms(3600)
    assert list(hourly) == [(start + 3600, "statement", "fp1", ""), (start + 3600, "lock_wait", "", "")] or \
        sorted(hourly) == sorted([(start + 3600, "statement", "fp1", ""), (start + 3600, "lock_wait", "", "")])
    assert hourly[(start + 3600, "statement", "fp1", "")].counts == Histogram.merged(raw.values()).counts
    assert [s.resolution for s in store.samples()] == [3600]
    store.compact(start + 400 * 86400, raw_s=86400, five_minute_s=30 * 86400, hourly_s=365 * 86400)
    assert store.samples() == []


def test_alerts_go_pending_firing_resolved_on_samples(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    make_database(path)
    settings = Settings(database_url=f"sqlite:///{path}", alert_db_size_bytes=1000, alert_for_s=60,
                        monitor_flush_s=3600, monitor_sample_s=10)
    with connect(settings) as db:
        store = db.recorder.store  # type: ignore[union-attr]
        db.recorder.tick(sample=False)  # type: ignore[union-attr]
        now = 2_000_000_000.0
        states = []
        for at in (now, now + 30, now + 61):
            events = sample_history(store, db.engine, db.dialect, settings, at)
            states.append([(e.rule, e.state) for e in events or []])
        with db.transaction() as conn:
            conn.execute(text("DELETE FROM t"))
        resolved = sample_history(store, db.engine, db.dialect,
                                  settings.model_copy(update={"alert_db_size_bytes": 10 ** 9}), now + 90)
    assert states == [[("DatabaseTooLarge", "pending")], [], [("DatabaseTooLarge", "firing")]]
    assert [(e.rule, e.state) for e in resolved or []] == [("DatabaseTooLarge", "resolved")]
    assert [row[2] for row in reversed(store.alert_events())] == ["pending", "firing", "resolved"]


def test_metrics_text_parses_back(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    make_database(path)
    with connect(Settings(database_url=f"sqlite:///{path}")) as db:
        with db.engine.connect() as conn:
            for i in range(12):
                conn.execute(text("SELECT id FROM t WHERE id = :i"), {"i": i}).fetchall()
        families = {f.name: f for f in text_string_to_metric_families(generate_latest(metrics_registry(db)).decode())}
    durations = families["db_client_operation_duration_seconds"]
    selects = {s.labels["le"]: s.value for s in durations.samples
               if s.name.endswith("_bucket") and s.labels["db_operation_name"] == "SELECT"}
    assert selects["+Inf"] == 12 and selects["0.15"] == 12
    assert {s.labels["db_system_name"] for s in durations.samples} == {"sqlite"}
    assert families["outgrow_db_size_bytes"].samples[0].value == path.stat().st_size
    states = {s.labels["db_client_connection_state"] for s in families["db_client_connection_count"].samples}
    assert states == {"used", "idle"}
    assert "outgrow_sqlite_busy_events" in families and "outgrow_db_write_transactions" in families
