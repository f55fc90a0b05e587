"""A turn's first unit of work claims its activity and reads its dialog state; on PostgreSQL
both are one statement (storage/activities.py, `claim_turn`), whose snapshot is taken before
the claim runs. A claim that waited for the turn ahead's final mark (another replica) must still
see what that turn wrote: these tests hold the turn ahead's last writes open while the claim
waits for them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.app
from bot.app import create_app
from bot.claims import TurnClaims
from cards.i18n import translator
from storage import activities, people
from storage.activities import Admission
from storage.db import create_engine
from storage.direct import TurnConnection
from storage.models import utcnow
from storage.state_store import SqlPrivateConversationState, read_encoded_in
from tests.activities import message
from tests.conftest import make_settings
from tests.databases import fresh_postgres, fresh_sqlite
from tests.fake_connector import FakeConnector
from tests.support import Clock

LEASE = timedelta(seconds=60)
# The language question is asked in both languages (the client's locale may not be the reader's).
BILINGUAL_PROMPT = (
    f"{translator('fr-CA')('language.prompt')}\n\n{translator('en-US')('language.prompt')}"
)
STATE_KEY = "msteams/conversations/a:1/users/29:ada"
TURN = activities.turn_key(conversation_id="a:1", sender_id="29:ada")
ADA = people.Participant(
    teams_user_id="29:ada", aad_object_id=None, tenant_id=None, name="Ada", locale="fr-CA"
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        async with fresh_sqlite(tmp_path) as url:
            made = create_engine(url)
            yield made
            await made.dispose()
    else:
        async with fresh_postgres() as url:
            made = create_engine(url)
            yield made
            await made.dispose()


async def _claim(engine: AsyncEngine, activity: str) -> activities.Claimed:
    async with TurnConnection(engine) as turn_connection:
        claimed = await activities.claim_turn(
            turn_connection,
            activity=activity,
            turn=TURN,
            owner="replica-b",
            now=utcnow(),
            lease=LEASE,
            sender=ADA,
            state_key=STATE_KEY,
        )
        if claimed.admission is Admission.TAKEN and claimed.state is None:
            # What the handler does when the state did not come with the claim.
            claimed = activities.Claimed(
                claimed.admission,
                claimed.sender,
                await read_encoded_in(await turn_connection.autocommit(), [STATE_KEY]),
            )
    return claimed


async def _state(engine: AsyncEngine, data: str, etag: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO bot_state (key, data, etag, updated_at) VALUES (:k, :d, :e, :t) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data, etag = excluded.etag"
            ),
            {"k": STATE_KEY, "d": data, "e": etag, "t": utcnow()},
        )


async def test_a_turn_sees_the_state_its_sender_left_and_is_recorded(engine: AsyncEngine) -> None:
    first = await _claim(engine, "a:1|m-1")
    assert first.admission is Admission.TAKEN
    assert first.state == {}
    assert first.sender is not None
    await _state(engine, "asked", "e1")
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE processed_activity SET lease_until = NULL, turn_key = NULL")
        )
    second = await _claim(engine, "a:1|m-2")
    assert second.admission is Admission.TAKEN
    assert second.state == {STATE_KEY: ("asked", "e1")}
    assert second.sender is not None
    assert second.sender.person_id == first.sender.person_id
    # A refused claim writes nothing and reads nothing.
    again = await _claim(engine, "a:1|m-2")
    assert again.admission is Admission.IN_PROGRESS
    assert again.sender is None
    assert again.state is None


async def test_a_claim_that_waited_for_the_turn_ahead_sees_its_last_state() -> None:
    """Another replica's turn ahead writes its state and its final mark; while that is not
    committed, this turn's claim waits on the sender's turn. Once it is, this turn must read
    the state it wrote, not the one before (its statement's snapshot predates that commit)."""
    async with fresh_postgres() as url:
        engine = create_engine(url)
        try:
            assert (await _claim(engine, "a:1|m-1")).admission is Admission.TAKEN
            await _state(engine, "asked", "e1")
            async with engine.connect() as ahead:
                finishing = await ahead.begin()
                await ahead.execute(
                    text("UPDATE bot_state SET data = 'answered', etag = 'e2' WHERE key = :k"),
                    {"k": STATE_KEY},
                )
                await ahead.execute(
                    text(
                        "UPDATE processed_activity SET lease_until = NULL, turn_key = NULL "
                        "WHERE activity_key = 'a:1|m-1'"
                    )
                )
                waiting = asyncio.create_task(_claim(engine, "a:1|m-2"))
                async with asyncio.timeout(10):
                    while not await _waits_for_a_lock(engine):
                        assert not waiting.done(), waiting.result()
                        await asyncio.sleep(0.01)
                await finishing.commit()
            claimed = await asyncio.wait_for(waiting, 10)
            assert claimed.admission is Admission.TAKEN
            assert claimed.state == {STATE_KEY: ("answered", "e2")}
        finally:
            await engine.dispose()


async def _waits_for_a_lock(engine: AsyncEngine) -> bool:
    """Whether a session of this database waits for a lock (the claim, on the sender's turn).
    Asked outside any transaction: within one, pg_stat_activity keeps its first snapshot."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (
            await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        ).one()
    return bool(row[0])


# -- over HTTP: a turn that fails once claimed --------------------------------------------


async def test_a_turn_that_fails_reading_its_state_lets_teams_retry_through(
    database_url: str, connector: FakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is committed before the dialog state is read (after it on SQLite, in the same
    statement on PostgreSQL, then decoded): a failure there gives the claim back, so Teams'
    retry of the activity is answered rather than kept waiting for a lease nobody renews."""
    prime = SqlPrivateConversationState.prime
    failures = [RuntimeError("unreadable state")]

    def fail_once(self: SqlPrivateConversationState, *args: Any) -> None:
        if failures:
            raise failures.pop()
        prime(self, *args)

    monkeypatch.setattr(SqlPrivateConversationState, "prime", fail_once)
    # The claims' clock stands still: a claim left behind would never expire, and the retry,
    # kept out for its whole budget, would be dropped.
    monkeypatch.setattr(bot.app, "TurnClaims", functools.partial(TurnClaims, clock=Clock()))
    activity = message("langue", service_url=connector.url, activity_id="failed-once")
    settings = make_settings(
        database_url, CARREFOUR_TURN_BUDGET_SECONDS=1, CARREFOUR_TURN_LEASE_SECONDS=0.5
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        await client.post("/api/messages", json=activity)  # the bot apologises
        assert BILINGUAL_PROMPT not in connector.texts()
        retry = await client.post("/api/messages", json=activity)
        assert retry.status in (200, 201), await retry.text()
    finally:
        await client.close()
    assert BILINGUAL_PROMPT in connector.texts()
