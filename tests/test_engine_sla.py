"""SLA clocks, availability and penalties of clause 1.2: each test names the rule it proves.

Defaults used throughout: 2 h response, 4 h solution, 24 h for major faults; schedule STD
(response 500.00, solution 1,000.00, major 5 % of the monthly fee); credit tiers below
99.9 % 5 %, below 99 % 10 %, below 95 % 30 %; monthly cap 30 %. The contract's total fee
of 120,000.00 over 2026 gives a monthly fee of 10,000.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from contract_tracker import schema
from contract_tracker.engine import compute_penalties, penalties_json, workings_rows
from contract_tracker.engine.availability import availability_months
from contract_tracker.engine.sla import IncidentSla, incident_slas, monthly_fee, term_months
from contract_tracker.records import AvailabilityMonth, Book, Incident, Severity

from .test_engine_latefees import book, contract, settings, src

day = dt.date.fromisoformat
at = dt.datetime.fromisoformat
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
REPORTED = at("2026-03-10 10:00:00")  # a Tuesday


def incident(reported: dt.datetime = REPORTED, iid: str = "GZ-1", row: int = 2,
             severity: str = "normal", **kw: Any) -> Incident:
    kw.setdefault("responded_at", reported + H)
    kw.setdefault("solution_at", reported + 2 * H)
    kw.setdefault("resolved_at", reported + 3 * H)
    return Incident(iid, "HT-1", severity, reported, src=src(schema.INCIDENTS, row), **kw)


def judged(*incidents: Incident, as_of: str = "2026-03-31", **kw: Any) -> list[IncidentSla]:
    run, _ = incident_slas(book(*incidents, **kw), day(as_of))
    rows = list(run.incidents)
    # The lean pass and the clock-by-clock rows agree.
    assert run.breaches == sum(c.breached for r in rows for c in r.clocks)
    return rows


def breaches(row: IncidentSla) -> tuple[bool, bool, bool]:
    return row.breached("response"), row.breached("solution"), row.breached("major")


# --- the limits and one second past them ---------------------------------------


def test_response_exactly_at_two_hours_is_not_a_breach() -> None:
    (row,) = judged(incident(responded_at=REPORTED + 2 * H))
    assert breaches(row) == (False, False, False) and row.penalty == 0


def test_response_one_second_past_two_hours_is_a_breach() -> None:
    (row,) = judged(incident(responded_at=REPORTED + 2 * H + S))
    assert breaches(row) == (True, False, False) and row.penalty == D("500.00")


def test_solution_exactly_at_four_hours_is_not_a_breach() -> None:
    (row,) = judged(incident(solution_at=REPORTED + 4 * H))
    assert breaches(row) == (False, False, False)


def test_solution_one_second_past_four_hours_is_a_breach() -> None:
    (row,) = judged(incident(solution_at=REPORTED + 4 * H + S))
    assert breaches(row) == (False, True, False) and row.penalty == D("1000.00")


def test_major_fault_resolved_exactly_at_24_hours_is_not_a_breach() -> None:
    (row,) = judged(incident(severity="major", resolved_at=REPORTED + 24 * H))
    assert breaches(row) == (False, False, False)


def test_major_fault_one_second_past_24_hours_costs_5_percent_of_the_monthly_fee() -> None:
    (row,) = judged(incident(severity="major", resolved_at=REPORTED + 24 * H + S))
    assert breaches(row) == (False, False, True) and row.penalty == D("500.00")


def test_a_normal_incident_has_no_major_fault_clock() -> None:
    (row,) = judged(incident(resolved_at=REPORTED + 100 * H))
    assert row.clock_of("major") is None and not row.breached("major")


def test_contract_limits_override_the_settings() -> None:
    b_contract = contract(sla_response_hours=D("0.5"))
    (row,) = judged(incident(responded_at=REPORTED + 31 * 60 * S), contracts=(b_contract,))
    assert row.breached("response")


# --- open clocks and the as-of date ------------------------------------------------


def test_an_unstopped_clock_is_judged_at_the_end_of_the_as_of_day() -> None:
    late = at("2026-03-10 23:00:00")
    (row,) = judged(incident(late, responded_at=None, solution_at=None), as_of="2026-03-10")
    clock = row.clock_of("response")
    assert clock is not None and clock.stop is None and not clock.breached  # 1 h by 24:00
    assert clock.verdict == "open, within limit"
    (row,) = judged(incident(late, responded_at=None, solution_at=None), as_of="2026-03-11")
    assert breaches(row) == (True, True, False)
    assert row.clock_of("response").verdict == "breach (open)"  # type: ignore[union-attr]


def test_a_stop_after_the_as_of_date_is_not_known_yet() -> None:
    inc = incident(at("2026-03-10 23:00:00"), responded_at=at("2026-03-11 03:00:00"))
    (row,) = judged(inc, as_of="2026-03-10")
    assert row.clock_of("response").stop is None  # type: ignore[union-attr]
    (row,) = judged(inc, as_of="2026-03-11")
    assert row.breached("response")


def test_incidents_reported_after_the_as_of_date_are_left_out() -> None:
    assert judged(incident(at("2026-04-01 00:00:00")), as_of="2026-03-31") == []


# --- pauses and the working-hours clock ---------------------------------------------


def test_paused_minutes_come_off_the_solution_clock() -> None:
    (row,) = judged(incident(solution_at=REPORTED + 4 * H + 30 * 60 * S, paused_minutes=30))
    assert not row.breached("solution")
    (row,) = judged(incident(solution_at=REPORTED + 4 * H + 31 * 60 * S, paused_minutes=30))
    assert row.breached("solution")


def test_paused_minutes_do_not_stop_the_response_clock() -> None:
    (row,) = judged(incident(responded_at=REPORTED + 2 * H + S, paused_minutes=60))
    assert row.breached("response")


def test_working_hours_clock_skips_the_weekend() -> None:
    friday = at("2026-03-13 17:00:00")  # 1 h left on Friday, Monday opens 09:00
    monday_10 = at("2026-03-16 10:00:00")
    b_contract = contract(sla_clock="working_hours")
    (row,) = judged(incident(friday, responded_at=monday_10, solution_at=monday_10 + 2 * H),
                    contracts=(b_contract,))
    assert row.clock_of("response").elapsed_us == 2 * 3600 * 10**6  # type: ignore[union-attr]
    assert breaches(row) == (False, False, False)
    (row,) = judged(incident(friday, responded_at=monday_10 + S), contracts=(b_contract,))
    assert row.breached("response")
    (row,) = judged(incident(friday, responded_at=monday_10 + S))  # 24x7: 65 h
    assert row.breached("response")


def test_working_hours_clock_counts_a_make_up_saturday() -> None:
    friday = at("2026-10-09 17:00:00")  # Saturday Oct 10 2026 is a working day
    b_contract = contract(sla_clock="working_hours")
    (row,) = judged(incident(friday, responded_at=at("2026-10-10 10:00:00")),
                    contracts=(b_contract,), as_of="2026-10-31")
    assert row.clock_of("response").elapsed_us == 2 * 3600 * 10**6  # type: ignore[union-attr]


def test_working_hours_clock_past_the_calendar_data_is_judged_provisionally_with_a_warning(
) -> None:
    """Without next year's holiday data the clock still runs: Monday to Friday except the
    fixed-date public holidays. Dropping the incident would hide a certain breach."""
    b = book(incident(at("2026-12-31 17:00:00"), responded_at=None),
             contracts=(contract(sla_clock="working_hours"),))
    run, found = incident_slas(b, day("2027-01-05"))
    (p,) = found
    assert (p.cell, p.severity) == ("D2", Severity.WARNING)
    assert "2027" in p.message and "chinesecalendar" in p.message and "provisional" in p.message
    (row,) = run.incidents  # built later: the same provisional days
    # Dec 31 17-18 h, Jan 1 (元旦) and the weekend off, Jan 4 and 5 9-18 h: 19 h
    assert row.clock_of("response").elapsed_us == 19 * 3600 * 10**6  # type: ignore[union-attr]
    assert row.breached("response") and run.breaches == sum(
        c.breached for r in run.incidents for c in r.clocks)


def test_working_hours_clocks_stopped_before_the_year_without_data_need_no_warning() -> None:
    b = book(incident(at("2026-12-31 17:00:00"), responded_at=at("2026-12-31 17:30:00"),
                      solution_at=at("2026-12-31 17:50:00"), resolved_at=None),
             contracts=(contract(sla_clock="working_hours"),))
    run, found = incident_slas(b, day("2027-01-05"))
    assert found == ()
    (row,) = run.incidents
    assert not any(c.breached for c in row.clocks)


def test_stop_before_the_report_is_a_warning_and_counts_as_zero() -> None:
    b = book(incident(responded_at=REPORTED - H))
    run, found = incident_slas(b, day("2026-03-31"))
    (p,) = found
    assert p.cell == "E2" and p.severity.value == "warning"
    assert not run.incidents[0].breached("response")


# --- monthly fee -----------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "months"), [
    ("2026-01-01", "2026-12-31", 12),
    ("2026-01-15", "2027-01-14", 12),
    ("2026-01-31", "2026-02-27", 1),
    ("2026-01-01", "2026-06-15", 6),  # a part month counts as one
    ("2026-03-01", "2026-03-01", 1),
])
def test_term_months_are_whole_months_with_a_part_month_counting_as_one(
        start: str, end: str, months: int) -> None:
    assert term_months(day(start), day(end)) == months


def test_monthly_fee_is_total_over_months_rounded_half_up() -> None:
    c = contract(total_fee=D("100000.00"), start_date=day("2026-01-01"), end_date=day("2026-03-31"))
    assert monthly_fee(c) == D("33333.33")
    c = contract(total_fee=D("0.05"), start_date=day("2026-01-01"), end_date=day("2026-02-28"))
    assert monthly_fee(c) == D("0.03")  # 0.025 -> 0.03
    assert monthly_fee(contract(monthly_fee=D("8000.00"))) == D("8000.00")


# --- availability ----------------------------------------------------------------


def month_row(downtime: str, month: str = "2026-04-01", maintenance: str | None = None,
              row: int = 2) -> AvailabilityMonth:
    return AvailabilityMonth("HT-1", day(month), D(downtime),
                             D(maintenance) if maintenance else None,
                             src=src(schema.AVAILABILITY, row))


def avail(*rows: AvailabilityMonth, as_of: str = "2026-12-31") -> list[Any]:
    return list(availability_months(Book(settings=settings(), contracts=(contract(),),
                                         availability=rows), day(as_of))[0])


def test_exactly_99_9_percent_is_not_a_breach() -> None:
    (m,) = avail(month_row("43.2"))  # April: 30 days, 43,200 minutes
    assert m.availability == D("0.999") and not m.breach and m.credit == 0


def test_just_below_99_9_percent_is_a_breach_with_the_first_credit_tier() -> None:
    (m,) = avail(month_row("43.21"))
    assert m.breach and m.shown == D("0.998999") and m.credit == D("500.00")


def test_a_31_day_month_allows_44_64_minutes() -> None:
    (ok, bad) = avail(month_row("44.64", "2026-05-01"), month_row("44.65", "2026-07-01", row=3))
    assert not ok.breach and bad.breach


def test_maintenance_minutes_are_excluded_from_the_month() -> None:
    (m,) = avail(month_row("43.1", maintenance="120"))  # allowed: 43.08
    assert m.base == D("43080") and m.breach
    (m,) = avail(month_row("43.08", maintenance="120"))
    assert not m.breach


def test_the_credit_is_the_tier_with_the_lowest_below_the_month_is_under() -> None:
    (m,) = avail(month_row("500"))  # 98.84 %: under 99.9 % and 99 %, not 95 %
    assert m.tier is not None and m.tier.below == D("0.99") and m.credit == D("1000.00")
    (m,) = avail(month_row("3000"))  # 93.06 %
    assert m.tier is not None and m.tier.below == D("0.95") and m.credit == D("3000.00")


def test_downtime_longer_than_the_month_is_a_problem_at_its_cell_and_not_judged() -> None:
    rows = (month_row("50000.0", row=5), month_row("10", "2026-05-01", row=6))
    found, problems = availability_months(
        Book(settings=settings(), contracts=(contract(),), availability=rows), day("2026-12-31"))
    (p,) = problems
    assert (p.sheet, p.cell) == ("Availability", "C5")
    assert "downtime 50,000 and maintenance 0 minutes do not fit in the month's 43,200" in (
        p.message)
    assert [m.month for m in found] == [day("2026-05-01")]


def test_months_not_begun_by_the_as_of_date_are_left_out() -> None:
    assert avail(month_row("500", "2026-05-01"), as_of="2026-04-30") == []
    (m,) = avail(month_row("5", "2026-04-01"), as_of="2026-04-15")
    assert not m.complete


# --- the monthly cap and the whole result -------------------------------------------


def test_penalties_and_credits_of_a_contract_month_are_capped_at_30_percent() -> None:
    incidents = [incident(REPORTED + k * 24 * H, f"GZ-{k}", 2 + k,
                          responded_at=REPORTED + k * 24 * H + 3 * H,
                          solution_at=REPORTED + k * 24 * H + 5 * H) for k in range(2)]
    b = book(*incidents, availability=(month_row("500", "2026-03-01"),))
    result, _ = compute_penalties(b, day("2026-03-31"))
    (m,) = result.sla_months
    # 2 × (500 + 1,000) + 1,000 credit = 4,000 > cap 3,000.
    assert (m.penalties, m.credits, m.uncapped, m.cap, m.owed) == (
        D("3000.00"), D("1000.00"), D("4000.00"), D("3000.00"), D("3000.00"))
    assert result.totals.sla_owed == D("3000.00") and result.totals.sla_uncapped == D("4000.00")
    data = penalties_json(result)
    assert data["sla_months"][0]["owed"] == "3000.00"
    assert data["sla"][0] == {"incident_id": "GZ-0", "contract_id": "HT-1", "severity": "normal",
                              "month": "2026-03", "response_breach": True,
                              "solution_breach": True, "major_breach": False,
                              "penalty": "1500.00"}
    assert data["availability"][0]["availability"] == "0.988799"  # 1 - 500/44,640
    rows = workings_rows(result)
    cap_row = next(r for r in rows if str(r[0]).startswith("SLA月度上限"))
    assert "capped" in cap_row and "Settings!C" in str(cap_row[11])
    clock_rows = [r for r in rows if str(r[0]).startswith("SLA 响应")]
    assert len(clock_rows) == 2 and "Incidents!D2" in str(clock_rows[0][11])


def test_penalties_count_in_the_month_the_incident_was_reported() -> None:
    inc = incident(at("2026-03-31 23:00:00"), responded_at=at("2026-04-01 02:00:00"))
    result, _ = compute_penalties(book(inc), day("2026-04-30"))
    (m,) = result.sla_months
    assert m.month == day("2026-03-01") and m.penalties == D("500.00")


def test_a_repeated_incident_id_is_a_problem_and_the_first_row_counts() -> None:
    b = book(incident(), incident(responded_at=REPORTED + 3 * H, row=3))
    run, found = incident_slas(b, day("2026-03-31"))
    (p,) = found
    assert p.cell == "A3" and len(run.incidents) == 1 and run.breaches == 0


def test_an_incident_of_an_unknown_contract_is_a_problem() -> None:
    inc = Incident("GZ-9", "HT-X", "normal", REPORTED, src=src(schema.INCIDENTS, 2))
    run, found = incident_slas(book(inc), day("2026-03-31"))
    (p,) = found
    assert p.cell == "B2" and "HT-X" in p.message and len(run.incidents) == 0


def _months_by_stepping(start: dt.date, end: dt.date) -> int:
    """Whole months from start to the day after end, a part month as one, at least 1."""
    stop, months = end + dt.timedelta(days=1), 0
    while True:
        y, m = divmod(start.month - 1 + months + 1, 12)
        year, month = start.year + y, m + 1
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        if dt.date(year, month, min(start.day, last)) > stop:
            break
        months += 1
    y, m = divmod(start.month - 1 + months, 12)
    last = (dt.date(start.year + y + (m + 1) // 12, (m + 1) % 12 + 1, 1)
            - dt.timedelta(days=1)).day
    reached = dt.date(start.year + y, m + 1, min(start.day, last))
    return max(months + (reached < stop), 1)


def test_term_months_agree_with_stepping_month_by_month() -> None:
    starts = [day("2024-01-31") + dt.timedelta(days=k * 17) for k in range(60)]
    lengths = [0, 1, 27, 28, 29, 30, 31, 58, 59, 89, 180, 364, 365, 366, 400, 730]
    for start in starts:
        for n in lengths:
            end = start + dt.timedelta(days=n)
            assert term_months(start, end) == _months_by_stepping(start, end), (start, end)
    assert term_months(day("2026-05-01"), day("2026-04-01")) == 1  # end before start


@pytest.mark.parametrize(("total", "end", "fee"), [
    ("100.01", "2026-02-28", "50.01"),  # 50.005: the half fen goes up
    ("100.03", "2026-02-28", "50.02"),  # 50.015 -> 50.02
    ("0.01", "2026-02-28", "0.01"),  # 0.005 -> 0.01
    ("1.00", "2026-03-31", "0.33"),  # 0.333...
    ("2.00", "2026-03-31", "0.67"),  # 0.666...
    ("120000.5", "2026-12-31", "10000.04"),  # 10000.041666...
    ("7", "2026-06-30", "1.17"),  # 1.1666...
])
def test_monthly_fee_rounds_half_up_at_the_half_fen(total: str, end: str, fee: str) -> None:
    c = contract(total_fee=D(total), start_date=day("2026-01-01"), end_date=day(end))
    got = monthly_fee(c)
    assert got == D(fee) and str(got) == fee


def test_each_contract_keeps_its_own_overrides_of_every_term() -> None:
    from contract_tracker.engine.context import index_contracts
    from contract_tracker.records import Contract
    overrides: dict[str, Any] = dict(
        work_day_start=10, work_day_end=16, sla_monthly_cap_pct=D("0.5"),
        sla_clock="working_hours", grace_days=3,
    )
    assert set(overrides) <= set(Contract._fields)
    contracts = (contract("HT-1"), *(contract(f"HT-X{k}", row=3 + k, **{key: value})
                                     for k, (key, value) in enumerate(overrides.items())))
    index, _ = index_contracts(book(contracts=contracts))
    base = index.terms["HT-1"]
    for k, (key, value) in enumerate(overrides.items()):
        assert getattr(index.terms[f"HT-X{k}"], key) == value != getattr(base, key)


def test_an_open_working_hours_clock_judged_on_the_last_day_of_the_data_is_judged() -> None:
    # As of 2026-12-31 the clock stops at midnight of 2027-01-01: no 2027 time has passed,
    # so the missing 2027 holiday data does not matter. 12-30 10:00-18:00 and 12-31
    # 09:00-18:00 are 17 working hours: both clocks breached.
    b_contract = contract(sla_clock="working_hours")
    (row,) = judged(incident(at("2026-12-30 10:00:00"), responded_at=None, solution_at=None,
                             resolved_at=None), contracts=(b_contract,), as_of="2026-12-31")
    assert row.clock_of("response").elapsed_us == 17 * 3600 * 10**6  # type: ignore[union-attr]
    assert breaches(row) == (True, True, False)


def test_notable_rows_hold_each_clock_still_running_within_its_limit() -> None:
    # The Dashboard counts clocks running at the as-of date ("SLA计时中") from these rows
    # alone: each clock that runs past the end of the day must bring its incident in,
    # even when the others stopped in time and nothing is breached.
    late = at("2026-03-10 22:00:00")  # judged at 2026-03-11 00:00: 2 h later
    running = {
        "response": incident(late, "GZ-1", 2, responded_at=late + 3 * H),
        "solution": incident(late, "GZ-2", 3, solution_at=late + 3 * H),
        "major": incident(late, "GZ-3", 4, severity="major", resolved_at=late + 3 * H),
    }
    done = incident(late, "GZ-4", 5)  # every clock stopped within its limit by midnight
    b = book(*running.values(), done)
    notable = incident_slas(b, day("2026-03-10"))[0].incidents.notable()
    assert [s.incident_id for s in notable] == ["GZ-1", "GZ-2", "GZ-3"]
    for s, (clock, _) in zip(notable, running.items(), strict=True):
        c = s.clock_of(clock)
        assert c is not None and c.stop is None and not c.breached
        assert not any(x.breached for x in s.clocks)


def test_incidents_read_by_the_readers_columns_are_judged_as_by_their_records() -> None:
    """The SLA pass reads the reader's columns of the Incidents sheet when they describe
    the book's incidents, and each record otherwise, with the same verdicts either way."""
    from dataclasses import replace

    from contract_tracker.engine import sla
    from contract_tracker.parse import parse_book
    from contract_tracker.records import columns_of
    from contract_tracker.sample import SAMPLE_AS_OF, sample_book

    from .conftest import grids_of

    parsed, _ = parse_book(grids_of(sample_book("small")))
    assert columns_of(parsed, "Incidents", parsed.incidents) is not None
    by_records = replace(parsed, columns={})
    for as_of in (SAMPLE_AS_OF, dt.date(2026, 11, 25)):
        run, problems = incident_slas(parsed, as_of)
        assert run.breaches > 0 and any(s.severity == "major" for s in run.incidents)
        assert (run, problems) == incident_slas(by_records, as_of)
    fewer = replace(parsed, incidents=parsed.incidents[1:])
    assert columns_of(fewer, "Incidents", fewer.incidents) is None
    assert incident_slas(fewer, SAMPLE_AS_OF) == incident_slas(
        replace(fewer, columns={}), SAMPLE_AS_OF)
    assert len(incident_slas(fewer, SAMPLE_AS_OF)[0].incidents) == len(
        incident_slas(parsed, SAMPLE_AS_OF)[0].incidents) - 1
    # the columns are what the pass reads: ones that disagree with the records show
    wrong = dict(columns_of(parsed, "Incidents", parsed.incidents) or {})
    wrong["responded_at"] = tuple(r.reported_at + dt.timedelta(days=3) for r in parsed.incidents)
    lied = replace(parsed, columns={**parsed.columns, "Incidents": parsed.columns["Incidents"]
                                    ._replace(fields=wrong)})
    assert sla.incident_slas(lied, SAMPLE_AS_OF)[0].breaches > incident_slas(
        parsed, SAMPLE_AS_OF)[0].breaches
