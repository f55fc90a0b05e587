"""Professional consultation requests: confidential, fairly assigned, followed to the end.

A request moves submitted → assigned → in progress → closed, or is withdrawn by its requester
at any point before closing. Its content (summary, availability, and the requester's comment
on usefulness) is read only by the requester, the assignee and the community's coordinators;
everyone else gets counts. Every rule is checked here, whatever a card or a command claimed,
and every read of content and every change is an audit event (who, what, when — codes and ids,
never the content). The messages a change calls for are queued in the same transaction.

Assignment is collegial: the coordinators receive each request with a suggestion — among
coordinators and volunteer consultants, whoever declared expertise for the motive, then the
fewest open requests, then the longest since their last assignment, then the lowest id — and
the suggestion and its reason are kept with the request. A coordinator takes it, gives it to a
colleague, or declines it for themselves with a reason (never suggested again for it).
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.collation import name_key
from storage.communities import NotAllowed, has_role, membership, people_with_role
from storage.identifiers import HasIdentifiers, unconfirmed
from storage.models import (
    Community,
    ConsultationEvent,
    ConsultationRequest,
    ConsultationStatus,
    Membership,
    Person,
    Role,
)

# Re-exported: requests wait, and are reminded and escalated, in working days.
from storage.working_days import add_working_days as add_working_days
from storage.working_days import working_days_between as working_days_between

logger = logging.getLogger(__name__)

# The motives of DOMAIN.md ("Professional support"); also the codes of declared expertise.
MOTIVES = ("ethical_dilemma", "intervention", "complex_situation", "orientation", "other")
URGENCIES = ("this_week", "this_month", "no_rush")
MODALITIES = ("one_to_one", "case_discussion", "codevelopment")
# Why someone cannot take a request. Codes only: a free text could carry client details into
# the audit trail.
DECLINE_REASONS = ("unavailable", "conflict_of_interest", "outside_expertise", "other")
# The reason recorded when an assignee's erasure hands their requests back (not a choice).
ERASED_REASON = "erased"
MIN_SUMMARY_LENGTH = 20
MAX_SUMMARY_LENGTH = 4000
MIN_AVAILABILITY_LENGTH = 2
MAX_AVAILABILITY_LENGTH = 500
MAX_COMMENT_LENGTH = 1000
RATINGS = range(1, 6)

OPEN_STATUSES = (
    ConsultationStatus.SUBMITTED,
    ConsultationStatus.ASSIGNED,
    ConsultationStatus.IN_PROGRESS,
)
# What counts as a consultant's load: requests they hold and have not closed.
LOAD_STATUSES = (ConsultationStatus.ASSIGNED, ConsultationStatus.IN_PROGRESS)
ENDED_STATUSES = (ConsultationStatus.CLOSED, ConsultationStatus.WITHDRAWN)
# Average usefulness is shown from this many ratings on: fewer could point at one person.
MIN_RATINGS_FOR_AVERAGE = 5

# Outbox kinds (renderers in bot/consultations_flow.py). Every one re-checks, at send time,
# that the recipient may still read what it shows.
KIND_NEW = "consultation_new"  # coordinators: the request, with take / give / decline
KIND_REMINDER = "consultation_reminder"  # coordinators: still unassigned after N working days
KIND_WAITING = "consultation_waiting"  # animators: a request waits (reference, age, counts)
KIND_ASSIGNED = "consultation_assigned"  # the assignee, when a coordinator gave it to them
KIND_ASSIGNED_NOTICE = "consultation_assigned_notice"  # the other coordinators: who took it
KIND_TAKEN = "consultation_taken"  # the requester: who took it
KIND_RETURNED = "consultation_returned"  # the requester: the assignee handed it back
KIND_WITHDRAWN = "consultation_withdrawn"  # the assignee: the requester withdrew it
KIND_FEEDBACK = "consultation_feedback"  # the requester, once closed: how useful was it?


class Action(enum.StrEnum):
    """What an audit event records."""

    SUBMITTED = "submitted"
    SUGGESTED = "suggested"
    READ = "read"
    READ_DENIED = "read_denied"
    DECLINED = "declined"
    ASSIGNED = "assigned"
    HANDED_BACK = "handed_back"
    STARTED = "started"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    RATED = "rated"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    SUMMARY_ERASED = "summary_erased"


class Viewer(enum.StrEnum):
    """Why someone may read a request's content."""

    REQUESTER = "requester"
    ASSIGNEE = "assignee"
    COORDINATOR = "coordinator"


class NoSuchRequest(NotAllowed):
    """No request with this id (a stale or forged card)."""


class WrongStatus(NotAllowed):
    """The request is no longer where this action applies (taken, closed, withdrawn…)."""

    def __init__(self, request: ConsultationRequest) -> None:
        super().__init__(f"request is {request.status}")
        self.status = ConsultationStatus(request.status)
        self.assignee_id = request.assignee_id


class NoCoordinator(Exception):
    """The community has no coordinator (other than the requester) to receive requests."""


# -- shapes handed to cards ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestLine:
    """A request without its content: what lists show to people allowed to see the request."""

    id: int
    reference: str
    community_id: int
    community_name: str
    motive: str
    urgency: str
    modality: str
    status: ConsultationStatus
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    requester_id: int
    requester_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    rated: bool


@dataclass(frozen=True, slots=True)
class RequestContent:
    """A request with its content. Only `read_request` builds one, after checking the viewer
    and recording the read."""

    line: RequestLine
    summary: str | None  # None once erased by the retention job
    availability: str | None
    summary_erased_at: datetime | None
    suggested_id: int | None
    suggested_name: str | None
    suggestion_reason: str | None
    usefulness_rating: int | None
    usefulness_comment: str | None
    viewer: frozenset[Viewer]


@dataclass(frozen=True, slots=True)
class Candidate:
    """Someone who could take a request, with what the suggestion rests on."""

    person: Person
    is_coordinator: bool
    matches: bool  # declared expertise for the request's motive
    load: int  # requests assigned or in progress, in every community
    last_assigned_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class SuggestionReason:
    matches: bool
    load: int
    last_assigned_on: date | None


@dataclass(frozen=True, slots=True)
class ConsultationCounts:
    """What anyone may know about a community's requests: numbers only."""

    submitted: int = 0
    assigned: int = 0
    in_progress: int = 0
    closed: int = 0
    withdrawn: int = 0
    rated: int = 0
    # None below MIN_RATINGS_FOR_AVERAGE ratings.
    average_usefulness: float | None = None

    @property
    def open(self) -> int:
        return self.submitted + self.assigned + self.in_progress

    @property
    def total(self) -> int:
        return self.open + self.closed + self.withdrawn


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    reference: str
    actor_id: int | None  # None: the bot itself (suggestions, reminders, retention)
    actor_name: str | None
    action: str
    detail: str | None  # codes and ids only (« to=12;suggestion=followed »)
    # The person a detail names (to whom it was assigned, who was suggested), by name.
    subject_name: str | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """What the requester answered in the dialog."""

    motive: str
    summary: str
    urgency: str
    modality: str
    availability: str
    # Kinds spotted in the summary that the requester confirmed identify no one; only names
    # count (storage.identifiers.unconfirmed), whatever the dialog sent.
    confirmed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A changed request, and how many messages were queued (to wake the dispatcher)."""

    request: ConsultationRequest
    queued: int = 0
    changed: bool = True
    # decline(): the assignee gave the request back (rather than a coordinator declining it).
    handed_back: bool = False


# -- reading -----------------------------------------------------------------------------------


def _aware(moment: Any) -> datetime | None:
    # Aggregates bypass the column type on SQLite and come back naive (UTC) or as text.
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def get_request(session: AsyncSession, *, request_id: int) -> ConsultationRequest | None:
    return await session.get(ConsultationRequest, request_id)


async def request_by_reference(
    session: AsyncSession, *, reference: str
) -> ConsultationRequest | None:
    return (
        await session.exec(
            select(ConsultationRequest).where(
                ConsultationRequest.reference == reference.strip().upper()
            )
        )
    ).first()


async def _locked(session: AsyncSession, request_id: int) -> ConsultationRequest:
    # FOR UPDATE serialises two coordinators acting on the same request on PostgreSQL;
    # SQLite has a single writer anyway.
    request = (
        await session.exec(
            select(ConsultationRequest)
            .where(ConsultationRequest.id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if request is None:
        raise NoSuchRequest(request_id)
    return request


async def is_coordinator(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, Role.COORDINATOR)


async def coordinators(session: AsyncSession, *, community_id: int) -> list[Person]:
    return await people_with_role(session, community_id=community_id, roles=[Role.COORDINATOR])


async def viewer_roles(
    session: AsyncSession, request: ConsultationRequest, person_id: int
) -> frozenset[Viewer]:
    """Why this person may read the request's content; empty when they may not."""
    roles: set[Viewer] = set()
    if request.requester_id == person_id:
        roles.add(Viewer.REQUESTER)
    if request.assignee_id == person_id:
        roles.add(Viewer.ASSIGNEE)
    if await is_coordinator(session, person_id=person_id, community_id=request.community_id):
        roles.add(Viewer.COORDINATOR)
    return frozenset(roles)


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    rows = await session.exec(select(Person).where(col(Person.id).in_(ids)))
    return {person.id or 0: person.name for person in rows.all()}


async def _lines(
    session: AsyncSession, requests: Sequence[tuple[ConsultationRequest, Community]]
) -> list[RequestLine]:
    ids = {r.requester_id for r, _ in requests} | {
        r.assignee_id for r, _ in requests if r.assignee_id is not None
    }
    names = await _names(session, ids)
    return [
        RequestLine(
            id=request.id or 0,
            reference=request.reference,
            community_id=request.community_id,
            community_name=community.name,
            motive=request.motive,
            urgency=request.urgency,
            modality=request.modality,
            status=ConsultationStatus(request.status),
            created_at=request.created_at,
            assigned_at=request.assigned_at,
            closed_at=request.closed_at,
            requester_id=request.requester_id,
            requester_name=names.get(request.requester_id),
            assignee_id=request.assignee_id,
            assignee_name=None if request.assignee_id is None else names.get(request.assignee_id),
            rated=request.usefulness_rating is not None,
        )
        for request, community in requests
    ]


async def line_of(session: AsyncSession, *, request: ConsultationRequest) -> RequestLine:
    """One request without its content (for a caller that checked who it is for)."""
    community = await session.get(Community, request.community_id)
    assert community is not None
    (line,) = await _lines(session, [(request, community)])
    return line


def _with_community() -> Any:
    return select(ConsultationRequest, Community).join(
        Community, col(Community.id) == col(ConsultationRequest.community_id)
    )


async def lines_of_requester(session: AsyncSession, *, person_id: int) -> list[RequestLine]:
    """The person's own requests, newest first (`mes demandes`)."""
    rows = await session.exec(
        _with_community()
        .where(ConsultationRequest.requester_id == person_id)
        .order_by(col(ConsultationRequest.created_at).desc(), col(ConsultationRequest.id).desc())
    )
    return await _lines(session, list(rows.all()))


async def lines_of_assignee(
    session: AsyncSession, *, person_id: int, include_ended: bool = False
) -> list[RequestLine]:
    """Requests the person holds (`demandes assignées`), oldest first: the next to serve."""
    statement = _with_community().where(ConsultationRequest.assignee_id == person_id)
    if not include_ended:
        statement = statement.where(col(ConsultationRequest.status).in_(LOAD_STATUSES))
    rows = await session.exec(
        statement.order_by(col(ConsultationRequest.created_at), col(ConsultationRequest.id))
    )
    return await _lines(session, list(rows.all()))


async def lines_waiting_for(session: AsyncSession, *, coordinator_id: int) -> list[RequestLine]:
    """Unassigned requests of the communities the person coordinates (not their own)."""
    coordinated = [
        m.community_id
        for m in (
            await session.exec(
                select(Membership)
                .where(Membership.person_id == coordinator_id)
                .where(col(Membership.left_at).is_(None))
            )
        ).all()
        if has_role(m, Role.COORDINATOR)
    ]
    if not coordinated:
        return []
    rows = await session.exec(
        _with_community()
        .where(col(ConsultationRequest.community_id).in_(coordinated))
        .where(ConsultationRequest.status == ConsultationStatus.SUBMITTED)
        .where(ConsultationRequest.requester_id != coordinator_id)
        .order_by(col(ConsultationRequest.created_at), col(ConsultationRequest.id))
    )
    return await _lines(session, list(rows.all()))


async def read_request(
    session: AsyncSession, *, request_id: int, viewer_id: int, purpose: str, now: datetime
) -> RequestContent | None:
    """The request with its content, for its requester, its assignee or a coordinator of its
    community; the read is recorded. Anyone else gets None and the refusal is recorded (the
    caller must commit the transaction either way)."""
    request = await session.get(ConsultationRequest, request_id)
    if request is None:
        return None
    content = await _content_for(session, request, viewer_id)
    if content is None:
        _record(session, request, viewer_id, Action.READ_DENIED, purpose, now)
        logger.info("consultation %s: read refused to person %s", request.reference, viewer_id)
        return None
    _record(session, request, viewer_id, Action.READ, purpose, now)
    return content


async def content_to_send(
    session: AsyncSession, *, request_id: int, viewer_id: int
) -> RequestContent | None:
    """What `read_request` returns, without recording a read: for a card that may never reach
    the person (their Teams may not have the bot). Record the read with `record_delivered_read`
    once the card was delivered."""
    request = await session.get(ConsultationRequest, request_id)
    if request is None:
        return None
    return await _content_for(session, request, viewer_id)


async def record_delivered_read(
    session: AsyncSession, *, request_id: int, viewer_id: int, purpose: str, now: datetime
) -> None:
    """The card with the request's content reached `viewer_id`: that is a read."""
    request = await session.get(ConsultationRequest, request_id)
    if request is not None:
        _record(session, request, viewer_id, Action.READ, purpose, now)


async def _content_for(
    session: AsyncSession, request: ConsultationRequest, viewer_id: int
) -> RequestContent | None:
    """The content, for its requester, its assignee or a coordinator of its community."""
    roles = await viewer_roles(session, request, viewer_id)
    if not roles:
        return None
    line = await line_of(session, request=request)
    suggested = (
        None
        if request.suggested_assignee_id is None
        else await session.get(Person, request.suggested_assignee_id)
    )
    return RequestContent(
        line=line,
        summary=request.summary,
        availability=request.availability,
        summary_erased_at=request.summary_erased_at,
        suggested_id=request.suggested_assignee_id,
        suggested_name=suggested.name if suggested else None,
        suggestion_reason=request.suggestion_reason,
        usefulness_rating=request.usefulness_rating,
        usefulness_comment=request.usefulness_comment,
        viewer=roles,
    )


async def counts_for_community(
    session: AsyncSession, community_id: int, *, since: datetime | None = None
) -> ConsultationCounts:
    """How many requests, by status (and how useful, in aggregate): what anyone may know,
    e.g. the vitality summary. `since` keeps requests created from then on."""
    statement = (
        select(ConsultationRequest.status, func.count())
        .where(ConsultationRequest.community_id == community_id)
        .group_by(col(ConsultationRequest.status))
    )
    ratings = (
        select(func.count(), func.avg(ConsultationRequest.usefulness_rating))
        .where(ConsultationRequest.community_id == community_id)
        .where(col(ConsultationRequest.usefulness_rating).is_not(None))
    )
    if since is not None:
        statement = statement.where(col(ConsultationRequest.created_at) >= since)
        ratings = ratings.where(col(ConsultationRequest.created_at) >= since)
    by_status = {str(status): int(count) for status, count in (await session.exec(statement)).all()}
    rated, average = (await session.exec(ratings)).one()
    rated = int(rated or 0)
    return ConsultationCounts(
        submitted=by_status.get(ConsultationStatus.SUBMITTED, 0),
        assigned=by_status.get(ConsultationStatus.ASSIGNED, 0),
        in_progress=by_status.get(ConsultationStatus.IN_PROGRESS, 0),
        closed=by_status.get(ConsultationStatus.CLOSED, 0),
        withdrawn=by_status.get(ConsultationStatus.WITHDRAWN, 0),
        rated=rated,
        average_usefulness=(
            round(float(average), 1)
            if average is not None and rated >= MIN_RATINGS_FOR_AVERAGE
            else None
        ),
    )


async def audit_trail(
    session: AsyncSession,
    *,
    community_id: int,
    viewer_id: int,
    reference: str | None = None,
    limit: int = 40,
) -> list[AuditEntry]:
    """The latest events of the community's requests, newest first: coordinators only."""
    if not await is_coordinator(session, person_id=viewer_id, community_id=community_id):
        raise NotAllowed("only coordinators read the audit trail")
    statement = (
        select(ConsultationEvent, ConsultationRequest)
        .join(
            ConsultationRequest,
            col(ConsultationRequest.id) == col(ConsultationEvent.request_id),
        )
        .where(ConsultationRequest.community_id == community_id)
    )
    if reference:
        statement = statement.where(ConsultationRequest.reference == reference.strip().upper())
    rows = (
        await session.exec(
            statement.order_by(
                col(ConsultationEvent.at).desc(), col(ConsultationEvent.id).desc()
            ).limit(limit)
        )
    ).all()
    subjects = {event.id: _subject_id(event.detail) for event, _ in rows}
    names = await _names(
        session,
        {e.actor_id for e, _ in rows if e.actor_id is not None}
        | {s for s in subjects.values() if s is not None},
    )
    return [
        AuditEntry(
            at=event.at,
            reference=request.reference,
            actor_id=event.actor_id,
            actor_name=None if event.actor_id is None else names.get(event.actor_id),
            action=event.action,
            detail=event.detail,
            subject_name=(None if (subject := subjects[event.id]) is None else names.get(subject)),
        )
        for event, request in rows
    ]


def detail_values(detail: str | None) -> dict[str, str]:
    """« to=12;suggestion=followed » → {"to": "12", "suggestion": "followed"}; a bare code
    (a reason) comes back as {"code": …}."""
    values: dict[str, str] = {}
    for part in (detail or "").split(";"):
        key, sign, value = part.partition("=")
        if sign:
            values[key] = value
        elif part:
            values.setdefault("code", part)
    return values


def _subject_id(detail: str | None) -> int | None:
    values = detail_values(detail)
    found = values.get("to") or values.get("person")
    return int(found) if found and found.isascii() and found.isdigit() else None


# -- suggestions -------------------------------------------------------------------------------


def _reason(matches: bool, load: int, last: datetime | None) -> str:
    last_text = "never" if last is None else f"{last:%Y-%m-%d}"
    return f"{'expertise' if matches else 'no_expertise'};open={load};last={last_text}"


def parse_reason(reason: str | None) -> SuggestionReason | None:
    """Read back a stored reason (« expertise;open=1;last=2026-11-20 »)."""
    if not reason:
        return None
    head, *rest = reason.split(";")
    parts: dict[str, str] = {}
    for part in rest:
        key, _, value = part.partition("=")
        parts[key] = value
    try:
        load = int(parts.get("open", ""))
        last = None if parts.get("last", "never") == "never" else date.fromisoformat(parts["last"])
    except ValueError:
        return None
    return SuggestionReason(matches=head == "expertise", load=load, last_assigned_on=last)


async def _recused(session: AsyncSession, request_id: int) -> set[int]:
    """People who declined or handed back this request: never suggested for it again."""
    rows = await session.exec(
        select(ConsultationEvent.actor_id)
        .where(ConsultationEvent.request_id == request_id)
        .where(col(ConsultationEvent.action).in_([Action.DECLINED, Action.HANDED_BACK]))
    )
    return {actor for actor in rows.all() if actor is not None}


async def candidates(session: AsyncSession, *, request: ConsultationRequest) -> list[Candidate]:
    """Coordinators and volunteer consultants of the request's community who could take it,
    best first: declared expertise for the motive, then the fewest open requests (counted in
    every community: a person's time is one), then the longest since their last assignment
    (never first), then the lowest id, so the order never depends on chance."""
    recused = await _recused(session, request.id or 0)
    loads = {
        person_id: int(count)
        for person_id, count in (
            await session.exec(
                select(ConsultationRequest.assignee_id, func.count())
                .where(col(ConsultationRequest.status).in_(LOAD_STATUSES))
                .where(col(ConsultationRequest.assignee_id).is_not(None))
                .group_by(col(ConsultationRequest.assignee_id))
            )
        ).all()
        if person_id is not None
    }
    last_assigned = {
        person_id: _aware(last)
        for person_id, last in (
            await session.exec(
                select(ConsultationRequest.assignee_id, func.max(ConsultationRequest.assigned_at))
                .where(col(ConsultationRequest.assignee_id).is_not(None))
                .group_by(col(ConsultationRequest.assignee_id))
            )
        ).all()
        if person_id is not None
    }
    community = await session.get(Community, request.community_id)
    # Only current members (an erased person's memberships are ended), of the community's
    # organisation (a guest from another tenant does not take its requests).
    statement = (
        select(Membership, Person)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(Membership.community_id == request.community_id)
        .where(col(Membership.left_at).is_(None))
        .where(Membership.person_id != request.requester_id)
    )
    if community is not None and community.tenant_id:
        statement = statement.where(col(Person.tenant_id) == community.tenant_id)
    rows = await session.exec(statement)
    found: list[Candidate] = []
    for row, person in rows.all():
        expertise = row.consultant_expertise or []
        coordinator = has_role(row, Role.COORDINATOR)
        if (not coordinator and not expertise) or row.person_id in recused:
            continue
        matches = request.motive in expertise
        load = loads.get(row.person_id, 0)
        last = last_assigned.get(row.person_id)
        found.append(
            Candidate(
                person=person,
                is_coordinator=coordinator,
                matches=matches,
                load=load,
                last_assigned_at=last,
                reason=_reason(matches, load, last),
            )
        )
    never = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda c: (not c.matches, c.load, c.last_assigned_at or never, c.person.id or 0))
    return found


async def colleagues(
    session: AsyncSession, *, request: ConsultationRequest, viewer_id: int
) -> list[Candidate]:
    """Whom a coordinator may hand the request to (« Confier à un·e collègue »): the
    candidates other than themself (« Je la prends » is their own button), in the order a
    French reader looks names up."""
    found = [c for c in await candidates(session, request=request) if c.person.id != viewer_id]
    return sorted(found, key=lambda c: (name_key(c.person.name), c.person.id or 0))


async def _suggest(session: AsyncSession, request: ConsultationRequest, now: datetime) -> None:
    """Record the current best candidate on the request and in the audit trail."""
    ranked = await candidates(session, request=request)
    best = ranked[0] if ranked else None
    request.suggested_assignee_id = best.person.id if best else None
    request.suggestion_reason = best.reason if best else None
    detail = "none" if best is None else f"person={best.person.id};{best.reason}"
    _record(session, request, None, Action.SUGGESTED, detail, now)


# -- changes -----------------------------------------------------------------------------------


def _record(
    session: AsyncSession,
    request: ConsultationRequest,
    actor_id: int | None,
    action: Action,
    detail: str | None,
    now: datetime,
) -> ConsultationEvent:
    event = ConsultationEvent(
        request_id=request.id or 0,
        actor_id=actor_id,
        action=action.value,
        detail=None if detail is None else detail[:300],
        at=now,
    )
    session.add(event)
    return event


def _message_key(request: ConsultationRequest, event: ConsultationEvent, person_id: int) -> str:
    # Keyed by the event that called for it: a request handed back and taken again gets new
    # messages, while a replayed transaction queues nothing twice.
    return f"consultation:{request.id}:event:{event.id}:to:{person_id}"


async def _queue(
    session: AsyncSession,
    request: ConsultationRequest,
    event: ConsultationEvent,
    kind: str,
    people: Sequence[int],
    **params: Any,
) -> int:
    await session.flush()  # the event's id is part of the key
    queued = 0
    for person_id in dict.fromkeys(people):
        queued += await outbox.enqueue(
            session,
            dedup_key=_message_key(request, event, person_id),
            recipient=outbox.Recipient.person(person_id),
            kind=kind,
            params={"request_id": request.id, **params},
        )
    return queued


async def _coordinator_ids(
    session: AsyncSession, request: ConsultationRequest, *, besides: Sequence[int | None] = ()
) -> list[int]:
    skip = {request.requester_id, *besides}
    return [
        p.id
        for p in await coordinators(session, community_id=request.community_id)
        if p.id is not None and p.id not in skip
    ]


def validate_draft(draft: Draft) -> None:
    """Raise ValueError (HasIdentifiers for a summary that seems to identify a client, but for
    the names the requester confirmed identify no one)."""
    if draft.motive not in MOTIVES or draft.urgency not in URGENCIES:
        raise ValueError("unknown motive or urgency")
    if draft.modality not in MODALITIES:
        raise ValueError("unknown modality")
    summary = draft.summary.strip()
    if not MIN_SUMMARY_LENGTH <= len(summary) <= MAX_SUMMARY_LENGTH:
        raise ValueError("summary length")
    if not MIN_AVAILABILITY_LENGTH <= len(draft.availability.strip()) <= MAX_AVAILABILITY_LENGTH:
        raise ValueError("availability length")
    found = unconfirmed(summary, draft.confirmed)
    if found:
        raise HasIdentifiers(found)


async def can_request(session: AsyncSession, *, person_id: int, community_id: int) -> None:
    """Raise NotAllowed (not an active member) or NoCoordinator (nobody would receive it)."""
    row = await membership(session, person_id=person_id, community_id=community_id)
    if row is None or row.left_at is not None:
        raise NotAllowed("not an active member")
    others = [
        p for p in await coordinators(session, community_id=community_id) if p.id != person_id
    ]
    if not others:
        raise NoCoordinator(community_id)


async def submit(
    session: AsyncSession,
    *,
    community_id: int,
    requester_id: int,
    draft: Draft,
    now: datetime,
    timezone: str,
) -> Outcome:
    """Save a request (checked again here), suggest a consultant and send the request to the
    coordinators. The reference (C-2026-0042) is built from the row's id, so two requests
    submitted at once can never get the same one."""
    validate_draft(draft)
    await can_request(session, person_id=requester_id, community_id=community_id)
    request = ConsultationRequest(
        # A unique placeholder until the id is known (a flush away).
        reference=f"pending-{uuid.uuid4().hex[:24]}",
        community_id=community_id,
        requester_id=requester_id,
        motive=draft.motive,
        summary=draft.summary.strip(),
        urgency=draft.urgency,
        modality=draft.modality,
        availability=draft.availability.strip(),
        status=ConsultationStatus.SUBMITTED,
        created_at=now,
    )
    session.add(request)
    await session.flush()
    request.reference = f"C-{now.astimezone(ZoneInfo(timezone)).year}-{request.id:04d}"
    event = _record(session, request, requester_id, Action.SUBMITTED, None, now)
    await _suggest(session, request, now)
    queued = await _queue(
        session, request, event, KIND_NEW, await _coordinator_ids(session, request)
    )
    logger.info(
        "consultation %s submitted in community %s (%s message(s) queued)",
        request.reference,
        community_id,
        queued,
    )
    return Outcome(request, queued)


async def assign(
    session: AsyncSession, *, request_id: int, actor_id: int, assignee_id: int, now: datetime
) -> Outcome:
    """A coordinator takes the request (`assignee_id == actor_id`) or gives it to a colleague
    among the candidates. The requester is told who took it; the assignee, when it is someone
    else, gets the request; the other coordinators learn who has it. Doing it twice is a
    no-op."""
    request = await _locked(session, request_id)
    if not await is_coordinator(session, person_id=actor_id, community_id=request.community_id):
        raise NotAllowed("only a coordinator assigns a request")
    if actor_id == request.requester_id:
        # A coordinator's own request is assigned by their colleagues, like anyone's.
        raise NotAllowed("nobody assigns their own request")
    if request.status == ConsultationStatus.ASSIGNED and request.assignee_id == assignee_id:
        return Outcome(request, changed=False)
    if request.status != ConsultationStatus.SUBMITTED:
        raise WrongStatus(request)
    if assignee_id == request.requester_id:
        raise NotAllowed("nobody consults on their own request")
    eligible = {c.person.id for c in await candidates(session, request=request)}
    # A coordinator who declined earlier may still change their mind and take it.
    if assignee_id not in eligible and assignee_id != actor_id:
        raise NotAllowed("not a coordinator or a volunteer consultant of the community")
    request.status = ConsultationStatus.ASSIGNED
    request.assignee_id = assignee_id
    request.assigned_at = now
    followed = "followed" if assignee_id == request.suggested_assignee_id else "other"
    event = _record(
        session, request, actor_id, Action.ASSIGNED, f"to={assignee_id};suggestion={followed}", now
    )
    queued = await _queue(session, request, event, KIND_TAKEN, [request.requester_id])
    if assignee_id != actor_id:
        queued += await _queue(session, request, event, KIND_ASSIGNED, [assignee_id])
    others = await _coordinator_ids(session, request, besides=[actor_id, assignee_id])
    queued += await _queue(session, request, event, KIND_ASSIGNED_NOTICE, others)
    logger.info("consultation %s assigned to person %s", request.reference, assignee_id)
    return Outcome(request, queued)


async def _hand_back(
    session: AsyncSession, request: ConsultationRequest, reason: str, now: datetime
) -> int:
    """The assignee gives the request back: it waits for the coordinators again, who get it
    anew, and the requester is told. Returns how many messages were queued."""
    actor_id = request.assignee_id
    request.status = ConsultationStatus.SUBMITTED
    request.assignee_id = None
    request.assigned_at = None
    event = _record(session, request, actor_id, Action.HANDED_BACK, reason, now)
    await session.flush()
    await _suggest(session, request, now)
    queued = await _queue(
        session,
        request,
        event,
        KIND_NEW,
        await _coordinator_ids(session, request, besides=[actor_id]),
        returned=True,
    )
    return queued + await _queue(session, request, event, KIND_RETURNED, [request.requester_id])


async def decline(
    session: AsyncSession, *, request_id: int, actor_id: int, reason: str, now: datetime
) -> Outcome:
    """The assignee hands the request back (it waits for the coordinators again, who get it
    anew; the requester is told), or a coordinator declines to take an unassigned one. Either
    way, with a reason code, and they are not suggested for it again."""
    if reason not in DECLINE_REASONS:
        raise ValueError("unknown reason")
    request = await _locked(session, request_id)
    queued = 0
    if request.assignee_id == actor_id and request.status in LOAD_STATUSES:
        queued = await _hand_back(session, request, reason, now)
        logger.info("consultation %s handed back by person %s", request.reference, actor_id)
        return Outcome(request, queued, handed_back=True)
    if actor_id == request.requester_id or not await is_coordinator(
        session, person_id=actor_id, community_id=request.community_id
    ):
        raise NotAllowed("only the assignee or a coordinator declines a request")
    if request.status != ConsultationStatus.SUBMITTED:
        raise WrongStatus(request)
    if actor_id in await _recused(session, request_id):
        return Outcome(request, changed=False)
    _record(session, request, actor_id, Action.DECLINED, reason, now)
    await session.flush()
    if request.suggested_assignee_id == actor_id:
        await _suggest(session, request, now)
    logger.info("consultation %s declined by coordinator %s", request.reference, actor_id)
    return Outcome(request, queued)


async def hand_back_all(session: AsyncSession, *, person_id: int, now: datetime) -> int:
    """A person erases their data (storage/privacy.py): every open request they hold goes back
    to the coordinators as a hand-back with the reason ERASED_REASON, and requests waiting with
    them as the suggestion get a new one, so nothing waits on someone who is gone. Call it
    after their memberships are ended (they are then no candidate). Returns how many messages
    were queued."""
    held = (
        await session.exec(
            select(ConsultationRequest)
            .where(col(ConsultationRequest.assignee_id) == person_id)
            .where(col(ConsultationRequest.status).in_(LOAD_STATUSES))
            .order_by(col(ConsultationRequest.id))
            .with_for_update()
        )
    ).all()
    queued = 0
    for request in held:
        queued += await _hand_back(session, request, ERASED_REASON, now)
        logger.info(
            "consultation %s handed back: its assignee erased their data", request.reference
        )
    waiting = (
        await session.exec(
            select(ConsultationRequest)
            .where(col(ConsultationRequest.suggested_assignee_id) == person_id)
            .where(col(ConsultationRequest.status) == ConsultationStatus.SUBMITTED)
            .with_for_update()
        )
    ).all()
    for request in waiting:
        await _suggest(session, request, now)
    await session.flush()
    return queued


async def start(session: AsyncSession, *, request_id: int, actor_id: int, now: datetime) -> Outcome:
    """The assignee has begun (first contact made): in progress."""
    request = await _locked(session, request_id)
    if request.assignee_id != actor_id:
        raise NotAllowed("only the assignee")
    if request.status == ConsultationStatus.IN_PROGRESS:
        return Outcome(request, changed=False)
    if request.status != ConsultationStatus.ASSIGNED:
        raise WrongStatus(request)
    request.status = ConsultationStatus.IN_PROGRESS
    _record(session, request, actor_id, Action.STARTED, None, now)
    logger.info("consultation %s in progress", request.reference)
    return Outcome(request)


async def close(session: AsyncSession, *, request_id: int, actor_id: int, now: datetime) -> Outcome:
    """The assignee closes the request; the requester is asked how useful it was."""
    request = await _locked(session, request_id)
    if request.assignee_id != actor_id:
        raise NotAllowed("only the assignee")
    if request.status == ConsultationStatus.CLOSED:
        return Outcome(request, changed=False)
    if request.status not in LOAD_STATUSES:
        raise WrongStatus(request)
    request.status = ConsultationStatus.CLOSED
    request.closed_at = now
    event = _record(session, request, actor_id, Action.CLOSED, None, now)
    queued = await _queue(session, request, event, KIND_FEEDBACK, [request.requester_id])
    logger.info("consultation %s closed", request.reference)
    return Outcome(request, queued)


async def withdraw(
    session: AsyncSession, *, request_id: int, actor_id: int, now: datetime
) -> Outcome:
    """The requester withdraws the request, at any point before it is closed; the assignee,
    if any, is told."""
    request = await _locked(session, request_id)
    if request.requester_id != actor_id:
        raise NotAllowed("only the requester")
    if request.status == ConsultationStatus.WITHDRAWN:
        return Outcome(request, changed=False)
    if request.status not in OPEN_STATUSES:
        raise WrongStatus(request)
    assignee_id = request.assignee_id
    request.status = ConsultationStatus.WITHDRAWN
    # The end of the request, whichever way: the retention period counts from here.
    request.closed_at = now
    event = _record(session, request, actor_id, Action.WITHDRAWN, None, now)
    queued = 0
    if assignee_id is not None:
        queued = await _queue(
            session, request, event, KIND_WITHDRAWN, [assignee_id], assignee_id=assignee_id
        )
    logger.info("consultation %s withdrawn", request.reference)
    return Outcome(request, queued)


async def rate(
    session: AsyncSession,
    *,
    request_id: int,
    actor_id: int,
    rating: int,
    comment: str,
    now: datetime,
    confirmed: Sequence[str] = (),
) -> Outcome:
    """The requester says how useful the consultation was (1–5, and a comment kept as
    confidential as the summary). Answering again replaces the answer. HasIdentifiers for a
    comment that seems to identify a client, but for the kinds in `confirmed` the requester
    may confirm identify no one (names only: storage.identifiers.unconfirmed)."""
    if rating not in RATINGS:
        raise ValueError("rating must be 1 to 5")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise ValueError("comment too long")
    found = unconfirmed(comment, confirmed)
    if found:
        raise HasIdentifiers(found)
    request = await _locked(session, request_id)
    if request.requester_id != actor_id:
        raise NotAllowed("only the requester")
    if request.status != ConsultationStatus.CLOSED or request.summary_erased_at is not None:
        raise WrongStatus(request)
    request.usefulness_rating = rating
    request.usefulness_comment = comment or None
    _record(session, request, actor_id, Action.RATED, f"rating={rating}", now)
    logger.info("consultation %s rated", request.reference)
    return Outcome(request)


async def volunteer(
    session: AsyncSession, *, person_id: int, community_id: int, expertise: Sequence[str]
) -> Membership:
    """Offer to give consultations in this community for these motives; none withdraws.
    Withdrawing hands nothing back: it only stops new suggestions."""
    unknown = [code for code in expertise if code not in MOTIVES]
    if unknown:
        raise ValueError("unknown motive")
    row = await membership(session, person_id=person_id, community_id=community_id)
    if row is None or row.left_at is not None:
        raise NotAllowed("not an active member")
    # In the motives' order, once each, so the stored list reads the same however typed.
    row.consultant_expertise = [code for code in MOTIVES if code in expertise] or None
    await session.flush()
    logger.info(
        "person %s consultant expertise in community %s: %s",
        person_id,
        community_id,
        ",".join(row.consultant_expertise or []) or "none",
    )
    return row


# -- timed work --------------------------------------------------------------------------------


async def _waiting_since(session: AsyncSession, request: ConsultationRequest) -> datetime:
    """When the request last became unassigned: submitted, or handed back."""
    last_back = (
        await session.exec(
            select(func.max(ConsultationEvent.at))
            .where(ConsultationEvent.request_id == request.id)
            .where(ConsultationEvent.action == Action.HANDED_BACK)
        )
    ).one()
    back = _aware(last_back)
    return max(request.created_at, back) if back else request.created_at


async def _done_since(
    session: AsyncSession, request: ConsultationRequest, action: Action, since: datetime
) -> bool:
    found = (
        await session.exec(
            select(ConsultationEvent.id)
            .where(ConsultationEvent.request_id == request.id)
            .where(ConsultationEvent.action == action)
            .where(col(ConsultationEvent.at) >= since)
        )
    ).first()
    return found is not None


async def queue_escalations(
    session: AsyncSession,
    *,
    now: datetime,
    reminder_after: int,
    escalate_after: int,
    timezone: str,
    extra_non_working_days: Sequence[date] = (),
) -> int:
    """Requests still unassigned: after `reminder_after` working days the coordinators get a
    reminder; after `escalate_after`, the animators are told a request waits (no content).
    Once each per waiting period (a request handed back starts a new one). Working days skip
    weekends, Quebec's statutory holidays and `extra_non_working_days` (in `timezone`)."""
    queued = 0
    waiting = (
        await session.exec(
            select(ConsultationRequest)
            .where(ConsultationRequest.status == ConsultationStatus.SUBMITTED)
            .order_by(col(ConsultationRequest.id))
        )
    ).all()
    for request in waiting:
        since = await _waiting_since(session, request)
        days = working_days_between(
            since, now, tz=timezone, extra_non_working=extra_non_working_days
        )
        if days >= reminder_after and not await _done_since(
            session, request, Action.REMINDED, since
        ):
            event = _record(session, request, None, Action.REMINDED, f"working_days={days}", now)
            queued += await _queue(
                session,
                request,
                event,
                KIND_REMINDER,
                await _coordinator_ids(session, request),
                working_days=days,
            )
        if days >= escalate_after and not await _done_since(
            session, request, Action.ESCALATED, since
        ):
            event = _record(session, request, None, Action.ESCALATED, f"working_days={days}", now)
            animators = [
                p.id
                for p in await people_with_role(
                    session, community_id=request.community_id, roles=[Role.ANIMATOR]
                )
                if p.id is not None and p.id != request.requester_id
            ]
            queued += await _queue(
                session, request, event, KIND_WAITING, animators, working_days=days
            )
            logger.info("consultation %s waits for %d working days", request.reference, days)
    return queued


async def erase_old_content(session: AsyncSession, *, now: datetime, retention: timedelta) -> int:
    """Erase the content of requests closed or withdrawn before `now - retention`: summary,
    availability and the usefulness comment. Statuses, dates and ratings stay, so counts do."""
    cutoff = now - retention
    due = (
        await session.exec(
            select(ConsultationRequest)
            .where(col(ConsultationRequest.status).in_(ENDED_STATUSES))
            .where(col(ConsultationRequest.closed_at) <= cutoff)
            .where(col(ConsultationRequest.summary_erased_at).is_(None))
            .order_by(col(ConsultationRequest.id))
        )
    ).all()
    for request in due:
        request.summary = None
        request.availability = None
        request.usefulness_comment = None
        request.summary_erased_at = now
        _record(session, request, None, Action.SUMMARY_ERASED, None, now)
    await session.flush()
    if due:
        logger.info("consultations: content erased for %d request(s)", len(due))
    return len(due)
