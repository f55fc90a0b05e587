"""Administrative support's lists, partial presence and guests, e-mail consent, and mentoring
supervision (storage/admin.py has the rules, cards/admin.py the cards and CSV files).

`listes [période]` answers, in the personal chat, a card per community the sender supports,
coordinates or animates, with signed links (bot/links.py) to: the mailing list (CSV), the
timesheet and the facilitators' time over the period (CSV), and each recent meeting's attendance
sheet (PDF with a signature column, and CSV). The link endpoint checks the signature, the
expiry, that the person is not erased, and again that they still hold a role in the community;
the data is read when the link is opened.

`courriel oui` (or the consent card's button) records the member's consent with the address
Teams put on the activity or, when it put none (the usual case), the one of their Teams profile,
asked of the Bot Connector then and only then: without consent nothing is asked. A lookup that
fails still records the consent, without an address, and the card says Teams did not give it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientError, web
from microsoft_agents.hosting.core import ConnectorClientBase
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import links
from bot.attestations_flow import Period, parse_period
from bot.links import BadLinkError, refusal
from bot.settings import Settings
from bot.turns import FeatureTurn, as_int, pick_action
from cards.admin import (
    VERB_ATTENDANCE,
    VERB_CONSENT,
    VERB_GUEST_REMOVE,
    VERB_SUPPORT,
    ListLinks,
    SheetLinks,
    build_consent_card,
    build_lists_card,
    build_sheet_card,
    build_supervision_card,
    mailing_csv,
    sheet_csv,
    time_csv,
)
from cards.i18n import language_of, translator
from storage import admin, outbox
from storage.admin import Refused
from storage.db import transaction
from storage.models import Community, MeetingGuest, Person, utcnow

logger = logging.getLogger(__name__)

LINK_KIND = "adminlist"
ROUTE = "/lists/{token}"
REFUSALS = links.Refusals(
    invalid="admin.link.invalid",
    expired="admin.link.expired",
    unavailable="admin.link.unavailable",
)
LINK_DAYS = 7
# What a link exports (a signed field): the mailing list, a meeting's sheet as PDF or CSV,
# the timesheet, the facilitators' time.
MAILING, SHEET_PDF, SHEET_CSV, TIMESHEET, FACILITATORS = "mail", "pdf", "csv", "time", "fac"
WHATS = frozenset({MAILING, SHEET_PDF, SHEET_CSV, TIMESHEET, FACILITATORS})
MAX_MINUTES = 24 * 60
# Teams answers a member lookup in well under a second; a stuck one must not hold the turn
# (Teams waits 15 s for a button's answer).
PROFILE_TIMEOUT_SECONDS = 5.0


# -- signed links --


def sign_export(
    key: bytes,
    *,
    person_id: int,
    community_id: int,
    what: str,
    first: str,
    second: str,
    language: str,
    expires_at: datetime,
) -> str:
    return links.sign(
        key,
        links.SignedValue(
            kind=LINK_KIND,
            person_id=person_id,
            language=language,
            expires_at=expires_at,
            fields=(str(community_id), what, first, second),
        ),
    )


def _url(settings: Settings, token: str) -> str:
    return links.public_link(settings, ROUTE.replace("{token}", token))


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


async def _community_links(
    session: AsyncSession,
    settings: Settings,
    key: bytes,
    community: Community,
    *,
    person_id: int,
    period: Period,
    locale: str,
    now: datetime,
) -> ListLinks:
    expires = now + timedelta(days=LINK_DAYS)
    language = language_of(locale)
    span = (f"{period.start:%Y%m%d}", f"{period.end:%Y%m%d}")

    def url(what: str, first: str, second: str) -> str:
        token = sign_export(
            key,
            person_id=person_id,
            community_id=community.id or 0,
            what=what,
            first=first,
            second=second,
            language=language,
            expires_at=expires,
        )
        return _url(settings, token)

    sheets = tuple(
        SheetLinks(
            title=m.title,
            starts_at=m.starts_at,
            ends_at=m.ends_at,
            pdf=url(SHEET_PDF, str(m.id), "0"),
            csv=url(SHEET_CSV, str(m.id), "0"),
        )
        for m in await admin.recent_meetings(session, community_id=community.id or 0, now=now)
    )
    return ListLinks(
        community=community.name,
        start=period.start,
        end=period.end,
        mailing=url(MAILING, "0", "0"),
        timesheet=url(TIMESHEET, *span),
        facilitators=url(FACILITATORS, *span),
        sheets=sheets,
        days=LINK_DAYS,
    )


# -- commands --


async def on_lists_command(turn: FeatureTurn, argument: str) -> None:
    """`listes [période]`: in the personal chat only (the links are capabilities)."""
    if turn.info.in_channel:
        await turn.say("admin.private_only")
        return
    settings = turn.settings
    today = turn.clock().astimezone(ZoneInfo(settings.timezone)).date()
    period = parse_period(argument, today=today)
    if period is None:
        await turn.say("attestation.bulk_period_invalid")
        return
    if turn.info.person_id is None:
        await turn.say("admin.not_allowed")
        return
    now = turn.clock()
    async with transaction(turn.sessions) as session:
        found = await admin.exportable_communities(session, person_id=turn.person_id)
        key = await links.signing_key(session, settings)
        cards = [
            build_lists_card(
                await _community_links(
                    session,
                    settings,
                    key,
                    community,
                    person_id=turn.person_id,
                    period=period,
                    locale=turn.info.locale,
                    now=now,
                ),
                locale=turn.info.locale,
                tz=settings.timezone,
            )
            for community in found
        ]
    if not cards:
        await turn.say("admin.not_allowed")
        return
    for card in cards:
        await turn.show(card)


async def on_sheet_command(turn: FeatureTurn) -> None:
    """`présences détaillées`: the partial presence and guests card of each supported
    community's latest ended meeting (in the personal chat: it names who came)."""
    if turn.info.in_channel:
        await turn.say("admin.private_only")
        return
    if turn.info.person_id is None:
        await turn.say("admin.not_allowed")
        return
    now = turn.clock()
    cards = []
    async with turn.sessions() as session:
        found = await admin.exportable_communities(session, person_id=turn.person_id)
        for community in found:
            recent = await admin.recent_meetings(
                session, community_id=community.id or 0, now=now, limit=1
            )
            if recent:
                data = await admin.sheet(session, meeting_id=recent[0].id or 0)
                if data is not None:
                    cards.append(
                        build_sheet_card(data, locale=turn.info.locale, tz=turn.settings.timezone)
                    )
    if not found:
        await turn.say("admin.not_allowed")
    elif not cards:
        await turn.say("admin.sheet.no_meeting")
    for card in cards:
        await turn.show(card)


async def on_supervision_command(turn: FeatureTurn) -> None:
    """`supervision du mentorat`: for coordinators and animators, in the personal chat."""
    if turn.info.in_channel:
        await turn.say("admin.private_only")
        return
    if turn.info.person_id is None:
        await turn.say("admin.supervision.not_allowed")
        return
    async with turn.sessions() as session:
        found = await admin.supervised(session, person_id=turn.person_id)
        views = [await admin.supervision(session, community=c) for c in found]
    if not views:
        await turn.say("admin.supervision.not_allowed")
        return
    for view in views:
        await turn.show(
            build_supervision_card(view, locale=turn.info.locale, tz=turn.settings.timezone)
        )


def _address_of(account: object) -> str | None:
    """The e-mail (or else the user principal name) of a Teams account, if it looks like an
    address; None otherwise. Never guessed."""
    extra: dict[str, Any] = dict(getattr(account, "model_extra", None) or {})
    for name in ("email", "userPrincipalName", "user_principal_name"):
        found = admin.clean_email(getattr(account, name, None) or extra.get(name))
        if found is not None:
            return found
    return None


def teams_email(turn: FeatureTurn) -> str | None:
    """The sender's address if Teams put one on the activity (some activities carry the
    user principal name or e-mail of the sender; most carry none)."""
    sender = turn.context.activity.from_property
    return None if sender is None else _address_of(sender)


@dataclass(frozen=True, slots=True)
class ProfileLookup:
    """What Teams answered about the member: `reached` is False when it could not be asked
    (404, network, timeout, no connector in this turn); `email` may be None either way."""

    email: str | None
    reached: bool


async def teams_profile_email(turn: FeatureTurn) -> ProfileLookup:
    """The member's address from their Teams profile (GET /v3/conversations/{conversation}/
    members/{user}, which gives `email` and `userPrincipalName`). Only called once the member
    agreed to share it: the consent is what allows asking."""
    activity = turn.context.activity
    conversation_id = activity.conversation.id if activity.conversation else None
    user_id = activity.from_property.id if activity.from_property else None
    # The adapter keeps the turn's connector client under its protocol type (as the SDK's own
    # send path looks it up); mypy wants a concrete class there.
    client = turn.context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
    if client is None or not conversation_id or not user_id:
        return ProfileLookup(email=None, reached=False)
    try:
        account = await asyncio.wait_for(
            client.conversations.get_conversation_member(conversation_id, user_id),
            timeout=PROFILE_TIMEOUT_SECONDS,
        )
    except (ClientError, TimeoutError, ValueError) as error:
        # The consent stands without the address; the card says Teams did not give it.
        logger.warning("member profile lookup failed: %s", type(error).__name__)
        return ProfileLookup(email=None, reached=False)
    return ProfileLookup(email=_address_of(account), reached=True)


async def on_consent_command(turn: FeatureTurn, argument: str) -> None:
    """`courriel` shows the consent and its button; `courriel oui` / `non` sets it."""
    if turn.info.person_id is None:
        await turn.say("admin.not_allowed")
        return
    word = argument.strip().casefold()
    if word in {"oui", "yes", "non", "no"}:
        await _set_consent(turn, agree=word in {"oui", "yes"})
        return
    async with turn.sessions() as session:
        row = await admin.consent_of(session, person_id=turn.person_id)
    await turn.show(
        build_consent_card(
            agreed=row is not None, email=row.email if row else None, locale=turn.info.locale
        )
    )


async def _set_consent(turn: FeatureTurn, *, agree: bool) -> None:
    email: str | None = None
    lookup_failed = False
    if agree:
        email = teams_email(turn)
        if email is None:
            # Asked before the transaction: a slow Teams must not hold the database.
            lookup = await teams_profile_email(turn)
            email, lookup_failed = lookup.email, not lookup.reached
    async with transaction(turn.sessions) as session:
        await admin.set_consent(
            session, person_id=turn.person_id, agree=agree, email=email, now=turn.clock()
        )
        row = await admin.consent_of(session, person_id=turn.person_id)
    stored = row.email if row else None
    await turn.replace_clicked(
        build_consent_card(
            agreed=row is not None,
            email=stored,
            locale=turn.info.locale,
            lookup_failed=lookup_failed and stored is None,
        )
    )


# -- buttons --


async def _on_consent(turn: FeatureTurn, value: dict[str, Any]) -> None:
    agree = value.get("agree")
    if not isinstance(agree, bool) or turn.info.person_id is None:
        await turn.say("admin.invalid")
        return
    await _set_consent(turn, agree=agree)


def _minutes(value: object) -> int | None:
    """Minutes from a number input: '' is 0; anything else not a whole number is None."""
    if value is None or value == "":
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    number = as_int(value)
    return number if number is not None and number <= MAX_MINUTES else None


async def _on_attendance(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The partial presence and guests card, submitted: each person's late / early minutes,
    and a guest if one was typed. Bad numbers change nothing and say so."""
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None or turn.info.person_id is None:
        await turn.say("admin.invalid")
        return
    partial: dict[int, tuple[int, int]] = {}
    for name, raw in value.items():
        if not isinstance(name, str) or not name.startswith(("late_", "early_")):
            continue
        which, _, person = name.partition("_")
        person_id, minutes = as_int(person), _minutes(raw)
        if person_id is None or minutes is None:
            await turn.say("admin.sheet.bad_minutes")
            return
        late, early = partial.get(person_id, (0, 0))
        partial[person_id] = (minutes, early) if which == "late" else (late, minutes)
    guest = value.get("guest_name")
    guest_name = guest.strip() if isinstance(guest, str) else ""
    kind = value.get("guest_kind")
    now = turn.clock()
    try:
        async with transaction(turn.sessions) as session:
            # Checked first, whatever the card holds: the role, the meeting, that it ended.
            await admin.editable_meeting(
                session, meeting_id=meeting_id, by_person_id=turn.person_id, now=now
            )
            data = await admin.sheet(session, meeting_id=meeting_id)
            recorded = {line.person_id for line in data.lines} if data else set()
            for person_id, (late, early) in sorted(partial.items()):
                if person_id not in recorded:
                    continue  # not on this copy of the sheet any more: left alone
                await admin.record_partial(
                    session,
                    meeting_id=meeting_id,
                    person_id=person_id,
                    by_person_id=turn.person_id,
                    late=late,
                    early=early,
                    now=now,
                )
            if guest_name:
                await admin.add_guest(
                    session,
                    meeting_id=meeting_id,
                    by_person_id=turn.person_id,
                    name=guest_name,
                    kind=kind if isinstance(kind, str) else "other",
                    now=now,
                )
            updated = await admin.sheet(session, meeting_id=meeting_id)
    except Refused as refused:
        logger.info("attendance details refused: %s", refused)
        await turn.say("admin.sheet.refused")
        return
    if updated is not None:
        await turn.replace_clicked(
            build_sheet_card(updated, locale=turn.info.locale, tz=turn.settings.timezone)
        )
    await turn.say("admin.sheet.saved")


async def _on_guest_remove(turn: FeatureTurn, value: dict[str, Any]) -> None:
    guest_id = as_int(value.get("guest_id"))
    if guest_id is None or turn.info.person_id is None:
        await turn.say("admin.invalid")
        return
    try:
        async with transaction(turn.sessions) as session:
            guest = await session.get(MeetingGuest, guest_id)
            meeting_id = guest.meeting_id if guest else None
            removed = await admin.remove_guest(
                session, guest_id=guest_id, by_person_id=turn.person_id, now=turn.clock()
            )
            updated = (
                await admin.sheet(session, meeting_id=meeting_id)
                if meeting_id is not None
                else None
            )
    except Refused:
        await turn.say("admin.sheet.refused")
        return
    if updated is not None:
        await turn.replace_clicked(
            build_sheet_card(updated, locale=turn.info.locale, tz=turn.settings.timezone)
        )
    await turn.say("admin.sheet.guest_removed" if removed else "admin.sheet.guest_gone")


async def _on_support(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """A mentor asks the coordination for support: a notice to each coordinator and animator
    of the community, through the outbox (once per click: the button's nonce is the key)."""
    pairing_id = as_int(value.get("pairing_id"))
    nonce = value.get("nonce")
    if (
        pairing_id is None
        or not isinstance(nonce, str)
        or not nonce.isalnum()
        or turn.info.person_id is None
    ):
        await turn.say("admin.invalid")
        return
    now = turn.clock()
    try:
        async with transaction(turn.sessions) as session:
            asked = await admin.ask_support(
                session,
                pairing_id=pairing_id,
                person_id=turn.person_id,
                request_key=f"{pairing_id}:{nonce[:40]}",
                now=now,
            )
            community = await session.get(Community, asked.pairing.community_id)
            mentor = await session.get(Person, turn.person_id)
            mentee = await session.get(Person, asked.pairing.mentee_id)
            for supervisor in asked.supervisors:
                await outbox.enqueue(
                    session,
                    dedup_key=admin.support_key(asked.request_id, supervisor.id or 0),
                    recipient=outbox.Recipient.person(supervisor.id or 0),
                    kind=outbox.KIND_NOTICE,
                    params={
                        "text": "admin.support.notice",
                        "values": {
                            "mentor": (mentor.name if mentor else "") or "—",
                            "mentee": (mentee.name if mentee else "") or "—",
                            "community": community.name if community else "",
                        },
                    },
                )
    except Refused as refused:
        logger.info("mentor support refused: %s", refused)
        await turn.say("admin.support.refused")
        return
    if asked.created and asked.supervisors:
        turn.wake()
    await turn.say("admin.support.sent" if asked.supervisors else "admin.support.nobody")


ACTIONS = {
    VERB_ATTENDANCE: _on_attendance,
    VERB_GUEST_REMOVE: _on_guest_remove,
    VERB_CONSENT: _on_consent,
    VERB_SUPPORT: _on_support,
}


async def on_button(turn: FeatureTurn, value: dict[str, Any]) -> None:
    handler = pick_action(ACTIONS, value)
    if handler is not None:
        await handler(turn, value)


def new_nonce() -> str:
    return uuid.uuid4().hex[:16]


# -- the link endpoint --


def _download(body: bytes, *, name: str, content_type: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


async def export(request: web.Request) -> web.StreamResponse:
    """GET /lists/{token}: 403 for a link we did not sign (or altered) or a person who no
    longer holds a role in the community, 410 once expired or erased, 404 for a meeting gone,
    503 when the database or the font fails."""
    opened = await links.open_link(
        request, request.match_info.get("token", ""), kind=LINK_KIND, refusals=REFUSALS
    )
    if isinstance(opened, web.Response):
        return opened
    value, settings = opened.value, opened.settings
    t = translator(value.language)
    locale = "fr-CA" if value.language == "fr" else "en-CA"
    try:
        if len(value.fields) != 4 or not value.fields[0].isdigit():
            raise BadLinkError("format")
        community_id, what, first, second = int(value.fields[0]), *value.fields[1:]
        if what not in WHATS:
            raise BadLinkError("what")
        if what in (TIMESHEET, FACILITATORS):
            start, end = _day(first), _day(second)
            if end < start:
                raise BadLinkError("period")
        elif what in (SHEET_PDF, SHEET_CSV) and not first.isdigit():
            raise BadLinkError("meeting")
    except (BadLinkError, ValueError):
        return refusal(403, t(REFUSALS.invalid))
    now = utcnow()
    try:
        async with opened.sessions() as session:
            if not await admin.may_export(
                session, person_id=value.person_id, community_id=community_id
            ):
                return refusal(403, t(REFUSALS.invalid))
            if what == MAILING:
                text = mailing_csv(
                    await admin.mailing_list(session, community_id=community_id), locale=locale
                )
                name = f"{t('admin.file.mailing')}-{community_id}.csv"
            elif what in (TIMESHEET, FACILITATORS):
                rows = await (admin.timesheet if what == TIMESHEET else admin.facilitators_time)(
                    session, community_id=community_id, start=start, end=end, tz=settings.timezone
                )
                text = time_csv(rows, start=start, end=end, locale=locale)
                label = "admin.file.timesheet" if what == TIMESHEET else "admin.file.facilitators"
                name = f"{t(label)}-{community_id}-{first}-{second}.csv"
            else:
                data = await admin.sheet(session, meeting_id=int(first))
                if data is None or data.meeting.community_id != community_id:
                    return refusal(404, t("admin.link.gone"))
                name = f"{t('admin.file.sheet')}-{data.meeting.id}"
                if what == SHEET_CSV:
                    text = sheet_csv(data, locale=locale)
                    name += ".csv"
                else:
                    from cards.admin_pdf import build_sheet_pdf

                    body = await asyncio.to_thread(
                        build_sheet_pdf, data, locale=locale, tz=settings.timezone, issued_at=now
                    )
                    logger.info("attendance sheet PDF exported for meeting %s", data.meeting.id)
                    return _download(body, name=name + ".pdf", content_type="application/pdf")
    except Exception:
        logger.exception("admin list could not be produced")
        return refusal(503, t(REFUSALS.unavailable))
    logger.info("admin list %s exported for community %s", what, community_id)
    # The byte-order mark makes spreadsheets read the accents as UTF-8.
    return _download(("\ufeff" + text).encode("utf-8"), name=name, content_type="text/csv")


__all__ = [
    "ACTIONS",
    "LINK_KIND",
    "ROUTE",
    "export",
    "new_nonce",
    "on_consent_command",
    "on_lists_command",
    "on_sheet_command",
    "on_supervision_command",
    "sign_export",
]
