"""The statements every turn runs, on PostgreSQL sent to asyncpg directly.

A turn's claim (with its Person and its dialog state read) and its final write are each one
prebuilt autocommit statement (storage/activities.py). Through SQLAlchemy's `execute`, each
paid for its parameters' processing, the result's metadata and rows, and greenlet switches
around the driver's calls: more than the statement's round trip itself on a busy replica
(bench/turns.py: 8.0 → 7.0 ms of CPU a turn under the same load, bench/README.md). Here the
statement is compiled once by SQLAlchemy for the connection's dialect — the same SQL text, the
same bind processors (UtcDateTime's) — and run by asyncpg on the connection SQLAlchemy checked
out, so the pool, its pings and its limits stay SQLAlchemy's.

Errors keep SQLAlchemy's classes, which callers catch (IntegrityError for a claim that lost a
race on the sender's turn); a connection the driver reports broken is invalidated, as
SQLAlchemy does with its own disconnects, so that the pool does not hand it out again. On
SQLite the statement goes through SQLAlchemy as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler


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


async def fetch_one(
    connection: AsyncConnection, statement: Executable, values: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The first row of one statement (None: no row), by column name. Sent to asyncpg only
    on a PostgreSQL connection in autocommit, where the statement is its own transaction as
    SQLAlchemy would have made it; in a transaction SQLAlchemy runs it, inside."""
    sync = connection.sync_connection
    options = {} if sync is None else sync.get_execution_options()
    if connection.dialect.name != "postgresql" or options.get("isolation_level") != "AUTOCOMMIT":
        result = await connection.execute(statement, dict(values))
        found = result.first() if result.returns_rows else None
        return None if found is None else dict(found._mapping)
    import asyncpg  # already loaded by SQLAlchemy's PostgreSQL dialect

    prepared = _compile(statement, connection.dialect)
    params = prepared.compiled.construct_params(dict(values))
    arguments = [
        params[name] if process is None else process(params[name])
        for name, process in prepared.binds
    ]
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        row: Mapping[str, Any] | None = await driver.fetchrow(prepared.sql, *arguments)
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(prepared.sql, None, error) from error
    except asyncpg.PostgresError as error:
        broken = (asyncpg.ConnectionFailureError, asyncpg.OperatorInterventionError)
        if not isinstance(error, broken):
            raise DBAPIError(prepared.sql, None, error) from error
        await connection.invalidate(error)
        raise
    except BaseException as error:
        # The connection is gone, or a cancellation left a statement half-answered on it:
        # nobody else gets it.
        await connection.invalidate(error if isinstance(error, Exception) else None)
        raise
    return row
