"""contract_tracker.money: implausible amounts are rejected at their cell, never a crash.

A money cell holding 1E+300 used to pass the reader and crash validation (Decimal's
28-digit context cannot round it to the fen): "contract-tracker failed", no cell named.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from contract_tracker import schema
from contract_tracker.money import MAX_AMOUNT, fmt_money_grouped, implausible, to_decimal
from contract_tracker.parse import parse_book
from contract_tracker.records import Severity

from .conftest import grids_of, make_mini_book

NUMBER_KINDS = (schema.Kind.MONEY, schema.Kind.DECIMAL, schema.Kind.PERCENT, schema.Kind.INT)
NUMBER_COLUMNS = [(table, column) for table in schema.USER_TABLES for column in table.columns
                  if column.kind in NUMBER_KINDS]
TOO_LARGE = "is too large to be an amount or count (10^15 or more): check the cell for a " \
            "typing slip"


def test_implausible_numbers() -> None:
    assert implausible(D("999999999999999.99")) is None
    assert implausible(D("0")) is None
    assert implausible(MAX_AMOUNT) == TOO_LARGE
    assert implausible(D("1E+300")) == TOO_LARGE
    assert implausible(D("-1E+300")) == TOO_LARGE
    assert implausible(D("Infinity")) == "is not a finite number"
    assert implausible(D("NaN")) == "is not a finite number"
    assert fmt_money_grouped(D("999999999999999.99")) == "999,999,999,999,999.99"
    assert to_decimal(1e300) == D("1E+300")  # converted, then judged by implausible


def test_every_number_column_is_covered() -> None:
    money = {(t.name, c.key) for t, c in NUMBER_COLUMNS if c.kind is schema.Kind.MONEY}
    assert money == {("tblContracts", "total_fee"), ("tblContracts", "prepayment"),
                     ("tblContracts", "monthly_fee"), ("tblFeeItems", "amount"),
                     ("tblInstallments", "amount"), ("tblReceipts", "amount")}


def _set(grids: dict[str, list[list[Any]]], table: schema.Table, key: str, value: Any) -> str:
    """Put ``value`` in row 2 of ``table``'s column ``key``; returns the cell's name."""
    index = table.first_col + [c.key for c in table.columns].index(key)
    grids[table.sheet][1][index] = value
    return f"{table.sheet}!{schema.col_letter(index)}2"


_RECORDS = {"tblSlaPenalties": "sla_penalties", "tblCreditTiers": "credit_tiers",
            "tblAgeing": "ageing"}


def _count(book: Any, table: schema.Table) -> int:
    if table.name in _RECORDS:
        return len(getattr(book.settings, _RECORDS[table.name]))
    from contract_tracker.build import _RECORDS as DATA

    return len(getattr(book, DATA[table.name]))


@pytest.mark.parametrize("value", [1e300, "1E+300", 1e15, 10**20, "¥2,000,000,000,000,000"])
@pytest.mark.parametrize(("table", "column"), NUMBER_COLUMNS,
                         ids=[f"{t.sheet}.{c.key}" for t, c in NUMBER_COLUMNS])
def test_a_huge_number_is_an_error_at_its_cell_and_the_row_is_skipped(
        table: schema.Table, column: schema.Column, value: Any) -> None:
    grids = grids_of(make_mini_book())
    clean, _ = parse_book(grids)
    cell = _set(grids, table, column.key, value)
    book, problems = parse_book(grids)  # no InvalidOperation, no OverflowError
    errors = [str(p) for p in problems if p.severity is Severity.ERROR and
              f"{p.sheet}!{p.cell}" == cell]
    assert len(errors) == 1, [str(p) for p in problems]
    assert errors[0].startswith(f"{cell}: {column.zh} ")
    assert errors[0].endswith(TOO_LARGE)
    assert _count(book, table) == _count(clean, table) - 1


def test_the_receipts_amount_of_the_report() -> None:
    """The reported case: Receipts!E2 = 1E+300."""
    grids = grids_of(make_mini_book())
    cell = _set(grids, schema.RECEIPTS, "amount", 1e300)
    book, problems = parse_book(grids)
    assert cell == "Receipts!E2"
    assert [str(p) for p in problems if p.severity is Severity.ERROR] == [
        f"Receipts!E2: 金额 1E+300 {TOO_LARGE}"]
    assert [r.receipt_id for r in book.receipts] == ["R002"]


@pytest.mark.parametrize("key", ["late_fee_rate", "grace_days", "sla_response_hours",
                                 "availability_target", "backups_kept"])
def test_a_huge_setting_falls_back_to_its_default(key: str) -> None:
    grids = grids_of(make_mini_book())
    row = next(r for r in grids["Settings"][1:] if r[0] == key)
    row[2] = 1e300
    book, problems = parse_book(grids)
    definition = schema.setting(key)
    number = [r[0] for r in grids["Settings"]].index(key) + 1  # the Excel row
    assert [str(p) for p in problems if p.severity is Severity.ERROR] == [
        f"Settings!C{number}: {definition.zh} 1E+300 {TOO_LARGE}; the default is used instead"]
    from contract_tracker.records import Settings

    assert getattr(book.settings, key) == getattr(Settings(), key)


@pytest.mark.parametrize(("text", "number"), [
    ("45,000.00", "45000.00"), ("1,234,567.89", "1234567.89"), ("-1,234", "-1234"),
    ("４５，０００．００", "45000.00"), ("￥45,000", "45000"), ("¥ 45000元整", "45000"),
    ("45000 元", "45000"), ("１０００元", "1000"), ("5%", "0.05"), ("５％", "0.05"),
    ("0.05%", "0.0005"), ("4.5e4", "4.5E+4"),
])
def test_text_amounts_as_people_type_them(text: str, number: str) -> None:
    got = to_decimal(text)
    assert got is not None and got == D(number)


@pytest.mark.parametrize("text", ["90000,00", "4,50,00", "45,0000", "45.000,00", "1,23",
                                  ",5", "4.5万", "45000元元", "1,234,"])
def test_a_comma_that_does_not_group_thousands_is_not_a_number(text: str) -> None:
    """Found in review: commas were dropped, so 90000,00 (a decimal comma) was read as
    9,000,000.00 and the letter demanded a hundred times the amount."""
    assert to_decimal(text) is None


def test_a_decimal_comma_is_an_error_at_its_cell_saying_what_to_do() -> None:
    grids = grids_of(make_mini_book())
    sheet = grids["Installments"]
    amount = next(i for i, h in enumerate(sheet[0]) if str(h).endswith("(amount)"))
    sheet[1][amount] = "90000,00"
    book, problems = parse_book(grids)
    (p,) = [p for p in problems if p.sheet == "Installments"]
    assert p.severity is Severity.ERROR and p.cell.endswith("2")
    assert "'90000,00' is not a number: a comma may only group thousands" in p.message
    assert all(i.amount != D("9000000") for i in book.installments)


@pytest.mark.parametrize("text", ["5²", "①②③", "Ⅻ", "4⁵"])
def test_only_full_width_forms_become_ascii_not_every_compatibility_character(
        text: str) -> None:
    """Found in review: NFKC read 5² as 52 and ①②③ as 123."""
    assert to_decimal(text) is None


@pytest.mark.parametrize(("text", "hint"), [
    ("45,000.00 RMB", "without words or units"), ("45,000元/月", "without words or units"),
    ("90000,00", "a comma may only group thousands"), ("4.5万", "45000 for 4.5万"),
])
def test_the_hint_names_what_is_wrong(text: str, hint: str) -> None:
    from contract_tracker.money import number_hint

    assert to_decimal(text) is None and hint in number_hint(text)
