"""Late fees of clause 7.2: each test is named after the rule it proves.

The builders at the top (``contract``, ``inst``, ``receipt``, ``book``) are shared with
the other engine tests. Records carry real sheet positions, so problems name cells.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from typing import Any

from contract_tracker import schema
from contract_tracker.engine import (
    compute_penalties,
    effective_due_date,
    late_fees,
    penalties_json,
    penalties_table,
    workings_rows,
)
from contract_tracker.engine.latefees import installment_positions
from contract_tracker.records import (
    Book,
    Contract,
    CreditTier,
    Incident,
    Installment,
    Problem,
    Receipt,
    Settings,
    Severity,
    SlaPenaltyRule,
    Source,
)
from contract_tracker.terms import effective_terms

day = dt.date.fromisoformat


def src(table: schema.Table, row: int) -> Source:
    cols = tuple((c.key, schema.col_letter(table.first_col + i))
                 for i, c in enumerate(table.columns))
    return Source(table.sheet, row, cols)


def settings(**kw: Any) -> Settings:
    rules = tuple(SlaPenaltyRule(s, b, m, D(v), src(schema.SLA_PENALTY_TABLE, 20 + i))
                  for i, (s, b, m, v) in enumerate(schema.DEFAULT_SLA_PENALTIES))
    tiers = tuple(CreditTier(s, D(b), D(p), src(schema.CREDIT_TIER_TABLE, 20 + i))
                  for i, (s, b, p) in enumerate(schema.DEFAULT_CREDIT_TIERS))
    rows = tuple((s.key, Source("Settings", 2 + i, (("key", "A"), ("value", "C"))))
                 for i, s in enumerate(schema.SETTINGS))
    return Settings(sla_penalties=rules, credit_tiers=tiers, rows=rows, **kw)


def contract(cid: str = "HT-1", row: int = 2, **kw: Any) -> Contract:
    fields: dict[str, Any] = dict(
        client_id="KH-1", signing_date=day("2026-01-05"), start_date=day("2026-01-01"),
        end_date=day("2026-12-31"), total_fee=D("120000.00"), status="active",
    )
    fields.update(kw)
    return Contract(cid, src=src(schema.CONTRACTS, row), **fields)


def inst(iid: str, amount: str, due: str | None, cid: str = "HT-1", row: int = 2,
         kind: str = "progress") -> Installment:
    return Installment(iid, cid, kind, D(amount), day(due) if due else None,
                       src=src(schema.INSTALLMENTS, row))


def receipt(rid: str, paid: str, amount: str, iid: str | None = None, cid: str = "HT-1",
            row: int = 2) -> Receipt:
    return Receipt(rid, cid, day(paid), D(amount), iid, src=src(schema.RECEIPTS, row))


def book(*records: object, contracts: tuple[Contract, ...] | None = None,
         **kw: Any) -> Book:
    return Book(
        settings=kw.pop("settings", None) or settings(),
        contracts=contracts if contracts is not None else (contract(),),
        installments=tuple(r for r in records if isinstance(r, Installment)),
        receipts=tuple(r for r in records if isinstance(r, Receipt)),
        incidents=tuple(r for r in records if isinstance(r, Incident)),
        **kw,
    )


def fees(b: Book, as_of: str) -> dict[str, Any]:
    """installment_id -> its InstallmentFee, after checking the run's own consistency."""
    result, _ = late_fees(b, day(as_of))
    rows = {f.installment_id: f for f in result.installments}
    assert result.total_fee == sum((f.fee for f in rows.values()), D(0))
    return rows


def problems(b: Book, as_of: str) -> tuple[Problem, ...]:
    return late_fees(b, day(as_of))[1]


# --- the worked example and the day count -----------------------------------------


def test_domain_worked_example_is_1000() -> None:
    b = book(inst("I-1", "100000.00", "2026-03-31"),
             receipt("R-1", "2026-04-10", "60000.00", "I-1"),
             receipt("R-2", "2026-05-05", "40000.00", "I-1", row=3))
    f = fees(b, "2026-06-30")["I-1"]
    assert f.fee == D("1000.00")
    assert [(s.amount, s.days, s.fee) for s in f.segments] == [
        (D("60000.00"), 10, D("300")), (D("40000.00"), 35, D("700"))]
    assert f.outstanding == 0 and f.overdue == 0 and f.days_late == 35


def test_paid_on_the_due_date_is_zero_days_late() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), receipt("R-1", "2026-03-31", "1000.00", "I-1"))
    f = fees(b, "2026-12-31")["I-1"]
    assert f.fee == D("0.00") and f.segments == () and f.days_late == 0


def test_paid_the_day_after_the_due_date_is_one_day_late() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), receipt("R-1", "2026-04-01", "1000.00", "I-1"))
    f = fees(b, "2026-12-31")["I-1"]
    assert f.days_late == 1 and f.fee == D("0.50")  # 1000 × 0.0005 × 1


def test_the_payment_day_counts_due_0331_paid_0410_is_ten_days() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), receipt("R-1", "2026-04-10", "1000.00", "I-1"))
    seg = fees(b, "2026-12-31")["I-1"].segments[0]
    assert (seg.first_late_day, seg.last_day, seg.days) == (
        day("2026-04-01"), day("2026-04-10"), 10)


def test_open_part_is_late_up_to_and_including_the_as_of_date() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"))
    f = fees(b, "2026-04-10")["I-1"]
    assert f.days_late == 10 and f.fee == D("5.00") and f.segments[0].receipt_id is None
    assert fees(b, "2026-03-31")["I-1"].fee == D("0.00")


def test_half_cent_rounds_half_up_553_395_to_553_40() -> None:
    assert round(18446.50 * 0.0005 * 60, 2) == 553.39  # what float arithmetic gives
    b = book(inst("I-1", "18446.50", "2026-03-31"), receipt("R-1", "2026-05-30", "18446.50", "I-1"))
    f = fees(b, "2026-12-31")["I-1"]
    assert f.fee_exact == D("553.395") and f.fee == D("553.40")


def test_receipts_after_the_as_of_date_are_ignored() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), receipt("R-1", "2026-04-20", "1000.00", "I-1"))
    f = fees(b, "2026-04-10")["I-1"]
    assert f.paid == 0 and f.outstanding == D("1000.00") and f.fee == D("5.00")


# --- grace, cap, overrides -----------------------------------------------------


def test_last_grace_day_costs_nothing() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), receipt("R-1", "2026-04-05", "1000.00", "I-1"),
             contracts=(contract(grace_days=5),))
    assert fees(b, "2026-12-31")["I-1"].fee == D("0.00")


def test_day_after_grace_is_one_day_late_counted_from_the_end_of_grace() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), receipt("R-1", "2026-04-06", "1000.00", "I-1"),
             contracts=(contract(grace_days=5),))
    f = fees(b, "2026-12-31")["I-1"]
    assert f.days_late == 1 and f.fee == D("0.50")
    assert f.segments[0].first_late_day == day("2026-04-06")


def test_grace_does_not_hide_an_overdue_amount() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), contracts=(contract(grace_days=5),))
    f = fees(b, "2026-04-02")["I-1"]
    assert f.overdue == D("1000.00") and f.days_overdue == 2 and f.fee == D("0.00")


def test_cap_limits_an_installments_fee_to_a_share_of_its_amount() -> None:
    b = book(inst("I-1", "1000.00", "2026-01-30"), contracts=(contract(late_fee_cap_pct=D("0.1")),))
    f = fees(b, "2026-12-31")["I-1"]  # 335 days × 0.50 = 167.50 uncapped
    assert f.fee_exact == D("167.5") and f.cap == D("100") and f.fee == D("100.00")


def test_contract_rate_overrides_the_settings_rate() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), contracts=(contract(late_fee_rate=D("0.0003")),))
    assert fees(b, "2026-04-10")["I-1"].fee == D("3.00")


def test_settings_rate_applies_when_the_contract_has_none() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), settings=settings(late_fee_rate=D("0.001")))
    assert fees(b, "2026-04-10")["I-1"].fee == D("10.00")


def test_exempt_contract_owes_no_fee_but_is_still_overdue() -> None:
    b = book(inst("I-1", "1000.00", "2026-03-31"), contracts=(contract(late_fee_exempt=True),))
    f = fees(b, "2026-04-10")["I-1"]
    assert f.fee == D("0.00") and f.exempt and f.overdue == D("1000.00") and f.days_late == 10


def test_fee_is_rounded_per_installment_and_totals_add_rounded_fees() -> None:
    b = book(inst("I-1", "10.01", "2026-03-31"), inst("I-2", "10.01", "2026-03-31", row=3))
    result, _ = late_fees(b, day("2026-04-01"))  # each 0.005005 -> 0.01
    assert [f.fee for f in result.installments] == [D("0.01"), D("0.01")]
    assert result.total_fee == D("0.02")


# --- allocation -------------------------------------------------------------------


def test_unnamed_receipt_pays_the_oldest_open_installment() -> None:
    b = book(inst("I-2", "500.00", "2026-04-30", row=3), inst("I-1", "500.00", "2026-03-31"),
             receipt("R-1", "2026-04-10", "500.00"))
    rows = fees(b, "2026-04-10")
    assert rows["I-1"].paid == D("500.00") and rows["I-2"].paid == 0
    assert rows["I-1"].fee == D("2.50")  # 500 × 0.0005 × 10


def test_unnamed_receipt_spills_over_to_the_next_open_installment() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"), inst("I-2", "500.00", "2026-04-30", row=3),
             receipt("R-1", "2026-04-10", "700.00"))
    rows = fees(b, "2026-04-10")
    assert rows["I-1"].outstanding == 0 and rows["I-2"].outstanding == D("300.00")


def test_same_due_date_installments_are_paid_in_id_order() -> None:
    b = book(inst("I-B", "500.00", "2026-03-31", row=3), inst("I-A", "500.00", "2026-03-31"),
             receipt("R-1", "2026-03-01", "500.00"))
    rows = fees(b, "2026-03-01")
    assert rows["I-A"].paid == D("500.00") and rows["I-B"].paid == 0


def test_same_day_named_receipts_go_before_unnamed_ones() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"), inst("I-2", "500.00", "2026-04-30", row=3),
             receipt("R-1", "2026-03-01", "500.00"),
             receipt("R-2", "2026-03-01", "500.00", "I-1", row=3))
    rows = fees(b, "2026-03-01")
    assert rows["I-1"].paid == D("500.00") and rows["I-2"].paid == D("500.00")
    assert problems(b, "2026-03-01") == ()


def test_overpaying_a_named_installment_is_a_problem_at_the_receipt_amount() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"),
             receipt("R-1", "2026-03-01", "600.00", "I-1", row=7))
    (p,) = problems(b, "2026-03-31")
    assert (p.sheet, p.cell, p.severity) == ("Receipts", "E7", Severity.WARNING)
    assert "overpayment" in p.message and "100.00" in p.message
    assert fees(b, "2026-03-31")["I-1"].outstanding == 0


def test_overpaying_a_contract_with_an_unnamed_receipt_is_a_problem() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"), receipt("R-1", "2026-03-01", "800.00", row=4))
    (p,) = problems(b, "2026-03-31")
    assert p.cell == "E4" and "300.00" in p.message


def test_overpayment_message_shows_money_grouped_with_two_decimals() -> None:
    # Amounts read from float cells come as Decimal('2970000.0'): the message must not.
    b = book(inst("I-1", "30000.00", "2026-03-31"),
             receipt("R-1", "2026-03-01", "3000000.0", "I-1", row=7))
    (p,) = problems(b, "2026-03-31")
    assert "overpayment: 2,970,000.00 of receipt R-1" in p.message
    assert "2970000.0" not in p.message


def test_second_receipt_beyond_the_amount_is_the_overpayment() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"),
             receipt("R-1", "2026-03-01", "400.00", "I-1", row=2),
             receipt("R-2", "2026-03-05", "400.00", "I-1", row=3))
    (p,) = problems(b, "2026-03-31")
    assert p.cell == "E3" and "300.00" in p.message
    assert fees(b, "2026-04-30")["I-1"].fee == D("0.00")


def test_receipt_naming_an_unknown_installment_is_a_problem_and_not_applied() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"),
             receipt("R-1", "2026-03-01", "500.00", "I-9", row=5))
    (p,) = problems(b, "2026-03-31")
    assert (p.sheet, p.cell) == ("Receipts", "C5") and "I-9" in p.message
    assert fees(b, "2026-03-31")["I-1"].paid == 0


def test_receipt_naming_another_contracts_installment_is_a_problem() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"), inst("I-2", "500.00", "2026-03-31", "HT-2", 3),
             receipt("R-1", "2026-03-01", "500.00", "I-2", row=5),
             contracts=(contract(), contract("HT-2", row=3)))
    (p,) = problems(b, "2026-03-31")
    assert p.cell == "C5" and "HT-2" in p.message
    assert fees(b, "2026-03-31")["I-2"].paid == 0


def test_receipt_for_an_unknown_contract_is_a_problem() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"), receipt("R-1", "2026-03-01", "5.00", cid="HT-X"))
    (p,) = problems(b, "2026-03-31")
    assert p.cell == "B2" and "HT-X" in p.message


def test_repeated_installment_id_is_a_problem_and_the_first_row_counts() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"), inst("I-1", "900.00", "2026-03-31", row=3))
    (p,) = problems(b, "2026-03-31")
    assert p.cell == "A3"
    assert fees(b, "2026-03-31")["I-1"].amount == D("500.00")


# --- due dates from the contract's rules (clause 3.4) -------------------------------


def test_prepayment_is_due_n_calendar_days_after_signing() -> None:
    c = contract(signing_date=day("2026-03-02"), prepay_days=10)
    due, found = effective_due_date(inst("P", "1", None, kind="prepayment"), c,
                                    effective_terms(c, settings()))
    assert found == () and due is not None and due.date == day("2026-03-12")
    assert due.sources == ("Contracts!D2", "Contracts!J2", "Contracts!K2")


def test_prepayment_in_working_days_skips_the_national_day_holiday() -> None:
    c = contract(signing_date=day("2026-09-30"), prepay_days=3, prepay_day_type="working")
    due, _ = effective_due_date(inst("P", "1", None, kind="prepayment"), c,
                                effective_terms(c, settings()))
    # Oct 1-7 rest; Oct 8, 9 and the make-up Saturday Oct 10 are working days.
    assert due is not None and due.date == day("2026-10-10")


def test_final_payment_is_due_n_days_after_the_term_ends() -> None:
    c = contract(end_date=day("2026-06-30"), final_days=15)
    due, _ = effective_due_date(inst("F", "1", None, kind="final"), c,
                                effective_terms(c, settings()))
    assert due is not None and due.date == day("2026-07-15")


def test_progress_payment_without_a_due_date_is_a_problem_at_its_due_date_cell() -> None:
    b = book(inst("I-1", "500.00", None, row=9))
    (p,) = problems(b, "2026-03-31")
    assert (p.sheet, p.cell) == ("Installments", "E9")
    assert fees(b, "2026-03-31") == {}


def test_missing_rule_value_is_a_problem_at_the_contract_cell() -> None:
    b = book(inst("P-1", "500.00", None, kind="final"), contracts=(contract(row=4),))
    (p,) = problems(b, "2026-03-31")
    assert (p.sheet, p.cell) == ("Contracts", "L4") and "final_days" in p.message


def test_receipt_for_an_installment_with_an_unknown_due_date_is_absorbed_quietly() -> None:
    b = book(inst("I-1", "500.00", None), receipt("R-1", "2026-03-01", "500.00", "I-1"))
    assert len(problems(b, "2026-03-31")) == 1  # the due date only


# --- dashboard helper, risk flag, idempotence, presenters ----------------------------


def test_installment_positions_give_due_date_outstanding_and_overdue() -> None:
    b = book(inst("I-1", "1000.00", "2026-10-01"), receipt("R-1", "2026-10-09", "400.00", "I-1"))
    f = installment_positions(b, day("2026-10-20"))["I-1"]
    assert f.due.date == day("2026-10-08") and f.due.moved_from == day("2026-10-01")
    assert (f.outstanding, f.overdue, f.days_overdue) == (D("600.00"), D("600.00"), 12)
    assert f.days_late == 12 and f.fee == D("3.80")  # 400×1 + 600×12 = 7600 × 0.0005


def test_risk_flag_when_the_yearly_rate_exceeds_lpr_times_one_and_a_half() -> None:
    b = book(contracts=(contract(), contract("HT-2", 3, late_fee_rate=D("0.0001")),
                        contract("HT-3", 4, late_fee_exempt=True)))
    result, _ = late_fees(b, day("2026-03-31"))
    (flag,) = result.risk_flags  # 0.0005 × 365 = 18.25 % > 3 % × 1.5; 3.65 % is not
    assert flag.contract_ids == ("HT-1",) and flag.annual_rate == D("0.1825")
    assert "art. 585" in flag.message


def test_no_risk_flag_when_the_rate_is_within_lpr_times_one_and_a_half() -> None:
    b = book(settings=settings(lpr_one_year=D("0.13")))  # 19.5 % > 18.25 %
    assert late_fees(b, day("2026-03-31"))[0].risk_flags == ()


def test_same_inputs_and_date_give_the_same_result_every_time() -> None:
    b = book(inst("I-1", "100000.00", "2026-03-31"),
             receipt("R-1", "2026-04-10", "60000.00", "I-1"))
    first = penalties_json(compute_penalties(b, day("2026-06-30"))[0])
    for _ in range(3):
        assert penalties_json(compute_penalties(b, day("2026-06-30"))[0]) == first


def test_json_has_money_as_two_decimal_strings_and_iso_dates() -> None:
    b = book(inst("I-1", "100000", "2026-03-31"), receipt("R-1", "2026-04-10", "60000", "I-1"))
    data = penalties_json(compute_penalties(b, day("2026-04-30"))[0])
    json.dumps(data)  # serialisable as is
    assert data["as_of"] == "2026-04-30"
    (row,) = data["late_fees"]
    assert {"contract_id", "installment_id", "due_date", "amount", "outstanding", "days_late",
            "fee", "segments"} <= row.keys()
    assert (row["amount"], row["outstanding"], row["fee"]) == ("100000.00", "40000.00", "900.00")
    assert row["due_date"] == "2026-03-31" and row["days_late"] == 30
    assert row["segments"][0] == {
        "receipt_id": "R-1", "amount": "60000.00", "from": "2026-04-01", "to": "2026-04-10",
        "days": 10, "rate": "0.0005", "fee_exact": "300", "fee": "300.00"}
    assert data["totals"]["late_fees"] == "900.00"
    assert {"sla", "availability", "totals", "problems"} <= data.keys()


def test_workings_rows_name_the_cells_each_figure_comes_from() -> None:
    b = book(inst("I-1", "100000.00", "2026-03-31", row=5),
             receipt("R-1", "2026-04-10", "60000.00", "I-1", row=17))
    rows = workings_rows(compute_penalties(b, day("2026-04-30"))[0])
    header = rows[0]
    assert header[0] == "类别 (section)" and "来源单元格 (source)" in header
    source = header.index("来源单元格 (source)")
    paid, opened, total = rows[1:4]
    assert "Receipts!E17" in str(paid[source]) and "Receipts!D17" in str(paid[source])
    assert "Installments!E5" in str(paid[source]) and "Settings!C" in str(paid[source])
    assert "Installments!D5" in str(opened[source])
    assert total[header.index("金额 (result)")] == D("900.00")
    assert all(len(r) == len(header) for r in rows)


def test_penalties_table_is_a_readable_report() -> None:
    b = book(inst("I-1", "100000.00", "2026-03-31"))
    text = penalties_table(compute_penalties(b, day("2026-04-10"))[0])
    assert "HT-1" in text and "I-1" in text and "500.00" in text
    assert "Penalties as of 2026-04-10" in text and "late fees owed to us" in text


def test_a_negative_receipt_is_a_problem_and_the_others_still_count() -> None:
    b = book(inst("I-1", "500.00", "2026-03-31"),
             receipt("R-1", "2026-03-01", "-50.00", "I-1", row=2),
             receipt("R-2", "2026-03-02", "0.00", "I-1", row=3),
             receipt("R-3", "2026-03-03", "500.00", "I-1", row=4))
    (p,) = problems(b, "2026-03-31")
    assert p.cell == "E2" and "negative" in p.message
    assert fees(b, "2026-03-31")["I-1"].outstanding == 0


def test_a_fee_of_exactly_half_a_fen_rounds_up_not_to_even() -> None:
    # 50.00 × 0.0005 × 1 day = 0.025: half-up gives 0.03 (banker's rounding would give 0.02).
    b = book(inst("I-1", "50.00", "2026-03-31"), receipt("R-1", "2026-04-01", "50.00", "I-1"))
    assert fees(b, "2026-04-30")["I-1"].fee == D("0.03")
    # 150.00 × 0.0005 × 1 = 0.075 -> 0.08 (half-even would also give 0.08: both directions).
    b = book(inst("I-1", "150.00", "2026-03-31"), receipt("R-1", "2026-04-01", "150.00", "I-1"))
    assert fees(b, "2026-04-30")["I-1"].fee == D("0.08")


def test_fees_stay_exact_past_decimals_default_28_digits() -> None:
    # The largest amount and rate the reader lets through, late for decades: the product
    # has more digits than Decimal's default context keeps, and must still be exact.
    from fractions import Fraction

    amount, rate = "999999999999999.99", "0.0999999999999999"
    b = book(inst("I-1", amount, "2005-01-04"),
             receipt("R-1", "2020-06-30", "999999999999999.98", "I-1"),
             contracts=(contract(late_fee_rate=D(rate)),))
    f = fees(b, "2099-12-31")["I-1"]
    paid_days = (day("2020-06-30") - day("2005-01-04")).days
    open_days = (day("2099-12-31") - day("2005-01-04")).days
    exact = (Fraction("999999999999999.98") * paid_days + Fraction("0.01") * open_days) \
        * Fraction(rate)
    assert Fraction(f.fee_exact) == exact  # no digit lost
    fen = exact * 100
    whole, rest = divmod(fen.numerator, fen.denominator)
    assert Fraction(f.fee) == Fraction(whole + (1 if 2 * rest >= fen.denominator else 0), 100)
    assert sum(Fraction(s.fee) for s in f.segments) == exact


# --- late fees received or waived (Receipts 款项 滞纳金 / 减免滞纳金) --------------------


def fee_receipt(rid: str, paid: str, amount: str, iid: str | None = None,
                purpose: str = "late_fee", row: int = 9, cid: str = "HT-1") -> Receipt:
    return receipt(rid, paid, amount, iid, cid=cid, row=row)._replace(purpose=purpose)


def late_by_10_days() -> tuple[Installment, Receipt]:
    """10,000.00 due 03-31, paid 04-10: 10,000.00 × 0.05% × 10 days = 50.00."""
    return inst("I-1", "10000.00", "2026-03-31"), receipt("R-1", "2026-04-10", "10000.00", "I-1")


def test_a_late_fee_received_settles_the_fee_and_pays_no_installment() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "20.00", "I-1"))
    f = fees(b, "2026-06-30")["I-1"]
    assert (f.fee, f.fee_paid, f.fee_waived, f.fee_owed) == (
        D("50.00"), D("20.00"), D("0"), D("30.00"))
    assert f.outstanding == 0 and f.paid == D("10000.00")  # the fee receipt paid no part
    assert [(x.receipt_id, x.purpose, x.amount) for x in f.settlements] == [
        ("F-1", "late_fee", D("20.00"))]
    assert problems(b, "2026-06-30") == ()


def test_a_fee_receipt_never_pays_an_installment_still_open() -> None:
    # 10,000.00 open since 03-31; 50.00 received as a late fee must not make it 9,950.00.
    b = book(inst("I-1", "10000.00", "2026-03-31"),
             fee_receipt("F-1", "2026-04-05", "2.50", "I-1"))
    f = fees(b, "2026-04-10")["I-1"]
    assert f.outstanding == D("10000.00") and f.overdue == D("10000.00")
    assert (f.fee, f.fee_paid, f.fee_owed) == (D("50.00"), D("2.50"), D("47.50"))


def test_a_fee_waived_settles_like_a_fee_received_and_is_told_apart() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "50.00", "I-1", "fee_waiver"))
    f = fees(b, "2026-06-30")["I-1"]
    assert (f.fee, f.fee_paid, f.fee_waived, f.fee_owed) == (
        D("50.00"), D("0"), D("50.00"), D("0.00"))
    assert f.settlements[0].waived
    result = late_fees(b, day("2026-06-30"))[0]
    assert (result.fee_paid, result.fee_waived) == (D("0"), D("50.00"))


def test_an_explicit_installment_purpose_is_an_ordinary_receipt() -> None:
    i, r = late_by_10_days()
    b = book(i, r._replace(purpose="installment"))
    f = fees(b, "2026-06-30")["I-1"]
    assert f.outstanding == 0 and f.fee == D("50.00") and f.settlements == ()


def test_an_unnamed_fee_receipt_settles_the_oldest_fees_first() -> None:
    b = book(inst("I-1", "10000.00", "2026-03-31", row=2),  # 10 days late: 50.00
             inst("I-2", "6000.00", "2026-04-30", row=3),  # 10 days late: 30.00
             receipt("R-1", "2026-04-10", "10000.00", "I-1", row=2),
             receipt("R-2", "2026-05-10", "6000.00", "I-2", row=3),
             fee_receipt("F-1", "2026-06-01", "60.00"))
    got = fees(b, "2026-06-30")
    assert (got["I-1"].fee_owed, got["I-2"].fee_owed) == (D("0.00"), D("20.00"))
    assert (got["I-1"].fee_paid, got["I-2"].fee_paid) == (D("50.00"), D("10.00"))


def test_a_named_fee_receipt_goes_before_an_unnamed_one_of_the_same_day() -> None:
    # The unnamed 50.00 would take I-1's 50.00 first; the named one of the same day, listed
    # after it, goes first and takes it, so the unnamed one settles I-2's.
    b = book(inst("I-1", "10000.00", "2026-03-31", row=2),
             inst("I-2", "10000.00", "2026-04-30", row=3),
             receipt("R-1", "2026-04-10", "10000.00", "I-1", row=2),
             receipt("R-2", "2026-05-10", "10000.00", "I-2", row=3),
             fee_receipt("F-1", "2026-06-01", "50.00", row=4),
             fee_receipt("F-2", "2026-06-01", "50.00", "I-1", row=5))
    got = fees(b, "2026-06-30")
    assert [x.receipt_id for x in got["I-1"].settlements] == ["F-2"]
    assert [x.receipt_id for x in got["I-2"].settlements] == ["F-1"]
    assert problems(b, "2026-06-30") == ()


def test_a_fee_receipt_beyond_the_fee_owed_is_a_warning_and_the_excess_not_applied() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "80.00", "I-1", row=7))
    (p,) = problems(b, "2026-06-30")
    assert (p.sheet, p.cell, p.severity) == ("Receipts", "E7", Severity.WARNING)
    assert "30.00 of receipt F-1 (滞纳金)" in p.message and "installment I-1" in p.message
    f = fees(b, "2026-06-30")["I-1"]
    assert (f.fee_paid, f.fee_owed) == (D("50.00"), D("0.00"))


def test_a_fee_receipt_counts_from_its_own_date_not_the_day_before() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "20.00", "I-1"))
    assert fees(b, "2026-05-05")["I-1"].fee_owed == D("50.00")  # not received yet
    assert fees(b, "2026-05-06")["I-1"].fee_owed == D("30.00")  # received that day


def test_a_fee_receipt_of_an_exempt_contract_has_no_fee_to_settle() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "20.00", "I-1"),
             contracts=(contract(late_fee_exempt=True),))
    (p,) = problems(b, "2026-06-30")
    assert p.severity is Severity.WARNING and "20.00 of receipt F-1" in p.message
    assert fees(b, "2026-06-30")["I-1"].fee_owed == D("0.00")


def test_a_fee_receipt_naming_an_unknown_installment_is_a_problem_and_not_applied() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "20.00", "NO-SUCH", row=6))
    (p,) = problems(b, "2026-06-30")
    assert p.cell == "C6" and "NO-SUCH" in p.message and p.severity is Severity.ERROR
    assert fees(b, "2026-06-30")["I-1"].fee_owed == D("50.00")


def test_json_and_table_and_workings_show_what_was_received_or_waived() -> None:
    b = book(*late_by_10_days(), fee_receipt("F-1", "2026-05-06", "20.00", "I-1", row=4),
             fee_receipt("F-2", "2026-05-07", "5.00", "I-1", "fee_waiver", row=5))
    result, _ = compute_penalties(b, day("2026-06-30"))
    data = json.loads(json.dumps(penalties_json(result)))
    (item,) = data["late_fees"]
    assert (item["fee"], item["fee_paid"], item["fee_waived"], item["fee_owed"]) == (
        "50.00", "20.00", "5.00", "25.00")
    assert item["settlements"] == [
        {"receipt_id": "F-1", "purpose": "late_fee", "date": "2026-05-06", "amount": "20.00"},
        {"receipt_id": "F-2", "purpose": "fee_waiver", "date": "2026-05-07", "amount": "5.00"}]
    t = data["totals"]
    assert (t["late_fees"], t["late_fees_paid"], t["late_fees_waived"], t["late_fees_owed"]) == (
        "50.00", "20.00", "5.00", "25.00")
    table = penalties_table(result)
    assert "fee received 20.00, fee waived 5.00" in table
    assert "late fees owed to us" in table and "25.00" in table
    rows = [r for r in workings_rows(result) if r[0] == "滞纳金结算 fee_settled"]
    assert [(r[3], r[4], r[10], r[11]) for r in rows] == [
        ("receipt F-1", D("20.00"), "received", "Receipts!E4, Receipts!F4, Receipts!D4"),
        ("receipt F-2", D("5.00"), "waived", "Receipts!E5, Receipts!F5, Receipts!D5")]
    (total,) = [r for r in workings_rows(result) if r[0] == "滞纳金合计 late_fee_total"]
    assert str(total[12]).endswith("fee 50.00, received 20.00, waived 5.00: still owed 25.00")


def test_the_workings_take_a_settlement_off_the_capped_fee_not_the_sum() -> None:
    """Found in review: "Σ segments 74; received 20.00 ...: still owed 30.00; capped at 50"
    read as 74 - 20 = 30. The settlement now comes after the cap."""
    b = book(inst("I-1", "1000.00", "2026-01-31"),
             fee_receipt("F-1", "2026-05-06", "20.00", "I-1"),
             contracts=(contract(late_fee_cap_pct=D("0.05")),))
    result, _ = compute_penalties(b, day("2026-06-30"))
    (total,) = [r for r in workings_rows(result) if r[0] == "滞纳金合计 late_fee_total"]
    assert str(total[12]).endswith(
        "fee = round half-up(Σ segments 74); capped at 50 (cap % × amount 1,000.00); "
        "fee 50.00, received 20.00, waived 0.00: still owed 30.00")
