"""Which organisation (Microsoft Entra tenant) a record belongs to, and who may reach it.

A community belongs to the tenant it was set up in; everything inside it (meetings, polls,
surveys, topics, consultation and mentoring requests, pairings, resources, questions and their
answers, cases, codevelopment groups and their sessions, productions, planned dates, meeting
guests, agenda items) belongs to that tenant too. A
community without a tenant (the demo, local development) is open to every organisation. A
person belongs to the tenant they were last seen in.

Ids reach the bot in card data, which the sender controls: a person of one organisation can
post any number. The bot asks here, before acting, whether every id it was handed belongs to
the sender's organisation (or to none).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from storage.models import (
    AgendaItem,
    CaseDiscussion,
    CodevGroup,
    CodevSession,
    Community,
    ConsultationRequest,
    Meeting,
    MeetingGuest,
    MentorPairing,
    MentorRequest,
    Person,
    Poll,
    Production,
    Question,
    QuestionAnswer,
    Resource,
    SeriesDate,
    Survey,
    Topic,
)


class Owned(enum.StrEnum):
    """The kinds of records a card can name by id."""

    COMMUNITY = "community"
    MEETING = "meeting"
    POLL = "poll"
    SURVEY = "survey"
    TOPIC = "topic"
    CONSULTATION = "consultation"
    MENTOR_REQUEST = "mentor_request"
    PAIRING = "pairing"
    PERSON = "person"
    RESOURCE = "resource"
    QUESTION = "question"
    ANSWER = "answer"
    CASE = "case"
    CODEV_GROUP = "codev_group"
    CODEV_SESSION = "codev_session"
    PRODUCTION = "production"
    SERIES_DATE = "series_date"
    GUEST = "guest"
    AGENDA_ITEM = "agenda_item"


# Records that live inside a community, by the kind a card names them with: (id, community id).
_IN_COMMUNITY: dict[Owned, tuple[Any, Any]] = {
    Owned.MEETING: (Meeting.id, Meeting.community_id),
    Owned.POLL: (Poll.id, Poll.community_id),
    Owned.SURVEY: (Survey.id, Survey.community_id),
    Owned.TOPIC: (Topic.id, Topic.community_id),
    Owned.CONSULTATION: (ConsultationRequest.id, ConsultationRequest.community_id),
    Owned.MENTOR_REQUEST: (MentorRequest.id, MentorRequest.community_id),
    Owned.PAIRING: (MentorPairing.id, MentorPairing.community_id),
    Owned.RESOURCE: (Resource.id, Resource.community_id),
    Owned.QUESTION: (Question.id, Question.community_id),
    Owned.CASE: (CaseDiscussion.id, CaseDiscussion.community_id),
    Owned.CODEV_GROUP: (CodevGroup.id, CodevGroup.community_id),
    Owned.PRODUCTION: (Production.id, Production.community_id),
    Owned.SERIES_DATE: (SeriesDate.id, SeriesDate.community_id),
}
# Records one step further in: (id, the record it belongs to, the kind of that record).
_THROUGH: dict[Owned, tuple[Any, Any, Owned]] = {
    Owned.ANSWER: (QuestionAnswer.id, QuestionAnswer.question_id, Owned.QUESTION),
    Owned.CODEV_SESSION: (CodevSession.id, CodevSession.group_id, Owned.CODEV_GROUP),
    Owned.GUEST: (MeetingGuest.id, MeetingGuest.meeting_id, Owned.MEETING),
    Owned.AGENDA_ITEM: (AgendaItem.id, AgendaItem.meeting_id, Owned.MEETING),
}


def _tenant_of(kind: Owned, record_id: int) -> SelectOfScalar[str | None]:
    if kind is Owned.PERSON:
        return select(col(Person.tenant_id)).where(col(Person.id) == record_id)
    if kind is Owned.COMMUNITY:
        return select(col(Community.tenant_id)).where(col(Community.id) == record_id)
    if kind in _THROUGH:
        child, parent_key, parent_kind = _THROUGH[kind]
        parent, community = _IN_COMMUNITY[parent_kind]
        return (
            select(col(Community.tenant_id))
            .join_from(Community, parent.class_, col(community) == col(Community.id))
            .join(child.class_, col(parent_key) == col(parent))
            .where(col(child) == record_id)
        )
    record, community = _IN_COMMUNITY[kind]
    return (
        select(col(Community.tenant_id))
        .join_from(Community, record.class_, col(community) == col(Community.id))
        .where(col(record) == record_id)
    )


async def outside_tenant(
    session: AsyncSession, *, tenant_id: str | None, records: Iterable[tuple[Owned, int]]
) -> bool:
    """Whether any of these records belongs to another organisation than `tenant_id`.
    A sender without a tenant reaches only records of no tenant. An id that names nothing is
    not outside: the feature answers it as it answers any stale button."""
    for kind, record_id in records:
        owner = (await session.exec(_tenant_of(kind, record_id))).first()
        if owner is not None and owner != tenant_id:
            return True
    return False
