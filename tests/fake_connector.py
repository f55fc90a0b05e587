"""A fake Bot Connector: a real aiohttp app on port 0 that records what the bot sends.

Shared by tests and benchmarks. It implements the REST paths the bot uses and can be told to
fail (status codes, Retry-After) to exercise delivery rules. With `limits=Limits()` it also
throttles like the Teams service: over a limit, it answers 429 with a Retry-After. It can
throttle on demand (`throttle_next`, `throttle_always`) and hold requests unanswered until
told (`hold_next`, `release`), e.g. to kill a bot in the middle of a turn.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(slots=True)
class Received:
    method: str
    path: str
    conversation_id: str | None
    body: dict[str, Any]
    authorization: str | None
    received_at: float = 0.0  # time.monotonic() on arrival
    status: int = 0  # what the fake answered (0 until it has decided)


@dataclass(slots=True)
class Failure:
    status: int
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Teams' published bot limits, enforced as sliding windows over accepted requests.

    Only accepted (2xx) requests count: a throttled request uses up no capacity, as a client
    that waits for Retry-After would otherwise be locked out by its own retries."""

    per_conversation_per_second: int = 7
    per_conversation_per_30s: int = 60
    per_tenant_per_second: int = 50


@dataclass(frozen=True, slots=True)
class Throttled:
    request: Received
    limit: str  # which limit refused it, e.g. "tenant:<id>/1s"
    retry_after: int  # seconds, as sent in the Retry-After header


def activity_text(body: dict[str, Any]) -> str | None:
    """The default delivery key: an activity's text (None for a card-only activity)."""
    text = body.get("text")
    return text if isinstance(text, str) else None


def _tenant_of(body: dict[str, Any]) -> str:
    """The tenant a request counts against; "-" when the body names none."""
    candidates: list[object] = []
    conversation = body.get("conversation")
    if isinstance(conversation, dict):
        # botbuilder-python serialises ConversationAccount.tenant_id as "tenantID".
        candidates += [conversation.get("tenantId"), conversation.get("tenantID")]
    channel_data = body.get("channelData")
    if isinstance(channel_data, dict) and isinstance(channel_data.get("tenant"), dict):
        candidates.append(channel_data["tenant"].get("id"))
    candidates.append(body.get("tenantId"))  # POST /v3/conversations (ConversationParameters)
    return next((c for c in candidates if isinstance(c, str) and c), "-")


class _Windows:
    """Sliding windows of accepted arrival times, one deque per (key, window): O(1) amortised."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, float], deque[float]] = {}

    def wait(self, key: str, limit: int, window: float, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        events = self._events.get((key, window))
        if not events:
            return 0.0
        while events and events[0] <= now - window:
            events.popleft()
        if len(events) < limit:
            return 0.0
        return events[-limit] + window - now

    def add(self, key: str, window: float, now: float) -> None:
        self._events.setdefault((key, window), deque()).append(now)


@dataclass
class FakeConnector:
    received: list[Received] = field(default_factory=list)
    # Failures to answer, in order, before answering normally again.
    planned_failures: list[Failure] = field(default_factory=list)
    # Teams-like throttling; None (the default) accepts everything.
    limits: Limits | None = None
    # Requests refused with 429 by `limits` (planned failures are not counted here).
    throttled: list[Throttled] = field(default_factory=list)
    # What identifies a message for `deliveries()`; activities it maps to None are not counted.
    delivery_key: Callable[[dict[str, Any]], str | None] = activity_text
    # Seconds between a request's arrival (when limits count it) and its answer reaching the
    # bot: the service's processing and the way back. 0 answers at once.
    answer_delay: float = 0.0
    # Every request answered so (e.g. 429) while set: a service that keeps refusing.
    throttling: Failure | None = None
    # Member profiles (GET /v3/conversations/{cid}/members/{mid}): the address Teams gives
    # for a member id (as `email` and `userPrincipalName`); none for the others.
    member_emails: dict[str, str] = field(default_factory=dict)
    # Failures to answer the next member lookups with, in order.
    member_failures: list[Failure] = field(default_factory=list)
    # Member lookups received, kept apart from `received` (which holds what the bot sends).
    member_lookups: list[Received] = field(default_factory=list)
    _holds: int = 0
    _held: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _windows: _Windows = field(default_factory=_Windows)
    _delivered: Counter[str] = field(default_factory=Counter)
    _activity_requests: int = 0
    _last_delivered_at: float | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.make_url("")).rstrip("/")

    def fail_next(self, *failures: Failure) -> None:
        self.planned_failures.extend(failures)

    def throttle_next(self, count: int, retry_after: float | None = None) -> None:
        """The next `count` requests get 429 (with Retry-After when given), then all is well."""
        self.fail_next(*[Failure(429, retry_after) for _ in range(count)])

    def throttle_always(self, retry_after: float | None = None) -> None:
        """Every request gets 429 until `stop_throttling()`."""
        self.throttling = Failure(429, retry_after)

    def stop_throttling(self) -> None:
        self.throttling = None

    def hold_next(self, count: int = 1) -> None:
        """The next `count` activity requests wait, unanswered, until `release()`. One whose
        sender went away meanwhile (a bot killed) is not accepted: nobody got its answer."""
        self._holds += count
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def wait_held(self, count: int = 1, within: float = 10.0) -> None:
        """Until `count` requests are being held."""

        async def _wait() -> None:
            while self._held < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(_wait(), within)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        self._server = TestServer(app, port=0)
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    # -- what tests read --------------------------------------------------------------------

    def activities(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r.body
            for r in self.received
            if r.path.endswith("/activities") or "/activities/" in r.path
            if conversation_id is None or r.conversation_id == conversation_id
        ]

    def texts(self, conversation_id: str | None = None) -> list[str]:
        """What the user reads as text: message text, and the text of prompt (hero) cards."""
        found: list[str] = []
        for activity in self.activities(conversation_id):
            if activity.get("text"):
                found.append(activity["text"])
            for attachment in activity.get("attachments") or []:
                if attachment.get("contentType") == "application/vnd.microsoft.card.hero":
                    found.append(attachment["content"].get("text") or "")
        return found

    def cards(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        return [
            attachment["content"]
            for a in self.activities(conversation_id)
            for attachment in a.get("attachments") or []
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    def deliveries(self) -> Counter[str]:
        """How many times each message (by `delivery_key`, the text by default) was accepted
        (2xx). Throttled and failed attempts are not deliveries; a count above 1 is a duplicate."""
        return Counter(self._delivered)

    def duplicates(self) -> dict[str, int]:
        """Messages accepted more than once, with their count."""
        return {key: count for key, count in self._delivered.items() if count > 1}

    @property
    def delivered(self) -> int:
        """Activities accepted (2xx) so far, whatever their key."""
        return sum(self._delivered.values())

    @property
    def last_delivered_at(self) -> float | None:
        """time.monotonic() when the last activity was accepted."""
        return self._last_delivered_at

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        """Until `count` activity requests arrived (answered or not)."""

        async def _wait() -> None:
            while self._activity_requests < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(_wait(), within)

    # -- handlers -----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> tuple[Received, web.Response | None]:
        body = await request.json() if request.can_read_body else {}
        received = Received(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info.get("cid"),
            body=body,
            authorization=request.headers.get("Authorization"),
            received_at=time.monotonic(),
        )
        self.received.append(received)
        if received.conversation_id is not None:
            self._activity_requests += 1
        self._arrived.set()
        if self.planned_failures:
            failure = self.planned_failures.pop(0)
            received.status = failure.status
            return received, self._failure_response(failure)
        if self.throttling is not None:
            received.status = self.throttling.status
            return received, self._failure_response(self.throttling)
        if self.limits is not None:
            refused = self._throttle(received, self.limits)
            if refused is not None:
                return received, refused
        return received, None

    @staticmethod
    def _failure_response(failure: Failure) -> web.Response:
        headers = (
            {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        )
        return web.json_response(
            {"error": {"code": "Failure", "message": "planned"}},
            status=failure.status,
            headers=headers,
        )

    def _throttle(self, received: Received, limits: Limits) -> web.Response | None:
        """429 when accepting `received` would break a limit; otherwise count it."""
        now = received.received_at
        rules = [(f"tenant:{_tenant_of(received.body)}", limits.per_tenant_per_second, 1.0)]
        if received.conversation_id is not None:
            key = f"conversation:{received.conversation_id}"
            rules.append((key, limits.per_conversation_per_second, 1.0))
            rules.append((key, limits.per_conversation_per_30s, 30.0))
        worst: tuple[float, str] | None = None
        for key, limit, window in rules:
            wait = self._windows.wait(key, limit, window, now)
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, f"{key}/{window:g}s")
        if worst is None:
            for key, _limit, window in rules:
                self._windows.add(key, window, now)
            return None
        retry_after = max(1, math.ceil(worst[0]))
        self.throttled.append(Throttled(received, worst[1], retry_after))
        received.status = 429
        return web.json_response(
            {"error": {"code": "Throttled", "message": "Too many requests"}},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )

    def _accepted(self, received: Received, status: int) -> None:
        received.status = status
        if received.conversation_id is None:
            return  # a conversation created, not a message delivered
        self._last_delivered_at = received.received_at
        key = self.delivery_key(received.body)
        if key is not None:
            self._delivered[key] += 1

    async def _send(self, request: web.Request) -> web.Response:
        received, failed = await self._record(request)
        if self._holds > 0:
            self._holds -= 1
            self._held += 1
            self._arrived.set()
            await self._released.wait()
            if request.transport is None or request.transport.is_closing():
                received.status = 499  # the bot went away: nobody reads this answer
                return web.Response(status=499)
        if failed is None:
            self._accepted(received, 200)
        if self.answer_delay > 0:
            await asyncio.sleep(self.answer_delay)
        return failed or web.json_response({"id": f"activity-{next(self._ids)}"})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        received, failed = await self._record(request)
        if failed is None:
            self._accepted(received, 201)
        if self.answer_delay > 0:
            await asyncio.sleep(self.answer_delay)
        return failed or web.json_response({"id": f"a:personal-{next(self._ids)}"}, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["mid"]
        lookup = Received(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info.get("cid"),
            body={},
            authorization=request.headers.get("Authorization"),
            received_at=time.monotonic(),
        )
        self.member_lookups.append(lookup)
        if self.member_failures:
            failure = self.member_failures.pop(0)
            lookup.status = failure.status
            return self._failure_response(failure)
        lookup.status = 200
        profile: dict[str, Any] = {"id": member_id, "name": member_id, "objectId": member_id}
        email = self.member_emails.get(member_id)
        if email is not None:
            profile |= {"email": email, "userPrincipalName": email}
        return web.json_response(profile)
