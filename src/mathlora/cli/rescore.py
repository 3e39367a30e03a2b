"""Rescore a saved ``result_npy.npy`` against its test set, without running a model.

``mathlora rescore``: the arguments, read into calls of :mod:`mathlora.evaluate.rescore`.
"""

from __future__ import annotations

import argparse
import json

from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.evaluate.math_eval import equality_rule, format_table
from mathlora.evaluate.rescore import rescore
from mathlora.settings import MathSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="result_npy.npy as the entry saves it")
    parser.add_argument("--test", required=True,
                        help="the test set the predictions were made for: a JSON array of "
                             "{problem, solution} objects or JSON Lines")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", help="also write the report as a rescore.json artifact")
    add_settings_arguments(parser, MathSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, MathSettings)
    rule = equality_rule(settings.rel_tol, settings.round_to_reference)
    report = {"predictions": str(args.predictions), "test": str(args.test),
              **rescore(args.predictions, args.test, rule, settings.prompt,
                         settings.max_prompt_not_found)}
    if args.out:
        from mathlora.artifacts import write_artifact

        write_artifact(args.out, "rescore", report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(format_table(report))
    return 0
