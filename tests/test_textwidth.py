"""Tests of textwidth: the one estimate of column widths and wrapped lines."""

from __future__ import annotations

import pytest

from contract_tracker.textwidth import text_width, widest_line, wrapped_lines


def test_text_width_counts_wide_and_full_width_characters_double() -> None:
    assert text_width("abc") == 3
    assert text_width("四川省成都市") == 12
    assert text_width("810号1号楼2003室（甲）") == 8 + 2 * 7  # （） are full-width
    assert text_width("é—…") == 3  # accented, ambiguous and narrow: one unit each


def test_widest_line_is_the_widest_not_the_longest() -> None:
    # 5 CJK characters (10 units) are wider than 6 ASCII letters, though fewer.
    assert widest_line("中文中文中\nabcdef") == 10
    assert widest_line("abcdefghijkl\n中文") == 12
    assert widest_line("") == 0


@pytest.mark.parametrize(("text", "room", "lines"), [
    ("x" * 48, 48, 1),  # exactly full
    ("x" * 49, 48, 2),  # one character over
    ("中" * 24, 48, 1),
    ("中" * 24 + "x", 48, 2),
    ("", 10, 1),  # an empty line is still a line
    ("a\n\nb", 10, 3),
    ("x" * 11 + "\n" + "y", 10, 3),  # each line wraps on its own
    ("abc", 0, 3),  # no room at all: a character a line
])
def test_wrapped_lines_at_the_edges(text: str, room: float, lines: int) -> None:
    assert wrapped_lines(text, room) == lines
