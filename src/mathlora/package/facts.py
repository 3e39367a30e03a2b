"""Reading the few numbers the report and the verifier take from other stages' reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mathlora.errors import InputError

OFFICIAL_DENOMINATOR = 8_030_000_000


def params_counts(params: dict[str, Any], source: str | Path = "params.json") -> dict[str, Any]:
    """Trainable and total parameters and the contest ratio of a params report (or ``--json`` output)."""
    trainable = params.get("trainable_parameters")
    ratio = params.get("official_ratio")
    if not isinstance(trainable, int) or isinstance(trainable, bool):
        raise InputError(source, "expected an integer", field="trainable_parameters")
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool):
        raise InputError(source, "expected a number", field="official_ratio")
    return {"trainable": trainable, "total": params.get("total_parameters"), "ratio": float(ratio)}
