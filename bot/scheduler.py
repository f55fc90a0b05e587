"""Timed work. APScheduler only wakes jobs up; the database decides who does what.

Every job is idempotent and catches up after downtime (each runs once at start): reminders
come from the outbox's unique keys, so two replicas running the same job queue each message
once. Jobs are plain async methods on `Jobs`, called directly by tests with a frozen clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.consultations_flow import escalate, purge_summaries
from bot.meetings_flow import enqueue_attendance_requests
from bot.mentoring_flow import expire_proposals
from bot.polls_flow import close_expired_polls
from bot.settings import Settings
from bot.surveys_flow import open_due_surveys, seal_closed_surveys, survey_reminders
from bot.vitality_flow import send_monthly_summaries
from storage import activities, meetings, outbox
from storage.db import SessionFactory, transaction
from storage.models import utcnow

logger = logging.getLogger(__name__)


class Jobs:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        wake_dispatcher: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._wake = wake_dispatcher
        self._clock = clock

    async def enqueue_meeting_reminders(self) -> int:
        """Queue the reminders that are due now (J-7, J-1, H-1 by default)."""
        now = self._clock()
        queued = 0
        async with transaction(self._sessions) as session:
            for reminder in await meetings.due_reminders(
                session, now=now, default_offsets=self._settings.reminder_offsets
            ):
                queued += await outbox.enqueue(
                    session,
                    dedup_key=meetings.reminder_key(reminder),
                    recipient=outbox.Recipient.person(reminder.person_id),
                    kind=meetings.KIND_REMINDER,
                    params={"meeting_id": reminder.meeting_id, "offset": reminder.offset},
                    not_before=now,
                )
        if queued:
            logger.info("queued %d meeting reminder(s)", queued)
            self._wake()
        return queued

    async def request_attendance(self) -> int:
        """After each meeting, its animators get the attendance list to confirm."""
        return await enqueue_attendance_requests(
            sessions=self._sessions, now=self._clock(), wake=self._wake
        )

    async def close_polls(self) -> int:
        """Polls past their closing time: final results in the card, and to the animators."""
        return await close_expired_polls(
            sessions=self._sessions, now=self._clock(), wake=self._wake
        )

    async def open_surveys(self) -> int:
        """Satisfaction surveys an hour after each meeting, to those who attended."""
        return await open_due_surveys(
            sessions=self._sessions,
            now=self._clock(),
            wake=self._wake,
            delay=timedelta(minutes=self._settings.survey_delay_minutes),
            duration=timedelta(days=self._settings.survey_duration_days),
        )

    async def remind_surveys(self) -> int:
        return await survey_reminders(sessions=self._sessions, now=self._clock(), wake=self._wake)

    async def seal_surveys(self) -> int:
        """Closed surveys lose even the keyed link between answer and person."""
        return await seal_closed_surveys(sessions=self._sessions, now=self._clock())

    async def monthly_summaries(self) -> int:
        """The 1st of the month at 9:00 (catching up after downtime): last month's summary."""
        return await send_monthly_summaries(
            sessions=self._sessions, now=self._clock(), wake=self._wake, tz=self._settings.timezone
        )

    async def escalate_consultations(self) -> int:
        """Unassigned requests: a reminder to coordinators, then a word to the animators."""
        return await escalate(
            sessions=self._sessions,
            now=self._clock(),
            reminder_after_working_days=self._settings.consultation_reminder_working_days,
            escalate_after_working_days=self._settings.consultation_escalation_working_days,
            timezone=self._settings.timezone,
            extra_non_working_days=self._settings.extra_non_working_days,
            wake=self._wake,
        )

    async def expire_mentor_proposals(self) -> int:
        """Mentor proposals unanswered for N days: lapsed, and the request back to the
        coordination with fresh suggestions."""
        return await expire_proposals(
            sessions=self._sessions,
            now=self._clock(),
            days=self._settings.mentor_proposal_days,
            wake=self._wake,
        )

    async def purge(self) -> dict[str, int]:
        """Forget what retention no longer requires."""
        purged = {
            "outbox": await outbox.purge_history(
                self._sessions, older_than=timedelta(days=self._settings.outbox_retention_days)
            ),
            "consultation_summaries": await purge_summaries(
                sessions=self._sessions,
                now=self._clock(),
                retention_days=self._settings.consultation_retention_days,
            ),
            "processed_activities": await activities.purge_processed(
                self._sessions,
                older_than=timedelta(hours=self._settings.processed_activity_retention_hours),
            ),
        }
        logger.info("retention purge: %s", purged)
        return purged

    async def log_outbox_status(self) -> dict[str, int]:
        counts = await outbox.counts_by_status(self._sessions)
        logger.info("outbox: %s", " ".join(f"{k}={v}" for k, v in counts.items()))
        return counts


def _log_job_error(event: JobExecutionEvent) -> None:
    logger.error("scheduled job %s failed", event.job_id, exc_info=event.exception)


def build_scheduler(jobs: Jobs, settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=ZoneInfo(settings.timezone))
    start = datetime.now(ZoneInfo(settings.timezone))
    every: list[tuple[str, Callable[[], Awaitable[object]], IntervalTrigger]] = [
        ("meeting_reminders", jobs.enqueue_meeting_reminders, IntervalTrigger(minutes=1)),
        ("attendance_requests", jobs.request_attendance, IntervalTrigger(minutes=5)),
        ("close_polls", jobs.close_polls, IntervalTrigger(minutes=1)),
        ("open_surveys", jobs.open_surveys, IntervalTrigger(minutes=5)),
        ("escalate_consultations", jobs.escalate_consultations, IntervalTrigger(minutes=30)),
        ("expire_mentor_proposals", jobs.expire_mentor_proposals, IntervalTrigger(minutes=30)),
        ("survey_reminders", jobs.remind_surveys, IntervalTrigger(minutes=15)),
        ("seal_surveys", jobs.seal_surveys, IntervalTrigger(hours=1)),
        ("monthly_summaries", jobs.monthly_summaries, IntervalTrigger(minutes=15)),
        ("outbox_status", jobs.log_outbox_status, IntervalTrigger(minutes=15)),
        ("retention_purge", jobs.purge, IntervalTrigger(hours=6)),
    ]
    for job_id, function, trigger in every:
        # next_run_time=start: run once at start, which is the catch-up after downtime.
        scheduler.add_job(
            function,
            trigger,
            id=job_id,
            next_run_time=start,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    scheduler.add_listener(_log_job_error, EVENT_JOB_ERROR)
    return scheduler
