"""« Mes données » / "my data" (Quebec's Law 25): see, export and erase one's own data.

No routing here: bot/features/privacy.py declares the `mes données` / `my data` command, the
`privacy.*` card verbs (`ACTIONS`) and `GET ROUTE` (`export_json`), and the host sends them
to these functions. Only in the person's private chat: in a channel the bot refuses and points to
the 1:1 chat (nothing personal is ever shown, or linked to, where others can see it).

Two signed values, in the one format of bot/links.py: the signature is checked before anything
in the value is believed.

- The export link `ROUTE` carries the person, the language and its expiry (one hour); the
  endpoint reads the data when the link is opened. Bad signature → 403, expired → 410, the
  person erased since → 410.
- The erase confirmation carries a nonce: the person, and an expiry ten minutes after it was
  shown. « Oui, tout supprimer » erases only if the nonce was signed by us, names the person
  clicking, and has not expired. The erasure runs in one transaction (storage/privacy.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from aiohttp import web
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.state.agent_state import CachedAgentState
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import links
from bot.links import refusal
from bot.settings import Settings
from bot.turns import FeatureTurn, VerbHandler, card_activity
from cards.confirm import build_outcome_card, is_confirmed
from cards.i18n import translator
from cards.privacy import (
    VERB_ERASE_ASK,
    VERB_ERASE_CANCEL,
    VERB_ERASE_CONFIRM,
    VERB_EXPORT,
    build_erase_confirm_card,
    build_export_link_card,
    build_my_data_card,
)
from dialogs.context import TurnInfo
from storage import privacy
from storage.db import SessionFactory, transaction
from storage.models import utcnow
from storage.polls import VOTER_KEY_PURPOSE
from storage.secrets import derive
from storage.surveys import RESPONDENT_KEY_PURPOSE

logger = logging.getLogger(__name__)

ROUTE = "/privacy/export/{token}.json"
EXPORT_KIND = "export"
ERASE_KIND = "erase"
EXPORT_LIFETIME = timedelta(hours=1)
NONCE_LIFETIME = timedelta(minutes=10)
# A nonce "issued" slightly in the future is a clock difference between replicas, not a forgery.
CLOCK_SKEW = timedelta(minutes=1)
REFUSALS = links.Refusals(
    invalid="privacy.link.invalid",
    expired="privacy.link.expired",
    unavailable="privacy.link.unavailable",
)


# -- signed values (bot/links.py) ----------------------------------------------------------


def export_token(key: bytes, *, person_id: int, language: str, expires_at: datetime) -> str:
    return links.sign(key, links.SignedValue(EXPORT_KIND, person_id, language, expires_at))


def erase_nonce(key: bytes, *, person_id: int, issued_at: datetime) -> str:
    return links.sign(
        key, links.SignedValue(ERASE_KIND, person_id, "fr", issued_at + NONCE_LIFETIME)
    )


def nonce_is_valid(nonce: object, *, key: bytes, person_id: int, now: datetime) -> bool:
    """Signed by us, for this person, issued within the last ten minutes."""
    try:
        value = links.verify(nonce, key=key, kind=ERASE_KIND, now=now)
    except (links.BadLinkError, links.ExpiredLinkError):
        return False
    return value.person_id == person_id and value.expires_at <= now + NONCE_LIFETIME + CLOCK_SKEW


async def _master(session: AsyncSession, settings: Settings) -> bytes:
    # The key never comes from the database (storage/secrets.py); `session` stays for callers.
    return settings.master_key()


def export_url(settings: Settings, token: str) -> str:
    return links.public_link(settings, ROUTE.replace("{token}", token))


# -- the command and the buttons -----------------------------------------------------------


async def _private_only(turn_context: TurnContext, info: TurnInfo) -> bool:
    """Refuse in a channel or group chat; True when refused."""
    if info.in_channel:
        await turn_context.send_activity(translator(info.locale)("privacy.private_only"))
        return True
    return False


async def on_my_data_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    """`mes données` / `my data`: the card of what is kept, in the private chat only."""
    if await _private_only(turn_context, info):
        return
    data = None
    if info.person_id is not None:
        async with sessions() as session:
            data = await privacy.inventory(session, person_id=info.person_id)
    if data is None:
        await turn_context.send_activity(translator(info.locale)("privacy.nothing"))
        return
    await turn_context.send_activity(card_activity(build_my_data_card(data, locale=info.locale)))


def _forget_turn_state(turn_context: TurnContext) -> None:
    """Drop this turn's cached bot state, so saving it at the end of the turn does not write
    back (under the person's Teams id) what was just erased."""
    for key, value in list(turn_context.turn_state.items()):
        if isinstance(value, CachedAgentState):
            del turn_context.turn_state[key]


async def _export(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    """The export button: a signed link to the person's data, valid for an hour."""
    if await _private_only(turn.context, turn.info):
        return
    now = turn.clock()
    async with transaction(turn.sessions) as session:
        key = await links.signing_key(session, turn.settings)
    token = export_token(
        key, person_id=turn.person_id, language=turn.info.locale, expires_at=now + EXPORT_LIFETIME
    )
    await turn.show(
        build_export_link_card(
            url=export_url(turn.settings, token),
            minutes=int(EXPORT_LIFETIME.total_seconds() // 60),
            locale=turn.info.locale,
        )
    )


async def _erase_ask(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The erase button: the confirmation card, with a signed nonce; that card's own button
    (`confirmed: true`) erases."""
    if await _private_only(turn.context, turn.info):
        return
    if is_confirmed(value):
        await _erase(turn, value)
        return
    now = turn.clock()
    async with transaction(turn.sessions) as session:
        key = await links.signing_key(session, turn.settings)
    await turn.show(
        build_erase_confirm_card(
            nonce=erase_nonce(key, person_id=turn.person_id, issued_at=now),
            minutes=int(NONCE_LIFETIME.total_seconds() // 60),
            locale=turn.info.locale,
        )
    )


async def _erase_confirm(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """`privacy.erase.confirm`, on a confirmation card shown before `privacy.erase.ask`
    confirmed itself: it carries the signed nonce too."""
    if await _private_only(turn.context, turn.info):
        return
    await _erase(turn, value)


async def _erase_cancel(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    if await _private_only(turn.context, turn.info):
        return
    await turn.say("privacy.erase.cancelled")


async def _erase(turn: FeatureTurn, value: dict[str, Any]) -> None:
    now = turn.clock()
    person_id = turn.person_id
    async with transaction(turn.sessions) as session:
        master = await _master(session, turn.settings)
        if not nonce_is_valid(
            value.get("nonce"),
            key=await links.signing_key(session, turn.settings),
            person_id=person_id,
            now=now,
        ):
            refused = True
        else:
            refused = False
            report = await privacy.erase(
                session,
                person_id=person_id,
                now=now,
                poll_key=derive(master, VOTER_KEY_PURPOSE),
                respondent_key=derive(master, RESPONDENT_KEY_PURPOSE),
            )
    if refused:
        await turn.replace_clicked(build_outcome_card(turn.t("privacy.erase.refused")))
        return
    # Counts only: never who, never what.
    logger.info("personal data erased on request (%d records changed)", report.changed)
    _forget_turn_state(turn.context)
    if report.queued:
        turn.wake()  # consultations handed back: the coordinators are told now
    await turn.replace_clicked(build_outcome_card(turn.t("privacy.erase.done")))


# The `privacy.*` buttons, as bot/features/privacy.py declares them. Each is refused in a
# channel or group chat (nothing personal where others can see it).
ACTIONS: Mapping[str, VerbHandler] = MappingProxyType(
    {
        VERB_EXPORT: _export,
        VERB_ERASE_ASK: _erase_ask,
        VERB_ERASE_CONFIRM: _erase_confirm,
        VERB_ERASE_CANCEL: _erase_cancel,
    }
)


# -- the export endpoint -------------------------------------------------------------------


async def export_json(request: web.Request) -> web.StreamResponse:
    """GET ROUTE: the person's data as a JSON attachment. 403 for a link we did not sign (or
    altered), 410 once expired or once the person erased their data, 404 when nothing is kept
    any more, 503 if the database is unavailable."""
    opened = await links.open_link(
        request, request.match_info.get("token", ""), kind=EXPORT_KIND, refusals=REFUSALS
    )
    if isinstance(opened, web.Response):
        return opened
    sessions, claim = opened.sessions, opened.value
    t = translator(claim.language)
    try:
        async with sessions() as session:
            data = await privacy.export(session, person_id=claim.person_id)
    except Exception:
        logger.exception("privacy export could not be produced")
        return refusal(503, t("privacy.link.unavailable"))
    if not data:
        return refusal(404, t("privacy.link.empty"))
    now = utcnow()
    document = {"exported_at": now.isoformat(), "format": "carrefour-personal-data/1", **data}
    name = f"{t('privacy.export.filename')}-{now:%Y-%m-%d}.json"
    return web.Response(
        body=json.dumps(document, ensure_ascii=False, indent=2).encode(),
        content_type="application/json",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


__all__ = [
    "ACTIONS",
    "ROUTE",
    "erase_nonce",
    "export_json",
    "export_token",
    "nonce_is_valid",
    "on_my_data_command",
]
