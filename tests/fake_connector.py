"""A fake Bot Connector: a real aiohttp app on port 0 that records what the bot sends.

Shared by tests and benchmarks. It implements the REST paths the bot uses and can be told to
fail (status codes, Retry-After) to exercise delivery rules.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
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


@dataclass(slots=True)
class Failure:
    status: int
    retry_after: float | None = None


@dataclass
class FakeConnector:
    received: list[Received] = field(default_factory=list)
    # Failures to answer, in order, before answering normally again.
    planned_failures: list[Failure] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.make_url("")).rstrip("/")

    def fail_next(self, *failures: Failure) -> None:
        self.planned_failures.extend(failures)

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

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        async def _wait() -> None:
            while len(self.activities()) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(_wait(), within)

    # -- handlers -----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> web.Response | None:
        body = await request.json() if request.can_read_body else {}
        self.received.append(
            Received(
                method=request.method,
                path=request.path,
                conversation_id=request.match_info.get("cid"),
                body=body,
                authorization=request.headers.get("Authorization"),
                received_at=time.monotonic(),
            )
        )
        self._arrived.set()
        if self.planned_failures:
            failure = self.planned_failures.pop(0)
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            return web.json_response(
                {"error": {"code": "Failure", "message": "planned"}},
                status=failure.status,
                headers=headers,
            )
        return None

    async def _send(self, request: web.Request) -> web.Response:
        failed = await self._record(request)
        if failed is not None:
            return failed
        return web.json_response({"id": f"activity-{next(self._ids)}"})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        failed = await self._record(request)
        if failed is not None:
            return failed
        return web.json_response({"id": f"a:personal-{next(self._ids)}"}, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["mid"]
        return web.json_response({"id": member_id, "name": member_id, "objectId": member_id})
