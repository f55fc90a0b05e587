"""Per-person views of shared cards (Universal Actions), over HTTP as Teams asks for them.

The agenda card and the poll card posted in a channel carry a `refresh` (an `Action.Execute`
with the meeting's or the poll's id, and the Teams ids of the people concerned). Each listed
person's client then asks the bot (invoke `adaptiveCard/action`) for their own view: the same
card plus their own answer (« Votre réponse : Présent·e », « Votre vote : … »), still with the
refresh. Nobody's view holds anyone else's answer; someone with no answer, or outside the
community, gets the shared card. An anonymous poll's card lists nobody; its view shows the
voter their own choice only, and nothing once the poll is closed (the ballots are sealed).
The largest cards, with 60 long Teams ids, stay under Teams' size limit.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import RUNTIME, create_app
from cards.agenda import build_agenda_card
from cards.common import ADAPTIVE_CARD_CONTENT_TYPE, MAX_CARD_BYTES
from cards.polls import build_poll_card
from storage.db import SessionFactory, transaction
from storage.models import (
    AgendaItem,
    Community,
    Meeting,
    MeetingStatus,
    Person,
    Poll,
    PollStatus,
    Role,
    RsvpAnswer,
    Volet,
)
from storage.polls import PollResults
from tests import factories
from tests.activities import TENANT, message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import Clock, dispatcher
from tests.test_communities import card_text

Client = TestClient[web.Request, web.Application]
NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
CHANNEL = "19:channel@thread.tacv2"  # tests.activities.message's channel
TEAM = "19:team@thread.tacv2"
NBSP = "\u00a0"
OPTIONS = ["Deuil et proches aidants", "Éthique en fin de vie", "Outils cliniques"]
_invoke_ids = itertools.count(1)


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def sender(who: Person) -> dict[str, Any]:
    return {"id": who.teams_user_id, "name": who.name, "aadObjectId": who.aad_object_id}


@dataclass
class World:
    """A community bound to the channel: an animator, three members (one who reads English),
    someone of the same organisation who is not a member, and a meeting in ten days."""

    client: Client
    connector: FakeConnector
    community: Community
    animator: Person
    members: list[Person]
    outsider: Person
    meeting: Meeting

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.client.app[RUNTIME].sessions
        return sessions

    async def post(
        self, who: Person, *, text: str | None = None, value: dict[str, Any] | None = None
    ) -> None:
        activity = message(
            text,
            service_url=self.connector.url,
            sender=sender(who),
            locale=who.locale,
            conversation_type="channel",
            conversation_id=CHANNEL,
            mention_bot=text is not None,
            value=value,
        )
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    async def invoke(
        self, who: Person, verb: str, data: dict[str, Any], *, tenant: str = TENANT
    ) -> tuple[int, Any]:
        """What Teams posts when `who`'s client refreshes a card in the channel."""
        activity = message(
            None,
            service_url=self.connector.url,
            sender=sender(who),
            locale=who.locale,
            conversation_type="channel",
            conversation_id=CHANNEL,
        )
        activity.update(
            type="invoke",
            id=f"invoke-{next(_invoke_ids)}",
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": verb, "data": data},
                "trigger": "automatic",
            },
        )
        activity["conversation"]["tenantId"] = tenant
        activity["channelData"]["tenant"] = {"id": tenant}
        response = await self.client.post("/api/messages", json=activity)
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    async def view(self, who: Person, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        """`who`'s own view of a card: a 200 whose body is the card."""
        status, body = await self.invoke(who, verb, data)
        assert status == 200, body
        assert body["statusCode"] == 200
        assert body["type"] == ADAPTIVE_CARD_CONTENT_TYPE
        card: dict[str, Any] = body["value"]
        assert card["type"] == "AdaptiveCard"
        assert _size(card) <= MAX_CARD_BYTES
        return card

    def posted_cards(self) -> list[dict[str, Any]]:
        return self.connector.cards(CHANNEL)

    def updates(self) -> list[dict[str, Any]]:
        """Cards that replaced a posted message (PUT), in order."""
        return [
            attachment["content"]
            for received in self.connector.received
            if received.method == "PUT"
            for attachment in received.body.get("attachments") or []
        ]


def _size(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


@pytest.fixture
def traveller() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
async def world(
    database_url: str, connector: FakeConnector, traveller: None
) -> AsyncIterator[World]:
    client = TestClient(TestServer(create_app(make_settings(database_url))))
    await client.start_server()
    sessions: SessionFactory = client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        where.team_id = TEAM
        animator = await factories.person(session, 1)
        row = await factories.member(session, animator, where)
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        members = [
            await factories.person(session, 2),
            await factories.person(session, 3),
            await factories.person(session, 4, locale="en-CA"),
        ]
        for who in members:
            await factories.member(session, who, where)
        outsider = await factories.person(session, 9)
        meeting = await factories.meeting(session, where, starts_at=NOW + timedelta(days=10))
    try:
        yield World(client, connector, where, animator, members, outsider, meeting)
    finally:
        await client.close()


def _refresh(card: dict[str, Any]) -> dict[str, Any]:
    refresh: dict[str, Any] = card["refresh"]
    assert refresh["action"]["type"] == "Action.Execute"
    assert len(refresh.get("userIds", [])) <= 60
    return refresh


def _without(card: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """The card without the text blocks whose text starts with one of `texts`, the ballot's
    pre-selected value and links (a calendar link is made out to its reader): what a personal
    view adds to the shared card."""
    stripped = copy.deepcopy(card)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            skipped = {"url"} | ({"value"} if node.get("type") == "Input.ChoiceSet" else set())
            return {key: walk(value) for key, value in node.items() if key not in skipped}
        if isinstance(node, list):
            return [
                walk(item)
                for item in node
                if not (
                    isinstance(item, dict)
                    and item.get("type") == "TextBlock"
                    and any(str(item.get("text", "")).startswith(t) for t in texts)
                )
            ]
        return node

    result: dict[str, Any] = walk(stripped)
    return result


OWN_LINES = [f"Votre réponse{NBSP}:", "Your answer:", f"Votre vote{NBSP}:", "Your vote:"]


# -- the agenda card ------------------------------------------------------------------------------


async def test_each_member_sees_their_own_answer_on_the_agenda_card(world: World) -> None:
    w = world
    ana, ben, eve = w.members
    meeting_id = _id(w.meeting)
    await w.post(w.animator, text="ordre du jour")
    (posted,) = w.posted_cards()
    refresh = _refresh(posted)
    assert refresh["action"]["verb"] == "meetings.view"
    assert refresh["action"]["data"] == {"meeting_id": meeting_id}
    # Every member is listed (four people: Teams would refresh them all anyway).
    assert sorted(refresh["userIds"]) == sorted(p.teams_user_id for p in [w.animator, *w.members])
    assert w.outsider.teams_user_id not in refresh["userIds"]
    assert not any(line in card_text(posted) for line in OWN_LINES)

    rsvp = {"verb": "meetings.rsvp", "meeting_id": meeting_id}
    await w.post(ana, value={**rsvp, "answer": "yes"})
    await w.post(ben, value={**rsvp, "answer": "no"})
    await w.post(eve, value={**rsvp, "answer": "maybe"})
    # The clock travels from NOW and ticks: the updates were queued a moment after it.
    await dispatcher(w.client.app[RUNTIME], Clock(now=datetime.now(UTC))).dispatch_once()
    updated = w.updates()[-1]
    # Those who answered come first: past 60 members, they are the ones whose view differs.
    assert _refresh(updated)["userIds"][:3] == [p.teams_user_id for p in (ana, ben, eve)]
    assert not any(line in card_text(updated) for line in OWN_LINES)

    data = {"meeting_id": meeting_id}
    mine = card_text(await w.view(ana, "meetings.view", data))
    assert f"Votre réponse{NBSP}: Présent·e" in mine
    assert "Absent·e (1)" in mine  # the shared counts stay
    assert f"Votre réponse{NBSP}: Absent·e" not in mine
    assert f"Votre réponse{NBSP}: Peut-être" not in mine

    theirs = await w.view(ben, "meetings.view", data)
    assert f"Votre réponse{NBSP}: Absent·e" in card_text(theirs)
    assert f"Votre réponse{NBSP}: Présent·e" not in card_text(theirs)
    assert _refresh(theirs)["action"]["verb"] == "meetings.view"  # still refreshes

    english = card_text(await w.view(eve, "meetings.view", data))
    assert "Your answer: Maybe" in english
    assert "Attending (1)" in english

    # The animator did not answer: the shared card, in their language.
    shared = await w.view(w.animator, "meetings.view", data)
    assert not any(line in card_text(shared) for line in OWN_LINES)
    # A person's view is the shared card plus their own line, nothing else.
    assert _without(await w.view(ana, "meetings.view", data), OWN_LINES) == _without(
        shared, OWN_LINES
    )


async def test_someone_outside_the_community_gets_the_shared_agenda(world: World) -> None:
    w = world
    ana = w.members[0]
    meeting_id = _id(w.meeting)
    await w.post(ana, value={"verb": "meetings.rsvp", "meeting_id": meeting_id, "answer": "yes"})
    data = {"meeting_id": meeting_id}
    outsider = await w.view(w.outsider, "meetings.view", data)
    assert not any(line in card_text(outsider) for line in OWN_LINES)
    assert "Présent·e (1)" in card_text(outsider)
    assert _refresh(outsider)["action"]["data"] == data

    # Another organisation learns nothing about the meeting, and a refresh refused is refused
    # silently: an automatic refresh must not post « autre organisation » in the channel.
    posted = len(w.connector.activities())
    status, body = await w.invoke(w.members[1], "meetings.view", data, tenant="another-tenant")
    assert status == 403
    assert "Rencontre" not in json.dumps(body)
    assert len(w.connector.activities()) == posted


async def test_unknown_verbs_and_bad_data_are_refused_plainly(world: World) -> None:
    w = world
    ana = w.members[0]
    status, _body = await w.invoke(ana, "agenda.nothing", {"meeting_id": _id(w.meeting)})
    assert status == 400
    # A meeting that does not exist, or no id at all: a short message, no card.
    for data in ({"meeting_id": 999_999}, {}, {"meeting_id": "x"}):
        status, body = await w.invoke(ana, "meetings.view", data)
        assert status == 200
        assert body["type"] == "application/vnd.microsoft.activity.message"
        assert "AdaptiveCard" not in json.dumps(body)


# -- the poll card --------------------------------------------------------------------------------


async def _poll(w: World, *, anonymous: bool) -> Poll:
    await w.post(w.animator, text="sondage")
    await w.post(
        w.animator,
        value={
            "verb": "polls.create",
            "question": f"Quel thème pour la rencontre de mars{NBSP}?",
            "options": "\n".join(OPTIONS),
            "multiple": "false",
            "anonymous": "true" if anonymous else "false",
            "close_date": (NOW + timedelta(days=5)).date().isoformat(),
            "close_time": "17:00",
        },
    )
    async with w.sessions() as session:
        (poll,) = (await session.exec(select(Poll))).all()
    assert poll.activity_id
    return poll


async def _vote(w: World, who: Person, poll: Poll, choice: int) -> None:
    await w.post(who, value={"verb": "polls.vote", "poll_id": _id(poll), "choice": str(choice)})


async def test_each_voter_sees_their_own_vote_on_a_named_poll(world: World) -> None:
    w = world
    ana, ben, eve = w.members
    poll = await _poll(w, anonymous=False)
    posted = w.posted_cards()[-1]
    refresh = _refresh(posted)
    assert refresh["action"]["verb"] == "polls.view"
    assert refresh["action"]["data"] == {"poll_id": _id(poll)}
    await _vote(w, ana, poll, 1)
    await _vote(w, ben, poll, 2)
    updated = w.updates()[-1]
    assert _refresh(updated)["userIds"][:2] == [ana.teams_user_id, ben.teams_user_id]
    assert not any(line in card_text(updated) for line in OWN_LINES)

    data = {"poll_id": _id(poll)}
    mine = await w.view(ana, "polls.view", data)
    assert f"Votre vote{NBSP}: {OPTIONS[1]}" in card_text(mine)
    assert f"Votre vote{NBSP}: {OPTIONS[2]}" not in card_text(mine)
    # The ballot shows the person's choice, ready to be changed.
    (ballot,) = [b for b in _all(mine) if b.get("type") == "Input.ChoiceSet"]
    assert ballot["value"] == "1"
    assert _refresh(mine)["action"]["verb"] == "polls.view"

    theirs = await w.view(ben, "polls.view", data)
    assert f"Votre vote{NBSP}: {OPTIONS[2]}" in card_text(theirs)
    # Eve did not vote: the shared card, in her language.
    english = await w.view(eve, "polls.view", data)
    assert not any(line in card_text(english) for line in OWN_LINES)
    assert "Your choice" in card_text(english) or "Your answer" in card_text(english)


async def test_an_anonymous_poll_shows_each_voter_their_own_choice_only(world: World) -> None:
    w = world
    ana, ben, eve = w.members
    poll = await _poll(w, anonymous=True)
    await _vote(w, eve, poll, 1)  # English, so her view is not compared with the French one
    await _vote(w, ana, poll, 0)
    await _vote(w, ben, poll, 2)
    updated = w.updates()[-1]
    # The card names nobody, not even who may refresh it (Teams then refreshes it for
    # everyone in a channel of up to 60 people): who voted shows nowhere.
    assert _refresh(updated)["action"]["data"] == {"poll_id": _id(poll)}
    assert "userIds" not in _refresh(updated)
    assert "userIds" not in _refresh(w.posted_cards()[-1])

    data = {"poll_id": _id(poll)}
    shared = await w.view(w.animator, "polls.view", data)  # a member who did not vote
    assert not any(line in card_text(shared) for line in OWN_LINES)
    for voter, own, other in ((ana, 0, 2), (ben, 2, 0)):
        view = await w.view(voter, "polls.view", data)
        text = card_text(view)
        assert f"Votre vote{NBSP}: {OPTIONS[own]}" in text
        assert f"Votre vote{NBSP}: {OPTIONS[other]}" not in text
        for person in (w.animator, ana, ben, eve):
            assert str(person.name) not in text
            assert person.teams_user_id not in json.dumps(view)
        # Nothing but the voter's own line and pre-selected ballot differs from the shared card.
        assert _without(view, OWN_LINES) == _without(shared, OWN_LINES)

    assert f"Your vote: {OPTIONS[1]}" in card_text(await w.view(eve, "polls.view", data))

    # Closed, the ballots are sealed: not even their voter can find theirs again.
    await w.post(w.animator, value={"verb": "polls.close", "poll_id": _id(poll), "confirmed": True})
    for voter in (ana, ben):
        closed = await w.view(voter, "polls.view", data)
        assert not any(line in card_text(closed) for line in OWN_LINES)


async def test_someone_outside_the_community_gets_the_shared_poll(world: World) -> None:
    w = world
    poll = await _poll(w, anonymous=False)
    await _vote(w, w.members[0], poll, 1)
    view = await w.view(w.outsider, "polls.view", {"poll_id": _id(poll)})
    assert not any(line in card_text(view) for line in OWN_LINES)
    # A named poll names its voters on the shared card, which anyone in the channel reads.
    assert str(w.members[0].name) in card_text(view)
    status, _body = await w.invoke(w.members[0], "polls.nothing", {"poll_id": _id(poll)})
    assert status == 400


def _all(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


# -- the largest cards stay under Teams' limit ---------------------------------------------------

# Real Teams user ids are long ("29:1" and about 90 characters); up to 60 ride on each card.
LONG_IDS = [f"29:{n:03d}" + "x" * 95 for n in range(80)]


def test_the_largest_views_with_sixty_listed_people_stay_under_the_limit() -> None:
    where = Community(id=1, name="C" * 200, domain="d", tenant_id=TENANT)
    meeting = Meeting(
        id=3,
        community_id=1,
        title="T" * 200,
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=7),
        place="P" * 300,
        online_link="https://teams.microsoft.com/l/" + "l" * 960,
        status=MeetingStatus.SCHEDULED,
        general_objective="G" * 1000,
        specific_objectives=["S" * 200] * 10,
    )
    items = [
        AgendaItem(
            meeting_id=3,
            position=n,
            starts_at=NOW + timedelta(minutes=20 * n),
            title="A" * 200,
            volet=Volet.EXCHANGE,
            presenter="N" * 200,
        )
        for n in range(20)  # storage.meetings.MAX_AGENDA_ITEMS
    ]
    agenda = build_agenda_card(
        meeting,
        where,
        items,
        {"yes": 400, "no": 0, "maybe": 3},
        locale="fr-CA",
        tz="America/Montreal",
        calendar_url="https://carrefour.example/calendar/" + "t" * 400 + ".ics",
        viewers=LONG_IDS,
        own_answer=RsvpAnswer.MAYBE,
    )
    # At every field's maximum the list is shortened to fit, keeping the first listed (those
    # who answered).
    listed = agenda["refresh"]["userIds"]
    assert listed
    assert listed == LONG_IDS[: len(listed)]
    assert f"Votre réponse{NBSP}: Peut-être" in card_text(agenda)
    assert _size(agenda) <= MAX_CARD_BYTES

    poll = Poll(
        id=7,
        community_id=1,
        question="Q" * 300,
        options=[f"{n} " + "x" * 98 for n in range(10)],
        multiple=True,
        closes_at=NOW + timedelta(days=5),
        status=PollStatus.OPEN,
    )
    names = tuple(
        tuple(f"Intervenante numéro {i:04d} du CISSS" for i in range(400)) for _ in poll.options
    )
    results = PollResults(poll=poll, counts=(400,) * 10, voters=400, names=names)
    view = build_poll_card(
        results, locale="fr-CA", tz="America/Montreal", viewers=LONG_IDS, own_choices=range(10)
    )
    assert len(view["refresh"]["userIds"]) == 60
    assert "Votre vote" in card_text(view)
    assert _size(view) <= MAX_CARD_BYTES
