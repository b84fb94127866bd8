"""contract_tracker.reader: the built workbook reads back; bad files become one problem."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from contract_tracker import schema
from contract_tracker.reader import load_book
from contract_tracker.records import Book, Severity

from .conftest import strip_sources


def rewrite_part(path: Path, part: str, edit: Callable[[str], str]) -> None:
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    parts[part] = edit(parts[part].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def sheet_part(path: Path, sheet: str) -> str:
    index = schema.SHEET_ORDER.index(sheet) + 1
    return f"xl/worksheets/sheet{index}.xml"


def test_built_workbook_reads_back_to_the_same_records(mini_workbook: Path,
                                                        mini_book: Book) -> None:
    book, problems = load_book(mini_workbook)
    assert [str(p) for p in problems] == []
    assert book is not None
    assert book.schema_version == schema.SCHEMA_VERSION
    expected = strip_sources(mini_book)
    assert strip_sources(Book(*[getattr(book, f) for f in (
        "settings", "clients", "contracts", "fee_items", "installments", "receipts",
        "incidents", "availability")])) == expected


def test_phone_and_ids_keep_leading_zeros(mini_workbook: Path) -> None:
    book, _ = load_book(mini_workbook)
    assert book is not None
    assert book.clients[0].phone == "0571-88886666"
    assert book.settings.bank_account_no == "0121000088886666"


def test_excel_error_value_in_a_cell_is_reported_at_that_cell(mini_workbook: Path) -> None:
    def to_error(xml: str) -> str:
        new, n = re.subn(r'<c r="E2"( s="\d+")?( t="n")?><v>[^<]*</v></c>',
                         r'<c r="E2"\1 t="e"><f>Sheet9!A1</f><v>#REF!</v></c>', xml)
        assert n == 1
        return new

    rewrite_part(mini_workbook, sheet_part(mini_workbook, "Receipts"), to_error)
    book, problems = load_book(mini_workbook)
    assert book is not None
    assert [str(p) for p in problems if p.severity is Severity.ERROR] == [
        "Receipts!E2: 金额 contains the Excel error #REF!: fix the formula or type the value"]
    assert [r.receipt_id for r in book.receipts] == ["R002"]


@pytest.mark.parametrize("content", [
    b"just text, not a workbook",
    b"PK\x03\x04 truncated zip",
    b"",
])
def test_unreadable_file_is_one_clear_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.xlsm"
    path.write_bytes(content)
    book, problems = load_book(path)
    assert book is None
    assert len(problems) == 1
    text = str(problems[0])
    assert text.startswith("broken.xlsm: cannot be read as an Excel workbook (")
    assert text.endswith("is it an .xlsx/.xlsm file, and not damaged or password-protected?")


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    book, problems = load_book(path)
    assert book is None and "cannot be read as an Excel workbook" in str(problems[0])


def test_missing_file(tmp_path: Path) -> None:
    book, problems = load_book(tmp_path / "nope.xlsm")
    assert book is None
    assert str(problems[0]) == f"nope.xlsm: file not found: {tmp_path / 'nope.xlsm'}"


def test_workbook_of_another_schema_version_says_how_to_upgrade(mini_workbook: Path) -> None:
    rewrite_part(mini_workbook, "xl/workbook.xml", lambda xml: xml.replace(
        f'name="CT_SCHEMA_VERSION">{schema.SCHEMA_VERSION}<', 'name="CT_SCHEMA_VERSION">0<'))
    book, problems = load_book(mini_workbook)
    assert book is not None
    assert str(problems[0]) == (
        f"contracts.xlsm: was built for schema version 0, this tool uses "
        f"{schema.SCHEMA_VERSION}: see 'Upgrading a workbook' in README.md")


def test_missing_sheet_in_a_real_file(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "partial.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Clients")
    ws.write_row(0, 0, [c.header for c in schema.CLIENTS.columns])
    wb.close()
    book, problems = load_book(path)
    assert book is not None
    assert [(str(p), p.severity) for p in problems] == [
        (f"{sheet}: sheet is missing: the workbook needs a sheet named '{sheet}' ({zh}); "
         "restore it from a backup (.backups/ beside the workbook) or copy it from an empty "
         "workbook made by 'contract-tracker build-workbook --empty --out empty.xlsm'",
         Severity.ERROR)
        for sheet, zh in [("Settings", "参数"), ("Contracts", "合同"), ("FeeItems", "费用组成"),
                          ("Installments", "付款计划"), ("Receipts", "收款"),
                          ("Incidents", "故障"), ("Availability", "可用性")]]
    assert book.clients == () and book.contracts == ()


def _set_number(path: Path, sheet: str, cell: str, number: str) -> None:
    """Make ``cell`` of ``sheet`` a number cell holding ``number``, as Excel stores it."""
    def edit(xml: str) -> str:
        new, n = re.subn(rf'<c r="{cell}"( s="\d+")?( t="\w+")?>(<v>[^<]*</v>|<is>.*?</is>)</c>',
                         rf'<c r="{cell}"\1><v>{number}</v></c>', xml)
        assert n == 1
        return new

    rewrite_part(path, sheet_part(path, sheet), edit)


def test_a_huge_amount_in_the_file_is_an_error_at_its_cell(mini_workbook: Path) -> None:
    """Receipts!E2 = 1E+300 crashed validation (InvalidOperation, 'contract-tracker
    failed', exit 2, no cell)."""
    _set_number(mini_workbook, "Receipts", "E2", "1E+300")
    book, problems = load_book(mini_workbook)
    assert book is not None
    assert [str(p) for p in problems] == [
        "Receipts!E2: 金额 1E+300 is too large to be an amount or count (10^15 or more): "
        "check the cell for a typing slip"]
    assert [r.receipt_id for r in book.receipts] == ["R002"]


def test_a_phone_typed_as_a_number_is_a_warning(mini_workbook: Path) -> None:
    _set_number(mini_workbook, "Clients", "E2", "5718888")
    book, problems = load_book(mini_workbook)
    assert book is not None
    assert [(str(p), p.severity) for p in problems] == [(
        "Clients!E2: 联系电话 5718888 was typed as a number, so a leading 0 (0571…) may have "
        "been lost: format the cell as text (or type ' first, e.g. '0571-88886666) and "
        "retype it", Severity.WARNING)]
    assert book.clients[0].phone == "5718888"  # kept: only the user knows the number


def test_a_mobile_number_typed_as_a_number_is_fine(mini_workbook: Path) -> None:
    _set_number(mini_workbook, "Clients", "E3", "13800138000")
    book, problems = load_book(mini_workbook)
    assert book is not None and problems == ()
    assert book.clients[1].phone == "13800138000"


def test_a_sheet_that_cannot_be_read_is_one_clear_problem(mini_workbook: Path) -> None:
    """The sheets are read on a second thread while earlier ones are parsed: a sheet
    that fails there still gives the one problem, and no thread or file is left open."""
    import threading

    rewrite_part(mini_workbook, sheet_part(mini_workbook, "Receipts"),
                 lambda xml: xml.replace("<sheetData>", "<sheetData><row r=\"2\"><c r=\"A2\" "
                                         "t=\"s\"><v>999999</v></c></row>", 1))
    book, problems = load_book(mini_workbook)
    assert book is None and len(problems) == 1
    assert str(problems[0]).startswith("contracts.xlsm: cannot be read as an Excel workbook (")
    assert not [t for t in threading.enumerate() if t.name.startswith("reader")]
    mini_workbook.rename(mini_workbook.with_suffix(".moved"))  # closed: Windows could too


@pytest.mark.parametrize("by_columns", [False, True])
def test_sheets_come_in_the_order_asked_and_again_when_asked_again(
        mini_workbook: Path, by_columns: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from contract_tracker.parse import Columns
    from contract_tracker.reader import _Grids, _Reader, read_grids

    def rows(grid: object) -> object:
        return grid.rows() if isinstance(grid, Columns) else grid

    whole, _ = read_grids(mini_workbook)
    reader = _Reader(mini_workbook, by_columns)
    try:
        with ThreadPoolExecutor(1) as pool:
            grids = _Grids(reader, pool)
            assert list(grids) == [n for n in schema.USER_SHEETS if n in whole]
            receipts = grids["Receipts"]  # ahead of its turn
            assert isinstance(receipts, Columns) is by_columns
            assert rows(receipts) == whole["Receipts"]
            assert grids["Settings"] == whole["Settings"]
            assert rows(grids["Receipts"]) == whole["Receipts"]  # read again
            assert grids.get("Nope") is None and "Nope" not in grids
    finally:
        reader.close()


@pytest.mark.parametrize("at", range(0, 12))
def test_an_error_cell_is_found_wherever_it_falls_between_the_chunks_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int) -> None:
    """The sheet XML is searched a chunk at a time: the mark t="e" is found when a chunk
    boundary splits it anywhere (chunks of 8 bytes here, so every split is tried)."""
    from contract_tracker import reader

    monkeypatch.setattr(reader, "_CHUNK", 8)
    xml = b"x" * at + b'<c r="A2" t="e"><v>#N/A</v></c>' + b"y" * 9
    path = tmp_path / "part.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("sheet.xml", xml)
        z.writestr("clean.xml", xml.replace(b'"e"', b'"s"'))
    with zipfile.ZipFile(path) as z:
        assert reader._has_error_cell(z, "sheet.xml")
        assert reader._error_cells(z, "sheet.xml") == {(1, 0): "#N/A"}
        assert not reader._has_error_cell(z, "clean.xml")
        assert reader._error_cells(z, "clean.xml") == {}
