"""Benchmark: reading the large sample workbook into validated records.

Prints, for the user-owned sheets of the large sample (5,000 clients and contracts,
60,000 installments, 60,000 receipts, 20,000 incidents), wall and CPU time (CPU counts
every thread; on a shared, busy machine it is the steadier figure):
- python-calamine alone (the grids, no validation): the reader's floor;
- ``read_grids`` (calamine + error cells, one sheet after another);
- ``parse_book`` on those grids, as ``load_book`` runs it (cyclic GC paused) and with the
  collector running, to show what pausing it saves;
- ``read_grids(by_columns=True)``: the data sheets as fastexcel's typed columns turned into
  calamine's values (``arrowcells``), one sheet after another;
- ``load_book`` as the commands run it (on the large sample: fastexcel on a second thread
  ahead of the parser) and with ``by_columns=False`` (python-calamine alone, a sheet
  ahead: the reader before fastexcel);
- openpyxl read-only, values only, for contrast (``--openpyxl``; slow).

Usage: ``.venv/bin/python benchmarks/bench_read.py [--repeat 3] [--openpyxl]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from large_sample import large_workbook

from contract_tracker import schema
from contract_tracker.gcpause import gc_paused
from contract_tracker.parse import parse_book
from contract_tracker.reader import load_book, read_grids


def timed(fn, repeat: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), statistics.median(times), min(cpu)


def parse_paused(grids: dict[str, object], version: int | None) -> None:
    with gc_paused():
        parse_book(grids, version)  # type: ignore[arg-type]


def calamine_only(path: Path) -> None:
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in schema.USER_SHEETS:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    book.close()


def openpyxl_only(path: Path) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_vba=False)
    for name in schema.USER_SHEETS:
        for _ in wb[name].iter_rows(values_only=True):
            pass
    wb.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--openpyxl", action="store_true")
    args = parser.parse_args()
    path = large_workbook()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}, {platform.platform()}")
    print(f"workbook: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    book, problems = load_book(path)
    assert book is not None
    print(f"rows: {len(book.clients)} clients, {len(book.contracts)} contracts, "
          f"{len(book.installments)} installments, {len(book.receipts)} receipts, "
          f"{len(book.incidents)} incidents; {len(problems)} problems")
    grids, version = read_grids(path)
    rows = [
        ("python-calamine grids (floor)", timed(lambda: calamine_only(path), args.repeat)),
        ("read_grids (+ error cells)", timed(lambda: read_grids(path), args.repeat)),
        ("parse_book, GC paused (as load_book)",
         timed(lambda: parse_paused(grids, version), args.repeat)),  # type: ignore[arg-type]
        ("parse_book, GC running", timed(lambda: parse_book(grids, version), args.repeat)),
        ("read_grids(by_columns=True)", timed(lambda: read_grids(path, True), args.repeat)),
        ("load_book (read || parse)", timed(lambda: load_book(path), args.repeat)),
        ("load_book(by_columns=False)",
         timed(lambda: load_book(path, by_columns=False), args.repeat)),
    ]
    if args.openpyxl:
        rows.append(("openpyxl read-only (contrast)", timed(lambda: openpyxl_only(path), 1)))
    for label, (best, median, cpu) in rows:
        print(f"{label:<36} best {best:6.3f} s   median {median:6.3f} s   CPU {cpu:6.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
