"""PostgreSQL briefly unreachable: turns answer with the apology, /readyz says not ready, and the
bot recovers by itself when the database returns; nothing queued is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.app import RUNTIME, create_app
from storage import outbox
from storage.db import transaction
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.fake_connector import FakeConnector


class TcpProxy:
    """A switchable TCP pass-through to PostgreSQL: `down()` cuts every connection."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                with contextlib.suppress(Exception):
                    sink.close()

        for task in (
            asyncio.ensure_future(pump(reader, upstream_writer)),
            asyncio.ensure_future(pump(upstream_reader, writer)),
        ):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)


@pytest.fixture
async def proxied_url() -> AsyncIterator[tuple[str, TcpProxy]]:
    async with fresh_postgres() as url:
        parsed = make_url(url)
        proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        await proxy.up()
        yield parsed.set(port=proxy.port).render_as_string(hide_password=False), proxy
        await proxy.down()


async def test_the_bot_apologises_then_recovers_when_the_database_returns(
    proxied_url: tuple[str, TcpProxy], connector: FakeConnector
) -> None:
    url, proxy = proxied_url
    client = TestClient(TestServer(create_app(make_settings(url))))
    await client.start_server()
    try:
        runtime = client.app[RUNTIME]
        async with transaction(runtime.sessions) as session:
            someone = await factories.person(session, 1, service_url=connector.url)
            await outbox.enqueue(
                session,
                dedup_key="queued-before-the-outage",
                recipient=outbox.Recipient.person(someone.id or 0),
                kind="notice",
                params={"text": "welcome.personal_noname"},
            )
        await client.post("/api/messages", json=message("aide", service_url=connector.url))
        assert connector.cards(), "the bot answers while the database is up"

        await proxy.down()
        response = await client.post(
            "/api/messages", json=message("aide", service_url=connector.url)
        )
        assert response.status < 500
        assert connector.texts()[-1].startswith("Désolé, quelque chose s’est mal passé")
        assert (await client.get("/readyz")).status == 503
        assert (await client.get("/healthz")).status == 200

        await proxy.up()  # same port: the pool reconnects by itself
        for _ in range(50):
            if (await client.get("/readyz")).status == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/readyz")).status == 200
        cards_before = len(connector.cards())
        await client.post("/api/messages", json=message("aide", service_url=connector.url))
        assert len(connector.cards()) == cards_before + 1
        counts = await outbox.counts_by_status(runtime.sessions)
        assert counts["pending"] == 1  # still there, to be sent
    finally:
        await client.close()
