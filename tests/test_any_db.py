"""The same application code on both engines: moving is a settings change only."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from outgrow import connect
from outgrow.testing import TestDatabase


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


def test_transactions_commit_and_roll_back_the_same_way(any_db: TestDatabase) -> None:
    with connect(any_db.settings()) as db:
        assert db.name == any_db.engine
        Base.metadata.create_all(db.engine)
        with db.session() as session:
            session.add_all([Account(id=1, email="a@example.com"), Account(id=2, email="b@example.com")])
        with pytest.raises(IntegrityError), db.session() as session:
            session.add(Account(id=3, email="c@example.com"))
            session.flush()
            session.add(Account(id=4, email="a@example.com"))  # duplicate email: the whole session rolls back
        with db.transaction() as conn:
            conn.execute(text("UPDATE accounts SET balance = balance + 5 WHERE id = 1"))
        with db.read() as conn:
            rows = conn.execute(select(Account.id, Account.email, Account.balance).order_by(Account.id)).all()
        assert [tuple(row) for row in rows] == [(1, "a@example.com", 5), (2, "b@example.com", 0)]


def test_describe_reports_the_engine_and_its_version(any_db: TestDatabase) -> None:
    with connect(any_db.settings()) as db:
        described = db.describe()
    assert str(described["server_version"])[0].isdigit()
    assert ("pragmas" in described) is (any_db.engine == "sqlite")
