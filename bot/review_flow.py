"""The annual review in the bot: the yearly job, `bilan annuel [année]` / `annual review
[year]`, the PDF behind a signed, expiring link, the register of productions and the
objectives' status.

No routing here: bot/features/review.py declares the commands, the `review.*` verbs
(`ACTIONS`), the outbox kind, the route and the job. Who may see a review (the community's
facilitators, coordinators and sponsors) is checked again at every step: when asked, when the
outbox renders it, when the link is opened. Who may record productions and objectives' status
(the facilitators) is checked by storage/review.py on every button, whatever the card says.

Outbox kind: annual_review (rendered at send time from current data, nothing if the recipient
no longer holds a role that reads it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from microsoft_agents.activity import Activity
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import links
from bot.deliveries import RenderContext, Renderer
from bot.links import refusal
from bot.settings import Settings
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.common import Element, adaptive_card, paragraph, submit
from cards.i18n import language_of, translator
from cards.review import (
    VERB_CREDIT,
    VERB_DATE_SAVE,
    VERB_OBJECTIVE_SAVE,
    VERB_OBJECTIVES,
    VERB_PDF,
    VERB_PRODUCTION_EDIT,
    VERB_PRODUCTION_REMOVE,
    VERB_PRODUCTION_SAVE,
    VERB_PRODUCTIONS,
    VERB_SHOW,
    VERB_UNCREDIT,
    build_objectives_card,
    build_productions_card,
    build_review_card,
    build_review_choice_card,
)
from storage import communities, outbox, review
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.models import Community, Production, ProductionKind, Role, utcnow
from storage.review import KIND_REVIEW, ProductionDraft, ProductionLine

logger = logging.getLogger(__name__)

ROUTE = "/reviews/{token}.pdf"
LINK_KIND = "review-pdf"
REFUSALS = links.Refusals(
    invalid="review.link.invalid",
    expired="review.link.expired",
    unavailable="review.link.unavailable",
)
LINK_LIFETIME = timedelta(days=7)
# A replica started after the review date still sends it within this window.
CATCH_UP = timedelta(days=14)
FIRST_YEAR = 2000
# Any member sees the register of productions (as on the one-pager).
ANY_ROLE = (*review.READER_ROLES, Role.MEMBER)


# -- years typed by people -------------------------------------------------------------------


class YearNotUnderstood(ValueError):
    pass


def parse_year(text: str) -> int | None:
    """« 2026 » → 2026; nothing → None (the latest review); YearNotUnderstood otherwise."""
    plain = text.strip()
    if not plain:
        return None
    if re.fullmatch(r"\d{4}", plain) and int(plain) >= FIRST_YEAR:
        return int(plain)
    raise YearNotUnderstood(text)


def _year(value: object) -> int | None:
    number = param_int({"year": value}, "year")
    return number if number is not None and FIRST_YEAR <= number <= 9999 else None


# -- signed PDF links (bot/links.py) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkClaim:
    community_id: int
    year: int
    person_id: int
    language: str
    expires_at: datetime


def sign_link(key: bytes, claim: LinkClaim) -> str:
    return links.sign(
        key,
        links.SignedValue(
            kind=LINK_KIND,
            person_id=claim.person_id,
            language=claim.language,
            expires_at=claim.expires_at,
            fields=(str(claim.community_id), str(claim.year)),
        ),
    )


def _claim(value: links.SignedValue) -> LinkClaim:
    community, year = value.fields if len(value.fields) == 2 else ("", "")
    if not community.isdigit() or _year(year) is None:
        raise links.BadLinkError("format")
    return LinkClaim(int(community), int(year), value.person_id, value.language, value.expires_at)


def read_link(key: bytes, token: str, *, now: datetime) -> LinkClaim:
    """BadLinkError (forged, altered, another kind), ExpiredLinkError."""
    return _claim(links.verify(token, key=key, kind=LINK_KIND, now=now))


async def pdf_url(
    session: AsyncSession,
    *,
    settings: Settings,
    community_id: int,
    year: int,
    person_id: int,
    locale: str,
    now: datetime,
) -> str:
    claim = LinkClaim(community_id, year, person_id, language_of(locale), now + LINK_LIFETIME)
    token = sign_link(await links.signing_key(session, settings), claim)
    return links.public_link(settings, ROUTE.replace("{token}", token))


async def review_pdf(request: web.Request) -> web.StreamResponse:
    """GET /reviews/{token}.pdf: 403 for a link we did not sign (or altered) or a person who no
    longer reads the community's review, 410 once expired or erased, 503 if the database or
    the font fails; never a 500."""
    opened = await links.open_link(
        request, request.match_info.get("token", ""), kind=LINK_KIND, refusals=REFUSALS
    )
    if isinstance(opened, web.Response):
        return opened
    sessions, settings = opened.sessions, opened.settings
    t = translator(opened.value.language)
    try:
        claim = _claim(opened.value)
    except links.BadLinkError:
        return refusal(403, t(REFUSALS.invalid))
    try:
        async with sessions() as session:
            allowed = await review.may_read(
                session, person_id=claim.person_id, community_id=claim.community_id
            )
            data = (
                await review.annual_review(
                    session,
                    community_id=claim.community_id,
                    year=claim.year,
                    tz=settings.timezone,
                    now=utcnow(),
                )
                if allowed
                else None
            )
        if data is None:
            return refusal(403, t(REFUSALS.invalid))
        locale = "fr-CA" if claim.language == "fr" else "en-CA"
        # Imported on first use: the PDF library weighs ~18 MB an idle bot need not hold.
        from cards.review_pdf import build_review_pdf

        body = await asyncio.to_thread(build_review_pdf, data, locale=locale, tz=settings.timezone)
    except Exception:
        logger.exception("annual review PDF could not be produced")
        return refusal(503, t(REFUSALS.unavailable))
    name = t("review.filename", community=claim.community_id, year=claim.year)
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


# -- the card, the outbox and the yearly job -------------------------------------------------


async def _review_card(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    year: int,
    locale: str,
    tz: str,
    now: datetime,
    settings: Settings | None,
) -> Element:
    data = await review.annual_review(session, community_id=community_id, year=year, tz=tz, now=now)
    link = (
        await pdf_url(
            session,
            settings=settings,
            community_id=community_id,
            year=year,
            person_id=person_id,
            locale=locale,
            now=now,
        )
        if settings is not None
        else None
    )
    return build_review_card(
        data,
        locale=locale,
        tz=tz,
        pdf_url=link,
        can_manage=await review.may_manage(session, person_id=person_id, community_id=community_id),
    )


async def render_review(context: RenderContext) -> Activity | None:
    params = context.message.params
    community_id = param_int(params, "community_id")
    year = _year(params.get("year"))
    person_id = context.message.person_id
    if community_id is None or year is None or person_id is None:
        return None
    async with context.sessions() as session:
        if not await review.may_read(session, person_id=person_id, community_id=community_id):
            return None
        card = await _review_card(
            session,
            community_id=community_id,
            person_id=person_id,
            year=year,
            locale=context.locale,
            tz=context.timezone,
            now=context.now,
            settings=context.settings,
        )
    return card_activity(card)


REVIEW_RENDERERS: dict[str, Renderer] = {KIND_REVIEW: render_review}


async def send_annual_reviews(
    *,
    sessions: SessionFactory,
    now: datetime,
    wake: Callable[[], None],
    tz: str = "America/Montreal",
) -> int:
    """Queue the year's review for each community whose review date came (within CATCH_UP),
    to its facilitators and sponsors. Runs as often as the scheduler likes: one row per
    community, year and person (the outbox's unique key), so it is sent once."""
    queued = 0
    async with transaction(sessions) as session:
        for community, year in await review.due_reviews(session, now=now, tz=tz, catch_up=CATCH_UP):
            assert community.id is not None
            for person in await review.recipients(session, community_id=community.id):
                assert person.id is not None
                queued += await outbox.enqueue(
                    session,
                    dedup_key=review.review_key(community.id, year, person.id),
                    recipient=outbox.Recipient.person(person.id),
                    kind=KIND_REVIEW,
                    params={"community_id": community.id, "year": year},
                    not_before=now,
                )
    if queued:
        logger.info("queued %d annual review(s)", queued)
        wake()
    return queued


# -- the commands ----------------------------------------------------------------------------


async def _communities(
    turn: FeatureTurn, community_id: int | None, *, roles: tuple[Any, ...]
) -> list[Community]:
    async with turn.sessions() as session:
        mine = [
            community
            for member, community in await communities.memberships_of(
                session, person_id=turn.person_id
            )
            if has_role(member, *roles)
        ]
    if community_id is not None:
        mine = [c for c in mine if c.id == community_id]
    return mine


async def on_review_command(turn: FeatureTurn, *, argument: str, community_id: int | None) -> None:
    """`bilan annuel [année]`: the review of the channel's community, or of the one the person
    facilitates, coordinates or sponsors (a choice when several); sent privately from a
    channel."""
    try:
        year = parse_year(argument)
    except YearNotUnderstood:
        await turn.say("review.year_not_understood")
        return
    mine = await _communities(turn, community_id, roles=review.READER_ROLES)
    if not mine:
        await turn.say("review.not_allowed")
        return
    if len(mine) > 1:
        shown = year or turn.clock().astimezone(ZoneInfo(turn.settings.timezone)).year
        await turn.show(
            build_review_choice_card(
                [(c.id or 0, c.name) for c in mine], year=shown, locale=turn.info.locale
            )
        )
        return
    await _show(turn, mine[0], year)


async def _show(turn: FeatureTurn, community: Community, year: int | None) -> None:
    assert community.id is not None
    settings, now = turn.settings, turn.clock()
    if year is None:
        year = review.latest_year(community, now=now, tz=settings.timezone)
    start, _end = review.period(community, year, tz=settings.timezone)
    if start > now:
        await turn.say("review.future_year")
        return
    if turn.info.in_channel:
        # Figures and signals for the facilitators and sponsors, not for the whole channel.
        activity_id = str(turn.context.activity.id or uuid.uuid4().hex)[:64]
        async with transaction(turn.sessions) as session:
            await outbox.enqueue(
                session,
                dedup_key=review.review_ask_key(community.id, year, turn.person_id, activity_id),
                recipient=outbox.Recipient.person(turn.person_id),
                kind=KIND_REVIEW,
                params={"community_id": community.id, "year": year},
            )
        turn.wake()
        await turn.say("review.sent_privately")
        return
    async with transaction(turn.sessions) as session:
        card = await _review_card(
            session,
            community_id=community.id,
            person_id=turn.person_id,
            year=year,
            locale=turn.info.locale,
            tz=settings.timezone,
            now=now,
            settings=settings,
        )
    await turn.show(card)


async def _register(
    turn: FeatureTurn,
    community_id: int,
    *,
    editing: ProductionLine | None = None,
    problems: tuple[str, ...] = (),
    notice: str | None = None,
) -> Element | None:
    async with turn.sessions() as session:
        community = await session.get(Community, community_id)
        if community is None or not await review.may_see_register(
            session, person_id=turn.person_id, community_id=community_id
        ):
            return None
        lines = await review.productions(
            session, community_id=community_id, viewer_id=turn.person_id
        )
        manage = await review.may_manage(
            session, person_id=turn.person_id, community_id=community_id
        )
    return build_productions_card(
        lines,
        community_id=community_id,
        community_name=community.name,
        can_manage=manage,
        locale=turn.info.locale,
        request_key=uuid.uuid4().hex,
        editing=editing,
        problems=problems,
        notice=notice,
    )


async def on_productions_command(turn: FeatureTurn, *, community_id: int | None) -> None:
    """`productions`: the register of the channel's community, or of the person's community."""
    mine = await _communities(turn, community_id, roles=ANY_ROLE)
    if not mine:
        await turn.say("review.productions.not_member")
        return
    if len(mine) > 1:
        t = turn.t
        await turn.show(
            adaptive_card(
                [paragraph(t("review.productions.choose"))],
                [submit(c.name, verb=VERB_PRODUCTIONS, community_id=c.id) for c in mine],
            )
        )
        return
    card = await _register(turn, mine[0].id or 0)
    if card is not None:
        await turn.show(card)


async def on_objectives_command(
    turn: FeatureTurn, *, argument: str, community_id: int | None
) -> None:
    """`objectifs [année]`: facilitators set the charter's objectives' status for the year."""
    try:
        year = parse_year(argument)
    except YearNotUnderstood:
        await turn.say("review.year_not_understood")
        return
    mine = await _communities(turn, community_id, roles=review.MANAGER_ROLES)
    if not mine:
        await turn.say("review.not_facilitator")
        return
    card = await _objectives_card(turn, mine[0], year)
    await turn.show(card)


async def _objectives_card(
    turn: FeatureTurn, community: Community, year: int | None, notice: str | None = None
) -> Element:
    assert community.id is not None
    if year is None:
        # The review to come: its objectives are the ones facilitators are assessing.
        today = turn.clock().astimezone(ZoneInfo(turn.settings.timezone)).date()
        upcoming = today <= review.review_date(community, today.year)
        year = today.year if upcoming else today.year + 1
    async with turn.sessions() as session:
        lines = await review.objectives(session, community=community, year=year)
    return build_objectives_card(
        lines,
        community_id=community.id,
        community_name=community.name,
        year=year,
        review_day=review.review_date(community, year).isoformat(),
        locale=turn.info.locale,
        notice=notice,
    )


# -- the buttons -----------------------------------------------------------------------------


async def _show_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    year = _year(value.get("year"))
    if community_id is None or year is None:
        await turn.say("error.unknown_action")
        return
    mine = await _communities(turn, community_id, roles=review.READER_ROLES)
    if not mine:
        await turn.say("review.not_allowed")
        return
    await _show(turn, mine[0], year)


async def _pdf_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The card's « PDF » button (a card from the outbox has no link): a fresh signed link, in
    the person's own chat only."""
    community_id = param_int(value, "community_id")
    year = _year(value.get("year"))
    if community_id is None or year is None:
        await turn.say("error.unknown_action")
        return
    if turn.info.in_channel:
        await turn.say("review.pdf.private_only")
        return
    async with transaction(turn.sessions) as session:
        link = (
            await pdf_url(
                session,
                settings=turn.settings,
                community_id=community_id,
                year=year,
                person_id=turn.person_id,
                locale=turn.info.locale,
                now=turn.clock(),
            )
            if await review.may_read(session, person_id=turn.person_id, community_id=community_id)
            else None
        )
    if link is None:
        await turn.say("review.not_allowed")
        return
    t = turn.t
    await turn.show(
        adaptive_card(
            [paragraph(t("review.pdf.ready", year=year))],
            [{"type": "Action.OpenUrl", "title": t("review.pdf"), "url": link}],
        )
    )


async def _productions_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    card = None if community_id is None else await _register(turn, community_id)
    if card is None:
        await turn.say("review.productions.not_member")
        return
    await turn.show(card)


def _draft(value: dict[str, Any]) -> ProductionDraft:
    def text(key: str) -> str:
        raw = value.get(key)
        return raw if isinstance(raw, str) else ""

    return ProductionDraft(
        title=text("title"), kind=text("kind"), produced_on=text("produced_on"), url=text("url")
    )


def _line(row: Production) -> ProductionLine:
    return ProductionLine(
        id=row.id or 0,
        title=row.title,
        kind=ProductionKind(row.kind),
        produced_on=row.produced_on,
        url=row.url,
        contributors=(),
    )


async def _save_production_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    production_id = param_int(value, "production_id") if "production_id" in value else None
    if community_id is None or ("production_id" in value and production_id is None):
        await turn.say("error.unknown_action")
        return
    key = value.get("request_key")
    draft = _draft(value)
    now = turn.clock()
    try:
        async with transaction(turn.sessions) as session:
            if production_id is None:
                await review.add_production(
                    session,
                    community_id=community_id,
                    person_id=turn.person_id,
                    draft=draft,
                    request_key=key if isinstance(key, str) else None,
                    now=now,
                )
            else:
                row = await session.get(Production, production_id)
                if row is None or row.community_id != community_id:
                    raise review.ProductionNotFound(production_id)
                await review.edit_production(
                    session,
                    production_id=production_id,
                    person_id=turn.person_id,
                    draft=draft,
                    now=now,
                )
    except review.InvalidProduction as invalid:
        t = turn.t
        await turn.context.send_activity(
            "\n".join(t(f"review.production.problem.{code}") for code in invalid.problems)
        )
        return
    except review.ProductionNotFound:
        await turn.say("review.production.gone")
        return
    except NotAllowed:
        await turn.say("review.not_facilitator")
        return
    card = await _register(turn, community_id, notice=turn.t("review.production.saved"))
    if card is not None:
        await turn.replace_clicked(card)


async def _edit_production_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    production_id = param_int(value, "production_id")
    async with turn.sessions() as session:
        row = None if production_id is None else await session.get(Production, production_id)
        allowed = row is not None and await review.may_manage(
            session, person_id=turn.person_id, community_id=row.community_id
        )
    if row is None:
        await turn.say("review.production.gone")
        return
    if not allowed:
        await turn.say("review.not_facilitator")
        return
    card = await _register(turn, row.community_id, editing=_line(row))
    if card is not None:
        await turn.show(card)


async def _remove_production_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    production_id = param_int(value, "production_id")
    if production_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            row = await session.get(Production, production_id)
            community_id = None if row is None else row.community_id
            removed = await review.remove_production(
                session, production_id=production_id, person_id=turn.person_id
            )
    except NotAllowed:
        await turn.say("review.not_facilitator")
        return
    if community_id is None or not removed:
        await turn.say("review.production.gone")
        return
    card = await _register(turn, community_id, notice=turn.t("review.production.removed"))
    if card is not None:
        await turn.replace_clicked(card)


async def _credit(turn: FeatureTurn, value: dict[str, Any], *, named: bool) -> None:
    production_id = param_int(value, "production_id")
    if production_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            row = await session.get(Production, production_id)
            community_id = None if row is None else row.community_id
            await review.credit(
                session,
                production_id=production_id,
                person_id=turn.person_id,
                named=named,
                now=turn.clock(),
            )
    except review.ProductionNotFound:
        await turn.say("review.production.gone")
        return
    except NotAllowed:
        await turn.say("review.productions.not_member")
        return
    assert community_id is not None
    notice = turn.t("review.production.credited" if named else "review.production.uncredited")
    card = await _register(turn, community_id, notice=notice)
    if card is not None:
        await turn.replace_clicked(card)


async def _credit_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _credit(turn, value, named=True)


async def _uncredit_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _credit(turn, value, named=False)


async def _objectives_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    year = _year(value.get("year"))
    mine = (
        []
        if community_id is None
        else await _communities(turn, community_id, roles=review.MANAGER_ROLES)
    )
    if not mine or year is None:
        await turn.say("review.not_facilitator")
        return
    await turn.show(await _objectives_card(turn, mine[0], year))


async def _save_objective_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    year = _year(value.get("year"))
    position = param_int(value, "position")
    objective = value.get("objective")
    if community_id is None or year is None or position is None or not isinstance(objective, str):
        await turn.say("error.unknown_action")
        return
    state = value.get(f"state_{position}")
    comment = value.get(f"comment_{position}")
    try:
        async with transaction(turn.sessions) as session:
            await review.set_objective(
                session,
                community_id=community_id,
                person_id=turn.person_id,
                year=year,
                position=position,
                objective=objective,
                state=state if isinstance(state, str) else "",
                comment=comment if isinstance(comment, str) else "",
                now=turn.clock(),
            )
            community = await session.get(Community, community_id)
    except NotAllowed:
        await turn.say("review.not_facilitator")
        return
    except LookupError:
        await turn.say("review.objectives.changed")
        return
    except ValueError:
        await turn.say("review.objectives.state_missing")
        return
    assert community is not None
    await turn.replace_clicked(
        await _objectives_card(turn, community, year, notice=turn.t("review.objectives.saved"))
    )


async def _save_date_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    raw = value.get("review_day")
    try:
        day = date.fromisoformat(raw.strip()) if isinstance(raw, str) else None
    except ValueError:
        day = None
    if community_id is None:
        await turn.say("error.unknown_action")
        return
    if day is None:
        await turn.say("review.date.invalid")
        return
    async with transaction(turn.sessions) as session:
        community = await session.get(Community, community_id)
        allowed = community is not None and await review.may_manage(
            session, person_id=turn.person_id, community_id=community_id
        )
        if community is not None and allowed:
            review.set_review_day(community, day)
            session.add(community)
    if community is None or not allowed:
        await turn.say("review.not_facilitator")
        return
    await turn.replace_clicked(
        await _objectives_card(turn, community, None, notice=turn.t("review.date.saved"))
    )


ACTIONS: Mapping[str, VerbHandler] = {
    VERB_SHOW: _show_verb,
    VERB_PDF: _pdf_verb,
    VERB_PRODUCTIONS: _productions_verb,
    VERB_PRODUCTION_SAVE: _save_production_verb,
    VERB_PRODUCTION_EDIT: _edit_production_verb,
    VERB_PRODUCTION_REMOVE: _remove_production_verb,
    VERB_CREDIT: _credit_verb,
    VERB_UNCREDIT: _uncredit_verb,
    VERB_OBJECTIVES: _objectives_verb,
    VERB_OBJECTIVE_SAVE: _save_objective_verb,
    VERB_DATE_SAVE: _save_date_verb,
}


__all__ = [
    "ACTIONS",
    "REVIEW_RENDERERS",
    "ROUTE",
    "on_objectives_command",
    "on_productions_command",
    "on_review_command",
    "review_pdf",
    "send_annual_reviews",
]
