"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL comes from TEST_POSTGRES_URL (default the local server on 127.0.0.1:5432, trust auth).
Where none answers, PostgreSQL tests skip with the reason, except under CI where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.migrate import upgrade_async

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_available() -> str | None:
    """None when PostgreSQL answers; otherwise why not."""
    try:
        connection = await asyncio.wait_for(asyncpg.connect(_plain(POSTGRES_ADMIN_URL)), 5)
    except Exception as error:
        return f"PostgreSQL not reachable at {make_url(POSTGRES_ADMIN_URL).host}: {error}"
    await connection.close()
    return None


async def require_postgres() -> None:
    reason = await postgres_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have PostgreSQL: {reason}")
        pytest.skip(reason)


@asynccontextmanager
async def fresh_postgres(*, migrate: bool = True) -> AsyncIterator[str]:
    await require_postgres()
    name = f"carrefour_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_plain(POSTGRES_ADMIN_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            await upgrade_async(url)
        yield url
    finally:
        admin = await asyncpg.connect(_plain(POSTGRES_ADMIN_URL))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def fresh_sqlite(directory: Path, *, migrate: bool = True) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{directory / f'carrefour-{uuid.uuid4().hex[:8]}.db'}"
    if migrate:
        await upgrade_async(url)
    yield url


@asynccontextmanager
async def fresh_database(kind: str, directory: Path) -> AsyncIterator[str]:
    if kind == "postgresql":
        async with fresh_postgres() as url:
            yield url
    else:
        async with fresh_sqlite(directory) as url:
            yield url
