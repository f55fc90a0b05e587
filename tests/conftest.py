from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Runtime, create_app
from bot.settings import Settings
from storage.db import SessionFactory, create_engine, session_factory
from tests.databases import fresh_database
from tests.fake_connector import FakeConnector
from tests.support import started


@pytest.fixture(autouse=True)
def _quiet_alembic() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database of each kind."""
    async with fresh_database(str(request.param), tmp_path) as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.close()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "CARREFOUR_ENV": "test",
        "MicrosoftAppId": None,
        # Tests call jobs and the dispatcher directly.
        "CARREFOUR_SCHEDULER_ENABLED": False,
        # Tests, fuzzing and benchmarks post far faster than a person clicks; the inbound limit
        # has its own tests (tests/test_boundaries.py), which set it.
        "CARREFOUR_INBOUND_PER_PERSON_LIMIT": 1_000_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    """The bot's wired parts (engine, adapter, dispatcher…) on each database, without HTTP."""
    app = create_app(make_settings(database_url, CARREFOUR_OUTBOX_MAX_ATTEMPTS=3))
    async with started(app) as wired:
        yield wired


@pytest.fixture
async def bot_client(sqlite_url: str) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The whole bot over HTTP, on a fresh SQLite file."""
    client = TestClient(TestServer(create_app(make_settings(sqlite_url))))
    await client.start_server()
    yield client
    await client.close()
