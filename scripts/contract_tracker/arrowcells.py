"""A sheet fastexcel loaded, as the cell values python-calamine would give, a column at a
time.

fastexcel loads a sheet into typed Arrow columns without holding the GIL; nanoarrow
hands over their buffers (through the Arrow C data interface: no pyarrow), and numpy
turns each column into Python values in one go:

* a text column: the column's UTF-8 bytes joined with a NUL between cells, decoded and
  split once (not a Python object made per slice);
* a number column: floats;
* a date column (milliseconds since 1970): a ``date`` for a cell with no time of day, a
  ``datetime`` otherwise (as calamine reads them);
* a blank cell: ``""`` (as calamine reads it).

One difference is left, and documented: fastexcel keeps a moment to the millisecond,
rounded, so a moment within half a millisecond of midnight whose serial is not a whole
day (a formula's result, by float error: 1/24 added 24 times) is the day here, and
midnight, a ``datetime``, to calamine. The parser makes the same date, moment or month
of both; a text field holding such a cell shows '2026-01-01' here and '2026-01-01 00:00'
by rows, and a problem about it in a column of numbers shows it without the time.

Whatever else might convert otherwise than calamine does makes :func:`sheet_columns`
answer None, and the caller reads the sheet with calamine: a time of day alone or a day
before 1 March 1900 (calamine gives a ``time``, or counts Excel's 29 February 1900), a
day past 9999, a duration, truth values (fastexcel reads ``false`` typed in the XML as
true), a whole-number column, a text holding NUL, columns that do not start at A, a
header fastexcel may have renamed (it adds ``_1`` to a repeated one), a NaN, and a blank
in a column of numbers or dates where the workbook may hold one of the texts fastexcel
reads as a blank there (:data:`NA_TEXTS`), or in a date column where the sheet holds a
number too large for fastexcel's dates (it reads one as a blank).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple, cast

from .parse import Columns

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAY_MS = 86_400_000
_FIRST_DAY_MS = (dt.date(1900, 3, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_MS
_END_MS = (dt.date(9999, 12, 31).toordinal() + 1 - _EPOCH_ORDINAL) * _DAY_MS  # Python's last
_RENAMED = re.compile(r"(.*)_\d+", re.S)
_DAYS: dict[int, dt.date] = {}  # days since 1970 -> date, each made once

NA_TEXTS = frozenset({"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                      "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                      "nan", "null"})
"""Texts fastexcel 0.21 reads as a blank in a column of numbers or dates instead of
refusing the column ("NaN" and "nan", with or without a minus, as a float NaN): pandas'
default missing-value strings (found by tests/test_arrowcells.py; the empty text is left
out, as calamine reads it as a blank too). Where the workbook may hold one, a blank in
such a column may be a text, and the sheet is read by calamine."""


class Column(NamedTuple):
    """What fastexcel says of a column: its header (``from_header``: else a name it made
    up for a blank header cell), its position in the sheet (0: column A) and its type."""

    name: str
    from_header: bool
    position: int
    dtype: str


class LoadedSheet(NamedTuple):
    """A sheet fastexcel loaded, taken out of fastexcel's objects on the thread that loaded
    it (its reader is not to be used from two threads at once). ``na_texts``: whether the
    workbook may hold one of :data:`NA_TEXTS` that this sheet uses."""

    columns: tuple[Column, ...]
    batch: Any  # a nanoarrow Array: the sheet as a struct of columns
    height: int
    na_texts: bool
    big_numbers: bool  # a number past fastexcel's dates, which it reads as a blank there


def loaded_sheet(sheet: Any, na_texts: bool, big_numbers: bool) -> LoadedSheet:
    """A fastexcel ``ExcelSheet``'s columns and data (through the Arrow C interface)."""
    import nanoarrow as na

    columns = tuple(Column(str(i.name), i.column_name_from == "looked_up",
                           int(i.absolute_index), str(i.dtype))
                    for i in sheet.available_columns())
    return LoadedSheet(columns, na.Array(sheet), int(sheet.height), na_texts, big_numbers)


def sheet_columns(sheet: LoadedSheet) -> Columns | None:
    """A loaded sheet's cells, for the parser (a blank header cell is ""), or None where
    they might differ from calamine's."""
    infos = sheet.columns
    if [i.position for i in infos] != list(range(len(infos))):
        return None  # the cells' range does not start in column A
    names = {i.name for i in infos}
    header: list[object] = []
    for info in infos:
        if info.from_header:
            renamed = _RENAMED.fullmatch(info.name)
            if renamed and renamed[1] in names:
                return None  # maybe fastexcel's name for a repeated header
            header.append(info.name)
        else:
            header.append("")  # a blank header cell, named by fastexcel
    height = sheet.height
    columns: list[list[object]] = []
    for n, info in enumerate(infos):
        column = _column(sheet.batch.child(n), info.dtype, height,
                         sheet.na_texts or (info.dtype == "datetime" and sheet.big_numbers))
        if column is None:
            return None
        columns.append(column)
    return Columns(header, columns, height)


def _column(child: Any, dtype: str, height: int, suspect_blanks: bool
            ) -> list[object] | None:
    """One column's cells; None where they might differ (a
    blank in a column of numbers or dates that may be something else: one of
    :data:`NA_TEXTS`, or in a date column a number past fastexcel's dates; a NaN: Excel
    stores none)."""
    import nanoarrow as na
    import numpy as np

    if child.offset or len(child) != height:
        return None
    if dtype == "null":
        return [""] * height
    buffers = child.buffers
    nulls: list[int] = []
    if len(buffers[0]):  # a validity bitmap: a clear bit is a blank cell
        bits = np.unpackbits(np.frombuffer(buffers[0], np.uint8), bitorder="little")
        nulls = np.flatnonzero(bits[:height] == 0).tolist()
    kind = child.schema.type
    values: list[object]
    if dtype == "string" and kind in (na.Type.STRING, na.Type.LARGE_STRING):
        offsets: Any = np.frombuffer(buffers[1], np.int64 if kind == na.Type.LARGE_STRING
                                     else np.int32)
        data = np.frombuffer(buffers[2], np.uint8)[:int(offsets[-1])]
        if len(offsets) != height + 1 or offsets[0] != 0 or not data.all():
            return None  # a NUL in a text would split it in two
        joined = np.insert(data, offsets[1:-1], 0).tobytes()
        texts: list[str] = joined.decode("utf-8").split("\x00") if height else []
        return cast(list[object], texts)  # a blank cell's text is "" already
    if nulls and suspect_blanks:
        return None
    if dtype == "float" and kind == na.Type.DOUBLE:
        numbers = np.frombuffer(buffers[1], np.float64)[:height]
        if np.isnan(numbers).any() and (not nulls or np.isnan(
                np.delete(numbers, nulls)).any()):
            return None  # "NaN" typed as text
        values = numbers.tolist()
    elif dtype == "datetime" and kind == na.Type.TIMESTAMP and \
            child.schema.unit == na.TimeUnit.MILLI and not child.schema.timezone:
        converted = _moments(np.frombuffer(buffers[1], np.int64)[:height], nulls)
        if converted is None:
            return None
        values = converted
    else:
        return None
    for j in nulls:
        values[j] = ""
    return values


def _moments(ms: Any, nulls: list[int]) -> list[object] | None:
    """Milliseconds since 1970 as calamine's dates and datetimes (a blank's is made and
    then replaced); None for a moment calamine reads otherwise."""
    import numpy as np

    if nulls:
        ms = ms.copy()
        ms[nulls] = _FIRST_DAY_MS
    if len(ms) and (int(ms.min()) < _FIRST_DAY_MS or int(ms.max()) >= _END_MS):
        return None  # calamine: a time of day, or a number (no Python date holds it)
    whole = ms % _DAY_MS == 0
    values: list[object]
    if whole.all():  # a column of dates: most days recur, each is made once
        days = _DAYS
        values = []
        for d in (ms // _DAY_MS).tolist():
            day = days.get(d)
            if day is None:
                day = days[d] = dt.date.fromordinal(d + _EPOCH_ORDINAL)
            values.append(day)
        return values
    values = ms.astype("datetime64[ms]").astype("datetime64[us]").tolist()
    for j in np.flatnonzero(whole).tolist():
        values[j] = cast(dt.datetime, values[j]).date()
    return values
