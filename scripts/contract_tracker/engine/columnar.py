"""Late fees of clause 7.2 by whole columns: the engine's fast path (numpy).

``columnar_ledger(book, as_of, index)`` works out what ``latefees._Ledger`` works out (due
dates, receipts applied, parts paid late, open parts, fees) with money in fen and days
as ordinals in 64-bit integer arrays, and hands back a ledger with the same state, so the
rows, positions and totals are read from it exactly as from ``_Ledger``. What numpy does
not add up is done by ``_Ledger``'s own code on the same state: due dates the day table
cannot settle (``_resolve``, one per distinct rule), problems of receipts, the contracts
redone receipt by receipt in date order (an unnamed receipt, an overpaid installment),
and the settling of fees received or waived.

It returns None, and the engine runs ``_Ledger``, for a book it does not take: an
installment ID repeated, an installment of an unknown contract or without a usable due
date, a date before the holiday data, an amount not a whole number of fen, a negative
rate, or figures that could overflow 64 bits. Every figure is an integer number of fen
(or fen × days, or fen × days × rate × 10**scale): nothing is rounded but the fee, half
up, as clause 7.2 has it. ``tests/test_engine_columnar.py`` compares both ledgers on
generated books.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import repeat
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from ..money import FEN, ZERO
from ..records import Book, Receipt, Source, columns_of
from ..schema import FEE_PURPOSES
from .calendar import CALENDAR_DAYS, DAY_TYPES, WORKING_DAYS, Calendar, current_calendar
from .context import ContractIndex
from .latefees import (
    _NO_DATE,
    DUE_RULES,
    Memo,
    _Ledger,
    _resolve,
    provisional_problems,
)

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

_IID = attrgetter("installment_id")
_CID = attrgetter("contract_id")
_AMOUNT = attrgetter("amount")
_DUE = attrgetter("due_date")
_KIND = attrgetter("kind")
_DATE = attrgetter("date")
_PURPOSE = attrgetter("purpose")
Careful = list[tuple[Ints, tuple[dt.date, int, str, bool], bool]]
"""Positions the day table cannot settle, grouped by their rule (base, N, day type, move),
and whether they are fixed dates."""
_SAFE = 2**62  # bound on any sum of products, leaving a factor of 2 to int64's limit
_FROM_ORDINAL = dt.date.fromordinal


class _NotColumnar(Exception):
    """The book needs ``_Ledger`` (see the module docstring)."""


def columnar_ledger(book: Book, as_of: dt.date, index: ContractIndex) -> _Ledger | None:
    """The late-fee ledger of ``book`` by whole columns; None when ``_Ledger`` must run.
    Call inside ``localcontext(EXACT)`` and ``calendar_in_force``, as ``_Ledger``."""
    if not book.installments:
        return None
    try:
        return _ColumnarLedger(book, as_of, index)
    except _NotColumnar:
        return None


_TABLES: dict[int, tuple[Calendar, Ints, Ints, Ints]] = {}


def _day_table(table: Calendar) -> tuple[Ints, Ints, Ints]:
    """The calendar's next-working-day, cumulative and working-day columns as arrays,
    converted once per calendar."""
    found = _TABLES.get(id(table))
    if found is None or found[0] is not table:
        if len(_TABLES) > 8:
            _TABLES.clear()
        found = _TABLES[id(table)] = (
            table, np.asarray(table.next_work, np.int64), np.asarray(table.cumulative, np.int64),
            np.asarray(table.workday_index, np.int64) + table.first_ordinal)
    return found[1], found[2], found[3]


def _ordinals(days: Sequence[dt.date | None]) -> Ints:
    """Day ordinals (0 for None), each distinct date converted once."""
    known: dict[dt.date | None, int] = {d: d.toordinal() for d in set(days) if d is not None}
    known[None] = 0
    return np.fromiter(map(known.__getitem__, days), np.int64, len(days))


def _fen(values: Sequence[Decimal]) -> Ints:
    """Amounts in fen, each distinct amount converted once."""
    fen: dict[Decimal, int] = {}
    try:
        for x in set(values):
            whole = x.scaleb(2)
            fen[x] = int(whole)
            if fen[x] != whole or abs(fen[x]) >= _SAFE:
                raise _NotColumnar
    except (ArithmeticError, TypeError, ValueError) as err:  # NaN, infinity
        raise _NotColumnar from err
    return np.fromiter(map(fen.__getitem__, values), np.int64, len(values))


def _columns(book: Book, sheet: str, rows: tuple[Any, ...]) -> Callable[[str], Sequence[Any]]:
    """A field of ``rows`` as a column: the reader's when it has one (no record touched),
    else read off the records."""
    found = columns_of(book, sheet, rows)
    if found is not None:
        return found.__getitem__
    return lambda name: list(map(attrgetter(name), rows))


def _groups(positions: Ints, keys: Ints) -> list[Ints]:
    """``positions`` split by equal ``keys``, each group ascending."""
    if not positions.size:
        return []
    order = np.argsort(keys, kind="stable")
    _, starts = np.unique(keys[order], return_index=True)
    return np.split(positions[order], starts[1:])


def _money(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _dates(ordinals: Ints) -> list[dt.date]:
    """Dates of ordinals, each distinct one made once."""
    column = ordinals.tolist()
    made = {k: _FROM_ORDINAL(k) for k in set(column)}
    return list(map(made.__getitem__, column))


class _Days:
    """Positions -> dates, read from an ordinal column one at a time (the few positions
    the date-order redo looks at)."""

    def __init__(self, ordinals: Ints) -> None:
        self._ordinals = ordinals

    def __getitem__(self, p: int) -> dt.date:
        return _FROM_ORDINAL(int(self._ordinals[p]))


class _ColumnarLedger(_Ledger):
    """``_Ledger``'s state from integer columns; the Decimal and date lists the rows read
    (``due``, ``last_ok``, ``paid``, ``open``, ``late``, ``priced``, ``exact``, ``fees``)
    are made on first read, in ``__getattr__``."""

    def __init__(self, book: Book, as_of: dt.date, index: ContractIndex) -> None:
        # _Ledger.__init__ is replaced as a whole: every attribute it sets is set here.
        self.book, self.as_of, self.index = book, as_of, index
        self.calendar = current_calendar()
        self.problems = []
        self.memo: Memo = {}
        self.insts = book.installments
        self.redo: set[int] = set()
        self.late_ordered = []
        self.weighted = {}
        self.settled = {}
        self.owed = {}
        self._scan()
        self._allocate()
        self._price()
        self._settle()

    # -- installments and due dates

    def _scan(self) -> None:
        insts, index = self.insts, self.index
        n = len(insts)
        column = _columns(self.book, "Installments", insts)
        ids = column("installment_id")
        cids = self.cids = list(column("contract_id"))
        self.amounts = list(column("amount"))
        fixed = column("due_date")
        self._installment_column = column
        slot_of = self.slot_of = dict(zip(ids, range(n), strict=True))
        order = list(index.contracts)
        code_of = self._code_of = dict(zip(order, range(len(order)), strict=True))
        if len(slot_of) != n or not code_of.keys() >= set(cids):
            raise _NotColumnar  # repeated IDs, unknown contracts: _Ledger's problems
        self.valid = [True] * n
        self.all_valid = True
        code = self._code = np.fromiter(map(code_of.__getitem__, cids), np.int64, n)
        terms = self._terms = list(map(index.terms.__getitem__, order))
        move = np.fromiter((t.move_due_off_rest_days for t in terms), np.bool_, len(terms))[code]
        grace = np.fromiter((t.grace_days or 0 for t in terms), np.int64, len(terms))
        self._amount = _fen(self.amounts)

        due = _ordinals(fixed)
        next_work, cumulative, working = _day_table(self.calendar)
        first = self.calendar.first_ordinal
        end = first + len(next_work)
        careful: Careful = []

        def moved(targets: Ints) -> tuple[Ints, Flags]:
            """The next working day of each target inside the data; False: not settled."""
            inside = (targets >= first) & (targets < end)
            found = np.zeros_like(targets)
            found[inside] = next_work[targets[inside] - first]
            return found, found != 0

        ks = np.flatnonzero((due > 0) & move)  # fixed dates moved off rest days
        found, ok = moved(due[ks])
        due[ks[ok]] = found[ok]
        for group in _groups(ks[~ok], due[ks[~ok]]):
            careful.append((group, (_FROM_ORDINAL(int(due[group[0]])), 0, CALENDAR_DAYS, True),
                            True))
        # fixed dates of contracts that do not move them stay as they are
        rule_ks = np.flatnonzero(due == 0)
        if rule_ks.size:
            careful += self._rule_dates_by_column(due, rule_ks, move, moved, cumulative,
                                                  working, first, end)
        provisional: dict[int, tuple[int, Source]] = {}
        firsts: dict[int, tuple[bool, int]] = {}  # year -> (not a fixed date, first position)
        memo, as_of = self.memo, self.as_of
        for group, key, is_fixed in careful:
            r = memo.get(key)
            if r is None:
                r = memo[key] = _resolve(*key, as_of)
            if isinstance(r, int):
                raise _NotColumnar  # before the holiday data: _Ledger's problem
            due[group] = r[0].toordinal()
            if r[2] is not None:
                k = int(group[0])
                seen, _ = provisional.get(r[2], (0, insts[k].src))
                provisional[r[2]] = (seen + len(group), insts[k].src)
                firsts[r[2]] = min(firsts.get(r[2], (True, n)), (not is_fixed, k))
        # _Ledger names the first fixed date of a year, else its first rule-based one
        for year, (seen, _) in provisional.items():
            provisional[year] = (seen, insts[firsts[year][1]].src)
        self.problems.extend(provisional_problems(provisional, as_of))
        self._due = due
        self._last_ok = due + grace[code]

    def _rule_dates_by_column(self, due: Ints, ks: Ints, move: Flags, moved: Any,
                              cumulative: Ints, working: Ints, first: int, end: int) -> Careful:
        """Prepayments and final payments without a date of their own (clause 3.4), by
        whole columns; the positions the day table cannot settle, for ``_resolve``."""
        contracts, code = self.index.contracts, self._code
        kinds = list(map(self._installment_column("kind").__getitem__, ks.tolist()))
        careful: Careful = []
        settled = 0
        for kind, rule in DUE_RULES.items():
            mine = ks[np.fromiter(map(kind.__eq__, kinds), np.bool_, len(kinds))]
            if not mine.size:
                continue
            settled += mine.size
            # (base, N, day type) of every contract, each distinct one checked once
            facts = list(map(attrgetter(rule.basis, rule.days, rule.day_type),
                             contracts.values()))
            distinct = set(facts)
            used = set(np.unique(code[mine]).tolist())
            ordinal: dict[tuple[Any, ...], tuple[int, int, bool]] = {}
            for base, n, day_type in distinct:
                usable = type(n) is int and (day_type or CALENDAR_DAYS) in DAY_TYPES
                if base is None or not usable:
                    continue
                ordinal[(base, n, day_type)] = (base.toordinal(), n, day_type == WORKING_DAYS)
            if len(ordinal) != len(distinct) and any(
                    facts[c] not in ordinal for c in used):
                raise _NotColumnar  # a contract without a usable rule: _Ledger's problem
            columns = list(zip(*(ordinal.get(f, (0, 0, False)) for f in facts), strict=True))
            base_c: Ints = np.array(columns[0], np.int64)
            n_c: Ints = np.array(columns[1], np.int64)
            working_c: Flags = np.array(columns[2], np.bool_)
            cc = code[mine]
            b, days, w, mv = base_c[cc], n_c[cc], working_c[cc], move[mine]
            result = np.zeros(len(mine), np.int64)
            ok = np.zeros(len(mine), np.bool_)
            # calendar days: base + N, moved to the next working day when the contract does
            cal = ~w
            target = b + days
            found, inside = moved(target)
            take = cal & mv & inside
            result[take] = found[take]
            ok |= take
            stay = cal & ~mv
            result[stay] = target[stay]
            ok |= stay
            # working days: the N-th working day after base (already a working day)
            wk = np.flatnonzero(w & (days > 0) & (b >= first) & (b < end))
            rank = cumulative[b[wk] - first + 1] + days[wk] - 1
            fits = rank < len(working)
            result[wk[fits]] = working[rank[fits]]
            ok[wk[fits]] = True
            due[mine[ok]] = result[ok]
            left = np.flatnonzero(~ok)
            for group in _groups(left, 2 * cc[left] + mv[left]):
                j = int(group[0])
                base, n, day_type = facts[int(cc[j])]
                careful.append((mine[group], (base, n, day_type or CALENDAR_DAYS, bool(mv[j])),
                                False))
        if settled != len(ks):
            raise _NotColumnar  # a kind without a rule and without a date: _Ledger's problem
        return careful

    # -- receipts

    def _allocate(self) -> None:
        """``_Ledger._allocate`` by columns: a positive receipt dated up to the as-of date
        naming an installment of its own contract is added to it, and weighed by its days
        late; the others go through ``_Ledger``'s own code."""
        receipts, as_of, n = self.book.receipts, self.as_of, len(self.insts)
        day = as_of.toordinal()
        slot_get, code_get = self.slot_of.get, self._code_of.get
        m = len(receipts)
        column = _columns(self.book, "Receipts", receipts)
        pos = np.fromiter(map(slot_get, column("installment_id"), repeat(-1)), np.int64, m)
        rcode = np.fromiter(map(code_get, column("contract_id"), repeat(-1)), np.int64, m)
        rday = _ordinals(column("date"))
        ramount = _fen(column("amount"))
        purposes = column("purpose")
        is_fee = np.zeros(m, np.bool_)
        if purposes.count(None) != m:
            is_fee[[k for k, x in enumerate(purposes)
                    if x is not None and x in FEE_PURPOSES]] = True
        code, last_ok, amount = self._code, self._last_ok, self._amount
        named = pos >= 0
        simple = named & (rday <= day) & (ramount > 0) & ~is_fee
        simple[simple] = code[pos[simple]] == rcode[simple]
        # every sum below is at most Σ|amounts| x the longest lateness x the largest rate
        longest = max(day - int(last_ok.min()), 1)
        rates = [ZERO if t.late_fee_exempt else t.late_fee_rate for t in self._terms]
        self._scale, self._rate = _scaled(rates)
        bound = (float(np.abs(ramount).sum(dtype=np.float64))
                 + float(np.abs(amount).sum(dtype=np.float64))) * longest
        if bound * max(int(self._rate.max()), 1) >= _SAFE:
            raise _NotColumnar
        ps, amounts = pos[simple], ramount[simple]
        late_by = rday[simple] - last_ok[ps]
        paid = np.zeros(n, np.int64)
        np.add.at(paid, ps, amounts)
        weighted = np.zeros(n, np.int64)  # Σ fen x days late
        np.add.at(weighted, ps, amounts * np.maximum(late_by, 0))
        self._late_receipts = np.flatnonzero(simple)[late_by > 0]

        odd: list[Receipt] = list(map(receipts.__getitem__, np.flatnonzero(~simple).tolist()))
        self.fee_receipts = [r for r in odd if r.purpose in FEE_PURPOSES]
        if self.fee_receipts:
            odd = [r for r in odd if r.purpose not in FEE_PURPOSES]
        others = [r for r in odd if r.date <= as_of and r.amount <= ZERO]
        others += [r for r in odd if r.date <= as_of and r.amount > ZERO]
        past_due = self._due < day
        open_ = np.where(past_due & (paid < amount), amount - paid, 0)
        contracts = self.index.contracts
        ordered = {r.contract_id for r in others
                   if not r.installment_id and r.contract_id in contracts}
        ordered.update(map(self.cids.__getitem__, np.flatnonzero(paid > amount).tolist()))
        redo: list[int] = []
        if ordered:
            mine = np.isin(code, [self._code_of[c] for c in ordered])
            redo = np.flatnonzero(mine).tolist()
            self.redo = set(redo)
            paid[mine] = 0
            weighted[mine] = 0
            open_[mine] = 0
        self._exceptions(others, ordered)
        self._redo_paid: dict[int, Decimal] = {}
        self._redo_open: dict[int, Decimal] = {}
        if ordered:
            theirs = np.isin(rcode, [self._code_of[c] for c in ordered])
            theirs &= (ramount > 0) & (rday <= day) & ~is_fee
            chosen = list(map(receipts.__getitem__, np.flatnonzero(theirs).tolist()))
            # _Ledger's date-order redo, on this state for the positions it touches
            self.paid = [ZERO] * (n + 1)
            self.due = _Days(self._due)  # type: ignore[assignment]
            self.last_ok = _Days(self._last_ok)  # type: ignore[assignment]
            self.open = {}
            self._chronological(ordered, sorted(chosen, key=_DATE))
            self._open_parts(redo)
            for p in redo:
                got = self.paid[p]
                self._redo_paid[p] = got
                paid[p] = int(got.scaleb(2))
            for p, rest in self.open.items():
                self._redo_open[p] = rest
                open_[p] = int(rest.scaleb(2))
            for p, w in self.weighted.items():
                weighted[p] = int(w.scaleb(2))
            del self.paid, self.due, self.last_ok, self.open
        self._paid, self._open, self._weighted = paid, open_, weighted

    # -- fees

    def _price(self) -> None:
        """Σ fen x days late (the open part's included) x the rate, rounded half-up to
        the fen; a capped fee exactly in Decimal."""
        day = self.as_of.toordinal()
        weighted = self._weighted + self._open * np.maximum(day - self._last_ok, 0)
        numerator = weighted * self._rate[self._code]  # the fee is numerator / 10**scale fen
        unit = 10**self._scale
        fee = (2 * numerator + unit) // (2 * unit)
        caps = [t.late_fee_cap_pct for t in self._terms]
        if any(x is not None for x in caps):
            capped = np.fromiter((x is not None for x in caps), np.bool_, len(caps))
            for k in np.flatnonzero(capped[self._code] & (numerator > 0)).tolist():
                cap_pct = caps[int(self._code[k])]
                assert cap_pct is not None
                exact = min(Decimal(int(numerator[k])).scaleb(-self._scale - 2),
                            cap_pct * self.amounts[k])
                fee[k] = int(exact.quantize(FEN, ROUND_HALF_UP).scaleb(2))
        self._weighted, self._numerator, self._fee = weighted, numerator, fee
        self.weighted = {}

    # -- the state the rows read, made on first read

    def __getattr__(self, name: str) -> Any:
        maker = _LAZY.get(name)
        if maker is None:
            raise AttributeError(name)
        value = maker(self)
        setattr(self, name, value)
        return value

    def _make_due(self) -> list[dt.date]:
        return _dates(self._due)

    def _make_last_ok(self) -> list[dt.date]:
        return [*_dates(self._last_ok), _NO_DATE]

    def _make_paid(self) -> list[Decimal]:
        paid: list[Decimal] = [ZERO] * (len(self.insts) + 1)
        ks = np.flatnonzero(self._paid).tolist()
        values = self._paid[ks].tolist()
        made = {v: _money(v) for v in set(values)}
        for k, v in zip(ks, values, strict=True):
            paid[k] = made[v]
        for k, got in self._redo_paid.items():
            paid[k] = got
        return paid

    def _make_open(self) -> dict[int, Decimal]:
        ks = np.flatnonzero(self._open > 0).tolist()
        amounts, paid = self.amounts, self._paid
        found = {k: amounts[k] if paid[k] == 0 else _money(int(self._open[k])) for k in ks}
        found.update(self._redo_open)
        return found

    def _make_late(self) -> list[tuple[int, dt.date, Receipt, Decimal]]:
        receipts, slot_of = self.book.receipts, self.slot_of
        late = []
        for k in self._late_receipts.tolist():
            r = receipts[k]
            late.append((slot_of[r.installment_id], r.date, r, r.amount))
        return late

    def _make_priced(self) -> list[int]:
        priced: list[int] = np.flatnonzero(self._weighted > 0).tolist()
        return priced

    def _make_exact(self) -> list[Decimal]:
        rates = [ZERO if t.late_fee_exempt else t.late_fee_rate for t in self._terms]
        code = self._code
        return [Decimal(int(self._weighted[p])).scaleb(-2) * rates[int(code[p])]
                for p in self.priced]

    def _make_fees(self) -> list[Decimal]:
        return [_money(int(self._fee[p])) for p in self.priced]

    # -- totals

    def positions(self) -> list[int]:
        return list(range(len(self.insts)))

    def count(self) -> int:
        return len(self.insts)

    def total_fee(self) -> Decimal:
        return _money(int(self._fee.sum()))

    def with_fee(self) -> int:
        return int(np.count_nonzero(self._fee))

    def total_overdue(self) -> Decimal:
        return _money(int(self._open.sum()))

    def total_outstanding(self) -> Decimal:
        not_due = self._due >= self.as_of.toordinal()
        return _money(int(self._open.sum() + (self._amount - self._paid)[not_due].sum()))


_LAZY = {
    "due": _ColumnarLedger._make_due,
    "last_ok": _ColumnarLedger._make_last_ok,
    "paid": _ColumnarLedger._make_paid,
    "open": _ColumnarLedger._make_open,
    "late": _ColumnarLedger._make_late,
    "priced": _ColumnarLedger._make_priced,
    "exact": _ColumnarLedger._make_exact,
    "fees": _ColumnarLedger._make_fees,
}


def _scaled(rates: list[Decimal]) -> tuple[int, Ints]:
    """Rates as integers over a common power of ten: (scale, rate x 10**scale each)."""
    try:
        distinct = set(rates)
        scale = max(0, *(-int(r.as_tuple().exponent) for r in distinct))
        scaled = {r: r.scaleb(scale) for r in distinct}
        if any(r < 0 or x != int(x) or x >= _SAFE for r, x in scaled.items()):
            raise _NotColumnar
    except (ArithmeticError, TypeError, ValueError) as err:
        raise _NotColumnar from err
    whole = {r: int(x) for r, x in scaled.items()}
    return scale, np.fromiter(map(whole.__getitem__, rates), np.int64, len(rates))
