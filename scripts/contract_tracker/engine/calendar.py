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
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from itertools import compress, count, repeat
from operator import add, and_, ge, gt, le
from typing import NamedTuple

import chinese_calendar
from chinese_calendar import constants as _cc

from ..records import HolidayRule, Problem, Severity, Source

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
    """A date lies in a year the holiday data in force does not cover."""

    def __init__(self, year: int) -> None:
        super().__init__(calendar_message(year))
        self.year = year


def calendar_message(year: int) -> str:
    typed = _table().typed_years
    covers = f"{FIRST_YEAR}-{LAST_YEAR}"
    if typed:
        covers += f" ({typed[0]}{'-' + str(typed[-1]) if len(typed) > 1 else ''} from the " \
                  f"{HOLIDAYS_TABLE})"
    return (
        f"no Chinese holiday calendar for {year}: the installed chinesecalendar "
        f"{PACKAGE_VERSION} covers {covers}; upgrade it (pip install -U chinesecalendar) "
        f"once it covers {year}, or type the State Council's {year} holiday arrangement "
        f"into the {HOLIDAYS_TABLE} once it is published"
    )


HOLIDAYS_TABLE = "节假日安排 table of the Settings sheet"


def calendar_problem(src: Source, key: str | None, year: int, what: str,
                     severity: Severity = Severity.ERROR) -> Problem:
    """A located Problem for ``what`` (e.g. "the due date of P-1") needing year ``year``."""
    return Problem.at(src, key, f"{what}: {calendar_message(year)}", severity)


class Calendar(NamedTuple):
    """The day table the engine counts with: the package's years, then any years the
    user typed the holiday arrangement of (``typed_years``), without a gap."""

    first_year: int
    last_year: int
    first_ordinal: int
    workday: bytes  # 1 per working day, indexed by ordinal - first_ordinal
    cumulative: tuple[int, ...]  # cumulative[i] = working days before index i
    workday_index: tuple[int, ...]  # indexes of working days, ascending
    next_work: tuple[int, ...]  # ordinal of the first working day from index i on; 0: none
    working_ordinals: tuple[int, ...]  # ordinal of the k-th working day (1-based; 0 unused)
    typed_years: tuple[int, ...]
    provisional_years: tuple[int, ...] = ()  # Monday to Friday less the fixed-date holidays


def _build(first_year: int, last_year: int, rest: Container[dt.date],
           work: Container[dt.date], typed_years: tuple[int, ...] = ()) -> Calendar:
    """The day table: a day is a working day when it is a make-up working day, or a
    weekday that is not a rest day."""
    first = dt.date(first_year, 1, 1)
    last = dt.date(last_year, 12, 31)
    flags = bytearray()
    day = first
    while day <= last:
        flags.append(1 if day in work or (day.weekday() < 5 and day not in rest) else 0)
        day += _DAY
    return _from_flags(first_year, last_year, flags, typed_years)


def _from_flags(first_year: int, last_year: int, flags: bytearray, typed_years: tuple[int, ...],
                provisional_years: tuple[int, ...] = ()) -> Calendar:
    cumulative = [0]
    for flag in flags:
        cumulative.append(cumulative[-1] + flag)
    index = tuple(i for i, flag in enumerate(flags) if flag)
    base = dt.date(first_year, 1, 1).toordinal()
    next_work = [0] * len(flags)
    upcoming = 0
    for i in range(len(flags) - 1, -1, -1):
        if flags[i]:
            upcoming = base + i
        next_work[i] = upcoming
    return Calendar(first_year, last_year, base, bytes(flags), tuple(cumulative), index,
                    tuple(next_work), (0, *(i + base for i in index)), typed_years,
                    provisional_years)


_EXTENDED: dict[tuple[int, int], tuple[Calendar, Calendar]] = {}


def provisional_through(calendar: Calendar, year: int) -> Calendar:
    """``calendar`` extended to the end of ``year``, the years it lacks counted
    provisionally: Monday to Friday except the fixed-date public holidays (the same days
    as :func:`approx_add_days`). For clocks that cannot wait for the year's data."""
    if year <= calendar.last_year:
        return calendar
    key = (id(calendar), year)
    cached = _EXTENDED.get(key)
    if cached is not None and cached[0] is calendar:
        return cached[1]
    flags = bytearray(calendar.workday)
    day, last = dt.date(calendar.last_year + 1, 1, 1), dt.date(year, 12, 31)
    while day <= last:
        flags.append(1 if provisional_workday(day) else 0)
        day += _DAY
    extended = _from_flags(calendar.first_year, year, flags, calendar.typed_years,
                           (*calendar.provisional_years,
                            *range(calendar.last_year + 1, year + 1)))
    if len(_EXTENDED) > 8:
        _EXTENDED.clear()
    _EXTENDED[key] = (calendar, extended)  # the calendar kept alive: its id stays its own
    return extended


@lru_cache(maxsize=1)
def package_calendar() -> Calendar:
    """The installed ``chinesecalendar``'s years alone."""
    return _build(FIRST_YEAR, LAST_YEAR, _cc.holidays, _cc.workdays)


_IN_FORCE: ContextVar[Calendar | None] = ContextVar("contract_tracker_calendar", default=None)


def _table() -> Calendar:
    return _IN_FORCE.get() or package_calendar()


def current_calendar() -> Calendar:
    """The calendar in force (for a result built later to count with the same one)."""
    return _table()


@contextmanager
def calendar_in_force(calendar: Calendar) -> Iterator[Calendar]:
    """Count with ``calendar`` inside the block (the engine's entry points set the book's;
    outside, the package's years alone are used)."""
    token = _IN_FORCE.set(calendar)
    try:
        yield calendar
    finally:
        _IN_FORCE.reset(token)


@lru_cache(maxsize=8)
def calendar_for(rules: tuple[HolidayRule, ...]) -> tuple[Calendar, tuple[Problem, ...]]:
    """The package's calendar extended by the years of the Settings sheet's 节假日安排
    table that the package does not cover, with a problem for each row not used.

    A year the package covers keeps the package's days; a typed row that disagrees is a
    warning. Typed years must follow on from the package's last year without a gap. Each
    typed year gets one warning to say its days come from the sheet, so nobody forgets
    to check them against the State Council's notice (and to upgrade the package later).
    """
    if not rules:
        return package_calendar(), ()
    problems: list[Problem] = []
    kind_of: dict[dt.date, tuple[str, HolidayRule]] = {}
    later: dict[int, list[HolidayRule]] = {}  # year past the package -> its rules
    for rule in rules:
        days = [rule.day + dt.timedelta(days=k) for k in range((rule.last - rule.day).days + 1)]
        clash = next((d for d in days if d in kind_of and kind_of[d][0] != rule.kind), None)
        if clash is not None:
            other = kind_of[clash][1]
            problems.append(Problem.at(rule.src, "kind", (
                f"{clash} is typed as {_KIND_WORDS[rule.kind]} here but as "
                f"{_KIND_WORDS[other.kind]} at {other.src.ref('kind')}; this row is not "
                f"used: correct one of them")))
            continue
        for d in days:
            kind_of.setdefault(d, (rule.kind, rule))
        years = sorted({d.year for d in days})
        known = [d for d in days if FIRST_YEAR <= d.year <= LAST_YEAR]
        wrong = [d for d in known if (rule.kind == "rest") == _package_workday(d)]
        if wrong:
            problems.append(Problem.at(rule.src, "day", (
                f"the installed chinesecalendar {PACKAGE_VERSION} has {wrong[0]} as "
                f"{'a working day' if rule.kind == 'rest' else 'a day off'}; for "
                f"{wrong[0].year} the package's days are used, not this row's: check the "
                f"row"),
                Severity.WARNING))
        if years[0] < FIRST_YEAR:
            problems.append(Problem.at(rule.src, "day", (
                f"{years[0]} is before the holiday data ({FIRST_YEAR}); no date that old is "
                f"counted in working days, so this row is not used"), Severity.WARNING))
        for year in years:
            if year > LAST_YEAR:
                later.setdefault(year, []).append(rule)
    typed: list[int] = []
    for year in sorted(later):
        expected = (typed[-1] if typed else LAST_YEAR) + 1
        if year != expected:
            why = (f"{expected} is not typed in whole" if expected in later
                   else f"{expected} has no rows")
            problems.append(Problem.at(later[year][0].src, "day", (
                f"the {year} rows are not used: {why}, and the years typed must follow on "
                f"from {LAST_YEAR}, the last one chinesecalendar {PACKAGE_VERSION} covers")))
            continue
        # Every notice gives the fixed-date holidays off: rows without them are not the
        # whole year's arrangement (one row would otherwise make a year "known", its
        # other holidays working days; found in review).
        missing = [dt.date(year, m, d) for m, d, _ in FIXED_HOLIDAYS
                   if kind_of.get(dt.date(year, m, d), ("", None))[0] != "rest"]
        if missing:
            names = "、".join(dict.fromkeys(n for m, d, n in FIXED_HOLIDAYS
                                           if dt.date(year, m, d) in missing))
            problems.append(Problem.at(later[year][0].src, "day", (
                f"the {year} rows are not used: they do not give "
                f"{', '.join(map(str, missing))} off ({names}), which every State Council "
                f"notice does, so they are not the whole {year} arrangement: type all of it "
                f"(dates in {year} stay provisional until then)")))
            continue
        typed.append(year)
    if not typed:
        return package_calendar(), tuple(problems)
    rest = {d for d, (kind, _) in kind_of.items() if kind == "rest" and d.year in typed}
    work = {d for d, (kind, _) in kind_of.items() if kind == "work" and d.year in typed}
    for year in typed:
        off = sum(1 for d in rest if d.year == year)
        on = sum(1 for d in work if d.year == year)
        problems.append(Problem.at(later[year][0].src, "day", (
            f"working days in {year} follow the {HOLIDAYS_TABLE} ({off} days off, {on} "
            f"make-up working days), not chinesecalendar {PACKAGE_VERSION}: check them "
            f"against the State Council's notice on the {year} holidays, and upgrade the "
            f"package once it covers {year}"), Severity.WARNING))
    calendar = _build(FIRST_YEAR, typed[-1], _Union(_cc.holidays, rest),
                      _Union(_cc.workdays, work), tuple(typed))
    return calendar, tuple(problems)


_KIND_WORDS = {"rest": "a day off (放假)", "work": "a make-up working day (调休上班)"}


class _Union:
    """``in`` either of two containers (the package's days and the typed ones)."""

    def __init__(self, a: Container[dt.date], b: Container[dt.date]) -> None:
        self.a, self.b = a, b

    def __contains__(self, day: object) -> bool:
        return day in self.a or day in self.b


def _package_workday(day: dt.date) -> bool:
    table = package_calendar()
    return table.workday[day.toordinal() - table.first_ordinal] == 1


def _index(day: dt.date) -> int:
    table = _table()
    if not table.first_year <= day.year <= table.last_year:
        raise CalendarYearError(day.year)
    return day.toordinal() - table.first_ordinal


def is_workday(day: dt.date) -> bool:
    """True on Chinese working days, make-up Saturdays and Sundays included."""
    return _table().workday[_index(day)] == 1


def next_workday(day: dt.date) -> dt.date:
    """``day`` itself when it is a working day, else the first working day after it."""
    table = _table()
    found = table.next_work[_index(day)]
    if not found:
        raise CalendarYearError(table.last_year + 1)
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
        if not table.first_year <= base.year <= table.last_year:
            raise CalendarYearError(base.year)
        rank = table.cumulative[i + 1] + n - 1
        if rank >= len(table.workday_index):
            raise CalendarYearError(table.last_year + 1)
        # A working day already: moving it off rest days changes nothing.
        return dt.date.fromordinal(table.workday_index[rank] + first), None
    day = base + dt.timedelta(days=n) if not working else base
    if not move:
        return day, None
    if not table.first_year <= day.year <= table.last_year:
        raise CalendarYearError(day.year)
    ordinal = day.toordinal()
    found = table.next_work[ordinal - first]
    if not found:
        raise CalendarYearError(table.last_year + 1)
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
                ordinal_of = table.working_ordinals
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


def _where(flags: Iterable[object]) -> list[int]:
    return list(compress(count(), flags))


def _run(effects: Iterable[object]) -> None:
    deque(effects, maxlen=0)


FIXED_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "元旦"), (5, 1, "劳动节"), (5, 2, "劳动节"), (10, 1, "国庆节"), (10, 2, "国庆节"),
    (10, 3, "国庆节"),
)
"""(month, day, name): the public holidays on fixed Gregorian dates, 《全国年节及纪念日放假
办法》 art. 2 as amended with effect from 2025 (the lunar ones, 春节 端午 中秋, and 清明 move
every year). A provisional date past the holiday data treats these as rest days too."""
_FIXED = frozenset((m, d) for m, d, _ in FIXED_HOLIDAYS)


def provisional_workday(day: dt.date) -> bool:
    """A working day in a year without holiday data: Monday to Friday except the
    fixed-date public holidays (the one rule every provisional count uses)."""
    return day.weekday() < 5 and (day.month, day.day) not in _FIXED


def approx_is_workday(day: dt.date) -> bool:
    """:func:`is_workday` inside the data; outside it (provisional), Monday to Friday
    except the fixed-date public holidays."""
    return is_workday(day) if supported(day) else provisional_workday(day)


def approx_add_days(day: dt.date, n: int, day_type: str, move_off_rest: bool) -> dt.date:
    """A provisional due date for a period running past the holiday data: known days use
    the calendar, unknown days :func:`provisional_workday`."""
    table = _table()
    flags, first = table.workday, table.first_ordinal
    last = first + len(flags) - 1  # the last day of the data

    def workday(ordinal: int) -> bool:  # approx_is_workday on ordinals
        if first <= ordinal <= last:
            return flags[ordinal - first] == 1
        return provisional_workday(dt.date.fromordinal(ordinal))

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
        raise CalendarYearError(table.last_year + 1)
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
    if not table.first_year <= day.year <= table.last_year:
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
    """Whether the holiday data in force covers ``day``'s year."""
    table = _table()
    return table.first_year <= day.year <= table.last_year
