"""The contest's composite score: (1 - ratio) * 0.3 + accuracy * 0.7.

``mathlora score``: the arguments, read into calls of :mod:`mathlora.evaluate.score`.
"""

from __future__ import annotations

import argparse
import json

from mathlora.contest import SCORE_DECIMALS
from mathlora.evaluate.score import composite


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accuracy", type=float, required=True, help="math accuracy in [0, 1]")
    parser.add_argument("--ratio", type=float, required=True,
                        help="trainable parameters / 8.03e9 (the organisers' denominator), in [0, 1]")
    parser.add_argument("--json", action="store_true", help="print a JSON object")


def main(args: argparse.Namespace) -> int:
    score = composite(args.accuracy, args.ratio)
    if args.json:
        print(json.dumps({"accuracy": args.accuracy, "ratio": args.ratio,
                          "score": round(score, SCORE_DECIMALS)}))
    else:
        print(f"{score:.{SCORE_DECIMALS}f}")
    return 0
