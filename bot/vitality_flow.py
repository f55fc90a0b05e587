"""The monthly vitality summary in the bot: the monthly job, `bilan [mois]` / `summary
[month]`, the card buttons, and the CSV export behind a signed, expiring link.

No routing here: bot/features/vitality.py declares the command and the `vitality.*` card
verbs (`ACTIONS`) to the host, the scheduler calls `send_monthly_summaries`, and bot/app.py
serves `vitality_csv` at EXPORT_PATH. Who may see a summary (the community's animators and
sponsors) is checked again at every step: when asked, when the outbox renders it, when the
link is opened.

Outbox kind: vitality_summary (rendered at send time from current data, nothing if the
recipient no longer animates or sponsors the community).
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import get_month_names
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import links
from bot.deliveries import RenderContext, Renderer
from bot.links import refusal
from bot.settings import Settings
from bot.surveys_flow import id_param
from bot.turns import FeatureTurn, VerbHandler, card_activity
from cards.common import Element, adaptive_card, paragraph
from cards.i18n import language_of, translator
from cards.vitality import (
    VERB_EXPORT,
    VERB_SHOW,
    build_vitality_card,
    build_vitality_choice_card,
    build_vitality_csv,
    month_key,
    month_label,
)
from dialogs.base import simplify
from dialogs.context import TurnInfo
from storage import communities, outbox, toolbox, vitality
from storage.communities import has_role
from storage.db import SessionFactory, transaction
from storage.models import Community, Role, utcnow
from storage.vitality import KIND_SUMMARY

logger = logging.getLogger(__name__)

EXPORT_PATH = "/api/exports/vitality.csv"
EXPORT_KIND = "vitality-csv"
REFUSALS = links.Refusals(
    invalid="vitality.export.invalid",
    expired="vitality.export.expired",
    unavailable="vitality.export.unavailable",
)
EXPORT_LINK_LIFETIME = timedelta(hours=24)
SUMMARY_ROLES = (Role.ANIMATOR, Role.SPONSOR)
# The 1st of the month at 9:00 local time; a replica that starts later in the first week
# still sends it (catch-up), later than that the summary waits for `bilan`.
SEND_AT = time(9, 0)
CATCH_UP = timedelta(days=7)

Wake = Callable[[], None]
Clock = Callable[[], datetime]


# -- months typed by people ----------------------------------------------------------------


class MonthNotUnderstood(ValueError):
    pass


class FutureMonth(ValueError):
    pass


# Built at the first month typed: Babel's French and English data (3.6 MB) stay unloaded in an
# idle bot until then.
@functools.cache
def _month_words() -> dict[str, int]:
    words: dict[str, int] = {}
    for language in ("fr", "en"):
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context, locale=language).items():
                    words[simplify(str(name)).rstrip(".")] = int(number)
    # What people abbreviate by hand.
    words.update({"janv": 1, "fev": 2, "fevr": 2, "avr": 4, "juil": 7, "sept": 9, "dec": 12})
    return words


LAST_MONTH_WORDS = frozenset(
    {"mois dernier", "le mois dernier", "dernier", "precedent", "last month", "last", "previous"}
)
THIS_MONTH_WORDS = frozenset(
    {"ce mois", "ce mois-ci", "mois courant", "en cours", "this month", "current", "current month"}
)


def parse_month(text: str, *, today: date) -> date:
    """« octobre », « oct 2026 », « 2026-10 », « 10/2026 », « mois dernier », or nothing (the
    previous month) → the month's first day. A month named without a year is the latest one
    not in the future. MonthNotUnderstood, FutureMonth."""
    current = date(today.year, today.month, 1)
    plain = simplify(text).replace(",", " ")
    if not plain or plain in LAST_MONTH_WORDS:
        return vitality.add_months(current, -1)
    if plain in THIS_MONTH_WORDS:
        return current
    year: int | None = None
    number: int | None = None
    if match := re.fullmatch(r"(\d{4})[-/. ](\d{1,2})", plain):
        year, number = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"(\d{1,2})[-/. ](\d{4})", plain):
        number, year = int(match[1]), int(match[2])
    else:
        for token in plain.split():
            token = token.rstrip(".")
            if re.fullmatch(r"\d{4}", token) and year is None:
                year = int(token)
            elif (named := _month_words().get(token)) is not None and number is None:
                number = named
            elif token not in {"de", "du", "of", "en", "in"}:
                raise MonthNotUnderstood(text)
    if number is None or not 1 <= number <= 12 or (year is not None and year < 2000):
        raise MonthNotUnderstood(text)
    if year is None:
        year = today.year if number <= today.month else today.year - 1
    month = date(year, number, 1)
    if month > current:
        raise FutureMonth(text)
    return month


def _month_from_key(value: object) -> date | None:
    if isinstance(value, str) and (match := re.fullmatch(r"(\d{4})-(\d{2})", value.strip())):
        year, number = int(match[1]), int(match[2])
        if year >= 2000 and 1 <= number <= 12:
            return date(year, number, 1)
    return None


# -- signed export links (bot/links.py) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportClaim:
    """Who may download which community's CSV, in which language, until when."""

    community_id: int
    month: date
    person_id: int
    language: str
    expires_at: datetime


def sign_export(key: bytes, claim: ExportClaim) -> str:
    return links.sign(
        key,
        links.SignedValue(
            kind=EXPORT_KIND,
            person_id=claim.person_id,
            language=claim.language,
            expires_at=claim.expires_at,
            fields=(str(claim.community_id), f"{claim.month:%Y%m}"),
        ),
    )


def _claim(value: links.SignedValue) -> ExportClaim:
    """The CSV's fields, from a token we signed (BadLinkError if they do not read)."""
    community, month = value.fields if len(value.fields) == 2 else ("", "")
    first = _month_from_key(f"{month[:4]}-{month[4:]}") if len(month) == 6 else None
    if not community.isdigit() or first is None:
        raise links.BadLinkError("format")
    return ExportClaim(int(community), first, value.person_id, value.language, value.expires_at)


def read_export(key: bytes, token: str, *, now: datetime) -> ExportClaim:
    """The claim of a CSV token signed with `key`: BadLinkError (forged, altered, malformed,
    another kind), ExpiredLinkError."""
    return _claim(links.verify(token, key=key, kind=EXPORT_KIND, now=now))


async def export_url(
    session: AsyncSession,
    *,
    settings: Settings,
    community_id: int,
    month: date,
    person_id: int,
    locale: str,
    now: datetime,
) -> str:
    claim = ExportClaim(
        community_id=community_id,
        month=month,
        person_id=person_id,
        language=language_of(locale),
        expires_at=now + EXPORT_LINK_LIFETIME,
    )
    token = sign_export(await links.signing_key(session, settings), claim)
    return links.public_link(settings, f"{EXPORT_PATH}?{urlencode({'token': token})}")


async def may_see_summary(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await communities.membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, *SUMMARY_ROLES)


async def vitality_csv(request: web.Request) -> web.Response:
    """GET EXPORT_PATH?token=…: the last twelve months' summaries as CSV, for the animator or
    sponsor the link was made for, while the link is valid and they still hold the role: 403
    otherwise, 410 once expired or once they erased their data, 503 if the database fails."""
    opened = await links.open_link(
        request, request.query.get("token", ""), kind=EXPORT_KIND, refusals=REFUSALS
    )
    if isinstance(opened, web.Response):
        return opened
    sessions, settings = opened.sessions, opened.settings
    refused = translator(opened.value.language)
    now = utcnow()
    try:
        claim = _claim(opened.value)
    except links.BadLinkError:
        return refusal(403, refused(REFUSALS.invalid))
    try:
        async with transaction(sessions) as session:
            allowed = await may_see_summary(
                session, person_id=claim.person_id, community_id=claim.community_id
            )
            summaries = (
                await vitality.months_for_export(
                    session,
                    community_id=claim.community_id,
                    month=claim.month,
                    tz=settings.timezone,
                    now=now,
                )
                if allowed
                else []
            )
    except Exception:
        logger.exception("vitality CSV could not be produced")
        return refusal(503, refused(REFUSALS.unavailable))
    if not allowed:
        return refusal(403, refused(REFUSALS.invalid))
    logger.info(
        "vitality CSV exported for community %s, %s", claim.community_id, month_key(claim.month)
    )
    text = build_vitality_csv(summaries, locale=claim.language)
    name = f"vitality-{claim.community_id}-{month_key(claim.month)}.csv"
    return web.Response(
        # The byte-order mark makes spreadsheets read the accents as UTF-8.
        body=("\ufeff" + text).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- outbox renderer and the monthly job -------------------------------------------------------


async def _summary_card(
    session: AsyncSession,
    *,
    community_id: int,
    month: date,
    locale: str,
    tz: str,
    now: datetime,
    link: str | None,
) -> Element | None:
    community = await session.get(Community, community_id)
    if community is None:
        return None
    summary = await vitality.vitality_summary(
        session, community_id=community_id, month=month, tz=tz, now=now
    )
    start, end = vitality.month_bounds(month, tz=tz)
    # The month's most useful toolbox resources: by « utile » marks made during the month.
    useful = await toolbox.most_useful(
        session, community_id=community_id, start=start, end=min(end, now), limit=3
    )
    return build_vitality_card(
        summary,
        community_name=community.name,
        locale=locale,
        tz=tz,
        export_url=link,
        can_export=link is None,
        useful=useful,
    )


async def render_summary(context: RenderContext) -> Activity | None:
    params = context.message.params
    community_id = id_param(params, "community_id")
    month = _month_from_key(params.get("month"))
    person_id = context.message.person_id
    if community_id is None or month is None or person_id is None:
        return None
    async with context.sessions() as session:
        if not await may_see_summary(session, person_id=person_id, community_id=community_id):
            return None
        card = await _summary_card(
            session,
            community_id=community_id,
            month=month,
            locale=context.locale,
            tz=context.timezone,
            now=context.now,
            link=None,
        )
    return None if card is None else card_activity(card)


VITALITY_RENDERERS: dict[str, Renderer] = {KIND_SUMMARY: render_summary}


def due_month(now: datetime, *, tz: str) -> date | None:
    """The month whose summary is due now: the previous one, from the 1st at SEND_AT local
    time and for CATCH_UP after; None outside that window."""
    local = now.astimezone(ZoneInfo(tz))
    send_at = datetime.combine(date(local.year, local.month, 1), SEND_AT, tzinfo=ZoneInfo(tz))
    if not send_at <= local < send_at + CATCH_UP:
        return None
    return vitality.add_months(date(local.year, local.month, 1), -1)


async def send_monthly_summaries(
    *, sessions: SessionFactory, now: datetime, wake: Wake, tz: str = "America/Montreal"
) -> int:
    """Queue last month's summary for each community's animators and sponsors. Runs as often
    as the scheduler likes: one row per community, month and person (the outbox's unique key),
    so it is sent once even with several replicas, and caught up after downtime."""
    month = due_month(now, tz=tz)
    if month is None:
        return 0
    end = vitality.month_start(vitality.add_months(month, 1), tz=tz)
    queued = 0
    async with transaction(sessions) as session:
        for community in await vitality.communities_to_summarise(session, before=end):
            assert community.id is not None
            for person in await communities.people_with_role(
                session, community_id=community.id, roles=SUMMARY_ROLES
            ):
                assert person.id is not None
                queued += await outbox.enqueue(
                    session,
                    dedup_key=vitality.summary_key(community.id, month, person.id),
                    recipient=outbox.Recipient.person(person.id),
                    kind=KIND_SUMMARY,
                    params={"community_id": community.id, "month": month_key(month)},
                    not_before=now,
                )
    if queued:
        logger.info("queued %d monthly summar(y/ies) for %s", queued, month_key(month))
        wake()
    return queued


# -- the turn ----------------------------------------------------------------------------------


async def _summarised(sessions: SessionFactory, person_id: int) -> list[Community]:
    async with sessions() as session:
        return [
            community
            for member, community in await communities.memberships_of(session, person_id=person_id)
            if has_role(member, *SUMMARY_ROLES)
        ]


async def on_summary_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    argument: str,
    community_id: int | None,
    wake: Wake,
    clock: Clock = utcnow,
) -> None:
    """`bilan [mois]` / `summary [month]`: the summary of the channel's community, or of the
    one the person animates or sponsors (a choice when several). In a channel it is sent
    privately."""
    turn = FeatureTurn(turn_context, sessions, info, wake, clock)
    today = turn.clock().astimezone(ZoneInfo(settings.timezone)).date()
    try:
        month = parse_month(argument, today=today)
    except FutureMonth:
        await turn.say("vitality.future_month")
        return
    except MonthNotUnderstood:
        await turn.say("vitality.month_not_understood")
        return
    await _show(turn, settings, community_id, month, choose=community_id is None)


async def _show(
    turn: FeatureTurn, settings: Settings, community_id: int | None, month: date, *, choose: bool
) -> None:
    person_id = turn.info.person_id
    mine = [] if person_id is None else await _summarised(turn.sessions, person_id)
    if community_id is not None:
        mine = [c for c in mine if c.id == community_id]
    if not mine:
        await turn.say("vitality.not_allowed")
        return
    if len(mine) > 1 and choose:
        await turn.show(
            build_vitality_choice_card(
                [(c.id or 0, c.name) for c in mine], month=month, locale=turn.info.locale
            )
        )
        return
    community = mine[0]
    assert community.id is not None
    assert person_id is not None
    if turn.info.in_channel:
        # Animators' figures and signals, not for the whole channel.
        activity_id = str(turn.context.activity.id or uuid.uuid4().hex)[:64]
        async with transaction(turn.sessions) as session:
            await outbox.enqueue(
                session,
                dedup_key=vitality.summary_ask_key(community.id, month, person_id, activity_id),
                recipient=outbox.Recipient.person(person_id),
                kind=KIND_SUMMARY,
                params={"community_id": community.id, "month": month_key(month)},
            )
        turn.wake()
        await turn.say("vitality.sent_privately")
        return
    now = turn.clock()
    async with transaction(turn.sessions) as session:
        link = await export_url(
            session,
            settings=settings,
            community_id=community.id,
            month=month,
            person_id=person_id,
            locale=turn.info.locale,
            now=now,
        )
        card = await _summary_card(
            session,
            community_id=community.id,
            month=month,
            locale=turn.info.locale,
            tz=settings.timezone,
            now=now,
            link=link,
        )
    if card is not None:
        await turn.show(card)


async def _show_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = id_param(value, "community_id")
    month = _month_from_key(value.get("month"))
    if community_id is None or month is None:
        await turn.say("error.unknown_action")
        return
    await _show(turn, turn.settings, community_id, month, choose=False)


async def _export_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The summary card's button: a fresh signed link, in the person's own chat only."""
    community_id = id_param(value, "community_id")
    month = _month_from_key(value.get("month"))
    person_id = turn.person_id
    if community_id is None or month is None:
        await turn.say("error.unknown_action")
        return
    if turn.info.in_channel:
        await turn.say("vitality.export.private_only")
        return
    async with transaction(turn.sessions) as session:
        link = (
            await export_url(
                session,
                settings=turn.settings,
                community_id=community_id,
                month=month,
                person_id=person_id,
                locale=turn.info.locale,
                now=turn.clock(),
            )
            if await may_see_summary(session, person_id=person_id, community_id=community_id)
            else None
        )
    if link is None:
        await turn.say("vitality.not_allowed")
        return
    t = turn.t
    await turn.show(
        adaptive_card(
            [
                paragraph(
                    t("vitality.export.ready", month=month_label(month, locale=turn.info.locale))
                )
            ],
            [{"type": "Action.OpenUrl", "title": t("vitality.export.download"), "url": link}],
        )
    )


# The summary cards' buttons by verb (`vitality.*`), as bot/features/vitality.py declares them.
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_SHOW: _show_verb,
    VERB_EXPORT: _export_verb,
}
VERBS = frozenset(ACTIONS)


__all__ = [
    "ACTIONS",
    "EXPORT_PATH",
    "VERBS",
    "VITALITY_RENDERERS",
    "on_summary_command",
    "parse_month",
    "send_monthly_summaries",
    "vitality_csv",
]
