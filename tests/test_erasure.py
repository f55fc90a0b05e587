"""Erasure erases (Quebec's Law 25), where the person meets it: one person takes part in every
feature, asks « mes données » → « Supprimer mes données » over HTTP, and afterwards

- no table holds their name, Teams id, AAD object id, personal conversation id or anything they
  wrote, not even in rows about them sent to others (every table and text or JSON column is
  read, found from the SQLAlchemy metadata, so a table added later is read too);
- a consultation they held goes back to the coordinators, who are told;
- links issued to them before (attestation, data export, summary CSV) stop working.

On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import JSON, String, Text, select
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import SQLModel, col
from sqlmodel import select as sql_select

from bot.app import RUNTIME, Runtime
from bot.app import create_app as make_app
from storage import consultations, meetings, mentoring, onboarding, polls, surveys, topics
from storage.consultations import Draft
from storage.db import SessionFactory, transaction
from storage.models import (
    AgendaItem,
    ConsultationEvent,
    ConsultationRequest,
    ConsultationStatus,
    ConversationRef,
    ConversationScope,
    MeetingCard,
    Membership,
    MentorCheckin,
    OnboardingCheck,
    OutboxMessage,
    OutboxStatus,
    Person,
    Poll,
    RsvpAnswer,
    Survey,
    SurveyKind,
    Volet,
)
from storage.polls import VOTER_KEY_PURPOSE
from storage.secrets import derive
from storage.state_store import SqlStorage, decode_state
from storage.surveys import RESPONDENT_KEY_PURPOSE, Answer
from tests import factories
from tests.activities import TENANT, message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import Clock, dispatcher

Client = TestClient[web.Request, web.Application]

PUBLIC_URL = "https://carrefour.example.org"
CHANNEL = "19:channel-erasure@thread.tacv2"
# Dates are the test's own: the bot's clock is frozen here (moving on in real time).
NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)

# Who erases, as Teams presents them.
NAME = "Hélène Bérubé-Zwicky"
TEAMS_ID = "29:1SubjectQx7Teams"
AAD_ID = "6f1c2d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5"
SENDER = {"id": TEAMS_ID, "name": NAME, "aadObjectId": AAD_ID}
PERSONAL = f"a:personal-{TEAMS_ID}"
# A channel conversation id so long that the state store keeps its keys hashed.
LONG_CHANNEL = "19:" + "x" * 470 + "@thread.tacv2"

# What they wrote, and the profile they gave.
ESTABLISHMENT = "Hôpital Zwicky-Nord"
TOPIC_TEXT = "Retour d’expérience de mes visites à domicile à Zwickyville"
SUMMARY = "Dilemme de fin de vie avec une famille en désaccord, besoin d’un regard éthique"
AVAILABILITY = "Les mardis matin, Zwickyville"
USEFULNESS = "Très utile, merci pour la piste Zwicky"
MENTEE_COMMENT = "Mes premières semaines à Zwickyville se passent bien"
ONBOARDING_COMMENT = "Accueil chaleureux, je cherche encore mes repères Zwicky"
# Someone else's words naming them: the mentor's check-in about their pairing.
MENTOR_COMMENT = f"{NAME} progresse vite"

# Their answer to a survey still open: withdrawn with them (a closed survey's answer would
# stay, sealed, and is left to tests/test_privacy.py).
SURVEY_TEXT = "Plus de temps pour les études de cas"

FOUND_AFTER_ERASURE = {
    "name": NAME,
    "Teams user id": TEAMS_ID,
    "AAD object id": AAD_ID,
    "personal conversation id": PERSONAL,
    "establishment": ESTABLISHMENT,
    "topic description": TOPIC_TEXT,
    "consultation summary": SUMMARY,
    "availability": AVAILABILITY,
    "usefulness comment": USEFULNESS,
    "mentee check-in comment": MENTEE_COMMENT,
    "onboarding check-in comment": ONBOARDING_COMMENT,
    "answer to an open survey": SURVEY_TEXT,
}


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
async def bot(database_url: str, connector: FakeConnector) -> AsyncIterator[Client]:
    """The whole bot over HTTP on each database."""
    client = TestClient(
        TestServer(make_app(make_settings(database_url, CARREFOUR_PUBLIC_URL=PUBLIC_URL)))
    )
    await client.start_server()
    yield client
    await client.close()


@dataclass
class World:
    subject: int
    animator: int
    coordinator: int
    mentor: int
    requester: int  # another member, whose consultation the subject holds
    community: int
    held: int  # that consultation's id
    pairing: int


async def say(bot: Client, connector: FakeConnector, **activity: Any) -> None:
    activity.setdefault("sender", SENDER)
    text = activity.pop("text", None)
    response = await bot.post(
        "/api/messages", json=message(text, service_url=connector.url, **activity)
    )
    assert response.status in (200, 201), await response.text()


def runtime_of(bot: Client) -> Runtime:
    return bot.app[RUNTIME]


def keys(runtime: Runtime) -> tuple[bytes, bytes]:
    """The keys the bot hashes anonymous ballots and answers with."""
    master = runtime.settings.master_key()
    return derive(master, VOTER_KEY_PURPOSE), derive(master, RESPONDENT_KEY_PURPOSE)


async def seed(bot: Client, connector: FakeConnector) -> World:
    """The subject in every feature, with others around them. Their personal chat, their
    channel conversation and the activities' claims come from real turns."""
    await say(bot, connector, text="aide")
    await say(bot, connector, text="aide", conversation_type="channel", conversation_id=CHANNEL)
    runtime = runtime_of(bot)
    sessions = runtime.sessions
    poll_key, respondent_key = keys(runtime)
    async with transaction(sessions) as session:
        subject = (await session.exec(sql_select(Person).where(Person.name == NAME))).one()
        s = subject.id or 0
        animator = await factories.person(session, 11, service_url=connector.url)
        coordinator = await factories.person(session, 12, service_url=connector.url)
        mentor = await factories.person(session, 13, service_url=connector.url)
        requester = await factories.person(session, 14, service_url=connector.url)
        a, k, m, r = (p.id or 0 for p in (animator, coordinator, mentor, requester))
        community = await factories.community(session)
        community.teams_channel_id = CHANNEL
        c = community.id or 0
        long_ago = NOW - timedelta(days=200)
        for row in (
            Membership(
                person_id=s,
                community_id=c,
                roles=["member", "animator"],
                discipline="social_work",
                establishment=ESTABLISHMENT,
                region="16",
                interests=["deuil"],
                is_new_hire=True,
                joined_at=long_ago,
            ),
            Membership(person_id=a, community_id=c, roles=["member", "animator"]),
            Membership(person_id=k, community_id=c, roles=["member", "coordinator"]),
            Membership(person_id=m, community_id=c, roles=["member"], joined_at=long_ago),
            Membership(person_id=r, community_id=c, roles=["member"], joined_at=long_ago),
        ):
            session.add(row)
        await session.flush()
        await consultations.volunteer(
            session, person_id=s, community_id=c, expertise=["complex_situation"]
        )
        await mentoring.volunteer(session, person_id=m, community_id=c, capacity=2)

        # Meetings: an RSVP to each, attendance at the past one, a talk on the next agenda.
        past = await factories.meeting(session, community, starts_at=NOW - timedelta(days=20))
        future = await factories.meeting(session, community, starts_at=NOW + timedelta(days=9))
        await factories.rsvp(session, subject, past, RsvpAnswer.YES)
        await factories.rsvp(session, subject, future, RsvpAnswer.YES)
        await meetings.confirm_attendance(
            session, meeting_id=past.id or 0, by_person_id=a, attendee_ids=[s, r], now=NOW
        )
        session.add(
            AgendaItem(
                meeting_id=future.id or 0,
                position=1,
                starts_at=future.starts_at,
                title="Visites à domicile",
                volet=Volet.EXCHANGE,
                presenter=f"{NAME}, travailleuse sociale",
            )
        )

        # Topics: one proposed (they will present it), a vote on another.
        own = await topics.propose(
            session,
            community_id=c,
            person_id=s,
            title="Les visites à domicile",
            description=TOPIC_TEXT,
            kind=Volet.EXCHANGE,
            presenter=NAME,
            hide_proposer=False,
        )
        theirs = await topics.propose(
            session,
            community_id=c,
            person_id=a,
            title="Le deuil blanc",
            description="",
            kind=Volet.FORMATIVE,
            presenter=None,
            hide_proposer=False,
        )
        await topics.support(session, topic_id=theirs.id or 0, person_id=s, wanted=True)
        await topics.support(session, topic_id=own.id or 0, person_id=a, wanted=True)

        # Polls: a named one (closed since) and an anonymous one still open.
        named = Poll(
            community_id=c,
            question="Quel format?",
            options=["Présentiel", "Virtuel"],
            closes_at=NOW + timedelta(days=1),
            created_by_id=a,
        )
        secret = Poll(
            community_id=c,
            question="Charge de travail?",
            options=["Lourde", "Correcte"],
            anonymous=True,
            closes_at=NOW + timedelta(days=3),
            created_by_id=a,
        )
        session.add_all([named, secret])
        await session.flush()
        for poll in (named, secret):
            for who in (s, r):
                await polls.vote(
                    session,
                    poll_id=poll.id or 0,
                    person_id=who,
                    choices=[0],
                    key=poll_key,
                    now=NOW - timedelta(hours=2),
                )
        await polls.close(
            session, poll_id=named.id or 0, by_person_id=a, now=NOW - timedelta(hours=1)
        )

        # A survey answered (anonymously).
        survey = Survey(
            community_id=c,
            meeting_id=past.id,
            kind=SurveyKind.SATISFACTION,
            opens_at=NOW - timedelta(days=19),
            closes_at=NOW + timedelta(days=2),
        )
        session.add(survey)
        await session.flush()
        await surveys.invite(session, survey_id=survey.id or 0, person_id=s)
        await surveys.record_response(
            session,
            survey_id=survey.id or 0,
            person_id=s,
            key=respondent_key,
            answer=Answer(
                ratings=dict.fromkeys(surveys.SATISFACTION_RATINGS, 5),
                texts={"next_time": SURVEY_TEXT},
            ),
            now=NOW - timedelta(days=1),
        )

        # Consultations: one they asked for (held, closed and rated), one they hold.
        draft = Draft(
            motive="ethical_dilemma",
            summary=SUMMARY,
            urgency="this_week",
            modality="one_to_one",
            availability=AVAILABILITY,
        )
        asked = await consultations.submit(
            session, community_id=c, requester_id=s, draft=draft, now=NOW, timezone="UTC"
        )
        asked_id = asked.request.id or 0
        await consultations.assign(session, request_id=asked_id, actor_id=k, assignee_id=k, now=NOW)
        await consultations.close(session, request_id=asked_id, actor_id=k, now=NOW)
        await consultations.rate(
            session, request_id=asked_id, actor_id=s, rating=5, comment=USEFULNESS, now=NOW
        )
        held = await consultations.submit(
            session,
            community_id=c,
            requester_id=r,
            draft=Draft(
                motive="complex_situation",
                summary="Situation complexe d’un usager à domicile, plusieurs intervenants",
                urgency="this_month",
                modality="case_discussion",
                availability="Jeudi après-midi",
            ),
            now=NOW,
            timezone="UTC",
        )
        held_id = held.request.id or 0
        await consultations.assign(session, request_id=held_id, actor_id=k, assignee_id=s, now=NOW)
        await consultations.start(session, request_id=held_id, actor_id=s, now=NOW)

        # Mentoring: they asked, were paired, and both answered the half-term check-in.
        request, _ = await mentoring.request_mentor(session, community_id=c, mentee_id=s)
        pairing = await mentoring.confirm(
            session, request_id=request.id or 0, mentor_id=m, confirmed_by_id=k, now=NOW
        )
        await mentoring.answer(
            session, pairing_id=pairing.id or 0, mentor_id=m, accept=True, now=NOW
        )
        for who, comment in ((s, MENTEE_COMMENT), (m, MENTOR_COMMENT)):
            await mentoring.record_checkin(
                session,
                pairing_id=pairing.id or 0,
                person_id=who,
                moment="half",
                rating=4,
                comment=comment,
                now=NOW,
            )

        # Onboarding, with a check-in comment.
        await onboarding.start(session, community=community, person_id=s, source="join_dialog")
        await onboarding.record_checkin(
            session, community_id=c, person_id=s, rating=4, comment=ONBOARDING_COMMENT, now=NOW
        )
        # …and a checklist item of the welcome step ticked (a row with no text: checked below).
        welcome = await onboarding.set_step_content(
            session,
            community=community,
            step="welcome",
            by_person_id=a,
            content=onboarding.StepContent(
                checklist=(onboarding.ChecklistItem("", "Lire la charte"),)
            ),
        )
        await onboarding.set_checked(
            session,
            community=community,
            person_id=s,
            step="welcome",
            item_id=welcome.checklist[0].id,
            checked=True,
            now=NOW,
        )

        # Notices about them to the animator, as the features word them (one already sent).
        about = [
            ("join.notice_animators", {"name": NAME, "community": community.name}),
            (
                "topics.notice_animators",
                {"name": NAME, "title": own.title, "community": community.name},
            ),
            (
                "onboarding.checkin.notice",
                {
                    "community": community.name,
                    "name": NAME,
                    "rating": 4,
                    "comment": ONBOARDING_COMMENT,
                },
            ),
        ]
        for n, (text, values) in enumerate(about):
            session.add(
                OutboxMessage(
                    dedup_key=f"about:{n}:{s}:to:{a}",
                    kind="notice",
                    params={"text": text, "values": values},
                    person_id=a,
                    status=OutboxStatus.SENT if n == 0 else OutboxStatus.PENDING,
                    not_before=NOW - timedelta(days=n),
                    sent_at=NOW - timedelta(days=n) if n == 0 else None,
                )
            )
        # A message to someone else that names nobody stays as it is.
        session.add(
            OutboxMessage(
                dedup_key=f"unrelated:to:{a}",
                kind="notice",
                params={"text": "join.notice_animators", "values": {"name": "Personne 14"}},
                person_id=a,
                not_before=NOW + timedelta(days=1),
            )
        )
        world = World(
            subject=s,
            animator=a,
            coordinator=k,
            mentor=m,
            requester=r,
            community=c,
            held=held_id,
            pairing=pairing.id or 0,
        )
    # Bot state under their ids, as the SDK keys it (keys long enough to be hashed too).
    storage = SqlStorage(sessions)
    state = {"DialogState": {"answers": {"name": NAME, "note": MENTEE_COMMENT}}, "e_tag": "*"}
    await storage.write(
        {
            f"msteams/users/{TEAMS_ID}": dict(state),
            f"msteams/conversations/{PERSONAL}": dict(state),
            f"msteams/conversations/{PERSONAL}/users/{TEAMS_ID}": dict(state),
            f"msteams/conversations/{CHANNEL}/users/{TEAMS_ID}": dict(state),
            f"msteams/conversations/{LONG_CHANNEL}/users/{TEAMS_ID}": dict(state),
            # The dialog state's own key (SqlPrivateConversationState) ends with "/".
            f"msteams/conversations/{LONG_CHANNEL}/users/{TEAMS_ID}/": dict(state),
            # Another person's state is theirs.
            "msteams/users/29:person-11": {"DialogState": {}, "e_tag": "*"},
        }
    )
    async with transaction(sessions) as session:
        session.add(
            ConversationRef(
                conversation_id=LONG_CHANNEL,
                scope=ConversationScope.CHANNEL,
                service_url=connector.url,
                tenant_id=TENANT,
                team_id="19:team@thread.tacv2",
            )
        )
    return world


def links_in(cards: list[dict[str, Any]]) -> list[str]:
    """Every link the person was given: buttons, and links written in a card's text."""
    text = json.dumps(cards, ensure_ascii=False)
    return sorted(set(re.findall(rf"{re.escape(PUBLIC_URL)}[^\s\")]+", text)))


async def erase_over_http(bot: Client, connector: FakeConnector) -> None:
    """« Supprimer mes données », then « Oui, tout supprimer » on the card it shows."""
    await say(bot, connector, value={"verb": "privacy.erase.ask"})
    card = connector.cards(PERSONAL)[-1]
    [confirm] = [a for a in card["actions"] if a["data"].get("confirmed") is True]
    await say(bot, connector, value=confirm["data"])
    outcome = connector.cards(PERSONAL)[-1]  # the confirmation card becomes the outcome
    assert outcome["body"][0]["text"].startswith("Vos données ont été supprimées.")


def _holds_text(kind: TypeEngine[Any]) -> bool:
    """Text, strings (SQLModel's own included) and JSON."""
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, String | Text | JSON)


def _texts(value: Any, *, table: str, column: str) -> str:
    """A stored value as searchable text (JSON without escapes; bot state decoded)."""
    if value is None:
        return ""
    if table == "bot_state" and column == "data":
        return repr(decode_state((value, "")))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def leftovers(sessions: SessionFactory, needles: dict[str, str]) -> list[str]:
    """Every (table.column: what) where one of the needles is still found."""
    found: list[str] = []
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if _holds_text(c.type)]
            if not columns:
                continue
            rows = (await session.execute(select(*columns))).all()
            for row in rows:
                for column, value in zip(columns, row, strict=True):
                    text = _texts(value, table=table.name, column=column.name).casefold()
                    for what, needle in needles.items():
                        if needle.casefold() in text:
                            found.append(f"{table.name}.{column.name}: {what}")
    return sorted(set(found))


async def test_nothing_identifying_is_left_in_any_table_after_erasure(
    bot: Client, connector: FakeConnector
) -> None:
    world = await seed(bot, connector)
    sessions = runtime_of(bot).sessions
    # The scan finds every needle before: it would see them if they stayed.
    before = await leftovers(sessions, FOUND_AFTER_ERASURE)
    assert {line.split(": ")[1] for line in before} == set(FOUND_AFTER_ERASURE)

    await erase_over_http(bot, connector)

    assert await leftovers(sessions, FOUND_AFTER_ERASURE) == []
    async with sessions() as session:
        # Their onboarding ticks go with them (rows without text, so counted here).
        assert not (
            await session.exec(
                sql_select(OnboardingCheck).where(OnboardingCheck.person_id == world.subject)
            )
        ).all()
        # What is not theirs stays: others, their messages and state, the community's topics.
        assert (await session.get(Person, world.animator)) is not None
        unrelated = (
            await session.exec(
                sql_select(OutboxMessage).where(
                    OutboxMessage.dedup_key == f"unrelated:to:{world.animator}"
                )
            )
        ).one()
        assert unrelated.params["values"] == {"name": "Personne 14"}
        assert unrelated.status == OutboxStatus.PENDING
        # Notices about them: the pending ones will not be sent, the one sent is history only.
        notices = (
            await session.exec(
                sql_select(OutboxMessage)
                .where(OutboxMessage.person_id == world.animator)
                .where(OutboxMessage.kind == "notice")
                .where(OutboxMessage.dedup_key != f"unrelated:to:{world.animator}")
            )
        ).all()
        assert [(m.status, m.params, m.dedup_key.startswith("erased:")) for m in notices] == [
            (OutboxStatus.SENT, {}, True)
        ]
        assert await SqlStorage(sessions).read(["msteams/users/29:person-11"])
        # The mentor's own check-in stays (its rating counts), without words about them.
        mentor_checkins = (
            await session.exec(
                sql_select(MentorCheckin).where(MentorCheckin.person_id == world.mentor)
            )
        ).all()
        assert [(c.rating, c.comment) for c in mentor_checkins] == [(4, None)]


async def test_a_consultation_held_by_an_erased_consultant_goes_back_to_the_coordinators(
    bot: Client, connector: FakeConnector
) -> None:
    world = await seed(bot, connector)
    runtime = runtime_of(bot)
    clock = Clock(NOW)
    await dispatcher(runtime, clock).dispatch_once()
    coordinator_chat = "a:personal-12"
    seen_before = len(connector.cards(coordinator_chat))

    await erase_over_http(bot, connector)

    async with runtime.sessions() as session:
        request = await session.get(ConsultationRequest, world.held)
        assert request is not None
        assert (request.status, request.assignee_id, request.assigned_at) == (
            ConsultationStatus.SUBMITTED,
            None,
            None,
        )
        events = (
            await session.exec(
                sql_select(ConsultationEvent)
                .where(ConsultationEvent.request_id == world.held)
                .order_by(col(ConsultationEvent.id))
            )
        ).all()
        handed = [e for e in events if e.action == "handed_back"]
        assert [(e.actor_id, e.detail) for e in handed] == [(world.subject, "erased")]
        # Suggested again, never to the person who left.
        assert request.suggested_assignee_id != world.subject
    # The coordinators are told, through the outbox, with the request's card.
    clock.advance(minutes=1)
    await dispatcher(runtime, clock).dispatch_once()
    cards = connector.cards(coordinator_chat)[seen_before:]
    assert any(
        "Demande remise à la coordination" in json.dumps(card, ensure_ascii=False) for card in cards
    ), cards
    # The requester is told it is back with the coordination.
    assert any(
        "est de retour à la coordination" in text for text in connector.texts("a:personal-14")
    )


async def test_links_issued_before_erasure_stop_working(
    bot: Client, connector: FakeConnector
) -> None:
    world = await seed(bot, connector)
    await say(bot, connector, text=f"attestation {NOW.year}")
    await say(bot, connector, value={"verb": "privacy.export"})
    last_month = date(NOW.year, NOW.month, 1) - timedelta(days=1)
    await say(
        bot,
        connector,
        value={
            "verb": "vitality.export",
            "community_id": world.community,
            "month": f"{last_month:%Y-%m}",
        },
    )
    local = [
        f"{parts.path}?{parts.query}" if parts.query else parts.path
        for parts in map(urlsplit, links_in(connector.cards(PERSONAL)))
    ]
    assert sorted(path.split("/")[1] for path in local) == ["api", "attestations", "privacy"]
    for path in local:
        response = await bot.get(path)
        assert response.status == 200, (path, await response.text())

    await erase_over_http(bot, connector)

    answers = {}
    for path in local:
        response = await bot.get(path)
        plain = response.content_type == "text/plain"
        answers[path.split("/")[1]] = (
            response.status,
            await response.text() if plain else response.content_type,
        )
    # In the language of the link, which the erased person no longer has a record of.
    revoked = (
        410,
        "Ce lien ne fonctionne plus\u00a0: les données auxquelles il menait ont été supprimées.",
    )
    assert answers == {"api": revoked, "attestations": revoked, "privacy": revoked}


async def test_agenda_copies_shown_in_the_persons_chat_go_with_it(
    bot: Client, connector: FakeConnector
) -> None:
    """`ordre du jour` in a personal chat records that copy of the card (to keep its counts
    current); erasing the person removes the chat and its copies, and nothing else."""
    await seed(bot, connector)
    await say(bot, connector, text="ordre du jour")
    sessions = runtime_of(bot).sessions
    async with sessions() as session:
        copies = (await session.exec(sql_select(MeetingCard))).all()
        personal = (
            await session.exec(
                sql_select(ConversationRef).where(ConversationRef.conversation_id == PERSONAL)
            )
        ).one()
    assert [copy.conversation_ref_id for copy in copies] == [personal.id]

    await erase_over_http(bot, connector)

    async with sessions() as session:
        assert (await session.exec(sql_select(MeetingCard))).all() == []
        assert (await session.get(ConversationRef, personal.id)) is None
