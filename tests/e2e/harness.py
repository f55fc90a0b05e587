"""Shared machinery of the real-client end-to-end tests: the bot (`carrefour serve` on a fresh
SQLite database, unauthenticated dev mode), the Microsoft 365 Agents Playground in front of it,
and a person in headless Chromium (playground_chat.mjs) typing in its Personal Chat or posting
in a team channel, clicking card buttons and filling card inputs.

    with Stack(tmp_path, "join") as stack:
        stack.cli("community", "create", "--name", "…")   # optional: seed before the bot starts
        stack.start()                                      # as FACILITATOR, or start(as_person=…)
        seen = stack.chat(steps, screenshots=["help-fr.png"])
        seen.card("aide", "Carrefour — vos communautés de pratique")
        stack.switch_person(MEMBER)                        # the same team, someone else

The Playground knows one signed-in person per run, named in the config file the harness writes
(M365_AGENTS_PLAYGROUND_CONFIG_PATH): the same tenant, team and channel for every person, so the
bot sees the same channel whoever posts in it. Being someone else restarts the Playground (the
bot and its database stay); what the previous person saw on screen is gone with it.

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


# -- who is in the Playground ---------------------------------------------------------------------

TENANT_ID = "5f8c2a9e-3d1b-4c7a-9e2f-0a6b8d4c1e37"
BOT_ID = "28:carrefour-e2e-bot"
BOT_NAME = "Carrefour"  # what the @mention menu lists
TEAM_ID = "19:equipe-soins-palliatifs@thread.tacv2"  # the team's General channel has its id
TEAM_NAME = "Équipe soins palliatifs"
CHANNEL_ID = "19:cdp-soins-palliatifs@thread.tacv2"
CHANNEL_NAME = "CdeP Soins palliatifs"


NBSP = "\u00a0"  # French typography: before « : ; ? ! », inside « guillemets », after a number
DEMO = "CdeP Soins palliatifs Montérégie"  # community 1 of `carrefour demo seed`


def mention(text: str, **step: Any) -> dict[str, Any]:
    """A channel post that @mentions the bot, picked in the compose box's mention menu."""
    return {"send": text, "mention": BOT_NAME, **step}


def quoted(text: str) -> str:
    """« text », as the bot's French quotes it."""
    return f"«{NBSP}{text}{NBSP}»"


@dataclass(frozen=True)
class Person:
    """Someone signed in to the Playground (its config's currentUser)."""

    key: str  # a short id: user id "29:<key>", personal chat "a:<key>"
    given_name: str
    surname: str
    number: int  # makes the Entra object id unique

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def user_id(self) -> str:
        return f"29:{self.key}"

    def account(self) -> dict[str, str]:
        email = f"{self.key}@cisss-monteregie.example"
        return {
            "id": self.user_id,
            "name": self.name,
            "userPrincipleName": email,  # sic: the Playground's schema spells it so
            "aadObjectId": f"00000000-0000-4000-8000-{self.number:012d}",
            "givenName": self.given_name,
            "surname": self.surname,
            "email": email,
        }


# The Playground's config lists exactly five people besides the one signed in: the team's
# members, whom the mention menu offers and any of whom a test can be.
FACILITATOR = Person("nadia-tremblay", "Nadia", "Tremblay", 1)
MEMBER = Person("lea-gagnon", "Léa", "Gagnon", 2)
NEWCOMER = Person("karim-belanger", "Karim", "Bélanger", 3)
COORDINATOR = Person("sophie-lavoie", "Sophie", "Lavoie", 4)
SECOND_MEMBER = Person("marc-ouellet", "Marc", "Ouellet", 5)
MENTOR = Person("julie-cote", "Julie", "Côté", 6)
PEOPLE = (FACILITATOR, MEMBER, NEWCOMER, COORDINATOR, SECOND_MEMBER, MENTOR)


def playground_config(current: Person) -> dict[str, Any]:
    """The Playground's config (schema 0.1.1: exactly five other users, one team with one channel
    besides General). JSON is valid YAML, which the Playground reads."""
    others = [person.account() for person in PEOPLE if person != current]
    return {
        "version": "0.1.1",
        "tenantId": TENANT_ID,
        "bot": {"id": BOT_ID, "name": BOT_NAME},
        "currentUser": current.account(),
        "users": others[:5],
        "personalChat": {"id": f"a:{current.key}"},
        "groupChat": {"id": "19:groupe-de-codeveloppement@thread.v2", "name": "Codéveloppement"},
        "team": {
            "id": TEAM_ID,
            "name": TEAM_NAME,
            "aadGroupId": "00000000-0000-4000-9000-000000000031",
            "channels": [{"id": CHANNEL_ID, "name": CHANNEL_NAME}],
        },
    }


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
    """What playground_chat.mjs reported: the bot's messages, new or updated, after each step.
    A step is named by its label: the text it sent, "click:<title>", or its explicit "label"."""

    steps: list[dict[str, Any]]

    def replies(self, sent: str) -> list[dict[str, Any]]:
        """Bot messages shown after the step `sent` (the last one so named)."""
        for step in reversed(self.steps):
            if step["label"] == sent:
                replies: list[dict[str, Any]] = step["replies"]
                return replies
        raise AssertionError(f"no step {sent!r}; steps: {[s['label'] for s in self.steps]}")

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

    def card_showing(self, sent: str, text: str) -> dict[str, Any]:
        """The first card shown after `sent` whose text contains `text`."""
        cards = [card for reply in self.replies(sent) for card in reply["cards"]]
        matching = [card for card in cards if text in card["text"]]
        assert matching, f"after {sent!r}, no card showing {text!r}; cards seen: {cards}"
        card: dict[str, Any] = matching[0]
        return card


# -- the whole stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    """The bot, the Playground and a browser, for one test; a context manager that stops every
    process it started and, when the test fails, prints the services' logs and leaves them in
    OUTPUT as <name>-bot.log, <name>-playground.log (<name>-playground-2.log… after
    switch_person), with the browser's <name>-failure.png."""

    tmp_path: Path
    name: str
    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(init=False)
    ui_url: str = ""
    person: Person = FACILITATOR
    _bot_port: int = 0
    _playground: Service | None = None
    _playground_port: int = 0
    _runs: int = 0  # Playground starts so far

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not _BOT_ENV_DROP.match(k)}
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{self.tmp_path / 'carrefour.db'}"
        env["CARREFOUR_ENV"] = "development"
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env

    def __enter__(self) -> Stack:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for stale in ("failure.png", "bot.log", "playground*.log"):
            for path in OUTPUT.glob(f"{self.name}-{stale}"):
                path.unlink(missing_ok=True)
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
        for log in sorted(self.tmp_path.glob("*.log")):
            shutil.copyfile(log, OUTPUT / f"{self.name}-{log.name}")
        for service in self.services:
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

    def seed_command(self, module: str, *args: str) -> list[str]:
        """`python -m tests.e2e.<module> <args>`: a seed script of tests/e2e/."""
        return [sys.executable, "-m", f"tests.e2e.{module}", *args]

    def seed_env(self) -> dict[str, str]:
        """The bot's environment (its database), with this checkout importable from anywhere."""
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        return {**self.env, "PYTHONPATH": path}

    def seed(self, module: str, *args: str, in_bot_directory: bool = False) -> None:
        """Run a seed script against the test's database, to its end. `in_bot_directory`: in
        the bot's working directory, where its key files are (ballots keyed as the bot keys
        them)."""
        done = subprocess.run(
            self.seed_command(module, *args),
            cwd=self.tmp_path if in_bot_directory else REPO,
            env=self.seed_env(),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{module} failed:\n{done.stdout}\n{done.stderr}"

    def start(self, *, as_person: Person = FACILITATOR) -> str:
        """Start the bot then the Playground in front of it, signed in as `as_person`; the
        Playground's web UI address."""
        self._bot_port = free_port()
        bot = start_service(
            "bot",
            [*carrefour_command(), "serve", "--host", "127.0.0.1", "--port", str(self._bot_port)],
            cwd=self.tmp_path,
            env=self.env,
            log=self.tmp_path / "bot.log",
        )
        self.services.append(bot)
        wait_until(
            f"the bot's /healthz on port {self._bot_port}",
            BOT_START_TIMEOUT,
            bot,
            lambda: http_ok(f"http://127.0.0.1:{self._bot_port}/healthz"),
        )
        return self._start_playground(as_person, port=free_port())

    def switch_person(self, person: Person) -> str:
        """Restart the Playground signed in as `person`, on the same port when it is still
        free (the bot has that address for its conversations); the bot keeps running."""
        assert self._playground is not None, "start() the stack first"
        self._playground.stop()
        self.services.remove(self._playground)
        return self._start_playground(person, port=self._playground_port)

    def _start_playground(self, person: Person, *, port: int) -> str:
        # It runs `xdg-open <ui-url>` on start and exits when that is missing: a no-op one.
        shim = self.tmp_path / "bin"
        shim.mkdir(exist_ok=True)
        xdg_open = shim / "xdg-open"
        xdg_open.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        xdg_open.chmod(0o755)
        config = self.tmp_path / f"playground-{person.key}.yml"
        config.write_text(json.dumps(playground_config(person), ensure_ascii=False), "utf-8")
        playground_env = dict(os.environ)
        playground_env["PATH"] = f"{shim}{os.pathsep}{playground_env.get('PATH', '')}"
        playground_env["M365_AGENTS_PLAYGROUND_CONFIG_PATH"] = str(config)
        playground = start_service(
            "playground",
            [
                str(PLAYGROUND_BIN),
                "start",
                "--app-endpoint",
                f"http://127.0.0.1:{self._bot_port}/api/messages",
                "--channel-id",
                "msteams",
                "--port",
                str(port),
                "--disable-telemetry",
            ],
            cwd=self.tmp_path,
            env=playground_env,
            # One log per run, all kept for a failure report.
            log=self.tmp_path
            / ("playground.log" if not self._runs else f"playground-{self._runs + 1}.log"),
        )
        self.services.append(playground)
        self._playground = playground
        self._runs += 1
        self.person = person

        # It falls back to a random port when the asked one is taken: read the one it reports.
        listening: list[int] = []

        def ui_answers() -> bool:
            if not listening:
                found = re.search(r"Listening on (\d+)", playground.tail(200))
                if found is None:
                    return False
                listening.append(int(found.group(1)))
            return http_ok(f"http://127.0.0.1:{listening[0]}/")

        started = time.monotonic()
        wait_until("the Playground web UI", PLAYGROUND_START_TIMEOUT, playground, ui_answers)
        print(f"\n{self.name}: Playground up in {time.monotonic() - started:.1f}s as {person.name}")
        self._playground_port = listening[0]
        self.ui_url = f"http://127.0.0.1:{listening[0]}/"
        return self.ui_url

    def chat(self, steps: Sequence[dict[str, Any]], *, screenshots: Iterable[str] = ()) -> Seen:
        """Open the Playground as the current person and play `steps` (see playground_chat.mjs:
        "open" a conversation, "send" a message, "click" a card button after "fill"ing its
        inputs); the screenshots it must have written are checked, stale copies removed first."""
        assert self.ui_url, "start() the stack first"
        expected = [OUTPUT / name for name in screenshots]
        for shot in expected:
            shot.unlink(missing_ok=True)
        node = shutil.which("node")
        assert node is not None
        try:
            done = subprocess.run(
                [
                    node,
                    str(CHAT_SCRIPT),
                    self.ui_url,
                    str(OUTPUT),
                    json.dumps({"bot": BOT_NAME, "steps": list(steps)}),
                ],
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
        timings = ", ".join(f"{s['label']!r} {s['elapsedMs'] / 1000:.1f}s" for s in report["steps"])
        print(
            f"\n{self.name} ({self.person.name}): browser ready in "
            f"{report['startupMs'] / 1000:.1f}s; reply times: {timings}"
        )
        if expected:
            print(f"{self.name}: screenshots: " + " ".join(str(shot) for shot in expected))
        return Seen(steps=report["steps"])
