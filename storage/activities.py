"""Seeing each inbound activity once, and one person's turns one at a time.

Teams re-sends an activity when a turn is slow or failed. A turn claims its activity
(`processed_activity`) for as long as it runs: a lease its process renews, made final when the
turn's work is done. A re-delivery that meets a final claim is a duplicate; one that meets a
live lease waits for it; one that meets an expired lease (its process died mid-turn) takes the
turn over. A claim in progress also carries its sender's turn key in the conversation, unique
among claims in progress (a partial unique index): a double click's second activity cannot be
claimed while the first runs, so it runs after it and sees what it did.

The claim is one statement of the turn's first transaction; the final mark, which also frees
the sender's turn, one autocommit statement at its end. Times are the bot processes' clocks,
as for the outbox's leases: replicas keep them synchronised (NTP).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import CursorResult, Executable, Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from storage.db import SessionFactory, autocommit
from storage.models import ProcessedActivity, utcnow
from storage.types import UtcDateTime

TABLE: Table = ProcessedActivity.__table__  # type: ignore[attr-defined]


class Admission(enum.Enum):
    """What a turn's first transaction found."""

    TAKEN = "taken"  # the turn runs: its activity claimed, its sender's turn held
    DONE = "done"  # its activity was processed already: a duplicate
    IN_PROGRESS = "in_progress"  # its activity's first delivery is still running
    LOCKED = "locked"  # another turn of the same sender in this conversation is running


def activity_key(*, conversation_id: str, activity_id: str) -> str:
    # Activity ids are unique within a conversation, not across conversations.
    return f"{conversation_id}|{activity_id}"[:600]


def turn_key(*, conversation_id: str, sender_id: str) -> str:
    """The sender's turns in a conversation; a hash, so that the row names nobody by it."""
    return hashlib.sha256(f"{conversation_id}|{sender_id}".encode()).hexdigest()


_NOW = bindparam("now", type_=UtcDateTime())


@lru_cache(maxsize=4)
def _claim(dialect: str) -> Executable:
    """INSERT … ON CONFLICT DO UPDATE … WHERE the lease expired, RETURNING the key: a new
    claim, or the takeover of one whose holder stopped renewing it, in one statement (built
    once per dialect: see storage/sql.py). A final claim (no lease) is never taken."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(TABLE)
    refreshed = {c.name: statement.excluded[c.name] for c in TABLE.c if c.name != "activity_key"}
    claim: Executable = statement.on_conflict_do_update(
        index_elements=["activity_key"], set_=refreshed, where=TABLE.c.lease_until < _NOW
    ).returning(TABLE.c.activity_key)
    return claim


_HELD = select(col(ProcessedActivity.lease_until)).where(
    col(ProcessedActivity.activity_key) == bindparam("k")
)
_MINE = (
    col(ProcessedActivity.activity_key) == bindparam("k"),
    col(ProcessedActivity.owner) == bindparam("o"),
)
_DONE = update(ProcessedActivity).where(*_MINE).values(lease_until=None, turn_key=None)
_RELEASE = delete(ProcessedActivity).where(*_MINE)


async def admit_in(
    connection: AsyncConnection,
    *,
    activity: str | None,
    turn: str | None,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> Admission:
    """Claim the activity, and with it the sender's turn, within the caller's transaction (the
    turn's first). Anything but TAKEN: the caller rolls back. Without an activity id there is
    nothing to claim (Teams always sends one)."""
    if activity is None:
        return Admission.TAKEN
    values = {
        "activity_key": activity,
        "received_at": now,
        "lease_until": now + lease,
        "owner": owner,
        "turn_key": turn,
        "now": now,
    }
    try:
        claimed = await connection.execute(_claim(connection.dialect.name), values)
    except IntegrityError:
        # Another claim in progress holds the sender's turn (the partial unique index).
        return Admission.LOCKED
    if claimed.first() is not None:
        return Admission.TAKEN
    held = (await connection.execute(_HELD, {"k": activity})).first()
    # No row: its turn failed and gave it back meanwhile; the next try takes it.
    return Admission.DONE if held is not None and held[0] is None else Admission.IN_PROGRESS


async def free_expired_turn(sessions: SessionFactory, *, turn: str, now: datetime) -> bool:
    """Take the sender's turn back from a claim whose process died (its lease expired); the
    claim itself stays, for Teams' retry of it to take over. True if there was one."""
    async with autocommit(sessions) as connection:
        result: CursorResult[tuple[()]] = await connection.execute(
            update(ProcessedActivity)
            .where(col(ProcessedActivity.turn_key) == turn)
            .where(col(ProcessedActivity.lease_until) < now)
            .values(turn_key=None)
        )
    return bool(result.rowcount)


async def renew(
    sessions: SessionFactory, *, owner: str, activities: Collection[str], until: datetime
) -> None:
    """The heartbeat of running turns: their claims stay theirs until `until`."""
    async with autocommit(sessions) as connection:
        await connection.execute(
            update(ProcessedActivity)
            .where(col(ProcessedActivity.activity_key).in_(list(activities)))
            .where(col(ProcessedActivity.owner) == owner)
            .where(col(ProcessedActivity.lease_until).is_not(None))
            .values(lease_until=until)
        )


async def finish(sessions: SessionFactory, *, owner: str, activity: str) -> None:
    """The turn's work is done: its claim becomes final, and its sender's turn is free."""
    async with autocommit(sessions) as connection:
        await connection.execute(_DONE, {"k": activity, "o": owner})


async def release(sessions: SessionFactory, *, owner: str, activity: str) -> None:
    """The turn failed: forget its claim, so Teams' retry is processed."""
    async with autocommit(sessions) as connection:
        await connection.execute(_RELEASE, {"k": activity, "o": owner})


async def purge_processed(
    sessions: SessionFactory, *, older_than: timedelta, now: datetime | None = None
) -> int:
    cutoff = (now or utcnow()) - older_than
    async with sessions() as session, session.begin():
        result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
            delete(ProcessedActivity).where(col(ProcessedActivity.received_at) < cutoff)
        )
        return result.rowcount
