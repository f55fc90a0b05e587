"""What the e2e seed scripts (seed_*.py) share: the demo community of `carrefour demo seed`, its
people looked up by Teams id, a membership as the join dialog records one, the demo bound to the
Playground's channel, and productions with their consenting contributors.

The seeds run in a process of their own against the bot's database (DATABASE_URL), on the wall
clock, as the bot under test does."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import SessionFactory, create_engine, session_factory
from storage.models import (
    Community,
    Membership,
    Person,
    Production,
    ProductionContributor,
    ProductionKind,
    Role,
)

COMMUNITY_ID = 1  # the demo community


@asynccontextmanager
async def bot_database() -> AsyncIterator[SessionFactory]:
    """Sessions on the bot's database, its engine disposed of at the end."""
    engine = create_engine(os.environ["DATABASE_URL"])
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def person(session: AsyncSession, teams_user_id: str) -> Person:
    """Someone the bot knows (a demo member, or a Playground person who wrote to it once)."""
    found = (await session.exec(select(Person).where(Person.teams_user_id == teams_user_id))).one()
    assert found.id is not None
    return found


def membership(
    someone: Person, roles: Iterable[Role], joined_at: datetime, community_id: int = COMMUNITY_ID
) -> Membership:
    """A membership with the profile the join dialog asks for (a social worker of the
    Montérégie)."""
    return Membership(
        person_id=someone.id or 0,
        community_id=community_id,
        roles=[role.value for role in roles],
        discipline="social_work",
        establishment="CISSS de la Montérégie-Centre",
        region="16",
        joined_at=joined_at,
    )


async def bind_demo(session: AsyncSession, team_id: str, channel_id: str) -> Community:
    """The demo community bound to the Playground's team channel (its facilitators' channel
    commands work there only)."""
    demo = await session.get(Community, COMMUNITY_ID)
    assert demo is not None
    demo.team_id, demo.teams_channel_id = team_id, channel_id
    session.add(demo)
    return demo


@dataclass(frozen=True)
class SeededProduction:
    title: str
    kind: ProductionKind
    produced_on: date
    contributors: tuple[str, ...] = ()  # Teams ids of those who named themselves
    url: str | None = None


async def add_productions(
    session: AsyncSession,
    productions: Iterable[SeededProduction],
    *,
    by: Person,
    key_prefix: str,
    now: datetime,
) -> None:
    """The demo's register of productions, each contributor's consent given `now`."""
    for n, seeded in enumerate(productions):
        production = Production(
            community_id=COMMUNITY_ID,
            title=seeded.title,
            kind=seeded.kind,
            produced_on=seeded.produced_on,
            url=seeded.url,
            created_by_id=by.id,
            request_key=f"{key_prefix}-{n}",
            created_at=now,
            updated_at=now,
        )
        session.add(production)
        await session.flush()
        for key in seeded.contributors:
            contributor = await person(session, key)
            session.add(
                ProductionContributor(
                    production_id=production.id or 0,
                    person_id=contributor.id or 0,
                    consented_at=now,
                )
            )
