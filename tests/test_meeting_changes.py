"""Meeting changes over HTTP, as a facilitator meets them: cancelling asks first (which meeting,
then what will happen) and can be undone until the meeting starts; a draft publishes once;
RSVPs in a channel stay quiet while every copy of the agenda card stays current; agenda times
are never cut; a calendar invitation (.ics) follows the meeting's changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import RUNTIME
from storage.db import transaction
from storage.models import Meeting, MeetingStatus, OutboxMessage, Person
from tests.fake_connector import FakeConnector
from tests.support import Clock, card_actions, dispatcher, scheduled_jobs
from tests.test_communities import ANIMATOR, JOIN_ANSWERS, MEMBER, Chat, card_text, set_up_community
from tests.test_meetings import DAY, _action, _agenda_values, _plan, _publish

Client = TestClient[web.Request, web.Application]
NBSP = "\u00a0"
CHANNEL = "19:channel@thread.tacv2"
PERSONAL = f"a:personal-{MEMBER['id']}"


async def _community_with_member(
    bot_client: Client, connector: FakeConnector, *, member_locale: str = "fr-CA"
) -> tuple[Chat, Chat]:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    member = Chat(bot_client, connector, MEMBER, locale=member_locale)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    return animator, member


async def _meetings(client: Client) -> list[Meeting]:
    async with client.app[RUNTIME].sessions() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.id)))).all())


async def _changes(client: Client) -> list[OutboxMessage]:
    async with client.app[RUNTIME].sessions() as session:
        return list(
            (
                await session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.kind == "meeting_change")
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        )


def _button(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The data of the card's button with this title (Action.Submit)."""
    found = [a for a in card_actions(card) if a.get("title") == title]
    assert found, f"no button {title!r} in {[a.get('title') for a in card_actions(card)]}"
    return dict(found[0]["data"])


async def _dispatch(client: Client) -> None:
    await dispatcher(client.app[RUNTIME], Clock(now=datetime.now(UTC))).dispatch_once()


async def _planned(
    bot_client: Client, connector: FakeConnector, *, member_locale: str = "fr-CA"
) -> tuple[Chat, Chat, Meeting]:
    animator, member = await _community_with_member(
        bot_client, connector, member_locale=member_locale
    )
    await _publish(animator, await _plan(animator))
    (meeting,) = await _meetings(bot_client)
    return animator, member, meeting


# -- 1. cancelling asks first, and can be undone ------------------------------------------------


async def test_cancelling_asks_first_naming_the_meeting_and_only_the_confirm_click_cancels(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})

    await animator.say("annuler la rencontre", channel=True)
    confirm = animator.last_card()
    text = card_text(confirm)
    assert f"Annuler la rencontre «{NBSP}Rencontre d’automne{NBSP}» du " in text
    assert f", de 9{NBSP}h à 16{NBSP}h{NBSP}?" in text  # its date and times, Quebec style
    assert f"1{NBSP}personne qui a accepté recevra un avis" in text
    assert "rappels" in text
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.SCHEDULED  # nothing happened yet
    assert await _changes(bot_client) == []

    yes = _button(confirm, "Annuler la rencontre")
    assert yes["confirmed"] is True
    await animator.click(yes, channel=True)
    await animator.click(yes, channel=True)  # a double click
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.CANCELLED
    assert len(await _changes(bot_client)) == 1
    result = card_text(connector.cards(CHANNEL)[-1])
    assert "est annulée" in result
    assert "Rétablir la rencontre" in result
    assert animator.last_text() == "Cette rencontre est déjà annulée."
    await _dispatch(bot_client)
    notices = [t for t in connector.texts(PERSONAL) if "est annulée" in t]
    assert len(notices) == 1


async def test_with_several_upcoming_meetings_the_facilitator_picks_which_one(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _member = await _community_with_member(bot_client, connector)
    await _publish(animator, await _plan(animator))
    later = (DAY + timedelta(days=7)).isoformat()
    await _publish(animator, await _plan(animator, title="Rencontre d’hiver", date=later))
    first, second = await _meetings(bot_client)

    await animator.say("annuler la rencontre", channel=True)
    choice = animator.last_card()
    assert "Rencontre d’automne" in card_text(choice)
    assert "Rencontre d’hiver" in card_text(choice)
    picks = [a["data"] for a in card_actions(choice) if a["data"].get("verb") == "meetings.cancel"]
    assert [p["meeting_id"] for p in picks] == [first.id, second.id]
    assert all("confirmed" not in p for p in picks)

    await animator.click(picks[1], channel=True)
    confirm = animator.last_card()
    assert "Rencontre d’hiver" in card_text(confirm)
    assert "Rencontre d’automne" not in card_text(confirm)
    await animator.click(_button(confirm, "Annuler la rencontre"), channel=True)
    first, second = await _meetings(bot_client)
    assert first.status == MeetingStatus.SCHEDULED
    assert second.status == MeetingStatus.CANCELLED


async def test_in_english_the_confirmation_names_the_meeting(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _member, meeting = await _planned(bot_client, connector)
    english = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    await english.say("language en")
    await english.say("cancel the meeting", channel=True)
    text = card_text(english.last_card())
    assert "Cancel the meeting “Rencontre d’automne” on " in text
    assert "No one has accepted yet" in text
    await english.click(_button(english.last_card(), "Cancel the meeting"), channel=True)
    assert "Restore the meeting" in card_text(connector.cards(CHANNEL)[-1])
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.CANCELLED
    del animator, meeting


async def test_members_can_neither_cancel_nor_restore(
    bot_client: Client, connector: FakeConnector
) -> None:
    _animator, member, meeting = await _planned(bot_client, connector)
    await member.say("annuler la rencontre", channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await member.click(
        {"verb": "meetings.cancel", "meeting_id": meeting.id, "confirmed": True}, channel=True
    )
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await member.click({"verb": "meetings.restore", "meeting_id": meeting.id}, channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.SCHEDULED


async def test_a_cancelled_meeting_is_restored_once_with_its_reminders_and_notices(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    runtime = bot_client.app[RUNTIME]
    jobs = scheduled_jobs(runtime, Clock(now=meeting.starts_at - timedelta(days=7)))
    assert await jobs.run("meeting_reminders") == 1  # J-7, before the cancellation

    await animator.say("annuler la rencontre", channel=True)
    await animator.click(_button(animator.last_card(), "Annuler la rencontre"), channel=True)
    await _dispatch(bot_client)
    result = next(
        c for c in reversed(connector.cards(CHANNEL)) if "Rétablir la rencontre" in card_text(c)
    )
    restore = _button(result, "Rétablir la rencontre")
    await animator.click(restore, channel=True)
    await animator.click(restore, channel=True)  # a double click
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.SCHEDULED
    assert animator.last_text() == "Cette rencontre n’est pas annulée : rien à rétablir.".replace(
        " :", f"{NBSP}:"
    )
    await _dispatch(bot_client)
    restored = [t for t in connector.texts(PERSONAL) if "est rétablie" in t]
    assert len(restored) == 1
    # The reminders come back: the withdrawn J-7 is planned again.
    assert await jobs.run("meeting_reminders") == 1


async def test_a_facilitator_restores_by_typing_when_the_card_is_gone(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    await animator.say("rétablir la rencontre", channel=True)
    assert animator.last_text() == (
        f"Aucune rencontre annulée n’est à venir{NBSP}: il n’y a rien à rétablir."
    )
    await animator.say("annuler la rencontre", channel=True)
    await animator.click(_button(animator.last_card(), "Annuler la rencontre"), channel=True)
    await member.say("rétablir la rencontre", channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")

    await animator.say("rétablir la rencontre", channel=True)
    assert "est rétablie" in card_text(connector.cards(CHANNEL)[-1])
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.SCHEDULED
    await animator.say("rétablir la rencontre", channel=True)  # nothing left to restore
    assert animator.last_text().startswith("Aucune rencontre annulée")
    del meeting


async def test_restoring_after_the_start_is_refused(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _member, meeting = await _planned(bot_client, connector)
    await animator.say("annuler la rencontre", channel=True)
    await animator.click(_button(animator.last_card(), "Annuler la rencontre"), channel=True)
    async with transaction(bot_client.app[RUNTIME].sessions) as session:
        stored = await session.get(Meeting, meeting.id)
        assert stored is not None
        stored.starts_at = datetime.now(UTC) - timedelta(minutes=5)
        stored.ends_at = datetime.now(UTC) + timedelta(hours=3)
    await animator.click({"verb": "meetings.restore", "meeting_id": meeting.id}, channel=True)
    assert animator.last_text().startswith("Il est trop tard pour rétablir cette rencontre")
    (stored,) = await _meetings(bot_client)
    assert stored.status == MeetingStatus.CANCELLED


# -- 2. a draft publishes once ------------------------------------------------------------------


async def test_a_draft_publishes_once_whatever_is_clicked_again(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _member = await _community_with_member(bot_client, connector)
    form = await _plan(animator)
    await _publish(animator, form)
    await _publish(animator, form)  # the same button, clicked again
    assert animator.last_text().startswith("Cet ordre du jour est déjà publié")
    assert "Rencontre d’automne" in card_text(animator.last_card())
    # An older copy of the draft (before « Ajouter un point »), and two clicks at once.
    await animator.click(
        {**_action(form, "meetings.agenda.add_row"), **_agenda_values(form)}, channel=True
    )
    longer = animator.last_card()
    await asyncio.gather(_publish(animator, longer), _publish(animator, longer))
    meetings = await _meetings(bot_client)
    assert len(meetings) == 1
    jobs = scheduled_jobs(
        bot_client.app[RUNTIME], Clock(now=meetings[0].starts_at - timedelta(days=1))
    )
    assert await jobs.run("meeting_reminders") == 1  # one member, one reminder


# -- 3. quiet RSVPs, every copy current ---------------------------------------------------------


async def test_an_rsvp_in_a_channel_posts_nothing_and_every_copy_of_the_card_is_updated(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    await member.say("ordre du jour")  # a second copy, in the member's chat
    await animator.say("ordre du jour", channel=True)  # a third, in the channel
    before = len(connector.activities(CHANNEL))
    await member.click(
        {"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"}, channel=True
    )
    assert len(connector.activities(CHANNEL)) == before  # no public « C'est noté »
    await _dispatch(bot_client)
    updates = [r for r in connector.received if r.method == "PUT"]
    assert len(updates) == 3
    assert len({r.path for r in updates}) == 3
    for update in updates:
        assert "Présent·e (1)" in card_text(update.body["attachments"][0]["content"])
    # In a personal chat, a short confirmation is fine.
    await member.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "no"})
    assert member.last_text().startswith("C’est noté")


# -- 4. agenda times never cut -------------------------------------------------------------------


def _time_columns(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The first column of each agenda row (its time)."""
    return [
        row["columns"][0]
        for block in card["body"]
        if block.get("type") == "Container"
        for row in block["items"]
        if row.get("type") == "ColumnSet"
    ]


async def test_agenda_times_have_room_in_english_and_french(
    bot_client: Client, connector: FakeConnector
) -> None:
    _animator, member, _meeting = await _planned(bot_client, connector, member_locale="en-US")
    french = [c for c in connector.cards(CHANNEL) if "Ordre du jour" in card_text(c)][-1]
    await member.say("language en")
    await member.say("agenda")
    english = connector.cards(PERSONAL)[-1:]
    for card in (french, *english):
        columns = _time_columns(card)
        assert columns
        # As wide as the time needs (never a fixed width that cuts « 10:30 AM »), wrapping.
        assert all(column["width"] == "auto" for column in columns)
        assert all(column["items"][0]["wrap"] is True for column in columns)
    assert english
    assert f"9:00{NBSP}AM" in card_text(english[0])
    assert f"9{NBSP}h" in card_text(french)


# -- 5. the calendar invitation ------------------------------------------------------------------


def _calendar_link(card: dict[str, Any], title: str = "Ajouter à mon calendrier") -> str:
    (url,) = [
        a["url"]
        for a in card_actions(card)
        if a.get("type") == "Action.OpenUrl" and a["title"] == title
    ]
    parts = urlsplit(str(url))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _unfold(ics: str) -> dict[str, str]:
    lines = ics.replace("\r\n ", "").split("\r\n")
    return {
        line.split(":", 1)[0].split(";")[0]: line.split(":", 1)[1] for line in lines if ":" in line
    }


async def test_the_calendar_invitation_follows_the_meeting(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _planned(bot_client, connector)
    published = [c for c in connector.cards(CHANNEL) if "Ordre du jour" in card_text(c)][-1]
    response = await bot_client.get(_calendar_link(published))
    assert response.status == 200
    assert response.content_type == "text/calendar"
    raw = await response.read()
    ics = raw.decode("utf-8")
    assert ics.startswith("BEGIN:VCALENDAR\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in ics.split("\r\n"))
    fields = _unfold(ics)
    assert fields["SEQUENCE"] == "0"
    assert fields["STATUS"] == "CONFIRMED"
    assert fields["DTSTART"] == meeting.starts_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert fields["DTEND"] == meeting.ends_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert fields["LOCATION"] == "CLSC de Longueuil\\, salle 204"
    assert fields["URL"] == "https://teams.microsoft.com/l/meetup-join/exemple"
    assert "Rencontre d’automne" in fields["SUMMARY"]
    assert "Mieux accompagner les proches aidants" in fields["DESCRIPTION"]
    assert "\\n" in fields["DESCRIPTION"]
    uid = fields["UID"]

    # Moved: the same UID, a higher SEQUENCE (the card's link is renewed).
    await animator.click(
        {
            "verb": "meetings.move",
            "meeting_id": meeting.id,
            "date": (DAY + timedelta(days=7)).isoformat(),
            "start": "13:00",
            "end": "16:30",
        },
        channel=True,
    )
    await member.say("ordre du jour")
    link = _calendar_link(member.last_card())
    moved = _unfold(await (await bot_client.get(link)).text())
    assert moved["UID"] == uid
    assert moved["SEQUENCE"] == "1"
    assert moved["DTSTART"].endswith("T180000Z")  # 13 h in Montréal, in UTC

    # Cancelled: the same link now says so.
    await animator.say("annuler la rencontre", channel=True)
    await animator.click(_button(animator.last_card(), "Annuler la rencontre"), channel=True)
    cancelled = _unfold(await (await bot_client.get(link)).text())
    assert cancelled["UID"] == uid
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled["SEQUENCE"] == "2"

    # A link we did not sign opens nothing.
    forged = link.replace(".ics", "x.ics")
    assert (await bot_client.get(forged)).status == 403


async def test_the_calendar_invitation_speaks_the_members_language(
    bot_client: Client, connector: FakeConnector
) -> None:
    _animator, member, _meeting = await _planned(bot_client, connector, member_locale="en-US")
    await member.say("language en")
    await member.say("agenda")
    response = await bot_client.get(_calendar_link(member.last_card(), "Add to my calendar"))
    fields = _unfold(await response.text())
    assert fields["SUMMARY"].startswith("CdeP Soins palliatifs Montérégie")
    assert "General objective" in fields["DESCRIPTION"]
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Person))).all()


async def test_the_reminder_carries_the_invitation_made_out_to_its_reader(
    bot_client: Client, connector: FakeConnector
) -> None:
    _animator, _member, meeting = await _planned(bot_client, connector)
    runtime = bot_client.app[RUNTIME]
    clock = Clock(now=meeting.starts_at - timedelta(days=1))
    assert await scheduled_jobs(runtime, clock).run("meeting_reminders") == 1
    await dispatcher(runtime, clock).dispatch_once()
    (reminder,) = [c for c in connector.cards(PERSONAL) if "Rappel" in card_text(c)]
    link = _calendar_link(reminder)
    async with runtime.sessions() as session:
        member_id = (
            await session.exec(select(Person.id).where(Person.teams_user_id == MEMBER["id"]))
        ).one()
    assert f".{member_id}.fr." in link  # the token names its reader and their language
    response = await bot_client.get(link)
    assert response.status == 200
    assert "SUMMARY:CdeP Soins palliatifs Montérégie — Rencontre d’automne" in _fold_free(
        await response.text()
    )


def _fold_free(ics: str) -> str:
    return ics.replace("\r\n ", "")
