"""Codevelopment groups (Payette & Champagne, 1997): stable closed groups of 6 to 8 members,
3-hour sessions every 5 to 6 weeks, a facilitator, a consultation in six set steps in which
one member is the « client » and the others « consultants ».

The flow: a coordinator or animator of a community creates a group (FORMING) and invites
members, who accept or decline; planning the series of sessions starts the group (STARTED):
it is then closed — no invitation, no acceptance — and invitations still unanswered lapse.
Each session gets a proposed client: the rotation makes every member client once before anyone
is twice (`propose_clients`, `is_fair`); a client may hand their turn to a volunteer when both
agree and the rotation stays fair. The facilitator drives the session step by step; when each
step began is stored, so the time spent is computed, never typed. The client's action plan and
follow-up answer, and every member's learning notes, are private to their author
(`CodevPrivateNote`): no query here returns another person's note. Every rule is checked here,
whatever a card claimed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import NotAllowed, has_role, membership, memberships_of
from storage.identifiers import HasIdentifiers, IdentifierKind, unconfirmed
from storage.meetings import latest_due_offset
from storage.models import (
    CodevAttendance,
    CodevGroup,
    CodevGroupStatus,
    CodevPrivateNote,
    CodevSeat,
    CodevSeatStatus,
    CodevSession,
    CodevSessionStatus,
    Community,
    Person,
    Role,
)
from storage.sql import insert_if_absent

logger = logging.getLogger(__name__)

MIN_SEATS = 6
MAX_SEATS = 8
RHYTHM_WEEKS = (5, 6)
SESSION_MINUTES = 180
# A consultation needs a client and at least two consultants.
MIN_MEMBERS_TO_START = 3
MAX_SESSIONS = 12
MAX_NAME_LENGTH = 120
MAX_PLACE_LENGTH = 300
MAX_LINK_LENGTH = 1000
MAX_NOTE_LENGTH = 4000
MAX_REQUEST_KEY_LENGTH = 64
FOLLOW_UP_AFTER = timedelta(days=14)
REMINDER_OFFSETS = ("P7D", "P1D")
# The six steps and their planned minutes (a consultation of about 2 h 10 in a 3-hour session:
# the rest is the welcome, a break and the round of news). Texts `codev.step.<n>.title|hint`.
STEP_MINUTES = (15, 20, 10, 45, 20, 20)
STEPS = len(STEP_MINUTES)
STEP_PLAN = 5  # synthesis and action plan by the client
STEP_LEARNING = 6  # learning and assessment
FINISHED_STEP = STEPS + 1

NOTE_PLAN = "plan"
NOTE_FOLLOWUP = "followup"
NOTE_LEARNING = "learning"
NOTE_KINDS = (NOTE_PLAN, NOTE_FOLLOWUP, NOTE_LEARNING)
MANAGER_ROLES = (Role.COORDINATOR, Role.ANIMATOR)

# -- outbox kinds and keys ----------------------------------------------------------------------
# A key must keep its exact format: spelled differently, it would not deduplicate against a row
# already queued, and the message would go out twice.

KIND_INVITATION = "codev_invitation"  # the invitee: accept or decline; params {"group_id"}
KIND_REMINDER = "codev_reminder"  # members and facilitator: {"session_id", "offset"}
KIND_PLAN = "codev_plan"  # the client, at step 5: their private action plan {"session_id"}
KIND_LEARNING = "codev_learning"  # each member, at step 6: private learning notes
KIND_FOLLOWUP = "codev_followup"  # the client, 2 weeks after: how did it go? (optional)
KIND_SWAP_CALL = "codev_swap_call"  # the other members: the client looks for a volunteer
KIND_SWAP_OFFER = "codev_swap_offer"  # the client: someone volunteers, accept or decline
KIND_SESSION_CARD = "codev_session_card"  # the group's conversation: a session card


def invitation_key(group_id: int, person_id: int, invited_at: datetime) -> str:
    # The invitation's time is part of it: a declined person invited again gets a new card.
    return f"codev:group:{group_id}:invite:{invited_at:%Y%m%dT%H%M%S}:to:{person_id}"


def reminder_key(session_id: int, starts_at: datetime, offset: str, person_id: int) -> str:
    return f"codev:session:{session_id}:{starts_at:%Y%m%dT%H%M}:reminder:{offset}:to:{person_id}"


def session_prefix(session_id: int) -> str:
    return f"codev:session:{session_id}:"


def plan_key(session_id: int, person_id: int) -> str:
    return f"{session_prefix(session_id)}plan:to:{person_id}"


def learning_key(session_id: int, person_id: int) -> str:
    return f"{session_prefix(session_id)}learning:to:{person_id}"


def followup_key(session_id: int, person_id: int) -> str:
    return f"{session_prefix(session_id)}followup:to:{person_id}"


def swap_call_key(session_id: int, client_id: int, person_id: int) -> str:
    return f"{session_prefix(session_id)}swap:{client_id}:call:to:{person_id}"


def swap_offer_key(session_id: int, client_id: int, volunteer_id: int) -> str:
    return f"{session_prefix(session_id)}swap:{client_id}:offer:{volunteer_id}"


# -- refusals -----------------------------------------------------------------------------------


class InvalidGroup(ValueError):
    """A form's value out of bounds; `code` names it (texts `codev.invalid.<code>`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class GroupClosed(NotAllowed):
    """The group has started: closed to invitations and new members."""


class GroupFull(NotAllowed):
    """Every seat is taken."""


class SwapUnfair(NotAllowed):
    """The swap would let someone be client twice before another once."""


class NotYet(NotAllowed):
    """Too early (or too late) in the session for this."""


# -- the rotation (pure) ------------------------------------------------------------------------


def is_fair(members: Sequence[int], clients: Sequence[int | None]) -> bool:
    """Whether, session after session, every member is client once before anyone is twice:
    in every prefix of the series, the turns of any two members differ by at most one. Turns
    of people no longer members, and sessions without a client, count for nobody."""
    counts = dict.fromkeys(members, 0)
    for client in clients:
        if client is None or client not in counts:
            continue
        counts[client] += 1
        if counts and max(counts.values()) - min(counts.values()) > 1:
            return False
    return True


def propose_clients(
    members: Sequence[int], past: Sequence[int | None], slots: int
) -> list[int | None]:
    """The clients of `slots` more sessions after `past` ones: each time the member with the
    fewest turns, then the one whose last turn is oldest (never first), then seat order."""
    if not members:
        return [None] * slots
    counts = dict.fromkeys(members, 0)
    last: dict[int, int] = dict.fromkeys(members, -1)
    for index, client in enumerate(past):
        if client in counts:
            counts[client] += 1
            last[client] = index
    order = {person: rank for rank, person in enumerate(members)}
    chosen: list[int | None] = []
    for offset in range(slots):
        pick = min(members, key=lambda p: (counts[p], last[p], order[p]))
        chosen.append(pick)
        counts[pick] += 1
        last[pick] = len(past) + offset
    return chosen


def swapped(
    clients: Sequence[int | None], index: int, volunteer: int, exchangeable: Sequence[int]
) -> list[int | None] | None:
    """The series after the client of session `index` hands it to `volunteer`: exchanged with
    the volunteer's nearest turn among `exchangeable` indexes, else simply taken; None when the
    volunteer has no turn to exchange and cannot take it either (that is for `is_fair`)."""
    client = clients[index]
    theirs = [i for i in exchangeable if i != index and clients[i] == volunteer]
    result = list(clients)
    result[index] = volunteer
    if theirs:
        nearest = min(theirs, key=lambda i: abs(i - index))
        result[nearest] = client
    return result


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupView:
    group: CodevGroup
    community: Community
    facilitator: Person | None
    members: tuple[Person, ...]  # accepted, in seat order
    invited: tuple[Person, ...]  # waiting for their answer
    sessions: tuple[CodevSession, ...]


async def get_group(session: AsyncSession, *, group_id: int) -> CodevGroup | None:
    return await session.get(CodevGroup, group_id)


async def get_session(session: AsyncSession, *, session_id: int) -> CodevSession | None:
    return await session.get(CodevSession, session_id)


async def member_ids(session: AsyncSession, *, group_id: int) -> list[int]:
    """The group's members in seat order (when they accepted)."""
    rows = await session.exec(
        select(CodevSeat)
        .where(CodevSeat.group_id == group_id)
        .where(CodevSeat.status == CodevSeatStatus.MEMBER)
        .order_by(col(CodevSeat.answered_at), col(CodevSeat.id))
    )
    return [seat.person_id for seat in rows.all()]


async def seat_of(session: AsyncSession, *, group_id: int, person_id: int) -> CodevSeat | None:
    return (
        await session.exec(
            select(CodevSeat)
            .where(CodevSeat.group_id == group_id)
            .where(CodevSeat.person_id == person_id)
        )
    ).first()


async def sessions_of(session: AsyncSession, *, group_id: int) -> list[CodevSession]:
    rows = await session.exec(
        select(CodevSession)
        .where(CodevSession.group_id == group_id)
        .order_by(col(CodevSession.number))
    )
    return list(rows.all())


async def _people(session: AsyncSession, ids: Sequence[int]) -> list[Person]:
    if not ids:
        return []
    found = {
        p.id: p for p in (await session.exec(select(Person).where(col(Person.id).in_(ids)))).all()
    }
    return [found[i] for i in ids if i in found]


async def view(session: AsyncSession, *, group_id: int) -> GroupView | None:
    group = await session.get(CodevGroup, group_id)
    if group is None:
        return None
    community = await session.get(Community, group.community_id)
    if community is None:
        return None
    invited_ids = [
        seat.person_id
        for seat in (
            await session.exec(
                select(CodevSeat)
                .where(CodevSeat.group_id == group_id)
                .where(CodevSeat.status == CodevSeatStatus.INVITED)
                .order_by(col(CodevSeat.invited_at), col(CodevSeat.id))
            )
        ).all()
    ]
    facilitator = (
        None if group.facilitator_id is None else await session.get(Person, group.facilitator_id)
    )
    return GroupView(
        group=group,
        community=community,
        facilitator=facilitator,
        members=tuple(await _people(session, await member_ids(session, group_id=group_id))),
        invited=tuple(await _people(session, invited_ids)),
        sessions=tuple(await sessions_of(session, group_id=group_id)),
    )


async def groups_of(session: AsyncSession, *, person_id: int) -> list[CodevGroup]:
    """The groups the person facilitates, sits in or is invited to (not ended), newest first."""
    seated = select(col(CodevSeat.group_id)).where(
        col(CodevSeat.person_id) == person_id,
        col(CodevSeat.status).in_((CodevSeatStatus.INVITED, CodevSeatStatus.MEMBER)),
    )
    rows = await session.exec(
        select(CodevGroup)
        .where(
            (col(CodevGroup.facilitator_id) == person_id)
            | col(CodevGroup.id).in_(seated.scalar_subquery())
        )
        .where(col(CodevGroup.status) != CodevGroupStatus.ENDED)
        .order_by(col(CodevGroup.created_at).desc(), col(CodevGroup.id).desc())
    )
    return list(rows.all())


async def may_create(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    """Coordinators and animators of the community create groups."""
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, *MANAGER_ROLES)


async def may_manage(session: AsyncSession, *, group: CodevGroup, person_id: int) -> bool:
    """The facilitator, and the community's coordinators and animators."""
    if group.facilitator_id == person_id:
        return True
    return await may_create(session, person_id=person_id, community_id=group.community_id)


async def managed_communities(session: AsyncSession, *, person_id: int) -> list[Community]:
    """The communities where the person may create a group."""
    found: list[Community] = []
    for row, community in await memberships_of(session, person_id=person_id):
        if has_role(row, *MANAGER_ROLES):
            found.append(community)
    return found


# -- creating and inviting ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupDraft:
    community_id: int
    name: str
    facilitator_id: int
    seats: int = MAX_SEATS
    rhythm_weeks: int = 6
    # The writer confirmed that what was spotted in the name identifies no client.
    confirmed: bool = False


def check_text(text: str, *, confirmed: bool) -> None:
    """HasIdentifiers when a text others read seems to identify a client, unless all it holds
    is names its writer confirmed are no client's (storage/identifiers.py: only names may be
    confirmed; a phone or file number never)."""
    found = unconfirmed(text, [IdentifierKind.NAME.value] if confirmed else [])
    if found:
        raise HasIdentifiers(found)


async def create_group(
    session: AsyncSession,
    *,
    draft: GroupDraft,
    created_by_id: int,
    request_key: str | None,
    now: datetime,
) -> tuple[CodevGroup, bool]:
    """A new group, FORMING. The same form sent twice (`request_key`) finds the first group;
    True when this call made it."""
    if not await may_create(session, person_id=created_by_id, community_id=draft.community_id):
        raise NotAllowed("only a coordinator or an animator creates a group")
    name = " ".join(draft.name.split())
    if not name:
        raise InvalidGroup("name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidGroup("name_length")
    if not MIN_SEATS <= draft.seats <= MAX_SEATS:
        raise InvalidGroup("seats")
    if draft.rhythm_weeks not in RHYTHM_WEEKS:
        raise InvalidGroup("rhythm")
    facilitator = await membership(
        session, person_id=draft.facilitator_id, community_id=draft.community_id
    )
    if facilitator is None or facilitator.left_at is not None:
        raise InvalidGroup("facilitator")
    check_text(name, confirmed=draft.confirmed)
    key = (request_key or "")[:MAX_REQUEST_KEY_LENGTH] or None
    values: dict[str, Any] = {
        "community_id": draft.community_id,
        "name": name,
        "facilitator_id": draft.facilitator_id,
        "seats": draft.seats,
        "rhythm_weeks": draft.rhythm_weeks,
        "session_minutes": SESSION_MINUTES,
        "status": CodevGroupStatus.FORMING,
        "created_by_id": created_by_id,
        "request_key": key,
        "created_at": now,
    }
    if key is None:
        group = CodevGroup(**values)
        session.add(group)
        await session.flush()
        return group, True
    table: Table = CodevGroup.__table__  # type: ignore[attr-defined]
    created = await insert_if_absent(session, table, values, conflict=["request_key"])
    group = (await session.exec(select(CodevGroup).where(CodevGroup.request_key == key))).one()
    if created:
        logger.info("codevelopment group %s created", group.id)
    return group, created


async def _locked_group(session: AsyncSession, group_id: int) -> CodevGroup:
    """The group's row, locked for the transaction on PostgreSQL (SQLite: BEGIN IMMEDIATE)."""
    group = (
        await session.exec(
            select(CodevGroup)
            .where(CodevGroup.id == group_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if group is None:
        raise NotAllowed("no such group")
    return group


async def invite(
    session: AsyncSession, *, group_id: int, person_ids: Sequence[int], by_id: int, now: datetime
) -> list[CodevSeat]:
    """Invite members of the community; returns the invitations made now (someone already
    invited or seated is skipped; someone who declined is invited again)."""
    group = await _locked_group(session, group_id)
    if not await may_manage(session, group=group, person_id=by_id):
        raise NotAllowed("only the facilitator, a coordinator or an animator invites")
    if group.status != CodevGroupStatus.FORMING:
        raise GroupClosed(group_id)
    made: list[CodevSeat] = []
    for person_id in dict.fromkeys(person_ids):
        if person_id == group.facilitator_id:
            continue
        row = await membership(session, person_id=person_id, community_id=group.community_id)
        if row is None or row.left_at is not None:
            continue
        seat = await seat_of(session, group_id=group_id, person_id=person_id)
        if seat is None:
            seat = CodevSeat(group_id=group_id, person_id=person_id, invited_by_id=by_id)
        elif seat.status in (CodevSeatStatus.INVITED, CodevSeatStatus.MEMBER):
            continue
        seat.status = CodevSeatStatus.INVITED
        seat.invited_by_id = by_id
        seat.invited_at = now
        seat.answered_at = None
        session.add(seat)
        made.append(seat)
    await session.flush()
    return made


async def answer_invitation(
    session: AsyncSession, *, group_id: int, person_id: int, accept: bool, now: datetime
) -> tuple[CodevSeat, bool]:
    """The invitee's answer; True when it changed something (the same answer twice does not)."""
    group = await _locked_group(session, group_id)
    seat = await seat_of(session, group_id=group_id, person_id=person_id)
    if seat is None:
        raise NotAllowed("not invited")
    wanted = CodevSeatStatus.MEMBER if accept else CodevSeatStatus.DECLINED
    if seat.status == wanted:
        return seat, False
    if group.status != CodevGroupStatus.FORMING:
        raise GroupClosed(group_id)
    if seat.status not in (CodevSeatStatus.INVITED, CodevSeatStatus.MEMBER):
        raise NotAllowed("this invitation is no longer open")
    if accept and len(await member_ids(session, group_id=group_id)) >= group.seats:
        raise GroupFull(group_id)
    seat.status = wanted
    seat.answered_at = now
    session.add(seat)
    await session.flush()
    return seat, True


# -- the series -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesDraft:
    first_start: datetime
    count: int
    place: str | None = None
    online_link: str | None = None
    confirmed: bool = False


async def plan_series(
    session: AsyncSession, *, group_id: int, by_id: int, draft: SeriesDraft, now: datetime
) -> tuple[list[CodevSession], bool]:
    """Plan the sessions (every `rhythm_weeks` from the first) and start the group: it is
    closed from now on and unanswered invitations lapse. Each session gets its proposed client.
    A second click finds the series the first planned (False)."""
    group = await _locked_group(session, group_id)
    if not await may_manage(session, group=group, person_id=by_id):
        raise NotAllowed("only the facilitator, a coordinator or an animator plans")
    if group.status != CodevGroupStatus.FORMING:
        existing = await sessions_of(session, group_id=group_id)
        if existing:
            return existing, False
        raise GroupClosed(group_id)
    members = await member_ids(session, group_id=group_id)
    if len(members) < MIN_MEMBERS_TO_START:
        raise InvalidGroup("too_few_members")
    if draft.first_start <= now:
        raise InvalidGroup("date_past")
    if not 1 <= draft.count <= MAX_SESSIONS:
        raise InvalidGroup("count")
    place = " ".join((draft.place or "").split()) or None
    link = (draft.online_link or "").strip() or None
    if place is not None and len(place) > MAX_PLACE_LENGTH:
        raise InvalidGroup("place")
    if link is not None and (len(link) > MAX_LINK_LENGTH or not link.startswith("https://")):
        raise InvalidGroup("link")
    if place is not None:
        check_text(place, confirmed=draft.confirmed)
    clients = propose_clients(members, [], draft.count)
    planned: list[CodevSession] = []
    for index in range(draft.count):
        starts = draft.first_start + timedelta(weeks=group.rhythm_weeks * index)
        row = CodevSession(
            group_id=group_id,
            number=index + 1,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=group.session_minutes),
            place=place,
            online_link=link,
            client_id=clients[index],
        )
        session.add(row)
        planned.append(row)
    group.status = CodevGroupStatus.STARTED
    group.started_at = now
    session.add(group)
    await session.execute(
        update(CodevSeat)
        .where(col(CodevSeat.group_id) == group_id)
        .where(col(CodevSeat.status) == CodevSeatStatus.INVITED)
        .values(status=CodevSeatStatus.LAPSED, answered_at=now)
    )
    await session.flush()
    logger.info("codevelopment group %s started with %d sessions", group_id, draft.count)
    return planned, True


async def _locked_session(session: AsyncSession, session_id: int) -> CodevSession:
    row = (
        await session.exec(
            select(CodevSession)
            .where(CodevSession.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotAllowed("no such session")
    return row


# -- swapping the client's turn -------------------------------------------------------------------


async def _swap_outcome(
    session: AsyncSession, row: CodevSession, volunteer_id: int
) -> tuple[list[CodevSession], list[int | None]]:
    """The series and its clients after the swap; SwapUnfair when it would not be fair."""
    series = [
        s
        for s in await sessions_of(session, group_id=row.group_id)
        if s.status != CodevSessionStatus.CANCELLED
    ]
    clients = [s.client_id for s in series]
    index = next(i for i, s in enumerate(series) if s.id == row.id)
    open_ = [i for i, s in enumerate(series) if s.status == CodevSessionStatus.PLANNED]
    result = swapped(clients, index, volunteer_id, open_)
    members = await member_ids(session, group_id=row.group_id)
    if result is None or not is_fair(members, result):
        raise SwapUnfair(row.id)
    return series, result


async def ask_swap(session: AsyncSession, *, session_id: int, client_id: int) -> bool:
    """The client looks for a volunteer; True when newly asked."""
    row = await _locked_session(session, session_id)
    if row.client_id != client_id:
        raise NotAllowed("only the client hands over their turn")
    if row.status != CodevSessionStatus.PLANNED:
        raise NotYet(session_id)
    if row.swap_open:
        return False
    row.swap_open = True
    session.add(row)
    await session.flush()
    return True


async def volunteer(
    session: AsyncSession, *, session_id: int, volunteer_id: int
) -> tuple[CodevSession, bool]:
    """A member offers to take the turn; the client still has to agree. True when new."""
    row = await _locked_session(session, session_id)
    if volunteer_id not in await member_ids(session, group_id=row.group_id):
        raise NotAllowed("only a member of the group volunteers")
    if row.client_id == volunteer_id:
        raise NotAllowed("the client cannot volunteer for their own turn")
    if row.status != CodevSessionStatus.PLANNED or not row.swap_open:
        raise NotYet(session_id)
    if row.swap_volunteer_id == volunteer_id:
        return row, False
    if row.swap_volunteer_id is not None:
        raise NotAllowed("someone else volunteered first")
    await _swap_outcome(session, row, volunteer_id)
    row.swap_volunteer_id = volunteer_id
    session.add(row)
    await session.flush()
    return row, True


async def answer_swap(
    session: AsyncSession, *, session_id: int, client_id: int, volunteer_id: int, accept: bool
) -> tuple[CodevSession, bool]:
    """The client's answer to a volunteer; on yes, the turns are exchanged. True when it
    changed something (a second click does not)."""
    row = await _locked_session(session, session_id)
    if accept and row.client_id == volunteer_id and not row.swap_open:
        return row, False  # already swapped by a first click
    if row.client_id != client_id:
        raise NotAllowed("only the client answers")
    if row.swap_volunteer_id != volunteer_id or row.status != CodevSessionStatus.PLANNED:
        if not accept and row.swap_volunteer_id is None:
            return row, False
        raise NotYet(session_id)
    if not accept:
        row.swap_volunteer_id = None
        session.add(row)
        await session.flush()
        return row, True
    series, clients = await _swap_outcome(session, row, volunteer_id)
    for planned, client in zip(series, clients, strict=True):
        if planned.client_id != client:
            planned.client_id = client
            planned.swap_open = False
            planned.swap_volunteer_id = None
            session.add(planned)
    await session.flush()
    return row, True


# -- driving a session ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepTime:
    number: int
    planned_minutes: int
    spent_minutes: int | None  # None for a step not begun
    current: bool


def step_times(row: CodevSession, *, now: datetime) -> list[StepTime]:
    """Each step's planned and spent minutes, from when the facilitator moved on."""
    starts = [datetime.fromisoformat(s) for s in row.step_started]
    times: list[StepTime] = []
    for index, planned in enumerate(STEP_MINUTES):
        number = index + 1
        if index >= len(starts):
            times.append(StepTime(number, planned, None, False))
            continue
        current = row.step == number
        end = now if current or index + 1 >= len(starts) else starts[index + 1]
        spent = max(int((end - starts[index]).total_seconds() // 60), 0)
        times.append(StepTime(number, planned, spent, current))
    return times


async def advance(
    session: AsyncSession, *, session_id: int, by_id: int, expected_step: int, now: datetime
) -> tuple[CodevSession, bool]:
    """Move the session from `expected_step` to the next (0 → 1 starts it, 6 → 7 ends it).
    Only the group's facilitator; False when the session is no longer at `expected_step` (a
    second click, a stale card): nothing moves twice."""
    row = await _locked_session(session, session_id)
    group = await session.get(CodevGroup, row.group_id)
    if group is None or group.facilitator_id != by_id:
        raise NotAllowed("only the facilitator moves the session on")
    if row.status in (CodevSessionStatus.CANCELLED,) or row.step != expected_step:
        return row, False
    if row.step >= FINISHED_STEP:
        return row, False
    row.step_started = [*row.step_started, now.isoformat()]
    row.step += 1
    row.status = (
        CodevSessionStatus.DONE if row.step >= FINISHED_STEP else CodevSessionStatus.IN_PROGRESS
    )
    row.swap_open = False
    row.swap_volunteer_id = None
    session.add(row)
    await session.flush()
    return row, True


async def bind_conversation(
    session: AsyncSession, *, group_id: int, by_id: int, conversation_ref_id: int
) -> CodevGroup:
    """The facilitator chooses where the session cards are posted (a channel or group chat)."""
    group = await _locked_group(session, group_id)
    if group.facilitator_id != by_id:
        raise NotAllowed("only the facilitator")
    group.conversation_ref_id = conversation_ref_id
    session.add(group)
    await session.flush()
    return group


async def record_posted(
    session: AsyncSession, *, session_id: int, conversation_ref_id: int, activity_id: str
) -> None:
    row = await _locked_session(session, session_id)
    row.conversation_ref_id = conversation_ref_id
    row.activity_id = activity_id
    session.add(row)
    await session.flush()


async def current_session(
    session: AsyncSession, *, group_id: int, now: datetime
) -> CodevSession | None:
    """The session the facilitator drives now: one in progress, else the next one planned."""
    series = await sessions_of(session, group_id=group_id)
    for row in series:
        if row.status == CodevSessionStatus.IN_PROGRESS:
            return row
    planned = [r for r in series if r.status == CodevSessionStatus.PLANNED]
    return planned[0] if planned else None


# -- private notes --------------------------------------------------------------------------------


async def save_note(
    session: AsyncSession, *, session_id: int, person_id: int, kind: str, text: str, now: datetime
) -> CodevPrivateNote:
    """The author's own note (replaced when sent again). The client writes the plan from step 5
    and the follow-up once the session is over; members and the facilitator their learning
    notes from step 6."""
    if kind not in NOTE_KINDS:
        raise InvalidGroup("note_kind")
    text = text.strip()
    if not text:
        raise InvalidGroup("note_empty")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidGroup("note_length")
    row = await session.get(CodevSession, session_id)
    if row is None:
        raise NotAllowed("no such session")
    if kind in (NOTE_PLAN, NOTE_FOLLOWUP):
        if row.client_id != person_id:
            raise NotAllowed("only the client")
        if row.step < (STEP_PLAN if kind == NOTE_PLAN else FINISHED_STEP):
            raise NotYet(session_id)
    else:
        group = await session.get(CodevGroup, row.group_id)
        members = await member_ids(session, group_id=row.group_id)
        if group is None or (person_id not in members and person_id != group.facilitator_id):
            raise NotAllowed("only the group's members")
        if row.step < STEP_LEARNING:
            raise NotYet(session_id)
    note = (
        await session.exec(
            select(CodevPrivateNote)
            .where(CodevPrivateNote.session_id == session_id)
            .where(CodevPrivateNote.person_id == person_id)
            .where(CodevPrivateNote.kind == kind)
        )
    ).first()
    if note is None:
        note = CodevPrivateNote(session_id=session_id, person_id=person_id, kind=kind, text=text)
    note.text = text
    note.updated_at = now
    session.add(note)
    await session.flush()
    return note


async def own_note(
    session: AsyncSession, *, session_id: int, person_id: int, kind: str
) -> CodevPrivateNote | None:
    """The person's own note, never anyone else's."""
    return (
        await session.exec(
            select(CodevPrivateNote)
            .where(CodevPrivateNote.session_id == session_id)
            .where(CodevPrivateNote.person_id == person_id)
            .where(CodevPrivateNote.kind == kind)
        )
    ).first()


# -- attendance -----------------------------------------------------------------------------------


async def record_attendance(
    session: AsyncSession,
    *,
    session_id: int,
    by_id: int,
    present_ids: Sequence[int],
    now: datetime,
) -> int:
    """The facilitator confirms who came (members only), each for the session's length; sent
    again, it replaces the list. Returns how many are recorded."""
    row = await _locked_session(session, session_id)
    group = await session.get(CodevGroup, row.group_id)
    if group is None or group.facilitator_id != by_id:
        raise NotAllowed("only the facilitator")
    if row.status != CodevSessionStatus.DONE:
        raise NotYet(session_id)
    members = set(await member_ids(session, group_id=row.group_id))
    present = [p for p in dict.fromkeys(present_ids) if p in members]
    minutes = int((row.ends_at - row.starts_at).total_seconds() // 60)
    await session.execute(
        delete(CodevAttendance)
        .where(col(CodevAttendance.session_id) == session_id)
        .where(col(CodevAttendance.person_id).not_in(present))
    )
    table: Table = CodevAttendance.__table__  # type: ignore[attr-defined]
    for person_id in present:
        await insert_if_absent(
            session,
            table,
            {
                "session_id": session_id,
                "person_id": person_id,
                "minutes": minutes,
                "confirmed_by_id": by_id,
                "confirmed_at": now,
            },
            conflict=["session_id", "person_id"],
        )
    row.attendance_confirmed_at = now
    session.add(row)
    await session.flush()
    return len(present)


@dataclass(frozen=True, slots=True)
class AttendedSession:
    """A session someone attended, as attestations count it (like a meeting)."""

    session_id: int
    community_id: int
    title: str  # the group's name
    number: int
    starts_at: datetime
    ends_at: datetime
    minutes: int


async def attended_sessions(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    person_id: int | None = None,
    community_id: int | None = None,
) -> list[tuple[int, AttendedSession]]:
    """(person id, session) for confirmed attendance of sessions begun in [since, until)."""
    query = (
        select(CodevAttendance, CodevSession, CodevGroup)
        .join(CodevSession, col(CodevSession.id) == col(CodevAttendance.session_id))
        .join(CodevGroup, col(CodevGroup.id) == col(CodevSession.group_id))
        .where(col(CodevSession.starts_at) >= since)
        .where(col(CodevSession.starts_at) < until)
        .where(col(CodevSession.attendance_confirmed_at).is_not(None))
        .order_by(col(CodevSession.starts_at), col(CodevSession.id))
    )
    if person_id is not None:
        query = query.where(col(CodevAttendance.person_id) == person_id)
    if community_id is not None:
        query = query.where(col(CodevGroup.community_id) == community_id)
    rows = (await session.exec(query)).all()
    return [
        (
            attendance.person_id,
            AttendedSession(
                session_id=row.id or 0,
                community_id=group.community_id,
                title=group.name,
                number=row.number,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                minutes=max(attendance.minutes, 0),
            ),
        )
        for attendance, row, group in rows
    ]


# -- reminders ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueReminder:
    session_id: int
    starts_at: datetime
    person_id: int
    offset: str


async def due_reminders(session: AsyncSession, *, now: datetime) -> list[DueReminder]:
    """J-7 and J-1 (only the latest due after downtime) for the members and the facilitator of
    started groups who consented to reminders."""
    rows = (
        await session.exec(
            select(CodevSession, CodevGroup)
            .join(CodevGroup, col(CodevGroup.id) == col(CodevSession.group_id))
            .where(col(CodevSession.status) == CodevSessionStatus.PLANNED)
            .where(col(CodevGroup.status) == CodevGroupStatus.STARTED)
            .where(col(CodevSession.starts_at) > now)
            .where(col(CodevSession.starts_at) <= now + timedelta(days=8))
        )
    ).all()
    found: list[DueReminder] = []
    for row, group in rows:
        offset = latest_due_offset(row.starts_at, now, list(REMINDER_OFFSETS))
        if offset is None or row.id is None or group.id is None:
            continue
        people = await member_ids(session, group_id=group.id)
        if group.facilitator_id is not None:
            people.append(group.facilitator_id)
        consenting = (
            await session.exec(
                select(col(Person.id))
                .where(col(Person.id).in_(people))
                .where(col(Person.consent_reminders).is_(True))
            )
        ).all()
        found.extend(
            DueReminder(row.id, row.starts_at, person_id, offset)
            for person_id in sorted(int(p) for p in consenting if p is not None)
        )
    return found


# -- privacy --------------------------------------------------------------------------------------


async def export_person(session: AsyncSession, *, person_id: int) -> dict[str, Any]:
    """The person's seats, client turns, attendance and private notes (theirs only)."""
    seats = (
        await session.exec(
            select(CodevSeat, CodevGroup)
            .join(CodevGroup, col(CodevGroup.id) == col(CodevSeat.group_id))
            .where(col(CodevSeat.person_id) == person_id)
            .order_by(col(CodevSeat.id))
        )
    ).all()
    facilitated = (
        await session.exec(select(CodevGroup).where(col(CodevGroup.facilitator_id) == person_id))
    ).all()
    turns = (
        await session.exec(
            select(CodevSession)
            .where(col(CodevSession.client_id) == person_id)
            .order_by(col(CodevSession.starts_at))
        )
    ).all()
    notes = (
        await session.exec(
            select(CodevPrivateNote)
            .where(col(CodevPrivateNote.person_id) == person_id)
            .order_by(col(CodevPrivateNote.id))
        )
    ).all()
    attended = (
        await session.exec(
            select(CodevAttendance)
            .where(col(CodevAttendance.person_id) == person_id)
            .order_by(col(CodevAttendance.id))
        )
    ).all()
    return {
        "seats": [
            {"group": group.name, "status": str(seat.status), "invited_at": _iso(seat.invited_at)}
            for seat, group in seats
        ],
        "facilitated_groups": [group.name for group in facilitated],
        "client_turns": [
            {"session_id": s.id, "starts_at": _iso(s.starts_at), "status": str(s.status)}
            for s in turns
        ],
        "attendance": [{"session_id": a.session_id, "minutes": a.minutes} for a in attended],
        "private_notes": [
            {
                "session_id": n.session_id,
                "kind": n.kind,
                "text": n.text,
                "updated_at": _iso(n.updated_at),
            }
            for n in notes
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def erase_person(
    session: AsyncSession, *, person_id: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Erase the person from codevelopment: their private notes and seats go; their turns as
    client still to come are proposed to the remaining members; a group they facilitated waits
    for a new facilitator; their attendance stays (hours already attested, like meetings).
    Returns (deleted, anonymised) counts by kind of record; idempotent."""
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}

    def count(bucket: dict[str, int], name: str, result: Any) -> None:
        number = int(getattr(result, "rowcount", 0) or 0)
        if number:
            bucket[name] = bucket.get(name, 0) + number

    count(
        deleted,
        "codev_notes",
        await session.execute(
            delete(CodevPrivateNote).where(col(CodevPrivateNote.person_id) == person_id)
        ),
    )
    groups = {
        seat.group_id
        for seat in (
            await session.exec(select(CodevSeat).where(col(CodevSeat.person_id) == person_id))
        ).all()
    }
    count(
        deleted,
        "codev_seats",
        await session.execute(delete(CodevSeat).where(col(CodevSeat.person_id) == person_id)),
    )
    count(
        anonymised,
        "codev_groups",
        await session.execute(
            update(CodevGroup)
            .where(col(CodevGroup.facilitator_id) == person_id)
            .values(facilitator_id=None)
        ),
    )
    count(
        anonymised,
        "codev_swaps",
        await session.execute(
            update(CodevSession)
            .where(col(CodevSession.swap_volunteer_id) == person_id)
            .values(swap_volunteer_id=None)
        ),
    )
    for group_id in sorted(groups):
        series = [
            s
            for s in await sessions_of(session, group_id=group_id)
            if s.status != CodevSessionStatus.CANCELLED
        ]
        if not any(
            s.client_id == person_id and s.status == CodevSessionStatus.PLANNED for s in series
        ):
            continue
        members = await member_ids(session, group_id=group_id)
        # The series is proposed again from the first turn the person held: the members
        # after it take their turns as the rotation says, so it stays fair.
        first = next(
            i
            for i, s in enumerate(series)
            if s.client_id == person_id and s.status == CodevSessionStatus.PLANNED
        )
        fixed = [s.client_id for s in series[:first]]
        to_plan = [s for s in series[first:] if s.status == CodevSessionStatus.PLANNED]
        for row, client in zip(to_plan, propose_clients(members, fixed, len(to_plan)), strict=True):
            if row.client_id != client:
                row.client_id = client
                row.swap_open = False
                row.swap_volunteer_id = None
                session.add(row)
                anonymised["codev_turns"] = anonymised.get("codev_turns", 0) + 1
    await session.flush()
    return deleted, anonymised
