"""generate_contracts: files, names, overwrite rules, template refusal, log entries, PDFs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docx
import pytest

from contract_tracker.docgen import generate as gen
from contract_tracker.docgen.generate import (
    LOCKED_STATUSES,
    PdfConverter,
    generate_contracts,
)
from contract_tracker.docgen.render import default_templates_dir
from contract_tracker.records import Book, Severity, Source

from .test_docgen_render import golden_book

NOW = dt.datetime(2026, 11, 25, 10, 30, 0)
TEMPLATES = default_templates_dir()


def _sample_book() -> Book:
    try:
        from contract_tracker.sample import sample_book
    except ImportError:  # pragma: no cover - the sample module is another issue's
        return golden_book()
    return sample_book("small")


def _errors(problems: Sequence[Any]) -> list[Any]:
    return [p for p in problems if p.severity is Severity.ERROR]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generates_every_contract_of_the_sample(tmp_path: Path) -> None:
    book = _sample_book()
    results, problems = generate_contracts(book, None, tmp_path, progress=False, now=NOW)
    assert _errors(problems) == []
    assert len(results) == len(book.contracts)
    files = sorted(tmp_path.glob("*.docx"))
    assert len(files) == len(book.contracts)
    clients = {c.client_id: c.name for c in book.clients}
    for r in results:
        out = Path(r.output)
        assert out.parent == tmp_path.resolve()
        contract = next(c for c in book.contracts if c.contract_id == r.contract_id)
        assert out.name.startswith(f"{r.contract_id}_")
        assert clients[contract.client_id] in out.name
        assert r.output_sha256 == _sha(out)
        lang = contract.language or book.settings.language
        assert r.template == f"contract_{lang}.docx"
        assert r.template_sha256 == _sha(TEMPLATES / r.template)
        assert r.time == "2026-11-25T10:30:00" and r.action == "written"
        row = r.log_row()
        assert {"time", "contract", "template", "template_sha256", "output",
                "output_sha256"} <= set(row)
        with zipfile.ZipFile(out) as zf:
            xml = "".join(zf.read(n).decode() for n in zf.namelist() if n.endswith(".xml"))
        assert "{{" not in xml and "{%" not in xml


def test_selected_contracts_and_unknown_ids(tmp_path: Path) -> None:
    book = golden_book()
    results, problems = generate_contracts(book, ["HT-2026-002", "NOPE", "HT-2026-002"],
                                           tmp_path, progress=False)
    assert [r.contract_id for r in results] == ["HT-2026-002"]
    assert [p.message for p in problems] == ["contract NOPE is not on the Contracts sheet"]
    results, _ = generate_contracts(book, "all", tmp_path / "all", progress=False)
    assert len(results) == 2


def test_regenerating_an_unchanged_contract_changes_nothing(tmp_path: Path) -> None:
    book = golden_book()
    first, _ = generate_contracts(book, None, tmp_path, progress=False, now=NOW)
    mtimes = {r.output: Path(r.output).stat().st_mtime_ns for r in first}
    again, problems = generate_contracts(book, None, tmp_path, progress=False)
    assert problems == []
    assert [r.action for r in again] == ["unchanged", "unchanged"]
    assert [r.output_sha256 for r in again] == [r.output_sha256 for r in first]
    assert {r.output: Path(r.output).stat().st_mtime_ns for r in again} == mtimes


def _changed(book: Book) -> Book:
    contracts = tuple(c._replace(signing_place="宁波市鄞州区")
                      for c in book.contracts)
    return dataclasses.replace(book, contracts=contracts)


def test_signed_contracts_are_never_overwritten_without_force(tmp_path: Path) -> None:
    book = golden_book()  # HT-2026-001 is a draft, HT-2026-002 signed
    first, _ = generate_contracts(book, None, tmp_path, progress=False, now=NOW)
    signed = Path(next(r.output for r in first if r.contract_id == "HT-2026-002"))
    old = signed.read_bytes()
    results, problems = generate_contracts(_changed(book), None, tmp_path, progress=False,
                                           now=NOW)
    assert [r.contract_id for r in results] == ["HT-2026-001"]  # the draft is replaced
    assert results[0].action == "replaced"
    assert len(problems) == 1 and "HT-2026-002 is signed" in problems[0].message
    assert "--force" in problems[0].message
    assert signed.read_bytes() == old
    assert len(list(tmp_path.glob("*.docx"))) == 2


def test_force_replaces_a_signed_contract_and_keeps_the_old_file(tmp_path: Path) -> None:
    book = golden_book()
    first, _ = generate_contracts(book, None, tmp_path, progress=False, now=NOW)
    signed = Path(next(r.output for r in first if r.contract_id == "HT-2026-002"))
    old = signed.read_bytes()
    results, problems = generate_contracts(_changed(book), ["HT-2026-002"], tmp_path,
                                           force=True, progress=False, now=NOW)
    assert problems == []
    (r,) = results
    assert r.action == "replaced" and r.kept
    kept = Path(r.kept)
    assert kept.name == f"{signed.stem}.replaced-20261125-103000.docx"
    assert kept.read_bytes() == old
    assert signed.read_bytes() != old
    text = "\n".join(p.text for p in docx.Document(str(signed)).paragraphs)
    assert "宁波市鄞州区" in text
    # forcing again the same second keeps both older versions
    results, _ = generate_contracts(golden_book(), ["HT-2026-002"], tmp_path, force=True,
                                    progress=False, now=NOW)
    assert Path(results[0].kept).name == f"{signed.stem}.replaced-20261125-103000-2.docx"


def test_locked_statuses() -> None:
    assert {"signed", "active", "expired", "terminated"} == LOCKED_STATUSES


def test_nasty_client_names_make_safe_files_inside_the_folder(tmp_path: Path) -> None:
    book = golden_book()
    nasty = ["../../escape", "CON", "AUX .docx", "CONIN$", "a/b\\c", "..", "\u202e",
             "x\u202etxt.exe", "R&D <Ltd>", "长" * 300, "line\nbreak", '=HYPERLINK("x")',
             "a/b", "a_b"]
    base_client, base_contract = book.clients[0], book.contracts[0]
    clients, contracts, items = [], [], []
    for i, name in enumerate(nasty):
        clients.append(base_client._replace(client_id=f"N{i}", name=name))
        cid = "HT/9" if name == "a/b" else "HT_9" if name == "a_b" else f"HT-N{i}"
        contracts.append(base_contract._replace(contract_id=cid, client_id=f"N{i}"))
        items += [f._replace(contract_id=cid) for f in book.fee_items
                  if f.contract_id == base_contract.contract_id]
    book = dataclasses.replace(book, clients=tuple(clients), contracts=tuple(contracts),
                               fee_items=tuple(items))
    out = tmp_path / "out"
    results, problems = generate_contracts(book, None, out, progress=False)
    assert _errors(problems) == []
    assert len(results) == len(nasty)
    names = [Path(r.output).name for r in results]
    assert len({n.casefold() for n in names}) == len(names)
    for r in results:
        path = Path(r.output)
        assert path.parent == out.resolve() and path.exists()
        assert "\u202e" not in path.name and "\n" not in path.name
        assert len(path.name.encode()) <= 255
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    by_id = {r.contract_id: Path(r.output).name for r in results}
    assert by_id["HT-N1"] == "HT-N1_CON.docx"
    assert by_id["HT-N0"] == "HT-N0__.._escape.docx"
    assert by_id["HT-N6"] == "HT-N6.docx"  # an invisible name leaves the contract number
    assert by_id["HT/9"] != by_id["HT_9"]  # both clean to HT_9_a_b: a hash tells them apart


def test_bad_rows_are_reported_at_their_cells_and_the_rest_generated(tmp_path: Path) -> None:
    book = golden_book()
    src = Source("Contracts", 7, (("final_days", "L"), ("confidentiality_years", "O"),
                                  ("client_id", "B"), ("total_fee", "H")))
    broken = book.contracts[0]._replace(final_days=None,
                                 confidentiality_years=None, src=src)
    book = dataclasses.replace(book, contracts=(broken, book.contracts[1]))
    results, problems = generate_contracts(book, None, tmp_path, progress=False)
    assert [r.contract_id for r in results] == ["HT-2026-002"]
    cells = {(p.sheet, p.cell) for p in _errors(problems)}
    assert cells == {("Contracts", "L7"), ("Contracts", "O7")}
    assert any("clause 3.4" in p.message for p in problems)


def test_fee_items_must_add_up_to_the_total(tmp_path: Path) -> None:
    book = golden_book()
    contract = book.contracts[0]._replace(total_fee=book.contracts[0].total_fee + 1)
    book = dataclasses.replace(book, contracts=(contract, book.contracts[1]))
    results, problems = generate_contracts(book, ["HT-2026-001"], tmp_path, progress=False)
    assert results == []
    assert "fee items add up to 123,456.78 but total_fee is 123,457.78" in problems[0].message


def test_contract_without_fee_items_lists_the_total_as_one_item(tmp_path: Path) -> None:
    book = golden_book()
    book = dataclasses.replace(book, fee_items=())
    results, problems = generate_contracts(book, ["HT-2026-001"], tmp_path, progress=False)
    assert len(results) == 1
    assert [p.severity for p in problems] == [Severity.WARNING]
    table = docx.Document(results[0].output).tables[0]
    assert [c.text for c in table.rows[1].cells] == ["1", "运营维护服务费", "123,456.78", ""]


def test_a_template_with_unknown_placeholders_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for name in ("contract_zh.docx", "contract_en.docx"):
        data = (TEMPLATES / name).read_bytes()
        if name == "contract_en.docx":
            data = _replace_part(data, "word/header1.xml", "{{ contract.number }}",
                                 "{{ contract.numbre }}")
        (templates / name).write_bytes(data)
    out = tmp_path / "out"
    results, problems = generate_contracts(golden_book(), None, out, progress=False,
                                           templates_dir=templates)
    assert [r.contract_id for r in results] == ["HT-2026-001"]  # the zh one
    messages = [f"{p.sheet}: {p.message}" for p in problems]
    assert any(m.startswith("contract_en.docx: template refused") and "contract.numbre" in m
               and "header" in m for m in messages)
    assert any("1 contract(s) in language 'en' not generated" in m for m in messages)


def test_a_missing_template_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    results, problems = generate_contracts(golden_book(), None, tmp_path / "out",
                                           progress=False, templates_dir=tmp_path)
    assert results == []
    assert any("cannot read template" in p.message for p in problems)


def _replace_part(data: bytes, part: str, old: str, new: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename == part:
                blob = blob.decode().replace(old, new).encode()
            zout.writestr(info, blob)
    return out.getvalue()


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_contracts(golden_book(), None, tmp_path, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "contracts" in captured.err


# --- PDFs -----------------------------------------------------------------------------------


def test_no_pdf_converter_gives_a_clear_message_and_the_docx(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "find_pdf_converter", lambda: None)
    results, problems = generate_contracts(golden_book(), None, tmp_path, pdf=True,
                                           progress=False)
    assert len(results) == 2 and all(Path(r.output).exists() for r in results)
    assert all(r.pdf == "" for r in results)
    (problem,) = problems
    assert problem.severity is Severity.WARNING
    assert "LibreOffice" in problem.message and "docx2pdf" in problem.message
    assert "The .docx files were written" in problem.message


def test_pdfs_are_converted_in_batches_with_a_private_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        out_dir = Path(args[args.index("--outdir") + 1])
        for doc in args[args.index("--outdir") + 2:]:
            (out_dir / f"{Path(doc).stem}.pdf").write_bytes(b"%PDF-1.4 fake")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(gen, "find_pdf_converter", lambda: PdfConverter("soffice", "soffice"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(gen, "PDF_BATCH", 2)
    book = _sample_book()
    ids = [c.contract_id for c in book.contracts[:5]]
    results, problems = generate_contracts(book, ids, tmp_path, pdf=True, progress=False)
    assert _errors(problems) == []
    assert len(calls) == 3  # 5 documents in batches of 2
    assert all(any(a.startswith("-env:UserInstallation=file://") for a in c) for c in calls)
    assert all("--headless" in c for c in calls)
    for r in results:
        assert Path(r.pdf).exists() and Path(r.pdf).parent == tmp_path.resolve()
        assert r.pdf_sha256 == _sha(Path(r.pdf))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ct-pdf-")]


@pytest.mark.libreoffice
def test_pdfs_with_libreoffice(tmp_path: Path) -> None:
    assert gen.find_pdf_converter() is not None, "LibreOffice (soffice) is not installed"
    results, problems = generate_contracts(golden_book(), None, tmp_path, pdf=True,
                                           progress=False)
    assert problems == []
    for r in results:
        pdf = Path(r.pdf)
        assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
        assert r.pdf_sha256 == _sha(pdf)
    fonts = gen.fontconfig_file(tmp_path)
    assert fonts is None or "Noto Serif CJK SC" in fonts.read_text(encoding="utf-8")
