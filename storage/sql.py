"""Small SQL helpers shared by the services (dialect-aware statements)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def upsert(
    session: AsyncSession,
    table: Table,
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT DO UPDATE: one statement, safe when two replicas race."""
    module: Any = postgresql if _dialect(session) == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict), set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    await session.execute(statement)


async def insert_if_absent(
    session: AsyncSession, table: Table, values: Mapping[str, Any], *, conflict: Sequence[str]
) -> bool:
    """Insert a row unless its key exists; True when this call inserted it."""
    module: Any = postgresql if _dialect(session) == "postgresql" else sqlite
    statement = (
        module.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    )
    result: CursorResult[tuple[()]] = await session.execute(statement)  # type: ignore[assignment]
    return bool(result.rowcount)
