"""PostgreSQL backups against a real server: pg_dump of the server's own major version, a verify that restores
into a scratch database, and a restore round trip with equal per-table rows and checksums."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from outgrow.backup import create_backup, restore_backup, verify
from outgrow.backup.pg_backup import find_pg_tool, table_facts
from outgrow.errors import BackupDamaged, BackupError
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres



def _fill(url: str) -> None:
    with psycopg.connect(libpq_conninfo(url)) as pg:
        pg.execute("""
            CREATE SCHEMA app;
            CREATE TABLE app.users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, joined timestamptz,
                                    score double precision, doc jsonb);
            CREATE TABLE public.events (id bigserial PRIMARY KEY, user_id bigint REFERENCES app.users (id),
                                        body bytea, amount numeric(12, 2));
            INSERT INTO app.users SELECT g, 'u' || g || '@x', now() - g * interval '1 day', g / 3.0,
                                         jsonb_build_object('n', g) FROM generate_series(1, 500) g;
            INSERT INTO public.events (user_id, body, amount)
                SELECT 1 + g % 500, decode(md5(g::text), 'hex'), g * 1.25 FROM generate_series(1, 3000) g;
        """)


def test_dump_verify_and_restore_round_trip(tmp_path: Path, pg_url: str) -> None:
    _fill(pg_url)
    folder = tmp_path / "backups"
    manifest = create_backup(pg_url, folder)
    assert (manifest.engine, manifest.method) == ("postgresql", "pg_dump -Fc")
    assert manifest.tables == {"app.users": 500, "public.events": 3000}
    assert "***" not in manifest.source or "@" in manifest.source  # the password, if any, is masked
    result = verify(manifest.id, folder, pg_url)
    assert result.detail == "restored into a scratch database: 2 tables, 3,500 rows, same checksums"
    restored = f"outgrow restored {uuid.uuid4().hex[:8]}"  # a space in a name must stay one name
    target_url = make_url(pg_url).set(database=restored).render_as_string(hide_password=False)
    try:
        assert restore_backup(manifest.id, folder, target_url) == restored
        with psycopg.connect(libpq_conninfo(pg_url)) as original, \
                psycopg.connect(libpq_conninfo(pg_url), dbname=restored) as copy:
            assert table_facts(copy) == table_facts(original)
        with pytest.raises(BackupError, match=f"database '{restored}' already exists"):
            restore_backup(manifest.id, folder, target_url)
    finally:
        with psycopg.connect(libpq_conninfo(pg_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


def test_a_changed_dump_is_caught(tmp_path: Path, pg_url: str) -> None:
    _fill(pg_url)
    folder = tmp_path / "backups"
    manifest = create_backup(pg_url, folder)
    dump = folder / manifest.file
    data = bytearray(dump.read_bytes())
    data[-100] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(BackupDamaged, match="does not match its manifest"):
        verify(manifest.id, folder, pg_url)


def test_tools_are_chosen_by_the_servers_major_version(pg_url: str) -> None:
    with psycopg.connect(libpq_conninfo(pg_url)) as pg:
        major = pg.info.server_version // 10000
    tool = find_pg_tool("pg_dump", major)
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    assert f" {major}." in version
    with pytest.raises(BackupError, match=r"no pg_dump for PostgreSQL 9 \(found: .*\)") as caught:
        find_pg_tool("pg_dump", 9)
    assert caught.value.hint is not None and "must match the server's major version" in caught.value.hint
