"""Engine and sessions. SQLite (embedded default) or PostgreSQL (several replicas)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
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
from sqlalchemy.util.concurrency import await_, in_greenlet
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.orm.session import Session

SessionFactory = async_sessionmaker[AsyncSession]

# How a transaction begins on SQLite, as an execution option of its connection: IMMEDIATE (the
# default: `transaction()`, every explicit `begin()`) takes the write lock at BEGIN, so two
# read-check-write units take turns; DEFERRED (a session used without `begin()`, which only
# reads: rendering a card) reads one snapshot and never waits for a writer (WAL).
SQLITE_BEGIN = "carrefour_sqlite_begin"


# How long a SQLite unit of work waits for the writer: first in this process's queue (below),
# then in SQLite's busy handler (`busy_timeout`).
SQLITE_WAIT_S = 30.0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


POOL_SIZE = 20


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_WAIT_S},
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
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_WAIT_S * 1000)}")
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
            if not deferred:
                writer.take(connection.info)
            # On the driver's connection, as SQLAlchemy begins on other databases: transaction
            # control, not one of the unit of work's statements (cursor events do not see it).
            try:
                cursor = dbapi_connection.cursor()
                cursor.execute("BEGIN" if deferred else "BEGIN IMMEDIATE")
                cursor.close()
            except BaseException:
                writer.give_back(connection.info)
                raise

        writer = _SqliteWriter()
        writer.install(engine)
        return engine
    # Twenty connections kept open, none beyond: an overflow connection is closed as soon as it
    # is returned, so under a burst of turns each one paid a connect (asyncpg tries TLS first)
    # and a close (bench/turns.py profiles). A turn waits for a free connection instead; the
    # replica's ceiling on the server is the same twenty as before.
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=0,
        pool_recycle=1800,
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    return engine


class _WriterQueue:
    """One event loop's queue for the writer: the lock, and the task holding it."""

    __slots__ = ("holder", "lock")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None


async def _acquire(lock: asyncio.Lock, within_s: float) -> bool:
    try:
        async with asyncio.timeout(within_s):
            await lock.acquire()
    except TimeoutError:
        return False
    return True


# In a connection's `info` (its pool record's): the queue whose lock this connection holds.
_HOLDS_WRITER = "carrefour_holds_writer"
# Statements that only read: anything else (INSERT, UPDATE, DELETE, WITH …, REPLACE) may write.
_READ_ONLY = ("SELECT", "PRAGMA", "EXPLAIN", "VALUES")


def _info_of(pooled: Any) -> dict[Any, Any]:
    """A pooled connection's `info` (its pool record's); none for the ad hoc connection
    SQLAlchemy wraps once at the first connect."""
    try:
        info: dict[Any, Any] = pooled.info
    except (AttributeError, NotImplementedError):
        return {}
    return info


def _is_autocommit(connection: Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _may_write(statement: str) -> bool:
    return not statement.lstrip()[:8].upper().startswith(_READ_ONLY)


class _SqliteWriter:
    """SQLite's single writer, queued for in this process's event loop.

    SQLite serialises writers itself: a unit of work that finds the writer taken waits in its
    busy handler, which sleeps 1, 2, 5, 10 … then 100 ms at a time and retries, with no order
    among waiters. Under concurrent turns (`bench.turns`, 50 turns a second) most writes found
    it taken, slept past the moment it was free, and lost it again to a newcomer: waits of a
    second. Here a unit of work that will write first takes an asyncio lock (FIFO, woken the
    moment the writer before it commits), then begins; one that only reads never takes it,
    and one autocommit statement only waits for its turn (`pass_through`).

    Only a latency aid within one process: other processes (replicas, the CLI) and other
    engines are not in this queue, and SQLite still arbitrates between them (BEGIN IMMEDIATE,
    busy_timeout). So the lock never decides anything: a task that already holds it (a write
    nested in its own unit of work), a wait past SQLITE_WAIT_S, or code outside an event loop
    go on to the database as before.
    """

    def __init__(self) -> None:
        # One queue per event loop (tests run several loops over one engine's lifetime).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _WriterQueue] = (
            weakref.WeakKeyDictionary()
        )

    def _wait(self) -> _WriterQueue | None:
        """Wait for this process's turn at the writer (SQLAlchemy's sync code, run in its
        greenlet: `await_` waits there); the queue whose lock is now held, or None when the
        database is left to decide alone."""
        if not in_greenlet():
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _WriterQueue()
        task = asyncio.current_task(loop)
        if task is not None and queue.holder is task:
            return None  # waiting for ourselves would never end: the database decides
        if not await_(_acquire(queue.lock, SQLITE_WAIT_S)):
            return None
        queue.holder = task
        return queue

    def take(self, info: dict[Any, Any]) -> None:
        """Hold the writer, for the transaction of the connection whose `info` this is."""
        if _HOLDS_WRITER not in info:
            queue = self._wait()
            if queue is not None:
                info[_HOLDS_WRITER] = queue

    def pass_through(self) -> None:
        """Wait for the writer ahead, then let go at once: for one autocommit statement. Held
        until it returned, the lock would also cover the event loop's way back to this
        statement's greenlet, while SQLite's writer was free since the statement ended in
        the driver's thread (under `bench.turns` that queue fed on itself: p50 400 ms)."""
        queue = self._wait()
        if queue is not None:
            queue.holder = None
            queue.lock.release()

    def give_back(self, info: dict[Any, Any]) -> None:
        queue: _WriterQueue | None = info.pop(_HOLDS_WRITER, None)
        if queue is not None:
            queue.holder = None
            queue.lock.release()

    def install(self, engine: AsyncEngine) -> None:
        """Take the writer before a write begins (the `begin` listener above, for BEGIN
        IMMEDIATE; here, before a write statement outside one) and give it back once the
        transaction has ended, whatever way it ended."""
        sync_engine = engine.sync_engine
        dialect: Any = sync_engine.dialect

        def after(end: Callable[[Any], None]) -> Callable[[Any], None]:
            def ended(dbapi_connection: Any) -> None:
                try:
                    end(dbapi_connection)
                finally:
                    # After COMMIT or ROLLBACK has returned: the next writer finds SQLite's
                    # writer free (released before, it would meet the busy handler).
                    self.give_back(_info_of(dbapi_connection))

            return ended

        # SQLAlchemy has events before a commit or rollback, none after: the dialect's own
        # methods are wrapped (Connection and the pool's reset both call them).
        dialect.do_commit = after(dialect.do_commit)
        dialect.do_rollback = after(dialect.do_rollback)

        @event.listens_for(sync_engine, "before_cursor_execute")
        def _before(
            connection: Connection, _c: Any, statement: str, _p: Any, _x: Any, _m: bool
        ) -> None:
            if _HOLDS_WRITER in connection.info or not _may_write(statement):
                return
            if _is_autocommit(connection):
                self.pass_through()  # one statement, its own transaction
            else:
                # A transaction begun DEFERRED (a session used without begin()) that writes
                # after all: it holds the writer from here to its end.
                self.take(connection.info)

        # A connection lost or closed while it held the writer must not keep the queue.
        for name in ("checkin", "invalidate", "soft_invalidate", "close", "detach"):

            @event.listens_for(sync_engine.pool, name)
            def _lost(_dbapi_connection: Any, record: Any, *_: Any) -> None:
                if record is not None:
                    self.give_back(record.info)


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
