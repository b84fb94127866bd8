"""Build the master workbook (``workbook/contracts.xlsm``) from the schema and a Book.

Everything in the workbook is derived from :mod:`contract_tracker.schema`: one Excel
table per user table with bilingual headers, number formats, data validation
(dropdowns, dates, amounts >= 0), frozen headers, column widths and print setup; the
tool-owned sheets exist, empty, for the tool to fill. The build is byte-reproducible:
fixed document dates and zip timestamps, no randomness.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import schema
from .records import Book, Settings
from .schema import Column, Kind, Table

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
    """The four tables of the Settings sheet as rows."""
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
        self.kind = {k: workbook.add_format({"num_format": f, "valign": "top"})
                     for k, f in FORMATS.items()}
        self.kind[Kind.ENUM] = workbook.add_format({"valign": "top"})
        self.kind[Kind.BOOL] = self.kind[Kind.ENUM]
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.note = workbook.add_format({"italic": True, "font_color": "#595959"})

    def of(self, kind: Kind) -> Any:
        return self.kind[kind]


def column_width(column: Column) -> float:
    """Wide enough for the header to wrap into its two halves, 中文 / (key), unbroken."""
    return max(column.width or 12, len(column.key) + 3, 2 * len(column.zh) + 2)


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
                "minimum": dt.date(1990, 1, 1), "maximum": dt.date(2099, 12, 31),
                "error_title": label, "error_message": "请输入日期 yyyy-mm-dd / enter a date"}
    if column.kind is Kind.DATETIME:
        return {"validate": "date", "criteria": "between",
                "minimum": dt.date(1990, 1, 1), "maximum": dt.date(2099, 12, 31),
                "error_title": label,
                "error_message": "请输入日期时间 yyyy-mm-dd hh:mm / enter a date and time"}
    if column.kind in (Kind.MONEY, Kind.DECIMAL):
        return {"validate": "decimal", "criteria": ">=", "value": 0, "error_title": label,
                "error_message": "必须是不小于 0 的数 / a number >= 0"}
    if column.kind is Kind.PERCENT:
        return {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1,
                "error_title": label, "error_message": "0% - 100%"}
    if column.kind is Kind.INT:
        return {"validate": "integer", "criteria": ">=", "value": 0, "error_title": label,
                "error_message": "必须是不小于 0 的整数 / a whole number >= 0"}
    return None


def _write_cells(ws: Any, row: int, first_col: int, values: Sequence[object],
                 kinds: Sequence[Kind], fmt: _Formats) -> None:
    for offset, (value, kind) in enumerate(zip(values, kinds, strict=True)):
        col = first_col + offset
        style = fmt.of(kind)
        if value is None:
            ws.write_blank(row, col, None, style)
        elif isinstance(value, str):
            ws.write_string(row, col, value, style)
        elif isinstance(value, bool):
            ws.write_string(row, col, BOOL_TEXT[value], style)
        elif isinstance(value, dt.datetime):
            ws.write_datetime(row, col, value, fmt.of(Kind.DATETIME))
        elif isinstance(value, dt.date):
            date_kind = kind if kind in (Kind.DATE, Kind.MONTH) else Kind.DATE
            ws.write_datetime(row, col, dt.datetime(value.year, value.month, value.day),
                              fmt.of(date_kind))
        elif isinstance(value, (int, float, Decimal)):
            ws.write_number(row, col, float(value), style)
        else:
            ws.write_string(row, col, str(value), style)


def _add_table(ws: Any, table: Table, rows: list[list[object]], fmt: _Formats,
               kinds: Sequence[Kind] | None = None) -> None:
    first = table.first_col
    last = first + len(table.columns) - 1
    kinds = kinds or [c.kind for c in table.columns]
    for r, values in enumerate(rows, start=1):
        _write_cells(ws, r, first, values, kinds, fmt)
    ws.add_table(0, first, max(len(rows), 1), last, {
        "name": table.name,
        "style": TABLE_STYLE,
        "columns": [{"header": c.header, "header_format": fmt.header,
                     "format": fmt.of(k)} for c, k in zip(table.columns, kinds, strict=True)],
        "autofilter": True,
    })
    for offset, column in enumerate(table.columns):
        col = first + offset
        ws.set_column(col, col, column_width(column))
        rule = _validation(column)
        if rule is not None and table is not schema.SETTINGS_TABLE:
            ws.data_validation(1, col, MAX_ROW - 1, col, {**rule, "ignore_blank": True})
        if column.doc:
            ws.write_comment(0, col, f"{column.header}\n{column.doc}",
                             {"x_scale": 2, "y_scale": 1.2, "author": "Contract Tracker"})


PRINT_WIDTH_PER_PAGE = 240
"""Column-width units that stay legible on one landscape A4 page."""


def _page_setup(ws: Any, total_width: float = 0) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(max(1, math.ceil(total_width / PRINT_WIDTH_PER_PAGE)), 0)
    ws.repeat_rows(0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C&P / &N")


def code_name(sheet: str) -> str:
    """The VBA codeName of a sheet: ``shContracts`` (prefixed, so no sheet shadows a VBA
    built-in such as ``Log``)."""
    return f"sh{sheet}"


def build_workbook(book: Book, path: Path, with_vba: bool = True) -> Path:
    """Write the master workbook for ``book`` to ``path``: an .xlsm with the project's
    VBA module, the pinned xlwings standalone module and the ribbon (``with_vba``), or a
    plain .xlsx without them."""
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
        _add_table(ws, table, rows[table.name], fmt)
        ws.freeze_panes(1, 1)
        ws.set_row(0, 36)
        _page_setup(ws, sum(column_width(c) for c in table.columns))
        id_col = table.columns[0]
        if id_col.unique:
            workbook.define_name(f"ids_{table.sheet}",
                                 f"='{table.sheet}'!$A$2:$A${MAX_ROW}")

    settings_ws = sheets["Settings"]
    setting_kinds = [s.kind for s in schema.SETTINGS]
    for table in schema.SETTINGS_TABLES:
        _add_table(settings_ws, table, rows[table.name], fmt)
    for r, (setting, kind) in enumerate(zip(schema.SETTINGS, setting_kinds, strict=True),
                                        start=1):
        value_col = schema.SETTINGS_TABLE.first_col + 2
        value = cell_value(kind, setting.choices, getattr(book.settings, setting.key))
        _write_cells(settings_ws, r, value_col, [value], [kind], fmt)
        rule = _validation(Column(setting.key, setting.zh, kind, choices=setting.choices))
        if rule is not None:
            settings_ws.data_validation(r, value_col, r, value_col, rule)
    settings_ws.freeze_panes(1, 0)
    settings_ws.set_row(0, 36)
    _page_setup(settings_ws, sum(column_width(c) for t in schema.SETTINGS_TABLES
                                 for c in t.columns))

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
    data = _normalise_zip(target.getvalue())
    if with_vba:
        data = with_custom_ui(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _normalise_zip(data: bytes) -> bytes:
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

