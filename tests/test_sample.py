"""contract_tracker.sample: deterministic, self-consistent, and every case is present.

The variety checks do their own arithmetic on the records (days late, minutes to
respond, availability) so they do not depend on the engine they are meant to exercise.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal as D

import pytest

from contract_tracker import schema
from contract_tracker.creditcode import credit_code_problem
from contract_tracker.records import Book, Contract, Incident, Installment, Receipt, Settings
from contract_tracker.sample import (
    AVAILABILITY_MONTHS,
    LARGE_CLIENTS,
    LARGE_CONTRACTS,
    LARGE_INCIDENTS,
    LARGE_INSTALLMENTS_PER_CONTRACT,
    LARGE_RECEIPTS,
    SAMPLE_AS_OF,
    sample_book,
)

AS_OF = SAMPLE_AS_OF
CUTOFF = dt.datetime.combine(AS_OF, dt.time(0, 0))


@pytest.fixture(scope="module")
def small() -> Book:
    return sample_book("small")


@pytest.fixture(scope="module")
def large() -> Book:
    return sample_book("large")


@pytest.fixture(params=["small", "large"])
def book(request: pytest.FixtureRequest) -> Book:
    value: Book = request.getfixturevalue(request.param)
    return value


# --- helpers: our own arithmetic -----------------------------------------------------


def minutes(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 60


def nominal_due(contract: Contract, inst: Installment) -> dt.date | None:
    """The due date where it needs no calendar: fixed, or N calendar days by the rule."""
    if inst.due_date is not None:
        return inst.due_date
    if inst.kind == "prepayment" and contract.prepay_day_type in (None, "calendar"):
        return contract.signing_date + dt.timedelta(days=contract.prepay_days or 0)
    if inst.kind == "final" and contract.final_day_type in (None, "calendar"):
        return contract.end_date + dt.timedelta(days=contract.final_days or 0)
    return None


def month_minutes(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1] * 24 * 60


def availability(row_downtime: D, month: dt.date, maintenance: D | None) -> D:
    return 1 - row_downtime / (month_minutes(month) - (maintenance or 0))


def receipts_by_installment(book: Book) -> dict[str, list[Receipt]]:
    out: dict[str, list[Receipt]] = defaultdict(list)
    for r in book.receipts:
        if r.installment_id is not None:
            out[r.installment_id].append(r)
    return out


def contracts_of(book: Book) -> dict[str, Contract]:
    return {c.contract_id: c for c in book.contracts}


# --- determinism, sizes, timing ---------------------------------------------------------


def test_small_is_deterministic(small: Book) -> None:
    assert sample_book("small") == small
    assert sample_book("small", seed=2026) == small


def test_another_seed_changes_names_but_keeps_the_scenarios(small: Book) -> None:
    other = sample_book("small", seed=7)
    assert other.clients != small.clients
    assert [c.contract_id for c in other.contracts] == [c.contract_id for c in small.contracts]
    assert [(i.installment_id, i.amount, i.due_date) for i in other.installments] == [
        (i.installment_id, i.amount, i.due_date) for i in small.installments]


def test_large_is_deterministic(large: Book) -> None:
    assert sample_book("large") == large


def test_large_counts(large: Book) -> None:
    assert len(large.clients) == LARGE_CLIENTS == 5_000
    assert len(large.contracts) == LARGE_CONTRACTS == 5_000
    assert len(large.installments) == 60_000 == LARGE_CONTRACTS * LARGE_INSTALLMENTS_PER_CONTRACT
    assert len(large.receipts) == LARGE_RECEIPTS == 60_000
    assert len(large.incidents) == LARGE_INCIDENTS == 20_000
    assert len(large.availability) > 1_000
    per_contract = Counter(i.contract_id for i in large.installments)
    assert set(per_contract.values()) == {12}


def test_small_sizes(small: Book) -> None:
    assert len(small.clients) == 24
    assert 28 <= len(small.contracts) <= 34
    assert 55 <= len(small.incidents) <= 70
    assert {c.client_id for c in small.contracts} == {c.client_id for c in small.clients}


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="medium"):
        sample_book("medium")


# --- consistency, both sizes --------------------------------------------------------


def test_settings_are_our_company_with_the_defaults(book: Book) -> None:
    s = book.settings
    for key in ("company_name", "company_legal_rep", "company_address", "company_phone",
                "bank_account_name", "bank_name", "bank_account_no"):
        value = getattr(s, key)
        assert isinstance(value, str) and value.strip(), key
    assert credit_code_problem(s.company_credit_code) is None
    assert s.bank_account_no.isdigit()
    defaults = Settings()
    for setting in schema.SETTINGS:
        if not setting.key.startswith(("company_", "bank_", "dunning_final_from")):
            assert getattr(s, setting.key) == getattr(defaults, setting.key), setting.key
    # The one setting the sample changes: it shows final notices, a new workbook has none.
    assert (s.dunning_final_from, defaults.dunning_final_from) == (3, 0)
    assert [(r.schedule, r.breach, r.mode, r.value) for r in s.sla_penalties] == [
        (a, b, c, D(v)) for a, b, c, v in schema.DEFAULT_SLA_PENALTIES]
    assert [(t.schedule, t.below, t.credit_pct) for t in s.credit_tiers] == [
        (a, D(b), D(c)) for a, b, c in schema.DEFAULT_CREDIT_TIERS]
    assert [(b.label, b.from_days, b.to_days) for b in s.ageing] == list(schema.DEFAULT_AGEING)


def test_every_credit_code_is_valid_and_unique(book: Book) -> None:
    codes = [c.credit_code for c in book.clients]
    assert [c for c in codes if credit_code_problem(c) is not None] == []
    assert all(c.startswith("91") for c in codes)
    assert len(set(codes)) == len(codes)


def test_client_fields_look_real(book: Book) -> None:
    names = [c.name for c in book.clients]
    assert len(set(names)) == len(names)
    for c in book.clients:
        assert c.name.endswith("公司") and c.legal_rep and c.address and c.account_manager
        digits = c.phone.replace("-", "")
        assert digits.isdigit() and (c.phone.startswith("0") or len(digits) == 11), c.phone
        if c.email is not None:
            assert c.email.isascii() and "@" in c.email
        if c.manager_email is not None:
            assert c.manager_email.isascii() and "@" in c.manager_email


def test_ids_are_unique(book: Book) -> None:
    for items, key in ((book.clients, "client_id"), (book.contracts, "contract_id"),
                       (book.installments, "installment_id"), (book.receipts, "receipt_id"),
                       (book.incidents, "incident_id")):
        ids = [getattr(x, key) for x in items]
        assert len(set(ids)) == len(ids), key
    months = [(a.contract_id, a.month) for a in book.availability]
    assert len(set(months)) == len(months)


def test_references_resolve(book: Book) -> None:
    clients = {c.client_id for c in book.clients}
    contracts = contracts_of(book)
    assert all(c.client_id in clients for c in book.contracts)
    for rows in (book.fee_items, book.installments, book.receipts, book.incidents,
                 book.availability):
        assert all(r.contract_id in contracts for r in rows)
    owner = {i.installment_id: i.contract_id for i in book.installments}
    for r in book.receipts:
        if r.installment_id is not None:
            assert owner[r.installment_id] == r.contract_id, r


def test_fee_items_and_installments_add_up_to_the_total(book: Book) -> None:
    for rows, least, most in ((book.fee_items, 2, 4), (book.installments, 2, 12)):
        totals: dict[str, D] = defaultdict(D)
        counts: Counter[str] = Counter()
        for row in rows:
            assert row.amount > 0
            totals[row.contract_id] += row.amount
            counts[row.contract_id] += 1
        for c in book.contracts:
            assert totals[c.contract_id] == c.total_fee, c.contract_id
            assert least <= counts[c.contract_id] <= most, c.contract_id


def test_each_contract_has_one_prepayment_and_one_final_due_by_rule(book: Book) -> None:
    contracts = contracts_of(book)
    kinds: dict[str, list[Installment]] = defaultdict(list)
    for inst in book.installments:
        kinds[inst.contract_id].append(inst)
    for cid, insts in kinds.items():
        assert (insts[0].kind, insts[-1].kind) == ("prepayment", "final")
        assert Counter(i.kind for i in insts)["prepayment"] == 1
        assert Counter(i.kind for i in insts)["final"] == 1
        assert insts[0].due_date is None and insts[-1].due_date is None
        assert insts[0].amount == contracts[cid].prepayment
        for progress in insts[1:-1]:
            assert progress.kind == "progress" and progress.due_date is not None


def test_dates_and_statuses_agree_with_the_as_of_date(book: Book) -> None:
    for c in book.contracts:
        assert c.start_date <= c.end_date
        assert c.signing_date <= c.start_date
        if c.status in ("draft", "sent"):
            assert c.start_date > AS_OF, c
        elif c.status == "signed":
            assert c.signing_date <= AS_OF < c.start_date, c
        elif c.status == "active":
            assert c.start_date <= AS_OF <= c.end_date, c
        else:
            assert c.status in ("expired", "terminated")
            assert c.end_date < AS_OF, c


def test_types_and_precision(book: Book) -> None:
    def money(value: D | None) -> None:
        if value is not None:
            assert isinstance(value, D) and value.as_tuple().exponent == -2, value

    def day(value: object) -> None:
        assert type(value) is dt.date, value

    def moment(value: dt.datetime | None) -> None:
        if value is not None:
            assert type(value) is dt.datetime and value.tzinfo is None
            assert value.second == 0 and value.microsecond == 0

    for c in book.contracts:
        money(c.total_fee)
        money(c.prepayment)
        money(c.monthly_fee)
        for d in (c.signing_date, c.start_date, c.end_date):
            day(d)
    for f in book.fee_items:
        money(f.amount)
    for i in book.installments:
        money(i.amount)
        if i.due_date is not None:
            day(i.due_date)
    for r in book.receipts:
        money(r.amount)
        day(r.date)
    for n in book.incidents:
        for m in (n.reported_at, n.responded_at, n.solution_at, n.resolved_at):
            moment(m)
    for a in book.availability:
        day(a.month)
        assert isinstance(a.downtime_minutes, D)


def test_receipts_are_in_the_past_and_never_overpay(book: Book) -> None:
    contracts = contracts_of(book)
    paid: dict[str, D] = defaultdict(D)
    for r in book.receipts:
        assert r.amount > 0
        assert contracts[r.contract_id].signing_date <= r.date <= AS_OF, r
        if r.installment_id is not None and r.purpose is None:
            paid[r.installment_id] += r.amount
    for inst in book.installments:
        assert paid[inst.installment_id] <= inst.amount, inst
    by_contract: dict[str, D] = defaultdict(D)
    for r in book.receipts:
        if r.purpose is None:  # late fees received or waived pay no installment
            by_contract[r.contract_id] += r.amount
    for c in book.contracts:
        assert by_contract[c.contract_id] <= c.total_fee


def test_incidents_happen_in_term_and_in_order(book: Book) -> None:
    contracts = contracts_of(book)
    for n in book.incidents:
        c = contracts[n.contract_id]
        assert n.severity in ("normal", "major")
        assert c.start_date <= n.reported_at.date() <= c.end_date, n
        assert n.reported_at < CUTOFF
        stages = [n.responded_at, n.solution_at, n.resolved_at]
        known = [s for s in stages if s is not None]
        assert stages[:len(known)] == known, n  # no later stage without the earlier ones
        assert all(a <= b for a, b in zip([n.reported_at, *known], known, strict=False))
        assert all(s < CUTOFF for s in known)
        assert n.paused_minutes is None or n.paused_minutes > 0


def test_availability_rows_fit_their_month_and_term(book: Book) -> None:
    contracts = contracts_of(book)
    for a in book.availability:
        c = contracts[a.contract_id]
        assert a.month in AVAILABILITY_MONTHS
        assert c.status in ("active", "expired", "terminated")
        last = a.month.replace(day=calendar.monthrange(a.month.year, a.month.month)[1])
        assert c.start_date <= last and c.end_date >= a.month
        assert a.downtime_minutes >= 0
        assert a.downtime_minutes + (a.maintenance_minutes or 0) <= month_minutes(a.month)
    active = {c.contract_id for c in book.contracts if c.status == "active"
              and c.start_date <= dt.date(2026, 10, 31)}
    assert active <= {a.contract_id for a in book.availability}


# --- the variety of the small sample --------------------------------------------------


def test_small_contract_variety(small: Book) -> None:
    contracts = small.contracts
    assert {c.status for c in contracts} == {s.key for s in schema.STATUS_CHOICES}
    assert Counter(c.language for c in contracts)["en"] == 3
    assert {c.signing_date.year for c in contracts} == {2024, 2025, 2026}
    assert sum(1 for c in contracts
               if (c.end_date - c.start_date).days in (364, 365)) >= len(contracts) * 3 // 4
    assert all(D("80000") <= c.total_fee <= D("600000") for c in contracts)
    assert any(c.total_fee % 1 for c in contracts)  # fen
    assert {c.prepay_days for c in contracts} == {10, 15, 30}
    assert {c.final_days for c in contracts} == {15, 30}
    assert {c.renewal_notice_days for c in contracts} == {30, 60, 90}
    assert {c.confidentiality_years for c in contracts} == {2, 3, 5}
    assert "working" in {c.prepay_day_type for c in contracts}
    assert "working" in {c.final_day_type for c in contracts}
    items = [c.service_items for c in contracts]
    assert None in items and "1,2,7,8" in items
    assert sum(1 for c in contracts if c.late_fee_exempt) == 1
    assert [c.late_fee_rate for c in contracts if c.late_fee_rate is not None] == [D("0.0003")]
    assert [c.grace_days for c in contracts if c.grace_days is not None] == [5]
    assert [c.late_fee_cap_pct for c in contracts
            if c.late_fee_cap_pct is not None] == [D("0.1")]
    assert [c.sla_clock for c in contracts if c.sla_clock is not None] == ["working_hours"]
    assert any(i.kind == "progress" for i in small.installments)


def test_small_clients_variety(small: Book) -> None:
    managers = {c.account_manager for c in small.clients}
    assert 4 <= len(managers) <= 5
    phones = [c.phone for c in small.clients]
    assert any("-" in p for p in phones) and any(len(p) == 11 and p[0] == "1" for p in phones)
    assert len({c.credit_code[2:8] for c in small.clients}) >= 8  # many regions
    assert len({c.name[:2] for c in small.clients}) >= 10


def test_small_receipts_variety(small: Book) -> None:
    contracts = contracts_of(small)
    paid = receipts_by_installment(small)
    on_time = late = split = part_open = 0
    for inst in small.installments:
        c = contracts[inst.contract_id]
        due = nominal_due(c, inst)
        got = paid.get(inst.installment_id, [])
        if due is not None and got:
            on_time += all(r.date <= due for r in got)
            late += any(r.date > due + dt.timedelta(days=10) for r in got)
        if len(got) >= 2 and sum(r.amount for r in got) == inst.amount:
            split += 1
        if got and sum(r.amount for r in got) < inst.amount:
            part_open += 1
    assert on_time >= 10 and late >= 4 and split >= 2 and part_open >= 2
    assert sum(1 for r in small.receipts if r.installment_id is None) >= 1

    # Missing: a contract with nothing received although an installment is long overdue.
    received = {r.contract_id for r in small.receipts}
    missing = [
        c.contract_id for c in small.contracts if c.contract_id not in received
        and any(inst.contract_id == c.contract_id and (due := nominal_due(c, inst)) is not None
                and due < AS_OF - dt.timedelta(days=30) for inst in small.installments)
    ]
    assert missing
    # ... and final payments with nothing paid, overdue by November 2026.
    overdue_finals = [
        i for i in small.installments if i.kind == "final"
        and (due := nominal_due(contracts[i.contract_id], i)) is not None
        and due < dt.date(2026, 11, 1) and i.installment_id not in paid
    ]
    assert len(overdue_finals) >= 2


def test_small_has_the_worked_late_fee_example(small: Book) -> None:
    paid = receipts_by_installment(small)
    contracts = contracts_of(small)
    matches = [i for i in small.installments
               if i.amount == D("100000.00") and i.due_date == dt.date(2026, 3, 31)]
    assert len(matches) == 1
    inst = matches[0]
    c = contracts[inst.contract_id]
    assert (c.late_fee_rate, c.grace_days, c.late_fee_cap_pct, c.late_fee_exempt) == (
        None, None, None, None)
    assert small.settings.late_fee_rate == D("0.0005") and small.settings.grace_days == 0
    parts = sorted((r.date, r.amount) for r in paid[inst.installment_id])
    assert parts == [(dt.date(2026, 4, 10), D("60000.00")), (dt.date(2026, 5, 5), D("40000.00"))]
    assert inst.due_date is not None
    fee = sum(amount * D("0.0005") * (day - inst.due_date).days for day, amount in parts)
    assert fee == D("1000.00")


def test_small_incidents_variety(small: Book) -> None:
    kinds: Counter[str] = Counter()
    for n in small.incidents:
        if n.resolved_at is None:
            kinds["open"] += 1
        if n.paused_minutes:
            kinds["paused"] += 1
            continue
        resp = minutes(n.reported_at, n.responded_at) if n.responded_at else None
        sol = minutes(n.reported_at, n.solution_at) if n.solution_at else None
        res = minutes(n.reported_at, n.resolved_at) if n.resolved_at else None
        if resp == 120:
            kinds["response at exactly 2 h"] += 1
        if sol == 240:
            kinds["solution at exactly 4 h"] += 1
        if n.severity == "major" and res == 24 * 60:
            kinds["major at exactly 24 h"] += 1
        if resp is not None and resp > 120:
            kinds["response breach"] += 1
        if sol is not None and sol > 240:
            kinds["solution breach"] += 1
        if n.severity == "major" and res is not None and res > 24 * 60:
            kinds["major breach"] += 1
        if (resp is not None and resp <= 120 and sol is not None and sol <= 240
                and res is not None and (n.severity == "normal" or res <= 24 * 60)):
            kinds["clean"] += 1
    assert kinds["clean"] >= 20
    for kind in ("response breach", "solution breach", "major breach", "paused", "open"):
        assert kinds[kind] >= 2, (kind, kinds)
    for kind in ("response at exactly 2 h", "solution at exactly 4 h", "major at exactly 24 h"):
        assert kinds[kind] >= 1, (kind, kinds)
    assert kinds["response at exactly 2 h"] >= 2
    assert any(n.responded_at is None for n in small.incidents)  # unanswered
    assert {n.severity for n in small.incidents} == {"normal", "major"}
    working = {c.contract_id for c in small.contracts if c.sla_clock == "working_hours"}
    assert any(n.contract_id in working for n in small.incidents)


def test_small_availability_variety(small: Book) -> None:
    target = D("0.999")
    values = [availability(a.downtime_minutes, a.month, a.maintenance_minutes)
              for a in small.availability]
    assert sum(1 for v in values if v > target) >= len(values) * 3 // 4
    assert sum(1 for v in values if v < target) >= 3
    assert sum(1 for v in values if v == target) >= 1
    exact = [a for a in small.availability if a.downtime_minutes == D("43.2")]
    assert any(calendar.monthrange(a.month.year, a.month.month)[1] == 30
               and not a.maintenance_minutes for a in exact)
    assert sum(1 for a in small.availability if a.downtime_minutes <= 20) >= len(values) // 2
    assert any(a.maintenance_minutes for a in small.availability)
    # One month in each credit tier: below 99.9 %, below 99 %, below 95 %.
    assert any(D("0.99") <= v < target for v in values)
    assert any(D("0.95") <= v < D("0.99") for v in values)
    assert any(v < D("0.95") for v in values)


def test_large_has_variety_too(large: Book) -> None:
    contracts = contracts_of(large)
    paid = receipts_by_installment(large)
    assert len({c.status for c in large.contracts}) == 6
    assert any(len(rs) >= 2 for rs in paid.values())
    assert any(r.installment_id is None for r in large.receipts)
    late = sum(1 for inst in large.installments
               if (due := nominal_due(contracts[inst.contract_id], inst)) is not None
               and any(r.date > due + dt.timedelta(days=10)
                       for r in paid.get(inst.installment_id, [])))
    assert late > 1_000
    unpaid_due = sum(1 for inst in large.installments
                     if inst.due_date is not None and inst.due_date < AS_OF
                     and inst.installment_id not in paid)
    assert unpaid_due > 100
    breaches = sum(1 for n in large.incidents if n.responded_at is not None
                   and not n.paused_minutes and minutes(n.reported_at, n.responded_at) > 120)
    assert breaches > 500
    assert any(isinstance(n, Incident) and n.severity == "major" for n in large.incidents)
