"""jobs: the everyday runs assembled from the engine, the Dashboard and the writers."""

from __future__ import annotations

import dataclasses
import datetime as dt

from contract_tracker.cli import BUNDLED_WORKBOOK
from contract_tracker.jobs import future_receipts, refresh_job
from contract_tracker.reader import load_book
from contract_tracker.records import Severity
from contract_tracker.sample import SAMPLE_AS_OF


def test_a_receipt_dated_after_today_is_a_warning_at_its_date_cell() -> None:
    """Found in review: a receipt typed as 2026-12-05 on 2026-11-26 was silently not
    counted, so its installment stayed overdue on the Dashboard and in the letters."""
    book, _ = load_book(BUNDLED_WORKBOOK)  # records that know their cells
    assert book is not None
    today = max(r.date for r in book.receipts)
    assert future_receipts(book, today) == []  # dated today: fine
    late = book.receipts[0]._replace(date=today + dt.timedelta(days=1))
    book = dataclasses.replace(book, receipts=(late, *book.receipts[1:]))
    (p,) = future_receipts(book, today)
    assert (p.sheet, p.cell, p.severity) == ("Receipts", late.src.cell("date"), Severity.WARNING)
    assert p.message.startswith(f"收款日期 {late.date} is after today ({today})")
    now = dt.datetime.combine(today, dt.time(9))
    job = refresh_job(book, (), SAMPLE_AS_OF, now=now)
    assert p in job.problems


def test_validate_names_the_holiday_tables_problems_once() -> None:
    """Found in review: a day typed both off and working was found by refresh (the engine)
    but validate said 0 errors."""
    from contract_tracker.engine.calendar import LAST_YEAR
    from contract_tracker.jobs import validate_job
    from contract_tracker.records import HolidayRule, Source

    book, read = load_book(BUNDLED_WORKBOOK)
    assert book is not None
    year = LAST_YEAR + 1
    cols = (("day", "S"), ("until", "T"), ("kind", "U"), ("name", "V"))
    rules = (HolidayRule(dt.date(year, 2, 8), dt.date(year, 2, 12), "rest", None,
                         Source("Settings", 2, cols)),
             HolidayRule(dt.date(year, 2, 10), None, "work", None, Source("Settings", 3, cols)))
    book = dataclasses.replace(book, settings=dataclasses.replace(book.settings, holidays=rules))
    job = validate_job(book, read)
    clash = [p for p in job.problems if p.cell == "U3"]
    assert len(clash) == 1 and clash[0].severity is Severity.ERROR
    refreshed = refresh_job(book, read, SAMPLE_AS_OF)
    assert [p for p in refreshed.problems if p.cell == "U3"] == clash  # listed once


def test_a_future_fee_receipt_is_worded_by_what_it_settles() -> None:
    """Found in review: a waiver dated after today was told "money cannot have come in
    yet ... shows unpaid", though it moves no money and leaves the installment as it is."""
    book, _ = load_book(BUNDLED_WORKBOOK)
    assert book is not None
    today = max(r.date for r in book.receipts)
    later = today + dt.timedelta(days=1)
    waiver, received = (next(r._replace(date=later) for r in book.receipts
                             if r.purpose == purpose and r.installment_id)
                        for purpose in ("fee_waiver", "late_fee"))
    book = dataclasses.replace(book, receipts=(waiver, received))
    by_id = {p.cell: p.message for p in future_receipts(book, today)}
    assert by_id[waiver.src.cell("date")] == (
        f"收款日期 {later} is after today ({today}): a waiver counts only from its date on, "
        f"so as of an earlier date the late fee of {waiver.installment_id} shows unsettled; "
        f"check the date")
    assert "money cannot have come in yet" in by_id[received.src.cell("date")]
    assert f"the late fee of {received.installment_id} shows unsettled" in by_id[
        received.src.cell("date")]
