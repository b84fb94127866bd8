"""Read the master workbook's user-owned sheets with fastexcel and python-calamine.

The adapter around :mod:`contract_tracker.parse`: one bulk read per sheet, then the pure
parser. The data sheets are loaded by fastexcel into typed Arrow columns, without the
GIL, and handed to the parser a column at a time as the values calamine would give
(:mod:`.arrowcells`); the Settings sheet, and any sheet whose columns might not give
exactly those values (a column mixing types, a header not all text, an Excel error
value), are read by python-calamine as rows, Excel error values recovered from the sheet
XML (both readers turn them into blanks). The sheets are read on a second thread ahead
of the parser, and the parser runs with the cyclic garbage collector paused. A file that
cannot be read at all yields ``(None, problems)`` — never an exception.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from xml.sax.saxutils import escape as xml_escape

from . import schema
from .arrowcells import NA_TEXTS, LoadedSheet, loaded_sheet, sheet_columns
from .gcpause import gc_paused
from .parse import CellError, SheetGrid, parse_book
from .preload import Preload
from .records import Book, Problem

_ERROR_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?t="e"[^>]*>(?:<f[^>]*/>|<f[^>]*>.*?</f>)?'
                         rb"<v>([^<]*)</v>", re.S)
_DATE_1904 = re.compile(rb'\bdate1904="(?:1|true)"')
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


def _sheet_names(workbook: bytes) -> list[str]:
    """Every sheet's name, as workbook.xml lists them."""
    return [_unescape(m[1].decode("utf-8"))
            for m in re.finditer(rb'<sheet\b[^>]*?\bname="([^"]*)"', workbook)]


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


_ROW = re.compile(rb'<row\b[^>]*?\br="(\d+)"[^>]*?(?:/>|>(.*?)</row>)', re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_CELL_TYPE = re.compile(rb'\bt="([^"]*)"')
_TEXT_TYPES = (b"s", b"inlineStr", b"str")
_HEAD = 1 << 18  # the XML read to find row 1: its header is a few hundred bytes


def _header_is_text(zf: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet's first row that holds a value is row 1 and every value in it
    is a text. fastexcel takes the first row of the cells' range for the header and
    names columns by their header text; only then are its names the header row the
    parser reads (a header typed as a number, say, would be named by its digits)."""
    with zf.open(part) as f:
        head = f.read(_HEAD)
    for row in _ROW.finditer(head, max(head.find(b"<sheetData"), 0)):
        cells = [m for m in _CELL.finditer(row[2] or b"") if m[2] and (
            b"<v" in m[2] or b"<is" in m[2])]
        if not cells:
            continue
        if row[1] != b"1":
            return False
        return all((t := _CELL_TYPE.search(c[1])) is not None and t[1] in _TEXT_TYPES
                   for c in cells)
    return False


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


class _Marks(NamedTuple):
    """What a sheet's XML holds that fastexcel's columns would not show: an Excel error
    value (read as a blank) or an ISO date cell (``t="d"``: fastexcel drops what is finer
    than a millisecond), a text of its own (inline, or a formula's) that may be one of the
    texts fastexcel reads as a blank (:data:`.arrowcells.NA_TEXTS`), a number too large for
    fastexcel's dates (read as a blank in a date column)."""

    errors: bool
    na_texts: bool
    big_numbers: bool


_SHARED_STRINGS = "xl/sharedStrings.xml"
_NA_ALTERNATIVES = b"|".join(re.escape(xml_escape(t).encode())
                             for t in sorted(NA_TEXTS, key=len, reverse=True))
_NA_TEXT = re.compile(b">(?:" + _NA_ALTERNATIVES + b")</t>")  # a whole text (or run)
_OWN_NA_TEXT = re.compile(b">(?:" + _NA_ALTERNATIVES + b"|&lt;NA>)</[tv]>|<is>\\s*<r>")
"""In a sheet: an inline text, or a formula's text result (``<v>``), that is one; or an
inline rich text (its runs are not joined here)."""
_ENCODED_TEXT = re.compile(rb">([^<]{0,80}?&#[^<]{0,80}?)</[tv]>")
"""A short text written with character references (openpyxl writes every non-ASCII
character so): decoded, it may be one of the texts fastexcel reads as a blank."""
_OWN_TEXT_MARK = b'tr"'  # ends t="str" (a formula's text) and t="inlineStr" (an inline one)
_ISO_DATE_MARK = b't="d"'
_BIG_NUMBER = re.compile(rb"<v>-?\d{8}")
"""A number of 10,000,000 or more (fastexcel's dates end at 95 million days; those past
9999 it reads are refused by arrowcells)."""
_BIG_EXPONENT = re.compile(rb"<v>-?\d(?:\.\d*)?E\+\d")  # as Excel writes 1E+20


def _na_text_in(xml: bytes, plain: re.Pattern[bytes]) -> bool:
    """Whether ``xml`` holds one of :data:`.arrowcells.NA_TEXTS` as a whole text: as
    written (``plain``), or written with character references."""
    return plain.search(xml) is not None or (b"&#" in xml and any(
        html.unescape(m[1].decode("utf-8", "replace")) in NA_TEXTS
        for m in _ENCODED_TEXT.finditer(xml)))


def _sheet_marks(zf: zipfile.ZipFile, part: str) -> _Marks:
    """The part's :class:`_Marks`, read a megabyte at a time (its own texts are searched
    from the first chunk that has one on: Excel and XlsxWriter share them all)."""
    overlap = 64  # longer than any mark, number or text searched for, with its tags
    errors = na_texts = big = texts = False
    tail = b""
    with zf.open(part) as f:
        while chunk := f.read(_CHUNK):
            joint = tail + chunk[:overlap]  # a mark split between two chunks
            errors = errors or any(m in chunk or m in joint
                                   for m in (_ERROR_MARK, _ISO_DATE_MARK))
            texts = texts or _OWN_TEXT_MARK in chunk or _OWN_TEXT_MARK in joint
            window = tail + chunk
            if texts and not na_texts:
                na_texts = _na_text_in(window, _OWN_NA_TEXT)
            big = big or _BIG_NUMBER.search(window) is not None or (
                b"E+" in window and _BIG_EXPONENT.search(window) is not None)
            tail = chunk[-overlap:]
    return _Marks(errors, na_texts, big)


_RICH_TEXT = re.compile(rb"<si>(?:(?!</si>).)*?<r>.*?</si>", re.S)
_TEXT_RUN = re.compile(rb"<t(?:\s[^>]*)?>([^<]*)</t>")
_PHONETIC = re.compile(rb"<rPh\b.*?</rPh>", re.S)  # a reading guide: not part of the text


def _shared_na_texts(zf: zipfile.ZipFile) -> bool:
    """Whether the workbook's shared texts may hold one of :data:`.arrowcells.NA_TEXTS`
    (a whole text, or the runs of a rich text joined)."""
    name = _SHARED_STRINGS if _SHARED_STRINGS in zf.NameToInfo else next(
        (n for n in zf.namelist() if n.lower().endswith("sharedstrings.xml")), None)
    if name is None:
        return False  # no shared texts: every text is the sheet's own (_sheet_marks)
    data = zf.read(name)
    if _na_text_in(data, _NA_TEXT) or b"<![CDATA[" in data or re.search(
            rb"<\w+:t[\s>]", data):
        return True  # one, or texts written in ways this search does not read
    if b"<r>" not in data:
        return False
    return any(html.unescape(b"".join(_TEXT_RUN.findall(_PHONETIC.sub(b"", si[0]))).decode(
        "utf-8", "replace")) in NA_TEXTS for si in _RICH_TEXT.finditer(data))


def _error_cells(zf: zipfile.ZipFile, part: str) -> dict[tuple[int, int], str]:
    if not _has_error_cell(zf, part):
        return {}
    xml = zf.read(part)
    return {(int(m[2]) - 1, _col_index(m[1])): m[3].decode() for m in _ERROR_CELL.finditer(xml)}


class _Reader:
    """The workbook open for reading: fastexcel for the data sheets' typed columns,
    python-calamine for the values of the Settings sheet and of any sheet fastexcel's
    columns might not give exactly, the zip for what both leave out (Excel error values,
    the schema version)."""

    def __init__(self, path: Path, by_columns: bool | None = None) -> None:
        self.zip = zipfile.ZipFile(path)
        self.path = path
        self._fastexcel: Any = None  # opened on the reading thread, when first needed
        self._calamine: Any = None  # opened by the first rows(), under this lock:
        self._calamine_lock = threading.Lock()  # a calamine book is for one thread at a time
        self._scans: dict[str, Future[_Marks]] = {}
        self._na_texts: Future[bool] | None = None
        try:
            workbook = self.zip.read("xl/workbook.xml")
            self.parts = _sheet_parts(self.zip)
            self.by_columns = _data_xml_bytes(self.zip, self.parts) >= BY_COLUMNS_FROM \
                if by_columns is None else by_columns
            if _DATE_1904.search(workbook):
                self.by_columns = False  # arrowcells' date checks are for 1900's serials
            match = _SCHEMA_NAME.search(workbook)
            self.version = int(match[1]) if match and match[1].strip().isdigit() else None
            if not self.by_columns:
                self._open_calamine()  # as before: a file it cannot open fails here
            present = set(_sheet_names(workbook))
        except BaseException:
            self.close()
            raise
        self.names = [name for name in schema.USER_SHEETS if name in present]

    def _open_calamine(self) -> Any:
        if self._calamine is None:
            import python_calamine

            self._calamine = python_calamine.CalamineWorkbook.from_path(str(self.path))
        return self._calamine

    def grid(self, name: str) -> SheetGrid:
        """One sheet's values, Excel error values as :class:`CellError` (all on this
        thread)."""
        values = self.values(name)
        if isinstance(values, LoadedSheet):
            columns = sheet_columns(values)
            if columns is not None:
                return columns
            values = self.rows(name)
        return self.with_errors(name, values)

    def values(self, name: str) -> list[list[Any]] | LoadedSheet:
        """One sheet as the reading thread reads it: a data sheet loaded by fastexcel
        where it can be (see :meth:`load`), else the values as calamine reads them (an
        error value as an empty cell). Both parse the XML without the GIL, so this runs
        well beside the parser; fastexcel holds it not at all, calamine while it makes
        the Python values. Only the reading thread calls this (fastexcel's reader is for
        one thread); :meth:`rows` may be called from any, one at a time."""
        if self.by_columns and name in _BY_COLUMNS:
            loaded = self.load(name)
            if loaded is not None:
                return loaded
        return self.rows(name)

    def rows(self, name: str) -> list[list[Any]]:
        """The sheet's values as python-calamine reads them (on any one thread at a time)."""
        with self._calamine_lock:
            rows: list[list[Any]] = self._open_calamine().get_sheet_by_name(name).to_python(
                skip_empty_area=False)
        return rows

    def load(self, name: str) -> LoadedSheet | None:
        """The sheet loaded by fastexcel into typed Arrow columns, each of one type (it
        refuses a column that mixes types: calamine then reads the sheet, and the parser
        says which cell is wrong); None where its header is not the text of row 1, or
        where it holds an Excel error value (fastexcel reads one as a blank)."""
        import fastexcel

        part = self.parts.get(name)
        if part is None or not _header_is_text(self.zip, part):
            return None
        scan = self._scans.get(name)
        marks = scan.result() if scan is not None else _sheet_marks(self.zip, part)
        if marks.errors:
            return None
        if self._na_texts is None:  # not scanned ahead (read_grids): once for the book
            self._na_texts = Future()
            self._na_texts.set_result(_shared_na_texts(self.zip))
        na_texts = marks.na_texts or self._na_texts.result()
        try:
            if self._fastexcel is None:
                # it logs a warning for every blank column (it reads it as text): not news
                logging.getLogger("fastexcel").setLevel(logging.ERROR)
                self._fastexcel = fastexcel.read_excel(self.path)
            sheet = self._fastexcel.load_sheet(name, header_row=0, schema_sample_rows=None,
                                               dtype_coercion="strict")
            return loaded_sheet(sheet, na_texts, marks.big_numbers)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # its own types, a Rust panic too: calamine reads it instead
            return None

    def scan(self, pool: ThreadPoolExecutor) -> None:
        """Look through the XML of the sheets fastexcel will load, and the shared texts,
        for what its columns would not show (:class:`_Marks`, :func:`_shared_na_texts`),
        on ``pool``."""
        if self.by_columns:
            self._na_texts = pool.submit(_shared_na_texts, self.zip)
            for name in self.names:
                part = self.parts.get(name)
                if name in _BY_COLUMNS and part is not None:
                    self._scans[name] = pool.submit(_sheet_marks, self.zip, part)

    def with_errors(self, name: str, values: list[list[Any]]) -> SheetGrid:
        """``values`` (calamine's) with the sheet's Excel error values put back as
        :class:`CellError`, from the sheet's XML (inflating it lets go of the GIL too)."""
        part = self.parts.get(name)
        # calamine reads an error value as an empty cell: only a sheet with one may hold it
        if part is not None and any("" in row for row in values):
            for (r, c), code in _error_cells(self.zip, part).items():
                if r < len(values) and c < len(values[r]):
                    values[r][c] = CellError(code)
        return values

    def close(self) -> None:
        self._fastexcel = None  # its file handle goes with it (the writer replaces the file)
        try:
            with self._calamine_lock:
                if self._calamine is not None:
                    self._calamine.close()
        finally:
            self.zip.close()


_BY_COLUMNS = frozenset(t.sheet for t in schema.DATA_TABLES)
"""The sheets fastexcel may load: every data table's (Settings mixes types in its
columns: calamine reads it)."""
BY_COLUMNS_FROM = 10_000_000
"""The data sheets' XML, in bytes, from which fastexcel reads them: it takes about 0.4 s
off reading the large sample (52 MB: load_book 1.04 s against 1.44 s, bench_read.py) and
adds about 0.05 s to a small workbook (its imports and second open); the two took as
long between 5 and 16 MB (workbooks of 500 and 1,500 contracts cut from the sample)."""


def _data_xml_bytes(zf: zipfile.ZipFile, parts: Mapping[str, str]) -> int:
    """The data sheets' XML size, from the zip's directory (nothing is inflated)."""
    sizes = {info.filename: info.file_size for info in zf.infolist()}
    return sum(sizes.get(part, 0) for name, part in parts.items() if name in _BY_COLUMNS)


class _ReadFailed(Exception):
    """A sheet could not be read after the workbook opened (carries the cause)."""


# the order parse_book takes the sheets in: the reader keeps a step ahead of it
_PARSE_ORDER = ("Settings", *(t.sheet for t in schema.DATA_TABLES))
_AHEAD = 2  # calamine's sheets read ahead of the parser: more would only hold more grids
_AHEAD_LOADED = len(_PARSE_ORDER)  # fastexcel's: typed columns, a fraction of the size


class _Grids(Mapping[str, SheetGrid]):
    """The sheets of an open workbook, read on a second thread ahead of the parser:
    fastexcel or python-calamine parses the next sheet while the parser converts this
    one (fastexcel's loads go on to the last sheet: they hold no Python object). A grid is
    handed out once and then forgotten, so the parser's copy is the only one; asking for
    a sheet again reads it again."""

    def __init__(self, reader: _Reader, pool: ThreadPoolExecutor,
                 side: ThreadPoolExecutor | None = None) -> None:
        self._reader = reader
        self._pool = pool
        self._order = [n for n in _PARSE_ORDER if n in reader.names]
        self._order += [n for n in reader.names if n not in self._order]
        self._pending: dict[str, Future[list[list[Any]] | LoadedSheet]] = {}
        if side is not None and reader.by_columns and "Settings" in self._order:
            # calamine opens the book and reads Settings on the side thread while the
            # reading thread opens fastexcel and loads the first data sheet
            self._order.remove("Settings")
            self._pending["Settings"] = side.submit(reader.rows, "Settings")
        self._next = 0
        self._top_up()

    def _top_up(self) -> None:
        ahead = _AHEAD_LOADED if self._reader.by_columns else _AHEAD
        while len(self._pending) < ahead and self._next < len(self._order):
            self._next_one()

    def __getitem__(self, name: str) -> SheetGrid:
        if name not in self._reader.names:
            raise KeyError(name)
        while name not in self._pending and name in self._order and \
                self._order.index(name) >= self._next:
            self._next_one()  # a sheet asked for out of order: read up to it
        future = self._pending.pop(name, None)
        if future is None:  # handed out before: read again (on the reading thread)
            future = self._pool.submit(self._reader.values, name)
        try:
            values = future.result()
            self._top_up()
            if isinstance(values, LoadedSheet):  # converted here: the reading thread reads on
                columns = sheet_columns(values)  # uses no reader: any thread
                if columns is not None:
                    return columns
                # calamine reads it after all, on its thread (a time of day alone, say)
                values = self._pool.submit(self._reader.rows, name).result()
            # here, not on the reading thread: that one has the more work
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


def read_grids(path: Path, by_columns: bool | None = False
               ) -> tuple[dict[str, SheetGrid], int | None]:
    """Every user-owned sheet present in the workbook as a grid, plus its schema version:
    one sheet after another, as calamine reads them (``by_columns``: the data sheets as
    :func:`load_book` reads them, :class:`~.parse.Columns` where fastexcel can).

    Raises on a file that is not a readable workbook; :func:`load_book` turns that into
    a problem.
    """
    reader = _Reader(path, by_columns)
    try:
        return {name: reader.grid(name) for name in reader.names}, reader.version
    finally:
        reader.close()


def load_book(path: Path, preload: Sequence[str] = (), *, by_columns: bool | None = None
              ) -> tuple[Book | None, tuple[Problem, ...]]:
    """The validated book, or ``None`` with the reason when the file cannot be read.

    The sheets are parsed as they are read: a second thread loads the next sheets (with
    fastexcel, or python-calamine: see :class:`_Reader`) while this one converts and
    checks the last; a third looks for Excel error values. ``preload``: modules the
    caller needs next, imported on a fourth thread meanwhile (see :mod:`.preload`); they
    are imported when this returns. fastexcel reads the data sheets of a workbook
    whose data sheets' XML is :data:`BY_COLUMNS_FROM` bytes or more, or with
    ``by_columns=True``; ``by_columns=False`` reads every sheet with python-calamine
    (the same book and problems: tests compare them).
    """
    name = path.name
    if not path.exists():
        return None, (Problem(name, "", f"file not found: {path}"),)
    if path.is_dir():
        return None, (Problem(name, "", "is a folder, not an Excel workbook"),)
    try:
        reader = _Reader(path, by_columns)
    except Exception as exc:  # any reader failure is one clear message, not a traceback
        return None, (_unreadable(name, exc),)
    try:
        with Preload(preload), ThreadPoolExecutor(1, thread_name_prefix="reader") as pool, \
                ThreadPoolExecutor(1, thread_name_prefix="scanner") as scans, gc_paused():
            try:
                grids = _Grids(reader, pool, scans)
                reader.scan(scans)
                if reader.by_columns:  # what the conversion needs, while the first loads
                    import nanoarrow  # noqa: F401
                    import numpy  # noqa: F401
                book, problems = parse_book(grids, reader.version)
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
