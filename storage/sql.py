"""Small SQL helpers shared by the services (dialect-aware statements)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CursorResult, Executable, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

Executor = AsyncSession | AsyncConnection
Model = TypeVar("Model", bound=SQLModel)


def _dialect(executor: Executor) -> str:
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    return bind.dialect.name


@lru_cache(maxsize=256)
def _insert_statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    returning: tuple[ColumnElement[Any], ...],
) -> Executable:
    """The statement for one shape of call, built once: building an INSERT … ON CONFLICT (its
    `excluded` alias above all) cost more CPU than running it (bench/turns.py). The values are
    bound at execution, so a cached statement holds none."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict), set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    if returning:
        statement = statement.returning(*returning)
    # `columns` is part of the cache key only: the INSERT names the columns of its parameters.
    del columns
    result: Executable = statement
    return result


async def upsert(
    executor: Executor,
    table: Table,
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    returning: Iterable[ColumnElement[Any]] = (),
) -> Row[Any] | None:
    """INSERT … ON CONFLICT DO UPDATE: one statement, safe when two replicas race. With
    `returning`, the row as stored (None when DO NOTHING skipped it)."""
    columns = tuple(returning)
    statement = _insert_statement(
        _dialect(executor), table, tuple(values), tuple(conflict), tuple(update), columns
    )
    result = await executor.execute(statement, dict(values))
    return result.first() if columns else None


async def insert_if_absent(
    executor: Executor, table: Table, values: Mapping[str, Any], *, conflict: Sequence[str]
) -> bool:
    """Insert a row unless its key exists; True when this call inserted it."""
    statement = _insert_statement(_dialect(executor), table, tuple(values), tuple(conflict), (), ())
    result: CursorResult[tuple[()]] = await executor.execute(statement, dict(values))  # type: ignore[assignment]
    return bool(result.rowcount)


async def insert_or_lock(
    session: AsyncSession, model: type[Model], values: Mapping[str, Any], *, key: Sequence[str]
) -> tuple[Model, bool]:
    """The row of `model` whose `key` columns hold these values: inserted with `values` if there
    was none, then read and locked (FOR UPDATE on PostgreSQL; SQLite's transaction already holds
    the writer) for the rest of the transaction. True when this call inserted it. Two at once
    make one row and the second reads what the first did, where a read-then-insert fails the
    second on the unique key."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    created = await insert_if_absent(session, table, values, conflict=key)
    statement = (
        select(model)
        .where(*(table.c[column] == values[column] for column in key))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).one(), created
