"""Full-text search tables proven by behaviour: the visible rows are carried once, the shadow tables never, and
the same words find the same rows with MATCH on SQLite and @@ on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE VIRTUAL TABLE notes USING fts5(title, body, tag UNINDEXED);
CREATE VIRTUAL TABLE old_notes USING fts4(subject, text);
CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIRTUAL TABLE docs_search USING fts5(title, body, content='docs', content_rowid='id');
CREATE VIRTUAL TABLE hashes USING fts5(word, content='');
CREATE VIRTUAL TABLE snippets USING fts5(line, tokenize='trigram');
INSERT INTO snippets (rowid, line) VALUES (1, 'select * from t');
INSERT INTO notes (rowid, title, body, tag) VALUES
    (10, 'Hello world', 'first note', 'alpha'), (20, 'Shopping', 'milk and bread', 'hello'),
    (30, 'Greetings', 'hello again, world', NULL);
INSERT INTO old_notes (docid, subject, text) VALUES (1, 'bread recipe', 'flour water'), (2, 'water', 'drink');
INSERT INTO docs VALUES (1, 'Postgres tips', 'vacuum often'), (2, 'SQLite tips', 'use WAL mode');
INSERT INTO docs_search (rowid, title, body) SELECT id, title, body FROM docs;
INSERT INTO hashes (rowid, word) VALUES (1, 'secret');
"""
SEARCHES = [("notes", "hello"), ("notes", "world"), ("notes", "alpha"),  # alpha is UNINDEXED: found by neither
            ("old_notes", "water")]


def test_full_text_tables_are_carried_and_searchable(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "fts.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    report = migrate(path, pg_url)
    assert report.plan.skipped == [
        ("virtual table", "hashes", "a contentless FTS table stores no text, only its index: rebuild it in "
                                    "PostgreSQL from where the text lives")]
    assert sorted(t.name for t in report.plan.tables) == ["docs", "notes", "old_notes", "snippets"]
    snippets = next(t for t in report.plan.tables if t.name == "snippets")
    assert snippets.not_carried == ["full-text index: the trigram tokenizer matches substrings; its PostgreSQL "
                                    "equivalent is a pg_trgm index"]  # its rows are carried all the same
    notes = next(t for t in report.plan.tables if t.name == "notes")
    assert any("websearch_to_tsquery('simple', :q)" in n for n in notes.notes)
    conninfo = libpq_conninfo(pg_url)
    with psycopg.connect(conninfo) as pg:
        tables = [r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        assert tables == ["docs", "notes", "old_notes", "snippets"]  # no shadow table, docs once
        assert pg.execute("SELECT rowid, line FROM snippets").fetchall() == [(1, "select * from t")]
        assert pg.execute("SELECT rowid, title, tag FROM notes ORDER BY rowid").fetchall() == conn.execute(
            "SELECT rowid, title, tag FROM notes ORDER BY rowid").fetchall()
        for table, word in SEARCHES:
            found_sqlite = [r[0] for r in conn.execute(
                f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid", (word,))]
            found_pg = [r[0] for r in pg.execute(
                f"SELECT rowid FROM {table} WHERE fts_document @@ websearch_to_tsquery('simple', %s) ORDER BY rowid",
                (word,))]
            assert found_pg == found_sqlite, (table, word)
        external = "to_tsvector('simple', coalesce(title::text, '') || ' ' || coalesce(body::text, ''))"
        found = [r[0] for r in pg.execute(
            f"SELECT id FROM docs WHERE {external} @@ websearch_to_tsquery('simple', 'tips') ORDER BY id")]
        assert found == [r[0] for r in conn.execute(
            "SELECT rowid FROM docs_search WHERE docs_search MATCH 'tips' ORDER BY rowid")] == [1, 2]
        assert pg.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'docs_search_idx'").fetchone()[0] \
            .startswith("CREATE INDEX docs_search_idx ON public.docs USING gin (to_tsvector(")  # type: ignore[index]
    conn.close()
