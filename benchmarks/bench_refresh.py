"""Benchmark: ``contract-tracker refresh`` end to end on the large sample.

What is timed, each run in a fresh subprocess on a fresh copy of the large sample
workbook (5,000 clients and contracts, 60,000 installments, 60,000 receipts, 20,000
incidents; built once and cached in ``build/bench/``, as ``bench_read.py`` does):

* ``refresh`` as the command runs it: read and validate (``load_book``), compute
  (``refresh_job``: penalties and the Dashboard) and write Problems, Dashboard and the
  Log into the master (``write_master``), with each stage's
  wall and CPU time (CPU counts both threads: the reader and the writer use a second core,
  and on a shared, busy machine the CPU time is the steadier figure) and the writer's own
  steps; the process's peak resident memory (``ru_maxrss``) and its whole wall time,
  interpreter start and imports included, are printed beside it;
* the same refresh run again on a workbook refreshed once with ``--workings`` (the
  everyday case for a user who once clicked 计算违约金: its Workings sheet, ~70 MB of
  XML, is carried over as it was);
* for scale, ``refresh --workings`` (the Workings sheet written too, as before);
* the floor: fastexcel 0.21 reading the same user sheets (``read_excel(path)`` and
  ``load_sheet_by_name`` for each; pyarrow is not installed, so only the Rust-side read
  is timed, not a conversion to Arrow or pandas).

Targets (issue 5): refresh <= 2 s, <= 300 MB peak, <= 5x the fastexcel floor.

Usage: ``.venv/bin/python benchmarks/bench_refresh.py [--repeat 3] [--profile]``
(``--profile`` prints the writer's and the jobs' top functions from one extra run, with
the cyclic GC left to run as the command itself pauses it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from large_sample import compiled_package, large_workbook  # noqa: E402

AS_OF = "2026-11-25"  # contract_tracker.sample.SAMPLE_AS_OF
TARGET_SECONDS, TARGET_MB, TARGET_FLOOR_RATIO = 2.0, 300.0, 5.0
WRITE_STEPS = (  # the writer's steps, timed in the refresh child (wall time)
    ("_read_log_rows", "read the Log back"),
    ("_render_sheet", "render + pack the sheets"),
    ("_write_zip", "write the temp file"),
    ("_test_zip", "verify: CRC + XML parse"),
    ("_read_back", "verify: calamine reads back (2nd thread)"),
    ("_compare", "verify: compare values"),
    ("_make_backup", "backup"),
)


# --- the child processes --------------------------------------------------------------------


def _peak_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child_refresh(path: Path, profile: bool, workings: bool = False) -> dict[str, object]:
    """What ``contract-tracker refresh PATH --as-of AS_OF`` does, stage by stage; with
    ``workings``, what ``refresh --workings`` does (to show what the Workings cost)."""
    import datetime as dt

    started = time.perf_counter()
    from contract_tracker import sheetwriter as sw
    from contract_tracker.jobs import REFRESH_IMPORTS, refresh_job
    from contract_tracker.reader import load_book
    from contract_tracker.toolsheets import write_master

    steps: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                steps[name] = steps.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    for name, label in WRITE_STEPS:
        if hasattr(sw, name):  # (an older writer, run for comparison, lacks some)
            setattr(sw, name, timed(label, getattr(sw, name)))
    imported = time.perf_counter()
    cpu = [time.process_time()]
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    book, problems = load_book(path, REFRESH_IMPORTS)  # as the command preloads
    assert book is not None
    loaded = time.perf_counter()
    cpu.append(time.process_time())
    as_of = dt.date.fromisoformat(AS_OF)
    job = refresh_job(book, problems, as_of, workings=workings)
    computed = time.perf_counter()
    cpu.append(time.process_time())
    report = write_master(path, job.sheets, job.log, book.settings.backups_kept)
    written = time.perf_counter()
    cpu.append(time.process_time())
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        sys.stderr.write(out.getvalue())
    return {
        "imports": imported - started,
        "read": loaded - imported,
        "compute": computed - loaded,
        "write": written - computed,
        "refresh": written - imported,
        "read_cpu": cpu[1] - cpu[0], "compute_cpu": cpu[2] - cpu[1],
        "write_cpu": cpu[3] - cpu[2], "refresh_cpu": cpu[3] - cpu[0],
        "steps": steps,
        "peak_mb": _peak_mb(),
        "rows": {name: len(content.rows) for name, content in job.sheets.items()},
        "written": list(report.sheets),
    }


def child_stages(path: Path) -> dict[str, object]:
    """Where the compute time goes: engine, Dashboard; and for --workings, row building and
    the Workings sheet."""
    import datetime as dt
    import gc

    from contract_tracker.dashboard import dashboard_job
    from contract_tracker.engine import compute_penalties, workings_rows
    from contract_tracker.gcpause import gc_paused
    from contract_tracker.jobs import workings_sheet
    from contract_tracker.parse import parse_book
    from contract_tracker.reader import read_grids

    as_of = dt.date.fromisoformat(AS_OF)
    now = dt.datetime.now().replace(microsecond=0)
    t0 = time.perf_counter()
    grids, version = read_grids(path)
    t1 = time.perf_counter()
    with gc_paused():  # as load_book parses
        book, _ = parse_book(grids, version)
    del grids
    t2 = time.perf_counter()
    gc.disable()  # as refresh_job computes
    result, _ = compute_penalties(book, as_of)
    t3 = time.perf_counter()
    dashboard_job(book, as_of, now=now, result=result)  # builds no installment row
    t4 = time.perf_counter()
    len(result.late_fees), len(result.sla)
    result.late_fees[0], result.sla[0]  # build the lazy rows
    t5 = time.perf_counter()
    rows = workings_rows(result)
    t6 = time.perf_counter()
    workings_sheet(rows, as_of, now)  # type: ignore[arg-type]
    t7 = time.perf_counter()
    return {"read grids (calamine, one after another)": t1 - t0,
            "parse + validate (GC paused)": t2 - t1,
            "engine totals": t3 - t2, "Dashboard": t4 - t3,
            "--workings only: engine rows (fees, SLA)": t5 - t4,
            "--workings only: Workings rows": t6 - t5,
            "--workings only: Workings sheet": t7 - t6}


def child_fastexcel(path: Path) -> dict[str, object]:
    import fastexcel

    from contract_tracker import schema

    started = time.perf_counter()
    reader = fastexcel.read_excel(str(path))
    for name in schema.USER_SHEETS:
        reader.load_sheet_by_name(name)
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def run_child(mode: str, path: Path, profile: bool = False) -> dict[str, object]:
    started = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", mode, str(path)]
    if profile:
        cmd.append("--profile")
    result = subprocess.run(cmd, capture_output=True, text=True, check=False,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if result.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{result.stderr}")
    if profile:
        sys.stdout.write(result.stderr)
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    data["process"] = time.perf_counter() - started
    return data


# --- the parent -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child[0], Path(args.child[1])
        if mode == "refresh":
            out = child_refresh(path, args.profile)
        elif mode == "with-workings":
            out = child_refresh(path, args.profile, workings=True)
        elif mode == "stages":
            out = child_stages(path)
        else:
            out = child_fastexcel(path)
        print(json.dumps(out))
        return 0

    source = large_workbook()
    print(compiled_package())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}, {platform.platform()}")
    print(f"workbook: {source} ({source.stat().st_size / 1e6:.1f} MB), as of {AS_OF}")
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        runs, again = [], []
        for i in range(args.repeat):
            target = Path(tmp) / f"run{i}" / "contracts.xlsm"
            target.parent.mkdir()
            shutil.copyfile(source, target)
            runs.append(run_child("refresh", target))
        target = Path(tmp) / "with-workings" / "contracts.xlsm"
        target.parent.mkdir()
        shutil.copyfile(source, target)
        full = run_child("with-workings", target)
        refreshed = target
        for i in range(args.repeat):  # a workbook refreshed before, its Workings kept
            target = Path(tmp) / f"again{i}" / "contracts.xlsm"
            target.parent.mkdir()
            shutil.copyfile(refreshed, target)
            again.append(run_child("refresh", target))
        floors = [run_child("fastexcel", source) for _ in range(args.repeat)]
        stages = run_child("stages", source)
        if args.profile:
            target = Path(tmp) / "profile" / "contracts.xlsm"
            target.parent.mkdir()
            shutil.copyfile(source, target)
            run_child("refresh", target, profile=True)
        print(f"after refresh: {(Path(tmp) / 'run0' / 'contracts.xlsm').stat().st_size / 1e6:.1f}"
              f" MB; rows written: {runs[0]['rows']}")

    def best(key: str, items: list[dict[str, object]]) -> float:
        return min(float(x[key]) for x in items)  # type: ignore[arg-type]

    def median(key: str, items: list[dict[str, object]]) -> float:
        return statistics.median(float(x[key]) for x in items)  # type: ignore[arg-type]

    print()
    print(f"{'':<44}{'best':>9}{'median':>9}{'CPU best':>10}   "
          f"{'again: best':>11}{'CPU':>7}")
    for key, label in (("read", "  read + validate (load_book)"),
                       ("compute", "  compute (refresh_job)"),
                       ("write", "  write 2 sheets + Log (write_master)"),
                       ("refresh", "refresh (read, compute, write)"),
                       ("imports", "  + imports"), ("process", "  whole process (python -m ...)")):
        cpu = (f"{best(key + '_cpu', runs):>9.2f}s   {best(key, again):>10.2f}s"
               f"{best(key + '_cpu', again):>6.2f}s") if key + "_cpu" in runs[0] else ""
        print(f"{label:<44}{best(key, runs):>8.2f}s{median(key, runs):>8.2f}s{cpu}")
    print("  ('again': refreshing a workbook refreshed before with --workings: its Workings"
          " sheet is carried over)")
    print("  the writer's steps (wall, best run): " + ", ".join(
        f"{label} {min(float(r['steps'].get(label, 0.0)) for r in runs):.2f} s"  # type: ignore[attr-defined]
        for _, label in WRITE_STEPS))
    floor = best("seconds", floors)
    print(f"{'fastexcel floor (load_sheet_by_name x 8)':<44}{floor:>8.2f}s"
          f"{median('seconds', floors):>8.2f}s")
    print(f"for scale, refresh --workings (the Workings sheet written too, one run): "
          f"{float(full['refresh']):.2f} s (read {float(full['read']):.2f}, compute "  # type: ignore[arg-type]
          f"{float(full['compute']):.2f}, write {float(full['write']):.2f}), "  # type: ignore[arg-type]
          f"{float(full['peak_mb']):.0f} MB; rows written: {full['rows']}")  # type: ignore[arg-type]
    print()
    print("compute and read, stage by stage (one run):")
    for label, seconds in stages.items():
        if label != "process":
            print(f"  {label:<40}{float(seconds):>8.2f}s")  # type: ignore[arg-type]
    refresh, peak = best("refresh", runs), max(float(x["peak_mb"]) for x in runs)  # type: ignore[arg-type]
    ratio = refresh / floor
    print()
    print(f"peak memory (ru_maxrss) of refresh: {peak:.0f} MB (again: "
          f"{max(float(x['peak_mb']) for x in again):.0f} MB); of fastexcel alone: "  # type: ignore[arg-type]
          f"{max(float(x['peak_mb']) for x in floors):.0f} MB")  # type: ignore[arg-type]
    for what, got, goal, unit in (("time", refresh, TARGET_SECONDS, "s"),
                                  ("memory", peak, TARGET_MB, "MB"),
                                  ("x fastexcel", ratio, TARGET_FLOOR_RATIO, "x")):
        verdict = "met" if got <= goal else "MISSED"
        print(f"target {what:<12} <= {goal:g} {unit}: {got:.2f} {unit} {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
