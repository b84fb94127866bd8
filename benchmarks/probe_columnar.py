"""Probe: what a columnar late-fee engine would buy (option (b) of issue 3), measured.

Not a product path: it prints the figures the decision rests on.

* the engine's late fees as they are (``late_fees`` on the large sample);
* the same rule as a numpy pass over integer columns (money in fen, days as ordinals,
  references as positions) that a parser would have to hand over, with the columns built
  beforehand and not timed; due dates come from the day table by whole arrays, dates
  past the holiday data from the engine's own rule once per distinct rule. The contracts
  the engine redoes receipt by receipt (an unnamed receipt, an overpaid installment) are
  left out of the pass and of the comparison, as a columnar engine would hand them to
  today's code;
* the check that the pass is exact: due date, open part and fee of every position it
  covers equal the engine's, to the fen;
* what the columns would cost if built from the records instead (reading the fields,
  ``float(Decimal)``, joining IDs through a dict), and importing numpy, which a refresh
  does not do today.

Usage: ``.venv/bin/python benchmarks/probe_columnar.py [--repeat 20]``. The large sample
has no receipts of late fees received or waived (the numpy pass leaves them out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from operator import attrgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import numpy as np

from contract_tracker.engine import latefees
from contract_tracker.engine.calendar import (
    calendar_for,
    calendar_in_force,
    current_calendar,
)
from contract_tracker.engine.context import index_contracts
from contract_tracker.money import EXACT
from contract_tracker.records import Book
from contract_tracker.sample import SAMPLE_AS_OF, sample_book

KINDS = {"prepayment": 0, "final": 1, "progress": 2}


def _fen(d: Decimal) -> int:
    n = d.scaleb(2)
    if n != n.to_integral_value():
        raise ValueError(f"{d} is not a whole number of fen")
    return int(n)


class Columns:
    """What a parser would hand over (built here from the records, untimed)."""

    def __init__(self, book: Book) -> None:
        contracts = book.contracts
        cpos = {c.contract_id: k for k, c in enumerate(contracts)}
        ipos: dict[str, int] = {}
        for k, i in enumerate(book.installments):
            ipos.setdefault(i.installment_id, k)
        insts, receipts = book.installments, book.receipts
        self.inst_contract = np.array([cpos[i.contract_id] for i in insts], np.int64)
        self.inst_amount = np.array([_fen(i.amount) for i in insts], np.int64)
        self.inst_fixed = np.array([i.due_date.toordinal() if i.due_date else 0
                                    for i in insts], np.int64)
        self.inst_kind = np.array([KINDS[i.kind] for i in insts], np.int8)
        self.rec_installment = np.array(
            [ipos.get(r.installment_id, -1) if r.installment_id else -2 for r in receipts],
            np.int64)
        self.rec_contract = np.array([cpos.get(r.contract_id, -1) for r in receipts], np.int64)
        self.rec_day = np.array([r.date.toordinal() for r in receipts], np.int64)
        self.rec_amount = np.array([_fen(r.amount) for r in receipts], np.int64)
        self.rec_fee = np.array([r.purpose in ("late_fee", "fee_waiver") for r in receipts])
        self.signing = np.array([c.signing_date.toordinal() for c in contracts], np.int64)
        self.end = np.array([c.end_date.toordinal() for c in contracts], np.int64)
        self.prepay_days = np.array([c.prepay_days or 0 for c in contracts], np.int64)
        self.final_days = np.array([c.final_days or 0 for c in contracts], np.int64)
        self.prepay_working = np.array([c.prepay_day_type == "working" for c in contracts])
        self.final_working = np.array([c.final_day_type == "working" for c in contracts])


class Pass:
    """One numpy late-fee pass; ``laps`` collects each step's time."""

    def __init__(self, book: Book, cols: Columns, as_of: dt.date) -> None:
        self.book, self.cols, self.as_of = book, cols, as_of
        self.laps: dict[str, list[float]] = {}

    def _lap(self, name: str, started: float) -> float:
        now = time.perf_counter()
        self.laps.setdefault(name, []).append(now - started)
        return now

    def run(self) -> tuple[Any, Any, Any, Any]:
        book, cols, as_of = self.book, self.cols, self.as_of
        t = time.perf_counter()
        index, _ = index_contracts(book)
        distinct: dict[int, Any] = {}
        term_of = np.fromiter(
            (distinct.setdefault(id(index.terms[c.contract_id]),
                                 (len(distinct), index.terms[c.contract_id]))[0]
             for c in book.contracts), np.int64, len(book.contracts))
        terms = [x for _, x in sorted(distinct.values(), key=lambda v: v[0])]
        move = np.array([x.move_due_off_rest_days for x in terms])[term_of]
        grace = np.array([x.grace_days or 0 for x in terms], np.int64)[term_of]
        rates = [Decimal(0) if x.late_fee_exempt else x.late_fee_rate for x in terms]
        scale = max(0, -min(int(r.as_tuple().exponent) for r in rates))
        rate_num = np.array([int(r.scaleb(scale)) for r in rates], np.int64)[term_of]
        capped = np.array([x.late_fee_cap_pct is not None for x in terms])[term_of]
        t = self._lap("index and terms", t)

        table = current_calendar()
        first = table.first_ordinal
        next_work = np.asarray(table.next_work, np.int64)
        cumulative = np.asarray(table.cumulative, np.int64)
        working = np.asarray(table.working_ordinals, np.int64)
        last = first + len(next_work)
        c = cols.inst_contract
        due = cols.inst_fixed.copy()
        careful = np.zeros(len(due), bool)
        fixed = due > 0
        moving = fixed & move[c]
        inside = moving & (due < last)
        due[inside] = next_work[due[inside] - first]
        careful |= moving & ~inside
        for kind, base, days, work in ((0, cols.signing, cols.prepay_days, cols.prepay_working),
                                       (1, cols.end, cols.final_days, cols.final_working)):
            m = np.flatnonzero(~fixed & (cols.inst_kind == kind))
            cc = c[m]
            b, n, w = base[cc], days[cc], work[cc]
            target = b + n
            by_calendar = np.where(move[cc], next_work[np.minimum(target, last - 1) - first],
                                   target)
            rank = cumulative[np.minimum(b + 1, last - 1) - first] + n
            by_working = working[np.minimum(rank, len(working) - 1)]
            due[m] = np.where(w, by_working, by_calendar)
            outside = np.where(w, (b + 1 >= last) | (rank >= len(working)),
                               (target >= last) | (move[cc] & (by_calendar == 0)))
            careful[m] |= outside
        t = self._lap("due dates (numpy)", t)
        memo: dict[tuple[Any, ...], Any] = {}
        for k in np.flatnonzero(careful).tolist():  # past the holiday data: the engine's rule
            inst = book.installments[k]
            rule = latefees._rule_of(inst, book.contracts[int(c[k])])
            assert not isinstance(rule, latefees.Problem)
            key = (rule[1], rule[2], rule[3], bool(move[c[k]]))
            found = memo.get(key)
            if found is None:
                found = memo[key] = latefees._resolve(*key, as_of)
            due[k] = found[0].toordinal()
        t = self._lap(f"due dates past the data ({int(careful.sum())}, one rule at a time)", t)

        last_ok = due + grace[c]
        day = as_of.toordinal()
        p = cols.rec_installment
        simple = (p >= 0) & (cols.rec_day <= day) & (cols.rec_amount > 0) & ~cols.rec_fee
        simple[simple] &= c[p[simple]] == cols.rec_contract[simple]
        ps, days_paid, amounts = p[simple], cols.rec_day[simple], cols.rec_amount[simple]
        n_inst = len(cols.inst_amount)
        paid = np.zeros(n_inst, np.int64)
        np.add.at(paid, ps, amounts)
        weighted = np.zeros(n_inst, np.int64)
        np.add.at(weighted, ps, amounts * np.maximum(days_paid - last_ok[ps], 0))
        t = self._lap("receipts (numpy)", t)
        unnamed = ((p == -2) & (cols.rec_day <= day) & (cols.rec_amount > 0)
                   & (cols.rec_contract >= 0) & ~cols.rec_fee)
        redone = np.isin(c, np.union1d(np.unique(c[paid > cols.inst_amount]),
                                       np.unique(cols.rec_contract[unnamed])))
        t = self._lap("contracts redone receipt by receipt (set aside)", t)
        open_part = np.where((day > due) & (cols.inst_amount > paid), cols.inst_amount - paid, 0)
        weighted += open_part * np.maximum(day - last_ok, 0)
        numerator = weighted * rate_num[c]  # the fee in fen is numerator / 10**scale
        fee = (2 * numerator + 10 ** scale) // (2 * 10 ** scale)
        for k in np.flatnonzero(capped[c] & (numerator > 0)).tolist():  # few: exactly
            cap_pct = index.terms[book.contracts[int(c[k])].contract_id].late_fee_cap_pct
            exact = min(Decimal(int(numerator[k])) / 10 ** scale,
                        cap_pct * int(cols.inst_amount[k]))
            fee[k] = int(exact.to_integral_value(ROUND_HALF_UP))
        self._lap("price (numpy)", t)
        return fee, open_part, redone, due


def _best(times: list[float]) -> str:
    return f"best {min(times) * 1000:6.1f} ms, median {statistics.median(times) * 1000:6.1f} ms"


def _timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    book = sample_book("large")
    as_of = SAMPLE_AS_OF
    calendar, _ = calendar_for(book.settings.holidays)
    cols = Columns(book)
    probe = Pass(book, cols, as_of)
    gc.disable()
    with calendar_in_force(calendar):
        with localcontext(EXACT):
            engine = _timed(lambda: latefees.late_fees(book, as_of), args.repeat)
        numpy_pass = _timed(probe.run, args.repeat)
        fee, open_part, redone, due = probe.run()
        with localcontext(EXACT):
            ledger = latefees._Ledger(book, as_of, index_contracts(book)[0])
    print(f"large sample as of {as_of}: {len(book.installments)} installments, "
          f"{len(book.receipts)} receipts")
    print(f"engine late fees (today's code)            {_best(engine)}")
    print(f"numpy pass on integer columns              {_best(numpy_pass)}")
    for name, times in probe.laps.items():
        print(f"  {name:<58} best {min(times) * 1000:5.1f} ms")
    fees = dict(zip(ledger.priced, ledger.fees, strict=True))
    covered = [k for k in range(len(book.installments)) if not redone[k]]
    wrong = [k for k in covered
             if _fen(fees.get(k, Decimal(0))) != fee[k]
             or _fen(ledger.open.get(k, Decimal(0))) != open_part[k]
             or ledger.due[k].toordinal() != due[k]]
    print(f"exact: {len(covered) - len(wrong)} of {len(covered)} positions agree with the "
          f"engine (due date, open part, fee); {len(book.installments) - len(covered)} "
          f"redone receipt by receipt are left to today's code")

    fields = attrgetter("installment_id", "contract_id", "amount", "due_date", "kind")
    receipt_fields = attrgetter("installment_id", "contract_id", "date", "amount")
    read = _timed(lambda: (list(zip(*map(fields, book.installments), strict=True)),
                           list(zip(*map(receipt_fields, book.receipts), strict=True))),
                  max(3, args.repeat // 4))
    amounts = [r.amount for r in book.receipts]
    floats = _timed(lambda: np.fromiter(map(float, amounts), np.float64, len(amounts)),
                    max(3, args.repeat // 4))
    ids = [i.installment_id for i in book.installments]
    named = [r.installment_id or "" for r in book.receipts]
    joins = _timed(lambda: list(map(dict(zip(ids, range(len(ids)), strict=True)).get, named)),
                   max(3, args.repeat // 4))
    print("building the columns from the records instead (per run):")
    print(f"  reading the fields of installments and receipts  {_best(read)}")
    print(f"  float(Decimal) of {len(amounts)} receipt amounts       {_best(floats)}")
    print(f"  joining receipts to installments by ID (dict)    {_best(joins)}")
    code = "import time; t = time.perf_counter(); import numpy; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], check=True,
                                    capture_output=True, text=True).stdout)
               for _ in range(5)]
    print(f"importing numpy in a fresh process           {_best(imports)} "
          f"(a refresh does not import numpy today)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
