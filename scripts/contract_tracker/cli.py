"""The ``contract-tracker`` command line: a thin shell over the readers, engine and writers.

Every command reads with :func:`reader.load_book`, prints problems as
``Sheet!Cell: message``, and exits 0 (fine), 1 (errors in the data) or 2 (the file
cannot be read or written). No traceback reaches the user: unexpected failures are
reported in one line and logged in full beside the workbook.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import re
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, schema
from .jobs import JobResult
from .money import ZERO
from .records import Book, Problem, Severity

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2
REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_WORKBOOK = REPO_ROOT / "workbook" / "contracts.xlsm"


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def print_problems(problems: Sequence[Problem], limit: int | None = None) -> None:
    shown = problems if limit is None else problems[:limit]
    for problem in shown:
        tag = "ERROR" if problem.severity is Severity.ERROR else "warning"
        _out(f"{tag}: {problem}")
    if limit is not None and len(problems) > limit:
        _out(f"... and {len(problems) - limit} more (use --all to see them)")


def count_errors(problems: Sequence[Problem]) -> int:
    return sum(1 for p in problems if p.severity is Severity.ERROR)


# --- commands ---------------------------------------------------------------------------


def _save_build(book: Book, out: str, force: bool) -> str | None:
    """Build ``book`` and write it to ``out`` without overwriting a different file unless
    ``force`` (then after a backup); None, with the reason printed, when not written."""
    from .build import save_built, workbook_bytes
    from .sheetwriter import WriteRefused

    path = Path(out)
    if path.is_dir():  # say so before the build's seconds are spent
        _err(f"not written: {path} is a folder; name the workbook file, e.g. "
             f"--out {path / 'contracts.xlsm'}")
        return None
    try:
        return save_built(workbook_bytes(book), path, force=force)
    except WriteRefused as refused:
        _err(f"not written: {refused}")
        return None


def cmd_build_workbook(args: argparse.Namespace) -> int:
    from .records import Book
    from .sample import sample_book

    book = Book() if args.empty else sample_book("small")
    done = _save_build(book, args.out, args.force)
    if done is None:
        return EXIT_UNREADABLE
    _out(done)
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from .sample import sample_book

    book = sample_book(args.size, seed=args.seed)
    done = _save_build(book, args.out, args.force)
    if done is None:
        return EXIT_UNREADABLE
    _out(f"{done}: {len(book.clients)} clients, {len(book.contracts)} contracts, "
         f"{len(book.installments)} installments, {len(book.receipts)} receipts, "
         f"{len(book.incidents)} incidents, {len(book.availability)} availability months")
    return EXIT_OK


def cmd_excel_setup(args: argparse.Namespace) -> int:
    """Write xlwings.conf beside the workbook: the buttons then start this Python."""
    from .excel.package import ConfRefused, mac_interpreter, package_root, write_xlwings_conf

    target = Path(args.workbook)
    folder = target if target.is_dir() else target.parent
    if not target.exists():
        _err(f"not written: there is no workbook at {target}")
        return EXIT_UNREADABLE
    if target.is_dir() and not any(f.suffix.lower() == ".xlsm" for f in folder.iterdir()):
        _err(f"not written: {folder} holds no .xlsm workbook; name the workbook or its folder")
        return EXIT_UNREADABLE
    if not target.is_dir() and target.suffix.lower() != ".xlsm":
        _err(f"not written: {target} is not a macro-enabled workbook (.xlsm); name the "
             "workbook whose buttons should run this Python, or its folder")
        return EXIT_UNREADABLE
    platform = args.platform or ("win" if sys.platform == "win32" else "mac")
    interpreter = str(Path(sys.executable).absolute())
    launcher = None
    try:
        if platform == "mac":
            interpreter, launcher = mac_interpreter(interpreter, Path.home())
        path, pairs = write_xlwings_conf(folder, interpreter, str(package_root()), platform,
                                         force=args.force)
    except ConfRefused as refused:
        _err(f"not written: {refused}")
        return EXIT_UNREADABLE
    if launcher is not None:
        _out(f"wrote {launcher}: it starts {Path(sys.executable).absolute()}, whose path the "
             "Mac's shell would split")
    _out(f"wrote {path}:")
    for key, value in pairs:
        _out(f"  {key} = {value}")
    _out("The ribbon buttons of the workbooks in that folder now run this Python.")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from .jobs import validate_job
    from .reader import load_book

    path = Path(args.workbook)
    book, read = load_book(path)
    if book is None:
        print_problems(read, None if args.all else 200)
        return EXIT_UNREADABLE
    job = validate_job(book, read)
    problems = job.problems  # reading's, and the holiday table's
    print_problems(problems, None if args.all else 200)
    errors = count_errors(problems)
    _out(f"{path.name}: {errors} errors, {len(problems) - errors} warnings; "
         f"{len(book.clients)} clients, {len(book.contracts)} contracts, "
         f"{len(book.installments)} installments, {len(book.receipts)} receipts, "
         f"{len(book.incidents)} incidents, {len(book.availability)} availability months read")
    if args.write:
        if not _write_job(path, book, job):
            return EXIT_UNREADABLE
        _out(f"Problems sheet updated in {path}")
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    from collections import Counter

    from .money import fmt_money_grouped
    from .reader import load_book

    path = Path(args.workbook)
    book, problems = load_book(path)
    if book is None:
        print_problems(problems)
        return EXIT_UNREADABLE
    s = book.settings
    _out(f"{path}  (schema version {book.schema_version})")
    _out(f"乙方 {s.company_name}  {s.company_credit_code}  {s.bank_name} {s.bank_account_no}")
    _out(f"late fee {s.late_fee_rate}/day, grace {s.grace_days} d; SLA "
         f"{s.sla_response_hours} h / {s.sla_solution_hours} h / {s.sla_major_hours} h, "
         f"availability {s.availability_target:%}")
    _out("")
    counts = [
        ("Clients", len(book.clients)), ("Contracts", len(book.contracts)),
        ("FeeItems", len(book.fee_items)), ("Installments", len(book.installments)),
        ("Receipts", len(book.receipts)), ("Incidents", len(book.incidents)),
        ("Availability", len(book.availability)),
    ]
    for sheet, n in counts:
        _out(f"  {sheet:<13} {schema.SHEET_ZH[sheet]:<6} {n:>7} rows read")
    status = Counter(c.status for c in book.contracts)
    _out("")
    _out("contracts by status: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))
    total = sum((c.total_fee for c in book.contracts), start=ZERO)
    received = sum((r.amount for r in book.receipts if r.purpose not in schema.FEE_PURPOSES),
                   start=ZERO)
    fees = sum((r.amount for r in book.receipts if r.purpose == schema.PURPOSE_LATE_FEE),
               start=ZERO)
    waived = sum((r.amount for r in book.receipts if r.purpose == schema.PURPOSE_FEE_WAIVER),
                 start=ZERO)
    line = f"total contracted ¥{fmt_money_grouped(total)}, received ¥{fmt_money_grouped(received)}"
    if fees or waived:
        line += (f"; late fees received ¥{fmt_money_grouped(fees)}, waived "
                 f"¥{fmt_money_grouped(waived)}")
    _out(line)
    errors = count_errors(problems)
    _out(f"problems: {errors} errors, {len(problems) - errors} warnings "
         "(run validate to list them)")
    return EXIT_OK


def _load_or_report(path: Path, preload: Sequence[str] = ()
                    ) -> tuple[Book | None, tuple[Problem, ...]]:
    """The book, or None with its problems printed; ``preload``: the modules the command
    needs next, imported while the workbook is read."""
    from .reader import load_book

    book, problems = load_book(path, preload)
    if book is None:
        print_problems(problems)
    return book, problems


def _write_job(path: Path, book: Book, job: JobResult) -> bool:
    """Write a job's sheets and Log lines into the master; a refusal (say, the workbook is
    open in Excel) is reported, not raised."""
    from .sheetwriter import WriteRefused
    from .toolsheets import write_master

    if not job.sheets and not job.log:
        return True
    try:
        write_master(path, job.sheets, job.log, book.settings.backups_kept)
    except WriteRefused as refused:
        _err(f"not written: {refused}")
        return False
    return True


def cmd_generate(args: argparse.Namespace) -> int:
    from .jobs import generate_job, output_dir, pending_contracts

    path = Path(args.workbook)
    book, data_problems = _load_or_report(path)
    if book is None:
        return EXIT_UNREADABLE
    if count_errors(data_problems):
        _out(f"note: {count_errors(data_problems)} rows have errors and were skipped "
             "(run validate to see them)")
    if not args.all and not args.contract and not args.pending:
        _err("name the contracts: --contract ID (repeatable), --pending or --all")
        return EXIT_PROBLEMS
    selection: list[str] | str = "all" if args.all else [
        *(args.contract or []), *(pending_contracts(book) if args.pending else [])]
    out = output_dir(path, book.settings.output_folder, args.out)
    if not args.out:
        out = out / "contracts"
    if not _folder_usable(out):
        return EXIT_UNREADABLE
    job = generate_job(book, selection, out, pdf=args.pdf, force=args.force,
                       progress=sys.stderr.isatty())
    print_problems(job.problems)
    for line in job.log:
        _out(f"{line.message.split(';')[0]:<28} {line.file}")
    logged = _write_job(path, book, job)
    _out(job.summary)
    return EXIT_PROBLEMS if job.errors or not logged else EXIT_OK


def cmd_penalties(args: argparse.Namespace) -> int:
    import json

    from .jobs import PENALTIES_IMPORTS, penalties_job

    path = Path(args.workbook)
    book, data_problems = _load_or_report(path, PENALTIES_IMPORTS)
    if book is None:
        return EXIT_UNREADABLE
    from .engine import penalties_json, penalties_table  # preloaded while reading
    as_of = _as_of(args)
    job, result = penalties_job(book, as_of)
    if args.json:
        payload = penalties_json(result)
        payload["problems"] = [
            {"sheet": p.sheet, "cell": p.cell, "severity": p.severity.value,
             "message": p.message} for p in (*data_problems, *job.problems)]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    else:
        _out(penalties_table(result, None if args.all else 30))  # lists the engine's problems
        print_problems(data_problems, None if args.all else 50)
    if args.write:
        if not _write_job(path, book, job):
            return EXIT_UNREADABLE
        if not args.json:
            _out(f"Workings sheet updated in {path}")
    return EXIT_PROBLEMS if count_errors((*data_problems, *job.problems)) else EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from .jobs import REFRESH_IMPORTS

    path = Path(args.workbook)
    book, data_problems = _load_or_report(path, REFRESH_IMPORTS)
    if book is None:
        return EXIT_UNREADABLE
    from .dashboard import dashboard_job  # preloaded while reading
    as_of = _as_of(args)
    job = dashboard_job(book, as_of)
    print_problems((*data_problems, *job.problems), None if args.all else 50)
    _out(job.summary)
    if not _write_job(path, book, job):
        return EXIT_UNREADABLE
    _out(f"Dashboard sheet updated in {path}")
    return EXIT_PROBLEMS if count_errors((*data_problems, *job.problems)) else EXIT_OK


def cmd_refresh(args: argparse.Namespace) -> int:
    from .jobs import REFRESH_IMPORTS, refresh_job

    path = Path(args.workbook)
    book, data_problems = _load_or_report(path, REFRESH_IMPORTS)
    if book is None:
        return EXIT_UNREADABLE
    as_of = _as_of(args)
    workings = getattr(args, "workings", False)
    job = refresh_job(book, data_problems, as_of, workings=workings)
    print_problems(job.problems, None if args.all else 50)
    for line in job.log:
        _out(f"{line.command}: {line.message}")
    if not _write_job(path, book, job):
        return EXIT_UNREADABLE
    if workings:
        _out(f"Problems, Workings and Dashboard updated in {path} (as of {as_of})")
    else:
        _out(f"Problems and Dashboard updated in {path} (as of {as_of}); the Workings sheet "
             f"is left as it was: add --workings, or run penalties --write, to update it")
    return EXIT_PROBLEMS if job.errors else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """The weekly report's files, then its Log lines in the master. The files are the
    report: a master open in Excel (which refuses the Log write) only costs the Log lines,
    so that is a warning and the exit code says how the report went."""
    from .jobs import REPORT_IMPORTS, output_dir
    from .report import report_job  # light: what it needs next is preloaded
    from .sheetwriter import WriteRefused
    from .toolsheets import write_master

    path = Path(args.workbook)
    book, data_problems = _load_or_report(path, REPORT_IMPORTS)
    if book is None:
        return EXIT_UNREADABLE
    out = output_dir(path, book.settings.output_folder, args.out)
    if not args.out:
        out = out / "reports"
    if not _folder_usable(out):
        return EXIT_UNREADABLE
    job = report_job(book, args.week, out, read_problems=data_problems)
    print_problems(job.problems, None if args.all else 50)
    _out(job.summary)
    not_logged = ""
    try:
        write_master(path, {}, job.log, book.settings.backups_kept)
    except WriteRefused as refused:  # the master is untouched; say why, minus "nothing was"
        not_logged = refused.message.replace("; nothing was written", "")
    if job.failed:
        if not_logged:
            _err(f"the Log in {path.name} was not updated either: {not_logged}")
        return EXIT_UNREADABLE
    if not_logged:
        _out(f"warning: the report was written ({len(job.files)} files under {out}), but the "
             f"Log in the master {path.name} was not updated: {not_logged}")
    return EXIT_PROBLEMS if count_errors(job.problems) else EXIT_OK


def _folder_usable(out: Path) -> bool:
    """An output folder must be a folder (or not exist yet, nor any file on its way)."""
    for place in (out, *out.parents):
        if place.exists():
            if place.is_dir():
                return True
            _err(f"nothing written: {place} is a file, not a folder; name a folder for the "
                 "output (--out), or move the file")
            return False
    return True


def _day(text: str) -> dt.date:
    """``--as-of``: a calendar date, with what is wrong when it is not one."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text.strip())
        if m and 1 <= int(m[2]) <= 12:
            last = calendar.monthrange(int(m[1]), int(m[2]))[1]
            raise argparse.ArgumentTypeError(
                f"{text} is not a day: {m[1]}-{m[2]} has {last} days") from None
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-30") from None


def _as_of(args: argparse.Namespace) -> dt.date:
    """The as-of date (default today); a later one is allowed, with a warning."""
    today = dt.date.today()
    as_of: dt.date = args.as_of or today
    if as_of > today:
        _err(f"warning: as of {as_of} is after today ({today}): the figures assume nothing "
             "more is paid, reported or typed in until then")
    return as_of


def _iso_week(text: str) -> str:
    from .report import WeekError, parse_week

    try:
        return parse_week(text).label
    except WeekError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_check_template(args: argparse.Namespace) -> int:
    from .docgen import TemplateError, format_check

    try:
        report, ok = format_check(Path(args.template), args.kind)
    except TemplateError as exc:
        _err(f"{args.template}: {exc}")
        return EXIT_UNREADABLE
    _out(report)
    return EXIT_OK if ok else EXIT_PROBLEMS


def cmd_schema_doc(args: argparse.Namespace) -> int:
    from .schemadoc import schema_markdown

    text = schema_markdown()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        _out(text)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Copy the bundled workbook into OUT and run the everyday jobs on the copy, as of the
    sample's date: refresh (Problems, Workings, Dashboard), every contract as .docx, and
    the weekly overdue report of the last complete week."""
    from .sample import SAMPLE_AS_OF

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(args.workbook) if args.workbook else BUNDLED_WORKBOOK
    target = out / source.name
    shutil.copyfile(source, target)
    _out(f"copied {source} -> {target}")
    year, week, _ = (SAMPLE_AS_OF - dt.timedelta(days=7)).isocalendar()
    codes = [
        cmd_refresh(argparse.Namespace(workbook=str(target), as_of=SAMPLE_AS_OF, all=False,
                                       workings=True)),
        cmd_generate(argparse.Namespace(
            workbook=str(target), contract=None, pending=False, all=True, pdf=False,
            force=False, out=str(out / "contracts"))),
        cmd_report(argparse.Namespace(workbook=str(target), week=f"{year}-W{week:02d}",
                                      out=str(out / "reports"), all=False)),
    ]
    _out(f"outputs are in {out.resolve()}: {target.name} (Dashboard, Workings, Problems, "
         "Log), contracts/, reports/")
    return max(codes)


# --- plumbing ---------------------------------------------------------------------------


def _workbook_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("workbook", help="the master workbook (.xlsm)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contract-tracker",
        description="Service contracts, late fees, SLA penalties and overdue reports, "
                    "kept in one Excel workbook.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    force_help = ("replace an existing file that differs from the build (your data!); "
                  "a backup is kept in .backups/ beside it")
    p = add("build-workbook", cmd_build_workbook,
            "build workbook/contracts.xlsm from the checked-in sources (sample data)")
    p.add_argument("--out", default=str(BUNDLED_WORKBOOK), help="where to write the .xlsm")
    p.add_argument("--empty", action="store_true", help="no sample data, only the structure")
    p.add_argument("--force", action="store_true", help=force_help)

    p = add("sample", cmd_sample, "write a sample workbook (small, or large for benchmarks)")
    p.add_argument("--size", choices=("small", "large"), default="small")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", required=True, help="path of the .xlsm to write")
    p.add_argument("--force", action="store_true", help=force_help)

    p = add("excel-setup", cmd_excel_setup,
            "write xlwings.conf beside the workbook so its buttons run this Python")
    p.add_argument("workbook", nargs="?", default=str(BUNDLED_WORKBOOK),
                   help="the workbook (default: workbook/contracts.xlsm) or its folder")
    p.add_argument("--platform", choices=("win", "mac"),
                   help="which Excel reads it (default: this computer's): INTERPRETER_WIN "
                        "or INTERPRETER_MAC")
    p.add_argument("--force", action="store_true",
                   help="update an existing xlwings.conf (its other lines are kept)")

    p = add("validate", cmd_validate, "check the workbook and list every problem by cell")
    _workbook_arg(p)
    p.add_argument("--write", action="store_true", help="also fill the Problems sheet")
    p.add_argument("--all", action="store_true", help="list all problems, not the first 200")

    p = add("inspect", cmd_inspect, "summarise what the workbook holds")
    _workbook_arg(p)

    p = add("generate", cmd_generate,
            "write each contract as .docx (and PDF) from the Word templates")
    _workbook_arg(p)
    p.add_argument("--contract", action="append", metavar="ID", help="a contract number "
                   "(repeat for more)")
    p.add_argument("--pending", action="store_true", help="every draft or sent contract")
    p.add_argument("--all", action="store_true", help="every contract")
    p.add_argument("--pdf", action="store_true", help="also convert to PDF (LibreOffice "
                   "or Word)")
    p.add_argument("--force", action="store_true", help="replace signed contracts' files "
                   "(the old file is kept, renamed)")
    p.add_argument("--out", help="output folder (default: Settings' output folder beside "
                   "the workbook, subfolder contracts)")

    p = add("penalties", cmd_penalties,
            "late fees (clause 7.2) and SLA penalties (clause 1.2) as of a date")
    _workbook_arg(p)
    p.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                   help="the report date (default: today); figures are as of its end")
    p.add_argument("--json", action="store_true", help="print one JSON object (see "
                   "docs/penalties.md)")
    p.add_argument("--write", action="store_true", help="fill the Workings sheet")
    p.add_argument("--all", action="store_true", help="list every row, not the first 30")

    p = add("dashboard", cmd_dashboard,
            "fill the Dashboard sheet: KPIs, ageing, payment / SLA / renewal flags")
    _workbook_arg(p)
    p.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                   help="the report date (default: today); figures are as of its end")
    p.add_argument("--all", action="store_true", help="list every problem, not the first 50")

    p = add("refresh", cmd_refresh,
            "the everyday command: validate, penalties and dashboard in one write")
    _workbook_arg(p)
    p.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                   help="the report date (default: today); figures are as of its end")
    p.add_argument("--workings", action="store_true",
                   help="write the Workings sheet too (as penalties --write does)")
    p.add_argument("--all", action="store_true", help="list every problem, not the first 50")

    p = add("report", cmd_report,
            "the weekly overdue report: workbook, dunning letters, e-mail drafts, HTML summary")
    _workbook_arg(p)
    p.add_argument("--week", type=_iso_week, metavar="YYYY-Www",
                   help="ISO week, e.g. 2026-W48; figures as of the end of its Sunday "
                        "(default: the last complete week)")
    p.add_argument("--out", help="output folder (default: Settings' output folder beside "
                   "the workbook, subfolder reports); the week gets its own folder in it")
    p.add_argument("--all", action="store_true", help="list every problem, not the first 50")

    p = add("check-template", cmd_check_template,
            "list a template's placeholders and those the workbook cannot fill")
    p.add_argument("template", help="a .docx template")
    p.add_argument("--kind", choices=("contract", "dunning"), help="what the template is for")

    p = add("schema-doc", cmd_schema_doc, "print the column guide (docs/schema.md)")
    p.add_argument("--out", help="write to this file instead of printing")

    p = add("demo", cmd_demo, "run the everyday jobs on a copy of the bundled sample workbook")
    p.add_argument("--out", default="output/demo", help="folder for the copy and all outputs")
    p.add_argument("--workbook", help="another workbook to copy instead of the bundled one")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # output piped into head or less, closed early
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        from .sheetwriter import WriteRefused

        if isinstance(exc, WriteRefused):
            _err(f"not written: {exc}")
            return EXIT_UNREADABLE
        _err(f"contract-tracker failed: {type(exc).__name__}: {exc}. "
             f"{_log_failure(getattr(args, 'workbook', None))}")
        return EXIT_UNREADABLE


def _log_failure(workbook: str | None) -> str:
    """Append the traceback to ``contract-tracker-error.log`` beside the workbook (else in
    the current folder, else the temp folder); say where, or that it could not be kept."""
    import tempfile

    entry = (f"--- {dt.datetime.now().isoformat(timespec='seconds')} {' '.join(sys.argv)}\n"
             f"{traceback.format_exc()}\n")
    folders = [Path(workbook).resolve().parent] if workbook else []
    for folder in (*folders, Path.cwd(), Path(tempfile.gettempdir())):
        log = folder / "contract-tracker-error.log"
        try:
            with log.open("a", encoding="utf-8") as fh:
                fh.write(entry)
        except OSError:
            continue
        return f"Details were written to {log}"
    return "The details could not be written to any log file."


if __name__ == "__main__":
    sys.exit(main())
