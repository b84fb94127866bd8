"""Build the master workbook (``workbook/contracts.xlsm``) from the schema and a Book.

Everything in the workbook is derived from :mod:`contract_tracker.schema`: one Excel
table per user table with bilingual headers, number formats, data validation
(dropdowns, dates, amounts >= 0), frozen headers, column widths and print setup; the
tool-owned sheets exist, empty, for the tool to fill. The build is byte-reproducible:
fixed document dates and zip timestamps, no randomness.

Column widths come from the schema and, at build time, from the data: CJK characters
count double, a column never gets wider than :data:`MAX_WIDTH`, and free text wraps (with
the row made tall enough), so nothing printed runs into the next column. Every column
also carries its number format at column level, so a value typed into a new row of the
empty workbook is formatted too (a phone number stays text, an amount shows as ¥).

:func:`save_built` is how the command line writes a build: it never replaces a
different file (the user's data) unless asked, and then keeps a backup first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import schema
from .records import Book, Settings
from .schema import Column, Kind, Table
from .textwidth import text_width, wrapped_lines

BUILD_DATE = dt.datetime(2026, 1, 1)
"""Fixed creation date written into the workbook, so two builds are identical."""

MAX_ROW = 1_048_576
FORMATS: dict[Kind, str] = {
    Kind.MONEY: "¥#,##0.00",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm",
    Kind.MONTH: "yyyy-mm",
    Kind.PERCENT: "0.00%",
    Kind.INT: "0",
    Kind.DECIMAL: "0.####",
    Kind.ID: "@",
    Kind.TEXT: "@",
}
BOOL_TEXT = {True: "是", False: "否"}
TABLE_STYLE = "Table Style Medium 2"
HEADER_COLOR = "#1F4E78"

ALIGN: dict[Kind, dict[str, object]] = {
    # Numbers sit right with a gap before the next (left-aligned) column; short numbers,
    # dates and times are centred, so no number touches its neighbour's text in print.
    Kind.MONEY: {"align": "right", "indent": 1},
    Kind.DECIMAL: {"align": "right", "indent": 1},
    Kind.PERCENT: {"align": "right", "indent": 1},
    Kind.INT: {"align": "center"},
    Kind.DATE: {"align": "center"},
    Kind.DATETIME: {"align": "center"},
    Kind.MONTH: {"align": "center"},
}
WRAP_KINDS = frozenset({Kind.TEXT})
"""Free text wraps inside its column instead of running into the next one."""
MAX_WIDTH = 50
"""No column is made wider than this for its data; longer text wraps."""
PADDING = 2
"""Width units kept free beside a cell's text."""
LINE_HEIGHT = 15
"""Points per line of a wrapped cell (Excel's default row height)."""


def cell_value(column_kind: Kind, choices: tuple[schema.Choice, ...], value: object) -> object:
    """A record's field as the value a user would type into the cell."""
    if value is None:
        return None
    if column_kind is Kind.ENUM:
        for choice in choices:
            if choice.key == value:
                return choice.zh
        return str(value)
    if column_kind is Kind.BOOL:
        return BOOL_TEXT[bool(value)]
    return value


def table_rows(table: Table, records: Iterable[Any]) -> list[list[object]]:
    return [[cell_value(c.kind, c.choices, getattr(r, c.key)) for c in table.columns]
            for r in records]


def settings_rows(settings: Settings) -> dict[str, list[list[object]]]:
    """The tables of the Settings sheet as rows."""
    key_values = [
        [s.key, s.zh, cell_value(s.kind, s.choices, getattr(settings, s.key)), s.doc]
        for s in schema.SETTINGS
    ]
    return {
        schema.SETTINGS_TABLE.name: key_values,
        schema.SLA_PENALTY_TABLE.name: table_rows(schema.SLA_PENALTY_TABLE,
                                                  settings.sla_penalties),
        schema.CREDIT_TIER_TABLE.name: table_rows(schema.CREDIT_TIER_TABLE,
                                                  settings.credit_tiers),
        schema.AGEING_TABLE.name: table_rows(schema.AGEING_TABLE, settings.ageing),
        schema.HOLIDAY_TABLE.name: table_rows(schema.HOLIDAY_TABLE, settings.holidays),
    }


_RECORDS = {
    "tblClients": "clients", "tblContracts": "contracts", "tblFeeItems": "fee_items",
    "tblInstallments": "installments", "tblReceipts": "receipts",
    "tblIncidents": "incidents", "tblAvailability": "availability",
}


def book_rows(book: Book) -> dict[str, list[list[object]]]:
    """Every user table's rows, by table name."""
    rows = {t.name: table_rows(t, getattr(book, _RECORDS[t.name])) for t in schema.DATA_TABLES}
    rows.update(settings_rows(book.settings))
    return rows


class _Formats:
    """XlsxWriter formats, created once per workbook."""

    def __init__(self, workbook: Any) -> None:
        self.workbook = workbook
        self.header = workbook.add_format({
            "bold": True, "font_color": "#FFFFFF", "bg_color": HEADER_COLOR,
            "text_wrap": True, "valign": "vcenter", "border": 1,
        })
        self.kind = {k: workbook.add_format({"num_format": f, "valign": "top", **ALIGN.get(k, {}),
                                             "text_wrap": k in WRAP_KINDS})
                     for k, f in FORMATS.items()}
        self.kind[Kind.ENUM] = workbook.add_format({"valign": "top"})
        self.kind[Kind.BOOL] = self.kind[Kind.ENUM]
        self.general = self.kind[Kind.ENUM]
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.note = workbook.add_format({"italic": True, "font_color": "#595959"})
        self._left: dict[Kind, Any] = {}

    def of(self, kind: Kind) -> Any:
        return self.kind[kind]

    def left(self, kind: Kind) -> Any:
        """The format of ``kind`` aligned left: for the value column of Settings, where
        numbers stand under text."""
        if kind not in self._left:
            self._left[kind] = self.workbook.add_format({
                "num_format": FORMATS.get(kind, "General"), "valign": "top", "align": "left"})
        return self._left[kind]


def column_width(column: Column) -> float:
    """Wide enough for the header to wrap into its two halves, 中文 / (key), unbroken."""
    return max(column.width or 12, len(column.key) + 3, 2 * len(column.zh) + 2)


def shown_text(kind: Kind, value: object) -> str:
    """A cell's value as its number format shows it (for sizing its column)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return BOOL_TEXT[value]
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m" if kind is Kind.MONTH else "%Y-%m-%d")
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value))
        if kind is Kind.MONEY:
            return f"¥{number:,.2f}"
        if kind is Kind.PERCENT:
            return f"{number * 100:.2f}%"
        if kind is Kind.INT:
            return f"{number:.0f}"
        return f"{number.normalize():f}"
    return str(value)


def data_width(column: Column, values: Iterable[object], kind: Kind | None = None) -> float:
    """The width for ``column`` holding ``values``: its schema width, widened to fit the
    longest value plus :data:`PADDING`, but at most :data:`MAX_WIDTH` (longer text wraps)."""
    kind = kind or column.kind
    present = set(values)
    present.discard(None)
    texts = [v for v in present if v.__class__ is str]
    longest = max(map(text_width, texts), default=0)
    present.difference_update(texts)
    numbers = [v for v in present if v.__class__ in (int, float, Decimal)]
    present.difference_update(numbers)
    # A number's shown width grows with its size: the extremes stand for all. Dates and
    # times are shown at one width: one of each stands for all.
    samples = [*({v.__class__: v for v in present}.values()),
               *((max(numbers), min(numbers)) if numbers else ())]
    longest = max([longest, *(text_width(shown_text(kind, v)) for v in samples)])
    return max(column_width(column), min(MAX_WIDTH, longest + PADDING))


def _validation(column: Column) -> dict[str, Any] | None:
    label = column.zh
    if column.kind is Kind.ENUM:
        return {"validate": "list", "source": [c.zh for c in column.choices],
                "error_title": label, "error_message": "请从下拉列表中选择 / pick from the list"}
    if column.kind is Kind.BOOL:
        return {"validate": "list", "source": ["是", "否"], "error_title": label,
                "error_message": "是 or 否"}
    if column.ref:
        return {"validate": "list", "source": f"=ids_{column.ref}", "error_title": label,
                "error_message": f"不在 {column.ref} 表中 / not on the {column.ref} sheet"}
    if column.kind in (Kind.DATE, Kind.MONTH):
        return {"validate": "date", "criteria": "between",
                "minimum": schema.FIRST_DAY, "maximum": schema.LAST_DAY,
                "error_title": label, "error_message": "请输入日期 yyyy-mm-dd / enter a date"}
    if column.kind is Kind.DATETIME:
        return {"validate": "date", "criteria": "between", "minimum": schema.FIRST_DAY,
                "maximum": dt.datetime.combine(schema.LAST_DAY, dt.time(23, 59, 59)),
                "error_title": label,
                "error_message": "请输入日期时间 yyyy-mm-dd hh:mm / enter a date and time"}
    if column.kind in (Kind.MONEY, Kind.DECIMAL) and column.maximum is not None:
        return {"validate": "decimal", "criteria": "between", "minimum": 0,
                "maximum": float(column.maximum), "error_title": label,
                "error_message": f"0 - {column.maximum:,}"}
    if column.kind in (Kind.MONEY, Kind.DECIMAL):
        return {"validate": "decimal", "criteria": ">=", "value": 0, "error_title": label,
                "error_message": "必须是不小于 0 的数 / a number >= 0"}
    if column.kind is Kind.PERCENT:
        return {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1,
                "error_title": label, "error_message": "0% - 100%"}
    if column.kind is Kind.INT and column.maximum is not None:
        return {"validate": "integer", "criteria": "between", "minimum": 0,
                "maximum": int(column.maximum), "error_title": label,
                "error_message": f"0 - {column.maximum:,} 的整数 / a whole number"}
    if column.kind is Kind.INT:
        return {"validate": "integer", "criteria": ">=", "value": 0, "error_title": label,
                "error_message": "必须是不小于 0 的整数 / a whole number >= 0"}
    return None


def _write_cells(ws: Any, row: int, first_col: int, values: Sequence[object],
                 kinds: Sequence[Kind], fmt: _Formats, left: bool = False) -> None:
    for offset, (value, kind) in enumerate(zip(values, kinds, strict=True)):
        col = first_col + offset
        style = fmt.left(kind) if left else fmt.of(kind)
        if value is None:
            ws.write_blank(row, col, None, style)
        elif isinstance(value, str):
            ws.write_string(row, col, value, style)
        elif isinstance(value, bool):
            ws.write_string(row, col, BOOL_TEXT[value], style)
        elif isinstance(value, dt.datetime):
            ws.write_datetime(row, col, value,
                              fmt.left(Kind.DATETIME) if left else fmt.of(Kind.DATETIME))
        elif isinstance(value, dt.date):
            date_kind = kind if kind in (Kind.DATE, Kind.MONTH) else Kind.DATE
            ws.write_datetime(row, col, dt.datetime(value.year, value.month, value.day),
                              fmt.left(date_kind) if left else fmt.of(date_kind))
        elif isinstance(value, (int, float, Decimal)):
            ws.write_number(row, col, float(value), style)
        else:
            ws.write_string(row, col, str(value), style)


def _add_table(ws: Any, table: Table, rows: list[list[object]], fmt: _Formats,
               heights: dict[int, float]) -> list[float]:
    """Write ``table`` with its rows; returns its column widths. ``heights`` collects, per
    0-based row, the height its wrapped cells need."""
    first = table.first_col
    last = first + len(table.columns) - 1
    kinds = [c.kind for c in table.columns]
    for r, values in enumerate(rows, start=1):
        _write_cells(ws, r, first, values, kinds, fmt)
    if not rows:  # the empty workbook: the table's one data row carries the formats
        _write_cells(ws, 1, first, [None] * len(kinds), kinds, fmt)
    ws.add_table(0, first, max(len(rows), 1), last, {
        "name": table.name,
        "style": TABLE_STYLE,
        "columns": [{"header": c.header, "header_format": fmt.header,
                     "format": fmt.of(k)} for c, k in zip(table.columns, kinds, strict=True)],
        "autofilter": True,
    })
    widths = []
    for offset, column in enumerate(table.columns):
        col = first + offset
        values = [row[offset] for row in rows]
        width = data_width(column, values)
        widths.append(width)
        # The value column of Settings holds every kind of setting: no text format there.
        column_format = (fmt.general if table is schema.SETTINGS_TABLE and column.key == "value"
                         else fmt.of(column.kind))
        ws.set_column(col, col, width, column_format)
        if column.kind in WRAP_KINDS:
            for r, value in enumerate(values, start=1):
                if isinstance(value, str) and text_width(value) > width - PADDING:
                    need = LINE_HEIGHT * wrapped_lines(value, width - PADDING)
                    heights[r] = max(heights.get(r, LINE_HEIGHT), need)
        rule = _validation(column)
        if rule is not None and table is not schema.SETTINGS_TABLE:
            ws.data_validation(1, col, MAX_ROW - 1, col, {**rule, "ignore_blank": True})
        if column.doc:
            ws.write_comment(0, col, f"{column.header}\n{column.doc}",
                             {"x_scale": 2, "y_scale": 1.2, "author": "Contract Tracker"})
    return widths


def _set_heights(ws: Any, heights: dict[int, float]) -> None:
    for row in sorted(heights):
        if heights[row] > LINE_HEIGHT:
            ws.set_row(row, heights[row])


PRINT_WIDTH_PER_PAGE = 240
"""Column-width units that stay legible on one landscape A4 page."""


FOOTER = "&L&A&C&P / &N"
"""Every printed page: the sheet's name on the left, page / pages in the centre."""


def pages_wide(total_width: float) -> int:
    return max(1, math.ceil(total_width / PRINT_WIDTH_PER_PAGE))


def _page_setup(ws: Any, total_width: float = 0, repeat_first_column: bool = False) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    wide = pages_wide(total_width)
    ws.fit_to_pages(wide, 0)
    ws.repeat_rows(0)
    if repeat_first_column and wide > 1:  # the row's ID on every page of a wide table
        ws.repeat_columns(0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer(FOOTER)


def code_name(sheet: str) -> str:
    """The VBA codeName of a sheet: ``shContracts`` (prefixed, so no sheet shadows a VBA
    built-in such as ``Log``)."""
    return f"sh{sheet}"


def build_workbook(book: Book, path: Path, with_vba: bool = True) -> Path:
    """Write the master workbook for ``book`` to ``path`` (replacing whatever is there:
    the command line uses :func:`save_built` instead)."""
    data = workbook_bytes(book, with_vba)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def workbook_bytes(book: Book, with_vba: bool = True) -> bytes:
    """The master workbook for ``book``: an .xlsm with the project's VBA module, the
    pinned xlwings standalone module and the ribbon (``with_vba``), or a plain .xlsx
    without them."""
    import xlsxwriter

    from .excel.package import attach_vba_project, with_custom_ui

    target = io.BytesIO()
    workbook = xlsxwriter.Workbook(target, {
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "in_memory": True,
    })
    workbook.set_properties({
        "title": "Contract Tracker 合同管理", "author": "Contract Tracker",
        "company": book.settings.company_name or "", "created": BUILD_DATE,
    })
    workbook.set_calc_mode("auto")
    fmt = _Formats(workbook)
    rows = book_rows(book)
    sheets: dict[str, Any] = {}
    for name in schema.SHEET_ORDER:
        sheets[name] = workbook.add_worksheet(name)

    for table in schema.DATA_TABLES:
        ws = sheets[table.sheet]
        heights: dict[int, float] = {}
        widths = _add_table(ws, table, rows[table.name], fmt, heights)
        ws.freeze_panes(1, 1)
        ws.set_row(0, 36)
        _set_heights(ws, heights)
        _page_setup(ws, sum(widths), repeat_first_column=True)
        id_col = table.columns[0]
        if id_col.unique:
            workbook.define_name(f"ids_{table.sheet}",
                                 f"='{table.sheet}'!$A$2:$A${MAX_ROW}")

    settings_ws = sheets["Settings"]
    setting_kinds = [s.kind for s in schema.SETTINGS]
    heights = {}
    settings_width = 0.0
    for table in schema.SETTINGS_TABLES:
        settings_width += sum(_add_table(settings_ws, table, rows[table.name], fmt, heights))
    for r, (setting, kind) in enumerate(zip(schema.SETTINGS, setting_kinds, strict=True),
                                        start=1):
        value_col = schema.SETTINGS_TABLE.first_col + 2
        value = cell_value(kind, setting.choices, getattr(book.settings, setting.key))
        _write_cells(settings_ws, r, value_col, [value], [kind], fmt, left=True)
        rule = _validation(Column(setting.key, setting.zh, kind, choices=setting.choices,
                                  maximum=setting.maximum))
        if rule is not None:
            settings_ws.data_validation(r, value_col, r, value_col, rule)
    settings_ws.freeze_panes(1, 0)
    settings_ws.set_row(0, 36)
    _set_heights(settings_ws, heights)
    # Its second page holds the other tables: the keys of the first are not repeated.
    _page_setup(settings_ws, settings_width)

    for tool in schema.TOOL_SHEETS:
        ws = sheets[tool.name]
        ws.write_string(0, 0, f"{tool.zh} {tool.name}", fmt.title)
        ws.write_string(1, 0, f"{tool.doc} 由工具生成，请勿手工修改 (written by the tool).",
                        fmt.note)
        ws.set_column(0, 0, 60)
        _page_setup(ws)
        # The writer puts a title in row 1 and the header in row 2; the Log has no title.
        ws.repeat_rows(0 if tool.name == "Log" else 1)
        ws.set_tab_color("#808080" if tool.name != "Dashboard" else HEADER_COLOR)

    workbook.define_name("CT_SCHEMA_VERSION", f"={schema.SCHEMA_VERSION}")
    sheets["Dashboard"].activate()
    if with_vba:
        attach_vba_project(workbook, [(name, code_name(name)) for name in schema.SHEET_ORDER])
    workbook.close()
    data = normalise_zip(target.getvalue())
    if with_vba:
        data = with_custom_ui(data)
    return data


def save_built(data: bytes, path: Path, force: bool = False,
               backups_kept: int = Settings().backups_kept) -> str:
    """Write a built workbook to ``path`` without ever losing a user's file; returns what
    was done, in one line.

    A file already at ``path`` with the same bytes is left alone. A different file (the
    user's data, perhaps) is replaced only with ``force``, after a backup into
    ``.backups/`` beside it (the same backups the sheet writer keeps). The new file is
    written to a temp file and moved into place in one step. Raises
    :class:`~contract_tracker.sheetwriter.WriteRefused` with a one-line message, nothing
    written, when ``path`` is a folder, exists without ``force``, or cannot be written.
    """
    from .sheetwriter import WriteRefused, _check_can_write, _make_backup, _rotate_backups

    if path.is_dir():
        raise WriteRefused(f"{path} is a folder; name the workbook file, e.g. "
                           f"--out {path / 'contracts.xlsm'}. Nothing was written.")
    backup: Path | None = None
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise WriteRefused(f"{path} exists and is not a regular file; nothing was written.")
        try:
            same = path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError as exc:
            raise WriteRefused(f"{path} exists but cannot be read ({exc.strerror or exc}); "
                               f"nothing was written.") from None
        if same:
            return f"{path} is already this build; left unchanged"
        if not force:
            raise WriteRefused(
                f"{path} already exists and differs from this build (it may hold your data); "
                f"nothing was written. Use --out for another file, or --force to replace it "
                f"(a backup is kept in {path.parent / '.backups'}).")
        _check_can_write(path)  # open in Excel, read-only, folder not writable
        backup = _make_backup(path, max(backups_kept, 1))
    folder = path.parent
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise WriteRefused(f"{blocking} is a file, not a folder: {path} cannot be written "
                           f"there. Nothing was written.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteRefused(f"Cannot create the folder {folder} ({exc.strerror or exc}); "
                           f"nothing was written.") from None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WriteRefused(f"Cannot write into {folder} ({exc.strerror or exc}); choose "
                           f"another --out. Nothing was written.") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _set_mode(tmp, path if backup is not None else None)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()
        raise WriteRefused(f"Cannot write {path} ({exc.strerror or exc}); nothing was "
                           f"written.") from None
    if backup is None:
        return f"wrote {path}"
    notes = _rotate_backups(path, max(backups_kept, 1))
    return "; ".join([f"replaced {path} (the old file is {backup.parent.name}/{backup.name})",
                      *notes])


def _set_mode(tmp: Path, like: Path | None) -> None:
    """Give the temp file (created 0600) the old file's mode, or a new file's usual one."""
    with contextlib.suppress(OSError):
        if like is not None:
            os.chmod(tmp, like.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)


def normalise_zip(data: bytes) -> bytes:
    """Rewrite the package with fixed timestamps so builds are byte-identical."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(
            out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()

