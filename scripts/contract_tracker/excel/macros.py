"""The workbook's entry point: ``run_action(tag)``, called by the ribbon through RunPython.

Every button of the ribbon (``vba/customUI.xml``) carries a tag; VBA's ``OnRibbonAction``
runs ``import contract_tracker.excel.macros as m; m.run_action('<tag>')`` through xlwings'
RunPython. :func:`run_action` finds the calling workbook (``xw.Book.caller()``) and hands it
to :func:`dispatch`, which runs ``ACTIONS[tag]`` -- the one table of actions; its keys are
the ribbon's tags (a test holds them equal both ways).

An action works on the workbook OPEN in Excel, never on its file: it reads each user sheet
in one bulk range read (:func:`.xlsheet.read_grid`), parses it with the same
:func:`~contract_tracker.parse.parse_book` as the command line, runs the same job
(:mod:`contract_tracker.jobs`) and writes the job's tool-owned sheets into the open workbook
(:func:`.xlsheet.write_sheet`); the Log sheet is appended to. Nothing is saved: the user
saves (or not) as with any edit.

For the user, while an action runs Excel's status bar shows what it does ("生成合同 12/40…");
at the end a dialog says what was done and where the files are. Problems found in the data
fill the Problems sheet, the dialog counts them, and the first bad cell is selected (for
Validate always, for the other actions when rows had to be skipped). A workbook built for
another schema version is refused with the way to upgrade it. A failure is shown as a
readable dialog and logged with its traceback to ``contract-tracker-error.log`` beside the
workbook -- never as a Python traceback window: :func:`dispatch` lets no exception out, and
:func:`run_action` turns the few failures before a workbook is known (xlwings missing, no
Excel to talk to) into one line on stderr, which xlwings' VBA shows in a message box.

Only this module and :mod:`.xlsheet` import xlwings; the rest of the package never does.
The imports of xlwings and of the jobs happen inside :func:`run_action` and the actions, so
that a broken installation produces a readable message rather than an import traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from contract_tracker.excel.package import ribbon_buttons

if TYPE_CHECKING:
    from xlwings import Book as XlBook

    from contract_tracker.jobs import JobResult
    from contract_tracker.records import Book, Problem, Settings
    from contract_tracker.sheetwriter import LogEntry, SheetContent

__all__ = [
    "ACTIONS",
    "ERROR_LOG_NAME",
    "LABELS",
    "SCHEMA_VERSION_NAME",
    "TITLE",
    "ActionResult",
    "UserMessage",
    "dispatch",
    "now",
    "open_path",
    "run_action",
    "selected_rows",
]

TITLE: Final = "Contract Tracker 合同管理"
ERROR_LOG_NAME: Final = "contract-tracker-error.log"
SCHEMA_VERSION_NAME: Final = "CT_SCHEMA_VERSION"
LABELS: Final[Mapping[str, str]] = {b.tag: b.label for b in ribbon_buttons()}
"""The ribbon label of each tag (what the status bar and the dialogs call the action)."""

_SAVE_HINT = "请保存工作簿以保留更新的工作表。Save the workbook to keep the updated sheets."
_UPGRADE = ("升级方法 To upgrade: build an empty workbook with 'contract-tracker build-workbook "
            "--empty --out new.xlsm', copy each table's rows into the same table of the new "
            "workbook (columns match by the English key in brackets), then click 校验数据 "
            "Validate data. See 'Upgrading a workbook' in README.md.")
_PROGRESS_STEPS = 20  # at most this many status-bar updates while generating


@dataclass(frozen=True)
class ActionResult:
    """What an action did: the closing dialog's text ("" for none) and the facts behind it."""

    message: str = ""
    sheets: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    problems: int = 0
    errors: int = 0
    selected: str | None = None
    folder: Path | None = None


class UserMessage(Exception):
    """The action cannot go on; ``str(exc)`` tells the user why and what to do."""


def now() -> dt.datetime:
    """The clock of every action (tests replace it)."""
    return dt.datetime.now().replace(microsecond=0)


def open_path(path: Path) -> None:
    """Open a folder or file with the system's default program (Explorer, Finder...)."""
    if sys.platform.startswith("win"):
        os.startfile(path)  # type: ignore[attr-defined,unused-ignore]
    else:
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        subprocess.run([opener, str(path)], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- the session: one action on one open workbook -----------------------------------------


class _Session:
    """The open workbook, its folder, the clock, the status bar and the tool sheets."""

    def __init__(self, book: XlBook) -> None:
        self.book = book
        self.app = book.app
        self.now = now()
        self.today = self.now.date()
        self.path = _local_path(_fullname(book))
        self.sheet_names = [sheet.name for sheet in book.sheets]
        self.grids: dict[str, list[list[object]]] = {}

    @property
    def folder(self) -> Path:
        """The workbook's folder; for a workbook on a web location, one in the home folder."""
        if self.path is not None:
            return self.path.parent
        return Path.home() / "Contract Tracker"

    @property
    def workbook_path(self) -> Path:
        return self.path if self.path is not None else self.folder / "contracts.xlsm"

    def status(self, text: str) -> None:
        self.app.status_bar = text

    def check_schema(self) -> None:
        """Refuse a workbook built for another schema version (or not built by the tool)."""
        from contract_tracker import schema

        names = self.book.names
        version = None
        if SCHEMA_VERSION_NAME in names:
            refers = names[SCHEMA_VERSION_NAME].refers_to or ""
            text = refers.lstrip("=").strip()
            version = int(text) if text.isdigit() else None
        if version == schema.SCHEMA_VERSION:
            return
        if version is None:
            raise UserMessage(
                "这个工作簿没有数据结构版本号 (CT_SCHEMA_VERSION)：它不是由 Contract Tracker "
                "建立的，或版本名称被删除了。This workbook has no CT_SCHEMA_VERSION name: it "
                "was not built by Contract Tracker, or the name was deleted.\n\n" + _UPGRADE)
        if version < schema.SCHEMA_VERSION:
            raise UserMessage(
                f"这个工作簿是按旧版数据结构（版本 {version}）建立的，本工具需要版本 "
                f"{schema.SCHEMA_VERSION}。This workbook was built for schema version {version}; "
                f"this version of the tool needs version {schema.SCHEMA_VERSION}.\n\n"
                + _UPGRADE)
        raise UserMessage(
            f"这个工作簿是由更新版本的工具建立的（数据结构版本 {version}）。"
            f"This workbook was built by a newer Contract Tracker (schema version {version}; "
            f"this one knows {schema.SCHEMA_VERSION}). Update the tool: in its folder run "
            f"'pip install -r requirements.txt' from the latest version.")

    def read(self, names: Sequence[str]) -> dict[str, list[list[object]]]:
        """The grids of the sheets ``names`` that the workbook has: one range read each,
        kept for the rest of the action."""
        from contract_tracker.excel.xlsheet import read_grid

        for name in names:
            if name in self.sheet_names and name not in self.grids:
                self.status(f"读取 {name}… reading")
                self.grids[name] = read_grid(self.book.sheets[name])
        return {name: self.grids[name] for name in names if name in self.grids}

    def load(self, preload: Sequence[str] = ()) -> tuple[Book, tuple[Problem, ...]]:
        """Every user sheet, parsed and validated, as the command line reads the file;
        ``preload``: the modules the action needs next, imported meanwhile (COM calls
        let go of the GIL)."""
        from contract_tracker import schema
        from contract_tracker.parse import parse_book
        from contract_tracker.preload import Preload

        self.check_schema()
        with Preload(preload):
            grids = self.read(schema.USER_SHEETS)
            self.status("校验数据… validating")
            return parse_book(grids, schema.SCHEMA_VERSION)

    def settings(self) -> Settings:
        """The Settings sheet alone (for actions that need no other data)."""
        from contract_tracker.parse import parse_book

        book, _ = parse_book(self.read(["Settings"]))
        return book.settings

    def output_folder(self, settings: Settings, sub: str = "") -> Path:
        from contract_tracker.jobs import output_dir

        folder = output_dir(self.workbook_path, settings.output_folder)
        return folder / sub if sub else folder

    def write(self, sheets: Mapping[str, SheetContent], log: Sequence[LogEntry]) -> list[str]:
        """Write tool sheets and append ``log`` to the Log sheet; the user's notes."""
        from contract_tracker import schema
        from contract_tracker.excel.xlsheet import log_rows, read_grid, write_sheet
        from contract_tracker.sheetwriter import LOG_MAX_ROWS, LOG_SHEET
        from contract_tracker.sheetwriter import _log_content as log_content

        targets = [*sheets, *([LOG_SHEET] if log else [])]
        for name in targets:
            if name not in schema.TOOL_SHEET_NAMES:  # a programming error, never user data
                raise ValueError(f"{name!r} is not a tool-owned sheet")
        missing = [name for name in targets if name not in self.sheet_names]
        if missing:
            raise UserMessage(
                f"这个工作簿缺少工具工作表 {', '.join(missing)}。The workbook has no sheet "
                f"{', '.join(missing)}; nothing was written. Rebuild the workbook "
                f"(contract-tracker build-workbook --empty) and copy your data into it.")
        notes: list[str] = []
        self.app.screen_updating = False
        try:
            for name, content in sheets.items():
                self.status(f"写入 {name}… writing")
                notes += write_sheet(self.book.sheets[name], content)
            if log:
                self.status(f"写入 {LOG_SHEET}… writing")
                sheet = self.book.sheets[LOG_SHEET]
                rows = [*log_rows(read_grid(sheet)), *(entry.row() for entry in log)]
                if len(rows) > LOG_MAX_ROWS:
                    notes.append(f"the Log keeps its newest {LOG_MAX_ROWS:,} rows")
                notes += write_sheet(sheet, log_content(rows))
        finally:
            self.app.screen_updating = True
        return notes

    def select_problem(self, problems: Sequence[Problem], *, warnings: bool) -> str | None:
        """Select the first problem's cell (errors first; warnings too when asked)."""
        from contract_tracker.records import Severity

        ranked = [p for p in problems if p.severity is Severity.ERROR]
        if warnings:
            ranked += [p for p in problems if p.severity is not Severity.ERROR]
        for problem in ranked:
            if problem.sheet not in self.sheet_names:
                continue
            cell = problem.cell
            if cell.isdigit():
                cell = f"A{cell}"
            sheet = self.book.sheets[problem.sheet]
            sheet.activate()
            if re.fullmatch(r"[A-Z]{1,3}[1-9][0-9]*", cell):
                sheet.range(cell).select()
                return f"{problem.sheet}!{cell}"
            return problem.sheet
        return None

    def finish(self, job: JobResult, problems: Sequence[Problem], done: str, *,
               select_warnings: bool = False, show: str | None = None,
               folder: Path | None = None) -> ActionResult:
        """Write the job's sheets, the Problems sheet and the Log; the closing message."""
        from contract_tracker.records import Severity
        from contract_tracker.toolsheets import problems_sheet

        sheets = dict(job.sheets)
        if "Problems" not in sheets:
            sheets = {"Problems": problems_sheet(problems, self.now), **sheets}
        notes = self.write(sheets, job.log)
        errors = sum(1 for p in problems if p.severity is Severity.ERROR)
        selected = None
        if problems and (errors or select_warnings):
            selected = self.select_problem(problems, warnings=select_warnings)
        elif show is not None and show in self.sheet_names:
            self.book.sheets[show].activate()
        lines = [done]
        if problems:
            lines.append(
                f"数据问题 Problems: {errors} 个错误 errors, {len(problems) - errors} 个警告 "
                f"warnings — 见 Problems 工作表 see the Problems sheet."
                + (" 出错的行已跳过 Rows with errors were skipped." if errors else ""))
            if selected:
                lines.append(f"已选中第一个问题的单元格 First problem selected: {selected}")
        lines += notes[:5]
        lines.append(_SAVE_HINT)
        return ActionResult("\n\n".join(lines), tuple(sheets) + (("Log",) if job.log else ()),
                            job.files, len(problems), errors, selected, folder)


def _fullname(book: XlBook) -> str:
    """The workbook's path. For a workbook in a OneDrive or SharePoint folder Excel gives a
    web address, which xlwings maps to the synced local copy; when it cannot (its error,
    or a crash of its own mapping code for a SharePoint address), the user is told how to
    let it (README, "A master on OneDrive or SharePoint")."""
    try:
        return str(book.fullname)
    except Exception as exc:  # for a local file xlwings just returns Excel's FullName
        text = f"{type(exc).__name__}: {exc}"
        raise UserMessage(
            "xlwings 找不到工作簿在本机磁盘上的位置。"
            "工作簿在 OneDrive / SharePoint 同步文件夹中时，请在本机的 xlwings 用户配置"
            "（Windows: %USERPROFILE%\\.xlwings\\xlwings.conf；Mac: "
            "~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf）中写上同步文件夹，"
            "或把工作簿另存到本机文件夹。"
            "xlwings cannot find where the workbook is on disk. For a workbook in a OneDrive "
            "or SharePoint folder, set its synced local folder in your xlwings user config "
            "(ONEDRIVE_COMMERCIAL_WIN, ONEDRIVE_CONSUMER_WIN or SHAREPOINT_WIN; on a Mac "
            "the same names ending in _MAC), or save the workbook to a local folder. See "
            f"README.md, 'A master on OneDrive or SharePoint'.\n\n(xlwings: {text[:300]})"
        ) from exc


def _local_path(fullname: str) -> Path | None:
    """The workbook's path on disk; None for a web location or a never-saved workbook."""
    if "://" in fullname:
        return None
    path = Path(fullname)
    return path if path.is_absolute() else None


# --- the actions -----------------------------------------------------------------------------


def validate(book: XlBook) -> ActionResult:
    """校验数据: every problem in the data on the Problems sheet, the first one selected."""
    from contract_tracker.jobs import validate_job

    session = _Session(book)
    data, problems = session.load()
    job = validate_job(data, problems, now=session.now)
    done = (f"校验完成 Validation done: {len(data.contracts)} 份合同 contracts, "
            f"{len(data.clients)} 个客户 clients read.")
    if not job.problems:
        done += "\n\n没有发现问题 No problems found."
    return session.finish(job, job.problems, done, select_warnings=True, show="Problems")


def penalties(book: XlBook) -> ActionResult:
    """计算违约金: late fees and SLA penalties as of today on the Workings sheet."""
    from contract_tracker.jobs import PENALTIES_IMPORTS, penalties_job

    session = _Session(book)
    data, problems = session.load(PENALTIES_IMPORTS)
    session.status("计算违约金… computing")
    job, _ = penalties_job(data, session.today, now=session.now)
    done = (f"违约金已计算（截至 {session.today:%Y-%m-%d} 日终）见 Workings 工作表。"
            f"Penalties computed, {job.summary}; see the Workings sheet.")
    return session.finish(job, (*problems, *job.problems), done, show="Workings")


def refresh(book: XlBook) -> ActionResult:
    """刷新看板: validate, penalties and the Dashboard, as of today."""
    from contract_tracker.jobs import REFRESH_IMPORTS, refresh_job

    session = _Session(book)
    data, problems = session.load(REFRESH_IMPORTS)
    session.status("刷新看板… computing")
    job = refresh_job(data, problems, session.today, now=session.now)
    done = (f"看板已刷新 Dashboard refreshed: {job.summary}.\n\n计算过程 Workings 表未更新，"
            f"需要时点“计算违约金”。The Workings sheet is left as it was; click 计算违约金 "
            f"to update it.")
    return session.finish(job, job.problems, done, show="Dashboard")


def weekly_report(book: XlBook) -> ActionResult:
    """每周逾期报告: the last complete week's overdue report, in the output folder."""
    from contract_tracker.jobs import REPORT_IMPORTS
    from contract_tracker.report import report_job

    session = _Session(book)
    data, problems = session.load(REPORT_IMPORTS)
    out = session.output_folder(data.settings, "reports")
    session.status("生成每周逾期报告… writing the report")
    job: JobResult = report_job(data, None, out, today=session.today, now=session.now,
                                read_problems=problems)
    if job.failed:
        session.write({}, job.log)
        raise UserMessage(f"周报没有生成 The weekly report was not written:\n{job.summary}")
    folder = job.files[0].parent if job.files else out  # the week's folder: the report first
    listed = "\n".join(f.name for f in job.files[:6])
    more = f"\n… 共 {len(job.files)} 个文件 {len(job.files)} files" if len(job.files) > 6 else ""
    done = (f"每周逾期报告已生成 Weekly overdue report written: {job.summary}\n\n{folder}"
            + (f"\n\n{listed}{more}" if listed else ""))
    return session.finish(job, job.problems, done, folder=folder)  # reading's included


def _generate(session: _Session, data: Book, problems: Sequence[Problem],
              ids: Sequence[str], extra: Sequence[Problem] = (), note: str = ""
              ) -> ActionResult:
    """Generate the contracts ``ids`` in chunks, with progress on the status bar."""
    from contract_tracker.jobs import JobResult, generate_job

    out = session.output_folder(data.settings, "contracts")
    job = JobResult()
    step = max(1, math.ceil(len(ids) / _PROGRESS_STEPS))
    for start in range(0, len(ids), step):
        session.status(f"生成合同 {start}/{len(ids)}… generating contracts")
        job = job.merged(generate_job(data, list(ids[start:start + step]), out,
                                      now=session.now))
    session.status(f"生成合同 {len(ids)}/{len(ids)}… generating contracts")
    made = [entry.file for entry in job.log if entry.file]
    listed = "\n".join(Path(f).name for f in made[:8])
    more = f"\n… 共 {len(made)} 个文件 {len(made)} files" if len(made) > 8 else ""
    done = (f"已生成 {len(made)} 份合同 {len(made)} contract(s) generated in:\n{out}"
            + (f"\n\n{listed}{more}" if listed else "") + (f"\n\n{note}" if note else ""))
    return session.finish(job, (*problems, *extra, *job.problems), done, folder=out)


_CELL_REF = re.compile(r"\$?([A-Z]{1,3})?\$?([0-9]+)?")


def selected_rows(address: str, last_row: int) -> list[int]:
    """The 1-based rows of a selection's address (``$A$2:$C$4,$A$7``, ``$2:$4``,
    ``$B:$B``...), sorted, each at most ``last_row``; whole columns mean rows 1..last_row."""
    rows: set[int] = set()
    for area in re.split(r"[,;]", address.replace(" ", "")):
        if not area:
            continue
        ends = []
        for part in area.split("!")[-1].split(":"):
            match = _CELL_REF.fullmatch(part)
            if match is None or not part:
                raise ValueError(f"not a range address: {address!r}")
            ends.append(int(match[2]) if match[2] else None)
        first, last = ends[0], ends[-1]
        if first is None or last is None:
            first, last = 1, last_row
        rows.update(range(min(first, last), min(max(first, last), last_row) + 1))
    return sorted(rows)


ROW_HEIGHT_CALLS: Final = 200
"""The most Excel calls spent finding the hidden rows of a selection (each one a COM or
AppleScript round trip)."""


def visible_rows(sheet: Any, rows: Sequence[int]) -> list[int] | None:
    """The rows of ``rows`` not hidden (by a filter, or by hand): a hidden row's height is
    0. Each run of adjacent rows is asked at once and halved where its rows' heights
    differ, so a run of rows of one height costs one call; None when finding them would
    take more than :data:`ROW_HEIGHT_CALLS` calls (a long selection over a scattered
    filter), for the caller to take every row and say so."""
    from contract_tracker.excel.xlsheet import runs_of

    visible: list[int] = []
    todo = list(reversed(list(runs_of(sorted(set(rows))))))
    calls = 0
    while todo:
        first, last = todo.pop()
        calls += 1
        if calls > ROW_HEIGHT_CALLS:
            return None
        height = sheet.range((first, 1), (last, 1)).row_height
        if height is None and first < last:  # rows of different heights: look closer
            middle = (first + last) // 2
            todo += [(middle + 1, last), (first, middle)]
        elif height is None or height > 0:
            visible.extend(range(first, last + 1))
    return visible


def generate_selected(book: XlBook) -> ActionResult:
    """生成选中合同: the contracts on the rows selected on the Contracts sheet."""
    from contract_tracker.records import Problem

    session = _Session(book)
    selection = book.selection
    selected_sheet = selection.sheet if selection is not None else None
    sheet = selected_sheet.name if selected_sheet is not None else None
    if selection is None or sheet != "Contracts":
        raise UserMessage(
            "请先在 Contracts（合同）工作表中选中要生成的合同所在的行（可多选），"
            "再点“生成选中合同”。"
            "Select the rows of the contracts on the Contracts sheet first (several rows or "
            "areas are fine), then click the button again.")
    address = selection.address
    data, problems = session.load()
    grid = session.read(["Contracts"]).get("Contracts", [])
    by_row = {c.src.row: c.contract_id for c in data.contracts}
    ids: list[str] = []
    skipped: list[Problem] = []
    chosen = selected_rows(address, len(grid))
    try:  # a selection across a filtered table takes in the rows filtered away
        shown = visible_rows(selected_sheet, chosen)
    except Exception:  # an engine that cannot tell row heights: every row, as before
        shown = chosen
    unchecked = shown is None
    shown = chosen if shown is None else shown
    hidden = len(chosen) - len(shown)
    for row in shown:
        if row == 1:
            continue
        if row in by_row:
            if by_row[row] not in ids:
                ids.append(by_row[row])
        elif any(v not in (None, "") for v in grid[row - 1]):
            skipped.append(Problem("Contracts", f"A{row}", (
                "selected row holds no valid contract (see its other problems): fix it, "
                "then generate again")))
    note = (f"已跳过选区中 {hidden} 个隐藏（被筛选掉）的行。{hidden} hidden (filtered-out) "
            f"row(s) of the selection were left out." if hidden else "")
    if unchecked:
        note = (f"选区太长，未检查其中是否有被筛选隐藏的行：选中的 {len(chosen)} 行都已生成；"
                f"只要可见行时请少选一些。Checking so long a selection for rows a filter hides "
                f"would take too long: all {len(chosen)} selected rows were taken; select "
                f"fewer rows to leave out hidden ones.")
    if not ids and not skipped:
        raise UserMessage(
            "选中的行里没有合同。The selected rows hold no contracts: select rows of the "
            "Contracts table (not the header), then click the button again."
            + (f"\n\n{note}" if note else ""))
    return _generate(session, data, problems, ids, skipped, note)


def generate_pending(book: XlBook) -> ActionResult:
    """生成全部待办: every draft or sent contract."""
    from contract_tracker.jobs import pending_contracts

    session = _Session(book)
    data, problems = session.load()
    ids = pending_contracts(data)
    if not ids:
        from contract_tracker.jobs import JobResult

        return session.finish(JobResult(), problems,
                              "没有待生成的合同（草稿或已发送）。"
                              "No pending (draft or sent) contracts.")
    return _generate(session, data, problems, ids)


def open_output(book: XlBook) -> ActionResult:
    """打开输出文件夹: the output folder of the Settings sheet, created when missing."""
    session = _Session(book)
    folder = session.output_folder(session.settings())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        open_path(folder)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UserMessage(f"无法打开输出文件夹 Cannot open the output folder:\n{folder}\n\n"
                          f"({exc})") from None
    return ActionResult(folder=folder)


def readme_path() -> Path:
    """The README of the installed tool (the repository checkout it was installed from)."""
    return Path(__file__).resolve().parents[3] / "README.md"


def help_text() -> str:
    """The help dialog: each button and what it does, where outputs go, where to read on."""
    lines = ["合同管理 选项卡上的按钮 The buttons of the 合同管理 tab:", ""]
    lines += [f"• {b.label} — {b.screentip}: {b.supertip}" for b in _buttons()]
    lines += ["", "输出文件 Outputs go to the output folder set on the Settings sheet "
              "(output_folder; default: 'output' beside the workbook): contracts/ and "
              "reports/. 工具只写 Dashboard, Workings, Problems, Log 四个工作表，不保存文件。"
              "The tool writes only the Dashboard, Workings, Problems and Log sheets and "
              "never saves the workbook: save it yourself.", "",
              "打开说明文档 (README)? Open the README for details?"]
    return "\n".join(lines)


@dataclass(frozen=True)
class _Button:
    label: str
    screentip: str
    supertip: str


def _buttons() -> list[_Button]:
    from xml.etree import ElementTree

    from contract_tracker.excel.package import CUSTOM_UI_NAMESPACE, custom_ui_xml

    root = ElementTree.fromstring(custom_ui_xml())
    return [_Button(b.get("label", ""), b.get("screentip", ""), b.get("supertip", ""))
            for b in root.iter(f"{{{CUSTOM_UI_NAMESPACE}}}button")]


def help(book: XlBook) -> ActionResult:
    """帮助: what each button does; offers to open the README."""
    answer = book.app.alert(help_text(), TITLE, "yes_no", "info")
    if answer != "yes":
        return ActionResult()
    readme = readme_path()
    if not readme.is_file():
        return ActionResult("说明文档 README.md 在 Contract Tracker 的文件夹中。README.md is in "
                            "the Contract Tracker folder the tool was installed from.")
    try:
        open_path(readme)
    except (OSError, subprocess.SubprocessError):
        return ActionResult(f"说明文档在 The README is at:\n{readme}")
    return ActionResult()


ACTIONS: Final[Mapping[str, Callable[[XlBook], ActionResult]]] = {
    "generate_selected": generate_selected,
    "generate_pending": generate_pending,
    "penalties": penalties,
    "refresh": refresh,
    "weekly_report": weekly_report,
    "validate": validate,
    "open_output": open_output,
    "help": help,
}
"""Every ribbon tag and its action: ``action(book) -> ActionResult``."""


# --- the dispatcher ----------------------------------------------------------------------


def _alert(book: XlBook, text: str, *, critical: bool = False) -> None:
    """A message box; when even that fails, the text goes to stderr (shown by xlwings)."""
    try:
        book.app.alert(text, TITLE, "ok", "critical" if critical else "info")
    except Exception:  # the dialog itself failed: never let that become a traceback
        sys.stderr.write(text + "\n")


def _write_error_log(folder: Path | None, tag: str, workbook: str) -> Path:
    """Append the current exception's traceback to the error log; its path."""
    import importlib.metadata

    try:
        xlwings_version = importlib.metadata.version("xlwings")
    except importlib.metadata.PackageNotFoundError:
        xlwings_version = "not installed"
    from contract_tracker import __version__

    text = (f"--- {dt.datetime.now().isoformat(timespec='seconds')} action {tag!r} on "
            f"{workbook}\ncontract-tracker {__version__}, xlwings {xlwings_version}, Python "
            f"{sys.version.split()[0]} at {sys.executable}\n{traceback.format_exc()}\n")
    for place in (folder, Path.cwd(), Path(tempfile.gettempdir())):
        if place is None:
            continue
        log = place / ERROR_LOG_NAME
        try:
            with log.open("a", encoding="utf-8") as fh:
                fh.write(text)
            return log
        except OSError:
            continue
    return Path(tempfile.gettempdir()) / ERROR_LOG_NAME


def dispatch(book: XlBook, tag: str) -> ActionResult | None:
    """Run the action ``tag`` on ``book`` with status bar, dialogs and error handling.

    Never raises: refusals and failures end in a dialog (a failure also in the error log
    beside the workbook). Returns the action's result, None when it did not complete.
    """
    action = ACTIONS.get(tag)
    if action is None:
        _alert(book, f"未知的按钮操作 Unknown button action {tag!r}: the workbook's ribbon and "
                     f"the installed Contract Tracker do not match. Known actions: "
                     f"{', '.join(ACTIONS)}. Update the tool or rebuild the workbook.",
               critical=True)
        return None
    label = LABELS.get(tag, tag)
    result: ActionResult | None = None
    failure: str | None = None
    try:
        book.app.status_bar = f"{label}…"
        result = action(book)
    except UserMessage as refused:
        failure = str(refused)
    except Exception as exc:
        try:
            fullname = book.fullname
        except Exception:
            fullname = "?"
        local = _local_path(fullname)
        log = _write_error_log(local.parent if local else None, tag, fullname)
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        failure = (f"出错了，“{label}”没有完成。Something went wrong: '{label}' did not "
                   f"finish.\n\n{type(exc).__name__}: {reason}\n\n详细信息已写入 Details "
                   f"were written to:\n{log}\n\n请把这个文件发给维护工具的同事。Please send "
                   f"this file to whoever maintains the tool.")
    finally:
        with contextlib.suppress(Exception):  # the status bar is cosmetic
            book.app.status_bar = False
    if failure is not None:
        _alert(book, failure, critical=True)
        return None
    assert result is not None
    if result.message:
        _alert(book, result.message, critical=bool(result.errors))
    return result


def _fatal(message: str) -> NoReturn:
    """End with a one-line message on stderr and exit code 1: xlwings' VBA shows it."""
    sys.stderr.write(message + "\n")
    raise SystemExit(1)


def _workbook_folder_from_argv() -> Path | None:
    """The calling workbook's folder, found from ``--wb=`` on sys.path (xlwings puts the
    workbook's folder there); None when not found."""
    name = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--wb=")), "")
    for entry in sys.path:
        if name and entry and (Path(entry) / name).is_file():
            return Path(entry)
    return None


def run_action(tag: str) -> None:
    """The ribbon's entry point: run the action ``tag`` on the workbook that called."""
    try:
        import xlwings
    except ImportError as exc:
        _fatal(f"Contract Tracker: the Python at {sys.executable} cannot import xlwings "
               f"({exc}). Install the requirements into it (pip install -r requirements.txt) "
               f"or point INTERPRETER_WIN / INTERPRETER_MAC in xlwings.conf at the Python "
               f"of the tool's .venv (README: Using it in Excel).")
    try:
        book = xlwings.Book.caller()
    except Exception as exc:
        log = _write_error_log(_workbook_folder_from_argv(), tag, "?")
        _fatal(f"Contract Tracker could not connect to the calling workbook in Excel "
               f"({type(exc).__name__}: {str(exc)[:200]}). Details were written to {log}")
    dispatch(book, tag)

