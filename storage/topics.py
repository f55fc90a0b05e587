"""The topic bank (banque de sujets): members propose topics and support them with a +1;
animators move them along (proposed → shortlisted → scheduled → done, or declined) and pick
meeting themes from the shortlist (polls and agendas read `shortlisted`).

Every rule is checked here, on the server, whatever a card claimed: only active members
propose and vote, only animators change a status, and a proposer who asked to stay anonymous
is shown to animators only (`shown_proposer`).

A topic's title and description are read by the whole community: a text that seems to identify
a client is refused (`HasIdentifiers`) unless the only kinds spotted are names its author
confirmed identify no one (storage.identifiers.unconfirmed), whatever the dialog claimed. The
presenter (« qui pourrait le présenter ») is not screened: naming a colleague is its purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import NotAllowed, has_role, membership
from storage.identifiers import HasIdentifiers, unconfirmed
from storage.models import Person, Role, Topic, TopicStatus, TopicVote, Volet, utcnow
from storage.sql import insert_if_absent

logger = logging.getLogger(__name__)

MAX_TITLE_LENGTH = 120
MAX_DESCRIPTION_LENGTH = 2000
MAX_PRESENTER_LENGTH = 200
# A topic belongs to one part of a meeting day; logistics (accueil, repas) is not a topic.
PROPOSABLE_KINDS = (Volet.FORMATIVE, Volet.EXCHANGE, Volet.REFLECTIVE)
# How the bank reads: what is still open first, what is settled last.
STATUS_ORDER = (
    TopicStatus.PROPOSED,
    TopicStatus.SHORTLISTED,
    TopicStatus.SCHEDULED,
    TopicStatus.DONE,
    TopicStatus.DECLINED,
)
# Support is still useful while the animators have not settled the topic.
OPEN_STATUSES = frozenset({TopicStatus.PROPOSED, TopicStatus.SHORTLISTED})

VOTE_TABLE = TopicVote.__table__  # type: ignore[attr-defined]


def status_notice_key(topic_id: int, status: TopicStatus, proposer_id: int) -> str:
    """The proposer told their topic moved to `status` (a notice), once per status. The format
    must not change: a key spelled differently would not deduplicate against a queued row."""
    return f"topics:status:{topic_id}:{status.value}:to:{proposer_id}"


def proposed_notice_key(topic_id: int, animator_id: int) -> str:
    """An animator told of a newly proposed topic (a notice), once. Format fixed (see above)."""
    return f"topics:proposed:{topic_id}:to:{animator_id}"


class TopicNotFound(LookupError):
    """No such topic (deleted, or an id a card made up)."""


class TopicClosed(NotAllowed):
    """The topic is scheduled, done or declined: support no longer changes anything."""


@dataclass(frozen=True, slots=True)
class TopicRow:
    """One line of the bank. `supported` is whether the viewer gave it a +1 (False when the
    bank was read without a viewer, e.g. for a card everyone in a channel sees)."""

    topic: Topic
    votes: int
    proposer: Person | None
    supported: bool = False


def shown_proposer(row: TopicRow, *, viewer_is_animator: bool) -> Person | None:
    """Who proposed it, as this viewer may see it: a hidden proposer only for animators."""
    if row.topic.hide_proposer and not viewer_is_animator:
        return None
    return row.proposer


def _clean(value: str | None, *, limit: int, what: str) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValueError(f"{what} longer than {limit} characters")
    return text


async def _active_member(session: AsyncSession, *, person_id: int, community_id: int) -> None:
    row = await membership(session, person_id=person_id, community_id=community_id)
    if row is None or row.left_at is not None:
        raise NotAllowed("not a member of this community")


async def is_animator(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, Role.ANIMATOR)


async def propose(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    title: str,
    description: str,
    kind: Volet,
    presenter: str | None,
    hide_proposer: bool,
    confirmed: Mapping[str, Iterable[str]] | None = None,
) -> Topic:
    """Add a topic to the bank (status proposed). ValueError for a missing or too long field,
    HasIdentifiers for a title or description with identifiers the proposer did not confirm
    (`confirmed`: per field, "title" or "description", the kinds confirmed as no one's),
    NotAllowed for someone who is not an active member."""
    await _active_member(session, person_id=person_id, community_id=community_id)
    clean_title = _clean(title, limit=MAX_TITLE_LENGTH, what="title")
    if not clean_title:
        raise ValueError("a topic needs a title")
    if kind not in PROPOSABLE_KINDS:
        raise ValueError(f"not a kind of topic: {kind}")
    clean_description = _clean(description, limit=MAX_DESCRIPTION_LENGTH, what="description")
    said = confirmed or {}
    for name, text in (("title", clean_title), ("description", clean_description)):
        found = unconfirmed(text, said.get(name, ()))
        if found:
            raise HasIdentifiers(found)
    topic = Topic(
        community_id=community_id,
        title=clean_title,
        description=clean_description,
        kind=Volet(kind),
        presenter=_clean(presenter, limit=MAX_PRESENTER_LENGTH, what="presenter") or None,
        proposed_by_id=person_id,
        hide_proposer=hide_proposer,
        status=TopicStatus.PROPOSED,
    )
    session.add(topic)
    await session.flush()
    logger.info("topic %s proposed in community %s", topic.id, community_id)
    return topic


async def get_topic(session: AsyncSession, *, topic_id: int) -> Topic | None:
    return await session.get(Topic, topic_id)


async def bank(
    session: AsyncSession, *, community_id: int, viewer_id: int | None = None
) -> list[TopicRow]:
    """Every topic of the community with its number of +1s and its proposer, in the order the
    bank reads: by status (open first), then most supported, then oldest."""
    votes = func.count(col(TopicVote.id))
    status_rank = case(
        {status.value: rank for rank, status in enumerate(STATUS_ORDER)},
        value=col(Topic.status),
        else_=len(STATUS_ORDER),
    )
    supported = (
        literal(0)
        if viewer_id is None
        else func.max(case((col(TopicVote.person_id) == viewer_id, 1), else_=0))
    )
    statement = (
        select(Topic, Person, votes, supported)
        .outerjoin(TopicVote, col(TopicVote.topic_id) == col(Topic.id))
        .outerjoin(Person, col(Person.id) == col(Topic.proposed_by_id))
        .where(col(Topic.community_id) == community_id)
        # Grouping by both primary keys lets PostgreSQL return the other columns as they are.
        .group_by(col(Topic.id), col(Person.id))
        .order_by(status_rank, votes.desc(), col(Topic.created_at), col(Topic.id))
    )
    rows = (await session.exec(statement)).all()
    return [
        TopicRow(topic=topic, votes=int(count), proposer=person, supported=bool(mine))
        for topic, person, count, mine in rows
    ]


async def support(session: AsyncSession, *, topic_id: int, person_id: int, wanted: bool) -> bool:
    """Give (`wanted`) or take back the person's +1, as the card's button said: one per person
    and topic. True when this changed anything; a second click, even at the same moment (the
    unique key keeps one +1), changes nothing."""
    topic = await session.get(Topic, topic_id)
    if topic is None:
        raise TopicNotFound(topic_id)
    await _active_member(session, person_id=person_id, community_id=topic.community_id)
    if topic.status not in OPEN_STATUSES:
        raise TopicClosed(topic.status)
    if wanted:
        return await insert_if_absent(
            session,
            VOTE_TABLE,
            {"topic_id": topic_id, "person_id": person_id, "created_at": utcnow()},
            conflict=["topic_id", "person_id"],
        )
    removed = await session.execute(
        delete(TopicVote)
        .where(col(TopicVote.topic_id) == topic_id)
        .where(col(TopicVote.person_id) == person_id)
    )
    return bool(removed.rowcount)  # type: ignore[attr-defined]


async def set_status(
    session: AsyncSession,
    *,
    topic_id: int,
    status: TopicStatus,
    by_person_id: int,
    now: datetime | None = None,
) -> Topic:
    """Move a topic along. Only an animator of the topic's community may; NotAllowed
    otherwise, and nothing changes."""
    topic = await session.get(Topic, topic_id)
    if topic is None:
        raise TopicNotFound(topic_id)
    if not await is_animator(session, person_id=by_person_id, community_id=topic.community_id):
        raise NotAllowed("only an animator may change a topic's status")
    wanted = TopicStatus(status)
    if topic.status != wanted:
        topic.status = wanted
        topic.status_changed_at = now or utcnow()
        await session.flush()
        logger.info("topic %s is now %s", topic.id, wanted.value)
    return topic


async def shortlisted(session: AsyncSession, *, community_id: int) -> list[Topic]:
    """The topics animators retained, most supported first (for polls and agendas)."""
    votes = func.count(col(TopicVote.id))
    statement = (
        select(Topic)
        .outerjoin(TopicVote, col(TopicVote.topic_id) == col(Topic.id))
        .where(col(Topic.community_id) == community_id)
        .where(col(Topic.status) == TopicStatus.SHORTLISTED)
        .group_by(col(Topic.id))
        .order_by(votes.desc(), col(Topic.created_at), col(Topic.id))
    )
    return list((await session.exec(statement)).all())
