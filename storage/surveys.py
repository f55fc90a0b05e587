"""Satisfaction and needs surveys: who is asked, anonymous answers, and results that single
nobody out.

Who is asked: after a meeting, its attendees (the confirmed attendance list, or while it is not
confirmed, those who said they would come) who consented to surveys; for a needs survey or the
yearly learning questionnaire (« ce qui a changé dans ma pratique »), every active member who
consented. `SurveyInvitation` records who was asked and whether they answered
(for the reminder and the response rate), never which answer is theirs.

Anonymity: an answer is stored under `respondent_key = keyed_hash(key, survey, person)` with the
key derived for this purpose only, so one person has one answer per survey (changeable until the
survey closes) and nobody without the key can tell whose it is. When a survey closes the keys
are replaced by values derived from nothing (`seal_closed`), so not even the key's holder can
link an answer to anyone afterwards. An answer carries no time (not even the day), and the
survey's answers are dealt anew at every answer (storage/anonymity.py), so neither their ids nor
their order tell who answered first. Nothing in this module logs a person.

Objective items: a satisfaction survey also asks « cet objectif a été atteint » (1–5) for each of
the meeting's specific objectives (at most MAX_OBJECTIVES), copied into the survey when it opens
(`Survey.objectives`): an objective edited or removed later keeps its answers. They are ratings
like the others (`objective_1`, `objective_2`…), under the same rules below.

Results: nothing but the response count while the survey is open — results read at n answers
and again at n + 1 would show the new answer by difference — and nothing at all once closed if
fewer than k people answered (the community's `survey_k`, default 5, never below 3). Then,
per question (objective items and the learning questionnaire's alike), the average and the
distribution — in detail
(1 to 5) only when every non-empty cell holds at least CELL_MIN answers; otherwise grouped in
three bands (1–2, 3, 4–5) under the same rule; otherwise not at all. A whole distribution is
hidden rather than its small cells alone, because a hidden cell could be recomputed from the
total and the others. Comments are listed alphabetically, so their order says nothing about
when (or by whom) they were written.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    String,
    Table,
    and_,
    cast,
    func,
    literal,
    select,
    true,
    union,
    update,
)
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.anonymity import deal_anew
from storage.communities import NotAllowed, has_role, membership
from storage.identifiers import HasIdentifiers, IdentifierKind, unconfirmed
from storage.models import (
    Attendance,
    Community,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Role,
    Rsvp,
    RsvpAnswer,
    Survey,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicStatus,
)
from storage.secrets import derive, keyed_hash
from storage.sql import insert_if_absent, upsert
from storage.topics import MAX_DESCRIPTION_LENGTH, MAX_TITLE_LENGTH

logger = logging.getLogger(__name__)

SURVEY_TABLE: Table = Survey.__table__  # type: ignore[attr-defined]
INVITATION_TABLE: Table = SurveyInvitation.__table__  # type: ignore[attr-defined]
RESPONSE_TABLE: Table = SurveyResponse.__table__  # type: ignore[attr-defined]

# The purpose the respondent key is derived for (storage.secrets.derive).
RESPONDENT_KEY_PURPOSE = "survey-respondent"

SATISFACTION_RATINGS = ("overall", "relevance", "exchanges", "usefulness", "organisation")
SATISFACTION_TEXTS = ("takeaway", "next_time")
# A meeting's objectives become at most this many items (a card and a chat stay short); each
# is cut to MAX_OBJECTIVE_LENGTH characters in the survey.
MAX_OBJECTIVES = 5
MAX_OBJECTIVE_LENGTH = 300
OBJECTIVE_PREFIX = "objective_"
# The yearly learning questionnaire: new knowledge, a changed practice, more confidence, a wider
# network (1–5 each), and what changed, in the person's words (optional, screened).
LEARNING_RATINGS = ("knowledge", "practice", "confidence", "network")
LEARNING_TEXT = "practice_change"
LEARNING_TEXTS = (LEARNING_TEXT,)
NEEDS_TEXT = "needs"
NEEDS_TEXTS = (NEEDS_TEXT,)
RATING_VALUES = range(1, 6)
MAX_TEXT_LENGTH = 1000
# A needs survey lists at most this many topics of the bank (a card and a chat stay readable).
MAX_TOPIC_CHOICES = 12

DEFAULT_K = 5
# Below 3, two people could each deduce the other's answer: no community setting goes lower.
MIN_K = 3
# The smallest number of answers a shown cell may hold (see the module docstring).
CELL_MIN = 3
BANDS = ((1, 2), (3, 3), (4, 5))

DEFAULT_DELAY = timedelta(hours=1)
DEFAULT_DURATION = timedelta(days=7)
NEEDS_DURATION = timedelta(days=14)
# A needs survey stays open to the evening of its last day, not to the minute it was launched.
DAY_END = time(23, 59)
REMINDER_AFTER = timedelta(days=3)
# The learning questionnaire also opens by itself once a year, LEARNING_LEAD before the
# community's annual review date (storage/review.py), so that it closes (NEEDS_DURATION later)
# before the review and its results are in it; not if one was opened (a facilitator's, say) in
# the last LEARNING_INTERVAL, nor in a community younger than LEARNING_MIN_AGE.
LEARNING_LEAD = timedelta(days=28)
LEARNING_INTERVAL = timedelta(days=300)
LEARNING_MIN_AGE = timedelta(days=180)
# After downtime, meetings that ended longer ago than this get no survey: memories fade, and a
# first deployment does not survey a year of past meetings.
CATCH_UP = timedelta(days=2)

# Why an answer was refused; the bot layer maps each to a message.
MISSING_RATING = "missing_rating"
MISSING_OBJECTIVE = "missing_objective"
MISSING_ANSWER = "missing_answer"  # a learning questionnaire's rating
INVALID_RATING = "invalid_rating"
TEXT_TOO_LONG = "text_too_long"
INVALID_CHOICE = "invalid_choice"

# Outbox kinds, each with params {"survey_id"}. Their keys below must keep today's exact
# format: a changed key would not deduplicate against a row already queued.
KIND_INVITATION = "survey_invitation"
KIND_REMINDER = "survey_reminder"
KIND_RESULTS = "survey_results"  # the results, to an animator who asked in a channel


def invitation_key(survey_id: int, person_id: int) -> str:
    return f"survey:{survey_id}:invitation:to:{person_id}"


def reminder_key(survey_id: int, person_id: int) -> str:
    return f"survey:{survey_id}:reminder:to:{person_id}"


def results_key(survey_id: int, activity_id: str, person_id: int) -> str:
    """The results sent privately, once per incoming activity asking for them."""
    return f"survey:{survey_id}:results:{activity_id}:to:{person_id}"


class SurveyClosed(NotAllowed):
    """The survey is closed (or not open yet)."""


class NotInvited(NotAllowed):
    """This person was not asked to answer this survey."""


class UnknownSurvey(LookupError):
    """No such survey (a card from a deleted survey, or forged data)."""


class InvalidAnswer(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AlreadyOpen(NotAllowed):
    """A needs survey (or learning questionnaire) of this community is still open."""

    def __init__(self, survey: Survey) -> None:
        super().__init__(f"a {survey.kind} survey is already open")
        self.survey = survey
        # Read now: the transaction that raised rolls back, which expires the survey's row.
        self.closes_at = survey.closes_at


class AlreadyInBank(Exception):
    """The bank already has this topic (its title, as the bank spells it)."""

    def __init__(self, title: str) -> None:
        super().__init__("already in the topic bank")
        self.title = title


@dataclass(frozen=True, slots=True)
class Answer:
    """One person's answer: ratings 1–5 by question, free texts by question, topics chosen."""

    ratings: Mapping[str, int] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    choices: Sequence[str] = ()
    # Kinds spotted in the texts that the person confirmed identify no one; only names count
    # (storage.identifiers.unconfirmed), whatever the card or dialog sent.
    confirmed: Sequence[str] = ()


def comparable(text: str) -> str:
    """« Le deuil » and « le  DEUIL » are the same suggestion."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def k_threshold(community: Community) -> int:
    """The community's k (`settings["survey_k"]`), never below MIN_K."""
    raw = community.settings.get("survey_k") if community.settings else None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return DEFAULT_K
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_K
    return max(value, MIN_K)


def is_open(survey: Survey, *, now: datetime) -> bool:
    return survey.opens_at <= now < survey.closes_at


def objective_question(index: int) -> str:
    """The rating key of the survey's objective at `index` (0-based): "objective_1"…"""
    return f"{OBJECTIVE_PREFIX}{index + 1}"


def objective_items(objectives: Iterable[str]) -> list[str]:
    """A meeting's specific objectives as survey items: trimmed, blank ones dropped, each cut
    to MAX_OBJECTIVE_LENGTH, at most MAX_OBJECTIVES."""
    items: list[str] = []
    for objective in objectives:
        text = " ".join(str(objective).split())
        if not text:
            continue
        if len(text) > MAX_OBJECTIVE_LENGTH:
            text = text[: MAX_OBJECTIVE_LENGTH - 1].rstrip() + "…"
        items.append(text)
    return items[:MAX_OBJECTIVES]


def rating_questions(survey: Survey) -> tuple[str, ...]:
    """The survey's 1–5 questions, in order: a satisfaction survey's five, then one per
    objective item; the learning questionnaire's four; none for a needs survey."""
    if survey.kind == SurveyKind.SATISFACTION:
        items = survey.objectives[:MAX_OBJECTIVES]
        return SATISFACTION_RATINGS + tuple(objective_question(i) for i in range(len(items)))
    if survey.kind == SurveyKind.LEARNING:
        return LEARNING_RATINGS
    return ()


def text_questions(survey: Survey) -> tuple[str, ...]:
    if survey.kind == SurveyKind.SATISFACTION:
        return SATISFACTION_TEXTS
    if survey.kind == SurveyKind.LEARNING:
        return LEARNING_TEXTS
    return NEEDS_TEXTS


def objective_text(survey: Survey, question: str) -> str | None:
    """The objective an `objective_N` key stands for in this survey (None: not one)."""
    if not question.startswith(OBJECTIVE_PREFIX):
        return None
    number = question.removeprefix(OBJECTIVE_PREFIX)
    if not number.isdigit() or not 1 <= int(number) <= min(len(survey.objectives), MAX_OBJECTIVES):
        return None
    return survey.objectives[int(number) - 1]


def respondent_secret(master: bytes) -> bytes:
    """The key respondent keys are derived with (separate from every other use)."""
    return derive(master, RESPONDENT_KEY_PURPOSE)


def respondent_key(key: bytes, *, survey_id: int, person_id: int) -> str:
    return keyed_hash(key, survey_id, person_id)


async def get_survey(session: AsyncSession, *, survey_id: int) -> Survey | None:
    return await session.get(Survey, survey_id)


async def meeting_of(session: AsyncSession, *, survey: Survey) -> Meeting | None:
    return await session.get(Meeting, survey.meeting_id) if survey.meeting_id else None


# -- opening satisfaction surveys, inviting ---------------------------------------------------


async def meetings_due_for_survey(
    session: AsyncSession, *, now: datetime, delay: timedelta = DEFAULT_DELAY
) -> list[Meeting]:
    """Meetings that ended at least `delay` ago (held, or scheduled and over; never cancelled),
    recently enough to ask (CATCH_UP), and have no satisfaction survey yet."""
    rows = await session.exec(
        sm_select(Meeting)
        .outerjoin(
            Survey,
            and_(
                col(Survey.meeting_id) == col(Meeting.id),
                col(Survey.kind) == SurveyKind.SATISFACTION,
            ),
        )
        .where(col(Meeting.status).in_([MeetingStatus.SCHEDULED, MeetingStatus.DONE]))
        .where(col(Meeting.ends_at) <= now - delay)
        .where(col(Meeting.ends_at) > now - delay - CATCH_UP)
        .where(col(Survey.id).is_(None))
        .order_by(col(Meeting.ends_at), col(Meeting.id))
    )
    return list(rows.all())


async def open_satisfaction_survey(
    session: AsyncSession, *, meeting: Meeting, now: datetime, duration: timedelta
) -> Survey:
    """The meeting's satisfaction survey, created now if absent (one per meeting, even when
    two replicas run the job together)."""
    assert meeting.id is not None
    await insert_if_absent(
        session,
        SURVEY_TABLE,
        {
            "community_id": meeting.community_id,
            "meeting_id": meeting.id,
            "kind": SurveyKind.SATISFACTION.value,
            "opens_at": now,
            "closes_at": now + duration,
            "created_by_id": None,
            "topic_choices": [],
            # Snapshotted now: an edit of the meeting afterwards changes no item.
            "objectives": objective_items(meeting.specific_objectives),
            "created_at": now,
        },
        conflict=["meeting_id", "kind"],
    )
    survey = (
        await session.exec(
            sm_select(Survey)
            .where(Survey.meeting_id == meeting.id)
            .where(Survey.kind == SurveyKind.SATISFACTION)
        )
    ).one()
    return survey


async def uninvited_attendees(session: AsyncSession, *, now: datetime) -> list[tuple[int, int]]:
    """(survey, person) pairs to invite now for open satisfaction surveys: the meeting's
    confirmed attendees, or while attendance is not confirmed those who said yes; consenting,
    still members, not invited yet. A list confirmed after the survey opened adds the
    attendees who had not said yes."""

    def open_satisfaction(person_id: Any) -> Select[tuple[int, int]]:
        return (
            select(col(Survey.id).label("survey_id"), person_id.label("person_id"))
            .select_from(Survey)
            .join(Meeting, col(Meeting.id) == col(Survey.meeting_id))
            .where(col(Survey.kind) == SurveyKind.SATISFACTION)
            .where(col(Survey.opens_at) <= now)
            .where(col(Survey.closes_at) > now)
        )

    confirmed = (
        open_satisfaction(col(Attendance.person_id))
        .join(Attendance, col(Attendance.meeting_id) == col(Meeting.id))
        .where(col(Meeting.attendance_confirmed_at).is_not(None))
    )
    said_yes = (
        open_satisfaction(col(Rsvp.person_id))
        .join(Rsvp, col(Rsvp.meeting_id) == col(Meeting.id))
        .where(col(Meeting.attendance_confirmed_at).is_(None))
        .where(col(Rsvp.answer) == RsvpAnswer.YES)
    )
    wanted = union(confirmed, said_yes).subquery()
    rows = await session.execute(
        select(wanted.c.survey_id, wanted.c.person_id)
        .join(Survey, col(Survey.id) == wanted.c.survey_id)
        .join(Person, col(Person.id) == wanted.c.person_id)
        .join(
            Membership,
            and_(
                col(Membership.person_id) == wanted.c.person_id,
                col(Membership.community_id) == col(Survey.community_id),
            ),
        )
        .outerjoin(
            SurveyInvitation,
            and_(
                col(SurveyInvitation.survey_id) == wanted.c.survey_id,
                col(SurveyInvitation.person_id) == wanted.c.person_id,
            ),
        )
        .where(col(Person.consent_surveys).is_(True))
        .where(col(Membership.left_at).is_(None))
        .where(col(SurveyInvitation.id).is_(None))
        .order_by(wanted.c.survey_id, wanted.c.person_id)
    )
    return [(int(survey_id), int(person_id)) for survey_id, person_id in rows.all()]


async def invite(session: AsyncSession, *, survey_id: int, person_id: int) -> bool:
    """Record the invitation; True when new (False: already invited, e.g. by another replica)."""
    return await insert_if_absent(
        session,
        INVITATION_TABLE,
        {"survey_id": survey_id, "person_id": person_id, "answered": False},
        conflict=["survey_id", "person_id"],
    )


async def due_reminders(session: AsyncSession, *, now: datetime) -> list[tuple[int, int]]:
    """(survey, person) pairs to remind: open surveys opened REMINDER_AFTER ago or more,
    invitations not answered yet."""
    rows = await session.execute(
        select(col(SurveyInvitation.survey_id), col(SurveyInvitation.person_id))
        .join(Survey, col(Survey.id) == col(SurveyInvitation.survey_id))
        .where(col(Survey.opens_at) <= now - REMINDER_AFTER)
        .where(col(Survey.closes_at) > now)
        .where(col(SurveyInvitation.answered).is_(False))
        .order_by(col(SurveyInvitation.survey_id), col(SurveyInvitation.person_id))
    )
    return [(int(survey_id), int(person_id)) for survey_id, person_id in rows.all()]


async def seal_closed(session: AsyncSession, *, now: datetime) -> int:
    """Replace the respondent keys of closed surveys by values derived from nothing: answers
    can no longer change, so nothing needs to find them again. Returns how many were sealed."""
    closed = select(col(Survey.id)).where(col(Survey.closes_at) <= now)
    result: Any = await session.execute(
        update(SurveyResponse)
        .where(col(SurveyResponse.survey_id).in_(closed.scalar_subquery()))
        .where(~col(SurveyResponse.respondent_key).startswith("sealed:"))
        .values(respondent_key=literal("sealed:") + cast(col(SurveyResponse.id), String))
    )
    return int(result.rowcount or 0)


# -- needs surveys ------------------------------------------------------------------------


async def may_see_results(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    """Animators read results and run needs surveys."""
    return has_role(
        await membership(session, person_id=person_id, community_id=community_id), Role.ANIMATOR
    )


async def open_needs_survey_of(
    session: AsyncSession, *, community_id: int, now: datetime
) -> Survey | None:
    return await open_survey_of(session, community_id=community_id, kind=SurveyKind.NEEDS, now=now)


async def last_survey_of(
    session: AsyncSession, *, community_id: int, kind: SurveyKind, now: datetime
) -> Survey | None:
    """The community's latest survey of this kind already opened (for « last run on »)."""
    return (
        await session.exec(
            sm_select(Survey)
            .where(Survey.community_id == community_id)
            .where(Survey.kind == kind)
            .where(col(Survey.opens_at) <= now)
            .order_by(col(Survey.opens_at).desc(), col(Survey.id).desc())
        )
    ).first()


async def open_survey_of(
    session: AsyncSession, *, community_id: int, kind: SurveyKind, now: datetime
) -> Survey | None:
    """The community's needs survey or learning questionnaire still open (one at a time)."""
    return (
        await session.exec(
            sm_select(Survey)
            .where(Survey.community_id == community_id)
            .where(Survey.kind == kind)
            .where(col(Survey.closes_at) > now)
            .order_by(col(Survey.opens_at).desc())
        )
    ).first()


async def bank_choices(session: AsyncSession, *, community_id: int) -> list[str]:
    """The titles a needs survey offers: the bank's open topics, shortlisted first, then the
    oldest proposals (at most MAX_TOPIC_CHOICES, duplicates once)."""
    rows = await session.exec(
        sm_select(Topic.title)
        .where(Topic.community_id == community_id)
        .where(col(Topic.status).in_([TopicStatus.SHORTLISTED, TopicStatus.PROPOSED]))
        .order_by(col(Topic.status).desc(), col(Topic.created_at), col(Topic.id))
    )
    seen: set[str] = set()
    titles: list[str] = []
    for title in rows.all():
        key = comparable(title)
        if key and key not in seen:
            seen.add(key)
            titles.append(title.strip())
    return titles[:MAX_TOPIC_CHOICES]


async def consenting_members(session: AsyncSession, *, community_id: int) -> list[int]:
    rows = await session.execute(
        select(col(Membership.person_id))
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(col(Membership.community_id) == community_id)
        .where(col(Membership.left_at).is_(None))
        .where(col(Person.consent_surveys).is_(True))
        .order_by(col(Membership.person_id))
    )
    return [int(person_id) for person_id in rows.scalars()]


def needs_closing(now: datetime, *, tz: str, duration: timedelta = NEEDS_DURATION) -> datetime:
    """When a needs survey launched `now` closes: 23 h 59, in the community's time zone, on
    the day `duration` after."""
    zone = ZoneInfo(tz)
    last_day = (now + duration).astimezone(zone).date()
    return datetime.combine(last_day, DAY_END, tzinfo=zone).astimezone(now.tzinfo)


async def open_needs_survey(
    session: AsyncSession,
    *,
    community_id: int,
    by_person_id: int,
    now: datetime,
    tz: str,
    duration: timedelta = NEEDS_DURATION,
) -> tuple[Survey, list[int]]:
    """Open a needs survey (animators only; one open at a time) and invite every consenting
    member; it closes at the end of its last day in `tz`. Returns the survey and who was
    invited."""
    return await _open_member_survey(
        session,
        kind=SurveyKind.NEEDS,
        community_id=community_id,
        by_person_id=by_person_id,
        now=now,
        tz=tz,
        duration=duration,
    )


async def open_learning_survey(
    session: AsyncSession,
    *,
    community_id: int,
    by_person_id: int,
    now: datetime,
    tz: str,
    duration: timedelta = NEEDS_DURATION,
) -> tuple[Survey, list[int]]:
    """Open the learning questionnaire (« ce qui a changé dans ma pratique »), as a needs
    survey opens: animators only, one open at a time, every consenting member invited."""
    return await _open_member_survey(
        session,
        kind=SurveyKind.LEARNING,
        community_id=community_id,
        by_person_id=by_person_id,
        now=now,
        tz=tz,
        duration=duration,
    )


async def communities_for_learning(session: AsyncSession, *, now: datetime) -> list[Community]:
    """Communities old enough for a yearly learning questionnaire (see LEARNING_MIN_AGE)."""
    rows = await session.exec(
        sm_select(Community)
        .where(col(Community.created_at) <= now - LEARNING_MIN_AGE)
        .order_by(col(Community.id))
    )
    return list(rows.all())


async def open_yearly_learning(
    session: AsyncSession,
    *,
    community_id: int,
    review_on: date,
    now: datetime,
    tz: str,
) -> tuple[Survey, list[int]] | None:
    """The learning questionnaire opened by itself when its yearly time came (see
    LEARNING_LEAD), or None: not its time, or one opened recently. Two replicas running this
    together open one (the community's row is locked first)."""
    today = now.astimezone(ZoneInfo(tz)).date()
    # It must close before the review date: later than this, wait for next year.
    if not review_on - LEARNING_LEAD <= today < review_on - NEEDS_DURATION:
        return None
    community = (
        await session.exec(
            sm_select(Community).where(Community.id == community_id).with_for_update()
        )
    ).first()
    if community is None or community.created_at > now - LEARNING_MIN_AGE:
        return None
    recent = (
        await session.exec(
            sm_select(Survey.id)
            .where(Survey.community_id == community_id)
            .where(Survey.kind == SurveyKind.LEARNING)
            .where(col(Survey.opens_at) > now - LEARNING_INTERVAL)
        )
    ).first()
    if recent is not None:
        return None
    return await _open_member_survey(
        session,
        kind=SurveyKind.LEARNING,
        community_id=community_id,
        by_person_id=None,
        now=now,
        tz=tz,
        duration=NEEDS_DURATION,
    )


async def _open_member_survey(
    session: AsyncSession,
    *,
    kind: SurveyKind,
    community_id: int,
    by_person_id: int | None,
    now: datetime,
    tz: str,
    duration: timedelta,
) -> tuple[Survey, list[int]]:
    """`by_person_id` None: opened by the bot itself (the yearly learning questionnaire)."""
    # FOR UPDATE on the community serialises two animators launching at the same moment on
    # PostgreSQL; SQLite has a single writer anyway.
    community = (
        await session.exec(
            sm_select(Community).where(Community.id == community_id).with_for_update()
        )
    ).first()
    if community is None or (
        by_person_id is not None
        and not await may_see_results(session, person_id=by_person_id, community_id=community_id)
    ):
        raise NotAllowed("animators only")
    existing = await open_survey_of(session, community_id=community_id, kind=kind, now=now)
    if existing is not None:
        raise AlreadyOpen(existing)
    survey = Survey(
        community_id=community_id,
        meeting_id=None,
        kind=kind,
        opens_at=now,
        closes_at=needs_closing(now, tz=tz, duration=duration),
        created_by_id=by_person_id,
        topic_choices=(
            await bank_choices(session, community_id=community_id)
            if kind == SurveyKind.NEEDS
            else []
        ),
        created_at=now,
    )
    session.add(survey)
    await session.flush()
    assert survey.id is not None
    invited = [
        person_id
        for person_id in await consenting_members(session, community_id=community_id)
        if await invite(session, survey_id=survey.id, person_id=person_id)
    ]
    logger.info("%s survey %s opened in community %s", kind.value, survey.id, community_id)
    return survey, invited


# -- answering ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invitation:
    """An open survey a person was asked to answer (for the dialog's list)."""

    survey: Survey
    community: Community
    meeting: Meeting | None
    answered: bool


async def open_invitations(
    session: AsyncSession, *, person_id: int, now: datetime
) -> list[Invitation]:
    """The person's open surveys, those not answered yet first, then the ones closing first."""
    rows = await session.execute(
        select(Survey, Community, Meeting, col(SurveyInvitation.answered))
        .join(SurveyInvitation, col(SurveyInvitation.survey_id) == col(Survey.id))
        .join(Community, col(Community.id) == col(Survey.community_id))
        .outerjoin(Meeting, col(Meeting.id) == col(Survey.meeting_id))
        .where(col(SurveyInvitation.person_id) == person_id)
        .where(col(Survey.opens_at) <= now)
        .where(col(Survey.closes_at) > now)
        .order_by(col(SurveyInvitation.answered), col(Survey.closes_at), col(Survey.id))
    )
    return [
        Invitation(survey=survey, community=community, meeting=meeting, answered=bool(answered))
        for survey, community, meeting, answered in rows.all()
    ]


async def invitation_of(
    session: AsyncSession, *, survey_id: int, person_id: int
) -> SurveyInvitation | None:
    return (
        await session.exec(
            sm_select(SurveyInvitation)
            .where(SurveyInvitation.survey_id == survey_id)
            .where(SurveyInvitation.person_id == person_id)
        )
    ).first()


def _clean_text(value: object) -> str:
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidAnswer(TEXT_TOO_LONG)
    return text


def _screened(texts: dict[str, str], confirmed: Sequence[str]) -> dict[str, str]:
    """The texts, or HasIdentifiers with the kinds spotted in them (never the text, never
    which question): facilitators read the comments, so a client must not be named in them."""
    found: list[IdentifierKind] = []
    for text in texts.values():
        found.extend(kind for kind in unconfirmed(text, confirmed) if kind not in found)
    if found:
        raise HasIdentifiers(sorted(found, key=list(IdentifierKind).index))
    return texts


def _missing(survey: Survey, question: str) -> str:
    if survey.kind == SurveyKind.LEARNING:
        return MISSING_ANSWER
    return MISSING_OBJECTIVE if question.startswith(OBJECTIVE_PREFIX) else MISSING_RATING


def checked_answer(
    survey: Survey, answer: Answer
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """The answer as it will be stored, or InvalidAnswer: every rating of a satisfaction survey
    (its objective items included) or learning questionnaire from 1 to 5, nothing else rated,
    texts of at most MAX_TEXT_LENGTH, choices among the survey's topics; or HasIdentifiers for
    a text that seems to identify a client, but for the kinds in `answer.confirmed` the person
    may confirm identify no one (names only)."""
    if survey.kind in (SurveyKind.SATISFACTION, SurveyKind.LEARNING):
        ratings: dict[str, int] = {}
        for question in rating_questions(survey):
            value = answer.ratings.get(question)
            if value is None:
                raise InvalidAnswer(_missing(survey, question))
            if isinstance(value, bool) or value not in RATING_VALUES:
                raise InvalidAnswer(INVALID_RATING)
            ratings[question] = int(value)
        # A rating of no question (an objective the survey does not have) is refused rather
        # than dropped: the card or dialog that sent it is not this survey's.
        if any(question not in ratings for question in answer.ratings):
            raise InvalidAnswer(INVALID_RATING)
        texts = {
            question: text
            for question in text_questions(survey)
            if (text := _clean_text(answer.texts.get(question)))
        }
        return ratings, _screened(texts, answer.confirmed), []
    offered = list(survey.topic_choices)
    chosen: list[str] = []
    for choice in answer.choices:
        if choice not in offered:
            raise InvalidAnswer(INVALID_CHOICE)
        if choice not in chosen:
            chosen.append(choice)
    chosen.sort(key=offered.index)
    texts = {q: text for q in NEEDS_TEXTS if (text := _clean_text(answer.texts.get(q)))}
    return {}, _screened(texts, answer.confirmed), chosen


async def record_response(
    session: AsyncSession,
    *,
    survey_id: int,
    person_id: int,
    key: bytes,
    answer: Answer,
    now: datetime,
) -> bool:
    """Store (or replace) the person's anonymous answer and mark their invitation answered.
    Returns True when an earlier answer was replaced. UnknownSurvey, SurveyClosed, NotInvited,
    InvalidAnswer, HasIdentifiers (checked_answer). The row holds the keyed hash only; nothing
    here logs the person."""
    # The survey's row locked on PostgreSQL: answers to one survey take turns, as each
    # rewrites them all (SQLite serialises writers and ignores the clause).
    survey = (
        await session.exec(sm_select(Survey).where(col(Survey.id) == survey_id).with_for_update())
    ).first()
    if survey is None or survey.id is None:
        raise UnknownSurvey(survey_id)
    if not is_open(survey, now=now):
        raise SurveyClosed("the survey is closed")
    invitation = await invitation_of(session, survey_id=survey.id, person_id=person_id)
    if invitation is None:
        raise NotInvited("not invited")
    ratings, texts, choices = checked_answer(survey, answer)
    replaced = invitation.answered
    await upsert(
        session,
        RESPONSE_TABLE,
        {
            "survey_id": survey.id,
            "respondent_key": respondent_key(key, survey_id=survey.id, person_id=person_id),
            "ratings": ratings,
            "texts": texts,
            "choices": choices,
        },
        conflict=["survey_id", "respondent_key"],
        update=["ratings", "texts", "choices"],
    )
    await deal_anew(
        session,
        RESPONSE_TABLE,
        where=RESPONSE_TABLE.c.survey_id == survey.id,
        key_column="respondent_key",
    )
    if not invitation.answered:
        invitation.answered = True
        await session.flush()
    return replaced


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """Answers from `low` to `high` (one value, or a band such as 1–2)."""

    low: int
    high: int
    count: int


@dataclass(frozen=True, slots=True)
class RatingResult:
    question: str
    answered: int
    average: float | None
    # Empty when the distribution is hidden; five cells in detail, or three bands.
    cells: tuple[Cell, ...]

    @property
    def banded(self) -> bool:
        return len(self.cells) == len(BANDS)


@dataclass(frozen=True, slots=True)
class ChoiceCount:
    title: str
    # None: one or two people (shown as « fewer than 3 »), so that nobody is singled out.
    count: int | None


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    in_bank: bool


@dataclass(frozen=True, slots=True)
class SurveyResults:
    survey: Survey
    community: Community
    meeting: Meeting | None
    invited: int
    responses: int
    k: int
    closed: bool
    ratings: tuple[RatingResult, ...] = ()
    # Question → free texts, alphabetical.
    comments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    choices: tuple[ChoiceCount, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def shown(self) -> bool:
        return self.closed and self.responses >= self.k

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.invited if self.invited else None


def _safe(cells: list[Cell]) -> bool:
    return all(cell.count == 0 or cell.count >= CELL_MIN for cell in cells)


def distribution(counts: Mapping[int, int]) -> tuple[Cell, ...]:
    """The cells that may be shown (see the module docstring): five, three bands, or none."""
    detailed = [Cell(value, value, counts.get(value, 0)) for value in RATING_VALUES]
    if _safe(detailed):
        return tuple(detailed)
    banded = [
        Cell(low, high, sum(counts.get(v, 0) for v in range(low, high + 1))) for low, high in BANDS
    ]
    if _safe(banded):
        return tuple(banded)
    return ()


def masked_count(count: int) -> int | None:
    """A count shown as is when 0 or at least CELL_MIN; None (« fewer than 3 ») otherwise."""
    return count if count == 0 or count >= CELL_MIN else None


def suggestion_lines(text: str) -> list[str]:
    """A needs answer may list several wishes, one per line."""
    return [line.strip(" -•*\t") for line in text.splitlines() if line.strip(" -•*\t")]


def _elements(session: AsyncSession) -> Any:
    """The JSON `choices` array of each response as rows (as storage.polls does)."""
    choices = col(SurveyResponse.choices)
    if session.get_bind().dialect.name == "postgresql":
        return func.json_array_elements_text(choices).table_valued("value").render_derived()
    return func.json_each(choices).table_valued("value")


async def _rating_results(
    session: AsyncSession, survey_id: int, questions: Sequence[str]
) -> tuple[RatingResult, ...]:
    found: list[RatingResult] = []
    for question in questions:
        value = RESPONSE_TABLE.c.ratings[question].as_integer()
        rows = (
            await session.execute(
                select(value, func.count())
                .where(RESPONSE_TABLE.c.survey_id == survey_id)
                .where(value.is_not(None))
                .group_by(value)
            )
        ).all()
        counts = {int(v): int(c) for v, c in rows if v is not None and int(v) in RATING_VALUES}
        answered = sum(counts.values())
        average = sum(v * c for v, c in counts.items()) / answered if answered else None
        found.append(RatingResult(question, answered, average, distribution(counts)))
    return tuple(found)


async def _texts(session: AsyncSession, survey_id: int) -> list[dict[str, str]]:
    rows = await session.execute(
        select(col(SurveyResponse.texts)).where(col(SurveyResponse.survey_id) == survey_id)
    )
    return [texts for texts in rows.scalars() if isinstance(texts, dict)]


def _alphabetical(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(texts, key=lambda text: (comparable(text), text)))


async def _choice_counts(session: AsyncSession, survey: Survey) -> tuple[ChoiceCount, ...]:
    assert survey.id is not None
    elements = _elements(session)
    value = cast(elements.c.value, String)
    rows = (
        await session.execute(
            select(value, func.count())
            .select_from(SurveyResponse)
            .join(elements, true())
            .where(col(SurveyResponse.survey_id) == survey.id)
            .group_by(value)
        )
    ).all()
    counts = {str(title): int(count) for title, count in rows}
    listed = [
        ChoiceCount(title, masked_count(counts.get(title, 0))) for title in survey.topic_choices
    ]
    # Most wanted first; masked counts (1–2) after the ones shown, before the zeros.
    return tuple(
        sorted(
            listed,
            key=lambda c: (
                -(c.count if c.count is not None else 1.5),
                survey.topic_choices.index(c.title),
            ),
        )
    )


async def _suggestions(
    session: AsyncSession, survey: Survey, texts: list[dict[str, str]]
) -> tuple[Suggestion, ...]:
    in_bank = {
        comparable(title)
        for title in (
            await session.exec(
                sm_select(Topic.title).where(Topic.community_id == survey.community_id)
            )
        ).all()
    }
    # A wish written several ways is listed once, in a spelling chosen from the texts alone:
    # answers are stored in no meaningful order (storage/anonymity.py).
    spelled: dict[str, str] = {}
    for answer in texts:
        for line in suggestion_lines(str(answer.get(NEEDS_TEXT, ""))):
            line = " ".join(line.split())
            key = comparable(line)
            if key and (key not in spelled or line < spelled[key]):
                spelled[key] = line
    lines = list(spelled.values())
    return tuple(
        Suggestion(
            text=line,
            in_bank=comparable(line[:MAX_TITLE_LENGTH]) in in_bank or comparable(line) in in_bank,
        )
        for line in _alphabetical(lines)
    )


async def results(session: AsyncSession, *, survey_id: int, now: datetime) -> SurveyResults:
    """Response rate always; everything else once the survey is closed, and only from k
    answers (see the module docstring). Otherwise the answers are not even read."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.id is None:
        raise UnknownSurvey(survey_id)
    community = await session.get(Community, survey.community_id)
    assert community is not None
    meeting = await meeting_of(session, survey=survey)
    invited = (
        await session.execute(
            select(func.count())
            .select_from(SurveyInvitation)
            .where(col(SurveyInvitation.survey_id) == survey.id)
        )
    ).scalar_one()
    responses = (
        await session.execute(
            select(func.count())
            .select_from(SurveyResponse)
            .where(col(SurveyResponse.survey_id) == survey.id)
        )
    ).scalar_one()
    base = SurveyResults(
        survey=survey,
        community=community,
        meeting=meeting,
        invited=int(invited),
        responses=int(responses),
        k=k_threshold(community),
        closed=now >= survey.closes_at,
    )
    if not base.shown:
        return base
    texts = await _texts(session, survey.id)
    if survey.kind in (SurveyKind.SATISFACTION, SurveyKind.LEARNING):
        comments = {
            question: _alphabetical(
                str(answer[question]) for answer in texts if str(answer.get(question, "")).strip()
            )
            for question in text_questions(survey)
        }
        ratings = await _rating_results(session, survey.id, rating_questions(survey))
        return SurveyResults(**{**_fields(base), "ratings": ratings}, comments=comments)
    return SurveyResults(
        **_fields(base),
        choices=await _choice_counts(session, survey),
        suggestions=await _suggestions(session, survey, texts),
    )


def _fields(results: SurveyResults) -> dict[str, Any]:
    return {
        "survey": results.survey,
        "community": results.community,
        "meeting": results.meeting,
        "invited": results.invited,
        "responses": results.responses,
        "k": results.k,
        "closed": results.closed,
    }


async def recent_surveys(
    session: AsyncSession, *, community_id: int, now: datetime, limit: int = 6
) -> list[tuple[Survey, Meeting | None]]:
    """The community's surveys already opened, most recent first (for the results menu)."""
    rows = await session.execute(
        select(Survey, Meeting)
        .outerjoin(Meeting, col(Meeting.id) == col(Survey.meeting_id))
        .where(col(Survey.community_id) == community_id)
        .where(col(Survey.opens_at) <= now)
        .order_by(col(Survey.opens_at).desc(), col(Survey.id).desc())
        .limit(limit)
    )
    return [(survey, meeting) for survey, meeting in rows.all()]


async def add_suggestion_to_bank(
    session: AsyncSession, *, survey_id: int, text: str, by_person_id: int, now: datetime
) -> Topic:
    """Turn a needs-survey suggestion into a proposed topic of the bank. Animators only; the
    text must be one of the survey's suggestions as the results show them (so k applies), and
    not already in the bank (AlreadyInBank)."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.id is None or survey.kind != SurveyKind.NEEDS:
        raise UnknownSurvey(survey_id)
    if not await may_see_results(session, person_id=by_person_id, community_id=survey.community_id):
        raise NotAllowed("animators only")
    shown = await results(session, survey_id=survey.id, now=now)
    # Buttons carry at most a title's length of the suggestion (cards stay small).
    wanted = comparable(text[:MAX_TITLE_LENGTH])
    match = next(
        (s for s in shown.suggestions if comparable(s.text[:MAX_TITLE_LENGTH]) == wanted), None
    )
    if match is None:
        raise UnknownSurvey(survey_id)
    title = match.text[:MAX_TITLE_LENGTH].strip()
    existing = (
        await session.exec(sm_select(Topic).where(Topic.community_id == survey.community_id))
    ).all()
    for topic in existing:
        if comparable(topic.title) in (comparable(title), comparable(match.text)):
            raise AlreadyInBank(topic.title)
    topic = Topic(
        community_id=survey.community_id,
        title=title,
        # A suggestion longer than a title keeps its full wording as the description.
        description=match.text[:MAX_DESCRIPTION_LENGTH] if len(match.text) > len(title) else "",
        proposed_by_id=by_person_id,
        status=TopicStatus.PROPOSED,
        created_at=now,
    )
    session.add(topic)
    await session.flush()
    logger.info("topic %s added from needs survey %s", topic.id, survey.id)
    return topic


# -- the year in figures (the annual review, storage/review.py) ------------------------------

# An objective counts as reached when its answers average at least this (« beaucoup »).
REACHED_AT = 4.0


@dataclass(frozen=True, slots=True)
class ObjectivesReached:
    """The objective items of the satisfaction surveys about meetings started in a period,
    counting only surveys closed with k answers or more (as their own results do)."""

    surveys: int
    objectives: int
    answers: int
    average: float | None
    # Objectives whose answers average REACHED_AT or more.
    reached: int


@dataclass(frozen=True, slots=True)
class LearningFigures:
    """The learning questionnaires opened in a period, closed with k answers or more."""

    surveys: int
    responses: int
    # (question of LEARNING_RATINGS, average), None without any answer counted.
    averages: tuple[tuple[str, float | None], ...]


def _reached_k(k: int) -> Any:
    return (
        select(RESPONSE_TABLE.c.survey_id)
        .group_by(RESPONSE_TABLE.c.survey_id)
        .having(func.count() >= k)
        .scalar_subquery()
    )


async def objectives_reached(
    session: AsyncSession,
    *,
    community_id: int,
    start: datetime,
    end: datetime,
    k: int,
    now: datetime,
) -> ObjectivesReached:
    """Sums and counts per survey and objective from SQL; a survey still open, or closed with
    fewer than k answers, counts for nothing (reading the figure before and after it would
    tell its answers apart)."""
    columns: list[Any] = []
    for index in range(MAX_OBJECTIVES):
        value = RESPONSE_TABLE.c.ratings[objective_question(index)].as_integer()
        columns += [func.sum(value), func.count(value)]
    rows = (
        await session.execute(
            select(RESPONSE_TABLE.c.survey_id, *columns)
            .join(Survey, col(Survey.id) == RESPONSE_TABLE.c.survey_id)
            .join(Meeting, col(Meeting.id) == col(Survey.meeting_id))
            .where(col(Survey.community_id) == community_id)
            .where(col(Survey.kind) == SurveyKind.SATISFACTION)
            .where(col(Survey.closes_at) <= now)
            .where(col(Meeting.starts_at) >= start)
            .where(col(Meeting.starts_at) < end)
            .where(RESPONSE_TABLE.c.survey_id.in_(_reached_k(k)))
            .group_by(RESPONSE_TABLE.c.survey_id)
        )
    ).all()
    surveys_counted = objectives = answers = reached = 0
    total = 0
    for row in rows:
        counted = False
        for index in range(MAX_OBJECTIVES):
            summed, count = row[1 + 2 * index], int(row[2 + 2 * index] or 0)
            if not count:
                continue
            counted = True
            objectives += 1
            answers += count
            total += int(summed or 0)
            if int(summed or 0) / count >= REACHED_AT:
                reached += 1
        surveys_counted += counted
    return ObjectivesReached(
        surveys=surveys_counted,
        objectives=objectives,
        answers=answers,
        average=total / answers if answers else None,
        reached=reached,
    )


async def learning_figures(
    session: AsyncSession,
    *,
    community_id: int,
    start: datetime,
    end: datetime,
    k: int,
    now: datetime,
) -> LearningFigures:
    """The averages of the learning questionnaires opened in [start, end), closed with k
    answers or more (the others count for nothing, not even their number of answers)."""
    values = [RESPONSE_TABLE.c.ratings[q].as_integer() for q in LEARNING_RATINGS]
    row = (
        await session.execute(
            select(
                func.count(func.distinct(RESPONSE_TABLE.c.survey_id)),
                func.count(),
                *(func.avg(value) for value in values),
            )
            .select_from(RESPONSE_TABLE)
            .join(Survey, col(Survey.id) == RESPONSE_TABLE.c.survey_id)
            .where(col(Survey.community_id) == community_id)
            .where(col(Survey.kind) == SurveyKind.LEARNING)
            .where(col(Survey.closes_at) <= now)
            .where(col(Survey.opens_at) >= start)
            .where(col(Survey.opens_at) < end)
            .where(RESPONSE_TABLE.c.survey_id.in_(_reached_k(k)))
        )
    ).one()
    responses = int(row[1] or 0)
    return LearningFigures(
        surveys=int(row[0] or 0),
        responses=responses,
        averages=tuple(
            (q, float(avg) if responses and avg is not None else None)
            for q, avg in zip(LEARNING_RATINGS, row[2:], strict=True)
        ),
    )
