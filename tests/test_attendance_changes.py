"""Attendance over HTTP, as the facilitator meets it after a meeting: the card shows what is
recorded, a second submission is a correction (additions at once, removals only after a
confirmation naming who loses their hours), a plain resubmission changes nothing, and the hours
are the agenda's training time (meals and breaks excluded), which the attestation states."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from pypdf import PdfReader
from sqlmodel import col, select

from bot.app import RUNTIME
from storage import meetings
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import AgendaItem, Attendance, Community, Meeting, Person, Volet
from tests import factories
from tests.activities import message
from tests.fake_connector import FakeConnector
from tests.support import Clock, dispatcher, scheduled_jobs
from tests.test_communities import (
    ANIMATOR,
    JOIN_ANSWERS,
    MEMBER,
    Chat,
    card_text,
    set_up_community,
)
from tests.test_meetings import _agenda_values, _plan

Client = TestClient[web.Request, web.Application]
MONTREAL = ZoneInfo("America/Montreal")
NBSP = "\u00a0"


class Animator:
    """The animator clicking buttons on cards, with the id of the card clicked (Teams sends it
    as `replyToId`), so an answer replacing that card can be seen."""

    def __init__(self, client: Client, connector: FakeConnector) -> None:
        self.client, self.connector = client, connector

    async def click(self, value: dict[str, Any], *, card_id: str) -> None:
        activity = message(None, service_url=self.connector.url, sender=ANIMATOR, value=value)
        activity["replyToId"] = card_id
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    def replaced(self, card_id: str) -> list[dict[str, Any]]:
        """The cards put in place of `card_id`, oldest first."""
        return [
            attachment["content"]
            for r in self.connector.received
            if r.method == "PUT" and r.path.endswith(f"/activities/{card_id}")
            for attachment in r.body.get("attachments") or []
        ]

    def texts(self) -> list[str]:
        return self.connector.texts()


def toggles(card: dict[str, Any]) -> dict[str, str]:
    """Title → value of each toggle of a card."""
    return {i["title"]: i["value"] for i in card["body"] if i.get("type") == "Input.Toggle"}


def submitted(card: dict[str, Any], **changes: str) -> dict[str, Any]:
    """What Teams sends when the card's button is clicked, with some toggles changed (by title
    prefix: the person's name)."""
    values = {i["id"]: i["value"] for i in card["body"] if i.get("type") == "Input.Toggle"}
    for name, value in changes.items():
        (key,) = [
            i["id"]
            for i in card["body"]
            if i.get("type") == "Input.Toggle" and i["title"].startswith(name.replace("_", " "))
        ]
        values[key] = value
    return {**card["actions"][0]["data"], **values}


# The usual day (bot/meetings_flow.py, default_agenda), local times: the lunch, from 12 h to
# 13 h 15, is marked as a meal.
USUAL_DAY = [
    (9, 0, "Accueil", Volet.LOGISTICS),
    (9, 30, "Tour de table", Volet.EXCHANGE),
    (10, 30, "Affaires diverses", Volet.EXCHANGE),
    (11, 0, "Volet formatif", Volet.FORMATIVE),
    (12, 0, "Repas", Volet.MEAL),
    (13, 15, "Discussion de cas complexe", Volet.REFLECTIVE),
    (16, 0, "Fin de la journée", Volet.LOGISTICS),
]


async def _ended_meeting(
    client: Client, connector: FakeConnector, *, agenda: list[tuple[int, int, str, Volet]]
) -> Meeting:
    """The community set up in its channel, Samuel joined, Zoé a member too, and a 9 h to
    16 h meeting that took place three days ago with the given agenda."""
    await set_up_community(client, connector)
    member = Chat(client, connector, MEMBER)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    runtime = client.app[RUNTIME]
    day = (datetime.now(MONTREAL) - timedelta(days=3)).date()
    async with transaction(runtime.sessions) as session:
        community = (await session.exec(select(Community))).one()
        zoe = await factories.person(session, 7)
        zoe.name = "Zoé Roy"
        await factories.member(session, zoe, community)
        meeting = await factories.meeting(
            session, community, starts_at=datetime.combine(day, time(9), MONTREAL)
        )
        for position, (hour, minute, title, volet) in enumerate(agenda):
            session.add(
                AgendaItem(
                    meeting_id=meeting.id or 0,
                    position=position,
                    starts_at=datetime.combine(day, time(hour, minute), MONTREAL),
                    title=title,
                    volet=volet,
                )
            )
    return meeting


async def _ended_meeting_with_three(
    client: Client, connector: FakeConnector
) -> tuple[Animator, Meeting, dict[str, Any]]:
    """The ended meeting and the attendance card the animator received after it."""
    meeting = await _ended_meeting(client, connector, agenda=USUAL_DAY)
    runtime = client.app[RUNTIME]
    clock = Clock(now=meeting.ends_at + timedelta(minutes=10))
    assert await scheduled_jobs(runtime, clock).run("attendance_requests") == 1
    # Queued now (the outbox's own clock): sent by a dispatcher that is past that moment.
    await dispatcher(runtime, Clock(now=datetime.now(UTC))).dispatch_once()
    return Animator(client, connector), meeting, connector.cards()[-1]


async def _recorded(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        rows = (
            await session.exec(
                select(Person.name, Attendance.minutes).join(
                    Attendance, col(Attendance.person_id) == col(Person.id)
                )
            )
        ).all()
    return {str(name): minutes for name, minutes in rows}


async def test_a_second_submission_is_a_correction_and_removals_ask_first(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _meeting, card = await _ended_meeting_with_three(bot_client, connector)
    sessions = bot_client.app[RUNTIME].sessions
    # Pre-checked from the RSVPs: nobody answered yet.
    assert toggles(card) == {"Léa Tremblay": "false", "Samuel Gagnon": "false", "Zoé Roy": "false"}

    everyone = submitted(card, Léa="true", Samuel="true", Zoé="true")
    await animator.click(everyone, card_id="roll-1")
    assert animator.texts()[-1] == f"Présences enregistrées{NBSP}: 3{NBSP}personnes."
    assert await _recorded(sessions) == {"Léa Tremblay": 345, "Samuel Gagnon": 345, "Zoé Roy": 345}
    # The clicked card now shows what is recorded, with each person's hours.
    (recorded,) = animator.replaced("roll-1")
    hours = f"5,75{NBSP}h"
    assert toggles(recorded) == {
        f"Léa Tremblay — {hours}": "true",
        f"Samuel Gagnon — {hours}": "true",
        f"Zoé Roy — {hours}": "true",
    }
    assert "Présences enregistrées" in card_text(recorded)

    # The same card again (or a co-animator's older copy) with only Samuel checked: nothing is
    # erased; a confirmation names who would lose their presence and hours.
    only_samuel = submitted(card, Léa="false", Samuel="true", Zoé="false")
    await animator.click(only_samuel, card_id="roll-1")
    assert await _recorded(sessions) == {"Léa Tremblay": 345, "Samuel Gagnon": 345, "Zoé Roy": 345}
    confirmation = animator.connector.cards()[-1]
    text = card_text(confirmation)
    assert (
        f"Léa Tremblay et 1{NBSP}autre personne perdront leur présence, leurs heures et leur "
        "attestation"
    ) in text
    assert "Zoé Roy" in text
    assert "Samuel Gagnon" not in text
    assert [a["data"]["verb"] for a in confirmation["actions"]] == [
        "meetings.attendance",
        "confirm.dismiss",
    ]

    confirm = confirmation["actions"][0]["data"]
    await animator.click(confirm, card_id="confirm-1")
    assert await _recorded(sessions) == {"Samuel Gagnon": 345}
    (after,) = animator.replaced("confirm-1")
    assert toggles(after) == {
        "Léa Tremblay": "false",
        f"Samuel Gagnon — {hours}": "true",
        "Zoé Roy": "false",
    }
    # The confirm button clicked twice removes once and says nothing changed.
    await animator.click(confirm, card_id="confirm-1")
    assert (
        animator.texts()[-1] == f"Ces présences étaient déjà enregistrées{NBSP}: 1{NBSP}personne."
    )
    assert await _recorded(sessions) == {"Samuel Gagnon": 345}

    # Adding someone back needs no confirmation; the others keep what they had.
    await animator.click(submitted(after, Zoé="true"), card_id="roll-2")
    assert await _recorded(sessions) == {"Samuel Gagnon": 345, "Zoé Roy": 345}
    assert animator.texts()[-1] == f"Présences enregistrées{NBSP}: 2{NBSP}personnes."

    # A plain resubmission of what is recorded changes nothing, and says so.
    (current,) = animator.replaced("roll-2")
    before = len(animator.connector.cards())
    await animator.click(submitted(current), card_id="roll-2")
    assert (
        animator.texts()[-1] == f"Ces présences étaient déjà enregistrées{NBSP}: 2{NBSP}personnes."
    )
    assert await _recorded(sessions) == {"Samuel Gagnon": 345, "Zoé Roy": 345}
    assert not any(
        "perdront" in card_text(c) or "perdra" in card_text(c)
        for c in animator.connector.cards()[before:]
    )


async def test_a_member_cannot_confirm_a_removal(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _meeting, card = await _ended_meeting_with_three(bot_client, connector)
    sessions = bot_client.app[RUNTIME].sessions
    await animator.click(submitted(card, Léa="true", Samuel="true"), card_id="roll-1")
    await animator.click(submitted(card, Léa="false", Samuel="true"), card_id="roll-1")
    confirm = animator.connector.cards()[-1]["actions"][0]["data"]
    member = Chat(bot_client, connector, MEMBER)
    await member.click(confirm)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    assert await _recorded(sessions) == {"Léa Tremblay": 345, "Samuel Gagnon": 345}


async def test_the_hours_leave_out_the_meal_and_the_attestation_says_so(
    bot_client: Client, connector: FakeConnector
) -> None:
    """A 9 h to 16 h day whose lunch lasts an hour (12 h to 13 h): 6 hours of training."""
    lunch_hour = [(9, 0, "Accueil", Volet.LOGISTICS), (12, 0, "Dîner", Volet.MEAL)]
    lunch_hour += [(13, 0, "Atelier-conférence", Volet.FORMATIVE)]
    meeting = await _ended_meeting(bot_client, connector, agenda=lunch_hour)
    runtime = bot_client.app[RUNTIME]
    member = Chat(bot_client, connector, MEMBER)
    day = meeting.starts_at.astimezone(MONTREAL).date()
    async with runtime.sessions() as session:
        samuel = (await session.exec(select(Person).where(Person.name == "Samuel Gagnon"))).one()

    animator = Animator(bot_client, connector)
    async with runtime.sessions() as session:
        found = await meetings.attendance_sheet(session, meeting_id=meeting.id or 0)
    assert found is not None
    assert found.training_minutes == 360
    await animator.click(
        {"verb": "meetings.attendance", "meeting_id": meeting.id, f"present_{samuel.id}": "true"},
        card_id="roll-1",
    )
    assert await _recorded(runtime.sessions) == {"Samuel Gagnon": 360}
    (recorded,) = animator.replaced("roll-1")
    assert f"6{NBSP}h de formation, repas et pauses exclus" in card_text(recorded)

    await member.say(f"attestation {day:%Y-%m}")
    links = re.findall(r"\]\((https?://[^)]+)\)", str(member.last_card()))
    assert "repas et pauses exclus" in card_text(member.last_card())
    response = await bot_client.get(urlsplit(links[0]).path)
    assert response.status == 200
    reader = PdfReader(io.BytesIO(await response.read()))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "repas et pauses exclus" in text
    assert "Total : 1 rencontre, 6 h" in text


async def test_the_agenda_form_offers_the_meal_mark(
    bot_client: Client, connector: FakeConnector
) -> None:
    """The facilitator marks a meal or break on the agenda form (the usual lunch comes marked)."""
    await set_up_community(bot_client, connector)
    form = await _plan(Chat(bot_client, connector, ANIMATOR))
    choices = next(
        i["choices"]
        for column_set in form["body"]
        if column_set.get("type") == "ColumnSet"
        for column in column_set["columns"]
        for i in column["items"]
        if str(i.get("id", "")).startswith("volet_")
    )
    assert {"title": "Repas ou pause (non compté)", "value": "meal"} in choices
    values = _agenda_values(form)
    lunch_row = next(k for k, v in values.items() if k.startswith("title_") and v == "Repas")
    assert values[lunch_row.replace("title_", "volet_")] == "meal"


async def test_training_time_and_corrections_on_each_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        now = datetime(2026, 11, 1, tzinfo=UTC)
        async with transaction(sessions) as session:
            where = await factories.community(session)
            people = [await factories.person(session, n) for n in (1, 2, 3)]
            for who in people:
                await factories.member(session, who, where)
            met = await factories.meeting(
                session, where, starts_at=datetime(2026, 10, 20, 13, tzinfo=UTC)
            )
            for position, (hour, minute, volet) in enumerate(
                [(13, 0, Volet.FORMATIVE), (15, 30, Volet.MEAL), (15, 45, Volet.EXCHANGE)]
            ):
                session.add(
                    AgendaItem(
                        meeting_id=met.id or 0,
                        position=position,
                        starts_at=datetime(2026, 10, 20, hour, minute, tzinfo=UTC),
                        title=f"Point {position}",
                        volet=volet,
                    )
                )
        ids = [p.id or 0 for p in people]
        async with transaction(sessions) as session:
            first = await meetings.record_attendance(
                session,
                meeting_id=met.id or 0,
                by_person_id=None,
                present_ids=ids,
                absent_ids=[],
                removal_confirmed=False,
                now=now,
            )
        async with transaction(sessions) as session:
            asked = await meetings.record_attendance(
                session,
                meeting_id=met.id or 0,
                by_person_id=None,
                present_ids=ids[:1],
                absent_ids=ids[1:],
                removal_confirmed=False,
                now=now,
            )
        async with transaction(sessions) as session:
            done = await meetings.record_attendance(
                session,
                meeting_id=met.id or 0,
                by_person_id=None,
                present_ids=ids[:1],
                absent_ids=ids[1:],
                removal_confirmed=True,
                now=now,
            )
            sheet = await meetings.attendance_sheet(session, meeting_id=met.id or 0)
    finally:
        await engine.dispose()
    # 7 hours less a quarter of an hour's break.
    assert (first.changed, [p.id for p in first.added]) == (True, ids)
    assert (asked.changed, [p.id for p in asked.needs_confirmation]) == (False, ids[1:])
    assert (done.changed, [p.id for p in done.removed]) == (True, ids[1:])
    assert sheet is not None
    assert sheet.training_minutes == 7 * 60 - 15
    assert [(line.person.id, line.minutes) for line in sheet.lines] == [
        (ids[0], 7 * 60 - 15),
        (ids[1], None),
        (ids[2], None),
    ]
