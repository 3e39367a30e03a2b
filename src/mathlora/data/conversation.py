"""Write the training conversations in the format of the organisers' data_converter.py.

Each line of the training sample becomes ``{"id": "<n>", "conversations": [{"from": "human",
"value": "请解答如下数学问题： <problem>"}, {"from": "gpt", "value": "<solution>"}]}`` with ids
counted from "1" in file order; the output is one JSON list (UTF-8, not ASCII-escaped).

``data.finetune_categories`` keeps only the sample's lines of those categories (the entry keeps them all); the
report (``conversation.json``) counts the lines written and those left out, per category. The
sample itself is not changed, so the test set, drawn from lines never sampled, stays the same.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output
from mathlora.data.categories import category_of
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
