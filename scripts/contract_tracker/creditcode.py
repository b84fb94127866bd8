"""Unified social credit codes (统一社会信用代码, GB 32100-2015): check and make.

18 characters from ``0-9`` and ``ABCDEFGHJKLMNPQRTUWXY`` (no I, O, Z, S, V); the last is
a check character over the first 17 with weights 3^i mod 31.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def check_char(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """None when ``code`` is a well-formed code with the right check character,
    otherwise what is wrong with it."""
    code = code.strip().upper()
    if len(code) != 18:
        return f"has {len(code)} characters; a unified social credit code has 18"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"contains {''.join(bad)!r}, which no credit code uses"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r} but should be {expected!r}: check for a typo"
    return None


def make_code(first17: str) -> str:
    return first17 + check_char(first17)
