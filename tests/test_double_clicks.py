"""No click doubled: two clicks at once (a double click, two people on one card, two replicas)
have one effect, and the second is told what happened, never apologised to.

- SQLite write transactions really take turns (`BEGIN IMMEDIATE`): two read-check-write
  transactions on one file run one after the other, with no "database is locked" and no lost
  update; read-only sessions and autocommit statements do not wait for writers.
- Each service's read-check-write, run twice at once on SQLite and on PostgreSQL, has one effect.
- Over HTTP (the fake connector), on both databases, clicks posted at once with
  `asyncio.gather`: RSVP, join, vote, attendance, taking a consultation request, proposing a
  mentor and accepting, a topic's +1. One effect; the second click is told what happened; no
  apology and no traceback in the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import RUNTIME, create_app
from cards.i18n import plural, translator
from storage import communities, consultations, meetings, mentoring, onboarding, polls, topics
from storage.communities import Profile
from storage.db import SessionFactory, autocommit, create_engine, session_factory, transaction
from storage.models import (
    Attendance,
    Community,
    ConsultationEvent,
    ConsultationRequest,
    ConsultationStatus,
    Meeting,
    Membership,
    MentorPairing,
    MentorRequest,
    OnboardingEnrollment,
    PairingStatus,
    Person,
    Poll,
    PollVote,
    Role,
    Rsvp,
    RsvpAnswer,
    Topic,
    TopicVote,
)
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.fake_connector import FakeConnector
from tests.support import Clock, card_actions, dispatcher, queued
from tests.test_communities import NEW_HIRE_ANSWERS, Chat, card_text

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")
NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
KEY = b"k" * 32


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with fresh_database("sqlite", tmp_path) as url:
        engine = create_engine(url)
        yield engine
        await engine.dispose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on a migrated database of each kind (SQLite file, PostgreSQL)."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def at_once(
    sessions: SessionFactory, *work: Callable[[AsyncSession], Awaitable[T]]
) -> list[T | BaseException]:
    """Each piece of work in its own transaction, all started together."""

    async def one(piece: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with transaction(sessions) as session:
            return await piece(session)

    return list(await asyncio.gather(*(one(piece) for piece in work), return_exceptions=True))


def no_errors(results: list[Any]) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors


async def count(sessions: SessionFactory, model: Any, *where: Any) -> int:
    async with sessions() as session:
        found = await session.exec(select(func.count()).select_from(model).where(*where))
        return int(found.one())


# -- SQLite transactions take turns ------------------------------------------------------------


async def test_two_read_check_write_transactions_on_sqlite_take_turns(
    sqlite_file: AsyncEngine,
) -> None:
    """Both read a value, wait, then write it changed: when the driver begins only at the first
    write, both read the same value (one update lost) or the second fails with "database is
    locked"; with BEGIN IMMEDIATE the second starts once the first has committed."""
    sessions = session_factory(sqlite_file)
    async with transaction(sessions) as session:
        person = await factories.person(session, 1)
        person.name = "x"
    order: list[str] = []

    async def append(session: AsyncSession, mark: str) -> None:
        row = await session.get(Person, _id(person))
        assert row is not None
        order.append(f"read {mark}")
        await asyncio.sleep(0.05)  # the other transaction starts meanwhile
        row.name = f"{row.name}{mark}"
        order.append(f"wrote {mark}")

    results = await at_once(sessions, lambda s: append(s, "a"), lambda s: append(s, "b"))
    no_errors(results)
    async with sessions() as session:
        stored = await session.get(Person, _id(person))
    assert stored is not None
    assert stored.name in ("xab", "xba")
    assert order in (
        ["read a", "wrote a", "read b", "wrote b"],
        ["read b", "wrote b", "read a", "wrote a"],
    )


async def test_readers_and_autocommit_statements_do_not_wait_for_a_writer(
    sqlite_file: AsyncEngine,
) -> None:
    """A read-only session (a card being rendered) and a one-statement autocommit write go on
    while a write transaction is open; the writer commits while the reader still reads."""
    sessions = session_factory(sqlite_file)
    async with transaction(sessions) as session:
        await factories.person(session, 1)
    async with sessions() as reader:
        assert len((await reader.exec(select(Person))).all()) == 1
        async with asyncio.timeout(5):  # busy_timeout is 30 s: waiting would show
            async with transaction(sessions) as writer:
                await factories.person(writer, 2)
            async with autocommit(sessions) as connection:
                await connection.execute(text("UPDATE person SET name = 'z' WHERE id = 1"))
        # The reader's transaction still sees the database as it first read it.
        assert len((await reader.exec(select(Person))).all()) == 1
    assert await count(sessions, Person) == 2


# -- this process's writers queue for SQLite's writer ---------------------------------------------


@pytest.fixture
async def impatient_sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite engine whose connections do not wait in SQLite's busy handler at all: a
    writer that reaches SQLite while another holds it fails at once ("database is locked")."""
    async with fresh_database("sqlite", tmp_path) as url:
        engine = create_engine(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=0")
            cursor.close()

        yield engine
        await engine.dispose()


async def test_writers_in_one_process_queue_for_sqlite_in_the_order_they_came(
    impatient_sqlite: AsyncEngine,
) -> None:
    """Concurrent turns each write: they wait in this process's queue (first come, first
    served, woken when the writer ahead commits), not in SQLite's busy handler, which sleeps
    up to 100 ms at a time and serves no one in order (bench.turns: waits of a second). With
    the busy handler off, a writer that reached SQLite while another held it would fail."""
    sessions = session_factory(impatient_sqlite)
    async with transaction(sessions) as session:
        await factories.person(session, 1)
    order: list[str] = []
    holding = asyncio.Event()
    done = asyncio.Event()

    async def first() -> None:
        async with transaction(sessions) as session:
            await session.execute(text("UPDATE person SET name = 'first' WHERE id = 1"))
            holding.set()
            await done.wait()  # the others arrive meanwhile
            order.append("first")

    async def then(mark: str) -> None:
        async with transaction(sessions) as session:
            await session.execute(text("UPDATE person SET name = :m WHERE id = 1"), {"m": mark})
            order.append(mark)

    async def reader() -> None:
        async with sessions() as session:  # reads never queue
            assert (await session.exec(select(func.count()).select_from(Person))).one() == 1
            order.append("reader")

    async with asyncio.timeout(10):
        holder = asyncio.create_task(first())
        await holding.wait()
        others: list[asyncio.Task[None]] = []
        arrivals: list[Callable[[], Coroutine[Any, Any, None]]] = [
            lambda: then("second"),
            lambda: then("third"),
            reader,
        ]
        for work in arrivals:
            others.append(asyncio.create_task(work()))
            # Each reaches its BEGIN in turn: getting a connection goes through the driver's
            # thread, so a loaded machine needs a moment (a single autocommit statement is left
            # out here: it lets the queue go before it runs, and SQLite's busy handler, off in
            # this test, is what makes it wait).
            await asyncio.sleep(0.2)
        done.set()
        results = await asyncio.gather(holder, *others, return_exceptions=True)
    no_errors(results)
    assert order == ["reader", "first", "second", "third"]
    async with sessions() as session:
        stored = await session.get(Person, 1)
    assert stored is not None
    assert stored.name == "third"


async def test_a_failed_write_gives_the_writer_back(impatient_sqlite: AsyncEngine) -> None:
    """A unit of work that fails (here on a unique key) rolls back and the next one goes on;
    so does one that was cancelled while it waited for its turn."""
    sessions = session_factory(impatient_sqlite)
    async with transaction(sessions) as session:
        await factories.person(session, 1)
    holding = asyncio.Event()
    done = asyncio.Event()

    async def fails() -> None:
        async with transaction(sessions) as session:
            holding.set()
            await done.wait()
            await session.execute(text("INSERT INTO person (id) SELECT id FROM person"))

    async def writes(name: str) -> None:
        async with transaction(sessions) as session:
            await session.execute(text("UPDATE person SET name = :n WHERE id = 1"), {"n": name})

    async with asyncio.timeout(10):
        failing = asyncio.create_task(fails())
        await holding.wait()
        cancelled = asyncio.create_task(writes("cancelled"))
        after = asyncio.create_task(writes("after"))
        await asyncio.sleep(0.02)
        cancelled.cancel()
        done.set()
        results = await asyncio.gather(failing, cancelled, after, return_exceptions=True)
    assert isinstance(results[0], IntegrityError)
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[2] is None
    async with sessions() as session:
        stored = await session.get(Person, 1)
    assert stored is not None
    assert stored.name == "after"


async def test_a_write_nested_in_its_own_unit_of_work_is_left_to_sqlite(
    impatient_sqlite: AsyncEngine,
) -> None:
    """A unit of work that writes through a second connection of its own cannot wait for
    itself in the queue: SQLite answers, as it did before the queue (here at once, its busy
    handler being off; 30 s otherwise), instead of the turn hanging forever."""
    sessions = session_factory(impatient_sqlite)
    async with transaction(sessions) as session:
        await factories.person(session, 1)

    async def nested() -> None:
        async with asyncio.timeout(10), transaction(sessions) as outer:
            await outer.execute(text("UPDATE person SET name = 'outer' WHERE id = 1"))
            async with autocommit(sessions) as connection:
                await connection.execute(text("UPDATE person SET name = 'inner' WHERE id = 1"))

    with pytest.raises(OperationalError, match="locked"):
        await nested()
    # The queue is free again.
    async with asyncio.timeout(10), transaction(sessions) as session:
        await session.execute(text("UPDATE person SET name = 'next' WHERE id = 1"))


# -- each service, twice at once, on both databases ---------------------------------------------


async def _community_with(
    session: AsyncSession, people: int, *roles: Role
) -> tuple[Community, list[Person]]:
    """A community and `people` members; the first ones get `roles` (one each)."""
    where = await factories.community(session)
    found = []
    for n in range(people):
        who = await factories.person(session, n + 1)
        row = await factories.member(session, who, where)
        if n < len(roles):
            row.roles = [Role.MEMBER.value, roles[n].value]
        found.append(who)
    await session.flush()
    return where, found


async def test_an_rsvp_given_twice_at_once_is_one_row(db: SessionFactory) -> None:
    async with transaction(db) as session:
        where, (who,) = await _community_with(session, 1)
        meeting = await factories.meeting(session, where, starts_at=NOW + timedelta(days=3))

    async def rsvp(session: AsyncSession) -> bool:
        _meeting, changed = await meetings.answer_rsvp(
            session, meeting_id=_id(meeting), person_id=_id(who), answer=RsvpAnswer.YES, now=NOW
        )
        return changed

    results = await at_once(db, rsvp, rsvp, rsvp)
    no_errors(results)
    assert sorted(results, key=bool) == [False, False, True]  # one click changed it
    assert await count(db, Rsvp) == 1


async def test_joining_twice_at_once_is_one_membership_and_one_enrollment(
    db: SessionFactory,
) -> None:
    async with transaction(db) as session:
        where = await factories.community(session)
        who = await factories.person(session, 1)
    profile = Profile(discipline="Travail social", establishment="CLSC", region="16")

    async def join(session: AsyncSession) -> tuple[str, bool]:
        community = await session.get(Community, _id(where))
        assert community is not None
        _row, outcome = await communities.join(
            session,
            person_id=_id(who),
            community_id=_id(where),
            profile=profile,
            consent_reminders=True,
            consent_surveys=True,
            now=NOW,
        )
        started = await onboarding.start(
            session, community=community, person_id=_id(who), source="join_dialog", now=NOW
        )
        return outcome.value, started

    results = await at_once(db, join, join, join)
    no_errors(results)
    assert sorted(map(str, results)) == [
        "('joined', True)",
        "('updated', False)",
        "('updated', False)",
    ]
    assert await count(db, Membership) == 1
    assert await count(db, OnboardingEnrollment) == 1


async def test_attendance_confirmed_twice_at_once_is_one_set_of_rows(db: SessionFactory) -> None:
    async with transaction(db) as session:
        where, people = await _community_with(session, 3, Role.ANIMATOR)
        meeting = await factories.meeting(session, where, starts_at=NOW - timedelta(days=1))
    present = [_id(p) for p in people[1:]]

    async def confirm(session: AsyncSession) -> bool:
        _meeting, changed = await meetings.confirm_attendance(
            session,
            meeting_id=_id(meeting),
            by_person_id=_id(people[0]),
            attendee_ids=present,
            now=NOW,
        )
        return changed

    results = await at_once(db, confirm, confirm)
    no_errors(results)
    assert sorted(results, key=bool) == [False, True]
    assert await count(db, Attendance) == 2


async def test_two_coordinators_taking_one_request_at_once_one_wins(db: SessionFactory) -> None:
    async with transaction(db) as session:
        where, (first, second, requester) = await _community_with(
            session, 3, Role.COORDINATOR, Role.COORDINATOR
        )
        request = ConsultationRequest(
            reference="C-2027-0001",
            community_id=_id(where),
            requester_id=_id(requester),
            motive="clinical",
            summary="Une situation",
            urgency="normal",
            modality="teams",
        )
        session.add(request)

    def take(by: Person) -> Callable[[AsyncSession], Awaitable[int]]:
        async def taking(session: AsyncSession) -> int:
            await consultations.assign(
                session, request_id=_id(request), actor_id=_id(by), assignee_id=_id(by), now=NOW
            )
            return _id(by)

        return taking

    results = await at_once(db, take(first), take(second))
    winners = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(refused) == 1
    assert isinstance(refused[0], consultations.WrongStatus)
    assert refused[0].assignee_id == winners[0]
    async with db() as session:
        stored = await session.get(ConsultationRequest, _id(request))
        events = await session.exec(
            select(func.count()).where(col(ConsultationEvent.action) == "assigned")
        )
        assigned_events = int(events.one())
    assert stored is not None
    assert (stored.status, stored.assignee_id) == (ConsultationStatus.ASSIGNED, winners[0])
    assert assigned_events == 1


async def _mentoring_world(
    session: AsyncSession,
) -> tuple[MentorRequest, list[Person], list[Person]]:
    """Two coordinators, two volunteer mentors and a mentee with an open request."""
    where, people = await _community_with(
        session, 5, Role.COORDINATOR, Role.COORDINATOR, Role.MENTOR, Role.MENTOR
    )
    for mentor in people[2:4]:
        row = await communities.membership(session, person_id=_id(mentor), community_id=_id(where))
        assert row is not None
        row.mentor_capacity = 2
    request = MentorRequest(community_id=_id(where), mentee_id=_id(people[4]))
    session.add(request)
    await session.flush()
    return request, people[:2], people[2:4]


@pytest.mark.parametrize("same_mentor", [True, False])
async def test_two_coordinators_proposing_at_once_make_one_proposal(
    db: SessionFactory, same_mentor: bool
) -> None:
    async with transaction(db) as session:
        request, (first, second), mentors = await _mentoring_world(session)
    chosen = [mentors[0], mentors[0] if same_mentor else mentors[1]]

    def propose(by: Person, mentor: Person) -> Callable[[AsyncSession], Awaitable[int]]:
        async def proposing(session: AsyncSession) -> int:
            pairing = await mentoring.confirm(
                session,
                request_id=_id(request),
                mentor_id=_id(mentor),
                confirmed_by_id=_id(by),
                now=NOW,
            )
            return _id(pairing)

        return proposing

    results = await at_once(db, propose(first, chosen[0]), propose(second, chosen[1]))
    assert await count(db, MentorPairing) == 1
    if same_mentor:
        no_errors(results)
        assert results[0] == results[1]  # the same proposal, made once
    else:
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(refused) == 1
        assert isinstance(refused[0], mentoring.AlreadyProposed)


async def test_a_proposal_accepted_twice_at_once_is_one_pairing(db: SessionFactory) -> None:
    async with transaction(db) as session:
        request, (coordinator, _other), (mentor, _second) = await _mentoring_world(session)
        pairing = await mentoring.confirm(
            session,
            request_id=_id(request),
            mentor_id=_id(mentor),
            confirmed_by_id=_id(coordinator),
            now=NOW,
        )

    async def accept(session: AsyncSession) -> PairingStatus:
        answered = await mentoring.answer(
            session, pairing_id=_id(pairing), mentor_id=_id(mentor), accept=True, now=NOW
        )
        return PairingStatus(answered.status)

    results = await at_once(db, accept, accept)
    no_errors(results)
    assert results == [PairingStatus.ACTIVE, PairingStatus.ACTIVE]
    assert (await count(db, MentorPairing, col(MentorPairing.status) == PairingStatus.ACTIVE)) == 1


async def test_a_topic_supported_twice_at_once_has_one_vote(db: SessionFactory) -> None:
    async with transaction(db) as session:
        where, (who,) = await _community_with(session, 1)
        topic = Topic(community_id=_id(where), title="Le deuil blanc", proposed_by_id=_id(who))
        session.add(topic)

    async def support(session: AsyncSession) -> bool:
        return await topics.support(session, topic_id=_id(topic), person_id=_id(who), wanted=True)

    results = await at_once(db, support, support)
    no_errors(results)
    assert sorted(results, key=bool) == [False, True]  # the second changed nothing
    assert await count(db, TopicVote) == 1


async def test_a_ballot_cast_twice_at_once_is_one_ballot(db: SessionFactory) -> None:
    async with transaction(db) as session:
        where, (who,) = await _community_with(session, 1)
        poll = Poll(
            community_id=_id(where),
            question="Quelle date ?",
            options=["Mardi", "Jeudi"],
            closes_at=NOW + timedelta(days=5),
        )
        session.add(poll)

    async def vote(session: AsyncSession) -> None:
        await polls.vote(
            session, poll_id=_id(poll), person_id=_id(who), choices=[1], key=KEY, now=NOW
        )

    no_errors(await at_once(db, vote, vote))
    assert await count(db, PollVote) == 1


# -- over HTTP: what the people who clicked read -------------------------------------------------

CHANNEL = "19:channel@thread.tacv2"  # tests.activities.message's channel and team
TEAM = "19:team@thread.tacv2"
fr = translator("fr-CA")
APOLOGIES = {translator(language)("error.apology") for language in ("fr-CA", "en-US")}


def sender(who: Person) -> dict[str, Any]:
    return {"id": who.teams_user_id, "name": who.name, "aadObjectId": who.aad_object_id}


@dataclass
class World:
    """A community bound to the channel (its agenda card posted there), over HTTP: an animator
    who coordinates, a second coordinator, two volunteer mentors, a member, and a newcomer."""

    client: Client
    connector: FakeConnector
    community: Community
    animator: Person
    coordinator: Person
    mentors: list[Person]
    member: Person
    newcomer: Person
    meeting: Meeting

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.client.app[RUNTIME].sessions
        return sessions

    def chat(self, who: Person) -> Chat:
        return Chat(self.client, self.connector, sender(who))

    def texts(self) -> list[str]:
        return self.connector.texts()

    def told(self, key: str, **values: Any) -> int:
        """How many replies said this catalog message (in French)."""
        return self.texts().count(fr(key, **values))


@pytest.fixture
def traveller() -> Iterator[None]:
    # The flows read the clock: the tests' own, whatever today's date.
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
        people = [await factories.person(session, n) for n in range(1, 7)]
        animator, coordinator, first_mentor, second_mentor, member, newcomer = people
        roles = {
            _id(animator): [Role.ANIMATOR, Role.COORDINATOR],
            _id(coordinator): [Role.COORDINATOR],
            _id(first_mentor): [Role.MENTOR],
            _id(second_mentor): [Role.MENTOR],
            _id(member): [],
        }
        for who in people[:5]:
            row = await factories.member(session, who, where)
            row.roles = [Role.MEMBER.value, *(role.value for role in roles[_id(who)])]
            if Role.MENTOR in roles[_id(who)]:
                row.mentor_capacity = 2
        posted = await factories.channel(session, service_url=connector.url)
        posted.conversation_id = CHANNEL
        meeting = await factories.meeting(session, where, starts_at=NOW + timedelta(days=10))
        meeting.conversation_ref_id = posted.id
        meeting.activity_id = "agenda-card"
    try:
        yield World(
            client,
            connector,
            where,
            animator,
            coordinator,
            [first_mentor, second_mentor],
            member,
            newcomer,
            meeting,
        )
    finally:
        await client.close()


async def post(client: Client, activity: dict[str, Any]) -> None:
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201), await response.text()


async def at_the_same_time(*clicks: Awaitable[None]) -> None:
    await asyncio.gather(*clicks)


def no_apology(w: World, caplog: pytest.LogCaptureFixture) -> None:
    assert not APOLOGIES & set(w.texts()), w.texts()
    assert fr("turn.busy") not in w.texts()
    failed = [r.getMessage() for r in caplog.records if r.exc_info]
    assert not failed, failed


@pytest.mark.parametrize("elsewhere", [False, True], ids=["same card", "card and reminder"])
async def test_a_double_rsvp_is_one_answer_one_card_update_and_one_confirmation(
    world: World, caplog: pytest.LogCaptureFixture, elsewhere: bool
) -> None:
    """Twice « Présent·e » at once: on the channel's agenda card, or on it and on the reminder
    in the personal chat (another conversation, so the two turns really run side by side)."""
    w = world
    click = {"verb": "meetings.rsvp", "meeting_id": _id(w.meeting), "answer": "yes"}
    chat = w.chat(w.member)
    in_channel = (True, elsewhere)
    await at_the_same_time(*(chat.click(click, channel=where) for where in in_channel))
    no_apology(w, caplog)
    assert await count(w.sessions, Rsvp) == 1
    # In the channel the card updating is the answer (no public « C'est noté »); only a click
    # in the personal chat is answered, saved or already counted depending on which ran first.
    answered = w.told("agenda.rsvp_saved.yes") + w.told("agenda.rsvp_already.yes")
    assert answered == in_channel.count(False)
    await dispatcher(w.client.app[RUNTIME], Clock(NOW + timedelta(minutes=1))).dispatch_once()
    (update,) = [r for r in w.connector.received if r.method == "PUT"]
    assert update.path.endswith("/activities/agenda-card")
    assert "Présent·e (1)" in card_text(update.body["attachments"][0]["content"])


@pytest.mark.parametrize("also", ["confirmation", "team join"])
async def test_a_double_join_is_one_membership_one_enrollment_one_welcome(
    world: World, caplog: pytest.LogCaptureFixture, also: str
) -> None:
    """The join dialog's « Confirmer » sent twice at once, or sent while Teams says the person
    was added to the community's team (another conversation: the turns run side by side)."""
    w = world
    chat = w.chat(w.newcomer)
    await chat.say("rejoindre")
    for answer in NEW_HIRE_ANSWERS[:-1]:
        await chat.say(answer)
    confirm = NEW_HIRE_ANSWERS[-1]
    if also == "confirmation":
        await at_the_same_time(chat.say(confirm), chat.say(confirm))
    else:
        added = message(None, service_url=w.connector.url, conversation_type="channel")
        added.update(type="conversationUpdate", membersAdded=[sender(w.newcomer)])
        await at_the_same_time(chat.say(confirm), post(w.client, added))
    no_apology(w, caplog)
    mine = col(Membership.person_id) == _id(w.newcomer)
    assert await count(w.sessions, Membership, mine) == 1
    assert await count(w.sessions, OnboardingEnrollment) == 1
    steps = [m.dedup_key for m in await queued(w.sessions) if m.kind == "onboarding_step"]
    assert len(steps) == len(set(steps)) == len(onboarding.STEPS)
    welcomed = w.told("join.joined_newcomer", community=w.community.name)
    if also == "confirmation":
        assert welcomed == 1
        assert w.told("dialog.already_sent") == 1
    else:  # whichever came first welcomes (the dialog, or the plan's first step)
        assert welcomed + w.told("join.updated", community=w.community.name) == 1


async def test_a_double_vote_is_one_ballot(world: World, caplog: pytest.LogCaptureFixture) -> None:
    w = world
    async with transaction(w.sessions) as session:
        poll = Poll(
            community_id=_id(w.community),
            question="Quelle date ?",
            options=["Mardi", "Jeudi"],
            closes_at=NOW + timedelta(days=5),
            created_by_id=_id(w.animator),
        )
        session.add(poll)
    click = {"verb": "polls.vote", "poll_id": _id(poll), "choice": "1"}
    chat = w.chat(w.member)
    await at_the_same_time(chat.click(click, channel=True), chat.click(click, channel=True))
    no_apology(w, caplog)
    async with w.sessions() as session:
        ballots = (await session.exec(select(PollVote))).all()
    assert [b.choices for b in ballots] == [[1]]


async def test_a_double_attendance_submission_is_one_set_of_rows(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    async with transaction(w.sessions) as session:
        past = await factories.meeting(session, w.community, starts_at=NOW - timedelta(days=1))
    present = [w.member, *w.mentors]
    click = {
        "verb": "meetings.attendance",
        "meeting_id": _id(past),
        **{f"present_{_id(who)}": "true" for who in present},
        f"present_{_id(w.coordinator)}": "false",
    }
    chat = w.chat(w.animator)
    await at_the_same_time(chat.click(click), chat.click(click))
    no_apology(w, caplog)
    async with w.sessions() as session:
        rows = (await session.exec(select(Attendance))).all()
    assert sorted(a.person_id for a in rows) == sorted(_id(who) for who in present)
    assert w.texts().count(plural("fr-CA", "attendance.saved", 3)) == 1
    assert w.texts().count(plural("fr-CA", "attendance.unchanged", 3)) == 1


async def test_two_coordinators_taking_one_request_one_has_it_the_other_is_told_who(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    async with transaction(w.sessions) as session:
        request = ConsultationRequest(
            reference="C-2027-0001",
            community_id=_id(w.community),
            requester_id=_id(w.member),
            motive="clinical",
            summary="Une situation à discuter",
            urgency="normal",
            modality="teams",
        )
        session.add(request)
    click = {"verb": "consultations.take", "request_id": _id(request)}
    first, second = w.chat(w.animator), w.chat(w.coordinator)
    await at_the_same_time(first.click(click), second.click(click))
    no_apology(w, caplog)
    async with w.sessions() as session:
        stored = await session.get(ConsultationRequest, _id(request))
    assert stored is not None
    assert stored.status == ConsultationStatus.ASSIGNED
    winner, loser = (
        (w.animator, w.coordinator)
        if stored.assignee_id == _id(w.animator)
        else (w.coordinator, w.animator)
    )
    assert stored.assignee_id == _id(winner)
    assert w.connector.texts(f"a:personal-{winner.teams_user_id}") == [
        fr("consultation.take.done", reference="C-2027-0001")
    ]
    assert w.connector.texts(f"a:personal-{loser.teams_user_id}") == [
        fr("consultation.already_taken", name=winner.name)
    ]
    taken = [m for m in await queued(w.sessions) if m.kind == "consultation_taken"]
    assert [m.person_id for m in taken] == [_id(w.member)]


@pytest.mark.parametrize("same_mentor", [True, False], ids=["same mentor", "two mentors"])
async def test_two_coordinators_proposing_a_mentor_at_once_make_one_proposal(
    world: World, caplog: pytest.LogCaptureFixture, same_mentor: bool
) -> None:
    w = world
    async with transaction(w.sessions) as session:
        request = MentorRequest(community_id=_id(w.community), mentee_id=_id(w.member))
        session.add(request)
    chosen = [w.mentors[0], w.mentors[0] if same_mentor else w.mentors[1]]
    first, second = w.chat(w.animator), w.chat(w.coordinator)
    await at_the_same_time(
        *(
            chat.click(
                {"verb": "mentoring.confirm", "request_id": _id(request), "mentor_id": _id(m)}
            )
            for chat, m in zip((first, second), chosen, strict=True)
        )
    )
    no_apology(w, caplog)
    async with w.sessions() as session:
        (pairing,) = (await session.exec(select(MentorPairing))).all()
    proposed = next(m for m in w.mentors if _id(m) == pairing.mentor_id)
    assert w.told("mentoring.confirm.sent", mentor=proposed.name) == 1
    assert w.told("mentoring.confirm.already_proposed", mentor=proposed.name) == 1
    proposals = [m for m in await queued(w.sessions) if m.kind == "mentoring_proposal"]
    assert [m.person_id for m in proposals] == [pairing.mentor_id]


async def test_a_double_acceptance_is_one_pairing_and_one_agreement(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    mentor = w.mentors[0]
    async with transaction(w.sessions) as session:
        request = MentorRequest(community_id=_id(w.community), mentee_id=_id(w.member))
        session.add(request)
        await session.flush()
        pairing = await mentoring.confirm(
            session,
            request_id=_id(request),
            mentor_id=_id(mentor),
            confirmed_by_id=_id(w.animator),
            now=NOW,
        )
    click = {"verb": "mentoring.accept", "pairing_id": _id(pairing)}
    chat = w.chat(mentor)
    await at_the_same_time(chat.click(click), chat.click(click))
    no_apology(w, caplog)
    async with w.sessions() as session:
        stored = await session.get(MentorPairing, _id(pairing))
    assert stored is not None
    assert stored.status == PairingStatus.ACTIVE
    assert w.told("mentoring.proposal.accepted", mentee=w.member.name) == 1
    assert w.told("mentoring.proposal.already_accepted", mentee=w.member.name) == 1
    agreements = [m for m in await queued(w.sessions) if m.kind == "mentoring_agreement"]
    assert sorted(m.person_id or 0 for m in agreements) == sorted([_id(mentor), _id(w.member)])


async def test_a_second_click_on_a_topic_s_support_is_one_vote(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    async with transaction(w.sessions) as session:
        topic = Topic(
            community_id=_id(w.community), title="Le deuil blanc", proposed_by_id=_id(w.animator)
        )
        session.add(topic)
    chat = w.chat(w.member)
    await chat.click({"verb": "topics.show", "community_id": _id(w.community)})
    (support,) = [a for a in card_actions(chat.last_card()) if a["data"]["verb"] == "topics.vote"]
    assert support["title"] == "+1"
    await at_the_same_time(chat.click(support["data"]), chat.click(support["data"]))
    no_apology(w, caplog)
    assert await count(w.sessions, TopicVote) == 1
    assert w.told("topics.vote.already_supported") == 1
