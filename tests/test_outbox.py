"""The outbox and its dispatcher against a fake Bot Connector: nothing lost, nothing twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.app import Runtime
from storage import outbox
from storage.db import transaction
from storage.models import ConversationRef, ConversationScope, OutboxMessage, OutboxStatus
from tests import factories
from tests.activities import TENANT
from tests.fake_connector import Failure, FakeConnector
from tests.support import Clock, dispatcher


async def queue_notice(runtime: Runtime, key: str, person_id: int, *, clock: Clock) -> bool:
    async with transaction(runtime.sessions) as session:
        return await outbox.enqueue(
            session,
            dedup_key=key,
            recipient=outbox.Recipient.person(person_id),
            kind="notice",
            params={"text": "welcome.personal", "values": {"name": key}},
            not_before=clock.now,
        )


async def rows(runtime: Runtime) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        return list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        )


async def test_a_second_enqueue_with_the_same_key_is_a_no_op(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    assert await queue_notice(runtime, "k1", who.id or 0, clock=clock)
    assert not await queue_notice(runtime, "k1", who.id or 0, clock=clock)
    assert len(await rows(runtime)) == 1


async def test_a_due_message_is_sent_once_in_the_person_language(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url, locale="en-US")
    await queue_notice(runtime, "Ana", who.id or 0, clock=clock)
    sender = dispatcher(runtime, clock)
    assert await sender.dispatch_once() == 1
    assert await sender.dispatch_once() == 0
    assert connector.texts() == [
        "Hello Ana! I am Carrefour, the assistant for your communities of practice."
    ]
    assert connector.received[0].conversation_id == "a:personal-1"
    (row,) = await rows(runtime)
    assert row.status == OutboxStatus.SENT
    assert row.sent_at == clock.now
    assert row.activity_id
    assert row.conversation_id == "a:personal-1"


async def test_not_before_is_honoured(runtime: Runtime, connector: FakeConnector) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
        await outbox.enqueue(
            session,
            dedup_key="later",
            recipient=outbox.Recipient.person(who.id or 0),
            kind="notice",
            params={"text": "welcome.personal_noname"},
            not_before=clock.now + timedelta(hours=2),
        )
    sender = dispatcher(runtime, clock)
    assert await sender.dispatch_once() == 0
    clock.advance(hours=2)
    assert await sender.dispatch_once() == 1
    assert len(connector.activities()) == 1


async def test_a_person_without_a_chat_gets_one_created_and_remembered(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        await factories.channel(session, service_url=connector.url)
        who = await factories.person(session, 7)  # no personal chat yet
    await queue_notice(runtime, "first", who.id or 0, clock=clock)
    await queue_notice(runtime, "second", who.id or 0, clock=clock)
    sender = dispatcher(runtime, clock)
    await sender.dispatch_once()
    await sender.dispatch_once()
    creations = [r for r in connector.received if r.path == "/v3/conversations"]
    assert len(creations) == 1
    assert creations[0].body["channelData"] == {"tenant": {"id": TENANT}}
    assert creations[0].body["members"] == [{"id": "29:person-7"}]
    assert len(connector.activities()) == 2
    async with runtime.sessions() as session:
        personal = (
            await session.exec(
                select(ConversationRef).where(ConversationRef.scope == ConversationScope.PERSONAL)
            )
        ).all()
    assert [c.person_id for c in personal] == [who.id]


async def test_channel_recipients_get_the_message_in_the_channel(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        where = await factories.channel(session, service_url=connector.url)
        await outbox.enqueue(
            session,
            dedup_key="channel-notice",
            recipient=outbox.Recipient.conversation(where.id or 0),
            kind="notice",
            params={"text": "welcome.personal_noname"},
            not_before=clock.now,
        )
    await dispatcher(runtime, clock).dispatch_once()
    assert [r.conversation_id for r in connector.received] == ["19:channel-1@thread.tacv2"]


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_throttling_and_transient_errors_are_retried_after_retry_after(
    runtime: Runtime, connector: FakeConnector, status: int
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    await queue_notice(runtime, "x", who.id or 0, clock=clock)
    connector.fail_next(Failure(status, retry_after=30))
    sender = dispatcher(runtime, clock)
    await sender.dispatch_once()
    (row,) = await rows(runtime)
    assert row.status == OutboxStatus.PENDING
    assert row.not_before >= clock.now + timedelta(seconds=30)
    assert row.last_error == f"HTTP {status}"
    clock.advance(seconds=29)
    assert await sender.dispatch_once() == 0
    clock.advance(seconds=60)
    assert await sender.dispatch_once() == 1
    assert [r.status for r in await rows(runtime)] == [OutboxStatus.SENT]
    assert len(connector.received) == 2  # the refused attempt, then the delivery


@pytest.mark.parametrize("status", [403, 404])
async def test_app_removed_or_person_gone_is_undeliverable_and_not_retried(
    runtime: Runtime, connector: FakeConnector, status: int
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    await queue_notice(runtime, "x", who.id or 0, clock=clock)
    connector.fail_next(Failure(status))
    sender = dispatcher(runtime, clock)
    await sender.dispatch_once()
    clock.advance(days=1)
    assert await sender.dispatch_once() == 0
    (row,) = await rows(runtime)
    assert row.status == OutboxStatus.UNDELIVERABLE
    assert len(connector.received) == 1


async def test_after_the_maximum_attempts_a_message_is_dead_and_logged_once(
    runtime: Runtime, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    await queue_notice(runtime, "x", who.id or 0, clock=clock)
    connector.fail_next(*[Failure(503)] * 10)
    sender = dispatcher(runtime, clock)
    with caplog.at_level(logging.WARNING, logger="bot.dispatcher"):
        for _ in range(6):
            await sender.dispatch_once()
            clock.advance(hours=1)
    (row,) = await rows(runtime)
    assert row.status == OutboxStatus.DEAD
    assert row.attempts == 3  # CARREFOUR_OUTBOX_MAX_ATTEMPTS in this fixture
    assert len(connector.received) == 3
    assert len([r for r in caplog.records if "dead" in r.getMessage()]) == 1


async def test_a_crashed_sender_lease_expires_and_the_message_is_sent_by_another(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    await queue_notice(runtime, "x", who.id or 0, clock=clock)
    lease = timedelta(seconds=runtime.settings.outbox_lease_seconds)
    # The first sender claims the row, then "crashes" (never finishes).
    (claimed,) = await outbox.claim_due(
        runtime.sessions, owner="crashed", lease=lease, limit=10, now=clock.now
    )
    other = dispatcher(runtime, clock, owner="survivor")
    assert await other.dispatch_once() == 0  # still leased
    clock.advance(seconds=lease.total_seconds() + 1)
    assert await other.dispatch_once() == 1
    assert len(connector.activities()) == 1
    # The crashed sender cannot mark it any more: the row is the survivor's.
    assert not await outbox.mark_sent(
        runtime.sessions,
        message_id=claimed.id,
        owner="crashed",
        conversation_id="c",
        activity_id="a",
    )
    (row,) = await rows(runtime)
    assert row.status == OutboxStatus.SENT
    assert row.lease_owner == "survivor"


async def test_a_message_no_longer_relevant_is_cancelled_not_sent(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
        where = await factories.community(session)
        gone = await factories.meeting(session, where, starts_at=clock.now - timedelta(hours=1))
        await outbox.enqueue(
            session,
            dedup_key="late-reminder",
            recipient=outbox.Recipient.person(who.id or 0),
            kind="meeting_reminder",
            params={"meeting_id": gone.id, "offset": "PT1H"},
            not_before=clock.now,
        )
    await dispatcher(runtime, clock).dispatch_once()
    assert connector.received == []
    assert [r.status for r in await rows(runtime)] == [OutboxStatus.CANCELLED]


async def test_per_conversation_limit_is_respected(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        where = await factories.channel(session, service_url=connector.url)
        for n in range(10):
            await outbox.enqueue(
                session,
                dedup_key=f"burst-{n}",
                recipient=outbox.Recipient.conversation(where.id or 0),
                kind="notice",
                params={"text": "welcome.personal_noname"},
                not_before=clock.now,
            )
    await dispatcher(runtime, clock).dispatch_once()
    times = sorted(r.received_at for r in connector.received)
    assert len(times) == 10
    for i in range(len(times) - 7):
        # No 8 messages within one second (7 per second per conversation).
        assert times[i + 7] - times[i] >= 0.95


async def test_counts_by_status(runtime: Runtime, connector: FakeConnector) -> None:
    clock = Clock()
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    for key in ("a", "b", "c"):
        await queue_notice(runtime, key, who.id or 0, clock=clock)
    connector.fail_next(Failure(403))
    await dispatcher(runtime, clock).dispatch_once()
    counts = await outbox.counts_by_status(runtime.sessions)
    assert counts["sent"] == 2
    assert counts["undeliverable"] == 1
    assert counts["pending"] == 0


async def test_history_is_kept_then_purged_after_retention(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock(now=datetime.now(UTC))
    async with transaction(runtime.sessions) as session:
        who = await factories.person(session, 1, service_url=connector.url)
    await queue_notice(runtime, "old", who.id or 0, clock=clock)
    await dispatcher(runtime, clock).dispatch_once()
    history = await outbox.history_for_person(runtime.sessions, person_id=who.id or 0)
    assert [h.dedup_key for h in history] == ["old"]
    assert await outbox.purge_history(runtime.sessions, older_than=timedelta(days=1)) == 0
    assert await outbox.purge_history(runtime.sessions, older_than=timedelta(seconds=-1)) == 1
