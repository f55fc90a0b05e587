"""Which community a channel is, read the same way by every feature: at the top of the channel,
and in a reply in one of its threads — where Teams sends the conversation id
« 19:…@thread.tacv2;messageid=… » and may leave the channel out of channelData."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import RUNTIME
from bot.channels import channel_ids
from cards.i18n import translator
from storage import communities
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import Community, Membership, Person, Role
from tests import factories
from tests.activities import TENANT, message, user
from tests.fake_connector import FakeConnector

Client = TestClient[web.Request, web.Application]

CHANNEL = "19:channel-1@thread.tacv2"
OTHER_CHANNEL = "19:channel-2@thread.tacv2"
TEAM = "19:team@thread.tacv2"
HERE = "CdeP Soins palliatifs"  # the channel's community
ELSEWHERE = "CdeP Santé mentale"  # another community of the same person, with no channel
MARC = user(2, "Marc Roy")
T = translator("fr-CA")


async def _scene(sessions: SessionFactory) -> None:
    """Léa animates and coordinates both communities (so that, without the channel's, every
    command would have to ask which one); Marc coordinates both (so that she may ask him for
    a consultation); the channel's community has a meeting (far ahead: no clock involved)."""
    async with transaction(sessions) as session:
        here = Community(
            name=HERE,
            domain="Soins palliatifs",
            tenant_id=TENANT,
            team_id=TEAM,
            teams_channel_id=CHANNEL,
        )
        elsewhere = Community(name=ELSEWHERE, domain="Santé mentale", tenant_id=TENANT)
        session.add_all([here, elsewhere])
        lea, marc = user(1), MARC
        people = [
            Person(
                teams_user_id=who["id"],
                aad_object_id=who["aadObjectId"],
                tenant_id=TENANT,
                name=who["name"],
                locale="fr-CA",
            )
            for who in (lea, marc)
        ]
        session.add_all(people)
        await session.flush()
        lea_roles = [Role.MEMBER.value, Role.ANIMATOR.value, Role.COORDINATOR.value]
        marc_roles = [Role.MEMBER.value, Role.COORDINATOR.value]
        lea_id, marc_id = (p.id for p in people)
        assert lea_id is not None
        assert marc_id is not None
        for where in (here, elsewhere):
            assert where.id is not None
            session.add(Membership(person_id=lea_id, community_id=where.id, roles=lea_roles))
            session.add(Membership(person_id=marc_id, community_id=where.id, roles=marc_roles))
        await factories.meeting(session, here, starts_at=datetime(2099, 3, 10, 14, tzinfo=UTC))


def _thread_reply(
    text: str | None,
    *,
    service_url: str,
    channel: str = CHANNEL,
    value: dict[str, Any] | None = None,
    mentions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A reply in a thread of `channel`, as Teams posts it: the thread's root message id after
    the channel's id, and no channel in channelData."""
    activity = message(
        text,
        service_url=service_url,
        conversation_type="channel",
        conversation_id=f"{channel};messageid=1764770000000",
        mention_bot=text is not None,
        value=value,
        mentions=mentions,
    )
    del activity["channelData"]["channel"]
    return activity


def _written(connector: FakeConnector) -> str:
    """Everything the bot wrote, in any conversation, texts and cards alike."""
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in connector.received)


@dataclass(frozen=True)
class Case:
    """A command (typed, or a card's button) and what only its answer in the right community
    says: by default the community's name."""

    text: str | None
    value: dict[str, Any] | None = None
    shows: str = HERE
    mentions: tuple[dict[str, Any], ...] = ()


CASES = {
    # communities
    "setup": Case("configurer", shows=T("setup.already_exists")),
    "join": Case("rejoindre"),
    "leave": Case("quitter"),
    "appoint": Case(f"nommer <at>{MARC['name']}</at> mentor", mentions=(MARC,)),
    "onboarding": Case("plan d'accueil"),
    "help": Case("aide", shows=T("command.plan.title")),  # the animators' commands
    # meetings, topics, polls
    "agenda": Case("ordre du jour"),
    "plan": Case("planifier une rencontre", shows=T("plan.title")),
    "topics": Case("sujets"),
    "propose": Case("proposer un sujet"),
    "poll": Case("sondage", shows=T("polls.form.title")),
    # surveys, vitality, attestations
    "needs_survey": Case("sondage des besoins"),
    "results": Case("résultats"),
    "summary": Case("bilan", shows=T("vitality.sent_privately")),
    "attestations": Case("attestations"),
    # mentoring, consultations
    "mentor": Case("mentor"),
    "mentor_button": Case(None, value={"verb": "mentoring.request"}),
    "volunteer": Case("devenir mentor"),
    "consultation": Case("consultation"),
    "volunteer_consultant": Case("devenir consultante tout"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_thread_reply_in_the_channel_finds_its_community(
    bot_client: Client, connector: FakeConnector, case: Case
) -> None:
    sessions = bot_client.app[RUNTIME].sessions
    await _scene(sessions)
    activity = _thread_reply(
        case.text, service_url=connector.url, value=case.value, mentions=list(case.mentions)
    )
    response = await bot_client.post("/api/messages", json=activity)
    assert response.status in (200, 201)
    written = _written(connector)
    assert case.shows in written
    # Never « which community? » nor the other community's data.
    assert ELSEWHERE not in written


async def test_a_thread_reply_in_a_channel_with_no_community_finds_none(
    bot_client: Client, connector: FakeConnector
) -> None:
    await _scene(bot_client.app[RUNTIME].sessions)
    activity = _thread_reply("sujets", service_url=connector.url, channel=OTHER_CHANNEL)
    await bot_client.post("/api/messages", json=activity)
    assert connector.texts() == [T("topics.no_community_here")]


def _activity(conversation_id: str | None, channel_data: object) -> SimpleNamespace:
    conversation = None if conversation_id is None else SimpleNamespace(id=conversation_id)
    return SimpleNamespace(channel_data=channel_data, conversation=conversation)


@pytest.mark.parametrize(
    ("conversation_id", "channel_data", "expected"),
    [
        # The top of a channel: channelData names both.
        (CHANNEL, {"team": {"id": TEAM}, "channel": {"id": CHANNEL}}, (TEAM, CHANNEL)),
        # A reply in a thread, channelData without the channel.
        (f"{CHANNEL};messageid=17647", {"team": {"id": TEAM}}, (TEAM, CHANNEL)),
        (f"{CHANNEL};messageid=17647", None, (None, CHANNEL)),
        # channelData wins over the conversation id when it names the channel.
        (f"{CHANNEL};messageid=17647", {"channel": {"id": CHANNEL}}, (None, CHANNEL)),
        # Malformed channelData is ignored, not trusted.
        (CHANNEL, {"team": "x", "channel": ["y"]}, (None, CHANNEL)),
        (None, {}, (None, None)),
        ("", {}, (None, None)),
    ],
)
def test_channel_ids_read_from_channel_data_else_the_conversation_id(
    conversation_id: str | None, channel_data: object, expected: tuple[str | None, str | None]
) -> None:
    assert channel_ids(_activity(conversation_id, channel_data)) == expected


async def test_the_channels_community_is_found_on_each_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        await _scene(sessions)
        async with sessions() as session:
            found = await communities.community_for_channel(session, teams_channel_id=CHANNEL)
            none = await communities.community_for_channel(session, teams_channel_id=OTHER_CHANNEL)
        assert found is not None
        assert found.name == HERE
        assert none is None
    finally:
        await engine.dispose()
