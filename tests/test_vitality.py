"""The monthly vitality summary: each figure against a hand-built community whose answers are
known, on SQLite and PostgreSQL; the signals; the monthly job with a frozen clock (sent once,
caught up after downtime, never twice); the card, its chart and the CSV in French and English;
`bilan [mois]`; the signed export link."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import ALL_RENDERERS, RUNTIME, create_app
from bot.deliveries import RenderContext
from bot.dispatcher import Dispatcher
from bot.links import BadLinkError, signing_key
from bot.vitality_flow import (
    EXPORT_PATH,
    VITALITY_RENDERERS,
    ExportClaim,
    FutureMonth,
    MonthNotUnderstood,
    due_month,
    on_summary_command,
    parse_month,
    read_export,
    send_monthly_summaries,
    sign_export,
)
from cards.common import MAX_CARD_BYTES, Element
from cards.i18n import translator
from cards.vitality import build_vitality_card, build_vitality_csv
from dialogs.context import TurnInfo
from storage import vitality
from storage.db import SessionFactory, create_engine, session_factory, transaction
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
    MentorRequest,
    MentorRequestStatus,
    OnboardingEnrollment,
    OutboxMessage,
    PairingStatus,
    Person,
    Poll,
    PollVote,
    Role,
    Rsvp,
    RsvpAnswer,
    Survey,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicVote,
    Volet,
)
from storage.outbox import Claimed
from storage.vitality import (
    KIND_SUMMARY,
    SIGNAL_ATTENDANCE_DOWN,
    SIGNAL_CONSULTATION_UNASSIGNED,
    SIGNAL_NEW_HIRE_UNPAIRED,
    SIGNAL_NO_MEETING,
    MonthPoint,
    Signal,
    VitalitySummary,
)
from tests import factories
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import ChatAdapter, Clock, card_content, press, text_of

TZ = "America/Montreal"
OCTOBER = date(2026, 10, 1)
# 1 November 2026, 9:00 in Montreal (EST: daylight saving time ended at 2:00 that morning).
NOVEMBER_FIRST_9AM = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def at(day: str, clock: str = "12:00") -> datetime:
    """A UTC instant: at("2026-10-15", "13:00")."""
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00")


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


# -- the hand-built community ----------------------------------------------------------------------


@dataclass
class Known:
    community: Community
    people: dict[int, Person] = field(default_factory=dict)


async def _person(session: AsyncSession, n: int, **changes: Any) -> Person:
    who = await factories.person(session, n)
    for name, value in changes.items():
        setattr(who, name, value)
    await session.flush()
    return who


async def _member(
    session: AsyncSession,
    who: Person,
    where: Community,
    *,
    joined: datetime,
    left: datetime | None = None,
    new_hire: bool = False,
    roles: tuple[Role, ...] = (),
) -> Membership:
    row = Membership(
        person_id=_id(who),
        community_id=_id(where),
        roles=[Role.MEMBER.value, *(r.value for r in roles)],
        joined_at=joined,
        left_at=left,
        is_new_hire=new_hire,
    )
    session.add(row)
    await session.flush()
    return row


async def _meeting(
    session: AsyncSession,
    where: Community,
    starts: datetime,
    *,
    status: MeetingStatus = MeetingStatus.DONE,
    confirmed: bool = False,
    hours: float = 4,
) -> Meeting:
    row = Meeting(
        community_id=_id(where),
        title="Rencontre",
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        status=status,
        attendance_confirmed_at=starts + timedelta(hours=hours + 1) if confirmed else None,
    )
    session.add(row)
    await session.flush()
    return row


async def _attended(session: AsyncSession, meeting: Meeting, people: list[Person]) -> None:
    for who in people:
        session.add(Attendance(meeting_id=_id(meeting), person_id=_id(who), minutes=240))
    await session.flush()


async def _rsvp(
    session: AsyncSession, meeting: Meeting, who: Person, answer: RsvpAnswer, when: datetime
) -> None:
    session.add(Rsvp(meeting_id=_id(meeting), person_id=_id(who), answer=answer, answered_at=when))
    await session.flush()


_keys = iter(range(1, 10_000))


async def _satisfaction(session: AsyncSession, meeting: Meeting, overall: list[int]) -> Survey:
    survey = Survey(
        community_id=meeting.community_id,
        meeting_id=_id(meeting),
        kind=SurveyKind.SATISFACTION,
        opens_at=meeting.ends_at + timedelta(hours=1),
        closes_at=meeting.ends_at + timedelta(days=7),
    )
    session.add(survey)
    await session.flush()
    for rating in overall:
        session.add(
            SurveyResponse(
                survey_id=_id(survey),
                respondent_key=f"k{next(_keys)}",
                ratings={"overall": rating, "relevance": 3},
            )
        )
    await session.flush()
    return survey


_references = iter(range(1, 10_000))


async def _consultation(
    session: AsyncSession,
    where: Community,
    requester: Person,
    created: datetime,
    *,
    assigned: datetime | None = None,
    closed: datetime | None = None,
    status: ConsultationStatus | None = None,
) -> None:
    if status is None:
        status = (
            ConsultationStatus.CLOSED
            if closed
            else ConsultationStatus.ASSIGNED
            if assigned
            else ConsultationStatus.SUBMITTED
        )
    session.add(
        ConsultationRequest(
            reference=f"C-{next(_references)}",
            community_id=_id(where),
            requester_id=_id(requester),
            motive="ethical_dilemma",
            urgency="normal",
            modality="virtual",
            status=status,
            assignee_id=_id(requester) if assigned else None,
            created_at=created,
            assigned_at=assigned,
            closed_at=closed,
        )
    )
    await session.flush()


async def build_known_community(sessions: SessionFactory) -> Known:
    """October 2026 in a community whose every figure is worked out by hand (see the test)."""
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.created_at = at("2025-01-01")
        p = {n: await _person(session, n) for n in range(1, 13)}
        for n in range(1, 9):
            await _member(
                session,
                p[n],
                where,
                joined=at("2026-01-10"),
                roles=(Role.ANIMATOR,) if n == 1 else (),
            )
        await _member(session, p[9], where, joined=at("2026-10-05"), new_hire=True)
        await _member(session, p[10], where, joined=at("2026-03-01"), left=at("2026-10-20"))
        await _member(session, p[11], where, joined=at("2026-09-01"), new_hire=True)
        await _member(session, p[12], where, joined=at("2026-08-15"), new_hire=True)

        # October: M1 confirmed (12 members then, 6 present), M2 cancelled, M5 on Oct 31 at
        # 20:00 in Montreal (1 November in UTC: still October here), over but not confirmed.
        m1 = await _meeting(session, where, at("2026-10-15", "13:00"), confirmed=True)
        await _attended(session, m1, [p[1], p[2], p[3], p[4], p[5], p[9]])
        for n in range(1, 7):
            await _rsvp(session, m1, p[n], RsvpAnswer.YES, at("2026-10-01"))
        await _rsvp(session, m1, p[7], RsvpAnswer.NO, at("2026-10-01"))
        await _rsvp(session, m1, p[10], RsvpAnswer.MAYBE, at("2026-10-01"))
        m2 = await _meeting(
            session, where, at("2026-10-29", "13:00"), status=MeetingStatus.CANCELLED
        )
        m5 = await _meeting(
            session, where, at("2026-11-01", "00:00"), status=MeetingStatus.SCHEDULED, hours=2
        )
        await _rsvp(session, m5, p[1], RsvpAnswer.YES, at("2026-10-20"))
        # September: M3 confirmed (11 members, 10 present), M6 on Sep 30 at 23:00 local.
        m3 = await _meeting(session, where, at("2026-09-10", "13:00"), confirmed=True)
        await _attended(session, m3, [p[n] for n in (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)])
        await _meeting(session, where, at("2026-10-01", "03:00"))
        m7 = await _meeting(session, where, at("2026-07-09", "13:00"))
        m8 = await _meeting(session, where, at("2026-08-13", "13:00"))

        # Topics: two proposed in October; T0 (September) and T1 on M1's agenda; T2 on the
        # cancelled meeting's.
        t0 = Topic(community_id=_id(where), title="T0", created_at=at("2026-09-05"))
        t1 = Topic(
            community_id=_id(where),
            title="T1",
            proposed_by_id=_id(p[11]),
            created_at=at("2026-10-12"),
        )
        t2 = Topic(
            community_id=_id(where),
            title="T2",
            proposed_by_id=_id(p[1]),
            created_at=at("2026-10-02"),
        )
        session.add_all([t0, t1, t2])
        await session.flush()
        session.add(TopicVote(topic_id=_id(t0), person_id=_id(p[12]), created_at=at("2026-10-13")))
        for position, (topic, meeting) in enumerate([(t0, m1), (t1, m1), (t0, m1), (t2, m2)]):
            session.add(
                AgendaItem(
                    meeting_id=_id(meeting),
                    position=position,
                    starts_at=meeting.starts_at,
                    title=topic.title,
                    volet=Volet.FORMATIVE,
                    topic_id=_id(topic),
                )
            )

        # Polls: P1 (named, 2 ballots) and P2 (anonymous, 1) in October; P0 from September.
        polls = {
            name: Poll(
                community_id=_id(where),
                question=name,
                options=["a", "b"],
                anonymous=anonymous,
                closes_at=created + timedelta(days=7),
                created_at=created,
            )
            for name, created, anonymous in (
                ("P0", at("2026-09-28"), False),
                ("P1", at("2026-10-03"), False),
                ("P2", at("2026-10-20"), True),
            )
        }
        session.add_all(polls.values())
        await session.flush()
        for poll, key, person, when in (
            ("P1", "a", p[3], at("2026-10-14")),
            ("P1", "b", p[4], at("2026-10-05")),
            ("P2", "c", None, at("2026-10-21")),
            ("P0", "d", p[5], at("2026-10-02")),
        ):
            session.add(
                PollVote(
                    poll_id=_id(polls[poll]),
                    voter_key=key,
                    person_id=_id(person) if person else None,
                    choices=[0],
                    voted_at=when,
                )
            )

        # Consultations (all asked by p12): assigned in October after 4, 1.5, 10 and 2 days.
        requester = p[12]
        await _consultation(session, where, requester, at("2026-09-28"), assigned=at("2026-10-02"))
        await _consultation(
            session,
            where,
            requester,
            at("2026-10-02", "00:00"),
            assigned=at("2026-10-03", "12:00"),
            closed=at("2026-10-20"),
        )
        await _consultation(session, where, requester, at("2026-10-10"), assigned=at("2026-10-20"))
        await _consultation(session, where, requester, at("2026-10-11"), assigned=at("2026-10-13"))
        await _consultation(session, where, requester, at("2026-10-20"))  # waiting 12 days
        await _consultation(session, where, requester, at("2026-10-29"))  # only 3 days
        await _consultation(
            session, where, requester, at("2026-10-05"), status=ConsultationStatus.WITHDRAWN
        )

        # Satisfaction: October 6 answers (avg 4.0); September 5 (3.0); August 3 (below k);
        # July 5 (4.8).
        await _satisfaction(session, m1, [5, 4, 4, 3, 5, 3])
        await _satisfaction(session, m3, [3, 3, 4, 3, 2])
        await _satisfaction(session, m8, [1, 1, 1])
        await _satisfaction(session, m7, [5, 5, 5, 5, 4])

        # Newcomers: p9 welcomed in October; p12 paired in October; p11 never paired.
        session.add(
            OnboardingEnrollment(
                community_id=_id(where),
                person_id=_id(p[9]),
                source="join_dialog",
                started_at=at("2026-10-05"),
            )
        )
        session.add(
            OnboardingEnrollment(
                community_id=_id(where),
                person_id=_id(p[11]),
                source="join_dialog",
                started_at=at("2026-09-01"),
            )
        )
        request = MentorRequest(
            community_id=_id(where), mentee_id=_id(p[12]), status=MentorRequestStatus.PAIRED
        )
        session.add(request)
        await session.flush()
        session.add(
            MentorPairing(
                request_id=_id(request),
                community_id=_id(where),
                mentor_id=_id(p[1]),
                mentee_id=_id(p[12]),
                status=PairingStatus.ACTIVE,
                accepted_at=at("2026-10-03"),
            )
        )
    return Known(where, p)


async def test_each_figure_of_a_known_month(any_sessions: SessionFactory) -> None:
    known = await build_known_community(any_sessions)
    async with any_sessions() as session:
        s = await vitality.vitality_summary(
            session,
            community_id=_id(known.community),
            month=OCTOBER,
            tz=TZ,
            now=NOVEMBER_FIRST_9AM,
        )
    # Members: p1–p8, p9 (new), p11, p12 at the end of October; p10 left on the 20th.
    assert (s.members, s.new, s.left) == (11, 1, 1)
    # Active, among the members at the month's end: attended (1–5, 9), answered an RSVP (1–7;
    # p10 too, but left on the 20th), proposed T1 (11), supported T0 or asked for a
    # consultation (12), a named ballot (3, 4). p8 did nothing (nor did the anonymous ballot,
    # which names nobody).
    assert s.active == 10
    # Held: M1 and M5 (Oct 31 20:00 local); not the cancelled M2, nor M6 (Sep 30 local).
    assert s.meetings == 2
    assert (s.attendances, s.attendance_expected, s.attendance_rate) == (6, 12, 0.5)
    # RSVPs: 8 on M1 (12 members then) + 1 on M5 (11 members then).
    assert (s.rsvps, s.rsvp_expected) == (9, 23)
    assert (s.topics_proposed, s.topics_scheduled) == (2, 2)
    assert (s.polls, s.ballots) == (2, 3)
    # Who could vote: P1 (3 to 10 October) the twelve members then, p9 (joined on the 5th)
    # included; P2 (from 20 October, noon) eleven, without p10 (left at that moment).
    assert s.ballots_expected == 23
    assert s.poll_participation == pytest.approx(3 / 23)
    assert (s.consultations_submitted, s.consultations_closed, s.consultations_assigned) == (
        6,
        1,
        4,
    )
    # Days to assignment 1.5, 2, 4, 10: the median is 3.
    assert s.median_days_to_assignment == pytest.approx(3.0)
    assert s.k == 5
    assert s.satisfaction_responses == 6
    assert s.satisfaction == pytest.approx(4.0)
    assert s.satisfaction_previous == pytest.approx(3.0)
    # July and September pooled: (24 + 15) / 10. August's survey, below k alone, stays out:
    # with July and September shown each, a pool with it would give its answers away.
    assert s.satisfaction_last_three == pytest.approx(39 / 10)
    assert s.trend_previous == pytest.approx(1.0)
    assert s.trend_last_three == pytest.approx(4.0 - 39 / 10)
    assert (s.new_hires_welcomed, s.new_hires_paired) == (1, 1)
    assert s.signals == (
        Signal(SIGNAL_ATTENDANCE_DOWN, rate=0.5, reference=pytest.approx(10 / 11)),  # type: ignore[arg-type]
        Signal(SIGNAL_NEW_HIRE_UNPAIRED, count=1),
        Signal(SIGNAL_CONSULTATION_UNASSIGNED, count=1),
    )
    assert (s.partial, s.as_of) == (False, datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    history = {point.month: point for point in s.history}
    assert len(s.history) == 12
    assert s.history[0].month == date(2025, 11, 1)
    # Attendances as in each month's summary: confirmed meetings, against their members.
    assert history[OCTOBER] == MonthPoint(OCTOBER, 2, 6, 12, pytest.approx(4.0))  # type: ignore[arg-type]
    assert history[date(2026, 9, 1)] == MonthPoint(date(2026, 9, 1), 2, 10, 11, pytest.approx(3.0))  # type: ignore[arg-type]
    assert history[date(2026, 8, 1)] == MonthPoint(date(2026, 8, 1), 1, 0, 0, None)
    assert history[date(2026, 7, 1)] == MonthPoint(date(2026, 7, 1), 1, 0, 0, pytest.approx(4.8))  # type: ignore[arg-type]
    assert sum(p.meetings for p in s.history) == 6


async def test_a_higher_k_hides_satisfaction_and_a_month_under_way_is_partial(
    any_sessions: SessionFactory,
) -> None:
    known = await build_known_community(any_sessions)
    async with transaction(any_sessions) as session:
        community = await session.get(Community, _id(known.community))
        assert community is not None
        community.settings = {"survey_k": 7}
    async with any_sessions() as session:
        s = await vitality.vitality_summary(
            session, community_id=_id(known.community), month=OCTOBER, tz=TZ, now=NOVEMBER_FIRST_9AM
        )
        november = await vitality.vitality_summary(
            session,
            community_id=_id(known.community),
            month=date(2026, 11, 1),
            tz=TZ,
            now=NOVEMBER_FIRST_9AM,
        )
    assert (s.k, s.satisfaction_responses, s.satisfaction, s.satisfaction_previous) == (
        7,
        6,
        None,
        None,
    )
    # No survey reached 7 answers alone: none counts, even pooled (differencing).
    assert s.satisfaction_last_three is None
    assert all(point.satisfaction is None for point in s.history)
    assert (november.partial, november.as_of, november.meetings) == (True, NOVEMBER_FIRST_9AM, 0)


async def test_signals_no_meeting_for_eight_weeks(any_sessions: SessionFactory) -> None:
    async with transaction(any_sessions) as session:
        quiet = await factories.community(session, name="CdeP calme")
        quiet.created_at = at("2026-01-01")
        await _meeting(session, quiet, at("2026-08-01"))
        never = await factories.community(session, name="CdeP sans rencontre")
        never.created_at = at("2026-01-01")
        young = await factories.community(session, name="CdeP toute neuve")
        young.created_at = at("2026-10-01")
        busy = await factories.community(session, name="CdeP active")
        busy.created_at = at("2026-01-01")
        await _meeting(session, busy, at("2026-09-07"))  # 8 weeks before Nov 1 local midnight
    async with any_sessions() as session:
        found = {
            where.name: (
                await vitality.vitality_summary(
                    session, community_id=_id(where), month=OCTOBER, tz=TZ, now=NOVEMBER_FIRST_9AM
                )
            ).signals
            for where in (quiet, never, young, busy)
        }
    assert found["CdeP calme"] == (Signal(SIGNAL_NO_MEETING, last=at("2026-08-01")),)
    assert found["CdeP sans rencontre"] == (Signal(SIGNAL_NO_MEETING, last=None),)
    assert found["CdeP toute neuve"] == ()
    assert found["CdeP active"] == ()


def test_month_arithmetic_follows_montreal_time() -> None:
    assert vitality.add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert vitality.add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    # 1 November 00:00 EDT is 04:00 UTC; 1 December 00:00 EST is 05:00 UTC.
    assert vitality.month_bounds(date(2026, 11, 1), tz=TZ) == (
        datetime(2026, 11, 1, 4, tzinfo=UTC),
        datetime(2026, 12, 1, 5, tzinfo=UTC),
    )
    assert vitality.month_of(datetime(2026, 11, 1, 3, tzinfo=UTC), tz=TZ) == OCTOBER


# -- a year of a community that grows and shrinks ---------------------------------------------

# November 2025 to October 2026, the twelve months of October's chart and CSV.
YEAR = tuple(vitality.add_months(OCTOBER, offset) for offset in range(-11, 1))


@dataclass
class Span:
    """A membership as the year's story wrote it."""

    person_id: int
    joined: datetime
    left: datetime | None = None

    def member_at(self, moment: datetime) -> bool:
        return self.joined <= moment and (self.left is None or self.left > moment)


@dataclass
class Seeded:
    """What was seeded, for working out by hand what each month's figures must be."""

    community: Community
    spans: list[Span] = field(default_factory=list)
    # Held meetings: start, confirmed, who was recorded present, who answered the invitation.
    meetings: list[tuple[datetime, set[int], set[int]]] = field(default_factory=list)
    # Polls: opened, closed, named voters, anonymous ballots.
    polls: list[tuple[datetime, datetime, set[int], int]] = field(default_factory=list)
    # Everything that makes a person active: who, when.
    acts: list[tuple[int, datetime]] = field(default_factory=list)

    def members_at(self, moment: datetime) -> set[int]:
        return {s.person_id for s in self.spans if s.member_at(moment)}

    def members_during(self, start: datetime, end: datetime) -> set[int]:
        return {
            s.person_id for s in self.spans if s.joined < end and (s.left is None or s.left > start)
        }


def _month_day(month: date, day: int, hour: int = 15) -> datetime:
    return datetime(month.year, month.month, day, hour, tzinfo=UTC)


# Each month: the days people join, (day joined, day left) of those who leave within the
# month they joined, how many earlier members leave and on which day.
STORY: dict[date, tuple[list[int], list[tuple[int, int]], int, int]] = {
    date(2025, 10, 1): ([6, 6], [], 0, 0),
    # A pilot: five try it, three of them leave before the month ends.
    date(2025, 11, 1): ([3, 3], [(3, 25), (3, 25), (4, 26)], 0, 0),
    # Three join after the meeting of the 10th, and are recorded present at it.
    date(2025, 12, 1): ([15, 15, 15], [], 0, 0),
    date(2026, 1, 1): ([20, 20], [], 1, 8),
    date(2026, 2, 1): ([3, 12, 12], [], 0, 0),
    # A cohort joins.
    date(2026, 3, 1): ([2] * 8, [], 1, 18),
    date(2026, 4, 1): ([7, 21], [], 2, 27),
    date(2026, 5, 1): ([11], [], 0, 0),
    # The cohort leaves on the 20th, after its meeting, its poll and its invitations.
    date(2026, 6, 1): ([26], [], 7, 20),
    date(2026, 7, 1): ([8, 8], [], 1, 14),
    date(2026, 8, 1): ([], [], 2, 17),
    date(2026, 9, 1): ([1, 2, 15], [(4, 29)], 0, 0),
    # Someone answers the invitation to the 24th, then leaves on the 20th.
    date(2026, 10, 1): ([6, 13], [], 1, 20),
}


async def seed_year(sessions: SessionFactory) -> Seeded:
    """Thirteen months of a community: members joining and leaving every month, two meetings
    a month (none in August, one cancelled), invitations, polls (named and anonymous), topics,
    votes on topics and consultation requests. As in real data, some rows are not a member's:
    people recorded present at a meeting held before they joined, or after they left; people
    who answered an invitation and left before the meeting; a guest who proposes a topic."""
    rng = random.Random(13)
    next_person = iter(range(100, 1000))
    async with transaction(sessions) as session:
        where = await factories.community(session, name="CdeP Soins palliatifs")
        where.created_at = at("2025-09-01")
        seeded = Seeded(where)

        async def join(day: datetime, left: datetime | None = None) -> Span:
            who = await _person(session, next(next_person))
            await _member(session, who, where, joined=day, left=left)
            span = Span(_id(who), day, left)
            seeded.spans.append(span)
            return span

        guest = await _person(session, next(next_person))  # never a member
        cohort: list[Span] = []
        for month, (joins, brief, leaving, leave_day) in STORY.items():
            for day in joins:
                span = await join(_month_day(month, day, 16))
                if month == date(2026, 3, 1):
                    cohort.append(span)
            for joined, left in brief:
                await join(_month_day(month, joined, 16), _month_day(month, left, 16))
            when = _month_day(month, leave_day or 1, 16)
            staying = [
                s
                for s in seeded.spans
                if s.member_at(when) and s.joined < when - timedelta(days=2) and s.left is None
            ]
            if month == date(2026, 6, 1):
                going = [s for s in cohort if s.left is None][:leaving]
            else:
                going = rng.sample(sorted(staying[1:], key=lambda s: s.person_id), leaving)
            for span in going:
                span.left = when
                row = (
                    await session.exec(
                        select(Membership).where(Membership.person_id == span.person_id)
                    )
                ).one()
                row.left_at = when
            await session.flush()

            # Meetings on the 10th and 24th at 11:00 in Montreal; none in August; the one of
            # 24 January cancelled (its invitations were answered all the same).
            for day in (10, 24) if month.month != 8 else ():
                starts = _month_day(month, day)
                cancelled = (month, day) == (date(2026, 1, 1), 24)
                meeting = await _meeting(
                    session,
                    where,
                    starts,
                    status=MeetingStatus.CANCELLED if cancelled else MeetingStatus.DONE,
                    confirmed=not cancelled,
                    hours=3,
                )
                asked = seeded.members_at(starts - timedelta(days=7))
                answered = set(rng.sample(sorted(asked), round(len(asked) * 0.7)))
                if month == date(2026, 10, 1) and day == 24:
                    answered |= {going[0].person_id}  # answered on the 17th, left on the 20th
                if month == date(2026, 6, 1):
                    answered |= {s.person_id for s in going}
                late = {
                    s.person_id
                    for s in seeded.spans
                    if starts < s.joined < starts + timedelta(days=14)
                }
                if month == date(2025, 12, 1):
                    # Recorded later from a list of the people then members (as the demo
                    # data did): present at, and answering for, a meeting before they joined.
                    answered |= late
                for person in sorted(answered):
                    span = next(s for s in seeded.spans if s.person_id == person)
                    when = max(starts - timedelta(days=7), span.joined) + timedelta(hours=1)
                    await _rsvp(session, meeting, await _who(session, person), RsvpAnswer.YES, when)
                    seeded.acts.append((person, when))
                if cancelled:
                    continue
                present = seeded.members_at(starts)
                # Summer: a quarter of the members come in July (« présence en baisse »).
                share = 0.25 if month == date(2026, 7, 1) else 0.6
                attended = set(rng.sample(sorted(present), round(len(present) * share)))
                if month == date(2026, 6, 1):
                    attended |= {s.person_id for s in going if s.member_at(starts)}
                if month == date(2025, 12, 1) or (month, day) == (date(2026, 1, 1), 10):
                    attended |= late
                if (month, day) == (date(2026, 1, 1), 10):
                    # A former member came back as a guest and was checked present.
                    attended |= {s.person_id for s in going}
                await _attended(session, meeting, [await _who(session, p) for p in attended])
                seeded.acts += [(p, starts) for p in attended]
                seeded.meetings.append((starts, attended, answered))

            # A poll on the 5th for a week, named and anonymous in turn; in June nearly
            # everyone votes, the cohort included.
            opened = _month_day(month, 5)
            closes = opened + timedelta(days=7)
            anonymous = month.month % 2 == 0
            poll = Poll(
                community_id=_id(where),
                question=f"Sondage {month:%Y-%m}",
                options=["a", "b"],
                anonymous=anonymous,
                closes_at=closes,
                created_at=opened,
                closed_at=closes,
            )
            session.add(poll)
            await session.flush()
            voting = seeded.members_at(opened + timedelta(days=1))
            share = 0.9 if month == date(2026, 6, 1) else 0.6
            voters = set(rng.sample(sorted(voting), round(len(voting) * share)))
            for person in sorted(voters):
                session.add(
                    PollVote(
                        poll_id=_id(poll),
                        voter_key=f"v{_id(poll)}:{person}",
                        person_id=None if anonymous else person,
                        choices=[0],
                        voted_at=opened + timedelta(days=1),
                    )
                )
                if not anonymous:
                    seeded.acts.append((person, opened + timedelta(days=1)))
            seeded.polls.append(
                (opened, closes, set() if anonymous else voters, len(voters) if anonymous else 0)
            )

            # A topic proposed on the 15th (by the guest in February), supported on the 16th;
            # a consultation request on the 18th (in June, by one of the cohort).
            members = sorted(seeded.members_at(_month_day(month, 15)))
            proposer = _id(guest) if month == date(2026, 2, 1) else rng.choice(members)
            topic = Topic(
                community_id=_id(where),
                title=f"Sujet {month:%Y-%m}",
                proposed_by_id=proposer,
                created_at=_month_day(month, 15),
            )
            session.add(topic)
            await session.flush()
            seeded.acts.append((proposer, _month_day(month, 15)))
            for person in rng.sample(members, min(2, len(members))):
                session.add(
                    TopicVote(
                        topic_id=_id(topic), person_id=person, created_at=_month_day(month, 16)
                    )
                )
                seeded.acts.append((person, _month_day(month, 16)))
            requester = going[0].person_id if month == date(2026, 6, 1) else rng.choice(members)
            await _consultation(
                session, where, await _who(session, requester), _month_day(month, 18)
            )
            seeded.acts.append((requester, _month_day(month, 18)))
            await session.flush()
    return seeded


async def _who(session: AsyncSession, person_id: int) -> Person:
    who = await session.get(Person, person_id)
    assert who is not None
    return who


@dataclass(frozen=True)
class Expected:
    members: int
    active: int
    attendances: int
    attendance_expected: int
    rsvps: int
    rsvp_expected: int
    ballots: int
    ballots_expected: int


def expected_figures(seeded: Seeded, month: date) -> Expected:
    """Each figure worked out from the story: only the rows of people who were members at
    the time count, each against the members of its own meeting, poll or month."""
    start, end = vitality.month_bounds(month, tz=TZ)
    members = seeded.members_at(end - timedelta(microseconds=1))
    attendances = expected_attendances = rsvps = expected_rsvps = 0
    for starts, attended, answered in seeded.meetings:
        if start <= starts < end:
            there = seeded.members_at(starts)
            attendances += len(attended & there)
            rsvps += len(answered & there)
            expected_attendances += len(there)
            expected_rsvps += len(there)
    ballots = expected_ballots = 0
    for opened, closes, named, anonymous in seeded.polls:
        if start <= opened < end:
            eligible = seeded.members_during(opened, closes)
            ballots += min(len(named & eligible) + anonymous, len(eligible))
            expected_ballots += len(eligible)
    active = {person for person, when in seeded.acts if start <= when < end} & members
    return Expected(
        len(members),
        len(active),
        attendances,
        expected_attendances,
        rsvps,
        expected_rsvps,
        ballots,
        expected_ballots,
    )


def implausible(s: VitalitySummary, before: VitalitySummary) -> list[str]:
    """What no month of any community can show."""
    found: list[str] = []
    rates = {
        "attendance_rate": s.attendance_rate,
        "rsvp_rate": s.rsvp_rate,
        "poll_participation": s.poll_participation,
    }
    for name, rate in rates.items():
        if rate is not None and not 0 <= rate <= 1:
            found.append(f"{s.month:%Y-%m} {name} {rate:.0%}")
    for name, part, whole in (
        ("active", s.active, s.members),
        ("new", s.new, s.members),
        ("left", s.left, before.members),
        ("attendances", s.attendances, s.attendance_expected),
        ("rsvps", s.rsvps, s.rsvp_expected),
    ):
        if not 0 <= part <= whole:
            found.append(f"{s.month:%Y-%m} {name} {part} of {whole}")
    if s.members != before.members + s.new - s.left:
        found.append(f"{s.month:%Y-%m} members {s.members} ≠ {before.members} + {s.new} − {s.left}")
    return found


async def test_every_figure_of_a_seeded_year_is_plausible(any_sessions: SessionFactory) -> None:
    """Bug: past months showed « Taux de présence 200 % », « Réponses aux invitations
    267 % », 12 active members out of 8. Every figure of every month, on the card, in the
    chart and in the CSV, within what is possible and equal to what the story says."""
    seeded = await seed_year(any_sessions)
    community_id = _id(seeded.community)
    async with any_sessions() as session:
        summaries = {
            month: await vitality.vitality_summary(
                session,
                community_id=community_id,
                month=month,
                tz=TZ,
                now=NOVEMBER_FIRST_9AM,
            )
            for month in (vitality.add_months(YEAR[0], -1), *YEAR)
        }
        exported = await vitality.months_for_export(
            session, community_id=community_id, month=OCTOBER, tz=TZ, now=NOVEMBER_FIRST_9AM
        )
    problems = [
        problem
        for month in YEAR
        for problem in implausible(summaries[month], summaries[vitality.add_months(month, -1)])
    ]
    assert problems == [], "\n".join(problems)

    for month in YEAR:
        s = summaries[month]
        assert s.ballots <= s.ballots_expected
        figures = Expected(
            s.members,
            s.active,
            s.attendances,
            s.attendance_expected,
            s.rsvps,
            s.rsvp_expected,
            s.ballots,
            s.ballots_expected,
        )
        assert figures == expected_figures(seeded, month), month
        # « Présence en baisse » from the corrected rates: this month's against the twelve
        # months' before, each attendance against the members at its own meeting.
        earlier = vitality.add_months(month, -12)
        pooled = [expected_figures(seeded, vitality.add_months(earlier, i)) for i in range(12)]
        reference = sum(p.attendances for p in pooled) / max(
            1, sum(p.attendance_expected for p in pooled)
        )
        rate = s.attendance_rate
        dropped = rate is not None and rate < reference * (1 - vitality.ATTENDANCE_DROP)
        assert (SIGNAL_ATTENDANCE_DOWN in {x.code for x in s.signals}) == dropped, month
    # The story has what made the figures impossible: rows of people who were not members
    # at the time, and months where many join or leave.
    assert any(attended - seeded.members_at(starts) for starts, attended, _ in seeded.meetings)
    assert any(answered - seeded.members_at(starts) for starts, _, answered in seeded.meetings)
    assert any(s.left >= 5 for s in summaries.values())
    assert summaries[date(2026, 8, 1)].attendance_rate is None  # no meeting in August
    assert [
        m for m in YEAR if SIGNAL_ATTENDANCE_DOWN in {x.code for x in summaries[m].signals}
    ] == [date(2026, 7, 1)]

    # The chart: each month as in its own summary.
    october = summaries[OCTOBER]
    assert [p.month for p in october.history] == list(YEAR)
    for point in october.history:
        s = summaries[point.month]
        assert (point.meetings, point.attendances, point.attendance_expected) == (
            s.meetings,
            s.attendances,
            s.attendance_expected,
        )
        assert point.attendance_rate == s.attendance_rate

    # The CSV: the same months, every rate a percentage from 0 to 100.
    assert [s.month for s in exported] == list(YEAR)
    assert exported == [dataclasses.replace(summaries[m], history=()) for m in YEAR]
    for locale in ("fr-CA", "en-US"):
        text = build_vitality_csv(exported, locale=locale)
        french = locale == "fr-CA"
        header, *rows = list(csv.reader(io.StringIO(text), delimiter=";" if french else ","))
        assert len(rows) == 12
        percentages = [i for i, name in enumerate(header) if name.endswith("(%)")]
        assert len(percentages) == 3
        column = {name: i for i, name in enumerate(header)}
        t = translator(locale)
        for row in rows:
            for i in percentages:
                if row[i]:
                    assert 0 <= float(row[i].replace(",", ".")) <= 100, (row[0], header[i])
            members = int(row[column[t("vitality.csv.members")]])
            assert int(row[column[t("vitality.csv.active")]]) <= members
            assert int(row[column[t("vitality.csv.new")]]) <= members

    # The card: no percentage above 100 in any month, in either language.
    for month in YEAR:
        for locale, pattern in (("fr-CA", r"(\d+)\u00a0%"), ("en-US", r"(\d+)%")):
            card = build_vitality_card(
                summaries[month], community_name="CdeP", locale=locale, tz=TZ
            )
            shown = [int(n) for n in re.findall(pattern, _text(card))]
            assert all(n <= 100 for n in shown), (month, locale, shown)


async def _attendance_story(
    session: AsyncSession,
    name: str,
    *,
    first: int,
    before: int,
    now: int,
    late: int,
    counted_late: str,
) -> Community:
    """Ten members since 2025; a meeting in March 2026 and one in October, with `before` and
    `now` of the ten present. `late` people join after one of the meetings (`counted_late`)
    and are recorded present at it anyway."""
    where = await factories.community(session, name=name)
    where.created_at = at("2025-01-01")
    people = [await _person(session, n) for n in range(first, first + 10 + late)]
    for who in people[:10]:
        await _member(session, who, where, joined=at("2025-09-01"))
    march = await _meeting(session, where, at("2026-03-12", "14:00"), confirmed=True)
    october = await _meeting(session, where, at("2026-10-08", "14:00"), confirmed=True)
    latecomers = people[10:]
    for who in latecomers:
        joined = at("2026-04-01") if counted_late == "march" else at("2026-10-20")
        await _member(session, who, where, joined=joined)
    await _attended(
        session, march, people[:before] + (latecomers if counted_late == "march" else [])
    )
    await _attended(
        session, october, people[:now] + (latecomers if counted_late == "october" else [])
    )
    return where


async def test_attendance_down_compares_rates_of_the_members_at_each_meeting(
    any_sessions: SessionFactory,
) -> None:
    """« Présence en baisse » from corrected rates: present people who were not members yet
    neither inflate the twelve months' reference (a drop that is not there) nor this month's
    rate (hiding one that is)."""
    async with transaction(any_sessions) as session:
        # March 6 of 10 (and 6 who joined in April): 60 %. October 10 of 16: 62 %. No drop,
        # though counting the newcomers made March 120 %.
        steady = await _attendance_story(
            session, "CdeP stable", first=1, before=6, now=10, late=6, counted_late="march"
        )
        # March 8 of 10: 80 %. October 4 of 10 (and 4 who joined after it): 40 %, a drop,
        # though counting the newcomers made October 80 %.
        falling = await _attendance_story(
            session, "CdeP en baisse", first=20, before=8, now=4, late=4, counted_late="october"
        )
    async with any_sessions() as session:
        calm, drop = [
            await vitality.vitality_summary(
                session, community_id=_id(where), month=OCTOBER, tz=TZ, now=NOVEMBER_FIRST_9AM
            )
            for where in (steady, falling)
        ]
    assert (calm.attendances, calm.attendance_expected) == (10, 16)
    assert calm.signals == ()
    assert (drop.attendances, drop.attendance_expected) == (4, 10)
    assert drop.signals == (
        Signal(SIGNAL_ATTENDANCE_DOWN, rate=pytest.approx(0.4), reference=pytest.approx(0.8)),  # type: ignore[arg-type]
    )
    card = build_vitality_card(drop, community_name="CdeP", locale="fr-CA", tz=TZ)
    assert (
        "Présence en baisse\u00a0: 40\u00a0%\u00a0ce mois-ci, contre 80\u00a0% sur les 12\u00a0mois"
        " précédents." in _text(card)
    )


# -- months typed by people ------------------------------------------------------------------------


TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", date(2026, 10, 1)),
        ("octobre", date(2026, 10, 1)),
        ("Octobre 2025", date(2025, 10, 1)),
        ("oct 2026", date(2026, 10, 1)),
        ("oct. 2026", date(2026, 10, 1)),
        ("2026-10", date(2026, 10, 1)),
        ("10/2026", date(2026, 10, 1)),
        ("décembre", date(2025, 12, 1)),
        ("fevrier", date(2026, 2, 1)),
        ("août 2026", date(2026, 8, 1)),
        ("October", date(2026, 10, 1)),
        ("sept", date(2026, 9, 1)),
        ("novembre", date(2026, 11, 1)),
        ("mois dernier", date(2026, 10, 1)),
        ("last month", date(2026, 10, 1)),
        ("this month", date(2026, 11, 1)),
        ("de mars 2026", date(2026, 3, 1)),
    ],
)
def test_parse_month(typed: str, expected: date) -> None:
    assert parse_month(typed, today=TODAY) == expected


def test_parse_month_refuses_what_it_does_not_understand_and_the_future() -> None:
    for typed in ("bientôt", "13/2026", "2026-13", "octobre novembre", "1999-01"):
        with pytest.raises(MonthNotUnderstood):
            parse_month(typed, today=TODAY)
    for typed in ("décembre 2026", "2027-01"):
        with pytest.raises(FutureMonth):
            parse_month(typed, today=TODAY)


# -- the monthly job -------------------------------------------------------------------------------


async def _summary_rows(sessions: SessionFactory) -> list[tuple[str, int | None, dict[str, Any]]]:
    async with sessions() as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == KIND_SUMMARY)
                .order_by(col(OutboxMessage.id))
            )
        ).all()
    return [(r.dedup_key, r.person_id, dict(r.params)) for r in rows]


async def _two_communities(sessions: SessionFactory) -> dict[str, Any]:
    async with transaction(sessions) as session:
        first = await factories.community(session, name="CdeP Soins palliatifs")
        first.created_at = at("2026-01-01")
        second = await factories.community(session, name="CdeP OC")
        second.created_at = at("2026-01-01")
        later = await factories.community(session, name="CdeP novembre")
        later.created_at = at("2026-11-01", "12:00")  # after the end of October
        animator = await _person(session, 1)
        sponsor = await _person(session, 2)
        member = await _person(session, 3)
        coordinator = await _person(session, 4)
        duo = await _person(session, 5)
        gone = await _person(session, 6)
        joined = at("2026-01-02")
        await _member(session, animator, first, joined=joined, roles=(Role.ANIMATOR,))
        await _member(session, sponsor, first, joined=joined, roles=(Role.SPONSOR,))
        await _member(session, member, first, joined=joined)
        await _member(session, coordinator, first, joined=joined, roles=(Role.COORDINATOR,))
        await _member(session, duo, second, joined=joined, roles=(Role.ANIMATOR,))
        await _member(
            session, gone, second, joined=joined, left=at("2026-06-01"), roles=(Role.ANIMATOR,)
        )
        await _member(session, duo, later, joined=joined, roles=(Role.ANIMATOR,))
    return {"first": first, "second": second, "animator": animator, "sponsor": sponsor, "duo": duo}


def test_the_summary_is_due_from_the_first_at_nine_for_a_week() -> None:
    assert due_month(datetime(2026, 11, 1, 13, 59, tzinfo=UTC), tz=TZ) is None  # 8:59 EST
    assert due_month(NOVEMBER_FIRST_9AM, tz=TZ) == OCTOBER
    assert due_month(datetime(2026, 11, 8, 13, 59, tzinfo=UTC), tz=TZ) == OCTOBER
    assert due_month(datetime(2026, 11, 8, 14, 0, tzinfo=UTC), tz=TZ) is None
    # 1 October, 9:00 EDT is 13:00 UTC.
    assert due_month(datetime(2026, 10, 1, 13, 0, tzinfo=UTC), tz=TZ) == date(2026, 9, 1)
    assert due_month(datetime(2027, 1, 1, 14, 0, tzinfo=UTC), tz=TZ) == date(2026, 12, 1)


async def test_the_monthly_job_queues_each_summary_once(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    c = await _two_communities(sessions)
    wakes: list[int] = []
    clock = Clock(now=datetime(2026, 11, 1, 13, 0, tzinfo=UTC))  # 8:00 in Montreal

    async def run() -> int:
        return await send_monthly_summaries(
            sessions=sessions, now=clock.now, wake=lambda: wakes.append(1), tz=TZ
        )

    assert await run() == 0
    clock.now = NOVEMBER_FIRST_9AM
    assert await run() == 3
    # The same minute on another replica, and every later run: nothing more.
    assert await run() == 0
    clock.advance(hours=6)
    assert await run() == 0
    rows = await _summary_rows(sessions)
    first, second = _id(c["first"]), _id(c["second"])
    assert rows == [
        (
            f"vitality:{first}:2026-10:to:{_id(c['animator'])}",
            _id(c["animator"]),
            {"community_id": first, "month": "2026-10"},
        ),
        (
            f"vitality:{first}:2026-10:to:{_id(c['sponsor'])}",
            _id(c["sponsor"]),
            {"community_id": first, "month": "2026-10"},
        ),
        (
            f"vitality:{second}:2026-10:to:{_id(c['duo'])}",
            _id(c["duo"]),
            {"community_id": second, "month": "2026-10"},
        ),
    ]
    assert wakes == [1]
    # December: November's summary, including the community created in November.
    clock.now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert await run() == 4
    assert len({key for key, _, _ in await _summary_rows(sessions)}) == 7


async def test_the_monthly_job_catches_up_after_downtime(sessions: SessionFactory) -> None:
    await _two_communities(sessions)
    # Down from 31 October to 3 November: the first run after the restart sends October's.
    restarted = datetime(2026, 11, 3, 15, 30, tzinfo=UTC)
    assert (
        await send_monthly_summaries(sessions=sessions, now=restarted, wake=lambda: None, tz=TZ)
        == 3
    )
    assert (
        await send_monthly_summaries(sessions=sessions, now=restarted, wake=lambda: None, tz=TZ)
        == 0
    )
    # Back after more than a week: last month's summary waits for `bilan`.
    late = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
    assert await send_monthly_summaries(sessions=sessions, now=late, wake=lambda: None, tz=TZ) == 0


async def test_the_summary_is_delivered_once_through_the_outbox(
    database_url: str, connector: FakeConnector
) -> None:
    """The whole path: the job, the dispatcher (with this feature's renderer), the fake Bot
    Connector. Running the job and the dispatcher again sends nothing twice."""
    app = create_app(make_settings(database_url))
    from tests.support import started

    async with started(app) as runtime:
        sessions = runtime.sessions
        async with transaction(sessions) as session:
            where = await factories.community(session)
            where.created_at = at("2026-01-01")
            animator = await factories.person(session, 1, service_url=connector.url)
            member = await factories.person(session, 2, service_url=connector.url)
            await _member(session, animator, where, joined=at("2026-01-02"), roles=(Role.ANIMATOR,))
            await _member(session, member, where, joined=at("2026-01-02"))
        clock = Clock(now=NOVEMBER_FIRST_9AM)
        sender = Dispatcher(
            settings=runtime.settings,
            sessions=sessions,
            adapter=runtime.adapter,
            renderers={**ALL_RENDERERS, **VITALITY_RENDERERS},
            clock=clock,
            owner="test",
        )
        for _ in range(3):
            await send_monthly_summaries(sessions=sessions, now=clock.now, wake=lambda: None, tz=TZ)
            await sender.dispatch_once()
        cards = connector.cards()
    assert len(cards) == 1
    text = json.dumps(cards[0], ensure_ascii=False)
    assert "Bilan mensuel — CdeP Soins palliatifs — octobre 2026" in text
    assert "vitality.export" in text  # the button asking for a fresh signed link


# -- renderer and cards ----------------------------------------------------------------------------


async def _render(
    sessions: SessionFactory, person: Person, params: dict[str, Any], locale: str = "fr-CA"
) -> Activity | None:
    message = Claimed(
        id=1,
        dedup_key="k",
        kind=KIND_SUMMARY,
        params=params,
        person_id=person.id,
        conversation_ref_id=None,
        attempts=1,
        created_at=NOVEMBER_FIRST_9AM,
    )
    return await VITALITY_RENDERERS[KIND_SUMMARY](
        RenderContext(
            message=message, locale=locale, timezone=TZ, now=NOVEMBER_FIRST_9AM, sessions=sessions
        )
    )


def _text(card: Element) -> str:
    return json.dumps(card, ensure_ascii=False)


def _chart(card: Element) -> Element:
    found: list[Element] = []

    def walk(items: list[Element]) -> None:
        for item in items:
            if str(item.get("type", "")).startswith("Chart."):
                found.append(item)
            walk(item.get("items", []))

    walk(card["body"])
    (chart,) = found
    return chart


async def test_the_renderer_checks_the_role_at_send_time(sessions: SessionFactory) -> None:
    known = await build_known_community(sessions)
    params = {"community_id": _id(known.community), "month": "2026-10"}
    animator, member = known.people[1], known.people[2]
    said = await _render(sessions, animator, params)
    assert said is not None
    card = card_content(said.attachments[0])
    text = _text(card)
    for words in (
        "Bilan mensuel — CdeP Soins palliatifs — octobre 2026",
        "Présence en baisse\u00a0: 50\u00a0%\u00a0ce mois-ci, contre 91\u00a0% sur les 12\u00a0mois"
        " précédents.",
        "1\u00a0nouvelle recrue attend un·e mentor·e depuis plus de 30\u00a0jours.",
        "1\u00a0demande de consultation attend d’être assignée depuis plus de 5\u00a0jours.",
        "4,0\u00a0sur 5 (6\u00a0réponses)",
        "+1,0",
        "Délai médian avant assignation (jours)",
        "3,0",
    ):
        assert words in text
    chart = _chart(card)
    assert chart["type"] == "Chart.HorizontalBar"
    assert [d["y"] for d in chart["data"]][-4:] == [0, 0, 10, 6]
    assert chart["fallback"]["type"] == "Container"
    assert "oct." in _text(chart["fallback"])
    assert card["actions"][0]["data"] == {
        "verb": "vitality.export",
        "community_id": _id(known.community),
        "month": "2026-10",
    }
    assert len(text.encode()) < MAX_CARD_BYTES
    assert await _render(sessions, member, params) is None
    assert (
        await _render(sessions, animator, {"community_id": _id(known.community), "month": "x"})
        is None
    )


def _summary(**changes: Any) -> VitalitySummary:
    values: dict[str, Any] = {
        "community_id": 1,
        "month": OCTOBER,
        "as_of": datetime(2026, 11, 1, 4, tzinfo=UTC),
        "partial": False,
        "members": 120,
        "active": 45,
        "new": 3,
        "left": 1,
        "meetings": 1,
        "attendances": 30,
        "attendance_expected": 118,
        "rsvps": 80,
        "rsvp_expected": 118,
        "topics_proposed": 4,
        "topics_scheduled": 2,
        "polls": 1,
        "ballots": 36,
        "ballots_expected": 119,
        "consultations_submitted": 3,
        "consultations_closed": 2,
        "consultations_assigned": 2,
        "median_days_to_assignment": 1.5,
        "k": 5,
        "satisfaction_responses": 24,
        "satisfaction": 4.25,
        "satisfaction_previous": 4.0,
        "satisfaction_last_three": 4.4,
        "new_hires_welcomed": 2,
        "new_hires_paired": 1,
        "signals": (),
        "history": tuple(
            MonthPoint(
                vitality.add_months(OCTOBER, -i),
                1 if i % 2 == 0 else 0,
                30 - i,
                118 if i % 2 == 0 else 0,
                None,
            )
            for i in range(11, -1, -1)
        ),
    }
    values.update(changes)
    return VitalitySummary(**values)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr-CA",
            [
                "Bilan mensuel — CdeP — octobre 2026",
                "Aucun signal ce mois-ci.",
                "Membres actif·ve·s ce mois-ci",
                "Taux de présence",
                "25\u00a0%",
                "1\u00a0sondage lancé, 36\u00a0votes, participation 30\u00a0%",
                "4,2\u00a0sur 5 (24\u00a0réponses)",
                "+0,2",
                "−0,2",
                "1,5",
                "Présences aux rencontres, 12\u00a0derniers mois",
                "Participation aux sondages\u00a0: votes ÷ membres pouvant voter pendant le",
            ],
        ),
        (
            "en-US",
            [
                "Monthly summary — CdeP — October 2026",
                "Nothing to flag this month.",
                "Active members this month",
                "Attendance rate",
                "25%",
                "1 poll launched, 36 votes, participation 30%",
                "4.2 out of 5 (24 answers)",
                "+0.2",
                "−0.2",
                "1.5",
                "Meeting attendance, last 12 months",
                "Poll participation: votes ÷ members who could vote while the poll",
            ],
        ),
    ],
)
def test_the_vitality_card(locale: str, expected: list[str]) -> None:
    card = build_vitality_card(
        _summary(), community_name="CdeP", locale=locale, tz=TZ, export_url="https://bot/x?token=t"
    )
    text = _text(card)
    for words in expected:
        assert words in text, words
    assert card["version"] == "1.5"
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Exporter en CSV" if locale == "fr-CA" else "Export as CSV",
            "url": "https://bot/x?token=t",
        }
    ]
    chart = _chart(card)
    assert len(chart["data"]) == 12
    assert chart["data"][-1]["y"] == 30
    assert len(text.encode()) < MAX_CARD_BYTES
    below = build_vitality_card(
        _summary(
            satisfaction=None,
            satisfaction_responses=3,
            satisfaction_previous=None,
            signals=(
                Signal(SIGNAL_NO_MEETING, last=None),
                Signal(SIGNAL_NEW_HIRE_UNPAIRED, count=2),
            ),
        ),
        community_name="CdeP",
        locale=locale,
        tz=TZ,
    )
    below_text = _text(below)
    assert (
        "moins de 5\u00a0réponses\u00a0: non affichée"
        if locale == "fr-CA"
        else "fewer than 5 answers: not shown"
    ) in below_text
    assert (
        "2\u00a0nouvelles recrues attendent"
        if locale == "fr-CA"
        else "2 new hires have been waiting"
    ) in below_text
    assert "actions" not in below  # no export without a link or the right to ask for one


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_csv(locale: str) -> None:
    rows = [
        _summary(month=date(2026, 9, 1), satisfaction=None, median_days_to_assignment=None),
        _summary(signals=(Signal(SIGNAL_CONSULTATION_UNASSIGNED, count=1),)),
    ]
    text = build_vitality_csv(rows, locale=locale)
    french = locale == "fr-CA"
    parsed = list(csv.reader(io.StringIO(text), delimiter=";" if french else ","))
    assert parsed[0][:3] == (
        ["mois", "membres", "membres actifs"] if french else ["month", "members", "active members"]
    )
    assert len(parsed) == 3
    assert all(len(row) == len(parsed[0]) for row in parsed)
    september, october = parsed[1], parsed[2]
    header = parsed[0]
    column = {name: index for index, name in enumerate(header)}
    rate = "taux de présence (%)" if french else "attendance rate (%)"
    satisfaction = "satisfaction (sur 5)" if french else "satisfaction (out of 5)"
    assert october[column[rate]] == ("25,4" if french else "25.4")
    assert october[column[satisfaction]] == ("4,2" if french else "4.2")
    assert september[column[satisfaction]] == ""
    assert october[-1] == ("consultation non assignée" if french else "consultation unassigned")


# -- the command, the buttons and the export link --------------------------------------------------


@dataclass
class Chat:
    sessions: SessionFactory
    settings: Any
    adapter: ChatAdapter = field(default_factory=ChatAdapter)
    wakes: int = 0

    def _context(self, value: dict[str, Any] | None, channel: bool) -> TurnContext:
        return TurnContext(
            self.adapter,
            Activity(
                type=ActivityTypes.message,
                id=f"activity-{len(self.adapter.activity_buffer)}-{self.wakes}",
                channel_id="msteams",
                service_url="https://smba.example/",
                from_property=ChannelAccount(id="29:user"),
                recipient=ChannelAccount(id="28:carrefour-bot"),
                conversation=ConversationAccount(
                    id="19:c@thread.tacv2" if channel else "a:personal",
                    conversation_type="channel" if channel else "personal",
                ),
                value=value,
            ),
        )

    def _wake(self) -> None:
        self.wakes += 1

    def info(self, who: Person, locale: str, channel: bool) -> TurnInfo:
        return TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=channel)

    async def ask(
        self,
        who: Person,
        argument: str = "",
        *,
        community_id: int | None = None,
        locale: str = "fr-CA",
        channel: bool = False,
    ) -> list[Activity]:
        await on_summary_command(
            self._context(None, channel),
            sessions=self.sessions,
            settings=self.settings,
            info=self.info(who, locale, channel),
            argument=argument,
            community_id=community_id,
            wake=self._wake,
            clock=lambda: NOVEMBER_FIRST_9AM,
        )
        return self.replies()

    async def click(
        self, who: Person, value: dict[str, Any], *, locale: str = "fr-CA", channel: bool = False
    ) -> list[Activity]:
        assert await press(
            self._context(value, channel),
            value,
            sessions=self.sessions,
            settings=self.settings,
            info=self.info(who, locale, channel),
            wake=self._wake,
            clock=lambda: NOVEMBER_FIRST_9AM,
        )
        return self.replies()

    def replies(self) -> list[Activity]:
        said = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return said


def _card_of(activity: Activity) -> Element:
    content = activity.attachments[0].content
    assert isinstance(content, dict)
    return content


async def test_bilan_shows_the_card_with_a_signed_export_link(sessions: SessionFactory) -> None:
    known = await build_known_community(sessions)
    settings = make_settings(
        "sqlite+aiosqlite://", CARREFOUR_PUBLIC_URL="https://carrefour.example/"
    )
    chat = Chat(sessions, settings)
    animator, member = known.people[1], known.people[2]

    (reply,) = await chat.ask(animator, "octobre")
    card = _card_of(reply)
    assert "octobre 2026" in _text(card)
    (action,) = card["actions"]
    assert action["type"] == "Action.OpenUrl"
    assert action["url"].startswith(f"https://carrefour.example{EXPORT_PATH}?token=")
    token = action["url"].split("token=")[1]
    async with transaction(sessions) as session:
        key = await signing_key(session, settings)
    claim = read_export(key, token, now=NOVEMBER_FIRST_9AM)
    assert claim == ExportClaim(
        _id(known.community),
        OCTOBER,
        _id(animator),
        "fr",
        NOVEMBER_FIRST_9AM + timedelta(hours=24),
    )

    (refused,) = await chat.ask(member)
    assert text_of(refused).startswith("Le bilan mensuel est réservé aux animateur·rice·s")
    (future,) = await chat.ask(animator, "2027-01")
    assert text_of(future).startswith("Ce mois n’est pas encore commencé")
    (unknown,) = await chat.ask(animator, "bientôt", locale="en-US")
    assert text_of(unknown).startswith("I didn’t understand the month.")

    # In a channel, the summary goes to the person's own chat (outbox), not to the channel.
    (told,) = await chat.ask(animator, community_id=_id(known.community), channel=True)
    assert told.text == "Je vous envoie le bilan en privé."
    async with sessions() as session:
        (row,) = (await session.exec(select(OutboxMessage))).all()
    assert (row.kind, row.person_id, row.params) == (
        KIND_SUMMARY,
        animator.id,
        {"community_id": _id(known.community), "month": "2026-10"},
    )
    assert chat.wakes == 1

    # The export button of a card sent by the outbox: a fresh link, in the private chat only.
    export = {"verb": "vitality.export", "community_id": _id(known.community), "month": "2026-10"}
    (ready,) = await chat.click(animator, export, locale="en-US")
    ready_card = _card_of(ready)
    assert "The link is personal and valid for 24 hours." in _text(ready_card)
    assert ready_card["actions"][0]["url"].startswith(f"https://carrefour.example{EXPORT_PATH}")
    (no,) = await chat.click(member, export)
    assert text_of(no).startswith("Le bilan mensuel est réservé")
    (private,) = await chat.click(animator, export, channel=True)
    assert text_of(private).startswith("Demandez l’export dans notre conversation privée")


async def test_several_communities_ask_which_one(sessions: SessionFactory) -> None:
    c = await _two_communities(sessions)
    chat = Chat(sessions, make_settings("sqlite+aiosqlite://"))
    async with transaction(sessions) as session:
        await _member(session, c["duo"], c["first"], joined=at("2026-01-02"), roles=(Role.SPONSOR,))
    (choice,) = await chat.ask(c["duo"], "septembre")
    card = _card_of(choice)
    buttons = [
        a["data"] for item in card["body"] if item["type"] == "ActionSet" for a in item["actions"]
    ]
    assert {b["verb"] for b in buttons} == {"vitality.show"}
    assert {b["month"] for b in buttons} == {"2026-09"}
    assert len(buttons) == 3
    (shown,) = await chat.click(c["duo"], buttons[0])
    assert "septembre 2026" in _text(_card_of(shown))


async def test_the_csv_link_is_checked_signed_unexpired_and_for_a_current_animator(
    sqlite_url: str,
) -> None:
    settings = make_settings(sqlite_url)
    app = create_app(settings)  # the app serves EXPORT_PATH itself
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        sessions = client.app[RUNTIME].sessions
        known = await build_known_community(sessions)
        animator, member = known.people[1], known.people[2]
        async with transaction(sessions) as session:
            key = await signing_key(session, settings)

        def link(who: Person, expires: datetime, language: str = "fr") -> str:
            claim = ExportClaim(_id(known.community), OCTOBER, _id(who), language, expires)
            return f"{EXPORT_PATH}?token={sign_export(key, claim)}"

        later = datetime.now(UTC) + timedelta(hours=1)
        response = await client.get(link(animator, later))
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in response.headers["Content-Disposition"]
        body = (await response.read()).decode("utf-8")
        assert body.startswith("\ufeffmois;membres;membres actifs;")
        lines = body.strip().splitlines()
        assert len(lines) == 13  # the header and twelve months
        assert lines[-1].startswith("2026-10;11;10;1;1;2;6;50,0;")

        english = await client.get(link(animator, later, "en"))
        assert (await english.text()).startswith("\ufeffmonth,members,active members,")

        tampered = link(animator, later).replace(f".{_id(animator)}.fr.", f".{_id(member)}.fr.")
        assert (await client.get(tampered)).status == 403
        assert (await client.get(f"{EXPORT_PATH}?token=nonsense")).status == 403
        assert (await client.get(EXPORT_PATH)).status == 403
        expired = await client.get(link(animator, datetime.now(UTC) - timedelta(seconds=1)))
        assert expired.status == 410
        assert "a expiré" in await expired.text()
        # Signed for a member: refused; for an animator who later left: refused.
        assert (await client.get(link(member, later))).status == 403
        async with transaction(sessions) as session:
            row = (
                await session.exec(select(Membership).where(Membership.person_id == _id(animator)))
            ).one()
            row.left_at = datetime.now(UTC)
        assert (await client.get(link(animator, later))).status == 403
    finally:
        await client.close()


@pytest.mark.parametrize(
    "forged",
    [
        {"verb": "vitality.show", "community_id": 10**30, "month": "2026-10"},
        {"verb": "vitality.show", "community_id": "1", "month": "2026-13"},
        {"verb": "vitality.export", "community_id": -1, "month": "2026-10"},
        {"verb": "vitality.export", "community_id": 1, "month": ["2026-10"]},
    ],
)
async def test_forged_card_data_is_refused_without_failing(
    sessions: SessionFactory, forged: dict[str, Any]
) -> None:
    known = await build_known_community(sessions)
    chat = Chat(sessions, make_settings("sqlite+aiosqlite://"))
    (reply,) = await chat.click(known.people[1], forged)
    assert reply.text == translator("fr-CA")("error.unknown_action")


def test_a_token_signed_with_another_key_is_refused() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    claim = ExportClaim(1, OCTOBER, 2, "fr", datetime(2033, 5, 18, tzinfo=UTC))
    token = sign_export(b"k" * 32, claim)
    assert read_export(b"k" * 32, token, now=now) == claim
    for key, bad in (
        (b"x" * 32, token),
        (b"k" * 32, token[:-1] + ("A" if token[-1] != "A" else "B")),
    ):
        with pytest.raises(BadLinkError):
            read_export(key, bad, now=now)


@pytest.mark.parametrize(
    ("locale", "months"),
    [
        (
            "fr-CA",
            [
                *("nov.", "déc.", "janv.", "févr.", "mars", "avr."),
                *("mai", "juin", "juill.", "août", "sept.", "oct."),
            ],
        ),
        (
            "en-US",
            ["Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct"],
        ),
    ],
)
async def test_the_chart_labels_fit_and_its_axis_counts_whole_people(
    sessions: SessionFactory, locale: str, months: list[str]
) -> None:
    # Seen in Teams: « oct. 26 » labels cut under twelve narrow bars, and a value axis with
    # ticks at « 10.5 » people. Labels are Babel's abbreviated month names; the bars carry
    # their own whole numbers and no value axis is drawn that could show fractions.
    known = await build_known_community(sessions)
    params = {"community_id": _id(known.community), "month": "2026-10"}
    said = await _render(sessions, known.people[1], params, locale=locale)
    assert said is not None
    chart = _chart(card_content(said.attachments[0]))
    assert [d["x"] for d in chart["data"]] == months
    assert all(isinstance(d["y"], int) for d in chart["data"])
    assert chart["type"] == "Chart.HorizontalBar"
    assert chart["displayMode"] == "AbsoluteNoAxis"
    assert "yAxisTitle" not in chart  # no value axis, so no axis title either
    # The text fallback lists the same labels, and its bars start in one column.
    lines = chart["fallback"]["items"][1]["text"].split("\n\n")
    assert [line.split()[0] for line in lines] == months
    column = max(len(m) for m in months)
    assert [line[:column].rstrip() for line in lines] == months
    assert {line[column] for line in lines} == {" "}
