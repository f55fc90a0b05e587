"""Joint meetings of two communities (the seeds' CLSC and hospital committees, « réalisées
conjointement »): the invited community's consent before anything reaches it, one co-host and
one post however many clicks, members of both answering and attending, attendance counted in
both communities' vitality and annual review, withdrawal; storage on SQLite and PostgreSQL,
the flow over HTTP in French and English."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import RUNTIME
from cards.agenda import build_agenda_card, build_meeting_choice_card
from storage import communities, meetings, outbox, planning, review, vitality
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.meetings import CohostChange, InvalidMeeting
from storage.models import (
    CohostStatus,
    Community,
    ConversationRef,
    Meeting,
    MeetingCard,
    MeetingCohost,
    MeetingStatus,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Rsvp,
    RsvpAnswer,
)
from tests import factories
from tests.activities import user
from tests.fake_connector import FakeConnector
from tests.support import START, TZ, Clock, dispatcher
from tests.test_communities import ANIMATOR, MEMBER, SETUP_FORM, Chat, card_text, set_up_community
from tests.test_meetings import _plan, _publish

Client = TestClient[web.Request, web.Application]
MEETING_AT = START + timedelta(days=10)  # Thursday 3 December 2026, 9 h in Montréal
JOINED = START - timedelta(days=60)
HOSPITAL = "Comité des usagers de l’hôpital"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass(frozen=True)
class World:
    host: int
    guest: int
    meeting: int
    host_animator: int
    guest_animator: int
    both_animator: int  # facilitates both communities
    host_member: int
    guest_member: int
    both_member: int  # a member of both


async def _world(db: SessionFactory) -> World:
    async with transaction(db) as session:
        host = await factories.community(session, name="Comité des usagers du CLSC")
        guest = await factories.community(session, name=HOSPITAL)
        people = [await factories.person(session, n) for n in range(1, 7)]

        async def join(who: Person, where: Community, *roles: Role) -> None:
            row = await factories.member(session, who, where)
            row.roles = [Role.MEMBER.value, *(r.value for r in roles)]
            row.joined_at = JOINED

        host_animator, guest_animator, both_animator, host_member, guest_member, both = people
        await join(host_animator, host, Role.ANIMATOR)
        await join(guest_animator, guest, Role.ANIMATOR)
        await join(both_animator, host, Role.ANIMATOR)
        await join(both_animator, guest, Role.ANIMATOR)
        await join(host_member, host)
        await join(guest_member, guest)
        await join(both, host)
        await join(both, guest)
        meeting = await factories.meeting(session, host, starts_at=MEETING_AT, hours=3)
    return World(
        host=host.id or 0,
        guest=guest.id or 0,
        meeting=meeting.id or 0,
        host_animator=host_animator.id or 0,
        guest_animator=guest_animator.id or 0,
        both_animator=both_animator.id or 0,
        host_member=host_member.id or 0,
        guest_member=guest_member.id or 0,
        both_member=both.id or 0,
    )


async def _invite(db: SessionFactory, w: World, by: int) -> CohostChange:
    async with transaction(db) as session:
        change = await meetings.invite_cohost(
            session, meeting_id=w.meeting, community_id=w.guest, by_person_id=by, now=START
        )
        if change.changed and not change.accepted_now:
            await meetings.queue_cohost_invitations(session, change)
    return change


async def _answer(db: SessionFactory, w: World, by: int, *, accept: bool = True) -> CohostChange:
    async with transaction(db) as session:
        return await meetings.answer_cohost(
            session,
            meeting_id=w.meeting,
            community_id=w.guest,
            by_person_id=by,
            accept=accept,
            now=START,
        )


async def _rows(db: SessionFactory, model: Any) -> list[Any]:
    async with db() as session:
        return list((await session.exec(select(model))).all())


async def _reminded(db: SessionFactory, at: datetime) -> list[int]:
    async with db() as session:
        due = await meetings.due_reminders(session, now=at, default_offsets=["P1D"])
    return [r.person_id for r in due]


# -- storage rules, on both databases --


async def test_nothing_reaches_the_invited_community_before_its_facilitator_accepts(
    db: SessionFactory,
) -> None:
    w = await _world(db)
    # A member who is not a facilitator cannot invite; nothing is written.
    with pytest.raises(NotAllowed):
        await _invite(db, w, w.host_member)
    assert await _rows(db, MeetingCohost) == []
    with pytest.raises(InvalidMeeting, match="cohost_self"):
        async with transaction(db) as session:
            await meetings.invite_cohost(
                session,
                meeting_id=w.meeting,
                community_id=w.host,
                by_person_id=w.host_animator,
                now=START,
            )

    change = await _invite(db, w, w.host_animator)
    assert (change.changed, change.accepted_now) == (True, False)
    assert change.cohost.status == CohostStatus.INVITED
    # The invited community's facilitators are asked, privately; its channel gets nothing.
    invitations = await _rows(db, OutboxMessage)
    assert sorted(m.person_id for m in invitations) == [w.guest_animator, w.both_animator]
    assert {m.kind for m in invitations} == {meetings.KIND_COHOST_INVITATION}
    # Its members neither answer, nor get reminders, nor count the meeting.
    with pytest.raises(NotAllowed):
        async with transaction(db) as session:
            await meetings.answer_rsvp(
                session,
                meeting_id=w.meeting,
                person_id=w.guest_member,
                answer=RsvpAnswer.YES,
                now=START,
            )
    assert w.guest_member not in await _reminded(db, MEETING_AT - timedelta(hours=20))
    async with db() as session:
        shown = await meetings.upcoming_meetings(
            session, community_id=w.guest, now=START, joint=True
        )
    assert shown == []

    # Neither a member of the invited community nor the host's facilitator answer for it.
    for outsider in (w.guest_member, w.host_animator):
        with pytest.raises(NotAllowed):
            await _answer(db, w, outsider)
    (row,) = await _rows(db, MeetingCohost)
    assert row.status == CohostStatus.INVITED
    # Asked twice: still one invitation each.
    again = await _invite(db, w, w.host_animator)
    assert again.changed is False
    assert len(await _rows(db, OutboxMessage)) == 2


async def test_two_accepts_at_once_make_one_cohost_and_one_post(db: SessionFactory) -> None:
    w = await _world(db)
    await _invite(db, w, w.host_animator)
    async with transaction(db) as session:
        channel = await factories.channel(session, service_url="https://smba.example/", n=2)

    async def accept(session: AsyncSession) -> CohostChange:
        change = await meetings.answer_cohost(
            session,
            meeting_id=w.meeting,
            community_id=w.guest,
            by_person_id=w.guest_animator,
            accept=True,
            now=START,
        )
        # Even a click that changed nothing asks for the post: the outbox key keeps it once.
        await meetings.queue_cohost_post(session, change, channel_ref_id=channel.id)
        return change

    async def one(session_work: Any) -> CohostChange:
        async with transaction(db) as session:
            result: CohostChange = await session_work(session)
            return result

    first, second = await asyncio.gather(one(accept), one(accept))
    assert sorted([first.changed, second.changed]) == [False, True]
    (row,) = await _rows(db, MeetingCohost)
    assert row.status == CohostStatus.ACCEPTED
    assert row.answered_by_id == w.guest_animator
    posts = [m for m in await _rows(db, OutboxMessage) if m.kind == meetings.KIND_COHOST_POST]
    assert [(p.conversation_ref_id, p.params) for p in posts] == [
        (channel.id, {"meeting_id": w.meeting, "community_id": w.guest})
    ]
    # A later decline cannot undo an acceptance silently: the co-host withdraws instead.
    with pytest.raises(InvalidMeeting, match="cohost_not_invited"):
        await _answer(db, w, w.guest_animator, accept=False)


async def test_a_facilitator_of_both_communities_speaks_for_both(db: SessionFactory) -> None:
    w = await _world(db)
    change = await _invite(db, w, w.both_animator)
    assert (change.changed, change.accepted_now) == (True, True)
    assert change.cohost.status == CohostStatus.ACCEPTED
    assert await _rows(db, OutboxMessage) == []  # nobody to ask
    assert (await _invite(db, w, w.both_animator)).changed is False
    async with db() as session:
        names = await meetings.cohost_names(session, meeting_ids=[w.meeting])
    assert names == {w.meeting: [HOSPITAL]}


async def test_the_cohosts_one_pager_and_in_person_signal_count_the_joint_meeting(
    db: SessionFactory,
) -> None:
    w = await _world(db)
    year = (START, START + timedelta(days=365))

    async def seen() -> tuple[int | None, bool]:
        async with db() as session:
            upcoming = await communities.next_meeting(session, community_id=w.guest, now=START)
            in_person = await planning.in_person_planned(
                session, community_id=w.guest, since=year[0], until=year[1]
            )
        return (upcoming.id if upcoming else None), in_person

    # Invited only: nothing of it shows in the invited community.
    await _invite(db, w, w.host_animator)
    assert await seen() == (None, False)
    # Accepted: its next meeting (hybrid, in a room) is the joint one.
    await _answer(db, w, w.guest_animator)
    assert await seen() == (w.meeting, True)


async def test_attendance_of_either_community_counts_in_both(db: SessionFactory) -> None:
    w = await _world(db)
    await _invite(db, w, w.host_animator)
    await _answer(db, w, w.guest_animator)
    async with transaction(db) as session:
        for person_id in (w.guest_member, w.both_member, w.host_member):
            await meetings.answer_rsvp(
                session,
                meeting_id=w.meeting,
                person_id=person_id,
                answer=RsvpAnswer.YES,
                now=START + timedelta(days=1),
            )
    # Reminded: the members of both, each once (the member of both too).
    reminded = await _reminded(db, MEETING_AT - timedelta(hours=20))
    assert sorted(reminded) == sorted(
        {
            w.host_animator,
            w.guest_animator,
            w.both_animator,
            w.host_member,
            w.guest_member,
            w.both_member,
        }
    )
    async with db() as session:
        listed = await meetings.upcoming_meetings(
            session, community_id=w.guest, now=START, joint=True
        )
        own_only = await meetings.upcoming_meetings(session, community_id=w.guest, now=START)
        roster = await meetings.attendance_roster(session, meeting_id=w.meeting)
    assert [m.id for m in listed] == [w.meeting]
    assert own_only == []  # its commands that change a meeting act on its own meetings only
    assert len(roster) == 6  # the members of both, each once
    async with db() as session:
        stored = await session.get(Meeting, w.meeting)
        assert stored is not None
        # The list to confirm goes to the facilitators of both communities.
        asked = await meetings.animators_of_hosts(session, meeting=stored)
    assert asked == sorted([w.host_animator, w.guest_animator, w.both_animator])

    # The co-host's facilitator confirms the list (present: one of each, and the one of both).
    async with transaction(db) as session:
        change = await meetings.record_attendance(
            session,
            meeting_id=w.meeting,
            by_person_id=w.guest_animator,
            present_ids=[w.host_member, w.guest_member, w.both_member],
            absent_ids=[],
            removal_confirmed=False,
            now=MEETING_AT + timedelta(hours=4),
        )
    assert change.recorded == 3

    later = MEETING_AT + timedelta(days=2)
    async with db() as session:
        for community_id in (w.host, w.guest):
            month = await vitality.vitality_summary(
                session, community_id=community_id, month=date(2026, 12, 1), tz=TZ, now=later
            )
            # Each community counts the meeting against its own members: 2 of its 4.
            assert (month.meetings, month.attendances, month.attendance_expected) == (1, 2, 4)
            assert month.active == 2  # its members present (the answers were in November)
            year = await review.annual_review(
                session, community_id=community_id, year=2027, tz=TZ, now=later
            )
            assert (year.meetings, year.attendances, year.attendance_expected) == (1, 2, 4)


async def test_the_cohost_withdraws_and_its_members_answers_go(db: SessionFactory) -> None:
    w = await _world(db)
    await _invite(db, w, w.host_animator)
    await _answer(db, w, w.guest_animator)
    reminder_at = MEETING_AT - timedelta(hours=20)
    async with transaction(db) as session:
        for person_id in (w.guest_member, w.both_member):
            await meetings.answer_rsvp(
                session,
                meeting_id=w.meeting,
                person_id=person_id,
                answer=RsvpAnswer.YES,
                now=START,
            )
        for due in await meetings.due_reminders(session, now=reminder_at, default_offsets=["P1D"]):
            await outbox.enqueue(
                session,
                dedup_key=meetings.reminder_key(due),
                recipient=outbox.Recipient.person(due.person_id),
                kind=meetings.KIND_REMINDER,
                params={"meeting_id": due.meeting_id, "offset": due.offset},
                not_before=reminder_at,
            )
    # Only a facilitator of either community ends it.
    with pytest.raises(NotAllowed):
        async with transaction(db) as session:
            await meetings.withdraw_cohost(
                session,
                meeting_id=w.meeting,
                community_id=w.guest,
                by_person_id=w.guest_member,
                now=START,
            )
    async with transaction(db) as session:
        change = await meetings.withdraw_cohost(
            session,
            meeting_id=w.meeting,
            community_id=w.guest,
            by_person_id=w.guest_animator,
            now=START + timedelta(days=1),
        )
    assert change.changed
    assert change.dropped == (w.guest_member,)
    answered = {r.person_id for r in await _rows(db, Rsvp)}
    assert answered == {w.both_member}  # still a member of the host
    pending = {
        m.person_id
        for m in await _rows(db, OutboxMessage)
        if m.kind == meetings.KIND_REMINDER and m.status == OutboxStatus.PENDING
    }
    assert w.guest_member not in pending
    assert w.guest_animator not in pending
    assert w.both_member in pending
    assert w.guest_member not in await _reminded(db, reminder_at)
    with pytest.raises(NotAllowed):
        async with transaction(db) as session:
            await meetings.answer_rsvp(
                session,
                meeting_id=w.meeting,
                person_id=w.guest_member,
                answer=RsvpAnswer.YES,
                now=START,
            )
    async with transaction(db) as session:
        twice = await meetings.withdraw_cohost(
            session,
            meeting_id=w.meeting,
            community_id=w.guest,
            by_person_id=w.guest_animator,
            now=START + timedelta(days=1),
        )
        assert twice.changed is False
        held = await vitality.vitality_summary(
            session,
            community_id=w.guest,
            month=date(2026, 12, 1),
            tz=TZ,
            now=MEETING_AT + timedelta(days=1),
        )
    assert held.meetings == 0  # no longer the guest's meeting


async def test_too_late_to_withdraw_once_the_meeting_started(db: SessionFactory) -> None:
    w = await _world(db)
    await _invite(db, w, w.host_animator)
    await _answer(db, w, w.guest_animator)
    with pytest.raises(InvalidMeeting, match="cohost_too_late"):
        async with transaction(db) as session:
            await meetings.withdraw_cohost(
                session,
                meeting_id=w.meeting,
                community_id=w.guest,
                by_person_id=w.guest_animator,
                now=MEETING_AT + timedelta(minutes=5),
            )
    (row,) = await _rows(db, MeetingCohost)
    assert row.status == CohostStatus.ACCEPTED


# -- the cards --


@pytest.mark.parametrize(
    ("locale", "line"),
    [
        ("fr-CA", f"Rencontre conjointe avec {HOSPITAL}"),
        ("en-US", f"Joint meeting with {HOSPITAL}"),
    ],
)
def test_the_cards_and_the_meetings_list_name_the_cohosts(locale: str, line: str) -> None:
    host = Community(id=1, name="Comité des usagers du CLSC")
    meeting = Meeting(
        id=7,
        community_id=1,
        title="Rencontre conjointe d’hiver",
        starts_at=MEETING_AT,
        ends_at=MEETING_AT + timedelta(hours=3),
    )
    agenda = build_agenda_card(meeting, host, [], {}, locale=locale, tz=TZ, cohosts=[HOSPITAL])
    assert line in card_text(agenda)
    listed = build_meeting_choice_card(
        [meeting],
        verb="meetings.cancel",
        heading_key="plan.cancel.choose",
        locale=locale,
        tz=TZ,
        cohosts={7: [HOSPITAL]},
    )
    assert line in card_text(listed)
    alone = build_agenda_card(meeting, host, [], {}, locale=locale, tz=TZ)
    assert HOSPITAL not in card_text(alone)


# -- over HTTP --

CHANNEL_B = "19:channel-b@thread.tacv2"
ANIMATOR_B = user(3, "Nadia Roy")
MEMBER_B = user(4, "Julien Côté")


async def _in_b(chat: Chat, text: str | None, value: dict[str, Any] | None = None) -> None:
    extra: dict[str, Any] = {"conversation_id": CHANNEL_B}
    if value is not None:
        extra["value"] = value
    await chat.say(text, channel=True, **extra)


async def _two_communities(
    client: Client, connector: FakeConnector, *, locale: str = "fr-CA"
) -> tuple[Chat, Chat, Chat, Community, Meeting]:
    """Community A (the CLSC's, in the usual channel) with a published meeting; community B
    (the hospital's, in CHANNEL_B) with its facilitator and a member."""
    host = await set_up_community(client, connector)
    animator_b = Chat(client, connector, ANIMATOR_B, locale=locale)
    await _in_b(animator_b, "configurer")
    await _in_b(animator_b, None, {**SETUP_FORM, "name": HOSPITAL})
    await animator_b.say("aide")  # its personal chat, where invitations arrive
    member_b = Chat(client, connector, MEMBER_B, locale=locale)
    await member_b.say("aide")
    if locale.startswith("en"):
        await animator_b.say("language en")
        await member_b.say("language en")
    runtime = client.app[RUNTIME]
    async with transaction(runtime.sessions) as session:
        guest = (await session.exec(select(Community).where(Community.name == HOSPITAL))).one()
        person = (
            await session.exec(select(Person).where(Person.teams_user_id == MEMBER_B["id"]))
        ).one()
        person.consent_reminders = True
        session.add(Membership(person_id=person.id or 0, community_id=guest.id or 0))
    animator = Chat(client, connector, ANIMATOR)
    await _publish(animator, await _plan(animator))
    async with runtime.sessions() as session:
        meeting = (await session.exec(select(Meeting))).one()
    assert meeting.community_id == host.id
    return animator, animator_b, member_b, guest, meeting


async def _deliver(client: Client) -> None:
    runtime = client.app[RUNTIME]
    await dispatcher(runtime, Clock(now=datetime.now(START.tzinfo))).dispatch_once()


async def test_a_joint_meeting_over_http_in_french(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, animator_b, member_b, guest, meeting = await _two_communities(bot_client, connector)
    runtime = bot_client.app[RUNTIME]
    # As Teams sends a form's choices: strings.
    invite = {
        "verb": "meetings.cohost.invite",
        "meeting_id": str(meeting.id),
        "community_id": str(guest.id),
    }

    await animator.say("rencontre conjointe", channel=True)
    form = animator.last_card()
    assert "Inviter une communauté à coanimer une rencontre" in card_text(form)
    assert HOSPITAL in card_text(form)
    # Someone who does not facilitate the channel's community invites nobody.
    await Chat(bot_client, connector, MEMBER).click(invite, channel=True)
    assert connector.texts()[-1].startswith("Seul·e·s les animateur·rice·s de la communauté")
    async with runtime.sessions() as session:
        assert (await session.exec(select(MeetingCohost))).all() == []

    await animator.click({**invite, "community_id": "999999"}, channel=True)
    assert animator.last_text() == "Cette communauté est introuvable dans votre organisation."
    async with runtime.sessions() as session:
        assert (await session.exec(select(MeetingCohost))).all() == []

    await animator.click(invite, channel=True)
    assert card_text(animator.last_card()).startswith(
        f"Invitation envoyée aux animateur·rice·s de «\u00a0{HOSPITAL}\u00a0»"
    )
    await _deliver(bot_client)
    personal_b = f"a:personal-{ANIMATOR_B['id']}"
    (invitation,) = [
        c for c in connector.cards(personal_b) if "Invitation à une rencontre conjointe" in str(c)
    ]
    assert "Accepter" in card_text(invitation)
    assert not any("Ordre du jour" in card_text(c) for c in connector.cards(CHANNEL_B))

    # Neither a member of B nor A's facilitator answers for B: told so, nothing changes.
    accept = {"verb": "meetings.cohost.accept", "meeting_id": meeting.id, "community_id": guest.id}
    for outsider in (member_b, animator):
        await outsider.click(accept)
        assert outsider.last_text() == (
            f"Seul·e·s les animateur·rice·s de «\u00a0{HOSPITAL}\u00a0» peuvent répondre à cette"
            " invitation\u00a0; rien n’a changé."
        )
    async with runtime.sessions() as session:
        (row,) = (await session.exec(select(MeetingCohost))).all()
    assert row.status == CohostStatus.INVITED

    # B's facilitator accepts, twice: one co-host, one post in B's channel.
    await animator_b.click(accept)
    assert card_text(animator_b.last_card()).startswith("C’est accepté\u00a0:")
    await animator_b.click(accept)
    assert card_text(animator_b.last_card()).startswith("Cette invitation est déjà acceptée")
    async with runtime.sessions() as session:
        (row,) = (await session.exec(select(MeetingCohost))).all()
        posts = (
            await session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == meetings.KIND_COHOST_POST)
            )
        ).one()
    assert (row.status, posts) == (CohostStatus.ACCEPTED, 1)
    await _deliver(bot_client)
    (posted,) = [c for c in connector.cards(CHANNEL_B) if "Ordre du jour" in card_text(c)]
    assert f"Rencontre conjointe avec {HOSPITAL}" in card_text(posted)
    assert "CdeP Soins palliatifs Montérégie" in card_text(posted)
    # The host's card says so too, updated in place; its facilitator is told.
    updates = [r for r in connector.received if r.method == "PUT"]
    assert any(
        f"Rencontre conjointe avec {HOSPITAL}" in card_text(u.body["attachments"][0]["content"])
        for u in updates
    )
    assert any(
        "a accepté de coanimer" in t for t in connector.texts(f"a:personal-{ANIMATOR['id']}")
    )
    async with runtime.sessions() as session:
        copies = (
            await session.exec(
                select(ConversationRef.conversation_id)
                .join(MeetingCard, col(MeetingCard.conversation_ref_id) == col(ConversationRef.id))
                .where(MeetingCard.meeting_id == meeting.id)
            )
        ).all()
    assert CHANNEL_B in copies

    # A member of B sees the meeting and answers it.
    await member_b.say("ordre du jour")
    assert f"Rencontre conjointe avec {HOSPITAL}" in card_text(member_b.last_card())
    await member_b.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    assert member_b.last_text() == "C’est noté\u00a0: vous serez présent·e. À bientôt\u00a0!"

    # Cancelling tells both communities: B's member who accepted and B's facilitator.
    await animator.say("annuler la rencontre", channel=True)
    confirm = animator.last_card()
    await animator.click(
        next(a["data"] for a in confirm["actions"] if a["data"].get("confirmed")), channel=True
    )
    await _deliver(bot_client)
    for person in (MEMBER_B, ANIMATOR_B):
        assert any("est annulée" in t for t in connector.texts(f"a:personal-{person['id']}"))
    channel_b_updates = [
        r for r in connector.received if r.method == "PUT" and r.conversation_id == CHANNEL_B
    ]
    assert "Rencontre annulée" in card_text(channel_b_updates[-1].body["attachments"][0]["content"])


async def test_a_joint_meeting_over_http_in_english_and_withdrawn(
    bot_client: Client, connector: FakeConnector
) -> None:
    animator, animator_b, member_b, guest, meeting = await _two_communities(
        bot_client, connector, locale="en-US"
    )
    runtime = bot_client.app[RUNTIME]
    await animator.click(
        {"verb": "meetings.cohost.invite", "meeting_id": meeting.id, "community_id": guest.id},
        channel=True,
    )
    await _deliver(bot_client)
    personal_b = f"a:personal-{ANIMATOR_B['id']}"
    (invitation,) = [
        c for c in connector.cards(personal_b) if "Invitation to a joint meeting" in str(c)
    ]
    assert f"invites “{HOSPITAL}” to co-host the meeting" in card_text(invitation)
    accept = {"verb": "meetings.cohost.accept", "meeting_id": meeting.id, "community_id": guest.id}
    await member_b.click(accept)
    assert member_b.last_text() == (
        f"Only the facilitators of “{HOSPITAL}” can answer this invitation; nothing changed."
    )
    await animator_b.click(accept)
    assert card_text(animator_b.last_card()).startswith(f"Accepted: “{HOSPITAL}” co-hosts")
    await member_b.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    assert member_b.last_text().startswith("Noted")
    await _deliver(bot_client)

    # B's facilitator leaves, from B's channel, after confirming.
    await _in_b(animator_b, "leave joint meeting")
    confirm = animator_b.last_card()
    assert card_text(confirm).startswith(f"Withdraw “{HOSPITAL}” from the meeting")
    await _in_b(
        animator_b, None, next(a["data"] for a in confirm["actions"] if a["data"].get("confirmed"))
    )
    assert card_text(animator_b.last_card()).startswith(f"“{HOSPITAL}” no longer co-hosts")
    async with runtime.sessions() as session:
        (row,) = (await session.exec(select(MeetingCohost))).all()
        answers = (await session.exec(select(Rsvp))).all()
    assert row.status == CohostStatus.WITHDRAWN
    assert answers == []
    await _deliver(bot_client)
    assert any(
        "your sign-up is removed" in t for t in connector.texts(f"a:personal-{MEMBER_B['id']}")
    )
    last_in_b = [
        r for r in connector.received if r.method == "PUT" and r.conversation_id == CHANNEL_B
    ][-1]
    # The channel's copy, in the channel's language (not one person's): no buttons left.
    last_card = last_in_b.body["attachments"][0]["content"]
    assert "ne coanime plus cette rencontre" in card_text(last_card)
    assert "actions" not in last_card
    # B's member can no longer answer it.
    await member_b.click({"verb": "meetings.rsvp", "meeting_id": meeting.id, "answer": "yes"})
    assert member_b.last_text() == "You are not a member of a matching community."
    async with runtime.sessions() as session:
        status = (await session.exec(select(Meeting.status))).one()
    assert status == MeetingStatus.SCHEDULED
