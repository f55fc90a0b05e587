"""Several dispatchers on one PostgreSQL database: each message is delivered exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

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
from tests.fake_connector import FakeConnector
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
