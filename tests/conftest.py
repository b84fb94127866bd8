"""Shared fixtures: a small hand-made book, its grids, and workbooks built from them."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from contract_tracker import schema
from contract_tracker.build import book_rows, build_workbook
from contract_tracker.records import (
    AgeingBucket,
    AvailabilityMonth,
    Book,
    Client,
    Contract,
    CreditTier,
    FeeItem,
    Incident,
    Installment,
    Receipt,
    Settings,
    SlaPenaltyRule,
)


def make_mini_book() -> Book:
    settings = Settings(
        company_name="上海云维信息技术有限公司", company_legal_rep="王强",
        company_address="上海市浦东新区张江路88号", company_phone="021-58880000",
        company_credit_code="91350100M000100Y43", bank_account_name="上海云维信息技术有限公司",
        bank_name="招商银行上海张江支行", bank_account_no="0121000088886666",
        sla_penalties=(SlaPenaltyRule("STD", "response", "fixed", D("500")),
                       SlaPenaltyRule("STD", "major", "percent", D("0.05"))),
        credit_tiers=(CreditTier("STD", D("0.999"), D("0.05")),),
        ageing=(AgeingBucket("1-30", 1, 30), AgeingBucket(">30", 31, None)),
    )
    clients = (
        Client("C001", "杭州优品电子商务有限公司", "李明", "杭州市西湖区文三路1号", "0571-88886666",
               "911100001000080343", "张三", "zhang@youpin.example", "赵经理",
               "zhao@yunwei.example"),
        Client("C002", "R&D <Ltd> 商贸有限公司", "陈红", "深圳市南山区科技园", "13800138000",
               "91110000100017643K", None, None, "钱经理", None),
    )
    contracts = (
        Contract("HT-2026-001", "C001", dt.date(2026, 1, 5), dt.date(2026, 1, 10),
                 dt.date(2026, 12, 31), D("100000.00"), "active", prepayment=D("30000.00"),
                 prepay_days=10, prepay_day_type="working", final_days=30,
                 renewal_notice_days=30, confidentiality_years=3),
        Contract("HT-2026-002", "C002", dt.date(2026, 2, 1), dt.date(2026, 2, 1),
                 dt.date(2027, 1, 31), D("240000.50"), "signed", final_days=15,
                 renewal_notice_days=60, confidentiality_years=2, late_fee_exempt=True,
                 sla_clock="working_hours", language="en"),
    )
    fee_items = (
        FeeItem("HT-2026-001", "平台维护费", D("60000.00")),
        FeeItem("HT-2026-001", "功能开发费", D("40000.00")),
        FeeItem("HT-2026-002", "平台维护费", D("240000.50")),
    )
    installments = (
        Installment("HT-2026-001-1", "HT-2026-001", "prepayment", D("30000.00")),
        Installment("HT-2026-001-2", "HT-2026-001", "final", D("70000.00")),
        Installment("HT-2026-002-1", "HT-2026-002", "progress", D("240000.50"),
                    dt.date(2026, 3, 31)),
    )
    receipts = (
        Receipt("R001", "HT-2026-001", dt.date(2026, 1, 20), D("30000.00"), "HT-2026-001-1"),
        Receipt("R002", "HT-2026-002", dt.date(2026, 4, 10), D("100000.00")),
    )
    incidents = (
        Incident("I001", "HT-2026-001", "normal", dt.datetime(2026, 3, 2, 9, 0),
                 dt.datetime(2026, 3, 2, 11, 0), dt.datetime(2026, 3, 2, 13, 0),
                 dt.datetime(2026, 3, 2, 18, 0), 15, "支付接口超时"),
        Incident("I002", "HT-2026-002", "major", dt.datetime(2026, 4, 1, 22, 30)),
    )
    availability = (
        AvailabilityMonth("HT-2026-001", dt.date(2026, 4, 1), D("43.2")),
        AvailabilityMonth("HT-2026-001", dt.date(2026, 5, 1), D("50"), D("120")),
    )
    return Book(settings, clients, contracts, fee_items, installments, receipts, incidents,
                availability)


@pytest.fixture
def mini_book() -> Book:
    return make_mini_book()


def grids_of(book: Book) -> dict[str, list[list[Any]]]:
    """The grids a reader would return for ``book`` (header row + values, as typed)."""
    rows = book_rows(book)
    grids: dict[str, list[list[Any]]] = {}
    for sheet in schema.USER_SHEETS:
        tables = schema.tables_on(sheet)
        width = max(t.first_col + len(t.columns) for t in tables)
        height = 1 + max(len(rows[t.name]) for t in tables)
        grid: list[list[Any]] = [[""] * width for _ in range(height)]
        for t in tables:
            for i, c in enumerate(t.columns):
                grid[0][t.first_col + i] = c.header
            for r, values in enumerate(rows[t.name], start=1):
                for i, v in enumerate(values):
                    grid[r][t.first_col + i] = "" if v is None else v
        grids[sheet] = grid
    return grids


@pytest.fixture
def mini_grids(mini_book: Book) -> dict[str, list[list[Any]]]:
    return grids_of(mini_book)


_BUILT: dict[str, Path] = {}


@pytest.fixture
def mini_workbook(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the master workbook built from the mini book."""
    if "mini" not in _BUILT:
        _BUILT["mini"] = build_workbook(
            make_mini_book(), tmp_path_factory.mktemp("built") / "contracts.xlsm")
    target = tmp_path / "contracts.xlsm"
    shutil.copyfile(_BUILT["mini"], target)
    return target


def strip_sources(book: Book) -> Book:
    """The book with every record's src cleared, for comparing content only."""
    import dataclasses

    from contract_tracker.records import NO_SOURCE

    def clean(items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(x._replace(src=NO_SOURCE) for x in items)

    s = book.settings
    settings = dataclasses.replace(
        s, src=NO_SOURCE, rows=(), sla_penalties=clean(s.sla_penalties),
        credit_tiers=clean(s.credit_tiers), ageing=clean(s.ageing))
    return Book(settings, clean(book.clients), clean(book.contracts), clean(book.fee_items),
                clean(book.installments), clean(book.receipts), clean(book.incidents),
                clean(book.availability), book.schema_version)
