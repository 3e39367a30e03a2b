"""Exact decimal arithmetic and the number formats of the organisers' solutions."""

from __future__ import annotations

from decimal import Decimal, localcontext

# A plain decimal as the organisers' problems write their operands: ``-12.5``, ``7``.
DECIMAL_PATTERN = r"-?\d+(?:\.\d+)?"
LONG_DIGITS = 16  # significant digits of the "long decimal" answers (division, roots, ratios)


def cents(value: int) -> Decimal:
    """An integer count of hundredths as a two-decimal number (``-1230`` -> ``-12.30``)."""
    return Decimal(value).scaleb(-2)


def plain(value: Decimal) -> str:
    """Fixed-point text without trailing zeros or exponent (``1E+2`` -> ``100``, ``2.50`` -> ``2.5``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def long_decimal(value: Decimal) -> str:
    """``value`` rounded to :data:`LONG_DIGITS` significant digits, in fixed point."""
    with localcontext() as ctx:
        ctx.prec = LONG_DIGITS
        return plain(+value)


def divide(a: Decimal, b: Decimal) -> str:
    with localcontext() as ctx:
        ctx.prec = LONG_DIGITS + 4
        return long_decimal(a / b)


def sqrt(a: Decimal) -> str:
    with localcontext() as ctx:
        ctx.prec = LONG_DIGITS + 4
        return long_decimal(a.sqrt())


def scientific(value: Decimal) -> str:
    """Decimal's own notation after rounding to :data:`LONG_DIGITS` digits: ``2.769E+34``, ``24``."""
    with localcontext() as ctx:
        ctx.prec = LONG_DIGITS
        return str((+value).normalize())


def exact_power(base: Decimal, exponent: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 400  # enough for every base and exponent the generator draws: no rounding
        return base ** exponent
