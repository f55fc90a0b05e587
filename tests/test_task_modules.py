"""Meeting forms in a Teams dialog (task module), over HTTP as Teams posts them: the small card
in the channel opens the form (`task/fetch`), every step and error stays in the dialog
(`task/submit` answers the next form, or the same form with its errors and the values kept),
and only the published agenda reaches the channel, once. Facilitators only, checked at every
fetch and submit. « Remplir ici » keeps the same form in the conversation for clients without
Teams dialogs, on the same draft."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import RUNTIME
from storage.models import AgendaItem, Meeting, OutboxMessage
from tests.activities import message
from tests.fake_connector import FakeConnector, Received
from tests.support import card_actions
from tests.test_communities import ANIMATOR, JOIN_ANSWERS, MEMBER, Chat, card_text, set_up_community
from tests.test_meetings import DAY, MEETING_FORM, _agenda_values

Client = TestClient[web.Request, web.Application]
CHANNEL = "19:channel@thread.tacv2"
NBSP = "\u00a0"
FACILITATORS_ONLY = "Seul·e·s les animateur·rice·s de la communauté"
PUBLISHED = "Ordre du jour publié."
# What Teams adds to every task invoke.
CONTEXT = {"theme": "default"}


async def _invoke(
    chat: Chat, name: str, data: dict[str, Any], *, reply_to_id: str | None = None
) -> Any:
    """A Teams invoke from `chat`'s person in the channel; the task response Teams reads."""
    activity = message(
        None,
        service_url=chat.connector.url,
        sender=chat.sender,
        locale=chat.locale,
        conversation_type="channel",
    )
    activity.update({"type": "invoke", "name": name, "value": {"data": data, "context": CONTEXT}})
    if reply_to_id is not None:
        activity["replyToId"] = reply_to_id
    response = await chat.client.post("/api/messages", json=activity)
    assert response.status == 200, await response.text()
    return await response.json()


def _posted_id(connector: FakeConnector, request: Received) -> str:
    """The id the fake connector gave a message it accepted (they are numbered in order)."""
    return f"activity-{connector.received.index(request) + 1}"


def _button(card: dict[str, Any], title: str) -> dict[str, Any]:
    found = [a for a in card_actions(card) if a.get("title") == title]
    assert found, f"no button {title!r} in {[a.get('title') for a in card_actions(card)]}"
    return dict(found[0]["data"])


def _dialog_card(reply: Any) -> dict[str, Any]:
    """The form a task response shows in the dialog."""
    assert reply["task"]["type"] == "continue", reply
    content: dict[str, Any] = reply["task"]["value"]["card"]["content"]
    return content


def _filled(card: dict[str, Any], button: str, /, **changes: Any) -> dict[str, Any]:
    """What Teams sends when the form's `button` is clicked: its data and the inputs."""
    return {**_button(card, button), **_agenda_values(card), **changes}


def _inputs(card: dict[str, Any]) -> dict[str, Any]:
    return _agenda_values(card)


async def _meetings(client: Client) -> list[Meeting]:
    async with client.app[RUNTIME].sessions() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.id)))).all())


def _channel_posts(connector: FakeConnector, since: int) -> list[Received]:
    return [
        r for r in connector.received[since:] if r.method == "POST" and r.conversation_id == CHANNEL
    ]


async def _launcher(chat: Chat, command: str) -> tuple[dict[str, Any], str]:
    """The small card a form command posts in the channel, and its message id."""
    await chat.say(command, channel=True)
    request = chat.connector.received[-1]
    assert request.method == "POST"
    assert request.conversation_id == CHANNEL
    card: dict[str, Any] = request.body["attachments"][0]["content"]
    return card, _posted_id(chat.connector, request)


async def _step_2(chat: Chat, form: dict[str, Any]) -> dict[str, Any]:
    """The agenda form, after step 1 is filled in the dialog with the usual meeting."""
    data = _filled(form, f"Suivant{NBSP}: l’ordre du jour", **MEETING_FORM)
    return _dialog_card(await _invoke(chat, "task/submit", data))


async def _facilitator_and_member(client: Client, connector: FakeConnector) -> tuple[Chat, Chat]:
    await set_up_community(client, connector)
    member = Chat(client, connector, MEMBER)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    return Chat(client, connector, ANIMATOR), member


async def test_planning_happens_in_the_dialog_and_publishes_once_in_the_channel(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, _member = await _facilitator_and_member(bot_client, connector)
    launcher, launcher_id = await _launcher(animator, "planifier une rencontre")
    assert "Planifier une rencontre" in card_text(launcher)
    opens = _button(launcher, "Ouvrir le formulaire")
    assert opens["msteams"] == {"type": "task/fetch"}
    assert _button(launcher, "Remplir ici")["draft"] == opens["draft"]
    before = len(connector.received)

    # Step 1 in the dialog, with an error first: the same form, the error, the values kept.
    form = _dialog_card(await _invoke(animator, "task/fetch", opens, reply_to_id=launcher_id))
    assert "Date" in card_text(form)
    wrong = _filled(form, f"Suivant{NBSP}: l’ordre du jour", **{**MEETING_FORM, "end": "08:00"})
    again = _dialog_card(await _invoke(animator, "task/submit", wrong))
    assert "La fin doit venir après le début." in card_text(again)
    kept = _inputs(again)
    assert kept["title"] == "Rencontre d’automne"
    assert kept["place"] == "CLSC de Longueuil, salle 204"
    assert kept["end"] == "08:00"

    # Step 2: the usual agenda; « Ajouter un point » stays in the dialog too.
    fixed = _filled(again, f"Suivant{NBSP}: l’ordre du jour", end="16:00")
    agenda = _dialog_card(await _invoke(animator, "task/submit", fixed))
    assert "Tour de table" in card_text(agenda)
    reply = await _invoke(animator, "task/submit", _filled(agenda, "Ajouter un point"))
    longer = _dialog_card(reply)
    assert reply["task"]["value"]["title"] == "Ordre du jour"
    assert _button(longer, "Publier dans le canal")["rows"] == 8
    # Errors on step 2 come back in the dialog, the values kept.
    late = _filled(longer, "Publier dans le canal", time_0="23:00", presenter_3="Dre Marie Roy")
    refused = _dialog_card(await _invoke(animator, "task/submit", late))
    assert "Les heures des points doivent être pendant la rencontre." in card_text(refused)
    assert _inputs(refused)["presenter_3"] == "Dre Marie Roy"
    # Nothing reached the channel: no draft, no error, no form.
    assert _channel_posts(connector, before) == []
    assert connector.received[before:] == []
    assert await _meetings(bot_client) == []

    # Publishing: the agenda card in the channel, the dialog closes, the small card says so.
    publish = _filled(refused, "Publier dans le canal", time_0="09:00")
    assert await _invoke(animator, "task/submit", publish) is None  # the dialog closes
    (posted,) = _channel_posts(connector, before)
    agenda_card = card_text(posted.body["attachments"][0]["content"])
    assert "Rencontre d’automne" in agenda_card
    assert "Tour de table — " not in agenda_card
    assert "Dre Marie Roy" in agenda_card
    (replaced,) = [r for r in connector.received[before:] if r.method == "PUT"]
    assert replaced.path.endswith(f"/activities/{launcher_id}")
    assert PUBLISHED in card_text(replaced.body["attachments"][0]["content"])
    (meeting,) = await _meetings(bot_client)
    assert meeting.draft_key == opens["draft"]
    assert meeting.activity_id == _posted_id(connector, posted)
    async with bot_client.app[RUNTIME].sessions() as session:
        items = (await session.exec(select(AgendaItem))).all()
    assert len(items) == 7  # the empty added row is ignored

    # The same button again (a double submit): nothing more is published.
    twice = await _invoke(animator, "task/submit", publish)
    assert twice["task"]["type"] == "message"
    assert twice["task"]["value"].startswith("Cet ordre du jour est déjà publié")
    assert len(_channel_posts(connector, before)) == 1
    assert len(await _meetings(bot_client)) == 1


async def test_a_member_is_refused_at_fetch_and_at_submit(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member = await _facilitator_and_member(bot_client, connector)
    launcher, launcher_id = await _launcher(animator, "planifier une rencontre")
    opens = _button(launcher, "Ouvrir le formulaire")
    before = len(connector.received)

    refused = await _invoke(member, "task/fetch", opens, reply_to_id=launcher_id)
    assert refused["task"]["type"] == "message"
    assert refused["task"]["value"].startswith(FACILITATORS_ONLY)

    # A form opened by the facilitator, submitted by a member: refused, nothing published.
    form = _dialog_card(await _invoke(animator, "task/fetch", opens, reply_to_id=launcher_id))
    step_2 = await _step_2(animator, form)
    for data in (
        _filled(form, f"Suivant{NBSP}: l’ordre du jour", **MEETING_FORM),
        _filled(step_2, "Ajouter un point"),
        _filled(step_2, "Publier dans le canal"),
    ):
        answer = await _invoke(member, "task/submit", data)
        assert answer["task"]["type"] == "message"
        assert answer["task"]["value"].startswith(FACILITATORS_ONLY)
    assert await _meetings(bot_client) == []
    assert connector.received[before:] == []


async def test_fill_in_here_keeps_the_form_in_the_conversation_on_the_same_draft(
    bot_client: Client, connector: FakeConnector
) -> None:
    """For clients without Teams dialogs (the Agents Playground): the same steps as messages;
    the draft then publishes once, whichever path publishes it."""
    animator, _member = await _facilitator_and_member(bot_client, connector)
    launcher, launcher_id = await _launcher(animator, "planifier une rencontre")
    await animator.click(_button(launcher, "Remplir ici"), channel=True)
    form = animator.last_card()
    assert f"Suivant{NBSP}: l’ordre du jour" in card_text(form)
    assert "msteams" not in _button(form, f"Suivant{NBSP}: l’ordre du jour")
    await animator.click(
        {**_button(form, f"Suivant{NBSP}: l’ordre du jour"), **MEETING_FORM}, channel=True
    )
    agenda = animator.last_card()
    await animator.click(_filled(agenda, "Publier dans le canal"), channel=True)
    assert animator.last_text().startswith(PUBLISHED)
    assert len(await _meetings(bot_client)) == 1

    # The dialog, opened later from the same small card, publishes nothing more.
    opens = _button(launcher, "Ouvrir le formulaire")
    form = _dialog_card(await _invoke(animator, "task/fetch", opens, reply_to_id=launcher_id))
    step_2 = await _step_2(animator, form)
    again = await _invoke(animator, "task/submit", _filled(step_2, "Publier dans le canal"))
    assert again["task"]["value"].startswith("Cet ordre du jour est déjà publié")
    assert len(await _meetings(bot_client)) == 1


async def test_without_the_small_card_s_id_the_dialog_says_it_was_published(
    bot_client: Client, connector: FakeConnector
) -> None:
    """Teams did not say which message opened the dialog: the small card cannot be replaced,
    so the dialog says what happened rather than closing silently."""
    animator, _member = await _facilitator_and_member(bot_client, connector)
    launcher, _launcher_id = await _launcher(animator, "planifier une rencontre")
    form = _dialog_card(
        await _invoke(animator, "task/fetch", _button(launcher, "Ouvrir le formulaire"))
    )
    step_2 = await _step_2(animator, form)
    before = len(connector.received)
    done = await _invoke(animator, "task/submit", _filled(step_2, "Publier dans le canal"))
    assert done["task"] == {"type": "message", "value": done["task"]["value"]}
    assert done["task"]["value"].startswith(PUBLISHED)
    assert [r.method for r in connector.received[before:]] == ["POST"]  # the agenda card only


async def _published(client: Client, connector: FakeConnector) -> tuple[Chat, Chat, Meeting]:
    animator, member = await _facilitator_and_member(client, connector)
    launcher, launcher_id = await _launcher(animator, "planifier une rencontre")
    opens = _button(launcher, "Ouvrir le formulaire")
    form = _dialog_card(await _invoke(animator, "task/fetch", opens, reply_to_id=launcher_id))
    step_2 = await _step_2(animator, form)
    await _invoke(animator, "task/submit", _filled(step_2, "Publier dans le canal"))
    (meeting,) = await _meetings(client)
    return animator, member, meeting


async def test_editing_the_agenda_in_a_dialog_updates_the_posted_card(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, member, meeting = await _published(bot_client, connector)
    launcher, launcher_id = await _launcher(animator, "modifier l'ordre du jour")
    assert "Modifier l’ordre du jour" in card_text(launcher)
    opens = _button(launcher, "Ouvrir le formulaire")

    refused = await _invoke(member, "task/fetch", opens, reply_to_id=launcher_id)
    assert refused["task"]["value"].startswith(FACILITATORS_ONLY)

    before = len(connector.received)
    form = _dialog_card(await _invoke(animator, "task/fetch", opens, reply_to_id=launcher_id))
    assert _inputs(form)["title_1"] == "Tour de table"
    wrong = _dialog_card(
        await _invoke(animator, "task/submit", _filled(form, "Publier dans le canal", title_1=""))
    )
    assert "Chaque point doit avoir un titre." in card_text(wrong)
    assert _inputs(wrong)["title_1"] == ""
    assert _inputs(wrong)["title_2"] == "Affaires diverses" or _inputs(wrong)["title_2"]
    saved = _filled(form, "Publier dans le canal", title_1="Tour de table des nouvelles")
    assert await _invoke(animator, "task/submit", saved) is None
    assert _channel_posts(connector, before) == []  # the card is updated, not posted again
    (replaced,) = [r for r in connector.received[before:] if r.method == "PUT"]
    assert replaced.path.endswith(f"/activities/{launcher_id}")
    assert "Ordre du jour mis à jour" in card_text(replaced.body["attachments"][0]["content"])
    async with bot_client.app[RUNTIME].sessions() as session:
        titles = (
            await session.exec(
                select(AgendaItem.title)
                .where(AgendaItem.meeting_id == meeting.id)
                .order_by(col(AgendaItem.position))
            )
        ).all()
        updates = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "agenda_card"))
        ).all()
    assert titles[1] == "Tour de table des nouvelles"
    assert updates  # the posted agenda card is redrawn


async def test_moving_a_meeting_in_a_dialog(bot_client: Client, connector: FakeConnector) -> None:
    animator, member, meeting = await _published(bot_client, connector)
    launcher, launcher_id = await _launcher(animator, "déplacer la rencontre")
    opens = _button(launcher, "Ouvrir le formulaire")
    assert opens["meeting_id"] == meeting.id

    refused = await _invoke(member, "task/fetch", opens, reply_to_id=launcher_id)
    assert refused["task"]["value"].startswith(FACILITATORS_ONLY)

    before = len(connector.received)
    form = _dialog_card(await _invoke(animator, "task/fetch", opens, reply_to_id=launcher_id))
    assert _inputs(form) == {"date": DAY.isoformat(), "start": "09:00", "end": "16:00"}
    later = (DAY + timedelta(days=7)).isoformat()
    wrong = _dialog_card(
        await _invoke(animator, "task/submit", _filled(form, "Déplacer", date=later, start="17:00"))
    )
    assert "La fin doit venir après le début." in card_text(wrong)
    assert _inputs(wrong) == {"date": later, "start": "17:00", "end": "16:00"}
    assert connector.received[before:] == []
    moved = _filled(wrong, "Déplacer", start="13:00")
    assert await _invoke(animator, "task/submit", moved) is None
    (stored,) = await _meetings(bot_client)
    assert stored.starts_at.date().isoformat() == later
    (replaced,) = [r for r in connector.received[before:] if r.method == "PUT"]
    assert "La rencontre est déplacée." in card_text(replaced.body["attachments"][0]["content"])
