"""The data a template sees: a workbook's contract turned into plain, formatted text.

``build_contract_context(book, contract)`` returns a :class:`ContractContext`, a tree of
frozen dataclasses whose leaves are already formatted for the contract's language (dates
``2026年3月31日`` / ``31 March 2026``, amounts ``120,000.00``, the total in capitals
``人民币壹拾贰万元整``, the late-fee rate ``万分之五`` / ``0.05%``). Templates therefore only
print values; they never compute. The dataclasses double as the data model that
``render.check_template`` checks placeholders against: ``client.address`` is known because
:class:`PartyCtx` has an ``address`` field.

Top-level names of a contract template (all strings unless noted):

``lang``
    ``zh`` or ``en``.
``contract``
    ``number``, ``title``, ``signing_date``, ``signing_place``, ``start_date``, ``end_date``,
    ``term_length`` (``12个月`` / ``12 months``), ``renewal_notice`` (``30日`` / ``30 days``),
    ``total_fee`` (``120,000.00``), ``total_fee_capitals`` (``人民币壹拾贰万元整``),
    ``total_fee_words`` (``Renminbi One Hundred and Twenty Thousand Yuan Only``),
    ``has_prepayment`` (bool), ``prepayment``, ``prepayment_capitals``, ``prepayment_words``,
    ``prepay_period`` (``10日`` / ``10个工作日`` / ``10 working days``), ``final_payment``
    (the rest), ``final_payment_capitals``, ``final_payment_words``, ``final_period``,
    ``has_schedule`` (bool: clause 3.4 states the ``installments`` table instead of the
    prepayment/final sentence), ``confidentiality_years`` (``3``), ``late_fee_rate_words``
    (``万分之五``), ``late_fee_rate_percent`` (``0.05%``), and clause 7.2's other effective
    terms (:func:`contract_tracker.terms.effective_terms`, as the late-fee engine applies
    them): ``late_fee_exempt`` (bool: no late fee, also for a zero rate or a zero cap),
    ``has_grace`` / ``grace_period`` (``5日`` / ``5 days``), ``has_cap`` / ``late_fee_cap``
    (``10%`` of each installment), ``due_shift`` (bool: a due date on a statutory rest day
    moves to the day after the rest ends, Civil Code art. 203).
``installments`` (a list: the Installments sheet's rows of the contract, in sheet order)
    each ``no``, ``kind`` (``预付款`` / ``进度款`` / ``尾款``), ``amount``, ``due``
    (``本合同签订后15日内`` / ``服务期满后30日内`` / ``不晚于2026年3月31日``; English
    ``within 15 days after this Contract is signed`` / ``on or before 31 March 2026``), the
    same rule the late-fee engine applies (the installment's own due date, else the
    contract's rule for its kind).
``client`` (甲方) and ``company`` (乙方)
    ``name``, ``legal_rep``, ``address``, ``phone``, ``credit_code``; the client also has
    ``contact`` and ``email`` (may be empty); the company has ``bank_account_name``,
    ``bank_name`` and ``bank_account_no``.
``sla``
    ``response_hours``, ``solution_hours``, ``major_hours`` (``2``, ``4``, ``24``), the same
    with their unit as ``response_time``, ``solution_time``, ``major_time`` (``2小时`` /
    ``2 hours`` / ``1 hour``), ``availability`` (``99.9%``), ``clock`` (how the hours are
    counted, a phrase).
``fee_items`` (a list)
    each ``no``, ``name``, ``amount``, ``note``.
``services``
    ``item1`` … ``item8`` (bool: clause 1.1's item is part of this contract) and ``no1`` …
    ``no8`` (its number in this contract, ``(1)``); ``service_items`` lists the chosen
    ones with ``no`` and ``name``.

Text typed by users is passed through unchanged except for characters XML cannot hold
(control characters other than tab and newline are removed, CR LF becomes LF).

The dunning letter (催款函) has its own model, :class:`DunningContext`; the weekly report
fills it with :func:`build_dunning_context`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal

from ..engine.latefees import DUE_RULES
from ..money import fmt_money_grouped, round_fen
from ..records import (
    Book,
    Client,
    Contract,
    FeeItem,
    Installment,
    Problem,
    Settings,
    Severity,
    Source,
)
from ..schema import SERVICE_ITEMS
from ..terms import Terms, effective_terms
from .capitals import (
    cn_date,
    cn_small_number,
    en_date,
    format_number,
    format_percent,
    rate_words_cn,
    rmb_capitals,
    rmb_words_en,
)

__all__ = [
    "DEFAULT_TITLE",
    "SERVICE_ITEMS_EN",
    "BookIndex",
    "CompanyCtx",
    "ContractContext",
    "ContractCtx",
    "DunningContext",
    "DunningItemCtx",
    "DunningLine",
    "DunningSettledCtx",
    "DunningSettledLine",
    "FeeItemCtx",
    "InstallmentCtx",
    "LateFeeCtx",
    "LetterCtx",
    "PartyCtx",
    "ServiceItemCtx",
    "ServicesCtx",
    "SlaCtx",
    "TotalsCtx",
    "build_contract_context",
    "build_dunning_context",
    "clean_text",
    "contract_language",
    "located_problem",
    "parse_service_items",
]

DEFAULT_TITLE = {
    "zh": "电子商务平台运营维护合同",
    "en": "E-commerce Platform Operation and Maintenance Service Contract",
}
SERVICE_ITEMS_EN: tuple[str, ...] = (
    "Platform technical maintenance",
    "Platform feature development",
    "Platform content management",
    "Platform data analysis",
    "Platform promotion support",
    "Customer service support",
    "Data backup and recovery",
    "Security protection",
)
_DEFAULT_FEE_ITEM = {"zh": "运营维护服务费", "en": "Operation and maintenance service fee"}
_KIND_LABEL = {
    "zh": {"prepayment": "预付款", "progress": "进度款", "final": "尾款"},
    "en": {"prepayment": "Prepayment", "progress": "Progress payment", "final": "Final payment"},
}

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean_text(value: object) -> str:
    """User text as it can stand in a Word document: ``None`` → ``''``; CR LF and lone CR
    become LF; characters XML 1.0 cannot hold are removed. Everything else is kept."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _XML_ILLEGAL.sub("", text)


# --- the contract model -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyCtx:
    """甲方 (the client): the parties block of the contract's first page."""

    name: str
    legal_rep: str
    address: str
    phone: str
    credit_code: str
    contact: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class CompanyCtx:
    """乙方 (us), from Settings, with the bank account of clause 3.3."""

    name: str
    legal_rep: str
    address: str
    phone: str
    credit_code: str
    bank_account_name: str
    bank_name: str
    bank_account_no: str


@dataclass(frozen=True, slots=True)
class ContractCtx:
    number: str
    title: str
    signing_date: str
    signing_place: str
    start_date: str
    end_date: str
    term_length: str
    renewal_notice: str
    total_fee: str
    total_fee_capitals: str
    total_fee_words: str
    has_prepayment: bool
    prepayment: str
    prepayment_capitals: str
    prepayment_words: str
    prepay_period: str
    final_payment: str
    final_payment_capitals: str
    final_payment_words: str
    final_period: str
    confidentiality_years: str
    late_fee_rate_words: str
    late_fee_rate_percent: str
    has_schedule: bool
    late_fee_exempt: bool
    has_grace: bool
    grace_period: str
    has_cap: bool
    late_fee_cap: str
    due_shift: bool


@dataclass(frozen=True, slots=True)
class SlaCtx:
    response_hours: str
    solution_hours: str
    major_hours: str
    response_time: str
    solution_time: str
    major_time: str
    availability: str
    clock: str


@dataclass(frozen=True, slots=True)
class FeeItemCtx:
    no: str
    name: str
    amount: str
    note: str


@dataclass(frozen=True, slots=True)
class InstallmentCtx:
    """One row of clause 3.4's payment schedule."""

    no: str
    kind: str
    amount: str
    due: str


@dataclass(frozen=True, slots=True)
class ServiceItemCtx:
    no: str
    name: str


@dataclass(frozen=True, slots=True)
class ServicesCtx:
    """Which of clause 1.1's eight items the contract includes, and their numbers."""

    item1: bool
    item2: bool
    item3: bool
    item4: bool
    item5: bool
    item6: bool
    item7: bool
    item8: bool
    no1: str
    no2: str
    no3: str
    no4: str
    no5: str
    no6: str
    no7: str
    no8: str
    limited: bool = False  # only some items: the list is exhaustive, not "but not limited to"


@dataclass(frozen=True, slots=True)
class ContractContext:
    """Everything a contract template may print (see the module docstring)."""

    lang: str
    contract: ContractCtx
    client: PartyCtx
    company: CompanyCtx
    sla: SlaCtx
    fee_items: tuple[FeeItemCtx, ...]
    services: ServicesCtx
    service_items: tuple[ServiceItemCtx, ...]
    installments: tuple[InstallmentCtx, ...]

    def as_mapping(self) -> dict[str, object]:
        """The top-level names, for ``template.render(**mapping)``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --- helpers ------------------------------------------------------------------------------


def contract_language(contract: Contract, settings: Settings) -> str:
    """``zh`` or ``en``: the contract's own template language, else the Settings default."""
    lang = (contract.language or settings.language or "zh").strip().lower()
    return lang if lang in ("zh", "en") else "zh"


def _date(day: dt.date, lang: str) -> str:
    return cn_date(day) if lang == "zh" else en_date(day)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _add_months(day: dt.date, months: int) -> dt.date | None:
    y, m = divmod(day.month - 1 + months, 12)
    try:
        return day.replace(year=day.year + y, month=m + 1)
    except ValueError:
        return None


def term_length(start: dt.date, end: dt.date, lang: str) -> str:
    """The term in whole months when it is exactly that (2026-01-01 to 2026-12-31 is
    12 months), else in days counting both ends."""
    after = end + dt.timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    if months > 0 and _add_months(start, months) == after:
        return f"{months}个月" if lang == "zh" else _plural(months, "month")
    days = (end - start).days + 1
    return f"{days}日" if lang == "zh" else _plural(days, "day")


def period_text(days: int, day_type: str | None, lang: str) -> str:
    """``10日`` / ``10个工作日`` / ``10 days`` / ``10 working days``."""
    working = day_type == "working"
    if lang == "zh":
        return f"{days}个工作日" if working else f"{days}日"
    return _plural(days, "working day" if working else "day")


def parse_service_items(text: str | None) -> tuple[int, ...]:
    """Clause 1.1 item numbers from ``'1,2,7,8'`` (also ``、``, ``，``, spaces, ranges
    ``1-4``); blank means all eight. Raises ``ValueError`` naming a bad entry."""
    if text is None or not str(text).strip():
        return tuple(range(1, len(SERVICE_ITEMS) + 1))
    chosen: set[int] = set()
    for part in re.split(r"[,，、;；\s]+", str(text).strip()):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:\s*[-~–]\s*(\d+))?", part)
        if not match:
            raise ValueError(f"'{part}' is not an item number 1-{len(SERVICE_ITEMS)}")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 1 <= low <= high <= len(SERVICE_ITEMS):
            raise ValueError(f"'{part}' is not an item number 1-{len(SERVICE_ITEMS)}")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))


def _clock_text(clock: str, start: int, end: int, lang: str) -> str:
    if clock == "working_hours":
        if lang == "zh":
            return f"按中国法定工作日的{start}:00至{end}:00工作时间计算"
        return (f"are counted in working hours, {start:02d}:00 to {end:02d}:00 on "
                "statutory working days in China")
    if lang == "zh":
        return "按自然时间7x24小时连续计算"
    return "are counted continuously, 7x24"


def _hours(hours: Decimal, lang: str) -> str:
    """``2小时`` / ``2 hours`` / ``1 hour`` / ``1.5 hours``."""
    text = format_number(hours)
    if lang == "zh":
        return f"{text}小时"
    return f"{text} hour" if hours == 1 else f"{text} hours"


def _money(amount: Decimal) -> str:
    return fmt_money_grouped(round_fen(amount))


# --- the builder --------------------------------------------------------------------------


_COMPANY_FIELDS: tuple[tuple[str, str], ...] = (
    ("company_name", "name"),
    ("company_legal_rep", "legal_rep"),
    ("company_address", "address"),
    ("company_phone", "phone"),
    ("company_credit_code", "credit_code"),
    ("bank_account_name", "bank_account_name"),
    ("bank_name", "bank_name"),
    ("bank_account_no", "bank_account_no"),
)
_CLIENT_FIELDS = ("name", "legal_rep", "address", "phone", "credit_code")


def company_context(settings: Settings) -> tuple[CompanyCtx, list[Problem]]:
    """乙方 from Settings; each blank value the contract needs is a problem."""
    problems: list[Problem] = []
    values: dict[str, str] = {}
    for key, attr in _COMPANY_FIELDS:
        value = clean_text(getattr(settings, key))
        if not value.strip():
            src = settings.source_of(key)
            problems.append(Problem(src.sheet or "Settings", src.cell("value") if src.row else "",
                                    f"setting {key} is blank: the contract needs it"))
        values[attr] = value
    return CompanyCtx(**values), problems


def located_problem(src: Source, sheet: str, key: str | None, message: str,
        severity: Severity = Severity.ERROR) -> Problem:
    """A problem at ``src``'s cell, or on ``sheet`` when the record has no source."""
    if not src.row:
        return Problem(src.sheet or sheet, "", message, severity)
    return Problem.at(src, key, message, severity)


def client_context(client: Client) -> tuple[PartyCtx, list[Problem]]:
    problems = [
        located_problem(client.src, "Clients", key, f"client {client.client_id}: {key} is blank; "
            "the contract needs it")
        for key in _CLIENT_FIELDS if not str(getattr(client, key) or "").strip()
    ]
    return PartyCtx(
        name=clean_text(client.name), legal_rep=clean_text(client.legal_rep),
        address=clean_text(client.address), phone=clean_text(client.phone),
        credit_code=clean_text(client.credit_code), contact=clean_text(client.contact),
        email=clean_text(client.email),
    ), problems


@dataclass(frozen=True)
class BookIndex:
    """Clients by id, fee items and installments by contract, built once for a batch."""

    clients: dict[str, Client]
    fee_items: dict[str, tuple[FeeItem, ...]]
    installments: dict[str, tuple[Installment, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, book: Book) -> BookIndex:
        items: dict[str, list[FeeItem]] = {}
        for item in book.fee_items:
            items.setdefault(item.contract_id, []).append(item)
        installments: dict[str, list[Installment]] = {}
        for inst in book.installments:
            installments.setdefault(inst.contract_id, []).append(inst)
        clients: dict[str, Client] = {}
        for client in book.clients:
            clients.setdefault(client.client_id, client)
        return cls(clients, {k: tuple(v) for k, v in items.items()},
                   {k: tuple(v) for k, v in installments.items()})


# --- clause 3.4: the payment schedule -------------------------------------------------------


_RULE_WORDS = {
    "zh": {"signing_date": "本合同签订后{}内", "end_date": "服务期满后{}内"},
    "en": {"signing_date": "within {} after this Contract is signed",
           "end_date": "within {} after the term ends"},
}


@dataclass(frozen=True)
class _Plan:
    """What clause 3.4 says: the prepayment and the rest (the seed's sentence), or each
    installment (``schedule``, a table)."""

    prepayment: Decimal
    final: Decimal
    schedule: tuple[InstallmentCtx, ...] = ()
    needs: frozenset[str] = frozenset()  # contract columns the wording uses


def _due_text(inst: Installment, contract: Contract, lang: str) -> tuple[str, str | None]:
    """When ``inst`` is due, in words, and the contract column the rule needs (or None).
    The same choice as the late-fee engine: the installment's own due date, else the
    contract's rule for its kind (``DUE_RULES``); ``''`` when it has neither."""
    if inst.due_date is not None:
        day = inst.due_date
        return (f"不晚于{cn_date(day)}" if lang == "zh" else f"on or before {en_date(day)}"), None
    rule = DUE_RULES.get(inst.kind)
    if rule is None:
        return "", None
    days = getattr(contract, rule.days)
    period = period_text(days or 0, getattr(contract, rule.day_type), lang)
    return _RULE_WORDS[lang][rule.basis].format(period), rule.days


def _payment_plan(contract: Contract, insts: Sequence[Installment], total: Decimal,
                  lang: str, error: Callable[[Source, str, str, str], None],
                  warn: Callable[[str, str], None]) -> _Plan:
    """Clause 3.4 from the contract's installments (the rows the late-fee engine charges).

    No installments: the contract's prepayment and the rest. A prepayment (optional) and a
    final payment, both due by the contract's rule: the seed's sentence with their amounts.
    Anything else (progress payments, fixed dates): every installment with its amount and
    due date or rule. The installments must add up to the total fee."""
    if not insts:
        prepay = round_fen(contract.prepayment) if contract.prepayment else Decimal("0.00")
        return _Plan(prepay, total - prepay,
                     needs=frozenset({"final_days", *(("prepay_days",) if prepay else ())}))
    amounts = [round_fen(i.amount) for i in insts]
    listed = sum(amounts, Decimal("0"))
    if listed != total:
        cells = ", ".join(i.src.ref("amount") for i in insts[:6] if i.src.sheet)
        more = ", ..." if len(insts) > 6 else ""
        error(contract.src, "Contracts", "total_fee",
              f"installments add up to {_money(listed)} but total_fee is {_money(total)}: "
              f"clause 3.4's payment schedule must add up to the total fee of clause 3.1"
              + (f" ({cells}{more})" if cells else ""))
    kinds = sorted(i.kind for i in insts)
    by_rule = all(i.due_date is None for i in insts)
    if by_rule and kinds in (["final"], ["final", "prepayment"]):
        prepay = next((a for i, a in zip(insts, amounts, strict=True)
                       if i.kind == "prepayment"), Decimal("0.00"))
        final = next(a for i, a in zip(insts, amounts, strict=True) if i.kind == "final")
        own = round_fen(contract.prepayment) if contract.prepayment else Decimal("0.00")
        if own != prepay:
            warn("prepayment", f"prepayment {_money(own)} differs from the installments' "
                 f"{_money(prepay)}: clause 3.4 states the Installments sheet's amounts")
        return _Plan(prepay, final,
                     needs=frozenset({"final_days", *(("prepay_days",) if prepay else ())}))
    labels = _KIND_LABEL[lang]
    rows: list[InstallmentCtx] = []
    needs: set[str] = set()
    for n, (inst, amount) in enumerate(zip(insts, amounts, strict=True), 1):
        due, column = _due_text(inst, contract, lang)
        if not due:
            error(inst.src, "Installments", "due_date",
                  f"installment {inst.installment_id} ({inst.kind}) has no due date: clause "
                  "3.4 cannot say when it is due (only prepayments and final payments follow "
                  "the contract's rule)")
        if column:
            needs.add(column)
        rows.append(InstallmentCtx(str(n), labels.get(inst.kind, clean_text(inst.kind)),
                                   _money(amount), due))
    prepay = sum((a for i, a in zip(insts, amounts, strict=True) if i.kind == "prepayment"),
                 Decimal("0"))
    return _Plan(prepay, total - prepay, tuple(rows), frozenset(needs))


def _late_fee_fields(terms: Terms, lang: str) -> dict[str, object]:
    """Clause 7.2 from the effective terms the late-fee engine uses."""
    rate, cap = terms.late_fee_rate, terms.late_fee_cap_pct
    exempt = terms.late_fee_exempt or rate == 0 or (cap is not None and cap <= 0)
    return {
        "late_fee_rate_words": rate_words_cn(rate),
        "late_fee_rate_percent": format_percent(rate),
        "late_fee_exempt": exempt,
        "has_grace": terms.grace_days > 0,
        "grace_period": period_text(terms.grace_days, "calendar", lang),
        "has_cap": cap is not None,
        "late_fee_cap": format_percent(cap) if cap is not None else "",
        "due_shift": bool(terms.move_due_off_rest_days),
    }


def build_contract_context(
    book: Book, contract: Contract, lang: str | None = None, *, index: BookIndex | None = None
) -> tuple[ContractContext | None, list[Problem]]:
    """The template context of ``contract``, or ``None`` and the errors that prevent it.

    Errors (the contract is not generated): unknown client; blank company settings or
    client fields; a blank renewal notice or confidentiality period; a prepayment above the
    total; a blank prepayment or final-payment period that clause 3.4 needs; an end before
    the start; fee items or installments that do not add up to the total fee; a progress
    installment without a due date; bad service item numbers.
    Warnings: no fee items (the breakdown shows the total as one item); a prepayment that
    differs from the prepayment installment (clause 3.4 states the installment).
    """
    lang = lang or contract_language(contract, book.settings)
    src = contract.src
    cid = contract.contract_id
    problems: list[Problem] = []

    def error(key: str | None, message: str) -> None:
        problems.append(located_problem(src, "Contracts", key, f"contract {cid}: {message}"))

    index = index or BookIndex.of(book)
    client = index.clients.get(contract.client_id)
    if client is None:
        error("client_id", f"client {contract.client_id} is not on the Clients sheet")
        return None, problems
    party, client_problems = client_context(client)
    company, company_problems = company_context(book.settings)
    problems += client_problems + company_problems

    def located(where: Source, sheet: str, key: str, message: str) -> None:
        problems.append(located_problem(where, sheet, key, f"contract {cid}: {message}"))

    def warn(key: str, message: str) -> None:
        problems.append(located_problem(src, "Contracts", key, f"contract {cid}: {message}",
                                        Severity.WARNING))

    if contract.end_date < contract.start_date:
        error("end_date", "the term ends before it starts")
    total = round_fen(contract.total_fee)
    own_prepay = round_fen(contract.prepayment) if contract.prepayment else Decimal("0.00")
    if own_prepay > total:
        error("prepayment",
              f"prepayment {_money(own_prepay)} exceeds the total fee {_money(total)}")
    plan = _payment_plan(contract, index.installments.get(cid, ()), total, lang, located,
                         warn)
    if "prepay_days" in plan.needs and contract.prepay_days is None:
        error("prepay_days", "prepay_days is blank: clause 3.4 needs the prepayment period")
    if "final_days" in plan.needs and contract.final_days is None:
        error("final_days", "final_days is blank: clause 3.4 needs the final-payment period")
    if contract.renewal_notice_days is None:
        error("renewal_notice_days",
              "renewal_notice_days is blank: clause 2.2 needs the notice period")
    if contract.confidentiality_years is None:
        error("confidentiality_years",
              "confidentiality_years is blank: clause 5.2 needs the period")
    try:
        chosen = parse_service_items(contract.service_items)
    except ValueError as exc:
        error("service_items", f"service_items: {exc}")
        chosen = ()

    items = index.fee_items.get(cid, ())
    if items:
        listed = sum((round_fen(f.amount) for f in items), Decimal("0"))
        if listed != total:
            error("total_fee", f"fee items add up to {_money(listed)} but total_fee is "
                  f"{_money(total)} (clauses 3.1 and 3.2 must agree)")
        fee_items = tuple(
            FeeItemCtx(str(i), clean_text(f.item), _money(f.amount), clean_text(f.note))
            for i, f in enumerate(items, 1)
        )
    else:
        problems.append(located_problem(src, "Contracts", "total_fee",
                            f"contract {cid}: no fee items; clause 3.2 lists the total as one "
                            "item", Severity.WARNING))
        fee_items = (FeeItemCtx("1", _DEFAULT_FEE_ITEM[lang], _money(total), ""),)

    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems

    terms = effective_terms(contract, book.settings)
    prepay, final = plan.prepayment, plan.final
    names = SERVICE_ITEMS if lang == "zh" else SERVICE_ITEMS_EN
    numbers = {n: f"（{i}）" if lang == "zh" else f"({i})" for i, n in enumerate(chosen, 1)}
    flags: dict[str, object] = {f"item{n}": n in numbers for n in range(1, 9)}
    flags.update({f"no{n}": numbers.get(n, "") for n in range(1, 9)})
    flags["limited"] = len(numbers) < 8
    services = ServicesCtx(**flags)  # type: ignore[arg-type]
    ctx = ContractContext(
        lang=lang,
        contract=ContractCtx(
            number=clean_text(cid),
            title=clean_text(contract.title) or DEFAULT_TITLE[lang],
            signing_date=_date(contract.signing_date, lang),
            signing_place=clean_text(contract.signing_place),
            start_date=_date(contract.start_date, lang),
            end_date=_date(contract.end_date, lang),
            term_length=term_length(contract.start_date, contract.end_date, lang),
            renewal_notice=period_text(contract.renewal_notice_days or 0, "calendar", lang),
            total_fee=_money(total),
            total_fee_capitals=rmb_capitals(total),
            total_fee_words=rmb_words_en(total),
            has_prepayment=bool(prepay),
            prepayment=_money(prepay),
            prepayment_capitals=rmb_capitals(prepay),
            prepayment_words=rmb_words_en(prepay),
            prepay_period=period_text(contract.prepay_days or 0, contract.prepay_day_type, lang),
            final_payment=_money(final),
            final_payment_capitals=rmb_capitals(final),
            final_payment_words=rmb_words_en(final),
            final_period=period_text(contract.final_days or 0, contract.final_day_type, lang),
            confidentiality_years=str(contract.confidentiality_years),
            has_schedule=bool(plan.schedule),
            **_late_fee_fields(terms, lang),  # type: ignore[arg-type]
        ),
        client=party,
        company=company,
        sla=SlaCtx(
            response_hours=format_number(terms.sla_response_hours),
            solution_hours=format_number(terms.sla_solution_hours),
            major_hours=format_number(terms.sla_major_hours),
            response_time=_hours(terms.sla_response_hours, lang),
            solution_time=_hours(terms.sla_solution_hours, lang),
            major_time=_hours(terms.sla_major_hours, lang),
            availability=format_percent(terms.availability_target),
            clock=_clock_text(terms.sla_clock, terms.work_day_start, terms.work_day_end, lang),
        ),
        fee_items=fee_items,
        services=services,
        service_items=tuple(ServiceItemCtx(numbers[n], names[n - 1]) for n in chosen),
        installments=plan.schedule,
    )
    return ctx, problems


# --- the dunning letter (催款函) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LetterCtx:
    number: str
    date: str
    as_of: str
    pay_within_days: str
    manager: str
    manager_email: str
    title: str = "催  款  函"
    reminder: str = "一"  # this letter is the Nth in a row about (some of) its items
    previous_count: str = ""  # letters sent before it in a row ('' for the first), 两 for 2
    chased_since: str = ""  # the date of the first of those
    final: bool = False  # a final notice (最后催款通知函)


LETTER_TITLE = "催  款  函"
FINAL_TITLE = "最后催款通知函"


@dataclass(frozen=True, slots=True)
class DunningItemCtx:
    no: str
    contract_no: str
    installment: str
    kind: str
    due_date: str
    amount: str
    outstanding: str
    days_overdue: str
    late_fee: str
    rate: str
    cap_mark: str = ""  # "*" when the fee is the contract's cap
    basis: str = ""  # how the fee was computed: each part x rate x days late


@dataclass(frozen=True, slots=True)
class DunningSettledCtx:
    """An installment paid in full, but late: its late fee is still owed."""

    no: str
    contract_no: str
    installment: str
    kind: str
    due_date: str
    amount: str
    paid_dates: str  # the days its late parts were paid: 2026年4月10日、2026年5月5日
    days_late: str  # each part's days late, in the same order: 10、35
    late_fee: str
    rate: str
    cap_mark: str = ""
    basis: str = ""


@dataclass(frozen=True, slots=True)
class TotalsCtx:
    outstanding: str
    outstanding_capitals: str
    late_fee: str  # the whole late fee to date: overdue items and installments settled late
    late_fee_capitals: str
    total_due: str
    total_due_capitals: str
    overdue_fee: str = ""  # of which on the overdue items
    settled_fee: str = ""  # of which on installments settled late


@dataclass(frozen=True, slots=True)
class LateFeeCtx:
    rate_words: str
    rate_percent: str
    clause: str
    cap_note: str = ""  # why some fees carry a "*", when they do
    has_basis: bool = False  # some item says how its fee was computed


@dataclass(frozen=True, slots=True)
class DunningContext:
    """What ``templates/dunning_zh.docx`` (催款函) may print.

    ``letter``: ``number``, ``date`` and ``as_of`` (``2026年3月31日``), ``pay_within_days``
    (``7``), ``manager`` and ``manager_email`` (the account manager who signs); ``title``
    (``催  款  函``, or ``最后催款通知函`` when ``final``), ``reminder`` (``三``: the third
    weekly letter in a row, in Chinese numerals as a letter writes them), ``previous_count``
    (``两``; empty for a first letter) and
    ``chased_since`` (the date of the first of them), ``final`` (a final notice).
    ``client``: :class:`PartyCtx`. ``company``: :class:`CompanyCtx` (with the bank account).
    ``items`` (a list, one per overdue installment): ``no``, ``contract_no``,
    ``installment``, ``kind`` (预付款 / 进度款 / 尾款), ``due_date``, ``amount`` (as
    scheduled), ``outstanding`` (still unpaid), ``days_overdue``, ``late_fee`` (to the
    as-of date), ``rate`` (``万分之五``), ``cap_mark`` (``*`` when the fee is capped).
    ``settled`` (a list, may be empty): installments paid in full but late, whose late fee
    is still owed: ``no``, ``contract_no``, ``installment``, ``kind``, ``due_date``,
    ``amount``, ``paid_dates`` (the days the late parts were paid, joined by ``、``),
    ``days_late`` (each part's days late, same order), ``late_fee``, ``rate``, ``cap_mark``.
    ``totals``: ``outstanding``, ``late_fee`` (the whole fee to date: items and settled),
    ``total_due`` and each ``*_capitals``; ``overdue_fee`` and ``settled_fee`` (its two
    parts).
    ``late_fee``: ``rate_words`` (the common rate, or ``合同约定的比例`` when the items'
    rates differ), ``rate_percent`` (``0.05%`` or empty), ``clause`` (``7.2``),
    ``cap_note`` (a sentence explaining the ``*``, empty when no fee is capped).
    """

    lang: str
    letter: LetterCtx
    client: PartyCtx
    company: CompanyCtx
    items: tuple[DunningItemCtx, ...]
    totals: TotalsCtx
    late_fee: LateFeeCtx
    settled: tuple[DunningSettledCtx, ...] = ()

    def as_mapping(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class DunningLine:
    """One overdue installment as the late-fee engine reports it."""

    contract_id: str
    installment_id: str
    kind: str  # prepayment | progress | final
    due_date: dt.date
    amount: Decimal
    outstanding: Decimal
    days_overdue: int
    late_fee: Decimal
    rate: Decimal = Decimal("0.0005")
    capped: bool = False  # the fee is the contract's cap, not rate x days
    basis: str = ""  # how the fee was computed, in a letter's words


@dataclass(frozen=True, slots=True)
class DunningSettledLine:
    """An installment paid in full but late, with its late fee still owed (receipts pay
    installments, never fees; ``late_fee`` is what receipts of 滞纳金 / 减免滞纳金 left)."""

    contract_id: str
    installment_id: str
    kind: str
    due_date: dt.date
    amount: Decimal
    paid_dates: tuple[dt.date, ...]  # the days its late parts were paid
    days_late: tuple[int, ...]  # each part's days late
    late_fee: Decimal
    rate: Decimal = Decimal("0.0005")
    capped: bool = False
    basis: str = ""


CAP_NOTE = "标“*”的滞纳金已达合同约定的上限，按上限计收。"


def build_dunning_context(
    book: Book,
    client_id: str,
    lines: Sequence[DunningLine],
    *,
    as_of: dt.date,
    letter_no: str,
    letter_date: dt.date | None = None,
    pay_within_days: int = 7,
    settled: Sequence[DunningSettledLine] = (),
    reminder: int = 1,
    chased_since: dt.date | None = None,
    final: bool = False,
) -> DunningContext:
    """The 催款函 context for one client: its overdue ``lines`` and, optionally, the
    installments it ``settled`` late whose fee is still owed. Amounts are rounded half-up to
    the fen and the totals are sums of the rounded lines; the late fee is the fee still
    owed on both. ``reminder`` says this is the Nth letter in a row (the first of them dated
    ``chased_since``), ``final`` makes it a final notice. Raises ``KeyError`` for an unknown
    client and ``ValueError`` when ``lines`` is empty."""
    client = next((c for c in book.clients if c.client_id == client_id), None)
    if client is None:
        raise KeyError(f"client {client_id} is not on the Clients sheet")
    if not lines:
        raise ValueError(f"no overdue items for client {client_id}")
    party, _ = client_context(client)
    company, _ = company_context(book.settings)
    labels = _KIND_LABEL["zh"]
    outstanding = sum((round_fen(x.outstanding) for x in lines), Decimal("0"))
    overdue_fee = sum((round_fen(x.late_fee) for x in lines), Decimal("0"))
    settled_fee = sum((round_fen(x.late_fee) for x in settled), Decimal("0"))
    fees = overdue_fee + settled_fee
    rates = {x.rate for x in lines} | {x.rate for x in settled}
    common = next(iter(rates)) if len(rates) == 1 else None
    capped = any(x.capped for x in lines) or any(x.capped for x in settled)
    return DunningContext(
        lang="zh",
        letter=LetterCtx(
            number=clean_text(letter_no), date=cn_date(letter_date or as_of),
            as_of=cn_date(as_of), pay_within_days=str(pay_within_days),
            manager=clean_text(client.account_manager),
            manager_email=clean_text(client.manager_email),
            title=FINAL_TITLE if final else LETTER_TITLE, reminder=cn_small_number(reminder),
            previous_count=(("两" if reminder == 3 else cn_small_number(reminder - 1))
                            if reminder > 1 else ""),
            chased_since=cn_date(chased_since) if reminder > 1 and chased_since else "",
            final=final,
        ),
        client=party,
        company=company,
        items=tuple(
            DunningItemCtx(
                no=str(i), contract_no=clean_text(x.contract_id),
                installment=clean_text(x.installment_id),
                kind=labels.get(x.kind, clean_text(x.kind)), due_date=cn_date(x.due_date),
                amount=_money(x.amount), outstanding=_money(x.outstanding),
                days_overdue=str(x.days_overdue), late_fee=_money(x.late_fee),
                rate=rate_words_cn(x.rate), cap_mark="*" if x.capped else "",
                basis=clean_text(x.basis),
            )
            for i, x in enumerate(lines, 1)
        ),
        totals=TotalsCtx(
            outstanding=_money(outstanding), outstanding_capitals=rmb_capitals(outstanding),
            late_fee=_money(fees), late_fee_capitals=rmb_capitals(fees),
            total_due=_money(outstanding + fees),
            total_due_capitals=rmb_capitals(outstanding + fees),
            overdue_fee=_money(overdue_fee), settled_fee=_money(settled_fee),
        ),
        late_fee=LateFeeCtx(
            rate_words=rate_words_cn(common) if common is not None else "合同约定的比例",
            rate_percent=format_percent(common) if common is not None else "",
            clause="7.2", cap_note=CAP_NOTE if capped else "",
            has_basis=any(x.basis for x in lines) or any(x.basis for x in settled),
        ),
        settled=tuple(
            DunningSettledCtx(
                no=str(i), contract_no=clean_text(x.contract_id),
                installment=clean_text(x.installment_id),
                kind=labels.get(x.kind, clean_text(x.kind)), due_date=cn_date(x.due_date),
                amount=_money(x.amount),
                paid_dates="、".join(cn_date(d) for d in x.paid_dates),
                days_late="、".join(str(n) for n in x.days_late),
                late_fee=_money(x.late_fee), rate=rate_words_cn(x.rate),
                cap_mark="*" if x.capped else "", basis=clean_text(x.basis),
            )
            for i, x in enumerate(settled, 1)
        ),
    )

