"""Working days in Quebec: Monday to Friday, except statutory holidays and declared closures.

The holidays are those of the Loi sur les normes du travail (art. 60) and of the Loi sur la fête
nationale, as the health and social-services network observes them: 1 January, Good Friday
*and* Easter Monday (the law lets an employer choose one; the network gives both), the Journée
nationale des patriotes (the Monday before 25 May), the Fête nationale (24 June, or 25 June when
the 24th is a Sunday), Canada Day (1 July, or 2 July when the 1st is a Sunday), Labour Day (first
Monday of September), Thanksgiving (second Monday of October) and Christmas (25 December).
Operators add other days (26 December, a local closure) with `CARREFOUR_EXTRA_NON_WORKING_DAYS`.

Pure functions, no I/O: a few lines of arithmetic rather than a holidays package, whose
provincial rules we would still have to check against the network's practice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SATURDAY = 5
SUNDAY = 6
MONDAY = 0
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def easter_sunday(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (the anonymous computus of Meeus, Jones and
    Butcher), valid from 1583 on."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(MONDAY - first.weekday()) % 7)


def _unless_sunday(day: date) -> date:
    return day + timedelta(days=1) if day.weekday() == SUNDAY else day


@lru_cache(maxsize=64)
def quebec_holidays(year: int) -> Mapping[date, str]:
    """The statutory holidays of `year` observed by the network: date → code (cached: read
    only)."""
    easter = easter_sunday(year)
    may_24 = date(year, 5, 24)
    return {
        date(year, 1, 1): "new_year",
        easter - timedelta(days=2): "good_friday",
        easter + timedelta(days=1): "easter_monday",
        # The Monday before 25 May: between the 18th and the 24th.
        may_24 - timedelta(days=may_24.weekday()): "patriotes",
        _unless_sunday(date(year, 6, 24)): "fete_nationale",
        _unless_sunday(date(year, 7, 1)): "canada_day",
        _first_monday(year, 9): "labour_day",
        _first_monday(year, 10) + timedelta(weeks=1): "thanksgiving",
        date(year, 12, 25): "christmas",
    }


def is_working_day(day: date, *, extra_non_working: Iterable[date] = ()) -> bool:
    """Monday to Friday, neither a Quebec statutory holiday nor one of `extra_non_working`."""
    return (
        day.weekday() < SATURDAY
        and day not in quebec_holidays(day.year)
        and day not in frozenset(extra_non_working)
    )


def parse_non_working_days(text: str) -> tuple[date, ...]:
    """`2026-12-26, 2027-01-02` → the dates, sorted and without repeats. Raises ValueError
    naming the first entry that is not an ISO date (YYYY-MM-DD)."""
    found: set[date] = set()
    for item in text.split(","):
        entry = item.strip()
        if not entry:
            continue
        try:
            if not _ISO_DATE.fullmatch(entry):
                raise ValueError(entry)
            found.add(date.fromisoformat(entry))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not a date: give ISO dates (YYYY-MM-DD) separated by commas, "
                "e.g. 2026-12-26,2027-01-02"
            ) from None
    return tuple(sorted(found))


class _Calendar:
    """Working days in one time zone, with the operator's extra days off."""

    def __init__(self, tz: str, extra_non_working: Iterable[date]) -> None:
        self.zone = ZoneInfo(tz)
        self.extra = frozenset(extra_non_working)

    def working(self, day: date) -> bool:
        return is_working_day(day, extra_non_working=self.extra)

    def first_moment(self, start: datetime) -> datetime:
        """`start` in local time if it falls on a working day, else the next one at 00:00."""
        local = start.astimezone(self.zone)
        if self.working(local.date()):
            return local
        day = local.date() + timedelta(days=1)
        while not self.working(day):
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=self.zone)

    def next_day(self, local: datetime) -> datetime:
        day = local.date() + timedelta(days=1)
        while not self.working(day):
            day += timedelta(days=1)
        # Rebuilt from the wall-clock time so a change of daylight saving time keeps the hour.
        return datetime.combine(day, local.time(), tzinfo=self.zone)


def add_working_days(
    start: datetime, days: int, *, tz: str, extra_non_working: Iterable[date] = ()
) -> datetime:
    """`days` working days (in `tz`) after `start`, at the same local time. A start on a day
    off (weekend, holiday, extra day) counts from the next working day at 00:00."""
    calendar = _Calendar(tz, extra_non_working)
    local = calendar.first_moment(start)
    for _ in range(days):
        local = calendar.next_day(local)
    return local.astimezone(UTC)


def working_days_between(
    start: datetime, end: datetime, *, tz: str, extra_non_working: Iterable[date] = ()
) -> int:
    """Whole working days from `start` to `end` (0 when `end` comes before the first one)."""
    calendar = _Calendar(tz, extra_non_working)
    local = calendar.first_moment(start)
    days = 0
    while True:
        local = calendar.next_day(local)
        if local > end:
            return days
        days += 1
