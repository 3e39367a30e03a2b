"""Write the training conversations in the format of the organisers' data_converter.py.

``mathlora conversation``: the arguments, read into calls of :mod:`mathlora.data.conversation`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.artifacts import write_artifact
from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.data.categories import in_order
from mathlora.data.clean import FIELDS
from mathlora.data.conversation import select, to_conversations, write_conversations
from mathlora.errors import InputError
from mathlora.jsonl import iter_records
from mathlora.settings import ConversationSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="training sample JSON Lines (problem, solution)")
    parser.add_argument("--out", required=True, type=Path, help="conversation JSON to write")
    parser.add_argument("--report", required=True, type=Path, help="conversation.json report to write")
    add_settings_arguments(parser, ConversationSettings)


def main(args: argparse.Namespace) -> int:
    chosen = settings_from_arguments(args, ConversationSettings).finetune_categories
    categories = None if chosen == "all" else list(chosen)
    records = [record for _, record in iter_records(args.input, FIELDS)]
    kept, written, left_out = select(records, set(categories) if categories else None)
    if not kept:
        of = f" of the categories {', '.join(categories)}" if categories else ""
        raise InputError(args.input, f"no line{of} among its {len(records)}; expected at least one "
                                     "to train on")
    write_conversations(args.out, to_conversations(kept))
    left = in_order(left_out)
    write_artifact(args.report, "conversation", {
        "input": str(args.input), "output": str(args.out),
        "categories": sorted(categories) if categories else "all",
        "lines_read": len(records), "written": len(kept), "left_out": len(records) - len(kept),
        "written_by_category": in_order(written), "left_out_by_category": left})
    print(f"conversations: {len(kept)} of {len(records)} lines written -> {args.out}"
          + (f" (left out: {left})" if left else ""))
    return 0
