"""The Chinese working-day calendar the engine counts with.

Working days follow the State Council's yearly schedule including make-up workdays
(调休), as published in the ``chinesecalendar`` package. The package only knows the
years it shipped with; a date outside them raises :class:`CalendarYearError`, which the
callers turn into a located Problem (:func:`calendar_problem`) naming the year and the
upgrade, never a crash.

Day sums are answered from a per-day table built once, so counting N working days or the
working seconds of a long-open incident costs two lookups, not a walk over the days.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import NamedTuple

import chinese_calendar
from chinese_calendar import constants as _cc

from ..records import Problem, Severity, Source

_DAY = dt.timedelta(days=1)
US_PER_SECOND = 1_000_000
US_PER_HOUR = 3600 * US_PER_SECOND

FIRST_YEAR: int = min(_cc.holidays).year
"""First year the installed ``chinesecalendar`` has data for."""
LAST_YEAR: int = max(_cc.holidays).year
"""Last year the installed ``chinesecalendar`` has data for."""
PACKAGE_VERSION: str = str(getattr(chinese_calendar, "__version__", "?"))

CALENDAR_DAYS = "calendar"
WORKING_DAYS = "working"
DAY_TYPES = frozenset({CALENDAR_DAYS, WORKING_DAYS})


class CalendarYearError(Exception):
    """A date lies in a year the installed holiday data does not cover."""

    def __init__(self, year: int) -> None:
        super().__init__(calendar_message(year))
        self.year = year


def calendar_message(year: int) -> str:
    return (
        f"no Chinese holiday calendar for {year}: the installed chinesecalendar "
        f"{PACKAGE_VERSION} covers {FIRST_YEAR}-{LAST_YEAR}; upgrade it "
        f"(pip install -U chinesecalendar) once the State Council has published the "
        f"{year} holidays"
    )


def calendar_problem(src: Source, key: str | None, year: int, what: str,
                     severity: Severity = Severity.ERROR) -> Problem:
    """A located Problem for ``what`` (e.g. "the due date of P-1") needing year ``year``."""
    return Problem.at(src, key, f"{what}: {calendar_message(year)}", severity)


class _Table(NamedTuple):
    first_ordinal: int
    workday: bytes  # 1 per working day, indexed by ordinal - first_ordinal
    cumulative: tuple[int, ...]  # cumulative[i] = working days before index i
    workday_index: tuple[int, ...]  # indexes of working days, ascending
    next_work: tuple[int, ...]  # ordinal of the first working day from index i on; 0: none


@lru_cache(maxsize=1)
def _table() -> _Table:
    first = dt.date(FIRST_YEAR, 1, 1)
    last = dt.date(LAST_YEAR, 12, 31)
    holidays = _cc.holidays
    makeup = _cc.workdays
    flags = bytearray()
    day = first
    while day <= last:
        flags.append(1 if day in makeup or (day.weekday() < 5 and day not in holidays) else 0)
        day += _DAY
    cumulative = [0]
    for flag in flags:
        cumulative.append(cumulative[-1] + flag)
    index = tuple(i for i, flag in enumerate(flags) if flag)
    base = first.toordinal()
    next_work = [0] * len(flags)
    upcoming = 0
    for i in range(len(flags) - 1, -1, -1):
        if flags[i]:
            upcoming = base + i
        next_work[i] = upcoming
    return _Table(base, bytes(flags), tuple(cumulative), index, tuple(next_work))


def _index(day: dt.date) -> int:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarYearError(day.year)
    return day.toordinal() - _table().first_ordinal


def is_workday(day: dt.date) -> bool:
    """True on Chinese working days, make-up Saturdays and Sundays included."""
    return _table().workday[_index(day)] == 1


def next_workday(day: dt.date) -> dt.date:
    """``day`` itself when it is a working day, else the first working day after it."""
    found = _table().next_work[_index(day)]
    if not found:
        raise CalendarYearError(LAST_YEAR + 1)
    return day if found == day.toordinal() else dt.date.fromordinal(found)


def due_date(base: dt.date, n: int, working: bool, move: bool) -> tuple[dt.date, dt.date | None]:
    """``n`` calendar (or working) days after ``base``, moved off a rest day when ``move``
    (Civil Code art. 203): the due date and the rest day it was moved from, if any."""
    day = nth_workday_after(base, n) if working else base + dt.timedelta(days=n)
    if not move:
        return day, None
    moved = next_workday(day)
    return moved, (day if moved != day else None)


def approx_is_workday(day: dt.date) -> bool:
    """:func:`is_workday` inside the data; Monday to Friday outside it (provisional)."""
    return is_workday(day) if supported(day) else day.weekday() < 5


def approx_add_days(day: dt.date, n: int, day_type: str, move_off_rest: bool) -> dt.date:
    """A provisional due date for a period running past the holiday data: known days use
    the calendar, unknown days count Monday to Friday as working days."""
    if day_type == WORKING_DAYS:
        while n > 0:
            day += _DAY
            n -= approx_is_workday(day)
    else:
        day += dt.timedelta(days=n)
    while move_off_rest and not approx_is_workday(day):
        day += _DAY
    return day


def nth_workday_after(day: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``day`` (``day`` itself not counted); ``n=0``: ``day``."""
    if n <= 0:
        return day
    table = _table()
    start = _index(day)
    position = table.cumulative[start + 1] + n - 1  # rank of the wanted working day
    if position >= len(table.workday_index):
        # The answer lies past the data; name the first year we cannot see.
        raise CalendarYearError(LAST_YEAR + 1)
    return dt.date.fromordinal(table.workday_index[position] + table.first_ordinal)


def workdays_between(first: dt.date, last: dt.date) -> int:
    """Working days in ``first..last`` inclusive (0 when ``last < first``)."""
    if last < first:
        return 0
    cumulative = _table().cumulative
    return cumulative[_index(last) + 1] - cumulative[_index(first)]


def working_us(start: dt.datetime, stop: dt.datetime, day_start: int, day_end: int) -> int:
    """Microseconds of ``start..stop`` inside ``day_start:00-day_end:00`` on working days."""
    if stop <= start:
        return 0
    first, last = start.date(), stop.date()
    day_len = (day_end - day_start) * US_PER_HOUR

    def overlap(day: dt.date, lo: dt.datetime, hi: dt.datetime) -> int:
        if not is_workday(day):
            return 0
        opens = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=day_start)
        closes = opens + dt.timedelta(hours=day_end - day_start)
        a, b = max(lo, opens), min(hi, closes)
        return _us(b - a) if b > a else 0

    if first == last:
        return overlap(first, start, stop)
    midnight_after = dt.datetime.combine(first + _DAY, dt.time())
    midnight_last = dt.datetime.combine(last, dt.time())
    return (
        overlap(first, start, midnight_after)
        + workdays_between(first + _DAY, last - _DAY) * day_len
        + overlap(last, midnight_last, stop)
    )


def _us(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def elapsed_us(start: dt.datetime, stop: dt.datetime) -> int:
    """Microseconds from ``start`` to ``stop`` on a 24x7 clock (0 if ``stop`` is earlier)."""
    return max(0, _us(stop - start))


def supported(day: dt.date) -> bool:
    """Whether the installed holiday data covers ``day``'s year."""
    return FIRST_YEAR <= day.year <= LAST_YEAR
