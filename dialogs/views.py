"""Gathering what a card shows from storage (cards never do I/O)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from cards.community import OnePager
from storage import communities, review
from storage.models import Community, Role

# The latest productions the one-pager lists (the register has them all: `productions`).
ONE_PAGER_PRODUCTIONS = 5


async def load_one_pager(
    session: AsyncSession, community: Community, *, now: datetime | None = None
) -> OnePager:
    assert community.id is not None
    animators = await communities.people_with_role(
        session, community_id=community.id, roles=[Role.ANIMATOR]
    )
    return OnePager(
        community=community,
        animators=[person.name or "" for person in animators if person.name],
        next_meeting=await communities.next_meeting(session, community_id=community.id, now=now),
        member_count=await communities.member_count(session, community_id=community.id),
        productions=await review.productions(
            session, community_id=community.id, limit=ONE_PAGER_PRODUCTIONS
        ),
    )
