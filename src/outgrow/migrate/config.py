"""``migrate.toml``: what to migrate and how, beyond the command-line options.

    schema = "app"                      # target schema (the --schema option wins)
    include = ["users", "events"]       # only these tables (default: all)
    exclude = ["sessions"]              # never these
    owner = "app_owner"                 # ALTER TABLE ... OWNER TO, for every migrated table
    before = ["CREATE EXTENSION IF NOT EXISTS citext"]   # SQL run first, inside the migration's transaction
    after = ["CREATE VIEW app.active_users AS SELECT * FROM app.users WHERE active"]  # run last, same transaction
    collation = "C"                     # text columns compare bytes, as in SQLite (the --collation option wins)
    skip = ["view legacy_report", "users index users_soundex"]  # reviewed: not carried, and that is accepted

    [grants]                            # role = privileges on every migrated table
    reporting = "SELECT"

    [types.events]                      # read a column as another SQLite type (the rule that decides its
    created_at = "DATETIME"             #   PostgreSQL type and checks its values)
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from outgrow.errors import ConfigurationError

__all__ = ["MigrationConfig", "load_config"]

_PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "ALL", "ALL PRIVILEGES"}


class MigrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str | None = Field(None, alias="schema")
    include: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    owner: str | None = None
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)
    grants: dict[str, str] = Field(default_factory=dict)
    types: dict[str, dict[str, str]] = Field(default_factory=dict)
    collation: Literal["C"] | None = None
    skip: list[str] = Field(default_factory=list)

    @field_validator("grants")
    @classmethod
    def _known_privileges(cls, grants: dict[str, str]) -> dict[str, str]:
        for role, privileges in grants.items():
            for privilege in (p.strip().upper() for p in privileges.split(",")):
                if not re.fullmatch(r"[A-Z ]+", privilege) or privilege not in _PRIVILEGES:
                    raise ValueError(f"grant {privilege!r} for {role!r} is not a table privilege")
        return grants


def load_config(path: Path) -> MigrationConfig:
    """Read and check ``path``; every problem is one ConfigurationError line naming the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"no migration config at {path}", hint="check the --config path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    try:
        return MigrationConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigurationError(f"{path}: {where}: {first['msg'].removeprefix('Value error, ')}",
                                 hint="see the migrate.toml reference in the README") from None
