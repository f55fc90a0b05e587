"""The `carrefour` command line, run as a user runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def carrefour(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_the_commands() -> None:
    result = carrefour("--help")
    assert result.returncode == 0
    for command in ("serve", "db", "manifest"):
        assert command in result.stdout


def test_db_upgrade_creates_the_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "data" / "carrefour.db"
    result = carrefour("db", "upgrade", env={"DATABASE_URL": f"sqlite+aiosqlite:///{database}"})
    assert result.returncode == 0, result.stderr
    assert database.exists()


def test_db_downgrade_goes_back_to_a_revision_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    """Rolling a release back: the schema goes down to what the older release expects; a
    revision that does not exist changes nothing and says so."""
    database = tmp_path / "carrefour.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    assert carrefour("db", "upgrade", env=env).returncode == 0
    refused = carrefour("db", "downgrade", "9999", env=env)
    assert refused.returncode == 2
    assert "9999" in refused.stderr
    result = carrefour("db", "downgrade", "0019", env=env)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert version.startswith("0019")
    assert "onboarding_check" not in tables  # migration 0020's table
    assert "meeting_cohost" in tables  # 0019's stays


def test_manifest_build_writes_the_zip(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"
    result = carrefour(
        "manifest", "build", "--app-id", "3f1c2a9e-5b7d-4e21-9c1a-2b3c4d5e6f70", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "manifest.json" in zipfile.ZipFile(out).namelist()


def test_manifest_build_refuses_a_bad_app_id(tmp_path: Path) -> None:
    result = carrefour(
        "manifest", "build", "--app-id", "not-a-guid", "--out", str(tmp_path / "x.zip")
    )
    assert result.returncode == 2
    assert "error" in result.stderr.lower()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CARREFOUR_ENV": "production", "MicrosoftAppId": ""}, "production"),
        ({"CARREFOUR_TIMEZONE": "Mars/Olympus"}, "invalid configuration"),
    ],
)
def test_serve_refuses_to_start_with_a_bad_configuration(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = carrefour(
        "serve", "--port", "0", env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db", **env}
    )
    assert result.returncode == 2
    assert expected in result.stderr


def test_serve_names_settings_that_cannot_work_on_one_line(tmp_path: Path) -> None:
    """A refused setting reads as one line, without a traceback or the values given (the
    database URL or the password could be among them)."""
    result = carrefour(
        "serve",
        "--port",
        "0",
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db",
            "CARREFOUR_OUTBOX_LEASE_SECONDS": "5",
            "MicrosoftAppId": "3f1c2a9e-5b7d-4e21-9c1a-2b3c4d5e6f70",
            "MicrosoftAppPassword": "client-secret-from-the-portal",
            "MicrosoftAppTenantId": "72f988bf-0000-0000-0000-000000000001",
        },
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    line = result.stderr.strip()
    assert line.startswith("error: invalid configuration: CARREFOUR_OUTBOX_LEASE_SECONDS must")
    assert "Traceback" not in result.stderr
    assert "client-secret" not in result.stderr
    assert str(tmp_path) not in result.stderr
    assert not (tmp_path / "c.db").exists()


def _served_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str
) -> tuple[Settings, str]:
    """Run `carrefour serve <args>` up to the point it would listen; the app's settings and
    a signed link as the app makes them."""
    from aiohttp import web

    from bot import cli
    from bot.app import SETTINGS
    from bot.links import public_link
    from tests.conftest import make_settings

    served: list[web.Application] = []
    monkeypatch.setattr(web, "run_app", lambda app, **_: served.append(app))
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/serve.db", **env)
    assert cli._serve(settings, cli.build_parser().parse_args(["serve", *args])) == 0
    [app] = served
    return app[SETTINGS], public_link(app[SETTINGS], "/attestations/x")


def test_links_follow_the_served_port_when_no_public_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARREFOUR_PUBLIC_URL", raising=False)
    settings, link = _served_settings(tmp_path, monkeypatch, "--port", "4100")
    assert settings.port == 4100
    assert link == "http://localhost:4100/attestations/x"
    # The port from the environment counts the same way.
    settings, link = _served_settings(tmp_path, monkeypatch, CARREFOUR_PORT="4200")
    assert link == "http://localhost:4200/attestations/x"


def test_a_set_public_url_is_kept_whatever_the_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings, link = _served_settings(
        tmp_path,
        monkeypatch,
        "--port",
        "4100",
        CARREFOUR_PUBLIC_URL="https://carrefour.example.org",
    )
    assert link == "https://carrefour.example.org/attestations/x"
