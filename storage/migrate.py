"""Apply Alembic migrations from code (`carrefour db upgrade`, `make run`, tests)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be escaped for configparser (passwords may contain it).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _ensure_sqlite_directory(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    secret_key_file: Path | None = None,
    secret_key_configured: bool = False,
) -> None:
    """Bring the schema to `revision`. Safe to run on every start and from several replicas
    one after the other (Alembic records the version in the database).

    `secret_key_file` is where migration 0007 moves a key the database still holds, unless
    `secret_key_configured` (the operator's CARREFOUR_SECRET_KEY is the key in use)."""
    _ensure_sqlite_directory(database_url)
    config = alembic_config(database_url)
    config.attributes["secret_key_file"] = secret_key_file
    config.attributes["secret_key_configured"] = secret_key_configured
    command.upgrade(config, revision)
    logger.info("database schema at %s", revision)


async def upgrade_async(
    database_url: str,
    revision: str = "head",
    *,
    secret_key_file: Path | None = None,
    secret_key_configured: bool = False,
) -> None:
    # env.py runs its own event loop; keep it off the caller's.
    await asyncio.to_thread(
        lambda: upgrade(
            database_url,
            revision,
            secret_key_file=secret_key_file,
            secret_key_configured=secret_key_configured,
        )
    )


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(database_url: str) -> str | None:
    return asyncio.run(_current_revision_async(database_url))


async def _current_revision_async(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from storage.db import create_engine

    _ensure_sqlite_directory(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
