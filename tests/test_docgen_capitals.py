"""Amounts in capitals (大写), English words, rates and dates."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tracker.docgen.capitals import (
    cn_date,
    cn_small_number,
    en_date,
    format_number,
    format_percent,
    rate_words_cn,
    rmb_capitals,
    rmb_words_en,
)

RULE_CASES = [
    # the rule cases of pitfalls.md / the issue
    ("2107.09", "人民币贰仟壹佰零柒元零玖分"),
    ("100000", "人民币壹拾万元整"),
    ("10.50", "人民币壹拾元伍角"),
    ("0.05", "人民币伍分"),
    ("1000000.01", "人民币壹佰万元零壹分"),
    # the PBOC examples (《正确填写票据和结算凭证的基本规定》)
    ("1409.50", "人民币壹仟肆佰零玖元伍角"),
    ("16409.02", "人民币壹万陆仟肆佰零玖元零贰分"),
    ("325.04", "人民币叁佰贰拾伍元零肆分"),
    ("1680.32", "人民币壹仟陆佰捌拾元叁角贰分"),
    ("107000.53", "人民币壹拾万柒仟元伍角叁分"),
    # small amounts and zero
    ("0", "人民币零元整"),
    ("0.00", "人民币零元整"),
    ("0.01", "人民币壹分"),
    ("0.10", "人民币壹角"),
    ("0.5", "人民币伍角"),
    ("0.55", "人民币伍角伍分"),
    ("1", "人民币壹元整"),
    ("1.01", "人民币壹元零壹分"),
    ("1.10", "人民币壹元壹角"),
    # 拾 always with its digit, inner zeros one 零, trailing zeros dropped
    ("10", "人民币壹拾元整"),
    ("15", "人民币壹拾伍元整"),
    ("20", "人民币贰拾元整"),
    ("101", "人民币壹佰零壹元整"),
    ("110", "人民币壹佰壹拾元整"),
    ("1001", "人民币壹仟零壹元整"),
    ("1010", "人民币壹仟零壹拾元整"),
    ("1100", "人民币壹仟壹佰元整"),
    ("9999.99", "人民币玖仟玖佰玖拾玖元玖角玖分"),
    ("1000.05", "人民币壹仟元零伍分"),
    ("1000.50", "人民币壹仟元伍角"),
    # 万 boundaries
    ("10000", "人民币壹万元整"),
    ("10001", "人民币壹万零壹元整"),
    ("10010", "人民币壹万零壹拾元整"),
    ("10100", "人民币壹万零壹佰元整"),
    ("11000", "人民币壹万壹仟元整"),
    ("100700", "人民币壹拾万零柒佰元整"),
    ("120000", "人民币壹拾贰万元整"),
    ("1000000", "人民币壹佰万元整"),
    ("1000001", "人民币壹佰万零壹元整"),
    ("10000000", "人民币壹仟万元整"),
    ("10000100", "人民币壹仟万零壹佰元整"),
    ("99999999.99", "人民币玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    # 亿 boundaries
    ("100000000", "人民币壹亿元整"),
    ("100000001", "人民币壹亿零壹元整"),
    ("100010000", "人民币壹亿零壹万元整"),
    ("101000000", "人民币壹亿零壹佰万元整"),
    ("110000000", "人民币壹亿壹仟万元整"),
    ("100000000.10", "人民币壹亿元壹角"),
    ("1000000000", "人民币壹拾亿元整"),
    ("1200300400.05", "人民币壹拾贰亿零叁拾万零肆佰元零伍分"),
    ("1500000000000", "人民币壹万伍仟亿元整"),
    ("1234567890123.45", "人民币壹万贰仟叁佰肆拾伍亿陆仟柒佰捌拾玖万零壹佰贰拾叁元肆角伍分"),
    ("9999999999999999.99",
     "人民币玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("10000000000000000", None),  # 10^16: too large, refused
]


@pytest.mark.parametrize(("amount", "expected"), RULE_CASES)
def test_rule_cases(amount: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="too large"):
            rmb_capitals(amount)
    else:
        assert rmb_capitals(Decimal(amount)) == expected
        assert rmb_capitals(amount) == expected


@pytest.mark.parametrize(("amount", "expected"), [
    ("2.675", "人民币贰元陆角捌分"),  # half-up, not half-even, not truncated
    ("2.665", "人民币贰元陆角柒分"),
    ("0.005", "人民币壹分"),
    ("0.004", "人民币零元整"),
    ("9.995", "人民币壹拾元整"),
    ("99999.995", "人民币壹拾万元整"),
    ("1.0049", "人民币壹元整"),
    ("1.005", "人民币壹元零壹分"),
])
def test_rounds_half_up_to_the_fen_first(amount: str, expected: str) -> None:
    assert rmb_capitals(Decimal(amount)) == expected


def test_floats_go_through_repr_and_ints_work() -> None:
    assert rmb_capitals(2.675) == "人民币贰元陆角捌分"  # Decimal(2.675) would give 2.67
    assert rmb_capitals(100000) == "人民币壹拾万元整"
    assert rmb_capitals("1,234.50") == "人民币壹仟贰佰叁拾肆元伍角"


def test_cn2an_truncates_which_is_why_it_is_not_used() -> None:
    import cn2an  # a test dependency (requirements.txt) for this comparison only
    assert cn2an.an2cn("2.675", "rmb") == "贰元陆角柒分"
    assert rmb_capitals("2.675") == "人民币贰元陆角捌分"


@pytest.mark.parametrize("bad", ["-1", "-0.01", "-0.001", Decimal("-5")])
def test_negative_amounts_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="negative"):
        rmb_capitals(bad)


@pytest.mark.parametrize("bad", ["abc", "", None, float("nan"), float("inf"), Decimal("NaN"),
                                 "1e400000"])
def test_non_amounts_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        rmb_capitals(bad)


def test_bool_refused() -> None:
    with pytest.raises(TypeError):
        rmb_capitals(True)


def test_prefix_can_be_changed() -> None:
    assert rmb_capitals("5", prefix="") == "伍元整"


# --- an independent reading of the capitals back into a number --------------------------

_D = "零壹贰叁肆伍陆柒捌玖"
_U = {"拾": 10, "佰": 100, "仟": 1000}


def _parse_int(text: str) -> int:
    if "亿" in text:
        i = text.rindex("亿")
        return _parse_int(text[:i]) * 100_000_000 + _parse_int(text[i + 1:])
    if "万" in text:
        i = text.rindex("万")
        return _parse_int(text[:i]) * 10_000 + _parse_int(text[i + 1:])
    total, digit = 0, 0
    for ch in text:
        if ch in _U:
            total += digit * _U[ch]
            digit = 0
        else:
            digit = _D.index(ch)
    return total + digit


def _parse(caps: str) -> Decimal:
    assert caps.startswith("人民币")
    text = caps.removeprefix("人民币").removesuffix("整")
    yuan, _, rest = text.rpartition("元") if "元" in text else ("", "", text)
    value = Decimal(_parse_int(yuan)) if yuan else Decimal(0)
    rest = rest.removeprefix("零")
    if "角" in rest:
        value += Decimal(_D.index(rest[0])) / 10
        rest = rest[2:]
    if "分" in rest:
        value += Decimal(_D.index(rest[0])) / 100
    return value


_amounts = st.decimals(min_value=0, max_value=Decimal("999999999999.999"), places=3,
                       allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(_amounts)
def test_capitals_read_back_to_the_rounded_amount(amount: Decimal) -> None:
    caps = rmb_capitals(amount)
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert _parse(caps) == rounded
    body = caps.removeprefix("人民币")
    assert set(body) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    assert "零零" not in body
    for unit in "元万亿角分":
        assert f"零{unit}" not in body or body == "零元整"
    assert body.endswith("整") == (rounded == rounded.to_integral_value())
    assert "分整" not in body and "角整" not in body
    assert not body.startswith("零") or body == "零元整"
    if rounded >= 10:
        assert not body.startswith("拾")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**12 - 1), st.integers(min_value=0, max_value=99))
def test_words_and_capitals_agree_on_fen(yuan: int, fen: int) -> None:
    amount = Decimal(yuan) + Decimal(fen) / 100
    words = rmb_words_en(amount)
    assert words.startswith("Renminbi ") and words.endswith(" Only")
    assert ("Fen" in words) == (fen != 0)


@pytest.mark.parametrize(("amount", "expected"), [
    ("2107.09", "Renminbi Two Thousand One Hundred and Seven Yuan and Nine Fen Only"),
    ("100000", "Renminbi One Hundred Thousand Yuan Only"),
    ("10.50", "Renminbi Ten Yuan and Fifty Fen Only"),
    ("0.05", "Renminbi Five Fen Only"),
    ("0", "Renminbi Zero Yuan Only"),
    ("1000000.01", "Renminbi One Million Yuan and One Fen Only"),
    ("1001", "Renminbi One Thousand and One Yuan Only"),
    ("21", "Renminbi Twenty-One Yuan Only"),
    ("123456789.99", "Renminbi One Hundred and Twenty-Three Million Four Hundred and "
                     "Fifty-Six Thousand Seven Hundred and Eighty-Nine Yuan and Ninety-Nine "
                     "Fen Only"),
])
def test_english_words(amount: str, expected: str) -> None:
    assert rmb_words_en(amount) == expected


def test_english_words_refuse_negative() -> None:
    with pytest.raises(ValueError):
        rmb_words_en("-1")


@pytest.mark.parametrize(("rate", "expected"), [
    ("0.0005", "万分之五"), ("0.0003", "万分之三"), ("0.0001", "万分之一"),
    ("0.001", "千分之一"), ("0.0010", "千分之一"), ("0.003", "千分之三"),
    ("0.01", "百分之一"), ("0.05", "百分之五"), ("0.1", "百分之十"),
    ("0.0015", "万分之十五"), ("0.0012", "万分之十二"), ("0.00035", "万分之三点五"),
    ("0", "零"),
])
def test_rate_in_words(rate: str, expected: str) -> None:
    assert rate_words_cn(Decimal(rate)) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (5, "五"), (10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"), (110, "一百一十"),
    (1000, "一千"), (10000, "一万"), (Decimal("3.5"), "三点五"), (0, "零"),
])
def test_small_numbers(value: Decimal | int, expected: str) -> None:
    assert cn_small_number(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("0.999", "99.9%"), ("0.0005", "0.05%"), ("1", "100%"), ("0.99", "99%"),
    ("0.9995", "99.95%"),
])
def test_percent(value: str, expected: str) -> None:
    assert format_percent(Decimal(value)) == expected


def test_format_number() -> None:
    assert format_number(Decimal("2")) == "2"
    assert format_number(Decimal("1.50")) == "1.5"
    assert format_number(Decimal("24.0")) == "24"
    assert format_number(Decimal("1E+1")) == "10"


@pytest.mark.parametrize(("day", "zh", "en"), [
    (dt.date(2026, 3, 31), "2026年3月31日", "31 March 2026"),
    (dt.date(2026, 1, 5), "2026年1月5日", "5 January 2026"),
    (dt.date(2024, 12, 1), "2024年12月1日", "1 December 2024"),
])
def test_dates(day: dt.date, zh: str, en: str) -> None:
    assert cn_date(day) == zh
    assert en_date(day) == en
