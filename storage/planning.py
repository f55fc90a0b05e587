"""A community's year: a series of meetings planned at once (their dates wait as drafts until
each is completed into a meeting), date polls whose winning date becomes a meeting, and the
charter facilitators keep up to date.

The rules sit beside their queries: only an animator of the community plans a series, opens a
date poll or edits the charter; a series and a date poll are made once per form (their request
keys), however many times its button is clicked.

The yearly needs survey (the seeds: « au moins une fois par année »): a community that opened no
needs survey in the last twelve months, and was not proposed one in that time, is due one; its
facilitators are each proposed it once, through the outbox, under a key per community, year and
person, so two replicas or a restart queue it once. What was proposed is read back from those
outbox rows (their `not_before`, the time the job was given), so no table is needed for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, exists, func, literal, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import NotAllowed, has_role, hosted_by, membership
from storage.models import (
    Community,
    DatePoll,
    Meeting,
    MeetingMode,
    MeetingSeries,
    MeetingStatus,
    OutboxMessage,
    Poll,
    PollStatus,
    Role,
    SeriesDate,
    Survey,
    SurveyKind,
)
from storage.sql import insert_or_lock
from storage.working_days import is_working_day

logger = logging.getLogger(__name__)

MIN_DATES = 1
MAX_DATES = 8
DEFAULT_DATES = 5  # « Chaque comité se rencontre cinq fois par année » (MSSS)
MAX_PLACES = 8
MAX_TEXT = 300
# How far ahead a series may reach: a year's plan, with some slack for a late start.
HORIZON = timedelta(days=550)
LONGEST_MEETING = timedelta(hours=12)
# Modes where people meet in the same room (the seeds: « au moins une rencontre en présence
# par année »): a hybrid meeting has a room too.
IN_PERSON_MODES = (MeetingMode.IN_PERSON, MeetingMode.HYBRID)
KIND_DATE_POLL_OUTCOME = "date_poll_outcome"  # to the poll's channel: params {"poll_id"}
# To a facilitator, 1:1: params {"community_id"}. Its keys (needs_due_key, needs_later_key)
# keep their format: a changed key would not deduplicate against a row already queued.
KIND_NEEDS_DUE = "needs_survey_due"
# « Au moins une fois par année »: how long a needs survey counts, and a proposal too.
NEEDS_CYCLE = timedelta(days=365)
# « Plus tard »: the proposal comes back once, this long after.
NEEDS_LATER = timedelta(days=30)
# A proposal is queued for office hours on a working day (a facilitator is not pinged at night).
OFFICE_OPENS = time(9)
OFFICE_CLOSES = time(17)


class InvalidSeries(ValueError):
    """What to fix, as short codes (the cards' catalogs say them): per date, `position` is the
    date's number from 1, None for the whole form."""

    def __init__(self, problems: Sequence[tuple[int | None, str]]) -> None:
        super().__init__(", ".join(code for _, code in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class SeriesDateDraft:
    starts_at: datetime
    ends_at: datetime
    mode: MeetingMode
    place: str | None


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A date of a series, and the meeting it became (None while it is a draft)."""

    date: SeriesDate
    meeting: Meeting | None

    @property
    def planned(self) -> bool:
        return self.meeting is not None


async def _require_animator(session: AsyncSession, *, community_id: int, person_id: int) -> None:
    member = await membership(session, person_id=person_id, community_id=community_id)
    if not has_role(member, Role.ANIMATOR):
        raise NotAllowed("only an animator of the community")


def rotate_places(
    drafts: Sequence[SeriesDateDraft], places: Sequence[str]
) -> list[SeriesDateDraft]:
    """« Alterner les lieux de rencontres »: the dates that meet in a room and name no place
    take the listed places in turn, in date order; a date that names its own place keeps it."""
    rotation = [place.strip()[:MAX_TEXT] for place in places if place.strip()]
    rotated: list[SeriesDateDraft] = []
    turn = 0
    for draft in sorted(drafts, key=lambda d: d.starts_at):
        if draft.place or draft.mode not in IN_PERSON_MODES or not rotation:
            rotated.append(draft)
            continue
        rotated.append(
            SeriesDateDraft(
                draft.starts_at, draft.ends_at, draft.mode, rotation[turn % len(rotation)]
            )
        )
        turn += 1
    return rotated


def series_problems(
    drafts: Sequence[SeriesDateDraft], *, now: datetime
) -> list[tuple[int | None, str]]:
    """Everything wrong with a series, form-wide and per date (numbered from 1)."""
    found: list[tuple[int | None, str]] = []
    if not MIN_DATES <= len(drafts) <= MAX_DATES:
        found.append((None, "count"))
    days: set[object] = set()
    for number, draft in enumerate(drafts, start=1):
        if draft.ends_at <= draft.starts_at:
            found.append((number, "end_before_start"))
        elif draft.ends_at - draft.starts_at > LONGEST_MEETING:
            found.append((number, "too_long"))
        if draft.starts_at <= now:
            found.append((number, "in_the_past"))
        elif draft.starts_at > now + HORIZON:
            found.append((number, "too_far"))
        if draft.place and len(draft.place) > MAX_TEXT:
            found.append((number, "too_long_text"))
        day = draft.starts_at.date()
        if day in days:
            found.append((number, "same_day"))
        days.add(day)
    return found


def date_draft_key(request_key: str, position: int) -> str:
    """The meeting draft key of a series' date: the meeting form publishes it once."""
    return hashlib.sha256(f"series:{request_key}:{position}".encode()).hexdigest()[:32]


def poll_draft_key(poll_id: int) -> str:
    """The meeting draft key of a date poll's winning date: one meeting per poll."""
    return hashlib.sha256(f"date-poll:{poll_id}".encode()).hexdigest()[:32]


async def create_series(
    session: AsyncSession,
    *,
    community_id: int,
    by_person_id: int,
    request_key: str,
    drafts: Sequence[SeriesDateDraft],
    now: datetime,
) -> tuple[MeetingSeries, bool]:
    """A new series and its draft dates, in date order; True when this call made it. The same
    form sent again (a double click, two at once) returns the series it made, unchanged.
    NotAllowed unless an animator; InvalidSeries lists what to fix."""
    await _require_animator(session, community_id=community_id, person_id=by_person_id)
    made = (
        await session.exec(select(MeetingSeries).where(MeetingSeries.request_key == request_key))
    ).first()
    if made is not None:
        if made.community_id != community_id:
            raise NotAllowed("another community's series")
        return made, False
    ordered = sorted(drafts, key=lambda d: d.starts_at)
    problems = series_problems(ordered, now=now)
    if problems:
        raise InvalidSeries(problems)
    series, created = await insert_or_lock(
        session,
        MeetingSeries,
        {"community_id": community_id, "request_key": request_key, "created_at": now},
        key=["request_key"],
    )
    if not created:
        return series, False
    assert series.id is not None
    for position, draft in enumerate(ordered, start=1):
        session.add(
            SeriesDate(
                series_id=series.id,
                community_id=community_id,
                position=position,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                mode=draft.mode,
                place=draft.place,
                draft_key=date_draft_key(request_key, position),
            )
        )
    await session.flush()
    logger.info("series %s of %d date(s) in community %s", series.id, len(ordered), community_id)
    return series, True


async def series_rows(session: AsyncSession, *, series_id: int) -> list[SeriesRow]:
    """The series' dates in order, each with the meeting it became (if any)."""
    rows = await session.exec(
        select(SeriesDate, Meeting)
        .join(
            Meeting,
            (col(Meeting.draft_key) == col(SeriesDate.draft_key))
            & (col(Meeting.community_id) == col(SeriesDate.community_id)),
            isouter=True,
        )
        .where(SeriesDate.series_id == series_id)
        .order_by(col(SeriesDate.position))
    )
    return [SeriesRow(date=found, meeting=meeting) for found, meeting in rows.all()]


async def series_date_for(
    session: AsyncSession, *, date_id: int, community_id: int, person_id: int
) -> SeriesRow | None:
    """A series' date, for an animator of its community completing it from that community's
    channel; None for a date of another community (a forged or misplaced button)."""
    await _require_animator(session, community_id=community_id, person_id=person_id)
    found = await session.get(SeriesDate, date_id)
    if found is None or found.community_id != community_id:
        return None
    meeting = (
        await session.exec(
            select(Meeting)
            .where(Meeting.draft_key == found.draft_key)
            .where(Meeting.community_id == community_id)
        )
    ).first()
    return SeriesRow(date=found, meeting=meeting)


async def latest_series(session: AsyncSession, *, community_id: int) -> MeetingSeries | None:
    return (
        await session.exec(
            select(MeetingSeries)
            .where(MeetingSeries.community_id == community_id)
            .order_by(col(MeetingSeries.created_at).desc(), col(MeetingSeries.id).desc())
            .limit(1)
        )
    ).first()


async def in_person_planned(
    session: AsyncSession, *, community_id: int, since: datetime, until: datetime
) -> bool:
    """Whether the community meets in a room between `since` and `until`: a meeting that is
    not cancelled, or a series' date not yet completed into a meeting."""
    meeting = (
        await session.execute(
            select(func.count())
            .select_from(Meeting)
            .where(hosted_by(community_id))  # a joint meeting in a room counts for both
            .where(col(Meeting.status) != MeetingStatus.CANCELLED)
            .where(col(Meeting.mode).in_(IN_PERSON_MODES))
            .where(col(Meeting.starts_at) >= since)
            .where(col(Meeting.starts_at) <= until)
        )
    ).scalar_one()
    if meeting:
        return True
    completed = exists(
        select(col(Meeting.id))
        .where(col(Meeting.draft_key) == col(SeriesDate.draft_key))
        .where(col(Meeting.community_id) == col(SeriesDate.community_id))
    )
    drafts = (
        await session.execute(
            select(func.count())
            .select_from(SeriesDate)
            .where(col(SeriesDate.community_id) == community_id)
            .where(col(SeriesDate.mode).in_(IN_PERSON_MODES))
            .where(col(SeriesDate.starts_at) >= since)
            .where(col(SeriesDate.starts_at) <= until)
            .where(~completed)
        )
    ).scalar_one()
    return bool(drafts)


# -- date polls ------------------------------------------------------------------------------


async def date_poll_made(session: AsyncSession, *, request_key: str) -> DatePoll | None:
    return (await session.exec(select(DatePoll).where(DatePoll.request_key == request_key))).first()


async def record_date_poll(
    session: AsyncSession,
    *,
    poll: Poll,
    request_key: str,
    dates: Sequence[tuple[datetime, datetime]],
) -> DatePoll:
    """The dates behind a poll's options (the poll itself is made by storage/polls.py)."""
    assert poll.id is not None
    if len(dates) != len(poll.options):
        raise ValueError("one date per option")
    found = DatePoll(
        poll_id=poll.id,
        community_id=poll.community_id,
        request_key=request_key,
        dates=[[start.isoformat(), end.isoformat()] for start, end in dates],
    )
    session.add(found)
    await session.flush()
    return found


async def forget_date_poll(session: AsyncSession, *, poll_id: int) -> None:
    """Before an unposted poll is discarded (storage/polls.py discard_unposted)."""
    found = (await session.exec(select(DatePoll).where(DatePoll.poll_id == poll_id))).first()
    if found is not None:
        await session.delete(found)
        await session.flush()


async def date_poll_of(session: AsyncSession, *, poll_id: int) -> DatePoll | None:
    return (await session.exec(select(DatePoll).where(DatePoll.poll_id == poll_id))).first()


def option_dates(found: DatePoll) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in found.dates]


def winning_option(
    counts: Sequence[int] | None, dates: Sequence[tuple[datetime, datetime]]
) -> int | None:
    """The option with the most votes; a tie goes to the earliest date. None without votes."""
    if not counts or not any(counts) or len(counts) != len(dates):
        return None
    best = max(counts)
    return min((i for i, c in enumerate(counts) if c == best), key=lambda i: dates[i][0])


async def closed_unannounced(session: AsyncSession) -> list[tuple[DatePoll, Poll]]:
    """Date polls that closed and whose winning date has not been queued yet."""
    rows = await session.exec(
        select(DatePoll, Poll)
        .join(Poll, col(Poll.id) == col(DatePoll.poll_id))
        .where(col(Poll.status) == PollStatus.CLOSED)
        .where(col(DatePoll.announced_at).is_(None))
        .order_by(col(DatePoll.id))
    )
    return list(rows.all())


async def mark_announced(session: AsyncSession, *, date_poll_id: int, now: datetime) -> bool:
    """True for the one caller that marks it (two replicas: one announces)."""
    result = await session.execute(
        update(DatePoll)
        .where(col(DatePoll.id) == date_poll_id)
        .where(col(DatePoll.announced_at).is_(None))
        .values(announced_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


# -- the charter -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Charter:
    """What a facilitator may change after setup (the name and the channel stay)."""

    domain: str
    objectives: list[str]
    theme: str
    audience: str
    cadence: str
    usual_mode: MeetingMode
    rules: list[str]


async def update_charter(
    session: AsyncSession, *, community_id: int, by_person_id: int, charter: Charter
) -> tuple[Community, bool]:
    """The community with its new charter; True when something changed (sending the same
    form twice changes nothing the second time). NotAllowed unless an animator."""
    await _require_animator(session, community_id=community_id, person_id=by_person_id)
    community = await session.get(Community, community_id, with_for_update=True)
    if community is None:
        raise LookupError(community_id)
    values = {
        "domain": charter.domain,
        "objectives": list(charter.objectives),
        "theme": charter.theme,
        "audience": charter.audience,
        "cadence": charter.cadence,
        "usual_mode": charter.usual_mode,
        "rules": list(charter.rules),
    }
    changed = any(getattr(community, name) != value for name, value in values.items())
    if changed:
        for name, value in values.items():
            setattr(community, name, value)
        session.add(community)
        await session.flush()
        logger.info("charter of community %s updated", community_id)
    return community, changed


# -- the yearly needs survey -----------------------------------------------------------------


def needs_due_key(community_id: int, year: int, person_id: int) -> str:
    """The proposal to one facilitator, once per community and (UTC) year."""
    return f"{KIND_NEEDS_DUE}:{community_id}:{year}:to:{person_id}"


def needs_later_key(community_id: int, year: int, person_id: int) -> str:
    """The proposal again after « Plus tard », once per community, year and facilitator."""
    return f"{KIND_NEEDS_DUE}:{community_id}:{year}:later:to:{person_id}"


async def communities_due_needs_survey(session: AsyncSession, *, now: datetime) -> list[Community]:
    """Communities with no needs survey opened in the last NEEDS_CYCLE and no proposal queued
    for that time (either key, whatever became of it: sent, cancelled or undeliverable)."""
    since = now - NEEDS_CYCLE
    surveyed = exists(
        select(col(Survey.id))
        .where(col(Survey.community_id) == col(Community.id))
        .where(col(Survey.kind) == SurveyKind.NEEDS)
        .where(col(Survey.opens_at) > since)
    )
    prefix = literal(f"{KIND_NEEDS_DUE}:") + cast(col(Community.id), String) + literal(":")
    proposed = exists(
        select(col(OutboxMessage.id))
        .where(col(OutboxMessage.kind) == KIND_NEEDS_DUE)
        .where(col(OutboxMessage.dedup_key).startswith(prefix))
        .where(col(OutboxMessage.not_before) > since)
    )
    rows = await session.exec(
        select(Community).where(~surveyed).where(~proposed).order_by(col(Community.id))
    )
    return list(rows.all())


async def needs_survey_due(session: AsyncSession, *, community_id: int, now: datetime) -> bool:
    """Whether the community still has no needs survey opened in the last NEEDS_CYCLE (at send
    time, and when « Plus tard » is clicked: one launched meanwhile ends the proposal)."""
    found = (
        await session.execute(
            select(func.count())
            .select_from(Survey)
            .where(col(Survey.community_id) == community_id)
            .where(col(Survey.kind) == SurveyKind.NEEDS)
            .where(col(Survey.opens_at) > now - NEEDS_CYCLE)
        )
    ).scalar_one()
    return not found


async def previous_needs_survey(
    session: AsyncSession, *, community_id: int, now: datetime
) -> Survey | None:
    """Last year's needs survey: the latest one closed, opened within two cycles (an older one
    is not « l'an dernier »)."""
    return (
        await session.exec(
            select(Survey)
            .where(Survey.community_id == community_id)
            .where(Survey.kind == SurveyKind.NEEDS)
            .where(col(Survey.opens_at) > now - 2 * NEEDS_CYCLE)
            .where(col(Survey.closes_at) <= now)
            .order_by(col(Survey.opens_at).desc(), col(Survey.id).desc())
            .limit(1)
        )
    ).first()


async def is_facilitator(session: AsyncSession, *, community_id: int, person_id: int) -> bool:
    member = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(member, Role.ANIMATOR)


def office_hours(now: datetime, *, tz: str, non_working: Iterable[date] = ()) -> datetime:
    """`now` during office hours on a working day; otherwise the next working morning."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date()
    closures = tuple(non_working)
    if is_working_day(day, extra_non_working=closures):
        if OFFICE_OPENS <= local.time() < OFFICE_CLOSES:
            return now
        if local.time() >= OFFICE_CLOSES:
            day += timedelta(days=1)
    while not is_working_day(day, extra_non_working=closures):
        day += timedelta(days=1)
    return datetime.combine(day, OFFICE_OPENS, tzinfo=zone).astimezone(UTC)


async def queued_at(session: AsyncSession, *, dedup_key: str) -> datetime | None:
    """When the outbox row under this key is (or was) due; None without one."""
    return (
        await session.exec(
            select(OutboxMessage.not_before).where(OutboxMessage.dedup_key == dedup_key)
        )
    ).first()
