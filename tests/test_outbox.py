"""The outbox and its dispatcher against a fake Bot Connector: nothing lost, nothing twice."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.app import Runtime
from storage import (
    attestations,
    communities,
    meetings,
    mentoring,
    onboarding,
    outbox,
    polls,
    surveys,
    topics,
    vitality,
)
from storage.db import transaction
from storage.models import (
    ConversationRef,
    ConversationScope,
    Meeting,
    OutboxMessage,
    OutboxStatus,
    TopicStatus,
)
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


def test_dedup_keys_keep_the_format_of_rows_already_queued() -> None:
    """A key spelled differently would not deduplicate against a row already in the outbox:
    after a deployment that changed one, that message would go out twice. Literals here on
    purpose (not built from the functions under test)."""
    at = datetime(2026, 3, 5, 18, 30, tzinfo=UTC)
    meeting = Meeting(id=7, community_id=2, starts_at=at, ends_at=at, sequence=2)
    assert outbox.reply_key("reply:abc", 3) == "reply:abc:3"
    assert (
        outbox.reply_prefix("msteams:19:abc@thread.v2:1712345678901")
        == "reply:002fe78acae2a22ca7012ae67bfd4fe5cc9d0c44"
    )
    assert polls.notice_key(5, "act-1", 9) == "poll:5:notice:act-1:to:9"
    assert polls.notice_key(None, "act-1", 9) == "poll:None:notice:act-1:to:9"
    assert polls.card_key(5, "act-1") == "poll:5:card:act-1"
    assert polls.closed_card_key(5) == "poll:5:closed:card"
    assert polls.closed_results_key(5, 11) == "poll:5:closed:results:to:11"
    reminder = meetings.DueReminder(meeting_id=7, starts_at=at, person_id=42, offset="P1D")
    assert meetings.reminder_key(reminder) == "reminder:7:20260305T1830:42:P1D"
    assert meetings.reminders_prefix(7) == "reminder:7:"
    assert meetings.reminders_at_prefix(7, at) == "reminder:7:20260305T1830:"
    assert meetings.cancellation_notice_prefix(meeting) == "meeting:7:cancelled:2:to:"
    assert meetings.restored_notice_prefix(meeting) == "meeting:7:restored:2:to:"
    assert meetings.moved_notice_prefix(meeting, at) == "meeting:7:moved:20260305T1830:to:"
    assert meetings.change_notice_key("meeting:7:moved:20260305T1830:to:", 42) == (
        "meeting:7:moved:20260305T1830:to:42"
    )
    assert meetings.agenda_card_key(7, "f00d") == "agenda_card:7:f00d"
    assert meetings.attendance_key(7, 3) == "attendance:7:to:3"
    assert topics.proposed_notice_key(5, 9) == "topics:proposed:5:to:9"
    assert communities.joined_notice_key(2, 42, at, 9) == "joined:2:42:20260305T183000:to:9"
    assert mentoring.suggestions_key(4, 9) == "mentoring:request:4:to:9"
    assert mentoring.suggestions_key(4, 9, cause=mentoring.declined_cause(12)) == (
        "mentoring:request:4:declined:12:to:9"
    )
    assert mentoring.suggestions_key(4, 9, cause=mentoring.lapsed_cause(12)) == (
        "mentoring:request:4:lapsed:12:to:9"
    )
    assert mentoring.suggestions_key(4, 9, cause=mentoring.volunteer_cause(8)) == (
        "mentoring:request:4:volunteer:8:to:9"
    )
    assert mentoring.request_prefix(4) == "mentoring:request:4:"
    assert mentoring.pairing_prefix(12) == "mentoring:pairing:12:"
    assert mentoring.proposal_key(12) == "mentoring:pairing:12:proposal"
    assert mentoring.agreement_key(12, 9) == "mentoring:pairing:12:agreement:to:9"
    assert mentoring.paired_key(12, 3) == "mentoring:pairing:12:paired:to:3"
    assert mentoring.checkin_key(12, "half", 20, 9) == "mentoring:pairing:12:checkin:half:w20:to:9"
    assert mentoring.terms_key(12, "x" * 70, 9) == f"mentoring:pairing:12:terms:{'x' * 64}:to:9"
    assert mentoring.lapsed_key(12, 8) == "mentoring:lapsed:12:to:8"
    assert mentoring.ended_key(12, 9) == "mentoring:ended:12:to:9"
    assert mentoring.withdrawn_key(4, 8) == "mentoring:withdrawn:4:to:8"
    assert surveys.invitation_key(6, 9) == "survey:6:invitation:to:9"
    assert surveys.reminder_key(6, 9) == "survey:6:reminder:to:9"
    assert surveys.results_key(6, "act-1", 9) == "survey:6:results:act-1:to:9"
    assert vitality.summary_key(2, date(2026, 2, 1), 9) == "vitality:2:2026-02:to:9"
    assert vitality.summary_ask_key(2, date(2026, 2, 1), 9, "act-1") == (
        "vitality:2:2026-02:to:9:ask:act-1"
    )
    assert topics.status_notice_key(5, TopicStatus.SHORTLISTED, 9) == (
        "topics:status:5:shortlisted:to:9"
    )
    assert attestations.links_key(9, "b4tch", 0) == "attestation_links:9:b4tch:0"
    assert onboarding.step_key(2, 9, "welcome") == "onboarding:2:9:welcome"
    assert onboarding.steps_prefix(2, 9) == "onboarding:2:9:"
    assert onboarding.checkin_notice_key(2, 9, 3) == "onboarding:checkin:2:9:to:3"
