"""The contest's composite score: (1 - ratio) * 0.3 + accuracy * 0.7.

``ratio`` is the low-parameter ratio (trainable parameters / the organisers' fixed denominator,
``mathlora.contest.OFFICIAL_DENOMINATOR``) and ``accuracy`` the math accuracy on the hidden test
set, both in [0, 1]. The published table reproduces with this formula to 9 decimals (accuracy 0.5138, ratio 0.000424393
-> 0.659532682).
"""

from __future__ import annotations

from mathlora.contest import ACCURACY_WEIGHT, RATIO_WEIGHT
from mathlora.errors import ConfigError


def composite(accuracy: float, ratio: float) -> float:
    """(1 - ratio) * 0.3 + accuracy * 0.7 (not rounded)."""
    for name, value in (("accuracy", accuracy), ("ratio", ratio)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must lie in [0, 1], got {value}")
    return (1.0 - ratio) * RATIO_WEIGHT + accuracy * ACCURACY_WEIGHT
