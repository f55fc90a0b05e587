"""Alembic owns the schema: migrating an empty database gives exactly the models' tables."""

from __future__ import annotations

import asyncio
import re

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage.db import create_engine
from storage.migrate import alembic_config, upgrade_async

# The full-text search objects of migration 0011, which are no model's: on SQLite the FTS5
# tables (and their shadow tables) and the view they read; on PostgreSQL the GIN indexes and
# the generated `search_vector` columns. Nothing else is left out of the comparison.
SEARCH_TABLE = re.compile(
    r"search_(resource|topic|question|answer)(_(data|idx|docsize|config|content))?"
    r"|search_(resource|topic|question)_source"
)
SEARCH_INDEX = re.compile(r"ix_search_(resource|topic|question|question_answer|resource_shared)")
SEARCH_COLUMN_TABLES = frozenset({"resource", "topic", "question", "question_answer"})


def _not_search(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    if name is None:
        return True
    if type_ == "table":
        return not SEARCH_TABLE.fullmatch(name)
    if type_ == "index":
        return not SEARCH_INDEX.fullmatch(name)
    if type_ == "column":
        return not (
            name == "search_vector" and parent_names.get("table_name") in SEARCH_COLUMN_TABLES
        )
    return True


async def _differences(database_url: str) -> list[object]:
    """What the migrated database has that the models do not, or lacks."""
    engine = create_engine(database_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _not_search}
        )
        return list(compare_metadata(context, SQLModel.metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(diff)
    finally:
        await engine.dispose()


async def _tables(database_url: str) -> set[str]:
    engine = create_engine(database_url)

    def names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(names)
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert await _differences(database_url) == []


async def test_every_migration_goes_down_and_back_up(database_url: str) -> None:
    """An operator who rolls a release back runs `alembic downgrade`: every migration's
    downgrade must run on both databases and leave nothing of the schema behind, and upgrading
    again must give the models' schema."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    assert await _tables(database_url) <= {"alembic_version"}
    await upgrade_async(database_url)
    assert await _differences(database_url) == []
