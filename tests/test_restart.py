"""Dialog state lives in the database: a dialog started before a restart continues after it."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector


async def test_a_dialog_started_before_a_restart_continues_after_it(
    database_url: str, connector: FakeConnector
) -> None:
    first = TestClient(TestServer(create_app(make_settings(database_url))))
    await first.start_server()
    await first.post("/api/messages", json=message("langue", service_url=connector.url))
    await first.close()  # the process is gone; only the database remains
    assert connector.texts() == ["Dans quelle langue voulez-vous que je vous écrive ?"]

    second = TestClient(TestServer(create_app(make_settings(database_url))))
    await second.start_server()
    try:
        await second.post("/api/messages", json=message("English", service_url=connector.url))
        await second.post("/api/messages", json=message("aide", service_url=connector.url))
    finally:
        await second.close()
    assert connector.texts()[1] == "Got it: I will write to you in English."
    assert connector.cards()[-1]["body"][0]["text"] == "Carrefour — your communities of practice"
