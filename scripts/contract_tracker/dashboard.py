"""The Dashboard sheet: payment, SLA and renewal flags per contract, KPIs and ageing.

:func:`dashboard_model` turns a book and the engine's :class:`PenaltyResult` into a
:class:`Dashboard` (pure figures, no presentation); :func:`dashboard_sheet` lays it out
as a :class:`~contract_tracker.sheetwriter.SheetContent` that the command line writes with
the sheet writer and the Excel macros write into the open workbook; :func:`dashboard_job`
does both. Money stays Decimal throughout; the sheet holds no formulas.

Rules (all as of the end of the as-of day):

* **Which contracts are listed.** Every contract in force (status ``signed`` or
  ``active``); an ``expired`` one while money is still outstanding on it, or for
  :data:`RENEWAL_LOOKBACK_DAYS` days after its end when it ended without renewal; a
  ``terminated`` one while money is outstanding; any contract whose SLA flag is red.
* **Unsigned contracts owe nothing.** As in the weekly report (one rule,
  :func:`~contract_tracker.statuses.is_signed`), money on a ``draft`` or ``sent`` contract
  is not owed: its installments are not outstanding, overdue or late on its line, in the
  ageing or in any KPI, and it has no payment flag (``-``); the KPI block shows what is
  scheduled on unsigned contracts as its own figure, 未签署 not yet signed, which no
  total includes. The KPIs cover every signed contract of the book, listed or not, so
  they equal the engine's totals over signed contracts (its late fees still owed, after
  receipts of 滞纳金 / 减免滞纳金); every overdue contract is listed,
  so the overdue column adds up to the overdue KPI.
* **Payment flag.** Red: an installment overdue beyond the contract's grace days
  (``days overdue > grace days``). Amber: an installment overdue but still within its
  grace days, or one with money outstanding falling due within Settings'
  ``due_soon_days`` (7): due on ``as_of`` .. ``as_of + 7`` (8 days ahead is green).
  Green otherwise.
* **SLA flag.** Red: a breached SLA clock (response, solution or major-fault) in an
  incident reported in the as-of month, or last month's availability below the
  contract's target. Amber: an incident whose clock is still running within its limit,
  or a breach in an incident reported last month. Green otherwise.
* **Renewal.** A contract is renewed by another contract of the same client that is
  (or was) signed — status ``signed``, ``active`` or ``expired`` — starting after this
  one's start, no earlier than this one's end minus its renewal notice period, and ending
  after this one's end (so a parallel contract for another service does not count). A
  ``draft`` or ``sent`` contract that would qualify is a renewal in negotiation: it is
  named in the notes but does not clear the flag. Flag: green when renewed; red when the
  term has ended (``as_of > end``) without renewal; amber from ``end - notice days`` to
  the end day itself (inclusive both); green before. Terminated, draft and sent contracts
  have no renewal flag (``-``). A blank notice period counts as
  :data:`DEFAULT_NOTICE_DAYS` days.
* **Late fees** are those still owed: clause 7.2's fee less what receipts of 滞纳金 (a
  fee received) or 减免滞纳金 (a fee waived) settled of it.
* **Ageing.** Each overdue installment's overdue amount goes to the bucket (Settings'
  ageing table, else the schema's default 1-30, 31-60, 61-90, 91-180, >180) holding its
  days overdue, counted from the due date (grace days spare the fee only). Amounts in
  no bucket go to a row "其他 other", so the buckets always add up to the overdue total.
* **Worst first.** By number of red flags, a red payment flag first, then amber flags,
  then the overdue amount, the longest days overdue and the outstanding amount (all
  descending), then the contract number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from . import schema
from .money import ZERO, fmt_money_grouped
from .records import AgeingBucket, Book, Client, Contract, Problem
from .sheetwriter import BarChart, CellValue, CondRule, SheetContent
from .statuses import NOT_SIGNED, is_signed
from .textwidth import text_width, widest_line

if TYPE_CHECKING:
    from .engine import PenaltyResult
    from .jobs import JobResult

__all__ = [
    "DEFAULT_NOTICE_DAYS",
    "IN_FORCE",
    "RENEWAL_LOOKBACK_DAYS",
    "AgeingLine",
    "ContractLine",
    "Dashboard",
    "Flag",
    "Kpis",
    "dashboard_job",
    "dashboard_model",
    "dashboard_sheet",
]

IN_FORCE = frozenset({"signed", "active"})
RENEWING = frozenset({"signed", "active", "expired"})  # statuses that renew a contract
RENEWAL_LOOKBACK_DAYS = 90
"""An expired contract that ended without renewal stays listed (red) this long."""
DEFAULT_NOTICE_DAYS = 30
"""The renewal notice period of a contract whose own is blank."""


class Flag(str, Enum):
    NONE = "none"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def text(self) -> str:
        """What the cell shows, readable without colour (in print)."""
        return FLAG_TEXT[self]


FLAG_TEXT: dict[Flag, str] = {Flag.RED: "红", Flag.AMBER: "黄", Flag.GREEN: "绿", Flag.NONE: "-"}
"""Flags as text: 红 red, 黄 amber, 绿 green; ``-`` where a flag does not apply."""


class ContractLine(NamedTuple):
    """One contract's figures and flags."""

    contract_id: str
    client_id: str
    client: str
    account_manager: str
    status: str
    start: dt.date
    end: dt.date
    outstanding: Decimal
    overdue: Decimal
    days_overdue: int  # the longest, over its overdue installments
    overdue_items: int
    oldest_due: dt.date | None  # the earliest due date among them
    late_fee: Decimal  # still owed: Σ installment fees less those received or waived
    due_soon: Decimal  # outstanding on installments due within due_soon_days
    next_due: dt.date | None  # the earliest of those
    within_grace: int  # overdue installments still within their grace days
    sla_breaches: int  # breached clocks of incidents reported in the as-of month
    last_month_breaches: int
    open_incidents: int  # clocks still running within their limit
    availability: Decimal | None  # last month's, as shown (truncated), None: no data
    target: Decimal
    availability_breach: bool
    sla_owed: Decimal  # SLA penalties and credits owed by us, after monthly caps, to date
    notice_days: int
    notice_from: dt.date  # end - notice days: the renewal notice period starts
    renewed_by: str | None
    renewal_pending: str | None  # "HT-2026-010 (sent)"
    payment: Flag
    sla: Flag
    renewal: Flag
    listed: bool

    @property
    def flags(self) -> tuple[Flag, Flag, Flag]:
        return self.payment, self.sla, self.renewal

    @property
    def reds(self) -> int:
        return sum(1 for f in self.flags if f is Flag.RED)

    @property
    def ambers(self) -> int:
        return sum(1 for f in self.flags if f is Flag.AMBER)


class AgeingLine(NamedTuple):
    label: str
    from_days: int | None  # None for the "other" row
    to_days: int | None
    amount: Decimal
    items: int  # overdue installments


class Kpis(NamedTuple):
    outstanding: Decimal
    overdue: Decimal
    late_fees: Decimal
    payment_breaches: int  # contracts with a red payment flag
    sla_breaches: int  # breached clocks this month
    sla_owed: Decimal  # SLA penalties and credits owed by us, after monthly caps
    renewals_due: int  # listed contracts with an amber renewal flag
    ended_unrenewed: int  # listed contracts with a red renewal flag
    listed: int
    unsigned: Decimal = ZERO  # outstanding on draft/sent contracts: in no other figure
    unsigned_contracts: int = 0  # draft/sent contracts with money scheduled
    late_fees_unlisted: Decimal = ZERO  # of late_fees: on contracts not listed
    sla_owed_unlisted: Decimal = ZERO  # of sla_owed: on contracts not listed


@dataclass(frozen=True)
class Dashboard:
    as_of: dt.date
    kpis: Kpis
    ageing: tuple[AgeingLine, ...]
    rows: tuple[ContractLine, ...]  # the listed contracts, worst first
    contracts: tuple[ContractLine, ...]  # every contract, in sheet order
    due_soon_days: int


# --- the model ----------------------------------------------------------------------------


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _previous_month(month: dt.date) -> dt.date:
    return (month - dt.timedelta(days=1)).replace(day=1)


class _Money:
    """Per-contract sums of the installment rows."""

    __slots__ = ("days", "due_soon", "fee", "grace", "items", "next_due", "oldest",
                 "outstanding", "overdue", "red")

    def __init__(self) -> None:
        self.outstanding = self.overdue = self.fee = self.due_soon = ZERO
        self.days = self.items = self.grace = 0
        self.oldest: dt.date | None = None
        self.next_due: dt.date | None = None
        self.red = False


def _renewals(contracts: Sequence[Contract]
              ) -> dict[str, tuple[str | None, str | None]]:
    """contract_id -> (renewed by, renewal in negotiation) over each client's contracts."""
    by_client: dict[str, list[Contract]] = {}
    for c in contracts:
        by_client.setdefault(c.client_id, []).append(c)
    out: dict[str, tuple[str | None, str | None]] = {}
    for group in by_client.values():
        if len(group) == 1:
            continue
        group = sorted(group, key=lambda c: (c.start_date, c.contract_id))
        for c in group:
            notice = c.renewal_notice_days
            earliest = c.end_date - dt.timedelta(
                days=DEFAULT_NOTICE_DAYS if notice is None else notice)
            renewed = pending = None
            for other in group:
                if (other.contract_id == c.contract_id or other.start_date <= c.start_date
                        or other.start_date < earliest or other.end_date <= c.end_date):
                    continue
                if other.status in RENEWING and renewed is None:
                    renewed = other.contract_id
                elif other.status in NOT_SIGNED and pending is None:
                    zh = next((ch.zh for ch in schema.STATUS_CHOICES
                               if ch.key == other.status), other.status)
                    pending = f"{other.contract_id} ({zh})"
            if renewed or pending:
                out[c.contract_id] = (renewed, pending)
    return out


def _buckets(book: Book) -> tuple[AgeingBucket, ...]:
    if book.settings.ageing:
        return book.settings.ageing
    return tuple(AgeingBucket(label, lo, hi) for label, lo, hi in schema.DEFAULT_AGEING)


def dashboard_model(book: Book, result: PenaltyResult, as_of: dt.date) -> Dashboard:
    """The dashboard's figures for ``book`` as of the end of ``as_of`` (rules in the
    module docstring); ``result`` is ``compute_penalties(book, as_of)``'s."""
    settings = book.settings
    soon = dt.timedelta(days=settings.due_soon_days)
    buckets = _buckets(book)
    bucket_amounts = [ZERO] * len(buckets)
    bucket_items = [0] * len(buckets)
    other_amount, other_items = ZERO, 0

    money: dict[str, _Money] = {}
    first = {c.contract_id: c for c in reversed(book.contracts)}  # the first of an ID wins
    unsigned = {cid for cid, c in first.items() if not is_signed(c)}
    unsigned_owing: dict[str, Decimal] = {}
    for f in result.late_fees.positions():  # the money alone: no workings needed
        if not f.outstanding and not f.fee_owed:
            continue  # paid in full without a fee owed (most): it adds nothing below
        if f.contract_id in unsigned:  # nothing is owed before signing
            owing = unsigned_owing.get(f.contract_id, ZERO)
            unsigned_owing[f.contract_id] = owing + f.outstanding
            continue
        m = money.get(f.contract_id)
        if m is None:
            m = money[f.contract_id] = _Money()
        m.outstanding += f.outstanding
        m.fee += f.fee_owed  # less late fees received or waived (receipts of 滞纳金 / 减免)
        if f.overdue > ZERO:
            m.overdue += f.overdue
            m.items += 1
            days = f.days_overdue
            if days > m.days:
                m.days = days
            due = f.due_date
            if m.oldest is None or due < m.oldest:
                m.oldest = due
            if days > f.grace_days:
                m.red = True
            else:
                m.grace += 1
            for i, b in enumerate(buckets):
                if b.holds(days):
                    bucket_amounts[i] += f.overdue
                    bucket_items[i] += 1
                    break
            else:
                other_amount += f.overdue
                other_items += 1
        elif f.outstanding > ZERO and as_of <= f.due_date <= as_of + soon:
            m.due_soon += f.outstanding
            if m.next_due is None or f.due_date < m.next_due:
                m.next_due = f.due_date

    this_month = _month_start(as_of)
    last_month = _previous_month(this_month)
    breaches: dict[str, int] = {}
    last_breaches: dict[str, int] = {}
    running: dict[str, int] = {}
    for s in result.sla.notable({this_month, last_month}):  # the others add nothing below
        if s.month == this_month:
            n = sum(1 for c in s.clocks if c.breached)
            if n:
                breaches[s.contract_id] = breaches.get(s.contract_id, 0) + n
        elif s.month == last_month:
            n = sum(1 for c in s.clocks if c.breached)
            if n:
                last_breaches[s.contract_id] = last_breaches.get(s.contract_id, 0) + n
        n = sum(1 for c in s.clocks if c.stop is None and not c.breached)
        if n:
            running[s.contract_id] = running.get(s.contract_id, 0) + n
    availability = {m.contract_id: m for m in result.availability if m.month == last_month}
    owed: dict[str, Decimal] = {}
    for sm in result.sla_months:
        owed[sm.contract_id] = owed.get(sm.contract_id, ZERO) + sm.owed

    clients: dict[str, Client] = {}
    for cl in book.clients:
        clients.setdefault(cl.client_id, cl)
    renewals = _renewals(book.contracts)
    target_default = settings.availability_target
    lines: list[ContractLine] = []
    seen: set[str] = set()
    blank = _Money()
    for c in book.contracts:
        if c.contract_id in seen:
            continue
        seen.add(c.contract_id)
        m = money.get(c.contract_id, blank)
        client = clients.get(c.client_id)
        payment = (Flag.NONE if c.contract_id in unsigned else Flag.RED if m.red else
                   Flag.AMBER if m.grace or m.next_due is not None else Flag.GREEN)
        avail = availability.get(c.contract_id)
        n_breach = breaches.get(c.contract_id, 0)
        n_last = last_breaches.get(c.contract_id, 0)
        n_running = running.get(c.contract_id, 0)
        avail_breach = bool(avail is not None and avail.breach)
        sla = (Flag.RED if n_breach or avail_breach else
               Flag.AMBER if n_running or n_last else Flag.GREEN)
        notice = DEFAULT_NOTICE_DAYS if c.renewal_notice_days is None else c.renewal_notice_days
        notice_from = c.end_date - dt.timedelta(days=notice)
        renewed, pending = renewals.get(c.contract_id, (None, None))
        if c.status not in RENEWING:
            renewal = Flag.NONE
        elif renewed is not None:
            renewal = Flag.GREEN
        elif as_of > c.end_date:
            renewal = Flag.RED
        elif as_of >= notice_from:
            renewal = Flag.AMBER
        else:
            renewal = Flag.GREEN
        if c.status in IN_FORCE:
            listed = True
        elif c.status == "expired":
            listed = m.outstanding > ZERO or (
                renewal is Flag.RED and (as_of - c.end_date).days <= RENEWAL_LOOKBACK_DAYS)
        elif c.status == "terminated":
            listed = m.outstanding > ZERO
        else:  # draft or sent: nothing is owed, so nothing to list for money
            listed = False
        listed = listed or sla is Flag.RED
        lines.append(ContractLine(
            c.contract_id, c.client_id,
            client.name if client is not None else f"{c.client_id} (客户表中没有 not on Clients)",
            client.account_manager if client is not None else "",
            c.status, c.start_date, c.end_date, m.outstanding, m.overdue, m.days, m.items,
            m.oldest, m.fee, m.due_soon, m.next_due, m.grace, n_breach, n_last, n_running,
            avail.shown if avail is not None else None,
            avail.target if avail is not None else (c.availability_target or target_default),
            avail_breach, owed.get(c.contract_id, ZERO), notice, notice_from, renewed,
            pending, payment, sla, renewal, listed,
        ))

    rows = tuple(sorted((x for x in lines if x.listed), key=_worst_first))
    ageing = [AgeingLine(b.label, b.from_days, b.to_days, a, n)
              for b, a, n in zip(buckets, bucket_amounts, bucket_items, strict=True)]
    if other_items:
        ageing.append(AgeingLine("其他 other", None, None, other_amount, other_items))
    signed = [x for x in lines if x.contract_id not in unsigned]
    kpis = Kpis(
        outstanding=sum((x.outstanding for x in signed), ZERO),
        overdue=sum((x.overdue for x in signed), ZERO),
        late_fees=sum((x.late_fee for x in signed), ZERO),
        payment_breaches=sum(1 for x in signed if x.payment is Flag.RED),
        sla_breaches=sum(x.sla_breaches for x in signed),
        sla_owed=sum((x.sla_owed for x in signed), ZERO),
        renewals_due=sum(1 for x in rows if x.renewal is Flag.AMBER),
        ended_unrenewed=sum(1 for x in rows if x.renewal is Flag.RED),
        listed=len(rows),
        unsigned=sum(unsigned_owing.values(), ZERO),
        unsigned_contracts=sum(1 for v in unsigned_owing.values() if v > ZERO),
        late_fees_unlisted=sum((x.late_fee for x in signed if not x.listed), ZERO),
        sla_owed_unlisted=sum((x.sla_owed for x in signed if not x.listed), ZERO),
    )
    return Dashboard(as_of, kpis, tuple(ageing), rows, tuple(lines), settings.due_soon_days)


def _worst_first(x: ContractLine) -> tuple[object, ...]:
    return (-x.reds, x.payment is not Flag.RED, -x.ambers, -x.overdue, -x.days_overdue,
            -x.outstanding, x.contract_id)


# --- the sheet ----------------------------------------------------------------------------

STATUS_ZH = {ch.key: ch.zh for ch in schema.STATUS_CHOICES}

COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    # (key, header: Chinese line, English line; style)
    ("client", "客户\nclient", "wrap"),
    ("contract", "合同\ncontract", None),
    ("manager", "经理\nmanager", None),
    ("payment", "付款\npay", "center"),
    ("outstanding", "未收款\noutstanding", "number"),
    ("overdue", "逾期\noverdue", "number"),
    ("days", "天数\ndays", "int"),
    ("fee", "滞纳金\nlate fee", "number"),
    ("sla", "SLA\n ", "center"),
    ("breaches", "违约次\nbreach", "int"),
    ("availability", "可用性\navail.", "avail"),
    ("target", "目标\ntarget", "avail"),
    ("owed", "SLA应付\nowed", "number"),
    ("renewal", "续约\nrenew", "center"),
    ("end", "到期日\nterm end", "date"),
    ("notice", "通知日\nnotice", "date"),
    ("notes", "说明\nnotes", "wrap"),
)
COL = {key: i for i, (key, _, _) in enumerate(COLUMNS)}
FLAG_COLUMNS = ("payment", "sla", "renewal")
_MONEY_FMT = "#,##0.00"
_STYLES: dict[str | None, str] = {"number": "number+top", "int": "int+top", "date": "date+top",
           "avail": "percent+top", "wrap": "wrap", "center": "center+top", None: "top"}
_MAX_WIDTH = {"client": 24.0, "notes": 26.0, "contract": 20.0, "manager": 10.0}
_BREACH_KPI = "付款违约 in breach"
_LINE_PT = 16.5  # one line of 11-point text, CJK fonts (Noto Sans CJK: 1.45 em) included
_FLAG_WIDTH = 5.5


def _notes(x: ContractLine, as_of: dt.date) -> str:
    """A short reason for each flag that is not green, for reading and for print."""
    parts: list[str] = []
    if x.overdue_items:
        parts.append(f"逾期{x.overdue_items}笔，最早{x.oldest_due:%Y-%m-%d}"
                     + (f"（{x.within_grace}笔在宽限期内）" if x.within_grace else ""))
    if x.next_due is not None:
        parts.append(f"{x.next_due:%Y-%m-%d}到期{fmt_money_grouped(x.due_soon)}")
    if x.sla_breaches:
        parts.append(f"本月SLA违约{x.sla_breaches}次")
    if x.availability_breach:
        parts.append("上月可用性低于目标")
    if x.open_incidents:
        parts.append(f"{x.open_incidents}项SLA计时中")
    if x.last_month_breaches:
        parts.append(f"上月SLA违约{x.last_month_breaches}次")
    if x.renewed_by:
        parts.append(f"已由{x.renewed_by}续约")
    elif x.renewal is Flag.RED:
        parts.append("到期未续约")
    elif x.renewal is Flag.AMBER:
        parts.append(f"续约通知期{x.notice_days}天")
    if x.renewal_pending and not x.renewed_by:
        parts.append(f"续约{x.renewal_pending}洽谈中")
    if x.status in IN_FORCE and as_of > x.end:
        parts.append(f"状态仍为{STATUS_ZH.get(x.status, x.status)}")
    elif x.status not in IN_FORCE:
        parts.append(f"状态：{STATUS_ZH.get(x.status, x.status)}")
    return "；".join(parts)


_PCT_SHOWN = Decimal("0.0001")


def _floor_pct(x: Decimal | None) -> Decimal | None:
    """Availability cut (never rounded up) to the 0.01 % the sheet shows, so a month below
    its target never displays as the target (99.8996 % shows 99.89 %, not 99.90 %)."""
    return None if x is None else x.quantize(_PCT_SHOWN, rounding=ROUND_FLOOR)


def _row(x: ContractLine, as_of: dt.date) -> list[CellValue]:
    return [
        x.client, x.contract_id, x.account_manager, x.payment.text, x.outstanding, x.overdue,
        x.days_overdue or None, x.late_fee, x.sla.text, x.sla_breaches or None,
        _floor_pct(x.availability), x.target, x.sla_owed, x.renewal.text, x.end, x.notice_from,
        _notes(x, as_of),
    ]


def _cell_width(value: CellValue, style: str | None) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, Decimal):
        if style == "avail":
            return 7.0
        if style in ("money", "kpi"):
            return len(f"¥{value:,.2f}") + 0.0
        return float(len(f"{value:,.2f}"))
    if isinstance(value, bool):
        return 5.0
    if isinstance(value, int):
        return float(len(f"{value:,}"))
    if isinstance(value, dt.datetime):
        return 16.0
    if isinstance(value, dt.date):
        return 10.0
    return float(widest_line(str(value)))


_ONE_WIDTH = frozenset({type(None), bool, dt.date, dt.datetime})  # a width of their own


def _column_width(cells: list[tuple[CellValue, str | None]]) -> float:
    """The widest of ``cells`` by :func:`_cell_width`, measuring only the cells that can
    be the widest: of the numbers of one type and style, the largest, the smallest (the
    widest digits or the minus sign) and a negative zero if any (-0.00 is wider than 0.00
    and equal to it); each distinct text once; every other value."""
    candidates: dict[tuple[type, str | None], list[CellValue]] = {}
    for value, style in cells:
        candidates.setdefault((value.__class__, style), []).append(value)
    widest = 0.0
    for (kind, style), values in candidates.items():
        if kind is Decimal:
            signed_zero = [v for v in values if not v and v.is_signed()][:1]  # type: ignore[union-attr]
            values = [max(values), min(values), *signed_zero]  # type: ignore[type-var]
        elif kind is int:
            values = [max(values), min(values)]  # type: ignore[type-var]
        elif kind in _ONE_WIDTH:
            values = values[:1]
        elif kind is str:
            values = list(set(values))
        widest = max(widest, *(_cell_width(v, style) for v in values))
    return widest


def _header_width(header: str) -> float:
    return float(widest_line(header))


_TOKENS = re.compile(r"\s|[\u2e81-\U0010ffff]|[^\s\u2e81-\U0010ffff]+")
"""Where a line may break: a space, any wide (CJK) character, or a run of other text."""


def _lines(text: str, width: float) -> int:
    """How many lines ``text`` wraps to in a column ``width`` characters wide: words fill
    a line greedily, a CJK character may start a new line anywhere (CJK characters are
    counted two units wide, as in Excel; LibreOffice draws them narrower)."""
    room = max(width - 1.5, 1.0)  # the cell's padding
    if "\n" not in text and text_width(text) <= room:
        return 1  # all of it fits: the greedy fill never breaks (most cells)
    return _filled_lines(text, room)


def _filled_lines(text: str, room: float) -> int:
    """Lines of ``text`` filled greedily, ``room`` units a line (see :func:`_lines`)."""
    lines = 0
    for part in text.split("\n"):
        lines += 1
        used = 0.0
        for token in _TOKENS.findall(part):
            w = float(text_width(token))
            if used and used + w > room and not token.isspace():
                lines += 1
                used = 0.0
            while w > room:  # a word longer than the line is cut
                lines += 1
                w -= room
            used += w
    return max(lines, 1)


def dashboard_sheet(model: Dashboard, now: dt.datetime) -> SheetContent:
    """The Dashboard as sheet content: a title with the as-of date and refresh time, the
    KPIs beside the ageing table and its chart, then one filterable row per listed
    contract (frozen header, flags as text and by colour, one page wide in print)."""
    k = model.kpis
    ncols = len(COLUMNS)
    rows: list[list[CellValue]] = []
    cell_styles: dict[tuple[int, int], str] = {}
    row_styles: dict[int, str] = {}
    heights: dict[int, float] = {}
    measured: list[list[tuple[CellValue, str | None]]] = [[] for _ in range(ncols)]

    rows.append([f"仪表板 Dashboard — 截至 as of {model.as_of:%Y-%m-%d}（日终 end of day）"])
    row_styles[0] = "title"
    rows.append([f"刷新于 refreshed {now:%Y-%m-%d %H:%M}；列出 {k.listed} 份合同，最严重的在前 "
                 f"{k.listed} contracts listed, worst first；金额单位 元 CNY；指标只含已签署合同"
                 "（草稿、已发送的另列为“未签署”） KPIs cover signed contracts only (draft and "
                 "sent ones: 'not yet signed')"])
    rows.append([f"付款 pay：红 = 逾期超过宽限期 overdue beyond grace；黄 = 宽限期内或 "
                 f"{model.due_soon_days} 天内到期 due within {model.due_soon_days} days。"
                 "SLA：红 = 本月违约或上月可用性低于目标 breach this month or availability "
                 "below target；黄 = 计时中或上月违约 running or breached last month。"])
    rows.append(["续约 renew：黄 = 在续约通知期内 in the notice period before the end；"
                 "红 = 已到期未续约 ended without renewal；绿 = 已续约或未到通知期 renewed or "
                 "not yet due；- = 不适用 n/a。计算过程见 Workings 表（由“计算违约金”更新，"
                 "刷新不更新） workings: Workings sheet (updated by 计算违约金, not by "
                 "refresh)。"])
    if k.late_fees_unlisted or k.sla_owed_unlisted:
        # So the columns reconcile with the KPIs: fees on installments settled late, and
        # SLA sums, of contracts no longer listed (ended, nothing outstanding).
        rows[1][0] = (f"{rows[1][0]}；指标另含未列出合同 KPIs also hold contracts not listed："
                       f"滞纳金 late fees ¥{fmt_money_grouped(k.late_fees_unlisted)}，SLA应付 "
                       f"owed by us ¥{fmt_money_grouped(k.sla_owed_unlisted)}。")
    notes_rows = (1, 2, 3)  # wrapped across the table once its columns are sized
    for r in notes_rows:
        row_styles[r] = "muted+wrap"

    top = len(rows)  # the KPI / ageing header row
    kpis: list[tuple[str, CellValue, str]] = [
        ("未收款 outstanding", k.outstanding, "money+bold"),
        ("逾期 overdue", k.overdue, "money+bold"),
        ("滞纳金 late fees", k.late_fees, "money"),
        ("未签署 not yet signed", k.unsigned, "money"),
        (_BREACH_KPI, k.payment_breaches, "int+bold"),
        ("本月SLA违约 breaches", k.sla_breaches, "int"),
        ("SLA应付 owed by us", k.sla_owed, "money"),
        ("待续约 renewals due", k.renewals_due, "int"),
        ("到期未续约 not renewed", k.ended_unrenewed, "int"),
        ("列出合同 listed", k.listed, "int"),
    ]
    total_overdue = sum((a.amount for a in model.ageing), ZERO)
    ageing_rows: list[tuple[CellValue, ...]] = [
        (a.label, a.amount, a.items, (a.amount / total_overdue) if total_overdue else None)
        for a in model.ageing]
    ageing_rows.append(("合计 total", total_overdue, sum(a.items for a in model.ageing),
                        Decimal(1) if total_overdue else None))
    block = 1 + max(len(kpis), len(ageing_rows))
    a_label, a_amount, a_items, a_share = (COL["outstanding"], COL["overdue"], COL["days"],
                                           COL["fee"])
    for i in range(block):
        line: list[CellValue] = [None] * (a_share + 1)
        r = top + i
        if i == 0:
            line[0], line[1] = "指标 KPI", "数值 value"
            line[a_label], line[a_amount] = "账龄 ageing", "逾期金额 overdue"
            line[a_items], line[a_share] = "笔数 items", "占比 share"
            row_styles[r] = "header"
            heights[r] = 2 * _LINE_PT
        else:
            if i - 1 < len(kpis):
                label, value, style = kpis[i - 1]
                line[0], line[1] = label, value
                cell_styles[(r, 0)] = "text"
                cell_styles[(r, 1)] = style
                measured[0].append((label, None))
                measured[1].append((value, "kpi" if style.startswith("money") else None))
            if i - 1 < len(ageing_rows):
                label_a, amount, items, share = ageing_rows[i - 1]
                total_row = i - 1 == len(ageing_rows) - 1
                line[a_label], line[a_amount], line[a_items], line[a_share] = (
                    label_a, amount, items, share)
                bold = "+bold" if total_row else ""
                cell_styles[(r, a_label)] = "bold" if total_row else "text"
                cell_styles[(r, a_amount)] = "number" + bold
                cell_styles[(r, a_items)] = "int" + bold
                cell_styles[(r, a_share)] = "percent" + bold
                measured[a_label].append((label_a, None))
                measured[a_amount].append((amount, None))
                measured[a_items].append((items, None))
                measured[a_share].append(("100.00%", None))
        while line and line[-1] is None:
            line.pop()
        rows.append(line)
    rows.append([])
    head = len(rows)  # the contract table's header row (0-based)
    rows.append([h for _, h, _ in COLUMNS])
    row_styles[head] = "header"
    heights[head] = 2 * _LINE_PT
    first = head + 1
    notes_at, client_at = COL["notes"], COL["client"]
    body: list[list[CellValue]] = []
    for x in model.rows:
        values = _row(x, model.as_of)
        body.append(values)
        for c, v in enumerate(values):
            if c not in (notes_at, client_at):
                measured[c].append((v, COLUMNS[c][2]))
    rows.extend(body)
    if not model.rows:
        rows.append(["没有需要列出的合同 No contracts to list."])
    last = len(rows)  # 1-based last row

    widths: dict[int, float] = {}
    for c, (key, header, _) in enumerate(COLUMNS):
        content = _column_width(measured[c])
        want = max(_header_width(header), content) + 2
        widths[c] = min(want, _MAX_WIDTH.get(key, 40.0))
    widths[client_at] = min(_MAX_WIDTH["client"], 2 + max(
        (float(widest_line(str(v[client_at]))) for v in body), default=10.0))
    widths[client_at] = max(widths[client_at], widths[0] if measured[0] else 0.0)
    widths[notes_at] = _MAX_WIDTH["notes"]
    for key in FLAG_COLUMNS:
        widths[COL[key]] = max(widths[COL[key]], _FLAG_WIDTH)
    for n, values in enumerate(body):
        lines = max(_lines(str(values[client_at]), widths[client_at]),
                    _lines(str(values[notes_at] or ""), widths[notes_at]))
        if lines > 1:
            heights[first + n] = lines * _LINE_PT + 1.5
    # The notes under the title span the table and wrap there: left to run on to the
    # right, they made the page, fitted to one page wide, print at 5.6 pt.
    span = sum(widths.values())
    merges = [f"A{r + 1}:{schema.col_letter(ncols - 1)}{r + 1}" for r in notes_rows]
    for r in notes_rows:
        lines = _lines(str(rows[r][0]), span)
        if lines > 1:
            heights[r] = lines * _LINE_PT + 1.5

    col_styles = {c: _STYLES[style] for c, (_, _, style) in enumerate(COLUMNS)}
    for r in range(top + 1, top + block):  # the top block: no column styles
        for c in range(ncols):
            cell_styles.setdefault((r, c), "text")
    rules: list[CondRule] = []
    for key in FLAG_COLUMNS:
        letter = schema.col_letter(COL[key])
        ref = f"{letter}{first + 1}:{letter}{max(last, first + 1)}"
        rules += [CondRule(ref, "==", Flag.RED.text, "red"),
                  CondRule(ref, "==", Flag.AMBER.text, "amber"),
                  CondRule(ref, "==", Flag.GREEN.text, "green")]
    breach_row = top + 2 + [label for label, _, _ in kpis].index(_BREACH_KPI)  # 1-based
    rules.append(CondRule(f"B{breach_row}", ">", 0, "red"))  # contracts in payment breach

    charts: list[BarChart] = []
    if model.ageing:
        lab, amt = schema.col_letter(a_label), schema.col_letter(a_amount)
        first_bucket, last_bucket = top + 2, top + 1 + len(model.ageing)  # 1-based rows
        charts.append(BarChart(
            anchor=f"{schema.col_letter(COL['sla'])}{top + 1}:"
                   f"{schema.col_letter(ncols - 1)}{top + block}",
            categories=f"{lab}{first_bucket}:{lab}{last_bucket}",
            values=(f"{amt}{first_bucket}:{amt}{last_bucket}",),
            names=("逾期金额 overdue",),
            title="逾期账龄 overdue ageing（元 CNY）",
            num_format="#,##0",
        ))
    return SheetContent(
        rows=rows,
        col_styles=col_styles,
        row_styles=row_styles,
        cell_styles=cell_styles,
        widths=widths,
        freeze=(first, 2),
        autofilter=f"A{head + 1}:{schema.col_letter(ncols - 1)}{max(last, first)}",
        rules=rules,
        landscape=True,
        fit_width=True,
        print_title_rows=(head + 1, head + 1),
        print_header=f"仪表板 Dashboard — 截至 as of {model.as_of:%Y-%m-%d}",
        charts=charts,
        heights=heights,
        merges=merges,
    )


# --- the job ------------------------------------------------------------------------------


def dashboard_job(book: Book, as_of: dt.date, *, now: dt.datetime | None = None,
                  result: PenaltyResult | None = None) -> JobResult:
    """The Dashboard sheet as of ``as_of`` and a Log line; ``result`` saves recomputing
    the penalties when the caller has them (``refresh``)."""
    from .engine import compute_penalties
    from .jobs import JobResult
    from .toolsheets import log_entry

    now = now or dt.datetime.now().replace(microsecond=0)
    problems: tuple[Problem, ...] = ()
    if result is None:
        result, problems = compute_penalties(book, as_of)
    model = dashboard_model(book, result, as_of)
    k = model.kpis
    summary = (f"dashboard as of {as_of}: {k.listed} contracts listed; overdue "
               f"¥{fmt_money_grouped(k.overdue)} ({k.payment_breaches} in payment breach), "
               f"{k.sla_breaches} SLA breaches this month, {k.renewals_due} renewals due, "
               f"{k.ended_unrenewed} ended without renewal")
    return JobResult({"Dashboard": dashboard_sheet(model, now)},
                     (log_entry("dashboard", summary, now=now),),
                     problems=problems,
                     summary=summary)
