"""The outbox dispatcher: claims due messages, renders them, sends them under Teams' limits.

Each row is claimed under a lease (storage/outbox.py). A row is marked sent right after the
Bot Connector accepts it; a crash before that leaves the lease to expire and the row is sent by
the next claimant. Failures: 429/412/5xx → retry with jittered exponential backoff honouring
Retry-After; 403/404 → undeliverable (app removed, person gone); other 4xx → dead; after
`outbox_max_attempts` → dead, logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ConversationReference,
)
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import col, select

from bot import addresses
from bot.deliveries import RenderContext, Renderer, after_delivery
from bot.observability import NO_TELEMETRY, Telemetry
from bot.personal import open_personal_chat
from bot.ratelimit import SEND_SPREAD_SECONDS, Rule, SlidingWindowLimiter
from bot.settings import OUTBOX_LEASE_MARGIN_SECONDS, Settings
from cards.i18n import normalize_locale
from storage import outbox, people
from storage.db import SessionFactory
from storage.models import ConversationRef, ConversationScope, OutboxStatus, Person, utcnow

if TYPE_CHECKING:  # bot.adapter imports this module (through bot.replies)
    from bot.adapter import CarrefourAdapter

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 412, 429, 500, 502, 503, 504})
GONE_STATUSES = frozenset({403, 404})
# Stop sending from a batch this long before its lease ends, so no other dispatcher can
# claim a row while it is still being sent here. Settings refuse a lease not longer than it.
LEASE_MARGIN = timedelta(seconds=OUTBOX_LEASE_MARGIN_SECONDS)
# Requests in flight to one service URL from the outbox, below the connections kept per
# service URL (bot/connectors.py) so that replies of incoming turns still find one. 10 carry
# 50 a second up to a 200 ms round trip.
SENDS_PER_SERVICE_URL = 10


@dataclass(frozen=True, slots=True)
class Target:
    """Where a message goes: an existing conversation, or a 1:1 chat to create."""

    service_url: str
    tenant_id: str | None
    bot_id: str | None
    locale: str
    conversation: ConversationRef | None = None
    person: Person | None = None


class Undeliverable(Exception):
    """Nothing to send to (no conversation, no way to create one)."""


def unreachable_by_design(service_url: str) -> bool:
    """A service URL under the reserved `.invalid` domain (RFC 6761), as the demo data uses:
    it can never answer, so trying would only wait on DNS and retry."""
    host = urlsplit(service_url).hostname or ""
    return host == "invalid" or host.endswith(".invalid")


def status_of(error: BaseException) -> int | None:
    """The HTTP status the Bot Connector answered (the SDK raises aiohttp's
    ClientResponseError); None for a failure without one (a connection refused)."""
    status = error.status if isinstance(error, aiohttp.ClientResponseError) else None
    return int(status) if isinstance(status, int) else None


def retry_after_seconds(error: BaseException) -> float | None:
    headers: Mapping[str, str] | None = (
        error.headers if isinstance(error, aiohttp.ClientResponseError) else None
    )
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
        except (TypeError, ValueError):
            return None


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        adapter: CarrefourAdapter,
        renderers: Mapping[str, Renderer],
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._settings = settings
        self._telemetry = telemetry
        self._sessions = sessions
        self._adapter = adapter
        self._renderers = renderers
        self._clock = clock
        self.owner = owner or f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}"
        self._limiter = SlidingWindowLimiter(spread=SEND_SPREAD_SECONDS)
        self._wake = asyncio.Event()
        self._stopping = False
        self._gate = asyncio.Semaphore(settings.outbox_concurrency)
        self._person_locks: dict[int, asyncio.Lock] = {}
        self._service_urls: dict[str, asyncio.Semaphore] = {}

    # -- control -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped; sleeps until the next due message, a wake-up or the poll."""
        while not self._stopping:
            self._wake.clear()
            try:
                processed = await self.dispatch_once()
            except Exception:
                logger.exception("outbox dispatch failed; retrying after the poll interval")
                processed = 0
            if processed or self._stopping:
                continue
            timeout = self._settings.outbox_poll_seconds
            try:
                upcoming = await outbox.next_due(self._sessions)
            except Exception:
                logger.warning("could not read the outbox schedule", exc_info=True)
                upcoming = None
            if upcoming is not None:
                timeout = min(timeout, max(0.0, (upcoming - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # -- one batch -----------------------------------------------------------------------------

    async def dispatch_once(self) -> int:
        lease = timedelta(seconds=self._settings.outbox_lease_seconds)
        claimed_at = self._clock()
        batch = await outbox.claim_due(
            self._sessions,
            owner=self.owner,
            lease=lease,
            limit=self._settings.outbox_batch_size,
            now=claimed_at,
        )
        if not batch:
            return 0
        deadline = time.monotonic() + (lease - LEASE_MARGIN).total_seconds()
        await asyncio.gather(*(self._deliver_guarded(message, deadline) for message in batch))
        return len(batch)

    async def _deliver_guarded(self, message: outbox.Claimed, deadline: float) -> None:
        async with self._gate:
            try:
                await self._deliver(message, deadline)
            except Exception:
                # A bug in rendering or storage: retry later like a transient failure.
                logger.exception("outbox message %s (%s) failed", message.id, message.kind)
                await self._retry(message, error="internal error", retry_after=None)

    async def _deliver(self, message: outbox.Claimed, deadline: float) -> None:
        if message.attempts > self._settings.outbox_max_attempts:
            await self._give_up(message, OutboxStatus.DEAD, "too many attempts")
            return
        renderer = self._renderers.get(message.kind)
        if renderer is None:
            await self._give_up(message, OutboxStatus.DEAD, f"unknown kind {message.kind[:40]}")
            return
        if message.person_id is None:
            await self._deliver_to(message, renderer, deadline)
            return
        # One message at a time per person: the first creates the 1:1 chat, the next reuse it.
        lock = self._person_locks.setdefault(message.person_id, asyncio.Lock())
        try:
            async with lock:
                await self._deliver_to(message, renderer, deadline)
        finally:
            if not lock.locked() and self._person_locks.get(message.person_id) is lock:
                del self._person_locks[message.person_id]

    async def _deliver_to(
        self, message: outbox.Claimed, renderer: Renderer, deadline: float
    ) -> None:
        try:
            target = await self._target(message)
        except Undeliverable as reason:
            await self._give_up(message, OutboxStatus.UNDELIVERABLE, str(reason))
            return
        if unreachable_by_design(target.service_url):
            # Demo data (bot/demo.py): no one to reach, so no DNS query and no retries.
            await self._give_up(message, OutboxStatus.UNDELIVERABLE, "service URL is .invalid")
            return
        activity = await renderer(
            RenderContext(
                message=message,
                locale=target.locale,
                timezone=self._settings.timezone,
                now=self._clock(),
                sessions=self._sessions,
                settings=self._settings,
            )
        )
        if activity is None:
            await self._give_up(message, OutboxStatus.CANCELLED, "no longer relevant")
            return

        conversation_key = (
            f"conversation:{target.conversation.conversation_id}"
            if target.conversation is not None
            else f"person:{message.person_id}"
        )
        # Counted from its start (bot/ratelimit.py): sends overlap, so the rate does not fall
        # with the round trip. The block is the send alone: its length places the count.
        sent: tuple[str, str | None] | None = None
        failure: Exception | None = None
        rules = self._rules(conversation_key, target.tenant_id)
        connections = self._service_urls.setdefault(
            target.service_url, asyncio.Semaphore(SENDS_PER_SERVICE_URL)
        )
        async with connections, self._limiter.slot(rules, path=target.service_url):
            if time.monotonic() <= deadline:
                try:
                    sent = await self._send(target, activity)
                except Exception as error:
                    failure = error
        if failure is not None:
            await self._handle_send_error(message, failure)
            return
        if sent is None:
            # Throttling used up the lease: hand the row back untouched rather than risk
            # a second dispatcher sending it too.
            await outbox.retry_later(
                self._sessions,
                message_id=message.id,
                owner=self.owner,
                not_before=self._clock(),
                error="lease nearly expired before sending",
                attempted=False,
            )
            return
        conversation_id, activity_id = sent
        if not await outbox.mark_sent(
            self._sessions,
            message_id=message.id,
            owner=self.owner,
            conversation_id=conversation_id,
            activity_id=activity_id,
            now=self._clock(),
        ):
            logger.warning("outbox message %s was sent after its lease was lost", message.id)
        self._telemetry.count_outbox("sent")
        await after_delivery(renderer, message, sessions=self._sessions, now=self._clock())

    def _rules(self, conversation_key: str, tenant_id: str | None) -> list[Rule]:
        s = self._settings
        return [
            Rule(conversation_key, s.outbox_per_conversation_per_second, 1.0),
            Rule(conversation_key, s.outbox_per_conversation_per_30s, 30.0),
            Rule(f"tenant:{tenant_id or '-'}", s.outbox_per_tenant_per_second, 1.0),
        ]

    # -- where to -------------------------------------------------------------------------------

    async def _target(self, message: outbox.Claimed) -> Target:
        default = self._settings.default_locale
        async with self._sessions() as session:
            if message.conversation_ref_id is not None:
                conversation = await session.get(ConversationRef, message.conversation_ref_id)
                if conversation is None:
                    raise Undeliverable("conversation unknown")
                return Target(
                    service_url=conversation.service_url,
                    tenant_id=conversation.tenant_id,
                    bot_id=conversation.bot_id,
                    locale=normalize_locale(None, default=default),
                    conversation=conversation,
                )
            assert message.person_id is not None
            person = await session.get(Person, message.person_id)
            if person is None:
                raise Undeliverable("person unknown")
            locale = normalize_locale(person.preferred_locale or person.locale, default=default)
            personal = await people.personal_conversation(session, person_id=person.id or 0)
            if personal is not None:
                return Target(
                    service_url=personal.service_url,
                    tenant_id=personal.tenant_id,
                    bot_id=personal.bot_id,
                    locale=locale,
                    conversation=personal,
                    person=person,
                )
            # No 1:1 chat yet: create one through a service URL the bot knows for the tenant.
            anywhere = (
                await session.exec(
                    select(ConversationRef)
                    .where(ConversationRef.tenant_id == person.tenant_id)
                    .order_by(col(ConversationRef.updated_at).desc())
                )
            ).first()
            if anywhere is None:
                raise Undeliverable("no conversation known in the person's tenant")
            return Target(
                service_url=anywhere.service_url,
                tenant_id=person.tenant_id,
                bot_id=anywhere.bot_id,
                locale=locale,
                person=person,
            )

    # -- sending ---------------------------------------------------------------------------------

    async def _send(self, target: Target, activity: Activity) -> tuple[str, str | None]:
        sent: dict[str, Any] = {}

        async def send(turn_context: TurnContext) -> None:
            # The SDK's continuation activity carries a made-up id; left there, the message
            # would go out as a reply to a message that does not exist (a thread in a channel).
            turn_context.activity.id = None
            # Keep the failure for the dispatcher: raised here, the adapter's turn-error
            # handler would swallow it (and try to apologise to the recipient).
            try:
                if activity.id:
                    # A renderer that names an existing activity updates it in place (a poll
                    # or agenda card whose numbers changed).
                    await turn_context.update_activity(activity)
                    activity_id: str | None = activity.id
                else:
                    response = await turn_context.send_activity(activity)
                    activity_id = getattr(response, "id", None)
            except Exception as error:
                sent["error"] = error
                return
            sent["conversation_id"] = turn_context.activity.conversation.id
            sent["activity_id"] = activity_id

        if target.conversation is not None:
            conversation = target.conversation
            reference = ConversationReference(
                channel_id=conversation.channel_id,
                service_url=conversation.service_url,
                conversation=addresses.conversation(
                    conversation.conversation_id,
                    conversation_type=str(conversation.scope),
                    tenant_id=conversation.tenant_id,
                    is_group=conversation.scope != ConversationScope.PERSONAL,
                ),
                agent=addresses.account(conversation.bot_id, conversation.bot_name),
            )
            await self._adapter.continue_in(reference, send)
        else:
            assert target.person is not None
            await open_personal_chat(
                self._adapter,
                sessions=self._sessions,
                service_url=target.service_url,
                tenant_id=target.tenant_id,
                bot_id=target.bot_id,
                person=target.person,
                logic=send,
            )
        if "error" in sent:
            raise sent["error"]
        return str(sent["conversation_id"]), sent.get("activity_id")

    # -- failures --------------------------------------------------------------------------------

    async def _handle_send_error(self, message: outbox.Claimed, error: BaseException) -> None:
        status = status_of(error)
        if status == 429:
            self._telemetry.count_throttled(path="outbox")
        if status in GONE_STATUSES:
            await self._give_up(message, OutboxStatus.UNDELIVERABLE, f"HTTP {status}")
            return
        if status is not None and status not in RETRYABLE_STATUSES and 400 <= status < 500:
            await self._give_up(message, OutboxStatus.DEAD, f"HTTP {status}")
            return
        # The row waits at least Retry-After; other rows for the same conversation that meet
        # a 429 get their own Retry-After the same way.
        retry_after = retry_after_seconds(error)
        reason = f"HTTP {status}" if status is not None else type(error).__name__
        await self._retry(message, error=reason, retry_after=retry_after)

    async def _retry(
        self, message: outbox.Claimed, *, error: str, retry_after: float | None
    ) -> None:
        if message.attempts >= self._settings.outbox_max_attempts:
            await self._give_up(message, OutboxStatus.DEAD, f"gave up after {error}")
            return
        backoff = min(
            self._settings.outbox_backoff_max_seconds,
            self._settings.outbox_backoff_base_seconds * 2 ** (message.attempts - 1),
        )
        delay = max(retry_after or 0.0, backoff * random.uniform(0.5, 1.5))
        await outbox.retry_later(
            self._sessions,
            message_id=message.id,
            owner=self.owner,
            not_before=self._clock() + timedelta(seconds=delay),
            error=error,
        )

    async def _give_up(self, message: outbox.Claimed, status: OutboxStatus, reason: str) -> None:
        await outbox.give_up(
            self._sessions, message_id=message.id, owner=self.owner, status=status, error=reason
        )
        self._telemetry.count_outbox(status.value)
        log = logger.warning if status == OutboxStatus.DEAD else logger.info
        log("outbox message %s (%s) %s: %s", message.id, message.kind, status.value, reason)
