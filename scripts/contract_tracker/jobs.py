"""The operations behind every command and ribbon button, free of where the workbook is.

A job takes an already-read :class:`~contract_tracker.records.Book` (with the problems
found reading it) and returns a :class:`JobResult`: the tool-owned sheets to write, the
Log lines, the files it wrote elsewhere, the problems and a one-line summary. The command
line writes the sheets into the file with :mod:`sheetwriter`; the Excel macros write them
into the open workbook through xlwings. Neither shell computes anything itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import schema
from .gcpause import gc_paused
from .records import Book, Problem, Receipt, Severity
from .sheetwriter import CellValue, CondRule, LogEntry, SheetContent, table_sheet
from .statuses import NOT_SIGNED
from .textwidth import wrapped_lines
from .toolsheets import log_entry, problems_sheet

if TYPE_CHECKING:
    from .engine import PenaltyResult

"""Contracts still being negotiated: the ones 'generate --pending' (re)writes."""


@dataclass(frozen=True)
class JobResult:
    sheets: Mapping[str, SheetContent] = field(default_factory=dict)
    log: tuple[LogEntry, ...] = ()
    files: tuple[Path, ...] = ()
    problems: tuple[Problem, ...] = ()
    summary: str = ""
    failed: bool = False  # the job could not do what was asked (not: the data has problems)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    def merged(self, other: JobResult) -> JobResult:
        return JobResult({**self.sheets, **other.sheets}, self.log + other.log,
                         self.files + other.files, self.problems + other.problems,
                         "; ".join(s for s in (self.summary, other.summary) if s),
                         self.failed or other.failed)


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def output_dir(workbook: Path, folder: str, override: str | Path | None = None) -> Path:
    """Where outputs go: the override, else Settings' output folder beside the workbook."""
    if override:
        return Path(override)
    base = Path(folder or "output")
    return base if base.is_absolute() else workbook.resolve().parent / base


def validate_job(book: Book, problems: Sequence[Problem], *,
                 now: dt.datetime | None = None) -> JobResult:
    """The Problems sheet for what reading found, and what the holiday table (Settings,
    节假日安排) means against the installed calendar data (the engine reports the same
    problems; they are listed once)."""
    from .engine.calendar import calendar_for

    now = now or _now()
    problems = [*problems, *(p for p in calendar_for(book.settings.holidays)[1]
                             if p not in problems)]
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    summary = (f"{errors} errors, {len(problems) - errors} warnings; "
               f"{len(book.contracts)} contracts read")
    return JobResult(
        {"Problems": problems_sheet(problems, now)},
        (log_entry("validate", f"{errors} errors, {len(problems) - errors} warnings",
                   level="error" if errors else "info", now=now),),
        problems=tuple(problems), summary=summary)


def workings_sheet(rows: Sequence[Sequence[CellValue]], as_of: dt.date,
                   now: dt.datetime) -> SheetContent:
    """The Workings sheet: the engine's rows, each pointing back at its source cells."""
    from .engine import WORKINGS_COLUMNS

    header, body = rows[0], rows[1:]
    styles: dict[str, str] = {"base": "money", "result": "money", "start": "datetime",
                              "stop": "datetime", "source": "wrap", "explanation": "wrap"}
    widths = {"section": 20, "contract_id": 14, "item_id": 16, "part": 18, "base": 15,
              "start": 17, "stop": 17, "quantity": 11, "rate_or_limit": 11, "result": 13,
              "verdict": 12, "source": 40, "explanation": 70}
    keys = [key for key, _ in WORKINGS_COLUMNS]
    # Late-fee segments run over days, SLA clocks over minutes: dates get a date format.
    day_only = {(n, i): "date" for i in (keys.index("start"), keys.index("stop"))
                for n, value in enumerate(row[i] for row in body)
                if value.__class__ is dt.date}
    # Wrapped evidence needs taller rows (LibreOffice and Excel do not grow them on open);
    # printed at natural size, the sheet runs over pages across rather than shrinking.
    lines = [_lines([row[i] for row in body], widths[k] - 1)
             for k, i in ((k, keys.index(k)) for k in ("source", "explanation"))]
    first_data = 2  # title row, header row
    heights = {1: 30.0} | {first_data + n: 15.0 * max(1, a, b)
                           for n, (a, b) in enumerate(zip(*lines, strict=True))}
    return table_sheet(
        [str(h) for h in header], body,
        title=f"计算过程 Workings — 截至 as of {as_of:%Y-%m-%d} (日终 end of day); "
              f"生成于 made {now:%Y-%m-%d %H:%M}",
        col_styles=[styles.get(key) for key in keys], freeze_cols=2, cell_styles=day_only,
        widths=[widths[key] for key in keys],
        rules=[CondRule("A", "==", "风险提示 risk", "amber")],
        fit_width=False, heights=heights,
    )


def _lines(values: Sequence[CellValue], room: int) -> list[int]:
    """Lines each value needs in a column ``room`` units wide (0 for an empty cell)."""
    out = []
    for value in values:
        text = value if value.__class__ is str else str(value or "")
        if not text:
            out.append(0)
        elif text.isascii() and "\n" not in text:  # most Workings cells: kept quick
            out.append(-(-len(text) // room))
        else:
            out.append(wrapped_lines(text, room))
    return out


PENALTIES_IMPORTS = ("numpy", "numpy.ma",  # np.unique imports numpy.ma on first use
                     "chinese_calendar", f"{__package__}.engine",
                     f"{__package__}.engine.columnar")
"""The modules :func:`penalties_job` imports when it first runs: a command preloads them
while it reads the workbook (``reader.load_book(path, preload=...)``); a test checks
that the job then imports nothing more."""
REFRESH_IMPORTS = (*PENALTIES_IMPORTS, f"{__package__}.dashboard")
"""The same for :func:`refresh_job` (and the Dashboard job alone)."""
REPORT_IMPORTS = (*PENALTIES_IMPORTS, f"{__package__}.report", "xlsxwriter",
                  f"{__package__}.docgen.generate",  # docxtpl, python-docx, jinja2, lxml
                  f"{__package__}.build",  # the report workbook's zip normalised
                  "concurrent.futures.process", "multiprocessing.popen_fork",
                  "multiprocessing.synchronize")
"""The same for :func:`~contract_tracker.report.report_job` (the letters' worker
processes are forked after the read, so they inherit these)."""


def penalties_job(book: Book, as_of: dt.date, *, now: dt.datetime | None = None
                  ) -> tuple[JobResult, PenaltyResult]:
    """Late fees and SLA penalties as of ``as_of``: the Workings sheet, and the engine's
    result for the caller to print."""
    from .engine import compute_penalties

    now = now or _now()
    result, problems = compute_penalties(book, as_of)
    return _with_workings(penalties_line(book, result, problems, now), result, now), result


def penalties_line(book: Book, result: PenaltyResult, problems: Sequence[Problem],
                   now: dt.datetime) -> JobResult:
    """The engine's totals as one line (Log and summary), without the Workings sheet."""
    from .money import ZERO, fmt_money_grouped

    t, as_of = result.totals, result.as_of
    # The engine computes every contract as written; nothing is owed before signing, so
    # the line states what is owed as the Dashboard and the report do (one rule).
    unsigned = set(pending_contracts(book))
    pending = ([f for f in result.late_fees.positions() if f.contract_id in unsigned]
               if unsigned else [])
    pending_fees = sum((f.fee_owed for f in pending), ZERO)
    pending_overdue = sum((f.overdue for f in pending), ZERO)
    pending_sla = sum((m.owed for m in result.sla_months if m.contract_id in unsigned), ZERO)
    # late fees less those received or waived (receipts of 滞纳金 / 减免滞纳金)
    summary = (f"as of {as_of}: late fees ¥{fmt_money_grouped(t.late_fees_owed - pending_fees)} "
               f"owed to us, overdue ¥{fmt_money_grouped(t.overdue - pending_overdue)}; SLA "
               f"¥{fmt_money_grouped(t.sla_owed - pending_sla)} owed by us ({t.breaches} "
               f"breaches, {t.availability_breaches} availability misses)")
    if pending_fees or pending_overdue or pending_sla:
        owing = {f.contract_id for f in pending if f.fee_owed or f.overdue}
        owing.update(m.contract_id for m in result.sla_months
                     if m.contract_id in unsigned and m.owed)
        summary += (f"; not counted, as nothing is owed before signing: overdue "
                    f"¥{fmt_money_grouped(pending_overdue)}, late fees "
                    f"¥{fmt_money_grouped(pending_fees)} and SLA "
                    f"¥{fmt_money_grouped(pending_sla)} on {len(owing)} draft or sent "
                    f"contract(s) (in penalties --json and --write, as computed)")
    return JobResult({}, (log_entry("penalties", summary, now=now),),
                     problems=tuple(problems), summary=summary)


def _with_workings(job: JobResult, result: PenaltyResult, now: dt.datetime) -> JobResult:
    from .engine import workings_rows

    sheet = workings_sheet(workings_rows(result), result.as_of, now)  # type: ignore[arg-type]
    return dataclasses.replace(job, sheets={**job.sheets, "Workings": sheet})


def future_receipts(book: Book, today: dt.date) -> list[Problem]:
    """A warning for each receipt dated after ``today``: money cannot have come in yet,
    so the date is most likely a slip (a receipt after the as-of date counts only from
    its date, and until then the installment shows as unpaid)."""
    return [Problem.at(r.src, "date", _future_words(r, today), Severity.WARNING)
            for r in book.receipts if r.date > today]


def _future_words(r: Receipt, today: dt.date) -> str:
    """Why a receipt dated after today is most likely a slip, in the words of its purpose."""
    what = r.installment_id or r.contract_id
    head = f"收款日期 {r.date} is after today ({today}): "
    if r.purpose == schema.PURPOSE_FEE_WAIVER:  # no money moves: only the date can be wrong
        return (head + f"a waiver counts only from its date on, so as of an earlier date the "
                f"late fee of {what} shows unsettled; check the date")
    counts = (f"a late fee received counts only from its date on, so as of an earlier date "
              f"the late fee of {what} shows unsettled" if r.purpose == schema.PURPOSE_LATE_FEE
              else f"a receipt counts only from its date on, so as of an earlier date {what} "
                   f"shows unpaid")
    return (head + "money cannot have come in yet, so this is most likely a typing slip; "
            f"check the date ({counts})")


def refresh_job(book: Book, problems: Sequence[Problem], as_of: dt.date, *,
                now: dt.datetime | None = None, workings: bool = False) -> JobResult:
    """The everyday run: validate, penalties and the Dashboard as of ``as_of``, merged
    into one result to write in one step. The Problems sheet lists what reading found
    and what the engine found (a receipt naming an unknown installment, say).

    The Workings sheet is written only when ``workings`` is set (``refresh --workings``)
    or by the penalties job (the 计算违约金 button): on a large book its rows are most of
    a refresh's time and of the master's size, and the Dashboard does not need them.
    Its title states the date it is as of, and the Dashboard says where it comes from."""
    from .dashboard import dashboard_job
    from .engine import compute_penalties

    now = now or _now()
    with gc_paused():  # hundreds of thousands of rows, no cycles among them
        result, found = compute_penalties(book, as_of)
        penalties = penalties_line(book, result, (), now)
        if workings:
            penalties = _with_workings(penalties, result, now)
        checked = validate_job(book, (*problems, *future_receipts(book, now.date()), *found),
                               now=now)
        return checked.merged(penalties).merged(
            dashboard_job(book, as_of, now=now, result=result))


def generate_job(book: Book, selection: Sequence[str] | str, out_dir: Path, *,
                 pdf: bool = False, force: bool = False, progress: bool = False,
                 now: dt.datetime | None = None) -> JobResult:
    """Contracts as .docx (and PDF): one Log line per file with template and output hashes."""
    from .docgen import generate_contracts

    docs, problems = generate_contracts(book, selection, out_dir, pdf=pdf, force=force,
                                        progress=progress)
    now = now or _now()
    log = tuple(log_entry(
        "generate", f"{d.contract_id}: {d.action}; template {d.template} sha256 "
        f"{d.template_sha256}; output sha256 {d.output_sha256}"
        + (f"; pdf sha256 {d.pdf_sha256}" if d.pdf else "")
        + (f"; previous file kept as {d.kept}" if d.kept else ""), file=d.output, now=now)
        for d in docs)
    files = tuple(Path(d.output) for d in docs) + tuple(Path(d.pdf) for d in docs if d.pdf)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    return JobResult({}, log, files, tuple(problems),
                     f"{len(docs)} contracts in {out_dir}; {errors} not generated")


def pending_contracts(book: Book) -> list[str]:
    return [c.contract_id for c in book.contracts if c.status in NOT_SIGNED]
