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


def to_decimal(value: object) -> Decimal | None:
    """A cell value as Decimal, or None when it is not a number (bools are not numbers)."""
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
        text = value.strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
        if text.endswith("元"):
            text = text[:-1]
        percent = text.endswith("%")
        if percent:
            text = text[:-1]
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        return number / 100 if percent else number
    return None


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
