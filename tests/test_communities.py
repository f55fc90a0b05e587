"""Communities end to end over HTTP: setup in a channel, joining, leaving, roles, onboarding."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import RUNTIME
from storage.db import transaction
from storage.models import (
    Community,
    Membership,
    OnboardingEnrollment,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from tests import factories
from tests.activities import TENANT, message, user
from tests.fake_connector import FakeConnector

Client = TestClient[web.Request, web.Application]
CHANNEL = "19:channel@thread.tacv2"
ANIMATOR = user(1, "Léa Tremblay")
MEMBER = user(2, "Samuel Gagnon")

SETUP_FORM = {
    "verb": "communities.setup",
    "name": "CdeP Soins palliatifs Montérégie",
    "domain": "Soins palliatifs et de fin de vie à domicile",
    "objectives": "Partager nos pratiques\nSoutenir les nouvelles recrues",
    "theme": "fin de vie, deuil, proches aidants",
    "audience": "Intervenant·e·s psychosociaux",
    "cadence": "5\xa0rencontres par année",
    "mode": "hybrid",
    "rules": "Confidentialité\nRespect",
}


class Chat:
    """One person talking to the bot, as Teams would post their messages."""

    def __init__(
        self,
        client: Client,
        connector: FakeConnector,
        sender: dict[str, Any],
        locale: str = "fr-CA",
    ) -> None:
        self.client, self.connector, self.sender, self.locale = client, connector, sender, locale

    async def say(self, text: str | None, *, channel: bool = False, **extra: Any) -> None:
        activity = message(
            text,
            service_url=self.connector.url,
            sender=self.sender,
            locale=self.locale,
            conversation_type="channel" if channel else "personal",
            mention_bot=channel and text is not None,
            **extra,
        )
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    async def click(self, value: dict[str, Any], *, channel: bool = False) -> None:
        await self.say(None, channel=channel, value=value)

    def last_text(self) -> str:
        return self.connector.texts()[-1]

    def last_card(self) -> dict[str, Any]:
        return self.connector.cards()[-1]


def card_text(card: dict[str, Any]) -> str:
    """Every string a user could read on a card."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "value", "label") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)


async def set_up_community(client: Client, connector: FakeConnector) -> Community:
    animator = Chat(client, connector, ANIMATOR)
    await animator.say("configurer", channel=True)
    await animator.click(SETUP_FORM, channel=True)
    async with client.app[RUNTIME].sessions() as session:
        return (await session.exec(select(Community))).one()


async def test_setup_in_a_channel_binds_the_community_and_makes_the_author_animator(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say("configurer", channel=True)
    form = animator.last_card()
    assert form["body"][0]["text"] == "Configurer une communauté de pratique"
    assert "Confidentialité" in card_text(form)  # the usual rules are pre-filled

    await animator.click({**SETUP_FORM, "name": "", "objectives": ""}, channel=True)
    retry = card_text(animator.last_card())
    assert "Le nom doit compter de 3\xa0à 200\xa0caractères." in retry
    assert "Indiquez au moins un objectif (un par ligne)." in retry

    await animator.click(SETUP_FORM, channel=True)
    assert animator.connector.texts()[-1].startswith(
        "La communauté «\xa0CdeP Soins palliatifs Montérégie\xa0» est créée"
    )
    one_pager = card_text(animator.last_card())
    assert "Partager nos pratiques" in one_pager
    assert "Léa Tremblay" in one_pager
    async with bot_client.app[RUNTIME].sessions() as session:
        community = (await session.exec(select(Community))).one()
        roles = (await session.exec(select(Membership.roles))).one()
    assert community.teams_channel_id == CHANNEL
    assert community.objectives == ["Partager nos pratiques", "Soutenir les nouvelles recrues"]
    assert community.tenant_id == TENANT
    assert roles == ["member", "animator"]


async def test_nobody_can_set_up_a_channel_twice(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("configurer", channel=True)
    assert member.last_text().startswith("Ce canal a déjà une communauté de pratique.")
    async with bot_client.app[RUNTIME].sessions() as session:
        assert len((await session.exec(select(Community))).all()) == 1


async def test_setup_in_a_personal_chat_points_to_the_channel(
    bot_client: Client, connector: FakeConnector
) -> None:
    await Chat(bot_client, connector, ANIMATOR).say("configurer")
    assert connector.texts()[-1].startswith("La configuration se fait dans un canal")


async def test_one_person_in_a_dialog_does_not_capture_another_in_the_channel(
    bot_client: Client, connector: FakeConnector
) -> None:
    await Chat(bot_client, connector, ANIMATOR).say("configurer", channel=True)
    await Chat(bot_client, connector, MEMBER).say("aide", channel=True)
    assert connector.cards()[-1]["body"][0]["text"] == "Carrefour — vos communautés de pratique"


async def _join(chat: Chat, answers: list[str]) -> None:
    await chat.say("rejoindre")
    for answer in answers:
        await chat.say(answer)


JOIN_ANSWERS = ["1", "CLSC de Longueuil", "16", "1, 3", "Non", "Rappels et sondages", "Confirmer"]
# The same, answering "yes" to "are you a new hire?".
NEW_HIRE_ANSWERS = [*JOIN_ANSWERS[:4], "Oui", *JOIN_ANSWERS[5:]]


async def test_joining_asks_each_question_then_welcomes_with_the_one_pager(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("rejoindre")
    assert member.last_text().startswith("Quelle est votre discipline\xa0?")
    await member.say("zzz")
    assert member.last_text().startswith("Je n’ai pas reconnu cette discipline.")
    await member.say("1")
    assert member.last_text().startswith("Dans quel établissement")
    await member.say("a")
    assert member.last_text().startswith("Écrivez le nom de votre établissement")
    await member.say("CLSC de Longueuil")
    assert member.last_text().startswith("Dans quelle région administrative\xa0?")
    await member.say("Montérégie")
    assert member.last_text().startswith("Quels sujets vous intéressent\xa0?")
    assert "1. fin de vie" in member.last_text()  # the community's own themes
    await member.say("99")
    assert member.last_text().startswith("Je n’ai pas reconnu votre choix.")
    await member.say("1, 3")
    await member.say("Non")
    await member.say("Rappels et sondages")
    summary = member.last_text()
    assert "Discipline\xa0: Travail social" in summary
    assert "Région\xa0: Montérégie" in summary
    assert "Intérêts\xa0: Fin de vie, Proches aidants" in summary
    await member.say("Confirmer")
    welcome, one_pager = connector.cards()[-2:]
    assert (
        welcome["body"][0]["text"] == "Bienvenue dans CdeP Soins palliatifs Montérégie, Samuel\xa0!"
    )
    assert "Soins palliatifs et de fin de vie à domicile" in card_text(one_pager)

    runtime = bot_client.app[RUNTIME]
    async with runtime.sessions() as session:
        person = (
            await session.exec(select(Person).where(Person.teams_user_id == MEMBER["id"]))
        ).one()
        membership = (
            await session.exec(select(Membership).where(Membership.person_id == person.id))
        ).one()
        notices = (await session.exec(select(OutboxMessage))).all()
    assert membership.community_id == community.id
    assert (membership.discipline, membership.region) == ("social_work", "16")
    assert membership.interests == ["fin de vie", "proches aidants"]
    assert person.consent_reminders
    assert person.consent_surveys
    # The animator is told who joined (through the outbox).
    assert [(n.kind, n.params["values"]["name"]) for n in notices] == [("notice", "Samuel Gagnon")]


async def test_joining_in_english(bot_client: Client, connector: FakeConnector) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER, locale="en-US")
    await member.say("join")
    assert member.last_text().startswith("What is your discipline?")
    for answer in ["nursing", "CISSS de Laval", "13", "2", "No", "Neither"]:
        await member.say(answer)
    assert "Discipline: Nursing" in member.last_text()
    assert "Reminders: No" in member.last_text()
    await member.say("Confirm")
    assert connector.cards()[-2]["body"][0]["text"] == (
        "Welcome to CdeP Soins palliatifs Montérégie, Samuel!"
    )


async def test_cancel_at_any_step_saves_nothing(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await _join(member, ["1", "CLSC de Longueuil"])
    await member.say("annuler")
    assert member.last_text() == "D’accord, j’ai tout annulé. Rien n’a été enregistré."
    async with bot_client.app[RUNTIME].sessions() as session:
        assert len((await session.exec(select(Membership))).all()) == 1  # the animator only


async def test_an_existing_member_is_offered_to_update_the_profile(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await _join(member, JOIN_ANSWERS)
    await member.say("rejoindre")
    assert member.last_text().startswith("Vous êtes déjà membre de CdeP Soins palliatifs")
    await member.say("Non, merci")
    assert member.last_text() == "D’accord, rien n’a changé."
    await _join(
        member,
        [
            "Mettre à jour",
            "3",
            "CLSC de Longueuil",
            "16",
            "1",
            "Non",
            "Ni l’un ni l’autre",
            "Confirmer",
        ],
    )
    assert member.last_text() == "Votre profil dans CdeP Soins palliatifs Montérégie est à jour."


async def test_a_new_hire_gets_the_onboarding_plan_and_leaving_stops_it(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await _join(member, NEW_HIRE_ANSWERS)
    assert member.last_text().startswith("Bienvenue dans CdeP Soins palliatifs Montérégie\xa0!")
    runtime = bot_client.app[RUNTIME]
    async with runtime.sessions() as session:
        steps = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "onboarding_step")
                .order_by(col(OutboxMessage.not_before))
            )
        ).all()
        enrollment = (await session.exec(select(OnboardingEnrollment))).one()
    assert [s.params["step"] for s in steps] == [
        "welcome",
        "meetings",
        "mentor_offer",
        "topics",
        "checkin",
    ]
    start = enrollment.started_at
    assert [s.not_before - start for s in steps] == [timedelta(days=d) for d in (0, 2, 7, 14, 30)]
    await member.say("quitter")
    # Leaving asks first, on the confirmation card; its button leaves.
    confirmation = member.last_card()
    assert "Quitter CdeP Soins palliatifs Montérégie\xa0?" in card_text(confirmation)
    (leave,) = [a for a in confirmation["actions"] if a["data"].get("confirmed") is True]
    await member.click(leave["data"])
    assert card_text(member.last_card()).startswith(
        "Vous avez quitté CdeP Soins palliatifs Montérégie."
    )
    async with runtime.sessions() as session:
        statuses = (
            await session.exec(
                select(OutboxMessage.status).where(OutboxMessage.kind == "onboarding_step")
            )
        ).all()
        membership = (
            await session.exec(
                select(Membership)
                .where(Membership.community_id == community.id)
                .where(col(Membership.left_at).is_not(None))
            )
        ).one()
    assert set(statuses) == {OutboxStatus.CANCELLED}
    assert membership.discipline == "social_work"  # the profile is kept for a return


async def test_join_from_the_channel_continues_in_the_personal_chat(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("aide")  # the bot knows their personal chat
    await member.say("rejoindre", channel=True)
    personal = f"a:personal-{MEMBER['id']}"
    assert connector.texts(personal)[-1].startswith("Quelle est votre discipline\xa0?")
    assert (
        connector.texts(CHANNEL)[-1]
        == "Samuel, je vous écris en privé pour compléter votre adhésion."
    )
    for answer in JOIN_ANSWERS[:-1]:
        await member.say(answer)
    assert "CdeP Soins palliatifs Montérégie" in member.last_text()  # straight to this community


async def test_animators_grant_and_remove_roles_members_cannot(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    member = Chat(bot_client, connector, MEMBER)
    await animator.say(
        "nommer <at>Samuel Gagnon</at> coordination",
        channel=True,
        mentions=[MEMBER],
    )
    assert animator.last_text() == (
        "C’est fait\xa0: Samuel Gagnon — rôle «\xa0coordination professionnelle\xa0» dans "
        "CdeP Soins palliatifs Montérégie."
    )
    await member.say(
        "retirer <at>Léa Tremblay</at> animateur",
        channel=True,
        mentions=[ANIMATOR],
    )
    assert member.last_text().startswith("Désolé, seul·e·s les animateur·rice·s")
    await member.say("configurer", channel=True)
    await animator.say(
        "retirer <at>Léa Tremblay</at> animatrice",
        channel=True,
        mentions=[ANIMATOR],
    )
    assert animator.last_text().startswith("La communauté doit garder au moins un·e animateur·rice")
    async with bot_client.app[RUNTIME].sessions() as session:
        roles = dict((await session.exec(select(Membership.person_id, Membership.roles))).all())
    assert sorted(map(tuple, roles.values())) == [("member", "animator"), ("member", "coordinator")]


async def test_someone_added_to_the_team_starts_onboarding(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    update = message(None, service_url=connector.url, conversation_type="channel")
    update.update(
        type="conversationUpdate",
        membersAdded=[{"id": "29:newcomer", "aadObjectId": "00000000-0000-0000-0000-000000000099"}],
    )
    await bot_client.post("/api/messages", json=update)
    async with bot_client.app[RUNTIME].sessions() as session:
        newcomer = (
            await session.exec(select(Person).where(Person.teams_user_id == "29:newcomer"))
        ).one()
        enrollment = (await session.exec(select(OnboardingEnrollment))).one()
        membership = (
            await session.exec(select(Membership).where(Membership.person_id == newcomer.id))
        ).one()
    assert enrollment.person_id == newcomer.id
    assert enrollment.source == "team_join"
    assert membership.is_new_hire


async def test_onboarding_plan_is_for_animators_and_validated(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("accueil", channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await animator.say("accueil", channel=True)
    assert "Plan d’accueil — CdeP Soins palliatifs Montérégie" in card_text(animator.last_card())
    plan = {"verb": "onboarding.plan.save", "community_id": community.id}
    days = {"welcome": 0, "meetings": 3, "mentor_offer": 10, "topics": 14, "checkin": 45}
    values = {f"day_{k}": str(v) for k, v in days.items()} | {"enabled_topics": "false"}
    await animator.click({**plan, **values, "day_meetings": "-2"}, channel=True)
    assert "Chaque jour doit être un nombre entier de 0\xa0à 365." in card_text(
        animator.last_card()
    )
    await member.click({**plan, **values}, channel=True)
    await animator.click({**plan, **values}, channel=True)
    assert animator.last_text() == "Plan d’accueil enregistré."
    async with bot_client.app[RUNTIME].sessions() as session:
        saved = (await session.exec(select(Community))).one().settings["onboarding_plan"]
    assert {s["key"]: (s["day"], s["enabled"]) for s in saved}["topics"] == (14, False)
    assert {s["key"]: s["day"] for s in saved}["checkin"] == 45


def _plan_inputs(card: dict[str, Any]) -> dict[str, Any]:
    """The onboarding plan card's inputs, by id, with the value each shows."""
    found: dict[str, Any] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if str(item.get("type", "")).startswith("Input."):
                found[item["id"]] = item.get("value")
            walk(item.get("items", []))
            walk(item.get("columns", []))

    walk(card["body"])
    return found


async def test_an_out_of_range_onboarding_day_is_refused_and_the_form_keeps_the_entries(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    plan = {"verb": "onboarding.plan.save", "community_id": community.id}
    days = {"welcome": 0, "meetings": 3, "mentor_offer": 10, "topics": 14, "checkin": 9999}
    values = {f"day_{k}": str(v) for k, v in days.items()} | {"enabled_topics": "false"}
    await animator.click({**plan, **values, "day_meetings": "-3"}, channel=True)
    card = animator.last_card()
    assert "Each day must be a whole number from 0 to 365." in card_text(card)
    # What was typed stays in the form, so it can be corrected rather than typed again.
    shown = _plan_inputs(card)
    assert shown["day_checkin"] == 9999
    assert shown["day_meetings"] == -3
    assert shown["day_mentor_offer"] == 10
    assert shown["enabled_topics"] == "false"
    assert "saved" not in card_text(card).lower()
    async with bot_client.app[RUNTIME].sessions() as session:
        stored = (await session.exec(select(Community))).one().settings
    assert "onboarding_plan" not in stored


async def test_the_day_30_check_in_is_stored_and_sent_to_the_animators(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await _join(member, NEW_HIRE_ANSWERS)
    await member.click({"verb": "onboarding.checkin", "community_id": community.id, "rating": "9"})
    assert member.last_text() == "Choisissez une réponse de 1\xa0à 5."
    await member.click(
        {
            "verb": "onboarding.checkin",
            "community_id": community.id,
            "rating": "4",
            "comment": "Un mentor",
        }
    )
    assert member.last_text() == "Merci\xa0! Votre réponse a été transmise aux animateur·rice·s."
    async with bot_client.app[RUNTIME].sessions() as session:
        enrollment = (await session.exec(select(OnboardingEnrollment))).one()
        notice = (
            await session.exec(
                select(OutboxMessage).where(
                    col(OutboxMessage.dedup_key).startswith("onboarding:checkin")
                )
            )
        ).one()
    assert (enrollment.checkin_rating, enrollment.checkin_comment) == (4, "Un mentor")
    assert notice.params["values"]["rating"] == 4


async def test_communities_lists_what_one_can_join(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    async with transaction(bot_client.app[RUNTIME].sessions) as session:
        await factories.community(session, name="CdeP Organisation communautaire")
    await Chat(bot_client, connector, MEMBER).say("communautés")
    card = connector.cards()[-1]
    text = card_text(card)
    assert "CdeP Organisation communautaire" in text
    assert "CdeP Soins palliatifs Montérégie" in text
    buttons = [
        a
        for item in card["body"]
        for block in item.get("items", [])
        if block.get("type") == "ActionSet"
        for a in block["actions"]
    ]
    assert [b["title"] for b in buttons] == ["Rejoindre", "Rejoindre"]
