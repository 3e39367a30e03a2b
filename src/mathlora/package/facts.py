"""The contest's fixed numbers and the one reader of the params report.

Every stage that needs the low-parameter ratio's denominator or the SQuAD marks imports them from
here (params, summary, judge, report, verify), so each is written down once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mathlora.errors import InputError

# The organisers divide the trainable parameters by this fixed count, not by the network's total.
OFFICIAL_DENOMINATOR = 8_030_000_000
# The contest's fixed SQuAD marks (F1, EM on a 0-100 scale) and the default share of the base
# model's own scores that relative thresholds require.
SQUAD_FIXED_F1 = 53.883
SQUAD_FIXED_EM = 39.753
SQUAD_RELATIVE = 0.9


def params_counts(params: dict[str, Any], source: str | Path = "params.json") -> dict[str, Any]:
    """Trainable and total parameters and the contest ratio of a params report (or ``--json`` output)."""
    trainable = params.get("trainable_parameters")
    ratio = params.get("official_ratio")
    if not isinstance(trainable, int) or isinstance(trainable, bool):
        raise InputError(source, "expected an integer", field="trainable_parameters")
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool):
        raise InputError(source, "expected a number", field="official_ratio")
    return {"trainable": trainable, "total": params.get("total_parameters"), "ratio": float(ratio)}


def read_params(path: str | Path) -> dict[str, Any]:
    """:func:`params_counts` of a params.json, read and validated as a ``params`` artifact."""
    from mathlora.artifacts import read_artifact

    return params_counts(read_artifact(path, "params"), path)
