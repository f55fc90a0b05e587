"""Shared test helpers: a frozen clock, the bot's wired parts without HTTP, a dispatcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.app import ALL_RENDERERS, RUNTIME, Runtime
from bot.dispatcher import Dispatcher

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class started:
    """Run an app's startup and cleanup without serving HTTP."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def __aenter__(self) -> Runtime:
        self._app.freeze()
        await self._app.startup()
        return self._app[RUNTIME]

    async def __aexit__(self, *_exc: object) -> None:
        await self._app.cleanup()


def dispatcher(runtime: Runtime, clock: Clock, owner: str = "test") -> Dispatcher:
    return Dispatcher(
        settings=runtime.settings,
        sessions=runtime.sessions,
        adapter=runtime.adapter,
        renderers=ALL_RENDERERS,
        clock=clock,
        owner=owner,
    )
