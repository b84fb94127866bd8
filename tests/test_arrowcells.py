"""contract_tracker.arrowcells and the reader's fastexcel path: a data sheet read by whole
typed columns gives the very values python-calamine gives, cell by cell (value and
type), or is read by calamine instead.

What is checked: random sheets of texts, numbers, dates, date-times, truth values and
blanks read both ways are equal (hypothesis); each case arrowcells or the reader refuses
(a header not in row 1 or not all text, a repeated header, a column of mixed types, a
time of day alone, an Excel error value, columns not starting at A) falls back to
calamine and still gives the same values; the parsed book and problems are the same
both ways; the size rule picks the path; fastexcel's warnings stay out of the output.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_tracker import reader as reader_module
from contract_tracker.arrowcells import NA_TEXTS
from contract_tracker.parse import Columns
from contract_tracker.reader import _Reader, load_book

from .test_parse_properties import Damage, damage, damaged

SHEET = "Installments"  # a data sheet's name: the reader may load it by columns


def _write(path: Path, rows: list[list[Any]], start: str = "A1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    first = openpyxl.utils.cell.coordinate_from_string(start)
    col0 = openpyxl.utils.cell.column_index_from_string(first[0])
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                cell = ws.cell(first[1] + r, col0 + c, value)
                if isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
    wb.save(path)
    return path


def _both(path: Path) -> tuple[Any, list[list[object]]]:
    """The sheet as the columns path hands it over, and as calamine reads it."""
    fast, slow = _Reader(path, by_columns=True), _Reader(path, by_columns=False)
    try:
        return fast.grid(SHEET), [list(r) for r in slow.grid(SHEET)]
    finally:
        fast.close()
        slow.close()


def _same(got: list[list[object]], want: list[list[object]]) -> None:
    """Equal cell by cell, and of the same type (1.0 is not True, a date not a datetime),
    but for the one difference arrowcells documents: a moment less than half a
    millisecond after midnight is the day (calamine: midnight, a datetime)."""
    assert len(got) == len(want)
    for r, (row, expected) in enumerate(zip(got, want, strict=True)):
        width = max(len(row), len(expected))
        row = [*row, *[""] * (width - len(row))]
        expected = [*expected, *[""] * (width - len(expected))]
        for c, (a, b) in enumerate(zip(row, expected, strict=True)):
            if type(a) is dt.date and type(b) is dt.datetime and b == dt.datetime.combine(
                    a, dt.time()):
                continue
            assert (type(a), a) == (type(b), b), f"row {r + 1} column {c + 1}"


def _by_columns(path: Path) -> list[list[object]]:
    grid, rows = _both(path)
    assert isinstance(grid, Columns), "the columns path was not taken"
    _same(grid.rows(), rows)
    return rows


def _by_rows(path: Path) -> list[list[object]]:
    grid, rows = _both(path)
    assert not isinstance(grid, Columns), "the columns path was taken"
    _same([list(r) for r in grid], rows)
    return rows


# --- random sheets ---------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_NUMBER = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
_DAY = st.dates(dt.date(1900, 3, 1), dt.date(9999, 12, 31))
_MOMENT = st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 12, 31))
_KINDS = {"text": _TEXT, "number": _NUMBER, "day": _DAY, "moment": _MOMENT,
          "truth": st.booleans()}  # (truth values: read by rows, equal all the same)


@st.composite
def _sheets(draw: st.DrawFn) -> list[list[Any]]:
    kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=5))
    height = draw(st.integers(0, 12))
    columns = [draw(st.lists(st.one_of(st.none(), _KINDS[k]), min_size=height,
                             max_size=height)) for k in kinds]
    header = [f"h{i} (col_{i})" for i in range(len(kinds))]
    return [header, *map(list, zip(*columns, strict=True))] if height else [header]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_sheets())
def test_random_sheets_read_the_same_both_ways(tmp_path: Path, rows: list[list[Any]]) -> None:
    path = _write(tmp_path / "random.xlsx", rows)
    grid, calamine = _both(path)
    got = grid.rows() if isinstance(grid, Columns) else [list(r) for r in grid]
    _same(got, calamine)


def test_a_typical_sheet_is_read_by_columns(tmp_path: Path) -> None:
    rows = [["编号 (installment_id)", "金额 (amount)", "到期日 (due_date)", "时间 (at)"],
            ["HT-1", 192000.0, dt.date(2026, 3, 31), dt.datetime(2026, 3, 1, 10, 0, 0)],
            ["客户 甲", 0.1, None, dt.datetime(2026, 3, 1, 0, 0)],
            [None, None, dt.date(2026, 4, 30), dt.datetime(2026, 3, 1, 23, 59, 59, 123000)],
            ["  spaced  ", -0.0, dt.date(2026, 5, 31), None]]
    read = _by_columns(_write(tmp_path / "typical.xlsx", rows))
    # what the parser relies on: a blank cell is "", a midnight moment a date
    assert read[3][0] == "" and read[2][2] == "" and read[4][3] == ""
    assert type(read[2][3]) is dt.date and type(read[1][3]) is dt.datetime
    assert read[3][3] == dt.datetime(2026, 3, 1, 23, 59, 59, 123000)


def test_a_moment_just_after_midnight_is_the_day_and_parses_the_same(tmp_path: Path
                                                                     ) -> None:
    """fastexcel keeps milliseconds: a moment 1 microsecond after midnight (a serial with a
    fraction of a day too small to show) is the day by columns; calamine reads it as
    midnight, a datetime. Every date, moment and month field converts both alike."""
    from contract_tracker.parse import conv_date, conv_datetime, conv_month

    just_after = dt.datetime(2026, 3, 1, 0, 0, 0, 1)
    grid, calamine = _both(_write(tmp_path / "midnight.xlsx", [["a (x)"], [just_after]]))
    assert isinstance(grid, Columns)
    day, midnight = grid.columns[0][0], calamine[1][0]
    assert type(day) is dt.date and day == dt.date(2026, 3, 1)
    assert type(midnight) is dt.datetime and midnight == dt.datetime(2026, 3, 1)
    for convert in (conv_date, conv_datetime, conv_month):
        assert convert(day) == convert(midnight)


def test_an_all_blank_column_is_read_by_columns(tmp_path: Path) -> None:
    rows = [["a (x)", "b (y)", "c (z)"], ["1", None, 2.0], ["2", None, 3.0]]
    read = _by_columns(_write(tmp_path / "blank.xlsx", rows))
    assert [r[1] for r in read[1:]] == ["", ""]


# --- what is read by rows instead --------------------------------------------------------


@pytest.mark.parametrize(("case", "rows", "start"), [
    ("header below row 1", [["a (x)", "b (y)"], ["1", 2.0]], "A3"),
    ("columns from B", [["a (x)", "b (y)"], ["1", 2.0]], "B1"),
    ("header typed as a number", [["a (x)", 2026], ["1", 2.0]], "A1"),
    ("repeated header", [["a (x)", "a (x)"], ["1", 2.0]], "A1"),
    ("a header like fastexcel's rename", [["a (x)", "a (x)_1"], ["1", 2.0]], "A1"),
    ("numbers and text in a column", [["a (x)", "b (y)"], ["1", 2.0], ["2", "two"]], "A1"),
    ("a time of day alone", [["a (x)", "b (y)"], ["1", dt.time(10, 30)]], "A1"),
    ("a day before March 1900", [["a (x)", "b (y)"], ["1", dt.date(1900, 2, 1)]], "A1"),
    ("truth values", [["a (x)", "b (y)"], ["1", True], ["2", False]], "A1"),
])
def test_what_might_read_otherwise_is_read_by_rows(tmp_path: Path, case: str,
                                                   rows: list[list[Any]], start: str) -> None:
    _by_rows(_write(tmp_path / "case.xlsx", rows, start))


@pytest.mark.parametrize("text", sorted(NA_TEXTS - {"#N/A"}))  # #N/A: openpyxl's error
def test_a_text_fastexcel_reads_as_blank_sends_the_sheet_to_calamine(tmp_path: Path,
                                                                     text: str) -> None:
    rows = [["a (x)", "b (y)", "c (z)"], ["1", 2.0, dt.date(2026, 1, 1)],
            ["2", text, dt.date(2026, 1, 2)], ["3", 4.0, text]]
    read = _by_rows(_write(tmp_path / "na.xlsx", rows))
    assert read[2][1] == text and read[3][2] == text


def test_such_a_text_elsewhere_sends_a_sheet_with_blank_numbers_to_calamine(
        tmp_path: Path) -> None:
    """The shared texts are the workbook's: "N/A" in a text column might as well be in
    the blank cell of the number column, as far as the shared texts tell."""
    rows = [["a (x)", "b (y)"], ["N/A", 2.0], ["2", None]]
    _by_rows(_write(tmp_path / "elsewhere.xlsx", rows))
    rows = [["a (x)", "b (y)"], ["N/A", 2.0], ["2", 3.0]]  # no blank number: by columns
    _by_columns(_write(tmp_path / "no-blank.xlsx", rows))


def _shared(path: Path, xml: str) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/sharedStrings.xml", xml)
    return path


def test_the_shared_texts_are_searched_whole_and_as_rich_text_runs(tmp_path: Path) -> None:
    from contract_tracker.reader import _shared_na_texts

    head = '<sst xmlns="x">'
    cases = {
        "<si><t>BANANA</t></si><si><t>NA </t></si>": False,
        '<si><t xml:space="preserve">null</t></si>': True,
        "<si><t>&lt;NA&gt;</t></si>": True,
        "<si><r><t>N</t></r><r><rPr><b/></rPr><t>/A</t></r></si>": True,
        "<si><r><t>N</t></r><r><t>/B</t></r></si>": False,
    }
    for n, (body, expected) in enumerate(cases.items()):
        path = _shared(tmp_path / f"s{n}.zip", f"{head}{body}</sst>")
        with zipfile.ZipFile(path) as z:
            assert _shared_na_texts(z) is expected, body


def _with_error_cell(path: Path, cell: str, code: str) -> None:
    """Turn ``cell`` into a formula cell whose cached value is the Excel error ``code``
    (openpyxl cannot write one)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = re.sub(rf'<c r="{cell}"[^>]*?(/>|>.*?</c>)',
                 f'<c r="{cell}" t="e"><f>NA()</f><v>{code}</v></c>', xml, count=1)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_an_error_value_is_read_by_rows_and_kept(tmp_path: Path) -> None:
    path = _write(tmp_path / "error.xlsx", [["a (x)", "b (y)"], ["1", 2.0], ["2", 3.0]])
    _with_error_cell(path, "B3", "#N/A")
    read = _by_rows(path)
    assert type(read[2][1]).__name__ == "CellError" and read[2][1].code == "#N/A"


# --- the parsed book, the size rule, the output ---------------------------------------------


def test_the_bundled_and_mini_workbooks_parse_the_same_both_ways(
        mini_workbook: Path) -> None:
    bundled = Path(__file__).resolve().parents[1] / "workbook" / "contracts.xlsm"
    for path in (bundled, mini_workbook):
        by_columns, by_rows = load_book(path, by_columns=True), load_book(path, by_columns=False)
        assert by_columns[0] == by_rows[0]
        assert by_columns[1] == by_rows[1]
        reader = _Reader(path, by_columns=True)
        try:
            assert isinstance(reader.grid("Receipts"), Columns)  # the path really was taken
        finally:
            reader.close()


def test_problems_of_a_bad_sheet_are_the_same_both_ways(mini_workbook: Path,
                                                        tmp_path: Path) -> None:
    """A receipt amount typed as text makes fastexcel refuse the Receipts sheet (mixed
    types); a missing installment number is a problem both ways."""
    wb = openpyxl.load_workbook(mini_workbook, keep_vba=True)
    ws = wb["Receipts"]
    ws.cell(2, 5, "一万")  # amount column of the first receipt
    ws.cell(3, 1, None)
    bad = tmp_path / "bad.xlsm"
    wb.save(bad)
    by_columns, by_rows = load_book(bad, by_columns=True), load_book(bad, by_columns=False)
    assert by_columns[1] == by_rows[1] and by_columns[1]
    assert by_columns[0] == by_rows[0]


def test_the_size_rule_picks_the_path(mini_workbook: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    small = _Reader(mini_workbook)
    assert small.by_columns is False  # far below BY_COLUMNS_FROM
    small.close()
    monkeypatch.setattr(reader_module, "BY_COLUMNS_FROM", 1)
    large = _Reader(mini_workbook)
    assert large.by_columns is True
    large.close()


def test_fastexcel_warnings_stay_out_of_the_output(tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    rows = [["a (x)", "b (y)", "c (z)"], ["1", None, 2.0]]  # a blank column: it warns
    _by_columns(_write(tmp_path / "quiet.xlsx", rows))
    out, err = capfd.readouterr()
    assert "dtype" not in out + err


# --- damaged workbooks: the same book and problems both ways --------------------------------


def _write_grids(path: Path, grids: dict[str, list[list[Any]]]) -> Path:
    """The grids as a workbook's sheets (an Excel error value as its code, which openpyxl
    stores as one; what Excel cannot store, NaN and infinities, left blank)."""
    from contract_tracker.parse import CellError

    wb = openpyxl.Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for name, grid in grids.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(grid, start=1):
            for c, value in enumerate(row, start=1):
                if isinstance(value, CellError):
                    value = value.code
                elif isinstance(value, float) and not math.isfinite(value):
                    continue
                elif isinstance(value, str):
                    value = "".join(ch for ch in value if ch >= " " or ch in "\t\n\r")
                if value is not None and value != "":
                    ws.cell(r, c, value)
    wb.save(path)
    return path


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damage())
def test_damaged_workbooks_load_the_same_both_ways(tmp_path: Path, cells: Damage) -> None:
    """The sample's cells damaged as users damage them (tests/test_parse_properties.py)."""
    path = _write_grids(tmp_path / "damaged.xlsx", damaged(cells))
    by_columns, by_rows = load_book(path, by_columns=True), load_book(path, by_columns=False)
    assert by_columns[1] == by_rows[1]
    assert by_columns[0] == by_rows[0]


def test_shared_texts_under_another_part_name_are_searched_too(tmp_path: Path) -> None:
    from contract_tracker.reader import _shared_na_texts

    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/SharedStrings.xml", '<sst xmlns="x"><si><t>N/A</t></si></sst>')
    with zipfile.ZipFile(path) as z:
        assert _shared_na_texts(z) is True
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    with zipfile.ZipFile(path) as z:
        assert _shared_na_texts(z) is False


def test_a_shared_text_fastexcel_reads_as_blank_sends_the_sheet_to_calamine(
        tmp_path: Path) -> None:
    """As Excel and XlsxWriter save texts: in the shared texts, not in the sheet."""
    import xlsxwriter

    def write(path: Path, rows: list[list[Any]]) -> Path:
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet(SHEET)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
        book.close()
        with zipfile.ZipFile(path) as z:
            assert "xl/sharedStrings.xml" in z.namelist()
        return path

    read = _by_rows(write(tmp_path / "na.xlsx", [["a (x)", "b (y)"], ["1", 2.0], ["2", "N/A"]]))
    assert read[2][1] == "N/A"  # fastexcel: a blank (not a NaN, which is refused anyway)
    _by_columns(write(tmp_path / "fine.xlsx", [["a (x)", "b (y)"], ["1", 2.0], ["2", None]]))



def _xlsxwriter(path: Path, rows: list[list[Any]], options: dict[str, Any] | None = None,
                date_cells: dict[tuple[int, int], float] | None = None) -> Path:
    """``rows`` written as Excel writes them (shared texts); ``date_cells``: numbers
    written with a date format, as a user who types 2958466 into a date cell."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), options or {})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet(SHEET)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), day)
            elif value is not None:
                sheet.write(r, c, value)
    for (r, c), number in (date_cells or {}).items():
        sheet.write_number(r, c, number, day)
    book.close()
    return path


@pytest.mark.parametrize("number", [2958466.0, 2958466.5, 1e10, 13812345678.0])
def test_a_date_cell_past_9999_is_read_by_rows(tmp_path: Path, number: float) -> None:
    """Found in review: past 9999 Python has no date (it crashed the read), and past
    fastexcel's dates it reads the number as a blank (a due date silently lost)."""
    rows = [["a (x)", "b (y)"], ["1", dt.date(2026, 1, 1)], ["2", None], ["3", None]]
    read = _by_rows(_xlsxwriter(tmp_path / "big.xlsx", rows, date_cells={(3, 1): number}))
    assert read[3][1] == number


def test_a_1904_workbook_is_read_by_rows(tmp_path: Path) -> None:
    rows = [["a (x)", "b (y)"], ["1", dt.date(2026, 1, 1)], ["2", dt.date(2026, 1, 2)]]
    path = _xlsxwriter(tmp_path / "1904.xlsx", rows, {"date_1904": True})
    assert _Reader(path).by_columns is False and _Reader(path, True).by_columns is False
    _by_rows(path)


def test_a_formula_text_past_a_chunk_boundary_is_found(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a formula's cached "N/A" more than the overlap after its t="str"
    mark, across a chunk boundary (chunks of 256 bytes here)."""
    import xlsxwriter

    monkeypatch.setattr(reader_module, "_CHUNK", 256)
    path = tmp_path / "chunk.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(SHEET)
    sheet.write_row(0, 0, ["a (x)", "b (y)"])
    for r in range(1, 40):
        sheet.write_string(r, 0, f"id{r}")
        if r == 20:
            sheet.write_formula(r, 1, '=IF(TRUE,"N/A","' + "x" * 300 + '")', None, "N/A")
        elif r != 5:
            sheet.write_number(r, 1, r * 1.5)
    book.close()
    read = _by_rows(path)
    assert read[20][1] == "N/A"


def test_texts_written_in_ways_the_search_does_not_read_count_as_possible(
        tmp_path: Path) -> None:
    from contract_tracker.reader import _shared_na_texts

    for n, body in enumerate(["<si><t>N&#47;A</t></si>", "<si><t><![CDATA[N/A]]></t></si>",
                              '<si><x:t>N/A</x:t></si>',
                              "<si><r><t>N</t></r><r><t>/A</t></r><rPh sb=\"0\" eb=\"1\">"
                              "<t>x</t></rPh></si>"]):
        path = _shared(tmp_path / f"w{n}.zip", f'<sst xmlns="x">{body}</sst>')
        with zipfile.ZipFile(path) as z:
            assert _shared_na_texts(z) is True, body
