"""Codevelopment sessions count toward attestations like meetings: the confirmed sessions of a
community's groups are listed on its attestation (the group's name and the session's number),
add to the total hours and to the links' summaries; nobody gets hours for a session they did
not attend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from cards.attestation_pdf import build_attestation_pdf
from storage import attestations, meetings
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    CodevAttendance,
    CodevGroup,
    CodevGroupStatus,
    CodevSession,
    CodevSessionStatus,
    Community,
    Person,
)
from tests import factories
from tests.test_attestations import pdf_text

MONTREAL = ZoneInfo("America/Montreal")
TZ = "America/Montreal"
CONFIRMED = datetime(2026, 12, 1, tzinfo=UTC)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=MONTREAL).astimezone(UTC)


@dataclass
class World:
    community: Community
    elsewhere: Community
    lea: Person  # two sessions (180 minutes each) and one meeting (7 h)
    samuel: Person  # the meeting only: a member of the group, absent from its sessions


async def _codev_session(
    session: AsyncSession,
    group: CodevGroup,
    number: int,
    starts_at: datetime,
    present: list[Person],
    *,
    confirmed: bool = True,
) -> CodevSession:
    row = CodevSession(
        group_id=group.id or 0,
        number=number,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=180),
        status=CodevSessionStatus.DONE,
        step=7,
        attendance_confirmed_at=CONFIRMED if confirmed else None,
    )
    session.add(row)
    await session.flush()
    for who in present:
        session.add(
            CodevAttendance(
                session_id=row.id or 0,
                person_id=who.id or 0,
                minutes=180,
                confirmed_at=CONFIRMED,
            )
        )
    await session.flush()
    return row


async def build_world(sessions: SessionFactory) -> World:
    async with transaction(sessions) as session:
        community = await factories.community(session, name="CdeP Soins palliatifs Montérégie")
        elsewhere = await factories.community(session, name="CdeP Organisation communautaire")
        lea = await factories.person(session, 1)
        lea.name = "Léa Tremblay-Côté"
        samuel = await factories.person(session, 2, locale="en-US")
        samuel.name = "Samuel Gagnon"
        for who in (lea, samuel):
            await factories.member(session, who, community)
            await factories.member(session, who, elsewhere)
        group = CodevGroup(
            community_id=community.id or 0,
            name="Groupe Rive-Sud",
            facilitator_id=lea.id,
            status=CodevGroupStatus.STARTED,
        )
        other_group = CodevGroup(
            community_id=elsewhere.id or 0,
            name="Groupe Montréal",
            facilitator_id=lea.id,
            status=CodevGroupStatus.STARTED,
        )
        session.add_all([group, other_group])
        await session.flush()
        await _codev_session(session, group, 1, _at(date(2026, 3, 5), 9), [lea])
        await _codev_session(session, group, 2, _at(date(2026, 4, 16), 13), [lea])
        # Not confirmed yet: counts for nobody.
        await _codev_session(session, group, 3, _at(date(2026, 5, 28), 9), [lea], confirmed=False)
        # Another community's group, and a session outside the period.
        await _codev_session(session, other_group, 1, _at(date(2026, 6, 4), 9), [lea])
        await _codev_session(session, group, 4, _at(date(2027, 1, 7), 9), [lea])
        meeting = await factories.meeting(session, community, starts_at=_at(date(2026, 2, 12), 9))
        await meetings.confirm_attendance(
            session,
            meeting_id=meeting.id or 0,
            by_person_id=None,
            attendee_ids=[lea.id or 0, samuel.id or 0],
            now=CONFIRMED,
        )
    return World(community, elsewhere, lea, samuel)


async def _attestation(
    sessions: SessionFactory, world: World, who: Person
) -> attestations.AttestationData:
    async with sessions() as session:
        data = await attestations.load_attestation(
            session,
            person_id=who.id or 0,
            community_id=world.community.id or 0,
            start=YEAR[0],
            end=YEAR[1],
            issued_on=date(2026, 12, 2),
            tz=TZ,
        )
    assert data is not None
    return data


async def test_confirmed_sessions_add_their_hours_to_the_attestation(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    lea = await _attestation(sessions, world, world.lea)
    samuel = await _attestation(sessions, world, world.samuel)

    # The meeting (7 h) and the two confirmed sessions of this community's group, oldest first.
    assert [(m.codev_number, m.minutes) for m in lea.meetings] == [(None, 420), (1, 180), (2, 180)]
    total = attestations.totals(lea.meetings)
    assert (total.meetings, total.minutes, total.hours, total.uec) == (
        3,
        780,
        Decimal("13.00"),
        Decimal("1.30"),
    )
    # Samuel sits in no session: the meeting alone.
    assert [(m.codev_number, m.minutes) for m in samuel.meetings] == [(None, 420)]
    assert attestations.totals(samuel.meetings).hours == 7


async def test_the_pdf_names_the_group_and_the_session_in_french_and_english(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    data = await _attestation(sessions, world, world.lea)

    french = pdf_text(build_attestation_pdf(data, locale="fr-CA", tz=TZ))
    for expected in (
        "Codéveloppement — Groupe Rive-Sud, séance 1",
        "Codéveloppement — Groupe Rive-Sud, séance 2",
        "5 mars 2026",
        "16 avril 2026",
        "13 h à 16 h",  # pdf_text() folds the non-breaking spaces
        "Total : 3 rencontres, 13 h",
        "Unités d’éducation continue (UEC) : 1,3",
    ):
        assert expected in french, expected
    for absent in ("séance 3", "séance 4", "Groupe Montréal"):
        assert absent not in french, absent

    english = pdf_text(build_attestation_pdf(data, locale="en-CA", tz=TZ))
    for expected in (
        "Codevelopment — Groupe Rive-Sud, session 1",
        "Codevelopment — Groupe Rive-Sud, session 2",
        "March 5, 2026",
        "Total: 3 meetings, 13 h",
    ):
        assert expected in english, expected

    samuel = pdf_text(
        build_attestation_pdf(
            await _attestation(sessions, world, world.samuel), locale="en-CA", tz=TZ
        )
    )
    assert "Codevelopment" not in samuel
    assert "Total: 1 meeting, 7 h" in samuel


async def test_summaries_count_sessions_on_each_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        world = await build_world(sessions)
        async with sessions() as session:
            everyone = await attestations.attendance_summaries(
                session, start=YEAR[0], end=YEAR[1], tz=TZ
            )
            mine = await attestations.attendance_summaries(
                session, start=YEAR[0], end=YEAR[1], tz=TZ, person_id=world.lea.id
            )
            here = await attestations.attendance_summaries(
                session, start=YEAR[0], end=YEAR[1], tz=TZ, community_id=world.community.id
            )
    finally:
        await engine.dispose()
    rows = [(s.person_name, s.community_name, s.meetings, s.minutes) for s in everyone]
    assert rows == [
        # Only a session of the other community's group: it still gets an attestation there.
        ("Léa Tremblay-Côté", "CdeP Organisation communautaire", 1, 180),
        ("Léa Tremblay-Côté", "CdeP Soins palliatifs Montérégie", 3, 780),
        ("Samuel Gagnon", "CdeP Soins palliatifs Montérégie", 1, 420),
    ]
    assert [(s.community_name, s.minutes) for s in mine] == [
        ("CdeP Organisation communautaire", 180),
        ("CdeP Soins palliatifs Montérégie", 780),
    ]
    assert [(s.person_name, s.minutes, s.excluded_minutes) for s in here] == [
        ("Léa Tremblay-Côté", 780, 0),
        ("Samuel Gagnon", 420, 0),
    ]
