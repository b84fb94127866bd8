"""Late fees of clause 7.2 by whole columns: the engine's fast path (numpy).

``columnar_ledger(book, as_of, index)`` works out what ``latefees._Ledger`` works out (due
dates, receipts applied, parts paid late, open parts, fees) with money in fen and days
as ordinals in 64-bit integer arrays, and hands back a ledger with the same state, so the
rows, positions and totals are read from it exactly as from ``_Ledger``. Due dates past
the holiday data come from the day table extended provisionally, as ``_resolve`` counts
them. What numpy does not add up is done by ``_Ledger``'s own code on the same state:
problems of receipts, the contracts redone receipt by receipt in date order (an unnamed
receipt, an overpaid installment), and the settling of fees received or waived.

Its columns come from the reader when it has them (``records.SheetColumns``: no record is
touched, and touching 60,000 Python objects that have left the cache costs more than the
arithmetic): the amounts' float cells and the dates' day ordinals packed in machine
arrays, and the links its checks worked out (each receipt's installment, each row's
contract, by position). A book made otherwise has its records read.

It returns None, and the engine runs ``_Ledger``, for a book it does not take: an
installment ID repeated, an installment of an unknown contract or without a usable due
date, a date before the holiday data, an amount not a whole number of fen, a negative
rate or cap, or figures that could overflow 64 bits. Every figure is an integer number of
fen (or fen × days, or fen × days × rate × 10**scale, in Python integers when a rate typed
as a formula has too many decimals for 64 bits): nothing is rounded but the fee, half up,
as clause 7.2 has it. Money comes out equal to ``_Ledger``'s, though its Decimal exponent
may differ (600.00 made from fen where the records give 600.0); every presentation formats
it. ``tests/test_engine_columnar.py`` compares both ledgers on generated books.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import repeat
from operator import attrgetter, eq, is_
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from ..money import FEN, ZERO
from ..records import Book, Receipt, Source, field_columns, link_of, sheet_columns
from ..schema import FEE_PURPOSES
from .calendar import (
    WORKING_DAYS,
    Calendar,
    current_calendar,
    provisional_through,
)
from .context import ContractIndex
from .latefees import (
    _DATE,
    _NO_DATE,
    _RULE_TYPES,
    _SRC,
    _ZERO_FEN,
    DUE_RULES,
    Memo,
    _Ledger,
    provisional_problems,
)

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

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
    except (_NotColumnar, OverflowError):  # OverflowError: a figure past int64 (a typo)
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


def _ordinals(days: Sequence[dt.date | None], known_ordinals: Sequence[int] | None = None
              ) -> Ints:
    """Day ordinals (0 for None): the reader's when it worked them out (``SheetColumns.days``),
    else each distinct date converted once."""
    if known_ordinals is not None:
        return _ints(known_ordinals).copy()  # writable: due dates are filled in
    known: dict[dt.date | None, int] = {d: d.toordinal() for d in set(days) if d is not None}
    known[None] = 0
    return np.fromiter(map(known.__getitem__, days), np.int64, len(days))


def _fen(values: Sequence[Decimal], cells: Sequence[object] | None = None) -> Ints:
    """Amounts in fen: from the cells they were read from when the reader packed them and
    they convert exactly (:func:`_fen_of_floats`), else from the Decimals, each distinct
    amount converted once."""
    if cells is not None:
        found = _fen_of_floats(cells)
        if found is not None:
            return found
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


def _ints(values: Sequence[int]) -> Ints:
    """Integers as an array: read in place when the reader packed them (``parse.packed``)."""
    if isinstance(values, array) and values.typecode == "q":
        found: Ints = np.frombuffer(values, np.int64)
        found.flags.writeable = False  # a view of the book's own
        return found
    return np.array(values, np.int64)


_FLOATS_EXACT_BELOW = 2.0**44
"""Below this (1.76e13 yuan), floats are closer together than a hundredth, so a float
within a hundredth of a whole number of fen is the one its two-decimal figure parses to."""


def _fen_of_floats(cells: Sequence[object]) -> Ints | None:
    """Amounts in fen from the cells the reader converted (``records.SheetColumns.cells``),
    in one go, when it packed them as floats (every cell a number: ``parse.packed``) and
    each is from 0 to 1.76e13 with at most two decimals in its figure, so that
    ``Decimal(repr(x))`` (``money.to_decimal``; an int converts exactly), the amount read,
    is exactly fen / 100; else None (text, a blank, more decimals: the reader rounded
    those)."""
    if not isinstance(cells, array) or cells.typecode != "d":
        return None
    floats = np.frombuffer(cells, np.float64)
    if not ((floats >= 0) & (floats < _FLOATS_EXACT_BELOW)).all():
        return None  # NaN and infinity too
    fen = np.rint(floats * 100)
    if not (fen / 100 == floats).all():
        return None
    whole: Ints = fen.astype(np.int64)
    return whole


def _columns(book: Book, sheet: str, rows: tuple[Any, ...]) -> tuple[
        Callable[[str], Sequence[Any]], Callable[[str], Sequence[object] | None],
        Callable[[str], Sequence[int] | None]]:
    """The fields of ``rows`` as columns (``records.field_columns``); the cells a money
    field was read from, and the day ordinals of a date field, when the reader gave them."""
    found = sheet_columns(book, sheet, rows)
    return (field_columns(book, sheet, rows), (found.cells if found else {}).get,
            (found.days if found else {}).get)


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _years(ordinals: Ints) -> Ints:
    """The year of each day ordinal."""
    days = (ordinals - _EPOCH).astype("datetime64[D]")
    years: Ints = days.astype("datetime64[Y]").astype(np.int64) + 1970
    return years


def _year(ordinal: int) -> int:
    return _FROM_ORDINAL(min(ordinal, dt.date.max.toordinal())).year


def _set(values: list[Any], at: Sequence[int], new: Iterable[Any]) -> None:
    """``values[at[i]] = new[i]`` for each i, at C speed."""
    deque(map(values.__setitem__, at, new), maxlen=0)


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
        """Positions, contracts, amounts in fen, due dates and last days not late."""
        insts, index = self.insts, self.index
        n = len(insts)
        column, cells, ordinals = _columns(self.book, "Installments", insts)
        ids = column("installment_id")
        cids = self.cids = column("contract_id")  # as self.amounts
        self.amounts = column("amount")  # the reader's tuple, not copied: no amount is touched
        fixed = column("due_date")
        self._installment_column = column
        # which installment each receipt names, as the reader found it checking them
        self._link = link_of(self.book, "Receipts", self.book.receipts, "installment_id", insts)
        slot_of = self.slot_of = (dict(zip(ids, range(n), strict=True)) if self._link is None
                                  else cast(dict[str, int], self._link.slot))
        order = list(index.contracts)
        code_of = self._code_of = dict(zip(order, range(len(order)), strict=True))
        found = self._contracts_of("Installments", insts)
        if found is not None:
            code = found
            if len(slot_of) != n or (code < 0).any():
                raise _NotColumnar  # (as below)
        elif len(slot_of) != n or not code_of.keys() >= set(cids):
            raise _NotColumnar  # repeated IDs, unknown contracts: _Ledger's problems
        else:
            code = np.fromiter(map(code_of.__getitem__, cids), np.int64, n)
        self._code = code
        self.valid = [True] * n
        self.all_valid = True
        terms = self._terms = list(map(index.terms.__getitem__, order))
        move = np.fromiter((t.move_due_off_rest_days for t in terms), np.bool_, len(terms))[code]
        grace = np.fromiter((t.grace_days or 0 for t in terms), np.int64, len(terms))
        self._amount = _fen(self.amounts, cells("amount"))

        # every due date as a rule: (base, N, working days?) with the contract's move
        base = _ordinals(fixed, ordinals("due_date"))
        is_fixed = base > 0
        days = np.zeros(n, np.int64)
        working = np.zeros(n, np.bool_)
        rule_ks = np.flatnonzero(~is_fixed)
        if rule_ks.size:
            self._rules(rule_ks, base, days, working)
        due, years = self._due_dates(base, days, working, move)
        provisional: dict[int, tuple[int, Source]] = {}
        if years.any():
            # _Ledger names the first fixed date moved off rest days, else the first other
            quick = is_fixed & move
            for year in np.unique(years[years > 0]).tolist():
                ks = np.flatnonzero(years == year)
                named = ks[quick[ks]]
                first_k = int(named[0] if named.size else ks[0])
                provisional[year] = (len(ks), insts[first_k].src)
        self.problems.extend(provisional_problems(provisional, self.as_of))
        self._due = due
        self._last_ok = due + grace[code]

    def _contracts_of(self, sheet: str, rows: tuple[Any, ...]) -> Ints | None:
        """Each row's contract by its position, as the reader found it checking the rows,
        when ``index.contracts`` holds the book's contracts in their order (it does when
        no contract ID repeats and it was made from this book), else None."""
        contracts = self.book.contracts
        if len(self.index.contracts) != len(contracts) or not all(
                map(is_, self.index.contracts.values(), contracts)):
            return None
        found = link_of(self.book, sheet, rows, "contract_id", contracts)
        return None if found is None else _ints(found.positions)

    def _rules(self, ks: Ints, base: Ints, days: Ints, working: Flags) -> None:
        """(base, N, working days?) of prepayments and final payments without a date of
        their own (clause 3.4), from their contracts' rules, into the columns."""
        contracts, code = self.index.contracts, self._code
        kinds = list(map(self._installment_column("kind").__getitem__, ks.tolist()))
        settled = 0
        for kind, rule in DUE_RULES.items():
            mine = ks[np.fromiter(map(eq, kinds, repeat(kind)), np.bool_, len(kinds))]
            if not mine.size:
                continue
            settled += mine.size
            # the rule of every contract, by columns; one a used contract cannot use is
            # _Ledger's problem
            bases, ns, types = (list(map(attrgetter(field), contracts.values()))
                                for field in (rule.basis, rule.days, rule.day_type))
            base_c = _ordinals(bases)
            whole = np.fromiter(map(int.__instancecheck__, ns), np.bool_, len(ns))
            whole &= np.fromiter(map(bool.__instancecheck__, ns), np.bool_, len(ns)) == 0
            known = np.fromiter(map(_RULE_TYPES.__contains__, types), np.bool_, len(types))
            cc = code[mine]
            if not (whole & known & (base_c > 0))[cc].all():
                raise _NotColumnar
            n_c = (np.array(ns, np.int64) if whole.all() else  # N typed everywhere
                   np.array([x if w else 0 for x, w in zip(ns, whole.tolist(), strict=True)],
                            np.int64))
            working_c = np.fromiter(map(eq, types, repeat(WORKING_DAYS)), np.bool_, len(types))
            base[mine] = base_c[cc]
            days[mine] = n_c[cc]
            working[mine] = working_c[cc]
        if settled != len(ks):
            raise _NotColumnar  # a kind without a rule and without a date: _Ledger's problem

    def _due_dates(self, base: Ints, days: Ints, working: Flags, move: Flags
                   ) -> tuple[Ints, Ints]:
        """``calendar.due_date`` by whole columns, and, as ``_resolve`` has it, the year
        without holiday data of each date that needed one (0: none), counted there as in
        ``calendar.approx_add_days``: on the day table extended provisionally
        (``calendar.provisional_through``) through the latest year any date can reach."""
        table = self.calendar
        first = table.first_ordinal
        next_work, _, working_days = _day_table(table)
        end = first + len(next_work)  # the first day past the data
        by_rank = working & (days > 0)  # the N-th working day after base
        target = np.where(working, base, base + days)  # else a day, moved or not
        reach = int(max(target.max(), base.max())) + 2 * max(int(days.max()), 0) + 31
        latest = max(_year(reach), table.last_year)
        wide = provisional_through(table, latest)
        next_x, cumulative_x, working_x = _day_table(wide)
        end_x = first + len(next_x)
        due = target.copy()  # a day not moved stays as it is, with no year needed
        years = np.zeros(len(base), np.int64)
        moving = np.flatnonzero(~by_rank & move)
        t = target[moving]
        if ((t < first) | (t >= end_x)).any():
            raise _NotColumnar  # before the data (_Ledger's problem), or past the extension
        found = next_x[t - first]
        if not found.all():
            raise _NotColumnar
        due[moving] = found
        inside = t < end
        inside[inside] = next_work[t[inside] - first] != 0
        late = ~inside
        years[moving[late]] = np.where(t[late] >= end, _years(t[late]), table.last_year + 1)
        ranked = np.flatnonzero(by_rank)
        b = base[ranked]
        if ((b < first) | (b >= end_x)).any():
            raise _NotColumnar
        rank = cumulative_x[b - first + 1] + days[ranked] - 1
        if (rank >= len(working_x)).any():
            raise _NotColumnar
        due[ranked] = working_x[rank]
        late = (b >= end) | (rank >= len(working_days))
        years[ranked[late]] = np.where(b[late] >= end, _years(b[late]), table.last_year + 1)
        return due, years

    # -- receipts

    def _allocate(self) -> None:
        """``_Ledger._allocate`` by columns: a positive receipt dated up to the as-of date
        naming an installment of its own contract is added to it, and weighed by its days
        late; the others go through ``_Ledger``'s own code."""
        receipts, as_of, n = self.book.receipts, self.as_of, len(self.insts)
        day = as_of.toordinal()
        slot_get, code_get = self.slot_of.get, self._code_of.get
        m = len(receipts)
        column, cells, ordinals = _columns(self.book, "Receipts", receipts)
        if self._link is not None:
            pos = _ints(self._link.positions)
        else:
            pos = np.fromiter(map(slot_get, column("installment_id"), repeat(-1)), np.int64, m)
        found = self._contracts_of("Receipts", receipts)
        rcode = found if found is not None else np.fromiter(
            map(code_get, column("contract_id"), repeat(-1)), np.int64, m)
        rday = _ordinals(column("date"), ordinals("date"))
        ramount = _fen(column("amount"), cells("amount"))
        purposes = column("purpose")
        is_fee = np.zeros(m, np.bool_)
        if purposes.count(None) != m:
            is_fee[[k for k, x in enumerate(purposes)
                    if x is not None and x in FEE_PURPOSES]] = True
        code, last_ok, amount = self._code, self._last_ok, self._amount
        named = pos >= 0
        simple = named & (rday <= day) & (ramount > 0) & ~is_fee
        simple[simple] = code[pos[simple]] == rcode[simple]
        # every sum below is at most Σ|amounts| x the longest lateness
        longest = max(day - int(last_ok.min()), 1)
        self._scale, self._rate = _scaled([t.charged_rate for t in self._terms])
        bound = (float(np.abs(ramount).sum(dtype=np.float64))
                 + float(np.abs(amount).sum(dtype=np.float64))) * longest
        if bound >= _SAFE:
            raise _NotColumnar
        ps, amounts = pos[simple], ramount[simple]
        late_by = rday[simple] - last_ok[ps]
        paid = np.zeros(n, np.int64)
        np.add.at(paid, ps, amounts)
        weighted = np.zeros(n, np.int64)  # Σ fen x days late
        np.add.at(weighted, ps, amounts * np.maximum(late_by, 0))
        self._late_receipts = np.flatnonzero(simple)[late_by > 0]

        odd: list[Receipt] = list(map(receipts.__getitem__, np.flatnonzero(~simple).tolist()))
        others, ordered = self._sort_out(odd)
        past_due = self._due < day
        open_ = np.where(past_due & (paid < amount), amount - paid, 0)
        over = (paid > amount) & (paid > 0)  # paid more than due (nothing paid is not)
        ordered.update(map(self.cids.__getitem__, np.flatnonzero(over).tolist()))
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
        the fen; a capped fee exactly in Decimal. The fee is numerator / 10**scale fen:
        in int64 when it fits, else in Python integers position by position (a rate typed
        as a formula, =15%/365, has 18 to 20 decimals)."""
        day = self.as_of.toordinal()
        weighted = self._weighted + self._open * np.maximum(day - self._last_ok, 0)
        code, rates, unit = self._code, self._rate, 10**self._scale
        caps = [t.late_fee_cap_pct for t in self._terms]
        if any(x is not None and x < 0 for x in caps):
            raise _NotColumnar  # a negative cap: _Ledger's arithmetic, whatever it means
        top = max(rates)
        if top < _SAFE and unit < _SAFE and top * int(weighted.max(initial=0)) < _SAFE:
            numerator = weighted * np.array(rates, np.int64)[code]
            whole, rest = np.divmod(numerator, unit)
            fee = whole + (2 * rest >= unit)

            def numerator_of(k: int) -> int:
                return int(numerator[k])
        else:
            fee = np.zeros(len(weighted), np.int64)
            exact: dict[int, int] = {}
            for k in np.flatnonzero(weighted).tolist():
                exact[k] = int(weighted[k]) * rates[int(code[k])]
                whole_k, rest_k = divmod(exact[k], unit)
                fee[k] = whole_k + (2 * rest_k >= unit)

            def numerator_of(k: int) -> int:
                return exact.get(k, 0)
        if any(x is not None for x in caps):
            capped = np.fromiter((x is not None for x in caps), np.bool_, len(caps))
            for k in np.flatnonzero(capped[code] & (weighted > 0)).tolist():
                cap_pct = caps[int(code[k])]
                assert cap_pct is not None
                exact_fee = min(Decimal(numerator_of(k)).scaleb(-self._scale - 2),
                                cap_pct * self.amounts[k])
                fee[k] = int(exact_fee.quantize(FEN, ROUND_HALF_UP).scaleb(2))
        self._weighted, self._fee = weighted, fee
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
        rates = [t.charged_rate for t in self._terms]
        code = self._code
        return [Decimal(int(self._weighted[p])).scaleb(-2) * rates[int(code[p])]
                for p in self.priced]

    def _make_fees(self) -> list[Decimal]:
        return [_money(int(self._fee[p])) for p in self.priced]

    # -- totals and positions

    def position_columns(self) -> tuple[Sequence[object], ...]:
        """``_Ledger.position_columns`` from the integer columns: Decimals are made only
        for the few positions that are neither paid in full nor unpaid, and for fees."""
        n = len(self.insts)
        amounts, amount, paid = self.amounts, self._amount, self._paid
        outstanding: list[Decimal] = [_ZERO_FEN] * n
        settled = list(amounts)  # paid = amount - outstanding
        unpaid = np.flatnonzero(paid == 0).tolist()
        _set(outstanding, unpaid, map(amounts.__getitem__, unpaid))
        _set(settled, unpaid, repeat(_ZERO_FEN))
        partly = np.flatnonzero((paid != 0) & (paid != amount)).tolist()
        _set(outstanding, partly, map(_money, (amount - paid)[partly].tolist()))
        _set(settled, partly, map(_money, paid[partly].tolist()))
        overdue: list[Decimal] = [ZERO] * n
        late_ks = np.flatnonzero(self._open > 0).tolist()
        _set(overdue, late_ks, map(self.open.__getitem__, late_ks))
        day = self.as_of.toordinal()
        days_overdue = np.where(self._open > 0, day - self._due, 0).tolist()
        fees: list[Decimal] = [_ZERO_FEN] * n
        charged = np.flatnonzero(self._fee).tolist()
        _set(fees, charged, map(_money, self._fee[charged].tolist()))
        owed = fees
        if self.owed:
            owed = fees.copy()
            _set(owed, list(self.owed), self.owed.values())
        grace = np.fromiter((t.grace_days or 0 for t in self._terms), np.int64, len(self._terms))
        return (self.cids, self._installment_column("installment_id"), self.due,
                grace[self._code].tolist(), amounts, settled, outstanding, overdue,
                days_overdue, fees, list(map(_SRC, self.insts)), owed)

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


def _scaled(rates: list[Decimal]) -> tuple[int, list[int]]:
    """Rates as integers over a common power of ten: (scale, rate x 10**scale each)."""
    try:
        distinct = set(rates)
        scale = max(0, *(-int(r.as_tuple().exponent) for r in distinct))
        scaled = {r: r.scaleb(scale) for r in distinct}
        if any(r < 0 or x != int(x) for r, x in scaled.items()):
            raise _NotColumnar
    except (ArithmeticError, TypeError, ValueError) as err:
        raise _NotColumnar from err
    whole = {r: int(x) for r, x in scaled.items()}
    return scale, list(map(whole.__getitem__, rates))
