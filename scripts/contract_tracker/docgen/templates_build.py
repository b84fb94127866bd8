"""Build the Word templates in ``templates/`` from code, deterministically.

``python -m contract_tracker.docgen.templates_build [--out DIR]`` writes
``contract_zh.docx``, ``contract_en.docx`` and ``dunning_zh.docx``. The files are ordinary
Word documents (A4, Normal/Title/Heading 1 styles, 宋体 body and 黑体 headings with the
East Asian font set explicitly, a fee table in the Table Grid style, the contract number
in the header, "第 X 页 共 Y 页" in the footer). Every jinja tag sits whole in one plain run,
so a user can open a template in Word, reword a clause or restyle it and save it: docxtpl
re-joins tags that Word later splits across runs. Paragraph-level tags (``{%p if … %}``)
and row-level tags (``{%tr for … %}``) stand in their own paragraph or table row.

The build is deterministic: fixed core properties, fixed zip timestamps, parts in a fixed
order; building twice gives byte-identical files, so the template hash in the Log sheet
only changes when the template does.

The contract follows the seed contract clause by clause with every bracketed blank made a
placeholder, replaces the repealed 《合同法》 by 《民法典》 in the preamble, adds the SLA
clock rule as 1.2(4), and completes the text after clause 7.4 (rest of liability, force
majeure, dispute resolution, notices, effectiveness and copies, signature blocks). Clause
3.4 is the seed's prepayment/final sentence, or a table of the installments when the
schedule has more; clause 7.2 states the grace period, cap, exemption and rest-day rule the
late-fee engine applies. The last clauses, the end marker and the signature table are kept
on one page, and an end paragraph follows the table.

Word is stricter than LibreOffice about WordprocessingML: property elements added here are
inserted in the schema's child order (:func:`_put`), each once. The Latin-text language of
the document defaults is English in both templates (see :func:`_setup_styles`): tagged
zh-CN, LibreOffice breaks lines inside numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from lxml import etree

from .render import default_templates_dir

__all__ = ["TEMPLATE_NAMES", "build_template", "build_templates", "default_templates_dir", "main"]

TEMPLATE_NAMES = ("contract_zh.docx", "contract_en.docx", "dunning_zh.docx")
FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)
ZIP_TIME = (2026, 1, 1, 0, 0, 0)

SONG = "宋体"  # SimSun; LibreOffice on Linux falls back to Noto Serif/Sans CJK or WenQuanYi
HEI = "黑体"  # SimHei
LATIN = "Times New Roman"
LATIN_HEAD = "Arial"

_KEEP_STYLES = frozenset({
    "Normal", "Title", "TitleChar", "Heading1", "Heading1Char", "Heading2", "Heading2Char",
    "Header", "HeaderChar", "Footer", "FooterChar", "DefaultParagraphFont", "TableNormal",
    "NoList", "TableGrid",
})


# --- low-level helpers --------------------------------------------------------------------

# The order WordprocessingML requires of the children of the property elements this module
# adds to (ECMA-376 Part 1, 17.3.1.26 CT_PPr, 17.3.2.28 CT_RPr, 17.4.60 CT_TblPr). Word
# reports a file whose children are out of this order as "unreadable content".
_CHILD_ORDER: dict[str, tuple[str, ...]] = {
    "pPr": (
        "pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl",
        "numPr", "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens",
        "kinsoku", "wordWrap", "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN",
        "bidi", "adjustRightInd", "snapToGrid", "spacing", "ind", "contextualSpacing",
        "mirrorIndents", "suppressOverlap", "jc", "textDirection", "textAlignment",
        "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange"),
    "rPr": (
        "ins", "del", "moveFrom", "moveTo", "rStyle", "rFonts", "b", "bCs", "i", "iCs",
        "caps", "smallCaps", "strike", "dstrike", "outline", "shadow", "emboss", "imprint",
        "noProof", "snapToGrid", "vanish", "webHidden", "color", "spacing", "w", "kern",
        "position", "sz", "szCs", "highlight", "u", "effect", "bdr", "shd", "fitText",
        "vertAlign", "rtl", "cs", "em", "lang", "eastAsianLayout", "specVanish", "oMath",
        "rPrChange"),
    "tblPr": (
        "tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize",
        "tblStyleColBandSize", "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders", "shd",
        "tblLayout", "tblCellMar", "tblLook", "tblCaption", "tblDescription", "tblPrChange"),
}


def _local(el: etree._Element) -> str:
    return str(etree.QName(el).localname)


def _put(parent: etree._Element, child: etree._Element) -> etree._Element:
    """Insert ``child`` into a ``w:pPr``, ``w:rPr`` or ``w:tblPr`` where the schema wants it:
    before the first existing child that must follow it (after any it must follow)."""
    order = _CHILD_ORDER[_local(parent)]
    rank = order.index(_local(child))
    for existing in parent:
        name = _local(existing)
        if name in order and order.index(name) > rank:
            existing.addprevious(child)
            return child
    parent.append(child)
    return child


def _set_fonts(rpr: etree._Element, latin: str, east_asia: str) -> None:
    """Explicit fonts for every script (theme fonts removed: they would win)."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = _put(rpr, OxmlElement("w:rFonts"))
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)


def _clear(rpr: etree._Element, *tags: str) -> None:
    for tag in tags:
        for el in rpr.findall(qn(tag)):
            rpr.remove(el)


def _style(doc: DocxDocument, style_id: str, *, latin: str, east_asia: str, size: float,
           bold: bool = False, align: int | None = None, before: float = 0,
           after: float = 0, line: float | None = None, keep_next: bool = False) -> None:
    style = next(s for s in doc.styles if s.style_id == style_id)
    el = style.element
    rpr = el.get_or_add_rPr()
    _set_fonts(rpr, latin, east_asia)
    _clear(rpr, "w:color", "w:b", "w:bCs", "w:i", "w:iCs", "w:spacing", "w:kern")
    style.font.size = Pt(size)
    style.font.bold = bold
    pf = style.paragraph_format
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    if line is not None:
        pf.line_spacing = line
    if align is not None:
        pf.alignment = align
    pf.keep_with_next = keep_next
    ppr = el.find(qn("w:pPr"))
    if ppr is not None:
        _clear(ppr, "w:pBdr")
        if not keep_next:
            _clear(ppr, "w:keepLines")


def _setup_styles(doc: DocxDocument, lang: str) -> None:
    styles_el = doc.styles.element
    for style in list(doc.styles):
        if style.style_id not in _KEEP_STYLES:
            styles_el.remove(style.element)
    # Document defaults: explicit fonts; Chinese as the East Asian language. ``w:val`` is the
    # language of Latin-script text (digits, amounts, times): tagged zh-CN, LibreOffice
    # breaks lines inside numbers ("88,550.3" / "5 元", "9:0" / "0"), so it is English in
    # both templates while ``w:eastAsia`` stays zh-CN for the Chinese text.
    rpr_default = styles_el.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr_default, LATIN, SONG)
    lang_el = rpr_default.find(qn("w:lang"))
    lang_el.set(qn("w:val"), "en-US" if lang == "zh" else "en-GB")
    lang_el.set(qn("w:eastAsia"), "zh-CN")
    body = 12 if lang == "zh" else 11
    _style(doc, "Normal", latin=LATIN, east_asia=SONG, size=body, after=3, line=1.3,
           align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _style(doc, "Title", latin=LATIN_HEAD, east_asia=HEI, size=18, align=WD_ALIGN_PARAGRAPH.CENTER,
           before=6, after=12, line=1.2)
    _style(doc, "Heading1", latin=LATIN_HEAD, east_asia=HEI, size=14 if lang == "zh" else 13,
           before=12, after=6, line=1.2, keep_next=True, bold=lang == "en")
    _style(doc, "Heading2", latin=LATIN_HEAD, east_asia=HEI, size=12, before=6, after=3,
           keep_next=True)
    _style(doc, "Header", latin=LATIN, east_asia=SONG, size=9, line=1.0)
    _style(doc, "Footer", latin=LATIN, east_asia=SONG, size=9, line=1.0,
           align=WD_ALIGN_PARAGRAPH.CENTER)
    title = next(s for s in doc.styles if s.style_id == "Title")
    title.font.bold = False
    # the Title style of the default template draws a blue rule under the text: removed above


def _page_setup(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Mm(210)
    section.page_height = Mm(297)
    section.top_margin = Mm(25.4)
    section.bottom_margin = Mm(25.4)
    section.left_margin = Mm(28)
    section.right_margin = Mm(28)
    section.header_distance = Mm(12)
    section.footer_distance = Mm(12)


def _field(paragraph: Paragraph, instr: str, shown: str) -> None:
    """A complex field (PAGE, NUMPAGES) with a cached result Word and LibreOffice update."""
    def fld(kind: str) -> None:
        run = paragraph.add_run()
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._r.append(el)

    fld("begin")
    run = paragraph.add_run()
    instr_el = OxmlElement("w:instrText")
    instr_el.set(qn("xml:space"), "preserve")
    instr_el.text = f" {instr} "
    run._r.append(instr_el)
    fld("separate")
    paragraph.add_run(shown)
    fld("end")


def _bottom_border(paragraph: Paragraph) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "1"), ("w:color", "auto")):
        bottom.set(qn(key), value)
    bdr.append(bottom)
    _put(ppr, bdr)


def _header_footer(doc: DocxDocument, header_text: str, footer: Sequence[str]) -> None:
    section = doc.sections[0]
    hp = section.header.paragraphs[0]
    hp.style = doc.styles["Header"]
    hp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    hp.add_run(header_text)
    _bottom_border(hp)
    fp = section.footer.paragraphs[0]
    fp.style = doc.styles["Footer"]
    fp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    before, middle, after = footer
    fp.add_run(before)
    _field(fp, "PAGE", "1")
    fp.add_run(middle)
    _field(fp, "NUMPAGES", "1")
    fp.add_run(after)


def _cell_width(cell: _Cell, mm: float) -> None:
    cell.width = Mm(mm)


def _no_borders(table: Table) -> None:
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    _put(tblpr, borders)


def _fixed_layout(table: Table, widths: Sequence[float]) -> None:
    table.autofit = False  # python-docx writes <w:tblLayout w:type="fixed"/> in its place
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for col, width in zip(table.columns, widths, strict=True):
        col.width = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            _cell_width(cell, width)


def _keep_together(table: Table, *, header: bool = True) -> None:
    """Rows never split across pages, the header row repeats, and the table stays on one page
    with the paragraph before it (keep-with-next on every row but the last)."""
    rows = table.rows
    for index, row in enumerate(rows):
        trpr = row._tr.get_or_add_trPr()
        trpr.append(OxmlElement("w:cantSplit"))
        if index == 0 and header:
            trpr.append(OxmlElement("w:tblHeader"))
        if index < len(rows) - 1:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    paragraph.paragraph_format.keep_with_next = True


_FULLWIDTH = str.maketrans({",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "?": "？",
                            "!": "！"})
_JINJA = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})")


def _fullwidth(doc: DocxDocument) -> None:
    """Chinese punctuation in a Chinese document: ASCII , : ; ( ) ? ! become full-width
    outside jinja tags (the seed text was extracted with half-width punctuation)."""
    parts = [doc.element.body, doc.sections[0].header._element, doc.sections[0].footer._element]
    for part in parts:
        for t in part.iter(qn("w:t")):
            if t.text:
                pieces = _JINJA.split(t.text)
                t.text = "".join(p if i % 2 else p.translate(_FULLWIDTH)
                                 for i, p in enumerate(pieces))


def _cell_text(cell: _Cell, text: str, *, align: int | None = None, bold: bool = False,
               size: float | None = None) -> None:
    paragraph = cell.paragraphs[0]
    run = paragraph.add_run(text)
    run.bold = bold or None
    if size is not None:
        run.font.size = Pt(size)
    paragraph.paragraph_format.space_after = Pt(0)
    paragraph.paragraph_format.line_spacing = 1.15
    paragraph.alignment = align if align is not None else WD_ALIGN_PARAGRAPH.LEFT


# --- a small writer for clauses -----------------------------------------------------------


class _Writer:
    def __init__(self, doc: DocxDocument) -> None:
        self.doc = doc

    def title(self, text: str) -> None:
        self.doc.add_paragraph(text, style="Title")

    def heading(self, text: str) -> None:
        self.doc.add_paragraph(text, style="Heading 1")

    def p(self, text: str = "", *, indent: float = 0, align: int | None = None,
          keep_next: bool = False, first_line: float = 0, before: float = 0) -> Paragraph:
        paragraph = self.doc.add_paragraph()
        if text:
            paragraph.add_run(text)
        pf = paragraph.paragraph_format
        if indent:
            pf.left_indent = Pt(indent)
        if first_line:
            pf.first_line_indent = Pt(first_line)
        if align is not None:
            pf.alignment = align
        if keep_next:
            pf.keep_with_next = True
        if before:
            pf.space_before = Pt(before)
        return paragraph

    def tag(self, text: str) -> None:
        """A paragraph holding only a paragraph-level jinja tag (removed when rendered)."""
        self.doc.add_paragraph().add_run(text)

    def lines(self, texts: Sequence[str], *, indent: float = 0) -> None:
        for text in texts:
            self.p(text, indent=indent)


_TABLE_SIZE = 10.5  # 五号, the usual size for tables
_CENTRE, _RIGHT = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT


def _loop_table(doc: DocxDocument, lang: str, heads: Sequence[str], loop: str,
                fields: Sequence[tuple[str, int | None]],
                extra_rows: int = 0) -> Table:
    """A four-column table: the heads, one docxtpl row per ``loop`` item (``{%tr for
    loop %}``) with ``fields``, and a total row with the contract's total fee; then
    ``extra_rows`` empty rows for the caller."""
    size = _TABLE_SIZE
    table: Table = doc.add_table(rows=5 + extra_rows, cols=4)
    table.style = doc.styles["Table Grid"]
    for cell, text in zip(table.rows[0].cells, heads, strict=True):
        _cell_text(cell, text, align=_CENTRE, bold=True, size=size)
    loop_row = table.rows[1].cells[0].merge(table.rows[1].cells[3])
    _cell_text(loop_row, f"{{%tr for {loop} %}}", size=size)
    for cell, (text, align) in zip(table.rows[2].cells, fields, strict=True):
        _cell_text(cell, text, align=align, size=size)
    end_row = table.rows[3].cells[0].merge(table.rows[3].cells[3])
    _cell_text(end_row, "{%tr endfor %}", size=size)
    total = table.rows[4].cells
    _cell_text(total[0].merge(total[1]), "合计" if lang == "zh" else "Total",
               align=_CENTRE, bold=True, size=size)
    _cell_text(total[2], "{{ contract.total_fee }}", align=_RIGHT, bold=True, size=size)
    return table


def _fee_table(doc: DocxDocument, lang: str) -> None:
    """Clause 3.2's table: a row per fee item, the total, and the total in capitals (and, in
    English, in words) on full-width rows so that a long amount never wraps in a narrow cell."""
    zh = lang == "zh"
    heads = ("序号", "费用项目", "金额(元)", "说明") if zh else (
        "No.", "Item", "Amount (RMB)", "Note")
    fields = (("{{ item.no }}", _CENTRE), ("{{ item.name }}", None),
              ("{{ item.amount }}", _RIGHT), ("{{ item.note }}", None))
    table = _loop_table(doc, lang, heads, "item in fee_items", fields, 1 if zh else 2)
    rows = [("合计(大写):", "{{ contract.total_fee_capitals }}")] if zh else [
        ("In words: ", "{{ contract.total_fee_words }}"),
        ("大写：", "{{ contract.total_fee_capitals }}"),
    ]
    for row, (label, value) in zip(table.rows[5:], rows, strict=True):
        cell = row.cells[0].merge(row.cells[3])
        _cell_text(cell, label, bold=True, size=_TABLE_SIZE)
        cell.paragraphs[0].add_run(value).font.size = Pt(_TABLE_SIZE)
    _fixed_layout(table, (14.0, 58.0, 36.0, 46.0))
    _keep_together(table)


def _schedule_table(doc: DocxDocument, lang: str) -> None:
    """Clause 3.4's payment schedule: a row per installment (amount, and its due date or
    the contract's rule for it) and the total."""
    zh = lang == "zh"
    heads = ("期次", "款项", "金额(元)", "付款期限") if zh else (
        "No.", "Instalment", "Amount (RMB)", "Due")
    fields = (("{{ inst.no }}", _CENTRE), ("{{ inst.kind }}", None),
              ("{{ inst.amount }}", _RIGHT), ("{{ inst.due }}", None))
    table = _loop_table(doc, lang, heads, "inst in installments", fields)
    _cell_text(table.rows[4].cells[3], "", size=_TABLE_SIZE)
    _fixed_layout(table, (14.0, 30.0, 36.0, 74.0) if zh else (12.0, 38.0, 34.0, 70.0))
    _keep_together(table)


def _signature_table(doc: DocxDocument, rows: Sequence[tuple[str, str]]) -> None:
    table = doc.add_table(rows=len(rows), cols=2)
    _no_borders(table)
    for row, (left, right) in zip(table.rows, rows, strict=True):
        _cell_text(row.cells[0], left)
        _cell_text(row.cells[1], right)
        for cell in row.cells:
            cell.paragraphs[0].paragraph_format.space_before = Pt(6)
    _fixed_layout(table, (77.0, 77.0))
    _keep_together(table, header=False)


def _end_paragraph(doc: DocxDocument) -> None:
    """The paragraph a body needs after a final table (Word adds one otherwise), 1 pt high so
    that it never pushes a blank page after a table that fills its page."""
    paragraph = doc.add_paragraph()
    pf = paragraph.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing = Pt(1)  # exact
    mark = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "2")
    mark.append(size)
    _put(paragraph._p.get_or_add_pPr(), mark)


def _closing(w: _Writer, clauses: Sequence[str], place: str, marker: str,
             signatures: Sequence[tuple[str, str]]) -> None:
    """The last article's clauses, the optional signing place, the end-of-text marker and the
    signature table, kept together: the last clause, the place, the marker and a spacer keep
    with the next paragraph and the table's rows with each other, so a page break moves text
    along with the signatures and the table never stands alone on the last page. An end
    paragraph follows the table."""
    w.lines(clauses[:-1])
    w.p(clauses[-1], keep_next=True)
    w.tag("{%p if contract.signing_place %}")
    w.p(place, keep_next=True)
    w.tag("{%p endif %}")
    w.p(marker, align=WD_ALIGN_PARAGRAPH.CENTER, keep_next=True)
    w.p(keep_next=True)
    _signature_table(w.doc, signatures)
    _end_paragraph(w.doc)


# --- the contract, Chinese ----------------------------------------------------------------

SERVICES_ZH: tuple[str, ...] = (
    "平台技术维护:包括但不限于服务器维护、数据库管理、网络安全防护、系统升级、补丁安装、故障排查及修复,"
    "确保平台正常运行,系统可用性达到{{ sla.availability }}。",
    "平台功能开发:根据甲方需求,进行平台新功能的设计、开发、测试、部署及上线,包括但不限于用户界面优化、"
    "购物流程改进、支付系统对接、物流系统对接等。",
    "平台内容管理:协助甲方进行商品信息管理、分类管理、促销活动管理、用户评论管理等,确保平台内容准确、"
    "完整、及时更新。",
    "平台数据分析:对平台运营数据进行分析,包括但不限于用户行为分析、销售数据分析、市场趋势分析,"
    "并向甲方提供数据分析报告,为甲方运营决策提供支持。",
    "平台推广支持:为甲方提供平台推广建议,包括但不限于搜索引擎优化(SEO)策略、社交媒体推广方案、"
    "广告投放建议等。",
    "客户服务支持:为平台用户提供咨询解答、投诉处理、售后服务等支持,提升用户满意度。",
    "数据备份与恢复:制定并执行平台数据备份方案,定期对平台数据进行备份,并确保在发生数据丢失时能够及时恢复。",
    "安全防护:采取必要的安全措施,防范黑客攻击、病毒入侵、数据泄露等安全风险,保障平台安全稳定运行。",
)

SERVICES_EN: tuple[str, ...] = (
    "Platform technical maintenance: including but not limited to server maintenance, database "
    "administration, network security protection, system upgrades, patch installation, fault "
    "diagnosis and repair, keeping the Platform in normal operation with system availability "
    "of {{ sla.availability }}.",
    "Platform feature development: at Party A's request, design, development, testing, "
    "deployment and launch of new Platform features, including but not limited to user "
    "interface improvements, shopping-process improvements and integration of payment and "
    "logistics systems.",
    "Platform content management: assisting Party A with product information, categories, "
    "promotions and user reviews, keeping the Platform's content accurate, complete and up to "
    "date.",
    "Platform data analysis: analysing the Platform's operating data, including but not "
    "limited to user behaviour, sales and market trends, and providing Party A with data "
    "analysis reports to support its operating decisions.",
    "Platform promotion support: providing Party A with promotion advice, including but not "
    "limited to search engine optimisation (SEO) strategy, social media promotion plans and "
    "advertising recommendations.",
    "Customer service support: answering enquiries, handling complaints and providing "
    "after-sales support to Platform users, improving user satisfaction.",
    "Data backup and recovery: establishing and carrying out a data backup plan, backing up "
    "the Platform's data regularly and ensuring timely recovery in case of data loss.",
    "Security protection: taking the necessary security measures against hacking, viruses, "
    "data leaks and other security risks, keeping the Platform secure and stable.",
)


def _services(w: _Writer, texts: Sequence[str], indent: float, sep: str = "") -> None:
    for i, text in enumerate(texts, 1):
        w.tag(f"{{%p if services.item{i} %}}")
        w.p(f"{{{{ services.no{i} }}}}{sep}{text}", indent=indent)
        w.tag("{%p endif %}")


def _contract_zh(doc: DocxDocument) -> None:
    w = _Writer(doc)
    ind = 24.0
    w.title("{{ contract.title }}")
    w.p("合同编号:{{ contract.number }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    w.lines([
        "甲方(委托方):{{ client.name }}",
        "法定代表人:{{ client.legal_rep }}",
        "注册地址:{{ client.address }}",
        "联系电话:{{ client.phone }}",
        "统一社会信用代码:{{ client.credit_code }}",
    ])
    w.p()
    w.lines([
        "乙方(服务方):{{ company.name }}",
        "法定代表人:{{ company.legal_rep }}",
        "注册地址:{{ company.address }}",
        "联系电话:{{ company.phone }}",
        "统一社会信用代码:{{ company.credit_code }}",
    ])
    w.p()
    w.p("鉴于甲方拥有并运营电子商务平台(以下简称“平台”),为保障平台的稳定运行和持续优化,甲方委托乙方提供"
        "电子商务平台运营维护服务,双方根据《中华人民共和国民法典》及相关法律法规的规定,经友好协商,"
        "达成如下协议:", first_line=ind)

    w.heading("第一条 服务内容")
    # A contract limited to some items lists them exhaustively: "包括但不限于" would leave
    # the scope we owe open-ended.
    w.p("1.1 乙方提供的服务内容{% if services.limited %}为{% else %}包括但不限于{% endif %}:")
    _services(w, SERVICES_ZH, ind)
    w.p("1.2 服务标准:")
    w.lines([
        "(1)乙方应在收到甲方问题报告后{{ sla.response_hours }}小时内响应,并在"
        "{{ sla.solution_hours }}小时内提供解决方案。",
        "(2)对于重大故障,乙方应在{{ sla.major_hours }}小时内解决。",
        "(3)平台应保证全年7x24小时稳定运行,系统可用性达到{{ sla.availability }}。",
        "(4)上述响应、提供解决方案及解决重大故障的时限{{ sla.clock }}。",
    ], indent=ind)

    w.heading("第二条 服务期限")
    w.p("2.1 本合同服务期限为自{{ contract.start_date }}起至{{ contract.end_date }}止,"
        "共计{{ contract.term_length }}。")
    w.p("2.2 合同期满后,如甲方需要继续使用乙方提供的服务,双方应提前{{ contract.renewal_notice }}"
        "进行协商,并签订续约协议。")

    w.heading("第三条 服务费用及支付方式")
    w.p("3.1 本合同服务费用共计人民币{{ contract.total_fee }}元(大写:"
        "{{ contract.total_fee_capitals }})。")
    w.p("3.2 费用组成如下表:", keep_next=True)
    _fee_table(doc, "zh")
    w.p("3.3 支付方式:甲方应通过银行转账方式将服务费用支付至乙方以下账户:", before=6)
    w.lines([
        "账户名称:{{ company.bank_account_name }}",
        "开户银行:{{ company.bank_name }}",
        "银行账号:{{ company.bank_account_no }}",
    ], indent=ind)
    w.tag("{%p if contract.has_schedule %}")
    w.p("3.4 付款时间:甲方应按下表分期支付服务费用,各期合计人民币{{ contract.total_fee }}元"
        "(大写:{{ contract.total_fee_capitals }}):", keep_next=True)
    _schedule_table(doc, "zh")
    w.tag("{%p elif contract.has_prepayment %}")
    w.p("3.4 付款时间:甲方应于本合同签订后{{ contract.prepay_period }}内支付人民币"
        "{{ contract.prepayment }}元(大写:{{ contract.prepayment_capitals }})作为预付款,"
        "剩余款项人民币{{ contract.final_payment }}元(大写:{{ contract.final_payment_capitals }})"
        "于服务期满后{{ contract.final_period }}内支付。")
    w.tag("{%p else %}")
    w.p("3.4 付款时间:甲方应于服务期满后{{ contract.final_period }}内一次性支付全部服务费用人民币"
        "{{ contract.total_fee }}元(大写:{{ contract.total_fee_capitals }})。")
    w.tag("{%p endif %}")

    w.heading("第四条 双方权利义务")
    w.p("4.1 甲方的权利义务:")
    w.lines([
        "(1)有权要求乙方按照本合同约定提供服务,并监督服务质量。",
        "(2)有权对乙方提供的服务进行验收,并提出合理建议。",
        "(3)应向乙方提供平台运营所需的相关资料和信息,并保证资料的准确性和完整性。",
        "(4)应按照本合同约定按时支付服务费用。",
        "(5)应配合乙方进行平台维护、升级和优化工作。",
    ], indent=ind)
    w.p("4.2 乙方的权利义务:")
    w.lines([
        "(1)有权按照本合同约定收取服务费用。",
        "(2)应按照本合同约定提供服务,并确保服务质量达到约定标准。",
        "(3)应建立完善的服务体系,及时响应甲方需求,并提供专业的技术支持和服务。",
        "(4)应妥善保管甲方提供的资料和信息,并对保密信息进行保密。",
        "(5)应定期向甲方汇报平台运营状况和服务情况。",
    ], indent=ind)

    w.heading("第五条 保密条款")
    w.lines([
        "5.1 甲乙双方应对在本合同履行过程中知悉的对方商业秘密进行保密,"
        "包括但不限于技术信息、经营信息、客户信息等。",
        "5.2 保密期限为本合同履行期间及合同终止后{{ contract.confidentiality_years }}年内。",
        "5.3 任何一方违反本条约定,应承担相应的法律责任。",
    ])

    w.heading("第六条 知识产权")
    w.lines([
        "6.1 平台及与本合同相关的所有技术成果的知识产权归甲方所有。",
        "6.2 乙方在履行本合同过程中产生的所有技术文档和代码归甲方所有。",
        "6.3 乙方不得将为本合同开发的技术成果用于其他客户,除非获得甲方书面许可。",
    ])

    w.heading("第七条 违约责任")
    w.lines([
        "7.1 乙方未按时提供服务或服务质量不符合约定的,应承担相应的违约责任,"
        "并赔偿甲方因此遭受的损失。",
    ])
    # 7.2 states the late-fee terms the engine applies: rate, grace days, cap, exemption and
    # the rest-day rule (Civil Code art. 203), each from the contract's effective terms.
    w.tag("{%p if contract.late_fee_exempt %}")
    w.p("7.2 甲方应按本合同约定按时支付服务费用;双方同意,甲方逾期付款的,乙方不收取滞纳金。")
    w.tag("{%p else %}")
    w.p("7.2 甲方未按时支付服务费用的,应向乙方支付滞纳金,滞纳金为每日"
        "{{ contract.late_fee_rate_words }},以逾期未付金额为基数,"
        "{% if contract.has_grace %}自应付之日起给予{{ contract.grace_period }}宽限期,"
        "宽限期内付清的不计滞纳金,超过宽限期的,滞纳金自宽限期届满之日的次日起"
        "{% else %}自应付之日的次日起{% endif %}计算至实际付清之日"
        "{% if contract.has_cap %},每期款项的滞纳金累计不超过该期款项金额的"
        "{{ contract.late_fee_cap }}{% endif %}。"
        "{% if contract.due_shift %}应付之日为法定休假日的,以法定休假日结束的次日为应付之日。"
        "{% else %}应付之日为法定休假日的,不予顺延。{% endif %}")
    w.tag("{%p endif %}")
    w.lines([
        "7.3 任何一方违反保密条款的,应承担相应的违约责任,并赔偿对方因此遭受的损失。",
        "7.4 因一方违约致使本合同目的无法实现的,守约方有权书面通知违约方解除本合同,并要求违约方赔偿"
        "由此给守约方造成的损失。",
        "7.5 违约方还应承担守约方为追究其违约责任而支出的合理费用,包括但不限于诉讼费、保全费、"
        "律师费、公证费及差旅费。",
    ])

    w.heading("第八条 不可抗力")
    w.lines([
        "8.1 不可抗力是指不能预见、不能避免且不能克服的客观情况,"
        "包括但不限于自然灾害、战争、政府行为、重大公共卫生事件以及非因双方原因导致的大范围网络或电力中断。",
        "8.2 因不可抗力不能履行本合同的,根据不可抗力的影响,部分或者全部免除责任,"
        "但法律另有规定的除外。受影响的一方应及时通知对方,"
        "并在不可抗力发生之日起15日内提供相关证明,以减轻可能给对方造成的损失。",
        "8.3 不可抗力持续超过30日致使本合同目的无法实现的,任何一方均有权书面通知对方解除本合同,"
        "服务费用按实际履行情况结算。",
    ])

    w.heading("第九条 争议解决")
    w.lines([
        "9.1 本合同的订立、效力、解释、履行及争议解决均适用中华人民共和国法律。",
        "9.2 因本合同引起的或与本合同有关的任何争议,双方应友好协商解决;协商不成的,任何一方均可向"
        "乙方住所地有管辖权的人民法院提起诉讼。",
        "9.3 争议解决期间,除争议事项外,双方应继续履行本合同其他条款。",
    ])

    w.heading("第十条 通知与送达")
    w.lines([
        "10.1 本合同首部所列双方的注册地址及联系电话为双方的通知送达地址和联系方式。"
        "一方变更的,应于变更后3日内书面通知对方;未通知的,按原地址发送的通知视为已经送达。",
        "10.2 通知以专人递送的,签收之日视为送达;以快递寄送的,寄出后第3日视为送达;以电子邮件发送的,"
        "进入对方系统之日视为送达。",
    ])

    w.heading("第十一条 合同生效及其他")
    _closing(w, [
        "11.1 本合同自双方法定代表人或授权代表签字并加盖公章或合同专用章之日起生效。",
        "11.2 本合同未尽事宜,双方可另行签订补充协议;补充协议与本合同具有同等法律效力。",
        "11.3 本合同一式贰份,甲乙双方各执壹份,具有同等法律效力。",
    ], "11.4 本合同签订地点:{{ contract.signing_place }}。", "(以下无正文)", (
        ("甲方(盖章):", "乙方(盖章):"),
        ("{{ client.name }}", "{{ company.name }}"),
        ("", ""),
        ("法定代表人或授权代表(签字):", "法定代表人或授权代表(签字):"),
        ("", ""),
        ("日期:{{ contract.signing_date }}", "日期:{{ contract.signing_date }}"),
    ))


# --- the contract, English ----------------------------------------------------------------


def _contract_en(doc: DocxDocument) -> None:
    w = _Writer(doc)
    ind = 18.0
    w.title("{{ contract.title }}")
    w.p("Contract No.: {{ contract.number }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    w.lines([
        "Party A (the Client): {{ client.name }}",
        "Legal representative: {{ client.legal_rep }}",
        "Registered address: {{ client.address }}",
        "Telephone: {{ client.phone }}",
        "Unified social credit code: {{ client.credit_code }}",
    ])
    w.p()
    w.lines([
        "Party B (the Service Provider): {{ company.name }}",
        "Legal representative: {{ company.legal_rep }}",
        "Registered address: {{ company.address }}",
        "Telephone: {{ company.phone }}",
        "Unified social credit code: {{ company.credit_code }}",
    ])
    w.p()
    w.p('Whereas Party A owns and operates an e-commerce platform (the "Platform") and, to '
        "keep the Platform stable and continuously improved, engages Party B to provide "
        "operation and maintenance services for it, the parties, in accordance with the Civil "
        "Code of the People's Republic of China and other applicable laws and regulations, have "
        "agreed after friendly negotiation as follows:")

    w.heading("Article 1 Services")
    w.p("1.1 The services Party B provides {% if services.limited %}are{% else %}include but "
        "are not limited to{% endif %}:")
    _services(w, SERVICES_EN, ind, " ")
    w.p("1.2 Service standards:")
    w.lines([
        "(1) Party B shall respond within {{ sla.response_time }} of receiving a problem "
        "report from Party A and provide a solution within {{ sla.solution_time }}.",
        "(2) Party B shall resolve major faults within {{ sla.major_time }}.",
        "(3) The Platform shall operate stably 7x24 throughout the year with system availability "
        "of {{ sla.availability }}.",
        "(4) The time limits for responding, providing a solution and resolving major faults "
        "{{ sla.clock }}.",
    ], indent=ind)

    w.heading("Article 2 Term")
    w.p("2.1 The term of this Contract runs from {{ contract.start_date }} to "
        "{{ contract.end_date }}, {{ contract.term_length }} in total.")
    w.p("2.2 If Party A wishes to continue using Party B's services after the term, the parties "
        "shall negotiate at least {{ contract.renewal_notice }} before the term ends and sign a "
        "renewal agreement.")

    w.heading("Article 3 Fees and Payment")
    w.p("3.1 The total service fee under this Contract is RMB {{ contract.total_fee }} (in words: "
        "{{ contract.total_fee_words }}; 大写：{{ contract.total_fee_capitals }}).")
    w.p("3.2 The fee is made up as follows:", keep_next=True)
    _fee_table(doc, "en")
    w.p("3.3 Payment method: Party A shall pay the fees by bank transfer to the following account "
        "of Party B:", before=6)
    w.lines([
        "Account name: {{ company.bank_account_name }}",
        "Bank: {{ company.bank_name }}",
        "Account number: {{ company.bank_account_no }}",
    ], indent=ind)
    w.tag("{%p if contract.has_schedule %}")
    w.p("3.4 Payment dates: Party A shall pay the service fee in the instalments below, "
        "which add up to RMB {{ contract.total_fee }} ({{ contract.total_fee_words }}):",
        keep_next=True)
    _schedule_table(doc, "en")
    w.tag("{%p elif contract.has_prepayment %}")
    w.p("3.4 Payment dates: Party A shall pay RMB {{ contract.prepayment }} "
        "({{ contract.prepayment_words }}) as a prepayment within {{ contract.prepay_period }} "
        "after this Contract is signed, and the balance of RMB {{ contract.final_payment }} "
        "({{ contract.final_payment_words }}) within {{ contract.final_period }} after the term "
        "ends.")
    w.tag("{%p else %}")
    w.p("3.4 Payment dates: Party A shall pay the full service fee of RMB "
        "{{ contract.total_fee }} ({{ contract.total_fee_words }}) in one sum within "
        "{{ contract.final_period }} after the term ends.")
    w.tag("{%p endif %}")

    w.heading("Article 4 Rights and Obligations")
    w.p("4.1 Party A:")
    w.lines([
        "(1) may require Party B to provide the services as agreed and supervise their quality;",
        "(2) may accept or reject the services provided by Party B and make reasonable "
        "suggestions;",
        "(3) shall provide Party B with the materials and information needed to operate the "
        "Platform and ensure that they are accurate and complete;",
        "(4) shall pay the service fees on time as agreed;",
        "(5) shall cooperate with Party B in the maintenance, upgrading and optimisation of the "
        "Platform.",
    ], indent=ind)
    w.p("4.2 Party B:")
    w.lines([
        "(1) may collect the service fees as agreed;",
        "(2) shall provide the services as agreed and ensure that they meet the agreed standards;",
        "(3) shall maintain a sound service system, respond to Party A's needs promptly and "
        "provide professional technical support and services;",
        "(4) shall keep the materials and information provided by Party A safe and keep "
        "confidential information confidential;",
        "(5) shall report regularly to Party A on the Platform's operation and the services.",
    ], indent=ind)

    w.heading("Article 5 Confidentiality")
    w.lines([
        "5.1 Each party shall keep confidential the other party's trade secrets learned in the "
        "performance of this Contract, including but not limited to technical, business and "
        "customer information.",
        "5.2 The confidentiality obligation lasts for the term of this Contract and "
        "{{ contract.confidentiality_years }} years after it ends.",
        "5.3 A party that breaches this Article shall bear the corresponding legal liability.",
    ])

    w.heading("Article 6 Intellectual Property")
    w.lines([
        "6.1 The intellectual property in the Platform and in all technical results related to "
        "this Contract belongs to Party A.",
        "6.2 All technical documents and code produced by Party B in performing this Contract "
        "belong to Party A.",
        "6.3 Party B shall not use technical results developed for this Contract for other "
        "customers without Party A's written permission.",
    ])

    w.heading("Article 7 Liability for Breach")
    w.lines([
        "7.1 If Party B fails to provide the services on time or the services do not meet the "
        "agreed standards, Party B shall bear the corresponding liability and compensate Party A "
        "for the resulting losses.",
    ])
    w.tag("{%p if contract.late_fee_exempt %}")
    w.p("7.2 Party A shall pay the service fees on time; the parties agree that no late fee is "
        "charged on late payments.")
    w.tag("{%p else %}")
    w.p("7.2 If Party A fails to pay the service fees on time, Party A shall pay Party B a late "
        "fee of {{ contract.late_fee_rate_percent }} ({{ contract.late_fee_rate_words }}) of the "
        "overdue amount per day, {% if contract.has_grace %}with a grace period of "
        "{{ contract.grace_period }} after the due date: no late fee is due on an amount paid "
        "within the grace period, and otherwise the late fee runs from the day after the grace "
        "period ends{% else %}from the day after the due date{% endif %} until the day of "
        "payment{% if contract.has_cap %}; the late fees on an instalment shall not exceed "
        "{{ contract.late_fee_cap }} of its amount in total{% endif %}. "
        "{% if contract.due_shift %}A due date that falls on a statutory holiday or rest day "
        "moves to the day after the holiday or rest day ends.{% else %}A due date that falls on "
        "a statutory holiday or rest day is not postponed.{% endif %}")
    w.tag("{%p endif %}")
    w.lines([
        "7.3 A party that breaches the confidentiality clause shall bear the corresponding "
        "liability and compensate the other party for the resulting losses.",
        "7.4 If a breach by one party makes it impossible to achieve the purpose of this "
        "Contract, the other party may terminate this Contract by written notice and claim "
        "compensation for its losses from the party in breach.",
        "7.5 The party in breach shall also bear the reasonable costs the other party incurs in "
        "pursuing the breach, including but not limited to litigation, preservation, attorney, "
        "notarisation and travel costs.",
    ])

    w.heading("Article 8 Force Majeure")
    w.lines([
        "8.1 Force majeure means objective circumstances that cannot be foreseen, avoided or "
        "overcome, including but not limited to natural disasters, war, government action, major "
        "public health events and wide-area network or power outages not caused by either party.",
        "8.2 A party unable to perform this Contract because of force majeure is exempted from "
        "liability in part or in whole according to the effect of the force majeure, unless the "
        "law provides otherwise. The affected party shall notify the other party promptly and "
        "provide evidence within 15 days of the event, so as to mitigate the other party's losses.",
        "8.3 If force majeure lasts more than 30 days and makes it impossible to achieve the "
        "purpose of this Contract, either party may terminate this Contract by written notice; "
        "the fees are settled according to the services actually performed.",
    ])

    w.heading("Article 9 Dispute Resolution")
    w.lines([
        "9.1 The conclusion, validity, interpretation, performance and dispute resolution of this "
        "Contract are governed by the laws of the People's Republic of China.",
        "9.2 Any dispute arising from or in connection with this Contract shall be settled by "
        "friendly negotiation; failing that, either party may bring a lawsuit before the "
        "competent people's court at Party B's domicile.",
        "9.3 While a dispute is being resolved, the parties shall continue to perform the "
        "provisions of this Contract not in dispute.",
    ])

    w.heading("Article 10 Notices")
    w.lines([
        "10.1 The registered addresses and telephone numbers at the head of this Contract are the "
        "parties' addresses for notices. A party that changes them shall notify the other party "
        "in writing within 3 days; otherwise notices sent to the old address are deemed delivered.",
        "10.2 A notice delivered by hand is deemed delivered when signed for; by courier, on the "
        "third day after dispatch; by e-mail, when it enters the recipient's system.",
    ])

    w.heading("Article 11 Effectiveness and Miscellaneous")
    _closing(w, [
        "11.1 This Contract takes effect on the date it is signed by the legal representatives or "
        "authorised representatives of both parties and sealed with their company or contract "
        "seals.",
        "11.2 Matters not covered by this Contract may be agreed in supplementary agreements, "
        "which have the same legal effect as this Contract.",
        "11.3 This Contract is made in two counterparts, one for each party, with equal legal "
        "effect.",
    ], "11.4 This Contract is signed at {{ contract.signing_place }}.",
       "(No further text below.)", (
        ("Party A (seal):", "Party B (seal):"),
        ("{{ client.name }}", "{{ company.name }}"),
        ("", ""),
        ("Legal/authorised representative:", "Legal/authorised representative:"),
        ("", ""),
        ("Date: {{ contract.signing_date }}", "Date: {{ contract.signing_date }}"),
    ))


# --- the dunning letter ---------------------------------------------------------------------


def _dunning_table(doc: DocxDocument, heads: Sequence[str], widths: Sequence[float],
                   loop: str, values: Sequence[str], totals: dict[int, str],
                   merge_to: int) -> None:
    """A letter's table: a bold header, one row per item (``{%tr for %}``), a total row
    whose cells 0..``merge_to`` say 合计 and whose ``totals`` cells hold the sums."""
    center, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT
    table = doc.add_table(rows=5, cols=len(widths))
    table.style = doc.styles["Table Grid"]
    for cell, text in zip(table.rows[0].cells, heads, strict=True):
        _cell_text(cell, text, align=center, bold=True, size=9)
    start = table.rows[1].cells[0].merge(table.rows[1].cells[-1])
    _cell_text(start, f"{{%tr for item in {loop} %}}", size=9)
    for n, (cell, text) in enumerate(zip(table.rows[2].cells, values, strict=True)):
        align = None if n == 1 else right if "late_fee" in text or "outstanding" in text \
            else center
        _cell_text(cell, text, align=align, size=9)
    end = table.rows[3].cells[0].merge(table.rows[3].cells[-1])
    _cell_text(end, "{%tr endfor %}", size=9)
    total = table.rows[4].cells
    _cell_text(total[0].merge(total[merge_to]), "合计", align=center, bold=True, size=9)
    for n, text in totals.items():
        _cell_text(total[n], text, align=right, bold=True, size=9)
    _fixed_layout(table, widths)
    _keep_together(table)


def _dunning_zh(doc: DocxDocument) -> None:
    w = _Writer(doc)
    w.title("{{ letter.title }}")
    w.p("编号:{{ letter.number }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    w.p("{{ client.name }}:")
    w.tag("{%p if letter.previous_count %}")
    w.p("我司已于{{ letter.chased_since }}起就下列逾期款项{{ letter.previous_count }}次致函贵司"
        "催告,贵司至今未付清。本函为第{{ letter.reminder }}次催告。", first_line=24)
    w.tag("{%p endif %}")
    w.p("贵司与我司签订的电子商务平台运营维护合同项下,截至{{ letter.as_of }},下列款项已逾期未付:",
        first_line=24)
    _dunning_table(
        doc, ("序号", "合同编号", "款项", "到期日", "未付金额(元)", "逾期天数", "滞纳金(元)"),
        (11.0, 27.0, 15.0, 33.0, 27.0, 17.0, 24.0), "items",
        ("{{ item.no }}", "{{ item.contract_no }}", "{{ item.kind }}", "{{ item.due_date }}",
         "{{ item.outstanding }}", "{{ item.days_overdue }}",
         "{{ item.late_fee }}{{ item.cap_mark }}"),
        {4: "{{ totals.outstanding }}", 6: "{{ totals.overdue_fee }}"}, 3)
    # Installments paid in full but late: their fee is still owed (receipts pay installments).
    w.tag("{%p if settled %}")
    w.p("另,下列款项贵司虽已付清,但付款晚于到期日,按合同第{{ late_fee.clause }}条计收的"
        "滞纳金尚未付清:", first_line=24, before=6, keep_next=True)
    _dunning_table(  # no 款项 column: two dates take its room
        doc, ("序号", "合同编号", "到期日", "付款日", "逾期天数", "滞纳金(元)"),
        (11.0, 30.0, 33.0, 33.0, 20.0, 27.0), "settled",
        ("{{ item.no }}", "{{ item.contract_no }}", "{{ item.due_date }}",
         "{{ item.paid_dates }}", "{{ item.days_late }}",
         "{{ item.late_fee }}{{ item.cap_mark }}"),
        {5: "{{ totals.settled_fee }}"}, 4)
    w.tag("{%p endif %}")
    w.tag("{%p if late_fee.cap_note %}")
    w.p("注:{{ late_fee.cap_note }}", first_line=24)
    w.tag("{%p endif %}")
    # Each fee's basis, so the client can recompute it: an overdue item's fee includes its
    # parts paid late before, which the table's outstanding x days alone does not show.
    w.tag("{%p if late_fee.has_basis %}")
    w.p("滞纳金计算(金额×日费率×逾期天数):", first_line=24, before=6, keep_next=True)
    w.tag("{%p for item in items %}")
    w.tag("{%p if item.basis %}")
    w.p("{{ item.no }}. {{ item.contract_no }} {{ item.kind }}:{{ item.basis }}", indent=24,
        align=WD_ALIGN_PARAGRAPH.LEFT)
    w.tag("{%p endif %}")
    w.tag("{%p endfor %}")
    w.tag("{%p for item in settled %}")
    w.p("另{{ item.no }}. {{ item.contract_no }} {{ item.kind }}:{{ item.basis }}", indent=24,
        align=WD_ALIGN_PARAGRAPH.LEFT)
    w.tag("{%p endfor %}")
    w.tag("{%p endif %}")
    w.p()
    w.p("逾期未付金额合计人民币{{ totals.outstanding }}元(大写:{{ totals.outstanding_capitals }})。"
        "根据合同第{{ late_fee.clause }}条“甲方未按时支付服务费用的,应向乙方支付滞纳金,滞纳金为每日"
        "{{ late_fee.rate_words }}”的约定,截至{{ letter.as_of }},贵司应付滞纳金人民币"
        "{{ totals.late_fee }}元(大写:{{ totals.late_fee_capitals }}){% if settled %},"
        "其中逾期未付款项的滞纳金人民币{{ totals.overdue_fee }}元,"
        "已付清款项的滞纳金人民币{{ totals.settled_fee }}元{% endif %}。以上合计人民币"
        "{{ totals.total_due }}元(大写:{{ totals.total_due_capitals }})。", first_line=24)
    # From the payment request to the seal, one block: the seal never stands on a page
    # without the demand it signs.
    w.p("请贵司于收到本函之日起{{ letter.pay_within_days }}日内将上述款项支付至我司以下账户,"
        "逾期未付的,滞纳金将继续按日计算至实际付清之日:", first_line=24, keep_next=True)
    for text in ("账户名称:{{ company.bank_account_name }}", "开户银行:{{ company.bank_name }}",
                 "银行账号:{{ company.bank_account_no }}"):
        w.p(text, indent=24, keep_next=True)
    w.p("{% if letter.final %}如贵司已于本函发出前付款,请{% else %}如贵司已支付上述款项,请忽略"
        "本函,并{% endif %}将付款凭证发送我司客户经理{{ letter.manager }}"
        "{% if letter.manager_email %}(电子邮箱:{{ letter.manager_email }}){% endif %},"
        "以便核对。", first_line=24, keep_next=True)
    w.tag("{%p if letter.final %}")
    w.p("本函为最后催告。如贵司在上述期限内仍未付清,我司将依照合同约定和法律规定,"
        "通过诉讼等途径追究贵司的违约责任。", first_line=24, keep_next=True)
    w.tag("{%p endif %}")
    w.p("特此函告。", first_line=24, keep_next=True)  # never a signature alone on a page
    w.p(keep_next=True)
    w.p("{{ company.name }}(盖章)", align=WD_ALIGN_PARAGRAPH.RIGHT, keep_next=True)
    w.p("{{ letter.date }}", align=WD_ALIGN_PARAGRAPH.RIGHT)


# --- assembling and saving ------------------------------------------------------------------

_FONT_ENTRIES = (
    (SONG, "SimSun", "02010600030101010101", "auto"),
    (HEI, "SimHei", "02010609060101010101", "modern"),
)
_DROP_PARTS = ("word/stylesWithEffects.xml", "docProps/thumbnail.jpeg", "customXml/")
_DROP_KEYS = ("stylesWithEffects.xml", "thumbnail.jpeg", "customXml/")


def _new_document(lang: str, header: str, footer: Sequence[str]) -> DocxDocument:
    doc = Document()
    _setup_styles(doc, lang)
    _page_setup(doc)
    _header_footer(doc, header, footer)
    props = doc.core_properties
    props.author = "Contract Tracker"
    props.last_modified_by = "Contract Tracker"
    props.comments = "Generated by contract_tracker.docgen.templates_build; edit freely in Word."
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.revision = 1
    props.language = "zh-CN" if lang == "zh" else "en-GB"
    return doc


def _fix_part(name: str, data: bytes) -> bytes:
    """Remove the dropped parts' references; Chinese fonts and language in the font table and
    settings."""
    if name.endswith(".rels") or name == "[Content_Types].xml":
        root = etree.fromstring(data)
        for el in list(root):
            ref = el.get("Target") or el.get("PartName") or ""
            if any(key in ref for key in _DROP_KEYS):
                root.remove(el)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                    standalone=True))
    if name == "word/fontTable.xml":
        root = etree.fromstring(data)
        for el in list(root):
            if el.get(qn("w:name"), "").startswith("ＭＳ"):
                root.remove(el)
        for font, alt, panose, family in _FONT_ENTRIES:
            el = etree.SubElement(root, qn("w:font"))
            el.set(qn("w:name"), font)
            for tag, value in (("w:altName", alt), ("w:panose1", panose), ("w:charset", "86"),
                               ("w:family", family), ("w:pitch", "variable")):
                etree.SubElement(el, qn(tag)).set(qn("w:val"), value)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                    standalone=True))
    if name == "word/settings.xml":
        text = data.decode("utf-8")
        text = text.replace('w:eastAsia="ja-JP"', 'w:eastAsia="zh-CN"')
        text = text.replace("<w:savePreviewPicture/>", "")
        return text.encode("utf-8")
    if name == "docProps/app.xml":
        return data.replace(b"Microsoft Macintosh Word", b"Contract Tracker")
    return data


def _deterministic_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if any(info.filename.startswith(d) for d in _DROP_PARTS):
                continue
            part = _fix_part(info.filename, zin.read(info.filename))
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, part)
    return out.getvalue()


def build_template(name: str) -> bytes:
    """The bytes of one template (``contract_zh.docx``, ``contract_en.docx`` or
    ``dunning_zh.docx``); the same bytes every time."""
    if name == "contract_zh.docx":
        doc = _new_document("zh", "合同编号:{{ contract.number }}", ("第 ", " 页 共 ", " 页"))
        doc.core_properties.title = "电子商务平台运营维护合同(模板)"
        _contract_zh(doc)
        _fullwidth(doc)
    elif name == "contract_en.docx":
        doc = _new_document("en", "Contract No.: {{ contract.number }}", ("Page ", " of ", ""))
        doc.core_properties.title = "E-commerce Platform O&M Service Contract (template)"
        _contract_en(doc)
    elif name == "dunning_zh.docx":
        doc = _new_document("zh", "{% if letter.final %}最后催款通知函{% else %}催款函{% endif %} "
                            "{{ letter.number }}", ("第 ", " 页 共 ", " 页"))
        doc.core_properties.title = "催款函(模板)"
        _dunning_zh(doc)
        _fullwidth(doc)
    else:
        raise ValueError(f"unknown template {name!r}; expected one of {TEMPLATE_NAMES}")
    buffer = io.BytesIO()
    doc.save(buffer)
    return _deterministic_zip(buffer.getvalue())


def build_templates(out_dir: Path | None = None,
                    names: Sequence[str] = TEMPLATE_NAMES) -> list[Path]:
    """Write the templates into ``out_dir`` (default ``templates/``); returns their paths."""
    out_dir = out_dir or default_templates_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in names:
        path = out_dir / name
        path.write_bytes(build_template(name))
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Word templates from code.")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: templates/)")
    args = parser.parse_args(argv)
    for path in build_templates(args.out):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
