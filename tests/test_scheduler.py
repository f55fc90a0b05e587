"""Scheduled jobs, called directly with a frozen clock (no sleeps), and the scheduler's life."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import REGISTRY, RUNTIME, create_app
from bot.scheduler import Jobs, build_scheduler
from storage import outbox
from storage.db import SessionFactory, transaction
from storage.models import Meeting, MeetingStatus, OutboxMessage, OutboxStatus, RsvpAnswer
from tests import factories
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import Clock

MEETING_AT = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)  # 9:00 in Montreal


async def queued(sessions: SessionFactory) -> list[tuple[int | None, str]]:
    async with sessions() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [(row.person_id, str(row.params["offset"])) for row in rows]


async def test_reminders_are_queued_at_j7_j1_h1_once_each(
    sessions: SessionFactory, connector: FakeConnector
) -> None:
    settings = make_settings("sqlite+aiosqlite://")
    clock = Clock(now=MEETING_AT - timedelta(days=8))
    jobs = Jobs(
        jobs=REGISTRY.jobs,
        settings=settings,
        sessions=sessions,
        wake_dispatcher=lambda: None,
        clock=clock,
    )
    async with transaction(sessions) as session:
        where = await factories.community(session)
        ana = await factories.person(session, 1, service_url=connector.url)
        ben = await factories.person(session, 2, service_url=connector.url)
        no_consent = await factories.person(session, 3, consent_reminders=False)
        decliner = await factories.person(session, 4)
        for who in (ana, ben, no_consent, decliner):
            await factories.member(session, who, where)
        meeting = await factories.meeting(session, where, starts_at=MEETING_AT)
        await factories.rsvp(session, decliner, meeting, RsvpAnswer.NO)
        await factories.rsvp(session, ben, meeting, RsvpAnswer.MAYBE)

    assert await jobs.run("meeting_reminders") == 0  # J-8: nothing yet
    clock.now = MEETING_AT - timedelta(days=7)
    assert await jobs.run("meeting_reminders") == 2
    assert await jobs.run("meeting_reminders") == 0  # running again queues nothing twice
    clock.now = MEETING_AT - timedelta(days=1, minutes=-5)
    assert await jobs.run("meeting_reminders") == 2
    clock.now = MEETING_AT - timedelta(minutes=59)
    assert await jobs.run("meeting_reminders") == 2
    clock.now = MEETING_AT + timedelta(minutes=1)
    assert await jobs.run("meeting_reminders") == 0  # started: no more reminders
    assert await queued(sessions) == [
        (ana.id, "P7D"),
        (ben.id, "P7D"),
        (ana.id, "P1D"),
        (ben.id, "P1D"),
        (ana.id, "PT1H"),
        (ben.id, "PT1H"),
    ]


async def test_after_downtime_only_the_latest_due_reminder_is_sent(
    sessions: SessionFactory, connector: FakeConnector
) -> None:
    settings = make_settings("sqlite+aiosqlite://")
    async with transaction(sessions) as session:
        where = await factories.community(session)
        ana = await factories.person(session, 1, service_url=connector.url)
        await factories.member(session, ana, where)
        await factories.meeting(session, where, starts_at=MEETING_AT)
    # The bot was down from J-8 until 20 hours before the meeting.
    clock = Clock(now=MEETING_AT - timedelta(hours=20))
    jobs = Jobs(
        jobs=REGISTRY.jobs,
        settings=settings,
        sessions=sessions,
        wake_dispatcher=lambda: None,
        clock=clock,
    )
    assert await jobs.run("meeting_reminders") == 1
    assert await queued(sessions) == [(ana.id, "P1D")]


async def test_a_moved_meeting_gets_fresh_reminders_and_a_cancelled_one_none(
    sessions: SessionFactory, connector: FakeConnector
) -> None:
    settings = make_settings("sqlite+aiosqlite://")
    clock = Clock(now=MEETING_AT - timedelta(days=1))
    jobs = Jobs(
        jobs=REGISTRY.jobs,
        settings=settings,
        sessions=sessions,
        wake_dispatcher=lambda: None,
        clock=clock,
    )
    async with transaction(sessions) as session:
        where = await factories.community(session)
        ana = await factories.person(session, 1, service_url=connector.url)
        await factories.member(session, ana, where)
        meeting = await factories.meeting(session, where, starts_at=MEETING_AT)
        other = await factories.meeting(session, where, starts_at=MEETING_AT + timedelta(days=10))
    assert await jobs.run("meeting_reminders") == 1  # the first meeting's J-1
    async with transaction(sessions) as session:
        moved = await session.get(Meeting, meeting.id)
        assert moved is not None
        moved.starts_at = MEETING_AT + timedelta(hours=1)
        moved.ends_at = MEETING_AT + timedelta(hours=8)
        cancelled = await session.get(Meeting, other.id)
        assert cancelled is not None
        cancelled.status = MeetingStatus.CANCELLED
    clock.now = MEETING_AT + timedelta(hours=1) - timedelta(days=1)
    assert await jobs.run("meeting_reminders") == 1  # the moved meeting: a new J-1
    clock.now = MEETING_AT + timedelta(days=3, hours=1)
    assert await jobs.run("meeting_reminders") == 0  # the cancelled one's J-7: nothing
    assert len(set(await _keys(sessions))) == 2


async def _keys(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return [row.dedup_key for row in (await session.exec(select(OutboxMessage))).all()]


async def test_community_offsets_override_the_default(
    sessions: SessionFactory, connector: FakeConnector
) -> None:
    settings = make_settings("sqlite+aiosqlite://")
    clock = Clock(now=MEETING_AT - timedelta(days=3))
    jobs = Jobs(
        jobs=REGISTRY.jobs,
        settings=settings,
        sessions=sessions,
        wake_dispatcher=lambda: None,
        clock=clock,
    )
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.settings = {"reminder_offsets": ["P3D"]}
        ana = await factories.person(session, 1, service_url=connector.url)
        await factories.member(session, ana, where)
        await factories.meeting(session, where, starts_at=MEETING_AT)
    assert await jobs.run("meeting_reminders") == 1
    assert await queued(sessions) == [(ana.id, "P3D")]


async def test_purge_forgets_finished_history_past_retention(sessions: SessionFactory) -> None:
    settings = make_settings("sqlite+aiosqlite://", CARREFOUR_OUTBOX_RETENTION_DAYS=1)
    jobs = Jobs(
        jobs=REGISTRY.jobs, settings=settings, sessions=sessions, wake_dispatcher=lambda: None
    )
    async with transaction(sessions) as session:
        ana = await factories.person(session, 1)
        session.add(
            OutboxMessage(
                dedup_key="old",
                kind="notice",
                person_id=ana.id,
                status=OutboxStatus.SENT,
                not_before=datetime.now(UTC) - timedelta(days=3),
                created_at=datetime.now(UTC) - timedelta(days=3),
            )
        )
        await outbox.enqueue(
            session, dedup_key="new", recipient=outbox.Recipient.person(ana.id or 0), kind="notice"
        )
    purged = await jobs.run("retention_purge")
    assert isinstance(purged, dict)
    assert purged["outbox"] == 1
    assert await _keys(sessions) == ["new"]


async def test_the_scheduler_has_every_job_and_runs_each_at_start() -> None:
    settings = make_settings("sqlite+aiosqlite://")

    jobs = Jobs(jobs=REGISTRY.jobs, settings=settings, sessions=None, wake_dispatcher=lambda: None)  # type: ignore[arg-type]
    scheduler = build_scheduler(jobs, settings)
    ids = {job.id for job in scheduler.get_jobs()}
    assert ids == {
        "meeting_reminders",
        "attendance_requests",
        "close_polls",
        "annual_reviews",
        "codevelopment_reminders",
        "date_poll_outcomes",
        "needs_survey_proposals",
        "learning_yearly",
        "flag_unanswered_questions",
        "open_surveys",
        "escalate_consultations",
        "expire_mentor_proposals",
        "survey_reminders",
        "seal_surveys",
        "monthly_summaries",
        "outbox_status",
        "retention_purge",
    }
    assert all(job.next_run_time is not None for job in scheduler.get_jobs())


async def test_a_running_bot_delivers_what_is_queued_and_stops_cleanly(
    sqlite_url: str, connector: FakeConnector
) -> None:
    settings = make_settings(sqlite_url, CARREFOUR_SCHEDULER_ENABLED=True)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    runtime = client.app[RUNTIME]
    try:
        async with transaction(runtime.sessions) as session:
            ana = await factories.person(session, 1, service_url=connector.url)
            await outbox.enqueue(
                session,
                dedup_key="live",
                recipient=outbox.Recipient.person(ana.id or 0),
                kind="notice",
                params={"text": "welcome.personal_noname"},
            )
        runtime.dispatcher.wake()
        await connector.wait_for(1, within=10)
    finally:
        await asyncio.wait_for(client.close(), timeout=15)
    assert len(connector.activities()) == 1
