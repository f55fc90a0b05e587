"""The language a person is answered in: their own words win over the client's locale until
they have a saved language; `langue` still changes it; ambiguous text changes nothing.
HTTP turns with the fake Bot Connector, as Teams posts them."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import RUNTIME
from cards.i18n import translator
from storage.models import Person
from tests.activities import user
from tests.fake_connector import FakeConnector
from tests.test_communities import Chat, set_up_community

Client = TestClient[web.Request, web.Application]

NBSP = "\u00a0"
FRENCH_HELP = translator("fr-CA")("help.title")
ENGLISH_HELP = translator("en")("help.title")
NEWCOMER = user(7, "Nadia Benali")


async def _saved_language(client: Client, sender: dict[str, str]) -> str | None:
    async with client.app[RUNTIME].sessions() as session:
        person = (
            await session.exec(select(Person).where(Person.teams_user_id == sender["id"]))
        ).one()
    return person.preferred_locale


async def test_french_words_on_an_english_client_are_answered_in_french_and_remembered(
    bot_client: Client, connector: FakeConnector
) -> None:
    chat = Chat(bot_client, connector, NEWCOMER, locale="en-US")
    await chat.say("aide")
    assert chat.last_card()["body"][0]["text"] == FRENCH_HELP
    assert await _saved_language(bot_client, NEWCOMER) == "fr-CA"
    # Remembered: an English client and words of no particular language stay in French.
    await chat.say("agenda")
    assert chat.last_text() == translator("fr-CA")("agenda.none")
    assert await _saved_language(bot_client, NEWCOMER) == "fr-CA"


async def test_rejoindre_on_an_english_client_asks_in_french(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    chat = Chat(bot_client, connector, NEWCOMER, locale="en-US")
    await chat.say("rejoindre")
    assert chat.last_text().startswith(f"Quelle est votre discipline{NBSP}?")


async def test_asking_for_french_in_so_many_words_switches_and_says_so(
    bot_client: Client, connector: FakeConnector
) -> None:
    chat = Chat(bot_client, connector, NEWCOMER, locale="en-US")
    await chat.say("en français svp")
    assert chat.last_text() == translator("fr-CA")("language.saved")
    assert await _saved_language(bot_client, NEWCOMER) == "fr-CA"
    await chat.say("in English please")
    assert chat.last_text() == translator("en")("language.saved")
    assert await _saved_language(bot_client, NEWCOMER) == "en"


async def test_english_words_on_a_french_client_are_answered_in_english(
    bot_client: Client, connector: FakeConnector
) -> None:
    chat = Chat(bot_client, connector, NEWCOMER, locale="fr-CA")
    await chat.say("help")
    assert chat.last_card()["body"][0]["text"] == ENGLISH_HELP
    assert await _saved_language(bot_client, NEWCOMER) == "en"
    # `langue` still changes it, and then English words no longer flip it.
    await chat.say("langue fr")
    assert await _saved_language(bot_client, NEWCOMER) == "fr-CA"
    await chat.say("help")
    assert chat.last_card()["body"][0]["text"] == FRENCH_HELP
    assert await _saved_language(bot_client, NEWCOMER) == "fr-CA"


async def test_ambiguous_text_does_not_change_the_language(
    bot_client: Client, connector: FakeConnector
) -> None:
    chat = Chat(bot_client, connector, NEWCOMER, locale="en-US")
    for text in ("ok", "Samuel Gagnon", "agenda", "?"):
        await chat.say(text)
        assert await _saved_language(bot_client, NEWCOMER) is None, text
    await chat.say("ok")
    assert chat.last_text() == translator("en")("command.unknown")


async def test_the_language_prompt_is_bilingual(
    bot_client: Client, connector: FakeConnector
) -> None:
    for locale in ("fr-CA", "en-US"):
        chat = Chat(bot_client, connector, user(8 if locale == "en-US" else 9), locale=locale)
        await chat.say("langue" if locale == "fr-CA" else "language")
        prompt = chat.last_text()
        assert translator("fr-CA")("language.prompt") in prompt
        assert translator("en")("language.prompt") in prompt
        await chat.say("zzz")
        retry = chat.last_text()
        assert translator("fr-CA")("language.retry") in retry
        assert translator("en")("language.retry") in retry
        await chat.say("English")
        assert chat.last_text() == translator("en")("language.saved")
