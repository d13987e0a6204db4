"""The reference multi-tenant schema: organizations, users, projects, events.

Every tenant table carries ``organization_id``, and every unique constraint and foreign key between tenant
tables includes it, so the same schema later suits row-level security (one policy column) and distribution
by tenant (Citus co-locates rows that share it). Declared types are the ones applications really write on
SQLite (DATETIME, BOOLEAN, NUMERIC(12,2), JSON, REAL), so the migration has real work to do.
"""

from __future__ import annotations

__all__ = ["DEMO_SCHEMA", "TENANT_COLUMN", "TENANT_TABLES"]

TENANT_COLUMN = "organization_id"
TENANT_TABLES = ("users", "projects", "events")

DEMO_SCHEMA = """
CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL DEFAULT 'free',
    created_at  DATETIME NOT NULL
);
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    name            TEXT NOT NULL,
    is_admin        BOOLEAN NOT NULL DEFAULT 0,
    created_at      DATETIME NOT NULL,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, email)
);
CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id        INTEGER NOT NULL,
    title           VARCHAR(200) NOT NULL,
    budget          NUMERIC(12, 2) NOT NULL DEFAULT 0,
    archived        BOOLEAN NOT NULL DEFAULT 0,
    created_at      DATETIME NOT NULL,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, title),
    FOREIGN KEY (organization_id, owner_id) REFERENCES users (organization_id, id)
);
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL,
    project_id      INTEGER NOT NULL,
    user_id         INTEGER,
    kind            TEXT NOT NULL,
    payload         JSON,
    amount          REAL,
    created_at      DATETIME NOT NULL,
    FOREIGN KEY (organization_id, project_id) REFERENCES projects (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id)
);
CREATE INDEX events_organization_created ON events (organization_id, created_at);
CREATE INDEX events_project_created ON events (organization_id, project_id, created_at);
CREATE INDEX events_user ON events (organization_id, user_id);
CREATE INDEX projects_owner ON projects (organization_id, owner_id);
"""
