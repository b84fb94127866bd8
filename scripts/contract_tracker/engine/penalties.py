"""Late fees and SLA penalties of a whole book as of one date, and their presentations.

``compute_penalties(book, as_of)`` is the engine's entry point: a pure function of the
records and the date (the end of that day), so re-running it never adds a fee twice.
The presenters turn its result into the ``--json`` object, a terminal table and the rows
of the Workings sheet; none of them touches a file.

JSON format (``penalties_json``); money is a string with exactly two decimals, dates are
ISO, months ``YYYY-MM``, rates plain decimal strings, availability a fraction truncated
to six decimals (``"0.998999"``, so a breach never prints as the target)::

    {"as_of": "2026-06-30",
     "late_fees": [{"contract_id", "installment_id", "kind", "due_date", "due_rule",
                    "provisional", "amount", "paid", "outstanding", "overdue",
                    "days_overdue", "days_late", "rate", "exempt", "fee_exact", "cap",
                    "fee", "fee_paid", "fee_waived", "fee_owed",
                    "segments": [{"receipt_id" (null: open part), "amount",
                    "from" (first late day), "to" (payment day / as-of), "days", "rate",
                    "fee_exact", "fee"}],
                    "settlements": [{"receipt_id", "purpose" (late_fee | fee_waiver),
                                     "date", "amount"}]}],
     "sla": [{"incident_id", "contract_id", "severity", "month", "response_breach",
              "solution_breach", "major_breach", "penalty"}],
     "availability": [{"contract_id", "month", "availability", "target", "breach",
                       "credit", "complete"}],
     "sla_months": [{"contract_id", "month", "monthly_fee", "penalties", "credits",
                     "uncapped", "cap", "owed"}],
     "risk_flags": [{"daily_rate", "annual_rate", "threshold", "contract_ids", "message"}],
     "totals": {"late_fees", "late_fees_paid", "late_fees_waived", "late_fees_owed",
                "outstanding", "overdue", "sla_penalties", "sla_credits",
                "sla_uncapped", "sla_owed", "installments", "installments_with_fee",
                "incidents", "breaches", "availability_breaches"},
     "problems": [{"sheet", "cell", "severity", "message"}]}

``late_fees[].fee`` is the installment's fee (Σ segment ``fee_exact``, capped, rounded
half-up); a segment's ``fee`` is shown rounded for reading only. ``fee_paid`` and
``fee_waived`` are what receipts of 滞纳金 and 减免滞纳金 settled of it (up to the as-of date),
``fee_owed`` what is left: ``fee - fee_paid - fee_waived``. ``sla[].penalty`` is
before the monthly cap; ``sla_months[].owed`` is after it and is what ``sla_owed`` adds.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from itertools import compress, repeat
from operator import add, attrgetter, itemgetter, mul
from typing import Any, NamedTuple

from ..gcpause import gc_paused
from ..money import FEN, ZERO, fmt_money, fmt_money_grouped
from ..records import Book, Contract, Problem, Source
from .availability import MonthAvailability, availability_months
from .calendar import calendar_for, calendar_in_force
from .context import ContractIndex, index_contracts, ref, refs
from .latefees import InstallmentFee, InstallmentFees, RiskFlag, late_fees
from .sla import IncidentSla, IncidentSlas, SlaContext, incident_slas, monthly_fee_basis


class SlaMonth(NamedTuple):
    """What we owe one contract for one month, before and after the monthly cap."""

    contract_id: str
    month: dt.date
    monthly_fee: Decimal
    contract: Contract  # for the monthly fee's basis
    penalties: Decimal  # Σ incident penalties reported that month
    credits: Decimal  # the month's availability credit
    uncapped: Decimal
    cap_pct: Decimal
    cap: Decimal  # round_half_up(cap_pct × monthly fee)
    owed: Decimal  # min(uncapped, cap)
    cap_src: Source

    @property
    def fee_basis(self) -> str:
        """How the monthly fee was found, naming its cells."""
        return monthly_fee_basis(self.contract)


class Totals(NamedTuple):
    late_fees: Decimal  # Σ rounded installment fees, as the contract gives them
    outstanding: Decimal
    overdue: Decimal
    sla_penalties: Decimal  # Σ incident penalties before caps
    sla_credits: Decimal  # Σ availability credits before caps
    sla_uncapped: Decimal
    sla_owed: Decimal  # after the monthly caps: owed by us
    installments: int
    installments_with_fee: int
    incidents: int
    breaches: int  # breached clocks
    availability_breaches: int
    late_fees_paid: Decimal = ZERO  # of late_fees, received (receipts of 滞纳金)
    late_fees_waived: Decimal = ZERO  # of late_fees, waived (receipts of 减免滞纳金)

    @property
    def late_fees_owed(self) -> Decimal:
        """Late fees still to collect."""
        return self.late_fees - self.late_fees_paid - self.late_fees_waived


class PenaltyResult(NamedTuple):
    as_of: dt.date
    late_fees: InstallmentFees  # rows built on first read; .positions() the money alone
    sla: IncidentSlas  # rows built on first read; .breached() builds only the breached
    availability: tuple[MonthAvailability, ...]
    sla_months: tuple[SlaMonth, ...]
    risk_flags: tuple[RiskFlag, ...]
    totals: Totals
    problems: tuple[Problem, ...]  # the same problems compute_penalties returns


def compute_penalties(book: Book, as_of: dt.date) -> tuple[PenaltyResult, tuple[Problem, ...]]:
    """Late fees (clause 7.2) and SLA penalties and credits (clause 1.2) as of the end of
    ``as_of``, with everything needed to show how each figure was reached."""
    calendar, _ = calendar_for(book.settings.holidays)
    with gc_paused(), calendar_in_force(calendar):  # the engine makes no reference cycles
        return _compute(book, as_of)


def _compute(book: Book, as_of: dt.date) -> tuple[PenaltyResult, tuple[Problem, ...]]:
    index, problems = index_contracts(book)
    problems = calendar_for(book.settings.holidays)[1] + problems
    ctx = SlaContext(index)
    fees, p_fees = late_fees(book, as_of, index)
    slas, p_sla = incident_slas(book, as_of, index, ctx)
    months, p_avail = availability_months(book, as_of, index, ctx)
    all_problems = problems + p_fees + p_sla + p_avail

    penalties = slas.penalties
    credited = list(compress(months, map(_CREDIT, months)))
    credits = dict(zip(map(_MONTH_KEY, credited), map(_CREDIT, credited), strict=True))
    sla_months = _sla_months(sorted(penalties.keys() | credits.keys()), penalties, credits,
                             index, ctx, book.settings.source_of("sla_monthly_cap_pct"))
    items = fees.installments
    totals = Totals(
        late_fees=fees.total_fee,
        outstanding=fees.outstanding,
        overdue=fees.overdue,
        sla_penalties=sum(penalties.values(), ZERO),
        sla_credits=sum(credits.values(), ZERO),
        sla_uncapped=sum(map(_UNCAPPED, sla_months), ZERO),
        sla_owed=sum(map(_OWED, sla_months), ZERO),
        installments=len(items),
        installments_with_fee=fees.with_fee,
        incidents=len(slas.incidents),
        breaches=slas.breaches,
        availability_breaches=sum(map(_BREACH, months)),
        late_fees_paid=fees.fee_paid,
        late_fees_waived=fees.fee_waived,
    )
    result = PenaltyResult(as_of, items, slas.incidents, months, tuple(sla_months), fees.risk_flags,
                           totals, all_problems)
    return result, all_problems


_CREDIT = attrgetter("credit")
_BREACH = attrgetter("breach")
_MONTH_KEY = attrgetter("contract_id", "month")
_UNCAPPED = attrgetter("uncapped")
_OWED = attrgetter("owed")
_SLA_MONTH = partial(tuple.__new__, SlaMonth)
_CAP_PCT = attrgetter("sla_monthly_cap_pct")


def _sla_months(keys: list[tuple[str, dt.date]], penalties: dict[tuple[str, dt.date], Decimal],
                credits: dict[tuple[str, dt.date], Decimal], index: ContractIndex,
                ctx: SlaContext, cap_src: Source) -> tuple[SlaMonth, ...]:
    """Penalties and credits per contract-month, capped at the contract's monthly cap
    (cap % × monthly fee, rounded half-up, computed once per contract)."""
    cids = list(map(itemgetter(0), keys))
    each = list(set(cids))
    fees = ctx.fees(each)
    pcts = list(map(_CAP_PCT, map(index.terms.__getitem__, each)))
    cap_each = map(Decimal.quantize, map(mul, pcts, fees), repeat(FEN), repeat(ROUND_HALF_UP))
    per_contract = dict(zip(each, zip(fees, map(index.contracts.__getitem__, each), pcts,
                                      cap_each, strict=True), strict=True))
    facts = list(map(per_contract.__getitem__, cids))
    pens = list(map(penalties.get, keys, repeat(ZERO)))
    creds = list(map(credits.get, keys, repeat(ZERO)))
    uncapped = list(map(add, pens, creds))
    caps = list(map(itemgetter(3), facts))
    return tuple(map(_SLA_MONTH, zip(
        cids, map(itemgetter(1), keys), map(itemgetter(0), facts), map(itemgetter(1), facts),
        pens, creds, uncapped, map(itemgetter(2), facts), caps, map(min, uncapped, caps),
        repeat(cap_src), strict=False)))


# --- JSON --------------------------------------------------------------------------


def _money(x: Decimal) -> str:
    return fmt_money(x)


def _opt_money(x: Decimal | None) -> str | None:
    return None if x is None else fmt_money(x)


def _month(d: dt.date) -> str:
    return f"{d:%Y-%m}"


def _plain(x: Decimal) -> str:
    """A rate or exact amount without exponent notation (0.0005, not 5E-4)."""
    return format(x.normalize(), "f") if x else "0"


def penalties_json(result: PenaltyResult) -> dict[str, Any]:
    """The ``--json`` object (format in the module docstring)."""
    t = result.totals
    return {
        "as_of": result.as_of.isoformat(),
        "late_fees": [
            {
                "contract_id": f.contract_id,
                "installment_id": f.installment_id,
                "kind": f.kind,
                "due_date": f.due.date.isoformat(),
                "due_rule": f.due.rule,
                "provisional": f.due.provisional,
                "amount": _money(f.amount),
                "paid": _money(f.paid),
                "outstanding": _money(f.outstanding),
                "overdue": _money(f.overdue),
                "days_overdue": f.days_overdue,
                "days_late": f.days_late,
                "rate": _plain(f.rate),
                "exempt": f.exempt,
                "fee_exact": _plain(f.fee_exact),
                "cap": _opt_money(f.cap),
                "fee": _money(f.fee),
                "fee_paid": _money(f.fee_paid),
                "fee_waived": _money(f.fee_waived),
                "fee_owed": _money(f.fee_owed),
                "segments": [
                    {
                        "receipt_id": s.receipt_id,
                        "amount": _money(s.amount),
                        "from": s.first_late_day.isoformat(),
                        "to": s.last_day.isoformat(),
                        "days": s.days,
                        "rate": _plain(s.rate),
                        "fee_exact": _plain(s.fee),
                        "fee": _money(s.fee),
                    }
                    for s in f.segments
                ],
                "settlements": [
                    {"receipt_id": x.receipt_id, "purpose": x.purpose,
                     "date": x.date.isoformat(), "amount": _money(x.amount)}
                    for x in f.settlements
                ],
            }
            for f in result.late_fees
        ],
        "sla": [
            {
                "incident_id": s.incident_id,
                "contract_id": s.contract_id,
                "severity": s.severity,
                "month": _month(s.month),
                "response_breach": s.breached("response"),
                "solution_breach": s.breached("solution"),
                "major_breach": s.breached("major"),
                "penalty": _money(s.penalty),
            }
            for s in result.sla
        ],
        "availability": [
            {
                "contract_id": m.contract_id,
                "month": _month(m.month),
                "availability": str(m.shown),
                "target": _plain(m.target),
                "breach": m.breach,
                "credit": _money(m.credit),
                "complete": m.complete,
            }
            for m in result.availability
        ],
        "sla_months": [
            {
                "contract_id": m.contract_id,
                "month": _month(m.month),
                "monthly_fee": _money(m.monthly_fee),
                "penalties": _money(m.penalties),
                "credits": _money(m.credits),
                "uncapped": _money(m.uncapped),
                "cap": _money(m.cap),
                "owed": _money(m.owed),
            }
            for m in result.sla_months
        ],
        "risk_flags": [
            {
                "daily_rate": _plain(r.daily_rate),
                "annual_rate": _plain(r.annual_rate),
                "threshold": _plain(r.threshold),
                "contract_ids": list(r.contract_ids),
                "message": r.message,
            }
            for r in result.risk_flags
        ],
        "totals": {
            "late_fees": _money(t.late_fees),
            "late_fees_paid": _money(t.late_fees_paid),
            "late_fees_waived": _money(t.late_fees_waived),
            "late_fees_owed": _money(t.late_fees_owed),
            "outstanding": _money(t.outstanding),
            "overdue": _money(t.overdue),
            "sla_penalties": _money(t.sla_penalties),
            "sla_credits": _money(t.sla_credits),
            "sla_uncapped": _money(t.sla_uncapped),
            "sla_owed": _money(t.sla_owed),
            "installments": t.installments,
            "installments_with_fee": t.installments_with_fee,
            "incidents": t.incidents,
            "breaches": t.breaches,
            "availability_breaches": t.availability_breaches,
        },
        "problems": [
            {"sheet": p.sheet, "cell": p.cell, "severity": p.severity.value,
             "message": p.message}
            for p in result.problems
        ],
    }


# --- terminal table ----------------------------------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _grid(header: Sequence[str], rows: Iterable[Sequence[object]],
          right: frozenset[int] = frozenset()) -> list[str]:
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        out = []
        for i, text in enumerate(row):
            pad = " " * (widths[i] - _width(text))
            out.append(pad + text if i in right else text + pad)
        return "  ".join(out).rstrip()

    return [line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]]


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return fmt_money_grouped(v)
    if isinstance(v, bool):
        return "yes" if v else ""
    return str(v)


def penalties_table(result: PenaltyResult, limit: int | None = None) -> str:
    """A readable report: installments with a fee or overdue, SLA breaches, availability
    breaches and credits, contract-months with what we owe, totals and problems.
    ``limit`` shortens each section to that many rows."""
    t = result.totals
    out = [f"Penalties as of {result.as_of} (end of day)", ""]

    def section(title: str, header: Sequence[str], rows: list[Sequence[object]],
                right: frozenset[int]) -> None:
        out.append(f"{title}: {len(rows)}")
        if rows:
            shown = rows if limit is None else rows[:limit]
            out.extend(_grid(header, shown, right))
            if len(shown) < len(rows):
                out.append(f"... {len(rows) - len(shown)} more")
        out.append("")

    section(
        "Late fees, clause 7.2 (installments with a fee or overdue)",
        ("contract", "installment", "due", "amount", "outstanding", "overdue", "days late",
         "fee", "fee owed", "note"),
        [(f.contract_id, f.installment_id, f.due.date, f.amount, f.outstanding, f.overdue,
          f.days_late, f.fee, f.fee_owed, _fee_note(f))
         for f in result.late_fees if f.fee or f.overdue],
        frozenset({3, 4, 5, 6, 7, 8}),
    )
    section(
        "SLA breaches, clause 1.2",
        ("incident", "contract", "reported", "response", "solution", "major", "penalty"),
        [(s.incident_id, s.contract_id, f"{s.reported_at:%Y-%m-%d %H:%M}",
          _verdict(s, "response"), _verdict(s, "solution"), _verdict(s, "major"), s.penalty)
         for s in result.sla if any(c.breached for c in s.clocks)],
        frozenset({6}),
    )
    section(
        "Availability below target or earning a credit, clause 1.2(3)",
        ("contract", "month", "availability", "target", "breach", "credit"),
        [(m.contract_id, _month(m.month), f"{m.shown * 100:.4f} %", f"{_plain(m.target * 100)} %",
          m.breach, m.credit)
         for m in result.availability if m.breach or m.credit],
        frozenset({2, 3, 5}),
    )
    section(
        "SLA owed per contract-month (monthly cap applied)",
        ("contract", "month", "penalties", "credits", "uncapped", "cap", "owed"),
        [(m.contract_id, _month(m.month), m.penalties, m.credits, m.uncapped, m.cap, m.owed)
         for m in result.sla_months],
        frozenset({2, 3, 4, 5, 6}),
    )
    out.append("Totals")
    out.extend(_grid(("", "amount"), [
        ("late fees (clause 7.2)", t.late_fees),
        ("  received (滞纳金)", t.late_fees_paid),
        ("  waived (减免滞纳金)", t.late_fees_waived),
        ("late fees owed to us", t.late_fees_owed),
        ("outstanding", t.outstanding),
        ("overdue", t.overdue),
        ("SLA penalties + credits before caps", t.sla_uncapped),
        ("SLA owed by us after monthly caps", t.sla_owed),
    ], frozenset({1})))
    out.append("")
    for flag in result.risk_flags:
        out.append(f"Note: {flag.message} ({len(flag.contract_ids)} contract(s))")
    if result.problems:
        out.append(f"Problems: {len(result.problems)}")
        shown_p = result.problems if limit is None else result.problems[:limit]
        out.extend(f"  {p.severity.value}: {p}" for p in shown_p)
        if len(shown_p) < len(result.problems):
            out.append(f"  ... {len(result.problems) - len(shown_p)} more")
    return "\n".join(out).rstrip() + "\n"


def _fee_note(f: InstallmentFee) -> str:
    notes = []
    if f.exempt:
        notes.append("exempt")
    if f.cap is not None and f.fee_exact > f.cap:
        notes.append("capped")
    if f.due.moved_from is not None:
        notes.append(f"due moved from {f.due.moved_from}")
    if f.due.provisional:
        notes.append("due date provisional")
    if f.fee_paid:
        notes.append(f"fee received {fmt_money_grouped(f.fee_paid)}")
    if f.fee_waived:
        notes.append(f"fee waived {fmt_money_grouped(f.fee_waived)}")
    return ", ".join(notes)


def _verdict(s: IncidentSla, breach_type: str) -> str:
    c = s.clock_of(breach_type)
    if c is None:
        return "-"
    return f"{c.verdict} {_hms(c.elapsed_us)}"


def _hms(us: int) -> str:
    seconds = us // 1_000_000
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


# --- Workings sheet ----------------------------------------------------------------

WORKINGS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("section", "类别"),
    ("contract_id", "合同编号"),
    ("item_id", "编号"),
    ("part", "组成"),
    ("base", "基数"),
    ("start", "起"),
    ("stop", "止"),
    ("quantity", "天数/时长"),
    ("rate_or_limit", "费率/时限"),
    ("result", "金额"),
    ("verdict", "结论"),
    ("source", "来源单元格"),
    ("explanation", "计算说明"),
)
"""The Workings sheet's columns, headed ``中文 (key)`` like the user sheets."""


def workings_rows(result: PenaltyResult) -> list[list[object]]:
    """Header + one row per late-fee segment (and an installment total), per SLA clock,
    per availability month, per capped contract-month and per risk flag. Each row names
    the cells its figures come from, e.g. ``Receipts!E17``."""
    rows: list[list[object]] = [[f"{zh} ({key})" for key, zh in WORKINGS_COLUMNS]]
    for f in result.late_fees:
        if f.segments:
            rows.extend(_fee_rows(f))
    limits: dict[int, str] = {}
    for s in result.sla:
        rows.extend(_sla_rows(s, limits))
    for m in result.availability:
        rows.append(_availability_row(m))
    for sm in result.sla_months:
        rows.append(_cap_row(sm))
    for flag in result.risk_flags:
        rows.append([
            "风险提示 risk", ", ".join(flag.contract_ids[:20])
            + (" ..." if len(flag.contract_ids) > 20 else ""),
            "", "late-fee rate", None, None, None, None, flag.daily_rate, None,
            "above LPR x 1.5", "", flag.message,
        ])
    return rows


def _fee_rows(f: InstallmentFee) -> list[list[object]]:
    rows: list[list[object]] = []
    due_cells = refs(*f.due.sources)
    for s in f.segments:
        if s.receipt_id is None:
            part, source = "open part", refs(ref(f.src, "amount"), due_cells)
        else:
            part = f"receipt {s.receipt_id}"
            source = refs(ref(s.src, "amount"), ref(s.src, "date"), due_cells)
        rows.append([
            "滞纳金 late_fee", f.contract_id, f.installment_id, part, s.amount,
            s.first_late_day, s.last_day, s.days, s.rate, s.fee, "",
            refs(source, f.rate_ref),
            f"{fmt_money_grouped(s.amount)} × {_plain(s.rate)} × {s.days} days = "
            f"{_plain(s.fee)}",
        ])
    explain = [f"due {f.due.rule}"]
    if f.grace_days:
        explain.append(f"grace {f.grace_days} days: first late day "
                       f"{f.due.date + dt.timedelta(days=f.grace_days + 1)}")
    explain.append(f"fee = round half-up(Σ segments {_plain(f.fee_exact)})")
    verdict = ""
    if f.cap is not None and f.fee_exact > f.cap:
        explain.append(f"capped at {_plain(f.cap)} (cap % × amount "
                       f"{fmt_money_grouped(f.amount)})")
        verdict = "capped"
    if f.exempt:
        explain.append("contract exempt from late fees (late_fee_exempt)")
        verdict = "exempt"
    if f.settlements:  # after the cap: what was received or waived comes off the fee
        explain.append(f"fee {fmt_money_grouped(f.fee)}, received "
                       f"{fmt_money_grouped(f.fee_paid)}, waived "
                       f"{fmt_money_grouped(f.fee_waived)}: still owed "
                       f"{fmt_money_grouped(f.fee_owed)}")
    rows.append([
        "滞纳金合计 late_fee_total", f.contract_id, f.installment_id, "installment",
        f.amount, f.due.date, f.segments[-1].last_day, f.days_late, f.rate, f.fee, verdict,
        refs(ref(f.src, "amount"), due_cells, f.rate_ref), "; ".join(explain),
    ])
    for x in f.settlements:
        rows.append([
            "滞纳金结算 fee_settled", f.contract_id, f.installment_id,
            f"receipt {x.receipt_id}", x.amount, x.date, x.date, None, None, x.amount,
            "waived" if x.waived else "received",
            refs(ref(x.src, "amount"), ref(x.src, "purpose"), ref(x.src, "date")),
            f"{'减免滞纳金 fee waived' if x.waived else '滞纳金 fee received'} "
            f"{fmt_money_grouped(x.amount)} on {x.date}, settling this installment's fee",
        ])
    return rows


_STOP_KEY = {"response": "responded_at", "solution": "solution_at", "major": "resolved_at"}
_CLOCK_ZH = {"response": "响应 response", "solution": "方案 solution", "major": "重大 major"}


def _stamp(moment: dt.datetime) -> str:
    """``2026-03-01 10:00:00`` (isoformat is C-quick; strftime only for microseconds)."""
    return moment.isoformat(" ") if not moment.microsecond else f"{moment:%Y-%m-%d %H:%M:%S}"


def _sla_rows(s: IncidentSla, limits: dict[int, str]) -> list[list[object]]:
    """The rows of one incident's clocks; ``limits`` caches the h:mm:ss of the few
    distinct limits for one Workings sheet."""
    rows: list[list[object]] = []
    src = s.src
    start = f"{s.clock} clock from {_stamp(s.reported_at)} to "
    for c in s.clocks:
        cells = [ref(src, "reported_at"), ref(src, _STOP_KEY[c.breach_type])]
        spent = _hms(c.elapsed_us)
        limit = limits.get(c.limit_us)
        if limit is None:
            limit = limits[c.limit_us] = _hms(c.limit_us)
        explain = [start + (_stamp(c.stop) if c.stop is not None
                            else f"end of as-of day {s.judged_at:%Y-%m-%d %H:%M} (not stopped)")]
        if s.paused_minutes and c.breach_type != "response":
            cells.append(ref(src, "paused_minutes"))
            explain.append(f"{s.paused_minutes} paused minutes taken off")
        explain.append(f"counted {spent} vs limit {limit}")
        if c.breached:
            if c.rule is None:
                explain.append("no penalty in the schedule for this breach")
            else:
                cells.append(ref(c.rule.src, "value"))
                how = (f"{_plain(c.rule.value)} × monthly fee" if c.rule.mode == "percent"
                       else "fixed sum")
                explain.append(f"penalty {c.rule.schedule}/{c.rule.breach}: {how} = {c.penalty}")
        rows.append([
            "SLA " + _CLOCK_ZH[c.breach_type], s.contract_id, s.incident_id, s.severity,
            s.clock, s.reported_at, c.stop if c.stop is not None else s.judged_at,
            spent, limit, c.penalty, c.verdict,
            refs(*cells), "; ".join(explain),
        ])
    return rows


def _availability_row(m: MonthAvailability) -> list[object]:
    cells = refs(*(ref(src, "downtime_minutes") for src in m.sources))
    explain = (f"1 - {_plain(m.downtime)} / ({m.minutes} - {_plain(m.maintenance)}) = "
               f"{m.shown} vs target {_plain(m.target)}")
    if m.tier is not None:
        explain += (f"; below {_plain(m.tier.below)}: {_plain(m.tier.credit_pct)} × "
                    f"monthly fee {m.monthly_fee} = {m.credit}")
        cells = refs(cells, ref(m.tier.src, "credit_pct"))
    if not m.complete:
        explain += "; month not over yet"
    return [
        "可用性 availability", m.contract_id, _month(m.month), "month", m.base, m.month,
        m.month.replace(day=m.minutes // 1440), m.downtime, m.target, m.credit,
        "breach" if m.breach else "met", cells, explain,
    ]


def _cap_row(m: SlaMonth) -> list[object]:
    verdict = "capped" if m.uncapped > m.cap else "under cap"
    return [
        "SLA月度上限 sla_cap", m.contract_id, _month(m.month), "contract-month",
        m.monthly_fee, None, None, None, m.cap_pct, m.owed, verdict,
        ref(m.cap_src, "value"),
        f"penalties {m.penalties} + credits {m.credits} = {m.uncapped}; cap "
        f"{_plain(m.cap_pct)} × monthly fee {m.monthly_fee} ({m.fee_basis}) = {m.cap}; "
        f"owed {m.owed}",
    ]
