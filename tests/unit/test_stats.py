"""Wilson score interval against closed forms and published values."""

import math

import pytest

from mathlora.evaluate.stats import Z95, wilson


def test_zero_successes_closed_form():
    low, high = wilson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(Z95 ** 2 / (10 + Z95 ** 2))


def test_all_successes_mirror():
    low, high = wilson(10, 10)
    assert high == 1.0
    assert low == pytest.approx(1 - Z95 ** 2 / (10 + Z95 ** 2))


def test_published_value():
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662 (Wilson score, no continuity correction)
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_contains_point_estimate_and_narrows():
    a = wilson(20, 100)
    b = wilson(200, 1000)
    assert a[0] < 0.2 < a[1] and b[0] < 0.2 < b[1]
    assert (b[1] - b[0]) < (a[1] - a[0])
    assert math.isclose(sum(wilson(30, 100)) / 2, (0.3 + Z95 ** 2 / 200) / (1 + Z95 ** 2 / 100))


def test_bad_counts():
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(5, 3)


def test_mcnemar_exact_against_the_binomial_by_hand():
    from mathlora.evaluate.stats import mcnemar_exact

    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0
    # 10 discordant, all one way: 2 * 0.5**10
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    # 8 vs 2: 2 * P(X <= 2), X ~ Bin(10, 0.5) = 2 * 56 / 1024
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024)
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)
