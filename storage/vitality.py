"""The monthly vitality summary of a community (DOMAIN.md, "Evaluation"), counted by the
database.

Every figure is a SQL aggregate — counts, sums, averages, the median — over the month's rows;
no Python loop walks members, meetings or answers, so a community of thousands is summarised
in well under a second (bench/vitality.py). A month is a calendar month in the community's
time zone; `as_of` is the month's end, or now for the month under way.

What each figure means (the card and the CSV show the same). Every part is counted among its
own whole, so no rate can pass 100 % and no count its total, whoever else left a row behind
(a guest checked present, someone recorded at a meeting held before they joined, an answer
from someone who left before the meeting):
- members: memberships active at `as_of`; new: members at `as_of` who joined in the month;
  left: members at the month's start who left during it. So each month's members are the
  previous month's plus new minus left; someone who joined and left within the month is in
  neither. Active: members at `as_of` who did something in the month — attended one of its
  meetings, answered an RSVP, proposed or supported a topic, cast a named poll ballot
  (anonymous ballots name nobody) or submitted a consultation request.
- meetings held: started in the month, not cancelled, over; a joint meeting counts in every
  community that hosts it (its own, and those that accepted to co-host it), and its
  attendances and RSVPs in each against that community's own members (storage/meetings.py).
- attendance rate: attendances of members at each meeting's start ÷ those members, summed over
  the held meetings whose attendance was confirmed; RSVP rate: RSVP answers (any) of members
  at each meeting's start ÷ those members, over the held meetings. The chart shows the same
  attendances, month by month, each against its own meetings' members.
- topics proposed: entered the bank in the month; scheduled: on the agendas of its meetings.
- complex cases discussed at the month's meetings, and the themes their discussions raised.
- polls opened in the month, their ballots, and participation = ballots ÷ the members who
  could vote (a member at some time while the poll was open), summed over the polls. A named
  ballot counts if its voter could vote; an anonymous one cannot be checked (it names nobody),
  so a poll's count is capped at its voters (voting requires membership, storage/polls.py).
- consultations submitted and closed in the month, and the median days from submission to
  assignment of those assigned in the month (counts only: nothing about their content).
- satisfaction: the average "overall" rating of the month's meetings, compared with the
  previous month and with the three months before it; each shown from k answers only,
  counting only surveys closed with k answers or more (differencing, storage/surveys.py);
  with no average, the count says how many closed surveys' answers were withheld.
- new hires welcomed (onboarding started) and paired (a mentoring pairing began).
- signals at `as_of`: the attendance rate above more than 20 % below the twelve months'
  before (pooled the same way, each meeting against its own members); no meeting held in 8
  weeks; a new hire (joined 30 to 180 days ago) never paired with a mentor; a consultation
  request waiting more than 5 days for an assignee; no meeting in a room (in person or
  hybrid) held in the last twelve months nor planned in the next twelve.

A person who left and rejoined has one membership, dated from their return
(storage/communities.py): what they did before leaving no longer counts as a member's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, extract, func, or_, select, union
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import cases, planning
from storage.communities import hosted_by
from storage.models import (
    AgendaItem,
    Attendance,
    Community,
    ConsultationRequest,
    ConsultationStatus,
    Meeting,
    MeetingStatus,
    Membership,
    MentorPairing,
    OnboardingEnrollment,
    Poll,
    PollVote,
    Rsvp,
    Survey,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicVote,
)
from storage.surveys import RESPONSE_TABLE, k_threshold

HISTORY_MONTHS = 12
ATTENDANCE_DROP = 0.20
QUIET_PERIOD = timedelta(weeks=8)
UNPAIRED_AFTER = timedelta(days=30)
# A new-hire flag older than this is history, not a newcomer waiting for a mentor.
NEW_HIRE_WINDOW = timedelta(days=180)
UNASSIGNED_AFTER = timedelta(days=5)

SIGNAL_ATTENDANCE_DOWN = "attendance_down"
SIGNAL_NO_MEETING = "no_meeting"
SIGNAL_NEW_HIRE_UNPAIRED = "new_hire_unpaired"
SIGNAL_CONSULTATION_UNASSIGNED = "consultation_unassigned"
# No meeting in a room within a year either side of `as_of` (the seeds: « au moins une
# rencontre en présence par année »): nothing held in the last twelve months, nothing planned
# (a meeting or a series' draft date) in the next twelve. Not said with `no_meeting`, which
# already says more.
SIGNAL_NO_IN_PERSON = "no_in_person"
IN_PERSON_WINDOW = timedelta(days=365)

# The outbox kind of a month's summary: params {"community_id", "month": "2026-10"}.
KIND_SUMMARY = "vitality_summary"


def summary_key(community_id: int, month: date, person_id: int) -> str:
    """The monthly summary, once per community, month and animator. The month is written as
    cards.vitality.month_key writes it; the format must not change (a key spelled differently
    would not deduplicate against a row already queued)."""
    return f"vitality:{community_id}:{month:%Y-%m}:to:{person_id}"


def summary_ask_key(community_id: int, month: date, person_id: int, activity_id: str) -> str:
    """A summary asked for in a channel and sent privately, once per incoming activity."""
    return f"{summary_key(community_id, month, person_id)}:ask:{activity_id}"


# -- months ---------------------------------------------------------------------------------


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_of(moment: datetime, *, tz: str) -> date:
    local = moment.astimezone(ZoneInfo(tz))
    return date(local.year, local.month, 1)


def month_start(month: date, *, tz: str) -> datetime:
    """The instant the month begins, local midnight on the 1st, in UTC."""
    return datetime(month.year, month.month, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def month_bounds(month: date, *, tz: str) -> tuple[datetime, datetime]:
    return month_start(month, tz=tz), month_start(add_months(month, 1), tz=tz)


# -- the summary ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal:
    code: str
    count: int = 0
    # attendance_down: the month's rate and the twelve months' before.
    rate: float | None = None
    reference: float | None = None
    # no_meeting: when the last meeting started (None: never).
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class MonthPoint:
    month: date
    meetings: int
    # As in the month's summary: members present, and members at those meetings' start.
    attendances: int
    attendance_expected: int
    # None below k answers.
    satisfaction: float | None

    @property
    def attendance_rate(self) -> float | None:
        return _ratio(self.attendances, self.attendance_expected)


@dataclass(frozen=True, slots=True)
class VitalitySummary:
    community_id: int
    month: date
    as_of: datetime
    partial: bool
    members: int
    active: int
    new: int
    left: int
    meetings: int
    attendances: int
    attendance_expected: int
    rsvps: int
    rsvp_expected: int
    topics_proposed: int
    topics_scheduled: int
    polls: int
    ballots: int
    ballots_expected: int
    consultations_submitted: int
    consultations_closed: int
    consultations_assigned: int
    median_days_to_assignment: float | None
    k: int
    satisfaction_responses: int
    satisfaction: float | None
    satisfaction_previous: float | None
    satisfaction_last_three: float | None
    new_hires_welcomed: int
    new_hires_paired: int
    signals: tuple[Signal, ...]
    history: tuple[MonthPoint, ...]
    # Complex cases discussed at the month's meetings, and the themes they raised (most
    # frequent first, with how many cases raised each; storage/cases.py).
    cases_discussed: int = 0
    case_themes: tuple[tuple[str, int], ...] = ()

    @property
    def attendance_rate(self) -> float | None:
        return _ratio(self.attendances, self.attendance_expected)

    @property
    def rsvp_rate(self) -> float | None:
        return _ratio(self.rsvps, self.rsvp_expected)

    @property
    def poll_participation(self) -> float | None:
        return _ratio(self.ballots, self.ballots_expected)

    @property
    def trend_previous(self) -> float | None:
        if self.satisfaction is None or self.satisfaction_previous is None:
            return None
        return self.satisfaction - self.satisfaction_previous

    @property
    def trend_last_three(self) -> float | None:
        if self.satisfaction is None or self.satisfaction_last_three is None:
            return None
        return self.satisfaction - self.satisfaction_last_three


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, int | float | Decimal) else float(str(value))


def _between(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


@dataclass(frozen=True, slots=True)
class _Window:
    community_id: int
    start: datetime
    end: datetime
    as_of: datetime
    now: datetime


def _member_at(moment: Any) -> ColumnElement[bool]:
    """The membership row was active at `moment` (a value or a column)."""
    joined, left = col(Membership.joined_at), col(Membership.left_at)
    return and_(joined < moment, or_(left.is_(None), left >= moment))


def _member_at_start(meeting_starts: Any) -> ColumnElement[bool]:
    """The membership row was active when the meeting began (joined by then, not yet left)."""
    joined, left = col(Membership.joined_at), col(Membership.left_at)
    return and_(joined <= meeting_starts, or_(left.is_(None), left > meeting_starts))


async def _members(session: AsyncSession, w: _Window) -> tuple[int, int, int]:
    """Members at `as_of`, new ones among them, and members at the month's start who left:
    members(as_of) = members(start) + new − left, and new ≤ members."""
    m_joined, m_left = col(Membership.joined_at), col(Membership.left_at)
    row = (
        await session.execute(
            select(
                _count_if(_member_at(w.as_of)),
                _count_if(and_(_member_at(w.as_of), m_joined >= w.start)),
                _count_if(
                    and_(
                        m_joined < w.start, m_left.is_not(None), _between(m_left, w.start, w.as_of)
                    )
                ),
            ).where(col(Membership.community_id) == w.community_id)
        )
    ).one()
    return _int(row[0]), _int(row[1]), _int(row[2])


async def _active(session: AsyncSession, w: _Window) -> int:
    cid = w.community_id
    sources = union(
        select(col(Attendance.person_id).label("person_id"))
        .join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
        .where(hosted_by(cid))
        .where(col(Meeting.status) != MeetingStatus.CANCELLED)
        .where(_between(col(Meeting.starts_at), w.start, w.end)),
        select(col(Rsvp.person_id))
        .join(Meeting, col(Meeting.id) == col(Rsvp.meeting_id))
        .where(hosted_by(cid))
        .where(_between(col(Rsvp.answered_at), w.start, w.end)),
        select(col(Topic.proposed_by_id))
        .where(col(Topic.community_id) == cid)
        .where(col(Topic.proposed_by_id).is_not(None))
        .where(_between(col(Topic.created_at), w.start, w.end)),
        select(col(TopicVote.person_id))
        .join(Topic, col(Topic.id) == col(TopicVote.topic_id))
        .where(col(Topic.community_id) == cid)
        .where(_between(col(TopicVote.created_at), w.start, w.end)),
        select(col(PollVote.person_id))
        .join(Poll, col(Poll.id) == col(PollVote.poll_id))
        .where(col(Poll.community_id) == cid)
        .where(col(PollVote.person_id).is_not(None))
        .where(_between(col(PollVote.voted_at), w.start, w.end)),
        select(col(ConsultationRequest.requester_id))
        .where(col(ConsultationRequest.community_id) == cid)
        .where(_between(col(ConsultationRequest.created_at), w.start, w.end)),
    ).subquery()
    # Among the members at `as_of` only: not who left during the month, nor a guest.
    counted = (
        select(func.count())
        .select_from(sources)
        .join(
            Membership,
            and_(
                col(Membership.person_id) == sources.c.person_id,
                col(Membership.community_id) == cid,
            ),
        )
        .where(_member_at(w.as_of))
    )
    return _int((await session.execute(counted)).scalar_one())


@dataclass(frozen=True, slots=True)
class _MeetingFigures:
    held: int
    attendances: int
    attendance_expected: int
    rsvps: int
    rsvp_expected: int


async def _meetings(
    session: AsyncSession,
    *,
    community_id: int,
    buckets: Sequence[tuple[datetime, datetime]],
    now: datetime,
) -> list[_MeetingFigures]:
    """For each (start, end): the held meetings that started then and, per meeting, the
    members at its start, and the attendances and RSVPs of those members only, summed by the
    outer query. Each part is a subset of its meeting's members, so no sum of parts passes
    the sum of wholes. One query for all the buckets; per meeting, grouped joins (the
    attendances and RSVPs through the membership's unique key) rather than correlated
    subqueries, which PostgreSQL ran as a scan of the memberships per meeting."""
    starts = col(Meeting.starts_at)
    held = (
        select(
            col(Meeting.id).label("id"),
            starts.label("starts_at"),
            case((col(Meeting.attendance_confirmed_at).is_not(None), 1), else_=0).label(
                "confirmed"
            ),
        )
        # A joint meeting counts in each community hosting it, against its own members.
        .where(hosted_by(community_id))
        .where(col(Meeting.status) != MeetingStatus.CANCELLED)
        .where(starts >= min(start for start, _ in buckets))
        .where(starts < max(end for _, end in buckets))
        .where(col(Meeting.ends_at) <= now)
        .subquery("held")
    )
    members_then = and_(
        col(Membership.community_id) == community_id, _member_at_start(held.c.starts_at)
    )
    expected = (
        select(held.c.id.label("meeting_id"), func.count().label("n"))
        .select_from(held)
        .join(Membership, members_then)
        .group_by(held.c.id)
        .subquery("expected")
    )

    def of_members(row: type[Attendance] | type[Rsvp], name: str) -> Any:
        """Per meeting, its rows (one per person) of people who were members at its start."""
        return (
            select(held.c.id.label("meeting_id"), func.count().label("n"))
            .select_from(held)
            .join(row, col(row.meeting_id) == held.c.id)
            .join(Membership, and_(col(Membership.person_id) == col(row.person_id), members_then))
            .group_by(held.c.id)
            .subquery(name)
        )

    attended = of_members(Attendance, "attended")
    answered = of_members(Rsvp, "answered")
    per_meeting = (
        select(
            held.c.starts_at,
            held.c.confirmed,
            func.coalesce(attended.c.n, 0).label("attended"),
            func.coalesce(answered.c.n, 0).label("answered"),
            func.coalesce(expected.c.n, 0).label("expected"),
        )
        .select_from(held)
        .outerjoin(expected, expected.c.meeting_id == held.c.id)
        .outerjoin(attended, attended.c.meeting_id == held.c.id)
        .outerjoin(answered, answered.c.meeting_id == held.c.id)
        .subquery("per_meeting")
    )
    confirmed = per_meeting.c.confirmed == 1
    columns: list[Any] = []
    for start, end in buckets:
        inside = _between(per_meeting.c.starts_at, start, end)
        counted = and_(inside, confirmed)
        columns += [
            _count_if(inside),
            func.coalesce(func.sum(case((counted, per_meeting.c.attended), else_=0)), 0),
            func.coalesce(func.sum(case((counted, per_meeting.c.expected), else_=0)), 0),
            func.coalesce(func.sum(case((inside, per_meeting.c.answered), else_=0)), 0),
            func.coalesce(func.sum(case((inside, per_meeting.c.expected), else_=0)), 0),
        ]
    row = (await session.execute(select(*columns).select_from(per_meeting))).one()
    width = 5
    return [
        _MeetingFigures(*(_int(value) for value in row[i * width : (i + 1) * width]))
        for i in range(len(buckets))
    ]


async def _topics(session: AsyncSession, w: _Window) -> tuple[int, int]:
    proposed = (
        await session.execute(
            select(func.count())
            .select_from(Topic)
            .where(col(Topic.community_id) == w.community_id)
            .where(_between(col(Topic.created_at), w.start, w.end))
        )
    ).scalar_one()
    scheduled = (
        await session.execute(
            select(func.count(func.distinct(col(AgendaItem.topic_id))))
            .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id))
            .where(hosted_by(w.community_id))
            .where(col(Meeting.status) != MeetingStatus.CANCELLED)
            .where(_between(col(Meeting.starts_at), w.start, w.end))
            .where(col(AgendaItem.topic_id).is_not(None))
        )
    ).scalar_one()
    return _int(proposed), _int(scheduled)


async def _polls(session: AsyncSession, w: _Window) -> tuple[int, int, int]:
    """Polls opened in the month, their ballots and, per poll, the members who could vote:
    members at some time between its opening and its close (correlated subqueries, summed by
    the outer query)."""
    opened = col(Poll.created_at)
    closed = case(
        (
            and_(col(Poll.closed_at).is_not(None), col(Poll.closed_at) < col(Poll.closes_at)),
            col(Poll.closed_at),
        ),
        else_=col(Poll.closes_at),
    )
    joined, left = col(Membership.joined_at), col(Membership.left_at)
    could_vote = and_(
        col(Membership.community_id) == col(Poll.community_id),
        joined < closed,
        or_(left.is_(None), left > opened),
    )
    voters = select(func.count()).select_from(Membership).where(could_vote).scalar_subquery()
    named = (
        select(func.count())
        .select_from(PollVote)
        .join(Membership, col(Membership.person_id) == col(PollVote.person_id))
        .where(col(PollVote.poll_id) == col(Poll.id))
        .where(could_vote)
        .scalar_subquery()
    )
    anonymous = (
        select(func.count())
        .select_from(PollVote)
        .where(col(PollVote.poll_id) == col(Poll.id))
        .where(col(PollVote.person_id).is_(None))
        .scalar_subquery()
    )
    per_poll = (
        select(voters.label("voters"), (named + anonymous).label("ballots"))
        .where(col(Poll.community_id) == w.community_id)
        .where(_between(opened, w.start, w.end))
        .offset(0)  # as in _meetings: each poll's subqueries run once
        .subquery()
    )
    # Anonymous ballots name nobody to check: a poll never counts more ballots than voters.
    ballots = case(
        (per_poll.c.ballots > per_poll.c.voters, per_poll.c.voters), else_=per_poll.c.ballots
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ballots), 0),
                func.coalesce(func.sum(per_poll.c.voters), 0),
            ).select_from(per_poll)
        )
    ).one()
    return _int(row[0]), _int(row[1]), _int(row[2])


def _days_to_assignment(session: AsyncSession) -> Any:
    assigned, created = col(ConsultationRequest.assigned_at), col(ConsultationRequest.created_at)
    if _dialect(session) == "postgresql":
        return extract("epoch", assigned - created) / 86400.0
    return func.julianday(assigned) - func.julianday(created)


async def _consultations(session: AsyncSession, w: _Window) -> tuple[int, int, int, float | None]:
    request = ConsultationRequest
    row = (
        await session.execute(
            select(
                _count_if(_between(col(request.created_at), w.start, w.end)),
                _count_if(
                    and_(
                        col(request.closed_at).is_not(None),
                        _between(col(request.closed_at), w.start, w.end),
                    )
                ),
                _count_if(
                    and_(
                        col(request.assigned_at).is_not(None),
                        _between(col(request.assigned_at), w.start, w.end),
                    )
                ),
            ).where(col(request.community_id) == w.community_id)
        )
    ).one()
    submitted, closed, assigned = (_int(value) for value in row)
    median = await _median_days(session, w, assigned) if assigned else None
    return submitted, closed, assigned, median


async def _median_days(session: AsyncSession, w: _Window, count: int) -> float | None:
    """PostgreSQL's percentile_cont; elsewhere the middle row(s) of the ordered durations
    (LIMIT/OFFSET), averaged by the database too."""
    days = _days_to_assignment(session)
    assigned_in_month = and_(
        col(ConsultationRequest.community_id) == w.community_id,
        col(ConsultationRequest.assigned_at).is_not(None),
        _between(col(ConsultationRequest.assigned_at), w.start, w.end),
    )
    if _dialect(session) == "postgresql":
        statement = select(func.percentile_cont(0.5).within_group(days)).where(assigned_in_month)
    else:
        middle = (
            select(days.label("days"))
            .where(assigned_in_month)
            .order_by(days)
            .limit(2 - count % 2)
            .offset((count - 1) // 2)
            .subquery()
        )
        statement = select(func.avg(middle.c.days))
    return _float((await session.execute(statement)).scalar_one())


def _satisfaction_query(
    community_id: int, buckets: Sequence[tuple[datetime, datetime]], k: int, now: datetime
) -> Any:
    """For each (start, end): the average overall rating of the satisfaction answers about
    meetings started then (only when k or more; the database decides), and how many answers
    it rests on — or, with no average, how many closed surveys' answers were withheld.

    Only surveys closed by `now` with k answers or more count, as in their own results
    (storage/surveys.py): an open survey's average read before and after one more answer, or a
    month's before and after a small survey joins it, would give that answer away."""
    reached_k = (
        select(RESPONSE_TABLE.c.survey_id)
        .group_by(RESPONSE_TABLE.c.survey_id)
        .having(func.count() >= k)
    )
    shown_survey = col(Survey.id).in_(reached_k.scalar_subquery())
    overall = RESPONSE_TABLE.c.ratings["overall"].as_integer()
    starts = col(Meeting.starts_at)
    columns: list[Any] = []
    for start, end in buckets:
        inside = and_(_between(starts, start, end), overall.is_not(None))
        counted = and_(inside, shown_survey)
        answers = func.coalesce(func.sum(case((inside, 1), else_=0)), 0)
        basis = func.coalesce(func.sum(case((counted, 1), else_=0)), 0)
        columns.append(case((basis >= k, basis), else_=answers))
        columns.append(case((basis >= k, func.avg(case((counted, overall), else_=None)))))
    return (
        select(*columns)
        .select_from(SurveyResponse)
        .join(Survey, col(Survey.id) == col(SurveyResponse.survey_id))
        .join(Meeting, col(Meeting.id) == col(Survey.meeting_id))
        .where(col(Survey.kind) == SurveyKind.SATISFACTION)
        .where(col(Survey.closes_at) <= now)
        # The host's only: a joint meeting's anonymous answers name no community, so they
        # cannot be split between its hosts.
        .where(col(Meeting.community_id) == community_id)
        .where(starts >= min(start for start, _ in buckets))
        .where(starts < max(end for _, end in buckets))
    )


async def _newcomers(session: AsyncSession, w: _Window) -> tuple[int, int]:
    welcomed = (
        await session.execute(
            select(func.count())
            .select_from(OnboardingEnrollment)
            .where(col(OnboardingEnrollment.community_id) == w.community_id)
            .where(_between(col(OnboardingEnrollment.started_at), w.start, w.end))
        )
    ).scalar_one()
    paired = (
        await session.execute(
            select(func.count())
            .select_from(MentorPairing)
            .where(col(MentorPairing.community_id) == w.community_id)
            .where(col(MentorPairing.accepted_at).is_not(None))
            .where(_between(col(MentorPairing.accepted_at), w.start, w.end))
        )
    ).scalar_one()
    return _int(welcomed), _int(paired)


async def _signals(
    session: AsyncSession,
    w: _Window,
    community: Community,
    month: _MeetingFigures,
    reference: _MeetingFigures,
) -> tuple[Signal, ...]:
    found: list[Signal] = []
    rate = _ratio(month.attendances, month.attendance_expected)
    before = _ratio(reference.attendances, reference.attendance_expected)
    if rate is not None and before and rate < before * (1 - ATTENDANCE_DROP):
        found.append(Signal(SIGNAL_ATTENDANCE_DOWN, rate=rate, reference=before))

    last = (
        await session.execute(
            select(col(Meeting.starts_at))
            .where(hosted_by(w.community_id))
            .where(col(Meeting.status) != MeetingStatus.CANCELLED)
            .where(col(Meeting.starts_at) <= w.as_of)
            .where(col(Meeting.ends_at) <= w.now)
            .order_by(col(Meeting.starts_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    quiet_since = w.as_of - QUIET_PERIOD
    if community.created_at <= quiet_since and (last is None or last < quiet_since):
        found.append(Signal(SIGNAL_NO_MEETING, last=last))
    elif community.created_at <= quiet_since and not await planning.in_person_planned(
        session,
        community_id=w.community_id,
        since=w.as_of - IN_PERSON_WINDOW,
        until=w.as_of + IN_PERSON_WINDOW,
    ):
        found.append(Signal(SIGNAL_NO_IN_PERSON))

    joined, left = col(Membership.joined_at), col(Membership.left_at)
    ever_paired = exists(
        select(col(MentorPairing.id))
        .where(col(MentorPairing.community_id) == col(Membership.community_id))
        .where(col(MentorPairing.mentee_id) == col(Membership.person_id))
        .where(col(MentorPairing.accepted_at).is_not(None))
        .where(col(MentorPairing.accepted_at) <= w.as_of)
    )
    unpaired = (
        await session.execute(
            select(func.count())
            .select_from(Membership)
            .where(col(Membership.community_id) == w.community_id)
            .where(col(Membership.is_new_hire).is_(True))
            .where(joined <= w.as_of - UNPAIRED_AFTER)
            .where(joined > w.as_of - NEW_HIRE_WINDOW)
            .where(or_(left.is_(None), left > w.as_of))
            .where(~ever_paired)
        )
    ).scalar_one()
    if unpaired:
        found.append(Signal(SIGNAL_NEW_HIRE_UNPAIRED, count=_int(unpaired)))

    request = ConsultationRequest
    waiting = (
        await session.execute(
            select(func.count())
            .select_from(request)
            .where(col(request.community_id) == w.community_id)
            .where(col(request.created_at) <= w.as_of - UNASSIGNED_AFTER)
            .where(or_(col(request.assigned_at).is_(None), col(request.assigned_at) > w.as_of))
            .where(or_(col(request.closed_at).is_(None), col(request.closed_at) > w.as_of))
            .where(col(request.status) != ConsultationStatus.WITHDRAWN)
        )
    ).scalar_one()
    if waiting:
        found.append(Signal(SIGNAL_CONSULTATION_UNASSIGNED, count=_int(waiting)))
    return tuple(found)


def _history_months(month: date) -> list[date]:
    return [add_months(month, offset) for offset in range(1 - HISTORY_MONTHS, 1)]


async def _history(
    session: AsyncSession,
    *,
    community_id: int,
    months: Sequence[date],
    meetings: Sequence[_MeetingFigures],
    tz: str,
    now: datetime,
    k: int,
) -> tuple[MonthPoint, ...]:
    """Meetings held, attendances (as in each month's own summary, `meetings`) and
    satisfaction for each of the last HISTORY_MONTHS months, this one last."""
    bounds = [month_bounds(m, tz=tz) for m in months]
    satisfaction = (await session.execute(_satisfaction_query(community_id, bounds, k, now))).one()
    return tuple(
        MonthPoint(
            month=m,
            meetings=figures.held,
            attendances=figures.attendances,
            attendance_expected=figures.attendance_expected,
            satisfaction=_float(satisfaction[2 * i + 1]),
        )
        for i, (m, figures) in enumerate(zip(months, meetings, strict=True))
    )


async def vitality_summary(
    session: AsyncSession,
    *,
    community_id: int,
    month: date,
    tz: str,
    now: datetime,
    with_history: bool = True,
) -> VitalitySummary:
    """The summary of `month` (its first day) for the community. LookupError if unknown."""
    community = await session.get(Community, community_id)
    if community is None:
        raise LookupError(community_id)
    month = date(month.year, month.month, 1)
    start, end = month_bounds(month, tz=tz)
    as_of = min(end, now)
    w = _Window(community_id, start, end, as_of, now)
    k = k_threshold(community)

    members, new, left = await _members(session, w)
    # This month, the twelve before it (the signal's reference) and the chart's months: each
    # meeting against its own members, in one query.
    months = _history_months(month) if with_history else []
    figures, reference, *monthly = await _meetings(
        session,
        community_id=community_id,
        buckets=[
            (start, end),
            (month_start(add_months(month, -HISTORY_MONTHS), tz=tz), start),
            *(month_bounds(m, tz=tz) for m in months),
        ],
        now=now,
    )
    proposed, scheduled = await _topics(session, w)
    polls, ballots, ballots_expected = await _polls(session, w)
    submitted, closed, assigned, median = await _consultations(session, w)
    previous = month_bounds(add_months(month, -1), tz=tz)
    three = (month_start(add_months(month, -3), tz=tz), start)
    satisfaction = (
        await session.execute(
            _satisfaction_query(community_id, [(start, end), previous, three], k, now)
        )
    ).one()
    welcomed, paired = await _newcomers(session, w)
    case_figures = await cases.month_figures(
        session, community_id=community_id, start=start, end=end
    )
    history = (
        await _history(
            session,
            community_id=community_id,
            months=months,
            meetings=monthly,
            tz=tz,
            now=now,
            k=k,
        )
        if with_history
        else ()
    )
    return VitalitySummary(
        community_id=community_id,
        month=month,
        as_of=as_of,
        partial=now < end,
        members=members,
        active=await _active(session, w),
        new=new,
        left=left,
        meetings=figures.held,
        attendances=figures.attendances,
        attendance_expected=figures.attendance_expected,
        rsvps=figures.rsvps,
        rsvp_expected=figures.rsvp_expected,
        topics_proposed=proposed,
        topics_scheduled=scheduled,
        polls=polls,
        ballots=ballots,
        ballots_expected=ballots_expected,
        consultations_submitted=submitted,
        consultations_closed=closed,
        consultations_assigned=assigned,
        median_days_to_assignment=median,
        k=k,
        satisfaction_responses=_int(satisfaction[0]),
        satisfaction=_float(satisfaction[1]),
        satisfaction_previous=_float(satisfaction[3]),
        satisfaction_last_three=_float(satisfaction[5]),
        new_hires_welcomed=welcomed,
        new_hires_paired=paired,
        signals=await _signals(session, w, community, figures, reference),
        history=history,
        cases_discussed=case_figures.discussed,
        case_themes=case_figures.themes,
    )


async def months_for_export(
    session: AsyncSession, *, community_id: int, month: date, tz: str, now: datetime
) -> list[VitalitySummary]:
    """The summaries of the HISTORY_MONTHS months ending with `month`, oldest first (CSV)."""
    return [
        await vitality_summary(
            session,
            community_id=community_id,
            month=add_months(month, offset),
            tz=tz,
            now=now,
            with_history=False,
        )
        for offset in range(1 - HISTORY_MONTHS, 1)
    ]


async def communities_to_summarise(session: AsyncSession, *, before: datetime) -> list[Community]:
    """Communities that existed before `before` (a month's end): the others have no month to
    report yet."""
    rows = await session.exec(
        sm_select(Community).where(col(Community.created_at) < before).order_by(col(Community.id))
    )
    return list(rows.all())
