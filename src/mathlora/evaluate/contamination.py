"""Test problems that also occur in the training data.

Two checks: **exact** (the problem string itself is a training problem) and **normalised**
(equal after removing all whitespace and writing every number canonically, so ``3.50`` = ``3.5``,
``+5`` = ``5``, full-width digits = ASCII digits). Numbers are canonicalised, not masked: masking
would make every ``计算 a + b 等于多少？`` the same problem. The graph's own split must show 0.
"""

from __future__ import annotations

import argparse
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from mathlora.jsonl import read_records

EXAMPLES = 20
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")


def _canonical_number(match: re.Match) -> str:
    try:
        value = Decimal(match.group(0))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid literals
        return match.group(0)
    text = format(value.normalize(), "f") if abs(value.adjusted()) < 30 else str(value.normalize())
    return "0" if text in ("-0", "0") else text


def normalise(problem: str) -> str:
    text = problem.translate({0xFF10 + i: ord("0") + i for i in range(10)})
    text = text.replace("\u2212", "-").replace("－", "-")
    text = re.sub(r"\s+", "", text)
    return _NUMBER.sub(_canonical_number, text)


def overlap(train: list[str], test: list[str]) -> dict:
    exact_set = set(train)
    norm_index: dict[str, int] = {}
    for number, problem in enumerate(train, start=1):
        norm_index.setdefault(normalise(problem), number)
    exact, normalised = [], []
    for number, problem in enumerate(test, start=1):
        if problem in exact_set:
            exact.append({"test_line": number, "problem": problem})
        key = normalise(problem)
        if key in norm_index:
            normalised.append({"test_line": number, "train_line": norm_index[key],
                               "problem": problem})
    return {"n_train": len(train), "n_test": len(test),
            "exact": {"count": len(exact), "examples": exact[:EXAMPLES]},
            "normalised": {"count": len(normalised), "examples": normalised[:EXAMPLES]}}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="training JSON Lines with a 'problem' field")
    parser.add_argument("--test", required=True, help="test JSON Lines with a 'problem' field")
    parser.add_argument("--out", required=True, help="contamination.json report to write")


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact

    train = [r["problem"] for r in read_records(args.train, ("problem",))]
    test = [r["problem"] for r in read_records(args.test, ("problem",))]
    report = {"train": str(Path(args.train)), "test": str(Path(args.test)), **overlap(train, test)}
    write_artifact(args.out, "contamination", report)
    print(f"{report['n_test']} test problems against {report['n_train']} training problems: "
          f"{report['exact']['count']} exact, {report['normalised']['count']} after normalisation")
    return 0
