"""What Carrefour keeps about one person, their export, and their erasure (Quebec's Law 25).

`inventory` counts what is kept, `export` gives all of it (dates as ISO strings, ready for
JSON), `erase` removes it. Nothing here commits: the caller runs `erase` inside one transaction
(`storage.db.transaction`), so an erasure happens completely or not at all.

Erasure, and why some rows stay
-------------------------------
Summaries that are computed from rows (a community's members in a past month, its vitality
indicators, closed poll results, survey response rates, consultation counts) must not change
when someone leaves. So the rule is: *what identifies the person goes; dated facts that past
summaries count stay, stripped, under a tombstone; whatever still acts in the future goes.*

- The `person` row becomes a tombstone: Teams, AAD and tenant ids, name, languages and consents
  are cleared (`teams_user_id` becomes ``erased:<id>``). The row itself stays because other rows
  must point somewhere (a consultation request's `requester_id` is NOT NULL, meetings and polls
  keep `created_by_id`, audit events keep `actor_id`) and because the counts below depend on
  those rows. The tombstone names nobody: nothing left ties it to a Teams account or a name.
  A later message from the same account creates a new, unrelated person.
- Memberships: roles and every profile field (discipline, establishment, region, interests,
  newcomer flag, mentoring capacity, consultation expertise) are cleared and the membership is
  ended (`left_at`); `joined_at`/`left_at` stay so monthly member counts do not change.
- Attendance stays (minutes per meeting: attendance counts and hours in summaries).
- RSVPs: to meetings still to come are deleted (they would announce a presence); to past
  meetings they stay under the tombstone (participation counts).
- Topic votes stay under the tombstone (vote counts and the topic ranking); topics proposed
  stay with the community by title (they are its topic bank) but lose their proposer, their
  description and their presenter. A presenter written as text that names the person, on any
  topic or agenda item, is cleared.
- Non-anonymous poll ballots: on open polls they are deleted (the person withdraws); on closed
  polls the ballot is made anonymous (no person, voter key ``erased:<ballot id>``) so published
  totals stay what they were while names disappear. Anonymous ballots never named anyone; with
  the poll key given, their ballot in an open anonymous poll is withdrawn (deleted: a lone
  sealed ballot in an open poll would tell what the erased person chose).
- Mentoring: check-ins the person answered are deleted; pairings not yet accepted (proposed,
  declined) and open requests are deleted; accepted pairings are ended and stripped of their
  terms (goals, frequency, reason, first meeting) but stay for mentoring counts. The other
  person's own check-ins about the pairing keep their rating (theirs, and counted) but lose
  their comment, which is about someone now erased.
- Onboarding enrollments are deleted.
- Consultation requests the person made keep their reference, dates and status (counts); the
  summary, availability and usefulness comment are erased, open requests are withdrawn, and the
  audit trail records the erasure ("erased on request"). Requests the person held as assignee
  go back to the coordinators' queue (a hand-back with the reason "erased", in the audit
  trail), who are told through the outbox, as for any hand-back; requests waiting with them as
  the suggestion get a new one.
- Survey invitations: of closed surveys they stay under the tombstone (response rates); of open
  surveys they are deleted (no reminder goes out). Anonymous answers to closed surveys stay, and
  stay unlinkable (sealed at closing); with the respondent key given, their answer to an open
  survey is withdrawn, as ballots are.
- Messages sent to the person: pending ones are deleted; the delivery history keeps the kind,
  status and dates only (parameters, conversation and Teams message ids and errors cleared).
  Messages to others that name the person or repeat what they wrote (a newcomer announced to
  the animators, with their check-in comment) are treated alike: not sent if still pending,
  stripped to kind, status, recipient and dates otherwise. They are found by content (the
  name, the Teams and AAD ids, the person's own texts), so a new kind of notice is covered.
- Personal conversations with the bot are forgotten, with the claims of the activities received
  in them (their keys hold the conversation id), and the bot state stored under the person's
  Teams id (user state, private conversation state in any conversation, keys too long to keep
  and stored hashed included) or their personal conversation.
- Signed links issued to the person before (attestations, data exports, summary CSVs) name
  them: their endpoints refuse a link whose person is a tombstone (bot/links.py), so no list
  of links is kept to revoke them.
- Person ids stay where rows about the past point at the tombstone (an audit event's actor, a
  message's dedup key): with the tombstone naming nobody, such an id identifies nobody either.
- Productions (storage/review.py): their names come off every production they had added it to
  (a name is there by their consent only); the productions and objectives' status they recorded
  stay for the community without them.
- Toolbox: the person's « utile » marks are deleted (counts drop; a mark is a present opinion,
  not a dated fact a past summary relies on); the resources they shared stay in the toolbox
  for their community, without their author (`shared_by_id` cleared; storage/toolbox.py).
- Complex cases (storage/cases.py `erase_presenter`): their takeaways are deleted; the cases they
  submitted are deleted, except those already discussed, which stay for the community by title
  and themes (the meeting's agenda, the monthly counts) without presenter or texts.
- Questions to the community (storage/questions.py `erase_person`): a question the person asked
  stays, without its author, when someone else answered it (their answers need it; its card in
  the channel is updated to name nobody); otherwise it is deleted with their own answers to it,
  and its card in the channel is replaced by a notice. Their answers to others' questions stay,
  without author nor the Teams message they came from (the asker relied on them).

`erase` is idempotent: a second run finds nothing left to change and reports zeros.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, Text, cast, delete, func, literal, null, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import admin as admin_lists
from storage import (
    cases,
    codevelopment,
    consultations,
    onboarding,
    polls,
    questions,
    surveys,
    toolbox,
)
from storage import review as productions
from storage.activities import activity_key
from storage.consultations import Action
from storage.models import (
    AgendaItem,
    Attendance,
    BotState,
    Community,
    ConsultationEvent,
    ConsultationRequest,
    ConsultationStatus,
    ConversationRef,
    Meeting,
    MeetingCard,
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
    ProcessedActivity,
    Rsvp,
    Survey,
    SurveyInvitation,
    SurveyResponse,
    Topic,
    TopicVote,
)
from storage.state_store import stored_key

ERASED_PREFIX = "erased:"
ERASED_DETAIL = "erased on request"
_LIVE_OUTBOX = (OutboxStatus.PENDING, OutboxStatus.SENDING)
_OPEN_CONSULTATION = (
    ConsultationStatus.SUBMITTED,
    ConsultationStatus.ASSIGNED,
    ConsultationStatus.IN_PROGRESS,
)
_ACCEPTED_PAIRING = (PairingStatus.ACTIVE, PairingStatus.ENDED)


def is_erased(person: Person) -> bool:
    """A tombstone left by `erase` (attestations and lists should skip it)."""
    return person.teams_user_id.startswith(ERASED_PREFIX)


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


# -- what is kept ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MembershipFact:
    community: str
    roles: tuple[str, ...]
    has_profile: bool
    active: bool


@dataclass(frozen=True, slots=True)
class ConsultationFact:
    reference: str
    status: str


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Counts and key facts of what is kept about one person (for the « mes données » card)."""

    person_id: int
    name: str | None
    locale: str | None
    consent_reminders: bool
    consent_surveys: bool
    memberships: tuple[MembershipFact, ...] = ()
    rsvps: int = 0
    attendance: int = 0
    attendance_minutes: int = 0
    topics_proposed: int = 0
    topic_votes: int = 0
    poll_ballots: int = 0
    mentor_requests: int = 0
    pairings: int = 0
    checkins: int = 0
    onboarding: int = 0
    consultations: tuple[ConsultationFact, ...] = ()
    survey_invitations: int = 0
    surveys_answered: int = 0
    messages: int = 0
    conversations: int = 0
    resources_shared: int = 0
    resource_marks: int = 0
    cases_submitted: int = 0
    questions_asked: int = 0
    question_answers: int = 0

    @property
    def total(self) -> int:
        """How many records mention the person besides their profile."""
        return (
            len(self.memberships)
            + self.rsvps
            + self.attendance
            + self.topics_proposed
            + self.topic_votes
            + self.poll_ballots
            + self.mentor_requests
            + self.pairings
            + self.checkins
            + self.onboarding
            + len(self.consultations)
            + self.survey_invitations
            + self.messages
            + self.conversations
            + self.resources_shared
            + self.resource_marks
            + self.cases_submitted
            + self.questions_asked
            + self.question_answers
        )


async def _count(session: AsyncSession, statement: Any) -> int:
    return int((await session.exec(statement)).one() or 0)


async def inventory(session: AsyncSession, *, person_id: int) -> PersonalData | None:
    """What is kept about the person; None if there is no such person (or only a tombstone)."""
    person = await session.get(Person, person_id)
    if person is None or is_erased(person):
        return None
    rows = await session.exec(
        select(Membership, Community.name)
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(col(Membership.person_id) == person_id)
        .order_by(col(Community.name))
    )
    memberships = tuple(
        MembershipFact(
            community=name,
            roles=tuple(member.roles),
            has_profile=any(
                (
                    member.discipline,
                    member.establishment,
                    member.region,
                    member.interests,
                    member.consultant_expertise,
                    member.mentor_capacity,
                )
            ),
            active=member.left_at is None,
        )
        for member, name in rows.all()
    )
    attended = (
        await session.exec(
            select(func.count(), func.coalesce(func.sum(col(Attendance.minutes)), 0)).where(
                col(Attendance.person_id) == person_id
            )
        )
    ).one()
    answered = (
        await session.exec(
            select(func.count(), func.count().filter(col(SurveyInvitation.answered).is_(True)))
            .select_from(SurveyInvitation)
            .where(col(SurveyInvitation.person_id) == person_id)
        )
    ).one()
    consultations = tuple(
        ConsultationFact(reference=reference, status=str(status))
        for reference, status in (
            await session.exec(
                select(col(ConsultationRequest.reference), col(ConsultationRequest.status))
                .where(col(ConsultationRequest.requester_id) == person_id)
                .order_by(col(ConsultationRequest.created_at))
            )
        ).all()
    )

    def counted(column: Any) -> Any:
        return select(func.count()).where(column == person_id)

    asked_and_answered = await questions.counts_of(session, person_id=person_id)

    return PersonalData(
        person_id=person_id,
        name=person.name,
        locale=person.preferred_locale or person.locale,
        consent_reminders=person.consent_reminders,
        consent_surveys=person.consent_surveys,
        memberships=memberships,
        rsvps=await _count(session, counted(col(Rsvp.person_id))),
        attendance=int(attended[0]),
        attendance_minutes=int(attended[1]),
        topics_proposed=await _count(session, counted(col(Topic.proposed_by_id))),
        topic_votes=await _count(session, counted(col(TopicVote.person_id))),
        poll_ballots=await _count(session, counted(col(PollVote.person_id))),
        mentor_requests=await _count(session, counted(col(MentorRequest.mentee_id))),
        pairings=await _count(
            session,
            select(func.count()).where(
                or_(
                    col(MentorPairing.mentor_id) == person_id,
                    col(MentorPairing.mentee_id) == person_id,
                )
            ),
        ),
        checkins=await _count(session, counted(col(MentorCheckin.person_id))),
        onboarding=await _count(session, counted(col(OnboardingEnrollment.person_id))),
        consultations=consultations,
        survey_invitations=int(answered[0]),
        surveys_answered=int(answered[1]),
        messages=await _count(session, counted(col(OutboxMessage.person_id))),
        conversations=await _count(session, counted(col(ConversationRef.person_id))),
        resources_shared=len(await toolbox.shared_by(session, person_id=person_id)),
        resource_marks=await toolbox.marks_count(session, person_id=person_id),
        cases_submitted=await cases.count_of(session, person_id=person_id),
        questions_asked=asked_and_answered[0],
        question_answers=asked_and_answered[1],
    )


# -- export ----------------------------------------------------------------------------------


async def export(session: AsyncSession, *, person_id: int) -> dict[str, Any]:
    """Everything kept about the person, JSON-ready. Only what is theirs: no other person's
    name or answers, never an anonymous answer (nobody can tell which one is theirs)."""
    person = await session.get(Person, person_id)
    if person is None or is_erased(person):
        return {}
    data: dict[str, Any] = {
        "profile": {
            "name": person.name,
            "teams_user_id": person.teams_user_id,
            "aad_object_id": person.aad_object_id,
            "tenant_id": person.tenant_id,
            "locale": person.locale,
            "preferred_locale": person.preferred_locale,
            "consent_reminders": person.consent_reminders,
            "consent_surveys": person.consent_surveys,
            "created_at": _iso(person.created_at),
            "last_seen_at": _iso(person.last_seen_at),
        }
    }
    members = await session.exec(
        select(Membership, Community.name)
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(col(Membership.person_id) == person_id)
        .order_by(col(Membership.joined_at))
    )
    data["memberships"] = [
        {
            "community": name,
            "roles": list(m.roles),
            "discipline": m.discipline,
            "establishment": m.establishment,
            "region": m.region,
            "interests": list(m.interests),
            "is_new_hire": m.is_new_hire,
            "mentor_capacity": m.mentor_capacity,
            "consultant_expertise": m.consultant_expertise,
            "joined_at": _iso(m.joined_at),
            "left_at": _iso(m.left_at),
        }
        for m, name in members.all()
    ]
    rsvps = await session.exec(
        select(Rsvp, Meeting.title, Meeting.starts_at)
        .join(Meeting, col(Meeting.id) == col(Rsvp.meeting_id))
        .where(col(Rsvp.person_id) == person_id)
        .order_by(col(Meeting.starts_at))
    )
    data["rsvps"] = [
        {
            "meeting": title,
            "meeting_starts_at": _iso(starts),
            "answer": str(r.answer),
            "answered_at": _iso(r.answered_at),
        }
        for r, title, starts in rsvps.all()
    ]
    attended = await session.exec(
        select(Attendance, Meeting.title, Meeting.starts_at)
        .join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
        .where(col(Attendance.person_id) == person_id)
        .order_by(col(Meeting.starts_at))
    )
    data["attendance"] = [
        {
            "meeting": title,
            "meeting_starts_at": _iso(starts),
            "minutes": a.minutes,
            "confirmed_at": _iso(a.confirmed_at),
        }
        for a, title, starts in attended.all()
    ]
    topics = await session.exec(
        select(Topic).where(col(Topic.proposed_by_id) == person_id).order_by(col(Topic.id))
    )
    data["topics_proposed"] = [
        {
            "title": topic.title,
            "description": topic.description,
            "kind": str(topic.kind),
            "presenter": topic.presenter,
            "hide_proposer": topic.hide_proposer,
            "status": str(topic.status),
            "created_at": _iso(topic.created_at),
        }
        for topic in topics.all()
    ]
    votes = await session.exec(
        select(TopicVote, Topic.title)
        .join(Topic, col(Topic.id) == col(TopicVote.topic_id))
        .where(col(TopicVote.person_id) == person_id)
        .order_by(col(TopicVote.id))
    )
    data["topic_votes"] = [
        {"topic": title, "voted_at": _iso(vote.created_at)} for vote, title in votes.all()
    ]
    ballots = await session.exec(
        select(PollVote, Poll)
        .join(Poll, col(Poll.id) == col(PollVote.poll_id))
        .where(col(PollVote.person_id) == person_id)
        .order_by(col(PollVote.id))
    )
    data["poll_ballots"] = [
        {
            "question": poll.question,
            "choices": [poll.options[i] for i in ballot.choices if 0 <= i < len(poll.options)],
            "voted_at": _iso(ballot.voted_at),
        }
        for ballot, poll in ballots.all()
    ]
    data["mentoring"] = await _export_mentoring(session, person_id)
    enrollments = await session.exec(
        select(OnboardingEnrollment, Community.name)
        .join(Community, col(Community.id) == col(OnboardingEnrollment.community_id))
        .where(col(OnboardingEnrollment.person_id) == person_id)
    )
    data["onboarding"] = [
        {
            "community": name,
            "source": e.source,
            "started_at": _iso(e.started_at),
            "stopped_at": _iso(e.stopped_at),
            "checkin_rating": e.checkin_rating,
            "checkin_comment": e.checkin_comment,
            "checkin_at": _iso(e.checkin_at),
            "checklist": await onboarding.export_checks(
                session, community_id=e.community_id, person_id=person_id
            ),
        }
        for e, name in enrollments.all()
    ]
    requests = await session.exec(
        select(ConsultationRequest, Community.name)
        .join(Community, col(Community.id) == col(ConsultationRequest.community_id))
        .where(col(ConsultationRequest.requester_id) == person_id)
        .order_by(col(ConsultationRequest.created_at))
    )
    data["consultations"] = [
        {
            "reference": r.reference,
            "community": name,
            "motive": r.motive,
            "urgency": r.urgency,
            "modality": r.modality,
            "summary": r.summary,
            "availability": r.availability,
            "status": str(r.status),
            "created_at": _iso(r.created_at),
            "assigned_at": _iso(r.assigned_at),
            "closed_at": _iso(r.closed_at),
            "usefulness_rating": r.usefulness_rating,
            "usefulness_comment": r.usefulness_comment,
            "summary_erased_at": _iso(r.summary_erased_at),
        }
        for r, name in requests.all()
    ]
    invitations = await session.exec(
        select(SurveyInvitation, Survey, Community.name)
        .join(Survey, col(Survey.id) == col(SurveyInvitation.survey_id))
        .join(Community, col(Community.id) == col(Survey.community_id))
        .where(col(SurveyInvitation.person_id) == person_id)
        .order_by(col(Survey.opens_at))
    )
    data["survey_invitations"] = [
        {
            "community": name,
            "kind": str(survey.kind),
            "opens_at": _iso(survey.opens_at),
            "closes_at": _iso(survey.closes_at),
            "answered": invitation.answered,
        }
        for invitation, survey, name in invitations.all()
    ]
    messages = await session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.person_id) == person_id)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    )
    data["messages"] = [
        {
            "kind": m.kind,
            "status": str(m.status),
            "created_at": _iso(m.created_at),
            "sent_at": _iso(m.sent_at),
        }
        for m in messages.all()
    ]
    conversations = await session.exec(
        select(ConversationRef).where(col(ConversationRef.person_id) == person_id)
    )
    data["conversations"] = [
        {"scope": str(c.scope), "updated_at": _iso(c.updated_at)} for c in conversations.all()
    ]
    data["codevelopment"] = await codevelopment.export_person(session, person_id=person_id)
    data["resources_shared"] = [
        {
            "title": r.title,
            "url": r.url,
            "kind": str(r.kind),
            "themes": list(r.themes),
            "why": r.why,
            "visibility": str(r.visibility),
            "status": str(r.status),
            "created_at": _iso(r.created_at),
        }
        for r in await toolbox.shared_by(session, person_id=person_id)
    ]
    # Counted, not listed: marks are shown nowhere by person, the export says how many.
    data["resource_marks"] = await toolbox.marks_count(session, person_id=person_id)
    # Their cases with their own takeaways (storage/cases.py), never anyone else's.
    data["cases_submitted"] = await cases.export_of(session, person_id=person_id)
    # Their questions (how many answers each got, not the others' words) and their answers.
    data.update(await _export_questions(session, person_id))
    # The productions they agreed to be named on (storage/review.py).
    data["productions_named"] = await productions.export_person(session, person_id=person_id)
    # Their mailing-list consent (and address), the guests' names they typed (storage/admin.py).
    data.update(await admin_lists.export_person(session, person_id=person_id))
    return data


async def _export_mentoring(session: AsyncSession, person_id: int) -> dict[str, Any]:
    requests = await session.exec(
        select(MentorRequest, Community.name)
        .join(Community, col(Community.id) == col(MentorRequest.community_id))
        .where(col(MentorRequest.mentee_id) == person_id)
        .order_by(col(MentorRequest.id))
    )
    pairings = await session.exec(
        select(MentorPairing, Community.name)
        .join(Community, col(Community.id) == col(MentorPairing.community_id))
        .where(
            or_(
                col(MentorPairing.mentor_id) == person_id,
                col(MentorPairing.mentee_id) == person_id,
            )
        )
        .order_by(col(MentorPairing.id))
    )
    checkins = await session.exec(
        select(MentorCheckin)
        .where(col(MentorCheckin.person_id) == person_id)
        .order_by(col(MentorCheckin.id))
    )
    return {
        "requests": [
            {"community": name, "status": str(r.status), "created_at": _iso(r.created_at)}
            for r, name in requests.all()
        ],
        # The other person of a pairing is not named: the export holds this person's data.
        "pairings": [
            {
                "community": name,
                "role": "mentor" if p.mentor_id == person_id else "mentee",
                "status": str(p.status),
                "goals": p.goals,
                "frequency": p.frequency,
                "duration_weeks": p.duration_weeks,
                "first_meeting_on": _iso(p.first_meeting_on),
                "created_at": _iso(p.created_at),
                "accepted_at": _iso(p.accepted_at),
                "ended_at": _iso(p.ended_at),
            }
            for p, name in pairings.all()
        ],
        "checkins": [
            {
                "moment": c.moment,
                "rating": c.rating,
                "comment": c.comment,
                "answered_at": _iso(c.answered_at),
            }
            for c in checkins.all()
        ],
    }


# -- erasure ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ErasureReport:
    """What one erasure changed, per kind of record (zeros on a second run)."""

    person_id: int
    found: bool = False
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    # Messages the erasure queued for others (consultations handed back): wake the dispatcher.
    queued: int = 0

    @property
    def changed(self) -> int:
        return sum(self.deleted.values()) + sum(self.anonymised.values())

    def _add(self, bucket: dict[str, int], name: str, result: Any) -> None:
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            bucket[name] = bucket.get(name, 0) + count


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def erase(
    session: AsyncSession,
    *,
    person_id: int,
    now: datetime,
    poll_key: bytes | None = None,
    respondent_key: bytes | None = None,
) -> ErasureReport:
    """Erase the person's data as the module docstring explains; touches no other person's
    rows except where they point at this person. Run it in one transaction; idempotent.

    `poll_key` / `respondent_key` (the keys anonymous ballots and answers are hashed with)
    let their open anonymous ballots and answers be found, and withdrawn."""
    report = ErasureReport(person_id=person_id)
    person = await session.get(Person, person_id)
    if person is None:
        return report
    report.found = True
    deleted, anonymised = report.deleted, report.anonymised
    teams_user_id = person.teams_user_id
    # Read before anything is erased: what named them, and what they wrote.
    marks = await _marks_of(session, person)

    async def run(bucket: dict[str, int], name: str, statement: Any) -> None:
        report._add(bucket, name, await session.execute(statement))

    # Memberships: no roles, no profile, ended; the dates stay for monthly counts.
    await run(
        anonymised,
        "memberships",
        update(Membership)
        .where(col(Membership.person_id) == person_id)
        .where(
            or_(
                col(Membership.left_at).is_(None),
                func.coalesce(col(Membership.discipline), "") != "",
                func.coalesce(col(Membership.establishment), "") != "",
                func.coalesce(col(Membership.region), "") != "",
                col(Membership.is_new_hire).is_(True),
                col(Membership.mentor_capacity).is_not(None),
                col(Membership.consultant_expertise).is_not(None),
                cast(col(Membership.roles), String) != "[]",
                cast(col(Membership.interests), String) != "[]",
            )
        )
        .values(
            roles=[],
            interests=[],
            discipline=None,
            establishment=None,
            region=None,
            is_new_hire=False,
            mentor_capacity=None,
            # SQL NULL, not JSON null (which IS NOT NULL): a second erasure then finds nothing.
            consultant_expertise=null(),
            left_at=func.coalesce(col(Membership.left_at), now),
        ),
    )
    # RSVPs to meetings still to come would announce a presence: delete them.
    upcoming = select(col(Meeting.id)).where(col(Meeting.starts_at) > now)
    await run(
        deleted,
        "rsvps",
        delete(Rsvp)
        .where(col(Rsvp.person_id) == person_id)
        .where(col(Rsvp.meeting_id).in_(upcoming.scalar_subquery())),
    )
    # Their topics stay in the community's bank by title; their words and name go.
    await run(
        anonymised,
        "topics_proposed",
        update(Topic)
        .where(col(Topic.proposed_by_id) == person_id)
        .values(proposed_by_id=None, description="", presenter=None),
    )
    if person.name:
        await _unname_presenters(session, report, name=person.name)
    # Ballots naming the person: withdrawn from open polls, made anonymous in closed ones.
    polls_of = select(col(Poll.id)).where(col(Poll.status) == PollStatus.OPEN)
    await run(
        deleted,
        "poll_ballots",
        delete(PollVote)
        .where(col(PollVote.person_id) == person_id)
        .where(col(PollVote.poll_id).in_(polls_of.scalar_subquery())),
    )
    await run(
        anonymised,
        "poll_ballots",
        update(PollVote)
        .where(col(PollVote.person_id) == person_id)
        .values(person_id=None, voter_key=literal(ERASED_PREFIX) + cast(col(PollVote.id), String)),
    )
    if poll_key is not None:
        await _withdraw_anonymous_ballots(session, report, person_id=person_id, key=poll_key)
    await _erase_mentoring(session, report, person_id=person_id, now=now)
    marks_deleted, unattributed = await toolbox.erase_person(session, person_id=person_id)
    if marks_deleted:
        deleted["resource_marks"] = marks_deleted
    if unattributed:
        anonymised["resources_shared"] = unattributed
    for name, count in (await cases.erase_presenter(session, person_id=person_id)).items():
        bucket = anonymised if name == "cases_anonymised" else deleted
        bucket[name] = bucket.get(name, 0) + count
    await _erase_questions(session, report, person_id=person_id)
    names_deleted, recorded = await productions.erase_person(session, person_id=person_id)
    if names_deleted:
        deleted["production_names"] = names_deleted
    if recorded:
        anonymised["productions_recorded"] = recorded
    await run(
        deleted,
        "onboarding",
        delete(OnboardingEnrollment).where(col(OnboardingEnrollment.person_id) == person_id),
    )
    if ticks := await onboarding.erase_person(session, person_id=person_id):
        deleted["onboarding_checks"] = ticks
    await _erase_consultations(session, report, person_id=person_id, now=now)
    # After the memberships ended: they are then no candidate for what they held.
    report.queued += await consultations.hand_back_all(session, person_id=person_id, now=now)
    # Survey invitations: kept for closed surveys (response rates), deleted for open ones.
    open_surveys = select(col(Survey.id)).where(col(Survey.closes_at) > now)
    if respondent_key is not None:
        await _withdraw_open_answers(
            session, report, person_id=person_id, key=respondent_key, now=now
        )
    await run(
        deleted,
        "survey_invitations",
        delete(SurveyInvitation)
        .where(col(SurveyInvitation.person_id) == person_id)
        .where(col(SurveyInvitation.survey_id).in_(open_surveys.scalar_subquery())),
    )
    # Codevelopment: private notes and seats go, future client turns are proposed again.
    codev_deleted, codev_anonymised = await codevelopment.erase_person(session, person_id=person_id)
    for name, number in codev_deleted.items():
        deleted[name] = deleted.get(name, 0) + number
    for name, number in codev_anonymised.items():
        anonymised[name] = anonymised.get(name, 0) + number
    # Mailing-list consent deleted; guests, support requests, partial presence unattributed.
    for name, number in (await admin_lists.erase_person(session, person_id=person_id)).items():
        bucket = deleted if name == "mailing_consent" else anonymised
        bucket[name] = bucket.get(name, 0) + number
    await _erase_messages_about(session, report, marks=marks, person_id=person_id)
    await _erase_conversations(session, report, person_id=person_id, teams_user_id=teams_user_id)
    if not is_erased(person):
        person.teams_user_id = f"{ERASED_PREFIX}{person_id}"
        person.aad_object_id = None
        person.tenant_id = None
        person.name = None
        person.locale = None
        person.preferred_locale = None
        person.consent_reminders = False
        person.consent_surveys = False
        person.last_seen_at = now
        session.add(person)
        await session.flush()
        anonymised["person"] = 1
    return report


async def _export_questions(session: AsyncSession, person_id: int) -> dict[str, Any]:
    found = await questions.export_person(session, person_id=person_id)
    return {"questions_asked": found["questions"], "question_answers": found["answers"]}


async def _erase_questions(session: AsyncSession, report: ErasureReport, *, person_id: int) -> None:
    """See the module docstring (« Questions to the community »); the cards to update or
    replace in the channel are queued (`report.queued`)."""
    erased = await questions.erase_person(session, person_id=person_id)
    for bucket, name, count in (
        (report.deleted, "questions_asked", erased.questions_deleted),
        (report.anonymised, "questions_asked", erased.questions_anonymised),
        (report.deleted, "question_answers", erased.answers_deleted),
        (report.anonymised, "question_answers", erased.answers_anonymised),
    ):
        if count:
            bucket[name] = bucket.get(name, 0) + count
    report.queued += erased.queued


async def _withdraw_anonymous_ballots(
    session: AsyncSession, report: ErasureReport, *, person_id: int, key: bytes
) -> None:
    """Their ballots in open anonymous polls are withdrawn, found by the keyed hash the poll
    gives them (storage/polls.py). Deleted rather than sealed: a lone sealed ballot in an open
    poll would tell anyone who knows who erased what that person chose."""
    # Locked as a vote locks them (storage/polls.py), so a ballot being dealt anew at this
    # moment is deleted once its vote commits, not missed under its new row.
    open_anonymous = (
        await session.exec(
            select(Poll)
            .where(col(Poll.status) == PollStatus.OPEN)
            .where(col(Poll.anonymous))
            .with_for_update()
        )
    ).all()
    keys = [polls.voter_key(poll, person_id=person_id, key=key) for poll in open_anonymous]
    if keys:
        report._add(
            report.deleted,
            "anonymous_ballots",
            await session.execute(delete(PollVote).where(col(PollVote.voter_key).in_(keys))),
        )


async def _withdraw_open_answers(
    session: AsyncSession, report: ErasureReport, *, person_id: int, key: bytes, now: datetime
) -> None:
    """Their answers to open surveys are withdrawn, found by the keyed hash the survey gives
    them (storage/surveys.py); deleted rather than sealed, as ballots above. Closed surveys'
    answers are sealed already: nothing finds them, and they stay."""
    invited = (
        await session.exec(
            select(col(SurveyInvitation.survey_id))
            .join(Survey, col(Survey.id) == col(SurveyInvitation.survey_id))
            .where(col(SurveyInvitation.person_id) == person_id)
            .where(col(Survey.closes_at) > now)
            # Locked as an answer locks it (storage/surveys.py), as for ballots above.
            .with_for_update(of=Survey)
        )
    ).all()
    keys = [
        surveys.respondent_key(key, survey_id=survey_id, person_id=person_id)
        for survey_id in invited
    ]
    if keys:
        report._add(
            report.deleted,
            "survey_answers",
            await session.execute(
                delete(SurveyResponse).where(col(SurveyResponse.respondent_key).in_(keys))
            ),
        )


async def _erase_mentoring(
    session: AsyncSession, report: ErasureReport, *, person_id: int, now: datetime
) -> None:
    deleted, anonymised = report.deleted, report.anonymised
    report._add(
        deleted,
        "checkins",
        await session.execute(
            delete(MentorCheckin).where(col(MentorCheckin.person_id) == person_id)
        ),
    )
    involved = or_(
        col(MentorPairing.mentor_id) == person_id, col(MentorPairing.mentee_id) == person_id
    )
    # The other person's check-ins on a pairing with them: the rating stays theirs (and counts),
    # the comment, which is about the pairing with someone now erased, goes.
    report._add(
        anonymised,
        "checkin_comments",
        await session.execute(
            update(MentorCheckin)
            .where(col(MentorCheckin.comment).is_not(None))
            .where(
                col(MentorCheckin.pairing_id).in_(
                    select(col(MentorPairing.id)).where(involved).scalar_subquery()
                )
            )
            .values(comment=None)
        ),
    )
    unaccepted = (
        await session.exec(
            select(col(MentorPairing.id))
            .where(involved)
            .where(col(MentorPairing.status).not_in(_ACCEPTED_PAIRING))
        )
    ).all()
    if unaccepted:
        # Check-ins exist only for accepted pairings; this is belt and braces for the FK.
        await session.execute(
            delete(MentorCheckin).where(col(MentorCheckin.pairing_id).in_(unaccepted))
        )
        report._add(
            deleted,
            "pairings",
            await session.execute(
                delete(MentorPairing).where(col(MentorPairing.id).in_(unaccepted))
            ),
        )
    report._add(
        anonymised,
        "pairings",
        await session.execute(
            update(MentorPairing)
            .where(involved)
            .where(
                or_(
                    col(MentorPairing.status) == PairingStatus.ACTIVE,
                    col(MentorPairing.goals) != "",
                    col(MentorPairing.frequency) != "",
                    col(MentorPairing.reason) != "",
                    col(MentorPairing.first_meeting_on).is_not(None),
                )
            )
            .values(
                status=PairingStatus.ENDED,
                ended_at=func.coalesce(col(MentorPairing.ended_at), now),
                goals="",
                frequency="",
                reason="",
                first_meeting_on=None,
            )
        ),
    )
    kept_requests = select(col(MentorPairing.request_id))
    report._add(
        deleted,
        "mentor_requests",
        await session.execute(
            delete(MentorRequest)
            .where(col(MentorRequest.mentee_id) == person_id)
            .where(col(MentorRequest.id).not_in(kept_requests.scalar_subquery()))
        ),
    )
    # Requests kept because an accepted pairing points at them are no longer open.
    report._add(
        anonymised,
        "mentor_requests",
        await session.execute(
            update(MentorRequest)
            .where(col(MentorRequest.mentee_id) == person_id)
            .where(col(MentorRequest.status) == MentorRequestStatus.OPEN)
            .values(status=MentorRequestStatus.CANCELLED)
        ),
    )


async def _erase_consultations(
    session: AsyncSession, report: ErasureReport, *, person_id: int, now: datetime
) -> None:
    requests = (
        await session.exec(
            select(ConsultationRequest)
            .where(col(ConsultationRequest.requester_id) == person_id)
            .where(
                or_(
                    col(ConsultationRequest.summary).is_not(None),
                    col(ConsultationRequest.availability).is_not(None),
                    col(ConsultationRequest.usefulness_comment).is_not(None),
                    col(ConsultationRequest.status).in_(_OPEN_CONSULTATION),
                )
            )
        )
    ).all()
    for request in requests:
        if request.status in _OPEN_CONSULTATION:
            request.status = ConsultationStatus.WITHDRAWN
            request.closed_at = now
            session.add(
                ConsultationEvent(
                    request_id=request.id or 0,
                    actor_id=person_id,
                    action=Action.WITHDRAWN.value,
                    detail=ERASED_DETAIL,
                    at=now,
                )
            )
        request.summary = None
        request.availability = None
        request.usefulness_comment = None
        request.summary_erased_at = request.summary_erased_at or now
        session.add(request)
        session.add(
            ConsultationEvent(
                request_id=request.id or 0,
                actor_id=person_id,
                action=Action.SUMMARY_ERASED.value,
                detail=ERASED_DETAIL,
                at=now,
            )
        )
    if requests:
        report.anonymised["consultations"] = len(requests)
        await session.flush()


@dataclass(frozen=True, slots=True)
class _Marks:
    """What identifies the person in a text: their name, ids, and what they wrote."""

    name: str | None
    ids: tuple[str, ...]
    texts: tuple[str, ...]

    def in_text(self, text: str) -> bool:
        return (
            any(found in text for found in self.ids)
            or (self.name is not None and _names(text, self.name))
            or any(_copied(text, written) for written in self.texts)
        )

    def in_value(self, value: object) -> bool:
        """Anywhere in a JSON value (an outbox message's parameters)."""
        if isinstance(value, str):
            return self.in_text(value)
        if isinstance(value, dict):
            return any(self.in_value(item) for item in value.values())
        if isinstance(value, list):
            return any(self.in_value(item) for item in value)
        return False

    def needles(self) -> list[str]:
        """Substrings of every text holding a mark as the bot writes it (to narrow a scan in
        SQL before `in_value` decides)."""
        found = [*self.ids, *(written[:_COPY_PREFIX] for written in self.texts)]
        return found + ([self.name] if self.name else [])


# Shorter texts (« Oui », « Merci ») could be anyone's: they mark nothing.
_SHORTEST_MARK = 8
# A copy of what they wrote may be cut short (a notice keeps the first 500 characters of a
# comment); this much of a text is enough to tell it is theirs.
_COPY_PREFIX = 20


def _copied(text: str, written: str) -> bool:
    text = text.strip()
    return text == written or (len(text) >= _COPY_PREFIX and written.startswith(text))


def _names(text: str, name: str) -> bool:
    """Whether `text` names the person: the whole name, or for a name of several words, the
    name as words within it (« Hélène Roy, t.s. »). A one-word name must match whole: « Marie »
    is no reason to touch « Maison Marie-Victorin »."""
    name = " ".join(name.split()).casefold()
    text = " ".join(text.split()).casefold()
    if not name:
        return False
    if " " not in name:
        return text == name
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


async def _marks_of(session: AsyncSession, person: Person) -> _Marks:
    person_id = person.id or 0
    written: list[str | None] = []
    written += (
        await session.exec(
            select(col(OnboardingEnrollment.checkin_comment)).where(
                col(OnboardingEnrollment.person_id) == person_id
            )
        )
    ).all()
    written += (
        await session.exec(
            select(col(MentorCheckin.comment)).where(col(MentorCheckin.person_id) == person_id)
        )
    ).all()
    written += (
        await session.exec(
            select(col(Topic.description)).where(col(Topic.proposed_by_id) == person_id)
        )
    ).all()
    for summary, availability, comment in (
        await session.exec(
            select(
                col(ConsultationRequest.summary),
                col(ConsultationRequest.availability),
                col(ConsultationRequest.usefulness_comment),
            ).where(col(ConsultationRequest.requester_id) == person_id)
        )
    ).all():
        written += [summary, availability, comment]
    erased = is_erased(person)
    ids = () if erased else (person.teams_user_id, *filter(None, [person.aad_object_id]))
    return _Marks(
        name=None if erased else (person.name or None),
        ids=tuple(ids),
        texts=tuple(
            dict.fromkeys(
                text.strip() for text in written if text and len(text.strip()) >= _SHORTEST_MARK
            )
        ),
    )


async def _unname_presenters(session: AsyncSession, report: ErasureReport, *, name: str) -> None:
    """Presenters written as free text (« Hélène Roy, CISSS de Laval ») on topics and
    agendas: the ones naming them are cleared."""
    for table in (Topic, AgendaItem):
        rows = (
            await session.exec(
                select(col(table.id), col(table.presenter)).where(col(table.presenter).is_not(None))
            )
        ).all()
        named = [row_id for row_id, presenter in rows if presenter and _names(presenter, name)]
        if named:
            report._add(
                report.anonymised,
                "presenters",
                await session.execute(
                    update(table).where(col(table.id).in_(named)).values(presenter=None)
                ),
            )


async def _erase_messages_about(
    session: AsyncSession, report: ErasureReport, *, marks: _Marks, person_id: int
) -> None:
    """Messages to others that name them or repeat what they wrote (a newcomer announced to
    the animators, with their check-in comment): those still to send are not sent, the
    history keeps the kind, status, recipient and dates only."""
    needles = marks.needles()
    if not needles:
        return
    text = cast(col(OutboxMessage.params), Text)
    # JSON may be stored with non-ASCII letters escaped (« \u00e9 ») or not: look for both.
    forms = {form for needle in needles for form in (needle, json.dumps(needle)[1:-1])}
    candidates = (
        await session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.person_id).is_distinct_from(person_id))
            .where(or_(*(text.contains(form, autoescape=True) for form in forms)))
        )
    ).all()
    about = [m for m in candidates if marks.in_value(m.params)]
    live = [m.id for m in about if m.status in _LIVE_OUTBOX]
    kept = [m.id for m in about if m.status not in _LIVE_OUTBOX]
    if live:
        report._add(
            report.deleted,
            "messages_about",
            await session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(live))),
        )
    if kept:
        report._add(
            report.anonymised,
            "messages_about",
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(kept))
                .values(
                    params={},
                    last_error=None,
                    dedup_key=literal(ERASED_PREFIX) + cast(col(OutboxMessage.id), String),
                )
            ),
        )


async def _erase_conversations(
    session: AsyncSession, report: ErasureReport, *, person_id: int, teams_user_id: str
) -> None:
    deleted, anonymised = report.deleted, report.anonymised
    refs: Sequence[ConversationRef] = (
        await session.exec(
            select(ConversationRef).where(col(ConversationRef.person_id) == person_id)
        )
    ).all()
    ref_ids = [ref.id for ref in refs if ref.id is not None]
    live = col(OutboxMessage.status).in_(_LIVE_OUTBOX)
    to_them = col(OutboxMessage.person_id) == person_id
    if ref_ids:
        to_them = or_(to_them, col(OutboxMessage.conversation_ref_id).in_(ref_ids))
    report._add(
        deleted, "messages", await session.execute(delete(OutboxMessage).where(to_them).where(live))
    )
    # History: kind, status and dates stay (delivery counts); nothing else about the message.
    report._add(
        anonymised,
        "messages",
        await session.execute(
            update(OutboxMessage)
            .where(to_them)
            .where(
                or_(
                    col(OutboxMessage.conversation_ref_id).is_not(None),
                    col(OutboxMessage.conversation_id).is_not(None),
                    col(OutboxMessage.activity_id).is_not(None),
                    col(OutboxMessage.last_error).is_not(None),
                    ~col(OutboxMessage.dedup_key).startswith(ERASED_PREFIX),
                )
            )
            .values(
                person_id=person_id,
                conversation_ref_id=None,
                params={},
                conversation_id=None,
                activity_id=None,
                last_error=None,
                dedup_key=literal(ERASED_PREFIX) + cast(col(OutboxMessage.id), String),
            )
        ),
    )
    state_keys: list[Any] = []
    if not teams_user_id.startswith(ERASED_PREFIX):
        user = _like_escape(teams_user_id)
        state_keys += [
            col(BotState.key).like(f"%/users/{user}", escape="\\"),
            col(BotState.key).like(f"%/users/{user}/%", escape="\\"),
        ]
        # Keys too long to keep are stored as a hash (storage/state_store.py), which no
        # pattern finds: their private state in every conversation the bot knows, by name.
        # (Channels and group chats, and their own chat: others' chats hold none of theirs.)
        conversations = (
            await session.exec(
                select(col(ConversationRef.channel_id), col(ConversationRef.conversation_id)).where(
                    or_(
                        col(ConversationRef.person_id).is_(None),
                        col(ConversationRef.person_id) == person_id,
                    )
                )
            )
        ).all()
        full_keys = {
            f"{channel}/conversations/{conversation}/users/{teams_user_id}{end}"
            for channel, conversation in conversations
            for end in ("", "/")  # the private state's key ends with "/"
        }
        hashed = {stored_key(key) for key in full_keys} - full_keys
        if hashed:
            state_keys.append(col(BotState.key).in_(hashed))
    if refs:
        # Claims of activities in their chat: the keys hold its conversation id.
        report._add(
            deleted,
            "processed_activities",
            await session.execute(
                delete(ProcessedActivity).where(
                    or_(
                        *(
                            col(ProcessedActivity.activity_key).startswith(
                                activity_key(conversation_id=ref.conversation_id, activity_id=""),
                                autoescape=True,
                            )
                            for ref in refs
                        )
                    )
                )
            ),
        )
    if ref_ids:
        # Cards the bot posted in the person's own chat (a poll or agenda shown there).
        await session.execute(
            update(Meeting)
            .where(col(Meeting.conversation_ref_id).in_(ref_ids))
            .values(conversation_ref_id=None, activity_id=None)
        )
        await session.execute(
            update(Poll)
            .where(col(Poll.conversation_ref_id).in_(ref_ids))
            .values(conversation_ref_id=None, activity_id=None)
        )
        # Copies of agenda cards shown in that chat (`ordre du jour`): kept current while the
        # chat exists, they go with it.
        await session.execute(
            delete(MeetingCard).where(col(MeetingCard.conversation_ref_id).in_(ref_ids))
        )
        for ref in refs:
            prefix = f"{ref.channel_id}/conversations/{ref.conversation_id}"
            state_keys += [
                col(BotState.key) == stored_key(prefix),
                col(BotState.key).like(f"{_like_escape(prefix)}/%", escape="\\"),
            ]
        report._add(
            deleted,
            "conversations",
            await session.execute(
                delete(ConversationRef).where(col(ConversationRef.id).in_(ref_ids))
            ),
        )
    if state_keys:
        report._add(
            deleted, "bot_state", await session.execute(delete(BotState).where(or_(*state_keys)))
        )
    await session.flush()


__all__ = [
    "ERASED_PREFIX",
    "ConsultationFact",
    "ErasureReport",
    "MembershipFact",
    "PersonalData",
    "erase",
    "export",
    "inventory",
    "is_erased",
]
