"""Late fees of clause 7.2 (滞纳金): due dates, receipt allocation, fee segments.

Rules, every one a per-contract setting with a Settings default (see ``terms.py``):

* Due date (clause 3.4): the installment's own ``due_date``; otherwise a prepayment is
  due ``prepay_days`` calendar or working days after signing and a final payment
  ``final_days`` after the term ends. A due date on a statutory rest day moves to the
  next working day when ``move_due_off_rest_days`` is on (Civil Code art. 203). A date
  in a year after the holiday data (the package's, extended by the Settings sheet's
  节假日安排 table) is kept provisionally, its working days counted as in
  ``calendar.approx_add_days``, with one warning a year: left out,
  the installment would vanish from the Dashboard and the letters just when it falls
  due. A date before the data is an error problem and the installment is left out.
* Receipts dated up to the as-of date pay the installment they name, otherwise the
  oldest open installment of the contract (by due date, then ID). Within one day named
  receipts are applied before unnamed ones, so splitting a receipt changes nothing.
  Receipts dated after the as-of date do not exist yet. An excess is an overpayment
  warning at the receipt's amount; a receipt naming an unknown installment, or one of
  another contract, is an error at its installment cell and is not applied.
* A day is late when it is after the due date plus the grace days (calendar days). The
  payment day counts: due 03-31, paid 04-10 is 10 days late; with 5 grace days, 5. An
  open part is late up to and including the as-of date.
* Fee = Σ part × rate × days late, over the parts paid late and the part still open.
  The sum is exact; the installment's fee is that sum, capped at ``late_fee_cap_pct`` ×
  its amount, rounded half-up to 0.01. Totals add rounded installment fees.
* Overdue (for ageing and dunning) is the outstanding amount once the due date has
  passed; grace days only spare the fee.
* A receipt whose purpose (款项) is 滞纳金 (a late fee received) or 减免滞纳金 (a late fee
  waived) pays no installment: it settles late fees. Dated up to the as-of date, in date
  order (named ones first within a day), each settles the fee of the installment it
  names, else the fees of its contract's installments oldest due first, each up to the
  fee as of the as-of date; an excess is a warning and is not applied. What is left is
  the fee still owed (``fee_owed``), which the Dashboard and the letters ask for; ``fee``
  stays the fee the contract gives, with its workings.

Implementation: ``late_fees`` runs ``columnar.columnar_ledger`` first: the same state by
whole columns in numpy (money in fen, days as ordinals), reading the reader's columns of
Installments and Receipts where the book has them (see its docstring); it hands the
exceptions below to this module's code and a book it does not take to ``_Ledger`` whole.
``_Ledger``: in the common case (each receipt names an installment of its own contract
and none is overpaid) allocation does not depend on order, so receipts are
simply added up in one pass, which also weighs each part paid late (part × days late);
contracts with an unnamed receipt or an overpaid installment are then redone receipt by
receipt in date order, the rule as stated. Only the installments not paid exactly in
full are looked at again (open parts, overpayments). Due dates come from the day table
by whole columns. Fees are kept side by side with their positions; result rows, and the
segments that show how each fee was reached, are built when first read: totals do not
need them. On a large book the cost is in touching each record (a random memory access
per field), so every record is read as few times as possible.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import partial
from itertools import compress, count, repeat
from operator import (
    and_,
    attrgetter,
    eq,
    is_,
    is_not,
    itemgetter,
    mul,
    ne,
    not_,
    sub,
)
from typing import NamedTuple, TypeAlias, overload

from ..money import EXACT, FEN, ZERO, fmt_money_grouped
from ..records import NO_SOURCE, Book, Contract, Installment, Problem, Receipt, Severity, Source
from ..schema import FEE_PURPOSES, PURPOSE_FEE_WAIVER, RECEIPT_PURPOSE_CHOICES
from ..terms import Terms
from .calendar import (
    CALENDAR_DAYS,
    DAY_TYPES,
    FIRST_YEAR,
    WORKING_DAYS,
    CalendarYearError,
    approx_add_days,
    calendar_for,
    calendar_in_force,
    calendar_message,
    calendar_problem,
    current_calendar,
    due_date,
    due_dates,
)
from .context import ContractIndex, index_contracts, ref

CLAUSE = "7.2"
LPR_MULTIPLIER = Decimal("1.5")  # courts test 7.2's rate against the one-year LPR + 30-50 %
DAYS_PER_YEAR = 365
_NO_DATE = dt.date.max  # internal: an installment without a usable due date is never late
_ONE_DAY = dt.timedelta(days=1)
_LATE_WORDS = "; their fees may change by a few days once the holidays are known"
_ZERO_FEN = Decimal("0.00")


class DueRule(NamedTuple):
    """How an installment kind without a fixed date gets one (clause 3.4)."""

    basis: str  # Contract field the period runs from
    days: str  # Contract field holding N
    day_type: str  # Contract field holding calendar | working


DUE_RULES: dict[str, DueRule] = {
    "prepayment": DueRule("signing_date", "prepay_days", "prepay_day_type"),
    "final": DueRule("end_date", "final_days", "final_day_type"),
}
"""Kinds missing from this table ("progress") need a due date of their own."""


_BASIS_WORDS = {"signing_date": "signing", "end_date": "term end"}


class DueDate(NamedTuple):
    """An installment's effective due date and how it was found."""

    date: dt.date
    basis: str  # "fixed", or the Contract field the period runs from
    base: dt.date  # the fixed date, or the signing / end date
    days: int  # N of the rule (0 for a fixed date)
    day_type: str  # calendar | working
    moved_from: dt.date | None  # the rest day it was moved off (Civil Code art. 203)
    provisional_year: int | None  # set when the holiday data stopped short of this year
    src: Source  # the row the rule comes from (installment or contract)
    keys: tuple[str, ...]  # its columns

    @property
    def provisional(self) -> bool:
        return self.provisional_year is not None

    @property
    def sources(self) -> tuple[str, ...]:
        """The cells behind the date, e.g. ``('Installments!E5',)``."""
        return tuple(ref(self.src, k) for k in self.keys if self.src.sheet)

    @property
    def rule(self) -> str:
        """The date's derivation in words, for the workings."""
        if self.basis == "fixed":
            text = f"fixed {self.base}"
        else:
            raw = self.moved_from or self.date
            text = (f"{_BASIS_WORDS.get(self.basis, self.basis)} {self.base} + {self.days} "
                    f"{self.day_type} days = {raw}")
        if self.moved_from is not None:
            text += f"; {self.moved_from} is a rest day, moved to {self.date} (Civil Code art. 203)"
        if self.provisional_year is not None:
            text += f" (provisional: no holiday data for {self.provisional_year})"
        return text


class Segment(NamedTuple):
    """One part of an installment paid late, or its part still open at the as-of date."""

    receipt_id: str | None  # None: the open part
    amount: Decimal
    first_late_day: dt.date
    last_day: dt.date  # the payment day, or the as-of date for the open part
    days: int
    rate: Decimal
    fee: Decimal  # exact, unrounded
    src: Source  # the receipt's row; NO_SOURCE for the open part


class Settlement(NamedTuple):
    """Part of a receipt of 滞纳金 (fee received) or 减免滞纳金 (fee waived) settling an
    installment's late fee."""

    receipt_id: str
    purpose: str  # late_fee | fee_waiver
    date: dt.date
    amount: Decimal  # the part of the receipt applied to this installment's fee
    src: Source

    @property
    def waived(self) -> bool:
        return self.purpose == PURPOSE_FEE_WAIVER


class InstallmentFee(NamedTuple):
    """An installment's position and late fee as of a date."""

    contract_id: str
    installment_id: str
    kind: str
    amount: Decimal
    due: DueDate
    grace_days: int
    rate: Decimal  # the daily rate charged (0 when exempt)
    exempt: bool
    paid: Decimal  # receipts up to the as-of date applied to it
    outstanding: Decimal
    overdue: Decimal  # outstanding once the due date has passed
    days_overdue: int  # as-of date - due date, when overdue
    days_late: int  # the longest segment: how late its last part was or is
    fee_exact: Decimal  # Σ segment fees, unrounded and uncapped
    cap: Decimal | None  # cap_pct × amount, if a cap applies
    fee: Decimal  # round_half_up(min(fee_exact, cap))
    segments: tuple[Segment, ...]
    src: Source
    rate_src: Source  # the row the rate comes from: the contract's, or Settings'
    rate_key: str  # its column
    fee_paid: Decimal = ZERO  # settled by receipts of 滞纳金, up to the as-of date
    fee_waived: Decimal = ZERO  # settled by receipts of 减免滞纳金
    settlements: tuple[Settlement, ...] = ()

    @property
    def rate_ref(self) -> str:
        return ref(self.rate_src, self.rate_key)

    @property
    def fee_owed(self) -> Decimal:
        """The fee still to collect: ``fee`` less what was received or waived."""
        if not self.settlements:
            return self.fee
        return self.fee - self.fee_paid - self.fee_waived


class Position(NamedTuple):
    """An installment's money as of a date without its workings: what the Dashboard and
    the report's scan need, built from the run's state without a segment or a rule."""

    contract_id: str
    installment_id: str
    due_date: dt.date
    grace_days: int
    amount: Decimal
    paid: Decimal
    outstanding: Decimal
    overdue: Decimal  # outstanding once the due date has passed
    days_overdue: int  # as-of date - due date, when overdue
    fee: Decimal  # as InstallmentFee.fee
    src: Source
    fee_owed: Decimal  # as InstallmentFee.fee_owed


_POSITION = partial(tuple.__new__, Position)


class RiskFlag(NamedTuple):
    """Informational: a daily rate whose yearly equivalent exceeds one-year LPR × 1.5."""

    daily_rate: Decimal
    annual_rate: Decimal
    threshold: Decimal
    contract_ids: tuple[str, ...]

    @property
    def message(self) -> str:
        return (
            f"late-fee rate {self.daily_rate}/day is {self.annual_rate:.2%} a year, above "
            f"one-year LPR x {LPR_MULTIPLIER} = {self.threshold:.2%}: a court may reduce it "
            f"(Civil Code art. 585)"
        )


# --- due dates ---------------------------------------------------------------------

_FIXED_KEYS: tuple[str, ...] = ("due_date",)
_RULE_KEYS = {k: (r.basis, r.days, r.day_type) for k, r in DUE_RULES.items()}

Resolved: TypeAlias = tuple[dt.date, dt.date | None, int | None] | int
"""(due date, moved from, provisional year), or the year the holiday data lacks."""
Memo: TypeAlias = dict[tuple[dt.date, int, str, bool], Resolved]


def provisional_problems(provisional: Mapping[int, tuple[int, Source]], as_of: dt.date
                         ) -> list[Problem]:
    """One warning per year without holiday data: year -> (due dates in it, the first
    row's source)."""
    return [Problem.at(
        first, "due_date",
        f"{seen} due date(s) are provisional (this one first), counting Monday "
        f"to Friday except the fixed-date public holidays as working days"
        f"{_LATE_WORDS if year <= as_of.year else ''}: {calendar_message(year)}",
        Severity.WARNING,
    ) for year, (seen, first) in sorted(provisional.items())]


def _resolve(base: dt.date, n: int, day_type: str, move: bool,
             as_of: dt.date | None) -> Resolved:
    try:
        day, moved_from = due_date(base, n, day_type == WORKING_DAYS, move)
        return day, moved_from, None
    except CalendarYearError as err:
        if as_of is None or err.year < FIRST_YEAR:
            return err.year
        # Kept provisionally: an installment left out would drop out of the Dashboard and
        # the dunning letters exactly when it falls due. One warning a year says so.
        raw = approx_add_days(base, n, day_type, False)
        day = approx_add_days(base, n, day_type, move)
        return day, (raw if day != raw else None), err.year


def _rule_of(inst: Installment, contract: Contract
             ) -> tuple[str, dt.date, int, str, Source, tuple[str, ...]] | Problem:
    if inst.due_date is not None:
        return "fixed", inst.due_date, 0, CALENDAR_DAYS, inst.src, _FIXED_KEYS
    rule = DUE_RULES.get(inst.kind)
    if rule is None:
        return Problem.at(
            inst.src, "due_date",
            f"{inst.kind} installment {inst.installment_id} has no due date; only "
            f"prepayments and final payments follow a contract rule (clause 3.4)",
        )
    base = getattr(contract, rule.basis)
    days = getattr(contract, rule.days)
    day_type = getattr(contract, rule.day_type) or CALENDAR_DAYS
    if days is None or base is None:
        missing = rule.days if days is None else rule.basis
        return Problem.at(
            contract.src, missing,
            f"installment {inst.installment_id} ({inst.kind}) has no due date and contract "
            f"{contract.contract_id} has no {missing} to compute it from (clause 3.4): "
            f"fill one of them",
        )
    if day_type not in DAY_TYPES:
        return Problem.at(contract.src, rule.day_type,
                          f"day type {day_type!r} is neither calendar nor working")
    return rule.basis, base, int(days), day_type, contract.src, _RULE_KEYS[inst.kind]


def effective_due_date(
    inst: Installment, contract: Contract, terms: Terms, as_of: dt.date | None = None,
    memo: Memo | None = None,
) -> tuple[DueDate | None, tuple[Problem, ...]]:
    """An installment's due date after the clause 3.4 rule and the rest-day move.

    None with a problem when it cannot be known. When the holiday data stops short of
    the due date but ``as_of`` lies in an earlier year, the installment cannot be late
    yet: the date is returned provisionally (Monday to Friday as working days).
    """
    rule = _rule_of(inst, contract)
    if isinstance(rule, Problem):
        return None, (rule,)
    basis, base, n, day_type, src, keys = rule
    key = (base, n, day_type, terms.move_due_off_rest_days)
    found = memo.get(key) if memo is not None else None
    if found is None:
        found = _resolve(base, n, day_type, key[3], as_of)
        if memo is not None:
            memo[key] = found
    if isinstance(found, int):
        return None, (calendar_problem(
            inst.src, "due_date", found, f"the due date of installment {inst.installment_id}",
        ),)
    day, moved_from, year = found
    return DueDate(day, basis, base, n, day_type, moved_from, year, src, keys), ()


# --- the ledger: allocation and fees ----------------------------------------------

_IID = attrgetter("installment_id")
_CID = attrgetter("contract_id")
_AMOUNT = attrgetter("amount")
_DUE = attrgetter("due_date")
_DATE = attrgetter("date")
_KIND = attrgetter("kind")
_SRC = attrgetter("src")
_POSITION_DAY = itemgetter(0, 1)
_RULE_FIELDS = {kind: attrgetter(r.basis, r.days, r.day_type) for kind, r in DUE_RULES.items()}
_RULE_TYPES = frozenset({None, CALENDAR_DAYS, WORKING_DAYS})  # None: calendar
_RULE_TYPES_WORKING = frozenset({WORKING_DAYS})
_NOTHING = repeat(None)
_RECEIPT_FIELDS = attrgetter("installment_id", "contract_id", "date", "amount", "purpose")
_PURPOSE_WORDS = {c.key: c.zh for c in RECEIPT_PURPOSE_CHOICES}


def _where(flags: Iterable[object]) -> list[int]:
    """Positions of the true flags."""
    return list(compress(count(), flags))


def _run(effects: Iterable[object]) -> None:
    """Exhaust an iterator run for its side effects (``map(list.__setitem__, ...)``)."""
    deque(effects, maxlen=0)


class _Ledger:
    """One late-fee run as lists indexed by the installment's position on the sheet.

    Installment columns are read with C-level ``map``; receipts go through one loop that
    does all a receipt needs (several passes over the same records would each pay the
    memory access again); later loops run only over the exceptions (installments not
    paid exactly, parts late, contracts redone in date order). InstallmentFee rows are
    built from this state on demand.
    """

    def __init__(self, book: Book, as_of: dt.date, index: ContractIndex) -> None:
        self.book, self.as_of, self.index = book, as_of, index
        self.calendar = current_calendar()  # the rows, built later, count with it too
        self.problems: list[Problem] = []
        self.memo: Memo = {}
        self.insts = book.installments
        self._scan_installments()
        self.last_ok = self._grace()
        self.all_valid = all(self.valid)
        # position -> Σ receipts applied; ZERO itself (compared by identity) where none
        # was, and a spare slot at the end for position -1 ("no such installment").
        self.paid: list[Decimal] = [ZERO] * (len(self.insts) + 1)
        # position -> Σ part × days late over the parts paid late (then the open part).
        self.weighted: dict[int, Decimal] = {}
        # Parts paid late, (position, payment day, receipt, part): added simply (those of
        # positions in ``redo`` do not count), and applied in date order.
        self.late: list[tuple[int, dt.date, Receipt, Decimal]] = []
        self.late_ordered: list[tuple[int, dt.date, Receipt, Decimal]] = []
        self.redo: set[int] = set()  # positions of the contracts redone in date order
        self.open: dict[int, Decimal] = {}  # position -> outstanding, once past due
        self._allocate()
        # The installments with parts late (positions), their Σ segment fees unrounded
        # and uncapped, and their fees capped and rounded, side by side.
        self.priced: list[int] = []
        self.exact: list[Decimal] = []
        self.fees: list[Decimal] = []
        self._price()
        # position -> the parts of receipts of 滞纳金 / 减免滞纳金 settling its fee, and
        # its fee still owed after them (the positions without one owe their fee)
        self.settled: dict[int, list[tuple[Receipt, Decimal]]] = {}
        self.owed: dict[int, Decimal] = {}
        self._settle()

    # -- installments

    def _scan_installments(self) -> None:
        """Positions, contracts, amounts and due dates; problems for what is unusable."""
        contracts, terms_of, insts = self.index.contracts, self.index.terms, self.insts
        n = len(insts)
        ids = list(map(_IID, insts))
        cids: Sequence[str] = list(map(_CID, insts))
        self.cids = cids
        self.amounts: Sequence[Decimal] = list(map(_AMOUNT, insts))
        fixed = list(map(_DUE, insts))
        valid = self.valid = [True] * n
        slot_of = self.slot_of = dict(zip(ids, range(n), strict=True))
        if len(slot_of) != n:
            self._drop_repeats(ids)
        # Fixed dates are few and shared: each distinct one is resolved once. A date the
        # calendar cannot settle maps to None and takes the careful path below.
        self.provisional_on: dict[dt.date, int] = {}  # fixed date -> year without data
        quick: dict[dt.date | None, dt.date | None] = {d: self._quick(d) for d in set(fixed)
                                                        if d is not None}
        quick[None] = None
        due: list[dt.date | None] = list(map(quick.__getitem__, fixed))
        stay = {c for c, t in terms_of.items() if not t.move_due_off_rest_days}
        for k in _where(map(stay.__contains__, cids)) if stay else ():
            due[k] = None  # its fixed date is not moved: the careful path keeps it
        unknown = set(cids).difference(contracts)
        for k in _where(map(unknown.__contains__, cids)) if unknown else ():
            if valid[k]:
                valid[k] = False
                self.problems.append(Problem.at(
                    insts[k].src, "contract_id",
                    f"installment {ids[k]} names contract {cids[k]}, which is not on the "
                    f"Contracts sheet",
                ))
        for k in _where(map(not_, valid)) if not all(valid) else ():
            due[k] = _NO_DATE
        provisional: dict[int, tuple[int, Source]] = {}  # year -> (count, first row)
        on = self.provisional_on
        if on:  # fixed dates past the holiday data, of usable installments
            ks = _where(map(on.__contains__, fixed))
            ks = list(compress(ks, map(is_not, map(due.__getitem__, ks), _NOTHING)))
            ks = list(compress(ks, map(valid.__getitem__, ks)))
            years = list(map(on.__getitem__, map(fixed.__getitem__, ks)))
            first_of = dict(zip(reversed(years), reversed(ks), strict=True))
            for year, seen in Counter(years).items():
                provisional[year] = (seen, insts[first_of[year]].src)
        todo = _where(map(is_, due, _NOTHING)) if None in due else []
        if todo and (stay or not self._rule_dates(due, todo, fixed, provisional)):
            self._careful_due_dates(due, todo, stay, provisional)
        self.due: list[dt.date] = due  # type: ignore[assignment]  # no None left
        self.problems.extend(provisional_problems(provisional, self.as_of))

    def _drop_repeats(self, ids: list[str]) -> None:
        """A repeated installment ID: the first row counts, the others are problems."""
        seen: dict[str, int] = {}
        for k, iid in enumerate(ids):
            if iid in seen:
                self.valid[k] = False
                self.problems.append(Problem.at(
                    self.insts[k].src, "installment_id",
                    f"installment {iid} appears more than once (first at "
                    f"{self.insts[seen[iid]].src.ref('installment_id')}); this row is ignored",
                ))
            else:
                seen[iid] = k
        self.slot_of = seen

    def _quick(self, d: dt.date) -> dt.date | None:
        r = self.memo[(d, 0, CALENDAR_DAYS, True)] = _resolve(
            d, 0, CALENDAR_DAYS, True, self.as_of)
        if isinstance(r, int):
            return None
        if r[2] is not None:
            self.provisional_on[d] = r[2]
        return r[0]

    def _rule_dates(self, due: list[dt.date | None], todo: list[int],
                    fixed: list[dt.date | None], provisional: dict[int, tuple[int, Source]],
                    ) -> bool:
        """The common case of ``_careful_due_dates`` by whole columns: every position in
        ``todo`` is a prepayment or final payment without a date of its own whose
        contract has a usable rule. Dates inside the holiday data come from the day
        table in one go (``calendar.due_dates``), the others one by one. False, with
        ``due`` untouched, when anything is out of the ordinary: the careful path runs."""
        insts, contracts, cids, memo, as_of = (self.insts, self.index.contracts, self.cids,
                                               self.memo, self.as_of)
        if any(map(is_not, map(fixed.__getitem__, todo), _NOTHING)):
            return False
        kinds = list(map(_KIND, map(insts.__getitem__, todo)))
        found: list[tuple[list[int], list[dt.date | None]]] = []
        later: list[tuple[int, int]] = []  # (position, year without data)
        for kind, fields in _RULE_FIELDS.items():
            ks = list(compress(todo, map(eq, kinds, repeat(kind))))
            if not ks:
                continue
            # (base, n, day type) of each; contracts often share one (a common term end).
            rules = list(map(fields, map(contracts.__getitem__, map(cids.__getitem__, ks))))
            distinct = list(set(rules))
            bases, ns, types = (list(column) for column in zip(*distinct, strict=True))
            if (None in bases or None in ns or not set(types) <= _RULE_TYPES
                    or any(type(n) is not int for n in set(ns))):
                return False
            due_of: dict[tuple[object, ...], dt.date | None] = {}
            year_of: dict[tuple[object, ...], int] = {}  # rule -> year without data
            for day_type in (CALENDAR_DAYS, WORKING_DAYS):
                if day_type == CALENDAR_DAYS:
                    mine = _where(map(not_, map(_RULE_TYPES_WORKING.__contains__, types)))
                else:
                    mine = _where(map(_RULE_TYPES_WORKING.__contains__, types))
                if not mine:
                    continue
                b_col = list(map(bases.__getitem__, mine))
                n_col = list(map(ns.__getitem__, mine))
                days = due_dates(b_col, n_col, day_type == WORKING_DAYS, True)
                due_of.update(zip(map(distinct.__getitem__, mine), days, strict=True))
                for i in _where(map(is_, days, _NOTHING)):  # outside the data: one by one
                    key = (b_col[i], n_col[i], day_type, True)
                    r = memo.get(key)
                    if r is None:
                        r = memo[key] = _resolve(*key, as_of)
                    if isinstance(r, int):
                        return False
                    rule = distinct[mine[i]]
                    due_of[rule] = r[0]
                    if r[2] is not None:
                        year_of[rule] = r[2]
            if year_of:
                later.extend((k, year_of[x]) for k, x in zip(ks, rules, strict=True)
                             if x in year_of)
            found.append((ks, list(map(due_of.__getitem__, rules))))
        if sum(len(ks) for ks, _ in found) != len(todo):
            return False  # a kind without a rule (e.g. a progress payment without a date)
        for ks, days in found:
            _run(map(due.__setitem__, ks, days))
        for k, year in sorted(later):
            seen, first = provisional.get(year, (0, insts[k].src))
            provisional[year] = (seen + 1, first)
        return True

    def _careful_due_dates(self, due: list[dt.date | None], todo: list[int],
                           stay: set[str], provisional: dict[int, tuple[int, Source]]) -> None:
        """Rule-based dates, dates on contracts that do not move them, and dates the
        calendar cannot settle; provisional ones are counted per year."""
        contracts, memo = self.index.contracts, self.memo
        for k in todo:
            inst = self.insts[k]
            cid = inst.contract_id
            rule = _rule_of(inst, contracts[cid])
            if isinstance(rule, Problem):
                self.problems.append(rule)
                self.valid[k] = False
                due[k] = _NO_DATE
                continue
            key = (rule[1], rule[2], rule[3], cid not in stay)
            cached = memo.get(key)
            r = memo[key] = _resolve(*key, self.as_of) if cached is None else cached
            if isinstance(r, int):
                self.problems.append(calendar_problem(
                    inst.src, "due_date", r, f"the due date of installment {inst.installment_id}",
                ))
                self.valid[k] = False
                due[k] = _NO_DATE
                continue
            due[k] = r[0]
            if r[2] is not None:
                seen, first = provisional.get(r[2], (0, inst.src))
                provisional[r[2]] = (seen + 1, first)

    def _grace(self) -> list[dt.date]:
        """The last day that is not late (due date + grace days), per position, followed
        by a ``_NO_DATE`` sentinel for "no installment" (position -1)."""
        grace = {c: dt.timedelta(days=t.grace_days)
                 for c, t in self.index.terms.items() if t.grace_days}
        last_ok = [*self.due, _NO_DATE]
        for k in _where(map(grace.__contains__, self.cids)) if grace else ():
            if last_ok[k] != _NO_DATE:
                last_ok[k] += grace[self.cids[k]]
        return last_ok

    # -- receipts

    def _allocate(self) -> None:
        """Receipts up to the as-of date. A positive receipt naming a usable installment
        of its own contract is simply added to it, in one loop that also weighs the part
        if it was paid late; contracts with an unnamed receipt or an overpaid
        installment are then redone in date order (``_chronological``)."""
        as_of, last_ok, cids, amounts = self.as_of, self.last_ok, self.cids, self.amounts
        paid, weighted, late = self.paid, self.weighted, self.late
        if self.all_valid:
            owner: list[str | None] = [*cids, None]
        else:
            owner = [c if v else None for c, v in zip(cids, self.valid, strict=True)]
            owner.append(None)  # position -1: no such installment
        receipts = self.book.receipts  # the simple path needs no date order
        odd: list[Receipt] = []  # not simply applied: sorted out below
        slot_get, weighted_get, add_late = self.slot_of.get, weighted.get, late.append
        fee_purposes = FEE_PURPOSES
        for r, (iid, cid, day, x, purpose) in zip(receipts, map(_RECEIPT_FIELDS, receipts),
                                                  strict=True):
            p = slot_get(iid, -1)
            if (owner[p] != cid or day > as_of or x <= ZERO
                    or (purpose is not None and purpose in fee_purposes)):
                odd.append(r)
                continue
            before = paid[p]
            paid[p] = x if before is ZERO else before + x
            ok = last_ok[p]
            if day > ok:
                w = x * (day - ok).days
                had = weighted_get(p)
                weighted[p] = w if had is None else had + w
                add_late((p, day, r, x))
        others, ordered = self._sort_out(odd)
        # Installments not paid exactly in full, once each: overpaid ones, and the open
        # part of those past due.
        over = self._open_parts(_where(map(ne, paid, amounts)))
        ordered.update(map(cids.__getitem__, over))
        if ordered:
            redo = self.redo = set(_where(map(ordered.__contains__, cids)))
            for p in redo:
                paid[p] = ZERO
                weighted.pop(p, None)
                self.open.pop(p, None)
        self._exceptions(others, ordered)
        if ordered:
            theirs = compress(receipts, map(ordered.__contains__, map(_CID, receipts)))
            self._chronological(ordered, sorted(
                (r for r in theirs if r.amount > ZERO and r.date <= as_of
                 and r.purpose not in fee_purposes), key=_DATE))
            self._open_parts(sorted(self.redo))

    def _sort_out(self, odd: list[Receipt]) -> tuple[list[Receipt], set[str]]:
        """The receipts not simply applied (``odd``, in sheet order): those of late fees
        received or waived into ``fee_receipts``, settled once fees are priced
        (``_settle``); of the others, those dated up to the as-of date (a receipt dated
        after it does not exist yet), first those of no positive amount, then those naming
        an installment that is unknown, unusable or of another contract, or none; and the
        contracts an unnamed one makes redo in date order."""
        self.fee_receipts = [r for r in odd if r.purpose in FEE_PURPOSES]
        if self.fee_receipts:
            odd = [r for r in odd if r.purpose not in FEE_PURPOSES]
        as_of = self.as_of
        others = [r for r in odd if r.date <= as_of and r.amount <= ZERO]
        others += [r for r in odd if r.date <= as_of and r.amount > ZERO]
        contracts = self.index.contracts
        ordered = {r.contract_id for r in others
                   if not r.installment_id and r.contract_id in contracts}
        return others, ordered

    def _oldest_first(self, positions: Iterable[int]) -> dict[str, list[int]]:
        """Contract -> its usable installments among ``positions``, oldest due first (then
        by ID): the order in which unnamed receipts pay them, and settle their fees."""
        queues: dict[str, list[int]] = {}
        for p in positions:
            if self.valid[p]:
                queues.setdefault(self.cids[p], []).append(p)
        for ps in queues.values():
            ps.sort(key=lambda p: (self.due[p], self.insts[p].installment_id))
        return queues

    def _open_parts(self, positions: Iterable[int]) -> list[int]:
        """The open part (what is left to pay) of each of ``positions`` that is past due,
        into ``open``; the positions paid more than their amount are returned."""
        paid, amounts, due, as_of, open_ = (self.paid, self.amounts, self.due, self.as_of,
                                            self.open)
        over = []
        for p in positions:
            got = paid[p]
            amount = amounts[p]
            if got is ZERO:  # nothing paid
                if as_of > due[p] and amount > ZERO:
                    open_[p] = amount
            elif got < amount:
                if as_of > due[p]:
                    open_[p] = amount - got
            elif got > amount:
                over.append(p)
        return over

    def _exceptions(self, receipts: list[Receipt], ordered: set[str]) -> None:
        """Problems of receipts neither added nor redone in date order: unknown contract
        or installment, an installment of another contract, a negative amount."""
        for r in receipts:
            if self._unusable(r):
                continue
            if r.contract_id not in ordered:
                problem = self._naming_problem(r, self.slot_of.get(r.installment_id or "", -1))
                if problem is not None:
                    self.problems.append(problem)

    def _unusable(self, r: Receipt) -> bool:
        """Whether a receipt cannot be applied at all: its contract is unknown (a problem)
        or its amount is not positive (a problem when negative)."""
        if r.contract_id not in self.index.contracts:
            self.problems.append(Problem.at(
                r.src, "contract_id",
                f"receipt {r.receipt_id} names contract {r.contract_id}, which is not on the "
                f"Contracts sheet; ignored",
            ))
            return True
        if r.amount <= ZERO:
            if r.amount < ZERO:
                self.problems.append(Problem.at(
                    r.src, "amount", f"receipt {r.receipt_id} has a negative amount; ignored",
                ))
            return True
        return False

    def _naming_problem(self, r: Receipt, pos: int) -> Problem | None:
        """Why a named receipt cannot be applied; None when its installment already has a
        problem of its own (the receipt is then absorbed without a second message)."""
        iid = r.installment_id
        if pos == -1:
            text = (f"receipt {r.receipt_id} names installment {iid}, which is not on the "
                    f"Installments sheet; the receipt is not applied")
        elif self.cids[pos] != r.contract_id:
            text = (f"receipt {r.receipt_id} is for contract {r.contract_id} but names "
                    f"installment {iid} of contract {self.cids[pos]}; the receipt is not applied")
        else:
            return None
        return Problem.at(r.src, "installment_id", text)

    def _chronological(self, ordered: set[str], receipts: list[Receipt]) -> None:
        """The rule as stated, receipt by receipt in date order, named receipts first
        within a day, for the contracts in ``ordered`` (``receipts`` are theirs)."""
        queues = self._oldest_first(sorted(self.redo))
        named: dict[str, list[Receipt]] = {}
        unnamed: dict[str, list[Receipt]] = {}
        for r in receipts:
            if r.amount > ZERO:
                (named if r.installment_id else unnamed).setdefault(r.contract_id, []).append(r)
        amounts, last_ok = self.amounts, self.last_ok
        paid: dict[int, Decimal] = {}  # for the positions redone here

        def applied(p: int) -> Decimal:
            return paid.get(p, ZERO)

        def apply(p: int, r: Receipt, take: Decimal) -> None:
            paid[p] = applied(p) + take
            if r.date > last_ok[p]:
                self.late_ordered.append((p, r.date, r, take))
                w = take * (r.date - last_ok[p]).days
                before = self.weighted.get(p)
                self.weighted[p] = w if before is None else before + w

        for cid in sorted(ordered):
            a, b = named.get(cid, []), unnamed.get(cid, [])
            queue = queues.get(cid, [])
            cursor = i = j = 0
            while i < len(a) or j < len(b):
                if j >= len(b) or (i < len(a) and a[i].date <= b[j].date):
                    r = a[i]
                    i += 1
                    p = self.slot_of.get(r.installment_id or "", -1)
                    if p == -1 or self.cids[p] != cid or not self.valid[p]:
                        problem = self._naming_problem(r, p)
                        if problem is not None:
                            self.problems.append(problem)
                        continue
                    take = min(amounts[p] - applied(p), r.amount)
                    if take > ZERO:
                        apply(p, r, take)
                    if r.amount > take:
                        self.problems.append(_overpaid(
                            r, r.amount - max(take, ZERO), f"installment {r.installment_id}"))
                else:
                    r = b[j]
                    j += 1
                    left = r.amount
                    while left > ZERO and cursor < len(queue):
                        p = queue[cursor]
                        open_amount = amounts[p] - applied(p)
                        if open_amount <= ZERO:
                            cursor += 1
                            continue
                        take = min(open_amount, left)
                        apply(p, r, take)
                        left -= take
                    if left > ZERO:
                        self.problems.append(_overpaid(r, left, f"contract {cid}'s installments"))
        for p, got in paid.items():
            self.paid[p] = got

    # -- fees

    def _price(self) -> None:
        """Σ part × days late per installment (the open part included) × its rate; capped
        and rounded half-up."""
        last_ok, as_of, amounts, cids = self.last_ok, self.as_of, self.amounts, self.cids
        weighted = self.weighted
        weighted_get = weighted.get
        for p, rest in self.open.items():
            ok = last_ok[p]
            if as_of > ok:
                w = rest * (as_of - ok).days
                before = weighted_get(p)
                weighted[p] = w if before is None else before + w
        # × the daily rate (0 when exempt), capped, rounded half-up.
        terms_of = self.index.terms
        rate_of = {c: t.charged_rate for c, t in terms_of.items()}
        cap_of = {c: t.late_fee_cap_pct for c, t in terms_of.items()
                  if t.late_fee_cap_pct is not None}
        where = list(weighted)
        rates = set(rate_of.values())
        if len(rates) == 1:
            exact = list(map(mul, weighted.values(), repeat(rates.pop())))
        else:
            exact = list(map(mul, weighted.values(),
                             map(rate_of.__getitem__, map(cids.__getitem__, where))))
        self.priced, self.exact = where, exact
        if cap_of:
            exact = exact.copy()
            for i in _where(map(cap_of.__contains__, map(cids.__getitem__, where))):
                p = where[i]
                cap = cap_of[cids[p]] * amounts[p]
                if exact[i] > cap:
                    exact[i] = cap
        self.fees = list(map(Decimal.quantize, exact, repeat(FEN), repeat(ROUND_HALF_UP)))

    # -- late fees received or waived

    def _settle(self) -> None:
        """Receipts of 滞纳金 / 减免滞纳金 up to the as-of date, in date order (named ones
        first within a day, then in sheet order): each settles the fee of the installment
        it names, else its contract's fees oldest due first, up to what is still owed."""
        entries = sorted((r for r in self.fee_receipts if r.date <= self.as_of),
                         key=lambda r: (r.date, not r.installment_id))
        if not entries:
            return
        cids, owed = self.cids, self.owed
        fee = self.fee_by_position()
        unnamed = {r.contract_id for r in entries if not r.installment_id}
        queues = self._oldest_first(_where(map(unnamed.__contains__, cids))) if unnamed else {}
        for r in entries:
            if self._unusable(r):
                continue
            cid = r.contract_id
            if r.installment_id:
                p = self.slot_of.get(r.installment_id, -1)
                if p == -1 or cids[p] != cid or not self.valid[p]:
                    problem = self._naming_problem(r, p)
                    if problem is not None:
                        self.problems.append(problem)
                    continue
                targets = [p]
                what = f"installment {r.installment_id}"
            else:
                targets = queues.get(cid, [])
                what = f"contract {cid}'s installments"
            left = r.amount
            for p in targets:
                open_fee = owed.get(p)
                if open_fee is None:
                    open_fee = fee.get(p, ZERO)
                if open_fee <= ZERO:
                    continue
                take = min(open_fee, left)
                owed[p] = open_fee - take
                self.settled.setdefault(p, []).append((r, take))
                left -= take
                if left <= ZERO:
                    break
            if left > ZERO:
                self.problems.append(Problem.at(
                    r.src, "amount",
                    f"{fmt_money_grouped(left)} of receipt {r.receipt_id} "
                    f"({_PURPOSE_WORDS.get(r.purpose or '', r.purpose)}) is more than the late "
                    f"fees of {what} still owed as of {self.as_of}; the excess is not applied: "
                    f"check the amount, or name the installment whose fee it settles",
                    Severity.WARNING,
                ))

    def fee_settled(self) -> tuple[Decimal, Decimal]:
        """Σ late fees received, Σ waived (up to the as-of date)."""
        paid = waived = ZERO
        for parts in self.settled.values():
            for r, take in parts:
                if r.purpose == PURPOSE_FEE_WAIVER:
                    waived += take
                else:
                    paid += take
        return paid, waived

    # -- totals and rows

    def positions(self) -> list[int]:
        return _where(self.valid)

    def count(self) -> int:
        """Usable installments."""
        return len(self.valid) - self.valid.count(False)

    def total_fee(self) -> Decimal:
        return sum(self.fees, ZERO)

    def with_fee(self) -> int:
        return len(self.fees) - self.fees.count(ZERO)

    def total_overdue(self) -> Decimal:
        return sum(self.open.values(), ZERO)

    def total_outstanding(self) -> Decimal:
        """Overdue plus whatever is still open on installments not yet due."""
        not_due = map(self.as_of.__le__, self.due)
        later = _where(not_due if self.all_valid else map(and_, self.valid, not_due))
        return (self.total_overdue() + sum(map(self.amounts.__getitem__, later), ZERO)
                - sum(map(self.paid.__getitem__, later), ZERO))

    def late_parts(self, only: Sequence[int] | None = None
                   ) -> dict[int, list[tuple[Receipt, Decimal]]]:
        """Position -> its parts paid late (receipt, amount applied), in date order; of
        the positions ``only`` when given."""
        parts: dict[int, list[tuple[Receipt, Decimal]]] = {}
        redo = self.redo
        late = [t for t in self.late if t[0] not in redo] if redo else self.late.copy()
        late += self.late_ordered
        if only is not None and len(only) < len(self.valid):
            wanted = set(only)
            late = [t for t in late if t[0] in wanted]
        late.sort(key=_POSITION_DAY)  # stable: a day's parts keep the order applied
        for p, _, r, amount in late:
            parts.setdefault(p, []).append((r, amount))
        return parts

    def position_columns(self) -> tuple[Sequence[object], ...]:
        """The fields of every usable installment's :class:`Position`, column by column,
        as the rows would have them (paid = amount - outstanding)."""
        fee = self.fee_by_position()
        grace = {c: t.grace_days or 0 for c, t in self.index.terms.items()}
        due, as_of = self.due, self.as_of
        ps = self.positions()
        cids = list(map(self.cids.__getitem__, ps))
        amounts = list(map(self.amounts.__getitem__, ps))
        outstanding = list(map(sub, amounts, map(self.paid.__getitem__, ps)))
        overdue = list(map(self.open.get, ps, repeat(ZERO)))
        days = list(map(due.__getitem__, ps))
        late = [(as_of - d).days if o else 0 for d, o in zip(days, overdue, strict=True)]
        insts = list(map(self.insts.__getitem__, ps))
        fees = list(map(fee.get, ps, repeat(_ZERO_FEN)))
        owed = list(map(self.owed.get, ps, fees)) if self.owed else fees
        return (cids, list(map(_IID, insts)), days, list(map(grace.__getitem__, cids)), amounts,
                list(map(sub, amounts, outstanding)), outstanding, overdue, late, fees,
                list(map(_SRC, insts)), owed)

    def fee_by_position(self) -> dict[int, Decimal]:
        """Position -> its fee, of the installments with a part late."""
        return dict(zip(self.priced, self.fees, strict=True))

    def fee_of(self) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
        """Position -> Σ segment fees (uncapped, unrounded), and -> its fee."""
        return dict(zip(self.priced, self.exact, strict=True)), self.fee_by_position()


def _overpaid(r: Receipt, excess: Decimal, what: str) -> Problem:
    return Problem.at(
        r.src, "amount",
        f"overpayment: {fmt_money_grouped(excess)} of receipt {r.receipt_id} is more than "
        f"{what} still owe(s); the excess is not applied: check the amount, or name the "
        f"installment it pays",
        Severity.WARNING,
    )


class InstallmentFees(Sequence[InstallmentFee]):
    """Every usable installment's :class:`InstallmentFee`, in sheet order, built on first
    read (the engine's totals do not need the rows)."""

    def __init__(self, ledger: _Ledger) -> None:
        self._ledger = ledger
        self._len = ledger.count()
        self._rows: tuple[InstallmentFee, ...] | None = None
        self._positions: tuple[Position, ...] | None = None

    def _build(self) -> tuple[InstallmentFee, ...]:
        if self._rows is None:
            self._rows = self._rows_now(self._ledger.positions())
        return self._rows

    def select(self, indices: Sequence[int]) -> tuple[InstallmentFee, ...]:
        """The rows at ``indices`` (positions in this sequence, as in :meth:`positions`),
        building only those: the weekly report needs the workings of a few."""
        if self._rows is not None:
            return tuple(map(self._rows.__getitem__, indices))
        return self._rows_now(list(map(self._ledger.positions().__getitem__, indices)))

    def _rows_now(self, ps: Sequence[int]) -> tuple[InstallmentFee, ...]:
        with localcontext(EXACT), calendar_in_force(self._ledger.calendar):
            return self._rows_of(ps)  # segment fees exact however large

    def _rows_of(self, ps: Sequence[int]) -> tuple[InstallmentFee, ...]:
        """One row per ledger position of ``ps``. A hot loop (60,000 rows on a large
        book): what depends only on the contract is looked up once per contract."""
        ledger = self._ledger
        parts_of = ledger.late_parts(ps)
        fee_exact, fee = ledger.fee_of()
        settings_rate = (ledger.book.settings.source_of("late_fee_rate"), "value")
        contracts, terms_of = ledger.index.contracts, ledger.index.terms
        insts, cids, last_oks, paid, open_ = (ledger.insts, ledger.cids, ledger.last_ok,
                                              ledger.paid, ledger.open)
        as_of, memo, settled = ledger.as_of, ledger.memo, ledger.settled
        per_contract: dict[str, tuple[Contract, Terms, int, bool, Decimal, Decimal | None,
                                      Source, str]] = {}
        rows = []
        for p in ps:
            cid = cids[p]
            known = per_contract.get(cid)
            if known is None:
                c, terms = contracts[cid], terms_of[cid]
                rate_src, rate_key = (settings_rate if c.late_fee_rate is None
                                      else (c.src, "late_fee_rate"))
                known = per_contract[cid] = (
                    c, terms, terms.grace_days or 0, terms.late_fee_exempt,
                    terms.charged_rate,
                    terms.late_fee_cap_pct, rate_src, rate_key)
            c, terms, grace, exempt, rate, cap_pct, rate_src, rate_key = known
            inst = insts[p]
            due, _ = effective_due_date(inst, c, terms, as_of, memo)
            assert due is not None
            last_ok = last_oks[p]
            first_late = last_ok + _ONE_DAY
            segments = [
                Segment(r.receipt_id, part, first_late, r.date, (r.date - last_ok).days, rate,
                        part * rate * (r.date - last_ok).days, r.src)
                for r, part in parts_of.get(p, ())
            ]
            got = paid[p]
            amount = inst.amount
            outstanding = amount - got  # even - ZERO: it writes 1E+3 as 1000, as before
            if outstanding > ZERO and as_of > last_ok:
                days = (as_of - last_ok).days
                segments.append(Segment(None, outstanding, first_late, as_of, days, rate,
                                        outstanding * rate * days, NO_SOURCE))
            overdue = open_.get(p, ZERO)
            settlements = tuple(
                Settlement(r.receipt_id, r.purpose or "", r.date, take, r.src)
                for r, take in settled.get(p, ()))
            fee_paid = sum((x.amount for x in settlements if not x.waived), ZERO)
            rows.append(InstallmentFee(
                cid, inst.installment_id, inst.kind, amount, due, grace, rate, exempt,
                amount - outstanding, outstanding, overdue,
                (as_of - due.date).days if overdue else 0,
                max([s.days for s in segments]) if segments else 0,
                fee_exact.get(p, ZERO), None if cap_pct is None else cap_pct * amount,
                fee.get(p, _ZERO_FEN), tuple(segments), inst.src, rate_src, rate_key,
                fee_paid, sum((x.amount for x in settlements), ZERO) - fee_paid, settlements,
            ))
        return tuple(rows)

    def positions(self) -> tuple[Position, ...]:
        """Every usable installment's :class:`Position`, in sheet order: the rows' money
        without building them (their segments and due-date rules cost the most)."""
        if self._positions is None:
            self._positions = self._positions_now()
        return self._positions

    def _positions_now(self) -> tuple[Position, ...]:
        if self._rows is not None:
            return tuple(Position(f.contract_id, f.installment_id, f.due.date, f.grace_days,
                                  f.amount, f.paid, f.outstanding, f.overdue, f.days_overdue,
                                  f.fee, f.src, f.fee_owed)
                         for f in self._rows)
        return tuple(map(_POSITION, zip(*self._ledger.position_columns(), strict=True)))

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, i: int) -> InstallmentFee: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[InstallmentFee]: ...
    def __getitem__(self, i: int | slice) -> InstallmentFee | Sequence[InstallmentFee]:
        return self._build()[i]

    def __iter__(self) -> Iterator[InstallmentFee]:
        return iter(self._build())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InstallmentFees):
            return self._build() == other._build()
        if isinstance(other, tuple):
            return self._build() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"InstallmentFees({len(self)} installments)"


class LateFees(NamedTuple):
    installments: InstallmentFees
    risk_flags: tuple[RiskFlag, ...]
    total_fee: Decimal  # Σ rounded installment fees
    outstanding: Decimal
    overdue: Decimal
    with_fee: int  # installments with a fee
    fee_paid: Decimal = ZERO  # Σ late fees received (receipts of 滞纳金)
    fee_waived: Decimal = ZERO  # Σ late fees waived (receipts of 减免滞纳金)


def late_fees(book: Book, as_of: dt.date, index: ContractIndex | None = None,
              columnar: bool = True) -> tuple[LateFees, tuple[Problem, ...]]:
    """Every installment's position and late fee as of ``as_of`` (the end of that day).

    ``columnar``: by whole columns (``columnar.py``) when the book allows; False runs
    ``_Ledger`` alone, the rule as written (the tests compare the two)."""
    found: tuple[Problem, ...] = ()
    if index is None:
        index, found = index_contracts(book)
    calendar, _ = calendar_for(book.settings.holidays)  # its problems: compute_penalties
    # Σ part x days x rate keeps every digit, however large
    with localcontext(EXACT), calendar_in_force(calendar):
        ledger = None
        if columnar:
            from .columnar import columnar_ledger  # numpy, imported when first needed

            ledger = columnar_ledger(book, as_of, index)
        if ledger is None:
            ledger = _Ledger(book, as_of, index)
        result = LateFees(
            InstallmentFees(ledger), risk_flags(book, index), ledger.total_fee(),
            ledger.total_outstanding(), ledger.total_overdue(), ledger.with_fee(),
            *ledger.fee_settled(),
        )
    return result, found + tuple(ledger.problems)


def risk_flags(book: Book, index: ContractIndex) -> tuple[RiskFlag, ...]:
    """Daily rates whose yearly equivalent exceeds one-year LPR × 1.5, with their contracts."""
    threshold = book.settings.lpr_one_year * LPR_MULTIPLIER
    rates: dict[Decimal, list[str]] = {}
    for cid, terms in index.terms.items():
        if not terms.late_fee_exempt:
            rates.setdefault(terms.late_fee_rate, []).append(cid)
    flags = []
    for rate, ids in sorted(rates.items()):
        annual = rate * DAYS_PER_YEAR
        if annual > threshold:
            flags.append(RiskFlag(rate, annual, threshold, tuple(ids)))
    return tuple(flags)


def installment_positions(book: Book, as_of: dt.date) -> Mapping[str, InstallmentFee]:
    """For the dashboard: each usable installment's due date, outstanding, overdue, days
    overdue, days late and fee as of ``as_of``, by installment ID (problems dropped;
    ``compute_penalties`` reports them)."""
    result, _ = late_fees(book, as_of)
    return {f.installment_id: f for f in result.installments}
