"""The agenda a new meeting starts with (bot/meetings_flow.py `default_agenda`): whatever the
meeting's length, its parts start one after the other, within the meeting, and it ends with
« Fin de la journée » at the meeting's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.meetings_flow import default_agenda
from cards.i18n import translator

TZ = "America/Montreal"
START = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)  # 13 h in Montréal
fr = translator("fr-CA")


@pytest.mark.parametrize("minutes", [30, 45, 60, 90, 120, 150, 180, 240, 300, 420])
def test_every_part_starts_after_the_one_before_and_before_the_end(minutes: int) -> None:
    ends_at = START + timedelta(minutes=minutes)

    rows = default_agenda(START, ends_at, topic="Deuil", locale="fr-CA", tz=TZ)

    times = [row.time for row in rows]
    assert times == sorted(set(times)), times  # strictly increasing: never two at one minute
    assert rows[0].title == fr("agenda.default.welcome")
    assert rows[0].time == "13:00"
    assert rows[-1].title == fr("agenda.default.end")
    end = 13 * 60 + minutes
    assert rows[-1].time == f"{end // 60:02d}:{end % 60:02d}"
    assert all(row.time.endswith(("0", "5")) for row in rows)


def test_a_two_hour_meeting_keeps_every_part_with_other_business_before_the_end() -> None:
    rows = default_agenda(START, START + timedelta(hours=2), topic=None, locale="fr-CA", tz=TZ)

    assert [(row.time, row.title) for row in rows] == [
        ("13:00", fr("agenda.default.welcome")),
        ("13:10", fr("agenda.default.round_table")),
        ("13:30", fr("agenda.default.formative")),
        ("14:15", fr("agenda.default.reflective")),
        ("14:45", fr("agenda.default.other_business")),
        ("15:00", fr("agenda.default.end")),
    ]
