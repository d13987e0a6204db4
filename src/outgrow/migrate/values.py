"""The value rules: which PostgreSQL type a SQLite column becomes, and whether each stored value survives.

SQLite's type affinity lets any value into any column, so a type follows the declared type *and* the values
actually stored. Every rule here either carries a value exactly (as the text PostgreSQL's input function
reads back as the same value) or rejects it with a reason; nothing is rounded, truncated or reinterpreted.
The data audit reuses this module.

Use: ``rule = rule_for(declared)``; feed every stored value to ``rule.observe()``; ``rule.choose()`` gives the
:class:`TypeChoice`; then ``rule.convert(value)`` gives the COPY text (or bytes) or a :class:`Rejection`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

__all__ = ["INT64_MAX", "INT64_MIN", "ColumnRule", "Rejection", "TypeChoice", "UntypedRule", "escape_value", "rule_for"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
_NUMBER_TEXT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


@dataclass(frozen=True)
class TypeChoice:
    """The PostgreSQL type for one column, and why."""

    pg_type: str
    reason: str


@dataclass(frozen=True)
class Rejection:
    """A value that cannot be carried exactly."""

    reason: str


Converted = str | bytes | None | Rejection


def escape_value(value: Any) -> str:
    """A printable, unambiguous rendering of a stored value for reports (NUL and invalid UTF-8 visible)."""
    if isinstance(value, bytes):
        return "x'" + value.hex() + "'"
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace").replace("\x00", "\\x00")
    return repr(value)


def _storage_class(value: Any) -> str:
    return {int: "integer", float: "real", str: "text", bytes: "blob"}.get(type(value), "null")


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "text holds a NUL byte, which PostgreSQL text cannot store"
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return "text is not valid UTF-8"
    return None


class ColumnRule:
    """Type choice and value conversion for one declared type family."""

    family: ClassVar[str] = "text"

    def __init__(self, declared: str, length: int | None = None, scale: int | None = None) -> None:
        self.declared = declared
        self.length = length
        self.scale = scale
        self.classes: Counter[str] = Counter()

    def observe(self, value: Any) -> None:
        """Look at one stored value before the type is chosen."""
        self.classes[_storage_class(value)] += 1

    def choose(self) -> TypeChoice:
        raise NotImplementedError

    def convert(self, value: Any) -> Converted:
        """The COPY text for ``value`` in the chosen type, or why it cannot be carried."""
        raise NotImplementedError


class IntegerRule(ColumnRule):
    family = "integer"

    def choose(self) -> TypeChoice:
        return TypeChoice("bigint", f"declared {self.declared}: SQLite integers are 64-bit, so bigint (never int)")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isfinite(value) and value.is_integer():
                return Rejection("integer beyond 64 bits, stored by SQLite as REAL (precision already lost)")
            return Rejection(f"REAL value {value!r} in an INTEGER column")
        return Rejection(f"{_storage_class(value)} value in an INTEGER column")


class RealRule(ColumnRule):
    family = "real"

    def choose(self) -> TypeChoice:
        return TypeChoice("double precision", f"declared {self.declared}: SQLite REAL is an 8-byte IEEE double")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, float):
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return repr(value)  # shortest text that reads back as the same double; keeps -0.0
        return Rejection(f"{_storage_class(value)} value in a REAL column")


class NumericRule(ColumnRule):
    family = "numeric"

    def choose(self) -> TypeChoice:
        if self.length is None:
            return TypeChoice("numeric", f"declared {self.declared} without precision")
        return TypeChoice(f"numeric({self.length},{self.scale or 0})", f"declared {self.declared}")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if isinstance(value, float):
            if not math.isfinite(value):
                return Rejection(f"{value!r} in a NUMERIC column (SQLite stored an infinity)")
            if value == 0 and math.copysign(1, value) < 0:
                return Rejection("-0.0 in a NUMERIC column: numeric has no negative zero")
            number = Decimal(repr(value))
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, str):
            # Decimal() also takes "1_000", " 5" and non-ASCII digits: accept only what PostgreSQL reads as
            # the same number, and only in its plain spelling.
            if not _NUMBER_TEXT.match(value):
                return Rejection("text that is not a plain number in a NUMERIC column")
            try:
                number = Decimal(value)
            except InvalidOperation:
                return Rejection("text that is not a number in a NUMERIC column")
        else:
            return Rejection(f"{_storage_class(value)} value in a NUMERIC column")
        if self.length is not None:
            scale = self.scale or 0
            _sign, digits, exponent = number.as_tuple()
            decimals = max(0, -int(exponent))
            integer_digits = max(0, len(digits) + int(exponent))
            if decimals > scale:
                return Rejection(f"{number} has more than {scale} decimal places for numeric({self.length},{scale})")
            if integer_digits > self.length - scale:
                return Rejection(f"{number} does not fit numeric({self.length},{scale})")
        return format(number, "f")


class TextRule(ColumnRule):
    family = "text"

    def choose(self) -> TypeChoice:
        if self.length is not None:
            return TypeChoice(f"varchar({self.length})", f"declared {self.declared}; over-long values are reported")
        return TypeChoice("text", f"declared {self.declared or 'TEXT'}")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            if isinstance(value, bytes):
                return Rejection("BLOB value in a text column")
            value = repr(value) if isinstance(value, float) else str(value)  # NUMERIC values in untyped text
        problem = _text_problem(value)
        if problem:
            return Rejection(problem)
        if self.length is not None and len(value) > self.length:
            return Rejection(f"{len(value)} characters, over the declared {self.length}")
        return str(value)


class BlobRule(ColumnRule):
    family = "blob"

    def choose(self) -> TypeChoice:
        return TypeChoice("bytea", f"declared {self.declared or 'BLOB'}")

    def convert(self, value: Any) -> Converted:
        if value is None or isinstance(value, bytes):
            return value
        return Rejection(f"{_storage_class(value)} value in a BLOB column")


class BooleanRule(ColumnRule):
    family = "boolean"
    _TRUE: ClassVar[frozenset[object]] = frozenset({1, "1", "t", "true", "T", "TRUE", "True"})
    _FALSE: ClassVar[frozenset[object]] = frozenset({0, "0", "f", "false", "F", "FALSE", "False"})

    def choose(self) -> TypeChoice:
        return TypeChoice("boolean", f"declared {self.declared}; values other than 0/1/true/false are reported")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if isinstance(value, int | str) and value in self._TRUE:
            return "true"
        if isinstance(value, int | str) and value in self._FALSE:
            return "false"
        return Rejection(f"{escape_value(value)} is not a boolean (0/1, t/f, true/false)")


class DateRule(ColumnRule):
    family = "date"

    def choose(self) -> TypeChoice:
        return TypeChoice("date", f"declared {self.declared}; ISO-8601 YYYY-MM-DD text only")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            return Rejection(f"{_storage_class(value)} value in a DATE column (epoch numbers are never guessed)")
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

    def observe(self, value: Any) -> None:
        super().observe(value)
        if isinstance(value, str):
            match = _ISO_DATETIME.match(value.strip())
            if match and match.group(8):
                self.with_offset += 1

    def choose(self) -> TypeChoice:
        if self.with_offset:
            return TypeChoice("timestamptz", f"declared {self.declared}; {self.with_offset} values carry a UTC offset")
        return TypeChoice("timestamp", f"declared {self.declared}; no value carries a UTC offset")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            return Rejection(
                f"{_storage_class(value)} value in a {self.declared} column (epoch numbers are never guessed)")
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
        if offset:
            problem = _instant_problem(text, offset)
            if problem:
                return Rejection(problem)
        return text


class JsonRule(ColumnRule):
    family = "json"

    def __init__(self, declared: str, length: int | None = None, scale: int | None = None) -> None:
        super().__init__(declared, length, scale)
        self.keep_text = 0

    def observe(self, value: Any) -> None:
        super().observe(value)
        if isinstance(value, str) and _json_problem(value) is None and not _jsonb_keeps(value):
            self.keep_text += 1

    def choose(self) -> TypeChoice:
        if self.keep_text:
            return TypeChoice("json", f"declared {self.declared}; {self.keep_text} values have duplicate keys or "
                                      "\\u0000, which jsonb would not keep equal")
        return TypeChoice("jsonb", f"declared {self.declared}; every value is valid JSON that jsonb keeps equal")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            return Rejection(f"{_storage_class(value)} value in a JSON column")
        problem = _text_problem(value) or _json_problem(value)
        return Rejection(problem) if problem else value


class UntypedRule(ColumnRule):
    """No declared type: the type the values share when they all have one storage class. Nothing guessed."""

    family = "none"
    _BY_CLASS: ClassVar[dict[str, type[ColumnRule]]] = {}

    chosen: str = "text"
    delegate: ColumnRule

    def choose(self) -> TypeChoice:
        counts = Counter({c: n for c, n in self.classes.items() if c != "null"})
        if not counts:
            self.chosen, self.delegate = "text", TextRule("")
            return TypeChoice("text", "no declared type and no values")
        self.chosen = counts.most_common(1)[0][0]
        self.delegate = self._BY_CLASS[self.chosen]("")
        pg_type = self.delegate.choose().pg_type
        if len(counts) == 1:
            return TypeChoice(pg_type, f"no declared type; every value is {self.chosen}")
        mixture = ", ".join(f"{n} {c}" for c, n in counts.most_common())
        return TypeChoice(pg_type, f"no declared type and mixed values ({mixture}): the values that are not "
                                   f"{self.chosen} are reported; a type override in --config decides")

    def convert(self, value: Any) -> Converted:
        kind = _storage_class(value)
        if kind not in {"null", self.chosen}:
            # Converting it would change it (1e16 -> '1e+16', 2**53 + 1 -> a double): report it instead.
            return Rejection(f"{kind} value in an untyped column whose values are {self.chosen}")
        return self.delegate.convert(value)


UntypedRule._BY_CLASS.update({"integer": IntegerRule, "real": RealRule, "text": TextRule, "blob": BlobRule})


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


def _json_problem(value: str) -> str | None:
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        parsed = json.loads(value, parse_constant=refuse)  # NaN and Infinity are Python's, not JSON's
    except ValueError:
        return "not valid JSON"
    if _has_lone_surrogate(parsed):
        return "JSON string escape of a lone UTF-16 surrogate, which PostgreSQL refuses"
    return None


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _jsonb_keeps(value: str) -> bool:
    duplicate = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicate
        keys = [k for k, _ in items]
        duplicate = duplicate or len(keys) != len(set(keys))
        return dict(items)

    json.loads(value, object_pairs_hook=pairs)
    return not duplicate and "\\u0000" not in value


_RULES: list[tuple[re.Pattern[str], type[ColumnRule]]] = [
    (re.compile(r"^BOOL"), BooleanRule),
    (re.compile(r"^(DATETIME|TIMESTAMP)"), DateTimeRule),
    (re.compile(r"^DATE$"), DateRule),
    (re.compile(r"^JSONB?$"), JsonRule),
    # SQLite's own affinity rules (sqlite.org/datatype3.html#determination_of_column_affinity), in order.
    (re.compile(r"INT"), IntegerRule),
    (re.compile(r"CHAR|CLOB|TEXT"), TextRule),
    (re.compile(r"BLOB"), BlobRule),
    (re.compile(r"REAL|FLOA|DOUB"), RealRule),
]


def rule_for(declared: str | None) -> ColumnRule:
    """The rule for a column declared as ``declared`` (``None`` or ``""``: no declared type)."""
    text = (declared or "").strip()
    if not text or text.upper() == "ANY":  # ANY in a STRICT table stores values as given, like no type
        return UntypedRule("")
    match = _DECLARED.match(text)
    name = (match.group(1) if match else text).upper().strip()
    length = int(match.group(2)) if match and match.group(2) else None
    scale = int(match.group(3)) if match and match.group(3) else None
    for pattern, rule in _RULES:
        if pattern.search(name):
            if rule is TextRule and not re.search(r"CHAR", name):
                length = None  # TEXT(n) / CLOB(n): SQLite ignores the n, and so do we
            return rule(text, length, scale)
    return NumericRule(text, length, scale)

