"""Questions to the community: asking (dialog and channel), answering (card and thread),
the answer that helped, withdrawing, the toolbox entry, the unanswered-question job on a frozen
clock, anonymity, erasure and export; storage on SQLite and PostgreSQL, cards in fr and en."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import col, select

from bot.app import REGISTRY, RUNTIME, Runtime, create_app
from bot.deliveries import RecordedRenderer
from bot.questions_flow import (
    QUESTION_RENDERERS,
    message_link,
    on_thread_reply,
    original_argument,
)
from bot.settings import Settings
from bot.turns import FeatureTurn
from cards.common import MAX_CARD_BYTES, Element, card_bytes
from cards.consultations import identifier_kinds_text
from cards.questions import build_manage_card, build_question_card
from dialogs.ask_question_dialog import AskedQuestion, AskQuestionDialog, AskQuestionOptions
from dialogs.context import TURN_INFO_KEY, TurnInfo
from storage import privacy, questions
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers, IdentifierKind
from storage.models import (
    Community,
    ConversationRef,
    OutboxMessage,
    OutboxStatus,
    Person,
    Question,
    QuestionAnswer,
    QuestionStatus,
    Resource,
    ResourceKind,
    Role,
)
from storage.questions import (
    KIND_CARD,
    KIND_MANAGE,
    KIND_POST,
    KIND_REMOVED,
    REASON_FLAGGED,
    REASON_NEW_ANSWER,
    InvalidText,
    NoChannel,
    NoHelpfulAnswer,
    QuestionNotFound,
    QuestionWithdrawn,
)
from tests import factories
from tests.activities import BOT_ID, TENANT, message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import (
    START,
    ChatAdapter,
    Clock,
    DialogChat,
    card_content,
    dispatcher,
    host_services,
    press,
    queued,
    render_context,
    scheduled_jobs,
    text_of,
)
from tests.support import said as what_is_read

TZ = "America/Montreal"
SERVICE_URL = "https://smba.example/"
CHANNEL = "19:channel-1@thread.tacv2"  # factories.channel(n=1)
TEAM = "19:team@thread.tacv2"
QUESTION = "Quel outil utilisez-vous pour évaluer la détresse des proches aidants ?"
ANSWER = "Nous utilisons l’échelle de Zarit, version courte, au premier contact."
_ids = itertools.count(1)


# -- small builders ------------------------------------------------------------------------------


@dataclass
class Scene:
    where: Community
    asker: Person
    animator: Person
    colleagues: list[Person]
    outsider: Person
    channel: ConversationRef


def _id(row: Person | Community | Question | QuestionAnswer | ConversationRef) -> int:
    assert row.id is not None
    return row.id


async def scene(sessions: SessionFactory, *, locale: str = "fr-CA") -> Scene:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        channel = await factories.channel(session, service_url=SERVICE_URL)
        asker = await factories.person(session, 7, locale=locale, service_url=SERVICE_URL)
        await factories.member(session, asker, where)
        animator = await factories.person(session, 2, locale=locale, service_url=SERVICE_URL)
        row = await factories.member(session, animator, where)
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        colleagues = []
        for n in (10, 11):
            who = await factories.person(session, n, locale=locale, service_url=SERVICE_URL)
            await factories.member(session, who, where)
            colleagues.append(who)
        outsider = await factories.person(session, 99, service_url=SERVICE_URL)
        await session.flush()
    return Scene(where, asker, animator, colleagues, outsider, channel)


async def ask(
    sessions: SessionFactory,
    s: Scene,
    *,
    text: str = QUESTION,
    anonymous: bool = False,
    now: datetime = START,
    key: str | None = None,
    who: Person | None = None,
) -> tuple[Question, bool]:
    async with transaction(sessions) as session:
        return await questions.ask(
            session,
            community_id=_id(s.where),
            person_id=_id(who or s.asker),
            text=text,
            anonymous=anonymous,
            request_key=key,
            now=now,
        )


async def post(sessions: SessionFactory, question: Question, activity_id: str = "1700") -> None:
    """What the dispatcher records once Teams accepted the card."""
    async with transaction(sessions) as session:
        await questions.record_posted(session, question_id=_id(question), activity_id=activity_id)


async def answer(
    sessions: SessionFactory,
    question: Question,
    who: Person,
    text: str = ANSWER,
    *,
    activity: str | None = None,
    now: datetime = START,
) -> tuple[QuestionAnswer, bool]:
    async with transaction(sessions) as session:
        return await questions.answer(
            session,
            question_id=_id(question),
            person_id=_id(who),
            text=text,
            activity_id=activity if activity is not None else f"act-{next(_ids)}",
            now=now,
        )


async def reload(sessions: SessionFactory, question: Question) -> Question:
    async with sessions() as session:
        found = await session.get(Question, _id(question))
    assert found is not None
    return found


async def all_answers(sessions: SessionFactory) -> list[QuestionAnswer]:
    async with sessions() as session:
        rows = await session.exec(select(QuestionAnswer).order_by(col(QuestionAnswer.id)))
        return list(rows.all())


def identities(people: list[Person]) -> list[str]:
    """What would identify a person in a card, a message or a log line."""
    found: list[str] = []
    for who in people:
        found += [who.name or "", who.teams_user_id, who.aad_object_id or ""]
    return [item for item in found if item]


def card_text(card: Element) -> str:
    """Every string a person could read on a card."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "label", "placeholder") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)


def _card(activity: Activity) -> Element:
    (attachment,) = activity.attachments or []
    return card_content(attachment)


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


# -- storage rules (SQLite and PostgreSQL) ---------------------------------------------------------


async def test_asking_rules_and_asking_twice(any_sessions: SessionFactory) -> None:
    s = await scene(any_sessions)
    with pytest.raises(NotAllowed):
        await ask(any_sessions, s, who=s.outsider)
    with pytest.raises(InvalidText) as short:
        await ask(any_sessions, s, text="Zarit ?")
    assert short.value.reason == questions.TOO_SHORT
    with pytest.raises(InvalidText):
        await ask(any_sessions, s, text="x" * (questions.MAX_QUESTION_LENGTH + 1))
    with pytest.raises(HasIdentifiers) as spotted:
        await ask(any_sessions, s, text="Que faire pour Mme Tremblay, née le 1952-03-14 ?")
    assert "birth_date" in spotted.value.kinds
    assert await queued(any_sessions) == []

    question, created = await ask(any_sessions, s, anonymous=True, key="k1")
    assert created
    assert question.status == QuestionStatus.OPEN
    assert question.conversation_ref_id == s.channel.id
    # Asked twice: the same request, or the same open question typed again.
    again, created_again = await ask(any_sessions, s, key="k1")
    assert (again.id, created_again) == (question.id, False)
    same, created_same = await ask(any_sessions, s, text=f"  {QUESTION.upper()} ", key="k2")
    assert (same.id, created_same) == (question.id, False)
    rows = await queued(any_sessions)
    assert [(r.kind, r.dedup_key, r.conversation_ref_id, r.params) for r in rows] == [
        (KIND_POST, f"question:{question.id}:post", s.channel.id, {"question_id": question.id})
    ]


async def test_a_community_without_a_channel_cannot_be_asked(any_sessions: SessionFactory) -> None:
    s = await scene(any_sessions)
    async with transaction(any_sessions) as session:
        other = await factories.community(session, name="CdeP Deuil")
        other.teams_channel_id = "19:elsewhere@thread.tacv2"
        await factories.member(session, s.asker, other)
    with pytest.raises(NoChannel):
        async with transaction(any_sessions) as session:
            await questions.ask(
                session,
                community_id=_id(other),
                person_id=_id(s.asker),
                text=QUESTION,
                anonymous=False,
                request_key=None,
                now=START,
            )
    # Known only through a thread of that channel: its address is the channel's, without it.
    async with transaction(any_sessions) as session:
        session.add(
            ConversationRef(
                conversation_id="19:elsewhere@thread.tacv2;messageid=42",
                scope=s.channel.scope,
                service_url=SERVICE_URL,
                tenant_id=s.channel.tenant_id,
                bot_id=BOT_ID,
            )
        )
    question, _ = await ask(any_sessions, s, who=s.asker, text=QUESTION + " (deuil)", key=None)
    assert question.community_id == s.where.id  # the first community still works
    async with transaction(any_sessions) as session:
        asked, _ = await questions.ask(
            session,
            community_id=_id(other),
            person_id=_id(s.asker),
            text=QUESTION,
            anonymous=False,
            request_key=None,
            now=START,
        )
        posted_to = await session.get(ConversationRef, asked.conversation_ref_id)
    assert posted_to is not None
    assert posted_to.conversation_id == "19:elsewhere@thread.tacv2"


async def test_answers_are_recorded_once(any_sessions: SessionFactory) -> None:
    s = await scene(any_sessions)
    ana, ben = s.colleagues
    question, _ = await ask(any_sessions, s, anonymous=True)
    await post(any_sessions, question)

    first, created = await answer(any_sessions, question, ana, activity="thread-1")
    assert created
    # The same Teams activity delivered twice, and a double click with the same text.
    again, created_again = await answer(any_sessions, question, ana, "autre", activity="thread-1")
    assert (again.id, created_again) == (first.id, False)
    clicked, created_clicked = await answer(any_sessions, question, ana, f" {ANSWER.lower()}")
    assert (clicked.id, created_clicked) == (first.id, False)
    _, created_ben = await answer(any_sessions, question, ben, ANSWER)
    assert created_ben
    assert len(await all_answers(any_sessions)) == 2

    with pytest.raises(NotAllowed):
        await answer(any_sessions, question, s.outsider)
    with pytest.raises(HasIdentifiers):
        await answer(any_sessions, question, ana, "Appelez-la au 514 555-1234.")
    with pytest.raises(InvalidText):
        await answer(any_sessions, question, ana, " ")
    # The asker answering their own question is not told about it.
    await answer(any_sessions, question, s.asker, "Précision : en CLSC, à domicile.")
    notices = [
        (r.kind, r.person_id, r.params) for r in await queued(any_sessions) if r.kind == KIND_MANAGE
    ]
    assert notices == [
        (KIND_MANAGE, s.asker.id, {"question_id": question.id, "reason": REASON_NEW_ANSWER}),
        (KIND_MANAGE, s.asker.id, {"question_id": question.id, "reason": REASON_NEW_ANSWER}),
    ]
    assert len(await all_answers(any_sessions)) == 3


async def test_two_clicks_at_once_record_one_answer_and_one_flag(
    any_sessions: SessionFactory,
) -> None:
    s = await scene(any_sessions)
    question, _ = await ask(any_sessions, s)
    other, _ = await ask(any_sessions, s, text="Une autre question, sans réponse encore ?")
    await post(any_sessions, question)
    await post(any_sessions, other, "1701")
    results = await asyncio.gather(
        *(answer(any_sessions, question, s.colleagues[0], activity=f"c-{n}") for n in range(3))
    )
    assert sorted(created for _row, created in results) == [False, False, True]
    assert len(await all_answers(any_sessions)) == 1

    async def flag() -> int:
        async with transaction(any_sessions) as session:
            return await questions.queue_flags(session, now=START + timedelta(days=7), timezone=TZ)

    # Two replicas' jobs at the same moment: the facilitator is told once.
    assert sorted(await asyncio.gather(flag(), flag())) == [0, 1]
    assert [r.person_id for r in await queued(any_sessions) if r.kind == KIND_MANAGE][-1:] == [
        s.animator.id
    ]


async def test_helpful_answer_withdrawal_and_forged_clicks(any_sessions: SessionFactory) -> None:
    s = await scene(any_sessions)
    ana, ben = s.colleagues
    question, _ = await ask(any_sessions, s)
    other, _ = await ask(any_sessions, s, text="Une autre question pour la communauté ?")
    await post(any_sessions, question)
    helpful, _ = await answer(any_sessions, question, ana)
    elsewhere, _ = await answer(any_sessions, other, ben)

    async def mark(who: Person, answer_id: int, on: Question = question) -> bool:
        async with transaction(any_sessions) as session:
            _q, changed = await questions.mark_helpful(
                session,
                question_id=_id(on),
                answer_id=answer_id,
                person_id=_id(who),
                now=START + timedelta(hours=1),
            )
        return changed

    # Someone else (even the one who answered) cannot mark it; nothing changes.
    with pytest.raises(NotAllowed):
        await mark(ben, _id(helpful))
    with pytest.raises(NotAllowed):
        await mark(ana, _id(helpful))
    with pytest.raises(QuestionNotFound):
        await mark(s.asker, _id(elsewhere))  # an answer of another question
    assert (await reload(any_sessions, question)).status == QuestionStatus.OPEN

    assert await mark(s.asker, _id(helpful))
    assert not await mark(s.asker, _id(helpful))  # a double click
    assert not await mark(s.animator, _id(helpful))  # a facilitator may, and it is done
    marked = await reload(any_sessions, question)
    assert (marked.status, marked.helpful_answer_id) == (QuestionStatus.ANSWERED, helpful.id)
    assert marked.answered_at == START + timedelta(hours=1)

    async def withdraw(who: Person) -> bool:
        async with transaction(any_sessions) as session:
            _q, changed = await questions.withdraw(
                session, question_id=_id(question), person_id=_id(who), now=START
            )
        return changed

    # Only the asker withdraws: not a colleague, not a facilitator.
    for forger in (ben, s.animator):
        with pytest.raises(NotAllowed):
            await withdraw(forger)
    assert (await reload(any_sessions, question)).status == QuestionStatus.ANSWERED
    assert await withdraw(s.asker)
    assert not await withdraw(s.asker)
    assert (await reload(any_sessions, question)).status == QuestionStatus.WITHDRAWN
    with pytest.raises(QuestionWithdrawn):
        await answer(any_sessions, question, ben, "Trop tard ?")


async def test_the_exchange_becomes_a_toolbox_entry_once(any_sessions: SessionFactory) -> None:
    s = await scene(any_sessions)
    ana, ben = s.colleagues
    question, _ = await ask(any_sessions, s, anonymous=True)
    await post(any_sessions, question, "1700000000001")
    helpful, _ = await answer(any_sessions, question, ana)
    link = message_link(channel_id=CHANNEL, message_id="1700000000001", tenant_id="tenant-1")
    assert link is not None

    async def keep(who: Person) -> tuple[Resource, bool]:
        async with transaction(any_sessions) as session:
            return await questions.to_toolbox(
                session, question_id=_id(question), person_id=_id(who), url=link, now=START
            )

    with pytest.raises(NoHelpfulAnswer):
        await keep(s.asker)
    async with transaction(any_sessions) as session:
        await questions.mark_helpful(
            session,
            question_id=_id(question),
            answer_id=_id(helpful),
            person_id=_id(s.asker),
            now=START,
        )
    with pytest.raises(NotAllowed):
        await keep(ben)
    resource, created = await keep(s.asker)
    again, created_again = await keep(s.animator)
    assert created
    assert not created_again
    assert again.id == resource.id
    assert (resource.community_id, resource.kind, resource.title, resource.why) == (
        s.where.id,
        ResourceKind.OTHER,
        QUESTION,
        ANSWER,
    )
    assert resource.url == (
        "https://teams.microsoft.com/l/message/19%3Achannel-1%40thread.tacv2/1700000000001"
        "?parentMessageId=1700000000001&tenantId=tenant-1"
    )
    assert (await reload(any_sessions, question)).resource_id == resource.id
    async with any_sessions() as session:
        assert len((await session.exec(select(Resource))).all()) == 1


# -- the unanswered-question job, on a frozen clock ------------------------------------------


async def test_unanswered_questions_are_flagged_once_after_three_working_days(
    runtime: Runtime,
) -> None:
    sessions = runtime.sessions
    s = await scene(sessions)
    async with transaction(sessions) as session:
        second = await factories.person(session, 3, service_url=SERVICE_URL)
        membership = await factories.member(session, second, s.where)
        membership.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 10:00 in Montreal
    waiting, _ = await ask(sessions, s, anonymous=True, now=friday)
    answered, _ = await ask(sessions, s, text="Une question qui aura sa réponse ?", now=friday)
    unposted, _ = await ask(sessions, s, text="Une question jamais publiée ?", now=friday)
    await post(sessions, waiting, "m-1")
    await post(sessions, answered, "m-2")
    await answer(sessions, answered, s.colleagues[0])
    clock = Clock(friday)
    jobs = scheduled_jobs(runtime, clock)

    def flags(rows: list[OutboxMessage]) -> list[tuple[int | None, str]]:
        return [
            (r.person_id, r.dedup_key)
            for r in rows
            if r.kind == KIND_MANAGE and r.params.get("reason") == REASON_FLAGGED
        ]

    # Monday and Tuesday are two working days: not yet (the weekend does not count).
    clock.now = datetime(2026, 12, 2, 14, 59, tzinfo=UTC)
    assert await jobs.run("flag_unanswered_questions") == 0
    assert flags(await queued(sessions)) == []
    clock.now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # Wednesday 10:00: three
    assert await jobs.run("flag_unanswered_questions") == 2
    assert await jobs.run("flag_unanswered_questions") == 0  # again, or another replica
    clock.advance(days=7)
    assert await jobs.run("flag_unanswered_questions") == 0
    assert sorted(flags(await queued(sessions))) == sorted(
        [
            (s.animator.id, questions.flagged_key(_id(waiting), _id(s.animator))),
            (second.id, questions.flagged_key(_id(waiting), _id(second))),
        ]
    )
    assert (await reload(sessions, waiting)).flagged_at == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    assert (await reload(sessions, answered)).flagged_at is None
    assert (await reload(sessions, unposted)).flagged_at is None

    # What a facilitator receives names nobody (an anonymous question), in their language.
    (row,) = [
        r for r in await queued(sessions) if r.person_id == s.animator.id and r.kind == KIND_MANAGE
    ]
    activity = await QUESTION_RENDERERS[KIND_MANAGE](render_context(sessions, row, now=clock.now))
    assert activity is not None
    card = _card(activity)
    text = card_text(card)
    assert "Une question attend une réponse" in text
    assert "aucune réponse depuis trois jours ouvrables" in text
    assert QUESTION in text
    dumped = json.dumps(card, ensure_ascii=False)
    assert not [i for i in identities([s.asker]) if i in dumped]
    # Answered meanwhile: the flag is no longer relevant and is not sent.
    await answer(sessions, waiting, s.colleagues[1])
    assert await QUESTION_RENDERERS[KIND_MANAGE](render_context(sessions, row)) is None


# -- erasure and export (SQLite and PostgreSQL) ---------------------------------------------------


async def test_erasure_keeps_answered_questions_without_author_and_export_lists_them(
    any_sessions: SessionFactory,
) -> None:
    s = await scene(any_sessions)
    ana, ben = s.colleagues
    kept, _ = await ask(any_sessions, s)
    lonely, _ = await ask(any_sessions, s, text="Une question à laquelle personne n’a répondu ?")
    unposted, _ = await ask(any_sessions, s, text="Une question pas encore publiée ici ?")
    theirs, _ = await ask(any_sessions, s, who=ben, text="La question de Ben pour le groupe ?")
    await post(any_sessions, kept, "m-1")
    await post(any_sessions, lonely, "m-2")
    await post(any_sessions, theirs, "m-3")
    mine, _ = await answer(any_sessions, kept, s.asker, "Précision : à domicile.")
    helpful, _ = await answer(any_sessions, kept, ana)
    await answer(any_sessions, lonely, s.asker, "Une précision de ma part.")
    given, _ = await answer(any_sessions, theirs, s.asker, "Mon expérience : la grille ESAS.")
    async with transaction(any_sessions) as session:
        await questions.mark_helpful(
            session,
            question_id=_id(theirs),
            answer_id=_id(given),
            person_id=_id(ben),
            now=START,
        )

    async with any_sessions() as session:
        data = await privacy.export(session, person_id=_id(s.asker))
        facts = await privacy.inventory(session, person_id=_id(s.asker))
    assert facts is not None
    assert (facts.questions_asked, facts.question_answers) == (3, 3)
    assert [q["text"] for q in data["questions_asked"]] == [
        QUESTION,
        "Une question à laquelle personne n’a répondu ?",
        "Une question pas encore publiée ici ?",
    ]
    assert [q["answers"] for q in data["questions_asked"]] == [2, 1, 0]
    assert [(a["text"], a["helpful"]) for a in data["question_answers"]] == [
        ("Précision : à domicile.", False),
        ("Une précision de ma part.", False),
        ("Mon expérience : la grille ESAS.", True),
    ]
    # Only their own words: not Ana's answer, not the others' names.
    dumped = json.dumps(data, ensure_ascii=False)
    assert ANSWER not in dumped
    assert "Personne 10" not in dumped

    async with transaction(any_sessions) as session:
        report = await privacy.erase(session, person_id=_id(s.asker), now=START)
    assert report.deleted["questions_asked"] == 2
    assert report.anonymised["questions_asked"] == 1
    assert report.deleted["question_answers"] == 1
    assert report.anonymised["question_answers"] == 2
    assert report.queued >= 3

    async with any_sessions() as session:
        left = list((await session.exec(select(Question).order_by(col(Question.id)))).all())
    assert [q.id for q in left] == [kept.id, theirs.id]
    assert (left[0].asked_by_id, left[0].anonymous, left[0].text) == (None, True, QUESTION)
    answers = {a.id: a for a in await all_answers(any_sessions)}
    assert set(answers) == {mine.id, helpful.id, given.id}
    assert (answers[_id(mine)].answered_by_id, answers[_id(mine)].activity_id) == (None, None)
    assert answers[_id(given)].answered_by_id is None
    assert answers[_id(helpful)].answered_by_id == ana.id
    rows = {r.dedup_key: r for r in await queued(any_sessions)}
    # The lonely question's card is replaced by a notice; the unposted one never goes out.
    assert rows[questions.removed_key(_id(lonely))].params == {"activity_id": "m-2"}
    assert rows[questions.post_key(_id(unposted))].status == OutboxStatus.CANCELLED
    updated = {r.params["question_id"] for r in rows.values() if r.kind == KIND_CARD}
    assert updated == {kept.id, theirs.id}

    # The kept question's card names nobody now, the asker's answer neither.
    card = build_question_card(await _view(any_sessions, kept), locale="fr-CA", tz=TZ)
    text = card_text(card)
    assert "Posée sans nom dans CdeP Soins palliatifs" in text
    assert "Personne 7" not in text
    async with transaction(any_sessions) as session:
        again = await privacy.erase(session, person_id=_id(s.asker), now=START)
    assert "questions_asked" not in again.deleted
    assert "question_answers" not in again.anonymised


async def _view(sessions: SessionFactory, question: Question) -> questions.QuestionView:
    async with sessions() as session:
        found = await questions.view(session, question_id=_id(question))
    assert found is not None
    return found


# -- the cards, in fr and en ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr-CA",
            [
                "Question à la communauté",
                "Posée sans nom dans CdeP Soins palliatifs, le lundi 23 novembre 2026",
                QUESTION,
                "2\xa0réponses",
                "La personne qui pose la question",
                "Personne 10",
                "Répondez ici, ou dans le fil de ce message en me mentionnant (@Carrefour).",
                "Répondre",
                "Gérer la question",
            ],
        ),
        (
            "en",
            [
                "Question to the community",
                "Asked without a name in CdeP Soins palliatifs on Monday, November 23, 2026",
                "2 answers",
                "The person who asked",
                "Answer here, or in this message’s thread, mentioning me (@Carrefour).",
                "Answer",
                "Manage the question",
            ],
        ),
    ],
)
async def test_the_channel_card_of_an_anonymous_question_names_nobody(
    sessions: SessionFactory, caplog: pytest.LogCaptureFixture, locale: str, expected: list[str]
) -> None:
    s = await scene(sessions)
    # What the bot logs (the database driver's own debug lines echo every statement).
    caplog.set_level(logging.INFO)
    question, _ = await ask(sessions, s, anonymous=True)
    (row,) = await queued(sessions)
    activity = await QUESTION_RENDERERS[KIND_POST](render_context(sessions, row, locale=locale))
    assert activity is not None
    assert activity.id is None
    await post(sessions, question)
    # The asker adds a detail on the card's form (a click nobody else sees).
    await answer(
        sessions,
        question,
        s.asker,
        "Précision : en soins à domicile.",
        activity=questions.form_activity("click-1"),
    )
    await answer(sessions, question, s.colleagues[0])
    # Posted already: a retry of the post sends nothing; updates name the posted message.
    assert await QUESTION_RENDERERS[KIND_POST](render_context(sessions, row)) is None
    update_row = OutboxMessage(
        id=0, dedup_key="x", kind=KIND_CARD, params={"question_id": question.id}, not_before=START
    )
    updated = await QUESTION_RENDERERS[KIND_CARD](
        render_context(sessions, update_row, locale=locale)
    )
    assert updated is not None
    assert updated.id == "1700"
    card = _card(updated)
    text = card_text(card)
    for line in expected:
        assert line in text, line
    dumped = json.dumps(card, ensure_ascii=False)
    assert not [i for i in identities([s.asker]) if i in dumped]
    assert f"person:{s.asker.id}" not in dumped
    assert "asked_by" not in dumped
    assert card["actions"][0]["data"] == {"verb": "questions.answer", "question_id": question.id}
    assert card_bytes(card) < MAX_CARD_BYTES
    # Nor do the logs say who asked.
    assert not [i for i in identities([s.asker]) if i in caplog.text]
    # A reply the asker writes in the thread carries their name in Teams: the card shows the
    # same name, never « the person who asked » beside it.
    await answer(sessions, question, s.asker, "Et merci d’avance.", activity="thread-9")
    again = await QUESTION_RENDERERS[KIND_CARD](render_context(sessions, update_row))
    assert again is not None
    blocks = [
        [i["text"] for i in item["items"]]
        for item in _card(again)["body"]
        if item.get("type") == "Container"
    ]
    assert ["Personne 7", "Et merci d’avance."] in blocks
    assert ["La personne qui pose la question", "Précision : en soins à domicile."] in blocks


@pytest.mark.parametrize("locale", ["fr-CA", "en"])
async def test_the_askers_private_card_and_a_named_card(
    sessions: SessionFactory, locale: str
) -> None:
    s = await scene(sessions)
    question, _ = await ask(sessions, s)
    await post(sessions, question)
    first, _ = await answer(sessions, question, s.colleagues[0])
    await answer(sessions, question, s.colleagues[1], "x" * 1900)
    found = await _view(sessions, question)
    named = card_text(build_question_card(found, locale=locale, tz=TZ))
    assert ("Posée par Personne 7" if locale == "fr-CA" else "Asked by Personne 7") in named
    async with sessions() as session:
        rows = await questions.answers_of(session, question_id=_id(question))
    card = build_manage_card(
        found, rows, is_asker=True, reason=REASON_NEW_ANSWER, locale=locale, tz=TZ
    )
    text = card_text(card)
    title = (
        "Nouvelle réponse à votre question"
        if locale == "fr-CA"
        else "A new answer to your question"
    )
    assert title in text
    assert ("Cette réponse a aidé" if locale == "fr-CA" else "This answer helped") in text
    assert ("Retirer la question" if locale == "fr-CA" else "Withdraw the question") in text
    buttons = [
        a["data"]
        for item in card["body"]
        for inner in item.get("items", [])
        if inner.get("type") == "ActionSet"
        for a in inner["actions"]
    ]
    assert buttons[0] == {
        "verb": "questions.helpful",
        "question_id": question.id,
        "answer_id": first.id,
    }
    assert card_bytes(card) < MAX_CARD_BYTES


# -- the bot glue over a TestAdapter --------------------------------------------------------------


@dataclass
class Bot:
    """Drives the questions' handlers as the host does, and records what was said."""

    sessions: SessionFactory
    settings: Settings = field(default_factory=lambda: make_settings("sqlite+aiosqlite://"))
    adapter: ChatAdapter = field(default_factory=ChatAdapter)
    clock: Clock = field(default_factory=Clock)
    wakes: int = 0

    def context(
        self,
        who: Person,
        value: dict[str, Any] | None = None,
        *,
        channel: bool = True,
        conversation_id: str | None = None,
        text: str | None = None,
        activity_id: str | None = None,
    ) -> TurnContext:
        activity = Activity(
            type=ActivityTypes.message,
            id=activity_id or f"activity-{next(_ids)}",
            channel_id="msteams",
            service_url=SERVICE_URL,
            from_property=ChannelAccount(
                id=who.teams_user_id, name=who.name, aad_object_id=who.aad_object_id
            ),
            recipient=ChannelAccount(id=BOT_ID),
            conversation=ConversationAccount(
                id=conversation_id or (CHANNEL if channel else f"a:personal-{who.id}"),
                conversation_type="channel" if channel else "personal",
                is_group=channel,
            ),
            channel_data={"team": {"id": TEAM}, "channel": {"id": CHANNEL}} if channel else {},
            value=value,
            text=text,
        )
        return TurnContext(self.adapter, activity)

    def info(self, who: Person, locale: str = "fr-CA", *, channel: bool = True) -> TurnInfo:
        return TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=channel)

    def _wake(self) -> None:
        self.wakes += 1

    def turn(self, context: TurnContext, who: Person, *, channel: bool = True) -> FeatureTurn:
        info = self.info(who, channel=channel)
        context.turn_state[TURN_INFO_KEY] = info  # as the handler sets it, for dialogs
        return FeatureTurn(
            context=context,
            sessions=self.sessions,
            info=info,
            wake=self._wake,
            clock=self.clock,
            services=host_services(
                context, sessions=self.sessions, settings=self.settings, wake=self._wake
            ),
        )

    async def click(
        self,
        who: Person,
        value: dict[str, Any],
        *,
        channel: bool = True,
        activity_id: str | None = None,
    ) -> bool:
        return await press(
            self.context(who, value, channel=channel, activity_id=activity_id),
            value,
            sessions=self.sessions,
            settings=self.settings,
            info=self.info(who, channel=channel),
            wake=self._wake,
            clock=self.clock,
        )

    async def thread(self, who: Person, root: str, text: str, *, activity_id: str) -> bool:
        context = self.context(
            who,
            conversation_id=f"{CHANNEL};messageid={root}",
            text=text,
            activity_id=activity_id,
        )
        return await on_thread_reply(self.turn(context, who))

    async def typed(self, who: Person, text: str, *, channel: bool = True) -> None:
        parsed = REGISTRY.vocabulary.parse(text)
        handler = REGISTRY.command(parsed.command)
        assert handler is not None
        context = self.context(who, channel=channel, text=text)
        await handler(self.turn(context, who, channel=channel), parsed)

    def replies(self) -> list[Activity]:
        said = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return said

    def updates(self) -> list[Activity]:
        done = list(self.adapter.updated_activities)
        self.adapter.updated_activities.clear()
        return done


async def test_answering_on_the_card_and_in_its_thread(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)
    ana, ben = s.colleagues
    question, _ = await ask(sessions, s, anonymous=True)
    await post(sessions, question, "1700")
    value = {"verb": "questions.answer", "question_id": question.id, "answer": ANSWER}

    # « Répondre » twice with the same text: one answer; the card updates in place, silently.
    assert await bot.click(ana, value)
    assert await bot.click(ana, value)
    assert bot.replies() == []
    updates = bot.updates()
    assert [u.id for u in updates] == ["1700", "1700"]
    assert "1\xa0réponse" in card_text(_card(updates[-1]))
    assert len(await all_answers(sessions)) == 1

    # A reply in the card's thread, delivered twice: one answer.
    assert await bot.thread(ben, "1700", "Le Zarit aussi, et un suivi à 3 mois.", activity_id="t1")
    assert await bot.thread(ben, "1700", "Le Zarit aussi, et un suivi à 3 mois.", activity_id="t1")
    assert [a.activity_id for a in await all_answers(sessions)][-1] == "t1"
    assert len(await all_answers(sessions)) == 2
    assert "2\xa0réponses" in card_text(_card(bot.updates()[-1]))
    # A thread under any other message is not the feature's.
    assert not await bot.thread(ben, "999", "Autre chose", activity_id="t2")

    # Refusals reach the person alone, through the outbox; nothing in the channel.
    await bot.click(s.outsider, value)
    await bot.click(ana, {**value, "answer": "Son courriel : a.b@exemple.ca"})
    await bot.click(ana, {**value, "answer": ""})
    await bot.click(ana, {"verb": "questions.answer", "question_id": "oops", "answer": "x"})
    assert bot.replies() == []
    assert bot.updates() == []
    notices = [
        (r.person_id, r.params["text"]) for r in await queued(sessions) if r.kind == "notice"
    ]
    assert notices == [
        (s.outsider.id, "questions.answer.not_member"),
        (ana.id, "questions.answer.identifiers"),
        (ana.id, "questions.answer.too_short"),
        (ana.id, "error.unknown_action"),
    ]
    identifiers_notice = [r for r in await queued(sessions) if r.kind == "notice"][1]
    email = identifier_kinds_text([IdentifierKind.EMAIL], locale="fr-CA")
    assert identifiers_notice.params["values"] == {"kinds": email}
    assert "a.b@exemple.ca" not in json.dumps(identifiers_notice.params)
    assert len(await all_answers(sessions)) == 2


async def test_managing_from_the_card_and_forged_clicks(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)
    ana, ben = s.colleagues
    question, _ = await ask(sessions, s, anonymous=True)
    await post(sessions, question, "1700")
    helpful, _ = await answer(sessions, question, ana)

    # « Gérer » in the channel: the asker's controls go to their 1:1 chat; others are told no.
    await bot.click(s.asker, {"verb": "questions.manage", "question_id": question.id})
    await bot.click(ben, {"verb": "questions.manage", "question_id": question.id})
    assert bot.replies() == []
    manage = [
        (r.person_id, r.kind, r.params)
        for r in await queued(sessions)
        if r.kind in (KIND_MANAGE, "notice") and r.params.get("reason") != REASON_NEW_ANSWER
    ]
    assert manage == [
        (s.asker.id, KIND_MANAGE, {"question_id": question.id, "reason": "manage"}),
        (ben.id, "notice", {"text": "questions.manage.not_allowed", "values": {}}),
    ]

    # Forged: Ben marks the helpful answer, withdraws the question. Nothing changes.
    mark = {"verb": "questions.helpful", "question_id": question.id, "answer_id": helpful.id}
    await bot.click(ben, mark, channel=False)
    await bot.click(ben, {"verb": "questions.withdraw", "question_id": question.id}, channel=False)
    await bot.click(
        ben,
        {"verb": "questions.withdraw", "question_id": question.id, "confirmed": True},
        channel=False,
    )
    said = [text_of(a) for a in bot.replies()]
    assert said == [
        "Seule la personne qui a posé la question, ou l’animation de la communauté, peut faire "
        "cela.",
        "Seule la personne qui a posé la question peut la retirer.",
        "Seule la personne qui a posé la question peut la retirer.",
    ]
    unchanged = await reload(sessions, question)
    assert (unchanged.status, unchanged.helpful_answer_id) == (QuestionStatus.OPEN, None)

    # The asker marks it from their 1:1 chat: the channel card is updated through the outbox.
    await bot.click(s.asker, mark, channel=False)
    await bot.click(s.asker, mark, channel=False)  # a double click
    texts = [a.text for a in bot.replies() if a.text]
    assert texts == [
        "Merci\xa0! La réponse qui a aidé est indiquée sur la carte de la question.",
        "Cette réponse est déjà indiquée comme celle qui a aidé.",
    ]
    assert (await reload(sessions, question)).status == QuestionStatus.ANSWERED
    cards = [r for r in await queued(sessions) if r.kind == KIND_CARD]
    assert [r.conversation_ref_id for r in cards] == [s.channel.id]

    # Withdrawing asks first, then withdraws; the card then says so.
    await bot.click(
        s.asker, {"verb": "questions.withdraw", "question_id": question.id}, channel=False
    )
    (confirm,) = bot.replies()
    assert "Retirer cette question\xa0?" in card_text(_card(confirm))
    done = {"verb": "questions.withdraw", "question_id": question.id, "confirmed": True}
    await bot.click(s.asker, done, channel=False)
    await bot.click(s.asker, done, channel=False)
    outcomes = [card_text(_card(a)) for a in bot.replies()]
    assert outcomes == [
        "Votre question est retirée\xa0; sa carte dans le canal l’indique.",
        "Cette question est déjà retirée.",
    ]
    withdrawn = build_question_card(await _view(sessions, question), locale="fr-CA", tz=TZ)
    assert card_text(withdrawn) == (
        "Question à la communauté\nCette question a été retirée par la personne qui l’a posée."
    )
    assert "actions" not in withdrawn


async def test_asking_from_the_channel_and_the_command_words(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    s = await scene(sessions)
    parse = REGISTRY.vocabulary.parse
    assert parse("question Comment faire ?").command == "question"
    assert parse("poser une question").command == "question"
    assert parse("ask a question").command == "question"
    assert original_argument(
        "Question   Quel outil pour l’Évaluation ?", "quel outil pour l'evaluation"
    ) == ("Quel outil pour l’Évaluation ?")

    await bot.typed(s.asker, "question Quel outil pour l’Évaluation des proches aidants ?")
    (said,) = [text_of(a) for a in bot.replies()]
    assert said.startswith("Votre question est publiée dans le canal\xa0;")
    async with sessions() as session:
        (question,) = (await session.exec(select(Question))).all()
    assert (question.text, question.anonymous, question.asked_by_id) == (
        "Quel outil pour l’Évaluation des proches aidants ?",
        False,
        s.asker.id,
    )
    await bot.typed(s.outsider, "question Quelqu’un connaît un bon outil pour ça ?")
    (refused,) = [text_of(a) for a in bot.replies()]
    assert refused.startswith("Seuls les membres de cette communauté")
    # Identifiers in a message already in the channel: told privately, nothing posted.
    await bot.typed(s.asker, "question Que faire pour le dossier no 123456 de mon usager ?")
    assert bot.replies() == []
    (notice,) = [r for r in await queued(sessions) if r.kind == "notice"]
    assert (notice.person_id, notice.params["text"]) == (s.asker.id, "questions.ask.identifiers")
    async with sessions() as session:
        assert len((await session.exec(select(Question))).all()) == 1
    # In the 1:1 chat, the text typed with the command is the dialog's first answer.
    await bot.typed(
        s.colleagues[0], "question Qui a une grille pour le deuil compliqué ?", channel=False
    )
    (asked_name,) = [what_is_read(a) for a in bot.replies()]
    assert asked_name.startswith("Votre nom doit-il paraître avec la question\xa0?")


async def test_the_post_records_the_cards_message_id(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    question, _ = await ask(sessions, s)
    (row,) = await queued(sessions)
    async with transaction(sessions) as session:
        stored = await session.get(OutboxMessage, row.id)
        assert stored is not None
        stored.activity_id = "1700000000042"
        stored.status = OutboxStatus.SENT
    renderer = QUESTION_RENDERERS[KIND_POST]
    assert isinstance(renderer, RecordedRenderer)
    message = render_context(sessions, row).message
    await renderer.delivered(message, sessions, START)
    await renderer.delivered(message, sessions, START)
    assert (await reload(sessions, question)).activity_id == "1700000000042"


async def test_an_erased_questions_card_becomes_a_notice(sessions: SessionFactory) -> None:
    row = OutboxMessage(
        id=0, dedup_key="x", kind=KIND_REMOVED, params={"activity_id": "1700"}, not_before=START
    )
    activity = await QUESTION_RENDERERS[KIND_REMOVED](render_context(sessions, row, locale="en"))
    assert activity is not None
    assert activity.id == "1700"
    assert card_text(_card(activity)) == (
        "Question to the community\n"
        "This question was removed at the request of the person who asked it."
    )


# -- the dialog, in fr and en --------------------------------------------------------------------


@dataclass
class AskChat(DialogChat):
    options: AskQuestionOptions = field(default_factory=AskQuestionOptions)
    wakes: int = 0

    def dialog(self) -> AskQuestionDialog:
        return AskQuestionDialog(self.sessions, self._wake, clock=Clock())

    def begin_options(self) -> AskQuestionOptions:
        return self.options

    def _wake(self) -> None:
        self.wakes += 1


async def test_asking_without_ones_name_in_french(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    async with transaction(sessions) as session:
        other = await factories.community(session, name="CdeP Deuil")
        await factories.member(session, s.asker, other)
    chat = AskChat(sessions, s.asker)

    (which,) = await chat.say("question")
    assert which.startswith("À quelle communauté voulez-vous poser votre question\xa0?")
    assert "[CdeP Deuil]" in which
    assert "[CdeP Soins palliatifs]" in which
    (ask_text,) = await chat.say("CdeP Soins palliatifs")
    assert ask_text.startswith("Quelle est votre question pour CdeP Soins palliatifs\xa0?")
    (short,) = await chat.say("Zarit ?")
    assert short.startswith("Votre question doit compter au moins 10\xa0caractères")
    (spotted,) = await chat.say("Une dame (514 555-1234) refuse les soins : que faire ?")
    assert spotted.startswith("Votre question semble contenir un numéro de téléphone")
    assert "514" not in spotted
    (ask_name,) = await chat.say(QUESTION)
    assert ask_name.startswith("Votre nom doit-il paraître avec la question\xa0?")
    (summary,) = await chat.say("Sans mon nom")
    assert f"Votre question pour CdeP Soins palliatifs\xa0:\n\n{QUESTION}" in summary
    assert "Elle sera publiée sans votre nom" in summary
    (posted,) = await chat.say("Publier")
    assert posted.startswith(
        "Votre question est publiée sans votre nom dans le canal de CdeP Soins palliatifs"
    )
    async with sessions() as session:
        (question,) = (await session.exec(select(Question))).all()
    assert (question.anonymous, question.asked_by_id, question.text) == (True, s.asker.id, QUESTION)
    assert question.asked_at == START
    assert chat.result == AskedQuestion(
        question_id=_id(question), community_id=_id(s.where), created=True
    )
    assert chat.wakes == 1
    assert [r.kind for r in await queued(sessions)] == [KIND_POST]


async def test_asking_with_ones_name_in_english_with_the_text_given(
    sessions: SessionFactory,
) -> None:
    s = await scene(sessions, locale="en")
    chat = AskChat(
        sessions,
        s.asker,
        locale="en",
        options=AskQuestionOptions(text="Which scale do you use for caregiver distress?"),
    )
    (ask_name,) = await chat.say("question")
    assert ask_name.startswith("Should your name appear with the question?")
    (summary,) = await chat.say("With my name")
    assert "It will be posted with your name in the community’s channel." in summary
    (posted,) = await chat.say("Post")
    assert posted.startswith("Your question is posted in the channel of CdeP Soins palliatifs.")
    # The same question again: not posted twice.
    again = AskChat(
        sessions,
        s.asker,
        locale="en",
        options=AskQuestionOptions(text="Which scale do you use for caregiver distress?"),
    )
    await again.say("question")
    await again.say("With my name")
    (already,) = await again.say("Post")
    assert already.startswith("You already asked this question in CdeP Soins palliatifs")
    async with sessions() as session:
        (question,) = (await session.exec(select(Question))).all()
    assert (question.anonymous, question.asked_by_id) == (False, s.asker.id)


async def test_no_member_no_question(sessions: SessionFactory) -> None:
    s = await scene(sessions)
    chat = AskChat(sessions, s.outsider)
    (said,) = await chat.say("question")
    assert said.startswith("Vous n’êtes membre d’aucune communauté pour l’instant")
    assert await queued(sessions) == []


# -- over HTTP: the channel command, the post, a reply in the card’s thread ----------------------


async def test_over_http_a_question_is_posted_and_a_thread_reply_answers_it(
    sqlite_url: str, connector: FakeConnector
) -> None:
    client = TestClient(TestServer(create_app(make_settings(sqlite_url))))
    await client.start_server()
    try:
        runtime = client.app[RUNTIME]
        channel = "19:channel@thread.tacv2"  # tests.activities' channel
        async with transaction(runtime.sessions) as session:
            where = await factories.community(session)
            where.teams_channel_id = channel
            for n in (1, 2):
                who = Person(teams_user_id=f"29:user-{n}", name=f"Collègue {n}", tenant_id=TENANT)
                session.add(who)
                await session.flush()
                await factories.member(session, who, where)

        async def send(activity: dict[str, Any]) -> None:
            response = await client.post("/api/messages", json=activity)
            assert response.status in (200, 201)

        await send(
            message(
                "question Quel outil utilisez-vous pour évaluer la détresse des proches ?",
                service_url=connector.url,
                conversation_type="channel",
                mention_bot=True,
            )
        )
        assert connector.texts()[-1].startswith("Votre question est publiée dans le canal")
        # The dispatcher posts the card as a new message in the channel and keeps its id.
        await dispatcher(runtime, Clock(datetime.now(UTC) + timedelta(minutes=1))).dispatch_once()
        posted = connector.activities(channel)[-1]
        assert posted["attachments"][0]["content"]["body"][0]["text"] == (
            "Question à la communauté"
        )
        async with runtime.sessions() as session:
            (question,) = (await session.exec(select(Question))).all()
        assert question.activity_id is not None

        reply = message(
            "Le Zarit, version courte.",
            service_url=connector.url,
            sender=user(2, name="Collègue 2"),
            conversation_type="channel",
            conversation_id=f"{channel};messageid={question.activity_id}",
            mention_bot=True,
            activity_id="reply-1",
        )
        reply["channelData"]["channel"] = {"id": channel}
        await send(reply)
        await send(reply)  # Teams delivers it again
        async with runtime.sessions() as session:
            answers = (await session.exec(select(QuestionAnswer))).all()
        assert [(a.text, a.activity_id) for a in answers] == [
            ("Le Zarit, version courte.", "reply-1")
        ]
        # The card was updated in place (no suggestion, nothing else said in the thread).
        updated = [r for r in connector.received if r.method == "PUT"]
        assert updated
        assert "1\xa0réponse" in json.dumps(updated[-1].body, ensure_ascii=False)
    finally:
        await client.close()
