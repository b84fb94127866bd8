"""contract_tracker.build: the master workbook derived from the schema, reproducibly."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from contract_tracker import build, schema
from contract_tracker.build import (
    FORMATS,
    LINE_HEIGHT,
    PADDING,
    book_rows,
    build_workbook,
    shown_text,
    workbook_bytes,
)
from contract_tracker.cli import BUNDLED_WORKBOOK, main
from contract_tracker.records import Book
from contract_tracker.schema import Kind
from contract_tracker.textwidth import text_width, wrapped_lines

from .conftest import make_mini_book
from .lo import complaints, convert_with_libreoffice, pdf_pages, pdf_text


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
        "workbook/contracts.xlsm is stale: run 'contract-tracker build-workbook --force'")


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
    status = schema.col_letter([c.key for c in schema.CONTRACTS.columns].index("status")) + "2"
    assert rules[status].type == "list" and "履行中" in rules[status].formula1
    cap = schema.col_letter([c.key for c in schema.CONTRACTS.columns]
                            .index("sla_monthly_cap_pct")) + "2"
    assert (rules[cap].type, rules[cap].formula1, rules[cap].formula2) == ("decimal", "0", "1")
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
    pages = pdf_pages(pdf)
    contracts = [page for page in pages if "Contracts" in page.splitlines()[-1]]
    assert len(contracts) == 3  # three pages wide, one tall
    for page in contracts:  # the ID column and the header repeat on every page
        assert "(contract_id)" in page and "HT-2026-001" in page and "HT-2026-002" in page
    footers = [page.strip().splitlines()[-1].split() for page in pages]
    assert [f[0] for f in footers] == [name for name in schema.SHEET_ORDER
                                       for _ in range(3 if name == "Contracts" else
                                                      2 if name == "Settings" else 1)]
    assert [f[1:] for f in footers] == [[str(i), "/", str(len(pages))]
                                        for i in range(1, len(pages) + 1)]


def test_libreoffice_complaints_are_told_from_its_noise() -> None:
    noise = ("Warning: failed to launch javaldx - java may not function correctly\n"
             "Fontconfig warning: ignoring UTF-8: not a valid region tag\n"
             "convert /x/contracts.xlsm -> /y/contracts.pdf using filter : calc_pdf_Export\n")
    assert complaints(noise) == []
    assert complaints("Error: source file could not be loaded\n") == [
        "Error: source file could not be loaded"]
    assert complaints(noise + "warn: sc.filter: unknown element x14:sparklineGroups\n") == [
        "warn: sc.filter: unknown element x14:sparklineGroups"]


# --- columns, alignment and print setup --------------------------------------------------

def _widths(ws: Any) -> dict[int, float]:
    widths = {}
    for dim in ws.column_dimensions.values():
        if dim.min is not None:
            for index in range(dim.min, dim.max + 1):
                widths[index] = dim.width
    return widths


def _column_format(ws: Any, index: int) -> str:
    return next(d.number_format for d in ws.column_dimensions.values()
                if d.min is not None and d.min <= index <= d.max)


@pytest.fixture(scope="module")
def sample_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from contract_tracker.sample import sample_book

    return build_workbook(sample_book("small"), tmp_path_factory.mktemp("s") / "c.xlsm")


def test_every_sample_value_fits_its_column_or_wraps(sample_workbook: Path) -> None:
    """Nothing runs into the next column in print: a value fits its column's width (CJK
    characters counting double), or the column wraps and the row is tall enough."""
    from contract_tracker.sample import sample_book

    rows = book_rows(sample_book("small"))
    wb = openpyxl.load_workbook(sample_workbook)
    checked = wrapped = 0
    for table in schema.USER_TABLES:
        ws = wb[table.sheet]
        widths = _widths(ws)
        for i, column in enumerate(table.columns):
            index = table.first_col + i + 1
            width = widths[index]
            for r, values in enumerate(rows[table.name], start=2):
                cell = ws.cell(r, index)
                kind = column.kind
                if table is schema.SETTINGS_TABLE and column.key == "value":
                    kind = schema.SETTINGS[r - 2].kind
                need = text_width(shown_text(kind, values[i]))
                checked += 1
                if need + PADDING <= width:
                    continue
                where = f"{table.sheet}!{cell.coordinate} {values[i]!r} ({need} > {width})"
                assert cell.alignment.wrap_text, where
                height = ws.row_dimensions[r].height
                assert height is not None and height >= LINE_HEIGHT * wrapped_lines(
                    str(values[i]), width - PADDING), where
                wrapped += 1
    assert checked > 2000 and wrapped > 5  # notes, descriptions and Settings notes wrap


def test_shown_text_is_what_the_number_format_shows() -> None:
    assert shown_text(Kind.MONEY, 1234567.5) == "¥1,234,567.50"
    assert shown_text(Kind.PERCENT, 0.999) == "99.90%"


def test_wide_sheets_repeat_the_id_column_and_every_page_names_its_sheet(
        sample_workbook: Path) -> None:
    wb = openpyxl.load_workbook(sample_workbook)
    contracts = wb["Contracts"]
    assert contracts.page_setup.fitToWidth == 3
    assert contracts.print_title_cols == "$A:$A" and contracts.print_title_rows == "$1:$1"
    assert wb["Clients"].page_setup.fitToWidth in (None, 1)  # one page wide, sized by data
    assert wb["Clients"].print_title_cols is None
    for name in schema.SHEET_ORDER:
        footer = wb[name].oddFooter
        assert (footer.left.text, footer.center.text) == ("&A", "&P / &N"), name


def test_numbers_keep_apart_from_neighbouring_text(sample_workbook: Path) -> None:
    """Right-aligned numbers once touched the next column's text ("2 1,2,7,8")."""
    wb = openpyxl.load_workbook(sample_workbook)
    for table in schema.DATA_TABLES:
        ws = wb[table.sheet]
        for i, column in enumerate(table.columns):
            align = ws.cell(2, table.first_col + i + 1).alignment
            if column.kind in (Kind.INT, Kind.DATE, Kind.DATETIME, Kind.MONTH):
                assert align.horizontal == "center", (table.sheet, column.key)
            elif column.kind in (Kind.MONEY, Kind.DECIMAL, Kind.PERCENT):
                assert (align.horizontal, align.indent) == ("right", 1), (table.sheet,
                                                                         column.key)
            else:
                assert align.horizontal in (None, "general", "left"), (table.sheet, column.key)
    settings = wb["Settings"]
    assert {settings.cell(r, 3).alignment.horizontal
            for r in range(2, len(schema.SETTINGS) + 2)} == {"left"}


# --- the empty workbook ------------------------------------------------------------------

def test_empty_workbook_formats_the_cells_users_type_into(tmp_path: Path) -> None:
    """Row 2 of each empty table and the whole column carry the number format: a phone
    typed as 0571... stays text, amounts and dates are formatted."""
    wb = openpyxl.load_workbook(build_workbook(Book(), tmp_path / "empty.xlsm"))
    for table in schema.DATA_TABLES + schema.SETTINGS_TABLES[1:]:
        ws = wb[table.sheet]
        for i, column in enumerate(table.columns):
            index = table.first_col + i + 1
            want = FORMATS.get(column.kind, "General")
            assert ws.cell(2, index).number_format == want, (table.sheet, column.key)
            assert _column_format(ws, index) == want, (table.sheet, column.key)
    clients, contracts = wb["Clients"], wb["Contracts"]
    assert clients["E2"].number_format == _column_format(clients, 5) == "@"  # phone
    assert clients["F2"].number_format == "@"  # credit code
    assert contracts["A2"].number_format == "@"  # contract_id
    assert contracts["H2"].number_format == _column_format(contracts, 8) == "¥#,##0.00"
    assert contracts["D2"].number_format == _column_format(contracts, 4) == "yyyy-mm-dd"


# --- writing the build: never over the user's data ---------------------------------------

@pytest.fixture
def master(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for workbook/contracts.xlsm, the default of --out, holding 'user data'."""
    import contract_tracker.cli as cli

    path = tmp_path / "workbook" / "contracts.xlsm"
    path.parent.mkdir()
    build_workbook(make_mini_book(), path)
    monkeypatch.setattr(cli, "BUNDLED_WORKBOOK", path)
    return path


def test_build_empty_without_out_does_not_empty_the_master(
        master: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = master.read_bytes()
    assert main(["build-workbook", "--empty"]) == 2
    err = capsys.readouterr().err
    assert err == (f"not written: {master} already exists and differs from this build (it "
                   f"may hold your data); nothing was written. Use --out for another file, "
                   f"or --force to replace it (a backup is kept in "
                   f"{master.parent / '.backups'}).\n")
    assert master.read_bytes() == before
    assert not (master.parent / ".backups").exists()


def test_build_with_force_keeps_a_backup_first(master: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = master.read_bytes()
    assert main(["build-workbook", "--empty", "--force"]) == 0
    backups = list((master.parent / ".backups").iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == before
    assert backups[0].name.startswith("contracts.") and backups[0].suffix == ".xlsm"
    assert master.read_bytes() == workbook_bytes(Book())
    assert capsys.readouterr().out == (
        f"replaced {master} (the old file is .backups/{backups[0].name})\n")


def test_rebuilding_an_identical_file_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e.xlsm"
    assert main(["build-workbook", "--empty", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    stamp = out.stat().st_mtime_ns
    assert main(["build-workbook", "--empty", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{out} is already this build; left unchanged\n"
    assert out.stat().st_mtime_ns == stamp
    assert not (tmp_path / ".backups").exists()
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sample_does_not_overwrite_either(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.xlsm"
    out.write_bytes(b"my own workbook")
    assert main(["sample", "--out", str(out)]) == 2
    assert "already exists and differs from this build" in capsys.readouterr().err
    assert out.read_bytes() == b"my own workbook"


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p, "not written: {p} is a folder; name the workbook file, e.g. --out "
                  "{p}/contracts.xlsm\n"),
    (lambda p: p / "file" / "x.xlsm", "not written: {p}/file is a file, not a folder: "
                                      "{p}/file/x.xlsm cannot be written there. Nothing was "
                                      "written.\n"),
])
def test_bad_out_paths_are_one_clear_line(tmp_path: Path, make: Any, message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["build-workbook", "--empty", "--out", str(make(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert captured.err == message.format(p=tmp_path)
    assert captured.out == ""


def test_unwritable_folder_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(build.tempfile, "mkstemp", refuse)
    out = tmp_path / "ro" / "x.xlsm"
    assert main(["build-workbook", "--empty", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"not written: Cannot write into {out.parent} (Permission denied); choose another "
        f"--out. Nothing was written.\n")
    assert not out.exists()


def test_force_refuses_a_workbook_open_in_excel(master: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = master.read_bytes()
    (master.parent / "~$contracts.xlsm").write_bytes(b"owner")
    assert main(["build-workbook", "--empty", "--force"]) == 2
    assert "contracts.xlsm is open in Excel" in capsys.readouterr().err
    assert master.read_bytes() == before


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


def test_over_receipts_stay_a_warning_and_the_choice_is_documented(mini_grids: Any) -> None:
    """Receipts beyond the schedule are kept (skipping a real receipt would invent a debt
    and late fees): the warning says what to do, docs/schema.md says why."""
    from contract_tracker.parse import parse_book
    from contract_tracker.records import Severity
    from contract_tracker.schemadoc import schema_markdown

    header = mini_grids["Receipts"][0]
    amount = next(i for i, h in enumerate(header) if h.endswith("(amount)"))
    mini_grids["Receipts"][1][amount] = 130000.0
    book, problems = parse_book(mini_grids)
    over = [p for p in problems if "more than its schedule" in p.message]
    assert len(over) == 1 and over[0].severity is Severity.WARNING
    assert over[0].cell == "E2" and over[0].message.endswith(
        "check the amount or add the installment")
    assert [r.receipt_id for r in book.receipts] == ["R001", "R002"]
    page = schema_markdown()
    assert "**Receipts beyond what is scheduled.**" in page
    assert "skipping the row would turn the contract's paid installments back into a debt" \
        in page


def test_holiday_rows_round_trip_with_a_dropdown_and_date_cells(tmp_path: Path) -> None:
    """The 节假日安排 table on the Settings sheet: built, read back by the reader."""
    import dataclasses
    import datetime as dt

    from contract_tracker.reader import load_book
    from contract_tracker.records import HolidayRule

    mini = make_mini_book()
    rules = (HolidayRule(dt.date(2027, 2, 5), dt.date(2027, 2, 11), "rest", "春节"),
             HolidayRule(dt.date(2027, 2, 20), None, "work", None))
    book = dataclasses.replace(mini, settings=dataclasses.replace(mini.settings, holidays=rules))
    path = build_workbook(book, tmp_path / "contracts.xlsm")
    read, problems = load_book(path)
    assert read is not None
    assert [p for p in problems if p.sheet == "Settings"] == []
    assert [h._replace(src=rules[0].src) for h in read.settings.holidays] == list(rules)
    assert [h.src.ref("day") for h in read.settings.holidays] == ["Settings!S2", "Settings!S3"]
    ws = openpyxl.load_workbook(path, keep_vba=True)["Settings"]
    assert ws["S1"].value == "日期 (day)" and ws["U2"].value == "放假"
    assert ws["S2"].number_format == "yyyy-mm-dd" and ws["T3"].value is None
    rules_at = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
    assert rules_at["U2"].type == "list" and "调休上班" in rules_at["U2"].formula1
    assert rules_at["S2"].type == "date"
