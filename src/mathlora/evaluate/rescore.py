"""Rescore a saved ``result_npy.npy`` against its test set, without running a model.

The ``.npy`` is read with a restricted unpickler (``mathlora.evaluate.npy_safe``): it must hold
``{'text_generation_text': [prompt + generation, ...]}`` dicts (one per batch, as the entry's script
saves them, or one per item) whose texts are one per test item, in test-set order. The test set
is the file the entry's script read: one JSON array of ``{problem, solution}`` objects or JSON
Lines. Each text must start with its own item's prompt (see ``mathlora.evaluate.math_eval``): a
file saved for another test order or set is refused, naming the first items that do not fit.
Prints the accuracy (first answer and last number, with 95 % intervals and per category) under
the default equality rule and a tolerance sweep (exact, 1e-4, 1e-2), since the organisers
published none.
"""

from __future__ import annotations

import argparse
import json

from mathlora.evaluate.math_eval import (
    Item,
    add_prompt_argument,
    add_rule_arguments,
    check_one_per_item,
    check_pairing,
    equality_rule,
    format_table,
    score_item,
    summarise,
)
from mathlora.evaluate.npy_safe import load_result_texts
from mathlora.jsonl import read_test_file
from mathlora.prompts import DEFAULT_MATH_PROMPT, math_prompt_named


def rescore_texts(texts: list[str], cases: list[dict], rule, *, source: str,
                  prompt: str = DEFAULT_MATH_PROMPT, max_not_found: int = 0) -> dict:
    """The math report of ``texts``, one per test case in order (``source`` names them in errors)."""
    check_one_per_item(source, len(texts), len(cases))
    variant = math_prompt_named(prompt)
    items = [Item(str(i), case["problem"], case["solution"], text)
             for i, (case, text) in enumerate(zip(cases, texts), start=1)]
    check_pairing(source, items, variant, max_not_found)
    return {"prompt": variant.name,
            **summarise([score_item(item, rule, variant) for item in items], rule)}


def rescore(predictions: str, test: str, rule, prompt: str = DEFAULT_MATH_PROMPT,
            max_not_found: int = 0) -> dict:
    return rescore_texts(load_result_texts(predictions), read_test_file(test), rule,
                         source=predictions, prompt=prompt, max_not_found=max_not_found)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="result_npy.npy as the entry saves it")
    parser.add_argument("--test", required=True,
                        help="the test set the predictions were made for: a JSON array of "
                             "{problem, solution} objects or JSON Lines")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", help="also write the report as a rescore.json artifact")
    add_prompt_argument(parser)
    add_rule_arguments(parser)


def main(args: argparse.Namespace) -> int:
    rule = equality_rule(args.rel_tol, not args.no_round)
    report = {"predictions": str(args.predictions), "test": str(args.test),
              **rescore(args.predictions, args.test, rule, args.prompt, args.max_prompt_not_found)}
    if args.out:
        from mathlora.artifacts import write_artifact

        write_artifact(args.out, "rescore", report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(format_table(report))
    return 0
