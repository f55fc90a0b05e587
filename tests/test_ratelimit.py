"""The limiter keeps every window the service could measure within the limit."""

from __future__ import annotations

import asyncio
import time

from bot.inbound_limit import InboundLimit, Verdict
from bot.ratelimit import Rule, SlidingWindowLimiter
from bot.settings import Settings


async def test_no_more_than_the_limit_start_within_a_window() -> None:
    limiter = SlidingWindowLimiter()
    rules = [Rule("c", 3, 0.3)]
    starts: list[float] = []

    async def send() -> None:
        async with limiter.slot(rules):
            starts.append(time.monotonic())
            await asyncio.sleep(0.01)

    await asyncio.gather(*(send() for _ in range(9)))
    starts.sort()
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 0.3


async def test_a_slow_send_holds_its_place_until_it_completes() -> None:
    limiter = SlidingWindowLimiter()
    rules = [Rule("c", 1, 0.1)]
    order: list[str] = []

    async def slow() -> None:
        async with limiter.slot(rules):
            order.append("slow starts")
            await asyncio.sleep(0.3)
            order.append("slow ends")

    async def fast() -> None:
        await asyncio.sleep(0.01)
        async with limiter.slot(rules):
            order.append("fast starts")

    await asyncio.gather(slow(), fast())
    # The window is counted from the slow send's completion, not its start.
    assert order == ["slow starts", "slow ends", "fast starts"]


async def test_keys_are_independent() -> None:
    limiter = SlidingWindowLimiter()
    began = time.monotonic()
    for key in ("a", "b", "c"):
        async with limiter.slot([Rule(key, 1, 5.0)]):
            pass
    assert time.monotonic() - began < 0.5


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
