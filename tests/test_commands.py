"""Commands as people type them: misspellings get « Vouliez-vous dire … ? », the help card fits
the person, a command typed mid-dialog is not taken as an answer, and one list of commands (the
catalogs' words) feeds the parser, the help card, the Teams manifest and the user guide."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot import commands
from bot.app import REGISTRY, RUNTIME
from bot.commands import UNKNOWN_COMMAND, Vocabulary, Words
from bot.manifest import build_manifest
from cards.help import build_help_card
from cards.i18n import translator
from dialogs.base import simplify
from storage.models import Topic
from tests.activities import BOT_ID, BOT_NAME, message
from tests.fake_connector import FakeConnector
from tests.support import card_actions
from tests.test_communities import (
    ANIMATOR,
    JOIN_ANSWERS,
    MEMBER,
    Chat,
    card_text,
    set_up_community,
)

Client = TestClient[web.Request, web.Application]

fr, en = translator("fr-CA"), translator("en")
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "user-guide.md"
# Every feature's commands, as the help card, the manifest and the guide list them.
FEATURES = REGISTRY.help_entries
parse = REGISTRY.vocabulary.parse


def _buttons(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in card_actions(card)]


async def _member(client: Client, connector: FakeConnector) -> Chat:
    member = Chat(client, connector, MEMBER)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    return member


# -- misspellings ------------------------------------------------------------------------------


async def test_a_misspelled_command_suggests_the_closest_ones_as_buttons(
    bot_client: Client, connector: FakeConnector
) -> None:
    chat = Chat(bot_client, connector, MEMBER)
    for typed, expected in [
        ("odre du jour", "ordre du jour"),
        ("rejoinde", "rejoindre"),
        ("sujet", "sujets"),
        ("Mes donées", "mes données"),
    ]:
        before = len(connector.cards())
        await chat.say(typed)
        cards = connector.cards()[before:]
        assert len(cards) == 1, typed
        card = cards[0]
        assert card_text(card).startswith("Vouliez-vous dire"), typed
        assert fr("help.title") not in card_text(card)  # not the whole help card
        assert expected in _buttons(card), (typed, _buttons(card))
        assert len(_buttons(card)) <= 4


async def test_a_suggestion_runs_its_command_when_clicked(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    chat = Chat(bot_client, connector, MEMBER)
    await chat.say("rejoinde")
    button = next(a for a in card_actions(chat.last_card()) if a["title"] == "rejoindre")
    await chat.click(button["data"])
    assert chat.last_text().startswith("Quelle est votre discipline\u00a0?")
    # Also in a channel, where a click needs no mention.
    await chat.say("annuler")
    await chat.say("odre du jour", channel=True)
    button = next(a for a in card_actions(chat.last_card()) if a["title"] == "ordre du jour")
    await chat.click(button["data"], channel=True)
    assert chat.last_text() == fr("agenda.none")


async def test_gibberish_gets_a_short_pointer_not_the_help_card(
    bot_client: Client, connector: FakeConnector
) -> None:
    chat = Chat(bot_client, connector, MEMBER)
    await chat.say("xqzvw blorp")
    assert connector.cards() == []
    assert chat.last_text() == fr("command.unknown")
    assert "«\u00a0aide\u00a0»" in chat.last_text()


async def test_bilan_d_octobre_is_understood(bot_client: Client, connector: FakeConnector) -> None:
    chat = Chat(bot_client, connector, ANIMATOR)
    await chat.say("bilan d’octobre")
    assert fr("vitality.month_not_understood") not in connector.texts()
    assert parse("bilan d'octobre").argument == "octobre"


def test_suggestions_use_a_real_similarity() -> None:
    suggestions = REGISTRY.vocabulary.suggestions
    assert suggestions("odre du jour")[0].command == "agenda"
    assert suggestions("planifer une rencontre")[0].command == "plan"
    assert suggestions("atestation 2025")[0].argument == "2025"
    assert suggestions("xqzvw") == []
    assert suggestions("ok") == []


# -- the help card -----------------------------------------------------------------------------


async def test_the_help_card_shows_facilitators_commands_to_facilitators_only(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = await _member(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    facilitator_words = [
        fr(f"command.{f.key}.title")
        for f in FEATURES
        if getattr(f, "audience", "member") != "member"
    ]

    await member.say("aide")
    short = member.last_card()
    text = card_text(short)
    assert fr("help.animators") not in text
    assert not any(f"\n{word}\n" in f"\n{text}\n" for word in facilitator_words)
    facts = [f for block in short["body"] if block["type"] == "FactSet" for f in block["facts"]]
    assert 4 <= len(facts) <= 8  # short: what a member needs first
    assert fr("help.all") in _buttons(short)

    await member.click({"verb": "help.all"})
    everything = card_text(member.last_card())
    for feature in FEATURES:
        word = fr(f"command.{feature.key}.title")
        assert (word in everything.split("\n")) == (
            getattr(feature, "audience", "member") == "member"
        ), word

    # In the community's channel, its animator sees the animators' commands…
    await animator.say("aide", channel=True)
    assert fr("help.animators") in card_text(animator.last_card())
    assert "planifier une rencontre" in card_text(animator.last_card())
    # …and a member does not, there either.
    await member.say("aide", channel=True)
    assert fr("help.animators") not in card_text(member.last_card())


# -- commands typed mid-dialog ------------------------------------------------------------------


async def test_a_command_typed_while_proposing_a_topic_is_not_its_title(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = await _member(bot_client, connector)
    await member.say("proposer un sujet")
    assert member.last_text().startswith("Quel sujet aimeriez-vous")
    # `aide`: the help, then the same question again; the dialog goes on.
    await member.say("aide")
    assert member.last_card()["body"][0]["text"] == fr("help.title")
    assert member.last_text().startswith("Quel sujet aimeriez-vous")
    # Another command: the dialog stops (said so) and the command runs.
    before = len(connector.texts())
    await member.say("sujets")
    said = connector.texts()[before:]
    assert said[0] == fr("dialog.interrupted", command="sujets")
    bank = member.last_card()["body"][0]["text"]
    assert bank == fr("topics.card.title", community="CdeP Soins palliatifs Montérégie")
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Topic))).all() == []
    # Nothing waits any more: the next message is a command again, not a title.
    await member.say("Le deuil blanc")
    async with bot_client.app[RUNTIME].sessions() as session:
        assert (await session.exec(select(Topic))).all() == []


async def test_a_command_typed_while_joining_is_not_an_answer(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("rejoindre")
    assert member.last_text().startswith("Quelle est votre discipline")
    await member.say("aide")
    assert member.last_card()["body"][0]["text"] == fr("help.title")
    assert member.last_text().startswith("Quelle est votre discipline")
    await member.say("ordre du jour")
    assert connector.texts()[-2:] == [
        fr("dialog.interrupted", command="ordre du jour"),
        fr("agenda.none"),
    ]
    # A topic title that merely starts with a command word is still an answer.
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    await member.say("proposer un sujet")
    await member.say("Bilan de l’année en soins palliatifs")
    assert member.last_text().startswith(fr("topics.propose.ask_description")[:20])


# -- the install message -----------------------------------------------------------------------


async def test_installing_in_a_channel_already_linked_says_what_members_can_do(
    bot_client: Client, connector: FakeConnector
) -> None:
    def installed() -> dict[str, Any]:
        update = message(None, service_url=connector.url, conversation_type="channel")
        update.update(type="conversationUpdate", membersAdded=[{"id": BOT_ID, "name": BOT_NAME}])
        return update

    await bot_client.post("/api/messages", json=installed())
    assert "configurer" in connector.texts()[-1]
    community = await set_up_community(bot_client, connector)
    await bot_client.post("/api/messages", json=installed())
    said = connector.texts()[-1]
    assert "configurer" not in said
    assert said == fr("team.installed_linked", community=community.name)
    assert "rejoindre" in said
    assert "ordre du jour" in said


# -- one source of truth -------------------------------------------------------------------------


def test_every_command_has_its_words_in_both_catalogs_and_they_parse_back() -> None:
    assert [f.key for f in FEATURES] == list(REGISTRY.commands)
    longest = max(len(words.split(" ")) for words in REGISTRY.vocabulary._entries)
    assert longest <= commands._LONGEST_WORDS  # what `parse` looks for at most
    for feature in FEATURES:
        for t in (fr, en):
            assert parse(t(f"command.{feature.key}.title")).command == feature.key, (
                feature.key,
                t(f"command.{feature.key}.title"),
            )


def test_words_that_name_two_commands_stop_the_start_up() -> None:
    with pytest.raises(ValueError, match="names both"):
        Vocabulary([Words("help", english=("menu",)), Words("topics", english=("menu",))])
    with pytest.raises(ValueError, match="declared twice or reserved"):
        Vocabulary([Words(UNKNOWN_COMMAND)])


def test_the_manifest_lists_the_catalogs_commands() -> None:
    manifest, english = build_manifest(
        app_id="00000000-0000-0000-0000-000000000001", commands=FEATURES
    )
    titles = [c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]]
    assert titles == [
        fr(f"command.{f.key}.title") for f in FEATURES if f.menu and not f.channel_only
    ]
    assert all(parse(title).command != UNKNOWN_COMMAND for title in titles)
    english_titles = [
        text
        for path, text in english.items()
        if path.startswith("bots[0].commandLists") and path.endswith(".title")
    ]
    assert english_titles
    assert all(parse(t).command != UNKNOWN_COMMAND for t in english_titles)


def test_the_user_guide_mentions_every_command() -> None:
    guide = simplify(GUIDE.read_text(encoding="utf-8"))
    missing = [
        fr(f"command.{f.key}.title")
        for f in FEATURES
        if not re.search(
            rf"`(@carrefour )?{re.escape(simplify(fr(f'command.{f.key}.title')))}[ `]", guide
        )
    ]
    assert missing == [], f"docs/user-guide.md never names {missing}"


def test_a_coordinators_tool_that_facilitators_use_is_listed_to_both_once() -> None:
    """`demandes de mentorat` is for coordinators and facilitators: each sees it on the full
    help card, a member does not, and someone holding both roles sees it once."""
    words = fr("command.mentoring_requests.title")

    def listed(*roles: str) -> int:
        card = build_help_card(FEATURES, locale="fr-CA", roles=roles, full=True)
        return json.dumps(card, ensure_ascii=False).count(f'"title": "{words}"')

    assert listed("member") == 0
    assert listed("member", "animator") == 1
    assert listed("member", "coordinator") == 1
    assert listed("member", "animator", "coordinator") == 1
