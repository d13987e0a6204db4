"""Behaviour tests across engines: run one statement on SQLite and on PostgreSQL, see whether each took it."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

__all__ = ["accepted_on_both"]


def accepted_on_both(sqlite_conn: sqlite3.Connection, pg_conn: psycopg.Connection[Any],
                     statement: str) -> tuple[bool, bool]:
    """(SQLite accepted it, PostgreSQL accepted it); a constraint refusal on either side is False, any other
    error is raised. ``pg_conn`` should be in autocommit, so one refusal does not abort the next statement."""
    outcomes = []
    try:
        sqlite_conn.execute(statement)
        outcomes.append(True)
    except sqlite3.IntegrityError:
        outcomes.append(False)
    try:
        pg_conn.execute(statement.encode())
        outcomes.append(True)
    except psycopg.errors.IntegrityError:
        outcomes.append(False)
    return outcomes[0], outcomes[1]
