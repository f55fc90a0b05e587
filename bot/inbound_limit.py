"""A per-person limit on inbound activities: messages and card clicks from one Teams account,
all conversations together, in a sliding window (settings `inbound_per_person_limit` per
`inbound_window_seconds`).

Past the limit the person is told once, in their language, that they go a little fast; what
they send for the rest of the window is dropped before the turn (no database work, no reply).
Counted in memory by each replica: behind a load balancer a person may get up to the limit
times the number of replicas (docs/decisions.md, Boundaries).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from bot.ratelimit import Rule, SlidingWindowLimiter
from bot.settings import Settings


class Verdict(enum.Enum):
    ACT = "act"  # within the limit: the turn runs
    WARN = "warn"  # the first one over the limit in this window: say so, do nothing else
    DROP = "drop"  # over the limit, already told: nothing at all


class InboundLimit:
    def __init__(
        self,
        *,
        per_person: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_person = per_person
        self._window = window_seconds
        self._clock = clock
        self._limiter = SlidingWindowLimiter(clock)
        # When each person was last told to slow down: once per window, never a reply flood.
        self._warned: dict[str, float] = {}
        self._next_sweep = clock() + window_seconds

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> InboundLimit:
        return cls(
            per_person=settings.inbound_per_person_limit,
            window_seconds=settings.inbound_window_seconds,
            clock=clock,
        )

    def admit(self, person: str) -> Verdict:
        """Count one activity from `person` (a channel and account id) and say what to do."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        if self._limiter.try_take([Rule(person, self._per_person, self._window)]):
            return Verdict.ACT
        told = self._warned.get(person)
        if told is not None and now - told < self._window:
            return Verdict.DROP
        self._warned[person] = now
        return Verdict.WARN

    def tracked_people(self) -> int:
        return self._limiter.tracked_windows()

    def _sweep(self, now: float) -> None:
        self._limiter.forget_idle()
        for person, told in list(self._warned.items()):
            if now - told >= self._window:
                del self._warned[person]
        self._next_sweep = now + self._window
