"""Column DEFAULTs, translated so an INSERT that omits the column stores the same value on both engines.

A literal default goes through the column's value rule, like any stored value: BOOLEAN ``DEFAULT 0`` becomes
``DEFAULT false``, a literal the column could not hold is reported. SQLite's clock defaults are UTC text with
whole seconds, so their translations are too: ``CURRENT_TIMESTAMP`` in a ``timestamp`` column becomes the UTC
time truncated to the second, and in a text column the same 'YYYY-MM-DD HH:MM:SS' text. Anything else is
evaluated once by SQLite when it is built only of constants and rules that mean the same on both engines;
anything else is reported as not carried.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

from sqlglot import exp

from outgrow.migrate.expressions import TableScope, Untranslatable, clock_kind, clock_sql, parse_sqlite, translate
from outgrow.migrate.values_core import ColumnRule, Rejection

__all__ = ["translate_default"]

_NUMBER = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_STRING = re.compile(r"^'((?:[^']|'')*)'$", re.DOTALL)
_BLOB = re.compile(r"^[xX]'([0-9A-Fa-f]*)'$")
_UTC_NOW = "(now() AT TIME ZONE 'UTC')"
# SQLite spellings of "now", by the part of the clock they give.
_CLOCK = {
    "current_timestamp": "timestamp", "datetime('now')": "timestamp", "datetime(\"now\")": "timestamp",
    "current_date": "date", "date('now')": "date",
    "current_time": "time", "time('now')": "time",
}
# strftime(format, 'now'): SQLite's format letters and PostgreSQL's to_char spelling of each.
_STRFTIME = re.compile(r"^strftime\('((?:[^']|'')*)',\s*'now'\)$", re.IGNORECASE)
_STRFTIME_LETTERS = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS", "%f": "SS.MS",
                     "%j": "DDD", "%%": "%"}
# Random ids: N random bytes in hex. gen_random_uuid() (built in since PostgreSQL 13) gives 16 of them.
_RANDOM_HEX = re.compile(r"^(lower|upper)\(hex\(randomblob\(16\)\)\)$", re.IGNORECASE)


def translate_default(default_sql: str | None, rule: ColumnRule, pg_type: str) -> tuple[str | None, str | None]:
    """(PostgreSQL DEFAULT expression or None, why it is not carried or None)."""
    if default_sql is None:
        return None, None
    text = default_sql.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    clock = _CLOCK.get(re.sub(r"\s+", "", text).lower()) or _parsed_clock(text)
    if clock is not None:
        return _clock_default(clock, pg_type, default_sql)
    if (match := _STRFTIME.match(text)) and pg_type.split("(")[0] in {"text", "varchar"}:
        pattern = _to_char_pattern(match.group(1).replace("''", "'"))
        if pattern is not None:
            return f"to_char({_UTC_NOW}, '{pattern}')", None
    if (match := _RANDOM_HEX.match(re.sub(r"\s+", "", text))) and pg_type.split("(")[0] in {"text", "varchar"}:
        return f"{match.group(1).lower()}(replace(gen_random_uuid()::text, '-', ''))", None
    value: object
    if text.upper() == "NULL":
        return None, None
    if text.upper() in {"TRUE", "FALSE"}:
        value = int(text.upper() == "TRUE")
    elif _NUMBER.match(text):
        value = int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else float(text)
    elif match := _STRING.match(text):
        value = match.group(1).replace("''", "'")
    elif match := _BLOB.match(text):
        value = bytes.fromhex(match.group(1))
    else:
        constant = _constant(text)
        if isinstance(constant, Rejection):
            return None, f"DEFAULT {default_sql}: {constant.reason}"
        value = constant
    if value is None:
        return None, None
    converted = rule.convert(value)
    if isinstance(converted, Rejection):
        return None, f"DEFAULT {default_sql}: {converted.reason}"
    if converted is None:
        return None, None
    if isinstance(converted, bytes):
        return f"'\\x{converted.hex()}'::bytea", None
    return "'" + converted.replace("'", "''") + "'", None


def _parsed_clock(text: str) -> str | None:
    try:
        return clock_kind(parse_sqlite(text, "DEFAULT"))
    except Untranslatable:
        return None


def _constant(text: str) -> object:
    """An expression over constants, such as ``(60 * 60 * 24)`` or ``('v' || 1)``: when every part means the same
    on both engines (outgrow.migrate.expressions) it is deterministic, so SQLite computes it once and the value
    is carried like a literal, exactly."""
    try:
        tree = parse_sqlite(f"SELECT {text}", "expression")
    except Untranslatable as exc:
        return Rejection(str(exc))
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1 or tree.args.get("from_"):
        return Rejection("not a single expression")
    if any(clock_kind(node) for node in tree.expressions[0].walk()):
        return Rejection("a clock inside a larger expression is not translated")
    translated = translate(tree.expressions[0], TableScope({}))
    if translated.pg_sql is None:
        return Rejection(f"{translated.problem}")
    with closing(sqlite3.connect(":memory:")) as conn:
        try:
            return conn.execute(f"SELECT {text}").fetchone()[0]
        except sqlite3.Error as exc:
            return Rejection(f"SQLite cannot compute it ({exc})")


def _to_char_pattern(fmt: str) -> str | None:
    """to_char's pattern for a strftime format of the letters above; literal text is double-quoted."""
    parts, literal, i = [], "", 0
    while i < len(fmt):
        letter = fmt[i:i + 2]
        if letter in _STRFTIME_LETTERS:
            if literal:
                parts.append('"' + literal + '"')
                literal = ""
            parts.append(_STRFTIME_LETTERS[letter])
            i += 2
        elif fmt[i] == "%":
            return None  # a letter with no exact to_char equivalent
        elif fmt[i] in "\"'\\":
            return None
        else:
            literal += fmt[i]
            i += 1
    if literal:
        parts.append('"' + literal + '"')
    return "".join(parts)


def _clock_default(clock: str, pg_type: str, default_sql: str) -> tuple[str | None, str | None]:
    rendered = clock_sql(clock, pg_type)
    if rendered is None:
        return None, f"DEFAULT {default_sql} in a {pg_type} column: the clock's text would not read back the same"
    return rendered, None
