"""contract_tracker.parse: every bad input is reported at its cell, good rows go on."""

from __future__ import annotations

import datetime as dt
from array import array
from decimal import Decimal as D
from typing import Any

import pytest

from contract_tracker import schema
from contract_tracker.parse import CellError, conv_date, conv_datetime, conv_month, parse_book
from contract_tracker.records import Book, Problem, Severity

from .conftest import grids_of, make_mini_book, strip_sources

Grids = dict[str, list[list[Any]]]


def messages(problems: tuple[Problem, ...]) -> list[str]:
    return [str(p) for p in problems]


def errors(problems: tuple[Problem, ...]) -> list[str]:
    return [str(p) for p in problems if p.severity is Severity.ERROR]


def col(grids: Grids, sheet: str, key: str) -> int:
    return next(i for i, h in enumerate(grids[sheet][0]) if isinstance(h, str)
                and h.endswith(f"({key})"))


def set_cell(grids: Grids, sheet: str, row: int, key: str, value: Any) -> None:
    """Set the cell of column ``key`` on Excel row ``row``."""
    grids[sheet][row - 1][col(grids, sheet, key)] = value


def test_clean_grids_parse_to_the_same_book_without_problems(
        mini_book: Book, mini_grids: Grids) -> None:
    book, problems = parse_book(mini_grids)
    assert messages(problems) == []
    assert strip_sources(book) == strip_sources(mini_book)


def test_every_record_knows_its_cell(mini_grids: Grids) -> None:
    book, _ = parse_book(mini_grids)
    receipt = book.receipts[1]
    assert receipt.src.ref("amount") == "Receipts!E3"
    assert book.contracts[0].src.ref("end_date") == "Contracts!G2"


def test_bad_date_is_reported_at_its_cell_and_only_that_row_is_skipped(
        mini_grids: Grids) -> None:
    set_cell(mini_grids, "Installments", 4, "due_date", "2026-13-01")
    book, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Installments!E4: 到期日 '2026-13-01' is not a date: use yyyy-mm-dd, e.g. 2026-03-31"]
    assert [i.installment_id for i in book.installments] == ["HT-2026-001-1", "HT-2026-001-2"]


def test_missing_required_value(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Clients", 3, "name", "")
    book, problems = parse_book(mini_grids)
    assert "Clients!B3: 甲方公司全称 is required but empty" in errors(problems)
    assert [c.client_id for c in book.clients] == ["C001"]


def test_wrong_type_in_money_column(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 2, "amount", "三万")
    _, problems = parse_book(mini_grids)
    assert "Receipts!E2: 金额 '三万' is not a number: type the digits, e.g. 45000 for 4.5万" \
        in errors(problems)


def test_negative_amount(mini_grids: Grids) -> None:
    set_cell(mini_grids, "FeeItems", 2, "amount", -5.0)
    _, problems = parse_book(mini_grids)
    assert ("FeeItems!C2: 金额 -5 is negative: amounts and counts must be 0 or more"
            in errors(problems))


def test_duplicate_id_keeps_the_first(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 3, "receipt_id", "R001")
    book, problems = parse_book(mini_grids)
    assert ("Receipts!A3: duplicate 收款编号 'R001' (first at Receipts!A2): each must be "
            "unique; this row is skipped") in errors(problems)
    assert [r.receipt_id for r in book.receipts] == ["R001"]


def test_unknown_client_skips_the_contract_and_its_dependants(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Contracts", 3, "client_id", "C999")
    book, problems = parse_book(mini_grids)
    skipped = ("合同编号 'HT-2026-002' was skipped for its own errors (see Contracts row 3): "
               "fix that row first; row skipped")
    assert errors(problems) == [
        "Contracts!B3: 客户编号 'C999' is not on the Clients sheet: add it there first or "
        "correct the ID; row skipped",
        f"FeeItems!A4: {skipped}", f"Installments!B4: {skipped}", f"Receipts!B3: {skipped}",
        f"Incidents!B3: {skipped}"]
    assert [c.contract_id for c in book.contracts] == ["HT-2026-001"]
    assert [r.receipt_id for r in book.receipts] == ["R001"]


def test_unknown_contract_reference(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Incidents", 2, "contract_id", "HT-1999-001")
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Incidents!B2: 合同编号 'HT-1999-001' is not on the Contracts sheet: add it there "
        "first or correct the ID; row skipped"]


def test_receipt_for_unknown_installment(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 2, "installment_id", "NOPE")
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Receipts!C2: 分期编号 'NOPE' is not on the Installments sheet: correct it or leave it "
        "blank to pay the oldest open installment; row skipped"]


def test_receipt_naming_another_contracts_installment(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 3, "installment_id", "HT-2026-001-2")
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Receipts!C3: 分期编号 'HT-2026-001-2' belongs to contract HT-2026-001, not "
        "HT-2026-002; row skipped"]


def test_end_before_start(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Contracts", 2, "end_date", dt.date(2025, 12, 31))
    book, problems = parse_book(mini_grids)
    assert errors(problems)[0] == (
        "Contracts!G2: 结束日期 2025-12-31 is before 起始日期 2026-01-10: the term must end "
        "after it starts; row skipped")
    assert [c.contract_id for c in book.contracts] == ["HT-2026-002"]


def test_receipts_beyond_schedule_warn_at_the_receipt_that_crosses(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 3, "amount", 250000.0)
    book, problems = parse_book(mini_grids)
    assert messages(problems) == [
        "Receipts!E3: with this receipt, HT-2026-002 has received 250,000.00, 9,999.50 more "
        "than its schedule (240,000.50): check the amount or add the installment"]
    assert problems[0].severity is Severity.WARNING
    assert len(book.receipts) == 2


@pytest.mark.parametrize("code", ["#REF!", "#VALUE!", "#N/A", "#DIV/0!"])
def test_excel_error_values(mini_grids: Grids, code: str) -> None:
    set_cell(mini_grids, "Receipts", 2, "amount", CellError(code))
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        f"Receipts!E2: 金额 contains the Excel error {code}: fix the formula or type the value"]


def test_renamed_required_column(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Installments", 1, "due_date", "到期时间")
    set_cell(mini_grids, "Installments", 1, "amount", "款项")
    book, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Installments!D1: required column 金额 (amount) is missing; is '款项' that column? "
        "restore its header '金额 (amount)'",
        "Receipts: 1 row was not used because the Installments sheet cannot be read (see "
        "the problem reported there)"]
    assert book.installments == ()
    assert [r.receipt_id for r in book.receipts] == ["R002"]  # R001 named an installment


def test_missing_optional_column_is_a_warning(mini_grids: Grids) -> None:
    grid = mini_grids["Installments"]
    index = col(mini_grids, "Installments", "note")
    for line in grid:
        del line[index]
    book, problems = parse_book(mini_grids)
    assert messages(problems) == [
        "Installments!F1: column 说明 (note) is missing; add a column headed '说明 (note)'"]
    assert len(book.installments) == 3


def test_chinese_label_may_be_reworded(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 1, "amount", "实收金额 (amount)")
    book, problems = parse_book(mini_grids)
    assert messages(problems) == []
    assert book.receipts[0].amount == D("30000.00")


def test_missing_sheet(mini_grids: Grids) -> None:
    del mini_grids["Incidents"]
    book, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Incidents: sheet is missing: the workbook needs a sheet named 'Incidents' (故障); "
        "restore it from a backup (.backups/ beside the workbook) or copy it from an empty "
        "workbook made by 'contract-tracker build-workbook --empty --out empty.xlsm'"]
    assert book.incidents == () and len(book.receipts) == 2


def test_wrong_credit_code_check_character_is_a_warning(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Clients", 2, "credit_code", "911100001000080344")
    book, problems = parse_book(mini_grids)
    assert messages(problems) == [
        "Clients!F2: 统一社会信用代码 '911100001000080344' check character is '4' but should "
        "be '3': check for a typo"]
    assert problems[0].severity is Severity.WARNING
    assert len(book.clients) == 2


def test_ids_and_phones_stay_text_with_leading_zeros(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Clients", 2, "phone", "057188886666")
    set_cell(mini_grids, "Clients", 3, "client_id", 1002.0)
    set_cell(mini_grids, "Contracts", 3, "client_id", 1002.0)
    book, problems = parse_book(mini_grids)
    assert messages(problems) == []
    assert book.clients[0].phone == "057188886666"
    assert book.clients[1].client_id == "1002"
    assert book.contracts[1].client_id == "1002"


def test_money_is_decimal_from_the_float_repr(mini_grids: Grids) -> None:
    set_cell(mini_grids, "FeeItems", 2, "amount", 59999.99)
    set_cell(mini_grids, "FeeItems", 3, "amount", 40000.01)
    book, problems = parse_book(mini_grids)
    assert messages(problems) == []
    assert [f.amount for f in book.fee_items[:2]] == [D("59999.99"), D("40000.01")]


def test_more_than_two_decimals_is_rounded_half_up_with_a_warning(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 2, "amount", 29999.995)
    book, problems = parse_book(mini_grids)
    assert messages(problems) == [
        "Receipts!E2: 金额 29999.995 has more than two decimals; 30000.00 is used"]
    assert book.receipts[0].amount == D("30000.00")


def test_enum_accepts_chinese_label_or_key_and_rejects_others(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Contracts", 2, "status", "active")
    set_cell(mini_grids, "Contracts", 3, "status", "进行中")
    book, problems = parse_book(mini_grids)
    status = schema.col_letter([c.key for c in schema.CONTRACTS.columns].index("status"))
    assert errors(problems)[0] == (
        f"Contracts!{status}3: 状态 '进行中' is not one of: 草稿 (draft) / 已发送 (sent) / "
        "已签署 (signed) / 履行中 (active) / 已到期 (expired) / 已终止 (terminated)")
    assert errors(problems)[1] == (
        "FeeItems!A4: 合同编号 'HT-2026-002' was skipped for its own errors (see Contracts "
        "row 3): fix that row first; row skipped")
    assert book.contracts[0].status == "active"


def test_availability_duplicate_month(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Availability", 3, "month", "2026-04")
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Availability!A3: duplicate 合同编号 / 月份 'HT-2026-001 / 2026-04' (first at "
        "Availability!A2): each must be unique; this row is skipped"]


def test_incident_answered_before_reported(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Incidents", 2, "responded_at", "2026-03-01 08:00")
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Incidents!E2: 响应时间 2026-03-01 08:00 is before the report 2026-03-02 09:00; "
        "row skipped"]


def test_settings_bad_value_falls_back_to_default(mini_grids: Grids) -> None:
    grid = mini_grids["Settings"]
    row = next(i for i, line in enumerate(grid) if line[0] == "grace_days")
    grid[row][2] = "三天"
    book, problems = parse_book(mini_grids)
    assert errors(problems) == [
        f"Settings!C{row + 1}: 宽限天数 '三天' is not a whole number; the default is used "
        "instead"]
    assert book.settings.grace_days == 0


def test_all_problems_are_collected_in_one_pass(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 2, "date", "昨天")
    set_cell(mini_grids, "Receipts", 3, "amount", "x")
    set_cell(mini_grids, "Incidents", 3, "severity", "紧急")
    _, problems = parse_book(mini_grids)
    assert [p.sheet + "!" + p.cell for p in problems] == ["Receipts!D2", "Receipts!E3",
                                                           "Incidents!C3"]


@pytest.mark.parametrize("text, expected", [
    ("2026-03-31", dt.date(2026, 3, 31)),
    ("2026/3/31", dt.date(2026, 3, 31)),
    ("2026年3月31日", dt.date(2026, 3, 31)),
    (dt.datetime(2026, 3, 31, 0, 0), dt.date(2026, 3, 31)),
    (46112.0, dt.date(2026, 3, 31)),
])
def test_date_forms(text: Any, expected: dt.date) -> None:
    assert conv_date(text) == expected


def test_datetime_and_month_forms() -> None:
    assert conv_datetime("2026/3/31 14:05") == dt.datetime(2026, 3, 31, 14, 5)
    assert conv_datetime("2026年3月31日 14:05:09") == dt.datetime(2026, 3, 31, 14, 5, 9)
    assert conv_month("2026-03") == dt.date(2026, 3, 1)
    assert conv_month("2026年3月") == dt.date(2026, 3, 1)
    assert conv_month(dt.datetime(2026, 3, 17)) == dt.date(2026, 3, 1)


def test_every_record_type_ends_with_src_so_rows_can_be_built_positionally() -> None:
    from contract_tracker import schema
    from contract_tracker.parse import RECORD_OF

    for table in schema.USER_TABLES:
        cls = RECORD_OF[table.name]
        assert cls._fields[-1] == "src"
        assert set(cls._fields[:-1]) <= {c.key for c in table.columns}, cls


def test_equal_values_are_one_object_and_change_nothing(mini_grids: Grids) -> None:
    """Contract numbers, amounts and dates met again are shared (a third of a large
    book's memory); each row still gets its own value, rounding and source."""
    set_cell(mini_grids, "Receipts", 2, "amount", 20000.005)
    set_cell(mini_grids, "Receipts", 3, "amount", 20000.005)
    book, problems = parse_book(mini_grids)
    assert [str(p) for p in problems] == [
        f"Receipts!E{row}: 金额 20000.005 has more than two decimals; 20000.01 is used"
        for row in (2, 3)]
    first, second = book.receipts
    assert first.amount == second.amount == D("20000.01")
    assert (first.src.row, second.src.row) == (2, 3)
    contract = book.contracts[0].contract_id
    assert all(i.contract_id is contract for i in book.installments
               if i.contract_id == contract)
    due = [i.due_date for i in book.installments]
    assert len({id(d) for d in due}) == len(set(due))


def test_zero_and_minus_zero_stay_apart() -> None:
    from contract_tracker import schema
    from contract_tracker.parse import Shared, _convert_column, converter

    column = schema.RECEIPTS.column("amount")
    shared = Shared()
    values = _convert_column(column, converter(column), [0.0, -0.0, 1.5, 1.5, 0.0], shared)
    assert [str(v) for v in values] == ["0.0", "-0.0", "1.5", "1.5", "0.0"]
    assert values[2] is values[3]


def test_a_problem_in_a_column_whose_header_is_gone_points_at_its_row(mini_grids: Grids) -> None:
    # Found by tests/test_parse_properties.py: 'Settings!2' is no cell a user can go to.
    mini_grids["Settings"][0][col(mini_grids, "Settings", "value")] = None
    _, problems = parse_book(mini_grids)
    required = [p for p in problems if "company_name" in p.message]
    assert required and all(p.cell.startswith("A") and p.cell[1:].isdigit() for p in required)


@pytest.mark.parametrize("typed", ["9999-12-31", dt.date(9999, 12, 31),
                                   dt.datetime(9999, 12, 31, 0, 0), "1900-01-01"])
def test_implausible_dates_are_problems_not_dates(mini_grids: Grids, typed: Any) -> None:
    # Found by tests/test_parse_properties.py: 9999-12-31 as a due date overflowed the engine.
    before = len(parse_book(mini_grids)[0].installments)
    set_cell(mini_grids, "Installments", 2, "due_date", typed)
    book, problems = parse_book(mini_grids)
    p = errors(problems)[0]
    assert p.startswith("Installments!E2: ") and "is not a plausible date" in p
    assert "1990-01-01 to 2099-12-31" in p
    assert len(book.installments) == before - 1  # the row is skipped, the others stay


@pytest.mark.parametrize(("sheet", "key", "typed"), [
    ("Incidents", "reported_at", "9999-12-31 10:00"),
    ("Incidents", "reported_at", dt.datetime(1899, 12, 31, 10, 0)),
    ("Availability", "month", "9999-12"),
])
def test_implausible_moments_and_months_are_problems(mini_grids: Grids, sheet: str, key: str,
                                                     typed: Any) -> None:
    set_cell(mini_grids, sheet, 2, key, typed)
    _, problems = parse_book(mini_grids)
    assert any(p.startswith(f"{sheet}!") and "is not a plausible date" in p
               for p in errors(problems)), errors(problems)


def test_the_first_and_last_plausible_days_are_dates(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Installments", 2, "due_date", dt.date(2099, 12, 31))
    set_cell(mini_grids, "Receipts", 2, "date", "1990-01-01")
    book, problems = parse_book(mini_grids)
    assert not any("plausible" in p for p in errors(problems))
    assert book.installments[0].due_date == dt.date(2099, 12, 31)


@pytest.mark.parametrize(("sheet", "key", "most"), [
    ("Contracts", "renewal_notice_days", schema.MAX_DAYS),
    ("Contracts", "final_days", schema.MAX_DAYS),
    ("Contracts", "confidentiality_years", schema.MAX_YEARS),
    ("Contracts", "late_fee_rate", schema.MAX_DAILY_RATE),
    ("Incidents", "paused_minutes", schema.MAX_PAUSED_MINUTES),
])
def test_counts_and_rates_above_their_maximum_are_refused_at_the_edge(
        mini_grids: Grids, sheet: str, key: str, most: Any) -> None:
    # Found by tests/test_parse_properties.py: a renewal notice of 739,251 days took the
    # Dashboard's notice date out of the calendar.
    set_cell(mini_grids, sheet, 2, key, float(most))
    record = getattr(parse_book(mini_grids)[0], sheet.lower())[0]
    assert getattr(record, key) == most  # exactly the maximum is fine
    set_cell(mini_grids, sheet, 2, key, float(most) + (1 if isinstance(most, int) else 0.001))
    _, problems = parse_book(mini_grids)
    cell = f"{sheet}!{col_letter_of(mini_grids, sheet, key)}2"
    assert any(p.startswith(cell) and f"is more than {most:,}" in p
               for p in errors(problems)), errors(problems)


def test_a_setting_above_its_maximum_falls_back_to_the_default(mini_grids: Grids) -> None:
    row = next(r for r, values in enumerate(mini_grids["Settings"])
               if values[0] == "grace_days")
    mini_grids["Settings"][row][col(mini_grids, "Settings", "value")] = 99999.0
    book, problems = parse_book(mini_grids)
    assert book.settings.grace_days == 0
    assert any("宽限天数 99999 is more than 3,650" in p and "default is used" in p
               for p in messages(problems))


def col_letter_of(grids: Grids, sheet: str, key: str) -> str:
    return schema.col_letter(col(grids, sheet, key))


@pytest.mark.parametrize(("sheet", "key", "serial", "ok"), [
    ("Installments", "due_date", 73050.0, True),  # 2099-12-31
    ("Installments", "due_date", 73051.0, False),  # 2100-01-01
    ("Installments", "due_date", 32874.0, True),  # 1990-01-01
    ("Incidents", "resolved_at", 73050.999, True),  # 2099-12-31 23:58:33
    ("Incidents", "resolved_at", 73050.999999995, False),  # rounds to 2100-01-01 00:00
    ("Availability", "month", 73051.0, False),
])
def test_date_serials_at_the_edges_of_the_plausible_range(
        mini_grids: Grids, sheet: str, key: str, serial: float, ok: bool) -> None:
    # Found in review: 73051 (2100-01-01) passed as a serial, and rows refused by the quick
    # path but accepted by the careful one vanished without a problem.
    before = len(getattr(parse_book(mini_grids)[0], sheet.lower()))
    set_cell(mini_grids, sheet, 2, key, serial)
    book, problems = parse_book(mini_grids)
    kept = len(getattr(book, sheet.lower()))
    mine = [p for p in errors(problems) if p.startswith(f"{sheet}!")]
    if ok:
        assert kept == before and not mine
    else:
        assert kept == before - 1
        assert mine and any(why in mine[0] for why in ("plausible", "is not a date",
                                                       "is not a month")), mine


def test_a_month_of_year_zero_is_a_problem_not_a_crash(mini_grids: Grids) -> None:
    # Found in review: '0000-01' matched the month pattern and dt.date(0, 1, 1) raised.
    set_cell(mini_grids, "Availability", 2, "month", "0000-01")
    _, problems = parse_book(mini_grids)
    assert any(p.startswith("Availability!B2: ") and "'0000-01' is not a month" in p
               for p in errors(problems)), errors(problems)


# --- the 节假日安排 table on the Settings sheet ----------------------------------------


def _holiday_rows(grids: Grids, *rows: tuple[Any, Any, Any, Any]) -> None:
    """Type ``rows`` into the 节假日安排 table (Settings, from column S)."""
    grid = grids["Settings"]
    first = schema.HOLIDAY_TABLE.first_col
    for r, values in enumerate(rows, start=1):
        while len(grid) <= r:
            grid.append([""] * len(grid[0]))
        grid[r][first:first + 4] = list(values)


def test_holiday_rows_parse_with_chinese_kinds(mini_grids: Grids) -> None:
    _holiday_rows(mini_grids, (dt.datetime(2027, 2, 5), dt.datetime(2027, 2, 11), "放假", "春节"),
                  ("2027-02-20", "", "调休上班", ""))
    book, problems = parse_book(mini_grids)
    assert problems == ()
    first, second = book.settings.holidays
    assert (first.day, first.until, first.kind, first.name) == (
        dt.date(2027, 2, 5), dt.date(2027, 2, 11), "rest", "春节")
    assert (second.day, second.until, second.kind, second.last) == (
        dt.date(2027, 2, 20), None, "work", dt.date(2027, 2, 20))
    assert (first.src.ref("day"), second.src.ref("kind")) == ("Settings!S2", "Settings!U3")


def test_a_workbook_without_the_holiday_table_has_no_problem(mini_grids: Grids) -> None:
    """Masters built before the table existed: its headers are simply not there."""
    grid = mini_grids["Settings"]
    first = schema.HOLIDAY_TABLE.first_col
    for line in grid:
        del line[first:]
    book, problems = parse_book(mini_grids)
    assert problems == () and book.settings.holidays == ()


def test_a_holiday_table_missing_a_required_column_says_so(mini_grids: Grids) -> None:
    grid = mini_grids["Settings"]
    grid[0][schema.HOLIDAY_TABLE.first_col + 2] = ""  # the 类型 (kind) header
    _, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Settings!W1: required column 类型 (kind) is missing; add a column headed '类型 (kind)'"]


def test_holiday_ranges_backwards_or_longer_than_a_month_are_refused(mini_grids: Grids) -> None:
    _holiday_rows(mini_grids, ("2027-02-11", "2027-02-05", "放假", ""),
                  ("2027-01-01", "2027-02-01", "放假", ""),  # 32 days
                  ("2027-10-01", "2027-10-31", "rest", ""))  # 31 days: the longest allowed
    book, problems = parse_book(mini_grids)
    assert errors(problems) == [
        "Settings!T2: the range ends (2027-02-05) before it starts (2027-02-11); the row is "
        "ignored: fix one of the dates",
        "Settings!T3: a range of 32 days (2027-01-01 to 2027-02-01) is longer than any holiday "
        "(31 days at most); the row is ignored: check the dates",
    ]
    assert [h.src.row for h in book.settings.holidays] == [4]


def test_holiday_kind_must_be_one_of_the_choices(mini_grids: Grids) -> None:
    _holiday_rows(mini_grids, ("2027-02-05", "", "休息", ""))
    book, problems = parse_book(mini_grids)
    assert len(errors(problems)) == 1 and errors(problems)[0].startswith("Settings!U2: 类型")
    assert book.settings.holidays == ()


def test_a_daily_rate_typed_as_a_percentage_number_is_a_warning(mini_grids: Grids) -> None:
    """Found in review: 0.05 meant as 0.05 % charged 338,400.00 on 144,000.00, silently."""
    set_cell(mini_grids, "Contracts", 2, "late_fee_rate", 0.05)
    book, problems = parse_book(mini_grids)
    (p,) = problems
    assert p.severity is Severity.WARNING and p.sheet == "Contracts" and p.cell.endswith("2")
    assert p.message == (
        "滞纳金日费率 0.05 is 5% a day (1825% a year), far above usual contract rates (万分之五 is "
        "0.0005): if you meant 0.05%, type 0.05% or 0.0005")
    assert book.contracts[0].late_fee_rate == D("0.05")  # kept: a warning, not a guess


@pytest.mark.parametrize(("rate", "warned"), [(0.003, False), (0.0031, True), (0.0005, False)])
def test_the_usual_rate_edge(mini_grids: Grids, rate: float, warned: bool) -> None:
    set_cell(mini_grids, "Contracts", 2, "late_fee_rate", rate)
    _, problems = parse_book(mini_grids)
    assert bool(problems) is warned


def test_the_settings_rate_is_checked_too(mini_grids: Grids) -> None:
    grid = mini_grids["Settings"]
    row = next(i for i, line in enumerate(grid) if line[0] == "late_fee_rate")
    grid[row][2] = 0.05
    _, problems = parse_book(mini_grids)
    (p,) = problems
    assert (p.sheet, p.cell, p.severity) == ("Settings", f"C{row + 1}", Severity.WARNING)
    assert "if you meant 0.05%" in p.message


def test_full_width_ids_are_the_same_ids(mini_grids: Grids) -> None:
    """Found in review: ＨＴ－２０２６－００７ typed on Contracts made every row naming
    HT-2026-007 'not on the Contracts sheet'."""
    clean, _ = parse_book(grids_of(make_mini_book()))
    cid = clean.contracts[0].contract_id
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in cid)
    assert wide != cid
    set_cell(mini_grids, "Contracts", 2, "contract_id", f" {wide} ")
    book, problems = parse_book(mini_grids)
    assert problems == ()
    assert strip_sources(book) == strip_sources(clean)


def test_circled_or_roman_ids_stay_apart_from_plain_ones(mini_grids: Grids) -> None:
    """Only full-width forms are read as ASCII: HT-① is not HT-1 (found in review)."""
    from contract_tracker.parse import conv_id

    assert conv_id("ＨＴ－１") == "HT-1"
    assert conv_id("HT-①") == "HT-①" and conv_id("HT-Ⅱ") == "HT-Ⅱ"


def test_receipt_purpose_reads_its_chinese_label_or_key(mini_grids: Grids) -> None:
    set_cell(mini_grids, "Receipts", 2, "purpose", "滞纳金")
    set_cell(mini_grids, "Receipts", 3, "purpose", "fee_waiver")
    book, problems = parse_book(mini_grids)
    assert [r.purpose for r in book.receipts] == ["late_fee", "fee_waiver"]
    set_cell(mini_grids, "Receipts", 3, "purpose", "违约金")
    book, problems = parse_book(mini_grids)
    purpose = schema.col_letter([c.key for c in schema.RECEIPTS.columns].index("purpose"))
    assert errors(problems) == [
        f"Receipts!{purpose}3: 款项 '违约金' is not one of: 分期款 (installment) / 滞纳金 "
        "(late_fee) / 减免滞纳金 (fee_waiver)"]


def test_a_workbook_without_the_purpose_column_reads_every_receipt_as_paying_installments(
        mini_grids: Grids) -> None:
    # A master built before the column existed: a warning says how to add it; nothing else.
    at = col(mini_grids, "Receipts", "purpose")
    for line in mini_grids["Receipts"]:
        del line[at]
    book, problems = parse_book(mini_grids)
    (missing,) = problems
    assert missing.severity is Severity.WARNING and missing.message == (
        "column 款项 (purpose) is missing; add a column headed '款项 (purpose)'")
    assert [r.purpose for r in book.receipts] == [None, None]
    assert len(book.receipts) == 2


def test_fee_receipts_do_not_count_toward_the_schedule(mini_grids: Grids) -> None:
    # 250,000.00 of late fees received would pass HT-2026-002's 240,000.50 schedule if it
    # paid installments; it pays fees, so no warning.
    set_cell(mini_grids, "Receipts", 3, "amount", 250000.0)
    set_cell(mini_grids, "Receipts", 3, "purpose", "滞纳金")
    _, problems = parse_book(mini_grids)
    assert messages(problems) == []


def _columns_match(book: Book) -> None:
    """The reader's columns of a sheet are its records' fields, row for row, and the
    money cells are those the amounts were converted from."""
    from contract_tracker.money import round_fen, to_decimal
    from contract_tracker.parse import COLUMNS_FOR_THE_ENGINE
    from contract_tracker.records import columns_of, sheet_columns

    assert COLUMNS_FOR_THE_ENGINE == ("Installments", "Receipts", "Incidents")
    for sheet in COLUMNS_FOR_THE_ENGINE:
        rows = getattr(book, sheet.lower())
        fields = columns_of(book, sheet, rows)
        assert fields is not None, sheet
        names = [f for f in type(rows[0])._fields if f != "src"]
        assert sorted(fields) == sorted(names)
        for name in names:
            assert list(fields[name]) == [getattr(r, name) for r in rows], (sheet, name)
        found = sheet_columns(book, sheet, rows)
        assert found is not None
        cells = found.cells
        money = ["amount"] if sheet != "Incidents" else []
        assert list(cells) == money, sheet
        for name in money:
            read = [to_decimal(cell) for cell in cells[name]]
            assert [round_fen(x) if x is not None else None for x in read] == [
                getattr(r, name) for r in rows], sheet
        days = found.days
        dated = {"Installments": ["due_date"], "Receipts": ["date"]}.get(sheet, [])
        assert list(days) == dated, sheet
        for name in dated:
            assert isinstance(days[name], array) and days[name].typecode == "q"
            assert list(days[name]) == [getattr(r, name).toordinal() if getattr(r, name)
                                        else 0 for r in rows], (sheet, name)


def test_the_columns_for_the_engine_are_the_records_fields(mini_grids: Grids) -> None:
    book, _ = parse_book(mini_grids)
    _columns_match(book)


def test_the_money_cells_are_as_the_sheet_held_them(mini_grids: Grids) -> None:
    """The engine gets the cells amounts were read from as they were, a number typed
    with more decimals than a fen or an amount typed as text too (it then uses the
    Decimals)."""
    from contract_tracker.records import sheet_columns

    set_cell(mini_grids, "Receipts", 2, "amount", "1,000.00")
    set_cell(mini_grids, "Receipts", 3, "amount", 250000.005)
    book, problems = parse_book(mini_grids)
    assert any("250000.005 has more than two decimals" in p.message for p in problems)
    found = sheet_columns(book, "Receipts", book.receipts)
    assert found is not None
    cells = found.cells
    assert cells["amount"][:2] == ("1,000.00", 250000.005)
    assert [r.amount for r in book.receipts[:2]] == [D("1000.00"), D("250000.01")]
    _columns_match(book)


def test_numbers_are_packed_for_the_engine_and_anything_else_is_left_as_it_is() -> None:
    from contract_tracker.parse import packed

    floats = packed([1.5, 2.0, 0.1 + 0.2, 3], "d")
    assert isinstance(floats, array) and floats.typecode == "d"
    assert floats.tolist() == [1.5, 2.0, 0.1 + 0.2, 3.0]
    ints = packed([0, -1, 59_999], "q")
    assert isinstance(ints, array) and ints.typecode == "q" and list(ints) == [0, -1, 59_999]
    for values, code in (([1.0, "2.00"], "d"), ([1.0, None], "d"), ([2**63], "q"),
                         ([10**400], "d")):
        assert packed(values, code) is values


@pytest.mark.parametrize("drop", [None, ("Installments", 3, "contract_id", "HT-1999-001")])
def test_amounts_typed_as_numbers_reach_the_engine_packed(
        mini_grids: Grids, drop: tuple[str, int, str, Any] | None) -> None:
    """Amounts of an .xlsx (floats) are handed over packed, row for row with the records
    (also after a check across sheets drops a row); so are the receipts' links."""
    from contract_tracker.records import sheet_columns

    for rows in mini_grids.values():
        for line in rows[1:]:
            line[:] = [float(v) if isinstance(v, D) else v for v in line]
    if drop is not None:
        set_cell(mini_grids, *drop)
    book, _ = parse_book(mini_grids)
    for sheet in ("Installments", "Receipts"):
        rows = getattr(book, sheet.lower())
        found = sheet_columns(book, sheet, rows)
        assert found is not None
        cells = found.cells["amount"]
        assert isinstance(cells, array) and cells.typecode == "d", sheet
        assert [D(repr(x)) for x in cells] == [r.amount for r in rows], sheet
    positions = book.columns["Receipts"].links["installment_id"][1].positions
    assert isinstance(positions, array) and positions.typecode == "q"
    _columns_match(book)
    _link_matches(book)


@pytest.mark.parametrize(("sheet", "row", "key", "value", "why"), [
    ("Installments", 3, "due_date", "2026-13-01", "skipped while reading"),
    ("Installments", 4, "installment_id", "HT-2026-001-1", "a repeated ID, skipped after"),
    ("Receipts", 2, "installment_id", "NOPE", "skipped by a check across sheets"),
    ("Receipts", 3, "amount", "lots", "skipped while reading"),
    ("Incidents", 2, "reported_at", "soon", "skipped while reading"),
    ("Incidents", 3, "contract_id", "HT-NOPE", "skipped by a check across sheets"),
])
def test_the_columns_skip_the_rows_the_records_skip(
        mini_grids: Grids, sheet: str, row: int, key: str, value: Any, why: str) -> None:
    before, _ = parse_book(mini_grids)
    set_cell(mini_grids, sheet, row, key, value)
    book, _ = parse_book(mini_grids)
    rows = getattr(book, sheet.lower())
    assert len(rows) < len(getattr(before, sheet.lower())), why
    _columns_match(book)


def _link_matches(book: Book) -> None:
    """The reader's links from the receipts to the installments they name, and from both
    to their contracts, are the book's."""
    from contract_tracker.parse import LINKS_FOR_THE_ENGINE
    from contract_tracker.records import link_of

    assert len(LINKS_FOR_THE_ENGINE) == 3
    for (sheet, key), parent in LINKS_FOR_THE_ENGINE.items():
        rows, parents = getattr(book, sheet.lower()), getattr(book, parent.lower())
        link = link_of(book, sheet, rows, key, parents)
        assert link is not None, (sheet, key)
        parent_key = type(parents[0])._fields[0]
        assert dict(link.slot) == {getattr(r, parent_key): j for j, r in enumerate(parents)}
        assert list(link.positions) == [
            next(j for j, p in enumerate(parents) if getattr(p, parent_key) == getattr(r, key))
            if getattr(r, key) else -1 for r in rows], (sheet, key)


@pytest.mark.parametrize(("sheet", "row", "key", "value"), [
    ("Receipts", 2, "installment_id", None),  # names none: -1
    ("Receipts", 3, "installment_id", "HT-2026-001-2"),  # another contract's: dropped
    ("Receipts", 2, "installment_id", "NOPE"),  # an unknown one: dropped
    ("Installments", 3, "contract_id", "HT-1999-001"),  # an installment dropped
    ("Installments", 2, "due_date", "never"),  # an installment dropped while reading
    ("Contracts", 3, "end_date", dt.date(2020, 1, 1)),  # a contract dropped, and its rows
    ("Receipts", 2, "contract_id", "HT-1999-001"),  # a receipt of no contract: dropped
])
def test_the_receipts_link_to_the_installments_they_name(
        mini_grids: Grids, sheet: str, row: int, key: str, value: Any) -> None:
    """The reader hands the engine the position of each receipt's installment, worked
    out while checking that it is the receipt's contract's, right after rows are
    dropped before, by and after that check."""
    _link_matches(parse_book(mini_grids)[0])
    set_cell(mini_grids, sheet, row, key, value)
    book, _ = parse_book(mini_grids)
    _link_matches(book)
    assert -1 in book.columns["Receipts"].links["installment_id"][1].positions or value


def test_the_link_does_not_apply_to_other_records(mini_grids: Grids) -> None:
    from dataclasses import replace

    from contract_tracker.records import link_of

    book, _ = parse_book(mini_grids)
    assert link_of(book, "Receipts", book.receipts, "installment_id",
                   book.installments) is not None
    fewer = replace(book, installments=book.installments[1:])
    assert link_of(fewer, "Receipts", fewer.receipts, "installment_id",
                   fewer.installments) is None
    other = replace(book, receipts=book.receipts[1:])
    assert link_of(other, "Receipts", other.receipts, "installment_id",
                   other.installments) is None


def test_columns_do_not_apply_to_other_records(mini_grids: Grids) -> None:
    """A book made from another with other records (dataclasses.replace) keeps the
    reader's columns, which no longer describe its records: they are not used."""
    from dataclasses import replace

    from contract_tracker.records import columns_of

    book, _ = parse_book(mini_grids)
    other = replace(book, receipts=book.receipts[:1])
    assert columns_of(other, "Receipts", other.receipts) is None
    assert columns_of(other, "Installments", other.installments) is not None
    assert other == replace(book, receipts=book.receipts[:1], columns={})


def test_a_book_with_the_readers_columns_pickles(mini_grids: Grids) -> None:
    """The columns handed to the engine (packed arrays, links) keep a Book picklable,
    as it was before they existed (found in review: a memoryview did not pickle)."""
    import pickle

    for rows in mini_grids.values():
        for line in rows[1:]:
            line[:] = [float(v) if isinstance(v, D) else v for v in line]
    book, _ = parse_book(mini_grids)
    again = pickle.loads(pickle.dumps(book))
    assert again == book
    assert again.columns["Receipts"].cells["amount"] == book.columns["Receipts"].cells["amount"]
    assert list(again.columns["Receipts"].links["installment_id"][1].positions) == list(
        book.columns["Receipts"].links["installment_id"][1].positions)
