"""Name lists kept in one place each, and held against the schemas that spell them again."""

from __future__ import annotations

import re
from pathlib import Path

from mathlora.artifacts import artifact_kinds
from mathlora.package.verify import REQUIRED_KINDS

ROOT = Path(__file__).resolve().parents[2]


def test_the_kinds_verify_requires_are_report_kinds_of_the_schemas():
    assert set(REQUIRED_KINDS) <= set(artifact_kinds())


def test_every_report_the_bundle_ships_is_written_under_a_kind():
    """Each constant in package.smk's BUNDLED_REPORTS is a JSON report path of common.smk, and the
    graph's reports name kinds that have a schema (so verify can check each one it finds)."""
    package = (ROOT / "workflow" / "rules" / "package.smk").read_text(encoding="utf-8")
    block = package[package.index("BUNDLED_REPORTS = ["):package.index("]\nBUNDLED_FIGURES")]
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]*_JSON)\b", block))
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text(encoding="utf-8")
    defined = dict(re.findall(r'^([A-Z][A-Z0-9_]*_JSON) = (.+)$', common, flags=re.M))
    assert names and names <= set(defined), sorted(names - set(defined))
    kinds = set(artifact_kinds())
    for kind in REQUIRED_KINDS:
        assert kind in kinds
        assert any(f"{kind}.json" in defined[name] or f"/{kind}" in defined[name] for name in names), kind
