"""The weekly overdue report: a workbook, a dunning letter and an e-mail draft per client to
chase, an HTML summary for the team, and a snapshot for next week's comparison.

``contract-tracker report WORKBOOK --week 2026-W48 [--out DIR]`` runs :func:`report_job`.

Decisions
---------
* **The week and its as-of date.** Weeks are ISO weeks (Monday to Sunday; week 1 holds the
  year's first Thursday, so 2026-W01 starts on 2025-12-29 and 2026 has 53 weeks). A report
  is *as of the end of the week's Sunday*, the engine's as-of convention (the end of that
  day). Consecutive reports therefore tile time with no gap and no overlap: a receipt or a
  due date belongs to exactly one week, (previous Sunday, this Sunday], whichever weekday
  the report is run on. Days overdue are counted to that Sunday. Without ``--week`` the
  report is for the last complete week: the week of ``today - 7 days`` (on a Sunday the
  current week is not over yet). Nothing in the outputs depends on when the report is run:
  the letters are dated the Monday after the week and the e-mails that Monday 09:00 (+08:00).
* **Week over week, from the engine.** "Became overdue" and "paid" are computed by the
  engine at the two as-of dates on the current data, so they are exact on the first run and
  identical on every re-run: an installment became overdue when it is overdue now and its
  due date is on or after the previous Sunday (outstanding amounts never grow as the as-of
  date moves on, so that is the same as "not overdue then"); the amount paid in the week is
  ``paid(this Sunday) - paid(previous Sunday)`` per installment, so unnamed receipts are
  allocated exactly as the engine does (oldest open installment first). Receipts of
  滞纳金 (a late fee received) and 减免滞纳金 (a fee waived) dated in the week are listed
  with them, one row each: a fee received counts in "paid" (money came in), a waiver as
  0.00 with its amount in the note, so a late-fee figure that drops is explained. SLA clocks are
  monotone too: a breach of the week is breached now and was not a week ago. The previous
  date's figures come from a second engine run on the contracts that can differ (those with
  a receipt in the week or an installment overdue then) and the incidents breached now,
  which is exact because allocation is per contract and clocks are per incident.
* **The week's SLA and availability.** SLA: every clock (response, solution, major fault)
  breached by the end of this Sunday and not by the end of the previous one, with its
  penalty before the monthly cap. Availability is monthly and typed in after the month:
  the report lists the contract-months below target among the months the week touches and
  the month before, and, once there is a previous report, any other month that has fallen
  below target since it (marked new).
* **Week over week, from the snapshot.** The engine on today's data cannot see data
  entered or changed after last week's report (a receipt dated last Wednesday but typed in
  this Tuesday; an incident logged late). Each report therefore keeps a snapshot of its
  totals and open items, and the next report compares: an item overdue now that last
  week's report did not list is flagged "recorded or changed after the last report"; an
  item that report listed and that is smaller now than the engine's week payments explain
  is shown as paid "before the week, entered after the last report"; items that left the
  workbook say so. The KPI table shows both: last week's report as issued and the previous
  Sunday on today's data.
* **Where the snapshot lives.** ``<out>/snapshots/<week>.json`` beside the week folders,
  not a tool-owned sheet: the report's figures and files then never depend on writing the
  master (the master stays small and a report can be made while it is open in Excel); one
  file per week lets any week be re-run against the report before it; and it is plain JSON
  (amounts as strings, sorted, no time stamps) that can be read and diffed. Re-running a
  week rewrites its snapshot. The snapshots belong to the output folder, so the same
  ``--out`` must be used from week to week. The one write into the master is the Log
  lines recording each run (a normal backed-up write of the Log sheet), made by the
  command after every file is written: when the master is open in Excel (an owner file
  ``~$name.xlsm`` beside it) that write is refused, and ``contract-tracker report`` warns
  that the report was written but the Log not updated, and why, and exits 0 (1 with data
  errors); the report itself is complete.
* **First run.** When ``<out>/snapshots/<previous week>.json`` does not exist (or cannot be
  read) the report says "无上周报告… no previous report: ..." on its summary, in the HTML and in the
  job's summary, and shows the engine's figures for the previous Sunday instead; nothing
  else changes.
* **What is chased.** Overdue = the outstanding amount of an installment whose due date has
  passed (grace days spare only the fee), from signed, active, expired and terminated
  contracts; installments of draft or sent contracts are not chased (nothing is owed before
  signing, :func:`~contract_tracker.statuses.is_signed`, the rule the Dashboard uses too)
  and a warning names them. An exempt contract's items show a fee of 0.00 and its
  contractual rate.
* **Late fees: the whole fee to date, less what was received or waived.** Receipts pay
  installments, never fees, so every late fee accrued is owed until a receipt of 滞纳金
  (a fee received) or 减免滞纳金 (a fee waived) settles it: the fee on each overdue
  installment (clause 7.2, including its parts already paid late) and the fee on each
  installment paid late in full ("settled late"), each less what settled it (its basis
  then says what was received or waived and what is still owed; a fee settled in full is
  no longer chased). A client's letter, e-mail draft and row in the 催款 sheet state
  the whole fee with its basis: the overdue items, then the installments settled late
  (due date, the days their late parts were paid, days late, fee), a note when a fee is
  the contract's cap, and the total split into both parts. The 滞纳金 Late fees sheet lists
  every installment with a fee of the clients chased (overdue or settled late) with its
  workings (each part x daily rate x days late); the 仅欠滞纳金 Fees only sheet lists the
  clients owing nothing but fees on installments settled late, one row each. Together,
  per client, they add up to the engine's fees on that client's signed contracts, and
  over all clients to the engine's fees still owed (``fee_owed``) for signed contracts.
* **Who gets a letter.** Letters stay per overdue client. A client whose only debt is
  late fees on installments settled late gets no letter: the issue asks for letters to
  clients to chase for overdue payments, such fees are often old, and whether to demand,
  invoice or waive them is an account manager's call. They are listed on the Fees only
  sheet (one row per client: its installments settled late, contracts, dates and fee;
  each installment's workings are on the master's Workings sheet, which 计算违约金 or
  ``penalties --write`` writes) and counted in a note on the summary, so nothing owed
  is hidden. One row per client rather than per
  installment keeps the weekly workbook small: on the large sample 3,572 such clients
  hold 12,943 installments settled late, every one of them listed again each week.
* **Determinism.** Rows are sorted; the workbook has a fixed creation date and zip times;
  letters are rendered by ``CompiledTemplate`` (fixed zip times); the e-mails have a fixed
  Message-ID, Date and MIME boundary; the HTML and the snapshot carry no run time and no
  absolute path. A re-run on the same data writes byte-identical files.
* **Speed.** The e-mail package takes a few milliseconds per draft, so from
  ``PARALLEL_FROM`` letters on (Linux, two or more CPUs) letters and drafts are rendered and
  written by forked worker processes while this process writes the workbook; the files are
  the same bytes either way (tested). ``benchmarks/bench_report.py`` times it.
* **Safety.** Every user string goes through :func:`cell_text` (control characters removed,
  CR LF made LF, cut to Excel's 32,767) and ``write_string``; the workbook is opened with
  ``strings_to_formulas``, ``strings_to_numbers`` and ``strings_to_urls`` off and writes no
  formula at all. HTML is escaped by jinja2's autoescape; mail headers are built by the
  ``email`` package from cleaned, single-line text; file names come from
  :mod:`.docgen.filenames` and are checked to stay inside the output folder.

Output layout::

    <out>/<week>/overdue-report_<week>.xlsx
    <out>/<week>/summary_<week>.html
    <out>/<week>/letters/催款函_<client id>_<client name>.docx  (最后催款通知函_…: final notices)
    <out>/<week>/mail/催款函_<client id>_<client name>.eml
    <out>/snapshots/<week>.json

The ``letters`` and ``mail`` folders of a week belong to the tool: a re-run removes the
letters and drafts of clients no longer overdue that week.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gc
import hashlib
import io
import itertools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email import policy
from email import utils as email_utils
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote as url_quote

from .gcpause import gc_paused
from .money import ZERO, fmt_money, fmt_money_grouped, round_fen
from .records import (
    AgeingBucket,
    Book,
    Client,
    Contract,
    Problem,
    Settings,
    Severity,
    Source,
)
from .schema import DEFAULT_AGEING, FEE_PURPOSES, PURPOSE_FEE_WAIVER
from .statuses import is_signed
from .textwidth import text_width, wrapped_lines

if TYPE_CHECKING:
    from .engine.latefees import InstallmentFee
    from .jobs import JobResult

__all__ = [
    "REPORT_SHEETS",
    "AvailabilityRow",
    "BucketRow",
    "ClientLetter",
    "IsoWeek",
    "Kpi",
    "LatePart",
    "ManagerRow",
    "OverdueRow",
    "PaidRow",
    "SettledFeeRow",
    "SlaRow",
    "Snapshot",
    "SnapshotItem",
    "WeekError",
    "WeeklyReport",
    "build_report",
    "cell_text",
    "dunning_email",
    "email_addresses",
    "load_snapshot",
    "parse_week",
    "render_letter",
    "report_job",
    "report_workbook",
    "snapshot_bytes",
    "snapshot_path",
    "summary_html",
    "write_letters",
]

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")
SNAPSHOT_VERSION = 1
EXCEL_MAX_TEXT = 32767
HTML_ROWS = 30
"""Rows per section in the HTML summary; the workbook has them all."""
PAY_WITHIN_DAYS = 7
NO_MANAGER = "(未指定 none)"
KIND_ZH = {"prepayment": "预付款", "progress": "进度款", "final": "尾款"}
BREACH_ZH = {"response": "响应超时", "solution": "方案超时", "major": "重大故障超时"}
SEVERITY_ZH = {"normal": "一般", "major": "重大"}
MAIL_DOMAIN = "contract-tracker.invalid"


# --- weeks ------------------------------------------------------------------------------


class WeekError(ValueError):
    """A week that is not an ISO week, with what to type instead."""


_WEEK_RE = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last."""
    return dt.date(year, 12, 28).isocalendar()[1]


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO week; the report is as of the end of its Sunday."""

    year: int
    week: int

    def __post_init__(self) -> None:
        if not 1900 <= self.year <= 9998:
            raise WeekError(f"year {self.year} is out of range (1900-9998)")
        last = weeks_in_year(self.year)
        if not 1 <= self.week <= last:
            raise WeekError(
                f"{self.year}-W{self.week:02d} does not exist: {self.year} has {last} ISO "
                f"weeks ({self.year}-W01 to {self.year}-W{last:02d})")

    @classmethod
    def of(cls, day: dt.date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def last_complete(cls, today: dt.date) -> IsoWeek:
        """The last week whose Sunday has ended before ``today``."""
        return cls.of(today - dt.timedelta(days=7))

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        """The as-of date: figures are as of the end of this day."""
        return dt.date.fromisocalendar(self.year, self.week, 7)

    @property
    def previous(self) -> IsoWeek:
        return IsoWeek.of(self.monday - dt.timedelta(days=7))

    def __str__(self) -> str:
        return self.label


def parse_week(text: str) -> IsoWeek:
    """``'2026-W48'`` (also ``2026W48``, ``2026-w48``, ``2026-W5``) as an :class:`IsoWeek`;
    anything else raises :class:`WeekError` saying what is expected."""
    match = _WEEK_RE.match(text or "")
    if not match:
        raise WeekError(f"{text!r} is not an ISO week: write it as YYYY-Www, e.g. 2026-W48")
    return IsoWeek(int(match.group(1)), int(match.group(2)))


# --- text ---------------------------------------------------------------------------------

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def cell_text(value: object) -> str:
    """User text as it may stand in a cell: ``None`` is ``''``; CR LF and lone CR become LF;
    control characters XML cannot hold (and DEL) are removed; cut to 32,767 characters."""
    if value is None:
        return ""
    text = str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ILLEGAL.sub("", text)
    return text[:EXCEL_MAX_TEXT]


def one_line(value: object) -> str:
    """Cleaned text on one line (for mail headers and file names): line breaks and tabs are
    spaces, runs of spaces one, invisible format characters (bidi overrides) removed."""
    text = cell_text(value)
    text = "".join(" " if ch in "\n\t" else ch for ch in text
                   if unicodedata.category(ch) != "Cf")
    return re.sub(r"\s+", " ", text).strip()


_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def email_addresses(value: str | None) -> tuple[tuple[str, ...], str]:
    """The addresses in an e-mail cell (separated by ``;``, ``,`` or spaces) and, when there
    is none or one is not an address, why."""
    text = one_line(value)
    if not text:
        return (), "no e-mail address"
    parts = [p for p in re.split(r"[;,；，\s]+", text) if p]
    bad = [p for p in parts if not _EMAIL_RE.match(p) or ".." in p or not _parses(p)]
    if bad:
        return (), f"{bad[0]!r} is not an e-mail address"
    return tuple(dict.fromkeys(parts)), ""


def _parses(addr: str) -> bool:
    """Whether the ``email`` package takes ``addr`` as an address (it writes the headers)."""
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError, TypeError):
        return False
    return True


# --- the report's rows ------------------------------------------------------------------


class OverdueRow(NamedTuple):
    """One overdue installment as of the report's Sunday."""

    manager: str
    client_id: str
    client_name: str
    contract_id: str
    installment_id: str
    kind: str
    due: dt.date
    days_overdue: int
    bucket: str
    amount: Decimal
    paid: Decimal
    outstanding: Decimal  # the overdue amount
    fee: Decimal  # late fee to date (clause 7.2) still owed: less fees received or waived
    rate: Decimal  # the contract's daily rate (its nominal rate when exempt)
    exempt: bool
    new_note: str  # why it counts as newly overdue this week; '' when it does not
    capped: bool = False  # the fee is the contract's cap, not rate x days
    workings: str = ""  # how the fee was computed: each part x rate x days
    basis: str = ""  # the same in a letter's words (Chinese only)


class LatePart(NamedTuple):
    """A part of an installment paid late."""

    paid_on: dt.date
    amount: Decimal
    days: int  # days late (after any grace days)


class SettledFeeRow(NamedTuple):
    """An installment paid in full, but late: its late fee (clause 7.2) is still owed, as
    receipts pay installments, never fees (``fee``: less what receipts of 滞纳金 /
    减免滞纳金 settled of it)."""

    manager: str
    client_id: str
    client_name: str
    contract_id: str
    installment_id: str
    kind: str
    due: dt.date
    amount: Decimal
    parts: tuple[LatePart, ...]  # its parts paid late, in payment order
    fee: Decimal  # the installment's late fee (rounded, capped)
    rate: Decimal
    capped: bool
    workings: str  # '' unless the client gets a letter (the workbook lists those rows)
    letter: bool  # stated in the client's letter (the client has overdue items)
    basis: str = ""  # the workings in a letter's words, when ``letter``

    @property
    def days(self) -> int:
        """The longest days late of its parts."""
        return max((p.days for p in self.parts), default=0)


class PaidRow(NamedTuple):
    """Money that reduced an installment's outstanding amount since the previous report,
    or a late fee received or waived in the week (a receipt of 滞纳金 / 减免滞纳金: its
    installment, when named, and no amount due or outstanding; a waiver pays 0.00)."""

    manager: str
    client_id: str
    client_name: str
    contract_id: str
    installment_id: str
    due: dt.date | None
    amount: Decimal | None
    paid: Decimal  # in the week (or the unexplained reduction, see note)
    outstanding: Decimal | None  # now
    was_overdue: bool  # overdue at the previous Sunday
    settled: bool
    note: str


class SlaRow(NamedTuple):
    """One SLA clock breached in the week (clause 1.2)."""

    manager: str
    client_id: str
    client_name: str
    contract_id: str
    incident_id: str
    severity: str
    reported_at: dt.datetime
    breach: str  # response | solution | major
    limit_hours: Decimal
    elapsed_hours: Decimal
    stopped_at: dt.datetime | None  # None: still running at the end of the week
    penalty: Decimal  # this clock's penalty before the monthly cap
    note: str


class AvailabilityRow(NamedTuple):
    """A contract-month below its availability target (clause 1.2(3))."""

    manager: str
    client_id: str
    client_name: str
    contract_id: str
    month: dt.date
    availability: Decimal
    target: Decimal
    downtime: Decimal
    maintenance: Decimal
    credit: Decimal
    complete: bool
    new: bool | None  # not in last week's report; None without one


class ManagerRow(NamedTuple):
    manager: str
    email: str
    clients: int
    items: int
    overdue: Decimal
    fee: Decimal  # on the overdue items
    settled_fee: Decimal  # on installments settled late
    new_overdue: Decimal
    paid_week: Decimal
    sla_breaches: int
    availability_misses: int


class BucketRow(NamedTuple):
    label: str
    from_days: int | None
    to_days: int | None
    items: int
    amount: Decimal
    fee: Decimal


class Kpi(NamedTuple):
    label: str
    now: Decimal | int
    last_report: Decimal | int | None  # as last week's report stated it
    previous: Decimal | int | None  # the previous Sunday on today's data
    money: bool


class ClientLetter(NamedTuple):
    """One client to chase: its letter and e-mail draft."""

    client_id: str
    client_name: str
    manager: str
    manager_email: str  # '' when missing or not an address
    contact: str
    to: tuple[str, ...]
    items: tuple[OverdueRow, ...]
    outstanding: Decimal
    fee: Decimal  # the late fee to date still owed: overdue_fee + settled_fee
    letter_no: str
    letter_name: str
    mail_name: str  # '' when the draft is skipped
    mail_note: str  # why it was skipped, or a remark about it
    settled: tuple[SettledFeeRow, ...] = ()  # installments it settled late (fee still owed)
    overdue_fee: Decimal = ZERO  # the fee on the overdue items
    settled_fee: Decimal = ZERO  # the fee on the installments settled late
    reminder: int = 1  # the Nth weekly letter in a row about (some of) these items
    chased_since: dt.date | None = None  # the date of the first of them (reminder > 1)
    final: bool = False  # a final notice (Settings: dunning_final_from)
    sla_owed: Decimal = ZERO  # SLA penalties and credits we owe the client (all months)


class SnapshotItem(NamedTuple):
    contract_id: str
    client_id: str
    due: dt.date
    outstanding: Decimal
    days_overdue: int
    fee: Decimal


@dataclass(frozen=True)
class Snapshot:
    """What a report stated: its totals and open items, kept for next week's report."""

    week: str
    as_of: dt.date
    totals: Mapping[str, Decimal | int]
    open_items: Mapping[str, SnapshotItem]
    sla: frozenset[tuple[str, str]]  # (incident, breach type) breached as of as_of
    availability: frozenset[tuple[str, str]]  # (contract, YYYY-MM) below target
    lettered: frozenset[str] | None = None  # clients sent a letter (None: an older snapshot)


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the outputs show, computed once (no I/O)."""

    week: IsoWeek
    as_of: dt.date
    previous_as_of: dt.date
    company: str
    previous: Snapshot | None
    previous_note: str
    kpis: tuple[Kpi, ...]
    managers: tuple[ManagerRow, ...]
    buckets: tuple[BucketRow, ...]
    overdue: tuple[OverdueRow, ...]
    became_overdue: tuple[OverdueRow, ...]
    paid: tuple[PaidRow, ...]
    sla: tuple[SlaRow, ...]
    availability: tuple[AvailabilityRow, ...]
    letters: tuple[ClientLetter, ...]
    notes: tuple[str, ...]
    problems: tuple[Problem, ...]  # the report's own (warnings about letters, data changes)
    data_problems: tuple[Problem, ...]  # reading's (when given), then the engine's
    totals: Mapping[str, Decimal | int] = field(default_factory=dict)
    open_items: Mapping[str, SnapshotItem] = field(default_factory=dict)
    sla_keys: frozenset[tuple[str, str]] = frozenset()
    availability_keys: frozenset[tuple[str, str]] = frozenset()
    settled: tuple[SettledFeeRow, ...] = ()  # installments settled late, with a fee

    @property
    def overdue_total(self) -> Decimal:
        return sum((r.outstanding for r in self.overdue), ZERO)

    @property
    def fee_total(self) -> Decimal:
        """Late fees on the overdue items."""
        return sum((r.fee for r in self.overdue), ZERO)

    @property
    def settled_fee_total(self) -> Decimal:
        """Late fees on installments settled late (still owed)."""
        return sum((r.fee for r in self.settled), ZERO)

    @property
    def late_fee_total(self) -> Decimal:
        """Every late fee to date still owed on signed contracts: the engine's fees less
        those received or waived (Σ ``fee_owed``)."""
        return self.fee_total + self.settled_fee_total

    @property
    def paid_total(self) -> Decimal:
        return sum((r.paid for r in self.paid), ZERO)

    @property
    def new_total(self) -> Decimal:
        return sum((r.outstanding for r in self.became_overdue), ZERO)


# --- snapshots ----------------------------------------------------------------------------


def snapshot_path(root: Path, week: IsoWeek) -> Path:
    return root / "snapshots" / f"{week.label}.json"


def snapshot_bytes(report: WeeklyReport) -> bytes:
    """The report's snapshot as JSON: sorted, amounts as strings, no time stamps."""
    def value(x: Decimal | int) -> str | int:
        return fmt_money(x) if isinstance(x, Decimal) else x

    payload = {
        "format": "contract-tracker weekly report snapshot",
        "version": SNAPSHOT_VERSION,
        "week": report.week.label,
        "as_of": report.as_of.isoformat(),
        "totals": {k: value(v) for k, v in sorted(report.totals.items())},
        "open_items": [
            {"installment_id": iid, "contract_id": s.contract_id, "client_id": s.client_id,
             "due_date": s.due.isoformat(), "outstanding": fmt_money(s.outstanding),
             "days_overdue": s.days_overdue, "fee": fmt_money(s.fee)}
            for iid, s in sorted(report.open_items.items())
        ],
        "sla_breaches": sorted([list(k) for k in report.sla_keys]),
        "availability_misses": sorted([list(k) for k in report.availability_keys]),
        "letters": sorted(x.client_id for x in report.letters),
    }
    return (json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=False) + "\n").encode()


def _decimal(text: object) -> Decimal:
    if not isinstance(text, (str, int)) or isinstance(text, bool):
        raise ValueError(f"not an amount: {text!r}")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    return number


_NO_PREVIOUS = "无上周报告（按现有数据重算上周日作比较）："


def load_snapshot(path: Path, week: IsoWeek) -> tuple[Snapshot | None, str]:
    """The snapshot of ``week`` at ``path``, or None and why (missing, unreadable, another
    week's)."""
    where = f"{path.parent.name}/{path.name}"  # relative: the outputs must not name the folder
    if not path.exists():
        return None, (f"{_NO_PREVIOUS} no previous report: {where} (the report of "
                      f"{week.label}) does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"not a version {SNAPSHOT_VERSION} report snapshot")
        if data.get("week") != week.label:
            raise ValueError(f"it is the snapshot of {data.get('week')!r}, not {week.label}")
        totals: dict[str, Decimal | int] = {}
        for key, v in dict(data["totals"]).items():
            totals[str(key)] = v if isinstance(v, int) and not isinstance(v, bool) \
                else _decimal(v)
        items = {
            str(i["installment_id"]): SnapshotItem(
                str(i["contract_id"]), str(i["client_id"]),
                dt.date.fromisoformat(i["due_date"]), _decimal(i["outstanding"]),
                int(i["days_overdue"]), _decimal(i["fee"]))
            for i in data["open_items"]
        }
        sla = frozenset((str(a), str(b)) for a, b in data["sla_breaches"])
        avail = frozenset((str(a), str(b)) for a, b in data["availability_misses"])
        as_of = dt.date.fromisoformat(data["as_of"])
        lettered = (frozenset(map(str, data["letters"])) if "letters" in data
                    else None)  # written since letters are counted; older: every client
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, (f"{_NO_PREVIOUS} no previous report: {where} cannot be used "
                      f"({type(exc).__name__}: {exc})")
    return Snapshot(week.label, as_of, totals, items, sla, avail, lettered), ""


# --- building the report (pure) -----------------------------------------------------------


def _first_wins(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(key(item), item)
    return out


def _buckets(book: Book) -> tuple[AgeingBucket, ...]:
    found = book.settings.ageing
    if found:
        return tuple(sorted(found, key=lambda b: b.from_days))
    return tuple(AgeingBucket(label, lo, hi) for label, lo, hi in DEFAULT_AGEING)


def _bucket_of(days: int, buckets: Sequence[AgeingBucket]) -> str | None:
    for b in buckets:
        if b.holds(days):
            return b.label
    return None


def _hours(us: int) -> Decimal:
    return round_fen(Decimal(us) / Decimal(3_600_000_000))


def _located(src: Source, sheet: str, key: str | None, message: str,
             severity: Severity = Severity.WARNING) -> Problem:
    if not src.row:
        return Problem(src.sheet or sheet, "", message, severity)
    return Problem.at(src, key, message, severity)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_before(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


class _Who(NamedTuple):
    manager: str
    client_id: str
    client_name: str


def _capped(f: InstallmentFee) -> bool:
    return f.cap is not None and f.fee_exact > f.cap


def _at_cap(f: InstallmentFee) -> bool:
    """Whether the fee asked for is the contract's cap ("*" in a letter): not once part of
    it was received or waived (its basis says both)."""
    return _capped(f) and not f.settlements


def _workings(f: InstallmentFee, letter: bool = False) -> str:
    """How an installment's late fee was computed (clause 7.2): each part late x its daily
    rate x its days late, the exact sum, the cap when it applies, and the fee. For the
    report's sheets (Chinese with English keywords), or, with ``letter``, in the words of a
    letter to the client (Chinese only, amounts in 元, dates written out)."""
    from .docgen.capitals import cn_date, format_percent

    parts = []
    unit = "元" if letter else ""
    for seg in f.segments:
        if letter:
            when = (f"{cn_date(seg.last_day)}付款部分" if seg.receipt_id is not None
                    else "尚未支付部分")
        else:
            when = f"{seg.last_day:%Y-%m-%d}付" if seg.receipt_id is not None else "未付"
        parts.append(f"{fmt_money_grouped(seg.amount)}{unit}×{format_percent(seg.rate)}×"
                     f"{seg.days}天（{when}）")
    plus, equals = ("＋", "＝") if letter else (" + ", " = ")  # a letter's line breaks well
    text = plus.join(parts) or "0"
    text += f"{equals}{fmt_money_grouped(round_fen(f.fee_exact))}{unit}"
    if _capped(f) and f.cap is not None:
        text += (f"，超过合同约定的上限，按上限{fmt_money_grouped(f.cap)}元计收" if letter
                 else f"；上限 cap {fmt_money_grouped(f.cap)}")
    if f.grace_days:
        text += (f"（逾期天数已扣除宽限期{f.grace_days}天）" if letter
                 else f"；宽限 grace {f.grace_days}天")
    if f.settlements:  # receipts of 滞纳金 / 减免滞纳金: what is asked for is the rest
        done = []
        if f.fee_paid:
            done.append(f"已收取{fmt_money_grouped(f.fee_paid)}{unit}" if letter
                        else f"已收 received {fmt_money_grouped(f.fee_paid)}")
        if f.fee_waived:
            done.append(f"已减免{fmt_money_grouped(f.fee_waived)}{unit}" if letter
                        else f"减免 waived {fmt_money_grouped(f.fee_waived)}")
        owed = fmt_money_grouped(f.fee_owed)
        text += (f"，其中{'、'.join(done)}，尚欠{owed}元" if letter
                 else f"；{'；'.join(done)}；尚欠 owed {owed}")
    return text


def build_report(book: Book, week: IsoWeek, previous: Snapshot | None = None,
                 previous_note: str = "", history: Sequence[Snapshot] = (), *,
                 read_problems: Sequence[Problem] = (),
                 today: dt.date | None = None) -> WeeklyReport:
    """The report of ``week`` on ``book``, compared with last week's ``previous`` snapshot
    (None on the first run, ``previous_note`` saying why). ``history`` holds the snapshots
    of the weeks before, newest first and without a gap (``previous`` first): a letter
    whose items were chased in each of the last N of them is the (N+1)th in a row.
    ``read_problems`` are what reading the workbook found (a row with an error is not in
    the book, so its money is not in the report: the report says so); ``today``, when
    given, lets a week that has not ended yet be said to be one. Pure: no file is
    touched."""
    with gc_paused():  # tens of thousands of rows, no cycles among them
        return _build_report(book, week, previous, previous_note, history,
                             read_problems=read_problems, today=today)


def _build_report(book: Book, week: IsoWeek, previous: Snapshot | None,
                  previous_note: str, history: Sequence[Snapshot], *,
                  read_problems: Sequence[Problem], today: dt.date | None) -> WeeklyReport:
    from .docgen.filenames import plan_names
    from .engine import compute_penalties
    from .terms import effective_terms

    as_of = week.sunday
    prev_as_of = week.previous.sunday
    cur, data_problems = compute_penalties(book, as_of)
    contracts: dict[str, Contract] = _first_wins(book.contracts, lambda c: c.contract_id)
    clients: dict[str, Client] = _first_wins(book.clients, lambda c: c.client_id)
    # The money of every installment; the rows, with their workings, only of those listed
    # (overdue, or settled with a fee): on a large book they are a quarter of all.
    fees = cur.late_fees.positions()
    problems: list[Problem] = []
    notes: list[str] = []

    seen_who: dict[str, _Who] = {}

    def who(contract_id: str) -> _Who:
        got = seen_who.get(contract_id)
        if got is not None:
            return got
        c = contracts.get(contract_id)
        client = clients.get(c.client_id) if c is not None else None
        if client is None:
            got = _Who(NO_MANAGER, c.client_id if c else "", "")
        else:
            got = _Who(one_line(client.account_manager) or NO_MANAGER, client.client_id,
                       cell_text(client.name))
        seen_who[contract_id] = got
        return got

    # The previous Sunday, on today's data: only what can differ from now is recomputed.
    in_week = [r for r in book.receipts if prev_as_of < r.date <= as_of]
    week_receipts = {r.contract_id for r in in_week}
    owing_before = {f.contract_id for f in fees
                    if f.outstanding > ZERO and f.due_date < prev_as_of}
    breached_now = cur.sla.breached()
    again = week_receipts | owing_before
    incident_ids = {s.incident_id for s in breached_now}
    needed = again | {s.contract_id for s in breached_now}
    sub = Book(
        settings=book.settings,
        contracts=tuple(c for c in book.contracts if c.contract_id in needed),
        installments=tuple(i for i in book.installments if i.contract_id in again),
        receipts=tuple(r for r in book.receipts if r.contract_id in again),
        incidents=tuple(i for i in book.incidents if i.incident_id in incident_ids),
        schema_version=book.schema_version,
    )
    prev, _ = compute_penalties(sub, prev_as_of)
    prev_fees = {f.installment_id: f for f in prev.late_fees.positions()}
    prev_breached = {(s.incident_id, c.breach_type) for s in prev.sla for c in s.clocks
                     if c.breached}

    buckets = _buckets(book)
    nominal: dict[str, Decimal] = {}
    overdue: list[OverdueRow] = []
    settled: list[SettledFeeRow] = []
    settled_fees: dict[str, InstallmentFee] = {}  # their workings are written when listed
    prev_settled = ZERO
    paid: list[PaidRow] = []
    pending: list[str] = []
    unbucketed = 0
    prev_overdue = ZERO
    prev_items = 0
    prev_clients: set[str] = set()
    prev_fee = ZERO
    outstanding_now = ZERO
    outstanding_prev = ZERO
    seen_now: set[str] = set()
    listed = [i for i, f in enumerate(fees)
              if f.overdue > ZERO or (f.outstanding == ZERO and f.fee_owed > ZERO)]
    row_of = dict(zip(listed, cur.late_fees.select(listed), strict=True))
    for i, f in enumerate(fees):
        c = contracts.get(f.contract_id)
        if c is None:
            continue
        iid = f.installment_id
        if not is_signed(c):
            if f.overdue > ZERO:
                pending.append(f"{iid} ({c.contract_id}, {c.status})")
            continue
        seen_now.add(iid)
        p = prev_fees.get(iid)
        out_prev = p.outstanding if p is not None else f.outstanding
        paid_week = f.paid - p.paid if p is not None else ZERO
        was_overdue = p is not None and p.overdue > ZERO
        outstanding_now += f.outstanding
        outstanding_prev += out_prev
        w = who(f.contract_id)
        if was_overdue and p is not None:
            prev_overdue += p.overdue
            prev_items += 1
            prev_clients.add(w.client_id)
            prev_fee += p.fee_owed
        # Settled late at the previous Sunday. Without a recomputed p, the contract had no
        # receipt in the week and nothing overdue then, so a settled fee was the same then.
        if p is not None:
            prev_settled += p.fee_owed if p.outstanding == ZERO else ZERO
        elif f.outstanding == ZERO:
            prev_settled += f.fee_owed
        if f.outstanding == ZERO and f.fee_owed > ZERO:
            row = row_of[i]
            settled.append(SettledFeeRow(
                w.manager, w.client_id, w.client_name, f.contract_id, iid, row.kind,
                f.due_date, f.amount, tuple(LatePart(seg.last_day, seg.amount, seg.days)
                                            for seg in row.segments
                                            if seg.receipt_id is not None),
                f.fee_owed, row.rate, _at_cap(row), "", False))
            settled_fees[iid] = row
        if f.overdue > ZERO:
            row = row_of[i]
            bucket = _bucket_of(f.days_overdue, buckets)
            if bucket is None:
                unbucketed += 1
                bucket = "其他 other"
            rate = row.rate
            if row.exempt:
                rate = nominal.get(f.contract_id) or effective_terms(c, book.settings).late_fee_rate
                nominal[f.contract_id] = rate
            note = ""
            if f.due_date >= prev_as_of:
                note = "本周到期未付 due in the week"
            elif previous is not None and iid not in previous.open_items:
                note = ("上周报告未列出：其后补录或更改 not in last week's report: recorded or "
                        "changed after it")
            overdue.append(OverdueRow(
                w.manager, w.client_id, w.client_name, f.contract_id, iid, row.kind,
                f.due_date, f.days_overdue, bucket, f.amount, f.paid, f.overdue, f.fee_owed, rate,
                row.exempt, note, _at_cap(row), _workings(row) if f.fee > ZERO else "",
                _workings(row, letter=True) if f.fee > ZERO else ""))
        if paid_week > ZERO:
            paid.append(PaidRow(
                w.manager, w.client_id, w.client_name, f.contract_id, iid, f.due_date, f.amount,
                paid_week, f.outstanding, was_overdue, f.outstanding == ZERO,
                "本周收款 received in the week"))
        if previous is not None and iid in previous.open_items:
            reported = previous.open_items[iid].outstanding
            extra = reported - out_prev
            if extra > ZERO:
                paid.append(PaidRow(
                    w.manager, w.client_id, w.client_name, f.contract_id, iid, f.due_date,
                    f.amount, extra, f.outstanding, True, f.outstanding == ZERO,
                    "收款日期早于本周，上周报告后录入（或数据更改） paid before the week, entered "
                    "after last week's report (or data changed)"))
            elif extra < ZERO:
                problems.append(_located(
                    f.src, "Installments", "amount",
                    f"installment {iid}: last week's report stated {fmt_money_grouped(reported)} "
                    f"overdue, today's data gives {fmt_money_grouped(out_prev)} for the same "
                    f"date: the data was changed after that report"))
    for x in in_week:  # late fees received or waived in the week
        if (x.purpose in FEE_PURPOSES and x.contract_id in contracts
                and is_signed(contracts[x.contract_id])):
            w = who(x.contract_id)
            waived = x.purpose == PURPOSE_FEE_WAIVER
            paid.append(PaidRow(
                w.manager, w.client_id, w.client_name, x.contract_id, x.installment_id or "",
                None, None, ZERO if waived else x.amount, None, False, False,
                (f"本周减免滞纳金 {fmt_money_grouped(x.amount)}（{x.receipt_id}） late fee waived "
                 "in the week" if waived else
                 f"本周收取滞纳金（{x.receipt_id}） late fee received in the week")))
    if previous is not None:
        for iid, item in sorted(previous.open_items.items()):
            if iid in seen_now:
                continue
            c = contracts.get(item.contract_id)
            why = ("合同已改为未签署状态 contract now draft/sent"
                   if c is not None and not is_signed(c)
                   else "已不在工作簿中（删除或更改） no longer in the workbook (deleted or "
                        "changed)")
            client = clients.get(item.client_id)
            paid.append(PaidRow(
                (one_line(client.account_manager) or NO_MANAGER) if client else NO_MANAGER,
                item.client_id, cell_text(client.name) if client else "", item.contract_id, iid,
                item.due, None, item.outstanding, None, True, False, why))
    if pending:
        shown = ", ".join(pending[:10]) + (f" and {len(pending) - 10} more"
                                           if len(pending) > 10 else "")
        problems.append(Problem(
            "Contracts", "",
            f"{len(pending)} past-due installment(s) of draft or sent contracts are not chased "
            f"(nothing is owed before signing): {shown}", Severity.WARNING))
    if unbucketed:
        problems.append(Problem(
            "Settings", "",
            f"{unbucketed} overdue installment(s) fall in no ageing bucket of the Settings "
            "table; they are counted under 其他 other: the buckets should leave no gap",
            Severity.WARNING))

    overdue.sort(key=lambda r: (r.manager, r.client_id, r.contract_id, r.due, r.installment_id))
    settled.sort(key=lambda r: (r.manager, r.client_id, r.contract_id, r.due, r.installment_id))
    paid.sort(key=lambda r: (r.manager, r.client_id, r.contract_id, r.installment_id, r.note))
    became = tuple(r for r in overdue if r.new_note)

    # SLA: clocks breached by the end of this Sunday and not a week before.
    sla_keys: set[tuple[str, str]] = set()
    sla_rows: list[SlaRow] = []
    for s in breached_now:
        w = who(s.contract_id)
        for clock in s.clocks:
            if not clock.breached:
                continue
            key = (s.incident_id, clock.breach_type)
            sla_keys.add(key)
            if key not in prev_breached:
                note = "本周超时 breached in the week"
            elif previous is not None and key not in previous.sla:
                note = "上周报告后补录 entered after last week's report"
            else:
                continue
            sla_rows.append(SlaRow(
                w.manager, w.client_id, w.client_name, s.contract_id, s.incident_id,
                s.severity, s.reported_at, clock.breach_type, _hours(clock.limit_us),
                _hours(clock.elapsed_us), clock.stop, clock.penalty, note))
    sla_rows.sort(key=lambda r: (r.reported_at, r.incident_id,
                                 list(BREACH_ZH).index(r.breach)))

    # Availability: the months the week touches and the one before; and, against last
    # week's report, any month reported below target since.
    window = {_month_start(week.monday), _month_start(as_of), _month_before(week.monday)}
    avail_keys: set[tuple[str, str]] = set()
    avail_rows: list[AvailabilityRow] = []
    for m in cur.availability:
        if not m.breach:
            continue
        key = (m.contract_id, f"{m.month:%Y-%m}")
        avail_keys.add(key)
        new = None if previous is None else key not in previous.availability
        if m.month in window or new:
            w = who(m.contract_id)
            avail_rows.append(AvailabilityRow(
                w.manager, w.client_id, w.client_name, m.contract_id, m.month, m.shown,
                m.target, m.downtime, m.maintenance, m.credit, m.complete, new))
    avail_rows.sort(key=lambda r: (r.month, r.contract_id))

    # Ageing and managers.
    bucket_rows: list[BucketRow] = []
    labels = [b.label for b in buckets] + (["其他 other"] if unbucketed else [])
    spans = {b.label: (b.from_days, b.to_days) for b in buckets}
    for label in labels:
        rows = [r for r in overdue if r.bucket == label]
        lo, hi = spans.get(label, (None, None))
        bucket_rows.append(BucketRow(label, lo, hi, len(rows),
                                     sum((r.outstanding for r in rows), ZERO),
                                     sum((r.fee for r in rows), ZERO)))

    manager_names = sorted({r.manager for r in overdue} | {r.manager for r in paid}
                           | {r.manager for r in sla_rows} | {r.manager for r in avail_rows}
                           | {r.manager for r in settled})
    manager_mail: dict[str, str] = {}  # the first address given, by client ID
    wanted = set(manager_names)
    for client in sorted(clients.values(), key=lambda c: c.client_id):
        name = one_line(client.account_manager) or NO_MANAGER
        if name in wanted and name not in manager_mail and client.manager_email:
            addrs, _ = email_addresses(client.manager_email)
            if addrs:
                manager_mail[name] = addrs[0]
    managers = tuple(
        ManagerRow(
            name, manager_mail.get(name, ""),
            len({r.client_id for r in overdue if r.manager == name}),
            sum(1 for r in overdue if r.manager == name),
            sum((r.outstanding for r in overdue if r.manager == name), ZERO),
            sum((r.fee for r in overdue if r.manager == name), ZERO),
            sum((r.fee for r in settled if r.manager == name), ZERO),
            sum((r.outstanding for r in became if r.manager == name), ZERO),
            sum((r.paid for r in paid if r.manager == name), ZERO),
            sum(1 for r in sla_rows if r.manager == name),
            sum(1 for r in avail_rows if r.manager == name),
        )
        for name in manager_names
    )

    # Letters: one per client with overdue items.
    by_client: dict[str, list[OverdueRow]] = {}
    for r in overdue:
        by_client.setdefault(r.client_id, []).append(r)
    known = {cid: rows for cid, rows in sorted(by_client.items()) if cid in clients}
    settled = [r._replace(letter=True, workings=_workings(settled_fees[r.installment_id]),
                          basis=_workings(settled_fees[r.installment_id], letter=True))
               if r.client_id in known else r for r in settled]
    settled_of: dict[str, list[SettledFeeRow]] = {}
    for s_row in settled:
        settled_of.setdefault(s_row.client_id, []).append(s_row)
    for cid in sorted(set(by_client) - set(known)):
        problems.append(Problem(
            "Contracts", "", f"client {cid or '(blank)'} of overdue contract(s) "
            f"{', '.join(sorted({r.contract_id for r in by_client[cid]}))} is not on the "
            "Clients sheet: no letter", Severity.WARNING))
    letters: list[ClientLetter] = []
    # A week counts for a letter when that week's report chased one of its installments:
    # "下列逾期款项N次致函" must be true of the items listed, not of the client.
    chased = [(snap.as_of + dt.timedelta(days=1),  # its letters are dated the Monday after
               {iid for iid, item in snap.open_items.items()
                if snap.lettered is None or item.client_id in snap.lettered})
              for snap in (history or ((previous,) if previous is not None else ()))]
    final_from = book.settings.dunning_final_from
    # What we owe the client under the SLA: it may set that off against our demand, so
    # the account manager should know before the letter goes out (found in review).
    sla_owed_of: dict[str, Decimal] = {}
    for sla_month in cur.sla_months:
        c = contracts.get(sla_month.contract_id)
        if c is not None and is_signed(c) and sla_month.owed > ZERO:
            sla_owed_of[c.client_id] = sla_owed_of.get(c.client_id, ZERO) + sla_month.owed
    chased_before = {
        cid: [day for day, _ in itertools.takewhile(
            functools.partial(_chased, frozenset(r.installment_id for r in rows)), chased)]
        for cid, rows in known.items()}
    # A final notice is named as one: the e-mail calls its attachment so.
    final = {cid for cid in known if 0 < final_from <= len(chased_before[cid]) + 1}
    stems = {cid: f"{'最后催款通知函' if cid in final else '催款函'}_{cid}" for cid in known}
    docx_names = plan_names(((stems[cid], clients[cid].name) for cid in known), ".docx")
    eml_names = plan_names(((stems[cid], clients[cid].name) for cid in known), ".eml")
    for cid, rows in known.items():
        client = clients[cid]
        before = chased_before[cid]
        reminder = len(before) + 1
        to, why = email_addresses(client.email)
        mgr_addrs, mgr_why = email_addresses(client.manager_email)
        note = ""
        mail_name = eml_names[stems[cid]]
        if not to:
            mail_name = ""
            note = f"邮件草稿未生成 e-mail draft skipped: {why}"
            problems.append(_located(
                client.src, "Clients", "email",
                f"client {cid} ({one_line(client.name)}): {why} in 联系人邮箱 (email), so the "
                f"e-mail draft was skipped; the letter {docx_names[stems[cid]]} was written: "
                "send it another way, or fill the e-mail and re-run the report"))
        elif not mgr_addrs:
            note = f"草稿无发件人 draft has no From: account manager {mgr_why}"
            problems.append(_located(
                client.src, "Clients", "manager_email",
                f"client {cid}: account manager {one_line(client.account_manager)!r} has "
                f"{mgr_why} in 客户经理邮箱 (manager_email): the e-mail draft has no From "
                "and Outlook will send it from the default account"))
        late = tuple(settled_of.get(cid, ()))
        overdue_fee = sum((r.fee for r in rows), ZERO)
        settled_fee = sum((r.fee for r in late), ZERO)
        letters.append(ClientLetter(
            cid, cell_text(client.name), rows[0].manager, mgr_addrs[0] if mgr_addrs else "",
            one_line(client.contact), to, tuple(rows),
            sum((r.outstanding for r in rows), ZERO), overdue_fee + settled_fee,
            f"CT-{week.year}W{week.week:02d}-{one_line(cid)}", docx_names[stems[cid]],
            mail_name, note, late, overdue_fee, settled_fee, reminder,
            before[-1] if before else None, 0 < final_from <= reminder,
            sla_owed_of.get(cid, ZERO)))
    settings = book.settings
    missing_bank = [k for k in ("bank_account_name", "bank_name", "bank_account_no")
                    if not one_line(getattr(settings, k))]
    if letters and missing_bank:
        problems.append(_located(
            settings.source_of(missing_bank[0]), "Settings", "value",
            f"setting(s) {', '.join(missing_bank)} are blank: the letters cannot state our bank "
            "account; fill them and re-run the report", Severity.ERROR))

    skipped_rows = sum(1 for p_ in read_problems if p_.severity is Severity.ERROR)
    if skipped_rows:
        notes.insert(0, (
            f"数据有 {skipped_rows} 处错误，相关行未计入本报告（见“问题”页）：一笔未读入的收款会"
            "让已付的款项显示为逾期，发函前请核对相关客户并改正后重新生成。 "
            f"{skipped_rows} data error(s): those rows are not in this report (see the Problems "
            "sheet); a receipt left out shows money already paid as overdue, so check the "
            "clients concerned, fix the rows and re-run before sending letters."))
    if today is not None and week.sunday >= today:
        problems.append(Problem("report", "", (
            f"{week.label} has not ended (its last day is {week.sunday}, today is {today}): "
            "receipts and incidents of the days to come are not in it, and its letters are "
            f"dated {week.sunday + dt.timedelta(days=1)}; re-run the week once it has ended"),
            Severity.WARNING))
        notes.insert(0, (
            f"本周尚未结束（截止日 {week.sunday}）：此后几天的收款和故障未计入，结束后请重新生成。 "
            f"{week.label} has not ended: re-run it after {week.sunday}."))
    if pending:
        notes.append(f"未签署合同（草稿、已发送）的 {len(pending)} 笔到期款项不催收 "
                     f"past-due installments of unsigned contracts are not chased: {len(pending)}")
    notes.append("逾期 = 到期日已过的未付金额（宽限期只免滞纳金）；"
                 "滞纳金按合同第7.2条计算至截止日。 "
                 "Overdue = unpaid after the due date (grace days spare only the fee); late "
                 "fees per clause 7.2 to the as-of date.")
    notes.append("滞纳金合计 = 逾期款项的滞纳金 + 已逾期付清分期的滞纳金（收款冲抵分期款，不冲抵"
                 "滞纳金；款项为“滞纳金”或“减免滞纳金”的收款已扣除），催款函列明两者。 Late fees "
                 "to date = fees on overdue items + fees on installments paid late in full "
                 "(receipts pay installments, never fees; receipts of 滞纳金 (fee received) "
                 "or 减免滞纳金 (fee waived) are taken off); letters state both.")
    finals = [x.client_id for x in letters if x.final]
    if finals:
        notes.append(
            f"{len(finals)} 家客户的催款函为最后催款通知函（其逾期款项已连续第 "
            f"{book.settings.dunning_final_from} 次或以上催告，见“催款”页），函中写明将通过诉讼"
            f"等途径追究违约责任：发出前请确认。 {len(finals)} client(s) get a final notice "
            "(chased in a row that many times; Settings: dunning_final_from): it says a "
            "lawsuit comes next, so check before sending.")
    fee_only = sorted({r.client_id for r in settled if not r.letter})
    if fee_only:
        amount = sum((r.fee for r in settled if not r.letter), ZERO)
        notes.append(
            f"{len(fee_only)} 家客户仅欠已付清分期的滞纳金（¥{fmt_money_grouped(amount)}），无逾期"
            "款项，不发催款函，见“仅欠滞纳金”页。 "
            f"{len(fee_only)} clients owe only late fees on installments settled late "
            f"(¥{fmt_money_grouped(amount)}) and have nothing overdue: no letter; see the "
            "Fees only sheet.")

    totals: dict[str, Decimal | int] = {
        "overdue": sum((r.outstanding for r in overdue), ZERO),
        "overdue_items": len(overdue),
        "clients_overdue": len({r.client_id for r in overdue}),
        "late_fees": sum((r.fee for r in overdue), ZERO),
        "late_fees_settled": sum((r.fee for r in settled), ZERO),
        "late_fees_total": sum((r.fee for r in overdue), ZERO) + sum((r.fee for r in settled),
                                                                      ZERO),
        "outstanding": outstanding_now,
        "became_overdue": sum((r.outstanding for r in became), ZERO),
        "paid_week": sum((r.paid for r in paid), ZERO),
        "sla_breaches": len(sla_rows),
        "availability_misses": len(avail_rows),
    }
    prev_totals: dict[str, Decimal | int] = {
        "overdue": prev_overdue, "overdue_items": prev_items,
        "clients_overdue": len(prev_clients), "late_fees": prev_fee,
        "late_fees_settled": prev_settled, "late_fees_total": prev_fee + prev_settled,
        "outstanding": outstanding_prev,
    }
    last = previous.totals if previous is not None else {}
    kpi_spec = (
        ("逾期金额 overdue", "overdue", True),
        ("逾期笔数 overdue installments", "overdue_items", False),
        ("逾期客户 clients overdue", "clients_overdue", False),
        ("逾期款项滞纳金 late fees on overdue items", "late_fees", True),
        ("已付清分期滞纳金 late fees on settled installments", "late_fees_settled", True),
        ("滞纳金合计 late fees to date (clause 7.2)", "late_fees_total", True),
        ("应收未收 outstanding (due or not)", "outstanding", True),
        ("本周新增逾期 became overdue", "became_overdue", True),
        ("本周收款 paid", "paid_week", True),
        ("本周SLA超时 SLA breaches", "sla_breaches", False),
        ("可用性未达标 availability misses", "availability_misses", False),
    )
    kpis = tuple(Kpi(label, totals[key], last.get(key), prev_totals.get(key), money)
                 for label, key, money in kpi_spec)
    open_items = {
        r.installment_id: SnapshotItem(r.contract_id, r.client_id, r.due, r.outstanding,
                                       r.days_overdue, r.fee)
        for r in overdue
    }
    return WeeklyReport(
        week=week, as_of=as_of, previous_as_of=prev_as_of, company=cell_text(settings.company_name),
        previous=previous, previous_note=previous_note, kpis=kpis, managers=managers,
        buckets=tuple(bucket_rows), overdue=tuple(overdue), became_overdue=became,
        paid=tuple(paid), sla=tuple(sla_rows), availability=tuple(avail_rows),
        letters=tuple(letters), notes=tuple(notes), problems=tuple(problems),
        data_problems=(*read_problems, *data_problems), totals=totals, open_items=open_items,
        sla_keys=frozenset(sla_keys), availability_keys=frozenset(avail_keys),
        settled=tuple(settled),
    )


# --- the report workbook ----------------------------------------------------------------

MONEY_FORMAT = '"¥"#,##0.00'
FORMATS = {
    "text": "@", "id": "@", "int": "0", "money": MONEY_FORMAT, "date": "yyyy-mm-dd",
    "month": "yyyy-mm", "datetime": "yyyy-mm-dd hh:mm", "pct": "0.0000%", "rate": "0.00##%",
    "hours": "0.00", "bool": "@",
}
REPORT_SHEETS = (
    "概览 Summary", "客户经理 Managers", "逾期明细 Overdue", "滞纳金 Late fees",
    "仅欠滞纳金 Fees only", "账龄 Ageing", "新增逾期 New overdue", "本周收款 Paid",
    "SLA超时 SLA breaches", "可用性 Availability", "催款 Dunning", "问题 Problems",
)
HEADER_COLOR = "#1F4E78"
HEADER_HEIGHT = 46  # three lines: 中文 and up to two lines of English
ROW_HEIGHT = 15
WRAPPED_LINE_HEIGHT = 16.5
"""Points per line of a wrapped cell: Excel's 15 is too little where the Chinese text is
set in a taller fallback font (LibreOffice's Noto CJK), and the last line spilt over the
row's rule (seen when printing the Late fees sheet)."""
MAX_WIDTH = 40.0
PRINT_WIDTH_PER_PAGE = 240.0
"""Column-width units that stay legible on one landscape A4 page."""


class Col(NamedTuple):
    zh: str
    en: str
    kind: str = "text"
    width: float | None = None  # fixed; otherwise from the content
    align: str = ""  # "center" for short codes; numbers are right-aligned anyway
    wrap: bool = False  # long text: wrapped in its fixed width rather than overflowing

    def header_width(self) -> int:
        """Wide enough for the Chinese label and the longest English word (the header
        wraps, three lines at most)."""
        return max(text_width(self.zh), *(len(w) for w in self.en.split())) + 2


def _n(count: int, one: str, many: str | None = None) -> str:
    """``1 letter``, ``6 letters``: a count with its noun for the summary line."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def _shown(value: object, kind: str) -> str:
    """Roughly what Excel shows, to size the column."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal):
        return f"¥{value:,.2f}"
    if kind == "date":
        return "2026-01-01"
    if kind == "month":
        return "2026-01"
    if kind == "datetime":
        return "2026-01-01 00:00"
    if kind in ("pct", "rate"):
        return "99.9999%"
    if kind == "bool":
        return "是"
    return str(value)


class _Formats:
    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.cache: dict[tuple[str, bool, str, bool], Any] = {}
        self.header = wb.add_format({
            "bold": True, "font_color": "#FFFFFF", "bg_color": HEADER_COLOR, "text_wrap": True,
            "valign": "vcenter", "border": 1})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.note = wb.add_format({"italic": True, "font_color": "#595959"})
        self.note_wrapped = wb.add_format({"italic": True, "font_color": "#595959",
                                           "text_wrap": True, "valign": "top"})
        self.strong = wb.add_format({"bold": True})

    def cell(self, kind: str, bold: bool = False, align: str = "", wrap: bool = False) -> Any:
        key = (kind, bold, align, wrap)
        got = self.cache.get(key)
        if got is None:
            # A light rule under each row: with wrapped workings beside one-line cells, the
            # eye must see which row a second line belongs to (found in review).
            spec: dict[str, Any] = {"num_format": FORMATS[kind], "valign": "top",
                                    "bottom": 1, "bottom_color": "#D9D9D9"}
            if align:
                spec["align"] = align
            if wrap:
                spec["text_wrap"] = True
            if bold:
                spec.update({"bold": True, "top": 1})
            got = self.cache[key] = self.wb.add_format(spec)
        return got


_EXCEL_DAY_ZERO = dt.date(1899, 12, 30).toordinal()
"""A day's Excel serial number is its ordinal minus this, from 1900-03-01 on (before it,
Excel's phantom 1900-02-29 shifts the count: xlsxwriter's own conversion handles those)."""
_FIRST_PLAIN_SERIAL_DAY = dt.date(1900, 3, 1)


def _write_cell(ws: Any, row: int, col: int, value: object, kind: str, fmt: Any) -> None:
    """One cell, by the column's kind; text always through write_string."""
    t = type(value)
    if t is str:  # the common cases first: a report has tens of thousands of cells
        if value:
            ws.write_string(row, col, cell_text(value), fmt)
        else:
            ws.write_blank(row, col, None, fmt)
    elif t is Decimal and kind not in ("text", "id"):
        ws.write_number(row, col, float(value), fmt)  # type: ignore[arg-type]
    elif value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value, fmt)
    elif isinstance(value, dt.date):
        if value >= _FIRST_PLAIN_SERIAL_DAY:  # the cell write_datetime makes, 20x quicker
            ws.write_number(row, col, float(value.toordinal() - _EXCEL_DAY_ZERO), fmt)
        else:
            ws.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, (int, Decimal)) and kind not in ("text", "id"):
        ws.write_number(row, col, float(value), fmt)
    else:
        ws.write_string(row, col, cell_text(value), fmt)


def _page_setup(ws: Any, header_row: int, width: float, title: str) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(max(1, int(-(-width // PRINT_WIDTH_PER_PAGE))), 0)
    ws.repeat_rows(header_row)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.set_header(f"&L{title.replace('&', '&&')}&R&A", {"margin": 0.3})
    ws.set_footer("&C&P / &N", {"margin": 0.3})


def _table_sheet(wb: Any, fmts: _Formats, name: str, title: str, subtitle: str,
                 cols: Sequence[Col], rows: Sequence[Sequence[object]], *,
                 total: Sequence[object] | None = None, empty: str = "本周无 none",
                 freeze_cols: int = 0, print_title: str = "") -> Any:
    """A titled table: bilingual header in row 3, frozen, filterable, sized and printable;
    an optional bold total row below the filter range."""
    ws = wb.add_worksheet(name)
    ws.write_string(0, 0, cell_text(title), fmts.title)
    hdr = 2  # the subtitle (row 2) is written last, across the columns once sized
    for j, c in enumerate(cols):
        ws.write_string(hdr, j, f"{c.zh}\n{c.en}", fmts.header)
    ws.set_row(hdr, HEADER_HEIGHT)
    widths = [float(c.header_width()) for c in cols]
    formats = [fmts.cell(c.kind, align=c.align, wrap=c.wrap) for c in cols]
    sample = 2000  # widths from the first rows suffice; the rest follow the same shapes
    wrapped = [(j, c) for j, c in enumerate(cols) if c.wrap and c.width]
    kinds = [c.kind for c in cols]
    numeric = [k not in ("text", "id") for k in kinds]
    # Column j's widest shown text so far, and the shown texts already measured (a column
    # repeats its managers, dates, rates and notes: each distinct text is measured once).
    seen: list[set[str]] = [set() for _ in cols]
    n_cols = len(cols)
    write_string, write_blank, write_number = ws.write_string, ws.write_blank, ws.write_number
    for i, row in enumerate(rows):
        r = hdr + 1 + i
        if len(row) != n_cols:
            raise ValueError(f"row {i} of {name!r} has {len(row)} cells for {n_cols} columns")
        for j, value in enumerate(row):
            # The common cases inline (a report has tens of thousands of cells); text always
            # through cell_text and write_string, as in _write_cell.
            t = type(value)
            if t is str:
                if value:
                    write_string(r, j, cell_text(value), formats[j])
                else:
                    write_blank(r, j, None, formats[j])
            elif t is Decimal and numeric[j]:
                write_number(r, j, float(value), formats[j])  # type: ignore[arg-type]
            else:
                _write_cell(ws, r, j, value, kinds[j], formats[j])
            if i < sample:
                shown = _shown(value, kinds[j])
                if shown not in seen[j]:
                    seen[j].add(shown)
                    w = text_width(shown) + 2
                    if w > widths[j]:
                        widths[j] = float(w)
        if wrapped:
            lines = max(_lines(row[j], c) for j, c in wrapped)
            if lines > 1:  # neither Excel nor LibreOffice grows a written row by itself
                ws.set_row(r, WRAPPED_LINE_HEIGHT * lines)
    last = hdr + len(rows)
    if not rows:
        ws.write_string(hdr + 1, 0, empty, fmts.note)
    if total is not None:
        r = last + 1
        for j, (value, c) in enumerate(zip(total, cols, strict=True)):
            _write_cell(ws, r, j, value, c.kind, fmts.cell(c.kind, bold=True, align=c.align))
            w = text_width(_shown(value, c.kind)) + 2
            if w > widths[j]:
                widths[j] = float(w)
    for j, c in enumerate(cols):
        width = c.width if c.width is not None else min(widths[j], MAX_WIDTH)
        widths[j] = width
        ws.set_column(j, j, width)
    _note_across(ws, fmts.note_wrapped, 1, subtitle, widths)
    ws.autofilter(hdr, 0, max(last, hdr), len(cols) - 1)
    ws.freeze_panes(hdr + 1, freeze_cols)
    _page_setup(ws, hdr, sum(widths), print_title or title)
    if freeze_cols:
        ws.repeat_columns(0, freeze_cols - 1)  # who it is, on every page printed
    return ws


def _lines(value: object, col: Col) -> int:
    """Lines a wrapped text cell needs in its column."""
    if not isinstance(value, str) or not col.width:
        return 1
    per_line = max(int(col.width) - 1, 1)
    if 2 * len(value) <= per_line and "\n" not in value:
        return 1  # fits even if every character is wide
    return wrapped_lines(value, per_line)


WHO_COLS = (Col("客户经理", "manager"), Col("客户编号", "client", "id"),
            Col("客户名称", "client name", width=28))


def _subtitle(report: WeeklyReport) -> str:
    w = report.week
    return (f"{w.label}: 截至 as of {report.as_of:%Y-%m-%d} 日终 (end of Sunday); 本周 week "
            f"{w.monday:%Y-%m-%d} – {w.sunday:%Y-%m-%d}")


def _overdue_cells(r: OverdueRow) -> list[object]:
    return [r.manager, r.client_id, r.client_name, r.contract_id, r.installment_id,
            KIND_ZH.get(r.kind, r.kind), r.due, r.days_overdue, r.bucket, r.amount, r.paid,
            r.outstanding, r.fee, r.rate, "免收 exempt" if r.exempt else "", bool(r.new_note)]


OVERDUE_COLS = (
    *WHO_COLS, Col("合同编号", "contract", "id"), Col("分期编号", "installment", "id"),
    Col("款项", "kind", align="center"), Col("到期日", "due date", "date"),
    Col("逾期天数", "days overdue", "int"), Col("账龄", "bucket", align="center"),
    Col("金额", "amount", "money"), Col("已付", "paid", "money"),
    Col("逾期未付", "outstanding", "money"), Col("滞纳金", "late fee", "money"),
    Col("日费率", "daily rate", "rate"), Col("备注", "note", align="center"),
    Col("本周新增", "new this week", "bool", align="center"),
)


FEE_COLS = (
    *WHO_COLS, Col("合同编号", "contract", "id"), Col("分期编号", "installment", "id"),
    Col("到期日", "due date", "date"), Col("状态", "status", align="center"),
    Col("逾期付款日", "paid late on", width=12, wrap=True),
    Col("最长逾期天数", "days late (longest)", "int"), Col("滞纳金", "late fee", "money"),
    Col("计算(金额×日费率×天数)", "workings (amount × daily rate × days late)", width=46,
        wrap=True),
)
FEE_OVERDUE = "逾期 overdue"
FEE_SETTLED = "已付清 settled"
FEE_ONLY_COLS = (
    *WHO_COLS, Col("已付清分期", "installments settled late", "int"),
    Col("合同", "contracts", width=30, wrap=True), Col("最早到期日", "earliest due", "date"),
    Col("最近付款日", "last paid", "date"), Col("最长逾期天数", "days late (longest)", "int"),
    Col("滞纳金", "late fee", "money"),
)


def _fee_rows(report: WeeklyReport) -> list[list[object]]:
    """The Late fees sheet: every installment with a fee to date of the clients chased (the
    basis of their letters' late fee): the overdue ones and those settled late, by manager,
    client, contract and due date. Overdue items of a client missing from the Clients sheet
    (no letter) are listed too."""
    rows: list[tuple[tuple[str, str, str, dt.date, str], list[object]]] = []
    for r in report.overdue:
        if r.fee > ZERO:
            rows.append(((r.manager, r.client_id, r.contract_id, r.due, r.installment_id), [
                r.manager, r.client_id, r.client_name, r.contract_id, r.installment_id, r.due,
                FEE_OVERDUE, "", r.days_overdue, r.fee, r.workings]))
    for x in report.settled:
        if x.letter:
            rows.append(((x.manager, x.client_id, x.contract_id, x.due, x.installment_id), [
                x.manager, x.client_id, x.client_name, x.contract_id, x.installment_id, x.due,
                FEE_SETTLED, "\n".join(f"{p.paid_on:%Y-%m-%d}" for p in x.parts), x.days,
                x.fee, x.workings]))
    return [row for _, row in sorted(rows, key=lambda t: t[0])]


def _fee_only_rows(report: WeeklyReport) -> list[list[object]]:
    """The Fees only sheet: one row per client whose only debt is late fees on installments
    settled late (no letter), by manager and client."""
    by: dict[str, list[SettledFeeRow]] = {}
    for x in report.settled:
        if not x.letter:
            by.setdefault(x.client_id, []).append(x)
    rows = []
    for items in by.values():
        x = items[0]
        rows.append([
            x.manager, x.client_id, x.client_name, len(items),
            ", ".join(sorted({i.contract_id for i in items})), min(i.due for i in items),
            max(p.paid_on for i in items for p in i.parts), max(i.days for i in items),
            sum((i.fee for i in items), ZERO)])
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    return rows


def report_workbook(report: WeeklyReport, files: Mapping[str, str] | None = None) -> bytes:
    """The report workbook's bytes: XlsxWriter, every string written as a string, numbers
    as numbers with formats, no formula; the same report gives the same bytes."""
    with gc_paused():  # a hundred thousand cell records, no cycles among them
        return _report_workbook(report, files)


def _report_workbook(report: WeeklyReport, files: Mapping[str, str] | None) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {
        "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
        "in_memory": True,
    })
    created = dt.datetime.combine(report.as_of + dt.timedelta(days=1), dt.time(9, 0))
    wb.set_properties({
        "title": f"逾期周报 Weekly overdue report {report.week.label}",
        "author": "Contract Tracker", "company": one_line(report.company),
        "created": created,
    })
    fmts = _Formats(wb)
    sub = _subtitle(report)
    title_of = {name: f"{name.split(' ', 1)[0]} — 逾期周报 {report.week.label}"
                for name in REPORT_SHEETS}
    _summary_sheet(wb, fmts, report, files or {})

    m = report.managers
    _table_sheet(
        wb, fmts, REPORT_SHEETS[1], f"按客户经理汇总 By account manager — {report.week.label}", sub,
        (Col("客户经理", "manager"), Col("邮箱", "e-mail"), Col("逾期客户", "clients", "int"),
         Col("逾期笔数", "items", "int"), Col("逾期金额", "overdue", "money"),
         Col("逾期款项滞纳金", "late fees on overdue", "money"),
         Col("已付清分期滞纳金", "late fees on settled", "money"),
         Col("本周新增逾期", "became overdue", "money"),
         Col("本周收款", "paid", "money"), Col("SLA超时", "SLA breaches", "int"),
         Col("可用性未达标", "availability misses", "int")),
        [list(r) for r in m],
        total=["合计 total", "", sum(r.clients for r in m), sum(r.items for r in m),
               sum((r.overdue for r in m), ZERO), sum((r.fee for r in m), ZERO),
               sum((r.settled_fee for r in m), ZERO),
               sum((r.new_overdue for r in m), ZERO), sum((r.paid_week for r in m), ZERO),
               sum(r.sla_breaches for r in m), sum(r.availability_misses for r in m)],
        print_title=title_of[REPORT_SHEETS[1]])

    o = report.overdue
    _table_sheet(
        wb, fmts, REPORT_SHEETS[2], f"逾期明细 Overdue installments — {report.week.label}", sub,
        OVERDUE_COLS, [_overdue_cells(r) for r in o],
        total=["合计 total", "", "", "", f"{len(o)} 笔 items", "", None, None, "",
               sum((r.amount for r in o), ZERO), sum((r.paid for r in o), ZERO),
               report.overdue_total, report.fee_total, None, "", None],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[2]])

    fees = _fee_rows(report)
    _table_sheet(
        wb, fmts, REPORT_SHEETS[3],
        f"滞纳金 Late fees to date of the clients chased (clause 7.2) — {report.week.label}",
        sub + "; 催款客户每笔有滞纳金的分期：逾期的和已逾期付清的（收款不冲抵滞纳金；已收取或"
              "减免的滞纳金已扣除）；仅欠滞纳金的客户见下一页 every installment with a fee of the "
              "clients chased, overdue or paid late in full (receipts never pay fees; fees "
              "received or waived are taken off); clients owing fees only: next sheet",
        FEE_COLS, fees,
        total=["合计 total", "", "", "", f"{len(fees)} 笔 items", None, "", "", None,
               report.fee_total + sum((x.fee for x in report.settled if x.letter), ZERO), ""],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[3]])

    only = _fee_only_rows(report)
    unlettered = [x for x in report.settled if not x.letter]
    _table_sheet(
        wb, fmts, REPORT_SHEETS[4],
        f"仅欠滞纳金 Clients owing only late fees on installments settled late — "
        f"{report.week.label}",
        sub + "; 无逾期款项，不发催款函；各分期的计算见主工作簿“计算过程 Workings”表"
              "（点“计算违约金”更新） nothing overdue, so no letter; each installment's "
              "workings: the master's Workings sheet (计算违约金 / penalties --write "
              "updates it)",
        FEE_ONLY_COLS, only,
        total=["合计 total", f"{len(only)} 家 clients", "", len(unlettered), "", None, None,
               None, sum((x.fee for x in unlettered), ZERO)],
        empty="没有 none", freeze_cols=3, print_title=title_of[REPORT_SHEETS[4]])

    b = report.buckets
    _table_sheet(
        wb, fmts, REPORT_SHEETS[5], f"账龄 Ageing of overdue amounts — {report.week.label}", sub,
        (Col("账龄区间", "bucket"), Col("起(天)", "from days", "int"),
         Col("止(天)", "to days", "int"), Col("笔数", "items", "int"),
         Col("逾期金额", "overdue", "money"), Col("滞纳金", "late fees", "money")),
        [list(r) for r in b],
        total=["合计 total", None, None, sum(r.items for r in b),
               sum((r.amount for r in b), ZERO), sum((r.fee for r in b), ZERO)],
        print_title=title_of[REPORT_SHEETS[5]])

    n = report.became_overdue
    _table_sheet(
        wb, fmts, REPORT_SHEETS[6],
        f"本周新增逾期 Became overdue since {report.previous_as_of:%Y-%m-%d}", sub,
        (*OVERDUE_COLS[:13], Col("原因", "why", width=40, wrap=True)),
        [[*_overdue_cells(r)[:13], r.new_note] for r in n],
        total=["合计 total", "", "", "", f"{len(n)} 笔 items", "", None, None, "",
               sum((r.amount for r in n), ZERO), sum((r.paid for r in n), ZERO),
               report.new_total, sum((r.fee for r in n), ZERO), ""],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[6]])

    p = report.paid
    _table_sheet(
        wb, fmts, REPORT_SHEETS[7],
        f"本周收款 Paid since {report.previous_as_of:%Y-%m-%d}", sub,
        (*WHO_COLS, Col("合同编号", "contract", "id"), Col("分期编号", "installment", "id"),
         Col("到期日", "due date", "date"), Col("金额", "amount", "money"),
         Col("本周收款", "paid", "money"), Col("尚欠", "outstanding now", "money"),
         Col("上周已逾期", "was overdue", "bool", align="center"),
         Col("已结清", "settled", "bool", align="center"),
         Col("说明", "note", width=40, wrap=True)),
        [list(r) for r in p],
        total=["合计 total", "", "", "", f"{len(p)} 笔 items", None, None,
               report.paid_total, None, None, None, ""],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[7]])

    s = report.sla
    _table_sheet(
        wb, fmts, REPORT_SHEETS[8], "本周SLA超时 SLA breaches of the week (clause 1.2)", sub,
        (*WHO_COLS, Col("合同编号", "contract", "id"), Col("故障编号", "incident", "id"),
         Col("级别", "severity", align="center"), Col("报告时间", "reported", "datetime"),
         Col("超时类型", "breach", align="center"), Col("时限(小时)", "limit h", "hours"),
         Col("用时(小时)", "elapsed h", "hours"), Col("停止时间", "stopped", "datetime"),
         Col("违约金(封顶前)", "penalty before cap", "money"),
         Col("说明", "note", width=30, wrap=True)),
        [[r.manager, r.client_id, r.client_name, r.contract_id, r.incident_id,
          SEVERITY_ZH.get(r.severity, r.severity), r.reported_at, BREACH_ZH.get(r.breach, r.breach),
          r.limit_hours, r.elapsed_hours, r.stopped_at if r.stopped_at else "未停止 running",
          r.penalty, r.note] for r in s],
        total=["合计 total", "", "", "", f"{len(s)} 次 breaches", "", None, "", None, None,
               None, sum((r.penalty for r in s), ZERO), ""],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[8]])

    a = report.availability
    _table_sheet(
        wb, fmts, REPORT_SHEETS[9],
        "可用性未达标 Availability below target (clause 1.2(3))",
        sub + "; 月份 months: 本周所在月及上月 the week's months and the one before",
        (*WHO_COLS, Col("合同编号", "contract", "id"), Col("月份", "month", "month"),
         Col("可用性", "availability", "pct"), Col("目标", "target", "rate"),
         Col("停机(分钟)", "downtime min", "hours"),
         Col("计划维护(分钟)", "maintenance min", "hours"),
         Col("服务抵扣(封顶前)", "credit before cap", "money"),
         Col("月份已结束", "month over", "bool", align="center"),
         Col("上周报告后新增", "new since last report", align="center")),
        [[r.manager, r.client_id, r.client_name, r.contract_id, r.month, r.availability,
          r.target, r.downtime, r.maintenance, r.credit, r.complete,
          "—" if r.new is None else ("是" if r.new else "否")] for r in a],
        total=["合计 total", "", "", f"{len(a)} 个月 months", None, None, None, None, None,
               sum((r.credit for r in a), ZERO), None, ""],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[9]])

    d = report.letters
    _table_sheet(
        wb, fmts, REPORT_SHEETS[10], "催款 Clients to chase: letters and e-mail drafts", sub,
        (*WHO_COLS, Col("联系人", "contact"), Col("收件人", "to"), Col("逾期笔数", "items", "int"),
         Col("逾期未付", "outstanding", "money"),
         Col("逾期款项滞纳金", "late fee on overdue", "money"),
         Col("已付清分期滞纳金", "late fee on settled", "money"),
         Col("滞纳金合计", "late fee to date", "money"),
         Col("合计", "total due", "money"),
         Col("我方应付SLA(可能抵扣)", "SLA owed by us (may be set off)", "money"),
         Col("第几次催告", "reminder no.", "int", align="center"),
         Col("首次催款函日期", "first letter dated", "date"),
         Col("最后催告", "final notice", "bool", align="center"),
         Col("函号", "letter no."), Col("催款函", "letter (letters/)"),
         Col("邮件草稿", "e-mail draft (.eml)", "bool", align="center"),
         Col("说明", "note", width=36, wrap=True)),
        [[r.manager, r.client_id, r.client_name, r.contact, "; ".join(r.to), len(r.items),
          r.outstanding, r.overdue_fee, r.settled_fee, r.fee, r.outstanding + r.fee,
          r.sla_owed or None, r.reminder,
          r.chased_since or report.as_of + dt.timedelta(days=1), r.final,
          r.letter_no, r.letter_name, bool(r.mail_name), r.mail_note] for r in d],
        total=["合计 total", "", f"{len(d)} 家 clients", "", "", sum(len(r.items) for r in d),
               sum((r.outstanding for r in d), ZERO), sum((r.overdue_fee for r in d), ZERO),
               sum((r.settled_fee for r in d), ZERO), sum((r.fee for r in d), ZERO),
               sum((r.outstanding + r.fee for r in d), ZERO),
               sum((r.sla_owed for r in d), ZERO) or None,
               None, None, sum(1 for r in d if r.final) or None, "", "", None, ""],
        freeze_cols=3, print_title=title_of[REPORT_SHEETS[10]])

    probs = [("报告 report", p_) for p_ in report.problems] + \
            [("数据 data", p_) for p_ in report.data_problems]
    _table_sheet(
        wb, fmts, REPORT_SHEETS[11], "问题 Problems found making the report", sub,
        (Col("来源", "from"), Col("级别", "severity"), Col("位置", "cell"),
         Col("问题", "problem", width=100, wrap=True)),
        [[src, "错误 error" if p_.severity is Severity.ERROR else "警告 warning",
          f"{p_.sheet}!{p_.cell}" if p_.cell else p_.sheet, p_.message] for src, p_ in probs],
        empty="没有问题 none", print_title=title_of[REPORT_SHEETS[11]])

    wb.worksheets()[0].activate()
    wb.close()
    from .build import normalise_zip

    return normalise_zip(out.getvalue())


SUMMARY_WIDTHS = (50, 22, 22, 22, 22)  # the Summary sheet's columns A to E


def _note_across(ws: Any, fmt: Any, row: int, text: str, widths: Sequence[float]) -> None:
    """A note across a table's columns, wrapped there: a note left to run on to the right
    would make the page, fitted to its width, print too small to read. ``fmt`` wraps."""
    text = cell_text(text)
    if len(widths) > 1:
        ws.merge_range(row, 0, row, len(widths) - 1, "", fmt)
    ws.write_string(row, 0, text, fmt)  # merge_range's own write would type the text
    lines = wrapped_lines(text, sum(widths) - 2)
    if lines > 1:  # neither Excel nor LibreOffice grows a written row by itself
        ws.set_row(row, WRAPPED_LINE_HEIGHT * lines)


def _summary_sheet(wb: Any, fmts: _Formats, report: WeeklyReport,
                   files: Mapping[str, str]) -> None:
    ws = wb.add_worksheet(REPORT_SHEETS[0])
    ws.write_string(0, 0, f"逾期周报 Weekly overdue report — {report.week.label}", fmts.title)
    ws.write_string(1, 0, cell_text(report.company), fmts.strong)

    def note(row: int, text: str) -> None:
        _note_across(ws, fmts.note_wrapped, row, text, SUMMARY_WIDTHS)

    note(2, _subtitle(report) + f"; 上周截止 previous as-of {report.previous_as_of:%Y-%m-%d}")
    if report.previous is None:
        note(3, f"{report.previous_note}. 上周数据按当前工作簿由引擎重算 (the previous Sunday "
                "is computed by the engine from today's data).")
    else:
        note(3, f"上周报告 last report: {report.previous.week} (as of "
                f"{report.previous.as_of:%Y-%m-%d}), snapshots/{report.previous.week}.json")
    hdr = 5
    heads = [("指标", "figure"), ("本周", "this week"), ("上周报告", "last report"),
             ("上周日(按当前数据)", "previous Sunday on today's data"), ("变化", "change")]
    for j, (zh, en) in enumerate(heads):
        ws.write_string(hdr, j, f"{zh}\n{en}", fmts.header)
    ws.set_row(hdr, HEADER_HEIGHT)
    dash = fmts.cell("text", align="right")
    for i, k in enumerate(report.kpis):
        r = hdr + 1 + i
        kind = "money" if k.money else "int"
        fmt = fmts.cell(kind)
        ws.write_string(r, 0, k.label, fmts.cell("text"))
        _write_cell(ws, r, 1, k.now, kind, fmt)
        if k.last_report is None:
            ws.write_string(r, 2, "—" if report.previous is None else "", dash)
        else:
            _write_cell(ws, r, 2, k.last_report, kind, fmt)
        _write_cell(ws, r, 3, k.previous, kind, fmt)
        base = k.last_report if k.last_report is not None else k.previous
        _write_cell(ws, r, 4, None if base is None else k.now - base, kind, fmt)
    r = hdr + len(report.kpis) + 2
    ws.write_string(r, 0, "说明 notes", fmts.strong)
    for text in report.notes:
        r += 1
        note(r, text)
    if files:
        r += 2
        ws.write_string(r, 0, "文件 files", fmts.strong)
        for label, name in files.items():
            r += 1
            ws.write_string(r, 0, cell_text(label))
            ws.write_string(r, 1, cell_text(name))
    ws.set_column(0, 0, SUMMARY_WIDTHS[0])
    ws.set_column(1, 4, SUMMARY_WIDTHS[1])
    ws.freeze_panes(hdr + 1, 0)
    _page_setup(ws, hdr, sum(SUMMARY_WIDTHS), f"概览 — 逾期周报 {report.week.label}")
    ws.fit_to_pages(1, 1)


# --- the HTML summary -------------------------------------------------------------------

_HTML = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>逾期周报 {{ r.week.label }}</title>
</head>
{%- set th = "background:#1F4E78;color:#ffffff;padding:4px 8px;border:1px solid #1F4E78;"
             ~ "text-align:left;font-weight:bold;" %}
{%- set td = "padding:4px 8px;border:1px solid #d0d7de;vertical-align:top;" %}
{%- set num = td ~ "text-align:right;white-space:nowrap;" %}
{%- set bold = "font-weight:bold;" %}
{%- set tbl = "border-collapse:collapse;margin:6px 0 14px 0;font-size:13px;" %}
{%- set h2 = "font-size:16px;color:#1F4E78;margin:18px 0 4px 0;" %}
{%- set muted = "color:#666666;font-size:12px;" %}
{%- macro head(cells) %}<tr>{% for h in cells %}<th style="{{ th }}">{{ h }}</th>{% endfor %}</tr>
{%- endmacro %}
<body style="font-family:'Microsoft YaHei','PingFang SC','Noto Sans CJK SC',Arial,sans-serif;
 font-size:14px;color:#222222;">
<h1 style="font-size:20px;margin:0 0 4px 0;">逾期周报 Weekly overdue report {{ r.week.label }}</h1>
<p style="{{ muted }}">{{ r.company }} · 截至 as of {{ r.as_of.isoformat() }} 日终 (end of Sunday)
 · 本周 week {{ r.week.monday.isoformat() }} – {{ r.week.sunday.isoformat() }}</p>
{%- if r.previous is none %}
<p style="background:#FFF4CE;border:1px solid #E0C060;padding:6px 10px;">
{{ r.previous_note }}. 上周数据按当前工作簿由引擎重算
 (the previous Sunday is computed by the engine from today's data).</p>
{%- else %}
<p style="{{ muted }}">上周报告 last report: {{ r.previous.week }}
 (as of {{ r.previous.as_of.isoformat() }})</p>
{%- endif %}

<h2 style="{{ h2 }}">概览 Summary</h2>
<table style="{{ tbl }}">
{{ head(["指标 figure", "本周 this week", "上周报告 last report",
         "上周日(当前数据) previous Sunday, today's data", "变化 change"]) }}
{%- for k in kpis %}
<tr><td style="{{ td }}">{{ k.label }}</td><td style="{{ num }}">{{ k.now }}</td>
<td style="{{ num }}">{{ k.last }}</td><td style="{{ num }}">{{ k.previous }}</td>
<td style="{{ num }}">{{ k.change }}</td></tr>
{%- endfor %}
</table>

<h2 style="{{ h2 }}">按客户经理 By account manager</h2>
{%- if managers %}
<table style="{{ tbl }}">
{{ head(["客户经理 manager", "逾期客户 clients", "笔数 items", "逾期金额 overdue",
         "逾期款项滞纳金 late fees on overdue", "已付清分期滞纳金 late fees on settled",
         "本周新增 new", "本周收款 paid", "SLA超时 breaches", "可用性 misses"]) }}
{%- for m in managers %}
<tr><td style="{{ td }}">{{ m.manager }}</td><td style="{{ num }}">{{ m.clients }}</td>
<td style="{{ num }}">{{ m.count }}</td><td style="{{ num }}">{{ m.overdue }}</td>
<td style="{{ num }}">{{ m.fee }}</td><td style="{{ num }}">{{ m.settled }}</td>
<td style="{{ num }}">{{ m.new }}</td>
<td style="{{ num }}">{{ m.paid }}</td><td style="{{ num }}">{{ m.sla }}</td>
<td style="{{ num }}">{{ m.avail }}</td></tr>
{%- endfor %}
</table>
{%- else %}<p style="{{ muted }}">本周无 none</p>{%- endif %}

<h2 style="{{ h2 }}">账龄 Ageing</h2>
<table style="{{ tbl }}">
{{ head(["账龄 bucket", "笔数 items", "逾期金额 overdue", "滞纳金 late fees"]) }}
{%- for b in buckets %}
<tr><td style="{{ td }}">{{ b.label }}</td><td style="{{ num }}">{{ b.count }}</td>
<td style="{{ num }}">{{ b.amount }}</td><td style="{{ num }}">{{ b.fee }}</td></tr>
{%- endfor %}
<tr><td style="{{ td ~ bold }}">合计 total</td>
<td style="{{ num ~ bold }}">{{ bucket_total.count }}</td>
<td style="{{ num ~ bold }}">{{ bucket_total.amount }}</td>
<td style="{{ num ~ bold }}">{{ bucket_total.fee }}</td></tr>
</table>

{%- for s in sections %}
<h2 style="{{ h2 }}">{{ s.title }} ({{ s.count }})</h2>
{%- if s.rows %}
<table style="{{ tbl }}">
{{ head(s.heads) }}
{%- for row in s.rows %}
<tr>{% for cell in row %}<td style="{{ num if loop.index0 in s.right else td }}">{{ cell }}</td>
{%- endfor %}</tr>
{%- endfor %}
</table>
{%- if s.more %}
<p style="{{ muted }}">…… 另有 {{ s.more }} 行见报告工作簿 and {{ s.more }} more rows in the report
 workbook</p>
{%- endif %}
{%- else %}<p style="{{ muted }}">本周无 none</p>{%- endif %}
{%- endfor %}

<h2 style="{{ h2 }}">说明 Notes</h2>
<ul style="{{ muted }}">
{%- for n in notes %}
<li>{{ n }}</li>
{%- endfor %}
</ul>
<p style="{{ muted }}">完整明细、催款函和邮件草稿见文件夹 {{ folder }}。
 Full lists, letters and e-mail drafts are in the folder {{ folder }}.</p>
</body>
</html>
"""


_COMPILED: dict[str, Any] = {}


def _template(source: str) -> Any:
    """A jinja2 template with autoescape on, compiled once per process."""
    got = _COMPILED.get(source)
    if got is None:
        from jinja2 import Environment, StrictUndefined

        env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
        got = _COMPILED[source] = env.from_string(source)
    return got


def _yuan(x: Decimal | None) -> str:
    return "" if x is None else f"¥{fmt_money_grouped(x)}"


def _fig(x: Decimal | int | None, money: bool) -> str:
    if x is None:
        return "—"
    if money and isinstance(x, Decimal):
        return _yuan(x)
    return f"{x:,}"


def _change(x: Decimal | int, money: bool) -> str:
    if money and isinstance(x, Decimal):
        return ("+" if x > 0 else "") + _yuan(x) if x >= 0 else "−" + _yuan(-x)
    return f"{x:+,}"


def summary_html(report: WeeklyReport, folder: str = "") -> str:
    """The week in HTML for the body of a mail to the team: inline CSS, tables, every value
    escaped (jinja2 autoescape); long lists cut to ``HTML_ROWS`` rows."""
    kpis = []
    for k in report.kpis:
        base = k.last_report if k.last_report is not None else k.previous
        kpis.append({
            "label": k.label, "now": _fig(k.now, k.money),
            "last": _fig(k.last_report, k.money), "previous": _fig(k.previous, k.money),
            "change": "—" if base is None else _change(k.now - base, k.money),
        })
    managers = [{"manager": m.manager, "clients": m.clients, "count": m.items,
                 "overdue": _yuan(m.overdue), "fee": _yuan(m.fee),
                 "settled": _yuan(m.settled_fee), "new": _yuan(m.new_overdue),
                 "paid": _yuan(m.paid_week), "sla": m.sla_breaches,
                 "avail": m.availability_misses} for m in report.managers]
    buckets = [{"label": b.label, "count": b.items, "amount": _yuan(b.amount),
                "fee": _yuan(b.fee)} for b in report.buckets]
    bucket_total = {"count": sum(b.items for b in report.buckets),
                    "amount": _yuan(sum((b.amount for b in report.buckets), ZERO)),
                    "fee": _yuan(sum((b.fee for b in report.buckets), ZERO))}

    def section(title: str, heads: Sequence[str], rows: Sequence[Sequence[object]],
                right: Iterable[int]) -> dict[str, object]:
        return {"title": title, "heads": heads, "rows": rows[:HTML_ROWS], "count": len(rows),
                "more": max(len(rows) - HTML_ROWS, 0), "right": set(right)}

    chase = sorted(report.letters, key=lambda x: (-(x.outstanding + x.fee), x.client_id))
    sections = [
        section("催款 Clients to chase",
                ("客户 client", "客户经理 manager", "笔数 items", "逾期未付 outstanding",
                 "滞纳金合计 late fee to date", "其中已付清分期 of which on settled",
                 "第几次催告 reminder", "邮件草稿 draft"),
                [(f"{x.client_id} {x.client_name}", x.manager, len(x.items),
                  _yuan(x.outstanding), _yuan(x.fee), _yuan(x.settled_fee),
                  f"{x.reminder}" + (" 最后催告 final" if x.final else ""),
                  "✓" if x.mail_name else x.mail_note)
                 for x in chase], (2, 3, 4, 5)),
        section("催款客户已逾期付清分期的滞纳金 Late fees on installments settled late "
                "(clients chased)",
                ("客户 client", "合同 contract", "分期 installment", "到期日 due",
                 "付款日 paid on", "逾期天数 days late", "滞纳金 late fee"),
                [(f"{x.client_id} {x.client_name}", x.contract_id, x.installment_id,
                  x.due.isoformat(), ", ".join(f"{q.paid_on:%Y-%m-%d}" for q in x.parts),
                  ", ".join(str(q.days) for q in x.parts), _yuan(x.fee))
                 for x in report.settled if x.letter], (5, 6)),
        section("仅欠滞纳金的客户（不发函） Clients owing only late fees (no letter)",
                ("客户 client", "客户经理 manager", "已付清分期 installments", "滞纳金 late fee"),
                [(f"{r[1]} {r[2]}", r[0], r[3], _yuan(r[8]))  # type: ignore[arg-type]
                 for r in _fee_only_rows(report)], (2, 3)),
        section("本周新增逾期 Became overdue", ("客户 client", "合同 contract", "分期 installment",
                                                "到期日 due", "逾期未付 outstanding", "原因 why"),
                [(f"{x.client_id} {x.client_name}", x.contract_id, x.installment_id,
                  x.due.isoformat(), _yuan(x.outstanding), x.new_note)
                 for x in report.became_overdue], (4,)),
        section("本周收款 Paid", ("客户 client", "合同 contract", "分期 installment",
                                  "收款 paid", "尚欠 outstanding", "说明 note"),
                [(f"{x.client_id} {x.client_name}", x.contract_id, x.installment_id,
                  _yuan(x.paid), _yuan(x.outstanding), x.note) for x in report.paid], (3, 4)),
        section("本周SLA超时 SLA breaches", ("客户 client", "合同 contract", "故障 incident",
                                             "报告时间 reported", "超时 breach", "违约金 penalty"),
                [(f"{x.client_id} {x.client_name}", x.contract_id, x.incident_id,
                  f"{x.reported_at:%Y-%m-%d %H:%M}", BREACH_ZH.get(x.breach, x.breach),
                  _yuan(x.penalty)) for x in report.sla], (5,)),
        section("可用性未达标 Availability misses", ("客户 client", "合同 contract", "月份 month",
                                                     "可用性 availability", "目标 target",
                                                     "抵扣 credit"),
                [(f"{x.client_id} {x.client_name}", x.contract_id, f"{x.month:%Y-%m}",
                  f"{x.availability * 100:.4f}%", f"{x.target * 100:.2f}%", _yuan(x.credit))
                 for x in report.availability], (3, 4, 5)),
    ]
    problems = len(report.problems)
    notes = list(report.notes)
    if problems:
        notes.append(f"{problems} 条提示见报告工作簿“问题”页 warnings: see the Problems sheet")
    return str(_template(_HTML).render(
        r=report, kpis=kpis, managers=managers, buckets=buckets, bucket_total=bucket_total,
        sections=sections, notes=notes, folder=folder or report.week.label))


# --- letters and e-mail drafts ----------------------------------------------------------

def _mail_texts(letter: ClientLetter, ctx: Any) -> tuple[str, str]:
    """Subject and plain-text body of a dunning e-mail (Chinese)."""
    name = one_line(letter.client_name) or letter.client_id
    greeting = one_line(letter.contact) or name
    t, fee = ctx.totals, ctx.late_fee
    kind = "【最后催款通知】" if ctx.letter.final else "【催款函】"
    nth = f"（第{ctx.letter.reminder}次催告）" if ctx.letter.previous_count else ""
    subject = (f"{kind}{name}：逾期服务费人民币{t.outstanding}元"
               f"（截至{ctx.letter.as_of}）{nth}")
    rate = fee.rate_words + (f"（{fee.rate_percent}）" if fee.rate_percent else "")
    paragraphs = [
        f"逾期未付金额合计人民币{t.outstanding}元（大写：{t.outstanding_capitals}）。根据合同第"
        f"{fee.clause}条，逾期付款每日按逾期金额的{rate}计收滞纳金，截至{ctx.letter.as_of}"
        f"贵司应付滞纳金人民币{t.late_fee}元（大写：{t.late_fee_capitals}）"
        + (f"，其中逾期未付款项的滞纳金人民币{t.overdue_fee}元，已付清款项的滞纳金人民币"
           f"{t.settled_fee}元" if ctx.settled else "")
        + f"；以上合计人民币{t.total_due}元（大写：{t.total_due_capitals}）。",
        f"请贵司于收到本邮件之日起{ctx.letter.pay_within_days}日内将上述款项支付至我司以下账户，"
        "逾期未付的，滞纳金将继续按日计算至实际付清之日：",
    ]
    bank = [f"账户名称：{ctx.company.bank_account_name}", f"开户银行：{ctx.company.bank_name}",
            f"银行账号：{ctx.company.bank_account_no}"]
    title = "最后催款通知函" if ctx.letter.final else "催款函"
    closing = (f"《{title}》（编号：{ctx.letter.number}）见附件。"
               + ("如贵司已于本邮件发出前付款，请将付款凭证回复给我，以便核对。" if ctx.letter.final
                  else "如贵司已支付上述款项，请忽略本邮件，并将付款凭证回复给我，以便核对。")
               + "谢谢！")
    signature = ["此致", "敬礼！", "", ctx.letter.manager or "", ctx.company.name]
    if letter.manager_email:
        signature.append(letter.manager_email)
    lines = [f"{greeting}，您好：", ""]
    if ctx.letter.previous_count:
        lines += [f"我司已于{ctx.letter.chased_since}起就逾期款项{ctx.letter.previous_count}次"
                  f"致函贵司催告，贵司至今未付清。本邮件为第{ctx.letter.reminder}次催告。", ""]
    lines += [f"截至{ctx.letter.as_of}，贵司以下服务费款项已逾期未付：", ""]
    for i in ctx.items:
        lines.append(f"{i.no}. 合同{i.contract_no}（{i.kind}，分期{i.installment}）：到期日"
                     f"{i.due_date}，未付金额人民币{i.outstanding}元，逾期{i.days_overdue}天，"
                     f"滞纳金人民币{i.late_fee}元{i.cap_mark}；")
        if i.basis:
            lines.append(f"   滞纳金计算：{i.basis}")
    if ctx.settled:
        lines += ["", f"另，以下款项贵司虽已付清，但付款晚于到期日，按合同第{fee.clause}条"
                  "计收的滞纳金尚未付清：", ""]
        for x in ctx.settled:
            lines.append(f"{x.no}. 合同{x.contract_no}（{x.kind}，分期{x.installment}）：到期日"
                         f"{x.due_date}，付款日{x.paid_dates}，逾期{x.days_late}天，"
                         f"滞纳金人民币{x.late_fee}元{x.cap_mark}；")
            lines.append(f"   滞纳金计算：{x.basis}")
    if fee.cap_note:
        lines += ["", f"注：{fee.cap_note}"]
    lines += ["", paragraphs[0], "", paragraphs[1], *bank, ""]
    if ctx.letter.final:
        lines += ["本邮件及所附《最后催款通知函》为最后催告。如贵司在上述期限内仍未付清，我司将"
                  "依照合同约定和法律规定，通过诉讼等途径追究贵司的违约责任。", ""]
    lines += [closing, "", *signature]
    return subject, "\n".join(lines) + "\n"


DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


def dunning_email(letter: ClientLetter, ctx: Any, attachment: bytes, week: IsoWeek) -> bytes:
    """The e-mail draft (.eml) for one client: UTF-8, Chinese subject and plain-text body
    (the items, the late fee and its basis, our bank account), the letter attached,
    ``X-Unsent: 1`` so Outlook opens it as a draft. Fixed Message-ID, Date and boundary:
    the same letter gives the same bytes. (No HTML alternative: the letter is the formatted
    document, and it would cost a fifth more time per draft.)

    The bytes are those ``EmailMessage(policy=SMTP)`` with ``set_content`` and
    ``add_attachment`` writes (tested against it), but assembled here: every header is
    still made and folded by the ``email`` package's header classes, only the MIME
    structure, the base64 bodies and the attachment's file name parameter are written
    directly, which takes less than half the time (most of it was the MIME machinery and
    RFC 2231 folding of the Chinese file name)."""
    subject, plain = _mail_texts(letter, ctx)
    digest = hashlib.sha256(f"{week.label}|{letter.client_id}".encode()).hexdigest()
    out = [_X_UNSENT, _mail_header("Subject", subject)]
    if letter.manager_email:
        out.append(_from_header(one_line(letter.manager), letter.manager_email))
    display = one_line(letter.contact) if len(letter.to) == 1 else ""
    out.append(_mail_header("To", tuple(Address(display_name=display, addr_spec=a)
                                        for a in letter.to)))
    sent = dt.datetime.combine(week.sunday + dt.timedelta(days=1), dt.time(9, 0), CHINA_TZ)
    out.append(_date_header(format_datetime(sent)))
    out.append(_mail_header("Message-ID", f"<ct.{week.label}.{digest[:24]}@{MAIL_DOMAIN}>"))
    boundary = f"=_ct_{digest[:16]}_0"
    out += [_MIME_VERSION,
            _mail_header("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
            _CRLF, f"--{boundary}\r\n".encode("ascii"), _TEXT_HEADERS, _CRLF,
            _base64_body(_CRLF.join(plain.encode("utf-8").splitlines()) + _CRLF),
            f"\r\n--{boundary}\r\n".encode("ascii"), _DOCX_HEADERS,
            _disposition_header(letter.letter_name),
            _MIME_VERSION, _CRLF, _base64_body(attachment),
            f"\r\n--{boundary}--\r\n".encode("ascii")]
    return b"".join(out)


_CRLF = b"\r\n"


def _mail_header(name: str, value: object) -> bytes:
    """One header as ``EmailMessage(policy=SMTP)`` writes it: made and folded by the
    ``email`` package (encoded words, RFC 2231 parameters), CRLF-ended, ASCII."""
    if isinstance(value, str) and len(value.splitlines()) > 1:  # as msg[name] = value
        raise ValueError(f"header {name} may not contain line breaks: {value!r}")
    smtp = policy.SMTP
    folded: str = smtp.header_factory(name, value).fold(policy=smtp)
    return folded.encode("ascii")


@functools.lru_cache(maxsize=8)
def _date_header(value: str) -> bytes:
    """The Date header (the same Monday 09:00 for all drafts of a week)."""
    return _mail_header("Date", value)


@functools.lru_cache(maxsize=256)
def _from_header(name: str, addr: str) -> bytes:
    """The From header of an account manager's drafts (the same for all their clients)."""
    return _mail_header("From", Address(display_name=name, addr_spec=addr))


_MIME_VERSION = _mail_header("MIME-Version", "1.0")
_X_UNSENT = _mail_header("X-Unsent", "1")
_TEXT_HEADERS = (_mail_header("Content-Type", 'text/plain; charset="utf-8"')
                 + _mail_header("Content-Transfer-Encoding", "base64"))
_DOCX_HEADERS = (_mail_header("Content-Type", "/".join(DOCX_TYPE))
                 + _mail_header("Content-Transfer-Encoding", "base64"))


def _disposition_header(name: str) -> bytes:
    """``Content-Disposition: attachment`` with the file name, as the ``email`` package
    folds it (tested against it). A non-ASCII name is RFC 2231 encoded and, when too long
    for one line, split into sections as ``_fold_mime_parameters`` splits it: each the
    longest prefix whose percent-encoding fits (the package finds it by trying one
    character less at a time, which for a Chinese name is most of a draft's header time)."""
    if name.isascii() or _SURROGATE.search(name):
        return _mail_header("Content-Disposition", "attachment; " + _filename_param(name))
    max_len = policy.SMTP.max_line_length or 78
    lines = ["Content-Disposition: attachment;"]
    tstr = f"filename*=utf-8''{url_quote(name, safe='')}"
    if len(lines[-1]) + len(tstr) + 1 < max_len:
        lines[-1] += " " + tstr
    elif len(tstr) + 2 <= max_len:
        lines.append(" " + tstr)
    else:
        section, chrome, value = 0, "utf-8''", name
        while value:
            room = max_len - (len("filename") + len(str(section)) + 3 + len(chrome)) - 2
            encoded, used = "", 0
            for ch in value[:room]:
                q = url_quote(ch, safe="")
                if len(encoded) + len(q) > room:
                    break
                encoded += q
                used += 1
            lines.append(f" filename*{section}*={chrome}{encoded}")
            chrome = ""
            section += 1
            value = value[used:]
            if value:
                lines[-1] += ";"
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _filename_param(name: str) -> str:
    """The ``filename`` parameter as ``Message.set_param`` writes it (RFC 2231 when not
    ASCII); the header class re-folds it from the decoded value."""
    if name.isascii():
        return f'filename="{email_utils.quote(name)}"'
    return f"filename*={email_utils.encode_rfc2231(name, 'utf-8', '')}"


def _base64_body(data: bytes) -> bytes:
    """Base64 in 76-character CRLF-ended lines, as the ``email`` package encodes a body."""
    return base64.encodebytes(data).replace(b"\n", _CRLF)


def letter_context(book: Book, client: Client, letter: ClientLetter, as_of: dt.date) -> Any:
    """The DunningContext of a client's letter (dated the Monday after the week)."""
    from .docgen.context import DunningLine, DunningSettledLine, build_dunning_context

    one = Book(settings=book.settings, clients=(client,))  # the builder looks clients up
    lines = [DunningLine(r.contract_id, r.installment_id, r.kind, r.due, r.amount,
                         r.outstanding, r.days_overdue, r.fee, r.rate, r.capped, r.basis)
             for r in letter.items]
    settled = [DunningSettledLine(x.contract_id, x.installment_id, x.kind, x.due, x.amount,
                                  tuple(q.paid_on for q in x.parts),
                                  tuple(q.days for q in x.parts), x.fee, x.rate, x.capped,
                                  x.basis)
               for x in letter.settled]
    return build_dunning_context(one, letter.client_id, lines, as_of=as_of,
                                 letter_no=letter.letter_no,
                                 letter_date=as_of + dt.timedelta(days=1),
                                 pay_within_days=PAY_WITHIN_DAYS, settled=settled,
                                 reminder=letter.reminder, chased_since=letter.chased_since,
                                 final=letter.final)


# --- the job ----------------------------------------------------------------------------


_LetterJob = tuple[Client, ClientLetter, Path, Path | None]
"""A client, its letter, and where its .docx and .eml go (None: no draft)."""
PARALLEL_FROM = 64
"""Letters from which rendering is spread over worker processes (Linux, 2+ CPUs)."""
_TEMPLATE: list[Any] = []  # the compiled dunning template of this process


def render_letter(settings: Settings, client: Client, letter: ClientLetter, as_of: dt.date,
                  week: IsoWeek) -> tuple[bytes, bytes | None]:
    """A client's letter (.docx bytes) and e-mail draft (.eml bytes, None when the client
    has no usable e-mail). The template is compiled once per process."""
    from .docgen.render import CompiledTemplate, default_templates_dir

    if not _TEMPLATE:
        _TEMPLATE.append(CompiledTemplate(default_templates_dir() / "dunning_zh.docx",
                                          kind="dunning"))
    ctx = letter_context(Book(settings=settings), client, letter, as_of)
    docx: bytes = _TEMPLATE[0].render(ctx.as_mapping())
    eml = dunning_email(letter, ctx, docx, week) if letter.mail_name else None
    return docx, eml


def write_letters(settings: Settings, batch: Sequence[_LetterJob], as_of: dt.date,
                  week: IsoWeek) -> int:
    """Render and write each letter and draft of ``batch`` (paths already checked to stay
    in the output folder); the number of files written."""
    written = 0
    for client, letter, docx_path, eml_path in batch:
        docx, eml = render_letter(settings, client, letter, as_of, week)
        _write_plain(docx_path, docx)
        written += 1
        if eml is not None and eml_path is not None:
            _write_plain(eml_path, eml)
            written += 1
    return written


class _Rendering:
    """Letters and drafts being rendered and written: in this process when ``result()`` is
    called, or, for big batches, by worker processes started at once (one chunk per CPU,
    forked on Linux only, where that is cheap and safe) while the caller writes the
    workbook. Either way the files hold the same bytes. A context manager: leaving it stops
    the workers whatever happened."""

    def __init__(self, book: Book, batch: Sequence[_LetterJob], as_of: dt.date,
                 week: IsoWeek) -> None:
        import multiprocessing
        import sys

        self.args = (book.settings, batch, as_of, week)
        self.pool: Any = None
        self.futures: list[Any] = []
        workers = min(os.cpu_count() or 1, 8)
        if len(batch) < PARALLEL_FROM or workers < 2 or not sys.platform.startswith("linux"):
            return
        from concurrent.futures import ProcessPoolExecutor

        size = -(-len(batch) // workers)
        chunks = [batch[i:i + size] for i in range(0, len(batch), size)]
        # Workers must not run the cycle collector over the parent's inherited heap (the
        # whole book): it would touch, and so copy, every page for nothing.
        self.pool = ProcessPoolExecutor(len(chunks), initializer=gc.disable,
                                        mp_context=multiprocessing.get_context("fork"))
        self.futures = [self.pool.submit(write_letters, book.settings, chunk, as_of, week)
                        for chunk in chunks]

    def result(self) -> int:
        """Files written; raises what rendering or writing raised."""
        if self.pool is None:
            return write_letters(*self.args)
        return sum(f.result() for f in self.futures)

    def __enter__(self) -> _Rendering:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _write_plain(path: Path, data: bytes) -> None:
    """A letter or draft: regenerated by any re-run, so written in place."""
    with open(path, "wb") as fh:
        fh.write(data)


def _resolve_week(week: str | IsoWeek | None, today: dt.date | None) -> IsoWeek:
    if isinstance(week, IsoWeek):
        return week
    if week is None or not str(week).strip():
        return IsoWeek.last_complete(today or dt.date.today())
    return parse_week(str(week))


def report_job(book: Book, week: str | IsoWeek | None, out_dir: Path, *,
               today: dt.date | None = None, now: dt.datetime | None = None,
               read_problems: Sequence[Problem] = ()) -> JobResult:
    """The weekly overdue report of ``week`` (default: the last complete week before
    ``today``) written under ``out_dir`` (see the module docstring for the layout): a
    :class:`~contract_tracker.jobs.JobResult` with the files written, Log lines and a
    summary. A bad week or an output folder that cannot be written gives a failed result
    (nothing raised). ``read_problems`` (what reading the workbook found) go into the
    report's Problems sheet and the result's problems, after the report's own."""
    from .jobs import JobResult
    from .toolsheets import log_entry

    now = now or dt.datetime.now().replace(microsecond=0)
    try:
        iso = _resolve_week(week, today)
    except WeekError as exc:
        message = f"report not made: {exc}"
        return JobResult(log=(log_entry("report", message, level="error", now=now),),
                         problems=(Problem("report", "", str(exc)),), summary=message,
                         failed=True)
    try:
        return _run(book, iso, Path(out_dir), now, read_problems, today or now.date())
    except OSError as exc:
        message = f"report {iso.label} not written: {exc}"
        if isinstance(exc, PermissionError):
            message += " (is one of its files open in Excel or Word? close it and run again)"
        return JobResult(log=(log_entry("report", message, level="error", now=now),),
                         problems=(Problem("report", "", message),), summary=message,
                         failed=True)


def _chased(installments: frozenset[str], week: tuple[dt.date, set[str]]) -> bool:
    return not installments.isdisjoint(week[1])


MAX_CHASE_WEEKS = 52  # how far back the letters in a row are counted


def _history(root: Path, week: IsoWeek, previous: Snapshot | None) -> list[Snapshot]:
    """The snapshots of the weeks before ``week``, newest first, up to the first week
    without a usable one (at most :data:`MAX_CHASE_WEEKS`): the reports whose letters a
    letter of ``week`` may follow in a row."""
    found: list[Snapshot] = []
    snap, w = previous, week.previous
    while snap is not None and len(found) < MAX_CHASE_WEEKS:
        found.append(snap)
        w = w.previous
        snap, _ = load_snapshot(snapshot_path(root, w), w)
    return found


def _run(book: Book, week: IsoWeek, root: Path, now: dt.datetime,
         read_problems: Sequence[Problem] = (), today: dt.date | None = None) -> JobResult:
    from .docgen.filenames import path_inside
    from .docgen.generate import write_atomic
    from .jobs import JobResult
    from .toolsheets import log_entry

    previous, why = load_snapshot(snapshot_path(root, week.previous), week.previous)
    report = build_report(book, week, previous, why, _history(root, week, previous),
                          read_problems=read_problems, today=today)
    folder = root / week.label
    letters_dir, mail_dir = folder / "letters", folder / "mail"
    for d in (folder, letters_dir, mail_dir, root / "snapshots"):
        d.mkdir(parents=True, exist_ok=True)
    problems = list(report.problems)
    log: list[Any] = []

    xlsx = path_inside(folder, f"overdue-report_{week.label}.xlsx")
    html = path_inside(folder, f"summary_{week.label}.html")
    snap = path_inside(root / "snapshots", f"{week.label}.json")

    skipped = [x for x in report.letters if not x.mail_name]
    clients: dict[str, Client] = _first_wins(book.clients, lambda c: c.client_id)
    batch: list[_LetterJob] = [
        (clients[x.client_id], x, path_inside(letters_dir, x.letter_name),
         path_inside(mail_dir, x.mail_name) if x.mail_name else None)
        for x in report.letters]
    letters = [b[2] for b in batch]
    mails = [b[3] for b in batch if b[3] is not None]
    with _Rendering(book, batch, report.as_of, week) as rendering:
        failed = _write_outputs(report, rendering, xlsx, html, problems)
    if failed:
        letters, mails = [], []
    removed = [] if failed else (_remove_stale(letters_dir, ".docx", letters)
                                 + _remove_stale(mail_dir, ".eml", mails))
    write_atomic(snap, snapshot_bytes(report))

    t = report.totals
    first = report.previous is None
    summary = (
        f"{week.label} as of {report.as_of}: overdue ¥{fmt_money_grouped(report.overdue_total)} "
        f"({t['overdue_items']} installments, {t['clients_overdue']} clients), late fees "
        f"¥{fmt_money_grouped(report.late_fee_total)} to date (¥"
        f"{fmt_money_grouped(report.fee_total)} on overdue items, ¥"
        f"{fmt_money_grouped(report.settled_fee_total)} on installments settled late); "
        "became overdue "
        f"¥{fmt_money_grouped(report.new_total)}, paid ¥{fmt_money_grouped(report.paid_total)};"
        f" {_n(len(report.sla), 'SLA breach', 'SLA breaches')}, "
        f"{_n(len(report.availability), 'availability miss', 'availability misses')}; "
        f"{_n(len(letters), 'letter')}, {_n(len(mails), 'e-mail draft')}"
        + (f" ({len(skipped)} skipped: no usable e-mail)" if skipped else "")
        + f" in {folder}" + (f"; {report.previous_note}" if first else "")
        + (f"; {_n(errors, 'data error')} (rows not in the report: check before sending)"
           if (errors := sum(1 for p_ in read_problems if p_.severity is Severity.ERROR))
           else ""))
    log.append(log_entry("report", summary, file=str(xlsx), now=now))
    log.append(log_entry("report", f"{week.label}: team summary (HTML)", file=str(html), now=now))
    if letters:
        log.append(log_entry("report", f"{week.label}: {len(letters)} dunning letters (催款函)",
                             file=str(letters_dir), now=now))
    if mails or skipped:
        text = f"{week.label}: {len(mails)} e-mail drafts (X-Unsent)"
        if skipped:
            ids = ", ".join(x.client_id for x in skipped[:20])
            text += (f"; {len(skipped)} skipped, no usable client e-mail: {ids}"
                     + (" ..." if len(skipped) > 20 else ""))
        log.append(log_entry("report", text, level="warning" if skipped else "info",
                             file=str(mail_dir), now=now))
    if removed:
        log.append(log_entry("report", f"{week.label}: removed {len(removed)} letters/drafts "
                             "of clients no longer overdue", now=now))
    log.append(log_entry(
        "report", f"{week.label}: snapshot for next week's comparison"
        + ("; first report: no previous snapshot" if first else
           f"; compared with {week.previous.label}"), file=str(snap), now=now))
    files_written = (xlsx, html, snap, *letters, *mails)
    return JobResult({}, tuple(log), files_written,
                     tuple(problems) + report.data_problems, summary, failed)


def _write_outputs(report: WeeklyReport, rendering: _Rendering, xlsx: Path, html: Path,
                   problems: list[Problem]) -> bool:
    """The workbook and the HTML while the letters render, then wait for the letters and
    drafts; True when the dunning template could not be used."""
    from .docgen.generate import write_atomic
    from .docgen.render import TemplateError

    files = {
        "报告工作簿 report workbook": xlsx.name,
        "团队邮件正文 team mail (HTML)": html.name,
        "催款函 letters": f"letters/ ({len(report.letters)})",
        "邮件草稿 e-mail drafts": f"mail/ ({sum(1 for x in report.letters if x.mail_name)})",
        "快照 snapshot": f"../snapshots/{report.week.label}.json",
    }
    write_atomic(xlsx, report_workbook(report, files))
    write_atomic(html, summary_html(report).encode("utf-8"))
    try:
        rendering.result()
    except TemplateError as exc:
        problems.append(Problem("templates", "dunning_zh.docx",
                                f"dunning letters not written: {exc}"))
        return True
    return False


def _remove_stale(folder: Path, ext: str, keep: Sequence[Path]) -> list[Path]:
    """Files of a tool-owned folder this run did not write (clients no longer overdue)."""
    kept = {p.name for p in keep}
    removed = []
    for path in sorted(folder.glob(f"*{ext}")):
        if path.name not in kept and path.is_file():
            path.unlink()
            removed.append(path)
    return removed
