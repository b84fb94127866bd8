"""Money as Decimal: the one way a cell becomes an amount, and the one rounding rule.

``to_decimal`` converts a cell value once, through ``repr`` for floats so that 2.675
stays 2.675 (``Decimal(2.675)`` is 2.67499...). ``round_fen`` rounds half-up to 0.01,
as the contract's amounts are stated; Decimal's default context would round half-even.

Numbers of :data:`MAX_AMOUNT` (10^15, a thousand trillion yuan) or more are not amounts
anyone typed on purpose (1E+300 is a slip of the keyboard); ``implausible`` says so, so
that the reader rejects the cell instead of failing later when Decimal's 28-digit
context cannot round it.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0")
MAX_AMOUNT = Decimal(10) ** 15
"""Amounts, rates and counts must be below this (10^15); anything larger is a typing slip."""
MAX_AMOUNT_FLOAT = float(MAX_AMOUNT)
EXACT = Context(prec=60)
"""For products and quotients of amounts: Decimal's default 28 digits would round the fee
of the largest amount x a many-digit rate x decades of days; 60 digits keep every digit
(17 of an amount + 5 of days + the rate's) and so the half-fen decision right."""


def implausible(number: Decimal) -> str | None:
    """Why ``number`` cannot be an amount or count (too large, not finite), or None."""
    if not number.is_finite():
        return "is not a finite number"
    if abs(number) >= MAX_AMOUNT:
        return ("is too large to be an amount or count (10^15 or more): check the cell "
                "for a typing slip")
    return None


_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
"""A number whose commas group thousands: 1,234 or 1,234,567.89, and nothing else."""


def to_decimal(value: object) -> Decimal | None:
    """A cell value as Decimal, or None when it is not a number (bools are not numbers).

    Text may carry ¥ / ￥, a trailing 元 or 元整, a trailing % and full-width digits and
    signs. A comma must group thousands: 90000,00 (a decimal comma) or 4,50,00 is not a
    number, rather than 9,000,000 or 45,000 (found in review)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            text = ascii_forms(text).strip()  # ４５，０００．００ -> 45,000.00
        text = text.replace("¥", "").lstrip()
        for unit in ("元整", "元"):
            if text.endswith(unit):
                text = text[:-len(unit)].rstrip()
                break
        percent = text.endswith("%")
        if percent:
            text = text[:-1].rstrip()
        if "," in text:
            if not _GROUPED.fullmatch(text):
                return None
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        return number / 100 if percent else number
    return None


_FULL_WIDTH = {**{cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}, 0x3000: 0x20,
               0xFFE5: 0xA5}
"""Full-width ASCII forms (ＡＢ１２，．％) and the ideographic space to ASCII, ￥ to ¥."""


def ascii_forms(text: str) -> str:
    """``text`` with full-width letters, digits and signs as ASCII, and nothing else
    changed (NFKC would also turn ² into 2 and ① into 1: found in review)."""
    return text.translate(_FULL_WIDTH)


_NUMBER_CHARS = re.compile(r"[\d.,+\-%¥\s]|元整|元")


def number_hint(value: object) -> str:
    """What to do about text that is not a number (for the cell's problem)."""
    text = ascii_forms(str(value)).strip()
    if "万" in text or "千" in text or "亿" in text:
        return ": type the digits, e.g. 45000 for 4.5万"
    if _NUMBER_CHARS.sub("", text):
        return ": type only the number (45000 or 45,000.00), without words or units"
    if "," in text:
        return (": a comma may only group thousands by three digits (90,000.00); decimals "
                "take a point")
    return ": type digits, e.g. 45000 or 45,000.00"


def round_fen(amount: Decimal) -> Decimal:
    """Round half-up to 0.01 (553.395 -> 553.40)."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def fmt_money(amount: Decimal) -> str:
    """Two decimals, no separators: the JSON and CSV form of an amount."""
    return str(round_fen(amount))


def fmt_money_grouped(amount: Decimal) -> str:
    """1,234,567.89, for text meant to be read."""
    return f"{round_fen(amount):,.2f}"


def fmt_quantity(number: Decimal) -> str:
    """A count or number of minutes for a message: 50,000 and 12.5, not 50000.0."""
    return f"{number.normalize():,f}"
