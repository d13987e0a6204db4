"""The per-value rules, value by value: carried exactly (as the text PostgreSQL reads back) or rejected."""

from __future__ import annotations

import pytest

from outgrow.migrate.values import Rejection, escape_value, rule_for


@pytest.mark.parametrize(
    ("declared", "pg_type"),
    [
        ("INTEGER", "bigint"), ("int", "bigint"), ("UNSIGNED BIG INT", "bigint"), ("REAL", "double precision"),
        ("DOUBLE PRECISION", "double precision"), ("FLOAT", "double precision"), ("NUMERIC(12, 2)", "numeric(12,2)"),
        ("DECIMAL(10,5)", "numeric(10,5)"), ("NUMERIC", "numeric"), ("VARCHAR(200)", "varchar(200)"),
        ("NVARCHAR(10)", "varchar(10)"), ("CHAR(3)", "varchar(3)"), ("TEXT", "text"), ("CLOB", "text"),
        ("BLOB", "bytea"), ("BOOLEAN", "boolean"), ("DATE", "date"), ("DATETIME", "timestamp"),
        ("TIMESTAMP", "timestamp"), ("JSON", "jsonb"),
    ],
)
def test_declared_types_map_to_exact_postgresql_types(declared: str, pg_type: str) -> None:
    assert rule_for(declared).choose().pg_type == pg_type


@pytest.mark.parametrize(
    ("declared", "value", "text"),
    [
        ("INTEGER", 2**63 - 1, "9223372036854775807"),
        ("INTEGER", -(2**63), "-9223372036854775808"),
        ("REAL", 3.141592653589793, "3.141592653589793"),
        ("REAL", -0.0, "-0.0"),
        ("REAL", float("inf"), "Infinity"),
        ("REAL", 5, "5.0"),
        ("NUMERIC(12,2)", 12.5, "12.5"),
        ("NUMERIC(12,2)", 1e9, "1000000000.0"),
        ("NUMERIC", 0.1, "0.1"),
        ("NUMERIC", 10**30, "1" + "0" * 30),
        ("VARCHAR(5)", "héllo", "héllo"),
        ("TEXT", 'a "b" \\ c\nd\te', 'a "b" \\ c\nd\te'),
        ("BOOLEAN", 1, "true"),
        ("BOOLEAN", "f", "false"),
        ("DATE", "2024-02-29", "2024-02-29"),
        ("DATETIME", "2024-05-01 12:34:56.123456", "2024-05-01 12:34:56.123456"),
        ("DATETIME", "2024-05-01", "2024-05-01 00:00:00"),
        ("JSON", '{"a": 1}', '{"a": 1}'),
    ],
)
def test_values_carried_exactly(declared: str, value: object, text: str) -> None:
    rule = rule_for(declared)
    rule.observe(value)
    rule.choose()
    assert rule.convert(value) == text


def test_blobs_and_nulls_pass_through() -> None:
    assert rule_for("BLOB").convert(b"\x00\xff") == b"\x00\xff"
    assert rule_for("INTEGER").convert(None) is None


@pytest.mark.parametrize(
    ("declared", "value", "reason"),
    [
        ("INTEGER", 1.5, "REAL value 1.5 in an INTEGER column"),
        ("INTEGER", float(2**70), "integer beyond 64 bits, stored by SQLite as REAL (precision already lost)"),
        ("INTEGER", "abc", "text value in an INTEGER column"),
        ("TEXT", "a\x00b", "text holds a NUL byte, which PostgreSQL text cannot store"),
        ("TEXT", b"\xff".decode("utf-8", "surrogateescape"), "text is not valid UTF-8"),
        ("VARCHAR(3)", "abcd", "4 characters, over the declared 3"),
        ("BOOLEAN", 2, "2 is not a boolean (0/1, t/f, true/false)"),
        ("DATE", "2023-02-30", "impossible date"),
        ("DATE", "0000-01-01", "year 0 does not exist in PostgreSQL's calendar"),
        ("DATE", 1700000000, "integer value in a DATE column (epoch numbers are never guessed)"),
        ("DATETIME", "now", "not an ISO-8601 date and time"),
        ("DATETIME", "2024-01-01 00:00:00.1234567", "more than 6 fractional digits: PostgreSQL keeps microseconds"),
        ("NUMERIC(5,2)", 1.005, "1.005 has more than 2 decimal places for numeric(5,2)"),
        ("NUMERIC(5,2)", 12345.5, "12345.5 does not fit numeric(5,2)"),
        ("NUMERIC", -0.0, "-0.0 in a NUMERIC column: numeric has no negative zero"),
        ("JSON", "{bad", "not valid JSON"),
        ("BLOB", "text", "text value in a BLOB column"),
    ],
)
def test_values_that_cannot_be_carried_are_rejected_with_the_reason(declared: str, value: object,
                                                                     reason: str) -> None:
    rule = rule_for(declared)
    rule.observe(value)
    rule.choose()
    assert rule.convert(value) == Rejection(reason)


def test_offsets_make_timestamptz_and_offsetless_values_ambiguous() -> None:
    rule = rule_for("DATETIME")
    for value in ("2024-05-01T12:00:00+02:00", "2024-05-01 10:00:00"):
        rule.observe(value)
    assert rule.choose().pg_type == "timestamptz"
    assert rule.convert("2024-05-01T12:00:00+02:00") == "2024-05-01T12:00:00+02:00"
    assert isinstance(rule.convert("2024-05-01 10:00:00"), Rejection)


def test_json_with_duplicate_keys_stays_json_text() -> None:
    rule = rule_for("JSON")
    rule.observe('{"a": 1, "a": 2}')
    assert rule.choose().pg_type == "json"


def test_untyped_columns_follow_a_single_storage_class_and_report_mixtures() -> None:
    same = rule_for(None)
    for value in (1, 2, None):
        same.observe(value)
    assert same.choose().pg_type == "bigint"
    mixed = rule_for("")
    for value in (1, 2, "x"):
        mixed.observe(value)
    choice = mixed.choose()
    assert choice.pg_type == "bigint"
    assert "mixed values (2 integer, 1 text)" in choice.reason
    assert mixed.convert("x") == Rejection("text value in an untyped column whose values are integer")


def test_escape_value_makes_nul_and_bad_bytes_visible() -> None:
    assert escape_value("a\x00b") == "a\\x00b"
    assert escape_value(b"\x01\xff") == "x'01ff'"
    assert escape_value(b"\xff".decode("utf-8", "surrogateescape")) == "\\xff"
    assert escape_value("C:\\new") == "C:\\\\new"  # backslashes doubled, so \\x00 cannot be faked
