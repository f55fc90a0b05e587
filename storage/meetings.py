"""Meetings and who should hear about them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.collation import name_key
from storage.communities import NotAllowed, has_role, hosted_by, people_with_role
from storage.communities import membership as communities_membership
from storage.models import (
    AgendaItem,
    Attendance,
    CohostStatus,
    Community,
    ConversationRef,
    Meeting,
    MeetingCard,
    MeetingCohost,
    MeetingMode,
    MeetingStatus,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Rsvp,
    RsvpAnswer,
    Topic,
    TopicStatus,
    Volet,
    utcnow,
)
from storage.outbox import Recipient, cancel_pending, enqueue
from storage.sql import insert_if_absent, insert_or_lock


@dataclass(frozen=True, slots=True)
class DueReminder:
    meeting_id: int
    starts_at: datetime
    person_id: int
    offset: str  # ISO 8601 duration, e.g. "P1D"


# -- outbox kinds and keys ----------------------------------------------------------------------
# A key must keep today's exact format: spelled differently, it would not deduplicate against
# a row already queued, and the message would go out twice.

KIND_REMINDER = "meeting_reminder"  # J-7, J-1, H-1: params {"meeting_id", "offset"}
KIND_CHANGE = "meeting_change"  # cancelled, restored or moved: params {"meeting_id", "change", …}
KIND_AGENDA_CARD = "agenda_card"  # a posted agenda card updated in place
KIND_ATTENDANCE = "attendance_request"  # after the meeting, the list to confirm (animators)
# Joint meetings: params {"meeting_id", "community_id"} (the co-host), plus "change" for notices.
KIND_COHOST_INVITATION = "meeting_cohost_invitation"  # to each facilitator of the invited one
KIND_COHOST_POST = "meeting_cohost_post"  # the agenda card, posted in the co-host's channel
KIND_COHOST_NOTICE = "meeting_cohost_notice"  # accepted, declined or withdrawn: to the other side


def reminders_prefix(meeting_id: int) -> str:
    """Every reminder of the meeting (cancelling it withdraws those still pending)."""
    return f"reminder:{meeting_id}:"


def reminders_at_prefix(meeting_id: int, starts_at: datetime) -> str:
    """The reminders planned for one start time (moving the meeting withdraws them)."""
    return f"{reminders_prefix(meeting_id)}{starts_at:%Y%m%dT%H%M}:"


def reminder_key(reminder: DueReminder) -> str:
    # The start time is part of the key: a moved meeting gets fresh reminders.
    return (
        f"{reminders_at_prefix(reminder.meeting_id, reminder.starts_at)}"
        f"{reminder.person_id}:{reminder.offset}"
    )


def cancellation_notice_prefix(meeting: Meeting) -> str:
    """The outbox keys of the notices of the meeting's latest cancellation (`sequence` tells a
    second cancellation, after a restore, from the first)."""
    return f"meeting:{meeting.id}:cancelled:{meeting.sequence}:to:"


def restored_notice_prefix(meeting: Meeting) -> str:
    """The notices of the meeting's restore (after the cancellation of the same `sequence`)."""
    return f"meeting:{meeting.id}:restored:{meeting.sequence}:to:"


def moved_notice_prefix(meeting: Meeting, starts_at: datetime) -> str:
    """The notices of the meeting's move to `starts_at` (a move elsewhere tells again)."""
    return f"meeting:{meeting.id}:moved:{starts_at:%Y%m%dT%H%M}:to:"


def change_notice_key(prefix: str, person_id: int) -> str:
    """One change notice, under one of the three prefixes above."""
    return f"{prefix}{person_id}"


def agenda_card_key(meeting_id: int | None, nonce: str) -> str:
    """One update of a posted agenda card; `nonce` makes every update its own row."""
    return f"agenda_card:{meeting_id}:{nonce}"


def attendance_key(meeting_id: int | None, animator_id: int | None) -> str:
    return f"attendance:{meeting_id}:to:{animator_id}"


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
        # A joint meeting reminds the members of every community hosting it, once each.
        hosts = await host_ids(session, meeting=meeting)
        people = (
            await session.execute(
                select(col(Membership.person_id))
                .distinct()
                .join(Person, col(Person.id) == col(Membership.person_id))
                .outerjoin(
                    Rsvp,
                    and_(
                        col(Rsvp.meeting_id) == meeting.id,
                        col(Rsvp.person_id) == col(Membership.person_id),
                    ),
                )
                .where(col(Membership.community_id).in_(hosts))
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
    draft_key: str | None = None,
) -> tuple[Meeting, bool]:
    """Publish a draft; True when this call created the meeting. A draft publishes once: with
    the same `draft_key` (the same button clicked again, two clicks at once, an older copy of
    the draft card), the meeting already published is returned unchanged with False."""
    await _require_animator(session, community_id=community_id, person_id=by_person_id)
    if draft_key is not None:
        published = await _published_draft(session, community_id=community_id, draft_key=draft_key)
        if published is not None:
            return published, False
    check_draft(draft, now=now)
    check_agenda(draft, agenda)
    values: dict[str, Any] = {
        "community_id": community_id,
        "title": draft.title,
        "starts_at": draft.starts_at,
        "ends_at": draft.ends_at,
        "mode": draft.mode,
        "place": draft.place,
        "online_link": draft.online_link,
        "status": MeetingStatus.SCHEDULED,
        "general_objective": draft.general_objective,
        "specific_objectives": list(draft.specific_objectives),
        "created_by_id": by_person_id,
        "created_at": now,
        "draft_key": draft_key,
        "sequence": 0,
    }
    if draft_key is None:
        meeting = Meeting(**values)
        session.add(meeting)
        await session.flush()
    else:
        # Two publishes at once insert one row: the second waits for the first's lock and
        # finds its meeting (the unique draft key), never a second meeting.
        meeting, created = await insert_or_lock(session, Meeting, values, key=["draft_key"])
        if not created:
            return meeting, False
    await _write_agenda(session, meeting, agenda)
    return meeting, True


async def _published_draft(
    session: AsyncSession, *, community_id: int, draft_key: str
) -> Meeting | None:
    return (
        await session.exec(
            sm_select(Meeting)
            .where(Meeting.draft_key == draft_key)
            .where(Meeting.community_id == community_id)
        )
    ).first()


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


async def upcoming(
    session: AsyncSession, *, community_id: int, now: datetime, joint: bool = False
) -> Meeting | None:
    found = await upcoming_meetings(
        session, community_id=community_id, now=now, limit=1, joint=joint
    )
    return found[0] if found else None


async def upcoming_meetings(
    session: AsyncSession,
    *,
    community_id: int,
    now: datetime,
    limit: int = 10,
    status: MeetingStatus = MeetingStatus.SCHEDULED,
    joint: bool = False,
) -> list[Meeting]:
    """The community's meetings in `status` that have not ended, soonest first (cancelled
    ones that have not started are those a facilitator can still restore). With `joint`, also
    the joint meetings it co-hosts (to show them; only their host changes them)."""
    ends_after = now if status == MeetingStatus.SCHEDULED else None
    return list(
        (
            await session.exec(
                sm_select(Meeting)
                .where(
                    hosted_by(community_id) if joint else col(Meeting.community_id) == community_id
                )
                .where(Meeting.status == status)
                .where(
                    col(Meeting.ends_at) > ends_after
                    if ends_after is not None
                    else col(Meeting.starts_at) > now
                )
                .order_by(col(Meeting.starts_at), col(Meeting.id))
                .limit(limit)
            )
        ).all()
    )


# -- the posted copies of the agenda card --


async def record_card_copy(
    session: AsyncSession,
    *,
    meeting_id: int,
    conversation_ref_id: int,
    activity_id: str,
    locale: str,
    now: datetime,
) -> None:
    """Remember a posted agenda card (published, or shown again) to keep it current."""
    await insert_if_absent(
        session,
        MeetingCard.__table__,  # type: ignore[attr-defined]
        {
            "meeting_id": meeting_id,
            "conversation_ref_id": conversation_ref_id,
            "activity_id": activity_id[:255],
            "locale": locale[:16],
            "posted_at": now,
        },
        conflict=["conversation_ref_id", "activity_id"],
    )


async def card_copies(session: AsyncSession, *, meeting: Meeting) -> list[tuple[int, str, str]]:
    """(conversation, activity id, locale) of every posted copy of the meeting's agenda card,
    the published one first (also for meetings published before copies were recorded)."""
    rows = (
        await session.exec(
            sm_select(MeetingCard)
            .where(MeetingCard.meeting_id == meeting.id)
            .order_by(col(MeetingCard.id))
        )
    ).all()
    copies: list[tuple[int, str, str]] = []
    if meeting.conversation_ref_id is not None and meeting.activity_id:
        posted = next(
            (
                row
                for row in rows
                if (row.conversation_ref_id, row.activity_id)
                == (meeting.conversation_ref_id, meeting.activity_id)
            ),
            None,
        )
        copies.append(
            (meeting.conversation_ref_id, meeting.activity_id, posted.locale if posted else "")
        )
    copies += [
        (row.conversation_ref_id, row.activity_id, row.locale)
        for row in rows
        if (row.conversation_ref_id, row.activity_id)
        != (meeting.conversation_ref_id, meeting.activity_id)
    ]
    return copies


# -- RSVP --


async def answer_rsvp(
    session: AsyncSession, *, meeting_id: int, person_id: int, answer: RsvpAnswer, now: datetime
) -> tuple[Meeting, bool]:
    """Record the person's answer; True when it changed anything (a second click with the same
    answer, even at the same moment, changes nothing and returns False)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.status != MeetingStatus.SCHEDULED or meeting.ends_at <= now:
        raise InvalidMeeting("not_open")
    if not await is_attendee(session, meeting=meeting, person_id=person_id):
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


async def rsvp_of(session: AsyncSession, *, meeting_id: int, person_id: int) -> RsvpAnswer | None:
    """This person's own answer (for their view of the agenda card alone)."""
    answer = (
        await session.execute(
            select(col(Rsvp.answer))
            .where(col(Rsvp.meeting_id) == meeting_id)
            .where(col(Rsvp.person_id) == person_id)
        )
    ).scalar_one_or_none()
    return RsvpAnswer(answer) if answer is not None else None


async def respondents(session: AsyncSession, *, meeting_id: int) -> list[int]:
    """Everyone who answered, whatever the answer, by person id."""
    return list(
        (
            await session.execute(
                select(col(Rsvp.person_id))
                .where(col(Rsvp.meeting_id) == meeting_id)
                .order_by(col(Rsvp.person_id))
            )
        ).scalars()
    )


# -- changes --


async def _locked_meeting(session: AsyncSession, meeting_id: int) -> Meeting:
    """The meeting's row, locked for the rest of the transaction on PostgreSQL (SQLite: BEGIN
    IMMEDIATE, storage/db.py): two clicks at once take turns, the second sees the first's work."""
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
    return meeting


async def check_cancellable(
    session: AsyncSession, *, meeting_id: int, by_person_id: int | None, now: datetime
) -> tuple[Meeting, list[int]]:
    """What cancelling would do, without doing it: the meeting and who accepted it (they
    will get a notice). NotAllowed, LookupError, InvalidMeeting as `cancel_meeting`."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise LookupError("no such meeting")
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.status == MeetingStatus.CANCELLED:
        raise InvalidMeeting("already_cancelled")
    if meeting.status != MeetingStatus.SCHEDULED or meeting.ends_at <= now:
        raise InvalidMeeting("not_open")
    return meeting, await told_of_changes(session, meeting=meeting)


async def cancel_meeting(
    session: AsyncSession, *, meeting_id: int, by_person_id: int | None, now: datetime | None = None
) -> tuple[Meeting, list[int]]:
    """Cancel; pending reminders are cancelled and the calendar sequence moves on. Returns who
    to tell: who had accepted and, for a joint meeting, the co-hosts' facilitators. A second
    cancel (a double click) raises InvalidMeeting."""
    meeting = await _locked_meeting(session, meeting_id)
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.status == MeetingStatus.CANCELLED:
        raise InvalidMeeting("already_cancelled")
    if meeting.status != MeetingStatus.SCHEDULED or (now is not None and meeting.ends_at <= now):
        raise InvalidMeeting("not_open")
    meeting.status = MeetingStatus.CANCELLED
    meeting.sequence += 1
    await cancel_pending(session, dedup_key_prefix=reminders_prefix(meeting_id))
    await session.flush()
    return meeting, await told_of_changes(session, meeting=meeting)


async def restore_meeting(
    session: AsyncSession, *, meeting_id: int, by_person_id: int | None, now: datetime
) -> tuple[Meeting, list[int]]:
    """Undo a cancellation, until the meeting starts. Returns the people who got the
    cancellation notice (they hear of the restore); notices still queued are withdrawn, and
    the reminders withdrawn at the cancellation are forgotten so the reminder job plans them
    again. InvalidMeeting("not_cancelled") for a meeting that is not cancelled (a second
    click), InvalidMeeting("restore_too_late") once it has started."""
    meeting = await _locked_meeting(session, meeting_id)
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.status != MeetingStatus.CANCELLED:
        raise InvalidMeeting("not_cancelled")
    if meeting.starts_at <= now:
        raise InvalidMeeting("restore_too_late")
    prefix = cancellation_notice_prefix(meeting)
    await cancel_pending(session, dedup_key_prefix=prefix)
    # Sent, or being sent right now: these people read « annulée ».
    told = (
        (
            await session.execute(
                select(col(OutboxMessage.person_id))
                .where(col(OutboxMessage.dedup_key).startswith(prefix, autoescape=True))
                .where(col(OutboxMessage.status).in_([OutboxStatus.SENT, OutboxStatus.SENDING]))
                .where(col(OutboxMessage.person_id).is_not(None))
                .order_by(col(OutboxMessage.person_id))
            )
        )
        .scalars()
        .all()
    )
    # Withdrawn reminders keep their keys; without this the job would skip them as sent.
    await session.execute(
        delete(OutboxMessage)
        .where(col(OutboxMessage.dedup_key).startswith(f"reminder:{meeting_id}:", autoescape=True))
        .where(col(OutboxMessage.status) == OutboxStatus.CANCELLED)
    )
    meeting.status = MeetingStatus.SCHEDULED
    meeting.sequence += 1
    await session.flush()
    return meeting, sorted({int(person_id) for person_id in told})


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
    the reminder job queues new ones. Returns the meeting, its old start and who to tell (who
    had accepted; for a joint meeting, the co-hosts' facilitators too)."""
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
    meeting.sequence += 1
    await cancel_pending(session, dedup_key_prefix=reminders_at_prefix(meeting_id, old_start))
    await session.flush()
    return meeting, old_start, await told_of_changes(session, meeting=meeting)


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


def training_minutes(meeting: Meeting, items: Sequence[AgendaItem]) -> int:
    """Continuing-education time of a meeting: its length less the agenda's meals and breaks
    (items marked `Volet.MEAL`, each lasting until the next item or the end of the meeting),
    counted within the meeting's hours only."""
    ordered = sorted(items, key=lambda item: (item.starts_at, item.position))
    excluded = timedelta()
    for n, item in enumerate(ordered):
        if item.volet != Volet.MEAL:
            continue
        until = ordered[n + 1].starts_at if n + 1 < len(ordered) else meeting.ends_at
        begin, finish = max(item.starts_at, meeting.starts_at), min(until, meeting.ends_at)
        if finish > begin:
            excluded += finish - begin
    length = meeting.ends_at - meeting.starts_at
    return max(int((length - excluded).total_seconds() // 60), 0)


@dataclass(frozen=True, slots=True)
class AttendanceChange:
    """What a submission of the attendance list did (or would do, for removals that need
    the animator's confirmation first)."""

    meeting: Meeting
    added: list[Person]
    removed: list[Person]
    needs_confirmation: list[Person]  # recorded people the submission unchecks, not yet removed
    recorded: int  # people recorded present after the submission
    changed: bool  # something was written (a first confirmation, even of nobody, is a change)


async def _people(session: AsyncSession, ids: set[int]) -> list[Person]:
    if not ids:
        return []
    found = (await session.exec(sm_select(Person).where(col(Person.id).in_(ids)))).all()
    return sorted(found, key=lambda p: (name_key(p.name or ""), p.id or 0))


async def record_attendance(
    session: AsyncSession,
    *,
    meeting_id: int,
    by_person_id: int | None,
    present_ids: list[int],
    absent_ids: list[int],
    removal_confirmed: bool,
    now: datetime,
) -> AttendanceChange:
    """Record a submission of the attendance list as a change to what is recorded: people
    checked and not recorded are added (with the meeting's training time); recorded people
    the submission unchecks are removed only when `removal_confirmed`, otherwise they are
    returned in `needs_confirmation` and nothing at all is written. People the submission does
    not mention (not on that copy of the card) keep what they have. The same list again (a
    double click, a stale card) changes nothing."""
    # Two submissions at once take turns, and the second finds the first's list.
    meeting = await _locked_meeting(session, meeting_id)
    # A joint meeting's list: any host's facilitator confirms it, for the members of all.
    hosts = await host_ids(session, meeting=meeting)
    await _require_animator_of_any(session, community_ids=hosts, person_id=by_person_id)
    if meeting.ends_at > now:
        raise InvalidMeeting("not_ended")
    if meeting.status == MeetingStatus.CANCELLED:
        raise InvalidMeeting("not_open")
    members = set(
        (
            await session.execute(
                select(col(Membership.person_id)).where(col(Membership.community_id).in_(hosts))
            )
        ).scalars()
    )
    earlier = {
        a.person_id: a
        for a in (
            await session.exec(sm_select(Attendance).where(Attendance.meeting_id == meeting_id))
        ).all()
    }
    present = set(present_ids) & members
    to_add = present - set(earlier)
    to_remove = (set(absent_ids) - present) & set(earlier)
    first_time = meeting.attendance_confirmed_at is None
    if to_remove and not removal_confirmed:
        pending = await _people(session, to_remove)
        return AttendanceChange(meeting, [], [], pending, recorded=len(earlier), changed=False)
    if not to_add and not to_remove and not first_time:
        return AttendanceChange(meeting, [], [], [], recorded=len(earlier), changed=False)
    for person_id in to_remove:
        await session.delete(earlier[person_id])
    minutes = training_minutes(meeting, await agenda_of(session, meeting_id=meeting_id))
    for person_id in sorted(to_add):
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
    added, removed = await _people(session, to_add), await _people(session, to_remove)
    recorded = len(earlier) + len(added) - len(removed)
    return AttendanceChange(meeting, added, removed, [], recorded=recorded, changed=True)


async def confirm_attendance(
    session: AsyncSession,
    *,
    meeting_id: int,
    by_person_id: int | None,
    attendee_ids: list[int],
    now: datetime,
) -> tuple[Meeting, bool]:
    """The whole list as an operator (or a test) states it: those not listed are removed
    without asking. False when it was already recorded so (a second call changes nothing).
    Animators go through `record_attendance`, which asks before removing anyone."""
    recorded = (
        await session.execute(
            select(col(Attendance.person_id)).where(col(Attendance.meeting_id) == meeting_id)
        )
    ).scalars()
    change = await record_attendance(
        session,
        meeting_id=meeting_id,
        by_person_id=by_person_id,
        present_ids=attendee_ids,
        absent_ids=[p for p in recorded if p not in set(attendee_ids)],
        removal_confirmed=True,
        now=now,
    )
    return change.meeting, change.changed


async def attendance_roster(
    session: AsyncSession, *, meeting_id: int
) -> list[tuple[Person, RsvpAnswer | None]]:
    """Active members of the meeting's communities (its host's, and a joint meeting's
    co-hosts') with their RSVP (to pre-check the list), each person once."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return []
    active_members = (
        select(col(Membership.person_id))
        .where(col(Membership.community_id).in_(await host_ids(session, meeting=meeting)))
        .where(col(Membership.left_at).is_(None))
    )
    rows = (
        await session.execute(
            select(Person, col(Rsvp.answer))
            .outerjoin(
                Rsvp,
                and_(col(Rsvp.meeting_id) == meeting_id, col(Rsvp.person_id) == col(Person.id)),
            )
            .where(col(Person.id).in_(active_members))
        )
    ).all()
    roster = [(person, RsvpAnswer(answer) if answer else None) for person, answer in rows]
    return sorted(roster, key=lambda row: (name_key(row[0].name), row[0].id or 0))


@dataclass(frozen=True, slots=True)
class AttendanceLine:
    person: Person
    answer: RsvpAnswer | None
    minutes: int | None  # recorded present for so many minutes; None when not recorded


@dataclass(frozen=True, slots=True)
class AttendanceSheet:
    """The attendance card's content: what is recorded once confirmed (the RSVPs before)."""

    meeting: Meeting
    community: Community
    confirmed: bool
    training_minutes: int  # what a person added now would be credited
    lines: list[AttendanceLine]


async def attendance_sheet(session: AsyncSession, *, meeting_id: int) -> AttendanceSheet | None:
    """Active members and anyone recorded present (even if they left since), alphabetically,
    with their RSVP and recorded minutes."""
    found = await meeting_with_community(session, meeting_id=meeting_id)
    if found is None:
        return None
    meeting, community = found
    recorded = {
        a.person_id: a.minutes
        for a in (
            await session.exec(sm_select(Attendance).where(Attendance.meeting_id == meeting_id))
        ).all()
    }
    roster = await attendance_roster(session, meeting_id=meeting_id)
    listed = {person.id for person, _answer in roster}
    missing = await _people(session, {p for p in recorded if p not in listed})
    lines = [
        AttendanceLine(person, answer, recorded.get(person.id or 0))
        for person, answer in [*roster, *[(p, None) for p in missing]]
    ]
    lines.sort(key=lambda line: (name_key(line.person.name or ""), line.person.id or 0))
    return AttendanceSheet(
        meeting=meeting,
        community=community,
        confirmed=meeting.attendance_confirmed_at is not None,
        training_minutes=training_minutes(meeting, await agenda_of(session, meeting_id=meeting_id)),
        lines=lines,
    )


async def attendees(session: AsyncSession, *, meeting_id: int) -> list[Attendance]:
    return list(
        (await session.exec(sm_select(Attendance).where(Attendance.meeting_id == meeting_id))).all()
    )


# -- joint meetings --
#
# A facilitator of the host community invites another community to co-host one of its
# meetings (the seeds' CLSC and hospital committees, « réalisées conjointement »). Consent:
# nothing reaches the invited community's channel, members or figures until one of ITS
# facilitators accepts. The inviter accepts at once only when they facilitate both
# communities (they already speak for both); an operator's invitation (no person) still
# waits for a yes. Otherwise one community could fill another's channel and reminders, and
# change the other's vitality figures, without its say. Either side may end the co-hosting
# before the meeting starts. A joint meeting is posted and reminded in both channels, members
# of both answer and attend it, and it counts in both communities' figures; only its host
# changes it (agenda, move, cancel), and every copy of its card follows.


def cohost_invitation_key(cohost: MeetingCohost, person_id: int) -> str:
    """One invitation card to one facilitator of the invited community, per invitation round
    (an invitation after a refusal is a new one)."""
    return f"cohost:{cohost.meeting_id}:{cohost.community_id}:{cohost.round}:invite:to:{person_id}"


def cohost_post_key(cohost: MeetingCohost) -> str:
    """The agenda card in the co-host's channel: once per acceptance, however many clicks."""
    return f"cohost:{cohost.meeting_id}:{cohost.community_id}:{cohost.round}:post"


def cohost_notice_key(cohost: MeetingCohost, change: str, person_id: int) -> str:
    return (
        f"cohost:{cohost.meeting_id}:{cohost.community_id}:{cohost.round}:{change}:to:{person_id}"
    )


async def host_ids(session: AsyncSession, *, meeting: Meeting) -> list[int]:
    """The meeting's community, then the communities that accepted to co-host it."""
    cohosting = (
        await session.execute(
            select(col(MeetingCohost.community_id))
            .where(col(MeetingCohost.meeting_id) == meeting.id)
            .where(col(MeetingCohost.status) == CohostStatus.ACCEPTED)
            .order_by(col(MeetingCohost.id))
        )
    ).scalars()
    return [meeting.community_id, *(int(c) for c in cohosting)]


async def cohosts(
    session: AsyncSession,
    *,
    meeting_id: int,
    statuses: Sequence[CohostStatus] = (CohostStatus.ACCEPTED,),
) -> list[Community]:
    """The communities co-hosting the meeting (those accepted, by default), by name."""
    rows = (
        await session.exec(
            sm_select(Community)
            .join(MeetingCohost, col(MeetingCohost.community_id) == col(Community.id))
            .where(MeetingCohost.meeting_id == meeting_id)
            .where(col(MeetingCohost.status).in_(list(statuses)))
        )
    ).all()
    return sorted(rows, key=lambda c: (name_key(c.name), c.id or 0))


async def cohost_names(
    session: AsyncSession, *, meeting_ids: Sequence[int]
) -> dict[int, list[str]]:
    """For a list of meetings, the names of the communities co-hosting each (accepted)."""
    if not meeting_ids:
        return {}
    rows = (
        await session.execute(
            select(col(MeetingCohost.meeting_id), col(Community.name))
            .join(Community, col(Community.id) == col(MeetingCohost.community_id))
            .where(col(MeetingCohost.meeting_id).in_(list(meeting_ids)))
            .where(col(MeetingCohost.status) == CohostStatus.ACCEPTED)
        )
    ).all()
    found: dict[int, list[str]] = {}
    for meeting_id, name in rows:
        found.setdefault(int(meeting_id), []).append(str(name))
    return {m: sorted(names, key=name_key) for m, names in found.items()}


async def is_attendee(session: AsyncSession, *, meeting: Meeting, person_id: int) -> bool:
    """An active member of the meeting's community or of a community co-hosting it."""
    found = (
        await session.execute(
            select(func.count())
            .select_from(Membership)
            .where(col(Membership.person_id) == person_id)
            .where(col(Membership.community_id).in_(await host_ids(session, meeting=meeting)))
            .where(col(Membership.left_at).is_(None))
        )
    ).scalar_one()
    return bool(found)


async def _require_animator_of_any(
    session: AsyncSession, *, community_ids: Sequence[int], person_id: int | None
) -> None:
    if person_id is None:
        return
    for community_id in community_ids:
        member = await communities_membership(
            session, person_id=person_id, community_id=community_id
        )
        if has_role(member, Role.ANIMATOR):
            return
    raise NotAllowed("animators only")


async def animator_ids(session: AsyncSession, community_ids: Sequence[int]) -> list[int]:
    found: set[int] = set()
    for community_id in community_ids:
        found |= {
            p.id
            for p in await people_with_role(
                session, community_id=community_id, roles=[Role.ANIMATOR]
            )
            if p.id is not None
        }
    return sorted(found)


async def animators_of_hosts(session: AsyncSession, *, meeting: Meeting) -> list[int]:
    """The facilitators of every community hosting the meeting (for its attendance list)."""
    return await animator_ids(session, await host_ids(session, meeting=meeting))


async def told_of_changes(session: AsyncSession, *, meeting: Meeting) -> list[int]:
    """Who hears of a cancellation, a restore or a move: who accepted and, for a joint
    meeting, the co-hosts' facilitators (their community's channel shows it too)."""
    accepted = await people_who_answered(session, meeting_id=meeting.id or 0, answer=RsvpAnswer.YES)
    cohosting = (await host_ids(session, meeting=meeting))[1:]
    return sorted(set(accepted) | set(await animator_ids(session, cohosting)))


@dataclass(frozen=True, slots=True)
class CohostChange:
    """What an invitation, an answer or a withdrawal did: `changed` is False for a second
    click (nothing written). `accepted_now`: the co-hosting began with this call (the card is
    then queued for the co-host's channel). `dropped`: the co-host's members whose answers
    no longer hold after a withdrawal (they are told)."""

    cohost: MeetingCohost
    meeting: Meeting
    host: Community
    guest: Community
    changed: bool
    accepted_now: bool = False
    dropped: tuple[int, ...] = ()


async def _cohost_row(
    session: AsyncSession, *, meeting_id: int, community_id: int
) -> MeetingCohost | None:
    return (
        await session.exec(
            sm_select(MeetingCohost)
            .where(MeetingCohost.meeting_id == meeting_id)
            .where(MeetingCohost.community_id == community_id)
            .execution_options(populate_existing=True)
        )
    ).first()


async def _communities(
    session: AsyncSession, meeting: Meeting, guest_id: int
) -> tuple[Community, Community]:
    host = await session.get(Community, meeting.community_id)
    guest = await session.get(Community, guest_id)
    if host is None or guest is None:
        raise LookupError("no such community")
    return host, guest


async def invite_cohost(
    session: AsyncSession,
    *,
    meeting_id: int,
    community_id: int,
    by_person_id: int | None,
    now: datetime,
) -> CohostChange:
    """Invite `community_id` to co-host the meeting (host facilitators only). Accepted at once
    when the inviter also facilitates the invited community; pending otherwise, and the
    invited community's facilitators are asked. A second click changes nothing. After a
    refusal or a withdrawal, a new invitation (a new round). InvalidMeeting("not_open") for a
    meeting not scheduled or started, ("cohost_self") / ("cohost_unknown") for the meeting's
    own community or one of another organisation."""
    meeting = await _locked_meeting(session, meeting_id)
    await _require_animator(session, community_id=meeting.community_id, person_id=by_person_id)
    if meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= now:
        raise InvalidMeeting("not_open")
    if community_id == meeting.community_id:
        raise InvalidMeeting("cohost_self")
    try:
        host, guest = await _communities(session, meeting, community_id)
    except LookupError:
        raise InvalidMeeting("cohost_unknown") from None
    if host.tenant_id and guest.tenant_id and host.tenant_id != guest.tenant_id:
        raise InvalidMeeting("cohost_unknown")
    speaks_for_guest = by_person_id is not None and has_role(
        await communities_membership(session, person_id=by_person_id, community_id=community_id),
        Role.ANIMATOR,
    )
    wanted = CohostStatus.ACCEPTED if speaks_for_guest else CohostStatus.INVITED
    row = await _cohost_row(session, meeting_id=meeting_id, community_id=community_id)
    if row is None:
        # The meeting's row is locked (above): two invitations at once take turns, and the
        # second finds this row (the unique key is the last guard).
        row = MeetingCohost(
            meeting_id=meeting_id,
            community_id=community_id,
            status=wanted,
            round=1,
            invited_by_id=by_person_id,
            invited_at=now,
            answered_by_id=by_person_id if speaks_for_guest else None,
            answered_at=now if speaks_for_guest else None,
        )
        session.add(row)
    elif row.status == CohostStatus.ACCEPTED or (
        row.status == CohostStatus.INVITED and not speaks_for_guest
    ):
        return CohostChange(row, meeting, host, guest, changed=False)
    elif row.status == CohostStatus.INVITED:
        row.status, row.answered_by_id, row.answered_at = wanted, by_person_id, now
    else:  # declined or withdrawn: asked again
        row.round += 1
        row.status = wanted
        row.invited_by_id, row.invited_at = by_person_id, now
        row.answered_by_id = by_person_id if speaks_for_guest else None
        row.answered_at = now if speaks_for_guest else None
    await session.flush()
    return CohostChange(
        row, meeting, host, guest, changed=True, accepted_now=wanted == CohostStatus.ACCEPTED
    )


async def answer_cohost(
    session: AsyncSession,
    *,
    meeting_id: int,
    community_id: int,
    by_person_id: int | None,
    accept: bool,
    now: datetime,
) -> CohostChange:
    """The invited community's facilitator accepts or declines (nobody else may: NotAllowed).
    The same answer again (a double click, two facilitators) changes nothing. LookupError when
    there is no invitation; InvalidMeeting("cohost_not_invited") when it was withdrawn or
    already answered otherwise; ("not_open") once the meeting is cancelled or started."""
    meeting = await _locked_meeting(session, meeting_id)
    await _require_animator(session, community_id=community_id, person_id=by_person_id)
    row = await _cohost_row(session, meeting_id=meeting_id, community_id=community_id)
    if row is None:
        raise LookupError("no such invitation")
    host, guest = await _communities(session, meeting, community_id)
    wanted = CohostStatus.ACCEPTED if accept else CohostStatus.DECLINED
    if row.status == wanted:
        return CohostChange(row, meeting, host, guest, changed=False)
    if row.status != CohostStatus.INVITED:
        raise InvalidMeeting("cohost_not_invited")
    if meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= now:
        raise InvalidMeeting("not_open")
    row.status, row.answered_by_id, row.answered_at = wanted, by_person_id, now
    await session.flush()
    return CohostChange(row, meeting, host, guest, changed=True, accepted_now=accept)


async def withdraw_cohost(
    session: AsyncSession,
    *,
    meeting_id: int,
    community_id: int,
    by_person_id: int | None,
    now: datetime,
) -> CohostChange:
    """End the co-hosting (or take back an invitation) before the meeting starts: a
    facilitator of either community. The co-host's members who are not members of the host
    (nor of another co-host) lose their answer and their reminders; those who had accepted
    are returned in `dropped` (to tell them). A second click changes nothing."""
    meeting = await _locked_meeting(session, meeting_id)
    await _require_animator_of_any(
        session, community_ids=[meeting.community_id, community_id], person_id=by_person_id
    )
    row = await _cohost_row(session, meeting_id=meeting_id, community_id=community_id)
    if row is None:
        raise LookupError("no such invitation")
    host, guest = await _communities(session, meeting, community_id)
    if row.status in (CohostStatus.WITHDRAWN, CohostStatus.DECLINED):
        return CohostChange(row, meeting, host, guest, changed=False)
    if meeting.starts_at <= now:
        raise InvalidMeeting("cohost_too_late")
    row.status, row.answered_by_id, row.answered_at = CohostStatus.WITHDRAWN, by_person_id, now
    await session.flush()
    remaining = await host_ids(session, meeting=meeting)
    still_in = select(col(Membership.person_id)).where(
        col(Membership.community_id).in_(remaining), col(Membership.left_at).is_(None)
    )
    answered = (
        await session.exec(
            sm_select(Rsvp)
            .where(Rsvp.meeting_id == meeting_id)
            .where(col(Rsvp.person_id).not_in(still_in))
        )
    ).all()
    dropped = tuple(sorted(r.person_id for r in answered if r.answer == RsvpAnswer.YES))
    for answer in answered:
        await session.delete(answer)
        await cancel_pending(
            session,
            dedup_key_prefix=f"{reminders_at_prefix(meeting_id, meeting.starts_at)}"
            f"{answer.person_id}:",
        )
    # Reminders already queued for the co-host's other members (no answer) go too.
    queued = (
        await session.execute(
            select(col(OutboxMessage.person_id))
            .where(
                col(OutboxMessage.dedup_key).startswith(
                    reminders_prefix(meeting_id), autoescape=True
                )
            )
            .where(col(OutboxMessage.status) == OutboxStatus.PENDING)
            .where(col(OutboxMessage.person_id).not_in(still_in))
        )
    ).scalars()
    for person_id in set(queued):
        await cancel_pending(
            session,
            dedup_key_prefix=f"{reminders_at_prefix(meeting_id, meeting.starts_at)}{person_id}:",
        )
    await session.flush()
    return CohostChange(row, meeting, host, guest, changed=True, dropped=dropped)


async def cohosted_upcoming(
    session: AsyncSession, *, community_id: int, now: datetime, limit: int = 10
) -> list[Meeting]:
    """The scheduled meetings of other communities this one co-hosts, not started yet (those
    its facilitators can still withdraw from), soonest first."""
    return list(
        (
            await session.exec(
                sm_select(Meeting)
                .join(MeetingCohost, col(MeetingCohost.meeting_id) == col(Meeting.id))
                .where(MeetingCohost.community_id == community_id)
                .where(MeetingCohost.status == CohostStatus.ACCEPTED)
                .where(Meeting.status == MeetingStatus.SCHEDULED)
                .where(col(Meeting.starts_at) > now)
                .order_by(col(Meeting.starts_at), col(Meeting.id))
                .limit(limit)
            )
        ).all()
    )


async def cohost_candidates(session: AsyncSession, *, community: Community) -> list[Community]:
    """The communities a facilitator may invite: the others of the same organisation."""
    statement = sm_select(Community).where(col(Community.id) != community.id)
    if community.tenant_id is not None:
        statement = statement.where(
            (col(Community.tenant_id) == community.tenant_id) | col(Community.tenant_id).is_(None)
        )
    rows = (await session.exec(statement)).all()
    return sorted(rows, key=lambda c: (name_key(c.name), c.id or 0))


async def queue_cohost_invitations(session: AsyncSession, change: CohostChange) -> int:
    """The invitation card, to each facilitator of the invited community (once per round)."""
    queued = 0
    for person_id in await animator_ids(session, [change.cohost.community_id]):
        queued += await enqueue(
            session,
            dedup_key=cohost_invitation_key(change.cohost, person_id),
            recipient=Recipient.person(person_id),
            kind=KIND_COHOST_INVITATION,
            params={"meeting_id": change.meeting.id, "community_id": change.cohost.community_id},
        )
    return queued


async def queue_cohost_post(
    session: AsyncSession, change: CohostChange, *, channel_ref_id: int | None
) -> bool:
    """The agenda card, posted once in the co-host's channel (its key holds the round: a
    double click on « Accepter » posts once). False when the channel is unknown."""
    if channel_ref_id is None:
        return False
    return await enqueue(
        session,
        dedup_key=cohost_post_key(change.cohost),
        recipient=Recipient.conversation(channel_ref_id),
        kind=KIND_COHOST_POST,
        params={"meeting_id": change.meeting.id, "community_id": change.cohost.community_id},
    )


async def queue_cohost_notices(
    session: AsyncSession, change: CohostChange, *, what: str, person_ids: Sequence[int]
) -> int:
    """Tell these people what happened (`what`: accepted, declined, withdrawn — to the
    facilitators —, dropped — to members whose answer the withdrawal removed), once each."""
    queued = 0
    for person_id in sorted(set(person_ids)):
        queued += await enqueue(
            session,
            dedup_key=cohost_notice_key(change.cohost, what, person_id),
            recipient=Recipient.person(person_id),
            kind=KIND_COHOST_NOTICE,
            params={
                "meeting_id": change.meeting.id,
                "community_id": change.cohost.community_id,
                "change": what,
            },
        )
    return queued


async def forget_channel_copies(
    session: AsyncSession, *, meeting_id: int, community: Community
) -> list[tuple[int, str, str]]:
    """The posted copies of the meeting's agenda card in the community's channel (and its
    threads), no longer kept current: returned for a last update, then forgotten."""
    channel_id = community.teams_channel_id
    if not channel_id:
        return []
    rows = (
        await session.exec(
            sm_select(MeetingCard, ConversationRef)
            .join(ConversationRef, col(ConversationRef.id) == col(MeetingCard.conversation_ref_id))
            .where(MeetingCard.meeting_id == meeting_id)
            .where(
                (col(ConversationRef.conversation_id) == channel_id)
                | col(ConversationRef.conversation_id).startswith(f"{channel_id};", autoescape=True)
            )
        )
    ).all()
    copies = [(card.conversation_ref_id, card.activity_id, card.locale) for card, _ref in rows]
    for card, _ref in rows:
        await session.delete(card)
    await session.flush()
    return copies
