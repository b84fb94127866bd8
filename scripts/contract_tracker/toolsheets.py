"""What the commands put into the master's tool-owned sheets, and the one call that does it.

Pure builders turn results into :class:`~contract_tracker.sheetwriter.SheetContent`
(the Problems sheet here; Workings and Dashboard beside their engines), and
:func:`write_master` hands them, with the Log lines, to the one safe writer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from .records import Problem, Severity
from .sheetwriter import (
    CondRule,
    LogEntry,
    SheetContent,
    WriteReport,
    location,
    table_sheet,
    write_tool_sheets,
)

_CELL = re.compile(r"^[A-Z]{1,3}\d+$")
SEVERITY_ZH = {Severity.ERROR: "错误 error", Severity.WARNING: "警告 warning"}


def problems_sheet(problems: Sequence[Problem], as_of: dt.datetime) -> SheetContent:
    """The Problems sheet: one row per problem, its cell a link to the cell itself."""
    rows = []
    links: dict[tuple[int, int], str] = {}
    for n, p in enumerate(problems):
        where = f"{p.sheet}!{p.cell}" if p.cell else p.sheet
        rows.append((SEVERITY_ZH[p.severity], where, p.message))
        if p.cell and _CELL.match(p.cell):
            links[(n, 1)] = location(p.sheet, p.cell)
        elif p.cell.isdigit():
            links[(n, 1)] = location(p.sheet, f"A{p.cell}")
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    title = (f"数据问题 Problems — {errors} 个错误 errors, {len(problems) - errors} 个警告 "
             f"warnings; 检查于 checked {as_of:%Y-%m-%d %H:%M}")
    if not problems:
        rows = [("", "", "没有发现问题 No problems found.")]
    return table_sheet(
        ["级别 severity", "位置 cell", "问题 problem (what is wrong, what to do)"],
        rows, title=title, col_styles=[None, "link", "wrap"], widths=[14, 20, 110],
        links=links,
        rules=[CondRule("A", "==", SEVERITY_ZH[Severity.ERROR], "red"),
               CondRule("A", "==", SEVERITY_ZH[Severity.WARNING], "amber")],
    )


def log_entry(command: str, message: str, *, level: str = "info", file: str = "",
              now: dt.datetime | None = None) -> LogEntry:
    return LogEntry(now or dt.datetime.now().replace(microsecond=0), command, message,
                    level, file)


def write_master(path: Path, sheets: Mapping[str, SheetContent],
                 log: Sequence[LogEntry] = (), backups_kept: int = 5) -> WriteReport:
    """Write tool-owned sheets and Log lines into the master in one backed-up, atomic step."""
    return write_tool_sheets(path, sheets, log=log, backups_kept=backups_kept)
