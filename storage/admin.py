"""Administrative support's lists, partial presence and guests, and mentoring supervision.

Who may export a community's lists: its administrative support (DOMAIN.md: attendance lists,
timesheets), coordinators and animators — checked here, on every export, never believed from a
card or a link alone. The mailing list shows a member's e-mail only when they agreed
(`MailingConsent`, given or withdrawn by the member); without it, their name only.

Partial presence: an animator records that someone arrived late or left early; the attendance's
minutes then become the training time within the hours they were there (meals still left out),
so attestations and timesheets count the real minutes. Guests (speakers, interns) are names on
the meeting's sheet, not people of the bot.

Mentoring supervision: the pairings of a community with their status and the date of their
last check-in (never what a check-in says), the requests waiting, each mentor's load; and a
mentor's request for support, one per click.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.collation import name_key
from storage.communities import has_role, membership, memberships_of, people_with_role
from storage.meetings import agenda_of, training_minutes
from storage.models import (
    Attendance,
    AttendancePartial,
    Community,
    MailingConsent,
    Meeting,
    MeetingGuest,
    MeetingStatus,
    Membership,
    MentorCheckin,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    MentorSupportRequest,
    PairingStatus,
    Person,
    Role,
)
from storage.sql import insert_if_absent

logger = logging.getLogger(__name__)

# Who may export a community's lists and record partial presence and guests.
LIST_ROLES = (Role.ADMIN_SUPPORT, Role.COORDINATOR, Role.ANIMATOR)
# Who sees the mentoring supervision and receives mentors' requests for support.
SUPERVISION_ROLES = (Role.COORDINATOR, Role.ANIMATOR)
GUEST_KINDS = ("speaker", "intern", "other")
MAX_GUEST_NAME = 200
MAX_EMAIL = 320
# How many ended meetings the lists card offers sheets for.
RECENT_MEETINGS = 5
LOAD_STATUSES = (PairingStatus.PROPOSED, PairingStatus.ACTIVE)
# Erased people (storage/privacy.py marks them so; not imported: privacy imports this module).
_ERASED_PREFIX = "erased:"


class Refused(Exception):
    """Not allowed, or not possible (the reason is for logs and tests, never shown as is)."""


def _erased(person: Person) -> bool:
    return person.teams_user_id.startswith(_ERASED_PREFIX)


def fold(text: str) -> str:
    """A guest's name compared: case, accents and spacing set aside."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))[:MAX_GUEST_NAME]


# -- who may --


async def may_export(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, *LIST_ROLES)


async def exportable_communities(session: AsyncSession, *, person_id: int) -> list[Community]:
    return [
        c for m, c in await memberships_of(session, person_id=person_id) if has_role(m, *LIST_ROLES)
    ]


async def supervised(session: AsyncSession, *, person_id: int) -> list[Community]:
    return [
        c
        for m, c in await memberships_of(session, person_id=person_id)
        if has_role(m, *SUPERVISION_ROLES)
    ]


# -- mailing list and consent --


def clean_email(value: object) -> str | None:
    """An address as Teams gave it, if it looks like one; None otherwise (never guessed)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    local, at, domain = text.partition("@")
    if not at or not local or "." not in domain or len(text) > MAX_EMAIL or " " in text:
        return None
    return text


async def consent_of(session: AsyncSession, *, person_id: int) -> MailingConsent | None:
    return (
        (
            await session.execute(
                select(MailingConsent).where(col(MailingConsent.person_id) == person_id)
            )
        )
        .scalars()
        .first()
    )


async def set_consent(
    session: AsyncSession, *, person_id: int, agree: bool, email: str | None, now: datetime
) -> bool:
    """Give (with the address Teams gave, if any) or withdraw the consent; True when it
    changed something (the same answer twice changes nothing)."""
    if not agree:
        result = await session.execute(
            delete(MailingConsent).where(col(MailingConsent.person_id) == person_id)
        )
        return bool(getattr(result, "rowcount", 0))
    table: Any = MailingConsent.__table__  # type: ignore[attr-defined]
    address = clean_email(email)
    created = await insert_if_absent(
        session,
        table,
        {"person_id": person_id, "email": address, "agreed_at": now},
        conflict=("person_id",),
    )
    if created:
        return True
    row = await consent_of(session, person_id=person_id)
    if row is not None and address is not None and row.email != address:
        # Teams gave an address now (or another one): keep the newest.
        row.email = address
        await session.flush()
        return True
    return False


@dataclass(frozen=True, slots=True)
class MailingRow:
    name: str
    email: str | None  # only with the member's consent


async def mailing_list(session: AsyncSession, *, community_id: int) -> list[MailingRow]:
    """Active members, by name; the e-mail only for those who agreed."""
    rows = (
        await session.execute(
            select(Person, col(MailingConsent.email))
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .outerjoin(MailingConsent, col(MailingConsent.person_id) == col(Person.id))
            .where(col(Membership.community_id) == community_id)
            .where(col(Membership.left_at).is_(None))
        )
    ).all()
    found = [MailingRow(person.name or "", email) for person, email in rows if not _erased(person)]
    return sorted(found, key=lambda row: name_key(row.name))


# -- partial presence and guests --


async def editable_meeting(
    session: AsyncSession, *, meeting_id: int, by_person_id: int, now: datetime
) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.status == MeetingStatus.CANCELLED:
        raise Refused("no such meeting")
    if not await may_export(session, person_id=by_person_id, community_id=meeting.community_id):
        raise Refused("not allowed")
    if meeting.ends_at > now:
        raise Refused("not ended")
    return meeting


def meeting_minutes(meeting: Meeting) -> int:
    return int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)


async def present_minutes(session: AsyncSession, meeting: Meeting, *, late: int, early: int) -> int:
    """Training time within the hours the person was there: the agenda's meals still out."""
    window = Meeting(
        community_id=meeting.community_id,
        starts_at=meeting.starts_at + timedelta(minutes=late),
        ends_at=meeting.ends_at - timedelta(minutes=early),
    )
    if window.ends_at <= window.starts_at:
        return 0
    return training_minutes(window, await agenda_of(session, meeting_id=meeting.id or 0))


async def record_partial(
    session: AsyncSession,
    *,
    meeting_id: int,
    person_id: int,
    by_person_id: int,
    late: int,
    early: int,
    now: datetime,
) -> bool:
    """Record (or correct) that a person recorded present arrived late / left early, and
    credit them the real minutes. True when something changed; Refused for someone not
    recorded present, or minutes that do not fit the meeting."""
    meeting = await editable_meeting(
        session, meeting_id=meeting_id, by_person_id=by_person_id, now=now
    )
    length = meeting_minutes(meeting)
    if late < 0 or early < 0 or late + early > length:
        raise Refused("minutes out of range")
    attendance = (
        (
            await session.execute(
                select(Attendance)
                .where(col(Attendance.meeting_id) == meeting_id)
                .where(col(Attendance.person_id) == person_id)
            )
        )
        .scalars()
        .first()
    )
    if attendance is None:
        raise Refused("not recorded present")
    current = await partial_of(session, meeting_id=meeting_id, attendance=attendance)
    if current == (late, early):
        return False
    minutes = await present_minutes(session, meeting, late=late, early=early)
    await session.execute(
        delete(AttendancePartial)
        .where(col(AttendancePartial.meeting_id) == meeting_id)
        .where(col(AttendancePartial.person_id) == person_id)
    )
    if late or early:
        session.add(
            AttendancePartial(
                meeting_id=meeting_id,
                person_id=person_id,
                late_minutes=late,
                early_minutes=early,
                recorded_by_id=by_person_id,
                recorded_at=max(now, attendance.confirmed_at),
            )
        )
    attendance.minutes = minutes
    await session.flush()
    return True


async def partial_of(
    session: AsyncSession, *, meeting_id: int, attendance: Attendance
) -> tuple[int, int]:
    """(late, early) for an attendance; (0, 0) when none was recorded after it."""
    row = (
        (
            await session.execute(
                select(AttendancePartial)
                .where(col(AttendancePartial.meeting_id) == meeting_id)
                .where(col(AttendancePartial.person_id) == attendance.person_id)
            )
        )
        .scalars()
        .first()
    )
    if row is None or row.recorded_at < attendance.confirmed_at:
        return (0, 0)
    return (row.late_minutes, row.early_minutes)


async def add_guest(
    session: AsyncSession,
    *,
    meeting_id: int,
    by_person_id: int,
    name: str,
    kind: str,
    now: datetime,
) -> bool:
    """A guest on the meeting's sheet; the same name again (a double click) adds nothing."""
    await editable_meeting(session, meeting_id=meeting_id, by_person_id=by_person_id, now=now)
    clean = " ".join(name.split())[:MAX_GUEST_NAME]
    if not clean or kind not in GUEST_KINDS:
        raise Refused("invalid guest")
    table: Any = MeetingGuest.__table__  # type: ignore[attr-defined]
    return await insert_if_absent(
        session,
        table,
        {
            "meeting_id": meeting_id,
            "name": clean,
            "name_key": fold(clean),
            "kind": kind,
            "added_by_id": by_person_id,
            "added_at": now,
        },
        conflict=("meeting_id", "name_key"),
    )


async def remove_guest(
    session: AsyncSession, *, guest_id: int, by_person_id: int, now: datetime
) -> bool:
    guest = await session.get(MeetingGuest, guest_id)
    if guest is None:
        return False
    await editable_meeting(session, meeting_id=guest.meeting_id, by_person_id=by_person_id, now=now)
    await session.delete(guest)
    await session.flush()
    return True


async def guests_of(session: AsyncSession, *, meeting_id: int) -> list[MeetingGuest]:
    rows = (
        await session.execute(
            select(MeetingGuest).where(col(MeetingGuest.meeting_id) == meeting_id)
        )
    ).scalars()
    return sorted(rows, key=lambda g: (name_key(g.name), g.id or 0))


@dataclass(frozen=True, slots=True)
class SheetLine:
    person_id: int
    name: str
    minutes: int
    late: int
    early: int


@dataclass(frozen=True, slots=True)
class Sheet:
    """A meeting's attendance sheet: who was recorded present (with partial presence), and
    the guests."""

    meeting: Meeting
    community: Community
    confirmed: bool
    lines: tuple[SheetLine, ...]
    guests: tuple[MeetingGuest, ...]


async def sheet(session: AsyncSession, *, meeting_id: int) -> Sheet | None:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return None
    community = await session.get(Community, meeting.community_id)
    if community is None:
        return None
    rows = (
        await session.execute(
            select(Attendance, Person)
            .join(Person, col(Person.id) == col(Attendance.person_id))
            .where(col(Attendance.meeting_id) == meeting_id)
        )
    ).all()
    lines = []
    for attendance, person in rows:
        late, early = await partial_of(session, meeting_id=meeting_id, attendance=attendance)
        lines.append(
            SheetLine(person.id or 0, person.name or "", max(attendance.minutes, 0), late, early)
        )
    lines.sort(key=lambda line: (name_key(line.name), line.person_id))
    return Sheet(
        meeting=meeting,
        community=community,
        confirmed=meeting.attendance_confirmed_at is not None,
        lines=tuple(lines),
        guests=tuple(await guests_of(session, meeting_id=meeting_id)),
    )


async def recent_meetings(
    session: AsyncSession, *, community_id: int, now: datetime, limit: int = RECENT_MEETINGS
) -> list[Meeting]:
    """The community's latest ended meetings (not cancelled), newest first."""
    rows = (
        await session.execute(
            select(Meeting)
            .where(col(Meeting.community_id) == community_id)
            .where(col(Meeting.status) != MeetingStatus.CANCELLED)
            .where(col(Meeting.ends_at) <= now)
            .order_by(col(Meeting.starts_at).desc(), col(Meeting.id).desc())
            .limit(limit)
        )
    ).scalars()
    return list(rows)


# -- timesheets --


@dataclass(frozen=True, slots=True)
class TimeRow:
    name: str
    meetings: int
    minutes: int


async def timesheet(
    session: AsyncSession, *, community_id: int, start: date, end: date, tz: str
) -> list[TimeRow]:
    """Hours per person over the period: confirmed attendance at the real minutes, meals
    left out (the attestations' count, codevelopment sessions included)."""
    # Imported here: storage.attestations imports storage.privacy, which imports this module.
    from storage.attestations import attendance_summaries

    found = await attendance_summaries(
        session, start=start, end=end, tz=tz, community_id=community_id
    )
    return [TimeRow(s.person_name, s.meetings, s.minutes) for s in found]


async def facilitators_time(
    session: AsyncSession, *, community_id: int, start: date, end: date, tz: str
) -> list[TimeRow]:
    """The facilitators' own time: the meetings each one planned (the meeting's facilitator)
    that took place in the period, for their whole length (preparing and running them)."""
    zone = ZoneInfo(tz)
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        await session.execute(
            select(Meeting, Person)
            .join(Person, col(Person.id) == col(Meeting.created_by_id))
            .where(col(Meeting.community_id) == community_id)
            .where(col(Meeting.status) != MeetingStatus.CANCELLED)
            .where(col(Meeting.starts_at) >= since)
            .where(col(Meeting.starts_at) < until)
        )
    ).all()
    grouped: dict[int, tuple[str, int, int]] = {}
    for meeting, person in rows:
        if _erased(person):
            continue
        name, count, minutes = grouped.get(person.id or 0, (person.name or "", 0, 0))
        grouped[person.id or 0] = (name, count + 1, minutes + meeting_minutes(meeting))
    found = [TimeRow(name, count, minutes) for name, count, minutes in grouped.values()]
    return sorted(found, key=lambda row: name_key(row.name))


# -- mentoring supervision --


@dataclass(frozen=True, slots=True)
class PairingLine:
    mentor: str
    mentee: str
    status: PairingStatus
    since: datetime
    last_checkin: datetime | None  # when; never what was said


@dataclass(frozen=True, slots=True)
class WaitingRequest:
    mentee: str
    since: datetime


@dataclass(frozen=True, slots=True)
class MentorLoad:
    name: str
    load: int
    capacity: int


@dataclass(frozen=True, slots=True)
class Supervision:
    community: Community
    pairings: tuple[PairingLine, ...]
    waiting: tuple[WaitingRequest, ...]
    mentors: tuple[MentorLoad, ...]


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.execute(select(Person).where(col(Person.id).in_(ids)))).scalars()
    return {p.id or 0: ("" if _erased(p) else p.name or "") for p in rows}


async def supervision(session: AsyncSession, *, community: Community) -> Supervision:
    community_id = community.id or 0
    pairings = (
        (
            await session.execute(
                select(MentorPairing)
                .where(col(MentorPairing.community_id) == community_id)
                .where(col(MentorPairing.status).in_([*LOAD_STATUSES, PairingStatus.ENDED]))
                .order_by(col(MentorPairing.created_at), col(MentorPairing.id))
            )
        )
        .scalars()
        .all()
    )
    checkins = await session.execute(
        select(col(MentorCheckin.pairing_id), func.max(col(MentorCheckin.answered_at)))
        .where(col(MentorCheckin.pairing_id).in_([p.id for p in pairings]))
        .group_by(col(MentorCheckin.pairing_id))
    )
    last: dict[int, datetime] = {pairing_id: when for pairing_id, when in checkins.all()}
    requests = (
        (
            await session.execute(
                select(MentorRequest)
                .where(col(MentorRequest.community_id) == community_id)
                .where(col(MentorRequest.status) == MentorRequestStatus.OPEN)
                .order_by(col(MentorRequest.created_at), col(MentorRequest.id))
            )
        )
        .scalars()
        .all()
    )
    volunteers = (
        (
            await session.execute(
                select(Membership)
                .where(col(Membership.community_id) == community_id)
                .where(col(Membership.left_at).is_(None))
                .where(col(Membership.mentor_capacity) > 0)
            )
        )
        .scalars()
        .all()
    )
    names = await _names(
        session,
        {p.mentor_id for p in pairings}
        | {p.mentee_id for p in pairings}
        | {r.mentee_id for r in requests}
        | {m.person_id for m in volunteers},
    )
    load: dict[int, int] = {}
    for p in pairings:
        if p.status in LOAD_STATUSES:
            load[p.mentor_id] = load.get(p.mentor_id, 0) + 1
    lines = tuple(
        PairingLine(
            names.get(p.mentor_id, ""),
            names.get(p.mentee_id, ""),
            PairingStatus(p.status),
            # « en cours depuis » the start, « terminé depuis » the end.
            p.ended_at or p.accepted_at or p.created_at,
            last.get(p.id),
        )
        for p in pairings
    )
    mentors = sorted(
        (
            MentorLoad(names.get(m.person_id, ""), load.get(m.person_id, 0), m.mentor_capacity or 0)
            for m in volunteers
        ),
        key=lambda m: name_key(m.name),
    )
    return Supervision(
        community=community,
        pairings=lines,
        waiting=tuple(WaitingRequest(names.get(r.mentee_id, ""), r.created_at) for r in requests),
        mentors=tuple(mentors),
    )


@dataclass(frozen=True, slots=True)
class SupportAsked:
    pairing: MentorPairing
    request_id: int
    created: bool
    supervisors: tuple[Person, ...]


async def ask_support(
    session: AsyncSession, *, pairing_id: int, person_id: int, request_key: str, now: datetime
) -> SupportAsked:
    """The mentor of a pairing under way asks the coordination for support; the same click
    again (its key) asks nothing more."""
    pairing = await session.get(MentorPairing, pairing_id)
    if pairing is None or pairing.mentor_id != person_id:
        raise Refused("not the mentor")
    if pairing.status not in LOAD_STATUSES:
        raise Refused("pairing over")
    key = request_key[:64]
    if not key:
        raise Refused("no key")
    table: Any = MentorSupportRequest.__table__  # type: ignore[attr-defined]
    created = await insert_if_absent(
        session,
        table,
        {"pairing_id": pairing_id, "mentor_id": person_id, "request_key": key, "requested_at": now},
        conflict=("request_key",),
    )
    row = (
        (
            await session.execute(
                select(MentorSupportRequest).where(col(MentorSupportRequest.request_key) == key)
            )
        )
        .scalars()
        .one()
    )
    if row.pairing_id != pairing_id:
        raise Refused("key of another pairing")
    found = await people_with_role(
        session, community_id=pairing.community_id, roles=SUPERVISION_ROLES
    )
    return SupportAsked(pairing, row.id or 0, created, tuple(p for p in found if p.id != person_id))


def support_key(request_id: int, supervisor_id: int) -> str:
    """The notice to one coordinator about one request for support (never sent twice)."""
    return f"mentor_support:{request_id}:to:{supervisor_id}"


# -- privacy (storage/privacy.py calls these) --


async def export_person(session: AsyncSession, *, person_id: int) -> dict[str, Any]:
    """The person's consent, and the guests' names they typed on sheets."""
    consent = await consent_of(session, person_id=person_id)
    guests = (
        await session.execute(
            select(MeetingGuest).where(col(MeetingGuest.added_by_id) == person_id)
        )
    ).scalars()
    return {
        "mailing_consent": (
            None
            if consent is None
            else {"email": consent.email, "agreed_at": consent.agreed_at.isoformat()}
        ),
        "guests_recorded": [
            {"meeting_id": g.meeting_id, "name": g.name, "kind": g.kind} for g in guests
        ],
    }


async def erase_person(session: AsyncSession, *, person_id: int) -> dict[str, int]:
    """The consent (and its address) goes; the guests they recorded stay on the sheets
    without who recorded them; their partial presence stays with their attendance (hours)."""
    counts: dict[str, int] = {}
    for name, statement in (
        (
            "mailing_consent",
            delete(MailingConsent).where(col(MailingConsent.person_id) == person_id),
        ),
        (
            "guests_recorded",
            update(MeetingGuest)
            .where(col(MeetingGuest.added_by_id) == person_id)
            .values(added_by_id=None),
        ),
        (
            "mentor_support_requests",
            update(MentorSupportRequest)
            .where(col(MentorSupportRequest.mentor_id) == person_id)
            .values(mentor_id=None),
        ),
        (
            "attendance_partial_recorded",
            update(AttendancePartial)
            .where(col(AttendancePartial.recorded_by_id) == person_id)
            .values(recorded_by_id=None),
        ),
    ):
        result = await session.execute(statement)
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            counts[name] = count
    return counts
