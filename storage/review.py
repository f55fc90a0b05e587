"""A community's achievements and its annual review (bilan annuel), counted by the database.

- The register of productions: tools, guides, clinical projects, positions and trainings the
  community produced, recorded (added, edited, removed) by its facilitators. A contributor is
  named only with their consent: only they add their name to a production, and they can take
  it back; erasing a person removes their names (storage/privacy.py).
- Each objective of the charter (`Community.objectives`) gets a status once a year (reached,
  in progress, dropped) and a comment, from the facilitators.
- The annual review over twelve months: the year `Y` runs from the review date of `Y − 1`
  (local midnight) to the review date of `Y`, a date each community sets (default 15 June,
  `Community.settings["annual_review"] = "MM-DD"`). Vitality figures reuse the monthly
  summary's aggregates (storage/vitality.py: members, newcomers, meetings, attendance, RSVP,
  satisfaction under the same k rule, topics, consultations in counts only, signals); complex
  cases and codevelopment sessions in counts only. Every figure is a SQL aggregate; nothing
  walks members, meetings or answers in Python (bench/review.py: 5,000 members × 3 years).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, delete, func, select, update
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import cases, communities, vitality
from storage.communities import NotAllowed, has_role, hosted_by
from storage.models import (
    AgendaItem,
    CodevGroup,
    CodevSession,
    CodevSessionStatus,
    Community,
    Meeting,
    MeetingStatus,
    ObjectiveReview,
    ObjectiveState,
    Person,
    Production,
    ProductionContributor,
    ProductionKind,
    Role,
    Topic,
)
from storage.sql import insert_if_absent
from storage.surveys import (
    LearningFigures,
    ObjectivesReached,
    k_threshold,
    learning_figures,
    objectives_reached,
)
from storage.toolbox import url_problem

logger = logging.getLogger(__name__)

# Who records productions and objectives' status; who receives and may ask for the review.
MANAGER_ROLES = (Role.ANIMATOR,)
READER_ROLES = (Role.ANIMATOR, Role.COORDINATOR, Role.SPONSOR)
RECIPIENT_ROLES = (Role.ANIMATOR, Role.SPONSOR)
SETTING = "annual_review"
DEFAULT_DAY = (6, 15)
MAX_TITLE = 200
MAX_COMMENT = 1000
MAX_REQUEST_KEY = 64
# What the card and PDF list at most (the counts stay whole).
LIST_LIMIT = 30
TOPIC_LIMIT = 12

# The outbox kind of a year's review: params {"community_id", "year"}.
KIND_REVIEW = "annual_review"

PRODUCTION_TABLE: Table = Production.__table__  # type: ignore[attr-defined]
CONTRIBUTOR_TABLE: Table = ProductionContributor.__table__  # type: ignore[attr-defined]
OBJECTIVE_TABLE: Table = ObjectiveReview.__table__  # type: ignore[attr-defined]

TITLE_MISSING = "title_missing"
TITLE_TOO_LONG = "title_too_long"
KIND_UNKNOWN = "kind_unknown"
DATE_INVALID = "date_invalid"


def review_key(community_id: int, year: int, person_id: int) -> str:
    """The year's review, once per community, year and recipient (the format must not change:
    a key spelled differently would not deduplicate against a row already queued)."""
    return f"review:{community_id}:{year}:to:{person_id}"


def review_ask_key(community_id: int, year: int, person_id: int, activity_id: str) -> str:
    """A review asked for in a channel and sent privately, once per incoming activity."""
    return f"{review_key(community_id, year, person_id)}:ask:{activity_id}"


class InvalidProduction(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = tuple(problems)


class ProductionNotFound(LookupError):
    pass


# -- the review date -------------------------------------------------------------------------


def review_day(community: Community) -> tuple[int, int]:
    """(month, day) of the community's review; 15 June unless set (29 February reads as 28)."""
    raw = community.settings.get(SETTING) if community.settings else None
    if isinstance(raw, str) and (match := re.fullmatch(r"(\d{2})-(\d{2})", raw)):
        month, day = int(match[1]), int(match[2])
        if _valid_day(month, day):
            return month, min(day, 28) if month == 2 else day
    return DEFAULT_DAY


def _valid_day(month: int, day: int) -> bool:
    try:
        date(2024, month, day)  # a leap year: any day of the calendar
    except ValueError:
        return False
    return True


def set_review_day(community: Community, day: date) -> None:
    """Store the review date (month and day; the year is every year)."""
    community.settings = {**(community.settings or {}), SETTING: f"{day:%m-%d}"}


def review_date(community: Community, year: int) -> date:
    month, day = review_day(community)
    return date(year, month, day)


def period(community: Community, year: int, *, tz: str) -> tuple[datetime, datetime]:
    """The twelve months the year's review covers: from the previous review date (local
    midnight) to this one, in UTC."""
    zone = ZoneInfo(tz)

    def instant(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    return instant(review_date(community, year - 1)), instant(review_date(community, year))


def latest_year(community: Community, *, now: datetime, tz: str) -> int:
    """The year of the latest review due: this year once its date came, else last year."""
    today = now.astimezone(ZoneInfo(tz)).date()
    return today.year if today >= review_date(community, today.year) else today.year - 1


# -- productions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductionDraft:
    title: str
    kind: str
    produced_on: str  # YYYY-MM-DD, as Input.Date sends it
    url: str = ""


@dataclass(frozen=True, slots=True)
class CheckedProduction:
    title: str
    kind: ProductionKind
    produced_on: date
    url: str | None


def check_production(draft: ProductionDraft) -> CheckedProduction:
    """The draft as stored, or InvalidProduction with every problem (codes: the texts are
    `review.production.problem.<code>`; a link's are storage/toolbox.py's)."""
    problems: list[str] = []
    title = " ".join(str(draft.title or "").split())
    if not title:
        problems.append(TITLE_MISSING)
    elif len(title) > MAX_TITLE:
        problems.append(TITLE_TOO_LONG)
    kind = ProductionKind.OTHER
    try:
        kind = ProductionKind(str(draft.kind or ""))
    except ValueError:
        problems.append(KIND_UNKNOWN)
    produced: date | None = None
    try:
        produced = date.fromisoformat(str(draft.produced_on or "").strip())
    except ValueError:
        problems.append(DATE_INVALID)
    url = str(draft.url or "").strip()
    if url and (problem := url_problem(url)) is not None:
        problems.append(problem)
    if problems or produced is None:
        raise InvalidProduction(problems)
    return CheckedProduction(title, kind, produced, url or None)


async def may_manage(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await communities.membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, *MANAGER_ROLES)


async def may_read(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await communities.membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, *READER_ROLES)


async def may_see_register(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    """The register is the community's: any member sees it (as on the one-pager)."""
    row = await communities.membership(session, person_id=person_id, community_id=community_id)
    return row is not None and row.left_at is None


async def add_production(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    draft: ProductionDraft,
    request_key: str | None,
    now: datetime,
) -> tuple[Production, bool]:
    """A facilitator records a production; (the row, whether this call made it). The form's
    key makes a double click find the first row. NotAllowed, InvalidProduction."""
    if not await may_manage(session, person_id=person_id, community_id=community_id):
        raise NotAllowed("not a facilitator of this community")
    checked = check_production(draft)
    key = (request_key or "")[:MAX_REQUEST_KEY] or uuid.uuid4().hex
    created = await insert_if_absent(
        session,
        PRODUCTION_TABLE,
        {
            "community_id": community_id,
            "title": checked.title,
            "kind": checked.kind.value,
            "produced_on": checked.produced_on,
            "url": checked.url,
            "created_by_id": person_id,
            "request_key": key,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["request_key"],
    )
    row = (
        await session.exec(
            sm_select(Production)
            .where(col(Production.request_key) == key)
            .execution_options(populate_existing=True)
        )
    ).one()
    if row.community_id != community_id:
        raise NotAllowed("a request key of another community")
    if created:
        logger.info("production %s recorded in community %s", row.id, community_id)
    return row, created


async def _managed(
    session: AsyncSession, *, production_id: int, person_id: int, community_id: int | None = None
) -> Production:
    row = await session.get(Production, production_id)
    if row is None or (community_id is not None and row.community_id != community_id):
        raise ProductionNotFound(production_id)
    if not await may_manage(session, person_id=person_id, community_id=row.community_id):
        raise NotAllowed("not a facilitator of this production's community")
    return row


async def edit_production(
    session: AsyncSession,
    *,
    production_id: int,
    person_id: int,
    draft: ProductionDraft,
    now: datetime,
) -> Production:
    """A facilitator of its community corrects a production. ProductionNotFound, NotAllowed,
    InvalidProduction."""
    row = await _managed(session, production_id=production_id, person_id=person_id)
    checked = check_production(draft)
    row.title, row.kind, row.produced_on = checked.title, checked.kind, checked.produced_on
    row.url = checked.url
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row


async def remove_production(session: AsyncSession, *, production_id: int, person_id: int) -> bool:
    """A facilitator of its community removes a production and its contributors' names; False
    when it was already gone (a second click). NotAllowed."""
    try:
        row = await _managed(session, production_id=production_id, person_id=person_id)
    except ProductionNotFound:
        return False
    await session.execute(
        delete(ProductionContributor).where(
            col(ProductionContributor.production_id) == production_id
        )
    )
    await session.delete(row)
    await session.flush()
    logger.info("production %s removed", production_id)
    return True


async def credit(
    session: AsyncSession, *, production_id: int, person_id: int, named: bool, now: datetime
) -> bool:
    """A member of its community adds their own name to a production (their consent), or
    takes it back; True when something changed. ProductionNotFound, NotAllowed."""
    row = await session.get(Production, production_id)
    if row is None:
        raise ProductionNotFound(production_id)
    if not await may_see_register(session, person_id=person_id, community_id=row.community_id):
        raise NotAllowed("not a member of this production's community")
    if named:
        return await insert_if_absent(
            session,
            CONTRIBUTOR_TABLE,
            {"production_id": production_id, "person_id": person_id, "consented_at": now},
            conflict=["production_id", "person_id"],
        )
    result = await session.execute(
        delete(ProductionContributor)
        .where(col(ProductionContributor.production_id) == production_id)
        .where(col(ProductionContributor.person_id) == person_id)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class ProductionLine:
    id: int
    title: str
    kind: ProductionKind
    produced_on: date
    url: str | None
    contributors: tuple[str, ...]
    # Whether the person looking is among the contributors (their « retirer mon nom »).
    mine: bool = False


async def productions(
    session: AsyncSession,
    *,
    community_id: int,
    start: date | None = None,
    end: date | None = None,
    viewer_id: int | None = None,
    limit: int = LIST_LIMIT,
) -> list[ProductionLine]:
    """The community's productions, newest first (dates in [start, end) when given), each with
    the names of those who consented to be named, in one query for the names."""
    statement = select(Production).where(col(Production.community_id) == community_id)
    if start is not None:
        statement = statement.where(col(Production.produced_on) >= start)
    if end is not None:
        statement = statement.where(col(Production.produced_on) < end)
    rows = (
        (
            await session.execute(
                statement.order_by(
                    col(Production.produced_on).desc(), col(Production.id).desc()
                ).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    ids = [row.id for row in rows if row.id is not None]
    names: dict[int, list[str]] = {}
    mine: set[int] = set()
    if ids:
        found = await session.execute(
            select(
                col(ProductionContributor.production_id),
                col(ProductionContributor.person_id),
                col(Person.name),
            )
            .join(Person, col(Person.id) == col(ProductionContributor.person_id))
            .where(col(ProductionContributor.production_id).in_(ids))
            .order_by(col(ProductionContributor.consented_at), col(ProductionContributor.id))
        )
        for production_id, person_id, name in found.all():
            if name:
                names.setdefault(int(production_id), []).append(str(name))
            if viewer_id is not None and person_id == viewer_id:
                mine.add(int(production_id))
    return [
        ProductionLine(
            id=row.id or 0,
            title=row.title,
            kind=ProductionKind(row.kind),
            produced_on=row.produced_on,
            url=row.url,
            contributors=tuple(names.get(row.id or 0, ())),
            mine=(row.id or 0) in mine,
        )
        for row in rows
    ]


async def production_counts(
    session: AsyncSession, *, community_id: int, start: date, end: date
) -> dict[ProductionKind, int]:
    rows = await session.execute(
        select(col(Production.kind), func.count())
        .where(col(Production.community_id) == community_id)
        .where(col(Production.produced_on) >= start)
        .where(col(Production.produced_on) < end)
        .group_by(col(Production.kind))
    )
    return {ProductionKind(kind): int(count) for kind, count in rows.all()}


# -- objectives' status ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectiveLine:
    position: int
    objective: str
    state: ObjectiveState | None
    comment: str


async def objectives(
    session: AsyncSession, *, community: Community, year: int
) -> list[ObjectiveLine]:
    """The charter's current objectives, each with its status for the year if set."""
    assert community.id is not None
    rows = await session.execute(
        select(ObjectiveReview)
        .where(col(ObjectiveReview.community_id) == community.id)
        .where(col(ObjectiveReview.year) == year)
    )
    by_text = {row.objective: row for row in rows.scalars().all()}
    lines = []
    for position, text in enumerate(community.objectives or []):
        found = by_text.get(str(text)[:500])
        lines.append(
            ObjectiveLine(
                position=position,
                objective=str(text),
                state=ObjectiveState(found.state) if found else None,
                comment=found.comment if found else "",
            )
        )
    return lines


async def set_objective(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    year: int,
    position: int,
    objective: str,
    state: str,
    comment: str,
    now: datetime,
) -> ObjectiveReview:
    """A facilitator sets an objective's status for the year (again: replaces it). The
    objective is named by its place in the charter and its text, both checked against the
    current charter (a button from an older card cannot set another objective). NotAllowed,
    LookupError (no such objective), ValueError (status)."""
    community = await session.get(Community, community_id)
    if community is None:
        raise LookupError(community_id)
    if not await may_manage(session, person_id=person_id, community_id=community_id):
        raise NotAllowed("not a facilitator of this community")
    current = list(community.objectives or [])
    if not 0 <= position < len(current) or str(current[position]) != objective:
        raise LookupError(position)
    checked = ObjectiveState(state)
    text = objective[:500]
    await insert_if_absent(
        session,
        OBJECTIVE_TABLE,
        {
            "community_id": community_id,
            "year": year,
            "objective": text,
            "state": checked.value,
            "comment": "",
            "set_by_id": person_id,
            "set_at": now,
        },
        conflict=["community_id", "year", "objective"],
    )
    row = (
        await session.exec(
            sm_select(ObjectiveReview)
            .where(col(ObjectiveReview.community_id) == community_id)
            .where(col(ObjectiveReview.year) == year)
            .where(col(ObjectiveReview.objective) == text)
            .execution_options(populate_existing=True)
        )
    ).one()
    row.state = checked
    row.comment = " ".join(str(comment or "").split())[:MAX_COMMENT]
    row.set_by_id = person_id
    row.set_at = now
    session.add(row)
    await session.flush()
    return row


# -- the annual review -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewMonth:
    month: date
    meetings: int
    attendances: int
    attendance_expected: int

    @property
    def attendance_rate(self) -> float | None:
        return self.attendances / self.attendance_expected if self.attendance_expected else None


@dataclass(frozen=True, slots=True)
class AnnualReview:
    community_id: int
    community_name: str
    year: int
    start: datetime
    end: datetime
    as_of: datetime
    partial: bool
    members: int
    newcomers: int
    left: int
    meetings: int
    attendances: int
    attendance_expected: int
    rsvps: int
    rsvp_expected: int
    k: int
    # The average overall rating from k answers or more only (None otherwise).
    satisfaction: float | None
    satisfaction_answers: int
    objectives: tuple[ObjectiveLine, ...]
    production_counts: tuple[tuple[ProductionKind, int], ...]
    productions: tuple[ProductionLine, ...]
    topics_proposed: int
    topics_treated: int
    topic_titles: tuple[str, ...]
    consultations_submitted: int
    consultations_closed: int
    cases_discussed: int
    codev_sessions: int
    signals: tuple[vitality.Signal, ...]
    months: tuple[ReviewMonth, ...]
    # The meetings' objective items and the learning questionnaires (storage/surveys.py), from
    # surveys closed with k answers or more only.
    meeting_objectives: ObjectivesReached | None = None
    learning: LearningFigures | None = None

    @property
    def attendance_rate(self) -> float | None:
        return self.attendances / self.attendance_expected if self.attendance_expected else None

    @property
    def rsvp_rate(self) -> float | None:
        return self.rsvps / self.rsvp_expected if self.rsvp_expected else None

    @property
    def productions_total(self) -> int:
        return sum(count for _, count in self.production_counts)

    @property
    def objectives_reached(self) -> int:
        return sum(1 for line in self.objectives if line.state is ObjectiveState.REACHED)


def _months(start: datetime, end: datetime, *, tz: str) -> list[date]:
    first = vitality.month_of(start, tz=tz)
    last = vitality.month_of(end - timedelta(microseconds=1), tz=tz)
    found = [first]
    while found[-1] < last:
        found.append(vitality.add_months(found[-1], 1))
    return found


async def _topic_titles(
    session: AsyncSession, *, community_id: int, start: datetime, end: datetime
) -> tuple[str, ...]:
    rows = await session.execute(
        select(col(Topic.title))
        .where(
            col(Topic.id).in_(
                select(col(AgendaItem.topic_id))
                .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id))
                # Joint meetings too: their topics were treated by each community hosting them.
                .where(hosted_by(community_id))
                .where(col(Meeting.status) != MeetingStatus.CANCELLED)
                .where(and_(col(Meeting.starts_at) >= start, col(Meeting.starts_at) < end))
                .where(col(AgendaItem.topic_id).is_not(None))
                .scalar_subquery()
            )
        )
        .order_by(col(Topic.title))
        .limit(TOPIC_LIMIT)
    )
    return tuple(str(title) for title in rows.scalars().all())


async def _codev_sessions(
    session: AsyncSession, *, community_id: int, start: datetime, end: datetime
) -> int:
    count = (
        await session.execute(
            select(func.count())
            .select_from(CodevSession)
            .join(CodevGroup, col(CodevGroup.id) == col(CodevSession.group_id))
            .where(col(CodevGroup.community_id) == community_id)
            .where(col(CodevSession.status) == CodevSessionStatus.DONE.value)
            .where(col(CodevSession.starts_at) >= start)
            .where(col(CodevSession.starts_at) < end)
        )
    ).scalar_one()
    return int(count or 0)


async def annual_review(
    session: AsyncSession, *, community_id: int, year: int, tz: str, now: datetime
) -> AnnualReview:
    """The review of `year` for the community (LookupError if unknown). A year still under way
    is counted up to now (`partial`)."""
    community = await session.get(Community, community_id)
    if community is None:
        raise LookupError(community_id)
    start, end = period(community, year, tz=tz)
    as_of = min(end, now)
    window = vitality._Window(community_id, start, end, as_of, now)
    k = k_threshold(community)
    members, newcomers, left = await vitality._members(session, window)
    months = _months(start, end, tz=tz)
    bounds = [
        (max(start, vitality.month_start(m, tz=tz)), min(end, vitality.month_bounds(m, tz=tz)[1]))
        for m in months
    ]
    # The year, the twelve months before it (the attendance signal's reference), each month.
    figures, reference, *monthly = await vitality._meetings(
        session,
        community_id=community_id,
        buckets=[(start, end), (start - (end - start), start), *bounds],
        now=now,
    )
    satisfaction = (
        await session.execute(vitality._satisfaction_query(community_id, [(start, end)], k, now))
    ).one()
    proposed, treated = await vitality._topics(session, window)
    submitted, closed, _assigned, _median = await vitality._consultations(session, window)
    case_figures = await cases.month_figures(
        session, community_id=community_id, start=start, end=end
    )
    local = ZoneInfo(tz)
    first_day, last_day = start.astimezone(local).date(), end.astimezone(local).date()
    counts = await production_counts(
        session, community_id=community_id, start=first_day, end=last_day
    )
    average = satisfaction[1]
    return AnnualReview(
        community_id=community_id,
        community_name=community.name,
        year=year,
        start=start,
        end=end,
        as_of=as_of,
        partial=now < end,
        members=members,
        newcomers=newcomers,
        left=left,
        meetings=figures.held,
        attendances=figures.attendances,
        attendance_expected=figures.attendance_expected,
        rsvps=figures.rsvps,
        rsvp_expected=figures.rsvp_expected,
        k=k,
        satisfaction=None if average is None else float(average),
        # Shown only beside an average (k answers or more): a smaller count is withheld.
        satisfaction_answers=int(satisfaction[0] or 0) if average is not None else 0,
        objectives=tuple(await objectives(session, community=community, year=year)),
        production_counts=tuple(
            sorted(counts.items(), key=lambda item: list(ProductionKind).index(item[0]))
        ),
        productions=tuple(
            await productions(session, community_id=community_id, start=first_day, end=last_day)
        ),
        topics_proposed=proposed,
        topics_treated=treated,
        topic_titles=await _topic_titles(session, community_id=community_id, start=start, end=end),
        consultations_submitted=submitted,
        consultations_closed=closed,
        cases_discussed=case_figures.discussed,
        codev_sessions=await _codev_sessions(
            session, community_id=community_id, start=start, end=end
        ),
        signals=await vitality._signals(session, window, community, figures, reference),
        months=tuple(
            ReviewMonth(m, f.held, f.attendances, f.attendance_expected)
            for m, f in zip(months, monthly, strict=True)
        ),
        meeting_objectives=await objectives_reached(
            session, community_id=community_id, start=start, end=end, k=k, now=now
        ),
        learning=await learning_figures(
            session, community_id=community_id, start=start, end=end, k=k, now=now
        ),
    )


async def due_reviews(
    session: AsyncSession, *, now: datetime, tz: str, catch_up: timedelta
) -> list[tuple[Community, int]]:
    """Communities whose review date came within `catch_up` before now, with the year due.
    The dates are the communities' own (their settings), so each is checked here."""
    today = now.astimezone(ZoneInfo(tz)).date()
    rows = await session.execute(select(Community).order_by(col(Community.id)))
    due = []
    for community in rows.scalars().all():
        day = review_date(community, today.year)
        if day <= today < day + catch_up and community.created_at < now:
            due.append((community, today.year))
    return due


async def recipients(session: AsyncSession, *, community_id: int) -> list[Person]:
    return await communities.people_with_role(
        session, community_id=community_id, roles=RECIPIENT_ROLES
    )


# -- the person's data (Law 25) --------------------------------------------------------------


async def export_person(session: AsyncSession, *, person_id: int) -> list[dict[str, Any]]:
    """The productions the person is named on (by their consent)."""
    rows = await session.execute(
        select(col(Production.title), col(Production.produced_on), col(Community.name))
        .join(ProductionContributor, col(ProductionContributor.production_id) == col(Production.id))
        .join(Community, col(Community.id) == col(Production.community_id))
        .where(col(ProductionContributor.person_id) == person_id)
        .order_by(col(Production.produced_on))
    )
    return [
        {"title": title, "produced_on": day.isoformat(), "community": name}
        for title, day, name in rows.all()
    ]


async def erase_person(session: AsyncSession, *, person_id: int) -> tuple[int, int]:
    """Their names come off every production (deleted), and the productions and statuses they
    recorded stay without them: (names deleted, rows unattributed)."""
    names = await session.execute(
        delete(ProductionContributor).where(col(ProductionContributor.person_id) == person_id)
    )
    recorded = await session.execute(
        update(Production)
        .where(col(Production.created_by_id) == person_id)
        .values(created_by_id=None)
    )
    statuses = await session.execute(
        update(ObjectiveReview)
        .where(col(ObjectiveReview.set_by_id) == person_id)
        .values(set_by_id=None)
    )
    return (
        int(getattr(names, "rowcount", 0) or 0),
        int(getattr(recorded, "rowcount", 0) or 0) + int(getattr(statuses, "rowcount", 0) or 0),
    )
