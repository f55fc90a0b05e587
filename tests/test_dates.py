"""Dates and times as people in Quebec write them (« mardi 29 décembre 2026, de 9 h à 16 h »,
« à 9 h 30 », « 1er décembre ») and as English readers expect them (« 9:30 AM »), through the
one set of helpers in cards/i18n.py, including midnight, noon and the days the clocks change
in Montréal. Times are stored in UTC: every case gives a UTC instant and checks the local
wall time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cards.i18n import format_clock, format_day, format_month, format_span, format_when, long_date

TZ = "America/Montreal"
NBSP = "\u00a0"


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 29 December 2026 is a Tuesday; Montréal is on EST (UTC−5) then.
NINE = utc(2026, 12, 29, 14, 0)
NINE_THIRTY = utc(2026, 12, 29, 14, 30)
FOUR_PM = utc(2026, 12, 29, 21, 0)


@pytest.mark.parametrize(
    ("moment", "french", "english"),
    [
        (NINE, "9 h", "9:00 AM"),
        (NINE_THIRTY, "9 h 30", "9:30 AM"),
        (FOUR_PM, "16 h", "4:00 PM"),
        (utc(2026, 12, 29, 21, 5), "16 h 05", "4:05 PM"),
        (utc(2026, 12, 29, 5, 0), "0 h", "12:00 AM"),  # midnight
        (utc(2026, 12, 29, 5, 15), "0 h 15", "12:15 AM"),
        (utc(2026, 12, 29, 17, 0), "12 h", "12:00 PM"),  # noon
    ],
)
def test_clock_is_quebec_style_in_french_and_twelve_hour_in_english(
    moment: datetime, french: str, english: str
) -> None:
    # Spaces are non-breaking: « 16 h 05 » or « 4:05 PM » never splits across two lines.
    assert format_clock(moment, locale="fr-CA", tz=TZ) == french.replace(" ", NBSP)
    assert format_clock(moment, locale="en-US", tz=TZ) == english.replace(" ", NBSP)


def test_no_leading_zero_and_no_breakable_space_in_a_french_time() -> None:
    for hour in range(24):
        for minute in (0, 5, 30):
            text = format_clock(utc(2026, 7, 1, hour, minute), locale="fr-CA", tz=TZ)
            assert not text.startswith("0") or text.startswith("0" + NBSP), text
            assert " " not in text, text
            assert "\u202f" not in text, text


def test_when_joins_the_full_day_and_the_time() -> None:
    assert (
        format_when(NINE_THIRTY, locale="fr-CA", tz=TZ)
        == f"mardi 29 décembre 2026 à 9{NBSP}h{NBSP}30"
    )
    assert format_when(NINE, locale="fr-CA", tz=TZ) == f"mardi 29 décembre 2026 à 9{NBSP}h"
    assert format_when(NINE_THIRTY, locale="en-US", tz=TZ) == (
        f"Tuesday, December 29, 2026 at 9:30{NBSP}AM"
    )


def test_span_on_one_day_names_the_day_once() -> None:
    assert format_span(NINE, FOUR_PM, locale="fr-CA", tz=TZ) == (
        f"mardi 29 décembre 2026, de 9{NBSP}h à 16{NBSP}h"
    )
    assert format_span(NINE, FOUR_PM, locale="en-US", tz=TZ) == (
        f"Tuesday, December 29, 2026, 9:00{NBSP}AM – 4:00{NBSP}PM"
    )


def test_span_over_two_days_names_both_in_full() -> None:
    # 29 December 19 h to 30 December 2 h (local): midnight is crossed, so both days are named.
    start, end = utc(2026, 12, 30, 0, 0), utc(2026, 12, 30, 7, 0)
    assert format_span(start, end, locale="fr-CA", tz=TZ) == (
        f"du mardi 29 décembre 2026 à 19{NBSP}h au mercredi 30 décembre 2026 à 2{NBSP}h"
    )
    assert format_span(start, end, locale="en-US", tz=TZ) == (
        f"Tuesday, December 29, 2026 at 7:00{NBSP}PM – Wednesday, December 30, 2026 at 2:00{NBSP}AM"
    )


def test_span_that_ends_at_midnight_local_is_on_the_next_day() -> None:
    # 22 h to 0 h: the end is the next day's midnight, and the text says so.
    start, end = utc(2026, 12, 30, 3, 0), utc(2026, 12, 30, 5, 0)
    assert format_span(start, end, locale="fr-CA", tz=TZ) == (
        f"du mardi 29 décembre 2026 à 22{NBSP}h au mercredi 30 décembre 2026 à 0{NBSP}h"
    )


def test_first_of_the_month_is_1er_in_french_only() -> None:
    first = utc(2026, 12, 1, 14, 0)
    assert format_day(first, locale="fr-CA", tz=TZ) == "mardi 1er décembre 2026"
    assert format_when(first, locale="fr-CA", tz=TZ) == f"mardi 1er décembre 2026 à 9{NBSP}h"
    assert format_span(first, utc(2026, 12, 1, 21, 0), locale="fr-CA", tz=TZ) == (
        f"mardi 1er décembre 2026, de 9{NBSP}h à 16{NBSP}h"
    )
    assert format_day(first, locale="en-US", tz=TZ) == "Tuesday, December 1, 2026"
    # Only the day of the month: 11, 21 and 31 stay as they are.
    assert (
        format_day(utc(2026, 12, 11, 14, 0), locale="fr-CA", tz=TZ) == "vendredi 11 décembre 2026"
    )
    assert format_day(utc(2026, 12, 31, 14, 0), locale="fr-CA", tz=TZ) == "jeudi 31 décembre 2026"
    assert long_date(date(2027, 1, 1), "fr-CA") == "1er janvier 2027"
    assert long_date(date(2027, 1, 1), "en-US") == "January 1, 2027"


def test_the_local_day_decides_the_date_not_the_utc_day() -> None:
    # 30 December 03:00 UTC is still the evening of 29 December in Montréal.
    late = utc(2026, 12, 30, 3, 0)
    assert format_when(late, locale="fr-CA", tz=TZ) == f"mardi 29 décembre 2026 à 22{NBSP}h"


def test_naive_times_from_the_database_are_read_as_utc() -> None:
    # SQLite hands back naive datetimes; they were stored in UTC, not in local time.
    assert format_clock(datetime(2026, 12, 29, 14, 0), locale="fr-CA", tz=TZ) == f"9{NBSP}h"


@pytest.mark.parametrize(
    ("moment", "french", "english"),
    [
        # Spring forward, Sunday 8 March 2026: 2 h EST becomes 3 h EDT.
        (utc(2026, 3, 8, 6, 59), "1 h 59", "1:59 AM"),
        (utc(2026, 3, 8, 7, 0), "3 h", "3:00 AM"),
        (utc(2026, 3, 8, 14, 0), "10 h", "10:00 AM"),  # the same UTC hour was 9 h the day before
        (utc(2026, 3, 7, 14, 0), "9 h", "9:00 AM"),
        # Fall back, Sunday 1 November 2026: 1 h 30 happens twice, 2 h EDT becomes 1 h EST.
        (utc(2026, 11, 1, 5, 30), "1 h 30", "1:30 AM"),
        (utc(2026, 11, 1, 6, 30), "1 h 30", "1:30 AM"),
        (utc(2026, 11, 1, 14, 0), "9 h", "9:00 AM"),
        (utc(2026, 10, 31, 14, 0), "10 h", "10:00 AM"),
    ],
)
def test_days_when_the_clocks_change_in_montreal(
    moment: datetime, french: str, english: str
) -> None:
    assert format_clock(moment, locale="fr-CA", tz=TZ) == french.replace(" ", NBSP)
    assert format_clock(moment, locale="en-US", tz=TZ) == english.replace(" ", NBSP)


def test_span_across_the_spring_change_keeps_each_end_in_its_own_offset() -> None:
    # A day-long event on 8 March: 9 h EDT (13:00 UTC) to 16 h EDT (20:00 UTC).
    start, end = utc(2026, 3, 8, 13, 0), utc(2026, 3, 8, 20, 0)
    assert format_span(start, end, locale="fr-CA", tz=TZ) == (
        f"dimanche 8 mars 2026, de 9{NBSP}h à 16{NBSP}h"
    )
    # An overnight span over the change: 0 h EST (05:00 UTC) to 4 h EDT (08:00 UTC), same day.
    assert format_span(utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 8, 0), locale="en-US", tz=TZ) == (
        f"Sunday, March 8, 2026, 12:00{NBSP}AM – 4:00{NBSP}AM"
    )


def test_month_names_short_for_chart_axes() -> None:
    assert format_month(date(2026, 1, 1), locale="fr-CA", abbreviated=True) == "janv."
    assert format_month(date(2026, 1, 1), locale="en-US", abbreviated=True) == "Jan"
    assert format_month(date(2026, 1, 1), locale="fr-CA") == "janvier 2026"
    assert format_month(date(2026, 1, 1), locale="en-US") == "January 2026"
