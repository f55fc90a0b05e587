"""No click lost, none doubled: how turns are admitted, and replies Teams throttles.

- An activity's claim is a lease while its turn runs, final once its work is done: a retry
  after a completed turn is ignored, a retry during a live (slow) first delivery is not
  processed again, and a retry after the first delivery's process was killed is processed.
- One person's turns in one conversation run one after the other, on one replica or several:
  a double click on a form's confirmation sends it once, and the second click is told so.
- Replies Teams throttles are sent again within the turn; what it keeps refusing goes to the
  outbox, and the dispatcher delivers it once Teams takes messages again.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import RUNTIME, create_app
from bot.claims import TurnClaims, TurnKeys
from cards.i18n import translator
from storage import activities
from storage.activities import Admission
from storage.db import SessionFactory, create_engine, engine_of, session_factory
from storage.models import (
    ConsultationRequest,
    Membership,
    OutboxStatus,
    ProcessedActivity,
)
from tests.activities import message
from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.fake_connector import FakeConnector
from tests.support import START, Clock, dispatcher, queued
from tests.test_consultations import AVAILABILITY, SUMMARY, scene
from tests.test_replicas import JOIN, MEMBER, Replica, _create_community, _ready, _say

Client = TestClient[web.Request, web.Application]
fr = translator("fr-CA")
en = translator("en-US")
# The language question is asked in both languages (the client's locale may not be the reader's).
BILINGUAL_PROMPT = f"{fr('language.prompt')}\n\n{en('language.prompt')}"
APOLOGY = fr("error.apology")
LEASE = timedelta(seconds=5)
COMMUNITY = "CdeP Organisation communautaire"  # as tests/test_replicas.py creates it
REGION = fr("join.ask_region")


def said(body: dict[str, Any]) -> str | None:
    """What a person reads first in an activity: its text, else its card's first text."""
    if isinstance(body.get("text"), str):
        return str(body["text"])
    for attachment in body.get("attachments") or []:
        if attachment.get("contentType") == "application/vnd.microsoft.card.hero":
            return str(attachment["content"].get("text") or "")
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            return str(attachment["content"]["body"][0].get("text") or "")
    return None


@pytest.fixture
async def sessions_on(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def admit(
    sessions: SessionFactory,
    *,
    activity: str = "a:1|m-1",
    turn: str = "T",
    owner: str,
    at: timedelta = timedelta(0),
) -> Admission:
    """A turn's first transaction as the handler runs it: kept only when admitted."""
    async with engine_of(sessions).connect() as connection:
        transaction = await connection.begin()
        admission = await activities.admit_in(
            connection, activity=activity, turn=turn, owner=owner, now=START + at, lease=LEASE
        )
        if admission is Admission.TAKEN:
            await transaction.commit()
        else:
            await transaction.rollback()
    return admission


async def claimed(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return sorted((await session.exec(select(col(ProcessedActivity.activity_key)))).all())


# -- the rows and their rules, on both databases ---------------------------------------------


async def test_a_claim_keeps_retries_out_while_its_lease_lives_and_for_good_once_done(
    sessions_on: SessionFactory,
) -> None:
    assert await admit(sessions_on, owner="first") is Admission.TAKEN
    # Teams' retry while the first delivery runs (another replica).
    assert await admit(sessions_on, owner="second", at=timedelta(seconds=4)) is (
        Admission.IN_PROGRESS
    )
    await activities.finish(sessions_on, owner="first", activity="a:1|m-1")
    # Done is final: even long after any lease, a retry is a duplicate.
    assert await admit(sessions_on, owner="second", at=timedelta(hours=1)) is Admission.DONE
    # The sender's turn was freed with it: their next message runs at once.
    assert await admit(sessions_on, activity="a:1|m-2", owner="second") is Admission.TAKEN


async def test_a_claim_whose_holder_stopped_renewing_it_is_taken_over(
    sessions_on: SessionFactory,
) -> None:
    assert await admit(sessions_on, owner="killed") is Admission.TAKEN
    # Renewed once, then the process dies: the lease runs out 5 s after the renewal.
    await activities.renew(
        sessions_on, owner="killed", activities=["a:1|m-1"], until=START + timedelta(seconds=7)
    )
    assert await admit(sessions_on, owner="retry", at=timedelta(seconds=6.9)) is (
        Admission.IN_PROGRESS
    )
    assert await admit(sessions_on, owner="retry", at=timedelta(seconds=7.1)) is Admission.TAKEN
    # The dead holder's late mark changes nothing: the claim is the retry's.
    await activities.finish(sessions_on, owner="killed", activity="a:1|m-1")
    assert await admit(sessions_on, owner="third", at=timedelta(seconds=8)) is (
        Admission.IN_PROGRESS
    )
    await activities.finish(sessions_on, owner="retry", activity="a:1|m-1")
    assert await admit(sessions_on, owner="third", at=timedelta(seconds=8)) is Admission.DONE


async def test_one_senders_turns_wait_for_each_other_and_others_do_not(
    sessions_on: SessionFactory,
) -> None:
    assert await admit(sessions_on, activity="a:1|m-1", owner="first") is Admission.TAKEN
    # A second click of the same person: another activity, the same turn.
    assert await admit(sessions_on, activity="a:1|m-2", owner="second") is Admission.LOCKED
    # Someone else, or the same person elsewhere, is not held up.
    assert await admit(sessions_on, activity="a:1|m-3", turn="U", owner="x") is Admission.TAKEN
    # A refused turn left nothing behind: its activity is still free.
    assert await claimed(sessions_on) == ["a:1|m-1", "a:1|m-3"]
    # A turn that failed gives its claim back: Teams' retry of it is processed.
    await activities.release(sessions_on, owner="first", activity="a:1|m-1")
    assert await admit(sessions_on, activity="a:1|m-1", owner="retry") is Admission.TAKEN


async def test_a_dead_turn_holds_up_its_senders_next_one_only_until_its_lease_ends(
    sessions_on: SessionFactory,
) -> None:
    assert await admit(sessions_on, activity="a:1|m-1", owner="killed") is Admission.TAKEN
    later = timedelta(seconds=6)
    assert await admit(sessions_on, activity="a:1|m-2", owner="next", at=later) is (
        Admission.LOCKED
    )
    assert not await activities.free_expired_turn(sessions_on, turn="T", now=START)
    assert await activities.free_expired_turn(sessions_on, turn="T", now=START + later)
    assert await admit(sessions_on, activity="a:1|m-2", owner="next", at=later) is (Admission.TAKEN)
    # The dead turn's own retry still takes it over, once the next turn is done.
    retry = timedelta(seconds=7)
    assert await admit(sessions_on, owner="retry", at=retry) is Admission.LOCKED
    await activities.finish(sessions_on, owner="next", activity="a:1|m-2")
    assert await admit(sessions_on, owner="retry", at=retry) is Admission.TAKEN


async def test_old_claims_are_purged_even_those_of_dead_processes(
    sessions_on: SessionFactory,
) -> None:
    assert await admit(sessions_on, owner="killed") is Admission.TAKEN
    purged = await activities.purge_processed(
        sessions_on, older_than=timedelta(hours=48), now=START + timedelta(hours=49)
    )
    assert purged == 1
    assert await claimed(sessions_on) == []


# -- over HTTP: Teams' retries ---------------------------------------------------------------


@asynccontextmanager
async def replicas(database_url: str, count: int, **settings: Any) -> AsyncIterator[list[Client]]:
    """`count` bots on one database, as behind a load balancer (each its own process state)."""
    clients = [
        TestClient(TestServer(create_app(make_settings(database_url, **settings))))
        for _ in range(count)
    ]
    for client in clients:
        await client.start_server()
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


async def post(client: Client, activity: dict[str, Any]) -> None:
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201), await response.text()


async def test_a_retry_after_a_completed_turn_is_ignored(
    database_url: str, connector: FakeConnector
) -> None:
    activity = message("langue", service_url=connector.url, activity_id="retried")
    async with replicas(database_url, 2) as (first, second):
        await post(first, activity)
        await post(second, activity)
        await post(first, activity)
    assert connector.texts() == [BILINGUAL_PROMPT]


async def test_a_retry_during_a_slow_first_delivery_is_not_processed_again(
    database_url: str, connector: FakeConnector
) -> None:
    """The first delivery outlasts its lease three times over: its heartbeat keeps the claim,
    so the retry on another replica waits for it and then finds it done."""
    activity = message("langue", service_url=connector.url, activity_id="slow")
    async with replicas(database_url, 2, CARREFOUR_TURN_LEASE_SECONDS=1) as (first, second):
        connector.hold_next(1)
        slow = asyncio.create_task(post(first, activity))
        await connector.wait_held(1)
        retry = asyncio.create_task(post(second, activity))
        await asyncio.sleep(3)
        assert not retry.done()  # waiting for the first delivery, not answering on its own
        connector.release()
        await asyncio.gather(slow, retry)
    assert connector.texts() == [BILINGUAL_PROMPT]
    assert [r.status for r in connector.received] == [200]


async def test_a_turn_that_waited_past_its_budget_for_the_previous_one_says_so(
    sqlite_url: str, connector: FakeConnector
) -> None:
    connector.delivery_key = said
    async with replicas(
        sqlite_url, 1, CARREFOUR_TURN_LEASE_SECONDS=0.5, CARREFOUR_TURN_BUDGET_SECONDS=1
    ) as (bot,):
        connector.hold_next(1)
        slow = asyncio.create_task(post(bot, message("langue", service_url=connector.url)))
        await connector.wait_held(1)
        await post(bot, message("aide", service_url=connector.url, locale="en-US"))
        connector.release()
        await slow
    # Both answered, each once: the question once its turn was let go, the second message
    # with a word that it was not taken.
    assert connector.deliveries() == {en("turn.busy"): 1, BILINGUAL_PROMPT: 1}


async def test_a_turn_arriving_as_the_one_ahead_ends_still_waits_only_until_its_deadline(
    sqlite_url: str,
) -> None:
    """A third turn of one sender that comes in just as the first ends, before the second
    (woken) has taken its place, finds the queue free but not empty: it waits behind the
    second, and only until its own deadline."""
    engine = create_engine(sqlite_url)
    claims = TurnClaims(settings=make_settings(sqlite_url), sessions=session_factory(engine))
    keys = TurnKeys(activity=None, turn="a:one-conversation|29:one-person")
    second_holds = asyncio.Event()
    third: asyncio.Task[bool] | None = None

    async def turn(deadline_s: float, hold_s: float, started: asyncio.Event | None) -> bool:
        async with claims.queued(keys, time.monotonic() + deadline_s) as admitted:
            if admitted:
                if started is not None:
                    started.set()
                await asyncio.sleep(hold_s)
            return admitted

    async def third_turn() -> bool:
        return await turn(0.05, 0.0, None)

    try:
        async with claims.queued(keys, time.monotonic() + 5) as first:
            assert first
            second = asyncio.create_task(turn(5, 0.5, second_holds))
            await asyncio.sleep(0)  # the second waits for the first
            # Scheduled before the first lets go, so it runs before the second wakes.
            third = asyncio.create_task(third_turn())
        assert await second
        assert second_holds.is_set()
        # The second held its place for 0.5 s; the third gave up at its 0.05 s deadline.
        assert await asyncio.wait_for(third, timeout=0.4) is False
    finally:
        if third is not None and not third.done():
            third.cancel()
        await engine.dispose()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


async def test_a_retry_after_the_bot_was_killed_mid_turn_is_processed_once(
    postgres_url: str, connector: FakeConnector, tmp_path: Path
) -> None:
    """A real bot process, killed (SIGKILL) while its reply to a dialog answer is in flight;
    Teams' retry of that answer goes to another replica. Were the retry swallowed, the
    establishment would be lost and the next answer (the region) taken in its place."""
    connector.delivery_key = said
    _create_community(postgres_url)
    lease = {"CARREFOUR_TURN_LEASE_SECONDS": "2"}
    killed = Replica(postgres_url, tmp_path / "killed.log", lease)
    survivor = Replica(postgres_url, tmp_path / "survivor.log", lease)
    try:
        async with aiohttp.ClientSession() as http:
            await _ready(http, [killed, survivor])
            for text in JOIN[:2]:
                await _say(http, killed, connector, text)
            answer = message(JOIN[2], service_url=connector.url, sender=MEMBER)
            connector.hold_next(1)
            in_flight = asyncio.create_task(http.post(f"{killed.url}/api/messages", json=answer))
            await connector.wait_held(1)
            killed.kill()
            with pytest.raises(aiohttp.ClientError):
                await in_flight
            async with http.post(f"{survivor.url}/api/messages", json=answer) as response:
                assert response.status in (200, 201)
            connector.release()
            for text in JOIN[3:]:
                await _say(http, survivor, connector, text)
    finally:
        killed.kill()
        survivor.stop()
    engine = create_engine(postgres_url)
    try:
        async with session_factory(engine)() as session:
            memberships = (await session.exec(select(Membership))).all()
    finally:
        await engine.dispose()
    assert [(m.establishment, m.region) for m in memberships] == [("CLSC Longueuil-Ouest", "16")]
    # The question that follows the retried answer, asked once (by the survivor): every
    # message of the dialog was accepted once, the welcome included.
    delivered = connector.deliveries()
    assert [n for text, n in delivered.items() if text.startswith(REGION)] == [1]
    assert delivered[fr("join.welcome.title", community=COMMUNITY, name="Rosalie")] == 1
    assert connector.duplicates() == {}
    # The killed bot had asked it too, but nobody got that answer back: not a delivery.
    asked = [r.status for r in connector.received if (said(r.body) or "").startswith(REGION)]
    assert len(asked) == 2
    assert asked.count(200) == 1


# -- over HTTP: one person's turns one at a time ---------------------------------------------


@pytest.mark.parametrize("count", [1, 2], ids=["one replica", "two replicas"])
async def test_a_double_click_on_send_makes_one_consultation_request(
    database_url: str, connector: FakeConnector, count: int
) -> None:
    async with replicas(database_url, count) as bots:
        s = await scene(bots[0].app[RUNTIME].sessions)
        requester = {"id": s.requester.teams_user_id, "name": "Personne 4"}
        for text in [
            "consultation",
            "dilemme éthique",
            SUMMARY,
            "cette semaine",
            "codéveloppement",
            AVAILABILITY,
        ]:
            await post(bots[0], message(text, service_url=connector.url, sender=requester))
        assert connector.texts()[-1].startswith("Voici votre demande")
        await asyncio.gather(
            *(
                post(
                    bots[n % count], message("Envoyer", service_url=connector.url, sender=requester)
                )
                for n in range(2)
            )
        )
        async with bots[0].app[RUNTIME].sessions() as session:
            requests = (await session.exec(select(ConsultationRequest))).all()
    assert len(requests) == 1
    answers = connector.texts()[-2:]
    assert answers[0].startswith("C’est envoyé. Votre numéro de demande")
    assert answers[1] == fr("dialog.already_sent")
    assert APOLOGY not in connector.texts()


# -- over HTTP: replies Teams throttles ------------------------------------------------------


@pytest.mark.parametrize("retry_after", [1, None], ids=["Retry-After", "no Retry-After"])
async def test_a_throttled_reply_is_sent_again_within_the_turn(
    bot_client: Client, connector: FakeConnector, retry_after: int | None
) -> None:
    connector.delivery_key = said
    connector.throttle_next(2, retry_after=retry_after)
    await post(bot_client, message("langue", service_url=connector.url))
    assert [r.status for r in connector.received] == [429, 429, 200]
    if retry_after is not None:  # Teams asked for a second between tries
        arrivals = [r.received_at for r in connector.received]
        assert all(b - a >= retry_after for a, b in itertools.pairwise(arrivals))
    assert connector.deliveries() == {BILINGUAL_PROMPT: 1}
    assert await queued(bot_client.app[RUNTIME].sessions) == []


async def test_a_reply_teams_keeps_refusing_goes_to_the_outbox_and_arrives_later(
    database_url: str, connector: FakeConnector
) -> None:
    connector.delivery_key = said
    async with replicas(
        database_url, 1, CARREFOUR_TURN_LEASE_SECONDS=1, CARREFOUR_TURN_BUDGET_SECONDS=2
    ) as (bot,):
        runtime = bot.app[RUNTIME]
        connector.throttle_always()
        await post(bot, message("aide", service_url=connector.url))
        assert connector.received
        assert {r.status for r in connector.received} == {429}
        (row,) = await queued(runtime.sessions)
        assert (row.kind, row.status) == ("reply", OutboxStatus.PENDING)

        connector.stop_throttling()
        clock = Clock(now=row.not_before)
        deliver = dispatcher(runtime, clock)
        assert await deliver.dispatch_once() == 1
        clock.advance(minutes=5)
        assert await deliver.dispatch_once() == 0
        (row,) = await queued(runtime.sessions)
    assert row.status == OutboxStatus.SENT
    # The help card, in the chat the message came from, once; and no apology.
    assert connector.deliveries() == {"Carrefour — vos communautés de pratique": 1}
    (sent,) = [r for r in connector.received if r.status == 200]
    assert sent.conversation_id == "a:personal-29:user-1"
