"""Meetings and who should hear about them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Community,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Rsvp,
    RsvpAnswer,
)


@dataclass(frozen=True, slots=True)
class DueReminder:
    meeting_id: int
    starts_at: datetime
    person_id: int
    offset: str  # ISO 8601 duration, e.g. "P1D"


def parse_offset(text: str) -> timedelta:
    """'P7D', 'P1D', 'PT1H', 'PT30M' → timedelta (the subset of ISO 8601 durations we use)."""
    import re

    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", text)
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration like P7D or PT1H: {text!r}")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def latest_due_offset(starts_at: datetime, now: datetime, offsets: list[str]) -> str | None:
    """The reminder to send now: the closest-to-the-meeting offset whose moment has come.

    After downtime, only the latest due reminder goes out (not J-7 and J-1 together)."""
    due = [(parse_offset(o), o) for o in offsets if starts_at - parse_offset(o) <= now < starts_at]
    return min(due)[1] if due else None


async def due_reminders(
    session: AsyncSession, *, now: datetime, default_offsets: list[str]
) -> list[DueReminder]:
    """Who should get which reminder now: active members who consented to reminders and did
    not decline the meeting."""
    longest = max(parse_offset(o) for o in default_offsets)
    meetings = (
        await session.execute(
            select(Meeting, Community)
            .join(Community, col(Community.id) == col(Meeting.community_id))
            .where(col(Meeting.status) == MeetingStatus.SCHEDULED)
            .where(col(Meeting.starts_at) > now)
            # Communities may use longer offsets than the default; filtered precisely below.
            .where(col(Meeting.starts_at) <= now + max(longest, timedelta(days=60)))
        )
    ).all()
    found: list[DueReminder] = []
    for meeting, community in meetings:
        configured = community.settings.get("reminder_offsets")
        offsets = (
            [str(o) for o in configured]
            if isinstance(configured, list) and configured
            else default_offsets
        )
        offset = latest_due_offset(meeting.starts_at, now, offsets)
        if offset is None or meeting.id is None:
            continue
        people = (
            await session.execute(
                select(col(Membership.person_id))
                .join(Person, col(Person.id) == col(Membership.person_id))
                .outerjoin(
                    Rsvp,
                    and_(
                        col(Rsvp.meeting_id) == meeting.id,
                        col(Rsvp.person_id) == col(Membership.person_id),
                    ),
                )
                .where(col(Membership.community_id) == meeting.community_id)
                .where(col(Membership.left_at).is_(None))
                .where(col(Person.consent_reminders).is_(True))
                .where(or_(col(Rsvp.answer).is_(None), col(Rsvp.answer) != RsvpAnswer.NO))
                .order_by(col(Membership.person_id))
            )
        ).scalars()
        found.extend(
            DueReminder(meeting.id, meeting.starts_at, person_id, offset) for person_id in people
        )
    return found


async def meeting_with_community(
    session: AsyncSession, *, meeting_id: int
) -> tuple[Meeting, Community] | None:
    row = (
        await session.execute(
            select(Meeting, Community)
            .join(Community, col(Community.id) == col(Meeting.community_id))
            .where(col(Meeting.id) == meeting_id)
        )
    ).first()
    return (row[0], row[1]) if row else None
