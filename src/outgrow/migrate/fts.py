"""Full-text search tables (FTS3/4/5): their visible rows are user data, carried into an ordinary table whose
generated ``tsvector`` column has a GIN index, PostgreSQL's equivalent. An external-content table's text is
already in its content table, so only the index is built there (on the same expression); the shadow tables
(``_data``, ``_idx``, ``_content``, ``_docsize``, ``_config``, ``_segments``...) are the index itself and are
never copied. A contentless table stores no text and is reported."""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

__all__ = ["DOCUMENT_COLUMN", "FullText", "match_note", "read_full_text", "tsvector_sql"]

DOCUMENT_COLUMN = "fts_document"
_EMPTY = "''"
_COLUMN = re.compile(r"""^\s*("(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`|'[^']*'|\S+)(.*)$""", re.DOTALL)
_USING = re.compile(r"\bUSING\s+(fts[345])\s*\((.*)\)\s*;?\s*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class FullText:
    module: str  # fts3, fts4 or fts5
    columns: tuple[str, ...]  # the visible columns, in order
    indexed: tuple[str, ...]  # those the index covers (not UNINDEXED / notindexed)
    content: str | None  # None: the FTS table stores its text; "": contentless; else the content table
    content_rowid: str | None
    config: str  # PostgreSQL text search configuration: simple, or english for the porter stemmer
    tokenizer: str = ""  # SQLite's tokenize= option as declared

    @property
    def problem(self) -> str | None:
        """Why the index cannot be rebuilt alike in PostgreSQL, if it cannot."""
        if "trigram" in self.tokenizer:
            return "the trigram tokenizer matches substrings; its PostgreSQL equivalent is a pg_trgm index"
        if self.tokenizer and not re.match(r"(porter|unicode61|ascii|simple)\b", self.tokenizer):
            return f"the tokenizer {self.tokenizer!r} has no PostgreSQL text search equivalent here"
        return None


def read_full_text(create_sql: str) -> FullText | None:
    """The FTS table a CREATE VIRTUAL TABLE declares, or None for another module."""
    match = _USING.search(create_sql)
    if match is None:
        return None
    module = match.group(1).lower()
    columns, indexed, options = [], [], {}
    not_indexed: set[str] = set()
    for argument in _split(match.group(2)):
        key, equals, value = argument.partition("=")
        # FTS3 knows only tokenize=; its other "options" are columns (sqlite.org/fts3.html#fts4_options)
        option = equals and re.fullmatch(r"\s*[A-Za-z_]+\s*", key)
        if option and (module != "fts3" or key.strip().lower() == "tokenize"):
            if key.strip().lower() == "notindexed":  # FTS4 takes one notindexed= per column
                not_indexed.add(_unquote(value.strip()).lower())
            options[key.strip().lower()] = _unquote(value.strip())
            continue
        named = _COLUMN.match(argument)
        if named is None:
            continue
        name = _unquote(named.group(1))
        columns.append(name)
        if not any(w.upper() == "UNINDEXED" for w in named.group(2).split()):
            indexed.append(name)
    indexed = [c for c in indexed if c.lower() not in not_indexed]
    tokenizer = options.get("tokenize", "").lower()
    return FullText(module, tuple(columns), tuple(indexed), options.get("content"), options.get("content_rowid"),
                    "english" if "porter" in tokenizer else "simple", tokenizer)


def tsvector_sql(full_text: FullText, column_names: dict[str, str]) -> str:
    """``to_tsvector(config, col1 || ' ' || col2 ...)`` over the indexed columns (their PostgreSQL names)."""
    parts = " || ' ' || ".join(f"coalesce({sql.Identifier(column_names[c.lower()]).as_string(None)}::text, '')"
                               for c in full_text.indexed)
    return f"to_tsvector('{full_text.config}', {parts or _EMPTY})"


def match_note(table: str, document: str, full_text: FullText) -> str:
    stemming = (" 'english' stems like porter but also drops stop words;" if full_text.config == "english" else "")
    return (f"MATCH -> @@: WHERE {table} MATCH :q becomes WHERE {document} @@ websearch_to_tsquery("
            f"'{full_text.config}', :q) (FTS query syntax - NEAR, prefix*, column filters - differs; bm25() -> "
            f"ts_rank());{stemming} SQLite's unicode61 tokenizer folds diacritics by default, "
            f"'{full_text.config}' keeps them (the unaccent extension folds them)")


def _split(arguments: str) -> list[str]:
    """Top-level comma-separated arguments, quotes and parentheses respected."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in arguments:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] in "'\"`[" and value[-1] in "'\"`]":
        return value[1:-1]
    return value
