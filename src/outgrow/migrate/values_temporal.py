"""Dates and timestamps: ISO-8601 text only, read as the same instant or rejected; never an epoch guess."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from outgrow.migrate.values_core import ColumnRule, Converted, Rejection, TypeChoice, storage_class

__all__ = ["DateRule", "DateTimeRule"]

# re.ASCII: \d would also take fullwidth and Arabic-Indic digits, which PostgreSQL refuses.
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.ASCII,
)


class DateRule(ColumnRule):
    family = "date"

    def choose(self) -> TypeChoice:
        return TypeChoice("date", f"declared {self.declared}; ISO-8601 YYYY-MM-DD text only")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            return Rejection(f"{storage_class(value)} value in a DATE column (epoch numbers are never guessed)")
        match = _ISO_DATE.match(value)
        if not match:
            return Rejection("not an ISO-8601 date (YYYY-MM-DD)")
        problem = _calendar_problem(*match.groups())
        return Rejection(problem) if problem else value


class DateTimeRule(ColumnRule):
    family = "datetime"

    def __init__(self, declared: str, length: int | None = None, scale: int | None = None) -> None:
        super().__init__(declared, length, scale)
        self.with_offset = 0

    inspects_values = True

    def inspect(self, value: Any) -> None:
        if isinstance(value, str):
            match = _ISO_DATETIME.match(value.strip())
            if match and match.group(8):
                self.with_offset += 1

    def inspect_where(self, column: str) -> str:
        # An offset follows "YYYY-MM-DDTHH:MM", so it sits at character 17 or later even before strip().
        return f"typeof({column}) = 'text' AND substr({column}, 12) GLOB '*[-+Z]*'"

    def choose(self) -> TypeChoice:
        if self.with_offset:
            return TypeChoice("timestamptz", f"declared {self.declared}; {self.with_offset} values carry a UTC offset")
        return TypeChoice("timestamp", f"declared {self.declared}; no value carries a UTC offset")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            return Rejection(
                f"{storage_class(value)} value in a {self.declared} column (epoch numbers are never guessed)")
        text = value.strip()
        match = _ISO_DATETIME.match(text)
        if not match:
            if _ISO_DATE.match(text):
                if self.with_offset:
                    return Rejection("a date without time or UTC offset in a column whose other values have one: "
                                     "the instant is ambiguous")
                problem = _calendar_problem(*text.split("-"))
                return Rejection(problem) if problem else text + " 00:00:00"
            return Rejection("not an ISO-8601 date and time")
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        problem = _calendar_problem(year, month, day)
        if problem:
            return Rejection(problem)
        if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
            return Rejection("impossible time of day")
        if fraction and len(fraction) > 6:
            return Rejection("more than 6 fractional digits: PostgreSQL keeps microseconds")
        if self.with_offset and not offset:
            return Rejection("no UTC offset in a column whose other values have one: the instant is ambiguous")
        if offset and not self.with_offset:
            # Written after the type was chosen: timestamp (without time zone) would drop the offset.
            return Rejection("a UTC offset in a column planned as timestamp without time zone")
        if offset:
            problem = _instant_problem(text, offset)
            if problem:
                return Rejection(problem)
        return text



def _instant_problem(text: str, offset: str) -> str | None:
    """Offsets beyond what PostgreSQL accepts, and instants whose UTC form leaves years 1-9999."""
    digits = offset.lstrip("+-").replace(":", "")
    if offset != "Z" and (int(digits[:2]) > 15 or int(digits[2:4] or 0) > 59):
        return "UTC offset beyond +/-15:59"
    try:
        datetime.fromisoformat(text.replace(" ", "T", 1)).astimezone(UTC)
    except (ValueError, OverflowError):
        return "the instant falls outside the years 1 to 9999 in UTC"
    return None


def _calendar_problem(year: str, month: str, day: str) -> str | None:
    if int(year) == 0:
        return "year 0 does not exist in PostgreSQL's calendar"
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return "impossible date"
    return None


