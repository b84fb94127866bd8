"""The contracts of a book indexed by ID, each with its effective terms.

Terms are built once per distinct set of overrides rather than once per contract: a book
of 5,000 contracts that mostly inherit the Settings defaults builds a handful of Terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter

from ..records import Book, Contract, Problem, Source
from ..terms import Terms, effective_terms


@dataclass(frozen=True, slots=True)
class ContractIndex:
    contracts: Mapping[str, Contract]
    terms: Mapping[str, Terms]


# Contract fields that are not terms (``terms.effective_terms`` does not read them); every
# other field is taken as a possible override, so a term added to Contract later can never
# make two contracts with different overrides share one Terms.
_NOT_TERMS = frozenset({
    "contract_id", "client_id", "signing_date", "start_date", "end_date", "total_fee",
    "status", "title", "signing_place", "prepayment", "prepay_days", "prepay_day_type",
    "final_days", "final_day_type", "renewal_notice_days", "confidentiality_years",
    "service_items", "monthly_fee", "language", "notes", "src",
})
_override_key = attrgetter(*(f for f in Contract._fields if f not in _NOT_TERMS))
"""A contract's overrides: contracts with equal ones get the same Terms."""


def index_contracts(book: Book) -> tuple[ContractIndex, tuple[Problem, ...]]:
    """Contracts by ID with their terms; a repeated ID is a problem and the first row wins."""
    contracts: dict[str, Contract] = {}
    terms: dict[str, Terms] = {}
    built: dict[tuple[object, ...], Terms] = {}
    problems: list[Problem] = []
    settings = book.settings
    for c in book.contracts:
        if c.contract_id in contracts:
            first = contracts[c.contract_id].src.ref("contract_id")
            problems.append(Problem.at(
                c.src, "contract_id",
                f"contract {c.contract_id} appears again (first at {first}); this row is ignored",
            ))
            continue
        key = _override_key(c)
        t = built.get(key)
        if t is None:
            t = built[key] = effective_terms(c, settings)
        contracts[c.contract_id] = c
        terms[c.contract_id] = t
    return ContractIndex(contracts, terms), tuple(problems)


def ref(src: Source, key: str | None = None) -> str:
    """``'Receipts!E17'``; empty for a record that came from no sheet."""
    return src.ref(key) if src.sheet else ""


def refs(*cells: str) -> str:
    """Cell references joined for the workings, the empty ones left out."""
    return ", ".join(c for c in cells if c)
