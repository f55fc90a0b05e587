"""Timed work. APScheduler only wakes jobs up; the database decides who does what.

Every job is idempotent and catches up after downtime (each runs once at start): reminders
come from the outbox's unique keys, so two replicas running the same job queue each message
once. Each feature declares its own jobs (`Feature.jobs`, bot/registry.py); the host's
(retention, the outbox's status) are here. `Jobs` runs them by name, which tests do directly
with a frozen clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.consultations_flow import purge_summaries
from bot.registry import DuplicateDeclaration, Job, JobContext
from bot.settings import Settings
from storage import activities, outbox
from storage.db import SessionFactory
from storage.models import utcnow

logger = logging.getLogger(__name__)


async def purge(context: JobContext) -> dict[str, int]:
    """Forget what retention no longer requires."""
    settings, sessions = context.settings, context.sessions
    purged = {
        "outbox": await outbox.purge_history(
            sessions, older_than=timedelta(days=settings.outbox_retention_days)
        ),
        "consultation_summaries": await purge_summaries(
            sessions=sessions,
            now=context.now(),
            retention_days=settings.consultation_retention_days,
        ),
        "processed_activities": await activities.purge_processed(
            sessions,
            older_than=timedelta(hours=settings.processed_activity_retention_hours),
        ),
    }
    logger.info("retention purge: %s", purged)
    return purged


async def log_outbox_status(context: JobContext) -> dict[str, int]:
    counts = await outbox.counts_by_status(context.sessions)
    logger.info("outbox: %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


# The host's own jobs, of no feature.
HOST_JOBS: tuple[Job, ...] = (
    Job("outbox_status", timedelta(minutes=15), log_outbox_status),
    Job("retention_purge", timedelta(hours=6), purge),
)


class Jobs:
    """Runs the features' jobs (the registry's, given by bot/app.py) and the host's by name."""

    def __init__(
        self,
        *,
        jobs: Mapping[str, Job],
        settings: Settings,
        sessions: SessionFactory,
        wake_dispatcher: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        every = dict(jobs)
        for job in HOST_JOBS:
            if job.name in every:
                raise DuplicateDeclaration(f"job {job.name!r} is the host's")
            every[job.name] = job
        self._jobs = MappingProxyType(every)
        self._context = JobContext(
            settings=settings, sessions=sessions, wake=wake_dispatcher, clock=clock
        )

    @property
    def jobs(self) -> Mapping[str, Job]:
        """Every job, the features' and the host's, by name (its scheduler id)."""
        return self._jobs

    async def run(self, name: str) -> object:
        """Runs one job now; a KeyError for a name no feature nor the host declares."""
        return await self._jobs[name].run(self._context)


def _log_job_error(event: JobExecutionEvent) -> None:
    logger.error("scheduled job %s failed", event.job_id, exc_info=event.exception)


def build_scheduler(jobs: Jobs, settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=ZoneInfo(settings.timezone))
    start = datetime.now(ZoneInfo(settings.timezone))
    for name, job in jobs.jobs.items():
        # next_run_time=start: run once at start, which is the catch-up after downtime.
        scheduler.add_job(
            jobs.run,
            IntervalTrigger(seconds=job.every.total_seconds()),
            args=(name,),
            id=name,
            next_run_time=start,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    scheduler.add_listener(_log_job_error, EVENT_JOB_ERROR)
    return scheduler
