"""When a predicted answer counts as equal to the reference.

The organisers published no tolerance, so the rule is explicit and configurable:

- **default** (``Rule(round_to_reference=True, rel_tol=1e-6)``): equal when the prediction, rounded
  half-up to the reference's decimal places (its decimal exponent: ``15.60`` -> 2 places, ``16`` ->
  0, ``2.769E+34`` -> the unit of the last mantissa digit, 1E+31), equals the reference, or when
  the relative error ``|p - r| / |r|`` is at most ``rel_tol``. Rounding follows the reference
  because solutions are printed rounded (``+``/``-`` to 2 decimals, ``*`` to 4); a model that
  prints more digits of the right number is right. Fraction references (``3/4``) have no decimal
  places: only exact value equality or ``rel_tol`` applies (``0.75`` equals ``3/4``).
- **exact**: ``Rule(False, 0)``: equal values only. **tolerance t**: ``Rule(False, t)``.

A relative error is undefined for a reference of 0: there only rounding or exact equality count.
A percentage (``85%``) also matches the reference as its hundredth (``0.85``), and the other way
round. A non-numeric boxed answer is equal only as identical normalised text. ``None`` (no
answer) is never equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from fractions import Fraction

from mathlora.evaluate.extract import Answer

# Enough digits for any quantize this comparison needs (2.769E+34 to 1E+31 needs 4).
_CONTEXT = Context(prec=200, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Rule:
    round_to_reference: bool = True
    rel_tol: float = 1e-6

    @property
    def name(self) -> str:
        if self.round_to_reference:
            return f"round+rel{self.rel_tol:g}"
        return "exact" if self.rel_tol == 0 else f"rel{self.rel_tol:g}"


DEFAULT_RULE = Rule()
# The sweep rescoring reports, since the organisers published no tolerance.
SWEEP = (Rule(False, 0.0), Rule(False, 1e-4), Rule(False, 1e-2))


def _to_decimal(value: Fraction) -> Decimal:
    return _CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def _rounds_to(pred: Fraction, ref: Fraction, exponent: int) -> bool:
    try:
        rounded = _to_decimal(pred).quantize(Decimal(1).scaleb(exponent), context=_CONTEXT)
    except InvalidOperation:
        return False
    return Fraction(rounded) == ref


def values_equal(pred: Fraction, ref: Fraction, ref_exponent: int | None, rule: Rule) -> bool:
    if pred == ref:
        return True
    if rule.round_to_reference and ref_exponent is not None and _rounds_to(pred, ref, ref_exponent):
        return True
    if rule.rel_tol > 0 and ref != 0:
        return abs(pred - ref) <= Fraction(rule.rel_tol) * abs(ref)
    return False


def _variants(answer: Answer) -> list[tuple[Fraction, int | None]]:
    """The value and, for a percentage, its hundredth (exponent shifted by two places)."""
    out = [(answer.value, answer.exponent)]
    if answer.percent:
        out.append((answer.value / 100, None if answer.exponent is None else answer.exponent - 2))
    return out


def equal(pred: Answer | None, ref: Answer | None, rule: Rule = DEFAULT_RULE) -> bool:
    """Whether ``pred`` counts as the reference answer under ``rule``."""
    if pred is None or ref is None:
        return False
    if ref.value is None or pred.value is None:
        return ref.value is None and pred.value is None and pred.text == ref.text
    return any(values_equal(p, r, e, rule) for p, _ in _variants(pred) for r, e in _variants(ref))
