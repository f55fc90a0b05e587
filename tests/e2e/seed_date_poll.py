"""Seed what test_playground_date_poll.py shows in the e2e bot's database (DATABASE_URL), in two
steps around what the facilitator does in the Playground, on the demo community (`carrefour demo
seed`, community 1).

    python -m tests.e2e.seed_date_poll bind <facilitator's Teams user id> <team id> <channel id>
    python -m tests.e2e.seed_date_poll close <now, ISO 8601 with its offset>

`bind`: the facilitator (who has written to the bot once, so their person exists) becomes a
member and facilitator of the demo community, bound to the Playground's channel, and its
register holds three productions (two naming consenting contributors), which its one-pager
lists.

`close`: started before the facilitator launches the date poll, it waits until the poll is
posted, then plays its week as it would go (the browser stays on the channel). Four demo
members vote a day before the poll closes (the ballots through storage/polls.py `vote`, with the
bot's own voter key: run it in the bot's working directory), then, at `now` (after the closing
time), the two real jobs run with that clock: `close_polls` (bot/polls_flow.py
`close_expired_polls`) closes the poll, and `date_poll_outcomes` (bot/planning_flow.py
`announce_closed_date_polls`) queues the winning date to the channel, where the running bot's
outbox posts it. The bot itself runs on the wall clock, so its own jobs leave the poll open.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select

from bot.planning_flow import announce_closed_date_polls
from bot.polls_flow import _voter_key, close_expired_polls
from bot.registry import JobContext
from bot.settings import Settings
from storage import planning, polls
from storage.db import SessionFactory, transaction
from storage.models import (
    DatePoll,
    Poll,
    ProductionKind,
    Role,
)
from tests.e2e.seeding import (
    COMMUNITY_ID,
    SeededProduction,
    add_productions,
    bind_demo,
    bot_database,
    membership,
    person,
)

# The demo's people (bot/demo.py PEOPLE, in order): 29:demo-<n>.
LEA, CHLOE, EMILIE, SARAH = (f"29:demo-{n}" for n in (1, 3, 5, 9))
PRODUCTIONS = (
    SeededProduction(
        "Aide-mémoire\u00a0: préparer la famille à un décès à domicile",
        ProductionKind.TOOL,
        date(2026, 2, 10),
        (LEA, CHLOE),
    ),
    SeededProduction(
        "Trajectoire de soins palliatifs à domicile en Montérégie",
        ProductionKind.CLINICAL_PROJECT,
        date(2026, 4, 15),
        (EMILIE,),
    ),
    SeededProduction(
        "Guide d’accompagnement du deuil des proches aidants",
        ProductionKind.GUIDE,
        date(2026, 5, 20),
    ),
)
# Each member ticks every date they can come to (options 0, 1, 2): the second date wins, 3 votes.
WAIT_FOR_POLL = timedelta(minutes=3)
BALLOTS = ((LEA, (0, 1)), (CHLOE, (1,)), (EMILIE, (1, 2)), (SARAH, (0,)))


async def bind(facilitator: str, team_id: str, channel_id: str) -> None:
    now = datetime.now(UTC)
    async with bot_database() as sessions, transaction(sessions) as session:
        await bind_demo(session, team_id, channel_id)
        by = await person(session, facilitator)
        session.add(membership(by, (Role.MEMBER, Role.ANIMATOR), now - timedelta(days=600)))
        await add_productions(
            session, PRODUCTIONS, by=by, key_prefix="e2e-date-poll-production", now=now
        )


async def _posted_date_poll(sessions: SessionFactory) -> Poll:
    """The demo's newest date poll once it is posted in the channel: the test starts this step
    before the facilitator launches it, so their browser stays on the channel and sees the
    outcome arrive in the poll's thread (the Playground forgets a thread when it is reopened)."""
    deadline = datetime.now(UTC) + WAIT_FOR_POLL
    while True:
        async with sessions() as session:
            poll = (
                await session.exec(
                    select(Poll)
                    .join(DatePoll, col(DatePoll.poll_id) == col(Poll.id))
                    .where(col(Poll.community_id) == COMMUNITY_ID)
                    .where(col(Poll.activity_id).is_not(None))
                    .order_by(col(Poll.id).desc())
                )
            ).first()
        if poll is not None:
            return poll
        assert datetime.now(UTC) < deadline, "no date poll was posted in the channel"
        await asyncio.sleep(0.5)


async def close(now: datetime) -> None:
    settings = Settings()
    async with bot_database() as sessions:
        poll = await _posted_date_poll(sessions)
        assert poll.id is not None
        assert now > poll.closes_at, (now, poll.closes_at)
        voted_at = poll.closes_at - timedelta(days=1)
        async with transaction(sessions) as session:
            for key, choices in BALLOTS:
                voter = await person(session, key)
                await polls.vote(
                    session,
                    poll_id=poll.id,
                    person_id=voter.id or 0,
                    choices=list(choices),
                    key=_voter_key(settings),
                    now=voted_at,
                )

        def wake() -> None:
            """The running bot polls its outbox; nothing to wake in this process."""

        assert await close_expired_polls(sessions=sessions, now=now, wake=wake) == 1
        context = JobContext(settings=settings, sessions=sessions, wake=wake, clock=lambda: now)
        assert await announce_closed_date_polls(context) == 1
        async with sessions() as session:
            assert not await planning.closed_unannounced(session)


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["bind", facilitator, team_id, channel_id]:
            asyncio.run(bind(facilitator, team_id, channel_id))
        case ["close", at]:
            asyncio.run(close(datetime.fromisoformat(at)))
        case _:
            sys.exit(__doc__)
