"""Test problems that also occur in the training data, or in the tiny base model's corpus.

Two checks against the training set: **exact** (the problem string itself is a training problem)
and **normalised** (equal after removing all whitespace and writing every number canonically, so
``3.50`` = ``3.5``, ``+5`` = ``5``, full-width digits = ASCII digits). Numbers are canonicalised,
not masked: masking would make every ``计算 a + b 等于多少？`` the same problem. The graph's own
split must show 0.

With ``--base-corpus`` (the embedded default's base), the corpus the base was pretrained on is
checked too: no test problem's operand pair (``add:12:34``) and no test problem text in any of its
documents; and with ``--base-report`` the corpus must be the one the shipped base's report names
(same sha256), so the check covers what the base really read.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

EXAMPLES = 20
# A sign belongs to a number only where it cannot be an operator (not after a digit, letter or
# bracket): otherwise "3 + 10" and "31 + 0" would both read "3" "10" and collide.
_NUMBER = re.compile(r"(?:(?<![0-9A-Za-z).\]])[+-])?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")


def _canonical_number(match: re.Match) -> str:
    try:
        value = Decimal(match.group(0))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid literals
        return match.group(0)
    text = format(value.normalize(), "f") if abs(value.adjusted()) < 30 else str(value.normalize())
    return "0" if text in ("-0", "0") else text


def canonical_problem(problem: str) -> str:
    text = problem.translate({0xFF10 + i: ord("0") + i for i in range(10)})
    text = text.replace("\u2212", "-").replace("－", "-")
    text = re.sub(r"\s+", "", text)
    return _NUMBER.sub(_canonical_number, text)


def overlap(train: list[str], test: list[str]) -> dict:
    exact_set = set(train)
    norm_index: dict[str, int] = {}
    for number, problem in enumerate(train, start=1):
        norm_index.setdefault(canonical_problem(problem), number)
    exact, normalised = [], []
    for number, problem in enumerate(test, start=1):
        if problem in exact_set:
            exact.append({"test_line": number, "problem": problem})
        key = canonical_problem(problem)
        if key in norm_index:
            normalised.append({"test_line": number, "train_line": norm_index[key],
                               "problem": problem})
    return {"n_train": len(train), "n_test": len(test),
            "exact": {"count": len(exact), "examples": exact[:EXAMPLES]},
            "normalised": {"count": len(normalised), "examples": normalised[:EXAMPLES]}}


def base_corpus_overlap(corpus_path: str | Path, test: list[str]) -> dict:
    """Test problems whose operand pair or text occurs in the base's pretraining corpus."""
    from mathlora.data.world import arithmetic_key, read_corpus

    documents = read_corpus(corpus_path)
    keys = {d["key"] for d in documents if d["kind"] == "arithmetic"}
    texts = [canonical_problem(d["text"]) for d in documents]
    pairs, inside = [], []
    for number, problem in enumerate(test, start=1):
        key = arithmetic_key(problem)
        if key is not None and key in keys:
            pairs.append({"test_line": number, "problem": problem})
        needle = canonical_problem(problem)
        if needle and any(needle in text for text in texts):
            inside.append({"test_line": number, "problem": problem})
    return {"documents": len(documents),
            "operand_pairs": {"count": len(pairs), "examples": pairs[:EXAMPLES]},
            "texts": {"count": len(inside), "examples": inside[:EXAMPLES]}}
