"""The large sample workbook the benchmarks share, built once into ``build/bench/``.

It is built by ``contract-tracker sample --size large`` in a child process, so the
benchmark's own process never holds the 600 MB that building takes and its peak-memory
figures are its own.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "bench" / "contracts-large.xlsm"


SOURCES = ("schema.py", "sample.py", "build.py")
"""The modules the workbook is made from: one changed since the cached copy was built
(a new column, say) makes it stale."""


def large_workbook(path: Path = CACHE, rebuild: bool = False) -> Path:
    """``path``, built first when it is missing, older than its sources, or ``rebuild``."""
    if path.exists() and not rebuild:
        made = path.stat().st_mtime
        if all((ROOT / "scripts" / "contract_tracker" / name).stat().st_mtime <= made
               for name in SOURCES):
            return path
        rebuild = True
    print(f"building the large sample workbook into {path} (once) ...", flush=True)
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    subprocess.run([sys.executable, "-m", "contract_tracker", "sample", "--size", "large",
                    "--out", str(path), *(["--force"] if rebuild else [])],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def compiled_package() -> str:
    """Compile the package's modules to bytecode (``__pycache__``), as an installed or
    once-run package has them, and say so. A machine that sets PYTHONDONTWRITEBYTECODE
    (this one does) would otherwise compile every module from source in every child
    process: about 0.1 s of each refresh went on that, which no user's machine pays."""
    compileall.compile_dir(ROOT / "scripts", quiet=1)
    setting = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return ("bytecode: the package compiled beforehand"
            + (" (PYTHONDONTWRITEBYTECODE is set here: nothing would be cached)"
               if setting else ""))
