"""Complex-case discussions (discussions de cas complexes), the reflective part of a meeting:
a member submits a situation, the community's facilitators (animators) pick it for a meeting,
return it or decline it with a message, the presenter may withdraw it at any time; after the
meeting the facilitator records the themes it raised (they feed the topic bank and the monthly
summary) and the presenter what they take away (theirs alone).

Every rule is checked here, whatever a card claimed: only active members submit, only the
presenter withdraws or records a takeaway, only an animator of the case's community picks,
returns, declines or records themes, and a case is picked only for an upcoming meeting of its
own community. Every free text others will read is screened for client identifiers
(storage/identifiers.py) here too: a text whose spotted kinds the presenter did not confirm is
refused (`HasIdentifiers`), so nothing unscreened is ever saved; only a name may be confirmed
(`storage.identifiers.unconfirmed`), a phone number or a date of birth never.

Who sees what: facilitators see the cases of their community with the presenter's name (they
answer them); the agenda shows a case's title, and its presenter's name only when they agreed
(`agenda_cases`); the takeaway is read only by `takeaway_of` for its own author.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.communities import NotAllowed, has_role, membership, people_with_role
from storage.identifiers import HasIdentifiers, likely_identifiers, unconfirmed
from storage.meetings import KIND_AGENDA_CARD, agenda_card_key, card_copies
from storage.models import (
    CaseDiscussion,
    CaseStatus,
    CaseTakeaway,
    CaseTheme,
    Meeting,
    MeetingStatus,
    Person,
    Role,
    Topic,
    TopicStatus,
    Volet,
    utcnow,
)
from storage.sql import insert_if_absent

logger = logging.getLogger(__name__)

MAX_TITLE_LENGTH = 120
MAX_TEXT_LENGTH = 2000
# Enough to say something; a case of a few words gives the group nothing to work on.
MIN_TEXT_LENGTH = 10
MAX_MESSAGE_LENGTH = 1000
MAX_THEME_LENGTH = 80
MAX_THEMES = 8
MAX_TAKEAWAY_LENGTH = 2000
# The texts of a case, in the order the dialog asks them; `tried` may be left empty.
FIELDS = ("title", "context", "complexity", "question", "tried")
OPTIONAL_FIELDS = frozenset({"tried"})
# Cases the facilitators still act on (pick, return, decline); the presenter may withdraw them.
OPEN_STATUSES = frozenset({CaseStatus.SUBMITTED, CaseStatus.SCHEDULED})
# On a meeting's agenda.
ON_AGENDA = (CaseStatus.SCHEDULED, CaseStatus.DISCUSSED)
SENT_BACK = frozenset({CaseStatus.RETURNED, CaseStatus.DECLINED})

# Outbox kinds: params {"case_id"} (facilitators told of a new case) and {"case_id", "status",
# "message"} (the presenter told their case was picked, returned or declined). Rendered at
# send time from the case as it is then (bot/cases_flow.py).
KIND_SUBMITTED = "case_submitted"
KIND_UPDATE = "case_update"


def submitted_notice_key(case_id: int, animator_id: int) -> str:
    """An animator told of a new case, once. The format must not change: a key spelled
    differently would not deduplicate against a queued row."""
    return f"cases:{case_id}:submitted:to:{animator_id}"


def update_notice_key(case_id: int, status: CaseStatus, meeting_id: int | None, to: int) -> str:
    """The presenter told their case moved to `status` (for a pick, to which meeting), once.
    Format fixed (see above)."""
    return f"cases:{case_id}:{status.value}:{meeting_id or 0}:to:{to}"


class CaseNotFound(LookupError):
    """No such case (deleted with its presenter's data, or an id a card made up)."""


class CaseClosed(NotAllowed):
    """The case is no longer in a state that allows this (withdrawn, declined, discussed…)."""


class MeetingNotOpen(ValueError):
    """The meeting chosen is not an upcoming meeting of the case's community."""


class TooEarly(ValueError):
    """Themes and takeaways are recorded once the meeting has begun."""


@dataclass
class Draft:
    """A case as the dialog collected it. `screening`: per text, the kinds of identifiers
    spotted that the presenter confirmed identify no one."""

    title: str = ""
    context: str = ""
    complexity: str = ""
    question: str = ""
    tried: str = ""
    name_shown: bool = False
    screening: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = getattr(self, name)
        assert isinstance(value, str)
        return value


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case with its presenter (None once erased) and its meeting, for the lists."""

    case: CaseDiscussion
    presenter: Person | None
    meeting: Meeting | None
    themes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgendaCase:
    """A case as the agenda shows it: `presenter` only when they agreed to be named."""

    case_id: int
    title: str
    presenter: str | None


@dataclass(frozen=True, slots=True)
class Changed:
    """What an action did: whether anything changed, and the meetings whose agenda cards must
    be refreshed (the case left or joined them)."""

    case: CaseDiscussion
    changed: bool
    meetings: tuple[int, ...] = ()


def _clean(text: str | None, *, limit: int, what: str, minimum: int = 0) -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise ValueError(f"{what} longer than {limit} characters")
    if value and len(value) < minimum:
        raise ValueError(f"{what} shorter than {minimum} characters")
    return value


def _screened(text: str) -> str:
    """A text others will read, which must hold no identifier (no confirmation offered)."""
    found = likely_identifiers(text)
    if found:
        raise HasIdentifiers(found)
    return text


async def is_facilitator(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, Role.ANIMATOR)


async def _facilitator(session: AsyncSession, *, person_id: int, community_id: int) -> None:
    if not await is_facilitator(session, person_id=person_id, community_id=community_id):
        raise NotAllowed("only a facilitator of the case's community may")


async def _locked(session: AsyncSession, case_id: int) -> CaseDiscussion:
    """The case, locked for the rest of the transaction (two clicks at once: one effect)."""
    statement = (
        select(CaseDiscussion)
        .where(col(CaseDiscussion.id) == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    case = (await session.exec(statement)).first()
    if case is None:
        raise CaseNotFound(case_id)
    return case


async def get_case(session: AsyncSession, *, case_id: int) -> CaseDiscussion | None:
    return await session.get(CaseDiscussion, case_id)


# -- submitting --------------------------------------------------------------------------------


async def submit(
    session: AsyncSession,
    *,
    community_id: int,
    presenter_id: int,
    draft: Draft,
    request_key: str,
    now: datetime | None = None,
) -> tuple[CaseDiscussion, bool]:
    """Save a submitted case; True when this call saved it (False: the same confirmation
    arrived again and finds the first). NotAllowed for someone who is not an active member,
    ValueError for a missing or too long text, HasIdentifiers for a text with identifiers the
    presenter did not confirm."""
    row = await membership(session, person_id=presenter_id, community_id=community_id)
    if row is None or row.left_at is not None:
        raise NotAllowed("not a member of this community")
    existing = (
        await session.exec(
            select(CaseDiscussion).where(col(CaseDiscussion.request_key) == request_key)
        )
    ).first()
    if existing is not None:
        return existing, False
    texts: dict[str, str] = {}
    for name in FIELDS:
        limit = MAX_TITLE_LENGTH if name == "title" else MAX_TEXT_LENGTH
        minimum = 0 if name == "title" else MIN_TEXT_LENGTH
        value = _clean(draft.text(name), limit=limit, what=name, minimum=minimum)
        if not value and name not in OPTIONAL_FIELDS:
            raise ValueError(f"a case needs its {name}")
        confirmed = draft.screening.get(name, [])
        found = unconfirmed(value, confirmed)
        if found:
            raise HasIdentifiers(found)
        texts[name] = value
    # Only what was really spotted and confirmed is recorded.
    screening = {
        name: sorted(k.value for k in likely_identifiers(texts[name]))
        for name in FIELDS
        if likely_identifiers(texts[name])
    }
    moment = now or utcnow()
    values: dict[str, Any] = {
        "community_id": community_id,
        "presenter_id": presenter_id,
        **texts,
        "name_shown": draft.name_shown,
        "screening": screening,
        "status": CaseStatus.SUBMITTED.value,
        "request_key": request_key[:64],
        "created_at": moment,
        "status_changed_at": moment,
    }
    created = await insert_if_absent(
        session,
        CaseDiscussion.__table__,  # type: ignore[attr-defined]
        values,
        conflict=["request_key"],
    )
    case = (
        await session.exec(
            select(CaseDiscussion)
            .where(col(CaseDiscussion.request_key) == request_key[:64])
            .execution_options(populate_existing=True)
        )
    ).one()
    if created:
        logger.info("case %s submitted in community %s", case.id, community_id)
    return case, created


async def tell_facilitators(session: AsyncSession, case: CaseDiscussion) -> int:
    """Queue a notice of a new case to each animator of its community (not its presenter)."""
    assert case.id is not None
    queued = 0
    for animator in await people_with_role(
        session, community_id=case.community_id, roles=[Role.ANIMATOR]
    ):
        if animator.id is None or animator.id == case.presenter_id:
            continue
        queued += await outbox.enqueue(
            session,
            dedup_key=submitted_notice_key(case.id, animator.id),
            recipient=outbox.Recipient.person(animator.id),
            kind=KIND_SUBMITTED,
            params={"case_id": case.id},
        )
    return queued


# -- reading -----------------------------------------------------------------------------------


async def _themes_of(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, list[str]]:
    if not case_ids:
        return {}
    rows = await session.exec(
        select(CaseTheme)
        .where(col(CaseTheme.case_id).in_(list(case_ids)))
        .order_by(col(CaseTheme.id))
    )
    found: dict[int, list[str]] = {}
    for theme in rows.all():
        found.setdefault(theme.case_id, []).append(theme.theme)
    return found


async def _rows(session: AsyncSession, statement: Any) -> list[CaseRow]:
    rows = (await session.exec(statement)).all()
    themes = await _themes_of(session, [case.id for case, _p, _m in rows if case.id is not None])
    return [
        CaseRow(case=case, presenter=person, meeting=meeting, themes=tuple(themes.get(case.id, ())))
        for case, person, meeting in rows
    ]


def _joined() -> Any:
    return (
        select(CaseDiscussion, Person, Meeting)
        .outerjoin(Person, col(Person.id) == col(CaseDiscussion.presenter_id))
        .outerjoin(Meeting, col(Meeting.id) == col(CaseDiscussion.meeting_id))
    )


async def facilitators_list(
    session: AsyncSession, *, community_id: int, viewer_id: int
) -> list[CaseRow]:
    """What the facilitators act on: cases waiting for them, then those picked for a meeting
    (themes still to record once it has begun), oldest first. NotAllowed for anyone else."""
    await _facilitator(session, person_id=viewer_id, community_id=community_id)
    statement = (
        _joined()
        .where(col(CaseDiscussion.community_id) == community_id)
        .where(col(CaseDiscussion.status).in_([s.value for s in OPEN_STATUSES]))
        .order_by(col(CaseDiscussion.status).desc(), col(CaseDiscussion.created_at))
    )
    return await _rows(session, statement)


async def presenters_list(
    session: AsyncSession, *, person_id: int, community_id: int | None = None
) -> list[CaseRow]:
    """The person's own cases, most recent first (every status)."""
    statement = _joined().where(col(CaseDiscussion.presenter_id) == person_id)
    if community_id is not None:
        statement = statement.where(col(CaseDiscussion.community_id) == community_id)
    statement = statement.order_by(col(CaseDiscussion.created_at).desc(), col(CaseDiscussion.id))
    return await _rows(session, statement)


async def takeaway_of(session: AsyncSession, *, case_id: int, person_id: int) -> str | None:
    """The takeaway, for its author only: someone else (even a facilitator) reads None."""
    row = (
        await session.exec(
            select(CaseTakeaway)
            .where(col(CaseTakeaway.case_id) == case_id)
            .where(col(CaseTakeaway.person_id) == person_id)
        )
    ).first()
    return row.text if row is not None else None


async def takeaways_of(session: AsyncSession, *, person_id: int) -> dict[int, str]:
    """The person's own takeaways, by case."""
    rows = await session.exec(select(CaseTakeaway).where(col(CaseTakeaway.person_id) == person_id))
    return {row.case_id: row.text for row in rows.all()}


async def agenda_cases(session: AsyncSession, *, meeting_id: int) -> list[AgendaCase]:
    """The cases a meeting's reflective part discusses, as everyone may read them: the title,
    and the presenter's name only if they agreed. A withdrawn case is not among them."""
    rows = (
        await session.exec(
            select(CaseDiscussion, Person)
            .outerjoin(Person, col(Person.id) == col(CaseDiscussion.presenter_id))
            .where(col(CaseDiscussion.meeting_id) == meeting_id)
            .where(col(CaseDiscussion.status).in_([s.value for s in ON_AGENDA]))
            .order_by(col(CaseDiscussion.status_changed_at), col(CaseDiscussion.id))
        )
    ).all()
    return [
        AgendaCase(
            case_id=case.id or 0,
            title=case.title,
            presenter=(person.name or None) if case.name_shown and person is not None else None,
        )
        for case, person in rows
    ]


async def open_meetings(
    session: AsyncSession, *, community_id: int, now: datetime, limit: int = 6
) -> list[Meeting]:
    """The meetings a case may be picked for: the community's scheduled meetings still to
    begin, soonest first."""
    return list(
        (
            await session.exec(
                select(Meeting)
                .where(col(Meeting.community_id) == community_id)
                .where(col(Meeting.status) == MeetingStatus.SCHEDULED)
                .where(col(Meeting.starts_at) > now)
                .order_by(col(Meeting.starts_at), col(Meeting.id))
                .limit(limit)
            )
        ).all()
    )


# -- facilitators' decisions -------------------------------------------------------------------


def _moved(case: CaseDiscussion, status: CaseStatus, by: int | None, now: datetime) -> None:
    case.status = status
    case.status_changed_at = now
    if by is not None:
        case.decided_by_id = by


async def schedule(
    session: AsyncSession,
    *,
    case_id: int,
    meeting_id: int,
    by_person_id: int,
    now: datetime,
) -> Changed:
    """Pick the case for a meeting's reflective part (or move it to another meeting)."""
    case = await _locked(session, case_id)
    await _facilitator(session, person_id=by_person_id, community_id=case.community_id)
    if case.status not in OPEN_STATUSES:
        raise CaseClosed(case.status)
    meeting = await session.get(Meeting, meeting_id)
    if (
        meeting is None
        or meeting.community_id != case.community_id
        or meeting.status != MeetingStatus.SCHEDULED
        or meeting.starts_at <= now
    ):
        raise MeetingNotOpen(meeting_id)
    if case.status == CaseStatus.SCHEDULED and case.meeting_id == meeting_id:
        return Changed(case, False)
    before = case.meeting_id
    case.meeting_id = meeting_id
    case.facilitator_message = None
    _moved(case, CaseStatus.SCHEDULED, by_person_id, now)
    await session.flush()
    logger.info("case %s picked for meeting %s", case.id, meeting_id)
    return Changed(case, True, tuple(m for m in (before, meeting_id) if m is not None))


async def send_back(
    session: AsyncSession,
    *,
    case_id: int,
    status: CaseStatus,
    message: str,
    by_person_id: int,
    now: datetime,
) -> Changed:
    """Return (to rework) or decline the case, with a message for the presenter. The message
    is screened like any shared text. A case on an agenda leaves it."""
    if status not in SENT_BACK:
        raise ValueError(f"not a way to send a case back: {status}")
    case = await _locked(session, case_id)
    await _facilitator(session, person_id=by_person_id, community_id=case.community_id)
    if case.status == status:
        return Changed(case, False)
    if case.status not in OPEN_STATUSES:
        raise CaseClosed(case.status)
    text = _screened(_clean(message, limit=MAX_MESSAGE_LENGTH, what="message"))
    if not text:
        raise ValueError("a message is needed")
    before = case.meeting_id if case.status == CaseStatus.SCHEDULED else None
    case.facilitator_message = text
    case.meeting_id = None
    _moved(case, status, by_person_id, now)
    await session.flush()
    logger.info("case %s %s", case.id, status.value)
    return Changed(case, True, (before,) if before is not None else ())


async def tell_presenter(session: AsyncSession, case: CaseDiscussion) -> bool:
    """Queue the presenter's notice of the case's latest decision (once per decision)."""
    if case.id is None or case.presenter_id is None or case.decided_by_id == case.presenter_id:
        return False
    return await outbox.enqueue(
        session,
        dedup_key=update_notice_key(
            case.id, CaseStatus(case.status), case.meeting_id, case.presenter_id
        ),
        recipient=outbox.Recipient.person(case.presenter_id),
        kind=KIND_UPDATE,
        params={"case_id": case.id, "status": CaseStatus(case.status).value},
    )


async def withdraw(
    session: AsyncSession, *, case_id: int, person_id: int, now: datetime
) -> Changed:
    """The presenter withdraws their case, whatever a facilitator decided meanwhile, as long
    as it was not discussed. NotAllowed for anyone else."""
    case = await _locked(session, case_id)
    if case.presenter_id != person_id:
        raise NotAllowed("only the presenter withdraws a case")
    if case.status == CaseStatus.WITHDRAWN:
        return Changed(case, False)
    if case.status not in OPEN_STATUSES | SENT_BACK:
        raise CaseClosed(case.status)
    before = case.meeting_id if case.status == CaseStatus.SCHEDULED else None
    case.meeting_id = None
    _moved(case, CaseStatus.WITHDRAWN, None, now)
    await session.flush()
    logger.info("case %s withdrawn", case.id)
    return Changed(case, True, (before,) if before is not None else ())


# -- after the meeting -------------------------------------------------------------------------


def parse_themes(text: str) -> list[str]:
    """« Refus de soins, autonomie; proches aidants » → the themes, once each, in order."""
    seen: set[str] = set()
    themes: list[str] = []
    for part in text.replace(";", ",").replace("\n", ",").split(","):
        theme = " ".join(part.split()).strip(" .-")
        if theme and theme.casefold() not in seen:
            seen.add(theme.casefold())
            themes.append(theme)
    return themes


async def _meeting_begun(session: AsyncSession, case: CaseDiscussion, now: datetime) -> None:
    meeting = await session.get(Meeting, case.meeting_id) if case.meeting_id else None
    if meeting is None or meeting.starts_at > now:
        raise TooEarly(case.id)


async def record_themes(
    session: AsyncSession,
    *,
    case_id: int,
    themes: Sequence[str],
    by_person_id: int,
    now: datetime,
) -> Changed:
    """The themes the discussion raised (replacing those recorded before): the case is then
    discussed, and each theme not yet in the community's topic bank is proposed there."""
    case = await _locked(session, case_id)
    await _facilitator(session, person_id=by_person_id, community_id=case.community_id)
    if case.status not in (CaseStatus.SCHEDULED, CaseStatus.DISCUSSED):
        raise CaseClosed(case.status)
    await _meeting_begun(session, case, now)
    wanted = [_clean(t, limit=MAX_THEME_LENGTH, what="theme") for t in themes]
    wanted = [t for t in wanted if t]
    if not wanted or len(wanted) > MAX_THEMES:
        raise ValueError(f"between 1 and {MAX_THEMES} themes")
    for theme in wanted:
        _screened(theme)
    assert case.id is not None
    before = (await _themes_of(session, [case.id])).get(case.id, [])
    first = case.status != CaseStatus.DISCUSSED
    if not first and [t.casefold() for t in before] == [t.casefold() for t in wanted]:
        return Changed(case, False)
    await session.execute(delete(CaseTheme).where(col(CaseTheme.case_id) == case.id))
    bank = {
        topic.title.casefold(): topic
        for topic in (
            await session.exec(select(Topic).where(col(Topic.community_id) == case.community_id))
        ).all()
    }
    for theme in wanted:
        topic = bank.get(theme.casefold())
        if topic is None:
            topic = Topic(
                community_id=case.community_id,
                title=theme,
                kind=Volet.FORMATIVE,
                proposed_by_id=by_person_id,
                status=TopicStatus.PROPOSED,
                created_at=now,
            )
            session.add(topic)
            await session.flush()
            bank[theme.casefold()] = topic
        session.add(CaseTheme(case_id=case.id, theme=theme, topic_id=topic.id))
    if first:
        case.discussed_at = now
    _moved(case, CaseStatus.DISCUSSED, by_person_id, now)
    await session.flush()
    logger.info("case %s discussed: %s themes", case.id, len(wanted))
    return Changed(case, True)


async def record_takeaway(
    session: AsyncSession, *, case_id: int, person_id: int, text: str, now: datetime
) -> bool:
    """What the presenter takes away (replacing what they wrote before); True when changed.
    Private: never screened into anyone else's view, so no identifier check is forced on it."""
    case = await _locked(session, case_id)
    if case.presenter_id != person_id:
        raise NotAllowed("only the presenter records a takeaway")
    if case.status not in (CaseStatus.SCHEDULED, CaseStatus.DISCUSSED):
        raise CaseClosed(case.status)
    await _meeting_begun(session, case, now)
    value = _clean(text, limit=MAX_TAKEAWAY_LENGTH, what="takeaway")
    if not value:
        raise ValueError("an empty takeaway")
    existing = (
        await session.exec(select(CaseTakeaway).where(col(CaseTakeaway.case_id) == case_id))
    ).first()
    if existing is not None:
        if existing.text == value:
            return False
        existing.text = value
        existing.recorded_at = now
    else:
        created = await insert_if_absent(
            session,
            CaseTakeaway.__table__,  # type: ignore[attr-defined]
            {"case_id": case_id, "person_id": person_id, "text": value, "recorded_at": now},
            conflict=["case_id"],
        )
        if not created:
            return False
    await session.flush()
    return True


# -- agenda cards ------------------------------------------------------------------------------


async def refresh_agendas(session: AsyncSession, meeting_ids: Sequence[int]) -> int:
    """Queue an update of every posted copy of these meetings' agenda cards (a case joined or
    left them); the cards are rendered then, from current data."""
    queued = 0
    for meeting_id in meeting_ids:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            continue
        for conversation_ref_id, activity_id, locale in await card_copies(session, meeting=meeting):
            queued += await outbox.enqueue(
                session,
                dedup_key=agenda_card_key(meeting_id, uuid.uuid4().hex),
                recipient=outbox.Recipient.conversation(conversation_ref_id),
                kind=KIND_AGENDA_CARD,
                params={"meeting_id": meeting_id, "activity_id": activity_id, "locale": locale},
            )
    return queued


# -- the monthly summary -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthCases:
    discussed: int = 0
    # The themes raised by the month's discussed cases, most frequent first.
    themes: tuple[tuple[str, int], ...] = ()


async def month_figures(
    session: AsyncSession, *, community_id: int, start: datetime, end: datetime, limit: int = 5
) -> MonthCases:
    """Cases discussed at the community's meetings that began in [start, end), and the themes
    they raised (counted by case; written alike whatever the case)."""
    in_month = (
        select(col(CaseDiscussion.id))
        .join(Meeting, col(Meeting.id) == col(CaseDiscussion.meeting_id))
        .where(col(CaseDiscussion.community_id) == community_id)
        .where(col(CaseDiscussion.status) == CaseStatus.DISCUSSED.value)
        .where(col(Meeting.starts_at) >= start)
        .where(col(Meeting.starts_at) < end)
    )
    discussed = (await session.exec(select(func.count()).select_from(in_month.subquery()))).one()
    key = func.lower(col(CaseTheme.theme))
    rows = (
        await session.exec(
            select(func.min(col(CaseTheme.theme)), func.count())
            .where(col(CaseTheme.case_id).in_(in_month.scalar_subquery()))
            .group_by(key)
            .order_by(func.count().desc(), key)
            .limit(limit)
        )
    ).all()
    return MonthCases(
        discussed=int(discussed or 0),
        themes=tuple((str(theme), int(count)) for theme, count in rows),
    )


# -- the person's data (Law 25) ----------------------------------------------------------------


async def count_of(session: AsyncSession, *, person_id: int) -> int:
    return int(
        (
            await session.exec(
                select(func.count()).where(col(CaseDiscussion.presenter_id) == person_id)
            )
        ).one()
        or 0
    )


async def export_of(session: AsyncSession, *, person_id: int) -> list[dict[str, Any]]:
    """The person's cases, with their own takeaways (never another person's)."""
    takeaways = await takeaways_of(session, person_id=person_id)
    rows = await presenters_list(session, person_id=person_id)
    out: list[dict[str, Any]] = []
    for row in rows:
        case = row.case
        out.append(
            {
                "title": case.title,
                "context": case.context,
                "complexity": case.complexity,
                "question": case.question,
                "tried": case.tried,
                "name_shown": case.name_shown,
                "screening": dict(case.screening),
                "status": CaseStatus(case.status).value,
                "meeting_starts_at": row.meeting.starts_at.isoformat() if row.meeting else None,
                "facilitator_message": case.facilitator_message,
                "themes": list(row.themes),
                "takeaway": takeaways.get(case.id or 0),
                "created_at": case.created_at.isoformat(),
            }
        )
    return out


async def erase_presenter(session: AsyncSession, *, person_id: int) -> Mapping[str, int]:
    """The person's cases at erasure (docs/decisions.md): takeaways deleted; a case already
    discussed stays for the community by title and themes (its meeting's agenda, the monthly
    counts) without its presenter or texts; every other case is deleted."""
    counts: dict[str, int] = {}

    def add(name: str, result: Any) -> None:
        number = int(getattr(result, "rowcount", 0) or 0)
        if number:
            counts[name] = counts.get(name, 0) + number

    add(
        "case_takeaways",
        await session.execute(delete(CaseTakeaway).where(col(CaseTakeaway.person_id) == person_id)),
    )
    mine = select(col(CaseDiscussion.id)).where(col(CaseDiscussion.presenter_id) == person_id)
    not_discussed = mine.where(col(CaseDiscussion.status) != CaseStatus.DISCUSSED.value)
    add(
        "case_takeaways",
        await session.execute(
            delete(CaseTakeaway).where(
                col(CaseTakeaway.case_id).in_(not_discussed.scalar_subquery())
            )
        ),
    )
    await session.execute(
        delete(CaseTheme).where(col(CaseTheme.case_id).in_(not_discussed.scalar_subquery()))
    )
    add(
        "cases_deleted",
        await session.execute(
            delete(CaseDiscussion)
            .where(col(CaseDiscussion.presenter_id) == person_id)
            .where(col(CaseDiscussion.status) != CaseStatus.DISCUSSED.value)
        ),
    )
    add(
        "cases_anonymised",
        await session.execute(
            update(CaseDiscussion)
            .where(col(CaseDiscussion.presenter_id) == person_id)
            .values(
                presenter_id=None,
                context="",
                complexity="",
                question="",
                tried="",
                name_shown=False,
                screening={},
                request_key=None,
            )
        ),
    )
    # Decisions they took as a facilitator name them no more.
    await session.execute(
        update(CaseDiscussion)
        .where(col(CaseDiscussion.decided_by_id) == person_id)
        .values(decided_by_id=None)
    )
    return counts
