"""JSON: jsonb when every value is JSON that jsonb keeps equal, json text when not, else rejected."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from outgrow.migrate.values_core import ColumnRule, Converted, Rejection, TypeChoice, storage_class, text_problem

__all__ = ["JsonRule"]


class JsonRule(ColumnRule):
    family = "json"

    def __init__(self, declared: str, length: int | None = None, scale: int | None = None) -> None:
        super().__init__(declared, length, scale)
        self.keep_text = 0
        self.jsonb = False  # chosen: values must then be ones jsonb keeps equal

    inspects_values = True

    def inspect(self, value: Any) -> None:
        if isinstance(value, str) and _json_problem(value) is None and not _jsonb_keeps(value):
            self.keep_text += 1

    def choose(self) -> TypeChoice:
        self.jsonb = not self.keep_text
        if self.keep_text:
            return TypeChoice("json", f"declared {self.declared}; {self.keep_text} values have duplicate keys or "
                                      "\\u0000, which jsonb would not keep equal")
        return TypeChoice("jsonb", f"declared {self.declared}; every value is valid JSON that jsonb keeps equal")

    def convert(self, value: Any) -> Converted:
        if value is None:
            return None
        if not isinstance(value, str):
            return Rejection(f"{storage_class(value)} value in a JSON column")
        problem = text_problem(value) or _json_problem(value)
        if problem is None and self.jsonb and not _jsonb_keeps(value):
            # Written after the type was chosen (every value the plan saw was one jsonb keeps).
            problem = "duplicate keys or \\u0000 in a column planned as jsonb, which would not keep them"
        return Rejection(problem) if problem else value



def _json_problem(value: str) -> str | None:
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        parsed = json.loads(value, parse_constant=refuse)  # NaN and Infinity are Python's, not JSON's
    except ValueError:
        return "not valid JSON"
    except RecursionError:
        return "JSON nested too deeply to check"
    if _SURROGATE_ESCAPE.search(value) and _has_lone_surrogate(parsed):
        return "JSON string escape of a lone UTF-16 surrogate, which PostgreSQL refuses"
    if _BIG_EXPONENT.search(value) and _number_out_of_range(value):
        return "a JSON number outside PostgreSQL's numeric range"
    return None


def _number_out_of_range(value: str) -> bool:
    found = False

    def check(text: str) -> Decimal:
        nonlocal found
        number = Decimal(text)
        # numeric holds up to 131072 digits before the point and 16383 after (PostgreSQL docs, 8.1.2)
        found = found or (number != 0 and not -16383 <= number.adjusted() < 131072)
        return number

    json.loads(value, parse_float=check, parse_int=check)
    return found


_BIG_EXPONENT = re.compile(r"[eE][+-]?[0-9]{5,}")  # only such a number can leave numeric's range

# Only a \\uD800-\\uDFFF escape in the text can produce a surrogate: look for one before walking the value.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


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

    try:
        json.loads(value, object_pairs_hook=pairs)
    except RecursionError:
        return False
    return not duplicate and "\\u0000" not in value
