"""contract_tracker.terms: a contract's own value wins, a blank inherits Settings — for
every rule the engine applies, the SLA working hours and the monthly cap included."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from contract_tracker import schema
from contract_tracker.engine import compute_penalties, penalties_json
from contract_tracker.terms import effective_terms

from .test_engine_latefees import book, contract, settings
from .test_engine_sla import H, incident, month_row

at = dt.datetime.fromisoformat


def test_blank_contract_values_inherit_the_settings() -> None:
    terms = effective_terms(contract(), settings(work_day_start=8, sla_monthly_cap_pct=D("0.2")))
    assert (terms.work_day_start, terms.work_day_end, terms.sla_monthly_cap_pct) == (
        8, 18, D("0.2"))


def test_contract_values_override_the_settings() -> None:
    own = contract(work_day_start=7, work_day_end=22, sla_monthly_cap_pct=D("0.1"),
                   late_fee_rate=D("0.0003"), grace_days=5, availability_target=D("0.995"))
    terms = effective_terms(own, settings())
    assert (terms.work_day_start, terms.work_day_end, terms.sla_monthly_cap_pct,
            terms.late_fee_rate, terms.grace_days, terms.availability_target) == (
        7, 22, D("0.1"), D("0.0003"), 5, D("0.995"))


def test_a_contracts_working_hours_drive_its_sla_clock() -> None:
    friday_17 = at("2026-03-13 17:00:00")
    late_answer = incident(friday_17, responded_at=friday_17 + 2 * H + H / 2,
                           solution_at=friday_17 + 2 * H + H / 2)
    # Settings 09-18: one working hour passes on Friday evening, within 2 h.
    default_hours = book(late_answer, contracts=(contract(sla_clock="working_hours"),))
    result, _ = compute_penalties(default_hours, dt.date(2026, 3, 31))
    assert penalties_json(result)["sla"][0]["response_breach"] is False
    # The contract's own 08-20: 2.5 working hours, a response breach.
    own_hours = book(late_answer, contracts=(contract(
        sla_clock="working_hours", work_day_start=8, work_day_end=20),))
    result, _ = compute_penalties(own_hours, dt.date(2026, 3, 31))
    assert penalties_json(result)["sla"][0]["response_breach"] is True


def test_a_contracts_monthly_cap_replaces_the_settings_cap() -> None:
    reported = at("2026-03-10 10:00:00")
    late = [incident(reported + k * 24 * H, f"GZ-{k}", 2 + k,
                     responded_at=reported + k * 24 * H + 3 * H,
                     solution_at=reported + k * 24 * H + 5 * H) for k in range(2)]
    avail = (month_row("500", "2026-03-01"),)
    # 2 × (500 + 1,000) + 1,000 credit = 4,000 against a monthly fee of 10,000.
    result, _ = compute_penalties(book(*late, availability=avail), dt.date(2026, 3, 31))
    assert result.sla_months[0].owed == D("3000.00")  # Settings: 30 %
    own_cap = (contract(sla_monthly_cap_pct=D("0.1")),)
    result, _ = compute_penalties(book(*late, availability=avail, contracts=own_cap),
                                  dt.date(2026, 3, 31))
    (m,) = result.sla_months
    assert (m.uncapped, m.cap, m.owed) == (D("4000.00"), D("1000.00"), D("1000.00"))


def test_a_contracts_bad_working_hours_are_reported_at_its_own_cell() -> None:
    friday_17 = at("2026-03-13 17:00:00")
    bad = book(incident(friday_17), contracts=(contract(
        sla_clock="working_hours", work_day_start=18, work_day_end=9),))
    _, problems = compute_penalties(bad, dt.date(2026, 3, 31))
    start_col = schema.col_letter([c.key for c in schema.CONTRACTS.columns]
                                  .index("work_day_start"))
    assert [str(p) for p in problems] == [
        f"Contracts!{start_col}2: working hours 18-9 are not a range within 0-24; "
        "incidents on a working-hours clock are not judged"]
