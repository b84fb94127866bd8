"""The templates and the documents made from them are valid WordprocessingML where Word is
strict: property elements list their children in the schema's order, each at most once, and
a body ends with a paragraph.

Word refuses ("unreadable content") a file whose ``w:tblPr`` holds ``w:tblLayout`` twice or
``w:tblLook`` before ``w:jc``, or whose ``w:pPr`` has ``w:pBdr`` after ``w:jc``; LibreOffice
and python-docx accept them, so only a check against the schema finds them. The sequences
below are copied from ECMA-376 Part 1 (5th edition, transitional), not from the code that
builds the templates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal as D

import pytest
from lxml import etree

from contract_tracker.docgen.context import DunningLine, build_dunning_context
from contract_tracker.docgen.render import CompiledTemplate, default_templates_dir
from contract_tracker.docgen.templates_build import TEMPLATE_NAMES, build_template
from contract_tracker.records import Book, Installment

from .test_docgen_render import context_of, golden_book

TEMPLATES = default_templates_dir()
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# ECMA-376 Part 1, 17.3.1.26 CT_PPr (CT_PPrBase + rPr, sectPr, pPrChange)
PPR = (
    "pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl", "numPr",
    "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku", "wordWrap",
    "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi", "adjustRightInd",
    "snapToGrid", "spacing", "ind", "contextualSpacing", "mirrorIndents", "suppressOverlap",
    "jc", "textDirection", "textAlignment", "textboxTightWrap", "outlineLvl", "divId",
    "cnfStyle", "rPr", "sectPr", "pPrChange",
)
# 17.3.2.28 CT_RPr (EG_RPrBase + rPrChange); 17.3.1.29 CT_ParaRPr puts ins/del/moveFrom/
# moveTo first
RPR = (
    "ins", "del", "moveFrom", "moveTo",
    "rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike",
    "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid", "vanish", "webHidden",
    "color", "spacing", "w", "kern", "position", "sz", "szCs", "highlight", "u", "effect",
    "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em", "lang", "eastAsianLayout",
    "specVanish", "oMath", "rPrChange",
)
# 17.4.60 CT_TblPr (CT_TblPrBase + tblPrChange)
TBLPR = (
    "tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize",
    "tblStyleColBandSize", "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders", "shd",
    "tblLayout", "tblCellMar", "tblLook", "tblCaption", "tblDescription", "tblPrChange",
)
# 17.4.70 CT_TcPr
TCPR = (
    "cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar",
    "textDirection", "tcFitText", "vAlign", "hideMark", "headers", "cellIns", "cellDel",
    "cellMerge", "tcPrChange",
)
# 17.6.17 CT_SectPr: up to six header/footer references (a choice, any order), then the rest
SECTPR = (
    "headerReference|footerReference", "footnotePr", "endnotePr", "type", "pgSz", "pgMar",
    "paperSrc", "pgBorders", "lnNumType", "pgNumType", "cols", "formProt", "vAlign",
    "noEndnote", "titlePg", "textDirection", "bidi", "rtlGutter", "docGrid", "printerSettings",
    "sectPrChange",
)
SEQUENCES = {"pPr": PPR, "rPr": RPR, "tblPr": TBLPR, "tcPr": TCPR, "sectPr": SECTPR}
REPEATABLE = {"headerReference|footerReference"}


def _rank(sequence: tuple[str, ...], name: str) -> int:
    for i, entry in enumerate(sequence):
        if name in entry.split("|"):
            return i
    raise AssertionError(f"<w:{name}> is not allowed here by the schema")


def order_errors(xml: bytes, part: str) -> list[str]:
    """Every pPr/rPr/tblPr/tcPr/sectPr of ``xml`` whose children are out of schema order,
    repeated, or unknown to the schema."""
    errors: list[str] = []
    root = etree.fromstring(xml)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        qname = etree.QName(el)
        if qname.namespace != W or qname.localname not in SEQUENCES:
            continue
        sequence = SEQUENCES[qname.localname]
        names = [etree.QName(c).localname for c in el
                 if isinstance(c.tag, str) and etree.QName(c).namespace == W]
        try:
            ranks = [_rank(sequence, n) for n in names]
        except AssertionError as exc:
            errors.append(f"{part}: <w:{qname.localname}> {names}: {exc}")
            continue
        where = f"{part}: <w:{qname.localname}> {names}"
        if ranks != sorted(ranks):
            errors.append(f"{where}: out of schema order")
        repeated = [sequence[r] for r in set(ranks) if ranks.count(r) > 1
                    and sequence[r] not in REPEATABLE]
        if repeated:
            errors.append(f"{where}: repeated {repeated}")
    return errors


def _parts(data: bytes) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.startswith("word/") and name.endswith(".xml"):
                yield name, zf.read(name)


def document_errors(data: bytes) -> list[str]:
    errors: list[str] = []
    for name, xml in _parts(data):
        errors += order_errors(xml, name)
    body = etree.fromstring(dict(_parts(data))["word/document.xml"]).find(f"{{{W}}}body")
    assert body is not None
    blocks = [etree.QName(c).localname for c in body if isinstance(c.tag, str)]
    last = blocks[:-1][-1] if blocks[-1] == "sectPr" else blocks[-1]
    if last != "p":
        errors.append(f"word/document.xml: the body ends with <w:{last}>, not a paragraph")
    return errors


def _with_schedule(book: Book) -> Book:
    """The golden book with a progress payment in HT-2026-001 and HT-2026-002's schedule,
    so that clause 3.4 prints its table in both languages."""
    insts = (
        Installment("A1", "HT-2026-001", "prepayment", D("36000.00")),
        Installment("A2", "HT-2026-001", "progress", D("40000.00"), dt.date(2026, 9, 30)),
        Installment("A3", "HT-2026-001", "final", D("47456.78")),
        Installment("B1", "HT-2026-002", "progress", D("50000.00"), dt.date(2026, 8, 31)),
        Installment("B2", "HT-2026-002", "final", D("50000.00")),
    )
    return dataclasses.replace(book, installments=insts)


def _generated() -> Iterator[tuple[str, bytes]]:
    plain, scheduled = golden_book(), _with_schedule(golden_book())
    for label, book in (("plain", plain), ("schedule", scheduled)):
        for cid, name in (("HT-2026-001", "contract_zh.docx"), ("HT-2026-002", "contract_en.docx")):
            yield (f"{name} ({label})",
                   CompiledTemplate(TEMPLATES / name).render(context_of(book, cid)))
    lines = [DunningLine("HT-2026-001", "A1", "prepayment", dt.date(2026, 3, 31),
                         D("36000.00"), D("36000.00"), 20, D("360.00"))]
    ctx = build_dunning_context(plain, "C001", lines, as_of=dt.date(2026, 4, 20),
                                letter_no="CK-1")
    yield ("dunning_zh.docx", CompiledTemplate(TEMPLATES / "dunning_zh.docx", kind="dunning")
           .render(ctx.as_mapping()))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_follow_the_schema_order(name: str) -> None:
    assert document_errors((TEMPLATES / name).read_bytes()) == []
    assert document_errors(build_template(name)) == []


@pytest.mark.parametrize(("label", "data"), list(_generated()), ids=lambda v: str(v)[:30])
def test_generated_documents_follow_the_schema_order(label: str, data: bytes) -> None:
    assert document_errors(data) == [], label


def test_the_check_finds_what_word_refuses() -> None:
    """The checker itself: the faults the reviewer found in the old templates."""
    bad_table = (
        f'<w:tbl xmlns:w="{W}"><w:tblPr><w:tblW w:w="0" w:type="auto"/>'
        '<w:tblLayout w:type="fixed"/><w:tblLook w:val="04A0"/><w:jc w:val="center"/>'
        '<w:tblBorders/><w:tblLayout w:type="fixed"/></w:tblPr></w:tbl>').encode()
    errors = order_errors(bad_table, "t")
    assert any("out of schema order" in e for e in errors)
    assert any("repeated ['tblLayout']" in e for e in errors)
    bad_header = (f'<w:p xmlns:w="{W}"><w:pPr><w:pStyle w:val="Header"/><w:jc w:val="right"/>'
                  '<w:pBdr/></w:pPr></w:p>').encode()
    assert order_errors(bad_header, "h") == [
        "h: <w:pPr> ['pStyle', 'jc', 'pBdr']: out of schema order"]
    two_refs = (f'<w:sectPr xmlns:w="{W}"><w:headerReference/><w:footerReference/>'
                '<w:pgSz/><w:pgMar/></w:sectPr>').encode()
    assert order_errors(two_refs, "s") == []
