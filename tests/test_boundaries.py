"""Boundaries: ids in card data stay within the sender's organisation; settings that cannot
work are refused at start; a person sending too fast is slowed down politely; a slow request
body is cut off."""

from __future__ import annotations

import ast
import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import INBOUND_LIMIT, RUNTIME, create_app
from bot.inbound_limit import InboundLimit, Verdict
from bot.settings import Settings, check_runnable
from bot.tenancy import CARD_IDS, REQUEST_IDS
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    CaseDiscussion,
    CodevGroup,
    CodevSession,
    Community,
    Membership,
    Person,
    Question,
    QuestionAnswer,
    Resource,
    Topic,
    TopicStatus,
    TopicVote,
)
from storage.tenancy import Owned, outside_tenant
from tests import factories
from tests.activities import TENANT, message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector

Client = TestClient[web.Request, web.Application]

OTHER_TENANT = "0f0f0f0f-0000-0000-0000-00000000000b"
REFUSAL_FR = (
    "Ce bouton concerne une communauté d’une autre organisation\u00a0: je ne peux pas y donner "
    "suite."
)
REFUSAL_EN = "This button belongs to another organisation’s community: I can’t act on it."
ROOT = Path(__file__).resolve().parent.parent


def from_tenant(activity: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The activity as Teams posts it from a conversation in `tenant`."""
    activity["conversation"]["tenantId"] = tenant
    activity["channelData"]["tenant"] = {"id": tenant}
    return activity


def sender(n: int) -> dict[str, Any]:
    """The Teams account of `factories.person(session, n)`."""
    return {"id": f"29:person-{n}", "name": f"Personne {n}"}


async def count(sessions: SessionFactory, table: Any) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


# -- a card naming another organisation's records, over HTTP ---------------------------------


@pytest.mark.parametrize(
    ("locale", "refusal"), [("fr-CA", REFUSAL_FR), ("en-US", REFUSAL_EN)], ids=["fr", "en"]
)
async def test_joining_another_tenants_community_by_id_is_refused(
    bot_client: Client, connector: FakeConnector, locale: str, refusal: str
) -> None:
    sessions = bot_client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        theirs = await factories.community(session)  # of TENANT
    join = message(
        None,
        service_url=connector.url,
        sender=sender(7),
        locale=locale,
        value={"verb": "communities.join", "community_id": theirs.id},
    )
    response = await bot_client.post("/api/messages", json=from_tenant(join, OTHER_TENANT))
    assert response.status in (200, 201)
    assert connector.texts() == [refusal]
    assert connector.cards() == []
    assert await count(sessions, Membership) == 0
    # No join dialog waits for an answer: the next word is a command again.
    aide = message("aide", service_url=connector.url, sender=sender(7), locale=locale)
    await bot_client.post("/api/messages", json=from_tenant(aide, OTHER_TENANT))
    assert len(connector.cards()) == 1
    assert connector.texts() == [refusal]


async def test_voting_for_another_tenants_topic_is_refused_even_for_a_member(
    bot_client: Client, connector: FakeConnector
) -> None:
    """Membership alone does not open the door: a row linking a person to another
    organisation's community (imported, or from before the boundary) changes nothing."""
    sessions = bot_client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        theirs = await factories.community(session)
        outsider = await factories.person(session, 7, tenant=OTHER_TENANT)
        await factories.member(session, outsider, theirs)
        topic = Topic(community_id=theirs.id or 0, title="Deuil", status=TopicStatus.PROPOSED)
        session.add(topic)
    vote = message(
        None,
        service_url=connector.url,
        sender=sender(7),
        value={"verb": "topics.vote", "topic_id": topic.id},
    )
    await bot_client.post("/api/messages", json=from_tenant(vote, OTHER_TENANT))
    assert connector.texts() == [REFUSAL_FR]
    assert await count(sessions, TopicVote) == 0


async def test_a_consultation_request_for_another_tenants_community_is_refused(
    bot_client: Client, connector: FakeConnector
) -> None:
    sessions = bot_client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        theirs = await factories.community(session)
    ask = message(
        None,
        service_url=connector.url,
        sender=sender(7),
        value={"verb": "consultations.request", "community_id": theirs.id},
    )
    await bot_client.post("/api/messages", json=from_tenant(ask, OTHER_TENANT))
    assert connector.texts() == [REFUSAL_FR]
    assert connector.cards() == []


async def test_the_own_tenants_and_tenantless_communities_stay_open(
    bot_client: Client, connector: FakeConnector
) -> None:
    """The same button works for the community's own organisation, and for a community of no
    organisation (the demo) from any organisation."""
    sessions = bot_client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        ours = await factories.community(session)
        demo = Community(name="Démo", domain="Démo", tenant_id=None)
        session.add(demo)
        await session.flush()
    for community, tenant, n in ((ours, TENANT, 1), (demo, OTHER_TENANT, 2)):
        join = message(
            None,
            service_url=connector.url,
            sender=sender(n),
            value={"verb": "communities.join", "community_id": community.id},
        )
        await bot_client.post("/api/messages", json=from_tenant(join, tenant))
    # Each got the join dialog's first question, not the refusal.
    assert REFUSAL_FR not in connector.texts()
    assert len(connector.activities()) == 2


def _card_id_keys() -> set[str]:
    """Every `<name>_id=` a card builder passes to `submit(…)`: the ids cards hand back."""
    keys: set[str] = set()
    for path in (ROOT / "cards").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "submit":
                keys |= {k.arg for k in node.keywords if k.arg and k.arg.endswith("_id")}
    return keys


def test_every_id_a_card_hands_back_is_checked() -> None:
    keys = _card_id_keys()
    assert {"community_id", "meeting_id", "poll_id", "request_id"} <= keys  # the scan works
    assert keys <= set(CARD_IDS) | {"request_id"}
    assert set(REQUEST_IDS.values()) == {Owned.CONSULTATION, Owned.MENTOR_REQUEST}


# -- the storage rule, on both databases -----------------------------------------------------


async def _seed(session: AsyncSession) -> tuple[int, int, int]:
    theirs = await factories.community(session)
    demo = Community(name="Démo", domain="Démo", tenant_id=None)
    session.add(demo)
    await session.flush()
    topic = Topic(community_id=theirs.id or 0, title="Deuil")
    session.add(topic)
    await session.flush()
    return theirs.id or 0, demo.id or 0, topic.id or 0


async def test_outside_tenant_on_each_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            theirs, demo, topic = await _seed(session)
            person = await factories.person(session, 1)
        async with sessions() as session:

            async def outside(tenant: str | None, *records: tuple[Owned, int]) -> bool:
                return await outside_tenant(session, tenant_id=tenant, records=records)

            assert not await outside(TENANT, (Owned.COMMUNITY, theirs), (Owned.TOPIC, topic))
            assert await outside(OTHER_TENANT, (Owned.COMMUNITY, theirs))
            assert await outside(OTHER_TENANT, (Owned.COMMUNITY, demo), (Owned.TOPIC, topic))
            assert await outside(OTHER_TENANT, (Owned.PERSON, person.id or 0))
            assert await outside(None, (Owned.COMMUNITY, theirs))
            assert not await outside(OTHER_TENANT, (Owned.COMMUNITY, demo))
            assert not await outside(None, (Owned.COMMUNITY, demo))
            # An id naming nothing is left to the feature (« this button is no longer valid »).
            assert not await outside(OTHER_TENANT, (Owned.MEETING, 999), (Owned.POLL, 999))
    finally:
        await engine.dispose()


async def test_records_inside_a_community_belong_to_its_tenant(database_url: str) -> None:
    """Resources, questions and their answers, cases, codevelopment groups and their sessions
    (one step further in): another organisation's person handing their ids is refused."""
    engine = create_engine(database_url)
    now = datetime(2026, 3, 2, 14, tzinfo=UTC)
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            theirs, _demo, _topic = await _seed(session)
            resource = Resource(community_id=theirs, title="Outil", url="https://example.org")
            question = Question(community_id=theirs, text="Comment faire ?")
            case = CaseDiscussion(community_id=theirs, title="Cas", created_at=now)
            group = CodevGroup(community_id=theirs, name="Groupe")
            session.add_all([resource, question, case, group])
            await session.flush()
            answer = QuestionAnswer(question_id=question.id or 0, text="Ainsi.")
            codev = CodevSession(
                group_id=group.id or 0, number=1, starts_at=now, ends_at=now + timedelta(hours=3)
            )
            session.add_all([answer, codev])
            await session.flush()
            named = [
                (Owned.RESOURCE, resource.id or 0),
                (Owned.QUESTION, question.id or 0),
                (Owned.ANSWER, answer.id or 0),
                (Owned.CASE, case.id or 0),
                (Owned.CODEV_GROUP, group.id or 0),
                (Owned.CODEV_SESSION, codev.id or 0),
            ]
        async with sessions() as session:
            for record in named:
                assert not await outside_tenant(session, tenant_id=TENANT, records=[record])
                assert await outside_tenant(session, tenant_id=OTHER_TENANT, records=[record]), (
                    record
                )
    finally:
        await engine.dispose()


# -- settings that cannot work are refused at start ------------------------------------------

APP_ID = "3f1c2a9e-5b7d-4e21-9c1a-2b3c4d5e6f70"
# A production configuration that can run; each refusal below changes one thing in it.
PRODUCTION: dict[str, Any] = {
    "CARREFOUR_ENV": "production",
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "client-secret-from-the-portal",
    "MicrosoftAppTenantId": TENANT,
    "CARREFOUR_PUBLIC_URL": "https://carrefour.example.org",
    "CARREFOUR_SECRET_KEY": "k" * 64,
}


def production(**changes: Any) -> Settings:
    return make_settings("sqlite+aiosqlite:///unused.db", **{**PRODUCTION, **changes})


def test_a_production_configuration_that_can_run_is_accepted() -> None:
    settings = production()
    check_runnable(settings)
    assert settings.auth_enabled


@pytest.mark.parametrize("lease", [5, 4.9, 1])
def test_an_outbox_lease_within_the_dispatchers_margin_is_refused(lease: float) -> None:
    with pytest.raises(ValidationError, match="CARREFOUR_OUTBOX_LEASE_SECONDS"):
        make_settings("sqlite+aiosqlite:///unused.db", CARREFOUR_OUTBOX_LEASE_SECONDS=lease)
    # Just above the margin runs (development too).
    make_settings("sqlite+aiosqlite:///unused.db", CARREFOUR_OUTBOX_LEASE_SECONDS=5.5)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:3978",
        "https://LOCALHOST/",
        "https://carrefour.localhost",
        "http://127.0.0.1:3978",
        "https://127.0.1.1",
        "http://[::1]:3978/",
        "http://0.0.0.0:3978",
        "carrefour.example.org",  # no scheme: no host either
    ],
)
def test_production_with_a_local_public_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="CARREFOUR_PUBLIC_URL"):
        production(CARREFOUR_PUBLIC_URL=url)
    # Local development keeps its localhost default.
    make_settings("sqlite+aiosqlite:///unused.db", CARREFOUR_PUBLIC_URL=url)


@pytest.mark.parametrize("app_id", ["", "   ", "\t"])
def test_production_with_a_blank_app_id_is_refused(app_id: str) -> None:
    with pytest.raises(ValidationError, match="MicrosoftAppId"):
        production(MicrosoftAppId=app_id)


def test_a_whitespace_app_id_is_refused_in_development_too() -> None:
    """Empty means « no app id, local development »; spaces are a copy-paste mistake that
    would run with credentials no token can match."""
    make_settings("sqlite+aiosqlite:///unused.db", MicrosoftAppId="")
    with pytest.raises(ValidationError, match="MicrosoftAppId"):
        make_settings("sqlite+aiosqlite:///unused.db", MicrosoftAppId="  ")


@pytest.mark.parametrize("app_type", ["MultiTenant", "SingleTenant"])
@pytest.mark.parametrize("password", [None, "", "   "])
def test_an_app_id_without_its_password_is_refused(app_type: str, password: str | None) -> None:
    with pytest.raises(ValidationError, match="MicrosoftAppPassword"):
        production(MicrosoftAppType=app_type, MicrosoftAppPassword=password)
    with pytest.raises(ValidationError, match="MicrosoftAppPassword"):
        make_settings(
            "sqlite+aiosqlite:///unused.db",
            MicrosoftAppId=APP_ID,
            MicrosoftAppType=app_type,
            MicrosoftAppPassword=password,
            MicrosoftAppTenantId=TENANT,
        )


def test_a_managed_identity_needs_no_password() -> None:
    settings = production(MicrosoftAppType="UserAssignedMSI", MicrosoftAppPassword=None)
    check_runnable(settings)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        production(CARREFOUR_OUTBOX_LEASE_SECONDS=2, CARREFOUR_PUBLIC_URL="http://localhost")
    text = str(refused.value)
    assert "CARREFOUR_OUTBOX_LEASE_SECONDS" in text
    assert "CARREFOUR_PUBLIC_URL" in text


# -- a per-person inbound limit, over HTTP ----------------------------------------------------

SLOW_DOWN_FR = (
    "Vous allez un peu vite… Je ne tiens pas compte de vos messages et de vos clics des "
    "prochaines secondes\u00a0; réessayez dans un instant."
)
SLOW_DOWN_EN = (
    "You’re going a little fast… I’m ignoring your messages and clicks for the next few "
    "seconds; please try again in a moment."
)


@dataclass
class Ticks:
    """A monotonic clock the test moves by hand."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def limited_client(sqlite_url: str, ticks: Ticks) -> AsyncIterator[Client]:
    """The bot over HTTP, allowing 3 activities per person per 10 seconds of `ticks`."""
    settings = make_settings(
        sqlite_url, CARREFOUR_INBOUND_PER_PERSON_LIMIT=3, CARREFOUR_INBOUND_WINDOW_SECONDS=10
    )
    app = create_app(settings)
    app[INBOUND_LIMIT] = InboundLimit.from_settings(settings, clock=ticks)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_a_burst_past_the_limit_gets_one_polite_word_then_nothing(
    limited_client: Client, connector: FakeConnector, ticks: Ticks
) -> None:
    url = connector.url
    burst = [
        message("aide", service_url=url),
        message("aide", service_url=url),
        # The same person in a channel: one budget for all their conversations.
        message("aide", service_url=url, conversation_type="channel", mention_bot=True),
        message("aide", service_url=url),
        message("aide", service_url=url),
        message("aide", service_url=url),
    ]
    for activity in burst:
        assert (await limited_client.post("/api/messages", json=activity)).status == 201
    # A click sent as an invoke, past the limit too: refused without a word.
    invoke = {**message(None, service_url=url), "type": "invoke", "name": "adaptiveCard/action"}
    assert (await limited_client.post("/api/messages", json=invoke)).status == 429
    assert len(connector.cards()) == 3
    assert connector.texts() == [SLOW_DOWN_FR]
    assert len(connector.activities()) == 4
    # Someone else is not slowed down by it.
    await limited_client.post(
        "/api/messages", json=message("aide", service_url=url, sender=user(2))
    )
    assert len(connector.cards()) == 4

    # After the window, the person is answered again; a dropped activity left no trace (not
    # even its id as « already processed »): sent again, it is answered.
    ticks.now += 10
    assert (await limited_client.post("/api/messages", json=burst[-1])).status == 201
    assert len(connector.cards()) == 5
    assert connector.texts() == [SLOW_DOWN_FR]


async def test_the_polite_word_is_in_the_persons_saved_language(
    limited_client: Client, connector: FakeConnector
) -> None:
    url = connector.url
    await limited_client.post("/api/messages", json=message("langue en", service_url=url))
    for _ in range(4):
        await limited_client.post("/api/messages", json=message("aide", service_url=url))
    assert connector.texts() == ["Got it: I will write to you in English.", SLOW_DOWN_EN]
    assert len(connector.cards()) == 2


async def test_requests_without_a_valid_token_do_not_use_a_persons_budget(
    sqlite_url: str, connector: FakeConnector, ticks: Ticks
) -> None:
    """The limit counts after authentication: a forged sender id cannot silence someone."""
    settings = make_settings(
        sqlite_url,
        CARREFOUR_INBOUND_PER_PERSON_LIMIT=1,
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="client-secret-from-the-portal",
        MicrosoftAppTenantId=TENANT,
    )
    app = create_app(settings)
    limit = InboundLimit.from_settings(settings, clock=ticks)
    app[INBOUND_LIMIT] = limit
    async with TestClient(TestServer(app)) as client:
        for _ in range(3):
            forged = await client.post(
                "/api/messages",
                json=message("aide", service_url=connector.url),
                headers={"Authorization": "Bearer forged"},
            )
            assert forged.status == 401
    assert limit.admit("msteams:29:user-1") is Verdict.ACT


# -- request bodies have a read timeout, against a real server --------------------------------

HEAD = (
    "POST /api/messages HTTP/1.1\r\nHost: carrefour\r\nContent-Type: application/json\r\n"
    "Content-Length: {length}\r\n\r\n"
)


@pytest.fixture
async def server(sqlite_url: str) -> AsyncIterator[TestServer]:
    """The bot listening on a real socket (port 0), cutting bodies off after 0.5 s."""
    app = create_app(make_settings(sqlite_url, CARREFOUR_REQUEST_BODY_TIMEOUT_SECONDS=0.5))
    running = TestServer(app)
    await running.start_server()
    yield running
    await running.close()


async def _status_line(reader: asyncio.StreamReader) -> bytes:
    # Far beyond the timeout: without one, the server would wait for the body forever.
    return await asyncio.wait_for(reader.readline(), timeout=5)


@pytest.mark.parametrize("pace", ["stalls", "trickles"])
async def test_a_slow_body_is_cut_off_with_408_without_holding_a_turn(
    server: TestServer, connector: FakeConnector, pace: str
) -> None:
    body = json.dumps(message("aide", service_url=connector.url, sender=user(9))).encode()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    began = time.monotonic()
    writer.write(HEAD.format(length=len(body)).encode() + body[:20])
    await writer.drain()

    async def trickle() -> None:
        for byte in body[20:-1]:  # never the last byte
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    sending = asyncio.create_task(trickle() if pace == "trickles" else asyncio.sleep(0))
    # Meanwhile the bot answers others.
    async with ClientSession() as client:
        fine = await client.post(
            server.make_url("/api/messages"), json=message("aide", service_url=connector.url)
        )
        assert fine.status == 201
    status = await _status_line(reader)
    elapsed = time.monotonic() - began
    sending.cancel()
    writer.close()
    assert status.startswith(b"HTTP/1.1 408"), status
    assert 0.5 <= elapsed < 3
    # Only the other person's turn ran: the slow one never reached the bot.
    assert len(connector.cards()) == 1
    async with server.app[RUNTIME].sessions() as session:
        senders = (await session.exec(select(col(Person.teams_user_id)))).all()
    assert senders == ["29:user-1"]
