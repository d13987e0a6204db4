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
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

__all__ = ["ColumnRule", "Rejection", "TypeChoice", "escape_value", "rule_for"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
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
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                return Rejection("text that is not a number in a NUMERIC column")
            if not number.is_finite():
                return Rejection("text that is not a finite number in a NUMERIC column")
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
                problem = _calendar_problem(*text.split("-"))
                return Rejection(problem) if problem else text + " 00:00:00" + ("+00" if self.with_offset else "")
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

    def choose(self) -> TypeChoice:
        classes = [c for c in self.classes if c != "null"]
        if len(classes) == 1:
            self.delegate = self._BY_CLASS[classes[0]]("")
            choice = self.delegate.choose()
            return TypeChoice(choice.pg_type, f"no declared type; every value is {classes[0]}")
        if not classes:
            self.delegate = TextRule("")
            return TypeChoice("text", "no declared type and no values")
        self.delegate = self._BY_CLASS[self.classes.most_common(1)[0][0]]("")
        mixture = ", ".join(f"{n} {c}" for c, n in self.classes.most_common() if c != "null")
        return TypeChoice(self.delegate.choose().pg_type,
                          f"no declared type and mixed values ({mixture}): others are reported; override the type")

    def convert(self, value: Any) -> Converted:
        return self.delegate.convert(value)


UntypedRule._BY_CLASS.update({"integer": IntegerRule, "real": RealRule, "text": TextRule, "blob": BlobRule})


def _calendar_problem(year: str, month: str, day: str) -> str | None:
    if int(year) == 0:
        return "year 0 does not exist in PostgreSQL's calendar"
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return "impossible date"
    return None


def _json_problem(value: str) -> str | None:
    try:
        json.loads(value)
    except ValueError:
        return "not valid JSON"
    return None


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
    if not text:
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

