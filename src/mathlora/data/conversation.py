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
        tmp.write_text(dumps_conversations(conversations) + "\n", encoding="utf-8")


# One conversation as ``json.dumps(..., ensure_ascii=False, indent=2)`` lays it out inside the list.
_ITEM = ('  {{\n    "id": {},\n    "conversations": [\n'
         '      {{\n        "from": {},\n        "value": {}\n      }},\n'
         '      {{\n        "from": {},\n        "value": {}\n      }}\n    ]\n  }}')


def dumps_conversations(conversations: list[dict[str, Any]]) -> str:
    """``json.dumps(conversations, ensure_ascii=False, indent=2)``, without its slow path.

    With ``indent`` the standard library encodes in pure Python (1 s for the entry's 90,000
    conversations); every conversation here has the same shape, so only its strings need encoding.
    Anything of another shape is left to ``json.dumps``; the tests hold the two equal.
    """
    quote = json.encoder.encode_basestring  # what ensure_ascii=False encodes strings with
    items = []
    for item in conversations:
        turns = item.get("conversations")
        if (list(item) != ["id", "conversations"] or type(item["id"]) is not str
                or type(turns) is not list or len(turns) != 2
                or any(type(turn) is not dict or list(turn) != ["from", "value"]
                       or type(turn["from"]) is not str or type(turn["value"]) is not str
                       for turn in turns)):
            return json.dumps(conversations, ensure_ascii=False, indent=2)
        items.append(_ITEM.format(quote(item["id"]), quote(turns[0]["from"]), quote(turns[0]["value"]),
                                  quote(turns[1]["from"]), quote(turns[1]["value"])))
    return "[\n" + ",\n".join(items) + "\n]" if items else "[]"


def read_conversations(path: str | Path) -> list[tuple[str, str]]:
    """(human, gpt) pairs of a conversation JSON; anything off-format is an InputError."""
    path = Path(path)
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(document, list) or not document:
        raise InputError(path, "expected a non-empty JSON list of conversations")
    pairs = []
    for index, item in enumerate(document):
        turns = item.get("conversations") if isinstance(item, dict) else None
        if (not isinstance(turns, list) or len(turns) != 2
                or [t.get("from") if isinstance(t, dict) else None for t in turns] != ["human", "gpt"]
                or not all(isinstance(t.get("value"), str) for t in turns)):
            raise InputError(path, "expected {'id', 'conversations': [{'from': 'human', 'value': str}, "
                                   "{'from': 'gpt', 'value': str}]}", field=f"[{index}]")
        pairs.append((turns[0]["value"], turns[1]["value"]))
    return pairs


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="training sample JSON Lines (problem, solution)")
    parser.add_argument("--out", required=True, type=Path, help="conversation JSON to write")


def main(args: argparse.Namespace) -> int:
    records = [record for _, record in iter_records(args.input, FIELDS)]
    write_conversations(args.out, to_conversations(records))
    return 0
