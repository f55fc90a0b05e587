"""Turn benchmark: N concurrent conversations in the middle of a dialog, over HTTP.

Each conversation posts, one after the other, `langue` (starts the language dialog: a
ChoicePrompt saved in the database) then its answer, repeatedly (`langue` → `English` → `langue`
→ `Français` …), every turn a distinct activity id, to the real bot (`create_app`, scheduler
off) served by aiohttp on a real port. Every turn reads and writes dialog state, claims the
activity id and records the person and conversation; the bot replies to a fake Bot Connector
inside the turn, so the measured HTTP latency includes the reply.

Throughput comes from closed loops (each conversation posts its next turn when the answer
came), in rounds alternating with a minimal echo bot on the same SDK, the Microsoft 365 Agents
SDK with its plain defaults (ActivityHandler + the aiohttp CloudAdapter, anonymous, with the
SDK's own connector-client factory + ConversationState on MemoryStorage, same aiohttp hosting,
same fake connector): our throughput is printed as a ratio of it. The echo bot runs after
`create_app` in this process, so anything create_app changes process-wide in the SDK applies to
both bots alike and the ratio is the cost of our own code. Latency comes from a paced load (a
turn every `--pace-s` seconds per conversation), where it is not just the closed loops' queue.
Last, the resident memory of an idle `carrefour serve` on a fresh SQLite file is read from
/proc.

    .venv/bin/python -m bench.turns [--db sqlite|postgresql|both] [--conversations 10,50,200]
                                    [--turns N] [--pace-s S] [--paced-seconds S] [--skip-memory]

`--turns` is measured turns per conversation under the closed loops (default: about 2,000 per
run, at least 2 each), after one unmeasured first-contact turn per conversation.

Everything but the idle bot runs in this one process and event loop (load generator, fake
connector, bot): the fixed cost of the first two weighs on both bots alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import socket
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    ActivityHandler,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ConnectionManager,
    ConversationState,
    MemoryStorage,
    MessageFactory,
    TurnContext,
)

from bot.app import create_app
from cards.i18n import translator
from tests.activities import message
from tests.conftest import make_settings
from tests.databases import fresh_postgres, fresh_sqlite, postgres_available
from tests.fake_connector import FakeConnector

logger = logging.getLogger("bench.turns")

# One conversation's turns, cycled: start the dialog, answer it, start it, answer otherwise.
SCRIPT = ("langue", "English", "langue", "Français")
WARMUP_TURNS = 1  # per conversation, not measured: first contact (person, conversation rows)
TURNS_PER_RUN = 2000  # measured turns per run when --turns is not given (at least 2 each)
# The paced load: each conversation takes a turn every PACE_S seconds (faster than anyone
# answers a prompt), for PACED_SECONDS; latency targets are read there, not at saturation,
# where closed loops only measure their own queue (N conversations / throughput).
PACE_S = 1.0
# Echo and Carrefour take turns this many times, each with a third of the turns.
ROUNDS = 3
PACED_SECONDS = 10.0
# What a turn that went well answers: the Agents SDK's adapter says 202 Accepted to a message
# (its replies went to the connector), botbuilder said 200 or 201.
ANSWERED = frozenset({200, 201, 202})
# Issue 14's targets, read on PostgreSQL with 50 conversations (and the idle bot on SQLite).
TARGET_RATIO = 0.8
TARGET_P99_MS = 60.0
TARGET_RSS_MB = 130.0
IDLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Load:
    turns: int
    elapsed_s: float
    cpu_s: float  # this process, all threads, over the measured turns
    latencies_ms: list[float]
    failed_requests: int
    replies: int
    prompts: int
    saved: int

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.elapsed_s if self.elapsed_s > 0 else math.inf

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the request latencies."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class TurnsResult:
    bench: str
    db: str
    conversations: int
    turns_per_s: float
    echo_turns_per_s: float
    ratio: float
    p50_ms: float  # paced load: latency as users feel it
    p99_ms: float
    paced_turns_per_s: float
    saturated_p50_ms: float  # closed loops: queueing at full throughput
    saturated_p99_ms: float


@dataclass(frozen=True, slots=True)
class MemoryResult:
    bench: str
    rss_mb: float


# -- the reference: a minimal echo bot on the same SDK --------------------------------------


class EchoBot(ActivityHandler):
    """Echoes the text, keeping a per-conversation counter in (memory) conversation state.

    One ConversationState for all turns, as the SDK's samples have it. The SDK's AgentState
    keeps the loaded state on the instance (`_cached_state`) and `save()` writes whatever that
    holds, so with concurrent turns a counter may be written under another conversation's key.
    That is the SDK's default behaviour, kept here on purpose: the reference costs what the
    SDK's defaults cost (Carrefour's own state store reads the turn's own cache)."""

    def __init__(self, state: ConversationState) -> None:
        self._state = state
        self._count = state.create_property("count")

    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        await super().on_turn(turn_context)
        await self._state.save(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        count = await self._count.get(turn_context, lambda: 0)
        await self._count.set(turn_context, (count if isinstance(count, int) else 0) + 1)
        await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))


def _anonymous_provider(_configuration: AgentAuthConfiguration) -> AccessTokenProviderBase:
    return AnonymousTokenProvider()


def echo_app() -> web.Application:
    """The SDK's simplest anonymous setup: no JWT middleware (requests carry no Authorization
    header, so the turn's identity allows anonymous calls), a connection manager whose one
    connection never asks for a token, and the CloudAdapter's default connector-client factory
    (`RestChannelServiceClientFactory`: a new connector client and user-token client, each
    with its own aiohttp session, for every turn)."""
    connections = ConnectionManager(
        _anonymous_provider, {"SERVICE_CONNECTION": AgentAuthConfiguration()}
    )
    adapter = CloudAdapter(connection_manager=connections)
    bot = EchoBot(ConversationState(MemoryStorage()))

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse | None = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


# -- serving and driving ---------------------------------------------------------------------


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free local port (startup and cleanup included); yields its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def _activity(*, tag: str, conversation: int, turn: int, service_url: str) -> dict[str, Any]:
    return message(
        SCRIPT[turn % len(SCRIPT)],
        service_url=service_url,
        sender={
            "id": f"29:{tag}-{conversation}",
            "name": f"Bench {conversation}",
            "aadObjectId": f"00000000-0000-0000-0000-{conversation:012d}",
        },
        conversation_id=f"a:{tag}-{conversation}",
        activity_id=f"{tag}-{conversation}-{turn}",
        locale="fr-CA",
    )


async def drive(
    base_url: str,
    connector: FakeConnector,
    *,
    conversations: int,
    turns: int,
    pace_s: float | None = None,
) -> Load:
    """Warm up, then run `conversations` concurrent loops of `turns` turns each: closed loops
    (the next turn as soon as the answer came) or, with `pace_s`, one turn every `pace_s`
    seconds per conversation (the next at once if an answer took longer), starts spread
    over the first period."""
    tag = uuid.uuid4().hex[:8]
    url = f"{base_url}/api/messages"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def one_conversation(index: int, first: int, count: int, measured: bool) -> None:
        begun = time.perf_counter()
        if measured and pace_s is not None:
            begun += pace_s * index / conversations
            await asyncio.sleep(max(0.0, begun - time.perf_counter()))
        for number, turn in enumerate(range(first, first + count)):
            if measured and pace_s is not None:
                await asyncio.sleep(max(0.0, begun + number * pace_s - time.perf_counter()))
            body = _activity(tag=tag, conversation=index, turn=turn, service_url=connector.url)
            started = time.perf_counter()
            async with session.post(url, json=body) as response:
                await response.read()
                status = response.status
            if measured:
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] += 1

    async with session:
        await asyncio.gather(
            *(one_conversation(i, 0, WARMUP_TURNS, False) for i in range(conversations))
        )
        # Only this load's replies are checked, and none is kept once counted: kept, the
        # record grows with every reply of the run and each full collection of the garbage
        # collector scans it (measured: over ten alternating rounds of 700 turns, both bots
        # about 20 % slower by the last).
        connector.received.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(
            *(one_conversation(i, WARMUP_TURNS, turns, True) for i in range(conversations))
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    # What each measured turn answered: a prompt card after `langue`, "saved" after an answer.
    saved_texts = {translator(locale)("language.saved") for locale in ("en", "fr-CA")}
    replies = [r.body for r in connector.received]
    connector.received.clear()
    prompts = sum(
        1
        for body in replies
        if any(
            a.get("contentType") == "application/vnd.microsoft.card.hero"
            for a in body.get("attachments") or []
        )
    )
    saved = sum(1 for body in replies if body.get("text") in saved_texts)
    return Load(
        turns=conversations * turns,
        elapsed_s=elapsed,
        cpu_s=cpu,
        latencies_ms=latencies,
        failed_requests=sum(n for status, n in statuses.items() if status not in ANSWERED),
        replies=len(replies),
        prompts=prompts,
        saved=saved,
    )


def _combined(loads: list[Load]) -> Load:
    return Load(
        turns=sum(load.turns for load in loads),
        elapsed_s=sum(load.elapsed_s for load in loads),
        cpu_s=sum(load.cpu_s for load in loads),
        latencies_ms=[ms for load in loads for ms in load.latencies_ms],
        failed_requests=sum(load.failed_requests for load in loads),
        replies=sum(load.replies for load in loads),
        prompts=sum(load.prompts for load in loads),
        saved=sum(load.saved for load in loads),
    )


async def measure(
    app: web.Application,
    *,
    conversations: int,
    turns: int,
    pace_s: float,
    paced_seconds: float = PACED_SECONDS,
) -> tuple[Load, Load, Load]:
    """The echo bot and `app` under the same closed-loop load, in alternating rounds (a drift
    in the machine's speed then weighs on both alike), then `app` under the paced load."""
    per_round = max(2, 2 * round(turns / ROUNDS / 2))
    connector = FakeConnector()
    await connector.start()
    try:
        async with serving(echo_app()) as echo_url, serving(app) as our_url:
            echo_loads: list[Load] = []
            our_loads: list[Load] = []
            for _ in range(ROUNDS):
                for url, loads in ((echo_url, echo_loads), (our_url, our_loads)):
                    loads.append(
                        await drive(url, connector, conversations=conversations, turns=per_round)
                    )
            paced = await drive(
                our_url,
                connector,
                conversations=conversations,
                turns=max(2, 2 * round(paced_seconds / pace_s / 2)),
                pace_s=pace_s,
            )
        return _combined(echo_loads), _combined(our_loads), paced
    finally:
        await connector.close()


def _check(label: str, load: Load) -> list[str]:
    """Every `langue` must have got the prompt card and every answer the confirmation."""
    expected = load.turns // 2
    if load.failed_requests or load.prompts != expected or load.saved != expected:
        return [
            f"{label} carrefour: {load.failed_requests} failed requests, {load.replies} "
            f"replies, {load.prompts} prompts and {load.saved} confirmations "
            f"(expected {expected} each)"
        ]
    return []


def _describe(name: str, load: Load) -> str:
    return (
        f"{name}: {load.turns} turns in {load.elapsed_s:.2f} s = {load.turns_per_s:.1f} turns/s, "
        f"p50 {load.percentile(0.5):.1f} ms, p99 {load.percentile(0.99):.1f} ms, "
        f"max {max(load.latencies_ms, default=math.nan):.1f} ms; "
        f"CPU {load.cpu_s * 1000 / load.turns:.1f} ms a turn (bot, connector and load)"
    )


async def run_once(
    kind: str,
    conversations: int,
    turns: int | None,
    directory: Path,
    pace_s: float,
    paced_seconds: float = PACED_SECONDS,
) -> tuple[TurnsResult, list[str]]:
    """One database and conversation count; also what went wrong (wrong or failed answers)."""
    turns = turns if turns is not None else default_turns(conversations)
    label = f"[{kind} × {conversations}]"
    problems: list[str] = []
    database = fresh_postgres() if kind == "postgresql" else fresh_sqlite(directory)
    async with database as url:
        # Built before the echo runs: whatever create_app changes process-wide in the SDK
        # applies to both bots alike.
        app = create_app(make_settings(url))
        echo, load, paced = await measure(
            app,
            conversations=conversations,
            turns=turns,
            pace_s=pace_s,
            paced_seconds=paced_seconds,
        )
    print(f"{label} {_describe('echo', echo)}", flush=True)
    if echo.failed_requests or echo.replies != echo.turns:
        problems.append(
            f"{label} echo: {echo.failed_requests} failed requests, {echo.replies} replies "
            f"(expected {echo.turns})"
        )
    print(f"{label} {_describe('carrefour', load)}", flush=True)
    print(
        f"{label} {_describe(f'carrefour paced (a turn every {pace_s:g} s each)', paced)}",
        flush=True,
    )
    problems += _check(label, load) + _check(f"{label} paced", paced)
    for problem in problems:
        print(f"WRONG: {problem}", flush=True)
    ratio = load.turns_per_s / echo.turns_per_s
    # CPU per turn moves less than throughput when other work shares the machine.
    cpu_ratio = (echo.cpu_s / echo.turns) / (load.cpu_s / load.turns)
    print(
        f"{label} ratio {ratio:.3f} (by CPU per turn {cpu_ratio:.3f}); "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    return TurnsResult(
        bench="turns",
        db=kind,
        conversations=conversations,
        turns_per_s=round(load.turns_per_s, 1),
        echo_turns_per_s=round(echo.turns_per_s, 1),
        ratio=round(ratio, 3),
        p50_ms=round(paced.percentile(0.5), 1),
        p99_ms=round(paced.percentile(0.99), 1),
        paced_turns_per_s=round(paced.turns_per_s, 1),
        saturated_p50_ms=round(load.percentile(0.5), 1),
        saturated_p99_ms=round(load.percentile(0.99), 1),
    ), problems


# -- idle memory -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


async def idle_memory(directory: Path) -> MemoryResult:
    """RSS of `carrefour serve` (scheduler on) on a fresh SQLite file, a few seconds idle."""
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARREFOUR_", "Microsoft", "DATABASE_URL", "PORT"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{directory / 'idle.db'}",
        CARREFOUR_ENV="development",
        CARREFOUR_LOG_LEVEL="WARNING",
    )
    # From the temporary directory: no .env of the working tree is read.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=directory,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        started = time.monotonic()
        async with aiohttp.ClientSession() as client:
            while True:
                if process.returncode is not None:
                    stderr = await process.stderr.read() if process.stderr else b""
                    raise RuntimeError(f"carrefour serve exited: {stderr.decode()[-2000:]}")
                try:
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() - started > 60:
                    raise RuntimeError("carrefour serve did not answer /healthz within 60 s")
                await asyncio.sleep(0.1)
        ready = time.monotonic() - started
        await asyncio.sleep(IDLE_SECONDS)
        rss_kb = _status_kb(process.pid, "VmRSS")
        peak_kb = _status_kb(process.pid, "VmHWM")
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
    print(
        f"[idle] carrefour serve answered /healthz after {ready:.1f} s; after {IDLE_SECONDS:g} s "
        f"idle: RSS {rss_kb / 1024:.1f} MB (peak {peak_kb / 1024:.1f} MB)",
        flush=True,
    )
    return MemoryResult(bench="idle_memory", rss_mb=round(rss_kb / 1024, 1))


# -- main ------------------------------------------------------------------------------------


def default_turns(conversations: int) -> int:
    """About TURNS_PER_RUN turns in all, an even number per conversation, at least 2."""
    return max(2, 2 * round(TURNS_PER_RUN / conversations / 2))


async def main_async(
    databases: list[str],
    conversation_counts: list[int],
    turns: int | None,
    memory: bool,
    pace_s: float = PACE_S,
    paced_seconds: float = PACED_SECONDS,
) -> tuple[list[TurnsResult], MemoryResult | None, list[str]]:
    results: list[TurnsResult] = []
    problems: list[str] = []
    idle: MemoryResult | None = None
    with tempfile.TemporaryDirectory(prefix="carrefour-bench-") as directory:
        for kind in databases:
            if kind == "postgresql":
                reason = await postgres_available()
                if reason is not None:
                    print(f"[postgresql] skipped: {reason}", flush=True)
                    continue
            for conversations in conversation_counts:
                result, wrong = await run_once(
                    kind, conversations, turns, Path(directory), pace_s, paced_seconds
                )
                results.append(result)
                problems += wrong
        if memory:
            idle = await idle_memory(Path(directory))
    return results, idle, problems


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers separated by commas") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("expected positive numbers")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.turns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--conversations", type=_counts, default=[10, 50, 200])
    parser.add_argument(
        "--turns",
        type=int,
        default=None,
        help=f"measured turns per conversation (default: about {TURNS_PER_RUN} per run, "
        "at least 2 per conversation)",
    )
    parser.add_argument(
        "--pace-s",
        type=float,
        default=PACE_S,
        help=f"seconds between two turns of a conversation, paced load (default {PACE_S:g})",
    )
    parser.add_argument(
        "--paced-seconds",
        type=float,
        default=PACED_SECONDS,
        help=f"how long the paced load lasts (default {PACED_SECONDS:g}; longer: a p99 read "
        "from more turns, steadier on a shared machine)",
    )
    parser.add_argument("--skip-memory", action="store_true", help="skip the idle RSS probe")
    args = parser.parse_args(argv)
    if args.pace_s <= 0:
        parser.error("--pace-s must be positive")
    if args.paced_seconds <= 0:
        parser.error("--paced-seconds must be positive")
    if args.turns is not None and (args.turns < 2 or args.turns % 2):
        parser.error("--turns must be even and at least 2 (each dialog is asked and answered)")
    # SQLModel nags about session.execute() (used by storage/ on purpose), as pytest's filter does.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "aiohttp", "sqlalchemy", "microsoft_agents"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The SDK's default factory builds a user-token client for every anonymous turn of the echo
    # bot, and each warns that it has no app id: a log line a turn would weigh on the reference
    # (a deployed bot has an app id, and Carrefour builds that client once).
    logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(
        logging.ERROR
    )
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results, idle, problems = asyncio.run(
        main_async(
            databases,
            args.conversations,
            args.turns,
            not args.skip_memory,
            args.pace_s,
            args.paced_seconds,
        )
    )
    for result in results:
        print(json.dumps(asdict(result)), flush=True)
    if idle is not None:
        print(json.dumps(asdict(idle)), flush=True)
    missed = [
        f"{r.db} × {r.conversations}: ratio {r.ratio} < {TARGET_RATIO}"
        for r in results
        if r.db == "postgresql" and r.conversations == 50 and r.ratio < TARGET_RATIO
    ] + [
        f"{r.db} × {r.conversations}: p99 {r.p99_ms} ms ≥ {TARGET_P99_MS:g} ms"
        for r in results
        if r.db == "postgresql" and r.conversations == 50 and r.p99_ms >= TARGET_P99_MS
    ]
    if idle is not None and idle.rss_mb >= TARGET_RSS_MB:
        missed.append(f"idle RSS {idle.rss_mb} MB ≥ {TARGET_RSS_MB:g} MB")
    for line in missed:
        print(f"target missed: {line}", file=sys.stderr, flush=True)
    for line in problems:
        print(f"wrong answers: {line}", file=sys.stderr, flush=True)
    return 1 if missed or problems or not results else 0


if __name__ == "__main__":
    sys.exit(main())
