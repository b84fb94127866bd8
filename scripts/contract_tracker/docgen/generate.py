"""Generate contracts (.docx, optionally .pdf) for the contracts of a workbook.

``generate_contracts(book, ids, out_dir)`` writes one document per contract, named
``{contract number}_{client name}.docx`` (cleaned by :mod:`.filenames`, always directly
inside ``out_dir``), from ``templates/contract_{zh|en}.docx`` by the contract's language.

* Each template is compiled and checked once; a template with placeholders the data model
  cannot fill is refused, naming them and where they are, and its contracts are skipped.
* A contract whose data cannot fill the template (see ``build_contract_context``) is
  skipped with the problems located to their cells; the others are still generated.
* Rendering is deterministic: an unchanged contract gives the same bytes, and an existing
  identical file is left alone (``unchanged``).
* A contract that is signed, active, expired or terminated is never overwritten: when its
  file exists and differs, generation refuses unless ``force``; with ``force`` the old file
  is kept, renamed ``… .replaced-YYYYMMDD-HHMMSS.docx``. Drafts and sent contracts are
  replaced. Files are written to a temporary name and moved into place.
* ``pdf=True`` converts the written documents with LibreOffice headless, one ``soffice``
  call per batch with its own throw-away profile (``-env:UserInstallation``), or with
  Word through ``docx2pdf`` on Windows and macOS; when neither exists a warning says so and
  the .docx files are still produced.
* Each document gives a :class:`GeneratedDoc` for the Log sheet: time, contract, template
  and its SHA-256, output path and its SHA-256 (and the PDF's).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..records import Book, Contract, Problem, Severity, Source
from .context import BookIndex, build_contract_context, contract_language, located_problem
from .filenames import path_inside, plan_names
from .render import CompiledTemplate, TemplateError, default_templates_dir

__all__ = [
    "LOCKED_STATUSES",
    "PDF_BATCH",
    "GeneratedDoc",
    "PdfConverter",
    "find_pdf_converter",
    "fontconfig_file",
    "generate_contracts",
    "render_contract",
]

LOCKED_STATUSES = frozenset({"signed", "active", "expired", "terminated"})
"""Statuses whose document is never overwritten without ``force``."""

PDF_BATCH = 40
"""Documents per ``soffice`` call: one call converts a batch (0.18 s/doc against 1 s/doc
for single calls) and a batch stays well inside Windows' command-line length limit."""


@dataclass(frozen=True)
class GeneratedDoc:
    """One generated document, as the Log sheet records it."""

    time: str  # ISO 8601, seconds
    contract_id: str
    template: str  # template file name
    template_sha256: str
    output: str  # path of the .docx
    output_sha256: str
    action: str  # written | replaced | unchanged
    kept: str = ""  # the previous file, renamed, when a locked contract was forced
    pdf: str = ""
    pdf_sha256: str = ""
    template_path: str = ""

    def log_row(self) -> dict[str, str]:
        """The Log sheet's columns for this document."""
        return {
            "time": self.time, "action": f"generate {self.action}",
            "contract": self.contract_id, "template": self.template,
            "template_sha256": self.template_sha256, "template_path": self.template_path,
            "output": self.output,
            "output_sha256": self.output_sha256, "pdf": self.pdf, "pdf_sha256": self.pdf_sha256,
            "kept": self.kept,
        }


def _at(src: Source, key: str, message: str) -> Problem:
    return located_problem(src, "Contracts", key, message)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename over ``path``: a reader
    never sees half a document. No fsync: documents are derived output, regenerated at will,
    and a file damaged by a power cut differs from the workbook, so it is rewritten (or, for a
    signed contract, refused until ``force``) on the next run. Missing folders are made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _kept_name(path: Path, stamp: str) -> Path:
    candidate = path.with_name(f"{path.stem}.replaced-{stamp}{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.replaced-{stamp}-{n}{path.suffix}")
        n += 1
    return candidate


def render_contract(book: Book, contract: Contract, template: CompiledTemplate,
                    lang: str | None = None) -> tuple[bytes | None, list[Problem]]:
    """The .docx bytes of one contract from a compiled template (in ``lang``, default the
    contract's language), or ``None`` and the problems that stop it. Writes nothing."""
    ctx, problems = build_contract_context(book, contract, lang)
    if ctx is None:
        return None, problems
    return template.render(ctx.as_mapping()), problems


# --- PDF --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfConverter:
    kind: str  # soffice | docx2pdf
    program: str = ""


def _find_soffice() -> str | None:
    env = os.environ.get("CONTRACT_TRACKER_SOFFICE")
    if env:
        return env if Path(env).exists() else None
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    candidates = [
        "/Applications/LibreOffice.app/Contents/MacOS/soffice",
        r"C:\Program Files\LibreOffice\program\soffice.exe",
        r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
    ]
    return next((c for c in candidates if Path(c).exists()), None)


def _docx2pdf_available() -> bool:
    if sys.platform not in ("win32", "darwin"):
        return False
    try:
        import docx2pdf  # noqa: F401
    except ImportError:
        return False
    return True


def find_pdf_converter() -> PdfConverter | None:
    """LibreOffice if installed, else Word through docx2pdf on Windows/macOS, else None."""
    soffice = _find_soffice()
    if soffice:
        return PdfConverter("soffice", soffice)
    if _docx2pdf_available():
        return PdfConverter("docx2pdf")
    return None


NO_PDF_MESSAGE = (
    "PDF not produced: LibreOffice (soffice) was not found, and Microsoft Word through "
    "docx2pdf is not available here. Install LibreOffice (https://www.libreoffice.org) or, "
    "on Windows or macOS with Word, `pip install docx2pdf`. The .docx files were written."
)


_SERIF_CJK = ("宋体", "SimSun", "新宋体", "NSimSun", "仿宋", "FangSong", "楷体", "KaiTi")
_SANS_CJK = ("黑体", "SimHei", "微软雅黑", "Microsoft YaHei", "等线", "DengXian")
_SERIF_FALLBACK = ("Noto Serif CJK SC", "Source Han Serif SC", "AR PL UMing CN",
                   "Noto Sans CJK SC", "WenQuanYi Zen Hei")
_SANS_FALLBACK = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                  "Droid Sans Fallback")


def fontconfig_file(folder: Path) -> Path | None:
    """On Linux, a fontconfig file for the LibreOffice process only: the system's
    configuration plus 宋体/SimSun → a serif CJK font and 黑体/SimHei → a sans CJK font
    (Noto CJK SC, then others), instead of fontconfig's default fallback. ``None`` where
    fontconfig is not used or already configured through ``FONTCONFIG_FILE``."""
    system = Path("/etc/fonts/fonts.conf")
    if not sys.platform.startswith("linux") or not system.exists():
        return None
    if os.environ.get("FONTCONFIG_FILE"):
        return None

    def rule(family: str, prefer: Sequence[str]) -> str:
        fams = "".join(f"<string>{f}</string>" for f in prefer)
        return (f'<match target="pattern"><test qual="any" name="family"><string>{family}'
                f'</string></test><edit name="family" mode="prepend" binding="strong">{fams}'
                "</edit></match>")

    rules = [rule(f, _SERIF_FALLBACK) for f in _SERIF_CJK]
    rules += [rule(f, _SANS_FALLBACK) for f in _SANS_CJK]
    path = folder / "fonts.conf"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>'
        f'<include ignore_missing="yes">{system}</include>{"".join(rules)}</fontconfig>\n',
        encoding="utf-8")
    return path


def _soffice_batch(program: str, docs: Sequence[Path], out_dir: Path) -> str:
    profile = Path(tempfile.mkdtemp(prefix="ct-lo-profile-"))
    env = dict(os.environ)
    fonts = fontconfig_file(profile)
    if fonts is not None:
        env["FONTCONFIG_FILE"] = str(fonts)
    try:
        result = subprocess.run(
            [program, f"-env:UserInstallation={(profile / 'user').as_uri()}", "--headless",
             "--norestore", "--convert-to", "pdf", "--outdir", str(out_dir), *map(str, docs)],
            capture_output=True, text=True, timeout=120 + 10 * len(docs), check=False,
            env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"LibreOffice failed: {exc}"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0:
        return f"LibreOffice exited with {result.returncode}: {result.stderr.strip()[:300]}"
    return ""


def _convert(converter: PdfConverter, docs: Sequence[Path], work: Path,
             tick: Callable[[int], object]) -> tuple[dict[Path, Path], list[str]]:
    """PDFs of ``docs`` written into ``work``: {docx: pdf}, and error messages."""
    made: dict[Path, Path] = {}
    errors: list[str] = []
    if converter.kind == "soffice":
        for start in range(0, len(docs), PDF_BATCH):
            batch = docs[start:start + PDF_BATCH]
            error = _soffice_batch(converter.program, batch, work)
            if error:
                errors.append(error)
            for doc in batch:
                pdf = work / f"{doc.stem}.pdf"
                if pdf.exists():
                    made[doc] = pdf
            tick(len(batch))
    else:  # pragma: no cover - needs Word on Windows/macOS
        from docx2pdf import convert

        for doc in docs:
            pdf = work / f"{doc.stem}.pdf"
            try:
                convert(str(doc), str(pdf))
            except Exception as exc:  # docx2pdf surfaces Word's COM/AppleScript errors
                errors.append(f"Word could not convert {doc.name}: {exc}")
            if pdf.exists():
                made[doc] = pdf
            tick(1)
    return made, errors


# --- the command --------------------------------------------------------------------------


def _select(book: Book, contract_ids: Iterable[str] | str | None
            ) -> tuple[list[Contract], list[Problem]]:
    if contract_ids is None or contract_ids == "all":
        return list(book.contracts), []
    if isinstance(contract_ids, str):
        contract_ids = [contract_ids]
    by_id = {c.contract_id: c for c in book.contracts}
    chosen: list[Contract] = []
    problems: list[Problem] = []
    for cid in dict.fromkeys(contract_ids):
        if cid in by_id:
            chosen.append(by_id[cid])
        else:
            problems.append(Problem("Contracts", "", f"contract {cid} is not on the Contracts "
                                    "sheet"))
    return chosen, problems


def generate_contracts(
    book: Book,
    contract_ids: Iterable[str] | str | None,
    out_dir: Path,
    *,
    pdf: bool = False,
    force: bool = False,
    progress: bool = True,
    templates_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[GeneratedDoc], list[Problem]]:
    """Generate the contracts ``contract_ids`` (``None`` or ``'all'``: every contract).

    Returns the documents written or found unchanged, and the problems: contracts not
    generated (errors, located to their cells), refused overwrites, template problems,
    PDF problems. Never raises for bad data; raises ``OSError`` only when ``out_dir``
    cannot be created."""
    now = now or dt.datetime.now().replace(microsecond=0)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    templates_dir = templates_dir or default_templates_dir()
    selected, problems = _select(book, contract_ids)
    out_dir.mkdir(parents=True, exist_ok=True)

    index = BookIndex.of(book)
    names = plan_names((c.contract_id, index.clients[c.client_id].name
                        if c.client_id in index.clients else "") for c in book.contracts)
    templates: dict[str, CompiledTemplate | None] = {}
    skipped: dict[str, int] = {}
    results: list[GeneratedDoc] = []

    def template_for(lang: str) -> CompiledTemplate | None:
        if lang not in templates:
            path = templates_dir / f"contract_{lang}.docx"
            compiled: CompiledTemplate | None = None
            try:
                compiled = CompiledTemplate(path, kind="contract")
                if compiled.unknown:
                    listed = "; ".join(str(u) for u in compiled.unknown)
                    problems.append(Problem(path.name, "", "template refused: placeholders the "
                                            f"data model cannot fill: {listed}"))
                    compiled = None
            except TemplateError as exc:
                problems.append(Problem(path.name, "", f"template refused: {exc}"))
            templates[lang] = compiled
        return templates[lang]

    bar = tqdm(total=len(selected), unit="contract", desc="contracts", disable=not progress,
               file=sys.stderr, leave=False)
    try:
        for contract in selected:
            bar.update(1)
            lang = contract_language(contract, book.settings)
            template = template_for(lang)
            if template is None:
                skipped[lang] = skipped.get(lang, 0) + 1
                continue
            ctx, found = build_contract_context(book, contract, lang, index=index)
            problems += found
            if ctx is None:
                continue
            data = template.render(ctx.as_mapping())
            entry = _place(contract, data, out_dir, names[contract.contract_id], template,
                           force=force, stamp=stamp, time=now.isoformat(), problems=problems)
            if entry is not None:
                results.append(entry)
    finally:
        bar.close()
    for lang, count in sorted(skipped.items()):
        problems.append(Problem(f"contract_{lang}.docx", "", f"{count} contract(s) in language "
                                f"'{lang}' not generated because the template was refused"))

    if pdf and results:
        results = _make_pdfs(results, out_dir, book, force=force, stamp=stamp,
                             progress=progress, problems=problems)
    return results, problems


def _place(contract: Contract, data: bytes, out_dir: Path, name: str,
           template: CompiledTemplate, *, force: bool, stamp: str, time: str,
           problems: list[Problem]) -> GeneratedDoc | None:
    """Write ``data`` as the contract's file, following the overwrite rules."""
    cid = contract.contract_id
    try:
        target = path_inside(out_dir, name)
    except ValueError as exc:  # pragma: no cover - plan_names makes plain names
        problems.append(_at(contract.src, "contract_id", f"contract {cid}: {exc}"))
        return None
    digest = _sha256(data)
    action, kept = "written", ""
    if target.exists():
        old = target.read_bytes()
        if _sha256(old) == digest:
            action = "unchanged"
        elif contract.status in LOCKED_STATUSES and not force:
            problems.append(_at(
                contract.src, "status",
                f"contract {cid} is {contract.status}: {target.name} exists and differs from "
                "the workbook; it was not overwritten (use --force to replace it; the old file "
                "is then kept)"))
            return None
        elif contract.status in LOCKED_STATUSES:
            kept_path = _kept_name(target, stamp)
            try:
                os.replace(target, kept_path)
            except OSError as exc:
                problems.append(_at(contract.src, "contract_id",
                                           f"contract {cid}: cannot keep the old {target.name} "
                                           f"({exc}); close it in Word and try again"))
                return None
            action, kept = "replaced", str(kept_path)
        else:
            action = "replaced"
    if action != "unchanged":
        try:
            write_atomic(target, data)
        except OSError as exc:
            problems.append(_at(contract.src, "contract_id",
                                       f"contract {cid}: cannot write {target.name} ({exc}); "
                                       "is it open in Word?"))
            return None
    return GeneratedDoc(time, cid, template.label, template.sha256, str(target), digest,
                        action, kept, template_path=str(template.path or ""))


def _make_pdfs(results: list[GeneratedDoc], out_dir: Path, book: Book, *, force: bool,
               stamp: str, progress: bool, problems: list[Problem]) -> list[GeneratedDoc]:
    converter = find_pdf_converter()
    if converter is None:
        problems.append(Problem("PDF", "", NO_PDF_MESSAGE, Severity.WARNING))
        return results
    status = {c.contract_id: c for c in book.contracts}
    todo = []
    for r in results:
        pdf_path = Path(r.output).with_suffix(".pdf")
        if r.action != "unchanged" or not pdf_path.exists():
            todo.append(r)
    docs = [Path(r.output) for r in todo]
    work = Path(tempfile.mkdtemp(prefix=".ct-pdf-", dir=out_dir))
    bar = tqdm(total=len(docs), unit="pdf", desc="PDF", disable=not progress, file=sys.stderr,
               leave=False)
    try:
        made, errors = _convert(converter, docs, work, bar.update)
        problems += [Problem("PDF", "", e) for e in errors]
        updated: dict[str, GeneratedDoc] = {}
        for r in todo:
            doc = Path(r.output)
            contract = status[r.contract_id]
            pdf_tmp = made.get(doc)
            if pdf_tmp is None:
                problems.append(_at(contract.src, "contract_id",
                                           f"contract {r.contract_id}: no PDF was produced"))
                continue
            final = doc.with_suffix(".pdf")
            kept = r.kept
            if final.exists() and contract.status in LOCKED_STATUSES and force:
                kept_pdf = _kept_name(final, stamp)
                os.replace(final, kept_pdf)
                kept = f"{kept}; {kept_pdf}" if kept else str(kept_pdf)
            os.replace(pdf_tmp, final)
            updated[r.contract_id] = _with_pdf(r, final, kept)
        out: list[GeneratedDoc] = []
        for r in results:
            if r.contract_id in updated:
                out.append(updated[r.contract_id])
            else:
                pdf_path = Path(r.output).with_suffix(".pdf")
                out.append(_with_pdf(r, pdf_path, r.kept) if pdf_path.exists() else r)
        return out
    finally:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)


def _with_pdf(r: GeneratedDoc, pdf: Path, kept: str) -> GeneratedDoc:
    return dataclasses.replace(r, kept=kept, pdf=str(pdf), pdf_sha256=_sha256(pdf.read_bytes()))
