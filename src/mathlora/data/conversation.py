"""Write the training conversations in the format of the organisers' data_converter.py.

Each line of the training sample becomes ``{"id": "<n>", "conversations": [{"from": "human",
"value": "请解答如下数学问题： <problem>"}, {"from": "gpt", "value": "<solution>"}]}`` with ids
counted from "1" in file order; the output is one JSON list (UTF-8, not ASCII-escaped).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output
from mathlora.data.clean import FIELDS
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


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="training sample JSON Lines (problem, solution)")
    parser.add_argument("--out", required=True, type=Path, help="conversation JSON to write")


def main(args: argparse.Namespace) -> int:
    records = [record for _, record in iter_records(args.input, FIELDS)]
    write_conversations(args.out, to_conversations(records))
    return 0
