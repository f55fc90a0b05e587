"""The statements every turn runs, on PostgreSQL sent to asyncpg directly.

A turn's claim (with its Person and its dialog state read) and its final write are each one
prebuilt statement that commits by itself (storage/activities.py). Through an `AsyncConnection`
each paid for the connection object (checkout, execution options, check-in: a greenlet switch
apiece), then for `execute`'s parameter processing, result metadata and rows: more than the
statement's own round trip on a busy replica (bench/README.md). Here the statement is compiled
once by SQLAlchemy for the dialect — the same SQL text, the same bind processors (UtcDateTime's)
— and run by asyncpg on a connection taken straight from SQLAlchemy's pool, so the pool, its
size, its pings when idle (storage/db.py) and its recycling stay SQLAlchemy's.

Errors keep SQLAlchemy's classes, which callers catch (IntegrityError for a claim that lost a
race on the sender's turn); a connection the driver reports broken, or one a cancellation left
in the middle of a statement, is invalidated, as SQLAlchemy does with its own disconnects, so
that the pool does not hand it out again. On SQLite the statement goes through an autocommit
`AsyncConnection`, as before.

`TurnConnection` is a turn's first unit of work's connection: an `AsyncConnection` is checked
out only if a statement other than the claim needs one (a new conversation to record, a state
to read again), which on PostgreSQL is the rare case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.concurrency import greenlet_spawn


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # The bind names in the order of the SQL's $1, $2 …, each with its processor, if any.
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    compiled: SQLCompiler
    statement: Executable  # kept alive, so that its id is not another's


# Statements are built once (module constants or cached builders), so their identity is a key
# that does not grow; the dialect is the same class of object for every PostgreSQL engine.
_COMPILED: dict[tuple[int, type[Dialect]], _Compiled] = {}


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    key = (id(statement), type(dialect))
    found = _COMPILED.get(key)
    if found is not None and found.statement is statement:
        return found
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    assert compiled.positiontup is not None  # the dialect's numbered parameters
    processors = {name: bind.type.bind_processor(dialect) for name, bind in compiled.binds.items()}
    binds = tuple((name, processors.get(name)) for name in compiled.positiontup)
    found = _Compiled(sql=compiled.string, binds=binds, compiled=compiled, statement=statement)
    _COMPILED[key] = found
    return found


async def alone(
    engine: AsyncEngine, statement: Executable, values: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """One statement as its own transaction; its first row by column name (None: no row)."""
    if engine.dialect.name != "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await connection.execute(statement, dict(values))
            found = result.first() if result.returns_rows else None
            return None if found is None else dict(found._mapping)
    import asyncpg  # already loaded by SQLAlchemy's PostgreSQL dialect

    prepared = _compile(statement, engine.dialect)
    params = prepared.compiled.construct_params(dict(values))
    arguments = [
        params[name] if process is None else process(params[name])
        for name, process in prepared.binds
    ]
    # The pool's checkout runs its events (the ping of a connection idle for long) in a
    # greenlet, as SQLAlchemy's own checkouts do; so does the check-in (its reset).
    pooled = await greenlet_spawn(engine.sync_engine.pool.connect)
    try:
        driver: Any = pooled.driver_connection
        row: Mapping[str, Any] | None = await driver.fetchrow(prepared.sql, *arguments)
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(prepared.sql, None, error) from error
    except asyncpg.PostgresError as error:
        broken = (asyncpg.ConnectionFailureError, asyncpg.OperatorInterventionError)
        if isinstance(error, broken):
            pooled.invalidate(error)
            raise
        raise DBAPIError(prepared.sql, None, error) from error
    except BaseException as error:
        # The connection is gone, or a cancellation left a statement half-answered on it:
        # nobody else gets it.
        pooled.invalidate(error if isinstance(error, Exception) else None)
        raise
    finally:
        await greenlet_spawn(pooled.close)
    return row


class TurnConnection:
    """A turn's `AsyncConnection`, checked out at its first use (`connection()`), returned at
    the end of the `async with`; `alone` runs a statement without it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._stack = AsyncExitStack()
        self._connection: AsyncConnection | None = None
        self._autocommit = False

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            self._connection = await self._stack.enter_async_context(self.engine.connect())
        return self._connection

    async def autocommit(self) -> AsyncConnection:
        """The connection, each statement its own transaction from now on."""
        connection = await self.connection()
        if not self._autocommit:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            self._autocommit = True
        return connection

    async def alone(
        self, statement: Executable, values: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        return await alone(self.engine, statement, values)

    async def __aenter__(self) -> TurnConnection:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(kind, error, traceback)
