"""Meeting changes where two clicks race, on SQLite and PostgreSQL: a draft publishes once, a
meeting is cancelled (and its notices queued) once, restored once; and the calendar file's
escaping and folding (RFC 5545)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cards.calendar_ics import build_meeting_ics, escape_text, fold
from storage import meetings
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.meetings import AgendaDraft, InvalidMeeting, MeetingDraft
from storage.models import Community, Meeting, MeetingMode, MeetingStatus, Role, Volet
from tests import factories
from tests.support import START

T = TypeVar("T")
LATER = START + timedelta(days=30)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def at_once(
    sessions: SessionFactory, *work: Callable[[AsyncSession], Awaitable[T]]
) -> list[T | BaseException]:
    async def one(piece: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with transaction(sessions) as session:
            return await piece(session)

    return list(await asyncio.gather(*(one(piece) for piece in work), return_exceptions=True))


async def _animated(db: SessionFactory) -> tuple[Community, int]:
    async with transaction(db) as session:
        where = await factories.community(session)
        animator = await factories.person(session, 1)
        row = await factories.member(session, animator, where)
        row.roles = [Role.ANIMATOR.value]
    assert animator.id is not None
    return where, animator.id


DRAFT = MeetingDraft(
    title="Rencontre d’automne",
    starts_at=LATER,
    ends_at=LATER + timedelta(hours=7),
    mode=MeetingMode.HYBRID,
    place="CLSC de Longueuil, salle 204",
    online_link="https://teams.microsoft.com/l/meetup-join/exemple",
    general_objective="Mieux accompagner",
    specific_objectives=["Connaître les ressources"],
)
AGENDA = [AgendaDraft(starts_at=LATER, title="Accueil", volet=Volet.LOGISTICS)]


async def test_two_publishes_of_one_draft_at_once_make_one_meeting(db: SessionFactory) -> None:
    where, animator = await _animated(db)

    async def publish(session: AsyncSession) -> tuple[Meeting, bool]:
        return await meetings.plan_meeting(
            session,
            community_id=where.id or 0,
            by_person_id=animator,
            draft=DRAFT,
            agenda=AGENDA,
            now=START,
            draft_key="a" * 32,
        )

    results = await at_once(db, publish, publish, publish)
    assert not [r for r in results if isinstance(r, BaseException)], results
    created = [r for r in results if not isinstance(r, BaseException) and r[1]]
    assert len(created) == 1
    async with db() as session:
        assert len((await session.exec(select(Meeting))).all()) == 1


async def test_two_cancels_and_two_restores_at_once_act_once(db: SessionFactory) -> None:
    where, animator = await _animated(db)
    async with transaction(db) as session:
        meeting = await factories.meeting(session, where, starts_at=LATER)
    meeting_id = meeting.id or 0

    async def cancel(session: AsyncSession) -> Any:
        return await meetings.cancel_meeting(
            session, meeting_id=meeting_id, by_person_id=animator, now=START
        )

    results = await at_once(db, cancel, cancel)
    refused = [r for r in results if isinstance(r, InvalidMeeting)]
    assert len(refused) == 1
    assert str(refused[0]) == "already_cancelled"

    async def restore(session: AsyncSession) -> Any:
        return await meetings.restore_meeting(
            session, meeting_id=meeting_id, by_person_id=animator, now=START
        )

    results = await at_once(db, restore, restore)
    refused = [r for r in results if isinstance(r, InvalidMeeting)]
    assert [str(r) for r in refused] == ["not_cancelled"]
    async with db() as session:
        stored = await session.get(Meeting, meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.SCHEDULED
    assert stored.sequence == 2


# -- the calendar file -------------------------------------------------------------------------


def test_text_is_escaped_and_long_lines_are_folded_between_characters() -> None:
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "DESCRIPTION:" + "é" * 100
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(part.encode("utf-8")) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(part.removeprefix(" ") if i else part for i, part in enumerate(parts)) == line


def test_an_untitled_virtual_meeting_in_english() -> None:
    where = Community(id=3, name="CoP Palliative care", domain="", tenant_id="t")
    meeting = Meeting(
        id=9,
        community_id=3,
        title="",
        starts_at=LATER,
        ends_at=LATER + timedelta(hours=2),
        mode=MeetingMode.VIRTUAL,
        place=None,
        online_link="https://teams.microsoft.com/l/x,y",
        created_at=START,
    )
    ics = build_meeting_ics(meeting, where, [], locale="en-CA", tz="America/Montreal", now=START)
    assert "SUMMARY:CoP Palliative care meeting\r\n" in ics
    assert "LOCATION:https://teams.microsoft.com/l/x\\,y\r\n" in ics
    assert "URL:https://teams.microsoft.com/l/x,y\r\n" in ics
    assert "DTSTART:20261223T140000Z\r\n" in ics
    assert "UID:meeting-9-20261123T140000Z@carrefour\r\n" in ics
