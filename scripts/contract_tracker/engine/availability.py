"""Monthly availability of clause 1.2(3) (7x24 at 99.9 %) and its service credits.

* Availability of a contract-month = 1 - downtime / (minutes in the month - agreed
  maintenance minutes). Below the contract's target is a breach; exactly the target is
  not (99.9 % of a 30-day month allows 43.2 minutes).
* Service credit: of the schedule's tiers whose ``below`` the month falls under, the one
  with the lowest ``below`` applies (AWS pattern: < 99.99 % 10 %, < 99 % 30 %, < 95 % 100 %),
  credit = its ``credit_pct`` × the monthly fee, rounded half-up.
* Comparisons are exact: ``availability < x`` is tested as ``downtime > (1 - x) × base``,
  so no rounded quotient decides a breach.
* Only months that have begun by the as-of date count; several rows for one
  contract-month are added together (with a warning).
"""

from __future__ import annotations

import calendar as _months
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext
from functools import partial
from itertools import compress, count, repeat
from operator import attrgetter, eq, ge, gt, itemgetter, mul
from typing import NamedTuple

from ..money import ZERO, fmt_quantity, round_fen
from ..records import AvailabilityMonth, Book, CreditTier, Problem, Severity, Source
from ..terms import Terms
from .context import ContractIndex, index_contracts
from .sla import SlaContext

MINUTES_PER_DAY = 1440
ONE = Decimal(1)
SHOWN = Decimal("0.000001")  # availability is shown to 4 decimals of a percent


class MonthAvailability(NamedTuple):
    contract_id: str
    month: dt.date  # first day
    minutes: int  # in the calendar month
    maintenance: Decimal
    downtime: Decimal
    base: Decimal  # minutes - maintenance
    target: Decimal
    breach: bool
    tier: CreditTier | None
    monthly_fee: Decimal  # the base of the credit (0 when no tier applies)
    credit: Decimal  # rounded, before the monthly cap
    complete: bool  # the month had ended by the as-of date
    sources: tuple[Source, ...]  # the Availability rows

    @property
    def availability(self) -> Decimal:
        """1 - downtime / base, to 28 significant digits (decisions never use it)."""
        with localcontext() as exact:
            exact.prec = 28
            return ONE - self.downtime / self.base

    @property
    def shown(self) -> Decimal:
        """Availability truncated to 6 decimals, so a breach never displays as the target."""
        return self.availability.quantize(SHOWN, rounding=ROUND_FLOOR)


def month_minutes(month: dt.date) -> int:
    return _months.monthrange(month.year, month.month)[1] * MINUTES_PER_DAY


def below(downtime: Decimal, base: Decimal, threshold: Decimal) -> bool:
    """``1 - downtime/base < threshold``, exactly (``base > 0``)."""
    return downtime > (ONE - threshold) * base


_BELOW = attrgetter("below")
_MONTH = attrgetter("month")
_CONTRACT_ID = attrgetter("contract_id")
_DOWNTIME = attrgetter("downtime_minutes")
_MAINTENANCE = attrgetter("maintenance_minutes")
_SRC = attrgetter("src")
_DAY = attrgetter("day")
_ROW = partial(tuple.__new__, MonthAvailability)


def availability_months(
    book: Book, as_of: dt.date, index: ContractIndex | None = None,
    ctx: SlaContext | None = None,
) -> tuple[tuple[MonthAvailability, ...], tuple[Problem, ...]]:
    """Availability, breach and credit of every contract-month begun by ``as_of``."""
    problems: list[Problem] = []
    if index is None:
        index, found = index_contracts(book)
        problems.extend(found)
    if ctx is None:
        ctx = SlaContext(index)
    terms_of = index.terms
    records = book.availability
    months = list(map(_MONTH, records))
    cids = list(map(_CONTRACT_ID, records))
    if (records and max(months) <= as_of and set(cids) <= terms_of.keys()
            and all(map(eq, map(_DAY, months), repeat(1)))):
        first = dict(zip(zip(cids, months, strict=True), records, strict=True))
        more: dict[tuple[str, dt.date], list[AvailabilityMonth]] = {}
        if len(first) != len(records):  # a contract-month on two rows: the careful path
            first, more = _group(records, as_of, terms_of, problems)
    else:
        first, more = _group(records, as_of, terms_of, problems)
    return _judge_months(first, more, as_of, terms_of, ctx, problems), tuple(problems)


def _group(records: tuple[AvailabilityMonth, ...], as_of: dt.date,
           terms_of: Mapping[str, Terms], problems: list[Problem],
           ) -> tuple[dict[tuple[str, dt.date], AvailabilityMonth],
                      dict[tuple[str, dt.date], list[AvailabilityMonth]]]:
    """Rows by contract-month, row by row: months not begun are left out, unknown
    contracts are problems, a second row for a contract-month is added (with a warning)."""
    first: dict[tuple[str, dt.date], AvailabilityMonth] = {}
    more: dict[tuple[str, dt.date], list[AvailabilityMonth]] = {}
    for rec in records:
        if rec.month > as_of:
            continue
        if rec.contract_id not in terms_of:
            problems.append(Problem.at(
                rec.src, "contract_id",
                f"availability row names contract {rec.contract_id}, which is not on the "
                f"Contracts sheet; ignored",
            ))
            continue
        month = rec.month if rec.month.day == 1 else rec.month.replace(day=1)
        key = (rec.contract_id, month)
        if key in first:
            problems.append(Problem.at(
                rec.src, "month",
                f"a second row for contract {rec.contract_id} in {month:%Y-%m} "
                f"(first at {first[key].src.ref('month')}); their minutes are added",
                Severity.WARNING,
            ))
            more.setdefault(key, []).append(rec)
        else:
            first[key] = rec
    return first, more


def _judge_months(first: dict[tuple[str, dt.date], AvailabilityMonth],
                  more: dict[tuple[str, dt.date], list[AvailabilityMonth]], as_of: dt.date,
                  terms_of: Mapping[str, Terms], ctx: SlaContext, problems: list[Problem],
                  ) -> tuple[MonthAvailability, ...]:
    """Each contract-month judged, by whole columns: breach when downtime > (1 - target)
    × base, the credit tier (the lowest ``below`` it falls under) where one applies."""
    keys = list(first)
    records = list(first.values())
    cids = list(map(_FIRST, keys))
    months = list(map(_SECOND, keys))
    downtime = list(map(_DOWNTIME, records))
    maintenance = [m or ZERO for m in map(_MAINTENANCE, records)]
    sources: list[tuple[Source, ...]] = list(zip(map(_SRC, records)))
    for i in _where(map(more.__contains__, keys)) if more else ():
        group = (records[i], *more[keys[i]])
        sources[i] = tuple(r.src for r in group)
        for extra in group[1:]:
            downtime[i] += extra.downtime_minutes
            maintenance[i] += extra.maintenance_minutes or ZERO
    # Per month: its minutes, as int and Decimal, and whether it had ended by as_of.
    per_month = {m: _month_facts(m, as_of) for m in set(months)}
    facts = list(map(per_month.__getitem__, months))
    minutes = list(map(_FIRST, facts))
    base = list(map(_SECOND, facts))
    for i in _where(maintenance):
        base[i] = base[i] - maintenance[i]
    # Rows that do not fit in their month are problems and are not judged.
    unfit = _where(map(gt, downtime, base)) if keys else []
    if keys and min(base) <= ZERO:
        unfit = sorted({*unfit, *_where(map(ge, repeat(ZERO), base))})
    if unfit:
        for i in unfit:
            problems.append(Problem.at(
                records[i].src, "downtime_minutes" if base[i] > ZERO else "maintenance_minutes",
                f"contract {cids[i]} {months[i]:%Y-%m}: downtime {fmt_quantity(downtime[i])} and "
                f"maintenance {fmt_quantity(maintenance[i])} minutes do not fit in the "
                f"month's {minutes[i]:,}; not judged: check the minutes",
            ))
        keep = set(range(len(keys))).difference(unfit)
        pick = sorted(keep)
        (cids, months, downtime, maintenance, sources, facts, minutes, base) = (
            list(map(column.__getitem__, pick)) for column in
            (cids, months, downtime, maintenance, sources, facts, minutes, base))
    n = len(cids)
    # Per terms: (allowed downtime share at the target, tiers lowest first with theirs).
    shares: dict[int, tuple[Decimal, Decimal, tuple[tuple[Decimal, CreditTier], ...]]] = {}
    for t in {id(t): t for t in map(terms_of.__getitem__, set(cids))}.values():
        shares[id(t)] = (
            t.availability_target, ONE - t.availability_target,
            tuple((ONE - tier.below, tier) for tier in sorted(t.credit_tiers, key=_BELOW)),
        )
    if len(set(shares.values())) == 1:  # one schedule for all (the usual case)
        target, allowed, tiers = next(iter(shares.values()))
        targets: Iterable[Decimal] = repeat(target, n)
        breach = list(map(gt, downtime, map(mul, repeat(allowed), base)))
        tiers_of: Sequence[tuple[tuple[Decimal, CreditTier], ...]] = [tiers] * n
    else:
        share = list(map(shares.__getitem__, map(id, map(terms_of.__getitem__, cids))))
        targets = map(_FIRST, share)
        breach = list(map(gt, downtime, map(mul, map(_SECOND, share), base)))
        tiers_of = list(map(_THIRD, share))
    # Service credits: only a month whose downtime is above the most lenient tier of any
    # schedule can earn one; those few are priced row by row.
    tier_col: list[CreditTier | None] = [None] * n
    fee_col = [ZERO] * n
    credit_col = [ZERO] * n
    lenient = [a for s in shares.values() for a, _ in s[2]]
    if lenient and n:
        least = min(lenient)
        for i in _where(map(gt, downtime, map(mul, repeat(least), base))):
            if not downtime[i]:
                continue
            for allowed_i, tier in tiers_of[i]:
                if downtime[i] > allowed_i * base[i]:  # availability < tier.below
                    tier_col[i] = tier
                    fee_col[i] = ctx.fee(cids[i])
                    credit_col[i] = round_fen(tier.credit_pct * fee_col[i])
                    break
    return tuple(map(_ROW, zip(
        cids, months, minutes, maintenance, downtime, base, targets, breach, tier_col,
        fee_col, credit_col, map(_THIRD, facts), sources, strict=True)))


def _month_facts(month: dt.date, as_of: dt.date) -> tuple[int, Decimal, bool]:
    minutes = month_minutes(month)
    ended = month + dt.timedelta(days=minutes // MINUTES_PER_DAY - 1) <= as_of
    return minutes, Decimal(minutes), ended


def _where(flags: Iterable[object]) -> list[int]:
    """Positions of the true flags."""
    return list(compress(count(), flags))


_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_THIRD = itemgetter(2)
