"""Seed a started codevelopment group in the e2e bot's database (DATABASE_URL), for
test_playground_practice.py: creating one takes a Teams dialog, which the Playground lacks.

    python -m tests.e2e.seed_codevelopment "<group name>" <facilitator's Teams user id>

On the demo community (`carrefour demo seed`, community 1), whose facilitator the given person
is: six demo members invited, all accepting, six sessions planned from a Tuesday three weeks
ahead (after the holiday break), 13 h, Montréal time. The bot under test runs on the wall
clock, so this does too.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from storage import codevelopment as codev
from storage.db import transaction
from storage.models import Person
from tests.e2e.seeding import COMMUNITY_ID, bot_database, person

DEMO_MEMBERS = [f"29:demo-{n}" for n in range(4, 10)]
PLACE = "CLSC Samuel-de-Champlain, salle 204, Brossard"
TUESDAY = 1


async def seed(name: str, facilitator: str) -> None:
    now = datetime.now(UTC)
    day = date.today() + timedelta(days=21)
    # A Tuesday out of the holiday break (no meeting from 24 December to 2 January).
    while (
        day.weekday() != TUESDAY or (day.month, day.day) >= (12, 24) or day < date(day.year, 1, 3)
    ):
        day += timedelta(days=1)
    first = datetime.combine(day, time(13, 0), tzinfo=ZoneInfo("America/Montreal"))
    async with bot_database() as sessions, transaction(sessions) as session:
        by = await person(session, facilitator)
        members = (
            await session.exec(select(Person).where(col(Person.teams_user_id).in_(DEMO_MEMBERS)))
        ).all()
        assert by.id is not None
        group, _ = await codev.create_group(
            session,
            draft=codev.GroupDraft(community_id=COMMUNITY_ID, name=name, facilitator_id=by.id),
            created_by_id=by.id,
            request_key=None,
            now=now,
        )
        assert group.id is not None
        await codev.invite(
            session,
            group_id=group.id,
            person_ids=[p.id for p in members if p.id is not None],
            by_id=by.id,
            now=now,
        )
        for member in members:
            assert member.id is not None
            await codev.answer_invitation(
                session, group_id=group.id, person_id=member.id, accept=True, now=now
            )
        await codev.plan_series(
            session,
            group_id=group.id,
            by_id=by.id,
            # Local: the series keeps 13 h across daylight saving time.
            draft=codev.SeriesDraft(first_start=first, count=6, place=PLACE),
            now=now,
        )


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1], sys.argv[2]))
