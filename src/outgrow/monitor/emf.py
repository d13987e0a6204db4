"""A :class:`MetricsSnapshot` as CloudWatch Embedded Metric Format (EMF) log lines.

Why EMF: a process that writes these JSON lines to stdout (Lambda, ECS, or any stream the CloudWatch agent
tails) gets CloudWatch metrics and alarms without an API call or credentials in outgrow, and each line stays
searchable in Logs Insights with the figures that made it.

Each snapshot becomes one record with the database figures (dimension ``Engine``, plus ``Service`` when
given) and one record per statement operation (``Engine``, ``Operation``) carrying that operation's
durations as a distribution. Durations are written in milliseconds, CloudWatch's usual unit for latency; a
figure that is None (or not finite) is left out, never written as null or NaN, so every line is strict JSON.

The rules followed, from the specification
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):

* one JSON object per log event, with ``_aws`` = ``{"Timestamp": <integer ms since the epoch>,
  "CloudWatchMetrics": [MetricDirective, ...]}``;
* a MetricDirective has ``Namespace``, ``Dimensions`` (an array of DimensionSets, each at most 30 dimension
  names) and ``Metrics`` (at most 100 MetricDefinitions: ``Name``, optional ``Unit`` from CloudWatch's unit
  list, optional ``StorageResolution`` 1 or 60);
* every dimension name and metric name is a member of the root object; a dimension target is a string of at
  most 1024 characters, a metric target a number or an array of at most 100 numbers.

The distribution form ``{"Values": [...], "Counts": [...], "Max", "Min", "Count", "Sum"}`` is not in that
page: it is what AWS's own OpenTelemetry EMF exporter writes for histograms
(open-telemetry/opentelemetry-collector-contrib, ``exporter/awsemfexporter/datapoint.go``, ``cWMetricHistogram``:
CloudWatch takes the sample count from ``sum(Counts)``), and its pull request #36084 records that CloudWatch
marks a record with more than 100 Values invalid (``EMFValidationErrors``). Values/Counts mirror
PutMetricData's ``Values``/``Counts`` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from outgrow.errors import ConfigurationError
from outgrow.monitor.histogram import BOUNDS, Histogram
from outgrow.monitor.snapshot import MetricsSnapshot

__all__ = ["EmfWriter", "emf_lines", "emf_records"]

#: Limits from the EMF specification (see the module docstring).
_MAX_DIMENSION_VALUE_CHARS = 1024
_MAX_NAMESPACE_CHARS = 1024
#: Above 100 Values CloudWatch rejects the record (awsemfexporter PR #36084).
_MAX_VALUES = 100

#: The database record's metrics and their CloudWatch units, in output order.
#: Durations are seconds in the snapshot, milliseconds here; a rate 0..1 is a Percent 0..100 here.
_DATABASE_METRICS: tuple[tuple[str, str], ...] = (
    ("DatabaseSize", "Bytes"),
    ("WalSize", "Bytes"),
    ("FreePages", "Count"),
    ("StatementCount", "Count"),
    ("StatementP50", "Milliseconds"),
    ("StatementP95", "Milliseconds"),
    ("StatementP99", "Milliseconds"),
    ("StatementMax", "Milliseconds"),
    ("ConnectionsUsed", "Count"),
    ("ConnectionsIdle", "Count"),
    ("ConnectionsWaiting", "Count"),
    ("BusyEvents", "Count"),
    ("BusyRate", "Percent"),
    ("LockWaitP95", "Milliseconds"),
    ("WriteTransactionP99", "Milliseconds"),
    ("WritesPerSecond", "Count/Second"),
)


def emf_records(snapshot: MetricsSnapshot, *, namespace: str = "outgrow",
                service: str | None = None) -> list[dict[str, Any]]:
    """The snapshot as EMF documents: the database record first, then one per operation, sorted by name.

    ``service`` adds a ``Service`` dimension to every record, to tell applications sharing a namespace apart.
    Raises :class:`~outgrow.errors.ConfigurationError` for a namespace or service CloudWatch would refuse.
    """
    _check_namespace(namespace)
    dimensions: dict[str, str] = {"Engine": snapshot.engine}
    if service is not None:
        dimensions["Service"] = _dimension_value("service", service)
    timestamp_ms = round(snapshot.taken_at * 1000)

    records = [_record(namespace, timestamp_ms, dimensions, _database_values(snapshot), snapshot.database)]
    for operation in sorted(snapshot.by_operation):
        summary = snapshot.by_operation[operation]
        values: dict[str, tuple[str, Any]] = {}
        distribution = _distribution(summary.histogram)
        if distribution is not None:
            values["OperationDuration"] = ("Milliseconds", distribution)
        values["OperationCount"] = ("Count", summary.count)
        operation_dimensions = {**dimensions, "Operation": _dimension_value("operation", operation)}
        records.append(_record(namespace, timestamp_ms, operation_dimensions, values, snapshot.database))
    return records


def emf_lines(snapshot: MetricsSnapshot, *, namespace: str = "outgrow", service: str | None = None) -> list[str]:
    """:func:`emf_records` as compact, strict JSON (no NaN or Infinity), one log event per string."""
    return [json.dumps(record, separators=(",", ":"), allow_nan=False)
            for record in emf_records(snapshot, namespace=namespace, service=service)]


class EmfWriter:
    """Writes each snapshot's EMF lines to a text stream (stdout by default) or appends them to a file.

    A file is opened, appended to and closed for every :meth:`write`, so log rotation and other processes
    appending to the same file are never held off; each batch goes out in one ``write`` call, which an
    ``O_APPEND`` file keeps in one piece next to other appenders' lines.
    """

    def __init__(self, target: TextIO | str | os.PathLike[str] | None = None, *, namespace: str = "outgrow",
                 service: str | None = None) -> None:
        _check_namespace(namespace)
        if service is not None:
            _dimension_value("service", service)
        self.target = target
        self.namespace = namespace
        self.service = service

    def write(self, snapshot: MetricsSnapshot) -> int:
        """Write the snapshot's lines and flush them; returns how many lines were written."""
        lines = emf_lines(snapshot, namespace=self.namespace, service=self.service)
        text = "".join(line + "\n" for line in lines)
        target = self.target
        if isinstance(target, str | os.PathLike):
            with open(target, "a", encoding="utf-8") as file:
                file.write(text)
                file.flush()
        else:
            # Looked up per write, not at construction, so pytest's capsys and contextlib.redirect_stdout apply.
            stream = sys.stdout if target is None else target
            stream.write(text)
            stream.flush()
        return len(lines)


def _database_values(snapshot: MetricsSnapshot) -> dict[str, tuple[str, Any]]:
    statements = snapshot.statements
    connections = snapshot.connections
    contention = snapshot.contention
    figures: dict[str, float | int | None] = {
        "DatabaseSize": snapshot.size_bytes,
        "WalSize": snapshot.wal_bytes,
        "FreePages": snapshot.free_pages,
        "StatementCount": statements.count,
        "StatementP50": _ms(statements.p50_s),
        "StatementP95": _ms(statements.p95_s),
        "StatementP99": _ms(statements.p99_s),
        "StatementMax": _ms(statements.max_s),
        "ConnectionsUsed": connections.used,
        "ConnectionsIdle": connections.idle,
        "ConnectionsWaiting": connections.waiting,
        "BusyEvents": contention.busy_events,
        "BusyRate": None if contention.busy_rate is None else contention.busy_rate * 100,
        "LockWaitP95": _ms(contention.lock_wait_p95_s),
        "WriteTransactionP99": _ms(contention.write_transaction_p99_s),
        "WritesPerSecond": snapshot.writes_per_s,
    }
    return {name: (unit, figures[name]) for name, unit in _DATABASE_METRICS}


def _record(namespace: str, timestamp_ms: int, dimensions: dict[str, str],
            values: dict[str, tuple[str, Any]], database: str) -> dict[str, Any]:
    # None and non-finite figures are dropped here, so no metric is declared without a number behind it.
    present = {name: (unit, value) for name, (unit, value) in values.items() if _is_written(value)}
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [list(dimensions)],
                "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in present.items()],
            }],
        },
        **dimensions,
        # Not a dimension (one metric per file would be costly): context for Logs Insights queries.
        "Database": database,
    }
    record.update({name: value for name, (_, value) in present.items()})
    return record


def _is_written(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _distribution(histogram: Histogram) -> dict[str, Any] | None:
    """The histogram in the Values/Counts form, in milliseconds; None when it is empty.

    Each non-empty bucket is written as its midpoint (never above the largest value observed), the estimate
    that is off by at most half a bucket either way; ``Min`` is the lowest non-empty bucket's lower bound,
    since a histogram keeps no exact minimum.
    """
    buckets: list[tuple[float, int]] = []
    minimum: float | None = None
    for index, count in enumerate(histogram.counts):
        if not count:
            continue
        lower = BOUNDS[index - 1] if index > 0 else 0.0
        # The last bucket is open above 100 s: the maximum observed is the only upper bound known.
        upper = BOUNDS[index] if index < len(BOUNDS) else histogram.max
        if minimum is None:
            minimum = min(lower, histogram.max)
        buckets.append((min((lower + upper) / 2, histogram.max), count))
    if minimum is None:
        return None
    buckets = _merge_to(buckets, _MAX_VALUES)
    return {
        # Rounded to the nanosecond: the finest bucket is a microsecond wide, and it keeps the lines short.
        "Values": [round(value * 1000, 6) for value, _ in buckets],
        "Counts": [count for _, count in buckets],
        "Max": histogram.max * 1000,
        "Min": minimum * 1000,
        "Count": histogram.count,
        "Sum": histogram.sum * 1000,
    }


def _merge_to(buckets: Iterable[tuple[float, int]], limit: int) -> list[tuple[float, int]]:
    """Merge adjacent buckets until at most ``limit`` remain, always the neighbouring pair holding the fewest
    values (the least data moved), into their count-weighted mean, which keeps the sum of the values."""
    merged = list(buckets)
    while len(merged) > limit:
        at = min(range(len(merged) - 1), key=lambda i: merged[i][1] + merged[i + 1][1])
        (a, count_a), (b, count_b) = merged[at], merged[at + 1]
        total = count_a + count_b
        merged[at:at + 2] = [((a * count_a + b * count_b) / total, total)]
    return merged


def _check_namespace(namespace: str) -> None:
    if not namespace or len(namespace) > _MAX_NAMESPACE_CHARS:
        raise ConfigurationError(f"CloudWatch namespace {namespace!r} is not 1 to {_MAX_NAMESPACE_CHARS} characters",
                                 hint="pass a short name such as 'outgrow' or 'myapp/db'")


def _dimension_value(what: str, value: str) -> str:
    # The Dimension API asks for printable ASCII with at least one non-blank character.
    if not value.strip() or len(value) > _MAX_DIMENSION_VALUE_CHARS or not value.isascii() or not value.isprintable():
        raise ConfigurationError(
            f"{what} {value!r} cannot be a CloudWatch dimension value",
            hint=f"use 1 to {_MAX_DIMENSION_VALUE_CHARS} printable ASCII characters, not all blank")
    return value
