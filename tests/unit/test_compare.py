"""The equality rule's edges: rounding to the reference's decimals, tolerance, fractions, percent."""

import pytest

from mathlora.evaluate.compare import DEFAULT_RULE, SWEEP, Rule, equal
from mathlora.evaluate.extract import first_answer, parse_number


def eq(pred, ref, rule=DEFAULT_RULE):
    return equal(parse_number(pred), parse_number(ref), rule)


@pytest.mark.parametrize("pred, ref, expected", [
    ("15.45", "15.45", True),
    ("15.4500", "15.45", True),
    ("15.449", "15.45", True),        # rounds to the reference's 2 places
    ("15.444", "15.45", False),
    ("15.455", "15.45", False),       # half-up: 15.46
    ("15.6", "16", True),             # integer reference: 0 places
    ("15.4", "16", False),
    ("2.76904E+34", "2.769E+34", True),
    ("2.7685E+34", "2.769E+34", True),
    ("2.7684E+34", "2.769E+34", False),
    ("0.75", "3/4", True),            # fraction reference: exact value
    ("0.7500001", "3/4", True),       # within rel 1e-6
    ("0.7501", "3/4", False),
    ("6/8", "3/4", True),
    ("85%", "0.85", True),
    ("0.85", "85%", True),
    ("-0.15", "0.15", False),
    ("0", "0.00", True),
    ("0.001", "0", True),             # rounds to the reference's 0 places
    ("0.6", "0", False),
])
def test_default_rule(pred, ref, expected):
    assert eq(pred, ref) is expected


def test_relative_tolerance_edge():
    rule = Rule(round_to_reference=False, rel_tol=1e-2)
    assert eq("101", "100", rule)
    assert not eq("101.01", "100", rule)
    assert not eq("0.001", "0", rule)  # a relative error is undefined at 0


def test_sweep_is_exact_then_looser():
    names = [r.name for r in SWEEP]
    assert names == ["exact", "rel0.0001", "rel0.01"]
    assert not eq("15.449", "15.45", SWEEP[0])
    assert eq("15.4501", "15.45", SWEEP[1]) and not eq("15.46", "15.45", SWEEP[1])
    assert eq("15.46", "15.45", SWEEP[2])


def test_no_answer_never_equal():
    ref = parse_number("0")
    assert not equal(None, ref)
    assert not equal(parse_number("0"), None)


def test_symbolic_boxed_compares_as_text():
    ref = first_answer("\\boxed{\\dfrac{\\sqrt{3}}{2}}")
    assert equal(first_answer("\\boxed{\\frac{\\sqrt{3}}{2}}"), ref)
    assert not equal(first_answer("\\boxed{\\frac{\\sqrt{2}}{2}}"), ref)
    assert not equal(parse_number("0.866"), ref)
