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
from collections import deque
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import compress, count, repeat
from operator import add, and_, ge, gt, le
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
    (Civil Code art. 203): the due date and the rest day it was moved from, if any.

    Answered from the day table (the same as :func:`nth_workday_after` then
    :func:`next_workday`, without the calls in between)."""
    table = _table()
    first = table.first_ordinal
    if working and n > 0:
        i = base.toordinal() - first
        if not FIRST_YEAR <= base.year <= LAST_YEAR:
            raise CalendarYearError(base.year)
        rank = table.cumulative[i + 1] + n - 1
        if rank >= len(table.workday_index):
            raise CalendarYearError(LAST_YEAR + 1)
        # A working day already: moving it off rest days changes nothing.
        return dt.date.fromordinal(table.workday_index[rank] + first), None
    day = base + dt.timedelta(days=n) if not working else base
    if not move:
        return day, None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarYearError(day.year)
    ordinal = day.toordinal()
    found = table.next_work[ordinal - first]
    if not found:
        raise CalendarYearError(LAST_YEAR + 1)
    if found == ordinal:
        return day, None
    return dt.date.fromordinal(found), day


def due_dates(bases: Sequence[dt.date], days: Sequence[int], working: bool,
              move: bool) -> list[dt.date | None]:
    """:func:`due_date` for many ``(base, n)`` of one day type and move switch at once,
    by whole columns over the day table: the due dates, None for each one the table
    cannot settle alone (outside the holiday data, or ``n <= 0`` working days), which
    the caller asks :func:`due_date` about one by one."""
    if not bases:
        return []
    table = _table()
    first = table.first_ordinal
    end = first + len(table.workday)  # first ordinal past the data
    ordinals = list(map(dt.date.toordinal, bases))
    if working:
        # The n-th working day after base: rank of base's next working day + n - 1.
        if min(ordinals) >= first and max(ordinals) < end and min(days) > 0:
            # rank + 1 = working days up to base + n, counted on the 1-based index
            after = list(map(add, map(table.cumulative.__getitem__,
                                      map(add, ordinals, repeat(1 - first))), days))
            if max(after) <= len(table.workday_index):
                ordinal_of = _working_ordinals()
                return list(map(dt.date.fromordinal, map(ordinal_of.__getitem__, after)))
        return _due_dates_each(ordinals, days, working, move, first, end)
    targets = list(map(add, ordinals, days))
    low, high = min(targets), max(targets)
    if not move:
        if low >= 1 and high <= _MAX:
            return list(map(dt.date.fromordinal, targets))
    elif low >= first and high < end:
        moved = list(map(table.next_work.__getitem__, map(add, targets, repeat(-first))))
        if 0 not in moved:  # 0: no working day left in the data
            return list(map(dt.date.fromordinal, moved))
    return _due_dates_each(ordinals, days, working, move, first, end)


def _due_dates_each(ordinals: list[int], days: Sequence[int], working: bool, move: bool,
                    first: int, end: int) -> list[dt.date | None]:
    """:func:`due_dates` when some of them fall outside the data: by masks."""
    table = _table()
    out: list[dt.date | None] = [None] * len(ordinals)
    if working:
        ok = _where(map(and_, map(le, repeat(first), ordinals), map(gt, repeat(end), ordinals)))
        ok = list(compress(ok, map(gt, map(days.__getitem__, ok), repeat(0))))
        ranks = list(map(add, map(table.cumulative.__getitem__,
                                  map(add, map(ordinals.__getitem__, ok), repeat(1 - first))),
                         map(add, map(days.__getitem__, ok), repeat(-1))))
        inside = list(map(gt, repeat(len(table.workday_index)), ranks))
        ok, ranks = list(compress(ok, inside)), list(compress(ranks, inside))
        found: Iterable[int] = map(add, map(table.workday_index.__getitem__, ranks),
                                   repeat(first))
    else:
        targets = list(map(add, ordinals, days))
        if not move:
            ok = _where(map(and_, map(le, repeat(1), targets), map(ge, repeat(_MAX), targets)))
            found = map(targets.__getitem__, ok)
        else:
            ok = _where(map(and_, map(le, repeat(first), targets), map(gt, repeat(end), targets)))
            moved = list(map(table.next_work.__getitem__,
                             map(add, map(targets.__getitem__, ok), repeat(-first))))
            known = list(map(bool, moved))  # 0: no working day left in the data
            ok, found = list(compress(ok, known)), compress(moved, known)
    _run(map(out.__setitem__, ok, map(dt.date.fromordinal, found)))
    return out


_MAX = dt.date.max.toordinal()


@lru_cache(maxsize=1)
def _working_ordinals() -> tuple[int, ...]:
    """The ordinal of the k-th working day of the data at index k (1-based; 0 unused)."""
    table = _table()
    return (0, *(i + table.first_ordinal for i in table.workday_index))


def _where(flags: Iterable[object]) -> list[int]:
    return list(compress(count(), flags))


def _run(effects: Iterable[object]) -> None:
    deque(effects, maxlen=0)


def approx_is_workday(day: dt.date) -> bool:
    """:func:`is_workday` inside the data; Monday to Friday outside it (provisional)."""
    return is_workday(day) if supported(day) else day.weekday() < 5


def approx_add_days(day: dt.date, n: int, day_type: str, move_off_rest: bool) -> dt.date:
    """A provisional due date for a period running past the holiday data: known days use
    the calendar, unknown days count Monday to Friday as working days."""
    table = _table()
    flags, first = table.workday, table.first_ordinal
    last = first + len(flags) - 1  # the last day of the data

    def workday(ordinal: int) -> bool:  # approx_is_workday on ordinals
        if first <= ordinal <= last:
            return flags[ordinal - first] == 1
        return (ordinal + 6) % 7 < 5  # Monday to Friday

    ordinal = day.toordinal()
    if day_type == WORKING_DAYS:
        while n > 0:
            ordinal += 1
            n -= workday(ordinal)
    else:
        ordinal += n
    while move_off_rest and not workday(ordinal):
        ordinal += 1
    if not 1 <= ordinal <= _MAX:
        raise OverflowError("date value out of range")
    return dt.date.fromordinal(ordinal)


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


def working_us(start: dt.datetime, stop: dt.datetime, day_start: int, day_end: int) -> int:
    """Microseconds of ``start..stop`` inside ``day_start:00-day_end:00`` on working days."""
    if stop <= start:
        return 0
    since = working_clock_us(start, day_start, day_end)  # start first: its year is named
    return working_clock_us(stop, day_start, day_end) - since


def working_clock_us(moment: dt.datetime, day_start: int, day_end: int) -> int:
    """Working microseconds from the start of the holiday data up to ``moment``: whole
    working days before its day, plus the part of its own day's office hours that has
    passed if that day is a working day. ``working_us(a, b) == clock(b) - clock(a)``."""
    day = moment.date()
    table = _table()
    i = day.toordinal() - table.first_ordinal
    day_len = (day_end - day_start) * US_PER_HOUR
    if i == len(table.workday) and moment.time() == dt.time(0):
        # Midnight after the data's last day (a clock judged at the end of 31 December of
        # the last year): no time of the unknown year has passed yet.
        return table.cumulative[i] * day_len
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarYearError(day.year)
    done = table.cumulative[i] * day_len
    if not table.workday[i]:
        return done
    into = ((moment.hour - day_start) * 3600 + moment.minute * 60 + moment.second) \
        * US_PER_SECOND + moment.microsecond
    return done + (0 if into <= 0 else day_len if into >= day_len else into)


def _us(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def elapsed_us(start: dt.datetime, stop: dt.datetime) -> int:
    """Microseconds from ``start`` to ``stop`` on a 24x7 clock (0 if ``stop`` is earlier)."""
    return max(0, _us(stop - start))


def supported(day: dt.date) -> bool:
    """Whether the installed holiday data covers ``day``'s year."""
    return FIRST_YEAR <= day.year <= LAST_YEAR
