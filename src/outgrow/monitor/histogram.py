"""Duration histograms with fixed bucket boundaries: merged by adding counts, read as percentiles.

One boundary table for every histogram outgrow keeps, so histograms from different threads, processes and
time windows merge by adding bucket counts: a percentile is always read from merged counts, never averaged.
The boundaries are 13 per decade from 1 µs to 100 s (an estimate is off by at most half a bucket, under
25 %), and they include every boundary that is exported to Prometheus, among them the seed's 150 ms.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["BOUNDS", "EXPORTED_BOUNDS", "Histogram", "bucket_index"]

_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
#: Upper bounds in seconds (inclusive, as Prometheus' ``le``); one bucket more holds what is above the last.
BOUNDS: tuple[float, ...] = (*(float(f"{m}e{exponent}") for exponent in range(-6, 2) for m in _MANTISSAS), 100.0)
#: The boundaries exported as Prometheus ``le`` labels: OpenTelemetry's advice for
#: ``db.client.operation.duration`` (1 ms ... 10 s), finer below 1 ms where SQLite answers, and 150 ms.
EXPORTED_BOUNDS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BUCKETS = len(BOUNDS) + 1
assert set(EXPORTED_BOUNDS) <= set(BOUNDS)


def bucket_index(seconds: float) -> int:
    """The bucket a duration falls in: the first whose upper bound is >= it."""
    return bisect_left(BOUNDS, seconds)


@dataclass
class Histogram:
    """Counts per bucket, plus the exact sum and maximum of what was observed."""

    counts: list[int] = field(default_factory=lambda: [0] * _BUCKETS)
    sum: float = 0.0
    max: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BOUNDS, seconds)] += 1
        self.sum += seconds
        if seconds > self.max:
            self.max = seconds

    def add(self, other: Histogram) -> None:
        """Merge ``other`` into this one."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.sum += other.sum
        self.max = max(self.max, other.max)

    def minus(self, earlier: Histogram) -> Histogram:
        """What was observed since ``earlier`` (a previous state of the same histogram)."""
        return Histogram([a - b for a, b in zip(self.counts, earlier.counts, strict=True)],
                         self.sum - earlier.sum, self.max)

    def copy(self) -> Histogram:
        return Histogram(list(self.counts), self.sum, self.max)

    @classmethod
    def merged(cls, histograms: Iterable[Histogram]) -> Histogram:
        total = cls()
        for histogram in histograms:
            total.add(histogram)
        return total

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1), interpolated inside its bucket as Prometheus' ``histogram_quantile``
        does, and never above the largest value observed. None when empty."""
        total = self.count
        if total == 0:
            return None
        rank = q * total
        seen = 0
        for index, count in enumerate(self.counts):
            if count and seen + count >= rank:
                lower = BOUNDS[index - 1] if index > 0 else 0.0
                upper = BOUNDS[index] if index < len(BOUNDS) else self.max
                estimate = lower + (upper - lower) * max(0.0, rank - seen) / count
                return min(estimate, self.max)
            seen += count
        return self.max

    def mean(self) -> float | None:
        total = self.count
        return self.sum / total if total else None

    def cumulative(self, bounds: tuple[float, ...] = EXPORTED_BOUNDS) -> list[tuple[float, int]]:
        """(upper bound, count of values <= it) for each of ``bounds``, then (inf, total): Prometheus' form."""
        out: list[tuple[float, int]] = []
        running = 0
        index = 0
        for bound in bounds:
            while index < len(BOUNDS) and BOUNDS[index] <= bound:
                running += self.counts[index]
                index += 1
            out.append((bound, running))
        out.append((float("inf"), self.count))
        return out

    def to_sparse(self) -> dict[str, int]:
        """The non-zero buckets by index: how histograms are stored."""
        return {str(i): c for i, c in enumerate(self.counts) if c}

    @classmethod
    def from_sparse(cls, sparse: Mapping[str, int], total: float, maximum: float) -> Histogram:
        counts = [0] * _BUCKETS
        for index, count in sparse.items():
            counts[int(index)] = int(count)
        return cls(counts, float(total), float(maximum))
