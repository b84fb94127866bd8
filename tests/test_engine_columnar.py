"""The late-fee ledger by whole columns (``engine/columnar.py``) against ``_Ledger``.

Both must give the same rows, positions, totals and problems (in the same order) on every
book: generated books that mix fixed and rule-based due dates (calendar and working days,
inside and past the holiday data, moved or not), grace days, caps, exemptions, rates of
different precision, receipts named and unnamed, overpaid, negative, future, for unknown
installments or contracts or another contract's installment, and late fees received or
waived. Books the columnar ledger does not take must fall back to ``_Ledger``; the tests
say which books it takes, so an equivalence that only ever compared ``_Ledger`` with
itself would fail.
"""

from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contract_tracker.engine.calendar import LAST_YEAR, calendar_for, calendar_in_force
from contract_tracker.engine.columnar import columnar_ledger
from contract_tracker.engine.context import index_contracts
from contract_tracker.engine.latefees import LateFees, late_fees
from contract_tracker.money import EXACT
from contract_tracker.records import Book, Installment, Problem, Receipt
from contract_tracker.sample import SAMPLE_AS_OF, sample_book

from .test_engine_calendar import NEXT, TYPED, holiday
from .test_engine_latefees import book, contract, inst, receipt
from .test_engine_latefees import settings as make_settings

LAST_REST = holiday(f"{NEXT}-12-30", f"{NEXT}-12-31", row=9)  # the typed data ends at rest
CHECKS = settings(max_examples=300, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
FIRST = dt.date(2024, 1, 1)
LAST = dt.date(LAST_YEAR + 2, 6, 30)  # past the holiday data: provisional due dates


def both(b: Book, as_of: dt.date) -> tuple[tuple[LateFees, tuple[Problem, ...]],
                                           tuple[LateFees, tuple[Problem, ...]], bool]:
    """``late_fees`` by ``_Ledger`` and by columns, and whether the columns were used."""
    classic = late_fees(b, as_of, columnar=False)
    columnar = late_fees(b, as_of)
    used = type(columnar[0].installments._ledger).__name__ == "_ColumnarLedger"
    return classic, columnar, used


def assert_same(b: Book, as_of: dt.date) -> bool:
    (a, problems_a), (c, problems_c), used = both(b, as_of)
    assert problems_c == problems_a
    assert c.installments.positions() == a.installments.positions()
    assert tuple(c.installments) == tuple(a.installments)
    assert c[1:] == a[1:]  # risk flags and totals
    return used


def days(low: dt.date = FIRST, high: dt.date = LAST) -> st.SearchStrategy[dt.date]:
    return st.integers(0, (high - low).days).map(lambda n: low + dt.timedelta(days=n))


def money(high: int = 3_000_000) -> st.SearchStrategy[Decimal]:
    return st.integers(1, high).map(lambda fen: Decimal(fen).scaleb(-2))


SRC_I = inst("x", "1", None).src
SRC_R = receipt("x", "2026-01-01", "1").src


RATES = [None, Decimal("0.0003"), Decimal("0.001"), Decimal("0.00035"), Decimal("0.01"),
         Decimal(repr(0.15 / 365)), Decimal(repr(0.2 / 365))]  # formulas: 18-20 decimals


@st.composite
def books(draw: Any, clean: bool = False) -> Book:
    """Books of 1-3 contracts; ``clean``: none of what sends a book to ``_Ledger``."""
    contracts, installments, receipts = [], [], []
    known = ["NO-SUCH"]
    row_i = row_r = 2
    for c in range(draw(st.integers(1, 3))):
        cid = f"HT-{c}"
        contracts.append(contract(
            cid, row=2 + c,
            signing_date=draw(days(FIRST, dt.date(LAST_YEAR + 1, 12, 1))),
            end_date=draw(days(FIRST, LAST)),
            prepay_days=draw(st.sampled_from([0, 5, 10, 30])),
            prepay_day_type=draw(st.sampled_from([None, "calendar", "working"])),
            final_days=draw(st.sampled_from([0, 7, 15])),
            final_day_type=draw(st.sampled_from([None, "calendar", "working"])),
            grace_days=draw(st.sampled_from([None, 0, 3, 10])),
            late_fee_rate=draw(st.sampled_from(RATES)),
            late_fee_cap_pct=draw(st.sampled_from([None, None, Decimal("0.05"), Decimal("0.3")])),
            late_fee_exempt=draw(st.sampled_from([None, None, None, True])),
            move_due_off_rest_days=draw(st.sampled_from([None, None, False])),
        ))
        ids = []
        for k in range(draw(st.integers(1, 5))):
            iid = f"{cid}-{k}"
            if not clean and draw(st.integers(0, 30)) == 0:
                iid = known[-1]  # a repeated ID
            kind = draw(st.sampled_from(["progress", "prepayment", "final"]))
            fixed = draw(days()) if kind == "progress" or draw(st.booleans()) else None
            owner = cid if clean or draw(st.integers(0, 30)) else "HT-UNKNOWN"
            ids.append(iid)
            known.append(iid)
            installments.append(Installment(iid, owner, kind, draw(money()), fixed,
                                            src=SRC_I._replace(row=row_i)))
            row_i += 1
        for k in range(draw(st.integers(0, 8))):
            named = draw(st.one_of(st.sampled_from([None, *ids]), st.sampled_from(known)))
            purpose = draw(st.sampled_from([None, None, None, "installment",
                                            "late_fee", "fee_waiver"]))
            amount = draw(money(100_000 if purpose in ("late_fee", "fee_waiver") else 3_000_000))
            if draw(st.integers(0, 12)) == 0:
                amount = -amount if draw(st.booleans()) else Decimal("0.00")
            payer = cid if draw(st.integers(0, 15)) else "HT-NOBODY"
            receipts.append(Receipt(f"SK-{c}-{k}", payer, draw(days(FIRST, LAST)), amount,
                                    named, purpose=purpose, src=SRC_R._replace(row=row_r)))
            row_r += 1
    typed = draw(st.sampled_from([(), TYPED, (*TYPED, LAST_REST)]))
    return book(*installments, *receipts, contracts=tuple(contracts),
                settings=make_settings(holidays=typed))


@CHECKS
@given(books(), days(FIRST, LAST))
def test_the_columnar_ledger_gives_what_the_ledger_gives(b: Book, as_of: dt.date) -> None:
    assert_same(b, as_of)


@CHECKS
@given(books(clean=True), days(FIRST, LAST))
def test_a_book_without_repeated_ids_or_unknown_contracts_takes_the_columns(
        b: Book, as_of: dt.date) -> None:
    assert assert_same(b, as_of)


@pytest.mark.parametrize("as_of", [SAMPLE_AS_OF, dt.date(2026, 11, 25)])
def test_the_small_sample_takes_the_columns_and_agrees(as_of: dt.date) -> None:
    assert assert_same(sample_book("small"), as_of)


def test_the_large_sample_takes_the_columns_and_agrees() -> None:
    b = sample_book("large")
    assert assert_same(b, dt.date(2026, 11, 25))


def _columnar(b: Book, as_of: dt.date) -> object:
    index, _ = index_contracts(b)
    calendar, _ = calendar_for(b.settings.holidays)
    from decimal import localcontext

    with localcontext(EXACT), calendar_in_force(calendar):
        return columnar_ledger(b, as_of, index)


AS_OF = dt.date(2026, 6, 30)


@pytest.mark.parametrize(("case", "records"), [
    ("repeated installment ID", (inst("P-1", "100.00", "2026-03-31"),
                                 inst("P-1", "200.00", "2026-04-30", row=3))),
    ("installment of an unknown contract", (inst("P-1", "100.00", "2026-03-31", cid="HT-9"),)),
    ("progress payment without a date", (inst("P-1", "100.00", None),)),
    ("amount not in whole fen", (Installment("P-1", "HT-1", "progress", Decimal("100.005"),
                                             dt.date(2026, 3, 31), src=SRC_I),)),
    ("due date before the holiday data", (inst("P-1", "100.00", "1999-03-31"),)),
    ("no installments", ()),
])
def test_books_the_columns_do_not_take_go_to_the_ledger_with_the_same_result(
        case: str, records: tuple[Installment | Receipt, ...]) -> None:
    b = book(*records, receipt("SK-1", "2026-04-10", "50.00", "P-1"))
    assert _columnar(b, AS_OF) is None, case
    assert not assert_same(b, AS_OF)


@pytest.mark.parametrize("other_days", [None, 30])
def test_a_rule_is_read_whether_or_not_every_contract_gives_its_days(
        other_days: int | None) -> None:
    """A prepayment due 10 working days after signing, beside a contract without a rule
    of its own (its days not typed) or with one: the columns take both books."""
    b = book(inst("P-1", "100.00", None, kind="prepayment"),
             inst("Q-1", "100.00", "2026-03-31", cid="HT-2", row=3),
             receipt("SK-1", "2026-02-10", "100.00", "P-1"),
             contracts=(contract(prepay_days=10, prepay_day_type="working"),
                        contract("HT-2", row=3, prepay_days=other_days)))
    assert _columnar(b, AS_OF) is not None
    assert assert_same(b, AS_OF)
    first = late_fees(b, AS_OF)[0].installments.positions()[0]
    assert first.due_date == dt.date(2026, 1, 19)  # 2026-01-05 + 10 working days


def test_a_negative_rate_goes_to_the_ledger() -> None:
    b = book(inst("P-1", "100.00", "2026-03-31"),
             contracts=(contract(late_fee_rate=Decimal("-0.001")),))
    assert _columnar(b, AS_OF) is None


def test_figures_that_could_overflow_64_bits_go_to_the_ledger() -> None:
    huge = "90000000000000.00"  # 9 x 10**15 fen
    b = book(inst("P-1", huge, "2005-03-31"), receipt("SK-1", "2026-04-10", huge, "P-1"),
             contracts=(contract(late_fee_rate=Decimal("0.5")),))
    as_of = dt.date(2026, 6, 30)
    assert _columnar(b, as_of) is None
    assert not assert_same(b, as_of)


def test_the_half_cent_case_rounds_up_by_columns() -> None:
    """18,446.50 x 0.0005 x 60 = 553.395 -> 553.40 (domain.md; float gives 553.39)."""
    b = book(inst("P-1", "18446.50", "2026-03-31"),
             receipt("SK-1", "2026-05-30", "18446.50", "P-1"),
             contracts=(contract(late_fee_rate=Decimal("0.0005")),))
    assert assert_same(b, AS_OF)
    result, _ = late_fees(b, AS_OF)
    assert result.installments[0].fee == Decimal("553.40")
    assert result.total_fee == Decimal("553.40")


def test_a_parsed_book_is_read_by_the_readers_columns_and_agrees() -> None:
    from contract_tracker.parse import parse_book
    from contract_tracker.records import columns_of

    from .conftest import grids_of

    parsed, _ = parse_book(grids_of(sample_book("small")))
    assert columns_of(parsed, "Receipts", parsed.receipts) is not None
    assert assert_same(parsed, SAMPLE_AS_OF)
    # the receipts' installments come from the reader's link, not found again
    link = parsed.columns["Receipts"].links["installment_id"][1]
    ledger = late_fees(parsed, SAMPLE_AS_OF)[0].installments._ledger
    assert ledger.slot_of is link.slot
    # other receipts than the reader's: its columns must not be used
    fewer = replace(parsed, receipts=parsed.receipts[::2])
    assert columns_of(fewer, "Receipts", fewer.receipts) is None
    assert assert_same(fewer, SAMPLE_AS_OF)
    assert late_fees(fewer, SAMPLE_AS_OF)[0] != late_fees(parsed, SAMPLE_AS_OF)[0]


def test_the_readers_link_is_what_the_columns_read() -> None:
    """A link that names other installments than the records shows in the fees (so the
    test above compares the link's result, not a lookup made again)."""
    from contract_tracker.parse import parse_book
    from contract_tracker.records import Link

    from .conftest import grids_of

    parsed, _ = parse_book(grids_of(sample_book("small")))
    receipts = parsed.columns["Receipts"]
    installments, link = receipts.links["installment_id"]
    before = late_fees(parsed, SAMPLE_AS_OF)[0].installments.positions()
    # a receipt of a contract whose receipts all name an installment, said to pay another
    # installment of it that nothing has paid yet and that it cannot overpay
    unnamed = {r.contract_id for r in parsed.receipts if r.installment_id is None}
    j, p = next((j, p) for j, r in enumerate(parsed.receipts)
                if r.contract_id not in unnamed and r.purpose is None
                and r.date <= SAMPLE_AS_OF
                for p, pos in enumerate(before)
                if pos.contract_id == r.contract_id and pos.paid == 0
                and pos.amount >= r.amount and p != link.positions[j])
    moved = list(link.positions)
    moved[j] = p
    lied = replace(parsed, columns={**parsed.columns, "Receipts": receipts._replace(
        links={"installment_id": (installments, Link(link.slot, moved))})})
    after = late_fees(lied, SAMPLE_AS_OF)[0].installments.positions()
    assert after[p].paid == parsed.receipts[j].amount != before[p].paid
    assert late_fees(replace(lied, columns={}), SAMPLE_AS_OF)[0].installments.positions() == before


def test_the_readers_contract_links_are_what_the_columns_read() -> None:
    """An installment said by the link to be of a contract with other terms is priced by
    those (so the parsed books above compare the links' result, not a lookup made
    again)."""
    from contract_tracker.engine.context import index_contracts
    from contract_tracker.parse import parse_book
    from contract_tracker.records import Link

    from .conftest import grids_of

    parsed, _ = parse_book(grids_of(sample_book("small")))
    index, _ = index_contracts(parsed)
    before = late_fees(parsed, SAMPLE_AS_OF)[0].installments.positions()
    p = next(p for p, pos in enumerate(before) if pos.fee > 0)
    mine = index.terms[parsed.installments[p].contract_id]
    other = next(k for k, c in enumerate(parsed.contracts)
                 if index.terms[c.contract_id].charged_rate != mine.charged_rate)
    columns = parsed.columns["Installments"]
    contracts, link = columns.links["contract_id"]
    moved = list(link.positions)
    moved[p] = other
    lied = replace(parsed, columns={**parsed.columns, "Installments": columns._replace(
        links={"contract_id": (contracts, Link(link.slot, moved))})})
    after = late_fees(lied, SAMPLE_AS_OF)[0].installments.positions()
    assert after[p].fee != before[p].fee
    assert late_fees(replace(lied, columns={}), SAMPLE_AS_OF)[0].installments.positions() == before


def test_the_readers_day_numbers_are_what_the_columns_read() -> None:
    """A receipt said by the reader's day numbers to be paid later costs more (so the
    parsed books above compare their result, not dates converted again)."""
    from contract_tracker.parse import parse_book

    from .conftest import grids_of

    parsed, _ = parse_book(grids_of(sample_book("small")))
    before = late_fees(parsed, SAMPLE_AS_OF)[0].installments.positions()
    columns = parsed.columns["Receipts"]
    link = columns.links["installment_id"][1]
    j = next(j for j, r in enumerate(parsed.receipts)
             if link.positions[j] >= 0 and r.purpose is None and r.date < SAMPLE_AS_OF
             and before[link.positions[j]].fee > 0)
    later = list(columns.days["date"])
    later[j] += 1
    lied = replace(parsed, columns={**parsed.columns, "Receipts": columns._replace(
        days={"date": later})})
    after = late_fees(lied, SAMPLE_AS_OF)[0].installments.positions()
    assert after[link.positions[j]].fee > before[link.positions[j]].fee
    assert late_fees(replace(lied, columns={}), SAMPLE_AS_OF)[0].installments.positions() == before


def test_an_index_of_the_contracts_in_another_order_is_not_read_by_position() -> None:
    """The contract links are positions in the book's contracts: an index made from them
    in another order (late_fees takes any) must not be read by position (found in review)."""
    from contract_tracker.engine.context import index_contracts
    from contract_tracker.parse import parse_book

    from .conftest import grids_of

    parsed, _ = parse_book(grids_of(sample_book("small")))
    index, _ = index_contracts(replace(parsed, contracts=parsed.contracts[::-1]))
    fees = late_fees(parsed, SAMPLE_AS_OF, index)[0]
    assert type(fees.installments._ledger).__name__ == "_ColumnarLedger"
    assert fees.installments.positions() == late_fees(
        parsed, SAMPLE_AS_OF, index, columnar=False)[0].installments.positions()
    assert fees.installments.positions() == late_fees(
        parsed, SAMPLE_AS_OF)[0].installments.positions()


def test_a_book_without_the_receipts_sheet_goes_by_the_records() -> None:
    """The reader hands no columns for a sheet it could not read (found in review: the
    empty columns of a missing Receipts sheet were taken for the empty records')."""
    from contract_tracker.parse import parse_book

    from .conftest import grids_of

    grids = grids_of(sample_book("small"))
    del grids["Receipts"]
    parsed, _ = parse_book(grids)
    assert "Receipts" not in parsed.columns
    assert assert_same(parsed, SAMPLE_AS_OF)


@pytest.mark.parametrize(("amount", "rate", "as_of"), [
    ("105.00", Decimal(repr(0.15 / 365)), "2026-04-01"),  # 18 decimals: past int64 halves
    ("5.00", Decimal(repr(0.2 / 365)), "2026-10-30"),  # 19 decimals: 10**19 past int64
    ("123456.78", Decimal(repr(0.18 / 360)), "2026-11-25"),
])
def test_rates_typed_as_formulas_are_exact(amount: str, rate: Decimal, as_of: str) -> None:
    """A rate read from a formula cell (=15%/365) has 18 to 20 decimals: its fee is
    worked out in Python integers, exactly (found in review: int64 wrapped)."""
    b = book(inst("P-1", amount, "2026-03-31"), contracts=(contract(late_fee_rate=rate),))
    assert assert_same(b, dt.date.fromisoformat(as_of))
    (fee,) = late_fees(b, dt.date.fromisoformat(as_of))[0].installments
    days = (dt.date.fromisoformat(as_of) - dt.date(2026, 3, 31)).days
    from decimal import ROUND_HALF_UP, localcontext

    with localcontext(EXACT):
        assert fee.fee == (Decimal(amount) * rate * days).quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.mark.parametrize(("case", "b"), [
    ("a negative installment amount", book(
        inst("P-1", "-100.00", "2026-03-31"),
        inst("Q-1", "100.00", "2026-03-31", cid="HT-2", row=3),
        receipt("SK-1", "2026-04-10", "50.00", "Q-1", cid="HT-2"),
        receipt("SK-2", "2026-04-10", "50.00", "NOPE", cid="HT-2", row=3),
        contracts=(contract(), contract("HT-2", row=3)))),
    ("a negative cap on an exempt contract", book(
        inst("P-1", "100.00", "2026-03-31"),
        contracts=(contract(late_fee_exempt=True, late_fee_cap_pct=Decimal("-0.1")),))),
    ("a huge N on a contract without installments", book(
        inst("P-1", "100.00", "2026-03-31"),
        contracts=(contract(), contract("HT-2", row=3, prepay_days=10**19)))),
])
def test_values_the_reader_refuses_still_give_the_ledgers_result(case: str, b: Book) -> None:
    """Books made in code may hold what the reader refuses (found in review)."""
    assert_same(b, AS_OF)


def _float_cells(grids: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:
    """Amounts as an .xlsx gives them to the reader: floats, not Decimals."""
    return {name: [[float(v) if isinstance(v, Decimal) else v for v in row] for row in rows]
            for name, rows in grids.items()}


def test_every_presentation_is_the_same_whichever_ledger_ran(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Money is equal either way, but its Decimal exponent may differ (600.00 from fen
    where the records give 600.0, found in review): the JSON and the table format it, so
    they must be the same text; the Workings cells hold numbers, equal, and texts, the
    same (a parsed book from float cells, as an .xlsx gives them)."""
    from contract_tracker.engine import (
        columnar,
        compute_penalties,
        penalties_json,
        penalties_table,
        workings_rows,
    )
    from contract_tracker.parse import parse_book

    from .conftest import grids_of

    parsed, _ = parse_book(_float_cells(grids_of(sample_book("small"))))
    assert isinstance(parsed.installments[0].amount, Decimal)

    def shown(b: Book) -> tuple[object, ...]:
        result, _ = compute_penalties(b, SAMPLE_AS_OF)
        return penalties_json(result), penalties_table(result), workings_rows(result)

    by_columns = shown(parsed)
    monkeypatch.setattr(columnar, "columnar_ledger", lambda *args: None)
    by_records = shown(parsed)
    assert by_columns[0] == by_records[0]
    assert by_columns[1] == by_records[1]
    assert by_columns[2] == by_records[2]


# -- amounts in fen from the float cells the reader read them from

def _fen_of_one(x: float) -> int | None:
    from contract_tracker.engine.columnar import _fen_of_floats

    found = _fen_of_floats(array("d", [x]))
    return None if found is None else int(found[0])


@CHECKS
@given(st.floats(allow_nan=True, allow_infinity=True))
@example(2.0**49 + 0.125)  # floats 1/8 apart: repr gives .1, the nearest fen is .12
@example(0.1 + 0.2)
def test_a_float_taken_in_one_go_is_the_decimal_the_reader_made(x: float) -> None:
    """Whatever the float, one taken is in fen exactly what ``Decimal(repr(x))``, the
    amount read (``money.to_decimal``), is; one with more decimals is not taken."""
    fen = _fen_of_one(x)
    if fen is not None:
        assert Decimal(fen).scaleb(-2) == Decimal(repr(x))


@CHECKS
@given(st.integers(0, 2**44 * 100 - 1) | st.integers(0, 100_000_000))
def test_every_amount_in_whole_fen_below_the_bound_is_taken(fen: int) -> None:
    """The float a cell holds for an amount typed with at most two decimals (as Excel
    parses the typed text) is taken, as that amount."""
    typed = str(Decimal(fen).scaleb(-2))
    assert _fen_of_one(float(typed)) == fen


@pytest.mark.parametrize("x", [
    0.1 + 0.2,  # 0.30000000000000004: the reader rounds it to 0.30, with a warning
    250000.005, 1e-3, -0.01, -100.0, 2.0**44, 1e15, float("nan"), float("inf"),
])
def test_floats_the_reader_does_not_read_as_they_are_are_not_taken(x: float) -> None:
    assert _fen_of_one(x) is None


def test_cells_not_all_floats_are_not_taken() -> None:
    from contract_tracker.engine.columnar import _fen_of_floats

    assert _fen_of_floats([1.0, "2.00"]) is None
    assert _fen_of_floats([1.0, None]) is None
    assert _fen_of_floats([1.0, True]) is None
    assert _fen_of_floats([1.0, 2]) is None
    assert _fen_of_floats([1.0, 2.5]) is None  # numbers, but not packed by the reader
    found = _fen_of_floats(array("d", [1.0, 2.5, 0.0, -0.0, 18446.5]))
    assert found is not None and found.tolist() == [100, 250, 0, 0, 1844650]


@pytest.mark.parametrize(("cell", "taken"), [
    (None, True),  # as the sample has it
    ("1,000.00", False),  # typed as text
    (1000.005, False),  # more decimals than a fen: rounded by the reader
])
def test_a_book_read_from_float_cells_takes_its_fen_from_them(
        monkeypatch: pytest.MonkeyPatch, cell: object, taken: bool) -> None:
    """The Receipts amounts of a book read from an .xlsx come in one go from the float
    cells when they can, else from the Decimals, with the same result either way."""
    from contract_tracker.engine import columnar
    from contract_tracker.parse import parse_book

    from .conftest import grids_of

    grids = _float_cells(grids_of(sample_book("small")))
    if cell is not None:
        header = grids["Receipts"][0]
        at = next(i for i, h in enumerate(header) if "(amount)" in str(h))
        grids["Receipts"][1][at] = cell
    parsed, _ = parse_book(grids)
    seen: list[bool] = []
    real = columnar._fen_of_floats

    def spy(cells: Any) -> Any:
        found = real(cells)
        seen.append(found is not None)
        return found

    monkeypatch.setattr(columnar, "_fen_of_floats", spy)
    assert assert_same(parsed, SAMPLE_AS_OF)
    assert seen == [True, taken]  # Installments, then Receipts
