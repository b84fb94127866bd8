"""contract_tracker.excel.macros and .xlsheet: every ribbon action on an open workbook.

No Excel runs here. The actions run against ``tests/xlwings_double.py``, a double of
xlwings' Book / Sheet / Range backed by the real built workbook, which emulates how Excel
types what ``Range.value`` receives and counts every Excel round trip. What lands in each
tool sheet is compared with the job's own SheetContent and with what the file writer
(:mod:`contract_tracker.sheetwriter`) puts into a copy of the file; user sheets must not
change; reads and writes must be bulk (the same number of round trips per sheet for the
32-contract sample and a 313-contract one). The real dispatcher is also run through the
exact RunPython command in a subprocess, where no Excel answers.
"""

from __future__ import annotations

import ast
import datetime as dt
import shutil
import subprocess
import sys
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlwings

from contract_tracker import schema
from contract_tracker.build import build_workbook
from contract_tracker.cli import BUNDLED_WORKBOOK
from contract_tracker.excel import macros
from contract_tracker.excel.package import RIBBON_TAGS, ribbon_buttons
from contract_tracker.excel.xlsheet import (
    excel_value,
    hyperlink_formula,
    log_rows,
    needs_text_prefix,
    read_grid,
    write_sheet,
)
from contract_tracker.jobs import penalties_job, pending_contracts, refresh_job, validate_job
from contract_tracker.parse import CellError, parse_book
from contract_tracker.reader import load_book as load_file
from contract_tracker.records import Book, Severity
from contract_tracker.sample import SAMPLE_AS_OF, sample_book
from contract_tracker.sheetwriter import (
    LOG_HEADERS,
    CondRule,
    SheetContent,
    table_sheet,
    write_tool_sheets,
)

from .xlwings_double import Cell, DoubleBook, Error, Formula, load_book, typed, values_of

NOW = dt.datetime.combine(SAMPLE_AS_OF, dt.time(9, 30))
DATA_ACTIONS = ("validate", "penalties", "refresh", "generate_pending", "weekly_report",
                "generate_selected")
FORMULA_LIKE = ["=1+1", "+SUM(A1:A3)", "-x", "@SUM(A1)", "=cmd|' /C calc'!A0",
                "'quoted", "0012", "2026-01-05", "1/2", "12:30", "50%", "TRUE", "false",
                "#N/A", " =lead", "\t=tab", "¥1,000", "1e5", "=HYPERLINK(\"http://x\",\"y\")"]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fixed_clock_and_opener(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Actions run at NOW (the sample's "today"); opened paths are recorded, not opened."""
    opened: list[Path] = []
    monkeypatch.setattr(macros, "now", lambda: NOW)
    monkeypatch.setattr(macros, "open_path", opened.append)
    return opened


@pytest.fixture(scope="session")
def larger_xlsm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workbook ten times the sample: every 16th contract of the large sample (313
    contracts, 3,756 installments, 3,759 receipts, 1,236 incidents) with its records."""
    big = sample_book("large")
    keep = {c.contract_id for c in big.contracts[::16]}
    contracts = tuple(c for c in big.contracts if c.contract_id in keep)
    clients = {c.client_id for c in contracts}
    book = Book(big.settings, tuple(c for c in big.clients if c.client_id in clients),
                contracts, *(tuple(x for x in getattr(big, part) if x.contract_id in keep)
                             for part in ("fee_items", "installments", "receipts",
                                          "incidents", "availability")))
    return build_workbook(book, tmp_path_factory.mktemp("larger") / "contracts.xlsm")


def copy_of(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "contracts.xlsm"
    shutil.copyfile(source, target)
    return target


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A copy of the bundled sample workbook in a folder of its own (outputs go beside)."""
    return copy_of(BUNDLED_WORKBOOK, tmp_path / "合同 R&D")


@pytest.fixture
def larger(larger_xlsm: Path, tmp_path: Path) -> Path:
    return copy_of(larger_xlsm, tmp_path / "larger")


def opened(path: Path, **kwargs: Any) -> DoubleBook:
    """The workbook at ``path`` as Excel would have it open, with Contracts!A2 selected."""
    book = load_book(path, **kwargs)
    book.select("Contracts", "A2")
    return book


def run(book: DoubleBook, tag: str) -> macros.ActionResult | None:
    book.calls.clear()
    return macros.dispatch(book, tag)


def user_snapshots(book: DoubleBook) -> dict[str, Any]:
    return {name: book.sheet(name).snapshot() for name in schema.USER_SHEETS}


def as_excel(value: object) -> object:
    """What a cell shows after a SheetContent value went through Range.value."""
    if isinstance(value, Enum):
        value = value.value
    if value is None or value == "":
        return None
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise AssertionError(value)


def expected_values(content: SheetContent) -> list[list[object]]:
    rows = []
    for row in content.rows:
        values = [as_excel(v) for v in row]
        while values and values[-1] is None:
            values.pop()
        rows.append(values)
    while rows and not rows[-1]:
        rows.pop()
    return rows


# --- the table of actions -----------------------------------------------------------------


def test_actions_are_exactly_the_ribbon_tags_both_ways() -> None:
    for tag in RIBBON_TAGS:
        assert tag in macros.ACTIONS, f"button tag {tag!r} has no action"
    for tag in macros.ACTIONS:
        assert tag in RIBBON_TAGS, f"action {tag!r} has no button"
    assert all(callable(action) for action in macros.ACTIONS.values())
    assert {b.tag: b.label for b in ribbon_buttons()} == macros.LABELS


def test_only_the_excel_front_end_imports_xlwings_and_only_when_an_action_runs() -> None:
    package = Path(macros.__file__).parents[1]
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "xlwings" or n.startswith("xlwings.") for n in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"excel/macros.py", "excel/xlsheet.py"}
    code = ("import sys, contract_tracker.excel.macros as m, contract_tracker.excel.xlsheet; "
            "print('xlwings' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


# --- reading ------------------------------------------------------------------------------


def test_bulk_read_gives_the_same_book_and_problems_as_the_file_reader(small: Path) -> None:
    book = opened(small)
    grids = {name: read_grid(book.sheets[name]) for name in schema.USER_SHEETS}
    from_excel = parse_book(grids, schema.SCHEMA_VERSION)
    from_file = load_file(small)
    assert from_excel == from_file
    for name in schema.USER_SHEETS:
        assert book.calls.of(name) == [
            ("get", "sheets.item"), ("get", "sheet.used_range"), ("get", "range.last_cell"),
            ("get", "range.row"), ("get", "range.column"), ("call", "sheet.range"),
            ("get", "range.value")]


def test_error_values_are_read_as_cell_errors(small: Path) -> None:
    book = opened(small)
    book.sheet("Installments").cells_[(2, 5)] = Cell(Error("#N/A"))
    grid = read_grid(book.sheets["Installments"])
    assert grid[1][4] == CellError("#N/A")
    _, problems = parse_book({"Installments": grid})
    assert any(p.sheet == "Installments" and p.cell == "E2" and "#N/A" in p.message
               for p in problems)


# --- writing: values, formula injection, formats -----------------------------------------


def test_strings_that_look_like_formulas_or_numbers_stay_text(small: Path) -> None:
    book = opened(small)
    for text in FORMULA_LIKE:  # the double types them as Excel would without protection
        assert typed(text, "General")[0] != text or text.startswith((" ", "\t")), text
    content = SheetContent(rows=[FORMULA_LIKE, ["合同", "plain text", "HT-2026-001"]])
    write_sheet(book.sheets["Problems"], content)
    sheet = book.sheet("Problems")
    for c, text in enumerate(FORMULA_LIKE, start=1):
        cell = sheet.cells_[(1, c)]
        assert cell.value == text and not isinstance(cell.value, Formula), (text, cell)
    assert [sheet.cells_[(2, c)].prefix for c in (1, 2, 3)] == ["", "", "'"]
    assert all(needs_text_prefix(t) for t in FORMULA_LIKE)
    assert not needs_text_prefix("合同管理 Contracts")


def test_values_keep_their_types_and_only_links_become_formulas(small: Path) -> None:
    book = opened(small)
    rows = [["date", dt.date(2026, 3, 31), dt.datetime(2026, 3, 31, 9, 5,
                                                      tzinfo=dt.timezone.utc)],
            ["money", Decimal("1234.565"), 7],
            ["flag", True, None],
            ["old", dt.date(1899, 12, 31), float("nan")],
            ["link", "Installments!E17", "bad\x00chars"]]
    content = SheetContent(rows=rows, links={(4, 1): "'Installments'!E17"})
    write_sheet(book.sheets["Workings"], content)
    sheet = book.sheet("Workings")
    assert values_of(sheet) == [
        ["date", dt.datetime(2026, 3, 31), dt.datetime(2026, 3, 31, 9, 5)],
        ["money", 1234.565, 7.0], ["flag", True], ["old", "1899-12-31", Error("#NUM!")],
        ["link", "Installments!E17", "badchars"]]
    formulas = [(k, c.value.text) for k, c in sheet.cells_.items()
                if isinstance(c.value, Formula)]
    assert formulas == [((5, 2), '=HYPERLINK("#\'Installments\'!E17","Installments!E17")')]
    assert hyperlink_formula("'A'!B2", 'say "hi"') == '=HYPERLINK("#\'A\'!B2","say ""hi""")'
    assert hyperlink_formula("'A'!B2", "x" * 300) is None
    assert excel_value(Severity.ERROR) == "error"


def test_table_sheet_formats_land_on_their_ranges(small: Path) -> None:
    book = opened(small)
    content = table_sheet(
        ["日期 (date)", "金额 (amount)", "说明 (note)"],
        [[dt.date(2026, 1, i + 1), Decimal(i), f"=note {i}"] for i in range(30)],
        title="标题 title", col_styles=["date", "money", "wrap"], widths=[12, 15, 60],
        rules=[CondRule("B", ">", 10, "red")], freeze_cols=1)
    book.calls.clear()
    write_sheet(book.sheets["Workings"], content)
    sheet = book.sheet("Workings")
    assert sheet.cell("A3").number_format == "yyyy-mm-dd"
    assert sheet.cell("B32").number_format == "¥#,##0.00"
    assert sheet.cell("C3").wrap and sheet.cell("C3").vertical == "top"
    assert sheet.cell("C3").value == "=note 0"
    header = sheet.cell("B2")
    assert (header.bold, header.fill, header.wrap, header.border_bottom) == (
        True, (0xDD, 0xEB, 0xF7), True, "continuous")
    assert header.number_format == "General"  # the header row's style has none
    assert sheet.cell("A1").bold and sheet.cell("A1").size == 14
    assert sheet.widths == {1: 12, 2: 15, 3: 60}
    assert sheet.merged == ["A1:C1"]
    assert sheet.frozen == "A1:A2"
    assert sheet.conditional == [{"range": "B3:B32", "operator": "greater_than",
                                  "formula1": "10", "fill": (0xFF, 0xC7, 0xCE),
                                  "font": (0x9C, 0x00, 0x06), "bold": None}]
    assert [what for kind, what in book.calls.of("Workings")].count("range.value") == 1


def test_sheet_is_cleared_first_and_charts_replaced(small: Path) -> None:
    book = opened(small)
    sheet = book.sheet("Dashboard")
    sheet.cells_[(50, 20)] = Cell("stale", number_format="0.00")
    sheet.merged.append("A40:B40")
    data, problems = load_file(small)
    assert data is not None
    job = refresh_job(data, problems, SAMPLE_AS_OF, now=NOW)
    for _ in range(2):
        write_sheet(book.sheets["Dashboard"], job.sheets["Dashboard"])
    assert (50, 20) not in sheet.cells_ and "A40:B40" not in sheet.merged
    assert len(sheet.charts_) == 1
    chart = sheet.charts_[0]
    spec = job.sheets["Dashboard"].charts[0]
    assert chart.spec["chart_type"] == "column_clustered"
    assert chart.spec["anchor"] == spec.anchor and chart.spec["source"] == spec.values[0]
    assert chart.categories == spec.categories and chart.title == spec.title
    assert chart.series_names == list(spec.names) and chart.legend_visible is False


def test_freezing_where_the_engine_cannot_is_skipped(small: Path) -> None:
    book = opened(small, freeze_supported=False)
    result = run(book, "validate")
    assert result is not None and book.sheet("Problems").frozen is None
    assert "frozen" not in result.message


# --- every action: what lands where ---------------------------------------------------------


def compare_with_file_writer(book: DoubleBook, path: Path, sheets: dict[str, SheetContent],
                             tmp: Path) -> None:
    """The double's sheets against the file writer's output for the same content."""
    file_copy = tmp / "file-writer.xlsm"
    shutil.copyfile(path, file_copy)
    write_tool_sheets(file_copy, sheets, backups_kept=0)
    wb = openpyxl.load_workbook(file_copy, keep_vba=True)
    for name in sheets:
        ws, sheet = wb[name], book.sheet(name)
        for row in ws.iter_rows():
            for xcell in row:
                got = sheet.cells_.get((xcell.row, xcell.column), Cell())
                value = got.value.result() if isinstance(got.value, Formula) else got.value
                want = xcell.value
                if isinstance(want, (int, float)) and not isinstance(want, bool):
                    assert value == pytest.approx(float(want)), (name, xcell.coordinate)
                elif want is not None:
                    assert value == want, (name, xcell.coordinate, value, want)
                if isinstance(want, (int, float, dt.date)) and not isinstance(want, bool):
                    assert got.number_format == xcell.number_format, (
                        name, xcell.coordinate, got.number_format, xcell.number_format)
                if want is not None:
                    assert got.bold == bool(xcell.font.b), (name, xcell.coordinate)
                    fill = xcell.fill.fgColor.rgb if xcell.fill.fill_type == "solid" else None
                    assert got.fill == (None if fill is None else tuple(
                        int(fill[i:i + 2], 16) for i in (2, 4, 6))), (name, xcell.coordinate)
                    assert got.wrap == bool(xcell.alignment.wrap_text), (name, xcell.coordinate)
        assert sorted(sheet.merged) == sorted(str(m) for m in ws.merged_cells.ranges)


@pytest.mark.parametrize("tag", ["validate", "penalties", "refresh"])
def test_action_writes_its_jobs_sheets_as_the_file_writer_would(
        tag: str, small: Path, tmp_path: Path) -> None:
    book = opened(small)
    result = run(book, tag)
    assert result is not None, book.app.alerts[-1].prompt
    data, problems = load_file(small)
    assert data is not None
    if tag == "validate":
        job = validate_job(data, problems, now=NOW)
        problems_all = list(problems)
    elif tag == "penalties":
        job, _ = penalties_job(data, SAMPLE_AS_OF, now=NOW)
        problems_all = [*problems, *job.problems]
    else:
        job = refresh_job(data, problems, SAMPLE_AS_OF, now=NOW)
        problems_all = list(job.problems)
    from contract_tracker.toolsheets import problems_sheet

    sheets = {"Problems": problems_sheet(problems_all, NOW), **job.sheets}
    assert set(result.sheets) == {*sheets, "Log"}
    for name, content in sheets.items():
        assert values_of(book.sheet(name)) == expected_values(content), name
    compare_with_file_writer(book, small, sheets, tmp_path)
    log = log_rows(read_grid(book.sheets["Log"]))
    assert [row[:3] for row in log] == [(NOW, e.command, e.level) for e in job.log]


def test_problems_fill_the_sheet_a_dialog_counts_them_and_the_first_bad_cell_is_selected(
        small: Path) -> None:
    book = opened(small)
    contracts = book.sheet("Contracts")
    contracts.cells_[(5, 4)] = Cell("2026-13-01")  # signing_date of row 5: not a date
    installments = book.sheet("Installments")
    installments.cells_[(3, 4)].value = "=1+1"  # a typed-in formula where an amount goes
    before = user_snapshots(book)
    result = run(book, "validate")
    assert result is not None and result.errors >= 2
    problems = book.sheet("Problems")
    rows = values_of(problems)
    assert rows[1] == ["级别 severity", "位置 cell", "问题 problem (what is wrong, what to do)"]
    listed = {r[1] for r in rows[2:]}
    assert {"Contracts!D5", "Installments!D3"} <= listed
    links = {c.value.link() for c in problems.cells_.values() if isinstance(c.value, Formula)}
    assert "#'Contracts'!D5" in links and "#'Installments'!D3" in links
    alert = book.app.alerts[-1]
    assert alert.mode == "critical" and f"{result.errors} 个错误 errors" in alert.prompt
    first_error = next(r[1] for r in rows[2:] if r[0] == "错误 error")
    assert result.selected == first_error
    sheet, cell = first_error.split("!")
    selection = book.app._selection
    assert selection is not None and selection._sheet.name == sheet
    assert selection._address(False) == cell and book._active._name == sheet
    assert user_snapshots(book) == before


def test_penalties_with_warnings_only_shows_workings_and_selects_nothing(small: Path) -> None:
    book = opened(small)
    result = run(book, "penalties")
    assert result is not None and result.problems and not result.errors
    assert result.selected is None and book._active._name == "Workings"
    assert book.app.alerts[-1].mode == "info"
    assert "Workings" in book.app.alerts[-1].prompt


def test_the_log_is_appended_to(small: Path) -> None:
    book = opened(small)
    run(book, "validate")
    run(book, "penalties")
    run(book, "validate")
    rows = values_of(book.sheet("Log"))
    assert rows[0] == list(LOG_HEADERS)
    assert [r[1] for r in rows[1:]] == ["validate", "penalties", "validate"]
    assert book.sheet("Log").cell("A2").number_format == "yyyy-mm-dd hh:mm"


def test_generate_selected_generates_the_selected_rows(small: Path) -> None:
    book = opened(small)
    book.select("Contracts", "B3:D4,A7")
    grid = read_grid(book.sheets["Contracts"])
    wanted = [grid[r - 1][0] for r in (3, 4, 7)]
    result = run(book, "generate_selected")
    assert result is not None, book.app.alerts[-1].prompt
    assert result.folder == small.parent / "output" / "contracts"
    names = sorted(p.name for p in result.folder.glob("*.docx"))
    assert [n.split("_")[0] for n in names] == sorted(wanted)
    assert result.files and all(f.exists() for f in result.files)
    assert str(result.folder) in book.app.alerts[-1].prompt
    assert [r[1] for r in values_of(book.sheet("Log"))[1:]] == ["generate"] * 3
    statuses = [s for s in book.app.status_history if isinstance(s, str)]
    assert "生成合同 0/3… generating contracts" in statuses
    assert book.app.status_history[-1] is False


def test_generate_selected_leaves_out_rows_a_filter_hides(small: Path) -> None:
    # A selection dragged over a filtered table holds the rows filtered away too; the user
    # sees, and means, only the others.
    book = opened(small)
    book.sheet("Contracts").hidden_rows.update({4, 5, 9})
    book.select("Contracts", "A3:A10")
    grid = read_grid(book.sheets["Contracts"])
    wanted = [grid[r - 1][0] for r in (3, 6, 7, 8, 10)]
    result = run(book, "generate_selected")
    assert result is not None, book.app.alerts[-1].prompt
    names = sorted(p.name for p in result.folder.glob("*.docx"))
    assert [n.split("_")[0] for n in names] == sorted(wanted)
    assert "3 hidden (filtered-out) row(s) of the selection were left out" in \
        book.app.alerts[-1].prompt


def test_generate_selected_of_hidden_rows_only_says_so(small: Path) -> None:
    book = opened(small)
    book.sheet("Contracts").hidden_rows.update({3, 4})
    book.select("Contracts", "A3:A4")
    assert run(book, "generate_selected") is None
    prompt = book.app.alerts[-1].prompt
    assert "The selected rows hold no contracts" in prompt
    assert "2 hidden (filtered-out) row(s)" in prompt


def test_visible_rows_asks_each_run_once_when_nothing_is_hidden(small: Path) -> None:
    book = opened(small)
    sheet = book.sheets["Contracts"]
    book.calls.clear()
    assert macros.visible_rows(sheet, [2, 3, 4, 5, 9, 10, 30]) == [2, 3, 4, 5, 9, 10, 30]
    # one call per run of adjacent rows, not one per row
    assert book.calls.of("Contracts").count(("get", "range.row_height")) == 3
    book.calls.clear()
    assert macros.visible_rows(sheet, list(range(2, 500))) == list(range(2, 500))
    assert book.calls.of("Contracts").count(("get", "range.row_height")) == 1
    book.sheet("Contracts").hidden_rows.update({4, 10})
    assert macros.visible_rows(sheet, [2, 3, 4, 5, 9, 10, 30]) == [2, 3, 5, 9, 30]


def test_visible_rows_gives_up_rather_than_make_thousands_of_calls(small: Path) -> None:
    # A long selection over a filter that leaves every other row: halving would take
    # about two calls per row (found in review); it stops at the budget instead.
    book = opened(small)
    sheet = book.sheets["Contracts"]
    book.sheet("Contracts").hidden_rows.update(range(3, 3000, 2))
    book.calls.clear()
    assert macros.visible_rows(sheet, list(range(2, 3000))) is None
    assert book.calls.of("Contracts").count(("get", "range.row_height")) == \
        macros.ROW_HEIGHT_CALLS
    assert macros.visible_rows(sheet, list(range(2, 40))) == list(range(2, 40, 2))


def test_visible_rows_tells_taller_rows_from_hidden_ones(small: Path) -> None:
    # Rows of wrapped text are taller: different heights, none of them hidden.
    book = opened(small)
    sheet = book.sheets["Contracts"]
    book.sheet("Contracts").row_heights.update({5: 30.0, 9: 45.0})
    assert macros.visible_rows(sheet, list(range(2, 20))) == list(range(2, 20))
    book.sheet("Contracts").hidden_rows.add(7)
    assert macros.visible_rows(sheet, list(range(2, 20))) == [r for r in range(2, 20) if r != 7]


def test_generate_selected_past_the_budget_takes_every_row_and_says_so(
        small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(macros, "ROW_HEIGHT_CALLS", 2)
    book = opened(small)
    book.sheet("Contracts").hidden_rows.update({4, 6})
    book.select("Contracts", "A3:A7")
    result = run(book, "generate_selected")
    assert result is not None
    assert len(list(result.folder.glob("*.docx"))) == 5  # rows 3..7, hidden ones too
    assert "would take too long: all 5 selected rows were taken" in book.app.alerts[-1].prompt


ONEDRIVE_URL = "https://contoso-my.sharepoint.com/personal/li_contoso_com/Documents/合同/{}"


@pytest.fixture
def no_onedrive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No OneDrive client variables and no xlwings user config (this machine's must not
    decide the outcome)."""
    import xlwings

    for var in ("OneDriveCommercial", "OneDriveConsumer", "OneDrive"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(xlwings, "USER_CONFIG_FILE", str(tmp_path / "no-user-config.conf"))


def test_a_master_on_onedrive_for_business_works_on_its_synced_copy(
        small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_onedrive: None
) -> None:
    # Excel gives the web address; xlwings finds the synced folder (here from the
    # OneDriveCommercial variable the OneDrive client sets) and the outputs go beside it.
    synced = tmp_path / "OneDrive - Contoso"
    local = copy_of(small, synced / "合同")
    monkeypatch.setenv("OneDriveCommercial", str(synced))
    book = opened(local)
    book._fullname = ONEDRIVE_URL.format(local.name)
    assert run(book, "refresh") is not None, book.app.alerts[-1].prompt
    book.select("Contracts", "A2")
    result = run(book, "generate_selected")
    assert result is not None and result.folder == local.parent / "output" / "contracts"


@pytest.mark.parametrize("url", [
    ONEDRIVE_URL,  # xlwings: "Couldn't find the local OneDrive for Business folder"
    "https://d.docs.live.net/f9d8c1184686d493/合同/{}",  # personal OneDrive
    # xlwings' own mapping code fails here with an UnboundLocalError (found in review)
    "https://contoso.sharepoint.com/sites/Finance/Shared Documents/合同/{}",
])
def test_a_master_on_onedrive_xlwings_cannot_map_is_refused_with_what_to_do(
        url: str, small: Path, no_onedrive: None) -> None:
    book = opened(small)
    book._fullname = url.format(small.name)
    assert run(book, "refresh") is None
    prompt = book.app.alerts[-1].prompt
    assert "xlwings cannot find where the workbook is on disk" in prompt
    assert "ONEDRIVE_COMMERCIAL_WIN" in prompt and "SHAREPOINT_WIN" in prompt
    assert "A master on OneDrive or SharePoint" in prompt
    assert "Something went wrong" not in prompt  # a refusal with advice, not a crash
    assert values_of(book.sheet("Log"))[0] != list(LOG_HEADERS)  # nothing written


def test_generate_selected_outside_contracts_is_refused_readably(small: Path) -> None:
    book = opened(small)
    book.select("Clients", "A2:A5")
    assert run(book, "generate_selected") is None
    assert "Select the rows of the contracts on the Contracts sheet" in \
        book.app.alerts[-1].prompt
    assert values_of(book.sheet("Log"))[0] != list(LOG_HEADERS)  # nothing written


def test_generate_pending_shows_progress_on_the_status_bar(small: Path) -> None:
    book = opened(small)
    data, _ = load_file(small)
    assert data is not None
    pending = pending_contracts(data)
    result = run(book, "generate_pending")
    assert result is not None, book.app.alerts[-1].prompt
    assert sorted(p.name.split("_")[0] for p in result.files) == sorted(pending)
    statuses = book.app.status_history
    assert statuses[0] == "生成全部待办…" and statuses[-1] is False
    assert f"生成合同 {len(pending)}/{len(pending)}… generating contracts" in statuses
    assert book.app.screen_history[-1] is True


def test_weekly_report_writes_its_files_and_says_where(small: Path) -> None:
    book = opened(small)
    result = run(book, "weekly_report")
    assert result is not None, book.app.alerts[-1].prompt
    assert result.files
    assert all(f.exists() for f in result.files)
    assert result.folder is not None and result.folder.is_relative_to(
        small.parent / "output" / "reports")
    assert str(result.folder) in book.app.alerts[-1].prompt
    assert values_of(book.sheet("Log"))[-1][1] == "report"


def test_open_output_creates_and_opens_the_folder(small: Path,
                                                  fixed_clock_and_opener: list[Path]) -> None:
    book = opened(small)
    result = run(book, "open_output")
    assert result is not None and result.folder == small.parent / "output"
    assert fixed_clock_and_opener == [small.parent / "output"] and result.folder.is_dir()
    assert book.app.alerts == []


def test_help_lists_the_buttons_and_offers_the_readme(small: Path,
                                                      fixed_clock_and_opener: list[Path]
                                                      ) -> None:
    book = opened(small)
    book.app.answers = ["yes"]
    run(book, "help")
    alert = book.app.alerts[0]
    assert alert.buttons == "yes_no"
    for button in ribbon_buttons():
        assert button.label in alert.prompt and button.screentip in alert.prompt
    assert fixed_clock_and_opener == [macros.readme_path()]
    assert macros.readme_path().is_file()
    run(book, "help")  # answered "no": nothing opened
    assert fixed_clock_and_opener == [macros.readme_path()]


def test_user_sheets_are_never_written(small: Path) -> None:
    book = opened(small)
    before = user_snapshots(book)
    for tag in macros.ACTIONS:
        run(book, tag)
        for name in schema.USER_SHEETS:
            kinds = {(kind, what) for kind, what in book.calls.of(name)}
            assert kinds <= {("get", "sheets.item"), ("get", "sheet.name"),
                             ("get", "sheet.used_range"), ("get", "range.last_cell"),
                             ("get", "range.row"), ("get", "range.column"),
                             ("call", "sheet.range"), ("get", "range.value"),
                             ("get", "range.sheet"), ("get", "range.address"),
                             ("get", "range.row_height")}, (tag, name)
    assert user_snapshots(book) == before


# --- bulk ----------------------------------------------------------------------------------


def round_trips(path: Path, tag: str) -> tuple[dict[str, int], int]:
    book = opened(path)
    if tag == "generate_selected":
        book.select("Contracts", "A2:A6")
    result = run(book, tag)
    assert result is not None, book.app.alerts[-1].prompt
    per_sheet = book.calls.per_sheet()
    app_level = per_sheet.pop("")
    return dict(per_sheet), app_level


@pytest.mark.parametrize("tag", DATA_ACTIONS)
def test_reads_and_writes_are_bulk_whatever_the_row_count(tag: str, small: Path,
                                                          larger: Path) -> None:
    few, few_app = round_trips(small, tag)
    many, many_app = round_trips(larger, tag)
    sizes = [len(load_file(path)[0].installments) for path in (small, larger)]  # type: ignore[union-attr]
    assert sizes[1] > 10 * sizes[0]
    assert many == few, {k: (few.get(k), many.get(k)) for k in {*few, *many}
                         if few.get(k) != many.get(k)}
    assert abs(many_app - few_app) <= 2 * macros._PROGRESS_STEPS
    for name in schema.USER_SHEETS:
        # 9, and the selection's sheet and address, and its rows' height (a range and
        # its height, to leave out the rows a filter hides)
        assert few[name] <= 14, name


@pytest.mark.parametrize("tag", ["refresh", "generate_selected"])
def test_each_sheet_is_read_once_and_written_once(tag: str, small: Path) -> None:
    book = opened(small)
    book.select("Contracts", "A2:A4")
    run(book, tag)
    for name in schema.USER_SHEETS:
        assert book.calls.of(name).count(("get", "range.value")) == 1, name
    written = ("Problems", "Dashboard") if tag == "refresh" else ("Problems",)
    for name in written:
        assert book.calls.of(name).count(("set", "range.value")) == 1, name
        assert book.calls.of(name).count(("call", "sheet.clear")) == 1, name
    # The Workings sheet is the 计算违约金 button's: refresh leaves it as it was.
    assert ("set", "range.value") not in book.calls.of("Workings")
    assert ("call", "sheet.clear") not in book.calls.of("Workings")
    assert book.calls.of("Log").count(("get", "range.value")) == 1
    assert book.calls.of("Log").count(("set", "range.value")) == 1


def test_text_too_long_for_a_cell_is_cut_with_a_note(small: Path) -> None:
    book = opened(small)
    notes = write_sheet(book.sheets["Workings"], SheetContent(rows=[["x" * 40_000]]))
    assert book.sheet("Workings").cell("A1").value == "x" * 32_767
    assert notes == ["Workings!A1: text cut to Excel's 32,767 characters"]


# --- refusals and failures ----------------------------------------------------------------


@pytest.mark.parametrize(("refers_to", "expected"), [
    ("=0", "schema version 0"), ("=99", "Update the tool"), (None, "no CT_SCHEMA_VERSION")])
def test_another_schema_version_is_refused_with_how_to_upgrade(
        small: Path, refers_to: str | None, expected: str) -> None:
    book = opened(small)
    if refers_to is None:
        del book.names.items["CT_SCHEMA_VERSION"]
    else:
        book.names.items["CT_SCHEMA_VERSION"] = refers_to
    assert run(book, "penalties") is None
    alert = book.app.alerts[-1]
    assert expected in alert.prompt and alert.mode == "critical"
    if refers_to != "=99":
        assert "Upgrading a workbook" in alert.prompt
    for name in schema.TOOL_SHEETS:
        assert not [c for c in book.calls.of(name.name) if c[0] != "get"]


def test_unknown_tag_gives_a_readable_message(small: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    book = opened(small)
    monkeypatch.setattr(xlwings.Book, "caller", classmethod(lambda cls: book))
    macros.run_action("launch_rockets")
    alert = book.app.alerts[-1]
    assert "Unknown button action 'launch_rockets'" in alert.prompt
    assert "validate" in alert.prompt and alert.mode == "critical"


def test_run_action_reaches_the_action_through_book_caller(
        small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = opened(small)
    monkeypatch.setattr(xlwings.Book, "caller", classmethod(lambda cls: book))
    macros.run_action("validate")
    assert values_of(book.sheet("Problems"))[0][0].startswith("数据问题 Problems")
    assert book.app.status_history[0] == "校验数据…"


def test_an_exception_inside_an_action_is_logged_and_shown(
        small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contract_tracker.parse

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("engine fell over")

    monkeypatch.setattr(contract_tracker.parse, "parse_book", broken)
    book = opened(small)
    assert run(book, "refresh") is None
    log = small.parent / macros.ERROR_LOG_NAME
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text
    assert "action 'refresh'" in text and str(small) in text
    alert = book.app.alerts[-1]
    assert alert.mode == "critical" and str(log) in alert.prompt
    assert "ZeroDivisionError: engine fell over" in alert.prompt
    assert "Traceback" not in alert.prompt
    assert book.app.status_history[-1] is False


def test_a_failing_dialog_falls_back_to_stderr(small: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    book = opened(small)

    def no_dialog(*args: object, **kwargs: object) -> str:
        raise RuntimeError("no dialogs today")

    monkeypatch.setattr(book.app, "alert", no_dialog)
    assert macros.dispatch(book, "bogus") is None
    assert "Unknown button action" in capsys.readouterr().err


def test_selected_rows_reads_every_kind_of_address() -> None:
    assert macros.selected_rows("$A$2:$C$4,$A$7", 100) == [2, 3, 4, 7]
    assert macros.selected_rows("$B$9", 100) == [9]
    assert macros.selected_rows("$3:$5", 100) == [3, 4, 5]
    assert macros.selected_rows("$A:$B", 4) == [1, 2, 3, 4]
    assert macros.selected_rows("$A$90:$A$200", 100) == list(range(90, 101))
    assert macros.selected_rows("$A$2;$A$4", 10) == [2, 4]
    with pytest.raises(ValueError):
        macros.selected_rows("R1C1", 10)


# --- the real RunPython command, where no Excel answers ------------------------------------


def test_the_runpython_command_reaches_the_real_dispatcher_which_fails_readably(
        tmp_path: Path) -> None:
    from .test_excel_package import runpython_command, windows_argv

    folder = tmp_path / "合同 R&D's files"
    book = copy_of(BUNDLED_WORKBOOK, folder)
    code = runpython_command("validate", {"ContractTracker": ("", _bas())})
    pythonpath = f"true;{book};{book};;;;".replace("&", "^&").replace("\\", "\\\\")
    command = ('python -B -c "import xlwings.utils;xlwings.utils.prepare_sys_path(\\"'
               + pythonpath + '\\"); ' + code + '" ' + ' --wb="' + book.name
               + '" --from_xl=1 --app="Excel" --hwnd="1234"')
    argv = windows_argv(command)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    result = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Contract Tracker could not connect to the calling "
                                    "workbook in Excel")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    log = folder / macros.ERROR_LOG_NAME  # found beside the workbook through sys.path
    assert "action 'validate'" in log.read_text(encoding="utf-8")


def _bas() -> str:
    from contract_tracker.excel.package import vba_source_text
    from contract_tracker.excel.vbaproject import normalize_newlines

    return normalize_newlines(vba_source_text("ContractTracker.bas"))


# --- the double follows xlwings ---------------------------------------------------------------


def test_the_double_follows_xlwings_range_semantics(small: Path) -> None:
    book = opened(small)
    sheet = book.sheets["Workings"]
    sheet.clear()
    sheet.range("B2").value = [["a", "b"], [1, dt.datetime(2026, 1, 2)]]
    assert sheet.range("B2").value == "a"
    assert sheet.range("B2").expand().value == [["a", "b"], [1.0, dt.datetime(2026, 1, 2)]]
    assert sheet.range("B2:C2").value == ["a", "b"]
    assert sheet.range("B2").options(ndim=2).value == [["a"]]
    assert sheet.used_range.address == "$B$2:$C$3"
    frame = sheet.range("B2").expand().options(pd.DataFrame, header=1, index=False).value
    assert list(frame.columns) == ["a", "b"] and frame.iloc[0, 0] == 1.0
    sheet.range("E1").options(index=False).value = frame
    assert sheet.range("E1:F2").value == [["a", "b"], [1.0, dt.datetime(2026, 1, 2)]]
    with pytest.raises(TypeError):
        sheet.range("A1").value = Decimal("1.5")  # not sendable on macOS
    with pytest.raises(RuntimeError):
        book.sheets["Clients"].range("A1").select()  # not the active sheet
    with pytest.raises(AssertionError):
        book.save()
    sheet.range("A9").number_format = "@"
    sheet.range("A9").value = "=1+1"
    assert sheet.range("A9").value == "=1+1"  # a text-formatted cell keeps the text


@pytest.mark.parametrize("count", [3, 300])
def test_row_heights_become_one_row_autofit_whatever_the_row_count(small: Path,
                                                                  count: int) -> None:
    book = opened(small)
    rows = [["item", f"evidence {i}\nsecond line"] for i in range(count)]
    content = SheetContent(rows=rows, heights={r: 30.0 for r in range(1, count, 2)},
                           col_styles={1: "wrap"})
    book.calls.clear()
    write_sheet(book.sheets["Workings"], content)
    assert book.sheet("Workings").autofit_rows == [(2, count)]
    assert [w for _, w in book.calls.of("Workings")].count("range.rows.autofit") == 1


def test_a_merged_row_gets_its_height_autofit_the_rest(small: Path) -> None:
    """Excel's AutoFit leaves merged cells out: a note merged across the table, wrapped,
    would keep one line (or, fitted before the merge, as many as column A alone needs).
    Its row is given the content's height; the rows below are fitted, in one call."""
    book = opened(small)
    note = "说明 " * 60
    rows = [["title"], [note], ["item", "evidence\nsecond line"], ["item", "one line"]]
    content = SheetContent(rows=rows, merges=["A2:B2"], heights={1: 49.5, 2: 33.0},
                           col_styles={1: "wrap"}, row_styles={1: "muted+wrap"})
    write_sheet(book.sheets["Workings"], content)
    sheet = book.sheet("Workings")
    assert sheet.merged == ["A2:B2"]
    assert sheet.row_heights.get(2) == 49.5
    assert sheet.autofit_rows == [(3, 4)]  # not row 2


def test_the_refresh_macro_gives_the_dashboard_notes_their_heights(small: Path) -> None:
    book = opened(small)
    assert run(book, "refresh") is not None
    sheet = book.sheet("Dashboard")
    assert {"A2:Q2", "A3:Q3", "A4:Q4"} <= set(sheet.merged)
    for r in (2, 3, 4):
        assert sheet.row_heights.get(r, 15.0) >= 2 * 16.5, r
        assert all(not a <= r <= b for a, b in sheet.autofit_rows), r
    assert len(sheet.autofit_rows) == 1  # the contracts' table, fitted at once
