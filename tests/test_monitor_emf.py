"""EMF output checked field by field against the CloudWatch embedded metric format specification."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from outgrow.errors import ConfigurationError
from outgrow.monitor.emf import EmfWriter, emf_lines, emf_records
from outgrow.monitor.histogram import BOUNDS, Histogram
from outgrow.monitor.snapshot import ConnectionFigures, ContentionFigures, LatencySummary, MetricsSnapshot

# The unit pattern of the specification's JSON schema.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}
TAKEN_AT = 1_700_000_000.1237


def histogram_of(*seconds: float) -> Histogram:
    histogram = Histogram()
    for value in seconds:
        histogram.observe(value)
    return histogram


def snapshot(**changes: Any) -> MetricsSnapshot:
    selects = histogram_of(0.0004, 0.0004, 0.0004, 0.0021, 0.0021, 0.2)
    inserts = histogram_of(0.003, 0.004)
    statements = Histogram.merged([selects, inserts])
    figures: dict[str, Any] = {
        "engine": "sqlite",
        "database": "/srv/app.db",
        "taken_at": TAKEN_AT,
        "window_s": 60.0,
        "size_bytes": 4_096_000,
        "wal_bytes": 32_768,
        "free_pages": 12,
        "page_size": 4096,
        "statements": LatencySummary.of(statements, errors=1),
        "by_operation": {"SELECT": LatencySummary.of(selects), "INSERT": LatencySummary.of(inserts)},
        "connections": ConnectionFigures(used=3, idle=2, pool_size=5, waiting=1, checkouts=40, wait_p95_s=0.002),
        "contention": ContentionFigures(busy_events=2, write_transactions=40, busy_rate=0.05,
                                        lock_wait_p95_s=0.003, write_transaction_p99_s=0.012),
        "writes_per_s": 0.5,
        "processes": 1,
    }
    figures.update(changes)
    return MetricsSnapshot(**figures)


def refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} is not strict JSON")


def no_nulls(value: Any) -> None:
    assert value is not None
    if isinstance(value, dict):
        for item in value.values():
            no_nulls(item)
    elif isinstance(value, list):
        for item in value:
            no_nulls(item)


def check_emf(line: str) -> dict[str, Any]:
    """Every rule of the specification (and of the Values/Counts form) one line must follow."""
    assert "\n" not in line
    record = json.loads(line, parse_constant=refuse_constant)
    assert isinstance(record, dict)
    no_nulls(record)
    metadata = record["_aws"]
    assert type(metadata["Timestamp"]) is int
    assert metadata["Timestamp"] == round(TAKEN_AT * 1000)
    directives = metadata["CloudWatchMetrics"]
    assert len(directives) >= 1
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        assert len(directive["Dimensions"]) >= 1
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(record[name], str)
                assert 1 <= len(record[name]) <= 1024
        assert 1 <= len(directive["Metrics"]) <= 100
        for definition in directive["Metrics"]:
            assert set(definition) <= {"Name", "Unit", "StorageResolution"}
            assert definition["Unit"] in UNITS
            value = record[definition["Name"]]
            if isinstance(value, dict):
                check_distribution(value)
            else:
                assert type(value) in (int, float)
                assert math.isfinite(value)
    return record


def check_distribution(value: dict[str, Any]) -> None:
    assert set(value) == {"Values", "Counts", "Max", "Min", "Count", "Sum"}
    assert 1 <= len(value["Values"]) == len(value["Counts"]) <= 100
    assert all(type(count) is int and count > 0 for count in value["Counts"])
    assert sum(value["Counts"]) == value["Count"]
    assert all(value["Min"] <= v <= value["Max"] for v in value["Values"])
    assert value["Values"] == sorted(value["Values"])


def metric_names(record: dict[str, Any]) -> list[str]:
    return [m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def units(record: dict[str, Any]) -> dict[str, str]:
    return {m["Name"]: m["Unit"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_every_line_follows_the_specification() -> None:
    lines = emf_lines(snapshot())
    assert len(lines) == 3
    records = [check_emf(line) for line in lines]
    assert [r["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for r in records] == [
        [["Engine"]], [["Engine", "Operation"]], [["Engine", "Operation"]]]
    assert [r.get("Operation") for r in records] == [None, "INSERT", "SELECT"]
    assert all(r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "outgrow" for r in records)
    assert all(r["Engine"] == "sqlite" and r["Database"] == "/srv/app.db" for r in records)


def test_lines_are_compact_and_match_the_records() -> None:
    snap = snapshot()
    lines = emf_lines(snap, namespace="shop/db", service="checkout")
    assert [json.loads(line) for line in lines] == emf_records(snap, namespace="shop/db", service="checkout")
    assert all(": " not in line and ", " not in line for line in lines)


def test_database_record_carries_exact_figures_and_units() -> None:
    snap = snapshot()
    record = check_emf(emf_lines(snap)[0])
    assert units(record) == {
        "DatabaseSize": "Bytes", "WalSize": "Bytes", "FreePages": "Count", "StatementCount": "Count",
        "StatementP50": "Milliseconds", "StatementP95": "Milliseconds", "StatementP99": "Milliseconds",
        "StatementMax": "Milliseconds", "ConnectionsUsed": "Count", "ConnectionsIdle": "Count",
        "ConnectionsWaiting": "Count", "BusyEvents": "Count", "BusyRate": "Percent",
        "LockWaitP95": "Milliseconds", "WriteTransactionP99": "Milliseconds", "WritesPerSecond": "Count/Second",
    }
    statements = snap.statements
    assert statements.p50_s is not None and statements.p95_s is not None
    assert statements.p99_s is not None and statements.max_s is not None
    assert record["DatabaseSize"] == snap.size_bytes == 4_096_000
    assert record["WalSize"] == 32_768
    assert record["FreePages"] == 12
    assert record["StatementCount"] == 8
    assert record["StatementP50"] == statements.p50_s * 1000
    assert record["StatementP95"] == statements.p95_s * 1000
    assert record["StatementP99"] == statements.p99_s * 1000
    assert record["StatementMax"] == statements.max_s * 1000 == 200.0
    assert record["ConnectionsUsed"] == 3
    assert record["ConnectionsIdle"] == 2
    assert record["ConnectionsWaiting"] == 1
    assert record["BusyEvents"] == 2
    assert record["BusyRate"] == 0.05 * 100
    assert record["LockWaitP95"] == 0.003 * 1000
    assert record["WriteTransactionP99"] == 0.012 * 1000
    assert record["WritesPerSecond"] == 0.5


def test_figures_that_are_none_or_not_finite_are_left_out() -> None:
    empty = LatencySummary.of(Histogram())
    snap = snapshot(wal_bytes=None, free_pages=None, statements=empty, by_operation={},
                    contention=ContentionFigures(busy_events=0, write_transactions=0, busy_rate=None,
                                                 lock_wait_p95_s=None, write_transaction_p99_s=None),
                    writes_per_s=float("nan"))
    lines = emf_lines(snap)
    assert len(lines) == 1
    record = check_emf(lines[0])
    assert metric_names(record) == ["DatabaseSize", "StatementCount", "ConnectionsUsed", "ConnectionsIdle",
                                    "ConnectionsWaiting", "BusyEvents"]
    for absent in ("WalSize", "FreePages", "StatementP50", "StatementP95", "StatementP99", "StatementMax",
                   "BusyRate", "LockWaitP95", "WriteTransactionP99", "WritesPerSecond"):
        assert absent not in record
    assert "null" not in lines[0] and "NaN" not in lines[0]
    assert record["StatementCount"] == 0


def test_infinite_figures_are_left_out() -> None:
    record = check_emf(emf_lines(snapshot(writes_per_s=float("inf")))[0])
    assert "WritesPerSecond" not in record


def test_operation_duration_is_a_distribution_of_bucket_midpoints() -> None:
    snap = snapshot()
    select = next(check_emf(line) for line in emf_lines(snap) if '"Operation":"SELECT"' in line)
    assert units(select) == {"OperationDuration": "Milliseconds", "OperationCount": "Count"}
    assert select["OperationCount"] == 6
    # 0.4 ms lies in (0.35, 0.4] ms, 2.1 ms in (2, 2.5] ms, 200 ms in (150, 200] ms.
    assert select["OperationDuration"] == {
        "Values": [0.375, 2.25, 175.0],
        "Counts": [3, 2, 1],
        "Max": 200.0,
        "Min": 0.35,
        "Count": 6,
        "Sum": snap.by_operation["SELECT"].histogram.sum * 1000,
    }


def test_a_midpoint_is_never_above_the_largest_value() -> None:
    # 0.21 s falls in (0.2, 0.25]: its midpoint, 225 ms, is above the maximum observed.
    only = LatencySummary.of(histogram_of(0.21))
    record = check_emf(emf_lines(snapshot(by_operation={"UPDATE": only}))[1])
    assert record["OperationDuration"]["Values"] == [210.0]
    assert record["OperationDuration"]["Min"] == 200.0


def test_more_than_100_buckets_are_merged_to_100() -> None:
    # One value in each of the 106 buckets, the last one above 100 s.
    values = [*BOUNDS, 150.0]
    histogram = histogram_of(*values)
    assert sum(1 for count in histogram.counts if count) == len(BOUNDS) + 1 == 106
    record = check_emf(emf_lines(snapshot(by_operation={"SELECT": LatencySummary.of(histogram)}))[1])
    distribution = record["OperationDuration"]
    assert len(distribution["Values"]) == 100
    assert sum(distribution["Counts"]) == distribution["Count"] == 106
    assert distribution["Max"] == 150_000.0
    assert distribution["Min"] == 0.0
    # The open bucket above 100 s is bounded by the maximum observed: its midpoint is (100 s + 150 s) / 2.
    assert distribution["Values"][-1] == 125_000.0
    # Merging takes the neighbouring pairs holding the fewest values: six pairs at the low end, here.
    assert distribution["Counts"] == [2] * 6 + [1] * 94


def test_an_operation_without_durations_has_only_its_count() -> None:
    record = check_emf(emf_lines(snapshot(by_operation={"DELETE": LatencySummary.of(Histogram())}))[1])
    assert metric_names(record) == ["OperationCount"]
    assert record["OperationCount"] == 0
    assert "OperationDuration" not in record


def test_service_is_a_dimension_of_every_record() -> None:
    records = [check_emf(line) for line in emf_lines(snapshot(), namespace="shop/db", service="checkout")]
    assert [r["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for r in records] == [
        [["Engine", "Service"]], [["Engine", "Service", "Operation"]], [["Engine", "Service", "Operation"]]]
    assert all(r["Service"] == "checkout" for r in records)
    assert all(r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "shop/db" for r in records)


@pytest.mark.parametrize(("namespace", "service"), [("", None), ("x" * 1025, None), ("outgrow", ""),
                                                     ("outgrow", "   "), ("outgrow", "café"),
                                                     ("outgrow", "a\nb"), ("outgrow", "s" * 1025)])
def test_refuses_what_cloudwatch_would_refuse(namespace: str, service: str | None) -> None:
    with pytest.raises(ConfigurationError) as raised:
        emf_records(snapshot(), namespace=namespace, service=service)
    assert raised.value.hint
    with pytest.raises(ConfigurationError):
        EmfWriter(io.StringIO(), namespace=namespace, service=service)


def test_writer_appends_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "emf.log"
    path.parent.mkdir()
    writer = EmfWriter(path, service="checkout")
    assert writer.write(snapshot(by_operation={"SELECT": LatencySummary.of(histogram_of(0.001))})) == 2
    first = path.read_text(encoding="utf-8").splitlines()
    assert len(first) == 2
    assert writer.write(snapshot(by_operation={"INSERT": LatencySummary.of(histogram_of(0.002))})) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    assert lines[:2] == first
    records = [check_emf(line) for line in lines]
    assert [r.get("Operation") for r in records] == [None, "SELECT", None, "INSERT"]
    assert path.read_text(encoding="utf-8").endswith("\n")


def test_writer_accepts_a_path_string(tmp_path: Path) -> None:
    path = tmp_path / "emf.log"
    EmfWriter(str(path)).write(snapshot(by_operation={}))
    EmfWriter(str(path)).write(snapshot(by_operation={}))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_writer_writes_to_a_stream_and_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    assert EmfWriter(stream).write(snapshot()) == 3
    assert stream.getvalue().splitlines() == emf_lines(snapshot())
    EmfWriter().write(snapshot(by_operation={}))
    out = capsys.readouterr().out
    assert out == emf_lines(snapshot(by_operation={}))[0] + "\n"
