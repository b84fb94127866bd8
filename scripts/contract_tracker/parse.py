"""Raw cell values -> typed records, with every problem located to its cell.

This is the validating half of reading a workbook, kept pure: it takes the values of
each sheet as a grid (whatever reader produced them) and returns ``(Book, problems)``.
A row with an error is skipped and reported; good rows go on. Checks run in one pass
per sheet, then across sheets (references, sums, duplicates); ``VALIDATORS`` lists the
cross-sheet checks in one place, and each runs as soon as the sheets it needs are parsed
(while a reader may still be reading the others), with the result of running them last.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
import operator
import re
from array import array
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple, cast

from . import schema
from .creditcode import credit_code_problem
from .money import (
    MAX_AMOUNT_FLOAT,
    ZERO,
    ascii_forms,
    fmt_money_grouped,
    implausible,
    number_hint,
    round_fen,
    to_decimal,
)
from .records import (
    AgeingBucket,
    AvailabilityMonth,
    Book,
    Client,
    Contract,
    CreditTier,
    FeeItem,
    HolidayRule,
    Incident,
    Installment,
    Link,
    Problem,
    Receipt,
    Settings,
    Severity,
    SheetColumns,
    SlaPenaltyRule,
    Source,
)
from .schema import Column, Kind, Table, col_letter

Grid = Sequence[Sequence[object]]
"""A sheet's values by row: ``grid[0]`` is Excel row 1, ``grid[r][0]`` column A."""


@dataclass(frozen=True, slots=True)
class Columns:
    """A sheet's values by column, as a reader of whole columns hands them over:
    ``header`` is Excel row 1, ``columns[i][j]`` the cell of column i in Excel row j + 2;
    every column has ``height`` cells, a blank one ``""`` (as a row :data:`Grid` holds
    it). Not a tuple, so that no code reads it as rows by mistake."""

    header: list[object]
    columns: list[list[object]]
    height: int

    def rows(self) -> list[list[object]]:
        """The same values as a row :data:`Grid`."""
        return [self.header, *map(list, zip(*self.columns, strict=True))] if self.columns \
            else [self.header, *([] for _ in range(self.height))]


SheetGrid = Grid | Columns
"""A sheet as a reader hands it to :func:`parse_book`: by row or by column."""


W = Severity.WARNING


class CellError(NamedTuple):
    """An Excel error value (``#REF!``, ``#N/A`` ...) found in a cell."""

    code: str


class Bad(Exception):
    """A cell that cannot be converted; carries the message for the Problem."""


class Implausible(Bad):
    """A date of the right form but outside the plausible years (a typing slip)."""


# --- cell conversion ----------------------------------------------------------------

_DATE_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_DATETIME_RE = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s+|T)(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?\s*$"
)
_MONTH_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_TRUE = {"true", "yes", "y", "1", "是", "对", "√", "x"}
_FALSE = {"false", "no", "n", "0", "否", "不", ""}


def _from_serial(value: float) -> dt.datetime:
    if not 32874 <= value < 73051:  # 1990-01-01 .. 2099-12-31 (73051 is 2100-01-01)
        raise Bad(f"{value!r} is not a date")
    return _EXCEL_EPOCH + dt.timedelta(days=value)


_FIRST_MOMENT = dt.datetime.combine(schema.FIRST_DAY, dt.time())
_END_OF_LAST_DAY = dt.datetime.combine(schema.LAST_DAY, dt.time.max)
_DATE_RANGE = f"dates run from {schema.FIRST_DAY} to {schema.LAST_DAY}"


def _in_range(day: dt.date) -> dt.date:
    if not schema.FIRST_DAY <= day <= schema.LAST_DAY:
        raise Implausible(f"'{day}' is not a plausible date ({_DATE_RANGE}): check the year")
    return day


def _moment_in_range(moment: dt.datetime) -> dt.datetime:
    if not _FIRST_MOMENT <= moment <= _END_OF_LAST_DAY:
        raise Implausible(f"'{moment:%Y-%m-%d %H:%M}' is not a plausible date "
                          f"({_DATE_RANGE}): check the year")
    return moment


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_AMOUNT_FLOAT:
        return str(int(value))
    return str(value)


def _ascii_forms_id(text: str) -> str:
    """Full-width letters, digits and signs as their ASCII forms, trimmed (only those:
    HT-① stays HT-①, not HT-1)."""
    return ascii_forms(text).strip()


def conv_id(value: object) -> str:
    if isinstance(value, (bool, dt.date)):
        raise Bad(f"{_show(value)!r} is not an ID or code: type it as text")
    if isinstance(value, float):
        if not value.is_integer():
            raise Bad(f"{value!r} is not an ID or code: format the cell as text")
        return str(int(value))
    text = str(value)
    return text.strip() if text.isascii() else _ascii_forms_id(text)


def conv_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_AMOUNT_FLOAT:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def conv_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return _in_range(value.date())
    if isinstance(value, dt.date):
        return _in_range(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _in_range(_from_serial(float(value)).date())
    if isinstance(value, str):
        m = _DATE_RE.match(value)
        if m:
            try:
                day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
            else:
                return _in_range(day)
    raise Bad(f"'{_show(value)}' is not a date: use yyyy-mm-dd, e.g. 2026-03-31")


def conv_datetime(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return _moment_in_range(value.replace(microsecond=0))
    if isinstance(value, dt.date):
        return dt.datetime.combine(_in_range(value), dt.time())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = _from_serial(float(value))
        return _moment_in_range((moment + dt.timedelta(milliseconds=500)).replace(microsecond=0))
    if isinstance(value, str):
        m = _DATETIME_RE.match(value)
        if m:
            try:
                moment = dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]),
                                     int(m[6] or 0))
            except ValueError:
                pass
            else:
                return _moment_in_range(moment)
        if _DATE_RE.match(value):
            d = conv_date(value)
            return dt.datetime(d.year, d.month, d.day)
    raise Bad(f"'{_show(value)}' is not a date and time: use yyyy-mm-dd hh:mm")


def conv_month(value: object) -> dt.date:
    if isinstance(value, str):
        m = _MONTH_RE.match(value)
        if m and 1 <= int(m[2]) <= 12:
            try:
                first = dt.date(int(m[1]), int(m[2]), 1)
            except ValueError:  # year 0
                raise Bad(f"'{_show(value)}' is not a month: use yyyy-mm, e.g. 2026-03") from None
            return _in_range(first)
    try:
        return conv_date(value).replace(day=1)
    except Implausible:
        raise
    except Bad:
        raise Bad(f"'{_show(value)}' is not a month: use yyyy-mm, e.g. 2026-03") from None


def conv_decimal(value: object) -> Decimal:
    number = to_decimal(value)
    if number is None:
        raise Bad(f"'{_show(value)}' is not a number{number_hint(value)}")
    if number < 0:
        raise Bad(f"{_show(value)} is negative: amounts and counts must be 0 or more")
    if (why := implausible(number)) is not None:
        raise Bad(f"{number} {why}")
    return number


def conv_money(value: object) -> Decimal:
    return conv_decimal(value)


def conv_percent(value: object) -> Decimal:
    number = conv_decimal(value)
    if number > 1:
        raise Bad(f"{_show(value)} is more than 100 %: type a percentage such as 99.9% or 0.999")
    return number


def conv_int(value: object) -> int:
    number = to_decimal(value)
    if number is None or number != number.to_integral_value():
        raise Bad(f"'{_show(value)}' is not a whole number")
    if number < 0:
        raise Bad(f"{_show(value)} is negative: must be 0 or more")
    if (why := implausible(number)) is not None:
        raise Bad(f"{number} {why}")
    return int(number)


def conv_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _show(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Bad(f"'{_show(value)}' is not yes or no: use 是 or 否")


def _conv_enum(column: Column) -> Callable[[object], str]:
    allowed = " / ".join(f"{c.zh} ({c.key})" for c in column.choices)

    def conv(value: object) -> str:
        key = schema.choice_key(column.choices, _show(value))
        if key is None:
            raise Bad(f"'{_show(value)}' is not one of: {allowed}")
        return key

    return conv


_CONVERTERS: dict[Kind, Callable[[object], Any]] = {
    Kind.ID: conv_id,
    Kind.TEXT: conv_text,
    Kind.DATE: conv_date,
    Kind.DATETIME: conv_datetime,
    Kind.MONTH: conv_month,
    Kind.MONEY: conv_money,
    Kind.DECIMAL: conv_decimal,
    Kind.PERCENT: conv_percent,
    Kind.INT: conv_int,
    Kind.BOOL: conv_bool,
}


def converter(column: Column) -> Callable[[object], Any]:
    if column.kind is Kind.ENUM:
        return _conv_enum(column)
    conv = _CONVERTERS[column.kind]
    if column.maximum is None:
        return conv
    return functools.partial(_at_most, conv, column.maximum)


def _at_most(conv: Callable[[object], Any], maximum: int | Decimal, value: object) -> Any:
    number = conv(value)
    if number > maximum:
        raise Bad(f"{_show(value)} is more than {maximum:,}, the most that makes sense "
                  "here: check the cell for a typing slip")
    return number


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- one table ------------------------------------------------------------------------


class SettingRow(NamedTuple):
    """One row of the key / value Settings table."""

    key: str
    label: str | None
    value: Any
    note: str | None
    src: Source


RECORD_OF: dict[str, type[Any]] = {
    schema.SETTINGS_TABLE.name: SettingRow,
    schema.SLA_PENALTY_TABLE.name: SlaPenaltyRule,
    schema.CREDIT_TIER_TABLE.name: CreditTier,
    schema.AGEING_TABLE.name: AgeingBucket,
    schema.HOLIDAY_TABLE.name: HolidayRule,
    schema.CLIENTS.name: Client,
    schema.CONTRACTS.name: Contract,
    schema.FEE_ITEMS.name: FeeItem,
    schema.INSTALLMENTS.name: Installment,
    schema.RECEIPTS.name: Receipt,
    schema.INCIDENTS.name: Incident,
    schema.AVAILABILITY.name: AvailabilityMonth,
}
"""The record each table's rows become; its fields are the table's column keys."""

Row = Any  # a record of RECORD_OF: every field a column key, plus ``src``


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f for f in cls._fields if f != "src")


def _region(table: Table) -> tuple[int, int | None]:
    """Columns [start, stop) that may hold this table's headers on its sheet."""
    starts = sorted(t.first_col for t in schema.tables_on(table.sheet))
    later = [s for s in starts if s > table.first_col]
    return table.first_col, (later[0] - 1 if later else None)


def _locate_columns(table: Table, header: Sequence[object]) -> tuple[dict[str, int], list[Problem]]:
    problems: list[Problem] = []
    start, stop = _region(table)
    stop = len(header) if stop is None else min(stop, len(header))
    known = {c.key for c in table.columns}
    found: dict[str, int] = {}
    strangers: list[tuple[int, str]] = []
    for index in range(start, stop):
        text = header[index]
        if is_blank(text):
            continue
        key = schema.header_key(text)
        cell = f"{col_letter(index)}1"
        if key in known:
            if key in found:
                problems.append(Problem(table.sheet, cell, (
                    f"column {table.column(key).header} appears twice (first in "
                    f"{col_letter(found[key])}1): delete or rename one")))
            else:
                found[key] = index
        else:
            strangers.append((index, str(text)))
    for column in table.columns:
        if column.key in found:
            continue
        if strangers:
            index, text = strangers[0]
            where = f"{col_letter(index)}1"
            hint = f"; is '{text}' that column? restore its header '{column.header}'"
        else:
            where = f"{col_letter(stop if stop > start else start)}1"
            hint = f"; add a column headed '{column.header}'"
        severity = Severity.ERROR if column.required else W
        what = "required column" if column.required else "column"
        problems.append(Problem(table.sheet, where, f"{what} {column.header} is missing{hint}",
                                severity))
    claimed = {i for i, _ in strangers[:1]} if any(
        c.key not in found for c in table.columns) else set()
    for index, text in strangers:
        if index not in claimed:
            problems.append(Problem(table.sheet, f"{col_letter(index)}1", (
                f"column '{text}' is not part of table {table.zh}; it is ignored "
                f"(headers end with the English key in brackets, e.g. "
                f"'{table.columns[0].header}')"), W))
    return found, problems


class TableRead(NamedTuple):
    rows: list[Row]
    problems: list[Problem]
    rejected: dict[str, Source]  # key of each row skipped for its own errors -> its row
    usable: bool  # False: the sheet or a required column is missing
    fields: Mapping[str, list[Any]] = MappingProxyType({})  # field -> values, as ``rows``
    cells: Mapping[str, Sequence[Any]] = MappingProxyType({})  # money field -> its cells (packed)
    days: Mapping[str, Sequence[int]] = MappingProxyType({})  # date field -> ordinals (packed)


class Shared:
    """Equal cell values met again become one object: the book of a large workbook holds
    each contract number, amount and date once, not once per row that names it (the
    large sample's book shrinks by about a third, and a cached amount is not converted
    again). One per book; values are immutable, so sharing them is invisible."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.dates: dict[dt.date, dt.date] = {}
        self.decimals = _DecimalOf()
        self.ordinals = _OrdinalOf()
        self._rows: list[int] = []

    def row_numbers(self, n: int) -> list[int]:
        """Excel row numbers 2 .. n + 1 (the same int objects for every sheet)."""
        if len(self._rows) < n:
            self._rows.extend(range(len(self._rows) + 2, n + 2))
        return self._rows[:n]


class _OrdinalOf(dict[Any, int]):
    """date -> its day ordinal (None -> 0), each worked out once."""

    def __missing__(self, day: dt.date | None) -> int:
        number = self[day] = 0 if day is None else day.toordinal()
        return number


class _DecimalOf(dict[float, Decimal]):
    """float -> its Decimal (through repr, as to_decimal converts), each made once."""

    def __missing__(self, value: float) -> Decimal:
        number = self[value] = Decimal(repr(value))
        return number


def read_table(table: Table, grid: SheetGrid | None, shared: Shared | None = None,
               engine: bool = False) -> TableRead:
    """Convert one table's rows; rows with errors are reported and left out. ``engine``:
    hand over what the engine reads in one go too (``TableRead.cells`` and ``.days``)."""
    if grid is None:
        return TableRead([], [Problem(table.sheet, "", (
            f"sheet is missing: the workbook needs a sheet named '{table.sheet}' "
            f"({schema.SHEET_ZH.get(table.sheet, '')}); restore it from a backup (.backups/ "
            f"beside the workbook) or copy it from an empty workbook made by "
            f"'contract-tracker build-workbook --empty --out empty.xlsm'"))], {}, False)
    if not grid:
        return TableRead([], [Problem(table.sheet, "A1", f"sheet is empty: the header row of "
                                      f"{table.zh} is missing")], {}, False)
    found, problems = _locate_columns(table, grid.header if isinstance(grid, Columns)
                                      else grid[0])
    if any(p.severity is Severity.ERROR for p in problems):
        return TableRead([], problems, {}, False)
    key_column = table.columns[0] if table.columns[0].unique else None
    rejected: dict[str, Source] = {}
    letters = tuple((key, col_letter(i)) for key, i in found.items())
    plan = [(c, found[c.key], converter(c)) for c in table.columns if c.key in found]
    width = max(i for _, i, _ in plan) + 1
    column_of = _column_reader(grid, width)
    height = grid.height if isinstance(grid, Columns) else len(grid) - 1
    # Column by column: most cells take the fast path; a flagged cell is re-read slowly
    # to say what is wrong with it.
    raw_columns = [column_of(i) for _, i, _ in plan]
    shared = shared or Shared()
    columns = [_convert_column(c, conv, raw, shared) for (c, _, conv), raw in
               zip(plan, raw_columns, strict=True)]
    flagged = {j for col in columns if _holds(col, _BAD) for j, v in enumerate(col)
               if v is _BAD}
    for n, (column, _, _) in enumerate(plan):
        if column.required and _holds(columns[n], None):
            flagged.update(j for j, v in enumerate(columns[n]) if v is None)
        if column.kind is Kind.MONEY:
            problems.extend(_round_money(table, column, columns[n], letters))
        elif column.key.endswith("phone"):
            problems.extend(Problem(table.sheet, f"{dict(letters)[column.key]}{j + 2}", why, W)
                            for j, v in enumerate(raw_columns[n])
                            if (why := _phone_typed_as_number(column.zh, v)))
    first, last = min(i for _, i, _ in plan), width
    # any() is a fast test for "not blank"; a row of only zeros / blanks is checked exactly.
    at = {i: n for n, (_, i, _) in enumerate(plan)}
    region = [raw_columns[at[i]] if i in at else column_of(i) for i in range(first, last)]
    blank = {j for j, filled in enumerate(map(any, zip(*region, strict=True))) if not filled
             and all(v == "" or v is None for v in (c[j] for c in region))}
    # Fields the record has but the sheet lacks (an optional column) stay None.
    positions = {c.key: n for n, (c, _, _) in enumerate(plan)}
    columns.append([None] * height)
    cls = RECORD_OF[table.name]
    sheet = table.sheet
    # tuple.__new__ builds a NamedTuple without its Python-level __new__: every field is
    # given. The records are zipped from their columns (in field order, the source last)
    # at C speed; this runs once per row of the largest sheets.
    new = functools.partial(tuple.__new__, cls)
    sources = list(map(functools.partial(tuple.__new__, Source), zip(
        itertools.repeat(sheet), shared.row_numbers(height), itertools.repeat(letters))))
    fields = [columns[positions.get(f, len(plan))] for f in _field_names(cls)]
    records: list[Row] = list(map(new, zip(*fields, sources, strict=True)))
    # the cells amounts came from, for the engine's fen (floats it can convert in one go)
    cells: dict[str, Sequence[Any]] = {
        c.key: raw for (c, _, _), raw in zip(plan, raw_columns, strict=True)
        if engine and c.kind is Kind.MONEY}
    if flagged or blank:
        for j in sorted(flagged - blank):
            src = sources[j]
            raws = [raw[j] for raw in raw_columns]
            row_problems = _row_problems(plan, raws, src)
            if not row_problems:
                if all(map(is_blank, raws)):  # whitespace-only cells: a blank row after all
                    blank.add(j)
                    continue
                # The quick path refused a cell the careful one accepts: never drop a row
                # without saying so.
                bad = next((c for (c, _, _), col in zip(plan, columns, strict=False)
                            if col[j] is _BAD), None)
                row_problems = [Problem.at(src, bad.key if bad else None, (
                    f"{bad.zh if bad else 'this row'} could not be read; the row is skipped: "
                    "retype the value"))]
            problems.extend(row_problems)
            key = columns[0][j] if key_column is not None else None
            if isinstance(key, str) and key:
                rejected.setdefault(key, src)
        skipped = flagged | blank
        kept = [j for j in range(height) if j not in skipped]
        records = list(map(records.__getitem__, kept))
        fields = [list(map(column.__getitem__, kept)) for column in fields]
        cells = {key: list(map(raw.__getitem__, kept)) for key, raw in cells.items()}
    by_name = dict(zip(_field_names(cls), fields, strict=False))
    ordinal = shared.ordinals.__getitem__
    return TableRead(records, problems, rejected, True, by_name,
                     {key: packed(raw, "d") for key, raw in cells.items()},
                     {c.key: packed(list(map(ordinal, by_name[c.key])), "q")
                      for c, _, _ in plan if engine and c.kind is Kind.DATE})


def _column_reader(grid: SheetGrid, width: int) -> Callable[[int], list[Any]]:
    """Column i of the grid's body as a list (nobody changes it); the cells past a short
    row are None."""
    if isinstance(grid, Columns):
        cols = grid.columns
        return lambda i: cols[i] if i < len(cols) else [None] * grid.height
    body = grid[1:]
    if body and min(map(len, body)) < width:
        body = [[*line, *([None] * (width - len(line)))] for line in body]
    return lambda i: list(map(itemgetter(i), body))


def packed(values: Sequence[Any], typecode: str) -> Sequence[Any]:
    """``values`` as an array of machine numbers (``array`` typecode ``d``: floats, ``q``:
    64-bit integers) when every one converts, else as they are: the engine reads such an
    array in one go, without touching a Python object per value. Nothing changes it once
    made (an array, not a memoryview, so that a Book still pickles)."""
    try:
        return array(typecode, values)
    except (TypeError, OverflowError):  # text, a blank, a figure past the machine's
        return values


def _holds(values: list[Any], marker: object) -> bool:
    """Whether ``marker`` itself is among ``values`` (by identity: ``in`` would compare,
    and a Decimal compared with another type asks the numbers ABCs, slowly)."""
    return any(map(operator.is_, values, itertools.repeat(marker)))


def _round_money(table: Table, column: Column, values: list[Any],
                 letters: tuple[tuple[str, str], ...]) -> list[Problem]:
    """Round amounts typed with more than two decimals half-up, with a warning each."""
    found: list[Problem] = []
    # equal amounts share one Decimal (see Shared): each distinct one is checked once
    distinct = {id(v): v for v in values if v.__class__ is Decimal}
    many = {key for key, v in distinct.items() if v.as_tuple().exponent < -2}  # type: ignore[operator]
    if not many:
        return found
    for j, v in enumerate(values):
        if id(v) in many:
            values[j] = round_fen(v)
            found.append(Problem(table.sheet, f"{dict(letters)[column.key]}{j + 2}", (
                f"{column.zh} {v} has more than two decimals; {values[j]} is used"), W))
    return found


def _phone_typed_as_number(label: str, value: object) -> str | None:
    """A warning for a phone number stored as a number (its leading 0 is gone), unless
    it is a mobile number (11 digits starting with 1)."""
    if value.__class__ is not float and value.__class__ is not int:
        return None
    shown = _show(value)
    if len(shown) == 11 and shown.startswith("1") and shown.isdigit():
        return None
    return (f"{label} {shown} was typed as a number, so a leading 0 (0571…) may have been "
            f"lost: format the cell as text (or type ' first, e.g. '0571-88886666) and "
            f"retype it")


_BAD = object()
"""A cell the fast path could not convert; its message comes from the slow path."""

_DATE, _DATETIME, _FLOAT, _STR = dt.date, dt.datetime, float, str


def _convert_column(column: Column, conv: Callable[[object], Any],
                    raw: Sequence[object], shared: Shared | None = None) -> list[Any]:
    """Convert one column, with the commonest cell type of each kind inlined; texts,
    amounts and dates met before are taken from ``shared``."""
    kind = column.kind
    shared = shared or Shared()
    if kind is Kind.ID:
        # Full-width letters and digits (ＨＴ－２０２６) are the same ID to the user: read as
        # ASCII, as amounts and dates are (found in review).
        text = shared.texts.setdefault
        return [(text(t, t) if (t := v.strip() if v.isascii() else _ascii_forms_id(v)) else None)
                if v.__class__ is _STR else _fast(conv, v) for v in raw]
    if kind is Kind.TEXT:
        text = shared.texts.setdefault
        return [(text(t, t) if (t := v.strip()) else None) if v.__class__ is _STR
                else _fast(conv, v) for v in raw]
    if (kind is Kind.MONEY or kind is Kind.DECIMAL) and column.maximum is None:
        # 0.0 and -0.0 are one key but two Decimals: zero is converted each time
        number = shared.decimals
        return [(number[v] if v else Decimal(repr(v)))
                if v.__class__ is _FLOAT and 0 <= v < MAX_AMOUNT_FLOAT
                else _fast(conv, v) for v in raw]
    if kind is Kind.DATE:
        day = shared.dates.setdefault
        days = [day(v, v) if v.__class__ is _DATE else
                day(d, d) if v.__class__ is _DATETIME and (d := v.date()) else _fast(conv, v)
                for v in raw]
        return _out_of_range_bad(days, _DATE, schema.FIRST_DAY, schema.LAST_DAY)
    if kind is Kind.DATETIME:
        moments = [v if v.__class__ is _DATETIME and not v.microsecond else _fast(conv, v)
                   for v in raw]
        return _out_of_range_bad(moments, _DATETIME, _FIRST_MOMENT, _END_OF_LAST_DAY)
    if kind is Kind.ENUM:
        lookup = {ch.zh: ch.key for ch in column.choices}
        lookup.update({ch.key: ch.key for ch in column.choices})
        return [lookup.get(v) or _fast(conv, v) if v.__class__ is _STR else _fast(conv, v)
                for v in raw]
    return [_fast(conv, v) for v in raw]


def _out_of_range_bad(values: list[Any], cls: type, low: Any, high: Any) -> list[Any]:
    """``values`` with the dates the quick path took unchecked marked ``_BAD`` when they
    lie outside ``low`` .. ``high`` (the row's problem then says so). Whole-column min and
    max first: the check costs next to nothing when every date is plausible."""
    present = cast(list[dt.date], [v for v in values if v.__class__ is cls])
    if not present or (low <= min(present) and max(present) <= high):
        return values
    return [_BAD if v.__class__ is cls and not low <= v <= high else v for v in values]


def _fast(conv: Callable[[object], Any], value: object) -> Any:
    """The converted cell, None for a blank one, ``_BAD`` for one with a problem."""
    if value is None or value == "":
        return None
    try:
        converted = conv(value)
    except Bad:
        return _BAD
    if type(value) is CellError:
        return _BAD
    return None if converted == "" else converted


def _row_problems(plan: list[tuple[Column, int, Callable[[object], Any]]],
                  raws: list[object], src: Source) -> list[Problem]:
    """What is wrong with each cell of a flagged row, in column order."""
    found: list[Problem] = []
    blank_row = True
    for (column, _, conv), raw in zip(plan, raws, strict=True):
        if isinstance(raw, CellError):
            found.append(Problem.at(src, column.key, (
                f"{column.zh} contains the Excel error {raw.code}: fix the formula or type "
                "the value")))
            blank_row = False
        elif is_blank(raw):
            if column.required:
                found.append(Problem.at(src, column.key, f"{column.zh} is required but empty"))
        else:
            blank_row = False
            try:
                conv(raw)
            except Bad as bad:
                found.append(Problem.at(src, column.key, f"{column.zh} {bad}"))
    return [] if blank_row else found


def _unique(table: Table, rows: list[Row], problems: list[Problem],
            keys: tuple[str, ...] | None = None) -> list[Row]:
    """Drop rows repeating a unique key; the first occurrence wins."""
    keys = keys or tuple(c.key for c in table.columns if c.unique)
    if not keys:
        return rows
    if len(set(map(attrgetter(*keys), rows))) == len(rows):
        return rows  # no key repeats (a set of them, not a loop over the rows)
    seen: dict[tuple[object, ...], Source] = {}
    kept: list[Row] = []
    for row in rows:
        k = tuple(getattr(row, key) for key in keys)
        first = seen.get(k)
        if first is not None:
            label = " / ".join(table.column(key).zh for key in keys)
            shown = " / ".join(_show(v.isoformat()[:7] if isinstance(v, dt.date) else v)
                               for v in k)
            problems.append(Problem.at(row.src, keys[0], (
                f"duplicate {label} '{shown}' (first at {first.ref(keys[0])}): "
                f"each must be unique; this row is skipped")))
            continue
        seen[k] = row.src
        kept.append(row)
    return kept


# --- settings -----------------------------------------------------------------------


def _parse_settings(grids: Mapping[str, SheetGrid], problems: list[Problem]) -> Settings:
    grid = grids.get("Settings")
    read = read_table(schema.SETTINGS_TABLE, grid)
    problems.extend(read.problems)
    rows = _unique(schema.SETTINGS_TABLE, read.rows, problems)
    values: dict[str, Any] = {}
    sources: list[tuple[str, Source]] = []
    by_key = {s.key: s for s in schema.SETTINGS}
    for row in rows:
        key = row.key
        definition = by_key.get(key)
        if definition is None:
            problems.append(Problem.at(row.src, "key", (
                f"'{key}' is not a known setting; it is ignored"), W))
            continue
        sources.append((key, row.src))
        raw = row.value
        if raw is None:
            continue
        column = Column(key, definition.zh, definition.kind, choices=definition.choices,
                        maximum=definition.maximum)
        try:
            values[key] = converter(column)(raw)
        except Bad as bad:
            problems.append(Problem.at(row.src, "value", (
                f"{definition.zh} {bad}; the default is used instead")))
    if grid is not None:
        for definition in schema.SETTINGS:
            if definition.required and definition.key not in values:
                where = dict(sources).get(definition.key)
                problems.append(Problem(
                    "Settings", where.cell("value") if where else "",
                    f"{definition.zh} ({definition.key}) is required: contracts and letters "
                    "print it", W))
    rate = values.get("late_fee_rate")
    if isinstance(rate, Decimal) and (why := rate_warning(rate)):
        problems.append(Problem.at(dict(sources)["late_fee_rate"], "value", why, W))
    defaults = Settings()
    for key, value in list(values.items()):
        if isinstance(getattr(defaults, key), Decimal) and isinstance(value, int):
            values[key] = Decimal(value)

    penalties: list[SlaPenaltyRule] = _table_rows(schema.SLA_PENALTY_TABLE, grid, problems)
    for rule in penalties:
        if rule.mode == "percent" and rule.value > 1:
            problems.append(Problem.at(rule.src, "value", (
                f"a percentage penalty of {rule.value} is more than 100 % of the monthly fee: "
                "type 0.05 for 5 %"), W))
    tiers: list[CreditTier] = _table_rows(schema.CREDIT_TIER_TABLE, grid, problems)
    ageing: list[AgeingBucket] = _table_rows(schema.AGEING_TABLE, grid, problems)
    for bucket in ageing:
        if bucket.to_days is not None and bucket.to_days < bucket.from_days:
            problems.append(Problem.at(bucket.src, "to_days", (
                f"bucket {bucket.label} ends ({bucket.to_days}) before it starts "
                f"({bucket.from_days})")))
    ageing = sorted((b for b in ageing if b.to_days is None or b.to_days >= b.from_days),
                    key=lambda b: b.from_days)
    for before, after in itertools.pairwise(ageing):
        if before.to_days is None or after.from_days != before.to_days + 1:
            problems.append(Problem.at(after.src, "from_days", (
                f"bucket {after.label} should start the day after {before.label} ends "
                f"({'open end' if before.to_days is None else before.to_days + 1}): buckets "
                "must not overlap or leave gaps"), W))
    holidays = [h for h in _table_rows(schema.HOLIDAY_TABLE, grid, problems, optional=True)
                if _holiday_ok(h, problems)]
    return Settings(**values, sla_penalties=tuple(penalties), credit_tiers=tuple(tiers),
                    ageing=tuple(ageing), holidays=tuple(holidays), rows=tuple(sources),
                    src=Source("Settings", 1))


def _table_rows(table: Table, grid: SheetGrid | None, problems: list[Problem],
                optional: bool = False) -> list[Row]:
    """The rows of a side table of the Settings sheet. An ``optional`` table none of
    whose headers is there (a workbook built before the table existed) has no rows."""
    if grid is None:
        return []  # the missing sheet is reported once, by the settings table
    if optional:
        start, stop = _region(table)
        header = grid.header if isinstance(grid, Columns) else grid[0] if grid else []
        if all(is_blank(v) for v in header[start:stop]):
            return []
    read = read_table(table, grid)
    problems.extend(read.problems)
    return read.rows


MAX_HOLIDAY_RANGE_DAYS = 31
"""Longer ranges are typing slips: the longest break in a State Council notice is 9 days."""


def _holiday_ok(rule: HolidayRule, problems: list[Problem]) -> bool:
    """A range that ends before it starts, or runs for more than a month, is refused."""
    if rule.until is None:
        return True
    days = (rule.until - rule.day).days + 1
    if days < 1:
        problems.append(Problem.at(rule.src, "until", (
            f"the range ends ({rule.until}) before it starts ({rule.day}); the row is "
            "ignored: fix one of the dates")))
        return False
    if days > MAX_HOLIDAY_RANGE_DAYS:
        problems.append(Problem.at(rule.src, "until", (
            f"a range of {days} days ({rule.day} to {rule.until}) is longer than any "
            f"holiday ({MAX_HOLIDAY_RANGE_DAYS} days at most); the row is ignored: check "
            "the dates")))
        return False
    return True


# --- the whole book -------------------------------------------------------------------


def parse_book(grids: Mapping[str, SheetGrid], schema_version: int | None = None
               ) -> tuple[Book, tuple[Problem, ...]]:
    """Every user-owned table of a workbook, validated: ``(book, problems)``."""
    problems: list[Problem] = []
    settings = _parse_settings(grids, problems)
    tables: dict[str, list[Row]] = {}
    reads: dict[str, TableRead] = {}
    shared = Shared()  # one contract number, amount or date object however often it recurs
    month_repeats: list[Problem] = []
    checks = _Checks(_Context(tables, problems, reads))
    for table in schema.DATA_TABLES:
        # grids.get waits while the reader reads this sheet: the checks the sheets before
        # it made ready have run by then
        read = reads[table.sheet] = read_table(table, grids.get(table.sheet), shared,
                                               engine=table.sheet in COLUMNS_FOR_THE_ENGINE)
        problems.extend(read.problems)
        tables[table.sheet] = _unique(table, read.rows, problems)
        if table is schema.AVAILABILITY:
            tables[table.sheet] = _unique(table, tables[table.sheet], month_repeats,
                                          ("contract_id", "month"))
        checks.run_ready(table.sheet)
    problems.extend(month_repeats)
    problems.extend(checks.finish())
    ctx = checks.ctx
    rows = {t.sheet: tuple(ctx.rows(t.sheet)) for t in schema.DATA_TABLES}
    columns = {sheet: SheetColumns(rows[sheet], *_kept_fields(reads[sheet], rows[sheet]), {})
               for sheet in COLUMNS_FOR_THE_ENGINE if reads[sheet].usable}
    for (sheet, key), parent in LINKS_FOR_THE_ENGINE.items():
        if sheet in columns and reads[parent].usable:  # the checks' own (unless rows dropped)
            columns[sheet] = columns[sheet]._replace(links={
                **columns[sheet].links, key: (rows[parent], ctx.link(sheet, key, parent))})
    book = Book(
        settings=settings,
        clients=rows["Clients"],
        contracts=rows["Contracts"],
        fee_items=rows["FeeItems"],
        installments=rows["Installments"],
        receipts=rows["Receipts"],
        incidents=rows["Incidents"],
        availability=rows["Availability"],
        schema_version=schema_version,
        columns=columns,
    )
    return book, tuple(problems)


COLUMNS_FOR_THE_ENGINE = ("Installments", "Receipts", "Incidents")
"""The sheets whose records the engine reads by whole columns (``Book.columns``)."""
LINKS_FOR_THE_ENGINE = {
    ("Installments", "contract_id"): "Contracts",
    ("Receipts", "contract_id"): "Contracts",
    ("Receipts", "installment_id"): "Installments",
}
"""The IDs whose rows the checks find by position for the engine (``SheetColumns.links``)."""


def _table(sheet: str) -> Table:
    return next(t for t in schema.DATA_TABLES if t.sheet == sheet)


def _kept_fields(read: TableRead, rows: tuple[Row, ...]) -> tuple[
        dict[str, Sequence[Any]], dict[str, Sequence[Any]], dict[str, Sequence[Any]]]:
    """The fields, money cells and day ordinals of ``read`` for the rows of it that were
    kept (checks after reading drop rows, never reorder or change them)."""
    def kept(values: Sequence[Any]) -> Sequence[Any]:
        if isinstance(values, array):  # packed: stays packed
            return values if at is None else array(values.typecode,
                                                   map(values.__getitem__, at))
        return tuple(values) if at is None else tuple(map(values.__getitem__, at))

    at = None
    if len(rows) != len(read.rows):
        ids = {id(r) for r in rows}
        at = [j for j, r in enumerate(read.rows) if id(r) in ids]
    return ({name: kept(values) for name, values in read.fields.items()},
            {name: kept(values) for name, values in read.cells.items()},
            {name: kept(values) for name, values in read.days.items()})


class Check(NamedTuple):
    """A cross-sheet check: the sheets it looks at (their rows, or what reading them
    found: ``ctx.reads``, whose ``rejected`` ``ctx.keep`` adds to), and those it may drop
    rows from (``ctx.keep``), so that it runs only when it sees what it would see last."""

    run: Callable[[_Context], None]
    reads: frozenset[str]
    drops: frozenset[str] = frozenset()


class _Context:
    """Rows per sheet while cross-sheet checks run; a check may drop rows."""

    def __init__(self, tables: dict[str, list[Row]], problems: list[Problem],
                 reads: dict[str, TableRead]) -> None:
        self.tables = tables
        self.problems = problems
        self.reads = reads
        # (sheet, key) -> (the parent's rows, the sheet's rows, which parent row each
        # names): worked out by the checks, handed to the engine (records.Link)
        self.links: dict[tuple[str, str], tuple[list[Row], list[Row], Link]] = {}

    def rows(self, sheet: str) -> list[Row]:
        return self.tables[sheet]

    def link(self, sheet: str, key: str, parent: str) -> Link:
        """Which row of ``parent`` each row of ``sheet`` names by ``key`` (its position,
        -1 for none or an unknown ID), for the rows as they are now: worked out once while
        neither sheet loses a row. The parent's keys are unique by now (``_unique``)."""
        rows, parents = self.tables[sheet], self.tables[parent]
        found = self.links.get((sheet, key))
        if found is not None and found[0] is parents and found[1] is rows:
            return found[2]
        ids = self.column(parent, _table(parent).columns[0].key)
        slot = dict(zip(ids, range(len(ids)), strict=True))
        link = Link(slot, packed(list(map(slot.get, self.column(sheet, key),
                                          itertools.repeat(-1))), "q"))
        self.links[(sheet, key)] = (parents, rows, link)
        return link

    def column(self, sheet: str, name: str) -> Sequence[Any]:
        """A field of the sheet's rows: the reader's column while no row read has been
        dropped (checks only drop rows), else read off the rows."""
        rows, read = self.tables[sheet], self.reads[sheet]
        if len(rows) == len(read.rows) and name in read.fields:
            return read.fields[name]
        return list(map(attrgetter(name), rows))

    def keep(self, sheet: str, predicate: Callable[[Row], bool]) -> None:
        """Drop the rows failing ``predicate``; their keys count as skipped rows."""
        kept: list[Row] = []
        key = _table(sheet).columns[0]
        rejected = self.reads[sheet].rejected
        for row in self.tables[sheet]:
            if predicate(row):
                kept.append(row)
            elif key.unique:
                rejected.setdefault(getattr(row, key.key), row.src)
        if len(kept) != len(self.tables[sheet]):  # the same list while no row is dropped
            self.tables[sheet] = kept

    def report(self, row: Row, key: str, message: str, severity: Severity = Severity.ERROR
               ) -> None:
        self.problems.append(Problem.at(row.src, key, message, severity))


def _check_credit_codes(ctx: _Context) -> None:
    for row in ctx.rows("Clients"):
        code = row.credit_code
        problem = credit_code_problem(code)
        if problem:
            ctx.report(row, "credit_code", f"统一社会信用代码 '{code}' {problem}", W)
        email = row.email
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            ctx.report(row, "email", f"联系人邮箱 '{email}' is not an e-mail address", W)


def rate_warning(rate: Decimal) -> str | None:
    """Why a daily late-fee rate looks like a slip (0.05 typed for 0.05 %), or None."""
    if rate <= schema.USUAL_DAILY_RATE_MAX:
        return None
    def plain(x: Decimal) -> str:
        return f"{x.normalize():f}"

    return (f"滞纳金日费率 {plain(rate)} is {plain(rate * 100)}% a day ({plain(rate * 36500)}% "
            f"a year), far above usual contract rates (万分之五 is 0.0005): if you meant "
            f"{plain(rate)}%, type {plain(rate)}% or {plain(rate / 100)}")


def _check_rates(ctx: _Context) -> None:
    for row in ctx.rows("Contracts"):
        if row.late_fee_rate is not None and (why := rate_warning(row.late_fee_rate)):
            ctx.report(row, "late_fee_rate", why, W)


def _check_contract_dates(ctx: _Context) -> None:
    def good(row: Row) -> bool:
        v = row
        if v.end_date < v.start_date:
            ctx.report(row, "end_date", (
                f"结束日期 {v.end_date} is before 起始日期 {v.start_date}: "
                "the term must end after it starts; row skipped"))
            return False
        prepayment = v.prepayment
        if prepayment is not None and prepayment > v.total_fee:
            ctx.report(row, "prepayment", (
                f"预付款 {fmt_money_grouped(prepayment)} is more than the total fee "
                f"{fmt_money_grouped(v.total_fee)}; row skipped"))
            return False
        return True

    ctx.keep("Contracts", good)
    for row in ctx.rows("Contracts"):
        items = row.service_items
        if items and not re.fullmatch(r"\s*[1-8](\s*[,，、]\s*[1-8])*\s*", items):
            ctx.report(row, "service_items", (
                f"服务内容 '{items}' should list item numbers 1-8 of clause 1.1, "
                "e.g. 1,2,7,8; all eight are assumed"), W)


def _check_reference(ctx: _Context, sheet: str, key: str, parent: str,
                     owner_of: Callable[[str], str | None] | None = None) -> None:
    """Drop rows of ``sheet`` whose ``key`` names no good row of ``parent``.

    A parent skipped for its own errors is named with its row; when the whole parent
    sheet is unusable, its dependants are dropped with one summary, not one per row.
    """
    parent_key = _table(parent).columns[0].key
    if (sheet, key) in LINKS_FOR_THE_ENGINE:
        # each row's parent row by position (kept for the engine): -1 only for no name
        if ctx.link(sheet, key, parent).positions.count(-1) == ctx.column(sheet, key).count(None):
            return
    else:
        named = set(ctx.column(sheet, key))
        named.discard(None)
        if named <= set(ctx.column(parent, parent_key)):
            return  # every row names a good parent row (a set test, not a call per row)
    good = set(ctx.column(parent, parent_key))
    read = ctx.reads[parent]
    label = _table(sheet).column(key).zh
    dropped = 0

    def keep(row: Row) -> bool:
        nonlocal dropped
        named = getattr(row, key)
        if named is None or named in good:
            return True
        if not read.usable:
            dropped += 1
            return False
        skipped = read.rejected.get(named)
        if skipped is not None:
            ctx.report(row, key, (
                f"{label} '{named}' was skipped for its own errors (see {parent} row "
                f"{skipped.row}): fix that row first; row skipped"))
        elif parent == "Installments":
            ctx.report(row, key, (
                f"{label} '{named}' is not on the Installments sheet: correct it or leave it "
                "blank to pay the oldest open installment; row skipped"))
        else:
            ctx.report(row, key, (
                f"{label} '{named}' is not on the {parent} sheet: add it there first or "
                "correct the ID; row skipped"))
        return False

    ctx.keep(sheet, keep)
    if dropped:
        ctx.problems.append(Problem(sheet, "", (
            f"{dropped} row{'s were' if dropped != 1 else ' was'} not used because the "
            f"{parent} sheet cannot be read (see the problem reported there)")))


def _references(sheet: str, key: str, parent: str) -> Check:
    """The check that every ``key`` of ``sheet`` names a good row of ``parent``."""
    def check(ctx: _Context) -> None:
        _check_reference(ctx, sheet, key, parent)

    check.__name__ = f"_check_{sheet}_{key}"
    return Check(check, frozenset({sheet, parent}), frozenset({sheet}))


def _check_receipt_owners(ctx: _Context) -> None:
    """A receipt naming another contract's installment is skipped."""
    positions = ctx.link("Receipts", "installment_id", "Installments").positions
    # The contract of each receipt's installment (None for a receipt naming none): each
    # such receipt differs from its own contract once, every other one must not.
    owner_at = [*ctx.column("Installments", "contract_id"), None]
    owners = list(map(owner_at.__getitem__, positions))
    if sum(map(operator.ne, owners, ctx.column("Receipts", "contract_id"))) == positions.count(-1):
        return
    bad = iter(owners)

    def same_contract(row: Row) -> bool:
        owner = next(bad)
        if owner is None or owner == row.contract_id:
            return True
        ctx.report(row, "installment_id", (
            f"分期编号 '{row.installment_id}' belongs to contract {owner}, not "
            f"{row.contract_id}; row skipped"))
        return False

    ctx.keep("Receipts", same_contract)


def _check_sums(ctx: _Context) -> None:
    contracts = {row.contract_id: row for row in ctx.rows("Contracts")}
    scheduled: dict[str, Decimal] = {}
    for sheet, label in (("FeeItems", "费用组成"), ("Installments", "付款计划")):
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for row in ctx.rows(sheet):
            totals[row.contract_id] += row.amount
        if sheet == "Installments":
            scheduled = totals
        for cid, contract in contracts.items():
            total = contract.total_fee
            if cid not in totals:
                if sheet == "Installments":
                    ctx.report(contract, "contract_id", (
                        f"contract {cid} has no rows in Installments: no payment can be "
                        "tracked until its schedule is entered"), W)
                continue
            if totals[cid] != total:
                ctx.report(contract, "total_fee", (
                    f"{label} of {cid} add up to {fmt_money_grouped(totals[cid])}, not the "
                    f"total fee {fmt_money_grouped(total)}: check the {sheet} rows"), W)
    # Receipts in date order, of the contracts whose receipts pass their schedule: amounts
    # are never negative (the converter refuses them), so the running sum rises to the
    # total and only a total above the schedule passes it (the others need no sort).
    # Late fees received or waived pay no installment: they do not count toward it (the
    # totals may take them in: they only pick the contracts to look at).
    receipts = ctx.rows("Receipts")
    fees = schema.FEE_PURPOSES
    totals = defaultdict(lambda: ZERO)
    for row in receipts:
        totals[row.contract_id] += row.amount
    over = {cid for cid, total in totals.items() if total > scheduled.get(cid, ZERO)}
    received: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in sorted((r for r in receipts if r.contract_id in over and r.purpose not in fees),
                      key=lambda r: (r.date, r.src.row)):
        cid = row.contract_id
        before = received[cid]
        received[cid] += row.amount
        plan = scheduled.get(cid, ZERO)
        if before <= plan < received[cid]:
            ctx.report(row, "amount", (
                f"with this receipt, {cid} has received "
                f"{fmt_money_grouped(received[cid])}, "
                f"{fmt_money_grouped(received[cid] - plan)} more than its schedule "
                f"({fmt_money_grouped(plan)}): check the amount or add the "
                "installment"), W)


def _check_incidents(ctx: _Context) -> None:
    def good(row: Row) -> bool:
        v = row
        for key in ("responded_at", "solution_at", "resolved_at"):
            moment = getattr(v, key)
            if moment is not None and moment < v.reported_at:
                ctx.report(row, key, (
                    f"{schema.INCIDENTS.column(key).zh} {moment:%Y-%m-%d %H:%M} is before the "
                    f"report {v.reported_at:%Y-%m-%d %H:%M}; row skipped"))
                return False
        return True

    ctx.keep("Incidents", good)


def _check_availability(ctx: _Context) -> None:
    def good(row: Row) -> bool:
        v = row
        month: dt.date = v.month
        minutes = calendar.monthrange(month.year, month.month)[1] * 24 * 60
        used = v.downtime_minutes + (v.maintenance_minutes or ZERO)
        if used > minutes:
            ctx.report(row, "downtime_minutes", (
                f"downtime plus maintenance ({used} min) exceeds the {minutes} minutes of "
                f"{month:%Y-%m}; row skipped"))
            return False
        return True

    ctx.keep("Availability", good)


_S = frozenset
VALIDATORS: tuple[Check, ...] = (
    Check(_check_credit_codes, _S({"Clients"})),
    Check(_check_rates, _S({"Contracts"})),
    Check(_check_contract_dates, _S({"Contracts"}), _S({"Contracts"})),
    _references("Contracts", "client_id", "Clients"),
    *(_references(sheet, "contract_id", "Contracts")
      for sheet in ("FeeItems", "Installments", "Receipts", "Incidents", "Availability")),
    _references("Receipts", "installment_id", "Installments"),
    Check(_check_receipt_owners, _S({"Receipts", "Installments"}), _S({"Receipts"})),
    Check(_check_sums, _S({"Contracts", "FeeItems", "Installments", "Receipts"})),
    Check(_check_incidents, _S({"Incidents"}), _S({"Incidents"})),
    Check(_check_availability, _S({"Availability"}), _S({"Availability"})),
)
"""Cross-row and cross-sheet checks, in the order their problems are listed; each may
drop rows of the sheets in its ``drops``. parse_book runs each as soon as its sheets are
parsed and every check listed before it that drops rows it reads or drops, or reads rows
it drops, has run (see ``_Checks``): the result is the same as running them in this order after the
last sheet, but most of the work is done while the reader reads the next sheets."""


class _Checks:
    """The VALIDATORS of one parse, run as early as their sheets allow; each check's
    problems are kept apart and handed back in the listed order."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.parsed: set[str] = set()
        self.pending: list[int] = list(range(len(VALIDATORS)))
        self.found: list[list[Problem]] = [[] for _ in VALIDATORS]

    def run_ready(self, sheet: str) -> None:
        """``sheet`` is parsed: run every check it made ready, in the listed order."""
        self.parsed.add(sheet)
        ran = True
        while ran:  # a check run may free one listed after it
            ran = False
            for n, i in enumerate(self.pending):
                if self._ready(i, self.pending[:n]):
                    self._run(i)
                    del self.pending[n]
                    ran = True
                    break

    def _ready(self, i: int, before: list[int]) -> bool:
        check = VALIDATORS[i]
        if not (check.reads | check.drops) <= self.parsed:
            return False
        return not any(_conflict(VALIDATORS[j], check) for j in before)

    def _run(self, i: int) -> None:
        ctx = self.ctx
        kept = ctx.problems
        ctx.problems = self.found[i]
        try:
            VALIDATORS[i].run(ctx)
        finally:
            ctx.problems = kept

    def finish(self) -> list[Problem]:
        """Every check's problems in the listed order (every sheet is parsed by now, a
        missing one as missing, so nothing is left to run; anything left runs here)."""
        for i in self.pending:
            self._run(i)
        self.pending = []
        return [p for found in self.found for p in found]


def _conflict(earlier: Check, later: Check) -> bool:
    """Whether ``later`` must wait for ``earlier``: one drops rows the other uses."""
    return bool(earlier.drops & (later.reads | later.drops) or later.drops & earlier.reads)
