"""LibreOffice and poppler helpers for tests: convert, extract text, render pages.

Tests marked ``libreoffice`` fail, never skip, when the tools are missing: CI installs
them (``setup.sh --system``) and a missing tool must turn CI red.

A conversion counts as clean only when LibreOffice says nothing about the file: exit 0,
the output written, and no error or warning line in its stdout or stderr apart from the
known noise of a headless run listed in :data:`HARMLESS`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

HARMLESS: tuple[re.Pattern[str], ...] = (
    # No Java runtime: only Java-based extensions and the Base wizards need it.
    re.compile(r"^Warning: failed to launch javaldx - java may not function correctly$"),
    # fontconfig on minimal or container systems (cache folder, config version).
    re.compile(r"^Fontconfig (warning|error): "),
    # The progress line of --convert-to itself.
    re.compile(r"^convert .+ -> .+ using filter : [\w ]+$"),
)
"""Lines LibreOffice prints on a clean headless conversion (each matched exactly)."""

COMPLAINT = re.compile(r"error|warn|fail|exception|assert|crash|abort|cannot|could not|"
                       r"corrupt|repair|invalid", re.IGNORECASE)


def require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise AssertionError(f"{tool} is not installed: run ./setup.sh --system")
    return found


def complaints(output: str) -> list[str]:
    """The lines of LibreOffice's output that complain, known noise left out."""
    return [line for line in output.splitlines()
            if line.strip() and COMPLAINT.search(line)
            and not any(p.search(line) for p in HARMLESS)]


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
    target = out_dir / f"{source.stem}.{fmt.split(':')[0]}"  # 'xlsm:Calc MS Excel ...'
    assert result.returncode == 0 and target.exists(), (result.stdout, result.stderr)
    said = complaints(result.stdout) + complaints(result.stderr)
    assert said == [], f"LibreOffice complained about {source.name}: {said}"
    return target


def pdf_text(pdf: Path) -> str:
    pdftotext = require("pdftotext")
    return subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext ends every page with a form feed)."""
    return pdf_text(pdf).split("\f")[:-1]


def pdf_word_heights(pdf: Path, page: int) -> list[float]:
    """The height in points of each word pdftotext finds on ``page`` (1-based): the
    printed size of the text, after any fit-to-page scaling."""
    pdftotext = require("pdftotext")
    xml = subprocess.run([pdftotext, "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    return [float(y1) - float(y0) for y0, y1 in re.findall(
        r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)"', xml)]


def pdf_pages_to_png(pdf: Path, out_prefix: Path, dpi: int = 60) -> list[Path]:
    pdftoppm = require("pdftoppm")
    subprocess.run([pdftoppm, "-r", str(dpi), "-png", str(pdf), str(out_prefix)], check=True)
    return sorted(out_prefix.parent.glob(f"{out_prefix.name}*.png"))
