"""Tokenize the training conversations into a MindRecord file, as the organisers' qa preprocessing.

``mathlora mindrecord``: the arguments, read into calls of :mod:`mathlora.data.mindrecord`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.artifacts import write_artifact
from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.data.mindrecord import SCHEMA_DESC, SELF_CHECK, summarize, write_mindrecord
from mathlora.data.qa import build_rows, reference_row, render
from mathlora.errors import MathloraError
from mathlora.jsonl import read_conversations
from mathlora.settings import MindrecordSettings
from mathlora.tokenizer.llama3 import Llama3Tokenizer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="training conversation JSON (data_converter format)")
    parser.add_argument("--tokenizer", required=True, type=Path, help="Llama3-format tokenizer.model")
    parser.add_argument("--out", required=True, type=Path, help="MindRecord file (writes <out>.db too)")
    parser.add_argument("--report", required=True, type=Path, help="mindrecord.json report")
    add_settings_arguments(parser, MindrecordSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, MindrecordSettings)
    length = settings.seq_length + 1
    tokenizer = Llama3Tokenizer.from_file(args.tokenizer)
    conversations = read_conversations(args.input)
    rows = build_rows(conversations, tokenizer, length, settings.mask)
    for index in range(min(SELF_CHECK, len(conversations))):
        ids, labels, _ = reference_row(render(*conversations[index]), tokenizer, length, settings.mask)
        if ids != rows.input_ids[index].tolist() or labels != rows.labels[index].tolist():
            raise MathloraError(f"{args.input}: conversation {index + 1}: fast row differs from the "
                                f"reference procedure (a bug; please report it)")
    write_mindrecord(args.out, rows.input_ids, rows.labels)
    payload = {"input": str(args.input), "tokenizer": str(args.tokenizer),
               "tokenizer_sha256": tokenizer.sha256, "seq_length": settings.seq_length, "mask": settings.mask,
               "schema": SCHEMA_DESC, "special_ids": {"bos": tokenizer.bos_id, "eos": tokenizer.eos_id,
                                                      "pad": tokenizer.pad_id},
               **summarize(rows, length)}
    write_artifact(args.report, "mindrecord", payload)
    return 0
