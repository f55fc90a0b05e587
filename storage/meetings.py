"""Meetings and who should hear about them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.collation import name_key
from storage.communities import NotAllowed, has_role
from storage.communities import membership as communities_membership
from storage.models import (
    AgendaItem,
    Attendance,
    Community,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Membership,
    Person,
    Role,
    Rsvp,
    RsvpAnswer,
    Topic,
    TopicStatus,
    Volet,
    utcnow,
)
from storage.outbox import cancel_pending
from storage.sql import insert_or_lock


@dataclass(frozen=True, slots=True)
class DueReminder:
    meeting_id: int
    starts_at: datetime
    person_id: int
    offset: str  # ISO 8601 duration, e.g. "P1D"


def parse_offset(text: str) -> timedelta:
    """'P7D', 'P1D', 'PT1H', 'PT30M' → timedelta (the subset of ISO 8601 durations we use)."""
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


# -- planning --


@dataclass(frozen=True, slots=True)
class AgendaDraft:
    starts_at: datetime
    title: str
    volet: Volet
    presenter: str | None = None
    topic_id: int | None = None


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    title: str
    starts_at: datetime
    ends_at: datetime
    mode: MeetingMode
    place: str | None
    online_link: str | None
    general_objective: str
    specific_objectives: list[str]


class InvalidMeeting(ValueError):
    """The reason is a short code the caller turns into a message (see cards catalogs)."""


MAX_AGENDA_ITEMS = 20


def check_draft(draft: MeetingDraft, *, now: datetime) -> None:
    if draft.ends_at <= draft.starts_at:
        raise InvalidMeeting("end_before_start")
    if draft.starts_at <= now:
        raise InvalidMeeting("in_the_past")
    if draft.ends_at - draft.starts_at > timedelta(hours=12):
        raise InvalidMeeting("too_long")
    if draft.mode in (MeetingMode.IN_PERSON, MeetingMode.HYBRID) and not draft.place:
        raise InvalidMeeting("place_required")
    if draft.mode in (MeetingMode.VIRTUAL, MeetingMode.HYBRID) and not draft.online_link:
        raise InvalidMeeting("link_required")
    if draft.online_link and not draft.online_link.startswith("https://"):
        raise InvalidMeeting("link_https")


def check_agenda(draft: MeetingDraft, items: list[AgendaDraft]) -> None:
    if not items or len(items) > MAX_AGENDA_ITEMS:
        raise InvalidMeeting("agenda_size")
    for item in items:
        if not item.title.strip():
            raise InvalidMeeting("agenda_title")
        if not draft.starts_at - timedelta(hours=1) <= item.starts_at <= draft.ends_at:
            raise InvalidMeeting("agenda_time")


async def _require_animator(
    session: AsyncSession, *, community_id: int, person_id: int | None
) -> None:
    if person_id is None:
        return  # the operator (CLI) or a scheduled job
    member = await communities_membership(session, person_id=person_id, community_id=community_id)
    if not has_role(member, Role.ANIMATOR):
        raise NotAllowed("animators only")


async def plan_meeting(
    session: AsyncSession,
    *,
    community_id: int,
    by_person_id: int | None,
    draft: MeetingDraft,
    agenda: list[AgendaDraft],
    now: datetime,
) -> Meeting:
    await _require_animator(session, community_id=community_id, person_id=by_person_id)
    check_draft(draft, now=now)
    check_agenda(draft, agenda)
    meeting = Meeting(
        community_id=community_id,
        title=draft.title,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        mode=draft.mode,
        place=draft.place,
        online_link=draft.online_link,
        general_objective=draft.general_objective,
        specific_objectives=list(draft.specific_objectives),
        created_by_id=by_person_id,
    )
    session.add(meeting)
    await session.flush()
    await _write_agenda(session, meeting, agenda)
    return meeting


async def _write_agenda(session: AsyncSession, meeting: Meeting, agenda: list[AgendaDraft]) -> None:
    assert meeting.id is not None
    for old in (
        await session.exec(sm_select(AgendaItem).where(AgendaItem.meeting_id == meeting.id))
    ).all():
        await session.delete(old)
    for position, item in enumerate(sorted(agenda, key=lambda i: i.starts_at)):
        session.add(
            AgendaItem(
                meeting_id=meeting.id,
                position=position,
                starts_at=item.starts_at,
                title=item.title.strip()[:200],
                volet=item.volet,
                presenter=(item.presenter or "").strip()[:200] or None,
                topic_id=item.topic_id,
            )
        )
        if item.topic_id is not None:
            topic = await session.get(Topic, item.topic_id)
            if topic is not None and topic.community_id == meeting.community_id:
                topic.status = TopicStatus.SCHEDULED
                topic.status_changed_at = utcnow()
    await session.flush()


async def replace_agenda(
    session: AsyncSession,
    *,
    meeting_id: int,
    by_person_id: int | None,
    draft: MeetingDraft,
    agenda: list[AgendaDraft],
) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise LookupError("no such meeting")
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    check_agenda(draft, agenda)
    meeting.general_objective = draft.general_objective
    meeting.specific_objectives = list(draft.specific_objectives)
    meeting.title = draft.title
    await _write_agenda(session, meeting, agenda)
    return meeting


async def agenda_of(session: AsyncSession, *, meeting_id: int) -> list[AgendaItem]:
    return list(
        (
            await session.exec(
                sm_select(AgendaItem)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(col(AgendaItem.position))
            )
        ).all()
    )


async def record_posted(
    session: AsyncSession,
    *,
    meeting_id: int,
    conversation_ref_id: int | None,
    activity_id: str | None,
) -> None:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is not None:
        meeting.conversation_ref_id = conversation_ref_id
        meeting.activity_id = activity_id
        await session.flush()


async def upcoming(session: AsyncSession, *, community_id: int, now: datetime) -> Meeting | None:
    return (
        await session.exec(
            sm_select(Meeting)
            .where(Meeting.community_id == community_id)
            .where(Meeting.status == MeetingStatus.SCHEDULED)
            .where(col(Meeting.ends_at) > now)
            .order_by(col(Meeting.starts_at))
        )
    ).first()


# -- RSVP --


async def answer_rsvp(
    session: AsyncSession, *, meeting_id: int, person_id: int, answer: RsvpAnswer, now: datetime
) -> tuple[Meeting, bool]:
    """Record the person's answer; True when it changed anything (a second click with the same
    answer, even at the same moment, changes nothing and returns False)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.status != MeetingStatus.SCHEDULED or meeting.ends_at <= now:
        raise InvalidMeeting("not_open")
    member = await communities_membership(
        session, person_id=person_id, community_id=meeting.community_id
    )
    if member is None or member.left_at is not None:
        raise NotAllowed("members only")
    # Two clicks at once make one row; the second finds the first's answer.
    row, created = await insert_or_lock(
        session,
        Rsvp,
        {"meeting_id": meeting_id, "person_id": person_id, "answer": answer, "answered_at": now},
        key=["meeting_id", "person_id"],
    )
    if created:
        return meeting, True
    if row.answer == answer:
        return meeting, False
    row.answer = answer
    row.answered_at = now
    session.add(row)
    await session.flush()
    return meeting, True


async def rsvp_counts(session: AsyncSession, *, meeting_id: int) -> dict[str, int]:
    rows = (
        await session.execute(
            select(col(Rsvp.answer), func.count())
            .where(col(Rsvp.meeting_id) == meeting_id)
            .group_by(col(Rsvp.answer))
        )
    ).all()
    counts = {answer.value: 0 for answer in RsvpAnswer}
    counts.update({str(answer): int(count) for answer, count in rows})
    return counts


async def people_who_answered(
    session: AsyncSession, *, meeting_id: int, answer: RsvpAnswer
) -> list[int]:
    return list(
        (
            await session.execute(
                select(col(Rsvp.person_id))
                .where(col(Rsvp.meeting_id) == meeting_id)
                .where(col(Rsvp.answer) == answer)
                .order_by(col(Rsvp.person_id))
            )
        ).scalars()
    )


# -- changes --


async def cancel_meeting(
    session: AsyncSession, *, meeting_id: int, by_person_id: int | None
) -> tuple[Meeting, list[int]]:
    """Cancel; pending reminders are cancelled. Returns who had accepted (to tell them)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise LookupError("no such meeting")
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.status != MeetingStatus.SCHEDULED:
        raise InvalidMeeting("not_open")
    meeting.status = MeetingStatus.CANCELLED
    await cancel_pending(session, dedup_key_prefix=f"reminder:{meeting_id}:")
    await session.flush()
    return meeting, await people_who_answered(session, meeting_id=meeting_id, answer=RsvpAnswer.YES)


async def move_meeting(
    session: AsyncSession,
    *,
    meeting_id: int,
    by_person_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> tuple[Meeting, datetime, list[int]]:
    """Move the meeting (and its agenda times); reminders for the old time are cancelled and
    the reminder job queues new ones. Returns the meeting, its old start and who had accepted."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise LookupError("no such meeting")
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.status != MeetingStatus.SCHEDULED:
        raise InvalidMeeting("not_open")
    check_draft(
        MeetingDraft(
            title=meeting.title,
            starts_at=starts_at,
            ends_at=ends_at,
            mode=MeetingMode(meeting.mode),
            place=meeting.place,
            online_link=meeting.online_link,
            general_objective=meeting.general_objective,
            specific_objectives=meeting.specific_objectives,
        ),
        now=now,
    )
    old_start = meeting.starts_at
    shift = starts_at - old_start
    for item in await agenda_of(session, meeting_id=meeting_id):
        item.starts_at = item.starts_at + shift
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    await cancel_pending(
        session, dedup_key_prefix=f"reminder:{meeting_id}:{old_start:%Y%m%dT%H%M}:"
    )
    await session.flush()
    accepted = await people_who_answered(session, meeting_id=meeting_id, answer=RsvpAnswer.YES)
    return meeting, old_start, accepted


# -- attendance --


async def meetings_awaiting_attendance(session: AsyncSession, *, now: datetime) -> list[Meeting]:
    """Meetings that ended (within the last 30 days) and whose attendance is not confirmed."""
    return list(
        (
            await session.exec(
                sm_select(Meeting)
                .where(Meeting.status == MeetingStatus.SCHEDULED)
                .where(col(Meeting.ends_at) <= now)
                .where(col(Meeting.ends_at) > now - timedelta(days=30))
                .where(col(Meeting.attendance_confirmed_at).is_(None))
            )
        ).all()
    )


async def confirm_attendance(
    session: AsyncSession,
    *,
    meeting_id: int,
    by_person_id: int | None,
    attendee_ids: list[int],
    now: datetime,
) -> tuple[Meeting, bool]:
    """Store who attended (minutes = the meeting's length); replaces an earlier confirmation.
    False when the same list was already confirmed (a second click): nothing is rewritten."""
    # The meeting's row locked on PostgreSQL: two submissions at once take turns, and the
    # second finds the first's list (SQLite: BEGIN IMMEDIATE, storage/db.py).
    meeting = (
        await session.exec(
            sm_select(Meeting)
            .where(Meeting.id == meeting_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if meeting is None:
        raise LookupError("no such meeting")
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.ends_at > now:
        raise InvalidMeeting("not_ended")
    members = set(
        (
            await session.execute(
                select(col(Membership.person_id)).where(
                    col(Membership.community_id) == meeting.community_id
                )
            )
        ).scalars()
    )
    present = set(attendee_ids) & members
    minutes = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
    earlier = (
        await session.exec(sm_select(Attendance).where(Attendance.meeting_id == meeting_id))
    ).all()
    if meeting.attendance_confirmed_at is not None and {a.person_id for a in earlier} == present:
        return meeting, False
    for old in earlier:
        await session.delete(old)
    await session.flush()
    for person_id in sorted(present):
        session.add(
            Attendance(
                meeting_id=meeting_id,
                person_id=person_id,
                minutes=minutes,
                confirmed_by_id=by_person_id,
                confirmed_at=now,
            )
        )
    meeting.attendance_confirmed_at = now
    meeting.status = MeetingStatus.DONE
    await session.flush()
    return meeting, True


async def attendance_roster(
    session: AsyncSession, *, meeting_id: int
) -> list[tuple[Person, RsvpAnswer | None]]:
    """Active members of the meeting's community with their RSVP (to pre-check the list)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return []
    rows = (
        await session.execute(
            select(Person, col(Rsvp.answer))
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .outerjoin(
                Rsvp,
                and_(col(Rsvp.meeting_id) == meeting_id, col(Rsvp.person_id) == col(Person.id)),
            )
            .where(col(Membership.community_id) == meeting.community_id)
            .where(col(Membership.left_at).is_(None))
        )
    ).all()
    roster = [(person, RsvpAnswer(answer) if answer else None) for person, answer in rows]
    return sorted(roster, key=lambda row: (name_key(row[0].name), row[0].id or 0))


async def attendees(session: AsyncSession, *, meeting_id: int) -> list[Attendance]:
    return list(
        (await session.exec(sm_select(Attendance).where(Attendance.meeting_id == meeting_id))).all()
    )
