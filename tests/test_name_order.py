"""People's names are listed in the order a French reader expects: accents and case do not
push « Émilie » after « Sarah » (SQLite and PostgreSQL's C collation compare code points)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import communities, meetings, polls
from storage.collation import name_key
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import Community, Person, Poll, PollVote, Role
from tests import factories

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# Inserted in an order that is neither alphabetical nor code-point order.
NAMES = ("Sarah Roy", "émile Côté", "Zoé Fortin", "Émilie Tremblay", "andré Boucher")
EXPECTED = ["andré Boucher", "émile Côté", "Émilie Tremblay", "Sarah Roy", "Zoé Fortin"]


@pytest.fixture
async def both(database_url: str) -> AsyncIterator[SessionFactory]:
    """SQLite and PostgreSQL: neither orders names as people do on its own."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def test_the_key_ignores_accents_and_case() -> None:
    assert sorted(NAMES, key=name_key) == EXPECTED
    assert sorted(["Eve", "Ève", "eve"], key=name_key) == sorted(
        ["Eve", "Ève", "eve"], key=name_key
    )


async def _people(session: AsyncSession, where: Community) -> list[Person]:
    people = []
    for n, name in enumerate(NAMES, start=1):
        person = await factories.person(session, n)
        person.name = name
        membership = await factories.member(session, person, where)
        membership.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        people.append(person)
    await session.flush()
    return people


async def test_people_with_a_role_are_listed_alphabetically(both: SessionFactory) -> None:
    async with transaction(both) as session:
        where = await factories.community(session)
        await _people(session, where)
        found = await communities.people_with_role(
            session, community_id=where.id or 0, roles=[Role.ANIMATOR]
        )
    assert [p.name for p in found] == EXPECTED


async def test_the_attendance_roster_is_alphabetical(both: SessionFactory) -> None:
    async with transaction(both) as session:
        where = await factories.community(session)
        await _people(session, where)
        meeting = await factories.meeting(session, where, starts_at=NOW)
        roster = await meetings.attendance_roster(session, meeting_id=meeting.id or 0)
    assert [person.name for person, _answer in roster] == EXPECTED


async def test_the_names_under_each_poll_option_are_alphabetical(
    both: SessionFactory,
) -> None:
    async with transaction(both) as session:
        where = await factories.community(session)
        people = await _people(session, where)
        poll = Poll(
            community_id=where.id or 0,
            question="Quel jour ?",
            options=["Mardi", "Jeudi"],
            anonymous=False,
            closes_at=NOW,
            created_at=NOW,
        )
        session.add(poll)
        await session.flush()
        for person in people:
            session.add(
                PollVote(
                    poll_id=poll.id or 0,
                    voter_key=f"person:{person.id}",
                    person_id=person.id,
                    choices=[0],
                    voted_at=NOW,
                )
            )
        await session.flush()
        found = await polls.results(session, poll_id=poll.id or 0)
    assert found.names is not None
    assert list(found.names[0]) == EXPECTED
