"""The annual review (bilan annuel): each figure against a hand-built community on SQLite and
PostgreSQL, k-anonymity of satisfaction, the register of productions (facilitators only, forged
buttons refused, contributors named by their own consent, erased with them), objectives'
status, the yearly job exactly once with a frozen clock, the card and the PDF (parsed back) in
French and English, the signed PDF link over HTTP, and the commands over a ChatAdapter."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import DialogSet
from pypdf import PdfReader
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import CarrefourAdapter
from bot.app import REGISTRY, RUNTIME, create_app
from bot.community_actions import Services
from bot.links import BadLinkError, signing_key
from bot.review_flow import (
    REVIEW_RENDERERS,
    LinkClaim,
    YearNotUnderstood,
    parse_year,
    read_link,
    send_annual_reviews,
    sign_link,
)
from bot.turns import FeatureTurn
from cards.common import MAX_CARD_BYTES, Element, card_bytes
from cards.community import build_one_pager_card
from cards.i18n import translator
from cards.review import build_productions_card, build_review_card
from cards.review_pdf import build_review_pdf
from dialogs.context import TURN_INFO_KEY, TurnInfo
from dialogs.views import load_one_pager
from storage import privacy, review
from storage.communities import NotAllowed
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
    ObjectiveReview,
    ObjectiveState,
    OutboxMessage,
    Person,
    Production,
    ProductionContributor,
    ProductionKind,
    Role,
    Rsvp,
    RsvpAnswer,
    Survey,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicStatus,
)
from storage.review import InvalidProduction, ProductionDraft, ProductionLine
from storage.state_store import SqlPrivateConversationState, SqlStorage
from tests import factories
from tests.conftest import make_settings
from tests.support import ChatAdapter, card_content, render_context

TZ = "America/Montreal"
NOW = datetime(2026, 6, 20, 16, 0, tzinfo=UTC)
# 15 June 2026, 9:30 in Montreal (EDT).
REVIEW_DAY = datetime(2026, 6, 15, 13, 30, tzinfo=UTC)
PUBLIC_URL = "https://carrefour.example"
SETTINGS = make_settings("sqlite+aiosqlite:///unused.db", CARREFOUR_PUBLIC_URL=PUBLIC_URL)
NBSP = "\u00a0"


def at(day: str, clock: str = "16:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00")


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


# -- the hand-built community ----------------------------------------------------------------


@dataclass
class World:
    community: Community
    animator: Person
    sponsor: Person
    coordinator: Person
    members: list[Person] = field(default_factory=list)
    outsider: Person | None = None


async def _member(
    session: AsyncSession,
    who: Person,
    where: Community,
    *,
    joined: str,
    left: str | None = None,
    roles: tuple[Role, ...] = (),
) -> None:
    session.add(
        Membership(
            person_id=_id(who),
            community_id=_id(where),
            roles=[Role.MEMBER.value, *(r.value for r in roles)],
            joined_at=at(joined),
            left_at=at(left) if left else None,
        )
    )
    await session.flush()


async def _meeting(
    session: AsyncSession, where: Community, day: str, *, cancelled: bool = False
) -> Meeting:
    starts = at(day, "13:00")
    row = Meeting(
        community_id=_id(where),
        title="Rencontre",
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        status=MeetingStatus.CANCELLED if cancelled else MeetingStatus.DONE,
        attendance_confirmed_at=None if cancelled else starts + timedelta(hours=5),
    )
    session.add(row)
    await session.flush()
    return row


async def _satisfaction(session: AsyncSession, meeting: Meeting, overall: list[int]) -> None:
    survey = Survey(
        community_id=meeting.community_id,
        meeting_id=_id(meeting),
        kind=SurveyKind.SATISFACTION,
        opens_at=meeting.ends_at,
        closes_at=meeting.ends_at + timedelta(days=7),
    )
    session.add(survey)
    await session.flush()
    for i, rating in enumerate(overall):
        session.add(
            SurveyResponse(
                survey_id=_id(survey),
                respondent_key=f"k{_id(survey)}-{i}",
                ratings={"overall": rating},
            )
        )
    await session.flush()


async def build_world(sessions: SessionFactory, *, answers: int = 5) -> World:
    """Year 2026 runs from 15 June 2025 to 15 June 2026 (the default date)."""
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.created_at = at("2025-01-01")
        where.objectives = ["Harmoniser les pratiques", "Former les nouveaux membres"]
        animator = await factories.person(session, 1)
        animator.name = "Léa Tremblay"
        sponsor = await factories.person(session, 2)
        coordinator = await factories.person(session, 3)
        m1, m2, m3, m4 = [await factories.person(session, n) for n in (4, 5, 6, 7)]
        m1.name = "Marc Côté"
        outsider = await factories.person(session, 8)
        await _member(session, animator, where, joined="2025-01-01", roles=(Role.ANIMATOR,))
        await _member(session, sponsor, where, joined="2025-01-01", roles=(Role.SPONSOR,))
        await _member(session, coordinator, where, joined="2025-01-01", roles=(Role.COORDINATOR,))
        await _member(session, m1, where, joined="2025-01-01")
        await _member(session, m2, where, joined="2025-01-01")
        await _member(session, m3, where, joined="2025-09-01")  # a newcomer
        await _member(session, m4, where, joined="2025-02-01", left="2025-12-01")  # left
        # Members at each meeting: 7 on 15 October 2025, 6 on 10 March 2026.
        first = await _meeting(session, where, "2025-10-15")
        second = await _meeting(session, where, "2026-03-10")
        await _meeting(session, where, "2025-05-01")  # the year before
        await _meeting(session, where, "2026-01-10", cancelled=True)
        for meeting, people in ((first, [animator, m1, m2]), (second, [animator, m1, m3])):
            for who in people:
                session.add(Attendance(meeting_id=_id(meeting), person_id=_id(who), minutes=240))
        session.add(Rsvp(meeting_id=_id(first), person_id=_id(m1), answer=RsvpAnswer.YES))
        session.add(Rsvp(meeting_id=_id(first), person_id=_id(m2), answer=RsvpAnswer.NO))
        await _satisfaction(session, first, [4, 5, 4, 5, 3][:answers])
        topic = Topic(
            community_id=_id(where),
            title="Le deuil blanc",
            status=TopicStatus.DONE,
            created_at=at("2025-09-20"),
        )
        session.add(topic)
        await session.flush()
        session.add(
            AgendaItem(
                meeting_id=_id(first),
                position=0,
                starts_at=first.starts_at,
                title="Le deuil blanc",
                topic_id=_id(topic),
            )
        )
        session.add(
            ConsultationRequest(
                reference="C-2026-0001",
                community_id=_id(where),
                requester_id=_id(m2),
                motive="clinical",
                summary="Contenu confidentiel",
                urgency="normal",
                modality="teams",
                status=ConsultationStatus.CLOSED,
                created_at=at("2026-01-05"),
                closed_at=at("2026-01-20"),
            )
        )
        await session.flush()
    async with transaction(sessions) as session:
        tool, _ = await review.add_production(
            session,
            community_id=_id(where),
            person_id=_id(animator),
            draft=ProductionDraft("Outil d’évaluation de la douleur", "tool", "2026-02-01"),
            request_key="form-1",
            now=NOW,
        )
        await review.add_production(
            session,
            community_id=_id(where),
            person_id=_id(animator),
            draft=ProductionDraft("Guide du deuil", "guide", "2024-12-01", "https://x.org/g"),
            request_key="form-2",
            now=NOW,
        )
        await review.credit(
            session, production_id=_id(tool), person_id=_id(m1), named=True, now=NOW
        )
        await review.set_objective(
            session,
            community_id=_id(where),
            person_id=_id(animator),
            year=2026,
            position=0,
            objective="Harmoniser les pratiques",
            state="reached",
            comment="Guide diffusé",
            now=NOW,
        )
    return World(where, animator, sponsor, coordinator, [m1, m2, m3, m4], outsider)


# -- the figures, on both databases ----------------------------------------------------------


async def test_the_review_counts_the_year_from_sql_aggregates(
    any_sessions: SessionFactory,
) -> None:
    world = await build_world(any_sessions)
    async with any_sessions() as session:
        data = await review.annual_review(
            session, community_id=_id(world.community), year=2026, tz=TZ, now=NOW
        )
    assert (data.members, data.newcomers, data.left) == (6, 1, 1)
    assert data.meetings == 2
    assert (data.attendances, data.attendance_expected) == (6, 13)
    assert (data.rsvps, data.rsvp_expected) == (2, 13)
    assert data.satisfaction == pytest.approx(4.2)
    assert data.satisfaction_answers == 5
    assert [(line.objective, line.state) for line in data.objectives] == [
        ("Harmoniser les pratiques", ObjectiveState.REACHED),
        ("Former les nouveaux membres", None),
    ]
    assert data.production_counts == ((ProductionKind.TOOL, 1),)
    assert [(p.title, p.contributors) for p in data.productions] == [
        ("Outil d’évaluation de la douleur", ("Marc Côté",))
    ]
    assert (data.topics_proposed, data.topics_treated, data.topic_titles) == (
        1,
        1,
        ("Le deuil blanc",),
    )
    assert (data.consultations_submitted, data.consultations_closed) == (1, 1)
    assert data.cases_discussed == 0
    assert data.codev_sessions == 0
    assert len(data.months) == 13  # 15 June 2025 → 15 June 2026: parts of two Junes
    assert sum(m.meetings for m in data.months) == 2
    assert "no_meeting" in {s.code for s in data.signals}
    assert not data.partial


async def test_satisfaction_below_k_answers_is_withheld_entirely(
    any_sessions: SessionFactory,
) -> None:
    world = await build_world(any_sessions, answers=4)
    async with any_sessions() as session:
        data = await review.annual_review(
            session, community_id=_id(world.community), year=2026, tz=TZ, now=NOW
        )
    assert data.satisfaction is None
    assert data.satisfaction_answers == 0  # not even how many answered
    card = json.dumps(
        build_review_card(data, locale="fr-CA", tz=TZ, pdf_url=None, can_manage=False),
        ensure_ascii=False,
    )
    assert f"non affichée (moins de 5{NBSP}réponses)" in card
    assert "4,0" not in card
    assert "4,5" not in card


# -- productions and objectives ---------------------------------------------------------------


async def test_only_facilitators_record_productions_and_links_are_http_only(
    any_sessions: SessionFactory,
) -> None:
    world = await build_world(any_sessions)
    cid = _id(world.community)
    member = world.members[0]
    async with transaction(any_sessions) as session:
        with pytest.raises(NotAllowed):
            await review.add_production(
                session,
                community_id=cid,
                person_id=_id(member),
                draft=ProductionDraft("Forgé", "tool", "2026-01-01"),
                request_key=None,
                now=NOW,
            )
        for url in ("javascript:alert(1)", "ftp://x.org/a", "https://user:pw@x.org/a"):
            with pytest.raises(InvalidProduction):
                await review.add_production(
                    session,
                    community_id=cid,
                    person_id=_id(world.animator),
                    draft=ProductionDraft("Outil", "tool", "2026-01-01", url),
                    request_key=None,
                    now=NOW,
                )
        with pytest.raises(InvalidProduction) as problems:
            await review.add_production(
                session,
                community_id=cid,
                person_id=_id(world.animator),
                draft=ProductionDraft("", "weapon", "hier"),
                request_key=None,
                now=NOW,
            )
        assert problems.value.problems == ("title_missing", "kind_unknown", "date_invalid")
        # A double click sends the same form key: one row.
        again, created = await review.add_production(
            session,
            community_id=cid,
            person_id=_id(world.animator),
            draft=ProductionDraft("Outil d’évaluation de la douleur", "tool", "2026-02-01"),
            request_key="form-1",
            now=NOW,
        )
        assert not created
        tool = _id(again)
        with pytest.raises(NotAllowed):
            await review.remove_production(session, production_id=tool, person_id=_id(member))
        with pytest.raises(NotAllowed):
            await review.edit_production(
                session,
                production_id=tool,
                person_id=_id(world.sponsor),
                draft=ProductionDraft("Autre", "tool", "2026-01-01"),
                now=NOW,
            )
        # Someone of another community may not name themselves on it.
        with pytest.raises(NotAllowed):
            await review.credit(
                session, production_id=tool, person_id=_id(world.outsider), named=True, now=NOW
            )
    async with any_sessions() as session:
        count = len((await session.exec(select(Production))).all())
    assert count == 2


async def test_objectives_are_named_by_place_and_text_and_set_by_facilitators(
    any_sessions: SessionFactory,
) -> None:
    world = await build_world(any_sessions)
    cid = _id(world.community)

    async def attempt(**changes: Any) -> None:
        values: dict[str, Any] = {
            "community_id": cid,
            "person_id": _id(world.animator),
            "year": 2026,
            "position": 1,
            "objective": "Former les nouveaux membres",
            "state": "in_progress",
            "comment": "  À poursuivre  ",
            "now": NOW,
        }
        values.update(changes)
        async with transaction(any_sessions) as session:
            await review.set_objective(session, **values)

    with pytest.raises(NotAllowed):
        await attempt(person_id=_id(world.sponsor))
    with pytest.raises(LookupError):
        await attempt(position=7)
    with pytest.raises(LookupError):
        await attempt(objective="Harmoniser les pratiques")  # the text of another place
    with pytest.raises(ValueError, match="'done'"):
        await attempt(state="done")
    await attempt()
    await attempt(state="dropped", comment="Abandonné faute de temps")  # again: replaces
    async with any_sessions() as session:
        rows = (
            await session.exec(select(ObjectiveReview).order_by(col(ObjectiveReview.objective)))
        ).all()
    assert [(r.objective, r.state, r.comment) for r in rows] == [
        ("Former les nouveaux membres", "dropped", "Abandonné faute de temps"),
        ("Harmoniser les pratiques", "reached", "Guide diffusé"),
    ]


async def test_erasure_takes_contributors_names_off_and_export_lists_them(
    any_sessions: SessionFactory,
) -> None:
    world = await build_world(any_sessions)
    named = world.members[0]
    async with any_sessions() as session:
        exported = await privacy.export(session, person_id=_id(named))
    assert exported["productions_named"] == [
        {
            "title": "Outil d’évaluation de la douleur",
            "produced_on": "2026-02-01",
            "community": "CdeP Soins palliatifs",
        }
    ]
    async with transaction(any_sessions) as session:
        report = await privacy.erase(session, person_id=_id(named), now=NOW)
        await privacy.erase(session, person_id=_id(world.animator), now=NOW)
    assert report.deleted.get("production_names") == 1
    async with any_sessions() as session:
        assert (await session.exec(select(ProductionContributor))).all() == []
        productions = (await session.exec(select(Production))).all()
        assert {p.created_by_id for p in productions} == {None}
        statuses = (await session.exec(select(ObjectiveReview))).all()
        assert {s.set_by_id for s in statuses} == {None}


# -- the yearly job --------------------------------------------------------------------------


async def test_the_review_is_queued_once_per_community_year_and_recipient(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    wakes: list[int] = []

    def wake() -> None:
        wakes.append(1)

    assert (
        await send_annual_reviews(sessions=sessions, now=REVIEW_DAY - timedelta(days=1), wake=wake)
        == 0
    )
    # The animator and the sponsor (not the coordinator, who may ask for it).
    assert await send_annual_reviews(sessions=sessions, now=REVIEW_DAY, wake=wake) == 2
    for later in (timedelta(0), timedelta(minutes=15), timedelta(days=3)):
        assert await send_annual_reviews(sessions=sessions, now=REVIEW_DAY + later, wake=wake) == 0
    assert (
        await send_annual_reviews(sessions=sessions, now=REVIEW_DAY + timedelta(days=30), wake=wake)
        == 0
    )
    async with sessions() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    assert sorted((r.person_id, r.dedup_key) for r in rows) == sorted(
        (_id(who), f"review:{_id(world.community)}:2026:to:{_id(who)}")
        for who in (world.animator, world.sponsor)
    )
    assert wakes == [1]
    # Another date set by the community: 1 May; next year's review on that day.
    async with transaction(sessions) as session:
        community = await session.get(Community, _id(world.community))
        assert community is not None
        review.set_review_day(community, date(2027, 5, 1))
        session.add(community)
    may_first = datetime(2027, 5, 1, 13, 0, tzinfo=UTC)
    assert (
        await send_annual_reviews(sessions=sessions, now=may_first - timedelta(days=1), wake=wake)
        == 0
    )
    assert await send_annual_reviews(sessions=sessions, now=may_first, wake=wake) == 2
    assert await send_annual_reviews(sessions=sessions, now=may_first, wake=wake) == 0

    # Rendered at send time for its recipient, in French; nothing for someone who lost the role.
    row = next(r for r in rows if r.person_id == _id(world.sponsor))
    activity = await REVIEW_RENDERERS["annual_review"](render_context(sessions, row, now=NOW))
    assert activity is not None
    text = json.dumps(card_content(activity.attachments[0]), ensure_ascii=False)
    assert "Bilan annuel 2026 — CdeP Soins palliatifs" in text
    async with transaction(sessions) as session:
        found = await session.exec(
            select(Membership).where(col(Membership.person_id) == _id(world.sponsor))
        )
        membership = found.one()
        membership.roles = [Role.MEMBER.value]
        session.add(membership)
    assert await REVIEW_RENDERERS["annual_review"](render_context(sessions, row, now=NOW)) is None


# -- the card and the PDF --------------------------------------------------------------------


def pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


async def _review(sessions: SessionFactory) -> review.AnnualReview:
    world = await build_world(sessions)
    async with sessions() as session:
        return await review.annual_review(
            session, community_id=_id(world.community), year=2026, tz=TZ, now=NOW
        )


async def test_the_card_in_french_and_english(sessions: SessionFactory) -> None:
    data = await _review(sessions)
    french = build_review_card(
        data, locale="fr-CA", tz=TZ, pdf_url="https://x/r.pdf", can_manage=True
    )
    assert card_bytes(french) < MAX_CARD_BYTES
    text = json.dumps(french, ensure_ascii=False)
    for expected in (
        "Bilan annuel 2026 — CdeP Soins palliatifs",
        "Du dimanche 15 juin 2025 au dimanche 14 juin 2026",
        '"Membres", "value": "6"',
        '"Rencontres tenues", "value": "2"',
        f'"Taux de présence", "value": "46{NBSP}%"',
        f"4,2{NBSP}/{NBSP}5 (5{NBSP}réponses)",
        f"Harmoniser les pratiques{NBSP}: atteint — Guide diffusé",
        f"Former les nouveaux membres{NBSP}: statut à préciser",
        "Outil d’évaluation de la douleur (Outil, 1er février 2026) — avec Marc Côté",
        "Le deuil blanc",
        '"Demandes de consultation reçues", "value": "1"',
        "Télécharger le PDF",
    ):
        assert expected in text, expected
    assert "Cas complexes" not in text  # none: not shown
    assert "Contenu confidentiel" not in text
    english = json.dumps(
        build_review_card(data, locale="en-CA", tz=TZ, pdf_url=None, can_manage=False),
        ensure_ascii=False,
    )
    for expected in (
        "Annual review 2026 — CdeP Soins palliatifs",
        '"Attendance rate", "value": "46%"',
        "4.2/5 (5 answers)",
        "Harmoniser les pratiques: reached — Guide diffusé",
        "Outil d’évaluation de la douleur (Tool, February 1, 2026) — with Marc Côté",
        "review.pdf",
    ):
        assert expected in english, expected
    assert "review.objectives" not in english  # no facilitator buttons for a sponsor


async def test_the_pdf_says_the_same_figures_in_french_and_english(
    sessions: SessionFactory,
) -> None:
    data = await _review(sessions)
    french = pdf_text(build_review_pdf(data, locale="fr-CA", tz=TZ))
    for expected in (
        "Bilan annuel 2026 — CdeP Soins palliatifs",
        "Membres : 6",
        "Nouveaux membres : 1",
        "Rencontres tenues : 2",
        "Taux de présence : 46 %",
        "Satisfaction : 4,2 / 5 (5 réponses)",
        "Harmoniser les pratiques : atteint — Guide diffusé",
        "Outil : 1",
        "avec Marc Côté",
        "Demandes de consultation reçues : 1",
        "Rencontres tenues par mois",
        "Page 1 de",
    ):
        assert expected in french, expected
    # The chart's thirteen months: June twice, told apart by the year under each month.
    chart = french.split("Rencontres tenues par mois", 1)[1]
    assert chart.count("juin") == 2
    assert "2025" in chart
    assert "2026" in chart
    english = pdf_text(build_review_pdf(data, locale="en-CA", tz=TZ))
    for expected in (
        "Annual review 2026 — CdeP Soins palliatifs",
        "Members: 6",
        "Attendance rate: 46%",
        "Satisfaction: 4.2/5 (5 answers)",
        "Tool: 1",
        "Page 1 of",
    ):
        assert expected in english, expected


def test_years_typed_by_people() -> None:
    assert parse_year("") is None
    assert parse_year(" 2026 ") == 2026
    for wrong in ("l'an dernier", "26", "1999", "2026-06"):
        with pytest.raises(YearNotUnderstood):
            parse_year(wrong)
    for text, year in (("bilan annuel 2026", "2026"), ("annual review 2025", "2025")):
        parsed = REGISTRY.vocabulary.parse(text)
        assert (parsed.command, parsed.argument) == ("annual_review", year)
    assert REGISTRY.vocabulary.parse("bilan octobre").command == "summary"
    assert REGISTRY.vocabulary.parse("productions").command == "productions"


# -- over HTTP -------------------------------------------------------------------------------

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[Client]:
    app = create_app(make_settings(sqlite_url, CARREFOUR_PUBLIC_URL=PUBLIC_URL))
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_a_signed_link_returns_the_pdf_and_a_forged_or_old_one_does_not(
    client: Client,
) -> None:
    runtime = client.app[RUNTIME]
    world = await build_world(runtime.sessions)
    async with transaction(runtime.sessions) as session:
        key = await signing_key(session, runtime.settings)

    def token(who: Person, *, language: str = "fr", expires: datetime | None = None) -> str:
        return sign_link(
            key,
            LinkClaim(
                _id(world.community),
                2026,
                _id(who),
                language,
                expires or datetime.now(UTC) + timedelta(days=7),
            ),
        )

    good = token(world.sponsor)
    assert read_link(key, good, now=datetime.now(UTC)).year == 2026
    response = await client.get(f"/reviews/{good}.pdf")
    assert response.status == 200
    assert response.content_type == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    assert "Rencontres tenues : 2" in pdf_text(await response.read())

    english = await client.get(f"/reviews/{token(world.coordinator, language='en')}.pdf")
    assert english.status == 200
    assert "Members: 6" in pdf_text(await english.read())

    # A member who is no facilitator, coordinator or sponsor: refused.
    member = await client.get(f"/reviews/{token(world.members[0])}.pdf")
    assert member.status == 403
    someone_else = good.replace(f".{_id(world.sponsor)}.", f".{_id(world.animator)}.", 1)
    for forged in (someone_else, good[:-3] + "xyz", "1.2.3", "%00"):
        refused = await client.get(f"/reviews/{forged}.pdf")
        assert refused.status == 403, forged
    with pytest.raises(BadLinkError):
        read_link(key, someone_else, now=datetime.now(UTC))
    old = token(world.sponsor, expires=datetime.now(UTC) - timedelta(minutes=1))
    assert (await client.get(f"/reviews/{old}.pdf")).status == 410


# -- the commands and buttons over a ChatAdapter ---------------------------------------------


@dataclass
class Bot:
    sessions: SessionFactory
    adapter: ChatAdapter = field(init=False)
    services: Services = field(init=False)
    _turn: TurnInfo | None = None

    def __post_init__(self) -> None:
        self.adapter = ChatAdapter(self._logic)
        state = SqlPrivateConversationState(SqlStorage(self.sessions))
        self.services = Services(
            settings=SETTINGS,
            sessions=self.sessions,
            adapter=cast(CarrefourAdapter, self.adapter),
            dialogs=DialogSet(state.create_property("DialogState")),
            wake=lambda: None,
            save_state=state.save_changes,
            help_entries=REGISTRY.help_entries,
        )

    async def _logic(self, turn_context: TurnContext) -> None:
        assert self._turn is not None
        turn_context.turn_state[TURN_INFO_KEY] = self._turn
        turn = FeatureTurn(
            context=turn_context,
            sessions=self.sessions,
            info=self._turn,
            clock=lambda: NOW,
            services=self.services,
        )
        value = turn_context.activity.value
        if isinstance(value, dict):
            assert await REGISTRY.press(turn, value)
            return
        parsed = REGISTRY.vocabulary.parse(turn_context.activity.text)
        handler = REGISTRY.command(parsed.command)
        assert handler is not None, parsed
        await handler(turn, parsed)

    async def send(
        self,
        who: Person,
        text: str | None = None,
        *,
        value: dict[str, Any] | None = None,
        locale: str = "fr-CA",
        channel: bool = False,
    ) -> list[str]:
        self._turn = TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=channel)
        self.adapter.template.from_property = ChannelAccount(id=who.teams_user_id)
        self.adapter.template.conversation = ConversationAccount(
            id=f"a:personal-{who.id}", conversation_type="personal"
        )
        await self.adapter.receive_activity(
            Activity(type=ActivityTypes.message, text=text, value=value, locale=locale)
        )
        sent = list(self.adapter.activity_buffer) + list(self.adapter.updated_activities)
        self.adapter.activity_buffer.clear()
        self.adapter.updated_activities.clear()
        return [_read(a) for a in sent]


def _read(activity: Activity) -> str:
    if activity.text:
        return str(activity.text)
    return json.dumps(card_content(activity.attachments[0]), ensure_ascii=False)


def _card(text: str) -> Element:
    return cast(Element, json.loads(text))


async def test_the_command_in_french_and_english(sessions: SessionFactory) -> None:
    world = await build_world(sessions)
    bot = Bot(sessions)
    (french,) = await bot.send(world.sponsor, "bilan annuel 2026")
    assert "Bilan annuel 2026 — CdeP Soins palliatifs" in french
    assert f"{PUBLIC_URL}/reviews/" in french
    (english,) = await bot.send(world.coordinator, "annual review 2026", locale="en-CA")
    assert "Annual review 2026" in english
    (refused,) = await bot.send(world.members[0], "bilan annuel")
    assert refused.startswith("Le bilan annuel est réservé")
    (future,) = await bot.send(world.animator, "bilan annuel 2031")
    assert future == "Ce bilan annuel n’a pas encore commencé."
    (wrong,) = await bot.send(world.animator, "bilan annuel l'an passé")
    assert wrong.startswith("Je n’ai pas compris l’année")


async def test_register_buttons_forged_payloads_change_nothing(sessions: SessionFactory) -> None:
    world = await build_world(sessions)
    bot = Bot(sessions)
    cid = _id(world.community)
    member = world.members[1]
    (register,) = await bot.send(member, "productions")
    assert "Outil d’évaluation de la douleur" in register
    assert "review.production.remove" not in register  # a member: no facilitator buttons
    for forged in (
        {
            "verb": "review.production.save",
            "community_id": cid,
            "title": "Forgé",
            "kind": "tool",
            "produced_on": "2026-01-01",
        },
        {"verb": "review.production.remove", "production_id": 1},
        {
            "verb": "review.objective.save",
            "community_id": cid,
            "year": 2026,
            "position": 0,
            "objective": "Harmoniser les pratiques",
            "state_0": "dropped",
        },
        {"verb": "review.date.save", "community_id": cid, "review_day": "2026-01-01"},
    ):
        (answer,) = await bot.send(member, value=forged)
        assert (
            answer == "Seuls les responsables de l’animation de la communauté peuvent faire cela."
        )
    for junk in (
        {"verb": "review.production.remove", "production_id": "1; drop table"},
        {"verb": "review.show", "community_id": cid, "year": "deux mille"},
        {"verb": "review.production.credit", "production_id": 2**40},
    ):
        (answer,) = await bot.send(world.animator, value=junk)
        assert answer == translator("fr-CA")("error.unknown_action"), junk
    async with sessions() as session:
        assert len((await session.exec(select(Production))).all()) == 2
        statuses = (await session.exec(select(ObjectiveReview))).all()
        assert [s.state for s in statuses] == ["reached"]
        community = await session.get(Community, cid)
        assert community is not None
        assert review.review_day(community) == (6, 15)

    # The member names themselves on a production, then takes it back.
    async with sessions() as session:
        guide = (
            await session.exec(select(Production).where(col(Production.title) == "Guide du deuil"))
        ).one()
    (credited,) = await bot.send(
        member, value={"verb": "review.production.credit", "production_id": guide.id}
    )
    assert "Votre nom figure maintenant" in credited
    assert "avec Personne 5" in credited
    (back,) = await bot.send(
        member, value={"verb": "review.production.uncredit", "production_id": guide.id}
    )
    assert "Votre nom a été retiré." in back
    assert "avec Personne 5" not in back


async def test_facilitators_add_edit_remove_and_set_status_in_english(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    bot = Bot(sessions)
    cid = _id(world.community)
    form = {
        "verb": "review.production.save",
        "community_id": cid,
        "request_key": "k-42",
        "title": "Position on palliative sedation",
        "kind": "position",
        "produced_on": "2026-04-02",
        "url": "https://example.org/position",
    }
    (saved,) = await bot.send(world.animator, value=form, locale="en-CA")
    assert "Production saved." in saved
    assert "Position on palliative sedation (Position, April 2, 2026)" in saved
    (again,) = await bot.send(world.animator, value=form, locale="en-CA")  # a double click
    assert "Production saved." in again
    (bad,) = await bot.send(
        world.animator,
        value={**form, "request_key": "k-43", "url": "javascript:alert(1)"},
        locale="en-CA",
    )
    assert bad == "The link must start with http:// or https://."
    async with sessions() as session:
        rows = (
            await session.exec(select(Production).where(col(Production.kind) == "position"))
        ).all()
    assert len(rows) == 1
    pid = _id(rows[0])
    (edited,) = await bot.send(
        world.animator,
        value={**form, "production_id": pid, "title": "Position on sedation"},
        locale="en-CA",
    )
    assert "Position on sedation (Position" in edited
    (removed,) = await bot.send(
        world.animator,
        value={"verb": "review.production.remove", "production_id": pid},
        locale="en-CA",
    )
    assert "Production removed." in removed
    assert "Position on sedation" not in removed
    (gone,) = await bot.send(
        world.animator,
        value={"verb": "review.production.remove", "production_id": pid},
        locale="en-CA",
    )
    assert gone == "This production no longer exists."

    (objectives,) = await bot.send(world.animator, "objectives 2026", locale="en-CA")
    assert "Objectives 2026 — CdeP Soins palliatifs" in objectives
    (status,) = await bot.send(
        world.animator,
        value={
            "verb": "review.objective.save",
            "community_id": cid,
            "year": 2026,
            "position": 1,
            "objective": "Former les nouveaux membres",
            "state_1": "in_progress",
            "comment_1": "Half done",
        },
        locale="en-CA",
    )
    assert "Status saved." in status
    (date_saved,) = await bot.send(
        world.animator,
        value={"verb": "review.date.save", "community_id": cid, "review_day": "2026-05-01"},
        locale="en-CA",
    )
    assert "Annual review date saved." in date_saved
    async with sessions() as session:
        community = await session.get(Community, cid)
        assert community is not None
        assert review.review_day(community) == (5, 1)


async def test_the_one_pager_lists_the_latest_productions(sessions: SessionFactory) -> None:
    world = await build_world(sessions)
    async with sessions() as session:
        page = await load_one_pager(session, world.community, now=NOW)
    french = json.dumps(build_one_pager_card(page, locale="fr-CA", tz=TZ), ensure_ascii=False)
    assert "Nos productions" in french
    assert "Outil d’évaluation de la douleur (Outil, 1er février 2026) — avec Marc Côté" in french
    assert "Guide du deuil (Guide, 1er décembre 2024)" in french
    english = json.dumps(build_one_pager_card(page, locale="en-CA", tz=TZ), ensure_ascii=False)
    assert "Our productions" in english
    assert "Guide du deuil (Guide, December 1, 2024)" in english


async def test_cards_stay_under_teams_size_limit_with_a_long_register(
    sessions: SessionFactory,
) -> None:
    data = await _review(sessions)
    many = tuple(
        ProductionLine(
            id=n,
            title="Production au titre très long " * 6,
            kind=ProductionKind.GUIDE,
            produced_on=date(2026, 1, 1),
            url="https://example.org/" + "x" * 300,
            contributors=tuple(f"Personne {i} Tremblay-Côté" for i in range(12)),
        )
        for n in range(1, 31)
    )
    big = dataclasses.replace(data, productions=many)
    for locale in ("fr-CA", "en-CA"):
        card = build_review_card(big, locale=locale, tz=TZ, pdf_url=None, can_manage=True)
        assert card_bytes(card) <= MAX_CARD_BYTES
        assert "Production au titre très long" in json.dumps(card, ensure_ascii=False)
        register = build_productions_card(
            many,
            community_id=1,
            community_name="CdeP",
            can_manage=True,
            locale=locale,
            request_key="k",
        )
        assert card_bytes(register) <= MAX_CARD_BYTES
        assert "Production au titre très long" in json.dumps(register, ensure_ascii=False)
    # The PDF lists them all.
    assert pdf_text(build_review_pdf(big, locale="fr-CA", tz=TZ)).count("Personne 11") == 30


async def test_in_a_channel_the_review_goes_privately_and_the_pdf_button_too(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    bot = Bot(sessions)
    show = {"verb": "review.show", "community_id": _id(world.community), "year": 2026}
    (answer,) = await bot.send(world.sponsor, value=show, channel=True)
    assert answer == "Je vous envoie le bilan annuel en conversation privée."
    async with sessions() as session:
        (row,) = (await session.exec(select(OutboxMessage))).all()
    assert row.person_id == _id(world.sponsor)
    assert row.kind == "annual_review"
    assert row.params == {"community_id": _id(world.community), "year": 2026}
    assert row.dedup_key.startswith(
        f"review:{_id(world.community)}:2026:to:{_id(world.sponsor)}:ask:"
    )

    pdf = {"verb": "review.pdf", "community_id": _id(world.community), "year": 2026}
    (private_only,) = await bot.send(world.sponsor, value=pdf, channel=True)
    assert private_only.startswith("Le PDF du bilan s’obtient dans votre conversation personnelle")
    (ready,) = await bot.send(world.sponsor, value=pdf, locale="en-CA")
    assert "The 2026 annual review PDF is ready." in ready
    assert f"{PUBLIC_URL}/reviews/" in ready
    (refused,) = await bot.send(world.members[0], value=pdf)
    assert refused.startswith("Le bilan annuel est réservé")
