"""Benchmark: 1,000 contracts generated as .docx (no PDF), against the floor.

Run from the repository root::

    .venv/bin/python benchmarks/bench_generate.py [--count 1000] [--workers 2]

Prints contracts per second for

* ``generate_contracts`` (the ``generate`` command's engine: context from the workbook's
  records, safe names planned over all 5,000 contracts, compiled template, strict XML
  check of every rendered part, temp file + rename, SHA-256 for the Log) in one process;
* the same split over ``--workers`` processes (fork);
* the floor: the same contexts built beforehand, each part's jinja template compiled once
  and rendered straight into a new zip written to disk, nothing else;
* naive docxtpl (``DocxTemplate(path).render(...)`` + ``save`` per document) on a slice,
  for reference.

Data: ``sample_book("large")`` (5,000 contracts) when the sample module exists, else the
golden test book's contracts copied to ``--count`` synthetic ones. Target: >= 100/s.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from docxtpl import DocxTemplate
from lxml import etree

from contract_tracker.docgen.context import BookIndex, build_contract_context, contract_language
from contract_tracker.docgen.generate import generate_contracts
from contract_tracker.docgen.render import default_templates_dir, make_env, render_with_docxtpl
from contract_tracker.records import Book, Client, Contract, FeeItem

_BOOK: Book | None = None  # inherited by forked workers


def load_book(count: int) -> tuple[Book, str]:
    try:
        from contract_tracker.sample import sample_book
    except ImportError:
        return synthetic_book(count), "synthetic"
    return sample_book("large"), 'sample_book("large")'


def synthetic_book(count: int) -> Book:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.test_docgen_render import golden_book

    base = golden_book()
    clients: list[Client] = []
    contracts: list[Contract] = []
    items: list[FeeItem] = []
    for i in range(count):
        template = base.contracts[i % 2]
        client = base.clients[i % 2]._replace(client_id=f"C{i:05d}",
                                     name=f"{base.clients[i % 2].name[:-6]}{i}有限公司")
        cid = f"HT-B-{i:05d}"
        clients.append(client)
        contracts.append(template._replace(contract_id=cid, client_id=client.client_id))
        items += [f._replace(contract_id=cid) for f in base.fee_items
                  if f.contract_id == template.contract_id]
    return Book(base.settings, tuple(clients), tuple(contracts), tuple(items))


def _worker(args: tuple[list[str], str]) -> int:
    ids, out = args
    assert _BOOK is not None
    results, _ = generate_contracts(_BOOK, ids, Path(out), progress=False)
    return len(results)


def run_ours(book: Book, ids: Sequence[str], out: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    results, problems = generate_contracts(book, ids, out, progress=False)
    return time.perf_counter() - start, len(results), len(problems)


def run_workers(ids: Sequence[str], out: Path, workers: int) -> tuple[float, int]:
    chunks = [(list(ids[i::workers]), str(out)) for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    start = time.perf_counter()
    with ctx.Pool(workers) as pool:
        done = sum(pool.map(_worker, chunks))
    return time.perf_counter() - start, done


def run_floor(book: Book, ids: Sequence[str], out: Path) -> float:
    """Precompiled templates rendered straight into the zip: the least work possible."""
    index = BookIndex.of(book)
    by_id = {c.contract_id: c for c in book.contracts}
    jobs = []
    for cid in ids:
        contract = by_id[cid]
        lang = contract_language(contract, book.settings)
        ctx, _ = build_contract_context(book, contract, lang, index=index)
        assert ctx is not None
        jobs.append((cid, lang, ctx.as_mapping()))
    env = make_env()
    patcher = DocxTemplate(io.BytesIO())
    compiled = {}
    for lang in ("zh", "en"):
        with zipfile.ZipFile(default_templates_dir() / f"contract_{lang}.docx") as zf:
            entries = [(i.filename, zf.read(i)) for i in zf.infolist()]
        parts = {}
        for name, data in entries:
            if b"{{" in data or b"{%" in data:
                src = patcher.patch_xml(etree.tostring(etree.fromstring(data), encoding="unicode"))
                parts[name] = env.from_string(re.sub(r"<w:p([ >])", r"\n<w:p\1", src))
        compiled[lang] = (entries, parts)
    start = time.perf_counter()
    for cid, lang, mapping in jobs:
        entries, parts = compiled[lang]
        with zipfile.ZipFile(out / f"{cid}.docx", "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                if name in parts:
                    xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", parts[name].render(mapping))
                    zf.writestr(name, xml.encode("utf-8"))
                else:
                    zf.writestr(name, data)
    return time.perf_counter() - start


def run_naive(book: Book, ids: Sequence[str], out: Path) -> float:
    index = BookIndex.of(book)
    by_id = {c.contract_id: c for c in book.contracts}
    jobs = []
    for cid in ids:
        contract = by_id[cid]
        lang = contract_language(contract, book.settings)
        ctx, _ = build_contract_context(book, contract, lang, index=index)
        assert ctx is not None
        jobs.append((cid, lang, ctx.as_mapping()))
    start = time.perf_counter()
    for cid, lang, mapping in jobs:
        render_with_docxtpl(default_templates_dir() / f"contract_{lang}.docx", mapping,
                            out / f"{cid}.docx")
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    global _BOOK
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive", type=int, default=100, help="documents for naive docxtpl")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    book, source = load_book(args.count)
    print(f"data: {source}, {len(book.contracts)} contracts "
          f"(loaded in {time.perf_counter() - start:.2f} s); {os.cpu_count()} CPUs")
    ids = [c.contract_id for c in book.contracts[: args.count]]
    _BOOK = book
    rows = []
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        base = Path(tmp)
        for name in ("ours", "workers", "floor", "naive"):
            (base / name).mkdir()
        elapsed, done, problems = run_ours(book, ids, base / "ours")
        rows.append(("generate_contracts, 1 process", done, elapsed))
        if problems:
            print(f"  ({problems} problems reported)")
        if args.workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            elapsed, done = run_workers(ids, base / "workers", args.workers)
            rows.append((f"generate_contracts, {args.workers} processes", done, elapsed))
        elapsed = run_floor(book, ids, base / "floor")
        rows.append(("floor: precompiled template straight into the zip, 1 process",
                     len(ids), elapsed))
        naive_ids = ids[: args.naive]
        elapsed = run_naive(book, naive_ids, base / "naive")
        rows.append(("naive docxtpl (DocxTemplate per document), 1 process",
                     len(naive_ids), elapsed))
    width = max(len(r[0]) for r in rows)
    for label, done, elapsed in rows:
        print(f"{label:<{width}}  {done:>5} docs  {elapsed:7.2f} s  {done / elapsed:8.1f} /s")
    ours = rows[0][1] / rows[0][2]
    print(f"target >= 100 contracts/s: {'met' if ours >= 100 else 'NOT met'} "
          f"({ours:.0f}/s in one process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
