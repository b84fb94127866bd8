"""Immutable records read from the master workbook, and the problems found in it.

Every record carries ``src``: the sheet and row it came from, and where each of its
columns sits, so any later stage can point at the exact cell (``Receipts!E17``).
Row records are NamedTuples (immutable, and cheap to build by the hundred thousand, as
in beancount); the one-per-workbook ``Settings`` and ``Book`` are frozen dataclasses.
Collections of records are tuples. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any, NamedTuple


class Severity(str, Enum):
    ERROR = "error"  # the row (or the file) is skipped
    WARNING = "warning"  # the row is used; the user should look


class Source(NamedTuple):
    """Where a record came from: sheet, 1-based Excel row, and its columns' letters."""

    sheet: str
    row: int
    columns: tuple[tuple[str, str], ...] = ()

    def cell(self, key: str | None = None) -> str:
        """``'D17'`` for column key ``due_date``; the row's first cell in its table
        (``'A17'``, ``'F17'`` for a table that starts in F) when the column is not on the
        sheet (its header is missing), so a reference always leads somewhere; ``''`` for a
        record that came from no row."""
        if self.row <= 0:
            return ""
        if key is not None:
            for k, letter in self.columns:
                if k == key:
                    return f"{letter}{self.row}"
        return f"{self.columns[0][1] if self.columns else 'A'}{self.row}"

    def ref(self, key: str | None = None) -> str:
        """``'Installments!E5'``; ``''`` for a record that came from no sheet."""
        return f"{self.sheet}!{self.cell(key)}" if self.sheet else ""


NO_SOURCE = Source("", 0)


class Problem(NamedTuple):
    """One thing wrong in the input, located to its cell, with what to do about it."""

    sheet: str  # sheet name, or the file's name for file-level problems
    cell: str  # "D17", "D1" for a header, "" for the whole sheet or file
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.cell else self.sheet
        return f"{where}: {self.message}"

    @classmethod
    def at(cls, src: Source, key: str | None, message: str,
           severity: Severity = Severity.ERROR) -> Problem:
        return cls(src.sheet, src.cell(key), message, severity)


Problems = tuple[Problem, ...]


class SlaPenaltyRule(NamedTuple):
    schedule: str
    breach: str  # response | solution | major
    mode: str  # fixed | percent
    value: Decimal
    src: Source = NO_SOURCE


class CreditTier(NamedTuple):
    schedule: str
    below: Decimal  # availability strictly below this ...
    credit_pct: Decimal  # ... earns this share of the monthly fee
    src: Source = NO_SOURCE


class AgeingBucket(NamedTuple):
    label: str
    from_days: int
    to_days: int | None  # None: open-ended
    src: Source = NO_SOURCE

    def holds(self, days: int) -> bool:
        return days >= self.from_days and (self.to_days is None or days <= self.to_days)


class HolidayRule(NamedTuple):
    """Days of the State Council's holiday arrangement typed by the user, for a year the
    installed ``chinesecalendar`` does not cover yet: ``day`` .. ``until`` are rest days
    (``kind`` "rest") or make-up working days ("work")."""

    day: dt.date
    until: dt.date | None  # None: the one day
    kind: str  # rest | work
    name: str | None
    src: Source = NO_SOURCE

    @property
    def last(self) -> dt.date:
        return self.day if self.until is None else self.until


@dataclass(frozen=True, slots=True)
class Settings:
    company_name: str = ""
    company_legal_rep: str = ""
    company_address: str = ""
    company_phone: str = ""
    company_credit_code: str = ""
    bank_account_name: str = ""
    bank_name: str = ""
    bank_account_no: str = ""
    late_fee_rate: Decimal = Decimal("0.0005")
    grace_days: int = 0
    late_fee_cap_pct: Decimal | None = None
    move_due_off_rest_days: bool = True
    sla_response_hours: Decimal = Decimal("2")
    sla_solution_hours: Decimal = Decimal("4")
    sla_major_hours: Decimal = Decimal("24")
    availability_target: Decimal = Decimal("0.999")
    sla_clock: str = "24x7"
    work_day_start: int = 9
    work_day_end: int = 18
    sla_schedule: str = "STD"
    sla_monthly_cap_pct: Decimal = Decimal("0.3")
    due_soon_days: int = 7
    dunning_final_from: int = 0  # never, until the user chooses: a final notice threatens suit
    output_folder: str = "output"
    language: str = "zh"
    lpr_one_year: Decimal = Decimal("0.03")
    backups_kept: int = 5
    sla_penalties: tuple[SlaPenaltyRule, ...] = ()
    credit_tiers: tuple[CreditTier, ...] = ()
    ageing: tuple[AgeingBucket, ...] = ()
    holidays: tuple[HolidayRule, ...] = ()
    src: Source = field(default=NO_SOURCE, repr=False)
    rows: tuple[tuple[str, Source], ...] = field(default=(), repr=False)  # key -> its row

    def source_of(self, key: str) -> Source:
        for k, s in self.rows:
            if k == key:
                return s
        return self.src


class Client(NamedTuple):
    client_id: str
    name: str
    legal_rep: str
    address: str
    phone: str
    credit_code: str
    contact: str | None = None
    email: str | None = None
    account_manager: str = ""
    manager_email: str | None = None
    src: Source = NO_SOURCE


class Contract(NamedTuple):
    contract_id: str
    client_id: str
    signing_date: dt.date
    start_date: dt.date
    end_date: dt.date
    total_fee: Decimal
    status: str
    title: str | None = None
    signing_place: str | None = None
    prepayment: Decimal | None = None
    prepay_days: int | None = None
    prepay_day_type: str | None = None  # calendar | working
    final_days: int | None = None
    final_day_type: str | None = None
    renewal_notice_days: int | None = None
    confidentiality_years: int | None = None
    service_items: str | None = None
    late_fee_rate: Decimal | None = None
    grace_days: int | None = None
    late_fee_cap_pct: Decimal | None = None
    late_fee_exempt: bool | None = None
    move_due_off_rest_days: bool | None = None
    sla_response_hours: Decimal | None = None
    sla_solution_hours: Decimal | None = None
    sla_major_hours: Decimal | None = None
    availability_target: Decimal | None = None
    sla_clock: str | None = None
    work_day_start: int | None = None
    work_day_end: int | None = None
    sla_schedule: str | None = None
    sla_monthly_cap_pct: Decimal | None = None
    monthly_fee: Decimal | None = None
    language: str | None = None
    notes: str | None = None
    src: Source = NO_SOURCE


class FeeItem(NamedTuple):
    contract_id: str
    item: str
    amount: Decimal
    note: str | None = None
    src: Source = NO_SOURCE


class Installment(NamedTuple):
    installment_id: str
    contract_id: str
    kind: str  # prepayment | progress | final
    amount: Decimal
    due_date: dt.date | None = None  # None: from the contract's rule for this kind
    note: str | None = None
    src: Source = NO_SOURCE


class Receipt(NamedTuple):
    receipt_id: str
    contract_id: str
    date: dt.date
    amount: Decimal
    installment_id: str | None = None
    note: str | None = None
    purpose: str | None = None  # None or "installment"; "late_fee" / "fee_waiver": settles fees
    src: Source = NO_SOURCE


class Incident(NamedTuple):
    incident_id: str
    contract_id: str
    severity: str  # normal | major
    reported_at: dt.datetime
    responded_at: dt.datetime | None = None
    solution_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    paused_minutes: int | None = None
    description: str | None = None
    src: Source = NO_SOURCE


class AvailabilityMonth(NamedTuple):
    contract_id: str
    month: dt.date  # first day of the month
    downtime_minutes: Decimal
    maintenance_minutes: Decimal | None = None
    note: str | None = None
    src: Source = NO_SOURCE


class Link(NamedTuple):
    """The rows of one sheet that the rows of another name by ID: ``slot[id]`` is the
    position of the row with that ID, ``positions[j]`` that of the row the j-th row
    names (-1: it names none), packed in an array of 64-bit integers. Worked out once by
    the reader, which checks the names; never changed after."""

    slot: Mapping[str, int]
    positions: Sequence[int]


class SheetColumns(NamedTuple):
    """A sheet's records field by field, as the reader converted them: ``fields[name][j]``
    is ``rows[j].name``. They describe the very tuple ``rows`` and no other (a Book made
    with other records, by ``dataclasses.replace`` say, has columns that do not apply:
    :func:`columns_of` checks by identity)."""

    rows: tuple[Any, ...]
    fields: Mapping[str, Sequence[Any]]
    # money field -> the cells it was converted from, as the sheet held them (a typed
    # number is a float): ``cells[name][j]`` became ``rows[j].name`` through
    # ``money.to_decimal``, rounded to the fen (with a warning) when it had more decimals;
    # packed (``parse.packed``) in an array of floats when every cell is a number
    cells: Mapping[str, Sequence[object]]
    # date field -> each row's day ordinal (``date.toordinal``, 0 for none), packed
    days: Mapping[str, Sequence[int]]
    # ID field -> (the rows it names, as the book holds them; their Link)
    links: Mapping[str, tuple[tuple[Any, ...], Link]]


@dataclass(frozen=True, slots=True)
class Book:
    """Everything read from one master workbook."""

    settings: Settings = field(default_factory=Settings)
    clients: tuple[Client, ...] = ()
    contracts: tuple[Contract, ...] = ()
    fee_items: tuple[FeeItem, ...] = ()
    installments: tuple[Installment, ...] = ()
    receipts: tuple[Receipt, ...] = ()
    incidents: tuple[Incident, ...] = ()
    availability: tuple[AvailabilityMonth, ...] = ()
    schema_version: int | None = None
    # sheet name -> its records field by field, from the reader (the engine reads whole
    # columns without touching each record); not part of the book's value
    columns: Mapping[str, SheetColumns] = field(default_factory=dict, compare=False,
                                                repr=False)


def sheet_columns(book: Book, sheet: str, rows: tuple[Any, ...]) -> SheetColumns | None:
    """The reader's columns of ``sheet`` when they are those of ``rows``, else None."""
    found = book.columns.get(sheet)
    return found if found is not None and found.rows is rows else None


def columns_of(book: Book, sheet: str, rows: tuple[Any, ...]
               ) -> Mapping[str, Sequence[Any]] | None:
    """The reader's fields of ``rows`` (see :func:`sheet_columns`), or None."""
    found = sheet_columns(book, sheet, rows)
    return None if found is None else found.fields


def field_columns(book: Book, sheet: str, rows: tuple[Any, ...]
                  ) -> Callable[[str], Sequence[Any]]:
    """A field of ``rows`` as a column: the reader's when it has one (no record is
    touched), else read off the records."""
    found = columns_of(book, sheet, rows) or {}

    def column(name: str) -> Sequence[Any]:
        got = found.get(name)
        return list(map(attrgetter(name), rows)) if got is None else got
    return column


def link_of(book: Book, sheet: str, rows: tuple[Any, ...], name: str,
            named: tuple[Any, ...]) -> Link | None:
    """Which of ``named`` each of ``rows`` names by its field ``name``, as the reader
    found it, when those are the very rows it found it for; else None."""
    found = sheet_columns(book, sheet, rows)
    link = None if found is None else found.links.get(name)
    return link[1] if link is not None and link[0] is named else None
