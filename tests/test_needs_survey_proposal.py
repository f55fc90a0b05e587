"""The needs survey proposed to facilitators once a year (the seeds: « au moins une fois par
année »), with last year's results beside it: queued once per community and year (two replicas,
a restart), not while a needs survey is less than twelve months old, again after twelve months;
the card in French and English shows only what k-anonymity allows; its buttons over HTTP.
Storage rules on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot import planning_flow
from bot.app import RUNTIME
from bot.registry import JobContext
from cards.common import CARD_VERSION, MAX_CARD_BYTES, card_bytes
from storage import planning
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    Community,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Survey,
    SurveyKind,
    SurveyResponse,
)
from tests import factories
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import START, Clock, card_actions, dispatcher, render_context, scheduled_jobs
from tests.test_communities import ANIMATOR, Chat, card_text, set_up_community

Client = TestClient[web.Request, web.Application]
NBSP = "\u00a0"
# START is Monday 23 November 2026, 9 h in Montreal: office hours, so rows are due at once.
NOW = START
YEAR = timedelta(days=365)
TITLE_FR = "C’est le moment du sondage des besoins annuel"
TITLE_EN = "It’s time for the yearly needs survey"


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[tuple[SessionFactory, str]]:
    """Sessions on SQLite and on PostgreSQL, with the database's URL."""
    engine = create_engine(database_url)
    yield session_factory(engine), database_url
    await engine.dispose()


def _context(sessions: SessionFactory, url: str, clock: Clock) -> JobContext:
    return JobContext(
        settings=make_settings(url), sessions=sessions, wake=lambda: None, clock=clock
    )


async def _animated(session: Any, name: str, *people: Person) -> Community:
    where = await factories.community(session, name=name)
    for who in people:
        row = await factories.member(session, who, where)
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
    return where


async def _needs_survey(
    session: Any,
    where: Community,
    *,
    opened: datetime,
    choices: Sequence[Sequence[str]] = (),
    topics: tuple[str, ...] = ("Le deuil", "Les soins de plaies", "La douleur"),
) -> Survey:
    """A needs survey opened at `opened`, open 14 days, with one answer per list of choices."""
    survey = Survey(
        community_id=where.id or 0,
        kind=SurveyKind.NEEDS,
        opens_at=opened,
        closes_at=opened + timedelta(days=14),
        topic_choices=list(topics),
        created_at=opened,
    )
    session.add(survey)
    await session.flush()
    for n, chosen in enumerate(choices):
        session.add(
            SurveyResponse(
                survey_id=survey.id or 0, respondent_key=f"sealed:{n}", choices=list(chosen)
            )
        )
    await session.flush()
    return survey


async def _proposals(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == planning.KIND_NEEDS_DUE)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


# -- once a year ------------------------------------------------------------------------------


async def test_the_needs_survey_is_proposed_once_a_year_to_each_facilitator(
    any_sessions: tuple[SessionFactory, str],
) -> None:
    sessions, url = any_sessions
    async with transaction(sessions) as session:
        lea, emilie, marc, sam = [await factories.person(session, n) for n in (1, 2, 3, 4)]
        due = await _animated(session, "CdeP sans sondage", lea, emilie)
        await factories.member(session, sam, due)  # a member: never proposed it
        recent = await _animated(session, "CdeP sondée", marc)
        # A needs survey opened three months ago: nothing to propose yet.
        await _needs_survey(session, recent, opened=NOW - timedelta(days=90))
        await _animated(session, "CdeP sans animation")
    clock = Clock(now=NOW)
    context = _context(sessions, url, clock)

    assert await planning_flow.propose_needs_surveys(context) == 2
    rows = await _proposals(sessions)
    assert sorted(r.dedup_key for r in rows) == sorted(
        planning.needs_due_key(due.id or 0, 2026, who.id or 0) for who in (lea, emilie)
    )
    assert {r.person_id for r in rows} == {lea.id, emilie.id}
    assert all(r.params == {"community_id": due.id} for r in rows)
    assert all(r.not_before == NOW for r in rows)

    # A restart, the next day, a new calendar year: not again within twelve months; the other
    # community's survey counts for twelve months after it opened.
    assert await planning_flow.propose_needs_surveys(context) == 0
    for later in (timedelta(days=1), timedelta(days=45), timedelta(days=274)):
        clock.now = NOW + later
        assert await planning_flow.propose_needs_surveys(context) == 0, later
    assert len(await _proposals(sessions)) == 2

    # Twelve months after that survey opened (and in the new year), its community is due: one
    # proposal even with two replicas running the job at once.
    clock.now = NOW + timedelta(days=276)
    counts = await asyncio.gather(
        planning_flow.propose_needs_surveys(context),
        planning_flow.propose_needs_surveys(_context(sessions, url, clock)),
    )
    assert sorted(counts) == [0, 1]
    assert (await _proposals(sessions))[-1].dedup_key == planning.needs_due_key(
        recent.id or 0, 2027, marc.id or 0
    )

    # Twelve months after the first proposal, no needs survey launched: proposed again.
    clock.now = NOW + YEAR - timedelta(hours=1)
    assert await planning_flow.propose_needs_surveys(context) == 0
    clock.now = NOW + YEAR + timedelta(days=1)
    assert await planning_flow.propose_needs_surveys(context) == 2
    assert await planning_flow.propose_needs_surveys(context) == 0
    newer = [r for r in await _proposals(sessions) if r.not_before > NOW + YEAR]
    assert sorted(r.dedup_key for r in newer) == sorted(
        planning.needs_due_key(due.id or 0, 2027, who.id or 0) for who in (lea, emilie)
    )
    assert len(await _proposals(sessions)) == 5


async def test_a_needs_survey_launched_meanwhile_ends_the_proposal(
    any_sessions: tuple[SessionFactory, str],
) -> None:
    sessions, url = any_sessions
    async with transaction(sessions) as session:
        lea = await factories.person(session, 1)
        where = await _animated(session, "CdeP", lea)
    context = _context(sessions, url, Clock(now=NOW))
    assert await planning_flow.propose_needs_surveys(context) == 1
    (row,) = await _proposals(sessions)
    async with sessions() as session:
        assert await planning.needs_survey_due(session, community_id=where.id or 0, now=NOW)
    async with transaction(sessions) as session:
        await _needs_survey(session, where, opened=NOW + timedelta(hours=1))
    # At send time the card is dropped: the survey it proposes is already running.
    later = NOW + timedelta(hours=2)
    assert await planning_flow.render_needs_due(render_context(sessions, row, now=later)) is None
    async with sessions() as session:
        assert not await planning.needs_survey_due(session, community_id=where.id or 0, now=later)
        assert await planning.communities_due_needs_survey(session, now=later) == []
    # Eleven months after that survey, still nothing; a year after it, it is due again.
    async with sessions() as session:
        eleven = NOW + timedelta(days=335)
        assert await planning.communities_due_needs_survey(session, now=eleven) == []
        found = await planning.communities_due_needs_survey(session, now=NOW + YEAR * 2)
    assert [c.id for c in found] == [where.id]


def test_proposals_wait_for_office_hours_on_a_working_day() -> None:
    tz = "America/Montreal"
    saturday_night = datetime(2026, 11, 28, 3, tzinfo=UTC)  # Friday 22 h in Montreal
    monday_morning = datetime(2026, 11, 30, 14, tzinfo=UTC)  # 9 h
    assert planning.office_hours(saturday_night, tz=tz) == monday_morning
    assert planning.office_hours(monday_morning, tz=tz) == monday_morning
    early = datetime(2026, 12, 1, 11, tzinfo=UTC)  # Tuesday 6 h
    assert planning.office_hours(early, tz=tz) == datetime(2026, 12, 1, 14, tzinfo=UTC)
    christmas_eve = datetime(2026, 12, 24, 23, tzinfo=UTC)  # Thursday 18 h; the 25th is off
    assert planning.office_hours(christmas_eve, tz=tz) == datetime(2026, 12, 28, 14, tzinfo=UTC)


# -- the card ---------------------------------------------------------------------------------


async def _rendered(
    sessions: SessionFactory, row: OutboxMessage, *, locale: str, now: datetime = NOW
) -> dict[str, Any]:
    activity = await planning_flow.render_needs_due(
        render_context(sessions, row, now=now, locale=locale)
    )
    assert activity is not None
    (attachment,) = activity.attachments or []
    content = attachment.content
    assert isinstance(content, dict)
    assert content["version"] <= CARD_VERSION
    assert card_bytes(content) < MAX_CARD_BYTES
    return content


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_the_card_shows_last_years_results_as_k_allows(
    any_sessions: tuple[SessionFactory, str], locale: str
) -> None:
    sessions, url = any_sessions
    async with transaction(sessions) as session:
        lea, marc, zoe = [await factories.person(session, n) for n in (1, 2, 3)]
        shown = await _animated(session, "CdeP Soins palliatifs", lea)
        few = await _animated(session, "CdeP Plaies", marc)
        never = await _animated(session, "CdeP Nouvelle", zoe)
        # Last year: six answers; « Le deuil » chosen by five, « Les soins de plaies » by two
        # (shown as fewer than 3), « La douleur » by nobody (left out).
        await _needs_survey(
            session,
            shown,
            opened=NOW - timedelta(days=400),
            choices=[["Le deuil"]] * 4
            + [["Le deuil", "Les soins de plaies"], ["Les soins de plaies"]],
        )
        # Two answers only, below k: no topic at all, only the count.
        await _needs_survey(
            session, few, opened=NOW - timedelta(days=380), choices=[["Le deuil"], ["Le deuil"]]
        )
        # Three years ago is not last year.
        await _needs_survey(session, never, opened=NOW - timedelta(days=3 * 365))
    assert await planning_flow.propose_needs_surveys(_context(sessions, url, Clock(NOW))) == 3
    rows = {r.person_id: r for r in await _proposals(sessions)}
    french = locale == "fr-CA"

    card = await _rendered(sessions, rows[lea.id], locale=locale)
    text = card_text(card).replace(NBSP, " ")
    assert (TITLE_FR if french else TITLE_EN) in text
    assert "CdeP Soins palliatifs" in text
    assert (
        "Sondage du dimanche 19 octobre 2025 : 6 réponses."
        if french
        else "Survey of Sunday, October 19, 2025: 6 responses."
    ) in text
    facts = {f["title"]: f["value"] for f in _facts(card)}
    assert facts["Le deuil"] == "5"
    assert facts["Les soins de plaies"] == ("moins de 3" if french else "fewer than 3")
    assert "La douleur" not in text
    launch, later = (a["data"] for a in card_actions(card))
    assert launch == {"verb": "surveys.needs.start", "community_id": shown.id}
    assert later == {"verb": "planning.needs.later", "community_id": shown.id}
    assert [a["title"] for a in card_actions(card)] == (
        ["Lancer le sondage", "Plus tard"] if french else ["Launch the survey", "Later"]
    )

    text = card_text(await _rendered(sessions, rows[marc.id], locale=locale)).replace(NBSP, " ")
    assert ("2 réponses" if french else "2 responses") in text
    assert ("Moins de 5 réponses" if french else "Fewer than 5 responses") in text
    assert "Le deuil" not in text

    text = card_text(await _rendered(sessions, rows[zoe.id], locale=locale))
    assert ("Aucun sondage l’an dernier." if french else "No survey last year.") in text


def _facts(card: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "FactSet":
                found.extend(node["facts"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card["body"])
    return found


async def test_someone_no_longer_facilitating_gets_nothing(
    any_sessions: tuple[SessionFactory, str],
) -> None:
    sessions, url = any_sessions
    async with transaction(sessions) as session:
        lea = await factories.person(session, 1)
        await _animated(session, "CdeP", lea)
    assert await planning_flow.propose_needs_surveys(_context(sessions, url, Clock(NOW))) == 1
    (row,) = await _proposals(sessions)
    async with transaction(sessions) as session:
        membership = (await session.exec(select(Membership))).one()
        membership.roles = [Role.MEMBER.value]
    assert await planning_flow.render_needs_due(render_context(sessions, row)) is None


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def traveller() -> Iterator[None]:
    with time_machine.travel(START, tick=True):
        yield


async def _delivered_proposal(client: Client, connector: FakeConnector) -> dict[str, Any]:
    runtime = client.app[RUNTIME]
    clock = Clock(now=NOW)
    assert await scheduled_jobs(runtime, clock).run("needs_survey_proposals") == 1
    await dispatcher(runtime, clock).dispatch_once()
    (card,) = [c for c in connector.cards() if TITLE_FR in card_text(c)]
    return card


async def test_the_facilitator_launches_it_from_the_card(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    card = await _delivered_proposal(bot_client, connector)
    launch = next(a["data"] for a in card_actions(card) if a["title"] == "Lancer le sondage")
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.click(launch)
    assert animator.last_text().startswith("Sondage des besoins lancé")
    await animator.click(launch)  # a double click launches nothing more
    assert animator.last_text().startswith("Un sondage des besoins est déjà en cours")
    async with bot_client.app[RUNTIME].sessions() as session:
        (survey,) = (await session.exec(select(Survey))).all()
    assert survey.kind == SurveyKind.NEEDS
    # Launched: nothing to propose for a year.
    jobs = scheduled_jobs(bot_client.app[RUNTIME], Clock(now=NOW + timedelta(days=364)))
    assert await jobs.run("needs_survey_proposals") == 0


async def test_later_brings_it_back_once(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    card = await _delivered_proposal(bot_client, connector)
    later = next(a["data"] for a in card_actions(card) if a["title"] == "Plus tard")
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.click(later)
    assert "je vous reproposerai le sondage des besoins" in animator.last_text()
    await animator.click(later)  # a double click
    assert animator.last_text().replace(NBSP, " ").startswith("C’est déjà noté : je vous le")
    rows = await _proposals(bot_client.app[RUNTIME].sessions)
    assert rows[0].not_before == NOW
    # Thirty days after the click (Wednesday 23 December, office hours).
    assert abs(rows[1].not_before - (NOW + planning.NEEDS_LATER)) < timedelta(minutes=1)
    assert [r.status for r in rows] == [OutboxStatus.SENT, OutboxStatus.PENDING]

    # A month on, the proposal comes back, once; « Later » on it does not nag.
    runtime = bot_client.app[RUNTIME]
    clock = Clock(now=NOW + planning.NEEDS_LATER + timedelta(minutes=1))
    await dispatcher(runtime, clock).dispatch_once()
    assert len([c for c in connector.cards() if TITLE_FR in card_text(c)]) == 2
    with time_machine.travel(clock.now, tick=True):
        await animator.click(later)
    assert "je ne vous reproposerai plus" in animator.last_text()
    assert len(await _proposals(runtime.sessions)) == 2

    # A member's forged click postpones nothing.
    member = Chat(bot_client, connector, {**ANIMATOR, "id": "29:user-9", "aadObjectId": "x-9"})
    await member.click(later)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s d’une communauté")


async def test_later_in_english(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    card = await _delivered_proposal(bot_client, connector)
    later = next(a["data"] for a in card_actions(card) if a["title"] == "Plus tard")
    animator = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    await animator.click(later)
    assert animator.last_text() == (
        "All right: I will suggest the needs survey of CdeP Soins palliatifs Montérégie again "
        "in 30 days. "
        "You can also launch it whenever you like by writing “needs survey”."
    )
