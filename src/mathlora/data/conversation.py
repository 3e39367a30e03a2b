"""Write the training conversations in the format of the organisers' data_converter.py.

Each line of the training sample becomes ``{"id": "<n>", "conversations": [{"from": "human",
"value": "请解答如下数学问题： <problem>"}, {"from": "gpt", "value": "<solution>"}]}`` with ids
counted from "1" in file order; the output is one JSON list (UTF-8, not ASCII-escaped).

``--categories`` keeps only the sample's lines of those categories (the entry keeps them all); the
report (``conversation.json``) counts the lines written and those left out, per category. The
sample itself is not changed, so the test set, drawn from lines never sampled, stays the same.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.data.categories import CATEGORIES, category_of, in_order
from mathlora.data.clean import FIELDS
from mathlora.errors import InputError
from mathlora.jsonl import iter_records
from mathlora.prompts import train_human


def to_conversations(records: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"id": str(number),
             "conversations": [{"from": "human", "value": train_human(record["problem"])},
                               {"from": "gpt", "value": record["solution"]}]}
            for number, record in enumerate(records, start=1)]


def write_conversations(path: str | Path, conversations: list[dict[str, Any]]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(conversations, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def select(records: list[dict[str, str]], categories: set[str] | None
           ) -> tuple[list[dict[str, str]], Counter, Counter]:
    """The records of ``categories`` (``None``: all), with the counts kept and left out per category."""
    kept: list[dict[str, str]] = []
    written: Counter = Counter()
    left_out: Counter = Counter()
    for record in records:
        category = category_of(record["problem"])
        if categories is None or category in categories:
            kept.append(record)
            written[category] += 1
        else:
            left_out[category] += 1
    return kept, written, left_out


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="training sample JSON Lines (problem, solution)")
    parser.add_argument("--categories", nargs="+", choices=CATEGORIES, metavar="CATEGORY",
                        help="keep only the lines of these categories (default: all); one of "
                             + ", ".join(CATEGORIES))
    parser.add_argument("--out", required=True, type=Path, help="conversation JSON to write")
    parser.add_argument("--report", required=True, type=Path, help="conversation.json report to write")


def main(args: argparse.Namespace) -> int:
    records = [record for _, record in iter_records(args.input, FIELDS)]
    kept, written, left_out = select(records, set(args.categories) if args.categories else None)
    if not kept:
        of = f" of the categories {', '.join(args.categories)}" if args.categories else ""
        raise InputError(args.input, f"no line{of} among its {len(records)}; expected at least one "
                                     "to train on")
    write_conversations(args.out, to_conversations(kept))
    left = in_order(left_out)
    write_artifact(args.report, "conversation", {
        "input": str(args.input), "output": str(args.out),
        "categories": sorted(args.categories) if args.categories else "all",
        "lines_read": len(records), "written": len(kept), "left_out": len(records) - len(kept),
        "written_by_category": in_order(written), "left_out_by_category": left})
    print(f"conversations: {len(kept)} of {len(records)} lines written -> {args.out}"
          + (f" (left out: {left})" if left else ""))
    return 0
