"""How wide text is in a spreadsheet column, and how many lines it wraps to.

One estimate for every sheet the tool writes (user sheets built by ``build``, the
Dashboard, Workings and the weekly report), in Excel's column-width units: an East Asian
wide or full-width character (汉字, （）, ，) counts two, every other character one. Column
widths and row heights are set from it, because neither Excel nor LibreOffice grows a
row for wrapped text when the file is opened.
"""

from __future__ import annotations

import math
import re
import unicodedata

_NON_ASCII = re.compile("[^\x00-\x7f]")
_EXTRA: dict[str, int] = {}  # non-ASCII character -> 1 when wide or full-width, else 0


def text_width(text: str) -> int:
    """Width units of ``text`` on one line (a line break counts as a character)."""
    if text.isascii():
        return len(text)
    n = len(text)
    extra = _EXTRA
    for ch in _NON_ASCII.findall(text):
        x = extra.get(ch)
        if x is None:
            x = extra[ch] = 1 if unicodedata.east_asian_width(ch) in "WF" else 0
        n += x
    return n


def widest_line(text: str) -> int:
    """Width units of the widest of ``text``'s lines (the widest, not the longest)."""
    if "\n" not in text:
        return text_width(text)
    return max(map(text_width, text.split("\n")))


def wrapped_lines(text: str, room: float) -> int:
    """Lines ``text`` takes in a wrapping column with ``room`` units per line: each of
    its lines broken at the room, an empty line still one line."""
    room = max(room, 1)
    if "\n" not in text:  # the common case, kept quick: Workings has 100,000s of cells
        return max(1, math.ceil(text_width(text) / room))
    return sum(max(1, math.ceil(text_width(line) / room)) for line in text.split("\n"))
