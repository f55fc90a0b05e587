"""The effectiveness axis: a meeting's specific objectives as items of its satisfaction survey
(« cet objectif a été atteint », 1–5), the yearly learning questionnaire (« ce qui a changé
dans ma pratique »), and what the annual review takes from both.

Each promise is attacked: objectives copied when the survey opens (an edit of the meeting moves
no answer), at most five, none for a meeting without any; one answer per person; a rating out of
1–5 or missing refused with a message in the person's language; nothing but the count while a
survey is open; nothing below k, even in the annual review; distributions in detail or in
bands by the cell rule; texts screened for client identifiers."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient, TestServer
from pypdf import PdfReader
from sqlmodel import col, select

from bot.app import create_app
from bot.surveys_flow import open_due_surveys, open_yearly_learning_surveys
from cards.common import MAX_CARD_BYTES, card_bytes
from cards.review import build_review_card, review_sections
from cards.review_pdf import build_review_pdf
from cards.surveys import build_learning_preview_card, build_results_card, build_survey_card
from storage import review, surveys
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import (
    Community,
    Meeting,
    OutboxMessage,
    Survey,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
)
from storage.surveys import (
    KIND_INVITATION,
    LEARNING_RATINGS,
    MAX_OBJECTIVE_LENGTH,
    SATISFACTION_RATINGS,
    AlreadyOpen,
    Cell,
    InvalidAnswer,
)
from tests import factories
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.test_anonymity import World, build_world
from tests.test_communities import card_text
from tests.test_surveys import (
    EVERYTHING,
    MEETING_START,
    OPENED,
    TZ,
    Dialog,
    _id,
    answer,
    scene,
    the_survey,
)

OBJECTIVES = ["Connaître les ressources en deuil", "Repérer les signes de détresse"]
BOTH = {"objective_1": 4, "objective_2": 5}


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def with_objectives(
    sessions: SessionFactory, meeting: Meeting, objectives: list[str]
) -> None:
    async with transaction(sessions) as session:
        row = await session.get(Meeting, _id(meeting))
        assert row is not None
        row.specific_objectives = objectives


async def response_rows(sessions: SessionFactory, survey_id: int) -> list[SurveyResponse]:
    async with sessions() as session:
        return list(
            (
                await session.exec(
                    select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)
                )
            ).all()
        )


# -- objective items: what the survey asks ----------------------------------------------------


async def test_objectives_are_copied_when_the_survey_opens_and_capped_at_five(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=2)
    long = "x" * (MAX_OBJECTIVE_LENGTH + 50)
    await with_objectives(
        sessions,
        s.meeting,
        ["  Connaître   les ressources ", "", "   ", long, "Trois", "Quatre", "Cinq", "Six"],
    )
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    cut = "x" * (MAX_OBJECTIVE_LENGTH - 1) + "…"
    assert survey.objectives == ["Connaître les ressources", cut, "Trois", "Quatre", "Cinq"]
    assert surveys.rating_questions(survey) == SATISFACTION_RATINGS + tuple(
        f"objective_{n}" for n in range(1, 6)
    )

    # The meeting is edited afterwards: the survey asks what it asked, and answers stay with
    # the objective they were about.
    await answer(
        sessions,
        s.members[0],
        survey,
        {**EVERYTHING, **dict.fromkeys([f"objective_{n}" for n in range(1, 6)], 4)},
    )
    await with_objectives(sessions, s.meeting, ["Autre chose entièrement"])
    await open_due_surveys(sessions=sessions, now=OPENED + timedelta(hours=1), wake=lambda: None)
    again = await the_survey(sessions)
    assert again.objectives == survey.objectives
    assert surveys.objective_text(again, "objective_1") == "Connaître les ressources"
    assert surveys.objective_text(again, "objective_6") is None
    assert surveys.objective_text(again, "overall") is None


async def test_a_meeting_without_objectives_changes_nothing(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=2)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    assert survey.objectives == []
    assert surveys.rating_questions(survey) == SATISFACTION_RATINGS
    assert await answer(sessions, s.members[0], survey, EVERYTHING) is False
    # A rating of an objective the survey does not have is not quietly dropped.
    with pytest.raises(InvalidAnswer, match="invalid_rating"):
        await answer(sessions, s.members[1], survey, {**EVERYTHING, "objective_1": 4})
    where = Community(id=1, name="CdeP Soins palliatifs")
    card = build_survey_card(survey, community=where, meeting=s.meeting, k=5, locale="fr-CA", tz=TZ)
    text = json.dumps(card, ensure_ascii=False)
    assert "objectif" not in text.casefold()
    assert "Cinq questions rapides, puis deux questions ouvertes" in text


async def test_objective_items_are_required_from_1_to_5_and_one_answer_per_person(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=2)
    await with_objectives(sessions, s.meeting, OBJECTIVES)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    lea = s.members[0]
    for wrong, reason in (
        (EVERYTHING, "missing_objective"),
        ({**EVERYTHING, "objective_1": 4}, "missing_objective"),
        ({**EVERYTHING, **BOTH, "objective_2": 6}, "invalid_rating"),
        ({**EVERYTHING, **BOTH, "objective_1": 0}, "invalid_rating"),
        ({**EVERYTHING, **BOTH, "objective_1": True}, "invalid_rating"),
        ({**EVERYTHING, **BOTH, "objective_3": 4}, "invalid_rating"),
    ):
        with pytest.raises(InvalidAnswer, match=reason):
            await answer(sessions, lea, survey, wrong)
    assert await response_rows(sessions, _id(survey)) == []

    # Sent twice (a double click, a retry): one answer, the second replacing the first.
    assert await answer(sessions, lea, survey, {**EVERYTHING, **BOTH}) is False
    assert await answer(sessions, lea, survey, {**EVERYTHING, **BOTH, "objective_1": 2}) is True
    (row,) = await response_rows(sessions, _id(survey))
    assert row.ratings == {**EVERYTHING, "objective_1": 2, "objective_2": 5}


async def test_objective_results_follow_the_k_and_cell_rules(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=6)
    await with_objectives(sessions, s.meeting, OBJECTIVES)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    first = (5, 5, 5, 4, 4)
    for who, rating in zip(s.members[:4], first, strict=False):
        await answer(sessions, who, survey, {**EVERYTHING, "objective_1": rating, "objective_2": 5})

    async def read(now: datetime) -> surveys.SurveyResults:
        async with sessions() as session:
            return await surveys.results(session, survey_id=_id(survey), now=now)

    # Four answers, k = 5: open, only the count; closed, still nothing.
    for now in (OPENED + timedelta(days=1), survey.closes_at):
        below = await read(now)
        assert (below.responses, below.shown, below.ratings, dict(below.comments)) == (
            4,
            False,
            (),
            {},
        )
        shown = card_text(build_results_card(below, locale="fr-CA", tz=TZ))
        assert "Moyenne" not in shown
        assert "Objectif atteint" not in shown

    await answer(
        sessions,
        s.members[4],
        survey,
        {**EVERYTHING, "objective_1": first[4], "objective_2": 5},
        now=OPENED + timedelta(days=2),
    )
    # Five answers but still open: reading now and at closing must not differ by one answer.
    assert (await read(OPENED + timedelta(days=3))).ratings == ()
    closed = await read(survey.closes_at)
    assert closed.shown
    by_question = {r.question: r for r in closed.ratings}
    assert list(by_question) == [*SATISFACTION_RATINGS, "objective_1", "objective_2"]
    one, two = by_question["objective_1"], by_question["objective_2"]
    assert one.average == pytest.approx(4.6)
    # 5 ×3 and 4 ×2: a cell of two would single people out → bands (4–5: five).
    assert one.banded
    assert one.cells == (Cell(1, 2, 0), Cell(3, 3, 0), Cell(4, 5, 5))
    assert (two.average, two.banded, two.cells[-1]) == (5.0, False, Cell(5, 5, 5))

    fr = card_text(build_results_card(closed, locale="fr-CA", tz=TZ))
    assert "Objectifs de la rencontre" in fr
    assert "Objectif atteint\u00a0: «\u00a0Connaître les ressources en deuil\u00a0»" in fr
    assert "Moyenne\u00a0: 4,6\u00a0sur 5 (5\u00a0réponses)" in fr
    assert "4–5 — Beaucoup ou tout à fait" in fr
    en = card_text(build_results_card(closed, locale="en-US", tz=TZ))
    assert "Objective reached: “Repérer les signes de détresse”" in en


@pytest.mark.parametrize(
    ("locale", "label", "intro"),
    [
        (
            "fr-CA",
            "Cet objectif a été atteint\u00a0: «\u00a0Connaître les ressources en deuil\u00a0»",
            "Cinq questions rapides, 2\u00a0objectifs de la rencontre à évaluer",
        ),
        (
            "en-US",
            "This objective was reached: “Connaître les ressources en deuil”",
            "Five quick questions, 2 meeting objectives to rate",
        ),
    ],
)
def test_the_survey_card_asks_about_each_objective(locale: str, label: str, intro: str) -> None:
    where = Community(id=1, name="CdeP Soins palliatifs")
    meeting = Meeting(
        id=2, community_id=1, title="Rencontre", starts_at=MEETING_START, ends_at=MEETING_START
    )
    survey = Survey(
        id=3,
        community_id=1,
        meeting_id=2,
        kind=SurveyKind.SATISFACTION,
        opens_at=OPENED,
        closes_at=OPENED + timedelta(days=7),
        objectives=OBJECTIVES,
    )
    card = build_survey_card(survey, community=where, meeting=meeting, k=5, locale=locale, tz=TZ)
    inputs = [block for block in card["body"] if str(block.get("type", "")).startswith("Input.")]
    ids = [block["id"] for block in inputs]
    assert ids[5:8] == ["rating_objective_1", "rating_objective_2", "text_takeaway"]
    assert inputs[5]["label"] == label
    assert inputs[5]["isRequired"] is True
    assert [c["value"] for c in inputs[5]["choices"]] == ["1", "2", "3", "4", "5"]
    assert intro in card_text(card)

    # Five long objectives, on the questionnaire and on the results: under Teams' limit.
    many = Survey(**{**survey.model_dump(), "objectives": ["é" * MAX_OBJECTIVE_LENGTH] * 5})
    big = build_survey_card(many, community=where, meeting=meeting, k=5, locale=locale, tz=TZ)
    assert card_bytes(big) < MAX_CARD_BYTES
    cells = tuple(Cell(n, n, 10) for n in range(1, 6))
    full = surveys.SurveyResults(
        survey=many,
        community=where,
        meeting=meeting,
        invited=60,
        responses=50,
        k=5,
        closed=True,
        ratings=tuple(
            surveys.RatingResult(q, 50, 3.0, cells) for q in surveys.rating_questions(many)
        ),
        comments={q: ("Un long commentaire. " * 50,) * 50 for q in ("takeaway", "next_time")},
    )
    results = build_results_card(full, locale=locale, tz=TZ)
    assert card_bytes(results) < MAX_CARD_BYTES
    assert card_text(results).count("é" * MAX_OBJECTIVE_LENGTH) == 5


# -- the learning questionnaire --------------------------------------------------------------


LEARNED = {"knowledge": 5, "practice": 4, "confidence": 4, "network": 3}


async def test_the_learning_questionnaire_is_anonymous_and_follows_k(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=6)
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await surveys.open_learning_survey(
                session,
                community_id=_id(s.where),
                by_person_id=_id(s.members[0]),
                now=OPENED,
                tz=TZ,
            )
    async with transaction(sessions) as session:
        learning, invited = await surveys.open_learning_survey(
            session, community_id=_id(s.where), by_person_id=_id(s.animator), now=OPENED, tz=TZ
        )
    # Consenting members still in the community (not the one who refused surveys, not the one
    # who left).
    assert sorted(invited) == sorted(_id(p) for p in [s.animator, *s.members, s.declined])
    assert (learning.kind, learning.topic_choices, learning.objectives) == ("learning", [], [])
    with pytest.raises(AlreadyOpen):
        async with transaction(sessions) as session:
            await surveys.open_learning_survey(
                session, community_id=_id(s.where), by_person_id=_id(s.animator), now=OPENED, tz=TZ
            )

    lea = s.members[0]
    for wrong, reason in (
        ({k: v for k, v in LEARNED.items() if k != "network"}, "missing_answer"),
        ({**LEARNED, "network": 7}, "invalid_rating"),
        ({**LEARNED, "overall": 4}, "invalid_rating"),
    ):
        with pytest.raises(InvalidAnswer, match=reason):
            await answer(sessions, lea, learning, wrong)
    # What changed is screened like every text others read: a file number is refused.
    with pytest.raises(HasIdentifiers):
        await answer(
            sessions, lea, learning, LEARNED, {"practice_change": "Mme Tremblay, dossier 1234567"}
        )
    assert await response_rows(sessions, _id(learning)) == []

    changes = ["J’ose référer plus tôt", "Je connais les ressources", "Des collègues à appeler"]
    for who, text in zip(s.members[:4], [*changes, ""], strict=True):
        await answer(sessions, who, learning, LEARNED, {"practice_change": text})
    # Sent twice: one answer.
    assert await answer(sessions, s.members[3], learning, LEARNED, {}) is True

    async def read(now: datetime) -> surveys.SurveyResults:
        async with sessions() as session:
            return await surveys.results(session, survey_id=_id(learning), now=now)

    below = await read(learning.closes_at)
    assert (below.responses, below.shown, below.ratings) == (4, False, ())
    await answer(sessions, s.members[4], learning, {**LEARNED, "knowledge": 3})
    assert (await read(learning.closes_at - timedelta(seconds=1))).ratings == ()
    shown = await read(learning.closes_at)
    assert [r.question for r in shown.ratings] == list(LEARNING_RATINGS)
    assert shown.ratings[0].average == pytest.approx(4.6)
    # Alphabetical, whoever wrote first.
    assert shown.comments["practice_change"] == tuple(sorted(changes, key=surveys.comparable))
    fr = card_text(build_results_card(shown, locale="fr-CA", tz=TZ))
    assert "Résultats — le questionnaire sur les apprentissages du jeudi 12 novembre 2026" in fr
    assert "Nouvelles connaissances" in fr
    assert "J’ose référer plus tôt" in fr
    en = card_text(build_results_card(shown, locale="en-US", tz=TZ))
    assert "What changed in my practice (optional, naming no client)" in en


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_learning_card_and_its_preview(locale: str) -> None:
    where = Community(id=1, name="CdeP Soins palliatifs")
    survey = Survey(
        id=4,
        community_id=1,
        kind=SurveyKind.LEARNING,
        opens_at=OPENED,
        closes_at=OPENED + timedelta(days=14),
    )
    card = build_survey_card(survey, community=where, meeting=None, k=5, locale=locale, tz=TZ)
    ids = [b["id"] for b in card["body"] if str(b.get("type", "")).startswith("Input.")]
    assert ids == [
        "rating_knowledge",
        "rating_practice",
        "rating_confidence",
        "rating_network",
        "text_practice_change",
        "identifies_no_client",
    ]
    text = card_text(card)
    preview = card_text(
        build_learning_preview_card(
            where, invitees=12, closes_at=survey.closes_at, last=survey, locale=locale, tz=TZ
        )
    )
    if locale == "fr-CA":
        assert "Ce qui a changé dans ma pratique — CdeP Soins palliatifs" in text
        assert "J’ai acquis de nouvelles connaissances grâce à la communauté." in text
        assert "Dernier questionnaire" in preview
    else:
        assert "What changed in my practice — CdeP Soins palliatifs" in text
        assert "My network of colleagues has grown." in text
        assert "Last questionnaire" in preview


# -- the annual review -----------------------------------------------------------------------


async def test_the_annual_review_takes_objectives_and_learning_only_from_k(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=6)
    await with_objectives(sessions, s.meeting, OBJECTIVES)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    async with transaction(sessions) as session:
        learning, _ = await surveys.open_learning_survey(
            session, community_id=_id(s.where), by_person_id=_id(s.animator), now=OPENED, tz=TZ
        )
    for who in s.members[:4]:
        await answer(sessions, who, survey, {**EVERYTHING, **BOTH})
        await answer(sessions, who, learning, LEARNED)
    start, end = MEETING_START - timedelta(days=30), MEETING_START + timedelta(days=300)
    late = learning.closes_at + timedelta(days=1)

    async def figures(now: datetime) -> tuple[surveys.ObjectivesReached, surveys.LearningFigures]:
        async with sessions() as session:
            return (
                await surveys.objectives_reached(
                    session, community_id=_id(s.where), start=start, end=end, k=5, now=now
                ),
                await surveys.learning_figures(
                    session, community_id=_id(s.where), start=start, end=end, k=5, now=now
                ),
            )

    # Four answers each, k = 5: nothing, not even how many answered.
    objectives, learned = await figures(late)
    assert (objectives.average, objectives.answers, objectives.objectives) == (None, 0, 0)
    assert (learned.responses, learned.surveys) == (0, 0)
    assert all(average is None for _, average in learned.averages)

    await answer(sessions, s.members[4], survey, {**EVERYTHING, "objective_1": 2, "objective_2": 5})
    await answer(sessions, s.members[4], learning, {**LEARNED, "network": 5})
    # Five answers, but open: still nothing (a figure read before and after one more answer).
    objectives, learned = await figures(OPENED + timedelta(days=3))
    assert (objectives.average, learned.responses) == (None, 0)

    objectives, learned = await figures(late)
    # objective_1: 4,4,4,4,2 → 3.6 (not reached); objective_2: all 5 (reached).
    assert (objectives.surveys, objectives.objectives, objectives.answers) == (1, 2, 10)
    assert objectives.average == pytest.approx(4.3)
    assert objectives.reached == 1
    assert (learned.surveys, learned.responses) == (1, 5)
    assert dict(learned.averages) == pytest.approx(
        {"knowledge": 5.0, "practice": 4.0, "confidence": 4.0, "network": 3.4}
    )

    # In the review, its card and its PDF, in French and English.
    async with sessions() as session:
        where = await session.get(Community, _id(s.where))
        assert where is not None
        # The review year running from 15 June 2026 to 15 June 2027 (partial).
        data = await review.annual_review(
            session, community_id=_id(s.where), year=2027, tz=TZ, now=late
        )
    assert data.meeting_objectives == objectives
    assert data.learning == learned
    fr = "\n".join(
        f"{name} : {value}"
        for section in review_sections(data, locale="fr-CA", tz=TZ)
        for name, value in section.facts
    )
    assert "Objectifs des rencontres atteints : 4,3 / 5 (2\u00a0objectifs évalués)" in fr
    assert "Objectifs jugés atteints (moyenne de 4\u00a0ou plus) : 1\u00a0sur 2" in fr
    assert "Réponses au questionnaire sur les apprentissages : 5" in fr
    assert "Réseau élargi : 3,4 / 5" in fr
    card = card_text(build_review_card(data, locale="en-US", tz=TZ, pdf_url=None, can_manage=False))
    assert "What changed in members' practice" in card
    assert "Wider network" in card
    pdf = build_review_pdf(data, locale="fr-CA", tz=TZ)
    printed = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Ce qui a changé dans la pratique des membres" in printed
    assert "Objectifs des rencontres atteints" in printed


async def test_the_review_says_when_k_is_not_met(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=2)
    now = OPENED + timedelta(days=30)
    async with sessions() as session:
        where = await session.get(Community, _id(s.where))
        assert where is not None
        data = await review.annual_review(
            session,
            community_id=_id(s.where),
            year=2027,
            tz=TZ,
            now=now,
        )
    for locale, hidden in (
        ("fr-CA", "non affichés (aucun sondage fermé avec au moins 5\u00a0réponses)"),
        ("en-US", "No learning questionnaire closed with at least 5 answers in this period."),
    ):
        shown = card_text(
            build_review_card(data, locale=locale, tz=TZ, pdf_url=None, can_manage=False)
        )
        assert hidden in shown


# -- the dialog --------------------------------------------------------------------------------


async def test_the_dialog_asks_each_objective_in_french(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=1)
    await with_objectives(sessions, s.meeting, OBJECTIVES)
    await open_due_surveys(sessions=sessions, now=OPENED, wake=lambda: None)
    survey = await the_survey(sessions)
    chat = Dialog(sessions, s.members[0])
    await chat.say("répondre au sondage")
    for rating in ("4", "5", "4", "3"):
        await chat.say(rating)
    (first,) = await chat.say("5")
    assert first.startswith(
        "Cet objectif a été atteint\u00a0: «\u00a0Connaître les ressources en deuil\u00a0»\n\n"
        "Répondez de 1 (pas du tout) à 5 (tout à fait)."
    )
    (retry,) = await chat.say("9")
    assert retry.startswith("Répondez par un chiffre de 1 (pas du tout) à 5 (tout à fait).")
    (second,) = await chat.say("quatre")
    assert second.startswith("Cet objectif a été atteint\u00a0: «\u00a0Repérer les signes")
    (takeaway,) = await chat.say("2")
    assert takeaway.startswith("Ce que je retiens de la rencontre")
    await chat.say("passer")
    (summary,) = await chat.say("passer")
    assert (
        "- Organisation\u00a0: 5\u00a0sur 5\n"
        "- Objectif atteint\u00a0: «\u00a0Connaître les ressources en deuil\u00a0»"
        "\u00a0: 4\u00a0sur 5\n"
        "- Objectif atteint\u00a0: «\u00a0Repérer les signes de détresse\u00a0»"
        "\u00a0: 2\u00a0sur 5\n"
    ) in summary
    (thanks,) = await chat.say("Envoyer")
    assert thanks.startswith("Merci\u00a0!")
    (row,) = await response_rows(sessions, _id(survey))
    assert row.ratings == {
        "overall": 4,
        "relevance": 5,
        "exchanges": 4,
        "usefulness": 3,
        "organisation": 5,
        "objective_1": 4,
        "objective_2": 2,
    }


async def test_the_learning_dialog_in_english(sessions: SessionFactory) -> None:
    s = await scene(sessions, members=1)
    async with transaction(sessions) as session:
        learning, _ = await surveys.open_learning_survey(
            session, community_id=_id(s.where), by_person_id=_id(s.animator), now=OPENED, tz=TZ
        )
    chat = Dialog(sessions, s.members[0], locale="en-US")
    replies = await chat.say("answer the survey")
    assert replies[0].startswith("What changed in your practice thanks to CdeP Soins palliatifs.")
    assert replies[1].startswith("I gained new knowledge through the community.")
    for rating in ("5", "4", "4"):
        await chat.say(rating)
    (text,) = await chat.say("3")
    assert text.startswith("What changed in my practice (optional, naming no client)")
    (refused,) = await chat.say("Called Mrs. Tremblay at 514-555-1234")
    assert "phone" in refused.casefold()
    (summary,) = await chat.say("I refer to palliative care earlier")
    assert summary.startswith(
        "Here are your answers on the learning questionnaire of Thursday, November 12, 2026:"
    )
    assert "- Wider network: 3 out of 5\n" in summary
    await chat.say("Send")
    (row,) = await response_rows(sessions, _id(learning))
    assert row.ratings == {"knowledge": 5, "practice": 4, "confidence": 4, "network": 3}
    assert row.texts == {"practice_change": "I refer to palliative care earlier"}


# -- over HTTP ---------------------------------------------------------------------------------

NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=True) as coordinates:
        yield coordinates


@pytest.fixture
async def world(
    database_url: str, connector: FakeConnector, tmp_path: Path, traveller: Any
) -> AsyncIterator[World]:
    settings = make_settings(database_url, CARREFOUR_SECRET_KEY_FILE=str(tmp_path / "secret.key"))
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield await build_world(client, connector, members=10)
    finally:
        await client.close()


def card_answer(survey_id: int, **changes: str) -> dict[str, Any]:
    value: dict[str, Any] = {"verb": "surveys.answer", "survey_id": survey_id}
    value.update({f"rating_{q}": "4" for q in SATISFACTION_RATINGS})
    value.update({"rating_objective_1": "4", "rating_objective_2": "5", "text_takeaway": ""})
    value.update(changes)
    return value


async def test_objective_items_and_the_learning_questionnaire_over_http(
    world: World, traveller: time_machine.Traveller
) -> None:
    w = world
    async with transaction(w.sessions) as session:
        meeting = await factories.meeting(
            session, w.community, starts_at=NOW - timedelta(days=1), hours=3
        )
        meeting.specific_objectives = OBJECTIVES
        await session.flush()
        survey = await surveys.open_satisfaction_survey(
            session, meeting=meeting, now=NOW - timedelta(hours=1), duration=timedelta(days=7)
        )
        for who in w.members:
            await surveys.invite(session, survey_id=_id(survey), person_id=_id(who))
    survey_id = _id(survey)
    lea, sam = w.members[0], w.members[1]

    # Refused with a clear message in the person's language; nothing saved.
    await w.chat(lea).click(card_answer(survey_id, rating_objective_2="9"))
    assert w.connector.texts()[-1] == (
        "Vos réponses ne sont pas enregistrées\u00a0: chaque note va de 1\u00a0à 5."
    )
    english = w.chat(sam)
    english.locale = "en-US"
    await english.click(card_answer(survey_id, rating_objective_1=""))
    assert w.connector.texts()[-1] == (
        "Your answers are not saved: say for each of the meeting's objectives whether it was "
        "reached, from 1 to 5."
    )
    await english.click(card_answer(survey_id, rating_objective_1="4,5"))
    assert w.connector.texts()[-1] == "Your answers are not saved: each rating goes from 1 to 5."
    assert await response_rows(w.sessions, survey_id) == []

    # A double click: one answer.
    await w.chat(lea).click(card_answer(survey_id))
    await w.chat(lea).click(card_answer(survey_id))
    assert w.connector.texts()[-1].startswith("Vos réponses sont mises à jour")
    for who in w.members[1:4]:
        await w.chat(who).click(card_answer(survey_id, rating_objective_1="2"))
    rows = await response_rows(w.sessions, survey_id)
    assert len(rows) == 4
    assert sorted(r.ratings["objective_1"] for r in rows) == [2, 2, 2, 4]

    # Open: the count only. Closed with 4 answers (k = 5): nothing more.
    await w.chat(w.animator).say("résultats")
    while_open = card_text(w.connector.cards()[-1])
    assert "Moyenne" not in while_open
    assert "Connaître les ressources" not in while_open
    traveller.move_to(survey.closes_at + timedelta(minutes=1))
    await w.chat(w.animator).say("résultats")
    closed = card_text(w.connector.cards()[-1])
    assert "Les résultats s’afficheront à partir de 5\u00a0réponses" in closed
    assert "Moyenne" not in closed

    # The learning questionnaire: a member may not launch it; the animator sees a preview, then
    # launches it once (a second click is told it is open).
    await w.chat(lea).say("questionnaire des apprentissages")
    assert w.connector.texts()[-1].startswith("Seul·e·s les animateur·rice·s")
    await w.chat(w.animator).say("questionnaire des apprentissages")
    preview = w.connector.cards()[-1]
    assert "Ce qui a changé dans ma pratique — " in card_text(preview)
    (start,) = [a for a in preview["actions"] if a["data"]["verb"] == "surveys.learning.start"]
    await w.chat(w.animator).click(start["data"])
    assert w.connector.texts()[-1].startswith(
        "Questionnaire sur les apprentissages lancé\u00a0: 10\u00a0membres le reçoivent."
    )
    await w.chat(w.animator).click(start["data"])
    assert w.connector.texts()[-1].startswith(
        "Un questionnaire sur les apprentissages est déjà en cours"
    )
    async with w.sessions() as session:
        (learning,) = (
            await session.exec(select(Survey).where(Survey.kind == SurveyKind.LEARNING))
        ).all()
        invited = (
            await session.exec(
                select(SurveyInvitation).where(SurveyInvitation.survey_id == learning.id)
            )
        ).all()
        queued = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == KIND_INVITATION)
                .where(col(OutboxMessage.dedup_key).startswith(f"survey:{learning.id}:"))
            )
        ).all()
    assert len(invited) == len(queued) == 10
    await w.chat(lea).click(
        {
            "verb": "surveys.answer",
            "survey_id": learning.id,
            **{f"rating_{q}": "4" for q in LEARNING_RATINGS},
            "text_practice_change": "Je réfère plus tôt",
        }
    )
    assert w.connector.texts()[-1].startswith("Merci\u00a0!")
    (row,) = await response_rows(w.sessions, _id(learning))
    assert row.texts == {"practice_change": "Je réfère plus tôt"}


# -- once a year, by itself ----------------------------------------------------------------------


async def test_the_learning_questionnaire_opens_once_a_year_before_the_review(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions, members=2)
    async with transaction(sessions) as session:
        young = await factories.community(session, name="CdeP toute neuve")
        where = await session.get(Community, _id(s.where))
        assert where is not None
        where.created_at = datetime(2025, 1, 6, tzinfo=UTC)
        young.created_at = datetime(2027, 3, 1, tzinfo=UTC)
    wakes: list[int] = []

    async def run(now: datetime) -> int:
        return await open_yearly_learning_surveys(
            sessions=sessions, now=now, tz=TZ, wake=lambda: wakes.append(1)
        )

    async def learning_surveys() -> list[Survey]:
        async with sessions() as session:
            return list(
                (
                    await session.exec(
                        select(Survey)
                        .where(Survey.kind == SurveyKind.LEARNING)
                        .order_by(col(Survey.id))
                    )
                ).all()
            )

    # The review is on 15 June (the default): the questionnaire opens from 18 May, and no later
    # than it can close before the review.
    assert await run(datetime(2027, 5, 17, 15, 0, tzinfo=UTC)) == 0
    assert await learning_surveys() == []
    opened_at = datetime(2027, 5, 20, 13, 0, tzinfo=UTC)
    assert await run(opened_at) == 4  # the animator, two members, the one who declined
    assert wakes == [1]
    (learning,) = await learning_surveys()
    assert (learning.community_id, learning.created_by_id) == (_id(s.where), None)
    assert learning.closes_at < datetime(2027, 6, 15, 4, 0, tzinfo=UTC)
    # Again, or on another replica, or a few days later: nothing more.
    assert await run(opened_at) == 0
    assert await run(opened_at + timedelta(days=5)) == 0
    # Only that community: the one set up in March is too young to ask what changed.
    assert len(await learning_surveys()) == 1
    # Too late to close before this year's review: wait for next year's.
    async with transaction(sessions) as session:
        other = await factories.community(session, name="CdeP en retard")
        other.created_at = datetime(2025, 1, 6, tzinfo=UTC)
    assert await run(datetime(2027, 6, 2, 15, 0, tzinfo=UTC)) == 0
    assert len(await learning_surveys()) == 1
    # Next year, once more in each community — but not where a facilitator launched one in
    # March.
    async with transaction(sessions) as session:
        await surveys.open_learning_survey(
            session,
            community_id=_id(s.where),
            by_person_id=_id(s.animator),
            now=datetime(2028, 3, 1, 15, 0, tzinfo=UTC),
            tz=TZ,
        )
    await run(datetime(2028, 5, 20, 13, 0, tzinfo=UTC))
    opened = Counter(x.community_id for x in await learning_surveys())
    assert opened == {_id(s.where): 2, _id(other): 1, _id(young): 1}
