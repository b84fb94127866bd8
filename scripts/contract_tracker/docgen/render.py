"""Rendering Word templates safely and fast, and checking their placeholders.

Every render uses :func:`make_env`: a jinja2 ``SandboxedEnvironment`` with ``autoescape=True``
and ``StrictUndefined``. Autoescape keeps user text such as ``R&D <Ltd>`` or ``</w:t>``
text (docxtpl does no escaping by default: ``&`` vanishes, ``<`` cuts the document);
the sandbox blocks attribute walks like ``x.__class__.__mro__`` written into an edited
template; StrictUndefined turns a misspelt placeholder into an error instead of a blank.

Two renderers produce the same document text:

* :func:`render_with_docxtpl` calls ``DocxTemplate.render`` (body, headers, footers,
  footnotes, properties) with that environment: the reference.
* :class:`CompiledTemplate` does docxtpl's work once per template instead of once per
  document: it applies docxtpl's own ``patch_xml`` to each part that holds jinja tags and
  compiles it; each document is then one ``template.render`` per part written straight
  into a new zip next to the template's other parts (copied unchanged). Each rendered part
  is parsed strictly with lxml before it is written, so a template edited into invalid XML
  fails loudly instead of producing a file Word refuses. ``generate`` uses this one.

:func:`check_template` lists every placeholder a template uses, nested ones with their
path (``client.address``; loop items as ``fee_items[].amount``), and those the data model
(:mod:`.context`) cannot fill, each with where it is (body, table, header, footer,
footnotes, properties) and the text around it.
"""

from __future__ import annotations

import hashlib
import io
import re
import types
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from .context import ContractContext, DunningContext

__all__ = [
    "MODELS",
    "CompiledTemplate",
    "TemplateError",
    "Unknown",
    "check_template",
    "default_templates_dir",
    "format_check",
    "make_env",
    "render_with_docxtpl",
    "sha256_file",
]

MODELS: dict[str, type] = {"contract": ContractContext, "dunning": DunningContext}
"""The data models a template can be written against."""

_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PATCHER = DocxTemplate(io.BytesIO())  # only its stateless XML helpers are used
_TAG = re.compile(r"<[^>]+>")


class TemplateError(Exception):
    """A template that cannot be used: bad zip, jinja syntax error, invalid rendered XML."""


def make_env() -> SandboxedEnvironment:
    """The one jinja2 environment for every render: sandboxed, autoescaping, strict."""
    return SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def default_templates_dir() -> Path:
    """``templates/`` at the top of the repository (next to ``scripts/``)."""
    return Path(__file__).resolve().parents[3] / "templates"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the parts of a template that hold jinja --------------------------------------------


@dataclass(frozen=True)
class _Part:
    name: str  # zip entry, e.g. word/header1.xml
    where: str  # body | header | footer | footnotes | properties
    source: str  # patched jinja source, one paragraph per line


def _has_tags(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def _patched(xml: bytes) -> str:
    """docxtpl's preparation of one part: lxml re-serialisation, ``patch_xml`` (tags split
    by Word across runs re-joined, ``{%p``/``{%tr`` expanded), one paragraph per line."""
    root = etree.fromstring(xml)
    src = _PATCHER.patch_xml(etree.tostring(root, encoding="unicode"))
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", src)


def _template_parts(entries: Mapping[str, bytes]) -> list[_Part]:
    """The parts docxtpl renders: the main document, its headers and footers, footnotes and
    the core properties (only those holding a tag)."""
    wanted: list[tuple[str, str]] = [("word/document.xml", "body")]
    rels = entries.get("word/_rels/document.xml.rels")
    if rels is not None:
        for rel in etree.fromstring(rels).iter(f"{{{_REL_NS}}}Relationship"):
            kind = rel.get("Type", "").removeprefix(_OFFICE_REL)
            if kind in ("header", "footer", "footnotes") and rel.get("TargetMode") != "External":
                target = rel.get("Target", "")
                name = target.lstrip("/") if target.startswith("/") else f"word/{target}"
                wanted.append((name, kind))
    parts: list[_Part] = []
    for name, where in wanted:
        data = entries.get(name)
        if data is None:
            if where == "body":
                raise TemplateError("not a Word document: word/document.xml is missing")
            continue
        if not _has_tags(data.decode("utf-8", errors="replace")):
            continue
        try:
            parts.append(_Part(name, where, _patched(data)))
        except etree.XMLSyntaxError as exc:
            raise TemplateError(f"{name} is not valid XML: {exc}") from exc
    core = entries.get("docProps/core.xml")
    if core is not None and _has_tags(core.decode("utf-8", errors="replace")):
        text = etree.tostring(etree.fromstring(core), encoding="unicode")
        parts.append(_Part("docProps/core.xml", "properties", text))
    return parts


def _read_zip(data: bytes, label: str) -> tuple[list[zipfile.ZipInfo], dict[str, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            return infos, {i.filename: zf.read(i) for i in infos}
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise TemplateError(f"{label} is not a .docx file (zip): {exc}") from exc


def _line_excerpt(source: str, lineno: int) -> str:
    lines = source.split("\n")
    if not 1 <= lineno <= len(lines):
        return ""
    text = _TAG.sub("", lines[lineno - 1]).strip()
    return text if len(text) <= 80 else text[:77] + "..."


def _in_table(source: str, lineno: int) -> bool:
    before = "\n".join(source.split("\n")[: max(lineno - 1, 0)])
    opened = len(re.findall(r"<w:tbl[ >]", before))
    return opened > before.count("</w:tbl>")


def _compile(env: SandboxedEnvironment, part: _Part, label: str) -> Template:
    try:
        return env.from_string(part.source)
    except TemplateSyntaxError as exc:
        where = _location(part, exc.lineno or 0)
        raise TemplateError(f"{label}: jinja syntax error in the {where}: {exc.message} "
                            f"(near “{_line_excerpt(part.source, exc.lineno or 0)}”)") from exc


def _location(part: _Part, lineno: int) -> str:
    if part.where in ("body", "header", "footer") and _in_table(part.source, lineno):
        return f"{part.where} table" if part.where != "body" else "table"
    return part.where


# --- placeholders ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Unknown:
    """A placeholder the data model cannot fill, and where it is."""

    placeholder: str
    where: str  # body | table | header | footer | header table | footnotes | properties
    part: str  # zip entry
    excerpt: str  # the paragraph's text around it

    def __str__(self) -> str:
        return f"{self.placeholder}: {self.where} ({self.part}), near “{self.excerpt}”"


_Scope = dict[str, tuple[str, ...] | None]


@dataclass
class _Collector:
    found: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def chain(self, node: nodes.Node, scope: _Scope) -> tuple[str, list[str]] | None:
        """(root name, segments) of a pure name/attribute/item chain; other children are
        visited on the way."""
        if isinstance(node, nodes.Name):
            return node.name, []
        if isinstance(node, nodes.Getattr):
            inner = self.chain(node.node, scope)
            if inner is None:
                return None
            return inner[0], [*inner[1], node.attr]
        if isinstance(node, nodes.Getitem):
            inner = self.chain(node.node, scope)
            if inner is None:
                return None
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                return inner[0], [*inner[1], arg.value]
            self.visit(arg, scope)
            return inner[0], [*inner[1], "[]"]
        self.visit(node, scope)
        return None

    def record(self, node: nodes.Node, scope: _Scope) -> None:
        got = self.chain(node, scope)
        if got is None:
            return
        root, segments = got
        if root in scope:
            base = scope[root]
            if base is None:
                return  # a local (set, macro argument, loop helper): not model data
            self.found.append(((*base, *segments), node.lineno))
        else:
            self.found.append(((root, *segments), node.lineno))

    def visit_body(self, body: list[nodes.Node], scope: _Scope) -> None:
        for child in body:
            self.visit(child, scope)

    def visit(self, node: nodes.Node, scope: _Scope) -> None:
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            if not (isinstance(node, nodes.Name) and node.ctx != "load"):
                self.record(node, scope)
            return
        if isinstance(node, nodes.For):
            got = self.chain(node.iter, scope)
            base: tuple[str, ...] | None = None
            if got is not None:
                root, segments = got
                if root in scope:
                    outer = scope[root]
                    base = None if outer is None else (*outer, *segments)
                else:
                    base = (root, *segments)
                if base is not None:
                    self.found.append((base, node.lineno))
            inner: _Scope = dict(scope)
            inner["loop"] = None
            targets = [n.name for n in node.target.find_all(nodes.Name)]
            if isinstance(node.target, nodes.Name) and base is not None:
                inner[node.target.name] = (*base, "[]")
            else:
                inner.update({t: None for t in targets})
            if node.test is not None:
                self.visit(node.test, inner)
            self.visit_body(node.body, inner)
            self.visit_body(node.else_, scope)
            return
        if isinstance(node, (nodes.Assign, nodes.AssignBlock)):
            for child in node.iter_child_nodes(exclude=("target",)):
                self.visit(child, scope)
            scope.update({n.name: None for n in node.target.find_all(nodes.Name)})
            return
        if isinstance(node, (nodes.Macro, nodes.CallBlock)):
            inner = dict(scope)
            inner.update({a.name: None for a in node.args})
            inner.update({"caller": None, "varargs": None, "kwargs": None})
            if isinstance(node, nodes.Macro):
                scope[node.name] = None
            for child in node.iter_child_nodes(exclude=("args",)):
                self.visit(child, inner)
            return
        if isinstance(node, nodes.With):
            for value in node.values:
                self.visit(value, scope)
            inner = dict(scope)
            for target in node.targets:
                inner.update({n.name: None for n in target.find_all(nodes.Name)})
            self.visit_body(node.body, inner)
            return
        for child in node.iter_child_nodes():
            self.visit(child, scope)


def _known(model: Any, path: tuple[str, ...]) -> bool:
    current: Any = model
    for segment in path:
        if segment == "[]":
            if get_origin(current) is tuple:
                current = get_args(current)[0]
                continue
            return False
        if isinstance(current, type) and is_dataclass(current):
            hints = get_type_hints(current)
            if segment in hints and segment in {f.name for f in fields(current)}:
                current = hints[segment]
                continue
            if segment == "as_mapping":
                return False
            return False
        if get_origin(current) in (Union, types.UnionType):
            args = [a for a in get_args(current) if a is not type(None)]
            current = args[0] if args else str
        if current is str:
            return not segment.startswith("_") and hasattr(str, segment)
        return False
    return True


def _display(path: tuple[str, ...]) -> str:
    text = ""
    for segment in path:
        text += "[]" if segment == "[]" else (f".{segment}" if text else segment)
    return text


@dataclass(frozen=True)
class _Analysis:
    placeholders: tuple[str, ...]
    unknown: tuple[Unknown, ...]


def _analyse(env: SandboxedEnvironment, parts: list[_Part], model: type,
             label: str) -> _Analysis:
    placeholders: set[str] = set()
    unknown: set[Unknown] = set()
    builtins = set(env.globals)
    for part in parts:
        try:
            tree = env.parse(part.source)
        except TemplateSyntaxError as exc:
            where = _location(part, exc.lineno or 0)
            raise TemplateError(
                f"{label}: jinja syntax error in the {where}: {exc.message} "
                f"(near “{_line_excerpt(part.source, exc.lineno or 0)}”)") from exc
        collector = _Collector()
        collector.visit_body(tree.body, {})
        for path, lineno in collector.found:
            if path[0] in builtins and len(path) == 1:
                continue
            name = _display(path)
            placeholders.add(name)
            if not _known(model, path):
                unknown.add(Unknown(name, _location(part, lineno), part.name,
                                    _line_excerpt(part.source, lineno)))
    return _Analysis(tuple(sorted(placeholders)), tuple(sorted(unknown)))


def _pick_model(kind: str | None, analyse: Any) -> tuple[str, _Analysis]:
    if kind is not None:
        if kind not in MODELS:
            raise ValueError(f"unknown template kind {kind!r}; expected one of {sorted(MODELS)}")
        return kind, analyse(MODELS[kind])
    results = {k: analyse(m) for k, m in MODELS.items()}
    best = min(results, key=lambda k: (len(results[k].unknown), k != "contract"))
    return best, results[best]


def check_template(path: Path | str, kind: str | None = None
                   ) -> tuple[tuple[str, ...], tuple[Unknown, ...]]:
    """Every placeholder ``path`` uses, sorted, and those the data model cannot fill.

    ``kind`` is ``'contract'`` or ``'dunning'``; ``None`` picks the model the template fits
    best. Raises :class:`TemplateError` for a file that is not a usable template."""
    compiled = CompiledTemplate(Path(path), kind=kind)
    return compiled.placeholders, compiled.unknown


def format_check(path: Path | str, kind: str | None = None) -> tuple[str, bool]:
    """A readable report of :func:`check_template` for the command line, and whether the
    template is usable (no unknown placeholders)."""
    compiled = CompiledTemplate(Path(path), kind=kind)
    lines = [f"{Path(path).name}: {compiled.kind} template, sha256 {compiled.sha256[:16]}…",
             f"{len(compiled.placeholders)} placeholders:"]
    lines += [f"  {p}" for p in compiled.placeholders]
    if compiled.unknown:
        lines.append(f"{len(compiled.unknown)} unknown to the data model:")
        lines += [f"  {u}" for u in compiled.unknown]
    else:
        lines.append("all placeholders are known to the data model")
    return "\n".join(lines), not compiled.unknown


# --- rendering ------------------------------------------------------------------------------


def _zip_info(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed time and mode, so the same content gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


_DOCPR = re.compile(r'(<wp:docPr\b[^>]*?\bid=")(\d+)(")')


@dataclass(frozen=True)
class _Compiled:
    part: _Part
    template: Template
    unescape_braces: bool  # the template writes {_{ to print a literal {{


class CompiledTemplate:
    """A template prepared once, rendered many times (see the module docstring).

    ``kind`` selects the data model checked against (``contract``, ``dunning``, ``None``
    for the best fit). ``placeholders`` and ``unknown`` are the result of the check;
    ``render`` refuses to run while ``unknown`` is not empty."""

    def __init__(self, path: Path | str | bytes, *, kind: str | None = None,
                 env: SandboxedEnvironment | None = None, label: str | None = None) -> None:
        if isinstance(path, bytes):
            data, self.path = path, None
        else:
            self.path = Path(path)
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                raise TemplateError(f"cannot read template {self.path}: {exc}") from exc
        self.label = label or (self.path.name if self.path else "template")
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.env = env or make_env()
        self._infos, self._entries = _read_zip(data, self.label)
        parts = _template_parts(self._entries)
        self.kind, analysis = _pick_model(
            kind, lambda model: _analyse(self.env, parts, model, self.label))
        self.placeholders = analysis.placeholders
        self.unknown = analysis.unknown
        self._parts = {
            p.name: _Compiled(p, _compile(self.env, p, self.label),
                              "{_" in p.source or "_}" in p.source)
            for p in parts
        }
        self._static = self._static_zip()
        self._tc_loops = any(re.search(r"\{%-?\s*tc\s|\{\{-?\s*tc\s",
                                       self._entries[p.name].decode("utf-8", "replace"))
                             for p in parts if p.where == "body")

    # -- one part --

    def _render_part(self, compiled: _Compiled, mapping: Mapping[str, object]) -> bytes:
        xml = compiled.template.render(mapping)
        if compiled.part.where == "properties":
            out = xml
        else:
            xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)
            if compiled.unescape_braces:
                xml = (xml.replace("{_{", "{{").replace("}_}", "}}")
                       .replace("{_%", "{%").replace("%_}", "%}"))
            if any(ch in xml for ch in "\t\n\a\f"):
                xml = _PATCHER.resolve_listing(xml)
            out = xml
        try:
            root = etree.fromstring(out.encode("utf-8"))
        except etree.XMLSyntaxError as exc:
            raise TemplateError(
                f"{self.label}: rendering {compiled.part.name} produced invalid XML ({exc}); "
                "a paragraph-level tag ({%p …%}) or table-row tag ({%tr …%}) may not match "
                "its end tag") from exc
        if compiled.part.where == "body":
            if self._tc_loops:
                root = _PATCHER.fix_tables(out)
                out = etree.tostring(root, encoding="unicode")
            if "docPr" in out:
                counter = iter(range(1001, 1_000_000))
                out = _DOCPR.sub(lambda m: f"{m.group(1)}{next(counter)}{m.group(3)}", out)
        return (_XML_DECL + out).encode("utf-8")

    def render(self, mapping: Mapping[str, object]) -> bytes:
        """The .docx bytes for ``mapping`` (top-level names → values). Deterministic: the
        same mapping gives the same bytes."""
        if self.unknown:
            names = ", ".join(sorted({u.placeholder for u in self.unknown}))
            raise TemplateError(f"{self.label} uses placeholders the data model cannot fill: "
                                f"{names}")
        rendered = [(name, self._render_part(c, mapping)) for name, c in self._parts.items()]
        out = io.BytesIO(self._static)
        with zipfile.ZipFile(out, "a") as zf:
            for name, data in rendered:
                zf.writestr(_zip_info(name), data)
        return out.getvalue()

    def _static_zip(self) -> bytes:
        """The parts that never change, compressed once: each document starts from these."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for info in self._infos:
                if info.filename not in self._parts:
                    zf.writestr(_zip_info(info.filename), self._entries[info.filename])
        return out.getvalue()

    def parts(self) -> Iterator[tuple[str, str]]:
        """(zip entry, where) of every part holding jinja, for messages and tests."""
        for name, compiled in self._parts.items():
            yield name, compiled.part.where


def render_with_docxtpl(template: Path, mapping: Mapping[str, object], out: Path | io.BytesIO
                        ) -> None:
    """The reference renderer: ``DocxTemplate.render`` with :func:`make_env` (sandbox,
    autoescape, StrictUndefined) for body, headers, footers, footnotes and properties."""
    tpl = DocxTemplate(template)
    tpl.render(dict(mapping), jinja_env=make_env(), autoescape=True)
    tpl.save(out)
