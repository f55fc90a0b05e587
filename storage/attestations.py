"""Attendance certificates (attestations de présence): what a person attended, and the totals.

Only confirmed attendance counts: rows of `attendance`, written when an animator confirms who
came (storage/meetings.py, `confirm_attendance`); an RSVP alone never does. Codevelopment
sessions count the same way once their facilitator confirmed who came (storage/codevelopment.py,
`record_attendance`), listed among the meetings of the group's community. A period is a range
of local days (both included) in the community's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.codevelopment import attended_sessions
from storage.collation import name_key
from storage.models import (
    Attendance,
    AttendancePartial,
    Community,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Role,
)
from storage.privacy import is_erased

# DOMAIN.md, "Recognition of time": 0.1 continuing-education unit per hour (1 UEC = 10 h).
DEFAULT_UEC_PER_HOUR = Decimal("0.1")
_CENT = Decimal("0.01")

# The outbox kind of signed attestation links sent privately: params {"rows": [...], …}.
KIND_ATTESTATION_LINKS = "attestation_links"


def links_key(person_id: int, batch: str, part: int) -> str:
    """One card of a batch of links (long lists go in several cards, `part` counted from 0).
    The format must not change: a key spelled differently would not deduplicate."""
    return f"attestation_links:{person_id}:{batch}:{part}"


@dataclass(frozen=True, slots=True)
class AttendedMeeting:
    meeting_id: int  # 0 for a codevelopment session
    title: str  # a codevelopment session: its group's name (the PDF words it with the number)
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    minutes: int  # as confirmed (the meeting's length unless corrected)
    # Set for a session of a codevelopment group: its id and its number in the series.
    codev_session_id: int | None = None
    codev_number: int | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    meetings: int
    minutes: int
    hours: Decimal  # rounded to the hundredth
    uec: Decimal  # rounded to the hundredth


@dataclass(frozen=True, slots=True)
class AttestationData:
    """Everything an attestation shows (cards/attestation_pdf.py renders it)."""

    person_name: str
    community_name: str
    start: date
    end: date
    meetings: tuple[AttendedMeeting, ...]
    animator_name: str | None
    issued_on: date


@dataclass(frozen=True, slots=True)
class AttendanceSummary:
    """One person's confirmed attendance in one community over a period."""

    person_id: int
    person_name: str
    person_locale: str | None
    community_id: int
    community_name: str
    meetings: int
    minutes: int
    # Meeting time not counted (meals and breaks on the agenda): the meetings' length less the
    # minutes recorded. 0 for attendance recorded before meals were left out.
    excluded_minutes: int = 0


def excluded_minutes(meeting: Meeting, minutes: int) -> int:
    length = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
    return max(length - max(minutes, 0), 0)


class InvalidPeriod(ValueError):
    pass


def _bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    if end < start:
        raise InvalidPeriod("end before start")
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _rows(*, start: date, end: date, tz: str) -> Select[Attendance, Meeting]:
    """Confirmed attendance of meetings that began within the period (not cancelled)."""
    since, until = _bounds(start, end, tz)
    return (
        select(Attendance, Meeting)
        .join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
        .where(col(Meeting.starts_at) >= since)
        .where(col(Meeting.starts_at) < until)
        .where(col(Meeting.status) != MeetingStatus.CANCELLED)
        .where(col(Meeting.attendance_confirmed_at).is_not(None))
    )


async def attended(
    session: AsyncSession,
    *,
    person_id: int,
    community_id: int,
    start: date,
    end: date,
    tz: str = "America/Montreal",
) -> list[AttendedMeeting]:
    """The meetings of a community the person attended in the period, and the sessions of its
    codevelopment groups, oldest first."""
    rows = (
        await session.execute(
            _rows(start=start, end=end, tz=tz)
            .where(col(Attendance.person_id) == person_id)
            .where(col(Meeting.community_id) == community_id)
            .order_by(col(Meeting.starts_at), col(Meeting.id))
        )
    ).all()
    found = [
        AttendedMeeting(
            meeting_id=meeting.id or 0,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            minutes=max(attendance.minutes, 0),
        )
        for attendance, meeting in rows
    ]
    since, until = _bounds(start, end, tz)
    found.extend(
        AttendedMeeting(
            meeting_id=0,
            title=codev.title,
            starts_at=codev.starts_at,
            ends_at=codev.ends_at,
            minutes=codev.minutes,
            codev_session_id=codev.session_id,
            codev_number=codev.number,
        )
        for _, codev in await attended_sessions(
            session, since=since, until=until, person_id=person_id, community_id=community_id
        )
    )
    return sorted(found, key=lambda m: (m.starts_at, m.codev_session_id or 0, m.meeting_id))


def hours_of(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(_CENT, rounding=ROUND_HALF_UP)


def uec_of(minutes: int, *, uec_per_hour: Decimal = DEFAULT_UEC_PER_HOUR) -> Decimal:
    """Units for a number of minutes, computed on the exact time then rounded once."""
    return (Decimal(minutes) * uec_per_hour / 60).quantize(_CENT, rounding=ROUND_HALF_UP)


def totals(
    meetings: list[AttendedMeeting] | tuple[AttendedMeeting, ...],
    *,
    uec_per_hour: Decimal = DEFAULT_UEC_PER_HOUR,
) -> Totals:
    minutes = sum(m.minutes for m in meetings)
    return Totals(
        meetings=len(meetings),
        minutes=minutes,
        hours=hours_of(minutes),
        uec=uec_of(minutes, uec_per_hour=uec_per_hour),
    )


async def responsible_animator(session: AsyncSession, community_id: int) -> str | None:
    """The name shown as responsible: the longest-serving active animator of the community."""
    rows = (
        await session.execute(
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(col(Membership.community_id) == community_id)
            .where(col(Membership.left_at).is_(None))
            .order_by(col(Membership.joined_at), col(Membership.id))
        )
    ).all()
    for person, membership in rows:
        if Role.ANIMATOR.value in membership.roles and person.name:
            return str(person.name)
    return None


async def load_attestation(
    session: AsyncSession,
    *,
    person_id: int,
    community_id: int,
    start: date,
    end: date,
    issued_on: date,
    tz: str = "America/Montreal",
) -> AttestationData | None:
    """The attestation's content; None when the person or community is unknown or nothing was
    attended in the period (nothing to attest)."""
    person = await session.get(Person, person_id)
    community = await session.get(Community, community_id)
    if person is None or community is None:
        return None
    meetings = await attended(
        session, person_id=person_id, community_id=community_id, start=start, end=end, tz=tz
    )
    if not meetings:
        return None
    return AttestationData(
        person_name=person.name or "",
        community_name=community.name,
        start=start,
        end=end,
        meetings=tuple(meetings),
        animator_name=await responsible_animator(session, community_id),
        issued_on=issued_on,
    )


async def _absent_minutes(
    session: AsyncSession, rows: list[Attendance]
) -> dict[tuple[int, int], int]:
    """Minutes each attendee was not there (arrived late, left early: storage/admin.py), by
    (meeting, person): their attendance already counts only the real minutes, and the time
    away is no meal or break to show as excluded. A note older than the attendance (the
    person removed and recorded again since) no longer applies."""
    if not rows:
        return {}
    confirmed = {(a.meeting_id, a.person_id): a.confirmed_at for a in rows}
    notes = (
        await session.execute(
            select(AttendancePartial).where(
                col(AttendancePartial.meeting_id).in_({a.meeting_id for a in rows})
            )
        )
    ).scalars()
    return {
        (n.meeting_id, n.person_id): n.late_minutes + n.early_minutes
        for n in notes
        if (n.meeting_id, n.person_id) in confirmed
        and n.recorded_at >= confirmed[(n.meeting_id, n.person_id)]
    }


async def attendance_summaries(
    session: AsyncSession,
    *,
    start: date,
    end: date,
    tz: str = "America/Montreal",
    person_id: int | None = None,
    community_id: int | None = None,
    meeting_id: int | None = None,
) -> list[AttendanceSummary]:
    """Who attended what in the period, per person and community (for issuing links):
    one person's communities, or one community's (or one meeting's) attendees. Codevelopment
    sessions count among the meetings of their group's community (not for one meeting's)."""
    query = _rows(start=start, end=end, tz=tz)
    if person_id is not None:
        query = query.where(col(Attendance.person_id) == person_id)
    if community_id is not None:
        query = query.where(col(Meeting.community_id) == community_id)
    if meeting_id is not None:
        query = query.where(col(Meeting.id) == meeting_id)
    rows = (await session.execute(query)).all()
    absent = await _absent_minutes(session, [attendance for attendance, _ in rows])
    grouped: dict[tuple[int, int], tuple[int, int, int]] = {}
    for attendance, meeting in rows:
        key = (attendance.person_id, meeting.community_id)
        count, minutes, excluded = grouped.get(key, (0, 0, 0))
        away = absent.get((attendance.meeting_id, attendance.person_id), 0)
        grouped[key] = (
            count + 1,
            minutes + max(attendance.minutes, 0),
            excluded + max(excluded_minutes(meeting, attendance.minutes) - away, 0),
        )
    if meeting_id is None:
        since, until = _bounds(start, end, tz)
        for pid, codev in await attended_sessions(
            session, since=since, until=until, person_id=person_id, community_id=community_id
        ):
            key = (pid, codev.community_id)
            count, minutes, excluded = grouped.get(key, (0, 0, 0))
            length = int((codev.ends_at - codev.starts_at).total_seconds() // 60)
            grouped[key] = (
                count + 1,
                minutes + codev.minutes,
                excluded + max(length - codev.minutes, 0),
            )
    if not grouped:
        return []
    people = {
        p.id: p
        for p in (
            await session.execute(select(Person).where(col(Person.id).in_({k[0] for k in grouped})))
        ).scalars()
        # Someone who erased their data gets no attestation link (it would be refused).
        if not is_erased(p)
    }
    places = {
        c.id: c
        for c in (
            await session.execute(
                select(Community).where(col(Community.id).in_({k[1] for k in grouped}))
            )
        ).scalars()
    }
    found = [
        AttendanceSummary(
            person_id=pid,
            person_name=people[pid].name or "",
            person_locale=people[pid].preferred_locale or people[pid].locale,
            community_id=cid,
            community_name=places[cid].name,
            meetings=count,
            minutes=minutes,
            excluded_minutes=excluded,
        )
        for (pid, cid), (count, minutes, excluded) in grouped.items()
        if pid in people and cid in places
    ]
    return sorted(found, key=lambda s: (name_key(s.community_name), name_key(s.person_name)))


async def latest_ended_meeting(
    session: AsyncSession, *, community_id: int, now: datetime
) -> Meeting | None:
    """The community's most recent meeting that has ended (not cancelled)."""
    return (
        (
            await session.execute(
                select(Meeting)
                .where(col(Meeting.community_id) == community_id)
                .where(col(Meeting.status) != MeetingStatus.CANCELLED)
                .where(col(Meeting.ends_at) <= now)
                .order_by(col(Meeting.starts_at).desc(), col(Meeting.id).desc())
            )
        )
        .scalars()
        .first()
    )
