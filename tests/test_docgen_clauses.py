"""Clauses 3.4 and 7.2 say what the late-fee engine does.

* 3.4 states the Installments sheet's schedule (the rows the engine charges) when it is
  more than a prepayment and a final payment, each row with its amount and the engine's
  due date or rule; the seed's sentence otherwise. A schedule that does not add up to the
  total fee is an error located to its cell, not a contract that contradicts itself.
* 7.2 states the effective late-fee terms (``terms.effective_terms``): rate, grace days,
  cap, exemption, and whether a due date on a rest day moves (Civil Code art. 203).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import Decimal as D
from pathlib import Path

import docx
import pytest

from contract_tracker.docgen.capitals import cn_date, en_date
from contract_tracker.docgen.context import build_contract_context, period_text
from contract_tracker.docgen.generate import generate_contracts
from contract_tracker.docgen.render import CompiledTemplate, render_with_docxtpl
from contract_tracker.engine.latefees import DueDate, InstallmentFee, late_fees
from contract_tracker.records import Book, Contract, Installment, Settings, Severity, Source
from contract_tracker.sample import SAMPLE_AS_OF, sample_book
from contract_tracker.terms import effective_terms

from .test_docgen_render import TEMPLATES, document_text, golden_book

SAMPLE = sample_book("small")


def _contract(book: Book, cid: str) -> Contract:
    return next(c for c in book.contracts if c.contract_id == cid)


def _render(book: Book, cid: str, lang: str | None = None) -> str:
    ctx, problems = build_contract_context(book, _contract(book, cid), lang)
    assert ctx is not None, problems
    template = TEMPLATES / f"contract_{ctx.lang}.docx"
    return document_text(CompiledTemplate(template).render(ctx.as_mapping()))


def _clause(text: str, number: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"{number} "))


def _expected_due(due: DueDate, lang: str) -> str:
    """The words for an engine DueDate: its own date, or the contract rule it came from."""
    basis, base, days, day_type = due.basis, due.base, due.days, due.day_type
    if basis == "fixed":
        return f"不晚于{cn_date(base)}" if lang == "zh" else f"on or before {en_date(base)}"
    period = period_text(days, day_type, lang)
    words = {
        ("zh", "signing_date"): f"本合同签订后{period}内",
        ("zh", "end_date"): f"服务期满后{period}内",
        ("en", "signing_date"): f"within {period} after this Contract is signed",
        ("en", "end_date"): f"within {period} after the term ends",
    }
    return words[(lang, basis)]


# --- clause 3.4 -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_clause_3_4_agrees_with_the_engine_for_every_sample_contract(lang: str) -> None:
    """Amounts and due dates of 3.4 are the engine's installments, for all 32 contracts."""
    fees, _ = late_fees(SAMPLE, SAMPLE_AS_OF)
    engine: dict[str, list[InstallmentFee]] = {}
    for row in fees.installments:
        engine.setdefault(row.contract_id, []).append(row)
    schedules = 0
    for contract in SAMPLE.contracts:
        ctx, problems = build_contract_context(SAMPLE, contract, lang)
        assert ctx is not None, problems
        rows = engine[contract.contract_id]
        c = ctx.contract
        if c.has_schedule:
            schedules += 1
            assert [(i.amount, i.due) for i in ctx.installments] == [
                (f"{r.amount:,.2f}", _expected_due(r.due, lang)) for r in rows]
            assert sum(D(i.amount.replace(",", "")) for i in ctx.installments) == \
                contract.total_fee
        else:
            assert ctx.installments == ()
            kinds = {r.kind: r for r in rows}
            assert set(kinds) in ({"final"}, {"prepayment", "final"})
            final = kinds["final"]
            assert c.final_payment == f"{final.amount:,.2f}"
            assert (final.due.basis, final.due.days) == ("end_date", contract.final_days)
            assert c.final_period == period_text(final.due.days, final.due.day_type, lang)
            if "prepayment" in kinds:
                pre = kinds["prepayment"]
                assert c.has_prepayment and c.prepayment == f"{pre.amount:,.2f}"
                assert c.prepay_period == period_text(pre.due.days, pre.due.day_type, lang)
    progress = {i.contract_id for i in SAMPLE.installments if i.kind == "progress"}
    assert schedules == len(progress) == 9  # the sample's contracts with progress payments


@pytest.mark.parametrize(("cid", "rows"), [
    ("HT-2025-011", [("预付款", "150,000.00", "本合同签订后15日内"),
                     ("进度款", "100,000.00", "不晚于2026年3月31日"),
                     ("进度款", "120,000.00", "不晚于2026年6月30日"),
                     ("进度款", "120,000.00", "不晚于2026年9月30日"),
                     ("尾款", "110,000.00", "服务期满后30日内")]),
    ("HT-2024-003", [("预付款", "90,000.00", "本合同签订后15日内"),
                     ("进度款", "90,000.00", "不晚于2024年7月31日"),
                     ("进度款", "90,000.00", "不晚于2024年10月31日"),
                     ("尾款", "90,000.00", "服务期满后30日内")]),
    ("HT-2024-007", [("预付款", "115,200.00", "本合同签订后30个工作日内"),
                     ("进度款", "144,000.00", "不晚于2025年6月30日"),
                     ("进度款", "144,000.00", "不晚于2025年12月31日"),
                     ("尾款", "172,800.00", "服务期满后30日内")]),
])
def test_progress_payments_are_stated_as_a_schedule(cid: str, rows: list[tuple[str, ...]]
                                                    ) -> None:
    text = _render(SAMPLE, cid)
    total = f"{_contract(SAMPLE, cid).total_fee:,.2f}"
    assert "剩余款项" not in text and "一次性支付" not in text
    assert f"3.4 付款时间：甲方应按下表分期支付服务费用，各期合计人民币{total}元" in text
    lines = text.splitlines()
    start = lines.index("| 期次 | 款项 | 金额（元） | 付款期限 |")
    expected = [f"| {n} | {k} | {a} | {d} |" for n, (k, a, d) in enumerate(rows, 1)]
    assert lines[start + 1:start + 1 + len(rows)] == expected
    assert lines[start + 1 + len(rows)] == f"| 合计 | {total} |  |"


def test_a_schedule_in_english_and_both_renderers_agree() -> None:
    ctx, _ = build_contract_context(SAMPLE, _contract(SAMPLE, "HT-2025-011"), "en")
    assert ctx is not None
    data = CompiledTemplate(TEMPLATES / "contract_en.docx").render(ctx.as_mapping())
    text = document_text(data)
    assert ("3.4 Payment dates: Party A shall pay the service fee in the instalments below, "
            "which add up to RMB 600,000.00 (Renminbi Six Hundred Thousand Yuan Only):") in text
    assert "| 2 | Progress payment | 100,000.00 | on or before 31 March 2026 |" in text
    assert "| 5 | Final payment | 110,000.00 | within 30 days after the term ends |" in text
    assert "| Total | 600,000.00 |  |" in text
    assert "the balance of RMB" not in text
    reference = io.BytesIO()
    render_with_docxtpl(TEMPLATES / "contract_en.docx", ctx.as_mapping(), reference)
    assert document_text(reference.getvalue()) == text


def test_prepayment_and_final_keep_the_seed_wording_with_the_installments_amounts() -> None:
    text = _render(SAMPLE, "HT-2025-001")
    assert ("3.4 付款时间：甲方应于本合同签订后15日内支付人民币79,200.00元"
            "（大写：人民币柒万玖仟贰佰元整）作为预付款，剩余款项人民币184,800.00元"
            "（大写：人民币壹拾捌万肆仟捌佰元整）于服务期满后30日内支付。") in text
    assert "期次" not in text


def _book_with(installments: tuple[Installment, ...], **contract: object) -> Book:
    """The golden book whose HT-2026-001 (total 123,456.78, prepayment 36,000.00) has these
    installments, and cells to point at."""
    book = golden_book()
    src = Source("Contracts", 5, (("total_fee", "F"), ("prepayment", "I"),
                                  ("final_days", "L")))
    first = book.contracts[0]._replace(src=src, **contract)
    return dataclasses.replace(book, contracts=(first, book.contracts[1]),
                               installments=installments)


def _inst(n: int, kind: str, amount: str, due: dt.date | None = None) -> Installment:
    src = Source("Installments", n + 1, (("amount", "D"), ("due_date", "E")))
    return Installment(f"HT-2026-001-{n}", "HT-2026-001", kind, D(amount), due, src=src)


def test_a_schedule_that_does_not_add_up_is_an_error_at_its_cell(tmp_path: Path) -> None:
    book = _book_with((_inst(1, "prepayment", "36000.00"),
                       _inst(2, "progress", "40000.00", dt.date(2026, 9, 30)),
                       _inst(3, "final", "47456.79")))
    ctx, problems = build_contract_context(book, book.contracts[0])
    assert ctx is None
    (problem,) = [p for p in problems if p.severity is Severity.ERROR]
    assert (problem.sheet, problem.cell) == ("Contracts", "F5")
    assert str(problem) == (
        "Contracts!F5: contract HT-2026-001: installments add up to 123,456.79 but total_fee "
        "is 123,456.78: clause 3.4's payment schedule must add up to the total fee of clause "
        "3.1 (Installments!D2, Installments!D3, Installments!D4)")
    results, found = generate_contracts(book, ["HT-2026-001"], tmp_path, progress=False)
    assert results == [] and problem in found
    assert not list(tmp_path.glob("*.docx"))


def test_the_seed_sentence_must_add_up_too() -> None:
    book = _book_with((_inst(1, "prepayment", "36000.00"), _inst(2, "final", "80000.00")))
    ctx, problems = build_contract_context(book, book.contracts[0])
    assert ctx is None
    assert [(p.cell, p.severity) for p in problems] == [("F5", Severity.ERROR)]


def test_a_progress_payment_without_a_due_date_is_an_error_at_its_cell() -> None:
    book = _book_with((_inst(1, "prepayment", "36000.00"), _inst(2, "progress", "40000.00"),
                       _inst(3, "final", "47456.78")))
    ctx, problems = build_contract_context(book, book.contracts[0])
    assert ctx is None
    (problem,) = problems
    assert (problem.sheet, problem.cell) == ("Installments", "E3")
    assert "HT-2026-001-2 (progress) has no due date" in problem.message


def test_fixed_dates_make_a_schedule_and_free_the_rule_periods() -> None:
    """A prepayment and a final payment with their own dates: the engine uses the dates, so
    the contract does too, and needs no final_days."""
    book = _book_with((_inst(1, "prepayment", "36000.00", dt.date(2026, 3, 31)),
                       _inst(2, "final", "87456.78", dt.date(2027, 4, 30))), final_days=None)
    ctx, problems = build_contract_context(book, book.contracts[0])
    assert ctx is not None, problems
    assert ctx.contract.has_schedule
    assert [i.due for i in ctx.installments] == ["不晚于2026年3月31日", "不晚于2027年4月30日"]


def test_a_prepayment_that_differs_from_its_installment_is_a_warning() -> None:
    book = _book_with((_inst(1, "prepayment", "30000.00"), _inst(2, "final", "93456.78")))
    ctx, problems = build_contract_context(book, book.contracts[0])
    assert ctx is not None
    assert [(p.cell, p.severity) for p in problems] == [("I5", Severity.WARNING)]
    assert "differs from the installments' 30,000.00" in problems[0].message
    text = document_text(CompiledTemplate(TEMPLATES / "contract_zh.docx")
                         .render(ctx.as_mapping()))
    assert "支付人民币30,000.00元" in text and "剩余款项人民币93,456.78元" in text


def test_without_installments_the_contract_columns_decide() -> None:
    text = _render(golden_book(), "HT-2026-001")
    assert "作为预付款，剩余款项人民币87,456.78元" in text


# --- clause 7.2 -------------------------------------------------------------------------------

HEAD_ZH = ("7.2 甲方未按时支付服务费用的，应向乙方支付滞纳金，滞纳金为每日万分之五，"
           "以逾期未付金额为基数，")
SHIFT_ZH = "应付之日为法定休假日的，以法定休假日结束的次日为应付之日。"
PLAIN_ZH = f"{HEAD_ZH}自应付之日的次日起计算至实际付清之日。{SHIFT_ZH}"
PLAIN_EN = ("7.2 If Party A fails to pay the service fees on time, Party A shall pay Party B a "
            "late fee of 0.05% (万分之五) of the overdue amount per day, from the day after the "
            "due date until the day of payment. A due date that falls on a statutory holiday or "
            "rest day moves to the day after the holiday or rest day ends.")


@pytest.mark.parametrize(("cid", "zh", "en"), [
    ("HT-2025-001", PLAIN_ZH, PLAIN_EN),
    ("HT-2025-006",  # 5 grace days
     f"{HEAD_ZH}自应付之日起给予5日宽限期，宽限期内付清的不计滞纳金，超过宽限期的，"
     f"滞纳金自宽限期届满之日的次日起计算至实际付清之日。{SHIFT_ZH}",
     "7.2 If Party A fails to pay the service fees on time, Party A shall pay Party B a late "
     "fee of 0.05% (万分之五) of the overdue amount per day, with a grace period of 5 days "
     "after the due date: no late fee is due on an amount paid within the grace period, and "
     "otherwise the late fee runs from the day after the grace period ends until the day of "
     "payment. A due date that falls on a statutory holiday or rest day moves to the day after "
     "the holiday or rest day ends."),
    ("HT-2025-007",  # fee capped at 10 % of each installment
     f"{HEAD_ZH}自应付之日的次日起计算至实际付清之日，每期款项的滞纳金累计不超过该期款项金额的10%。"
     f"{SHIFT_ZH}",
     "7.2 If Party A fails to pay the service fees on time, Party A shall pay Party B a late "
     "fee of 0.05% (万分之五) of the overdue amount per day, from the day after the due date "
     "until the day of payment; the late fees on an instalment shall not exceed 10% of its "
     "amount in total. A due date that falls on a statutory holiday or rest day moves to the "
     "day after the holiday or rest day ends."),
    ("HT-2025-004",  # exempt
     "7.2 甲方应按本合同约定按时支付服务费用；双方同意，甲方逾期付款的，乙方不收取滞纳金。",
     "7.2 Party A shall pay the service fees on time; the parties agree that no late fee is "
     "charged on late payments."),
    ("HT-2025-005",  # its own rate
     PLAIN_ZH.replace("万分之五", "万分之三"),
     PLAIN_EN.replace("0.05% (万分之五)", "0.03% (万分之三)")),
])
def test_clause_7_2_states_the_contracts_own_terms(cid: str, zh: str, en: str) -> None:
    assert _clause(_render(SAMPLE, cid, "zh"), "7.2") == zh
    assert _clause(_render(SAMPLE, cid, "en"), "7.2") == en


def test_clause_7_2_follows_the_settings_defaults_and_the_rest_day_switch() -> None:
    """Terms come from effective_terms: Settings defaults apply where the contract is blank,
    the contract's own value wins, and a rest-day switch turned off is stated too."""
    book = golden_book()
    book = dataclasses.replace(book, settings=dataclasses.replace(
        book.settings, grace_days=3, late_fee_cap_pct=D("0.2"), move_due_off_rest_days=False))
    first = book.contracts[0]
    own = first._replace(contract_id="HT-OWN", grace_days=0, late_fee_cap_pct=D("0.15"),
                         move_due_off_rest_days=True)
    book = dataclasses.replace(book, contracts=(*book.contracts, own), fee_items=(
        *book.fee_items, *(f._replace(contract_id="HT-OWN") for f in book.fee_items
                           if f.contract_id == first.contract_id)))
    for contract in book.contracts:
        terms = effective_terms(contract, book.settings)
        ctx, _ = build_contract_context(book, contract)
        assert ctx is not None
        assert ctx.contract.has_grace == (terms.grace_days > 0)
        assert ctx.contract.due_shift == terms.move_due_off_rest_days
    text = _clause(_render(book, "HT-2026-001"), "7.2")
    assert "自应付之日起给予3日宽限期" in text
    assert "不超过该期款项金额的20%" in text
    assert text.endswith("应付之日为法定休假日的，不予顺延。")
    own_text = _clause(_render(book, "HT-OWN"), "7.2")
    assert "宽限期" not in own_text and "自应付之日的次日起" in own_text
    assert "不超过该期款项金额的15%" in own_text
    assert own_text.endswith("以法定休假日结束的次日为应付之日。")
    en = _clause(_render(book, "HT-2026-002"), "7.2")
    assert "with a grace period of 3 days after the due date" in en
    assert "shall not exceed 20% of its amount in total" in en
    assert en.endswith("A due date that falls on a statutory holiday or rest day is not "
                       "postponed.")


@pytest.mark.parametrize("change", [{"late_fee_rate": D("0")}, {"late_fee_cap_pct": D("0")}])
def test_a_zero_rate_or_zero_cap_reads_as_no_late_fee(change: dict[str, D]) -> None:
    book = golden_book()
    book = dataclasses.replace(book, contracts=(book.contracts[0]._replace(**change),
                                                book.contracts[1]))
    assert "不收取滞纳金" in _clause(_render(book, "HT-2026-001"), "7.2")


def test_the_settings_default_rate_reaches_the_contract() -> None:
    book = dataclasses.replace(golden_book(), settings=Settings(
        **{**{f.name: getattr(golden_book().settings, f.name)
              for f in dataclasses.fields(Settings)}, "late_fee_rate": D("0.001")}))
    assert "滞纳金为每日千分之一" in _clause(_render(book, "HT-2026-001"), "7.2")


def test_docx_paragraphs_hold_each_clause_once() -> None:
    """The {%p if %} / {%p else %} variants leave exactly one 3.4 and one 7.2."""
    for cid in ("HT-2025-011", "HT-2025-004", "HT-2025-001"):
        ctx, _ = build_contract_context(SAMPLE, _contract(SAMPLE, cid))
        assert ctx is not None
        doc = docx.Document(io.BytesIO(CompiledTemplate(TEMPLATES / "contract_zh.docx")
                                       .render(ctx.as_mapping())))
        texts = [p.text for p in doc.paragraphs]
        assert sum(t.startswith("3.4 ") for t in texts) == 1
        assert sum(t.startswith("7.2 ") for t in texts) == 1
