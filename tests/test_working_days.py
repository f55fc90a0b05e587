"""Quebec's working days: the computus, each statutory holiday on known dates, the operator's
extra days off, counting across a long weekend, and the setting's validation at start."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from storage.working_days import (
    add_working_days,
    easter_sunday,
    is_working_day,
    parse_non_working_days,
    quebec_holidays,
    working_days_between,
)
from tests.conftest import make_settings

TZ = "America/Montreal"


def montreal(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


# -- Easter -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2028, date(2028, 4, 16)),
        (2029, date(2029, 4, 1)),
        (2030, date(2030, 4, 21)),
        (2008, date(2008, 3, 23)),  # nearly the earliest
        (2011, date(2011, 4, 24)),
        (2038, date(2038, 4, 25)),  # the latest possible date
        (1818, date(1818, 3, 22)),  # the earliest possible date
        (2285, date(2285, 3, 22)),
        (1943, date(1943, 4, 25)),
    ],
)
def test_easter_sunday_on_known_years(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_easter_is_always_a_sunday_between_22_march_and_25_april() -> None:
    for year in range(1583, 4100):
        easter = easter_sunday(year)
        assert easter.weekday() == 6, year
        assert date(year, 3, 22) <= easter <= date(year, 4, 25), year


# -- the holidays -----------------------------------------------------------------------------


def test_the_holidays_of_2026() -> None:
    assert quebec_holidays(2026) == {
        date(2026, 1, 1): "new_year",
        date(2026, 4, 3): "good_friday",
        date(2026, 4, 6): "easter_monday",
        date(2026, 5, 18): "patriotes",
        date(2026, 6, 24): "fete_nationale",
        date(2026, 7, 1): "canada_day",
        date(2026, 9, 7): "labour_day",
        date(2026, 10, 12): "thanksgiving",
        date(2026, 12, 25): "christmas",
    }


def test_good_friday_and_easter_monday_follow_easter() -> None:
    holidays_2027 = quebec_holidays(2027)
    assert holidays_2027[date(2027, 3, 26)] == "good_friday"
    assert holidays_2027[date(2027, 3, 29)] == "easter_monday"
    assert not is_working_day(date(2027, 3, 26))
    assert not is_working_day(date(2027, 3, 29))
    assert is_working_day(date(2027, 3, 25))
    assert is_working_day(date(2027, 3, 30))


@pytest.mark.parametrize(
    ("year", "monday"),
    [
        (2026, date(2026, 5, 18)),
        (2027, date(2027, 5, 24)),  # 25 May is a Tuesday: the day before
        (2028, date(2028, 5, 22)),
        (2030, date(2030, 5, 20)),  # 25 May is a Saturday
        (2031, date(2031, 5, 19)),  # 25 May is a Sunday: never the 25th itself
    ],
)
def test_patriotes_is_the_monday_before_25_may(year: int, monday: date) -> None:
    (found,) = [day for day, code in quebec_holidays(year).items() if code == "patriotes"]
    assert found == monday
    assert found.weekday() == 0


def test_fete_nationale_on_a_saturday_stays_on_the_24th() -> None:
    assert date(2028, 6, 24).weekday() == 5
    assert quebec_holidays(2028)[date(2028, 6, 24)] == "fete_nationale"
    # No day off in lieu: Monday the 26th is worked.
    assert is_working_day(date(2028, 6, 26))
    assert is_working_day(date(2028, 6, 23))


def test_fete_nationale_on_a_sunday_moves_to_the_25th() -> None:
    assert date(2035, 6, 24).weekday() == 6
    holidays_2035 = quebec_holidays(2035)
    assert holidays_2035[date(2035, 6, 25)] == "fete_nationale"
    assert date(2035, 6, 24) not in holidays_2035
    assert not is_working_day(date(2035, 6, 25))


def test_canada_day_on_a_sunday_moves_to_2_july() -> None:
    assert date(2029, 7, 1).weekday() == 6
    holidays_2029 = quebec_holidays(2029)
    assert holidays_2029[date(2029, 7, 2)] == "canada_day"
    assert date(2029, 7, 1) not in holidays_2029
    assert not is_working_day(date(2029, 7, 2))
    assert is_working_day(date(2029, 7, 3))
    # On a Saturday it stays put (2028): Monday 3 July is worked.
    assert quebec_holidays(2028)[date(2028, 7, 1)] == "canada_day"
    assert is_working_day(date(2028, 7, 3))


def test_labour_day_and_thanksgiving_are_the_first_and_second_mondays() -> None:
    assert quebec_holidays(2026)[date(2026, 9, 7)] == "labour_day"
    assert quebec_holidays(2026)[date(2026, 10, 12)] == "thanksgiving"
    # 1 September and 1 October on a Monday (2031 and 2029): the first Monday is the 1st.
    assert quebec_holidays(2031)[date(2031, 9, 1)] == "labour_day"
    assert quebec_holidays(2029)[date(2029, 10, 8)] == "thanksgiving"


def test_nine_holidays_every_year_new_year_and_christmas_fixed() -> None:
    for year in range(2020, 2060):
        found = quebec_holidays(year)
        assert len(found) == 9, year
        assert found[date(year, 1, 1)] == "new_year"
        assert found[date(year, 12, 25)] == "christmas"
        assert all(day.year == year for day in found)


def test_weekends_and_extra_days_are_not_working_days() -> None:
    assert is_working_day(date(2026, 12, 24))  # Thursday
    assert not is_working_day(date(2026, 12, 25))  # Christmas
    assert is_working_day(date(2026, 12, 28))
    assert not is_working_day(date(2026, 12, 26))  # Saturday
    closure = [date(2026, 12, 28), date(2026, 12, 29)]
    assert not is_working_day(date(2026, 12, 28), extra_non_working=closure)
    assert is_working_day(date(2026, 12, 30), extra_non_working=closure)


# -- counting ---------------------------------------------------------------------------------


def test_counting_skips_the_easter_weekend() -> None:
    thursday = montreal(2026, 4, 2, 15)  # the day before Good Friday
    assert add_working_days(thursday, 1, tz=TZ) == montreal(2026, 4, 7, 15)
    assert add_working_days(thursday, 2, tz=TZ) == montreal(2026, 4, 8, 15)
    assert add_working_days(thursday, 5, tz=TZ) == montreal(2026, 4, 13, 15)
    assert working_days_between(thursday, montreal(2026, 4, 6, 23, 59), tz=TZ) == 0
    assert working_days_between(thursday, montreal(2026, 4, 7, 15), tz=TZ) == 1
    # Submitted on Good Friday: counted from Tuesday 00:00.
    assert add_working_days(montreal(2026, 4, 3, 10), 1, tz=TZ) == montreal(2026, 4, 8, 0)


def test_counting_from_christmas_eve_with_an_extra_day_off() -> None:
    eve = montreal(2026, 12, 24, 11)
    assert add_working_days(eve, 1, tz=TZ) == montreal(2026, 12, 28, 11)
    # 2027-01-01 is a Friday (a holiday): 28, 29, 30, 31 December, then 4 January.
    assert add_working_days(eve, 5, tz=TZ) == montreal(2027, 1, 4, 11)
    closed = (date(2026, 12, 28), date(2026, 12, 31))
    assert add_working_days(eve, 1, tz=TZ, extra_non_working=closed) == montreal(2026, 12, 29, 11)
    assert add_working_days(eve, 3, tz=TZ, extra_non_working=closed) == montreal(2027, 1, 4, 11)
    assert working_days_between(eve, montreal(2027, 1, 4, 11), tz=TZ, extra_non_working=closed) == 3


def test_the_local_date_decides_not_utc() -> None:
    # Thursday 2 April 2026 at 21:00 in Montreal is already Good Friday in UTC.
    evening = montreal(2026, 4, 2, 21)
    assert evening.date() == date(2026, 4, 3)
    assert add_working_days(evening, 1, tz=TZ) == montreal(2026, 4, 7, 21)


def test_a_long_wait_is_counted_day_by_day() -> None:
    start = montreal(2026, 1, 5, 9)  # Monday
    end = start + timedelta(days=364)  # Monday 4 January 2027
    weekdays = sum(1 for n in range(1, 365) if (date(2026, 1, 5) + timedelta(days=n)).weekday() < 5)
    # The 2026 holidays after 5 January all fall on weekdays, and 1 January 2027 is a Friday.
    assert working_days_between(start, end, tz=TZ) == weekdays - 8 - 1


# -- the setting ------------------------------------------------------------------------------


def test_parse_non_working_days() -> None:
    assert parse_non_working_days("") == ()
    assert parse_non_working_days(" 2026-12-26 , 2026-12-24,2026-12-26, ") == (
        date(2026, 12, 24),
        date(2026, 12, 26),
    )
    for wrong in ("26/12/2026", "2026-02-30", "20261226", "2026-W52-6", "demain"):
        with pytest.raises(ValueError, match="is not a date"):
            parse_non_working_days(f"2026-12-24,{wrong}")


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARREFOUR_EXTRA_NON_WORKING_DAYS", "2026-12-26,2027-01-02")
    settings = Settings(_env_file=None)
    assert settings.extra_non_working_days == (date(2026, 12, 26), date(2027, 1, 2))
    monkeypatch.delenv("CARREFOUR_EXTRA_NON_WORKING_DAYS")
    assert Settings(_env_file=None).extra_non_working_days == ()


def test_a_wrong_date_in_the_setting_fails_at_start_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        make_settings("sqlite+aiosqlite://", CARREFOUR_EXTRA_NON_WORKING_DAYS="2026-12-26,26 déc")
    message = str(caught.value)
    assert "CARREFOUR_EXTRA_NON_WORKING_DAYS" in message
    assert "'26 déc' is not a date" in message
    assert "YYYY-MM-DD" in message
