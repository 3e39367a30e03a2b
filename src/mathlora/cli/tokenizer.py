"""Train a small Llama3-format tokenizer, or describe one (``train`` | ``info``).

``mathlora tokenizer``: the arguments, read into calls of :mod:`mathlora.tokenizer.training`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.jsonl import read_conversations
from mathlora.settings import TokenizerSettings
from mathlora.tokenizer.llama3 import Llama3Tokenizer, format_ranks
from mathlora.tokenizer.training import describe, training_texts


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True, metavar="{train,info}")
    train = commands.add_parser("train", help="learn a byte-level BPE from training conversations")
    train.add_argument("--in", dest="input", required=True, type=Path,
                       help="training conversation JSON (data_converter format)")
    train.add_argument("--corpus", type=Path, help="also learn from this corpus (mathlora world JSON Lines)")
    train.add_argument("--out", required=True, type=Path, help="tokenizer.model to write")
    train.add_argument("--report", required=True, type=Path, help="tokenizer.json report")
    add_settings_arguments(train, TokenizerSettings)
    info = commands.add_parser("info", help="describe an existing tokenizer.model")
    info.add_argument("--model", required=True, type=Path, help="tiktoken ranks file")
    info.add_argument("--text", type=Path, help="conversation JSON to measure tokens per byte on")
    info.add_argument("--report", required=True, type=Path, help="tokenizer.json report")


def main(args: argparse.Namespace) -> int:
    if args.action == "info":
        tokenizer = Llama3Tokenizer.from_file(args.model)
        conversations = read_conversations(args.text) if args.text else None
        write_artifact(args.report, "tokenizer", {**describe(tokenizer, args.model, "file", conversations),
                                               "training": None})
        return 0
    from mathlora.tokenizer.bpe import piece_counts, train

    settings = settings_from_arguments(args, TokenizerSettings)
    conversations = read_conversations(args.input)
    started = time.perf_counter()
    texts = training_texts(conversations)
    if args.corpus:
        from mathlora.jsonl import iter_records

        texts += [(record["text"], 1) for _, record in iter_records(args.corpus, ("text",))]
    counts = piece_counts(texts, single_digits=settings.single_digits)
    ranks = train(counts, settings.ranks)
    seconds = time.perf_counter() - started
    with atomic_output(args.out) as tmp:
        tmp.write_text(format_ranks(ranks), encoding="ascii")
        tokenizer = Llama3Tokenizer.from_file(tmp)
    payload = describe(tokenizer, args.out, "train", conversations)
    payload["training"] = {"requested_ranks": settings.ranks, "learned_ranks": len(ranks),
                           "distinct_pieces": len(counts), "single_digits": settings.single_digits,
                           "corpus": str(args.corpus) if args.corpus else None,
                           "seconds": round(seconds, 3)}
    write_artifact(args.report, "tokenizer", payload)
    return 0
