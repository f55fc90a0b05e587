"""The outbox: every message the bot sends on its own, exactly one row per dedup key.

Rows move pending → sending (claimed under a lease) → sent | undeliverable | dead, or back to
pending for a retry; a crashed sender's lease expires and the row is claimed again. Claims are
one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING on PostgreSQL, so
dispatchers on several replicas never take the same row; SQLite serialises writers, so the same
statement (without SKIP LOCKED) gives the single-writer lease.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Table, and_, func, or_, select, update
from sqlmodel import col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import SessionFactory
from storage.models import OutboxMessage, OutboxStatus, utcnow
from storage.sql import insert_if_absent

logger = logging.getLogger(__name__)

TABLE: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
FINISHED = (
    OutboxStatus.SENT,
    OutboxStatus.UNDELIVERABLE,
    OutboxStatus.DEAD,
    OutboxStatus.CANCELLED,
)
MAX_ERROR_LENGTH = 200

# The outbox's own kinds, of no feature (each feature's kinds and keys live in its storage
# module). A key, once queued, must keep its exact format: a row already queued under the old
# spelling would not deduplicate against the new one, and the message would go out twice.
KIND_NOTICE = "notice"  # a catalog text: params {"text": catalog key, "values": {...}}
KIND_REPLY = "reply"  # a turn's reply Teams kept refusing: params {"activity": its JSON}


def reply_prefix(activity_key: str | None) -> str:
    """The outbox keys of a turn's deferred replies: from its activity, so that a re-delivery
    processed again queues nothing twice."""
    seed = activity_key if activity_key is not None else f"unclaimed-{time.time_ns()}"
    return f"reply:{hashlib.sha256(seed.encode()).hexdigest()[:40]}"


def reply_key(prefix: str, number: int) -> str:
    """The turn's `number`th deferred reply (counted from 0), under its `reply_prefix`."""
    return f"{prefix}:{number}"


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person (their 1:1 chat, created when missing) or a known conversation (a channel)."""

    person_id: int | None = None
    conversation_ref_id: int | None = None

    def __post_init__(self) -> None:
        if (self.person_id is None) == (self.conversation_ref_id is None):
            raise ValueError("a recipient is exactly one person or one conversation")

    @classmethod
    def person(cls, person_id: int) -> Recipient:
        return cls(person_id=person_id)

    @classmethod
    def conversation(cls, conversation_ref_id: int) -> Recipient:
        return cls(conversation_ref_id=conversation_ref_id)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    dedup_key: str
    kind: str
    params: dict[str, Any]
    person_id: int | None
    conversation_ref_id: int | None
    attempts: int
    created_at: datetime


async def enqueue(
    session: AsyncSession,
    *,
    dedup_key: str,
    recipient: Recipient,
    kind: str,
    params: Mapping[str, Any] | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue a message; True if queued now, False if this key was queued before (no-op)."""
    now = utcnow()
    return await insert_if_absent(
        session,
        TABLE,
        {
            "dedup_key": dedup_key,
            "kind": kind,
            "params": dict(params or {}),
            "person_id": recipient.person_id,
            "conversation_ref_id": recipient.conversation_ref_id,
            "status": OutboxStatus.PENDING,
            "not_before": not_before or now,
            "attempts": 0,
            "created_at": now,
        },
        conflict=["dedup_key"],
    )


async def claim_due(
    sessions: SessionFactory,
    *,
    owner: str,
    lease: timedelta,
    limit: int,
    now: datetime | None = None,
) -> list[Claimed]:
    """Take up to `limit` due rows for `owner` until `now + lease`."""
    now = now or utcnow()
    due = or_(
        and_(
            col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.not_before) <= now
        ),
        # A sender that crashed (or hung) past its lease: the row is free again.
        and_(
            col(OutboxMessage.status) == OutboxStatus.SENDING, col(OutboxMessage.lease_until) < now
        ),
    )
    chosen = (
        select(col(OutboxMessage.id))
        .where(due)
        .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)  # omitted by SQLAlchemy on SQLite
    )
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(chosen.scalar_subquery()))
        .values(
            status=OutboxStatus.SENDING,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=col(OutboxMessage.attempts) + 1,
        )
        .returning(
            col(OutboxMessage.id),
            col(OutboxMessage.dedup_key),
            col(OutboxMessage.kind),
            col(OutboxMessage.params),
            col(OutboxMessage.person_id),
            col(OutboxMessage.conversation_ref_id),
            col(OutboxMessage.attempts),
            col(OutboxMessage.created_at),
        )
    )
    async with sessions() as session, session.begin():
        rows = (await session.execute(statement)).all()
    claimed = [Claimed(*row) for row in rows]
    claimed.sort(key=lambda c: c.id)
    return claimed


async def _finish(sessions: SessionFactory, message_id: int, owner: str, **values: Any) -> bool:
    """Change a row this owner still holds; False if the lease was lost meanwhile."""
    async with sessions() as session, session.begin():
        result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id)
            .where(col(OutboxMessage.status) == OutboxStatus.SENDING)
            .where(col(OutboxMessage.lease_owner) == owner)
            .values(**values)
        )
    return result.rowcount == 1


async def mark_sent(
    sessions: SessionFactory,
    *,
    message_id: int,
    owner: str,
    conversation_id: str,
    activity_id: str | None,
    now: datetime | None = None,
) -> bool:
    return await _finish(
        sessions,
        message_id,
        owner,
        status=OutboxStatus.SENT,
        sent_at=now or utcnow(),
        conversation_id=conversation_id[:512],
        activity_id=(activity_id or None) and activity_id[:255],
        lease_until=None,
        last_error=None,
    )


async def retry_later(
    sessions: SessionFactory,
    *,
    message_id: int,
    owner: str,
    not_before: datetime,
    error: str,
    attempted: bool = True,
) -> bool:
    """Back to pending until `not_before`; `attempted=False` hands back a row never tried."""
    extra: dict[str, Any] = {} if attempted else {"attempts": col(OutboxMessage.attempts) - 1}
    return await _finish(
        sessions,
        message_id,
        owner,
        **extra,
        status=OutboxStatus.PENDING,
        not_before=not_before,
        lease_until=None,
        lease_owner=None,
        last_error=error[:MAX_ERROR_LENGTH],
    )


async def give_up(
    sessions: SessionFactory, *, message_id: int, owner: str, status: OutboxStatus, error: str
) -> bool:
    if status not in FINISHED or status == OutboxStatus.SENT:
        raise ValueError(f"not a final failure status: {status}")
    return await _finish(
        sessions,
        message_id,
        owner,
        status=status,
        lease_until=None,
        last_error=error[:MAX_ERROR_LENGTH],
    )


async def cancel_pending(session: AsyncSession, *, dedup_key_prefix: str) -> int:
    """Cancel queued messages that are no longer relevant (e.g. a cancelled meeting's reminders)."""
    result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
        update(OutboxMessage)
        .where(col(OutboxMessage.dedup_key).startswith(dedup_key_prefix, autoescape=True))
        .where(col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="cancelled")
    )
    return result.rowcount


async def counts_by_status(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
            )
        ).all()
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({str(status): int(count) for status, count in rows})
    return counts


async def next_due(sessions: SessionFactory) -> datetime | None:
    """When the dispatcher next has something to do (pending rows or leases to expire)."""
    async with sessions() as session:
        pending = (
            await session.execute(
                select(func.min(col(OutboxMessage.not_before))).where(
                    col(OutboxMessage.status) == OutboxStatus.PENDING
                )
            )
        ).scalar_one_or_none()
        leased = (
            await session.execute(
                select(func.min(col(OutboxMessage.lease_until))).where(
                    col(OutboxMessage.status) == OutboxStatus.SENDING
                )
            )
        ).scalar_one_or_none()
    moments = [m for m in (pending, leased) if m is not None]
    return min(_aware(m) for m in moments) if moments else None


def _aware(moment: datetime) -> datetime:
    # Aggregates bypass the column type on SQLite and come back naive (UTC) or as text.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def purge_history(sessions: SessionFactory, *, older_than: timedelta) -> int:
    """Forget finished rows past the retention period (the delivery history)."""
    cutoff = utcnow() - older_than
    async with sessions() as session, session.begin():
        result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
            OutboxMessage.__table__.delete()  # type: ignore[attr-defined]
            .where(col(OutboxMessage.status).in_(list(FINISHED)))
            .where(col(OutboxMessage.created_at) < cutoff)
        )
    return result.rowcount


async def history_for_person(
    sessions: SessionFactory, *, person_id: int, limit: int = 100
) -> list[OutboxMessage]:
    """What was sent to a person and when (audit, and the person's own data)."""
    async with sessions() as session:
        rows = await session.exec(
            sqlmodel_select(OutboxMessage)
            .where(col(OutboxMessage.person_id) == person_id)
            .where(col(OutboxMessage.status) == OutboxStatus.SENT)
            .order_by(col(OutboxMessage.sent_at).desc())
            .limit(limit)
        )
        return list(rows)
