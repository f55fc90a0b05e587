"""Onboarding steps reach the newcomer on their day, in their language, once; they stop when
the person leaves or the animators turn a step off."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Runtime
from storage import communities, onboarding
from storage.db import transaction
from storage.models import Community
from storage.onboarding import Step
from tests import factories
from tests.fake_connector import FakeConnector
from tests.support import Clock, dispatcher
from tests.test_communities import card_text


async def _newcomer(
    runtime: Runtime, connector: FakeConnector, clock: Clock, *, locale: str = "fr-CA"
) -> tuple[Community, int]:
    async with transaction(runtime.sessions) as session:
        community = await factories.community(session)
        newcomer = await factories.person(session, 5, service_url=connector.url, locale=locale)
        await factories.member(session, newcomer, community)
        await onboarding.start(
            session,
            community=community,
            person_id=newcomer.id or 0,
            source="team_join",
            now=clock.now,
        )
    return community, newcomer.id or 0


async def test_each_step_arrives_on_its_day_once(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    await _newcomer(runtime, connector, clock)
    sender = dispatcher(runtime, clock)
    await sender.dispatch_once()
    assert len(connector.cards()) == 1
    welcome = card_text(connector.cards()[0])
    assert "Bienvenue, Personne\xa0!" in welcome
    assert "Soins palliatifs à domicile" in welcome  # the one-pager comes with it
    clock.advance(days=1, hours=23)
    assert await sender.dispatch_once() == 0
    clock.advance(hours=1)
    await sender.dispatch_once()
    assert "Comment se déroulent les rencontres" in card_text(connector.cards()[-1])
    for day in (7, 14, 30):
        clock.now = Clock().now + timedelta(days=day)
        await sender.dispatch_once()
    titles = [card["body"][0]["text"] for card in connector.cards()]
    assert titles[2:] == [
        "Aimeriez-vous un·e mentor·e\xa0?",
        "La banque de sujets",
        "Un mois déjà\xa0: comment ça va\xa0?",
    ]
    # Starting again (a second team join, another replica) repeats nothing.
    async with transaction(runtime.sessions) as session:
        community = await communities.get_community(session, community_id=1)
        assert community is not None
        assert not await onboarding.start(
            session, community=community, person_id=1, source="join_dialog"
        )
    clock.advance(days=60)
    assert await sender.dispatch_once() == 0
    assert len(connector.cards()) == 5


async def test_in_english_for_an_english_speaker(
    runtime: Runtime, connector: FakeConnector
) -> None:
    clock = Clock()
    await _newcomer(runtime, connector, clock, locale="en-US")
    await dispatcher(runtime, clock).dispatch_once()
    assert "Welcome, Personne!" in card_text(connector.cards()[0])


async def test_leaving_stops_the_plan(runtime: Runtime, connector: FakeConnector) -> None:
    clock = Clock()
    community, person_id = await _newcomer(runtime, connector, clock)
    sender = dispatcher(runtime, clock)
    await sender.dispatch_once()
    async with transaction(runtime.sessions) as session:
        await communities.leave(session, person_id=person_id, community_id=community.id or 0)
        cancelled = await onboarding.stop(
            session, community_id=community.id or 0, person_id=person_id
        )
    assert cancelled == 4
    clock.advance(days=31)
    assert await sender.dispatch_once() == 0
    assert len(connector.cards()) == 1


async def test_a_step_turned_off_is_not_sent(runtime: Runtime, connector: FakeConnector) -> None:
    clock = Clock()
    community, _person = await _newcomer(runtime, connector, clock)
    async with transaction(runtime.sessions) as session:
        fresh = await communities.get_community(session, community_id=community.id or 0)
        assert fresh is not None
        plan = [Step(s.key, s.day, s.key != "topics") for s in onboarding.plan_of(fresh)]
        await onboarding.set_plan(session, community=fresh, steps=plan)
    clock.advance(days=14)
    await dispatcher(runtime, clock).dispatch_once()
    titles = [card["body"][0]["text"] for card in connector.cards()]
    assert "La banque de sujets" not in titles
    assert len(titles) == 3  # welcome, meetings, mentor offer; topics cancelled


async def test_the_day_14_message_has_its_button_to_propose_a_topic(
    runtime: Runtime, connector: FakeConnector
) -> None:
    """Like every other step that invites the newcomer to do something, the topic bank's
    message (« nommez ce qui vous serait utile ») comes with the button that does it."""
    clock = Clock()
    community, _person = await _newcomer(runtime, connector, clock)
    clock.advance(days=14)
    await dispatcher(runtime, clock).dispatch_once()
    (topics,) = [c for c in connector.cards() if c["body"][0]["text"] == "La banque de sujets"]
    assert [(a["title"], a["data"]) for a in topics["actions"]] == [
        ("Proposer un sujet", {"verb": "topics.propose", "community_id": community.id})
    ]
