"""Amounts in Chinese capitals (大写), amounts in English words, rates and dates as text.

``rmb_capitals`` is the one function that writes an amount in capitals. It follows the
rules of the People's Bank of China for filling in bills (《正确填写票据和结算凭证的基本规定》):

* the amount is first rounded half-up to the fen (``cn2an`` truncates: do not rely on it);
* ``人民币`` stands right before the amount;
* only 壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分零整 are used, and every 拾 carries its digit
  (10 → 壹拾元整, 1010 → 壹仟零壹拾元整);
* a zero inside the number is written 零, and a run of zeros is one 零
  (2107.09 → 贰仟壹佰零柒元零玖分, 100010000 → 壹亿零壹万元整);
* zeros at the end of the 元 part are not written (100000 → 壹拾万元整);
* 整 follows 元 when there are no 角 and no 分; nothing follows 角 or 分
  (10.50 → 壹拾元伍角, 10.55 → 壹拾元伍角伍分);
* when 角 is zero and 分 is not, 零 is written after 元 (325.04 → 叁佰贰拾伍元零肆分); when the
  元 digit is zero and 角 is not, the optional 零 is left out (1680.32 → 壹仟陆佰捌拾元叁角贰分);
* amounts below one yuan start at the first non-zero unit (0.05 → 人民币伍分);
* zero is 人民币零元整; negative amounts are refused.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..money import to_decimal

__all__ = [
    "MAX_AMOUNT",
    "as_amount",
    "cn_date",
    "cn_small_number",
    "en_date",
    "format_number",
    "format_percent",
    "rate_words_cn",
    "rmb_capitals",
    "rmb_words_en",
]

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS_4 = ("仟", "佰", "拾", "")
_FEN = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000000000000")  # 1 亿亿: beyond any contract, refused
"""Amounts must stay below this (10^16 yuan)."""


def as_amount(value: object) -> Decimal:
    """``value`` as a non-negative Decimal rounded half-up to the fen.

    Accepts Decimal, int, float (through ``repr``, so 2.675 is 2.675) and numeric text;
    refuses bools, NaN, infinities, negative amounts and amounts of 10^16 or more.
    """
    if isinstance(value, bool):
        raise TypeError("an amount cannot be a bool")
    number = to_decimal(value)
    if number is None or not number.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    if number < 0:
        raise ValueError(f"negative amounts have no capitals: {value!r}")
    try:
        rounded = number.quantize(_FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # too many digits for the context
        raise ValueError(f"amount too large: {value!r}") from exc
    if rounded >= MAX_AMOUNT:
        raise ValueError(f"amount too large: {value!r}")
    return rounded


def _below_10k(n: int) -> str:
    """1 <= n <= 9999 in capitals: inner zeros as one 零, trailing zeros dropped."""
    out: list[str] = []
    pending_zero = False
    for digit, unit in zip(f"{n:04d}", _UNITS_4, strict=True):
        d = int(digit)
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[d] + unit)
    return "".join(out)


def _integer(n: int) -> str:
    """n >= 1 in capitals, grouped by 亿 and 万 (15000_0000_0000 → 壹万伍仟亿)."""
    if n >= 100_000_000:
        high, low = divmod(n, 100_000_000)
        text = _integer(high) + "亿"
        if low:
            text += ("零" if low < 10_000_000 else "") + _integer(low)
        return text
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        text = _below_10k(high) + "万"
        if low:
            text += ("零" if low < 1_000 else "") + _below_10k(low)
        return text
    return _below_10k(n)


def rmb_capitals(value: object, *, prefix: str = "人民币") -> str:
    """The amount in Chinese capitals with the 人民币 prefix.

    ``2107.09`` → ``人民币贰仟壹佰零柒元零玖分``, ``100000`` → ``人民币壹拾万元整``.

    Rounds half-up to the fen first (``0.005`` → ``人民币壹分``). Raises ``ValueError`` for
    negative, non-numeric or too large amounts and ``TypeError`` for bools.
    """
    amount = as_amount(value)
    fen_total = int(amount * 100)
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    if yuan == 0 and rest == 0:
        return f"{prefix}零元整"
    parts: list[str] = []
    if yuan:
        parts.append(_integer(yuan) + "元")
        if rest == 0:
            parts.append("整")
        elif jiao == 0:
            parts.append("零")
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    if fen:
        parts.append(_DIGITS[fen] + "分")
    return prefix + "".join(parts)


# --- English ------------------------------------------------------------------------

_ONES = (
    "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
    "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen",
    "Eighteen", "Nineteen",
)
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")
_SCALES = ((10**12, "Trillion"), (10**9, "Billion"), (10**6, "Million"), (1000, "Thousand"))


def _en_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words: list[str] = []
    if hundreds:
        words.append(f"{_ONES[hundreds]} Hundred")
    if rest:
        if hundreds:
            words.append("and")
        if rest < 20:
            words.append(_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(words)


def _en_integer(n: int) -> str:
    if n == 0:
        return "Zero"
    words: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            high, n = divmod(n, scale)
            words.append(f"{_en_below_1000(high)} {name}")
    if n:
        if words and n < 100:
            words.append("and")
        words.append(_en_below_1000(n))
    return " ".join(words)


def rmb_words_en(value: object) -> str:
    """The amount in English words: ``2107.09`` → ``Renminbi Two Thousand One Hundred and Seven
    Yuan and Nine Fen Only``; rounded half-up to the fen first, negatives refused."""
    amount = as_amount(value)
    fen_total = int(amount * 100)
    yuan, fen = divmod(fen_total, 100)
    if yuan == 0 and fen:
        return f"Renminbi {_en_integer(fen)} Fen Only"
    text = f"Renminbi {_en_integer(yuan)} Yuan"
    if fen:
        text += f" and {_en_integer(fen)} Fen"
    return text + " Only"


# --- numbers, rates and dates ------------------------------------------------------------

_SMALL = "零一二三四五六七八九"


def cn_small_number(value: Decimal | int) -> str:
    """A non-negative number in ordinary Chinese numerals: 5 → 五, 15 → 十五, 105 → 一百零五,
    3.5 → 三点五. Integers up to 99,999,999; used for rates and counts in running text."""
    number = Decimal(value)
    if number < 0 or not number.is_finite():
        raise ValueError(f"not a non-negative number: {value!r}")
    text = format_number(number)
    whole, _, frac = text.partition(".")
    n = int(whole)
    if n >= 100_000_000:
        raise ValueError(f"number too large: {value!r}")
    if n == 0:
        head = "零"
    else:
        head = _integer(n)
        for cap, small in zip("壹贰叁肆伍陆柒捌玖拾佰仟", "一二三四五六七八九十百千", strict=True):
            head = head.replace(cap, small)
        if 10 <= n < 20:
            head = head[1:]  # 一十五 → 十五
    if frac:
        head += "点" + "".join(_SMALL[int(d)] for d in frac)
    return head


def format_number(value: Decimal | int) -> str:
    """A Decimal without exponent or trailing zeros: 2 → '2', 1.50 → '1.5', 0.0005 → '0.0005'."""
    number = Decimal(value)
    text = f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def format_percent(fraction: Decimal) -> str:
    """A fraction as a percentage without trailing zeros: 0.999 → '99.9%', 0.0005 → '0.05%'."""
    return f"{format_number(Decimal(fraction) * 100)}%"


def rate_words_cn(rate: Decimal) -> str:
    """A rate the way Chinese contracts write it: 0.0005 → 万分之五, 0.003 → 千分之三,
    0.01 → 百分之一, 0.0015 → 万分之十五, 0.00035 → 万分之三点五, 0 → 零."""
    rate = Decimal(rate)
    if rate < 0 or not rate.is_finite():
        raise ValueError(f"not a rate: {rate!r}")
    if rate == 0:
        return "零"
    for scale, word in ((100, "百分之"), (1000, "千分之"), (10000, "万分之")):
        scaled = rate * scale
        if scaled == scaled.to_integral_value():
            return word + cn_small_number(scaled)
    return "万分之" + cn_small_number(rate * 10000)


_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)


def cn_date(day: dt.date) -> str:
    """2026-03-31 → '2026年3月31日' (no leading zeros, as contracts print dates)."""
    return f"{day.year}年{day.month}月{day.day}日"


def en_date(day: dt.date) -> str:
    """2026-03-31 → '31 March 2026'."""
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
