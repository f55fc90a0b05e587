"""Three bot processes on one PostgreSQL database, as behind a load balancer: any replica
takes any turn; a replica killed mid-dialog or mid-fan-out loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from bot.app import create_app
from storage import outbox
from storage.db import SessionFactory
from storage.models import Membership, Person
from tests.activities import message, user
from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.fake_connector import FakeConnector
from tests.support import started
from tests.test_outbox_concurrency import _seed

ROOT = Path(__file__).resolve().parent.parent
MEMBER = user(7, "Rosalie Ouellet")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


class Replica:
    def __init__(
        self, database_url: str, log: Path, extra_env: Mapping[str, str] | None = None
    ) -> None:
        self.port = _free_port()
        env = {
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CARREFOUR_"))
            },
            "DATABASE_URL": database_url,
            "CARREFOUR_ENV": "test",
            "CARREFOUR_OUTBOX_LEASE_SECONDS": "6",
            "CARREFOUR_OUTBOX_POLL_SECONDS": "0.5",
            "CARREFOUR_OUTBOX_CONCURRENCY": "8",
            "CARREFOUR_OUTBOX_BATCH_SIZE": "20",
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
            ],
            cwd=log.parent,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def replicas(database_url: str, tmp_path: Path, count: int = 3) -> Iterator[list[Replica]]:
    running = [Replica(database_url, tmp_path / f"replica-{n}.log") for n in range(count)]
    try:
        yield running
    finally:
        for replica in running:
            replica.stop()


async def _ready(http: aiohttp.ClientSession, replicas_: list[Replica]) -> None:
    for replica in replicas_:
        for _ in range(200):
            try:
                async with http.get(f"{replica.url}/readyz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(
                f"replica on {replica.port} never got ready:\n{replica.log.read_text()[-2000:]}"
            )


async def _say(
    http: aiohttp.ClientSession, replica: Replica, connector: FakeConnector, text: str
) -> None:
    activity: dict[str, Any] = message(text, service_url=connector.url, sender=MEMBER)
    before = len(connector.activities())
    async with http.post(f"{replica.url}/api/messages", json=activity) as response:
        assert response.status in (200, 201), await response.text()
    await connector.wait_for(before + 1, within=20)


def _create_community(database_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "community",
            "create",
            "--name",
            "CdeP Organisation communautaire",
            "--objective",
            "Partager nos pratiques",
        ],
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


async def _member_of_community(sessions: SessionFactory) -> Membership | None:
    async with sessions() as session:
        person = (
            await session.exec(select(Person).where(Person.teams_user_id == MEMBER["id"]))
        ).first()
        if person is None:
            return None
        return (
            await session.exec(select(Membership).where(Membership.person_id == person.id))
        ).first()


JOIN = [
    "rejoindre",
    "4",
    "CLSC Longueuil-Ouest",
    "16",
    "1",
    "Non",
    "Rappels et sondages",
    "Confirmer",
]


async def test_a_dialog_alternating_between_replicas_completes(
    postgres_url: str, connector: FakeConnector, tmp_path: Path
) -> None:
    _create_community(postgres_url)
    async with (
        started(create_app(make_settings(postgres_url))) as runtime,
        aiohttp.ClientSession() as http,
    ):
        with replicas(postgres_url, tmp_path) as running:
            await _ready(http, running)
            for n, text in enumerate(JOIN):
                await _say(http, running[n % 3], connector, text)
            membership = await _member_of_community(runtime.sessions)
    assert membership is not None
    assert membership.establishment == "CLSC Longueuil-Ouest"
    assert connector.texts()[-1].startswith("Bienvenue") or connector.cards()


async def test_a_replica_killed_mid_dialog_the_conversation_continues_on_another(
    postgres_url: str, connector: FakeConnector, tmp_path: Path
) -> None:
    _create_community(postgres_url)
    async with (
        started(create_app(make_settings(postgres_url))) as runtime,
        aiohttp.ClientSession() as http,
    ):
        with replicas(postgres_url, tmp_path) as running:
            await _ready(http, running)
            for text in JOIN[:4]:
                await _say(http, running[0], connector, text)
            running[0].kill()
            for n, text in enumerate(JOIN[4:]):
                await _say(http, running[1 + n % 2], connector, text)
            membership = await _member_of_community(runtime.sessions)
    assert membership is not None
    assert membership.region == "16"


async def test_a_replica_killed_mid_fanout_every_message_arrives(
    postgres_url: str, connector: FakeConnector, tmp_path: Path
) -> None:
    messages = 300
    async with started(create_app(make_settings(postgres_url))) as runtime:
        await _seed(runtime, connector.url, messages)
        with replicas(postgres_url, tmp_path) as running:
            await connector.wait_for(messages // 4, within=90)
            running[0].kill()
            for _ in range(600):
                if (await outbox.counts_by_status(runtime.sessions))["sent"] >= messages:
                    break
                await asyncio.sleep(0.2)
        counts = await outbox.counts_by_status(runtime.sessions)
    deliveries = Counter(connector.texts())
    repeated = sum(n - 1 for n in deliveries.values())
    print(f"\nrepeated after the kill: {repeated}")
    assert counts["sent"] == messages
    assert len(deliveries) == messages, "a message was lost"
    assert repeated <= 8  # at most the sends in flight in the killed replica
