"""Replies in an incoming turn that survive Teams' throttling.

Teams answers 429 (sometimes with Retry-After) when a bot writes too fast to a conversation, and
waits 15 s for a turn. Within the turn's budget a refused reply is sent again (after
Retry-After, else after a backoff with jitter); what still cannot be sent goes to the outbox as
the activity already rendered (kind `reply`, bot/deliveries.py), and the dispatcher delivers it
when Teams takes messages again. The person is never left with nothing.

Only incoming turns carry a `Replies` (bot/handler.py); proactive sends have the dispatcher's
own rules (leases, limits, backoff across attempts).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from microsoft_agents.activity import Activity
from sqlmodel import col, select

from bot.dispatcher import RETRYABLE_STATUSES, retry_after_seconds, status_of
from bot.observability import NO_TELEMETRY, Telemetry
from storage import outbox
from storage.db import SessionFactory, transaction
from storage.models import ConversationRef, utcnow

logger = logging.getLogger(__name__)

REPLIES_KEY = "carrefour.replies"
# Without Retry-After: 0.5 s, 1 s, 2 s… (±50 %), at most 4 s between tries.
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 4.0
# Where the dispatcher's conversation reference says where it goes, not the stored activity.
_ADDRESSING = ("from", "recipient", "conversation", "serviceUrl", "channelId")

_Sent = TypeVar("_Sent")


@dataclass
class Replies:
    """One incoming turn's replies: retried within `deadline` (time.monotonic()), then queued."""

    sessions: SessionFactory
    conversation_id: str
    prefix: str
    deadline: float
    wake: Callable[[], None]
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    telemetry: Telemetry = NO_TELEMETRY
    deferred: int = 0
    _count: int = field(default=0, init=False)

    async def deliver(
        self, activity: Activity, send: Callable[[], Awaitable[_Sent]]
    ) -> _Sent | None:
        """`send()`'s result; None when the activity was queued for later instead."""
        number = self._count
        self._count += 1
        attempt = 0
        while True:
            try:
                return await send()
            except Exception as error:
                status = status_of(error)
                if status == 429:
                    self.telemetry.count_throttled(path="reply")
                if status not in RETRYABLE_STATUSES:
                    raise
                wait = retry_after_seconds(error)
                if wait is None:
                    wait = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(
                        0.5, 1.5
                    )
                if time.monotonic() + wait > self.deadline:
                    if not await self._later(activity, number, wait):
                        raise
                    logger.info("reply refused with HTTP %s; queued in the outbox", status)
                    return None
            await self.sleep(wait)
            attempt += 1

    async def _later(self, activity: Activity, number: int, wait: float) -> bool:
        """Queue the activity for the dispatcher, not before `wait` seconds; False when the
        conversation is unknown (the turn did not say where it came from)."""
        content: dict[str, Any] = activity.model_dump(by_alias=True, exclude_none=True, mode="json")
        for key in _ADDRESSING:
            content.pop(key, None)
        async with transaction(self.sessions) as session:
            conversation = (
                await session.execute(
                    select(col(ConversationRef.id)).where(
                        col(ConversationRef.conversation_id) == self.conversation_id[:512]
                    )
                )
            ).scalar_one_or_none()
            if conversation is None:
                return False
            await outbox.enqueue(
                session,
                dedup_key=outbox.reply_key(self.prefix, number),
                recipient=outbox.Recipient.conversation(conversation),
                kind=outbox.KIND_REPLY,
                params={"activity": content},
                not_before=self.clock() + timedelta(seconds=wait),
            )
        self.deferred += 1
        self.wake()
        return True
