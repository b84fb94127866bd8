"""contract_tracker.build: the master workbook derived from the schema, reproducibly."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from contract_tracker import schema
from contract_tracker.build import build_workbook
from contract_tracker.cli import BUNDLED_WORKBOOK
from contract_tracker.records import Book

from .conftest import make_mini_book
from .lo import convert_with_libreoffice, pdf_text


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i.filename) for i in zf.infolist()}


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    a = build_workbook(make_mini_book(), tmp_path / "a.xlsm")
    b = build_workbook(make_mini_book(), tmp_path / "b.xlsm")
    assert a.read_bytes() == b.read_bytes()


def test_committed_workbook_equals_a_fresh_build(tmp_path: Path) -> None:
    from contract_tracker.sample import sample_book

    fresh = build_workbook(sample_book("small"), tmp_path / "contracts.xlsm")
    committed, built = parts(BUNDLED_WORKBOOK), parts(fresh)
    assert sorted(committed) == sorted(built)
    changed = [name for name in built if committed[name] != built[name]]
    assert changed == [], (
        "workbook/contracts.xlsm is stale: run 'contract-tracker build-workbook'")


def test_workbook_is_macro_enabled_with_vba(mini_workbook: Path) -> None:
    p = parts(mini_workbook)
    types = p["[Content_Types].xml"].decode()
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in types
    assert "xl/vbaProject.bin" in p


def test_sheets_in_order_with_tool_sheets_present(mini_workbook: Path) -> None:
    wb = openpyxl.load_workbook(mini_workbook, keep_vba=True)
    assert wb.sheetnames == list(schema.SHEET_ORDER)
    for tool in schema.TOOL_SHEETS:
        assert wb[tool.name]["A1"].value == f"{tool.zh} {tool.name}"


def test_every_user_table_has_bilingual_headers_and_formats(mini_workbook: Path) -> None:
    wb = openpyxl.load_workbook(mini_workbook, keep_vba=True)
    for table in schema.USER_TABLES:
        ws = wb[table.sheet]
        xl_table = ws.tables[table.name]
        first = schema.col_letter(table.first_col)
        assert xl_table.ref.startswith(f"{first}1:")
        headers = [ws.cell(1, table.first_col + 1 + i).value for i in range(len(table.columns))]
        assert headers == [c.header for c in table.columns]
        for i, column in enumerate(table.columns):
            index = table.first_col + i + 1
            width = next(d.width for d in ws.column_dimensions.values()
                         if d.min is not None and d.min <= index <= d.max)
            assert width >= max(len(column.key) + 2, column.width or 0)
    contracts = wb["Contracts"]
    assert contracts.freeze_panes == "B2"
    assert contracts["H2"].number_format == "¥#,##0.00"  # total_fee
    assert contracts["D2"].number_format == "yyyy-mm-dd"  # signing_date
    assert wb["Incidents"]["D2"].number_format == "yyyy-mm-dd hh:mm"
    assert contracts.page_setup.orientation == "landscape"
    assert contracts.page_setup.paperSize == 9
    assert contracts.sheet_properties.pageSetUpPr.fitToPage
    assert contracts.page_setup.fitToHeight == 0  # as tall as needed
    assert contracts.page_setup.fitToWidth > 1  # 31 columns: split over pages, legible
    assert wb["Clients"].page_setup.fitToWidth in (None, 1)  # one page wide


def test_data_validation_covers_dropdowns_dates_and_amounts(mini_workbook: Path) -> None:
    wb = openpyxl.load_workbook(mini_workbook, keep_vba=True)
    rules = {str(dv.sqref).split(":")[0]: dv
             for dv in wb["Contracts"].data_validations.dataValidation}
    assert rules["B2"].type == "list" and rules["B2"].formula1 == "ids_Clients"
    assert rules["AD2"].type == "list" and "履行中" in rules["AD2"].formula1
    assert rules["D2"].type == "date"
    assert rules["H2"].type == "decimal" and rules["H2"].operator == "greaterThanOrEqual"
    incidents = {str(dv.sqref).split(":")[0]: dv
                 for dv in wb["Incidents"].data_validations.dataValidation}
    assert incidents["C2"].type == "list" and "重大" in incidents["C2"].formula1
    assert incidents["B2"].formula1 == "ids_Contracts"
    assert wb.defined_names["ids_Clients"].attr_text == "'Clients'!$A$2:$A$1048576"


def test_empty_workbook_builds_and_has_all_tables(tmp_path: Path) -> None:
    path = build_workbook(Book(), tmp_path / "empty.xlsm")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    names = {name for ws in wb.worksheets for name in ws.tables}
    assert names == {t.name for t in schema.USER_TABLES}


@pytest.mark.libreoffice
def test_libreoffice_prints_the_user_sheets(mini_workbook: Path, tmp_path: Path) -> None:
    pdf = convert_with_libreoffice(mini_workbook, tmp_path, "pdf")
    text = pdf_text(pdf)
    for needle in ("合同编号", "(contract_id)", "杭州优品电子商务有限公司", "HT-2026-001",
                   "¥100,000.00", "2026-01-10", "(due_date)", "履行中",
                   "2026-03-02 09:00", "R&D <Ltd> 商贸有限公司"):
        assert needle in text, needle


def test_workbook_carries_the_ribbon_and_the_checked_in_vba(mini_workbook: Path) -> None:
    from oletools.olevba import VBA_Parser

    from contract_tracker.build import code_name
    from contract_tracker.excel.package import custom_ui_xml, vba_source_text

    p = parts(mini_workbook)
    assert p["customUI/customUI.xml"] == custom_ui_xml()
    assert b"http://schemas.microsoft.com/office/2006/relationships/ui/extensibility" in p[
        "_rels/.rels"]
    workbook_xml = p["xl/workbook.xml"].decode()
    assert 'codeName="ThisWorkbook"' in workbook_xml
    assert f'codeName="{code_name("Contracts")}"'.encode() in p["xl/worksheets/sheet3.xml"]
    parser = VBA_Parser(str(mini_workbook))
    modules = {path.split("/")[-1]: code for _, path, _, code in parser.extract_macros()}
    parser.close()
    assert modules["ContractTracker"] == vba_source_text("ContractTracker.bas").replace(
        "\r\n", "\n").replace("\n", "\r\n")
    assert set(modules) == {"ThisWorkbook", "ContractTracker", "xlwings", "Dictionary",
                            *(code_name(s) for s in schema.SHEET_ORDER)}
