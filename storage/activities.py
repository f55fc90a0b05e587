"""Seeing each inbound activity once (Teams re-sends when a turn takes long)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import CursorResult, Table, delete
from sqlmodel import col

from storage.db import SessionFactory
from storage.models import ProcessedActivity, utcnow
from storage.sql import Executor, insert_if_absent

TABLE: Table = ProcessedActivity.__table__  # type: ignore[attr-defined]


def activity_key(*, conversation_id: str, activity_id: str) -> str:
    # Activity ids are unique within a conversation, not across conversations.
    return f"{conversation_id}|{activity_id}"[:600]


async def claim_activity(sessions: SessionFactory, *, key: str) -> bool:
    """True the first time a key is claimed; False for a re-delivery."""
    async with sessions() as session, session.begin():
        return await claim_in(session, key=key)


async def claim_in(session: Executor, *, key: str) -> bool:
    """`claim_activity` within the caller's transaction (it stands only if that commits)."""
    return await insert_if_absent(
        session, TABLE, {"activity_key": key, "received_at": utcnow()}, conflict=["activity_key"]
    )


async def release_activity(sessions: SessionFactory, *, key: str) -> None:
    """Forget a claim whose turn failed, so Teams' retry is processed."""
    async with sessions() as session, session.begin():
        await session.execute(
            delete(ProcessedActivity).where(col(ProcessedActivity.activity_key) == key)
        )


async def purge_processed(sessions: SessionFactory, *, older_than: timedelta) -> int:
    cutoff = utcnow() - older_than
    async with sessions() as session, session.begin():
        result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
            delete(ProcessedActivity).where(col(ProcessedActivity.received_at) < cutoff)
        )
        return result.rowcount
