"""Meetings over HTTP: planning in two cards, the agenda card, RSVPs updating it in place,
reminders with the agenda, moving, cancelling, and attendance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import RUNTIME
from storage.db import transaction
from storage.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingStatus,
    OutboxMessage,
    Person,
    Topic,
    TopicStatus,
    Volet,
)
from tests.fake_connector import FakeConnector
from tests.support import Clock, dispatcher, scheduled_jobs
from tests.test_communities import ANIMATOR, JOIN_ANSWERS, MEMBER, Chat, card_text, set_up_community

Client = TestClient[web.Request, web.Application]
MONTREAL = ZoneInfo("America/Montreal")
DAY = (datetime.now(MONTREAL) + timedelta(days=30)).date()

MEETING_FORM = {
    "verb": "meetings.plan",
    "title": "Rencontre d’automne",
    "date": DAY.isoformat(),
    "start": "09:00",
    "end": "16:00",
    "mode": "hybrid",
    "place": "CLSC de Longueuil, salle 204",
    "link": "https://teams.microsoft.com/l/meetup-join/exemple",
    "general_objective": "Mieux accompagner les proches aidants",
    "specific_objectives": "Connaître les ressources\nPartager nos outils",
    "topic_id": "",
}


def _agenda_values(card: dict[str, Any]) -> dict[str, Any]:
    """What Teams sends back when the agenda form's Publish button is clicked unchanged."""
    values: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and "id" in node:
                values[node["id"]] = node.get("value", "")
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card["body"])
    return values


def _action(card: dict[str, Any], verb: str) -> dict[str, Any]:
    return next(a["data"] for a in card["actions"] if a["data"]["verb"] == verb)


async def _plan(animator: Chat, **changes: Any) -> dict[str, Any]:
    await animator.say("planifier une rencontre", channel=True)
    await animator.click({**MEETING_FORM, **changes}, channel=True)
    return animator.last_card()


async def _publish(animator: Chat, agenda_form: dict[str, Any], **changes: Any) -> None:
    data = {
        **_action(agenda_form, "meetings.agenda.publish"),
        **_agenda_values(agenda_form),
        **changes,
    }
    await animator.click(data, channel=True)


async def test_planning_a_meeting_posts_the_agenda_card_in_the_channel(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    async with transaction(bot_client.app[RUNTIME].sessions) as session:
        topic = Topic(
            community_id=community.id or 0, title="Le deuil blanc", status=TopicStatus.SHORTLISTED
        )
        session.add(topic)
    animator = Chat(bot_client, connector, ANIMATOR)
    form = await _plan(animator, end="08:00")
    assert "La fin doit venir après le début." in card_text(form)
    form = await _plan(animator, topic_id=str(topic.id))
    text = card_text(form)
    for usual in (
        "Accueil",
        "Tour de table",
        "Affaires diverses",
        "Volet formatif\u00a0: Le deuil blanc",
        "Repas",
        "Discussion de cas complexe",
        "Fin de la journée",
    ):
        assert usual in text
    await animator.click(
        {**_action(form, "meetings.agenda.add_row"), **_agenda_values(form)}, channel=True
    )
    longer = animator.last_card()
    assert _action(longer, "meetings.agenda.publish")["rows"] == 8
    await _publish(animator, longer, title_7="", time_7="", presenter_3="Dre Marie Roy")

    assert animator.last_text().startswith("Ordre du jour publié.")
    agenda = card_text(connector.cards()[-1])
    assert "Ordre du jour" in agenda
    assert "Volet formatif\u00a0: Le deuil blanc — Dre Marie Roy" in agenda
    assert "Mieux accompagner les proches aidants" in agenda
    assert "Présent·e (0)" in agenda
    async with bot_client.app[RUNTIME].sessions() as session:
        meeting = (await session.exec(select(Meeting))).one()
        items = (await session.exec(select(AgendaItem).order_by(col(AgendaItem.position)))).all()
        scheduled = await session.get(Topic, topic.id)
    assert meeting.starts_at == datetime.combine(
        DAY, datetime.min.time().replace(hour=9), tzinfo=MONTREAL
    ).astimezone(UTC)
    assert meeting.activity_id
    assert meeting.conversation_ref_id
    assert len(items) == 7  # the empty added row is ignored
    assert items[3].volet == Volet.FORMATIVE
    assert items[3].topic_id == topic.id
    assert scheduled is not None
    assert scheduled.status == TopicStatus.SCHEDULED


async def test_only_animators_plan_meetings(bot_client: Client, connector: FakeConnector) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("planifier une rencontre", channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s de la communauté")
    await member.click(MEETING_FORM, channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s de la communauté")
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Meeting))).all() == []


async def test_planning_in_english_with_invalid_input(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    await animator.say("language en")
    form = await _plan(animator, date="not a date")
    assert "Choose a valid date and times." in card_text(form)
    form = await _plan(animator, date=(date.today() - timedelta(days=3)).isoformat())
    assert "The meeting must be in the future." in card_text(form)
    form = await _plan(animator, mode="virtual", link="")
    assert "Give the online meeting link (virtual or hybrid format)." in card_text(form)


async def _planned(bot_client: Client, connector: FakeConnector) -> tuple[Chat, Chat, Meeting]:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    await _publish(animator, await _plan(animator))
    async with bot_client.app[RUNTIME].sessions() as session:
        meeting = (await session.exec(select(Meeting))).one()
    return animator, member, meeting


async def test_rsvp_updates_the_posted_card_in_place(
    bot_client: Client, connector: FakeConnector
) -> None:
    _animator, member, meeting = await _planned(bot_client, connector)
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    assert member.last_text() == "C’est noté\u00a0: vous serez présent·e. À bientôt\u00a0!"
    runtime = bot_client.app[RUNTIME]
    await dispatcher(runtime, Clock(now=datetime.now(UTC))).dispatch_once()
    (update,) = [r for r in connector.received if r.method == "PUT"]
    assert update.path.endswith(f"/activities/{meeting.activity_id}")
    assert "Présent·e (1)" in card_text(update.body["attachments"][0]["content"])
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "no"})
    await member.say("ordre du jour")
    assert "Présent·e (0)" in card_text(member.last_card())
    assert "Absent·e (1)" in card_text(member.last_card())


async def test_reminders_carry_the_agenda_and_skip_those_who_declined(
    bot_client: Client, connector: FakeConnector
) -> None:
    _animator, member, meeting = await _planned(bot_client, connector)
    runtime = bot_client.app[RUNTIME]
    clock = Clock(now=meeting.starts_at - timedelta(days=1))
    jobs = scheduled_jobs(runtime, clock)
    # Only the member consented to reminders (the animator set up the community, never joined).
    assert await jobs.run("meeting_reminders") == 1
    await dispatcher(runtime, clock).dispatch_once()
    personal = f"a:personal-{MEMBER['id']}"
    (reminder,) = [c for c in connector.cards(personal) if "Rappel" in card_text(c)]
    text = card_text(reminder)
    assert "Rappel\u00a0: rencontre de CdeP Soins palliatifs Montérégie" in text
    assert "Tour de table" in text
    assert "Je serai présent·e" in text
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "no"})
    async with runtime.sessions() as session:
        member_id = (
            await session.exec(select(Person.id).where(Person.teams_user_id == MEMBER["id"]))
        ).one()
    # Declining after the reminder was queued: the next reminder skips the member.
    clock.now = meeting.starts_at - timedelta(minutes=50)
    await jobs.run("meeting_reminders")
    async with runtime.sessions() as session:
        last = (
            await session.exec(
                select(OutboxMessage.person_id).where(
                    col(OutboxMessage.dedup_key).contains(":PT1H")
                )
            )
        ).all()
    assert member_id not in last


async def test_moving_and_cancelling_tell_those_who_accepted(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    await animator.say("déplacer la rencontre", channel=True)
    move = animator.last_card()
    assert _action(move, "meetings.move")["meeting_id"] == meeting.id
    later = (DAY + timedelta(days=7)).isoformat()
    await animator.click(
        {
            "verb": "meetings.move",
            "meeting_id": meeting.id,
            "date": later,
            "start": "13:00",
            "end": "16:30",
        },
        channel=True,
    )
    assert animator.last_text().startswith("La rencontre est déplacée.")
    await animator.say("annuler la rencontre", channel=True)
    # Asked first (tests/test_meeting_changes.py covers the confirmation itself).
    confirm = animator.last_card()
    await animator.click(
        next(a["data"] for a in confirm["actions"] if a["data"].get("confirmed")), channel=True
    )
    assert "est annulée." in card_text(animator.last_card())
    runtime = bot_client.app[RUNTIME]
    await dispatcher(runtime, Clock(now=datetime.now(UTC))).dispatch_once()
    personal = f"a:personal-{MEMBER['id']}"
    notices = [t for t in connector.texts(personal) if "CdeP Soins palliatifs Montérégie" in t]
    assert any("est déplacée au" in t for t in notices)
    assert any("est annulée" in t for t in notices)
    async with runtime.sessions() as session:
        moved = await session.get(Meeting, meeting.id)
    assert moved is not None
    assert moved.status == MeetingStatus.CANCELLED
    assert moved.starts_at.astimezone(MONTREAL).hour == 13
    updates = [r for r in connector.received if r.method == "PUT"]
    assert "Rencontre annulée" in card_text(updates[-1].body["attachments"][0]["content"])


async def test_after_the_meeting_the_animator_confirms_attendance(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    runtime = bot_client.app[RUNTIME]
    clock = Clock(now=meeting.ends_at + timedelta(minutes=10))
    jobs = scheduled_jobs(runtime, clock)
    assert await jobs.run("attendance_requests") == 1
    assert await jobs.run("attendance_requests") == 0
    await dispatcher(runtime, clock).dispatch_once()
    roll = connector.cards()[-1]
    toggles = {i["title"]: i["value"] for i in roll["body"] if i.get("type") == "Input.Toggle"}
    assert toggles == {"Léa Tremblay": "false", "Samuel Gagnon": "true"}
    # The meeting has not ended for real yet (the bot's clock): confirming says so.
    values = {i["id"]: i["value"] for i in roll["body"] if i.get("type") == "Input.Toggle"}
    await animator.click({"verb": "meetings.attendance", "meeting_id": meeting.id, **values})
    assert animator.last_text() == "La rencontre n’est pas encore terminée."
    async with transaction(runtime.sessions) as session:
        stored = await session.get(Meeting, meeting.id)
        assert stored is not None
        stored.starts_at -= timedelta(days=60)
        stored.ends_at -= timedelta(days=60)
    await member.click({"verb": "meetings.attendance", "meeting_id": meeting.id, **values})
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await animator.click({"verb": "meetings.attendance", "meeting_id": meeting.id, **values})
    assert animator.last_text() == "Présences enregistrées\u00a0: 1\u00a0personne."
    async with runtime.sessions() as session:
        (present,) = (await session.exec(select(Attendance))).all()
    assert present.minutes == 7 * 60
