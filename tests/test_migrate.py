"""``outgrow migrate`` end to end on real SQLite files and a real PostgreSQL: exact values read back."""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outgrow import ConfigurationError, MigrationError, VerificationFailed
from outgrow.migrate import STAGING_PREFIX, build_plan, migrate, verify
from outgrow.migrate.config import load_config
from outgrow.testing import libpq_conninfo, schema_snapshot

pytestmark = pytest.mark.postgres

ZOO = """
CREATE TABLE zoo (
    id INTEGER PRIMARY KEY, i INTEGER, r REAL, d DOUBLE, n NUMERIC(12, 2), nn NUMERIC, v VARCHAR(5), t TEXT,
    b BLOB, flag BOOLEAN, day DATE, at DATETIME, attz TIMESTAMP, doc JSON, anything
);
INSERT INTO zoo VALUES (1, 9223372036854775807, 3.141592653589793, -0.0, 12.5, '0.1', 'héllo',
    'a "b" \\ c' || char(10) || 'd' || char(9) || 'e', x'00ff10', 1, '2024-02-29', '2024-05-01 12:34:56.123456',
    '2024-05-01T12:00:00+02:00', '{"b": 1, "a": [1, 2.50, "x"], "long_key": null}', 42);
INSERT INTO zoo (id) VALUES (2);
INSERT INTO zoo VALUES (3, -9223372036854775808, 1e308 * 10, 1e-300, -99999.99, 12345678901234, '',
    '', x'', 'true', '0001-01-01', '2024-01-01', '2024-12-31 23:59:59Z', '[]', 7);
"""


def sqlite_file(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as conn:
        yield conn


def tables(pg: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    return pg.execute("SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                      "('pg_catalog', 'information_schema') ORDER BY 1, 2").fetchall()


def test_every_type_arrives_exactly(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO)
    report = migrate(source, pg_url)
    assert report.exit_code == 0
    assert [(t.target, t.rows, t.verified) for t in report.tables] == [("zoo", 3, True)]
    types = dict(pg.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'zoo'").fetchall())
    assert types == {
        "id": "bigint", "i": "bigint", "r": "double precision", "d": "double precision", "n": "numeric",
        "nn": "numeric", "v": "character varying", "t": "text", "b": "bytea", "flag": "boolean", "day": "date",
        "at": "timestamp without time zone", "attz": "timestamp with time zone", "doc": "jsonb",
        "anything": "bigint",
    }
    rows = pg.execute("SELECT * FROM zoo ORDER BY id").fetchall()
    first, empty, third = rows
    assert first[:8] == (1, 2**63 - 1, 3.141592653589793, -0.0, Decimal("12.50"), Decimal("0.1"), "héllo",
                         'a "b" \\ c\nd\te')
    stored = sqlite3.connect(source).execute("SELECT d FROM zoo WHERE id = 1").fetchone()[0]
    assert math.copysign(1, first[3]) == math.copysign(1, stored)  # the sign SQLite kept, kept
    assert first[8:] == (b"\x00\xff\x10", True, date(2024, 2, 29), datetime(2024, 5, 1, 12, 34, 56, 123456),
                         datetime(2024, 5, 1, 10, 0, tzinfo=UTC), {"b": 1, "a": [1, 2.5, "x"], "long_key": None}, 42)
    assert empty == (2,) + (None,) * 14
    assert third[1:4] == (-(2**63), math.inf, 1e-300)
    assert third[4:] == (Decimal("-99999.99"), Decimal("12345678901234"), "", "", b"", True, date(1, 1, 1),
                         datetime(2024, 1, 1), datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC), [], 7)
    # The identity continues after the largest id.
    assert pg.execute("INSERT INTO zoo (i) VALUES (0) RETURNING id").fetchone() == (4,)


BAD = """
CREATE TABLE bad (id INTEGER PRIMARY KEY, i INTEGER, t TEXT, v VARCHAR(3), flag BOOLEAN, day DATE, n NUMERIC(5,2));
INSERT INTO bad VALUES (1, 1, 'fine', 'abc', 0, '2024-01-01', 1.25);
INSERT INTO bad VALUES (2, 1.5, 'fine', 'abc', 0, '2024-01-01', 1.25);
INSERT INTO bad VALUES (3, 3, 'nul' || char(0) || 'byte', 'abcd', 2, '2023-02-30', 1.005);
INSERT INTO bad VALUES (4, 4, CAST(x'ff' AS TEXT), 'ok', 1, 1700000000, 12345.5);
"""


def test_stop_mode_refuses_before_writing_anything(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "bad.db", BAD)
    with pytest.raises(MigrationError) as caught:
        migrate(source, pg_url)
    assert caught.value.message == ("9 values cannot be carried exactly; first: bad.i at {'rowid': 2}: 1.5 "
                                    "(REAL value 1.5 in an INTEGER column)")
    assert tables(pg) == []


def test_report_mode_loads_good_rows_and_lists_every_reject(tmp_path: Path, pg_url: str,
                                                            pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "bad.db", BAD)
    rejects = tmp_path / "rejects.jsonl"
    report = migrate(source, pg_url, on_error="report", rejects_path=rejects)
    assert report.exit_code == 3
    assert pg.execute("SELECT id FROM bad ORDER BY id").fetchall() == [(1,)]
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["key"]["rowid"], r["column"], r["value"], r["reason"]) for r in lines] == [
        (2, "i", "1.5", "REAL value 1.5 in an INTEGER column"),
        (3, "t", "nul\\x00byte", "text holds a NUL byte, which PostgreSQL text cannot store"),
        (3, "v", "abcd", "4 characters, over the declared 3"),
        (3, "flag", "2", "2 is not a boolean (0/1, t/f, true/false)"),
        (3, "day", "2023-02-30", "impossible date"),
        (3, "n", "1.005", "1.005 has more than 2 decimal places for numeric(5,2)"),
        (4, "t", "\\xff", "text is not valid UTF-8"),
        (4, "day", "1700000000", "integer value in a DATE column (epoch numbers are never guessed)"),
        (4, "n", "12345.5", "12345.5 does not fit numeric(5,2)"),
    ]
    assert all(r["table"] == "bad" for r in lines)


def test_identifiers_reserved_words_and_mixed_case(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "words.db", """
        CREATE TABLE "Order" ("user" TEXT, "Group" INTEGER, "select" REAL);
        INSERT INTO "Order" VALUES ('ann', 1, 0.5);
    """)
    migrate(source, pg_url)
    assert pg.execute('SELECT "user", "group", "select" FROM "order"').fetchall() == [("ann", 1, 0.5)]


def test_identifiers_that_collide_after_folding_stop_before_writing(tmp_path: Path, pg_url: str,
                                                                    pg: psycopg.Connection[Any]) -> None:
    # SQLite folds only ASCII case, so these are two tables there; lowercasing makes them one name.
    source = sqlite_file(tmp_path / "clash.db", 'CREATE TABLE "Äpfel" (a); CREATE TABLE "äpfel" (b);')
    with pytest.raises(MigrationError, match="table names 'Äpfel' and 'äpfel' both become 'äpfel'"):
        migrate(source, pg_url)
    assert tables(pg) == []
    migrate(source, pg_url, identifiers="preserve")
    assert tables(pg) == [("public", "Äpfel"), ("public", "äpfel")]


def test_autoincrement_counter_ahead_of_max_id(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "seq.db", """
        CREATE TABLE tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL);
        INSERT INTO tickets (title) VALUES ('a'), ('b'), ('c'), ('d');
        DELETE FROM tickets WHERE id > 2;
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
        INSERT INTO notes VALUES (7, 'x');
    """)
    migrate(source, pg_url)
    assert pg.execute("INSERT INTO tickets (title) VALUES ('e') RETURNING id").fetchone() == (5,)
    assert pg.execute("INSERT INTO notes (body) VALUES ('y') RETURNING id").fetchone() == (8,)
    assert pg.execute("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'tickets' "
                      "AND column_name = 'title'").fetchone() == ("NO",)


def test_composite_keys_without_rowid_and_foreign_key_actions(tmp_path: Path, pg_url: str,
                                                              pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "keys.db", """
        PRAGMA foreign_keys = ON;
        CREATE TABLE accounts (org TEXT, id INTEGER, name TEXT UNIQUE, PRIMARY KEY (org, id)) WITHOUT ROWID;
        CREATE TABLE entries (id INTEGER PRIMARY KEY, org TEXT NOT NULL, account INTEGER NOT NULL,
            FOREIGN KEY (org, account) REFERENCES accounts (org, id) ON DELETE CASCADE);
        CREATE INDEX entries_account ON entries (org, account);
        INSERT INTO accounts VALUES ('o1', 1, 'cash'), ('o1', 2, 'bank');
        INSERT INTO entries VALUES (1, 'o1', 1), (2, 'o1', 2), (3, 'o1', 2);
    """)
    migrate(source, pg_url)
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute("INSERT INTO accounts VALUES ('o1', 1, 'again')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute("INSERT INTO accounts VALUES ('o2', 1, 'cash')")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("INSERT INTO entries VALUES (4, 'o9', 1)")
    pg.execute("DELETE FROM accounts WHERE id = 2")
    assert pg.execute("SELECT id FROM entries ORDER BY id").fetchall() == [(1,)]
    assert pg.execute("SELECT indexname FROM pg_indexes WHERE indexname = 'entries_account'").fetchone() is not None


def test_keyless_table_keeps_duplicate_rows(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "dups.db",
                         "CREATE TABLE log (line TEXT); INSERT INTO log VALUES ('x'), ('x'), ('x');")
    report = migrate(source, pg_url)
    assert report.tables[0].verified
    assert pg.execute("SELECT line, count(*) FROM log GROUP BY line").fetchall() == [("x", 3)]


def test_dangling_foreign_keys_are_reported_or_loaded_not_valid(tmp_path: Path, pg_url: str,
                                                               pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "fk.db", """
        CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id));
        INSERT INTO parents VALUES (1);
        INSERT INTO kids VALUES (1, 1), (2, 99);
    """)
    with pytest.raises(MigrationError, match=r"kids.parent_id at \{'rowid': 2\}: 99 \(dangling foreign key"):
        migrate(source, pg_url)
    report = migrate(source, pg_url, fk_not_valid=True)
    assert report.exit_code == 0
    assert pg.execute("SELECT id FROM kids ORDER BY id").fetchall() == [(1,), (2,)]
    assert pg.execute("SELECT convalidated FROM pg_constraint WHERE contype = 'f'").fetchall() == [(False,)]


@pytest.mark.parametrize("phase", ["copy", "indexes", "foreign keys", "verify", "swap"])
def test_a_failure_in_any_phase_leaves_the_target_as_it_was(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any],
                                                             phase: str) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO)
    pg.execute("CREATE TABLE zoo (kept text)")
    pg.execute("INSERT INTO zoo VALUES ('original')")
    before = schema_snapshot(pg)

    def fault(name: str) -> None:
        if name == phase:
            raise RuntimeError(f"injected fault at {name}")

    with pytest.raises(RuntimeError, match=f"injected fault at {phase}"):
        migrate(source, pg_url, replace=True, fault=fault)
    assert schema_snapshot(pg) == before
    assert pg.execute("SELECT kept FROM zoo").fetchall() == [("original",)]
    assert pg.execute("SELECT 1 FROM pg_namespace WHERE nspname LIKE %s", (STAGING_PREFIX + "%",)).fetchone() is None
    report = migrate(source, pg_url, replace=True)  # and a rerun succeeds
    assert [t.verified for t in report.tables] == [True]


def test_existing_tables_are_refused_without_replace(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO)
    pg.execute("CREATE TABLE zoo (kept text)")
    with pytest.raises(MigrationError, match="preflight: target tables: zoo already in schema 'public'"):
        migrate(source, pg_url)


def test_verify_names_the_first_differing_key(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO)
    migrate(source, pg_url)
    assert [r.verified for r in verify(source, pg_url)] == [True]
    pg.execute("UPDATE zoo SET t = 'changed' WHERE id = 3")
    with pytest.raises(VerificationFailed, match="first differing key: id=3"):
        verify(source, pg_url)


def test_dry_run_plans_without_writing(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO + "CREATE VIEW v AS SELECT id FROM zoo;")
    report = migrate(source, pg_url, dry_run=True)
    assert tables(pg) == []
    plan = report.to_dict()
    assert [c["pg_type"] for c in plan["tables"][0]["columns"]][:3] == [
        "bigint GENERATED BY DEFAULT AS IDENTITY", "bigint", "double precision"]
    assert plan["not_carried"] == []
    assert [(o["kind"], o["name"], o["postgresql"]) for o in plan["objects"]] == [
        ("view", "v", ['CREATE VIEW "public"."v" WITH (security_invoker = true) AS SELECT "id" FROM "public"."zoo"'])]
    assert [(c["check"], c["ok"]) for c in plan["preflight"]] == [
        ("server version", True), ("database encoding", True), ("privilege to create schemas", True),
        ("free disk", True), ("target tables", True)]


def test_the_plan_reads_a_consistent_snapshot(tmp_path: Path) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO)
    plan = build_plan(source)
    assert [(t.name, t.source.row_count, t.identity_next) for t in plan.tables] == [("zoo", 3, 4)]


@pytest.fixture
def role(pg: psycopg.Connection[Any]) -> Iterator[str]:
    name = f"outgrow_role_{uuid.uuid4().hex[:8]}"
    pg.execute(f'CREATE ROLE "{name}"')
    yield name
    pg.execute(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
    pg.execute(f'DROP OWNED BY "{name}"')
    pg.execute(f'DROP ROLE "{name}"')


def test_config_chooses_tables_types_schema_owner_grants_and_sql(tmp_path: Path, pg_url: str,
                                                                 pg: psycopg.Connection[Any], role: str) -> None:
    source = sqlite_file(tmp_path / "cfg.db", """
        CREATE TABLE keep (id INTEGER PRIMARY KEY, anything);
        INSERT INTO keep VALUES (1, 5), (2, 'five');
        CREATE TABLE skip (x);
    """)
    config_file = tmp_path / "migrate.toml"
    config_file.write_text(f"""
schema = "app"
exclude = ["skip"]
owner = "{role}"
before = ["CREATE SCHEMA IF NOT EXISTS audit"]
after = ["CREATE VIEW app.keep_count AS SELECT count(*) AS n FROM app.keep"]
[grants]
{role} = "SELECT, INSERT"
[types.keep]
anything = "TEXT"
""")
    report = migrate(source, pg_url, config=load_config(config_file))
    assert report.exit_code == 0
    assert tables(pg) == [("app", "keep")]
    assert pg.execute("SELECT anything FROM app.keep ORDER BY id").fetchall() == [("5",), ("five",)]
    assert pg.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'keep'").fetchone() == (role,)
    assert pg.execute("SELECT n FROM app.keep_count").fetchone() == (2,)
    assert pg.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'audit'").fetchone() == (1,)
    privileges = pg.execute("SELECT privilege_type FROM information_schema.role_table_grants "
                            "WHERE grantee = %s ORDER BY 1", (role,)).fetchall()
    assert [p for (p,) in privileges if p in {"INSERT", "SELECT"}] == ["INSERT", "SELECT"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 'red'", "colour: Extra inputs are not permitted"),
        ("[grants]\nbob = 'SELECT; DROP TABLE x'", "grants: grant 'SELECT; DROP TABLE X' for 'bob' is not a "
                                                   "table privilege"),
        ("include = 'users'", "include: Input should be a valid list"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    config_file = tmp_path / "migrate.toml"
    config_file.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_config(config_file)
    assert caught.value.message == f"{config_file}: {message}"


def test_schema_only_then_data_only(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "zoo.db", ZOO)
    migrate(source, pg_url, schema_only=True)
    assert pg.execute("SELECT count(*) FROM zoo").fetchone() == (0,)
    report = migrate(source, pg_url, data_only=True)
    assert [(t.rows, t.verified) for t in report.tables] == [(3, True)]
    assert [r.verified for r in verify(source, pg_url)] == [True]
    with pytest.raises(MigrationError, match=r"--data-only: public\.zoo is not empty"):
        migrate(source, pg_url, data_only=True)


def test_snake_identifiers(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "camel.db", 'CREATE TABLE "UserAccounts" ("accountId" INTEGER PRIMARY KEY, '
                                                '"createdAt" DATETIME, "HTTPStatus" INTEGER);'
                                                "INSERT INTO UserAccounts VALUES (1, '2024-01-01 00:00:00', 200);")
    migrate(source, pg_url, identifiers="snake")
    assert pg.execute("SELECT account_id, created_at, http_status FROM user_accounts").fetchall() == [
        (1, datetime(2024, 1, 1), 200)]


def test_deferrable_is_carried_per_foreign_key(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any]) -> None:
    source = sqlite_file(tmp_path / "defer.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY);
        CREATE TABLE b (id INTEGER PRIMARY KEY);
        CREATE TABLE c (id INTEGER PRIMARY KEY, note TEXT DEFAULT 'no REFERENCES here',
            a_id INTEGER REFERENCES a (id) DEFERRABLE INITIALLY DEFERRED,
            b_id INTEGER REFERENCES b (id));
    """)
    migrate(source, pg_url)
    assert pg.execute("SELECT confrelid::regclass::text, condeferrable, condeferred FROM pg_constraint "
                      "WHERE contype = 'f' ORDER BY 1").fetchall() == [("a", True, True), ("b", False, False)]


def test_grant_to_gives_an_application_role_data_access_not_ownership(tmp_path: Path, pg_url: str,
                                                                      pg: psycopg.Connection[Any], role: str) -> None:
    source = sqlite_file(tmp_path / "app.db", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                                              "CREATE TABLE log (id INTEGER PRIMARY KEY, note INTEGER);"
                                              "CREATE VIEW bodies AS SELECT body FROM notes;"
                                              "CREATE TRIGGER logged AFTER INSERT ON notes BEGIN "
                                              "INSERT INTO log (note) VALUES (NEW.id); END;"
                                              "INSERT INTO notes VALUES (1, 'a');")
    migrate(source, pg_url, grant_to=[role])
    pg.execute(f'SET ROLE "{role}"')
    try:
        assert pg.execute("INSERT INTO notes (body) VALUES ('b') RETURNING id").fetchone() == (2,)
        assert pg.execute("SELECT count(*) FROM notes").fetchone() == (2,)
        # the view runs with the reader's rights (security_invoker), the trigger with the writer's
        assert pg.execute("SELECT count(*) FROM bodies").fetchone() == (2,)
        assert pg.execute("SELECT note FROM log ORDER BY id").fetchall() == [(1,), (2,)]  # 1: logged by SQLite
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg.execute("ALTER TABLE notes ADD COLUMN x int")
    finally:
        pg.execute("RESET ROLE")


def test_owner_owns_the_views_and_trigger_functions_too(tmp_path: Path, pg_url: str, pg: psycopg.Connection[Any],
                                                       role: str) -> None:
    source = sqlite_file(tmp_path / "app.db", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                                              "CREATE VIEW bodies AS SELECT body FROM notes;"
                                              "CREATE TRIGGER stamp AFTER UPDATE ON notes BEGIN "
                                              "UPDATE notes SET body = upper(body) WHERE id = NEW.id; END;")
    migrate(source, pg_url, owner=role)
    owners = pg.execute("SELECT c.relname, r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                        "WHERE c.relname IN ('notes', 'bodies') UNION ALL SELECT p.proname, r.rolname FROM pg_proc p "
                        "JOIN pg_roles r ON r.oid = p.proowner WHERE p.proname = 'stamp_fn' ORDER BY 1").fetchall()
    assert owners == [("bodies", role), ("notes", role), ("stamp_fn", role)]


def test_stop_mode_meets_a_bad_value_while_copying_and_writes_nothing(tmp_path: Path, pg_url: str,
                                                                       pg: psycopg.Connection[Any]) -> None:
    # Stop mode converts each value once, during the copy: the first table is already sent when the bad
    # values of the second are met; the whole run is rolled back and every bad value is still counted.
    source = sqlite_file(tmp_path / "late.db", "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);"
                                               "CREATE TABLE b (id INTEGER PRIMARY KEY, day DATE NOT NULL);"
                                               "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s "
                                               "WHERE v < 3000) INSERT INTO a (n) SELECT v FROM s;"
                                               "INSERT INTO b (day) VALUES ('2024-01-01'), ('soon'), ('later');")
    before = schema_snapshot(pg)
    with pytest.raises(MigrationError) as stopped:
        migrate(source, pg_url)
    assert str(stopped.value) == ("2 values cannot be carried exactly; first: b.day at {'rowid': 2}: soon "
                                  "(not an ISO-8601 date (YYYY-MM-DD))")
    assert schema_snapshot(pg) == before


def test_stop_mode_meets_a_null_key_while_copying(tmp_path: Path, pg_url: str) -> None:
    source = sqlite_file(tmp_path / "nullkey.db", "CREATE TABLE k (code TEXT PRIMARY KEY, v INTEGER);"
                                                  "INSERT INTO k VALUES ('a', 1), (NULL, 2);")  # SQLite allows it
    with pytest.raises(MigrationError, match=r"^1 values cannot be carried exactly; first: k\.code at "
                                             r"\{'rowid': 2\}: None \(NULL in a NOT NULL or primary key column\)$"):
        migrate(source, pg_url)
