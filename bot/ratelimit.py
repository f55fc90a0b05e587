"""Sliding-window rate limits: for proactive sends (per conversation, per tenant), which wait
for a place, and for inbound activities (bot/inbound_limit.py), which are refused instead.

Teams throttles bots per conversation (about 7 messages a second and 60 in 30 seconds) and per
app per tenant (about 50 a second), counting requests as they reach it. Waiting here costs
nothing; a 429 costs a retry.

A send counts from its start, so sends overlap: with a 150 ms round trip, 50 a second need
about 8 in flight. Teams counts a request when it arrives, some time after it started here
(our serialisation, the way out). That delay cancels out between two sends; only its
variation can bring two arrivals closer than their starts were. Two things cover the
variation:
- a send slower than the fastest recent round trip on its path (the same service URL) may
  have arrived late by the difference, so it counts that much later: a send that left late (a
  stalled event loop, a new connection) cannot crowd the next window. While it runs past that
  round trip, it counts as arriving now. The reference is the fastest known when the send is
  looked at, not only when it completed: the first sends of a fan-out leave together and
  their round trips are all slow, so the first reference is too slow (a send late by the
  crowd would count as on time); a faster round trip seen later moves their counts back.
- every window is `spread` seconds longer than Teams': what is left, the variation of the
  service's answer and the way back, must stay under it.
Counting a send until it completed (the rule before) needed neither, but held each place for a
whole round trip more: 50 / (1 + round trip) a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

# How much the time from a request's arrival at Teams to its answer here may vary from one send
# to the next on a kept-alive connection. 25 ms costs 2.5 % of the tenant's 50 a second.
SEND_SPREAD_SECONDS = 0.025
# Round trips remembered per path: the fastest of them is the reference.
ROUND_TRIPS_KEPT = 128


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    limit: int
    window_seconds: float


Window = tuple[str, float]


@dataclass(slots=True)
class _Event:
    started: float
    path: str | None = None  # None: counted at once and done (try_take)
    ended: float | None = None  # None while the send runs
    reference: float = 0.0  # the fastest round trip on its path when it ended


class SlidingWindowLimiter:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        spread: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if spread < 0:
            raise ValueError("spread must not be negative")
        self._clock = clock
        self._sleep = sleep
        self._spread = spread
        self._events: dict[Window, list[_Event]] = {}
        self._round_trips: dict[str, deque[float]] = {}
        self._fastest: dict[str, float] = {}

    @contextlib.asynccontextmanager
    async def slot(self, rules: Sequence[Rule], *, path: str) -> AsyncIterator[None]:
        """Wait until every rule allows one more send, count it from now, and send at once
        inside: how long the block takes (the round trip on `path`) places the count."""
        while True:
            now = self._clock()
            wait = self._wait_for(rules, now)
            if wait <= 0:
                break
            await self._sleep(wait)
        # No await between the check and the count: no other task can slip between.
        event = _Event(started=now, path=path)
        for rule in rules:
            self._events.setdefault((rule.key, rule.window_seconds), []).append(event)
        try:
            yield
        finally:
            event.ended = self._clock()
            event.reference = self._fastest.get(path, 0.0)
            # A short round trip (an error answered at once) lowers the reference: it only
            # makes sends count later, never earlier.
            trips = self._round_trips.setdefault(path, deque(maxlen=ROUND_TRIPS_KEPT))
            trips.append(event.ended - event.started)
            self._fastest[path] = min(trips)

    def try_take(self, rules: Sequence[Rule]) -> bool:
        """Count one event now if every rule has a place for it; False, counting nothing, if
        not. Never waits: for limits that refuse rather than delay."""
        now = self._clock()
        if self._wait_for(rules, now) > 0:
            return False
        event = _Event(started=now, ended=now)
        for rule in rules:
            self._events.setdefault((rule.key, rule.window_seconds), []).append(event)
        return True

    def forget_idle(self) -> None:
        """Drop the windows of keys that went quiet (their events all expired), so memory
        follows the keys active lately rather than every key ever seen."""
        now = self._clock()
        for window in list(self._events):
            self._live(window, now)

    def tracked_windows(self) -> int:
        return len(self._events)

    def _count_time(self, event: _Event, now: float) -> float:
        if event.path is None:
            return event.started
        # The fastest recent round trip on its path (0 before any, so the first sends count
        # until they complete), or the one known when it ended if that was faster: a
        # reference only ever moves a count later.
        reference = self._fastest.get(event.path, 0.0)
        if event.ended is None:
            return event.started + max(0.0, now - event.started - reference)
        reference = min(reference, event.reference)
        return event.started + max(0.0, event.ended - event.started - reference)

    def _live(self, window: Window, now: float) -> list[float]:
        """The times the window's events count at, dropping those done and out of it."""
        events = self._events.get(window)
        if not events:
            self._events.pop(window, None)
            return []
        horizon = now - (window[1] + self._spread)
        # A send never counts after it ended: one that ended before the horizon is out.
        kept = [e for e in events if e.ended is None or e.ended > horizon]
        if kept:
            self._events[window] = kept
        else:
            del self._events[window]
        return [t for t in (self._count_time(e, now) for e in kept) if t > horizon]

    def _wait_for(self, rules: Sequence[Rule], now: float) -> float:
        """0 when every rule has a place now; otherwise seconds until the place could free
        (a send running late pushes it further: the caller then looks again)."""
        wait = 0.0
        for rule in rules:
            window = (rule.key, rule.window_seconds)
            times = self._live(window, now)
            if len(times) >= rule.limit:
                times.sort()
                frees = times[-rule.limit] + rule.window_seconds + self._spread - now
                # A send running late keeps its place for now: look again shortly.
                wait = max(wait, frees if frees > 0 else 0.001)
        return wait
