"""Views and triggers proven by behaviour: the same statements on SQLite and on the migrated PostgreSQL give the
same rows, the same audit trail and the same refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import accepted_on_both, libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, active BOOLEAN NOT NULL DEFAULT 1,
                    posts INTEGER NOT NULL DEFAULT 0, updated_at DATETIME);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), title TEXT, score INTEGER);
CREATE TABLE audit (id INTEGER PRIMARY KEY, action TEXT, post_id INTEGER, title TEXT);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE active = 1;
CREATE VIEW user_stats AS
    SELECT u.email, count(p.id) AS n, coalesce(sum(p.score), 0) AS total
    FROM users AS u LEFT JOIN posts AS p ON p.user_id = u.id GROUP BY u.email;
CREATE VIEW busy AS SELECT email FROM user_stats WHERE n > 1;
CREATE VIEW titled AS SELECT * FROM posts WHERE title LIKE 'a%';
CREATE TRIGGER posts_audit AFTER INSERT ON posts FOR EACH ROW WHEN NEW.title IS NOT NULL
BEGIN
    INSERT INTO audit (action, post_id, title) VALUES ('insert', NEW.id, NEW.title);
    UPDATE users SET posts = posts + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER posts_gone AFTER DELETE ON posts BEGIN
    INSERT INTO audit (action, post_id, title) VALUES ('delete', OLD.id, OLD.title);
    UPDATE users SET posts = posts - 1 WHERE id = OLD.user_id;
END;
CREATE TRIGGER users_stamp AFTER UPDATE OF email ON users BEGIN
    UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
CREATE TRIGGER posts_positive BEFORE INSERT ON posts BEGIN
    SELECT RAISE(ABORT, 'score must not be negative') WHERE NEW.score < 0;
END;
CREATE TRIGGER posts_known_user BEFORE INSERT ON posts
WHEN (SELECT count(*) FROM users WHERE id = NEW.user_id) = 0 BEGIN
    SELECT RAISE(FAIL, 'no such user');
END;
INSERT INTO users (id, email, active) VALUES (1, 'ann@x', 1), (2, 'bob@x', 0);
"""
STATEMENTS = [
    ("INSERT INTO posts (id, user_id, title, score) VALUES (1, 1, 'alpha', 5)", True),
    ("INSERT INTO posts (id, user_id, title, score) VALUES (2, 1, 'beta', 3)", True),
    ("INSERT INTO posts (id, user_id, title, score) VALUES (3, 2, NULL, 1)", True),  # WHEN: no audit row
    ("INSERT INTO posts (id, user_id, title, score) VALUES (4, 1, 'neg', -1)", False),  # RAISE(ABORT)
    ("INSERT INTO posts (id, user_id, title, score) VALUES (5, 9, 'ghost', 1)", False),  # WHEN with a subquery
    ("DELETE FROM posts WHERE id = 2", True),
    ("UPDATE users SET email = 'ann@y' WHERE id = 1", True),  # stamps updated_at, without recursing
]
QUERIES = [
    "SELECT id, email FROM active_users ORDER BY id",
    "SELECT email, n, total FROM user_stats ORDER BY email",
    "SELECT email FROM busy",
    "SELECT id, title FROM titled ORDER BY id",
    "SELECT action, post_id, title FROM audit ORDER BY id",
    "SELECT id, posts, updated_at IS NOT NULL FROM users ORDER BY id",
]


def test_views_and_triggers_behave_the_same(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA)
    report = migrate(path, pg_url)
    assert report.exit_code == 0, report.plan.skipped
    assert [(o.kind, o.name) for o in report.plan.objects] == [
        ("view", "active_users"), ("view", "user_stats"), ("view", "busy"), ("view", "titled"),
        ("trigger", "posts_audit"), ("trigger", "posts_gone"), ("trigger", "users_stamp"),
        ("trigger", "posts_positive"), ("trigger", "posts_known_user")]
    conninfo = libpq_conninfo(pg_url)
    with psycopg.connect(conninfo, autocommit=True) as pg:
        for statement, accepted in STATEMENTS:
            assert accepted_on_both(conn, pg, statement) == (accepted, accepted), statement
        for query in QUERIES:
            sqlite_rows: list[Any] = conn.execute(query).fetchall()
            pg_rows = [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in pg.execute(query)]
            assert pg_rows == sqlite_rows, query
        assert pg.execute("SELECT reloptions FROM pg_class WHERE relname = 'busy'").fetchone() == (
            ["security_invoker=true"],)
    conn.close()


def test_untranslatable_views_and_triggers_are_listed_and_nothing_else_is_lost(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT, sort TEXT);
        INSERT INTO books (title) VALUES ('The Hobbit');
        CREATE VIEW sorted AS SELECT title_sort(title) AS s FROM books;
        CREATE VIEW halves AS SELECT id / 2 AS half FROM books;
        CREATE VIEW plain AS SELECT id, title FROM books;
        CREATE TRIGGER books_sort AFTER INSERT ON books BEGIN
            UPDATE books SET sort = title_sort(NEW.title) WHERE id = NEW.id;
        END;
        CREATE TRIGGER plain_insert INSTEAD OF INSERT ON plain BEGIN INSERT INTO books (title) VALUES (NEW.title); END;
    """)
    conn.close()
    report = migrate(path, pg_url)
    assert report.exit_code == 3
    assert report.plan.skipped == [
        ("view", "sorted", "title_sort() has no translation with the same meaning"),
        ("view", "halves", "division (SQLite divides integers as integers) has no translation with the same meaning"),
        ("trigger", "books_sort", "UPDATE books SET sort = TITLE_SORT(NEW.title) WHERE id = NEW.id: title_sort() "
                                  "has no translation with the same meaning"),
        ("trigger", "plain_insert", "INSTEAD OF triggers (on views) are not translated"),
    ]
    assert [o.name for o in report.plan.objects] == ["plain"]
    assert report.tables[0].rows == 1 and report.tables[0].verified
