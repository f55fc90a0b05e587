"""Fan-out benchmark: N notices to N people in one tenant, through the outbox dispatcher.

A fake Bot Connector enforces Teams' limits (429 + Retry-After); the bot's own limiter should
keep it under them. Measured: wall time from the first claim to the last accepted delivery,
against the minimum the configured limits allow; duplicates and losses must be zero.

    .venv/bin/python -m bench.fanout [--messages N] [--db sqlite|postgresql|both] [--latency-ms MS]

Dispatcher settings come from the environment as for the bot (CARREFOUR_OUTBOX_...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.app import RUNTIME, Runtime, create_app
from bot.dispatcher import SENDS_PER_SERVICE_URL
from bot.settings import Settings
from cards.i18n import translator
from storage import outbox
from storage.db import SessionFactory, transaction
from storage.models import (
    ConversationRef,
    ConversationScope,
    OutboxMessage,
    OutboxStatus,
    Person,
    utcnow,
)
from tests.activities import BOT_ID, TENANT
from tests.conftest import make_settings
from tests.databases import fresh_postgres, fresh_sqlite, postgres_available
from tests.fake_connector import FakeConnector, Limits

LOCALE = "fr-CA"
TEXT_KEY = "welcome.personal"
INSERT_CHUNK = 2_000
logger = logging.getLogger("bench.fanout")


@dataclass(frozen=True, slots=True)
class Result:
    bench: str
    db: str
    messages: int
    latency_ms: float
    elapsed_s: float
    minimum_s: float
    ratio: float | None
    duplicates: int
    lost: int
    throttled: int


def minimum_seconds(settings: Settings, *, messages: int, conversations: int) -> float:
    """The least time between the first and the last send the limits allow, for `messages`
    spread evenly over `conversations` in one tenant: a sliding window of `limit` per `window`
    lets message i go at floor(i / limit) * window at the earliest."""
    per_conversation = math.ceil(messages / max(1, conversations))

    def bound(count: int, limit: int, window: float) -> float:
        return math.floor(max(0, count - 1) / limit) * window

    return max(
        bound(messages, settings.outbox_per_tenant_per_second, 1.0),
        bound(per_conversation, settings.outbox_per_conversation_per_second, 1.0),
        bound(per_conversation, settings.outbox_per_conversation_per_30s, 30.0),
    )


def name_of(i: int) -> str:
    return f"Bench-{i:06d}"


async def seed(sessions: SessionFactory, *, messages: int, service_url: str) -> None:
    """N people, each with a personal chat, and one queued notice each (bulk inserts)."""
    now = utcnow()
    person_table = Person.__table__  # type: ignore[attr-defined]
    conversation_table = ConversationRef.__table__  # type: ignore[attr-defined]
    async with transaction(sessions) as session:
        for start in range(0, messages, INSERT_CHUNK):
            await session.execute(
                person_table.insert(),
                [
                    {
                        "teams_user_id": f"29:bench-{i}",
                        "aad_object_id": f"00000000-0000-0000-0000-{i:012d}",
                        "tenant_id": TENANT,
                        "name": name_of(i),
                        "locale": LOCALE,
                        "preferred_locale": None,
                        "consent_reminders": True,
                        "consent_surveys": False,
                        "created_at": now,
                        "last_seen_at": now,
                    }
                    for i in range(start, min(messages, start + INSERT_CHUNK))
                ],
            )
        ids = {
            str(user): int(pid)
            for pid, user in (
                await session.execute(select(person_table.c.id, person_table.c.teams_user_id))
            ).all()
        }
        person_ids = [ids[f"29:bench-{i}"] for i in range(messages)]
        for start in range(0, messages, INSERT_CHUNK):
            chunk = range(start, min(messages, start + INSERT_CHUNK))
            await session.execute(
                conversation_table.insert(),
                [
                    {
                        "conversation_id": f"a:bench-personal-{i}",
                        "scope": ConversationScope.PERSONAL.value,
                        "service_url": service_url,
                        "channel_id": "msteams",
                        "tenant_id": TENANT,
                        "bot_id": BOT_ID,
                        "bot_name": None,
                        "person_id": person_ids[i],
                        "team_id": None,
                        "teams_channel_id": None,
                        "updated_at": now,
                    }
                    for i in chunk
                ],
            )
            await session.execute(
                outbox.TABLE.insert(),
                [
                    {
                        "dedup_key": f"bench:{name_of(i)}",
                        "kind": "notice",
                        "params": {"text": TEXT_KEY, "values": {"name": name_of(i)}},
                        "person_id": person_ids[i],
                        "conversation_ref_id": None,
                        "status": OutboxStatus.PENDING.value,
                        "not_before": now,
                        "attempts": 0,
                        "created_at": now,
                    }
                    for i in chunk
                ],
            )


async def drain(runtime: Runtime, *, give_up_after: float) -> None:
    """Dispatch until no row is pending or sending (or `give_up_after` seconds passed)."""
    dispatcher = runtime.dispatcher
    deadline = time.monotonic() + give_up_after
    while time.monotonic() < deadline:
        if await dispatcher.dispatch_once():
            continue
        counts = await outbox.counts_by_status(runtime.sessions)
        if counts[OutboxStatus.PENDING.value] + counts[OutboxStatus.SENDING.value] == 0:
            return
        upcoming = await outbox.next_due(runtime.sessions)
        wait = 0.05 if upcoming is None else (upcoming - utcnow()).total_seconds()
        await asyncio.sleep(min(1.0, max(0.005, wait)))
    logger.warning("gave up draining after %.0f s", give_up_after)


async def _row_statuses(sessions: SessionFactory) -> dict[str, tuple[str, int]]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    col(OutboxMessage.dedup_key),
                    col(OutboxMessage.status),
                    col(OutboxMessage.attempts),
                )
            )
        ).all()
    return {str(key): (str(status), int(attempts)) for key, status, attempts in rows}


async def run_once(kind: str, messages: int, directory: Path, *, latency_ms: float = 0.0) -> Result:
    connector = FakeConnector(limits=Limits(), answer_delay=latency_ms / 1000)
    await connector.start()
    try:
        database = fresh_postgres() if kind == "postgresql" else fresh_sqlite(directory)
        async with database as url:
            settings = make_settings(url)
            app = create_app(settings)
            app.freeze()
            await app.startup()
            try:
                return await _measure(kind, messages, app[RUNTIME], connector, latency_ms)
            finally:
                await app.cleanup()
    finally:
        await connector.close()


async def _measure(
    kind: str, messages: int, runtime: Runtime, connector: FakeConnector, latency_ms: float
) -> Result:
    settings = runtime.settings
    seeding = time.monotonic()
    await seed(runtime.sessions, messages=messages, service_url=connector.url)
    print(
        f"[{kind}] seeded {messages} people, chats and notices in "
        f"{time.monotonic() - seeding:.2f} s; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs (other work on the machine slows the run)",
        flush=True,
    )
    minimum = minimum_seconds(settings, messages=messages, conversations=messages)

    started, cpu_started = time.monotonic(), time.process_time()
    await drain(runtime, give_up_after=minimum * 3 + 120)
    drained, cpu = time.monotonic(), time.process_time() - cpu_started
    last = connector.last_delivered_at
    elapsed = (last if last is not None else drained) - started

    t = translator(LOCALE)
    deliveries = connector.deliveries()
    expected = {f"bench:{name_of(i)}": t(TEXT_KEY, name=name_of(i)) for i in range(messages)}
    rows = await _row_statuses(runtime.sessions)
    duplicates = sum(1 for text in expected.values() if deliveries[text] > 1)
    never_delivered = {key for key, text in expected.items() if deliveries[text] == 0}
    not_sent = {
        key for key in expected if rows.get(key, ("missing", 0))[0] != OutboxStatus.SENT.value
    }
    expected_texts = set(expected.values())
    unexpected = sum(count for text, count in deliveries.items() if text not in expected_texts)
    lost = len(never_delivered | not_sent)

    throttled = len(connector.throttled)
    by_limit = Counter(
        "tenant" if item.limit.startswith("tenant:") else "conversation"
        for item in connector.throttled
    )
    attempts = Counter(attempt for _status, attempt in rows.values())
    statuses = Counter(status for status, _attempts in rows.values())
    ratio = elapsed / minimum if minimum > 0 else None
    print(
        f"[{kind}] {messages} messages, connector answering latency_ms={latency_ms:g} after "
        "arrival, "
        f"in {elapsed:.2f} s "
        f"({messages / elapsed if elapsed > 0 else math.inf:.1f}/s; minimum {minimum:.2f} s"
        + (f", ratio {ratio:.3f})" if ratio is not None else ")")
        + f"; CPU {cpu * 1000 / messages:.2f} ms a message (bot and fake connector, all threads)",
        flush=True,
    )
    print(
        f"[{kind}] requests {len(connector.received)}, accepted {connector.delivered}, "
        f"throttled {throttled} {dict(by_limit)}, duplicates {duplicates}, lost {lost} "
        f"(never delivered {len(never_delivered)}, rows not sent {len(not_sent)}), "
        f"unexpected deliveries {unexpected}",
        flush=True,
    )
    print(
        f"[{kind}] rows by status {dict(statuses)}, by attempts {dict(sorted(attempts.items()))}; "
        f"drain loop ended {drained - started:.2f} s after the first claim "
        f"(concurrency {settings.outbox_concurrency}, batch {settings.outbox_batch_size}, "
        f"at most {SENDS_PER_SERVICE_URL} sends per service URL); "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    return Result(
        bench="fanout",
        db=kind,
        messages=messages,
        latency_ms=latency_ms,
        elapsed_s=round(elapsed, 3),
        minimum_s=round(minimum, 3),
        ratio=round(ratio, 4) if ratio is not None else None,
        duplicates=duplicates,
        lost=lost,
        throttled=throttled,
    )


async def main_async(
    messages: int, databases: list[str], *, latency_ms: float = 0.0
) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="carrefour-bench-") as directory:
        for kind in databases:
            if kind == "postgresql":
                reason = await postgres_available()
                if reason is not None:
                    print(f"[postgresql] skipped: {reason}", flush=True)
                    continue
            results.append(await run_once(kind, messages, Path(directory), latency_ms=latency_ms))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="the fake connector answers this long after a request arrives (Teams is ~100+)",
    )
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    # SQLModel nags about session.execute() (used by storage/ on purpose), as pytest's filter does.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "aiohttp", "sqlalchemy", "microsoft_agents"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = asyncio.run(main_async(args.messages, databases, latency_ms=args.latency_ms))
    for result in results:
        line: dict[str, Any] = asdict(result)
        print(json.dumps(line), flush=True)
    failed = any(r.duplicates or r.lost for r in results)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
