"""A turn's end on PostgreSQL: its dialog state is saved and its claim made final by one
statement, so they commit together or not at all (storage/activities.py
`save_state_and_finish`, bot/handler.py). On SQLite they stay two statements (tested with the
rest of the claims in tests/test_turn_claims.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlmodel import col

from bot.app import create_app
from cards.i18n import translator
from storage import activities
from storage.activities import Admission, Claim
from storage.db import SessionFactory, create_engine, engine_of, session_factory
from storage.models import BotState, ProcessedActivity
from tests.activities import message
from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.fake_connector import FakeConnector
from tests.support import START
from tests.test_turn_claims import admit

KEY = "msteams/conversations/a:1/users/u-1"
CLAIM = Claim(owner="replica-a", activity="a:1|m-1")


@pytest.fixture
async def postgres() -> AsyncIterator[SessionFactory]:
    async with fresh_postgres() as url:
        engine = create_engine(url)
        try:
            yield session_factory(engine)
        finally:
            await engine.dispose()


async def _state(sessions: SessionFactory) -> tuple[str, str] | None:
    async with sessions() as session:
        row = (
            await session.execute(
                select(col(BotState.data), col(BotState.etag)).where(col(BotState.key) == KEY)
            )
        ).first()
    return None if row is None else (str(row[0]), str(row[1]))


async def _lease(sessions: SessionFactory, activity: str) -> tuple[bool, object]:
    """Whether the claim exists, and its lease (None once final)."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(col(ProcessedActivity.lease_until)).where(
                    col(ProcessedActivity.activity_key) == activity
                )
            )
        ).first()
    return (False, None) if row is None else (True, row[0])


async def _end(
    sessions: SessionFactory, *, data: str, etag: str, expected: str | None, claim: Claim = CLAIM
) -> tuple[bool, bool]:
    return await activities.save_state_and_finish(
        engine_of(sessions),
        claim=claim,
        key=KEY,
        data=data,
        etag=etag,
        expected=expected,
        now=START,
    )


async def test_the_state_and_the_claim_commit_together(postgres: SessionFactory) -> None:
    assert await admit(postgres, activity=CLAIM.activity, owner=CLAIM.owner) is Admission.TAKEN

    # A first state (no etag yet): written, and the claim is final.
    assert await _end(postgres, data='{"v": 1}', etag="e1", expected=None) == (True, True)
    assert await _state(postgres) == ('{"v": 1}', "e1")
    assert await _lease(postgres, CLAIM.activity) == (True, None)
    # A retry of the same activity is then ignored.
    again = await admit(postgres, activity=CLAIM.activity, turn="T2", owner="replica-b")
    assert again is Admission.DONE


async def test_a_state_whose_etag_moved_on_changes_nothing(postgres: SessionFactory) -> None:
    assert await _end(postgres, data='{"v": 1}', etag="e1", expected="*") == (True, False)
    assert await admit(postgres, activity=CLAIM.activity, owner=CLAIM.owner) is Admission.TAKEN
    _, lease = await _lease(postgres, CLAIM.activity)

    # Another turn saved this state since it was read (e0 is stale): nothing is written, and
    # the claim keeps its lease (the handler then takes the usual path, which raises the
    # conflict and releases the claim for Teams' retry).
    assert await _end(postgres, data='{"v": 2}', etag="e2", expected="e0") == (False, False)
    assert await _state(postgres) == ('{"v": 1}', "e1")
    assert await _lease(postgres, CLAIM.activity) == (True, lease)

    # With the current etag it goes through.
    assert await _end(postgres, data='{"v": 2}', etag="e2", expected="e1") == (True, True)
    assert await _state(postgres) == ('{"v": 2}', "e2")
    assert await _lease(postgres, CLAIM.activity) == (True, None)


async def test_another_replicas_claim_is_not_made_final(postgres: SessionFactory) -> None:
    taken = await admit(postgres, activity=CLAIM.activity, owner="replica-b", at=timedelta(0))
    assert taken is Admission.TAKEN

    assert await _end(postgres, data='{"v": 1}', etag="e1", expected=None) == (True, False)
    found, lease = await _lease(postgres, CLAIM.activity)
    assert found
    assert lease is not None


async def test_a_dialog_over_http_ends_each_turn_with_its_claim_final(
    connector: FakeConnector,
) -> None:
    """`langue` then `English`: the prompt's state is saved and read back by the next turn,
    each activity's claim is final (a re-delivery is ignored: one reply, not two)."""
    async with fresh_postgres() as url:
        app = create_app(make_settings(url))
        async with TestClient(TestServer(app)) as client:
            for number, text in enumerate(("langue", "English"), start=1):
                activity = message(text, activity_id=f"m-{number}", service_url=connector.url)
                answer = await client.post("/api/messages", json=activity)
                assert answer.status < 300
            replies = len(connector.received)
            again = message("English", activity_id="m-2", service_url=connector.url)
            assert (await client.post("/api/messages", json=again)).status < 300
            assert len(connector.received) == replies  # the re-delivery was not run again
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            async with sessions() as session:
                leases = (await session.execute(select(col(ProcessedActivity.lease_until)))).all()
        finally:
            await engine.dispose()
    assert leases
    assert all(lease is None for (lease,) in leases)
    assert connector.texts()[-1] == translator("en-US")("language.saved")
