"""Codevelopment groups: the rotation's fairness over many sessions and swaps, invitations and
the closed group, the step card driven by the facilitator only (timed on a frozen clock), the
privacy of plans and learning notes, reminders and the follow-up sent once, erasure and export,
in French and English."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import col, select

from bot.codevelopment_flow import CODEV_RENDERERS, enqueue_reminders
from bot.settings import Settings
from storage import codevelopment as codev
from storage import outbox
from storage.codevelopment import (
    KIND_FOLLOWUP,
    KIND_INVITATION,
    KIND_LEARNING,
    KIND_PLAN,
    KIND_REMINDER,
    GroupClosed,
    GroupDraft,
    GroupFull,
    SeriesDraft,
    is_fair,
    propose_clients,
    swapped,
)
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import (
    CodevGroupStatus,
    CodevPrivateNote,
    CodevSeat,
    CodevSession,
    Community,
    Person,
    Role,
)
from tests import factories
from tests.conftest import make_settings
from tests.support import START, Clock, FeatureBot, card_content, press, queued, render_context


def _value(context: TurnContext) -> dict[str, Any]:
    value = context.activity.value
    assert isinstance(value, dict)
    return value


# -- the rotation (pure) -------------------------------------------------------------------------


def test_every_member_is_client_once_before_anyone_twice() -> None:
    members = [11, 12, 13, 14, 15, 16, 17]
    clients = propose_clients(members, [], 15)
    assert clients[:7] == members
    assert sorted(c for c in clients[7:14] if c is not None) == members
    assert is_fair(members, clients)
    assert not is_fair(members, [11, 11, 12])


def test_the_rotation_stays_fair_over_many_sessions_and_swaps() -> None:
    """Property-like: random groups, series and swap attempts; a swap is kept only when
    `is_fair` accepts it, and every series ever kept is fair."""
    rng = random.Random(20261203)
    for _ in range(400):
        members = list(range(1, rng.randint(6, 8) + 1))
        clients = propose_clients(members, [], rng.randint(1, 20))
        assert is_fair(members, clients)
        done = rng.randint(0, len(clients) - 1)
        for _ in range(10):
            index = rng.randint(done, len(clients) - 1)
            volunteer = rng.choice(members)
            if volunteer == clients[index]:
                continue
            after = swapped(clients, index, volunteer, list(range(done, len(clients))))
            assert after is not None
            if is_fair(members, after):
                clients = after
            assert is_fair(members, clients)
        # Later sessions proposed after the swaps keep the rule.
        more = propose_clients(members, clients, len(members))
        assert is_fair(members, [*clients, *more])


def test_a_swap_within_the_round_exchanges_the_turns() -> None:
    members = [1, 2, 3, 4, 5, 6]
    clients: list[int | None] = list(members)
    after = swapped(clients, 0, 3, range(6))
    assert after == [3, 2, 1, 4, 5, 6]
    assert is_fair(members, after)


# -- storage and the bot, on SQLite and PostgreSQL ----------------------------------------------


async def _people(sessions: SessionFactory, n: int) -> tuple[Community, Person, list[Person]]:
    """A community, its coordinator (who facilitates) and `n` members (English for the last)."""
    async with transaction(sessions) as session:
        where = await factories.community(session)
        coordinator = await factories.person(session, 1)
        row = await factories.member(session, coordinator, where)
        row.roles = [Role.MEMBER.value, Role.COORDINATOR.value]
        people = []
        for i in range(n):
            who = await factories.person(session, 10 + i, locale="en" if i == n - 1 else "fr-CA")
            await factories.member(session, who, where)
            people.append(who)
    return where, coordinator, people


async def _group(
    sessions: SessionFactory, where: Community, coordinator: Person, people: list[Person]
) -> int:
    assert where.id
    assert coordinator.id
    async with transaction(sessions) as session:
        group, created = await codev.create_group(
            session,
            draft=GroupDraft(where.id, "Codev OC Montérégie", coordinator.id, seats=6),
            created_by_id=coordinator.id,
            request_key="form-1",
            now=START,
        )
        assert created
        assert group.id
        again, created = await codev.create_group(
            session,
            draft=GroupDraft(where.id, "Codev OC Montérégie", coordinator.id, seats=6),
            created_by_id=coordinator.id,
            request_key="form-1",
            now=START,
        )
        assert again.id == group.id
        assert not created
        await codev.invite(
            session,
            group_id=group.id,
            person_ids=[p.id or 0 for p in people],
            by_id=coordinator.id,
            now=START,
        )
    return group.id


@pytest.fixture
async def sessions(database_url: str) -> Any:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


async def test_invitations_seats_and_the_closed_group(sessions: SessionFactory) -> None:
    where, coordinator, people = await _people(sessions, 8)
    group_id = await _group(sessions, where, coordinator, people)
    async with transaction(sessions) as session:
        for who in people[:6]:
            _seat, changed = await codev.answer_invitation(
                session, group_id=group_id, person_id=who.id or 0, accept=True, now=START
            )
            assert changed
        # A double click changes nothing; a seventh acceptance finds the group full.
        assert not (
            await codev.answer_invitation(
                session, group_id=group_id, person_id=people[0].id or 0, accept=True, now=START
            )
        )[1]
    with pytest.raises(GroupFull):
        async with transaction(sessions) as session:
            await codev.answer_invitation(
                session, group_id=group_id, person_id=people[6].id or 0, accept=True, now=START
            )
    async with transaction(sessions) as session:
        planned, created = await codev.plan_series(
            session,
            group_id=group_id,
            by_id=coordinator.id or 0,
            draft=SeriesDraft(START + timedelta(days=10), 6, place="CLSC de Longueuil"),
            now=START,
        )
        assert created
        assert len(planned) == 6
        assert [s.starts_at - planned[0].starts_at for s in planned[:2]] == [
            timedelta(0),
            timedelta(weeks=6),
        ]
        assert {s.client_id for s in planned} == {p.id for p in people[:6]}
    # Closed: no invitation, no late acceptance (the pending one lapsed).
    with pytest.raises(GroupClosed):
        async with transaction(sessions) as session:
            await codev.invite(
                session,
                group_id=group_id,
                person_ids=[people[7].id or 0],
                by_id=coordinator.id or 0,
                now=START,
            )
    with pytest.raises(GroupClosed):
        async with transaction(sessions) as session:
            await codev.answer_invitation(
                session, group_id=group_id, person_id=people[7].id or 0, accept=True, now=START
            )
    async with sessions() as session:
        group = await codev.get_group(session, group_id=group_id)
        assert group is not None
        assert group.status == CodevGroupStatus.STARTED


async def test_a_name_with_client_identifiers_is_refused_unless_confirmed(
    sessions: SessionFactory,
) -> None:
    """Only a person's name may be confirmed as no client's; a postal code never."""
    where, coordinator, _ = await _people(sessions, 1)

    async def create(name: str, *, confirmed: bool) -> int | None:
        async with transaction(sessions) as session:
            draft = GroupDraft(where.id or 0, name, coordinator.id or 0, confirmed=confirmed)
            group, _ = await codev.create_group(
                session, draft=draft, created_by_id=coordinator.id or 0, request_key=None, now=START
            )
            return group.id

    for confirmed in (False, True):
        with pytest.raises(HasIdentifiers):
            await create("Groupe H2X 1Y4", confirmed=confirmed)
    with pytest.raises(HasIdentifiers):
        await create("Groupe de Jean-Guy Tremblay", confirmed=False)
    assert await create("Groupe de Jean-Guy Tremblay", confirmed=True)


async def _started(
    sessions: SessionFactory,
) -> tuple[int, list[CodevSession], Person, list[Person]]:
    where, coordinator, people = await _people(sessions, 6)
    group_id = await _group(sessions, where, coordinator, people)
    async with transaction(sessions) as session:
        for who in people:
            await codev.answer_invitation(
                session, group_id=group_id, person_id=who.id or 0, accept=True, now=START
            )
        planned, _ = await codev.plan_series(
            session,
            group_id=group_id,
            by_id=coordinator.id or 0,
            draft=SeriesDraft(START + timedelta(days=10), 6),
            now=START,
        )
    return group_id, planned, coordinator, people


@pytest.mark.parametrize("locale", ["fr-CA", "en"])
async def test_the_facilitator_drives_the_steps_timed_and_only_once(
    sessions: SessionFactory, settings: Settings, locale: str
) -> None:
    group_id, planned, facilitator, people = await _started(sessions)
    first = planned[0]
    client_id = first.client_id
    bot = FeatureBot(sessions)
    clock = Clock(first.starts_at)

    async def step(who: Person, expected: int) -> list[str]:
        context = bot.message(
            {"verb": "codevelopment.step", "session_id": first.id, "step": expected},
            channel=True,
            conversation_id="19:codev@thread.tacv2",
        )
        context.activity.reply_to_id = "session-card"  # the card is updated in place
        assert await press(
            context,
            _value(context),
            sessions=sessions,
            settings=settings,
            info=bot.info(who, locale, channel=True),
            clock=clock,
        )
        return [a.text or json.dumps(card_content(a.attachments[0])) for a in bot.replies()]

    # A member's forged click changes nothing.
    said = await step(people[1], 0)
    assert ("Seule la personne qui anime" if locale == "fr-CA" else "Only this group") in said[0]
    async with sessions() as session:
        row = await codev.get_session(session, session_id=first.id or 0)
        assert row is not None
        assert row.step == 0
    for expected, minutes in enumerate((0, 15, 25, 10, 50, 20, 30)):
        clock.advance(minutes=minutes)
        await step(facilitator, expected)
    # A double click on the last button, and a stale card: nothing moves twice.
    said = await step(facilitator, 6)
    assert ("déjà avancé" if locale == "fr-CA" else "already moved on") in said[-1]
    async with sessions() as session:
        row = await codev.get_session(session, session_id=first.id or 0)
        assert row is not None
        assert row.step == codev.FINISHED_STEP
        assert len(row.step_started) == 7
        times = codev.step_times(row, now=clock.now)
        assert [t.spent_minutes for t in times] == [15, 25, 10, 50, 20, 30]
    card = bot.adapter.updated_activities[-1].attachments[0].content
    text = json.dumps(card, ensure_ascii=False)
    assert (
        "Synthèse et plan d’action" if locale == "fr-CA" else "Synthesis and action plan"
    ) in text
    assert ("durée\u00a0: 50\u00a0minutes" if locale == "fr-CA" else "took 50 minutes") in text
    # Step 5 queued the client's private plan once, step 6 everyone's learning notes, the end
    # the follow-up two weeks later.
    rows = await queued(sessions)
    plans = [r for r in rows if r.kind == KIND_PLAN]
    assert [(r.person_id) for r in plans] == [client_id]
    learning = [r for r in rows if r.kind == KIND_LEARNING]
    assert {r.person_id for r in learning} == {*(p.id for p in people), facilitator.id}
    followups = [r for r in rows if r.kind == KIND_FOLLOWUP]
    assert len(followups) == 1
    assert followups[0].person_id == client_id
    assert followups[0].not_before == first.starts_at + timedelta(minutes=150) + timedelta(days=14)
    del group_id


async def test_plans_and_learning_notes_stay_private(sessions: SessionFactory) -> None:
    _group_id, planned, facilitator, people = await _started(sessions)
    first = planned[0]
    client_id = first.client_id or 0
    other = next(p for p in people if p.id != client_id)
    async with transaction(sessions) as session:
        for expected in range(codev.STEP_PLAN):
            await codev.advance(
                session,
                session_id=first.id or 0,
                by_id=facilitator.id or 0,
                expected_step=expected,
                now=START,
            )
        await codev.save_note(
            session,
            session_id=first.id or 0,
            person_id=client_id,
            kind=codev.NOTE_PLAN,
            text="Rencontrer la table de quartier",
            now=START,
        )
    # Nobody but the client writes or reads the plan.
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await codev.save_note(
                session,
                session_id=first.id or 0,
                person_id=other.id or 0,
                kind=codev.NOTE_PLAN,
                text="x",
                now=START,
            )
    async with sessions() as session:
        assert (
            await codev.own_note(
                session, session_id=first.id or 0, person_id=other.id or 0, kind=codev.NOTE_PLAN
            )
            is None
        )
    # The plan card rendered for the client shows their text; for anyone else, nothing.
    async with transaction(sessions) as session:
        await outbox.enqueue(
            session,
            dedup_key=codev.plan_key(first.id or 0, client_id),
            recipient=outbox.Recipient.person(client_id),
            kind=KIND_PLAN,
            params={"session_id": first.id},
        )
    rows = [r for r in await queued(sessions) if r.kind == KIND_PLAN]
    mine = await CODEV_RENDERERS[KIND_PLAN](render_context(sessions, rows[0]))
    assert mine is not None
    assert "table de quartier" in json.dumps(mine.attachments[0].content)
    forged = rows[0].model_copy(update={"person_id": other.id})
    assert await CODEV_RENDERERS[KIND_PLAN](render_context(sessions, forged)) is None


async def test_reminders_go_out_once(sessions: SessionFactory) -> None:
    _group_id, planned, facilitator, people = await _started(sessions)
    first = planned[0]
    clock = Clock(first.starts_at - timedelta(days=7))
    assert await enqueue_reminders(sessions=sessions, now=clock.now) == 7
    assert await enqueue_reminders(sessions=sessions, now=clock.now) == 0
    clock.advance(days=6)
    assert await enqueue_reminders(sessions=sessions, now=clock.now) == 7
    clock.advance(minutes=1)
    assert await enqueue_reminders(sessions=sessions, now=clock.now) == 0
    rows = [r for r in await queued(sessions) if r.kind == KIND_REMINDER]
    assert len(rows) == 14
    to_client = next(r for r in rows if r.person_id == first.client_id)
    activity = await CODEV_RENDERERS[KIND_REMINDER](
        render_context(sessions, to_client, now=clock.now)
    )
    assert activity is not None
    assert "Vous êtes la personne cliente" in json.dumps(
        activity.attachments[0].content, ensure_ascii=False
    )
    del facilitator, people


async def test_invitation_buttons_in_french_and_english(
    sessions: SessionFactory, settings: Settings
) -> None:
    where, coordinator, people = await _people(sessions, 2)
    group_id = await _group(sessions, where, coordinator, [])
    bot = FeatureBot(sessions)
    ids = ",".join(str(p.id) for p in people)
    for _click in range(2):  # a double click invites once
        context = bot.message(
            {"verb": "codevelopment.invite", "group_id": group_id, "person_ids": ids}
        )
        await press(
            context,
            _value(context),
            sessions=sessions,
            settings=settings,
            info=bot.info(coordinator),
        )
    assert [a.text for a in bot.replies() if a.text] == [
        "Invitations envoyées\u00a0: 2.",
        "Invitations envoyées\u00a0: 0.",
    ]
    rows = [r for r in await queued(sessions) if r.kind == KIND_INVITATION]
    assert {r.person_id for r in rows} == {p.id for p in people}
    english = people[-1]
    card = await CODEV_RENDERERS[KIND_INVITATION](
        render_context(sessions, next(r for r in rows if r.person_id == english.id), locale="en")
    )
    assert card is not None
    assert "I accept" in json.dumps(card.attachments[0].content)
    for who, locale, expected in ((people[0], "fr-CA", "Bienvenue"), (english, "en", "Welcome")):
        context = bot.message({"verb": "codevelopment.accept", "group_id": group_id})
        await press(
            context,
            _value(context),
            sessions=sessions,
            settings=settings,
            info=bot.info(who, locale),
        )
        assert expected in (bot.replies()[0].text or "")
    # A forged answer for a group one was not invited to changes nothing.
    outsider = coordinator
    context = bot.message({"verb": "codevelopment.decline", "group_id": group_id})
    await press(
        context,
        _value(context),
        sessions=sessions,
        settings=settings,
        info=bot.info(outsider),
    )
    assert "n’est pas à votre nom" in (bot.replies()[0].text or "")


async def test_erasure_removes_notes_and_seat_and_export_has_them(
    sessions: SessionFactory,
) -> None:
    _group_id, planned, facilitator, people = await _started(sessions)
    first = planned[0]
    client_id = first.client_id or 0
    async with transaction(sessions) as session:
        for expected in range(codev.STEP_PLAN):
            await codev.advance(
                session,
                session_id=first.id or 0,
                by_id=facilitator.id or 0,
                expected_step=expected,
                now=START,
            )
        await codev.save_note(
            session,
            session_id=first.id or 0,
            person_id=client_id,
            kind=codev.NOTE_PLAN,
            text="Mon plan",
            now=START,
        )
    async with sessions() as session:
        exported = await codev.export_person(session, person_id=client_id)
    assert exported["private_notes"][0]["text"] == "Mon plan"
    # The second session's client is erased: their turn goes to the remaining members, fairly.
    second = planned[1].client_id or 0
    async with transaction(sessions) as session:
        await codev.erase_person(session, person_id=client_id)
        await codev.erase_person(session, person_id=second)
    async with sessions() as session:
        notes = (await session.exec(select(CodevPrivateNote))).all()
        assert notes == []
        seats = (
            await session.exec(select(CodevSeat).where(col(CodevSeat.person_id) == second))
        ).all()
        assert seats == []
        series = await codev.sessions_of(session, group_id=planned[0].group_id)
        assert all(s.client_id != second for s in series)
        members = await codev.member_ids(session, group_id=planned[0].group_id)
        assert is_fair(members, [s.client_id for s in series])
    del people
