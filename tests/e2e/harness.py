"""Shared machinery of the real-client end-to-end tests: the bot (`carrefour serve` on a fresh
SQLite database, unauthenticated dev mode), the Microsoft 365 Agents Playground in front of it,
and a person in headless Chromium (playground_chat.mjs) typing in its Personal Chat.

    with Stack(tmp_path, "join") as stack:
        stack.cli("community", "create", "--name", "…")   # optional: seed before the bot starts
        stack.start()
        seen = stack.chat(steps, screenshots=["help-fr.png"])
        seen.card("aide", "Carrefour — vos communautés de pratique")

Needs Node, the npm dev tools (`npm install`: @microsoft/m365agentsplayground, playwright-core)
and Debian's Chromium (`apt-get install chromium`); `require_prerequisites()` skips the test
when they are missing, unless CI is set (then it fails). Screenshots, and on failure the bot and
Playground logs, land in test-output/e2e/.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

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
CLI_TIMEOUT = 120.0

# Settings the developer's shell may carry that would change how the bot under test runs.
_BOT_ENV_DROP = re.compile(r"^(Microsoft(App|OAuth).*|CARREFOUR_.*|DATABASE_URL|PORT)$")


# -- prerequisites ------------------------------------------------------------------------------


def missing_prerequisites() -> list[str]:
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


def require_prerequisites() -> None:
    """Skip the calling test when Node, the npm tools or Chromium are missing (fail under CI)."""
    missing = missing_prerequisites()
    if missing:
        reason = "e2e prerequisites missing: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


# -- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_ok(url: str) -> bool:
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


def start_service(
    name: str, command: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> Service:
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


def wait_until(what: str, timeout: float, service: Service, condition: Callable[[], bool]) -> None:
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


def carrefour_command() -> list[str]:
    script = Path(sys.executable).with_name("carrefour")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


# -- what the person saw ----------------------------------------------------------------------


@dataclass
class Seen:
    """What playground_chat.mjs reported: the bot's replies after each message sent."""

    steps: list[dict[str, Any]]

    def replies(self, sent: str) -> list[dict[str, Any]]:
        """Bot messages shown after `sent` (the last step that sent it)."""
        for step in reversed(self.steps):
            if step["send"] == sent:
                replies: list[dict[str, Any]] = step["replies"]
                return replies
        raise AssertionError(f"no step sent {sent!r}; sent: {[s['send'] for s in self.steps]}")

    def text(self, sent: str, containing: str) -> str:
        """The text of the first reply to `sent` that contains `containing`."""
        texts = [reply["text"] for reply in self.replies(sent)]
        matching = [text for text in texts if containing in text]
        assert matching, f"after {sent!r}, no reply containing {containing!r}; replies: {texts}"
        text: str = matching[0]
        return text

    def card(self, sent: str, title: str) -> dict[str, Any]:
        """The first card shown after `sent` whose text starts with `title`."""
        cards = [card for reply in self.replies(sent) for card in reply["cards"]]
        matching = [card for card in cards if card["text"].startswith(title)]
        assert matching, f"after {sent!r}, no card titled {title!r}; cards seen: {cards}"
        card: dict[str, Any] = matching[0]
        return card


# -- the whole stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    """The bot, the Playground and a browser, for one test; a context manager that stops every
    process it started and, when the test fails, prints the services' logs and leaves them in
    OUTPUT as <name>-bot.log, <name>-playground.log, with the browser's <name>-failure.png."""

    tmp_path: Path
    name: str
    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(init=False)
    ui_url: str = ""

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not _BOT_ENV_DROP.match(k)}
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{self.tmp_path / 'carrefour.db'}"
        env["CARREFOUR_ENV"] = "development"
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env

    def __enter__(self) -> Stack:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for stale in ("failure.png", "bot.log", "playground.log"):
            (OUTPUT / f"{self.name}-{stale}").unlink(missing_ok=True)
        self.cli("db", "upgrade")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is not None and not issubclass(kind, pytest.skip.Exception):
                self._save_and_print_logs()
        finally:
            for service in reversed(self.services):
                service.stop()

    def _save_and_print_logs(self) -> None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            if service.log.exists():
                shutil.copyfile(service.log, OUTPUT / f"{self.name}-{service.log.name}")
            print(
                f"\n----- {service.name}: last lines of {service.log.name} -----\n{service.tail()}"
            )

    def cli(self, *args: str) -> str:
        """Run `carrefour <args>` against the test's database; its stdout."""
        done = subprocess.run(
            [*carrefour_command(), *args],
            cwd=self.tmp_path,  # no developer .env is read
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, (
            f"`carrefour {' '.join(args[:2])}` failed:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def start(self) -> str:
        """Start the bot then the Playground in front of it; the Playground's web UI address."""
        bot_port = free_port()
        bot = start_service(
            "bot",
            [*carrefour_command(), "serve", "--host", "127.0.0.1", "--port", str(bot_port)],
            cwd=self.tmp_path,
            env=self.env,
            log=self.tmp_path / "bot.log",
        )
        self.services.append(bot)
        wait_until(
            f"the bot's /healthz on port {bot_port}",
            BOT_START_TIMEOUT,
            bot,
            lambda: http_ok(f"http://127.0.0.1:{bot_port}/healthz"),
        )

        # It runs `xdg-open <ui-url>` on start and exits when that is missing: a no-op one.
        shim = self.tmp_path / "bin"
        shim.mkdir(exist_ok=True)
        xdg_open = shim / "xdg-open"
        xdg_open.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        xdg_open.chmod(0o755)
        playground_env = dict(os.environ)
        playground_env["PATH"] = f"{shim}{os.pathsep}{playground_env.get('PATH', '')}"
        playground = start_service(
            "playground",
            [
                str(PLAYGROUND_BIN),
                "start",
                "--app-endpoint",
                f"http://127.0.0.1:{bot_port}/api/messages",
                "--channel-id",
                "msteams",
                "--port",
                str(free_port()),
                "--disable-telemetry",
            ],
            cwd=self.tmp_path,  # it looks for .m365agentsplayground.yml in its working directory
            env=playground_env,
            log=self.tmp_path / "playground.log",
        )
        self.services.append(playground)

        # It falls back to a random port when the asked one is taken: read the one it reports.
        listening: list[int] = []

        def ui_answers() -> bool:
            if not listening:
                found = re.search(r"Listening on (\d+)", playground.tail(200))
                if found is None:
                    return False
                listening.append(int(found.group(1)))
            return http_ok(f"http://127.0.0.1:{listening[0]}/")

        wait_until("the Playground web UI", PLAYGROUND_START_TIMEOUT, playground, ui_answers)
        self.ui_url = f"http://127.0.0.1:{listening[0]}/"
        return self.ui_url

    def chat(self, steps: Sequence[dict[str, Any]], *, screenshots: Iterable[str] = ()) -> Seen:
        """Open the Personal Chat and play `steps` (see playground_chat.mjs); the screenshots
        it must have written are checked, stale copies removed first."""
        assert self.ui_url, "start() the stack first"
        expected = [OUTPUT / name for name in screenshots]
        for shot in expected:
            shot.unlink(missing_ok=True)
        node = shutil.which("node")
        assert node is not None
        try:
            done = subprocess.run(
                [node, str(CHAT_SCRIPT), self.ui_url, str(OUTPUT), json.dumps(list(steps))],
                cwd=REPO,
                env={
                    **os.environ,
                    "CHROMIUM_PATH": str(CHROMIUM),
                    "FAILURE_SCREENSHOT": f"{self.name}-failure.png",
                },
                capture_output=True,
                text=True,
                timeout=BROWSER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise AssertionError(
                f"the browser script did not finish in {BROWSER_TIMEOUT:.0f} s:\n{error.stderr!r}"
            ) from error
        assert done.returncode == 0, (
            f"browser script failed (exit {done.returncode}):\n{done.stderr}\n{done.stdout[-2000:]}"
        )
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["ok"] is True
        for shot in expected:
            assert shot.is_file(), f"missing screenshot {shot}"
            assert shot.stat().st_size > 10_000, f"screenshot {shot} looks empty"
        timings = ", ".join(f"{s['send']!r} {s['elapsedMs'] / 1000:.1f}s" for s in report["steps"])
        print(f"\n{self.name}: reply times: {timings}")
        if expected:
            print(f"{self.name}: screenshots: " + " ".join(str(shot) for shot in expected))
        return Seen(steps=report["steps"])
