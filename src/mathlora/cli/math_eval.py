"""Math accuracy of one model's predictions: two answer extractions side by side.

``mathlora math``: the arguments, read into calls of :mod:`mathlora.evaluate.math_eval`.
"""

from __future__ import annotations

import argparse

from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.evaluate.math_eval import (
    check_pairing,
    equality_rule,
    format_table,
    items_from_predictions,
    math_report,
    plot,
)
from mathlora.prompts import math_prompt_named
from mathlora.settings import MathSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="predictions.jsonl of mathlora predict")
    parser.add_argument("--test", required=True,
                        help="test set of {problem, solution}: a JSON array or JSON Lines")
    parser.add_argument("--out", required=True, help="math.json report to write")
    parser.add_argument("--png", help="per-category accuracy chart to write")
    parser.add_argument("--model", default="model", help="name shown in the report (base, ckpt1, ...)")
    add_settings_arguments(parser, MathSettings)


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact

    settings = settings_from_arguments(args, MathSettings)
    rule = equality_rule(settings.rel_tol, settings.round_to_reference)
    items = items_from_predictions(args.test, args.predictions, settings.prompt)
    check_pairing(args.predictions, items, math_prompt_named(settings.prompt), settings.max_prompt_not_found)
    report = math_report(args.model, items, rule, settings.prompt)
    write_artifact(args.out, "math", report)
    if args.png:
        plot(report, args.png, f"math accuracy: {args.model}")
    print(format_table(report))
    return 0
