"""One schema that combines every Migration II translation, migrated in one run through the CLI: the dry run lists
each object with its translation or the reason it is not carried (exit 3), ``skip`` in migrate.toml accepts
what was reviewed (exit 0), and the same statements behave the same on both engines afterwards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest

from outgrow.testing import accepted_on_both, libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'banned')),
    token TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
    created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at DATETIME,
    profile JSON,
    display TEXT AS (upper(substr(name, 1, 1)) || substr(name, 2)) STORED,
    city TEXT AS (json_extract(profile, '$.city')) VIRTUAL
);
CREATE UNIQUE INDEX users_live_name ON users (lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX users_city ON users (city, id DESC);
CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), kind TEXT NOT NULL,
                     at INTEGER NOT NULL DEFAULT (cast(strftime('%s', 'now') as int)));
CREATE TABLE counts (user_id INTEGER PRIMARY KEY REFERENCES users (id), events INTEGER NOT NULL DEFAULT 0);
CREATE VIEW live_users AS SELECT id, email, display FROM users WHERE deleted_at IS NULL;
CREATE VIEW user_events AS SELECT u.email, count(e.id) AS n FROM users u LEFT JOIN events e ON e.user_id = u.id
    GROUP BY u.email;
CREATE VIEW scores AS SELECT id, score(name) AS s FROM users;
CREATE TRIGGER events_count AFTER INSERT ON events BEGIN
    INSERT OR IGNORE INTO counts (user_id, events) VALUES (NEW.user_id, 0);
    UPDATE counts SET events = events + 1 WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER users_no_ban_with_events BEFORE UPDATE OF status ON users WHEN NEW.status = 'banned' BEGIN
    SELECT RAISE(ABORT, 'user has events') WHERE EXISTS (SELECT 1 FROM events WHERE user_id = NEW.id);
END;
CREATE VIRTUAL TABLE notes USING fts5(title, body);
INSERT INTO users (id, email, name, profile) VALUES (1, 'Ann@x', 'ann', '{"city": "Oslo"}'), (2, 'bob@x', 'bob', NULL);
INSERT INTO notes (rowid, title, body) VALUES (1, 'hello', 'first words'), (2, 'later', 'hello again');
"""
STATEMENTS = [
    ("INSERT INTO users (id, email, name) VALUES (3, 'ANN@X', 'carl')", False),  # NOCASE unique email
    ("INSERT INTO users (id, email, name) VALUES (4, 'dan@x', 'ANN')", False),  # lower(name) unique while live
    ("INSERT INTO users (id, email, name, deleted_at) VALUES (5, 'e@x', 'Ann', '2024-01-01 00:00:00')", True),
    ("INSERT INTO users (id, email, name, status) VALUES (6, 'f@x', 'fay', 'gone')", False),  # CHECK IN
    ("INSERT INTO users (id, email, name) VALUES (7, 'g@x', '')", False),  # CHECK length BETWEEN
    ("INSERT INTO events (id, user_id, kind) VALUES (1, 1, 'login')", True),
    ("INSERT INTO events (id, user_id, kind) VALUES (2, 1, 'logout')", True),
    ("INSERT INTO events (id, user_id, kind) VALUES (3, 99, 'ghost')", False),  # foreign key
    ("UPDATE users SET status = 'banned' WHERE id = 1", False),  # the BEFORE trigger's RAISE
    ("UPDATE users SET status = 'banned' WHERE id = 2", True),
]
QUERIES = [
    "SELECT id, email, display FROM live_users ORDER BY id",
    "SELECT email, n FROM user_events ORDER BY n DESC, email",
    "SELECT user_id, events FROM counts ORDER BY user_id",
    "SELECT id, city, status FROM users ORDER BY id",
    "SELECT count(*) FROM users WHERE email = 'BOB@X'",
]


def run(cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "200"})


def test_every_translation_in_one_run(outgrow_cli: list[str], tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "app.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.executescript(SCHEMA)
    conn.execute("PRAGMA foreign_keys = ON")
    dry = run(outgrow_cli, "migrate", str(source), pg_url, "--dry-run")
    assert dry.returncode == 3, dry.stderr
    assert "not carried: view scores: score() has no translation with the same meaning" in dry.stdout
    assert 'CREATE TRIGGER "events_count" AFTER INSERT ON "public"."events" FOR EACH ROW' in dry.stdout
    assert "index users_live_name ((LOWER(\"name\"))) WHERE \"deleted_at\" IS NULL" in dry.stdout
    assert "dry run: nothing written" in dry.stdout
    config = tmp_path / "migrate.toml"
    config.write_text('skip = ["view nope"]\n')
    wrong = run(outgrow_cli, "migrate", str(source), pg_url, "--config", str(config))
    assert (wrong.returncode, wrong.stderr.splitlines()[0]) == (
        2, "error: migrate.toml skip: 'view nope' names nothing that is not carried")
    config.write_text('skip = ["view scores"]\n')
    done = run(outgrow_cli, "migrate", str(source), pg_url, "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["reviewed"] == ["view scores: score() has no translation with the same meaning"]
    assert [(o["kind"], o["name"]) for o in report["objects"]] == [
        ("view", "live_users"), ("view", "user_events"), ("trigger", "events_count"),
        ("trigger", "users_no_ban_with_events")]
    assert all(t["verified"] for t in report["tables"])
    conninfo = libpq_conninfo(pg_url)
    with psycopg.connect(conninfo, autocommit=True) as pg:
        for statement, accepted in STATEMENTS:
            assert accepted_on_both(conn, pg, statement) == (accepted, accepted), statement
        for query in QUERIES:
            assert pg.execute(query).fetchall() == conn.execute(query).fetchall(), query
        found = pg.execute("SELECT rowid FROM notes WHERE fts_document @@ websearch_to_tsquery('simple', 'hello') "
                           "ORDER BY rowid").fetchall()
        assert found == conn.execute("SELECT rowid FROM notes WHERE notes MATCH 'hello' ORDER BY rowid").fetchall()
        sqlite_token, pg_token = (c.execute("SELECT token FROM users WHERE id = 5").fetchone()[0]  # type: ignore[index]
                                  for c in (conn, pg))
        assert len(sqlite_token) == len(pg_token) == 32 and sqlite_token != pg_token
        # DEFAULT (cast(strftime('%s', 'now') as int)): whole epoch seconds on both engines
        sqlite_at, pg_at = (c.execute("SELECT at FROM events WHERE id = 1").fetchone()[0]  # type: ignore[index]
                            for c in (conn, pg))
        assert isinstance(pg_at, int) and abs(pg_at - sqlite_at) < 60
    conn.close()
