"""The Dashboard: flags at their edges, ageing, order, KPIs, the written sheet and chart,
refresh end to end, and LibreOffice printing it legibly."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import statistics
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from contract_tracker.build import build_workbook
from contract_tracker.cli import main
from contract_tracker.dashboard import (
    DEFAULT_NOTICE_DAYS,
    RENEWAL_LOOKBACK_DAYS,
    ContractLine,
    Dashboard,
    Flag,
    _cell_width,
    _column_width,
    _filled_lines,
    _lines,
    dashboard_job,
    dashboard_model,
    dashboard_sheet,
)
from contract_tracker.engine import compute_penalties
from contract_tracker.jobs import penalties_line, refresh_job
from contract_tracker.money import fmt_money_grouped
from contract_tracker.reader import load_book
from contract_tracker.records import (
    AgeingBucket,
    AvailabilityMonth,
    Book,
    Client,
    Contract,
    CreditTier,
    Incident,
    Installment,
    Receipt,
    Settings,
    SlaPenaltyRule,
)
from contract_tracker.sample import SAMPLE_AS_OF, sample_book
from contract_tracker.sheetwriter import write_tool_sheets
from contract_tracker.statuses import is_signed
from contract_tracker.textwidth import text_width

from .lo import convert_with_libreoffice, pdf_pages_to_png, pdf_text, pdf_word_heights
from .test_report import assert_cjk_font_embedded, keep_pngs
from .test_sheetwriter import make_master, parts, raw_records, sheet_part
from .test_sheetwriter import vba_bin as vba_bin  # the session fixture

AS_OF = dt.date(2026, 6, 15)  # a Monday
NOW = dt.datetime(2026, 6, 15, 9, 30)
FORMULA_LIKE = ["=1+2", "+cmd|' /C calc'!A0", "-1", "@SUM(A1)", "\t=x", "\r=x"]

# --- a book made to order -------------------------------------------------------------------


def settings(**kw: object) -> Settings:
    base: dict[str, object] = dict(
        move_due_off_rest_days=False,
        sla_penalties=(SlaPenaltyRule("STD", "response", "fixed", D("500")),),
        credit_tiers=(CreditTier("STD", D("0.999"), D("0.05")),),
        ageing=(AgeingBucket("1-30", 1, 30), AgeingBucket("31-60", 31, 60),
                AgeingBucket("61-90", 61, 90), AgeingBucket("91-180", 91, 180),
                AgeingBucket(">180", 181, None)),
    )
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def contract(cid: str, client: str = "C1", *, start: dt.date = dt.date(2026, 1, 1),
             end: dt.date = dt.date(2026, 12, 31), status: str = "active",
             **kw: object) -> Contract:
    return Contract(cid, client, start - dt.timedelta(days=10), start, end, D("120000"),
                    status, **kw)  # type: ignore[arg-type]


def due_in(cid: str, days: int, amount: str = "1000", iid: str | None = None) -> Installment:
    """An installment of ``cid`` due ``days`` after AS_OF (negative: overdue)."""
    return Installment(iid or f"{cid}-{days}", cid, "progress", D(amount),
                       AS_OF + dt.timedelta(days=days))


def make_book(contracts: list[Contract], installments: list[Installment] = (),  # type: ignore[assignment]
              receipts: list[Receipt] = (), incidents: list[Incident] = (),  # type: ignore[assignment]
              availability: list[AvailabilityMonth] = (),  # type: ignore[assignment]
              **kw: object) -> Book:
    clients = tuple(Client(c, f"客户{c}", "法人", "地址", "021-1", "91310000000000000X",
                           account_manager=f"经理{c}")
                    for c in sorted({x.client_id for x in contracts}))
    return Book(settings(**kw), clients, tuple(contracts), (), tuple(installments),
                tuple(receipts), tuple(incidents), tuple(availability))


def model_of(book: Book, as_of: dt.date = AS_OF) -> Dashboard:
    result, _ = compute_penalties(book, as_of)
    return dashboard_model(book, result, as_of)


def line(model: Dashboard, cid: str) -> ContractLine:
    return next(x for x in model.contracts if x.contract_id == cid)


# --- payment flag -----------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "flag"), [
    (8, Flag.GREEN), (7, Flag.AMBER), (1, Flag.AMBER), (0, Flag.AMBER), (-1, Flag.RED),
])
def test_payment_flag_due_soon_edge(days: int, flag: Flag) -> None:
    model = model_of(make_book([contract("A")], [due_in("A", days)]))
    assert line(model, "A").payment is flag


def test_due_soon_follows_settings() -> None:
    book = make_book([contract("A")], [due_in("A", 10)], due_soon_days=10)
    assert line(model_of(book), "A").payment is Flag.AMBER
    assert model_of(book).due_soon_days == 10


@pytest.mark.parametrize(("overdue_days", "flag"), [
    (4, Flag.AMBER), (5, Flag.AMBER), (6, Flag.RED),
])
def test_payment_flag_grace_edge(overdue_days: int, flag: Flag) -> None:
    book = make_book([contract("A", grace_days=5)], [due_in("A", -overdue_days)])
    x = line(model_of(book), "A")
    assert x.payment is flag
    assert x.overdue == D("1000") and x.days_overdue == overdue_days


def test_paid_installments_are_green() -> None:
    inst = due_in("A", -40, iid="A-1")
    book = make_book([contract("A")], [inst, due_in("A", 3)],
                     [Receipt("R1", "A", AS_OF - dt.timedelta(days=30), D("1000"), "A-1"),
                      Receipt("R2", "A", AS_OF, D("1000"), "A-3")])
    x = line(model_of(book), "A")
    assert x.payment is Flag.GREEN and x.overdue == 0 and x.outstanding == 0
    assert x.late_fee == D("5.00")  # 1000 x 0.0005 x 10 days late, kept to date


# --- ageing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "bucket"), [
    (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (180, "91-180"),
    (181, ">180"),
])
def test_ageing_bucket_edges(days: int, bucket: str) -> None:
    model = model_of(make_book([contract("A")], [due_in("A", -days, "123.45")]))
    amounts = {a.label: a.amount for a in model.ageing}
    assert amounts[bucket] == D("123.45")
    assert sum(amounts.values()) == D("123.45")


def test_amounts_outside_every_bucket_go_to_other_so_totals_still_add_up() -> None:
    book = make_book([contract("A")], [due_in("A", -5, "10"), due_in("A", -45, "20")],
                     ageing=(AgeingBucket("1-30", 1, 30),))
    model = model_of(book)
    assert [(a.label, a.amount, a.items) for a in model.ageing] == [
        ("1-30", D("10"), 1), ("其他 other", D("20"), 1)]
    assert sum(a.amount for a in model.ageing) == model.kpis.overdue == D("30")


def test_default_buckets_when_settings_have_none() -> None:
    model = model_of(make_book([contract("A")], [due_in("A", -31)], ageing=()))
    assert [a.label for a in model.ageing] == ["1-30", "31-60", "61-90", "91-180", ">180"]
    assert model.ageing[1].amount == D("1000")


# --- SLA flag ---------------------------------------------------------------------------------


def incident(iid: str, cid: str, reported: dt.datetime, responded_after_h: float | None,
             ) -> Incident:
    responded = (None if responded_after_h is None
                 else reported + dt.timedelta(hours=responded_after_h))
    done = reported + dt.timedelta(hours=1)
    return Incident(iid, cid, "normal", reported, responded, done if responded else None,
                    done if responded else None)


def test_sla_flag_red_for_a_breach_this_month_amber_for_last_month() -> None:
    this = dt.datetime(2026, 6, 2, 9)
    last = dt.datetime(2026, 5, 20, 9)
    book = make_book(
        [contract("A", "C1"), contract("B", "C2"), contract("C", "C3")],
        incidents=[incident("I1", "A", this, 3), incident("I2", "B", last, 3),
                   incident("I3", "C", this, 1)])
    model = model_of(book)
    assert (line(model, "A").sla, line(model, "A").sla_breaches) == (Flag.RED, 1)
    assert (line(model, "B").sla, line(model, "B").last_month_breaches) == (Flag.AMBER, 1)
    assert line(model, "C").sla is Flag.GREEN
    assert model.kpis.sla_breaches == 1


def test_sla_flag_amber_while_a_clock_runs_within_its_limit() -> None:
    reported = dt.datetime.combine(AS_OF, dt.time(23, 0))
    model = model_of(make_book([contract("A")], incidents=[incident("I1", "A", reported, None)]))
    assert line(model, "A").sla is Flag.AMBER and line(model, "A").open_incidents > 0


@pytest.mark.parametrize(("downtime", "flag"), [("43.2", Flag.GREEN), ("43.3", Flag.RED)])
def test_sla_flag_last_months_availability_at_and_below_target(downtime: str,
                                                               flag: Flag) -> None:
    book = make_book([contract("A")], availability=[
        AvailabilityMonth("A", dt.date(2026, 4, 1), D("99")),  # two months back: ignored
        AvailabilityMonth("A", dt.date(2026, 5, 1), D(downtime) * 31 / 30)])
    x = line(model_of(book), "A")
    assert x.sla is flag
    assert x.availability is not None and x.target == D("0.999")
    assert (x.availability < x.target) is (flag is Flag.RED)


# --- renewal flag -----------------------------------------------------------------------------


@pytest.mark.parametrize(("days_before_end", "flag"), [
    (31, Flag.GREEN), (30, Flag.AMBER), (1, Flag.AMBER), (0, Flag.AMBER), (-1, Flag.RED),
])
def test_renewal_notice_period_edge(days_before_end: int, flag: Flag) -> None:
    end = AS_OF + dt.timedelta(days=days_before_end)
    model = model_of(make_book([contract("A", end=end, renewal_notice_days=30)]))
    x = line(model, "A")
    assert x.renewal is flag
    assert x.notice_from == end - dt.timedelta(days=30)


def test_blank_notice_period_uses_the_default() -> None:
    end = AS_OF + dt.timedelta(days=DEFAULT_NOTICE_DAYS)
    assert line(model_of(make_book([contract("A", end=end)])), "A").renewal is Flag.AMBER


def test_a_following_contract_of_the_same_client_renews() -> None:
    end = AS_OF + dt.timedelta(days=10)
    old = contract("A", "C1", end=end, renewal_notice_days=30)
    parallel = contract("P", "C1", start=dt.date(2026, 3, 1), end=dt.date(2027, 2, 28))
    other_client = contract("X", "C2", start=end + dt.timedelta(days=1),
                            end=end + dt.timedelta(days=365))
    model = model_of(make_book([old, parallel, other_client]))
    assert line(model, "A").renewal is Flag.AMBER  # parallel and other client's: no renewal
    follow = contract("B", "C1", start=end + dt.timedelta(days=1),
                      end=end + dt.timedelta(days=365), status="signed")
    model = model_of(make_book([old, parallel, follow]))
    assert (line(model, "A").renewal, line(model, "A").renewed_by) == (Flag.GREEN, "B")


def test_a_renewal_in_negotiation_is_named_but_does_not_clear_the_flag() -> None:
    end = AS_OF - dt.timedelta(days=3)
    old = contract("A", "C1", end=end)
    draft = contract("B", "C1", start=end + dt.timedelta(days=1),
                     end=end + dt.timedelta(days=365), status="sent")
    model = model_of(make_book([old, draft]))
    x = line(model, "A")
    assert x.renewal is Flag.RED and x.renewal_pending == "B (已发送)"
    assert model.kpis.ended_unrenewed == 1
    assert line(model, "B").renewal is Flag.NONE and not line(model, "B").listed


def test_listing_rules_by_status() -> None:
    ended = AS_OF - dt.timedelta(days=20)
    long_ago = AS_OF - dt.timedelta(days=RENEWAL_LOOKBACK_DAYS + 1)
    book = make_book([
        contract("ACT", "C1"), contract("SGN", "C2", status="signed"),
        contract("EXP-OWED", "C3", end=long_ago, status="expired"),
        contract("EXP-RECENT", "C4", end=ended, status="expired"),
        contract("EXP-OLD", "C5", end=long_ago, status="expired"),
        contract("TRM", "C6", status="terminated"),
        contract("DRF", "C7", status="draft"),
        contract("DRF-OVERDUE", "C8", status="draft"),
    ], [due_in("EXP-OWED", -200), due_in("DRF", 30), due_in("DRF-OVERDUE", -2)])
    model = model_of(book)
    listed = {x.contract_id for x in model.rows}
    # a draft owes nothing, overdue installment or not: not listed for money
    assert listed == {"ACT", "SGN", "EXP-OWED", "EXP-RECENT"}
    assert line(model, "EXP-OLD").renewal is Flag.RED  # ended long ago: not listed
    assert line(model, "TRM").renewal is Flag.NONE
    assert model.kpis.ended_unrenewed == 2  # EXP-OWED and EXP-RECENT, both listed
    # the KPIs cover signed contracts only; the drafts' 2,000 is its own figure
    assert model.kpis.outstanding == model.kpis.overdue == D("1000")
    assert model.kpis.unsigned == D("2000") and model.kpis.unsigned_contracts == 2
    assert model.kpis.payment_breaches == 1  # EXP-OWED; not DRF-OVERDUE
    x = line(model, "DRF-OVERDUE")
    assert x.payment is Flag.NONE and x.overdue == 0 and x.outstanding == 0


def test_unsigned_contracts_count_in_no_money_kpi_ageing_or_breach() -> None:
    """Past-due installments of draft and sent contracts: not overdue, not a breach, not in
    the ageing, as in the weekly report (nothing is owed before signing)."""
    book = make_book([contract("ACT", "C1"), contract("DRF", "C2", status="draft"),
                      contract("SNT", "C3", status="sent")],
                     [due_in("ACT", -40, "700"), due_in("DRF", -200, "5000"),
                      due_in("SNT", -3, "9000"), due_in("SNT", 30, "1000")])
    model = model_of(book)
    k = model.kpis
    assert (k.outstanding, k.overdue, k.payment_breaches) == (D("700"), D("700"), 1)
    assert k.late_fees == line(model, "ACT").late_fee > 0
    assert k.unsigned == D("15000") and k.unsigned_contracts == 2
    assert sum(a.amount for a in model.ageing) == D("700")
    assert sum(a.items for a in model.ageing) == 1
    assert {x.contract_id for x in model.rows} == {"ACT"}
    assert line(model, "DRF").payment is line(model, "SNT").payment is Flag.NONE
    content = dashboard_sheet(model, NOW)
    kpi_rows = {row[0]: row[1] for row in content.rows if len(row) > 1}
    assert kpi_rows["未签署 not yet signed"] == D("15000")
    assert kpi_rows["未收款 outstanding"] == D("700")


def test_dashboard_and_report_agree_on_the_bundled_workbook() -> None:
    """One predicate for what is owed: the Dashboard's money KPIs at a week's Sunday are the
    weekly report's figures; the bundled workbook's drafts HT-2026-010/011/012 (888,000.00
    scheduled) are only in the 'not yet signed' figure."""
    from contract_tracker.report import IsoWeek, build_report

    book, _ = load_book(Path(__file__).resolve().parents[1] / "workbook" / "contracts.xlsm")
    assert book is not None
    week = IsoWeek(2026, 48)
    model = model_of(book, week.sunday)
    report = build_report(book, week)
    k = model.kpis
    assert k.outstanding == report.totals["outstanding"]
    assert k.overdue == report.overdue_total == sum(a.amount for a in model.ageing)
    assert k.late_fees == report.late_fee_total
    assert k.payment_breaches == len({r.contract_id for r in report.overdue})
    assert k.unsigned == D("888000") and k.unsigned_contracts == 3
    assert {x.contract_id for x in model.contracts if x.payment is Flag.NONE} == {
        "HT-2026-010", "HT-2026-011", "HT-2026-012"}
    model_25 = model_of(book, dt.date(2026, 11, 25))
    assert model_25.kpis.outstanding == D("2704222.22")  # 3,592,222.22 less the drafts


# --- order and totals -------------------------------------------------------------------------


def test_worst_first() -> None:
    end_soon = AS_OF + dt.timedelta(days=5)
    book = make_book([
        contract("GREEN", "C1"),
        contract("AMBER", "C2", end=end_soon),
        contract("RED-SMALL", "C3"),
        contract("RED-BIG", "C4"),
        contract("RED-RED", "C5", end=AS_OF - dt.timedelta(days=1)),
        contract("RED-RENEW", "C6", end=AS_OF - dt.timedelta(days=1)),
    ], [due_in("RED-SMALL", -10, "100"), due_in("RED-BIG", -3, "5000"),
        due_in("RED-RED", -1, "50")])
    model = model_of(book)
    assert [x.contract_id for x in model.rows] == [
        "RED-RED", "RED-BIG", "RED-SMALL", "RED-RENEW", "AMBER", "GREEN"]


def test_kpis_equal_the_engines_totals_on_the_sample() -> None:
    book = sample_book("small")
    result, _ = compute_penalties(book, SAMPLE_AS_OF)
    model = dashboard_model(book, result, SAMPLE_AS_OF)
    # It reads the money alone: no installment or incident row is built for it (on a
    # large book those rows and their workings took most of a refresh's compute time).
    assert result.late_fees._rows is None and result.sla._rows is None
    k = model.kpis
    signed = {c.contract_id for c in book.contracts if is_signed(c)}
    fees = [f for f in result.late_fees if f.contract_id in signed]
    assert (k.outstanding, k.overdue, k.late_fees) == (
        sum(f.outstanding for f in fees), sum(f.overdue for f in fees),
        sum(f.fee_owed for f in fees))
    # the sample settles 2,980.50 of fees (received or waived): the Dashboard asks for the rest
    assert sum(f.fee - f.fee_owed for f in fees) == D("2980.50")
    assert k.sla_owed == sum(m.owed for m in result.sla_months if m.contract_id in signed)
    assert k.unsigned == sum(f.outstanding for f in result.late_fees
                             if f.contract_id not in signed)
    assert sum(a.amount for a in model.ageing) == k.overdue
    assert sum(a.items for a in model.ageing) == sum(1 for f in fees if f.overdue)
    assert sum(x.overdue for x in model.rows) == k.overdue  # every overdue contract listed
    # Found in review: fees and SLA sums of ended contracts no longer listed made the
    # columns fall short of the KPIs, silently. The header now names what is not listed.
    assert sum(x.late_fee for x in model.rows) + k.late_fees_unlisted == k.late_fees
    assert sum(x.sla_owed for x in model.rows) + k.sla_owed_unlisted == k.sla_owed
    assert k.late_fees_unlisted > 0 and k.sla_owed_unlisted > 0
    header = dashboard_sheet(model, dt.datetime(2026, 11, 26, 9, 0)).rows[1][0]
    assert (f"滞纳金 late fees ¥{fmt_money_grouped(k.late_fees_unlisted)}，SLA应付 owed by us "
            f"¥{fmt_money_grouped(k.sla_owed_unlisted)}") in str(header)
    assert k.payment_breaches == sum(1 for x in model.rows if x.payment is Flag.RED) > 0
    assert k.sla_breaches == sum(
        sum(c.breached for c in s.clocks) for s in result.sla
        if s.month == SAMPLE_AS_OF.replace(day=1)) > 0
    assert k.renewals_due > 0 and k.ended_unrenewed > 0
    assert {x.status for x in model.rows} >= {"active", "expired"}
    flags = [x.flags for x in model.rows]
    assert {f for fs in flags for f in fs} >= {Flag.RED, Flag.AMBER, Flag.GREEN}


# --- the sheet --------------------------------------------------------------------------------


def sample_model() -> Dashboard:
    book = sample_book("small")
    result, _ = compute_penalties(book, SAMPLE_AS_OF)
    return dashboard_model(book, result, SAMPLE_AS_OF)


def table_start(ws: openpyxl.worksheet.worksheet.Worksheet) -> int:
    """The 1-based row of the contract table's header."""
    return next(c.row for c in ws["A"] if c.value == "客户\nclient")


def displayed(value: float, number_format: str) -> str:
    """What Excel shows for a number in the formats the dashboard uses."""
    if number_format.endswith("%"):
        decimals = number_format.split(".")[-1].count("0") if "." in number_format else 0
        return f"{value * 100:.{decimals}f}%"
    if number_format in ("0", "General"):
        return f"{value:g}"
    text = f"{value:,.2f}" if number_format.endswith(".00") else f"{value:,.0f}"
    return ("¥" + text) if number_format.startswith("¥") else text


def test_written_dashboard_reads_back(mini_workbook: Path) -> None:
    model = sample_model()
    write_tool_sheets(mini_workbook, {"Dashboard": dashboard_sheet(model, NOW)})
    wb = openpyxl.load_workbook(mini_workbook)
    ws = wb["Dashboard"]
    assert "2026-11-25" in ws["A1"].value and "2026-06-15 09:30" in ws["A2"].value
    head = table_start(ws)
    assert ws.freeze_panes == f"C{head + 1}"
    assert ws.auto_filter.ref == f"A{head}:Q{head + len(model.rows)}"
    first = model.rows[0]
    row = [c.value for c in ws[head + 1]]
    assert row[:4] == [first.client, first.contract_id, first.account_manager, "红"]
    assert D(str(row[5])) == first.overdue
    money = ws.cell(head + 1, 5)
    assert money.number_format == "#,##0.00" and isinstance(money.value, (int, float))
    assert ws.cell(head + 1, 15).number_format == "yyyy-mm-dd"
    assert isinstance(ws.cell(head + 1, 15).value, dt.datetime)
    kpis = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(5, head)}
    assert D(str(kpis["逾期 overdue"].value)) == model.kpis.overdue
    assert kpis["逾期 overdue"].number_format == "¥#,##0.00"
    assert kpis["付款违约 in breach"].value == model.kpis.payment_breaches
    # the ageing table's total equals the overdue KPI
    total = next(r for r in range(5, head) if ws.cell(r, 5).value == "合计 total")
    assert D(str(ws.cell(total, 6).value)) == model.kpis.overdue
    # no formulas anywhere, conditional formatting on the three flag columns
    assert not [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "f"]
    ranges = {str(cf.sqref) for cf in ws.conditional_formatting}
    assert kpis["付款违约 in breach"].coordinate in ranges
    for letter in "DIN":
        assert f"{letter}{head + 1}:{letter}{head + len(model.rows)}" in ranges
    # widths set so that nothing shows ### (each number fits its column)
    for col in range(1, 18):
        width = ws.column_dimensions[openpyxl.utils.get_column_letter(col)].width
        assert width and width >= 5
    for r in range(5, head + len(model.rows) + 1):
        for c in range(1, 18):
            v = ws.cell(r, c).value
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                shown = displayed(v, ws.cell(r, c).number_format)
                width = ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width
                assert len(shown) + 1 <= width, (ws.cell(r, c).coordinate, shown, width)
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == f"${head}:${head}"
    assert len(ws._charts) == 1
    # the three notes under the title span the table (A to Q) and wrap there, in rows
    # tall enough for their lines, so that printing one page wide keeps the text legible
    merged = {str(m) for m in ws.merged_cells.ranges}
    span = sum(ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width
               for c in range(1, 18))
    for r in (2, 3, 4):
        assert f"A{r}:Q{r}" in merged
        note = ws.cell(r, 1)
        assert note.data_type == "s" and note.alignment.wrap_text
        if text_width(note.value) > span:
            assert (ws.row_dimensions[r].height or 0) >= 2 * 16.5, r


def test_user_strings_stay_strings(mini_workbook: Path) -> None:
    contracts = [contract(f"HT-{i}", f"C{i}") for i in range(len(FORMULA_LIKE))]
    book = make_book(contracts, [due_in(c.contract_id, -3) for c in contracts])
    clients = tuple(c._replace(name=name, account_manager=name + "\x07")
                    for c, name in zip(book.clients, FORMULA_LIKE, strict=True))
    book = Book(book.settings, clients, book.contracts, (), book.installments)
    job = dashboard_job(book, AS_OF, now=NOW)
    report = write_tool_sheets(mini_workbook, job.sheets)
    assert report.cleaned  # the bell character was removed, not a crash
    with zipfile.ZipFile(mini_workbook) as z:
        xml = z.read(sheet_part(mini_workbook, "Dashboard")).decode()
    assert "<f>" not in xml and "<f " not in xml
    # The writer removes only what XML cannot hold (the bell); it keeps a CR, written as the
    # character reference &#13; so that XML parsers do not turn it into a LF.
    assert ">&#13;=x</t>" in xml
    ws = openpyxl.load_workbook(mini_workbook)["Dashboard"]
    names = {c.value for c in ws["A"] if c.data_type == "s"}
    assert set(FORMULA_LIKE) <= names
    assert "\r=x" in names
    managers = {c.value for c in ws["C"] if c.data_type == "s"}
    assert set(FORMULA_LIKE) <= managers  # "\x07" cleaned away, the rest kept as text


def test_an_empty_book_gives_a_readable_dashboard(mini_workbook: Path) -> None:
    model = model_of(Book(settings()))
    content = dashboard_sheet(model, NOW)
    write_tool_sheets(mini_workbook, {"Dashboard": content})
    ws = openpyxl.load_workbook(mini_workbook)["Dashboard"]
    assert ws.cell(table_start(ws) + 1, 1).value == "没有需要列出的合同 No contracts to list."
    assert model.kpis.overdue == 0 and all(a.amount == 0 for a in model.ageing)


# --- the chart part ---------------------------------------------------------------------------


def test_chart_parts_are_valid_and_deterministic(mini_workbook: Path) -> None:
    content = dashboard_sheet(sample_model(), NOW)
    before = parts(mini_workbook)
    write_tool_sheets(mini_workbook, {"Dashboard": content})
    after = parts(mini_workbook)
    added = [n for n in after if n not in before]
    assert added == ["xl/worksheets/_rels/sheet1.xml.rels",
                     "xl/drawings/ctDrawing_sheet1.xml",
                     "xl/drawings/_rels/ctDrawing_sheet1.xml.rels",
                     "xl/charts/ctChart_sheet1_1.xml"]
    for name in added:
        ET.fromstring(after[name])
    ct = after["[Content_Types].xml"].decode()
    assert ('<Override PartName="/xl/charts/ctChart_sheet1_1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.drawingml.chart+xml"/>') in ct
    assert 'PartName="/xl/drawings/ctDrawing_sheet1.xml"' in ct
    sheet = after[sheet_part(mini_workbook, "Dashboard")].decode()
    assert '<drawing r:id="rIdCtDrawing"/>' in sheet
    chart = after["xl/charts/ctChart_sheet1_1.xml"].decode()
    assert '<c:barDir val="col"/><c:grouping val="clustered"/>' in chart
    assert re.search(r"<c:f>Dashboard!\$F\$\d+:\$F\$\d+</c:f>", chart)
    assert "<c:v>294000.00</c:v>" in chart and "<c:v>31-60</c:v>" in chart
    # a second write of the same content leaves every byte as it was
    write_tool_sheets(mini_workbook, {"Dashboard": content})
    assert parts(mini_workbook) == after


def test_chart_and_height_specs_are_checked() -> None:
    from contract_tracker.sheetwriter import BarChart, SheetContent

    with pytest.raises(ValueError, match="differ in length"):
        BarChart("D1:K9", "A2:A4", ["B2:B5"])
    with pytest.raises(ValueError, match="one row or one column"):
        BarChart("D1:K9", "A2:B4", ["C2:C4"])
    with pytest.raises(ValueError, match="more than one cell"):
        BarChart("D1", "A2:A4", ["B2:B4"])
    with pytest.raises(ValueError, match="row height"):
        SheetContent(rows=[["x"]], heights={0: 500})
    horizontal = BarChart("D1:K9", "A2:A4", ["B2:B4", "C2:C4"], names=["a", "b"],
                          horizontal=True)
    assert horizontal.values == ("B2:B4", "C2:C4")


def test_a_chart_replaces_a_foreign_drawing_and_its_orphans(tmp_path: Path,
                                                           vba_bin: Path) -> None:
    book = make_master(tmp_path / "m.xlsm", vba_bin, chart=True)
    before = parts(book)
    assert "xl/charts/chart1.xml" in before
    content = dashboard_sheet(sample_model(), NOW)
    report = write_tool_sheets(book, {"Dashboard": content})
    after = parts(book)
    assert not {"xl/charts/chart1.xml", "xl/drawings/drawing1.xml"} & set(after)
    assert "chart1.xml" not in after["[Content_Types].xml"].decode()
    assert any("old drawing" in n for n in report.notes)
    user = [sheet_part(book, n) for n in ("Clients", "Installments", "Settings")]
    for name in (*user, "xl/vbaProject.bin", "customUI/customUI.xml"):
        assert after[name] == before[name]
    assert len(openpyxl.load_workbook(book)["Dashboard"]._charts) == 1


# --- refresh end to end -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(sample_book("small"), tmp_path_factory.mktemp("s") / "contracts.xlsm")


@pytest.fixture
def sample_copy(sample_workbook: Path, tmp_path: Path) -> Path:
    target = tmp_path / "contracts.xlsm"
    shutil.copyfile(sample_workbook, target)
    return target


def test_refresh_fills_its_sheets_and_leaves_user_sheets_byte_identical(
        sample_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw_before = raw_records(sample_copy)
    assert main(["refresh", str(sample_copy), "--as-of", SAMPLE_AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "dashboard: dashboard as of 2026-11-25" in out and "updated in" in out
    assert "the Workings sheet is left as it was: add --workings" in out
    raw_after = raw_records(sample_copy)
    tool = {sheet_part(sample_copy, n) for n in ("Dashboard", "Problems", "Log")}
    for name, data in raw_before.items():  # the Workings sheet too, without --workings
        if name not in tool | {"xl/styles.xml", "xl/workbook.xml", "[Content_Types].xml"}:
            assert raw_after[name] == data, name
    wb = openpyxl.load_workbook(sample_copy, keep_vba=True)
    assert wb["Workings"].max_row < 5
    # ... and the Dashboard says where the workings come from, so a stale sheet misleads no one
    assert "计算过程见 Workings 表（由“计算违约金”更新，刷新不更新）" in wb["Dashboard"]["A4"].value
    assert wb["Problems"]["A1"].value.startswith("数据问题 Problems")
    assert wb["Dashboard"]["A1"].value.startswith("仪表板 Dashboard")
    log = [r for r in wb["Log"].iter_rows(values_only=True)]
    assert [r[1] for r in log[-3:]] == ["validate", "penalties", "dashboard"]
    book, _ = load_book(sample_copy)  # the user data still reads as before
    assert book is not None and len(book.contracts) == len(sample_book("small").contracts)

    assert main(["refresh", str(sample_copy), "--as-of", SAMPLE_AS_OF.isoformat(),
                 "--workings"]) == 0
    assert "Problems, Workings and Dashboard updated in" in capsys.readouterr().out
    raw_again = raw_records(sample_copy)
    tool.add(sheet_part(sample_copy, "Workings"))
    for name, data in raw_before.items():
        if name not in tool | {"xl/styles.xml", "xl/workbook.xml", "[Content_Types].xml"}:
            assert raw_again[name] == data, name
    wb = openpyxl.load_workbook(sample_copy, keep_vba=True)
    assert wb["Workings"]["A1"].value.startswith("计算过程 Workings — 截至 as of 2026-11-25")
    assert wb["Workings"].max_row > 50


def test_refresh_job_merges_problems_and_sheets(mini_book: Book) -> None:
    bad = Receipt("R9", "HT-2026-001", dt.date(2026, 4, 1), D("5"), "NO-SUCH")
    book = Book(mini_book.settings, mini_book.clients, mini_book.contracts,
                mini_book.fee_items, mini_book.installments, (*mini_book.receipts, bad),
                mini_book.incidents, mini_book.availability)
    job = refresh_job(book, (), dt.date(2026, 6, 30), now=NOW)
    assert set(job.sheets) == {"Problems", "Dashboard"}
    assert set(refresh_job(book, (), dt.date(2026, 6, 30), now=NOW, workings=True).sheets) == {
        "Problems", "Workings", "Dashboard"}
    assert [e.command for e in job.log] == ["validate", "penalties", "dashboard"]
    assert len([p for p in job.problems if "NO-SUCH" in p.message]) == 1
    problems = job.sheets["Problems"].rows
    assert any("NO-SUCH" in str(r[2]) for r in problems[2:])


def test_dashboard_command_and_exit_codes(sample_copy: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", str(sample_copy), "--as-of", "2026-11-25"]) == 0
    assert "Dashboard sheet updated" in capsys.readouterr().out
    owner = sample_copy.with_name("~$" + sample_copy.name)
    owner.write_text("")
    assert main(["refresh", str(sample_copy)]) == 2  # open in Excel: refused, no traceback
    assert "not written" in capsys.readouterr().err
    owner.unlink()
    bad = tmp_path / "bad.xlsm"
    bad.write_bytes(b"not a zip")
    assert main(["refresh", str(bad)]) == 2
    assert main(["dashboard", str(bad), "--as-of", "2026-11-25"]) == 2


def test_refresh_with_data_errors_still_writes_and_exits_1(
        mini_workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from .test_reader import rewrite_part
    from .test_reader import sheet_part as user_sheet_part

    rewrite_part(mini_workbook, user_sheet_part(mini_workbook, "Receipts"),
                 lambda xml: xml.replace("<v>30000</v>", "<v>-30000</v>", 1))
    assert main(["refresh", str(mini_workbook), "--as-of", "2026-06-30"]) == 1
    out = capsys.readouterr().out
    assert "ERROR: Receipts!E2" in out and "updated in" in out
    wb = openpyxl.load_workbook(mini_workbook)
    assert any("Receipts!E2" in str(c.value) for c in wb["Problems"]["B"])
    assert wb["Dashboard"]["A1"].value.startswith("仪表板 Dashboard — 截至 as of 2026-06-30")


def test_demo_runs_refresh(tmp_path: Path, sample_workbook: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--workbook",
                 str(sample_workbook)]) == 0
    out = capsys.readouterr().out
    assert "as of 2026-11-25" in out
    ws = openpyxl.load_workbook(tmp_path / "demo" / "contracts.xlsm")["Dashboard"]
    assert "2026-11-25" in ws["A1"].value


# --- LibreOffice ------------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_libreoffice_prints_the_dashboard_legibly(sample_copy: Path, tmp_path: Path) -> None:
    assert main(["refresh", str(sample_copy), "--as-of", "2026-11-25"]) == 0
    model = sample_model()
    pdf = convert_with_libreoffice(sample_copy, tmp_path)  # fails (not skips) without soffice
    pages = pdf_text(pdf).split("\f")
    # the Dashboard is the first sheet; the Clients sheet's header ends it
    end = next(i for i, page in enumerate(pages) if "甲方公司全称" in page)
    assert 1 <= end <= 2  # the small sample's 19 contracts: a page, and a few rows over
    for page in range(1, end + 1):
        # Legible: its 11 pt text prints at 7 pt or more, one page wide (the notes under
        # the title, wrapped within the table, do not widen the page; unwrapped, 5.6 pt);
        # the table's header is repeated on each page.
        size = statistics.median(pdf_word_heights(pdf, page))
        assert size >= 7, (page, size)
        assert "outstanding" in pages[page - 1] and "notes" in pages[page - 1]
    first = "\n".join(pages[:end])
    assert "###" not in first
    assert_cjk_font_embedded(pdf)  # the Chinese is drawn with an embedded CJK font
    for expected in ("仪表板 Dashboard", "截至 as of 2026-11-25", "¥739,800.00", "合计 total",
                     "逾期账龄 overdue ageing", model.rows[0].contract_id, "notes",
                     f"¥{model.kpis.outstanding:,.2f}", f"¥{model.kpis.unsigned:,.2f}"):
        assert expected in first, expected
    assert model.kpis.unsigned > 0  # the sample's drafts: shown apart, in no total
    flat = re.sub(r"\s+", "", first)
    for expected in ("未收款outstanding", "逾期overdue", "滞纳金latefees", "未签署notyetsigned",
                     "付款违约inbreach", "续约renew：黄=在续约通知期内", "逾期超过宽限期",
                     *(x.client for x in model.rows[:5])):
        assert re.sub(r"\s+", "", expected) in flat, expected
    for x in model.rows:  # every listed contract is on the page, none cut off
        assert x.contract_id in first
        assert f"{x.overdue:,.2f}" in first
    pngs = pdf_pages_to_png(pdf, tmp_path / "page", dpi=50)
    assert pngs and pngs[0].stat().st_size > 20_000  # the chart and the table are drawn
    keep_pngs(pngs[:1], "dashboard")


def test_the_penalties_line_and_the_dashboard_agree_on_what_is_owed() -> None:
    """Found in review: refresh printed two overdue totals (¥1,176,600.00 from the engine,
    ¥1,090,200.00 on the Dashboard): the engine computes draft contracts as written, but
    nothing is owed before signing. The penalties line now counts what is owed."""
    from contract_tracker.jobs import penalties_job

    book = sample_book("small")
    as_of = dt.date(2027, 1, 20)  # past the drafts' prepayment due dates
    job, result = penalties_job(book, as_of, now=NOW)
    model = dashboard_model(book, result, as_of)
    unsigned = [f for f in result.late_fees
                if not is_signed(next(c for c in book.contracts if c.contract_id == f.contract_id))]
    fees, overdue = sum(f.fee for f in unsigned), sum(f.overdue for f in unsigned)
    assert fees > 0 and overdue > 0
    assert f"overdue ¥{fmt_money_grouped(model.kpis.overdue)};" in job.summary
    assert f"late fees ¥{fmt_money_grouped(model.kpis.late_fees)} owed to us" in job.summary
    assert (f"not counted, as nothing is owed before signing: overdue "
            f"¥{fmt_money_grouped(overdue)}, late fees ¥{fmt_money_grouped(fees)} and SLA ")\
        in job.summary
    assert f"SLA ¥{fmt_money_grouped(model.kpis.sla_owed)} owed by us" in job.summary
    assert result.totals.overdue == model.kpis.overdue + overdue  # the engine: as written


# --- column widths and wrapped lines: the quick ways give what measuring all gives -------

_cell_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(-1e9, 1e9),
    st.decimals(min_value=-10**12, max_value=10**12, places=2, allow_nan=False),
    st.dates(), st.datetimes(), st.text(alphabet="ab 1,.-汉字（）\n", max_size=30))


@examples(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_cell_values, st.sampled_from([None, "number", "avail", "money"])),
                max_size=40))
@example([(D("-1000.00"), None), (D("5.00"), None)])  # the minus sign makes it the widest
@example([(D("0.00"), None), (D("-0.00"), None)])  # equal, but -0.00 is wider (review)
@example([(0.0, None), (-0.0, None)])
@example([(-1000, "int"), (5, "int"), ("汉字", "wrap"), ("汉字", "wrap")])
def test_a_column_is_as_wide_as_its_widest_cell(cells: list[tuple[Any, Any]]) -> None:
    assert _column_width(cells) == max((_cell_width(v, s) for v, s in cells), default=0.0)


@examples(max_examples=300, deadline=None)
@given(st.text(alphabet="ab 1,.-汉字（）\n\t", max_size=60), st.floats(0, 40))
def test_wrapped_lines_counted_quickly_when_the_text_fits_are_the_filled_lines(
        text: str, width: float) -> None:
    assert _lines(text, width) == _filled_lines(text, max(width - 1.5, 1.0))


def test_late_fees_received_or_waived_are_not_owed_on_the_dashboard() -> None:
    """10,000 open 40 days: 10,000 × 0.05% × 40 = 200.00. Receipts of 滞纳金 (150.00) and
    减免滞纳金 (50.00) settle the fee, and pay nothing of the installment."""
    owing = due_in("ACT", -40, "10000", iid="I1")
    received = Receipt("F1", "ACT", AS_OF - dt.timedelta(days=1), D("150.00"), "I1",
                       purpose="late_fee")
    waived = Receipt("F2", "ACT", AS_OF, D("50.00"), "I1", purpose="fee_waiver")
    before = model_of(make_book([contract("ACT")], [owing]))
    part = model_of(make_book([contract("ACT")], [owing], [received]))
    full = model_of(make_book([contract("ACT")], [owing], [received, waived]))
    assert line(before, "ACT").late_fee == before.kpis.late_fees == D("200.00")
    assert line(part, "ACT").late_fee == part.kpis.late_fees == D("50.00")
    assert line(full, "ACT").late_fee == full.kpis.late_fees == D("0.00")
    assert (part.kpis.overdue, full.kpis.overdue) == (D("10000"), D("10000"))
    assert line(full, "ACT").payment is Flag.RED  # still overdue
    book = make_book([contract("ACT")], [owing], [received])
    result, _ = compute_penalties(book, AS_OF)
    summary = penalties_line(book, result, (), NOW).summary
    assert summary.startswith(f"as of {AS_OF}: late fees ¥50.00 owed to us, overdue ¥10,000.00;")
