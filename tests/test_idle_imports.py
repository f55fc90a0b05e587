"""What a serving bot holds in memory: rare work's libraries stay out until that work comes
(issue 14, idle RSS). `carrefour serve` runs in a fresh interpreter, up to where it would
listen, and its `sys.modules` is read there."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from storage.db import create_engine
from storage.migrate import MIGRATIONS, current_revision, head_revision

ROOT = Path(__file__).resolve().parent.parent

# Attestation PDFs (fpdf2, fontTools, Pillow), schema migrations (Alembic and its Mako
# templates, Pygments through Mako), the exporters to Azure Monitor and OTLP: none is needed to
# answer a turn. (OpenTelemetry's API and SDK themselves are imported by the Agents SDK's own
# telemetry module, on every start.)
RARE = (
    "alembic",
    "mako",
    "pygments",
    "fpdf",
    "PIL",
    "fontTools",
    "azure.monitor",
    "opentelemetry.exporter",
    # Imported by the Agents SDK's prompts for a date prompt no dialog uses, and by the text
    # recognizers for one emoji test: stand-ins hold their place (bot/lazy_modules.py).
    "recognizers_date_time",
    "emoji",
)

_SERVE_UNTIL_LISTENING = """
import json, sys
from aiohttp import web

served = []
web.run_app = lambda app, **_: served.append(app)  # stop where `serve` would listen
from bot import cli

status = cli.main(["serve", "--host", "127.0.0.1", "--port", "3978"])
rare = json.loads(sys.argv[1])
loaded = sorted({
    r
    for r in rare
    for name, module in list(sys.modules.items())
    if (name == r or name.startswith(r + "."))
    and getattr(module, "__file__", None) is not None  # a stand-in has none
})
print(json.dumps({"status": status, "served": len(served), "loaded": loaded}))
"""


def _serve_until_listening(database_url: str, cwd: Path) -> dict[str, object]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARREFOUR_", "Microsoft", "DATABASE_URL", "PORT"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        CARREFOUR_ENV="development",
        CARREFOUR_LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_UNTIL_LISTENING, json.dumps(RARE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,  # no .env of the working tree
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_serve_on_a_fresh_sqlite_file_migrates_it_without_loading_rare_libraries(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"

    answer = _serve_until_listening(database_url, tmp_path)

    assert answer == {"status": 0, "served": 1, "loaded": []}
    # The schema was brought to head all the same (by a child process).
    assert current_revision(database_url) == head_revision() is not None


def test_serve_on_a_current_schema_does_not_load_rare_libraries(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'current.db'}"
    _serve_until_listening(database_url, tmp_path)  # creates and migrates the file

    assert _serve_until_listening(database_url, tmp_path) == {
        "status": 0,
        "served": 1,
        "loaded": [],
    }


def test_the_head_read_from_the_files_is_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.parametrize("migrated", [False, True], ids=["empty", "migrated"])
async def test_the_current_revision_read_with_sql_is_alembics(
    database_url: str, tmp_path: Path, migrated: bool
) -> None:
    if not migrated:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"

    def alembic_current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            expected = await connection.run_sync(alembic_current)
    finally:
        await engine.dispose()

    assert expected == (head_revision() if migrated else None)
    assert await _current(database_url) == expected


async def _current(database_url: str) -> str | None:
    # `current_revision` runs its own event loop, as the command line does.
    return await asyncio.to_thread(current_revision, database_url)


def test_a_failed_upgrade_at_serve_stops_it_with_alembics_message(tmp_path: Path) -> None:
    database = tmp_path / "unknown.db"
    sqlite3.connect(database).executescript(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);"
        "INSERT INTO alembic_version VALUES ('9999');"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARREFOUR_", "Microsoft", "DATABASE_URL", "PORT"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        CARREFOUR_ENV="development",
    )

    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "1"],  # never listens
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )

    assert result.returncode == 1
    assert "Can't locate revision identified by '9999'" in result.stderr
    assert "listens on" not in result.stdout


_START_TWO_APPS = """
import asyncio, gc, json, sys
from aiohttp.test_utils import TestClient, TestServer
from bot.app import create_app
from tests.conftest import make_settings

async def main():
    counts = [gc.get_freeze_count()]
    for _ in range(2):
        client = TestClient(TestServer(create_app(make_settings(sys.argv[1]))))
        await client.start_server()
        counts.append(gc.get_freeze_count())
        await client.close()
    print(json.dumps(counts))

asyncio.run(main())
"""


def test_the_first_start_moves_what_it_built_out_of_the_collectors_reach(tmp_path: Path) -> None:
    """A full collection scans only what turns made (bot/app.py: its pauses held every turn in
    flight); a second app in the same process (tests) freezes nothing more."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'carrefour.db'}"
    asyncio.run(_migrated(url))
    result = subprocess.run(
        [sys.executable, "-c", _START_TWO_APPS, url],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    before, first, second = json.loads(result.stdout.strip().splitlines()[-1])
    assert before == 0
    assert first > 50_000  # the SDK's, SQLAlchemy's and our modules' objects
    assert second <= first  # frozen objects freed since, none added


async def _migrated(url: str) -> None:
    from storage.migrate import upgrade_async

    await upgrade_async(url)
