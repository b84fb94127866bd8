"""contract_tracker.report: the weekly overdue report, its letters, e-mail drafts, HTML
summary and snapshot; week parsing; week over week; re-runs; formula-free outputs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from docx import Document

from contract_tracker.cli import main
from contract_tracker.engine import compute_penalties
from contract_tracker.money import fmt_money_grouped
from contract_tracker.reader import load_book
from contract_tracker.records import (
    AgeingBucket,
    AvailabilityMonth,
    Book,
    Client,
    Contract,
    Incident,
    Installment,
    Problem,
    Receipt,
    Settings,
    Severity,
    SlaPenaltyRule,
)
from contract_tracker.report import (
    REPORT_SHEETS,
    IsoWeek,
    WeekError,
    build_report,
    cell_text,
    email_addresses,
    load_snapshot,
    parse_week,
    report_job,
    snapshot_path,
    summary_html,
)
from contract_tracker.textwidth import text_width

from . import lo

W48 = IsoWeek(2026, 48)  # Monday 2026-11-23 .. Sunday 2026-11-29
NOW = dt.datetime(2026, 11, 30, 9, 0)
HOSTILE = ("=1+2", "+cmd", "-1", "@SUM(A1)", "\t制表符公司", "\r回车公司")


def _contract(cid: str, client: str, **kw: Any) -> Contract:
    base: dict[str, Any] = {
        "signing_date": dt.date(2026, 1, 5), "start_date": dt.date(2026, 1, 10),
        "end_date": dt.date(2026, 12, 31), "total_fee": D("200000.00"), "status": "active",
        "final_days": 30, "renewal_notice_days": 30, "confidentiality_years": 3,
    }
    base.update(kw)
    return Contract(cid, client, **base)


def _inst(iid: str, cid: str, amount: str, due: dt.date) -> Installment:
    return Installment(iid, cid, "progress", D(amount), due)


def report_book() -> Book:
    """Every case of the report, around 2026-W48 (due dates on working days)."""
    settings = Settings(
        company_name="上海云维信息技术有限公司", company_legal_rep="王强",
        company_address="上海市浦东新区张江路88号", company_phone="021-58880000",
        company_credit_code="91350100M000100Y43", bank_account_name="上海云维信息技术有限公司",
        bank_name="招商银行上海张江支行", bank_account_no="0121000088886666",
        sla_penalties=(SlaPenaltyRule("STD", "response", "fixed", D("500")),
                       SlaPenaltyRule("STD", "solution", "fixed", D("1000"))),
        ageing=(AgeingBucket("1-30", 1, 30), AgeingBucket("31-60", 31, 60),
                AgeingBucket("61-90", 61, 90), AgeingBucket("91-180", 91, 180),
                AgeingBucket(">180", 181, None)),
    )
    clients = (
        Client("C001", "杭州优品电子商务有限公司", "李明", "杭州市西湖区文三路1号", "0571-88886666",
               "911100001000080343", "张三", "zhang@youpin.example", "赵经理",
               "zhao@yunwei.example"),
        Client("C002", "=1+2", "陈红", "深圳", "13800138000", "91110000100017643K", None, None,
               "钱经理", None),
        Client("C003", "+cmd", "刘", "北京", "010-1", "91110000100017643K", "李四",
               "li@ex.example; li2@ex.example", "@SUM(A1)", "qian@yunwei.example"),
        Client("C004", "-1", "周", "广州", "020-1", "91110000100017643K", "王五",
               "wang@ex.example", "赵经理", "zhao@yunwei.example"),
        Client("C005", "\t制表符公司", "吴", "苏州", "0512-1", "91110000100017643K", "赵六",
               "zhao6@ex.example", "孙经理", "sun@yunwei.example"),
        Client("C006", "\r回车公司", "郑", "宁波", "0574-1", "91110000100017643K", None,
               "x@ex.example", "孙经理", "sun@yunwei.example"),
        Client("C007", "坏\x01字\x1f符\x0b公司", "冯", "合肥", "0551-1", "91110000100017643K",
               "\r=HYPERLINK(\"x\")", "feng@ex.example", "孙经理", "not-an-address"),
        Client("C008", "只欠滞纳金公司", "卫", "南京", "025-1", "91110000100017643K", "蒋七",
               "jiang@ex.example", "钱经理", "qian@yunwei.example"),
        Client("C009", "草稿客户", "褚", "无锡", "0510-1", "91110000100017643K", None,
               "chu@ex.example", "钱经理", None),
    )
    contracts = (
        _contract("HT-1", "C001"), _contract("HT-2", "C002"), _contract("HT-3", "C003"),
        _contract("HT-4", "C004", late_fee_exempt=True), _contract("HT-5", "C005"),
        _contract("HT-6", "C006"), _contract("HT-7", "C007", status="expired"),
        _contract("HT-8", "C009", status="draft"),
        _contract("HT-9", "C008", late_fee_cap_pct=D("0.01")),  # fee capped at 1 %
    )
    installments = (
        _inst("I-1-0", "HT-1", "10000.00", dt.date(2026, 3, 10)),  # paid late in full (R0)
        _inst("I-1-1", "HT-1", "100000.00", dt.date(2026, 3, 31)),
        _inst("I-1-2", "HT-1", "20000.00", dt.date(2026, 11, 25)),  # due in the week
        _inst("I-2-1", "HT-2", "50000.00", dt.date(2026, 10, 15)),
        _inst("I-3-1", "HT-3", "30000.00", dt.date(2026, 9, 10)),
        _inst("I-3-2", "HT-3", "10000.00", dt.date(2026, 11, 20)),
        _inst("I-4-1", "HT-4", "8000.00", dt.date(2026, 11, 2)),
        _inst("I-5-1", "HT-5", "12345.67", dt.date(2026, 6, 1)),  # 181 days
        _inst("I-5-2", "HT-5", "1000.00", dt.date(2026, 10, 30)),  # 30 days
        _inst("I-5-3", "HT-5", "1000.00", dt.date(2026, 10, 29)),  # 31 days
        _inst("I-5-4", "HT-5", "5000.00", dt.date(2026, 12, 15)),  # not due yet
        _inst("I-6-1", "HT-6", "5000.00", dt.date(2026, 5, 6)),  # client named "\r回车公司"
        _inst("I-7-1", "HT-7", "2000.00", dt.date(2026, 11, 23)),  # due Monday of the week
        _inst("I-8-1", "HT-8", "5000.00", dt.date(2026, 5, 6)),  # draft contract
        _inst("I-9-1", "HT-9", "20000.00", dt.date(2026, 6, 10)),  # settled late, capped
    )
    receipts = (
        Receipt("R0", "HT-1", dt.date(2026, 3, 20), D("10000.00"), "I-1-0"),  # 10 days late
        Receipt("R1", "HT-1", dt.date(2026, 4, 10), D("60000.00"), "I-1-1"),
        Receipt("R2", "HT-2", dt.date(2026, 11, 24), D("10000.00"), "I-2-1"),  # in the week
        Receipt("R3", "HT-3", dt.date(2026, 11, 27), D("5000.00")),  # unnamed: oldest, I-3-1
        Receipt("R4", "HT-3", dt.date(2026, 11, 26), D("10000.00"), "I-3-2"),
        Receipt("R5", "HT-5", dt.date(2026, 11, 30), D("1000.00"), "I-5-2"),  # next week
        Receipt("R8", "HT-9", dt.date(2026, 7, 10), D("20000.00"), "I-9-1"),  # 30 days late
    )
    incidents = (
        Incident("INC-A", "HT-1", "normal", dt.datetime(2026, 11, 24, 10, 0),
                 dt.datetime(2026, 11, 24, 13, 0), dt.datetime(2026, 11, 24, 14, 0),
                 dt.datetime(2026, 11, 24, 18, 0)),
        Incident("INC-B", "HT-2", "normal", dt.datetime(2026, 11, 10, 9, 0),
                 dt.datetime(2026, 11, 10, 12, 0), dt.datetime(2026, 11, 10, 12, 30),
                 dt.datetime(2026, 11, 10, 13, 0)),
        Incident("INC-C", "HT-3", "normal", dt.datetime(2026, 11, 22, 23, 0)),
    )
    availability = (
        AvailabilityMonth("HT-1", dt.date(2026, 10, 1), D("100")),
        AvailabilityMonth("HT-2", dt.date(2026, 8, 1), D("200")),
    )
    return Book(settings, clients, contracts, (), installments, receipts, incidents,
                availability)


@pytest.fixture
def book() -> Book:
    return report_book()


def run(book: Book, week: str, out: Path) -> Any:
    job = report_job(book, week, out, now=NOW)
    assert not job.failed, job.summary
    return job


def sheet_rows(path: Path, sheet: str) -> tuple[list[str], list[list[Any]]]:
    """Header keys (the English half) and the data rows above the total row."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    rows = [list(r) for r in ws.iter_rows(min_row=3, values_only=True)]
    header = [str(h).split("\n")[1] for h in rows[0]]
    body = [r for r in rows[1:] if r[0] != "合计 total"]
    return header, body


# --- weeks --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "monday", "sunday"), [
    ("2026-W01", dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
    ("2026-W48", dt.date(2026, 11, 23), dt.date(2026, 11, 29)),
    ("2026-W53", dt.date(2026, 12, 28), dt.date(2027, 1, 3)),
    ("2020-W53", dt.date(2020, 12, 28), dt.date(2021, 1, 3)),
    ("2027-W01", dt.date(2027, 1, 4), dt.date(2027, 1, 10)),
    ("2026w5", dt.date(2026, 1, 26), dt.date(2026, 2, 1)),
    (" 2026-w05 ", dt.date(2026, 1, 26), dt.date(2026, 2, 1)),
])
def test_iso_weeks(text: str, monday: dt.date, sunday: dt.date) -> None:
    week = parse_week(text)
    assert (week.monday, week.sunday) == (monday, sunday)
    assert week.sunday.weekday() == 6


@pytest.mark.parametrize(("text", "message"), [
    ("2027-W53", "2027-W53 does not exist: 2027 has 52 ISO weeks"),
    ("2026-W54", "2026 has 53 ISO weeks"),
    ("2026-W00", "2026-W00 does not exist"),
    ("2026-48", "is not an ISO week: write it as YYYY-Www, e.g. 2026-W48"),
    ("W48", "is not an ISO week"),
    ("", "is not an ISO week"),
    ("2026-11-29", "is not an ISO week"),
    ("2026-W48-7", "is not an ISO week"),
])
def test_bad_weeks_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(WeekError, match=re.escape(message)):
        parse_week(text)


def test_previous_week_and_last_complete_week() -> None:
    assert parse_week("2026-W01").previous.label == "2025-W52"
    assert parse_week("2027-W01").previous.label == "2026-W53"
    assert parse_week("2021-W01").previous.label == "2020-W53"
    # Monday: last week is complete. Sunday: the week still has its day to run.
    assert IsoWeek.last_complete(dt.date(2026, 11, 30)).label == "2026-W48"
    assert IsoWeek.last_complete(dt.date(2026, 11, 29)).label == "2026-W47"
    assert IsoWeek.last_complete(dt.date(2027, 1, 4)).label == "2026-W53"
    assert IsoWeek.last_complete(dt.date(2026, 1, 1)).label == "2025-W52"


def test_default_week_is_the_last_complete_one(book: Book, tmp_path: Path) -> None:
    job = report_job(book, None, tmp_path, today=dt.date(2026, 11, 30), now=NOW)
    assert (tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx").exists()
    assert job.summary.startswith("2026-W48 as of 2026-11-29")


def test_summary_counts_agree_with_their_nouns(book: Book, tmp_path: Path) -> None:
    job = report_job(book, "2026-W48", tmp_path, now=NOW)
    report = build_report(book, parse_week("2026-W48"))
    sla, misses = len(report.sla), len(report.availability)
    assert f" {sla} SLA breach{'' if sla == 1 else 'es'}," in job.summary
    assert f" {misses} availability miss{'' if misses == 1 else 'es'};" in job.summary
    letters = len(report.letters)
    assert f" {letters} letter{'' if letters == 1 else 's'}, " in job.summary
    assert not re.search(r"\b1 (letters|SLA breaches|availability misses|e-mail drafts)\b",
                         job.summary)


def test_bad_week_fails_the_job_with_a_message(book: Book, tmp_path: Path) -> None:
    job = report_job(book, "2026-W99", tmp_path, now=NOW)
    assert job.failed and "2026-W99 does not exist" in job.summary
    assert not any(tmp_path.iterdir())


# --- the figures --------------------------------------------------------------------------


def test_report_matches_the_engine(book: Book) -> None:
    report = build_report(book, W48)
    result, _ = compute_penalties(book, dt.date(2026, 11, 29))
    engine = {f.installment_id: f for f in result.late_fees if f.overdue}
    del engine["I-8-1"]  # the draft contract's installment is not chased
    rows = {r.installment_id: r for r in report.overdue}
    assert set(rows) == set(engine)
    for iid, r in rows.items():
        f = engine[iid]
        assert (r.outstanding, r.fee, r.days_overdue, r.due, r.amount) == (
            f.overdue, f.fee, f.days_overdue, f.due.date, f.amount)
    assert rows["I-1-1"].fee == D("5160.00")  # 60,000 x 10 d + 40,000 x 243 d at 0.05 %
    assert rows["I-1-1"].bucket == ">180" and rows["I-1-1"].days_overdue == 243
    assert rows["I-5-1"].bucket == ">180" and rows["I-5-1"].days_overdue == 181
    assert rows["I-5-2"].bucket == "1-30" and rows["I-5-2"].days_overdue == 30
    assert rows["I-5-3"].bucket == "31-60" and rows["I-5-3"].days_overdue == 31
    assert rows["I-3-1"].bucket == "61-90" and rows["I-3-1"].outstanding == D("25000.00")
    assert rows["I-4-1"].exempt and rows["I-4-1"].fee == 0 and rows["I-4-1"].rate == D("0.0005")
    assert sum((b.amount for b in report.buckets), D(0)) == report.overdue_total
    assert sum(b.items for b in report.buckets) == len(report.overdue)
    assert report.overdue_total == sum(engine[i].overdue for i in engine)
    assert any("draft or sent contracts are not chased" in p.message and "I-8-1" in p.message
               for p in report.problems)


def test_first_week_over_week_from_the_engine(book: Book) -> None:
    report = build_report(book, W48, None, "no previous report: test")
    assert {r.installment_id for r in report.became_overdue} == {"I-1-2", "I-7-1"}
    assert all(r.new_note.startswith("本周到期未付") for r in report.became_overdue)
    paid = {(r.installment_id, r.paid, r.was_overdue, r.settled) for r in report.paid}
    assert paid == {("I-2-1", D("10000.00"), True, False), ("I-3-1", D("5000.00"), True, False),
                    ("I-3-2", D("10000.00"), True, True)}
    assert report.paid_total == D("25000.00")  # R5 is dated the Monday after: next week
    sla = {(r.incident_id, r.breach) for r in report.sla}
    assert sla == {("INC-A", "response"), ("INC-C", "response"), ("INC-C", "solution")}
    assert [(r.contract_id, r.month, r.new) for r in report.availability] == [
        ("HT-1", dt.date(2026, 10, 1), None)]  # August is outside the window; no snapshot
    kpi = {k.label.split(" ")[0]: k for k in report.kpis}
    assert kpi["逾期金额"].last_report is None
    # the previous Sunday on today's data: before R2, R3, R4 and before I-1-2 / I-7-1 fell due
    assert kpi["逾期金额"].previous == report.overdue_total - D("22000.00") + D("25000.00")
    # fees on installments settled late: I-3-2 was settled in the week (6 days late)
    settled = kpi["已付清分期滞纳金"]
    assert (settled.now, settled.previous) == (D("280.00"), D("250.00"))
    assert kpi["滞纳金合计"].now == report.late_fee_total == kpi["逾期款项滞纳金"].now + D("280.00")


def test_second_week_compares_with_the_snapshot(book: Book, tmp_path: Path) -> None:
    first = run(book, "2026-W48", tmp_path)
    assert "no previous report" in first.summary
    snap = json.loads(snapshot_path(tmp_path, W48).read_text(encoding="utf-8"))
    assert snap["week"] == "2026-W48" and snap["totals"]["overdue"] == "154345.67"
    assert [i["installment_id"] for i in snap["open_items"]] == sorted(
        i["installment_id"] for i in snap["open_items"])
    # After the W48 report: a receipt dated inside W48 typed in late, an installment added
    # with an old due date, an incident logged late, and this week's own events.
    later = dataclasses.replace(
        book,
        installments=(*book.installments, _inst("I-1-9", "HT-1", "3000.00", dt.date(2026, 10, 9))),
        receipts=(*book.receipts,
                  Receipt("R6", "HT-5", dt.date(2026, 11, 25), D("2345.67"), "I-5-1"),
                  Receipt("R7", "HT-1", dt.date(2026, 12, 2), D("20000.00"), "I-1-2")),
        incidents=(*book.incidents,
                   Incident("INC-D", "HT-4", "normal", dt.datetime(2026, 11, 18, 9, 0),
                            dt.datetime(2026, 11, 18, 15, 0), dt.datetime(2026, 11, 18, 15, 0),
                            dt.datetime(2026, 11, 18, 16, 0))),
        availability=(*book.availability,
                      AvailabilityMonth("HT-3", dt.date(2026, 7, 1), D("500"))),
    )
    second = run(later, "2026-W49", tmp_path)
    assert "no previous report" not in second.summary
    path = tmp_path / "2026-W49" / "overdue-report_2026-W49.xlsx"
    header, paid = sheet_rows(path, "本周收款 Paid")
    got = {(r[header.index("installment")], D(str(r[header.index("paid")])),
            r[header.index("note")].split(" ")[0]) for r in paid}
    assert got == {
        ("I-1-2", D("20000"), "本周收款"),  # R7, this week
        ("I-5-2", D("1000"), "本周收款"),  # R5, Monday 2026-11-30
        ("I-5-1", D("2345.67"), "收款日期早于本周，上周报告后录入（或数据更改）"),  # R6
    }
    header, new = sheet_rows(path, "新增逾期 New overdue")
    reasons = {r[header.index("installment")]: r[header.index("why")] for r in new}
    assert reasons["I-1-9"].startswith("上周报告未列出")
    assert "I-1-2" not in reasons  # it was in the W48 report and is paid now
    header, sla = sheet_rows(path, "SLA超时 SLA breaches")
    notes = {(r[header.index("incident")], r[header.index("breach")]): r[header.index("note")]
             for r in sla}
    assert notes[("INC-D", "响应超时")].startswith("上周报告后补录")
    assert notes[("INC-D", "方案超时")].startswith("上周报告后补录")
    assert ("INC-A", "响应超时") not in notes  # reported in W48 already
    header, avail = sheet_rows(path, "可用性 Availability")
    months = {(r[header.index("contract")], r[header.index("month")].date()):
              r[header.index("new since last report")] for r in avail}
    # October is in the window (the month before the week's); July was typed in since W48;
    # August was in the W48 report already and is outside the window.
    assert months == {("HT-1", dt.date(2026, 10, 1)): "否", ("HT-3", dt.date(2026, 7, 1)): "是"}
    wb = openpyxl.load_workbook(path)
    summary = [c for row in wb[REPORT_SHEETS[0]].iter_rows(values_only=True) for c in row if c]
    assert any(str(c).startswith("上周报告 last report: 2026-W48") for c in summary)
    kpis = {r[0].split(" ")[0]: r for r in wb[REPORT_SHEETS[0]].iter_rows(min_row=7,
                                                                            max_row=15,
                                                                            values_only=True)}
    assert D(str(kpis["逾期金额"][2])) == D("154345.67")  # as the W48 report stated it


def test_a_corrupt_snapshot_counts_as_no_previous_report(book: Book, tmp_path: Path) -> None:
    path = snapshot_path(tmp_path, W48.previous)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    snap, why = load_snapshot(path, W48.previous)
    assert snap is None and why.startswith("无上周报告") and "cannot be used" in why
    assert "no previous report:" in why
    job = run(book, "2026-W48", tmp_path)
    assert "no previous report" in job.summary


# --- the workbook -------------------------------------------------------------------------


def test_workbook_reads_back_as_the_engine_says(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    path = tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(REPORT_SHEETS)
    result, _ = compute_penalties(book, dt.date(2026, 11, 29))
    engine = {f.installment_id: f for f in result.late_fees}
    header, rows = sheet_rows(path, "逾期明细 Overdue")
    assert len(rows) == 10
    col = {k: header.index(k) for k in header}
    for r in rows:
        f = engine[r[col["installment"]]]
        assert D(repr(r[col["outstanding"]])) == f.overdue
        assert D(repr(r[col["late fee"]])) == f.fee
        assert r[col["days overdue"]] == f.days_overdue
        assert r[col["due date"]].date() == f.due.date
    ws = wb["逾期明细 Overdue"]
    assert ws.freeze_panes == "D4"
    assert ws.auto_filter.ref == "A3:P13"
    assert ws.cell(4, col["outstanding"] + 1).number_format == '"¥"#,##0.00'
    assert ws.cell(4, col["due date"] + 1).number_format == "yyyy-mm-dd"
    assert ws.column_dimensions["C"].width >= 14
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$3:$3"
    total = next(r for r in ws.iter_rows(values_only=True) if r[0] == "合计 total")
    assert D(repr(total[col["outstanding"]])) == D("154345.67")
    _, buckets = sheet_rows(path, "账龄 Ageing")
    assert sum(D(repr(b[4])) for b in buckets) == D("154345.67")
    assert [b[0] for b in buckets] == ["1-30", "31-60", "61-90", "91-180", ">180"]
    header, managers = sheet_rows(path, "客户经理 Managers")
    by = {m[0]: m for m in managers}
    assert set(by) == {"赵经理", "钱经理", "@SUM(A1)", "孙经理"}
    assert D(repr(by["赵经理"][header.index("overdue")])) == D("68000.00")  # 40k+20k+8k


def _engine_fees_by_client(book: Book, as_of: dt.date) -> dict[str, D]:
    """The engine's late fees to date per client, over its signed contracts."""
    result, _ = compute_penalties(book, as_of)
    contracts = {c.contract_id: c for c in book.contracts}
    out: dict[str, D] = {}
    for f in result.late_fees:
        c = contracts[f.contract_id]
        if c.status not in ("draft", "sent") and f.fee_owed:
            out[c.client_id] = out.get(c.client_id, D(0)) + f.fee_owed
    return out


def _fees_by_client(path: Path) -> tuple[dict[str, D], list[dict[str, Any]], D]:
    """The Late fees and Fees only sheets read back: fees per client (both sheets), the
    Late fees rows and the sum of both total rows' fees."""
    by: dict[str, D] = {}
    total = D(0)
    wb = openpyxl.load_workbook(path)
    first: list[dict[str, Any]] = []
    for sheet in ("滞纳金 Late fees", "仅欠滞纳金 Fees only"):
        header, rows = sheet_rows(path, sheet)
        dicts = [dict(zip(header, r, strict=True)) for r in rows]
        first = first or dicts
        for r in dicts:
            assert r["client"] not in by or sheet == "滞纳金 Late fees", r  # never in both
            by[r["client"]] = by.get(r["client"], D(0)) + D(repr(r["late fee"]))
        row = next(r for r in wb[sheet].iter_rows(values_only=True) if r[0] == "合计 total")
        total += D(repr(row[header.index("late fee")]))
    return by, first, total


def test_the_whole_late_fee_reads_back_per_client_as_the_engine_says(
        book: Book, tmp_path: Path) -> None:
    """Fees on installments paid late in full are owed too (receipts never pay fees): the
    Late fees sheet, per client, adds up to the engine's fees on that client's signed
    contracts; the Dunning sheet and the summary state the whole fee."""
    run(book, "2026-W48", tmp_path)
    path = tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx"
    engine = _engine_fees_by_client(book, W48.sunday)
    by, rows, total = _fees_by_client(path)
    assert by == engine
    assert total == sum(engine.values()) == D("9446.28")
    assert "C009" not in by  # the draft contract's 517.50 is not owed
    settled = {r["installment"]: r for r in rows if r["status"] == "已付清 settled"}
    assert set(settled) == {"I-1-0", "I-3-2"}  # I-3-2: paid in the week, 6 days late
    assert settled["I-1-0"]["paid late on"] == "2026-03-20"
    assert settled["I-1-0"]["days late (longest)"] == 10
    assert settled["I-1-0"]["workings (amount × daily rate × days late)"] == (
        "10,000.00×0.05%×10天（2026-03-20付） = 50.00")
    overdue = {r["installment"]: r for r in rows if r["status"] == "逾期 overdue"}
    assert overdue["I-1-1"]["workings (amount × daily rate × days late)"] == (
        "60,000.00×0.05%×10天（2026-04-10付） + 40,000.00×0.05%×243天（未付） = 5,160.00")
    # C008 owes only the (capped) fee on I-9-1: one row on the Fees only sheet, no letter
    header, only = sheet_rows(path, "仅欠滞纳金 Fees only")
    assert [dict(zip(header, r, strict=True)) for r in only] == [{
        "manager": "钱经理", "client": "C008", "client name": "只欠滞纳金公司",
        "installments settled late": 1, "contracts": "HT-9",
        "earliest due": dt.datetime(2026, 6, 10), "last paid": dt.datetime(2026, 7, 10),
        "days late (longest)": 30, "late fee": 200}]
    header, dunning = sheet_rows(path, "催款 Dunning")
    col = {k: header.index(k) for k in header}
    for r in dunning:
        cid = r[col["client"]]
        owed = engine.get(cid, D(0))  # C004 is exempt: 0.00
        assert D(repr(r[col["late fee to date"]])) == owed, cid
        assert (D(repr(r[col["late fee on overdue"]])) + D(repr(r[col["late fee on settled"]]))
                == owed)
    c001 = next(r for r in dunning if r[col["client"]] == "C001")
    assert D(repr(c001[col["late fee on settled"]])) == D("50.00")
    assert D(repr(c001[col["total due"]])) == D("65250.00")
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(path)[REPORT_SHEETS[0]].iter_rows(
        min_row=7, max_row=20, values_only=True) if r[0]}
    assert D(repr(summary["滞纳金合计 late fees to date (clause 7.2)"])) == total
    assert D(repr(summary["已付清分期滞纳金 late fees on settled installments"])) == D("280.00")


def test_fees_received_or_waived_are_taken_off_what_the_report_chases(
        book: Book, tmp_path: Path) -> None:
    """Receipts of 滞纳金 (fee received) and 减免滞纳金 (fee waived): C001's settled-late fee
    on I-1-0 (50.00) is settled in full and no longer chased, 1,000.00 of I-1-1's 5,160.00
    was received, and C008's only fee (200.00) was waived, so C008 leaves the Fees only
    sheet. Installments are not touched: the overdue amounts stay as they were."""
    extra = (
        Receipt("F1", "HT-1", dt.date(2026, 11, 2), D("30.00"), "I-1-0", purpose="late_fee"),
        Receipt("F2", "HT-1", dt.date(2026, 11, 3), D("20.00"), "I-1-0", purpose="fee_waiver"),
        Receipt("F3", "HT-1", dt.date(2026, 11, 4), D("1000.00"), "I-1-1", purpose="late_fee"),
        Receipt("F4", "HT-9", dt.date(2026, 11, 5), D("200.00"), purpose="fee_waiver"),
    )
    settled = dataclasses.replace(book, receipts=book.receipts + extra)
    before = build_report(book, W48)
    after = build_report(settled, W48)
    assert after.overdue_total == before.overdue_total
    assert after.fee_total + after.settled_fee_total == (
        before.fee_total + before.settled_fee_total - D("1250.00"))
    run(settled, "2026-W48", tmp_path)
    path = tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx"
    by, rows, total = _fees_by_client(path)
    engine, _ = compute_penalties(settled, W48.sunday)
    signed = {c.contract_id for c in settled.contracts if c.status not in ("draft", "sent")}
    assert total == sum((f.fee_owed for f in engine.late_fees if f.contract_id in signed),
                        D(0)) == D("9446.28") - D("1250.00")
    assert "C008" not in by  # its only fee was waived
    assert "I-1-0" not in {r["installment"] for r in rows}  # settled in full
    (i11,) = [r for r in rows if r["installment"] == "I-1-1"]
    assert D(repr(i11["late fee"])) == D("4160.00")
    assert i11["workings (amount × daily rate × days late)"].endswith(
        " = 5,160.00；已收 received 1,000.00；尚欠 owed 4,160.00")
    letter = tmp_path / "2026-W48" / "letters" / "催款函_C001_杭州优品电子商务有限公司.docx"
    doc = Document(str(letter))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "4,160.00" in cells and "5,160.00" not in cells
    assert "＝5,160.00元，其中已收取1,000.00元，尚欠4,160.00元" in text
    assert "4,200.00" in text  # 4,160.00 + 40.00 on I-1-2; nothing left on I-1-0
    assert "另，下列款项贵司虽已付清" not in text


def test_fees_received_or_waived_in_the_week_are_listed_with_the_payments(
        book: Book, tmp_path: Path) -> None:
    """Found in review: a fee received or waived in the week lowered the late-fee figures
    with no row saying why. Each such receipt is now a row of the Paid sheet: a fee
    received counts in "paid" (money came in), a waiver as 0.00 with its amount noted."""
    extra = (
        Receipt("F5", "HT-1", dt.date(2026, 11, 24), D("100.00"), "I-1-1", purpose="late_fee"),
        Receipt("F6", "HT-1", dt.date(2026, 11, 25), D("50.00"), purpose="fee_waiver"),
        Receipt("F7", "HT-1", dt.date(2026, 11, 22), D("7.00"), purpose="late_fee"),  # W47
        Receipt("F8", "HT-8", dt.date(2026, 11, 24), D("9.00"), purpose="late_fee"),  # draft
    )
    before = build_report(book, W48)
    after = build_report(dataclasses.replace(book, receipts=book.receipts + extra), W48)
    rows = {r.note.split("（")[1].split("）")[0]: r for r in after.paid if "滞纳金" in r.note}
    assert set(rows) == {"F5", "F6"}  # F7: the week before; F8: a draft contract
    assert (rows["F5"].installment_id, rows["F5"].paid) == ("I-1-1", D("100.00"))
    assert rows["F5"].note == "本周收取滞纳金（F5） late fee received in the week"
    assert (rows["F6"].installment_id, rows["F6"].paid) == ("", D("0"))
    assert rows["F6"].note == "本周减免滞纳金 50.00（F6） late fee waived in the week"
    assert after.paid_total == before.paid_total + D("100.00")
    assert after.late_fee_total == before.late_fee_total - D("157.00")  # F5 + F6 + F7
    run(dataclasses.replace(book, receipts=book.receipts + extra), "2026-W48", tmp_path)
    header, paid = sheet_rows(tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx",
                              "本周收款 Paid")
    notes = [r[header.index("note")] for r in paid]
    assert "本周收取滞纳金（F5） late fee received in the week" in notes
    assert "本周减免滞纳金 50.00（F6） late fee waived in the week" in notes


def test_a_capped_fee_partly_settled_is_not_marked_as_the_cap(
        book: Book, tmp_path: Path) -> None:
    """Found in review: I-1-0's fee capped at 40.00 (0.4 %), 10.00 of it received: the
    letter showed "30.00*", "at the contract's cap", though 30.00 is not the cap. The
    basis says both; only an untouched capped fee keeps its "*". The heading of the
    settled-late table says the fee is not fully paid (尚未付清), not unpaid."""
    capped = tuple(c._replace(late_fee_cap_pct=D("0.004")) if c.contract_id == "HT-1" else c
                   for c in book.contracts)
    extra = (Receipt("F1", "HT-1", dt.date(2026, 11, 2), D("10.00"), "I-1-0",
                     purpose="late_fee"),)
    run(dataclasses.replace(book, contracts=capped, receipts=book.receipts + extra),
        "2026-W48", tmp_path)
    letter = tmp_path / "2026-W48" / "letters" / "催款函_C001_杭州优品电子商务有限公司.docx"
    doc = Document(str(letter))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "30.00" in cells and "30.00*" not in cells
    assert "400.00*" in cells  # I-1-1: capped at 100,000.00 × 0.4 %, nothing settled
    assert "按上限40.00元计收，其中已收取10.00元，尚欠30.00元" in text
    assert "按合同第7.2条计收的滞纳金尚未付清：" in text


def test_a_client_owing_only_fees_on_settled_installments_gets_no_letter(
        book: Book, tmp_path: Path) -> None:
    job = run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    assert not list((folder / "letters").glob("催款函_C008_*"))
    assert not list((folder / "mail").glob("催款函_C008_*"))
    report = build_report(book, W48)
    assert any("1 clients owe only late fees on installments settled late (¥200.00)" in n
               for n in report.notes)
    assert "¥9,446.28 to date" in job.summary and "¥280.00 on installments settled late" \
        in job.summary


def test_bundled_workbook_letters_state_the_whole_fee(tmp_path: Path) -> None:
    """The reviewer's case: C0012 owes 8,820.00 on HT-2025-007-02 (overdue) and 12,600.00
    (capped) on HT-2025-007-01, paid 247 days late; the report chases the engine's whole
    61,092.55, not only the 35,840.70 on overdue items."""
    book, _ = load_book(Path(__file__).resolve().parents[1] / "workbook" / "contracts.xlsm")
    assert book is not None
    run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    by, _, total = _fees_by_client(folder / "overdue-report_2026-W48.xlsx")
    result, _ = compute_penalties(book, W48.sunday)
    # 2,980.50 of the 61,092.55 were received or waived (the sample's 滞纳金 / 减免 receipts)
    assert total == sum(f.fee_owed for f in result.late_fees) == D("61092.55") - D("2980.50")
    assert by == _engine_fees_by_client(book, W48.sunday)
    assert by["C0012"] == D("21420.00") and "C0002" not in by  # C0002 paid its only fee
    # C0010's unnamed 滞纳金 of 661.50 settled its oldest fee (HT-2025-005-02, paid late):
    # what is chased is the fee on its overdue final payment alone
    assert by["C0010"] == next(f.fee for f in result.late_fees
                               if f.installment_id == "HT-2025-005-03")
    text = _mail(folder, "C0012").get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for needle in ("应付滞纳金人民币21,420.00元", "其中逾期未付款项的滞纳金人民币8,820.00元",
                   "已付清款项的滞纳金人民币12,600.00元",
                   "分期HT-2025-007-01）：到期日2025年9月15日，付款日2026年5月20日，逾期247天，"
                   "滞纳金人民币12,600.00元*", "注：标“*”的滞纳金已达合同约定的上限"):
        assert needle in text, needle
    [path] = (folder / "letters").glob("催款函_C0012_*.docx")
    doc = Document(str(path))
    letter = "\n".join(p.text for p in doc.paragraphs)
    assert "贵司应付滞纳金人民币21,420.00元" in letter and "注：标“*”的滞纳金" in letter
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "12,600.00*" in cells and "2026年5月20日" in cells and "247" in cells


def test_no_formula_anywhere_and_hostile_text_stays_text(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    path = tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx"
    wb = openpyxl.load_workbook(path)
    strings: set[str] = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    strings.add(cell.value)
                    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", cell.value)
    # cell_text makes a CR a LF (as for CR LF) and keeps the tab: both texts stay strings
    for name in ("=1+2", "+cmd", "-1", "@SUM(A1)", "\t制表符公司", "坏字符公司", "\n回车公司"):
        assert name in strings, name
    ws = wb["逾期明细 Overdue"]
    header = [str(c.value).split("\n")[1] for c in ws[3]]
    cr = [row for row in ws.iter_rows(min_row=4) if row[1].value == "C006"]
    assert [r[header.index("installment")].value for r in cr] == ["I-6-1"]
    name = cr[0][header.index("client name")]
    assert (name.value, name.data_type) == ("\n回车公司", "s")


def test_cell_text_cleans_control_characters() -> None:
    assert cell_text("a\x00b\x1fc\x0bd\x7fe") == "abcde"
    assert cell_text("\r\nx\ry") == "\nx\ny"
    assert cell_text("\t=1+2") == "\t=1+2"
    assert cell_text(None) == ""
    assert len(cell_text("x" * 40000)) == 32767


# --- letters and e-mail drafts ------------------------------------------------------------


def _mail(folder: Path, client_id: str) -> EmailMessage:
    [path] = sorted((folder / "mail").glob(f"催款函_{client_id}_*.eml"))
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_email_drafts_parse_back(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    msg = _mail(folder, "C001")
    assert msg["X-Unsent"] == "1"
    assert [a.addr_spec for a in msg["To"].addresses] == ["zhang@youpin.example"]
    assert msg["To"].addresses[0].display_name == "张三"
    assert msg["From"].addresses[0].addr_spec == "zhao@yunwei.example"
    assert msg["From"].addresses[0].display_name == "赵经理"
    assert msg["Subject"] == ("【催款函】杭州优品电子商务有限公司：逾期服务费人民币60,000.00元"
                              "（截至2026年11月29日）")
    assert msg["Message-ID"].endswith("@contract-tracker.invalid>")
    assert msg["Date"] == "Mon, 30 Nov 2026 09:00:00 +0800"
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    for needle in ("张三，您好", "合同HT-1", "未付金额人民币40,000.00元", "逾期243天",
                   "滞纳金人民币5,160.00元", "第7.2条", "万分之五", "0121000088886666",
                   "合计人民币60,000.00元", "分期I-1-0", "付款日2026年3月20日，逾期10天，"
                   "滞纳金人民币50.00元", "应付滞纳金人民币5,250.00元",
                   "其中逾期未付款项的滞纳金人民币5,200.00元，已付清款项的滞纳金人民币50.00元",
                   "以上合计人民币65,250.00元"):
        assert needle in text, needle
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "催款函_C001_杭州优品电子商务有限公司.docx"
    assert attachment.get_content_type() == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    letter = folder / "letters" / "催款函_C001_杭州优品电子商务有限公司.docx"
    assert attachment.get_content() == letter.read_bytes()


def test_every_draft_parses_back_to_its_client_letter_and_amounts(
        book: Book, tmp_path: Path) -> None:
    """Each .eml: To = the client's contact e-mail(s), the attachment = that client's letter
    (name and bytes), the overdue amount in the subject and body, every item's amounts and
    the whole late fee in the body."""
    run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    report = build_report(book, W48)
    clients = {c.client_id: c for c in book.clients}
    drafts = sorted((folder / "mail").glob("*.eml"))
    with_mail = [x for x in report.letters if x.mail_name]
    assert len(drafts) == len(with_mail) == 6
    assert {p.name for p in drafts} == {x.mail_name for x in with_mail}
    for x in with_mail:
        msg = email.message_from_bytes((folder / "mail" / x.mail_name).read_bytes(),
                                       policy=policy.default)
        assert isinstance(msg, EmailMessage)
        want, _ = email_addresses(clients[x.client_id].email)
        assert [a.addr_spec for a in msg["To"].addresses] == list(want) != [], x.client_id
        [attachment] = list(msg.iter_attachments())
        assert attachment.get_filename() == x.letter_name
        assert x.letter_name.startswith(f"催款函_{x.client_id}_")
        assert attachment.get_content() == (folder / "letters" / x.letter_name).read_bytes()
        outstanding = f"人民币{fmt_money_grouped(x.outstanding)}元"
        assert outstanding in msg["Subject"], (x.client_id, msg["Subject"])
        body = msg.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert f"逾期未付金额合计{outstanding}" in text
        assert f"应付滞纳金人民币{fmt_money_grouped(x.fee)}元" in text
        assert f"以上合计人民币{fmt_money_grouped(x.outstanding + x.fee)}元" in text
        for item in x.items:
            assert (f"分期{item.installment_id}）：到期日" in text
                    and f"未付金额人民币{fmt_money_grouped(item.outstanding)}元" in text)
        for late in x.settled:
            assert f"分期{late.installment_id}）" in text
            assert f"滞纳金人民币{fmt_money_grouped(late.fee)}元" in text


def test_hostile_names_in_mail_headers(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    msg = _mail(folder, "C003")  # two addresses, a manager named @SUM(A1)
    assert [a.addr_spec for a in msg["To"].addresses] == ["li@ex.example", "li2@ex.example"]
    assert msg["Subject"].startswith("【催款函】+cmd：")
    msg = _mail(folder, "C005")  # tab-led name: one line in the header
    assert msg["Subject"].startswith("【催款函】制表符公司：")
    msg = _mail(folder, "C007")  # manager e-mail not an address: a draft without From
    assert msg["From"] is None
    assert msg["Subject"].startswith("【催款函】坏字符公司：")
    assert msg["To"].addresses[0].display_name == '=HYPERLINK("x")'


def _reference_email(letter: Any, ctx: Any, attachment: bytes, week: IsoWeek) -> bytes:
    """A draft as the ``email`` package writes it (EmailMessage, SMTP policy): what
    ``dunning_email`` assembles faster must be these bytes."""
    import hashlib
    from email.headerregistry import Address
    from email.utils import format_datetime

    from contract_tracker import report as r

    subject, plain = r._mail_texts(letter, ctx)
    digest = hashlib.sha256(f"{week.label}|{letter.client_id}".encode()).hexdigest()
    msg = EmailMessage(policy=policy.SMTP)
    msg["X-Unsent"] = "1"
    msg["Subject"] = subject
    if letter.manager_email:
        msg["From"] = Address(display_name=r.one_line(letter.manager),
                              addr_spec=letter.manager_email)
    display = r.one_line(letter.contact) if len(letter.to) == 1 else ""
    msg["To"] = tuple(Address(display_name=display, addr_spec=a) for a in letter.to)
    sent = dt.datetime.combine(week.sunday + dt.timedelta(days=1), dt.time(9, 0), r.CHINA_TZ)
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = f"<ct.{week.label}.{digest[:24]}@{r.MAIL_DOMAIN}>"
    msg.set_content(plain, charset="utf-8", cte="base64")
    msg.add_attachment(attachment, maintype=r.DOCX_TYPE[0], subtype=r.DOCX_TYPE[1],
                       filename=letter.letter_name)
    for n, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_ct_{digest[:16]}_{n}")
    return msg.as_bytes(policy=policy.SMTP)


def test_drafts_are_the_bytes_the_email_package_writes(book: Book) -> None:
    """dunning_email writes the MIME structure itself (headers still folded by the email
    package): the same bytes as EmailMessage, for every letter of the sample (hostile
    names, two addresses, no From), an ASCII and a long file name, and odd bodies."""
    from contract_tracker import report as r

    report = build_report(book, W48)
    clients = {c.client_id: c for c in book.clients}
    letters = [x for x in report.letters if x.mail_name]
    assert len(letters) == 6
    variants = [*letters,
                letters[0]._replace(letter_name="dunning_C001.docx"),
                letters[0]._replace(letter_name="催款函_C001_" + "很长的公司名称" * 12 + ".docx"),
                letters[0]._replace(letter_name='a "quoted" name; x=1.docx', manager="",
                                    contact="", to=("a@x.example", "b@y.example")),
                *(letters[1]._replace(letter_name=name) for name in (
                    "催.docx", "催款函_C1_公司.docx", "催款函_C1_" + "a" * 28 + ".docx",
                    "催款函_C1_" + "a" * 60 + ".docx", "100% 公司's (北京)+=;.docx",
                    "催款函_C0042_" + "Ａ公司 Ltd. " * 9 + ".docx"))]
    for n, x in enumerate(variants):
        ctx = r.letter_context(book, clients[x.client_id], x, report.as_of)
        for attachment in (b"", b"x" * 57, b"PK\x03\x04" + bytes(range(256)) * 40):
            got = r.dunning_email(x, ctx, attachment, W48)
            assert got == _reference_email(x, ctx, attachment, W48), (n, x.client_id)


def test_client_without_email_gets_a_letter_and_a_warning(book: Book, tmp_path: Path) -> None:
    job = run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    assert list((folder / "letters").glob("催款函_C002_*.docx"))
    assert not list((folder / "mail").glob("催款函_C002_*.eml"))
    [warning] = [p for p in job.problems if "client C002" in p.message]
    assert "no e-mail address" in warning.message and "e-mail draft was skipped" in warning.message
    assert any("client C007" in p.message and "the e-mail draft has no From" in p.message
               for p in job.problems)
    assert any(line.level == "warning" and "skipped, no usable client e-mail: C002"
               in line.message for line in job.log)
    header, rows = sheet_rows(folder / "overdue-report_2026-W48.xlsx", "催款 Dunning")
    c002 = next(r for r in rows if r[1] == "C002")
    assert c002[header.index("e-mail draft (.eml)")] == "否"
    assert "e-mail draft skipped" in c002[header.index("note")]


def test_letter_states_items_fee_basis_and_bank_account(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    path = tmp_path / "2026-W48" / "letters" / "催款函_C001_杭州优品电子商务有限公司.docx"
    doc = Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "HT-1" in cells and "40,000.00" in cells and "5,160.00" in cells
    assert "20,000.00" in cells and "243" in cells and "4" in cells
    assert "60,000.00" in cells  # the total row
    assert "截至2026年11月29日" in text
    assert "第7.2条" in text and "万分之五" in text
    assert "5,250.00" in text  # fee 5,160.00 + 40.00 on the overdue items + 50.00 settled
    assert "65,250.00" in text  # 60,000.00 overdue + 5,250.00
    assert "其中逾期未付款项的滞纳金人民币5,200.00元，已付清款项的滞纳金人民币50.00元" in text
    # the installment paid late in full: its own table, with the day it was paid
    [settled] = [t for t in doc.tables if "付款日" in [c.text for c in t.rows[0].cells]]
    rows = [[c.text for c in row.cells] for row in settled.rows]
    assert rows[1] == ["1", "HT-1", "2026年3月10日", "2026年3月20日", "10", "50.00"]
    assert rows[-1][-1] == "50.00"
    assert "另，下列款项贵司虽已付清，但付款晚于到期日" in text
    assert "上限" not in text  # no fee of C001 is capped
    assert "0121000088886666" in text and "招商银行上海张江支行" in text
    assert "编号：CT-2026W48-C001" in text
    assert "2026年11月30日" in text  # dated the Monday after the week


def test_exempt_items_show_a_zero_fee(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    [path] = (tmp_path / "2026-W48" / "letters").glob("催款函_C004_*.docx")
    doc = Document(str(path))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "8,000.00" in cells and "0.00" in cells


def test_email_addresses() -> None:
    assert email_addresses("a@b.cn") == (("a@b.cn",), "")
    assert email_addresses(" a@b.cn ; c@d.com，a@b.cn") == (("a@b.cn", "c@d.com"), "")
    assert email_addresses(None) == ((), "no e-mail address")
    assert email_addresses("张三") == ((), "'张三' is not an e-mail address")
    assert email_addresses("a@b")[0] == ()
    assert email_addresses("a@b.cn\r\nBcc: x@y.com")[0] == ()


# --- the HTML summary ---------------------------------------------------------------------


def test_html_summary_is_escaped_and_complete(book: Book) -> None:
    evil = dataclasses.replace(book, clients=tuple(
        c._replace(name="<script>alert(1)</script> & Co") if c.client_id == "C001" else c
        for c in book.clients))
    report = build_report(evil, W48, None, "no previous report: first run")
    html = summary_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "no previous report: first run" in html
    assert "¥154,345.67" in html
    assert "style=" in html and "<style" not in html  # inline CSS only
    assert html == summary_html(report)


# --- re-runs ------------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_gives_byte_identical_files(book: Book, tmp_path: Path) -> None:
    first = tmp_path / "a"
    second = tmp_path / "b"
    run(book, "2026-W48", first)
    run(book, "2026-W48", second)
    report_job(book, "2026-W48", first, now=NOW + dt.timedelta(days=3))  # later, same place
    a, b = _tree(first), _tree(second)
    assert a.keys() == b.keys()
    assert len([k for k in a if k.endswith(".docx")]) == 7
    assert len([k for k in a if k.endswith(".eml")]) == 6
    for name in a:
        assert a[name] == b[name], name


def test_rerun_removes_letters_of_clients_no_longer_overdue(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    paid_up = dataclasses.replace(book, receipts=(
        *book.receipts, Receipt("R9", "HT-4", dt.date(2026, 11, 24), D("8000.00"), "I-4-1")))
    job = run(paid_up, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    assert not list((folder / "letters").glob("催款函_C004_*"))
    assert not list((folder / "mail").glob("催款函_C004_*"))
    assert any("removed 2 letters/drafts" in line.message for line in job.log)


def test_files_stay_inside_the_folder(book: Book, tmp_path: Path) -> None:
    sneaky = dataclasses.replace(book, clients=tuple(
        c._replace(name="../../etc/passwd") if c.client_id == "C001" else c
        for c in book.clients))
    job = run(sneaky, "2026-W48", tmp_path)
    root = tmp_path.resolve()
    for path in job.files:
        assert path.resolve().is_relative_to(root)
    [letter] = (tmp_path / "2026-W48" / "letters").glob("催款函_C001_*")
    assert letter.name == "催款函_C001__.._etc_passwd.docx"  # separators replaced


# --- the command --------------------------------------------------------------------------


def test_report_command(mini_workbook: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["report", str(mini_workbook), "--week", "2026-W48", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2026-W48 as of 2026-11-29" in printed and "no previous report" in printed
    assert (out / "2026-W48" / "overdue-report_2026-W48.xlsx").exists()
    assert (out / "snapshots" / "2026-W48.json").exists()
    wb = openpyxl.load_workbook(mini_workbook, read_only=True)
    log = [r for r in wb["Log"].iter_rows(values_only=True) if r and r[1] == "report"]
    assert any("2026-W48 as of 2026-11-29" in str(r[3]) for r in log)


def test_report_command_with_the_master_open_in_excel_warns_and_exits_0(
        mini_workbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Excel's owner file beside the master refuses the Log write: the report is written
    all the same, the command says the Log was not updated and why, and exits 0."""
    owner = mini_workbook.with_name("~$" + mini_workbook.name)
    owner.write_bytes(b"\x00" * 165)
    before = mini_workbook.read_bytes()
    out = tmp_path / "out"
    assert main(["report", str(mini_workbook), "--week", "2026-W48", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "the report was written" in printed.out
    assert f"the Log in the master {mini_workbook.name} was not updated" in printed.out
    assert "is open in Excel (~$contracts.xlsm is beside it)" in printed.out
    assert "nothing was written" not in printed.out + printed.err
    assert (out / "2026-W48" / "overdue-report_2026-W48.xlsx").exists()
    assert (out / "snapshots" / "2026-W48.json").exists()
    assert mini_workbook.read_bytes() == before  # the master is untouched
    owner.unlink()  # Excel closed: the next run logs
    assert main(["report", str(mini_workbook), "--week", "2026-W48", "--out", str(out)]) == 0
    assert "not updated" not in capsys.readouterr().out
    wb = openpyxl.load_workbook(mini_workbook, read_only=True)
    assert any(r and r[1] == "report" for r in wb["Log"].iter_rows(values_only=True))


def test_report_command_default_folder(mini_workbook: Path) -> None:
    assert main(["report", str(mini_workbook), "--week", "2026-W20"]) == 0
    assert (mini_workbook.parent / "output" / "reports" / "2026-W20" / "mail").is_dir()


def test_report_command_bad_week_exits_2(mini_workbook: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(mini_workbook), "--week", "2027-W53"])
    assert exit_info.value.code == 2
    assert "2027-W53 does not exist: 2027 has 52 ISO weeks" in capsys.readouterr().err


def test_report_command_unwritable_output_exits_2(mini_workbook: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", str(mini_workbook), "--week", "2026-W48",
                 "--out", str(blocker / "sub")]) == 2
    assert f"nothing written: {blocker} is a file, not a folder" in capsys.readouterr().err


# --- LibreOffice: look at it ----------------------------------------------------------------


PNG_ENV = "CONTRACT_TRACKER_PNG_DIR"
"""Set to a folder to keep the pages the LibreOffice tests render, for a human to look at
(each test its own subfolder, replaced on each run). The tests write under ``tmp_path``."""
CJK_FONT = re.compile(r"CJK|WenQuanYi|WQY|Droid ?Sans ?Fallback|Source ?Han|SimSun|SimHei|"
                      r"AR ?PL|UMing|UKai|Noto ?S(?:ans|erif) ?SC|FangSong|KaiTi|YaHei", re.I)


def embedded_fonts(pdf: Path) -> list[tuple[str, bool]]:
    """``pdffonts``' fonts of a PDF: (name, embedded)."""
    listing = subprocess.run([lo.require("pdffonts"), str(pdf)], capture_output=True,
                             text=True, check=True).stdout
    fonts = []
    for line in listing.splitlines()[2:]:
        m = re.match(r"^(\S+)\s.*\s(yes|no)\s+(?:yes|no)\s+(?:yes|no)\s+\d+\s+\d+\s*$", line)
        if m:
            fonts.append((m.group(1), m.group(2) == "yes"))
    return fonts


def assert_cjk_font_embedded(pdf: Path) -> None:
    """Chinese text was drawn with a CJK font embedded in the PDF (not missing glyphs)."""
    fonts = embedded_fonts(pdf)
    assert any(emb and CJK_FONT.search(name) for name, emb in fonts), fonts


def keep_pngs(pages: list[Path], name: str) -> None:
    """Copy rendered pages to ``$CONTRACT_TRACKER_PNG_DIR/<name>/`` when that is set."""
    target = os.environ.get(PNG_ENV)
    if not target:
        return
    folder = Path(target) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for page in pages:
        shutil.copy2(page, folder / page.name)


def convert_all(sources: list[Path], out_dir: Path) -> list[Path]:
    """Several documents to PDF in one LibreOffice run (a fresh profile)."""
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    try:
        result = subprocess.run(
            [lo.require("soffice"), f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", "pdf", "--outdir", str(out_dir), *map(str, sources)],
            capture_output=True, text=True, timeout=300, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    pdfs = [out_dir / f"{src.stem}.pdf" for src in sources]
    assert result.returncode == 0 and all(p.exists() for p in pdfs), (result.stdout,
                                                                       result.stderr)
    said = lo.complaints(result.stdout) + lo.complaints(result.stderr)
    assert said == [], f"LibreOffice complained: {said}"
    return pdfs


def whole_on_a_line(amount: str, text: str) -> bool:
    """``amount`` (``11,712.00``) stands unbroken on one line of the letter's totals
    paragraph (逾期未付金额合计… up to 请贵司…, where no table can hold it) in pdftotext's
    output."""
    prose = text[text.index("逾期未付金额合计"):text.index("请贵司")]
    pattern = re.compile(rf"(?<![\d,.]){re.escape(amount)}(?![\d])")
    return any(pattern.search(line) for line in prose.splitlines())


@pytest.mark.libreoffice
def test_libreoffice_prints_the_report_and_a_letter(book: Book, tmp_path: Path) -> None:
    run(book, "2026-W48", tmp_path)
    folder = tmp_path / "2026-W48"
    pdfs = tmp_path / "pdf"
    pdfs.mkdir()
    letter = next((folder / "letters").glob("催款函_C001_*.docx"))
    xlsx_pdf, letter_pdf = convert_all([folder / "overdue-report_2026-W48.xlsx", letter], pdfs)
    assert_cjk_font_embedded(xlsx_pdf)
    assert_cjk_font_embedded(letter_pdf)
    text = lo.pdf_text(xlsx_pdf)
    assert "###" not in text
    # Printed legibly: notes and subtitles, wrapped within their tables, do not widen the
    # pages they are fitted to. Unwrapped, they printed the Summary's 11 pt text at 5.6 pt
    # and the late fees at 4.9 pt; the widest tables now print at 7.4 pt or more.
    for page in range(1, len(lo.pdf_pages(xlsx_pdf)) + 1):
        size = statistics.median(lo.pdf_word_heights(xlsx_pdf, page))
        assert size >= (9 if page == 1 else 7), (page, size)
    for needle in ("逾期周报", "154,345.67", "=1+2", "@SUM(A1)", "5,160.00", "2026-03-31",
                   "no previous report", "9,446.28"):
        assert needle in text, needle
    flat = re.sub(r"\s+", "", text)
    for needle in ("逾期明细", "滞纳金合计", "杭州优品电子商务有限公司", "只欠滞纳金公司",
                   "已付清settled", "回车公司", "10,000.00×0.05%×10天（2026-03-20付）=50.00"):
        assert needle in flat, needle
    letter_text = lo.pdf_text(letter_pdf)
    flat = re.sub(r"\s+", "", letter_text)
    for needle in ("催款函", "编号：CT-2026W48-C001", "杭州优品电子商务有限公司：",
                   "下列款项已逾期未付", "另，下列款项贵司虽已付清，但付款晚于到期日",
                   "2026年3月20日", "第7.2条", "万分之五",
                   "贵司应付滞纳金人民币5,250.00元", "以上合计人民币65,250.00元",
                   "0121000088886666", "招商银行上海张江支行", "上海云维信息技术有限公司（盖章）"):
        assert needle in flat, needle
    for amount in ("60,000.00", "5,250.00", "5,200.00", "50.00", "65,250.00"):
        assert whole_on_a_line(amount, letter_text), amount
    pngs = tmp_path / "png"
    pngs.mkdir()
    pages = lo.pdf_pages_to_png(xlsx_pdf, pngs / "report", dpi=70)
    pages += lo.pdf_pages_to_png(letter_pdf, pngs / "letter", dpi=70)
    assert pages and all(p.stat().st_size > 5000 for p in pages)
    keep_pngs(pages, "report")


@pytest.mark.libreoffice
def test_libreoffice_keeps_amounts_on_one_line_in_every_letter(tmp_path: Path) -> None:
    """Printed by LibreOffice, no amount of the bundled workbook's letters is broken across
    lines ("人民币11,712." / "00元" was): Latin text in the template is tagged English, so
    LibreOffice's Chinese line breaking does not split numbers (Word never does)."""
    book, _ = load_book(Path(__file__).resolve().parents[1] / "workbook" / "contracts.xlsm")
    assert book is not None
    run(book, "2026-W48", tmp_path)
    report = build_report(book, W48)
    folder = tmp_path / "2026-W48" / "letters"
    pdfs = tmp_path / "pdf"
    pdfs.mkdir()
    letters = [folder / x.letter_name for x in report.letters]
    pngs = tmp_path / "png"
    pngs.mkdir()
    pages: list[Path] = []
    texts: dict[str, str] = {}
    for x, pdf in zip(report.letters, convert_all(letters, pdfs), strict=True):
        assert_cjk_font_embedded(pdf)
        text = texts[x.client_id] = lo.pdf_text(pdf)
        amounts = {x.outstanding, x.fee, x.outstanding + x.fee}
        if x.settled:
            amounts |= {x.overdue_fee, x.settled_fee}
        for amount in sorted(fmt_money_grouped(a) for a in amounts):
            assert whole_on_a_line(amount, text), (x.client_id, amount)
        flat = re.sub(r"\s+", "", text)
        assert f"贵司应付滞纳金人民币{fmt_money_grouped(x.fee)}元" in flat, x.client_id
        pages += lo.pdf_pages_to_png(pdf, pngs / x.client_id, dpi=70)
    flat = re.sub(r"\s+", "", texts["C0012"])
    for needle in ("2026年5月20日", "12,600.00*", "注：标“*”的滞纳金已达合同约定的上限"):
        assert needle in flat, needle
    assert pages and all(p.stat().st_size > 5000 for p in pages)
    keep_pngs(pages, "letters")


def test_letters_rendered_in_worker_processes_are_the_same_bytes(
        book: Book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contract_tracker import report as report_module

    run(book, "2026-W48", tmp_path / "one")
    monkeypatch.setattr(report_module, "PARALLEL_FROM", 1)  # a pool even for 6 letters
    monkeypatch.setattr(report_module.os, "cpu_count", lambda: 2)
    run(book, "2026-W48", tmp_path / "pool")
    assert _tree(tmp_path / "one") == _tree(tmp_path / "pool")


# --- letters in a row: the Nth reminder and the final notice -----------------------------


def _letters_in_a_row(tmp_path: Path, weeks: Sequence[str], settings: Settings | None = None
                      ) -> dict[str, dict[str, tuple[int, bool]]]:
    """Run ``weeks`` in order into one folder; (reminder, final) per client per week."""
    from contract_tracker.sample import sample_book

    book = sample_book("small")
    if settings is not None:
        book = dataclasses.replace(book, settings=settings)
    seen: dict[str, dict[str, tuple[int, bool]]] = {}
    for label in weeks:
        job = report_job(book, label, tmp_path, now=NOW)
        assert not job.failed, job.summary
        header, rows = sheet_rows(tmp_path / label / f"overdue-report_{label}.xlsx",
                                  "催款 Dunning")
        client, reminder, final = (header.index(k) for k in ("client", "reminder no.",
                                                             "final notice"))
        seen[label] = {r[client]: (r[reminder], r[final] in (True, "是")) for r in rows}
    return seen


def test_a_client_chased_week_after_week_gets_numbered_reminders_then_a_final_notice(
        tmp_path: Path) -> None:
    seen = _letters_in_a_row(tmp_path, ["2026-W44", "2026-W45", "2026-W46"])
    # C0008 is overdue in all three weeks; C0020 only from W45 on (due 2026-11-02).
    assert seen["2026-W44"]["C0008"] == (1, False)
    assert seen["2026-W45"]["C0008"] == (2, False)
    assert seen["2026-W46"]["C0008"] == (3, True)  # Settings default: the 3rd is final
    assert "C0020" not in seen["2026-W44"]
    assert seen["2026-W45"]["C0020"] == (1, False)
    assert seen["2026-W46"]["C0020"] == (2, False)

    letters = tmp_path / "2026-W46" / "letters"
    final_path = next(letters.glob("最后催款通知函_C0008*.docx"))  # named as what it is
    assert not list(letters.glob("催款函_C0008*"))
    final = _docx_paragraphs(final_path)
    assert final[0] == "最后催款通知函"
    header = Document(str(final_path)).sections[0].header.paragraphs[0].text
    assert header == "最后催款通知函 CT-2026W46-C0008"
    assert ("我司已于2026年11月2日起就下列逾期款项两次致函贵司催告，贵司至今未付清。"
            "本函为第三次催告。") in final
    assert any(p.startswith("本函为最后催告。") for p in final)
    # A final demand does not tell the client to ignore it.
    assert not any("请忽略本函" in p for p in final)
    assert any(p.startswith("如贵司已于本函发出前付款，请将付款凭证发送") for p in final)
    second = _docx_paragraphs(next(letters.glob("催款函_C0020*.docx")))
    assert second[0] == "催  款  函"
    assert ("我司已于2026年11月9日起就下列逾期款项一次致函贵司催告，贵司至今未付清。"
            "本函为第二次催告。") in second
    assert not any(p.startswith("本函为最后催告") for p in second)
    assert any(p.startswith("如贵司已支付上述款项，请忽略本函，并将付款凭证发送") for p in second)
    first = _docx_paragraphs(next((tmp_path / "2026-W44" / "letters").glob("催款函_C0008*")))
    assert first[0] == "催  款  函" and not any("次致函" in p for p in first)

    mail = tmp_path / "2026-W46" / "mail"
    draft = _eml(next(mail.glob("最后催款通知函_C0008*.eml")))
    assert draft["Subject"].startswith("【最后催款通知】")
    assert draft["Subject"].endswith("（第三次催告）")
    (attachment,) = draft.iter_attachments()
    assert attachment.get_filename() == final_path.name
    body = draft.get_body(("plain",)).get_content()
    assert "本邮件为第三次催告" in body and "本邮件及所附《最后催款通知函》为最后催告" in body
    assert "请忽略本邮件" not in body and "如贵司已于本邮件发出前付款" in body
    first_subject = _eml(next((tmp_path / "2026-W44" / "mail").glob("催款函_C0008*")))["Subject"]
    assert first_subject.startswith("【催款函】") and "次催告" not in first_subject


def test_a_week_without_a_report_starts_the_count_again(tmp_path: Path) -> None:
    seen = _letters_in_a_row(tmp_path, ["2026-W44", "2026-W46"])  # W45 never run
    assert seen["2026-W46"]["C0008"] == (1, False)


def test_final_notices_can_be_switched_off_or_come_later(tmp_path: Path) -> None:
    from contract_tracker.sample import sample_book

    base = sample_book("small").settings
    # The default of a new workbook: a final notice says a lawsuit comes next, so the tool
    # never sends one until the user sets it.
    never = _letters_in_a_row(tmp_path / "never", ["2026-W44", "2026-W45", "2026-W46"],
                              dataclasses.replace(
                                  base, dunning_final_from=Settings().dunning_final_from))
    assert never["2026-W46"]["C0008"] == (3, False)
    later = _letters_in_a_row(tmp_path / "later", ["2026-W44", "2026-W45", "2026-W46"],
                              dataclasses.replace(base, dunning_final_from=4))
    assert later["2026-W46"]["C0008"] == (3, False)


@pytest.mark.parametrize(("chased_before", "reminder"), [
    ("HT-2026-007-01", 1),  # another installment of the client, since paid: not these items
    ("HT-2026-007-02", 2),  # the very item the letter lists
])
def test_only_weeks_that_chased_the_listed_items_count(
        tmp_path: Path, chased_before: str, reminder: int) -> None:
    # Found in review: "就下列逾期款项N次致函" must be true of the items the letter lists.
    from contract_tracker.sample import sample_book

    book = sample_book("small")
    report_job(book, "2026-W44", tmp_path, now=NOW)  # C0020 owes nothing overdue yet
    snap = tmp_path / "snapshots" / "2026-W44.json"
    data = json.loads(snap.read_text(encoding="utf-8"))
    data["open_items"].append({
        "installment_id": chased_before, "contract_id": "HT-2026-007", "client_id": "C0020",
        "due_date": "2026-10-01", "outstanding": "100.00", "days_overdue": 31,
        "fee": "1.00"})
    data["letters"] = sorted({*data["letters"], "C0020"})  # and C0020 got a letter then
    snap.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    seen = _letters_in_a_row(tmp_path, ["2026-W45"])
    assert seen["2026-W45"]["C0020"] == (reminder, False)


def test_rerunning_a_week_keeps_its_reminder_numbers(tmp_path: Path) -> None:
    first = _letters_in_a_row(tmp_path, ["2026-W44", "2026-W45", "2026-W46"])
    again = _letters_in_a_row(tmp_path, ["2026-W46"])  # W46's own snapshot is not counted
    assert again["2026-W46"] == first["2026-W46"]


def _docx_paragraphs(path: Path) -> list[str]:
    return [p.text for p in Document(str(path)).paragraphs if p.text.strip()]


def _eml(path: Path) -> Any:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def test_weeks_when_the_client_got_no_letter_do_not_count(tmp_path: Path) -> None:
    # Found in review: a client missing from the Clients sheet gets no letter, yet its
    # items were in the snapshot; once added, its first letter was numbered 3 and final.
    from contract_tracker.sample import sample_book

    book = sample_book("small")
    without = dataclasses.replace(
        book, clients=tuple(c for c in book.clients if c.client_id != "C0008"))
    for label in ("2026-W44", "2026-W45"):
        job = report_job(without, label, tmp_path, now=NOW)
        assert not any(p.suffix == ".docx" and "C0008" in p.name for p in job.files)
    seen = _letters_in_a_row(tmp_path, ["2026-W46"])
    assert seen["2026-W46"]["C0008"] == (1, False)
    assert seen["2026-W46"]["C0005"] == (3, True)  # lettered all three weeks


def test_a_snapshot_from_before_letters_were_counted_counts_every_item(tmp_path: Path) -> None:
    from contract_tracker.sample import sample_book

    report_job(sample_book("small"), "2026-W44", tmp_path, now=NOW)
    snap = tmp_path / "snapshots" / "2026-W44.json"
    data = json.loads(snap.read_text(encoding="utf-8"))
    assert data.pop("letters") == ["C0005", "C0008", "C0010", "C0012", "C0021"]
    snap.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert _letters_in_a_row(tmp_path, ["2026-W45"])["2026-W45"]["C0008"] == (2, False)


_PART = re.compile(r"([\d,]+\.\d\d)元×([\d.]+)%×(\d+)天")


def test_each_letter_fee_comes_with_a_basis_the_client_can_recompute(tmp_path: Path) -> None:
    """Found in review: an overdue item's fee includes its parts paid late before, so
    outstanding x rate x days in the table did not give the fee shown (C0008: 46,200.00 x
    0.05 % x 296 = 6,837.60, not 7,207.20). Each fee now states its parts."""
    from contract_tracker.sample import sample_book

    job = report_job(sample_book("small"), "2026-W47", tmp_path, now=NOW)
    assert not job.failed, job.summary
    report = build_report(sample_book("small"), parse_week("2026-W47"))
    checked = 0
    for letter in report.letters:
        path = next((tmp_path / "2026-W47" / "letters").glob(f"*_{letter.client_id}_*.docx"))
        paragraphs = _docx_paragraphs(path)
        body = _eml(next((tmp_path / "2026-W47" / "mail").glob(
            f"*_{letter.client_id}_*.eml"))).get_body(("plain",)).get_content() \
            if letter.mail_name else ""
        for row in (*letter.items, *letter.settled):
            if row.fee == 0:
                continue
            line = next(p for p in paragraphs if row.basis and p.endswith(row.basis))
            parts = _PART.findall(line)
            assert parts, line
            exact = sum(D(a.replace(",", "")) * D(r) / 100 * int(d)
                        for a, r, d in parts)
            shown = D(line.rsplit("＝", 1)[1].split("元")[0].replace(",", ""))
            assert exact.quantize(D("0.01"), ROUND_HALF_UP) == shown
            if not row.capped:
                assert shown == row.fee
            if body:
                assert f"滞纳金计算：{row.basis}" in body
            checked += 1
    c0008 = next(x for x in report.letters if x.client_id == "C0008").items[0]
    assert "付款部分" in c0008.basis and "尚未支付部分" in c0008.basis
    assert c0008.outstanding * c0008.rate * c0008.days_overdue != c0008.fee
    assert checked >= len(report.letters)


def test_the_dunning_sheet_shows_what_we_owe_the_client_under_the_sla(tmp_path: Path) -> None:
    """A client may set our SLA penalties off against the demand: the account manager sees
    them beside the letter (found in review: five chased clients were owed SLA sums)."""
    from contract_tracker.sample import sample_book

    book = sample_book("small")
    job = report_job(book, "2026-W47", tmp_path, now=NOW)
    assert not job.failed, job.summary
    header, rows = sheet_rows(tmp_path / "2026-W47" / "overdue-report_2026-W47.xlsx",
                              "催款 Dunning")
    col = header.index("SLA owed by us (may be set off)")
    shown = {r[header.index("client")]: r[col] for r in rows}
    result, _ = compute_penalties(book, parse_week("2026-W47").sunday)
    client_of = {c.contract_id: c.client_id for c in book.contracts}
    signed = {c.contract_id for c in book.contracts if c.status not in ("draft", "sent")}
    owed: dict[str, D] = {}
    for m in result.sla_months:
        if m.owed > 0 and m.contract_id in signed:  # nothing is owed before signing
            owed[client_of[m.contract_id]] = owed.get(client_of[m.contract_id], D(0)) + m.owed
    assert shown and any(v for v in shown.values())
    for client, value in shown.items():
        assert D(str(value or 0)) == owed.get(client, D(0)), client


def test_rows_left_out_for_errors_are_named_in_the_report(tmp_path: Path) -> None:
    """Found in review: a receipt with a bad date was skipped and the client chased for
    money already received; the report's Problems sheet did not say a row was missing."""
    from contract_tracker.sample import sample_book

    bad = Problem("Receipts", "D57", "收款日期 '11/5/2026' is not a date: use yyyy-mm-dd",
                  Severity.ERROR)
    job = report_job(sample_book("small"), "2026-W47", tmp_path, now=NOW, read_problems=(bad,))
    assert not job.failed
    assert job.problems.count(bad) == 1  # once, not twice
    assert "1 data error (rows not in the report: check before sending)" in job.summary
    path = tmp_path / "2026-W47" / "overdue-report_2026-W47.xlsx"
    header, rows = sheet_rows(path, "问题 Problems")
    data_rows = [r[header.index("cell")] for r in rows if r[0] == "数据 data"]
    assert data_rows[0] == "Receipts!D57"  # reading's first, then the engine's
    summary = openpyxl.load_workbook(path)["概览 Summary"]
    texts = [str(c.value) for row in summary.iter_rows() for c in row if c.value]
    assert any(t.startswith("数据有 1 处错误，相关行未计入本报告") for t in texts)
    html = (tmp_path / "2026-W47" / "summary_2026-W47.html").read_text(encoding="utf-8")
    assert "数据有 1 处错误" in html


def test_notes_wrap_across_their_tables(book: Book, tmp_path: Path) -> None:
    """The Summary's notes (and the two lines under its title) are merged across the
    table's columns A to E and wrapped there, taller rows for longer notes, text kept as
    text: nothing on the sheet runs on past column E. So is each table sheet's subtitle,
    across its own columns."""
    from contract_tracker.report import SUMMARY_WIDTHS, WRAPPED_LINE_HEIGHT

    run(book, "2026-W48", tmp_path)
    report = build_report(book, W48)
    ws = openpyxl.load_workbook(tmp_path / "2026-W48" / "overdue-report_2026-W48.xlsx"
                                )[REPORT_SHEETS[0]]
    merged = {str(m) for m in ws.merged_cells.ranges}
    assert ws.max_column == len(SUMMARY_WIDTHS) == 5
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    room = sum(SUMMARY_WIDTHS)
    assert len(report.notes) >= 3
    for note in report.notes:
        r = rows[note]  # written whole, as a string
        assert f"A{r}:E{r}" in merged
        assert ws.cell(r, 1).alignment.wrap_text and ws.cell(r, 1).data_type == "s"
        height = ws.row_dimensions[r].height
        if text_width(note) > room:
            assert height is not None and height >= 2 * WRAPPED_LINE_HEIGHT, note
        elif text_width(note) <= room - 2:  # (a cell's margins take a little of it)
            assert height is None, note
    assert "A3:E3" in merged and "A4:E4" in merged
    wb = ws.parent
    for name in REPORT_SHEETS[1:]:
        sheet = wb[name]
        last = sheet.cell(3, sheet.max_column).column_letter  # the header row's last column
        assert f"A2:{last}2" in {str(m) for m in sheet.merged_cells.ranges}, name
        subtitle = sheet.cell(2, 1)
        assert subtitle.data_type == "s" and subtitle.alignment.wrap_text, name
        assert subtitle.value.startswith("2026-W48"), name


@pytest.mark.parametrize(("today", "warned"), [
    (dt.date(2026, 11, 29), True),  # the Sunday itself: the week is not over
    (dt.date(2026, 11, 30), False),
])
def test_a_week_that_has_not_ended_is_reported_with_a_warning(
        tmp_path: Path, today: dt.date, warned: bool) -> None:
    from contract_tracker.sample import sample_book

    job = report_job(sample_book("small"), "2026-W48", tmp_path, today=today, now=NOW)
    said = [p for p in job.problems if "has not ended" in p.message]
    assert bool(said) is warned
    if warned:
        (p,) = said
        assert p.severity is Severity.WARNING and "re-run the week once it has ended" in p.message
        assert "letters are dated 2026-11-30" in p.message


@pytest.mark.parametrize("day", [dt.date(1900, 2, 28), dt.date(1900, 3, 1), dt.date(1990, 1, 1),
                                 dt.date(2026, 2, 28), dt.date(2028, 2, 29),
                                 dt.date(2099, 12, 31)])
def test_a_date_cell_is_the_cell_xlsxwriters_write_datetime_makes(day: dt.date) -> None:
    # Dates are written as their serial numbers (xlsxwriter's own conversion cost a fifth
    # of the report workbook's time): the sheet XML must not change by a byte.
    import io
    import zipfile

    import xlsxwriter

    from contract_tracker.report import _write_cell

    def sheet_xml(write: Any) -> bytes:
        buffer = io.BytesIO()
        wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
        ws = wb.add_worksheet()
        fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        write(ws, fmt)
        wb.close()
        with zipfile.ZipFile(buffer) as z:
            return z.read("xl/worksheets/sheet1.xml")

    ours = sheet_xml(lambda ws, fmt: _write_cell(ws, 0, 0, day, "date", fmt))
    theirs = sheet_xml(lambda ws, fmt: ws.write_datetime(
        0, 0, dt.datetime(day.year, day.month, day.day), fmt))
    assert ours == theirs
    assert b"<v>" in ours
