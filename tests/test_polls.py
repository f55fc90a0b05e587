"""Polls: who may create, vote and close; ballots (one per person, changeable, anonymous);
results; the scheduler's closing; the bot glue over a TestAdapter; the cards in fr and en."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.deliveries import RenderContext
from bot.features.polls import FEATURE as POLLS
from bot.polls_flow import (
    FORM_ERROR_KEYS,
    POLL_RENDERERS,
    VOTE_ERROR_KEYS,
    close_expired_polls,
    form_problems,
    on_poll_command,
    option_lines,
    parse_choices,
)
from bot.settings import Settings
from cards.common import CARD_VERSION, MAX_CARD_BYTES, Element
from cards.i18n import LANGUAGES, catalog
from cards.polls import (
    PollForm,
    build_poll_card,
    build_poll_form_card,
    build_poll_results_card,
    result_bar,
)
from dialogs.context import TurnInfo
from storage import polls
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    Community,
    ConversationRef,
    Membership,
    Person,
    Poll,
    PollStatus,
    PollVote,
    Role,
    Topic,
    TopicStatus,
)
from storage.outbox import Claimed
from storage.polls import (
    KIND_CARD,
    KIND_RESULTS,
    InvalidChoice,
    InvalidPoll,
    PollClosed,
    PollResults,
)
from storage.secrets import derive
from tests import factories
from tests.activities import BOT_ID
from tests.conftest import make_settings
from tests.support import START, ChatAdapter, Clock, card_content, press, queued, text_of

TZ = "America/Montreal"
SERVICE_URL = "https://smba.example/"
CHANNEL = "19:channel-1@thread.tacv2"  # factories.channel(n=1)
TEAM = "19:team@thread.tacv2"
KEY = derive(b"test-master-key", polls.VOTER_KEY_PURPOSE)
WEEK = timedelta(days=7)
_activity_ids = itertools.count(1)


# -- small builders ------------------------------------------------------------------------------


@dataclass
class Scene:
    where: Community
    animator: Person
    voters: list[Person]
    outsider: Person
    channel: ConversationRef


def _id(row: Person | Community | Poll | ConversationRef) -> int:
    assert row.id is not None
    return row.id


async def scene(sessions: SessionFactory, *, voters: int = 3, locale: str = "fr-CA") -> Scene:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        channel = await factories.channel(session, service_url=SERVICE_URL)
        animator = await factories.person(session, 1, locale=locale)
        row = await factories.member(session, animator, where)
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        people = []
        for n in range(voters):
            who = await factories.person(session, 10 + n)
            await factories.member(session, who, where)
            people.append(who)
        outsider = await factories.person(session, 99)
        await session.flush()
    return Scene(where, animator, people, outsider, channel)


async def new_poll(
    session: AsyncSession,
    s: Scene,
    *,
    options: tuple[str, ...] = ("Mardi 10 mars", "Jeudi 12 mars", "Vendredi 13 mars"),
    multiple: bool = False,
    anonymous: bool = False,
    closes_at: datetime = START + WEEK,
) -> Poll:
    return await polls.create(
        session,
        community_id=_id(s.where),
        created_by_id=_id(s.animator),
        question="Quelle date pour la rencontre de mars\xa0?",
        options=list(options),
        multiple=multiple,
        anonymous=anonymous,
        closes_at=closes_at,
        now=START,
    )


async def cast(
    sessions: SessionFactory, poll: Poll, who: Person, choices: list[int], *, now: datetime = START
) -> None:
    async with transaction(sessions) as session:
        await polls.vote(
            session, poll_id=_id(poll), person_id=_id(who), choices=choices, key=KEY, now=now
        )


async def ballots(sessions: SessionFactory) -> list[PollVote]:
    async with sessions() as session:
        return list((await session.exec(select(PollVote).order_by(col(PollVote.id)))).all())


async def all_polls(sessions: SessionFactory) -> list[Poll]:
    async with sessions() as session:
        return list((await session.exec(select(Poll).order_by(col(Poll.id)))).all())


async def results(sessions: SessionFactory, poll: Poll) -> PollResults:
    async with sessions() as session:
        return await polls.results(session, poll_id=_id(poll))


def card_text(card: Element) -> str:
    """Every string a user could read on a card."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "value", "label", "placeholder") and isinstance(
                    value, str
                ):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)


def _size(card: Element) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


def _cards(activities: list[Activity]) -> list[Element]:
    return [
        card_content(attachment)
        for activity in activities
        for attachment in (activity.attachments or [])
    ]


def identities(people: list[Person]) -> list[str]:
    """What would identify a voter in a card or a log line."""
    found: list[str] = []
    for who in people:
        found += [who.name or "", who.teams_user_id, who.aad_object_id or ""]
        found.append(f"person:{who.id}")
    return [item for item in found if item]


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


# -- storage rules (SQLite and PostgreSQL) -------------------------------------------------------


async def test_only_animators_create_and_close_polls(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    member = s.voters[0]
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await polls.create(
                session,
                community_id=_id(s.where),
                created_by_id=_id(member),
                question="Quelle date\xa0?",
                options=["Mardi", "Jeudi"],
                multiple=False,
                anonymous=False,
                closes_at=START + WEEK,
                now=START,
            )
    # Refused before the content is even looked at: an invalid poll by a member is NotAllowed.
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await polls.create(
                session,
                community_id=_id(s.where),
                created_by_id=_id(s.outsider),
                question="?",
                options=[],
                multiple=False,
                anonymous=False,
                closes_at=START,
                now=START,
            )
    assert await all_polls(sessions) == []

    async with transaction(sessions) as session:
        poll = await new_poll(session, s)
    assert poll.status == PollStatus.OPEN
    assert poll.options == ["Mardi 10 mars", "Jeudi 12 mars", "Vendredi 13 mars"]

    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await polls.close(session, poll_id=_id(poll), by_person_id=_id(member), now=START)
    assert (await all_polls(sessions))[0].status == PollStatus.OPEN

    later = START + timedelta(hours=1)
    async with transaction(sessions) as session:
        closed = await polls.close(
            session, poll_id=_id(poll), by_person_id=_id(s.animator), now=later
        )
    assert (closed.status, closed.closed_at) == (PollStatus.CLOSED, later)
    # Idempotent: closing again (the scheduler, another click) changes nothing.
    async with transaction(sessions) as session:
        again = await polls.close(session, poll_id=_id(poll), by_person_id=None, now=later + WEEK)
    assert (again.status, again.closed_at) == (PollStatus.CLOSED, later)

    # An animator who left the community is no longer an animator.
    async with transaction(sessions) as session:
        row = (
            await session.exec(select(Membership).where(Membership.person_id == s.animator.id))
        ).one()
        row.left_at = START
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await new_poll(session, s)


@pytest.mark.parametrize(
    ("question", "options", "closes_in", "reasons"),
    [
        ("Quelle date\xa0?", ["Mardi"], WEEK, [polls.TOO_FEW_OPTIONS]),
        ("Quelle date\xa0?", [f"Choix {n}" for n in range(11)], WEEK, [polls.TOO_MANY_OPTIONS]),
        ("Qu", ["Mardi", "Jeudi"], WEEK, [polls.QUESTION_LENGTH]),
        ("Q" * 301, ["Mardi", "Jeudi"], WEEK, [polls.QUESTION_LENGTH]),
        ("Quelle date\xa0?", ["Mardi", " mardi "], WEEK, [polls.DUPLICATE_OPTIONS]),
        ("Quelle date\xa0?", ["Mardi", "Jeudi", "  "], WEEK, [polls.OPTION_EMPTY]),
        ("Quelle date\xa0?", ["Mardi", "J" * 101], WEEK, [polls.OPTION_TOO_LONG]),
        ("Quelle date\xa0?", ["Mardi", "Jeudi"], timedelta(0), [polls.CLOSES_IN_PAST]),
        (
            "Quelle date\xa0?",
            ["Mardi", "Jeudi"],
            timedelta(days=90, seconds=1),
            [polls.CLOSES_TOO_LATE],
        ),
        ("", [], -WEEK, [polls.QUESTION_LENGTH, polls.TOO_FEW_OPTIONS, polls.CLOSES_IN_PAST]),
    ],
)
async def test_poll_content_rules(
    any_sessions: SessionFactory,
    question: str,
    options: list[str],
    closes_in: timedelta,
    reasons: list[str],
) -> None:
    s = await scene(any_sessions, voters=0)
    with pytest.raises(InvalidPoll) as refused:
        async with transaction(any_sessions) as session:
            await polls.create(
                session,
                community_id=_id(s.where),
                created_by_id=_id(s.animator),
                question=question,
                options=options,
                multiple=False,
                anonymous=False,
                closes_at=START + closes_in,
                now=START,
            )
    assert list(refused.value.reasons) == reasons
    assert isinstance(refused.value, ValueError)
    assert await all_polls(any_sessions) == []


async def test_limits_are_inclusive(any_sessions: SessionFactory) -> None:
    s = await scene(any_sessions, voters=0)
    async with transaction(any_sessions) as session:
        ten = await new_poll(
            session,
            s,
            options=tuple(f"Choix {n}" for n in range(10)),
            closes_at=START + timedelta(days=90),
        )
        two = await new_poll(session, s, options=("Oui", "Non"))
    assert (len(ten.options), len(two.options)) == (10, 2)


async def test_one_ballot_per_person_changeable_until_closing(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        poll = await new_poll(session, s)
    ana, ben, _ = s.voters
    await cast(sessions, poll, ana, [0])
    await cast(sessions, poll, ben, [0])
    await cast(sessions, poll, ana, [2], now=START + timedelta(hours=1))  # changed her mind
    rows = await ballots(sessions)
    assert [(row.person_id, row.choices, row.voter_key) for row in rows] == [
        (ana.id, [2], f"person:{ana.id}"),
        (ben.id, [0], f"person:{ben.id}"),
    ]
    counted = await results(sessions, poll)
    assert (counted.counts, counted.voters) == ((1, 0, 1), 2)
    assert counted.names == (("Personne 11",), (), ("Personne 10",))

    async with transaction(sessions) as session:
        await polls.close(session, poll_id=_id(poll), by_person_id=None, now=START + WEEK)
    with pytest.raises(PollClosed):
        await cast(sessions, poll, ana, [1], now=START + WEEK)
    assert [row.choices for row in await ballots(sessions)] == [[2], [0]]


async def test_single_and_multiple_choice_validation(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        single = await new_poll(session, s)
        several = await new_poll(session, s, multiple=True)
    ana, ben, chloe = s.voters
    for choices, reason in (
        ([], polls.NO_CHOICE),
        ([0, 1], polls.ONE_CHOICE_ONLY),
        ([3], polls.INVALID_CHOICE),
        ([-1], polls.INVALID_CHOICE),
    ):
        with pytest.raises(InvalidChoice) as refused:
            await cast(sessions, single, ana, choices)
        assert refused.value.reason == reason
    with pytest.raises(InvalidChoice):
        await cast(sessions, several, ana, [0, 7])
    assert await ballots(sessions) == []

    await cast(sessions, single, ana, [1])
    await cast(sessions, several, ana, [2, 0, 0])  # repeated and unordered: kept once, sorted
    await cast(sessions, several, ben, [0, 1, 2])
    await cast(sessions, several, chloe, [1])
    counted = await results(sessions, several)
    assert (counted.counts, counted.voters) == ((2, 2, 2), 3)
    assert sorted(row.choices for row in await ballots(sessions)) == [[0, 1, 2], [0, 2], [1], [1]]


async def test_who_may_vote_and_when(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        poll = await new_poll(session, s)
    with pytest.raises(NotAllowed):
        await cast(sessions, poll, s.outsider, [0])
    async with transaction(sessions) as session:
        row = (
            await session.exec(select(Membership).where(Membership.person_id == s.voters[2].id))
        ).one()
        row.left_at = START
    with pytest.raises(NotAllowed):
        await cast(sessions, poll, s.voters[2], [0])
    # Past its closing time, a poll the scheduler has not closed yet still refuses votes.
    with pytest.raises(PollClosed):
        await cast(sessions, poll, s.voters[0], [0], now=START + WEEK)
    with pytest.raises(polls.UnknownPoll):
        async with transaction(sessions) as session:
            await polls.vote(
                session, poll_id=9999, person_id=_id(s.voters[0]), choices=[0], key=KEY, now=START
            )
    assert await ballots(sessions) == []


async def test_anonymous_ballots_name_nobody(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        poll = await new_poll(session, s, anonymous=True)
        open_poll = await new_poll(session, s)
    for who, choice in zip(s.voters, (0, 1, 1), strict=True):
        await cast(sessions, poll, who, [choice])
    await cast(sessions, poll, s.voters[0], [2])  # changing an anonymous ballot still works
    await cast(sessions, open_poll, s.voters[0], [0])

    rows = [row for row in await ballots(sessions) if row.poll_id == poll.id]
    assert len(rows) == 3
    assert all(row.person_id is None for row in rows)
    person_ids = {str(who.id) for who in s.voters}
    assert all(not row.voter_key.startswith("person:") for row in rows)
    assert all(len(row.voter_key) == 64 for row in rows)  # an HMAC, not an id
    assert not {row.voter_key for row in rows} & person_ids
    assert all(row.voted_at is None for row in rows)  # not even when
    # Open: how many voted, never what (tests/test_anonymity.py).
    counted = await results(sessions, poll)
    assert (counted.counts, counted.voters, counted.names, counted.k) == (None, 3, None, 5)

    async with transaction(sessions) as session:
        await polls.close(session, poll_id=_id(poll), by_person_id=None, now=START + WEEK)
    # Closed: the hashes are gone, so not even the key recomputes who voted what.
    sealed = [row for row in await ballots(sessions) if row.poll_id == poll.id]
    assert [row.voter_key for row in sealed] == [f"sealed:{row.id}" for row in sealed]
    # Fewer than k voters: no counts even now; a community whose k is 3 sees them.
    assert (await results(sessions, poll)).counts is None
    async with transaction(sessions) as session:
        where = await session.get(Community, _id(s.where))
        assert where is not None
        where.settings = {"survey_k": 3}
    assert (await results(sessions, poll)).counts == (0, 2, 1)
    # A poll that is not anonymous keeps its named ballots.
    named = [row for row in await ballots(sessions) if row.poll_id == open_poll.id]
    assert [(row.person_id, row.voter_key) for row in named] == [
        (s.voters[0].id, f"person:{s.voters[0].id}")
    ]


async def test_due_to_close_and_shortlisted_topics(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions, voters=0)
    async with transaction(sessions) as session:
        soon = await new_poll(session, s, closes_at=START + timedelta(hours=2))
        later = await new_poll(session, s, closes_at=START + WEEK)
        for title, status in (
            ("Deuil et proches aidants", TopicStatus.SHORTLISTED),
            ("Éthique en fin de vie", TopicStatus.PROPOSED),
            ("Outils d’évaluation", TopicStatus.SHORTLISTED),
        ):
            session.add(Topic(community_id=_id(s.where), title=title, status=status))
    async with sessions() as session:
        assert await polls.due_to_close(session, now=START + timedelta(hours=1)) == []
        due = await polls.due_to_close(session, now=START + timedelta(hours=2))
        assert [p.id for p in due] == [soon.id]
        assert [p.id for p in await polls.due_to_close(session, now=START + WEEK)] == [
            soon.id,
            later.id,
        ]
        assert await polls.from_shortlisted_topics(session, community_id=_id(s.where)) == [
            "Deuil et proches aidants",
            "Outils d’évaluation",
        ]


# -- the scheduler's closing ------------------------------------------------------------------


async def test_expired_polls_close_on_time_once(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        second = await factories.person(session, 2)
        row = await factories.member(session, second, s.where)
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        poll = await new_poll(session, s, closes_at=START + timedelta(days=2))
        await polls.record_posted(
            session, poll_id=_id(poll), conversation_ref_id=_id(s.channel), activity_id="card-1"
        )
        unposted = await new_poll(session, s, closes_at=START + timedelta(days=3))
    await cast(sessions, poll, s.voters[0], [1])
    clock = Clock()
    wakes: list[int] = []

    async def run() -> int:
        return await close_expired_polls(
            sessions=sessions, now=clock(), wake=lambda: wakes.append(1)
        )

    assert await run() == 0
    clock.now = START + timedelta(days=2) - timedelta(seconds=1)
    assert await run() == 0
    assert await queued(sessions) == []
    clock.now = START + timedelta(days=2)
    assert await run() == 1
    assert await run() == 0  # idempotent
    rows = await queued(sessions)
    assert sorted((r.dedup_key, r.kind, r.person_id, r.conversation_ref_id) for r in rows) == [
        (f"poll:{poll.id}:closed:card", KIND_CARD, None, s.channel.id),
        (f"poll:{poll.id}:closed:results:to:{s.animator.id}", KIND_RESULTS, s.animator.id, None),
        (f"poll:{poll.id}:closed:results:to:{second.id}", KIND_RESULTS, second.id, None),
    ]
    assert all(r.params == {"poll_id": poll.id} for r in rows)
    assert len(wakes) == 1
    statuses = {p.id: (p.status, p.closed_at) for p in await all_polls(sessions)}
    assert statuses[poll.id] == (PollStatus.CLOSED, START + timedelta(days=2))
    assert statuses[unposted.id] == (PollStatus.OPEN, None)

    # An animator closing it again (a stale button) queues nothing new.
    async with transaction(sessions) as session:
        await polls.close(session, poll_id=_id(poll), by_person_id=_id(s.animator), now=clock())
    assert await close_expired_polls(sessions=sessions, now=clock(), wake=lambda: None) == 0
    assert len(await queued(sessions)) == 3

    # The unposted poll closes too; only the animators hear about it (no card to update).
    clock.advance(days=1)
    assert await run() == 1
    later_rows = [r for r in await queued(sessions) if r.params["poll_id"] == unposted.id]
    assert sorted(r.kind for r in later_rows) == [KIND_RESULTS, KIND_RESULTS]


# -- renderers ------------------------------------------------------------------------------------


async def render(
    sessions: SessionFactory,
    kind: str,
    poll: Poll,
    *,
    person: Person | None = None,
    conversation: ConversationRef | None = None,
    locale: str = "fr-CA",
) -> Activity | None:
    message = Claimed(
        id=1,
        dedup_key="k",
        kind=kind,
        params={"poll_id": poll.id},
        person_id=person.id if person else None,
        conversation_ref_id=conversation.id if conversation else None,
        attempts=1,
        created_at=START,
    )
    return await POLL_RENDERERS[kind](
        RenderContext(message=message, locale=locale, timezone=TZ, now=START, sessions=sessions)
    )


async def test_renderers(sessions: SessionFactory) -> None:
    s = await scene(sessions, locale="en-US")
    async with transaction(sessions) as session:
        poll = await new_poll(session, s)
    # Not posted yet: nothing to update.
    assert await render(sessions, KIND_CARD, poll, conversation=s.channel) is None
    async with transaction(sessions) as session:
        await polls.record_posted(
            session, poll_id=_id(poll), conversation_ref_id=_id(s.channel), activity_id="card-9"
        )
    await cast(sessions, poll, s.voters[0], [1])
    update = await render(sessions, KIND_CARD, poll, conversation=s.channel)
    assert update is not None
    assert update.id == "card-9"  # the dispatcher updates the posted card in place
    (card,) = _cards([update])
    # The channel card speaks its author's language, whatever the channel's default.
    assert "1 person voted." in card_text(card)

    to_animator = await render(sessions, KIND_RESULTS, poll, person=s.animator, locale="en-US")
    assert to_animator is not None
    assert to_animator.id is None
    text = card_text(_cards([to_animator])[0])
    assert "Poll results — CdeP Soins palliatifs" in text
    assert "Leading: Jeudi 12 mars" in text
    assert "Personne 10" in text  # a named poll shows who chose what to its animators
    # Someone who is not (or no longer) an animator gets nothing.
    assert await render(sessions, KIND_RESULTS, poll, person=s.voters[0]) is None


# -- the bot glue over a TestAdapter ----------------------------------------------------------


@dataclass
class Bot:
    """Drives the poll functions as the handler will, and records what was said."""

    sessions: SessionFactory
    settings: Settings = field(
        default_factory=lambda: make_settings(
            "sqlite+aiosqlite://", CARREFOUR_SECRET_KEY="test-secret-key"
        )
    )
    adapter: ChatAdapter = field(default_factory=ChatAdapter)
    clock: Clock = field(default_factory=Clock)
    wakes: int = 0

    def context(
        self, who: Person, value: dict[str, Any] | None = None, *, channel: bool = True
    ) -> TurnContext:
        activity = Activity(
            type=ActivityTypes.message,
            id=f"activity-{next(_activity_ids)}",
            channel_id="msteams",
            service_url=SERVICE_URL,
            from_property=ChannelAccount(
                id=who.teams_user_id, name=who.name, aad_object_id=who.aad_object_id
            ),
            recipient=ChannelAccount(id=BOT_ID),
            conversation=ConversationAccount(
                id=CHANNEL if channel else f"a:personal-{who.id}",
                conversation_type="channel" if channel else "personal",
                is_group=channel,
            ),
            channel_data={"team": {"id": TEAM}, "channel": {"id": CHANNEL}} if channel else {},
            value=value,
        )
        return TurnContext(self.adapter, activity)

    def info(self, who: Person, locale: str = "fr-CA", *, channel: bool = True) -> TurnInfo:
        return TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=channel)

    def _wake(self) -> None:
        self.wakes += 1

    async def command(self, who: Person, locale: str = "fr-CA", *, channel: bool = True) -> None:
        await on_poll_command(
            self.context(who, channel=channel),
            sessions=self.sessions,
            settings=self.settings,
            info=self.info(who, locale, channel=channel),
            clock=self.clock,
        )

    async def click(self, who: Person, value: dict[str, Any], locale: str = "fr-CA") -> bool:
        return await press(
            self.context(who, value),
            value,
            sessions=self.sessions,
            settings=self.settings,
            info=self.info(who, locale),
            wake=self._wake,
            clock=self.clock,
        )

    def replies(self) -> list[Activity]:
        said = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return said

    def updates(self) -> list[Activity]:
        done = list(self.adapter.updated_activities)
        self.adapter.updated_activities.clear()
        return done


def form_values(**overrides: Any) -> dict[str, Any]:
    values = {
        "verb": "polls.create",
        "question": "Quel thème pour la rencontre de mars\xa0?",
        "options": "Deuil et proches aidants\n- Éthique en fin de vie\n\nOutils cliniques",
        "multiple": "false",
        "anonymous": "false",
        "close_date": "2026-11-30",
        "close_time": "17:00",
    }
    values.update(overrides)
    return values


async def test_creating_voting_and_closing_through_the_glue(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)
    ana, ben, _ = s.voters

    await bot.command(s.animator, channel=False)
    assert [a.text for a in bot.replies()] == [
        "Les sondages se publient dans le canal de la communauté\xa0: mentionnez-moi là-bas avec "
        "«\xa0@Carrefour sondage\xa0»."
    ]
    await bot.command(ana)
    assert next(text_of(a) for a in bot.replies()).startswith("Seule l’animation de la communauté")
    # A member's submission of a (forged) form creates nothing either.
    assert await bot.click(ana, form_values())
    assert text_of(bot.replies()[0]).startswith("Seule l’animation")
    assert await all_polls(sessions) == []

    await bot.command(s.animator)
    (form,) = _cards(bot.replies())
    assert form["body"][0]["text"] == "Nouveau sondage"
    inputs = {e["id"]: e for e in _inputs(form)}
    # A week to answer by default, until 17:00 in Montreal.
    assert (inputs["close_date"]["value"], inputs["close_time"]["value"]) == ("2026-11-30", "17:00")
    assert (inputs["close_date"]["min"], inputs["close_date"]["max"]) == (
        "2026-11-23",
        "2027-02-21",
    )

    assert await bot.click(s.animator, form_values(question="", options="Deuil", close_date=""))
    (retry,) = _cards(bot.replies())
    errors = [b["text"] for b in retry["body"] if b.get("color") == "Attention"]
    assert errors == [
        "La question doit compter de 3\xa0à 300\xa0caractères.",
        "Indiquez au moins deux choix de réponse, un par ligne.",
        "Choisissez la date (et l’heure) de fin du vote.",
    ]
    assert {e["id"]: e.get("value") for e in _inputs(retry)}["options"] == "Deuil"
    assert await all_polls(sessions) == []

    assert await bot.click(s.animator, form_values())
    (posted,) = bot.replies()
    (poll,) = await all_polls(sessions)
    assert poll.options == ["Deuil et proches aidants", "Éthique en fin de vie", "Outils cliniques"]
    # 17:00 in Montreal in November is 22:00 UTC.
    assert poll.closes_at == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert poll.activity_id is not None
    assert poll.conversation_ref_id == s.channel.id
    card = _cards([posted])[0]
    text = card_text(card)
    assert "Quel thème pour la rencontre de mars\xa0?" in text
    assert "Personne n’a encore voté." in text
    assert "Fin du vote\xa0: lundi 30 novembre 2026 à 17\xa0h" in text
    vote_button = card["actions"][0]
    assert vote_button["data"] == {"verb": "polls.vote", "poll_id": poll.id}

    # A vote updates the posted card in place, and says nothing in the channel.
    assert await bot.click(ana, {"verb": "polls.vote", "poll_id": poll.id, "choice": "1"})
    assert bot.replies() == []
    (update,) = bot.updates()
    assert update.id == poll.activity_id
    updated = card_text(_cards([update])[0])
    assert "1\xa0personne a voté." in updated
    assert "██████████ 1 (100\xa0%)" in updated
    assert "Personne 10" in updated  # a named poll

    await bot.click(ben, {"verb": "polls.vote", "poll_id": poll.id, "choice": "1"})
    await bot.click(ana, {"verb": "polls.vote", "poll_id": poll.id, "choice": "0"})
    (last,) = bot.updates()[-1:]
    assert "█████░░░░░ 1 (50\xa0%)" in card_text(_cards([last])[0])
    assert (await results(sessions, poll)).counts == (1, 1, 0)

    # Refusals reach the voter alone, through the outbox; nothing in the channel.
    await bot.click(ana, {"verb": "polls.vote", "poll_id": poll.id, "choice": "0,2"})
    await bot.click(ben, {"verb": "polls.vote", "poll_id": poll.id, "choice": ""})
    await bot.click(s.outsider, {"verb": "polls.vote", "poll_id": poll.id, "choice": "0"})
    assert bot.replies() == []
    assert bot.updates() == []
    notices = [(r.person_id, r.kind, r.params["text"]) for r in await queued(sessions)]
    assert notices == [
        (ana.id, "notice", "polls.vote.one_choice_only"),
        (ben.id, "notice", "polls.vote.no_choice"),
        (s.outsider.id, "notice", "polls.vote.not_member"),
    ]
    assert bot.wakes == 3

    # Closing: members are refused, the animator's click shows the final results at once.
    await bot.click(ana, {"verb": "polls.close", "poll_id": poll.id})
    assert text_of(bot.replies()[0]).startswith("Seule l’animation de la communauté peut fermer")
    bot.clock.advance(hours=1)
    # The animator's first click asks, naming how many voted; nothing closes yet.
    await bot.click(s.animator, {"verb": "polls.close", "poll_id": poll.id})
    (asked,) = _cards(bot.replies())
    assert "2\xa0personnes ont voté\xa0; le vote se fermera" in card_text(asked)
    assert bot.updates() == []
    assert (await all_polls(sessions))[0].status == PollStatus.OPEN
    await bot.click(s.animator, {"verb": "polls.close", "poll_id": poll.id, "confirmed": True})
    (outcome,) = _cards(bot.replies())
    assert card_text(outcome) == "Sondage fermé\xa0: les résultats sont publiés."
    (final,) = bot.updates()
    final_card = _cards([final])[0]
    assert "Sondage fermé le lundi 23 novembre 2026 à 10\xa0h — résultats finaux" in card_text(
        final_card
    )
    assert "actions" not in final_card
    assert not [e for e in _inputs(final_card)]
    kinds = sorted(r.dedup_key for r in await queued(sessions) if r.kind != "notice")
    assert kinds == [
        f"poll:{poll.id}:closed:card",
        f"poll:{poll.id}:closed:results:to:{s.animator.id}",
    ]

    await bot.click(ben, {"verb": "polls.vote", "poll_id": poll.id, "choice": "2"})
    assert (await queued(sessions))[-1].params["text"] == "polls.vote.closed"
    assert (await results(sessions, poll)).counts == (1, 1, 0)


def _inputs(card: Element) -> list[Element]:
    found: list[Element] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


async def test_a_poll_that_could_not_be_posted_is_forgotten(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)

    async def refuse(*_args: Any) -> None:
        raise RuntimeError("connector down")

    monkeypatch.setattr(bot.adapter, "send_activities", refuse)
    with pytest.raises(RuntimeError):
        await bot.click(s.animator, form_values())
    # Nobody could vote on a card never shown: no empty poll to close and report later.
    assert await all_polls(sessions) == []


async def test_multiple_choice_votes_come_as_comma_separated_indexes(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    s = await scene(sessions, locale="en-US")
    await bot.click(s.animator, form_values(multiple="true"), locale="en-US")
    (posted,) = bot.replies()
    (poll,) = await all_polls(sessions)
    card = _cards([posted])[0]
    (choice,) = [e for e in _inputs(card) if e["id"] == "choice"]
    assert choice["isMultiSelect"] is True
    assert choice["label"] == "Your answers (one or more)"
    await bot.click(s.voters[0], {"verb": "polls.vote", "poll_id": poll.id, "choice": "0,2"})
    assert (await results(sessions, poll)).counts == (1, 0, 1)
    assert "1 person voted." in card_text(_cards(bot.updates())[0])


async def test_the_form_from_shortlisted_topics_and_cancel(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)
    await bot.click(s.animator, form_values(verb="polls.form.topics", options=""))
    (empty,) = _cards(bot.replies())
    assert "Aucun sujet n’est retenu" in card_text(empty)

    async with transaction(sessions) as session:
        for title in ("Deuil et proches aidants", "Outils d’évaluation"):
            session.add(
                Topic(community_id=_id(s.where), title=title, status=TopicStatus.SHORTLISTED)
            )
    await bot.click(s.animator, form_values(verb="polls.form.topics", options="Autre"))
    (filled,) = _cards(bot.replies())
    values = {e["id"]: e.get("value") for e in _inputs(filled)}
    assert values["options"] == "Deuil et proches aidants\nOutils d’évaluation"
    assert values["question"] == "Quel thème pour la rencontre de mars\xa0?"  # kept
    assert not [b for b in filled["body"] if b.get("color") == "Attention"]

    # Members cannot use it.
    await bot.click(s.voters[0], form_values(verb="polls.form.topics"))
    assert text_of(bot.replies()[0]).startswith("Seule l’animation")

    await bot.click(s.animator, {"verb": "polls.cancel"})
    assert [a.text for a in bot.replies()] == [
        "D’accord, j’ai tout annulé. Rien n’a été enregistré."
    ]
    assert await all_polls(sessions) == []
    # Verbs of other features are not ours.
    assert "mentoring.confirm" not in POLLS.verbs


async def test_an_anonymous_poll_shows_and_logs_no_voter(
    sessions: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)
    await bot.click(s.animator, form_values(anonymous="true"))
    (posted,) = bot.replies()
    (poll,) = await all_polls(sessions)
    assert poll.anonymous

    caplog.set_level(logging.DEBUG)
    for who, choice in zip(s.voters, ("0", "1", "1"), strict=True):
        await bot.click(who, {"verb": "polls.vote", "poll_id": poll.id, "choice": choice})
    await bot.click(s.voters[0], {"verb": "polls.vote", "poll_id": poll.id, "choice": "0,1"})
    # Our modules say nothing at all while people vote (not even a poll id with a time).
    ours = ("storage.polls", "bot.polls_flow", "cards.polls")
    assert [r.getMessage() for r in caplog.records if r.name.startswith(ours)] == []
    bot.clock.advance(days=7, hours=9)  # past 17:00 on the 30th
    await close_expired_polls(sessions=sessions, now=bot.clock(), wake=lambda: None)
    channel_update = await render(sessions, KIND_CARD, poll, conversation=s.channel)
    to_animator = await render(sessions, KIND_RESULTS, poll, person=s.animator)
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    caplog.set_level(logging.WARNING)

    assert all(row.person_id is None for row in await ballots(sessions))
    cards = _cards([posted, *bot.updates(), *bot.replies()])
    assert channel_update is not None
    assert to_animator is not None
    cards += _cards([channel_update, to_animator])
    assert len(cards) == 6  # posted, three updates, the final card and the results
    everything = json.dumps(cards, ensure_ascii=False)
    for identity in identities(s.voters):
        assert identity not in everything
        assert identity not in logs
    for card in cards:
        assert "Vote anonyme\xa0: personne ne peut voir qui a choisi quoi" in card_text(card)


async def test_voting_works_without_a_configured_secret_key(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    key_file = tmp_path / "secret.key"
    settings = make_settings("sqlite+aiosqlite://", CARREFOUR_SECRET_KEY_FILE=str(key_file))
    bot = Bot(sessions, settings=settings)
    s = await scene(sessions)
    await bot.click(s.animator, form_values(anonymous="true"))
    (poll,) = await all_polls(sessions)
    await bot.click(s.voters[0], {"verb": "polls.vote", "poll_id": poll.id, "choice": "1"})
    await bot.click(s.voters[0], {"verb": "polls.vote", "poll_id": poll.id, "choice": "2"})
    # One ballot, changed: the key (kept in a file, not in the database) found it again.
    assert [row.choices for row in await ballots(sessions)] == [[2]]
    assert key_file.exists()


# -- pure helpers ------------------------------------------------------------------------------


def test_form_parsing() -> None:
    assert option_lines(" - Mardi\n\n• Jeudi \n* Vendredi\n") == ["Mardi", "Jeudi", "Vendredi"]
    assert parse_choices("0,2") == [0, 2]
    assert parse_choices(" 1 ") == [1]
    assert parse_choices("") == []
    assert parse_choices(None) == []
    assert parse_choices(3) == [3]
    assert parse_choices("0,x") is None
    assert parse_choices("-1") is None
    form = PollForm(
        question="Quelle date\xa0?",
        options="Mardi\nJeudi",
        close_date="2026-11-30",
        close_time="",
    )
    assert form_problems(form, tz=TZ, now=START) == []
    assert form_problems(
        PollForm(question="Quelle date\xa0?", options="Mardi\nJeudi", close_date="30/11/2026"),
        tz=TZ,
        now=START,
    ) == ["closes_invalid"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reason_code_has_a_message(language: str) -> None:
    entries = {str(m.id) for m in catalog(language) if m.id and m.string}
    assert set(FORM_ERROR_KEYS.values()) <= entries
    assert set(VOTE_ERROR_KEYS.values()) | {"polls.vote.closed", "polls.vote.not_member"} <= entries
    assert set(FORM_ERROR_KEYS) >= {
        polls.QUESTION_LENGTH,
        polls.TOO_FEW_OPTIONS,
        polls.TOO_MANY_OPTIONS,
        polls.OPTION_EMPTY,
        polls.OPTION_TOO_LONG,
        polls.DUPLICATE_OPTIONS,
        polls.CLOSES_IN_PAST,
        polls.CLOSES_TOO_LATE,
    }


# -- cards in French and English -----------------------------------------------------------------


def _poll(**overrides: Any) -> Poll:
    values: dict[str, Any] = {
        "id": 7,
        "community_id": 1,
        "question": "Quelle date pour la rencontre de mars\xa0?",
        "options": ["Mardi 10 mars", "Jeudi 12 mars", "Vendredi 13 mars"],
        "multiple": False,
        "anonymous": False,
        "closes_at": datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
        "status": PollStatus.OPEN,
        "created_by_id": 1,
    }
    values.update(overrides)
    return Poll(**values)


NAMES = (("Léa Tremblay", "Samuel Gagnon"), (), (None,))


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr-CA",
            [
                "Sondage de la communauté",
                "Un seul choix",
                "███████░░░ 2 (67\xa0%)",
                "Léa Tremblay, Samuel Gagnon",
                "Une personne",
                "3\xa0personnes ont voté.",
                "Vote nominatif",
                "Fin du vote\xa0: lundi 30 novembre 2026 à 17\xa0h",
                "Votre choix",
                "Voter",
                "Fermer maintenant (animation)",
            ],
        ),
        (
            "en-US",
            [
                "Community poll",
                "One answer",
                "███████░░░ 2 (67%)",
                "Someone",
                "3 people voted.",
                "Named vote",
                "Voting ends: Monday, November 30, 2026 at 5:00\xa0PM",
                "Your answer",
                "Vote",
                "Close now (facilitators)",
            ],
        ),
    ],
)
def test_the_poll_card(locale: str, expected: list[str]) -> None:
    results = PollResults(poll=_poll(), counts=(2, 0, 1), voters=3, names=NAMES)
    card = build_poll_card(results, locale=locale, tz=TZ)
    assert card["version"] == CARD_VERSION == "1.5"
    assert _size(card) < MAX_CARD_BYTES
    text = card_text(card)
    for phrase in expected:
        assert phrase in text, phrase
    (choice,) = _inputs(card)
    assert (choice["style"], choice["isMultiSelect"]) == ("expanded", False)
    assert [c["value"] for c in choice["choices"]] == ["0", "1", "2"]
    assert [a["data"]["verb"] for a in card["actions"]] == ["polls.vote", "polls.close"]
    assert all(a["data"]["poll_id"] == 7 for a in card["actions"])


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_closed_anonymous_and_results_cards(locale: str) -> None:
    poll = _poll(
        anonymous=True,
        multiple=True,
        status=PollStatus.CLOSED,
        closed_at=datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
        options=[f"Option {n}" for n in range(8)],
    )
    results = PollResults(poll=poll, counts=(3, 0, 3, 0, 0, 0, 0, 1), voters=5, names=None)
    card = build_poll_card(results, locale=locale, tz=TZ)
    summary = build_poll_results_card(
        results, community_name="CdeP Soins palliatifs", locale=locale, tz=TZ
    )
    for built in (card, summary):
        assert built["version"] == "1.5"
        assert _size(built) < MAX_CARD_BYTES
        assert "actions" not in built
        assert not _inputs(built)
    text, summary_text = card_text(card), card_text(summary)
    if locale == "fr-CA":
        assert "Sondage fermé le mercredi 25 novembre 2026 à 10\xa0h — résultats finaux" in text
        assert "Vote anonyme" in text
        assert "Plusieurs choix possibles" in text
        assert "Résultats du sondage — CdeP Soins palliatifs" in summary_text
        assert "En tête\xa0: Option 0, Option 2" in summary_text
    else:
        assert "Poll closed on Wednesday, November 25, 2026 at 10:00\xa0AM — final" in text
        assert "Anonymous vote" in text
        assert "Poll results — CdeP Soins palliatifs" in summary_text
        assert "Leading: Option 0, Option 2" in summary_text
    nobody = PollResults(poll=poll, counts=(0,) * 8, voters=0, names=None)
    none_text = card_text(build_poll_results_card(nobody, community_name="C", locale=locale, tz=TZ))
    assert ("Personne n’a voté" if locale == "fr-CA" else "Nobody voted") in none_text


@pytest.mark.parametrize(
    ("locale", "at_closing", "too_few"),
    [
        (
            "fr-CA",
            "Les résultats s’afficheront à la fin du vote, s’il y a au moins 5\xa0votes.",
            "Trop peu de votes pour montrer les résultats sans révéler de choix\xa0: il en faut "
            "au moins 5.",
        ),
        (
            "en-US",
            "Results will show when voting ends, if at least 5 people voted.",
            "Too few votes to show the results without revealing anyone’s choice: at least 5 "
            "are needed.",
        ),
    ],
)
def test_anonymous_cards_without_counts(locale: str, at_closing: str, too_few: str) -> None:
    """While open, and closed below k: the options and how many voted, never a count."""
    open_poll = _poll(anonymous=True)
    card = build_poll_card(
        PollResults(poll=open_poll, counts=None, voters=4, names=None), locale=locale, tz=TZ
    )
    text = card_text(card)
    assert at_closing in text
    assert ("4\xa0personnes ont voté." if locale == "fr-CA" else "4 people voted.") in text
    assert not {"█", "░", "%"} & set(text)
    assert [a["data"]["verb"] for a in card["actions"]] == ["polls.vote", "polls.close"]

    closed = _poll(anonymous=True, status=PollStatus.CLOSED, closed_at=START)
    hidden = PollResults(poll=closed, counts=None, voters=4, names=None)
    for built in (
        build_poll_card(hidden, locale=locale, tz=TZ),
        build_poll_results_card(hidden, community_name="C", locale=locale, tz=TZ),
    ):
        text = card_text(built)
        assert too_few in text
        assert "• Jeudi 12 mars" in text
        assert not {"█", "░", "%"} & set(text)
        assert "actions" not in built


def test_many_options_use_a_drop_down_and_big_named_polls_stay_under_the_limit() -> None:
    poll = _poll(
        question="Q" * 300,
        options=[f"{n} " + "x" * 98 for n in range(10)],
        multiple=True,
    )
    names = tuple(
        tuple(f"Intervenante numéro {i:04d} du CISSS" for i in range(400)) for _ in range(10)
    )
    results = PollResults(poll=poll, counts=(400,) * 10, voters=400, names=names)
    card = build_poll_card(results, locale="fr-CA", tz=TZ)
    assert _size(card) < MAX_CARD_BYTES
    (choice,) = [e for e in _inputs(card) if e["id"] == "choice"]
    assert (choice["style"], choice["isMultiSelect"]) == ("compact", True)
    assert "et 380\xa0autres" in card_text(card) or "400\xa0personnes" in card_text(card)
    summary = build_poll_results_card(results, community_name="C", locale="en-US", tz=TZ)
    assert _size(summary) < MAX_CARD_BYTES


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_form_card(locale: str) -> None:
    form = PollForm(question="Quelle date\xa0?", options="Mardi\nJeudi", close_date="2026-11-30")
    card = build_poll_form_card(
        form, locale=locale, today=START.date(), errors=["Une erreur à corriger"]
    )
    assert card["version"] == "1.5"
    assert _size(card) < MAX_CARD_BYTES
    assert next(b for b in card["body"] if b.get("color") == "Attention")["text"] == (
        "Une erreur à corriger"
    )
    ids = [e["id"] for e in _inputs(card)]
    assert ids == [
        "question",
        "options",
        "multiple",
        "anonymous",
        "identifies_no_client",
        "close_date",
        "close_time",
    ]
    verbs = [a["data"]["verb"] for a in card["actions"]]
    assert verbs == ["polls.create", "polls.form.topics", "polls.cancel"]
    text = card_text(card)
    if locale == "fr-CA":
        assert "Nouveau sondage" in text
        assert "Publier le sondage" in text
        assert "Choix de réponse (un par ligne, de 2\xa0à 10)" in text
    else:
        assert "New poll" in text
        assert "Post the poll" in text
        assert "Answers (one per line, 2 to 10)" in text


def test_result_bars() -> None:
    assert result_bar(0, 0, locale="fr-CA") == "░░░░░░░░░░ 0 (0\xa0%)"
    assert result_bar(4, 10, locale="fr-CA") == "████░░░░░░ 4 (40\xa0%)"
    assert result_bar(1, 3, locale="en-US") == "███░░░░░░░ 1 (33%)"
    assert result_bar(5, 5, locale="en-US") == "██████████ 5 (100%)"


# -- client identifiers in the question and the options (issue 15) ------------------------------

IDENTIFIER_ERRORS = {
    "fr-CA": {
        "names": (
            "La question ou un choix de réponse semble contenir un nom de personne. Le sondage "
            "sera vu par toute la communauté\xa0: s’il ne s’agit pas d’une personne usagère (une "
            "ou un collègue, par exemple), cochez «\xa0Ce texte n’identifie aucune personne "
            "usagère\xa0», puis envoyez de nouveau\xa0; sinon, écrivez plutôt son rôle."
        ),
        "phone": (
            "La question ou un choix de réponse semble contenir un numéro de téléphone. Le "
            "sondage sera vu par toute la communauté\xa0: retirez ces renseignements, puis "
            "envoyez de nouveau."
        ),
        "toggle": "Ce texte n’identifie aucune personne usagère",
    },
    "en-US": {
        "names": (
            "The question or an answer seems to contain a person’s name. The whole community "
            "will see the poll: if it is not a client (a colleague, for instance), tick “This "
            "text identifies no client”, then send again; otherwise, write their role instead."
        ),
        "phone": (
            "The question or an answer seems to contain a phone number. The whole community "
            "will see the poll: remove these details, then send again."
        ),
        "toggle": "This text identifies no client",
    },
}


def _errors(card: Element) -> list[str]:
    return [b["text"] for b in card["body"] if b.get("color") == "Attention"]


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_a_poll_naming_someone_needs_the_toggle_and_a_phone_is_always_refused(
    sessions: SessionFactory, locale: str
) -> None:
    bot = Bot(sessions)
    s = await scene(sessions, locale=locale)
    expected = IDENTIFIER_ERRORS[locale]
    named = "Au bureau\nChez Mme Tremblay"

    # Without the toggle, a name is a form error; the form keeps what was typed, nothing posted.
    assert await bot.click(s.animator, form_values(options=named), locale)
    (retry,) = _cards(bot.replies())
    assert _errors(retry) == [expected["names"]]
    inputs = {e["id"]: e for e in _inputs(retry)}
    assert inputs["options"]["value"] == named
    assert inputs["identifies_no_client"]["title"] == expected["toggle"]
    assert inputs["identifies_no_client"]["value"] == "false"
    assert await all_polls(sessions) == []

    # A phone number is refused, the toggle on or not (it vouches for names only).
    phone = "Au bureau\n514 555-1234"
    assert await bot.click(
        s.animator, form_values(options=phone, identifies_no_client="true"), locale
    )
    (refused,) = _cards(bot.replies())
    assert _errors(refused) == [expected["phone"]]
    assert {e["id"]: e for e in _inputs(refused)}["identifies_no_client"]["value"] == "true"
    assert await all_polls(sessions) == []

    # With the toggle, the name is the author's word: the poll is posted.
    assert await bot.click(
        s.animator, form_values(options=named, identifies_no_client="true"), locale
    )
    (posted,) = bot.replies()
    (poll,) = await all_polls(sessions)
    assert poll.options == ["Au bureau", "Chez Mme Tremblay"]
    assert "Chez Mme Tremblay" in card_text(_cards([posted])[0])


async def test_storage_rechecks_identifiers_whatever_the_card_said(
    any_sessions: SessionFactory,
) -> None:
    s = await scene(any_sessions)
    for options, confirmed, kinds in (
        (("Au bureau", "Chez Mme Tremblay"), (), ["identifier:name"]),
        # A forged confirmation of a phone number changes nothing.
        (("Au bureau", "514 555-1234"), ("name", "phone"), ["identifier:phone"]),
    ):
        with pytest.raises(InvalidPoll) as refused:
            async with transaction(any_sessions) as session:
                await polls.create(
                    session,
                    community_id=_id(s.where),
                    created_by_id=_id(s.animator),
                    question="Où se voir\xa0?",
                    options=list(options),
                    multiple=False,
                    anonymous=False,
                    closes_at=START + WEEK,
                    now=START,
                    confirmed=confirmed,
                )
        assert list(refused.value.reasons) == kinds
    assert await all_polls(any_sessions) == []

    async with transaction(any_sessions) as session:
        poll = await polls.create(
            session,
            community_id=_id(s.where),
            created_by_id=_id(s.animator),
            question="Où se voir\xa0?",
            options=["Au bureau", "Chez Mme Tremblay"],
            multiple=False,
            anonymous=False,
            closes_at=START + WEEK,
            now=START,
            confirmed=["name"],
        )
    assert poll.options == ["Au bureau", "Chez Mme Tremblay"]


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_a_clean_poll_is_posted_as_before(sessions: SessionFactory, locale: str) -> None:
    bot = Bot(sessions)
    s = await scene(sessions, locale=locale)
    # Days, dates and times are no one's identifiers.
    options = "mardi 12 janvier, 13 h\nTuesday, January 12, 1:00 – 3:30 PM\nJeudi 14 h"
    assert await bot.click(s.animator, form_values(options=options), locale)
    (posted,) = bot.replies()
    (poll,) = await all_polls(sessions)
    assert poll.options == [
        "mardi 12 janvier, 13 h",
        "Tuesday, January 12, 1:00 – 3:30 PM",
        "Jeudi 14 h",
    ]
    assert "Quel thème pour la rencontre de mars\xa0?" in card_text(_cards([posted])[0])
    assert (
        form_problems(
            PollForm(question="Quelle date\xa0?", options=options, close_date="2026-11-30"),
            tz=TZ,
            now=START,
        )
        == []
    )
