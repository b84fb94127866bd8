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
from calendar import isleap
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import compress, count, repeat
from operator import add, attrgetter, eq, gt, is_, itemgetter, le, methodcaller, mul, or_, sub
from typing import Any, NamedTuple, cast, overload

from ..money import EXACT, FEN, ZERO, round_fen
from ..records import (
    NO_SOURCE,
    Book,
    Contract,
    Incident,
    Problem,
    Severity,
    SlaPenaltyRule,
    Source,
    field_columns,
)
from ..terms import Terms
from .calendar import (
    US_PER_HOUR,
    US_PER_SECOND,
    CalendarYearError,
    calendar_for,
    calendar_in_force,
    calendar_problem,
    current_calendar,
    elapsed_us,
    provisional_through,
    working_clock_us,
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
    if months > 0:
        # start + months lands in stop's month, on start's day or that month's last day:
        # a part month more when that is before stop (one month back is always before).
        last = _MONTH_DAYS[stop.month] + (stop.month == 2 and isleap(stop.year))
        return months + (min(start.day, last) < stop.day)
    if _add_months(start, months) < stop:
        months += 1
    return max(months, 1)


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


_EXACT = EXACT  # a quotient over <= 60 digits cannot straddle a half-fen wrongly
_MONTHLY_FEE = attrgetter("monthly_fee")
_TOTAL_FEE = attrgetter("total_fee")


def monthly_fee(contract: Contract) -> Decimal:
    """The base of percentage penalties, credits and the cap."""
    if contract.monthly_fee is not None:
        return contract.monthly_fee
    return _fee_per_month(contract.total_fee, term_months(contract.start_date,
                                                          contract.end_date))


def _fee_per_month(total: Decimal, months: int) -> Decimal:
    return _EXACT.divide(total, months).quantize(FEN, ROUND_HALF_UP, _EXACT)


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
        self._months: dict[tuple[dt.date, dt.date], int] = {}  # terms share their dates

    def fee(self, contract_id: str) -> Decimal:
        got = self._fees.get(contract_id)
        if got is None:
            c = self.index.contracts[contract_id]
            if c.monthly_fee is not None:
                got = c.monthly_fee
            else:
                term = (c.start_date, c.end_date)
                months = self._months.get(term)
                if months is None:
                    months = self._months[term] = term_months(*term)
                got = _fee_per_month(c.total_fee, months)
            self._fees[contract_id] = got
        return got

    def fees(self, contract_ids: list[str]) -> list[Decimal]:
        """:meth:`fee` of each, those not known yet found together."""
        new = [c for c in set(contract_ids) if c not in self._fees]
        if new:
            contracts = list(map(self.index.contracts.__getitem__, new))
            own = list(map(_MONTHLY_FEE, contracts))
            if None in own:
                term = [(c.start_date, c.end_date) for c in contracts]
                for t in set(term).difference(self._months):
                    self._months[t] = term_months(*t)
                by_term = [k for k, fee in enumerate(own) if fee is None]
                divided = map(_EXACT.divide, map(_TOTAL_FEE, map(contracts.__getitem__, by_term)),
                              map(self._months.__getitem__, map(term.__getitem__, by_term)))
                rounded = map(Decimal.quantize, divided, repeat(FEN), repeat(ROUND_HALF_UP),
                              repeat(_EXACT))
                _run(map(own.__setitem__, by_term, rounded))
            self._fees.update(zip(new, own, strict=True))
        return list(map(self._fees.__getitem__, contract_ids))

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
                 ctx: SlaContext, breached: list[Incident] | None = None) -> None:
        self._kept, self._terms_of, self._end, self._ctx = kept, terms_of, end, ctx
        self._breached = breached  # the kept incidents with a breached clock (lean pass)
        self._rows: tuple[IncidentSla, ...] | None = None
        self._calendar = current_calendar()  # built later, the rows count with it too

    def breached(self) -> tuple[IncidentSla, ...]:
        """The rows with a breached clock, in sheet order, without building the others
        (the weekly report needs only these)."""
        rows = (self._build() if self._rows is not None or self._breached is None
                else self._judge(self._breached))
        return tuple(s for s in rows if any(c.breached for c in s.clocks))

    def notable(self, months: Collection[dt.date] | None = None) -> tuple[IncidentSla, ...]:
        """The rows with a breached clock or a clock still running at the as-of date, in
        sheet order, without building the others (the Dashboard needs only these);
        ``months`` (first days): only the breaches reported in those months count, so
        the years of past breaches are not judged again."""
        def counts(s: IncidentSla) -> bool:
            return any(c.stop is None for c in s.clocks) or (
                (months is None or s.month in months) and any(c.breached for c in s.clocks))

        if self._rows is not None or self._breached is None:
            rows = self._build()
        else:
            hit = {id(inc) for inc in self._breached
                   if months is None or inc.reported_at.date().replace(day=1) in months}
            rows = self._judge([inc for inc in self._kept
                                if id(inc) in hit or _may_run(inc, self._end)])
        return tuple(filter(counts, rows))

    def _build(self) -> tuple[IncidentSla, ...]:
        if self._rows is None:
            self._rows = self._judge(self._kept)
        return self._rows

    def _judge(self, incidents: Iterable[Incident]) -> tuple[IncidentSla, ...]:
        """Rows for ``incidents``, judged with the run's calendar (their problems were
        reported by the pass that kept them)."""
        ignored: list[Problem] = []
        with calendar_in_force(self._calendar):
            return tuple(judge(inc, self._terms_of[inc.contract_id], self._end, self._ctx,
                               ignored) for inc in incidents)

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

    24x7 clocks are judged here by whole columns (stop - reported > limit + paused, as
    timedeltas), working-hours clocks incident by incident on the working clock of
    ``calendar.working_clock_us``; :func:`judge` is the same rule clock by clock, used
    for the rows and wherever an incident needs a warning or cannot be judged.
    """
    problems: list[Problem] = []
    if index is None:
        index, found = index_contracts(book)
        problems.extend(found)
    if ctx is None:
        ctx = SlaContext(index)
    calendar, _ = calendar_for(book.settings.holidays)  # its problems: compute_penalties
    with calendar_in_force(calendar):
        return _incident_slas(book, as_of, index, ctx, problems)


def _incident_slas(book: Book, as_of: dt.date, index: ContractIndex, ctx: SlaContext,
                   problems: list[Problem]) -> tuple[SlaRun, tuple[Problem, ...]]:
    end = judged_at(as_of)
    known = current_calendar()
    last_read = (end - _ONE_US).year  # no clock reads past the end of the as-of date
    if last_read > known.last_year:
        # A working-hours clock cannot wait for next year's holiday data: the years past
        # it are counted provisionally, and each clock that reaches them says so.
        with calendar_in_force(provisional_through(known, last_read)):
            return _judge_all(book, end, index, ctx, problems,
                              dt.datetime(known.last_year + 1, 1, 1))
    return _judge_all(book, end, index, ctx, problems, None)


_ONE_US = dt.timedelta(microseconds=1)


def _judge_all(book: Book, end: dt.datetime, index: ContractIndex, ctx: SlaContext,
               problems: list[Problem], provisional_from: dt.datetime | None,
               ) -> tuple[SlaRun, tuple[Problem, ...]]:
    incidents = book.incidents
    column = field_columns(book, "Incidents", incidents)
    if len(set(column("incident_id"))) != len(incidents):
        incidents = _first_of_each(incidents, problems)
        column = field_columns(book, "Incidents", incidents)  # the records' own
    run = _SlaPass(incidents, index.terms, end, ctx, book.settings.source_of("work_day_start"),
                   index.contracts, provisional_from, column)
    problems.extend(run.problems())
    return (SlaRun(IncidentSlas(run.kept(), index.terms, end, ctx, run.breached()),
                   run.penalties(), run.breaches),
            tuple(problems))


_STOP_OF = tuple(attrgetter(spec.stop) for spec in CLOCKS)
_NOTHING = repeat(None)


def _where(flags: Iterable[object]) -> list[int]:
    """Positions of the true flags."""
    return list(compress(count(), flags))


def _run(effects: Iterable[object]) -> None:
    """Exhaust an iterator run for its side effects."""
    deque(effects, maxlen=0)


class _SlaPass:
    """The lean pass of :func:`incident_slas`: breaches, their count and penalties per
    contract-month, and which incidents are kept; by incident position, so problems,
    kept incidents and penalties come out in sheet order whichever path found them."""

    def __init__(self, incidents: tuple[Incident, ...], terms_of: Mapping[str, Terms],
                 end: dt.datetime, ctx: SlaContext, settings_src: Source = NO_SOURCE,
                 contracts: Mapping[str, Contract] | None = None,
                 provisional_from: dt.datetime | None = None,
                 column: Callable[[str], Sequence[Any]] | None = None) -> None:
        self.incidents, self.terms_of, self.end, self.ctx = incidents, terms_of, end, ctx
        # a field of every incident (the reader's columns, or read off the records)
        self.column = column or (lambda name: list(map(attrgetter(name), incidents)))
        self.provisional_from = provisional_from  # where the provisional days begin
        self.provisional: list[int] = []  # working-hours incidents whose clocks reach them
        self.settings_src = settings_src  # where work_day_start is set (for its problem)
        self.contracts = contracts or {}  # for a contract's own working hours
        self.found: dict[int, list[Problem]] = {}  # position -> its problems
        self.charges: list[tuple[int, str, dt.datetime, Decimal]] = []  # penalties > 0
        self.breaches = 0
        self.hit: list[int] = []  # positions with a breached clock
        self._prices: dict[tuple[str, int], Decimal] = {}
        n = len(incidents)
        cids = self.cids = self.column("contract_id")
        reported = self.reported = self.column("reported_at")
        late: list[int] = []  # reported after the as-of date: not judged
        if n and max(reported) >= end:
            late = _where(map(le, repeat(end), reported))
        working = {c for c, t in terms_of.items() if t.sla_clock == CLOCK_WORKING}
        special = set(cids).difference(terms_of.keys() - working)  # unknown or working
        others = _where(map(special.__contains__, cids)) if special else []
        if late and others:
            others = sorted(set(others).difference(late))
        # The 24x7 pass runs over every incident (no copies) and leaves these out.
        self.skip = {*late, *others}
        self.others = others
        self.judged: list[int] = []  # working-hours incidents judged
        if len(self.skip) < n:
            self._24x7()
        if others:
            self._one_by_one(others)
        if self.provisional and provisional_from is not None:
            first = self.provisional[0]
            inc = incidents[first]
            self.found.setdefault(first, []).append(calendar_problem(
                inc.src, "reported_at", provisional_from.year,
                f"{len(self.provisional)} working-hours SLA clock(s) run into "
                f"{provisional_from.year} (this one first) and are judged provisionally, "
                f"counting Monday to Friday except the fixed-date public holidays as working "
                f"days; a verdict may change once the holidays are known",
                Severity.WARNING))

    # -- 24x7 clocks, by whole columns

    def _24x7(self) -> None:
        rows, reported, cids, skip = self.incidents, self.reported, self.cids, self.skip
        end, terms_of, column = self.end, self.terms_of, self.column

        def elapsed(stops: Iterable[dt.datetime | None], reported: Sequence[dt.datetime]
                    ) -> list[dt.timedelta]:
            """stop - reported, a stop missing or after the as-of date counting as ``end``."""
            found = list(stops)
            if None in found:
                for i in _where(map(is_, found, _NOTHING)):
                    found[i] = end
            stops = cast(list[dt.datetime], found)
            if max(stops) > end:
                stops = list(map(min, stops, repeat(end)))
            return list(map(sub, stops, reported))

        distinct_terms = {id(t): t for t in terms_of.values() if t.sla_clock != CLOCK_WORKING}
        limits = {k: _limits(t) for k, t in distinct_terms.items()}
        distinct = set(limits.values())
        paused = column("paused_minutes")
        pause = {m: dt.timedelta(minutes=m) if m else _NO_TIME for m in set(paused)}
        response_spent = elapsed(column(CLOCKS[0].stop), reported)
        solution_raw = elapsed(column(CLOCKS[1].stop), reported)
        if len(distinct) == 1:
            (lim,) = distinct
            response = list(map(gt, response_spent, repeat(lim[0])))
            allowed = {m: lim[1] + d for m, d in pause.items()}
            solution = list(map(gt, solution_raw, map(allowed.__getitem__, paused)))
        else:  # limits per contract (anything for the incidents left out)
            limit_of = {c: limits[id(t)] for c, t in terms_of.items() if id(t) in limits}
            lims = list(map(limit_of.get, cids, repeat(next(iter(distinct)))))
            response = list(map(gt, response_spent, map(itemgetter(0), lims)))
            solution = list(map(gt, solution_raw, map(
                add, map(itemgetter(1), lims), map(pause.__getitem__, paused))))
        majors = _where(map(eq, column("severity"), repeat("major")))
        major_hit: set[int] = set()
        negative: set[int] = set()
        if majors:
            raw = elapsed(map(column(CLOCKS[2].stop).__getitem__, majors),
                          list(map(reported.__getitem__, majors)))
            m_paused = map(pause.__getitem__, map(paused.__getitem__, majors))
            if len(distinct) == 1:
                m_allowed = map(add, repeat(lim[2]), m_paused)
            else:
                m_allowed = map(add, map(itemgetter(2), map(lims.__getitem__, majors)),
                                m_paused)
            major_hit.update(compress(majors, map(gt, raw, m_allowed)))
            if min(raw) < _NO_TIME:
                negative.update(compress(majors, map(gt, repeat(_NO_TIME), raw)))
        if min(response_spent) < _NO_TIME or min(solution_raw) < _NO_TIME:
            negative.update(_where(map(gt, repeat(_NO_TIME), response_spent)))
            negative.update(_where(map(gt, repeat(_NO_TIME), solution_raw)))
        for i in sorted(negative.difference(skip)):  # a stop before the report: judge() says
            said: list[Problem] = []
            judge(rows[i], terms_of[cids[i]], end, self.ctx, said)
            if said:
                self.found[i] = said
        if skip:
            for i in skip:
                response[i] = solution[i] = False
            major_hit.difference_update(skip)
        self.breaches += response.count(True) + solution.count(True) + len(major_hit)
        # Penalties: each clock's price per contract, for the contracts that breached it.
        prices = [self._prices_of(k, compress(cids, hits)) for k, hits in
                  enumerate((response, solution, map(major_hit.__contains__, range(len(rows)))))]
        hit = list(map(or_, response, solution))
        for i in major_hit:
            hit[i] = True
        charges = self.charges
        p_response, p_solution, p_major = prices
        self.hit.extend(compress(range(len(hit)), hit))
        for i in compress(range(len(hit)), hit):
            cid = cids[i]
            total = ZERO
            if response[i]:
                total += p_response[cid]
            if solution[i]:
                total += p_solution[cid]
            if i in major_hit:
                total += p_major[cid]
            if total:
                charges.append((i, cid, reported[i], total))

    def _prices_of(self, clock: int, contract_ids: Iterable[str]) -> dict[str, Decimal]:
        """Contract -> what one breach of ``CLOCKS[clock]`` costs it (``breach_penalty``):
        one price for all when the contracts share a fixed-sum rule, the monthly fees in
        one go when they share a percentage rule."""
        cids = list(set(contract_ids))
        breach = CLOCKS[clock].breach
        terms = {id(t): t for t in map(self.terms_of.__getitem__, cids)}.values()
        rules = {id(rule): rule for rule in (self.ctx.rules(t).get(breach) for t in terms)}
        if len(rules) != 1:
            return {cid: self._price(cid, clock) for cid in cids}
        (rule,) = rules.values()
        if rule is None or rule.mode != "percent":
            return dict.fromkeys(cids, breach_penalty(rule, ZERO))
        prices = map(Decimal.quantize, map(mul, repeat(rule.value), self.ctx.fees(cids)),
                     repeat(FEN), repeat(ROUND_HALF_UP))
        return dict(zip(cids, prices, strict=True))

    def _price(self, contract_id: str, clock: int) -> Decimal:
        """What one breach of ``CLOCKS[clock]`` costs the contract (``breach_penalty``)."""
        key = (contract_id, clock)
        got = self._prices.get(key)
        if got is None:
            rule = self.ctx.rules(self.terms_of[contract_id]).get(CLOCKS[clock].breach)
            fee = (self.ctx.fee(contract_id) if rule is not None and rule.mode == "percent"
                   else ZERO)
            got = self._prices[key] = breach_penalty(rule, fee)
        return got

    # -- unknown contracts and working-hours clocks, incident by incident

    def _one_by_one(self, positions: list[int]) -> None:
        incidents, terms_of, end, found = self.incidents, self.terms_of, self.end, self.found
        bad_hours: set[int] = set()
        for k in positions:
            inc = incidents[k]
            terms = terms_of.get(inc.contract_id)
            if terms is None:
                found[k] = [Problem.at(
                    inc.src, "contract_id",
                    f"incident {inc.incident_id} names contract {inc.contract_id}, which is "
                    f"not on the Contracts sheet; ignored",
                )]
                continue
            if not 0 <= terms.work_day_start < terms.work_day_end <= 24:
                if id(terms) not in bad_hours:
                    bad_hours.add(id(terms))
                    own = self.contracts.get(inc.contract_id)
                    where, key = self.settings_src, "value"
                    if own is not None and own.work_day_start is not None:
                        where, key = own.src, "work_day_start"
                    elif own is not None and own.work_day_end is not None:
                        where, key = own.src, "work_day_end"
                    found[k] = [Problem.at(
                        where, key,
                        f"working hours {terms.work_day_start}-{terms.work_day_end} are not "
                        f"a range within 0-24; incidents on a working-hours clock are not "
                        f"judged",
                    )]
                continue
            hits = _working_hits(inc, terms, end)
            if hits is None:  # a warning to give, or a year without holiday data
                said: list[Problem] = []
                try:
                    row = judge(inc, terms, end, self.ctx, said)
                except CalendarYearError as err:
                    said.append(calendar_problem(
                        inc.src, "reported_at", err.year,
                        f"incident {inc.incident_id}'s working-hours clock",
                    ))
                    found[k] = said
                    continue
                if said:
                    found[k] = said
                hits = tuple(c.breached for c in row.clocks)
            self.judged.append(k)
            if self.provisional_from is not None and _reads_past(inc, end,
                                                                 self.provisional_from):
                self.provisional.append(k)
            if any(hits):
                self.hit.append(k)
                self.breaches += sum(hits)
                total = ZERO
                for clock, hit in enumerate(hits):
                    if hit:
                        total += self._price(inc.contract_id, clock)
                if total:
                    self.charges.append((k, inc.contract_id, inc.reported_at, total))

    # -- results in sheet order

    def problems(self) -> list[Problem]:
        found = self.found
        return [p for k in sorted(found) for p in found[k]]

    def kept(self) -> list[Incident]:
        """The incidents judged, in sheet order."""
        kept: list[Incident] = []
        start = 0
        for i in sorted(self.skip.difference(self.judged)):  # the few left out
            kept += self.incidents[start:i]
            start = i + 1
        kept += self.incidents[start:]
        return kept

    def breached(self) -> list[Incident]:
        """The judged incidents with a breached clock, in sheet order."""
        return list(map(self.incidents.__getitem__, sorted(set(self.hit))))

    def penalties(self) -> dict[tuple[str, dt.date], Decimal]:
        sums: dict[tuple[str, dt.date], Decimal] = {}
        charges = self.charges
        if self.judged:  # working-hours charges came after the others
            charges = sorted(charges, key=_FIRST)
        _, cids, reported, totals = zip(*charges, strict=True) if charges else ((),) * 4
        months = map(_MONTH_START, map(dt.datetime.date, reported))
        for key, total in zip(zip(cids, months, strict=True), totals, strict=True):
            before = sums.get(key)
            sums[key] = (ZERO if before is None else before) + total
        return sums


_STOPS_MAJOR = tuple(attrgetter(spec.stop) for spec in CLOCKS)
_STOPS_OTHER = tuple(attrgetter(spec.stop) for spec in CLOCKS if not spec.major_only)


def _stops_of(inc: Incident) -> tuple[attrgetter[Any], ...]:
    """Getters of the stops of the incident's clocks (the ``CLOCKS`` of its severity)."""
    return _STOPS_MAJOR if inc.severity == "major" else _STOPS_OTHER


def _may_run(inc: Incident, end: dt.datetime) -> bool:
    """Whether a clock of the incident is not stopped by ``end``, as :func:`judge`
    decides it."""
    for stop_of in _stops_of(inc):
        stop = stop_of(inc)
        if stop is None or stop > end:
            return True
    return False


def _reads_past(inc: Incident, end: dt.datetime, moment: dt.datetime) -> bool:
    """Whether one of the incident's clocks runs past ``moment`` (judged at ``end``)."""
    for stop_of in _stops_of(inc):
        stop = stop_of(inc)
        if (end if stop is None or stop > end else stop) > moment:
            return True
    return False


_FIRST = itemgetter(0)
_MONTH_START = methodcaller("replace", day=1)


def _working_hits(inc: Incident, terms: Terms, end: dt.datetime) -> tuple[bool, ...] | None:
    """The breached flags of a working-hours incident's clocks (``CLOCKS`` order), from
    its working clock readings; None when :func:`judge` must see it (a stop before the
    report, or a day the holiday data does not cover)."""
    reported = inc.reported_at
    start, stop_at = terms.work_day_start, terms.work_day_end
    paused_us = (inc.paused_minutes or 0) * US_PER_MINUTE
    hits = []
    try:
        at_report = working_clock_us(reported, start, stop_at)
        for spec, stop_of in zip(CLOCKS, _STOP_OF, strict=True):
            if spec.major_only and inc.severity != "major":
                continue
            stop = stop_of(inc)
            if stop is not None and stop < reported:
                return None
            upto = end if stop is None or stop > end else stop
            spent = working_clock_us(upto, start, stop_at) - at_report
            if spec.paused and paused_us:
                spent = max(0, spent - paused_us)
            hits.append(spent > int(getattr(terms, spec.limit) * US_PER_HOUR))
    except CalendarYearError:
        return None
    return tuple(hits)


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
