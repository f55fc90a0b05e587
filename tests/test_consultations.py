"""Professional consultations: spotting client identifiers, working days, the request dialog in
French and English, fair and transparent suggestions (on SQLite and PostgreSQL), the life of a
request through the bot glue, role-by-role confidentiality (cards, commands, outbox, audit
trail, counts, logs), escalation with a frozen clock and the retention purge."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
)
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import cards.consultations as consultation_cards
from bot.app import REGISTRY, Runtime, create_app
from bot.consultations_flow import (
    CONSULTATION_RENDERERS,
    escalate,
    on_assigned_requests_command,
    on_audit_command,
    on_my_requests_command,
    on_request_command,
    on_volunteer_consultant_command,
    parse_expertise,
    purge_summaries,
)
from bot.deliveries import RenderContext, after_delivery
from bot.features.consultations import FEATURE as CONSULTATIONS
from bot.scheduler import Jobs
from bot.turns import FeatureTurn
from cards.common import CARD_VERSION, MAX_CARD_BYTES, Element
from cards.consultations import (
    build_assigned_requests_card,
    build_audit_card,
    build_feedback_card,
    build_my_requests_card,
    build_request_card,
)
from cards.i18n import catalog
from dialogs.consultation_dialog import (
    ConsultationDialog,
    ConsultationOptions,
    SubmittedConsultation,
)
from dialogs.context import TURN_INFO_KEY, TurnInfo
from storage import consultations
from storage.communities import NotAllowed, leave, membership
from storage.consultations import (
    KIND_ASSIGNED,
    KIND_ASSIGNED_NOTICE,
    KIND_FEEDBACK,
    KIND_NEW,
    KIND_REMINDER,
    KIND_RETURNED,
    KIND_TAKEN,
    KIND_WAITING,
    KIND_WITHDRAWN,
    Draft,
    NoCoordinator,
    Outcome,
    WrongStatus,
    add_working_days,
    working_days_between,
)
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import (
    BotState,
    Community,
    ConsultationEvent,
    ConsultationRequest,
    ConsultationStatus,
    Membership,
    OutboxMessage,
    Person,
    Role,
)
from storage.outbox import Claimed
from tests import factories
from tests.conftest import make_settings
from tests.databases import fresh_sqlite
from tests.fake_connector import FakeConnector
from tests.support import (
    ChatAdapter,
    DialogChat,
    FeatureBot,
    card_actions,
    host_services,
    press,
    said,
    started,
)

TZ = "America/Montreal"
MONTREAL = ZoneInfo(TZ)
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 9:00 in Montreal
CHANNEL = "19:soins-palliatifs@thread.tacv2"
# Unique strings in the content: they must never reach anyone else, a log or the audit trail.
MARKER = "QZX-marqueur-7731"
AVAILABILITY_MARKER = "WVK-disponible-4410"
SUMMARY = (
    "Une dame dans la septantaine refuse les soins à domicile et sa famille insiste "
    f"pour un hébergement. {MARKER}"
)
AVAILABILITY = f"Mardis après-midi, en virtuel ({AVAILABILITY_MARKER})"
DRAFT = Draft(
    motive="ethical_dilemma",
    summary=SUMMARY,
    urgency="this_week",
    modality="one_to_one",
    availability=AVAILABILITY,
)
CANCELLED_FR = "D’accord, j’ai tout annulé. Rien n’a été enregistré."
CANCELLED_EN = "All right, I cancelled. Nothing was saved."
UNKNOWN_ACTION = "Ce bouton n’est plus valide. Tapez «\xa0aide\xa0» pour voir ce que je peux faire."


def _id(row: Person | Community | ConsultationRequest | Membership) -> int:
    assert row.id is not None
    return row.id


def montreal(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MONTREAL).astimezone(UTC)


# -- working days ------------------------------------------------------------------------------


def test_working_days_skip_the_weekend_and_keep_the_local_hour() -> None:
    friday = montreal(2026, 11, 27, 15)
    assert add_working_days(friday, 1, tz=TZ) == montreal(2026, 11, 30, 15)
    assert add_working_days(friday, 2, tz=TZ) == montreal(2026, 12, 1, 15)
    assert add_working_days(friday, 5, tz=TZ) == montreal(2026, 12, 4, 15)
    # Saturday counts from Monday 00:00.
    assert add_working_days(montreal(2026, 11, 28, 10), 1, tz=TZ) == montreal(2026, 12, 1, 0)
    # Across the end of daylight saving time (1 November 2026): still 15:00 in Montreal.
    before = montreal(2026, 10, 30, 15)
    assert add_working_days(before, 2, tz=TZ) == montreal(2026, 11, 3, 15)
    assert before.hour == 19
    assert montreal(2026, 11, 3, 15).hour == 20

    assert working_days_between(friday, montreal(2026, 11, 30, 14, 59), tz=TZ) == 0
    assert working_days_between(friday, montreal(2026, 11, 30, 15), tz=TZ) == 1
    assert working_days_between(friday, montreal(2026, 12, 1, 16), tz=TZ) == 2
    assert working_days_between(friday, montreal(2026, 12, 5, 12), tz=TZ) == 5
    assert working_days_between(friday, friday - timedelta(days=1), tz=TZ) == 0


# -- a community, its people ------------------------------------------------------------------


async def joined(
    session: AsyncSession,
    n: int,
    where: Community,
    *,
    roles: tuple[Role, ...] = (),
    expertise: list[str] | None = None,
    locale: str = "fr-CA",
) -> Person:
    who = await factories.person(session, n, locale=locale)
    row = await factories.member(session, who, where)
    row.roles = [Role.MEMBER.value, *(role.value for role in roles)]
    row.consultant_expertise = expertise
    await session.flush()
    return who


@dataclass
class Scene:
    """One community with two coordinators, an animator, a requester, a volunteer consultant
    and a plain member; a coordinator of another community; someone in no community."""

    where: Community
    coordinator: Person
    second_coordinator: Person
    animator: Person
    requester: Person
    volunteer: Person
    member: Person
    elsewhere: Person
    outsider: Person

    def everyone(self) -> dict[str, Person]:
        return {
            "coordinator": self.coordinator,
            "second_coordinator": self.second_coordinator,
            "animator": self.animator,
            "requester": self.requester,
            "volunteer": self.volunteer,
            "member": self.member,
            "elsewhere": self.elsewhere,
            "outsider": self.outsider,
        }


async def scene(sessions: SessionFactory, *, locale: str = "fr-CA") -> Scene:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        other = await factories.community(session, name="CdeP Organisation communautaire")
        coordinator = await joined(session, 1, where, roles=(Role.COORDINATOR,))
        second = await joined(session, 2, where, roles=(Role.COORDINATOR,))
        animator = await joined(session, 3, where, roles=(Role.ANIMATOR,))
        requester = await joined(session, 4, where, locale=locale)
        volunteer = await joined(session, 5, where, expertise=["ethical_dilemma"])
        member = await joined(session, 6, where)
        elsewhere = await joined(session, 7, other, roles=(Role.COORDINATOR,))
        outsider = await factories.person(session, 8)
    return Scene(
        where, coordinator, second, animator, requester, volunteer, member, elsewhere, outsider
    )


async def submitted(
    sessions: SessionFactory,
    s: Scene,
    *,
    now: datetime = START,
    draft: Draft = DRAFT,
    requester: Person | None = None,
) -> ConsultationRequest:
    async with transaction(sessions) as session:
        outcome = await consultations.submit(
            session,
            community_id=_id(s.where),
            requester_id=_id(requester or s.requester),
            draft=draft,
            now=now,
            timezone=TZ,
        )
    return outcome.request


async def rows(sessions: SessionFactory, table: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.exec(select(table).order_by(col(table.id)))).all())


async def fresh(sessions: SessionFactory, request: ConsultationRequest) -> ConsultationRequest:
    async with sessions() as session:
        found = await session.get(ConsultationRequest, _id(request))
        assert found is not None
        return found


async def events(sessions: SessionFactory) -> list[tuple[int | None, str, str | None]]:
    return [(e.actor_id, e.action, e.detail) for e in await rows(sessions, ConsultationEvent)]


# Each change in its own transaction, as a card action makes it.


async def assign(
    sessions: SessionFactory, request_id: int, by: Person, to: Person, *, now: datetime = START
) -> Outcome:
    async with transaction(sessions) as session:
        return await consultations.assign(
            session, request_id=request_id, actor_id=_id(by), assignee_id=_id(to), now=now
        )


async def decline(
    sessions: SessionFactory, request_id: int, by: Person, reason: str, *, now: datetime = START
) -> Outcome:
    async with transaction(sessions) as session:
        return await consultations.decline(
            session, request_id=request_id, actor_id=_id(by), reason=reason, now=now
        )


async def step(
    sessions: SessionFactory,
    change: Callable[..., Awaitable[Outcome]],
    request_id: int,
    by: Person,
    *,
    now: datetime = START,
) -> Outcome:
    """`consultations.start`, `close` or `withdraw`."""
    async with transaction(sessions) as session:
        return await change(session, request_id=request_id, actor_id=_id(by), now=now)


async def rate(
    sessions: SessionFactory, request_id: int, by: Person, rating: int, comment: str
) -> Outcome:
    async with transaction(sessions) as session:
        return await consultations.rate(
            session,
            request_id=request_id,
            actor_id=_id(by),
            rating=rating,
            comment=comment,
            now=START,
        )


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


# -- storage: submitting, suggesting, the life of a request -----------------------------------


async def test_submitting_records_the_request_its_suggestion_and_the_coordinators_cards(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    first = await submitted(sessions, s)
    second = await submitted(sessions, s, requester=s.member)

    assert first.reference == f"C-2026-{first.id:04d}"
    assert second.reference == f"C-2026-{second.id:04d}" != first.reference
    request = await fresh(sessions, first)
    assert (request.status, request.summary, request.availability) == (
        ConsultationStatus.SUBMITTED,
        SUMMARY,
        AVAILABILITY,
    )
    # The volunteer declared this motive: suggested first, and why is kept with the request.
    assert request.suggested_assignee_id == s.volunteer.id
    assert request.suggestion_reason == "expertise;open=0;last=never"
    assert (await events(sessions))[:2] == [
        (s.requester.id, "submitted", None),
        (None, "suggested", f"person={s.volunteer.id};expertise;open=0;last=never"),
    ]
    queued = [r for r in await rows(sessions, OutboxMessage) if r.params["request_id"] == first.id]
    assert sorted((r.person_id, r.kind) for r in queued) == [
        (s.coordinator.id, KIND_NEW),
        (s.second_coordinator.id, KIND_NEW),
    ]
    # A year in Montreal: the evening of 31 December is still that year.
    new_year_eve = montreal(2026, 12, 31, 21)
    late = await submitted(sessions, s, now=new_year_eve)
    assert late.reference.startswith("C-2026-")
    assert new_year_eve.year == 2027


async def test_submitting_checks_every_rule_again(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        lonely = await factories.community(session, name="CdeP sans coordination")
        loner = await joined(session, 20, lonely, roles=(Role.COORDINATOR,))
    attempts: list[tuple[Person, int, Draft, type[Exception]]] = [
        (s.outsider, _id(s.where), DRAFT, NotAllowed),
        (s.elsewhere, _id(s.where), DRAFT, NotAllowed),
        # Its only coordinator is the requester: nobody else could read it.
        (loner, _id(lonely), DRAFT, NoCoordinator),
        (s.requester, _id(s.where), dataclasses.replace(DRAFT, motive="gossip"), ValueError),
        (s.requester, _id(s.where), dataclasses.replace(DRAFT, summary="court"), ValueError),
        (
            s.requester,
            _id(s.where),
            dataclasses.replace(DRAFT, summary=SUMMARY + " Née le 1954-03-03."),
            HasIdentifiers,
        ),
        (s.requester, _id(s.where), dataclasses.replace(DRAFT, availability=" "), ValueError),
    ]
    for who, community_id, draft, error in attempts:
        with pytest.raises(error):
            async with transaction(sessions) as session:
                await consultations.submit(
                    session,
                    community_id=community_id,
                    requester_id=_id(who),
                    draft=draft,
                    now=START,
                    timezone=TZ,
                )
    assert await rows(sessions, ConsultationRequest) == []
    assert await rows(sessions, ConsultationEvent) == []
    assert await rows(sessions, OutboxMessage) == []


_strangers = itertools.count(900)


async def held(
    session: AsyncSession,
    who: Person,
    where: Community,
    *,
    assigned_at: datetime,
    status: ConsultationStatus = ConsultationStatus.ASSIGNED,
) -> None:
    """Give someone a request they hold (or held), asked by a stranger."""
    stranger = await factories.person(session, next(_strangers))
    session.add(
        ConsultationRequest(
            reference=f"C-2025-{stranger.id:05d}",
            community_id=_id(where),
            requester_id=_id(stranger),
            motive="other",
            summary="—",
            urgency="no_rush",
            modality="one_to_one",
            status=status,
            assignee_id=_id(who),
            assigned_at=assigned_at,
            created_at=assigned_at,
        )
    )
    await session.flush()


async def test_suggestions_rank_expertise_then_load_then_last_assignment_then_id(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        other = await factories.community(session, name="CdeP Organisation communautaire")
        requester = await joined(session, 1, where)
        coordinator = await joined(session, 2, where, roles=(Role.COORDINATOR,))
        # Expertise for the motive, but two requests under way (one in another community:
        # a person's time is one).
        busy = await joined(session, 3, where, expertise=["complex_situation"])
        await held(session, busy, where, assigned_at=START - timedelta(days=30))
        await held(session, busy, other, assigned_at=START - timedelta(days=29))
        # Expertise, one request under way.
        once = await joined(session, 4, where, expertise=["complex_situation", "other"])
        await held(session, once, where, assigned_at=START - timedelta(days=20))
        # Expertise, nothing under way; ties broken by the last assignment (never first)…
        recent = await joined(session, 5, where, expertise=["complex_situation"])
        await held(
            session,
            recent,
            where,
            assigned_at=START - timedelta(days=2),
            status=ConsultationStatus.CLOSED,
        )
        long_ago = await joined(session, 6, where, expertise=["complex_situation"])
        await held(
            session,
            long_ago,
            where,
            assigned_at=START - timedelta(days=90),
            status=ConsultationStatus.CLOSED,
        )
        never_a = await joined(session, 7, where, expertise=["complex_situation"])
        never_b = await joined(session, 8, where, expertise=["complex_situation"])
        # …then the id. Other expertise, or none: after everyone who declared this motive.
        wrong = await joined(session, 9, where, expertise=["ethical_dilemma"])
        # Not candidates: a plain member, an animator, a volunteer who left, the requester.
        await joined(session, 10, where)
        await joined(session, 11, where, roles=(Role.ANIMATOR,))
        gone = await joined(session, 12, where, expertise=["complex_situation"])
        await leave(session, person_id=_id(gone), community_id=_id(where))
        mine = await membership(session, person_id=_id(requester), community_id=_id(where))
        assert mine is not None
        mine.consultant_expertise = ["complex_situation"]
        outcome = await consultations.submit(
            session,
            community_id=_id(where),
            requester_id=_id(requester),
            draft=dataclasses.replace(DRAFT, motive="complex_situation"),
            now=START,
            timezone=TZ,
        )

    async with sessions() as session:
        ranked = await consultations.candidates(session, request=outcome.request)
    assert [c.person.id for c in ranked] == [
        never_a.id,
        never_b.id,
        long_ago.id,
        recent.id,
        once.id,
        busy.id,
        coordinator.id,
        wrong.id,
    ]
    assert [(c.matches, c.load) for c in ranked] == [
        (True, 0),
        (True, 0),
        (True, 0),
        (True, 0),
        (True, 1),
        (True, 2),
        (False, 0),
        (False, 0),
    ]
    assert ranked[2].reason == f"expertise;open=0;last={(START - timedelta(days=90)):%Y-%m-%d}"
    assert ranked[6].is_coordinator
    assert not ranked[5].is_coordinator
    request = await fresh(sessions, outcome.request)
    assert (request.suggested_assignee_id, request.suggestion_reason) == (
        never_a.id,
        "expertise;open=0;last=never",
    )


async def test_without_matching_expertise_the_least_loaded_coordinator_is_suggested(
    sessions: SessionFactory,
) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        requester = await joined(session, 1, where)
        first = await joined(session, 2, where, roles=(Role.COORDINATOR,))
        second = await joined(session, 3, where, roles=(Role.COORDINATOR,))
        await held(session, first, where, assigned_at=START - timedelta(days=1))
        await joined(session, 4, where, expertise=["ethical_dilemma"])
        outcome = await consultations.submit(
            session,
            community_id=_id(where),
            requester_id=_id(requester),
            draft=dataclasses.replace(DRAFT, motive="orientation"),
            now=START,
            timezone=TZ,
        )
    request = await fresh(sessions, outcome.request)
    assert request.suggested_assignee_id == second.id
    assert request.suggestion_reason == "no_expertise;open=0;last=never"
    assert consultations.parse_reason(request.suggestion_reason) == (
        consultations.SuggestionReason(matches=False, load=0, last_assigned_on=None)
    )


async def test_taking_giving_declining_and_handing_back(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    request = await submitted(sessions, s)
    rid = _id(request)

    # Only coordinators assign; nobody assigns a request to its requester.
    for outsider in (s.animator, s.member, s.volunteer, s.elsewhere, s.requester):
        with pytest.raises(NotAllowed):
            await assign(sessions, rid, outsider, outsider)
    with pytest.raises(NotAllowed):
        await assign(sessions, rid, s.coordinator, s.member)
    with pytest.raises(NotAllowed):
        await assign(sessions, rid, s.coordinator, s.requester)
    assert (await fresh(sessions, request)).status == ConsultationStatus.SUBMITTED

    # The suggested volunteer is not the one who declines: the suggestion stands.
    await decline(sessions, rid, s.second_coordinator, "unavailable")
    assert (await fresh(sessions, request)).suggested_assignee_id == s.volunteer.id
    again = await decline(sessions, rid, s.second_coordinator, "other")
    assert not again.changed
    with pytest.raises(ValueError, match="reason"):
        await decline(sessions, rid, s.coordinator, "bored")

    # Given to the volunteer (the suggestion): the requester, the volunteer and the other
    # coordinator are told.
    given = await assign(sessions, rid, s.coordinator, s.volunteer, now=START + timedelta(hours=1))
    assert given.queued == 3
    same = await assign(sessions, rid, s.second_coordinator, s.volunteer)
    assert not same.changed
    with pytest.raises(WrongStatus) as taken:
        await assign(sessions, rid, s.second_coordinator, s.second_coordinator)
    assert (taken.value.status, taken.value.assignee_id) == (
        ConsultationStatus.ASSIGNED,
        s.volunteer.id,
    )

    # Handed back: waiting again, new suggestion without the volunteer (nor the coordinator
    # who declined), the coordinators get it anew and the requester is told.
    back = await decline(
        sessions, rid, s.volunteer, "conflict_of_interest", now=START + timedelta(hours=2)
    )
    assert back.handed_back
    request = await fresh(sessions, request)
    assert (request.status, request.assignee_id, request.assigned_at) == (
        ConsultationStatus.SUBMITTED,
        None,
        None,
    )
    assert request.suggested_assignee_id == s.coordinator.id
    assert request.suggestion_reason == "no_expertise;open=0;last=never"
    async with sessions() as session:
        names = [c.person.id for c in await consultations.candidates(session, request=request)]
    assert names == [s.coordinator.id]
    queued = [(r.person_id, r.kind, r.params) for r in await rows(sessions, OutboxMessage)]
    assert (s.coordinator.id, KIND_NEW, {"request_id": rid, "returned": True}) in queued
    assert (s.second_coordinator.id, KIND_NEW, {"request_id": rid, "returned": True}) in queued
    assert (s.requester.id, KIND_RETURNED, {"request_id": rid}) in queued
    # A coordinator who declined may still change their mind and take it.
    taken_back = await assign(
        sessions, rid, s.second_coordinator, s.second_coordinator, now=START + timedelta(hours=3)
    )
    assert taken_back.request.assignee_id == s.second_coordinator.id
    actions = [action for _actor, action, _detail in await events(sessions)]
    assert actions == [
        "submitted",
        "suggested",
        "declined",
        "assigned",
        "handed_back",
        "suggested",
        "assigned",
    ]
    details = [detail for _actor, _action, detail in await events(sessions)]
    assert details[3] == f"to={s.volunteer.id};suggestion=followed"
    assert details[6] == f"to={s.second_coordinator.id};suggestion=other"

    # A coordinator's own request: their colleagues assign it, never they themselves.
    own = await submitted(sessions, s, requester=s.coordinator)
    with pytest.raises(NotAllowed):
        await assign(sessions, _id(own), s.coordinator, s.volunteer)
    with pytest.raises(NotAllowed):
        await decline(sessions, _id(own), s.coordinator, "other")
    async with sessions() as session:
        others = await consultations.lines_waiting_for(session, coordinator_id=_id(s.coordinator))
        colleagues = await consultations.lines_waiting_for(
            session, coordinator_id=_id(s.second_coordinator)
        )
    assert [line.id for line in others] == []
    assert [line.id for line in colleagues] == [own.id]
    assert [
        r.person_id
        for r in await rows(sessions, OutboxMessage)
        if r.params == {"request_id": own.id}
    ] == [s.second_coordinator.id]


async def test_start_close_withdraw_and_rate(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    request = await submitted(sessions, s)
    rid = _id(request)
    other = await submitted(sessions, s, requester=s.member)

    with pytest.raises(NotAllowed):  # nobody holds it yet
        await step(sessions, consultations.start, rid, s.coordinator)
    with pytest.raises(WrongStatus):  # not closed: nothing to rate
        await rate(sessions, rid, s.requester, 5, "")
    await assign(sessions, rid, s.coordinator, s.coordinator)
    for someone in (s.second_coordinator, s.requester, s.animator):
        with pytest.raises(NotAllowed):
            await step(sessions, consultations.close, rid, someone)
    started_ = await step(sessions, consultations.start, rid, s.coordinator)
    assert started_.request.status == ConsultationStatus.IN_PROGRESS
    closed = await step(
        sessions, consultations.close, rid, s.coordinator, now=START + timedelta(days=3)
    )
    assert (closed.request.status, closed.request.closed_at, closed.queued) == (
        ConsultationStatus.CLOSED,
        START + timedelta(days=3),
        1,
    )
    with pytest.raises(WrongStatus):
        await step(sessions, consultations.withdraw, rid, s.requester)
    for rating, comment, error in (
        (0, "", ValueError),
        (6, "", ValueError),
        (4, "x" * 1001, ValueError),
        (4, "Merci, joindre au 514-555-1234", HasIdentifiers),
    ):
        with pytest.raises(error):
            await rate(sessions, rid, s.requester, rating, comment)
    with pytest.raises(NotAllowed):
        await rate(sessions, rid, s.coordinator, 5, "")
    await rate(sessions, rid, s.requester, 4, "  Très éclairant.  ")
    request = await fresh(sessions, request)
    assert (request.usefulness_rating, request.usefulness_comment) == (4, "Très éclairant.")

    # The other request: withdrawn by its requester once assigned; the assignee is told.
    await assign(sessions, _id(other), s.coordinator, s.volunteer)
    with pytest.raises(NotAllowed):
        await step(sessions, consultations.withdraw, _id(other), s.volunteer)
    withdrawn = await step(
        sessions, consultations.withdraw, _id(other), s.member, now=START + timedelta(days=1)
    )
    assert (withdrawn.request.status, withdrawn.request.closed_at, withdrawn.queued) == (
        ConsultationStatus.WITHDRAWN,
        START + timedelta(days=1),
        1,
    )
    with pytest.raises(WrongStatus):
        await step(sessions, consultations.close, _id(other), s.volunteer)
    (told,) = [r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_WITHDRAWN]
    assert (told.person_id, told.params) == (
        s.volunteer.id,
        {"request_id": _id(other), "assignee_id": s.volunteer.id},
    )

    async with sessions() as session:
        counts = await consultations.counts_for_community(session, _id(s.where))
    assert counts == consultations.ConsultationCounts(closed=1, withdrawn=1, rated=1)
    assert (counts.open, counts.total) == (0, 2)


async def test_the_average_usefulness_needs_five_answers(sessions: SessionFactory) -> None:
    s = await scene(sessions)

    async def rated(rating: int, days_ago: int) -> None:
        async with transaction(sessions) as session:
            await held(
                session,
                s.coordinator,
                s.where,
                assigned_at=START - timedelta(days=days_ago),
                status=ConsultationStatus.CLOSED,
            )
            newest = (
                await session.exec(
                    select(ConsultationRequest).order_by(col(ConsultationRequest.id).desc())
                )
            ).first()
            assert newest is not None
            newest.usefulness_rating = rating

    for days_ago, rating in enumerate((5, 4, 4, 3), start=1):
        await rated(rating, days_ago)
    async with sessions() as session:
        four = await consultations.counts_for_community(session, _id(s.where))
    # Four answers could point at a person: no average yet.
    assert (four.rated, four.average_usefulness) == (4, None)
    await rated(5, 10)
    async with sessions() as session:
        five = await consultations.counts_for_community(session, _id(s.where))
        recent = await consultations.counts_for_community(
            session, _id(s.where), since=START - timedelta(days=3, hours=1)
        )
    assert (five.rated, five.average_usefulness, five.closed) == (5, 4.2, 5)
    assert (recent.closed, recent.rated, recent.average_usefulness) == (3, 3, None)


async def test_volunteering_as_consultant(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    async with transaction(sessions) as session:
        row = await consultations.volunteer(
            session,
            person_id=_id(s.member),
            community_id=_id(s.where),
            expertise=["orientation", "ethical_dilemma", "orientation"],
        )
        assert row.consultant_expertise == ["ethical_dilemma", "orientation"]
        row = await consultations.volunteer(
            session, person_id=_id(s.member), community_id=_id(s.where), expertise=[]
        )
        assert row.consultant_expertise is None
        with pytest.raises(ValueError, match="motive"):
            await consultations.volunteer(
                session, person_id=_id(s.member), community_id=_id(s.where), expertise=["x"]
            )
        with pytest.raises(NotAllowed):
            await consultations.volunteer(
                session,
                person_id=_id(s.outsider),
                community_id=_id(s.where),
                expertise=["other"],
            )


def test_expertise_words() -> None:
    assert parse_expertise("dilemme ethique, situation complexe") == (
        ["ethical_dilemma", "complex_situation"],
        [],
    )
    assert parse_expertise("volunteer ethical dilemma and complex case") == (
        ["ethical_dilemma", "complex_situation"],
        [],
    )
    assert parse_expertise("Dilemme éthique; préparer une intervention / autre") == (
        ["ethical_dilemma", "intervention", "other"],
        [],
    )
    assert parse_expertise("tout") == (list(consultations.MOTIVES), [])
    assert parse_expertise("retirer") == ([], [])
    assert parse_expertise("  ") is None
    assert parse_expertise("ethique, cuisine") == (["ethical_dilemma"], ["cuisine"])


# -- the dialog, in isolation (DialogTestClient) ---------------------------------------------------


@dataclass
class Dialog(DialogChat):
    """The request dialog alone, turn by turn."""

    options: ConsultationOptions = field(default_factory=ConsultationOptions)
    wakes: int = 0

    def dialog(self) -> ConsultationDialog:
        return ConsultationDialog(self.sessions, self._wake, clock=lambda: START)

    def begin_options(self) -> ConsultationOptions:
        return self.options

    def _wake(self) -> None:
        self.wakes += 1


async def nothing_saved(sessions: SessionFactory) -> None:
    assert await rows(sessions, ConsultationRequest) == []
    assert await rows(sessions, ConsultationEvent) == []
    assert await rows(sessions, OutboxMessage) == []


async def state_holds(sessions: SessionFactory, text: str) -> bool:
    return any(text in row.data for row in await rows_by_key(sessions))


async def rows_by_key(sessions: SessionFactory) -> list[BotState]:
    async with sessions() as session:
        return list((await session.exec(select(BotState))).all())


async def test_asking_in_french_catches_identifiers_and_sends_the_request(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    chat = Dialog(sessions, s.requester)

    (ask_motive,) = await chat.say("consultation")
    assert ask_motive.startswith(
        "Demande de consultation professionnelle — CdeP Soins palliatifs\n\nC’est confidentiel"
    )
    assert ask_motive.endswith(
        "[Dilemme éthique]\n[Préparer une intervention]\n[Situation clinique complexe]\n"
        "[Valider une orientation]\n[Autre motif]"
    )
    (not_a_motive,) = await chat.say("la météo")
    assert not_a_motive.startswith("Je n’ai pas compris. Choisissez une des options")
    (ask_summary,) = await chat.say("dilemme éthique")
    assert ask_summary.startswith("Décrivez la situation en quelques phrases")
    assert "n’écrivez rien qui permette d’identifier un·e usager·ère" in ask_summary
    (too_short,) = await chat.say("Aidez-moi")
    assert too_short.startswith("Il me faut un résumé de 20\xa0à 4000\xa0caractères.")
    identified = SUMMARY + " Elle est née le 3 mars 1954, joindre sa fille au 514 555-1234."
    (spotted,) = await chat.say(identified)
    assert spotted == (
        "Votre résumé semble contenir un numéro de téléphone et une date de naissance (ou une "
        "autre date complète). Pour protéger la personne concernée, retirez ces renseignements "
        "(ou remplacez-les par une description générale), puis écrivez le résumé de nouveau. "
        "Rien n’a été enregistré."
    )
    (ask_urgency,) = await chat.say(SUMMARY)
    assert ask_urgency.startswith("À quel point est-ce urgent\xa0?")
    assert ask_urgency.endswith("[Cette semaine]\n[Ce mois-ci]\n[Pas pressé]")
    (ask_modality,) = await chat.say("cette semaine")
    assert ask_modality.endswith(
        "[Rencontre individuelle]\n[Discussion de cas en communauté]\n[Groupe de codéveloppement]"
    )
    (ask_availability,) = await chat.say("codéveloppement")
    assert ask_availability.startswith("Quelles sont vos disponibilités pour en parler\xa0?")
    (recap,) = await chat.say(AVAILABILITY)
    assert recap.startswith(
        "Voici votre demande pour CdeP Soins palliatifs\xa0:\n\n"
        "- Motif\xa0: Dilemme éthique\n"
        f"- Résumé\xa0: {SUMMARY}\n"
        "- Urgence\xa0: Cette semaine\n"
        "- Forme souhaitée\xa0: Groupe de codéveloppement\n"
        f"- Disponibilités\xa0: {AVAILABILITY}\n\n"
        "Je l’envoie à la coordination professionnelle\xa0?"
    )
    assert recap.endswith("[Envoyer]\n[Annuler]")
    (sent,) = await chat.say("Envoyer")

    (request,) = await rows(sessions, ConsultationRequest)
    assert sent.startswith(f"C’est envoyé. Votre numéro de demande\xa0: C-2026-{request.id:04d}.")
    assert "Tapez «\xa0mes demandes\xa0» pour suivre son statut ou la retirer." in sent
    assert (request.requester_id, request.motive, request.urgency, request.modality) == (
        s.requester.id,
        "ethical_dilemma",
        "this_week",
        "codevelopment",
    )
    assert (request.summary, request.availability) == (SUMMARY, AVAILABILITY)
    assert chat.result == SubmittedConsultation(
        request_id=_id(request), reference=request.reference
    )
    assert sorted((r.person_id, r.kind) for r in await rows(sessions, OutboxMessage)) == [
        (s.coordinator.id, KIND_NEW),
        (s.second_coordinator.id, KIND_NEW),
    ]
    assert chat.wakes == 1
    # Once sent, the draft is gone from the dialog state.
    assert not await state_holds(sessions, MARKER)


@pytest.mark.parametrize(
    ("locale", "identified", "kinds"),
    [
        ("fr-CA", "Écrire à sa fille: m.roy@videotron.ca", "une adresse courriel"),
        ("fr-CA", "La joindre au (450) 555-0199 le soir", "un numéro de téléphone"),
        ("fr-CA", "Son NAM est TREL 5403 0312", "un numéro d’assurance maladie"),
        ("fr-CA", "Voir le no de dossier 4455667 au CLSC", "un numéro de dossier"),
        ("fr-CA", "Le dossier #1234567 est ouvert", "un numéro de dossier"),
        (
            "fr-CA",
            "Elle est née le 3 mars 1954 à Sorel",
            "une date de naissance (ou une autre date complète)",
        ),
        ("en-US", "Write to her son at sam.roy@example.com", "an e-mail address"),
        ("en-US", "Call her at 514-555-0142", "a phone number"),
        ("en-US", "Her health card is GAGM 6512 2544", "a health-insurance number"),
        ("en-US", "File number 889900 at the hospital", "a file number"),
        ("en-US", "Born 1954-03-03, lives alone", "a date of birth (or another full date)"),
        ("en-US", "DOB 03/03/1954, lives alone", "a date of birth (or another full date)"),
    ],
)
async def test_each_kind_of_identifier_is_asked_to_be_removed(
    sessions: SessionFactory, locale: str, identified: str, kinds: str
) -> None:
    s = await scene(sessions, locale=locale)
    chat = Dialog(sessions, s.requester, locale=locale)
    await chat.say("consultation")
    await chat.say("1")
    summary = f"{SUMMARY} {identified}."
    (spotted,) = await chat.say(summary)
    start = "Votre résumé semble contenir" if locale == "fr-CA" else "Your summary seems to contain"
    assert spotted.startswith(f"{start} {kinds}.")
    # Only the kind: the identifier itself is never repeated.
    for word in identified.split():
        if any(ch.isdigit() for ch in word) or "@" in word:
            assert word.strip(".,") not in spotted
    (spotted_again,) = await chat.say(summary)
    assert spotted_again == spotted
    (ask_urgency,) = await chat.say(SUMMARY)
    assert ask_urgency.startswith("À quel point" if locale == "fr-CA" else "How urgent is it?")
    assert await rows(sessions, ConsultationRequest) == []


async def test_asking_in_english_picks_the_community(sessions: SessionFactory) -> None:
    s = await scene(sessions, locale="en-US")
    async with transaction(sessions) as session:
        organizing = await session.get(Community, 2)
        assert organizing is not None
        await factories.member(session, s.requester, organizing)
        other_coordinator = await joined(session, 30, organizing, roles=(Role.COORDINATOR,))
    chat = Dialog(sessions, s.requester, locale="en-US")

    (ask_community,) = await chat.say("consultation")
    assert ask_community.startswith(
        "In which community would you like to ask for a professional consultation?"
    )
    assert ask_community.endswith("[CdeP Organisation communautaire]\n[CdeP Soins palliatifs]")
    (ask_motive,) = await chat.say("CdeP Organisation communautaire")
    assert ask_motive.startswith(
        "Professional consultation request — CdeP Organisation communautaire\n\nIt is confidential"
    )
    (ask_summary,) = await chat.say("complex case")
    assert "write nothing that could identify a client" in ask_summary
    assert (await chat.say(SUMMARY))[0].startswith("How urgent is it?")
    assert (await chat.say("no rush"))[0].startswith("Which form of consultation")
    assert (await chat.say("case discussion"))[0].startswith("When are you available")
    (too_long,) = await chat.say("x" * 501)
    assert too_long == "Give your availability in a few words (at most 500 characters)."
    (recap,) = await chat.say("Mondays, online")
    assert "- Reason: Complex clinical situation\n" in recap
    assert "- Preferred form: Case discussion in the community\n" in recap
    (sent,) = await chat.say("send")
    (request,) = await rows(sessions, ConsultationRequest)
    assert sent.startswith(f"Sent. Your request number: {request.reference}.")
    assert "Type “my requests” to follow its status or withdraw it." in sent
    assert (request.community_id, request.motive, request.urgency, request.modality) == (
        2,
        "complex_situation",
        "no_rush",
        "case_discussion",
    )
    assert sorted((r.person_id, r.kind) for r in await rows(sessions, OutboxMessage)) == [
        (s.elsewhere.id, KIND_NEW),
        (other_coordinator.id, KIND_NEW),
    ]


@pytest.mark.parametrize(
    ("locale", "answers", "cancel", "cancelled"),
    [
        ("fr-CA", [], "annuler", CANCELLED_FR),
        ("fr-CA", ["Dilemme éthique"], "Annuler", CANCELLED_FR),
        (
            "fr-CA",
            ["1", SUMMARY, "ce mois-ci", "individuelle", AVAILABILITY],
            "annuler",
            CANCELLED_FR,
        ),
        ("fr-CA", ["1", SUMMARY, "ce mois-ci", "individuelle", AVAILABILITY], "Annuler", ""),
        ("en-US", ["ethical dilemma", SUMMARY], "cancel", CANCELLED_EN),
        ("en-US", ["1", SUMMARY, "1", "1", AVAILABILITY], "Cancel", ""),
    ],
)
async def test_cancelling_at_any_step_saves_nothing(
    sessions: SessionFactory, locale: str, answers: list[str], cancel: str, cancelled: str
) -> None:
    s = await scene(sessions, locale=locale)
    chat = Dialog(sessions, s.requester, locale=locale)
    await chat.say("consultation")
    for answer in answers:
        await chat.say(answer)
    expected = cancelled or (CANCELLED_FR if locale == "fr-CA" else CANCELLED_EN)
    assert await chat.say(cancel) == [expected]
    await nothing_saved(sessions)
    # The draft does not linger in the dialog state either.
    assert not await state_holds(sessions, MARKER)


async def test_who_cannot_ask_is_told_politely(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    async with transaction(sessions) as session:
        lonely = await factories.community(session, name="CdeP sans coordination")
        alone = await joined(session, 20, lonely)
    cases: list[tuple[Person, str, ConsultationOptions, bool, str]] = [
        (s.outsider, "fr-CA", ConsultationOptions(), False, "Pour demander une consultation"),
        (s.outsider, "en-US", ConsultationOptions(), False, "To ask for a professional"),
        (
            s.elsewhere,
            "fr-CA",
            ConsultationOptions(community_id=_id(s.where)),
            False,
            "Seuls les membres de cette communauté",
        ),
        (alone, "fr-CA", ConsultationOptions(), False, "Aucune coordination professionnelle"),
        (s.requester, "fr-CA", ConsultationOptions(), True, "Par confidentialité"),
    ]
    for who, locale, options, in_channel, expected in cases:
        chat = Dialog(sessions, who, locale=locale, options=options, in_channel=in_channel)
        (reply,) = await chat.say("consultation")
        assert reply.startswith(expected), reply
    await nothing_saved(sessions)


# -- the bot glue, over a TestAdapter ------------------------------------------------------------

SETTINGS = make_settings("sqlite+aiosqlite:///unused.db")


@dataclass
class Bot(FeatureBot):
    """Drives the consultation functions as the handler will, and records what was said."""

    def context(
        self, who: Person, value: dict[str, Any] | None = None, *, channel: bool = False
    ) -> TurnContext:
        context = self.message(
            value,
            sender_id=who.teams_user_id,
            conversation_id=f"{CHANNEL};messageid=1" if channel else f"a:personal-{who.id}",
            channel=channel,
            channel_data={"channel": {"id": CHANNEL}} if channel else None,
        )
        context.turn_state[TURN_INFO_KEY] = self.info(who, channel=channel)
        return context

    async def click(
        self, who: Person, value: dict[str, Any], locale: str = "fr-CA", channel: bool = False
    ) -> list[str]:
        handled = await press(
            self.context(who, value, channel=channel),
            value,
            sessions=self.sessions,
            settings=SETTINGS,
            info=self.info(who, locale, channel),
            wake=self._wake,
            clock=lambda: self.now,
        )
        assert handled
        return self.texts()

    async def command(
        self,
        who: Person,
        function: Callable[..., Awaitable[None]],
        locale: str = "fr-CA",
        channel: bool = False,
        **arguments: Any,
    ) -> list[str]:
        context = self.context(who, channel=channel)
        turn = FeatureTurn(
            context=context,
            sessions=self.sessions,
            info=self.info(who, locale, channel),
            wake=self._wake,
            clock=lambda: self.now,
            services=host_services(
                context, sessions=self.sessions, settings=SETTINGS, wake=self._wake
            ),
        )
        await function(turn, **arguments)
        return self.texts()

    def texts(self) -> list[str]:
        return [said(a) for a in self.replies()]


def claimed(kind: str, person: Person, **params: Any) -> Claimed:
    return Claimed(
        id=1,
        dedup_key="k",
        kind=kind,
        params=params,
        person_id=person.id,
        conversation_ref_id=None,
        attempts=1,
        created_at=START,
    )


async def render(
    sessions: SessionFactory,
    kind: str,
    person: Person,
    *,
    locale: str = "fr-CA",
    now: datetime = START,
    **params: Any,
) -> Activity | None:
    return await CONSULTATION_RENDERERS[kind](
        RenderContext(
            message=claimed(kind, person, **params),
            locale=locale,
            timezone=TZ,
            now=now,
            sessions=sessions,
        )
    )


async def render_row(sessions: SessionFactory, row: OutboxMessage, locale: str = "fr-CA") -> str:
    async with sessions() as session:
        person = await session.get(Person, row.person_id or 0)
    assert person is not None
    activity = await render(sessions, row.kind, person, locale=locale, **row.params)
    assert activity is not None, row.kind
    return said(activity)


def card_of(text: str) -> Element:
    card: Element = json.loads(text)
    return card


def actions_of(card: Element) -> list[Element]:
    """Every button, then those behind each ShowCard."""
    found = card_actions(card)
    for action in list(found):
        if action.get("type") == "Action.ShowCard":
            found.extend(action["card"].get("actions", []))
    return found


def verbs_of(card: Element) -> list[str]:
    return [a["data"]["verb"] for a in actions_of(card) if a.get("type") == "Action.Submit"]


async def test_a_request_from_the_coordinators_card_to_the_requesters_feedback(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    request = await submitted(sessions, s)
    rid = _id(request)
    ref = request.reference

    (new,) = [r for r in await rows(sessions, OutboxMessage) if r.person_id == s.coordinator.id]
    card = card_of(await render_row(sessions, new))
    text = json.dumps(card, ensure_ascii=False)
    assert card["body"][0]["text"] == f"Nouvelle demande de consultation — {ref}"
    assert MARKER in text
    assert AVAILABILITY_MARKER in text
    assert (
        "Suggestion\xa0: Personne 5 — a déclaré une expertise pour ce motif, 0\xa0demande en "
        "cours, "
        "aucune demande reçue jusqu’ici."
    ) in text
    assert verbs_of(card) == ["consultations.take", "consultations.assign", "consultations.decline"]
    give = next(a for a in card["actions"] if a["title"] == "Confier à un·e collègue")
    (choice,) = give["card"]["body"]
    assert choice["value"] == str(s.volunteer.id)
    # The colleagues, by name: not the coordinator reading it (« Je la prends » is theirs).
    assert [c["title"] for c in choice["choices"]] == [
        "Personne 2 · 0\xa0demande en cours",
        "Personne 5 · expertise déclarée · 0\xa0demande en cours",
    ]
    # Rendering is not reading: the read is recorded once the card is delivered
    # (tests/test_consultation_delivery.py).
    assert (s.coordinator.id, "read", "card") not in await events(sessions)
    # Teams accepted it (the dispatcher says so): now it was read.
    await after_delivery(
        CONSULTATION_RENDERERS[KIND_NEW],
        claimed(KIND_NEW, s.coordinator, **new.params),
        sessions=sessions,
        now=START,
    )
    assert (s.coordinator.id, "read", "card") in await events(sessions)

    assert await bot.click(
        s.coordinator,
        {"verb": "consultations.assign", "request_id": rid, "assignee_id": str(s.volunteer.id)},
    ) == [
        f"La demande {ref} est confiée à Personne 5, qui la recevra en privé. La personne qui "
        "l’a faite en est avisée."
    ]
    assert bot.wakes == 1
    assert await bot.click(
        s.second_coordinator, {"verb": "consultations.take", "request_id": rid}
    ) == ["Cette demande est déjà prise en charge par Personne 5."]
    told = {r.kind: r for r in await rows(sessions, OutboxMessage) if r.kind != KIND_NEW}
    assert {kind: row.person_id for kind, row in told.items()} == {
        KIND_TAKEN: s.requester.id,
        KIND_ASSIGNED: s.volunteer.id,
        KIND_ASSIGNED_NOTICE: s.second_coordinator.id,
    }
    assert await render_row(sessions, told[KIND_TAKEN]) == (
        f"Bonne nouvelle\xa0: votre demande {ref} (CdeP Soins palliatifs) est prise en charge par "
        "Personne 5, qui communiquera avec vous pour convenir d’une rencontre."
    )
    assert await render_row(sessions, told[KIND_ASSIGNED_NOTICE], "en-US") == (
        f"For your information: request {ref} has been taken by Personne 5."
    )
    assigned = card_of(await render_row(sessions, told[KIND_ASSIGNED]))
    assert assigned["body"][0]["text"] == f"Une demande vous est confiée — {ref}"
    assert MARKER in json.dumps(assigned, ensure_ascii=False)
    assert verbs_of(assigned) == [
        "consultations.start",
        "consultations.close",
        "consultations.decline",
    ]

    assert await bot.click(s.volunteer, {"verb": "consultations.start", "request_id": rid}) == [
        f"La demande {ref} est maintenant en cours."
    ]
    assert await bot.click(s.coordinator, {"verb": "consultations.close", "request_id": rid}) == [
        "Cette demande est confidentielle\xa0: seules la personne qui l’a faite, la personne "
        "assignée et la coordination professionnelle peuvent la lire ou la modifier."
    ]
    assert (await bot.click(s.volunteer, {"verb": "consultations.close", "request_id": rid}))[
        0
    ].startswith(f"La demande {ref} est fermée.")
    (feedback,) = [r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_FEEDBACK]
    assert feedback.person_id == s.requester.id
    question = card_of(await render_row(sessions, feedback))
    assert question["body"][0]["text"] == f"Votre avis sur la consultation {ref}"
    assert verbs_of(question) == ["consultations.feedback"]
    assert MARKER not in json.dumps(question, ensure_ascii=False)

    value = {"verb": "consultations.feedback", "request_id": rid}
    assert await bot.click(s.requester, {**value, "rating": "9"}) == [
        "Choisissez une réponse de 1\xa0à 5."
    ]
    assert await bot.click(s.requester, {**value, "rating": "4", "comment": "dossier 445566"}) == [
        "Votre commentaire semble contenir un numéro de dossier. Votre note n’est pas encore "
        "enregistrée\xa0: retirez ces renseignements, puis envoyez de nouveau."
    ]
    assert await bot.click(s.requester, {**value, "rating": "4", "comment": "Éclairant"}) == [
        "Merci pour votre réponse\xa0!"
    ]
    assert await render(sessions, KIND_FEEDBACK, s.requester, request_id=rid) is None
    request = await fresh(sessions, request)
    assert (request.status, request.usefulness_rating, request.usefulness_comment) == (
        ConsultationStatus.CLOSED,
        4,
        "Éclairant",
    )

    (mine,) = await bot.command(s.requester, on_my_requests_command)
    assert f"{ref} · CdeP Soins palliatifs" in mine
    assert "Statut\xa0: Fermée — Personne 5" in mine
    assert MARKER not in mine
    (trail,) = await bot.command(s.coordinator, on_audit_command, community_id=None)
    trail_text = json.dumps(card_of(trail), ensure_ascii=False)
    for line in (
        "Personne 4 — a soumis la demande",
        "Carrefour — a suggéré une personne (Personne 5)",
        "Personne 1 — a lu la demande (carte reçue)",
        "Personne 1 — a assigné la demande (à Personne 5, selon la suggestion)",
        "Personne 5 — a commencé la consultation",
        "Personne 5 — a fermé la demande",
        "Personne 4 — a indiqué l’utilité de la consultation (4/5)",
    ):
        assert line in trail_text
    assert MARKER not in trail_text
    assert "Éclairant" not in trail_text
    (one,) = await bot.command(
        s.coordinator, on_audit_command, community_id=None, argument=f"journal {ref.lower()}"
    )
    assert card_of(one)["body"][0]["text"] == f"Journal de la demande {ref}"


async def test_handing_back_declining_and_withdrawing_through_the_buttons(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)
    request = await submitted(sessions, s)
    rid, ref = _id(request), request.reference

    assert await bot.click(s.coordinator, {"verb": "consultations.decline", "request_id": rid}) == [
        "Choisissez une raison avant d’envoyer."
    ]
    assert await bot.click(
        s.second_coordinator,
        {"verb": "consultations.decline", "request_id": rid, "reason": "unavailable"},
    ) == [
        f"C’est noté\xa0: vous ne prendrez pas la demande {ref}. Elle reste à la coordination et "
        "ne vous sera plus suggérée."
    ]
    assert await bot.click(s.coordinator, {"verb": "consultations.assign", "request_id": rid}) == [
        "Choisissez la personne à qui confier la demande."
    ]
    assert await bot.click(s.coordinator, {"verb": "consultations.take", "request_id": rid}) == [
        f"C’est noté\xa0: vous prenez en charge la demande {ref}. La personne en est avisée\xa0; "
        "communiquez avec elle pour convenir d’une rencontre. Tapez «\xa0demandes assignées\xa0» "
        "pour "
        "retrouver vos demandes."
    ]
    (held_card,) = await bot.command(s.coordinator, on_assigned_requests_command)
    assert f"{ref} · CdeP Soins palliatifs" in held_card
    assert "Demandée par Personne 4" in held_card
    assert MARKER not in held_card
    assert await bot.click(
        s.coordinator,
        {"verb": "consultations.decline", "request_id": rid, "reason": "conflict_of_interest"},
        locale="en-US",
    ) == [f"Noted: request {ref} goes back to the coordinators, who will give it to someone else."]
    returned = [r for r in await rows(sessions, OutboxMessage) if r.params.get("returned") is True]
    # Back to the other coordinator; both coordinators stepped aside: the volunteer is suggested.
    assert [r.person_id for r in returned] == [s.second_coordinator.id]
    card = card_of(await render_row(sessions, returned[0]))
    assert card["body"][0]["text"] == f"Demande remise à la coordination — {ref}"
    assert "Suggestion\xa0: Personne 5" in json.dumps(card, ensure_ascii=False)
    (back,) = [r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_RETURNED]
    assert (await render_row(sessions, back)).startswith(
        f"Votre demande {ref} est de retour à la coordination professionnelle"
    )

    assert await bot.click(
        s.second_coordinator,
        {"verb": "consultations.assign", "request_id": rid, "assignee_id": s.volunteer.id},
    )
    assert await bot.click(s.member, {"verb": "consultations.withdraw", "request_id": rid}) == [
        "Cette demande est confidentielle\xa0: seules la personne qui l’a faite, la personne "
        "assignée et la coordination professionnelle peuvent la lire ou la modifier."
    ]
    # The requester's click asks first (who will be told), the confirmation withdraws.
    withdraw = {"verb": "consultations.withdraw", "request_id": rid}
    (asked,) = await bot.click(s.requester, withdraw)
    assert f"Retirer la demande {ref}\xa0?" in asked
    assert "Personne 5, qui l’a prise en charge, en sera avisé·e." in asked
    assert not [r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_WITHDRAWN]
    (done,) = await bot.click(s.requester, {**withdraw, "confirmed": True})
    assert card_of(done)["body"][0]["text"] == f"Votre demande {ref} est retirée."
    (withdrawn,) = [r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_WITHDRAWN]
    assert await render_row(sessions, withdrawn) == (
        f"La demande {ref} a été retirée par la personne qui l’avait faite. Vous n’avez plus à "
        "y donner suite."
    )
    assert await bot.click(s.volunteer, {"verb": "consultations.start", "request_id": rid}) == [
        "Cette demande est fermée ou a été retirée\xa0: rien n’a changé."
    ]
    # Withdrawn already: said at once; a stale confirmation acts no more.
    assert await bot.click(s.requester, withdraw) == [f"La demande {ref} est déjà retirée."]
    (again,) = await bot.click(s.requester, {**withdraw, "confirmed": True})
    assert card_of(again)["body"][0]["text"] == f"La demande {ref} est déjà retirée."
    assert await bot.click(s.coordinator, {"verb": "consultations.take", "request_id": rid}) == [
        "Cette demande est fermée ou a été retirée\xa0: rien n’a changé."
    ]
    assert await bot.click(s.coordinator, {"verb": "consultations.take", "request_id": 999}) == [
        "Je ne trouve pas cette demande."
    ]
    assert await bot.click(s.coordinator, {"verb": "consultations.take"}) == [UNKNOWN_ACTION]
    # Verbs of other features (or of none) are not ours.
    assert "consultation.unknown" not in CONSULTATIONS.verbs
    assert "mentoring.confirm" not in CONSULTATIONS.verbs
    # The one-pager's request button starts the dialog: its first question is asked.
    (question,) = await bot.click(s.coordinator, {"verb": "consultations.request"})
    assert question.startswith("Demande de consultation professionnelle — CdeP Soins palliatifs")
    assert "[Dilemme éthique]" in question


async def test_volunteering_by_command_and_button(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    bot = Bot(sessions)

    async def volunteer(who: Person, argument: str, **extra: Any) -> list[str]:
        return await bot.command(
            who, on_volunteer_consultant_command, community_id=None, argument=argument, **extra
        )

    (usage,) = await volunteer(s.member, "")
    assert usage.startswith("Pour offrir des consultations, indiquez les motifs")
    assert "Dilemme éthique, Préparer une intervention, Situation clinique complexe" in usage
    assert await volunteer(s.member, "dilemme ethique, cuisine") == [
        "Je n’ai pas reconnu «\xa0cuisine\xa0». Motifs possibles\xa0: Dilemme éthique, "
        "Préparer une "
        "intervention, Situation clinique complexe, Valider une orientation, Autre motif."
    ]
    assert await volunteer(s.member, "dilemme ethique, situation complexe") == [
        "Merci\xa0! Dans CdeP Soins palliatifs, la coordination pourra vous confier des demandes "
        "de consultation pour\xa0: Dilemme éthique, Situation clinique complexe. Vous pourrez "
        "toujours décliner une demande."
    ]
    async with sessions() as session:
        row = await membership(session, person_id=_id(s.member), community_id=_id(s.where))
    assert row is not None
    assert row.consultant_expertise == ["ethical_dilemma", "complex_situation"]
    (withdrawn,) = await volunteer(s.member, "withdraw", locale="en-US")
    assert withdrawn.startswith("Noted: you will no longer be suggested consultation requests")
    assert await volunteer(s.outsider, "tout") == [
        "Pour offrir des consultations, joignez d’abord une communauté de pratique."
    ]

    async with transaction(sessions) as session:
        organizing = await session.get(Community, 2)
        assert organizing is not None
        await factories.member(session, s.member, organizing)
    (choice,) = await volunteer(s.member, "tout")
    buttons = [a["data"] for a in actions_of(card_of(choice))]
    assert buttons == [
        {
            "verb": "consultations.volunteer",
            "community_id": 2,
            "expertise": list(consultations.MOTIVES),
        },
        {
            "verb": "consultations.volunteer",
            "community_id": _id(s.where),
            "expertise": list(consultations.MOTIVES),
        },
    ]
    # In the community's channel: that community, no question (volunteering reveals nothing).
    (here,) = await volunteer(s.member, "autre", channel=True)
    assert here.startswith("Merci\xa0! Dans CdeP Soins palliatifs")
    (clicked,) = await bot.click(s.member, buttons[0])
    assert clicked.startswith("Merci\xa0! Dans CdeP Organisation communautaire")
    assert await bot.click(
        s.member, {"verb": "consultations.volunteer", "community_id": 2, "expertise": ["x"]}
    ) == [UNKNOWN_ACTION]


# -- confidentiality, role by role ---------------------------------------------------------------


def _quiet_drivers(caplog: pytest.LogCaptureFixture) -> None:
    """Capture everything at DEBUG, with the database drivers at WARNING as bot/cli.py
    configures them in production (they would echo SQL parameters)."""
    for noisy in ("aiosqlite", "asyncpg", "sqlalchemy.engine"):
        caplog.set_level(logging.WARNING, logger=noisy)
    # Last: set_level also sets the capturing handler's level.
    caplog.set_level(logging.DEBUG)


SECRETS = (MARKER, AVAILABILITY_MARKER, "septantaine", "Éclairant-QZX")


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def everything_shown_to(
    bot: Bot, who: Person, request: ConsultationRequest, *, channel: bool = False
) -> list[str]:
    """Every way someone could look at a request: the commands, the details button, and each
    outbox message as if it had been queued for them."""
    shown: list[str] = []
    shown += await bot.command(who, on_my_requests_command, channel=channel)
    shown += await bot.command(who, on_assigned_requests_command, channel=channel)
    shown += await bot.command(who, on_audit_command, channel=channel, community_id=None)
    shown += await bot.command(
        who, on_audit_command, channel=channel, community_id=None, argument=request.reference
    )
    shown += await bot.click(
        who, {"verb": "consultations.show", "request_id": request.id}, channel=channel
    )
    shown += await bot.click(who, {"verb": "consultations.mine"}, channel=channel)
    shown += await bot.click(who, {"verb": "consultations.assigned"}, channel=channel)
    for kind in CONSULTATION_RENDERERS:
        activity = await render(
            bot.sessions,
            kind,
            who,
            request_id=request.id,
            working_days=5,
            assignee_id=request.assignee_id,
        )
        if activity is not None:
            shown.append(said(activity))
    return shown


async def changes_refused_to(bot: Bot, who: Person, request: ConsultationRequest) -> list[str]:
    """Every change someone could try with a forged or stale button."""
    rid = request.id
    said_back: list[str] = []
    for value in (
        {"verb": "consultations.take", "request_id": rid},
        {"verb": "consultations.assign", "request_id": rid, "assignee_id": who.id},
        {"verb": "consultations.decline", "request_id": rid, "reason": "unavailable"},
        {"verb": "consultations.start", "request_id": rid},
        {"verb": "consultations.close", "request_id": rid},
        {"verb": "consultations.withdraw", "request_id": rid},
        {"verb": "consultations.feedback", "request_id": rid, "rating": "1"},
    ):
        said_back += await bot.click(who, value)
    return said_back


async def test_content_reaches_only_the_requester_the_assignee_and_the_coordinators(
    sessions: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _quiet_drivers(caplog)
    s = await scene(sessions)
    people = s.everyone()
    bot = Bot(sessions)
    # Asked through the dialog, with an identifier caught on the way.
    chat = Dialog(sessions, s.requester)
    for answer in ("consultation", "1", SUMMARY + " Tél. 514 555-1234", SUMMARY, "1", "1"):
        await chat.say(answer)
    await chat.say(AVAILABILITY)
    await chat.say("Envoyer")
    (request,) = await rows(sessions, ConsultationRequest)
    # Nine working days later: reminders to the coordinators, a notice to the animator.
    assert await escalate(sessions=sessions, now=START + timedelta(days=12), wake=bot._wake) == 3

    async def check(stage: str, allowed: set[str]) -> None:
        for name, who in people.items():
            before = await fresh(sessions, request)
            shown = "\n".join(await everything_shown_to(bot, who, before))
            assert bool(leaks(shown)) == (name in allowed), (stage, name, leaks(shown))
            if name not in allowed:
                refused = "\n".join(await changes_refused_to(bot, who, before))
                assert leaks(refused) == [], (stage, name)
                after = await fresh(sessions, request)
                assert (after.status, after.assignee_id, after.usefulness_rating) == (
                    before.status,
                    before.assignee_id,
                    before.usefulness_rating,
                ), (stage, name)

    coordinators = {"coordinator", "second_coordinator"}
    await check("submitted", {"requester", *coordinators})
    # The animator sees the counts, not the request.
    (animator_view,) = await bot.command(s.animator, on_assigned_requests_command)
    assert "CdeP Soins palliatifs — en chiffres" in animator_view
    assert '"title": "En attente d’assignation", "value": "1"' in animator_view

    await bot.click(
        s.coordinator,
        {"verb": "consultations.assign", "request_id": request.id, "assignee_id": s.volunteer.id},
    )
    await bot.click(s.volunteer, {"verb": "consultations.start", "request_id": request.id})
    await check("in progress", {"requester", "volunteer", *coordinators})

    await bot.click(s.volunteer, {"verb": "consultations.close", "request_id": request.id})
    await bot.click(
        s.requester,
        {
            "verb": "consultations.feedback",
            "request_id": request.id,
            "rating": "5",
            "comment": "Éclairant-QZX",
        },
    )
    await check("closed", {"requester", "volunteer", *coordinators})

    # In a channel, nobody is shown a request, not even its requester or a coordinator.
    for who in (s.requester, s.coordinator):
        for shown in await everything_shown_to(bot, who, request, channel=True):
            assert leaks(shown) == [], shown

    # The audit trail and the outbox hold ids and codes, never the content.
    trail = await rows(sessions, ConsultationEvent)
    assert all(not leaks(f"{e.action} {e.detail}") for e in trail)
    denied = {e.actor_id for e in trail if e.action == "read_denied"}
    assert denied == {s.animator.id, s.member.id, s.elsewhere.id, s.outsider.id, s.volunteer.id}
    readers = {e.actor_id for e in trail if e.action == "read"}
    assert readers == {s.requester.id, s.coordinator.id, s.second_coordinator.id, s.volunteer.id}
    assert all(not leaks(json.dumps(r.params)) for r in await rows(sessions, OutboxMessage))
    # Counts only, for anyone.
    async with sessions() as session:
        counts = await consultations.counts_for_community(session, _id(s.where))
    assert not leaks(repr(counts))

    # Logs: ids and references, never content nor the identifier that was caught.
    logged = "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)
    assert leaks(logged) == []
    assert "555-1234" not in logged
    assert f"consultation {request.reference} submitted" in logged
    assert any(r.name == "bot.consultations_flow" for r in caplog.records)


# -- escalation with a frozen clock -------------------------------------------------------------


REMINDED_THEN_ESCALATED = [("reminded", "working_days=2"), ("escalated", "working_days=5")]


async def escalations(sessions: SessionFactory) -> list[tuple[str, str | None]]:
    """The reminders and escalations recorded, in order, with their detail."""
    return [(a, d) for _actor, a, d in await events(sessions) if a in ("reminded", "escalated")]


def queued_kinds(found: list[OutboxMessage]) -> list[tuple[int | None, str]]:
    """Who is queued a reminder or a waiting notice, sorted."""
    return sorted((r.person_id, r.kind) for r in found if r.kind in (KIND_REMINDER, KIND_WAITING))


async def reminder_card(sessions: SessionFactory, request: ConsultationRequest) -> Element:
    """The first reminder queued, as its coordinator sees it: after two working days."""
    reminder = next(r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_REMINDER)
    card = card_of(await render_row(sessions, reminder))
    assert card["body"][0]["text"] == f"Rappel\xa0: demande non assignée — {request.reference}"
    assert card["body"][2]["text"] == "Elle attend une assignation depuis 2\xa0jours ouvrables."
    return card


async def test_unassigned_requests_are_escalated_on_working_days(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    friday = montreal(2026, 11, 27, 15)
    request = await submitted(sessions, s, now=friday)
    wakes: list[int] = []

    async def run(now: datetime) -> int:
        return await escalate(
            sessions=sessions,
            now=now,
            reminder_after_working_days=2,
            escalate_after_working_days=5,
            timezone=TZ,
            wake=lambda: wakes.append(1),
        )

    # The weekend does not count: Monday is one working day, Tuesday 15:00 two.
    for moment in (
        montreal(2026, 11, 28, 12),
        montreal(2026, 11, 30, 16),
        montreal(2026, 12, 1, 14, 59),
    ):
        assert await run(moment) == 0
    assert await run(montreal(2026, 12, 1, 15)) == 2
    assert await run(montreal(2026, 12, 1, 18)) == 0  # once
    assert queued_kinds(await rows(sessions, OutboxMessage)) == [
        (s.coordinator.id, KIND_REMINDER),
        (s.second_coordinator.id, KIND_REMINDER),
    ]
    assert await run(montreal(2026, 12, 4, 14)) == 0
    assert await run(montreal(2026, 12, 4, 15)) == 1
    assert await run(montreal(2026, 12, 7, 9)) == 0
    assert queued_kinds(await rows(sessions, OutboxMessage))[-1:] == [(s.animator.id, KIND_WAITING)]
    assert len(wakes) == 2
    assert await escalations(sessions) == REMINDED_THEN_ESCALATED

    card = await reminder_card(sessions, request)
    assert MARKER in json.dumps(card, ensure_ascii=False)  # a coordinator may read it
    waiting = next(r for r in await rows(sessions, OutboxMessage) if r.kind == KIND_WAITING)
    notice = await render_row(sessions, waiting)
    assert notice == (
        f"Dans CdeP Soins palliatifs, la demande de consultation {request.reference} attend une "
        "assignation depuis 5\xa0jours ouvrables. En tout, 1\xa0demande attend dans la communauté. "
        "La coordination professionnelle a été relancée. (Par confidentialité, le contenu des "
        "demandes n’est pas montré à l’animation.)"
    )
    assert leaks(notice) == []
    assert (await render_row(sessions, waiting, "en-US")).startswith(
        f"In CdeP Soins palliatifs, consultation request {request.reference} has been waiting "
        "to be assigned for 5 working days. In all, 1 request is waiting in the community."
    )

    # Taken then handed back on Monday 10:00: a new waiting period, counted from then.
    await assign(
        sessions, _id(request), s.coordinator, s.coordinator, now=montreal(2026, 12, 7, 9, 30)
    )
    assert await run(montreal(2026, 12, 7, 9, 45)) == 0  # assigned: nothing to escalate
    await decline(
        sessions, _id(request), s.coordinator, "unavailable", now=montreal(2026, 12, 7, 10)
    )
    assert await run(montreal(2026, 12, 9, 9, 59)) == 0
    # Both coordinators are reminded again: it is theirs to assign.
    assert await run(montreal(2026, 12, 9, 10)) == 2
    assert await render(sessions, KIND_WAITING, s.animator, request_id=_id(request)) is not None
    await step(
        sessions, consultations.withdraw, _id(request), s.requester, now=montreal(2026, 12, 9, 11)
    )
    assert await run(montreal(2026, 12, 21, 10)) == 0
    # A stale reminder or notice is no longer sent once the request left the queue.
    assert await render(sessions, KIND_WAITING, s.animator, request_id=_id(request)) is None
    assert await render(sessions, KIND_REMINDER, s.coordinator, request_id=_id(request)) is None


# -- retention ---------------------------------------------------------------------------------


async def test_content_is_erased_after_the_retention_period_and_counts_remain(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    closed = await submitted(sessions, s)
    withdrawn = await submitted(sessions, s, requester=s.member)
    still_open = await submitted(sessions, s)
    async with transaction(sessions) as session:
        await consultations.assign(
            session,
            request_id=_id(closed),
            actor_id=_id(s.coordinator),
            assignee_id=_id(s.volunteer),
            now=START,
        )
        await consultations.close(
            session,
            request_id=_id(closed),
            actor_id=_id(s.volunteer),
            now=START + timedelta(days=1),
        )
        await consultations.rate(
            session,
            request_id=_id(closed),
            actor_id=_id(s.requester),
            rating=5,
            comment="Éclairant-QZX",
            now=START + timedelta(days=1),
        )
        await consultations.withdraw(
            session,
            request_id=_id(withdrawn),
            actor_id=_id(s.member),
            now=START + timedelta(days=2),
        )
    async with sessions() as session:
        before = await consultations.counts_for_community(session, _id(s.where))

    year = timedelta(days=365)
    assert (
        await purge_summaries(
            sessions=sessions, now=START + timedelta(days=1) + year - timedelta(seconds=1)
        )
        == 0
    )
    assert await purge_summaries(sessions=sessions, now=START + timedelta(days=1) + year) == 1
    assert await purge_summaries(sessions=sessions, now=START + timedelta(days=2) + year) == 1
    assert await purge_summaries(sessions=sessions, now=START + 3 * year) == 0

    erased = await fresh(sessions, closed)
    assert (erased.summary, erased.availability, erased.usefulness_comment) == (None, None, None)
    assert erased.summary_erased_at == START + timedelta(days=1) + year
    assert (erased.status, erased.usefulness_rating, erased.motive) == (
        ConsultationStatus.CLOSED,
        5,
        "ethical_dilemma",
    )
    assert (await fresh(sessions, withdrawn)).summary is None
    assert (await fresh(sessions, still_open)).summary == SUMMARY
    assert [(a, r) for a, r, _d in await events(sessions) if r == "summary_erased"] == [
        (None, "summary_erased"),
        (None, "summary_erased"),
    ]
    async with sessions() as session:
        after = await consultations.counts_for_community(session, _id(s.where))
    assert after == before
    assert (after.closed, after.withdrawn, after.submitted, after.rated) == (1, 1, 1, 1)

    bot = Bot(sessions)
    (card,) = await bot.click(s.requester, {"verb": "consultations.show", "request_id": closed.id})
    assert "Le résumé a été effacé le" in card
    assert leaks(card) == []
    assert await render(sessions, KIND_FEEDBACK, s.requester, request_id=closed.id) is None


# -- from a channel to the personal chat ---------------------------------------------------------


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with fresh_sqlite(tmp_path) as url:
        app = create_app(make_settings(url))
        async with started(app) as runtime:
            yield runtime


async def test_asked_in_a_channel_the_dialog_moves_to_the_personal_chat(
    wired: Runtime, connector: FakeConnector
) -> None:
    services = wired.bot.services
    if await services.dialogs.find(ConsultationDialog.ID) is None:
        # bot/handler.py registers it once wired; the test does what it will do.
        services.dialogs.add(ConsultationDialog(wired.sessions, services.wake))
    s = await scene(wired.sessions)
    async with transaction(wired.sessions) as session:
        requester = await session.get(Person, _id(s.requester))
        assert requester is not None
        requester.name = "Léa Tremblay"
    origin_adapter = ChatAdapter()
    origin = TurnContext(
        origin_adapter,
        Activity(
            type=ActivityTypes.message,
            text="consultation",
            channel_id="msteams",
            service_url=connector.url,
            from_property=ChannelAccount(id=s.requester.teams_user_id),
            recipient=ChannelAccount(id="28:carrefour-bot"),
            conversation=ConversationAccount(
                id=f"{CHANNEL};messageid=1", conversation_type="channel"
            ),
            channel_data={"channel": {"id": CHANNEL}},
        ),
    )
    info = TurnInfo(person_id=s.requester.id, locale="fr-CA", timezone=TZ, in_channel=True)
    origin.turn_state[TURN_INFO_KEY] = info
    await on_request_command(
        FeatureTurn(context=origin, sessions=wired.sessions, info=info, services=services),
        community_id=None,
    )

    # The channel reads only that the bot wrote privately: nothing about a consultation.
    assert [a.text for a in origin_adapter.activity_buffer] == ["Léa, je vous écris en privé."]
    (question,) = connector.texts()
    assert question.startswith("Demande de consultation professionnelle — CdeP Soins palliatifs")
    (created,) = [r for r in connector.received if r.path.endswith("/v3/conversations")]
    assert created.body["members"] == [{"id": s.requester.teams_user_id}]


# -- cards -------------------------------------------------------------------------------------


def _line(**changes: Any) -> consultations.RequestLine:
    line = consultations.RequestLine(
        id=42,
        reference="C-2026-0042",
        community_id=1,
        community_name="CdeP Soins palliatifs",
        motive="ethical_dilemma",
        urgency="this_week",
        modality="one_to_one",
        status=ConsultationStatus.SUBMITTED,
        created_at=START,
        assigned_at=None,
        closed_at=None,
        requester_id=4,
        requester_name="Léa Tremblay",
        assignee_id=None,
        assignee_name=None,
        rated=False,
    )
    return dataclasses.replace(line, **changes)


def _content(**changes: Any) -> consultations.RequestContent:
    values: dict[str, Any] = {
        "line": _line(),
        "summary": SUMMARY,
        "availability": AVAILABILITY,
        "summary_erased_at": None,
        "suggested_id": 5,
        "suggested_name": "Marie Gagnon",
        "suggestion_reason": "expertise;open=1;last=2026-11-20",
        "usefulness_rating": None,
        "usefulness_comment": None,
        "viewer": frozenset({consultations.Viewer.COORDINATOR}),
    }
    values.update(changes)
    return consultations.RequestContent(**values)


def _size(card: Element) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


@pytest.mark.parametrize(
    ("locale", "suggestion"),
    [
        (
            "fr-CA",
            "Suggestion\xa0: Marie Gagnon — a déclaré une expertise pour ce motif, 1\xa0demande en "
            "cours, dernière demande reçue le vendredi 20 novembre 2026.",
        ),
        (
            "en-US",
            "Suggestion: Marie Gagnon — declared expertise for this reason, 1 open request, "
            "last request received on Friday, November 20, 2026.",
        ),
    ],
)
def test_the_request_card_shows_what_each_part_may_do(locale: str, suggestion: str) -> None:
    coordinator = build_request_card(_content(), locale=locale, tz=TZ, context="new")
    text = json.dumps(coordinator, ensure_ascii=False)
    assert suggestion in text
    assert verbs_of(coordinator) == ["consultations.take", "consultations.decline"]
    assert coordinator["version"] == CARD_VERSION == "1.5"
    # A coordinator's own request: no assignment buttons, only the requester's.
    own = build_request_card(
        _content(
            viewer=frozenset({consultations.Viewer.COORDINATOR, consultations.Viewer.REQUESTER})
        ),
        locale=locale,
        tz=TZ,
    )
    assert verbs_of(own) == ["consultations.withdraw"]
    assert "Suggestion" not in json.dumps(own, ensure_ascii=False)
    in_progress = _content(
        line=_line(status=ConsultationStatus.IN_PROGRESS, assignee_id=5, assignee_name="Marie"),
        viewer=frozenset({consultations.Viewer.ASSIGNEE}),
    )
    assignee = build_request_card(in_progress, locale=locale, tz=TZ, context="assigned")
    assert verbs_of(assignee) == ["consultations.close", "consultations.decline"]
    closed = build_request_card(
        _content(
            line=_line(status=ConsultationStatus.CLOSED, assignee_id=5, assignee_name="Marie"),
            viewer=frozenset({consultations.Viewer.REQUESTER}),
            summary=None,
            availability=None,
            summary_erased_at=START,
        ),
        locale=locale,
        tz=TZ,
    )
    assert verbs_of(closed) == []
    assert MARKER not in json.dumps(closed, ensure_ascii=False)


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_lists_feedback_and_audit_cards_carry_no_content(locale: str) -> None:
    lines = [
        _line(
            id=n, reference=f"C-2026-{n:04d}", status=status, assignee_id=5, assignee_name="Marie"
        )
        for n, status in enumerate(ConsultationStatus, start=1)
    ]
    mine = build_my_requests_card(lines, locale=locale, tz=TZ)
    assert [a["data"]["verb"] for a in actions_of(mine) if a["type"] == "Action.Submit"].count(
        "consultations.withdraw"
    ) == 3  # submitted, assigned, in progress
    counts = consultations.ConsultationCounts(
        submitted=2, assigned=1, closed=7, rated=6, average_usefulness=4.5
    )
    assigned = build_assigned_requests_card(
        lines[1:3],
        lines[:1],
        [(Community(id=1, name="CdeP Soins palliatifs"), counts)],
        locale=locale,
        tz=TZ,
    )
    assert ("4,5/5 (6\xa0réponses)" if locale == "fr-CA" else "4.5/5 (6 answers)") in json.dumps(
        assigned, ensure_ascii=False
    )
    feedback = build_feedback_card(lines[3], locale=locale)
    entries = [
        consultations.AuditEntry(
            at=START,
            reference="C-2026-0001",
            actor_id=None,
            actor_name=None,
            action=action,
            detail=detail,
            subject_name=subject,
        )
        for action, detail, subject in (
            ("suggested", "person=5;expertise;open=0;last=never", "Marie"),
            ("assigned", "to=5;suggestion=other", "Marie"),
            ("declined", "conflict_of_interest", None),
            ("reminded", "working_days=2", None),
            ("read_denied", "details", None),
        )
    ]
    audit = build_audit_card(
        entries, community=Community(id=1, name="CdeP"), reference=None, locale=locale, tz=TZ
    )
    audit_text = json.dumps(audit, ensure_ascii=False)
    assert (
        "Carrefour — a assigné la demande (à Marie, autre que la suggestion)"
        if locale == "fr-CA"
        else "Carrefour — assigned the request (to Marie, not the suggestion)"
    ) in audit_text
    assert (
        "après 2\xa0jours ouvrables" if locale == "fr-CA" else "after 2 working days"
    ) in audit_text
    for card in (mine, assigned, feedback, audit):
        assert leaks(json.dumps(card, ensure_ascii=False)) == []
        assert card["version"] == "1.5"
        assert _size(card) < MAX_CARD_BYTES


def test_long_requests_and_lists_stay_under_the_teams_limit() -> None:
    long_name = "N" * 255
    content = _content(
        summary="S" * consultations.MAX_SUMMARY_LENGTH,
        availability="A" * consultations.MAX_AVAILABILITY_LENGTH,
        line=_line(community_name="C" * 200, requester_name=long_name),
        suggested_name=long_name,
    )
    candidates = [
        consultations.Candidate(
            person=Person(id=n, teams_user_id=f"29:{n}", name=long_name),
            is_coordinator=False,
            matches=True,
            load=3,
            last_assigned_at=None,
            reason="expertise;open=3;last=never",
        )
        for n in range(30)
    ]
    card = build_request_card(content, locale="fr-CA", tz=TZ, context="new", candidates=candidates)
    assert _size(card) < MAX_CARD_BYTES
    many = [
        _line(id=n, community_name="C" * 200, requester_name=long_name, assignee_name=long_name)
        for n in range(60)
    ]
    for built in (
        build_my_requests_card(many, locale="fr-CA", tz=TZ),
        build_assigned_requests_card(many, many, [], locale="fr-CA", tz=TZ),
    ):
        assert _size(built) < MAX_CARD_BYTES
        assert "autres demandes ne sont pas affichées." in json.dumps(built, ensure_ascii=False)


def test_every_label_key_is_in_both_catalogs() -> None:
    keys = {
        value
        for name in dir(consultation_cards)
        if name.endswith("_KEYS")
        for value in (
            getattr(consultation_cards, name).values()
            if isinstance(getattr(consultation_cards, name), dict)
            else getattr(consultation_cards, name)
        )
    } | {"consultation.choose.volunteer", "consultation.choose.audit"}
    assert len(keys) > 50
    for language in ("fr", "en"):
        present = {str(m.id) for m in catalog(language) if m.id and m.string}
        assert keys - present == set(), language


# -- escalation over Quebec's statutory holidays, through the scheduler's job ------------------


def escalation_job(
    sessions: SessionFactory, clock: list[datetime], wakes: list[int], **overrides: Any
) -> Jobs:
    """The scheduler's own job, its settings read like at start, the clock frozen at clock[0]."""
    settings = make_settings(
        "sqlite+aiosqlite://",
        CARREFOUR_CONSULTATION_REMINDER_WORKING_DAYS=2,
        CARREFOUR_CONSULTATION_ESCALATION_WORKING_DAYS=5,
        **overrides,
    )
    return Jobs(
        jobs=REGISTRY.jobs,
        settings=settings,
        sessions=sessions,
        wake_dispatcher=lambda: wakes.append(1),
        clock=lambda: clock[0],
    )


async def test_a_request_made_before_good_friday_is_not_escalated_over_the_long_weekend(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    thursday = montreal(2026, 4, 2, 15)  # the day before Good Friday (Easter: 5 April 2026)
    request = await submitted(sessions, s, now=thursday)
    clock = [thursday]
    wakes: list[int] = []
    jobs = escalation_job(sessions, clock, wakes)

    async def run(moment: datetime) -> int:
        clock[0] = moment
        return cast(int, await jobs.run("escalate_consultations"))

    # Weekends only, Easter Monday 15:00 would be two working days (a reminder) and Thursday
    # 9 April five (the animators told). Good Friday and Easter Monday do not count.
    for moment in (
        montreal(2026, 4, 3, 16),
        montreal(2026, 4, 4, 12),
        montreal(2026, 4, 6, 15),
        montreal(2026, 4, 6, 23, 59),
        montreal(2026, 4, 7, 16),
        montreal(2026, 4, 8, 14, 59),
    ):
        assert await run(moment) == 0, moment
    assert {r.kind for r in await rows(sessions, OutboxMessage)} == {KIND_NEW}
    assert await run(montreal(2026, 4, 8, 15)) == 2  # Wednesday: two working days
    for moment in (montreal(2026, 4, 9, 15), montreal(2026, 4, 10, 16), montreal(2026, 4, 13, 14)):
        assert await run(moment) == 0, moment
    assert await run(montreal(2026, 4, 13, 15)) == 1  # Monday 13 April: five working days
    assert len(wakes) == 2
    assert queued_kinds(await rows(sessions, OutboxMessage)) == sorted(
        [
            (s.coordinator.id, KIND_REMINDER),
            (s.second_coordinator.id, KIND_REMINDER),
            (s.animator.id, KIND_WAITING),
        ]
    )
    assert await escalations(sessions) == REMINDED_THEN_ESCALATED
    await reminder_card(sessions, request)


async def test_the_extra_non_working_days_setting_delays_the_reminder(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    wednesday = montreal(2026, 12, 23, 10)
    await submitted(sessions, s, now=wednesday)
    clock = [wednesday]
    wakes: list[int] = []
    # The services close between Christmas and New Year's Day (1 January 2027 is a Friday).
    jobs = escalation_job(
        sessions,
        clock,
        wakes,
        CARREFOUR_EXTRA_NON_WORKING_DAYS="2026-12-28,2026-12-29,2026-12-30,2026-12-31",
    )

    async def run(moment: datetime) -> int:
        clock[0] = moment
        return cast(int, await jobs.run("escalate_consultations"))

    # Thursday 24 December is the first working day; Christmas, the weekend, the closure and
    # New Year's Day are not: the second is Monday 4 January.
    for moment in (montreal(2026, 12, 28, 10), montreal(2026, 12, 31, 12), montreal(2027, 1, 4, 9)):
        assert await run(moment) == 0, moment
    assert await run(montreal(2027, 1, 4, 10)) == 2
    assert await run(montreal(2027, 1, 6, 10)) == 0
    assert await run(montreal(2027, 1, 7, 10)) == 1
    assert await escalations(sessions) == REMINDED_THEN_ESCALATED
