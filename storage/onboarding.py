"""Onboarding newcomers: a plan of steps over their first weeks, delivered by the outbox.

Each step may carry the facilitators' own words (`StepContent`): a short text, a few https
links and a short checklist the newcomer ticks. The content lives with the plan in
community.settings["onboarding_plan"] and is read when a step is sent, so an edit reaches the
steps not yet sent. Ticks are rows (`OnboardingCheck`) keyed by the item's stable id: rewording
an item keeps its ticks, removing it drops them (docs/user-guide.md, « L’accueil des nouvelles
recrues »)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import communities, outbox, toolbox
from storage.communities import NotAllowed
from storage.identifiers import HasIdentifiers, IdentifierKind, unconfirmed
from storage.models import (
    Community,
    Membership,
    OnboardingCheck,
    OnboardingEnrollment,
    Person,
    Role,
    utcnow,
)
from storage.sql import insert_if_absent, insert_or_lock

STEPS = ("welcome", "meetings", "mentor_offer", "topics", "checkin")
KIND_STEP = "onboarding_step"  # one step of the plan: params {"community_id", "step"}
MAX_DAY = 365


# What a facilitator may add to a step: short, because it sits in a chat message.
MAX_TEXT_LENGTH = 600
MAX_LINKS = 3
MAX_LINK_TITLE_LENGTH = 80
MAX_ITEMS = 6
MAX_ITEM_LENGTH = 120
ITEM_ID_LENGTH = 8  # hex characters: random, so an id never comes back for another item

# Why a step's content cannot be kept (the card says each in the facilitator's language).
TEXT_TOO_LONG = "text_too_long"
TOO_MANY_LINKS = "too_many_links"
LINK_TITLE_MISSING = "link_title_missing"
LINK_TITLE_TOO_LONG = "link_title_too_long"
LINK_NOT_HTTPS = "link_not_https"
LINK_INVALID = "link_invalid"
TOO_MANY_ITEMS = "too_many_items"
ITEM_TOO_LONG = "item_too_long"


_MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)")
# "data:" only as a data address ("data:text/html,…"): « les data : … » is prose.
_SCRIPT_SCHEME = re.compile(
    r"\b(?:(?:javascript|vbscript)\s*:|data:[a-z]+/[a-z0-9.+-]+[,;])", re.IGNORECASE
)


class NotFollowing(LookupError):
    """The person does not follow this community's plan (never did, left, or stopped)."""


class InvalidContent(ValueError):
    """The content cannot be kept; `reasons` are codes above (never the text)."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("invalid onboarding content: " + ",".join(reasons))
        self.reasons = tuple(reasons)


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class StepContent:
    text: str = ""
    links: tuple[Link, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.text or self.links or self.checklist)


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    day: int
    enabled: bool = True
    content: StepContent = field(default_factory=StepContent)


# DOMAIN.md, "Onboarding newcomers": welcome and one-pager, how meetings run, a mentor, the
# topic bank, then a check-in a month in.
DEFAULT_PLAN: tuple[Step, ...] = (
    Step("welcome", 0),
    Step("meetings", 2),
    Step("mentor_offer", 7),
    Step("topics", 14),
    Step("checkin", 30),
)


def plan_of(community: Community) -> list[Step]:
    stored = community.settings.get("onboarding_plan")
    if not isinstance(stored, list):
        return list(DEFAULT_PLAN)
    by_key = {step.key: step for step in DEFAULT_PLAN}
    for item in stored:
        if isinstance(item, dict) and item.get("key") in by_key:
            by_key[str(item["key"])] = Step(
                str(item["key"]),
                int(item.get("day", 0)),
                bool(item.get("enabled", True)),
                _content_of(item),
            )
    return sorted(by_key.values(), key=lambda s: (s.day, STEPS.index(s.key)))


def step_of(community: Community, key: str) -> Step | None:
    return next((s for s in plan_of(community) if s.key == key), None)


def _content_of(stored: dict[str, Any]) -> StepContent:
    """A step's content as stored; anything malformed is left out rather than shown."""
    links = stored.get("links")
    items = stored.get("checklist")
    text = stored.get("text")
    return StepContent(
        text=text if isinstance(text, str) else "",
        links=tuple(
            Link(str(link["title"]), str(link["url"]))
            for link in (links if isinstance(links, list) else [])
            if isinstance(link, dict) and "title" in link and "url" in link
        ),
        checklist=tuple(
            ChecklistItem(str(item["id"]), str(item["label"]))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and "id" in item and "label" in item
        ),
    )


def _stored(step: Step) -> dict[str, Any]:
    stored: dict[str, Any] = {"key": step.key, "day": step.day, "enabled": step.enabled}
    content = step.content
    if content.text:
        stored["text"] = content.text
    if content.links:
        stored["links"] = [{"title": link.title, "url": link.url} for link in content.links]
    if content.checklist:
        stored["checklist"] = [{"id": i.id, "label": i.label} for i in content.checklist]
    return stored


def validate_plan(steps: list[Step]) -> None:
    if {s.key for s in steps} != set(STEPS):
        raise ValueError("the plan must list every step once")
    for step in steps:
        if not 0 <= step.day <= MAX_DAY:
            raise ValueError(f"day out of range for {step.key}: {step.day}")


async def set_plan(session: AsyncSession, *, community: Community, steps: list[Step]) -> None:
    """Change the steps' days and which are on; it applies to the steps not yet sent (they are
    read at send time). Each step keeps its content: that is edited by `set_step_content`."""
    validate_plan(steps)
    kept = {s.key: s.content for s in plan_of(community)}
    _store(session, community, [replace(s, content=kept[s.key]) for s in steps])
    await session.flush()


def _store(session: AsyncSession, community: Community, steps: Iterable[Step]) -> None:
    settings: dict[str, Any] = dict(community.settings)
    settings["onboarding_plan"] = [_stored(s) for s in steps]
    community.settings = settings  # a new dict, so SQLAlchemy sees the change
    session.add(community)


def link_problem(url: str) -> str | None:
    """Why a link cannot be offered to newcomers, or None: https only (a javascript:, data: or
    plain http link is refused), with a host, no credentials or spaces (storage/toolbox.py)."""
    problem = toolbox.url_problem(url)
    if problem == toolbox.URL_SCHEME:
        return LINK_NOT_HTTPS
    if problem is not None:
        return LINK_INVALID
    if urlsplit(url.strip()).scheme.lower() != "https":
        return LINK_NOT_HTTPS
    return None


def content_problems(content: StepContent) -> list[str]:
    """Reason codes for everything the facilitator must fix (empty when it can be kept)."""
    problems: list[str] = []

    def add(code: str) -> None:
        if code not in problems:
            problems.append(code)

    if len(content.text.strip()) > MAX_TEXT_LENGTH:
        add(TEXT_TOO_LONG)
    # Cards render text as Markdown: a link written in the text or an item obeys the same
    # rule as the link fields, and so does a bare script address.
    for written in (content.text, *(item.label for item in content.checklist)):
        for url in _MARKDOWN_LINK.findall(written):
            if (problem := link_problem(url)) is not None:
                add(problem)
        if _SCRIPT_SCHEME.search(written):
            add(LINK_NOT_HTTPS)
    if len(content.links) > MAX_LINKS:
        add(TOO_MANY_LINKS)
    for link in content.links:
        title = " ".join(link.title.split())
        if not title:
            add(LINK_TITLE_MISSING)
        elif len(title) > MAX_LINK_TITLE_LENGTH:
            add(LINK_TITLE_TOO_LONG)
        if (problem := link_problem(link.url)) is not None:
            add(problem)
    if len(content.checklist) > MAX_ITEMS:
        add(TOO_MANY_ITEMS)
    if any(len(" ".join(i.label.split())) > MAX_ITEM_LENGTH for i in content.checklist):
        add(ITEM_TOO_LONG)
    return problems


def spotted(content: StepContent, confirmed: Iterable[str] = ()) -> tuple[IdentifierKind, ...]:
    """Client identifiers spotted in what newcomers will read, less the names the facilitator
    confirmed are no client's (only names may be confirmed: storage.identifiers)."""
    said = tuple(confirmed)
    texts = [content.text, *(link.title for link in content.links)]
    texts += [item.label for item in content.checklist]
    kinds: list[IdentifierKind] = []
    for text in texts:
        for kind in unconfirmed(text, said):
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


def new_item_id() -> str:
    return secrets.token_hex(ITEM_ID_LENGTH // 2)


def _with_ids(
    wanted: Sequence[ChecklistItem], current: Sequence[ChecklistItem]
) -> tuple[ChecklistItem, ...]:
    """The checklist as saved: an item whose id is one of the step's keeps it (its wording may
    change, its ticks stay); any other id (none, forged, from a stale form, repeated) is a
    new item with a fresh id. Empty labels are dropped."""
    known = {item.id for item in current}
    used: set[str] = set()
    saved: list[ChecklistItem] = []
    for item in wanted:
        label = " ".join(item.label.split())
        if not label:
            continue
        item_id = item.id if item.id in known and item.id not in used else new_item_id()
        used.add(item_id)
        saved.append(ChecklistItem(item_id, label))
    return tuple(saved)


async def is_facilitator(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    member = await communities.membership(session, person_id=person_id, community_id=community_id)
    return communities.has_role(member, Role.ANIMATOR)


async def set_step_content(
    session: AsyncSession,
    *,
    community: Community,
    step: str,
    by_person_id: int,
    content: StepContent,
    confirmed: Iterable[str] = (),
) -> StepContent:
    """Replace one step's text, links and checklist; it reaches the steps not yet sent.

    Only the community's facilitators (NotAllowed). Nothing changes when the content breaks a
    rule (InvalidContent: length, count, a link not https) or seems to identify a client
    (HasIdentifiers, names confirmed excepted). Ticks of items removed are deleted: they tick
    nothing any more and are not counted."""
    assert community.id is not None
    if step not in STEPS:
        raise LookupError(f"unknown onboarding step {step!r}")
    if not await is_facilitator(session, person_id=by_person_id, community_id=community.id):
        raise NotAllowed()
    problems = content_problems(content)
    if problems:
        raise InvalidContent(problems)
    kinds = spotted(content, confirmed)
    if kinds:
        raise HasIdentifiers(kinds)
    # Re-read under the transaction: two facilitators saving at once each keep their own step.
    await session.refresh(community, with_for_update=True)
    plan = plan_of(community)
    current = next(s for s in plan if s.key == step)
    saved = StepContent(
        text=content.text.strip(),
        links=tuple(Link(" ".join(link.title.split()), link.url.strip()) for link in content.links),
        checklist=_with_ids(content.checklist, current.content.checklist),
    )
    _store(session, community, [replace(s, content=saved) if s.key == step else s for s in plan])
    kept = [item.id for item in saved.checklist]
    await session.execute(
        delete(OnboardingCheck)
        .where(col(OnboardingCheck.community_id) == community.id)
        .where(col(OnboardingCheck.step) == step)
        .where(col(OnboardingCheck.item_id).not_in(kept))
    )
    await session.flush()
    return saved


def steps_prefix(community_id: int, person_id: int) -> str:
    """The outbox keys of one person's plan in one community (stopping cancels them)."""
    return f"onboarding:{community_id}:{person_id}:"


def step_key(community_id: int, person_id: int, step: str) -> str:
    return f"{steps_prefix(community_id, person_id)}{step}"


def checkin_notice_key(community_id: int, person_id: int | None, animator_id: int | None) -> str:
    """An animator told of a newcomer's check-in answer (a notice). Not under `steps_prefix`:
    the newcomer leaving must not withdraw what the animator was told."""
    return f"onboarding:checkin:{community_id}:{person_id}:to:{animator_id}"


async def enrollment(
    session: AsyncSession, *, community_id: int, person_id: int
) -> OnboardingEnrollment | None:
    return (
        await session.exec(
            select(OnboardingEnrollment)
            .where(OnboardingEnrollment.community_id == community_id)
            .where(OnboardingEnrollment.person_id == person_id)
        )
    ).first()


async def start(
    session: AsyncSession,
    *,
    community: Community,
    person_id: int,
    source: str,
    now: datetime | None = None,
) -> bool:
    """Start the plan for a newcomer; False if they already follow (or followed) it.

    Every step is queued at once with its own not_before; the dedup keys make a second start
    (a team join then the join dialog, two replicas…) harmless."""
    now = now or utcnow()
    assert community.id is not None
    # Two starts at once (a double click on the join dialog's confirmation, a team join at the
    # same moment) make one enrollment, and only one of them says it started.
    enrolled, created = await insert_or_lock(
        session,
        OnboardingEnrollment,
        {"community_id": community.id, "person_id": person_id, "source": source, "started_at": now},
        key=["community_id", "person_id"],
    )
    if not created:
        if enrolled.stopped_at is None:
            return False
        # Back after leaving: steps already sent are not repeated (same keys).
        enrolled.stopped_at = None
        await session.flush()
    for step in plan_of(community):
        await outbox.enqueue(
            session,
            dedup_key=step_key(community.id, person_id, step.key),
            recipient=outbox.Recipient.person(person_id),
            kind=KIND_STEP,
            params={"community_id": community.id, "step": step.key},
            not_before=now + timedelta(days=step.day),
        )
    return True


async def stop(
    session: AsyncSession, *, community_id: int, person_id: int, now: datetime | None = None
) -> int:
    """Stop the plan (the person left): pending steps are cancelled. Returns how many."""
    row = await enrollment(session, community_id=community_id, person_id=person_id)
    if row is not None and row.stopped_at is None:
        row.stopped_at = now or utcnow()
    return await outbox.cancel_pending(
        session, dedup_key_prefix=steps_prefix(community_id, person_id)
    )


async def record_checkin(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    rating: int,
    comment: str,
    now: datetime | None = None,
) -> OnboardingEnrollment:
    if not 1 <= rating <= 5:
        raise ValueError("rating must be 1 to 5")
    row = await enrollment(session, community_id=community_id, person_id=person_id)
    if row is None:
        raise LookupError("not enrolled")
    row.checkin_rating = rating
    row.checkin_comment = comment.strip()[:1000] or None
    row.checkin_at = now or utcnow()
    await session.flush()
    return row


# -- the newcomer's checklist ---------------------------------------------------------------


async def set_checked(
    session: AsyncSession,
    *,
    community: Community,
    person_id: int,
    step: str,
    item_id: str,
    checked: bool,
    now: datetime | None = None,
) -> bool:
    """Tick (or untick) one item of a step's checklist for a newcomer; True when that changed
    something. The card says which state it wants, so a double click is one tick, not a tick
    then an untick; the unique key makes two replicas' clicks one row.

    Only someone following the plan (NotFollowing otherwise), for an item the step still has
    (LookupError: the facilitators removed it since the card was sent)."""
    assert community.id is not None
    row = await enrollment(session, community_id=community.id, person_id=person_id)
    if row is None or row.stopped_at is not None:
        raise NotFollowing("not following the onboarding plan")
    current = step_of(community, step)
    if current is None or item_id not in {item.id for item in current.content.checklist}:
        raise LookupError("no such checklist item")
    if checked:
        return await insert_if_absent(
            session,
            OnboardingCheck.__table__,  # type: ignore[attr-defined]
            {
                "community_id": community.id,
                "person_id": person_id,
                "step": step,
                "item_id": item_id,
                "checked_at": now or utcnow(),
            },
            conflict=["community_id", "person_id", "step", "item_id"],
        )
    result = await session.execute(
        delete(OnboardingCheck)
        .where(col(OnboardingCheck.community_id) == community.id)
        .where(col(OnboardingCheck.person_id) == person_id)
        .where(col(OnboardingCheck.step) == step)
        .where(col(OnboardingCheck.item_id) == item_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def checked_items(
    session: AsyncSession, *, community_id: int, person_id: int, step: str
) -> frozenset[str]:
    """The ids of the items of one step this person ticked."""
    rows = await session.exec(
        select(col(OnboardingCheck.item_id))
        .where(col(OnboardingCheck.community_id) == community_id)
        .where(col(OnboardingCheck.person_id) == person_id)
        .where(col(OnboardingCheck.step) == step)
    )
    return frozenset(rows.all())


@dataclass(frozen=True, slots=True)
class Progress:
    """A newcomer following the plan, and how many checklist items they ticked."""

    person_id: int
    name: str | None
    started_at: datetime
    checked: int
    total: int


async def progress(session: AsyncSession, *, community: Community) -> list[Progress]:
    """The newcomers following the plan now (newest first) with their ticks counted against the
    checklist of the steps that are on: items removed or steps turned off do not count."""
    assert community.id is not None
    items = [
        (step.key, item.id)
        for step in plan_of(community)
        if step.enabled
        for item in step.content.checklist
    ]
    by_person: dict[int, int] = {}
    if items:
        steps = {step for step, _ in items}
        ticks = (
            select(col(OnboardingCheck.person_id), func.count())
            .where(col(OnboardingCheck.community_id) == community.id)
            .where(
                or_(
                    *(
                        (col(OnboardingCheck.step) == step)
                        & col(OnboardingCheck.item_id).in_([i for s, i in items if s == step])
                        for step in sorted(steps)
                    )
                )
            )
            .group_by(col(OnboardingCheck.person_id))
        )
        by_person = {int(p): int(n) for p, n in (await session.exec(ticks)).all()}
    rows = await session.exec(
        select(OnboardingEnrollment, Person.name)
        .join(Person, col(Person.id) == col(OnboardingEnrollment.person_id))
        .join(
            Membership,
            (col(Membership.person_id) == col(OnboardingEnrollment.person_id))
            & (col(Membership.community_id) == col(OnboardingEnrollment.community_id)),
        )
        .where(col(OnboardingEnrollment.community_id) == community.id)
        .where(col(OnboardingEnrollment.stopped_at).is_(None))
        .where(col(Membership.left_at).is_(None))
        .order_by(col(OnboardingEnrollment.started_at).desc(), col(OnboardingEnrollment.id))
    )
    return [
        Progress(
            person_id=row.person_id,
            name=name,
            started_at=row.started_at,
            checked=by_person.get(row.person_id, 0),
            total=len(items),
        )
        for row, name in rows.all()
    ]


async def export_checks(
    session: AsyncSession, *, community_id: int, person_id: int
) -> list[dict[str, str]]:
    """The person's ticks in one community, for their data export (storage/privacy.py): the
    step, the item as it reads now, and when."""
    community = await session.get(Community, community_id)
    labels = {
        (step.key, item.id): item.label
        for step in (plan_of(community) if community is not None else [])
        for item in step.content.checklist
    }
    rows = await session.exec(
        select(OnboardingCheck)
        .where(col(OnboardingCheck.community_id) == community_id)
        .where(col(OnboardingCheck.person_id) == person_id)
        .order_by(col(OnboardingCheck.checked_at), col(OnboardingCheck.id))
    )
    return [
        {
            "step": row.step,
            "item": labels.get((row.step, row.item_id), row.item_id),
            "checked_at": row.checked_at.isoformat(),
        }
        for row in rows.all()
    ]


async def erase_person(session: AsyncSession, *, person_id: int) -> int:
    """The person's ticks, all of them (storage/privacy.py erases with the person). Returns how
    many; zero on a second run."""
    deleted = await session.execute(
        delete(OnboardingCheck).where(col(OnboardingCheck.person_id) == person_id)
    )
    return int(getattr(deleted, "rowcount", 0) or 0)
