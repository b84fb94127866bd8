"""The one writer for the tool-owned sheets of the master workbook.

Every command that puts something into the master (penalties -> Workings, dashboard ->
Dashboard, validate -> Problems, every command -> Log) goes through
:func:`write_tool_sheets`. It never loads and re-saves the workbook with a spreadsheet
library (openpyxl drops parts and rewrites everything, see ``pitfalls.md``); instead it
edits the zip package directly:

* Only the XML part of each target sheet (``xl/worksheets/sheetN.xml``, found through
  ``workbook.xml`` and its relationships by sheet name) is regenerated, with inline strings
  (``t="inlineStr"``), so user text can never become a formula and ``sharedStrings.xml`` is
  untouched. No ``<f>`` element is ever written. Rows are rendered a few thousand at a
  time, the plain ones column by column (:class:`_SheetRenderer`); a part past 4 MB is
  deflated (level 1) on a second thread while the next rows are rendered, so a long
  Workings sheet is never held whole, and the old part is read in chunks for what the
  sheet keeps.
* Named styles (:data:`STYLES`, :data:`DIFF_STYLES`) map to ``cellXfs`` / ``dxfs`` entries
  of ``xl/styles.xml``: an identical existing entry is reused, a missing one is appended.
  ``styles.xml`` changes only by addition: existing entries keep their index and bytes,
  only the ``count`` attributes of the grown collections change.
* Print titles need a ``_xlnm.Print_Titles`` defined name in ``workbook.xml``; it is
  inserted or replaced there only when the requested rows differ from what is already
  defined (build the workbook with the same print titles and ``workbook.xml`` never
  changes). A stale ``calcChain.xml`` entry pointing into a rewritten sheet (a cache
  Excel rebuilds) is removed, because Excel reports such a file as damaged.
* Every other part is copied as its raw compressed bytes (local header, data and
  central-directory record), so VBA, the ribbon, user sheets, tables, validation,
  ``sharedStrings``, content types, ``docProps`` and the other tool sheets stay
  byte-identical, and copying is fast.
* The target sheet keeps its ``<sheetPr>`` (``codeName``, tab colour), the sheet view's
  attributes (``tabSelected``, zoom), its format defaults, protection, margins and any
  relationship-backed element (``drawing``, ``legacyDrawing``, ``picture``, ...); its
  ``.rels`` part is not touched, unless the content brings charts.
* Charts (:class:`BarChart`, clustered bar or column) become parts of the tool's own,
  with fixed names (``xl/drawings/ctDrawing_sheetN.xml``, ``xl/charts/ctChart_sheetN_K.xml``
  and their ``.rels``), added to the sheet's relationships and to ``[Content_Types].xml``
  by addition; rewriting them rewrites the same parts, so an identical write changes no
  byte. A drawing the sheet had otherwise (Excel renames parts when it saves) is replaced,
  and its parts that nothing else refers to are dropped with their content types.

Safety: refuse (:class:`WriteRefused`, one exception type with a user-facing message,
nothing written) when Excel's owner file ``~$<name>`` (or LibreOffice's lock file
``.~lock.<name>#``) sits beside the workbook, the file
or its folder is not writable, a target is not a tool-owned sheet or missing, or the file
is not a workbook. Otherwise: write a temp file in the same folder, fsync, verify it (zip
CRC test of every part, each changed part parses as XML, each written sheet reads back
equal with python-calamine, which parses on a second thread meanwhile), keep a backup of
the previous file in ``.backups/`` (the last N), then ``os.replace``. A
``PermissionError`` from the replace (Windows: Excel holds the file) is a refusal too;
no partial file is ever left behind.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import itertools
import math
import os
import posixpath
import queue
import re
import shutil
import struct
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
import xml.parsers.expat as expat
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, cast

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from contract_tracker import schema
from contract_tracker.gcpause import gc_paused

__all__ = [
    "DIFF_STYLES",
    "LOG_HEADERS",
    "LOG_SHEET",
    "STYLES",
    "BarChart",
    "CellStyle",
    "CellValue",
    "CondRule",
    "DiffStyle",
    "LogEntry",
    "SheetContent",
    "WorkbookLocked",
    "WriteRefused",
    "WriteReport",
    "append_log",
    "location",
    "table_sheet",
    "write_tool_sheets",
]

CellValue = str | int | Decimal | float | dt.date | dt.datetime | bool | None
"""What a cell may hold. Enum members are written as their ``value``."""

MAX_ROWS = 1_048_576
MAX_COLS = 16_384
MAX_TEXT = 32_767  # Excel's limit on the characters of one cell
LOG_SHEET = "Log"
LOG_MAX_ROWS = 20_000  # the Log keeps its newest rows only
_MAX_PART = 256 * 1024 * 1024  # refuse to inflate a part bigger than this (zip bombs)


# --- errors -----------------------------------------------------------------------------


class WriteRefused(Exception):
    """The workbook was not written; ``str(exc)`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkbookLocked(WriteRefused):
    """The workbook is open in Excel (owner file present, or the OS refused access)."""


class _BadPart(Exception):
    """A part of the package is not what it should be (becomes a WriteRefused)."""


# --- styles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CellStyle:
    """A cell format; colours are ARGB hex (``"FF9C0006"``)."""

    num_format: str | None = None
    bold: bool = False
    size: float | None = None
    color: str | None = None
    underline: bool = False
    fill: str | None = None
    wrap: bool = False
    border_bottom: bool = False
    horizontal: str | None = None
    vertical: str | None = None

    def merged(self, other: CellStyle) -> CellStyle:
        """This style with every property ``other`` sets laid over it."""
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(other)
            if getattr(other, f.name) not in (None, False)
        }
        return CellStyle(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})


@dataclass(frozen=True)
class DiffStyle:
    """A differential format (``dxf``) that a conditional-formatting rule applies."""

    color: str | None = None
    fill: str | None = None
    bold: bool = False


STYLES: Mapping[str, CellStyle] = MappingProxyType({
    "text": CellStyle(),
    "bold": CellStyle(bold=True),
    "title": CellStyle(bold=True, size=14),
    "header": CellStyle(bold=True, fill="FFDDEBF7", wrap=True, border_bottom=True,
                        vertical="center"),
    "money": CellStyle(num_format="¥#,##0.00"),
    "number": CellStyle(num_format="#,##0.00"),
    "int": CellStyle(num_format="0"),
    "percent": CellStyle(num_format="0.00%"),
    "percent4": CellStyle(num_format="0.0000%"),
    "center": CellStyle(horizontal="center"),
    "top": CellStyle(vertical="top"),
    "date": CellStyle(num_format="yyyy-mm-dd"),
    "datetime": CellStyle(num_format="yyyy-mm-dd hh:mm"),
    "wrap": CellStyle(wrap=True, vertical="top"),
    "link": CellStyle(underline=True, color="FF0563C1"),
    "muted": CellStyle(color="FF808080"),
    "red": CellStyle(color="FF9C0006", fill="FFFFC7CE"),
    "amber": CellStyle(color="FF9C5700", fill="FFFFEB9C"),
    "green": CellStyle(color="FF006100", fill="FFC6EFCE"),
})
"""Named cell styles. Combine with ``+``: ``"money+bold"``, ``"wrap+red"``."""

DIFF_STYLES: Mapping[str, DiffStyle] = MappingProxyType({
    "red": DiffStyle("FF9C0006", "FFFFC7CE"),
    "amber": DiffStyle("FF9C5700", "FFFFEB9C"),
    "green": DiffStyle("FF006100", "FFC6EFCE"),
    "grey": DiffStyle("FF595959", "FFE7E6E6"),
    "bold": DiffStyle(bold=True),
})
"""Named differential styles for :class:`CondRule`."""


def resolve_style(name: str) -> CellStyle:
    """The :class:`CellStyle` of ``"money"`` or a combination like ``"money+bold"``."""
    style = CellStyle()
    for part in name.split("+"):
        try:
            style = style.merged(STYLES[part.strip()])
        except KeyError:
            raise ValueError(f"unknown style {part!r} in {name!r}; known: "
                             f"{', '.join(sorted(STYLES))}") from None
    return style


# --- content ----------------------------------------------------------------------------

_CELL_RE = re.compile(r"\$?([A-Z]{1,3})\$?([1-9][0-9]{0,6})")
_RANGE_RE = re.compile(r"\$?[A-Z]{1,3}\$?[1-9][0-9]{0,6}(?::\$?[A-Z]{1,3}\$?[1-9][0-9]{0,6})?")
_OPERATORS = MappingProxyType({
    "==": "equal", "!=": "notEqual", ">": "greaterThan", ">=": "greaterThanOrEqual",
    "<": "lessThan", "<=": "lessThanOrEqual",
})


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """``'B2:D9'`` -> 0-based (row1, col1, row2, col2); a single cell is a 1x1 range."""
    if not _RANGE_RE.fullmatch(ref):
        raise ValueError(f"not a cell range: {ref!r}")
    cells = [_CELL_RE.fullmatch(p) for p in ref.split(":")]
    (c1, r1), (c2, r2) = [(_col_index(m.group(1)), int(m.group(2)) - 1)
                          for m in (cells[0], cells[-1]) if m]
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _check_sqref(sqref: str) -> None:
    for ref in sqref.split():
        parse_range(ref)


def location(sheet: str, cell: str) -> str:
    """A hyperlink location: ``location("Installments", "D17")`` -> ``'Installments'!D17``."""
    return "'" + sheet.replace("'", "''") + "'!" + cell


@dataclass(frozen=True)
class CondRule:
    """Conditional formatting: cells of ``range`` whose value ``op`` ``value`` get ``style``.

    ``op`` is one of ``== != > >= < <=``; a str ``value`` compares as text ("cell equals
    text X"), a number as a number. ``style`` names a :data:`DIFF_STYLES` entry.
    LibreOffice 7.4's PDF export crashes on a text rule over TRUE/FALSE cells of a sheet
    that also holds a date (an XlsxWriter-only file does the same); Excel is fine. Put text
    rules on text columns.
    """

    range: str
    op: str
    value: str | int | float | Decimal
    style: str

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}; use one of {', '.join(_OPERATORS)}")
        if self.style not in DIFF_STYLES:
            raise ValueError(f"unknown conditional style {self.style!r}; known: "
                             f"{', '.join(sorted(DIFF_STYLES))}")
        if isinstance(self.value, str) and len(self.value) > 250:
            raise ValueError("a conditional-formatting text may have at most 250 characters")
        if isinstance(self.value, bool) or not isinstance(self.value, (str, int, float, Decimal)):
            raise ValueError(f"conditional value must be text or a number: {self.value!r}")


@dataclass(frozen=True)
class BarChart:
    """A clustered bar chart of this sheet's own cells, drawn over the cells of ``anchor``.

    ``categories`` is a one-column or one-row range of labels; each range of ``values``
    (one per series, the same length) holds the numbers, and ``names`` the series' names
    for the legend (shown when there is more than one series). ``horizontal`` draws bars
    left to right, otherwise columns. The chart refers to the cells, with their values
    cached in the chart part, so Excel and LibreOffice show it without recalculating.
    Writing a sheet with charts replaces the sheet's drawing (anything drawn on a tool
    sheet by hand goes); a sheet written without charts keeps the drawing it has.
    """

    anchor: str
    categories: str
    values: Sequence[str]
    names: Sequence[str] = ()
    title: str = ""
    horizontal: bool = False
    num_format: str = "#,##0"

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "names", tuple(self.names))
        box = parse_range(self.anchor)
        if box[0] == box[2] and box[1] == box[3]:
            raise ValueError(f"a chart needs more than one cell: {self.anchor}")
        if not self.values:
            raise ValueError("a chart needs at least one series of values")
        if self.names and len(self.names) != len(self.values):
            raise ValueError("give one name per series, or none")
        n = _range_cells(self.categories)
        for ref in self.values:
            if _range_cells(ref) != n:
                raise ValueError(f"series {ref} and categories {self.categories} differ "
                                 f"in length")
        for text in (self.title, *self.names):
            if _ILLEGAL_RE.search(text) or len(text) > 255:
                raise ValueError(f"bad chart text: {text!r}")


def _range_cells(ref: str) -> int:
    """The number of cells of a one-row or one-column range."""
    r1, c1, r2, c2 = parse_range(ref)
    if r1 != r2 and c1 != c2:
        raise ValueError(f"a chart range must be one row or one column: {ref}")
    return (r2 - r1) + (c2 - c1) + 1


def _frozen_map(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class SheetContent:
    """Everything one tool-owned sheet shows. ``rows[0]`` is Excel row 1.

    Coordinates are 0-based ``(row, col)`` pairs into ``rows``; ranges are A1 strings.
    A cell's style is the first of ``cell_styles``, ``row_styles``, ``col_styles`` that
    names one; a date or datetime whose style has no number format gets ``yyyy-mm-dd``
    or ``yyyy-mm-dd hh:mm`` added, and a linked cell without a cell style looks like a
    link. ``freeze`` is (rows, columns) kept in view; ``print_title_rows`` is a 1-based
    inclusive (first, last) pair repeated on every printed page; ``print_header`` is the
    centred page header (a page-number footer comes with it). ``landscape``, ``fit_width``
    (one page wide), ``print_title_rows`` and ``print_header`` left at None keep what the
    sheet has; ``charts`` (:class:`BarChart`) replace the sheet's drawing; ``heights``
    sets rows' heights in points (0-based row -> points; others keep the default
    height, which LibreOffice does not grow for wrapped text). Empty strings
    and None are empty cells; a timezone-aware datetime is written as its wall-clock time;
    a date before 1900-03-01 (Excel's serials are wrong there) is written as ISO text.
    """

    rows: Sequence[Sequence[CellValue]] = ()
    col_styles: Mapping[int, str] = field(default_factory=dict)
    row_styles: Mapping[int, str] = field(default_factory=dict)
    cell_styles: Mapping[tuple[int, int], str] = field(default_factory=dict)
    widths: Mapping[int, float] = field(default_factory=dict)
    freeze: tuple[int, int] | None = None
    autofilter: str | None = None
    links: Mapping[tuple[int, int], str] = field(default_factory=dict)
    rules: Sequence[CondRule] = ()
    merges: Sequence[str] = ()
    landscape: bool | None = None
    fit_width: bool | None = None
    print_title_rows: tuple[int, int] | None = None
    print_header: str | None = None
    charts: Sequence[BarChart] = ()
    heights: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = tuple(map(tuple, self.rows))  # a tuple stays itself: no copy
        if len(rows) > MAX_ROWS:
            raise ValueError(f"{len(rows)} rows: a sheet holds at most {MAX_ROWS}")
        if max(map(len, rows), default=0) > MAX_COLS:
            raise ValueError(f"a sheet holds at most {MAX_COLS} columns")
        object.__setattr__(self, "rows", rows)
        for name in ("col_styles", "row_styles", "cell_styles", "widths", "links", "heights"):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "merges", tuple(self.merges))
        object.__setattr__(self, "charts", tuple(self.charts))
        for style in {*self.col_styles.values(), *self.row_styles.values(),
                      *self.cell_styles.values()}:
            resolve_style(style)
        for key in (*self.col_styles, *self.widths):
            if not 0 <= key < MAX_COLS:
                raise ValueError(f"column index out of range: {key}")
        for key in self.row_styles:
            if not 0 <= key < MAX_ROWS:
                raise ValueError(f"row index out of range: {key}")
        for r, c in (*self.cell_styles, *self.links):
            if not (0 <= r < MAX_ROWS and 0 <= c < MAX_COLS):
                raise ValueError(f"cell index out of range: {(r, c)}")
        for target in self.links.values():
            if not target or _ILLEGAL_RE.search(target) or "\n" in target or "\r" in target:
                raise ValueError(f"bad hyperlink location: {target!r}")
        for w in self.widths.values():
            if not 0 <= w <= 255:
                raise ValueError(f"column width out of range: {w}")
        heights = self.heights
        if heights and not (min(heights) >= 0 and max(heights) < MAX_ROWS
                            and min(heights.values()) >= 0 and max(heights.values()) <= 409
                            and math.isfinite(math.fsum(heights.values()))):  # no NaN
            r, h = next((r, h) for r, h in heights.items()
                        if not (0 <= r < MAX_ROWS and 0 <= h <= 409))
            raise ValueError(f"row height out of range: row {r}, {h} points")
        if self.freeze is not None and (min(self.freeze) < 0 or self.freeze == (0, 0)):
            raise ValueError(f"freeze needs (rows, cols) with one of them > 0: {self.freeze}")
        if self.autofilter is not None:
            parse_range(self.autofilter)
        for rule in self.rules:
            _check_sqref(rule.range)
        boxes = [parse_range(m) for m in self.merges]
        for i, a in enumerate(boxes):
            if a[0] == a[2] and a[1] == a[3]:
                raise ValueError(f"merge of a single cell: {self.merges[i]}")
            for j in range(i):
                b = boxes[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    raise ValueError(f"merged ranges overlap: {self.merges[j]} and "
                                     f"{self.merges[i]}")
        if self.print_title_rows is not None:
            first, last = self.print_title_rows
            if not 1 <= first <= last <= MAX_ROWS:
                raise ValueError(f"print_title_rows must be 1-based (first, last): "
                                 f"{self.print_title_rows}")

    @property
    def width(self) -> int:
        """Number of columns used."""
        return max((len(r) for r in self.rows), default=0)


def table_sheet(
    headers: Sequence[str],
    rows: Iterable[Sequence[CellValue]],
    *,
    title: str | None = None,
    col_styles: Sequence[str | None] = (),
    widths: Sequence[float | None] = (),
    links: Mapping[tuple[int, int], str] | None = None,
    cell_styles: Mapping[tuple[int, int], str] | None = None,
    rules: Sequence[CondRule] = (),
    freeze_cols: int = 0,
    landscape: bool = True,
    print_header: str | None = None,
    fit_width: bool = True,
    heights: Mapping[int, float] | None = None,
) -> SheetContent:
    """The usual tool sheet: an optional title row, one header row, then the data.

    Row 1 is the title (bold, merged across the table) when ``title`` is given; the header
    row follows it, frozen, filtered and repeated on every printed page; then the data.
    ``links`` and ``cell_styles`` are keyed by (data row, column), 0-based. A rule whose
    range is bare column letters (``"C"`` or ``"C:E"``) covers those columns' data rows.
    The page is landscape and one page wide (unless ``fit_width`` is False); ``heights``
    are as :attr:`SheetContent.heights` (keyed by sheet row, 0-based).
    """
    data = [tuple(r) for r in rows]
    ncols = max(len(headers), max((len(r) for r in data), default=0))
    last = schema.col_letter(max(ncols, 1) - 1)
    top: list[tuple[CellValue, ...]] = []
    row_styles: dict[int, str] = {}
    merges: list[str] = []
    if title is not None:
        top.append((title,))
        row_styles[0] = "title"
        if ncols > 1:
            merges.append(f"A1:{last}1")
    head = len(top)  # 0-based index of the header row
    row_styles[head] = "header"
    first_data = head + 1  # 0-based index of the first data row
    end_row = max(first_data + len(data), first_data + 1)  # 1-based last data row (>= one)

    def expand(ref: str) -> str:
        if re.fullmatch(r"[A-Z]{1,3}(?::[A-Z]{1,3})?", ref):
            a, _, b = ref.partition(":")
            return f"{a}{first_data + 1}:{b or a}{end_row}"
        return ref

    return SheetContent(
        rows=(*top, tuple(headers), *data),
        col_styles={i: s for i, s in enumerate(col_styles) if s},
        row_styles=row_styles,
        cell_styles={(r + first_data, c): s for (r, c), s in (cell_styles or {}).items()},
        widths={i: w for i, w in enumerate(widths) if w is not None},
        freeze=(first_data, freeze_cols),
        autofilter=f"A{head + 1}:{last}{max(first_data + len(data), head + 1)}",
        links={(r + first_data, c): t for (r, c), t in (links or {}).items()},
        rules=tuple(CondRule(expand(x.range), x.op, x.value, x.style) for x in rules),
        merges=merges,
        landscape=landscape,
        fit_width=fit_width,
        print_title_rows=(head + 1, head + 1),
        print_header=print_header,
        heights=heights or {},
    )


# --- the Log ------------------------------------------------------------------------------

LOG_HEADERS: tuple[str, ...] = (
    "时间 (time)", "命令 (command)", "级别 (level)", "内容 (message)", "文件 (file)",
)


@dataclass(frozen=True)
class LogEntry:
    """One line of the Log sheet."""

    time: dt.datetime
    command: str
    message: str
    level: str = "info"  # info | warning | error
    file: str = ""

    def row(self) -> tuple[CellValue, ...]:
        return (self.time, self.command, self.level, self.message, self.file)


def _log_content(rows: Sequence[Sequence[CellValue]]) -> SheetContent:
    return table_sheet(
        LOG_HEADERS, rows[-LOG_MAX_ROWS:],
        col_styles=("datetime", None, None, "wrap", None),
        widths=(17, 16, 10, 70, 40),
        rules=(CondRule("C", "==", "error", "red"), CondRule("C", "==", "warning", "amber")),
        print_header="日志 (Log)",
    )


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_tool_sheets` did."""

    path: Path
    sheets: tuple[str, ...]
    changed_parts: tuple[str, ...]
    styles_added: int
    backup: Path | None
    cleaned: tuple[str, ...]  # "Problems!C5: ..." for text that had to be changed
    notes: tuple[str, ...]
    seconds: float

    def summary(self) -> str:
        """One line for the user: what was written where, and the backup."""
        if not self.sheets:
            return f"{self.path.name}: nothing to write"
        backup = f"; backup {self.backup.parent.name}/{self.backup.name}" if self.backup else ""
        cleaned = f"; {len(self.cleaned)} cell text(s) cleaned" if self.cleaned else ""
        return (f"{self.path.name}: wrote {', '.join(self.sheets)} in {self.seconds:.1f} s"
                f"{backup}{cleaned}")


# --- XML helpers --------------------------------------------------------------------------

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_M = "{" + MAIN_NS + "}"
_R = "{" + REL_NS + "}"
_P = "{" + PKG_REL_NS + "}"

_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPED_RE = re.compile("(_x[0-9A-Fa-f]{4}_)")
_TEXT_WORK_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff&<>\r]|_x")
"""A text needing more than copying into a cell: to clean, to escape, or ``_xHHHH_``."""
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"})


def _attr(value: object) -> str:
    return str(value).translate(_ATTR_ESCAPES)


_XML_ERRORS: tuple[type[Exception], ...] = (ET.ParseError, DefusedXmlException,
                                            UnicodeDecodeError)


_PART_ERRORS: tuple[type[Exception], ...] = (_BadPart, *_XML_ERRORS)


def _parse(data: bytes | str) -> ET.Element:
    """Parse XML from the workbook (untrusted: no entities, no DTDs)."""
    return cast(ET.Element, _defused_fromstring(data))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _serialize(el: ET.Element) -> str:
    """Re-emit a kept element with the main namespace unprefixed and ``r:`` for rel ids.

    Elements and attributes of other namespaces (``x14ac:``, ``mc:``...) are left out:
    the new sheet declares only the two namespaces it uses.
    """
    if not el.tag.startswith(_M):
        return ""
    name = el.tag[len(_M):]
    attrs = []
    for key, value in el.attrib.items():
        if key.startswith(_R):
            attrs.append(f' r:{key[len(_R):]}="{_attr(value)}"')
        elif not key.startswith("{"):
            attrs.append(f' {key}="{_attr(value)}"')
    inner = (el.text or "").translate(_TEXT_ESCAPES) + "".join(_serialize(c) for c in el)
    return f"<{name}{''.join(attrs)}>{inner}</{name}>" if inner else f"<{name}{''.join(attrs)}/>"


# --- zip package ----------------------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")
_CDIR = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")


@dataclass(frozen=True)
class _Entry:
    name: str
    offset: int  # of the local header
    end: int  # end of the local record (data and descriptor), exclusive
    record: bytes  # the raw central-directory record
    time: int
    date: int
    external_attr: int
    create: bytes  # "version made by" (2 bytes)


def _not_workbook(path: Path, why: str) -> WriteRefused:
    return WriteRefused(f"{path.name} is not a valid Excel workbook ({why}); nothing was "
                        f"written. Open it in Excel and save it as .xlsm, or restore a backup.")


def _read_index(f: IO[bytes], path: Path) -> tuple[list[_Entry], bytes]:
    """The zip's entries in central-directory order, and its comment (raw zip parsing)."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    tail_len = min(size, _EOCD.size + 65535)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        raise _not_workbook(path, "no zip directory")
    _, disk, cd_disk, _n_disk, n_total, cd_size, cd_offset, comment_len = _EOCD.unpack_from(
        tail, pos)
    eocd_at = size - tail_len + pos
    if disk or cd_disk:
        raise _not_workbook(path, "multi-volume zip")
    if (0xFFFF in (n_total,) or 0xFFFFFFFF in (cd_size, cd_offset)
            or tail[max(0, pos - 20):pos].startswith(b"PK\x06\x07")):
        raise WriteRefused(f"{path.name} is a ZIP64 archive (over 4 GB or 65,535 parts); "
                           f"the tool cannot rewrite it. Nothing was written.")
    if cd_offset + cd_size != eocd_at:
        raise _not_workbook(path, "data before or inside the zip directory")
    comment = tail[pos + _EOCD.size:pos + _EOCD.size + comment_len]
    f.seek(cd_offset)
    cd = f.read(cd_size)
    raw: list[tuple[str, int, bytes, tuple[int, ...]]] = []
    p = 0
    for _ in range(n_total):
        if cd[p:p + 4] != b"PK\x01\x02" or p + _CDIR.size > len(cd):
            raise _not_workbook(path, "damaged zip directory")
        fields_ = _CDIR.unpack_from(cd, p)
        flags, n_len, x_len, c_len, offset = fields_[5], fields_[12], fields_[13], fields_[14], \
            fields_[18]
        name_b = cd[p + _CDIR.size:p + _CDIR.size + n_len]
        name = name_b.decode("utf-8" if flags & 0x800 else "cp437")
        rec_len = _CDIR.size + n_len + x_len + c_len
        raw.append((name, offset, cd[p:p + rec_len], fields_))
        p += rec_len
    if p != len(cd):
        raise _not_workbook(path, "damaged zip directory")
    ends = sorted({offset for _, offset, _, _ in raw} | {cd_offset})
    entries: list[_Entry] = []
    seen: set[str] = set()
    for name, offset, record, fl in raw:
        if name in seen or offset >= cd_offset:
            raise _not_workbook(path, f"bad zip entry {name!r}")
        seen.add(name)
        f.seek(offset)
        if f.read(4) != b"PK\x03\x04":
            raise _not_workbook(path, f"bad zip entry {name!r}")
        end = ends[ends.index(offset) + 1]
        entries.append(_Entry(name, offset, end, record, fl[7], fl[8], fl[17], record[4:6]))
    return entries, comment


def _copy_range(src: IO[bytes], dst: IO[bytes], start: int, length: int) -> None:
    src.seek(start)
    while length > 0:
        chunk = src.read(min(length, 1 << 20))
        if not chunk:
            raise OSError("unexpected end of the workbook file")
        dst.write(chunk)
        length -= len(chunk)


_FAST_PACK = 4 * 1024 * 1024
_NEW_PART_TIME, _NEW_PART_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00, as built


def _write_zip(src: IO[bytes], entries: Sequence[_Entry], comment: bytes,
               replace: Mapping[str, _PartData], drop: frozenset[str], dst: IO[bytes],
               add: Mapping[str, bytes] | None = None) -> None:
    """Copy ``entries`` raw from ``src``, swapping in ``replace`` and leaving out ``drop``;
    the parts of ``add`` follow, in its order, with fixed timestamps. A part already
    packed while it was rendered (:class:`_Packed`) is written as it is."""
    records: list[bytes] = []
    new = [_Entry(name, 0, 0, b"", _NEW_PART_TIME, _NEW_PART_DATE, 0o600 << 16, b"\x14\x03")
           for name in (add or {})]
    replace = {**replace, **(add or {})}
    for e in (*entries, *new):
        if e.name in drop:
            continue
        pos = dst.tell()
        if pos >= 0xFFFFFFFF:
            raise WriteRefused("the workbook would exceed 4 GB; nothing was written.")
        data = replace.get(e.name)
        if data is None:
            _copy_range(src, dst, e.offset, e.end - e.offset)
            records.append(e.record[:42] + struct.pack("<L", pos) + e.record[46:])
            continue
        if isinstance(data, _Packed):
            chunks, crc, size = data.chunks, data.crc, data.size
        else:
            # a large part (a long Workings sheet) packs at level 1: 3x faster, 30 % larger
            packer = zlib.compressobj(1 if len(data) > _FAST_PACK else 6, zlib.DEFLATED, -15)
            chunks, crc, size = (packer.compress(data) + packer.flush(),), zlib.crc32(data), \
                len(data)
        comp_size = sum(len(c) for c in chunks)
        if size >= 0xFFFFFFFF or comp_size >= 0xFFFFFFFF:
            raise WriteRefused("a part of the workbook would exceed 4 GB; nothing was written.")
        name_b = e.name.encode("utf-8")
        flags = 0 if name_b.isascii() else 0x800
        dst.write(_LOCAL.pack(b"PK\x03\x04", 20, 0, flags, 8, e.time, e.date, crc, comp_size,
                              size, len(name_b), 0) + name_b)
        for chunk in chunks:
            dst.write(chunk)
        records.append(_CDIR.pack(b"PK\x01\x02", e.create[0], e.create[1], 20, 0, flags, 8,
                                  e.time, e.date, crc, comp_size, size, len(name_b), 0, 0,
                                  0, 0, e.external_attr, pos) + name_b)
    cd_start = dst.tell()
    for rec in records:
        dst.write(rec)
    cd_size = dst.tell() - cd_start
    dst.write(_EOCD.pack(b"PK\x05\x06", 0, 0, len(records), len(records), cd_size, cd_start,
                         len(comment)) + comment)


# --- the package's structure ------------------------------------------------------------


@dataclass(frozen=True)
class _SheetRef:
    name: str
    sheet_id: str
    index: int  # position in <sheets>, for localSheetId
    part: str


def _rels_path(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", base + ".rels")


def _resolve(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target)).lstrip("/")


class _Package:
    """Read access to the workbook's parts and where things are."""

    def __init__(self, f: IO[bytes], path: Path) -> None:
        self.path = path
        self.entries, self.comment = _read_index(f, path)
        self.names = {e.name for e in self.entries}
        try:
            self.zip = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _not_workbook(path, str(exc)) from None
        root_rels = self._rels("_rels/.rels", "")
        doc = [t for typ, t in root_rels.values() if typ.endswith("/officeDocument")]
        if not doc or doc[0] not in self.names:
            raise _not_workbook(path, "no workbook part")
        self.workbook_part = doc[0]
        self.workbook_rels_part = _rels_path(self.workbook_part)
        self.workbook_xml = self.read(self.workbook_part)
        try:
            wb = _parse(self.workbook_xml)
        except _XML_ERRORS as exc:
            raise _not_workbook(path, f"workbook.xml: {exc}") from None
        if wb.tag != _M + "workbook":
            raise WriteRefused(f"{path.name} is saved as Strict Open XML, which the tool cannot "
                               f"update. Save it in Excel as 'Excel Macro-Enabled Workbook'.")
        rels = self._rels(self.workbook_rels_part, self.workbook_part)
        self.sheets: dict[str, _SheetRef] = {}
        sheets_el = wb.find(_M + "sheets")
        for i, sh in enumerate(sheets_el if sheets_el is not None else ()):
            rid = sh.get(_R + "id", "")
            if rid in rels and rels[rid][0].endswith("/worksheet"):
                name = sh.get("name", "")
                self.sheets[name] = _SheetRef(name, sh.get("sheetId", ""), i, rels[rid][1])
        pr = wb.find(_M + "workbookPr")
        self.date1904 = pr is not None and pr.get("date1904", "0") in ("1", "true")
        by_type = {typ.rsplit("/", 1)[-1]: t for typ, t in rels.values()}
        self.styles_part = by_type.get("styles")
        self.calc_chain_part = by_type.get("calcChain")

    def read(self, part: str) -> bytes:
        try:
            info = self.zip.getinfo(part)
            if info.file_size > _MAX_PART:
                raise WriteRefused(f"{self.path.name}: part {part} is too large "
                                   f"({info.file_size:,} bytes); nothing was written.")
            return self.zip.read(info)
        except (KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise _not_workbook(self.path, f"{part}: {exc}") from None

    def _rels(self, part: str, source: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, resolved target part) of internal relationships."""
        if part not in self.names:
            raise _not_workbook(self.path, f"missing {part}")
        try:
            root = _parse(self.read(part))
        except _XML_ERRORS as exc:
            raise _not_workbook(self.path, f"{part}: {exc}") from None
        out: dict[str, tuple[str, str]] = {}
        for rel in root.iter(_P + "Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            out[rel.get("Id", "")] = (rel.get("Type", ""),
                                     _resolve(source, rel.get("Target", "")))
        return out


# --- styles.xml -------------------------------------------------------------------------

_STYLE_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs",
                "cellStyles", "dxfs", "tableStyles", "colors", "extLst")
_FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u",
               "vertAlign", "sz", "color", "name", "family", "charset", "scheme")
_BUILTIN_FORMATS = MappingProxyType({
    "General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10,
})

# a generated element: (tag, ((attr, value), ...), (children...))
_E = tuple[str, tuple[tuple[str, str], ...], tuple[Any, ...]]


def _key_of_el(el: ET.Element) -> object:
    return (el.tag, tuple(sorted(el.attrib.items())), tuple(_key_of_el(c) for c in el))


def _key_of_e(e: _E) -> object:
    tag, attrs, children = e
    return (_M + tag, tuple(sorted(attrs)), tuple(_key_of_e(c) for c in children))


def _e_from_el(el: ET.Element) -> _E | None:
    if not el.tag.startswith(_M) or any(k.startswith("{") for k in el.attrib):
        return None
    kids = tuple(k for k in (_e_from_el(c) for c in el) if k is not None)
    return (el.tag[len(_M):], tuple(el.attrib.items()), kids)


class _Styles:
    """Find or append the cellXfs and dxfs that named styles need, by addition only."""

    def __init__(self, xml: bytes) -> None:
        self.original = xml
        self.text = xml.decode("utf-8")
        root = _parse(xml)
        if root.tag != _M + "styleSheet":
            raise _BadPart("no styleSheet")
        m = re.search(r"<(\w+:)?styleSheet[\s>]", self.text)
        self.prefix = (m.group(1) or "") if m else ""
        self.keys: dict[str, list[object]] = {}
        self.new: dict[str, list[str]] = {}
        for coll in ("numFmts", "fonts", "fills", "borders", "cellXfs", "dxfs"):
            el = root.find(_M + coll)
            kids = list(el) if el is not None else []
            self.keys[coll] = [_key_of_el(k) for k in kids]
            self.new[coll] = []
        nf = root.find(_M + "numFmts")
        self.formats = {x.get("formatCode", ""): int(x.get("numFmtId", "0"))
                        for x in (nf if nf is not None else ())}
        fonts = root.find(_M + "fonts")
        base = _e_from_el(fonts[0]) if fonts is not None and len(fonts) else None
        self.base_font: _E = base or ("font", (), (
            ("sz", (("val", "11"),), ()), ("color", (("theme", "1"),), ()),
            ("name", (("val", "Calibri"),), ()), ("family", (("val", "2"),), ()),
            ("scheme", (("val", "minor"),), ())))
        self.xf_cache: dict[CellStyle, int] = {}
        self.dxf_cache: dict[DiffStyle, int] = {}

    @property
    def added(self) -> int:
        return sum(len(v) for v in self.new.values())

    def _render(self, e: _E) -> str:
        tag, attrs, children = e
        p = self.prefix
        a = "".join(f' {k}="{_attr(v)}"' for k, v in attrs)
        if not children:
            return f"<{p}{tag}{a}/>"
        return f"<{p}{tag}{a}>{''.join(self._render(c) for c in children)}</{p}{tag}>"

    def _index(self, coll: str, e: _E) -> int:
        key = _key_of_e(e)
        keys = self.keys[coll]
        if key in keys:
            return keys.index(key)
        keys.append(key)
        self.new[coll].append(self._render(e))
        return len(keys) - 1

    def _num_fmt(self, code: str | None) -> int:
        if code is None:
            return 0
        if code in _BUILTIN_FORMATS:
            return _BUILTIN_FORMATS[code]
        if code not in self.formats:
            new_id = max([163, *self.formats.values()]) + 1
            self.formats[code] = new_id
            self._index("numFmts", ("numFmt", (("numFmtId", str(new_id)),
                                               ("formatCode", code)), ()))
        return self.formats[code]

    def _font(self, s: CellStyle) -> int:
        if not (s.bold or s.underline or s.size or s.color):
            return 0
        drop = {"b", "u", "sz", "color"}
        kids: list[_E] = [k for k in self.base_font[2] if k[0] not in drop]
        size = [k for k in self.base_font[2] if k[0] == "sz"]
        color = [k for k in self.base_font[2] if k[0] == "color"]
        if s.bold:
            kids.append(("b", (), ()))
        if s.underline:
            kids.append(("u", (), ()))
        kids.append(("sz", (("val", f"{s.size:g}"),), ()) if s.size else
                    (size[0] if size else ("sz", (("val", "11"),), ())))
        if s.color:
            kids.append(("color", (("rgb", s.color),), ()))
        elif color:
            kids.append(color[0])
        order = {n: i for i, n in enumerate(_FONT_ORDER)}
        kids.sort(key=lambda k: order.get(k[0], len(order)))
        return self._index("fonts", ("font", (), tuple(kids)))

    def xf(self, s: CellStyle) -> int:
        if s in self.xf_cache:
            return self.xf_cache[s]
        num = self._num_fmt(s.num_format)
        font = self._font(s)
        fill = 0 if not s.fill else self._index("fills", ("fill", (), (
            ("patternFill", (("patternType", "solid"),), (
                ("fgColor", (("rgb", s.fill),), ()), ("bgColor", (("indexed", "64"),), ()))),)))
        border = 0 if not s.border_bottom else self._index("borders", ("border", (), (
            ("left", (), ()), ("right", (), ()), ("top", (), ()),
            ("bottom", (("style", "thin"),), (("color", (("auto", "1"),), ()),)),
            ("diagonal", (), ()))))
        align = tuple((k, v) for k, v in (("horizontal", s.horizontal),
                                          ("vertical", s.vertical),
                                          ("wrapText", "1" if s.wrap else None)) if v)
        attrs = [("numFmtId", str(num)), ("fontId", str(font)), ("fillId", str(fill)),
                 ("borderId", str(border)), ("xfId", "0")]
        attrs += [(k, "1") for k, v in (("applyNumberFormat", num), ("applyFont", font),
                                       ("applyFill", fill), ("applyBorder", border),
                                       ("applyAlignment", align)) if v]
        children = (("alignment", align, ()),) if align else ()
        index = 0 if s == CellStyle() else self._index("cellXfs", ("xf", tuple(attrs), children))
        self.xf_cache[s] = index
        return index

    def dxf(self, d: DiffStyle) -> int:
        if d in self.dxf_cache:
            return self.dxf_cache[d]
        parts: list[_E] = []
        font = tuple(x for x in (("b", (), ()) if d.bold else None,
                                 ("color", (("rgb", d.color),), ()) if d.color else None) if x)
        if font:
            parts.append(("font", (), font))
        if d.fill:
            parts.append(("fill", (), (("patternFill", (), (
                ("bgColor", (("rgb", d.fill),), ()),)),)))
        index = self._index("dxfs", ("dxf", (), tuple(parts)))
        self.dxf_cache[d] = index
        return index

    def result(self) -> bytes | None:
        """The new styles.xml, or None when nothing had to be added."""
        if not self.added:
            return None
        text = self.text
        p = re.escape(self.prefix)
        for coll, frags in self.new.items():
            if not frags:
                continue
            count = len(self.keys[coll])
            m = re.search(rf"<{p}{coll}(?=[\s/>])[^>]*?(/?)>", text)
            if m:
                open_tag = m.group(0)[:-2] if m.group(1) else m.group(0)[:-1]
                if re.search(r'\scount="[^"]*"', open_tag):
                    open_tag = re.sub(r'(\s)count="[^"]*"', rf'\g<1>count="{count}"', open_tag)
                else:
                    open_tag = open_tag.rstrip() + f' count="{count}"'
                if m.group(1):
                    text = (text[:m.start()] + open_tag + ">" + "".join(frags)
                            + f"</{self.prefix}{coll}>" + text[m.end():])
                else:
                    close = text.index(f"</{self.prefix}{coll}>", m.end())
                    text = (text[:m.start()] + open_tag + ">" + text[m.end():close]
                            + "".join(frags) + text[close:])
                continue
            block = (f'<{self.prefix}{coll} count="{count}">' + "".join(frags)
                     + f"</{self.prefix}{coll}>")
            at = text.index(f"</{self.prefix}styleSheet>")
            for later in _STYLE_ORDER[_STYLE_ORDER.index(coll) + 1:]:
                m2 = re.search(rf"<{p}{later}(?=[\s/>])", text)
                if m2:
                    at = m2.start()
                    break
            text = text[:at] + block + text[at:]
        return text.encode("utf-8")


# --- workbook.xml: print titles -----------------------------------------------------------

_DEFINED_NAME_RE = re.compile(r"<(\w+:)?definedName\b([^>]*)>(.*?)</(?:\w+:)?definedName>", re.S)
_XML_ATTR_RE = re.compile(r'([\w:]+)\s*=\s*"([^"]*)"')


def _quote_sheet(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not _CELL_RE.fullmatch(name.upper()):
        return name
    return "'" + name.replace("'", "''") + "'"


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _set_print_titles(xml: str, ref: _SheetRef, rows: tuple[int, int]) -> str | None:
    """workbook.xml with the sheet's print titles set to ``rows``; None if already so."""
    value = f"{_quote_sheet(ref.name)}!${rows[0]}:${rows[1]}"
    wanted = value.replace("'", "")
    prefix = ""
    mm = re.search(r"<(\w+:)?workbook[\s>]", xml)
    if mm and mm.group(1):
        prefix = mm.group(1)
    element = (f'<{prefix}definedName name="_xlnm.Print_Titles" localSheetId="{ref.index}">'
               f"{_attr(value)}</{prefix}definedName>")
    for m in _DEFINED_NAME_RE.finditer(xml):
        attrs = dict(_XML_ATTR_RE.findall(m.group(2)))
        if attrs.get("name") == "_xlnm.Print_Titles" and attrs.get("localSheetId") == str(
                ref.index):
            if _unescape(m.group(3)).replace("'", "") == wanted:
                return None
            return xml[:m.start()] + element + xml[m.end():]
    block = f"<{prefix}definedNames>{element}</{prefix}definedNames>"
    names = re.search(r"<(\w+:)?definedNames\s*>", xml)
    if names:
        return xml[:names.end()] + element + xml[names.end():]
    names = re.search(r"<(\w+:)?definedNames\s*/>", xml)
    if names:
        return xml[:names.start()] + block + xml[names.end():]
    at = -1
    for pattern in (r"</(?:\w+:)?sheets>", r"</(?:\w+:)?functionGroups>|<(?:\w+:)?functionGroups"
                    r"[^>]*/>", r"</(?:\w+:)?externalReferences>"):
        for found in re.finditer(pattern, xml):
            at = max(at, found.end())
    if at < 0:
        return None
    return xml[:at] + block + xml[at:]


# --- calcChain.xml ------------------------------------------------------------------------

_CALC_C_RE = re.compile(r"<(?:\w+:)?c\b[^>]*?/>")


def _filter_calc_chain(xml: bytes, sheet_ids: set[str]) -> tuple[bytes | None, bool]:
    """The calc chain without entries of ``sheet_ids``: (new xml or None if unchanged, empty)."""
    text = xml.decode("utf-8")
    kept: list[str] = []
    current = ""
    written_sheet = None
    removed = 0
    for m in _CALC_C_RE.finditer(text):
        tag = m.group(0)
        found = re.search(r'\si="(\d+)"', tag)
        if found:
            current = found.group(1)
        if current in sheet_ids:
            removed += 1
            continue
        if not found and written_sheet != current:
            tag = re.sub(r"^(<(?:\w+:)?c)\b", rf'\1 i="{current}"', tag)
        kept.append(tag)
        written_sheet = current
    if not removed:
        return None, False
    if not kept:
        return b"", True
    first = _CALC_C_RE.search(text)
    last = list(_CALC_C_RE.finditer(text))[-1]
    assert first is not None
    return (text[:first.start()] + "".join(kept) + text[last.end():]).encode("utf-8"), False


# --- rendering one sheet --------------------------------------------------------------------

_EPOCH_1900 = dt.date(1899, 12, 30)
_EPOCH_1904 = dt.date(1904, 1, 1)
_KEEP_BEFORE_DATA = ("sheetFormatPr",)
_KEEP_AFTER = ("sheetProtection", "protectedRanges")
_KEEP_TAIL = ("drawing", "legacyDrawing", "legacyDrawingHF", "picture", "oleObjects",
              "controls", "webPublishItems")


def _serial(value: dt.date, date1904: bool) -> float | None:
    """Excel's serial number of a date or datetime; None before 1900-03-01 (1904-01-01)."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if date1904:
        days = (day - _EPOCH_1904).days
    else:
        days = (day - _EPOCH_1900).days
        if days < 61:  # before 1900-03-01 Excel's serials are off by its phantom 1900-02-29
            return None
    if days < 0:
        return None
    if isinstance(value, dt.datetime):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return days + seconds / 86400
    return days


def _clean_text(text: str) -> tuple[str, str]:
    """Text fit for a cell, and a note when it had to change ('' when not)."""
    note = ""
    if _ILLEGAL_RE.search(text):
        n = len(_ILLEGAL_RE.findall(text))
        text = _ILLEGAL_RE.sub("", text)
        note = f"removed {n} control character{'s' if n > 1 else ''}"
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        note = (note + "; " if note else "") + f"cut to Excel's {MAX_TEXT:,} characters"
    return text, note


def _col_width(width: float) -> float:
    """XlsxWriter's conversion of a width in characters to the stored column width."""
    if width <= 0:
        return 0.0
    pixels = int(width * 12 + 0.5) if width < 1 else int(width * 7 + 0.5) + 5
    return int(pixels / 7 * 256) / 256


_MAX_DECIMAL = Decimal("1e308")
_BIG_INT = 10**15  # larger ints go through Decimal (and become #NUM! beyond 1e308)


def _number(value: Decimal | float) -> str | None:
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) > _MAX_DECIMAL:
            return None
        return format(value, "f") if -20 <= value.adjusted() <= 20 else str(value)
    if not math.isfinite(value):
        return None
    return repr(value)


@dataclass(frozen=True)
class _Packed:
    """A part compressed while it was rendered: raw deflate chunks, CRC and size."""

    chunks: tuple[bytes, ...]
    crc: int
    size: int


_PartData = bytes | _Packed


class _Packer:
    """Deflate a stream of chunks on a second thread while the caller renders the next.

    zlib and crc32 release the GIL, so the packing runs on another core; the queue is
    bounded, so no more than a few chunks wait in memory.
    """

    def __init__(self, level: int) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._out: list[bytes] = []
        self._crc = 0
        self._size = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sheetwriter-pack",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                break
            if self._error is not None:
                continue  # drain: the producer must never block on a dead consumer
            try:
                self._crc = zlib.crc32(chunk, self._crc)
                self._size += len(chunk)
                packed = self._packer.compress(chunk)
                if packed:
                    self._out.append(packed)
            except BaseException as exc:  # reported by close()
                self._error = exc
        if self._error is None:
            try:
                self._out.append(self._packer.flush())
            except BaseException as exc:
                self._error = exc

    def feed(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def close(self) -> _Packed:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return _Packed(tuple(self._out), self._crc, self._size)

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        self._queue.put(None)
        self._thread.join()


class _Sink:
    """Collects a rendered part: as bytes while it is small, packed (level 1, on a second
    thread) once it passes :data:`_FAST_PACK` bytes, so a long sheet's text is never held
    whole, neither as text nor as bytes."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._held = 0
        self._packer: _Packer | None = None

    def write(self, data: bytes) -> None:
        if self._packer is not None:
            self._packer.feed(data)
            return
        self._pieces.append(data)
        self._held += len(data)
        if self._held > _FAST_PACK:
            # a large part (a long Workings sheet) packs at level 1: 3x faster, 30 % larger
            self._packer = _Packer(1)
            for piece in self._pieces:
                self._packer.feed(piece)
            self._pieces = []

    def close(self) -> _PartData:
        if self._packer is not None:
            return self._packer.close()
        return b"".join(self._pieces)

    def abort(self) -> None:
        if self._packer is not None:
            self._packer.abort()


@dataclass(frozen=True)
class _Rendered:
    xml: _PartData
    cleaned: list[str]


_SHEET_DATA_RE = re.compile(rb"<(\w+:)?sheetData[\s/>]")
_SHEET_DATA_END_RE = re.compile(rb"</(\w+:)?sheetData\s*>")
_READ_CHUNK = 1 << 20


def _old_frame(pkg: _Package, part: str) -> bytes:
    """An existing sheet part without its sheetData, read in chunks: a long sheet (the
    Workings of the last refresh) is never held whole."""
    try:
        info = pkg.zip.getinfo(part)
        if info.file_size <= _READ_CHUNK:
            return _cut_sheet_data(pkg.read(part))
        with pkg.zip.open(info) as f:
            head = b""
            while True:  # up to the start of sheetData
                chunk = f.read(_READ_CHUNK)
                head += chunk
                m = _SHEET_DATA_RE.search(head)
                if m or not chunk:
                    break
            if m is None:
                return head
            gt = head.find(b">", m.start())
            while gt < 0:
                chunk = f.read(_READ_CHUNK)
                if not chunk:
                    raise _BadPart("unterminated sheetData")
                head += chunk
                gt = head.find(b">", m.start())
            if head[gt - 1:gt] == b"/":
                return head[:m.start()] + head[gt + 1:] + f.read()
            rest = head[gt + 1:]
            head = head[:m.start()]
            while True:  # skip the rows, keeping a little overlap for a split end tag
                end = _SHEET_DATA_END_RE.search(rest)
                if end:
                    return head + rest[end.end():] + f.read()
                chunk = f.read(_READ_CHUNK)
                if not chunk:
                    raise _BadPart("unterminated sheetData")
                rest = rest[-64:] + chunk
    except (KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise _not_workbook(pkg.path, f"{part}: {exc}") from None


def _cut_sheet_data(xml: bytes) -> bytes:
    m = _SHEET_DATA_RE.search(xml)
    if not m:
        return xml
    gt = xml.find(b">", m.start())
    if gt < 0:
        raise _BadPart("unterminated sheetData")
    if xml[gt - 1:gt] == b"/":
        return xml[:m.start()] + xml[gt + 1:]
    end = _SHEET_DATA_END_RE.search(xml, gt)
    if end is None:
        raise _BadPart("unterminated sheetData")
    return xml[:m.start()] + xml[end.end():]


_CHUNK_ROWS = 2048  # rows rendered, encoded and packed at a time
_CONTROL_BYTES = bytes(c for c in range(0x20) if c not in (0x09, 0x0A))
"""Control characters a text may not hold as it is (removed, or ``\r`` escaped)."""


def _plain_texts(values: Sequence[str]) -> Sequence[str] | None:
    """``values`` escaped for XML when every one is a text needing nothing more than
    ``& < >`` escaped (see :data:`_TEXT_WORK_RE`: no control character, ``_xHHHH_`` or
    white space at either end; no more than Excel's characters); else None.

    One pass over all of them at C speed instead of a regex search per text.
    """
    if tuple(map(str.strip, values)) != tuple(values) or max(map(len, values)) > MAX_TEXT:
        return None
    joined = "\n".join(values)
    try:
        data = joined.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if (len(data.translate(None, _CONTROL_BYTES)) != len(data) or b"_x" in data
            or b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data):  # U+FFFE, U+FFFF
        return None
    if b"&" in data or b"<" in data or b">" in data:
        if joined.count("\n") != len(values) - 1:
            return None  # a text holds a line break: escape them one by one
        return joined.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split(
            "\n")
    return values


class _SheetRenderer:
    """The ``<row>`` elements of one sheet, rendered in chunks of rows.

    Rows without a row style (the bulk of a long sheet) go column by column: a column's
    cells share their style attribute, and a column of plain texts is checked in one go.
    Rows with a row style (title, header), cells with a style of their own and any cell
    the column pass cannot take as it is go through :meth:`cell`, the one complete rule.
    """

    def __init__(self, name: str, content: SheetContent, styles: _Styles,
                 date1904: bool) -> None:
        self.name = name
        self.content = content
        self.styles = styles
        self.date1904 = date1904
        self.ncols = ncols = content.width
        self.letters = [schema.col_letter(i) for i in range(max(ncols, 1))]
        self.col_styles = [content.col_styles.get(i) for i in range(ncols)]
        cell_styles = dict(content.cell_styles)
        for cell in content.links:
            cell_styles.setdefault(cell, "link")
        self.cell_styles = cell_styles
        rows = content.rows
        n = len(rows)
        # rows taken one by one: a row style, or a styled cell right of the row's end
        special = {r for r in content.row_styles if r < n}
        special |= {r for r, c in cell_styles if r < n and c >= len(rows[r])}
        self.special = sorted(special)
        # in the other rows, each column's cells with a style of their own, by row
        styled: dict[int, list[int]] = {}
        for r, c in cell_styles:
            if r < n and r not in special:
                styled.setdefault(c, []).append(r)
        self.styled_rows = {c: sorted(rs) for c, rs in styled.items()}
        self.cleaned: list[tuple[int, int, str]] = []
        self._xf: dict[tuple[str | None, int], int] = {}
        self._heights: dict[float | None, str] = {}
        # ' s="N"' of each column's style for a value of kind 0 (text, number), 1 (a
        # date), 2 (a date and time); None until first needed
        self._col_attr: list[list[str | None]] = [[None] * ncols for _ in range(3)]
        self.epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
        self.epoch_ordinal = self.epoch.toordinal()
        self.first_plain_date = dt.date(1904, 1, 1) if date1904 else dt.date(1900, 3, 1)
        self.first_plain_datetime = dt.datetime.combine(self.first_plain_date, dt.time())

    # --- styles

    def xf(self, style: str | None, kind: int) -> int:
        key = (style, kind)
        found = self._xf.get(key)
        if found is None:
            s = resolve_style(style) if style else CellStyle()
            if kind == 1 and s.num_format is None:
                s = s.merged(STYLES["date"])
            elif kind == 2 and s.num_format is None:
                s = s.merged(STYLES["datetime"])
            found = self._xf[key] = self.styles.xf(s)
        return found

    def col_attr(self, c: int, kind: int) -> str:
        attrs = self._col_attr[kind]
        a = attrs[c]
        if a is None:
            style = self.col_styles[c]
            a = attrs[c] = f' s="{self.xf(style, kind)}"' if style or kind else ""
        return a

    # --- one cell, every case

    def cell(self, r: int, c: int, v: object, explicit: str | None) -> str:
        """The ``<c>`` element of any value ('' for none); ``explicit`` is the cell's or
        its row's own style."""
        style = explicit or self.col_styles[c]
        ref = self.letters[c] + str(r + 1)
        t = type(v)
        if v is None or (t is str and not v):
            return f'<c r="{ref}" s="{self.xf(explicit, 0)}"/>' if explicit else ""
        if isinstance(v, Enum):
            v = v.value
            t = type(v)
        if t is str or (t is not bool and isinstance(v, str)):
            text = cast(str, v)
            if _ILLEGAL_RE.search(text) or len(text) > MAX_TEXT:
                text, note = _clean_text(text)
                self.cleaned.append((r, c, f"{self.name}!{ref}: {note}"))
            if "_x" in text:
                text = _ESCAPED_RE.sub(r"_x005F\1", text)
            body = text.translate(_TEXT_ESCAPES)
            space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() \
                else ""
            s = f' s="{self.xf(style, 0)}"' if style else ""
            return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{body}</t></is></c>'
        if t is bool:
            s = f' s="{self.xf(style, 0)}"' if style else ""
            return f'<c r="{ref}"{s} t="b"><v>{1 if v else 0}</v></c>'
        if t is int and -_BIG_INT < cast(int, v) < _BIG_INT:
            s = f' s="{self.xf(style, 0)}"' if style else ""
            return f'<c r="{ref}"{s}><v>{v}</v></c>'
        if t is Decimal or t is float:
            num = _number(cast("Decimal | float", v))
            s = f' s="{self.xf(style, 0)}"' if style else ""
            if num is None:
                return f'<c r="{ref}"{s} t="e"><v>#NUM!</v></c>'
            return f'<c r="{ref}"{s}><v>{num}</v></c>'
        if t is dt.date and cast(dt.date, v) >= self.first_plain_date:
            days = (cast(dt.date, v) - self.epoch).days
            return f'<c r="{ref}" s="{self.xf(style, 1)}"><v>{days}</v></c>'
        if isinstance(v, (dt.date, dt.datetime)):
            stamp = v
            is_dt = isinstance(stamp, dt.datetime)
            if is_dt and cast(dt.datetime, stamp).tzinfo is not None:
                stamp = cast(dt.datetime, stamp).replace(tzinfo=None)
            serial = _serial(stamp, self.date1904)
            if serial is None:  # before Excel's dates: write it as text
                return f'<c r="{ref}" t="inlineStr"><is><t>{stamp.isoformat()}</t></is></c>'
            return f'<c r="{ref}" s="{self.xf(style, 2 if is_dt else 1)}"><v>{serial!r}</v></c>'
        if isinstance(v, (int, float, Decimal)):
            num = _number(Decimal(v) if isinstance(v, int) else v)
            s = f' s="{self.xf(style, 0)}"' if style else ""
            return (f'<c r="{ref}"{s}><v>{num}</v></c>' if num is not None else
                    f'<c r="{ref}"{s} t="e"><v>#NUM!</v></c>')
        raise TypeError(f"{self.name}!{ref}: cannot write a {type(v).__name__} "
                        f"({v!r}) to a cell")

    # --- rows

    def _height_attr(self, height: float | None) -> str:
        found = self._heights.get(height)
        if found is None:
            found = self._heights[height] = (
                "" if height is None else f' ht="{height:g}" customHeight="1"')
        return found

    def _row_head(self, r: int, rn: str) -> str:
        height = self.content.heights.get(r) if self.content.heights else None
        return f'<row r="{rn}"{self._height_attr(height)}>'

    def special_row(self, r: int) -> str:
        """A row with a row style or cells styled one by one."""
        row = self.content.rows[r]
        rstyle = self.content.row_styles.get(r)
        cell_styles = self.cell_styles
        cells = [self.cell(r, c, v, cell_styles.get((r, c)) or rstyle)
                 for c, v in enumerate(row)]
        for c in range(len(row), self.ncols):  # styled blanks after a short header/title row
            if (r, c) in cell_styles:
                cells.append(f'<c r="{self.letters[c]}{r + 1}" '
                             f's="{self.xf(cell_styles[(r, c)], 0)}"/>')
        body = "".join(cells)
        return self._row_head(r, str(r + 1)) + body + "</row>" if body else ""

    def plain_rows(self, start: int, stop: int) -> str:
        """Rows ``start`` .. ``stop - 1``, none with a style of its own, column by column."""
        block = self.content.rows[start:stop]
        width = max(map(len, block), default=0)
        if not width:
            return ""
        numbers = list(map(str, range(start + 1, stop + 1)))
        columns = [self._styled_column(c, values, numbers, start, stop)
                   if c in self.styled_rows else self._column(c, values, numbers, start)
                   for c, values in enumerate(itertools.zip_longest(*block))]
        heights = self.content.heights
        if heights:
            get, ht = heights.get, self._height_attr
            heads = [f'<row r="{n}"{ht(get(r))}>' for r, n in enumerate(numbers, start)]
        else:
            heads = [f'<row r="{n}">' for n in numbers]
        if all(map(any, zip(*columns, strict=True))):
            return "".join(itertools.chain.from_iterable(zip(
                heads, *columns, itertools.repeat("</row>", len(block)), strict=False)))
        return "".join(head + "".join(row) + "</row>"
                       for head, row in zip(heads, zip(*columns, strict=True), strict=True)
                       if any(row))

    def _styled_column(self, c: int, values: tuple[Any, ...], numbers: list[str],
                       start: int, stop: int) -> list[str]:
        """A column some of whose cells have a style of their own: those by :meth:`cell`,
        the rest by the column pass (which never sees the styled ones' values)."""
        rows = self.styled_rows[c]
        mine = rows[bisect.bisect_left(rows, start):bisect.bisect_left(rows, stop)]
        if not mine:
            return self._column(c, values, numbers, start)
        rest = list(values)
        for r in mine:
            rest[r - start] = None
        out = self._column(c, tuple(rest), numbers, start)
        letter, first_date, epoch = self.letters[c], self.first_plain_date, self.epoch_ordinal
        date_attr: dict[str, str] = {}  # a styled date (the Workings' late-fee days), inline
        for r in mine:
            v, style = values[r - start], self.cell_styles[(r, c)]
            if v.__class__ is dt.date and v >= first_date:
                a = date_attr.get(style)
                if a is None:
                    a = date_attr[style] = f' s="{self.xf(style, 1)}"'
                out[r - start] = (f'<c r="{letter}{numbers[r - start]}"{a}>'
                                  f"<v>{v.toordinal() - epoch}</v></c>")
            else:
                out[r - start] = self.cell(r, c, v, style)
        return out

    def _column(self, c: int, values: tuple[Any, ...], numbers: list[str],
                start: int) -> list[str]:
        """The cells of column ``c`` of plain rows ('' where a cell stays empty)."""
        letter = self.letters[c]
        kinds = set(map(type, values))
        if kinds == {str}:  # plain texts (no subclass): one check for them all
            if not any(values):
                return [""] * len(values)
            texts = _plain_texts(values)
            if texts is not None:
                a = self.col_attr(c, 0)
                return [f'<c r="{letter}{n}"{a} t="inlineStr"><is><t>{v}</t></is></c>' if v
                        else "" for v, n in zip(texts, numbers, strict=True)]
        elif kinds <= {Decimal, type(None)}:
            a = self.col_attr(c, 0) if Decimal in kinds else ""
            # str() of a Decimal is its plain digits unless it shows an exponent: then
            # it is what format(v, "f") gives; not NaN or Infinity and |exponent| <= 20
            return ["" if v is None else
                    f'<c r="{letter}{n}"{a}><v>{s}</v></c>'
                    if len(s := str(v)) <= 20 and s[-1] not in "Ny" and "E" not in s
                    else self.cell(start + i, c, v, None)
                    for i, (v, n) in enumerate(zip(values, numbers, strict=True))]
        return self._mixed_column(c, values, numbers, start)

    def _mixed_column(self, c: int, values: tuple[Any, ...], numbers: list[str],
                      start: int) -> list[str]:
        """Cells of a column mixing texts, numbers, dates and blanks: the common cases
        inline, the rest through :meth:`cell`."""
        letter = self.letters[c]
        kinds = set(map(type, values))
        texts = [v for v in values if v.__class__ is str and v] if str in kinds else []
        plain = bool(texts) and _plain_texts(texts) is texts  # none needs anything done
        first_date, first_datetime = self.first_plain_date, self.first_plain_datetime
        # the column's style attribute for each kind of value, fetched (and so added to
        # styles.xml) only when such a value is written
        a0 = (self.col_attr(c, 0) if texts or Decimal in kinds or int in kinds else "")
        a1 = (self.col_attr(c, 1) if dt.date in kinds and any(
            v >= first_date for v in values if v.__class__ is dt.date) else "")
        a2 = (self.col_attr(c, 2) if dt.datetime in kinds and any(
            v.tzinfo is None and v >= first_datetime for v in values
            if v.__class__ is dt.datetime) else "")
        work_re = _TEXT_WORK_RE
        epoch = self.epoch_ordinal
        out: list[str] = []
        put = out.append
        for i, v in enumerate(values):
            t = v.__class__
            if v is None:
                put("")
                continue
            if t is str:
                if not v:
                    put("")
                    continue
                if plain or (work_re.search(v) is None and len(v) <= MAX_TEXT
                             and not v[0].isspace() and not v[-1].isspace()):
                    put(f'<c r="{letter}{numbers[i]}"{a0} t="inlineStr"><is><t>{v}</t></is></c>')
                    continue
            elif t is Decimal:
                s = str(v)  # as in _column
                if len(s) <= 20 and s[-1] not in "Ny" and "E" not in s:
                    put(f'<c r="{letter}{numbers[i]}"{a0}><v>{s}</v></c>')
                    continue
            elif t is int:
                if -_BIG_INT < v < _BIG_INT:
                    put(f'<c r="{letter}{numbers[i]}"{a0}><v>{v}</v></c>')
                    continue
            elif t is dt.datetime:
                if v.tzinfo is None and not v.microsecond and v >= first_datetime:
                    serial = (v.toordinal() - epoch
                              + (v.hour * 3600 + v.minute * 60 + v.second) / 86400)
                    put(f'<c r="{letter}{numbers[i]}"{a2}><v>{serial!r}</v></c>')
                    continue
            elif t is dt.date and v >= first_date:
                put(f'<c r="{letter}{numbers[i]}"{a1}><v>{v.toordinal() - epoch}</v></c>')
                continue
            put(self.cell(start + i, c, v, None))
        return out

    def chunks(self) -> Iterator[str]:
        """The rows' XML, a few thousand rows at a time."""
        n = len(self.content.rows)
        pieces: list[str] = []
        pending = 0  # rows in pieces, always fewer than _CHUNK_ROWS between steps
        r = 0
        for stop in (*self.special, n):
            while r < stop or (r == stop < n):
                if r < stop:  # plain rows up to the next special one
                    end = min(stop, r + _CHUNK_ROWS - pending)
                    pieces.append(self.plain_rows(r, end))
                else:
                    end = r + 1
                    pieces.append(self.special_row(r))
                pending += end - r
                r = end
                if pending >= _CHUNK_ROWS:
                    yield "".join(pieces)
                    pieces, pending = [], 0
        if pieces:
            yield "".join(pieces)

    def cleaned_notes(self) -> list[str]:
        return [note for _, _, note in sorted(self.cleaned)]


def _render_sheet(name: str, content: SheetContent, old_xml: bytes, styles: _Styles,
                  date1904: bool, drawing_rid: str | None = None) -> _Rendered:
    """The sheet part for ``content``; ``old_xml`` is the sheet's part (its sheetData may
    be left out) for what the sheet keeps."""
    old = _parse(_cut_sheet_data(old_xml))
    if old.tag != _M + "worksheet":
        raise _BadPart("not a worksheet part")
    kept: dict[str, ET.Element] = {}
    for child in old:
        if child.tag.startswith(_M):
            kept.setdefault(child.tag[len(_M):], child)
    if "tableParts" in kept and len(kept["tableParts"]):
        raise WriteRefused(f"The tool-owned sheet {name} holds an Excel table, which the tool "
                           f"cannot keep consistent; nothing was written. Remove the table or "
                           f"rebuild the workbook.")
    ncols = content.width
    letters = [schema.col_letter(i) for i in range(max(ncols, 1))]
    parts: list[str] = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
    ]
    parts.append(_sheet_pr(kept.get("sheetPr"), content.fit_width))
    last_ref = f"{letters[max(ncols, 1) - 1]}{max(len(content.rows), 1)}"
    parts.append(f'<dimension ref="{"A1" if last_ref == "A1" else "A1:" + last_ref}"/>')
    parts.append(_sheet_views(kept.get("sheetViews"), content.freeze))
    for tag in _KEEP_BEFORE_DATA:
        if tag in kept:
            parts.append(_serialize(kept[tag]))
    if "sheetFormatPr" not in kept:
        parts.append('<sheetFormatPr defaultRowHeight="15"/>')
    if content.widths:
        parts.append("<cols>")
        parts.extend(f'<col min="{c + 1}" max="{c + 1}" width="{_col_width(w)}" '
                     f'customWidth="1"/>' for c, w in sorted(content.widths.items()))
        parts.append("</cols>")
    head = "".join(parts)
    parts = []
    for tag in _KEEP_AFTER:
        if tag in kept:
            parts.append(_serialize(kept[tag]))
    if content.autofilter:
        parts.append(f'<autoFilter ref="{content.autofilter}"/>')
    if content.merges:
        parts.append(f'<mergeCells count="{len(content.merges)}">')
        parts.extend(f'<mergeCell ref="{m}"/>' for m in content.merges)
        parts.append("</mergeCells>")
    for priority, rule in enumerate(content.rules, start=1):
        value = rule.value
        if isinstance(value, str):
            formula = '"' + _clean_text(value)[0].replace('"', '""') + '"'
        else:
            num = _number(Decimal(value) if isinstance(value, int) else value)
            if num is None:
                raise ValueError(f"conditional value is not a finite number: {value!r}")
            formula = num
        parts.append(
            f'<conditionalFormatting sqref="{rule.range}"><cfRule type="cellIs" '
            f'dxfId="{styles.dxf(DIFF_STYLES[rule.style])}" priority="{priority}" '
            f'operator="{_OPERATORS[rule.op]}"><formula>{formula.translate(_TEXT_ESCAPES)}'
            f"</formula></cfRule></conditionalFormatting>")
    if content.links:
        parts.append("<hyperlinks>")
        for (r, c), target in sorted(content.links.items()):
            parts.append(f'<hyperlink ref="{schema.col_letter(c)}{r + 1}" '
                         f'location="{_attr(target)}" display="{_attr(target)}"/>')
        parts.append("</hyperlinks>")
    if "printOptions" in kept:
        parts.append(_serialize(kept["printOptions"]))
    parts.append(_serialize(kept["pageMargins"]) if "pageMargins" in kept else
                 '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
                 'footer="0.3"/>')
    parts.append(_page_setup(kept.get("pageSetup"), content))
    if content.print_header is not None:
        header = content.print_header.replace("&", "&&")
        parts.append(f'<headerFooter><oddHeader>{_attr("&C&B" + header)}</oddHeader>'
                     f'<oddFooter>{_attr("&C&P / &N")}</oddFooter></headerFooter>')
    elif "headerFooter" in kept:
        parts.append(_serialize(kept["headerFooter"]))
    for tag in _KEEP_TAIL:
        if tag == "drawing" and drawing_rid is not None:
            parts.append(f'<drawing r:id="{_attr(drawing_rid)}"/>')
        elif tag in kept:
            parts.append(_serialize(kept[tag]))
    if "tableParts" in kept:
        parts.append(_serialize(kept["tableParts"]))
    parts.append("</worksheet>")
    tail = "".join(parts)

    renderer = _SheetRenderer(name, content, styles, date1904)
    sink = _Sink()
    try:
        started = False
        for chunk in renderer.chunks():
            if not chunk:
                continue
            if not started:
                sink.write((head + "<sheetData>").encode("utf-8"))
                started = True
            sink.write(chunk.encode("utf-8"))
        end = ("</sheetData>" if started else head + "<sheetData/>") + tail
        sink.write(end.encode("utf-8"))
        xml = sink.close()
    except BaseException:
        sink.abort()
        raise
    return _Rendered(xml, renderer.cleaned_notes())


def _sheet_pr(old: ET.Element | None, fit: bool | None) -> str:
    attrs = {k: v for k, v in (old.attrib.items() if old is not None else ())
             if not k.startswith("{") and k != "filterMode"}
    children = {_local(c.tag): c for c in (old if old is not None else ()) if
                c.tag.startswith(_M)}
    setup = dict(children["pageSetUpPr"].attrib) if "pageSetUpPr" in children else {}
    setup = {k: v for k, v in setup.items() if not k.startswith("{")}
    if fit:
        setup["fitToPage"] = "1"
    elif fit is not None:
        setup.pop("fitToPage", None)
    inner = "".join(_serialize(children[t]) for t in ("tabColor", "outlinePr") if t in children)
    if setup:
        inner += "<pageSetUpPr" + "".join(f' {k}="{_attr(v)}"' for k, v in setup.items()) + "/>"
    a = "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items())
    if not a and not inner:
        return ""
    return f"<sheetPr{a}>{inner}</sheetPr>" if inner else f"<sheetPr{a}/>"


def _sheet_views(old: ET.Element | None, freeze: tuple[int, int] | None) -> str:
    view = old.find(_M + "sheetView") if old is not None else None
    attrs = {k: v for k, v in (view.attrib.items() if view is not None else ())
             if not k.startswith("{") and k != "topLeftCell"}
    attrs.setdefault("workbookViewId", "0")
    a = "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items())
    if not freeze:
        return f"<sheetViews><sheetView{a}/></sheetViews>"
    rows, cols = freeze
    top_left = f"{schema.col_letter(cols)}{rows + 1}"
    if rows and cols:
        pane = (f'<pane xSplit="{cols}" ySplit="{rows}" topLeftCell="{top_left}" '
                f'activePane="bottomRight" state="frozen"/>'
                f'<selection pane="topRight"/><selection pane="bottomLeft"/>'
                f'<selection pane="bottomRight" activeCell="{top_left}" sqref="{top_left}"/>')
    elif rows:
        pane = (f'<pane ySplit="{rows}" topLeftCell="{top_left}" activePane="bottomLeft" '
                f'state="frozen"/><selection pane="bottomLeft" activeCell="{top_left}" '
                f'sqref="{top_left}"/>')
    else:
        pane = (f'<pane xSplit="{cols}" topLeftCell="{top_left}" activePane="topRight" '
                f'state="frozen"/><selection pane="topRight" activeCell="{top_left}" '
                f'sqref="{top_left}"/>')
    return f"<sheetViews><sheetView{a}>{pane}</sheetView></sheetViews>"


def _page_setup(old: ET.Element | None, content: SheetContent) -> str:
    attrs: dict[str, str] = {}
    if old is not None:
        for k, v in old.attrib.items():
            if k == _R + "id":
                attrs["r:id"] = v
            elif not k.startswith("{"):
                attrs[k] = v
    attrs.setdefault("paperSize", "9")
    if content.fit_width:
        attrs["fitToWidth"] = "1"
        attrs["fitToHeight"] = "0"
    elif content.fit_width is not None:
        attrs.pop("fitToWidth", None)
        attrs.pop("fitToHeight", None)
    if content.landscape is not None:
        attrs["orientation"] = "landscape" if content.landscape else "portrait"
    return "<pageSetup" + "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items()) + "/>"


# --- verification ---------------------------------------------------------------------------


def _expected(value: CellValue, date1904: bool) -> object:
    """What python-calamine reads back for a written value ('' for an empty cell)."""
    t = type(value)
    if t is str:
        text = cast(str, value)
        return text if len(text) <= MAX_TEXT and not _ILLEGAL_RE.search(text) else \
            _clean_text(text)[0]
    if t is Decimal:
        number = cast(Decimal, value)
        return float(number) if number.is_finite() and abs(number) <= _MAX_DECIMAL else ""
    if t is int and -_BIG_INT < cast(int, value) < _BIG_INT:
        return float(cast(int, value))
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _clean_text(value)[0]
    if isinstance(value, (int, float, Decimal)):
        num = _number(Decimal(value) if isinstance(value, int) else value)
        return "" if num is None else float(num)
    if isinstance(value, (dt.date, dt.datetime)):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        serial = _serial(value, date1904)
        return value.isoformat() if serial is None else value
    return value


def _same(got: object, want: object, date1904: bool) -> bool:
    if got == want and type(got) is type(want):
        return True
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return got == want or math.isclose(got, want, rel_tol=1e-15)
    if isinstance(want, (dt.date, dt.datetime)):
        ws = _serial(want, date1904)
        if isinstance(got, (dt.date, dt.datetime)):
            gs = _serial(got, date1904)
        elif isinstance(got, (int, float)) and not isinstance(got, bool):
            gs = float(got)
        else:
            return False
        return ws is not None and gs is not None and abs(ws - gs) < 2e-8  # ~1 ms
    return False


def _verify(tmp: Path, pkg: _Package, plan: _Plan) -> None:
    """Zip-test the new file, parse its changed parts and read the written sheets back.

    python-calamine reads the written sheets back on a second thread (it lets go of the
    GIL while it parses) while this one tests every part's CRC and parses the changed
    ones; then each sheet is compared with what was meant to be written.
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix="sheetwriter-verify")
    loading = pool.submit(_read_back, tmp, list(plan.targets))
    try:
        _test_zip(tmp, pkg, plan)
        try:
            book, sheets = loading.result()
        except Exception as exc:  # calamine raises its own types
            raise WriteRefused(f"verification of the new file failed ({exc}); nothing was "
                               f"written.") from None
        try:
            for (name, content), sheet in zip(plan.targets.items(), sheets, strict=True):
                # row by row when the used range starts at A1 (a title or header is there):
                # a long sheet is then never held as Python objects all at once
                grid = (sheet.iter_rows() if sheet.start == (0, 0)
                        else sheet.to_python(skip_empty_area=False))
                _compare(name, content, grid, pkg.date1904)
        except WriteRefused:
            raise
        except Exception as exc:  # calamine raises its own types
            raise WriteRefused(f"verification of the new file failed ({exc}); nothing was "
                               f"written.") from None
        finally:
            del sheets
            book.close()
    finally:
        pool.shutdown(wait=True)  # never leave the file open (Windows could not replace it)
        if loading.exception() is None:
            with contextlib.suppress(Exception):
                loading.result()[0].close()


def _read_back(tmp: Path, names: list[str]) -> tuple[Any, list[Any]]:
    """The new file's written sheets as python-calamine reads them (its open book too)."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(tmp))
    try:
        return book, [book.get_sheet_by_name(name) for name in names]
    except BaseException:
        book.close()
        raise


def _test_zip(tmp: Path, pkg: _Package, plan: _Plan) -> None:
    """Every part reads back against its CRC; each changed part holds what was meant for it
    (its CRC and size) and parses as XML."""
    expected_names = [e.name for e in pkg.entries if e.name not in plan.drop] + list(plan.add)
    try:
        with zipfile.ZipFile(tmp) as z:
            if z.namelist() != expected_names:
                raise WriteRefused("verification failed: the new file's parts differ; nothing "
                                   "was written.")
            for info in z.infolist():
                data = plan.replace.get(info.filename)
                if data is None:
                    data = plan.add.get(info.filename)
                parser = None
                if data is not None:
                    size, crc = ((data.size, data.crc) if isinstance(data, _Packed)
                                 else (len(data), zlib.crc32(data)))
                    if info.file_size != size or crc != info.CRC:
                        raise WriteRefused(f"verification failed: part {info.filename} "
                                           f"differs; nothing was written.")
                    parser = expat.ParserCreate()  # well-formed (no tree: fast)
                try:
                    with z.open(info) as f:  # the CRC is checked at the end of the part
                        while chunk := f.read(_READ_CHUNK):
                            if parser is not None:
                                parser.Parse(chunk, False)
                except zipfile.BadZipFile:
                    raise WriteRefused(f"verification failed: part {info.filename} is "
                                       f"damaged; nothing was written.") from None
                if parser is not None:
                    parser.Parse(b"", True)
    except (zipfile.BadZipFile, expat.ExpatError, OSError, KeyError, zlib.error) as exc:
        raise WriteRefused(f"verification of the new file failed ({exc}); nothing was "
                           f"written.") from None


_COMPARE_ROWS = 4096  # rows compared at a time, column by column
_COMPARE_FEW = 64  # and again, in blocks this long, where a block differs somewhere
_NO_NUMBERS = frozenset({str, type(None), dt.date, dt.datetime})


def _compare(name: str, content: SheetContent, grid: Iterable[Sequence[object]],
             date1904: bool) -> None:
    """Raise unless ``grid`` (the sheet's rows from A1, as calamine reads them) holds
    exactly ``content``'s values and nothing else.

    Most cells read back as the value itself (a text, a date, a date and time, a truth
    value, a float) or as the float of a Decimal or int: a few thousand rows at a time are
    compared column by column against those; a block that differs anywhere is checked
    cell by cell against :func:`_expected`, which names the cell.
    """
    read = iter(grid)
    rows = content.rows
    for start in range(0, len(rows), _COMPARE_ROWS):
        block = rows[start:start + _COMPARE_ROWS]
        got = list(itertools.islice(read, len(block)))
        if _same_block(block, got, date1904):
            continue
        for at in range(0, len(block), _COMPARE_FEW):  # closer: a few rows at a time
            few, got_few = block[at:at + _COMPARE_FEW], got[at:at + _COMPARE_FEW]
            if not _same_block(few, got_few, date1904):
                _compare_rows(name, few, got_few, start + at, date1904)
    for r, extra in enumerate(read, start=len(rows)):
        if any(v != "" for v in extra):
            raise WriteRefused(f"verification failed: {name} row {r + 1} is not empty; "
                               f"nothing was written.")


def _same_block(block: Sequence[Sequence[CellValue]], got: list[Sequence[object]],
                date1904: bool) -> bool:
    """Whether the rows ``got`` read back exactly as ``block``'s values would, by the
    quick rule of :func:`_compare` (False may only mean: look closer)."""
    if len(got) != len(block) or not block:
        return False
    width = len(got[0])
    if any(len(row) != width for row in got) or max(map(len, block)) > width:
        return False
    got_columns = list(zip(*got, strict=True))
    decimal, int_, none_type, moment = Decimal, int, type(None), dt.datetime
    plain = {str, dt.date, bool, float}
    columns = cast("Iterable[tuple[Any, ...]]", itertools.zip_longest(*block))
    for values, read in zip(columns, got_columns, strict=False):
        kinds = set(map(type, values))
        if kinds == {str}:  # texts read back as themselves (== holds only between texts)
            if values != read:
                return False
            continue
        want = [v if (t := v.__class__) in plain
                else "" if t is none_type
                # calamine reads a date and time at midnight as the date
                else (v if v.hour or v.minute or v.second or v.microsecond else v.date())
                if t is moment
                else float(v) if t is decimal and v.is_finite()
                else float(v) if t is int_ and -_BIG_INT < v < _BIG_INT
                else _expected(v, date1904)  # the rest (Enum, ...) by the full rule
                for v in values]
        if want != list(read):
            return False
        # 1 == 1.0 == True: where numbers are, the types must match too
        if not kinds <= _NO_NUMBERS and list(map(type, want)) != list(map(type, read)):
            return False
    # cells right of the content must be empty
    return set(itertools.chain.from_iterable(got_columns[max(map(len, block)):])) <= {""}


def _compare_rows(name: str, block: Sequence[Sequence[CellValue]],
                  got: list[Sequence[object]], start: int, date1904: bool) -> None:
    """Cell by cell: raise for the first cell that does not read back as it should."""
    for i, row in enumerate(block):
        r = start + i
        got_row = got[i] if i < len(got) else []
        width = len(got_row)
        for c, value in enumerate(row):
            want = _expected(value, date1904)
            found = got_row[c] if c < width else ""
            if not _same(found, want, date1904):
                raise WriteRefused(
                    f"verification failed: {name}!{schema.col_letter(c)}{r + 1} reads back "
                    f"{found!r} instead of {want!r}; nothing was written.")
        for c in range(len(row), width):
            if got_row[c] != "":
                raise WriteRefused(f"verification failed: {name}!{schema.col_letter(c)}{r + 1}"
                                   f" is not empty; nothing was written.")


# --- file safety --------------------------------------------------------------------------


OWNER_FILES = (("~$", "", "Excel"), (".~lock.", "#", "LibreOffice"))
"""(prefix, suffix, program): the lock file each program keeps beside a workbook it has
open (Excel's owner file ``~$name.xlsm``; LibreOffice's ``.~lock.name.xlsm#``)."""


def _owner_file(path: Path) -> tuple[Path, str] | None:
    for prefix, suffix, program in OWNER_FILES:
        candidate = path.with_name(prefix + path.name + suffix)
        if candidate.exists():
            return candidate, program
    return None


def _check_can_write(path: Path) -> None:
    if not path.is_file():
        raise WriteRefused(f"{path} does not exist or is not a file; nothing was written.")
    found = _owner_file(path)
    if found is not None:
        owner, program = found
        buttons = (" or use the buttons on the workbook's ribbon tab" if program == "Excel"
                   else "")
        raise WorkbookLocked(
            f"{path.name} is open in {program} ({owner.name} is beside it); nothing was "
            f"written. Close the workbook in {program} and run the command again{buttons}. "
            f"If {program} is not running, {owner.name} is left over from a crash: delete it.")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise WriteRefused(f"The folder {path.parent} is not writable; nothing was written. "
                           f"Copy the workbook to a folder you can write to.")
    try:
        with open(path, "r+b"):
            pass
    except PermissionError:
        if os.name == "nt":
            raise WorkbookLocked(f"{path.name} is open in another program (Excel?) and locked; "
                                 f"nothing was written. Close it and try again.") from None
        raise WriteRefused(f"{path.name} is read-only; nothing was written. Make it writable "
                           f"or copy it.") from None
    except OSError as exc:
        raise WriteRefused(f"{path.name} cannot be opened for writing ({exc.strerror}); "
                           f"nothing was written.") from None


_BACKUP_STAMP = "%Y%m%d-%H%M%S-%f"


def _backup_re(path: Path) -> re.Pattern[str]:
    return re.compile(re.escape(path.stem) + r"\.\d{8}-\d{6}-\d{6}" + re.escape(path.suffix))


def _make_backup(path: Path, keep: int) -> Path | None:
    if keep <= 0:
        return None
    folder = path.parent / ".backups"
    try:
        folder.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime(_BACKUP_STAMP)
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
        while target.exists():
            time.sleep(0.000_01)
            stamp = dt.datetime.now().strftime(_BACKUP_STAMP)
            target = folder / f"{path.stem}.{stamp}{path.suffix}"
        try:
            os.link(path, target)  # the old file lives on under the backup's name
        except OSError:
            shutil.copy2(path, target)
    except OSError as exc:
        raise WriteRefused(f"Cannot keep a backup in {folder} ({exc.strerror or exc}); nothing "
                           f"was written.") from None
    return target


def _rotate_backups(path: Path, keep: int) -> list[str]:
    folder = path.parent / ".backups"
    if keep <= 0 or not folder.is_dir():
        return []
    pattern = _backup_re(path)
    backups = sorted(p for p in os.listdir(folder) if pattern.fullmatch(p))
    notes = []
    for old in backups[:-keep]:
        try:
            (folder / old).unlink()
        except OSError as exc:
            notes.append(f"could not delete old backup {old}: {exc.strerror or exc}")
    return notes


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- reading the Log back ----------------------------------------------------------------


_LOG_KEYS = tuple(schema.header_key(h) for h in LOG_HEADERS)


def _read_log_rows(path: Path) -> list[tuple[CellValue, ...]] | None:
    """The data rows under the Log sheet's header row, as calamine reads them.

    The header row is found by its English keys (``(time)``, ``(command)``...), so a
    reworded Chinese label still matches. None when there is no such row: the sheet holds
    the build's placeholder, not a log.
    """
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        grid = book.get_sheet_by_name(LOG_SHEET).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own types
        raise WriteRefused(f"The existing Log sheet of {path.name} cannot be read ({exc}); "
                           f"nothing was written.") from None
    for i, row in enumerate(grid):
        if tuple(schema.header_key(v) for v in row[:len(_LOG_KEYS)]) == _LOG_KEYS:
            start = i + 1
            break
    else:
        return None
    rows: list[tuple[CellValue, ...]] = []
    for row in grid[start:]:
        values = [None if v == "" else v for v in row]
        while values and values[-1] is None:
            values.pop()
        if values:
            rows.append(tuple(cast(list[CellValue], values)))
    return rows


# --- charts on a tool sheet -----------------------------------------------------------------

_DRAWING_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing"
_CHART_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart"
_DRAWING_CT = "application/vnd.openxmlformats-officedocument.drawing+xml"
_CHART_CT = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
_CT_PART = "[Content_Types].xml"
_CT_DRAWING_RID = "rIdCtDrawing"
_EMPTY_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               f'<Relationships xmlns="{PKG_REL_NS}"></Relationships>')
_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"


def _chart_parts(sheet_part: str) -> tuple[str, str]:
    """The tool's own drawing part of a sheet and the prefix of its chart parts:
    ``xl/worksheets/sheet1.xml`` -> ``xl/drawings/ctDrawing_sheet1.xml``,
    ``xl/charts/ctChart_sheet1_``; fixed names, so rewriting replaces them in place."""
    stem = posixpath.splitext(posixpath.basename(sheet_part))[0]
    return f"xl/drawings/ctDrawing_{stem}.xml", f"xl/charts/ctChart_{stem}_"


def _relative(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part))


def _rels_entries(pkg: _Package, rels_part: str, source: str) -> list[tuple[str, str, str, str]]:
    """(id, type, resolved target, raw element) of every relationship in ``rels_part``."""
    if rels_part not in pkg.names:
        return []
    text = pkg.read(rels_part).decode("utf-8")
    out = []
    for m in re.finditer(r"<(?:\w+:)?Relationship\b[^>]*?/>", text):
        attrs = {k: _unescape(v) for k, v in _XML_ATTR_RE.findall(m.group(0))}
        target = attrs.get("Target", "")
        resolved = target if attrs.get("TargetMode") == "External" else _resolve(source, target)
        out.append((attrs.get("Id", ""), attrs.get("Type", ""), resolved, m.group(0)))
    return out


def _unreferenced_subtree(pkg: _Package, root: str, keep_rels: str) -> set[str]:
    """Parts reachable from ``root`` through relationships (``root`` included, with their
    ``.rels``) that no relationship from outside that set refers to, ``keep_rels`` (the
    sheet's own, being rewritten) aside."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        part = todo.pop()
        if part in seen or part not in pkg.names:
            continue
        seen.add(part)
        rels = _rels_path(part)
        if rels in pkg.names:
            seen.add(rels)
            todo.extend(t for _, _, t, raw in _rels_entries(pkg, rels, part)
                        if 'TargetMode="External"' not in raw)
    outside: set[str] = set()
    for name in pkg.names:
        if name.endswith(".rels") and name not in seen and name != keep_rels:
            folder = posixpath.dirname(posixpath.dirname(name))
            source = posixpath.join(folder, posixpath.basename(name)[:-len(".rels")])
            outside.update(t for _, _, t, _ in _rels_entries(pkg, name, source.lstrip("/")))
    return {p for p in seen if p not in outside}


def _content_types(pkg: _Package, plan: _Plan, add: Mapping[str, str],
                   remove: Iterable[str]) -> None:
    """Overrides for new parts added and those of dropped parts removed (by text edits,
    so an unchanged [Content_Types].xml stays byte-identical)."""
    if _CT_PART not in pkg.names:
        raise _BadPart("no [Content_Types].xml")
    original = _part_bytes(pkg, plan.replace, _CT_PART).decode("utf-8")
    text = original
    for part in remove:
        name = re.escape("/" + part)
        text = re.sub(rf'<(\w+:)?Override\b[^>]*?PartName="{name}"[^>]*/>', "", text)
    m = re.search(r"<(\w+:)?Types[\s>]", text)
    prefix = (m.group(1) or "") if m else ""
    for part, ctype in add.items():
        if f'PartName="/{part}"' not in text:
            at = text.rindex(f"</{prefix}Types>")
            text = (text[:at] + f'<{prefix}Override PartName="/{_attr(part)}" '
                    f'ContentType="{ctype}"/>' + text[at:])
    if text != original:
        plan.replace[_CT_PART] = text.encode("utf-8")


def _plan_charts(pkg: _Package, ref: _SheetRef, content: SheetContent, plan: _Plan) -> str:
    """Add the parts of ``content.charts`` for the sheet ``ref``: its drawing, one chart
    part each, their relationships and content types. A drawing of the tool's own is
    rewritten in place; any other drawing of the sheet (Excel renames parts when it saves)
    is replaced, and its parts that nothing else uses are dropped. Returns the sheet's
    relationship id of the drawing."""
    drawing, chart_prefix = _chart_parts(ref.part)
    sheet_rels = _rels_path(ref.part)
    entries = _rels_entries(pkg, sheet_rels, ref.part)
    rid = None
    kept_rels: list[str] = []
    dropped: set[str] = set()
    for rel_id, rel_type, target, raw in entries:
        if rel_type == _DRAWING_REL and target == drawing and rid is None:
            rid = rel_id
            kept_rels.append(raw)
        elif rel_type == _DRAWING_REL:
            dropped |= _unreferenced_subtree(pkg, target, sheet_rels)
        else:
            kept_rels.append(raw)
    # our own chart parts beyond the number now written, and old ones being replaced
    charts = [f"{chart_prefix}{i}.xml" for i in range(1, len(content.charts) + 1)]
    stale = {n for n in pkg.names if n.startswith(chart_prefix) and n.endswith(".xml")
             and n not in charts}
    dropped |= stale | {_rels_path(n) for n in stale if _rels_path(n) in pkg.names}
    dropped -= {drawing, _rels_path(drawing), *charts, sheet_rels}
    old_text = pkg.read(sheet_rels).decode("utf-8") if sheet_rels in pkg.names else _EMPTY_RELS
    head = re.match(r"(?s).*?<(\w+:)?Relationships\b[^>]*?(/?)>", old_text)
    if head is None:
        raise _BadPart(f"{sheet_rels}: no Relationships element")
    prefix = head.group(1) or ""
    if rid is None:
        ids = {e[0] for e in entries}
        rid = _CT_DRAWING_RID
        n = 1
        while rid in ids:
            n += 1
            rid = f"{_CT_DRAWING_RID}{n}"
        kept_rels.append(f'<{prefix}Relationship Id="{rid}" Type="{_DRAWING_REL}" '
                         f'Target="{_attr(_relative(ref.part, drawing))}"/>')
    opening = head.group(0)[:-2] + ">" if head.group(2) else head.group(0)
    new_rels = (opening + "".join(kept_rels) + f"</{prefix}Relationships>").encode("utf-8")
    parts: dict[str, bytes] = {}
    if sheet_rels not in pkg.names:
        parts[sheet_rels] = new_rels
    elif pkg.read(sheet_rels) != new_rels:
        plan.replace[sheet_rels] = new_rels
    drawing_rels = _rels_path(drawing)
    parts[drawing] = _drawing_xml(content.charts).encode("utf-8")
    parts[drawing_rels] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_REL_NS}">' + "".join(
            f'<Relationship Id="rId{i}" Type="{_CHART_REL}" '
            f'Target="{_attr(_relative(drawing, chart))}"/>'
            for i, chart in enumerate(charts, start=1)) + "</Relationships>").encode("utf-8")
    for chart, spec in zip(charts, content.charts, strict=True):
        parts[chart] = _chart_xml(spec, ref.name, content).encode("utf-8")
    for name, data in parts.items():
        if name in pkg.names:
            if name in dropped:
                continue
            if pkg.read(name) != data:
                plan.replace[name] = data
        else:
            plan.add[name] = data
    plan.drop |= dropped
    _content_types(pkg, plan, {drawing: _DRAWING_CT, **{c: _CHART_CT for c in charts}},
                   sorted(dropped))
    if dropped:
        plan.notes.append(f"{ref.name}: the old drawing's parts removed ({len(dropped)})")
    return rid


def _drawing_xml(charts: Sequence[BarChart]) -> str:
    anchors = []
    for i, chart in enumerate(charts, start=1):
        r1, c1, r2, c2 = parse_range(chart.anchor)
        anchors.append(
            '<xdr:twoCellAnchor editAs="oneCell">'
            f"<xdr:from><xdr:col>{c1}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{r1}"
            "</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f"<xdr:to><xdr:col>{c2 + 1}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{r2 + 1}"
            "</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 1}" '
            f'name="Chart {i}" descr="{_attr(chart.title)}"/><xdr:cNvGraphicFramePr/>'
            '</xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
            f'</xdr:xfrm><a:graphic><a:graphicData uri="{_C}"><c:chart xmlns:c="{_C}" '
            f'xmlns:r="{REL_NS}" r:id="rId{i}"/></a:graphicData></a:graphic>'
            "</xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<xdr:wsDr xmlns:xdr="{_XDR}" xmlns:a="{_A}">{"".join(anchors)}</xdr:wsDr>')


def _range_values(content: SheetContent, ref: str) -> list[CellValue]:
    r1, c1, r2, c2 = parse_range(ref)
    out: list[CellValue] = []
    for r in range(r1, r2 + 1):
        row = content.rows[r] if r < len(content.rows) else ()
        for c in range(c1, c2 + 1):
            out.append(row[c] if c < len(row) else None)
    return out


def _absolute(sheet: str, ref: str) -> str:
    r1, c1, r2, c2 = parse_range(ref)
    a = f"${schema.col_letter(c1)}${r1 + 1}"
    b = f"${schema.col_letter(c2)}${r2 + 1}"
    return f"{_quote_sheet(sheet)}!{a}" + (f":{b}" if a != b else "")


def _text(value: str) -> str:
    return _clean_text(value)[0].translate(_TEXT_ESCAPES)


def _str_cache(values: Sequence[CellValue]) -> str:
    pts = "".join(f'<c:pt idx="{i}"><c:v>{_text(_display(v))}</c:v></c:pt>'
                  for i, v in enumerate(values) if _display(v))
    return f'<c:strCache><c:ptCount val="{len(values)}"/>{pts}</c:strCache>'


def _display(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _num_cache(values: Sequence[CellValue], num_format: str) -> str:
    pts = []
    for i, v in enumerate(values):
        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            num = _number(Decimal(v) if isinstance(v, int) else v)
            if num is not None:
                pts.append(f'<c:pt idx="{i}"><c:v>{num}</c:v></c:pt>')
    return (f"<c:numCache><c:formatCode>{_text(num_format)}</c:formatCode>"
            f'<c:ptCount val="{len(values)}"/>{"".join(pts)}</c:numCache>')


_SERIES_COLOURS = ("C0504D", "4F81BD", "9BBB59", "8064A2", "F79646", "4BACC6")


def _rich(text: str, size: int, bold: bool) -> str:
    b = ' b="1"' if bold else ' b="0"'
    return (f'<c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}"{b}/>'
            f'</a:pPr><a:r><a:rPr lang="zh-CN" sz="{size}"{b}/><a:t>{_text(text)}</a:t></a:r>'
            "</a:p></c:rich></c:tx>")


def _tx_pr(size: int) -> str:
    return (f'<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}"/></a:pPr>'
            '<a:endParaRPr lang="zh-CN"/></a:p></c:txPr>')


def _chart_xml(chart: BarChart, sheet: str, content: SheetContent) -> str:
    """A chartSpace part for a clustered bar chart (DrawingML, ECMA-376 part 1 §21.2)."""
    categories = _range_values(content, chart.categories)
    series = []
    for i, ref in enumerate(chart.values):
        name = chart.names[i] if chart.names else ""
        tx = (f'<c:tx><c:v>{_text(name)}</c:v></c:tx>' if name else "")
        series.append(
            f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>{tx}'
            f'<c:spPr><a:solidFill><a:srgbClr val="{_SERIES_COLOURS[i % 6]}"/></a:solidFill>'
            '</c:spPr><c:invertIfNegative val="0"/>'
            f'<c:dLbls><c:numFmt formatCode="{_attr(chart.num_format)}" sourceLinked="0"/>'
            f'{_tx_pr(800)}<c:showLegendKey val="0"/><c:showVal val="1"/>'
            '<c:showCatName val="0"/><c:showSerName val="0"/><c:showPercent val="0"/>'
            '<c:showBubbleSize val="0"/></c:dLbls>'
            f"<c:cat><c:strRef><c:f>{_text(_absolute(sheet, chart.categories))}</c:f>"
            f"{_str_cache(categories)}</c:strRef></c:cat>"
            f"<c:val><c:numRef><c:f>{_text(_absolute(sheet, ref))}</c:f>"
            f"{_num_cache(_range_values(content, ref), chart.num_format)}</c:numRef></c:val>"
            "</c:ser>")
    cat_pos, val_pos = ("l", "b") if chart.horizontal else ("b", "l")
    title = (f"<c:title>{_rich(chart.title, 1100, True)}<c:overlay val=\"0\"/></c:title>"
             '<c:autoTitleDeleted val="0"/>' if chart.title else
             '<c:autoTitleDeleted val="1"/>')
    legend = ('<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'
              if len(chart.values) > 1 else "")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<c:chartSpace xmlns:c="{_C}" xmlns:a="{_A}" xmlns:r="{REL_NS}">'
        '<c:lang val="zh-CN"/><c:roundedCorners val="0"/><c:chart>'
        f"{title}<c:plotArea><c:layout/><c:barChart>"
        f'<c:barDir val="{"bar" if chart.horizontal else "col"}"/><c:grouping val="clustered"/>'
        f'<c:varyColors val="0"/>{"".join(series)}<c:gapWidth val="60"/>'
        '<c:axId val="50010001"/><c:axId val="50010002"/></c:barChart>'
        '<c:catAx><c:axId val="50010001"/><c:scaling><c:orientation val="'
        f'{"maxMin" if chart.horizontal else "minMax"}"/></c:scaling><c:delete val="0"/>'
        f'<c:axPos val="{cat_pos}"/><c:numFmt formatCode="General" sourceLinked="0"/>'
        '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
        f'{_tx_pr(900)}<c:crossAx val="50010002"/><c:crosses val="autoZero"/>'
        '<c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>'
        '<c:noMultiLvlLbl val="0"/></c:catAx>'
        '<c:valAx><c:axId val="50010002"/><c:scaling><c:orientation val="minMax"/>'
        f'</c:scaling><c:delete val="0"/><c:axPos val="{val_pos}"/><c:majorGridlines/>'
        f'<c:numFmt formatCode="{_attr(chart.num_format)}" sourceLinked="0"/>'
        '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
        f'{_tx_pr(900)}<c:crossAx val="50010001"/><c:crosses val="autoZero"/>'
        '<c:crossBetween val="between"/></c:valAx></c:plotArea>'
        f'{legend}<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>'
        "</c:chartSpace>")


# --- the writer ---------------------------------------------------------------------------


@dataclass
class _Plan:
    targets: dict[str, SheetContent]
    replace: dict[str, _PartData]
    drop: set[str]
    styles_added: int
    cleaned: list[str]
    notes: list[str]
    add: dict[str, bytes] = field(default_factory=dict)  # new parts, appended in this order


def _plan(pkg: _Package, path: Path, sheets: Mapping[str, SheetContent],
          log: Sequence[LogEntry]) -> _Plan:
    """Render every target sheet and work out which parts change."""
    targets = dict(sheets)
    notes: list[str] = []
    missing = [n for n in (*targets, *([LOG_SHEET] if log else [])) if n not in pkg.sheets]
    if missing:
        raise WriteRefused(f"{path.name} has no sheet {', '.join(missing)}; nothing was "
                           f"written. Rebuild the workbook (contract-tracker build-workbook) "
                           f"and copy your data into it.")
    if log:
        old_rows = _read_log_rows(path)
        if old_rows is None:
            notes.append("the Log sheet had no log yet: started one")
            old_rows = []
        new_rows = [e.row() for e in log]
        extra = len(old_rows) + len(new_rows) - LOG_MAX_ROWS
        if extra > 0:
            notes.append(f"the Log keeps its newest {LOG_MAX_ROWS:,} rows; {extra:,} older "
                         f"rows dropped")
        targets[LOG_SHEET] = _log_content([*old_rows, *new_rows])
    plan = _Plan(targets, {}, set(), 0, [], notes)
    if not targets:
        return plan
    if pkg.styles_part is None or pkg.styles_part not in pkg.names:
        raise _not_workbook(path, "no styles part")
    try:
        styles = _Styles(pkg.read(pkg.styles_part))
    except _PART_ERRORS as exc:
        raise _not_workbook(path, f"{pkg.styles_part}: {exc}") from None
    original_wb = pkg.workbook_xml.decode("utf-8")
    workbook_xml = original_wb
    for name, content in targets.items():
        ref = pkg.sheets[name]
        if ref.part not in pkg.names:
            raise _not_workbook(path, f"sheet {name} has no part")
        try:
            rid = _plan_charts(pkg, ref, content, plan) if content.charts else None
            rendered = _render_sheet(name, content, _old_frame(pkg, ref.part), styles,
                                     pkg.date1904, rid)
        except _PART_ERRORS as exc:
            raise _not_workbook(path, f"sheet {name}: {exc}") from None
        plan.replace[ref.part] = rendered.xml
        plan.cleaned.extend(rendered.cleaned)
        if content.print_title_rows is not None:
            workbook_xml = _set_print_titles(workbook_xml, ref, content.print_title_rows) \
                or workbook_xml
    if workbook_xml != original_wb:
        plan.replace[pkg.workbook_part] = workbook_xml.encode("utf-8")
        notes.append("workbook.xml: print titles defined")
    new_styles = styles.result()
    if new_styles is not None:
        plan.replace[pkg.styles_part] = new_styles
        plan.styles_added = styles.added
        notes.append(f"styles.xml: {styles.added} entries appended")
    if pkg.calc_chain_part and pkg.calc_chain_part in pkg.names:
        ids = {pkg.sheets[n].sheet_id for n in targets}
        chain, empty = _filter_calc_chain(pkg.read(pkg.calc_chain_part), ids)
        if empty:
            plan.drop.add(pkg.calc_chain_part)
            _drop_calc_chain(pkg, plan.replace)
            notes.append("calcChain.xml (a formula cache) removed")
        elif chain is not None:
            plan.replace[pkg.calc_chain_part] = chain
            notes.append("calcChain.xml: entries of the rewritten sheets removed")
    return plan


def write_tool_sheets(
    path: Path | str,
    sheets: Mapping[str, SheetContent],
    *,
    log: Sequence[LogEntry] = (),
    backups_kept: int = 5,
) -> WriteReport:
    """Replace the content of tool-owned ``sheets`` (and append ``log``) in one safe write.

    Raises :class:`WriteRefused` (or its subclass :class:`WorkbookLocked`) with a message
    for the user when nothing could be written; the workbook is then unchanged. Bad
    content (an unknown style, a value of an unsupported type) is a programming error:
    ``ValueError`` / ``TypeError``, also before anything is written.
    """
    started = time.perf_counter()
    path = Path(os.path.realpath(path))
    for name in sheets:
        if name not in schema.TOOL_SHEET_NAMES:
            raise WriteRefused(
                f"{name!r} is not a tool-owned sheet; the tool writes only "
                f"{', '.join(sorted(schema.TOOL_SHEET_NAMES))}, never a user's sheet. "
                f"Nothing was written.")
    if log and LOG_SHEET in sheets:
        raise ValueError("pass the Log either as a sheet or as entries, not both")
    _check_can_write(path)
    with gc_paused():  # rendering and reading back a long sheet make no cycles
        return _write(path, sheets, log, backups_kept, started)


def _write(path: Path, sheets: Mapping[str, SheetContent], log: Sequence[LogEntry],
           backups_kept: int, started: float) -> WriteReport:
    before = path.stat()
    with open(path, "rb") as src:
        pkg = _Package(src, path)
        try:
            plan = _plan(pkg, path, sheets, log)
            if not plan.targets:
                return WriteReport(path, (), (), 0, None, (), ("nothing to write",),
                                   time.perf_counter() - started)
            tmp = _write_temp(src, pkg, plan, path)
            # written: a packed part's bytes are not needed again (its CRC and size are)
            plan.replace.update({part: _Packed((), data.crc, data.size)
                                 for part, data in plan.replace.items()
                                 if isinstance(data, _Packed)})
        finally:
            pkg.zip.close()
    try:  # the source is closed: Windows cannot replace an open file
        _verify(tmp, pkg, plan)
        # Check and replace as one step among runs of this tool: two refreshes at once could
        # otherwise both find the file unchanged and the later replace the earlier (found
        # in review); with the lock, the later one sees the change and refuses.
        with _replace_lock(path):
            now = path.stat()
            if (now.st_mtime_ns, now.st_size) != (before.st_mtime_ns, before.st_size):
                raise WorkbookLocked(
                    f"{path.name} was changed while the tool was writing it (by another "
                    f"program, or another run of this tool); nothing was written. Run the "
                    f"command again.")
            backup = _make_backup(path, backups_kept)
            try:
                os.replace(tmp, path)
            except OSError as exc:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        backup.unlink()
                if isinstance(exc, PermissionError):
                    raise WorkbookLocked(
                        f"{path.name} is open in Excel (or another program) and locked; "
                        f"nothing was written. Close it and run the command again, or use the "
                        f"buttons on the workbook's ribbon tab.") from None
                raise WriteRefused(f"Replacing {path.name} failed ({exc.strerror or exc}); "
                                   f"nothing was written.") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _fsync_dir(path.parent)
    notes = [*plan.notes, *_rotate_backups(path, backups_kept)]
    if plan.cleaned:
        notes.append(f"{len(plan.cleaned)} cell text(s) changed to fit a workbook")
    return WriteReport(
        path=path,
        sheets=tuple(plan.targets),
        changed_parts=tuple(e.name for e in pkg.entries
                            if e.name in plan.replace or e.name in plan.drop) + tuple(plan.add),
        styles_added=plan.styles_added,
        backup=backup,
        cleaned=tuple(plan.cleaned),
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


LOCK_WAIT_SECONDS = 15.0
"""How long a run waits for another run's replace step (a backup and a rename: well under
a second) before it gives up."""
LOCK_STALE_SECONDS = 120.0
"""A lock file older than this was left by a run that died: the refusal says so at once.
It is not taken over: two runs could both find it stale and both go on."""


@contextlib.contextmanager
def _replace_lock(path: Path) -> Iterator[None]:
    """Hold ``.<name>.contract-tracker.lock`` beside ``path`` (created exclusively)."""
    lock = path.with_name(f".{path.name}.contract-tracker.lock")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            age = 0.0
            with contextlib.suppress(OSError):
                age = time.time() - lock.stat().st_mtime
            if age > LOCK_STALE_SECONDS:
                raise WorkbookLocked(
                    f"{lock.name} beside {path.name} is {age / 60:.0f} minutes old: a run of "
                    f"Contract Tracker that was stopped left it; nothing was written. Delete "
                    f"it if no run is going on, and run the command again.") from None
            if time.monotonic() > deadline:
                raise WorkbookLocked(
                    f"another run of Contract Tracker is writing {path.name} ({lock.name} is "
                    f"beside it); nothing was written. Run the command again when it is done; "
                    f"if none is running, delete {lock.name}.") from None
            time.sleep(0.05)
            continue
        except OSError as exc:
            raise WriteRefused(f"Cannot create {lock} ({exc.strerror or exc}); nothing was "
                               f"written.") from None
        break
    try:
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def _write_temp(src: IO[bytes], pkg: _Package, plan: _Plan, path: Path) -> Path:
    """The new workbook in a temp file beside ``path``, flushed to disk."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteRefused(f"Cannot create a file in {path.parent} ({exc.strerror or exc}); "
                           f"nothing was written.") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as dst:
            _write_zip(src, pkg.entries, pkg.comment, plan.replace, frozenset(plan.drop), dst,
                       plan.add)
            dst.flush()
            os.fsync(dst.fileno())
        with contextlib.suppress(OSError):
            shutil.copymode(path, tmp)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise WriteRefused(f"Writing the new workbook failed ({exc.strerror or exc}); "
                               f"nothing was written.") from None
        raise
    return tmp


def _part_bytes(pkg: _Package, replace: Mapping[str, _PartData], part: str) -> bytes:
    """A small part as it will be written: its replacement, else as it is."""
    data = replace.get(part)
    if data is None:
        return pkg.read(part)
    if isinstance(data, _Packed):
        raise _BadPart(f"{part} was packed")  # only sheets are packed, never these parts
    return data


def _drop_calc_chain(pkg: _Package, replace: dict[str, _PartData]) -> None:
    """Remove calcChain's relationship and content-type override (the part is dropped)."""
    assert pkg.calc_chain_part is not None
    rels = _part_bytes(pkg, replace, pkg.workbook_rels_part).decode("utf-8")
    rels = re.sub(r'<(\w+:)?Relationship\b[^>]*?Type="[^"]*/calcChain"[^>]*/>', "", rels)
    replace[pkg.workbook_rels_part] = rels.encode("utf-8")
    ct_part = "[Content_Types].xml"
    if ct_part in pkg.names:
        ct = _part_bytes(pkg, replace, ct_part).decode("utf-8")
        name = re.escape("/" + pkg.calc_chain_part)
        ct = re.sub(rf'<(\w+:)?Override\b[^>]*?PartName="{name}"[^>]*/>', "", ct)
        replace[ct_part] = ct.encode("utf-8")


def append_log(path: Path | str, entries: Sequence[LogEntry], *,
               backups_kept: int = 5) -> WriteReport:
    """Append ``entries`` to the Log sheet (earlier rows are read back and kept)."""
    return write_tool_sheets(path, {}, log=entries, backups_kept=backups_kept)
