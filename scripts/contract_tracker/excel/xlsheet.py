"""The xlwings side of the sheets: bulk reads of user sheets, SheetContent into tool sheets.

The ribbon macros work on the workbook that is OPEN in Excel, never on its file, so they
cannot use :mod:`contract_tracker.sheetwriter` (which rewrites the package). This module
is the same contract over xlwings' Book / Sheet / Range API:

* :func:`read_grid` reads a sheet's used area, from A1, in ONE range read (a grid as
  :func:`contract_tracker.parse.parse_book` takes it: ``grid[0]`` is Excel row 1); Excel
  error values (``#N/A``...) become :class:`~contract_tracker.parse.CellError`.
* :func:`write_sheet` replaces a tool sheet with a
  :class:`~contract_tracker.sheetwriter.SheetContent`: one ``clear``, ONE value assignment
  for the whole block, then number formats, fonts, fills, wrapping, borders and
  alignment per rectangle of equal style (a column run of a table, a styled row, a run
  of styled cells), one call per column width, per merge and per conditional rule, one
  row autofit where the content sets row heights (Excel measures the wrapped text; a
  merged row, which AutoFit leaves out, is given the content's height, one call each), the
  charts (the sheet's old charts are deleted first, as the file writer replaces a
  sheet's drawing), and the frozen panes. The number of Excel calls depends on the
  sheet's layout, never on its row count.

Excel's ``Range.Value`` parses a string as if it were typed: ``=...`` becomes a formula,
``0012`` the number 12, ``2026-01-05`` a date, ``TRUE`` a boolean. Every string that Excel
could take for something other than text is therefore written with a leading apostrophe
(Excel's own "this is text" prefix: the cell holds the text without it) -- see
:func:`excel_value`. The only formulas this module writes are its own ``HYPERLINK`` calls
for :attr:`SheetContent.links`, built from escaped string literals.

What a file write has and this one has not (xlwings has no portable API for them):
autofilter buttons, the print setup (the built workbook's tool sheets carry theirs
already) and the underline of link cells. Frozen panes use xlwings' ``freeze_panes``
where the engine has it, Excel's window object on Windows, and are left as they are
otherwise (macOS).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from contract_tracker import schema
from contract_tracker.parse import CellError
from contract_tracker.sheetwriter import (
    DIFF_STYLES,
    LOG_HEADERS,
    MAX_TEXT,
    BarChart,
    CellStyle,
    CellValue,
    CondRule,
    SheetContent,
    parse_range,
    resolve_style,
)

if TYPE_CHECKING:
    from xlwings import Range, Sheet

__all__ = [
    "DEFAULT_FONT_SIZE",
    "EXCEL_ERRORS",
    "excel_value",
    "freeze_address",
    "hyperlink_formula",
    "log_rows",
    "needs_text_prefix",
    "read_grid",
    "write_sheet",
]

EXCEL_ERRORS: Final = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
})
"""Excel's error values as xlwings returns them with ``err_to_str=True``."""

DEFAULT_FONT_SIZE: Final = 11.0
"""The built workbook's body font size (what a style without a size resets to)."""

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BOOLEAN_WORDS = frozenset({"TRUE", "FALSE"})
_PREFIX_FIRST = frozenset("=+-@'#\t\r\n ")
_FIRST_EXCEL_DATE = dt.date(1900, 3, 1)  # before it Excel's serials are off by a day
_HYPERLINK_ARG_MAX = 255  # Excel's limit on a string literal in a formula


# --- reading ------------------------------------------------------------------------------


def read_grid(sheet: Sheet) -> list[list[object]]:
    """The sheet's values from A1 to the last used cell, in one range read.

    Empty cells are None, numbers float (Decimal for currency-formatted cells on
    Windows), dates ``datetime``, Excel errors :class:`CellError`. An empty sheet gives
    ``[[None]]``.
    """
    last = sheet.used_range.last_cell
    rows, cols = last.row, last.column
    values = sheet.range((1, 1), (rows, cols)).options(ndim=2, err_to_str=True).value
    grid: list[list[object]] = []
    for row in values or [[None]]:
        grid.append([CellError(v) if isinstance(v, str) and v in EXCEL_ERRORS else v
                     for v in row])
    return grid


_LOG_KEYS = tuple(schema.header_key(h) for h in LOG_HEADERS)


def log_rows(grid: Sequence[Sequence[object]]) -> list[tuple[CellValue, ...]]:
    """The data rows under the Log sheet's header row (found by its English keys).

    A sheet without that header (the build's placeholder text) has no rows yet.
    """
    start = None
    for i, row in enumerate(grid):
        if tuple(schema.header_key(v) for v in row[:len(_LOG_KEYS)]) == _LOG_KEYS:
            start = i + 1
            break
    if start is None:
        return []
    rows: list[tuple[CellValue, ...]] = []
    for row in grid[start:]:
        values: list[CellValue] = [_cell_value(v) for v in row]
        while values and values[-1] is None:
            values.pop()
        if values:
            rows.append(tuple(values))
    return rows


def _cell_value(value: object) -> CellValue:
    if value is None or value == "":
        return None
    if isinstance(value, (str, int, float, Decimal, dt.date, bool)):
        return value
    return str(value)


# --- values -------------------------------------------------------------------------------


def needs_text_prefix(text: str) -> bool:
    """Whether Excel could read ``text`` typed into a cell as anything but that text.

    Conservative on purpose: a formula start (``= + - @``), an apostrophe (Excel would eat
    it), an error-like ``#``, leading whitespace, any digit (numbers, dates, times,
    fractions, percentages, amounts -- in every locale's notation) and the boolean words.
    Prefixing text that did not need it costs nothing: the cell holds the same text.
    """
    if not text:
        return False
    return (text[0] in _PREFIX_FIRST or any(ch.isdigit() for ch in text)
            or text.strip().upper() in _BOOLEAN_WORDS)


def _clean_text(text: str) -> str:
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("", text)
    return text[:MAX_TEXT]


def excel_value(value: CellValue | Enum) -> object:
    """A cell value as it can be handed to ``Range.value`` and arrive unchanged.

    Text Excel would reinterpret gets the ``'`` prefix; control characters are removed and
    text is cut to Excel's 32,767 characters; Decimal becomes float, a date a datetime
    (xlwings on macOS sends only datetimes), a timezone-aware datetime its wall-clock
    time; a date Excel cannot hold (before 1900-03-01) is written as ISO text; a number
    that is not finite is Excel's ``#NUM!`` error. Empty strings are empty cells.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        text = _clean_text(value)
        return "'" + text if needs_text_prefix(text) else text
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else float(value)
    if isinstance(value, (float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else "#NUM!"
    if isinstance(value, dt.datetime):
        stamp = value.replace(tzinfo=None)
        if stamp.date() < _FIRST_EXCEL_DATE:
            return "'" + stamp.isoformat()
        return stamp
    if isinstance(value, dt.date):
        if value < _FIRST_EXCEL_DATE:
            return "'" + value.isoformat()
        return dt.datetime(value.year, value.month, value.day)
    raise TypeError(f"cannot write a {type(value).__name__} ({value!r}) to a cell")


def _formula_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def hyperlink_formula(target: str, text: CellValue) -> str | None:
    """``=HYPERLINK("#<target>","<text>")``: a link to a place in this workbook.

    ``target`` is a location like ``'Installments'!E17``. None when the cell's text is
    not a string or too long for a formula's string literal (the cell then keeps its
    plain value).
    """
    if not isinstance(text, str) or not text:
        return None
    shown = _clean_text(text)
    where = "#" + target
    if len(shown) > _HYPERLINK_ARG_MAX or len(where) > _HYPERLINK_ARG_MAX:
        return None
    return f"=HYPERLINK({_formula_string(where)},{_formula_string(shown)})"


def freeze_address(rows: int, cols: int) -> str:
    """The frozen area as xlwings' ``freeze_at`` takes it: ``1:2``, ``A:B`` or ``A1:B2``."""
    if rows and cols:
        return f"A1:{schema.col_letter(cols - 1)}{rows}"
    if rows:
        return f"1:{rows}"
    return f"A:{schema.col_letter(cols - 1)}"


# --- styles -------------------------------------------------------------------------------

_STYLE_FIELDS = tuple(f.name for f in fields(CellStyle) if f.name != "underline")
_PLAIN = CellStyle()


@dataclass(frozen=True)
class _Box:
    """A rectangle of cells, 0-based inclusive rows and columns."""

    row1: int
    col1: int
    row2: int
    col2: int

    def corners(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return (self.row1 + 1, self.col1 + 1), (self.row2 + 1, self.col2 + 1)


def _hex(argb: str) -> str:
    return "#" + argb[-6:]


def _set_property(rng: Range, name: str, value: Any) -> None:
    """Set one style property on ``rng``; ``value`` None/False resets it to Excel's default."""
    if name == "num_format":
        rng.number_format = value or "General"
    elif name == "bold":
        rng.font.bold = bool(value)
    elif name == "size":
        rng.font.size = float(value or DEFAULT_FONT_SIZE)
    elif name == "color":
        rng.font.color = _hex(value) if value else "#000000"
    elif name == "fill":
        rng.color = _hex(value) if value else None
    elif name == "wrap":
        rng.wrap_text = bool(value)
    elif name == "border_bottom":
        rng.borders["edge_bottom"].line_style = "continuous" if value else "none"
    elif name == "horizontal":
        rng.horizontal_alignment = _HORIZONTAL.get(value or "general", "general")
    elif name == "vertical":
        rng.vertical_alignment = _VERTICAL.get(value or "bottom", "bottom")
    else:  # pragma: no cover - _STYLE_FIELDS and this function go together
        raise AssertionError(name)


if TYPE_CHECKING:
    from xlwings.base_classes import HorizontalAlignment, VerticalAlignment

_HORIZONTAL: Mapping[str, HorizontalAlignment] = {
    "general": "general", "left": "left", "center": "center", "right": "right",
    "fill": "fill", "justify": "justify", "centerContinuous": "center_across_selection",
    "distributed": "distributed",
}
_VERTICAL: Mapping[str, VerticalAlignment] = {
    "top": "top", "center": "center", "bottom": "bottom", "justify": "justify",
    "distributed": "distributed",
}


def _changes(style: CellStyle, base: CellStyle) -> dict[str, Any]:
    """The properties (number format aside) in which ``style`` differs from ``base``."""
    return {name: getattr(style, name) for name in _STYLE_FIELDS
            if name != "num_format" and getattr(style, name) != getattr(base, name)}


def _apply(sheet: Sheet, box: _Box, changes: Mapping[str, Any]) -> None:
    """Set each property of ``changes`` on ``box``: one range, one call per property."""
    if not changes:
        return
    rng = sheet.range(*box.corners())
    for name, value in changes.items():
        _set_property(rng, name, value)


def _date_format(values: Iterator[CellValue]) -> str | None:
    """The number format a run of cells needs for its dates (None: no dates, or mixed
    with numbers that a date format would disguise)."""
    dates = stamps = False
    for v in values:
        if isinstance(v, dt.datetime):
            stamps = True
        elif isinstance(v, dt.date):
            dates = True
        elif isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            return None
    if stamps:
        return "yyyy-mm-dd hh:mm"
    return "yyyy-mm-dd" if dates else None


def runs_of(indices: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs in sorted ``indices`` as (first, last) pairs."""
    start = prev = None
    for i in indices:
        if start is None or prev is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            yield start, prev
            start = prev = i
    if start is not None and prev is not None:
        yield start, prev


def _values(rows: Sequence[Sequence[CellValue]], box: _Box) -> Iterator[CellValue]:
    for r in range(box.row1, box.row2 + 1):
        row = rows[r]
        for c in range(box.col1, box.col2 + 1):
            yield row[c] if c < len(row) else None


def _groups(styles: Sequence[CellStyle]) -> Iterator[tuple[int, int, CellStyle]]:
    """Runs of adjacent columns with equal styles: (first, last, style)."""
    c = 0
    while c < len(styles):
        end = c
        while end + 1 < len(styles) and styles[end + 1] == styles[c]:
            end += 1
        yield c, end, styles[c]
        c = end + 1


def _style_plan(content: SheetContent, nrows: int, ncols: int
                ) -> list[tuple[_Box, dict[str, Any]]]:
    """Every rectangle the sheet's styles need, with the properties to set on it.

    Layers as in :class:`SheetContent`: column styles on the runs of rows without a row
    style, then the styled rows, then the styled (and linked) cells. Rectangles follow the
    layout only -- adjacent columns of equal style share one -- so the number of calls never
    depends on the data. Number formats, which date values may need where no style names
    one, are therefore set per column (and per styled-cell run) whatever they are.
    """
    rows = content.rows
    plan: list[tuple[_Box, dict[str, Any]]] = []
    row_styles = {r: resolve_style(s) for r, s in content.row_styles.items() if r < nrows}
    static = [resolve_style(content.col_styles[c]) if c in content.col_styles else _PLAIN
              for c in range(ncols)]
    plain_rows = [r for r in range(nrows) if r not in row_styles]
    run_of: dict[int, int] = {}
    for r1, r2 in runs_of(plain_rows):
        for r in range(r1, r2 + 1):
            run_of[r] = r1
        for c1, c2, style in _groups(static):
            box = _Box(r1, c1, r2, c2)
            changes = _changes(style, _PLAIN)
            if style.num_format is not None:
                changes["num_format"] = style.num_format
            plan.append((box, changes))
        for c in range(ncols):
            if static[c].num_format is None:
                box = _Box(r1, c, r2, c)
                plan.append((box, {"num_format": _date_format(_values(rows, box))}))
    for r, style in sorted(row_styles.items()):
        changes = _changes(style, _PLAIN)
        if style.num_format is not None:
            changes["num_format"] = style.num_format
        plan.append((_Box(r, 0, r, ncols - 1), changes))

    special: dict[tuple[int, int], str] = dict(content.cell_styles)
    for cell in content.links:
        special.setdefault(cell, "link")
    by_column: dict[tuple[int, str, CellStyle], list[int]] = {}
    for (r, c), name in sorted(special.items(), key=lambda item: (item[0][1], item[0][0])):
        if r >= nrows or c >= ncols:
            continue
        base = row_styles.get(r) or (static[c] if r in run_of else _PLAIN)
        if resolve_style(name) == base:
            continue
        by_column.setdefault((c, name, base), []).append(r)
    for (c, name, base), cell_rows in by_column.items():
        style = resolve_style(name)
        for r1, r2 in runs_of(cell_rows):
            box = _Box(r1, c, r2, c)
            changes = _changes(style, base)
            changes["num_format"] = style.num_format or _date_format(_values(rows, box))
            plan.append((box, changes))
    return plan


# --- writing ------------------------------------------------------------------------------

_OPERATORS: Mapping[str, Any] = {
    "==": "equal_to", "!=": "not_equal_to", ">": "greater_than",
    ">=": "greater_than_or_equal", "<": "less_than", "<=": "less_than_or_equal",
}


def _rule(sheet: Sheet, rule: CondRule) -> None:
    diff = DIFF_STYLES[rule.style]
    value = rule.value
    formula = (f"={_formula_string(value)}" if isinstance(value, str)
               else format(Decimal(str(value)), "f"))
    for area in rule.range.split():
        sheet.range(area).conditional_formats.add_cell_value(
            _OPERATORS[rule.op], formula,
            fill_color=_hex(diff.fill) if diff.fill else None,
            font_color=_hex(diff.color) if diff.color else None,
            font_bold=True if diff.bold else None)


def _chart(sheet: Sheet, spec: BarChart) -> None:
    """A clustered bar or column chart over ``spec.anchor`` (values, labels, title)."""
    anchor = sheet.range(spec.anchor)
    one_column = ":" not in spec.categories or (
        re.sub(r"[0-9$]", "", spec.categories.split(":")[0])
        == re.sub(r"[0-9$]", "", spec.categories.split(":")[-1]))
    chart = sheet.charts.add(
        anchor=anchor, width=anchor.width, height=anchor.height,
        chart_type="bar_clustered" if spec.horizontal else "column_clustered",
        source=sheet.range(",".join(spec.values)),
        plot_by="columns" if one_column else "rows", style=None)
    chart.set_x_axis_values(sheet.range(spec.categories))
    chart.title = spec.title or None
    for series, name in zip(chart.series, spec.names, strict=False):
        series.name = name
    chart.legend.visible = len(spec.values) > 1
    chart.value_axis.number_format = spec.num_format


def _freeze(sheet: Sheet, rows: int, cols: int) -> bool:
    """Freeze the top ``rows`` and left ``cols``; False when this engine cannot."""
    try:
        sheet.freeze_panes.freeze_at(freeze_address(rows, cols))
        return True
    except NotImplementedError:
        pass
    if not sys.platform.startswith("win"):
        return False
    book = sheet.book
    active = book.sheets.active
    sheet.activate()
    window = book.app.api.ActiveWindow
    window.FreezePanes = False
    window.ScrollRow = 1
    window.ScrollColumn = 1
    window.SplitRow = rows
    window.SplitColumn = cols
    window.FreezePanes = True
    active.activate()
    return True


def write_sheet(sheet: Sheet, content: SheetContent) -> list[str]:
    """Replace everything on ``sheet`` with ``content``; notes for the user ([] if none).

    The sheet is cleared (values, formats, merges, conditional formats), then written:
    the values in one assignment, then the styles, widths, merges, rules and panes.
    """
    notes: list[str] = []
    rows = content.rows
    nrows, ncols = len(rows), content.width
    sheet.clear()
    if nrows == 0 or ncols == 0:
        return notes
    matrix: list[list[object]] = []
    cut: list[str] = []
    for r, row in enumerate(rows):
        out = [excel_value(v) for v in row]
        out.extend([None] * (ncols - len(out)))
        cut += [f"{schema.col_letter(c)}{r + 1}" for c, v in enumerate(row)
                if isinstance(v, str) and len(v) > MAX_TEXT]
        matrix.append(out)
    if cut:
        notes.append(f"{sheet.name}!{', '.join(cut[:5])}: text cut to Excel's "
                     f"{MAX_TEXT:,} characters")
    for (r, c), target in content.links.items():
        if r < nrows and c < ncols:
            formula = hyperlink_formula(target, rows[r][c] if c < len(rows[r]) else None)
            if formula is not None:
                matrix[r][c] = formula
    sheet.range((1, 1), (nrows, ncols)).value = matrix

    for box, changes in _style_plan(content, nrows, ncols):
        _apply(sheet, box, changes)
    for c, width in sorted(content.widths.items()):  # per column: widths may follow data
        sheet.range((1, c + 1)).column_width = width
    merged_rows: set[int] = set()
    for ref in content.merges:
        sheet.range(ref).merge()
        r1, _, r2, _ = parse_range(ref)
        merged_rows.update(range(r1, r2 + 1))
    # Excel's AutoFit leaves merged cells out (a wrapped note across the table would keep
    # one line): those rows get the height the content gives; the rest are fitted.
    fitted = [r for r in content.heights if r not in merged_rows]
    if fitted:  # one call: Excel fits the wrapped rows to their text
        sheet.range((min(fitted) + 1, 1), (nrows, ncols)).rows.autofit()
    for r in sorted(merged_rows & set(content.heights)):
        sheet.range((r + 1, 1)).row_height = content.heights[r]
    for rule in content.rules:
        _rule(sheet, rule)
    if content.charts:
        for old in list(sheet.charts):
            old.delete()
        for spec in content.charts:
            _chart(sheet, spec)
    if content.freeze:
        _freeze(sheet, *content.freeze)  # cosmetic: left as it is where not supported
    return notes
