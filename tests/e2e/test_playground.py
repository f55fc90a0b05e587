"""Real-client end-to-end test: the bot behind the Microsoft 365 Agents Playground.

A person's path through the product, in a real browser: open the Playground, pick "Personal
Chat", type commands, see the help card in French then in English. Needs Node, the npm dev
tools (`npm install`: @microsoft/m365agentsplayground, playwright-core) and Debian's Chromium
(`apt-get install chromium`). Skipped when they are missing, unless CI is set (then it fails).

    .venv/bin/pytest -m e2e tests/e2e -s

Screenshots (and on failure the bot and Playground logs) land in test-output/e2e/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "node_modules"
PLAYGROUND_BIN = NODE_MODULES / ".bin" / "agentsplayground"
PLAYWRIGHT_CORE = NODE_MODULES / "playwright-core"
CHAT_SCRIPT = Path(__file__).with_name("playground_chat.mjs")
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
OUTPUT = REPO / "test-output" / "e2e"

BOT_START_TIMEOUT = 60.0
PLAYGROUND_START_TIMEOUT = 120.0
BROWSER_TIMEOUT = 300.0

FR_TITLE = "Carrefour — vos communautés de pratique"
EN_TITLE = "Carrefour — your communities of practice"
FR_BUTTON = "Changer de langue"
EN_BUTTON = "Change language"

# The Playground always sends locale "en-US" (hard-coded in its activity generators), so the
# French path starts by choosing French, as a French-speaking user with an English client would.
STEPS: list[dict[str, Any]] = [
    {"send": "langue fr", "expect": []},
    {"send": "aide", "expect": [FR_TITLE], "card": True, "screenshot": "help-fr.png"},
    {"send": "language en", "expect": []},
    {"send": "help", "expect": [EN_TITLE], "card": True, "screenshot": "help-en.png"},
]

# Settings the developer's shell may carry that would change how the bot under test runs.
_BOT_ENV_DROP = re.compile(r"^(Microsoft(App|OAuth).*|CARREFOUR_.*|DATABASE_URL|PORT)$")


def _missing_prerequisites() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("`node` on PATH")
    if not PLAYWRIGHT_CORE.is_dir():
        missing.append(f"{PLAYWRIGHT_CORE.relative_to(REPO)} (run `npm install`)")
    if not PLAYGROUND_BIN.exists():
        missing.append(f"{PLAYGROUND_BIN.relative_to(REPO)} (run `npm install`)")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (run `apt-get install chromium`)")
    return missing


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Service:
    """A subprocess in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def _start(name: str, command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Service:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole in stop()
        )
    return Service(name=name, process=process, log=log)


def _wait_until(what: str, timeout: float, service: Service, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if service.process.poll() is not None:
            raise AssertionError(
                f"{service.name} exited with code {service.process.returncode} "
                f"while waiting for {what}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def _carrefour_command() -> list[str]:
    script = Path(sys.executable).with_name("carrefour")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Started services; stopped (whole process groups) even when the test fails."""
    started: list[Service] = []
    yield started
    for service in reversed(started):
        service.stop()


def _save_and_print_logs(services: list[Service]) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for service in services:
        if service.log.exists():
            shutil.copyfile(service.log, OUTPUT / service.log.name)
        print(f"\n----- {service.name}: last lines of {service.log.name} -----\n{service.tail()}")


def test_help_card_in_french_then_english_in_the_playground(
    tmp_path: Path, services: list[Service]
) -> None:
    missing = _missing_prerequisites()
    if missing:
        reason = "e2e prerequisites missing: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        _chat_in_the_playground(tmp_path, services)
    except BaseException:
        _save_and_print_logs(services)
        raise


def _chat_in_the_playground(tmp_path: Path, services: list[Service]) -> None:

    # -- the bot: fresh SQLite database, unauthenticated dev mode -----------------------------
    bot_env = {k: v for k, v in os.environ.items() if not _BOT_ENV_DROP.match(k)}
    bot_env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'carrefour.db'}"
    bot_env["CARREFOUR_ENV"] = "development"
    bot_env["PYTHONUNBUFFERED"] = "1"
    upgrade = subprocess.run(
        [*_carrefour_command(), "db", "upgrade"],
        cwd=tmp_path,  # no developer .env is read
        env=bot_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, f"db upgrade failed:\n{upgrade.stdout}\n{upgrade.stderr}"

    bot_port = _free_port()
    bot = _start(
        "bot",
        [*_carrefour_command(), "serve", "--host", "127.0.0.1", "--port", str(bot_port)],
        cwd=tmp_path,
        env=bot_env,
        log=tmp_path / "bot.log",
    )
    services.append(bot)
    _wait_until(
        f"the bot's /healthz on port {bot_port}",
        BOT_START_TIMEOUT,
        bot,
        lambda: _http_ok(f"http://127.0.0.1:{bot_port}/healthz"),
    )

    # -- the Playground: a local Teams client --------------------------------------------------
    # It runs `xdg-open <ui-url>` on start and exits when that is missing: give it a no-op one.
    shim = tmp_path / "bin"
    shim.mkdir()
    xdg_open = shim / "xdg-open"
    xdg_open.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    xdg_open.chmod(0o755)
    playground_env = dict(os.environ)
    playground_env["PATH"] = f"{shim}{os.pathsep}{playground_env.get('PATH', '')}"

    playground = _start(
        "playground",
        [
            str(PLAYGROUND_BIN),
            "start",
            "--app-endpoint",
            f"http://127.0.0.1:{bot_port}/api/messages",
            "--channel-id",
            "msteams",
            "--port",
            str(_free_port()),
            "--disable-telemetry",
        ],
        cwd=tmp_path,  # it looks for .m365agentsplayground.yml in its working directory
        env=playground_env,
        log=tmp_path / "playground.log",
    )
    services.append(playground)

    # It falls back to a random port when the asked one is taken: read the one it reports.
    listening: list[int] = []

    def ui_answers() -> bool:
        if not listening:
            found = re.search(r"Listening on (\d+)", playground.tail(200))
            if found is None:
                return False
            listening.append(int(found.group(1)))
        return _http_ok(f"http://127.0.0.1:{listening[0]}/")

    _wait_until("the Playground web UI", PLAYGROUND_START_TIMEOUT, playground, ui_answers)
    ui_url = f"http://127.0.0.1:{listening[0]}/"

    # -- a person in a browser -----------------------------------------------------------------
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for stale in ("help-fr.png", "help-en.png", "failure.png", "bot.log", "playground.log"):
        (OUTPUT / stale).unlink(missing_ok=True)
    node = shutil.which("node")
    assert node is not None
    try:
        chat = subprocess.run(
            [node, str(CHAT_SCRIPT), ui_url, str(OUTPUT), json.dumps(STEPS)],
            cwd=REPO,
            env={**os.environ, "CHROMIUM_PATH": str(CHROMIUM)},
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(
            f"the browser script did not finish in {BROWSER_TIMEOUT:.0f} s:\n{error.stderr!r}"
        ) from error
    assert chat.returncode == 0, (
        f"browser script failed (exit {chat.returncode}):\n{chat.stderr}\n{chat.stdout[-2000:]}"
    )
    seen: dict[str, Any] = json.loads(chat.stdout.strip().splitlines()[-1])
    assert seen["ok"] is True

    # -- what the user saw ---------------------------------------------------------------------
    by_message = {step["send"]: step["replies"] for step in seen["steps"]}

    def the_card(sent: str, title: str) -> dict[str, Any]:
        cards = [card for reply in by_message[sent] for card in reply["cards"]]
        matching = [card for card in cards if card["text"].startswith(title)]
        assert matching, f"after {sent!r}, no card titled {title!r}; cards seen: {cards}"
        card: dict[str, Any] = matching[0]
        return card

    french = the_card("aide", FR_TITLE)
    assert FR_BUTTON in french["buttons"], french
    assert EN_TITLE not in french["text"]

    english = the_card("help", EN_TITLE)
    assert EN_BUTTON in english["buttons"], english
    assert FR_TITLE not in english["text"]

    for name in ("help-fr.png", "help-en.png"):
        shot = OUTPUT / name
        assert shot.is_file(), f"missing screenshot {shot}"
        assert shot.stat().st_size > 10_000, f"screenshot {shot} looks empty"
    print(f"\nscreenshots: {OUTPUT / 'help-fr.png'} {OUTPUT / 'help-en.png'}")
