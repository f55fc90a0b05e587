"""Surveys: opening after a meeting and who is asked, the day-3 reminder, one anonymous answer
per person (changeable until closing, sealed after), k-threshold suppression and the cell rule,
needs surveys turned into topics, the cards and the dialog in French and English, and no
person in the answers table, the results cards or the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from microsoft_agents.activity import (
    Activity,
)
from microsoft_agents.hosting.core import TurnContext
from sqlalchemy import inspect as sa_inspect
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli import _configure_logging as configure_logging
from bot.features.surveys import FEATURE as SURVEYS
from bot.surveys_flow import (
    SURVEY_RENDERERS,
    on_needs_survey_command,
    on_results_command,
    open_due_surveys,
    seal_closed_surveys,
    survey_reminders,
)
from cards.common import MAX_CARD_BYTES, Element
from cards.surveys import build_results_card, build_survey_card
from dialogs.survey_dialog import SurveyDialog
from storage import surveys
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers, IdentifierKind
from storage.models import (
    Attendance,
    Community,
    Meeting,
    MeetingStatus,
    Membership,
    OutboxMessage,
    Person,
    Role,
    RsvpAnswer,
    Survey,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicStatus,
)
from storage.secrets import keyed_hash
from storage.surveys import (
    KIND_INVITATION,
    KIND_REMINDER,
    KIND_RESULTS,
    AlreadyInBank,
    AlreadyOpen,
    Answer,
    Cell,
    InvalidAnswer,
    NotInvited,
    SurveyClosed,
)
from tests import factories
from tests.conftest import make_settings
from tests.support import DialogChat, FeatureBot, card_actions, press, render_context, text_of

TZ = "America/Montreal"
# A meeting on Thursday 12 November 2026, 9:00–13:00 in Montreal.
MEETING_START = datetime(2026, 11, 12, 14, 0, tzinfo=UTC)
MEETING_END = MEETING_START + timedelta(hours=4)
OPENED = MEETING_END + timedelta(hours=1)
SETTINGS = make_settings("sqlite+aiosqlite://", CARREFOUR_SECRET_KEY="test-secret-key")
MASTER = SETTINGS.master_key()
EVERYTHING = {
    "overall": 4,
    "relevance": 5,
    "exchanges": 4,
    "usefulness": 3,
    "organisation": 5,
}


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass
class Scene:
    where: Community
    meeting: Meeting
    animator: Person
    members: list[Person]  # consenting, said yes
    no_consent: Person
    declined: Person
    gone: Person


async def _joined(
    session: AsyncSession,
    n: int,
    where: Community,
    *,
    consent: bool = True,
    animator: bool = False,
    locale: str = "fr-CA",
) -> Person:
    who = await factories.person(session, n, locale=locale)
    who.consent_surveys = consent
    row = await factories.member(session, who, where)
    if animator:
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
    await session.flush()
    return who


async def scene(sessions: SessionFactory, *, members: int = 6) -> Scene:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        # Person ids that are not small numbers, so that no test passes by coincidence.
        for n in range(200, 217):
            await factories.person(session, n)
        animator = await _joined(session, 1, where, animator=True)
        people = [await _joined(session, 10 + i, where) for i in range(members)]
        no_consent = await _joined(session, 30, where, consent=False)
        declined = await _joined(session, 31, where)
        gone = await _joined(session, 32, where)
        meeting = await factories.meeting(session, where, starts_at=MEETING_START, hours=4)
        for who in [animator, *people, no_consent, gone]:
            await factories.rsvp(session, who, meeting, RsvpAnswer.YES)
        await factories.rsvp(session, declined, meeting, RsvpAnswer.NO)
        (
            await session.exec(select(Membership).where(Membership.person_id == _id(gone)))
        ).one().left_at = MEETING_START
    return Scene(where, meeting, animator, people, no_consent, declined, gone)


async def rows(sessions: SessionFactory, kind: str | None = None) -> list[OutboxMessage]:
    async with sessions() as session:
        statement = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if kind is not None:
            statement = statement.where(OutboxMessage.kind == kind)
        return list((await session.exec(statement)).all())


async def the_survey(sessions: SessionFactory) -> Survey:
    async with sessions() as session:
        return (await session.exec(select(Survey))).one()


async def answer(
    sessions: SessionFactory,
    who: Person,
    survey: Survey,
    ratings: dict[str, int] | None = None,
    texts: dict[str, str] | None = None,
    choices: list[str] | None = None,
    *,
    now: datetime = OPENED + timedelta(hours=1),
) -> bool:
    async with transaction(sessions) as session:
        key = surveys.respondent_secret(MASTER)
        return await surveys.record_response(
            session,
            survey_id=_id(survey),
            person_id=_id(who),
            key=key,
            answer=Answer(ratings=ratings or {}, texts=texts or {}, choices=choices or []),
            now=now,
        )


# -- opening, inviting, reminding ------------------------------------------------------------------


async def test_a_survey_opens_an_hour_after_the_meeting_for_consenting_attendees(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    wakes: list[int] = []

    async def run(now: datetime) -> int:
        return await open_due_surveys(sessions=sessions, now=now, wake=lambda: wakes.append(1))

    assert await run(MEETING_END + timedelta(minutes=59)) == 0
    async with sessions() as session:
        assert (await session.exec(select(Survey))).all() == []
    # Not confirmed yet: those who said yes, consented and are still members.
    assert await run(OPENED) == 7
    assert await run(OPENED) == 0  # again, or on another replica: nothing twice
    survey = await the_survey(sessions)
    assert (survey.kind, survey.meeting_id, survey.opens_at, survey.closes_at) == (
        SurveyKind.SATISFACTION,
        s.meeting.id,
        OPENED,
        OPENED + timedelta(days=7),
    )
    invited = sorted(r.person_id or 0 for r in await rows(sessions, KIND_INVITATION))
    assert invited == sorted(_id(p) for p in [s.animator, *s.members])
    assert {r.dedup_key for r in await rows(sessions)} == {
        f"survey:{survey.id}:invitation:to:{person_id}" for person_id in invited
    }
    assert wakes == [1]

    # The animator confirms attendance later: an attendee who had not said yes is invited;
    # those already invited stay invited.
    async with transaction(sessions) as session:
        meeting = await session.get(Meeting, _id(s.meeting))
        assert meeting is not None
        meeting.attendance_confirmed_at = OPENED + timedelta(hours=2)
        meeting.status = MeetingStatus.DONE
        for who in (s.members[0], s.declined, s.no_consent):
            session.add(Attendance(meeting_id=_id(meeting), person_id=_id(who), minutes=240))
    assert await run(OPENED + timedelta(hours=3)) == 1
    assert (await rows(sessions, KIND_INVITATION))[-1].person_id == s.declined.id
    # After closing, nobody else is invited.
    async with transaction(sessions) as session:
        latecomer = await _joined(session, 40, s.where)
        session.add(Attendance(meeting_id=_id(s.meeting), person_id=_id(latecomer), minutes=240))
    assert await run(OPENED + timedelta(days=7)) == 0


async def test_no_survey_for_a_cancelled_meeting_or_one_long_past(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        who = await _joined(session, 1, where)
        cancelled = await factories.meeting(session, where, starts_at=MEETING_START, hours=4)
        cancelled.status = MeetingStatus.CANCELLED
        old = await factories.meeting(session, where, starts_at=MEETING_START - timedelta(days=5))
        for meeting in (cancelled, old):
            await factories.rsvp(session, who, meeting, RsvpAnswer.YES)
    assert await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None) == 0
    async with sessions() as session:
        assert (await session.exec(select(Survey))).all() == []


async def test_the_day_3_reminder_goes_once_to_those_who_have_not_answered(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=2)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    await answer(sessions, s.members[0], survey, EVERYTHING)

    async def remind(now: datetime) -> int:
        return await survey_reminders(sessions=sessions, now=now, wake=lambda: None)

    assert await remind(OPENED + timedelta(days=2, hours=23)) == 0
    assert await remind(OPENED + timedelta(days=3)) == 2
    assert await remind(OPENED + timedelta(days=4)) == 0
    assert sorted(r.person_id or 0 for r in await rows(sessions, KIND_REMINDER)) == sorted(
        [_id(s.animator), _id(s.members[1])]
    )
    # A survey opened longer ago and already closed: no reminder.
    assert await remind(OPENED + timedelta(days=8)) == 0


# -- answering: one per person, anonymous ----------------------------------------------------------


async def test_one_answer_per_person_changeable_until_closing_then_sealed(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=2)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    lea = s.members[0]

    assert await answer(sessions, lea, survey, EVERYTHING, {"takeaway": "Les outils"}) is False
    assert await answer(sessions, lea, survey, {**EVERYTHING, "overall": 2}, {}) is True
    async with sessions() as session:
        (row,) = (await session.exec(select(SurveyResponse))).all()
        invitation = await surveys.invitation_of(session, survey_id=_id(survey), person_id=_id(lea))
        key = surveys.respondent_secret(MASTER)
    assert (row.ratings["overall"], row.texts) == (2, {})
    assert invitation is not None
    assert invitation.answered is True
    # The answer is filed under the keyed hash of (survey, person), nothing else.
    assert row.respondent_key == keyed_hash(key, _id(survey), _id(lea))
    assert str(_id(lea)) not in row.respondent_key.split(":")

    for wrong, reason in (
        ({**EVERYTHING, "overall": 6}, "invalid_rating"),
        ({k: v for k, v in EVERYTHING.items() if k != "usefulness"}, "missing_rating"),
    ):
        with pytest.raises(InvalidAnswer, match=reason):
            await answer(sessions, s.members[1], survey, wrong)
    with pytest.raises(InvalidAnswer, match="text_too_long"):
        await answer(sessions, s.members[1], survey, EVERYTHING, {"takeaway": "x" * 1001})
    with pytest.raises(NotInvited):
        await answer(sessions, s.no_consent, survey, EVERYTHING)
    with pytest.raises(SurveyClosed):
        await answer(sessions, s.members[1], survey, EVERYTHING, now=survey.closes_at)

    # Closed: the keys are replaced by values derived from nothing.
    assert (
        await seal_closed_surveys(sessions=sessions, now=survey.closes_at - timedelta(seconds=1))
        == 0
    )
    assert await seal_closed_surveys(sessions=sessions, now=survey.closes_at) == 1
    assert await seal_closed_surveys(sessions=sessions, now=survey.closes_at) == 0
    async with sessions() as session:
        (sealed,) = (await session.exec(select(SurveyResponse))).all()
    assert sealed.respondent_key == f"sealed:{sealed.id}"
    assert sealed.ratings["overall"] == 2


async def test_the_answers_table_has_no_person_column(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            columns, invitation = await connection.run_sync(
                lambda sync: tuple(
                    {c["name"] for c in sa_inspect(sync).get_columns(table)}
                    for table in ("survey_response", "survey_invitation")
                )
            )
    finally:
        await engine.dispose()
    assert columns == {
        "id",
        "survey_id",
        "respondent_key",
        "ratings",
        "texts",
        "choices",
    }
    # Invitations know who was asked and whether they answered, never which answer (and no
    # time that could be matched with an answer).
    assert invitation == {"id", "survey_id", "person_id", "answered"}


# -- results: k and the cell rule ------------------------------------------------------------------


def test_the_cell_rule() -> None:
    assert surveys.distribution({5: 3, 4: 4}) == (
        Cell(1, 1, 0),
        Cell(2, 2, 0),
        Cell(3, 3, 0),
        Cell(4, 4, 4),
        Cell(5, 5, 3),
    )
    # A lone 2 would single someone out; grouped with the 1s it is 1–2: still one person.
    # Grouped 4–5 and 3 are fine, 1–2 holds one person: the distribution is hidden.
    assert surveys.distribution({5: 3, 4: 4, 3: 3, 2: 1}) == ()
    # A lone 4 and two 5s group into 4–5 with 3.
    assert surveys.distribution({5: 2, 4: 1, 3: 3}) == (Cell(1, 2, 0), Cell(3, 3, 3), Cell(4, 5, 3))
    assert surveys.masked_count(0) == 0
    assert surveys.masked_count(1) is None
    assert surveys.masked_count(2) is None
    assert surveys.masked_count(3) == 3


async def test_nothing_is_shown_below_k(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=6)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    for who, rating in zip(s.members[:4], (5, 5, 4, 2), strict=True):
        await answer(
            sessions,
            who,
            survey,
            {**EVERYTHING, "overall": rating},
            {"takeaway": f"Idée {rating}"},
        )
    # Closed (an open survey shows no results at all: tests/test_anonymity.py).
    now = survey.closes_at
    async with sessions() as session:
        below = await surveys.results(session, survey_id=_id(survey), now=now)
    assert (below.invited, below.responses, below.k, below.shown) == (7, 4, 5, False)
    assert (below.ratings, dict(below.comments), below.choices, below.suggestions) == (
        (),
        {},
        (),
        (),
    )
    card = build_results_card(below, locale="fr-CA", tz=TZ)
    text = json.dumps(card, ensure_ascii=False)
    assert "Les résultats s’afficheront à partir de 5\u00a0réponses" in text
    assert "Idée" not in text
    assert "Moyenne" not in text

    await answer(
        sessions,
        s.members[4],
        survey,
        {**EVERYTHING, "overall": 5},
        {"takeaway": "Bravo"},
        now=OPENED + timedelta(days=1),
    )
    async with sessions() as session:
        shown = await surveys.results(session, survey_id=_id(survey), now=now)
    assert (shown.responses, shown.shown) == (5, True)
    overall = shown.ratings[0]
    assert (overall.question, overall.answered) == ("overall", 5)
    assert overall.average == pytest.approx(4.2)
    # 5: three people; 4 and 2: one each → detail hidden; bands 4–5 (4) and 1–2 (1) → hidden.
    assert overall.cells == ()
    relevance = shown.ratings[1]
    assert (relevance.average, relevance.cells[-1]) == (5.0, Cell(5, 5, 5))
    # Alphabetical, whatever the order of answering.
    assert shown.comments["takeaway"] == ("Bravo", "Idée 2", "Idée 4", "Idée 5", "Idée 5")
    assert shown.response_rate == pytest.approx(5 / 7)

    # A community asking for more answers: the same survey is hidden again; k is never below 3.
    async with transaction(sessions) as session:
        where = await session.get(Community, _id(s.where))
        assert where is not None
        where.settings = {"survey_k": 6}
    async with sessions() as session:
        assert (await surveys.results(session, survey_id=_id(survey), now=now)).shown is False
    assert surveys.k_threshold(Community(name="x", settings={"survey_k": 1})) == 3
    assert surveys.k_threshold(Community(name="x", settings={"survey_k": "oops"})) == 5
    assert surveys.k_threshold(Community(name="x")) == 5


# -- needs surveys ---------------------------------------------------------------------------------


async def test_a_needs_survey_and_its_suggestions_turned_into_topics(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=5)
    now = OPENED
    async with transaction(sessions) as session:
        for title, status in (
            ("Le deuil blanc", TopicStatus.PROPOSED),
            ("Soins de plaies", TopicStatus.SHORTLISTED),
            ("Vieux sujet", TopicStatus.DONE),
        ):
            session.add(Topic(community_id=_id(s.where), title=title, status=status))
    async with transaction(sessions) as session:
        with pytest.raises(NotAllowed):
            await surveys.open_needs_survey(
                session, community_id=_id(s.where), by_person_id=_id(s.members[0]), now=now, tz=TZ
            )
    async with transaction(sessions) as session:
        survey, invited = await surveys.open_needs_survey(
            session, community_id=_id(s.where), by_person_id=_id(s.animator), now=now, tz=TZ
        )
    # Still-open topics, shortlisted first; every consenting active member (animator too).
    assert survey.topic_choices == ["Soins de plaies", "Le deuil blanc"]
    assert sorted(invited) == sorted(_id(p) for p in [s.animator, *s.members, s.declined])
    closes = survey.closes_at.replace(tzinfo=survey.closes_at.tzinfo or UTC).astimezone(
        ZoneInfo(TZ)
    )
    assert (closes.date(), closes.time()) == (
        (now + timedelta(days=14)).astimezone(ZoneInfo(TZ)).date(),
        time(23, 59),
    )
    async with transaction(sessions) as session:
        with pytest.raises(AlreadyOpen):
            await surveys.open_needs_survey(
                session, community_id=_id(s.where), by_person_id=_id(s.animator), now=now, tz=TZ
            )

    later = now + timedelta(hours=1)
    wishes = [
        (["Soins de plaies", "Le deuil blanc"], "Formation sur l’AMP\nle deuil blanc"),
        (["Soins de plaies"], "Formation  sur l’amp"),
        (["Soins de plaies"], ""),
        ([], "Outils d’évaluation"),
        (["Le deuil blanc"], ""),
    ]
    for who, (choices, text) in zip([s.animator, *s.members], wishes, strict=False):
        await answer(sessions, who, survey, choices=choices, texts={"needs": text}, now=later)
    with pytest.raises(InvalidAnswer, match="invalid_choice"):
        await answer(sessions, s.members[4], survey, choices=["Vieux sujet"], now=later)
    async with sessions() as session:
        shown = await surveys.results(session, survey_id=_id(survey), now=survey.closes_at)
    assert [(c.title, c.count) for c in shown.choices] == [
        ("Soins de plaies", 3),
        ("Le deuil blanc", None),  # two people: « fewer than 3 »
    ]
    assert [(x.text, x.in_bank) for x in shown.suggestions] == [
        ("Formation sur l’AMP", False),
        ("le deuil blanc", True),
        ("Outils d’évaluation", False),
    ]
    card = build_results_card(shown, locale="fr-CA", tz=TZ)
    text = json.dumps(card, ensure_ascii=False)
    assert "moins de 3" in text
    buttons = card_actions(card)
    assert [b["data"] for b in buttons] == [
        {"verb": "surveys.topic", "survey_id": survey.id, "text": "Formation sur l’AMP"},
        {"verb": "surveys.topic", "survey_id": survey.id, "text": "Outils d’évaluation"},
    ]

    async with transaction(sessions) as session:
        with pytest.raises(NotAllowed):
            await surveys.add_suggestion_to_bank(
                session,
                survey_id=_id(survey),
                text="Outils d’évaluation",
                by_person_id=_id(s.members[0]),
                now=survey.closes_at,
            )
    async with transaction(sessions) as session:
        topic = await surveys.add_suggestion_to_bank(
            session,
            survey_id=_id(survey),
            text="outils d’évaluation",
            by_person_id=_id(s.animator),
            now=survey.closes_at,
        )
    assert (topic.title, topic.status, topic.community_id) == (
        "Outils d’évaluation",
        TopicStatus.PROPOSED,
        s.where.id,
    )
    async with transaction(sessions) as session:
        with pytest.raises(AlreadyInBank):
            await surveys.add_suggestion_to_bank(
                session,
                survey_id=_id(survey),
                text="Outils d’évaluation",
                by_person_id=_id(s.animator),
                now=survey.closes_at,
            )
        with pytest.raises(surveys.UnknownSurvey):  # not one of the suggestions
            await surveys.add_suggestion_to_bank(
                session,
                survey_id=_id(survey),
                text="Un sujet inventé",
                by_person_id=_id(s.animator),
                now=survey.closes_at,
            )


# -- cards -----------------------------------------------------------------------------------------


def _inputs(card: Element) -> dict[str, Element]:
    return {b["id"]: b for b in card["body"] if str(b.get("type", "")).startswith("Input.")}


def _example_survey(
    kind: SurveyKind = SurveyKind.SATISFACTION,
) -> tuple[Survey, Community, Meeting]:
    where = Community(id=1, name="CdeP Soins palliatifs")
    meeting = Meeting(
        id=3,
        community_id=1,
        title="Le deuil blanc",
        starts_at=MEETING_START,
        ends_at=MEETING_END,
    )
    survey = Survey(
        id=7,
        community_id=1,
        meeting_id=3 if kind == SurveyKind.SATISFACTION else None,
        kind=kind,
        opens_at=OPENED,
        closes_at=OPENED + timedelta(days=7),
        topic_choices=["Soins de plaies", "Le deuil blanc"] if kind == SurveyKind.NEEDS else [],
    )
    return survey, where, meeting


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr-CA",
            [
                "Votre avis sur la rencontre",
                "Comment s’est passée la rencontre «\u00a0Le deuil blanc\u00a0» "
                "du jeudi 12 novembre 2026",
                "Vos réponses sont anonymes",
                "à partir de 5\u00a0réponses",
                "Dans l’ensemble, êtes-vous satisfait·e de la rencontre\u00a0?",
                "Le thème était-il pertinent pour vous\u00a0?",
                "Les échanges étaient-ils de qualité\u00a0?",
                "La rencontre sera-t-elle utile à votre pratique\u00a0?",
                "La rencontre était-elle bien organisée",
                "Ce que je retiens de la rencontre",
                "Ce que j’aimerais la prochaine fois",
                "5 — Tout à fait",
                "Tapez «\u00a0répondre au sondage\u00a0»",
            ],
        ),
        (
            "en-US",
            [
                "Your feedback on the meeting",
                "How did the meeting “Le deuil blanc” on Thursday, November 12, 2026",
                "Your answers are anonymous",
                "Overall, are you satisfied with the meeting?",
                "Was the theme relevant to you?",
                "Were the exchanges of good quality?",
                "Will the meeting be useful in your practice?",
                "Was the meeting well organised",
                "What I take away from the meeting",
                "What I would like next time",
                "1 — Not at all",
                "Type “answer the survey”",
            ],
        ),
    ],
)
def test_the_satisfaction_card(locale: str, expected: list[str]) -> None:
    survey, where, meeting = _example_survey()
    card = build_survey_card(survey, community=where, meeting=meeting, k=5, locale=locale, tz=TZ)
    text = json.dumps(card, ensure_ascii=False)
    for words in expected:
        assert words in text, words
    inputs = _inputs(card)
    assert list(inputs) == [
        "rating_overall",
        "rating_relevance",
        "rating_exchanges",
        "rating_usefulness",
        "rating_organisation",
        "text_takeaway",
        "text_next_time",
        "identifies_no_client",
    ]
    assert [c["value"] for c in inputs["rating_overall"]["choices"]] == ["1", "2", "3", "4", "5"]
    assert all(inputs[f"rating_{q}"]["isRequired"] for q in surveys.SATISFACTION_RATINGS)
    assert inputs["text_takeaway"]["maxLength"] == 1000
    assert [a["data"] for a in card_actions(card)] == [{"verb": "surveys.answer", "survey_id": 7}]
    assert card["version"] == "1.5"
    assert len(text.encode()) < MAX_CARD_BYTES
    reminder = build_survey_card(
        survey, community=where, meeting=meeting, k=5, locale=locale, tz=TZ, reminder=True
    )
    assert ("Petit rappel" if locale == "fr-CA" else "A gentle reminder") in json.dumps(
        reminder, ensure_ascii=False
    )


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_needs_card(locale: str) -> None:
    survey, where, _meeting = _example_survey(SurveyKind.NEEDS)
    card = build_survey_card(survey, community=where, meeting=None, k=5, locale=locale, tz=TZ)
    inputs = _inputs(card)
    assert list(inputs) == ["choices", "text_needs", "identifies_no_client"]
    assert inputs["choices"]["isMultiSelect"] is True
    assert inputs["choices"]["choices"] == [
        {"title": "Soins de plaies", "value": "0"},
        {"title": "Le deuil blanc", "value": "1"},
    ]
    text = json.dumps(card, ensure_ascii=False)
    assert (
        "Sondage des besoins — CdeP Soins palliatifs"
        if locale == "fr-CA"
        else "Needs survey — CdeP Soins palliatifs"
    ) in text


# -- the bot glue ----------------------------------------------------------------------------------


@dataclass
class Bot(FeatureBot):
    now: datetime = OPENED + timedelta(hours=2)

    def _context(self, value: dict[str, Any] | None, channel: bool) -> TurnContext:
        return self.message(
            value, conversation_id="19:c@thread.tacv2" if channel else "a:personal", channel=channel
        )

    async def click(
        self, who: Person, value: dict[str, Any], locale: str = "fr-CA", channel: bool = False
    ) -> list[Activity]:
        handled = await press(
            self._context(value, channel),
            value,
            sessions=self.sessions,
            settings=SETTINGS,
            info=self.info(who, locale, channel),
            wake=self._wake,
            clock=lambda: self.now,
        )
        assert handled
        return self.replies()

    async def results(
        self, who: Person, *, community_id: int | None = None, channel: bool = False
    ) -> list[Activity]:
        await on_results_command(
            self._context(None, channel),
            sessions=self.sessions,
            settings=SETTINGS,
            info=self.info(who, channel=channel),
            community_id=community_id,
            wake=self._wake,
            clock=lambda: self.now,
        )
        return self.replies()

    async def needs(self, who: Person, locale: str = "fr-CA") -> list[Activity]:
        await on_needs_survey_command(
            self._context(None, False),
            sessions=self.sessions,
            settings=SETTINGS,
            info=self.info(who, locale),
            community_id=None,
            clock=lambda: self.now,
        )
        return self.replies()


def _card(activity: Activity) -> Element:
    content = activity.attachments[0].content
    assert isinstance(content, dict)
    return content


async def render(
    sessions: SessionFactory, row: OutboxMessage, *, now: datetime, locale: str = "fr-CA"
) -> Activity | None:
    return await SURVEY_RENDERERS[row.kind](render_context(sessions, row, now=now, locale=locale))


def _card_answer(survey: Survey, **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"verb": "surveys.answer", "survey_id": survey.id}
    value.update({f"rating_{q}": str(v) for q, v in EVERYTHING.items()})
    value.update({"text_takeaway": "Des pistes concrètes", "text_next_time": ""})
    value.update(changes)
    return value


async def test_answering_with_the_card_then_changing_it(
    sessions: SessionFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    s = await scene(sessions, members=2)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    bot = Bot(sessions)
    lea = s.members[0]
    invitation = next(r for r in await rows(sessions, KIND_INVITATION) if r.person_id == lea.id)
    shown = await render(sessions, invitation, now=bot.now)
    assert shown is not None
    assert "Votre avis sur la rencontre" in json.dumps(_card(shown), ensure_ascii=False)

    (thanks,) = await bot.click(lea, _card_answer(survey))
    assert text_of(thanks).startswith(
        "Merci\u00a0! Vos réponses sont enregistrées de façon anonyme."
    )
    assert "jeudi 19 novembre 2026" in text_of(thanks)
    (updated,) = await bot.click(lea, _card_answer(survey, rating_overall="2"), locale="en-US")
    assert text_of(updated).startswith("Your answers are updated (still anonymous).")
    (partial,) = await bot.click(s.members[1], _card_answer(survey, rating_usefulness=""))
    assert (
        partial.text
        == "Vos réponses ne sont pas enregistrées\u00a0: répondez aux cinq questions de 1\u00a0à 5."
    )
    (refused,) = await bot.click(s.no_consent, _card_answer(survey))
    assert refused.text == "Ce sondage ne vous est pas adressé, ou il n’existe plus."
    async with sessions() as session:
        (row,) = (await session.exec(select(SurveyResponse))).all()
    assert (row.ratings["overall"], row.texts) == (2, {"takeaway": "Des pistes concrètes"})

    # Answered: the invitation and the reminder render to nothing (the row is then cancelled).
    assert await render(sessions, invitation, now=bot.now) is None
    other = next(r for r in await rows(sessions, KIND_INVITATION) if r.person_id == s.members[1].id)
    assert await render(sessions, other, now=bot.now) is not None
    assert await render(sessions, other, now=survey.closes_at) is None
    await survey_reminders(sessions=sessions, now=OPENED + timedelta(days=3), wake=lambda: None)
    reminder = next(
        r for r in await rows(sessions, KIND_REMINDER) if r.person_id == s.members[1].id
    )
    reminded = await render(sessions, reminder, now=OPENED + timedelta(days=3), locale="en-US")
    assert reminded is not None
    assert "A gentle reminder: this survey closes on" in json.dumps(_card(reminded))

    # Nothing in the logs ties the answer to Léa: not her id, name, Teams id, nor her words.
    # The application did log (the job's counts): the check below is not vacuous.
    assert any(r.name == "bot.surveys_flow" for r in debug_logs.records)
    _assert_logs_say_nothing_of(debug_logs, lea, "Des pistes concrètes")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The bot's own logging configuration (bot/cli.py) at DEBUG: every application logger
    speaks; the drivers, which would print SQL parameters of every feature, stay quiet."""
    names = list(logging.root.manager.loggerDict)
    before = {name: logging.getLogger(name).level for name in names}
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def _assert_logs_say_nothing_of(caplog: pytest.LogCaptureFixture, who: Person, words: str) -> None:
    ours = ("storage.surveys", "bot.surveys_flow", "dialogs.survey_dialog")
    for record in caplog.records:
        message = record.getMessage()
        for secret in (words, who.name or "?", who.teams_user_id):
            assert secret not in message, (record.name, message)
        if record.name in ours:
            assert who.id not in (record.args or ()), (record.name, message)
            assert f"person {who.id}" not in message


async def test_results_for_animators_only_and_privately_in_a_channel(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, members=5)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    bot = Bot(sessions)
    for who in s.members:
        await bot.click(who, _card_answer(survey, text_takeaway=f"Retenu par {who.name}"))
    bot.replies()
    (while_open,) = await bot.results(s.animator)
    assert "Les résultats s’afficheront à la fermeture du sondage" in json.dumps(
        _card(while_open), ensure_ascii=False
    )

    bot.now = survey.closes_at
    (card_reply,) = await bot.results(s.animator)
    card = _card(card_reply)
    text = json.dumps(card, ensure_ascii=False)
    assert (
        "Résultats — la rencontre «\u00a0Rencontre d’automne\u00a0» du jeudi 12 novembre 2026"
        in text
    )
    assert "Moyenne\u00a0: 4,0\u00a0sur 5 (5\u00a0réponses)" in text
    assert "5 (83\u00a0%)" in text  # 5 answers of 6 invited
    # The comments' words are there (written to be read), but no respondent is named, and no
    # person id appears anywhere in the card.
    for who in [s.animator, *s.members]:
        assert f'"{who.id}"' not in text
        assert f": {who.id}," not in text
    assert all("person" not in json.dumps(a["data"]) for a in card_actions(card))

    (refused,) = await bot.results(s.members[0])
    assert text_of(refused).startswith("Seul·e·s les animateur·rice·s d’une communauté")
    (told,) = await bot.results(s.animator, community_id=_id(s.where), channel=True)
    assert told.text == "Je vous envoie les résultats en privé."
    (queued,) = await rows(sessions, KIND_RESULTS)
    assert (queued.person_id, queued.params) == (s.animator.id, {"survey_id": survey.id})
    assert await render(sessions, queued, now=bot.now) is not None
    as_member = OutboxMessage(
        id=99,
        dedup_key="k",
        kind=KIND_RESULTS,
        params={"survey_id": survey.id},
        person_id=s.members[0].id,
        not_before=bot.now,
    )
    assert await render(sessions, as_member, now=bot.now) is None


async def test_launching_a_needs_survey_and_adding_a_suggestion(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=3)
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        session.add(Topic(community_id=_id(s.where), title="Le deuil blanc"))
    (preview,) = await bot.needs(s.animator)
    card = _card(preview)
    text = json.dumps(card, ensure_ascii=False)
    assert "Sondage des besoins — CdeP Soins palliatifs" in text
    assert "• Le deuil blanc" in text
    (start,) = card_actions(card)
    assert start["data"] == {"verb": "surveys.needs.start", "community_id": s.where.id}
    (refused,) = await bot.click(s.members[0], start["data"])
    assert text_of(refused).startswith("Seul·e·s les animateur·rice·s")

    (started,) = await bot.click(s.animator, start["data"], locale="en-US")
    assert text_of(started).startswith("Needs survey launched: 5 members receive it. It closes on")
    assert bot.wakes == 1
    invitations = await rows(sessions, KIND_INVITATION)
    assert len(invitations) == 5
    (again,) = await bot.needs(s.animator)
    assert text_of(again).startswith("Un sondage des besoins est déjà en cours")

    survey = await the_survey(sessions)
    shown = await render(sessions, invitations[0], now=bot.now)
    assert shown is not None
    for who in [s.animator, *s.members, s.declined]:
        await bot.click(
            who,
            {
                "verb": "surveys.answer",
                "survey_id": survey.id,
                "choices": "0",
                "text_needs": "Gestion du stress",
            },
        )
    (bad,) = await bot.click(
        s.members[0], {"verb": "surveys.answer", "survey_id": survey.id, "choices": "0,7"}
    )
    assert text_of(bad).endswith("un des sujets choisis ne fait pas partie du sondage.")
    bot.now = survey.closes_at
    (results,) = await bot.results(s.animator)
    add = next(a for a in card_actions(_card(results)) if a["data"]["verb"] == "surveys.topic")
    (added,) = await bot.click(s.animator, add["data"])
    assert (
        added.text == "«\u00a0Gestion du stress\u00a0» est maintenant dans la banque de sujets "
        "(statut\u00a0: proposé)."
    )
    (twice,) = await bot.click(s.animator, add["data"])
    assert twice.text == "«\u00a0Gestion du stress\u00a0» est déjà dans la banque de sujets."


@pytest.mark.parametrize(
    "forged",
    [
        {"verb": "surveys.answer", "survey_id": "99999999999999999999999"},
        {"verb": "surveys.answer", "survey_id": -3},
        {"verb": "surveys.answer", "survey_id": True},
        {"verb": "surveys.answer", "survey_id": 999_999, "rating_overall": "5"},
        {"verb": "surveys.topic", "survey_id": 2**40, "text": "x"},
        {"verb": "surveys.topic", "survey_id": 1, "text": ["not", "text"]},
        {"verb": "surveys.needs.start", "community_id": "1e9"},
        {"verb": "surveys.needs.preview", "community_id": 10**30},
        {"verb": "surveys.learning.start", "community_id": "1e9"},
        {"verb": "surveys.learning.start", "community_id": 1},  # a member, not an animator
        {"verb": "surveys.learning.preview", "community_id": -1},
        {"verb": "surveys.results", "survey_id": 10**30},
    ],
)
async def test_forged_card_data_is_refused_without_failing(
    sessions: SessionFactory, forged: dict[str, Any]
) -> None:
    s = await scene(sessions, members=1)
    bot = Bot(sessions)
    replies = await bot.click(s.members[0], forged)
    assert replies
    assert all(r.text for r in replies)
    async with sessions() as session:
        assert (await session.exec(select(SurveyResponse))).all() == []
        assert (await session.exec(select(Survey))).all() == []


def test_unknown_verbs_are_not_taken() -> None:
    # Another feature's verb is not ours: the host routes it elsewhere.
    assert "polls.vote" not in SURVEYS.verbs


# -- the dialog ------------------------------------------------------------------------------------


@dataclass
class Dialog(DialogChat):
    """The survey dialog alone, turn by turn, its state in the bot's SQL storage."""

    now: datetime = OPENED + timedelta(hours=2)

    def dialog(self) -> SurveyDialog:
        return SurveyDialog(self.sessions, lambda: MASTER, clock=lambda: self.now)


async def test_the_dialog_in_french(
    sessions: SessionFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    s = await scene(sessions, members=1)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    lea = s.members[0]
    chat = Dialog(sessions, lea)

    replies = await chat.say("répondre au sondage")
    assert replies[0].startswith(
        "Votre avis sur la rencontre «\u00a0Rencontre d’automne\u00a0» du jeudi 12 novembre 2026 "
        "(CdeP Soins palliatifs). Vos réponses sont anonymes."
    )
    assert replies[1].startswith("Dans l’ensemble, êtes-vous satisfait·e de la rencontre\u00a0?")
    assert "[5 — Tout à fait]" in replies[1]
    (retry,) = await chat.say("7")
    assert retry.startswith("Répondez par un chiffre de 1 (pas du tout) à 5 (tout à fait).")
    (relevance,) = await chat.say("4")
    assert relevance.startswith("Le thème était-il pertinent pour vous\u00a0?")
    (exchanges,) = await chat.say("cinq")
    assert exchanges.startswith("Les échanges étaient-ils de qualité\u00a0?")
    (usefulness,) = await chat.say("3 — Moyennement")
    assert usefulness.startswith("La rencontre sera-t-elle utile à votre pratique\u00a0?")
    (organisation,) = await chat.say("4")
    assert organisation.startswith("La rencontre était-elle bien organisée")
    (takeaway,) = await chat.say("5")
    assert takeaway == (
        "Ce que je retiens de la rencontre\n\nTapez «\u00a0passer\u00a0» pour laisser vide."
    )
    (too_long,) = await chat.say("x" * 1001)
    assert too_long.startswith("Votre réponse doit compter 1000\u00a0caractères au plus.")
    (next_time,) = await chat.say("Le partage de cas")
    assert next_time.startswith("Ce que j’aimerais la prochaine fois")
    (summary,) = await chat.say("passer")
    assert summary.startswith(
        "Voici vos réponses sur la rencontre «\u00a0Rencontre d’automne\u00a0» "
        "du jeudi 12 novembre "
        "2026\u00a0:\n\n"
        "- Satisfaction générale\u00a0: 4\u00a0sur 5\n"
        "- Pertinence du thème\u00a0: 5\u00a0sur 5\n"
        "- Qualité des échanges\u00a0: 3\u00a0sur 5\n"
        "- Utilité pour ma pratique\u00a0: 4\u00a0sur 5\n"
        "- Organisation\u00a0: 5\u00a0sur 5\n"
        "- Ce que je retiens de la rencontre\u00a0: Le partage de cas\n"
        "- Ce que j’aimerais la prochaine fois\u00a0: (aucune)\n\n"
        "Les envoyer\u00a0?"
    )
    (thanks,) = await chat.say("Envoyer")
    assert thanks.startswith("Merci\u00a0! Vos réponses sont enregistrées de façon anonyme.")
    assert chat.result == survey.id
    async with sessions() as session:
        (row,) = (await session.exec(select(SurveyResponse))).all()
    assert row.ratings == {
        "overall": 4,
        "relevance": 5,
        "exchanges": 3,
        "usefulness": 4,
        "organisation": 5,
    }
    assert row.texts == {"takeaway": "Le partage de cas"}

    # Again: the dialog says the new answers replace the old; « annuler » saves nothing.
    replies = await chat.say("répondre au sondage")
    assert (
        replies[1]
        == "Vous avez déjà répondu\u00a0: vos nouvelles réponses remplaceront les précédentes."
    )
    (cancelled,) = await chat.say("annuler")
    assert cancelled == "D’accord, j’ai tout annulé. Rien n’a été enregistré."
    async with sessions() as session:
        (same,) = (await session.exec(select(SurveyResponse))).all()
    assert same.ratings["overall"] == 4
    _assert_logs_say_nothing_of(debug_logs, lea, "Le partage de cas")


async def test_a_needs_survey_closes_at_the_end_of_its_last_day(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=2)
    # Launched at 04 h 04 in Montréal (daylight time): it stays open until that day's evening,
    # 14 days later, not until 04 h 04.
    bot = Bot(sessions, now=datetime(2026, 6, 1, 8, 4, tzinfo=UTC))
    (preview,) = await bot.needs(s.animator)
    assert "15 juin 2026 à 23\xa0h\xa059" in json.dumps(_card(preview), ensure_ascii=False)
    (start,) = card_actions(_card(preview))
    (started,) = await bot.click(s.animator, start["data"])
    assert "23\xa0h\xa059" in text_of(started)
    assert "4\xa0h\xa004" not in text_of(started)
    survey = await the_survey(sessions)
    closes = survey.closes_at.replace(tzinfo=survey.closes_at.tzinfo or UTC)
    assert closes.astimezone(ZoneInfo(TZ)) == datetime(2026, 6, 15, 23, 59, tzinfo=ZoneInfo(TZ))


async def test_the_dialog_in_english_for_a_needs_survey_among_two(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=1)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    async with transaction(sessions) as session:
        for title in ("Wound care", "Grief"):
            session.add(Topic(community_id=_id(s.where), title=title))
    async with transaction(sessions) as session:
        needs, _ = await surveys.open_needs_survey(
            session, community_id=_id(s.where), by_person_id=_id(s.animator), now=OPENED, tz=TZ
        )
    chat = Dialog(sessions, s.members[0], locale="en-US")
    (which,) = await chat.say("answer the survey")
    assert which.startswith("Which survey would you like to answer?")
    assert "[the needs survey of Thursday, November 12, 2026 — CdeP Soins palliatifs]" in which
    replies = await chat.say(
        "the needs survey of Thursday, November 12, 2026 — CdeP Soins palliatifs"
    )
    assert replies[0].startswith("Needs survey of CdeP Soins palliatifs. Your answers are")
    assert replies[1] == (
        "Which topics of the bank would you like to see covered? Type their numbers separated "
        "by commas (for example “1, 3”), or “skip”.\n\n1. Wound care\n2. Grief"
    )
    (retry,) = await chat.say("4")
    assert retry.startswith("I didn’t recognise these topics.")
    (ask_needs,) = await chat.say("1, 2")
    assert ask_needs.startswith("Your training needs or other topics you would like (one per line)")
    (summary,) = await chat.say("Motivational interviewing")
    assert summary.startswith(
        "Here are your answers on the needs survey of Thursday, November 12, 2026:\n\n"
        "- Topics chosen: Wound care, Grief\n"
        "- Your training needs or other topics you would like (one per line): "
        "Motivational interviewing"
    )
    (thanks,) = await chat.say("Send")
    assert thanks.startswith("Thank you! Your answers are saved anonymously.")
    async with sessions() as session:
        (row,) = (
            await session.exec(select(SurveyResponse).where(SurveyResponse.survey_id == needs.id))
        ).all()
    assert (row.choices, row.texts) == (
        ["Wound care", "Grief"],
        {"needs": "Motivational interviewing"},
    )


async def test_the_dialog_with_nothing_to_answer_or_in_a_channel(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, members=1)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    in_channel = Dialog(sessions, s.members[0], in_channel=True)
    assert await in_channel.say("répondre au sondage") == [
        "Pour préserver votre anonymat, répondez au sondage dans notre conversation privée\u00a0: "
        "écrivez-moi «\u00a0répondre au sondage\u00a0» en privé."
    ]
    chat = Dialog(sessions, s.no_consent, locale="en-US")
    assert await chat.say("answer the survey") == [
        "You have no survey to answer right now. Thanks for your interest!"
    ]
    french = Dialog(sessions, s.no_consent)
    assert await french.say("répondre au sondage") == [
        "Vous n’avez aucun sondage à remplir en ce moment. Merci de votre intérêt\u00a0!"
    ]


async def test_a_survey_that_closes_during_the_dialog_is_not_saved(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, members=1)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    chat = Dialog(sessions, s.members[0])
    await chat.say("répondre au sondage")
    for rating in ("4", "4", "4", "4", "4", "passer", "passer"):
        await chat.say(rating)
    chat.now = survey.closes_at
    (closed,) = await chat.say("Envoyer")
    assert closed.startswith("Ce sondage est fermé")
    async with sessions() as session:
        assert (await session.exec(select(SurveyResponse))).all() == []
        invitation = (
            await session.exec(
                select(SurveyInvitation).where(SurveyInvitation.person_id == s.members[0].id)
            )
        ).one()
    assert invitation.answered is False


def test_long_results_stay_under_the_teams_limit() -> None:
    survey, where, meeting = _example_survey()
    long = ["é" * 1000 for _ in range(80)]
    results = surveys.SurveyResults(
        survey=survey,
        community=where,
        meeting=meeting,
        invited=120,
        responses=80,
        k=5,
        closed=True,
        ratings=tuple(
            surveys.RatingResult(q, 80, 4.1, surveys.distribution({5: 40, 4: 30, 3: 10}))
            for q in surveys.SATISFACTION_RATINGS
        ),
        comments={"takeaway": tuple(long), "next_time": tuple(long)},
    )
    card = build_results_card(results, locale="fr-CA", tz=TZ)
    text = json.dumps(card, ensure_ascii=False)
    assert len(text.encode()) < MAX_CARD_BYTES
    assert "… et 73\u00a0autres réponses non affichées." in text  # 7 of 801 bytes fit in 6000

    needs, where, _ = _example_survey(SurveyKind.NEEDS)
    suggestions = tuple(surveys.Suggestion(f"{n} " + "è" * 1000, False) for n in range(40))
    card = build_results_card(
        surveys.SurveyResults(
            survey=needs,
            community=where,
            meeting=None,
            invited=120,
            responses=80,
            k=5,
            closed=True,
            choices=tuple(surveys.ChoiceCount("T" * 120, 9) for _ in range(12)),
            suggestions=suggestions,
        ),
        locale="en-US",
        tz=TZ,
    )
    text = json.dumps(card, ensure_ascii=False)
    assert len(text.encode()) < MAX_CARD_BYTES
    assert all(len(a["data"]["text"]) <= 120 for a in card_actions(card) if "text" in a["data"])


# -- client identifiers in the open answers (issue 15) -------------------------------------------


async def _stored_texts(sessions: SessionFactory) -> list[dict[str, str]]:
    async with sessions() as session:
        return [row.texts for row in (await session.exec(select(SurveyResponse))).all()]


async def test_storage_refuses_a_comment_that_identifies_a_client(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=3)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    with pytest.raises(HasIdentifiers) as phone:
        await answer(
            sessions, s.members[0], survey, EVERYTHING, {"takeaway": "Appelez 514 555-1234"}
        )
    assert phone.value.kinds == (IdentifierKind.PHONE,)
    # A forged confirmation covers names only, never a phone number.
    async with transaction(sessions) as session:
        with pytest.raises(HasIdentifiers):
            await surveys.record_response(
                session,
                survey_id=_id(survey),
                person_id=_id(s.members[0]),
                key=surveys.respondent_secret(MASTER),
                answer=Answer(
                    ratings=EVERYTHING,
                    texts={"next_time": "Écrire à lea@example.org"},
                    confirmed=["name", "email", "phone"],
                ),
                now=OPENED + timedelta(hours=1),
            )
    assert await _stored_texts(sessions) == []
    # A name alone is refused until confirmed; a professional's title is no client.
    thanks = "Merci à Julie pour l’animation"
    with pytest.raises(HasIdentifiers) as name:
        await answer(sessions, s.members[0], survey, EVERYTHING, {"takeaway": thanks})
    assert name.value.kinds == (IdentifierKind.NAME,)
    async with transaction(sessions) as session:
        await surveys.record_response(
            session,
            survey_id=_id(survey),
            person_id=_id(s.members[0]),
            key=surveys.respondent_secret(MASTER),
            answer=Answer(ratings=EVERYTHING, texts={"takeaway": thanks}, confirmed=["name"]),
            now=OPENED + timedelta(hours=1),
        )
    await answer(sessions, s.members[1], survey, EVERYTHING, {"takeaway": "Merci à Dre Roy"})
    await answer(sessions, s.members[2], survey, EVERYTHING, {"takeaway": "Des pistes concrètes"})
    assert sorted(t["takeaway"] for t in await _stored_texts(sessions)) == sorted(
        [thanks, "Merci à Dre Roy", "Des pistes concrètes"]
    )


async def test_the_card_refuses_identifiers_and_takes_names_once_confirmed(
    sessions: SessionFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    s = await scene(sessions, members=2)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    bot = Bot(sessions)
    lea = s.members[0]

    (phone,) = await bot.click(lea, _card_answer(survey, text_next_time="Rappeler le 514 555-1234"))
    assert phone.text == (
        "Vos réponses semblent contenir un numéro de téléphone. Rien n’est encore "
        "enregistré\u00a0: retirez ces renseignements, puis envoyez de nouveau."
    )
    # The toggle vouches for names, not for a phone number.
    (still,) = await bot.click(
        lea,
        _card_answer(survey, text_next_time="Call 514 555-1234", identifies_no_client="true"),
        locale="en-US",
    )
    assert still.text == (
        "Your answers seem to contain a phone number. Nothing is saved yet: remove these "
        "details, then send again."
    )
    assert await _stored_texts(sessions) == []

    julie = "Merci à Julie pour l’animation"
    (names,) = await bot.click(lea, _card_answer(survey, text_takeaway=julie))
    assert text_of(names).startswith(
        "Vos réponses semblent contenir un nom de personne. Rien n’est encore enregistré. "
    )
    assert "cochez «\u00a0Mes réponses n’identifient aucune personne usagère\u00a0»" in text_of(
        names
    )
    (english,) = await bot.click(
        s.members[1], _card_answer(survey, text_takeaway="Thanks to Julie"), locale="en-US"
    )
    assert "tick “My answers identify no client” on the card" in text_of(english)
    assert await _stored_texts(sessions) == []

    (thanks,) = await bot.click(
        lea, _card_answer(survey, text_takeaway=julie, identifies_no_client="true")
    )
    assert text_of(thanks).startswith("Merci\u00a0! Vos réponses sont enregistrées")
    (clean,) = await bot.click(s.members[1], _card_answer(survey), locale="en-US")
    assert text_of(clean).startswith("Thank you! Your answers are saved anonymously.")
    assert sorted(t["takeaway"] for t in await _stored_texts(sessions)) == sorted(
        [julie, "Des pistes concrètes"]
    )
    # Anonymous: nothing logged says whose text was flagged, nor the text.
    _assert_logs_say_nothing_of(debug_logs, lea, "555-1234")
    _assert_logs_say_nothing_of(debug_logs, lea, "Julie")


async def _to_the_comments(chat: Dialog) -> None:
    await chat.say("répondre au sondage" if chat.locale.startswith("fr") else "answer the survey")
    for rating in ("4", "4", "4", "4", "4"):
        await chat.say(rating)


async def test_the_dialog_refuses_identifiers_and_asks_about_names_in_french(
    sessions: SessionFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    s = await scene(sessions, members=1)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    lea = s.members[0]
    chat = Dialog(sessions, lea)
    await _to_the_comments(chat)

    (refused,) = await chat.say("Rappeler Mme X au 514 555-1234")
    assert refused == (
        "Votre réponse semble contenir un numéro de téléphone. Les animatrices et animateurs "
        "lisent ces réponses\u00a0: retirez ces renseignements, puis écrivez votre réponse de "
        "nouveau (ou «\u00a0passer\u00a0»)."
    )
    (names,) = await chat.say("Merci à Julie pour l’animation")
    assert names.startswith(
        "Votre réponse semble contenir un nom de personne\u00a0: «\u00a0Julie\u00a0». "
    )
    assert "[Récrire ma réponse]" in names
    assert "[Il n’identifie personne]" in names
    (again,) = await chat.say("Récrire ma réponse")
    assert again.startswith("Ce que je retiens de la rencontre")
    await chat.say("Merci à Julie pour l’animation")
    (next_time,) = await chat.say("Il n’identifie personne")
    assert next_time.startswith("Ce que j’aimerais la prochaine fois")
    (summary,) = await chat.say("Plus de temps d’échange")
    assert "- Ce que je retiens de la rencontre\u00a0: Merci à Julie pour l’animation" in summary
    (thanks,) = await chat.say("Envoyer")
    assert thanks.startswith("Merci\u00a0! Vos réponses sont enregistrées")
    assert await _stored_texts(sessions) == [
        {"takeaway": "Merci à Julie pour l’animation", "next_time": "Plus de temps d’échange"}
    ]
    _assert_logs_say_nothing_of(debug_logs, lea, "Julie")


async def test_the_dialog_refuses_identifiers_in_english(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=1)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    chat = Dialog(sessions, s.members[0], locale="en-US")
    await _to_the_comments(chat)

    (refused,) = await chat.say("Write to lea@example.org")
    assert refused == (
        "Your answer seems to contain an e-mail address. Facilitators read these answers: "
        "remove these details, then write your answer again (or “skip”)."
    )
    (names,) = await chat.say("Thanks to Julie for hosting")
    assert names.startswith("Your answer seems to contain a person’s name: “Julie”.")
    (next_time,) = await chat.say("It identifies no one")
    assert next_time.startswith("What I would like next time")
    (summary,) = await chat.say("More case studies")
    assert "More case studies" in summary
    (thanks,) = await chat.say("Send")
    assert thanks.startswith("Thank you! Your answers are saved anonymously.")
    assert await _stored_texts(sessions) == [
        {"takeaway": "Thanks to Julie for hosting", "next_time": "More case studies"}
    ]
