"""`carrefour demo seed`: demonstration data that makes sense to the person touring the bot
(meeting titles that match their season, no meeting during the holidays) and that never makes
the bot call the real Teams service for people who do not exist."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.app import Runtime
from bot.demo import NAME, season_title, seed
from storage import outbox
from storage.db import SessionFactory, transaction
from storage.models import (
    Community,
    ConversationRef,
    Meeting,
    MeetingStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from storage.working_days import is_working_day
from tests.support import Clock, dispatcher

ROOT = Path(__file__).resolve().parent.parent
TZ = "America/Montreal"
# 3 December 2026: three weeks on is Thursday 24 December, whose following Tuesday is the 29th.
EARLY_DECEMBER = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
HOLIDAY_BREAK = (date(2026, 12, 24), date(2027, 1, 2))


def _local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(TZ)).date()


def _season_words(day: date) -> str:
    """Written out independently of bot/demo.py: which season a reader expects in the title."""
    if day.month == 9:
        return "rentrée"
    return {
        12: "hiver",
        1: "hiver",
        2: "hiver",
        3: "printemps",
        4: "printemps",
        5: "printemps",
    }.get(day.month, "été" if day.month in (6, 7, 8) else "automne")


async def _meetings(sessions: SessionFactory) -> list[Meeting]:
    async with sessions() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.starts_at)))).all())


async def test_the_next_meeting_avoids_the_holidays_and_titles_match_seasons(
    sessions: SessionFactory,
) -> None:
    said = await seed(sessions, timezone=TZ, now=EARLY_DECEMBER)
    assert NAME in said
    meetings = await _meetings(sessions)
    (upcoming,) = [m for m in meetings if m.status == MeetingStatus.SCHEDULED]
    day = _local_day(upcoming.starts_at)
    assert day != date(2026, 12, 29)
    assert not HOLIDAY_BREAK[0] <= day <= HOLIDAY_BREAK[1], day
    assert day > _local_day(EARLY_DECEMBER)
    for meeting in meetings:
        held_on = _local_day(meeting.starts_at)
        assert is_working_day(held_on), (meeting.title, held_on)
        assert held_on.weekday() == 1, (meeting.title, held_on)  # Tuesdays, as the text says
        assert _season_words(held_on) in meeting.title, (meeting.title, held_on)
        assert str(held_on.year) in meeting.title, (meeting.title, held_on)


@pytest.mark.parametrize(
    ("day", "title"),
    [
        (date(2027, 1, 12), "Rencontre d’hiver 2027"),
        (date(2026, 12, 8), "Rencontre d’hiver 2026"),
        (date(2026, 4, 14), "Rencontre du printemps 2026"),
        (date(2026, 7, 7), "Rencontre d’été 2026"),
        (date(2026, 9, 15), "Rencontre de la rentrée 2026"),
        (date(2026, 11, 3), "Rencontre d’automne 2026"),
    ],
)
def test_season_titles(day: date, title: str) -> None:
    assert season_title(day) == title


async def test_seeded_conversations_do_not_point_at_the_teams_service(
    sessions: SessionFactory,
) -> None:
    await seed(sessions, timezone=TZ, now=EARLY_DECEMBER)
    async with sessions() as session:
        refs = list((await session.exec(select(ConversationRef))).all())
    assert refs
    for ref in refs:
        # RFC 6761: names under .invalid never resolve, so no DNS query can succeed for them.
        assert ref.service_url.startswith("https://")
        assert ".invalid/" in ref.service_url
        assert "trafficmanager.net" not in ref.service_url


async def test_messages_to_demo_people_are_given_up_at_once_without_a_dns_lookup(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: each message for a seeded person went to smba.trafficmanager.net, and offline
    every attempt waited on DNS, then was retried with backoff until the attempts ran out."""
    lookups: list[Any] = []
    real_getaddrinfo = socket.getaddrinfo

    def watching(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            lookups.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "offline test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", watching)
    await seed(runtime.sessions, timezone=TZ, now=EARLY_DECEMBER)
    async with transaction(runtime.sessions) as session:
        person = (await session.exec(select(Person).where(Person.name == "Léa Tremblay"))).one()
        channel = (await session.exec(select(ConversationRef))).first()
        assert channel is not None
        for key, recipient in (
            ("to-person", outbox.Recipient.person(person.id or 0)),
            ("to-channel", outbox.Recipient(conversation_ref_id=channel.id)),
        ):
            await outbox.enqueue(
                session,
                dedup_key=f"demo-test:{key}",
                recipient=recipient,
                kind="notice",
                params={"text": "confirm.dismissed", "values": {}},
            )
    clock = Clock(now=datetime.now(UTC))
    await dispatcher(runtime, clock).dispatch_once()
    async with runtime.sessions() as session:
        rows = list((await session.exec(select(OutboxMessage))).all())
    assert sorted((row.dedup_key, row.status, row.attempts) for row in rows) == [
        ("demo-test:to-channel", OutboxStatus.UNDELIVERABLE, 1),
        ("demo-test:to-person", OutboxStatus.UNDELIVERABLE, 1),
    ]
    assert lookups == []


def test_demo_seed_from_the_command_line(tmp_path: Path) -> None:
    """As the README runs it, on a fresh SQLite file; twice is harmless."""
    database = tmp_path / "demo.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}

    def carrefour(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )

    assert carrefour("db", "upgrade").returncode == 0
    first = carrefour("demo", "seed")
    assert first.returncode == 0, first.stderr
    assert NAME in first.stdout
    again = carrefour("demo", "seed")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    with sqlite3.connect(database) as db:
        refs = db.execute(f"SELECT service_url FROM {ConversationRef.__tablename__}")
        urls = {str(url) for (url,) in refs}
        (communities,) = db.execute(f"SELECT count(*) FROM {Community.__tablename__}").fetchone()
        meetings = db.execute(f"SELECT starts_at, status FROM {Meeting.__tablename__}")
        starts = [
            start
            for start, status in meetings
            if str(status).lower() == MeetingStatus.SCHEDULED.value
        ]
    assert communities == 1
    assert urls
    assert all(".invalid/" in url for url in urls), urls
    # Whatever today is, the upcoming meeting is on a working Tuesday outside the holidays.
    (upcoming,) = starts
    day = _local_day(datetime.fromisoformat(str(upcoming)))
    assert is_working_day(day)
    assert day.weekday() == 1
    assert not (day.month == 12 and day.day >= 24)
    assert not (day.month == 1 and day.day <= 2)
