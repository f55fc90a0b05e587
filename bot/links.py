"""Signed links: the one codec for every value the bot signs and later believes (attestation
PDFs, data exports, summary CSVs, the erase confirmation), and what the link endpoints share
(the app's runtime, the checks every link gets, the plain-text answer a refused link gets).

A token reads ``2.<kind>.<person>.<language>.<expires>[.<field>…].<signature>``: ASCII letters,
digits, ``-`` and ``_`` between the dots, the signature an HMAC-SHA256 (base64url) of all that
precedes it, with one key derived for signed values (storage.secrets.derive). Nothing in a
token is believed before its signature is checked, and the kind is signed: an attestation
token opens no export. Every token names the person it was issued to; an endpoint refuses one
whose person has erased their data (410), so an erasure revokes every link issued before it
without the bot keeping a list of links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from cards.i18n import LANGUAGES, language_of, translator
from storage.db import SessionFactory, transaction
from storage.models import Person, utcnow
from storage.privacy import is_erased
from storage.secrets import derive

logger = logging.getLogger(__name__)

TOKEN_VERSION = "2"
SIGNED_PURPOSE = "signed-values"
# Well above the longest token issued (an attestation's, about 110 characters); longer input is
# refused before any work.
MAX_TOKEN_LENGTH = 256
REVOKED = "link.revoked"
_FIELD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NUMBER = re.compile(r"[0-9]{1,12}")

Clock = Callable[[], datetime]


class BadLinkError(ValueError):
    """Malformed, altered, of another kind, or not signed by us: 403."""


class ExpiredLinkError(ValueError):
    """Signed by us but past its expiry: 410."""


@dataclass(frozen=True, slots=True)
class SignedValue:
    """What a token says: its kind, the person it was issued to, the language to answer in,
    when it stops working, and the kind's own fields (ids, dates)."""

    kind: str
    person_id: int
    language: str
    expires_at: datetime
    fields: tuple[str, ...] = ()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def sign(key: bytes, value: SignedValue) -> str:
    parts = (
        TOKEN_VERSION,
        value.kind,
        str(value.person_id),
        language_of(value.language),
        str(int(value.expires_at.timestamp())),
        *value.fields,
    )
    if not all(_FIELD.fullmatch(part) for part in parts):
        raise ValueError("a signed value holds letters, digits, - and _ only")
    body = ".".join(parts)
    return f"{body}.{_mac(key, body)}"


def verify(token: object, *, key: bytes, kind: str, now: datetime) -> SignedValue:
    """The value of a token of this kind that we signed; BadLinkError for anything else (any
    text at all: non-ASCII, too long, altered, another kind), ExpiredLinkError once expired."""
    if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
        raise BadLinkError("format")
    body, _, signature = token.rpartition(".")
    if not body or not hmac.compare_digest(signature.encode(), _mac(key, body).encode()):
        raise BadLinkError("signature")
    parts = body.split(".")
    if len(parts) < 5 or parts[0] != TOKEN_VERSION or parts[1] != kind:
        raise BadLinkError("kind")
    _version, _kind, person, language, expires, *fields = parts
    if not (_NUMBER.fullmatch(person) and _NUMBER.fullmatch(expires)) or language not in LANGUAGES:
        raise BadLinkError("format")
    try:
        expires_at = datetime.fromtimestamp(int(expires), tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise BadLinkError("format") from error
    if expires_at <= now:
        raise ExpiredLinkError("expired")
    return SignedValue(kind, int(person), language, expires_at, tuple(fields))


def language_hint(token: str) -> str:
    """The language a token asks for, to word a refusal before it is verified (harmless even
    if forged: it only picks French or English)."""
    parts = token.split(".")
    return language_of(parts[3]) if len(parts) >= 6 and parts[0] == TOKEN_VERSION else "fr"


async def signing_key(session: AsyncSession, settings: Settings) -> bytes:
    # The key never comes from the database (storage/secrets.py); `session` stays for callers.
    return derive(settings.master_key(), SIGNED_PURPOSE)


def public_link(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


# -- the endpoints ---------------------------------------------------------------------------


def runtime_services(app: web.Application) -> tuple[SessionFactory, Settings]:
    # Imported here: bot.app imports the handler, which imports the feature modules.
    from bot.app import RUNTIME

    runtime = app[RUNTIME]
    return runtime.sessions, runtime.settings


def refusal(status: int, text: str) -> web.Response:
    """A refused or failed link: plain text in the person's language, never cached."""
    return web.Response(
        status=status,
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@dataclass(frozen=True, slots=True)
class Refusals:
    """A link kind's catalog keys for a link that is not ours, expired, or cannot be served."""

    invalid: str
    expired: str
    unavailable: str


@dataclass(frozen=True, slots=True)
class OpenedLink:
    value: SignedValue
    sessions: SessionFactory
    settings: Settings


async def open_link(
    request: web.Request, token: str, *, kind: str, refusals: Refusals, clock: Clock = utcnow
) -> OpenedLink | web.Response:
    """The checks every link gets before its endpoint serves it: signed by us for this kind
    (403), not expired (410), its person not erased (410), the database reachable (503). The
    answer is a refusal in the token's language, or the opened link."""
    t = translator(language_hint(token))
    try:
        sessions, settings = runtime_services(request.app)
        async with transaction(sessions) as session:
            key = await signing_key(session, settings)
            value = verify(token, key=key, kind=kind, now=clock())
            person = await session.get(Person, value.person_id)
    except BadLinkError:
        return refusal(403, t(refusals.invalid))
    except ExpiredLinkError:
        return refusal(410, t(refusals.expired))
    except Exception:
        logger.exception("%s link check failed", kind)
        return refusal(503, t(refusals.unavailable))
    if person is None or is_erased(person):
        return refusal(410, translator(value.language)(REVOKED))
    return OpenedLink(value, sessions, settings)


__all__ = [
    "MAX_TOKEN_LENGTH",
    "BadLinkError",
    "ExpiredLinkError",
    "OpenedLink",
    "Refusals",
    "SignedValue",
    "language_hint",
    "open_link",
    "public_link",
    "refusal",
    "runtime_services",
    "sign",
    "signing_key",
    "verify",
]
