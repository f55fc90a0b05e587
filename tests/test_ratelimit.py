"""The limiter keeps every window the service could measure within the limit."""

from __future__ import annotations

import asyncio
import time

from bot.ratelimit import Rule, SlidingWindowLimiter


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
