"""The working-day calendar and due-date rules (clause 3.4, Civil Code art. 203)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import chinese_calendar
import pytest

from contract_tracker.engine import calendar as cal
from contract_tracker.engine import compute_penalties
from contract_tracker.engine.latefees import effective_due_date
from contract_tracker.records import Severity
from contract_tracker.terms import effective_terms

from .test_engine_latefees import book, contract, fees, inst, problems, receipt, settings

day = dt.date.fromisoformat
at = dt.datetime.fromisoformat


def due_of(due: str, **contract_kw: Any) -> dt.date:
    c = contract(**contract_kw)
    got, found = effective_due_date(inst("I-1", "1", due), c, effective_terms(c, settings()))
    assert found == () and got is not None
    return got.date


def test_the_table_agrees_with_chinese_calendar_on_every_day_it_knows() -> None:
    d, last = dt.date(cal.FIRST_YEAR, 1, 1), dt.date(cal.LAST_YEAR, 12, 31)
    while d <= last:
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d
        d += dt.timedelta(days=1)


def test_due_date_on_national_day_moves_to_the_next_working_day() -> None:
    assert not chinese_calendar.is_workday(day("2026-10-01"))
    assert due_of("2026-10-01") == day("2026-10-08")


def test_due_date_on_a_make_up_saturday_stays() -> None:
    assert day("2026-10-10").weekday() == 5 and chinese_calendar.is_workday(day("2026-10-10"))
    assert due_of("2026-10-10") == day("2026-10-10")


def test_due_date_on_an_ordinary_sunday_moves_to_monday() -> None:
    assert due_of("2026-03-15") == day("2026-03-16")


def test_the_move_is_a_per_contract_switch() -> None:
    assert due_of("2026-10-01", move_due_off_rest_days=False) == day("2026-10-01")


def test_late_days_count_from_the_moved_due_date() -> None:
    b = book(inst("I-1", "1000.00", "2026-10-01"), receipt("R-1", "2026-10-09", "1000.00", "I-1"))
    f = fees(b, "2026-12-31")["I-1"]
    assert f.days_late == 1 and "Civil Code art. 203" in f.due.rule


def test_working_days_rule_runs_across_the_spring_festival() -> None:
    # 2026: Feb 14 (Sat) is a make-up workday; Feb 15-23 are the Spring Festival holiday.
    c = contract(signing_date=day("2026-02-13"), prepay_days=2, prepay_day_type="working")
    got, _ = effective_due_date(inst("P", "1", None, kind="prepayment"), c,
                                effective_terms(c, settings()))
    assert got is not None and got.date == day("2026-02-24")


def test_calendar_days_rule_landing_on_a_holiday_is_moved() -> None:
    c = contract(signing_date=day("2026-09-21"), prepay_days=10)  # Oct 1
    got, _ = effective_due_date(inst("P", "1", None, kind="prepayment"), c,
                                effective_terms(c, settings()))
    assert got is not None and got.date == day("2026-10-08") and got.moved_from == day("2026-10-01")
    assert got.rule.startswith("signing 2026-09-21 + 10 calendar days = 2026-10-01")


def test_a_year_past_the_calendar_data_is_a_problem_naming_the_year_and_the_upgrade() -> None:
    b = book(inst("I-1", "1000.00", "2027-02-01", row=6))
    (p,) = problems(b, "2027-03-01")
    assert (p.sheet, p.cell, p.severity) == ("Installments", "E6", Severity.ERROR)
    assert "2027" in p.message and "pip install -U chinesecalendar" in p.message
    result, found = compute_penalties(b, day("2027-03-01"))  # no crash
    assert len(result.late_fees) == 0 and found == (p,)


def test_a_due_date_past_the_data_but_after_the_as_of_year_is_provisional() -> None:
    b = book(inst("I-1", "1000.00", "2027-01-02"), inst("I-2", "1000.00", "2027-05-03", row=3))
    (p,) = problems(b, "2026-12-31")
    assert p.severity == Severity.WARNING and "2 due date(s)" in p.message and "2027" in p.message
    f = fees(b, "2026-12-31")["I-1"]
    assert f.due.provisional and f.due.date == day("2027-01-04")  # Saturday -> Monday
    assert f.fee == D("0.00") and f.overdue == 0


def test_nth_working_day_past_the_data_raises_calendar_year_error() -> None:
    with pytest.raises(cal.CalendarYearError) as err:
        cal.nth_workday_after(day("2026-12-30"), 5)
    assert err.value.year == 2027


def test_working_seconds_count_only_office_hours_on_working_days() -> None:
    hour = 3600 * 10**6
    friday_17, monday_10 = at("2026-03-13 17:00:00"), at("2026-03-16 10:00:00")
    assert cal.working_us(friday_17, monday_10, 9, 18) == 2 * hour
    assert cal.working_us(at("2026-03-16 07:00:00"), at("2026-03-16 20:00:00"), 9, 18) == 9 * hour
    week = cal.working_us(at("2026-03-16 09:00:00"), at("2026-03-23 09:00:00"), 9, 18)
    assert week == 5 * 9 * hour
    # Across the National Day week: Sep 30 17:00 -> Oct 8 10:00 is 1 h + 1 h.
    assert cal.working_us(at("2026-09-30 17:00:00"), at("2026-10-08 10:00:00"), 9, 18) == 2 * hour


# --- the fast paths agree with the day-by-day definitions --------------------------


def _walk_due(base: dt.date, n: int, working: bool, move: bool) -> dt.date | None:
    """The rule day by day with chinese_calendar itself; None past its data."""
    last = dt.date(cal.LAST_YEAR, 12, 31)
    day_ = base
    if working:
        while n > 0:
            day_ += dt.timedelta(days=1)
            if day_ > last:
                return None
            n -= chinese_calendar.is_workday(day_)
    else:
        day_ = base + dt.timedelta(days=n)
    while move:
        if not dt.date(cal.FIRST_YEAR, 1, 1) <= day_ <= last:
            return None
        if chinese_calendar.is_workday(day_):
            break
        day_ += dt.timedelta(days=1)
    return day_


@pytest.mark.parametrize("working", [False, True])
@pytest.mark.parametrize("move", [False, True])
def test_due_dates_by_columns_agree_with_the_rule_day_by_day(working: bool, move: bool) -> None:
    bases = [dt.date(cal.LAST_YEAR - 2, 12, 20) + dt.timedelta(days=7 * k + k % 5)
             for k in range(160)]  # into the year past the data
    days = [(0, 1, 3, 5, 10, 15, 30, 45)[k % 8] for k in range(len(bases))]
    got = cal.due_dates(bases, days, working, move)
    for base, n, found in zip(bases, days, got, strict=True):
        want = _walk_due(base, n, working, move)
        if found is None:  # left to due_date(), which raises or handles n <= 0
            assert want is None or (working and n <= 0)
        else:
            assert found == want == cal.due_date(base, n, working, move)[0], (base, n)
    assert cal.due_dates([], [], working, move) == []


def test_due_dates_leave_only_what_the_table_cannot_settle() -> None:
    inside = [day("2026-09-30"), day("2026-10-01")]
    assert cal.due_dates(inside, [1, 0], False, True) == [day("2026-10-08")] * 2
    assert cal.due_dates(inside, [1, 2], True, True) == [day("2026-10-08"), day("2026-10-09")]
    assert cal.due_dates([day("2026-12-30")], [5], True, True) == [None]  # into 2027
    assert cal.due_dates([day("2026-12-30")], [0], True, True) == [None]  # n <= 0: one by one
    assert cal.due_dates([day("2026-12-30")], [5], False, False) == [day("2027-01-04")]


def _office_us(start: dt.datetime, stop: dt.datetime, opens: int, closes: int) -> int:
    """Office hours between two moments, day by day."""
    total, d = 0, start.date()
    while d <= stop.date():
        if chinese_calendar.is_workday(d):
            lo = dt.datetime.combine(d, dt.time(opens))
            hi = dt.datetime.combine(d, dt.time()) + dt.timedelta(hours=closes)
            a, b = max(start, lo), min(stop, hi)
            if b > a:
                total += (b - a) // dt.timedelta(microseconds=1)
        d += dt.timedelta(days=1)
    return total


@pytest.mark.parametrize(("opens", "closes"), [(9, 18), (0, 24), (8, 20)])
def test_the_working_clock_counts_office_hours_like_a_day_by_day_walk(
        opens: int, closes: int) -> None:
    start = at("2026-09-25 07:13:05.000250")
    for k in range(120):
        a = start + dt.timedelta(hours=7 * k, minutes=11 * k)
        b = a + dt.timedelta(hours=(k * 13) % 200, seconds=k)
        assert cal.working_us(a, b, opens, closes) == _office_us(a, b, opens, closes)
        assert (cal.working_clock_us(b, opens, closes) - cal.working_clock_us(a, opens, closes)
                == cal.working_us(a, b, opens, closes))


def test_the_working_clock_names_the_first_year_it_cannot_see() -> None:
    with pytest.raises(cal.CalendarYearError) as err:
        cal.working_us(at("2026-12-31 10:00:00"), at(f"{cal.LAST_YEAR + 1}-01-02 10:00:00"), 9, 18)
    assert err.value.year == cal.LAST_YEAR + 1
    assert cal.working_us(at("2027-03-01 10:00:00"), at("2027-03-01 10:00:00"), 9, 18) == 0


def test_provisional_periods_count_known_days_then_monday_to_friday() -> None:
    def walk(base: dt.date, n: int, working: bool, move: bool) -> dt.date:
        d = base
        if working:
            while n > 0:
                d += dt.timedelta(days=1)
                n -= cal.approx_is_workday(d)
        else:
            d += dt.timedelta(days=n)
        while move and not cal.approx_is_workday(d):
            d += dt.timedelta(days=1)
        return d

    for k in range(200):
        base = day("2026-11-20") + dt.timedelta(days=k * 3)
        n = (0, 1, 5, 10, 30)[k % 5]
        for day_type in (cal.CALENDAR_DAYS, cal.WORKING_DAYS):
            for move in (False, True):
                assert (cal.approx_add_days(base, n, day_type, move)
                        == walk(base, n, day_type == cal.WORKING_DAYS, move))
