"""Sliding-window rate limits: for proactive sends (per conversation, per tenant), which wait
for a place, and for inbound activities (bot/inbound_limit.py), which are refused instead.

Teams throttles bots per conversation (about 7 messages a second and 60 in 30 seconds) and per
app per tenant (about 50 a second). Waiting here costs nothing; a 429 costs a retry.

A send counts against its windows from the moment it starts until it completes, and then at
its completion time. The service sees a request somewhere between the two, so counting this
way keeps every window the service measures within the limit, whatever the network delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    limit: int
    window_seconds: float


Window = tuple[str, float]


class SlidingWindowLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._done: dict[Window, deque[float]] = {}
        self._in_flight: Counter[Window] = Counter()
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def slot(self, rules: Sequence[Rule]) -> AsyncIterator[None]:
        """Wait until every rule allows one more send, hold the place while it runs."""
        await self._acquire(rules)
        try:
            yield
        finally:
            async with self._changed:
                now = self._clock()
                for rule in rules:
                    window = (rule.key, rule.window_seconds)
                    self._in_flight[window] -= 1
                    if self._in_flight[window] <= 0:
                        del self._in_flight[window]
                    self._done.setdefault(window, deque()).append(now)
                self._changed.notify_all()

    def _blocked_for(self, rules: Sequence[Rule], now: float) -> float | None:
        """0 when free; seconds until a place frees; None when only a running send can free it."""
        wait = 0.0
        only_in_flight = False
        for rule in rules:
            window = (rule.key, rule.window_seconds)
            done = self._done.get(window)
            if done is not None:
                while done and done[0] <= now - rule.window_seconds:
                    done.popleft()
                if not done:
                    del self._done[window]
                    done = None
            used = (len(done) if done else 0) + self._in_flight[window]
            if used >= rule.limit:
                if done:
                    wait = max(wait, done[0] + rule.window_seconds - now)
                else:
                    only_in_flight = True
        if wait > 0:
            return wait
        return None if only_in_flight else 0.0

    async def _acquire(self, rules: Sequence[Rule]) -> None:
        async with self._changed:
            while True:
                blocked = self._blocked_for(rules, self._clock())
                if blocked == 0.0:
                    for rule in rules:
                        self._in_flight[(rule.key, rule.window_seconds)] += 1
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=blocked)

    def try_take(self, rules: Sequence[Rule]) -> bool:
        """Count one event now if every rule has a place for it; False, counting nothing, if
        not. Never waits: for limits that refuse rather than delay."""
        now = self._clock()
        if self._blocked_for(rules, now) != 0.0:
            return False
        for rule in rules:
            self._done.setdefault((rule.key, rule.window_seconds), deque()).append(now)
        return True

    def forget_idle(self) -> None:
        """Drop the windows of keys that went quiet (their events all expired), so memory
        follows the keys active lately rather than every key ever seen."""
        now = self._clock()
        for window, done in list(self._done.items()):
            while done and done[0] <= now - window[1]:
                done.popleft()
            if not done:
                del self._done[window]

    def tracked_windows(self) -> int:
        return len(self._done) + len(self._in_flight)
