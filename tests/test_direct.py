"""storage/direct.py: a turn's own statements sent to asyncpg directly, on both databases.

What must not change when the statement skips SQLAlchemy's execute: the values written (an
aware datetime in another zone is the same instant), the errors callers catch (a unique
violation is SQLAlchemy's IntegrityError), the pool's health (a connection that broke under
the statement is not handed out again), and a transaction's rules (inside one, the statement
is part of it and rolls back with it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.direct import TurnConnection, alone
from storage.models import Person, ProcessedActivity
from tests.databases import fresh_postgres

MONTREAL_WINTER = timezone(timedelta(hours=-5))

_ADD_CLAIM = (
    insert(ProcessedActivity.__table__)  # type: ignore[attr-defined]
    .values(
        activity_key=bindparam("k"),
        owner=bindparam("o"),
        received_at=bindparam("at"),
        lease_until=bindparam("until"),
    )
    .returning(ProcessedActivity.__table__.c.received_at)  # type: ignore[attr-defined]
)
_COUNT = text("SELECT count(*) AS n FROM processed_activity WHERE activity_key = :k")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def _count(engine: AsyncEngine, key: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(_COUNT, {"k": key})).scalar_one())


async def test_an_autocommit_statement_writes_what_sqlalchemy_would(engine: AsyncEngine) -> None:
    at = datetime(2027, 1, 12, 9, 30, tzinfo=MONTREAL_WINTER)
    row = await alone(engine, _ADD_CLAIM, {"k": "a1", "o": "me", "at": at, "until": None})
    assert row is not None
    # The instant, whichever zone it came in (UtcDateTime's processor ran).
    async with engine.connect() as connection:
        stored = (
            await connection.execute(
                select(ProcessedActivity.__table__.c.received_at).where(  # type: ignore[attr-defined]
                    ProcessedActivity.__table__.c.activity_key == "a1"  # type: ignore[attr-defined]
                )
            )
        ).scalar_one()
    assert stored == datetime(2027, 1, 12, 14, 30, tzinfo=UTC)
    assert await _count(engine, "a1") == 1  # committed by itself


async def test_a_duplicate_is_sqlalchemys_integrity_error(engine: AsyncEngine) -> None:
    values = {"k": "a2", "o": "me", "at": datetime(2027, 1, 12, tzinfo=UTC), "until": None}
    await alone(engine, _ADD_CLAIM, values)
    with pytest.raises(IntegrityError):
        await alone(engine, _ADD_CLAIM, {**values, "o": "someone else"})
    # The pool's connections are still good for the next statements.
    for _ in range(3):
        row = await alone(engine, _COUNT, {"k": "a2"})
    assert row is not None
    assert row["n"] == 1


async def test_an_update_without_rows_answers_none(engine: AsyncEngine) -> None:
    statement = text("UPDATE person SET preferred_locale = :l WHERE id = :i")
    assert await alone(engine, statement, {"l": "en", "i": 404}) is None


async def test_a_turn_connection_is_opened_only_when_used(engine: AsyncEngine) -> None:
    """The claim alone checks out nothing more; a statement that needs the turn's connection
    opens one, in autocommit, and it goes back to the pool at the end."""
    pool = engine.sync_engine.pool
    async with TurnConnection(engine) as turn_connection:
        await turn_connection.alone(_COUNT, {"k": "a3"})
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        connection = await turn_connection.autocommit()
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
        await connection.execute(
            _ADD_CLAIM,
            {"k": "a3", "o": "me", "at": datetime(2027, 1, 12, tzinfo=UTC), "until": None},
        )
        assert await turn_connection.autocommit() is connection
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _count(engine, "a3") == 1  # committed by itself


@pytest.fixture
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    """Only PostgreSQL has a server that can end a pooled connection."""
    async with fresh_postgres() as url:
        engine = create_engine(url)
        yield engine
        await engine.dispose()


async def test_a_connection_broken_under_the_statement_is_not_handed_out_again(
    postgres_engine: AsyncEngine,
) -> None:
    engine = postgres_engine
    # The pool's every connection is ended by the server while idle in the pool (a restart,
    # a failover); the pool does not know.
    row = await alone(engine, text("SELECT pg_backend_pid() AS pid"), {})
    assert row is not None
    admin = await asyncpg.connect(
        engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", row["pid"])
    finally:
        await admin.close()
    # asyncpg says it in its own words ("connection is closed", "another operation is in
    # progress"), depending on when the server's goodbye arrived.
    with pytest.raises((asyncpg.InterfaceError, asyncpg.InternalClientError, DBAPIError)):
        await alone(engine, _COUNT, {"k": "x"})
    # Every connection the pool hands out from now on answers.
    for _ in range(3):
        row = await alone(engine, _COUNT, {"k": "x"})
        assert row is not None
        assert row["n"] == 0


async def test_the_person_row_statement_of_a_turn_keeps_its_value(engine: AsyncEngine) -> None:
    """`people.remember_locale`, which a turn's language choice runs."""
    from storage import people

    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        person_id = (
            await connection.execute(
                insert(Person.__table__)  # type: ignore[attr-defined]
                .values(
                    teams_user_id="29:x",
                    name="Léa",
                    created_at=datetime(2027, 1, 12, tzinfo=UTC),
                    last_seen_at=datetime(2027, 1, 12, tzinfo=UTC),
                )
                .returning(Person.__table__.c.id)  # type: ignore[attr-defined]
            )
        ).scalar_one()
    await people.remember_locale(engine, person_id=person_id, locale="en")
    async with engine.connect() as connection:
        locale = (
            await connection.execute(
                text("SELECT preferred_locale FROM person WHERE id = :i"), {"i": person_id}
            )
        ).scalar_one()
    assert locale == "en"
