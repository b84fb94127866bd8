"""SLA clocks of clause 1.2: response, solution and major-fault limits, and their penalties.

* Each incident runs up to three clocks from ``reported_at`` (table ``CLOCKS``):
  response (1.2(1), 2 h), solution (1.2(1), 4 h) and, for major incidents, resolution
  (1.2(2), 24 h). A clock stops at its timestamp; one not stopped by the as-of date, or
  stopped after it, is judged at the end of the as-of day (00:00 of the next day).
* Breach: elapsed time strictly greater than the limit, compared in microseconds, so
  exactly 2 h is met and 2 h + 1 s is a breach.
* Paused minutes (waiting on the client) come off the solution and resolution clocks.
  They do not stop the response clock: waiting on the client only starts after we answered.
* Clock "24x7" counts every minute; "working_hours" counts only work_day_start to
  work_day_end on Chinese working days, make-up workdays included.
* Each breach costs what the contract's schedule says: a fixed sum, or a share of the
  monthly fee, rounded half-up per breach. The monthly cap is applied per contract-month
  in ``penalties.py``.
* A penalty counts in the contract-month the incident was reported in.
* Monthly fee: the contract's ``monthly_fee``, else total fee / months of the term,
  rounded half-up. Months of the term: whole months from start to the day after the end
  (2026-01-15..2027-01-14 is 12), a remaining part of a month counting as one, at least 1.
* Times are naive local (Beijing) times, as Excel stores them. A working-hours clock
  that needs a year past the holiday data is an error problem; the incident is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, localcontext
from operator import attrgetter
from typing import NamedTuple, overload

from ..money import ZERO, round_fen
from ..records import Book, Contract, Incident, Problem, Severity, SlaPenaltyRule, Source
from ..terms import Terms
from .calendar import (
    US_PER_HOUR,
    US_PER_SECOND,
    CalendarYearError,
    calendar_problem,
    elapsed_us,
    working_us,
)
from .context import ContractIndex, index_contracts, ref, refs

US_PER_MINUTE = 60 * US_PER_SECOND
CLOCK_24X7 = "24x7"
CLOCK_WORKING = "working_hours"


class ClockRule(NamedTuple):
    breach: str  # the breach type in the penalty schedule
    stop: str  # Incident field that stops the clock
    limit: str  # Terms field with the limit in hours
    major_only: bool
    paused: bool  # whether paused minutes come off this clock
    clause: str


CLOCKS: tuple[ClockRule, ...] = (
    ClockRule("response", "responded_at", "sla_response_hours", False, False, "1.2(1)"),
    ClockRule("solution", "solution_at", "sla_solution_hours", False, True, "1.2(1)"),
    ClockRule("major", "resolved_at", "sla_major_hours", True, True, "1.2(2)"),
)


class Clock(NamedTuple):
    """One clock of one incident, as judged at the as-of date."""

    breach_type: str  # response | solution | major
    stop: dt.datetime | None  # None: not stopped by the as-of date
    elapsed_us: int  # counted time, pauses taken off
    limit_us: int
    breached: bool
    penalty: Decimal  # rounded; 0 when met
    rule: SlaPenaltyRule | None  # the schedule row that priced the breach

    @property
    def verdict(self) -> str:
        if self.stop is None:
            return "breach (open)" if self.breached else "open, within limit"
        return "breach" if self.breached else "met"


class IncidentSla(NamedTuple):
    incident_id: str
    contract_id: str
    severity: str
    month: dt.date  # first day of the month reported in: the contract-month it counts in
    reported_at: dt.datetime
    clock: str  # 24x7 | working_hours
    paused_minutes: int
    judged_at: dt.datetime  # the end of the as-of day
    clocks: tuple[Clock, ...]  # response, solution, and major for major incidents
    penalty: Decimal  # Σ clock penalties, before the monthly cap
    src: Source

    def clock_of(self, breach_type: str) -> Clock | None:
        for c in self.clocks:
            if c.breach_type == breach_type:
                return c
        return None

    def breached(self, breach_type: str) -> bool:
        c = self.clock_of(breach_type)
        return c is not None and c.breached


def term_months(start: dt.date, end: dt.date) -> int:
    """Months of a term: whole months from ``start`` to the day after ``end``, a part
    month counting as one, at least 1."""
    stop = end + dt.timedelta(days=1)
    months = (stop.year - start.year) * 12 + stop.month - start.month
    if months > 0 and _add_months(start, months) > stop:
        months -= 1
    if _add_months(start, months) < stop:
        months += 1
    return max(months, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def monthly_fee(contract: Contract) -> Decimal:
    """The base of percentage penalties, credits and the cap."""
    if contract.monthly_fee is not None:
        return contract.monthly_fee
    months = term_months(contract.start_date, contract.end_date)
    with localcontext() as exact:
        exact.prec = 60  # a quotient over <= 60 digits cannot straddle a half-fen wrongly
        return round_fen(contract.total_fee / months)


def monthly_fee_basis(contract: Contract) -> str:
    """How :func:`monthly_fee` was found, naming the cells, for the workings."""
    if contract.monthly_fee is not None:
        return refs("monthly fee", ref(contract.src, "monthly_fee"))
    months = term_months(contract.start_date, contract.end_date)
    return (f"total fee {contract.total_fee} / {months} months, round half-up ("
            + refs(ref(contract.src, "total_fee"), f"{contract.start_date}..{contract.end_date}")
            + ")")


def breach_penalty(rule: SlaPenaltyRule | None, fee: Decimal) -> Decimal:
    """What one breach costs under a schedule row (0 when the schedule has none)."""
    if rule is None:
        return ZERO
    if rule.mode == "percent":
        return round_fen(rule.value * fee)
    return round_fen(rule.value)


def judged_at(as_of: dt.date) -> dt.datetime:
    """The as-of date means the end of that day."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())


class SlaContext:
    """Per-run caches: monthly fees and penalty schedules by contract / terms."""

    def __init__(self, index: ContractIndex) -> None:
        self.index = index
        self._fees: dict[str, Decimal] = {}
        self._rules: dict[int, dict[str, SlaPenaltyRule]] = {}

    def fee(self, contract_id: str) -> Decimal:
        got = self._fees.get(contract_id)
        if got is None:
            got = self._fees[contract_id] = monthly_fee(self.index.contracts[contract_id])
        return got

    def rules(self, terms: Terms) -> dict[str, SlaPenaltyRule]:
        got = self._rules.get(id(terms))
        if got is None:
            got = {}
            for rule in terms.sla_penalties:
                got.setdefault(rule.breach, rule)
            self._rules[id(terms)] = got
        return got


class IncidentSlas(Sequence[IncidentSla]):
    """Every judged incident's :class:`IncidentSla`, in sheet order, built on first read
    by :func:`judge` (the engine's totals come from the lean pass)."""

    def __init__(self, kept: list[Incident], terms_of: Mapping[str, Terms], end: dt.datetime,
                 ctx: SlaContext) -> None:
        self._kept, self._terms_of, self._end, self._ctx = kept, terms_of, end, ctx
        self._rows: tuple[IncidentSla, ...] | None = None

    def _build(self) -> tuple[IncidentSla, ...]:
        if self._rows is None:
            ignored: list[Problem] = []  # reported by the pass that kept the incident
            self._rows = tuple(
                judge(inc, self._terms_of[inc.contract_id], self._end, self._ctx, ignored)
                for inc in self._kept
            )
        return self._rows

    def __len__(self) -> int:
        return len(self._kept)

    @overload
    def __getitem__(self, i: int) -> IncidentSla: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[IncidentSla]: ...
    def __getitem__(self, i: int | slice) -> IncidentSla | Sequence[IncidentSla]:
        return self._build()[i]

    def __iter__(self) -> Iterator[IncidentSla]:
        return iter(self._build())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IncidentSlas):
            return self._build() == other._build()
        if isinstance(other, tuple):
            return self._build() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"IncidentSlas({len(self)} incidents)"


class SlaRun(NamedTuple):
    incidents: IncidentSlas
    penalties: dict[tuple[str, dt.date], Decimal]  # Σ per (contract, month reported)
    breaches: int  # breached clocks


_NO_TIME = dt.timedelta(0)
_INCIDENT_ID = attrgetter("incident_id")


def _first_of_each(incidents: tuple[Incident, ...], problems: list[Problem]
                   ) -> tuple[Incident, ...]:
    """Incidents with a repeated ID: the first row counts, the others are problems."""
    seen: set[str] = set()
    kept = []
    for inc in incidents:
        if inc.incident_id in seen:
            problems.append(Problem.at(
                inc.src, "incident_id",
                f"incident {inc.incident_id} appears more than once; this row is ignored",
            ))
        else:
            seen.add(inc.incident_id)
            kept.append(inc)
    return tuple(kept)


def _limits(terms: Terms) -> tuple[dt.timedelta, dt.timedelta, dt.timedelta]:
    """The response, solution and major limits of ``CLOCKS``, as timedeltas."""
    def limit(hours: Decimal) -> dt.timedelta:
        return dt.timedelta(microseconds=int(hours * US_PER_HOUR))
    return (limit(terms.sla_response_hours), limit(terms.sla_solution_hours),
            limit(terms.sla_major_hours))


def incident_slas(
    book: Book, as_of: dt.date, index: ContractIndex | None = None,
    ctx: SlaContext | None = None,
) -> tuple[SlaRun, tuple[Problem, ...]]:
    """Every incident reported by the end of ``as_of``, its clocks judged at that moment.

    24x7 clocks are judged inline here; :func:`judge` is the same rule clock by clock,
    used for working-hours clocks and to build the rows.
    """
    problems: list[Problem] = []
    if index is None:
        index, found = index_contracts(book)
        problems.extend(found)
    if ctx is None:
        ctx = SlaContext(index)
    end = judged_at(as_of)
    incidents = book.incidents
    if len(set(map(_INCIDENT_ID, incidents))) != len(incidents):
        incidents = _first_of_each(incidents, problems)
    bad_hours: set[int] = set()
    kept: list[Incident] = []
    penalties: dict[tuple[str, dt.date], Decimal] = {}
    breaches = 0
    terms_of = index.terms
    # Per contract: its terms, and its 24x7 limits (None on a working-hours clock).
    limits_of: dict[int, tuple[dt.timedelta, dt.timedelta, dt.timedelta] | None] = {}
    clock_of: dict[str, tuple[Terms, tuple[dt.timedelta, dt.timedelta, dt.timedelta] | None]] = {}
    for cid, t in terms_of.items():
        if id(t) not in limits_of:
            limits_of[id(t)] = None if t.sla_clock == CLOCK_WORKING else _limits(t)
        clock_of[cid] = (t, limits_of[id(t)])
    for inc in incidents:
        reported = inc.reported_at
        if reported >= end:
            continue
        found_clock = clock_of.get(inc.contract_id)
        if found_clock is None:
            problems.append(Problem.at(
                inc.src, "contract_id",
                f"incident {inc.incident_id} names contract {inc.contract_id}, which is not "
                f"on the Contracts sheet; ignored",
            ))
            continue
        terms, lim = found_clock
        if lim is None:  # working hours
            if not 0 <= terms.work_day_start < terms.work_day_end <= 24:
                if id(terms) not in bad_hours:
                    bad_hours.add(id(terms))
                    problems.append(Problem.at(
                        book.settings.source_of("work_day_start"), "value",
                        f"working hours {terms.work_day_start}-{terms.work_day_end} are not a "
                        f"range within 0-24; incidents on a working-hours clock are not judged",
                    ))
                continue
            try:
                row = judge(inc, terms, end, ctx, problems)
            except CalendarYearError as err:
                problems.append(calendar_problem(
                    inc.src, "reported_at", err.year,
                    f"incident {inc.incident_id}'s working-hours clock",
                ))
                continue
            kept.append(inc)
            if row.penalty:
                key = (row.contract_id, row.month)
                penalties[key] = penalties.get(key, ZERO) + row.penalty
            breaches += sum(c.breached for c in row.clocks)
            continue
        # 24x7: the three clocks of CLOCKS, inline.
        kept.append(inc)
        stop = inc.responded_at
        spent = (stop if stop is not None and stop <= end else end) - reported
        response = spent > lim[0]
        paused = dt.timedelta(minutes=inc.paused_minutes) if inc.paused_minutes else _NO_TIME
        stop = inc.solution_at
        raw = (stop if stop is not None and stop <= end else end) - reported
        solution = raw - paused > lim[1]
        major = False
        if inc.severity == "major":
            stop = inc.resolved_at
            raw3 = (stop if stop is not None and stop <= end else end) - reported
            major = raw3 - paused > lim[2]
            raw = min(raw, raw3)
        if spent < _NO_TIME or raw < _NO_TIME:
            judge(inc, terms, end, ctx, problems)  # for its warnings
        if response or solution or major:
            breaches += response + solution + major
            rules = ctx.rules(terms)
            fee = ZERO
            total = ZERO
            for breach, hit in (("response", response), ("solution", solution),
                                ("major", major)):
                if hit:
                    rule = rules.get(breach)
                    if rule is not None and rule.mode == "percent" and fee == ZERO:
                        fee = ctx.fee(inc.contract_id)
                    total += breach_penalty(rule, fee)
            if total:
                key = (inc.contract_id, reported.date().replace(day=1))
                penalties[key] = penalties.get(key, ZERO) + total
    return SlaRun(IncidentSlas(kept, terms_of, end, ctx), penalties, breaches), tuple(problems)


def judge(inc: Incident, terms: Terms, end: dt.datetime, ctx: SlaContext,
          problems: list[Problem]) -> IncidentSla:
    """One incident's clocks judged at ``end``, clock by clock as ``CLOCKS`` says."""
    reported = inc.reported_at
    working = terms.sla_clock == CLOCK_WORKING
    paused_us = (inc.paused_minutes or 0) * US_PER_MINUTE
    rules = ctx.rules(terms)
    fee = ZERO
    clocks: list[Clock] = []
    total = ZERO
    for spec in CLOCKS:
        if spec.major_only and inc.severity != "major":
            continue
        stop = getattr(inc, spec.stop)
        if stop is not None and stop < reported:
            problems.append(Problem.at(
                inc.src, spec.stop,
                f"incident {inc.incident_id}: {spec.stop} is before reported_at; "
                f"the {spec.breach} clock counts it as zero",
                Severity.WARNING,
            ))
        if stop is not None and stop > end:
            stop = None  # stopped after the as-of date: as of then it was still running
        upto = end if stop is None else stop
        if working:
            spent = working_us(reported, upto, terms.work_day_start, terms.work_day_end)
        else:
            spent = elapsed_us(reported, upto)
        if spec.paused and paused_us:
            spent = max(0, spent - paused_us)
        limit = int(getattr(terms, spec.limit) * US_PER_HOUR)
        breached = spent > limit
        penalty = ZERO
        rule = None
        if breached:
            rule = rules.get(spec.breach)
            if rule is not None and rule.mode == "percent" and fee == ZERO:
                fee = ctx.fee(inc.contract_id)
            penalty = breach_penalty(rule, fee)
            total += penalty
        clocks.append(Clock(spec.breach, stop, spent, limit, breached, penalty, rule))
    return IncidentSla(
        inc.incident_id, inc.contract_id, inc.severity, reported.date().replace(day=1),
        reported, terms.sla_clock, inc.paused_minutes or 0, end, tuple(clocks), total,
        inc.src,
    )
