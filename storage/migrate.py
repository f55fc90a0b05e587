"""Apply Alembic migrations from code (`carrefour db upgrade`, `make run`, tests)."""

from __future__ import annotations

import ast
import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Where Alembic records the revision (its default; storage/migrations/env.py keeps it).
VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str) -> Config:
    # Alembic (and Mako, Pygments through it) is 8 MB a serving bot never needs: only here.
    from alembic.config import Config

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
    from alembic import command  # only when migrating: see alembic_config

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
    """The newest revision of the migration scripts: read from their source, as Alembic would
    find it (a test compares the two), so that a serving bot's schema check leaves Alembic
    unloaded; from Alembic itself when the files are not one plain chain of literals."""
    head = _head_from_sources()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _head_from_sources() -> str | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = _literal_revisions(path)
        if found is None:
            return None
        revision, down_revision = found
        revisions.add(revision)
        parents.update(down_revision)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _literal_revisions(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A script's `revision` and `down_revision`, if both are literals and nothing else
    (branch labels, dependencies) bears on its place in the chain."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, value = node.target.id, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, value = node.targets[0].id, node.value
        else:
            continue
        if name in ("revision", "down_revision", "branch_labels", "depends_on"):
            try:
                values[name] = ast.literal_eval(value)
            except ValueError:
                return None
    revision, down_revision = values.get("revision"), values.get("down_revision", ...)
    if values.get("branch_labels") or values.get("depends_on") or not isinstance(revision, str):
        return None
    if down_revision is None:
        return revision, ()
    if isinstance(down_revision, str):
        return revision, (down_revision,)
    if isinstance(down_revision, tuple) and all(isinstance(item, str) for item in down_revision):
        return revision, down_revision
    return None


def current_revision(database_url: str) -> str | None:
    return asyncio.run(_current_revision_async(database_url))


async def _current_revision_async(database_url: str) -> str | None:
    # Alembic's `MigrationContext.get_current_revision()` reads this very table; plain SQL
    # keeps Alembic out of a serving bot (a test compares the two).
    from storage.db import create_engine

    _ensure_sqlite_directory(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            if not await connection.run_sync(lambda sync: inspect(sync).has_table(VERSION_TABLE)):
                return None
            rows = await connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            versions = list(rows.scalars())
    finally:
        await engine.dispose()
    if len(versions) > 1:
        raise RuntimeError(f"the {VERSION_TABLE} table holds several revisions: {versions}")
    return str(versions[0]) if versions else None
