"""LibreOffice and poppler helpers for tests: convert, extract text, render pages.

Tests marked ``libreoffice`` fail, never skip, when the tools are missing: CI installs
them (``setup.sh --system``) and a missing tool must turn CI red.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise AssertionError(f"{tool} is not installed: run ./setup.sh --system")
    return found


def convert_with_libreoffice(source: Path, out_dir: Path, fmt: str = "pdf") -> Path:
    soffice = require("soffice")
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    try:
        result = subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", fmt, "--outdir", str(out_dir), str(source)],
            capture_output=True, text=True, timeout=180, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    target = out_dir / f"{source.stem}.{fmt}"
    assert result.returncode == 0 and target.exists(), (result.stdout, result.stderr)
    return target


def pdf_text(pdf: Path) -> str:
    pdftotext = require("pdftotext")
    return subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def pdf_pages_to_png(pdf: Path, out_prefix: Path, dpi: int = 60) -> list[Path]:
    pdftoppm = require("pdftoppm")
    subprocess.run([pdftoppm, "-r", str(dpi), "-png", str(pdf), str(out_prefix)], check=True)
    return sorted(out_prefix.parent.glob(f"{out_prefix.name}*.png"))
