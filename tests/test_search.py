"""Search from anywhere in Teams: the message extension's `composeExtension/query` over HTTP
(its answer's shape, in French and English), and what it finds on SQLite and PostgreSQL:
accents and case ignored, ranked, paged, only what the person may see, and an index that
follows every change (a resource retired, a topic declined, a question withdrawn, a person
erased)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import search_flow
from bot.app import REGISTRY, RUNTIME, create_app
from bot.manifest import build_manifest
from cards.common import ADAPTIVE_CARD_CONTENT_TYPE
from cards.search import THUMBNAIL_CONTENT_TYPE
from storage import privacy, search
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import alembic_config, upgrade_async
from storage.models import (
    Community,
    Membership,
    Person,
    Question,
    QuestionAnswer,
    QuestionStatus,
    Resource,
    ResourceKind,
    ResourceStatus,
    ResourceVisibility,
    Topic,
    TopicStatus,
)
from tests import factories
from tests.activities import TENANT, message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.test_communities import card_text

Client = TestClient[web.Request, web.Application]
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
OTHER_TENANT = "72f988bf-0000-0000-0000-000000000002"
NBSP = "\u00a0"


# -- data ------------------------------------------------------------------------------------


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _community(session: AsyncSession, name: str, *, tenant: str | None = TENANT) -> Community:
    row = Community(name=name, tenant_id=tenant)
    session.add(row)
    await session.flush()
    return row


async def _resource(
    session: AsyncSession,
    where: Community,
    title: str,
    *,
    why: str = "",
    themes: list[str] | None = None,
    visibility: ResourceVisibility = ResourceVisibility.COMMUNITY,
    status: ResourceStatus = ResourceStatus.ACTIVE,
    pinned: bool = False,
    at: datetime = NOW,
) -> Resource:
    assert where.id is not None
    row = Resource(
        community_id=where.id,
        tenant_id=where.tenant_id,
        title=title,
        url="https://www.inspq.qc.ca/outil",
        kind=ResourceKind.CLINICAL_TOOL,
        themes=themes or [],
        why=why,
        visibility=visibility,
        status=status,
        pinned=pinned,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def _topic(
    session: AsyncSession,
    where: Community,
    title: str,
    *,
    description: str = "",
    status: TopicStatus = TopicStatus.PROPOSED,
    by: Person | None = None,
    at: datetime = NOW,
) -> Topic:
    assert where.id is not None
    row = Topic(
        community_id=where.id,
        title=title,
        description=description,
        status=status,
        proposed_by_id=by.id if by else None,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def _question(
    session: AsyncSession,
    where: Community,
    question: str,
    *,
    answers: tuple[str, ...] = (),
    by: Person | None = None,
    anonymous: bool = False,
    status: QuestionStatus = QuestionStatus.OPEN,
    at: datetime = NOW,
) -> Question:
    assert where.id is not None
    row = Question(
        community_id=where.id,
        text=question,
        asked_by_id=by.id if by else None,
        anonymous=anonymous,
        status=status,
        asked_at=at,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    for n, answer in enumerate(answers):
        session.add(
            QuestionAnswer(
                question_id=row.id,
                text=answer,
                activity_id=f"answer-{row.id}-{n}",
                created_at=at + timedelta(minutes=n + 1),
            )
        )
    await session.flush()
    return row


async def _titles(
    sessions: SessionFactory, who: Person | None, query: str, **page: int
) -> list[str]:
    async with sessions() as session:
        found = await search.search(session, person_id=who.id if who else None, query=query, **page)
    return [_title(result) for result in found.results]


def _title(result: search.Result) -> str:
    if isinstance(result, search.ResourceResult):
        return result.resource.title
    if isinstance(result, search.TopicResult):
        return result.topic.title
    return result.question.text


# -- matching --------------------------------------------------------------------------------


def test_query_words_are_folded_and_little_words_left_out() -> None:
    assert search.terms("Outils pour la DÉTRESSE d’un proche") == ["outils", "detresse", "proche"]
    assert search.terms("  ") == []
    assert search.terms("l'anxiété, l’anxiété") == ["anxiete"]


async def test_accents_and_case_are_ignored(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        await _resource(session, palliative, "Échelle de détresse psychologique")
        await _topic(session, palliative, "Deuil périnatal")
    for query in ("detresse", "Detresse", "DÉTRESSE", "détr", "echelle psycho"):
        assert await _titles(sessions, lea, query) == ["Échelle de détresse psychologique"], query
    assert await _titles(sessions, lea, "PERINATAL") == ["Deuil périnatal"]
    assert await _titles(sessions, lea, "détresse introuvable") == []


async def test_title_matches_come_before_other_matches(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        # Many mentions in the text, none in the title: still after a title match.
        await _resource(
            session,
            palliative,
            "Guide d’accompagnement",
            why="Le deuil, le deuil et encore le deuil : deuil compliqué, deuil anticipé.",
            themes=["deuil"],
        )
        await _topic(session, palliative, "Le deuil chez les proches aidants")
        await _question(
            session,
            palliative,
            "Quelles ressources pour les familles?",
            answers=("Le groupe de deuil du CLSC",),
        )
        await _question(
            session, palliative, "Qui anime un groupe de deuil?", answers=("Marie, au CLSC",)
        )
    found = await _titles(sessions, lea, "deuil")
    assert set(found[:2]) == {"Le deuil chez les proches aidants", "Qui anime un groupe de deuil?"}
    assert set(found[2:]) == {"Guide d’accompagnement", "Quelles ressources pour les familles?"}


async def test_one_typed_word_in_the_title_is_a_title_match(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        await _resource(session, palliative, "Guide", why="Le deuil périnatal à domicile, deuil")
        await _topic(session, palliative, "Deuil", description="Périnatal")
    assert await _titles(sessions, lea, "périnatal deuil") == ["Deuil", "Guide"]


async def test_every_word_must_match_and_a_theme_is_searched(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        await _resource(session, palliative, "Grille d’observation", themes=["santé mentale"])
        await _resource(session, palliative, "Plan de sécurité", why="Santé des proches")
    assert await _titles(sessions, lea, "sante mentale") == ["Grille d’observation"]
    assert set(await _titles(sessions, lea, "santé")) == {
        "Grille d’observation",
        "Plan de sécurité",
    }


# -- who sees what --------------------------------------------------------------------------


async def test_only_what_the_person_may_see(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        youth = await _community(session, "CdeP Jeunesse")
        elsewhere = await _community(session, "CdeP Ailleurs", tenant=OTHER_TENANT)
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        sam = await factories.person(session, 2)
        await factories.member(session, sam, youth)
        for status in ResourceStatus:
            await _resource(session, palliative, f"Détresse {status.value}", status=status)
        await _resource(session, youth, "Détresse jeunesse interne")
        await _resource(session, youth, "Détresse partagée", visibility=ResourceVisibility.TENANT)
        await _resource(
            session,
            elsewhere,
            "Détresse autre organisation",
            visibility=ResourceVisibility.TENANT,
        )
        await _resource(
            session,
            youth,
            "Détresse partagée retirée",
            visibility=ResourceVisibility.TENANT,
            status=ResourceStatus.RETIRED,
        )
        for topic_status in TopicStatus:
            await _topic(
                session,
                palliative,
                f"Sujet détresse {topic_status.value}",
                status=topic_status,
            )
        await _topic(session, youth, "Sujet détresse jeunesse")
        await _question(session, palliative, "Détresse sans réponse ?")
        await _question(session, palliative, "Détresse répondue ?", answers=("Oui",))
        await _question(
            session,
            palliative,
            "Détresse retenue ?",
            answers=("Celle-ci",),
            status=QuestionStatus.ANSWERED,
        )
        await _question(
            session,
            palliative,
            "Détresse retirée ?",
            answers=("Trop tard",),
            status=QuestionStatus.WITHDRAWN,
        )
        await _question(session, youth, "Détresse jeunesse ?", answers=("Ailleurs",))
        stranger = await factories.person(session, 3)

    assert sorted(await _titles(sessions, lea, "détresse")) == sorted(
        [
            "Détresse active",
            "Détresse partagée",
            "Sujet détresse proposed",
            "Sujet détresse shortlisted",
            "Sujet détresse scheduled",
            "Sujet détresse done",
            "Détresse répondue ?",
            "Détresse retenue ?",
        ]
    )
    # The same, with nothing typed.
    assert len(await _titles(sessions, lea, "")) == 8
    assert sorted(await _titles(sessions, sam, "détresse")) == sorted(
        ["Détresse jeunesse interne", "Détresse partagée", "Sujet détresse jeunesse",
         "Détresse jeunesse ?"]
    )  # fmt: skip
    async with sessions() as session:
        page = await search.search(session, person_id=stranger.id, query="détresse")
        assert page == search.SearchPage(results=[], member=False)
        assert not (await search.search(session, person_id=None, query="")).member


async def test_a_community_without_a_tenant_is_searched_too(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        local = await _community(session, "CdeP locale", tenant=None)
        lea = await factories.person(session, 1)
        await factories.member(session, lea, local)
        await _resource(session, local, "Échelle de détresse", visibility=ResourceVisibility.TENANT)
    assert await _titles(sessions, lea, "détresse") == ["Échelle de détresse"]
    assert await _titles(sessions, lea, "") == ["Échelle de détresse"]


async def test_a_member_who_left_finds_nothing_more(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        membership = await factories.member(session, lea, palliative)
        await _resource(session, palliative, "Échelle de détresse")
    assert await _titles(sessions, lea, "détresse") == ["Échelle de détresse"]
    async with sessions.begin() as session:
        await session.execute(
            update(Membership).where(col(Membership.id) == membership.id).values(left_at=NOW)
        )
    async with sessions() as session:
        assert not (await search.search(session, person_id=lea.id, query="détresse")).member


async def test_an_anonymous_question_does_not_say_who_asked(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        await _question(session, palliative, "Deuil : à qui référer ?", by=lea, answers=("CLSC",))
        await _question(
            session,
            palliative,
            "Deuil : quel délai ?",
            by=lea,
            anonymous=True,
            answers=("Aucun", "Trois mois"),
        )
    async with sessions() as session:
        page = await search.search(session, person_id=lea.id, query="deuil")
    by_text = {r.question.text: r for r in page.results if isinstance(r, search.QuestionResult)}
    assert by_text["Deuil : à qui référer ?"].asked_by == "Personne 1"
    anonymous = by_text["Deuil : quel délai ?"]
    assert anonymous.asked_by is None
    assert (anonymous.answer, anonymous.answer_helped, anonymous.answers) == (
        "Trois mois",
        False,
        2,
    )


# -- paging and the first run ---------------------------------------------------------------


async def test_pages_follow_one_another(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        for n in range(32):
            await _resource(session, palliative, f"Outil de soins {n:02d}")
    first = await _titles(sessions, lea, "soins", skip=0, count=25)
    second = await _titles(sessions, lea, "soins", skip=25, count=25)
    assert (len(first), len(second)) == (25, 7)
    assert sorted(first + second) == [f"Outil de soins {n:02d}" for n in range(32)]
    assert await _titles(sessions, lea, "soins", skip=10, count=5) == first[10:15]
    # Asking for more than a page gets a page.
    assert len(await _titles(sessions, lea, "soins", count=1000)) == search.MAX_COUNT


async def test_nothing_typed_shows_pinned_then_newest(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        await _resource(session, palliative, "Ancien", at=NOW - timedelta(days=30))
        await _resource(session, palliative, "Épinglé", pinned=True, at=NOW - timedelta(days=60))
        await _topic(session, palliative, "Récent", at=NOW - timedelta(days=1))
        await _question(session, palliative, "Hier ?", answers=("Oui",), at=NOW - timedelta(days=2))
    assert await _titles(sessions, lea, "") == ["Épinglé", "Récent", "Hier ?", "Ancien"]
    # Only little words: as if nothing was typed.
    assert await _titles(sessions, lea, "de la") == ["Épinglé", "Récent", "Hier ?", "Ancien"]


# -- the index follows the data --------------------------------------------------------------


async def _fts_is_intact(sessions: SessionFactory) -> None:
    """On SQLite, FTS5's own check that each index matches its content table."""
    async with sessions.begin() as session:
        if session.bind is not None and session.bind.dialect.name != "sqlite":
            return
        for table in ("search_resource", "search_topic", "search_question", "search_answer"):
            await session.execute(
                text(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)")
            )


async def test_the_index_follows_changes(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        tool = await _resource(session, palliative, "Échelle de détresse")
        topic = await _topic(session, palliative, "Détresse des proches")
        question = await _question(session, palliative, "Détresse au travail ?", answers=("X",))
    assert len(await _titles(sessions, lea, "détresse")) == 3

    async with sessions.begin() as session:
        await session.execute(
            update(Resource).where(col(Resource.id) == tool.id).values(title="Échelle d’anxiété")
        )
    assert await _titles(sessions, lea, "anxiété") == ["Échelle d’anxiété"]
    assert len(await _titles(sessions, lea, "détresse")) == 2

    async with sessions.begin() as session:
        await session.execute(
            update(Resource)
            .where(col(Resource.id) == tool.id)
            .values(status=ResourceStatus.RETIRED)
        )
        await session.execute(
            update(Topic).where(col(Topic.id) == topic.id).values(status=TopicStatus.DECLINED)
        )
        await session.execute(
            update(Question)
            .where(col(Question.id) == question.id)
            .values(status=QuestionStatus.WITHDRAWN)
        )
    assert await _titles(sessions, lea, "anxiété") == []
    assert await _titles(sessions, lea, "détresse") == []
    await _fts_is_intact(sessions)

    async with sessions.begin() as session:
        await session.execute(text("DELETE FROM question_answer"))
        await session.execute(text("DELETE FROM question"))
        await session.execute(text("DELETE FROM resource"))
    await _fts_is_intact(sessions)


async def test_sharing_with_the_tenant_reaches_other_communities_at_once(
    sessions: SessionFactory,
) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        youth = await _community(session, "CdeP Jeunesse")
        lea = await factories.person(session, 1)
        sam = await factories.person(session, 2)
        await factories.member(session, lea, palliative)
        await factories.member(session, sam, youth)
        tool = await _resource(session, palliative, "Échelle de détresse")
    assert await _titles(sessions, sam, "détresse") == []
    async with sessions.begin() as session:
        await session.execute(
            update(Resource)
            .where(col(Resource.id) == tool.id)
            .values(visibility=ResourceVisibility.TENANT)
        )
    assert await _titles(sessions, sam, "détresse") == ["Échelle de détresse"]
    async with sessions.begin() as session:
        await session.execute(
            update(Resource)
            .where(col(Resource.id) == tool.id)
            .values(visibility=ResourceVisibility.COMMUNITY)
        )
    assert await _titles(sessions, sam, "détresse") == []
    assert await _titles(sessions, lea, "détresse") == ["Échelle de détresse"]
    await _fts_is_intact(sessions)


async def test_an_erased_person_leaves_nothing_searchable_and_finds_nothing(
    sessions: SessionFactory,
) -> None:
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        sam = await factories.person(session, 2)
        await factories.member(session, lea, palliative)
        await factories.member(session, sam, palliative)
        await _topic(
            session,
            palliative,
            "Groupe de soutien",
            description="Mon expérience au CLSC Hochelaga",
            by=lea,
        )
    assert await _titles(sessions, sam, "hochelaga") == ["Groupe de soutien"]
    async with sessions.begin() as session:
        assert lea.id is not None
        await privacy.erase(session, person_id=lea.id, now=NOW)
    # The topic stays in the bank by its title; the words of its proposer are gone.
    assert await _titles(sessions, sam, "hochelaga") == []
    assert await _titles(sessions, sam, "soutien") == ["Groupe de soutien"]
    async with sessions() as session:
        assert not (await search.search(session, person_id=lea.id, query="soutien")).member
    await _fts_is_intact(sessions)


# -- the migration ---------------------------------------------------------------------------


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


async def _search_objects(sessions: SessionFactory) -> set[str]:
    async with sessions() as session:
        if session.bind is not None and session.bind.dialect.name == "sqlite":
            rows = await session.execute(
                text("SELECT name FROM sqlite_master WHERE name LIKE '%search%'")
            )
        else:
            rows = await session.execute(
                text(
                    "SELECT table_name || '.' || column_name FROM information_schema.columns "
                    "WHERE column_name = 'search_vector' UNION ALL "
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'search_%' UNION ALL "
                    "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_search_%'"
                )
            )
        return {str(name) for (name,) in rows.all()}


async def test_the_migration_goes_down_and_up_again_indexing_what_is_there(
    database_url: str, sessions: SessionFactory
) -> None:
    assert len(await _search_objects(sessions)) >= 9
    await asyncio.to_thread(_downgrade, database_url, "0010")
    assert await _search_objects(sessions) == set()
    async with sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        lea = await factories.person(session, 1)
        await factories.member(session, lea, palliative)
        await _resource(session, palliative, "Échelle de détresse", themes=["santé mentale"])
        await _question(session, palliative, "Un outil ?", answers=("L’échelle de détresse",))
    await upgrade_async(database_url)
    assert sorted(await _titles(sessions, lea, "detresse")) == ["Un outil ?", "Échelle de détresse"]
    assert await _titles(sessions, lea, "sante") == ["Échelle de détresse"]
    await _fts_is_intact(sessions)


# -- over HTTP, as Teams sends it -----------------------------------------------------------


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[Client]:
    client = TestClient(TestServer(create_app(make_settings(database_url))))
    await client.start_server()
    yield client
    await client.close()


def _query(
    connector: FakeConnector,
    words: str | None,
    *,
    sender: dict[str, Any],
    locale: str | None = "fr-CA",
    skip: int = 0,
    count: int = 25,
    command_id: str = "search",
    **extra: Any,
) -> dict[str, Any]:
    """A `composeExtension/query` invoke as Teams posts it from the compose box."""
    activity = message(None, service_url=connector.url, sender=sender, locale=locale)
    parameters = (
        [{"name": "initialRun", "value": "true"}]
        if words is None
        else [{"name": "query", "value": words}]
    )
    activity.update(
        {
            "type": "invoke",
            "name": "composeExtension/query",
            "value": {
                "commandId": command_id,
                "parameters": parameters,
                "queryOptions": {"skip": skip, "count": count},
                **extra,
            },
        }
    )
    return activity


async def _ask(client: Client, activity: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/messages", json=activity)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _members_with_tools(client: Client) -> tuple[int, int]:
    """Léa (the HTTP sender `user(1)`) in « CdeP Soins palliatifs » with a few things to find,
    and another community she is not in; the ids of both communities."""
    async with client.app[RUNTIME].sessions.begin() as session:
        palliative = await _community(session, "CdeP Soins palliatifs")
        youth = await _community(session, "CdeP Jeunesse")
        lea = Person(teams_user_id=user(1)["id"], tenant_id=TENANT, name="Léa Tremblay")
        session.add(lea)
        await session.flush()
        await factories.member(session, lea, palliative)
        await _resource(
            session,
            palliative,
            "Échelle de détresse psychologique",
            why="Repérer la détresse des proches aidants en 10 questions.",
            themes=["santé mentale"],
            pinned=True,
        )
        await _topic(session, palliative, "Détresse morale des soignants", description="Atelier")
        await _question(
            session,
            palliative,
            "Un outil pour la détresse en fin de vie ?",
            answers=("L’échelle ESAS",),
            anonymous=True,
        )
        await _resource(session, youth, "Détresse chez les jeunes")
        assert palliative.id is not None
        assert youth.id is not None
        return palliative.id, youth.id


def _by_kind(body: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The cards of a result list: the resource's, the topic's, the question's (one each)."""
    cards = [a["content"] for a in body["composeExtension"]["attachments"]]
    assert len(cards) == 3
    first_lines = [card["body"][0]["text"] for card in cards]
    order = [
        next(i for i, line in enumerate(first_lines) if line.startswith(prefix))
        for prefix in (("Boîte", "Toolbox"), ("Banque", "Topic"), ("Question",))
    ]
    return tuple(cards[i] for i in order)


def _previews(body: dict[str, Any]) -> list[str]:
    extension = body["composeExtension"]
    return [a["preview"]["content"]["title"] for a in extension["attachments"]]


async def test_the_message_extension_answers_with_cards_and_previews(
    client: Client, connector: FakeConnector
) -> None:
    await _members_with_tools(client)
    body = await _ask(client, _query(connector, "detresse", sender=user(1)))
    extension = body["composeExtension"]
    assert extension["type"] == "result"
    assert extension["attachmentLayout"] == "list"
    assert sorted(_previews(body)) == [
        "Détresse morale des soignants",
        "Un outil pour la détresse en fin de vie ?",
        "Échelle de détresse psychologique",
    ]
    for attachment in extension["attachments"]:
        assert attachment["contentType"] == ADAPTIVE_CARD_CONTENT_TYPE
        assert attachment["content"]["type"] == "AdaptiveCard"
        assert attachment["content"]["version"] == "1.5"
        assert attachment["preview"]["contentType"] == THUMBNAIL_CONTENT_TYPE
    tool, topic, question = _by_kind(body)
    assert "Boîte à outils · CdeP Soins palliatifs" in card_text(tool)
    assert "Outil clinique · santé mentale" in card_text(tool)
    assert tool["actions"] == [
        {"type": "Action.OpenUrl", "title": "Ouvrir", "url": "https://www.inspq.qc.ca/outil"}
    ]
    assert "Banque de sujets · CdeP Soins palliatifs" in card_text(topic)
    assert "Volet formatif · Proposé" in card_text(topic)
    assert "Dernière réponse" in card_text(question)
    assert "L’échelle ESAS" in card_text(question)
    assert f"1{NBSP}réponse" in card_text(question)
    assert "Posée par" not in card_text(question)  # anonymous
    previews = [a["preview"]["content"]["text"] for a in extension["attachments"]]
    assert sorted(previews) == [
        "Outil clinique · CdeP Soins palliatifs",
        "Question · CdeP Soins palliatifs",
        "Sujet · CdeP Soins palliatifs",
    ]


async def test_the_message_extension_speaks_english(
    client: Client, connector: FakeConnector
) -> None:
    await _members_with_tools(client)
    body = await _ask(client, _query(connector, "DÉTRESSE", sender=user(1), locale="en-US"))
    tool, topic, question = _by_kind(body)
    assert "Toolbox · CdeP Soins palliatifs" in card_text(tool)
    assert tool["actions"][0]["title"] == "Open"
    assert "Topic bank · CdeP Soins palliatifs" in card_text(topic)
    assert "Latest answer" in card_text(question)
    assert "1 answer" in card_text(question)
    previews = [a["preview"]["content"]["text"] for a in body["composeExtension"]["attachments"]]
    assert "Clinical tool · CdeP Soins palliatifs" in previews


async def test_the_first_run_and_paging(client: Client, connector: FakeConnector) -> None:
    await _members_with_tools(client)
    first = await _ask(client, _query(connector, None, sender=user(1)))
    # Pinned first, then the newest.
    assert _previews(first)[0] == "Échelle de détresse psychologique"
    assert len(_previews(first)) == 3
    whole = _previews(await _ask(client, _query(connector, "détresse", sender=user(1))))
    assert len(whole) == 3
    page = await _ask(client, _query(connector, "détresse", sender=user(1), skip=1, count=1))
    assert _previews(page) == whole[1:2]
    beyond = await _ask(client, _query(connector, "détresse", sender=user(1), skip=3))
    assert _previews(beyond) == []


async def test_someone_without_a_community_is_told_so(
    client: Client, connector: FakeConnector
) -> None:
    await _members_with_tools(client)
    body = await _ask(client, _query(connector, "détresse", sender=user(7, "Inconnu")))
    assert body == {
        "composeExtension": {
            "type": "message",
            "text": "Vous ne faites partie d’aucune communauté pour l’instant"
            f"{NBSP}: rejoignez-en une pour chercher dans ses outils, ses sujets et ses "
            "questions.",
        }
    }
    english = await _ask(client, _query(connector, None, sender=user(8, "Unknown"), locale="en-US"))
    assert english["composeExtension"]["type"] == "message"
    assert english["composeExtension"]["text"].startswith("You are not a member of any")


async def test_a_forged_query_finds_nothing_more(client: Client, connector: FakeConnector) -> None:
    palliative_id, youth_id = await _members_with_tools(client)
    honest = await _ask(client, _query(connector, "détresse", sender=user(1)))
    forged = await _ask(
        client,
        _query(
            connector,
            "détresse",
            sender=user(1),
            community_id=youth_id,
            data={"community_id": youth_id},
            context={"theme": "default"},
        ),
    )
    assert _previews(forged) == _previews(honest)
    assert "Détresse chez les jeunes" not in _previews(forged)
    # Community ids typed are only words too.
    for words in (f"c{youth_id}", f"c{palliative_id}", "t72f988bf"):
        assert _previews(await _ask(client, _query(connector, words, sender=user(1)))) == []
    # SQL or FTS syntax typed in the box is only words.
    for words in ('détresse" OR "jeunes', "détresse*) OR (jeunes", "'; DROP TABLE resource; --"):
        body = await _ask(client, _query(connector, words, sender=user(1)))
        assert "Détresse chez les jeunes" not in _previews(body)
    assert palliative_id != youth_id


async def test_odd_values_get_the_first_page(client: Client, connector: FakeConnector) -> None:
    await _members_with_tools(client)
    activity = _query(connector, None, sender=user(1))
    activity["value"].update(parameters="détresse", queryOptions={"skip": "x", "count": -5})
    assert len(_previews(await _ask(client, activity))) == 3
    activity = _query(connector, "détresse", sender=user(1), skip=10**30, count=10**30)
    assert len(_previews(await _ask(client, activity))) == 3
    activity = _query(connector, "détresse", sender=user(1), skip=600)
    assert _previews(await _ask(client, activity)) == []
    activity = _query(connector, "détresse " * 500, sender=user(1))
    assert len(_previews(await _ask(client, activity))) == 3
    activity = _query(connector, "détresse", sender=user(1))
    activity["value"]["commandId"] = ["search"]
    assert (await client.post("/api/messages", json=activity)).status == 400


async def test_an_unknown_command_is_refused(client: Client, connector: FakeConnector) -> None:
    await _members_with_tools(client)
    response = await client.post(
        "/api/messages", json=_query(connector, "détresse", sender=user(1), command_id="autre")
    )
    assert response.status == 400


def test_the_manifest_declares_the_search_command() -> None:
    manifest, english = build_manifest(
        app_id="6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b", commands=REGISTRY.help_entries
    )
    (extension,) = manifest["composeExtensions"]
    assert extension["botId"] == manifest["bots"][0]["botId"]
    (command,) = extension["commands"]
    assert (command["id"], command["type"], command["initialRun"]) == (
        search_flow.COMMAND_ID,
        "query",
        True,
    )
    assert command["context"] == ["compose", "commandBox"]
    assert command["parameters"][0]["name"] == search_flow.QUERY_PARAMETER
    assert command["title"] == "Chercher dans Carrefour"
    assert english["composeExtensions[0].commands[0].title"] == "Search Carrefour"
    assert english["composeExtensions[0].commands[0].parameters[0].title"] == "Keywords"
