"""Destructive actions ask first, over HTTP: closing a poll now, leaving a community (`quitter`
and the leave button), withdrawing a mentor request or a consultation request, erasing one's
data. The first click answers with the confirmation card naming what will happen and changes
nothing; only its button (`confirmed: true`) acts, after checking permissions again; a double
click acts once; the confirmation card is replaced by the outcome (updated in place).

Leaving also withdraws the person's open mentor request in that community, and ends the
proposal waiting on it (its mentor is told).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import RUNTIME, create_app
from cards.i18n import translator
from storage import mentoring, outbox
from storage.db import SessionFactory, transaction
from storage.models import (
    Community,
    ConsultationRequest,
    ConsultationStatus,
    Membership,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    OutboxStatus,
    PairingStatus,
    Person,
    Poll,
    PollStatus,
    PollVote,
    Role,
)
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import card_actions, queued
from tests.test_communities import card_text

Client = TestClient[web.Request, web.Application]
NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
CHANNEL = "19:channel@thread.tacv2"  # tests.activities.message's channel
TEAM = "19:team@thread.tacv2"
fr = translator("fr-CA")


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def sender(who: Person) -> dict[str, Any]:
    return {"id": who.teams_user_id, "name": who.name, "aadObjectId": who.aad_object_id}


@dataclass
class World:
    """A community bound to the channel: an animator, three members who voted on a poll, a
    volunteer mentor, and a member with an open mentor request proposed to that mentor."""

    client: Client
    connector: FakeConnector
    community: Community
    animator: Person
    members: list[Person]
    mentor: Person

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
        channel: bool = False,
        reply_to: str | None = None,
    ) -> None:
        activity = message(
            text,
            service_url=self.connector.url,
            sender=sender(who),
            conversation_type="channel" if channel else "personal",
            conversation_id=CHANNEL if channel else None,
            mention_bot=channel and text is not None,
            value=value,
        )
        if reply_to is not None:
            activity["replyToId"] = reply_to  # the message whose button was clicked
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    def new_cards(self, since: int) -> list[dict[str, Any]]:
        """Adaptive cards posted (not updated) since request number `since`."""
        return [
            attachment["content"]
            for received in self.connector.received[since:]
            if received.method == "POST" and "/activities" in received.path
            for attachment in received.body.get("attachments") or []
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    def updates_of(self, activity_id: str) -> list[dict[str, Any]]:
        """What replaced the message `activity_id` (PUT), in order."""
        return [
            received.body
            for received in self.connector.received
            if received.method == "PUT" and received.path.endswith(f"/activities/{activity_id}")
        ]

    def texts_since(self, since: int) -> list[str]:
        return [
            str(received.body["text"])
            for received in self.connector.received[since:]
            if received.method == "POST" and "/activities" in received.path
            if received.body.get("text")
        ]


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
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value, Role.COORDINATOR.value]
        members = [await factories.person(session, n) for n in (2, 3, 4)]
        for who in members:
            await factories.member(session, who, where)
        mentor = await factories.person(session, 5)
        row = await factories.member(session, mentor, where)
        row.roles = [Role.MEMBER.value, Role.MENTOR.value]
        row.mentor_capacity = 2
    try:
        yield World(client, connector, where, animator, members, mentor)
    finally:
        await client.close()


def confirm_button(card: dict[str, Any]) -> dict[str, Any]:
    """The confirmation card's button that acts (the other one is « Ne rien changer »)."""
    (button,) = [a for a in card_actions(card) if a.get("data", {}).get("confirmed") is True]
    data: dict[str, Any] = button["data"]
    return data


def is_confirmation(card: dict[str, Any]) -> bool:
    verbs = [a.get("data", {}).get("verb") for a in card_actions(card)]
    return "confirm.dismiss" in verbs


# -- closing a poll now ----------------------------------------------------------------------


async def test_closing_a_poll_asks_first_names_the_voters_and_closes_once(world: World) -> None:
    w = world
    async with transaction(w.sessions) as session:
        poll = Poll(
            community_id=_id(w.community),
            question="Quelle date ?",
            options=["Mardi", "Jeudi"],
            closes_at=NOW + timedelta(days=5),
            created_by_id=_id(w.animator),
            activity_id="poll-card",
        )
        session.add(poll)
        await session.flush()
        for n, who in enumerate(w.members):
            session.add(
                PollVote(
                    poll_id=_id(poll), voter_key=f"test:{n}", person_id=_id(who), choices=[n % 2]
                )
            )

    # The first click only asks, in the channel where the button was clicked.
    before = len(w.connector.received)
    close = {"verb": "polls.close", "poll_id": _id(poll)}
    await w.post(w.animator, value=close, channel=True, reply_to="poll-card")
    (card,) = w.new_cards(before)
    assert is_confirmation(card)
    text = card_text(card)
    assert (
        "3\xa0personnes ont voté\xa0; le vote se fermera et les résultats seront publiés." in text
    )
    assert confirm_button(card) == {"verb": "polls.close", "poll_id": _id(poll), "confirmed": True}
    assert w.updates_of("poll-card") == []  # the poll card itself is left as it is
    async with w.sessions() as session:
        assert (await session.get(Poll, _id(poll))).status == PollStatus.OPEN  # type: ignore[union-attr]

    # A member clicking the confirmation button is refused: permissions are checked again.
    before = len(w.connector.received)
    await w.post(w.members[0], value=confirm_button(card), channel=True, reply_to="confirm-1")
    assert w.texts_since(before) == [fr("polls.close.not_allowed")]
    async with w.sessions() as session:
        assert (await session.get(Poll, _id(poll))).status == PollStatus.OPEN  # type: ignore[union-attr]

    # A double click on the confirmation closes once; the confirmation card becomes the outcome.
    await w.post(w.animator, value=confirm_button(card), channel=True, reply_to="confirm-1")
    await w.post(w.animator, value=confirm_button(card), channel=True, reply_to="confirm-1")
    async with w.sessions() as session:
        stored = await session.get(Poll, _id(poll))
    assert stored is not None
    assert stored.status == PollStatus.CLOSED
    outcomes = [card_text(u["attachments"][0]["content"]) for u in w.updates_of("confirm-1")]
    assert outcomes == [fr("polls.close.done"), fr("polls.close.already")]
    closing = sorted(m.dedup_key for m in await queued(w.sessions) if m.kind != "notice")
    assert closing == [f"poll:{_id(poll)}:closed:results:to:{_id(w.animator)}"]
    # The posted poll card shows the final results.
    assert "résultats finaux" in card_text(
        w.updates_of("poll-card")[-1]["attachments"][0]["content"]
    )


# -- leaving a community -------------------------------------------------------------------------


async def _open_request_proposed_to_the_mentor(w: World, mentee: Person) -> tuple[int, int]:
    async with transaction(w.sessions) as session:
        request, _created = await mentoring.request_mentor(
            session, community_id=_id(w.community), mentee_id=_id(mentee)
        )
        pairing = await mentoring.confirm(
            session,
            request_id=_id(request),
            mentor_id=_id(w.mentor),
            confirmed_by_id=_id(w.animator),
            now=NOW,
        )
        # What the proposal and the first suggestions left in the outbox, not yet sent.
        await outbox.enqueue(
            session,
            dedup_key=f"mentoring:pairing:{_id(pairing)}:proposal",
            recipient=outbox.Recipient.person(_id(w.mentor)),
            kind="mentoring_proposal",
            params={"pairing_id": _id(pairing)},
        )
        await outbox.enqueue(
            session,
            dedup_key=f"mentoring:request:{_id(request)}:to:{_id(w.animator)}",
            recipient=outbox.Recipient.person(_id(w.animator)),
            kind="mentoring_suggestions",
            params={"request_id": _id(request)},
        )
    return _id(request), _id(pairing)


async def _membership(w: World, who: Person) -> Membership:
    async with w.sessions() as session:
        row = (
            await session.exec(select(Membership).where(col(Membership.person_id) == _id(who)))
        ).one()
    return row


@pytest.mark.parametrize("how", ["command", "button"])
async def test_leaving_asks_first_then_leaves_and_withdraws_the_mentor_request(
    world: World, how: str
) -> None:
    w = world
    leaver = w.members[0]
    request_id, pairing_id = await _open_request_proposed_to_the_mentor(w, leaver)

    before = len(w.connector.received)
    if how == "command":
        await w.post(leaver, text="quitter")
    else:
        await w.post(leaver, value={"verb": "communities.leave", "community_id": _id(w.community)})
    (card,) = w.new_cards(before)
    assert is_confirmation(card)
    text = card_text(card)
    assert w.community.name in text
    assert fr("leave.confirm.mentor_request") in text
    assert (await _membership(w, leaver)).left_at is None  # nothing changed yet

    # Someone else clicking that button (a card seen in a channel) leaves nobody.
    before = len(w.connector.received)
    await w.post(w.members[1], value=confirm_button(card), reply_to="confirm-leave")
    assert w.texts_since(before) == [fr("confirm.not_yours")]
    assert (await _membership(w, w.members[1])).left_at is None

    await w.post(leaver, value=confirm_button(card), reply_to="confirm-leave")
    await w.post(leaver, value=confirm_button(card), reply_to="confirm-leave")
    assert (await _membership(w, leaver)).left_at is not None
    outcomes = [card_text(u["attachments"][0]["content"]) for u in w.updates_of("confirm-leave")]
    assert outcomes == [
        fr("leave.done", community=w.community.name),
        fr("leave.already", community=w.community.name),
    ]
    async with w.sessions() as session:
        request = await session.get(MentorRequest, request_id)
        pairing = await session.get(MentorPairing, pairing_id)
    assert request is not None
    assert request.status == MentorRequestStatus.CANCELLED
    assert pairing is not None
    assert pairing.status == PairingStatus.ENDED
    rows = await queued(w.sessions)
    # The proposal and the suggestions still waiting are dropped; the mentor is told, once.
    dropped = {
        m.kind: m.status
        for m in rows
        if m.kind.startswith("mentoring_") and m.kind != "mentoring_withdrawn"
    }
    assert dropped == {
        "mentoring_proposal": OutboxStatus.CANCELLED,
        "mentoring_suggestions": OutboxStatus.CANCELLED,
    }
    told = [(m.kind, m.person_id) for m in rows if m.kind == "mentoring_withdrawn"]
    assert told == [("mentoring_withdrawn", _id(w.mentor))]


# -- withdrawing a request ---------------------------------------------------------------------


async def test_withdrawing_a_mentor_request_asks_first_and_acts_once(world: World) -> None:
    w = world
    mentee = w.members[1]
    request_id, _pairing_id = await _open_request_proposed_to_the_mentor(w, mentee)
    before = len(w.connector.received)
    await w.post(mentee, value={"verb": "mentoring.withdraw", "request_id": request_id})
    (card,) = w.new_cards(before)
    assert is_confirmation(card)
    assert fr("mentoring.withdraw.confirm.proposal", name=w.mentor.name) in card_text(card)
    async with w.sessions() as session:
        request = await session.get(MentorRequest, request_id)
    assert request is not None
    assert request.status == MentorRequestStatus.OPEN

    await w.post(mentee, value=confirm_button(card), reply_to="confirm-withdraw")
    await w.post(mentee, value=confirm_button(card), reply_to="confirm-withdraw")
    async with w.sessions() as session:
        request = await session.get(MentorRequest, request_id)
    assert request is not None
    assert request.status == MentorRequestStatus.CANCELLED
    outcomes = [card_text(u["attachments"][0]["content"]) for u in w.updates_of("confirm-withdraw")]
    assert outcomes == [
        fr("mentoring.withdraw.done", community=w.community.name),
        fr("mentoring.withdraw.already"),
    ]
    told = [m.person_id for m in await queued(w.sessions) if m.kind == "mentoring_withdrawn"]
    assert told == [_id(w.mentor)]


async def test_withdrawing_a_consultation_request_asks_first_and_acts_once(world: World) -> None:
    w = world
    requester = w.members[2]
    async with transaction(w.sessions) as session:
        request = ConsultationRequest(
            reference="C-2027-0001",
            community_id=_id(w.community),
            requester_id=_id(requester),
            motive="clinical",
            summary="Une situation à discuter",
            urgency="normal",
            modality="teams",
            status=ConsultationStatus.ASSIGNED,
            assignee_id=_id(w.animator),
        )
        session.add(request)
    click = {"verb": "consultations.withdraw", "request_id": _id(request)}
    before = len(w.connector.received)
    await w.post(requester, value=click)
    (card,) = w.new_cards(before)
    assert is_confirmation(card)
    assert "C-2027-0001" in card_text(card)
    assert fr("consultation.withdraw.confirm.assignee", name=w.animator.name) in card_text(card)
    # Someone else cannot withdraw it, even with the button's data.
    before = len(w.connector.received)
    await w.post(w.members[0], value=confirm_button(card), reply_to="confirm-c")
    assert w.texts_since(before) == [fr("consultation.not_allowed")]

    await w.post(requester, value=confirm_button(card), reply_to="confirm-c")
    await w.post(requester, value=confirm_button(card), reply_to="confirm-c")
    async with w.sessions() as session:
        stored = await session.get(ConsultationRequest, _id(request))
    assert stored is not None
    assert stored.status == ConsultationStatus.WITHDRAWN
    outcomes = [card_text(u["attachments"][0]["content"]) for u in w.updates_of("confirm-c")]
    assert outcomes == [
        fr("consultation.withdraw.done", reference="C-2027-0001"),
        fr("consultation.withdraw.already", reference="C-2027-0001"),
    ]
    told = [m.person_id for m in await queued(w.sessions) if m.kind == "consultation_withdrawn"]
    assert told == [_id(w.animator)]


# -- erasing one's data ------------------------------------------------------------------------


async def test_erasing_asks_on_the_confirmation_card_and_erases_once(world: World) -> None:
    w = world
    who = w.members[0]
    before = len(w.connector.received)
    await w.post(who, value={"verb": "privacy.erase.ask"})
    (card,) = w.new_cards(before)
    assert is_confirmation(card)
    assert fr("privacy.erase.consequences") in card_text(card)
    data = confirm_button(card)
    assert data["verb"] == "privacy.erase.ask"
    assert data["nonce"]
    assert (await _membership(w, who)).left_at is None

    await w.post(who, value=data, reply_to="confirm-erase")
    async with w.sessions() as session:
        erased = await session.get(Person, _id(who))
    assert erased is not None
    assert erased.name is None
    assert (await _membership(w, who)).left_at is not None
    (outcome,) = w.updates_of("confirm-erase")
    assert card_text(outcome["attachments"][0]["content"]) == fr("privacy.erase.done")


# -- ending a pairing ----------------------------------------------------------------------------


async def test_ending_a_pairing_asks_first_and_ends_it_once(world: World) -> None:
    w = world
    mentee = w.members[0]
    _request_id, pairing_id = await _open_request_proposed_to_the_mentor(w, mentee)
    async with transaction(w.sessions) as session:
        await mentoring.answer(
            session, pairing_id=pairing_id, mentor_id=_id(w.mentor), accept=True, now=NOW
        )
    end = {"verb": "mentoring.end", "pairing_id": pairing_id}
    before = len(w.connector.received)
    await w.post(w.mentor, value=end)
    (card,) = w.new_cards(before)
    assert is_confirmation(card)
    assert fr("mentoring.end.confirm.told", name=mentee.name) in card_text(card)
    async with w.sessions() as session:
        pairing = await session.get(MentorPairing, pairing_id)
    assert pairing is not None
    assert pairing.status == PairingStatus.ACTIVE

    await w.post(w.mentor, value=confirm_button(card), reply_to="confirm-end")
    await w.post(w.mentor, value=confirm_button(card), reply_to="confirm-end")
    async with w.sessions() as session:
        pairing = await session.get(MentorPairing, pairing_id)
    assert pairing is not None
    assert pairing.status == PairingStatus.ENDED
    outcomes = [card_text(u["attachments"][0]["content"]) for u in w.updates_of("confirm-end")]
    assert outcomes == [fr("mentoring.end.done"), fr("mentoring.end.already")]
    told = [
        m.person_id for m in await queued(w.sessions) if m.dedup_key.startswith("mentoring:ended:")
    ]
    assert told == [_id(mentee)]
