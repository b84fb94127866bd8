"""The working-day calendar and due-date rules (clause 3.4, Civil Code art. 203)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import chinese_calendar
import pytest

from contract_tracker import schema
from contract_tracker.engine import calendar as cal
from contract_tracker.engine import compute_penalties
from contract_tracker.engine.latefees import effective_due_date
from contract_tracker.records import HolidayRule, Severity
from contract_tracker.terms import effective_terms

from .test_engine_latefees import book, contract, fees, inst, problems, receipt, settings, src

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


def test_a_due_date_past_the_data_in_the_as_of_year_is_kept_provisionally_with_a_warning() -> None:
    # Left out, an installment would drop off the Dashboard and the letters just as it
    # falls due (1 January of the first year the package lacks).
    b = book(inst("I-1", "1000.00", "2027-02-01", row=6))  # a Monday
    (p,) = problems(b, "2027-03-01")
    assert (p.sheet, p.cell, p.severity) == ("Installments", "E6", Severity.WARNING)
    assert "2027" in p.message and "pip install -U chinesecalendar" in p.message
    assert "节假日安排" in p.message and "may change" in p.message
    # it says how the days are counted, as they are (the fixed-date holidays are off)
    assert "Monday to Friday except the fixed-date public holidays as working days" in p.message
    f = fees(b, "2027-03-01")["I-1"]
    assert f.due.provisional and f.due.date == day("2027-02-01")
    assert f.days_late == 28 and f.fee == D("14.00")  # 1,000 x 0.0005 x 28 (Feb 2 - Mar 1)
    result, found = compute_penalties(b, day("2027-03-01"))  # no crash
    assert len(result.late_fees) == 1 and found == (p,)


def test_a_due_date_before_the_data_is_a_problem_and_left_out() -> None:
    b = book(inst("I-1", "1000.00", f"{cal.FIRST_YEAR - 1}-06-01", row=6))
    (p,) = problems(b, "2026-03-01")
    assert (p.sheet, p.cell, p.severity) == ("Installments", "E6", Severity.ERROR)
    assert str(cal.FIRST_YEAR - 1) in p.message
    assert len(compute_penalties(b, day("2026-03-01"))[0].late_fees) == 0


def test_provisional_dates_keep_the_fixed_date_public_holidays() -> None:
    # 1 January 2027 is a Friday: a due date on it moves past the weekend to Monday.
    f = fees(book(inst("I-1", "1000.00", "2027-01-01")), "2027-01-31")["I-1"]
    assert f.due.date == day("2027-01-04") and f.due.moved_from == day("2027-01-01")
    assert cal.approx_add_days(day("2027-09-30"), 1, cal.WORKING_DAYS, True) == day("2027-10-04")
    assert cal.approx_add_days(day("2027-04-30"), 1, cal.CALENDAR_DAYS, True) == day("2027-05-03")


def test_the_fixed_date_holidays_are_days_off_in_every_year_of_the_data_since_2025() -> None:
    """《全国年节及纪念日放假办法》 as amended with effect from 2025: the table cites it."""
    for year in range(2025, cal.LAST_YEAR + 1):
        for month, day_of_month, _ in cal.FIXED_HOLIDAYS:
            assert not chinese_calendar.is_workday(dt.date(year, month, day_of_month))


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


# --- the 节假日安排 table: years typed by the user ----------------------------------


def holiday(first: str, until: str | None, kind: str = "rest", row: int = 2,
            name: str | None = None) -> HolidayRule:
    return HolidayRule(day(first), day(until) if until else None, kind, name,
                       src(schema.HOLIDAY_TABLE, row))


# Test data shaped like a State Council notice; not the real arrangement of any year.
NEXT = cal.LAST_YEAR + 1
FIXED_ROWS = (  # the fixed-date holidays every notice gives off, and the days around them
    holiday(f"{NEXT}-01-01", None, name="元旦"),
    holiday(f"{NEXT}-05-01", f"{NEXT}-05-05", row=5, name="劳动节"),
    holiday(f"{NEXT}-10-01", f"{NEXT}-10-07", row=6, name="国庆节"),
)
TYPED = (
    *FIXED_ROWS,
    holiday(f"{NEXT}-02-08", f"{NEXT}-02-12", row=3, name="春节"),  # Monday to Friday
    holiday(f"{NEXT}-02-20", None, "work", row=4, name="春节"),  # a Saturday
)


def typed_book(*records: object, rules: tuple[HolidayRule, ...] = TYPED, **kw: Any) -> Any:
    return book(*records, settings=settings(holidays=rules), **kw)


def test_typed_year_extends_the_calendar_without_provisional_warnings() -> None:
    assert day(f"{NEXT}-02-20").weekday() == 5 and day(f"{NEXT}-02-08").weekday() == 0
    b = typed_book(inst("I-1", "1000.00", f"{NEXT}-02-08", row=5))
    assert problems(b, f"{NEXT}-03-01") == ()  # late_fees leaves the table's note to the engine
    f = fees(b, f"{NEXT}-03-01")["I-1"]
    assert not f.due.provisional
    assert f.due.date == day(f"{NEXT}-02-15") and f.due.moved_from == day(f"{NEXT}-02-08")
    result, found = compute_penalties(b, day(f"{NEXT}-03-01"))
    (note,) = found
    assert (note.sheet, note.cell, note.severity) == ("Settings", "S2", Severity.WARNING)
    assert f"working days in {NEXT}" in note.message and "18 days off" in note.message
    assert "1 make-up working days" in note.message and "State Council" in note.message
    assert result.late_fees[0].due.date == day(f"{NEXT}-02-15")


def test_typed_make_up_saturday_counts_as_a_working_day() -> None:
    c = contract(signing_date=day(f"{NEXT}-02-19"), prepay_days=1, prepay_day_type="working")
    b = typed_book(inst("P", "1000.00", None, kind="prepayment"), contracts=(c,))
    assert fees(b, f"{NEXT}-03-31")["P"].due.date == day(f"{NEXT}-02-20")
    # Without the table, the same rule is provisional: the next Monday to Friday day.
    plain = book(inst("P", "1000.00", None, kind="prepayment"), contracts=(c,))
    got = fees(plain, f"{NEXT}-03-31")["P"].due
    assert got.provisional and got.date == day(f"{NEXT}-02-22")


def test_rows_built_after_the_run_count_with_the_books_calendar() -> None:
    """Rows are built on first read, after compute_penalties has returned."""
    from contract_tracker.engine.sla import incident_slas

    from .test_engine_sla import incident

    b = typed_book(
        inst("I-1", "1000.00", f"{NEXT}-02-08"),
        incident(at(f"{cal.LAST_YEAR}-12-31 17:00:00"),
                 responded_at=at(f"{NEXT}-01-04 10:00:00")),
        contracts=(contract(sla_clock="working_hours"),))
    result, _ = compute_penalties(b, day(f"{NEXT}-01-31"))
    assert cal.current_calendar() == cal.package_calendar()  # nothing left in force
    (row,) = result.sla  # Dec 31 17-18 h and Jan 4 9-10 h (1 Jan typed as a day off)
    assert row.clock_of("response").elapsed_us == 2 * 3600 * 10**6  # type: ignore[union-attr]
    assert not row.breached("response")
    run, found = incident_slas(b, day(f"{NEXT}-01-31"))
    assert found == () and len(run.incidents) == 1
    assert result.late_fees[0].due.date == day(f"{NEXT}-02-15")


def test_a_typed_day_the_package_already_knows_is_checked_against_it() -> None:
    agree = holiday(f"{cal.LAST_YEAR}-10-01", None, row=2)
    disagree = holiday(f"{cal.LAST_YEAR}-03-02", None, row=3)  # a working Monday
    calendar, found = cal.calendar_for((agree, disagree))
    assert calendar == cal.package_calendar()
    (p,) = found
    assert (p.cell, p.severity) == ("S3", Severity.WARNING)
    assert "has 2026-03-02 as a working day" in p.message and "not" in p.message


def test_typed_years_must_follow_the_package_without_a_gap() -> None:
    calendar, found = cal.calendar_for((holiday(f"{NEXT + 1}-01-01", None, row=7),))
    assert calendar == cal.package_calendar()
    (p,) = found
    assert (p.cell, p.severity) == ("S7", Severity.ERROR)
    assert f"{NEXT} has no rows" in p.message
    b = typed_book(inst("I-1", "1000.00", f"{NEXT + 1}-01-01"),
                   rules=(holiday(f"{NEXT + 1}-01-01", None, row=7),))
    assert fees(b, f"{NEXT + 1}-03-01")["I-1"].due.provisional


def test_a_day_typed_both_off_and_working_is_an_error_and_the_later_row_is_not_used() -> None:
    rules = (*FIXED_ROWS, holiday(f"{NEXT}-02-08", f"{NEXT}-02-12", row=2),
             holiday(f"{NEXT}-02-10", None, "work", row=3))
    calendar, found = cal.calendar_for(rules)
    (clash, note) = found
    assert (clash.cell, clash.severity) == ("U3", Severity.ERROR)
    assert "S2" not in clash.message and "U2" in clash.message
    assert note.severity == Severity.WARNING and "18 days off, 0 make-up" in note.message
    with cal.calendar_in_force(calendar):
        assert not cal.is_workday(day(f"{NEXT}-02-10"))
    assert cal.current_calendar() == cal.package_calendar()


def test_the_calendar_message_names_the_typed_years() -> None:
    calendar, _ = cal.calendar_for(TYPED)
    with cal.calendar_in_force(calendar):
        message = cal.calendar_message(NEXT + 1)
        with pytest.raises(cal.CalendarYearError):
            cal.nth_workday_after(day(f"{NEXT}-12-30"), 5)
    assert f"covers {cal.FIRST_YEAR}-{cal.LAST_YEAR} ({NEXT} from the 节假日安排" in message


def test_rows_without_the_fixed_date_holidays_are_not_a_whole_year() -> None:
    """Found in review: one row made its whole year "known", 1 May and National Day then
    working days, and the provisional warning gone."""
    partial = (holiday(f"{NEXT}-02-08", f"{NEXT}-02-12", row=7, name="春节"),)
    calendar, found = cal.calendar_for(partial)
    assert calendar == cal.package_calendar()
    (p,) = found
    assert (p.cell, p.severity) == ("S7", Severity.ERROR)
    assert f"the {NEXT} rows are not used: they do not give {NEXT}-01-01, {NEXT}-05-01" in p.message
    assert "元旦、劳动节、国庆节" in p.message
    b = typed_book(inst("I-1", "1000.00", f"{NEXT}-10-01"), rules=partial)
    assert fees(b, f"{NEXT}-10-31")["I-1"].due.provisional  # still provisional: 10-04
    assert fees(b, f"{NEXT}-10-31")["I-1"].due.date == day(f"{NEXT}-10-04")
    # and a later year cannot follow one that is not typed in whole
    later = (*partial, *(r._replace(day=r.day.replace(year=NEXT + 1),
                                    until=r.until and r.until.replace(year=NEXT + 1))
                         for r in FIXED_ROWS))
    _, found = cal.calendar_for(later)
    assert any(f"the {NEXT + 1} rows are not used: {NEXT} is not typed in whole" in p.message
               for p in found)
