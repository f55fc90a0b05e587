"""Toolbox resources attached to a meeting's agenda items: a facilitator's « Joindre à une
rencontre », the link under the item on the agenda card and in the reminders, and the rules
the server keeps whatever a card claims (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from microsoft_agents.activity import Activity
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.deliveries import render_meeting_reminder
from bot.meetings_flow import render_agenda_card
from cards.i18n import translator
from storage import toolbox
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.meetings import KIND_REMINDER
from storage.models import (
    AgendaItem,
    AgendaResource,
    Community,
    Meeting,
    MeetingStatus,
    OutboxMessage,
    Person,
    Resource,
    Volet,
)
from tests import factories
from tests.support import card_actions, card_content, render_context
from tests.test_toolbox import T0, Bot, _id, card_of, joined, read, shared

MEETING_AT = T0 + timedelta(days=7)  # mardi 13 octobre 2026, 10 h à Montréal
URL = "https://www.inesss.qc.ca/outil.pdf"
FR_LINE = f"Ressource\xa0: [Échelle de Braden]({URL})"
EN_LINE = f"Resource: [Échelle de Braden]({URL})"


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass
class World:
    where: Community
    member: Person
    facilitator: Person
    meeting: Meeting
    welcome: AgendaItem
    cases: AgendaItem
    past_item: AgendaItem
    cancelled_item: AgendaItem
    elsewhere_item: AgendaItem
    braden: Resource


async def _item(
    session: AsyncSession, meeting: Meeting, position: int, title: str, volet: Volet
) -> AgendaItem:
    row = AgendaItem(
        meeting_id=_id_of(meeting),
        position=position,
        starts_at=meeting.starts_at + timedelta(hours=position),
        title=title,
        volet=volet,
    )
    session.add(row)
    await session.flush()
    return row


def _id_of(row: Meeting | AgendaItem) -> int:
    assert row.id is not None
    return row.id


async def _world(sessions: SessionFactory) -> World:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        member = await joined(session, 1, where)
        facilitator = await joined(session, 2, where, facilitator=True)
        meeting = await factories.meeting(session, where, starts_at=MEETING_AT)
        welcome = await _item(session, meeting, 0, "Accueil", Volet.LOGISTICS)
        cases = await _item(session, meeting, 1, "Discussion de cas", Volet.REFLECTIVE)
        past = await factories.meeting(session, where, starts_at=T0 - timedelta(days=7))
        past_item = await _item(session, past, 0, "Bilan passé", Volet.REFLECTIVE)
        cancelled = await factories.meeting(session, where, starts_at=MEETING_AT + timedelta(7))
        cancelled.status = MeetingStatus.CANCELLED
        cancelled_item = await _item(session, cancelled, 0, "Annulé", Volet.REFLECTIVE)
        other = await factories.community(session, name="CdeP Plaies")
        other_meeting = await factories.meeting(session, other, starts_at=MEETING_AT)
        elsewhere_item = await _item(session, other_meeting, 0, "Ailleurs", Volet.REFLECTIVE)
        braden = await shared(session, where, member, "Échelle de Braden", url=URL)
    return World(
        where,
        member,
        facilitator,
        meeting,
        welcome,
        cases,
        past_item,
        cancelled_item,
        elsewhere_item,
        braden,
    )


async def _links(sessions: SessionFactory) -> list[tuple[int, int]]:
    async with sessions() as session:
        rows = (await session.exec(select(AgendaResource))).all()
    return [(row.agenda_item_id, row.resource_id) for row in rows]


async def _agenda_text(sessions: SessionFactory, meeting: Meeting, locale: str) -> str:
    row = OutboxMessage(
        dedup_key="agenda-test",
        kind="agenda_card",
        params={"meeting_id": _id_of(meeting), "activity_id": "agenda-1", "locale": locale},
        not_before=T0,
    )
    activity = await render_agenda_card(render_context(sessions, row, now=T0, locale=locale))
    assert activity is not None
    assert activity.attachments
    return json.dumps(card_content(activity.attachments[0]), ensure_ascii=False)


async def _reminder_text(sessions: SessionFactory, w: World, locale: str) -> str:
    row = OutboxMessage(
        dedup_key="reminder-test",
        kind=KIND_REMINDER,
        params={"meeting_id": _id_of(w.meeting), "offset": "P1D"},
        person_id=_id(w.member),
        not_before=MEETING_AT - timedelta(days=1),
    )
    activity = await render_meeting_reminder(
        render_context(sessions, row, now=MEETING_AT - timedelta(days=1), locale=locale)
    )
    assert activity is not None
    assert activity.attachments
    return json.dumps(card_content(activity.attachments[0]), ensure_ascii=False)


def _buttons(activity: Activity) -> dict[str, dict[str, object]]:
    return {a["title"]: a for a in card_actions(card_of(activity)) if "title" in a}


async def test_a_facilitator_attaches_a_resource_shown_on_the_agenda_and_in_reminders(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    w = await _world(sessions)
    bot = Bot(sessions)

    # Only facilitators see the button, in their personal view.
    (box,) = await bot.send(w.member, "outils")
    assert "Joindre à une rencontre" not in _buttons(box)
    (box,) = await bot.send(w.facilitator, "outils")
    button = _buttons(box)["Joindre à une rencontre"]
    assert button["data"] == {"verb": "toolbox.attach", "resource_id": _id(w.braden)}

    # The upcoming published meeting's items only (not a past or cancelled one, nor another
    # community's).
    (choice,) = await bot.send(
        w.facilitator, value={"verb": "toolbox.attach", "resource_id": _id(w.braden)}
    )
    card = card_of(choice)
    (items,) = [e for e in card["body"] if e["type"] == "Input.ChoiceSet"]
    assert items["choices"] == [
        {"title": "mardi 13 octobre 2026 — Accueil", "value": str(_id_of(w.welcome))},
        {"title": "mardi 13 octobre 2026 — Discussion de cas", "value": str(_id_of(w.cases))},
    ]
    assert "Joindre «\xa0Échelle de Braden\xa0» à une rencontre" in read(choice)
    (english,) = await bot.send(
        w.facilitator,
        value={"verb": "toolbox.attach", "resource_id": _id(w.braden)},
        locale="en-US",
    )
    assert "Tuesday, October 13, 2026 — Accueil" in read(english)

    # « Joindre », twice (a double click): one link.
    attach = {**card_actions(card)[0]["data"], "agenda_item_id": str(_id_of(w.cases))}
    assert attach["verb"] == "toolbox.attach_to"
    assert await bot.send(w.facilitator, value=attach, reply_to_id="card-1") == []
    (done,) = bot.updated()
    assert read(Activity(type="message", attachments=done.attachments)) == (
        "«\xa0Échelle de Braden\xa0» est jointe au point «\xa0Discussion de cas\xa0»."
    )
    assert await bot.send(w.facilitator, value=attach, reply_to_id="card-1") == []
    (again,) = bot.updated()
    assert "était déjà jointe" in read(Activity(type="message", attachments=again.attachments))
    assert await _links(sessions) == [(_id_of(w.cases), _id(w.braden))]

    # Under its item on the agenda card and in the reminder, in fr and en.
    for locale, line in (("fr-CA", FR_LINE), ("en-US", EN_LINE)):
        agenda = await _agenda_text(sessions, w.meeting, locale)
        assert agenda.count(line) == 1
        assert agenda.index("Discussion de cas") < agenda.index(line)
        reminder = await _reminder_text(sessions, w, locale)
        assert reminder.count(line) == 1
        assert reminder.index("Discussion de cas") < reminder.index(line)

    # Retired: it leaves the agenda and the reminders (the link stays, unseen).
    async with transaction(sessions) as session:
        await toolbox.remove(
            session, resource_id=_id(w.braden), by_person_id=_id(w.facilitator), now=T0
        )
    assert FR_LINE not in await _agenda_text(sessions, w.meeting, "fr-CA")
    assert FR_LINE not in await _reminder_text(sessions, w, "fr-CA")
    assert "Discussion de cas" in await _reminder_text(sessions, w, "fr-CA")


async def test_forged_attach_buttons_change_nothing(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    w = await _world(sessions)
    bot = Bot(sessions)
    t = translator("fr-CA")
    refused = t("toolbox.manage.not_allowed")

    # A member who does not facilitate: neither the list nor the link.
    (answer,) = await bot.send(
        w.member, value={"verb": "toolbox.attach", "resource_id": _id(w.braden)}
    )
    assert answer.text == refused
    forged = {
        "verb": "toolbox.attach_to",
        "resource_id": _id(w.braden),
        "agenda_item_id": str(_id_of(w.cases)),
    }
    (answer,) = await bot.send(w.member, value=forged)
    assert answer.text == refused

    # A facilitator, with an item of another community, a past or a cancelled meeting, or
    # none at all.
    for item in (w.elsewhere_item, w.past_item, w.cancelled_item):
        (answer,) = await bot.send(
            w.facilitator, value={**forged, "agenda_item_id": str(_id_of(item))}
        )
        assert answer.text == t("toolbox.attach.item_gone")
        assert "rien n’a été joint" in str(answer.text)
    (answer,) = await bot.send(w.facilitator, value={**forged, "agenda_item_id": "999999"})
    assert answer.text == t("toolbox.attach.item_gone")
    (answer,) = await bot.send(w.facilitator, value={**forged, "agenda_item_id": ""})
    assert answer.text == "Choisissez un point de l’ordre du jour."

    # A retired resource cannot be attached.
    async with transaction(sessions) as session:
        await toolbox.remove(
            session, resource_id=_id(w.braden), by_person_id=_id(w.facilitator), now=T0
        )
    (answer,) = await bot.send(w.facilitator, value=forged)
    assert answer.text == t("toolbox.gone")
    assert await _links(sessions) == []


async def test_rewriting_the_agenda_drops_its_links(any_sessions: SessionFactory) -> None:
    """The agenda form replaces the items (storage/meetings.py): their links go with them."""
    sessions = any_sessions
    w = await _world(sessions)
    async with transaction(sessions) as session:
        await toolbox.attach(
            session,
            resource_id=_id(w.braden),
            agenda_item_id=_id_of(w.cases),
            by_person_id=_id(w.facilitator),
            now=T0,
        )
    async with transaction(sessions) as session:
        item = await session.get(AgendaItem, _id_of(w.cases))
        assert item is not None
        await session.delete(item)
    assert await _links(sessions) == []
