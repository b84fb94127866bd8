"""contract_tracker.preload: the modules a command needs next, imported while it reads.

What is checked: the imports happen on the background thread and are done when the
caller goes on; a module that fails to import is noted, never raised; and the lists the
commands preload (``jobs.REFRESH_IMPORTS``, ``PENALTIES_IMPORTS``, ``REPORT_IMPORTS``)
are complete: after reading with them, the job imports nothing more (and without them it
does, so the check can fail).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract_tracker.jobs import PENALTIES_IMPORTS, REFRESH_IMPORTS, REPORT_IMPORTS
from contract_tracker.preload import Preload
from contract_tracker.reader import load_book

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "workbook" / "contracts.xlsm"

RECORDER = """
import threading
THREAD = threading.current_thread().name
"""


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[str]:
    """A module, not yet imported, that notes which thread imported it."""
    name = f"ct_preload_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(RECORDER, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_imports_on_the_background_thread_and_join_waits(recorder: str) -> None:
    assert recorder not in sys.modules
    with Preload([recorder]) as preload:
        pass  # leaving the block joins
    assert recorder in sys.modules
    assert sys.modules[recorder].THREAD == "preload"
    assert preload.failed == []


def test_a_module_that_fails_is_noted_not_raised(recorder: str) -> None:
    preload = Preload(["ct_preload_no_such_module", recorder])
    preload.join()
    assert preload.failed == ["ct_preload_no_such_module"]
    assert recorder in sys.modules  # the next one is still imported


def test_load_book_preloads_while_reading(recorder: str) -> None:
    book, _ = load_book(BUNDLED, [recorder])
    assert book is not None and book.contracts
    assert sys.modules[recorder].THREAD == "preload"


def test_load_book_of_a_missing_file_with_preload_still_answers(tmp_path: Path) -> None:
    book, problems = load_book(tmp_path / "nope.xlsm", ["ct_preload_no_such_module"])
    assert book is None and "file not found" in problems[0].message


JOB_IMPORTS = """
import datetime as dt, json, sys
from pathlib import Path
from contract_tracker import jobs
from contract_tracker.reader import load_book
preload = getattr(jobs, sys.argv[2]) if sys.argv[2] != "-" else ()
book, problems = load_book(Path(sys.argv[1]), preload)
before = set(sys.modules)
as_of = dt.date(2026, 11, 25)
if sys.argv[3] == "refresh":
    jobs.refresh_job(book, problems, as_of)
elif sys.argv[3] == "report":  # the letters in worker processes, as a big batch would be
    import contract_tracker.report as report
    report.PARALLEL_FROM = 1
    report.report_job(book, "2026-W48", Path(sys.argv[4]), read_problems=problems)
else:
    jobs.penalties_job(book, as_of)
# a codec's module is imported when the codec is first looked up: microseconds
print(json.dumps(sorted(m for m in set(sys.modules) - before
                        if not m.startswith("encodings."))))
"""


def _imported_by_job(preload: str, job: str, out: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", JOB_IMPORTS, str(BUNDLED), preload, job, str(out)],
        capture_output=True, text=True, check=True, timeout=120)
    imported: list[str] = json.loads(done.stdout)
    return imported


JOBS = [("REFRESH_IMPORTS", "refresh"), ("PENALTIES_IMPORTS", "penalties"),
        ("REPORT_IMPORTS", "report")]


@pytest.mark.parametrize(("preload", "job"), JOBS)
def test_after_the_preloaded_read_the_job_imports_nothing(preload: str, job: str,
                                                          tmp_path: Path) -> None:
    assert _imported_by_job(preload, job, tmp_path) == []
    if job == "report":  # the check is only worth its pass if the report was written
        week = tmp_path / "2026-W48"
        assert list((week / "letters").glob("*.docx"))
        assert list((week / "mail").glob("*.eml"))
        assert (week / "overdue-report_2026-W48.xlsx").stat().st_size > 0


@pytest.mark.parametrize("job", [job for _, job in JOBS])
def test_without_preload_the_job_imports_the_engine(job: str, tmp_path: Path) -> None:
    imported = set(_imported_by_job("-", job, tmp_path))
    assert {"contract_tracker.engine", "chinese_calendar"} <= imported
    if job == "report":
        assert {"docxtpl", "xlsxwriter", "concurrent.futures.process"} <= imported


def test_the_lists_name_what_they_preload() -> None:
    assert set(PENALTIES_IMPORTS) < set(REFRESH_IMPORTS)
    assert set(PENALTIES_IMPORTS) < set(REPORT_IMPORTS)
    assert "contract_tracker.dashboard" in REFRESH_IMPORTS
    assert "contract_tracker.report" in REPORT_IMPORTS
