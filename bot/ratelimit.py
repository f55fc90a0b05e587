"""Sliding-window rate limits for proactive sends (per conversation, per tenant).

Teams throttles bots per conversation (about 7 messages a second and 60 in 30 seconds) and per
app per tenant (about 50 a second). Waiting here costs nothing; a 429 costs a retry.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    limit: int
    window_seconds: float


class SlidingWindowLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[tuple[str, float], deque[float]] = {}
        self._lock = asyncio.Lock()

    def _wait_for(self, rules: Sequence[Rule], now: float) -> float:
        wait = 0.0
        for rule in rules:
            events = self._events.get((rule.key, rule.window_seconds))
            if events:
                while events and events[0] <= now - rule.window_seconds:
                    events.popleft()
                if not events:
                    del self._events[(rule.key, rule.window_seconds)]
                elif len(events) >= rule.limit:
                    wait = max(wait, events[0] + rule.window_seconds - now)
        return wait

    async def acquire(self, rules: Sequence[Rule]) -> None:
        """Wait until every rule allows one more event, then count it."""
        while True:
            async with self._lock:
                now = self._clock()
                wait = self._wait_for(rules, now)
                if wait <= 0:
                    for rule in rules:
                        self._events.setdefault((rule.key, rule.window_seconds), deque()).append(
                            now
                        )
                    return
            await asyncio.sleep(wait)

    def tracked_keys(self) -> int:
        return len(self._events)
