"""Mentoring (jumelage): ranking, capacity, refusals, who may confirm, the pair's answers, the
check-ins planned from the agreement, the renderers and the cards in French and English."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import REGISTRY
from bot.features.mentoring import FEATURE as MENTORING
from bot.mentoring_flow import (
    MENTORING_RENDERERS,
    expire_proposals,
    on_mentor_command,
    on_volunteer_command,
)
from bot.scheduler import Jobs
from bot.settings import Settings
from cards.common import CARD_VERSION, MAX_CARD_BYTES, Element
from cards.mentoring import (
    build_agreement_card,
    build_checkin_card,
    build_community_choice_card,
    build_proposal_card,
    build_request_card,
    build_suggestions_card,
    build_terms_card,
)
from storage import communities, mentoring
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.mentoring import (
    KIND_AGREEMENT,
    KIND_CHECKIN,
    KIND_LAPSED,
    KIND_PAIRED,
    KIND_PROPOSAL,
    KIND_SUGGESTIONS,
    KIND_TERMS,
    KIND_WITHDRAWN,
    AlreadyPaired,
    AlreadyProposed,
    RequestClosed,
    Suggestion,
)
from storage.models import (
    Community,
    Membership,
    MentorCheckin,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    OutboxMessage,
    PairingStatus,
    Person,
    Role,
)
from tests import factories
from tests.conftest import make_settings
from tests.support import START, TZ, FeatureBot, card_content, press, queued, render_context

SOCIAL_WORK = "Travail social"
MONTEREGIE = "Montérégie"
CLSC = "CLSC de Longueuil"


# -- small builders ------------------------------------------------------------------------------


async def profiled(
    session: AsyncSession,
    n: int,
    where: Community,
    *,
    discipline: str | None = None,
    region: str | None = None,
    establishment: str | None = None,
    roles: tuple[Role, ...] = (),
    locale: str = "fr-CA",
) -> Person:
    who = await factories.person(session, n, locale=locale)
    row = await factories.member(session, who, where)
    row.discipline, row.region, row.establishment = discipline, region, establishment
    row.roles = [Role.MEMBER.value, *(role.value for role in roles)]
    await session.flush()
    return who


async def volunteer(
    session: AsyncSession, n: int, where: Community, *, capacity: int = 2, **profile: Any
) -> Person:
    who = await profiled(session, n, where, **profile)
    await mentoring.volunteer(
        session, person_id=_id(who), community_id=_id(where), capacity=capacity
    )
    return who


async def busy(
    session: AsyncSession,
    mentor: Person,
    where: Community,
    n: int,
    *,
    status: PairingStatus = PairingStatus.ACTIVE,
) -> None:
    """Give a mentor one more mentee (someone else) in the community."""
    other = await factories.person(session, n)
    request = MentorRequest(
        community_id=_id(where), mentee_id=_id(other), status=MentorRequestStatus.PAIRED
    )
    session.add(request)
    await session.flush()
    session.add(
        MentorPairing(
            request_id=_id(request),
            community_id=_id(where),
            mentor_id=_id(mentor),
            mentee_id=_id(other),
            status=status,
        )
    )
    await session.flush()


def _id(row: Person | Community | MentorRequest | MentorPairing | Membership) -> int:
    assert row.id is not None
    return row.id


@dataclass
class Scene:
    """A community with a coordinator, an animator, a plain member, a newcomer and mentors."""

    where: Community
    coordinator: Person
    animator: Person
    member: Person
    newcomer: Person
    mentors: list[Person]
    request: MentorRequest


async def scene(sessions: SessionFactory, *, capacities: tuple[int, ...] = (2, 2)) -> Scene:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        coordinator = await profiled(session, 1, where, roles=(Role.COORDINATOR,))
        animator = await profiled(session, 2, where, roles=(Role.ANIMATOR,))
        member = await profiled(session, 3, where)
        newcomer = await profiled(
            session, 4, where, discipline=SOCIAL_WORK, region=MONTEREGIE, establishment=CLSC
        )
        mentors = [
            await volunteer(
                session,
                10 + i,
                where,
                capacity=capacity,
                discipline=SOCIAL_WORK if i == 0 else "Psychologie",
                region=MONTEREGIE,
            )
            for i, capacity in enumerate(capacities)
        ]
        request, created = await mentoring.request_mentor(
            session, community_id=_id(where), mentee_id=_id(newcomer)
        )
        assert created
    return Scene(where, coordinator, animator, member, newcomer, mentors, request)


async def pairings(sessions: SessionFactory) -> list[MentorPairing]:
    async with sessions() as session:
        return list(
            (await session.exec(select(MentorPairing).order_by(col(MentorPairing.id)))).all()
        )


async def request_status(sessions: SessionFactory, request_id: int) -> MentorRequestStatus:
    async with sessions() as session:
        request = await session.get(MentorRequest, request_id)
        assert request is not None
        return MentorRequestStatus(request.status)


async def proposed_by_coordinator(
    sessions: SessionFactory, s: Scene, mentor: Person
) -> MentorPairing:
    """The coordinator proposes `mentor` for the scene's request (storage only, no message)."""
    async with transaction(sessions) as session:
        return await mentoring.confirm(
            session,
            request_id=_id(s.request),
            mentor_id=_id(mentor),
            confirmed_by_id=_id(s.coordinator),
        )


# -- storage: ranking, capacity, refusals ------------------------------------------------------


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_ranking_is_discipline_then_region_then_establishment_then_load_then_id(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        mentee = await profiled(
            session, 1, where, discipline=SOCIAL_WORK, region=MONTEREGIE, establishment=CLSC
        )
        # Region and establishment, but another discipline: ranks below any shared discipline.
        place_only = await volunteer(
            session, 2, where, discipline="Soins infirmiers", region=MONTEREGIE, establishment=CLSC
        )
        busy_discipline = await volunteer(session, 3, where, capacity=3, discipline=SOCIAL_WORK)
        await busy(session, busy_discipline, where, 90)
        best = await volunteer(session, 4, where, discipline=SOCIAL_WORK, region=MONTEREGIE)
        # Typed differently, same discipline.
        first_tie = await volunteer(session, 5, where, discipline="  travail  SOCIAL ")
        second_tie = await volunteer(session, 6, where, discipline=SOCIAL_WORK)
        establishment_only = await volunteer(session, 7, where, establishment="clsc de longueuil")
        nothing = await volunteer(session, 8, where, discipline="Psychologie")
        gone = await volunteer(session, 9, where, discipline=SOCIAL_WORK, region=MONTEREGIE)
        await communities.leave(session, person_id=_id(gone), community_id=_id(where))
        # The mentee volunteering elsewhere in the same community is never their own mentor.
        await mentoring.volunteer(
            session, person_id=_id(mentee), community_id=_id(where), capacity=1
        )
        request, _ = await mentoring.request_mentor(
            session, community_id=_id(where), mentee_id=_id(mentee)
        )

    async with sessions() as session:
        everyone = await mentoring.suggestions(session, request_id=_id(request), limit=20)
        top = await mentoring.suggestions(session, request_id=_id(request))

    assert [s.person.id for s in everyone] == [
        best.id,
        first_tie.id,
        second_tie.id,
        busy_discipline.id,
        place_only.id,
        establishment_only.id,
        nothing.id,
    ]
    assert [s.person.id for s in top] == [best.id, first_tie.id, second_tie.id]
    assert everyone[0].shared == ("discipline", "region")
    assert everyone[0].reason == "discipline,region;load=0/2"
    assert everyone[3].load == 1
    assert everyone[3].reason == "discipline;load=1/3"
    assert everyone[4].shared == ("region", "establishment")
    assert everyone[6].reason == "none;load=0/2"


async def test_full_mentors_are_not_suggested_and_a_proposal_holds_a_place(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        mentee = await profiled(session, 1, where, discipline=SOCIAL_WORK)
        full = await volunteer(session, 2, where, capacity=1, discipline=SOCIAL_WORK)
        await busy(session, full, where, 90)
        waiting = await volunteer(session, 3, where, capacity=1, discipline=SOCIAL_WORK)
        await busy(session, waiting, where, 91, status=PairingStatus.PROPOSED)
        ended = await volunteer(session, 4, where, capacity=1)
        await busy(session, ended, where, 92, status=PairingStatus.ENDED)
        room = await volunteer(session, 5, where, capacity=2)
        await busy(session, room, where, 93)
        request, _ = await mentoring.request_mentor(
            session, community_id=_id(where), mentee_id=_id(mentee)
        )
    async with sessions() as session:
        found = await mentoring.suggestions(session, request_id=_id(request), limit=10)
    assert [(s.person.id, s.load, s.capacity) for s in found] == [
        (ended.id, 0, 1),
        (room.id, 1, 2),
    ]


async def test_a_mentor_who_declined_is_never_suggested_again_to_that_mentee(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    best = s.mentors[0]
    async with transaction(sessions) as session:
        first = await mentoring.suggestions(session, request_id=_id(s.request), limit=1)
        assert [x.person.id for x in first] == [best.id]
        pairing = await mentoring.confirm(
            session,
            request_id=_id(s.request),
            mentor_id=_id(best),
            confirmed_by_id=_id(s.coordinator),
        )
        await mentoring.answer(
            session, pairing_id=_id(pairing), mentor_id=_id(best), accept=False, now=START
        )
    async with transaction(sessions) as session:
        again = await mentoring.suggestions(session, request_id=_id(s.request), limit=10)
        assert best.id not in [x.person.id for x in again]
        with pytest.raises(NotAllowed):
            await mentoring.confirm(
                session,
                request_id=_id(s.request),
                mentor_id=_id(best),
                confirmed_by_id=_id(s.coordinator),
            )
        # Another newcomer can still be paired with that mentor.
        other = await profiled(session, 5, s.where, discipline=SOCIAL_WORK)
        other_request, _ = await mentoring.request_mentor(
            session, community_id=_id(s.where), mentee_id=_id(other)
        )
        offered = await mentoring.suggestions(session, request_id=_id(other_request))
        assert offered[0].person.id == best.id
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.OPEN


async def test_only_a_coordinator_or_an_animator_may_confirm(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    first, second = s.mentors
    for outsider in (s.member, s.newcomer, first):
        async with transaction(sessions) as session:
            with pytest.raises(NotAllowed):
                await mentoring.confirm(
                    session,
                    request_id=_id(s.request),
                    mentor_id=_id(first),
                    confirmed_by_id=_id(outsider),
                )
    assert await pairings(sessions) == []
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.OPEN

    async with transaction(sessions) as session:
        pairing = await mentoring.confirm(
            session,
            request_id=_id(s.request),
            mentor_id=_id(first),
            confirmed_by_id=_id(s.animator),
        )
        assert pairing.status == PairingStatus.PROPOSED
        assert pairing.reason == "discipline,region;load=0/2"
        assert pairing.confirmed_by_id == s.animator.id
        # The coordinator clicking the same button: the same proposal, not a second one.
        same = await mentoring.confirm(
            session,
            request_id=_id(s.request),
            mentor_id=_id(first),
            confirmed_by_id=_id(s.coordinator),
        )
        assert same.id == pairing.id
        with pytest.raises(AlreadyProposed):
            await mentoring.confirm(
                session,
                request_id=_id(s.request),
                mentor_id=_id(second),
                confirmed_by_id=_id(s.coordinator),
            )
    assert len(await pairings(sessions)) == 1
    # The request stays open until the mentor accepts.
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.OPEN


async def test_a_coordinator_who_left_may_no_longer_confirm(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    async with transaction(sessions) as session:
        await communities.leave(session, person_id=_id(s.coordinator), community_id=_id(s.where))
    async with transaction(sessions) as session:
        with pytest.raises(NotAllowed):
            await mentoring.confirm(
                session,
                request_id=_id(s.request),
                mentor_id=_id(s.mentors[0]),
                confirmed_by_id=_id(s.coordinator),
            )
    assert await pairings(sessions) == []


async def test_accepting_activates_the_pairing_and_closes_the_request(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    mentor = s.mentors[0]
    pairing = await proposed_by_coordinator(sessions, s, mentor)
    async with transaction(sessions) as session:
        with pytest.raises(NotAllowed):  # only the proposed mentor answers
            await mentoring.answer(
                session,
                pairing_id=_id(pairing),
                mentor_id=_id(s.mentors[1]),
                accept=True,
                now=START,
            )
    async with transaction(sessions) as session:
        accepted = await mentoring.answer(
            session, pairing_id=_id(pairing), mentor_id=_id(mentor), accept=True, now=START
        )
        assert accepted.status == PairingStatus.ACTIVE
        assert accepted.accepted_at == START
        again = await mentoring.answer(
            session,
            pairing_id=_id(pairing),
            mentor_id=_id(mentor),
            accept=True,
            now=START + timedelta(hours=1),
        )
        assert again.accepted_at == START  # a double click changes nothing
        with pytest.raises(NotAllowed):
            await mentoring.answer(
                session, pairing_id=_id(pairing), mentor_id=_id(mentor), accept=False, now=START
            )
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.PAIRED
    async with transaction(sessions) as session:
        with pytest.raises(AlreadyPaired):
            await mentoring.request_mentor(
                session, community_id=_id(s.where), mentee_id=_id(s.newcomer)
            )
        with pytest.raises(RequestClosed):
            await mentoring.confirm(
                session,
                request_id=_id(s.request),
                mentor_id=_id(s.mentors[1]),
                confirmed_by_id=_id(s.coordinator),
            )
        assert await mentoring.suggestions(session, request_id=_id(s.request)) == []


async def test_requests_volunteering_terms_and_ending(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    async with transaction(sessions) as session:
        same, created = await mentoring.request_mentor(
            session, community_id=_id(s.where), mentee_id=_id(s.newcomer)
        )
        assert (same.id, created) == (s.request.id, False)
        stranger = await factories.person(session, 50)
        with pytest.raises(NotAllowed):
            await mentoring.request_mentor(
                session, community_id=_id(s.where), mentee_id=_id(stranger)
            )
        with pytest.raises(NotAllowed):
            await mentoring.volunteer(
                session, person_id=_id(stranger), community_id=_id(s.where), capacity=1
            )
        for wrong in (-1, 11):
            with pytest.raises(ValueError, match="capacity"):
                await mentoring.volunteer(
                    session, person_id=_id(s.member), community_id=_id(s.where), capacity=wrong
                )
        row = await mentoring.volunteer(
            session, person_id=_id(s.member), community_id=_id(s.where), capacity=3
        )
        assert (row.mentor_capacity, row.roles) == (3, ["member", "mentor"])
        row = await mentoring.volunteer(
            session, person_id=_id(s.member), community_id=_id(s.where), capacity=0
        )
        assert (row.mentor_capacity, row.roles) == (None, ["member"])

        mentor = s.mentors[0]
        pairing = await mentoring.confirm(
            session,
            request_id=_id(s.request),
            mentor_id=_id(mentor),
            confirmed_by_id=_id(s.coordinator),
        )
        with pytest.raises(NotAllowed):  # not active yet
            await mentoring.set_agreement(
                session,
                pairing_id=_id(pairing),
                person_id=_id(mentor),
                goals="Connaître le territoire",
                frequency="Aux deux semaines",
                duration_weeks=12,
            )
        await mentoring.answer(
            session, pairing_id=_id(pairing), mentor_id=_id(mentor), accept=True, now=START
        )
        for goals, frequency, weeks in (
            ("", "Aux deux semaines", 12),
            ("x" * 1001, "Aux deux semaines", 12),
            ("Connaître le territoire", " ", 12),
            ("Connaître le territoire", "Aux deux semaines", 0),
            ("Connaître le territoire", "Aux deux semaines", 105),
        ):
            with pytest.raises(ValueError, match="must"):
                await mentoring.set_agreement(
                    session,
                    pairing_id=_id(pairing),
                    person_id=_id(s.newcomer),
                    goals=goals,
                    frequency=frequency,
                    duration_weeks=weeks,
                )
        with pytest.raises(NotAllowed):
            await mentoring.set_agreement(
                session,
                pairing_id=_id(pairing),
                person_id=_id(s.coordinator),
                goals="Connaître le territoire",
                frequency="Aux deux semaines",
                duration_weeks=12,
            )
        terms = await mentoring.set_agreement(
            session,
            pairing_id=_id(pairing),
            person_id=_id(s.newcomer),
            goals="  Connaître le territoire ",
            frequency="Aux deux semaines",
            duration_weeks=26,
        )
        assert (terms.goals, terms.duration_weeks) == ("Connaître le territoire", 26)
        with pytest.raises(NotAllowed):
            await mentoring.end(
                session, pairing_id=_id(pairing), person_id=_id(s.member), now=START
            )
        ended = await mentoring.end(
            session, pairing_id=_id(pairing), person_id=_id(s.animator), now=START
        )
        assert (ended.status, ended.ended_at) == (PairingStatus.ENDED, START)
        # After the end, the newcomer may ask again.
        _, created = await mentoring.request_mentor(
            session, community_id=_id(s.where), mentee_id=_id(s.newcomer)
        )
        assert created


# -- the bot glue, over a TestAdapter ------------------------------------------------------------


@dataclass
class Bot(FeatureBot):
    """Drives the mentoring functions as the handler will, and records what was said."""

    settings: Settings = field(default_factory=lambda: make_settings("sqlite+aiosqlite://"))

    def _context(self, value: dict[str, Any] | None = None) -> TurnContext:
        return self.message(value)

    async def click(self, who: Person, value: dict[str, Any], locale: str = "fr-CA") -> bool:
        return await press(
            self._context(value),
            value,
            sessions=self.sessions,
            settings=self.settings,
            info=self.info(who, locale),
            wake=self._wake,
            clock=lambda: self.now,
        )

    async def ask_for_a_mentor(self, who: Person, locale: str = "fr-CA") -> None:
        """`who` types `mentor` in the 1:1 chat."""
        await on_mentor_command(
            self._context(),
            sessions=self.sessions,
            info=self.info(who, locale),
            community_id=None,
            wake=self._wake,
        )

    def texts(self) -> list[str | None]:
        return [a.text for a in self.replies()]

    def cards(self) -> list[Element]:
        return [card_content(a.attachments[0]) for a in self.replies()]


async def test_the_mentor_command_sends_the_request_to_each_coordinator_and_animator(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        coordinator = await profiled(session, 1, where, roles=(Role.COORDINATOR,))
        animator = await profiled(session, 2, where, roles=(Role.ANIMATOR,))
        newcomer = await profiled(session, 3, where, discipline=SOCIAL_WORK)

    bot.now = START
    await bot.ask_for_a_mentor(newcomer)
    (card,) = bot.cards()
    rows = await queued(sessions)
    request_id = rows[0].params["request_id"]
    assert _lines(card)[:2] == [
        "Votre demande de jumelage — CdeP Soins palliatifs",
        "C’est parti\xa0! J’ai transmis votre demande de jumelage à la coordination et à "
        "l’animation de CdeP Soins palliatifs. Elles choisiront un·e mentor·e, qui devra "
        "d’abord accepter\xa0; vous recevrez ensuite l’entente de jumelage à remplir ensemble.",
    ]
    assert _lines(card)[2].startswith("Demande faite le ")
    # The request's card can withdraw it (its click asks on the confirmation card).
    (withdraw,) = card["actions"]
    assert withdraw["title"] == "Retirer ma demande"
    assert withdraw["data"] == {"verb": "mentoring.withdraw", "request_id": request_id}
    assert sorted((r.person_id, r.kind, r.dedup_key) for r in rows) == [
        (coordinator.id, KIND_SUGGESTIONS, f"mentoring:request:{request_id}:to:{coordinator.id}"),
        (animator.id, KIND_SUGGESTIONS, f"mentoring:request:{request_id}:to:{animator.id}"),
    ]
    assert bot.wakes == 1

    # Asking again: the same request, nothing queued twice.
    await bot.ask_for_a_mentor(newcomer)
    (again,) = bot.cards()
    assert _lines(again)[1].startswith("Votre demande de jumelage dans CdeP Soins palliatifs est")
    assert again["actions"][0]["data"]["request_id"] == request_id
    assert len(await queued(sessions)) == 2
    assert bot.wakes == 1


async def test_the_mentor_command_asks_which_community(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        first = await factories.community(session, name="CdeP Soins palliatifs")
        second = await factories.community(session, name="CdeP Organisation communautaire")
        newcomer = await profiled(session, 3, first, locale="en-US")
        await factories.member(session, newcomer, second)
        loner = await factories.person(session, 4)

    await bot.ask_for_a_mentor(newcomer, "en-US")
    (reply,) = bot.replies()
    card = card_content(reply.attachments[0])
    buttons = [
        a for block in card["body"] if block["type"] == "ActionSet" for a in block["actions"]
    ]
    assert [(b["title"], b["data"]) for b in buttons] == [
        (
            "CdeP Organisation communautaire",
            {"verb": "mentoring.request", "community_id": second.id},
        ),
        ("CdeP Soins palliatifs", {"verb": "mentoring.request", "community_id": first.id}),
    ]
    assert card["body"][0]["text"] == "Which community?"
    assert await queued(sessions) == []

    # The chosen button comes back as a card action.
    assert await bot.click(newcomer, buttons[1]["data"], "en-US")
    (request_card,) = bot.cards()
    assert _lines(request_card)[:2] == [
        "Your mentoring request — CdeP Soins palliatifs",
        "Your request is recorded, but CdeP Soins palliatifs has no coordinator or facilitator "
        "to handle it. Please tell a member of the community.",
    ]
    assert request_card["actions"][0]["title"] == "Withdraw my request"
    await bot.ask_for_a_mentor(loner)
    assert bot.texts() == [
        "Pour demander un·e mentor·e, joignez d’abord une communauté de pratique."
    ]


async def test_volunteering_by_command(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        who = await profiled(session, 1, where)

    async def run(capacity: int | None) -> str:
        await on_volunteer_command(
            bot._context(),
            sessions=sessions,
            info=bot.info(who),
            community_id=None,
            capacity=capacity,
        )
        (text,) = bot.texts()
        return str(text)

    assert (await run(2)).startswith(
        "Merci\xa0! Vous êtes maintenant mentor·e dans CdeP Soins palliatifs, pour 2\xa0personnes"
    )
    assert (await run(11)).startswith("Indiquez combien de personnes")

    async def capacity() -> tuple[int | None, list[str]]:
        async with sessions() as session:
            row = await communities.membership(session, person_id=_id(who), community_id=_id(where))
            assert row is not None
            return row.mentor_capacity, row.roles

    assert await capacity() == (2, ["member", "mentor"])
    # No number: one mentee at a time.
    assert "pour 1\xa0personne à la fois" in await run(None)
    assert await capacity() == (1, ["member", "mentor"])
    assert (await run(0)).startswith("C’est noté\xa0: vous ne recevrez plus de proposition")


async def test_a_member_clicking_confirm_is_refused_and_nothing_changes(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    value = {"verb": "mentoring.confirm", "request_id": s.request.id, "mentor_id": s.mentors[0].id}
    assert await bot.click(s.member, value)
    assert bot.texts() == [
        "Seules la coordination et l’animation de la communauté peuvent confirmer un jumelage."
    ]
    assert await pairings(sessions) == []
    assert await queued(sessions) == []
    # Verbs of other features are not ours.
    assert "language.choose" not in MENTORING.verbs


async def test_confirm_accept_queue_the_proposal_the_agreement_and_the_checkins(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    mentor = s.mentors[0]
    # Card data arrives as strings as often as numbers.
    value = {
        "verb": "mentoring.confirm",
        "request_id": str(s.request.id),
        "mentor_id": mentor.id,
    }
    assert await bot.click(s.coordinator, value)
    assert bot.texts() == ["Proposition envoyée à Personne 10. Je vous écris dès sa réponse."]
    (pairing,) = await pairings(sessions)
    (proposal,) = await queued(sessions)
    assert (proposal.kind, proposal.person_id, proposal.params) == (
        KIND_PROPOSAL,
        mentor.id,
        {"pairing_id": pairing.id},
    )

    bot.now = START
    assert await bot.click(mentor, {"verb": "mentoring.accept", "pairing_id": pairing.id})
    assert bot.texts() == [
        "Merci d’accompagner Personne 4\xa0! Vous recevez tous les deux l’entente de jumelage à "
        "remplir ensemble."
    ]
    rows = [r for r in await queued(sessions) if r.kind != KIND_PROPOSAL]
    agreement = sorted(r.person_id or 0 for r in rows if r.kind == KIND_AGREEMENT)
    assert agreement == sorted([_id(mentor), _id(s.newcomer)])
    checkins = sorted(
        (r.params["moment"], r.person_id or 0, r.not_before) for r in rows if r.kind == KIND_CHECKIN
    )
    half, end = START + timedelta(weeks=6), START + timedelta(weeks=12)
    assert checkins == sorted(
        [
            ("end", _id(mentor), end),
            ("end", _id(s.newcomer), end),
            ("half", _id(mentor), half),
            ("half", _id(s.newcomer), half),
        ]
    )
    assert [(r.kind, r.person_id) for r in rows if r.kind == KIND_PAIRED] == [
        (KIND_PAIRED, s.coordinator.id)
    ]
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.PAIRED

    # A second click queues nothing more.
    count = len(await queued(sessions))
    assert await bot.click(mentor, {"verb": "mentoring.accept", "pairing_id": pairing.id})
    assert len(await queued(sessions)) == count

    # New terms: 20 weeks. New check-ins are planned; the 12-week ones render to nothing.
    bot.now = START + timedelta(days=3)
    bot.replies()
    terms = {
        "verb": "mentoring.agreement",
        "pairing_id": pairing.id,
        "goals": "Connaître les ressources du territoire",
        "frequency": "Une heure aux deux semaines",
        "duration_weeks": "20",
        "first_meeting": "2026-12-01",
    }
    assert await bot.click(s.newcomer, terms)
    assert bot.texts() == ["Entente enregistrée. J’en ai avisé Personne 10."]
    rows = await queued(sessions)
    new = sorted(
        (r.params["moment"], r.not_before)
        for r in rows
        if r.kind == KIND_CHECKIN and r.params["duration_weeks"] == 20
    )
    assert new == [
        ("end", START + timedelta(weeks=20)),
        ("end", START + timedelta(weeks=20)),
        ("half", START + timedelta(weeks=10)),
        ("half", START + timedelta(weeks=10)),
    ]
    (told,) = [r for r in rows if r.kind == KIND_TERMS]
    assert told.person_id == mentor.id
    stale = next(r for r in rows if r.kind == KIND_CHECKIN and r.params["duration_weeks"] == 12)
    assert await render(sessions, stale) is None
    fresh = next(r for r in rows if r.kind == KIND_CHECKIN and r.params["duration_weeks"] == 20)
    assert await render(sessions, fresh) is not None
    terms_card = (await render(sessions, told)).attachments[0].content  # type: ignore[union-attr]
    assert "mardi 1er décembre 2026" in json.dumps(terms_card, ensure_ascii=False)

    # Check-in answers: kept for the pairing, one per person and moment.
    count = len(await queued(sessions))
    checkin = {"verb": "mentoring.checkin", "pairing_id": pairing.id, "moment": "half"}
    assert await bot.click(s.newcomer, {**checkin, "rating": "2", "comment": "Peu de temps"})
    assert bot.texts() == [
        "Merci d’avoir pris le temps de répondre.",
        "Si le jumelage vous pose difficulté, parlez-en à la coordination ou à l’animation de "
        "CdeP Soins palliatifs\xa0: une entente peut être ajustée ou terminée, sans jugement.",
    ]
    assert await bot.click(s.member, {**checkin, "rating": "5"})
    assert bot.texts() == ["Ce jumelage n’est plus en cours ou ne vous concerne pas."]
    assert await bot.click(mentor, {**checkin, "rating": "9"})
    assert bot.texts() == ["Choisissez une réponse de 1\xa0à 5."]
    assert len(await queued(sessions)) == count
    async with sessions() as session:
        answers = (await session.exec(select(MentorCheckin))).all()
    assert [(a.person_id, a.moment, a.rating, a.comment) for a in answers] == [
        (s.newcomer.id, "half", 2, "Peu de temps")
    ]

    # Ending asks first; then pending check-ins are cancelled, the other person is told.
    ending = {"verb": "mentoring.end", "pairing_id": pairing.id}
    assert await bot.click(mentor, ending)
    (asked,) = bot.cards()
    assert f"- {s.newcomer.name} en sera avisé·e." in _lines(asked)
    assert await bot.click(mentor, {**ending, "confirmed": True})
    assert _lines(bot.cards()[0]) == [
        "Le jumelage est terminé. Merci pour ce temps d’accompagnement\xa0!"
    ]
    rows = await queued(sessions)
    assert all(r.status == "cancelled" for r in rows if r.kind == KIND_CHECKIN)
    (notice,) = [r for r in rows if r.kind == "notice"]
    assert (notice.person_id, notice.params["text"]) == (s.newcomer.id, "mentoring.end.notice")
    assert await render(sessions, fresh) is None


async def test_declining_sends_new_suggestions_to_coordinators_and_animators(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    mentor = s.mentors[0]
    pairing = await proposed_by_coordinator(sessions, s, mentor)
    assert await bot.click(s.mentors[1], {"verb": "mentoring.decline", "pairing_id": pairing.id})
    assert bot.texts() == ["Cette proposition ne vous est pas adressée ou a déjà reçu une réponse."]
    assert await bot.click(
        mentor, {"verb": "mentoring.decline", "pairing_id": pairing.id}, locale="en-US"
    )
    assert bot.texts() == [
        "Noted, thank you for being frank. The coordinators will suggest someone else."
    ]
    rows = await queued(sessions)
    assert sorted((r.person_id or 0, r.dedup_key) for r in rows) == sorted(
        (
            _id(p),
            f"mentoring:request:{s.request.id}:declined:{pairing.id}:to:{p.id}",
        )
        for p in (s.coordinator, s.animator)
    )
    card = (await render(sessions, rows[0])).attachments[0].content  # type: ignore[union-attr]
    text = json.dumps(card, ensure_ascii=False)
    assert "Personne 10 a décliné la proposition." in text
    assert "Proposer Personne 11" in text
    assert "Proposer Personne 10" not in text


# -- renderers -------------------------------------------------------------------------------


async def render(
    sessions: SessionFactory, row: OutboxMessage, locale: str = "fr-CA"
) -> Activity | None:
    if row.kind == "notice":
        return None
    renderer = MENTORING_RENDERERS[row.kind]
    return await renderer(render_context(sessions, row, locale=locale))


def _row(kind: str, person: Person, **params: Any) -> OutboxMessage:
    return OutboxMessage(
        id=1, dedup_key="k", kind=kind, params=params, person_id=person.id, not_before=START
    )


async def test_renderers_return_nothing_once_no_longer_relevant(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    mentor = s.mentors[0]
    to_coordinator = _row(KIND_SUGGESTIONS, s.coordinator, request_id=s.request.id)
    to_member = _row(KIND_SUGGESTIONS, s.member, request_id=s.request.id)
    suggestions = await render(sessions, to_coordinator)
    assert suggestions is not None
    assert await render(sessions, to_member) is None  # not a coordinator or an animator

    pairing = await proposed_by_coordinator(sessions, s, mentor)
    proposal = _row(KIND_PROPOSAL, mentor, pairing_id=pairing.id)
    agreement = _row(KIND_AGREEMENT, s.newcomer, pairing_id=pairing.id)
    checkin = _row(
        KIND_CHECKIN, s.newcomer, pairing_id=pairing.id, moment="half", duration_weeks=12
    )
    paired = _row(KIND_PAIRED, s.coordinator, pairing_id=pairing.id)
    # A proposal is waiting: no suggestions; not active yet: no agreement nor check-in.
    assert await render(sessions, to_coordinator) is None
    assert await render(sessions, proposal) is not None
    assert await render(sessions, agreement) is None
    assert await render(sessions, checkin) is None

    async with transaction(sessions) as session:
        await mentoring.answer(
            session, pairing_id=_id(pairing), mentor_id=_id(mentor), accept=True, now=START
        )
    assert await render(sessions, proposal) is None
    assert await render(sessions, to_coordinator) is None  # the request is paired
    assert await render(sessions, agreement) is not None
    assert await render(sessions, checkin) is not None
    said = await render(sessions, paired, locale="en-US")
    assert said is not None
    assert said.text == (
        "Personne 10 agreed to mentor Personne 4 in CdeP Soins palliatifs. "
        "The mentoring has started."
    )
    assert (
        await render(
            sessions,
            _row(KIND_CHECKIN, s.member, pairing_id=pairing.id, moment="half", duration_weeks=12),
        )
        is None
    )

    async with transaction(sessions) as session:
        await mentoring.end(session, pairing_id=_id(pairing), person_id=_id(mentor), now=START)
    for row in (agreement, checkin, paired):
        assert await render(sessions, row) is None


# -- cards -------------------------------------------------------------------------------------


def _size(card: Element) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def _texts(card: Element) -> str:
    return json.dumps(card, ensure_ascii=False)


def _lines(card: Element) -> list[str]:
    """The card's text blocks, in order (nested containers included)."""
    found: list[str] = []

    def walk(items: list[Element]) -> None:
        for item in items:
            if item.get("type") == "TextBlock":
                found.append(item["text"])
            walk(item.get("items", []))

    walk(card["body"])
    return found


def _actions(card: Element) -> list[Element]:
    """Every button, with a ShowCard's confirmation button in its place."""
    found: list[Element] = [
        inner
        for action in card.get("actions", [])
        for inner in (
            action["card"]["actions"] if action["type"] == "Action.ShowCard" else [action]
        )
    ]

    def walk(items: list[Element]) -> None:
        for item in items:
            if item.get("type") == "ActionSet":
                found.extend(item["actions"])
            walk(item.get("items", []))

    walk(card["body"])
    return found


def _people() -> tuple[Person, Person, Community, Membership, MentorPairing, MentorRequest]:
    mentor = Person(id=10, teams_user_id="29:m", name="Marie Gagnon")
    mentee = Person(id=4, teams_user_id="29:n", name="Léa Tremblay")
    where = Community(id=1, name="CdeP Soins palliatifs")
    profile = Membership(
        person_id=4,
        community_id=1,
        discipline=SOCIAL_WORK,
        region=MONTEREGIE,
        establishment=CLSC,
        is_new_hire=True,
    )
    pairing = MentorPairing(
        id=7,
        request_id=3,
        community_id=1,
        mentor_id=10,
        mentee_id=4,
        status=PairingStatus.ACTIVE,
        reason="discipline,region;load=1/3",
        goals="Connaître le territoire",
        frequency="Aux deux semaines",
        duration_weeks=12,
        accepted_at=START,
    )
    request = MentorRequest(id=3, community_id=1, mentee_id=4)
    return mentor, mentee, where, profile, pairing, request


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr-CA",
            [
                "Demande de jumelage — CdeP Soins palliatifs",
                "Léa Tremblay souhaite être jumelé·e à un·e mentor·e.",
                "Nouvelle recrue",
                "Suggestion 1\xa0: Marie Gagnon",
                "En commun\xa0: la discipline, la région",
                "Personnes accompagnées\xa0: 1\xa0sur 3",
                "Aucun point commun dans le profil",
            ],
        ),
        (
            "en-US",
            [
                "Mentoring request — CdeP Soins palliatifs",
                "Léa Tremblay would like to be paired with a mentor.",
                "New hire",
                "Suggestion 1: Marie Gagnon",
                "In common: discipline, region",
                "Currently mentoring: 1 of 3",
                "Nothing in common in the profile",
            ],
        ),
    ],
)
def test_the_suggestions_card(locale: str, expected: list[str]) -> None:
    mentor, mentee, where, profile, _pairing, request = _people()
    others = [Person(id=20 + i, teams_user_id=f"29:{i}", name=f"Mentor {i}") for i in range(2)]
    ranked = [
        Suggestion(mentor, 1, 3, ("discipline", "region"), "discipline,region;load=1/3"),
        *(Suggestion(p, 0, 2, (), "none;load=0/2") for p in others),
    ]
    card = build_suggestions_card(
        request, mentee=mentee, profile=profile, community=where, suggestions=ranked, locale=locale
    )
    text = _texts(card)
    for words in expected:
        assert words in text
    assert card["version"] == CARD_VERSION == "1.5"
    assert _size(card) < MAX_CARD_BYTES
    assert [a["data"] for a in _actions(card)] == [
        {"verb": "mentoring.withdraw", "request_id": 3},
        *(
            {"verb": "mentoring.confirm", "request_id": 3, "mentor_id": person_id}
            for person_id in (10, 20, 21)
        ),
    ]
    empty = build_suggestions_card(
        request, mentee=mentee, profile=profile, community=where, suggestions=[], locale=locale
    )
    # Nobody to propose: only withdrawing the request is left.
    assert [a["data"] for a in _actions(empty)] == [{"verb": "mentoring.withdraw", "request_id": 3}]
    assert "devenir mentor" in _texts(empty) or "mentor volunteer" in _texts(empty)


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_proposal_agreement_checkin_terms_and_choice_cards(locale: str) -> None:
    mentor, mentee, where, profile, pairing, _request = _people()
    french = locale.startswith("fr")

    proposal = build_proposal_card(
        pairing, mentee=mentee, profile=profile, community=where, locale=locale
    )
    assert [(a["title"], a["data"]) for a in _actions(proposal)] == [
        ("J’accepte" if french else "I accept", {"verb": "mentoring.accept", "pairing_id": 7}),
        ("Je décline" if french else "I decline", {"verb": "mentoring.decline", "pairing_id": 7}),
    ]
    assert ("sans avoir à vous justifier" if french else "without giving a reason") in _texts(
        proposal
    )

    agreement = build_agreement_card(
        pairing, mentor=mentor, mentee=mentee, community=where, locale=locale, tz=TZ
    )
    inputs = {b["id"]: b for b in agreement["body"] if b["type"].startswith("Input.")}
    assert set(inputs) == {"goals", "frequency", "duration_weeks", "first_meeting"}
    assert inputs["first_meeting"]["type"] == "Input.Date"
    assert (inputs["duration_weeks"]["min"], inputs["duration_weeks"]["max"]) == (1, 104)
    assert inputs["goals"]["value"] == "Connaître le territoire"
    assert [a["data"] for a in _actions(agreement)] == [
        {"verb": "mentoring.agreement", "pairing_id": 7}
    ]
    since = "lundi 23 novembre 2026" if french else "Monday, November 23, 2026"
    assert since in _texts(agreement)

    half = build_checkin_card(pairing, other=mentee, community=where, moment="half", locale=locale)
    end = build_checkin_card(pairing, other=mentee, community=where, moment="end", locale=locale)
    (rating,) = [b for b in half["body"] if b.get("id") == "rating"]
    assert [c["value"] for c in rating["choices"]] == ["1", "2", "3", "4", "5"]
    assert rating["choices"][4]["title"] == ("5 — Très bien" if french else "5 — Very good")
    assert [a["data"]["verb"] for a in _actions(half)] == ["mentoring.checkin"]
    assert [a["data"] for a in _actions(end)] == [
        {"verb": "mentoring.checkin", "pairing_id": 7, "moment": "end"},
        {"verb": "mentoring.end", "pairing_id": 7},
    ]
    assert ("Mi-parcours" if french else "half-way") in _texts(half)

    terms = build_terms_card(pairing, by=mentee, first_meeting=None, locale=locale, tz=TZ)
    assert ("12\xa0semaines" if french else "12 weeks") in _texts(terms)

    choice = build_community_choice_card(
        [where, Community(id=2, name="CdeP OC")],
        verb="mentoring.volunteer",
        locale=locale,
        capacity=2,
    )
    assert [a["data"] for a in _actions(choice)] == [
        {"verb": "mentoring.volunteer", "community_id": 1, "capacity": 2},
        {"verb": "mentoring.volunteer", "community_id": 2, "capacity": 2},
    ]
    for card in (proposal, agreement, half, end, terms, choice):
        assert card["version"] == "1.5"
        assert _size(card) < MAX_CARD_BYTES


def test_a_long_suggestions_card_stays_under_the_teams_limit() -> None:
    mentor, mentee, _where, profile, _pairing, request = _people()
    long_name = "N" * 255
    mentee.name = long_name
    profile.establishment = "E" * 200
    ranked = [
        Suggestion(
            Person(id=i, teams_user_id=f"29:{i}", name=long_name),
            9,
            10,
            ("discipline", "region", "establishment"),
            "x",
        )
        for i in range(3)
    ]
    card = build_suggestions_card(
        request,
        mentee=mentee,
        profile=profile,
        community=Community(id=1, name="C" * 200),
        suggestions=ranked,
        declined_by=mentor,
        locale="fr-CA",
    )
    assert _size(card) < MAX_CARD_BYTES


# -- proposals left unanswered ------------------------------------------------------------------


async def _proposed(sessions: SessionFactory, s: Scene, bot: Bot) -> MentorPairing:
    """The coordinator proposes the best-ranked mentor at START (the proposal's clock)."""
    bot.now = START
    value = {"verb": "mentoring.confirm", "request_id": s.request.id, "mentor_id": s.mentors[0].id}
    assert await bot.click(s.coordinator, value)
    bot.replies()
    (pairing,) = await pairings(sessions)
    return pairing


async def _pairing_status(sessions: SessionFactory, pairing_id: int) -> PairingStatus:
    async with sessions() as session:
        row = await session.get(MentorPairing, pairing_id)
        assert row is not None
        return PairingStatus(row.status)


def _text(activity: Activity | None) -> str:
    assert activity is not None
    if activity.text:
        return str(activity.text)
    return _texts(card_content(activity.attachments[0]))


async def test_an_unanswered_proposal_expires_once_and_the_request_comes_back(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    bot = Bot(sessions)
    silent, other = s.mentors
    pairing = await _proposed(sessions, s, bot)
    wakes: list[int] = []

    async def run(now: datetime) -> int:
        return await expire_proposals(
            sessions=sessions, now=now, days=5, wake=lambda: wakes.append(1)
        )

    # Five days minus a minute: still waiting for the mentor.
    assert await run(START + timedelta(days=5, minutes=-1)) == 0
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.PROPOSED
    assert wakes == []

    later = START + timedelta(days=5)
    assert await run(later) == 3  # the mentor, the coordinator, the animator
    assert await run(later) == 0  # running again: nothing twice
    assert await run(later + timedelta(hours=1)) == 0
    assert wakes == [1]
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.EXPIRED
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.OPEN

    rows = await queued(sessions)
    (proposal,) = [r for r in rows if r.kind == KIND_PROPOSAL]
    assert proposal.status == "cancelled"  # never delivered: no longer asks for an answer
    (lapsed,) = [r for r in rows if r.kind == KIND_LAPSED]
    assert (lapsed.person_id, lapsed.dedup_key) == (
        silent.id,
        f"mentoring:lapsed:{pairing.id}:to:{silent.id}",
    )
    back = sorted((r.person_id or 0, r.dedup_key) for r in rows if r.kind == KIND_SUGGESTIONS)
    assert back == sorted(
        (_id(p), f"mentoring:request:{s.request.id}:lapsed:{pairing.id}:to:{p.id}")
        for p in (s.coordinator, s.animator)
    )

    # The mentor is told kindly, in their language, with the date of the proposal.
    assert _text(await render(sessions, lapsed)) == (
        "La proposition d’accompagner Personne 4 dans CdeP Soins palliatifs, envoyée le lundi 23 "
        "novembre 2026, est arrivée à échéance sans réponse. Aucun souci\xa0: la coordination "
        "sollicitera une autre personne et je ne vous la proposerai plus. Merci de votre "
        "disponibilité\xa0!"
    )
    assert "sent on Monday, November 23, 2026, has lapsed" in _text(
        await render(sessions, lapsed, "en-US")
    )
    # The coordination gets fresh suggestions, without the mentor who did not answer.
    to_coordinator = next(
        r for r in rows if r.kind == KIND_SUGGESTIONS and r.person_id == s.coordinator.id
    )
    french = _text(await render(sessions, to_coordinator))
    assert (
        "Personne 10 n’a pas répondu à la proposition dans le délai de 5\xa0jours\xa0: elle a "
        "expiré" in french
    )
    assert f"Proposer {other.name}" in french
    assert f"Proposer {silent.name}" not in french
    assert "Personne 10 did not answer the proposal within 5 days: it has lapsed" in _text(
        await render(sessions, to_coordinator, "en-US")
    )

    # A late answer changes nothing, and says why.
    bot.now = later + timedelta(hours=2)
    assert await bot.click(silent, {"verb": "mentoring.accept", "pairing_id": pairing.id})
    assert bot.texts() == [
        "Cette proposition n’est plus d’actualité\xa0: elle est arrivée à échéance ou la demande a "
        "été retirée. Merci de votre disponibilité\xa0!"
    ]
    assert await bot.click(
        silent, {"verb": "mentoring.decline", "pairing_id": pairing.id}, locale="en-US"
    )
    assert bot.texts() == [
        "This proposal no longer applies: it lapsed or the request was withdrawn. "
        "Thank you for being available!"
    ]
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.EXPIRED
    # That mentor is never proposed again for this request…
    again = {"verb": "mentoring.confirm", "request_id": s.request.id, "mentor_id": silent.id}
    assert await bot.click(s.coordinator, again)
    (refused, current) = bot.replies()
    assert refused.text == "Cette personne n’est plus disponible pour ce jumelage. Voici les " + (
        "suggestions à jour."
    )
    assert f"Proposer {silent.name}" not in _text(current)
    assert len(await pairings(sessions)) == 1
    # …but another one can be, and the new proposal has its own time to answer.
    assert await bot.click(s.coordinator, {**again, "mentor_id": other.id})
    assert bot.texts() == ["Proposition envoyée à Personne 11. Je vous écris dès sa réponse."]
    assert await run(bot.now + timedelta(days=4)) == 0


async def test_the_last_mentor_lapsing_says_plainly_that_nobody_is_left(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, capacities=(1,))
    bot = Bot(sessions)
    pairing = await _proposed(sessions, s, bot)
    assert await expire_proposals(
        sessions=sessions, now=START + timedelta(days=1), days=1, wake=lambda: None
    )
    to_animator = next(
        r
        for r in await queued(sessions)
        if r.kind == KIND_SUGGESTIONS and r.person_id == s.animator.id
    )
    french = _text(await render(sessions, to_animator))
    assert "dans le délai de 1\xa0jour\xa0: elle a expiré" in french
    assert "Il n’y a pas d’autre mentor·e disponible pour l’instant. La demande reste ouverte" in (
        french
    )
    assert "Proposer" not in french
    english = _text(await render(sessions, to_animator, "en-US"))
    assert "within 1 day: it has lapsed" in english
    assert "There is no other mentor available right now. The request stays open" in english
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.EXPIRED


async def test_two_replicas_expiring_at_once_send_each_message_once(database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        first, second = (session_factory(engine) for engine in engines)
        s = await scene(first)
        pairing = await _proposed(first, s, Bot(first))
        later = START + timedelta(days=6)
        counts = await asyncio.gather(
            *(
                expire_proposals(sessions=replica, now=later, days=5, wake=lambda: None)
                for replica in (first, second)
            )
        )
        assert sorted(counts) == [0, 3]
        rows = [r for r in await queued(first) if r.kind != KIND_PROPOSAL]
        assert sorted(r.kind for r in rows) == [KIND_LAPSED, KIND_SUGGESTIONS, KIND_SUGGESTIONS]
        assert await _pairing_status(second, _id(pairing)) == PairingStatus.EXPIRED
    finally:
        for engine in engines:
            await engine.dispose()


async def test_an_answer_before_the_deadline_is_never_expired(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    pairing = await _proposed(sessions, s, bot)
    bot.now = START + timedelta(days=4)
    assert await bot.click(s.mentors[0], {"verb": "mentoring.accept", "pairing_id": pairing.id})
    count = len(await queued(sessions))
    assert (
        await expire_proposals(
            sessions=sessions, now=START + timedelta(days=30), days=5, wake=lambda: None
        )
        == 0
    )
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.ACTIVE
    assert len(await queued(sessions)) == count


async def test_the_scheduler_job_uses_the_setting(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    pairing = await _proposed(sessions, s, Bot(sessions))
    clock = START + timedelta(days=2)
    settings = make_settings("sqlite+aiosqlite://", CARREFOUR_MENTOR_PROPOSAL_DAYS=3)
    jobs = Jobs(
        jobs=REGISTRY.jobs,
        settings=settings,
        sessions=sessions,
        wake_dispatcher=lambda: None,
        clock=lambda: clock,
    )
    assert await jobs.run("expire_mentor_proposals") == 0
    clock = START + timedelta(days=3)
    assert await jobs.run("expire_mentor_proposals") == 3
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.EXPIRED


def test_the_proposal_delay_setting_defaults_to_five_days_and_is_checked() -> None:
    assert make_settings("sqlite+aiosqlite://").mentor_proposal_days == 5
    for wrong in (0, -1, 61, "cinq"):
        with pytest.raises(ValidationError, match="CARREFOUR_MENTOR_PROPOSAL_DAYS"):
            make_settings("sqlite+aiosqlite://", CARREFOUR_MENTOR_PROPOSAL_DAYS=wrong)


# -- withdrawing a request ----------------------------------------------------------------------


async def test_the_newcomer_withdraws_their_request_and_the_mentor_is_told(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    bot = Bot(sessions)
    mentor = s.mentors[0]
    pairing = await _proposed(sessions, s, bot)
    withdraw: dict[str, Any] = {"verb": "mentoring.withdraw", "request_id": str(s.request.id)}

    # The first click asks, naming who will be told; nothing changes yet.
    assert await bot.click(s.newcomer, withdraw)
    (asked,) = bot.cards()
    assert _lines(asked) == [
        "Retirer la demande de jumelage\xa0?",
        "- Votre demande de jumelage dans CdeP Soins palliatifs sera retirée.",
        f"- {mentor.name}, à qui elle a été proposée, en sera avisé·e.",
    ]
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.OPEN
    withdraw = {**withdraw, "confirmed": True}
    assert await bot.click(s.newcomer, withdraw)
    (done,) = bot.cards()
    assert _lines(done) == [
        "Votre demande de jumelage dans CdeP Soins palliatifs est retirée. Si vous changez "
        "d’avis, écrivez-moi «\xa0mentor\xa0»."
    ]
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.CANCELLED
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.ENDED
    assert bot.wakes == 2  # the proposal, then the word to the mentor
    rows = await queued(sessions)
    (proposal,) = [r for r in rows if r.kind == KIND_PROPOSAL]
    assert proposal.status == "cancelled"
    (told,) = [r for r in rows if r.kind == KIND_WITHDRAWN]
    assert told.person_id == mentor.id  # the newcomer withdrew: nobody else to tell
    assert _text(await render(sessions, told)) == (
        "La demande de jumelage de Personne 4 dans CdeP Soins palliatifs a été retirée\xa0: vous "
        "n’avez plus à répondre à la proposition que je vous avais transmise. Merci de votre "
        "disponibilité\xa0!"
    )
    assert _text(await render(sessions, told, "en-US")) == (
        "Personne 4’s mentoring request in CdeP Soins palliatifs has been withdrawn: you no "
        "longer need to answer the proposal I sent you. Thank you for being available!"
    )

    # A second tap, the mentor's late answer, a stale suggestions card: nothing changes.
    count = len(await queued(sessions))
    assert await bot.click(s.newcomer, withdraw, locale="en-US")
    assert _lines(bot.cards()[0]) == ["This mentoring request is already withdrawn."]
    assert await bot.click(mentor, {"verb": "mentoring.accept", "pairing_id": pairing.id})
    assert str(bot.texts()[0]).startswith("Cette proposition n’est plus d’actualité")
    confirm = {"verb": "mentoring.confirm", "request_id": s.request.id, "mentor_id": mentor.id}
    assert await bot.click(s.animator, confirm)
    assert bot.texts() == ["Ce jumelage est déjà réglé\xa0: il n’y a rien de plus à faire."]
    assert len(await queued(sessions)) == count
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.ENDED
    # The proposal no longer holds a place in the mentor's capacity, nor expires later.
    assert (
        await expire_proposals(
            sessions=sessions, now=START + timedelta(days=9), days=5, wake=lambda: None
        )
        == 0
    )

    # The newcomer may ask again: a new request.
    await bot.ask_for_a_mentor(s.newcomer)
    (card,) = bot.cards()
    assert _lines(card)[1].startswith("C’est parti\xa0!")
    assert card["actions"][0]["data"]["request_id"] != s.request.id


@pytest.mark.parametrize(
    ("locale", "refusal"),
    [
        ("fr-CA", "Vous ne pouvez retirer que vos propres demandes de jumelage."),
        ("en-US", "You can only withdraw your own mentoring requests."),
    ],
)
async def test_someone_elses_request_cannot_be_withdrawn(
    sessions: SessionFactory, locale: str, refusal: str
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    pairing = await _proposed(sessions, s, bot)
    before = [(r.id, r.status) for r in await queued(sessions)]
    bot.wakes = 0
    # A plain member, the proposed mentor, a stranger's id: refused in the person's language.
    for who in (s.member, s.mentors[0], s.mentors[1]):
        assert await bot.click(
            who, {"verb": "mentoring.withdraw", "request_id": s.request.id}, locale
        )
        assert bot.texts() == [refusal]
    assert await bot.click(
        s.newcomer, {"verb": "mentoring.withdraw", "request_id": 999_999}, locale
    )
    assert bot.texts() == [refusal]
    # Not an id at all.
    for junk in ("abc", None, -3, 2**63, True):
        assert await bot.click(
            s.newcomer, {"verb": "mentoring.withdraw", "request_id": junk}, locale
        )
        assert bot.texts() == [
            "Ce bouton n’est plus valide. Tapez «\xa0aide\xa0» pour voir ce que je peux faire."
            if locale == "fr-CA"
            else "This button is no longer valid. Type “help” to see what I can do."
        ]
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.OPEN
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.PROPOSED
    assert [(r.id, r.status) for r in await queued(sessions)] == before
    assert bot.wakes == 0


async def test_an_animator_withdraws_a_request_from_the_suggestions_card(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    shown = await render(
        sessions, _row(KIND_SUGGESTIONS, s.animator, request_id=s.request.id), "en-US"
    )
    assert shown is not None
    card = card_content(shown.attachments[0])
    (withdraw,) = [a for a in card["actions"] if a["data"].get("verb") == "mentoring.withdraw"]
    assert withdraw["title"] == "Withdraw the request"
    assert await bot.click(s.animator, withdraw["data"], locale="en-US")
    (asked,) = bot.cards()
    assert (
        "- Personne 4’s mentoring request in CdeP Soins palliatifs will be withdrawn, and "
        "Personne 4 will be told." in _lines(asked)
    )
    (confirm,) = [a for a in asked["actions"] if a["data"].get("confirmed") is True]
    assert await bot.click(s.animator, confirm["data"], locale="en-US")
    assert _lines(bot.cards()[0]) == [
        "Personne 4’s mentoring request in CdeP Soins palliatifs is withdrawn. I let them know."
    ]
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.CANCELLED
    (told,) = [r for r in await queued(sessions) if r.kind == KIND_WITHDRAWN]
    assert told.person_id == s.newcomer.id
    assert _text(await render(sessions, told)) == (
        "Votre demande de jumelage dans CdeP Soins palliatifs a été retirée par la coordination "
        "ou l’animation. Si vous souhaitez toujours un·e mentor·e, écrivez-moi «\xa0mentor\xa0»."
    )
    # Told only to the newcomer: the rendered notice is not for anybody else.
    assert await render(sessions, _row(KIND_WITHDRAWN, s.member, request_id=s.request.id)) is None


async def test_a_paired_request_cannot_be_withdrawn(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    pairing = await _proposed(sessions, s, bot)
    assert await bot.click(s.mentors[0], {"verb": "mentoring.accept", "pairing_id": pairing.id})
    bot.replies()
    assert await bot.click(s.newcomer, {"verb": "mentoring.withdraw", "request_id": s.request.id})
    assert bot.texts() == ["Ce jumelage est déjà réglé\xa0: il n’y a rien de plus à faire."]
    assert await request_status(sessions, _id(s.request)) == MentorRequestStatus.PAIRED
    assert await _pairing_status(sessions, _id(pairing)) == PairingStatus.ACTIVE


# -- a new volunteer for requests that had nobody -----------------------------------------------


async def test_a_new_volunteer_brings_back_the_requests_that_had_nobody(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        coordinator = await profiled(session, 1, where, roles=(Role.COORDINATOR,))
        animator = await profiled(session, 2, where, roles=(Role.ANIMATOR,), locale="en-US")
        newcomer = await profiled(session, 3, where, discipline=SOCIAL_WORK)
        volunteer_to_be = await profiled(session, 4, where, discipline=SOCIAL_WORK)
        second = await profiled(session, 5, where)
    await bot.ask_for_a_mentor(newcomer)
    bot.replies()
    (first_row, _) = await queued(sessions)
    request_id = first_row.params["request_id"]
    assert "Aucun·e mentor·e n’est disponible" in _text(await render(sessions, first_row))

    async def volunteers(who: Person, capacity: int | None = None) -> str:
        await on_volunteer_command(
            bot._context(),
            sessions=sessions,
            info=bot.info(who),
            community_id=None,
            capacity=capacity,
            wake=bot._wake,
        )
        (text,) = bot.texts()
        return str(text)

    wakes = bot.wakes
    assert (await volunteers(volunteer_to_be)).startswith(
        "Merci\xa0! Vous êtes maintenant mentor·e"
    )
    assert bot.wakes == wakes + 1
    back = [r for r in await queued(sessions) if "volunteer" in r.dedup_key]
    assert sorted((r.person_id or 0, r.dedup_key) for r in back) == sorted(
        (
            _id(p),
            f"mentoring:request:{request_id}:volunteer:{volunteer_to_be.id}:to:{p.id}",
        )
        for p in (coordinator, animator)
    )
    to_coordinator = next(r for r in back if r.person_id == coordinator.id)
    french = _text(await render(sessions, to_coordinator))
    assert "Bonne nouvelle\xa0: Personne 4 vient de se proposer comme mentor·e." in french
    assert "Proposer Personne 4" in french
    to_animator = next(r for r in back if r.person_id == animator.id)
    assert "Good news: Personne 4 has just volunteered as a mentor." in _text(
        await render(sessions, to_animator, "en-US")
    )

    # Once: volunteering again, or another volunteer now that the request has a candidate.
    count = len(await queued(sessions))
    await volunteers(volunteer_to_be, 2)
    await volunteers(second)
    assert len(await queued(sessions)) == count
    assert bot.wakes == wakes + 1


async def test_a_volunteer_does_not_bring_back_a_request_waiting_for_an_answer(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, capacities=(1,))
    bot = Bot(sessions)
    await _proposed(sessions, s, bot)
    count = len(await queued(sessions))
    await on_volunteer_command(
        bot._context(), sessions=sessions, info=bot.info(s.member), community_id=None, capacity=1
    )
    assert len(await queued(sessions)) == count


async def test_suggestions_after_a_new_volunteer_are_dropped_if_nobody_is_left(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, capacities=())
    row = _row(KIND_SUGGESTIONS, s.coordinator, request_id=s.request.id, volunteer_id=s.member.id)
    # The volunteer withdrew before the message went out: nothing new to say.
    assert await render(sessions, row) is None


# -- the request card and the lapsed suggestions, in both languages -----------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr-CA",
            [
                "Votre demande de jumelage — CdeP Soins palliatifs",
                "Votre demande de jumelage dans CdeP Soins palliatifs est déjà entre les mains",
                "Demande faite le lundi 23 novembre 2026",
                "Retirer ma demande",
            ],
        ),
        (
            "en-US",
            [
                "Your mentoring request — CdeP Soins palliatifs",
                "Your mentoring request in CdeP Soins palliatifs is already with the coordinators",
                "Requested on Monday, November 23, 2026",
                "Withdraw my request",
            ],
        ),
    ],
)
def test_the_request_card(locale: str, expected: list[str]) -> None:
    _mentor, _mentee, where, _profile, _pairing, request = _people()
    request.created_at = START
    card = build_request_card(request, community=where, status="already_open", locale=locale, tz=TZ)
    for words in expected:
        assert words in _texts(card)
    assert [a["data"] for a in _actions(card)] == [{"verb": "mentoring.withdraw", "request_id": 3}]
    assert card["version"] == "1.5"
    assert _size(card) < MAX_CARD_BYTES


@pytest.mark.parametrize(
    ("locale", "one", "many"),
    [
        ("fr-CA", "dans le délai de 1\xa0jour\xa0:", "dans le délai de 7\xa0jours\xa0:"),
        ("en-US", "within 1 day:", "within 7 days:"),
    ],
)
def test_the_suggestions_card_after_a_lapsed_proposal(locale: str, one: str, many: str) -> None:
    mentor, mentee, where, profile, _pairing, request = _people()
    for days, words in ((1, one), (7, many)):
        card = build_suggestions_card(
            request,
            mentee=mentee,
            profile=profile,
            community=where,
            suggestions=[],
            lapsed=(mentor, days),
            locale=locale,
        )
        assert words in _texts(card)
        assert "Marie Gagnon" in _texts(card)
