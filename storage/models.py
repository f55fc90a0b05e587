"""Tables. SQLModel classes; Alembic owns the schema (see storage/migrations)."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    # Always timezone-aware, always UTC in the database (see storage/types.py).
    return Column(UtcDateTime(), nullable=nullable, index=index)


class ConversationScope(enum.StrEnum):
    PERSONAL = "personal"
    CHANNEL = "channel"
    GROUP_CHAT = "groupChat"


class Role(enum.StrEnum):
    MEMBER = "member"
    ANIMATOR = "animator"
    COORDINATOR = "coordinator"
    MENTOR = "mentor"
    SPONSOR = "sponsor"
    ADMIN_SUPPORT = "admin_support"


class MeetingMode(enum.StrEnum):
    IN_PERSON = "in_person"
    VIRTUAL = "virtual"
    HYBRID = "hybrid"


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("teams_user_id", name="uq_person_teams_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # Teams user ids (29:…) are per bot; the AAD object id is the stable identity in the tenant.
    teams_user_id: str = Field(max_length=255)
    aad_object_id: str | None = Field(default=None, max_length=64, index=True)
    tenant_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=255)
    # Locale last seen on the person's activities, and the one they chose with `langue`.
    locale: str | None = Field(default=None, max_length=16)
    preferred_locale: str | None = Field(default=None, max_length=16)
    consent_reminders: bool = Field(default=False)
    consent_surveys: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ConversationRef(SQLModel, table=True):
    """Where the bot can write on its own: enough to rebuild a ConversationReference."""

    __tablename__ = "conversation_ref"
    __table_args__ = (UniqueConstraint("conversation_id", name="uq_conversation_ref_conv"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=512)
    # Enums are stored as their plain values (no database enum types to migrate).
    scope: ConversationScope = Field(sa_type=String(16))
    service_url: str = Field(max_length=512)
    channel_id: str = Field(default="msteams", max_length=32)
    tenant_id: str | None = Field(default=None, max_length=64)
    bot_id: str | None = Field(default=None, max_length=255)
    bot_name: str | None = Field(default=None, max_length=255)
    # personal chats belong to one person; channels to a team channel
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    team_id: str | None = Field(default=None, max_length=255)
    teams_channel_id: str | None = Field(default=None, max_length=255)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Community(SQLModel, table=True):
    __tablename__ = "community"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    domain: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    objectives: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    theme: str = Field(default="", max_length=500)
    audience: str = Field(default="", max_length=500)
    cadence: str = Field(default="", max_length=200)
    usual_mode: MeetingMode = Field(default=MeetingMode.HYBRID, sa_type=String(16))
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tenant_id: str | None = Field(default=None, max_length=64)
    team_id: str | None = Field(default=None, max_length=255, index=True)
    teams_channel_id: str | None = Field(default=None, max_length=255, unique=True)
    # reminder offsets, survey k-threshold, onboarding plan…
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("person_id", "community_id", name="uq_membership_person_community"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    discipline: str | None = Field(default=None, max_length=120)
    establishment: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=120)
    interests: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_new_hire: bool = Field(default=False)
    # Set when the member volunteers as a mentor: how many mentees at once.
    mentor_capacity: int | None = Field(default=None)
    # Set when the member volunteers as a consultant: the areas they can help with.
    consultant_expertise: list[str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    joined_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    left_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class BotState(SQLModel, table=True):
    """Dialog, conversation and user state for botbuilder (see storage/state_store.py)."""

    __tablename__ = "bot_state"

    key: str = Field(primary_key=True, max_length=512)
    data: str = Field(sa_column=Column(Text, nullable=False))
    etag: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ProcessedActivity(SQLModel, table=True):
    """Activities already taken: Teams re-sends an activity when a turn is slow or failed.

    A claim is a lease while its turn runs (`lease_until` renewed by the holder's heartbeat),
    and final once the turn's work is done (`lease_until` NULL): a re-delivery waits for a
    live claim, takes over an expired one (its process died) and ignores a final one. A claim
    in progress also holds its sender's turn in the conversation (`turn_key`, unique among
    claims in progress), so one person's turns there run one at a time across replicas."""

    __tablename__ = "processed_activity"
    __table_args__ = (
        Index(
            "uq_processed_activity_turn",
            "turn_key",
            unique=True,
            sqlite_where=text("lease_until IS NOT NULL"),
            postgresql_where=text("lease_until IS NOT NULL"),
        ),
    )

    activity_key: str = Field(primary_key=True, max_length=600)
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The bot process holding the claim, so that only it renews it or marks it done.
    owner: str | None = Field(default=None, max_length=64)
    # A hash of the conversation and sender ids (the row names nobody by it); cleared once done.
    turn_key: str | None = Field(default=None, max_length=64)


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    DONE = "done"


class RsvpAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    # One meeting per planning draft: a second publish of the same draft finds the first.
    __table_args__ = (Index("uq_meeting_draft_key", "draft_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    title: str = Field(default="", max_length=200)
    starts_at: datetime = Field(sa_column=_ts(index=True))
    ends_at: datetime = Field(sa_column=_ts())
    mode: MeetingMode = Field(default=MeetingMode.HYBRID, sa_type=String(16))
    place: str | None = Field(default=None, max_length=300)
    online_link: str | None = Field(default=None, max_length=1000)
    status: MeetingStatus = Field(default=MeetingStatus.SCHEDULED, sa_type=String(16))
    general_objective: str = Field(
        default="", sa_column=Column(String(1000), nullable=False, server_default="")
    )
    specific_objectives: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    # Where the agenda card was posted, to update it in place (RSVP counts, changes).
    conversation_ref_id: int | None = Field(default=None, foreign_key="conversation_ref.id")
    activity_id: str | None = Field(default=None, max_length=255)
    attendance_confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    draft_key: str | None = Field(default=None, max_length=64)
    # The calendar invitation's SEQUENCE (RFC 5545): one more at each move, cancel or restore.
    sequence: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class MeetingCard(SQLModel, table=True):
    """Every posted copy of a meeting's agenda card (the published one, those shown again by
    `ordre du jour`), so that all of them show current counts."""

    __tablename__ = "meeting_card"
    __table_args__ = (
        UniqueConstraint("conversation_ref_id", "activity_id", name="uq_meeting_card_activity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    conversation_ref_id: int = Field(foreign_key="conversation_ref.id")
    activity_id: str = Field(max_length=255)
    locale: str = Field(max_length=16)
    posted_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CohostStatus(enum.StrEnum):
    INVITED = "invited"  # asked; nothing shows in the co-host's channel until a yes
    ACCEPTED = "accepted"  # a joint meeting: posted, reminded and counted in both communities
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # the co-host (or the host) ended it before the meeting


class MeetingCohost(SQLModel, table=True):
    """A community invited to co-host another community's meeting (a joint meeting, the seeds'
    « réalisées conjointement »). One row per meeting and community; a new invitation after a
    refusal or a withdrawal reuses it (`round` tells the invitations apart in outbox keys)."""

    __tablename__ = "meeting_cohost"
    __table_args__ = (UniqueConstraint("meeting_id", "community_id", name="uq_meeting_cohost"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    status: CohostStatus = Field(default=CohostStatus.INVITED, sa_type=String(16))
    round: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    invited_by_id: int | None = Field(default=None, foreign_key="person.id")
    invited_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    answered_by_id: int | None = Field(default=None, foreign_key="person.id")
    answered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Rsvp(SQLModel, table=True):
    __tablename__ = "rsvp"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id", name="uq_rsvp_meeting_person"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    answer: RsvpAnswer = Field(sa_type=String(8))
    answered_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for not_before (or a retry)
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"  # 403/404: app removed, person gone
    DEAD = "dead"  # gave up after the maximum attempts, or refused by the connector
    CANCELLED = "cancelled"  # no longer relevant (meeting cancelled, person left)


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own. Rendered at send time from `kind` + `params`, in
    the recipient's language and from current data. Kept after sending as the delivery
    history (who was sent what, when) until the retention period ends."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_outbox_dedup_key"),
        # The dispatcher's question: what is due now?
        Index("ix_outbox_due", "status", "not_before"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=300)
    kind: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Exactly one of: a person (their 1:1 chat, created if needed) or a known conversation.
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    conversation_ref_id: int | None = Field(default=None, foreign_key="conversation_ref.id")
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=String(16))
    not_before: datetime = Field(sa_column=_ts())
    attempts: int = Field(default=0)
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    lease_owner: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))
    # Where it went and the id Teams gave it (to update the message in place later).
    conversation_id: str | None = Field(default=None, max_length=512)
    activity_id: str | None = Field(default=None, max_length=255)


class OnboardingEnrollment(SQLModel, table=True):
    """A newcomer following a community's onboarding plan (steps go through the outbox)."""

    __tablename__ = "onboarding_enrollment"
    __table_args__ = (
        UniqueConstraint("community_id", "person_id", name="uq_onboarding_community_person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    source: str = Field(max_length=32)  # "team_join" or "join_dialog"
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    stopped_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    checkin_rating: int | None = Field(default=None)
    checkin_comment: str | None = Field(default=None, max_length=1000)
    checkin_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class OnboardingCheck(SQLModel, table=True):
    """A checklist item of an onboarding step that a newcomer ticked (storage/onboarding.py).

    Keyed by the item's stable id, not its position: a facilitator rewording or reordering the
    checklist leaves ticks where they were. Unique, so a double click is one row."""

    __tablename__ = "onboarding_check"
    __table_args__ = (
        UniqueConstraint(
            "community_id", "person_id", "step", "item_id", name="uq_onboarding_check"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    step: str = Field(max_length=32)
    item_id: str = Field(max_length=16)
    checked_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MentorRequestStatus(enum.StrEnum):
    OPEN = "open"
    PAIRED = "paired"
    CANCELLED = "cancelled"


class PairingStatus(enum.StrEnum):
    PROPOSED = "proposed"  # confirmed by a coordinator or animator, waiting for the mentor
    ACTIVE = "active"
    DECLINED = "declined"  # the mentor said no: never suggested again to this mentee
    # The mentor did not answer in time: never proposed again for that request.
    EXPIRED = "expired"
    ENDED = "ended"  # also a proposal withdrawn (the request was withdrawn meanwhile)


class MentorRequest(SQLModel, table=True):
    __tablename__ = "mentor_request"
    __table_args__ = (
        # One open request per newcomer and community, even if two taps arrive together.
        Index(
            "uq_mentor_request_open",
            "community_id",
            "mentee_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    status: MentorRequestStatus = Field(default=MentorRequestStatus.OPEN, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MentorPairing(SQLModel, table=True):
    """A mentoring agreement (jumelage): who, why this mentor, and the terms."""

    __tablename__ = "mentor_pairing"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="mentor_request.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    mentor_id: int = Field(foreign_key="person.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    status: PairingStatus = Field(default=PairingStatus.PROPOSED, sa_type=String(16))
    # Transparency: why this mentor was suggested, and who confirmed.
    reason: str = Field(default="", max_length=300)
    confirmed_by_id: int | None = Field(default=None, foreign_key="person.id")
    goals: str = Field(default="", max_length=1000)
    frequency: str = Field(default="", max_length=200)
    duration_weeks: int = Field(default=12)
    first_meeting_on: date | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class MentorCheckin(SQLModel, table=True):
    """How a pairing is going, asked at half-term and at the end (kept for the coordinators)."""

    __tablename__ = "mentor_checkin"
    __table_args__ = (
        UniqueConstraint("pairing_id", "person_id", "moment", name="uq_mentor_checkin"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="mentor_pairing.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    moment: str = Field(max_length=8)  # "half" or "end"
    rating: int
    comment: str | None = Field(default=None, max_length=1000)
    answered_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Volet(enum.StrEnum):
    """The parts of a meeting day (DOMAIN.md, "Meetings and agendas")."""

    FORMATIVE = "formative"  # volet formatif
    EXCHANGE = "exchange"  # volet d'échange
    REFLECTIVE = "reflective"  # volet réflexif (complex case discussion)
    LOGISTICS = "logistics"  # accueil, fin
    MEAL = "meal"  # repas, pause: not counted in continuing-education hours


class TopicStatus(enum.StrEnum):
    PROPOSED = "proposed"
    SHORTLISTED = "shortlisted"
    SCHEDULED = "scheduled"
    DONE = "done"
    DECLINED = "declined"


class Topic(SQLModel, table=True):
    """An entry of the community's topic bank (banque de sujets)."""

    __tablename__ = "topic"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    title: str = Field(max_length=120)
    description: str = Field(default="", max_length=2000)
    kind: Volet = Field(default=Volet.FORMATIVE, sa_type=String(16))
    presenter: str | None = Field(default=None, max_length=200)
    proposed_by_id: int | None = Field(default=None, foreign_key="person.id")
    # The proposer may ask that their name not be shown; animators still see it.
    hide_proposer: bool = Field(default=False)
    status: TopicStatus = Field(default=TopicStatus.PROPOSED, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    status_changed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class TopicVote(SQLModel, table=True):
    __tablename__ = "topic_vote"
    __table_args__ = (UniqueConstraint("topic_id", "person_id", name="uq_topic_vote"),)

    id: int | None = Field(default=None, primary_key=True)
    topic_id: int = Field(foreign_key="topic.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class PollStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Poll(SQLModel, table=True):
    __tablename__ = "poll"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    question: str = Field(max_length=300)
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    multiple: bool = Field(default=False)
    anonymous: bool = Field(default=False)
    closes_at: datetime = Field(sa_column=_ts(index=True))
    status: PollStatus = Field(default=PollStatus.OPEN, sa_type=String(8))
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    # Where the poll card was posted, to update it in place as votes arrive.
    conversation_ref_id: int | None = Field(default=None, foreign_key="conversation_ref.id")
    activity_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class PollVote(SQLModel, table=True):
    """One ballot per voter. For an anonymous poll the voter is a keyed hash, never a person
    id, so no query, export or log can tie a choice to someone; it has no time either, and its
    rows are dealt anew at every vote (storage/anonymity.py), so neither ids nor row order
    follow the order of voting."""

    __tablename__ = "poll_vote"
    __table_args__ = (UniqueConstraint("poll_id", "voter_key", name="uq_poll_vote_voter"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    voter_key: str = Field(max_length=128)
    person_id: int | None = Field(default=None, foreign_key="person.id")  # None if anonymous
    choices: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Named ballots only (the monthly "active members"); None for an anonymous ballot, whose
    # time could be matched with the voter's other traces (last_seen_at, logs).
    voted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AgendaItem(SQLModel, table=True):
    __tablename__ = "agenda_item"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    position: int
    starts_at: datetime = Field(sa_column=_ts())
    title: str = Field(max_length=200)
    volet: Volet = Field(default=Volet.LOGISTICS, sa_type=String(16))
    presenter: str | None = Field(default=None, max_length=200)
    topic_id: int | None = Field(default=None, foreign_key="topic.id")


class Attendance(SQLModel, table=True):
    """Who attended a meeting and for how long (for attestations de présence)."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "person_id", name="uq_attendance_meeting_person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    minutes: int
    confirmed_by_id: int | None = Field(default=None, foreign_key="person.id")
    confirmed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ConsultationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class ConsultationRequest(SQLModel, table=True):
    """A request for professional consultation. Its content (summary, availability) is
    confidential: requester, assignee and the community's coordinators only."""

    __tablename__ = "consultation_request"
    __table_args__ = (UniqueConstraint("reference", name="uq_consultation_reference"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32)
    community_id: int = Field(foreign_key="community.id", index=True)
    requester_id: int = Field(foreign_key="person.id", index=True)
    motive: str = Field(max_length=32)
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    urgency: str = Field(max_length=16)
    modality: str = Field(max_length=32)
    availability: str | None = Field(default=None, max_length=500)
    status: ConsultationStatus = Field(default=ConsultationStatus.SUBMITTED, sa_type=String(16))
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    # Transparency: whom the bot suggested and why, recorded with the request.
    suggested_assignee_id: int | None = Field(default=None, foreign_key="person.id")
    suggestion_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    assigned_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    usefulness_rating: int | None = Field(default=None)
    usefulness_comment: str | None = Field(default=None, max_length=1000)
    summary_erased_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ConsultationEvent(SQLModel, table=True):
    """The audit trail: who read or changed a request, and when (never its content)."""

    __tablename__ = "consultation_event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="consultation_request.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")  # None: the system
    action: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=300)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SurveyKind(enum.StrEnum):
    SATISFACTION = "satisfaction"
    NEEDS = "needs"
    # The yearly « ce qui a changé dans ma pratique » questionnaire (storage/surveys.py).
    LEARNING = "learning"


class Survey(SQLModel, table=True):
    __tablename__ = "survey"
    __table_args__ = (UniqueConstraint("meeting_id", "kind", name="uq_survey_meeting_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    kind: SurveyKind = Field(sa_type=String(16))
    opens_at: datetime = Field(sa_column=_ts())
    closes_at: datetime = Field(sa_column=_ts(index=True))
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    # Needs surveys list the topic bank's titles at the time they were opened.
    topic_choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # A satisfaction survey's items « cet objectif a été atteint »: the meeting's specific
    # objectives as worded when it opened, so that a later edit of the meeting never moves
    # answers to another objective.
    objectives: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SurveyInvitation(SQLModel, table=True):
    """Who was asked, and whether they answered (for the reminder and the response rate);
    never which answer is theirs."""

    __tablename__ = "survey_invitation"
    __table_args__ = (UniqueConstraint("survey_id", "person_id", name="uq_survey_invitation"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    answered: bool = Field(default=False)


class SurveyResponse(SQLModel, table=True):
    """An anonymous answer: keyed by a keyed hash of (survey, person), never the person; no
    time, not even the day, and rows dealt anew at every answer (storage/anonymity.py)."""

    __tablename__ = "survey_response"
    __table_args__ = (
        UniqueConstraint("survey_id", "respondent_key", name="uq_survey_response_respondent"),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    respondent_key: str = Field(max_length=128)
    ratings: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    texts: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


# -- Shared practice: the toolbox and questions to the community ---------------------------------


class ResourceKind(enum.StrEnum):
    """Kinds of toolbox resources; texts `toolbox.kind.<value>`."""

    CLINICAL_TOOL = "clinical_tool"
    GUIDE = "guide"
    ARTICLE = "article"
    TRAINING = "training"
    TEMPLATE = "template"
    OTHER = "other"


class ResourceVisibility(enum.StrEnum):
    COMMUNITY = "community"  # members of the community that shared it
    TENANT = "tenant"  # members of every community of the same tenant


class ResourceStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"  # by a facilitator
    WITHDRAWN = "withdrawn"  # by the person who shared it
    MERGED = "merged"  # into `merged_into_id`


class Resource(SQLModel, table=True):
    """An entry of a community's toolbox (boîte à outils). The link is shown, never fetched."""

    __tablename__ = "resource"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    tenant_id: str | None = Field(default=None, max_length=64, index=True)
    title: str = Field(max_length=200)
    url: str = Field(max_length=2000)
    kind: ResourceKind = Field(default=ResourceKind.OTHER, sa_type=String(16))
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    why: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    visibility: ResourceVisibility = Field(default=ResourceVisibility.COMMUNITY, sa_type=String(16))
    # None once the person who shared it is erased (the resource stays, without its author).
    shared_by_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    pinned: bool = Field(default=False)
    status: ResourceStatus = Field(default=ResourceStatus.ACTIVE, sa_type=String(16))
    merged_into_id: int | None = Field(default=None, foreign_key="resource.id")
    # A double click on « Partager » finds the row its first click made.
    request_key: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ResourceMark(SQLModel, table=True):
    """« Utile pour moi »: counted, never listed by person."""

    __tablename__ = "resource_mark"
    __table_args__ = (UniqueConstraint("resource_id", "person_id", name="uq_resource_mark"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    # For « the most useful resources of the month » in the monthly summary.
    marked_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


class QuestionStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"  # an answer was marked as the one that helped
    WITHDRAWN = "withdrawn"  # by the asker


class Question(SQLModel, table=True):
    """A question to the community, posted in its channel as a card."""

    __tablename__ = "question"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    # None once the asker is erased; kept while the question is anonymous so that the asker can
    # mark the answer that helped and withdraw it (never shown to others).
    asked_by_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    anonymous: bool = Field(default=False)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: QuestionStatus = Field(default=QuestionStatus.OPEN, sa_type=String(16))
    # Where the card was posted, to update it in place and to find replies in its thread.
    conversation_ref_id: int | None = Field(default=None, foreign_key="conversation_ref.id")
    activity_id: str | None = Field(default=None, max_length=255, index=True)
    asked_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    answered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    helpful_answer_id: int | None = Field(default=None)
    # Set when the facilitators were told it went unanswered (once).
    flagged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The toolbox entry the exchange became, if any.
    resource_id: int | None = Field(default=None, foreign_key="resource.id")
    request_key: str | None = Field(default=None, max_length=64, unique=True)


class QuestionAnswer(SQLModel, table=True):
    __tablename__ = "question_answer"
    __table_args__ = (
        UniqueConstraint("question_id", "activity_id", name="uq_question_answer_activity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", index=True)
    # None once the person who answered is erased (the answer stays for the asker and others).
    answered_by_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # The Teams activity it came from (a reply in the card's thread, or the card's own form):
    # the same activity delivered twice records one answer.
    activity_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# -- Codevelopment groups (Payette & Champagne) --------------------------------------------------


class CodevGroupStatus(enum.StrEnum):
    FORMING = "forming"  # invitations open
    STARTED = "started"  # the series is planned: the group is closed
    ENDED = "ended"


class CodevSeatStatus(enum.StrEnum):
    INVITED = "invited"
    MEMBER = "member"
    DECLINED = "declined"
    LAPSED = "lapsed"  # still unanswered when the group started
    LEFT = "left"


class CodevSessionStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class CodevGroup(SQLModel, table=True):
    """A stable, closed codevelopment group of 6 to 8 members and its facilitator."""

    __tablename__ = "codev_group"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=120)
    # None once the facilitator is erased (the group then needs a new one).
    facilitator_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    seats: int = Field(default=8)
    rhythm_weeks: int = Field(default=6)
    session_minutes: int = Field(default=180)
    status: CodevGroupStatus = Field(default=CodevGroupStatus.FORMING, sa_type=String(16))
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    # Where the session cards are posted (a channel or group chat), once the facilitator chose.
    conversation_ref_id: int | None = Field(default=None, foreign_key="conversation_ref.id")
    # A double click on « Créer » finds the group its first click made.
    request_key: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class CodevSeat(SQLModel, table=True):
    """An invitation to a group, and once accepted the member's seat."""

    __tablename__ = "codev_seat"
    __table_args__ = (UniqueConstraint("group_id", "person_id", name="uq_codev_seat"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="codev_group.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    status: CodevSeatStatus = Field(default=CodevSeatStatus.INVITED, sa_type=String(16))
    invited_by_id: int | None = Field(default=None, foreign_key="person.id")
    invited_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    answered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class CodevSession(SQLModel, table=True):
    """One session of a group's series; its client, and the facilitator's steps through it."""

    __tablename__ = "codev_session"
    __table_args__ = (UniqueConstraint("group_id", "number", name="uq_codev_session_number"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="codev_group.id", index=True)
    number: int
    starts_at: datetime = Field(sa_column=_ts(index=True))
    ends_at: datetime = Field(sa_column=_ts())
    place: str | None = Field(default=None, max_length=300)
    online_link: str | None = Field(default=None, max_length=1000)
    status: CodevSessionStatus = Field(default=CodevSessionStatus.PLANNED, sa_type=String(16))
    client_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    # A swap asked by the client: the volunteer who offered, waiting for the client's yes.
    swap_open: bool = Field(default=False)
    swap_volunteer_id: int | None = Field(default=None, foreign_key="person.id")
    # 0 before it starts, 1 to 6 during, 7 once over; `step_started` holds when each step
    # began (ISO strings, in order) and the end: the time spent is computed from them.
    step: int = Field(default=0)
    step_started: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    conversation_ref_id: int | None = Field(default=None, foreign_key="conversation_ref.id")
    activity_id: str | None = Field(default=None, max_length=255)
    attendance_confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class CodevPrivateNote(SQLModel, table=True):
    """What only its author reads: the client's action plan and follow-up answer, or a member's
    learning notes (step 6). Never shown to anyone else, exported, erased with the person."""

    __tablename__ = "codev_private_note"
    __table_args__ = (
        UniqueConstraint("session_id", "person_id", "kind", name="uq_codev_private_note"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="codev_session.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=16)  # "plan", "followup", "learning"
    text: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CodevAttendance(SQLModel, table=True):
    """Who attended a session and for how long (counted in attestations like meetings)."""

    __tablename__ = "codev_attendance"
    __table_args__ = (UniqueConstraint("session_id", "person_id", name="uq_codev_attendance"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="codev_session.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    minutes: int
    confirmed_by_id: int | None = Field(default=None, foreign_key="person.id")
    confirmed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# -- Complex-case discussions (the reflective part of a meeting) ---------------------------------


class CaseStatus(enum.StrEnum):
    """Where a submitted case stands; texts `cases.status.<value>`."""

    SUBMITTED = "submitted"  # waiting for the facilitators
    SCHEDULED = "scheduled"  # picked for a meeting's reflective part
    DISCUSSED = "discussed"  # the facilitator recorded the themes it raised
    RETURNED = "returned"  # sent back to the presenter with a message (to rework)
    DECLINED = "declined"  # not taken, with a message
    WITHDRAWN = "withdrawn"  # by the presenter


class CaseDiscussion(SQLModel, table=True):
    """A situation a member submits for a meeting's reflective part (discussion de cas
    complexe). Its texts were screened for client identifiers before they were saved;
    `screening` records, per text, the kinds spotted that the presenter confirmed identify
    no one."""

    __tablename__ = "case_discussion"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    # None once a presenter of a case already discussed is erased (the case stays by title).
    presenter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    title: str = Field(max_length=120)
    context: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    complexity: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    question: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    tried: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # The presenter agreed to be named on the agenda.
    name_shown: bool = Field(default=False)
    screening: dict[str, list[str]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    status: CaseStatus = Field(default=CaseStatus.SUBMITTED, sa_type=String(16))
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    # The facilitator who last decided (picked, returned, declined, recorded themes).
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    # The message that came with a return or a decline, for the presenter's view.
    facilitator_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The dialog's confirmation, once: a second « Soumettre » finds the first case.
    request_key: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    status_changed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    discussed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))


class CaseTheme(SQLModel, table=True):
    """A theme a case's discussion raised, as the facilitator wrote it (monthly counts)."""

    __tablename__ = "case_theme"
    __table_args__ = (UniqueConstraint("case_id", "theme", name="uq_case_theme"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_discussion.id", index=True)
    theme: str = Field(max_length=80)
    # The topic-bank entry the theme became (or already was), if any.
    topic_id: int | None = Field(default=None, foreign_key="topic.id")


class CaseTakeaway(SQLModel, table=True):
    """What the presenter takes away from the discussion: theirs alone (never in another
    person's view or export, nor in any log)."""

    __tablename__ = "case_takeaway"
    __table_args__ = (UniqueConstraint("case_id", name="uq_case_takeaway_case"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_discussion.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# -- A community's achievements: productions and objectives' status (the annual review) ----------


class ProductionKind(enum.StrEnum):
    """What a community produced; texts `review.kind.<value>`."""

    TOOL = "tool"
    GUIDE = "guide"
    CLINICAL_PROJECT = "clinical_project"
    POSITION = "position"
    TRAINING = "training"
    OTHER = "other"


class Production(SQLModel, table=True):
    """An entry of the community's register of productions, recorded by a facilitator."""

    __tablename__ = "production"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    title: str = Field(max_length=200)
    kind: ProductionKind = Field(default=ProductionKind.OTHER, sa_type=String(24))
    produced_on: date = Field(index=True)
    url: str | None = Field(default=None, max_length=2000)
    # None once the facilitator who recorded it is erased (the production stays).
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    # A double click on « Ajouter » finds the row its first click made.
    request_key: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ProductionContributor(SQLModel, table=True):
    """A person named as a contributor: only they add themselves (their consent), and they can
    take their name back; erased with them."""

    __tablename__ = "production_contributor"
    __table_args__ = (
        UniqueConstraint("production_id", "person_id", name="uq_production_contributor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    production_id: int = Field(foreign_key="production.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    consented_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ObjectiveState(enum.StrEnum):
    """Where a community objective stands at the year's review; texts `review.state.<value>`."""

    REACHED = "reached"
    IN_PROGRESS = "in_progress"
    DROPPED = "dropped"


class ObjectiveReview(SQLModel, table=True):
    """One objective of the charter (its text when reviewed), its status for a year, and the
    facilitators' comment."""

    __tablename__ = "objective_review"
    __table_args__ = (
        UniqueConstraint("community_id", "year", "objective", name="uq_objective_review"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    objective: str = Field(max_length=500)
    state: ObjectiveState = Field(sa_type=String(16))
    comment: str = Field(default="", max_length=1000)
    # None once the facilitator who set it is erased.
    set_by_id: int | None = Field(default=None, foreign_key="person.id")
    set_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MailingConsent(SQLModel, table=True):
    """A member's agreement to be listed with their e-mail on their communities' mailing lists
    (administrative support). Withdrawing deletes the row. The address is the one Teams gave
    (None when it gave none): nobody types another person's address."""

    __tablename__ = "mailing_consent"
    __table_args__ = (UniqueConstraint("person_id", name="uq_mailing_consent_person"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    email: str | None = Field(default=None, max_length=320)
    agreed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AttendancePartial(SQLModel, table=True):
    """Partial presence at a meeting: arrived late, left early (minutes). It applies to the
    attendance recorded before it (a person removed and added again is counted in full)."""

    __tablename__ = "attendance_partial"
    __table_args__ = (
        UniqueConstraint("meeting_id", "person_id", name="uq_attendance_partial_person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    late_minutes: int = Field(default=0)
    early_minutes: int = Field(default=0)
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MeetingGuest(SQLModel, table=True):
    """Someone at a meeting who is no member (a speaker, an intern): a name only, on the
    attendance sheet; never a person of the bot."""

    __tablename__ = "meeting_guest"
    __table_args__ = (UniqueConstraint("meeting_id", "name_key", name="uq_meeting_guest_name"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)  # the name folded: one guest however often typed
    kind: str = Field(default="other", max_length=16)  # speaker, intern, other
    added_by_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    added_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MentorSupportRequest(SQLModel, table=True):
    """A mentor asked the coordination for support with a pairing (one per click)."""

    __tablename__ = "mentor_support_request"
    __table_args__ = (UniqueConstraint("request_key", name="uq_mentor_support_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="mentor_pairing.id", index=True)
    mentor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    request_key: str = Field(max_length=64)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class MeetingSeries(SQLModel, table=True):
    """A year's meetings planned at once (« cinq rencontres par année »): its dates wait as
    drafts (SeriesDate) until a facilitator completes each into a meeting."""

    __tablename__ = "meeting_series"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    # A double click on « Créer la série » finds the series its first click made.
    request_key: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SeriesDate(SQLModel, table=True):
    """One date of a series: a draft meeting. It is planned once a meeting carries its draft
    key (the meeting form publishes a draft key once: storage/meetings.py plan_meeting)."""

    __tablename__ = "series_date"
    __table_args__ = (UniqueConstraint("series_id", "position", name="uq_series_date_position"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="meeting_series.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    position: int
    starts_at: datetime = Field(sa_column=_ts(index=True))
    ends_at: datetime = Field(sa_column=_ts())
    mode: MeetingMode = Field(default=MeetingMode.HYBRID, sa_type=String(16))
    place: str | None = Field(default=None, max_length=300)
    draft_key: str = Field(max_length=64, unique=True)


class DatePoll(SQLModel, table=True):
    """A poll whose options are meeting dates (`sondage de dates`): once it closes, the
    winning date is offered to the facilitators, ready to plan."""

    __tablename__ = "date_poll"

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", unique=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    # A double click on « Lancer le sondage » finds the poll its first click made.
    request_key: str = Field(max_length=64, unique=True)
    # [[start, end], …] as ISO 8601 instants, in the poll's option order.
    dates: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # When the winning date was queued for the channel (once).
    announced_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AgendaResource(SQLModel, table=True):
    """A toolbox resource a facilitator attached to an agenda item: its title, as a link, under
    the item on the agenda card and in the reminders (while the resource is active)."""

    __tablename__ = "agenda_resource"
    __table_args__ = (UniqueConstraint("agenda_item_id", "resource_id", name="uq_agenda_resource"),)

    id: int | None = Field(default=None, primary_key=True)
    # CASCADE: rewriting an agenda (storage/meetings.py) deletes its items, and their links.
    agenda_item_id: int = Field(foreign_key="agenda_item.id", ondelete="CASCADE", index=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    attached_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
