"""The HTTP path end to end: Teams-shaped activities in, what the user sees out."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import RUNTIME, create_app
from storage.models import ConversationRef, Person
from tests.activities import BOT_ID, TENANT, message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector

Client = TestClient[web.Request, web.Application]

FRENCH_TITLE = "Carrefour — vos communautés de pratique"
ENGLISH_TITLE = "Carrefour — your communities of practice"


async def post(client: Client, activity: dict[str, Any]) -> int:
    response = await client.post("/api/messages", json=activity)
    return response.status


def card_titles(connector: FakeConnector) -> list[str]:
    return [card["body"][0]["text"] for card in connector.cards()]


async def test_aide_in_personal_chat_shows_the_french_help_card(
    bot_client: Client, connector: FakeConnector
) -> None:
    assert await post(bot_client, message("aide", service_url=connector.url)) in (200, 201)
    assert card_titles(connector) == [FRENCH_TITLE]
    card = connector.cards()[0]
    assert card["version"] == "1.5"
    assert [a["title"] for a in card["actions"]] == [
        "Rejoindre",
        "Banque de sujets",
        "Demander un·e mentor·e",
        "Demander une consultation",
        "Changer de langue",
        "Toutes les commandes",
    ]
    # Short, grouped: what a member needs first; no facilitators' commands for a newcomer
    # (tests/test_commands.py covers who sees which).
    headings = [b["text"] for b in card["body"] if b.get("size") == "Medium"]
    assert headings == ["Votre communauté", "Rencontres et sujets", "Mentorat et consultation"]
    facts = [f["title"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]]
    assert facts == [
        "rejoindre",
        "ordre du jour",
        "sujets",
        "proposer un sujet",
        "mentor",
        "consultation",
    ]
    # The reply goes to the conversation the message came from, as a reply to it.
    sent = connector.received[0]
    assert sent.conversation_id == "a:personal-29:user-1"


async def test_english_locale_gets_the_english_help(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(bot_client, message("help", service_url=connector.url, locale="en-US"))
    assert card_titles(connector) == [ENGLISH_TITLE]
    assert connector.cards()[0]["actions"][-1]["title"] == "All commands"


async def test_anything_not_understood_gets_help(
    bot_client: Client, connector: FakeConnector
) -> None:
    # Like no command: a short pointer to `aide` (a close misspelling gets « Vouliez-vous
    # dire », tests/test_commands.py); a bare mention gets the help card.
    await post(bot_client, message("qu'est-ce que tu fais?", service_url=connector.url))
    assert connector.texts() == [
        "Je n’ai pas compris ce message. Écrivez «\u00a0aide\u00a0» pour voir ce que je peux faire."
    ]
    await post(bot_client, message("?", service_url=connector.url))
    assert card_titles(connector) == [FRENCH_TITLE]


async def test_saved_language_preference_wins_over_the_client_locale(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(bot_client, message("langue en", service_url=connector.url, locale="fr-CA"))
    assert connector.texts() == ["Got it: I will write to you in English."]
    await post(bot_client, message("aide", service_url=connector.url, locale="fr-CA"))
    assert card_titles(connector) == [ENGLISH_TITLE]
    await post(bot_client, message("language fr", service_url=connector.url, locale="en-US"))
    await post(bot_client, message("help", service_url=connector.url, locale="en-US"))
    assert card_titles(connector) == [ENGLISH_TITLE, FRENCH_TITLE]


async def test_unknown_language_is_refused_and_changes_nothing(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(bot_client, message("langue klingon", service_url=connector.url))
    assert connector.texts() == [
        "Je parle français et anglais. Essayez «\u00a0langue fr\u00a0» ou «\u00a0langue en\u00a0»."
    ]
    sessions = bot_client.app[RUNTIME].sessions
    async with sessions() as session:
        person = (await session.exec(select(Person))).one()
    assert person.preferred_locale is None


async def test_language_dialog_by_button_then_choice(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(
        bot_client,
        message(None, service_url=connector.url, value={"verb": "language.choose"}),
    )
    assert connector.texts()[-1].startswith("Dans quelle langue")
    await post(bot_client, message("English", service_url=connector.url))
    assert connector.texts()[-1] == "Got it: I will write to you in English."


async def test_cancel_in_a_dialog_saves_nothing(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(bot_client, message("langue", service_url=connector.url))
    await post(bot_client, message("annuler", service_url=connector.url))
    assert connector.texts()[-1] == "D’accord, j’ai tout annulé. Rien n’a été enregistré."
    await post(bot_client, message("2", service_url=connector.url))
    # No dialog is waiting any more: "2" (the second choice) is not understood, in French.
    assert connector.texts()[-1].startswith("Je n’ai pas compris ce message.")


async def test_unknown_card_verb_gets_a_clear_answer(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(
        bot_client,
        message(None, service_url=connector.url, value={"verb": "admin.delete_everything"}),
    )
    assert connector.texts() == [
        "Ce bouton n’est plus valide. Tapez «\u00a0aide\u00a0» pour voir ce que je peux faire."
    ]


async def test_channel_message_without_mention_is_ignored(
    bot_client: Client, connector: FakeConnector
) -> None:
    status = await post(
        bot_client, message("aide", service_url=connector.url, conversation_type="channel")
    )
    assert status in (200, 201)
    assert connector.received == []


async def test_channel_message_with_mention_is_answered_without_the_mention(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(
        bot_client,
        message("aide", service_url=connector.url, conversation_type="channel", mention_bot=True),
    )
    assert card_titles(connector) == [FRENCH_TITLE]
    assert connector.received[0].conversation_id == "19:channel@thread.tacv2"
    hint = connector.cards()[0]["body"][-1]["text"]
    assert "@Carrefour" in hint


async def test_a_redelivered_activity_is_processed_once(
    bot_client: Client, connector: FakeConnector
) -> None:
    activity = message("aide", service_url=connector.url, activity_id="same-id")
    await post(bot_client, activity)
    await post(bot_client, activity)
    assert len(connector.cards()) == 1


async def test_every_turn_records_the_person_and_where_to_write(
    bot_client: Client, connector: FakeConnector
) -> None:
    await post(bot_client, message("aide", service_url=connector.url, locale="en-US"))
    await post(
        bot_client,
        message("aide", service_url=connector.url, conversation_type="channel", mention_bot=True),
    )
    sessions = bot_client.app[RUNTIME].sessions
    async with sessions() as session:
        person = (await session.exec(select(Person))).one()
        conversations = (await session.exec(select(ConversationRef))).all()
    assert person.aad_object_id == user()["aadObjectId"]
    assert person.name == "Léa Tremblay"
    assert person.tenant_id == TENANT
    assert person.locale == "fr-CA"  # the last activity's locale
    by_scope = {str(c.scope): c for c in conversations}
    assert set(by_scope) == {"personal", "channel"}
    assert by_scope["personal"].person_id == person.id
    assert by_scope["personal"].service_url == connector.url
    assert by_scope["personal"].bot_id == BOT_ID
    assert by_scope["channel"].team_id == "19:team@thread.tacv2"
    assert by_scope["channel"].person_id is None


async def test_bot_added_to_personal_chat_welcomes_with_help(
    bot_client: Client, connector: FakeConnector
) -> None:
    activity = message(None, service_url=connector.url)
    activity.update(type="conversationUpdate", membersAdded=[{"id": BOT_ID}])
    await post(bot_client, activity)
    assert connector.texts() == [
        "Bonjour Léa\u00a0! Je suis Carrefour, l’assistant de vos communautés de pratique."
    ]
    assert card_titles(connector) == [FRENCH_TITLE]
    activity["id"] = "announced-again"
    await post(bot_client, activity)
    assert len(connector.activities()) == 2  # no second welcome


async def test_a_failing_turn_apologises_in_the_user_language_and_logs_the_trace(
    bot_client: Client,
    connector: FakeConnector,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> dict[str, Any]:
        raise RuntimeError("card builder exploded")

    monkeypatch.setattr("bot.features.help.build_help_card", broken)
    with caplog.at_level(logging.ERROR):
        await post(bot_client, message("help", service_url=connector.url, locale="en-US"))
    assert connector.texts() == [
        "Sorry, something went wrong on my side. Please try again in a moment; "
        "if it keeps happening, tell your facilitator."
    ]
    assert any("card builder exploded" in (r.exc_text or "") for r in caplog.records)
    # The failed activity was released: Teams' retry of it is processed.
    monkeypatch.undo()
    await post(bot_client, message("help", service_url=connector.url, activity_id="retry"))


# A service URL no refused request ever reaches.
UNREACHED = "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b'{"text": "no type"}', "application/json", 400),
        (b'{"type": "message", "from": "not an object"}', "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        # U+0000, which PostgreSQL text cannot hold: escaped in a value, escaped in a key, raw.
        (
            json.dumps(message("bon\x00jour", service_url=UNREACHED)).encode(),
            "application/json",
            400,
        ),
        (
            json.dumps(
                {**message("aide", service_url=UNREACHED), "channelData": {"k\x00": 1}}
            ).encode(),
            "application/json",
            400,
        ),
        (b'{"type": "message", "text": "bon\x00jour"}', "application/json", 400),
        (b"aide", "text/plain", 415),
        (
            json.dumps({"type": "message", "text": "x" * 2_000_000}).encode(),
            "application/json",
            413,
        ),
    ],
)
async def test_bad_requests_get_4xx_and_change_nothing(
    bot_client: Client, connector: FakeConnector, body: bytes, content_type: str, status: int
) -> None:
    response = await bot_client.post(
        "/api/messages", data=body, headers={"Content-Type": content_type}
    )
    assert response.status == status
    assert connector.received == []
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Person))).all() == []


async def test_the_text_of_an_escaped_nul_is_not_one(
    bot_client: Client, connector: FakeConnector
) -> None:
    # Six characters, a backslash then « u0000 », as someone might paste them: answered.
    status = await post(bot_client, message("aide \\u0000", service_url=connector.url))
    assert status in (200, 201)
    assert connector.received


@pytest.mark.parametrize(
    "service_url",
    [None, "", "v3/relative", "smba.trafficmanager.net/amer/", "ftp://x/", "http://[::1"],
)
async def test_a_message_with_no_reachable_service_url_gets_400_and_changes_nothing(
    bot_client: Client, connector: FakeConnector, service_url: str | None
) -> None:
    """Replies go to the service URL: one that is no absolute http(s) URL could never be
    reached (found by fuzzing: it failed the turn with a 500)."""
    body = message("aide", service_url=connector.url)
    body["serviceUrl"] = service_url
    assert (await bot_client.post("/api/messages", json=body)).status == 400
    assert connector.received == []
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Person))).all() == []


async def test_health_and_readiness(bot_client: Client) -> None:
    assert (await bot_client.get("/healthz")).status == 200
    ready = await bot_client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["database"] == "up"


async def test_readiness_fails_while_the_database_is_unreachable(tmp_path: Path) -> None:
    # A port nothing listens on: the process is alive, but not ready for traffic.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none")
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        assert (await client.get("/healthz")).status == 200
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["database"] == "down"
    finally:
        await client.close()


async def test_a_mentoring_button_acts_even_while_a_dialog_waits(
    bot_client: Client, connector: FakeConnector
) -> None:
    """A tap on a mentoring card's button, while the language question waits, is that button's
    action, not a wrong answer to the question (found by fuzzing: it used to do nothing)."""
    assert await post(bot_client, message("langue", service_url=connector.url)) in (200, 201)
    asked = len(connector.received)
    click = message(None, service_url=connector.url, activity_id="click-1") | {
        "value": {"verb": "mentoring.withdraw", "request_id": 424242}
    }
    assert await post(bot_client, click) in (200, 201)
    answers = [reply.body.get("text") for reply in connector.received[asked:]]
    assert answers == ["Vous ne pouvez retirer que vos propres demandes de jumelage."]
