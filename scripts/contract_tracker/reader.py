"""Read the master workbook's user-owned sheets with python-calamine.

The adapter around :mod:`contract_tracker.parse`: one bulk read per sheet
(python-calamine, several times faster than openpyxl), Excel error values recovered from
the sheet XML (calamine turns them into empty strings), then the pure parser. The sheets
are read on a second thread a step ahead of the parser (calamine parses without the GIL),
and the parser runs with the cyclic garbage collector paused.
A file that cannot be read at all yields ``(None, problems)`` — never an exception.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from . import schema
from .gcpause import gc_paused
from .parse import CellError, Grid, parse_book
from .preload import Preload
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


_ERROR_MARK = b't="e"'
_CHUNK = 1 << 20


def _has_error_cell(zf: zipfile.ZipFile, part: str) -> bool:
    """Whether the part holds an error cell, read a megabyte at a time (a large sheet's
    XML is never held whole for a sheet without one: most)."""
    tail = b""
    with zf.open(part) as f:
        while chunk := f.read(_CHUNK):
            if _ERROR_MARK in tail + chunk[:len(_ERROR_MARK) - 1] or _ERROR_MARK in chunk:
                return True
            tail = chunk[-(len(_ERROR_MARK) - 1):]
    return False


def _error_cells(zf: zipfile.ZipFile, part: str) -> dict[tuple[int, int], str]:
    if not _has_error_cell(zf, part):
        return {}
    xml = zf.read(part)
    return {(int(m[2]) - 1, _col_index(m[1])): m[3].decode() for m in _ERROR_CELL.finditer(xml)}


class _Reader:
    """The workbook open for reading: python-calamine for the values, the zip for what
    calamine leaves out (Excel error values, the schema version)."""

    def __init__(self, path: Path) -> None:
        import python_calamine

        self.zip = zipfile.ZipFile(path)
        try:
            self.parts = _sheet_parts(self.zip)
            match = _SCHEMA_NAME.search(self.zip.read("xl/workbook.xml"))
            self.version = int(match[1]) if match and match[1].strip().isdigit() else None
            self.book = python_calamine.CalamineWorkbook.from_path(str(path))
            present = set(self.book.sheet_names)
        except BaseException:
            self.zip.close()
            raise
        self.names = [name for name in schema.USER_SHEETS if name in present]

    def grid(self, name: str) -> Grid:
        """One sheet's values, Excel error values as :class:`CellError`."""
        return self.with_errors(name, self.values(name))

    def values(self, name: str) -> list[list[Any]]:
        """One sheet's values as calamine reads them (an error value as an empty cell).
        python-calamine parses the sheet without the GIL, so this runs well beside the
        parser."""
        rows: list[list[Any]] = self.book.get_sheet_by_name(name).to_python(
            skip_empty_area=False)
        return rows

    def with_errors(self, name: str, rows: list[list[Any]]) -> Grid:
        """``rows`` with the sheet's Excel error values put back as :class:`CellError`,
        from the sheet's XML (inflating it lets go of the GIL too)."""
        part = self.parts.get(name)
        # calamine reads an error value as an empty cell: only a sheet with one may hold it
        if part is not None and any("" in row for row in rows):
            for (r, c), code in _error_cells(self.zip, part).items():
                if r < len(rows) and c < len(rows[r]):
                    rows[r][c] = CellError(code)
        return rows

    def close(self) -> None:
        try:
            self.book.close()
        finally:
            self.zip.close()


class _ReadFailed(Exception):
    """A sheet could not be read after the workbook opened (carries the cause)."""


# the order parse_book takes the sheets in: the reader keeps a step ahead of it
_PARSE_ORDER = ("Settings", *(t.sheet for t in schema.DATA_TABLES))
_AHEAD = 2  # sheets read ahead of the parser: more would only hold more grids at once


class _Grids(Mapping[str, Grid]):
    """The sheets of an open workbook, read on a second thread a step ahead of the parser:
    python-calamine parses the next sheet while the parser converts this one. A grid is
    handed out once and then forgotten, so the parser's copy is the only one; asking for
    a sheet again reads it again."""

    def __init__(self, reader: _Reader, pool: ThreadPoolExecutor) -> None:
        self._reader = reader
        self._pool = pool
        self._order = [n for n in _PARSE_ORDER if n in reader.names]
        self._order += [n for n in reader.names if n not in self._order]
        self._pending: dict[str, Future[list[list[Any]]]] = {}
        self._next = 0
        self._top_up()

    def _top_up(self) -> None:
        while len(self._pending) < _AHEAD and self._next < len(self._order):
            self._next_one()

    def __getitem__(self, name: str) -> Grid:
        if name not in self._reader.names:
            raise KeyError(name)
        while name not in self._pending and self._order.index(name) >= self._next:
            self._next_one()  # a sheet asked for out of order: read up to it
        future = self._pending.pop(name, None)
        if future is None:  # handed out before: read again (on the reading thread)
            future = self._pool.submit(self._reader.values, name)
        try:
            values = future.result()
        except Exception as exc:
            raise _ReadFailed(exc) from exc
        self._top_up()
        try:  # here, not on the reading thread: that one has the more work
            return self._reader.with_errors(name, values)
        except Exception as exc:
            raise _ReadFailed(exc) from exc

    def _next_one(self) -> None:
        name = self._order[self._next]
        self._pending[name] = self._pool.submit(self._reader.values, name)
        self._next += 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._reader.names)

    def __len__(self) -> int:
        return len(self._reader.names)

    def __contains__(self, name: object) -> bool:
        return name in self._reader.names


def read_grids(path: Path) -> tuple[dict[str, Grid], int | None]:
    """Every user-owned sheet present in the workbook as a grid, plus its schema version.

    Raises on a file that is not a readable workbook; :func:`load_book` turns that into
    a problem.
    """
    reader = _Reader(path)
    try:
        return {name: reader.grid(name) for name in reader.names}, reader.version
    finally:
        reader.close()


def load_book(path: Path, preload: Sequence[str] = ()
              ) -> tuple[Book | None, tuple[Problem, ...]]:
    """The validated book, or ``None`` with the reason when the file cannot be read.

    The sheets are parsed as they are read: a second thread reads the next sheet with
    python-calamine while this one converts and checks the last. ``preload``: modules the
    caller needs next, imported on a third thread meanwhile (see :mod:`.preload`); they
    are imported when this returns.
    """
    name = path.name
    if not path.exists():
        return None, (Problem(name, "", f"file not found: {path}"),)
    if path.is_dir():
        return None, (Problem(name, "", "is a folder, not an Excel workbook"),)
    try:
        reader = _Reader(path)
    except Exception as exc:  # any reader failure is one clear message, not a traceback
        return None, (_unreadable(name, exc),)
    try:
        with Preload(preload), ThreadPoolExecutor(1, thread_name_prefix="reader") as pool, \
                gc_paused():
            try:
                book, problems = parse_book(_Grids(reader, pool), reader.version)
            except BaseException:  # don't wait for sheets queued ahead that nobody will use
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except _ReadFailed as failed:
        return None, (_unreadable(name, failed.__cause__ or failed),)
    finally:
        reader.close()
    version = reader.version
    if version is not None and version != schema.SCHEMA_VERSION:
        problems = (Problem(name, "", (
            f"was built for schema version {version}, this tool uses "
            f"{schema.SCHEMA_VERSION}: see 'Upgrading a workbook' in README.md"), ),
            *problems)
    return book, problems


def _unreadable(name: str, exc: BaseException) -> Problem:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Problem(name, "", (
        f"cannot be read as an Excel workbook ({reason[:200]}): is it an .xlsx/.xlsm "
        "file, and not damaged or password-protected?"))
