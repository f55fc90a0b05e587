"""Secrets the bot derives anonymous keys and signed links from.

The operator sets CARREFOUR_SECRET_KEY in production. Otherwise one random key is created in
the database on first use, so every replica (and every restart) derives the same hashes:
a voter stays the same voter, a signed link stays valid until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AppSecret, utcnow
from storage.sql import insert_if_absent

MASTER = "master"


async def master_key(session: AsyncSession, *, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    await insert_if_absent(
        session,
        AppSecret.__table__,  # type: ignore[attr-defined]
        {"name": MASTER, "value": secrets.token_hex(32), "created_at": utcnow()},
        conflict=["name"],
    )
    row = await session.get(AppSecret, MASTER)
    assert row is not None
    return row.value.encode()


def derive(master: bytes, purpose: str) -> bytes:
    """A separate key per use, so a leaked anonymous-vote key signs no links."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def keyed_hash(key: bytes, *parts: object) -> str:
    message = "\x1f".join(str(part) for part in parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
