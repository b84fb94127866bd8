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
from decimal import ROUND_FLOOR, Decimal, localcontext
from operator import attrgetter
from typing import NamedTuple

from ..money import ZERO, round_fen
from ..records import AvailabilityMonth, Book, CreditTier, Problem, Severity, Source
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


def credit_tier(downtime: Decimal, base: Decimal,
                tiers: tuple[CreditTier, ...]) -> CreditTier | None:
    """The tier with the lowest ``below`` that the month falls under, if any."""
    for tier in sorted(tiers, key=_BELOW):
        if below(downtime, base, tier.below):
            return tier
    return None


_BELOW = attrgetter("below")


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
    first: dict[tuple[str, dt.date], AvailabilityMonth] = {}
    more: dict[tuple[str, dt.date], list[AvailabilityMonth]] = {}
    for rec in book.availability:
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

    minutes_of: dict[dt.date, tuple[int, Decimal]] = {}
    # Per terms: (allowed downtime share at the target, tiers lowest first with theirs).
    shares: dict[int, tuple[Decimal, tuple[tuple[Decimal, CreditTier], ...]]] = {}
    out: list[MonthAvailability] = []
    for key, rec in first.items():
        cid, month = key
        terms = terms_of[cid]
        got = minutes_of.get(month)
        if got is None:
            got = minutes_of[month] = (month_minutes(month), Decimal(month_minutes(month)))
        minutes, base = got
        group = (rec, *more[key]) if key in more else (rec,)
        downtime = rec.downtime_minutes
        maintenance = rec.maintenance_minutes or ZERO
        for extra in group[1:]:
            downtime += extra.downtime_minutes
            maintenance += extra.maintenance_minutes or ZERO
        if maintenance:
            base = base - maintenance
        if base <= ZERO or downtime > base:
            problems.append(Problem.at(
                rec.src, "downtime_minutes" if base > ZERO else "maintenance_minutes",
                f"contract {cid} {month:%Y-%m}: downtime {downtime} and maintenance "
                f"{maintenance} minutes do not fit in the month's {minutes}; not judged",
            ))
            continue
        share = shares.get(id(terms))
        if share is None:
            share = shares[id(terms)] = (
                ONE - terms.availability_target,
                tuple((ONE - t.below, t) for t in sorted(terms.credit_tiers, key=_BELOW)),
            )
        tier = None
        fee = ZERO
        credit = ZERO
        if downtime:
            for allowed, t in share[1]:
                if downtime > allowed * base:  # availability < t.below
                    tier = t
                    fee = ctx.fee(cid)
                    credit = round_fen(t.credit_pct * fee)
                    break
        out.append(MonthAvailability(
            cid, month, minutes, maintenance, downtime, base, terms.availability_target,
            downtime > share[0] * base, tier, fee, credit,
            month + dt.timedelta(days=minutes // MINUTES_PER_DAY - 1) <= as_of,
            (rec.src,) if len(group) == 1 else tuple(r.src for r in group),
        ))
    return tuple(out), tuple(problems)
