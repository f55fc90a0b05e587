"""`demandes de mentorat` / `mentoring requests`: a coordinator (or animator) who missed the
proactive suggestions card lists the requests still waiting and acts on them with the same
buttons; anyone else is told plainly that the list is not theirs. Over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import RUNTIME, create_app
from cards.i18n import translator
from storage import mentoring
from storage.db import SessionFactory, transaction
from storage.models import MentorPairing, MentorRequest, PairingStatus, Person, Role
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import card_actions, queued
from tests.test_communities import card_text

Client = TestClient[web.Request, web.Application]
NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
fr, en = translator("fr-CA"), translator("en")


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@dataclass
class Scene:
    client: Client
    connector: FakeConnector
    coordinator: Person
    member: Person
    mentors: list[Person]
    waiting: MentorRequest  # no proposal yet
    proposed: MentorRequest  # a proposal waits for the first mentor's answer

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.client.app[RUNTIME].sessions
        return sessions

    async def post(
        self,
        who: Person,
        *,
        text: str | None = None,
        value: dict[str, Any] | None = None,
        locale: str = "fr-CA",
        channel: bool = False,
    ) -> int:
        """Posts a message; returns where the bot's answers start in the connector's log."""
        since = len(self.connector.received)
        activity = message(
            text,
            service_url=self.connector.url,
            sender={"id": who.teams_user_id, "name": who.name, "aadObjectId": who.aad_object_id},
            locale=locale,
            conversation_type="channel" if channel else "personal",
            mention_bot=channel,
            value=value,
        )
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()
        return since

    def cards_since(self, since: int) -> list[dict[str, Any]]:
        return [
            attachment["content"]
            for received in self.connector.received[since:]
            for attachment in received.body.get("attachments") or []
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    def texts_since(self, since: int) -> list[str]:
        return [str(r.body["text"]) for r in self.connector.received[since:] if r.body.get("text")]


@pytest.fixture
def traveller() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
async def scene(
    database_url: str, connector: FakeConnector, traveller: None
) -> AsyncIterator[Scene]:
    client = TestClient(TestServer(create_app(make_settings(database_url))))
    await client.start_server()
    sessions: SessionFactory = client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        coordinator = await factories.person(session, 1)
        row = await factories.member(session, coordinator, where)
        row.roles = [Role.MEMBER.value, Role.COORDINATOR.value]
        member = await factories.person(session, 2)
        await factories.member(session, member, where)
        mentors = []
        for n in (3, 4):
            mentor = await factories.person(session, n)
            row = await factories.member(session, mentor, where)
            row.roles = [Role.MEMBER.value, Role.MENTOR.value]
            row.mentor_capacity = 2
            mentors.append(mentor)
        mentees = []
        for n in (5, 6):
            mentee = await factories.person(session, n)
            await factories.member(session, mentee, where)
            mentees.append(mentee)
        waiting, _ = await mentoring.request_mentor(
            session, community_id=_id(where), mentee_id=_id(mentees[0])
        )
        proposed, _ = await mentoring.request_mentor(
            session, community_id=_id(where), mentee_id=_id(mentees[1])
        )
        await mentoring.confirm(
            session,
            request_id=_id(proposed),
            mentor_id=_id(mentors[0]),
            confirmed_by_id=_id(coordinator),
            now=NOW,
        )
    try:
        yield Scene(client, connector, coordinator, member, mentors, waiting, proposed)
    finally:
        await client.close()


async def test_a_coordinator_lists_the_waiting_requests_and_proposes_a_mentor(
    scene: Scene,
) -> None:
    s = scene
    since = await s.post(s.coordinator, text="demandes de mentorat")
    cards = s.cards_since(since)
    assert cards, s.texts_since(since)
    text = "\n".join(card_text(card) for card in cards)
    # The request with a proposal says whom it waits for; the other one has its suggestions.
    assert "Personne 6" in text
    assert "Personne 3" in text
    proposals = [
        a["data"]
        for card in cards
        for a in card_actions(card)
        if a.get("data", {}).get("verb") == "mentoring.confirm"
    ]
    assert {p["request_id"] for p in proposals} == {_id(s.waiting)}
    withdraws = {
        a["data"]["request_id"]
        for card in cards
        for a in card_actions(card)
        if a.get("data", {}).get("verb") == "mentoring.withdraw"
    }
    assert _id(s.waiting) in withdraws

    # The same action as on the proactive card.
    chosen = next(p for p in proposals if p["mentor_id"] == _id(s.mentors[1]))
    since = await s.post(s.coordinator, value=chosen)
    assert s.texts_since(since) == [fr("mentoring.confirm.sent", mentor=s.mentors[1].name)]
    async with s.sessions() as session:
        pairing = (
            await session.exec(
                select(MentorPairing).where(MentorPairing.request_id == _id(s.waiting))
            )
        ).one()
    assert (pairing.mentor_id, pairing.status) == (_id(s.mentors[1]), PairingStatus.PROPOSED)
    assert [m.person_id for m in await queued(s.sessions) if m.kind == "mentoring_proposal"] == [
        _id(s.mentors[1])
    ]

    # In English too.
    since = await s.post(s.coordinator, text="mentoring requests", locale="en-US")
    assert s.cards_since(since)


async def test_anyone_else_is_refused_plainly(scene: Scene) -> None:
    s = scene
    since = await s.post(s.member, text="demandes de mentorat")
    assert s.texts_since(since) == [fr("mentoring.requests.not_allowed")]
    assert s.cards_since(since) == []
