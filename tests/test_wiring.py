"""Features reach users through the handler: commands and buttons over HTTP, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import RUNTIME
from storage.models import ConsultationRequest, Person, Poll, PollVote, Topic
from tests.fake_connector import FakeConnector
from tests.support import card_actions
from tests.test_communities import ANIMATOR, JOIN_ANSWERS, MEMBER, Chat, card_text, set_up_community

Client = TestClient[web.Request, web.Application]


async def _member(client: Client, connector: FakeConnector) -> Chat:
    member = Chat(client, connector, MEMBER)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    return member


async def test_propose_a_topic_then_vote_for_it(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = await _member(bot_client, connector)
    await member.say("proposer un sujet")
    for answer in ["Le deuil blanc chez les proches aidants", "passer", "1", "passer", "Oui"]:
        await member.say(answer)
    await member.say("Confirmer")
    async with bot_client.app[RUNTIME].sessions() as session:
        topic = (await session.exec(select(Topic))).one()
    assert topic.title == "Le deuil blanc chez les proches aidants"
    await member.say("sujets")
    bank = member.last_card()
    assert "Le deuil blanc chez les proches aidants" in card_text(bank)
    await member.click({"verb": "topics.vote", "topic_id": topic.id})
    await member.say("sujets")
    assert "1\u00a0appui" in card_text(member.last_card())


async def test_an_animator_posts_a_poll_and_a_member_votes(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = await _member(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    await member.say("sondage", channel=True)
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Poll))).all() == []
    await animator.say("sondage", channel=True)
    form = animator.last_card()
    assert form["actions"][0]["data"]["verb"].startswith("polls.")
    closes = (datetime.now(ZoneInfo("America/Montreal")) + timedelta(days=5)).date().isoformat()
    await animator.click(
        {
            "verb": "polls.create",
            "question": "Quelle date pour la rencontre de janvier ?",
            "options": "Mardi 13 janvier\nJeudi 15 janvier",
            "multiple": "false",
            "anonymous": "true",
            "close_date": closes,
            "close_time": "17:00",
        },
        channel=True,
    )
    async with bot_client.app[RUNTIME].sessions() as session:
        poll = (await session.exec(select(Poll))).one()
    posted = card_text(connector.cards("19:channel@thread.tacv2")[-1])
    assert "Quelle date pour la rencontre de janvier ?" in posted
    await member.click({"verb": "polls.vote", "poll_id": poll.id, "choice": "1"}, channel=True)
    async with bot_client.app[RUNTIME].sessions() as session:
        ballots = (await session.exec(select(PollVote))).all()
    assert [b.choices for b in ballots] == [[1]]
    assert ballots[0].person_id is None  # anonymous
    updates = [r for r in connector.received if r.method == "PUT"]
    assert updates, "the posted poll card is updated in place"
    assert poll.closes_at > datetime.now(UTC)


async def test_my_data_then_erasure_with_confirmation(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = await _member(bot_client, connector)
    await member.say("mes données")
    card = member.last_card()
    verbs = [a["data"]["verb"] for a in card.get("actions", []) if "data" in a]
    assert "privacy.erase.ask" in verbs
    assert "CdeP Soins palliatifs Montérégie" in card_text(card)
    await member.click({"verb": "privacy.erase.ask"})
    # The confirmation card (cards/confirm.py): its button sends the verb again, confirmed,
    # with a short-lived nonce.
    confirmed = next(
        a["data"] for a in card_actions(member.last_card()) if a["data"].get("confirmed")
    )
    assert confirmed["verb"] == "privacy.erase.ask"
    await member.click({**confirmed, "nonce": "forged"})
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (
            await session.exec(select(Person).where(Person.teams_user_id == MEMBER["id"]))
        ).first()
    await member.click(confirmed)
    async with bot_client.app[RUNTIME].sessions() as session:
        still = (await session.exec(select(Person).where(Person.name == "Samuel Gagnon"))).all()
    assert still == []


async def test_a_consultation_request_from_the_channel_continues_in_private(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = await _member(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say(
        "nommer <at>Léa Tremblay</at> coordination", channel=True, mentions=[ANIMATOR]
    )
    await member.say("consultation", channel=True)
    personal = f"a:personal-{MEMBER['id']}"
    assert connector.texts(personal)[-1].startswith("Demande de consultation professionnelle")
    assert "privé" in connector.texts("19:channel@thread.tacv2")[-1]
    await member.say("1")
    assert member.last_text().startswith("Décrivez la situation")
    await member.say("Mme X (joignable au 450-555-1234) refuse que l’équipe parle à sa fille.")
    assert "450-555-1234" not in member.last_text()  # never echoed back
    await member.say("Une usagère refuse que l’équipe informe sa fille de son pronostic.")
    assert member.last_text().startswith("À quel point est-ce urgent\u00a0?")
    for answer in ("1", "1", "Mardis après-midi"):
        await member.say(answer)
    await member.say("Envoyer")
    async with bot_client.app[RUNTIME].sessions() as session:
        (request,) = (await session.exec(select(ConsultationRequest))).all()
    assert request.reference in member.last_text()
    assert request.summary == "Une usagère refuse que l’équipe informe sa fille de son pronostic."
