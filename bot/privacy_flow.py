"""« Mes données » / "my data" (Quebec's Law 25): see, export and erase one's own data.

No routing here: bot/handler.py sends the `mes données` / `my data` command and the
`privacy.*` card verbs to these functions, and bot/app.py serves `GET ROUTE` with
`export_json`. Only in the person's private chat: in a channel the bot refuses and points to
the 1:1 chat (nothing personal is ever shown, or linked to, where others can see it).

Two signed values, each with a key derived for that use only (storage.secrets.derive), in the
manner of the attestation links (bot/attestations_flow.py): the signature is checked before
anything in the value is believed.

- The export link `ROUTE` carries the person, the language and its expiry (one hour); the
  endpoint reads the data when the link is opened. Bad signature → 403, expired → 410.
- The erase confirmation carries a nonce: the person and when it was issued. « Oui, tout
  supprimer » erases only if the nonce was signed by us, names the person clicking, and is at
  most ten minutes old. The erasure runs in one transaction (storage/privacy.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.core.bot_state import CachedBotState
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.attestations_flow import BadLinkError, ExpiredLinkError
from bot.links import refusal, runtime_services
from bot.settings import Settings
from bot.turns import card_activity
from cards.i18n import language_of, translator
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
from storage.secrets import derive, master_key
from storage.surveys import RESPONDENT_KEY_PURPOSE

logger = logging.getLogger(__name__)

ROUTE = "/privacy/export/{token}.json"
EXPORT_PURPOSE = "privacy-export"
ERASE_PURPOSE = "privacy-erase"
EXPORT_LIFETIME = timedelta(hours=1)
NONCE_LIFETIME = timedelta(minutes=10)
# A nonce "issued" slightly in the future is a clock difference between replicas, not a forgery.
CLOCK_SKEW = timedelta(minutes=1)
_VERSION = "1"
_MAX_TOKEN = 200

Clock = Callable[[], datetime]


# -- signed values -------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(key: bytes, *fields: str) -> str:
    body = ".".join((_VERSION, *fields))
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def _fields(token: str, *, key: bytes, count: int) -> list[str]:
    """The fields of a value we signed; BadLinkError for anything else."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise BadLinkError("format")
    body, _, signature = token.rpartition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not body or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise BadLinkError("signature")
    parts = body.split(".")
    if len(parts) != count + 1 or parts[0] != _VERSION:
        raise BadLinkError("format")
    return parts[1:]


def _moment(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(text), tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise BadLinkError("format") from error


@dataclass(frozen=True, slots=True)
class ExportClaim:
    person_id: int
    language: str
    expires_at: datetime


def export_token(key: bytes, *, person_id: int, language: str, expires_at: datetime) -> str:
    return _sign(key, str(person_id), language_of(language), str(int(expires_at.timestamp())))


def verify_export_token(token: str, *, key: bytes, now: datetime) -> ExportClaim:
    person, language, expires = _fields(token, key=key, count=3)
    if not (person.isascii() and person.isdigit()):
        raise BadLinkError("format")
    claim = ExportClaim(int(person), language_of(language), _moment(expires))
    if claim.expires_at <= now:
        raise ExpiredLinkError("expired")
    return claim


def erase_nonce(key: bytes, *, person_id: int, issued_at: datetime) -> str:
    return _sign(key, str(person_id), str(int(issued_at.timestamp())))


def nonce_is_valid(nonce: object, *, key: bytes, person_id: int, now: datetime) -> bool:
    """Signed by us, for this person, issued within the last ten minutes."""
    if not isinstance(nonce, str):
        return False
    try:
        person, issued = _fields(nonce, key=key, count=2)
        issued_at = _moment(issued)
    except BadLinkError:
        return False
    return (
        person == str(person_id)
        and now - NONCE_LIFETIME <= issued_at
        and issued_at <= now + CLOCK_SKEW
    )


async def _master(session: AsyncSession, settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    return await master_key(session, configured=configured)


async def export_key(session: AsyncSession, settings: Settings) -> bytes:
    return derive(await _master(session, settings), EXPORT_PURPOSE)


async def erase_key(session: AsyncSession, settings: Settings) -> bytes:
    return derive(await _master(session, settings), ERASE_PURPOSE)


def export_url(settings: Settings, token: str) -> str:
    return settings.public_url.rstrip("/") + ROUTE.replace("{token}", token)


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
        if isinstance(value, CachedBotState):
            del turn_context.turn_state[key]


async def handle_privacy_action(
    turn_context: TurnContext,
    value: dict[str, Any],
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None] | None = None,
    clock: Clock = utcnow,
) -> bool:
    """The `privacy.*` buttons; False for a verb this module does not know."""
    verb = str(value.get("verb", ""))
    if verb not in (VERB_EXPORT, VERB_ERASE_ASK, VERB_ERASE_CONFIRM, VERB_ERASE_CANCEL):
        return False
    t = translator(info.locale)
    if await _private_only(turn_context, info):
        return True
    person_id = info.person_id
    if person_id is None:
        await turn_context.send_activity(t("privacy.nothing"))
        return True
    now = clock()
    if verb == VERB_ERASE_CANCEL:
        await turn_context.send_activity(t("privacy.erase.cancelled"))
    elif verb == VERB_EXPORT:
        async with transaction(sessions) as session:
            key = await export_key(session, settings)
        token = export_token(
            key, person_id=person_id, language=info.locale, expires_at=now + EXPORT_LIFETIME
        )
        card = build_export_link_card(
            url=export_url(settings, token),
            minutes=int(EXPORT_LIFETIME.total_seconds() // 60),
            locale=info.locale,
        )
        await turn_context.send_activity(card_activity(card))
    elif verb == VERB_ERASE_ASK:
        async with transaction(sessions) as session:
            key = await erase_key(session, settings)
        card = build_erase_confirm_card(
            nonce=erase_nonce(key, person_id=person_id, issued_at=now),
            minutes=int(NONCE_LIFETIME.total_seconds() // 60),
            locale=info.locale,
        )
        await turn_context.send_activity(card_activity(card))
    else:
        await _erase(turn_context, value, sessions=sessions, settings=settings, info=info, now=now)
    return True


async def _erase(
    turn_context: TurnContext,
    value: dict[str, Any],
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    now: datetime,
) -> None:
    t = translator(info.locale)
    person_id = info.person_id
    assert person_id is not None
    async with transaction(sessions) as session:
        master = await _master(session, settings)
        if not nonce_is_valid(
            value.get("nonce"),
            key=derive(master, ERASE_PURPOSE),
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
        await turn_context.send_activity(t("privacy.erase.refused"))
        return
    # Counts only: never who, never what.
    logger.info("personal data erased on request (%d records changed)", report.changed)
    _forget_turn_state(turn_context)
    await turn_context.send_activity(t("privacy.erase.done"))


# -- the export endpoint -------------------------------------------------------------------


def _language_hint(token: str) -> str:
    """The language a token asks for, to word a refusal (harmless even if forged)."""
    parts = token.split(".")
    return language_of(parts[2]) if len(parts) == 5 else "fr"


async def export_json(request: web.Request) -> web.StreamResponse:
    """GET ROUTE: the person's data as a JSON attachment. 403 for a link we did not sign (or
    altered), 410 once expired, 404 when nothing is kept any more, 503 if the database is
    unavailable."""
    token = request.match_info.get("token", "")
    t = translator(_language_hint(token))
    try:
        sessions, settings = runtime_services(request.app)
        async with transaction(sessions) as session:
            key = await export_key(session, settings)
        claim = verify_export_token(token, key=key, now=utcnow())
    except BadLinkError:
        return refusal(403, t("privacy.link.invalid"))
    except ExpiredLinkError:
        return refusal(410, t("privacy.link.expired"))
    except Exception:
        logger.exception("privacy export link check failed")
        return refusal(503, t("privacy.link.unavailable"))
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
    "ROUTE",
    "ExportClaim",
    "erase_key",
    "erase_nonce",
    "export_json",
    "export_key",
    "export_token",
    "handle_privacy_action",
    "nonce_is_valid",
    "on_my_data_command",
    "verify_export_token",
]
