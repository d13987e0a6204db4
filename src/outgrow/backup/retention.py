"""Which backups a retention policy keeps: the last N, the newest of each of the last D days that have a
backup, and the newest of each of the last W ISO weeks that have one (the union). The same rule restic and
borg use, so a gap in the schedule never shortens what is kept."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["RetentionPolicy", "kept"]


@dataclass(frozen=True)
class RetentionPolicy:
    last: int = 7
    daily: int = 7
    weekly: int = 4

    def __post_init__(self) -> None:
        if min(self.last, self.daily, self.weekly) < 0:
            raise ValueError("retention counts cannot be negative")
        if self.last + self.daily + self.weekly == 0:
            raise ValueError("a policy that keeps nothing would delete every backup")


def kept(times: Iterable[datetime], policy: RetentionPolicy) -> set[datetime]:
    """The subset of ``times`` (backup creation times, UTC) the policy keeps."""
    newest_first = sorted(set(times), reverse=True)
    keep = set(newest_first[:policy.last])
    periods: list[tuple[Callable[[datetime], object], int]] = [
        (lambda t: t.date(), policy.daily), (lambda t: tuple(t.isocalendar())[:2], policy.weekly)]
    for period, count in periods:
        seen: list[object] = []
        for moment in newest_first:
            bucket = period(moment)
            if bucket not in seen:
                if len(seen) == count:
                    break
                seen.append(bucket)
                keep.add(moment)
    return keep
