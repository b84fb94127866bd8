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
