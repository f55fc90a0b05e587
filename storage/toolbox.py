"""The community's toolbox (boîte à outils): members share resources (a link, its kind, a few
themes, why it is useful, and who may see it), mark them « utile pour moi », and facilitators
keep the box tidy (pin, edit, retire, merge a duplicate into another).

Every rule is checked here, on the server, whatever a card claimed:
- only active members share, and only what passes `draft_problems` (an http/https link with a
  host, lengths, a known kind and visibility) and the client-identifier screening of its free
  text (`HasIdentifiers`: the writer is told which kinds were spotted and fixes them; nothing
  is stored until they do);
- a resource is seen by the active members of its community, and when shared with the tenant
  by the active members of every community of the same tenant (`may_see`); only active ones;
- marks are one per person and resource (a unique key), counted and never listed;
- facilitators (animators) of the resource's community pin, edit, retire and merge; the person
  who shared it edits or withdraws it; anyone else is refused (`NotAllowed`) and nothing
  changes.

The link is stored as typed (trimmed) and only ever shown: the server never fetches it.
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Exists, and_, case, delete, func, literal, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import NotAllowed, has_role, membership
from storage.identifiers import HasIdentifiers, IdentifierKind, likely_identifiers
from storage.models import (
    AgendaItem,
    AgendaResource,
    Community,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Resource,
    ResourceKind,
    ResourceMark,
    ResourceStatus,
    ResourceVisibility,
    Role,
)
from storage.sql import insert_if_absent

logger = logging.getLogger(__name__)

MAX_TITLE_LENGTH = 200
MAX_URL_LENGTH = 2000
MAX_WHY_LENGTH = 500
MAX_THEMES = 5
MAX_THEME_LENGTH = 40
MAX_REQUEST_KEY_LENGTH = 64
# Links are shown, never fetched; anything but a web page (javascript:, data:, file:, mailto:,
# a Teams deep link's custom scheme…) could run or reach something on the reader's machine.
ALLOWED_SCHEMES = frozenset({"http", "https"})

# Reason codes of a draft that cannot be kept (the bot says each in the person's language).
TITLE_MISSING = "title_missing"
TITLE_TOO_LONG = "title_too_long"
URL_MISSING = "url_missing"
URL_SCHEME = "url_scheme"
URL_INVALID = "url_invalid"
URL_TOO_LONG = "url_too_long"
WHY_TOO_LONG = "why_too_long"
TOO_MANY_THEMES = "too_many_themes"
THEME_TOO_LONG = "theme_too_long"
KIND_INVALID = "kind_invalid"
VISIBILITY_INVALID = "visibility_invalid"

MARK_TABLE = ResourceMark.__table__  # type: ignore[attr-defined]
RESOURCE_TABLE = Resource.__table__  # type: ignore[attr-defined]
AGENDA_RESOURCE_TABLE = AgendaResource.__table__  # type: ignore[attr-defined]


class ResourceNotFound(LookupError):
    """No such resource (or one no longer active, or an id a card made up)."""


class AgendaItemNotFound(LookupError):
    """No such agenda item among the resource's community's upcoming published meetings."""


class InvalidResource(ValueError):
    """The draft cannot be kept; `reasons` are the codes above."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("invalid resource: " + ",".join(reasons))
        self.reasons = tuple(reasons)


@dataclass(frozen=True, slots=True)
class Draft:
    """What a person typed in the form, before any check."""

    title: str = ""
    url: str = ""
    kind: str = ResourceKind.OTHER.value
    themes: str = ""
    why: str = ""
    visibility: str = ResourceVisibility.COMMUNITY.value


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """One line of a toolbox as a viewer sees it. `marked`: the viewer's own mark; `here`: the
    resource belongs to the community shown (else it comes from another community of the
    tenant, named by `community_name`)."""

    resource: Resource
    marks: int
    sharer: Person | None
    community_name: str
    here: bool
    marked: bool = False


@dataclass(frozen=True, slots=True)
class UsefulResource:
    """One of the month's most useful resources (for the monthly summary)."""

    resource_id: int
    title: str
    url: str
    marks: int


# -- checking a draft --------------------------------------------------------------------------


def simplify_theme(text: str) -> str:
    """How themes compare: lower case, no accents, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def parse_themes(text: str | Iterable[str]) -> list[str]:
    """« Plaies, soins à domicile; plaies » → ["Plaies", "soins à domicile"]: split on commas,
    semicolons and lines, trimmed, the first spelling of each theme kept."""
    parts = [text] if isinstance(text, str) else list(text)
    found: dict[str, str] = {}
    for part in parts:
        for piece in part.replace(";", ",").replace("\n", ",").split(","):
            theme = " ".join(piece.strip(" #-•\t").split())
            if theme and simplify_theme(theme) not in found:
                found[simplify_theme(theme)] = theme
    return list(found.values())


def url_problem(url: str) -> str | None:
    """Why this link cannot be kept, or None: http or https only, with a host, no spaces or
    control characters, no user name or password in it."""
    text = url.strip()
    if not text:
        return URL_MISSING
    if len(text) > MAX_URL_LENGTH:
        return URL_TOO_LONG
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text):
        return URL_INVALID
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return URL_INVALID
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return URL_SCHEME
    if not host or parts.username is not None or parts.password is not None:
        return URL_INVALID
    return None


def draft_problems(draft: Draft) -> list[str]:
    """Reason codes for everything the person must fix (empty when the draft can be kept)."""
    problems: list[str] = []
    title = draft.title.strip()
    if not title:
        problems.append(TITLE_MISSING)
    elif len(title) > MAX_TITLE_LENGTH:
        problems.append(TITLE_TOO_LONG)
    if (url := url_problem(draft.url)) is not None:
        problems.append(url)
    if len(draft.why.strip()) > MAX_WHY_LENGTH:
        problems.append(WHY_TOO_LONG)
    themes = parse_themes(draft.themes)
    if len(themes) > MAX_THEMES:
        problems.append(TOO_MANY_THEMES)
    if any(len(theme) > MAX_THEME_LENGTH for theme in themes):
        problems.append(THEME_TOO_LONG)
    if draft.kind not in {kind.value for kind in ResourceKind}:
        problems.append(KIND_INVALID)
    if draft.visibility not in {v.value for v in ResourceVisibility}:
        problems.append(VISIBILITY_INVALID)
    return problems


def spotted(draft: Draft) -> tuple[IdentifierKind, ...]:
    """Kinds of client identifiers spotted in what others will read (title, themes, why)."""
    kinds: list[IdentifierKind] = []
    for text in (draft.title, draft.themes, draft.why):
        for kind in likely_identifiers(text):
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


def _checked(draft: Draft) -> Draft:
    """The draft, trimmed; InvalidResource or HasIdentifiers when it cannot be kept."""
    problems = draft_problems(draft)
    if problems:
        raise InvalidResource(problems)
    kinds = spotted(draft)
    if kinds:
        raise HasIdentifiers(kinds)
    return Draft(
        title=" ".join(draft.title.split()),
        url=draft.url.strip(),
        kind=draft.kind,
        themes=draft.themes,
        why=draft.why.strip(),
        visibility=draft.visibility,
    )


# -- who may do what -------------------------------------------------------------------------


async def _active_member(session: AsyncSession, *, person_id: int, community_id: int) -> Membership:
    row = await membership(session, person_id=person_id, community_id=community_id)
    if row is None or row.left_at is not None:
        raise NotAllowed("not a member of this community")
    return row


async def is_facilitator(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, Role.ANIMATOR)


def _member_of_tenant(person_id: int, tenant_id: str) -> Exists:
    """The person is an active member of some community of `tenant_id` (a SQL condition)."""
    return (
        select(col(Membership.id))
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(col(Membership.person_id) == person_id)
        .where(col(Membership.left_at).is_(None))
        .where(col(Community.tenant_id) == tenant_id)
        .exists()
    )


async def may_see(session: AsyncSession, *, resource: Resource, person_id: int) -> bool:
    """An active member of its community, or — shared with the tenant and still active — an
    active member of any community of the same tenant."""
    row = await membership(session, person_id=person_id, community_id=resource.community_id)
    if row is not None and row.left_at is None:
        return True
    if (
        resource.visibility != ResourceVisibility.TENANT
        or resource.status != ResourceStatus.ACTIVE
        or not resource.tenant_id
    ):
        return False
    found = await session.exec(
        select(literal(1)).where(_member_of_tenant(person_id, resource.tenant_id))
    )
    return found.first() is not None


async def _locked(session: AsyncSession, resource_id: int) -> Resource:
    """The resource, locked for the rest of the transaction (FOR UPDATE on PostgreSQL)."""
    found = await session.exec(
        select(Resource)
        .where(col(Resource.id) == resource_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    resource = found.first()
    if resource is None:
        raise ResourceNotFound(resource_id)
    return resource


async def _managed(
    session: AsyncSession, *, resource_id: int, person_id: int, sharer_may: bool
) -> tuple[Resource, bool]:
    """The active resource and whether `person_id` is a facilitator of its community; NotAllowed
    unless they are one, or (`sharer_may`) the person who shared it and still a member."""
    resource = await _locked(session, resource_id)
    if resource.status != ResourceStatus.ACTIVE:
        raise ResourceNotFound(resource_id)
    facilitator = await is_facilitator(
        session, person_id=person_id, community_id=resource.community_id
    )
    if facilitator:
        return resource, True
    if sharer_may and resource.shared_by_id == person_id:
        await _active_member(session, person_id=person_id, community_id=resource.community_id)
        return resource, False
    raise NotAllowed("only a facilitator or the person who shared it may do this")


# -- use cases -------------------------------------------------------------------------------


async def add_resource(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    title: str,
    url: str,
    kind: ResourceKind | str,
    themes: str | Sequence[str],
    why: str,
    visibility: ResourceVisibility | str,
    request_key: str | None,
    now: datetime,
) -> tuple[Resource, bool]:
    """Share a resource in the community's toolbox; True when this call added it.

    NotAllowed for someone who is not an active member, InvalidResource for a draft that cannot
    be kept (an unsafe link among them), HasIdentifiers when its text seems to identify a
    client. `request_key` (the form's own key) makes a double click, or the same form sent
    twice, add one resource: the second call returns the first one's row."""
    await _active_member(session, person_id=person_id, community_id=community_id)
    draft = _checked(
        Draft(
            title=title,
            url=url,
            kind=str(kind),
            themes=themes if isinstance(themes, str) else ", ".join(themes),
            why=why,
            visibility=str(visibility),
        )
    )
    community = await session.get(Community, community_id)
    if community is None:
        raise ResourceNotFound(community_id)
    # Without a form's key (a caller that cannot click twice), a key of its own.
    key = (request_key or "")[:MAX_REQUEST_KEY_LENGTH] or uuid.uuid4().hex
    values: dict[str, Any] = {
        "community_id": community_id,
        "tenant_id": community.tenant_id,
        "title": draft.title,
        "url": draft.url,
        "kind": ResourceKind(draft.kind).value,
        "themes": parse_themes(draft.themes),
        "why": draft.why,
        "visibility": ResourceVisibility(draft.visibility).value,
        "shared_by_id": person_id,
        "pinned": False,
        "status": ResourceStatus.ACTIVE.value,
        "request_key": key,
        "created_at": now,
        "updated_at": now,
    }
    # One row per form, even for two clicks at the same moment (the unique key).
    created = await insert_if_absent(session, RESOURCE_TABLE, values, conflict=["request_key"])
    found = await session.exec(
        select(Resource)
        .where(col(Resource.request_key) == key)
        .execution_options(populate_existing=True)
    )
    resource = found.one()
    if resource.shared_by_id != person_id:
        # Someone else's form key: not theirs to resend.
        raise NotAllowed("a request key of someone else")
    if created:
        logger.info("resource %s shared in community %s", resource.id, community_id)
    return resource, created


async def get_resource(session: AsyncSession, *, resource_id: int) -> Resource | None:
    return await session.get(Resource, resource_id)


async def toolbox(
    session: AsyncSession,
    *,
    community_id: int,
    viewer_id: int | None = None,
    theme: str | None = None,
    kind: ResourceKind | str | None = None,
) -> list[ResourceRow]:
    """The community's active resources and the active resources other communities of its
    tenant shared with the tenant, in the order the toolbox reads: the community's pinned ones
    first, then the most marked, then the newest. `theme` and `kind` filter; `viewer_id` says
    which the viewer marked (None: a card everyone in a channel sees)."""
    community = await session.get(Community, community_id)
    if community is None:
        return []
    marks = func.count(col(ResourceMark.id))
    marked = (
        literal(0)
        if viewer_id is None
        else func.max(case((col(ResourceMark.person_id) == viewer_id, 1), else_=0))
    )
    here = col(Resource.community_id) == community_id
    where = here
    if community.tenant_id:
        where = or_(
            here,
            and_(
                col(Resource.tenant_id) == community.tenant_id,
                col(Resource.visibility) == ResourceVisibility.TENANT.value,
            ),
        )
    pinned_here = case((and_(here, col(Resource.pinned).is_(True)), 0), else_=1)
    statement = (
        select(Resource, Person, marks, marked)
        .outerjoin(ResourceMark, col(ResourceMark.resource_id) == col(Resource.id))
        .outerjoin(Person, col(Person.id) == col(Resource.shared_by_id))
        .where(where)
        .where(col(Resource.status) == ResourceStatus.ACTIVE.value)
        # Grouping by every primary key lets PostgreSQL return the other columns as they are.
        .group_by(col(Resource.id), col(Person.id))
        .order_by(pinned_here, marks.desc(), col(Resource.created_at).desc(), col(Resource.id))
    )
    if kind:
        statement = statement.where(col(Resource.kind) == str(kind))
    found = (await session.exec(statement)).all()
    others = {resource.community_id for resource, *_ in found} - {community_id}
    names = {community_id: community.name}
    if others:
        named = await session.exec(
            select(col(Community.id), col(Community.name)).where(col(Community.id).in_(others))
        )
        names.update({int(cid or 0): name for cid, name in named.all()})
    rows = [
        ResourceRow(
            resource=resource,
            marks=int(count),
            sharer=person,
            community_name=names.get(resource.community_id, ""),
            here=resource.community_id == community_id,
            marked=bool(mine),
        )
        for resource, person, count, mine in found
    ]
    if theme:
        # Themes are a short JSON list: filtered here, the same way on both databases.
        wanted = simplify_theme(theme)
        rows = [r for r in rows if wanted in {simplify_theme(t) for t in r.resource.themes}]
    return rows


def themes_of(rows: Iterable[ResourceRow]) -> list[str]:
    """The themes in use among `rows`, alphabetically; of two spellings, the community's own
    resources' first (a tenant-wide one from elsewhere may spell it otherwise)."""
    found: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: not r.here):
        for theme in row.resource.themes:
            found.setdefault(simplify_theme(theme), theme)
    return [found[key] for key in sorted(found)]


async def mark(
    session: AsyncSession, *, resource_id: int, person_id: int, wanted: bool, now: datetime
) -> bool:
    """Mark (`wanted`) or unmark the resource as useful to the person, as the card's button
    said: one mark per person and resource. True when this changed anything; a second click,
    even at the same moment (the unique key keeps one), changes nothing."""
    resource = await session.get(Resource, resource_id)
    if resource is None or resource.status != ResourceStatus.ACTIVE:
        raise ResourceNotFound(resource_id)
    if not await may_see(session, resource=resource, person_id=person_id):
        raise NotAllowed("not a member of a community that sees this resource")
    if wanted:
        return await insert_if_absent(
            session,
            MARK_TABLE,
            {"resource_id": resource_id, "person_id": person_id, "marked_at": now},
            conflict=["resource_id", "person_id"],
        )
    removed = await session.execute(
        delete(ResourceMark)
        .where(col(ResourceMark.resource_id) == resource_id)
        .where(col(ResourceMark.person_id) == person_id)
    )
    return bool(removed.rowcount)  # type: ignore[attr-defined]


async def set_pinned(
    session: AsyncSession, *, resource_id: int, by_person_id: int, pinned: bool, now: datetime
) -> tuple[Resource, bool]:
    """Pin or unpin (facilitators only); True when this changed anything."""
    resource, _ = await _managed(
        session, resource_id=resource_id, person_id=by_person_id, sharer_may=False
    )
    if resource.pinned == pinned:
        return resource, False
    resource.pinned = pinned
    resource.updated_at = now
    await session.flush()
    logger.info("resource %s pinned=%s", resource.id, pinned)
    return resource, True


async def update_resource(
    session: AsyncSession,
    *,
    resource_id: int,
    by_person_id: int,
    title: str,
    url: str,
    kind: ResourceKind | str,
    themes: str | Sequence[str],
    why: str,
    visibility: ResourceVisibility | str,
    now: datetime,
) -> Resource:
    """Edit a resource (a facilitator, or the person who shared it), checked and screened as
    when it was shared."""
    resource, _ = await _managed(
        session, resource_id=resource_id, person_id=by_person_id, sharer_may=True
    )
    draft = _checked(
        Draft(
            title=title,
            url=url,
            kind=str(kind),
            themes=themes if isinstance(themes, str) else ", ".join(themes),
            why=why,
            visibility=str(visibility),
        )
    )
    resource.title = draft.title
    resource.url = draft.url
    resource.kind = ResourceKind(draft.kind)
    resource.themes = parse_themes(draft.themes)
    resource.why = draft.why
    resource.visibility = ResourceVisibility(draft.visibility)
    resource.updated_at = now
    await session.flush()
    logger.info("resource %s edited", resource.id)
    return resource


async def remove(
    session: AsyncSession, *, resource_id: int, by_person_id: int, now: datetime
) -> Resource:
    """Take a resource out of the toolbox: withdrawn by the person who shared it, retired by a
    facilitator. ResourceNotFound when it is no longer active (a second click)."""
    resource, facilitator = await _managed(
        session, resource_id=resource_id, person_id=by_person_id, sharer_may=True
    )
    resource.status = (
        ResourceStatus.WITHDRAWN
        if resource.shared_by_id == by_person_id or not facilitator
        else ResourceStatus.RETIRED
    )
    resource.pinned = False
    resource.updated_at = now
    await session.flush()
    logger.info("resource %s is now %s", resource.id, resource.status)
    return resource


async def merge_targets(
    session: AsyncSession, *, resource_id: int, by_person_id: int
) -> tuple[Resource, list[Resource]]:
    """The resource to merge and the other active resources of its community it can be merged
    into (facilitators only)."""
    resource, _ = await _managed(
        session, resource_id=resource_id, person_id=by_person_id, sharer_may=False
    )
    found = await session.exec(
        select(Resource)
        .where(col(Resource.community_id) == resource.community_id)
        .where(col(Resource.status) == ResourceStatus.ACTIVE.value)
        .where(col(Resource.id) != resource_id)
        .order_by(col(Resource.title), col(Resource.id))
    )
    return resource, list(found.all())


async def merge(
    session: AsyncSession, *, resource_id: int, into_id: int, by_person_id: int, now: datetime
) -> Resource:
    """Merge a duplicate into another active resource of the same community (facilitators
    only): its marks move to the target — someone who marked both counts once — and it leaves
    the toolbox (status merged). Returns the target."""
    if resource_id == into_id:
        raise ResourceNotFound(into_id)
    resource, _ = await _managed(
        session, resource_id=resource_id, person_id=by_person_id, sharer_may=False
    )
    target = await _locked(session, into_id)
    if target.status != ResourceStatus.ACTIVE or target.community_id != resource.community_id:
        raise ResourceNotFound(into_id)
    moved = await session.exec(
        select(ResourceMark).where(col(ResourceMark.resource_id) == resource_id)
    )
    for row in moved.all():
        await insert_if_absent(
            session,
            MARK_TABLE,
            {"resource_id": into_id, "person_id": row.person_id, "marked_at": row.marked_at},
            conflict=["resource_id", "person_id"],
        )
    await session.execute(delete(ResourceMark).where(col(ResourceMark.resource_id) == resource_id))
    resource.status = ResourceStatus.MERGED
    resource.merged_into_id = into_id
    target.pinned = target.pinned or resource.pinned
    resource.pinned = False
    resource.updated_at = target.updated_at = now
    await session.flush()
    logger.info("resource %s merged into %s", resource_id, into_id)
    return target


async def most_useful(
    session: AsyncSession, *, community_id: int, start: datetime, end: datetime, limit: int = 3
) -> list[UsefulResource]:
    """The community's active resources marked most between `start` and `end` (marks made in
    that time), most first; resources nobody marked then are not listed."""
    marks = func.count(col(ResourceMark.id))
    rows = await session.exec(
        select(col(Resource.id), col(Resource.title), col(Resource.url), marks)
        .join(ResourceMark, col(ResourceMark.resource_id) == col(Resource.id))
        .where(col(Resource.community_id) == community_id)
        .where(col(Resource.status) == ResourceStatus.ACTIVE.value)
        .where(col(ResourceMark.marked_at) >= start)
        .where(col(ResourceMark.marked_at) < end)
        .group_by(col(Resource.id), col(Resource.title), col(Resource.url))
        .order_by(marks.desc(), col(Resource.title), col(Resource.id))
        .limit(limit)
    )
    return [
        UsefulResource(resource_id=int(rid or 0), title=title, url=url, marks=int(count))
        for rid, title, url, count in rows.all()
    ]


# -- a person's data (storage/privacy.py) ------------------------------------------------------


async def shared_by(session: AsyncSession, *, person_id: int) -> list[Resource]:
    """Every resource the person shared (any status), oldest first."""
    found = await session.exec(
        select(Resource).where(col(Resource.shared_by_id) == person_id).order_by(col(Resource.id))
    )
    return list(found.all())


async def marks_count(session: AsyncSession, *, person_id: int) -> int:
    found = await session.exec(
        select(func.count())
        .select_from(ResourceMark)
        .where(col(ResourceMark.person_id) == person_id)
    )
    return int(found.one() or 0)


async def erase_person(session: AsyncSession, *, person_id: int) -> tuple[int, int]:
    """The person's marks deleted (counts drop: a mark is a current opinion, not a dated fact
    a past summary relied on), the resources they shared kept for the community without their
    author. Returns (marks deleted, resources unattributed); zeros on a second run."""
    deleted = await session.execute(
        delete(ResourceMark).where(col(ResourceMark.person_id) == person_id)
    )
    unattributed = await session.execute(
        update(Resource).where(col(Resource.shared_by_id) == person_id).values(shared_by_id=None)
    )
    return (
        int(getattr(deleted, "rowcount", 0) or 0),
        int(getattr(unattributed, "rowcount", 0) or 0),
    )


# -- resources attached to agenda items ------------------------------------------------------


async def attach_choices(
    session: AsyncSession, *, resource_id: int, by_person_id: int, now: datetime
) -> tuple[Resource, list[tuple[Meeting, AgendaItem]]]:
    """The agenda items a facilitator may attach this resource to: those of its community's
    upcoming published (scheduled) meetings, by date then position."""
    resource, _ = await _managed(
        session, resource_id=resource_id, person_id=by_person_id, sharer_may=False
    )
    rows = await session.exec(
        select(Meeting, AgendaItem)
        .join(AgendaItem, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(col(Meeting.community_id) == resource.community_id)
        .where(col(Meeting.status) == MeetingStatus.SCHEDULED)
        .where(col(Meeting.starts_at) > now)
        .order_by(col(Meeting.starts_at), col(AgendaItem.position))
    )
    return resource, [(meeting, item) for meeting, item in rows.all()]


async def attach(
    session: AsyncSession,
    *,
    resource_id: int,
    agenda_item_id: int,
    by_person_id: int,
    now: datetime,
) -> tuple[Resource, AgendaItem, bool]:
    """Attach an active resource to an agenda item of an upcoming published meeting of the
    same community (facilitators only). Twice is one link; True when this call made it."""
    resource, choices = await attach_choices(
        session, resource_id=resource_id, by_person_id=by_person_id, now=now
    )
    item = next((i for _, i in choices if i.id == agenda_item_id), None)
    if item is None:
        raise AgendaItemNotFound(agenda_item_id)
    created = await insert_if_absent(
        session,
        AGENDA_RESOURCE_TABLE,
        {"agenda_item_id": agenda_item_id, "resource_id": resource_id, "attached_at": now},
        conflict=["agenda_item_id", "resource_id"],
    )
    if created:
        logger.info("resource %s attached to agenda item %s", resource_id, agenda_item_id)
    return resource, item, created


async def agenda_resources(session: AsyncSession, *, meeting_id: int) -> dict[int, list[Resource]]:
    """The active resources attached to each agenda item of a meeting (retired, withdrawn or
    merged ones no longer show), by item id, in the order they were attached."""
    rows = await session.exec(
        select(AgendaResource.agenda_item_id, Resource)
        .join(Resource, col(Resource.id) == col(AgendaResource.resource_id))
        .join(AgendaItem, col(AgendaItem.id) == col(AgendaResource.agenda_item_id))
        .where(col(AgendaItem.meeting_id) == meeting_id)
        .where(col(Resource.status) == ResourceStatus.ACTIVE)
        .order_by(col(AgendaResource.id))
    )
    found: dict[int, list[Resource]] = {}
    for item_id, resource in rows.all():
        found.setdefault(item_id, []).append(resource)
    return found
