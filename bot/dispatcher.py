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
from collections.abc import Callable, Mapping, Sequence
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
# Requests in flight to one service URL from the outbox, below the 32 connections kept per
# service URL (bot/connectors.py) so that replies of incoming turns still find one. A tenant's
# 50 places of a second free together, a second after the previous 50 started: 25 in flight
# send them in two round trips (at 150 ms, 0.15 s), where 10 took 0.6 s, lost by every
# window after it (a sliding window repeats the first one's spread).
SENDS_PER_SERVICE_URL = 25
# Messages looked up and rendered at once, ahead of their place: a few database sessions keep
# a window's worth ready (each takes a few milliseconds).
PREPARING_AT_ONCE = 8


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
        # Sends in flight, from waiting for their place to their "sent" commit (a crash
        # repeats at most this many), and messages looked up and rendered meanwhile.
        self._gate = asyncio.Semaphore(settings.outbox_concurrency)
        self._preparing = asyncio.Semaphore(min(settings.outbox_concurrency, PREPARING_AT_ONCE))
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
        try:
            known = await self._known_targets(batch)
        except Exception:
            # Each message then looks for its own target, as it would have to anyway.
            logger.warning("could not look up the batch's targets", exc_info=True)
            known = {}
        await asyncio.gather(
            *(self._deliver_guarded(message, deadline, known.get(message.id)) for message in batch)
        )
        return len(batch)

    async def _deliver_guarded(
        self, message: outbox.Claimed, deadline: float, known: Target | None
    ) -> None:
        try:
            await self._deliver(message, deadline, known)
        except Exception:
            # A bug in rendering or storage: retry later like a transient failure.
            logger.exception("outbox message %s (%s) failed", message.id, message.kind)
            await self._retry(message, error="internal error", retry_after=None)

    async def _deliver(
        self, message: outbox.Claimed, deadline: float, known: Target | None
    ) -> None:
        if message.attempts > self._settings.outbox_max_attempts:
            await self._give_up(message, OutboxStatus.DEAD, "too many attempts")
            return
        renderer = self._renderers.get(message.kind)
        if renderer is None:
            await self._give_up(message, OutboxStatus.DEAD, f"unknown kind {message.kind[:40]}")
            return
        if message.person_id is None:
            await self._deliver_to(message, renderer, deadline, known)
            return
        # One message at a time per person: the first creates the 1:1 chat, the next reuse it.
        lock = self._person_locks.setdefault(message.person_id, asyncio.Lock())
        try:
            async with lock:
                await self._deliver_to(message, renderer, deadline, known)
        finally:
            if not lock.locked() and self._person_locks.get(message.person_id) is lock:
                del self._person_locks[message.person_id]

    async def _deliver_to(
        self,
        message: outbox.Claimed,
        renderer: Renderer,
        deadline: float,
        known: Target | None,
    ) -> None:
        # Where to and what, before waiting for a place: a message ready when its place frees
        # goes at once, so a window's sends leave together rather than one lookup apart.
        async with self._preparing:
            ready = await self._prepare(message, renderer, known)
        if ready is None:
            return
        target, activity = ready
        async with self._gate:
            sent = await self._send_ready(message, target, activity, deadline)
        if sent:
            await after_delivery(renderer, message, sessions=self._sessions, now=self._clock())

    async def _prepare(
        self, message: outbox.Claimed, renderer: Renderer, known: Target | None
    ) -> tuple[Target, Activity] | None:
        """The target and the rendered activity; None when the row is settled here."""
        try:
            target = known if known is not None else await self._target(message)
        except Undeliverable as reason:
            await self._give_up(message, OutboxStatus.UNDELIVERABLE, str(reason))
            return None
        if unreachable_by_design(target.service_url):
            # Demo data (bot/demo.py): no one to reach, so no DNS query and no retries.
            await self._give_up(message, OutboxStatus.UNDELIVERABLE, "service URL is .invalid")
            return None
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
            return None
        return target, activity

    async def _send_ready(
        self, message: outbox.Claimed, target: Target, activity: Activity, deadline: float
    ) -> bool:
        """Send under the limits and record the outcome; True once sent."""
        conversation_key = (
            f"conversation:{target.conversation.conversation_id}"
            if target.conversation is not None
            else f"person:{message.person_id}"
        )
        sent: tuple[str, str | None] | None = None
        failure: Exception | None = None
        rules = self._rules(conversation_key, target.tenant_id)
        connections = self._service_urls.setdefault(
            target.service_url, asyncio.Semaphore(SENDS_PER_SERVICE_URL)
        )
        async with connections:
            try:
                sent = await self._send(target, activity, rules, deadline)
            except Exception as error:
                failure = error
        if failure is not None:
            await self._handle_send_error(message, failure)
            return False
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
            return False
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
        return True

    def _rules(self, conversation_key: str, tenant_id: str | None) -> list[Rule]:
        s = self._settings
        return [
            Rule(conversation_key, s.outbox_per_conversation_per_second, 1.0),
            Rule(conversation_key, s.outbox_per_conversation_per_30s, 30.0),
            self._tenant_rule(tenant_id),
        ]

    def _tenant_rule(self, tenant_id: str | None) -> Rule:
        return Rule(f"tenant:{tenant_id or '-'}", self._settings.outbox_per_tenant_per_second, 1.0)

    # -- where to -------------------------------------------------------------------------------

    def _in_conversation(self, conversation: ConversationRef) -> Target:
        return Target(
            service_url=conversation.service_url,
            tenant_id=conversation.tenant_id,
            bot_id=conversation.bot_id,
            locale=normalize_locale(None, default=self._settings.default_locale),
            conversation=conversation,
        )

    def _locale_of(self, person: Person) -> str:
        return normalize_locale(
            person.preferred_locale or person.locale, default=self._settings.default_locale
        )

    def _in_personal_chat(self, person: Person, personal: ConversationRef) -> Target:
        return Target(
            service_url=personal.service_url,
            tenant_id=personal.tenant_id,
            bot_id=personal.bot_id,
            locale=self._locale_of(person),
            conversation=personal,
            person=person,
        )

    async def _known_targets(self, batch: Sequence[outbox.Claimed]) -> dict[int, Target]:
        """By message id, the targets of a batch that exist already (most of a fan-out), in
        three queries rather than a session per message. A message whose conversation or 1:1
        chat is not found here is left to `_target`, which looks again under its person's
        lock (an earlier message may create the chat meanwhile)."""
        ref_ids = {m.conversation_ref_id for m in batch if m.conversation_ref_id is not None}
        person_ids = {m.person_id for m in batch if m.person_id is not None}
        async with self._sessions() as session:
            conversations: dict[int | None, ConversationRef] = {}
            if ref_ids:
                found = await session.exec(
                    select(ConversationRef).where(col(ConversationRef.id).in_(ref_ids))
                )
                conversations = {ref.id: ref for ref in found.all()}
            persons: dict[int | None, Person] = {}
            personal: dict[int | None, ConversationRef] = {}
            if person_ids:
                found_people = await session.exec(
                    select(Person).where(col(Person.id).in_(person_ids))
                )
                persons = {person.id: person for person in found_people.all()}
                # As people.personal_conversation: the most recently updated 1:1 chat.
                chats = await session.exec(
                    select(ConversationRef)
                    .where(col(ConversationRef.person_id).in_(person_ids))
                    .where(ConversationRef.scope == ConversationScope.PERSONAL)
                    .order_by(col(ConversationRef.updated_at).desc())
                )
                for chat in chats.all():
                    personal.setdefault(chat.person_id, chat)
        known: dict[int, Target] = {}
        for message in batch:
            if message.conversation_ref_id in conversations:
                known[message.id] = self._in_conversation(
                    conversations[message.conversation_ref_id]
                )
            elif message.person_id in persons and message.person_id in personal:
                known[message.id] = self._in_personal_chat(
                    persons[message.person_id], personal[message.person_id]
                )
        return known

    async def _target(self, message: outbox.Claimed) -> Target:
        async with self._sessions() as session:
            if message.conversation_ref_id is not None:
                conversation = await session.get(ConversationRef, message.conversation_ref_id)
                if conversation is None:
                    raise Undeliverable("conversation unknown")
                return self._in_conversation(conversation)
            assert message.person_id is not None
            person = await session.get(Person, message.person_id)
            if person is None:
                raise Undeliverable("person unknown")
            personal = await people.personal_conversation(session, person_id=person.id or 0)
            if personal is not None:
                return self._in_personal_chat(person, personal)
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
                locale=self._locale_of(person),
                person=person,
            )

    # -- sending ---------------------------------------------------------------------------------

    async def _send(
        self, target: Target, activity: Activity, rules: Sequence[Rule], deadline: float
    ) -> tuple[str, str | None] | None:
        """The conversation and activity ids once the Bot Connector accepted it; None when
        the limits made it wait past `deadline` (nothing sent)."""
        sent: dict[str, Any] = {}
        path = target.service_url
        creating = contextlib.AsyncExitStack()

        async def send(turn_context: TurnContext) -> None:
            # In a chat just created: the creation's request is over.
            await creating.aclose()
            # The SDK's continuation activity carries a made-up id; left there, the message
            # would go out as a reply to a message that does not exist (a thread in a channel).
            turn_context.activity.id = None
            # Keep the failure for the dispatcher: raised here, the adapter's turn-error
            # handler would swallow it (and try to apologise to the recipient).
            try:
                # Counted from its start (bot/ratelimit.py): sends overlap, so the rate does
                # not fall with the round trip. The slot holds the request alone, not the
                # SDK's turn around it: its length places the count, and the turn's own work
                # before the request would only make the send look late.
                async with self._limiter.slot(rules, path=path):
                    if time.monotonic() > deadline:
                        sent["expired"] = True
                        return
                    if activity.id:
                        # A renderer that names an existing activity updates it in place (a
                        # poll or agenda card whose numbers changed).
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
            # Creating the chat is a request of its own to the tenant's limit: it takes a
            # place of its own until the chat exists, and the send in it takes another.
            creation = [self._tenant_rule(target.tenant_id)]
            async with creating:
                await creating.enter_async_context(self._limiter.slot(creation, path=path))
                if time.monotonic() > deadline:
                    return None
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
        if "expired" in sent:
            return None
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
