"""A consultation request's card, as the coordinators receive it through the outbox and the
fake Bot Connector.

- The audit trail says « a lu la demande (carte reçue) » only for a coordinator whose card was
  delivered: one who never installed the bot (Teams refuses the 1:1 chat) read nothing.
- « Confier à un·e collègue » lists the colleagues who may take the request: not the
  coordinator reading the card (« Je la prends » is theirs), not the requester, nobody who
  left or erased their data, nobody from another organisation; in French alphabetical order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web

from bot.app import Runtime
from cards.i18n import translator
from storage import consultations, privacy
from storage.consultations import Action, Draft
from storage.db import transaction
from storage.models import Community, OutboxStatus, Person, Role
from tests import factories
from tests.activities import TENANT
from tests.fake_connector import FakeConnector
from tests.support import START, Clock, dispatcher, queued

fr = translator("fr-CA")


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    # The outbox dates what it queues from the clock; the dispatcher runs on the tests' own.
    with time_machine.travel(START, tick=False):
        yield


DRAFT = Draft(
    motive="ethical_dilemma",
    summary="Une usagère refuse les soins; la famille insiste.",
    urgency="this_week",
    modality="one_to_one",
    availability="mardi matin",
)


class WithoutTheBot(FakeConnector):
    """Teams for a person who never installed the bot: a 1:1 chat cannot be created."""

    async def _create_conversation(self, request: web.Request) -> web.Response:
        received, _failed = await self._record(request)
        received.status = 403
        return web.json_response(
            {"error": {"code": "Forbidden", "message": "the bot is not installed"}}, status=403
        )


async def _member(
    session: Any,
    where: Community,
    n: int,
    *,
    name: str,
    roles: tuple[Role, ...] = (),
    expertise: list[str] | None = None,
    service_url: str | None = None,
    tenant: str | None = None,
) -> Person:
    who = await factories.person(session, n, service_url=service_url, tenant=tenant or TENANT)
    who.name = name
    row = await factories.member(session, who, where)
    row.roles = ["member", *(role.value for role in roles)]
    row.consultant_expertise = expertise
    return who


async def _submitted(session: Any, where: Community, requester: Person) -> int:
    assert where.id is not None
    assert requester.id is not None
    outcome = await consultations.submit(
        session,
        community_id=where.id,
        requester_id=requester.id,
        draft=DRAFT,
        now=START,
        timezone="America/Montreal",
    )
    assert outcome.request.id is not None
    return outcome.request.id


async def test_a_coordinator_whose_card_was_not_delivered_has_read_nothing(
    runtime: Runtime,
) -> None:
    connector = WithoutTheBot()
    await connector.start()
    try:
        async with transaction(runtime.sessions) as session:
            where = await factories.community(session)
            reached = await _member(
                session,
                where,
                1,
                name="Léa Tremblay",
                roles=(Role.COORDINATOR,),
                service_url=connector.url,
            )
            unreached = await _member(session, where, 2, name="Marc Roy", roles=(Role.COORDINATOR,))
            requester = await _member(session, where, 3, name="Samuel Gagnon")
            request_id = await _submitted(session, where, requester)
        await dispatcher(runtime, Clock(START + timedelta(minutes=1))).dispatch_once()

        status = {m.person_id: m.status for m in await queued(runtime.sessions)}
        assert status == {reached.id: OutboxStatus.SENT, unreached.id: OutboxStatus.UNDELIVERABLE}
        async with runtime.sessions() as session:
            trail = await consultations.audit_trail(
                session, community_id=where.id or 0, viewer_id=reached.id or 0
            )
        reads = [(e.actor_id, e.detail) for e in trail if e.action == Action.READ]
        assert reads == [(reached.id, "card")]
        assert request_id
    finally:
        await connector.close()


async def test_confier_a_un_collegue_lists_the_colleagues_who_may_take_it_by_name(
    runtime: Runtime, connector: FakeConnector
) -> None:
    async with transaction(runtime.sessions) as session:
        where = await factories.community(session)
        # The coordinator reading the card: not a colleague of their own. (Their 1:1 chat,
        # « a:personal-101 », cannot be one the fake connector creates for the others.)
        await _member(
            session,
            where,
            101,
            name="Léa Tremblay",
            roles=(Role.COORDINATOR,),
            service_url=connector.url,
        )
        await _member(session, where, 2, name="Sarah Pelletier", expertise=["ethical_dilemma"])
        await _member(session, where, 3, name="Émilie Roy", roles=(Role.COORDINATOR,))
        await _member(session, where, 4, name="andré Caron", expertise=["complex_situation"])
        gone = await _member(session, where, 5, name="Zoé Girard", expertise=["ethical_dilemma"])
        await _member(
            session,
            where,
            6,
            name="Guest Elsewhere",
            expertise=["ethical_dilemma"],
            tenant="another-organisation",
        )
        await _member(session, where, 7, name="Noémie Simple")  # a member, no consultant
        requester = await _member(
            session, where, 8, name="Béatrice Demande", expertise=["ethical_dilemma"]
        )
        await privacy.erase(session, person_id=gone.id or 0, now=START)
        await _submitted(session, where, requester)
    await dispatcher(runtime, Clock(START + timedelta(minutes=1))).dispatch_once()

    (card,) = connector.cards("a:personal-101")
    (give,) = [a for a in card["actions"] if a.get("type") == "Action.ShowCard"][:1]
    assert give["title"] == fr("consultation.card.give")
    (choice,) = give["card"]["body"]
    names = [c["title"].split(" · ")[0] for c in choice["choices"]]
    assert names == ["andré Caron", "Émilie Roy", "Sarah Pelletier"]
