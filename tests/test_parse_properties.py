"""Properties of parse and everything after it: any damage to any cells of a real book
is reported at a cell, never raised, and the good rows still go through the engine, the
Dashboard, the Workings, the weekly report and the contract context.

Hypothesis types what users type (and what Excel stores): blanks, text with control
characters, formulas-looking text, huge and non-finite numbers, dates past the calendar
data, booleans and Excel error values, into random cells of the bundled sample's sheets,
header rows included.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import re
import shutil
import tempfile
import zipfile
from email import policy
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_tracker import schema
from contract_tracker.build import build_workbook
from contract_tracker.docgen.context import build_contract_context
from contract_tracker.engine import compute_penalties, penalties_json, workings_rows
from contract_tracker.jobs import generate_job, refresh_job
from contract_tracker.parse import CellError, parse_book
from contract_tracker.records import Severity
from contract_tracker.report import build_report, parse_week, report_job
from contract_tracker.sample import SAMPLE_AS_OF, sample_book
from contract_tracker.toolsheets import write_master

from .conftest import grids_of

GRIDS = grids_of(sample_book("small"))
_BOOK_FIELD = {schema.CLIENTS.name: "clients", schema.CONTRACTS.name: "contracts",
               schema.FEE_ITEMS.name: "fee_items", schema.INSTALLMENTS.name: "installments",
               schema.RECEIPTS.name: "receipts", schema.INCIDENTS.name: "incidents",
               schema.AVAILABILITY.name: "availability"}
SHEETS = sorted(GRIDS)
CELL = re.compile(r"^([A-Z]{1,3}[1-9][0-9]*)?$")
NOW = dt.datetime(2026, 11, 25, 9, 0)
EXAMPLES = int(os.environ.get("CONTRACT_TRACKER_FUZZ", "60"))
"""Examples per run; ``CONTRACT_TRACKER_FUZZ=3000`` for a longer search (about 3 min)."""

typed_values = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "=1+2", "+cmd", "-1", "@SUM(A1)", "\tx", "\rx", "是", "否",
                     "A&B <c>", "</w:t>", "{{ x }}", "{% if %}", "\x0b\x00", "名称\u202e",
                     "CON", "..", "a@b", "x@y.example; z@", "\"q\" <q@x.example>",
                     "0000-01", "0000-01-01", "2026-00", "2026-02-29 24:00", "0:00",
                     "2026-02-30", "2026/13/01", "2027-05-01", "1e400", "-0", "NaN", "12%",
                     "¥1,234.50", "9999-12-31", "HT-2025-001", "C0001", "major", "working",
                     "06:00", "2026-03-31 25:00"]),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: round(x, 3)),
    st.integers(min_value=-10**20, max_value=10**20),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    st.sampled_from([CellError("#REF!"), CellError("#N/A"), CellError("#VALUE!")]),
)


Damage = list[tuple[str, int, int, Any]]


@st.composite
def damage(draw: st.DrawFn) -> Damage:
    """Cells to overwrite: (sheet, row index, column index, value)."""
    cells = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        sheet = draw(st.sampled_from(SHEETS))
        grid = GRIDS[sheet]
        # Mostly data rows; the header row now and then.
        first = 0 if draw(st.integers(0, 9)) == 0 else min(1, len(grid) - 1)
        row = draw(st.integers(min_value=first, max_value=len(grid) - 1))
        col = draw(st.integers(min_value=0, max_value=len(grid[row]) - 1))
        cells.append((sheet, row, col, draw(typed_values)))
    return cells


def damaged(cells: Damage) -> dict[str, list[list[Any]]]:
    grids = {name: [list(row) for row in grid] for name, grid in GRIDS.items()}
    for sheet, row, col, value in cells:
        grids[sheet][row][col] = value
    return grids


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damage())
def test_any_damaged_cells_are_reported_at_a_cell_and_the_rest_goes_through(
        cells: Damage) -> None:
    book, problems = parse_book(damaged(cells))
    for p in problems:
        assert p.sheet in schema.USER_SHEETS, p
        assert CELL.match(p.cell), p
        assert p.message.strip(), p
    for name in ("contracts", "installments", "receipts", "incidents", "availability"):
        for record in getattr(book, name):
            assert record.src.sheet in schema.USER_SHEETS and record.src.row >= 2
    # No row is lost without a word: a data row that is not blank becomes a record or has
    # an error on its own row (unless its whole sheet is unusable: a header problem).
    grids = damaged(cells)
    error_rows = {(p.sheet, int(p.cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") or 0))
                  for p in problems if p.severity is Severity.ERROR}
    sheet_wide = {p.sheet for p in problems if p.severity is Severity.ERROR
                  and (p.cell == "" or (p.cell.endswith("1") and p.cell[-2:-1].isalpha()))}
    for table in schema.DATA_TABLES:
        if table.sheet in sheet_wide:
            continue
        kept = {r.src.row for r in getattr(book, _BOOK_FIELD[table.name])}
        grid = grids[table.sheet]
        width = len(table.columns)
        for index, row in enumerate(grid[1:], start=2):
            cells_of_table = row[table.first_col:table.first_col + width]
            if all(v is None or (isinstance(v, str) and not v.strip())
                   for v in cells_of_table):
                continue
            assert index in kept or (table.sheet, index) in error_rows, (
                f"{table.sheet} row {index} vanished: {cells_of_table}")

    result, found = compute_penalties(book, SAMPLE_AS_OF)
    json.dumps(penalties_json(result))  # every lazy row built, every value serialisable
    rows = workings_rows(result)
    assert rows and all(len(r) == len(rows[0]) for r in rows)
    for p in found:
        assert CELL.match(p.cell), p

    job = refresh_job(book, problems, SAMPLE_AS_OF, now=NOW, workings=True)
    assert {"Dashboard", "Workings", "Problems"} <= set(job.sheets)
    report = build_report(book, parse_week("2026-W47"))
    assert report.overdue_total >= 0
    for contract in book.contracts:
        context, why = build_contract_context(book, contract)
        assert context is not None or why, contract.contract_id


FILE_EXAMPLES = max(EXAMPLES // 4, 10)
_MASTER: list[Path] = []


def _master() -> Path:
    """The bundled sample built once into a temporary folder (a fresh copy per example)."""
    if not _MASTER:
        folder = Path(tempfile.mkdtemp(prefix="ct-fuzz-"))
        _MASTER.append(build_workbook(sample_book("small"), folder / "contracts.xlsm"))
    return _MASTER[0]


@settings(max_examples=FILE_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(damage())
def test_any_damaged_cells_still_give_readable_files(cells: Damage) -> None:
    """The writers on the same damage: the master after a refresh, the weekly report with
    its letters and e-mail drafts, and the contracts; each read back."""
    book, problems = parse_book(damaged(cells))
    with tempfile.TemporaryDirectory(prefix="ct-fuzz-") as tmp:
        out = Path(tmp)
        master = Path(shutil.copy(_master(), out / "contracts.xlsm"))
        job = refresh_job(book, problems, SAMPLE_AS_OF, now=NOW)
        write_master(master, job.sheets, job.log, book.settings.backups_kept)
        with zipfile.ZipFile(master) as z:
            assert z.testzip() is None
            assert "xl/vbaProject.bin" in z.namelist()

        report = report_job(book, "2026-W47", out / "reports", now=NOW)
        assert not report.failed, report.summary
        for path in report.files:
            if path.suffix == ".eml":
                message = email.message_from_bytes(path.read_bytes(),
                                                   policy=policy.default)
                assert message["To"] and message["Subject"], path
            elif path.suffix in (".xlsx", ".docx"):
                with zipfile.ZipFile(path) as z:
                    assert z.testzip() is None, path

        contracts = generate_job(book, "all", out / "contracts", now=NOW)
        # a typed "{{ x }}" is printed as typed (never rendered): only a tag of the
        # template itself left unrendered would remain once the typed texts are taken out
        typed = sorted({xml_escape(v.strip()) for *_, v in cells
                        if isinstance(v, str) and v.strip()}, key=len, reverse=True)
        for path in contracts.files:
            with zipfile.ZipFile(path) as z:
                document = z.read("word/document.xml").decode("utf-8")
            for text in typed:
                document = document.replace(text, "")
            assert "{{" not in document and "{%" not in document, path
            assert path.resolve().is_relative_to((out / "contracts").resolve())


# --- the cross-sheet checks run early: the same result as running them last ---------------

_ID_COLUMNS = [(t.sheet, t.first_col + i) for t in schema.DATA_TABLES
               for i, c in enumerate(t.columns) if c.key.endswith("_id")]
_ID_POOL = sorted({str(GRIDS[sheet][r][col]) for sheet, col in _ID_COLUMNS
                   for r in range(1, len(GRIDS[sheet])) if GRIDS[sheet][r][col] != ""})


@st.composite
def crossed(draw: st.DrawFn) -> Damage:
    """IDs moved between rows and sheets: unknown, repeated and borrowed contract, client
    and installment numbers, so that every cross-sheet check finds something (the damage
    above seldom does), with some other cells damaged too."""
    cells = []
    for _ in range(draw(st.integers(min_value=1, max_value=10))):
        sheet, col = draw(st.sampled_from(_ID_COLUMNS))
        row = draw(st.integers(min_value=1, max_value=len(GRIDS[sheet]) - 1))
        value = draw(st.one_of(st.sampled_from(_ID_POOL), st.sampled_from(["", "NOPE-1"])))
        cells.append((sheet, row, col, value))
    if draw(st.booleans()):
        cells += draw(damage())
    return cells


def _checks_run_last(grids: dict[str, list[list[Any]]]) -> tuple[Any, Any]:
    """parse_book with every cross-sheet check held back to the end and run in the
    listed order: the meaning the early runs must keep."""
    from unittest import mock

    from contract_tracker import parse

    def note_only(self: Any, sheet: str) -> None:
        self.parsed.add(sheet)

    with mock.patch.object(parse._Checks, "run_ready", note_only):
        return parse_book(grids)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(crossed(), damage()))
def test_checks_run_early_give_what_they_give_run_last(cells: Damage) -> None:
    early = parse_book(damaged(cells))
    assert early == _checks_run_last(damaged(cells))


def test_crossed_ids_reach_every_check_that_drops_rows() -> None:
    """The strategy above is worth its name: its single moves make each reference check
    and the receipt-owner check skip a row."""
    found: set[tuple[str, str]] = set()
    # an unknown ID, and a few of each kind (the sample's first rows are one contract's)
    values = ["NOPE-1", *_ID_POOL[::7]]
    for sheet, col in _ID_COLUMNS:
        for value in values:
            _, problems = parse_book(damaged([(sheet, 1, col, value)]))
            found.update((p.sheet, phrase) for p in problems for phrase in (
                "is not on the Clients sheet", "is not on the Contracts sheet",
                "is not on the Installments sheet", "belongs to contract")
                if phrase in p.message)
    contracts = "is not on the Contracts sheet"
    assert found >= {("Contracts", "is not on the Clients sheet"), ("FeeItems", contracts),
                     ("Installments", contracts), ("Receipts", contracts),
                     ("Incidents", contracts), ("Availability", contracts),
                     ("Receipts", "is not on the Installments sheet"),
                     ("Receipts", "belongs to contract")}, found


def test_each_check_runs_as_soon_as_its_sheets_are_in() -> None:
    """The point of running them early: a check runs while the reader is still reading
    the sheets it does not need (the contracts' checks before Installments is asked for,
    the installments' reference before Receipts)."""
    from unittest import mock

    from contract_tracker import parse

    asked: list[str] = []
    ran: list[tuple[str, tuple[str, ...]]] = []

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            asked.append(key)
            return super().get(key, default)

    real_run = parse._Checks._run

    def recording_run(self: Any, i: int) -> None:
        ran.append((parse.VALIDATORS[i].run.__name__, tuple(asked)))
        real_run(self, i)

    with mock.patch.object(parse._Checks, "_run", recording_run):
        parse_book(Recording(GRIDS))
    when = dict(ran)
    assert len(when) == len(parse.VALIDATORS)
    assert "Installments" not in when["_check_contract_dates"]
    assert "Installments" not in when["_check_Contracts_client_id"]
    assert "Receipts" not in when["_check_Installments_contract_id"]
    assert "Incidents" not in when["_check_sums"]
    assert "Incidents" not in when["_check_receipt_owners"]


def test_a_check_waits_for_one_listed_before_it_that_drops_rows_it_reads() -> None:
    """The waiting rule, on made-up checks (the listed ones never need it yet): a check
    whose sheets are in still waits for a check listed before it that drops rows it
    reads or drops, or reads rows it drops; one that shares nothing with it does not
    wait."""
    from unittest import mock

    from contract_tracker import parse

    asked: list[str] = []
    ran: list[tuple[str, int]] = []

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            asked.append(key)
            return super().get(key, default)

    def check(name: str) -> Any:
        def run(ctx: Any) -> None:
            ran.append((name, len(asked)))
        return run

    S = frozenset
    made_up = (
        parse.Check(check("drops contracts, needs receipts"), S({"Receipts"}), S({"Contracts"})),
        parse.Check(check("reads contracts"), S({"Contracts"})),
        parse.Check(check("reads clients, needs receipts"), S({"Clients", "Receipts"})),
        parse.Check(check("drops clients"), S({"Clients"}), S({"Clients"})),
        parse.Check(check("reads fee items"), S({"FeeItems"})),
        parse.Check(check("drops incidents, needs availability"), S({"Availability"}),
                    S({"Incidents"})),
        parse.Check(check("drops incidents too"), S({"FeeItems"}), S({"Incidents"})),
    )
    with mock.patch.object(parse, "VALIDATORS", made_up):
        parse_book(Recording(GRIDS))
    after = dict(ran)
    receipts_asked = asked.index("Receipts") + 1
    assert [name for name, _ in ran] == [
        "reads fee items", "drops contracts, needs receipts", "reads contracts",
        "reads clients, needs receipts", "drops clients",
        "drops incidents, needs availability", "drops incidents too"]
    assert after["reads fee items"] == asked.index("FeeItems") + 1  # nothing to wait for
    assert after["reads contracts"] == receipts_asked  # it reads what the first drops
    assert after["drops clients"] == receipts_asked  # it drops what the third reads
    # it drops what the sixth drops (their rejected rows would come in another order)
    assert after["drops incidents too"] == asked.index("Availability") + 1
