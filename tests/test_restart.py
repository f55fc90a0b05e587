"""A restart loses nothing in progress: half-finished dialogs, queued messages, open polls and
reminders that fell due while the bot was down all resume.

Each test stops the app built by `create_app` and starts a new one on the same database (a
SQLite file, and PostgreSQL): only the database carries over, no object survives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import REGISTRY, RUNTIME, create_app
from bot.scheduler import Jobs
from cards.i18n import format_when, translator
from storage.db import transaction
from storage.models import Poll, PollVote
from tests import factories
from tests.activities import message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector, Received
from tests.support import Clock, dispatcher
from tests.test_communities import (
    ANIMATOR,
    CHANNEL,
    JOIN_ANSWERS,
    MEMBER,
    SETUP_FORM,
    Chat,
    card_text,
    set_up_community,
)
from tests.test_polls import form_values

Client = TestClient[web.Request, web.Application]
NEWCOMER = user(3, "Amélie Roy")
TIMEZONE = "America/Montreal"
fr = translator("fr-CA")
en = translator("en-US")


@asynccontextmanager
async def bot_process(database_url: str) -> AsyncIterator[Client]:
    """One run of the bot: a fresh app on the database, stopped at the end of the block."""
    client = TestClient(TestServer(create_app(make_settings(database_url))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()  # the process is gone; only the database remains


async def test_a_dialog_started_before_a_restart_continues_after_it(
    database_url: str, connector: FakeConnector
) -> None:
    first = TestClient(TestServer(create_app(make_settings(database_url))))
    await first.start_server()
    await first.post("/api/messages", json=message("langue", service_url=connector.url))
    await first.close()  # the process is gone; only the database remains
    assert connector.texts() == [
        "Dans quelle langue voulez-vous que je vous écrive\u00a0?\n\n"
        "Which language would you like me to use?"
    ]

    second = TestClient(TestServer(create_app(make_settings(database_url))))
    await second.start_server()
    try:
        await second.post("/api/messages", json=message("English", service_url=connector.url))
        await second.post("/api/messages", json=message("aide", service_url=connector.url))
    finally:
        await second.close()
    assert connector.texts()[1] == "Got it: I will write to you in English."
    assert connector.cards()[-1]["body"][0]["text"] == "Carrefour — your communities of practice"


def _card_updates(connector: FakeConnector, activity_id: str) -> list[dict[str, Any]]:
    """The cards that replaced the channel card `activity_id` in place (PUT), in order."""
    path = f"/v3/conversations/{CHANNEL}/activities/{activity_id}"
    return [
        r.body["attachments"][0]["content"]
        for r in connector.received
        if r.method == "PUT" and r.path == path
    ]


async def _ballots(runtime: Any) -> list[list[int]]:
    """The stored choices (the anonymous poll's card shows no counts before closing)."""
    async with runtime.sessions() as session:
        return sorted(vote.choices for vote in (await session.exec(select(PollVote))).all())


def _channel_posts(connector: FakeConnector) -> list[Received]:
    return [
        r
        for r in connector.received
        if r.method == "POST" and r.conversation_id == CHANNEL and r.body.get("attachments")
    ]


def _reminders(connector: FakeConnector, title: str) -> list[dict[str, Any]]:
    return [card for card in connector.cards() if title in card_text(card)]


async def test_reminders_polls_dialogs_and_queued_messages_resume_after_a_restart(
    database_url: str, connector: FakeConnector
) -> None:
    community_name = SETUP_FORM["name"]
    meeting_at = (datetime.now(UTC) + timedelta(days=30)).replace(second=0, microsecond=0)
    poll_day = (datetime.now(ZoneInfo(TIMEZONE)) + timedelta(days=7)).date()
    joined = fr("join.notice_animators", name=MEMBER["name"], community=community_name)
    reminder_title = fr("reminder.title", community=community_name)

    # -- before the stop -----------------------------------------------------------------------
    async with bot_process(database_url) as first:
        runtime = first.app[RUNTIME]
        community = await set_up_community(first, connector)
        animator = Chat(first, connector, ANIMATOR)
        member = Chat(first, connector, MEMBER)
        await member.say("rejoindre")
        for answer in JOIN_ANSWERS:
            await member.say(answer)

        # Someone who chose English (while Teams says fr-CA) is halfway through joining.
        newcomer = Chat(first, connector, NEWCOMER)
        await newcomer.say("langue en")
        for answer in ["rejoindre", "nursing", "CISSS de Laval"]:
            await newcomer.say(answer)
        assert newcomer.last_text().startswith(en("join.ask_region"))

        # A meeting whose reminders are not due yet.
        async with transaction(runtime.sessions) as session:
            meeting = await factories.meeting(session, community, starts_at=meeting_at)
        early = Clock(now=meeting_at - timedelta(days=8))
        jobs = Jobs(
            jobs=REGISTRY.jobs,
            settings=runtime.settings,
            sessions=runtime.sessions,
            wake_dispatcher=lambda: None,
            clock=early,
        )
        assert await jobs.run("meeting_reminders") == 0

        # An anonymous poll, posted in the channel, with one vote.
        await animator.click(
            form_values(anonymous="true", close_date=poll_day.isoformat()), channel=True
        )
        async with runtime.sessions() as session:
            poll = (await session.exec(select(Poll))).one()
        assert poll.activity_id is not None
        await member.click({"verb": "polls.vote", "poll_id": poll.id, "choice": "0"}, channel=True)
        (after_first_vote,) = _card_updates(connector, poll.activity_id)
        assert fr("polls.card.voters_one") in card_text(after_first_vote)
        assert await _ballots(runtime) == [[0]]

        # The animators' notice of the member's arrival is queued, not sent (no dispatcher ran).
        assert joined not in connector.texts()
    assert _reminders(connector, reminder_title) == []
    posts_before = len(_channel_posts(connector))

    # -- a new process on the same database ----------------------------------------------------
    async with bot_process(database_url) as second:
        runtime = second.app[RUNTIME]
        clock = Clock(now=datetime.now(UTC))
        jobs = Jobs(
            jobs=REGISTRY.jobs,
            settings=runtime.settings,
            sessions=runtime.sessions,
            wake_dispatcher=lambda: None,
            clock=clock,
        )
        deliver = dispatcher(runtime, clock)

        # The message queued before the stop is delivered, once (a later run sends it no more).
        await deliver.dispatch_once()
        clock.advance(minutes=10)
        await deliver.dispatch_once()
        assert connector.texts().count(joined) == 1

        # The half-finished dialog continues at the question it was at, in English.
        newcomer = Chat(second, connector, NEWCOMER)
        await newcomer.say("13")
        assert newcomer.last_text().startswith(en("join.ask_interests"))
        for answer in ["2", "No", "Neither"]:
            await newcomer.say(answer)
        summary = newcomer.last_text()
        assert "- Discipline: Nursing" in summary  # answers given before the restart are kept
        assert "- Establishment: CISSS de Laval" in summary
        await newcomer.say("Confirm")
        assert connector.cards()[-2]["body"][0]["text"] == en(
            "join.welcome.title", community=community_name, name="Amélie"
        )

        # The poll still takes votes; its card changes in place. The member's anonymous ballot
        # is still theirs: changing it replaces it rather than adding a second one.
        member = Chat(second, connector, MEMBER)
        await member.click({"verb": "polls.vote", "poll_id": poll.id, "choice": "1"}, channel=True)
        changed = _card_updates(connector, poll.activity_id)[-1]
        assert fr("polls.card.voters_one") in card_text(changed)
        assert await _ballots(runtime) == [[1]]
        newcomer = Chat(second, connector, NEWCOMER)
        await newcomer.click(
            {"verb": "polls.vote", "poll_id": poll.id, "choice": "1"}, channel=True
        )
        two_votes = _card_updates(connector, poll.activity_id)[-1]
        assert fr("polls.card.voters_many", count=2) in card_text(two_votes)
        assert await _ballots(runtime) == [[1], [1]]

        # The closing job closes it at the planned time, and not before.
        clock.now = poll.closes_at - timedelta(seconds=1)
        assert await jobs.run("close_polls") == 0
        clock.now = poll.closes_at
        assert await jobs.run("close_polls") == 1
        await deliver.dispatch_once()
        closed = fr(
            "polls.card.closed",
            when=format_when(poll.closes_at, locale="fr-CA", tz=TIMEZONE),
        )
        final = _card_updates(connector, poll.activity_id)[-1]
        assert closed in card_text(final)
        # Two voters, fewer than k: an anonymous poll's counts stay hidden at closing too.
        assert fr("polls.card.too_few", k=5) in card_text(final)
        results_title = fr("polls.results.title", community=community_name)
        assert len([c for c in connector.cards() if results_title in card_text(c)]) == 1
        assert await jobs.run("close_polls") == 0
        assert await deliver.dispatch_once() == 0

        # The J-1 reminder fell due while the bot was down: the catch-up sends it, once.
        clock.now = meeting.starts_at - timedelta(hours=20)
        assert await jobs.run("meeting_reminders") == 1
        await deliver.dispatch_once()
        clock.advance(minutes=1)  # the job's next run
        assert await jobs.run("meeting_reminders") == 0
        await deliver.dispatch_once()

    personal = f"a:personal-{MEMBER['id']}"
    (reminder,) = _reminders(connector, reminder_title)
    assert reminder in connector.cards(personal)
    # Every poll card change after the restart was an update, never a new post in the channel.
    assert len(_channel_posts(connector)) == posts_before
    assert connector.duplicates() == {}
