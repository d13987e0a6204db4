"""The value rules: which PostgreSQL type a SQLite column becomes, and whether each stored value survives.

SQLite's type affinity lets any value into any column, so a type follows the declared type *and* the values
actually stored. Every rule here either carries a value exactly (as the text PostgreSQL's input function
reads back as the same value) or rejects it with a reason; nothing is rounded, truncated or reinterpreted.
The data audit reuses this module.

Use: ``rule = rule_for(declared)``; feed every stored value to ``rule.observe()``; ``rule.choose()`` gives the
:class:`TypeChoice`; then ``rule.convert(value)`` gives the COPY text (or bytes) or a :class:`Rejection`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from outgrow.migrate.values_core import (
    INT64_MAX,
    INT64_MIN,
    ColumnRule,
    Converted,
    Rejection,
    TypeChoice,
    escape_value,
    storage_class,
    text_problem,
)
from outgrow.migrate.values_json import JsonRule
from outgrow.migrate.values_temporal import DateRule, DateTimeRule

__all__ = ["INT64_MAX", "INT64_MIN", "ColumnRule", "Rejection", "TypeChoice", "UntypedRule", "escape_value", "rule_for"]

_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
_NUMBER_TEXT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


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
        return Rejection(f"{storage_class(value)} value in an INTEGER column")


class RealRule(ColumnRule):
    family = "real"

    def choose(self) -> TypeChoice:
        return TypeChoice("double precision", f"declared {self.declared}: SQLite REAL is an 8-byte IEEE double")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > 2**53 and int(float(value)) != value:
                return Rejection(f"integer {value} has no exact double (a REAL column would round it)")
            value = float(value)
        if isinstance(value, float):
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return repr(value)  # shortest text that reads back as the same double; keeps -0.0
        return Rejection(f"{storage_class(value)} value in a REAL column")


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
            return Rejection(f"{storage_class(value)} value in a NUMERIC column")
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
        problem = text_problem(value)
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
        return Rejection(f"{storage_class(value)} value in a BLOB column")


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


class UntypedRule(ColumnRule):
    """No declared type: the type the values share when they all have one storage class. Nothing guessed."""

    family = "none"
    counts_classes = True
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
        kind = storage_class(value)
        if kind not in {"null", self.chosen}:
            # Converting it would change it (1e16 -> '1e+16', 2**53 + 1 -> a double): report it instead.
            return Rejection(f"{kind} value in an untyped column whose values are {self.chosen}")
        return self.delegate.convert(value)


UntypedRule._BY_CLASS.update({"integer": IntegerRule, "real": RealRule, "text": TextRule, "blob": BlobRule})


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


