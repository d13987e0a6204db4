"""Real-engine test fixtures for outgrow's tests and for applications' own (the ``outgrow`` pytest plugin)."""

from __future__ import annotations

from outgrow.testing.behaviour import accepted_on_both
from outgrow.testing.plugin import TestDatabase
from outgrow.testing.servers import PgServer, libpq_conninfo, schema_snapshot, start_server

__all__ = ["PgServer", "TestDatabase", "accepted_on_both", "libpq_conninfo", "schema_snapshot", "start_server"]
