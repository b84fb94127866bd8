"""Benchmark: the weekly overdue report on the large sample, without PDFs.

The large sample (5,000 clients and contracts, 60,000 installments, 60,000 receipts,
20,000 incidents) is built once and cached as in ``bench_read.py``
(``build/bench/contracts-large.xlsm``). Prints the machine, the command, the week's size
(overdue installments, letters, drafts) and, best and median of ``--repeat`` runs:

- ``load_book``: reading the workbook (the reader's cost, not the report's);
- ``build_report``: the figures (the engine at the two Sundays, week over week, ageing,
  managers), no file written;
- ``report_job``: everything the report writes (workbook, HTML, one letter and one e-mail
  draft per overdue client, snapshot), with last week's snapshot present, letters rendered
  in worker processes as the command does; and the same with rendering in one process;
- the command end to end (``contract-tracker report`` in a subprocess on a fresh copy of
  the workbook each run: interpreter start, read, report, Log line written into the
  master), with its peak memory.

Target (issue 5): the weekly report <= 5 s without PDFs, checked for ``report_job`` and,
as a user waits for it, for the command end to end.

Usage: ``.venv/bin/python benchmarks/bench_report.py [--repeat 3] [--week 2026-W48]``
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from large_sample import compiled_package, large_workbook

from contract_tracker import report as report_module
from contract_tracker.reader import load_book
from contract_tracker.report import build_report, parse_week, report_job

TARGET_S = 5.0


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--week", default="2026-W48")
    args = parser.parse_args()
    week = parse_week(args.week)
    path = large_workbook()
    print(compiled_package())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}, {platform.platform()}")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"workbook: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    book, _ = load_book(path)
    assert book is not None
    report = build_report(book, week)
    print(f"week {week.label} (as of {week.sunday}): {len(report.overdue)} overdue "
          f"installments, {len(report.letters)} letters, "
          f"{sum(1 for x in report.letters if x.mail_name)} e-mail drafts, "
          f"{len(report.paid)} paid rows, {len(report.sla)} SLA breaches, "
          f"{len(report.availability)} availability misses")

    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        out = work / "reports"
        report_job(book, week.previous, out)  # last week's snapshot, as on a normal Monday
        rows: list[tuple[str, tuple[float, float]]] = [
            ("load_book (read, for contrast)", timed(lambda: load_book(path), args.repeat)),
            ("build_report (figures only)", timed(lambda: build_report(book, week),
                                                  args.repeat)),
            ("report_job (all files)", timed(lambda: report_job(book, week, out),
                                             args.repeat)),
        ]
        saved = report_module.PARALLEL_FROM
        report_module.PARALLEL_FROM = 10**9
        try:
            rows.append(("report_job, letters in one process",
                         timed(lambda: report_job(book, week, out), args.repeat)))
        finally:
            report_module.PARALLEL_FROM = saved
        copy = work / "contracts.xlsm"
        command = [str(Path(sys.executable).parent / "contract-tracker"), "report", str(copy),
                   "--week", week.label, "--out", str(out)]
        runs: list[float] = []
        for _ in range(args.repeat):
            shutil.copyfile(path, copy)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            runs.append(time.perf_counter() - start)
            if done.returncode not in (0, 1):
                break
        end_to_end = (min(runs), statistics.median(runs))
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        files = sum(1 for p in (out / week.label).rglob("*") if p.is_file())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for label, (best, median) in rows:
        print(f"{label:<38} best {best:6.3f} s   median {median:6.3f} s")
    print(f"{'command end to end (read+report+Log)':<38} best {end_to_end[0]:6.3f} s   "
          f"median {end_to_end[1]:6.3f} s, exit {done.returncode}, peak {peak_mb:.0f} MB, "
          f"{files} files in {week.label}/")
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr)
    for label, best in (("report_job", rows[2][1][0]), ("command end to end", end_to_end[0])):
        verdict = "ok" if best <= TARGET_S else "OVER"
        print(f"target: {label} <= {TARGET_S:.0f} s: {verdict} ({best:.2f} s)")
    return 0 if done.returncode in (0, 1) else 1


if __name__ == "__main__":
    raise SystemExit(main())
