"""Attestations de présence: the `attestation` / `attestations` commands and the PDF endpoint.

A person asks for their own attestation (`attestation [période]`); animators (and the
community's administrative support) issue them for every attendee of the latest meeting or a
period (`attestations rencontre`, `attestations 2026`). Both answer with links to the bot's own
HTTP endpoint, `GET /attestations/{token}.pdf`. A token (bot/links.py) carries who, which
community, the period, the language and the expiry; the endpoint re-reads the confirmed
attendance when the link is opened, so a corrected attendance shows, and refuses the link once
the person has erased their data.

Links are capabilities: asked for in a channel, they go to the person's private chat (through
the outbox) rather than into the channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
import uuid
from calendar import monthrange
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.numbers import format_decimal
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import links
from bot.channels import channel_community
from bot.deliveries import RenderContext, Renderer
from bot.links import BadLinkError, refusal
from bot.settings import Settings
from bot.turns import card_activity
from cards.common import Element, adaptive_card, heading, paragraph
from cards.i18n import babel_locale, format_day, language_of, long_date, plural, translator
from dialogs.base import simplify
from dialogs.context import TurnInfo
from storage import attestations, communities, outbox
from storage.attestations import (
    DEFAULT_UEC_PER_HOUR,
    KIND_ATTESTATION_LINKS,
    AttendanceSummary,
    uec_of,
)
from storage.communities import has_role
from storage.db import SessionFactory, transaction
from storage.models import Community, Role, utcnow

logger = logging.getLogger(__name__)

LINK_KIND = "attestation"
ROUTE = "/attestations/{token}.pdf"
REFUSALS = links.Refusals(
    invalid="attestation.link.invalid",
    expired="attestation.link.expired",
    unavailable="attestation.link.unavailable",
)
DEFAULT_LINK_DAYS = 7
# Who may issue attestations for others (DOMAIN.md: the administrative support does
# attendance lists and attestations).
ISSUER_ROLES = (Role.ANIMATOR, Role.ADMIN_SUPPORT)
# Rows per card: each row is a link of ~150 characters; 40 rows stay far under 28 KB.
ROWS_PER_CARD = 40
MEETING_WORDS = frozenset(
    {"rencontre", "la rencontre", "derniere rencontre", "la derniere rencontre", "meeting"}
    | {"the meeting", "last meeting", "the last meeting", "latest meeting"}
)


# -- settings (read defensively until Settings declares them) --


def uec_per_hour(settings: Settings) -> Decimal:
    """CARREFOUR_UEC_PER_HOUR (default 0.1, DOMAIN.md)."""
    raw = getattr(settings, "uec_per_hour", None)
    try:
        rate = DEFAULT_UEC_PER_HOUR if raw is None else Decimal(str(raw))
    except InvalidOperation:
        return DEFAULT_UEC_PER_HOUR
    return rate if Decimal(0) < rate <= Decimal(1) else DEFAULT_UEC_PER_HOUR


def link_lifetime(settings: Settings) -> timedelta:
    """CARREFOUR_ATTESTATION_LINK_DAYS (default 7)."""
    raw = getattr(settings, "attestation_link_days", None)
    days = raw if isinstance(raw, int) and 1 <= raw <= 366 else DEFAULT_LINK_DAYS
    return timedelta(days=days)


# -- periods --


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # included


_PART = r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
_PERIOD = re.compile(
    rf"(?:(?:de|du|from|entre|between|pour|for)\s+)?{_PART}"
    rf"(?:\s*(?:a|au|to|jusqu'au|until|through|et|and|-|\.\.)\s*{_PART})?"
)


def _edge(year: str, month: str | None, day: str | None, *, first: bool) -> date | None:
    try:
        y = int(year)
        if not 2000 <= y <= 2100:
            return None
        if month is None:
            return date(y, 1, 1) if first else date(y, 12, 31)
        m = int(month)
        if day is None:
            return date(y, m, 1) if first else date(y, m, monthrange(y, m)[1])
        return date(y, m, int(day))
    except ValueError:
        return None


def parse_period(text: str, *, today: date) -> Period | None:
    """'' → this year; '2026'; '2026-03'; '2026-01 à 2026-06'; '2026-01-15 au 2026-03-31'.
    None when not understood or backwards."""
    simple = simplify(text).replace("–", "-").replace("—", "-")
    if not simple:
        return Period(date(today.year, 1, 1), date(today.year, 12, 31))
    match = _PERIOD.fullmatch(simple)
    if match is None:
        return None
    y1, m1, d1, y2, m2, d2 = match.groups()
    start = _edge(y1, m1, d1, first=True)
    end = _edge(y2, m2, d2, first=False) if y2 else _edge(y1, m1, d1, first=False)
    if start is None or end is None or end < start:
        return None
    return Period(start, end)


def _period_label(period: Period) -> str:
    """For file names: 2026, 2026-03, 2026-01_2026-06, 2026-01-15_2026-03-31."""
    start, end = period.start, period.end
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        years = [str(start.year)] if start.year == end.year else [str(start.year), str(end.year)]
        return "_".join(years)
    if start.day == 1 and end.day == monthrange(end.year, end.month)[1]:
        first, last = f"{start:%Y-%m}", f"{end:%Y-%m}"
        return first if first == last else f"{first}_{last}"
    return f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"


def _period_text(period: Period, locale: str) -> str:
    t = translator(locale)
    if period.start == period.end:
        return t("attestation.period_day", day=long_date(period.start, locale))
    return t(
        "attestation.period",
        start=long_date(period.start, locale),
        end=long_date(period.end, locale),
    )


# -- signed links (bot/links.py) --


@dataclass(frozen=True, slots=True)
class LinkClaim:
    person_id: int
    community_id: int
    start: date
    end: date
    language: str  # "fr" or "en"
    expires_at: datetime


def sign_link(claim: LinkClaim, *, key: bytes) -> str:
    return links.sign(
        key,
        links.SignedValue(
            kind=LINK_KIND,
            person_id=claim.person_id,
            language=claim.language,
            expires_at=claim.expires_at,
            fields=(str(claim.community_id), f"{claim.start:%Y%m%d}", f"{claim.end:%Y%m%d}"),
        ),
    )


def _claim(value: links.SignedValue) -> LinkClaim:
    """An attestation's fields, from a token we signed (BadLinkError if they do not read)."""
    if len(value.fields) != 3 or not value.fields[0].isdigit():
        raise BadLinkError("format")
    community, start, end = value.fields
    try:
        first = datetime.strptime(start, "%Y%m%d").date()
        last = datetime.strptime(end, "%Y%m%d").date()
    except ValueError as error:
        raise BadLinkError("format") from error
    return LinkClaim(
        person_id=value.person_id,
        community_id=int(community),
        start=first,
        end=last,
        language=value.language,
        expires_at=value.expires_at,
    )


def verify_link(token: str, *, key: bytes, now: datetime) -> LinkClaim:
    """The claim of an attestation token we signed; the signature is checked before anything
    else is believed (a changed expiry or person is a bad link, not an expired one)."""
    return _claim(links.verify(token, key=key, kind=LINK_KIND, now=now))


def link_url(settings: Settings, token: str) -> str:
    return links.public_link(settings, ROUTE.replace("{token}", token))


def _link(
    settings: Settings,
    key: bytes,
    *,
    person_id: int,
    community_id: int,
    period: Period,
    locale: str | None,
    now: datetime,
) -> str:
    claim = LinkClaim(
        person_id=person_id,
        community_id=community_id,
        start=period.start,
        end=period.end,
        language=language_of(locale or settings.default_locale),
        expires_at=now + link_lifetime(settings),
    )
    return link_url(settings, sign_link(claim, key=key))


# -- the card listing links --


def _hours(minutes: int, locale: str) -> str:
    return str(
        format_decimal(
            attestations.hours_of(minutes), format="#,##0.##", locale=babel_locale(locale)
        )
    )


def _label(text: str) -> str:
    # Inside a Markdown link text, brackets would end the label.
    return text.replace("[", "(").replace("]", ")").strip()


def build_links_cards(params: dict[str, Any], *, locale: str, tz: str) -> list[Element]:
    """One card (or several, for long lists) with one link per attestation.

    `params` is what the outbox stores: bulk (a community's attendees) or self (a person's
    communities), the period or meeting day, the rows, the links' lifetime and the rate."""
    t = translator(locale)
    rows: list[dict[str, Any]] = list(params.get("rows") or [])
    rate = Decimal(str(params.get("rate", DEFAULT_UEC_PER_HOUR)))
    if params.get("mode") == "bulk":
        title = t("attestation.card.title_bulk", community=str(params.get("community", "")))
    else:
        title = plural(locale, "attestation.card.title_self", len(rows))
    if params.get("meeting_day"):
        day = date.fromisoformat(str(params["meeting_day"]))
        when = t(
            "attestation.card.meeting",
            day=format_day(
                datetime.combine(day, datetime.min.time(), ZoneInfo(tz)), locale=locale, tz=tz
            ),
        )
    else:
        when = t(
            "attestation.card.period",
            start=long_date(date.fromisoformat(str(params["start"])), locale),
            end=long_date(date.fromisoformat(str(params["end"])), locale),
        )
    expiry = plural(locale, "attestation.card.expiry", int(params.get("days", DEFAULT_LINK_DAYS)))
    cards: list[Element] = []
    for first in range(0, max(len(rows), 1), ROWS_PER_CARD):
        chunk = rows[first : first + ROWS_PER_CARD]
        body: list[Element] = [heading(title), paragraph(when, subtle=True, spacing="None")]
        for row in chunk:
            minutes = int(row["minutes"])
            details = plural(
                locale,
                "attestation.card.row",
                int(row["meetings"]),
                hours=_hours(minutes, locale),
                uec=format_decimal(
                    uec_of(minutes, uec_per_hour=rate),
                    format="#,##0.##",
                    locale=babel_locale(locale),
                ),
            )
            # How the hours were counted (rows queued before this was recorded have none).
            excluded = int(row.get("excluded") or 0)
            if excluded > 0:
                details += " · " + t("attestation.card.excluded", hours=_hours(excluded, locale))
            body.append(paragraph(f"[{_label(str(row['label']))}]({row['url']}) — {details}"))
        body.append(paragraph(expiry, subtle=True, spacing="Medium"))
        actions = (
            [{"type": "Action.OpenUrl", "title": t("attestation.card.open"), "url": rows[0]["url"]}]
            if len(rows) == 1
            else None
        )
        cards.append(adaptive_card(body, actions))
    return cards


async def _reply_cards(turn_context: TurnContext, cards: Sequence[Element]) -> None:
    for card in cards:
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))


async def _send_privately(session: AsyncSession, *, person_id: int, params: dict[str, Any]) -> None:
    """Queue the card(s) for the person's private chat, long lists in several messages."""
    rows: list[dict[str, Any]] = list(params["rows"])
    batch = uuid.uuid4().hex
    for n, first in enumerate(range(0, len(rows), ROWS_PER_CARD)):
        await outbox.enqueue(
            session,
            dedup_key=attestations.links_key(person_id, batch, n),
            recipient=outbox.Recipient.person(person_id),
            kind=KIND_ATTESTATION_LINKS,
            params={**params, "rows": rows[first : first + ROWS_PER_CARD]},
        )


async def render_attestation_links(context: RenderContext) -> Activity | None:
    """Outbox renderer: the card of links, in the recipient's language."""
    params = dict(context.message.params)
    expires = params.get("expires_at")
    if isinstance(expires, str) and datetime.fromisoformat(expires) <= context.now:
        return None  # the links died before they could be delivered
    card = build_links_cards(params, locale=context.locale, tz=context.timezone)[0]
    return card_activity(card)


ATTESTATION_RENDERERS: dict[str, Renderer] = {KIND_ATTESTATION_LINKS: render_attestation_links}


# -- commands --


def _today(settings: Settings) -> date:
    return utcnow().astimezone(ZoneInfo(settings.timezone)).date()


def _params(
    *,
    mode: str,
    community: str | None,
    period: Period,
    meeting_day: date | None,
    rows: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    return {
        "mode": mode,
        "community": community,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "meeting_day": meeting_day.isoformat() if meeting_day else None,
        "days": link_lifetime(settings).days,
        "expires_at": (now + link_lifetime(settings)).isoformat(),
        "rate": str(uec_per_hour(settings)),
        "rows": rows,
    }


async def on_attestation_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    argument: str,
    wake: Callable[[], None] | None = None,
) -> None:
    """`attestation [période]` / `certificate [period]`: the person's own attestations, one per
    community attended in the period (in a channel: that community's, sent privately)."""
    t = translator(info.locale)
    period = parse_period(argument, today=_today(settings))
    if period is None:
        await turn_context.send_activity(t("attestation.period_invalid"))
        return
    if info.person_id is None:
        await turn_context.send_activity(
            t("attestation.none", period=_period_text(period, info.locale))
        )
        return
    community = await channel_community(sessions, info, turn_context.activity)
    now = utcnow()
    async with transaction(sessions) as session:
        found = await attestations.attendance_summaries(
            session,
            start=period.start,
            end=period.end,
            tz=settings.timezone,
            person_id=info.person_id,
            community_id=community.id if community else None,
        )
        key = await links.signing_key(session, settings) if found else b""
        rows = [
            {
                "label": summary.community_name,
                "meetings": summary.meetings,
                "minutes": summary.minutes,
                "excluded": summary.excluded_minutes,
                "url": _link(
                    settings,
                    key,
                    person_id=summary.person_id,
                    community_id=summary.community_id,
                    period=period,
                    locale=info.locale,
                    now=now,
                ),
            }
            for summary in found
        ]
        params = _params(
            mode="self",
            community=None,
            period=period,
            meeting_day=None,
            rows=rows,
            settings=settings,
            now=now,
        )
        if found and info.in_channel:
            await _send_privately(session, person_id=info.person_id, params=params)
    if not found:
        await turn_context.send_activity(
            t("attestation.none", period=_period_text(period, info.locale))
        )
    elif info.in_channel:
        if wake is not None:
            wake()
        await turn_context.send_activity(t("attestation.sent_privately"))
    else:
        await _reply_cards(
            turn_context, build_links_cards(params, locale=info.locale, tz=settings.timezone)
        )


async def _issuable_communities(
    sessions: SessionFactory, turn_context: TurnContext, info: TurnInfo
) -> list[Community] | None:
    """Where the sender may issue attestations: the channel's community, or in a private chat
    every community they animate or support. None when the channel has no community."""
    async with sessions() as session:
        if info.in_channel:
            community = await channel_community(sessions, info, turn_context.activity)
            if community is None or community.id is None:
                return None
            member = await communities.membership(
                session, person_id=info.person_id or 0, community_id=community.id
            )
            return [community] if has_role(member, *ISSUER_ROLES) else []
        return [
            community
            for member, community in await communities.memberships_of(
                session, person_id=info.person_id or 0
            )
            if has_role(member, *ISSUER_ROLES)
        ]


async def on_bulk_attestations_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    argument: str,
    wake: Callable[[], None] | None = None,
) -> None:
    """`attestations rencontre` (the latest ended meeting) / `attestations 2026`: one link per
    attendee, for animators and administrative support (the role is checked here, on the
    server, every time)."""
    t = translator(info.locale)
    for_meeting = simplify(argument) in MEETING_WORDS
    period = None if for_meeting else parse_period(argument, today=_today(settings))
    if not for_meeting and period is None:
        await turn_context.send_activity(t("attestation.bulk_period_invalid"))
        return
    issuable = await _issuable_communities(sessions, turn_context, info)
    if issuable is None:
        await turn_context.send_activity(t("join.no_community_here"))
        return
    if not issuable or info.person_id is None:
        await turn_context.send_activity(t("attestation.animators_only"))
        return
    now = utcnow()
    notes: list[str] = []
    batches: list[dict[str, Any]] = []
    async with transaction(sessions) as session:
        key = await links.signing_key(session, settings)
        for community in issuable:
            chosen, day, note = await _bulk_scope(
                session, community, period=period, settings=settings, now=now, locale=info.locale
            )
            if chosen is None:
                notes.append(note)
                continue
            found = await attestations.attendance_summaries(
                session,
                start=chosen.start,
                end=chosen.end,
                tz=settings.timezone,
                community_id=community.id,
            )
            if not found:
                notes.append(
                    t(
                        "attestation.none_bulk",
                        community=community.name,
                        period=_period_text(chosen, info.locale),
                    )
                )
                continue
            batches.append(
                _params(
                    mode="bulk",
                    community=community.name,
                    period=chosen,
                    meeting_day=day,
                    rows=_bulk_rows(found, settings, key, period=chosen, now=now),
                    settings=settings,
                    now=now,
                )
            )
        if info.in_channel:
            for params in batches:
                await _send_privately(session, person_id=info.person_id, params=params)
    for note in notes:
        await turn_context.send_activity(note)
    if batches and info.in_channel:
        if wake is not None:
            wake()
        await turn_context.send_activity(t("attestation.bulk_sent_privately"))
    elif batches:
        for params in batches:
            await _reply_cards(
                turn_context, build_links_cards(params, locale=info.locale, tz=settings.timezone)
            )


async def _bulk_scope(
    session: AsyncSession,
    community: Community,
    *,
    period: Period | None,
    settings: Settings,
    now: datetime,
    locale: str,
) -> tuple[Period | None, date | None, str]:
    """The period to issue for: the given one, or the day of the latest ended meeting (with
    its attendance confirmed). Otherwise (None, None, why)."""
    if period is not None:
        return period, None, ""
    t = translator(locale)
    meeting = await attestations.latest_ended_meeting(
        session, community_id=community.id or 0, now=now
    )
    if meeting is None:
        return None, None, t("attestation.no_meeting", community=community.name)
    day = meeting.starts_at.astimezone(ZoneInfo(settings.timezone)).date()
    if meeting.attendance_confirmed_at is None:
        return (
            None,
            None,
            t(
                "attestation.attendance_pending",
                community=community.name,
                day=format_day(meeting.starts_at, locale=locale, tz=settings.timezone),
            ),
        )
    return Period(day, day), day, ""


def _bulk_rows(
    found: list[AttendanceSummary],
    settings: Settings,
    key: bytes,
    *,
    period: Period,
    now: datetime,
) -> list[dict[str, Any]]:
    # Each attendee's attestation is in their own language.
    return [
        {
            "label": summary.person_name,
            "meetings": summary.meetings,
            "minutes": summary.minutes,
            "excluded": summary.excluded_minutes,
            "url": _link(
                settings,
                key,
                person_id=summary.person_id,
                community_id=summary.community_id,
                period=period,
                locale=summary.person_locale,
                now=now,
            ),
        }
        for summary in found
    ]


# -- the PDF endpoint --


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "-", plain.lower()).strip("-_")[:80]


async def attestation_pdf(request: web.Request) -> web.StreamResponse:
    """GET /attestations/{token}.pdf: 403 for a link we did not sign (or altered), 410 once
    expired, 404 when nothing is left to attest, 503 if the database or the font is missing;
    never a 500."""
    opened = await links.open_link(
        request, request.match_info.get("token", ""), kind=LINK_KIND, refusals=REFUSALS
    )
    if isinstance(opened, web.Response):
        return opened
    sessions, settings = opened.sessions, opened.settings
    try:
        claim = _claim(opened.value)
    except BadLinkError:
        return refusal(403, translator(opened.value.language)(REFUSALS.invalid))
    t = translator(claim.language)
    try:
        zone = ZoneInfo(settings.timezone)
        async with sessions() as session:
            data = await attestations.load_attestation(
                session,
                person_id=claim.person_id,
                community_id=claim.community_id,
                start=claim.start,
                end=claim.end,
                issued_on=utcnow().astimezone(zone).date(),
                tz=settings.timezone,
            )
        if data is None:
            return refusal(404, t("attestation.link.empty"))
        locale = "fr-CA" if claim.language == "fr" else "en-CA"
        # Imported on first use: the PDF library weighs ~18 MB an idle bot need not hold.
        from cards.attestation_pdf import build_attestation_pdf

        body = await asyncio.to_thread(
            build_attestation_pdf,
            data,
            locale=locale,
            tz=settings.timezone,
            uec_per_hour=uec_per_hour(settings),
        )
    except Exception:
        logger.exception("attestation could not be produced")
        return refusal(503, t("attestation.link.unavailable"))
    period = Period(claim.start, claim.end)
    name = t(
        "attestation.filename",
        person=_slug(data.person_name) or str(claim.person_id),
        period=_period_label(period),
    )
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{_slug(name) or "attestation"}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


__all__ = [
    "ATTESTATION_RENDERERS",
    "ROUTE",
    "attestation_pdf",
    "build_links_cards",
    "on_attestation_command",
    "on_bulk_attestations_command",
    "parse_period",
    "sign_link",
    "verify_link",
]
