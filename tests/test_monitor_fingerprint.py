"""Statement fingerprints: every parameter style, literals, list collapse, operations, masking."""

from __future__ import annotations

import re

import pytest

from outgrow.monitor.fingerprint import fingerprint, mask_parameters, replace_parameters

FINGERPRINTS = [
    # each DB-API parameter style, and a literal, give one text
    ("SELECT v FROM t WHERE id = 5", "sqlite", "SELECT v FROM t WHERE id = ?"),
    ("select v from t where id = :id", "sqlite", "SELECT v FROM t WHERE id = ?"),
    ("SELECT v FROM t WHERE id = ?", "sqlite", "SELECT v FROM t WHERE id = ?"),
    ("SELECT v FROM t WHERE a = ?1 AND b = $2 AND c = @c AND d = $name", "sqlite",
     "SELECT v FROM t WHERE a = ? AND b = ? AND c = ? AND d = ?"),
    ("SELECT v FROM t WHERE a = %(a)s AND b = %s AND c = $1 AND d = %b", "postgresql",
     "SELECT v FROM t WHERE a = ? AND b = ? AND c = ? AND d = ?"),
    ("SELECT v FROM t WHERE a = b % s", "postgresql", "SELECT v FROM t WHERE a = b % s"),  # modulo, spaced
    # lists and rows collapse
    ("SELECT * FROM t WHERE a IN (1, 2, 3) AND b NOT IN (:x, :y)", "sqlite",
     "SELECT * FROM t WHERE a IN (?) AND b NOT IN (?)"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y''z'), (?, ?)", "sqlite", "INSERT INTO t (a, b) VALUES (?)"),
    ("INSERT INTO t (a, b) VALUES (%s, NULL), (%s, NULL), (%s, DEFAULT)", "postgresql",
     "INSERT INTO t (a, b) VALUES (?, NULL), (?, DEFAULT)"),
    ("SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4)) AND c = ANY(%s)", "postgresql",
     "SELECT * FROM t WHERE (a, b) IN ((?)) AND c = ANY (?)"),
    ("SELECT substr(a, 1, 2) FROM t", "sqlite", "SELECT substr(a, ?, ?) FROM t"),  # arguments are not a list
    # negative numbers are literals where a value goes; subtraction stays
    ("SELECT a - 1, -2 FROM t WHERE b = -3.5e2 AND c BETWEEN -1 AND 1 AND d = CASE WHEN e THEN -1 END - 1",
     "sqlite", "SELECT a - ?, ? FROM t WHERE b = ? AND c BETWEEN ? AND ? AND d = CASE WHEN e THEN ? END - ?"),
    # comments, case, whitespace, quoting, casts, keywords kept
    ('/* x */ select "Odd ""Name""", `b`, [c], count(*)\n  from "T"  -- trailing\n where d is not null;', "sqlite",
     'SELECT "Odd ""Name""", "b", "c", count(*) FROM "T" WHERE d IS NOT NULL'),
    ("SELECT x::int - 1, CAST(y AS date), date, E'a\\n', $$b$$, B'01', X'AF' FROM t WHERE z = TRUE", "postgresql",
     "SELECT x::INT - ?, CAST(y AS DATE), date, ?, ?, ?, ? FROM t WHERE z = TRUE"),
    ("SELECT arr[1:2], arr[a:b] FROM t", "postgresql", "SELECT arr[?:?], arr[a:b] FROM t"),
    # the text after a command word is tokenized too
    ("EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = 'x'", "sqlite", "EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = ?"),
    ("REPLACE INTO t VALUES (1, 'a')", "sqlite", "REPLACE INTO t VALUES (?)"),
]


@pytest.mark.parametrize(("sql", "dialect", "expected"), FINGERPRINTS)
def test_fingerprint_texts(sql: str, dialect: str, expected: str) -> None:
    assert fingerprint(sql, dialect).text == expected


OPERATIONS = [
    ("SELECT 1", "SELECT"), ("(SELECT 1) UNION (SELECT 2)", "SELECT"), ("insert into t values (1)", "INSERT"),
    ("INSERT OR REPLACE INTO t VALUES (1)", "INSERT"), ("REPLACE INTO t VALUES (1)", "REPLACE"),
    ("UPDATE t SET a = 1", "UPDATE"), ("DELETE FROM t", "DELETE"), ("CREATE INDEX ix ON t (a)", "CREATE"),
    ("DROP TABLE t", "DROP"), ("ALTER TABLE t ADD b INT", "ALTER"), ("BEGIN IMMEDIATE", "BEGIN"),
    ("COMMIT", "COMMIT"), ("END", "COMMIT"), ("ROLLBACK TO SAVEPOINT s", "ROLLBACK"), ("SAVEPOINT s", "SAVEPOINT"),
    ("RELEASE s", "RELEASE"), ("PRAGMA journal_mode", "PRAGMA"), ("EXPLAIN SELECT 1", "EXPLAIN"),
    ("VACUUM", "VACUUM"), ("ANALYZE t", "ANALYZE"), ("COPY t FROM STDIN", "COPY"), ("SET a = 1", "SET"),
    ("SHOW search_path", "SHOW"), ("START TRANSACTION", "BEGIN"), ("TRUNCATE t", "OTHER"), ("", "OTHER"),
    ("WITH c AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM c)", "DELETE"),
    ("WITH c AS (DELETE FROM t RETURNING id) SELECT * FROM c", "SELECT"),
    ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) INSERT INTO t SELECT i FROM n", "INSERT"),
    ("WITH c AS (SELECT 1) UPDATE t SET a = (SELECT * FROM c)", "UPDATE"),
]


@pytest.mark.parametrize(("sql", "operation"), OPERATIONS)
def test_operations(sql: str, operation: str) -> None:
    assert fingerprint(sql, "postgresql" if sql.startswith(("SHOW", "COPY", "START")) else "sqlite").operation \
        == operation


def test_ids_follow_the_text_alone() -> None:
    ids = {fingerprint(sql).id for sql in ("SELECT a FROM t WHERE b IN (1, 2, 3)", "select a from t where b in (4,5)",
                                            "SELECT a\n  FROM t -- c\n WHERE b IN (:x)")}
    assert len(ids) == 1
    only = ids.pop()
    assert re.fullmatch(r"[0-9a-f]{16}", only)
    assert only == fingerprint("SELECT a FROM t WHERE b IN (?)", "postgresql").id
    assert fingerprint("SELECT 1").id != fingerprint("SELECT 1 FROM t").id


def test_text_the_tokenizer_rejects_keeps_its_words() -> None:
    broken = fingerprint("SELECT *\n FROM t WHERE a = 'unterminated")
    assert (broken.text, broken.operation) == ("SELECT * FROM t WHERE a = 'unterminated", "SELECT")
    assert broken.id == fingerprint("SELECT * FROM t  WHERE a = 'unterminated").id
    assert fingerprint("whatever this is", "no-such-dialect").text == "whatever this is"


def test_replace_parameters_rewrites_only_parameters() -> None:
    assert replace_parameters("SELECT v FROM t WHERE a = ?1 AND b = :b AND c = $c AND d = 'x:y ?' -- :z") \
        == "SELECT v FROM t WHERE a = ? AND b = ? AND c = ? AND d = 'x:y ?' -- :z"
    assert replace_parameters("SELECT v FROM t WHERE a = %(a)s AND b = %b AND c = $1 AND d = e % f", "postgresql",
                              "%s") == "SELECT v FROM t WHERE a = %s AND b = %s AND c = %s AND d = e % f"
    assert replace_parameters("EXPLAIN SELECT 1 WHERE a = :a") == "EXPLAIN SELECT 1 WHERE a = ?"
    assert replace_parameters("SELECT 'open") == "SELECT 'open"


def test_mask_parameters_shows_types_never_values() -> None:
    assert mask_parameters({"org": 3, "name": "Ada", "score": 1.5, "blob": b"x", "none": None, "ok": True}) == {
        "org": "<int>", "name": "<str>", "score": "<float>", "blob": "<bytes>", "none": None, "ok": "<bool>"}
    assert mask_parameters((1, "secret")) == ["<int>", "<str>"]
    assert mask_parameters([(1, b"x"), (2, b"y")]) == [["<int>", "<bytes>"], ["<int>", "<bytes>"]]
    assert mask_parameters([{"a": "secret"}]) == [{"a": "<str>"}]
    assert mask_parameters(None) is None
