"""How the documents lay out in LibreOffice: numbers whole on one line, the signature
block on the same page as the end of the text, no blank last page.

Every contract of the small sample (Chinese and English) and a dozen dunning letters with
varied amounts are converted in one ``soffice`` call each and read back with pdftotext.
With the Latin-text language of the templates set to zh-CN, LibreOffice broke lines inside
numbers ("剩余款项人民币 88,550.3" / "5 元", "9:0" / "0 至 18:00", "人民币 11,712." /
"00元"); with the old closing, 26 of the 28 Chinese contracts had the signature table alone
on the last page.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
import subprocess
from decimal import Decimal as D
from pathlib import Path

import pytest

from contract_tracker.docgen import generate as gen
from contract_tracker.docgen.context import DunningLine, build_dunning_context
from contract_tracker.docgen.generate import generate_contracts
from contract_tracker.docgen.render import CompiledTemplate, default_templates_dir
from contract_tracker.records import Severity
from contract_tracker.sample import sample_book

from .lo import require
from .test_docgen_render import document_text, golden_book

pytestmark = pytest.mark.libreoffice

TOKEN = re.compile(r"\d(?:[\d,.:]*\d)?")  # a number as printed: 88,550.35  9:00  2026
LINE_END = re.compile(r"(\d[\d,.:]*)$")
LINE_START = re.compile(r"^(\d[\d,.:]*)")


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext, reading order; pages split at form feeds)."""
    text = subprocess.run([require("pdftotext"), str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def broken_numbers(pdf: Path, docx_text: str) -> list[str]:
    """Lines that end inside a number continued on the next line: the tail of one line and
    the head of the next make a number the document holds (a clause number after an account
    number does not)."""
    numbers = set(TOKEN.findall(docx_text))
    lines = [line.strip() for page in pdf_pages(pdf) for line in page.splitlines()]
    found = []
    for this, following in itertools.pairwise(lines):
        tail, head = LINE_END.search(this), LINE_START.search(following)
        if tail and head and tail.group(1) + head.group(1) in numbers:
            found.append(f"{pdf.name}: “…{this[-20:]}⏎{following[:12]}…”")
    return found


@pytest.fixture(scope="module")
def sample_pdfs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path]]:
    assert gen.find_pdf_converter() is not None, "LibreOffice (soffice) is not installed"
    out = tmp_path_factory.mktemp("sample-pdf")
    results, problems = generate_contracts(sample_book("small"), None, out, pdf=True,
                                           progress=False)
    assert [p for p in problems if p.severity is Severity.ERROR] == []
    assert len(results) == 32 and all(r.pdf for r in results)
    return [(Path(r.output), Path(r.pdf)) for r in results]


def test_no_number_is_broken_across_lines_in_any_contract(
        sample_pdfs: list[tuple[Path, Path]]) -> None:
    languages = set()
    broken: list[str] = []
    for docx_path, pdf in sample_pdfs:
        text = document_text(docx_path.read_bytes())
        languages.add("zh" if "甲方（委托方）" in text else "en")
        broken += broken_numbers(pdf, text)
    assert languages == {"zh", "en"}
    assert broken == []


def test_the_signature_block_stays_with_the_end_of_the_text(
        sample_pdfs: list[tuple[Path, Path]]) -> None:
    """The end marker, both signature blocks and the dates share the last page with at least
    one clause; the last page is never blank."""
    apart = []
    for _, pdf in sample_pdfs:
        pages = pdf_pages(pdf)
        last = pages[-1]
        zh = "甲方（盖章）" in last
        marker, sign, date = (("以下无正文", "甲方（盖章）", "日期：") if zh else
                              ("No further text below", "Party A (seal)", "Date: "))
        holders = [i for i, page in enumerate(pages) if marker in page]
        clause = re.search(r"^11\.\d ", last, re.MULTILINE)
        if not (holders == [len(pages) - 1] and sign in last and date in last and clause):
            apart.append(f"{pdf.name}: {len(pages)} pages, marker on {holders}")
    assert apart == []


def test_dunning_letters_keep_their_amounts_whole(tmp_path: Path) -> None:
    program = gen.find_pdf_converter()
    assert program is not None, "LibreOffice (soffice) is not installed"
    template = CompiledTemplate(default_templates_dir() / "dunning_zh.docx", kind="dunning")
    book = golden_book()
    rng = random.Random(1)  # amounts of every length move the line breaks around
    docs, texts = [], {}
    for k in range(12):
        owed = D(rng.randrange(1_000_000, 99_999_999)) / 100
        fee = D(rng.randrange(10_000, 999_999)) / 100
        lines = [DunningLine("HT-2026-001", "HT-2026-001-1", "prepayment", dt.date(2026, 3, 31),
                             owed, owed, 35, fee)]
        ctx = build_dunning_context(book, "C001", lines, as_of=dt.date(2026, 5, 5),
                                    letter_no=f"CK-2026W19-{k}")
        path = tmp_path / f"letter{k}.docx"
        data = template.render(ctx.as_mapping())
        path.write_bytes(data)
        docs.append(path)
        texts[path.stem] = document_text(data)
    assert gen._soffice_batch(program.program, docs, tmp_path) == ""
    broken: list[str] = []
    for path in docs:
        broken += broken_numbers(path.with_suffix(".pdf"), texts[path.stem])
    assert broken == []
