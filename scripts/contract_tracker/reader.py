"""Read the master workbook's user-owned sheets with python-calamine.

The adapter around :mod:`contract_tracker.parse`: one bulk read per sheet
(python-calamine, several times faster than openpyxl), Excel error values recovered from
the sheet XML (calamine turns them into empty strings), then the pure parser.
A file that cannot be read at all yields ``(None, problems)`` — never an exception.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from . import schema
from .parse import CellError, Grid, parse_book
from .records import Book, Problem

_ERROR_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?t="e"[^>]*>(?:<f[^>]*/>|<f[^>]*>.*?</f>)?'
                         rb"<v>([^<]*)</v>", re.S)
_SCHEMA_NAME = re.compile(rb'<definedName name="CT_SCHEMA_VERSION"[^>]*>([^<]*)</definedName>')


def _col_index(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ch - 64
    return index - 1


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its worksheet part inside the zip."""
    workbook = zf.read("xl/workbook.xml").decode("utf-8")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets: dict[str, str] = {}
    for element in re.finditer(r"<Relationship\b[^>]*>", rels):
        rid = re.search(r'\bId="([^"]+)"', element[0])
        found = re.search(r'\bTarget="([^"]+)"', element[0])
        if rid and found:
            targets[rid[1]] = found[1]
    parts: dict[str, str] = {}
    for m in re.finditer(r'<sheet\b[^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', workbook):
        target = targets.get(m[2])
        if target:
            path = target.lstrip("/") if target.startswith("/") else str(
                PurePosixPath("xl") / target)
            parts[_unescape(m[1])] = path
    return parts


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _error_cells(zf: zipfile.ZipFile, part: str) -> dict[tuple[int, int], str]:
    xml = zf.read(part)
    if b't="e"' not in xml:
        return {}
    return {(int(m[2]) - 1, _col_index(m[1])): m[3].decode() for m in _ERROR_CELL.finditer(xml)}


def read_grids(path: Path) -> tuple[dict[str, Grid], int | None]:
    """Every user-owned sheet present in the workbook as a grid, plus its schema version.

    Raises on a file that is not a readable workbook; :func:`load_book` turns that into
    a problem.
    """
    import python_calamine

    grids: dict[str, Grid] = {}
    with zipfile.ZipFile(path) as zf:
        parts = _sheet_parts(zf)
        match = _SCHEMA_NAME.search(zf.read("xl/workbook.xml"))
        version = int(match[1]) if match and match[1].strip().isdigit() else None
        errors = {name: _error_cells(zf, part) for name, part in parts.items()
                  if name in schema.USER_SHEETS}
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        present = set(book.sheet_names)
        for name in schema.USER_SHEETS:
            if name not in present:
                continue
            rows: list[list[Any]] = book.get_sheet_by_name(name).to_python(
                skip_empty_area=False)
            for (r, c), code in errors.get(name, {}).items():
                if r < len(rows) and c < len(rows[r]):
                    rows[r][c] = CellError(code)
            grids[name] = rows
    finally:
        book.close()
    return grids, version


def load_book(path: Path) -> tuple[Book | None, tuple[Problem, ...]]:
    """The validated book, or ``None`` with the reason when the file cannot be read."""
    name = path.name
    if not path.exists():
        return None, (Problem(name, "", f"file not found: {path}"),)
    if path.is_dir():
        return None, (Problem(name, "", "is a folder, not an Excel workbook"),)
    try:
        grids, version = read_grids(path)
    except Exception as exc:  # any reader failure is one clear message, not a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, (Problem(name, "", (
            f"cannot be read as an Excel workbook ({reason[:200]}): is it an .xlsx/.xlsm "
            "file, and not damaged or password-protected?")),)
    book, problems = parse_book(grids, version)
    if version is not None and version != schema.SCHEMA_VERSION:
        problems = (Problem(name, "", (
            f"was built for schema version {version}, this tool uses "
            f"{schema.SCHEMA_VERSION}: see 'Upgrading a workbook' in README.md"), ),
            *problems)
    return book, problems
