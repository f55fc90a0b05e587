"""Mentoring (jumelage): volunteers, requests, ranked suggestions, pairings and their terms.

The flow: a member volunteers with a capacity (how many mentees at once); a newcomer asks for a
mentor; coordinators and animators see ranked suggestions and confirm one (PROPOSED); the
mentor accepts (ACTIVE, the request is PAIRED) or declines (DECLINED: never suggested again to
that mentee, the request stays open for another suggestion). A proposal left unanswered for too
long EXPIRES (that mentor is never proposed again for that request, which stays open). The
mentee, or a coordinator or animator, may withdraw an open request (CANCELLED; a proposal
waiting on it is ENDED). Every rule is checked here, on the server, whatever a card claimed.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import NotAllowed, has_role, membership, people_with_role
from storage.models import (
    Community,
    Membership,
    MentorCheckin,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    PairingStatus,
    Person,
    Role,
)

logger = logging.getLogger(__name__)

MAX_CAPACITY = 10
MAX_GOALS_LENGTH = 1000
MAX_FREQUENCY_LENGTH = 200
MAX_DURATION_WEEKS = 104
# What counts against a mentor's capacity: a proposal waiting for their answer holds a place.
LOAD_STATUSES = (PairingStatus.PROPOSED, PairingStatus.ACTIVE)
# The order of the ranking: a shared discipline matters most, then region, then establishment.
SHARED_ATTRIBUTES = ("discipline", "region", "establishment")
SUPERVISOR_ROLES = (Role.COORDINATOR, Role.ANIMATOR)
CHECKIN_HALF = "half"
CHECKIN_END = "end"

# -- outbox kinds and keys ----------------------------------------------------------------------
# A key must keep today's exact format: spelled differently, it would not deduplicate against
# a row already queued, and the message would go out twice.

KIND_SUGGESTIONS = "mentoring_suggestions"  # coordinators and animators: mentors to propose
KIND_PROPOSAL = "mentoring_proposal"  # the mentor: accept or decline
KIND_AGREEMENT = "mentoring_agreement"  # both: the agreement card to fill in
KIND_CHECKIN = "mentoring_checkin"  # both, at half-term and at the end
KIND_PAIRED = "mentoring_paired"  # the supervisor who confirmed: the mentor accepted
KIND_TERMS = "mentoring_terms"  # the other person of the pair: the terms were changed
KIND_LAPSED = "mentoring_lapsed"  # the mentor: the proposal expired unanswered
KIND_WITHDRAWN = "mentoring_withdrawn"  # the request withdrawn: its proposed mentor, the mentee


def request_prefix(request_id: int) -> str:
    """Every suggestions message of a request (withdrawing it cancels those still pending)."""
    return f"mentoring:request:{request_id}:"


def pairing_prefix(pairing_id: int) -> str:
    # The trailing colon keeps pairing 1 from matching pairing 12's messages.
    return f"mentoring:pairing:{pairing_id}:"


def suggestions_key(request_id: int, person_id: int, *, cause: str | None = None) -> str:
    """One suggestions message per request, recipient and cause: the request itself (None),
    `declined_cause`, `lapsed_cause` or `volunteer_cause`."""
    if cause is None:
        return f"{request_prefix(request_id)}to:{person_id}"
    return f"{request_prefix(request_id)}{cause}:to:{person_id}"


def declined_cause(pairing_id: int) -> str:
    """Suggestions again: the mentor of this pairing declined."""
    return f"declined:{pairing_id}"


def lapsed_cause(pairing_id: int) -> str:
    """Suggestions again: this pairing's proposal expired unanswered."""
    return f"lapsed:{pairing_id}"


def volunteer_cause(volunteer_id: int) -> str:
    """Suggestions again: this person volunteered and can mentor the waiting mentee."""
    return f"volunteer:{volunteer_id}"


def proposal_key(pairing_id: int) -> str:
    return f"{pairing_prefix(pairing_id)}proposal"


def agreement_key(pairing_id: int, person_id: int) -> str:
    return f"{pairing_prefix(pairing_id)}agreement:to:{person_id}"


def paired_key(pairing_id: int, supervisor_id: int) -> str:
    return f"{pairing_prefix(pairing_id)}paired:to:{supervisor_id}"


def checkin_key(pairing_id: int, moment: str, weeks: int, person_id: int) -> str:
    # The duration is part of the key: new terms plan new check-ins, and the renderer drops
    # the ones planned for a duration no longer agreed.
    return f"{pairing_prefix(pairing_id)}checkin:{moment}:w{weeks}:to:{person_id}"


def terms_key(pairing_id: int, activity_id: str, person_id: int) -> str:
    """One message per submission of new terms (the incoming activity's id, cut to 64)."""
    return f"{pairing_prefix(pairing_id)}terms:{activity_id[:64]}:to:{person_id}"


def lapsed_key(pairing_id: int, mentor_id: int) -> str:
    # Not under pairing_prefix: cancelling the proposal's pending messages must not drop it.
    return f"mentoring:lapsed:{pairing_id}:to:{mentor_id}"


def ended_key(pairing_id: int, person_id: int) -> str:
    """The other person of the pair told the mentoring ended (a notice). Not under
    pairing_prefix: ending cancels the pairing's pending messages, not this one."""
    return f"mentoring:ended:{pairing_id}:to:{person_id}"


def withdrawn_key(request_id: int, person_id: int) -> str:
    return f"mentoring:withdrawn:{request_id}:to:{person_id}"


class AlreadyPaired(Exception):
    """The mentee already has an active mentor in this community."""


class RequestClosed(NotAllowed):
    """The request was paired or cancelled meanwhile (a stale card)."""


class ProposalLapsed(NotAllowed):
    """The mentor answers a proposal that expired or whose request was withdrawn meanwhile."""


class AlreadyProposed(NotAllowed):
    """Another mentor was already proposed for this request and has not answered yet."""

    def __init__(self, pairing: MentorPairing) -> None:
        super().__init__("a proposal is waiting for the mentor's answer")
        # Kept as a plain value: the transaction rolls back, which expires the pairing's row.
        self.mentor_id = pairing.mentor_id


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A withdrawn request, and the proposal it ended (its mentor is to be told), if any.
    `changed` is False when the request had already been withdrawn (a second click)."""

    request: MentorRequest
    ended_proposal: MentorPairing | None
    changed: bool


@dataclass(frozen=True, slots=True)
class Suggestion:
    person: Person
    load: int
    capacity: int
    shared: tuple[str, ...]
    # Stored on the pairing so anyone can see later why this mentor was suggested.
    reason: str


def _comparable(value: str | None) -> str:
    """Profiles are typed by hand: « Travail social » and « travail  social » are the same."""
    decomposed = unicodedata.normalize("NFKD", (value or "").casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def shared_attributes(mentee: Membership, mentor: Membership) -> tuple[str, ...]:
    shared: list[str] = []
    for attribute in SHARED_ATTRIBUTES:
        mine = _comparable(getattr(mentee, attribute))
        if mine and mine == _comparable(getattr(mentor, attribute)):
            shared.append(attribute)
    return tuple(shared)


def _reason(shared: tuple[str, ...], load: int, capacity: int) -> str:
    return f"{','.join(shared) or 'none'};load={load}/{capacity}"


def shared_from_reason(reason: str) -> tuple[str, ...]:
    """What a stored reason says the pair shares (« discipline,region;load=1/3 »)."""
    listed = reason.partition(";")[0].split(",")
    return tuple(attribute for attribute in SHARED_ATTRIBUTES if attribute in listed)


def checkin_moments(pairing: MentorPairing) -> list[tuple[str, datetime]]:
    """When the pair is asked how it is going: half-way through the agreed duration, and at
    its end. Empty until the mentor has accepted."""
    if pairing.accepted_at is None:
        return []
    duration = timedelta(weeks=pairing.duration_weeks)
    return [
        (CHECKIN_HALF, pairing.accepted_at + duration / 2),
        (CHECKIN_END, pairing.accepted_at + duration),
    ]


def _active(row: Membership | None) -> bool:
    return row is not None and row.left_at is None


async def volunteer(
    session: AsyncSession, *, person_id: int, community_id: int, capacity: int
) -> Membership:
    """Offer to mentor up to `capacity` mentees at once in this community; 0 withdraws.
    Withdrawing ends no pairing: it only stops new suggestions."""
    if not 0 <= capacity <= MAX_CAPACITY:
        raise ValueError(f"capacity must be between 0 and {MAX_CAPACITY}")
    row = await membership(session, person_id=person_id, community_id=community_id)
    if row is None or row.left_at is not None:
        raise NotAllowed("not an active member")
    roles = set(row.roles) | {Role.MEMBER.value}
    if capacity:
        row.mentor_capacity = capacity
        roles.add(Role.MENTOR.value)
    else:
        row.mentor_capacity = None
        roles.discard(Role.MENTOR.value)
    # Same order as communities.change_role: member first, then the rest alphabetically.
    row.roles = [Role.MEMBER.value, *sorted(roles - {Role.MEMBER.value})]
    await session.flush()
    return row


async def active_pairing(
    session: AsyncSession, *, community_id: int, mentee_id: int
) -> MentorPairing | None:
    return (
        await session.exec(
            select(MentorPairing)
            .where(MentorPairing.community_id == community_id)
            .where(MentorPairing.mentee_id == mentee_id)
            .where(MentorPairing.status == PairingStatus.ACTIVE)
        )
    ).first()


async def open_request(
    session: AsyncSession, *, community_id: int, mentee_id: int
) -> MentorRequest | None:
    """The mentee's open request in this community, if any."""
    return (
        await session.exec(
            select(MentorRequest)
            .where(MentorRequest.community_id == community_id)
            .where(MentorRequest.mentee_id == mentee_id)
            .where(MentorRequest.status == MentorRequestStatus.OPEN)
            .order_by(col(MentorRequest.id))
        )
    ).first()


async def request_mentor(
    session: AsyncSession, *, community_id: int, mentee_id: int
) -> tuple[MentorRequest, bool]:
    """The mentee's open request in this community, created if none; True when created now."""
    row = await membership(session, person_id=mentee_id, community_id=community_id)
    if not _active(row):
        raise NotAllowed("not an active member")
    if await active_pairing(session, community_id=community_id, mentee_id=mentee_id):
        raise AlreadyPaired(community_id)
    existing = await open_request(session, community_id=community_id, mentee_id=mentee_id)
    if existing is not None:
        return existing, False
    request = MentorRequest(community_id=community_id, mentee_id=mentee_id)
    session.add(request)
    await session.flush()
    logger.info("mentor request %s opened in community %s", request.id, community_id)
    return request, True


async def get_request(session: AsyncSession, *, request_id: int) -> MentorRequest | None:
    return await session.get(MentorRequest, request_id)


async def get_pairing(session: AsyncSession, *, pairing_id: int) -> MentorPairing | None:
    return await session.get(MentorPairing, pairing_id)


async def pending_proposal(session: AsyncSession, *, request_id: int) -> MentorPairing | None:
    """The proposal waiting for a mentor's answer on this request, if any."""
    return (
        await session.exec(
            select(MentorPairing)
            .where(MentorPairing.request_id == request_id)
            .where(MentorPairing.status == PairingStatus.PROPOSED)
        )
    ).first()


async def _candidates(session: AsyncSession, request: MentorRequest) -> list[Suggestion]:
    """Every eligible mentor for the request, best first."""
    mentee = await membership(
        session, person_id=request.mentee_id, community_id=request.community_id
    )
    if mentee is None or mentee.left_at is not None:
        return []
    # Capacity is promised per community, so the load is counted in this community too.
    loads = {
        int(mentor_id): int(count)
        for mentor_id, count in (
            await session.exec(
                select(MentorPairing.mentor_id, func.count())
                .where(MentorPairing.community_id == request.community_id)
                .where(col(MentorPairing.status).in_(LOAD_STATUSES))
                .group_by(col(MentorPairing.mentor_id))
            )
        ).all()
    }
    # A refusal is about this mentee, whatever the community: never ask that mentor again.
    excluded = set(
        (
            await session.exec(
                select(MentorPairing.mentor_id)
                .where(MentorPairing.mentee_id == request.mentee_id)
                .where(MentorPairing.status == PairingStatus.DECLINED)
            )
        ).all()
    )
    # A proposal left unanswered is about this request: that mentor is not asked again for it.
    excluded |= set(
        (
            await session.exec(
                select(MentorPairing.mentor_id)
                .where(MentorPairing.request_id == request.id)
                .where(MentorPairing.status == PairingStatus.EXPIRED)
            )
        ).all()
    )
    rows = await session.exec(
        select(Membership, Person)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(Membership.community_id == request.community_id)
        .where(col(Membership.left_at).is_(None))
        .where(col(Membership.mentor_capacity) > 0)
        .where(Membership.person_id != request.mentee_id)
    )
    found: list[Suggestion] = []
    for row, person in rows.all():
        # The role is checked too: an animator who removes it stops the suggestions.
        capacity = row.mentor_capacity or 0
        load = loads.get(row.person_id, 0)
        if not has_role(row, Role.MENTOR) or load >= capacity or row.person_id in excluded:
            continue
        shared = shared_attributes(mentee, row)
        found.append(
            Suggestion(
                person=person,
                load=load,
                capacity=capacity,
                shared=shared,
                reason=_reason(shared, load, capacity),
            )
        )
    found.sort(
        key=lambda s: (
            *(attribute not in s.shared for attribute in SHARED_ATTRIBUTES),
            s.load,
            s.person.id or 0,
        )
    )
    return found


async def suggestions(
    session: AsyncSession, *, request_id: int, limit: int = 3
) -> list[Suggestion]:
    """Ranked mentors for an open request: shared discipline, then region, then establishment,
    then the lightest load, then the oldest account (lowest id) so the order is stable."""
    request = await session.get(MentorRequest, request_id)
    if request is None or request.status != MentorRequestStatus.OPEN:
        return []
    return (await _candidates(session, request))[:limit]


async def _locked_request(session: AsyncSession, request_id: int) -> MentorRequest | None:
    # FOR UPDATE serialises two coordinators (or a coordinator and a mentor) acting on the same
    # request on PostgreSQL; SQLite has a single writer anyway.
    return (
        await session.exec(
            select(MentorRequest)
            .where(MentorRequest.id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()


async def may_supervise(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    """Coordinators and animators confirm pairings and may end them."""
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, *SUPERVISOR_ROLES)


async def confirm(
    session: AsyncSession,
    *,
    request_id: int,
    mentor_id: int,
    confirmed_by_id: int,
    now: datetime | None = None,
) -> MentorPairing:
    """A coordinator or animator proposes this mentor; the request stays open until the
    mentor accepts. Confirming the same mentor twice returns the same proposal. The proposal's
    `created_at` (now) is when its time to answer starts."""
    request = await _locked_request(session, request_id)
    if request is None:
        raise NotAllowed("no such request")
    if not await may_supervise(
        session, person_id=confirmed_by_id, community_id=request.community_id
    ):
        raise NotAllowed("only a coordinator or an animator may confirm a pairing")
    if request.status != MentorRequestStatus.OPEN:
        raise RequestClosed(request_id)
    waiting = await pending_proposal(session, request_id=request_id)
    if waiting is not None:
        if waiting.mentor_id == mentor_id:
            return waiting
        # One proposal at a time, or two mentors could both accept the same mentee.
        raise AlreadyProposed(waiting)
    chosen = next(
        (s for s in await _candidates(session, request) if s.person.id == mentor_id), None
    )
    if chosen is None:
        raise NotAllowed("not an eligible mentor for this request")
    pairing = MentorPairing(
        request_id=request_id,
        community_id=request.community_id,
        mentor_id=mentor_id,
        mentee_id=request.mentee_id,
        status=PairingStatus.PROPOSED,
        reason=chosen.reason,
        confirmed_by_id=confirmed_by_id,
    )
    if now is not None:
        pairing.created_at = now
    session.add(pairing)
    await session.flush()
    logger.info("pairing %s proposed for request %s", pairing.id, request_id)
    return pairing


async def answer(
    session: AsyncSession, *, pairing_id: int, mentor_id: int, accept: bool, now: datetime
) -> MentorPairing:
    """The mentor's answer. Answering the same way twice (a double click) changes nothing."""
    pairing = await session.get(MentorPairing, pairing_id)
    if pairing is None or pairing.mentor_id != mentor_id:
        raise NotAllowed("only the proposed mentor may answer")
    request = await _locked_request(session, pairing.request_id)
    await session.refresh(pairing)
    wanted = PairingStatus.ACTIVE if accept else PairingStatus.DECLINED
    if pairing.status == wanted:
        return pairing
    if pairing.status == PairingStatus.EXPIRED or (
        pairing.status == PairingStatus.ENDED and pairing.accepted_at is None
    ):
        raise ProposalLapsed("this proposal expired or its request was withdrawn")
    if pairing.status != PairingStatus.PROPOSED:
        raise NotAllowed("this proposal was already answered or withdrawn")
    if not accept:
        pairing.status = PairingStatus.DECLINED
        await session.flush()
        logger.info("pairing %s declined", pairing_id)
        return pairing
    if request is None or request.status != MentorRequestStatus.OPEN:
        raise RequestClosed(pairing.request_id)
    if await active_pairing(
        session, community_id=pairing.community_id, mentee_id=pairing.mentee_id
    ):
        raise AlreadyPaired(pairing.community_id)
    pairing.status = PairingStatus.ACTIVE
    pairing.accepted_at = now
    request.status = MentorRequestStatus.PAIRED
    await session.flush()
    logger.info("pairing %s active", pairing_id)
    return pairing


async def set_agreement(
    session: AsyncSession,
    *,
    pairing_id: int,
    person_id: int,
    goals: str,
    frequency: str,
    duration_weeks: int,
) -> MentorPairing:
    """The terms of an active pairing, set by the mentor or the mentee (the last one wins)."""
    goals, frequency = goals.strip(), frequency.strip()
    if not goals or len(goals) > MAX_GOALS_LENGTH:
        raise ValueError(f"goals must have 1 to {MAX_GOALS_LENGTH} characters")
    if not frequency or len(frequency) > MAX_FREQUENCY_LENGTH:
        raise ValueError(f"frequency must have 1 to {MAX_FREQUENCY_LENGTH} characters")
    if not 1 <= duration_weeks <= MAX_DURATION_WEEKS:
        raise ValueError(f"duration must be between 1 and {MAX_DURATION_WEEKS} weeks")
    pairing = await session.get(MentorPairing, pairing_id)
    if pairing is None or person_id not in (pairing.mentor_id, pairing.mentee_id):
        raise NotAllowed("only the mentor or the mentee may set the terms")
    if pairing.status != PairingStatus.ACTIVE:
        raise NotAllowed("the pairing is not active")
    pairing.goals = goals
    pairing.frequency = frequency
    pairing.duration_weeks = duration_weeks
    await session.flush()
    return pairing


async def end(
    session: AsyncSession, *, pairing_id: int, person_id: int, now: datetime
) -> MentorPairing:
    """End a pairing (or withdraw a proposal): its mentor, its mentee, or a coordinator or
    animator of the community. Ending twice changes nothing."""
    pairing = await session.get(MentorPairing, pairing_id)
    if pairing is None:
        raise NotAllowed("no such pairing")
    is_party = person_id in (pairing.mentor_id, pairing.mentee_id)
    if not is_party and not await may_supervise(
        session, person_id=person_id, community_id=pairing.community_id
    ):
        raise NotAllowed("only the pair, a coordinator or an animator may end a pairing")
    if pairing.status == PairingStatus.ENDED:
        return pairing
    if pairing.status not in LOAD_STATUSES:
        raise NotAllowed("this pairing is not under way")
    pairing.status = PairingStatus.ENDED
    pairing.ended_at = now
    await session.flush()
    logger.info("pairing %s ended", pairing_id)
    return pairing


async def overdue_proposals(session: AsyncSession, *, proposed_before: datetime) -> list[int]:
    """Proposals still waiting for the mentor's answer, made before `proposed_before`."""
    found = await session.exec(
        select(col(MentorPairing.id))
        .where(MentorPairing.status == PairingStatus.PROPOSED)
        .where(col(MentorPairing.created_at) <= proposed_before)
        .order_by(col(MentorPairing.id))
    )
    return [pairing_id for pairing_id in found.all() if pairing_id is not None]


async def expire_proposal(
    session: AsyncSession, *, pairing_id: int, proposed_before: datetime, now: datetime
) -> MentorPairing | None:
    """Mark an unanswered proposal EXPIRED; None when it is no longer waiting (answered,
    withdrawn, or expired by another replica meanwhile): only one caller ever gets it."""
    pairing = await session.get(MentorPairing, pairing_id)
    if pairing is None:
        return None
    # The same lock as the mentor's answer: an answer and the expiry never both win.
    await _locked_request(session, pairing.request_id)
    result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
        update(MentorPairing)
        .where(col(MentorPairing.id) == pairing_id)
        .where(col(MentorPairing.status) == PairingStatus.PROPOSED)
        .where(col(MentorPairing.created_at) <= proposed_before)
        .values(status=PairingStatus.EXPIRED, ended_at=now)
    )
    if result.rowcount != 1:
        return None
    await session.refresh(pairing)
    logger.info("pairing %s expired without an answer", pairing_id)
    return pairing


async def withdraw_request(
    session: AsyncSession, *, request_id: int, person_id: int, now: datetime
) -> Withdrawal:
    """The mentee, or a coordinator or animator of the community, withdraws an open request;
    a proposal waiting on it ends. Withdrawing twice changes nothing."""
    request = await _locked_request(session, request_id)
    if request is None:
        raise NotAllowed("no such request")
    if person_id != request.mentee_id and not await may_supervise(
        session, person_id=person_id, community_id=request.community_id
    ):
        raise NotAllowed("only the mentee, a coordinator or an animator may withdraw a request")
    if request.status == MentorRequestStatus.CANCELLED:
        return Withdrawal(request, None, changed=False)
    if request.status != MentorRequestStatus.OPEN:
        raise RequestClosed(request_id)
    waiting = await pending_proposal(session, request_id=request_id)
    if waiting is not None:
        waiting.status = PairingStatus.ENDED
        waiting.ended_at = now
    request.status = MentorRequestStatus.CANCELLED
    await session.flush()
    logger.info("mentor request %s withdrawn", request_id)
    return Withdrawal(request, waiting, changed=True)


async def unserved_requests(session: AsyncSession, *, community_id: int) -> list[int]:
    """Open requests of the community with no proposal waiting and no eligible mentor: they
    wait for a volunteer."""
    waiting = (
        await session.exec(
            select(MentorRequest)
            .where(MentorRequest.community_id == community_id)
            .where(MentorRequest.status == MentorRequestStatus.OPEN)
            .order_by(col(MentorRequest.id))
        )
    ).all()
    found: list[int] = []
    for request in waiting:
        assert request.id is not None
        if await pending_proposal(session, request_id=request.id) is not None:
            continue
        if not await _candidates(session, request):
            found.append(request.id)
    return found


async def supervised_communities(session: AsyncSession, *, person_id: int) -> list[Community]:
    """The communities where this person coordinates or animates (and so pairs mentees)."""
    rows = await session.exec(
        select(Membership, Community)
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(Membership.person_id == person_id)
        .where(col(Membership.left_at).is_(None))
        .order_by(col(Community.name), col(Community.id))
    )
    return [community for row, community in rows.all() if has_role(row, *SUPERVISOR_ROLES)]


async def open_requests(session: AsyncSession, *, community_id: int) -> list[MentorRequest]:
    """The community's requests still waiting for a mentor, oldest first."""
    rows = await session.exec(
        select(MentorRequest)
        .where(MentorRequest.community_id == community_id)
        .where(MentorRequest.status == MentorRequestStatus.OPEN)
        .order_by(col(MentorRequest.created_at), col(MentorRequest.id))
    )
    return list(rows.all())


async def supervisors(session: AsyncSession, *, community_id: int) -> list[Person]:
    """Who receives mentoring requests: the community's coordinators and animators."""
    return await people_with_role(session, community_id=community_id, roles=SUPERVISOR_ROLES)


async def record_checkin(
    session: AsyncSession,
    *,
    pairing_id: int,
    person_id: int,
    moment: str,
    rating: int,
    comment: str,
    now: datetime,
) -> MentorCheckin:
    """Keep a check-in answer (one per person and moment; answering again replaces it).
    Only the mentor and the mentee of the pairing may answer, once the mentor has accepted it
    (not on a proposal still waiting, declined, lapsed or withdrawn)."""
    if moment not in (CHECKIN_HALF, CHECKIN_END) or not 1 <= rating <= 5:
        raise ValueError("invalid check-in")
    pairing = await get_pairing(session, pairing_id=pairing_id)
    if pairing is None or person_id not in (pairing.mentor_id, pairing.mentee_id):
        raise NotAllowed("not part of this pairing")
    if pairing.accepted_at is None:
        raise NotAllowed("the pairing never started")
    existing = (
        await session.exec(
            select(MentorCheckin)
            .where(MentorCheckin.pairing_id == pairing_id)
            .where(MentorCheckin.person_id == person_id)
            .where(MentorCheckin.moment == moment)
        )
    ).first()
    row = existing or MentorCheckin(
        pairing_id=pairing_id, person_id=person_id, moment=moment, rating=rating
    )
    row.rating = rating
    row.comment = comment.strip()[:1000] or None
    row.answered_at = now
    session.add(row)
    await session.flush()
    return row
