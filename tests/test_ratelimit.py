"""The limiter keeps every window the service could measure within the limit."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Coroutine, Sequence
from typing import Any

import pytest

from bot.inbound_limit import InboundLimit, Verdict
from bot.ratelimit import SEND_SPREAD_SECONDS, Rule, SlidingWindowLimiter
from bot.settings import Settings


class VirtualTime:
    """A clock and a sleep that only move when every task waits on them: sends as slow as we
    like, in no time, with no wall clock in any assertion."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def run(self, coroutines: Sequence[Coroutine[Any, Any, None]]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while True:
            for _ in range(100_000):
                running = [task for task in tasks if not task.done()]
                waiting = sum(1 for *_, future in self._timers if not future.done())
                if waiting >= len(running):
                    break
                await asyncio.sleep(0)
            else:
                raise AssertionError("a task waits on something other than the virtual clock")
            if not running:
                break
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            future.set_result(None)
        await asyncio.gather(*tasks)


def most_in_any_window(times: Sequence[float], window: float) -> int:
    """The most events any sliding window (t - window, t] holds, as the service counts."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, time_ in enumerate(ordered):
        while ordered[first] <= time_ - window:
            first += 1
        most = max(most, last - first + 1)
    return most


TEAMS = {"per_conversation_per_second": 7, "per_conversation_per_30s": 60, "per_tenant": 50}


def teams_rules(conversation: str) -> list[Rule]:
    return [
        Rule(conversation, TEAMS["per_conversation_per_second"], 1.0),
        Rule(conversation, TEAMS["per_conversation_per_30s"], 30.0),
        Rule("tenant", TEAMS["per_tenant"], 1.0),
    ]


PATH = "https://smba.example/amer/"


@pytest.mark.parametrize("round_trip", [0.0, 0.15, 0.6])
async def test_overlapping_slow_sends_stay_within_every_window_the_service_measures(
    round_trip: float,
) -> None:
    """900 sends in 40 workers, to one tenant: two busy conversations (90 messages each, past
    60 in 30 s) and 40 others. A send reaches the service after half the round trip, one in
    eight up to 300 ms late (a stalled loop, a new connection), and is answered after the
    other half, which varies by less than the spread: no window of arrivals the service
    measures holds more than its limit."""
    clock = VirtualTime()
    limiter = SlidingWindowLimiter(clock, spread=SEND_SPREAD_SECONDS, sleep=clock.sleep)
    rng = random.Random(14)
    conversations = [
        f"conversation:busy-{n % 2}" if n % 5 == 0 else f"conversation:{n % 40}" for n in range(900)
    ]
    queue = list(conversations)
    arrivals: dict[str, list[float]] = {}
    in_flight, most_in_flight = 0, 0

    async def worker() -> None:
        nonlocal in_flight, most_in_flight
        while queue:
            conversation = queue.pop(0)
            async with limiter.slot(teams_rules(conversation), path=PATH):
                in_flight += 1
                most_in_flight = max(most_in_flight, in_flight)
                late = rng.uniform(0.0, 0.3) if rng.random() < 1 / 8 else 0.0
                going = round_trip / 2 + late
                for key in (conversation, "tenant"):
                    arrivals.setdefault(key, []).append(clock.now + going)
                coming_back = round_trip / 2 + rng.uniform(0.0, SEND_SPREAD_SECONDS * 0.999)
                await clock.sleep(going + coming_back)
                in_flight -= 1

    await clock.run([worker() for _ in range(40)])

    assert sum(len(times) for key, times in arrivals.items() if key != "tenant") == 900
    assert len(arrivals["conversation:busy-0"]) == 90
    assert most_in_any_window(arrivals["tenant"], 1.0) <= TEAMS["per_tenant"]
    for key, times in arrivals.items():
        if key == "tenant":
            continue
        assert most_in_any_window(times, 1.0) <= TEAMS["per_conversation_per_second"], key
        assert most_in_any_window(times, 30.0) <= TEAMS["per_conversation_per_30s"], key
    if round_trip:
        # Sends overlapped: more in flight than one conversation's limit.
        assert most_in_flight > 7


async def test_the_rate_does_not_fall_with_the_round_trip() -> None:
    """500 sends to 500 conversations of one tenant, 300 ms each, 50 at a time: after the
    first round trip (no reference yet: the first sends count until they complete) they go at
    the tenant's 50 a second, windows lengthened by the spread only, where counting each send
    until it completed allowed 50 per 1.3 s."""
    clock = VirtualTime()
    limiter = SlidingWindowLimiter(clock, spread=SEND_SPREAD_SECONDS, sleep=clock.sleep)
    pending = list(range(500))
    starts: list[float] = []
    began = clock.now

    async def worker() -> None:
        while pending:
            n = pending.pop()
            async with limiter.slot(teams_rules(f"conversation:{n}"), path=PATH):
                starts.append(clock.now)
                await clock.sleep(0.3)

    await clock.run([worker() for _ in range(50)])
    # The first 50 count at their completion (0.3 s), the next 450 from their start.
    assert max(starts) - began == pytest.approx(0.3 + 9 * (1.0 + SEND_SPREAD_SECONDS))
    assert most_in_any_window(starts, 1.0 + SEND_SPREAD_SECONDS) == 50


async def test_a_send_counts_from_its_start_whatever_it_lasts() -> None:
    clock = VirtualTime()
    limiter = SlidingWindowLimiter(clock, spread=0.05, sleep=clock.sleep)
    rules = [Rule("c", 1, 0.1)]
    order: list[tuple[str, float]] = []

    async def send(name: str, after: float) -> None:
        await clock.sleep(after)
        async with limiter.slot(rules, path=PATH):
            order.append((f"{name} starts", clock.now - 1_000.0))
            await clock.sleep(0.3)
        order.append((f"{name} ends", clock.now - 1_000.0))

    # The first send sets the reference round trip (0.3 s) and counts at its completion.
    await clock.run([send("first", 0.0), send("second", 0.01), send("third", 0.02)])
    assert [event for event, _ in order] == [
        "first starts",
        "first ends",
        "second starts",
        # One window and the spread after the second started, while it still runs.
        "third starts",
        "second ends",
        "third ends",
    ]
    assert order[2][1] == pytest.approx(0.3 + 0.15)
    assert order[3][1] == pytest.approx(0.45 + 0.15)


async def test_a_send_slower_than_the_usual_round_trip_counts_as_late() -> None:
    """A send that takes 200 ms more than the fastest recent one may have reached the service
    200 ms late: its place frees 200 ms later."""
    clock = VirtualTime()
    limiter = SlidingWindowLimiter(clock, spread=0.0, sleep=clock.sleep)
    rules = [Rule("c", 1, 1.0)]
    starts: list[float] = []

    async def send(takes: float) -> None:
        async with limiter.slot(rules, path=PATH):
            starts.append(clock.now - 1_000.0)
            await clock.sleep(takes)

    async def sends() -> None:
        await send(0.1)  # no reference yet: counts at its completion, 0.1
        await send(0.1)  # starts at 1.1, counts there
        await send(0.3)  # starts at 2.1, 0.2 slower than the reference: counts at 2.3
        await send(0.1)

    await clock.run([sends()])
    assert starts == pytest.approx([0.0, 1.1, 2.1, 3.3])


async def test_a_faster_round_trip_seen_later_moves_earlier_counts_later() -> None:
    """The first sends of a fan-out leave together and all come back slow: the reference they
    set is too slow, and a send late by the crowd would count as on time. Once a faster round
    trip shows it, their counts move later (never earlier)."""
    clock = VirtualTime()
    limiter = SlidingWindowLimiter(clock, spread=0.0, sleep=clock.sleep)
    busy = [Rule("c", 1, 1.0)]
    starts: list[float] = []

    async def send(rules: list[Rule], takes: float) -> None:
        async with limiter.slot(rules, path=PATH):
            starts.append(clock.now - 1_000.0)
            await clock.sleep(takes)

    async def sends() -> None:
        await send(busy, 0.3)  # no reference yet: counts at its completion, 0.3
        await send(busy, 0.3)  # starts at 1.3; the reference is 0.3: counts at 1.3 for now
        await send([Rule("other", 10, 1.0)], 0.1)  # 1.6: a round trip of 0.1
        # The second send may have reached the service 0.2 late: it counts at 1.5.
        await send(busy, 0.1)

    await clock.run([sends()])
    assert starts == pytest.approx([0.0, 1.3, 1.6, 2.5])


async def test_keys_are_independent() -> None:
    clock = VirtualTime()
    limiter = SlidingWindowLimiter(clock, spread=SEND_SPREAD_SECONDS, sleep=clock.sleep)

    async def send_three() -> None:
        for key in ("a", "b", "c"):
            async with limiter.slot([Rule(key, 1, 5.0)], path=PATH):
                pass

    await clock.run([send_three()])
    assert clock.now == 1_000.0


def test_a_negative_spread_is_refused() -> None:
    with pytest.raises(ValueError, match="spread"):
        SlidingWindowLimiter(spread=-0.1)


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_try_take_refuses_past_the_limit_without_counting_the_refusal() -> None:
    ticks = Ticks()
    limiter = SlidingWindowLimiter(ticks)
    rules = [Rule("p", 2, 10.0)]
    assert [limiter.try_take(rules) for _ in range(3)] == [True, True, False]
    ticks.now += 9.9
    assert not limiter.try_take(rules)
    # The window slides from the first two, not from the refused attempts.
    ticks.now += 0.1
    assert limiter.try_take(rules)


def test_quiet_keys_are_forgotten() -> None:
    ticks = Ticks()
    limiter = SlidingWindowLimiter(ticks)
    for n in range(100):
        assert limiter.try_take([Rule(f"p{n}", 1, 10.0)])
    assert limiter.tracked_windows() == 100
    ticks.now += 10
    limiter.forget_idle()
    assert limiter.tracked_windows() == 0


def test_a_normal_pace_never_meets_the_default_inbound_limit() -> None:
    """Ten quick clicks in a second, then three a second for ten minutes, from one person:
    all acted on."""
    ticks = Ticks()
    limit = InboundLimit.from_settings(Settings(_env_file=None), clock=ticks)
    verdicts = set()
    for n in range(10 + 600 * 3):
        verdicts.add(limit.admit("msteams:29:user-1"))
        ticks.now += 0.1 if n < 10 else 1 / 3
    assert verdicts == {Verdict.ACT}


def test_past_the_inbound_limit_one_warning_per_window_then_drops() -> None:
    ticks = Ticks()
    limit = InboundLimit(per_person=3, window_seconds=10, clock=ticks)
    verdicts = []
    for _ in range(40):  # 4 a second for 10 seconds, past 3 per 10 seconds
        verdicts.append(limit.admit("a"))
        ticks.now += 0.25
    assert verdicts[:4] == [Verdict.ACT, Verdict.ACT, Verdict.ACT, Verdict.WARN]
    assert verdicts.count(Verdict.WARN) == 1
    assert limit.admit("b") is Verdict.ACT  # someone else
    # The window has passed: the person is heard again, and memory lets go of quiet people.
    ticks.now += 10
    assert limit.admit("a") is Verdict.ACT
    ticks.now += 10
    limit.admit("c")
    assert limit.tracked_people() == 1
