"""A bot process killed with SIGKILL in the middle of a fan-out, then restarted.

Nothing is lost. What can be repeated is bounded: a message whose HTTP request reached the
Bot Connector in the instant before the kill, but whose "sent" mark was not committed, is sent
again after restart (the Bot Connector has no idempotency key to tell it apart). The test
measures that and holds it to the number of sends that can be in flight at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.app import create_app
from storage import outbox
from storage.db import SessionFactory
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import started
from tests.test_outbox_concurrency import _seed

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 400
CONCURRENCY = 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_bot(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CARREFOUR_"))},
        "DATABASE_URL": database_url,
        "CARREFOUR_ENV": "test",
        "CARREFOUR_OUTBOX_LEASE_SECONDS": "6",
        "CARREFOUR_OUTBOX_POLL_SECONDS": "0.5",
        "CARREFOUR_OUTBOX_CONCURRENCY": str(CONCURRENCY),
        "CARREFOUR_OUTBOX_BATCH_SIZE": "20",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--port",
            str(_free_port()),
            "--host",
            "127.0.0.1",
        ],
        cwd=log.parent,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def test_sigkill_in_the_middle_of_a_fanout_loses_nothing(
    database_url: str, connector: FakeConnector, tmp_path: Path
) -> None:
    async with started(create_app(make_settings(database_url))) as runtime:
        await _seed(runtime, connector.url, MESSAGES)
        log = tmp_path / "bot.log"
        first = _start_bot(database_url, log)
        try:
            await connector.wait_for(MESSAGES // 4, within=60)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        delivered_before_restart = len(connector.activities())
        assert delivered_before_restart < MESSAGES, "the kill came too late to test anything"

        second = _start_bot(database_url, log)
        try:
            await _until_all_sent(runtime.sessions, within=120)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        counts = await outbox.counts_by_status(runtime.sessions)

    deliveries = Counter(connector.texts())
    repeated = sum(n - 1 for n in deliveries.values())
    print(f"\ndelivered before the kill: {delivered_before_restart}; repeated: {repeated}")
    assert counts["sent"] == MESSAGES
    assert len(deliveries) == MESSAGES, "a message was lost"
    assert repeated <= CONCURRENCY, log.read_text()[-3000:]


async def _until_all_sent(sessions: SessionFactory, *, within: float) -> None:
    # The other process writes the database: poll it.
    for _ in range(int(within / 0.2)):
        if (await outbox.counts_by_status(sessions))["sent"] >= MESSAGES:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not all {MESSAGES} messages were sent within {within} s")
