"""The topic bank (banque de sujets): who may propose, vote and change a status (on SQLite and
PostgreSQL), the bank's order and counts, the proposal dialog in French and English, the bot
glue over a ChatAdapter, and the cards as members and animators see them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    TurnContextProtocol,
)
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import DialogSet
from sqlalchemy import event
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import CarrefourAdapter
from bot.app import REGISTRY, RUNTIME
from bot.community_actions import Services
from bot.topics_flow import on_propose_command, on_topics_command
from cards.common import CARD_VERSION, MAX_CARD_BYTES, Element
from cards.i18n import translator
from cards.topics import (
    MAX_TOPICS_SHOWN,
    build_topic_bank_card,
    build_topics_community_choice_card,
)
from dialogs.base import simplify
from dialogs.context import TURN_INFO_KEY, TurnInfo
from dialogs.propose_topic_dialog import (
    ProposedTopic,
    ProposeTopicDialog,
    ProposeTopicOptions,
)
from storage import topics
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers, IdentifierKind
from storage.models import (
    Community,
    Person,
    Role,
    Topic,
    TopicStatus,
    TopicVote,
    Volet,
)
from storage.state_store import SqlPrivateConversationState, SqlStorage
from storage.topics import TopicClosed, TopicRow
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import (
    ChatAdapter,
    DialogChat,
    card_actions,
    card_content,
    press,
    queued,
    said,
)

TZ = "America/Montreal"
T0 = datetime(2026, 9, 1, 13, 0, tzinfo=UTC)
CHANNEL = "19:soins-palliatifs@thread.tacv2"
LONG_TITLE = "Soins de plaies " * 8  # 128 characters
SETTINGS = make_settings("sqlite+aiosqlite:///unused.db")


def _id(row: Person | Community | Topic) -> int:
    assert row.id is not None
    return row.id


async def joined(
    session: AsyncSession,
    n: int,
    where: Community,
    *,
    animator: bool = False,
    locale: str = "fr-CA",
) -> Person:
    who = await factories.person(session, n, locale=locale)
    row = await factories.member(session, who, where)
    if animator:
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        await session.flush()
    return who


async def proposed(
    session: AsyncSession,
    where: Community,
    who: Person,
    title: str,
    *,
    hide: bool = False,
    kind: Volet = Volet.FORMATIVE,
    created_at: datetime | None = None,
) -> Topic:
    topic = await topics.propose(
        session,
        community_id=_id(where),
        person_id=_id(who),
        title=title,
        description="",
        kind=kind,
        presenter=None,
        hide_proposer=hide,
    )
    if created_at is not None:
        topic.created_at = created_at
        await session.flush()
    return topic


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def count_rows(sessions: SessionFactory, table: type[Topic] | type[TopicVote]) -> int:
    async with sessions() as session:
        return len((await session.exec(select(table))).all())


# -- storage rules -------------------------------------------------------------------------------


async def test_only_active_members_propose_and_the_title_is_checked(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        member = await joined(session, 1, where)
        outsider = await factories.person(session, 2)
        gone = await joined(session, 3, where)
        gone_row = await factories.member(session, gone, await factories.community(session))
        gone_row.left_at = T0

    async with transaction(sessions) as session:
        topic = await topics.propose(
            session,
            community_id=_id(where),
            person_id=_id(member),
            title="  Soins de plaies complexes à domicile  ",
            description=" Pansements, suivi, liens avec le GMF. ",
            kind=Volet.FORMATIVE,
            presenter="  ",
            hide_proposer=True,
        )
    assert (topic.title, topic.description, topic.presenter) == (
        "Soins de plaies complexes à domicile",
        "Pansements, suivi, liens avec le GMF.",
        None,
    )
    assert (topic.status, topic.kind, topic.hide_proposer) == (
        TopicStatus.PROPOSED,
        Volet.FORMATIVE,
        True,
    )

    refused: list[tuple[int, dict[str, Any], type[Exception]]] = [
        (_id(outsider), {}, NotAllowed),
        (_id(member), {"title": "   "}, ValueError),
        (_id(member), {"title": "x" * 121}, ValueError),
        (_id(member), {"description": "x" * 2001}, ValueError),
        (_id(member), {"presenter": "x" * 201}, ValueError),
        (_id(member), {"kind": Volet.LOGISTICS}, ValueError),
    ]
    for person_id, changes, error in refused:
        arguments: dict[str, Any] = {
            "title": "Un sujet",
            "description": "",
            "kind": Volet.EXCHANGE,
            "presenter": None,
            "hide_proposer": False,
            **changes,
        }
        with pytest.raises(error):
            async with transaction(sessions) as session:
                await topics.propose(
                    session, community_id=_id(where), person_id=person_id, **arguments
                )
    # Someone who left another community is still a member of this one: only that counts.
    async with transaction(sessions) as session:
        await proposed(session, where, gone, "x" * 120)
        with pytest.raises(NotAllowed):
            await topics.propose(
                session,
                community_id=gone_row.community_id,
                person_id=_id(gone),
                title="Un sujet",
                description="",
                kind=Volet.EXCHANGE,
                presenter=None,
                hide_proposer=False,
            )
    assert await count_rows(sessions, Topic) == 2


async def test_support_is_one_per_person_and_taken_back_only_when_asked(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        elsewhere = await factories.community(session, name="CdeP Organisation communautaire")
        first = await joined(session, 1, where)
        second = await joined(session, 2, where)
        stranger = await joined(session, 3, elsewhere)
        topic = await proposed(session, where, first, "Tour de table\xa0: enjeux des milieux")
        topic_id = _id(topic)

    async def support(who: Person, wanted: bool = True) -> bool:
        async with transaction(sessions) as session:
            return await topics.support(
                session, topic_id=topic_id, person_id=_id(who), wanted=wanted
            )

    async def votes() -> int:
        async with sessions() as session:
            (row,) = await topics.bank(session, community_id=_id(where))
        return row.votes

    assert await support(first) is True
    assert await votes() == 1
    assert await support(second) is True
    assert await votes() == 2
    assert await support(first) is False  # a second click changes nothing
    assert await votes() == 2
    assert await support(first, wanted=False) is True
    assert await votes() == 1
    assert await support(first, wanted=False) is False
    assert await support(first) is True
    assert await votes() == 2
    with pytest.raises(NotAllowed):
        await support(stranger)
    assert await count_rows(sessions, TopicVote) == 2

    # Once scheduled, support no longer changes anything, either way.
    async with transaction(sessions) as session:
        scheduled = await session.get(Topic, topic_id)
        assert scheduled is not None
        scheduled.status = TopicStatus.SCHEDULED
    with pytest.raises(TopicClosed):
        await support(second, wanted=False)
    assert await votes() == 2


async def test_only_an_animator_of_the_community_changes_a_status(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        elsewhere = await factories.community(session, name="CdeP Organisation communautaire")
        member = await joined(session, 1, where)
        animator = await joined(session, 2, where, animator=True)
        other_animator = await joined(session, 3, elsewhere, animator=True)
        topic = await proposed(session, where, member, "Discussion de cas complexe")
        topic_id = _id(topic)

    for who in (member, other_animator):
        with pytest.raises(NotAllowed):
            async with transaction(sessions) as session:
                await topics.set_status(
                    session,
                    topic_id=topic_id,
                    status=TopicStatus.SHORTLISTED,
                    by_person_id=_id(who),
                )
    async with sessions() as session:
        unchanged = await session.get(Topic, topic_id)
    assert unchanged is not None
    assert (unchanged.status, unchanged.status_changed_at) == (TopicStatus.PROPOSED, None)

    async with transaction(sessions) as session:
        await topics.set_status(
            session,
            topic_id=topic_id,
            status=TopicStatus.SHORTLISTED,
            by_person_id=_id(animator),
            now=T0,
        )
    async with sessions() as session:
        changed = await session.get(Topic, topic_id)
        shortlist = await topics.shortlisted(session, community_id=_id(where))
    assert changed is not None
    assert (changed.status, changed.status_changed_at) == (TopicStatus.SHORTLISTED, T0)
    assert [t.id for t in shortlist] == [topic_id]


async def test_the_bank_is_ordered_by_status_then_votes_then_age_in_one_query(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        elsewhere = await factories.community(session, name="CdeP Organisation communautaire")
        people = [await joined(session, n, where) for n in range(1, 5)]
        outsider = await joined(session, 9, elsewhere)
        animator = await joined(session, 5, where, animator=True)
        titles = ["A", "B", "C", "D", "E", "F"]
        made = {
            title: await proposed(
                session, where, people[0], title, created_at=T0 + timedelta(minutes=n)
            )
            for n, title in enumerate(titles)
        }
        await proposed(session, elsewhere, outsider, "Ailleurs")
        # B: 3 votes, C: 1, A: 1 (older than C), D: shortlisted with 4, E: done, F: declined.
        for title, voters in {"B": 3, "C": 1, "A": 1, "D": 4}.items():
            for who in people[:voters]:
                await topics.support(
                    session, topic_id=_id(made[title]), person_id=_id(who), wanted=True
                )
        for title, status in {
            "D": TopicStatus.SHORTLISTED,
            "E": TopicStatus.DONE,
            "F": TopicStatus.DECLINED,
        }.items():
            await topics.set_status(
                session, topic_id=_id(made[title]), status=status, by_person_id=_id(animator)
            )
        # A topic whose proposer was erased keeps its place, with no proposer.
        made["E"].proposed_by_id = None
        await session.flush()

    statements: list[str] = []
    engine = sessions.kw["bind"]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with sessions() as session:
            rows = await topics.bank(session, community_id=_id(where), viewer_id=_id(people[2]))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)

    assert [(r.topic.title, str(r.topic.status), r.votes) for r in rows] == [
        ("B", "proposed", 3),
        ("A", "proposed", 1),
        ("C", "proposed", 1),
        ("D", "shortlisted", 4),
        ("E", "done", 0),
        ("F", "declined", 0),
    ]
    assert [r.proposer.id if r.proposer else None for r in rows] == [
        people[0].id,
        people[0].id,
        people[0].id,
        people[0].id,
        None,
        people[0].id,
    ]
    # people[2] is the third voter: only on B and D.
    assert [r.supported for r in rows] == [True, False, False, True, False, False]
    assert len([s for s in statements if "GROUP BY" in s.upper()]) == len(statements) == 1


# -- the cards -------------------------------------------------------------------------------------


def _text(card: Element) -> str:
    return json.dumps(card, ensure_ascii=False)


def _size(card: Element) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def _inputs(card: Element) -> list[Element]:
    found: list[Element] = []

    def walk(items: list[Element]) -> None:
        for item in items:
            if item.get("type", "").startswith("Input."):
                found.append(item)
            walk(item.get("items", []))

    walk(card["body"])
    return found


def _sample_rows() -> tuple[Community, list[TopicRow]]:
    where = Community(id=7, name="CdeP Soins palliatifs")
    lea = Person(id=1, teams_user_id="29:a", name="Léa Tremblay")
    marc = Person(id=2, teams_user_id="29:b", name="Marc Gagnon")
    shown = Topic(
        id=11,
        community_id=7,
        title="Soins de plaies complexes à domicile",
        description="Pansements, suivi et liens avec le GMF.",
        kind=Volet.FORMATIVE,
        presenter="Infirmière du CLSC",
        proposed_by_id=1,
    )
    hidden = Topic(
        id=12,
        community_id=7,
        title="Un deuil difficile en soins palliatifs",
        kind=Volet.REFLECTIVE,
        proposed_by_id=2,
        hide_proposer=True,
        status=TopicStatus.SHORTLISTED,
    )
    done = Topic(
        id=13, community_id=7, title="Tour de table", kind=Volet.EXCHANGE, status=TopicStatus.DONE
    )
    return where, [
        TopicRow(topic=shown, votes=3, proposer=lea, supported=True),
        TopicRow(topic=hidden, votes=1, proposer=marc),
        TopicRow(topic=done, votes=0, proposer=None),
    ]


def test_members_see_the_bank_without_hidden_names_or_status_controls() -> None:
    where, rows = _sample_rows()
    fr = build_topic_bank_card(rows, community=where, viewer_is_animator=False, locale="fr-CA")
    text = _text(fr)
    for words in (
        "Banque de sujets — CdeP Soins palliatifs",
        "Soins de plaies complexes à domicile",
        "Volet formatif · Proposé · 3\xa0appuis · Présentation\xa0: Infirmière du CLSC · "
        "Proposé par Léa Tremblay",
        "Volet réflexif · Retenu · 1\xa0appui",
        "Volet d’échange · Traité · 0\xa0appui",
        "Pansements, suivi et liens avec le GMF.",
    ):
        assert words in text
    assert "Marc Gagnon" not in text
    assert _inputs(fr) == []
    # The done topic can no longer be supported: no button.
    assert [(a["title"], a["data"]) for a in card_actions(fr)] == [
        ("Proposer un sujet", {"verb": "topics.propose", "community_id": 7}),
        ("Retirer mon +1", {"verb": "topics.vote", "topic_id": 11, "support": False}),
        ("+1", {"verb": "topics.vote", "topic_id": 12, "support": True}),
    ]
    assert fr["version"] == CARD_VERSION == "1.5"

    en = build_topic_bank_card(rows, community=where, viewer_is_animator=False, locale="en-US")
    text = _text(en)
    for words in (
        "Topic bank — CdeP Soins palliatifs",
        "Training part · Proposed · 3 votes · Presenter: Infirmière du CLSC · "
        "Proposed by Léa Tremblay",
        "Reflective part · Shortlisted · 1 vote",
        "Exchange part · Done · 0 votes",
    ):
        assert words in text
    assert "Marc Gagnon" not in text
    assert [a["title"] for a in card_actions(en)] == ["Propose a topic", "Remove my +1", "+1"]


def test_animators_see_hidden_names_marked_and_a_status_choice_per_topic() -> None:
    where, rows = _sample_rows()
    for locale, marked, change, labels in (
        (
            "fr-CA",
            "Proposé par Marc Gagnon (nom masqué aux membres)",
            "Changer",
            ["Proposé", "Retenu", "Planifié", "Traité", "Écarté"],
        ),
        (
            "en-US",
            "Proposed by Marc Gagnon (name hidden from members)",
            "Change",
            ["Proposed", "Shortlisted", "Scheduled", "Done", "Declined"],
        ),
    ):
        card = build_topic_bank_card(rows, community=where, viewer_is_animator=True, locale=locale)
        assert marked in _text(card)
        inputs = _inputs(card)
        assert [(i["id"], i["value"]) for i in inputs] == [
            ("status_11", "proposed"),
            ("status_12", "shortlisted"),
            ("status_13", "done"),
        ]
        assert [c["title"] for c in inputs[0]["choices"]] == labels
        assert [(a["title"], a["data"]) for a in card_actions(card) if a["title"] == change] == [
            (change, {"verb": "topics.status", "topic_id": n}) for n in (11, 12, 13)
        ]
        assert _size(card) < MAX_CARD_BYTES


def test_an_empty_bank_invites_a_first_proposal_and_the_choice_card_lists_communities() -> None:
    where = Community(id=7, name="CdeP Soins palliatifs")
    fr = build_topic_bank_card([], community=where, viewer_is_animator=False, locale="fr-CA")
    assert "Aucun sujet pour l’instant. Proposez le premier\xa0!" in _text(fr)
    en = build_topic_bank_card([], community=where, viewer_is_animator=True, locale="en-US")
    assert "No topics yet. Propose the first one!" in _text(en)

    other = Community(id=8, name="CdeP Organisation communautaire")
    choice = build_topics_community_choice_card([where, other], locale="fr-CA")
    assert "La banque de sujets de quelle communauté\xa0?" in _text(choice)
    assert [(a["title"], a["data"]) for a in card_actions(choice)] == [
        ("CdeP Soins palliatifs", {"verb": "topics.show", "community_id": 7}),
        ("CdeP Organisation communautaire", {"verb": "topics.show", "community_id": 8}),
    ]


def test_a_large_bank_stays_under_the_teams_limit_and_says_how_many_are_left_out() -> None:
    where = Community(id=7, name="CdeP Soins palliatifs")
    proposer = Person(id=1, teams_user_id="29:a", name="Léa Tremblay")
    rows = [
        TopicRow(
            topic=Topic(
                id=n,
                community_id=7,
                title=f"Sujet {n} — " + "é" * 100,
                description="Réflexion clinique " * 110,
                presenter="Une personne invitée " * 9,
                kind=Volet.REFLECTIVE,
                proposed_by_id=1,
                hide_proposer=True,
            ),
            votes=40 - n,
            proposer=proposer,
        )
        for n in range(1, 41)
    ]
    for animator in (False, True):
        card = build_topic_bank_card(
            rows, community=where, viewer_is_animator=animator, locale="fr-CA"
        )
        assert _size(card) < MAX_CARD_BYTES
        assert len(json.dumps(card).encode("utf-8")) < MAX_CARD_BYTES
        shown = [a for a in card_actions(card) if a["data"]["verb"] == "topics.vote"]
        assert 1 <= len(shown) <= MAX_TOPICS_SHOWN
        # Most relevant first: the card keeps the beginning of the bank's order.
        assert [a["data"]["topic_id"] for a in shown] == list(range(1, len(shown) + 1))
        assert f"{40 - len(shown)}\xa0autres sujets ne sont pas affichés" in _text(card)


# -- the dialog, in isolation (DialogTestClient) ---------------------------------------------------


@dataclass
class Dialog(DialogChat):
    """The proposal dialog alone, turn by turn."""

    options: ProposeTopicOptions = field(default_factory=ProposeTopicOptions)
    wakes: int = 0

    def dialog(self) -> ProposeTopicDialog:
        return ProposeTopicDialog(self.sessions, self._wake)

    def begin_options(self) -> ProposeTopicOptions:
        return self.options

    def _wake(self) -> None:
        self.wakes += 1


async def test_proposing_a_topic_in_french_saves_it_and_tells_each_animator(
    sessions: SessionFactory,
) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        lea = await joined(session, 1, where)
        first = await joined(session, 2, where, animator=True)
        second = await joined(session, 3, where, animator=True)
    chat = Dialog(sessions, lea)

    (ask_title,) = await chat.say("proposer un sujet")
    assert ask_title.startswith(
        "Quel sujet aimeriez-vous voir abordé dans CdeP Soins palliatifs\xa0?"
    )
    (retry,) = await chat.say(LONG_TITLE)
    assert retry.startswith("Il me faut un titre de 120\xa0caractères au plus")
    (ask_description,) = await chat.say("  Soins de plaies complexes à domicile ")
    assert ask_description.endswith("Tapez «\xa0passer\xa0» pour laisser vide.")
    (ask_kind,) = await chat.say("Pansements, suivi et liens avec le GMF.")
    assert "Volet réflexif\xa0: discussion d’une situation complexe" in ask_kind
    assert ask_kind.endswith("[Volet formatif]\n[Volet d’échange]\n[Volet réflexif]")
    (ask_presenter,) = await chat.say("formatif")
    assert ask_presenter.startswith("Qui pourrait le présenter\xa0?")
    (ask_show,) = await chat.say("Infirmière du CLSC")
    assert ask_show.startswith("Afficher votre nom aux membres avec ce sujet\xa0?")
    (summary,) = await chat.say("Non")
    assert summary.startswith(
        "Voici votre proposition pour CdeP Soins palliatifs\xa0:\n\n"
        "- Titre\xa0: Soins de plaies complexes à domicile\n"
        "- Description\xa0: Pansements, suivi et liens avec le GMF.\n"
        "- Volet\xa0: Volet formatif\n"
        "- Présentation\xa0: Infirmière du CLSC\n"
        "- Nom affiché aux membres\xa0: Non\n"
    )
    (thanks,) = await chat.say("Confirmer")
    assert thanks.startswith(
        "Merci\xa0! «\xa0Soins de plaies complexes à domicile\xa0» est maintenant dans la "
        "banque de "
        "sujets de CdeP Soins palliatifs."
    )

    async with sessions() as session:
        (topic,) = (await session.exec(select(Topic))).all()
    assert (topic.title, topic.description, topic.kind, topic.presenter) == (
        "Soins de plaies complexes à domicile",
        "Pansements, suivi et liens avec le GMF.",
        Volet.FORMATIVE,
        "Infirmière du CLSC",
    )
    assert (topic.proposed_by_id, topic.hide_proposer, topic.status) == (
        lea.id,
        True,
        TopicStatus.PROPOSED,
    )
    assert chat.result == ProposedTopic(topic_id=_id(topic), community_id=_id(where))
    rows = await queued(sessions)
    assert [(r.person_id, r.kind, r.dedup_key) for r in rows] == [
        (first.id, "notice", topics.proposed_notice_key(_id(topic), _id(first))),
        (second.id, "notice", topics.proposed_notice_key(_id(topic), _id(second))),
    ]
    # Animators see the name even though members will not.
    assert rows[0].params == {
        "text": "topics.notice_animators",
        "values": {
            "name": "Personne 1",
            "title": "Soins de plaies complexes à domicile",
            "community": "CdeP Soins palliatifs",
        },
    }
    assert chat.wakes == 1


async def test_in_english_the_optional_answers_are_skipped_and_the_community_is_asked(
    sessions: SessionFactory,
) -> None:
    async with transaction(sessions) as session:
        palliative = await factories.community(session)
        organizing = await factories.community(session, name="CdeP Organisation communautaire")
        sam = await joined(session, 1, palliative, animator=True, locale="en-US")
        await factories.member(session, sam, organizing)
    chat = Dialog(sessions, sam, locale="en-US")

    (ask_community,) = await chat.say("propose a topic")
    assert ask_community.startswith("For which community do you want to propose a topic?")
    assert "[CdeP Organisation communautaire]" in ask_community
    (ask_title,) = await chat.say("CdeP Organisation communautaire")
    assert ask_title.startswith(
        "Which topic would you like CdeP Organisation communautaire to take up?"
    )
    (retry,) = await chat.say("skip")
    assert retry.startswith("I need a title of at most 120 characters")
    assert (await chat.say("Positions on housing"))[0].startswith("In a few sentences")
    (ask_kind,) = await chat.say("skip")
    assert ask_kind.endswith("[Training part]\n[Exchange part]\n[Reflective part]")
    (not_a_kind,) = await chat.say("lunch")
    assert not_a_kind.startswith("I did not understand. Choose one of the options")
    assert (await chat.say("round table"))[0].startswith("Who could present it?")
    assert (await chat.say("Skip"))[0].startswith("Show your name to the members")
    (summary,) = await chat.say("yes")
    assert (
        "- Description: —\n- Part: Exchange part\n- Presenter: —\n- Name shown to members: Yes"
        in summary
    )
    (thanks,) = await chat.say("Confirm")
    assert thanks.startswith(
        "Thank you! “Positions on housing” is now in the topic bank of "
        "CdeP Organisation communautaire."
    )
    async with sessions() as session:
        (topic,) = (await session.exec(select(Topic))).all()
    assert (topic.community_id, topic.description, topic.presenter, topic.kind) == (
        organizing.id,
        "",
        None,
        Volet.EXCHANGE,
    )
    assert topic.hide_proposer is False
    # The only animator is the proposer: nobody to tell.
    assert await queued(sessions) == []
    assert chat.wakes == 0


@pytest.mark.parametrize(
    ("locale", "answers", "cancel", "cancelled"),
    [
        (
            "fr-CA",
            ["proposer un sujet", "Un sujet", "passer"],
            "annuler",
            "D’accord, j’ai tout annulé. Rien n’a été enregistré.",
        ),
        (
            "en-US",
            ["propose a topic", "A topic", "skip", "1", "skip", "No"],
            "Cancel",
            "All right, I cancelled. Nothing was saved.",
        ),
    ],
)
async def test_cancelling_at_any_step_saves_nothing(
    sessions: SessionFactory,
    locale: str,
    answers: list[str],
    cancel: str,
    cancelled: str,
) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        who = await joined(session, 1, where, locale=locale)
        await joined(session, 2, where, animator=True)
    chat = Dialog(sessions, who, locale=locale)
    for answer in answers:
        await chat.say(answer)
    assert await chat.say(cancel) == [cancelled]
    assert await count_rows(sessions, Topic) == 0
    assert await queued(sessions) == []


async def test_someone_in_no_community_is_told_politely(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        loner = await factories.person(session, 1)
    for locale, options, expected in (
        ("fr-CA", ProposeTopicOptions(), "Pour proposer un sujet, il faut d’abord être membre"),
        ("en-US", ProposeTopicOptions(), "To propose a topic, you first need to be a member"),
        (
            "fr-CA",
            ProposeTopicOptions(community_id=_id(where)),
            "Seuls les membres de cette communauté peuvent y proposer un sujet.",
        ),
    ):
        chat = Dialog(sessions, loner, locale=locale, options=options)
        (reply,) = await chat.say("proposer un sujet")
        assert reply.startswith(expected)
    assert await count_rows(sessions, Topic) == 0


# -- the bot glue, over a TestAdapter ----------------------------------------------------------


class RefusingAdapter(ChatAdapter):
    """Teams refusing to update a message in place."""

    async def update_activity(
        self, context: TurnContextProtocol[Any], activity: Activity
    ) -> NoReturn:
        raise RuntimeError("412 precondition failed")


@dataclass
class Bot:
    """Routes as bot/handler.py will: card verbs, then an active dialog, then the commands."""

    sessions: SessionFactory
    refuse_updates: bool = False
    wakes: int = 0
    adapter: ChatAdapter = field(init=False)
    dialogs: DialogSet = field(init=False)
    services: Services = field(init=False)
    _state: SqlPrivateConversationState = field(init=False)
    _turn: tuple[TurnInfo, dict[str, Any] | None] | None = None

    def __post_init__(self) -> None:
        self.adapter = (RefusingAdapter if self.refuse_updates else ChatAdapter)(self._logic)
        self._state = SqlPrivateConversationState(SqlStorage(self.sessions))
        self.dialogs = DialogSet(self._state.create_property("DialogState"))
        self.dialogs.add(ProposeTopicDialog(self.sessions, self._wake))
        self.services = Services(
            settings=SETTINGS,
            sessions=self.sessions,
            # Only a move to a 1:1 chat uses the CarrefourAdapter's own methods, and these
            # turns never make one: the SDK's TestAdapter stands in for it.
            adapter=cast(CarrefourAdapter, self.adapter),
            dialogs=self.dialogs,
            wake=self._wake,
            save_state=self._state.save_changes,
            help_entries=REGISTRY.help_entries,
        )

    def _wake(self) -> None:
        self.wakes += 1

    async def _logic(self, turn_context: TurnContext) -> None:
        assert self._turn is not None
        info, channel_data = self._turn
        turn_context.turn_state[TURN_INFO_KEY] = info
        turn_context.activity.channel_data = channel_data
        value = turn_context.activity.value
        dialog_context = await self.dialogs.create_context(turn_context)
        if isinstance(value, dict):
            handled = await press(
                turn_context,
                value,
                sessions=self.sessions,
                settings=SETTINGS,
                info=info,
                wake=self._wake,
            )
            assert handled
        elif dialog_context.active_dialog is not None:
            await dialog_context.continue_dialog()  # type: ignore[no-untyped-call]
        elif simplify(turn_context.activity.text or "") in ("proposer un sujet", "propose a topic"):
            await on_propose_command(self.services, turn_context, community_id=None)
        else:
            await on_topics_command(
                turn_context, sessions=self.sessions, info=info, community_id=None
            )
        await self._state.save_changes(turn_context)

    async def send(
        self,
        who: Person,
        text: str | None = None,
        *,
        value: dict[str, Any] | None = None,
        locale: str = "fr-CA",
        channel: str | None = None,
        reply_to_id: str | None = None,
    ) -> list[Activity]:
        info = TurnInfo(
            person_id=who.id, locale=locale, timezone=TZ, in_channel=channel is not None
        )
        self._turn = (info, {"channel": {"id": channel}} if channel else None)
        self.adapter.template.from_property = ChannelAccount(id=who.teams_user_id)
        self.adapter.template.conversation = ConversationAccount(
            id=f"{channel};messageid=1" if channel else f"a:personal-{who.id}",
            conversation_type="channel" if channel else "personal",
        )
        activity = Activity(type=ActivityTypes.message, text=text, value=value, locale=locale)
        if reply_to_id is not None:  # the SDK's Activity refuses None for it
            activity.reply_to_id = reply_to_id
        await self.adapter.receive_activity(activity)
        replies = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return replies

    def updated(self) -> list[Activity]:
        done = list(self.adapter.updated_activities)
        self.adapter.updated_activities.clear()
        return done


def card_of(activity: Activity) -> Element:
    (attachment,) = activity.attachments
    return card_content(attachment)


def votes_line(card: Element, title: str) -> str:
    """The facts line under a topic's title, as read in the card."""
    for container in card["body"]:
        items = container.get("items", [])
        if items and items[0].get("text") == title:
            return str(items[1]["text"])
    raise AssertionError(f"{title} not in the card")


async def test_the_bank_is_shown_to_members_and_animators_as_each_may_see_it(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        member = await joined(session, 1, where)
        animator = await joined(session, 2, where, animator=True)
        loner = await factories.person(session, 3)
        await proposed(session, where, member, "Un deuil difficile", hide=True)

    (as_member,) = await bot.send(member, "sujets")
    assert "Personne 1" not in said(as_member)
    assert _inputs(card_of(as_member)) == []

    (as_animator,) = await bot.send(animator, "topics", locale="en-US")
    assert "Proposed by Personne 1 (name hidden from members)" in said(as_animator)
    assert len(_inputs(card_of(as_animator))) == 1

    # In the channel everyone reads the card: the members' view, even for an animator.
    (in_channel,) = await bot.send(animator, "sujets", channel=CHANNEL)
    assert "Personne 1" not in said(in_channel)
    assert _inputs(card_of(in_channel)) == []
    # And someone not (yet) a member sees what the channel shows; privately, not at all.
    assert "Un deuil difficile" in said((await bot.send(loner, "sujets", channel=CHANNEL))[0])
    (private,) = await bot.send(loner, "sujets")
    assert said(private).startswith("Vous n’êtes membre d’aucune communauté pour l’instant.")
    (refused,) = await bot.send(loner, value={"verb": "topics.show", "community_id": _id(where)})
    assert refused.text == (
        "La banque de sujets de CdeP Soins palliatifs est réservée à ses membres. "
        "Tapez «\xa0rejoindre\xa0» pour en faire partie."
    )
    (elsewhere,) = await bot.send(loner, "sujets", channel="19:autre@thread.tacv2")
    assert said(elsewhere).startswith("Ce canal n’a pas encore de communauté")


async def test_several_communities_get_a_choice_then_the_chosen_bank(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        palliative = await factories.community(session)
        organizing = await factories.community(session, name="CdeP Organisation communautaire")
        who = await joined(session, 1, palliative)
        await factories.member(session, who, organizing)

    (choice,) = await bot.send(who, "topics", locale="en-US")
    buttons = [a["data"] for a in card_actions(card_of(choice))]
    assert buttons == [
        {"verb": "topics.show", "community_id": organizing.id},
        {"verb": "topics.show", "community_id": palliative.id},
    ]
    (bank,) = await bot.send(who, value=buttons[0], locale="en-US")
    assert "Topic bank — CdeP Organisation communautaire" in said(bank)
    assert "No topics yet. Propose the first one!" in said(bank)


async def test_a_vote_updates_the_card_in_place_or_sends_it_again(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        who = await joined(session, 1, where)
        stranger = await factories.person(session, 2)
        topic = await proposed(session, where, who, "Tour de table")
    click = {"verb": "topics.vote", "topic_id": _id(topic), "support": True}
    take_back = {**click, "support": False}

    assert await bot.send(who, value=click, reply_to_id="card-1") == []
    (updated,) = bot.updated()
    assert updated.id == "card-1"
    assert votes_line(card_of(updated), "Tour de table").endswith(
        "1\xa0appui · Proposé par Personne 1"
    )
    button = card_actions(card_of(updated))[1]
    assert (button["title"], button["data"]) == ("Retirer mon +1", take_back)

    # The card's other button takes the +1 back.
    assert await bot.send(who, value=take_back, reply_to_id="card-1") == []
    assert "0\xa0appui" in votes_line(card_of(bot.updated()[0]), "Tour de table")

    # No message to update (or Teams refuses): the card is sent again.
    (sent,) = await bot.send(who, value=click)
    assert "1\xa0appui" in votes_line(card_of(sent), "Tour de table")
    refusing = Bot(sessions, refuse_updates=True)
    (sent,) = await refusing.send(who, value=take_back, channel=CHANNEL, reply_to_id="card-2")
    assert "0\xa0appui" in votes_line(card_of(sent), "Tour de table")

    # A button posted before buttons said which way counts as a +1, and a second +1 is told
    # it was already counted.
    legacy = {"verb": "topics.vote", "topic_id": _id(topic)}
    assert await bot.send(who, value=legacy, reply_to_id="card-4") == []
    (again,) = await bot.send(who, value=legacy, reply_to_id="card-4")
    assert again.text == "Votre appui à ce sujet était déjà compté."
    assert "1\xa0appui" in votes_line(card_of(bot.updated()[-1]), "Tour de table")

    (refused,) = await bot.send(stranger, value=click, channel=CHANNEL, reply_to_id="card-3")
    assert said(refused).startswith("Seuls les membres de la communauté peuvent appuyer")
    (stale,) = await bot.send(who, value={"verb": "topics.vote", "topic_id": 999})
    assert said(stale).startswith("Ce bouton n’est plus valide.")
    assert await count_rows(sessions, TopicVote) == 1


async def test_a_status_change_is_for_animators_and_tells_the_proposer(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        member = await joined(session, 1, where)
        animator = await joined(session, 2, where, animator=True)
        topic = await proposed(session, where, member, "Discussion de cas complexe")
        other = await proposed(session, where, member, "Autre sujet")
    topic_id = _id(topic)
    # A submit sends every input of the card: only the clicked topic's choice counts.
    submitted = {
        "verb": "topics.status",
        "topic_id": topic_id,
        f"status_{topic_id}": "shortlisted",
        f"status_{_id(other)}": "declined",
    }

    (refused,) = await bot.send(member, value=submitted)
    assert said(refused).startswith("Seule l’animation de la communauté peut changer le statut")
    async with sessions() as session:
        statuses = {t.id: t.status for t in (await session.exec(select(Topic))).all()}
    assert statuses == {topic_id: TopicStatus.PROPOSED, _id(other): TopicStatus.PROPOSED}
    assert await queued(sessions) == []

    replies = await bot.send(animator, value=submitted, reply_to_id="card-9")
    assert [r.text for r in replies] == [
        "C’est fait\xa0: «\xa0Discussion de cas complexe\xa0» est maintenant «\xa0Retenu\xa0»."
    ]
    (updated,) = bot.updated()
    assert votes_line(card_of(updated), "Discussion de cas complexe").startswith(
        "Volet formatif · Retenu"
    )
    async with sessions() as session:
        statuses = {t.id: t.status for t in (await session.exec(select(Topic))).all()}
    assert statuses == {topic_id: TopicStatus.SHORTLISTED, _id(other): TopicStatus.PROPOSED}
    (notice,) = await queued(sessions)
    assert (notice.person_id, notice.kind, notice.params) == (
        member.id,
        "notice",
        {
            "text": "topics.notice_proposer.shortlisted",
            "values": {"title": "Discussion de cas complexe", "community": where.name},
        },
    )
    assert bot.wakes == 1

    (invalid,) = await bot.send(
        animator, value={"verb": "topics.status", "topic_id": topic_id}, locale="en-US"
    )
    assert invalid.text == "Choose a status in the topic's list, then “Change”."


async def test_the_propose_button_starts_the_dialog_and_the_topic_lands_in_the_bank(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    async with transaction(sessions) as session:
        where = await factories.community(session)
        who = await joined(session, 1, where, locale="en-US")
        await joined(session, 2, where, animator=True)

    (empty,) = await bot.send(who, "topics", locale="en-US")
    (propose,) = [a["data"] for a in card_actions(card_of(empty))]
    assert propose == {"verb": "topics.propose", "community_id": where.id}
    (ask_title,) = await bot.send(who, value=propose, locale="en-US")
    assert said(ask_title).startswith("Which topic would you like CdeP Soins palliatifs")
    for answer in ("Complex wound care at home", "skip", "Reflective part", "skip", "No"):
        assert await bot.send(who, answer, locale="en-US") != []
    (thanks,) = await bot.send(who, "Confirm", locale="en-US")
    assert said(thanks).startswith("Thank you! “Complex wound care at home” is now in the topic")
    assert bot.wakes == 1

    (bank,) = await bot.send(who, "topics", locale="en-US")
    assert votes_line(card_of(bank), "Complex wound care at home") == (
        "Reflective part · Proposed · 0 votes · Proposed by Personne 1 (name hidden from members)"
    ) or "Proposed by" not in votes_line(card_of(bank), "Complex wound care at home")


# -- from a channel to the personal chat, over HTTP --------------------------------------------

Client = TestClient[web.Request, web.Application]
TEAMS_CHANNEL = "19:channel@thread.tacv2"  # where tests.activities posts channel messages


@dataclass
class Colleague:
    """Someone writing to the whole bot as Teams posts their messages, in the community's
    channel or in their 1:1 chat with the bot; the fake Bot Connector records the answers."""

    client: Client
    connector: FakeConnector
    person: Person
    name: str
    locale: str = "fr-CA"
    personal: str | None = None  # their 1:1 chat's id, once there is one

    async def post(
        self,
        text: str | None,
        *,
        channel: bool = False,
        channel_id: str = TEAMS_CHANNEL,
        **extra: Any,
    ) -> None:
        activity = message(
            text,
            service_url=self.connector.url,
            sender={
                "id": self.person.teams_user_id,
                "name": self.name,
                "aadObjectId": self.person.aad_object_id,
            },
            locale=self.locale,
            conversation_type="channel" if channel else "personal",
            conversation_id=channel_id if channel else self.personal,
            mention_bot=channel and text is not None,
            **extra,
        )
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    async def in_channel(self, text: str | None = None, **extra: Any) -> None:
        await self.post(text, channel=True, **extra)

    async def answer(self, text: str) -> str:
        """Answer in the 1:1 chat; what the bot said back there."""
        assert self.personal is not None
        before = len(self.connector.texts(self.personal))
        await self.post(text)
        return "\n".join(self.connector.texts(self.personal)[before:])

    def created_chats(self) -> list[dict[str, Any]]:
        return [r.body for r in self.connector.received if r.path.endswith("/v3/conversations")]


async def topics_of(client: Client) -> list[Topic]:
    async with client.app[RUNTIME].sessions() as session:
        return list((await session.exec(select(Topic))).all())


async def palliative_care_channel(
    client: Client, connector: FakeConnector, *, locale: str, knows_personal_chat: bool = True
) -> tuple[Community, Colleague]:
    """The channel's community, another one, and Samuel, a member of both (so nothing but the
    channel can have chosen the community)."""
    async with transaction(client.app[RUNTIME].sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = TEAMS_CHANNEL
        elsewhere = await factories.community(session, name="CdeP Organisation communautaire")
        await joined(session, 1, where, animator=True)
        samuel = await factories.person(
            session, 2, locale=locale, service_url=connector.url if knows_personal_chat else None
        )
        await factories.member(session, samuel, where)
        await factories.member(session, samuel, elsewhere)
    colleague = Colleague(client, connector, samuel, "Samuel Gagnon", locale)
    if knows_personal_chat:
        colleague.personal = f"a:personal-{samuel.id}"  # as tests.factories records it
    return where, colleague


@pytest.mark.parametrize(
    ("locale", "start", "note", "ask_title", "answers", "thanks"),
    [
        (
            "fr-CA",
            "command",
            "Samuel, je vous écris en privé pour votre proposition de sujet.",
            "Quel sujet aimeriez-vous voir abordé dans CdeP Soins palliatifs\xa0?",
            ("Soins de plaies complexes à domicile", "passer", "formatif", "passer", "Oui"),
            "Merci\xa0! «\xa0Soins de plaies complexes à domicile\xa0» est maintenant dans la "
            "banque de "
            "sujets de CdeP Soins palliatifs.",
        ),
        (
            "en-US",
            "button",
            "Samuel, I am writing to you privately about your topic proposal.",
            "Which topic would you like CdeP Soins palliatifs to take up?",
            ("Complex wound care at home", "skip", "Reflective part", "skip", "No"),
            "Thank you! “Complex wound care at home” is now in the topic bank of "
            "CdeP Soins palliatifs.",
        ),
    ],
)
async def test_proposed_in_the_channel_the_dialog_continues_in_the_personal_chat(
    bot_client: Client,
    connector: FakeConnector,
    locale: str,
    start: str,
    note: str,
    ask_title: str,
    answers: tuple[str, ...],
    thanks: str,
) -> None:
    where, samuel = await palliative_care_channel(bot_client, connector, locale=locale)
    if start == "command":
        await samuel.in_channel("proposer un sujet")
    else:  # the one-pager's or the bank's button, clicked in the channel
        await samuel.in_channel(value={"verb": "topics.propose", "community_id": where.id})

    # The channel reads one short note; the first question waits in the 1:1 chat, with the
    # channel's community already chosen.
    assert connector.texts(TEAMS_CHANNEL) == [note]
    assert samuel.personal is not None
    (question,) = connector.texts(samuel.personal)
    assert question.startswith(ask_title)
    assert samuel.created_chats() == []

    # Answers there need no @mention; the topic lands in the channel's community's bank.
    for answer in answers:
        assert await samuel.answer(answer) != ""
    assert (await samuel.answer("Confirmer" if locale == "fr-CA" else "Confirm")).startswith(thanks)
    (topic,) = await topics_of(bot_client)
    assert (topic.community_id, topic.proposed_by_id) == (where.id, samuel.person.id)
    # Colleagues saw nothing of the proposal being written.
    assert len(connector.activities(TEAMS_CHANNEL)) == 1


async def test_without_a_personal_chat_yet_the_bot_opens_one(
    bot_client: Client, connector: FakeConnector
) -> None:
    where, samuel = await palliative_care_channel(
        bot_client, connector, locale="fr-CA", knows_personal_chat=False
    )
    await samuel.in_channel("proposer un sujet")

    (created,) = samuel.created_chats()
    assert created["members"] == [{"id": samuel.person.teams_user_id}]
    (personal,) = {r.conversation_id for r in connector.received} - {TEAMS_CHANNEL, None}
    samuel.personal = personal
    assert connector.texts(personal)[0].startswith(
        "Quel sujet aimeriez-vous voir abordé dans CdeP Soins palliatifs\xa0?"
    )
    assert connector.texts(TEAMS_CHANNEL) == [
        "Samuel, je vous écris en privé pour votre proposition de sujet."
    ]
    for answer in ("Tour de table des nouveautés", "passer", "échange", "passer", "Non"):
        await samuel.answer(answer)
    await samuel.answer("Confirmer")
    (topic,) = await topics_of(bot_client)
    assert (topic.community_id, topic.title) == (where.id, "Tour de table des nouveautés")
    assert len(connector.activities(TEAMS_CHANNEL)) == 1


@pytest.mark.parametrize(
    ("locale", "refusal"),
    [
        ("fr-CA", "Seuls les membres de cette communauté peuvent y proposer un sujet."),
        ("en-US", "Only this community's members can propose a topic for it."),
    ],
)
async def test_someone_who_cannot_propose_here_is_told_in_the_channel(
    bot_client: Client, connector: FakeConnector, locale: str, refusal: str
) -> None:
    where, _samuel = await palliative_care_channel(bot_client, connector, locale=locale)
    async with transaction(bot_client.app[RUNTIME].sessions) as session:
        stranger = await factories.person(session, 3, locale=locale, service_url=connector.url)
    chloe = Colleague(bot_client, connector, stranger, "Chloé Roy", locale, "a:personal-3")

    await chloe.in_channel("proposer un sujet" if locale == "fr-CA" else "propose a topic")
    await chloe.in_channel(value={"verb": "topics.propose", "community_id": where.id})

    # Nothing private to protect: the answer stays where she asked, no 1:1 chat is opened.
    said_in_channel = connector.texts(TEAMS_CHANNEL)
    assert len(said_in_channel) == 2
    assert all(text.startswith(refusal) for text in said_in_channel)
    assert connector.texts(chloe.personal) == []
    assert chloe.created_chats() == []
    assert await topics_of(bot_client) == []


async def test_from_a_channel_without_community_the_personal_chat_asks_which_one(
    bot_client: Client, connector: FakeConnector
) -> None:
    _where, samuel = await palliative_care_channel(bot_client, connector, locale="fr-CA")
    await samuel.post("proposer un sujet", channel=True, channel_id="19:cafe@thread.tacv2")
    assert connector.texts("19:cafe@thread.tacv2") == [
        "Samuel, je vous écris en privé pour votre proposition de sujet."
    ]
    assert samuel.personal is not None
    (question,) = connector.texts(samuel.personal)
    assert question.startswith("Pour quelle communauté voulez-vous proposer un sujet\xa0?")


# -- client identifiers in the title and the description (issue 15) ----------------------------

NAMED = {
    "fr-CA": "Mme Tremblay, 82 ans, refuse les soins à domicile.",
    "en-US": "Mrs. Tremblay, 82, refuses home care.",
}
PHONE = {
    "fr-CA": "Appelez-moi au 514-555-0199 pour en parler.",
    "en-US": "Call me at 514-555-0199 about it.",
}


@pytest.mark.parametrize(
    ("locale", "start", "title", "found", "fix", "no_one", "kinds", "saved"),
    [
        (
            "fr-CA",
            "proposer un sujet",
            "Refus de soins à domicile",
            "J’ai repéré dans «\xa0Description\xa0» ce qui ressemble à un nom de personne. "
            "Toute la communauté lira ce sujet",
            "Récrire le texte",
            "Il n’identifie personne",
            "[Volet formatif]",
            "Merci\xa0!",
        ),
        (
            "en-US",
            "propose a topic",
            "Refusing home care",
            "In “Description” I spotted what looks like a person’s name. "
            "The whole community will read this topic",
            "Rewrite the text",
            "It identifies no one",
            "[Training part]",
            "Thank you!",
        ),
    ],
)
async def test_a_name_in_the_description_is_refused_until_its_author_confirms_it(
    sessions: SessionFactory,
    locale: str,
    start: str,
    title: str,
    found: str,
    fix: str,
    no_one: str,
    kinds: str,
    saved: str,
) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        who = await joined(session, 1, where, locale=locale)
    chat = Dialog(sessions, who, locale=locale)
    await chat.say(start)
    await chat.say(title)

    (spotted,) = await chat.say(NAMED[locale])
    assert spotted.startswith(found)
    assert f"[{fix}]" in spotted
    assert f"[{no_one}]" in spotted
    # The spotted words are never repeated.
    assert "Tremblay" not in spotted
    # Rewriting asks the description again; the same text is spotted again.
    (again,) = await chat.say(fix)
    assert again == translator(locale)("topics.propose.ask_description")
    (spotted,) = await chat.say(NAMED[locale])
    assert spotted.startswith(found)
    assert await count_rows(sessions, Topic) == 0

    (ask_kind,) = await chat.say(no_one)
    assert kinds in ask_kind
    await chat.say("1")
    await chat.say("passer" if locale == "fr-CA" else "skip")
    await chat.say("1")
    (thanks,) = await chat.say("1")
    assert thanks.startswith(saved)
    async with sessions() as session:
        (topic,) = (await session.exec(select(Topic))).all()
    assert (topic.title, topic.description) == (title, NAMED[locale])


@pytest.mark.parametrize(
    ("locale", "start", "refused"),
    [
        (
            "fr-CA",
            "proposer un sujet",
            "J’ai repéré dans «\xa0Titre\xa0» ce qui ressemble à un numéro de téléphone. "
            "Toute la communauté lira ce sujet, et ce renseignement ne peut pas y rester, même "
            "avec une confirmation\xa0: récrivez le texte sans lui.",
        ),
        (
            "en-US",
            "propose a topic",
            "In “Title” I spotted what looks like a phone number. The whole community will "
            "read this topic, and this cannot stay in it, even with a confirmation: rewrite the "
            "text without it.",
        ),
    ],
)
async def test_a_phone_number_is_refused_with_no_choice_to_confirm(
    sessions: SessionFactory, locale: str, start: str, refused: str
) -> None:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        who = await joined(session, 1, where, locale=locale)
    chat = Dialog(sessions, who, locale=locale)
    (ask_title,) = await chat.say(start)
    refusal, asked_again = await chat.say(PHONE[locale])
    assert refusal.startswith(refused)
    assert "514" not in refusal
    assert asked_again == ask_title
    assert await count_rows(sessions, Topic) == 0


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_storage_screens_again_and_ignores_a_forged_confirmation(
    any_sessions: SessionFactory, locale: str
) -> None:
    async with transaction(any_sessions) as session:
        where = await factories.community(session)
        who = await joined(session, 1, where)

    async def propose(title: str, description: str, confirmed: dict[str, list[str]]) -> Topic:
        async with transaction(any_sessions) as session:
            return await topics.propose(
                session,
                community_id=_id(where),
                person_id=_id(who),
                title=title,
                description=description,
                kind=Volet.FORMATIVE,
                presenter="Julie Tremblay",
                hide_proposer=False,
                confirmed=confirmed,
            )

    # A name the proposer did not confirm, in either text.
    with pytest.raises(HasIdentifiers) as spotted:
        await propose("Refus de soins", NAMED[locale], {})
    assert spotted.value.kinds == (IdentifierKind.NAME,)
    with pytest.raises(HasIdentifiers):
        await propose(NAMED[locale][:40], "", {"description": ["name"]})
    # A phone number is never confirmable, whatever the dialog claims.
    for forged in ({"description": ["phone", "name"]}, {"title": ["phone"]}):
        with pytest.raises(HasIdentifiers) as spotted:
            await propose("Refus de soins", PHONE[locale], forged)
        assert spotted.value.kinds == (IdentifierKind.PHONE,)
    assert await count_rows(any_sessions, Topic) == 0

    # A confirmed name goes through; the presenter (a colleague's name) is not screened.
    named = await propose("Refus de soins", NAMED[locale], {"description": ["name"]})
    assert (named.description, named.presenter) == (NAMED[locale], "Julie Tremblay")
    # A clean topic goes through unchanged, with or without confirmations.
    clean = await propose(" Soins palliatifs à domicile ", "Suivi et liens avec le GMF.", {})
    assert (clean.title, clean.description) == (
        "Soins palliatifs à domicile",
        "Suivi et liens avec le GMF.",
    )
    assert await count_rows(any_sessions, Topic) == 2
