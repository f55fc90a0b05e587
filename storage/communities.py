"""Communities, memberships and roles, with the rules on who may change what."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.collation import name_key
from storage.models import (
    CohostStatus,
    Community,
    Meeting,
    MeetingCohost,
    MeetingMode,
    MeetingStatus,
    Membership,
    Person,
    Role,
    utcnow,
)
from storage.sql import insert_or_lock


class NotAllowed(Exception):
    """The person may not do this (the caller answers politely; nothing changes)."""


class AlreadyExists(Exception):
    """The channel already holds a community."""


@dataclass(frozen=True, slots=True)
class CommunityDraft:
    name: str
    domain: str
    objectives: list[str]
    theme: str
    audience: str
    cadence: str
    usual_mode: MeetingMode
    rules: list[str]


@dataclass(frozen=True, slots=True)
class Profile:
    discipline: str
    establishment: str
    region: str
    interests: list[str] = field(default_factory=list)
    is_new_hire: bool = False


class JoinOutcome(enum.StrEnum):
    JOINED = "joined"
    REJOINED = "rejoined"
    UPDATED = "updated"


def joined_notice_key(
    community_id: int | None, person_id: int | None, joined_at: datetime, animator_id: int
) -> str:
    """An animator told that someone joined (a notice), once per joining. The format must not
    change: a key spelled differently would not deduplicate against a queued row."""
    return f"joined:{community_id}:{person_id}:{joined_at:%Y%m%dT%H%M%S}:to:{animator_id}"


def has_role(membership: Membership | None, *roles: Role) -> bool:
    return (
        membership is not None
        and membership.left_at is None
        and any(role.value in membership.roles for role in roles)
    )


async def community_for_channel(
    session: AsyncSession, *, teams_channel_id: str
) -> Community | None:
    return (
        await session.exec(select(Community).where(Community.teams_channel_id == teams_channel_id))
    ).first()


async def get_community(session: AsyncSession, *, community_id: int) -> Community | None:
    return await session.get(Community, community_id)


async def create_community(
    session: AsyncSession,
    *,
    draft: CommunityDraft,
    animator_id: int | None,
    tenant_id: str | None,
    team_id: str | None,
    teams_channel_id: str | None,
) -> Community:
    if teams_channel_id and await community_for_channel(session, teams_channel_id=teams_channel_id):
        raise AlreadyExists(teams_channel_id)
    community = Community(
        name=draft.name,
        domain=draft.domain,
        objectives=list(draft.objectives),
        theme=draft.theme,
        audience=draft.audience,
        cadence=draft.cadence,
        usual_mode=draft.usual_mode,
        rules=list(draft.rules),
        tenant_id=tenant_id,
        team_id=team_id,
        teams_channel_id=teams_channel_id,
    )
    session.add(community)
    try:
        await session.flush()
    except IntegrityError as error:  # set up by someone else at the same moment
        raise AlreadyExists(teams_channel_id) from error
    if animator_id is not None:
        session.add(
            Membership(
                person_id=animator_id,
                community_id=community.id or 0,
                roles=[Role.MEMBER.value, Role.ANIMATOR.value],
            )
        )
        await session.flush()
    return community


async def membership(
    session: AsyncSession, *, person_id: int, community_id: int
) -> Membership | None:
    return (
        await session.exec(
            select(Membership)
            .where(Membership.person_id == person_id)
            .where(Membership.community_id == community_id)
        )
    ).first()


async def _membership_for_update(
    session: AsyncSession, *, person_id: int, community_id: int, now: datetime
) -> tuple[Membership, bool]:
    """The person's membership row, created (as a plain member since `now`) if there was none,
    and locked for the rest of the transaction; True when created now. Two joins at once (a
    double click, a team join during the join dialog) make one row."""
    return await insert_or_lock(
        session,
        Membership,
        {
            "person_id": person_id,
            "community_id": community_id,
            "roles": [Role.MEMBER.value],
            "interests": [],
            "is_new_hire": False,
            "joined_at": now,
        },
        key=["person_id", "community_id"],
    )


async def joinable_communities(
    session: AsyncSession, *, tenant_id: str | None
) -> list[tuple[Community, int]]:
    """Communities of the person's organisation, with their number of active members."""
    members = func.count(col(Membership.id))
    statement = (
        select(Community, members)
        .outerjoin(
            Membership,
            (col(Membership.community_id) == col(Community.id)) & col(Membership.left_at).is_(None),
        )
        .group_by(col(Community.id))
        .order_by(col(Community.name))
    )
    if tenant_id is not None:
        statement = statement.where(
            (col(Community.tenant_id) == tenant_id) | col(Community.tenant_id).is_(None)
        )
    return [(community, int(count)) for community, count in (await session.exec(statement)).all()]


async def memberships_of(
    session: AsyncSession, *, person_id: int
) -> list[tuple[Membership, Community]]:
    rows = await session.exec(
        select(Membership, Community)
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(Membership.person_id == person_id)
        .where(col(Membership.left_at).is_(None))
        .order_by(col(Community.name))
    )
    return [(m, c) for m, c in rows.all()]


async def join(
    session: AsyncSession,
    *,
    person_id: int,
    community_id: int,
    profile: Profile,
    consent_reminders: bool,
    consent_surveys: bool,
    now: datetime | None = None,
) -> tuple[Membership, JoinOutcome]:
    now = now or utcnow()
    row, created = await _membership_for_update(
        session, person_id=person_id, community_id=community_id, now=now
    )
    if created:
        outcome = JoinOutcome.JOINED
    else:
        outcome = JoinOutcome.UPDATED if row.left_at is None else JoinOutcome.REJOINED
        if row.left_at is not None:
            row.left_at = None
            row.joined_at = now
            # Roles granted before leaving are not restored: ask an animator again.
            row.roles = [Role.MEMBER.value]
    row.discipline = profile.discipline
    row.establishment = profile.establishment
    row.region = profile.region
    row.interests = list(profile.interests)
    row.is_new_hire = profile.is_new_hire
    person = await session.get(Person, person_id)
    if person is not None:
        person.consent_reminders = consent_reminders
        person.consent_surveys = consent_surveys
    await session.flush()
    return row, outcome


async def leave(
    session: AsyncSession, *, person_id: int, community_id: int, now: datetime | None = None
) -> Membership | None:
    """Leave a community. The profile stays (marked left) so a return is easy; the person's
    data can be erased on request (see the privacy feature)."""
    row = await membership(session, person_id=person_id, community_id=community_id)
    if row is None or row.left_at is not None:
        return None
    row.left_at = now or utcnow()
    await session.flush()
    return row


async def people_with_role(
    session: AsyncSession, *, community_id: int, roles: Sequence[Role]
) -> list[Person]:
    rows = await session.exec(
        select(Person, Membership)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(Membership.community_id == community_id)
        .where(col(Membership.left_at).is_(None))
    )
    wanted = {role.value for role in roles}
    found = [person for person, m in rows.all() if wanted & set(m.roles)]
    return sorted(found, key=lambda person: (name_key(person.name), person.id or 0))


async def change_role(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    role: Role,
    grant: bool,
    by_person_id: int | None,
) -> Membership:
    """Grant or remove a role. `by_person_id=None` is the operator (CLI); otherwise only an
    animator of the community may do it. Granting a role to someone not yet a member makes
    them a member."""
    if by_person_id is not None:
        actor = await membership(session, person_id=by_person_id, community_id=community_id)
        if not has_role(actor, Role.ANIMATOR):
            raise NotAllowed("only an animator may change roles")
    target = await membership(session, person_id=person_id, community_id=community_id)
    if target is None or target.left_at is not None:
        if not grant:
            raise NotAllowed("not a member")
        if target is None:
            target = Membership(person_id=person_id, community_id=community_id, roles=[])
            session.add(target)
        target.left_at = None
        target.roles = [Role.MEMBER.value]
    roles = set(target.roles) | {Role.MEMBER.value}
    if grant:
        roles.add(role.value)
    else:
        if role == Role.ANIMATOR and by_person_id is not None:
            animators = await people_with_role(
                session, community_id=community_id, roles=[Role.ANIMATOR]
            )
            if [p.id for p in animators] == [person_id]:
                # A community always keeps one animator; the operator can override.
                raise NotAllowed("last animator")
        roles.discard(role.value)
    # Ordered for stable display: member first, then the rest alphabetically.
    target.roles = [Role.MEMBER.value, *sorted(roles - {Role.MEMBER.value})]
    await session.flush()
    return target


def hosted_by(community_id: int) -> ColumnElement[bool]:
    """SQL: the meeting is the community's own, or a joint meeting it accepted to co-host.
    Where a community's figures count its meetings (storage/vitality.py, storage/review.py),
    its one-pager's next meeting and the year's in-person signal (storage/planning.py)."""
    return or_(
        col(Meeting.community_id) == community_id,
        col(Meeting.id).in_(
            select(col(MeetingCohost.meeting_id))
            .where(col(MeetingCohost.community_id) == community_id)
            .where(col(MeetingCohost.status) == CohostStatus.ACCEPTED)
        ),
    )


async def next_meeting(
    session: AsyncSession, *, community_id: int, now: datetime | None = None
) -> Meeting | None:
    """The next meeting the community holds, its own or a joint one it co-hosts."""
    return (
        await session.exec(
            select(Meeting)
            .where(hosted_by(community_id))
            .where(Meeting.status == MeetingStatus.SCHEDULED)
            .where(col(Meeting.starts_at) > (now or utcnow()))
            .order_by(col(Meeting.starts_at))
        )
    ).first()


async def member_count(session: AsyncSession, *, community_id: int) -> int:
    count = (
        await session.exec(
            select(func.count(col(Membership.id)))
            .where(Membership.community_id == community_id)
            .where(col(Membership.left_at).is_(None))
        )
    ).one()
    return int(count)


async def member_teams_ids(
    session: AsyncSession, *, community_id: int, first: Sequence[int] = (), limit: int
) -> list[str]:
    """The Teams user ids of the community's active members, at most `limit`: the people of
    `first` (those still members, in that order), then the others by person id, an order no
    action of theirs changes. The audience of a shared card's per-person refresh."""
    rows = (
        await session.exec(
            select(Person.id, Person.teams_user_id)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(Membership.community_id == community_id)
            .where(col(Membership.left_at).is_(None))
            .order_by(col(Person.id))
        )
    ).all()
    teams_ids = {person_id: teams_id for person_id, teams_id in rows if person_id is not None}
    rank = {person_id: position for position, person_id in enumerate(dict.fromkeys(first))}
    ordered = sorted(teams_ids, key=lambda person_id: (rank.get(person_id, len(rank)), person_id))
    return [teams_ids[person_id] for person_id in ordered[:limit]]


async def communities_of_team(session: AsyncSession, *, team_id: str) -> list[Community]:
    return list((await session.exec(select(Community).where(Community.team_id == team_id))).all())


async def add_newcomer(
    session: AsyncSession, *, person_id: int, community_id: int, now: datetime | None = None
) -> Membership | None:
    """Someone added to the community's team: a member flagged as new, profile to complete.
    None when they already are an active member (Teams re-announces people): not a newcomer."""
    now = now or utcnow()
    row, created = await _membership_for_update(
        session, person_id=person_id, community_id=community_id, now=now
    )
    if not created and row.left_at is None:
        return None
    row.left_at = None
    row.joined_at = now
    row.is_new_hire = True
    await session.flush()
    return row
