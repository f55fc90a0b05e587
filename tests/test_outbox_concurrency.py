"""Several dispatchers on one PostgreSQL database: each message is delivered exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.app import ALL_RENDERERS, Runtime, create_app
from bot.dispatcher import Dispatcher
from storage import outbox
from storage.db import transaction
from storage.models import ConversationRef, Person, utcnow
from tests.activities import BOT_ID, TENANT
from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.fake_connector import FakeConnector, Limits
from tests.support import started

MESSAGES = 2000
FAST = {
    # The race is the point here, not Teams' limits.
    "CARREFOUR_OUTBOX_PER_TENANT_PER_SECOND": 100_000,
    "CARREFOUR_OUTBOX_BATCH_SIZE": 50,
    "CARREFOUR_OUTBOX_CONCURRENCY": 8,
}


async def _seed(runtime: Runtime, service_url: str, count: int) -> None:
    now = utcnow()
    async with transaction(runtime.sessions) as session:
        await session.execute(
            insert(Person),
            [
                {
                    "id": n,
                    "teams_user_id": f"29:p{n}",
                    "tenant_id": TENANT,
                    "locale": "fr-CA",
                    "consent_reminders": True,
                    "consent_surveys": False,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for n in range(1, count + 1)
            ],
        )
        await session.execute(
            insert(ConversationRef),
            [
                {
                    "conversation_id": f"a:p{n}",
                    "scope": "personal",
                    "service_url": service_url,
                    "channel_id": "msteams",
                    "tenant_id": TENANT,
                    "bot_id": BOT_ID,
                    "person_id": n,
                    "updated_at": now,
                }
                for n in range(1, count + 1)
            ],
        )
        for n in range(1, count + 1):
            await outbox.enqueue(
                session,
                dedup_key=f"race-{n}",
                recipient=outbox.Recipient.person(n),
                kind="notice",
                params={"text": "welcome.personal", "values": {"name": f"n{n}"}},
            )


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


async def test_three_dispatchers_deliver_each_of_2000_messages_exactly_once(
    postgres_url: str, connector: FakeConnector
) -> None:
    apps = [create_app(make_settings(postgres_url, **FAST)) for _ in range(3)]
    async with started(apps[0]) as first, started(apps[1]) as second, started(apps[2]) as third:
        await _seed(first, connector.url, MESSAGES)
        dispatchers = [
            Dispatcher(
                settings=runtime.settings,
                sessions=runtime.sessions,
                adapter=runtime.adapter,
                renderers=ALL_RENDERERS,
                owner=f"replica-{i}",
            )
            for i, runtime in enumerate((first, second, third))
        ]

        async def drain(dispatcher: Dispatcher) -> int:
            total = 0
            while processed := await dispatcher.dispatch_once():
                total += processed
            return total

        shares = await asyncio.wait_for(
            asyncio.gather(*(drain(d) for d in dispatchers)), timeout=240
        )
        counts = await outbox.counts_by_status(first.sessions)

    delivered = Counter(text for text in connector.texts())
    assert len(delivered) == MESSAGES
    assert max(delivered.values()) == 1
    assert counts["sent"] == MESSAGES
    assert sum(shares) == MESSAGES
    assert all(share > 0 for share in shares), f"one replica took nothing: {shares}"


async def test_killed_with_slow_sends_overlapping_then_restarted_nothing_lost_or_sent_twice(
    database_url: str, tmp_path: Path
) -> None:
    """Sends overlap (each answered 150 ms after it arrives, as Teams' round trip) when the
    bot is killed with SIGKILL, then restarted. Every message is delivered; those repeated
    are only the ones Teams had accepted in the instant before the kill without their "sent"
    mark committed (at least once, docs/decisions.md), at most one per send in flight."""
    # Imported here: that module takes `_seed` from this one.
    from tests.test_outbox_crash import CONCURRENCY, _start_bot

    connector = FakeConnector(limits=Limits(), answer_delay=0.15)
    await connector.start()
    try:
        async with started(create_app(make_settings(database_url))) as runtime:
            await _seed(runtime, connector.url, KILLED_MESSAGES)
            log = tmp_path / "bot.log"
            first = _start_bot(database_url, log)
            try:
                await connector.wait_for(KILLED_MESSAGES // 3, within=60)
            finally:
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(timeout=10)
            before_restart = len(connector.deliveries())
            assert before_restart < KILLED_MESSAGES, "the kill came too late to test anything"

            second = _start_bot(database_url, log)
            try:
                await _until_sent(runtime, KILLED_MESSAGES, within=120)
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=20)
            counts = await outbox.counts_by_status(runtime.sessions)
    finally:
        await connector.close()

    deliveries = connector.deliveries()
    repeated = sum(n - 1 for n in deliveries.values())
    print(f"\ndelivered before the kill: {before_restart}; repeated: {repeated}")
    assert counts["sent"] == KILLED_MESSAGES
    assert len(deliveries) == KILLED_MESSAGES, "a message was lost"
    assert repeated <= CONCURRENCY, log.read_text()[-3000:]


KILLED_MESSAGES = 150


async def _until_sent(runtime: Runtime, count: int, *, within: float) -> None:
    # The bot's process writes the database: poll it.
    for _ in range(int(within / 0.2)):
        if (await outbox.counts_by_status(runtime.sessions))["sent"] >= count:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not all {count} messages were sent within {within} s")
