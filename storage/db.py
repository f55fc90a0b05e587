"""Engine and sessions. SQLite (embedded default) or PostgreSQL (several replicas)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import SessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.orm.session import Session

SessionFactory = async_sessionmaker[AsyncSession]

# How a transaction begins on SQLite, as an execution option of its connection: IMMEDIATE (the
# default: `transaction()`, every explicit `begin()`) takes the write lock at BEGIN, so two
# read-check-write units take turns; DEFERRED (a session used without `begin()`, which only
# reads: rendering a card) reads one snapshot and never waits for a writer (WAL).
SQLITE_BEGIN = "carrefour_sqlite_begin"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            pool_pre_ping=False,
            # SQL parameters carry personal data (who voted, what a request says): never log them.
            hide_parameters=True,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers work while the single writer writes; busy_timeout makes
            # concurrent writers wait instead of failing with "database is locked".
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Deleted and rewritten rows (replaced answers, dealt ballots) are zeroed, not left
            # in free pages for a copy of the file to reveal (docs/decisions.md, Anonymity).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
            # The driver's own transaction control begins only before INSERT/UPDATE/DELETE,
            # after the reads that decided them: two units of work both read, then one
            # overwrites the other or fails with "database is locked" (a reader cannot become
            # the writer once another wrote; busy_timeout does not help). SQLAlchemy's recipe:
            # the driver never begins, `_sqlite_begin` below does.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            options = connection.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # one statement that commits by itself (`autocommit`)
            dbapi_connection: Any = connection.connection.dbapi_connection
            if dbapi_connection.isolation_level is not None:
                # Back from AUTOCOMMIT, SQLAlchemy gave the driver its transaction control back.
                dbapi_connection.isolation_level = None
            deferred = options.get(SQLITE_BEGIN) == "DEFERRED"
            # On the driver's connection, as SQLAlchemy begins on other databases: transaction
            # control, not one of the unit of work's statements (cursor events do not see it).
            cursor = dbapi_connection.cursor()
            cursor.execute("BEGIN" if deferred else "BEGIN IMMEDIATE")
            cursor.close()

        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    return engine


# SQLAlchemy's pool_pre_ping pings on every checkout: a round trip for each transaction, the
# largest single cost of a turn (bench/turns.py). A connection returned less than this long ago
# is taken as alive; if the server went away meanwhile, the statement fails with a disconnect
# error, SQLAlchemy invalidates the pool, and the next transaction connects afresh.
PING_AFTER_IDLE_S = 5.0
_CHECKED_IN_AT = "carrefour_checked_in_at"


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_CHECKED_IN_AT)
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("connection did not answer a ping") from error


class _Session(Session):
    """A session whose explicit `begin()` is a unit of work that may write: on SQLite its
    connection begins IMMEDIATE (see SQLITE_BEGIN) at once."""

    def begin(self, nested: bool = False) -> SessionTransaction:
        began = super().begin(nested)
        if not nested and self.get_bind().dialect.name == "sqlite":
            self.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        return began


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(
        engine,
        class_=AsyncSession,
        sync_session_class=_Session,
        expire_on_commit=False,
        # A session used without begin() reads: it does not take SQLite's write lock.
        execution_options={SQLITE_BEGIN: "DEFERRED"},
    )


def engine_of(sessions: SessionFactory) -> AsyncEngine:
    engine: AsyncEngine = sessions.kw["bind"]
    return engine


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on error. On SQLite it holds the write
    lock from its first statement (BEGIN IMMEDIATE): units of work take turns, so what one
    read is still true when it writes. On PostgreSQL a read-check-write locks the rows it
    decides on (FOR UPDATE) or writes conditionally (ON CONFLICT)."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def autocommit(sessions: SessionFactory) -> AsyncIterator[AsyncConnection]:
    """For a unit of work that is one statement: it commits by itself, without the BEGIN and
    COMMIT round trips of `transaction`."""
    async with engine_of(sessions).connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        # A health check does not queue behind SQLite's writer.
        await conn.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
        await conn.execute(text("SELECT 1"))
