"""Edge cases found by review: each once changed a value, lost a row, or failed a valid migration."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outgrow import ConfigurationError, MigrationError, VerificationFailed
from outgrow.migrate import MigrationReport, build_plan, migrate, verify
from outgrow.migrate.config import MigrationConfig
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(libpq_conninfo(pg_url),
                         autocommit=True) as conn:
        yield conn


def source(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "edge.db"
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


def reasons(report: MigrationReport) -> list[tuple[Any, str, str]]:
    return [(r.key, r.value, r.reason) for r in report.plan.rejects + report.plan.dangling]


def test_mixed_untyped_values_are_reported_not_converted(tmp_path: Path, pg_url: str,
                                                        pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE t (a); INSERT INTO t VALUES (0.5), (1.5), (9007199254740993);"
                            "CREATE TABLE u (a); INSERT INTO u VALUES ('x'), ('y'), (1e16), (5), (NULL);")
    report = migrate(path, pg_url, on_error="report")
    assert reasons(report) == [
        ({"rowid": 3}, "9007199254740993", "integer value in an untyped column whose values are real"),
        ({"rowid": 3}, "1e+16", "real value in an untyped column whose values are text"),
        ({"rowid": 4}, "5", "integer value in an untyped column whose values are text"),
    ]
    assert pg.execute("SELECT a FROM t ORDER BY a").fetchall() == [(0.5,), (1.5,)]
    assert pg.execute("SELECT a FROM u ORDER BY a").fetchall() == [("x",), ("y",), (None,)]
    assert [r.verified for r in verify(path, pg_url)] == [True, True]


def test_numeric_text_is_read_only_in_its_plain_spelling(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (a ANY) STRICT; INSERT INTO t VALUES ('007'), ('1.50');"
                            "CREATE TABLE n (a DECIMAL(10,2)); INSERT INTO n VALUES ('1_0.5'), (' 5'), ('2.5');")
    report = migrate(path, pg_url, on_error="report")
    assert [c.choice.pg_type for t in report.plan.tables for c in t.columns] == ["numeric(10,2)", "text"]
    # (' 5' is no case: NUMERIC affinity stored it as the integer 5 already.)
    assert reasons(report) == [({"rowid": 1}, "1_0.5", "text that is not a plain number in a NUMERIC column")]


def test_a_column_named_rowid_does_not_hide_the_real_rowid(tmp_path: Path, pg_url: str,
                                                           pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE t (rowid TEXT, v INTEGER);"
                            "INSERT INTO t VALUES ('a', 1), ('a', 'bad'), ('b', 3);"
                            "CREATE TABLE k (k PRIMARY KEY, v) WITHOUT ROWID;"
                            "INSERT INTO k VALUES ('a', 1), (x'61', 3), ('x''61''', 4);")
    report = migrate(path, pg_url, on_error="report")
    assert pg.execute('SELECT "rowid", v FROM t ORDER BY v').fetchall() == [("a", 1), ("b", 3)]
    assert pg.execute("SELECT k FROM k ORDER BY k").fetchall() == [("a",), ("x'61'",)]
    assert report.exit_code == 3


def test_a_generated_column_built_on_another_is_listed_as_not_carried(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED, "
                            "c INTEGER AS (b + 1)); INSERT INTO t (a) VALUES (1);")
    report = migrate(path, pg_url)
    assert report.plan.tables[0].not_carried == [
        "column c: generated AS (b + 1): names an unknown column 'b' (a generated column: PostgreSQL cannot "
        "compute one from another)"]
    assert report.exit_code == 3


def test_nulls_outnumbering_mixed_values(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (a); INSERT INTO t VALUES (NULL), (NULL), (NULL), (1), ('x');")
    report = migrate(path, pg_url, on_error="report")
    assert len(reasons(report)) == 1


def test_checksums_of_long_numbers_negative_zero_json_and_early_years(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (a NUMERIC, j JSON, d DATETIME);"
                            "INSERT INTO t VALUES ('1234567890.123456789012345678901234567', '{\"a\": -0.0}',"
                            " '0999-06-01 10:00:00+00');")
    report = migrate(path, pg_url)
    assert [t.verified for t in report.tables] == [True]


@pytest.mark.parametrize(("value", "reason"), [
    ("2020-01-01 10:00:00+25", "UTC offset beyond +/-15:59"),
    ("0001-01-01 02:00:00+05", "the instant falls outside the years 1 to 9999 in UTC"),
])
def test_impossible_instants_are_rejected(tmp_path: Path, pg_url: str, value: str, reason: str) -> None:
    path = source(tmp_path, f"CREATE TABLE t (d DATETIME); INSERT INTO t VALUES ('{value}');")
    report = migrate(path, pg_url, on_error="report")
    assert reasons(report) == [({"rowid": 1}, value, reason)]


def test_verify_after_report_mode_with_dangling_keys(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                            "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p (id));"
                            "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1), (2, 99);")
    assert migrate(path, pg_url, on_error="report").exit_code == 3
    assert [r.rows for r in verify(path, pg_url)] == [1, 1]


def test_json_that_postgresql_refuses_is_rejected(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (j JSON); INSERT INTO t VALUES ('{\"a\": 1}'), ('NaN'), ('\"\\ud800\"');")
    report = migrate(path, pg_url, on_error="report")
    assert [r[2] for r in reasons(report)] == [
        "not valid JSON", "JSON string escape of a lone UTF-16 surrogate, which PostgreSQL refuses"]


def test_null_in_a_text_primary_key_is_rejected(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE t (k TEXT PRIMARY KEY, v); INSERT INTO t VALUES (NULL, 1), ('a', 2);")
    report = migrate(path, pg_url, on_error="report")
    assert [r[2] for r in reasons(report)] == ["NULL in a NOT NULL or primary key column"]
    assert pg.execute("SELECT k FROM t").fetchall() == [("a",)]


def test_untyped_foreign_key_column_without_values_takes_its_parents_type(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, "
                            "pid REFERENCES p);")
    report = migrate(path, pg_url)
    assert report.plan.tables[0].columns[1].choice.pg_type == "bigint"


def test_foreign_keys_resolve_names_case_insensitively(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, 'CREATE TABLE "Parent" ("ID" INTEGER PRIMARY KEY);'
                            "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent (id));"
                            "INSERT INTO Parent VALUES (1); INSERT INTO child VALUES (1, 1);")
    assert migrate(path, pg_url, identifiers="preserve").exit_code == 0


def test_an_identity_at_the_64_bit_maximum_is_reported(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (9223372036854775807);")
    report = migrate(path, pg_url)
    assert report.exit_code == 3
    assert report.plan.tables[0].not_carried == [
        "identity id: the counter is at the 64-bit maximum, so it has no next value"]


def test_replace_never_drops_the_users_other_objects(tmp_path: Path, pg_url: str,
                                                     pg: psycopg.Connection[Any]) -> None:
    pg.execute("CREATE TABLE foobar (x int); CREATE VIEW v AS SELECT x FROM foobar")
    pg.execute("CREATE SCHEMA outgrow_staging; CREATE TABLE outgrow_staging.keep (x int)")
    path = source(tmp_path, "CREATE TABLE foobar (y TEXT); INSERT INTO foobar VALUES ('new');")
    with pytest.raises(MigrationError, match="depend"):
        migrate(path, pg_url, replace=True)
    assert pg.execute("SELECT count(*) FROM v").fetchone() == (0,)
    assert pg.execute("SELECT count(*) FROM outgrow_staging.keep").fetchone() == (0,)


def test_verify_reports_a_changed_table_shape(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x');")
    migrate(path, pg_url)
    pg.execute("ALTER TABLE t DROP COLUMN b")
    with pytest.raises(VerificationFailed, match="t in schema 'public' cannot be read as migrated"):
        verify(path, pg_url)


def test_children_of_a_left_out_row_are_left_out_and_reported(tmp_path: Path, pg_url: str,
                                                              pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY, v INTEGER);"
                            "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p (id));"
                            "CREATE TABLE g (id INTEGER PRIMARY KEY, cid INTEGER REFERENCES c (id));"
                            "INSERT INTO p VALUES (1, 'bad'), (2, 2); INSERT INTO c VALUES (1, 1), (2, 2);"
                            "INSERT INTO g VALUES (1, 1), (2, 2);")
    report = migrate(path, pg_url, on_error="report")
    assert [(r.table, r.key, r.reason) for r in report.plan.rejects + report.plan.dangling] == [
        ("p", {"rowid": 1}, "text value in an INTEGER column"),
        ("c", {"rowid": 1}, "its parent row in p is not carried"),
        ("g", {"rowid": 1}, "its parent row in c is not carried"),
    ]
    assert [pg.execute(f"SELECT id FROM {t}").fetchall() for t in ("p", "c", "g")] == [[(2,)]] * 3
    assert [r.rows for r in verify(path, pg_url)] == [1, 1, 1]


def test_a_long_chain_of_orphans_is_followed_to_its_end(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES e (id), pay INTEGER)")
    conn.execute("INSERT INTO e VALUES (1, NULL, 'not a number')")
    conn.executemany("INSERT INTO e VALUES (?, ?, 1)", [(i, i - 1) for i in range(2, 5001)])
    conn.commit()
    conn.close()
    plan = build_plan(path)  # quadratic, this took minutes: each pass went one level down the chain
    assert [r.key["rowid"] for r in plan.dangling] == list(range(2, 5001))


def test_rejected_rows_with_invalid_utf8_keys_are_recorded(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;"
                            "INSERT INTO t VALUES (CAST(X'61FF' AS TEXT), 'notint'), ('ok', 1);")
    rejects = tmp_path / "rejects.jsonl"
    report = migrate(path, pg_url, on_error="report", rejects_path=rejects)
    assert report.exit_code == 3
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["key"], r["column"], r["reason"]) for r in lines] == [
        ({"k": "a\\xff"}, "k", "text is not valid UTF-8"), ({"k": "a\\xff"}, "v", "text value in an INTEGER column")]
    assert not (tmp_path / "rejects.jsonl.partial").exists()


def test_schema_only_then_data_only_with_a_child_before_its_parent(tmp_path: Path, pg_url: str,
                                                                   pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY); "
                            "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p (id));"
                            "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1);")
    migrate(path, pg_url, schema_only=True)
    before = pg.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'").fetchall()
    assert migrate(path, pg_url, data_only=True).exit_code == 0
    assert pg.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'"
                      ).fetchall() == before
    assert pg.execute("SELECT pid FROM c").fetchall() == [(1,)]


def test_verify_with_the_migrations_config_and_fk_not_valid(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                            "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p (id));"
                            "CREATE TABLE u (x); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1), (2, 9);")
    config = MigrationConfig.model_validate({"schema": "app", "exclude": ["u"]})
    migrate(path, pg_url, config=config, fk_not_valid=True)
    assert [r.rows for r in verify(path, pg_url, config=config, fk_not_valid=True)] == [2, 1]


@pytest.mark.parametrize(("script", "reason"), [
    ("CREATE TABLE t (d DATE); INSERT INTO t VALUES ('\uff12\uff10\uff12\uff14-01-02');",  # fullwidth digits
     "not an ISO-8601 date (YYYY-MM-DD)"),
    ("CREATE TABLE t (j JSON); INSERT INTO t VALUES ('[1e200000]');",
     "a JSON number outside PostgreSQL's numeric range"),
    (f"CREATE TABLE t (j JSON); INSERT INTO t VALUES ('{'[' * 5000}{']' * 5000}');", "JSON nested too deeply to check"),
])
def test_values_postgresql_would_refuse_are_rejected_up_front(tmp_path: Path, pg_url: str, script: str,
                                                              reason: str) -> None:
    report = migrate(source(tmp_path, script), pg_url, on_error="report")
    assert [r[2] for r in reasons(report)] == [reason]


def test_foreign_keys_sqlite_matches_loosely_are_reported(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE p (code TEXT COLLATE NOCASE PRIMARY KEY);"
                            "CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p (code));"
                            "INSERT INTO p VALUES ('ABC'); INSERT INTO c VALUES (1, 'abc'), (2, 'ABC');"
                            "CREATE TABLE q (id INTEGER PRIMARY KEY); CREATE TABLE d (id INTEGER PRIMARY KEY, "
                            "qid REFERENCES q (id)); INSERT INTO q VALUES (1); INSERT INTO d VALUES (1, '1');")
    report = migrate(path, pg_url, on_error="report")
    # p.code is NOCASE -> citext; c.code follows it, so 'abc' matches 'ABC' on both engines.
    assert [c.choice.pg_type for c in report.plan.tables[0].columns] == ["bigint GENERATED BY DEFAULT AS IDENTITY",
                                                                          "citext"]
    assert report.plan.dangling == []
    assert report.plan.tables[1].not_carried == [
        "foreign key (qid): -> q: the column types differ (text vs bigint), so PostgreSQL cannot enforce it"]


def test_config_names_that_match_nothing_are_errors(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (a);")
    with pytest.raises(ConfigurationError, match=r"migrate\.toml include: no table 'nope'"):
        migrate(path, pg_url, config=MigrationConfig.model_validate({"include": ["nope"]}))
    with pytest.raises(ConfigurationError, match=r"migrate\.toml types\.T: no column 'b'"):
        migrate(path, pg_url, config=MigrationConfig.model_validate({"types": {"T": {"b": "TEXT"}}}))


def test_verify_names_a_duplicated_key(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
    migrate(path, pg_url)
    pg.execute("ALTER TABLE t DROP CONSTRAINT t_pkey; INSERT INTO t VALUES (1, 'a')")
    with pytest.raises(VerificationFailed, match="first differing key: id=1"):
        verify(path, pg_url)


def test_user_sql_may_not_end_the_transaction(tmp_path: Path, pg_url: str) -> None:
    path = source(tmp_path, "CREATE TABLE t (a);")
    with pytest.raises(MigrationError, match=r"migrate\.toml SQL ended the migration's transaction"):
        migrate(path, pg_url, config=MigrationConfig.model_validate({"after": ["COMMIT"]}))


def test_data_only_checks_the_existing_column_types(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    path = source(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME); "
                            "INSERT INTO t VALUES (1, '2024-01-01 10:00:00');")
    pg.execute("CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at timestamptz)")
    with pytest.raises(MigrationError, match="at is timestamp with time zone; the plan says timestamp without"):
        migrate(path, pg_url, data_only=True)
    assert pg.execute("SELECT count(*) FROM t").fetchone() == (0,)
