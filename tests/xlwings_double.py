"""A test double of xlwings' Book / Sheet / Range, backed by a real workbook file.

No Excel runs here, so the ribbon macros are run against this double. It follows what
xlwings does on Windows and macOS closely enough for the macros to be proven on it:

* **Values.** Loaded from the real .xlsm with python-calamine and shown as Excel/COM shows
  them: numbers are float, dates ``datetime``, empty cells None. ``Range.value`` returns a
  scalar, a row or column list, or a list of rows, as xlwings does; ``options(ndim=2)``
  always a list of rows; ``options(pd.DataFrame, header=1, index=False)`` a DataFrame.
  Writing a list of rows fills from the top-left cell whatever the range's size.
* **Excel's typing.** A string assigned to ``Range.value`` is parsed as if typed: ``=x``,
  ``+x``, ``-x``, ``@x`` become formulas, ``0012`` the number 12, ``2026-01-05`` a date,
  ``TRUE`` a boolean, ``#N/A`` an error -- unless the cell's format is text (``@``) or the
  string starts with an apostrophe (then the cell holds the text after it). Only what
  xlwings can send on both platforms is accepted: str, int, float, bool, datetime, None
  (a Decimal or a bare date raises, as appscript would not send them).
* **Formats** per cell: number format, bold, size, font colour, fill, wrap, bottom
  border, alignment; column widths; merges; conditional formats; frozen panes; charts.
  ``Sheet.clear()`` removes values, formats, merges and conditional formats (not charts,
  not widths), as Excel's ``Cells.Clear`` does.
* **Application.** ``status_bar`` and ``screen_updating`` (every value set is kept),
  ``alert`` (every dialog is kept; answers come from ``app.answers``, else ``ok`` /
  ``no``), the selection (``Range.select`` fails unless its sheet is active, as in Excel).
  ``Book.save`` and ``Book.close`` raise: the macros must never save behind Excel's back.
* **Round trips.** Every property get or set and every method call on a Range, Sheet,
  Font, Border, chart or collection that xlwings turns into a COM / AppleScript call is
  one Excel round trip, logged in :class:`Calls` with the sheet it concerns (book- and
  app-level calls have sheet ``""``). ``Range.options`` and building address strings are
  free, as in xlwings.

Test helpers that are not xlwings API (``cell``, ``grid``, ``snapshot``...) do not count.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Alert", "Calls", "Cell", "DoubleApp", "DoubleBook", "DoubleRange", "DoubleSheet",
           "Error", "Formula", "load_book", "typed", "values_of"]

MAX_ROWS, MAX_COLS = 1_048_576, 16_384
ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})


class Calls:
    """The log of Excel round trips: (sheet, kind, what); kind is get, set or call."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []

    def hit(self, sheet: str, kind: str, what: str) -> None:
        self.log.append((sheet, kind, what))

    def per_sheet(self) -> Counter[str]:
        return Counter(sheet for sheet, _, _ in self.log)

    def of(self, sheet: str) -> list[tuple[str, str]]:
        return [(kind, what) for s, kind, what in self.log if s == sheet]

    def clear(self) -> None:
        self.log.clear()


@dataclass
class Formula:
    """A formula a cell holds (what Excel made of a string starting with '=' and co.)."""

    text: str

    def result(self) -> object:
        m = re.fullmatch(r'=HYPERLINK\("((?:[^"]|"")*)","((?:[^"]|"")*)"\)', self.text)
        if m:
            return m[2].replace('""', '"')
        return "#NAME?"

    def link(self) -> str | None:
        m = re.fullmatch(r'=HYPERLINK\("((?:[^"]|"")*)",.*\)', self.text)
        return m[1].replace('""', '"') if m else None


@dataclass
class Error:
    code: str


@dataclass
class Cell:
    value: object = None
    prefix: str = ""
    number_format: str = "General"
    bold: bool = False
    size: float = 11.0
    font_color: tuple[int, int, int] | None = None
    fill: tuple[int, int, int] | None = None
    wrap: bool = False
    border_bottom: str = "none"
    horizontal: str = "general"
    vertical: str = "bottom"

    def formats(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("value", "prefix")}

    def is_default(self) -> bool:
        return self.formats() == Cell().formats()


_DEFAULT_FORMATS = Cell().formats()


@dataclass
class Alert:
    prompt: str
    title: str | None
    buttons: str
    mode: str | None
    answer: str


def _rgb(value: object) -> tuple[int, int, int] | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.lstrip("#")
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    if isinstance(value, tuple):
        return value  # type: ignore[return-value]
    raise TypeError(f"colour {value!r}")


# --- addresses ----------------------------------------------------------------------------


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(index: int) -> str:
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


_REF = re.compile(r"\$?([A-Z]{1,3})?\$?([0-9]+)?")


def parse_area(text: str, last_row: int = MAX_ROWS, last_col: int = MAX_COLS
               ) -> tuple[int, int, int, int]:
    """``A1``, ``A1:C4``, ``2:4``, ``A:C`` -> 1-based (row1, col1, row2, col2)."""
    parts = text.replace("$", "").split(":")
    ends = []
    for part in parts:
        m = _REF.fullmatch(part)
        if m is None or not part:
            raise ValueError(f"bad address {text!r}")
        ends.append((int(m[2]) if m[2] else None, col_index(m[1]) if m[1] else None))
    (r1, c1), (r2, c2) = ends[0], ends[-1]
    r1, r2 = (r1, r2) if r1 is not None else (1, last_row)
    c1, c2 = (c1, c2) if c1 is not None else (1, last_col)
    assert r2 is not None and c2 is not None
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def address(r1: int, c1: int, r2: int, c2: int, absolute: bool = True) -> str:
    d = "$" if absolute else ""
    first = f"{d}{col_letters(c1)}{d}{r1}"
    if (r1, c1) == (r2, c2):
        return first
    if r1 == 1 and r2 == MAX_ROWS:
        return f"{d}{col_letters(c1)}:{d}{col_letters(c2)}"
    if c1 == 1 and c2 == MAX_COLS:
        return f"{d}{r1}:{d}{r2}"
    return f"{first}:{d}{col_letters(c2)}{d}{r2}"


# --- what Excel makes of a value ----------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d[\d,]*\.?\d*|\.\d+)([eE][+-]?\d+)?%?")
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_MONTH_DAY = re.compile(r"(\d{1,2})/(\d{1,2})")  # en-US: month/day of this year
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")  # a fraction of a day


def typed(value: object, number_format: str) -> tuple[object, str]:
    """(stored value, prefix) for a value assigned through ``Range.Value``."""
    if value is None or value == "":
        return None, ""
    if isinstance(value, bool):
        return value, ""
    if isinstance(value, int):
        return float(value), ""
    if isinstance(value, float):
        return value, ""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None), ""
    if not isinstance(value, str):
        raise TypeError(f"xlwings cannot send a {type(value).__name__} ({value!r}) to Excel "
                        f"on both platforms")
    text = value
    if text.startswith("'"):
        return text[1:], "'"
    if number_format == "@":
        return text, ""
    stripped = text.strip()
    if text.startswith("=") and len(text) > 1:
        return Formula(text), ""
    if _NUMBER.fullmatch(stripped.replace("¥", "").replace("￥", "")):
        number = stripped.replace("¥", "").replace("￥", "").replace(",", "")
        percent = number.endswith("%")
        result = float(number.rstrip("%"))
        return (result / 100 if percent else result), ""
    if text[:1] in "+-@" and len(text) > 1:
        return Formula("=" + text.lstrip("+")), ""
    m = _DATE.fullmatch(stripped)
    if m:
        try:
            return dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0),
                               int(m[5] or 0), int(m[6] or 0)), ""
        except ValueError:
            pass
    m = _MONTH_DAY.fullmatch(stripped)
    if m and 1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31:
        return dt.datetime(2026, int(m[1]), int(m[2])), ""
    m = _TIME.fullmatch(stripped)
    if m and int(m[1]) < 24 and int(m[2]) < 60:
        return (int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)) / 86400, ""
    if stripped.upper() in ("TRUE", "FALSE"):
        return stripped.upper() == "TRUE", ""
    if stripped in ERRORS:
        return Error(stripped), ""
    return text, ""


# --- the objects --------------------------------------------------------------------------


class DoubleApp:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.status_history: list[str | bool] = []
        self.screen_history: list[bool] = []
        self.alerts: list[Alert] = []
        self.answers: list[str] = []
        self._selection: DoubleRange | None = None
        self.books: list[DoubleBook] = []

    @property
    def status_bar(self) -> str | bool:
        self.calls.hit("", "get", "status_bar")
        return self.status_history[-1] if self.status_history else False

    @status_bar.setter
    def status_bar(self, value: str | bool) -> None:
        self.calls.hit("", "set", "status_bar")
        self.status_history.append(value)

    @property
    def screen_updating(self) -> bool:
        self.calls.hit("", "get", "screen_updating")
        return self.screen_history[-1] if self.screen_history else True

    @screen_updating.setter
    def screen_updating(self, value: bool) -> None:
        self.calls.hit("", "set", "screen_updating")
        self.screen_history.append(bool(value))

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok",
              mode: str | None = None, callback: str | None = None) -> str:
        self.calls.hit("", "call", "alert")
        assert buttons in ("ok", "ok_cancel", "yes_no", "yes_no_cancel"), buttons
        assert mode in (None, "info", "critical"), mode
        default = "ok" if buttons.startswith("ok") else "no"
        answer = self.answers.pop(0) if self.answers else default
        self.alerts.append(Alert(prompt, title, buttons, mode, answer))
        return answer

    @property
    def selection(self) -> DoubleRange | None:
        self.calls.hit("", "get", "selection")
        return self._selection


class Name:
    def __init__(self, book: DoubleBook, name: str, refers_to: str) -> None:
        self.book, self._name, self._refers_to = book, name, refers_to

    @property
    def name(self) -> str:
        self.book.calls.hit("", "get", "name.name")
        return self._name

    @property
    def refers_to(self) -> str:
        self.book.calls.hit("", "get", "name.refers_to")
        return self._refers_to


class Names:
    def __init__(self, book: DoubleBook, names: dict[str, str]) -> None:
        self.book = book
        self.items = dict(names)

    def __contains__(self, name: object) -> bool:
        self.book.calls.hit("", "call", "names.contains")
        return isinstance(name, str) and name.lower() in {n.lower() for n in self.items}

    def __getitem__(self, name: str) -> Name:
        self.book.calls.hit("", "get", "names.item")
        for key, value in self.items.items():
            if key.lower() == name.lower():
                return Name(self.book, key, value)
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self.items)


class Sheets:
    def __init__(self, book: DoubleBook) -> None:
        self.book = book

    def __getitem__(self, key: str | int) -> DoubleSheet:
        if isinstance(key, int):
            sheet = self.book._sheets[key]
        else:
            matches = [s for s in self.book._sheets if s._name.lower() == key.lower()]
            if not matches:
                self.book.calls.hit(key, "get", "sheets.item")
                raise KeyError(f"no sheet {key!r}")  # COM raises com_error
            sheet = matches[0]
        self.book.calls.hit(sheet._name, "get", "sheets.item")
        return sheet

    def __iter__(self) -> Iterator[DoubleSheet]:
        for sheet in list(self.book._sheets):
            self.book.calls.hit(sheet._name, "get", "sheets.item")
            yield sheet

    def __len__(self) -> int:
        self.book.calls.hit("", "get", "sheets.count")
        return len(self.book._sheets)

    @property
    def active(self) -> DoubleSheet:
        self.book.calls.hit("", "get", "sheets.active")
        return self.book._active


class DoubleBook:
    """``xw.Book`` as the macros use it, over the values of a real workbook file."""

    def __init__(self, fullname: str, sheets: dict[str, list[list[object]]],
                 names: dict[str, str], *, freeze_supported: bool = True) -> None:
        self.calls = Calls()
        self.app = DoubleApp(self.calls)
        self.app.books.append(self)
        self._fullname = fullname
        self._sheets = [DoubleSheet(self, name, grid) for name, grid in sheets.items()]
        self._active = self._sheets[0]
        self.names = Names(self, names)
        self.sheets = Sheets(self)
        self.freeze_supported = freeze_supported
        self.saved = False

    @property
    def name(self) -> str:
        self.calls.hit("", "get", "book.name")
        return self._fullname.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def fullname(self) -> str:
        """As xlwings: Excel gives a web address for a workbook in a OneDrive or SharePoint
        folder, and xlwings maps it to the synced local copy (its own function, run here;
        on Windows it also reads the OneDrive registry keys) or raises XlwingsError."""
        self.calls.hit("", "get", "book.fullname")
        if "://" in self._fullname:
            from xlwings.utils import fullname_url_to_local_path

            fullname_url_to_local_path.cache_clear()
            return str(fullname_url_to_local_path(self._fullname))
        return self._fullname

    @property
    def selection(self) -> DoubleRange | None:
        return self.app.selection

    def save(self, path: object = None) -> None:
        raise AssertionError("the macros must never save the workbook behind Excel's back")

    def close(self) -> None:
        raise AssertionError("the macros must never close the workbook")

    # test helpers (not xlwings API, not counted)
    def sheet(self, name: str) -> DoubleSheet:
        return next(s for s in self._sheets if s._name == name)

    def select(self, sheet: str, area: str) -> None:
        """Put the selection on ``area`` of ``sheet`` (as the user would)."""
        target = self.sheet(sheet)
        self._active = target
        self.app._selection = target._range_of(area)


class DoubleSheet:
    def __init__(self, book: DoubleBook, name: str, grid: Sequence[Sequence[object]]) -> None:
        self.book = book
        self._name = name
        self.cells_: dict[tuple[int, int], Cell] = {}
        self.widths: dict[int, float] = {}
        self.merged: list[str] = []
        self.autofit_rows: list[tuple[int, int]] = []
        self.conditional: list[dict[str, object]] = []
        self.frozen: str | None = None
        self.charts_: list[Chart] = []
        self.hidden_rows: set[int] = set()  # hidden by a filter or by hand: height 0
        self.row_heights: dict[int, float] = {}  # rows not of the default 15 pt
        for r, row in enumerate(grid, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None and value != "":
                    self.cells_[(r, c)] = Cell(_loaded(value))

    def _hit(self, kind: str, what: str) -> None:
        self.book.calls.hit(self._name, kind, what)

    @property
    def name(self) -> str:
        self._hit("get", "sheet.name")
        return self._name

    @property
    def index(self) -> int:
        self._hit("get", "sheet.index")
        return self.book._sheets.index(self) + 1

    def range(self, cell1: str | tuple[int, int], cell2: tuple[int, int] | str | None = None
              ) -> DoubleRange:
        self._hit("call", "sheet.range")
        if cell2 is None:
            if isinstance(cell1, tuple):
                return DoubleRange(self, [(cell1[0], cell1[1], cell1[0], cell1[1])])
            return self._range_of(cell1)
        a = cell1 if isinstance(cell1, tuple) else parse_area(cell1)[:2]
        b = cell2 if isinstance(cell2, tuple) else parse_area(cell2)[:2]
        return DoubleRange(self, [(min(a[0], b[0]), min(a[1], b[1]),
                                   max(a[0], b[0]), max(a[1], b[1]))])

    def __getitem__(self, key: str) -> DoubleRange:
        return self.range(key)

    def _range_of(self, text: str) -> DoubleRange:
        return DoubleRange(self, [parse_area(a) for a in re.split(r"[,;]", text)])

    @property
    def cells(self) -> DoubleRange:
        self._hit("get", "sheet.cells")
        return DoubleRange(self, [(1, 1, MAX_ROWS, MAX_COLS)])

    @property
    def used_range(self) -> DoubleRange:
        self._hit("get", "sheet.used_range")
        used = [k for k, cell in self.cells_.items()
                if cell.value is not None or not cell.is_default()]
        if not used:
            return DoubleRange(self, [(1, 1, 1, 1)])
        rows = [r for r, _ in used]
        cols = [c for _, c in used]
        return DoubleRange(self, [(min(rows), min(cols), max(rows), max(cols))])

    def clear(self) -> None:
        self._hit("call", "sheet.clear")
        self.cells_.clear()
        self.merged.clear()
        self.conditional.clear()

    def clear_contents(self) -> None:
        self._hit("call", "sheet.clear_contents")
        for cell in self.cells_.values():
            cell.value, cell.prefix = None, ""

    def clear_formats(self) -> None:
        self._hit("call", "sheet.clear_formats")
        for key, cell in list(self.cells_.items()):
            self.cells_[key] = Cell(cell.value, cell.prefix)
        self.merged.clear()
        self.conditional.clear()

    def activate(self) -> None:
        self._hit("call", "sheet.activate")
        self.book._active = self

    @property
    def freeze_panes(self) -> FreezePanes:
        self._hit("get", "sheet.freeze_panes")
        if not self.book.freeze_supported:
            raise NotImplementedError()  # xlwings' desktop engines in 0.37.8
        return FreezePanes(self)

    @property
    def charts(self) -> Charts:
        self._hit("get", "sheet.charts")
        return Charts(self)

    # test helpers (not xlwings API, not counted)
    def cell(self, ref: str) -> Cell:
        r1, c1, _, _ = parse_area(ref)
        return self.cells_.get((r1, c1), Cell())

    def grid(self) -> list[list[object]]:
        """Every cell's value from A1 to the last used cell (formulas as Formula)."""
        if not self.cells_:
            return []
        rows = max(r for r, _ in self.cells_)
        cols = max(c for _, c in self.cells_)
        return [[self.cells_[(r, c)].value if (r, c) in self.cells_ else None
                 for c in range(1, cols + 1)] for r in range(1, rows + 1)]

    def snapshot(self) -> dict[tuple[int, int], tuple[object, str, dict[str, object]]]:
        return {k: (c.value, c.prefix, c.formats()) for k, c in self.cells_.items()}


def _loaded(value: object) -> object:
    """A value as calamine reads it -> as Excel/COM returns it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


class FreezePanes:
    def __init__(self, sheet: DoubleSheet) -> None:
        self.sheet = sheet

    def freeze_at(self, frozen_range: str) -> None:
        self.sheet._hit("call", "freeze_panes.freeze_at")
        parse_area(frozen_range)
        self.sheet.frozen = frozen_range

    def unfreeze(self) -> None:
        self.sheet._hit("call", "freeze_panes.unfreeze")
        self.sheet.frozen = None


class Font:
    def __init__(self, rng: DoubleRange) -> None:
        self.rng = rng

    def _get(self, attr: str) -> object:
        self.rng._hit("get", f"font.{attr}")
        values = {getattr(c, attr) for c in self.rng._cells()}
        return values.pop() if len(values) == 1 else None

    def _set(self, attr: str, value: object) -> None:
        self.rng._hit("set", f"font.{attr}")
        for cell in self.rng._cells(create=True):
            setattr(cell, attr, value)

    bold = property(lambda self: self._get("bold"),
                    lambda self, v: self._set("bold", bool(v)))
    size = property(lambda self: self._get("size"),
                    lambda self, v: self._set("size", float(v)))
    color = property(lambda self: self._get("font_color"),
                     lambda self, v: self._set("font_color", _rgb(v)))


class Border:
    def __init__(self, rng: DoubleRange, side: str) -> None:
        assert side == "edge_bottom", side
        self.rng = rng

    @property
    def line_style(self) -> str | None:
        self.rng._hit("get", "border.line_style")
        values = {c.border_bottom for c in self.rng._cells()}
        return values.pop() if len(values) == 1 else None

    @line_style.setter
    def line_style(self, value: str) -> None:
        self.rng._hit("set", "border.line_style")
        assert value in ("continuous", "none"), value
        for cell in self.rng._cells(create=True):
            cell.border_bottom = value


class Borders:
    def __init__(self, rng: DoubleRange) -> None:
        self.rng = rng

    def __getitem__(self, side: str) -> Border:
        self.rng._hit("get", "borders.item")
        return Border(self.rng, side)


class ConditionalFormats:
    def __init__(self, rng: DoubleRange) -> None:
        self.rng = rng

    def add_cell_value(self, operator: str, formula1: str | float, formula2: object = None,
                       *, fill_color: object = None, font_color: object = None,
                       font_bold: bool | None = None, font_italic: bool | None = None,
                       stop_if_true: bool = False) -> dict[str, object]:
        self.rng._hit("call", "conditional_formats.add_cell_value")
        assert operator in ("equal_to", "not_equal_to", "greater_than", "less_than",
                            "greater_than_or_equal", "less_than_or_equal"), operator
        assert isinstance(formula1, str) and formula1, formula1
        rule = {"range": self.rng._address(False), "operator": operator,
                "formula1": formula1, "fill": _rgb(fill_color), "font": _rgb(font_color),
                "bold": font_bold}
        self.rng._sheet.conditional.append(rule)
        return rule

    def clear(self) -> None:
        self.rng._hit("call", "conditional_formats.clear")
        self.rng._sheet.conditional.clear()


class Chart:
    def __init__(self, sheet: DoubleSheet, **spec: object) -> None:
        self.sheet = sheet
        self.spec = dict(spec)
        self.series_names: list[str] = []
        self.categories: str | None = None
        self.legend_visible = True
        self.number_format = "General"
        self._title: str | None = None

    def _hit(self, kind: str, what: str) -> None:
        self.sheet._hit(kind, what)

    def delete(self) -> None:
        self._hit("call", "chart.delete")
        self.sheet.charts_.remove(self)

    def set_x_axis_values(self, source: DoubleRange) -> None:
        self._hit("call", "chart.set_x_axis_values")
        self.categories = source._address(False)

    @property
    def title(self) -> str | None:
        self._hit("get", "chart.title")
        return self._title

    @title.setter
    def title(self, value: str | None) -> None:
        self._hit("set", "chart.title")
        self._title = value

    @property
    def series(self) -> list[Series]:
        self._hit("get", "chart.series")
        source = str(self.spec["source"])
        return [Series(self, i) for i, _ in enumerate(source.split(","))]

    @property
    def legend(self) -> Legend:
        self._hit("get", "chart.legend")
        return Legend(self)

    @property
    def value_axis(self) -> Axis:
        self._hit("get", "chart.value_axis")
        return Axis(self)


class Series:
    def __init__(self, chart: Chart, index: int) -> None:
        self.chart, self.index = chart, index

    @property
    def name(self) -> str:
        self.chart._hit("get", "series.name")
        return self.chart.series_names[self.index]

    @name.setter
    def name(self, value: str) -> None:
        self.chart._hit("set", "series.name")
        names = self.chart.series_names
        names.extend([""] * (self.index + 1 - len(names)))
        names[self.index] = value


class Legend:
    def __init__(self, chart: Chart) -> None:
        self.chart = chart

    @property
    def visible(self) -> bool:
        self.chart._hit("get", "legend.visible")
        return self.chart.legend_visible

    @visible.setter
    def visible(self, value: bool) -> None:
        self.chart._hit("set", "legend.visible")
        self.chart.legend_visible = bool(value)


class Axis:
    def __init__(self, chart: Chart) -> None:
        self.chart = chart

    @property
    def number_format(self) -> str:
        self.chart._hit("get", "axis.number_format")
        return self.chart.number_format

    @number_format.setter
    def number_format(self, value: str) -> None:
        self.chart._hit("set", "axis.number_format")
        self.chart.number_format = value


class Charts:
    def __init__(self, sheet: DoubleSheet) -> None:
        self.sheet = sheet

    def __iter__(self) -> Iterator[Chart]:
        for chart in list(self.sheet.charts_):
            self.sheet._hit("get", "charts.item")
            yield chart

    def __len__(self) -> int:
        self.sheet._hit("get", "charts.count")
        return len(self.sheet.charts_)

    def add(self, left: float = 0, top: float = 0, width: float = 355, height: float = 211,
            chart_type: str | None = None, source: DoubleRange | None = None,
            plot_by: str | None = None, name: str | None = None,
            anchor: DoubleRange | None = None, style: int | None = 227) -> Chart:
        self.sheet._hit("call", "charts.add")
        if anchor is not None and (left or top):
            raise ValueError("You must either provide 'anchor' or 'top'/'left', but not both.")
        assert chart_type in (None, "bar_clustered", "column_clustered"), chart_type
        assert plot_by in (None, "rows", "columns"), plot_by
        chart = Chart(self.sheet, chart_type=chart_type, plot_by=plot_by, width=width,
                      height=height, anchor=anchor._address(False) if anchor else None,
                      source=source._address(False) if source else None)
        self.sheet.charts_.append(chart)
        return chart


class RangeRows:
    """``xw.RangeRows`` (``range.rows``): only ``autofit``, which records the rows fitted."""

    def __init__(self, rng: DoubleRange) -> None:
        self._rng = rng

    def autofit(self) -> None:
        self._rng._hit("call", "range.rows.autofit")
        r1, _, r2, _ = self._rng._box
        self._rng._sheet.autofit_rows.append((r1, r2))


class DoubleRange:
    """``xw.Range``: one or more rectangular areas (1-based, inclusive) of a sheet."""

    def __init__(self, sheet: DoubleSheet, areas: list[tuple[int, int, int, int]],
                 options: dict[str, Any] | None = None) -> None:
        self._sheet = sheet
        self.areas = areas
        self._options = options or {}

    # internals
    def _hit(self, kind: str, what: str) -> None:
        self._sheet._hit(kind, what)

    @property
    def _box(self) -> tuple[int, int, int, int]:
        if len(self.areas) != 1:
            raise ValueError("this operation needs a single-area range")
        return self.areas[0]

    def _keys(self) -> Iterator[tuple[int, int]]:
        for r1, c1, r2, c2 in self.areas:
            if (r2 - r1 + 1) * (c2 - c1 + 1) > 5_000_000:
                raise MemoryError("the double refuses ranges over 5 million cells")
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    yield r, c

    def _cells(self, create: bool = False) -> Iterator[Cell]:
        store = self._sheet.cells_
        for key in self._keys():
            if key in store:
                yield store[key]
            elif create:
                store[key] = Cell()
                yield store[key]
            else:
                yield Cell()

    def _address(self, absolute: bool = True) -> str:
        return ",".join(address(*area, absolute=absolute) for area in self.areas)

    # xlwings API
    def options(self, convert: object = None, **options: Any) -> DoubleRange:
        merged = {**self._options, **options}
        if convert is not None:
            merged["convert"] = convert
        return DoubleRange(self._sheet, self.areas, merged)

    @property
    def value(self) -> Any:
        self._hit("get", "range.value")
        r1, c1, r2, c2 = self._box
        err_to_str = self._options.get("err_to_str", False)
        rows = []
        for r in range(r1, r2 + 1):
            row = []
            for c in range(c1, c2 + 1):
                cell = self._sheet.cells_.get((r, c))
                value = None if cell is None else cell.value
                if isinstance(value, Formula):
                    value = value.result()
                if isinstance(value, Error):
                    value = value.code if err_to_str else None
                row.append(value)
            rows.append(row)
        convert = self._options.get("convert")
        if convert is pd.DataFrame:
            header = self._options.get("header", 1)
            index = self._options.get("index", 1)
            frame = pd.DataFrame(rows[1:] if header else rows,
                                 columns=rows[0] if header else None)
            if index:
                frame = frame.set_index(frame.columns[0])
            return frame
        ndim = self._options.get("ndim")
        if ndim == 2:
            return rows
        if r1 == r2 and c1 == c2 and ndim is None:
            return rows[0][0]
        if r1 == r2 or c1 == c2:
            return [v for row in rows for v in row]
        return rows

    @value.setter
    def value(self, data: Any) -> None:
        self._hit("set", "range.value")
        r1, c1, _, _ = self._box
        if isinstance(data, pd.DataFrame):
            header = self._options.get("header", True)
            index = self._options.get("index", True)
            frame = data.reset_index() if index else data
            matrix = ([list(frame.columns)] if header else []) + frame.values.tolist()
        elif isinstance(data, (list, tuple)):
            if data and all(isinstance(row, (list, tuple)) for row in data):
                matrix = [list(row) for row in data]
            else:
                matrix = [list(data)]
        else:
            matrix = [[data]]
        width = max((len(row) for row in matrix), default=0)
        if any(len(row) != width for row in matrix):
            raise ValueError("all rows of a 2d list must have the same length")
        store = self._sheet.cells_
        for dr, row in enumerate(matrix):
            for dc, item in enumerate(row):
                key = (r1 + dr, c1 + dc)
                cell = store.get(key)
                fmt = cell.number_format if cell else "General"
                stored, prefix = typed(item, fmt)
                if cell is None:
                    if stored is None:
                        continue
                    cell = store[key] = Cell()
                cell.value, cell.prefix = stored, prefix

    @property
    def formula(self) -> Any:
        self._hit("get", "range.formula")
        cell = self._sheet.cells_.get(self._box[:2])
        if cell is None or cell.value is None:
            return ""
        return cell.value.text if isinstance(cell.value, Formula) else str(cell.value)

    @property
    def number_format(self) -> str | None:
        self._hit("get", "range.number_format")
        values = {c.number_format for c in self._cells()}
        return values.pop() if len(values) == 1 else None

    @number_format.setter
    def number_format(self, value: str) -> None:
        self._hit("set", "range.number_format")
        for cell in self._cells(create=True):
            cell.number_format = value

    @property
    def row_height(self) -> float | None:
        """As Excel's ``Range.RowHeight``: the rows' height when all are the same, 0 for
        hidden rows, None when they differ."""
        self._hit("get", "range.row_height")
        r1, _, r2, _ = self._box
        hidden, heights = self._sheet.hidden_rows, self._sheet.row_heights
        values = {0.0 if r in hidden else heights.get(r, 15.0) for r in range(r1, r2 + 1)}
        return values.pop() if len(values) == 1 else None

    @row_height.setter
    def row_height(self, value: float) -> None:
        """As Excel's ``Range.RowHeight =``: every row of the range, 0 to 409.5 points."""
        self._hit("set", "range.row_height")
        assert 0 <= value <= 409.5, value
        r1, _, r2, _ = self._box
        for r in range(r1, r2 + 1):
            self._sheet.row_heights[r] = float(value)

    @property
    def column_width(self) -> float | None:
        self._hit("get", "range.column_width")
        _, c1, _, c2 = self._box
        values = {self._sheet.widths.get(c, 8.43) for c in range(c1, c2 + 1)}
        return values.pop() if len(values) == 1 else None

    @column_width.setter
    def column_width(self, value: float) -> None:
        self._hit("set", "range.column_width")
        assert 0 <= value <= 255, value
        _, c1, _, c2 = self._box
        for c in range(c1, c2 + 1):
            self._sheet.widths[c] = float(value)

    @property
    def color(self) -> tuple[int, int, int] | None:
        self._hit("get", "range.color")
        values = {c.fill for c in self._cells()}
        return values.pop() if len(values) == 1 else None

    @color.setter
    def color(self, value: object) -> None:
        self._hit("set", "range.color")
        for cell in self._cells(create=True):
            cell.fill = _rgb(value)

    @property
    def wrap_text(self) -> bool | None:
        self._hit("get", "range.wrap_text")
        values = {c.wrap for c in self._cells()}
        return values.pop() if len(values) == 1 else None

    @wrap_text.setter
    def wrap_text(self, value: bool) -> None:
        self._hit("set", "range.wrap_text")
        for cell in self._cells(create=True):
            cell.wrap = bool(value)

    @property
    def horizontal_alignment(self) -> str | None:
        self._hit("get", "range.horizontal_alignment")
        values = {c.horizontal for c in self._cells()}
        return values.pop() if len(values) == 1 else None

    @horizontal_alignment.setter
    def horizontal_alignment(self, value: str) -> None:
        self._hit("set", "range.horizontal_alignment")
        assert value in ("general", "left", "center", "right", "fill", "justify",
                         "center_across_selection", "distributed"), value
        for cell in self._cells(create=True):
            cell.horizontal = value

    @property
    def vertical_alignment(self) -> str | None:
        self._hit("get", "range.vertical_alignment")
        values = {c.vertical for c in self._cells()}
        return values.pop() if len(values) == 1 else None

    @vertical_alignment.setter
    def vertical_alignment(self, value: str) -> None:
        self._hit("set", "range.vertical_alignment")
        assert value in ("top", "center", "bottom", "justify", "distributed"), value
        for cell in self._cells(create=True):
            cell.vertical = value

    @property
    def font(self) -> Font:
        self._hit("get", "range.font")
        return Font(self)

    @property
    def borders(self) -> Borders:
        self._hit("get", "range.borders")
        return Borders(self)

    @property
    def conditional_formats(self) -> ConditionalFormats:
        self._hit("get", "range.conditional_formats")
        return ConditionalFormats(self)

    def clear_contents(self) -> None:
        self._hit("call", "range.clear_contents")
        for key in self._keys():
            cell = self._sheet.cells_.get(key)
            if cell is not None:
                cell.value, cell.prefix = None, ""

    def clear(self) -> None:
        self._hit("call", "range.clear")
        for key in list(self._keys()):
            self._sheet.cells_.pop(key, None)

    @property
    def rows(self) -> RangeRows:
        return RangeRows(self)

    def merge(self, across: bool = False) -> None:
        self._hit("call", "range.merge")
        self._sheet.merged.append(self._address(False))

    def select(self) -> None:
        self._hit("call", "range.select")
        if self._sheet.book._active is not self._sheet:
            raise RuntimeError("Select method of Range class failed (sheet not active)")
        self._sheet.book.app._selection = self

    @property
    def sheet(self) -> DoubleSheet:
        self._hit("get", "range.sheet")
        return self._sheet

    @property
    def address(self) -> str:
        self._hit("get", "range.address")
        return self._address(True)

    def get_address(self, row_absolute: bool = True, column_absolute: bool = True,
                    include_sheetname: bool = False, external: bool = False) -> str:
        self._hit("call", "range.get_address")
        text = self._address(row_absolute and column_absolute)
        return f"{self._sheet._name}!{text}" if include_sheetname else text

    @property
    def row(self) -> int:
        self._hit("get", "range.row")
        return self.areas[0][0]

    @property
    def column(self) -> int:
        self._hit("get", "range.column")
        return self.areas[0][1]

    @property
    def shape(self) -> tuple[int, int]:
        self._hit("get", "range.shape")
        r1, c1, r2, c2 = self._box
        return r2 - r1 + 1, c2 - c1 + 1

    @property
    def count(self) -> int:
        self._hit("get", "range.count")
        return sum((r2 - r1 + 1) * (c2 - c1 + 1) for r1, c1, r2, c2 in self.areas)

    @property
    def last_cell(self) -> DoubleRange:
        self._hit("get", "range.last_cell")
        _, _, r2, c2 = self._box
        return DoubleRange(self._sheet, [(r2, c2, r2, c2)])

    def resize(self, row_size: int | None = None, column_size: int | None = None
               ) -> DoubleRange:
        self._hit("call", "range.resize")
        r1, c1, r2, c2 = self._box
        rows = row_size or r2 - r1 + 1
        cols = column_size or c2 - c1 + 1
        return DoubleRange(self._sheet, [(r1, c1, r1 + rows - 1, c1 + cols - 1)])

    def offset(self, row_offset: int = 0, column_offset: int = 0) -> DoubleRange:
        self._hit("call", "range.offset")
        r1, c1, r2, c2 = self._box
        return DoubleRange(self._sheet, [(r1 + row_offset, c1 + column_offset,
                                         r2 + row_offset, c2 + column_offset)])

    def expand(self, mode: str = "table") -> DoubleRange:
        """Down and right from the top-left cell while the next cell is not empty."""
        self._hit("call", "range.expand")
        r1, c1, r2, c2 = self._box
        store = self._sheet.cells_

        def filled(r: int, c: int) -> bool:
            cell = store.get((r, c))
            return cell is not None and cell.value is not None

        if mode in ("table", "down", "d"):
            while filled(r2 + 1, c1):
                r2 += 1
        if mode in ("table", "right", "r"):
            while filled(r1, c2 + 1):
                c2 += 1
        return DoubleRange(self._sheet, [(r1, c1, r2, c2)])

    @property
    def width(self) -> float:
        self._hit("get", "range.width")
        _, c1, _, c2 = self._box
        return sum(self._sheet.widths.get(c, 8.43) * 7 for c in range(c1, c2 + 1))

    @property
    def height(self) -> float:
        self._hit("get", "range.height")
        r1, _, r2, _ = self._box
        return 15.0 * (r2 - r1 + 1)

    @property
    def left(self) -> float:
        self._hit("get", "range.left")
        return sum(self._sheet.widths.get(c, 8.43) * 7 for c in range(1, self._box[1]))

    @property
    def top(self) -> float:
        self._hit("get", "range.top")
        return 15.0 * (self._box[0] - 1)

    def __repr__(self) -> str:
        return f"<Range [{self._sheet._name}]!{self._address(True)}>"


# --- loading --------------------------------------------------------------------------------

_DEFINED_NAME = re.compile(rb'<definedName name="([^"]+)"((?:\s+\w+="[^"]*")*)\s*>([^<]*)'
                           rb"</definedName>")


def load_book(path: Path, **kwargs: Any) -> DoubleBook:
    """A double of the open workbook ``path``: every sheet's values, the workbook's names."""
    import python_calamine

    with zipfile.ZipFile(path) as zf:
        workbook_xml = zf.read("xl/workbook.xml")
    names = {}
    for m in _DEFINED_NAME.finditer(workbook_xml):
        if b"localSheetId" not in m[2]:
            names[m[1].decode()] = "=" + m[3].decode().lstrip("=")
    calamine = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        sheets = {name: calamine.get_sheet_by_name(name).to_python(skip_empty_area=False)
                  for name in calamine.sheet_names}
    finally:
        calamine.close()
    return DoubleBook(str(path.resolve()), sheets, names, **kwargs)


def values_of(sheet: DoubleSheet) -> list[list[object]]:
    """What a reader sees on ``sheet``: formulas as their results, trailing blanks cut."""
    out = []
    for row in sheet.grid():
        values = [v.result() if isinstance(v, Formula) else v for v in row]
        while values and values[-1] is None:
            values.pop()
        out.append(values)
    while out and not out[-1]:
        out.pop()
    return out
