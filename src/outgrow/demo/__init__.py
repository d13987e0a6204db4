"""The reference multi-tenant application database: schema, fast seeding, synthetic traffic."""

from __future__ import annotations

from outgrow.demo.run import DemoReport, prepare_directory, run_demo
from outgrow.demo.schema import DEMO_SCHEMA, TENANT_COLUMN, TENANT_TABLES
from outgrow.demo.seed import SeedPlan, SeedReport, create_schema, seed_database
from outgrow.demo.traffic import TrafficReport, run_traffic

__all__ = [
    "DEMO_SCHEMA",
    "TENANT_COLUMN",
    "TENANT_TABLES",
    "DemoReport",
    "SeedPlan",
    "SeedReport",
    "TrafficReport",
    "create_schema",
    "prepare_directory",
    "run_demo",
    "run_traffic",
    "seed_database",
]
