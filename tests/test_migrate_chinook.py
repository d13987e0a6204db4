"""Integration: the public Chinook sample database, built from its published schema and rows, migrated."""

from __future__ import annotations

import gzip
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from outgrow.migrate import migrate, verify
from outgrow.testing import libpq_conninfo

pytestmark = pytest.mark.postgres

DATA = Path(__file__).parent / "data" / "chinook.json.gz"

# Chinook's published SQLite schema (types, keys, foreign keys and indexes as in Chinook_Sqlite.sql).
SCHEMA = """
CREATE TABLE Artist (ArtistId INTEGER NOT NULL, Name NVARCHAR(120), CONSTRAINT PK_Artist PRIMARY KEY (ArtistId));
CREATE TABLE Album (AlbumId INTEGER NOT NULL, Title NVARCHAR(160) NOT NULL, ArtistId INTEGER NOT NULL,
    CONSTRAINT PK_Album PRIMARY KEY (AlbumId),
    FOREIGN KEY (ArtistId) REFERENCES Artist (ArtistId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE Employee (EmployeeId INTEGER NOT NULL, LastName NVARCHAR(20) NOT NULL, FirstName NVARCHAR(20) NOT NULL,
    Title NVARCHAR(30), ReportsTo INTEGER, BirthDate DATETIME, HireDate DATETIME, Address NVARCHAR(70),
    City NVARCHAR(40), State NVARCHAR(40), Country NVARCHAR(40), PostalCode NVARCHAR(10), Phone NVARCHAR(24),
    Fax NVARCHAR(24), Email NVARCHAR(60), CONSTRAINT PK_Employee PRIMARY KEY (EmployeeId),
    FOREIGN KEY (ReportsTo) REFERENCES Employee (EmployeeId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE Customer (CustomerId INTEGER NOT NULL, FirstName NVARCHAR(40) NOT NULL, LastName NVARCHAR(20) NOT NULL,
    Company NVARCHAR(80), Address NVARCHAR(70), City NVARCHAR(40), State NVARCHAR(40), Country NVARCHAR(40),
    PostalCode NVARCHAR(10), Phone NVARCHAR(24), Fax NVARCHAR(24), Email NVARCHAR(60) NOT NULL, SupportRepId INTEGER,
    CONSTRAINT PK_Customer PRIMARY KEY (CustomerId),
    FOREIGN KEY (SupportRepId) REFERENCES Employee (EmployeeId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE Genre (GenreId INTEGER NOT NULL, Name NVARCHAR(120), CONSTRAINT PK_Genre PRIMARY KEY (GenreId));
CREATE TABLE MediaType (MediaTypeId INTEGER NOT NULL, Name NVARCHAR(120),
    CONSTRAINT PK_MediaType PRIMARY KEY (MediaTypeId));
CREATE TABLE Playlist (PlaylistId INTEGER NOT NULL, Name NVARCHAR(120),
    CONSTRAINT PK_Playlist PRIMARY KEY (PlaylistId));
CREATE TABLE Track (TrackId INTEGER NOT NULL, Name NVARCHAR(200) NOT NULL, AlbumId INTEGER,
    MediaTypeId INTEGER NOT NULL, GenreId INTEGER, Composer NVARCHAR(220), Milliseconds INTEGER NOT NULL, Bytes INTEGER,
    UnitPrice NUMERIC(10,2) NOT NULL, CONSTRAINT PK_Track PRIMARY KEY (TrackId),
    FOREIGN KEY (AlbumId) REFERENCES Album (AlbumId) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY (GenreId) REFERENCES Genre (GenreId) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY (MediaTypeId) REFERENCES MediaType (MediaTypeId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE Invoice (InvoiceId INTEGER NOT NULL, CustomerId INTEGER NOT NULL, InvoiceDate DATETIME NOT NULL,
    BillingAddress NVARCHAR(70), BillingCity NVARCHAR(40), BillingState NVARCHAR(40), BillingCountry NVARCHAR(40),
    BillingPostalCode NVARCHAR(10), Total NUMERIC(10,2) NOT NULL, CONSTRAINT PK_Invoice PRIMARY KEY (InvoiceId),
    FOREIGN KEY (CustomerId) REFERENCES Customer (CustomerId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE InvoiceLine (InvoiceLineId INTEGER NOT NULL, InvoiceId INTEGER NOT NULL, TrackId INTEGER NOT NULL,
    UnitPrice NUMERIC(10,2) NOT NULL, Quantity INTEGER NOT NULL, CONSTRAINT PK_InvoiceLine PRIMARY KEY (InvoiceLineId),
    FOREIGN KEY (InvoiceId) REFERENCES Invoice (InvoiceId) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY (TrackId) REFERENCES Track (TrackId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE PlaylistTrack (PlaylistId INTEGER NOT NULL, TrackId INTEGER NOT NULL,
    CONSTRAINT PK_PlaylistTrack PRIMARY KEY (PlaylistId, TrackId),
    FOREIGN KEY (PlaylistId) REFERENCES Playlist (PlaylistId) ON DELETE NO ACTION ON UPDATE NO ACTION,
    FOREIGN KEY (TrackId) REFERENCES Track (TrackId) ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE INDEX IFK_AlbumArtistId ON Album (ArtistId);
CREATE INDEX IFK_CustomerSupportRepId ON Customer (SupportRepId);
CREATE INDEX IFK_EmployeeReportsTo ON Employee (ReportsTo);
CREATE INDEX IFK_InvoiceCustomerId ON Invoice (CustomerId);
CREATE INDEX IFK_InvoiceLineInvoiceId ON InvoiceLine (InvoiceId);
CREATE INDEX IFK_InvoiceLineTrackId ON InvoiceLine (TrackId);
CREATE INDEX IFK_PlaylistTrackTrackId ON PlaylistTrack (TrackId);
CREATE INDEX IFK_TrackAlbumId ON Track (AlbumId);
CREATE INDEX IFK_TrackGenreId ON Track (GenreId);
CREATE INDEX IFK_TrackMediaTypeId ON Track (MediaTypeId);
"""


@pytest.fixture(scope="module")
def chinook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chinook") / "chinook.db"
    tables = json.loads(gzip.decompress(DATA.read_bytes()))
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for table, content in tables.items():
        marks = ", ".join("?" for _ in content["columns"])
        conn.executemany(f"INSERT INTO {table} ({', '.join(content['columns'])}) VALUES ({marks})", content["rows"])
    conn.commit()
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    return path


def test_chinook_migrates_exactly(chinook: Path, pg_url: str) -> None:
    report = migrate(chinook, pg_url)
    assert report.exit_code == 0
    assert {t.target: t.rows for t in report.tables} == {
        "album": 347, "artist": 275, "customer": 59, "employee": 8, "genre": 25, "invoice": 412,
        "invoiceline": 2240, "mediatype": 5, "playlist": 18, "playlisttrack": 8715, "track": 3503}
    assert all(t.verified for t in report.tables)
    with psycopg.connect(libpq_conninfo(pg_url)) as pg:
        assert pg.execute("SELECT sum(total) FROM invoice").fetchone() == (Decimal("2328.60"),)
        assert pg.execute("SELECT sum(unitprice * quantity) FROM invoiceline").fetchone() == (Decimal("2328.60"),)
        assert pg.execute("SELECT firstname, lastname, city FROM customer WHERE customerid = 1").fetchone() == (
            "Luís", "Gonçalves", "São José dos Campos")
        assert pg.execute("SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns "
                          "WHERE table_name = 'invoice' AND column_name = 'total'").fetchone() == ("numeric", 10, 2)
        assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone() == (11,)
        assert pg.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'ifk_%'").fetchone() == (10,)
        # The self-reference holds: every manager is an employee.
        assert pg.execute("SELECT count(*) FROM employee e JOIN employee m ON m.employeeid = e.reportsto"
                          ).fetchone() == (7,)
    assert [r.verified for r in verify(chinook, pg_url)] == [True] * 11
