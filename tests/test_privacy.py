"""« Mes données » (Quebec's Law 25): inventory, export, erasure, the signed export link and the
confirmation nonce, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import RUNTIME, Runtime
from bot.links import signing_key
from bot.privacy_flow import (
    ROUTE,
    erase_nonce,
    export_json,
    export_token,
    on_my_data_command,
)
from dialogs.context import TurnInfo
from storage import privacy
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    Attendance,
    BotState,
    ConsultationEvent,
    ConsultationRequest,
    ConsultationStatus,
    ConversationRef,
    Membership,
    MentorCheckin,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    OnboardingEnrollment,
    OutboxMessage,
    OutboxStatus,
    PairingStatus,
    Person,
    Poll,
    PollStatus,
    PollVote,
    Rsvp,
    RsvpAnswer,
    Survey,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicVote,
    utcnow,
)
from storage.polls import VOTER_KEY_PURPOSE
from storage.secrets import derive, keyed_hash
from storage.surveys import RESPONDENT_KEY_PURPOSE
from tests import factories
from tests.activities import message
from tests.support import ChatAdapter, press

SERVICE = "https://smba.example/amer/"
SECRET_SUMMARY = "Situation de fin de vie complexe, famille en désaccord"
OTHER_SUMMARY = "Question sur la médication d’un autre usager"


@dataclass
class World:
    subject: int  # the person who erases
    other: int  # someone sharing communities, meetings, polls and surveys with them
    mentor: int
    community: int
    past_meeting: int
    future_meeting: int
    closed_poll: int
    open_poll: int
    anonymous_poll: int
    closed_survey: int
    open_survey: int
    pairing: int


# The storage functions take their keys as arguments: any master key will do here.
MASTER = b"privacy-tests-master-key-0123456789"


async def _keys(session: AsyncSession) -> tuple[bytes, bytes]:
    return derive(MASTER, VOTER_KEY_PURPOSE), derive(MASTER, RESPONDENT_KEY_PURPOSE)


async def _add(session: AsyncSession, *rows: Any) -> None:
    for row in rows:
        session.add(row)
    await session.flush()


async def build_world(session: AsyncSession, now: datetime) -> World:
    """The subject has data in every table; `other` and `mentor` have their own beside it."""
    poll_key, respondent_key = await _keys(session)
    subject = await factories.person(session, 1, service_url=SERVICE)
    other = await factories.person(session, 2, service_url=SERVICE)
    mentor = await factories.person(session, 3, service_url=SERVICE)
    s, o, m = subject.id or 0, other.id or 0, mentor.id or 0
    community = await factories.community(session)
    second = await factories.community(session, name="CdeP Périnatalité")
    c, c2 = community.id or 0, second.id or 0
    long_ago = now - timedelta(days=120)
    await _add(
        session,
        Membership(
            person_id=s,
            community_id=c,
            roles=["member", "animator"],
            discipline="social_work",
            establishment="CISSS de la Montérégie-Centre",
            region="16",
            interests=["deuil"],
            is_new_hire=True,
            mentor_capacity=1,
            consultant_expertise=["soins palliatifs"],
            joined_at=long_ago,
        ),
        Membership(person_id=s, community_id=c2, roles=["member"], joined_at=long_ago),
        Membership(person_id=o, community_id=c, roles=["member"], region="16", joined_at=long_ago),
        Membership(person_id=m, community_id=c, roles=["member", "mentor"], joined_at=long_ago),
    )
    past = await factories.meeting(session, community, starts_at=now - timedelta(days=30))
    future = await factories.meeting(session, community, starts_at=now + timedelta(days=10))
    for who in (subject, other):
        await factories.rsvp(session, who, past, RsvpAnswer.YES)
        await factories.rsvp(session, who, future, RsvpAnswer.YES)
    await _add(
        session,
        Attendance(meeting_id=past.id or 0, person_id=s, minutes=420, confirmed_by_id=o),
        Attendance(meeting_id=past.id or 0, person_id=o, minutes=420, confirmed_by_id=s),
    )
    topic = Topic(community_id=c, title="Le deuil blanc", description="Mon idée", proposed_by_id=s)
    await _add(session, topic)
    await _add(
        session,
        TopicVote(topic_id=topic.id or 0, person_id=s),
        TopicVote(topic_id=topic.id or 0, person_id=o),
    )
    closed_poll = Poll(
        community_id=c,
        question="Quel format?",
        options=["Présentiel", "Virtuel"],
        closes_at=now - timedelta(days=2),
        status=PollStatus.CLOSED,
        created_by_id=s,
    )
    open_poll = Poll(
        community_id=c,
        question="Quelle date?",
        options=["Lundi", "Mardi"],
        closes_at=now + timedelta(days=2),
    )
    anonymous_poll = Poll(
        community_id=c,
        question="Charge de travail?",
        options=["Lourde", "Correcte"],
        anonymous=True,
        closes_at=now + timedelta(days=2),
    )
    await _add(session, closed_poll, open_poll, anonymous_poll)
    await _add(
        session,
        PollVote(poll_id=closed_poll.id or 0, voter_key=f"person:{s}", person_id=s, choices=[0]),
        PollVote(poll_id=closed_poll.id or 0, voter_key=f"person:{o}", person_id=o, choices=[1]),
        PollVote(poll_id=open_poll.id or 0, voter_key=f"person:{s}", person_id=s, choices=[1]),
        PollVote(poll_id=open_poll.id or 0, voter_key=f"person:{o}", person_id=o, choices=[1]),
        PollVote(
            poll_id=anonymous_poll.id or 0,
            voter_key=keyed_hash(poll_key, anonymous_poll.id, s),
            choices=[0],
        ),
        PollVote(
            poll_id=anonymous_poll.id or 0,
            voter_key=keyed_hash(poll_key, anonymous_poll.id, o),
            choices=[1],
        ),
    )
    paired = MentorRequest(community_id=c, mentee_id=s, status=MentorRequestStatus.PAIRED)
    still_open = MentorRequest(community_id=c2, mentee_id=s)
    await _add(session, paired, still_open)
    pairing = MentorPairing(
        request_id=paired.id or 0,
        community_id=c,
        mentor_id=m,
        mentee_id=s,
        status=PairingStatus.ACTIVE,
        reason="Même discipline",
        confirmed_by_id=o,
        goals="Apprivoiser les visites à domicile",
        frequency="aux deux semaines",
        accepted_at=now - timedelta(days=40),
    )
    await _add(session, pairing)
    await _add(
        session,
        MentorCheckin(pairing_id=pairing.id or 0, person_id=s, moment="half", rating=4),
        MentorCheckin(pairing_id=pairing.id or 0, person_id=m, moment="half", rating=5),
        OnboardingEnrollment(community_id=c, person_id=s, source="join_dialog"),
        ConsultationRequest(
            reference="CONS-2026-0001",
            community_id=c,
            requester_id=s,
            motive="complex_case",
            summary=SECRET_SUMMARY,
            urgency="normal",
            modality="teams",
            availability="Mardi matin",
            assignee_id=o,
        ),
        ConsultationRequest(
            reference="CONS-2026-0002",
            community_id=c,
            requester_id=o,
            motive="complex_case",
            summary=OTHER_SUMMARY,
            urgency="normal",
            modality="teams",
            assignee_id=s,
        ),
    )
    closed_survey = Survey(
        community_id=c,
        meeting_id=past.id,
        kind=SurveyKind.SATISFACTION,
        opens_at=now - timedelta(days=29),
        closes_at=now - timedelta(days=15),
    )
    open_survey = Survey(
        community_id=c,
        kind=SurveyKind.NEEDS,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=6),
    )
    await _add(session, closed_survey, open_survey)
    cs, os_ = closed_survey.id or 0, open_survey.id or 0
    await _add(
        session,
        SurveyInvitation(survey_id=cs, person_id=s, answered=True),
        SurveyInvitation(survey_id=cs, person_id=o, answered=True),
        SurveyInvitation(survey_id=os_, person_id=s, answered=True),
        SurveyInvitation(survey_id=os_, person_id=o, answered=False),
        SurveyResponse(survey_id=cs, respondent_key="sealed:a", ratings={"q1": 5}),
        SurveyResponse(survey_id=cs, respondent_key="sealed:b", ratings={"q1": 3}),
        SurveyResponse(
            survey_id=os_,
            respondent_key=keyed_hash(respondent_key, os_, s),
            choices=["Le deuil blanc"],
        ),
    )
    for n, (recipient, status) in enumerate(
        [(s, OutboxStatus.SENT), (s, OutboxStatus.PENDING), (o, OutboxStatus.SENT)]
    ):
        await _add(
            session,
            OutboxMessage(
                dedup_key=f"reminder:{n}",
                kind="meeting_reminder",
                params={"meeting_id": past.id, "note": "Personne"},
                person_id=recipient,
                status=status,
                not_before=now - timedelta(days=31),
                sent_at=now - timedelta(days=31) if status == OutboxStatus.SENT else None,
                conversation_id=f"a:personal-{recipient}",
                activity_id=f"activity-{n}",
            ),
        )
    for n in (1, 2):
        await _add(
            session,
            BotState(key=f"msteams/users/29:person-{n}", data="{}", etag="1"),
            BotState(
                key=f"msteams/conversations/a:personal-{n}/users/29:person-{n}/",
                data="{}",
                etag="1",
            ),
            BotState(key=f"msteams/conversations/a:personal-{n}", data="{}", etag="1"),
        )
    return World(
        subject=s,
        other=o,
        mentor=m,
        community=c,
        past_meeting=past.id or 0,
        future_meeting=future.id or 0,
        closed_poll=closed_poll.id or 0,
        open_poll=open_poll.id or 0,
        anonymous_poll=anonymous_poll.id or 0,
        closed_survey=cs,
        open_survey=os_,
        pairing=pairing.id or 0,
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _world(sessions: SessionFactory, now: datetime) -> World:
    async with transaction(sessions) as session:
        return await build_world(session, now)


# -- inventory and export --------------------------------------------------------------------


async def test_inventory_counts_what_is_kept_in_every_table(db: SessionFactory) -> None:
    world = await _world(db, utcnow())
    async with db() as session:
        data = await privacy.inventory(session, person_id=world.subject)
    assert data is not None
    assert data.name == "Personne 1"
    assert {m.community for m in data.memberships} == {"CdeP Soins palliatifs", "CdeP Périnatalité"}
    assert ("member", "animator") in {m.roles for m in data.memberships}
    assert (data.rsvps, data.attendance, data.attendance_minutes) == (2, 1, 420)
    assert (data.topics_proposed, data.topic_votes, data.poll_ballots) == (1, 1, 2)
    assert (data.mentor_requests, data.pairings, data.checkins, data.onboarding) == (2, 1, 1, 1)
    assert [(f.reference, f.status) for f in data.consultations] == [
        ("CONS-2026-0001", "submitted")
    ]
    assert (data.survey_invitations, data.surveys_answered) == (2, 2)
    assert (data.messages, data.conversations) == (2, 1)


async def test_export_holds_the_persons_data_and_nobody_elses(db: SessionFactory) -> None:
    world = await _world(db, utcnow())
    async with db() as session:
        data = await privacy.export(session, person_id=world.subject)
    text = json.dumps(data, ensure_ascii=False)  # JSON-serialisable as is
    assert data["profile"]["name"] == "Personne 1"
    assert data["profile"]["teams_user_id"] == "29:person-1"
    assert data["memberships"][0]["establishment"] == "CISSS de la Montérégie-Centre"
    assert datetime.fromisoformat(data["memberships"][0]["joined_at"]).tzinfo is not None
    assert data["consultations"][0]["summary"] == SECRET_SUMMARY
    assert data["consultations"][0]["availability"] == "Mardi matin"
    assert {b["question"]: b["choices"] for b in data["poll_ballots"]} == {
        "Quel format?": ["Présentiel"],
        "Quelle date?": ["Mardi"],
    }
    assert data["mentoring"]["pairings"][0]["role"] == "mentee"
    assert data["mentoring"]["pairings"][0]["goals"] == "Apprivoiser les visites à domicile"
    assert [c["rating"] for c in data["mentoring"]["checkins"]] == [4]
    assert [i["answered"] for i in data["survey_invitations"]] == [True, True]
    assert {m["status"] for m in data["messages"]} == {"sent", "pending"}
    assert data["topics_proposed"][0]["description"] == "Mon idée"
    # Nobody else: no other person's name, consultation or rating; no anonymous answer.
    for foreign in ("Personne 2", "Personne 3", OTHER_SUMMARY, "CONS-2026-0002", "sealed:"):
        assert foreign not in text
    assert "ratings" not in text
    assert "respondent_key" not in text


# -- erasure ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    members_last_month: int
    closed_poll: tuple[int, int]
    attendance: int
    attended_minutes: int
    closed_survey_invited: int
    closed_survey_answered: int
    closed_survey_responses: int
    topic_votes: int
    consultations: int
    pairings_accepted: int


async def totals(session: AsyncSession, world: World, now: datetime) -> Totals:
    """Summary numbers, by SQL over whatever rows remain."""
    start, end = now - timedelta(days=60), now - timedelta(days=30)

    async def scalar(statement: Any) -> int:
        return int((await session.exec(statement)).one() or 0)

    ballots = (
        await session.exec(select(PollVote.choices).where(PollVote.poll_id == world.closed_poll))
    ).all()
    return Totals(
        members_last_month=await scalar(
            select(func.count())
            .select_from(Membership)
            .where(col(Membership.community_id) == world.community)
            .where(col(Membership.joined_at) <= end)
            .where(or_(col(Membership.left_at).is_(None), col(Membership.left_at) > start))
        ),
        closed_poll=(sum(0 in b for b in ballots), sum(1 in b for b in ballots)),
        attendance=await scalar(select(func.count()).select_from(Attendance)),
        attended_minutes=await scalar(select(func.sum(Attendance.minutes))),
        closed_survey_invited=await scalar(
            select(func.count()).where(col(SurveyInvitation.survey_id) == world.closed_survey)
        ),
        closed_survey_answered=await scalar(
            select(func.count())
            .where(col(SurveyInvitation.survey_id) == world.closed_survey)
            .where(col(SurveyInvitation.answered).is_(True))
        ),
        closed_survey_responses=await scalar(
            select(func.count()).where(col(SurveyResponse.survey_id) == world.closed_survey)
        ),
        topic_votes=await scalar(select(func.count()).select_from(TopicVote)),
        consultations=await scalar(select(func.count()).select_from(ConsultationRequest)),
        pairings_accepted=await scalar(
            select(func.count()).where(col(MentorPairing.accepted_at).is_not(None))
        ),
    )


async def rows_naming(session: AsyncSession, person_id: int) -> dict[str, int]:
    """Rows still pointing at the person, per table (what the tombstone carries)."""
    counts: dict[str, int] = {}
    for name, column in {
        "membership": Membership.person_id,
        "rsvp": Rsvp.person_id,
        "poll_vote": PollVote.person_id,
        "topic": Topic.proposed_by_id,
        "onboarding": OnboardingEnrollment.person_id,
        "checkin": MentorCheckin.person_id,
        "request": MentorRequest.mentee_id,
        "conversation": ConversationRef.person_id,
        "invitation": SurveyInvitation.person_id,
    }.items():
        counts[name] = int(
            (await session.exec(select(func.count()).where(col(column) == person_id))).one()
        )
    return counts


async def test_erase_removes_the_persons_data_only_and_keeps_the_counts(
    db: SessionFactory,
) -> None:
    now = utcnow()
    world = await _world(db, now)
    async with db() as session:
        before = await totals(session, world, now)
        other_before = await privacy.export(session, person_id=world.other)
        mentor_checkins_before = (
            await session.exec(select(MentorCheckin).where(MentorCheckin.person_id == world.mentor))
        ).all()
        poll_key, respondent_key = await _keys(session)

    async with transaction(db) as session:
        report = await privacy.erase(
            session,
            person_id=world.subject,
            now=now,
            poll_key=poll_key,
            respondent_key=respondent_key,
        )
    assert report.found
    assert report.changed > 0
    assert report.deleted["rsvps"] == 1
    assert report.deleted["poll_ballots"] == 1

    async with db() as session:
        # The tombstone names nobody.
        tombstone = await session.get(Person, world.subject)
        assert tombstone is not None
        assert privacy.is_erased(tombstone)
        assert (tombstone.name, tombstone.aad_object_id, tombstone.tenant_id) == (None, None, None)
        assert tombstone.teams_user_id == f"erased:{world.subject}"
        assert await privacy.inventory(session, person_id=world.subject) is None
        assert await privacy.export(session, person_id=world.subject) == {}
        # Profile, roles and membership profile fields gone; memberships ended.
        for member in (
            await session.exec(select(Membership).where(Membership.person_id == world.subject))
        ).all():
            assert member.roles == []
            assert member.interests == []
            assert (member.discipline, member.establishment, member.region) == (None, None, None)
            assert member.consultant_expertise is None
            assert member.mentor_capacity is None
            assert member.left_at is not None
        naming = await rows_naming(session, world.subject)
        assert naming["rsvp"] == 1  # the past meeting's, kept for participation counts
        assert naming["poll_vote"] == 0  # open ballot withdrawn, closed ballot made anonymous
        assert naming["topic"] == naming["onboarding"] == naming["checkin"] == 0
        assert naming["conversation"] == 0
        assert naming["request"] == 1  # the paired request, now pointing at the tombstone
        assert naming["invitation"] == 1  # the closed survey's (response rate)
        future_rsvps = (
            await session.exec(
                select(Rsvp.person_id).where(Rsvp.meeting_id == world.future_meeting)
            )
        ).all()
        assert list(future_rsvps) == [world.other]
        open_ballots = (
            await session.exec(
                select(PollVote.person_id).where(PollVote.poll_id == world.open_poll)
            )
        ).all()
        assert list(open_ballots) == [world.other]
        # The pairing ended and lost its terms; the mentor's own check-in stays.
        pairing = await session.get(MentorPairing, world.pairing)
        assert pairing is not None
        assert pairing.status == PairingStatus.ENDED
        assert (pairing.goals, pairing.frequency, pairing.reason) == ("", "", "")
        mentor_checkins = (
            await session.exec(select(MentorCheckin).where(MentorCheckin.person_id == world.mentor))
        ).all()
        assert [c.rating for c in mentor_checkins] == [c.rating for c in mentor_checkins_before]
        # Consultation: row and reference stay, content erased, open request withdrawn, audited.
        request = (
            await session.exec(
                select(ConsultationRequest).where(ConsultationRequest.reference == "CONS-2026-0001")
            )
        ).one()
        assert (request.summary, request.availability) == (None, None)
        assert request.status == ConsultationStatus.WITHDRAWN
        assert request.summary_erased_at is not None
        events = (
            await session.exec(
                select(ConsultationEvent.action, ConsultationEvent.detail).where(
                    ConsultationEvent.request_id == request.id
                )
            )
        ).all()
        assert ("summary_erased", privacy.ERASED_DETAIL) in events
        kept_other = (
            await session.exec(
                select(ConsultationRequest).where(ConsultationRequest.reference == "CONS-2026-0002")
            )
        ).one()
        assert kept_other.summary == OTHER_SUMMARY
        # Messages: pending deleted, history stripped to kind, status and dates.
        history = (
            await session.exec(
                select(OutboxMessage).where(OutboxMessage.person_id == world.subject)
            )
        ).all()
        assert [(m.kind, m.status, m.params, m.conversation_id) for m in history] == [
            ("meeting_reminder", "sent", {}, None)
        ]
        # Bot state: the subject's keys gone, the other person's intact.
        keys = set((await session.exec(select(BotState.key))).all())
        assert keys == {
            "msteams/users/29:person-2",
            "msteams/conversations/a:personal-2/users/29:person-2/",
            "msteams/conversations/a:personal-2",
        }
        # Anonymous answers to the closed survey stay; their answer to the open one and their
        # ballot in the open anonymous poll are withdrawn (a lone sealed one would tell).
        responses = (
            await session.exec(select(SurveyResponse.survey_id, SurveyResponse.respondent_key))
        ).all()
        assert sorted(survey for survey, _ in responses) == [world.closed_survey] * 2
        assert all(key.startswith("sealed:") for _, key in responses)
        anonymous = (
            await session.exec(
                select(PollVote.voter_key).where(PollVote.poll_id == world.anonymous_poll)
            )
        ).all()
        assert anonymous == [keyed_hash(poll_key, world.anonymous_poll, world.other)]
        # Summary numbers unchanged; the other person's data untouched.
        assert await totals(session, world, now) == before
        assert await privacy.export(session, person_id=world.other) == other_before

    # Idempotent: a second erasure changes nothing.
    async with transaction(db) as session:
        again = await privacy.erase(
            session,
            person_id=world.subject,
            now=now + timedelta(minutes=5),
            poll_key=poll_key,
            respondent_key=respondent_key,
        )
    assert again.found
    assert again.changed == 0, (again.deleted, again.anonymised)
    async with db() as session:
        assert await totals(session, world, now) == before


# -- the glue and the export link ------------------------------------------------------------


class Turn:
    """One turn through the privacy glue, with a TestAdapter."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sent: list[Activity] = []

    async def run(
        self,
        person_id: int,
        *,
        value: dict[str, Any] | None = None,
        channel: bool = False,
        locale: str = "fr-CA",
        clock: Any = utcnow,
    ) -> bool:
        raw = message(
            None if value else "mes données",
            service_url=SERVICE,
            conversation_type="channel" if channel else "personal",
            value=value,
        )
        context = TurnContext(ChatAdapter(), Activity.model_validate(raw))
        info = TurnInfo(
            person_id=person_id, locale=locale, timezone="America/Toronto", in_channel=channel
        )
        known = True
        if value is None:
            await on_my_data_command(
                context, sessions=self.runtime.sessions, settings=self.runtime.settings, info=info
            )
        else:
            known = await press(
                context,
                value,
                sessions=self.runtime.sessions,
                settings=self.runtime.settings,
                info=info,
                wake=lambda: None,
                clock=clock,
            )
        adapter = context.adapter
        assert isinstance(adapter, ChatAdapter)
        self.sent = list(adapter.activity_buffer)
        return known

    def text(self) -> str:
        """Message texts, and the text of a card that is an outcome (a confirmation card
        becomes one once confirmed)."""
        parts = [a.text for a in self.sent if a.text]
        for activity in self.sent:
            for attachment in activity.attachments or []:
                content = attachment.content
                if isinstance(content, dict) and not content.get("actions"):
                    parts.extend(b.get("text", "") for b in content.get("body", []))
        return "\n".join(parts)

    def card(self) -> dict[str, Any]:
        cards = [att.content for a in self.sent for att in a.attachments or []]
        assert len(cards) == 1, self.sent
        content = cards[0]
        assert isinstance(content, dict)
        return content


def _buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["title"]: a for a in card.get("actions", [])}


async def test_my_data_is_refused_in_a_channel_and_shown_in_private(runtime: Runtime) -> None:
    world = await _world(runtime.sessions, utcnow())
    turn = Turn(runtime)
    await turn.run(world.subject, channel=True)
    assert "conversation privée" in turn.text()
    assert not turn.sent[0].attachments
    assert await turn.run(world.subject, value={"verb": "privacy.export"}, channel=True)
    assert "conversation privée" in turn.text()

    await turn.run(world.subject)
    card = turn.card()
    body = json.dumps(card, ensure_ascii=False)
    assert "Ce que Carrefour conserve à votre sujet" in body
    assert "CONS-2026-0001 — en cours" in body
    buttons = _buttons(card)
    assert buttons["Exporter (JSON)"]["data"]["verb"] == "privacy.export"
    assert buttons["Supprimer mes données"]["data"]["verb"] == "privacy.erase.ask"

    await turn.run(world.subject, locale="en-CA")
    assert "What Carrefour keeps about you" in json.dumps(turn.card())
    assert not await turn.run(world.subject, value={"verb": "privacy.unknown"})


@pytest.fixture
async def export_client(
    runtime: Runtime,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    app[RUNTIME] = runtime
    app.router.add_get(ROUTE, export_json)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_the_signed_export_link(
    runtime: Runtime, export_client: TestClient[web.Request, web.Application]
) -> None:
    world = await _world(runtime.sessions, utcnow())
    turn = Turn(runtime)
    await turn.run(world.subject, value={"verb": "privacy.export"})
    [button] = turn.card()["actions"]
    url = button["url"]
    assert url.startswith(runtime.settings.public_url.rstrip("/") + "/privacy/export/")
    path = url[len(runtime.settings.public_url.rstrip("/")) :]

    response = await export_client.get(path)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    data = await response.json()
    assert data["profile"]["name"] == "Personne 1"
    assert data["consultations"][0]["summary"] == SECRET_SUMMARY
    assert "Personne 2" not in json.dumps(data, ensure_ascii=False)

    token = path.removeprefix("/privacy/export/").removesuffix(".json")
    body, _, signature = token.rpartition(".")
    forged = body.replace(f".{world.subject}.", f".{world.other}.", 1) + "." + signature
    assert forged != token
    for bad in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense"):
        response = await export_client.get(f"/privacy/export/{bad}.json")
        assert response.status == 403, bad
        assert "Personne" not in await response.text()

    async with transaction(runtime.sessions) as session:
        key = await signing_key(session, runtime.settings)
    expired = export_token(
        key, person_id=world.subject, language="fr", expires_at=utcnow() - timedelta(seconds=1)
    )
    response = await export_client.get(f"/privacy/export/{expired}.json")
    assert response.status == 410
    assert "expiré" in await response.text()


async def test_erasure_needs_a_fresh_confirmation_of_ones_own(runtime: Runtime) -> None:
    now = utcnow()
    world = await _world(runtime.sessions, now)
    turn = Turn(runtime)

    async def subject_name() -> str | None:
        async with runtime.sessions() as session:
            person = await session.get(Person, world.subject)
            assert person is not None
            return person.name

    await turn.run(world.subject, value={"verb": "privacy.erase.ask"})
    card = turn.card()
    assert "Oui, tout supprimer" in _buttons(card)
    nonce = _buttons(card)["Oui, tout supprimer"]["data"]["nonce"]
    # The confirmation card of every destructive action: its button sends the same verb,
    # confirmed, with the nonce; « Ne rien changer » is the other button.
    assert _buttons(card)["Oui, tout supprimer"]["data"] == {
        "verb": "privacy.erase.ask",
        "nonce": nonce,
        "confirmed": True,
    }
    assert _buttons(card)["Ne rien changer"]["data"] == {"verb": "confirm.dismiss"}
    confirm = {"verb": "privacy.erase.ask", "confirmed": True}

    async with transaction(runtime.sessions) as session:
        key = await signing_key(session, runtime.settings)
    refused = [
        None,
        "1.2.3.forged",
        nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BB"),
        # Signed by us, but for someone else: the other person cannot erase the subject.
        erase_nonce(key, person_id=world.other, issued_at=now),
        # Signed by us for the subject, but too old.
        erase_nonce(key, person_id=world.subject, issued_at=now - timedelta(minutes=11)),
    ]
    for bad in refused:
        await turn.run(world.subject, value={**confirm, "nonce": bad})
        assert "Rien n’a été supprimé" in turn.text(), bad
        assert await subject_name() == "Personne 1"
    # The subject's own nonce used by the other person erases nothing of anyone's.
    await turn.run(world.other, value={**confirm, "nonce": nonce})
    assert "Rien n’a été supprimé" in turn.text()
    # A fresh nonce shown, then the clock passes ten minutes: refused.
    late = lambda: now + timedelta(minutes=10, seconds=5)  # noqa: E731
    await turn.run(world.subject, value={**confirm, "nonce": nonce}, clock=late)
    assert "Rien n’a été supprimé" in turn.text()

    await turn.run(world.subject, value={"verb": "privacy.erase.cancel"})
    assert turn.text() == "C’est noté\xa0: rien n’a été supprimé."
    assert await subject_name() == "Personne 1"

    # A card shown before the confirmation card existed (`privacy.erase.confirm`) still works:
    # its nonce is checked the same way.
    await turn.run(world.subject, value={"verb": "privacy.erase.confirm", "nonce": nonce})
    assert turn.text().startswith("Vos données ont été supprimées.")
    assert await subject_name() is None
    async with runtime.sessions() as session:
        other = await session.get(Person, world.other)
        assert other is not None
        assert other.name == "Personne 2"
    await turn.run(world.subject)
    assert turn.text() == "Carrefour ne conserve aucune donnée à votre sujet."
